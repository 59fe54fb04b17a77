//! The one way every request leaves the SDK, generated operations and
//! handwritten ones (uploads, creator-upload bookkeeping, pagination, blobs)
//! alike.
//!
//! [`Transport`] owns, in this one place:
//! - credentials, added per request, and the rule that they never leave for
//!   another host: no redirect is followed, no `Referer` is sent, and a 3xx is an
//!   [`ErrorKind::Redirect`](crate::ErrorKind::Redirect) error naming the host;
//! - path encoding ([`path`]): the server decodes exactly what the caller passed;
//! - deadlines: one per attempt and one for the whole operation, retries and
//!   their waits included;
//! - the retry loop ([`RetryPolicy`]) and the client-wide rate-limit state
//!   ([`limits`]): a 429 pauses every request of the client and its clones;
//! - bounded body reading: a success body is capped, an error body is read only
//!   as far as the error needs;
//! - envelope decoding: `success: false` is an error whatever the status;
//! - a `tracing` span per attempt.

mod batch;
mod envelope;
mod json;
mod limits;

use std::borrow::Cow;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, LOCATION, USER_AGENT};
use reqwest::multipart::Form;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::Instrument;

use crate::config::retry::{Outcome, Repeat, RetryPolicy};
use crate::error::{Error, Result, TimeoutLimit};

pub(crate) use batch::BatchSettings;
pub use batch::DEFAULT_BATCH_URL;
pub(crate) use json::JsonObject;
pub use limits::{RateLimit, BATCH_REQUESTS_PER_SECOND};
pub(crate) use reqwest::Method;

use crate::resources::OperationId;

/// The link from the generated resource tree to an operation written by hand
/// (the multipart uploads): the tree's method returns `Builder` for the
/// operation's marker type (in `resources::handwritten`), and the handwritten
/// layer implements this trait for that marker. A marker without an
/// implementation, or an implementation for a marker that no longer exists, is
/// a compile error.
pub trait Handwritten {
    /// The request builder the tree method returns.
    type Builder<'a>;
    /// A new builder sending through `client`.
    fn builder(client: &crate::Client) -> Self::Builder<'_>;
}

/// Default deadline of one attempt of a request without an image upload.
pub(crate) const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default deadline of a whole operation (retries and waits included) without
/// an image upload.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Default deadline of an upload that carries a file, per attempt and in all:
/// 10 MB (Cloudflare's limit) in 10 minutes needs only ~140 kbit/s.
pub(crate) const DEFAULT_UPLOAD_TIMEOUT: Duration = Duration::from_secs(600);
/// Default cap on a success body: far above a 10,000-image page.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;
/// How much of an error body is read: enough for any envelope Cloudflare sends
/// and for a snippet of an HTML page; the rest is never downloaded.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Per-request overrides of the client's deadlines.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RequestOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) attempt_timeout: Option<Duration>,
}

pub(crate) type FormFuture = Pin<Box<dyn Future<Output = Result<Form>> + Send>>;
/// Builds a multipart body, once per attempt.
pub(crate) type FormFactory = Arc<dyn Fn() -> FormFuture + Send + Sync>;

/// Whether a multipart body can be sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Replay {
    /// It is consumed by sending (a caller's reader): never repeated.
    Once,
    /// It can be rebuilt (bytes, a file): repeated only when the server cannot
    /// have acted on it (429, no connection).
    Rebuild,
    /// It can be rebuilt and repeating it cannot store anything twice (a custom
    /// id): repeated like a GET.
    Idempotent,
}

enum Body {
    Empty,
    Json(Bytes),
    Multipart {
        form: FormFactory,
        replay: Replay,
        carries_file: bool,
    },
}

/// One API operation, described before anything is sent.
pub(crate) struct Operation {
    id: OperationId,
    method: Method,
    /// `/accounts/{account_id}/images/v1/{image_id}`.
    template: &'static str,
    path: Vec<(&'static str, String)>,
    query: Vec<(Cow<'static, str>, String)>,
    body: Body,
    options: RequestOptions,
    /// The first invalid value, reported before sending.
    invalid: Option<Error>,
    /// Set when a retry followed a failure after which the server may have
    /// acted on the request.
    ambiguous: Option<Arc<AtomicBool>>,
}

impl Operation {
    pub(crate) fn new(id: OperationId, method: Method, template: &'static str) -> Self {
        Operation {
            id,
            method,
            template,
            path: Vec::new(),
            query: Vec::new(),
            body: Body::Empty,
            options: RequestOptions::default(),
            invalid: None,
            ambiguous: None,
        }
    }

    fn reject(&mut self, error: Error) {
        self.invalid.get_or_insert(error);
    }

    /// Fills `{name}` of the template; the value is checked against the path
    /// rule ([`crate::ids::check`]) and encoded when the URL is built.
    pub(crate) fn path_param(&mut self, name: &'static str, value: &impl Display) {
        let value = value.to_string();
        if let Err(e) = crate::ids::check(name, &value) {
            self.reject(e);
        }
        self.path.push((name, value));
    }

    /// Adds `name=value` to the query when `value` is set.
    pub(crate) fn query_param<T: Display>(&mut self, name: &'static str, value: Option<T>) {
        if let Some(value) = value {
            self.query.push((Cow::Borrowed(name), value.to_string()));
        }
    }

    /// Adds query pairs whose names are built at run time (metadata filters).
    pub(crate) fn query_pairs(&mut self, pairs: &[(String, String)]) {
        self.query.extend(
            pairs
                .iter()
                .map(|(k, v)| (Cow::Owned(k.clone()), v.clone())),
        );
    }

    /// Serializes the JSON body now, so a body that cannot be sent fails before
    /// anything goes out.
    pub(crate) fn json_body<T: Serialize>(&mut self, body: &T) -> Result<()> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            Error::invalid_input("the request body could not be serialized").with_source(e)
        })?;
        self.body = Body::Json(bytes.into());
        Ok(())
    }

    /// A multipart body, built by `form` for each attempt.
    pub(crate) fn multipart(&mut self, form: FormFactory, replay: Replay, carries_file: bool) {
        self.body = Body::Multipart {
            form,
            replay,
            carries_file,
        };
    }

    pub(crate) fn options(&mut self, options: RequestOptions) {
        self.options = options;
    }

    /// A flag the transport sets when it repeated the request after a failure
    /// that may have been processed (a reset, a 5xx, a timeout).
    pub(crate) fn track_ambiguity(&mut self) -> Arc<AtomicBool> {
        Arc::clone(self.ambiguous.get_or_insert_with(Default::default))
    }

    fn carries_file(&self) -> bool {
        matches!(
            self.body,
            Body::Multipart {
                carries_file: true,
                ..
            }
        )
    }

    /// How safe repeating this request is.
    fn repeat(&self) -> Repeat {
        match &self.body {
            Body::Multipart {
                replay: Replay::Once,
                ..
            } => Repeat::Never,
            Body::Multipart {
                replay: Replay::Idempotent,
                ..
            } => Repeat::Always,
            Body::Multipart { .. } => Repeat::IfUnprocessed,
            Body::Empty | Body::Json(_) => match self.method {
                Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE => {
                    Repeat::Always
                }
                _ => Repeat::IfUnprocessed,
            },
        }
    }
}

/// The client's deadlines, limits and retry policy.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) attempt_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) upload_timeout: Duration,
    pub(crate) max_response_bytes: u64,
    pub(crate) retry: RetryPolicy,
}

/// How a successful response is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Read whole (capped), for envelopes.
    Buffered,
    /// Headers only; the caller streams the body (blobs).
    Stream,
}

enum Reply {
    Buffered {
        status: u16,
        ray_id: Option<String>,
        body: Bytes,
    },
    Stream(reqwest::Response),
}

/// Sends requests for one client and its clones; see the module docs.
pub(crate) struct Transport {
    http: reqwest::Client,
    auth: HeaderMap,
    user_agent: HeaderValue,
    base_url: String,
    config: Config,
    /// The account's global limit (pause after a 429, optional pacing).
    limits: Arc<limits::Limits>,
    /// Requests in flight, across the API and the batch host.
    in_flight: Arc<Semaphore>,
    batch: Option<batch::Batch>,
    /// Where the batch host is, for a batch mode turned on later.
    batch_url: String,
    /// Each batch token's pace, for a batch mode turned on later.
    batch_rate: RateLimit,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base_url", &self.base_url)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What a transport is built from.
pub(crate) struct Parts {
    pub(crate) http: reqwest::Client,
    pub(crate) auth: HeaderMap,
    pub(crate) user_agent: HeaderValue,
    pub(crate) base_url: String,
    pub(crate) config: Config,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) max_in_flight: usize,
    pub(crate) batch_url: String,
    pub(crate) batch_tokens: Option<usize>,
    /// Each batch token's pace.
    pub(crate) batch_rate: RateLimit,
}

impl Transport {
    pub(crate) fn new(parts: Parts) -> Result<Transport> {
        reqwest::Url::parse(&parts.base_url)
            .map_err(|e| Error::config(format!("invalid base URL {:?}: {e}", parts.base_url)))?;
        Ok(Transport {
            http: parts.http,
            auth: parts.auth,
            user_agent: parts.user_agent,
            base_url: parts.base_url,
            config: parts.config,
            limits: Arc::new(limits::Limits::new(parts.rate_limit)),
            in_flight: Arc::new(Semaphore::new(parts.max_in_flight.max(1))),
            batch: parts
                .batch_tokens
                .map(|tokens| {
                    batch::Batch::new(BatchSettings {
                        base_url: parts.batch_url.clone(),
                        tokens,
                        rate: parts.batch_rate,
                    })
                })
                .transpose()?,
            batch_url: parts.batch_url,
            batch_rate: parts.batch_rate,
        })
    }

    /// The same transport (connection pool, credentials, limits), sending the
    /// operations the batch host serves through `tokens` batch tokens (`None`:
    /// none, everything to the API).
    pub(crate) fn with_batch(&self, tokens: Option<usize>) -> Result<Transport> {
        Ok(Transport {
            http: self.http.clone(),
            auth: self.auth.clone(),
            user_agent: self.user_agent.clone(),
            base_url: self.base_url.clone(),
            config: self.config.clone(),
            limits: Arc::clone(&self.limits),
            in_flight: Arc::clone(&self.in_flight),
            batch: tokens
                .map(|tokens| {
                    batch::Batch::new(BatchSettings {
                        base_url: self.batch_url.clone(),
                        tokens,
                        rate: self.batch_rate,
                    })
                })
                .transpose()?,
            batch_url: self.batch_url.clone(),
            batch_rate: self.batch_rate,
        })
    }

    /// The batch host's base URL and token count, when in batch mode.
    pub(crate) fn batch_settings(&self) -> Option<BatchSettings> {
        self.batch.as_ref().map(batch::Batch::settings)
    }

    /// Where the batch host is (used once batch mode is on).
    pub(crate) fn batch_url(&self) -> &str {
        &self.batch_url
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends `operation` and decodes `result` of its envelope.
    pub(crate) async fn execute<T: DeserializeOwned>(
        &self,
        account_id: &str,
        operation: Operation,
    ) -> Result<T> {
        match self.run(account_id, operation, Mode::Buffered).await? {
            Reply::Buffered {
                status,
                ray_id,
                body,
            } => envelope::decode(status, ray_id, &body),
            Reply::Stream(_) => Err(Error::transport_message("internal: unexpected stream")),
        }
    }

    /// Sends `operation` and returns the response to stream, with the
    /// operation's deadline for reading it.
    pub(crate) async fn execute_stream(
        &self,
        account_id: &str,
        operation: Operation,
    ) -> Result<(reqwest::Response, Instant)> {
        let (_, total) = self.limits_of(&operation);
        let deadline = Instant::now() + total;
        match self.run(account_id, operation, Mode::Stream).await? {
            Reply::Stream(response) => Ok((response, deadline)),
            Reply::Buffered { .. } => Err(Error::transport_message("internal: unexpected body")),
        }
    }

    /// `(attempt deadline, operation deadline)` lengths for `operation`.
    fn limits_of(&self, operation: &Operation) -> (Duration, Duration) {
        let (attempt, total) = if operation.carries_file() {
            (self.config.upload_timeout, self.config.upload_timeout)
        } else {
            (self.config.attempt_timeout, self.config.timeout)
        };
        (
            operation.options.attempt_timeout.unwrap_or(attempt),
            operation.options.timeout.unwrap_or(total),
        )
    }

    /// The operation's URL on `base` (the API, or the batch host, which takes
    /// the template without its `/accounts/{account_id}` prefix).
    fn url(&self, base: &str, account_id: &str, operation: &Operation) -> Result<reqwest::Url> {
        crate::ids::check("account_id", account_id)?;
        let mut text = String::with_capacity(base.len() + operation.template.len() + 64);
        text.push_str(base);
        let mut rest = if base == self.base_url {
            operation.template
        } else {
            operation
                .template
                .strip_prefix("/accounts/{account_id}")
                .unwrap_or(operation.template)
        };
        while let Some(open) = rest.find('{') {
            text.push_str(&rest[..open]);
            let close = rest[open..]
                .find('}')
                .map(|i| open + i)
                .ok_or_else(|| Error::transport_message("internal: bad path template"))?;
            let name = &rest[open + 1..close];
            let value = if name == "account_id" {
                account_id
            } else {
                operation
                    .path
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.as_str())
                    .ok_or_else(|| {
                        Error::transport_message(format!("internal: no value for {{{name}}}"))
                    })?
            };
            crate::ids::push_encoded(&mut text, value);
            rest = &rest[close + 1..];
        }
        text.push_str(rest);
        let mut url = reqwest::Url::parse(&text)
            .map_err(|e| Error::invalid_input(format!("the request URL is invalid: {e}")))?;
        if !operation.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &operation.query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    async fn build(
        &self,
        url: &reqwest::Url,
        operation: &Operation,
        auth: HeaderMap,
    ) -> Result<reqwest::Request> {
        let mut builder = self
            .http
            .request(operation.method.clone(), url.clone())
            .headers(auth)
            .header(USER_AGENT, self.user_agent.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        builder = match &operation.body {
            Body::Empty => builder,
            Body::Json(bytes) => builder
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(bytes.clone()),
            Body::Multipart { form, .. } => builder.multipart(form().await?),
        };
        builder
            .build()
            .map_err(|e| Error::invalid_input("the request could not be built").with_source(e))
    }

    /// Fetches a batch token from the API: the request
    /// `client.v1().batch_token().get()` sends (from spec/supplement.yaml).
    async fn batch_token(&self, account_id: &str) -> Result<batch::Issued> {
        let operation = Operation::new(
            OperationId::V1BatchTokenGet,
            Method::GET,
            "/accounts/{account_id}/images/v1/batch_token",
        );
        // Boxed: this request goes through `run` too, which awaits this one.
        let issued: crate::types::BatchToken =
            Box::pin(self.execute(account_id, operation)).await?;
        Ok(batch::Issued {
            token: issued.token,
            expires: issued.expires_at.into(),
        })
    }

    async fn run(&self, account_id: &str, mut operation: Operation, mode: Mode) -> Result<Reply> {
        if let Some(invalid) = operation.invalid.take() {
            return Err(invalid);
        }
        // The batch host serves some operations, each batch token under its own
        // limit; everything else goes to the API under the account's.
        let slot = self
            .batch
            .as_ref()
            .filter(|_| batch::serves(operation.id))
            .map(|b| (b, b.pick()));
        let url = match slot {
            Some((b, _)) => self.url(b.base_url(), account_id, &operation)?,
            None => self.url(&self.base_url, account_id, &operation)?,
        };
        let gate: &limits::Limits = match slot {
            Some((b, i)) => b.limits(i),
            None => &self.limits,
        };
        let (attempt_limit, total_limit) = self.limits_of(&operation);
        let started = Instant::now();
        let deadline = started + total_limit;
        let repeat = operation.repeat();
        let mut attempt: u32 = 0;
        loop {
            // Held until the attempt ends: the pacing slot frees a window after.
            let admission = match gate.admit(deadline).await {
                Ok(admission) => admission,
                Err(waiting) => return Err(match waiting {
                    limits::WouldPassDeadline::Paused(left) => Error::timeout(
                        format!(
                            "{}: a 429 paused the client for {} s more, past the operation's deadline",
                            operation.id.as_str(),
                            left.as_secs_f64().ceil()
                        ),
                        TimeoutLimit::Operation(total_limit),
                    )
                    .with_retry_after(Some(left)),
                    limits::WouldPassDeadline::Waiting => Error::timeout(
                        format!(
                            "{}: the operation's deadline would pass while waiting for its turn \
                             (rate limit)",
                            operation.id.as_str()
                        ),
                        TimeoutLimit::Operation(total_limit),
                    ),
                }),
            };
            // Before taking a place among the requests in flight: fetching a batch
            // token is itself a request and needs one (with every place held by
            // requests waiting for the token, it would never get one).
            let auth = match slot {
                Some((b, i)) => b.auth(i, || self.batch_token(account_id)).await?,
                None => self.auth.clone(),
            };
            let Ok(Ok(permit)) = tokio::time::timeout_at(deadline, self.in_flight.acquire()).await
            else {
                return Err(Error::timeout(
                    format!(
                        "{}: the operation's deadline passed while waiting for a place among \
                         the requests in flight (max_connections)",
                        operation.id.as_str()
                    ),
                    TimeoutLimit::Operation(total_limit),
                ));
            };
            let request = self.build(&url, &operation, auth).await?;
            let attempt_deadline = (Instant::now() + attempt_limit).min(deadline);
            let span = tracing::debug_span!(
                "cloudflare_images.request",
                operation = operation.id.as_str(),
                method = %operation.method,
                path = operation.template,
                batch = slot.is_some(),
                attempt,
                status = tracing::field::Empty,
                cf_ray = tracing::field::Empty,
                duration_ms = tracing::field::Empty,
            );
            let attempt_started = Instant::now();
            let sent = tokio::time::timeout_at(
                attempt_deadline,
                attempt_once(
                    &self.http,
                    request,
                    &url,
                    mode,
                    self.config.max_response_bytes,
                )
                .instrument(span.clone()),
            )
            .await;
            drop(permit);
            drop(admission);
            span.record("duration_ms", attempt_started.elapsed().as_millis() as u64);
            let (result, outcome) = match sent {
                Ok(done) => done,
                Err(_elapsed) => {
                    let limit = if attempt_deadline >= deadline {
                        TimeoutLimit::Operation(total_limit)
                    } else {
                        TimeoutLimit::Attempt(attempt_limit)
                    };
                    (
                        Err(Error::timeout(
                            format!(
                                "{}: no complete response within the {limit}",
                                operation.id.as_str()
                            ),
                            limit,
                        )),
                        Some(Outcome::FailedAfterSending),
                    )
                }
            };
            if let Err(e) = &result {
                if let Some(status) = e.status() {
                    span.record("status", status);
                }
                if let Some(ray) = e.ray_id() {
                    span.record("cf_ray", ray);
                }
            }
            if let (Some((b, i)), Err(e)) = (slot, &result) {
                if e.status() == Some(401) {
                    // A batch token the host no longer takes: fetch a new one next time.
                    b.forget(i).await;
                }
            }
            let Some(outcome) = outcome else {
                return result;
            };
            let wait = self.config.retry.delay(repeat, outcome, attempt);
            if let Outcome::Status(StatusCode::TOO_MANY_REQUESTS, asked) = outcome {
                // The limit is the account's (or the batch token's): every
                // request under it waits.
                if let Some(pause) = asked.or(wait) {
                    gate.pause(pause);
                }
            }
            let Some(wait) = wait.filter(|w| Instant::now() + *w < deadline) else {
                tracing::debug!(parent: &span, "not retrying");
                return result;
            };
            tracing::debug!(
                parent: &span,
                wait_ms = wait.as_millis() as u64,
                reason = ?outcome,
                "retrying"
            );
            if matches!(outcome, Outcome::FailedAfterSending)
                || matches!(outcome, Outcome::Status(s, _) if s != StatusCode::TOO_MANY_REQUESTS)
            {
                if let Some(flag) = &operation.ambiguous {
                    flag.store(true, Ordering::Relaxed);
                }
            }
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// One attempt: the result, and what it means for retrying (`None`: never).
async fn attempt_once(
    http: &reqwest::Client,
    request: reqwest::Request,
    url: &reqwest::Url,
    mode: Mode,
    max_response_bytes: u64,
) -> (Result<Reply>, Option<Outcome>) {
    let response = match http.execute(request).await {
        Ok(response) => response,
        Err(e) => {
            let outcome = if e.is_connect() {
                Outcome::NotConnected
            } else {
                Outcome::FailedAfterSending
            };
            return (Err(Error::transport(e)), Some(outcome));
        }
    };
    let status = response.status();
    let span = tracing::Span::current();
    span.record("status", status.as_u16());
    let ray_id = crate::error::ray_id(response.headers());
    if let Some(ray) = &ray_id {
        span.record("cf_ray", ray.as_str());
    }
    // A caller's own HTTP client may follow redirects: whatever it did, an
    // answer from elsewhere is not the API's.
    // The 3xx itself was consumed by that client: no status to report.
    if !same_origin(response.url(), url) {
        let host = response.url().host_str().map(str::to_string);
        return (Err(Error::redirect(None, host)), None);
    }
    if status.is_redirection() {
        let host = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| url.join(location).ok())
            .and_then(|target| target.host_str().map(str::to_string));
        return (Err(Error::redirect(Some(status.as_u16()), host)), None);
    }
    if !status.is_success() {
        let retry_after = crate::config::retry::retry_after(response.headers());
        let body = read_prefix(response, ERROR_BODY_LIMIT).await;
        let error = envelope::error(status.as_u16(), ray_id, &body).with_retry_after(retry_after);
        return (Err(error), Some(Outcome::Status(status, retry_after)));
    }
    if mode == Mode::Stream {
        return (Ok(Reply::Stream(response)), None);
    }
    match read_capped(response, max_response_bytes).await {
        Ok(body) => (
            Ok(Reply::Buffered {
                status: status.as_u16(),
                ray_id,
                body,
            }),
            None,
        ),
        Err(ReadFail::TooLarge) => (
            Err(Error::body_too_large(max_response_bytes, status.as_u16()).with_ray_id(ray_id)),
            None,
        ),
        Err(ReadFail::Transport(e)) => {
            (Err(Error::transport(e)), Some(Outcome::FailedAfterSending))
        }
    }
}

/// Sends a request that carries no credentials (a creator upload to a one-time
/// URL) once, under the same rules as the API's: no redirect followed, a
/// deadline, a capped body, the envelope decoded.
pub(crate) async fn send_once<T: DeserializeOwned>(
    http: &reqwest::Client,
    request: reqwest::Request,
    timeout: Duration,
) -> Result<T> {
    let url = request.url().clone();
    let attempt = attempt_once(
        http,
        request,
        &url,
        Mode::Buffered,
        DEFAULT_MAX_RESPONSE_BYTES,
    );
    match tokio::time::timeout(timeout, attempt).await {
        Err(_) => Err(Error::timeout(
            "the upload did not complete in time",
            TimeoutLimit::Operation(timeout),
        )),
        Ok((
            Ok(Reply::Buffered {
                status,
                ray_id,
                body,
            }),
            _,
        )) => envelope::decode(status, ray_id, &body),
        Ok((Ok(Reply::Stream(_)), _)) => {
            Err(Error::transport_message("internal: unexpected stream"))
        }
        Ok((Err(e), _)) => Err(e),
    }
}

fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

enum ReadFail {
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads a body of at most `cap` bytes; a larger one fails as soon as it is
/// known (from `Content-Length`, or once `cap` is passed), without reading on.
async fn read_capped(mut response: reqwest::Response, cap: u64) -> Result<Bytes, ReadFail> {
    let declared = response.content_length();
    if declared.is_some_and(|len| len > cap) {
        return Err(ReadFail::TooLarge);
    }
    let mut body: Vec<u8> = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = response.chunk().await.map_err(ReadFail::Transport)? {
        if (body.len() + chunk.len()) as u64 > cap {
            return Err(ReadFail::TooLarge);
        }
        if body.is_empty() && declared == Some(chunk.len() as u64) {
            // The whole body in one chunk: no copy.
            return Ok(chunk);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.into())
}

/// The first `limit` bytes of a body (all of a shorter one); the rest is never
/// read, and the connection is dropped with it. A body that fails midway gives
/// what arrived.
async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(limit - body.len());
                body.extend_from_slice(&chunk[..take]);
            }
            _ => break,
        }
    }
    body
}
