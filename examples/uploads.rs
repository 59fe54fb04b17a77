//! Uploads: from a path with progress, many at once with one bad file, a direct
//! creator upload, and a blob saved to a file. Runs against a local Images
//! emulator started in this process: no Cloudflare account, no credentials.
//!
//! Run: `cargo run --example uploads`

use std::time::Duration;

use cloudflare_images::direct::{image_status, wait_for_upload, UploadToUrl};
use cloudflare_images::Client;
use cloudflare_images_emulator::fixtures::PIXEL_PNG;
use cloudflare_images_emulator::Emulator;
use serde::Serialize;

/// Metadata as a plain struct: anything `Serialize` to a JSON object works.
#[derive(Serialize)]
struct Product {
    sku: &'static str,
    collection: u32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::start().await?;
    let client = Client::builder()
        .api_token("local-token")
        .account_id(emulator.account_id())
        .base_url(emulator.base_url())
        .build()?;
    let dir = tempfile::tempdir()?;

    // A few images on disk: a 1x1 PNG, a 4 MiB PNG (valid header, filler
    // after the image end; enough to watch progress), and a text file.
    let small = dir.path().join("pixel.png");
    std::fs::write(&small, PIXEL_PNG)?;
    let large = dir.path().join("large.png");
    let mut data = PIXEL_PNG.to_vec();
    data.resize(4 * 1024 * 1024, 0);
    std::fs::write(&large, &data)?;
    let bad = dir.path().join("notes.png");
    std::fs::write(&bad, "not an image")?;

    // 1. From a path, streamed from disk, with progress.
    let image = client
        .v1()
        .create()
        .path(&large)
        .id("examples/large")
        .metadata(Product {
            sku: "CAFE-01",
            collection: 2024,
        })
        .on_progress(|sent, total| {
            if sent == total || sent % (1024 * 1024) < 65_536 {
                println!("  progress {:>7} / {total} bytes", sent);
            }
        })
        .send()
        .await?;
    println!("path upload            {:?}", image.id);

    // 2. Many at once: three good sources and one bad file, two at a time.
    let report = client
        .v1()
        .create_many()
        .concurrency(2)
        .add_path(&small)
        .add_path(&bad)
        .add_bytes(PIXEL_PNG, "from-memory.png")
        .add_upload(
            client
                .v1()
                .create()
                .path(&small)
                .id("examples/batch-custom"),
        )
        .send()
        .await;
    for item in report.items() {
        match &item.result {
            Ok(image) => println!(
                "batch #{} ok            {:?} ({})",
                item.index, image.id, item.source
            ),
            Err(e) => println!(
                "batch #{} failed        {} ({})",
                item.index, e, item.source
            ),
        }
    }
    println!(
        "batch                  {} succeeded, {} failed",
        report.succeeded().count(),
        report.failed().count()
    );

    // 3. Direct creator upload: the server creates a one-time URL, the "browser"
    //    uploads to it without credentials, the server waits for the image.
    let created = client
        .v2()
        .direct_uploads()
        .create()
        .id("examples/avatar")
        .send()
        .await?;
    let id = created.id.unwrap_or_default();
    let upload_url = created.upload_url.unwrap_or_default();
    println!(
        "direct upload URL      draft: {}",
        image_status(&client, &id).await?.draft
    );
    UploadToUrl::new(upload_url).path(&small).send().await?;
    let image = wait_for_upload(&client, &id)
        .timeout(Duration::from_secs(10))
        .poll_interval(Duration::from_millis(100))
        .send()
        .await?;
    println!(
        "direct upload          {:?} draft: {}",
        image.id,
        image_status(&client, &id).await?.draft
    );

    // 4. Save a blob to a file (temporary file + rename: never a partial file).
    let target = dir.path().join("downloaded.png");
    let blob = client.v1().blobs().get("examples/large").send().await?;
    let written = blob.save_to(&target).await?;
    println!(
        "blob saved             {written} bytes to {}, identical: {}",
        target.display(),
        std::fs::read(&target)? == data
    );
    Ok(())
}
