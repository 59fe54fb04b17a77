//! Batch mode: the operations Cloudflare's Batch API serves go to the batch host
//! with a batch token (never the account's credentials), tokens are fetched once
//! and renewed before they expire, several tokens share the work, and the other
//! operations still go to the API.

use chrono::Utc;
use cloudflare_images::{Client, RetryPolicy};
use serde_json::{json, Value};
use test_support::harness::ok_response;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const API_TOKEN: &str = "account-api-token";
const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";

fn image(id: &str) -> Value {
    json!({"id": id, "filename": "a.png", "requireSignedURLs": false, "variants": [],
           "uploaded": "2024-01-01T00:00:00Z", "meta": {}})
}

fn token(name: &str, expires_in: chrono::Duration) -> ResponseTemplate {
    ok_response(json!({"token": name, "expiresAt": (Utc::now() + expires_in).to_rfc3339()}))
}

fn auth(request: &Request) -> String {
    request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

struct Setup {
    api: MockServer,
    batch: MockServer,
    client: Client,
}

async fn setup(tokens: usize) -> Setup {
    let api = MockServer::start().await;
    let batch = MockServer::start().await;
    let client = Client::builder()
        .api_token(API_TOKEN)
        .account_id(ACCOUNT)
        .base_url(format!("{}/client/v4", api.uri()))
        .batch_url(batch.uri())
        .batch_api(tokens)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    Mock::given(method("GET"))
        .and(path(
            "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1/stats",
        ))
        .respond_with(ok_response(
            json!({"count": {"allowed": 100000, "current": 1}}),
        ))
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/images/v1/pets%2Fcat"))
        .respond_with(ok_response(image("pets/cat")))
        .mount(&batch)
        .await;
    Setup { api, batch, client }
}

async fn token_fetches(api: &MockServer) -> usize {
    api.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| {
            r.url.path()
                == "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1/batch_token"
        })
        .count()
}

#[tokio::test]
async fn served_operations_go_to_the_batch_host_with_the_batch_token_only() {
    let s = setup(1).await;
    Mock::given(method("GET"))
        .and(path(
            "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1/batch_token",
        ))
        .respond_with(token("batch-1", chrono::Duration::hours(1)))
        .mount(&s.api)
        .await;
    for _ in 0..3 {
        // The id's `/` is encoded as on the API: `pets%2Fcat`.
        let got = s.client.v1().get("pets/cat").send().await.unwrap();
        assert_eq!(got.id.as_deref(), Some("pets/cat"));
    }
    let on_batch = s.batch.received_requests().await.unwrap();
    assert_eq!(on_batch.len(), 3);
    for r in &on_batch {
        assert_eq!(r.method.as_str(), "GET");
        assert_eq!(r.url.path(), "/images/v1/pets%2Fcat");
        assert_eq!(auth(r), "Bearer batch-1");
        assert!(!format!("{:?}", r.headers).contains(API_TOKEN));
    }
    // One token for all three, fetched from the API with the account's token.
    assert_eq!(token_fetches(&s.api).await, 1);
    let fetch = &s.api.received_requests().await.unwrap()[0];
    assert_eq!(auth(fetch), format!("Bearer {API_TOKEN}"));
    // An operation the batch host does not serve goes to the API.
    let stats = s.client.v1().stats().get().send().await.unwrap();
    assert_eq!(stats.count.unwrap().current, Some(1.0));
    let last = s.api.received_requests().await.unwrap().pop().unwrap();
    assert_eq!(
        last.url.path(),
        "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1/stats"
    );
    assert_eq!(auth(&last), format!("Bearer {API_TOKEN}"));
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires() {
    let s = setup(1).await;
    // 30 s left is within the renewal margin: every use fetches a new one.
    Mock::given(method("GET"))
        .and(path(
            "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1/batch_token",
        ))
        .respond_with(token("short", chrono::Duration::seconds(30)))
        .mount(&s.api)
        .await;
    for _ in 0..2 {
        s.client.v1().get("pets/cat").send().await.unwrap();
    }
    assert_eq!(token_fetches(&s.api).await, 2);
}

#[tokio::test]
async fn several_tokens_share_the_work_in_turn() {
    let s = setup(2).await;
    Mock::given(method("GET"))
        .and(path(
            "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1/batch_token",
        ))
        .respond_with(token("first", chrono::Duration::hours(1)))
        .up_to_n_times(1)
        .mount(&s.api)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1/batch_token",
        ))
        .respond_with(token("second", chrono::Duration::hours(1)))
        .mount(&s.api)
        .await;
    for _ in 0..4 {
        s.client.v1().get("pets/cat").send().await.unwrap();
    }
    let tokens: Vec<String> = s
        .batch
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(auth)
        .collect();
    assert_eq!(
        tokens,
        [
            "Bearer first",
            "Bearer second",
            "Bearer first",
            "Bearer second"
        ]
    );
    assert_eq!(token_fetches(&s.api).await, 2);
}

#[tokio::test]
async fn uploads_and_v2_listing_use_the_batch_host() {
    let s = setup(1).await;
    Mock::given(method("GET"))
        .and(path(
            "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1/batch_token",
        ))
        .respond_with(token("batch-1", chrono::Duration::hours(1)))
        .mount(&s.api)
        .await;
    Mock::given(method("POST"))
        .and(path("/images/v1"))
        .respond_with(ok_response(image("up")))
        .mount(&s.batch)
        .await;
    Mock::given(method("GET"))
        .and(path("/images/v2"))
        .respond_with(ok_response(
            json!({"images": [image("up")], "continuation_token": null}),
        ))
        .mount(&s.batch)
        .await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let up = s
        .client
        .v1()
        .create()
        .file(png, "a.png")
        .send()
        .await
        .unwrap();
    assert_eq!(up.id.as_deref(), Some("up"));
    let page = s.client.v2().list().per_page(100u32).send().await.unwrap();
    assert_eq!(page.images.len(), 1);
    let seen = s.batch.received_requests().await.unwrap();
    let lines: Vec<String> = seen
        .iter()
        .map(|r| format!("{} {} {}", r.method, r.url.path(), auth(r)))
        .collect();
    assert_eq!(
        lines,
        [
            "POST /images/v1 Bearer batch-1",
            "GET /images/v2 Bearer batch-1"
        ]
    );
    assert_eq!(seen[1].url.query(), Some("per_page=100"));
}

#[tokio::test]
async fn a_rejected_token_is_replaced_by_the_next_request() {
    let s = setup(1).await;
    Mock::given(method("GET"))
        .and(path(
            "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1/batch_token",
        ))
        .respond_with(token("batch-1", chrono::Duration::hours(1)))
        .mount(&s.api)
        .await;
    Mock::given(method("GET"))
        .and(path("/images/v1/gone"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "success": false, "errors": [{"code": 10000, "message": "Authentication error"}]
        })))
        .mount(&s.batch)
        .await;
    let e = s.client.v1().get("gone").send().await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    s.client.v1().get("pets/cat").send().await.unwrap();
    assert_eq!(token_fetches(&s.api).await, 2);
}

#[tokio::test]
async fn batch_mode_is_a_view_of_the_same_client() {
    let s = setup(1).await;
    let plain = s.client.without_batch_api().unwrap();
    assert_eq!(plain.batch_api(), None);
    assert_eq!(s.client.batch_api(), Some((s.batch.uri(), 1)));
    let again = plain.with_batch_api(3).unwrap();
    assert_eq!(again.batch_api(), Some((s.batch.uri(), 3)));
    assert!(plain.with_batch_api(0).is_err());
    // Without batch mode a served operation goes to the API.
    Mock::given(method("GET"))
        .and(path(
            "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1/x",
        ))
        .respond_with(ok_response(image("x")))
        .mount(&s.api)
        .await;
    plain.v1().get("x").send().await.unwrap();
    assert_eq!(s.batch.received_requests().await.unwrap().len(), 0);
}

/// A batch token is a bearer credential: its value stays out of `Debug`, as a
/// signing key's does.
#[test]
fn batch_tokens_redact_their_value() {
    let token = cloudflare_images::types::BatchToken {
        expires_at: Utc::now(),
        token: "tok-3f9a-secret".into(),
    };
    let shown = format!("{token:?}");
    assert!(!shown.contains("tok-3f9a-secret"), "{shown}");
    assert!(shown.contains("token: \"<redacted>\""), "{shown}");
    assert!(shown.contains("expires_at"), "{shown}");
}
