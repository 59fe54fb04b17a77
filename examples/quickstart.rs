//! Quick start: real calls through the SDK against a local Images emulator started
//! in this process, so it runs on a fresh machine with no Cloudflare account.
//!
//! Run: `cargo run --example quickstart`
//! Against the real API, build the client with `Client::from_env()?` instead.

use cloudflare_images::open_enums::{ImageVariantFit, ImageVariantSchemasMetadata};
use cloudflare_images::types::ImageVariantOptions;
use cloudflare_images::{Client, ErrorKind};
use cloudflare_images_emulator::fixtures::PIXEL_PNG;
use cloudflare_images_emulator::Emulator;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::start().await?;
    println!("local Images emulator at {}", emulator.base_url());

    let client = Client::builder()
        .api_token("local-token")
        .account_id(emulator.account_id())
        .base_url(emulator.base_url())
        .build()?;

    let metadata = json!({"sku": "CAFE-01", "collection": "2024"});
    let uploaded = client
        .v1()
        .create()
        .file(PIXEL_PNG, "cafe.png")
        .id("products/2024/café-01")
        .creator("user-42")
        .metadata(metadata.as_object().cloned().unwrap_or_default())
        .send()
        .await?;
    println!(
        "v1().create()          uploaded {:?} ({})",
        uploaded.id,
        uploaded.filename.as_deref().unwrap_or("-")
    );

    let second = client
        .v1()
        .create()
        .file(PIXEL_PNG, "second.png")
        .send()
        .await?;
    println!(
        "v1().create()          uploaded {:?} with a generated id",
        second.id
    );

    let image = client.v1().get("products/2024/café-01").send().await?;
    println!(
        "v1().get()             meta = {}",
        serde_json::to_string(&image.meta)?
    );

    let edited = client
        .v1()
        .edit("products/2024/café-01")
        .metadata(
            json!({"sku": "CAFE-02"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )
        .send()
        .await?;
    println!(
        "v1().edit()            meta now {}",
        serde_json::to_string(&edited.meta)?
    );

    let page = client.v2().list().per_page(10u32).send().await?;
    let ids: Vec<_> = page.images.iter().filter_map(|i| i.id.as_deref()).collect();
    println!(
        "v2().list()            {} image(s): {ids:?}, next token {:?}",
        ids.len(),
        page.continuation_token
    );

    let blob = client
        .v1()
        .blobs()
        .get("products/2024/café-01")
        .send()
        .await?;
    let content_type = blob.content_type().map(str::to_string);
    let bytes = blob.bytes().await?;
    println!(
        "v1().blobs().get()     {} bytes of {}",
        bytes.len(),
        content_type.as_deref().unwrap_or("?")
    );

    let options = ImageVariantOptions {
        fit: ImageVariantFit::Cover,
        metadata: ImageVariantSchemasMetadata::None,
        width: 400,
        height: 300,
    };
    let variant = client
        .v1()
        .variants()
        .create("thumb", options)
        .send()
        .await?;
    println!(
        "v1().variants().create() {:?}",
        variant
            .variant
            .map(|v| (v.id, v.options.width, v.options.height))
    );
    let variants = client.v1().variants().list().send().await?;
    let names: Vec<_> = variants
        .variants
        .map(|m| m.0.into_keys().collect())
        .unwrap_or_default();
    println!("v1().variants().list()   {names:?}");

    let keys = client.v1().keys().list().send().await?;
    println!("v1().keys().list()     {} signing key(s)", keys.keys.len());

    let direct = client
        .v2()
        .direct_uploads()
        .create()
        .creator("user-42")
        .send()
        .await?;
    println!(
        "v2().direct_uploads()  one-time URL {}",
        direct.upload_url.as_deref().unwrap_or("-")
    );

    let stats = client.v1().stats().get().send().await?;
    let count = stats.count.unwrap_or_default();
    println!(
        "v1().stats().get()     {:?} of {:?} images",
        count.current, count.allowed
    );

    client.v1().delete("products/2024/café-01").send().await?;
    match client.v1().get("products/2024/café-01").send().await {
        Err(e) if e.kind() == ErrorKind::Api && e.has_code(5404) => {
            println!("v1().delete()          gone: {e}")
        }
        other => return Err(format!("expected a 5404 after delete, got {other:?}").into()),
    }
    Ok(())
}
