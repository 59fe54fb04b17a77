//! The SDK in batch mode against the emulator's batch host: the operations the Batch API
//! serves go to `<batch_url>/images/v1...` with batch tokens from `GET v1/batch_token`,
//! the others to the API; images are stored once; with Cloudflare's rate windows on, the
//! batch host keeps working once the account's global limit is used up.

use cloudflare_images::config::{Limits, Timeouts};
use cloudflare_images::types::{self, V2ListSortOrder};
use cloudflare_images::{direct, Client, RetryPolicy};
use cloudflare_images_emulator::fixtures::PIXEL_PNG;
use cloudflare_images_emulator::{Config, Emulator, EmulatorHandle};
use futures_util::TryStreamExt;
use serde_json::{json, Map, Value};

const TOKEN: &str = "batch-e2e-token";

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn meta(image: &types::Image) -> Value {
    Value::Object(image.meta.clone().map(Map::from).unwrap_or_default())
}

/// An emulator with `config` (and the test token) and a client for it and its batch host,
/// without retries, tuned by `tune`.
async fn start_with(
    config: Config,
    tune: impl FnOnce(cloudflare_images::ClientBuilder) -> cloudflare_images::ClientBuilder,
) -> (EmulatorHandle, Client) {
    let emu = Emulator::start_with(Config {
        api_token: Some(TOKEN.into()),
        ..config
    })
    .await
    .expect("emulator starts");
    let builder = Client::builder()
        .api_token(TOKEN)
        .account_id(emu.account_id())
        .base_url(emu.base_url())
        .batch_url(emu.batch_url())
        .retry_policy(RetryPolicy::none());
    let client = tune(builder).build().expect("client builds");
    (emu, client)
}

/// Batch mode with two tokens.
async fn start(rate_limits: bool) -> (EmulatorHandle, Client) {
    let config = Config {
        rate_limits,
        ..Config::default()
    };
    start_with(config, |b| b.batch_api(2)).await
}

/// Requests the emulator received on the API (everything but the batch host; this test
/// sends no delivery or upload-URL requests except where it says so).
fn api_requests(emu: &EmulatorHandle) -> u64 {
    emu.request_count() - emu.batch_request_count()
}

/// Uploads `n` images named `<prefix>-<i>.png`, `concurrency` at a time.
async fn upload_many(
    client: &Client,
    n: usize,
    prefix: &str,
    concurrency: usize,
) -> Vec<cloudflare_images::Result<types::Image>> {
    use futures_util::StreamExt;
    futures_util::stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            let name = format!("{prefix}-{i}.png");
            async move { client.v1().create().file(PIXEL_PNG, name).send().await }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

#[tokio::test]
async fn image_operations_go_through_the_batch_host() {
    let (emu, client) = start(false).await;
    assert_eq!(
        client.batch_api(),
        Some((emu.batch_url(), 2)),
        "the client is in batch mode towards the emulator"
    );

    // Uploads: one with a custom id holding a slash, two plain.
    let custom = client
        .v1()
        .create()
        .file(PIXEL_PNG, "cat.png")
        .id("pets/cat")
        .metadata(map(json!({"kind": "cat"})))
        .send()
        .await
        .expect("upload");
    assert_eq!(custom.id.as_deref(), Some("pets/cat"));
    let mut ids = vec!["pets/cat".to_owned()];
    for i in 0..2 {
        let image = client
            .v1()
            .create()
            .file(PIXEL_PNG, format!("{i}.png"))
            .creator("bulk")
            .send()
            .await
            .expect("upload");
        ids.push(image.id.expect("id"));
    }
    let mut batch_ops = 3;
    // Both tokens were fetched through the API, one per slot.
    assert_eq!(emu.batch_tokens_issued(), 2);
    assert_eq!(api_requests(&emu), 2);

    // Get each, edit one.
    for id in &ids {
        let got = client.v1().get(id).send().await.expect("get");
        assert_eq!(got.id.as_deref(), Some(id.as_str()));
        batch_ops += 1;
    }
    let edited = client
        .v1()
        .edit("pets/cat")
        .metadata(map(json!({"kind": "cat", "edited": true})))
        .send()
        .await
        .expect("edit");
    batch_ops += 1;
    assert_eq!(meta(&edited), json!({"kind": "cat", "edited": true}));

    // The v2 pager, one page of 10 (then no continuation token).
    let listed: Vec<String> = client
        .v2()
        .list_all()
        .per_page(10)
        .sort_order(V2ListSortOrder::Asc)
        .items()
        .map_ok(|i| i.id.unwrap_or_default())
        .try_collect()
        .await
        .expect("list");
    batch_ops += 1;
    assert_eq!(listed, ids);
    let filtered = client
        .v2()
        .list()
        .creator("bulk")
        .send()
        .await
        .expect("list");
    batch_ops += 1;
    assert_eq!(filtered.images.len(), 2);

    // A v2 direct upload through the batch host; the one-time URL is the upload host's.
    let draft = client
        .v2()
        .direct_uploads()
        .create()
        .id("drafts/one")
        .send()
        .await
        .expect("direct upload");
    batch_ops += 1;
    let upload_url = draft.upload_url.expect("uploadURL");
    assert!(upload_url.starts_with(&format!("{}/upload/", emu.origin())));
    direct::UploadToUrl::new(upload_url)
        .file(PIXEL_PNG, "draft.png")
        .send()
        .await
        .expect("creator upload");
    let other = 1; // the upload URL request, neither API nor batch host

    // Delete one.
    client.v1().delete(&ids[1]).send().await.expect("delete");
    batch_ops += 1;
    let err = client.v1().get(&ids[1]).send().await.unwrap_err();
    batch_ops += 1;
    assert_eq!(err.status(), Some(404));

    // Stats is not a batch operation: it goes to the API.
    let stats = client.v1().stats().get().send().await.expect("stats");
    assert_eq!(stats.count.and_then(|c| c.current), Some(3.0));

    // Every image is stored once; the batch host saw exactly the batch operations, the API
    // the two token requests and the stats.
    assert_eq!(emu.image_count(), 3);
    assert_eq!(emu.batch_request_count(), batch_ops);
    assert_eq!(api_requests(&emu), 2 + 1 + other);
    assert_eq!(emu.batch_tokens_issued(), 2);

    // Expired tokens: each slot gets one 401 (not retried), then fetches a new token.
    emu.expire_batch_tokens();
    for _ in 0..2 {
        let err = client.v1().get("pets/cat").send().await.unwrap_err();
        assert_eq!(err.status(), Some(401));
    }
    for _ in 0..2 {
        client.v1().get("pets/cat").send().await.expect("get");
    }
    assert_eq!(emu.batch_tokens_issued(), 4);
}

#[tokio::test]
async fn batch_host_works_past_the_global_limit() {
    let (emu, client) = start(true).await;
    // Fetch both tokens (two API requests) with a first upload on each slot.
    for i in 0..2 {
        client
            .v1()
            .create()
            .file(PIXEL_PNG, format!("{i}.png"))
            .send()
            .await
            .expect("upload");
    }
    // Use up the rest of the account's 1,200 API requests in its 300 s window.
    let http = cloudflare_images::http_client_builder()
        .expect("the SDK's TLS")
        .build()
        .expect("an http client");
    let url = format!(
        "{}/accounts/{}/images/v1/stats",
        emu.base_url(),
        emu.account_id()
    );
    for _ in 0..1198 {
        let status = http
            .get(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("stats")
            .status();
        assert_eq!(status, 200);
    }
    // The API now answers 429 (code 971) with Retry-After...
    let err = client.v1().stats().get().send().await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.code_numbers().collect::<Vec<_>>(), [971]);
    let wait = err.retry_after().expect("Retry-After");
    assert!(wait.as_secs() >= 1 && wait.as_secs() <= 300, "{wait:?}");
    // ...while the batch host, under each token's own window, goes on.
    let mut ids = Vec::new();
    for i in 0..20 {
        let image = client
            .v1()
            .create()
            .file(PIXEL_PNG, format!("more-{i}.png"))
            .send()
            .await
            .expect("upload past the global limit");
        ids.push(image.id.expect("id"));
    }
    for id in &ids {
        client.v1().get(id).send().await.expect("get");
    }
    let page = client.v2().list().send().await.expect("list");
    assert_eq!(page.images.len(), 22);
    assert_eq!(emu.image_count(), 22);
}

/// Pacing as the server counts: with Cloudflare's windows on (200 requests per second per
/// batch token) and 4x more uploads than one window allows, sent 128 at a time with no
/// retries, not one is refused with 429. (A slot is freed a window after its request
/// completes, not after it starts: counted from starts, requests admitted in one window but
/// queued for a connection arrive in the next, and the server refuses some.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_batch_uploads_meet_no_429_at_the_token_limit() {
    let (emu, client) = start(true).await;
    let uploads = 4 * 200;
    let results = upload_many(&client, uploads, "paced", 128).await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(failed, 0, "{:?}", results.iter().find(|r| r.is_err()));
    assert_eq!(emu.rate_limited_count(), 0);
    assert_eq!(emu.image_count(), uploads);
    // Both tokens carried the uploads, on the batch host.
    assert_eq!(emu.batch_tokens_issued(), 2);
    assert_eq!(emu.batch_request_count(), uploads as u64);
}

/// The same for the account's global limit, with the emulator's windows scaled by 0.01
/// (1,200 requests per 3 s) and the client paced to that: 1,500 requests, 64 at a time, no
/// retries, no 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_api_requests_meet_no_429_at_the_global_limit() {
    use futures_util::StreamExt;
    let scale = 0.01;
    let global = cloudflare_images::RateLimit::cloudflare_global();
    let scaled = cloudflare_images::RateLimit::new(global.requests(), global.per().mul_f64(scale))
        .expect("a rate");
    let config = Config {
        rate_limits: true,
        rate_limit_scale: scale,
        ..Config::default()
    };
    let (emu, client) =
        start_with(config, |b| b.limits(Limits::default().rate_limit(scaled))).await;
    let results: Vec<_> = futures_util::stream::iter(0..1500)
        .map(|_| {
            let client = client.clone();
            async move { client.v1().stats().get().send().await }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(failed, 0, "{:?}", results.iter().find(|r| r.is_err()));
    assert_eq!(emu.rate_limited_count(), 0);
    assert_eq!(emu.request_count(), 1500);
}

/// Fetching a batch token is itself a request: it must not wait for a place among the
/// requests in flight that the operations waiting for the token hold. With one place
/// (`max_connections(1)`) and uploads at once, each needing the token first, they all
/// finish (before, the first upload held the only place while its token fetch waited for
/// it, until the deadline).
#[tokio::test]
async fn a_batch_token_fetch_never_waits_for_the_places_its_waiters_hold() {
    let (emu, client) = start_with(Config::default(), |b| {
        b.batch_api(1)
            .limits(Limits::default().max_connections(1))
            .timeouts(Timeouts::default().operation(std::time::Duration::from_secs(10)))
    })
    .await;
    let results = upload_many(&client, 4, "one-place", 4).await;
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(emu.image_count(), 4);
    assert_eq!(emu.batch_tokens_issued(), 1);
}
