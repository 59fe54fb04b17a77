//! The invariant behind the retry rules: whatever fault the server injects, the
//! SDK never causes an image to be stored twice. Each upload below has its own
//! file name; after a run under a fault, no file name is stored twice, every
//! upload that returned `Ok` is stored, and an upload with a custom id that
//! returned `Ok` is stored exactly once under that id.

use std::collections::HashMap;
use std::time::Duration;

use cloudflare_images::{Client, RetryPolicy};
use cloudflare_images_emulator::fixtures::PIXEL_PNG;
use cloudflare_images_emulator::{Emulator, EmulatorHandle};
use futures_util::TryStreamExt;

const UPLOADS: usize = 24;

async fn run_under(name: &str, inject: impl Fn(&EmulatorHandle)) {
    let emu = Emulator::start().await.expect("emulator");
    let client = Client::builder()
        .api_token("t")
        .account_id(emu.account_id())
        .base_url(emu.base_url())
        .retry_policy(
            RetryPolicy::default()
                .max_retries(4)
                .initial_backoff(Duration::from_millis(1)),
        )
        .build()
        .expect("client");
    inject(&emu);
    let mut ok = Vec::new();
    let mut failed = 0;
    for i in 0..UPLOADS {
        let filename = format!("{name}-{i}.png");
        let mut upload = client.v1().create().file(PIXEL_PNG, filename.clone());
        let custom = i % 2 == 0;
        if custom {
            upload = upload.id(format!("{name}/{i}"));
        }
        match upload.send().await {
            Ok(image) => ok.push((filename, custom, image.id.unwrap_or_default())),
            Err(e) => {
                assert!(e.is_retryable(), "{name}: {e}");
                failed += 1;
            }
        }
    }
    emu.faults().clear();
    let stored: Vec<_> = client
        .v2()
        .list_all()
        .items()
        .try_collect()
        .await
        .expect("listing");
    let mut by_name: HashMap<String, Vec<String>> = HashMap::new();
    for image in &stored {
        by_name
            .entry(image.filename.clone().unwrap_or_default())
            .or_default()
            .push(image.id.clone().unwrap_or_default());
    }
    for (filename, ids) in &by_name {
        assert_eq!(ids.len(), 1, "{name}: {filename} stored as {ids:?}");
    }
    for (filename, custom, id) in &ok {
        assert_eq!(
            by_name.get(filename).map(Vec::as_slice),
            Some(std::slice::from_ref(id)),
            "{name}: {filename} (custom id {custom}) returned Ok as {id}"
        );
    }
    // Custom-id uploads are repeated until they succeed under these faults.
    let custom_ok = ok.iter().filter(|(_, custom, _)| *custom).count();
    assert_eq!(custom_ok, UPLOADS / 2, "{name}: {failed} failed");
}

#[tokio::test]
async fn json_500s() {
    run_under("fail5xx", |emu| emu.faults().set_fail_5xx_percent(30)).await;
}

#[tokio::test]
async fn html_502s() {
    run_under("html502", |emu| {
        emu.faults().set_html_502(true);
        emu.faults().set_fail_5xx_percent(30);
    })
    .await;
}

#[tokio::test]
async fn connection_resets() {
    run_under("reset", |emu| emu.faults().set_reset_percent(30)).await;
}

#[tokio::test]
async fn store_then_fail() {
    // Every upload is stored and then answered with a 500.
    run_under("storefail", |emu| emu.faults().set_fail_after_upload(true)).await;
}

#[tokio::test]
async fn bursts_of_429_and_503() {
    run_under("burst", |emu| {
        emu.faults().fail_next(3, 429);
    })
    .await;
    run_under("unavailable", |emu| emu.faults().fail_next(3, 503)).await;
}
