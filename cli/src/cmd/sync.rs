//! `cfimg sync DIR --id-prefix P`: makes the images whose ids start with `P`
//! mirror the image files under `DIR`.
//!
//! Each file is the image `P` + its path relative to `DIR`. Content is compared
//! by SHA-256: `sync` stores each file's hash in the image's metadata
//! ([`SHA_KEY`]) when it uploads it, so an unchanged tree is recognised from the
//! listing alone; an image under `P` without that key (uploaded by other means)
//! has its original downloaded and hashed, a read and never a write.
//!
//! Cloudflare cannot overwrite an image, so a changed file is replaced in four
//! steps that never leave the account without a copy of the image: the new
//! content is uploaded under a staging id (`ID` + [`STAGING_SUFFIX`]), then the
//! old image is deleted, the new content uploaded under `ID`, and the staging
//! image deleted. If any step fails, what is stored is the old image, or the new
//! content under the staging id (and under `ID` once step three is done); the
//! next `sync` sees where it stopped (a missing `ID` is uploaded, a staging
//! image left over is deleted). Between steps two and three, `ID` itself
//! answers 404 for a moment: no API call avoids it.
//!
//! `sync` keeps no journal: the account is its state. Every step is idempotent
//! (custom ids, hashes in metadata), so a run stopped at any point, `kill -9`
//! included, is finished by running it again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use cloudflare_images::types::Image;
use cloudflare_images::Client;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::backend::Backend;
use crate::error::{CliError, CliResult};
use crate::files::{self, Input};
use crate::output::{self, print_json, print_out};
use crate::plan::{self, check_under, Deleted, PaceArgs};

/// The metadata key under which `sync` records the SHA-256 (hex) of the file an
/// image was uploaded from.
pub const SHA_KEY: &str = "cfimg_sha256";

/// Appended to an id for the staging copy of a replacement (not an image
/// extension, so no file under `DIR` can map to it).
pub const STAGING_SUFFIX: &str = ".cfimg-sync-staging";

/// The help shown after `cfimg sync`'s options.
pub const AFTER_HELP: &str = "\
Examples:
  cfimg sync ./site/img --id-prefix site/ --dry-run    # print the plan only
  cfimg sync ./site/img --id-prefix site/ --yes

The file DIR/a/b.png is the image `site/a/b.png`. New files are uploaded, changed
files (by SHA-256, kept in the metadata key cfimg_sha256) replaced, and images
under the prefix without a file deleted. Nothing outside the prefix is touched.
Replacing or deleting needs --yes, or a y/N answer on a terminal. A run stopped
midway is finished by running it again.";

/// Arguments of `cfimg sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The directory to mirror (image files found recursively, as `upload` does).
    pub dir: PathBuf,
    /// The images to mirror it onto: those whose id starts with this (end it with
    /// `/` to mean a folder).
    #[arg(long, value_name = "PREFIX")]
    pub id_prefix: String,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace and delete without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub pace: PaceArgs,
}

/// A file under `DIR` and what it is to become.
#[derive(Debug, Clone)]
struct Local {
    path: PathBuf,
    sha: String,
}

/// What a sync will do.
#[derive(Debug, Default)]
struct Plan {
    /// Files without an image: `id`.
    upload: Vec<String>,
    /// Files whose image differs.
    replace: Vec<String>,
    /// Images under the prefix without a file (staging copies left over included).
    delete: Vec<String>,
    /// Files whose image has the same content.
    unchanged: usize,
}

/// SHA-256 of `bytes`, lower-case hex.
fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file, read in 64 KiB pieces.
async fn hash_file(path: &Path) -> CliResult<String> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| CliError::new(format!("{}: {}", path.display(), files::io_reason(&e))))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| CliError::new(format!("{}: {}", path.display(), files::io_reason(&e))))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// SHA-256 of an image's original, streamed (never held whole).
async fn hash_remote(client: &Client, id: &str) -> CliResult<String> {
    let blob = client.v1().blobs().get(id).send().await?;
    let mut stream = Box::pin(blob.into_stream());
    let mut hasher = Sha256::new();
    while let Some(chunk) = stream.try_next().await? {
        hasher.update(&chunk);
    }
    Ok(hex(&hasher.finalize()))
}

/// The content hash `sync` recorded on an image, if any.
fn recorded_sha(image: &Image) -> Option<String> {
    image
        .meta
        .as_ref()
        .and_then(|m| m.get(SHA_KEY))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The files under `dir` by the id each is to have; refuses (before anything is
/// sent) a tree with a file it cannot read or an id the API would not accept,
/// since a file left out would have its image deleted.
async fn local_files(dir: &Path, prefix: &str) -> CliResult<BTreeMap<String, Local>> {
    if !dir.is_dir() {
        return Err(CliError::usage(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let expanded = files::expand(&[dir.display().to_string()]);
    if !expanded.skipped.is_empty() {
        output::info(&format!(
            "ignoring {} file(s) without an image extension",
            expanded.skipped.len()
        ));
    }
    let mut out = BTreeMap::new();
    for (input, key) in expanded.inputs.into_iter().zip(expanded.keys) {
        let path = match input {
            Input::File(path) => path,
            Input::Missing { arg, reason } => {
                return Err(CliError::new(format!(
                    "cannot read {arg}: {reason}; nothing was changed"
                )))
            }
            other => {
                return Err(CliError::new(format!(
                    "unexpected input {} under {}",
                    other.display(),
                    dir.display()
                )))
            }
        };
        let id = format!("{prefix}{key}");
        // The staging id too: a replacement must not fail halfway on it.
        super::check_custom_id(&id)
            .and_then(|()| super::check_custom_id(&format!("{id}{STAGING_SUFFIX}")))
            .map_err(|why| {
                CliError::usage(format!(
                    "{} cannot be the image {id:?}: {why}; nothing was changed",
                    path.display()
                ))
            })?;
        let sha = hash_file(&path).await?;
        out.insert(id, Local { path, sha });
    }
    Ok(out)
}

/// The images under `prefix`, by id, with the content hash `sync` recorded (if
/// any). The API has no id-prefix filter: the whole listing is walked and only
/// ids under the prefix are kept.
async fn remote_images(
    client: &Client,
    prefix: &str,
) -> CliResult<BTreeMap<String, Option<String>>> {
    let mut pages = client.v2().list_all().pages();
    let mut out = BTreeMap::new();
    while let Some(page) = pages.try_next().await? {
        for image in page.images {
            if let Some(id) = image.id.as_deref().filter(|id| id.starts_with(prefix)) {
                out.insert(id.to_string(), recorded_sha(&image));
            }
        }
    }
    Ok(out)
}

/// Compares the two sides; an image without a recorded hash whose file exists
/// is downloaded and hashed.
async fn make_plan(
    client: &Client,
    local: &BTreeMap<String, Local>,
    remote: &BTreeMap<String, Option<String>>,
) -> CliResult<Plan> {
    let mut plan = Plan::default();
    for (id, file) in local {
        let stored = match remote.get(id) {
            None => {
                plan.upload.push(id.clone());
                continue;
            }
            Some(Some(sha)) => sha.clone(),
            Some(None) => hash_remote(client, id).await?,
        };
        if stored == file.sha {
            plan.unchanged += 1;
        } else {
            plan.replace.push(id.clone());
        }
    }
    plan.delete = remote
        .keys()
        .filter(|id| !local.contains_key(*id))
        // A staging copy is used by the replacement of its image, if one is planned.
        .filter(|id| {
            id.strip_suffix(STAGING_SUFFIX)
                .is_none_or(|base| !plan.replace.iter().any(|r| r == base))
        })
        .cloned()
        .collect();
    Ok(plan)
}

/// How many times a rate-limited (429) upload is tried: nothing was stored then.
const ATTEMPTS: u32 = 3;

/// Uploads `file` as `id` with its hash in the metadata. An id already taken by
/// the same content (an earlier run stopped before it saw the answer) counts as
/// uploaded.
async fn upload_as(client: &Client, prefix: &str, id: &str, file: &Local) -> CliResult<()> {
    check_under(prefix, id)?;
    let mut meta = Map::new();
    meta.insert(SHA_KEY.into(), Value::String(file.sha.clone()));
    let mut attempt = 1;
    loop {
        let sent = client
            .v1()
            .create()
            .path(&file.path)
            .id(id.to_string())
            .metadata(&meta)
            .send()
            .await;
        match sent {
            Ok(_) => return Ok(()),
            Err(e) if e.status() == Some(429) && attempt < ATTEMPTS => {
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) if e.has_code(5409) => {
                let stored = client.v1().get(id).send().await?;
                if recorded_sha(&stored).as_deref() == Some(file.sha.as_str()) {
                    return Ok(());
                }
                return Err(CliError::new(format!(
                    "could not upload {} as {id}: the id is taken by other content",
                    file.path.display()
                )));
            }
            Err(e) => {
                let mut e = CliError::from(e);
                // A file the SDK refused is a failed write, not a usage error.
                e.exit = crate::error::EXIT_FAILURE;
                return Err(e.context(format!("could not upload {} as {id}", file.path.display())));
            }
        }
    }
}

/// Deletes `id` after checking it is under `prefix`.
async fn delete_under(client: &Client, prefix: &str, id: &str) -> CliResult<Deleted> {
    check_under(prefix, id)?;
    plan::delete_image(client, id).await
}

/// Replaces the image `id` with `file`, in the order the module documentation
/// gives; `staging` is the staging copy already stored, with its hash, if any.
async fn replace(
    client: &Client,
    prefix: &str,
    id: &str,
    file: &Local,
    staging: Option<&Option<String>>,
) -> CliResult<()> {
    let staging_id = format!("{id}{STAGING_SUFFIX}");
    match staging {
        Some(Some(sha)) if *sha == file.sha => {}
        Some(_) => {
            // Left by an interrupted replacement with other content.
            delete_under(client, prefix, &staging_id).await?;
            upload_as(client, prefix, &staging_id, file).await?;
        }
        None => upload_as(client, prefix, &staging_id, file).await?,
    }
    delete_under(client, prefix, id).await?;
    upload_as(client, prefix, id, file).await?;
    delete_under(client, prefix, &staging_id).await?;
    Ok(())
}

/// Runs `cfimg sync`.
pub async fn run(args: SyncArgs, ctx: &Backend) -> CliResult<()> {
    let client = &ctx.client;
    let prefix = args.id_prefix.as_str();
    if prefix.is_empty() {
        return Err(CliError::usage(
            "--id-prefix must not be empty: sync would own every image of the account",
        ));
    }
    if !prefix.ends_with('/') {
        output::note(&format!(
            "the prefix {prefix:?} does not end with `/`: every id starting with it is synced (e.g. {:?})",
            format!("{prefix}x.png")
        ));
    }
    let local = local_files(&args.dir, prefix).await?;
    let remote = remote_images(client, prefix).await?;
    let plan = make_plan(client, &local, &remote).await?;
    let machine = output::machine();
    if machine {
        if args.dry_run {
            print_json(&json!({
                "dry_run": true,
                "prefix": prefix,
                "upload": plan.upload,
                "replace": plan.replace,
                "delete": plan.delete,
                "unchanged": plan.unchanged,
            }));
            return Ok(());
        }
    } else {
        let mut text = format!(
            "sync {} -> {prefix}: {} to upload, {} to replace, {} to delete, {} unchanged\n",
            args.dir.display(),
            plan.upload.len(),
            plan.replace.len(),
            plan.delete.len(),
            plan.unchanged
        );
        text.push_str(&plan::item_lines("+", &plan.upload));
        text.push_str(&plan::item_lines("~", &plan.replace));
        text.push_str(&plan::item_lines("-", &plan.delete));
        print_out(&text);
        if args.dry_run {
            print_out("dry run: nothing changed\n");
            return Ok(());
        }
    }
    if !plan.replace.is_empty() || !plan.delete.is_empty() {
        let names: Vec<String> = plan.replace.iter().chain(&plan.delete).cloned().collect();
        super::confirm_delete(
            &format!(
                "image(s) under {prefix:?} ({} replaced, {} deleted)",
                plan.replace.len(),
                plan.delete.len()
            ),
            &names,
            args.yes,
        )?;
    }

    let concurrency = args.pace.concurrency();
    let file = |id: &String| local.get(id).cloned();
    let uploads: Vec<(String, CliResult<()>)> = futures_util::stream::iter(&plan.upload)
        .map(|id| async move {
            let result = match file(id) {
                Some(f) => upload_as(client, prefix, id, &f).await,
                None => Err(CliError::new(format!("{id}: no file"))),
            };
            (id.clone(), result)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let remote = &remote;
    let replaced: Vec<(String, CliResult<()>)> = futures_util::stream::iter(&plan.replace)
        .map(|id| async move {
            let staging = remote.get(&format!("{id}{STAGING_SUFFIX}"));
            let result = match file(id) {
                Some(f) => replace(client, prefix, id, &f, staging).await,
                None => Err(CliError::new(format!("{id}: no file"))),
            };
            (id.clone(), result)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let deleted: Vec<(String, CliResult<()>)> = futures_util::stream::iter(&plan.delete)
        .map(|id| async move {
            let result = delete_under(client, prefix, id).await.map(|_| ());
            (id.clone(), result)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;

    let ok = |list: &[(String, CliResult<()>)]| -> Vec<String> {
        let mut ids: Vec<String> = list
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    };
    let failures: Vec<(&str, &String, &CliError)> = [
        ("upload", &uploads),
        ("replace", &replaced),
        ("delete", &deleted),
    ]
    .into_iter()
    .flat_map(|(action, list)| {
        list.iter()
            .filter_map(move |(id, r)| r.as_ref().err().map(|e| (action, id, e)))
    })
    .collect();
    let (up, rep, del) = (ok(&uploads), ok(&replaced), ok(&deleted));
    if machine {
        print_json(&json!({
            "prefix": prefix,
            "uploaded": up,
            "replaced": rep,
            "deleted": del,
            "unchanged": plan.unchanged,
            "failed": failures.iter().map(|(action, id, e)| json!({
                "id": id, "action": action, "error": e.to_json(),
            })).collect::<Vec<_>>(),
        }));
    } else {
        for (action, id, e) in &failures {
            eprintln!("cfimg: could not {action} {id}: {e}");
        }
        print_out(&format!(
            "uploaded {}, replaced {}, deleted {}, {} unchanged, {} failed\n",
            up.len(),
            rep.len(),
            del.len(),
            plan.unchanged,
            failures.len()
        ));
    }
    if failures.is_empty() {
        return Ok(());
    }
    Err(CliError {
        json_printed: machine,
        ..CliError::new(format!(
            "{} change(s) failed; run the same command again to finish",
            failures.len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(ids: &[(&str, &str)]) -> BTreeMap<String, Local> {
        ids.iter()
            .map(|(id, sha)| {
                (
                    id.to_string(),
                    Local {
                        path: PathBuf::from(id),
                        sha: sha.to_string(),
                    },
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn plans_uploads_replacements_and_deletions() {
        let client = Client::builder()
            .api_token("t")
            .account_id("0123456789abcdef0123456789abcdef")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        let local = local(&[("p/a.png", "1"), ("p/b.png", "2"), ("p/c.png", "3")]);
        let remote: BTreeMap<String, Option<String>> = [
            ("p/b.png", Some("2")),
            ("p/c.png", Some("old")),
            ("p/c.png.cfimg-sync-staging", Some("3")),
            ("p/d.png", Some("4")),
            ("p/e.png.cfimg-sync-staging", Some("5")),
        ]
        .into_iter()
        .map(|(id, sha)| (id.to_string(), sha.map(str::to_string)))
        .collect();
        // No image lacks a hash, so nothing is downloaded (the client has no server).
        let plan = make_plan(&client, &local, &remote).await.unwrap();
        assert_eq!(plan.upload, ["p/a.png"]);
        assert_eq!(plan.replace, ["p/c.png"]);
        assert_eq!(plan.delete, ["p/d.png", "p/e.png.cfimg-sync-staging"]);
        assert_eq!(plan.unchanged, 1);
    }

    #[tokio::test]
    async fn files_hash_as_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.png");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            hash_file(&path).await.unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
