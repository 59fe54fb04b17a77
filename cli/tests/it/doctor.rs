//! `cfimg doctor` against the emulator: every check passes on a good setup, and
//! each failure that can be provoked (a wrong token, a wrong account id, no
//! account id, an unreachable API, flexible variants off under `--strict`) is
//! named, with exit status 1 and no secret printed.

use crate::common::*;
use std::path::Path;
use std::process::Command;

use cloudflare_images_emulator::{Config, Emulator, EmulatorHandle};
use serde_json::Value;

const TOKEN: &str = "doctor-secret-token-1234";

const CHECKS: [&str; 8] = [
    "config",
    "token",
    "account",
    "permissions",
    "signing-keys",
    "flexible-variants",
    "batch-token",
    "rate-limit",
];

fn start(runtime: &tokio::runtime::Runtime, flexible: bool) -> EmulatorHandle {
    runtime
        .block_on(Emulator::start_with(Config {
            api_token: Some(TOKEN.into()),
            flexible_variants: flexible,
            ..Config::default()
        }))
        .unwrap()
}

fn doctor(base: &str, token: &str, account: Option<&str>, data: &Path, args: &[&str]) -> Run {
    let mut cmd: Command = local(data);
    cmd.env("CLOUDFLARE_BASE_URL", base)
        .env("CLOUDFLARE_API_TOKEN", token);
    if let Some(account) = account {
        cmd.env("CLOUDFLARE_ACCOUNT_ID", account);
    }
    let r = Run::from(cmd.arg("doctor").args(args).output().expect("cfimg runs"));
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(
        !r.stdout.contains(TOKEN) && !r.stderr.contains(TOKEN),
        "the token was printed:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    r
}

/// `(check, status)` of each line, in order.
fn lines(r: &Run) -> Vec<(String, String)> {
    r.stdout
        .lines()
        .map(|l| {
            let mut words = l.split_whitespace();
            let status = words.next().unwrap_or("").to_string();
            let check = words.next().unwrap_or("").to_string();
            (check, status)
        })
        .collect()
}

fn line<'a>(r: &'a Run, check: &str) -> &'a str {
    r.stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(check))
        .unwrap_or_else(|| panic!("no {check} line in\n{}", r.stdout))
}

fn statuses(r: &Run) -> Vec<String> {
    let l = lines(r);
    assert_eq!(
        l.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(),
        CHECKS,
        "{}",
        r.stdout
    );
    l.into_iter().map(|(_, s)| s).collect()
}

#[test]
fn a_good_setup_passes_every_check_without_printing_secrets() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = start(&runtime, true);
    let data = tempfile::tempdir().unwrap();
    let base = emulator.base_url();
    let r = doctor(&base, TOKEN, Some(emulator.account_id()), data.path(), &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(statuses(&r), ["ok"; 8]);
    assert!(
        line(&r, "token").ends_with("valid and active"),
        "{}",
        r.stdout
    );
    assert!(
        line(&r, "account").contains(&format!(
            "{}: 0 of 100000 images stored",
            emulator.account_id()
        )),
        "{}",
        r.stdout
    );
    assert!(
        line(&r, "permissions").contains("read and edit"),
        "{}",
        r.stdout
    );
    assert!(
        line(&r, "signing-keys").ends_with("1 (default); cfimg signs with default"),
        "{}",
        r.stdout
    );
    assert!(
        line(&r, "flexible-variants").ends_with(" on"),
        "{}",
        r.stdout
    );
    assert!(line(&r, "batch-token").contains("issued"), "{}", r.stdout);
    assert!(line(&r, "rate-limit").contains("1,200"), "{}", r.stdout);
    for (_, value) in emulator.signing_keys() {
        assert!(!r.stdout.contains(&value), "a key value was printed");
    }

    let r = doctor(
        &base,
        TOKEN,
        Some(emulator.account_id()),
        data.path(),
        &["--json"],
    );
    assert_eq!(r.code, 0);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["failed"], serde_json::json!([]));
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 8);
    assert!(checks.iter().all(|c| c["status"] == "ok"), "{v}");
    // The batch token issued for the check is not in the output.
    assert!(
        !r.stdout.to_lowercase().contains("\"token\":"),
        "{}",
        r.stdout
    );
    runtime.block_on(emulator.shutdown());
}

#[test]
fn a_wrong_token_is_reported_as_a_wrong_token() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = start(&runtime, true);
    let data = tempfile::tempdir().unwrap();
    let r = doctor(
        &emulator.base_url(),
        "not-the-token",
        Some(emulator.account_id()),
        data.path(),
        &[],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let s = statuses(&r);
    assert_eq!(s[..2], ["ok", "fail"]);
    assert!(s[2..].iter().all(|s| s == "skip"), "{}", r.stdout);
    let token = line(&r, "token");
    assert!(token.contains("wrong token"), "{token}");
    assert!(token.contains("Invalid API Token"), "{token}");
    assert!(!r.stdout.contains("Authentication error"), "{}", r.stdout);
    assert!(r.stderr.contains("doctor: failed: token"), "{}", r.stderr);
    assert!(!r.stdout.contains("not-the-token"));
    runtime.block_on(emulator.shutdown());
}

#[test]
fn a_wrong_or_missing_account_id_is_named() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = start(&runtime, true);
    let data = tempfile::tempdir().unwrap();
    let base = emulator.base_url();
    let other = "0123456789abcdef0123456789abcdef";
    let r = doctor(&base, TOKEN, Some(other), data.path(), &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let s = statuses(&r);
    assert_eq!(s[..3], ["ok", "ok", "fail"]);
    assert!(s[3..].iter().all(|s| s == "skip"), "{}", r.stdout);
    let account = line(&r, "account");
    assert!(
        account.contains(&format!(
            "the token is valid but cannot reach account {other}"
        )),
        "{account}"
    );
    assert!(r.stderr.contains("doctor: failed: account"), "{}", r.stderr);

    // A malformed id is a configuration error, named before any request.
    let r = doctor(&base, TOKEN, Some("my-account"), data.path(), &[]);
    assert_eq!(r.code, 1);
    assert!(
        line(&r, "config").starts_with("fail") && line(&r, "config").contains("my-account"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("doctor: failed: config"), "{}", r.stderr);

    let r = doctor(&base, TOKEN, None, data.path(), &["--json"]);
    assert_eq!(r.code, 1);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["failed"], serde_json::json!(["config"]));
    assert!(
        v["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("account id"),
        "{v}"
    );
    assert_eq!(v["checks"].as_array().unwrap().len(), 8);
    runtime.block_on(emulator.shutdown());
}

#[test]
fn flexible_variants_off_is_a_warning_and_fails_under_strict() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = start(&runtime, false);
    let data = tempfile::tempdir().unwrap();
    let base = emulator.base_url();
    let account = Some(emulator.account_id());
    let r = doctor(&base, TOKEN, account, data.path(), &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let flexible = line(&r, "flexible-variants");
    assert!(flexible.starts_with("warn"), "{flexible}");
    assert!(
        flexible.contains("cfimg config --flexible-variants on"),
        "{flexible}"
    );
    let r = doctor(&base, TOKEN, account, data.path(), &["--strict"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("doctor: failed: flexible-variants"),
        "{}",
        r.stderr
    );
    // Reading the setting changed nothing.
    let r = doctor(&base, TOKEN, account, data.path(), &[]);
    assert!(line(&r, "flexible-variants").starts_with("warn"));
    runtime.block_on(emulator.shutdown());
}

#[test]
fn an_unreachable_api_and_the_local_emulator() {
    let data = tempfile::tempdir().unwrap();
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/client/v4");
    let r = doctor(
        &base,
        TOKEN,
        Some("0123456789abcdef0123456789abcdef"),
        data.path(),
        &[],
    );
    assert_eq!(r.code, 1);
    assert!(line(&r, "token").contains("cannot reach"), "{}", r.stdout);
    assert!(r.stderr.contains("doctor: failed: token"), "{}", r.stderr);

    // Without credentials: the embedded emulator, whose flexible variants are off.
    let r = Run::from(local(data.path()).arg("doctor").output().unwrap());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let s = statuses(&r);
    assert_eq!(s[..5], ["ok"; 5]);
    assert_eq!(s[5], "warn");
    assert!(
        line(&r, "config").contains("local emulator"),
        "{}",
        r.stdout
    );
}

/// With the emulator's rate windows on, its answers carry Cloudflare's
/// `Ratelimit` and `Ratelimit-Policy` headers, and doctor reports the headroom
/// they give: the quota, the window, and what the checks before it used.
#[test]
fn the_rate_limit_check_reads_the_headroom_headers() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime
        .block_on(Emulator::start_with(Config {
            api_token: Some(TOKEN.into()),
            flexible_variants: true,
            rate_limits: true,
            ..Config::default()
        }))
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let r = doctor(
        &emulator.base_url(),
        TOKEN,
        Some(emulator.account_id()),
        data.path(),
        &[],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let rate = line(&r, "rate-limit");
    // The requests doctor made before this check were counted against 1,200.
    let api_requests = emulator
        .requests()
        .iter()
        .filter(|q| q.path.starts_with("/client/v4/"))
        .count();
    assert!(api_requests > 0);
    let left = rate
        .split_whitespace()
        .skip_while(|w| *w != "rate-limit")
        .nth(1)
        .and_then(|w| w.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no count in {rate:?}"));
    assert!(left < 1200 && left >= 1200 - api_requests, "{rate}");
    assert!(
        rate.contains("of 1200 requests per 300s left, the window resets in"),
        "{rate}"
    );
}
