//! `cfimg import DIR`: uploads an export (see [`export`]) into the
//! account in force, with the same ids, file names, metadata, creators and
//! signing flags.
//!
//! An image goes up under its own id when Cloudflare accepts that id as a
//! custom id ([`check_custom_id`](crate::cmd::check_custom_id)) and the image
//! is not served signed only (Cloudflare refuses a custom id on such an image).
//! Any other image (a UUID Cloudflare generated, or a signed one) gets a new id,
//! written to the mapping file: it goes up as a direct creator upload, whose id
//! is known before the bytes are sent, so the journal records the id first and a
//! rerun after a kill finds the image under it rather than uploading it twice.
//! Every file is hashed and compared with the manifest before it is sent.
//!
//! Cloudflare documents both rules this relies on (developers.cloudflare.com,
//! Images, "Accept direct creator uploads"): `v2/direct_upload` creates a draft
//! image record whose id it returns before any upload, and an image with a
//! custom id cannot require signed URLs. It does not document what becomes of a
//! draft whose upload URL expired; a rerun deletes such a draft of its own.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use cloudflare_images::direct::{image_status, UploadToUrl};
use cloudflare_images::types::Image;
use cloudflare_images::Client;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

use super::export::{self, ManifestEntry, PaceArgs, MANIFEST};
use crate::backend::Backend;
use crate::error::{CliError, CliResult};
use crate::journal::{Entry, Journal, State};
use crate::output::{self, human_duration};

/// The help shown after `cfimg import`'s options.
pub const AFTER_HELP: &str = "\
Examples:
  cfimg export backup/ && cfimg import backup/       # with the other account's credentials
  cfimg import backup/ --json                        # run again: uploads nothing (\"uploaded\": 0)

Images keep their ids when Cloudflare accepts them as custom ids. Images whose ids
it generated (UUIDs), and those served only through signed URLs (Cloudflare
refuses a custom id on them), get new ids: DIR/id-map.jsonl (or --map) lists
{\"old_id\": ..., \"new_id\": ...} for each. Upload times are not kept (Cloudflare sets
them). Like `upload --resume`, a journal in the data directory makes a rerun after a
crash, Ctrl-C or kill -9 finish the import without storing any image twice.
Requests are paced to Cloudflare's limit (1,200 per 5 minutes) with credentials.";

/// The mapping file's name in the export folder, unless `--map` says otherwise.
pub const MAP: &str = "id-map.jsonl";

/// How many manifest lines are worked on at a time.
const SLICE: usize = 256;

/// Arguments of `cfimg import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The folder of an export (holding manifest.jsonl).
    pub dir: PathBuf,
    /// Where to write the mapping of old ids to new ones (JSON lines).
    /// Default: DIR/id-map.jsonl.
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    #[command(flatten)]
    pub pace: PaceArgs,
}

/// Whether an image can go up under its own id.
fn keeps_id(entry: &ManifestEntry) -> bool {
    !entry.require_signed_urls && crate::cmd::check_custom_id(&entry.id).is_ok()
}

/// Whether a stored image carries what the manifest says (the fields an upload
/// sets; not its id or upload time).
fn same_image(entry: &ManifestEntry, stored: &Image) -> bool {
    let stored_meta = stored
        .meta
        .as_ref()
        .map(|m| m.0.clone())
        .unwrap_or_default();
    stored.draft != Some(true)
        && (entry.filename.is_none() || stored.filename == entry.filename)
        && stored_meta == entry.metadata
        && stored.creator == entry.creator
        && stored.require_signed_urls == entry.require_signed_urls
}

/// How one image ended.
enum Outcome {
    /// Uploaded now, under this id.
    Uploaded(String),
    /// Already stored by an earlier run (killed before it could record it).
    Found(String),
    /// Not stored.
    Failed(CliError),
}

/// The file to send and the name Cloudflare should record.
struct Source {
    path: PathBuf,
    length: u64,
    /// `Some` when the file on disk is not named as the image was.
    rename: Option<String>,
}

/// Checks the file against the manifest (its bytes hash to the SHA-256 the
/// export received) before anything is sent.
async fn source(dir: &Path, entry: &ManifestEntry) -> CliResult<Source> {
    let path = dir.join(&entry.path);
    let (sha, length) = export::sha256_file(&path).await.map_err(|e| {
        CliError::new(format!(
            "cannot read {}: {}",
            path.display(),
            crate::files::io_reason(&e)
        ))
    })?;
    if sha != entry.sha256 {
        return Err(CliError::new(format!(
            "{} does not match the manifest's sha256 (altered or incomplete; run `cfimg export` again)",
            path.display()
        )));
    }
    let on_disk = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let rename = entry
        .filename
        .clone()
        .filter(|f| Some(f) != on_disk.as_ref());
    Ok(Source {
        path,
        length,
        rename,
    })
}

/// Uploads under the image's own id (`POST v1` with `id`). "Already exists"
/// with the same image behind the id is an earlier run's upload.
async fn upload_as_custom(client: &Client, entry: &ManifestEntry, source: Source) -> Outcome {
    let mut request = client.v1().create().id(entry.id.clone());
    request = match &source.rename {
        None => request.path(&source.path),
        Some(name) => match tokio::fs::File::open(&source.path).await {
            Ok(file) => request.reader(file, source.length, name.clone()),
            Err(e) => return Outcome::Failed(CliError::from(e)),
        },
    };
    if let Some(creator) = &entry.creator {
        request = request.creator(creator.clone());
    }
    if !entry.metadata.is_empty() {
        request = request.metadata(&entry.metadata);
    }
    match request.send().await {
        Ok(image) => Outcome::Uploaded(image.id.unwrap_or_else(|| entry.id.clone())),
        Err(e) if e.has_code(5409) => match client.v1().get(entry.id.as_str()).send().await {
            Ok(stored) if same_image(entry, &stored) => Outcome::Found(entry.id.clone()),
            _ => {
                let mut e = CliError::from(e);
                e.message = format!(
                    "the id {} is taken by a different image (file name, metadata, creator or signing differ): {}",
                    entry.id, e.message
                );
                e.exit = crate::error::EXIT_FAILURE;
                Outcome::Failed(e)
            }
        },
        Err(e) => {
            let mut e = CliError::from(e);
            e.exit = crate::error::EXIT_FAILURE;
            Outcome::Failed(e)
        }
    }
}

/// Uploads under a new id: a direct creator upload is created with the
/// image's fields, its id journaled, then the file sent to its one-time URL.
/// `earlier` is the id an earlier run journaled: if that image was stored, it
/// is this one; a draft left behind is deleted before starting again.
async fn upload_as_new(
    client: &Client,
    journal: &Journal,
    key: &str,
    entry: &ManifestEntry,
    earlier: Option<&str>,
    source: Source,
) -> Outcome {
    if let Some(id) = earlier {
        match image_status(client, id).await {
            Ok(status) if !status.draft && same_image(entry, &status.image) => {
                return Outcome::Found(id.to_string())
            }
            Ok(status) if status.draft => {
                // Its upload URL was lost with the process; drafts expire anyway.
                let _ = client.v1().delete(id).send().await;
            }
            _ => {}
        }
    }
    let mut create = client.v2().direct_uploads().create();
    if let Some(creator) = &entry.creator {
        create = create.creator(creator.clone());
    }
    if !entry.metadata.is_empty() {
        create = create.metadata(&entry.metadata);
    }
    if entry.require_signed_urls {
        create = create.require_signed_urls(true);
    }
    let created = match create.send().await {
        Ok(created) => created,
        Err(e) => return Outcome::Failed(e.into()),
    };
    let (Some(id), Some(url)) = (created.id, created.upload_url) else {
        return Outcome::Failed(CliError::new(
            "the API created a direct upload without an id or upload URL",
        ));
    };
    if let Err(e) = journal.import_sending(key, &entry.id, &id) {
        return Outcome::Failed(e);
    }
    // The client's pool (no credentials in it): a fresh client per upload
    // would load the TLS roots each time, which dominated a large import.
    let upload = UploadToUrl::new(url).http_client(client.http_client().clone());
    let upload = match &source.rename {
        None => upload.path(&source.path),
        Some(name) => match tokio::fs::File::open(&source.path).await {
            Ok(file) => upload.reader(file, source.length, name.clone()),
            Err(e) => return Outcome::Failed(CliError::from(e)),
        },
    };
    match upload.send().await {
        Ok(_) => Outcome::Uploaded(id),
        Err(e) => Outcome::Failed(e.into()),
    }
}

/// Imports one image and records the outcome.
async fn import_one(
    client: &Client,
    journal: &Journal,
    dir: &Path,
    key: &str,
    entry: &ManifestEntry,
    earlier: Option<Entry>,
) -> Outcome {
    let source = match source(dir, entry).await {
        Ok(source) => source,
        Err(e) => {
            if let Err(j) = journal.import_failed(key, &entry.id, &e.message) {
                eprintln!("cfimg: {j}");
            }
            return Outcome::Failed(e);
        }
    };
    let outcome = if keeps_id(entry) {
        if let Err(e) = journal.import_sending(key, &entry.id, &entry.id) {
            return Outcome::Failed(e);
        }
        upload_as_custom(client, entry, source).await
    } else {
        let earlier = earlier.and_then(|e| e.image_id);
        upload_as_new(client, journal, key, entry, earlier.as_deref(), source).await
    };
    let written = match &outcome {
        Outcome::Uploaded(id) => journal.import_done(key, &entry.id, id, false),
        Outcome::Found(id) => journal.import_done(key, &entry.id, id, true),
        Outcome::Failed(e) => journal.import_failed(key, &entry.id, &e.message),
    };
    if let Err(e) = written {
        eprintln!("cfimg: {e}");
    }
    outcome
}

/// Reads the manifest through once, checking every line, before anything is
/// sent; returns how many images it lists.
async fn check_manifest(path: &Path) -> CliResult<usize> {
    let mut lines = open_manifest(path).await?;
    let mut count = 0usize;
    let mut number = 0usize;
    while let Some(line) = next_line(&mut lines, path).await? {
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        ManifestEntry::parse(&line)
            .map_err(|why| CliError::usage(format!("{} line {number}: {why}", path.display())))?;
        count += 1;
    }
    Ok(count)
}

type Lines = tokio::io::Lines<tokio::io::BufReader<tokio::fs::File>>;

async fn open_manifest(path: &Path) -> CliResult<Lines> {
    let file = tokio::fs::File::open(path).await.map_err(|e| {
        CliError::usage(format!(
            "cannot read {}: {} (is it a folder made by `cfimg export`?)",
            path.display(),
            crate::files::io_reason(&e)
        ))
    })?;
    Ok(tokio::io::BufReader::new(file).lines())
}

async fn next_line(lines: &mut Lines, path: &Path) -> CliResult<Option<String>> {
    lines
        .next_line()
        .await
        .map_err(|e| CliError::new(format!("cannot read {}: {e}", path.display())))
}

/// Runs `cfimg import`.
pub async fn run(args: ImportArgs, ctx: &Backend) -> CliResult<()> {
    let started = Instant::now();
    let client = &ctx.client;
    let key = export::canonical(&args.dir)?;
    let dir = PathBuf::from(&key);
    let manifest = dir.join(MANIFEST);
    let total = check_manifest(&manifest).await?;
    let map_path = args.map.clone().unwrap_or_else(|| dir.join(MAP));
    let journal = export::open_journal(ctx)?;
    let concurrency = usize::from(args.pace.concurrency).max(1);

    let (mut uploaded, mut found, mut already_done) = (0usize, 0usize, 0usize);
    let mut failed: Vec<(String, CliError)> = Vec::new();
    let mut lines = open_manifest(&manifest).await?;
    let mut done_reading = false;
    while !done_reading {
        let mut slice = Vec::with_capacity(SLICE);
        while slice.len() < SLICE {
            match next_line(&mut lines, &manifest).await? {
                None => {
                    done_reading = true;
                    break;
                }
                Some(line) if line.trim().is_empty() => {}
                Some(line) => slice.push(ManifestEntry::parse(&line).map_err(|why| {
                    CliError::new(format!(
                        "{} changed while importing: {why}",
                        manifest.display()
                    ))
                })?),
            }
        }
        let ids: Vec<String> = slice.iter().map(|e| e.id.clone()).collect();
        let mut states: HashMap<String, Entry> = journal.import_register(&key, &ids)?;
        let mut todo = Vec::with_capacity(slice.len());
        for entry in slice {
            let earlier = states.remove(&entry.id);
            if earlier.as_ref().is_some_and(|e| e.state == State::Done) {
                already_done += 1;
            } else {
                todo.push((entry, earlier));
            }
        }
        let outcomes: Vec<(String, Outcome)> = futures_util::stream::iter(todo)
            .map(|(entry, earlier)| {
                let (journal, dir, key) = (&journal, &dir, &key);
                async move {
                    let outcome = import_one(client, journal, dir, key, &entry, earlier).await;
                    (entry.id, outcome)
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for (id, outcome) in outcomes {
            match outcome {
                Outcome::Uploaded(_) => uploaded += 1,
                Outcome::Found(_) => found += 1,
                Outcome::Failed(e) => failed.push((id, e)),
            }
        }
    }

    let mut mapped = 0usize;
    export::write_atomically(&map_path, |out| {
        journal.import_mapping(&key, |old, new| {
            mapped += 1;
            writeln!(out, "{}", json!({"old_id": old, "new_id": new}))
        })
    })?;

    let elapsed = started.elapsed();
    if output::machine() {
        output::print_json(&json!({
            "dir": key,
            "images": total,
            "uploaded": uploaded,
            "found": found,
            "already_done": already_done,
            "new_ids": mapped,
            "mapping": map_path.display().to_string(),
            "failed": failed
                .iter()
                .map(|(id, e)| json!({"id": id, "error": e.to_json()}))
                .collect::<Vec<Value>>(),
            "elapsed_ms": elapsed.as_millis() as u64,
        }));
    } else {
        for (id, e) in &failed {
            eprintln!("cfimg: could not import {id}: {e}");
        }
        output::print_out(&format!(
            "{uploaded} uploaded, {already_done} already done, {found} found already stored, {} failed, \
             of {total} image(s) in {}; {mapped} new id(s) in {}\n",
            failed.len(),
            human_duration(elapsed),
            map_path.display(),
        ));
    }
    if failed.is_empty() {
        return Ok(());
    }
    let mut e = CliError::new(format!(
        "{} of {total} image(s) could not be imported; run the same command again to retry them",
        failed.len()
    ));
    e.json_printed = output::machine();
    Err(e)
}
