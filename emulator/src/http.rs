//! HTTP answers shared by every route: the API's error and success envelopes (mapped from
//! handler errors once, here), plain-text and HTML answers, streamed image bytes, and CORS
//! for one-time upload URLs.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};
use tokio_util::io::ReaderStream;

use crate::store::{BlobSource, StoreError};

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

/// The one place store failures become API errors.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        match e {
            StoreError::Database(_) | StoreError::Io(_) => ApiError::internal(message),
            StoreError::AlreadyExists => ApiError::new(409, 5409, message),
            StoreError::ImageNotFound => ApiError::image_not_found(),
            StoreError::UploadUrlUsed | StoreError::TooManyVariants => {
                ApiError::bad_request(message)
            }
        }
    }
}

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

/// A response streaming the bytes of `source` (files are not read into memory). 404 (code
/// 5404) if the blob has gone (a concurrent delete), 500 (5500) on other I/O errors.
pub(crate) async fn blob_response(source: BlobSource, mime: &str) -> ApiResult {
    let mut resp = match source {
        BlobSource::Memory(bytes) => Response::new(Body::from(bytes)),
        BlobSource::File(path) => {
            let opened = async {
                let file = tokio::fs::File::open(&path).await?;
                let len = file.metadata().await?.len();
                Ok::<_, std::io::Error>((file, len))
            };
            let (file, len) = match opened.await {
                Ok(found) => found,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(ApiError::image_not_found())
                }
                Err(e) => return Err(ApiError::internal(format!("Could not read image: {e}"))),
            };
            let mut resp = Response::new(Body::from_stream(ReaderStream::new(file)));
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            resp
        }
    };
    if let Ok(v) = HeaderValue::from_str(mime) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(resp)
}

/// Adds `Access-Control-Allow-Origin: *` (and exposes `Retry-After`) to an answer of a
/// one-time upload URL, so a cross-origin `fetch` can read it, errors included.
pub(crate) fn allow_cross_origin(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Retry-After"),
    );
}
