//! Retries: repeated only when repeating cannot do anything twice.

use std::time::Duration;

use cloudflare_images::{ErrorKind, RetryPolicy};
use serde_json::json;
use test_support::harness::*;
use wiremock::ResponseTemplate;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

fn rate_limited(retry_after: &str) -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("retry-after", retry_after)
        .set_body_json(failure(
            971,
            "Please wait and consider throttling your request speed",
        ))
}

#[tokio::test]
async fn a_429_with_retry_after_is_repeated_and_succeeds() {
    let h = Harness::new().await;
    h.respond_first(1, rate_limited("0")).await;
    h.respond_ok(json!({"count": {"allowed": 100000, "current": 7}}))
        .await;
    let stats = h.client.v1().stats().get().send().await.unwrap();
    assert_eq!(stats.count.unwrap().current, Some(7.0));
    let requests = h.requests().await;
    assert_eq!(requests.len(), 2);
    assert!(requests
        .iter()
        .all(|r| r.url.path().ends_with("/images/v1/stats")));
}

#[tokio::test]
async fn idempotent_requests_give_up_after_max_retries_with_the_last_error() {
    let h = Harness::new().await;
    h.respond(ResponseTemplate::new(503).set_body_json(failure(5503, "Service unavailable")))
        .await;
    let err = h.client.v1().get("img").send().await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Api, Some(503)));
    assert!(err.has_code(5503));
    assert_eq!(h.requests().await.len(), 3, "one attempt and two retries");
}

#[tokio::test]
async fn a_json_post_is_repeated_on_429_but_not_on_500() {
    let h = Harness::new().await;
    h.respond_first(1, rate_limited("0")).await;
    h.respond_ok(json!({"variant": {"id": "hero", "options": {"fit": "cover", "metadata": "none", "width": 1, "height": 1}}}))
        .await;
    let options = cloudflare_images::types::ImageVariantOptions {
        fit: cloudflare_images::open_enums::ImageVariantFit::Cover,
        metadata: cloudflare_images::open_enums::ImageVariantSchemasMetadata::None,
        width: 1,
        height: 1,
    };
    h.client
        .v1()
        .variants()
        .create("hero", options.clone())
        .send()
        .await
        .unwrap();
    let requests = h.requests().await;
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].body, requests[1].body,
        "the same body both times"
    );

    let h = Harness::new().await;
    h.respond(ResponseTemplate::new(500).set_body_json(failure(5500, "Internal error")))
        .await;
    let err = h
        .client
        .v1()
        .variants()
        .create("hero", options)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(
        h.requests().await.len(),
        1,
        "a POST that may have been processed is not repeated"
    );
}

#[tokio::test]
async fn uploads_are_repeated_only_where_that_cannot_store_twice() {
    // (template, custom id?, requests expected): a 429 was not processed, so a
    // rebuildable body is sent again; a 500 may have stored the image, so only
    // an upload with a custom id is repeated.
    let cases = [
        (rate_limited("0"), false, 3),
        (rate_limited("0"), true, 3),
        (
            ResponseTemplate::new(500).set_body_json(failure(5500, "Internal error")),
            false,
            1,
        ),
        (
            ResponseTemplate::new(500).set_body_json(failure(5500, "Internal error")),
            true,
            3,
        ),
    ];
    for (template, custom_id, expected) in cases {
        let h = Harness::new().await;
        h.respond(template).await;
        let mut upload = h.client.v1().create().file(PNG, "a.png");
        if custom_id {
            upload = upload.id("once");
        }
        let err = upload.send().await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        let requests = h.requests().await;
        assert_eq!(requests.len(), expected, "custom id {custom_id}: {err}");
        // Every attempt carried the whole file, rebuilt.
        for request in &requests {
            let parts = multipart_parts(request);
            assert!(parts.iter().any(|p| p.name == "file" && p.value == PNG));
        }
    }
    // A reader cannot be rebuilt: sent once, whatever the failure.
    let h = Harness::new().await;
    h.respond(rate_limited("0")).await;
    h.client
        .v1()
        .create()
        .reader(std::io::Cursor::new(PNG), PNG.len() as u64, "a.png")
        .id("once")
        .send()
        .await
        .unwrap_err();
    assert_eq!(h.requests().await.len(), 1);
}

#[tokio::test]
async fn patch_is_not_repeated_on_server_errors() {
    let h = Harness::new().await;
    h.respond(ResponseTemplate::new(502).set_body_json(failure(5500, "Bad gateway")))
        .await;
    h.client
        .v1()
        .edit("img")
        .creator("c")
        .send()
        .await
        .unwrap_err();
    assert_eq!(h.requests().await.len(), 1);
}

#[tokio::test]
async fn a_retry_after_longer_than_max_backoff_is_returned_not_waited() {
    let h = Harness::with_retry(RetryPolicy::default().max_backoff(Duration::from_secs(5))).await;
    h.respond(rate_limited("300")).await;
    let err = h.client.v1().keys().list().send().await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert!(err.has_code(971));
    assert_eq!(h.requests().await.len(), 1);
}

#[tokio::test]
async fn no_retries_with_the_none_policy() {
    let h = Harness::with_retry(RetryPolicy::none()).await;
    h.respond(ResponseTemplate::new(503).set_body_json(failure(5503, "Service unavailable")))
        .await;
    h.client.v1().stats().get().send().await.unwrap_err();
    assert_eq!(h.requests().await.len(), 1);
}

#[tokio::test]
async fn client_errors_are_never_repeated() {
    let h = Harness::new().await;
    h.respond(ResponseTemplate::new(404).set_body_json(failure(5404, "Image not found")))
        .await;
    h.client.v1().get("missing").send().await.unwrap_err();
    assert_eq!(h.requests().await.len(), 1);
}
