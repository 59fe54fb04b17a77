//! Multipart form parsing shared by uploads and direct uploads.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::http::{header, Request};
use bytes::Bytes;
use serde_json::{Map, Value};

use super::fields::{parse_bool, parse_metadata_text, validate_custom_id};
use super::{check_creator, custom_id_signed_error, MAX_IMAGE_BYTES};
use crate::http::ApiError;

/// Largest accepted text field of a multipart form.
const MAX_TEXT_FIELD: usize = 64 * 1024;

#[derive(Debug, Default)]
pub(super) struct Form {
    pub file: Option<(Option<String>, Bytes)>,
    pub file_too_large: bool,
    pub text: Vec<(String, String)>,
    pub fields: usize,
}

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.text
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(super) fn is_multipart(req: &Request<Body>) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// Reads a whole multipart body. The `file` part is streamed and counted; past 10 MiB the
/// rest is drained (so the client can read the 413) but not kept.
pub(super) async fn read_form(req: Request<Body>) -> Result<Form, ApiError> {
    if !is_multipart(&req) {
        return Err(ApiError::new(
            415,
            5415,
            "Content-Type must be multipart/form-data",
        ));
    }
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::new(415, 5415, format!("Invalid multipart request: {e}")))?;
    let malformed = |e: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(format!("Malformed multipart body: {e}"))
    };
    let mut form = Form::default();
    let mut text_error = None;
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        form.fields += 1;
        let name = field.name().unwrap_or("").to_owned();
        if name == "file" && form.file.is_none() {
            let filename = field.file_name().map(str::to_owned);
            let mut data = Vec::new();
            let mut total = 0usize;
            while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                total = total.saturating_add(chunk.len());
                if total > MAX_IMAGE_BYTES {
                    form.file_too_large = true;
                    data = Vec::new();
                } else {
                    data.extend_from_slice(&chunk);
                }
            }
            form.file = Some((filename, Bytes::from(data)));
        } else {
            let mut data = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                if data.len() + chunk.len() <= MAX_TEXT_FIELD {
                    data.extend_from_slice(&chunk);
                } else {
                    text_error = Some(ApiError::bad_request(format!("Field {name} is too long")));
                }
            }
            match String::from_utf8(data) {
                Ok(text) => form.text.push((name, text)),
                Err(_) => {
                    text_error = Some(ApiError::bad_request(format!(
                        "Field {name} must be UTF-8 text"
                    )))
                }
            }
        }
    }
    if let Some(e) = text_error {
        return Err(e);
    }
    Ok(form)
}

/// Fields shared by uploads and direct uploads.
pub(super) struct CommonFields {
    pub id: Option<String>,
    pub creator: Option<String>,
    pub meta: Map<String, Value>,
    pub require_signed_urls: bool,
}

pub(super) fn common_fields(form: &Form) -> Result<CommonFields, ApiError> {
    let id = form.get("id").map(str::to_owned);
    if let Some(id) = &id {
        validate_custom_id(id)?;
    }
    let creator = form.get("creator").map(str::to_owned);
    if let Some(c) = &creator {
        check_creator(c)?;
    }
    let meta = match form.get("metadata") {
        Some(text) => parse_metadata_text(text)?,
        None => Map::new(),
    };
    let require_signed_urls = match form.get("requireSignedURLs") {
        Some(text) => parse_bool(text)?,
        None => false,
    };
    if id.is_some() && require_signed_urls {
        return Err(custom_id_signed_error());
    }
    Ok(CommonFields {
        id,
        creator,
        meta,
        require_signed_urls,
    })
}

/// Checks the image format; returns the MIME type.
pub(crate) fn check_format(data: &[u8]) -> Result<&'static str, ApiError> {
    match sniff(data) {
        Sniffed::Supported(mime) => Ok(mime),
        Sniffed::Unsupported => Err(ApiError::new(
            415,
            5455,
            "Uploaded image must have image/jpeg, image/png, image/webp, image/gif, image/heic, image/avif or image/svg+xml content-type",
        )),
        Sniffed::Unknown => Err(ApiError::new(
            415,
            9422,
            "ERROR 9422: Decode error: image failed to be decoded",
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
}
