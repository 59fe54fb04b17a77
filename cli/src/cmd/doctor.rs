//! `cfimg doctor`: why a setup does not work, one line per check.
//!
//! The checks run in order and each later one needs the earlier ones (a wrong
//! token makes every account request fail), so after a failure that explains
//! the rest, the rest are reported as skipped rather than as more failures.
//! Nothing is changed: the flexible-variants setting is read with an empty
//! `PATCH v1/config` (Cloudflare documents no `GET`), which also shows whether
//! the token may edit Images. No secret is printed: not the token, not a key's
//! value, not the batch token.

use std::time::Duration;

use clap::Args;
use cloudflare_images::delivery::SigningKey;
use cloudflare_images::Client;
use serde_json::{json, Value};

use crate::backend::{self, Backend};
use crate::error::{CliError, CliResult};
use crate::output::{self, print_json, print_out};

/// The help shown after `cfimg doctor`'s options.
pub const AFTER_HELP: &str = "\
Checks, in order: config (credentials and account id in the environment), token
(valid and active), account (the token reaches CLOUDFLARE_ACCOUNT_ID), permissions
(read, edit), signing-keys, flexible-variants, batch-token, rate-limit (headroom
left in the current window). Exits 1 naming the checks that failed.

Examples:
  cfimg doctor
  cfimg doctor --json | jq '.checks[] | select(.status != \"ok\")'
  cfimg doctor --strict        # warnings (e.g. flexible variants off) fail too";

/// Arguments of `cfimg doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Fail on warnings too (flexible variants off, a read-only token, little
    /// rate-limit headroom).
    #[arg(long)]
    pub strict: bool,
}

/// How long each request of a check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);
/// The most of a response body read for a check (the answers are small).
const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

#[derive(Debug)]
struct Check {
    name: &'static str,
    status: Status,
    detail: String,
}

#[derive(Default)]
struct Report {
    checks: Vec<Check>,
}

impl Report {
    fn add(&mut self, name: &'static str, status: Status, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            status,
            detail: detail.into(),
        });
    }

    fn skip(&mut self, names: &[&'static str], why: &str) {
        for name in names {
            self.add(name, Status::Skip, format!("not checked: {why}"));
        }
    }
}

/// Runs `cfimg doctor`: connects itself, so a configuration error is reported
/// as the first check rather than ending the command.
pub async fn run(args: DoctorArgs) -> CliResult<()> {
    let mut report = Report::default();
    match Backend::connect(false).await {
        Ok(backend) => {
            diagnose(&backend, &mut report).await;
            backend.close().await;
        }
        Err(e) => {
            report.add("config", Status::Fail, e.to_string());
            report.skip(&AFTER_CONFIG, "the configuration is incomplete");
        }
    }
    finish(&report, args.strict)
}

const AFTER_CONFIG: [&str; 7] = [
    "token",
    "account",
    "permissions",
    "signing-keys",
    "flexible-variants",
    "batch-token",
    "rate-limit",
];

fn finish(report: &Report, strict: bool) -> CliResult<()> {
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail || (strict && c.status == Status::Warn))
        .map(|c| c.name)
        .collect();
    if output::machine() {
        print_json(&json!({
            "ok": failed.is_empty(),
            "failed": failed,
            "checks": report
                .checks
                .iter()
                .map(|c| json!({"check": c.name, "status": c.status.as_str(), "detail": c.detail}))
                .collect::<Vec<_>>(),
        }));
    } else {
        let mut text = String::new();
        for c in &report.checks {
            text.push_str(&format!(
                "{:<5} {:<18} {}\n",
                c.status.as_str(),
                c.name,
                c.detail
            ));
        }
        print_out(&text);
    }
    if failed.is_empty() {
        return Ok(());
    }
    let mut err = CliError::new(format!("doctor: failed: {}", failed.join(", ")));
    err.json_printed = output::machine();
    Err(err)
}

/// How requests outside the SDK authenticate: as the SDK does, from the same
/// environment (or the embedded emulator's token).
enum Auth {
    Bearer(String),
    GlobalKey { email: String, key: String },
    ServiceKey(String),
}

impl Auth {
    fn from_env(local: bool) -> Option<Auth> {
        if local {
            return Some(Auth::Bearer(backend::LOCAL_TOKEN.to_string()));
        }
        let get = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        if let Some(token) = get("CLOUDFLARE_API_TOKEN") {
            return Some(Auth::Bearer(token));
        }
        if let (Some(email), Some(key)) = (get("CLOUDFLARE_EMAIL"), get("CLOUDFLARE_API_KEY")) {
            return Some(Auth::GlobalKey { email, key });
        }
        get("CLOUDFLARE_API_USER_SERVICE_KEY").map(Auth::ServiceKey)
    }

    fn apply(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::Bearer(token) => rb.bearer_auth(token),
            Auth::GlobalKey { email, key } => {
                rb.header("X-Auth-Email", email).header("X-Auth-Key", key)
            }
            Auth::ServiceKey(key) => rb.header("X-Auth-User-Service-Key", key),
        }
    }
}

/// A raw answer: status, the headers doctor reads, the JSON body (`Null` if
/// none or too large).
struct Answer {
    status: u16,
    ratelimit: Option<String>,
    policy: Option<String>,
    retry_after: Option<String>,
    body: Value,
}

async fn get(client: &Client, auth: &Auth, url: &str) -> Result<Answer, String> {
    let rb = client.http_client().get(url).timeout(CHECK_TIMEOUT);
    let mut resp = auth
        .apply(rb)
        .send()
        .await
        .map_err(|e| format!("cannot reach {}: {}", client.base_url(), without_url(&e)))?;
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (ratelimit, policy, retry_after) = (
        header("ratelimit"),
        header("ratelimit-policy"),
        header("retry-after"),
    );
    let status = resp.status().as_u16();
    let mut bytes = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading the answer: {}", without_url(&e)))?
    {
        if bytes.len() + chunk.len() > MAX_BODY {
            bytes.clear();
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        ratelimit,
        policy,
        retry_after,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    })
}

/// A transport error's causes (reqwest's own message repeats the URL, said
/// once already), else its message.
fn without_url(e: &reqwest::Error) -> String {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    if causes.is_empty() {
        e.to_string()
    } else {
        causes.join(": ")
    }
}

/// Cloudflare's first error `(code, message)` in an envelope.
fn first_error(body: &Value) -> Option<(i64, String)> {
    let e = body.get("errors")?.get(0)?;
    Some((
        e.get("code")?.as_i64()?,
        e.get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    ))
}

async fn diagnose(ctx: &Backend, report: &mut Report) {
    let client = &ctx.client;
    let account = client.account_id().to_string();
    if ctx.local() {
        report.add(
            "config",
            Status::Ok,
            "no credentials set: the local emulator embedded in cfimg",
        );
    } else {
        report.add(
            "config",
            Status::Ok,
            format!(
                "credentials from the environment; API {}",
                client.base_url()
            ),
        );
    }
    let Some(auth) = Auth::from_env(ctx.local()) else {
        report.add("token", Status::Fail, "no credentials found");
        report.skip(&AFTER_CONFIG[1..], "no credentials");
        return;
    };

    // token
    if let Auth::Bearer(_) = auth {
        let url = format!("{}/user/tokens/verify", client.base_url());
        match get(client, &auth, &url).await {
            Err(e) => {
                report.add("token", Status::Fail, e);
                report.skip(&AFTER_CONFIG[1..], "the API cannot be reached");
                return;
            }
            Ok(a) if a.status == 200 => {
                let status = a.body["result"]["status"].as_str().unwrap_or("unknown");
                let expires = a.body["result"]["expires_on"]
                    .as_str()
                    .map(|t| format!(", expires {t}"))
                    .unwrap_or_default();
                if status == "active" {
                    report.add("token", Status::Ok, format!("valid and active{expires}"));
                } else {
                    report.add(
                        "token",
                        Status::Fail,
                        format!("the token is {status}: make a new one or enable it in the dashboard"),
                    );
                    report.skip(&AFTER_CONFIG[1..], "the token is not active");
                    return;
                }
            }
            Ok(a) if a.status == 404 => report.add(
                "token",
                Status::Warn,
                "this API cannot verify tokens (no user/tokens/verify); checked through the account below",
            ),
            Ok(a) if a.status == 401 || a.status == 403 || a.status == 400 => {
                let said = first_error(&a.body)
                    .map(|(code, m)| format!(" (Cloudflare: {m}, code {code})"))
                    .unwrap_or_default();
                report.add(
                    "token",
                    Status::Fail,
                    format!(
                        "wrong token: Cloudflare does not accept CLOUDFLARE_API_TOKEN{said}; copy it again from the dashboard"
                    ),
                );
                report.skip(&AFTER_CONFIG[1..], "the token is wrong");
                return;
            }
            Ok(a) => {
                report.add(
                    "token",
                    Status::Warn,
                    format!("could not be verified (HTTP {}); checked through the account below", a.status),
                );
            }
        }
    } else {
        report.add(
            "token",
            Status::Ok,
            "not a token (X-Auth-Key credentials): checked through the account below",
        );
    }

    // account
    match client
        .v1()
        .stats()
        .get()
        .timeout(CHECK_TIMEOUT)
        .send()
        .await
    {
        Ok(stats) => {
            let count = stats.count.unwrap_or_default();
            let n = |v: Option<f64>| v.map_or("?".to_string(), |v| format!("{v:.0}"));
            report.add(
                "account",
                Status::Ok,
                format!(
                    "{account}: {} of {} images stored",
                    n(count.current),
                    n(count.allowed)
                ),
            );
        }
        Err(e) => {
            let denied = matches!(e.status(), Some(401 | 403))
                || e.code_numbers()
                    .any(|c| c == crate::error::CODE_AUTHENTICATION);
            let detail = if denied {
                format!(
                    "the token is valid but cannot reach account {account}: check CLOUDFLARE_ACCOUNT_ID, and that the token has an Images permission on that account"
                )
            } else {
                format!("account {account}: {}", CliError::from(e))
            };
            report.add("account", Status::Fail, detail);
            report.skip(&AFTER_CONFIG[2..], "the account cannot be reached");
            return;
        }
    }

    // permissions and flexible variants: one request that changes nothing.
    let config = client
        .v1()
        .config()
        .edit()
        .timeout(CHECK_TIMEOUT)
        .send()
        .await;
    let (permissions, flexible) = match config {
        Ok(c) => (
            (Status::Ok, "may read and edit Images".to_string()),
            match c.flexible_variants {
                Some(true) => (Status::Ok, "on".to_string()),
                Some(false) => (
                    Status::Warn,
                    "off: delivery URLs with options like w=400,h=300 are refused (turn on: cfimg config --flexible-variants on)".to_string(),
                ),
                None => (Status::Warn, "the API did not say".to_string()),
            },
        ),
        Err(e) if matches!(e.status(), Some(401 | 403)) => (
            (
                Status::Warn,
                "may read Images but not edit them: uploads, variants and keys need Images Edit".to_string(),
            ),
            (
                Status::Warn,
                "unknown: reading it needs Images Edit".to_string(),
            ),
        ),
        Err(e) => (
            (Status::Warn, "edit access unknown".to_string()),
            (Status::Fail, CliError::from(e).to_string()),
        ),
    };
    report.add("permissions", permissions.0, permissions.1);

    // signing keys
    match client.v1().keys().signing_keys().await {
        Ok(keys) if keys.is_empty() => report.add(
            "signing-keys",
            Status::Fail,
            "the account has no signing key: signed URLs cannot be made (cfimg keys create NAME)",
        ),
        Ok(keys) => {
            let names: Vec<&str> = keys.iter().filter_map(SigningKey::name).collect();
            let signing = match super::keys::rotated_key(ctx).await {
                Ok(Some(name)) => Some(name),
                _ => SigningKey::choose(&keys)
                    .and_then(SigningKey::name)
                    .map(str::to_string),
            };
            report.add(
                "signing-keys",
                Status::Ok,
                format!(
                    "{} ({}); cfimg signs with {}",
                    names.len(),
                    names.join(", "),
                    signing.as_deref().unwrap_or("?")
                ),
            );
        }
        Err(e) => report.add("signing-keys", Status::Fail, CliError::from(e).to_string()),
    }

    report.add("flexible-variants", flexible.0, flexible.1);

    // batch token: issued, never printed.
    match client
        .v1()
        .batch_token()
        .get()
        .timeout(CHECK_TIMEOUT)
        .send()
        .await
    {
        Ok(token) => report.add(
            "batch-token",
            Status::Ok,
            format!(
                "issued (valid until {}); `upload --batch-api` can use it",
                token.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        ),
        Err(e) => report.add("batch-token", Status::Fail, CliError::from(e).to_string()),
    }

    // rate limit: the headroom Cloudflare reports on an ordinary request.
    let url = format!("{}/accounts/{}/images/v1/stats", client.base_url(), account);
    match get(client, &auth, &url).await {
        Err(e) => report.add("rate-limit", Status::Fail, e),
        Ok(a) if a.status == 429 => report.add(
            "rate-limit",
            Status::Fail,
            format!(
                "rate-limited now: no headroom left; retry after {}s",
                a.retry_after.as_deref().unwrap_or("?")
            ),
        ),
        Ok(a) => {
            let (status, detail) = headroom(a.ratelimit.as_deref(), a.policy.as_deref());
            report.add("rate-limit", status, detail);
        }
    }
}

/// A parameter `name=value` of a structured header item (`"default";r=50;t=30`).
fn param(item: &str, name: &str) -> Option<u64> {
    item.split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim() == name)
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// The headroom the `Ratelimit` and `Ratelimit-Policy` headers report
/// (<https://developers.cloudflare.com/fundamentals/api/reference/limits/>): a
/// warning below a tenth of the quota.
fn headroom(ratelimit: Option<&str>, policy: Option<&str>) -> (Status, String) {
    let Some(item) = ratelimit.and_then(|h| h.split(',').next()) else {
        return (
            Status::Ok,
            "the API sends no Ratelimit header; Cloudflare allows 1,200 requests per 5 minutes, which cfimg paces to".to_string(),
        );
    };
    let (Some(left), reset) = (param(item, "r"), param(item, "t")) else {
        return (Status::Warn, format!("unreadable Ratelimit header: {item}"));
    };
    let quota = policy
        .and_then(|p| p.split(',').next())
        .and_then(|p| Some((param(p, "q")?, param(p, "w"))));
    let reset = reset
        .map(|t| format!(", the window resets in {t}s"))
        .unwrap_or_default();
    match quota {
        Some((q, w)) => {
            let window = w.map(|w| format!(" per {w}s")).unwrap_or_default();
            let status = if left.saturating_mul(10) < q {
                Status::Warn
            } else {
                Status::Ok
            };
            (
                status,
                format!("{left} of {q} requests{window} left{reset}"),
            )
        }
        None => (Status::Ok, format!("{left} requests left{reset}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratelimit_headers() {
        let (s, d) = headroom(
            Some("\"default\";r=1100;t=30"),
            Some("\"default\";q=1200;w=300"),
        );
        assert_eq!(s, Status::Ok);
        assert_eq!(
            d,
            "1100 of 1200 requests per 300s left, the window resets in 30s"
        );
        let (s, _) = headroom(
            Some("\"default\";r=50;t=30"),
            Some("\"default\";q=1200;w=300"),
        );
        assert_eq!(s, Status::Warn);
        let (s, d) = headroom(Some("\"default\";r=7"), None);
        assert_eq!((s, d.as_str()), (Status::Ok, "7 requests left"));
        assert_eq!(headroom(Some("garbage"), None).0, Status::Warn);
        assert_eq!(headroom(None, None).0, Status::Ok);
    }

    #[test]
    fn cloudflare_errors() {
        let body = json!({"errors": [{"code": 1000, "message": "Invalid API Token"}]});
        assert_eq!(first_error(&body), Some((1000, "Invalid API Token".into())));
        assert_eq!(first_error(&Value::Null), None);
    }
}
