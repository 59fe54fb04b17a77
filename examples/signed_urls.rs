//! Delivery URLs and signed URLs, checked against a local Images emulator started
//! in this process: no Cloudflare account or credentials needed.
//!
//! Run: `cargo run --example signed_urls`
//!
//! Against Cloudflare, build the client with `Client::from_env()?`, use your
//! account hash (Images > Overview in the dashboard) and drop `with_base_url`:
//! URLs then point at `https://imagedelivery.net`.

use std::time::Duration;

use cloudflare_images::delivery::{
    verify_signed_url, DeliveryUrl, Fit, FlexibleOptions, SigningKey,
};
use cloudflare_images::Client;
use cloudflare_images_emulator::Emulator;

/// A valid 1x1 PNG.
const PIXEL_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::start().await?;
    println!("local Images emulator at {}", emulator.origin());

    let client = Client::builder()
        .api_token("local-token")
        .account_id(emulator.account_id())
        .base_url(emulator.base_url())
        .build()?;

    // A private image: only signed URLs may fetch it.
    let image = client
        .v1()
        .create()
        .file(PIXEL_PNG, "private.png")
        .require_signed_urls(true)
        .send()
        .await?;
    let id = image.id.ok_or("the upload returned no id")?;
    println!("uploaded {id} with requireSignedURLs");

    // What the URLs look like on Cloudflare.
    let public = DeliveryUrl::new(emulator.account_hash(), id.as_str(), "public")?;
    println!("delivery URL:        {public}");
    let thumb = DeliveryUrl::new(
        emulator.account_hash(),
        id.as_str(),
        FlexibleOptions::new()
            .width(400)
            .height(300)
            .fit(Fit::Cover),
    )?
    .on_zone("images.example.com")?;
    println!("flexible, on a zone: {thumb}");

    // The same image on the emulator, signed with the account's first key
    // (fetched through the keys API) for five minutes.
    let key = SigningKey::fetch(&client, None).await?;
    println!("signing key:         {key:?}");
    let local = public.with_base_url(&emulator.origin())?;
    let signed = local.sign_for(&key, Duration::from_secs(300))?;
    println!("signed URL:          {signed}");
    verify_signed_url(&signed, std::slice::from_ref(&key), chrono::Utc::now())?;
    println!("verify_signed_url:   ok");

    let http = reqwest::Client::new();
    let resp = http.get(&signed).send().await?;
    let status = resp.status();
    let bytes = resp.bytes().await?;
    println!("GET signed URL:      {status}, {} bytes", bytes.len());
    // The emulator renders the variant (a new PNG of the same pixel), so the bytes are
    // not the upload's: check that an image came back.
    if status != reqwest::StatusCode::OK || !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err("the emulator did not serve the signed URL".into());
    }

    let resp = http.get(local.to_string()).send().await?;
    let status = resp.status();
    println!(
        "GET unsigned URL:    {status}, {:?}",
        resp.text().await.unwrap_or_default()
    );
    if status != reqwest::StatusCode::FORBIDDEN {
        return Err("the emulator served an unsigned URL of a private image".into());
    }
    Ok(())
}
