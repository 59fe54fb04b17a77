//! Envelope, errors and small helpers shared by the handlers.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

/// An API error rendered as a Cloudflare failure envelope.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, 5400, message)
    }

    pub fn image_not_found() -> Self {
        Self::new(404, 5404, "Image not found")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, 5500, message)
    }

    pub fn into_response(self) -> Response<Body> {
        let body = json!({
            "success": false,
            "errors": [{"code": self.code, "message": self.message}],
            "messages": [],
            "result": null,
        });
        let mut resp = json_response(self.status, &body);
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

pub(crate) type ApiResult = Result<Response<Body>, ApiError>;

/// A JSON response with the given status.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A 200 success envelope around `result`.
pub(crate) fn ok(result: Value) -> ApiResult {
    Ok(json_response(
        StatusCode::OK,
        &json!({"success": true, "errors": [], "messages": [], "result": result}),
    ))
}

/// A plain-text response (used by delivery, which does not speak the JSON envelope).
pub(crate) fn text_response(status: StatusCode, text: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(text.to_owned()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// The HTML page a proxy sends on 502.
pub(crate) fn html_502() -> Response<Body> {
    let mut resp = Response::new(Body::from(
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n",
    ));
    *resp.status_mut() = StatusCode::BAD_GATEWAY;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    resp
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Decodes hex (either case); `None` if malformed.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// 32 random bytes as 64 lowercase hex characters (from two v4 UUIDs, which use the OS RNG).
pub(crate) fn random_key() -> String {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    hex(&bytes)
}

/// Percent-decodes a path piece; `None` if the result is not UTF-8.
pub(crate) fn decode_path(raw: &str) -> Option<String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Names of keys and variants: ASCII letters and digits, 1..=max characters.
pub(crate) fn valid_name(name: &str, max: usize) -> bool {
    !name.is_empty() && name.len() <= max && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// True if `id` is a hyphenated UUID (custom ids may not be UUIDs).
pub(crate) fn looks_like_uuid(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::try_parse(id).is_ok()
}

/// Checks a custom image id: 1..=1024 characters, no leading or trailing `/`, not a UUID,
/// no control characters.
pub(crate) fn validate_custom_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.chars().count() > 1024 {
        return Err(ApiError::bad_request(
            "Custom ID must be between 1 and 1024 characters",
        ));
    }
    if id.starts_with('/') || id.ends_with('/') {
        return Err(ApiError::bad_request(
            "Custom ID must not start or end with a slash",
        ));
    }
    if looks_like_uuid(id) {
        return Err(ApiError::bad_request("Custom ID must not be a UUID"));
    }
    if id.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "Custom ID must not contain control characters",
        ));
    }
    Ok(())
}

/// Parses a JSON metadata text: a JSON object of at most 1024 bytes.
pub(crate) fn parse_metadata_text(text: &str) -> Result<serde_json::Map<String, Value>, ApiError> {
    if text.len() > 1024 {
        return Err(ApiError::bad_request("Metadata must not exceed 1024 bytes"));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::bad_request("Metadata must be a JSON object")),
    }
}

/// Checks a metadata value given inside a JSON body.
pub(crate) fn metadata_from_value(
    value: &Value,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    match value {
        Value::Object(map) => {
            let len = serde_json::to_vec(value)
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            if len > 1024 {
                return Err(ApiError::bad_request("Metadata must not exceed 1024 bytes"));
            }
            Ok(map.clone())
        }
        _ => Err(ApiError::bad_request("Metadata must be a JSON object")),
    }
}

/// Parses a boolean form field ("true"/"false", any case, or "1"/"0").
pub(crate) fn parse_bool(text: &str) -> Result<bool, ApiError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::bad_request(
            "requireSignedURLs must be true or false",
        )),
    }
}

/// The outcome of sniffing an upload's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    /// A supported image format, with its MIME type.
    Supported(&'static str),
    /// A recognised container the service does not accept (TIFF, BMP, PDF, ...).
    Unsupported,
    /// Not an image at all.
    Unknown,
}

/// Detects the format from magic bytes.
pub(crate) fn sniff(data: &[u8]) -> Sniffed {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Sniffed::Supported("image/png");
    }
    if data.starts_with(&[0xff, 0xd8, 0xff]) {
        return Sniffed::Supported("image/jpeg");
    }
    if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        return Sniffed::Supported("image/gif");
    }
    if data.len() >= 12 && &data[0..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        return Sniffed::Supported("image/webp");
    }
    if data.len() >= 12 && &data[4..8] == b"ftyp" {
        return match &data[8..12] {
            b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                Sniffed::Supported("image/heic")
            }
            b"avif" | b"avis" => Sniffed::Supported("image/avif"),
            _ => Sniffed::Unsupported,
        };
    }
    if data.starts_with(b"II*\0")
        || data.starts_with(b"MM\0*")
        || data.starts_with(b"BM")
        || data.starts_with(b"%PDF")
        || data.starts_with(&[0, 0, 1, 0])
    {
        return Sniffed::Unsupported;
    }
    if is_svg(data) {
        return Sniffed::Supported("image/svg+xml");
    }
    Sniffed::Unknown
}

fn is_svg(data: &[u8]) -> bool {
    let head = &data[..data.len().min(4096)];
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let Ok(text) = std::str::from_utf8(head).or_else(|e| {
        // The 4 KiB cut may split a character; keep the valid prefix.
        std::str::from_utf8(&head[..e.valid_up_to()])
    }) else {
        return false;
    };
    let text = text.trim_start();
    if text.starts_with("<svg") {
        return true;
    }
    (text.starts_with("<?xml") || text.starts_with("<!--") || text.starts_with("<!DOCTYPE"))
        && text.contains("<svg")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert_eq!(unhex("000fFF"), Some(vec![0, 15, 255]));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
    }

    #[test]
    fn sniffing() {
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\nrest"),
            Sniffed::Supported("image/png")
        );
        assert_eq!(sniff(b"GIF89a..."), Sniffed::Supported("image/gif"));
        assert_eq!(
            sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Sniffed::Supported("image/webp")
        );
        assert_eq!(
            sniff(b"\0\0\0\x18ftypavif"),
            Sniffed::Supported("image/avif")
        );
        assert_eq!(
            sniff(b"\0\0\0\x18ftypheic"),
            Sniffed::Supported("image/heic")
        );
        assert_eq!(
            sniff(b"  <svg xmlns=''/>"),
            Sniffed::Supported("image/svg+xml")
        );
        assert_eq!(
            sniff(b"<?xml version='1.0'?>\n<svg/>"),
            Sniffed::Supported("image/svg+xml")
        );
        assert_eq!(sniff(b"II*\0abc"), Sniffed::Unsupported);
        assert_eq!(sniff(b"hello world"), Sniffed::Unknown);
        assert_eq!(sniff(b""), Sniffed::Unknown);
    }

    #[test]
    fn custom_ids() {
        assert!(validate_custom_id("a/b/c").is_ok());
        assert!(validate_custom_id("/a").is_err());
        assert!(validate_custom_id("a/").is_err());
        assert!(validate_custom_id("").is_err());
        assert!(validate_custom_id(&"x".repeat(1025)).is_err());
        assert!(validate_custom_id("3f2504e0-4f89-41d3-9a0c-0305e82c3301").is_err());
    }
}
