//! `cfimg demo`: a tour of the API on a fresh emulator embedded in this process,
//! with a throw-away data directory (never the user's).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use cloudflare_images::direct::{image_status, UploadToUrl};
use cloudflare_images::open_enums::{ImageVariantFit, ImageVariantSchemasMetadata};
use cloudflare_images::pagination::MetadataFilter;
use cloudflare_images::types::{Image, ImageVariantOptions, V2ListSortOrder};
use cloudflare_images::Client;
use cloudflare_images_emulator::{Config, Emulator};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};

mod imagegen;

use crate::backend;

/// `println!` that ignores a closed stdout (`cfimg demo | head`).
macro_rules! outln {
    ($($arg:tt)*) => {
        crate::output::print_out(&format!("{}\n", format_args!($($arg)*)))
    };
}
use super::direct_upload::{self, DirectUploadArgs};
use super::list::{self, ListArgs};
use super::upload;
use super::ImageFields;
use crate::error::{CliError, CliResult};
use crate::output::{self, human_bytes, human_duration, print_json, Table};

const STEPS: usize = 9;

/// Prints the tour as it goes (or collects it for `--json`).
struct Tour {
    json: bool,
    step: usize,
    step_started: Instant,
    report: Vec<Value>,
}

impl Tour {
    fn step(&mut self, title: &str) {
        self.finish_step();
        self.step += 1;
        self.step_started = Instant::now();
        if !self.json {
            outln!("\n[{}/{STEPS}] {title}", self.step);
        }
        self.report
            .push(json!({"step": self.step, "title": title, "details": []}));
    }

    fn finish_step(&mut self) {
        if self.step > 0 {
            let elapsed = self.step_started.elapsed();
            if !self.json {
                outln!("      ({})", human_duration(elapsed));
            }
            if let Some(last) = self.report.last_mut() {
                last["ms"] = json!(elapsed.as_secs_f64() * 1000.0);
            }
        }
    }

    fn say(&mut self, line: impl AsRef<str>) {
        let line = line.as_ref();
        if !self.json {
            for l in line.lines() {
                outln!("      {l}");
            }
        }
        if let Some(details) = self
            .report
            .last_mut()
            .and_then(|s| s.get_mut("details"))
            .and_then(Value::as_array_mut)
        {
            details.extend(
                line.lines()
                    .map(|l| Value::String(l.trim_end().to_string())),
            );
        }
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn id_of(image: &Image) -> String {
    image.id.clone().unwrap_or_default()
}

/// A throw-away directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> CliResult<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("cfimg-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
        Ok(TempDir(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Arguments of `cfimg demo` (none: its output follows `--json`).
#[derive(Debug, Args)]
pub struct DemoArgs {}

/// Runs `cfimg demo`.
pub async fn run(_args: DemoArgs) -> CliResult<()> {
    let json = output::machine();
    let started = Instant::now();
    let tmp = TempDir::new()?;
    let data_dir = tmp.path().join("emulator-data");
    let emulator = Emulator::start_with(Config {
        data_dir: Some(data_dir.clone()),
        ..Config::default()
    })
    .await
    .map_err(|e| CliError::new(format!("cannot start the emulator: {e}")))?;
    let client = backend::local_client(&emulator)?;
    if !json {
        outln!("cfimg demo: a tour of Cloudflare Images on a fresh local emulator, through the Rust SDK");
        outln!("  API base URL: {}", emulator.base_url());
        outln!(
            "  delivery:     {}/{}/<id>/<variant>",
            emulator.origin(),
            emulator.account_hash()
        );
        outln!(
            "  data:         {} (removed at the end)",
            data_dir.display()
        );
    }
    let mut tour = Tour {
        json,
        step: 0,
        step_started: Instant::now(),
        report: Vec::new(),
    };
    let result = tour_steps(&mut tour, &client, tmp.path(), &emulator.origin()).await;
    tour.finish_step();
    emulator.shutdown().await;
    drop(tmp);
    let elapsed = started.elapsed();
    match result {
        Ok(()) => {
            if json {
                print_json(
                    &json!({"ok": true, "ms": elapsed.as_secs_f64() * 1000.0, "steps": tour.report}),
                );
            } else {
                outln!(
                    "\ndemo finished in {}: every step above was a real HTTP call through the SDK.",
                    human_duration(elapsed)
                );
                outln!("Next: `cfimg serve` for a long-running emulator, or set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID to use your account.");
            }
            Ok(())
        }
        Err(e) => Err(e.context(format!("demo step {} failed", tour.step))),
    }
}

/// The side of the demo's `thumb` variant (cover, square), in pixels.
const THUMB: u32 = 48;

async fn tour_steps(tour: &mut Tour, client: &Client, dir: &Path, origin: &str) -> CliResult<()> {
    // 1. Images.
    tour.step("Generate images in-process (PNG, JPEG and WebP, with the image crate)");
    let images_dir = dir.join("images");
    std::fs::create_dir_all(&images_dir)?;
    let files = [
        (
            "gradient.png",
            "96x64 PNG, diagonal gradient",
            imagegen::demo_png(),
        ),
        (
            "radial.jpg",
            "48x32 baseline JPEG, radial gradient",
            imagegen::demo_jpeg(),
        ),
        (
            "checker.webp",
            "32x32 lossless WebP, checkerboard",
            imagegen::demo_webp(),
        ),
    ];
    for (name, what, data) in &files {
        std::fs::write(images_dir.join(name), data)?;
        tour.say(format!(
            "{name:<18} {:>9}  {what}",
            human_bytes(data.len() as u64)
        ));
    }
    let swatches = 9;
    let mut swatch_bytes = 0;
    for i in 0..swatches {
        let png = imagegen::swatch_png(i, swatches);
        swatch_bytes += png.len();
        std::fs::write(images_dir.join(format!("swatch-{:02}.png", i + 1)), png)?;
    }
    tour.say(format!(
        "swatch-01..{swatches:02}.png  {:>9}  16x16 PNGs, one hue each",
        human_bytes(swatch_bytes as u64)
    ));

    // 2. Uploads.
    tour.step(
        "Upload: the directory as one batch (4 at a time), plus a custom id and a private image",
    );
    let fields = ImageFields {
        creator: Some("demo-user".into()),
        metadata: Some(object(json!({"status": "active", "source": "cfimg-demo"}))),
        ..ImageFields::default()
    };
    let expanded = crate::files::expand(&[images_dir.display().to_string()]);
    let batch_started = Instant::now();
    let outcomes = upload::upload_all(client, &expanded.inputs, &fields, 4, false).await;
    let batch_elapsed = batch_started.elapsed();
    let mut table = Table::new(["SOURCE", "ID", "SIZE", "METADATA"]);
    let mut uploaded = Vec::new();
    let mut batch_bytes = 0;
    for o in outcomes {
        let image = o.result.map_err(|e| e.context(&o.source))?;
        let name = Path::new(&o.source)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        batch_bytes += o.bytes;
        if !name.starts_with("swatch-") {
            table.row([
                name,
                id_of(&image),
                human_bytes(o.bytes),
                output::metadata_text(&image),
            ]);
        }
        uploaded.push(image);
    }
    table.row([
        format!("swatch-01..{swatches:02}.png"),
        format!("({swatches} more)"),
        human_bytes(swatch_bytes as u64),
        "same as above".into(),
    ]);
    let png = &files[0].2;
    let archived = client
        .v1()
        .create()
        .file(png.clone(), "archived.png")
        .id("demo/archived-gradient")
        .metadata(json!({"status": "archived", "priority": 1}))
        .send()
        .await?;
    table.row([
        "archived.png".into(),
        id_of(&archived),
        human_bytes(png.len() as u64),
        output::metadata_text(&archived),
    ]);
    let jpeg = &files[1].2;
    let private = client
        .v1()
        .create()
        .file(jpeg.clone(), "private.jpg")
        .metadata(json!({"status": "private", "priority": 5}))
        .require_signed_urls(true)
        .send()
        .await?;
    table.row([
        "private.jpg (signed URLs)".into(),
        id_of(&private),
        human_bytes(jpeg.len() as u64),
        output::metadata_text(&private),
    ]);
    tour.say(table.render());
    tour.say(format!(
        "batch: {} files, {} in {}",
        uploaded.len(),
        human_bytes(batch_bytes),
        human_duration(batch_elapsed)
    ));

    // 3. Listing.
    tour.step("List: v2 (continuation tokens, metadata filters) and v1 (page numbers)");
    let mut v2 = client
        .v2()
        .list_all()
        .per_page(10)
        .sort_order(V2ListSortOrder::Asc)
        .pages();
    while let Some(page) = v2.try_next().await? {
        tour.say(format!(
            "v2 per_page=10, oldest first, page {}: {:>2} images ({} … {}), next token: {}",
            page.number + 1,
            page.images.len(),
            page.images.first().map(id_short).unwrap_or_default(),
            page.images.last().map(id_short).unwrap_or_default(),
            page.continuation_token
                .as_deref()
                .map(|t| format!("{}…", t.chars().take(12).collect::<String>()))
                .unwrap_or_else(|| "none (last page)".into())
        ));
    }
    // v1 listing is deprecated by Cloudflare; the demo shows both paginations.
    #[allow(deprecated)]
    let mut v1 = client.v1().list_all().per_page(10).pages();
    while let Some(page) = v1.try_next().await? {
        tour.say(format!(
            "v1 per_page=10, page {}: {:>2} images, next page: {}",
            page.page,
            page.images.len(),
            page.next_page
                .map(|p| p.to_string())
                .unwrap_or_else(|| "none".into())
        ));
    }
    for filter in [
        MetadataFilter::eq("status", "active"),
        MetadataFilter::in_("status", ["archived", "private"]),
        MetadataFilter::gte("priority", 2),
    ] {
        let (key, value) = filter.query_pair()?;
        let q = ListArgs {
            meta_filter: vec![filter],
            ..ListArgs::default()
        };
        let mut found = Vec::new();
        list::v2_pages(client, &q, |images| {
            found.extend(images.iter().map(id_short));
            Ok(())
        })
        .await?;
        let shown = if found.len() > 4 {
            format!("{}, …", found[..3].join(", "))
        } else {
            found.join(", ")
        };
        tour.say(format!(
            "v2 {:<44} {:>2} image(s): {shown}",
            format!("{key}={value}"),
            found.len()
        ));
    }

    // 4. Variant.
    tour.step("Create a variant");
    let created = client
        .v1()
        .variants()
        .create(
            "thumb",
            ImageVariantOptions {
                fit: ImageVariantFit::Cover,
                metadata: ImageVariantSchemasMetadata::None,
                width: THUMB,
                height: THUMB,
            },
        )
        .send()
        .await?;
    if let Some(v) = created.variant {
        tour.say(format!(
            "variant {:?}: {} {}x{}",
            v.id,
            v.options.fit.as_str(),
            v.options.width,
            v.options.height
        ));
    }
    let names: Vec<String> = super::variants::account_variants(client)
        .await?
        .into_keys()
        .collect();
    tour.say(format!("variants now: {}", names.join(", ")));

    // 5. Signed delivery.
    tour.step("Sign a delivery URL for the private image and fetch it over HTTP");
    let private_id = id_of(&private);
    let (signed, exp) = super::sign::signed_url(
        client,
        &private_id,
        "thumb",
        Duration::from_secs(3600),
        None,
    )
    .await?;
    tour.say(format!("signed (exp {exp}): {signed}"));
    let http = direct_upload::plain_http()?;
    let response = http
        .get(&signed)
        .send()
        .await
        .map_err(|e| CliError::new(format!("fetching the signed URL failed: {e}")))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?")
        .to_string();
    let body = response
        .bytes()
        .await
        .map_err(|e| CliError::new(format!("reading the signed URL failed: {e}")))?;
    // Delivery renders the variant: the answer is the upload resized by `thumb` (cover
    // 48x48), so it is decoded and measured rather than compared with the upload.
    let size = image::load_from_memory(&body)
        .map(|img| (img.width(), img.height()))
        .ok();
    if status != 200 || size != Some((THUMB, THUMB)) {
        return Err(CliError::new(format!(
            "the signed URL answered HTTP {status} with {} bytes ({}); expected the \
             {THUMB}x{THUMB} thumb variant of the upload",
            body.len(),
            size.map_or("not an image".to_string(), |(w, h)| format!("{w}x{h}")),
        )));
    }
    tour.say(format!(
        "GET signed   -> HTTP {status}, {} of {content_type}, {THUMB}x{THUMB} (the thumb variant)",
        human_bytes(body.len() as u64)
    ));
    let unsigned = signed.split('?').next().unwrap_or(&signed).to_string();
    let status = http
        .get(&unsigned)
        .send()
        .await
        .map_err(|e| CliError::new(format!("fetching the unsigned URL failed: {e}")))?
        .status()
        .as_u16();
    if status != 403 {
        return Err(CliError::new(format!(
            "the unsigned URL answered HTTP {status}; expected 403"
        )));
    }
    tour.say(format!(
        "GET unsigned -> HTTP {status} (refused: this image requires signed URLs)"
    ));
    let tampered = signed.replace("exp=", "exp=1");
    let status = http
        .get(&tampered)
        .send()
        .await
        .map_err(|e| CliError::new(format!("fetching the tampered URL failed: {e}")))?
        .status()
        .as_u16();
    tour.say(format!(
        "GET with exp changed after signing -> HTTP {status}"
    ));

    // 6. Direct creator upload.
    tour.step("Direct creator upload: one-time URL, upload without credentials, wait until ready");
    let direct = DirectUploadArgs {
        fields: ImageFields {
            creator: Some("user-42".into()),
            metadata: Some(object(json!({"status": "active", "via": "direct-upload"}))),
            ..ImageFields::default()
        },
        expires_in: Some(Duration::from_secs(30 * 60)),
        ..DirectUploadArgs::default()
    };
    let (direct_id, upload_url) = direct_upload::create(client, &direct).await?;
    tour.say(format!("one-time URL: {upload_url}"));
    let status = image_status(client, &direct_id).await?;
    tour.say(format!("image {direct_id}: draft = {}", status.draft));
    let webp = files[2].2.clone();
    let wait_started = Instant::now();
    let ready = direct_upload::creator_upload_and_wait(
        client,
        &direct_id,
        &upload_url,
        |u| u.file(webp.clone(), "from-browser.webp"),
        Duration::from_secs(10),
    )
    .await?;
    tour.say(format!(
        "POST file (no credentials), then polled until not a draft ({}): {} by {}, metadata {}",
        human_duration(wait_started.elapsed()),
        ready.filename.as_deref().unwrap_or("?"),
        ready.creator.as_deref().unwrap_or("?"),
        output::metadata_text(&ready)
    ));
    let again = UploadToUrl::new(upload_url.as_str())
        .http_client(direct_upload::plain_http()?)
        .file(webp, "again.webp")
        .send()
        .await;
    match again {
        Err(e) => tour.say(format!(
            "second POST to the same URL -> refused: {}",
            CliError::from(e)
        )),
        Ok(_) => return Err(CliError::new("a one-time URL accepted a second upload")),
    }
    uploaded.push(ready);

    // 7. Blob download.
    tour.step("Download an original (blob) and compare");
    let first = uploaded
        .iter()
        .find(|i| i.filename.as_deref() == Some("gradient.png"))
        .map(id_of)
        .ok_or_else(|| CliError::new("gradient.png was not uploaded"))?;
    let blob = client.v1().blobs().get(first.as_str()).send().await?;
    let blob_type = blob.content_type().unwrap_or("?").to_string();
    let bytes = blob.bytes().await?;
    let same = bytes.as_ref() == files[0].2.as_slice();
    tour.say(format!(
        "{first}: {} of {blob_type}, identical to gradient.png: {same}",
        human_bytes(bytes.len() as u64)
    ));

    // 8. Stats.
    tour.step("Usage statistics");
    let stats = client.v1().stats().get().send().await?;
    let count = stats.count.unwrap_or_default();
    tour.say(format!(
        "{} image(s) stored of {} allowed",
        count.current.unwrap_or(0.0),
        count.allowed.unwrap_or(0.0)
    ));

    // 9. Cleanup.
    tour.step("Clean up: delete every image and the variant");
    let mut ids = Vec::new();
    list::v2_pages(client, &ListArgs::default(), |images| {
        ids.extend(images.iter().map(id_of));
        Ok(())
    })
    .await?;
    let deletions: Vec<_> = futures_util::stream::iter(&ids)
        .map(|id| client.v1().delete(id.as_str()).send())
        .buffer_unordered(4)
        .collect()
        .await;
    for result in deletions {
        result?;
    }
    client.v1().variants().delete("thumb").send().await?;
    match client.v1().get(private_id.as_str()).send().await {
        Err(e) if e.has_code(5404) => tour.say(format!(
            "deleted {} image(s); a get now fails: {}",
            ids.len(),
            CliError::from(e)
        )),
        _ => return Err(CliError::new("a deleted image could still be read")),
    }
    let stats = client.v1().stats().get().send().await?;
    tour.say(format!(
        "{} image(s) left; delivery origin {origin} stops with the demo",
        stats.count.unwrap_or_default().current.unwrap_or(0.0)
    ));
    Ok(())
}

/// An id shortened for one-line listings (generated ids are 36 characters).
fn id_short(image: &Image) -> String {
    let id = id_of(image);
    if id.len() == 36 && id.chars().filter(|&c| c == '-').count() == 4 {
        format!("{}…", &id[..8])
    } else {
        id
    }
}
