//! Rate windows (global and per batch token), the batch token endpoint and the batch host.
//!
//! Windows are checked by counting answers, not by timing: every test that counts 429s uses
//! a window far longer than the burst takes to send.

use std::process::Command;
use std::time::Duration;

use crate::common::*;
use cloudflare_images_emulator::Config;
use reqwest::{Method, RequestBuilder};
use serde_json::json;

/// An emulator with the given rate-limit settings (and the test token).
async fn ctx(rate_limits: bool, scale: f64) -> Ctx {
    Ctx::with(Config {
        api_token: Some(TOKEN.into()),
        rate_limits,
        rate_limit_scale: scale,
        ..Config::default()
    })
    .await
}

/// `<batch_url>/images/<path>`.
fn batch_url(ctx: &Ctx, path: &str) -> String {
    format!("{}/images/{path}", ctx.emu.batch_url())
}

async fn batch_token(ctx: &Ctx) -> String {
    let answer = ctx.get("v1/batch_token").await;
    answer.assert_ok()["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// Sends on the batch host with `token`.
async fn on_batch(ctx: &Ctx, token: &str, method: Method, path: &str) -> Answer {
    Ctx::raw(
        ctx.http
            .request(method, batch_url(ctx, path))
            .bearer_auth(token),
    )
    .await
}

/// Sends `n` requests made by `make`, 16 at a time; returns the answers' statuses and
/// `Retry-After` values.
async fn burst(n: usize, make: impl Fn() -> RequestBuilder) -> Vec<(u16, Option<u64>)> {
    let mut out = Vec::with_capacity(n);
    let mut pending = tokio::task::JoinSet::new();
    for _ in 0..n {
        if pending.len() >= 16 {
            out.push(pending.join_next().await.expect("task").expect("join"));
        }
        let rb = make();
        pending.spawn(async move {
            let resp = rb.send().await.expect("request");
            let retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            (resp.status().as_u16(), retry)
        });
    }
    while let Some(done) = pending.join_next().await {
        out.push(done.expect("join"));
    }
    out
}

fn count(answers: &[(u16, Option<u64>)], status: u16) -> usize {
    answers.iter().filter(|(s, _)| *s == status).count()
}

#[tokio::test]
async fn global_window_admits_1200_then_429s_and_batch_requests_bypass_it() {
    // 1,200 per 60 s: far longer than the burst takes.
    let ctx = ctx(true, 0.2).await;
    let token = batch_token(&ctx).await;
    let url = ctx.url("v1/stats");
    let answers = burst(1299, || ctx.http.get(&url).bearer_auth(TOKEN)).await;
    // The token request was the first of 1,300 API requests.
    assert_eq!(count(&answers, 200), 1199);
    assert_eq!(count(&answers, 429), 100);
    for (status, retry) in &answers {
        if *status == 429 {
            let retry = retry.expect("Retry-After on every 429");
            assert!((1..=60).contains(&retry), "Retry-After {retry}");
        }
    }
    let limited = ctx.get("v1/stats").await;
    limited.assert_error(429, 971);
    assert_eq!(
        limited.json["errors"][0]["message"],
        "Please wait and consider throttling your request speed"
    );
    // The token endpoint is an API request too.
    ctx.get("v1/batch_token").await.assert_error(429, 971);
    // The batch host is outside the global limit.
    on_batch(&ctx, &token, Method::GET, "v2").await.assert_ok();
    // Every 429 a window answered is counted, on the handle and in the console's stats.
    assert_eq!(ctx.emu.rate_limited_count(), 102);
    // A token's own window (200 per 0.2 s here) counts too; the burst takes longer than
    // that, so only whether it grew is certain.
    let batch = burst(400, || {
        ctx.http.get(batch_url(&ctx, "v2")).bearer_auth(&token)
    })
    .await;
    let refused = count(&batch, 429) as u64;
    assert_eq!(ctx.emu.rate_limited_count(), 102 + refused);
    let stats: serde_json::Value = ctx
        .http
        .get(format!("{}/console/stats.json", ctx.emu.origin()))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("JSON");
    assert_eq!(stats["rate_limited"], 102 + refused);
    assert_eq!(stats["batch_tokens_issued"], 1);
    assert_eq!(stats["batch_requests"], 401);
    assert_eq!(stats["images"], 0);
}

#[tokio::test]
async fn a_full_window_frees_after_retry_after() {
    // 1,200 per 6 s: send until refused, wait what Retry-After says, and be admitted again.
    let ctx = ctx(true, 0.02).await;
    let mut retry = None;
    for _ in 0..20_000 {
        let answer = ctx.get("v1/stats").await;
        if answer.status == 429 {
            answer.assert_error(429, 971);
            retry = Some(answer.headers["retry-after"].to_str().unwrap().to_owned());
            break;
        }
        answer.assert_ok();
    }
    let retry: u64 = retry.expect("refused").parse().expect("whole seconds");
    assert!((1..=6).contains(&retry), "Retry-After {retry}");
    tokio::time::sleep(Duration::from_secs(retry)).await;
    ctx.get("v1/stats").await.assert_ok();
}

#[tokio::test]
async fn windows_are_off_by_default() {
    let ctx = Ctx::new().await;
    let url = ctx.url("v1/stats");
    let answers = burst(1300, || ctx.http.get(&url).bearer_auth(TOKEN)).await;
    assert_eq!(count(&answers, 200), 1300);
    let token = batch_token(&ctx).await;
    let url = batch_url(&ctx, "v1/missing");
    let answers = burst(250, || ctx.http.get(&url).bearer_auth(&token)).await;
    assert_eq!(count(&answers, 404), 250);
}

#[tokio::test]
async fn fault_switches_still_apply_with_windows_on() {
    // FaultConfig may grow: set its fields on a default rather than build it whole.
    let mut config = Config {
        api_token: Some(TOKEN.into()),
        rate_limits: true,
        ..Config::default()
    };
    config.faults.rate_limit_after = Some(2);
    config.faults.retry_after_secs = Some(9);
    let ctx = Ctx::with(config).await;
    ctx.get("v1/stats").await.assert_ok();
    ctx.get("v1/stats").await.assert_ok();
    let limited = ctx.get("v1/stats").await;
    limited.assert_error(429, 971);
    assert_eq!(limited.headers["retry-after"], "9");
}

#[tokio::test]
async fn bad_scale_is_refused() {
    for scale in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let started = cloudflare_images_emulator::Emulator::start_with(Config {
            rate_limit_scale: scale,
            ..Config::default()
        })
        .await;
        assert!(started.is_err(), "{scale}");
    }
}

#[tokio::test]
async fn batch_token_endpoint() {
    let ctx = Ctx::new().await;
    let before = chrono::Utc::now();
    let answer = ctx.get("v1/batch_token").await;
    let result = answer.assert_ok();
    let token = result["token"].as_str().expect("token");
    assert!(token.len() >= 32, "{token}");
    let expires = chrono::DateTime::parse_from_rfc3339(result["expiresAt"].as_str().unwrap())
        .expect("RFC 3339");
    assert!(result["expiresAt"].as_str().unwrap().ends_with('Z'));
    let lifetime = expires.signed_duration_since(before);
    assert!(
        lifetime > chrono::Duration::minutes(59) && lifetime <= chrono::Duration::minutes(61),
        "{lifetime}"
    );
    // A new token every time.
    let other = batch_token(&ctx).await;
    assert_ne!(token, other);
    assert_eq!(ctx.emu.batch_tokens_issued(), 2);
    // Normal API auth, GET only.
    Ctx::raw(ctx.http.get(ctx.url("v1/batch_token")))
        .await
        .assert_error(401, 10000);
    Ctx::raw(ctx.http.get(ctx.url("v1/batch_token")).bearer_auth("wrong"))
        .await
        .assert_error(403, 10000);
    ctx.send(ctx.http.post(ctx.url("v1/batch_token")))
        .await
        .assert_error(405, 10405);
    // A batch token is not an API token.
    Ctx::raw(ctx.http.get(ctx.url("v1/stats")).bearer_auth(&other))
        .await
        .assert_error(403, 10000);
}

#[tokio::test]
async fn batch_tokens_expire() {
    let ctx = Ctx::new().await;
    let token = batch_token(&ctx).await;
    on_batch(&ctx, &token, Method::GET, "v2").await.assert_ok();
    ctx.emu.expire_batch_tokens();
    on_batch(&ctx, &token, Method::GET, "v2")
        .await
        .assert_error(401, 10000);
    // A new one works.
    let token = batch_token(&ctx).await;
    on_batch(&ctx, &token, Method::GET, "v2").await.assert_ok();

    // The lifetime is configurable: a zero lifetime gives tokens that are already expired.
    let ctx = Ctx::with(Config {
        api_token: Some(TOKEN.into()),
        batch_token_ttl: Duration::ZERO,
        ..Config::default()
    })
    .await;
    let answer = ctx.get("v1/batch_token").await;
    let result = answer.assert_ok();
    let expires =
        chrono::DateTime::parse_from_rfc3339(result["expiresAt"].as_str().unwrap()).unwrap();
    assert!(expires <= chrono::Utc::now());
    on_batch(&ctx, result["token"].as_str().unwrap(), Method::GET, "v2")
        .await
        .assert_error(401, 10000);
}

#[tokio::test]
async fn batch_host_serves_the_covered_operations_with_the_api_handlers() {
    let ctx = Ctx::new().await;
    let token = batch_token(&ctx).await;
    assert_eq!(ctx.emu.batch_url(), format!("{}/batch", ctx.emu.origin()));
    let batch_before = ctx.emu.batch_request_count();

    // POST v1 (multipart), with a custom id holding a slash.
    let form = file_form(png(), "cat.png")
        .text("id", "pets/cat")
        .text("metadata", r#"{"k":"v"}"#);
    let answer = Ctx::raw(
        ctx.http
            .post(batch_url(&ctx, "v1"))
            .bearer_auth(&token)
            .multipart(form),
    )
    .await;
    let uploaded = answer.assert_ok().clone();
    assert_eq!(uploaded["id"], "pets/cat");
    assert_eq!(uploaded["meta"], json!({"k": "v"}));
    // The same image through the API and the batch host.
    let on_api = ctx.get(&format!("v1/{}", enc("pets/cat"))).await;
    let path = format!("v1/{}", enc("pets/cat"));
    let got = on_batch(&ctx, &token, Method::GET, &path).await;
    assert_eq!(got.assert_ok(), on_api.assert_ok());
    // PATCH v1/{id}.
    let answer = Ctx::raw(
        ctx.http
            .patch(batch_url(&ctx, &path))
            .bearer_auth(&token)
            .json(&json!({"metadata": {"k": "w"}})),
    )
    .await;
    assert_eq!(answer.assert_ok()["meta"], json!({"k": "w"}));
    // GET v2 with its query.
    let answer = Ctx::raw(
        ctx.http
            .get(batch_url(&ctx, "v2?per_page=10&meta.k=w"))
            .bearer_auth(&token),
    )
    .await;
    let listed = answer.assert_ok();
    assert_eq!(listed["images"].as_array().unwrap().len(), 1);
    assert_eq!(listed["images"][0]["id"], "pets/cat");
    // POST v2/direct_upload.
    let answer = Ctx::raw(
        ctx.http
            .post(batch_url(&ctx, "v2/direct_upload"))
            .bearer_auth(&token)
            .multipart(reqwest::multipart::Form::new().text("id", "drafts/one")),
    )
    .await;
    let draft = answer.assert_ok();
    assert_eq!(draft["id"], "drafts/one");
    assert!(draft["uploadURL"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/upload/", ctx.emu.origin())));
    // DELETE v1/{id}.
    on_batch(&ctx, &token, Method::DELETE, &path)
        .await
        .assert_ok();
    on_batch(&ctx, &token, Method::GET, &path)
        .await
        .assert_error(404, 5404);
    assert_eq!(ctx.emu.image_count(), 0);
    assert_eq!(ctx.emu.batch_request_count() - batch_before, 7);

    // Not covered: 404 (code 7003), whatever the API does with them.
    for (method, path) in [
        (Method::GET, "v1"),
        (Method::GET, "v1/stats"),
        (Method::GET, "v1/keys"),
        (Method::PUT, "v1/keys/other"),
        (Method::GET, "v1/variants"),
        (Method::GET, "v1/variants/public"),
        (Method::GET, "v1/batch_token"),
        (Method::POST, "v1/direct_upload"),
        (Method::GET, "v1/pets%2Fcat/blob"),
        (Method::GET, "v3"),
    ] {
        on_batch(&ctx, &token, method.clone(), path)
            .await
            .assert_error(404, 7003);
    }
    for path in ["nothing", "", "client/v4/accounts/x/images/v1"] {
        let url = format!("{}/{path}", ctx.emu.batch_url());
        Ctx::raw(ctx.http.get(url).bearer_auth(&token))
            .await
            .assert_error(404, 7003);
    }
    // Another method on a covered path: 405.
    on_batch(&ctx, &token, Method::PUT, "v1/some-id")
        .await
        .assert_error(405, 10405);
    on_batch(&ctx, &token, Method::DELETE, "v2")
        .await
        .assert_error(405, 10405);

    // Auth: the batch token only.
    let url = batch_url(&ctx, "v2");
    Ctx::raw(ctx.http.get(&url)).await.assert_error(401, 10000);
    Ctx::raw(ctx.http.get(&url).bearer_auth(TOKEN))
        .await
        .assert_error(401, 10000);
    Ctx::raw(ctx.http.get(&url).bearer_auth("unknown"))
        .await
        .assert_error(401, 10000);
    Ctx::raw(
        ctx.http
            .get(&url)
            .header("x-auth-email", "a@b.c")
            .header("x-auth-key", "k"),
    )
    .await
    .assert_error(401, 10000);
    Ctx::raw(ctx.http.get(&url).header("authorization", token.as_str()))
        .await
        .assert_error(401, 10000);
}

#[tokio::test]
async fn each_batch_token_has_its_own_window_outside_the_global_one() {
    // 200 per 10 s per token (and 1,200 per 3,000 s on the API).
    let ctx = ctx(true, 10.0).await;
    let image = ctx.upload_png(&[]).await;
    let path = format!("v1/{}", image["id"].as_str().unwrap());
    let (a, b) = (batch_token(&ctx).await, batch_token(&ctx).await);
    let url = batch_url(&ctx, &path);
    let answers = burst(210, || ctx.http.get(&url).bearer_auth(&a)).await;
    assert_eq!(count(&answers, 200), 200);
    assert_eq!(count(&answers, 429), 10);
    for (status, retry) in &answers {
        if *status == 429 {
            assert!((1..=10).contains(&retry.expect("Retry-After")));
        }
    }
    let limited = on_batch(&ctx, &a, Method::GET, &path).await;
    limited.assert_error(429, 971);
    // The other token is not held back by the first one's window.
    let answers = burst(200, || ctx.http.get(&url).bearer_auth(&b)).await;
    assert_eq!(count(&answers, 200), 200);
    on_batch(&ctx, &b, Method::GET, &path)
        .await
        .assert_error(429, 971);
    // A third token brings another 200; the API is unaffected by the batch requests.
    let c = batch_token(&ctx).await;
    on_batch(&ctx, &c, Method::GET, &path).await.assert_ok();
    ctx.get("v1/stats").await.assert_ok();
}

#[tokio::test]
async fn batch_requests_never_count_against_the_global_window() {
    // 1,200 per 3,000 s on the API; 7 tokens x 200 = 1,400 batch requests, all admitted.
    let ctx = ctx(true, 10.0).await;
    let mut tokens = Vec::new();
    for _ in 0..7 {
        tokens.push(batch_token(&ctx).await);
    }
    let url = batch_url(&ctx, "v1/missing");
    let next = std::sync::atomic::AtomicUsize::new(0);
    let answers = burst(1400, || {
        let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        ctx.http.get(&url).bearer_auth(&tokens[i % 7])
    })
    .await;
    assert_eq!(count(&answers, 404), 1400);
    // 7 API requests so far: 1,193 more are admitted.
    let url = ctx.url("v1/stats");
    let answers = burst(1194, || ctx.http.get(&url).bearer_auth(TOKEN)).await;
    assert_eq!(count(&answers, 200), 1193);
    assert_eq!(count(&answers, 429), 1);
}

#[tokio::test]
async fn binary_prints_the_batch_url_and_takes_the_rate_flags() {
    let (child, banner) = Binary::start(
        &[
            "--port",
            "0",
            "--token",
            "bin-token",
            "--account-id",
            "acct",
            "--rate-limit-scale",
            "0.01",
            "--batch-token-ttl",
            "120",
        ],
        2,
    )
    .await;
    let (first, second) = (&banner[0], &banner[1]);
    let base = first.trim().to_owned();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/client/v4"));
    let batch = second
        .trim()
        .strip_prefix("batch: ")
        .expect("a `batch: URL` line")
        .to_owned();
    assert_eq!(batch, base.replace("/client/v4", "/batch"));

    let http = reqwest::Client::new();
    let answer = Ctx::raw(
        http.get(format!("{base}/accounts/acct/images/v1/batch_token"))
            .bearer_auth("bin-token"),
    )
    .await;
    let result = answer.assert_ok();
    let expires =
        chrono::DateTime::parse_from_rfc3339(result["expiresAt"].as_str().unwrap()).unwrap();
    assert!(expires <= chrono::Utc::now() + chrono::Duration::seconds(121));
    let token = result["token"].as_str().unwrap();
    Ctx::raw(http.get(format!("{batch}/images/v2")).bearer_auth(token))
        .await
        .assert_ok();
    drop(child);

    for bad in ["0", "-1", "x", "inf"] {
        let out = Command::new(env!("CARGO_BIN_EXE_cloudflare-images-emulator"))
            .args(["--rate-limit-scale", bad])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
    let help = Command::new(env!("CARGO_BIN_EXE_cloudflare-images-emulator"))
        .arg("--help")
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--rate-limit-scale") && help.contains("--batch-token-ttl"));
}
