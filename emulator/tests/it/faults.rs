//! Fault switches, persistence and the binary's flags.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;
use cloudflare_images_emulator::{Config, Emulator};
use serde_json::json;

#[tokio::test]
async fn rate_limit_after_n_requests() {
    let ctx = Ctx::new().await;
    ctx.emu.faults().set_rate_limit_after(Some(3));
    for _ in 0..3 {
        ctx.get("v1/stats").await.assert_ok();
    }
    let limited = ctx.get("v1/stats").await;
    limited.assert_error(429, 971);
    assert_eq!(
        limited.json["errors"][0]["message"],
        "Please wait and consider throttling your request speed"
    );
    assert_eq!(limited.headers["retry-after"], "1");
    ctx.emu.faults().set_retry_after_secs(7);
    let limited = ctx.get("v1/stats").await;
    assert_eq!(limited.headers["retry-after"], "7");
    // Delivery is never rate limited.
    let image_path = format!("/{}/x/public", ctx.emu.account_hash());
    assert_eq!(ctx.deliver(&image_path).await.status(), 404);
    ctx.emu.faults().set_rate_limit_after(None);
    ctx.get("v1/stats").await.assert_ok();
    assert_eq!(ctx.emu.faults().injected_count(), 2);
}

#[tokio::test]
async fn fail_5xx_percent_is_deterministic() {
    let ctx = Ctx::new().await;
    ctx.emu.faults().set_fail_5xx_percent(50);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let answer = ctx.get("v1/stats").await;
        if answer.status == 500 {
            answer.assert_error(500, 5500);
        }
        statuses.push(answer.status);
    }
    assert_eq!(statuses, [200, 500, 200, 500, 200, 500]);
    // The proxy flavour: HTML 502.
    ctx.emu.faults().set_fail_5xx_percent(100);
    ctx.emu.faults().set_html_502(true);
    let resp = ctx
        .http
        .get(ctx.url("v1/stats"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 502);
    assert_eq!(resp.headers()["content-type"], "text/html");
    assert!(resp.text().await.expect("body").contains("502 Bad Gateway"));
    ctx.emu.faults().clear();
    ctx.get("v1/stats").await.assert_ok();
}

#[tokio::test]
async fn latency_delays_api_requests() {
    let ctx = Ctx::new().await;
    ctx.emu.faults().set_latency(Duration::from_millis(300));
    assert_eq!(ctx.emu.faults().latency(), Duration::from_millis(300));
    let start = Instant::now();
    ctx.get("v1/stats").await.assert_ok();
    assert!(start.elapsed() >= Duration::from_millis(300));
    ctx.emu.faults().set_latency(Duration::ZERO);
    assert_eq!(ctx.emu.faults().latency(), Duration::ZERO);
    ctx.get("v1/stats").await.assert_ok();
    // Delivery is never delayed.
    ctx.emu.faults().set_latency(Duration::from_secs(30));
    let path = format!("/{}/x/public", ctx.emu.account_hash());
    let resp = tokio::time::timeout(Duration::from_secs(10), ctx.deliver(&path))
        .await
        .expect("delivery is not delayed");
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn reset_closes_the_connection_without_a_response() {
    let ctx = Ctx::new().await;
    ctx.emu.faults().set_reset_percent(100);
    let before = ctx.emu.request_count();
    let err = ctx
        .http
        .get(ctx.url("v1/stats"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect_err("connection is closed");
    assert!(err.status().is_none(), "no HTTP status: {err:?}");
    assert_eq!(ctx.emu.request_count(), before + 1);
    // Resets happen before handling: nothing is stored.
    let err = tokio::time::timeout(Duration::from_secs(10), async {
        ctx.http
            .post(ctx.url("v1"))
            .bearer_auth(TOKEN)
            .multipart(file_form(png(), "a.png"))
            .send()
            .await
    })
    .await
    .expect("no hang");
    assert!(err.is_err());
    drop(err);
    assert_eq!(ctx.emu.image_count(), 0);
    // 50 %: every other request.
    ctx.emu.faults().set_reset_percent(50);
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        let r = ctx
            .http
            .get(ctx.url("v1/stats"))
            .bearer_auth(TOKEN)
            .send()
            .await;
        outcomes.push(r.is_ok());
    }
    assert_eq!(outcomes, [true, false, true, false]);
    ctx.emu.faults().set_reset_percent(0);
    ctx.get("v1/stats").await.assert_ok();
}

#[tokio::test]
async fn fail_after_upload_stores_then_fails() {
    let ctx = Ctx::new().await;
    ctx.emu.faults().set_fail_after_upload(true);
    assert!(ctx.emu.faults().fail_after_upload());
    ctx.upload(file_form(png(), "a.png"))
        .await
        .assert_error(500, 5500);
    assert_eq!(ctx.emu.image_count(), 1, "the image was stored anyway");
    let list = ctx.get("v2").await;
    assert_eq!(list.assert_ok()["images"].as_array().map(Vec::len), Some(1));
    // With a custom id a retry is safe: it answers 409 instead of duplicating.
    ctx.upload(file_form(png(), "a.png").text("id", "safe"))
        .await
        .assert_error(500, 5500);
    ctx.emu.faults().set_fail_after_upload(false);
    ctx.upload(file_form(png(), "a.png").text("id", "safe"))
        .await
        .assert_error(409, 5409);
    assert_eq!(ctx.emu.image_count(), 2);
    // Also on one-time upload URLs.
    ctx.emu.faults().set_fail_after_upload(true);
    let draft = ctx.send(ctx.http.post(ctx.url("v2/direct_upload"))).await;
    let url = draft.assert_ok()["uploadURL"]
        .as_str()
        .expect("url")
        .to_owned();
    Ctx::raw(ctx.http.post(&url).multipart(file_form(png(), "b.png")))
        .await
        .assert_error(500, 5500);
    assert_eq!(ctx.emu.image_count(), 3);
}

#[tokio::test]
async fn fail_next_and_request_count() {
    let ctx = Ctx::new().await;
    assert_eq!(ctx.emu.request_count(), 0);
    ctx.emu.faults().fail_next(2, 503);
    ctx.get("v1/stats").await.assert_error(503, 5503);
    ctx.get("v1/stats").await.assert_error(503, 5503);
    ctx.get("v1/stats").await.assert_ok();
    ctx.emu.faults().fail_next(1, 429);
    let limited = ctx.get("v1/stats").await;
    limited.assert_error(429, 971);
    assert!(limited.headers.contains_key("retry-after"));
    ctx.emu.faults().fail_next(1, 502);
    ctx.get("v1/stats").await.assert_error(502, 5500);
    ctx.emu.faults().fail_next(1, 400);
    ctx.get("v1/stats").await.assert_error(400, 5400);
    assert_eq!(ctx.emu.request_count(), 6);
    assert_eq!(ctx.emu.faults().injected_count(), 5);
}

#[tokio::test]
async fn faults_from_config() {
    // FaultConfig may grow: set its fields on a default rather than build it whole.
    let mut config = Config {
        api_token: Some(TOKEN.into()),
        ..Config::default()
    };
    config.faults.rate_limit_after = Some(1);
    config.faults.retry_after_secs = Some(3);
    let ctx = Ctx::with(config).await;
    assert_eq!(ctx.emu.faults().rate_limit_after(), Some(1));
    ctx.get("v1/stats").await.assert_ok();
    let limited = ctx.get("v1/stats").await;
    limited.assert_error(429, 971);
    assert_eq!(limited.headers["retry-after"], "3");
}

// ----------------------------------------------------------------------------------------------
// Persistence

fn temp_dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("cf-images-emu-{name}-{}", uuid::Uuid::new_v4()))
}

#[tokio::test]
async fn persistence_survives_restart() {
    let dir = temp_dir("persist");
    let config = Config {
        api_token: Some(TOKEN.into()),
        data_dir: Some(dir.clone()),
        ..Config::default()
    };
    let (id, keys, image, draft) = {
        let ctx = Ctx::with(config.clone()).await;
        let image = ctx
            .upload_png(&[("id", "a/b"), ("metadata", r#"{"k":1}"#)])
            .await;
        let gone = ctx.upload_png(&[]).await;
        ctx.delete(&format!("v1/{}", gone["id"].as_str().expect("id")))
            .await
            .assert_ok();
        ctx.send(ctx.http.put(ctx.url("v1/keys/extra")))
            .await
            .assert_ok();
        ctx.post_json(
            "v1/variants",
            json!({"id": "thumb", "options": {"fit": "crop", "metadata": "none", "width": 50, "height": 50}}),
        )
        .await
        .assert_ok();
        let draft = ctx
            .send(ctx.http.post(ctx.url("v2/direct_upload")))
            .await
            .assert_ok()["id"]
            .as_str()
            .expect("draft id")
            .to_owned();
        let keys = ctx.emu.signing_keys();
        let id = image["id"].as_str().expect("id").to_owned();
        let image = ctx.get(&format!("v1/{}", enc(&id))).await.json["result"].clone();
        ctx.emu.shutdown().await;
        (id, keys, image, draft)
    };
    assert!(dir.join("images.db").is_file());
    assert!(!dir.join("index.json").exists());
    let ctx = Ctx::with(config).await;
    assert_eq!(ctx.emu.image_count(), 1);
    assert_eq!(ctx.emu.signing_keys(), keys);
    let again = ctx.get(&format!("v1/{}", enc(&id))).await;
    let mut again = again.assert_ok().clone();
    // Variant URLs carry the new port; everything else is identical.
    again["variants"] = image["variants"].clone();
    assert_eq!(again, image);
    let blob = ctx
        .http
        .get(ctx.url(&format!("v1/{}/blob", enc(&id))))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("blob");
    assert_eq!(blob.bytes().await.expect("bytes").to_vec(), png());
    ctx.get("v1/variants/thumb").await.assert_ok();
    // The draft survives too, still unlisted (drafts appear in no listing).
    assert_eq!(
        ctx.get(&format!("v1/{draft}")).await.assert_ok()["draft"],
        true
    );
    let list = ctx.get("v2").await;
    assert_eq!(list.assert_ok()["images"].as_array().map(Vec::len), Some(1));
    // New uploads after a restart sort after the old ones.
    let newer = ctx.upload_png(&[]).await;
    let asc = ctx.get("v2?sort_order=asc").await;
    assert_eq!(asc.assert_ok()["images"][1]["id"], newer["id"]);
    ctx.emu.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn shutdown_frees_the_port() {
    let emu = Emulator::start().await.expect("start");
    let origin = emu.origin();
    let port: u16 = origin
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    emu.shutdown().await;
    let again = Emulator::start_with(Config {
        port,
        ..Config::default()
    })
    .await
    .expect("port is free again");
    assert_eq!(again.origin(), origin);
    assert_eq!(
        again.base_url(),
        format!("http://127.0.0.1:{port}/client/v4")
    );
}

// ----------------------------------------------------------------------------------------------
// The binary

#[tokio::test]
async fn binary_prints_base_url_and_applies_flags() {
    let (child, banner) = Binary::start(
        &[
            "--port",
            "0",
            "--token",
            "bin-token",
            "--account-id",
            "acct",
            "--rate-limit-after",
            "1",
        ],
        1,
    )
    .await;
    let line = &banner[0];
    let base = line.trim().to_owned();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/client/v4"));
    let http = reqwest::Client::new();
    let url = format!("{base}/accounts/acct/images/v1/stats");
    Ctx::raw(http.get(&url).bearer_auth("wrong"))
        .await
        .assert_error(403, 10000);
    Ctx::raw(http.get(&url).bearer_auth("bin-token"))
        .await
        .assert_error(429, 971);
    drop(child);

    let bad = Command::new(env!("CARGO_BIN_EXE_cloudflare-images-emulator"))
        .arg("--bogus")
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
    let help = Command::new(env!("CARGO_BIN_EXE_cloudflare-images-emulator"))
        .arg("--help")
        .output()
        .expect("run");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--fail-after-upload"));
}

/// `--help` lists every flag with its default, and a bad value is a usage error (exit 2)
/// naming the flag, as before the arguments were parsed with clap.
#[test]
fn binary_help_lists_every_flag_with_its_default() {
    let help = Command::new(env!("CARGO_BIN_EXE_cloudflare-images-emulator"))
        .arg("--help")
        .output()
        .expect("run");
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    let flags: Vec<&str> = help
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("--"))
        .collect();
    for flag in [
        "--port",
        "--data-dir",
        "--account-id",
        "--account-hash",
        "--token",
        "--rate-limit-after",
        "--retry-after",
        "--fail-5xx-percent",
        "--latency-ms",
        "--reset-percent",
        "--html-502",
        "--fail-after-upload",
        "--rate-limits",
        "--rate-limit-scale",
        "--batch-token-ttl",
        "--flexible-variants",
        "--transform-origin",
    ] {
        let line = flags
            .iter()
            .find(|l| l.split([' ', '<']).next() == Some(flag))
            .unwrap_or_else(|| panic!("{flag} is not listed:\n{help}"));
        assert!(line.contains("[default: "), "{flag} has no default: {line}");
    }
    assert_eq!(flags.len(), 17, "a flag without a check here:\n{help}");
    for bad in [
        &["--fail-5xx-percent", "101"][..],
        &["--port", "x"],
        &["--latency-ms"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_cloudflare-images-emulator"))
            .args(bad)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(bad[0]),
            "{bad:?}"
        );
    }
}

/// A reader that takes the first line and closes the pipe (as tests and scripts do) must not
/// take the server down: its stdout and stderr here are pipes whose reading ends are
/// already closed.
#[tokio::test]
async fn binary_survives_a_closed_stdout() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let (err_reader, err_writer) = std::io::pipe().expect("pipe");
    drop(err_reader);
    let child = Command::new(env!("CARGO_BIN_EXE_cloudflare-images-emulator"))
        .args(["--port", &port.to_string(), "--token", "t"])
        .stdout(writer)
        .stderr(err_writer)
        .spawn()
        .expect("spawn");
    let mut child = Binary(child);
    let http = reqwest::Client::new();
    let url = format!(
        "http://127.0.0.1:{port}/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1/stats"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        match http.get(&url).bearer_auth("t").send().await {
            Ok(resp) => break resp.status().as_u16(),
            Err(e) => {
                assert!(
                    child.0.try_wait().expect("wait").is_none(),
                    "the emulator exited: {e}"
                );
                assert!(Instant::now() < deadline, "never answered: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(status, 200);
    // Still serving after the banner was written into the closed pipe.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(child.0.try_wait().expect("wait").is_none());
    let again = http.get(&url).bearer_auth("t").send().await.expect("send");
    assert_eq!(again.status().as_u16(), 200);
}

/// With rate windows on, every API answer carries Cloudflare's rate-limit headers,
/// counting down; the 429 beyond the quota carries them too (nothing left), with
/// `Retry-After`; without windows, no such header.
#[tokio::test]
async fn api_answers_carry_the_rate_limit_headers() {
    let ctx = Ctx::with(Config {
        rate_limits: true,
        // A 30 s window: the 1,200 requests below fit in it on any machine.
        rate_limit_scale: 0.1,
        ..Config::default()
    })
    .await;
    let first = ctx.get("v1/stats").await;
    assert_eq!(first.status, 200);
    let header = |a: &Answer, name: &str| {
        a.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        header(&first, "ratelimit-policy"),
        "\"default\";q=1200;w=30"
    );
    assert_eq!(header(&first, "ratelimit"), "\"default\";r=1199;t=30");
    let second = ctx.get("v1/stats").await;
    assert!(
        header(&second, "ratelimit").starts_with("\"default\";r=1198;t="),
        "{}",
        header(&second, "ratelimit")
    );
    for _ in 0..1198 {
        ctx.get("v1/stats").await;
    }
    let refused = ctx.get("v1/stats").await;
    assert_eq!(refused.status, 429);
    assert!(
        header(&refused, "ratelimit").starts_with("\"default\";r=0;t="),
        "{}",
        header(&refused, "ratelimit")
    );
    assert!(refused.headers.get("retry-after").is_some());

    let plain = Ctx::new().await;
    let answer = plain.get("v1/stats").await;
    assert!(answer.headers.get("ratelimit").is_none());
}
