//! The SDK's one error type.
//!
//! Every call returns [`Error`]: Cloudflare's envelope errors (with status, codes
//! and messages), HTTP failures whose body is not an envelope (an HTML 502 from the
//! edge), transport failures, undecodable responses, and input rejected before
//! anything was sent. `Display` states what went wrong in one line and never
//! repeats the [`source`](std::error::Error::source), which stays reachable.

use std::fmt;

mod codes;
mod limit;

pub use codes::ImagesErrorCode;
pub use limit::ImageLimit;

/// The SDK's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Cloudflare answered with its error envelope (`success: false`), whatever
    /// the HTTP status.
    Api,
    /// The server answered with an error status and a body that is not
    /// Cloudflare's envelope (an HTML error page from the edge or a proxy).
    Http,
    /// The server answered with a redirect. Cloudflare's API never redirects, so
    /// none is followed (credentials must not travel to another host):
    /// [`Error::redirect_host`] names where it pointed.
    Redirect,
    /// The request could not be sent or the response not received.
    Transport,
    /// A response arrived but its body could not be decoded.
    Decode,
    /// A response body was larger than the client accepts
    /// ([`Limits::max_response_bytes`](crate::config::Limits::max_response_bytes),
    /// or the bound given to [`Blob::bytes_up_to`](crate::Blob::bytes_up_to)).
    BodyTooLarge,
    /// Input rejected before anything was sent.
    InvalidInput,
    /// The client is misconfigured (credentials, account id, base URL).
    Config,
    /// Reading or writing a local file failed.
    Io,
    /// A deadline passed: [`Error::timeout_limit`] says which.
    Timeout,
    /// The server broke the API's contract in a way that cannot be decoded
    /// around, e.g. it handed out the same continuation token twice.
    Protocol,
}

/// Which deadline fired, for an [`ErrorKind::Timeout`] error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutLimit {
    /// The deadline of one attempt
    /// ([`Timeouts::attempt`](crate::config::Timeouts::attempt)).
    Attempt(std::time::Duration),
    /// The deadline of the whole operation, retries included
    /// ([`Timeouts::operation`](crate::config::Timeouts::operation)).
    Operation(std::time::Duration),
    /// No connection within
    /// [`Timeouts::connect`](crate::config::Timeouts::connect).
    Connect,
    /// No data for longer than
    /// [`Timeouts::read`](crate::config::Timeouts::read).
    Read,
    /// A wait of the caller's choosing (e.g. for a direct upload to leave the
    /// draft state).
    Wait(std::time::Duration),
}

impl fmt::Display for TimeoutLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeoutLimit::Attempt(d) => write!(f, "attempt_timeout of {} ms", d.as_millis()),
            TimeoutLimit::Operation(d) => write!(f, "timeout of {} ms", d.as_millis()),
            TimeoutLimit::Connect => f.write_str("connect_timeout"),
            TimeoutLimit::Read => f.write_str("read_timeout"),
            TimeoutLimit::Wait(d) => write!(f, "wait of {} ms", d.as_millis()),
        }
    }
}

/// One entry of Cloudflare's `errors` (or `messages`) list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiMessage {
    /// Cloudflare's numeric code, e.g. 5404 (image not found), as sent.
    pub code: i64,
    /// Human-readable message.
    pub message: String,
    /// Where Cloudflare documents this error, when it says.
    pub documentation_url: Option<String>,
    /// JSON pointer to what in the request caused it, when it says.
    pub pointer: Option<String>,
}

/// The error of every SDK call.
pub struct Error {
    // Boxed: a `Result<T, Error>` stays as small as `T` plus a pointer.
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    status: Option<u16>,
    errors: Vec<ApiMessage>,
    ray_id: Option<String>,
    body_snippet: Option<String>,
    retry_after: Option<std::time::Duration>,
    redirect_host: Option<String>,
    timeout: Option<TimeoutLimit>,
    image_limit: Option<ImageLimit>,
    message: String,
    source: Option<BoxError>,
}

/// The most of a non-JSON error body an [`Error`] keeps.
pub(crate) const SNIPPET_LEN: usize = 512;

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                status: None,
                errors: Vec::new(),
                ray_id: None,
                body_snippet: None,
                retry_after: None,
                redirect_host: None,
                timeout: None,
                image_limit: None,
                message: message.into(),
                source: None,
            }),
        }
    }

    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// An upload refused because the file breaks one of Cloudflare's limits.
    pub(crate) fn image_limit_exceeded(filename: &str, limit: ImageLimit) -> Self {
        // The wording of the refusals before the typed limit existed, which
        // scripts may match: "the file \"a.png\" has 10485761 bytes; ...".
        let mut e = Self::invalid_input(format!("the file {filename:?} {}", limit.predicate()));
        e.inner.image_limit = Some(limit);
        e
    }

    pub(crate) fn io(message: impl Into<String>, source: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, message).with_source(source)
    }

    pub(crate) fn timeout(message: impl Into<String>, limit: TimeoutLimit) -> Self {
        let mut e = Self::new(ErrorKind::Timeout, message);
        e.inner.timeout = Some(limit);
        e
    }

    pub(crate) fn redirect(status: Option<u16>, host: Option<String>) -> Self {
        let shown = host.as_deref().unwrap_or("an unreadable location");
        let mut e = Self::new(
            ErrorKind::Redirect,
            format!("the server redirected to {shown}; the Cloudflare API never redirects, so it was not followed"),
        );
        e.inner.status = status;
        e.inner.redirect_host = host;
        e
    }

    pub(crate) fn body_too_large(limit: u64, status: u16) -> Self {
        let mut e = Self::new(
            ErrorKind::BodyTooLarge,
            format!("the response body is larger than the {limit}-byte limit"),
        );
        e.inner.status = Some(status);
        e
    }

    pub(crate) fn decode(source: serde_json::Error, status: u16, body: &[u8]) -> Self {
        let mut e = Self::new(ErrorKind::Decode, "the response body could not be decoded")
            .with_source(source);
        e.inner.status = Some(status);
        e.inner.body_snippet = Some(snippet(body));
        e
    }

    pub(crate) fn with_retry_after(mut self, wait: Option<std::time::Duration>) -> Self {
        self.inner.retry_after = wait;
        self
    }

    pub(crate) fn with_ray_id(mut self, ray_id: Option<String>) -> Self {
        self.inner.ray_id = ray_id;
        self
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Protocol, message)
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub(crate) fn transport(source: reqwest::Error) -> Self {
        if source.is_timeout() {
            let (limit, message) = if source.is_connect() {
                (
                    TimeoutLimit::Connect,
                    "no connection to the Cloudflare API within connect_timeout",
                )
            } else {
                (
                    TimeoutLimit::Read,
                    "the Cloudflare API sent no data within read_timeout",
                )
            };
            return Self::timeout(message, limit).with_source(source);
        }
        let status = source.status().map(|s| s.as_u16());
        let message = if source.is_timeout() {
            "the request to the Cloudflare API timed out"
        } else if source.is_connect() {
            "could not connect to the Cloudflare API"
        } else if source.is_builder() {
            "the request could not be built"
        } else {
            "the request to the Cloudflare API failed"
        };
        let mut e = Self::new(ErrorKind::Transport, message).with_source(source);
        e.inner.status = status;
        e
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// A transport failure the SDK itself detected (a download cut short).
    pub(crate) fn transport_message(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transport, message)
    }

    /// A response whose body is not Cloudflare's envelope (an HTML 502 from the
    /// edge, a proxy's 413 page): the status and the start of the body.
    pub(crate) fn non_envelope(status: u16, ray_id: Option<String>, body: &[u8]) -> Self {
        let mut e = Self::new(
            ErrorKind::Http,
            "the server answered with a body that is not Cloudflare's envelope",
        );
        e.inner.status = Some(status);
        e.inner.ray_id = ray_id;
        e.inner.body_snippet = Some(snippet(body));
        e
    }

    /// Cloudflare's envelope with `success: false`.
    pub(crate) fn api(status: u16, ray_id: Option<String>, errors: Vec<ApiMessage>) -> Self {
        let mut e = Self::new(ErrorKind::Api, "Cloudflare API error");
        e.inner.status = Some(status);
        e.inner.ray_id = ray_id;
        e.inner.errors = errors;
        e
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The HTTP status, when a response arrived.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// Cloudflare's `errors` list (empty unless [`ErrorKind::Api`]).
    pub fn api_errors(&self) -> &[ApiMessage] {
        &self.inner.errors
    }

    /// Cloudflare's error codes as numbers, in order, as sent (typed:
    /// [`images_error_codes`](Self::images_error_codes)).
    pub fn code_numbers(&self) -> impl Iterator<Item = i64> + '_ {
        self.inner.errors.iter().map(|m| m.code)
    }

    /// Cloudflare's error codes as [`ImagesErrorCode`]s, in order (the numbers
    /// as sent: [`code_numbers`](Self::code_numbers)).
    pub fn images_error_codes(&self) -> impl Iterator<Item = ImagesErrorCode> + '_ {
        self.code_numbers().map(ImagesErrorCode::from_code)
    }

    /// Whether Cloudflare reported `code`. Codes are compared by number, so
    /// `ImagesErrorCode::Other(5404)` matches like `ImageNotFound`.
    pub fn has_image_code(&self, code: ImagesErrorCode) -> bool {
        self.has_code(code.code())
    }

    /// Whether Cloudflare reported `code` (e.g. `5404`).
    pub fn has_code(&self, code: i64) -> bool {
        self.code_numbers().any(|c| c == code)
    }

    /// The `cf-ray` id of the response, for Cloudflare support.
    pub fn ray_id(&self) -> Option<&str> {
        self.inner.ray_id.as_deref()
    }

    /// The start of a response body that could not be read as an envelope.
    pub fn body_snippet(&self) -> Option<&str> {
        self.inner.body_snippet.as_deref()
    }

    /// For [`ErrorKind::Timeout`]: which deadline fired.
    pub fn timeout_limit(&self) -> Option<TimeoutLimit> {
        self.inner.timeout
    }

    /// For an upload refused before sending: which of Cloudflare's limits on
    /// images the file breaks, and what was measured.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images::error::ImageLimit;
    /// let client = cloudflare_images::Client::builder()
    ///     .api_token("t")
    ///     .account_id("023e105f4ecef8ad9ca31a8372d0c353")
    ///     // Nothing listens there: the upload is refused before any connection.
    ///     .base_url("http://127.0.0.1:9/client/v4")
    ///     .build()
    ///     .unwrap();
    /// // A BMP header: not a format Cloudflare accepts; nothing is sent.
    /// let err = client.v1().create().file(&b"BM\x3e\0\0\0\0\0"[..], "a.bmp")
    ///     .send().await.unwrap_err();
    /// assert!(matches!(err.image_limit(), Some(ImageLimit::Format { .. })));
    /// # }
    /// ```
    pub fn image_limit(&self) -> Option<&ImageLimit> {
        self.inner.image_limit.as_ref()
    }

    /// The wait the server asked for (`Retry-After`, in seconds or as an HTTP
    /// date), when it did.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.inner.retry_after
    }

    /// For [`ErrorKind::Redirect`]: the host of the `Location` the server sent.
    pub fn redirect_host(&self) -> Option<&str> {
        self.inner.redirect_host.as_deref()
    }

    /// Whether trying again later may succeed: rate limiting (429), timeouts
    /// (408), server errors (5xx) and transport failures. The caller decides
    /// whether the operation is safe to repeat.
    pub fn is_retryable(&self) -> bool {
        match self.inner.kind {
            ErrorKind::Transport | ErrorKind::Timeout => true,
            ErrorKind::Api | ErrorKind::Http => {
                matches!(self.inner.status, Some(408 | 429) | Some(500..=599))
            }
            _ => false,
        }
    }
}

/// The `cf-ray` header, which Cloudflare support asks for.
pub(crate) fn ray_id(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get("cf-ray")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The start of a body as text, cut at a character boundary.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(SNIPPET_LEN * 4)]);
    let mut out: String = text.chars().take(SNIPPET_LEN).collect();
    if text.chars().count() > SNIPPET_LEN {
        out.push('…');
    }
    out
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)?;
        if let Some(status) = self.inner.status {
            write!(f, " (HTTP {status})")?;
        }
        for (i, m) in self.inner.errors.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{} {}", m.code, m.message)?;
        }
        if let Some(snippet) = &self.inner.body_snippet {
            let line: String = snippet.split_whitespace().collect::<Vec<_>>().join(" ");
            let short: String = line.chars().take(120).collect();
            write!(f, ": {short}")?;
        }
        if let Some(ray) = &self.inner.ray_id {
            write!(f, " [cf-ray {ray}]")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(s) = self.inner.status {
            d.field("status", &s);
        }
        if !self.inner.errors.is_empty() {
            d.field("errors", &self.inner.errors);
        }
        if let Some(r) = &self.inner.ray_id {
            d.field("ray_id", r);
        }
        if let Some(t) = &self.inner.timeout {
            d.field("timeout", t);
        }
        if let Some(l) = &self.inner.image_limit {
            d.field("image_limit", l);
        }
        if let Some(w) = &self.inner.retry_after {
            d.field("retry_after", w);
        }
        if let Some(h) = &self.inner.redirect_host {
            d.field("redirect_host", h);
        }
        if let Some(b) = &self.inner.body_snippet {
            d.field("body_snippet", b);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_is_bounded_and_utf8_safe() {
        let body = "é".repeat(2000);
        let s = snippet(body.as_bytes());
        assert_eq!(s.chars().count(), SNIPPET_LEN + 1);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn retryable_statuses() {
        let mut e = Error::new(ErrorKind::Api, "x");
        for (status, retry) in [
            (429, true),
            (408, true),
            (500, true),
            (503, true),
            (404, false),
            (409, false),
        ] {
            e.inner.status = Some(status);
            assert_eq!(e.is_retryable(), retry, "{status}");
        }
        assert!(!Error::invalid_input("x").is_retryable());
    }
}
