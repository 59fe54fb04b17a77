//! `cfimg direct-upload`: one-time upload URLs for browsers and devices, and
//! the helpers the demo shares to use one.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use cloudflare_images::direct::{wait_for_upload, UploadToUrl};
use cloudflare_images::types::Image;
use cloudflare_images::Client;
use serde_json::json;

use super::sign::{parse_direct_expiry, DIRECT_MIN};
use super::ImageFields;
use crate::backend::Backend;
use crate::error::{CliError, CliResult};
use crate::output::{self, print_json, print_out};

/// The help shown after `cfimg direct-upload`'s options.
pub const AFTER_HELP: &str = "\
Examples:
  cfimg direct-upload --creator user-42 --expires-in 30m
  cfimg direct-upload --expires-in '1h 30m'
  cfimg direct-upload --file cat.png          # also upload to it and wait until ready";

/// Arguments of `cfimg direct-upload`.
#[derive(Debug, Clone, Default, Args)]
pub struct DirectUploadArgs {
    #[command(flatten)]
    pub fields: ImageFields,
    /// How long the URL works, 2m..=6h: 30m, 1h 30m, 90min (Cloudflare's default: 30m).
    #[arg(long, value_parser = parse_direct_expiry, value_name = "DURATION")]
    pub expires_in: Option<Duration>,
    /// Upload this file to the URL right away (without credentials) and wait until ready.
    #[arg(long)]
    pub file: Option<PathBuf>,
}

/// Creates a one-time upload URL; returns `(image id, upload URL)`.
pub async fn create(client: &Client, o: &DirectUploadArgs) -> CliResult<(String, String)> {
    let mut req = client.v2().direct_uploads().create();
    if let Some(id) = &o.fields.id {
        req = req.id(id.clone());
    }
    if let Some(c) = &o.fields.creator {
        req = req.creator(c.clone());
    }
    if let Some(m) = &o.fields.metadata {
        req = req.metadata(m.clone());
    }
    if let Some(d) = o.expires_in {
        // The API measures its 2-minute minimum from when the request arrives:
        // a few seconds of slack keep `--expires-in 2m` inside it.
        let d = d.max(DIRECT_MIN + Duration::from_secs(5));
        let d = chrono::Duration::from_std(d)
            .map_err(|_| CliError::usage("--expires-in is too long"))?;
        req = req.expiry(chrono::Utc::now() + d);
    }
    if o.fields.require_signed_urls {
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

/// Runs `cfimg direct-upload`.
pub async fn run(args: DirectUploadArgs, ctx: &Backend) -> CliResult<()> {
    let client = &ctx.client;
    let (id, url) = create(client, &args).await?;
    let Some(path) = &args.file else {
        if output::machine() {
            print_json(&json!({"id": id, "uploadURL": url}));
        } else {
            print_out(&format!("{url}\n"));
            output::info(&format!(
                "image id {id}; POST one multipart `file` field to the URL, no credentials needed"
            ));
            if ctx.local() {
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
