//! Multipart form parsing shared by uploads and direct uploads.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::http::{header, Request};
use bytes::Bytes;
use serde_json::{Map, Value};

use super::{check_creator, custom_id_signed_error, MAX_IMAGE_BYTES};
use crate::util::{parse_bool, parse_metadata_text, sniff, validate_custom_id, ApiError, Sniffed};

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
