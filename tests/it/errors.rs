//! Errors: Cloudflare envelopes, non-JSON error pages, lenient decoding, and input
//! rejected before anything is sent.

use std::error::Error as _;

use cloudflare_images::ErrorKind;
use serde_json::json;
use test_support::harness::*;
use wiremock::ResponseTemplate;

#[tokio::test]
async fn a_4xx_envelope_is_a_typed_api_error() {
    let h = Harness::new().await;
    h.respond(
        ResponseTemplate::new(404)
            .insert_header("cf-ray", "8c1a2b3c4d5e6f70-SJC")
            .set_body_json(json!({"success": false, "errors": [{"code": 5404, "message": "Image not found",
                "documentation_url": "https://developers.cloudflare.com/images/", "source": {"pointer": "/image_id"}}],
                "messages": [], "result": null})),
    )
    .await;
    let err = h.client.v1().get("missing").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.code_numbers().collect::<Vec<_>>(), [5404]);
    assert!(err.has_code(5404));
    assert_eq!(err.api_errors()[0].message, "Image not found");
    assert_eq!(
        err.api_errors()[0].documentation_url.as_deref(),
        Some("https://developers.cloudflare.com/images/")
    );
    assert_eq!(err.api_errors()[0].pointer.as_deref(), Some("/image_id"));
    assert_eq!(err.ray_id(), Some("8c1a2b3c4d5e6f70-SJC"));
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        "Cloudflare API error (HTTP 404): 5404 Image not found [cf-ray 8c1a2b3c4d5e6f70-SJC]"
    );
}

#[tokio::test]
async fn a_5xx_envelope_is_typed_and_retryable() {
    let h = Harness::new().await;
    h.respond(ResponseTemplate::new(500).set_body_json(failure(5500, "Internal error")))
        .await;
    let err = h.client.v1().stats().get().send().await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Api, Some(500)));
    assert_eq!(err.code_numbers().collect::<Vec<_>>(), [5500]);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn an_envelope_without_messages_and_with_several_errors_decodes() {
    let h = Harness::new().await;
    h.respond(ResponseTemplate::new(429).set_body_json(json!({"success": false,
        "errors": [{"code": 971, "message": "Please wait"}, {"code": 10000, "message": "Second"}]})))
    .await;
    let err = h.client.v1().keys().list().send().await.unwrap_err();
    assert_eq!(err.code_numbers().collect::<Vec<_>>(), [971, 10000]);
    assert!(err.is_retryable());
    assert!(
        err.to_string().ends_with("971 Please wait; 10000 Second"),
        "{err}"
    );
}

#[tokio::test]
async fn an_html_502_keeps_its_status_and_a_snippet() {
    let h = Harness::new().await;
    let page = format!(
        "<html><head><title>502 Bad Gateway</title></head><body>{}</body></html>",
        "x".repeat(5000)
    );
    h.respond(
        ResponseTemplate::new(502)
            .set_body_raw(page.into_bytes(), "text/html")
            .insert_header("cf-ray", "abc-LHR"),
    )
    .await;
    let err = h.client.v1().get("x").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Http);
    assert_eq!(err.status(), Some(502));
    assert!(err.api_errors().is_empty());
    let snippet = err.body_snippet().unwrap();
    assert!(
        snippet.starts_with("<html><head><title>502 Bad Gateway"),
        "{snippet}"
    );
    assert!(snippet.chars().count() <= 513);
    assert_eq!(err.ray_id(), Some("abc-LHR"));
    assert!(err.is_retryable());
    assert!(err.to_string().contains("HTTP 502"));
}

#[tokio::test]
async fn a_non_json_error_on_a_handwritten_upload_keeps_its_status() {
    let h = Harness::new().await;
    h.respond(ResponseTemplate::new(413).set_body_raw(
        b"<h1>413 Request Entity Too Large</h1>".to_vec(),
        "text/html",
    ))
    .await;
    let err = h
        .client
        .v1()
        .create()
        .file(&b"\x89PNG\r\n\x1a\n"[..], "a.png")
        .send()
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Http, Some(413)));
    assert!(err.body_snippet().unwrap().contains("413"));
}

#[tokio::test]
async fn an_upload_api_error_is_the_same_typed_error() {
    let h = Harness::new().await;
    h.respond(ResponseTemplate::new(409).set_body_json(failure(5409, "Resource already exists")))
        .await;
    let err = h
        .client
        .v1()
        .create()
        .file(&b"GIF89a..."[..], "a.gif")
        .id("dup")
        .send()
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Api, Some(409)));
    assert!(err.has_code(5409));
}

#[tokio::test]
async fn a_bad_success_body_is_a_decode_error_with_its_source() {
    let h = Harness::new().await;
    h.respond(ResponseTemplate::new(200).set_body_raw(
        b"{\"success\":true,\"result\":".to_vec(),
        "application/json",
    ))
    .await;
    let err = h.client.v1().stats().get().send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.source().is_some());
    assert!(
        !err.to_string().contains(&err.source().unwrap().to_string()),
        "Display does not repeat the source"
    );
}

#[tokio::test]
async fn a_connection_failure_is_a_transport_error_with_a_source() {
    let client = cloudflare_images::Client::builder()
        .api_token(TOKEN)
        .account_id(ACCOUNT)
        .base_url("http://127.0.0.1:9/client/v4")
        .build()
        .unwrap();
    let err = client.v1().stats().get().send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(err.source().is_some());
    assert!(err.is_retryable());
    assert!(!format!("{err:?}").contains(TOKEN));
}

#[tokio::test]
async fn long_custom_ids_and_unknown_enum_values_decode() {
    let h = Harness::new().await;
    let id = format!("catalog/{}", "x".repeat(192));
    assert_eq!(id.len(), 200);
    h.respond_ok(json!({"variants": {"hero": {"id": "hero",
        "options": {"fit": "squish", "metadata": "everything", "width": 10, "height": 10}}}}))
        .await;
    let variants = h.client.v1().variants().list().send().await.unwrap();
    let hero = &variants.variants.unwrap().0["hero"];
    assert_eq!(hero.options.fit.as_str(), "squish");
    assert_eq!(hero.options.metadata.to_string(), "everything");

    let h = Harness::new().await;
    h.respond_ok(image_json(&id)).await;
    let image = h.client.v1().get(&id).send().await.unwrap();
    assert_eq!(image.id.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn bad_input_is_rejected_before_sending() {
    let h = Harness::new().await;
    h.respond_ok(json!({})).await;
    let c = &h.client;
    let cases = vec![
        c.v1().get("").send().await.unwrap_err(),
        c.v1().delete("x".repeat(1025)).send().await.unwrap_err(),
        c.v1().create().send().await.unwrap_err(),
        c.v1()
            .create()
            .file(&b""[..], "empty.png")
            .send()
            .await
            .unwrap_err(),
        c.v1()
            .create()
            .file(vec![0u8; 10 * 1024 * 1024 + 1], "big.png")
            .send()
            .await
            .unwrap_err(),
        c.v1()
            .create()
            .file(&b"GIF89a"[..], "a.gif")
            .url("https://example.com/a.gif")
            .send()
            .await
            .unwrap_err(),
        c.v1().create().url("not a url").send().await.unwrap_err(),
        c.v1()
            .create()
            .url("https://e.com/a.png")
            .id("/lead")
            .send()
            .await
            .unwrap_err(),
        c.v1()
            .create()
            .url("https://e.com/a.png")
            .id(UUID_V4)
            .send()
            .await
            .unwrap_err(),
        c.v1()
            .create()
            .url("https://e.com/a.png")
            .id("ok")
            .require_signed_urls(true)
            .send()
            .await
            .unwrap_err(),
        c.v2()
            .direct_uploads()
            .create()
            .expiry(chrono::Utc::now())
            .send()
            .await
            .unwrap_err(),
    ];
    for err in &cases {
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
    assert_eq!(
        h.request_count().await,
        0,
        "nothing may be sent for invalid input"
    );
}

const UUID_V4: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
