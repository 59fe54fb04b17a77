//! `cfimg export DIR`: every image's original (the v1 blob endpoint) into
//! `DIR/originals/`, and `DIR/manifest.jsonl`, one JSON line per image.
//!
//! Resumable: the journal (`journal.db` in the data directory) records each
//! image's upload time and the SHA-256 of the bytes received. A rerun lists the
//! account again and fetches an original only if it is missing, if the file in
//! DIR no longer hashes to what was received (a partial or corrupted file), or
//! if the image's upload time changed: Cloudflare never changes the bytes behind
//! an id, so new bytes under an id mean it was deleted and uploaded again, with
//! a new upload time. Metadata, creator and signing changes only rewrite the
//! manifest. Memory stays bounded: originals are streamed to disk, the listing
//! goes page by page into the journal, and the journal is walked in slices.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use clap::Args;
use cloudflare_images::types::Image;
use cloudflare_images::Client;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::backend::{self, Backend};
use crate::error::{CliError, CliResult};
use crate::journal::{self, ExportRow, Journal};
use crate::output::{self, human_bytes, human_duration};

/// The help shown after `cfimg export`'s options.
pub const AFTER_HELP: &str = "\
Examples:
  cfimg export backup/                 # originals and backup/manifest.jsonl
  cfimg export backup/ --json          # run again: fetches only what is missing or changed

DIR/manifest.jsonl has one JSON object per image: id, filename, metadata, creator,
requireSignedURLs, uploaded, sha256, bytes, content_type and path (the original's
file, relative to DIR). Originals are written to a temporary name and renamed once
whole; the SHA-256 is that of the bytes received. A rerun hashes the files in DIR
and fetches again those missing, altered, or whose image was uploaded again. Files
of images deleted from the account stay in DIR but leave the manifest. Requests
are paced to Cloudflare's limit (1,200 per 5 minutes) with credentials.";

/// The manifest's file name in an export folder.
pub const MANIFEST: &str = "manifest.jsonl";

/// The folder of the originals in an export folder.
const ORIGINALS: &str = "originals";

/// The largest original accepted from the API: Cloudflare stores nothing over
/// 10 MB, so a longer body is a broken or hostile answer, not an image.
const MAX_ORIGINAL_BYTES: u64 = 64 * 1024 * 1024;

/// How many journal rows are worked on at a time.
const SLICE: usize = 256;

/// Pacing and concurrency, shared by `export` and `import`.
#[derive(Debug, Clone, Args)]
pub struct PaceArgs {
    /// How many transfers run at once.
    #[arg(long, short = 'j', default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Pace to Cloudflare's global limit against the local emulator too
    /// (always done with credentials).
    #[arg(long)]
    pub rate_limit: bool,
    /// Do not pace with credentials either (an emulator reached through
    /// CLOUDFLARE_BASE_URL, or an account whose limit was raised; a 429 still
    /// pauses the client).
    #[arg(long, conflicts_with = "rate_limit")]
    pub no_rate_limit: bool,
    /// The account's global limit to pace to, as N/PERIOD [default: 1200/5m].
    #[arg(long, value_parser = crate::cmd::upload::migrate::parse_rate, value_name = "N/PERIOD")]
    pub api_rate: Option<cloudflare_images::RateLimit>,
}

impl PaceArgs {
    /// How the client is tuned: paced like `upload --resume`.
    pub fn tuning(&self) -> backend::Tuning {
        backend::Tuning {
            pace_local: self.rate_limit,
            pace_remote: !self.no_rate_limit,
            max_connections: Some(
                usize::from(self.concurrency)
                    .max(cloudflare_images::config::Limits::DEFAULT_MAX_CONNECTIONS),
            ),
            batch_tokens: None,
            api_rate: self.api_rate,
            batch_rate: None,
        }
    }
}

/// Arguments of `cfimg export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The folder to export into (created if needed).
    pub dir: PathBuf,
    #[command(flatten)]
    pub pace: PaceArgs,
}

/// One line of an export's manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestEntry {
    /// The image id in the account exported.
    pub id: String,
    /// The image's file name, if it had one.
    pub filename: Option<String>,
    /// Its metadata (empty when none).
    pub metadata: Map<String, Value>,
    /// Its creator, if set.
    pub creator: Option<String>,
    /// Whether it is served only through signed URLs.
    pub require_signed_urls: bool,
    /// When it was uploaded (RFC 3339).
    pub uploaded: Option<String>,
    /// The SHA-256 (hex) of the original as received.
    pub sha256: String,
    /// The original's size in bytes.
    pub bytes: u64,
    /// Its `Content-Type`, as the blob endpoint sent it.
    pub content_type: Option<String>,
    /// The original's file, relative to the export folder, `/`-separated.
    pub path: String,
}

impl ManifestEntry {
    /// The entry as its manifest line (the API's field names where it has them).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "filename": self.filename,
            "metadata": self.metadata,
            "creator": self.creator,
            "requireSignedURLs": self.require_signed_urls,
            "uploaded": self.uploaded,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "content_type": self.content_type,
            "path": self.path,
        })
    }

    /// Reads a manifest line; the error says which field is wrong.
    pub fn parse(line: &str) -> Result<ManifestEntry, String> {
        let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
        let text = |name: &str| -> Result<Option<String>, String> {
            match &value[name] {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err(format!("{name} must be a string or null")),
            }
        };
        let required = |name: &str| {
            text(name)?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("{name} is missing"))
        };
        let metadata = match &value["metadata"] {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            _ => return Err("metadata must be an object".into()),
        };
        let sha256 = required("sha256")?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("sha256 must be 64 hex digits".into());
        }
        let path = required("path")?;
        if !safe_relative(&path) {
            return Err(format!("path {path:?} must stay inside the export folder"));
        }
        Ok(ManifestEntry {
            id: required("id")?,
            filename: text("filename")?,
            metadata,
            creator: text("creator")?,
            require_signed_urls: value["requireSignedURLs"].as_bool().unwrap_or(false),
            uploaded: text("uploaded")?,
            sha256: sha256.to_ascii_lowercase(),
            bytes: value["bytes"].as_u64().unwrap_or(0),
            content_type: text("content_type")?,
            path,
        })
    }

    fn from_row(row: ExportRow) -> Option<ManifestEntry> {
        Some(ManifestEntry {
            metadata: serde_json::from_str(&row.metadata).unwrap_or_default(),
            sha256: row.sha256.filter(|_| row.done)?,
            id: row.id,
            filename: row.filename,
            creator: row.creator,
            require_signed_urls: row.signed,
            uploaded: row.uploaded,
            bytes: row.bytes,
            content_type: row.content_type,
            path: row.path,
        })
    }
}

/// Whether a manifest's `path` names a file inside the folder: relative, with
/// no `..`, `.` or empty segment (a manifest edited by hand must not make
/// `import` read files elsewhere).
fn safe_relative(path: &str) -> bool {
    !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}

/// The file name an original is saved under: the image's file name with
/// anything a file system may refuse replaced, at most 100 characters.
fn safe_file_name(filename: Option<&str>) -> String {
    let base = filename
        .and_then(|f| f.rsplit(['/', '\\']).next())
        .unwrap_or_default();
    let mut name: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    name = name.trim_matches([' ', '.']).to_string();
    if name.is_empty() {
        name = "original".into();
    }
    name
}

/// Where an image's original goes in the folder: `originals/HH/HASH/NAME`, HASH
/// a digest of the id (ids may hold `/`, be 1,024 characters long or differ
/// only in case), NAME the image's file name so that `import` can send the
/// file as it is.
pub fn original_path(id: &str, filename: Option<&str>) -> String {
    let digest = hex(&Sha256::digest(id.as_bytes()));
    format!(
        "{ORIGINALS}/{}/{}/{}",
        &digest[..2],
        &digest[2..24],
        safe_file_name(filename)
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 (hex) and length of a file, read in 64 KiB chunks.
pub async fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex(&hasher.finalize()), total))
}

/// The journal in the data directory, with the export and import tables.
pub fn open_journal(ctx: &Backend) -> CliResult<Journal> {
    Journal::open_transfers(&journal::path_in_data_dir()?, &ctx.target())
}

/// The folder's canonical path, the key of its journal rows.
pub fn canonical(dir: &Path) -> CliResult<String> {
    std::fs::canonicalize(dir)
        .map(|p| p.display().to_string())
        .map_err(|e| {
            CliError::usage(format!(
                "cannot use {}: {}",
                dir.display(),
                crate::files::io_reason(&e)
            ))
        })
}

/// Writes a file whole or not at all: `write` fills a temporary file next to
/// `path`, which is synced and renamed over `path` only if it succeeded.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> CliResult<()>,
) -> CliResult<()> {
    let shown = path.display();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.part", std::process::id()));
    let result = (|| {
        let file = std::fs::File::create(&temp)
            .map_err(|e| CliError::new(format!("cannot write {shown}: {e}")))?;
        let mut out = std::io::BufWriter::new(file);
        write(&mut out)?;
        let file = out
            .into_inner()
            .map_err(|e| CliError::new(format!("cannot write {shown}: {}", e.error())))?;
        file.sync_all()
            .map_err(|e| CliError::new(format!("cannot write {shown}: {e}")))?;
        std::fs::rename(&temp, path)
            .map_err(|e| CliError::new(format!("cannot write {shown}: {e}")))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Deletes the temporary file it holds when dropped, unless disarmed: an
/// original that did not arrive whole never stays in the folder.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Removes the temporary files a killed export left for the original `name`
/// in `folder` (each image has a folder of its own, so only its own).
async fn remove_leftovers(folder: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(mut entries) = tokio::fs::read_dir(folder).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(&prefix) && file.ends_with(".part") {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}

/// What was received for one original.
struct Received {
    sha256: String,
    bytes: u64,
    content_type: Option<String>,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Streams the original of `id` to `target` through a temporary file in the
/// same folder, hashing it on the way; renamed into place only once whole
/// (the `Content-Length` matched).
async fn fetch(client: &Client, id: &str, target: &Path) -> CliResult<Received> {
    let blob = client.v1().blobs().get(id).send().await?;
    let content_type = blob.content_type().map(str::to_string);
    let expected = blob.content_length();
    if expected.is_some_and(|n| n > MAX_ORIGINAL_BYTES) {
        return Err(CliError::new(format!(
            "the original is announced as {} bytes, more than any image Cloudflare stores",
            expected.unwrap_or_default()
        )));
    }
    let parent = target.parent().unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(parent)
        .await
        .map_err(|e| CliError::new(format!("cannot create {}: {e}", parent.display())))?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    remove_leftovers(parent, &name).await;
    let temp = parent.join(format!(
        ".{name}.{}-{}.part",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut guard = TempFile(Some(temp.clone()));
    let write_error =
        |e: std::io::Error| CliError::new(format!("cannot write {}: {e}", temp.display()));
    let file = tokio::fs::File::create(&temp).await.map_err(write_error)?;
    let mut out = tokio::io::BufWriter::with_capacity(64 * 1024, file);
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    let mut stream = Box::pin(blob.into_stream());
    while let Some(chunk) = stream.try_next().await? {
        received += chunk.len() as u64;
        if received > MAX_ORIGINAL_BYTES {
            return Err(CliError::new(
                "the original is longer than any image Cloudflare stores; not saved",
            ));
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(write_error)?;
    }
    if let Some(expected) = expected.filter(|n| *n != received) {
        return Err(CliError::new(format!(
            "the download ended after {received} of {expected} bytes; not saved"
        )));
    }
    out.flush().await.map_err(write_error)?;
    // Not synced to disk: a kill loses nothing the kernel holds, and after an
    // OS crash a file that lost its bytes no longer hashes to what the journal
    // recorded, so the next run fetches it again. An fsync per original made
    // an export of small images several times slower.
    drop(out);
    tokio::fs::rename(&temp, target).await.map_err(|e| {
        CliError::new(format!(
            "cannot move the original to {}: {e}",
            target.display()
        ))
    })?;
    guard.0 = None;
    Ok(Received {
        sha256: hex(&hasher.finalize()),
        bytes: received,
        content_type,
    })
}

/// Takes what a manifest already in the folder records into an empty journal,
/// a slice at a time, so that a folder exported with another data directory
/// is resumed rather than fetched again. Lines that cannot be read are left
/// out: those images are fetched.
async fn seed_from_manifest(journal: &Journal, key: &str, manifest: &Path) -> CliResult<()> {
    use tokio::io::AsyncBufReadExt;
    let Ok(file) = tokio::fs::File::open(manifest).await else {
        return Ok(());
    };
    let mut lines = tokio::io::BufReader::new(file).lines();
    let mut rows = Vec::with_capacity(SLICE);
    loop {
        let line = lines
            .next_line()
            .await
            .map_err(|e| CliError::new(format!("cannot read {}: {e}", manifest.display())))?;
        let end = line.is_none();
        if let Some(entry) = line.and_then(|l| ManifestEntry::parse(&l).ok()) {
            rows.push(ExportRow {
                metadata: Value::Object(entry.metadata).to_string(),
                id: entry.id,
                filename: entry.filename,
                creator: entry.creator,
                signed: entry.require_signed_urls,
                uploaded: entry.uploaded,
                path: entry.path,
                done: true,
                sha256: Some(entry.sha256),
                bytes: entry.bytes,
                content_type: entry.content_type,
            });
        }
        if end || rows.len() >= SLICE {
            journal.export_seed(key, &rows)?;
            rows.clear();
        }
        if end {
            return Ok(());
        }
    }
}

/// The journal row for an image as listed.
fn listed_row(image: &Image) -> Option<ExportRow> {
    let id = image.id.clone()?;
    let metadata = image
        .meta
        .as_ref()
        .map(|m| Value::Object(m.0.clone()).to_string())
        .unwrap_or_else(|| "{}".into());
    Some(ExportRow {
        path: original_path(&id, image.filename.as_deref()),
        id,
        filename: image.filename.clone(),
        metadata,
        creator: image.creator.clone(),
        signed: image.require_signed_urls,
        uploaded: image
            .uploaded
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        ..ExportRow::default()
    })
}

/// What happened to one image in this run.
enum Step {
    /// The file in the folder still hashes to what was received.
    Unchanged,
    /// Fetched now, `bytes` long.
    Fetched(u64),
    /// Could not be fetched.
    Failed(String, CliError),
}

/// Verifies or fetches one image's original and records the outcome.
async fn export_one(
    client: &Client,
    journal: &Journal,
    dir: &Path,
    key: &str,
    row: &ExportRow,
) -> Step {
    let target = dir.join(&row.path);
    if row.done {
        if let Some(expected) = &row.sha256 {
            if let Ok((actual, _)) = sha256_file(&target).await {
                if &actual == expected {
                    return Step::Unchanged;
                }
            }
        }
    }
    match fetch(client, &row.id, &target).await {
        Ok(received) => {
            if let Err(e) = journal.export_done(
                key,
                &row.id,
                &received.sha256,
                received.bytes,
                received.content_type.as_deref(),
            ) {
                return Step::Failed(row.id.clone(), e);
            }
            Step::Fetched(received.bytes)
        }
        Err(e) => {
            if let Err(j) = journal.export_failed(key, &row.id, &e.message) {
                eprintln!("cfimg: {j}");
            }
            Step::Failed(row.id.clone(), e)
        }
    }
}

/// Runs `cfimg export`.
pub async fn run(args: ExportArgs, ctx: &Backend) -> CliResult<()> {
    let started = Instant::now();
    let client = &ctx.client;
    std::fs::create_dir_all(&args.dir).map_err(|e| {
        CliError::usage(format!(
            "cannot create {}: {}",
            args.dir.display(),
            crate::files::io_reason(&e)
        ))
    })?;
    let key = canonical(&args.dir)?;
    let dir = PathBuf::from(&key);
    let journal = open_journal(ctx)?;
    let run = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
        std::process::id()
    );

    if !journal.export_known(&key)? {
        seed_from_manifest(&journal, &key, &dir.join(MANIFEST)).await?;
    }

    // The listing, page by page, into the journal.
    let mut listed = 0usize;
    let mut drafts = 0usize;
    let mut pages = client.v2().list_all().pages();
    while let Some(page) = pages.try_next().await? {
        let mut rows = Vec::with_capacity(page.images.len());
        for image in &page.images {
            if image.draft == Some(true) {
                // A direct upload whose file never came: there is no original.
                // Cloudflare's listing leaves drafts out; an emulator may not.
                drafts += 1;
                continue;
            }
            rows.extend(listed_row(image));
        }
        listed += rows.len();
        journal.export_listed(&key, &run, &rows)?;
    }

    // The originals, a slice of the journal at a time.
    let concurrency = usize::from(args.pace.concurrency).max(1);
    let (mut fetched, mut unchanged, mut bytes) = (0usize, 0usize, 0u64);
    let mut failed: Vec<(String, CliError)> = Vec::new();
    let mut after = String::new();
    loop {
        let rows = journal.export_rows(&key, &run, &after, SLICE)?;
        let Some(last) = rows.last() else { break };
        after = last.id.clone();
        let steps: Vec<Step> = futures_util::stream::iter(rows.iter())
            .map(|row| export_one(client, &journal, &dir, &key, row))
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for step in steps {
            match step {
                Step::Unchanged => unchanged += 1,
                Step::Fetched(n) => {
                    fetched += 1;
                    bytes += n;
                }
                Step::Failed(id, e) => failed.push((id, e)),
            }
        }
    }

    // The manifest: the images of this listing whose original is in place.
    let manifest = dir.join(MANIFEST);
    let mut entries = 0usize;
    write_atomically(&manifest, |out| {
        let mut after = String::new();
        loop {
            let rows = journal.export_rows(&key, &run, &after, SLICE)?;
            let Some(last) = rows.last() else { break };
            after = last.id.clone();
            for entry in rows.into_iter().filter_map(ManifestEntry::from_row) {
                writeln!(out, "{}", entry.to_json())
                    .map_err(|e| CliError::new(format!("cannot write the manifest: {e}")))?;
                entries += 1;
            }
        }
        Ok(())
    })?;

    let elapsed = started.elapsed();
    if output::machine() {
        output::print_json(&json!({
            "dir": key,
            "manifest": manifest.display().to_string(),
            "images": listed,
            "fetched": fetched,
            "unchanged": unchanged,
            "bytes": bytes,
            "drafts_skipped": drafts,
            "failed": failed.iter().map(|(id, e)| json!({"id": id, "error": e.to_json()})).collect::<Vec<_>>(),
            "elapsed_ms": elapsed.as_millis() as u64,
        }));
    } else {
        for (id, e) in &failed {
            eprintln!("cfimg: could not export {id}: {e}");
        }
        output::print_out(&format!(
            "exported {entries} of {listed} image(s) to {}: {fetched} fetched ({}), {unchanged} unchanged, {} failed, in {}\n",
            dir.display(),
            human_bytes(bytes),
            failed.len(),
            human_duration(elapsed),
        ));
    }
    if failed.is_empty() {
        return Ok(());
    }
    let mut e = CliError::new(format!(
        "{} of {listed} image(s) could not be exported; run the same command again to retry them",
        failed.len()
    ));
    e.json_printed = output::machine();
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_and_keep_the_file_name() {
        let p = original_path("a/../../etc/passwd", Some("../../x.png"));
        assert!(p.starts_with("originals/") && p.ends_with("/x.png"), "{p}");
        assert!(safe_relative(&p));
        assert_ne!(
            original_path("A", Some("x.png")),
            original_path("a", Some("x.png"))
        );
        assert!(original_path("id", None).ends_with("/original"));
        assert!(original_path("id", Some("..")).ends_with("/original"));
        for bad in ["/etc/passwd", "a/../b", "./a", "a//b", "a\\b", ""] {
            assert!(!safe_relative(bad), "{bad}");
        }
    }

    #[test]
    fn manifest_lines_round_trip_and_bad_ones_say_why() {
        let entry = ManifestEntry {
            id: "products/cat".into(),
            filename: Some("cat.png".into()),
            metadata: serde_json::from_str(r#"{"sku":"C-1"}"#).unwrap(),
            creator: Some("u1".into()),
            require_signed_urls: false,
            uploaded: Some("2024-01-02T03:04:05.123Z".into()),
            sha256: "ab".repeat(32),
            bytes: 10,
            content_type: Some("image/png".into()),
            path: original_path("products/cat", Some("cat.png")),
        };
        let line = entry.to_json().to_string();
        assert!(line.contains("\"requireSignedURLs\":false"), "{line}");
        assert_eq!(ManifestEntry::parse(&line).unwrap(), entry);
        let mut v = entry.to_json();
        v["path"] = json!("../outside.png");
        assert!(ManifestEntry::parse(&v.to_string())
            .unwrap_err()
            .contains("inside"));
        let mut v = entry.to_json();
        v["sha256"] = json!("xyz");
        assert!(ManifestEntry::parse(&v.to_string())
            .unwrap_err()
            .contains("sha256"));
        assert!(ManifestEntry::parse("{").unwrap_err().contains("JSON"));
    }
}
