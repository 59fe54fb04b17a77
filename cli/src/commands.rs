//! The smaller commands: get, edit, delete, download, variants, keys, stats,
//! direct-upload, sign.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cloudflare_images::direct::{wait_for_upload, UploadToUrl};
use cloudflare_images::open_enums::{ImageVariantFit, ImageVariantSchemasMetadata};
use cloudflare_images::types::{Image, ImageVariantDefinition, ImageVariantOptions};
use cloudflare_images::Client;
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use tokio::io::AsyncWriteExt;

use crate::error::{CliError, CliResult};
use crate::output::{self, human_bytes, print_json, print_out, Table};

/// `cfimg get ID`. `local`: its delivery URLs point at the embedded emulator.
pub async fn get(client: &Client, id: &str, local: bool) -> CliResult<()> {
    let image = client.v1().get(id).send().await?;
    if output::machine() {
        print_json(&output::image_json(&image));
    } else {
        print_out(&output::image_details(&image));
    }
    if local && image.variants.as_ref().is_some_and(|v| !v.is_empty()) {
        output::note(output::LOCAL_URL_NOTE);
    }
    Ok(())
}

/// `cfimg edit ID`.
pub async fn edit(
    client: &Client,
    id: &str,
    metadata: Option<Map<String, Value>>,
    creator: Option<String>,
    require_signed_urls: Option<bool>,
) -> CliResult<()> {
    if metadata.is_none() && creator.is_none() && require_signed_urls.is_none() {
        return Err(CliError::usage(
            "nothing to change: give --metadata, --creator or --require-signed-urls",
        ));
    }
    let mut req = client.v1().edit(id);
    if let Some(m) = metadata {
        req = req.metadata(m);
    }
    if let Some(c) = creator {
        req = req.creator(c);
    }
    if let Some(r) = require_signed_urls {
        req = req.require_signed_urls(r);
    }
    let image = req.send().await?;
    if output::machine() {
        print_json(&output::image_json(&image));
    } else {
        print_out(&output::image_details(&image));
    }
    Ok(())
}

/// Asks on the terminal; `Ok(false)` unless the answer starts with `y`.
fn confirm(question: &str) -> CliResult<bool> {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::new(format!("cannot read the answer: {e}")))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Asks before deleting `names` (of `what`, e.g. "image(s)") unless `yes`:
/// on a terminal, a y/N question; without one, a refusal asking for `--yes`.
fn confirm_delete(what: &str, names: &[String], yes: bool) -> CliResult<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(format!(
            "refusing to delete {} {what} without confirmation: stdin is not a terminal; pass --yes",
            names.len()
        )));
    }
    let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    let more = if names.len() > 5 {
        format!(" and {} more", names.len() - 5)
    } else {
        String::new()
    };
    if !confirm(&format!(
        "Delete {} {what}: {}{more}?",
        names.len(),
        shown.join(", ")
    ))? {
        return Err(CliError::usage("not confirmed; nothing deleted"));
    }
    Ok(())
}

/// `cfimg delete ID...`: asks first on a terminal unless `yes`; refuses without a
/// terminal and without `yes`.
pub async fn delete(client: &Client, ids: &[String], yes: bool) -> CliResult<()> {
    confirm_delete("image(s)", ids, yes)?;
    let json = output::machine();
    let results: Vec<(String, Result<(), CliError>)> = futures_util::stream::iter(ids)
        .map(|id| async move {
            let r = client.v1().delete(id.as_str()).send().await;
            (id.clone(), r.map(|_| ()).map_err(CliError::from))
        })
        .buffered(4)
        .collect()
        .await;
    let failed: Vec<&(String, Result<(), CliError>)> =
        results.iter().filter(|(_, r)| r.is_err()).collect();
    if output::machine() {
        print_json(&json!({
            "deleted": results.iter().filter(|(_, r)| r.is_ok()).map(|(id, _)| id).collect::<Vec<_>>(),
            "failed": failed.iter().map(|(id, r)| json!({
                "id": id,
                "error": r.as_ref().err().map(CliError::to_json),
            })).collect::<Vec<_>>(),
        }));
    } else {
        for (id, r) in &results {
            match r {
                Ok(()) => print_out(&format!("deleted {id}\n")),
                // One id: its error is the command's error, printed once by main.
                Err(e) if ids.len() > 1 => eprintln!("cfimg: could not delete {id}: {e}"),
                Err(_) => {}
            }
        }
    }
    match failed.as_slice() {
        [] => Ok(()),
        [(id, Err(e))] if ids.len() == 1 => Err(CliError {
            json_printed: json,
            ..e.clone().context(format!("could not delete {id}"))
        }),
        _ => Err(CliError {
            json_printed: json,
            ..CliError::new(format!(
                "{} of {} deletions failed",
                failed.len(),
                ids.len()
            ))
        }),
    }
}

/// A file name for a downloaded image: its own file name, else its id.
fn default_name(filename: Option<&str>, id: &str, content_type: Option<&str>) -> String {
    if let Some(name) = filename
        .and_then(|f| Path::new(f).file_name())
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
    {
        return name.to_string();
    }
    let base: String = id
        .chars()
        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
        .collect();
    let ext = match content_type.unwrap_or("") {
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "image/webp" => ".webp",
        "image/svg+xml" => ".svg",
        "image/avif" => ".avif",
        "image/heic" => ".heic",
        _ => "",
    };
    format!("{base}{ext}")
}

/// Refuses an output path whose folder does not exist (or is not a folder),
/// before anything is downloaded.
fn check_parent(path: &Path) -> CliResult<()> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(CliError::usage(format!(
            "cannot save to {}: {} is not a folder",
            path.display(),
            parent.display()
        ))),
        Err(_) => Err(CliError::usage(format!(
            "cannot save to {}: the folder {} does not exist",
            path.display(),
            parent.display()
        ))),
    }
}

/// `cfimg download ID [-o PATH]`.
pub async fn download(client: &Client, id: &str, out: Option<&Path>, force: bool) -> CliResult<()> {
    let started = Instant::now();
    if let Some(p) = out.filter(|p| *p != Path::new("-") && !p.is_dir()) {
        check_parent(p)?;
    }
    let blob = client.v1().blobs().get(id).send().await?;
    let content_type = blob.content_type().map(str::to_string);
    if out == Some(Path::new("-")) {
        let mut stdout = tokio::io::stdout();
        let mut stream = Box::pin(blob.into_stream());
        while let Some(chunk) = stream.next().await {
            stdout.write_all(&chunk?).await?;
        }
        stdout.flush().await?;
        return Ok(());
    }
    let path: PathBuf = match out {
        Some(p) if !p.is_dir() => p.to_path_buf(),
        dir => {
            let image = client.v1().get(id).send().await.ok();
            let name = default_name(
                image.as_ref().and_then(|i| i.filename.as_deref()),
                id,
                content_type.as_deref(),
            );
            dir.map(|d| d.join(&name))
                .unwrap_or_else(|| PathBuf::from(name))
        }
    };
    if path.exists() && !force {
        return Err(CliError::usage(format!(
            "{} exists; pass --force to overwrite it",
            path.display()
        )));
    }
    // Written to a temporary file next to `path`, renamed into place when complete.
    let written = blob.save_to(&path).await?;
    if output::machine() {
        print_json(&json!({
            "id": id, "path": path.display().to_string(), "bytes": written,
            "content_type": content_type,
        }));
    } else {
        print_out(&format!(
            "saved {id} to {} ({}, {}) in {}\n",
            path.display(),
            human_bytes(written),
            content_type.as_deref().unwrap_or("unknown type"),
            output::human_duration(started.elapsed())
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Variants

/// Options of `variants create` / `variants edit`.
#[derive(Debug, Clone, Default)]
pub struct VariantOptions {
    /// Maximum width in pixels.
    pub width: Option<u32>,
    /// Maximum height in pixels.
    pub height: Option<u32>,
    /// `scale-down`, `contain`, `cover`, `crop` or `pad`.
    pub fit: Option<String>,
    /// `keep`, `copyright` or `none`.
    pub metadata: Option<String>,
    /// Serve this variant without signatures even for images that require them.
    pub never_require_signed_urls: Option<bool>,
}

fn variant_json(v: &ImageVariantDefinition) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn variant_cells(v: &ImageVariantDefinition) -> [String; 6] {
    [
        v.id.clone(),
        v.options.fit.as_str().to_string(),
        v.options.width.to_string(),
        v.options.height.to_string(),
        v.options.metadata.as_str().to_string(),
        if v.never_require_signed_urls == Some(true) {
            "yes".into()
        } else {
            "no".into()
        },
    ]
}

const VARIANT_COLUMNS: [&str; 6] = ["NAME", "FIT", "WIDTH", "HEIGHT", "METADATA", "NEVER_SIGNED"];

fn print_variant(v: &ImageVariantDefinition) {
    if output::machine() {
        print_json(&variant_json(v));
    } else {
        let mut t = Table::new(VARIANT_COLUMNS);
        t.row(variant_cells(v));
        print_out(&t.render());
    }
}

/// `cfimg variants list`.
pub async fn variants_list(client: &Client) -> CliResult<()> {
    let list = client.v1().variants().list().send().await?;
    let variants: Vec<ImageVariantDefinition> = list
        .variants
        .map(|m| m.0.into_values().collect())
        .unwrap_or_default();
    if output::machine() {
        output::print_json_items(variants.iter().map(variant_json).collect());
    } else {
        let mut t = Table::new(VARIANT_COLUMNS);
        for v in &variants {
            t.row(variant_cells(v));
        }
        print_out(&t.render());
    }
    Ok(())
}

/// `cfimg variants get NAME`.
pub async fn variants_get(client: &Client, name: &str) -> CliResult<()> {
    let v = client.v1().variants().get(name).send().await?;
    let v = v
        .variant
        .ok_or_else(|| CliError::new(format!("the API returned no variant for {name:?}")))?;
    print_variant(&v);
    Ok(())
}

fn check_dimension(name: &str, value: u32) -> CliResult<u32> {
    if value == 0 {
        return Err(CliError::usage(format!("--{name} must be at least 1")));
    }
    Ok(value)
}

/// `cfimg variants create NAME --width W --height H`.
pub async fn variants_create(client: &Client, name: &str, o: VariantOptions) -> CliResult<()> {
    let (Some(width), Some(height)) = (o.width, o.height) else {
        return Err(CliError::usage("a new variant needs --width and --height"));
    };
    let options = ImageVariantOptions {
        fit: ImageVariantFit::from(o.fit.as_deref().unwrap_or("scale-down")),
        metadata: ImageVariantSchemasMetadata::from(o.metadata.as_deref().unwrap_or("none")),
        width: check_dimension("width", width)?,
        height: check_dimension("height", height)?,
    };
    let v = client
        .v1()
        .variants()
        .create(name, options)
        .never_require_signed_urls(o.never_require_signed_urls.unwrap_or(false))
        .send()
        .await?;
    let v = v
        .variant
        .ok_or_else(|| CliError::new("the API returned no variant"))?;
    print_variant(&v);
    Ok(())
}

/// `cfimg variants edit NAME [...]`: changes only what is given.
pub async fn variants_edit(client: &Client, name: &str, o: VariantOptions) -> CliResult<()> {
    let current = client
        .v1()
        .variants()
        .get(name)
        .send()
        .await?
        .variant
        .ok_or_else(|| CliError::new(format!("the API returned no variant for {name:?}")))?;
    let mut options = current.options;
    if let Some(w) = o.width {
        options.width = check_dimension("width", w)?;
    }
    if let Some(h) = o.height {
        options.height = check_dimension("height", h)?;
    }
    if let Some(f) = o.fit.as_deref() {
        options.fit = ImageVariantFit::from(f);
    }
    if let Some(m) = o.metadata.as_deref() {
        options.metadata = ImageVariantSchemasMetadata::from(m);
    }
    let mut request = client.v1().variants().edit(name, options);
    // A PATCH carries only what was asked for.
    if let Some(never) = o.never_require_signed_urls {
        request = request.never_require_signed_urls(never);
    }
    let v = request.send().await?;
    let v = v
        .variant
        .ok_or_else(|| CliError::new("the API returned no variant"))?;
    print_variant(&v);
    Ok(())
}

/// `cfimg variants delete NAME`: asks first, as `delete` does.
pub async fn variants_delete(client: &Client, name: &str, yes: bool) -> CliResult<()> {
    confirm_delete("variant(s)", &[name.to_string()], yes)?;
    client.v1().variants().delete(name).send().await?;
    if output::machine() {
        print_json(&json!({"deleted": name}));
    } else {
        print_out(&format!("deleted variant {name}\n"));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Keys

fn mask(value: &str) -> String {
    let shown: String = value.chars().take(4).collect();
    format!("{shown}…")
}

fn print_keys(keys: &cloudflare_images::types::ImageKeysResponse, reveal: bool) {
    let shown = |v: &Option<String>| {
        let v = v.clone().unwrap_or_default();
        if reveal {
            v
        } else {
            mask(&v)
        }
    };
    if output::machine() {
        output::print_json_items(
            keys.keys
                .iter()
                .map(|k| json!({"name": k.name, "value": shown(&k.value)}))
                .collect(),
        );
    } else {
        let mut t = Table::new(["NAME", "VALUE"]);
        for k in &keys.keys {
            t.row([k.name.clone().unwrap_or_default(), shown(&k.value)]);
        }
        print_out(&t.render());
    }
}

/// `cfimg keys list`.
pub async fn keys_list(client: &Client, reveal: bool) -> CliResult<()> {
    let keys = client.v1().keys().list().send().await?;
    print_keys(&keys, reveal);
    Ok(())
}

/// `cfimg keys create NAME`.
pub async fn keys_create(client: &Client, name: &str, reveal: bool) -> CliResult<()> {
    let keys = client.v1().keys().update(name).send().await?;
    print_keys(&keys, reveal);
    Ok(())
}

/// `cfimg keys delete NAME`: prints the keys left, masked.
pub async fn keys_delete(client: &Client, name: &str) -> CliResult<()> {
    let keys = client.v1().keys().delete(name).send().await?;
    print_keys(&keys, false);
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Stats

/// `cfimg stats`.
/// `cfimg config`: sets the account's flexible-variants switch and prints the setting
/// the API answers with.
pub async fn config(client: &Client, flexible_variants: bool) -> CliResult<()> {
    let config = client
        .v1()
        .config()
        .edit()
        .flexible_variants(flexible_variants)
        .send()
        .await?;
    let now = config.flexible_variants.unwrap_or(flexible_variants);
    if output::machine() {
        print_json(&json!({ "flexible_variants": now }));
    } else {
        print_out(&format!(
            "flexible variants: {}\n",
            if now { "on" } else { "off" }
        ));
    }
    Ok(())
}

pub async fn stats(client: &Client) -> CliResult<()> {
    let stats = client.v1().stats().get().send().await?;
    let count = stats.count.unwrap_or_default();
    // The API sends counts as JSON numbers that decode as floats: print integers.
    let int = |v: Option<f64>| -> Value {
        match v {
            Some(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 2f64.powi(63) => {
                json!(v as u64)
            }
            Some(v) => json!(v),
            None => Value::Null,
        }
    };
    if output::machine() {
        print_json(&json!({"current": int(count.current), "allowed": int(count.allowed)}));
    } else {
        let n = |v: Option<f64>| match int(v) {
            Value::Null => "?".to_string(),
            v => v.to_string(),
        };
        print_out(&format!(
            "images: {} of {} allowed\n",
            n(count.current),
            n(count.allowed)
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Direct uploads

/// Options of `cfimg direct-upload`.
#[derive(Debug, Clone, Default)]
pub struct DirectOptions {
    /// A custom id for the future image.
    pub id: Option<String>,
    /// The creator recorded on the image.
    pub creator: Option<String>,
    /// Metadata of the image.
    pub metadata: Option<Map<String, Value>>,
    /// How long the URL stays valid.
    pub expires_in: Option<Duration>,
    /// Whether the image will require signed URLs.
    pub require_signed_urls: bool,
    /// Upload this file to the URL right away (no credentials), then wait for it.
    pub file: Option<PathBuf>,
}

/// Creates a one-time upload URL; returns `(image id, upload URL)`.
pub async fn create_direct_upload(
    client: &Client,
    o: &DirectOptions,
) -> CliResult<(String, String)> {
    let mut req = client.v2().direct_uploads().create();
    if let Some(id) = &o.id {
        req = req.id(id.clone());
    }
    if let Some(c) = &o.creator {
        req = req.creator(c.clone());
    }
    if let Some(m) = &o.metadata {
        req = req.metadata(m.clone());
    }
    if let Some(d) = o.expires_in {
        // The API measures its 2-minute minimum from when the request arrives:
        // a few seconds of slack keep `--expires-in 2m` inside it.
        let d = d.max(crate::cmd::sign::DIRECT_MIN + Duration::from_secs(5));
        let d = chrono::Duration::from_std(d)
            .map_err(|_| CliError::usage("--expires-in is too long"))?;
        req = req.expiry(chrono::Utc::now() + d);
    }
    if o.require_signed_urls {
        req = req.require_signed_urls(true);
    }
    let result = req.send().await?;
    match (result.id, result.upload_url) {
        (Some(id), Some(url)) => Ok((id, url)),
        _ => Err(CliError::new(
            "the API returned no id or uploadURL for the direct upload",
        )),
    }
}

/// A plain HTTP client without credentials (delivery URLs in the demo), shared so
/// its connections are reused. Built from the SDK's TLS setup: with the SDK's
/// default `rustls` feature, reqwest has no crypto provider of its own.
pub fn plain_http() -> CliResult<reqwest::Client> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client.clone());
    }
    let client = cloudflare_images::http_client_builder()?
        .build()
        .map_err(|e| CliError::new(format!("cannot build an HTTP client: {e}")))?;
    Ok(CLIENT.get_or_init(|| client).clone())
}

/// Uploads a file to a one-time URL as a browser would (the SDK's
/// [`UploadToUrl`]: multipart, no credentials), then waits until the image is
/// no longer a draft.
pub async fn creator_upload_and_wait(
    client: &Client,
    id: &str,
    url: &str,
    upload: impl FnOnce(UploadToUrl) -> UploadToUrl,
    timeout: Duration,
) -> CliResult<Image> {
    upload(UploadToUrl::new(url).http_client(plain_http()?))
        .send()
        .await
        .map_err(|e| CliError::from(e).context("uploading to the one-time URL"))?;
    Ok(wait_for_upload(client, id)
        .timeout(timeout)
        .poll_interval(Duration::from_millis(100))
        .send()
        .await?)
}

/// `cfimg direct-upload`.
pub async fn direct_upload(client: &Client, o: DirectOptions, local: bool) -> CliResult<()> {
    let (id, url) = create_direct_upload(client, &o).await?;
    let Some(path) = &o.file else {
        if output::machine() {
            print_json(&json!({"id": id, "uploadURL": url}));
        } else {
            print_out(&format!("{url}\n"));
            output::info(&format!(
                "image id {id}; POST one multipart `file` field to the URL, no credentials needed"
            ));
            if local {
                output::note("the local emulator stops when cfimg exits; use `cfimg serve` to keep the URL reachable");
            }
        }
        return Ok(());
    };
    let image =
        creator_upload_and_wait(client, &id, &url, |u| u.path(path), Duration::from_secs(60))
            .await?;
    if output::machine() {
        print_json(&json!({"id": id, "uploadURL": url, "image": output::image_json(&image)}));
    } else {
        print_out(&format!("{url}\n"));
        output::info(&format!(
            "uploaded {} to the one-time URL; image {id} is ready",
            path.display()
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Signing

/// `cfimg sign ID`.
pub async fn sign(
    client: &Client,
    id: &str,
    variant: &str,
    expires_in: Duration,
    key: Option<&str>,
    local: bool,
) -> CliResult<()> {
    let (url, exp) = crate::cmd::sign::signed_url(client, id, variant, expires_in, key).await?;
    if output::machine() {
        print_json(&json!({"url": url, "exp": exp}));
    } else {
        print_out(&format!("{url}\n"));
        if local {
            output::note(output::LOCAL_URL_NOTE);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names() {
        assert_eq!(default_name(Some("cat.png"), "x", None), "cat.png");
        assert_eq!(default_name(Some("../../etc/passwd"), "x", None), "passwd");
        assert_eq!(
            default_name(Some(".."), "a/b", Some("image/png")),
            "a_b.png"
        );
        assert_eq!(default_name(None, "id", Some("image/jpeg")), "id.jpg");
        assert_eq!(default_name(None, "id", None), "id");
    }

    #[test]
    fn masking() {
        assert_eq!(mask("abcdef123"), "abcd…");
        assert_eq!(mask(""), "…");
    }
}
