//! Client configuration: credentials, account, base URL.

use std::fmt;
use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::config::{Limits, RetryPolicy, Timeouts, DEFAULT_BASE_URL};
use crate::error::{Error, Result};
use crate::runtime::{Config, Operation, Parts, Transport};

/// A secret string: never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself; handle with care.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

/// How requests authenticate.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Credentials {
    /// An API token, sent as `Authorization: Bearer <token>` (preferred).
    ApiToken(Secret),
    /// The account email and Global API key (`X-Auth-Email`, `X-Auth-Key`).
    GlobalKey {
        /// Account email.
        email: String,
        /// Global API key.
        key: Secret,
    },
    /// A user service key (`X-Auth-User-Service-Key`), deprecated by Cloudflare.
    UserServiceKey(Secret),
}

impl Credentials {
    fn headers(&self) -> Result<HeaderMap> {
        fn sensitive(value: &str, what: &str) -> Result<HeaderValue> {
            let mut v = HeaderValue::from_str(value).map_err(|_| {
                Error::config(format!(
                    "the {what} contains characters not allowed in an HTTP header"
                ))
            })?;
            v.set_sensitive(true);
            Ok(v)
        }
        let mut headers = HeaderMap::new();
        match self {
            Credentials::ApiToken(token) => {
                if token.expose().is_empty() {
                    return Err(Error::config("the API token is empty"));
                }
                headers.insert(
                    reqwest::header::AUTHORIZATION,
                    sensitive(&format!("Bearer {}", token.expose()), "API token")?,
                );
            }
            Credentials::GlobalKey { email, key } => {
                if email.is_empty() || key.expose().is_empty() {
                    return Err(Error::config(
                        "the email and the global API key must both be set",
                    ));
                }
                headers.insert(
                    HeaderName::from_static("x-auth-email"),
                    sensitive(email, "email")?,
                );
                headers.insert(
                    HeaderName::from_static("x-auth-key"),
                    sensitive(key.expose(), "API key")?,
                );
            }
            Credentials::UserServiceKey(key) => {
                if key.expose().is_empty() {
                    return Err(Error::config("the user service key is empty"));
                }
                headers.insert(
                    HeaderName::from_static("x-auth-user-service-key"),
                    sensitive(key.expose(), "user service key")?,
                );
            }
        }
        Ok(headers)
    }
}

/// A Cloudflare Images client for one account.
///
/// Cheap to clone (an `Arc` inside); share one per process: clones share the
/// connection pool, the cap on requests in flight and the rate-limit state.
/// Operations hang off the resource tree: [`v1`](Client::v1), [`v2`](Client::v2).
#[derive(Clone)]
pub struct Client {
    transport: Arc<Transport>,
    account_id: Arc<str>,
    /// The bound of [`Blob::bytes`](crate::Blob::bytes): `max_response_bytes`,
    /// kept here because the transport reads it only for buffered bodies.
    max_blob_bytes: u64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.transport.base_url())
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder; see [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment, with the variable names of
    /// Cloudflare's official SDKs: `CLOUDFLARE_API_TOKEN`, or `CLOUDFLARE_EMAIL` with
    /// `CLOUDFLARE_API_KEY`, or `CLOUDFLARE_API_USER_SERVICE_KEY`; plus
    /// `CLOUDFLARE_ACCOUNT_ID` and optionally `CLOUDFLARE_BASE_URL` (and
    /// `CLOUDFLARE_BATCH_URL` for batch mode).
    pub fn from_env() -> Result<Client> {
        ClientBuilder::from_env_with(|name| std::env::var(name).ok())?.build()
    }

    /// The account every call addresses.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The same client (connection pool, credentials, limits) addressing
    /// another account.
    pub fn with_account(&self, account_id: impl Into<String>) -> Result<Client> {
        let account_id = account_id.into();
        check_account_id(&account_id)?;
        Ok(Client {
            transport: Arc::clone(&self.transport),
            account_id: account_id.into(),
            max_blob_bytes: self.max_blob_bytes,
        })
    }

    /// The API base URL, e.g. `https://api.cloudflare.com/client/v4`.
    pub fn base_url(&self) -> &str {
        self.transport.base_url()
    }

    /// The underlying HTTP client. Credentials are not in it: the SDK adds them
    /// to each request it sends.
    pub fn http_client(&self) -> &reqwest::Client {
        self.transport.http()
    }

    /// The same client (connection pool, credentials, account, limits) in
    /// batch mode: the operations Cloudflare's Batch API serves (`v1().create()`,
    /// `v1().get/edit/delete()`, `v2().list()`, `v2().direct_uploads().create()`)
    /// go to the batch host ([`ClientBuilder::batch_url`]) with batch tokens
    /// fetched from `GET v1/batch_token` and renewed a minute before they expire,
    /// outside the account's global limit; each of the `tokens` tokens is paced
    /// to [`BATCH_REQUESTS_PER_SECOND`](crate::config::BATCH_REQUESTS_PER_SECOND) and
    /// operations are spread over them in turn. Every other operation goes to
    /// the API as before. Retries, deadlines and tracing are the same.
    pub fn with_batch_api(&self, tokens: usize) -> Result<Client> {
        if tokens == 0 {
            return Err(Error::invalid_input("batch mode needs at least one token"));
        }
        Ok(Client {
            transport: Arc::new(self.transport.with_batch(Some(tokens))?),
            account_id: Arc::clone(&self.account_id),
            max_blob_bytes: self.max_blob_bytes,
        })
    }

    /// The same client with batch mode off: every operation to the API.
    pub fn without_batch_api(&self) -> Result<Client> {
        Ok(Client {
            transport: Arc::new(self.transport.with_batch(None)?),
            account_id: Arc::clone(&self.account_id),
            max_blob_bytes: self.max_blob_bytes,
        })
    }

    /// In batch mode, the batch host's base URL and the number of tokens.
    pub fn batch_api(&self) -> Option<(String, usize)> {
        self.transport
            .batch_settings()
            .map(|s| (s.base_url, s.tokens))
    }

    /// Where batch mode sends (see [`ClientBuilder::batch_url`]).
    pub fn batch_url(&self) -> &str {
        self.transport.batch_url()
    }

    /// Sends an operation through the transport and returns its `result`.
    pub(crate) async fn execute<T: serde::de::DeserializeOwned>(
        &self,
        operation: Operation,
    ) -> Result<T> {
        self.transport.execute(&self.account_id, operation).await
    }

    /// Sends an operation whose answer is a body to stream (blobs).
    pub(crate) async fn execute_blob(&self, operation: Operation) -> Result<crate::Blob> {
        let (response, deadline) = self
            .transport
            .execute_stream(&self.account_id, operation)
            .await?;
        Ok(crate::Blob::from_response(
            response,
            deadline,
            self.max_blob_bytes,
        ))
    }
}

/// The length of a Cloudflare account id: 32 hexadecimal digits.
const ACCOUNT_ID_LEN: usize = 32;

/// Refuses an account id that is not Cloudflare's shape (32 hex digits): such an
/// id can only fail at the API, and one with `/` or `?` would otherwise be sent,
/// encoded, as part of every request path.
fn check_account_id(account_id: &str) -> Result<()> {
    if account_id.len() == ACCOUNT_ID_LEN && account_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(());
    }
    // The value is not a secret, but it is the caller's input: show it escaped and
    // cut, so a long or binary value does not flood a log line.
    let shown: String = account_id.chars().take(40).collect();
    Err(Error::invalid_input(format!(
        "account id {shown:?} is not a Cloudflare account id ({ACCOUNT_ID_LEN} hexadecimal digits)"
    )))
}

/// Builds a [`Client`]. Credentials and the account id are required.
#[derive(Default)]
pub struct ClientBuilder {
    credentials: Option<Credentials>,
    account_id: Option<String>,
    base_url: Option<String>,
    timeouts: Timeouts,
    limits: Limits,
    http: Option<reqwest::Client>,
    user_agent: Option<String>,
    retry: RetryPolicy,
    batch_url: Option<String>,
    batch_tokens: Option<usize>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("credentials", &self.credentials)
            .field("account_id", &self.account_id)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Authenticates with an API token (preferred).
    pub fn api_token(mut self, token: impl Into<Secret>) -> Self {
        self.credentials = Some(Credentials::ApiToken(token.into()));
        self
    }

    /// Authenticates with the account email and Global API key.
    pub fn global_key(mut self, email: impl Into<String>, key: impl Into<Secret>) -> Self {
        self.credentials = Some(Credentials::GlobalKey {
            email: email.into(),
            key: key.into(),
        });
        self
    }

    /// Sets the credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The account every call addresses (see [`Client::with_account`]).
    pub fn account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(account_id.into());
        self
    }

    /// Overrides the API base URL (a local emulator, a proxy).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// The deadlines (default [`Timeouts::default`]): connect, read, one
    /// attempt, one operation with its retries, one upload. Requests can override
    /// the attempt and operation deadlines for themselves (`.attempt_timeout(d)`,
    /// `.timeout(d)`).
    ///
    /// The value replaces the whole group, as a later call replaces an earlier
    /// one; to change one deadline, start from the defaults:
    ///
    /// ```
    /// use std::time::Duration;
    /// use cloudflare_images::config::Timeouts;
    ///
    /// let client = cloudflare_images::Client::builder()
    ///     .api_token("token")
    ///     .account_id("023e105f4ecef8ad9ca31a8372d0c353")
    ///     .timeouts(Timeouts::default().connect(Duration::from_secs(3)))
    ///     .build()?;
    /// # let _ = client;
    /// # Ok::<(), cloudflare_images::Error>(())
    /// ```
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Memory, connection and pacing limits (default [`Limits::default`]):
    /// the largest body read into memory, the requests in flight, the rate limit
    /// to pace to, the pace of each batch token. Like [`timeouts`](Self::timeouts),
    /// the value replaces the whole group: start from `Limits::default()` to change
    /// one limit.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sends through your own `reqwest::Client` (proxies, custom roots,
    /// middleware). The SDK still adds the credentials to each request, so the
    /// client must not carry them as default headers. An answer that your
    /// client reached by following a redirect to another host is refused; since
    /// reqwest drops `Authorization` on such a redirect but not the `X-Auth-*`
    /// headers, only [`api_token`](Self::api_token) credentials are accepted
    /// with your own client. Build it from [`http_client_builder`](crate::http_client_builder)
    /// (the SDK's TLS; with the `rustls` feature a plain
    /// `reqwest::Client::builder()` has no crypto provider) with
    /// `.redirect(reqwest::redirect::Policy::none())` and `.referer(false)`: a client that follows a redirect sends the API URL
    /// (with the account id) to the other host as its `Referer` before the SDK
    /// sees the answer. Its timeouts and pool settings are yours;
    /// the connect and read deadlines of [`Timeouts`] do not apply to it.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Turns batch mode on with `tokens` batch tokens (see
    /// [`Client::with_batch_api`]).
    pub fn batch_api(mut self, tokens: usize) -> Self {
        self.batch_tokens = Some(tokens);
        self
    }

    /// The batch host's base URL (default
    /// [`DEFAULT_BATCH_URL`](crate::config::DEFAULT_BATCH_URL), or
    /// `CLOUDFLARE_BATCH_URL` with [`Client::from_env`]); requests go to
    /// `<batch_url>/images/v1...`.
    pub fn batch_url(mut self, url: impl Into<String>) -> Self {
        self.batch_url = Some(url.into());
        self
    }

    /// When failed requests are repeated (default: [`RetryPolicy::default`],
    /// two retries of requests that cannot do anything twice; see
    /// [`crate::config::retry`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Replaces the `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// A builder filled from environment variables read through `lookup` (see
    /// [`Client::from_env`]).
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<ClientBuilder> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let credentials = if let Some(token) = get("CLOUDFLARE_API_TOKEN") {
            Some(Credentials::ApiToken(token.into()))
        } else if let (Some(email), Some(key)) =
            (get("CLOUDFLARE_EMAIL"), get("CLOUDFLARE_API_KEY"))
        {
            Some(Credentials::GlobalKey {
                email,
                key: key.into(),
            })
        } else if let Some(key) = get("CLOUDFLARE_API_USER_SERVICE_KEY") {
            Some(Credentials::UserServiceKey(key.into()))
        } else if get("CLOUDFLARE_API_KEY").is_some() || get("CLOUDFLARE_EMAIL").is_some() {
            return Err(Error::config(
                "CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL must be set together",
            ));
        } else {
            return Err(Error::config(
                "no credentials: set CLOUDFLARE_API_TOKEN (or CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY)",
            ));
        };
        Ok(ClientBuilder {
            credentials,
            account_id: get("CLOUDFLARE_ACCOUNT_ID"),
            base_url: get("CLOUDFLARE_BASE_URL"),
            batch_url: get("CLOUDFLARE_BATCH_URL"),
            ..ClientBuilder::default()
        })
    }

    /// Builds the client; fails on missing credentials, a missing account id or a
    /// bad base URL.
    pub fn build(self) -> Result<Client> {
        let credentials = self.credentials.ok_or_else(|| {
            Error::config("no credentials: call api_token() (or global_key()) on the builder")
        })?;
        let account_id = self.account_id.ok_or_else(|| {
            Error::config("no account id: call account_id() or set CLOUDFLARE_ACCOUNT_ID")
        })?;
        check_account_id(&account_id)?;
        let base_url = self
            .base_url
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let base_url = base_url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| Error::config(format!("invalid base URL {base_url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::config(format!(
                "base URL {base_url:?} is not http(s)"
            )));
        }
        if self.http.is_some() && !matches!(credentials, Credentials::ApiToken(_)) {
            return Err(Error::config(
                "with your own HTTP client, authenticate with an API token: reqwest removes \
                 Authorization on a redirect to another host, but not X-Auth-Key or X-Auth-Email",
            ));
        }
        let auth = credentials.headers()?;
        let ua = self.user_agent.unwrap_or_else(|| {
            concat!("cloudflare-images-rs/", env!("CARGO_PKG_VERSION")).to_string()
        });
        let user_agent =
            HeaderValue::from_str(&ua).map_err(|_| Error::config("invalid user agent"))?;
        let Limits {
            max_response_bytes,
            max_connections,
            rate_limit,
            batch_rate_limit,
        } = self.limits;
        // A struct literal could not set 0 (non_exhaustive), but a field can.
        let max_connections = max_connections.max(1);
        let timeouts = self.timeouts;
        let http = match self.http {
            Some(http) => http,
            None => crate::tls::http_client_builder()?
                // Cloudflare's API does not redirect: a redirect is an error, and
                // credentials never follow one.
                .redirect(reqwest::redirect::Policy::none())
                .referer(false)
                .connect_timeout(timeouts.connect)
                .read_timeout(timeouts.read)
                .pool_max_idle_per_host(max_connections)
                .build()
                .map_err(|e| Error::config("the HTTP client could not be built").with_source(e))?,
        };
        let transport = Transport::new(Parts {
            http,
            auth,
            user_agent,
            base_url,
            config: Config {
                attempt_timeout: timeouts.attempt,
                timeout: timeouts.operation,
                upload_timeout: timeouts.upload,
                max_response_bytes,
                retry: self.retry,
            },
            rate_limit,
            max_in_flight: max_connections,
            batch_url: self
                .batch_url
                .unwrap_or_else(|| crate::config::DEFAULT_BATCH_URL.to_string()),
            batch_tokens: match self.batch_tokens {
                Some(0) => return Err(Error::config("batch mode needs at least one token")),
                other => other,
            },
            batch_rate: batch_rate_limit,
        })?;
        Ok(Client {
            transport: Arc::new(transport),
            account_id: account_id.into(),
            max_blob_bytes: max_response_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";
    const OTHER: &str = "0123456789abcdef0123456789abcdef";

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn from_env_prefers_the_token_and_reads_account_and_base_url() {
        let b = ClientBuilder::from_env_with(env(&[
            ("CLOUDFLARE_API_TOKEN", "tok"),
            ("CLOUDFLARE_API_KEY", "key"),
            ("CLOUDFLARE_ACCOUNT_ID", ACCOUNT),
            ("CLOUDFLARE_BASE_URL", "http://127.0.0.1:9/client/v4/"),
        ]))
        .unwrap();
        assert!(matches!(&b.credentials, Some(Credentials::ApiToken(t)) if t.expose() == "tok"));
        let client = b.build().unwrap();
        assert_eq!(client.account_id(), ACCOUNT);
        assert_eq!(client.base_url(), "http://127.0.0.1:9/client/v4");
    }

    #[test]
    fn missing_credentials_and_account_are_config_errors() {
        let e = ClientBuilder::from_env_with(env(&[])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("CLOUDFLARE_API_TOKEN"));
        let e = ClientBuilder::from_env_with(env(&[("CLOUDFLARE_API_KEY", "k")])).unwrap_err();
        assert!(e.to_string().contains("together"));
        let e = Client::builder().api_token("t").build().unwrap_err();
        assert!(e.to_string().contains("account id"));
        let e = Client::builder().account_id(ACCOUNT).build().unwrap_err();
        assert!(e.to_string().contains("credentials"));
        let e = Client::builder()
            .api_token("t")
            .account_id(ACCOUNT)
            .base_url("ftp://x")
            .build()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let b = Client::builder()
            .global_key("me@example.com", "super-secret-key")
            .account_id(ACCOUNT);
        let text = format!("{b:?}");
        assert!(!text.contains("super-secret-key"), "{text}");
        let b = Client::builder()
            .api_token("tok-123-secret")
            .account_id(ACCOUNT);
        assert!(!format!("{b:?}").contains("tok-123-secret"));
        let client = b.build().unwrap();
        assert!(!format!("{client:?}").contains("tok-123-secret"));
        assert!(!format!("{:?}", client.http_client()).contains("tok-123-secret"));
        assert!(!format!("{:?}", client.transport).contains("tok-123-secret"));
    }

    #[test]
    fn with_account_keeps_the_pool_and_changes_the_account() {
        let a = Client::builder()
            .api_token("t")
            .account_id(ACCOUNT)
            .build()
            .unwrap();
        let b = a.with_account(OTHER).unwrap();
        assert_eq!((a.account_id(), b.account_id()), (ACCOUNT, OTHER));
        assert!(Arc::ptr_eq(&a.transport, &b.transport));
        assert!(a.with_account("").is_err());
    }

    #[test]
    fn only_cloudflare_shaped_account_ids_are_accepted() {
        let upper = ACCOUNT.to_uppercase();
        for good in [ACCOUNT, OTHER, upper.as_str()] {
            let client = Client::builder()
                .api_token("t")
                .account_id(good)
                .build()
                .unwrap();
            assert_eq!(client.with_account(good).unwrap().account_id(), good);
        }
        let slash = format!("{}/x", &ACCOUNT[..30]);
        let query = format!("{}?a", &ACCOUNT[..30]);
        let long = format!("{ACCOUNT}0");
        let not_hex = format!("{}g", &ACCOUNT[..31]);
        let multibyte = format!("{}é", &ACCOUNT[..30]);
        for bad in [
            "", "a", "acc", "..", &slash, &query, &long, &not_hex, &multibyte,
        ] {
            let e = Client::builder()
                .api_token("t")
                .account_id(bad)
                .build()
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}: {e}");
            assert!(e.to_string().contains("32 hexadecimal digits"), "{e}");
            let client = Client::builder()
                .api_token("t")
                .account_id(ACCOUNT)
                .build()
                .unwrap();
            let e = client.with_account(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}: {e}");
        }
    }
}
