//! The SDK's one error type.
//!
//! Every call returns [`Error`]: Cloudflare's envelope errors (with status, codes
//! and messages), HTTP failures whose body is not an envelope (an HTML 502 from the
//! edge), transport failures, undecodable responses, and input rejected before
//! anything was sent. `Display` states what went wrong in one line and never
//! repeats the [`source`](std::error::Error::source), which stays reachable.

use std::fmt;

use crate::api::types;

/// The SDK's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Cloudflare answered with its error envelope (`success: false`).
    Api,
    /// The server answered with an error status and a body that is not
    /// Cloudflare's envelope (an HTML error page from the edge or a proxy).
    Http,
    /// The request could not be sent or the response not received.
    Transport,
    /// A response arrived but its body could not be decoded.
    Decode,
    /// Input rejected before anything was sent.
    InvalidInput,
    /// The client is misconfigured (credentials, account id, base URL).
    Config,
    /// Reading or writing a local file failed.
    Io,
    /// An operation did not finish in the time the caller allowed (e.g. waiting
    /// for a direct upload to leave the draft state).
    Timeout,
    /// The server broke the API's contract in a way that cannot be decoded
    /// around, e.g. it handed out the same continuation token twice.
    Protocol,
}

/// One entry of Cloudflare's `errors` (or `messages`) list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiMessage {
    /// Cloudflare's numeric code, e.g. 5404 (image not found).
    pub code: u32,
    /// Human-readable message.
    pub message: String,
    /// Where Cloudflare documents this error, when it says.
    pub documentation_url: Option<String>,
    /// JSON pointer to what in the request caused it, when it says.
    pub pointer: Option<String>,
}

/// The error of every SDK call.
pub struct Error {
    kind: ErrorKind,
    status: Option<u16>,
    errors: Vec<ApiMessage>,
    ray_id: Option<String>,
    body_snippet: Option<String>,
    message: String,
    source: Option<BoxError>,
}

/// Marker the response hook puts in a synthesized failure envelope's `result`
/// when the real body was not JSON (see `hooks.rs`).
pub(crate) const NON_JSON_BODY_KEY: &str = "cloudflare_images_sdk_non_json_body";

/// The most of a non-JSON error body an [`Error`] keeps.
pub(crate) const SNIPPET_LEN: usize = 512;

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            status: None,
            errors: Vec::new(),
            ray_id: None,
            body_snippet: None,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub(crate) fn io(message: impl Into<String>, source: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, message).with_source(source)
    }

    pub(crate) fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Protocol, message)
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub(crate) fn transport(source: reqwest::Error) -> Self {
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
        e.status = status;
        e
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Converts the generated client's error.
    pub(crate) fn from_api(e: progenitor_client::Error<types::ApiResponseCommonFailure>) -> Self {
        use progenitor_client::Error as P;
        match e {
            P::ErrorResponse(rv) => {
                let status = rv.status().as_u16();
                let ray_id = ray_id(rv.headers());
                Self::from_envelope(status, ray_id, rv.into_inner())
            }
            P::CommunicationError(source)
            | P::ResponseBodyError(source)
            | P::InvalidUpgrade(source) => Self::transport(source),
            P::InvalidResponsePayload(body, source) => {
                let mut e = Self::new(ErrorKind::Decode, "the response body could not be decoded")
                    .with_source(source);
                e.body_snippet = Some(snippet(&body));
                e
            }
            P::UnexpectedResponse(response) => {
                let status = response.status().as_u16();
                let mut e = Self::new(ErrorKind::Http, "unexpected response status");
                e.status = Some(status);
                e.ray_id = ray_id(response.headers());
                e
            }
            P::InvalidRequest(message) => Self::invalid_input(message),
            P::Custom(message) => Self::transport_message(message),
        }
    }

    /// A transport failure the SDK itself detected (a download cut short).
    pub(crate) fn transport_message(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transport, message)
    }

    /// The error for a non-2xx response read outside the generated client:
    /// Cloudflare's envelope when the body is one, otherwise an HTTP error that
    /// keeps the start of the body (as the response hook does for generated calls).
    pub(crate) fn from_error_body(status: u16, ray_id: Option<String>, body: &[u8]) -> Self {
        match serde_json::from_slice::<types::ApiResponseCommonFailure>(body) {
            Ok(envelope) => Self::from_envelope(status, ray_id, envelope),
            Err(_) => Self::non_envelope(status, ray_id, snippet(body)),
        }
    }

    fn non_envelope(status: u16, ray_id: Option<String>, body_snippet: String) -> Self {
        let mut e = Self::new(
            ErrorKind::Http,
            "the server answered with a body that is not Cloudflare's envelope",
        );
        e.status = Some(status);
        e.ray_id = ray_id;
        e.body_snippet = Some(body_snippet);
        e
    }

    pub(crate) fn from_envelope(
        status: u16,
        ray_id: Option<String>,
        envelope: types::ApiResponseCommonFailure,
    ) -> Self {
        let non_json = envelope
            .result
            .as_ref()
            .and_then(|r| r.get(NON_JSON_BODY_KEY))
            .and_then(|v| v.as_str())
            .map(str::to_string);
        if let Some(body) = non_json {
            return Self::non_envelope(status, ray_id, body);
        }
        let mut e = Self::new(ErrorKind::Api, "Cloudflare API error");
        e.status = Some(status);
        e.ray_id = ray_id;
        e.errors = envelope
            .errors
            .0
            .into_iter()
            .map(|m| ApiMessage {
                code: u32::try_from(m.code).unwrap_or(0),
                message: m.message,
                documentation_url: m.documentation_url,
                pointer: m.source.and_then(|s| s.pointer),
            })
            .collect();
        e
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HTTP status, when a response arrived.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Cloudflare's `errors` list (empty unless [`ErrorKind::Api`]).
    pub fn api_errors(&self) -> &[ApiMessage] {
        &self.errors
    }

    /// Cloudflare's error codes, in order.
    pub fn codes(&self) -> impl Iterator<Item = u32> + '_ {
        self.errors.iter().map(|m| m.code)
    }

    /// Whether Cloudflare reported `code` (e.g. `5404`).
    pub fn has_code(&self, code: u32) -> bool {
        self.codes().any(|c| c == code)
    }

    /// The `cf-ray` id of the response, for Cloudflare support.
    pub fn ray_id(&self) -> Option<&str> {
        self.ray_id.as_deref()
    }

    /// The start of a response body that could not be read as an envelope.
    pub fn body_snippet(&self) -> Option<&str> {
        self.body_snippet.as_deref()
    }

    /// Whether trying again later may succeed: rate limiting (429), timeouts
    /// (408), server errors (5xx) and transport failures. The caller decides
    /// whether the operation is safe to repeat.
    pub fn is_retryable(&self) -> bool {
        match self.kind {
            ErrorKind::Transport => true,
            ErrorKind::Api | ErrorKind::Http => {
                matches!(self.status, Some(408 | 429) | Some(500..=599))
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
        f.write_str(&self.message)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        for (i, m) in self.errors.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{} {}", m.code, m.message)?;
        }
        if let Some(snippet) = &self.body_snippet {
            let line: String = snippet.split_whitespace().collect::<Vec<_>>().join(" ");
            let short: String = line.chars().take(120).collect();
            write!(f, ": {short}")?;
        }
        if let Some(ray) = &self.ray_id {
            write!(f, " [cf-ray {ray}]")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(s) = self.status {
            d.field("status", &s);
        }
        if !self.errors.is_empty() {
            d.field("errors", &self.errors);
        }
        if let Some(r) = &self.ray_id {
            d.field("ray_id", r);
        }
        if let Some(b) = &self.body_snippet {
            d.field("body_snippet", b);
        }
        if let Some(s) = &self.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The longest id Cloudflare accepts in a path (custom ids).
pub(crate) const MAX_ID_LEN: usize = 1024;

/// Checks a path parameter before anything is sent: ids are never empty, at most
/// 1,024 characters and free of control characters.
pub(crate) fn check_path_param(name: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid_input(format!("{name} must not be empty")));
    }
    if value.chars().count() > MAX_ID_LEN {
        return Err(Error::invalid_input(format!(
            "{name} is longer than {MAX_ID_LEN} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid_input(format!(
            "{name} contains a control character"
        )));
    }
    // URL parsing removes dot segments even when percent-encoded: `.` would reach
    // the parent endpoint (`GET v1/.` lists images) instead of failing.
    if value == "." || value == ".." {
        return Err(Error::invalid_input(format!(
            "{name} must not be `.` or `..`"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_params_are_checked() {
        assert!(check_path_param("image_id", "a/b c").is_ok());
        assert_eq!(
            check_path_param("image_id", "").unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert!(check_path_param("image_id", &"x".repeat(1025)).is_err());
        assert!(check_path_param("image_id", "a\nb").is_err());
        assert!(check_path_param("image_id", ".").is_err());
        assert!(check_path_param("image_id", "..").is_err());
        assert!(check_path_param("image_id", "a..b").is_ok());
    }

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
            e.status = Some(status);
            assert_eq!(e.is_retryable(), retry, "{status}");
        }
        assert!(!Error::invalid_input("x").is_retryable());
    }
}
