//! Where commands send their requests: Cloudflare (credentials in the environment)
//! or an emulator embedded in this process, with state kept in a data directory.

use std::path::PathBuf;

use cloudflare_images::{Client, ClientBuilder};
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
}

impl Backend {
    /// Connects as the environment says: `CLOUDFLARE_*` credentials mean the real
    /// API (or `CLOUDFLARE_BASE_URL`); none mean an embedded emulator whose state
    /// lives in [`data_dir`]. In that case one line on stderr says so, if
    /// `announce`.
    pub async fn connect(announce: bool) -> CliResult<Backend> {
        Self::connect_with(|name| std::env::var(name).ok(), announce).await
    }

    /// [`connect`](Self::connect) with the environment read through `lookup`.
    pub async fn connect_with(
        lookup: impl Fn(&str) -> Option<String>,
        announce: bool,
    ) -> CliResult<Backend> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if CREDENTIAL_VARS.iter().any(|v| get(v).is_some()) {
            let client = ClientBuilder::from_env_with(get)?
                .user_agent(USER_AGENT)
                .build()?;
            return Ok(Backend {
                client,
                emulator: None,
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
        let client = local_client(&emulator)?;
        Ok(Backend {
            client,
            emulator: Some(emulator),
        })
    }

    /// Stops the embedded emulator, if any (its state is already on disk).
    pub async fn close(self) {
        if let Some(emulator) = self.emulator {
            emulator.shutdown().await;
        }
    }
}

/// A client for an emulator running in this process.
pub fn local_client(emulator: &EmulatorHandle) -> CliResult<Client> {
    Ok(Client::builder()
        .api_token(LOCAL_TOKEN)
        .account_id(emulator.account_id())
        .base_url(emulator.base_url())
        .user_agent(USER_AGENT)
        .build()?)
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
