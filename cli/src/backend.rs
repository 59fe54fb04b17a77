//! Where commands send their requests: Cloudflare (credentials in the environment)
//! or an emulator embedded in this process, with state kept in a data directory.

use std::path::PathBuf;
use std::time::Duration;

use cloudflare_images::config::{Limits, Timeouts};
use cloudflare_images::{Client, ClientBuilder, RateLimit};
use cloudflare_images_emulator::{Config, Emulator, EmulatorHandle};

use crate::error::{CliError, CliResult};

/// The environment variables that carry credentials, as the SDK reads them.
pub const CREDENTIAL_VARS: &[&str] = &[
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_KEY",
    "CLOUDFLARE_EMAIL",
    "CLOUDFLARE_API_USER_SERVICE_KEY",
];

/// The token the CLI presents to its embedded emulator (which accepts any).
pub const LOCAL_TOKEN: &str = "cfimg-local";

const USER_AGENT: &str = concat!("cfimg/", env!("CARGO_PKG_VERSION"));

/// A client, and the emulator behind it when there is no real account.
pub struct Backend {
    /// The SDK client every command uses.
    pub client: Client,
    /// The embedded emulator, when no credentials are set.
    pub emulator: Option<EmulatorHandle>,
    /// The pace the client keeps, in requests per second, if any: the account's
    /// global limit, or the batch tokens' in batch mode.
    pub limit_per_sec: Option<f64>,
}

/// How `upload` tunes the client: pacing, connections, batch mode.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tuning {
    /// Pace to Cloudflare's global limit against the embedded emulator too
    /// (always done against an API reached with credentials).
    pub pace_local: bool,
    /// Pace to Cloudflare's global limit against an API reached with credentials.
    pub pace_remote: bool,
    /// The cap on requests in flight (the SDK's default if `None`).
    pub max_connections: Option<usize>,
    /// Batch mode with this many batch tokens.
    pub batch_tokens: Option<usize>,
    /// The account's global limit to pace to (Cloudflare's 1,200 per 5 minutes
    /// if `None`).
    pub api_rate: Option<RateLimit>,
    /// Each batch token's limit (Cloudflare's 200 per second if `None`).
    pub batch_rate: Option<RateLimit>,
}

/// How long one operation may take, waits for a pacing slot included, when
/// pacing: a full window of the global limit (5 minutes) plus an upload.
const PACED_TIMEOUT: Duration = Duration::from_secs(15 * 60);

fn tune(builder: ClientBuilder, tuning: Tuning, pace: bool) -> ClientBuilder {
    let mut limits = Limits::default();
    let mut timeouts = Timeouts::default();
    if pace {
        limits = limits.rate_limit(tuning.api_rate.unwrap_or_else(RateLimit::cloudflare_global));
        timeouts = timeouts.operation(PACED_TIMEOUT).upload(PACED_TIMEOUT);
    }
    if let Some(n) = tuning.max_connections {
        limits = limits.max_connections(n);
    }
    if let Some(rate) = tuning.batch_rate {
        limits = limits.batch_rate_limit(rate);
    }
    builder.limits(limits).timeouts(timeouts)
}

/// Requests per second a limit allows, sustained.
fn per_sec(rate: RateLimit) -> f64 {
    f64::from(rate.requests()) / rate.per().as_secs_f64()
}

fn finish(client: Client, tuning: Tuning, pace: bool) -> CliResult<(Client, Option<f64>)> {
    match tuning.batch_tokens {
        Some(tokens) => {
            let client = client.with_batch_api(tokens)?;
            let token = tuning
                .batch_rate
                .unwrap_or_else(RateLimit::cloudflare_batch_token);
            Ok((client, Some(per_sec(token) * tokens as f64)))
        }
        None => Ok((
            client,
            pace.then(|| per_sec(tuning.api_rate.unwrap_or_else(RateLimit::cloudflare_global))),
        )),
    }
}

impl Backend {
    /// Connects as the environment says: `CLOUDFLARE_*` credentials mean the real
    /// API (or `CLOUDFLARE_BASE_URL`); none mean an embedded emulator whose state
    /// lives in [`data_dir`]. In that case one line on stderr says so, if
    /// `announce`.
    pub async fn connect(announce: bool) -> CliResult<Backend> {
        Self::connect_tuned(|name| std::env::var(name).ok(), announce, Tuning::default()).await
    }

    /// [`connect`](Self::connect), with the client tuned for bulk uploads.
    pub async fn connect_for_upload(announce: bool, tuning: Tuning) -> CliResult<Backend> {
        Self::connect_tuned(|name| std::env::var(name).ok(), announce, tuning).await
    }

    /// [`connect`](Self::connect) with the environment read through `lookup`.
    #[cfg(test)]
    pub async fn connect_with(
        lookup: impl Fn(&str) -> Option<String>,
        announce: bool,
    ) -> CliResult<Backend> {
        Self::connect_tuned(lookup, announce, Tuning::default()).await
    }

    /// [`connect`](Self::connect) with the environment read through `lookup`
    /// and the client tuned by `tuning`.
    pub async fn connect_tuned(
        lookup: impl Fn(&str) -> Option<String>,
        announce: bool,
        tuning: Tuning,
    ) -> CliResult<Backend> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if CREDENTIAL_VARS.iter().any(|v| get(v).is_some()) {
            let builder = ClientBuilder::from_env_with(get)?.user_agent(USER_AGENT);
            let pace = tuning.pace_remote;
            let (client, limit_per_sec) =
                finish(tune(builder, tuning, pace).build()?, tuning, pace)?;
            return Ok(Backend {
                client,
                emulator: None,
                limit_per_sec,
            });
        }
        if get("CLOUDFLARE_BASE_URL").is_some() {
            return Err(CliError::usage(
                "CLOUDFLARE_BASE_URL is set but no credentials are: set CLOUDFLARE_API_TOKEN (and CLOUDFLARE_ACCOUNT_ID)",
            ));
        }
        let dir = data_dir(get)?;
        std::fs::create_dir_all(&dir).map_err(|e| {
            CliError::new(format!(
                "cannot create the data directory {}: {e}",
                dir.display()
            ))
        })?;
        let emulator = Emulator::start_with(Config {
            data_dir: Some(dir.clone()),
            ..Config::default()
        })
        .await
        .map_err(|e| {
            CliError::new(format!(
                "cannot start the local emulator (data in {}): {e}",
                dir.display()
            ))
        })?;
        if announce {
            eprintln!(
                "cfimg: no CLOUDFLARE_API_TOKEN set; using the local emulator (data in {})",
                dir.display()
            );
        }
        let pace = tuning.pace_local;
        let builder = tune(local_builder(&emulator), tuning, pace);
        let (client, limit_per_sec) = finish(builder.build()?, tuning, pace)?;
        Ok(Backend {
            client,
            emulator: Some(emulator),
            limit_per_sec,
        })
    }

    /// Stops the embedded emulator, if any (its state is already on disk).
    pub async fn close(self) {
        if let Some(emulator) = self.emulator {
            emulator.shutdown().await;
        }
    }

    /// Whether requests go to the embedded emulator (whose delivery URLs work
    /// only while this process runs).
    pub fn local(&self) -> bool {
        self.emulator.is_some()
    }

    /// Where an upload journal's rows belong: the embedded emulator (`local`,
    /// whatever port it got), or the account and API the client talks to.
    pub fn target(&self) -> String {
        if self.local() {
            "local".into()
        } else {
            format!("{}@{}", self.client.account_id(), self.client.base_url())
        }
    }
}

/// A client builder for an emulator running in this process, with its batch host.
fn local_builder(emulator: &EmulatorHandle) -> ClientBuilder {
    Client::builder()
        .api_token(LOCAL_TOKEN)
        .account_id(emulator.account_id())
        .base_url(emulator.base_url())
        .batch_url(emulator.batch_url())
        .user_agent(USER_AGENT)
}

/// A client for an emulator running in this process.
pub fn local_client(emulator: &EmulatorHandle) -> CliResult<Client> {
    Ok(local_builder(emulator).build()?)
}

/// The local data directory: `$CFIMG_DATA_DIR`, else `$XDG_DATA_HOME/cfimg`, else
/// `$HOME/.local/share/cfimg`.
pub fn data_dir(get: impl Fn(&str) -> Option<String>) -> CliResult<PathBuf> {
    if let Some(dir) = get("CFIMG_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = get("XDG_DATA_HOME") {
        return Ok(PathBuf::from(dir).join("cfimg"));
    }
    if let Some(home) = get("HOME") {
        return Ok(PathBuf::from(home).join(".local/share/cfimg"));
    }
    Err(CliError::usage(
        "no data directory for the local emulator: set CFIMG_DATA_DIR (or HOME), or CLOUDFLARE_API_TOKEN to use Cloudflare",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn data_dir_precedence() {
        let d = |vars| data_dir(env(vars)).unwrap();
        assert_eq!(
            d(&[
                ("CFIMG_DATA_DIR", "/a"),
                ("XDG_DATA_HOME", "/x"),
                ("HOME", "/h")
            ]),
            PathBuf::from("/a")
        );
        assert_eq!(
            d(&[("XDG_DATA_HOME", "/x"), ("HOME", "/h")]),
            PathBuf::from("/x/cfimg")
        );
        assert_eq!(d(&[("HOME", "/h")]), PathBuf::from("/h/.local/share/cfimg"));
        assert!(data_dir(env(&[])).is_err());
    }

    #[tokio::test]
    async fn base_url_without_credentials_is_refused() {
        let e = Backend::connect_with(env(&[("CLOUDFLARE_BASE_URL", "http://x")]), false)
            .await
            .err()
            .unwrap();
        assert!(e.message.contains("no credentials"));
    }

    #[tokio::test]
    async fn credentials_without_account_are_a_config_error() {
        let e = Backend::connect_with(env(&[("CLOUDFLARE_API_TOKEN", "t")]), false)
            .await
            .err()
            .unwrap();
        assert!(e.message.contains("account id"), "{}", e.message);
    }
}
