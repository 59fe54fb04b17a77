//! Uploads one file from disk, streamed: for measuring the SDK's memory use.
//!
//! Run: `cargo run --release --example upload_file -- <path>`
//!
//! With `CLOUDFLARE_BASE_URL` set, the client comes from the environment
//! (`Client::from_env`), e.g. an emulator in another process
//! (`cargo run -p cloudflare-images-emulator -- --port 8787` and
//! `CLOUDFLARE_API_TOKEN=x CLOUDFLARE_ACCOUNT_ID=<its account id>`), so the
//! process measured holds only the client. Without it, an emulator starts in
//! this process.

use cloudflare_images::Client;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: upload_file <path to an image>")?;
    let (_emulator, client) = if std::env::var_os("CLOUDFLARE_BASE_URL").is_some() {
        (None, Client::from_env()?)
    } else {
        let emulator = cloudflare_images_emulator::Emulator::start().await?;
        let client = Client::builder()
            .api_token("local-token")
            .account_id(emulator.account_id())
            .base_url(emulator.base_url())
            .build()?;
        (Some(emulator), client)
    };
    let image = client.v1().create().path(&path).send().await?;
    println!("uploaded {path} as {:?}", image.id);
    Ok(())
}
