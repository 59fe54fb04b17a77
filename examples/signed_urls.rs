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
    verify_signed_url, DeliveryUrl, Fit, SigningKey, TransformOptions,
};
use cloudflare_images::Client;
use cloudflare_images_emulator::fixtures::PIXEL_PNG;
use cloudflare_images_emulator::Emulator;

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
        TransformOptions::new()
            .width(400)
            .height(300)
            .fit(Fit::Cover),
    )?
    .on_zone("images.example.com")?;
    println!("flexible, on a zone: {thumb}");

    // The same image on the emulator, signed with the account's `default` key
    // (fetched through the keys API) for five minutes.
    let key = SigningKey::fetch(&client, None).await?;
    println!("signing key:         {key:?}");
    let local = public.with_base_url(&emulator.origin())?;
    let signed = local.sign_for(&key, Duration::from_secs(300))?;
    println!("signed URL:          {signed}");
    verify_signed_url(&signed, std::slice::from_ref(&key), chrono::Utc::now())?;
    println!("verify_signed_url:   ok");

    let http = cloudflare_images::http_client_builder()?.build()?;
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
