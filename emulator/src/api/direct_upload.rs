//! Direct uploads: `POST v2/direct_upload` (multipart), `POST v1/direct_upload` (JSON), which
//! create drafts, and the one-time upload URLs `/upload/{account_hash}/{id}` that fill them.
//!
//! A one-time URL is meant for a browser on another origin (the web app that asked its backend
//! for the URL), so it speaks CORS: a preflight (`OPTIONS`) is answered with 204 and the
//! `Access-Control-Allow-*` headers, and every answer to the URL (errors and injected faults
//! included, see [`crate::http::allow_cross_origin`]) carries `Access-Control-Allow-Origin: *`. No
//! credentials are involved, so `*` is safe. A plain HTML form post needs no CORS; it gets the
//! same JSON envelope. The API itself (`/client/v4/...`) sends no CORS headers.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::fields::{metadata_from_value, validate_custom_id};
use super::form::{check_format, common_fields, is_multipart, read_form, CommonFields, Form};
use super::{
    check_creator, custom_id_signed_error, ensure_free, fail_after_upload, image_json,
    method_not_allowed, read_json_body, too_large, MAX_JSON_BODY,
};
use crate::encoding::decode_path;
use crate::encoding::encode_id;
use crate::http::{allow_cross_origin, ok, ApiError, ApiResult};
use crate::store::{DraftState, Image};
use crate::App;

/// How long a browser may cache a preflight answer (Chromium caps it at 2 hours).
const PREFLIGHT_MAX_AGE_SECS: u32 = 7200;

/// The answer to a CORS preflight of a one-time upload URL: 204, POST allowed from any
/// origin, the requested headers echoed.
fn preflight(request: &HeaderMap) -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let headers = resp.headers_mut();
    allow_cross_origin(headers);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    if let Some(requested) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(PREFLIGHT_MAX_AGE_SECS),
    );
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Access-Control-Request-Headers"),
    );
    resp
}

pub(crate) async fn one_time_upload(app: &App, rest: &str, req: Request<Body>) -> ApiResult {
    if req.method() == Method::OPTIONS {
        return Ok(preflight(req.headers()));
    }
    if req.method() != Method::POST {
        return Err(method_not_allowed());
    }
    let (hash, id_raw) = rest.split_once('/').ok_or_else(ApiError::image_not_found)?;
    if decode_path(hash).as_deref() != Some(app.config.account_hash.as_str()) {
        return Err(ApiError::image_not_found());
    }
    let id = decode_path(id_raw.trim_end_matches('/')).ok_or_else(ApiError::image_not_found)?;
    let form = read_form(req).await?;
    let now = Utc::now();
    // Check the upload URL's state before judging the file.
    let lookup = id.clone();
    match app.db(move |s| s.draft_state(&lookup, now)).await? {
        DraftState::Open => {}
        DraftState::Missing => return Err(ApiError::image_not_found()),
        DraftState::Used => {
            return Err(ApiError::bad_request(
                "This upload URL has already been used",
            ))
        }
        DraftState::Expired => return Err(ApiError::new(410, 5400, "This upload URL has expired")),
    }
    if form.file_too_large {
        return Err(too_large());
    }
    let (filename, data) = form
        .file
        .ok_or_else(|| ApiError::bad_request("A file field is required"))?;
    let mime = check_format(&data)?;
    let (image, variants) = app
        .db(move |s| s.complete_draft(&id, filename, mime, data))
        .await?;
    fail_after_upload(app)?;
    ok(image_json(app, &image, &variants))
}

pub(super) async fn create_draft(
    app: &App,
    fields: CommonFields,
    expiry: Option<&str>,
) -> ApiResult {
    let now = Utc::now();
    let expiry = match expiry {
        None => now + chrono::Duration::minutes(30),
        Some(text) => {
            let parsed = DateTime::parse_from_rfc3339(text.trim())
                .map_err(|_| ApiError::bad_request("expiry must be an RFC 3339 date-time"))?
                .with_timezone(&Utc);
            let slack = chrono::Duration::seconds(1);
            if parsed < now + chrono::Duration::minutes(2) - slack
                || parsed > now + chrono::Duration::hours(6) + slack
            {
                return Err(ApiError::bad_request(
                    "expiry must be between now + 2 minutes and now + 6 hours",
                ));
            }
            parsed
        }
    };
    let (custom_id, id) = match fields.id {
        Some(id) => (true, id),
        None => (false, uuid::Uuid::new_v4().to_string()),
    };
    let image = Image {
        seq: 0,
        id: id.clone(),
        custom_id,
        filename: None,
        uploaded: now,
        require_signed_urls: fields.require_signed_urls,
        meta: fields.meta,
        creator: fields.creator,
        draft: true,
        upload_expiry: Some(expiry),
        content_type: None,
        blob_hash: None,
    };
    app.db(move |s| s.insert(image, None)).await?;
    ok(json!({
        "id": id,
        "uploadURL": format!("{}/upload/{}/{}", app.origin, app.config.account_hash, encode_id(&id)),
    }))
}

pub(super) async fn direct_upload_v2(app: &App, req: Request<Body>) -> ApiResult {
    let form = if is_multipart(&req) {
        read_form(req).await?
    } else {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_JSON_BODY)
            .await
            .map_err(|_| ApiError::bad_request("Request body unreadable"))?;
        if !bytes.is_empty() {
            return Err(ApiError::new(
                415,
                5415,
                "Content-Type must be multipart/form-data",
            ));
        }
        Form::default()
    };
    let fields = common_fields(&form)?;
    ensure_free(app, fields.id.as_deref()).await?;
    let expiry = form.get("expiry").map(str::to_owned);
    create_draft(app, fields, expiry.as_deref()).await
}

pub(super) async fn direct_upload_v1(app: &App, req: Request<Body>) -> ApiResult {
    let body = read_json_body(req).await?.unwrap_or_default();
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::bad_request(format!("{name} must be a string"))),
        }
    };
    let id = text("id")?;
    if let Some(id) = &id {
        validate_custom_id(id)?;
    }
    let creator = text("creator")?;
    if let Some(c) = &creator {
        check_creator(c)?;
    }
    let meta = match body.get("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(v) => metadata_from_value(v)?,
    };
    let require_signed_urls = match body.get("requireSignedURLs") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::bad_request("requireSignedURLs must be a boolean")),
    };
    if id.is_some() && require_signed_urls {
        return Err(custom_id_signed_error());
    }
    ensure_free(app, id.as_deref()).await?;
    let expiry = text("expiry")?;
    let fields = CommonFields {
        id,
        creator,
        meta,
        require_signed_urls,
    };
    create_draft(app, fields, expiry.as_deref()).await
}
