//! The `/client/v4/accounts/{account_id}/images/...` API and the one-time upload URLs.
//!
//! Routing works on the raw (still percent-encoded) path, so an image id sent as
//! `a%2Fb%2Fc` stays one path segment, and `.../v1/{id}/blob` is recognised whatever the id holds.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};

use crate::store::{blob_path, encode_id, Image, Store, Variant};
use crate::util::{
    decode_path, hex, metadata_from_value, ok, parse_bool, parse_metadata_text, random_key, sniff,
    unhex, valid_name, validate_custom_id, ApiError, ApiResult, Sniffed,
};
use crate::App;

/// Largest accepted image: 10 MiB.
pub(crate) const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;
/// Largest accepted text field of a multipart form.
const MAX_TEXT_FIELD: usize = 64 * 1024;
/// Largest accepted JSON body.
const MAX_JSON_BODY: usize = 1024 * 1024;
/// At most this many variants per account.
const MAX_VARIANTS: usize = 100;

/// A 1x1 transparent PNG.
pub(crate) const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// Entry point for every request (the router's fallback).
pub(crate) async fn dispatch(State(app): State<Arc<App>>, req: Request<Body>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/client/v4/") {
        return api(&app, rest, req)
            .await
            .unwrap_or_else(ApiError::into_response);
    }
    if let Some(rest) = path.strip_prefix("/upload/") {
        return one_time_upload(&app, rest, req)
            .await
            .unwrap_or_else(ApiError::into_response);
    }
    crate::delivery::serve(&app, req).await
}

fn no_route(path: &str) -> ApiError {
    ApiError::new(
        404,
        7003,
        format!("Could not route to /client/v4/{path}, perhaps your object identifier is invalid?"),
    )
}

fn method_not_allowed() -> ApiError {
    ApiError::new(405, 10405, "Method not allowed")
}

fn auth_error(status: u16) -> ApiError {
    ApiError::new(status, 10000, "Authentication error")
}

/// Checks credentials: 401 when none are usable, 403 when the bearer token is wrong.
fn check_auth(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let bearer = text("authorization").and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    });
    if let Some(token) = bearer {
        return match &app.config.api_token {
            Some(expected) if expected != token => Err(auth_error(403)),
            _ => Ok(()),
        };
    }
    if text("x-auth-email").is_some() && text("x-auth-key").is_some() {
        return Ok(());
    }
    Err(auth_error(401))
}

fn query_pairs(req: &Request<Body>) -> Vec<(String, String)> {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn query_get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn parse_range(
    pairs: &[(String, String)],
    name: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ApiError> {
    match query_get(pairs, name) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "{name} must be an integer between {min} and {max}"
            ))),
        },
    }
}

async fn api(app: &App, rest: &str, req: Request<Body>) -> ApiResult {
    check_auth(app, req.headers())?;
    let Some(after) = rest.strip_prefix("accounts/") else {
        return Err(no_route(rest));
    };
    let (account, tail) = after.split_once('/').unwrap_or((after, ""));
    if decode_path(account).as_deref() != Some(app.config.account_id.as_str()) {
        return Err(auth_error(403));
    }
    let Some(tail) = tail.strip_prefix("images/") else {
        return Err(no_route(rest));
    };
    let tail = tail.trim_end_matches('/');
    let segs: Vec<&str> = tail.split('/').collect();
    let method = req.method().clone();
    match (&method, segs.as_slice()) {
        (&Method::GET, ["v1"]) => list_v1(app, &query_pairs(&req)),
        (&Method::POST, ["v1"]) => upload_v1(app, req).await,
        (&Method::GET, ["v1", "keys"]) => keys_list(app),
        (&Method::PUT, ["v1", "keys", name]) => key_put(app, name).await,
        (&Method::DELETE, ["v1", "keys", name]) => key_delete(app, name).await,
        (&Method::GET, ["v1", "stats"]) => stats(app),
        (&Method::GET, ["v1", "variants"]) => variants_list(app),
        (&Method::POST, ["v1", "variants"]) => variant_create(app, req).await,
        (&Method::GET, ["v1", "variants", id]) => variant_get(app, id, false),
        (&Method::GET, ["v1", "variants", id, "flat"]) => variant_get(app, id, true),
        (&Method::PATCH, ["v1", "variants", id]) => variant_patch(app, id, req).await,
        (&Method::DELETE, ["v1", "variants", id]) => variant_delete(app, id).await,
        (&Method::POST, ["v1", "direct_upload"]) => direct_upload_v1(app, req).await,
        (&Method::GET, ["v2"]) => list_v2(app, &query_pairs(&req)),
        (&Method::POST, ["v2", "direct_upload"]) => direct_upload_v2(app, req).await,
        (_, ["v1"] | ["v2"] | ["v1", "keys"] | ["v1", "stats"] | ["v1", "variants"]) => {
            Err(method_not_allowed())
        }
        (_, ["v1", _, ..]) => {
            let raw = &tail[3..];
            if method == Method::GET {
                if let Some(id_raw) = raw.strip_suffix("/blob") {
                    let id = decode_path(id_raw).ok_or_else(ApiError::image_not_found)?;
                    return blob(app, &id);
                }
            }
            let id = decode_path(raw).ok_or_else(ApiError::image_not_found)?;
            match method {
                Method::GET => image_get(app, &id),
                Method::PATCH => image_patch(app, &id, req).await,
                Method::DELETE => image_delete(app, &id).await,
                _ => Err(method_not_allowed()),
            }
        }
        _ => Err(no_route(rest)),
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers around the store.

fn image_json(app: &App, store: &Store, image: &Image) -> Value {
    image.to_json(&app.origin, &app.config.account_hash, &store.variants)
}

/// Writes the index (when persistence is on), mapping I/O failures to 500.
async fn persist(app: &App) -> Result<(), ApiError> {
    app.persist()
        .await
        .map_err(|e| ApiError::internal(format!("Could not persist state: {e}")))
}

async fn write_blob(app: &App, seq: u64, data: &Bytes) -> Result<(), ApiError> {
    if let Some(dir) = &app.config.data_dir {
        tokio::fs::write(blob_path(dir, seq), data)
            .await
            .map_err(|e| ApiError::internal(format!("Could not store image: {e}")))?;
    }
    Ok(())
}

async fn read_json_body(req: Request<Body>) -> Result<Option<Map<String, Value>>, ApiError> {
    let bytes = axum::body::to_bytes(req.into_body(), MAX_JSON_BODY)
        .await
        .map_err(|_| ApiError::bad_request("Request body too large or unreadable"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(Value::Null) => Ok(None),
        _ => Err(ApiError::bad_request("Request body must be a JSON object")),
    }
}

fn creator_matches(filter: Option<&str>, image: &Image) -> bool {
    match filter {
        None => true,
        Some("") => image.creator.is_none(),
        Some(c) => image.creator.as_deref() == Some(c),
    }
}

fn check_creator(creator: &str) -> Result<(), ApiError> {
    if creator.chars().count() > 1024 {
        return Err(ApiError::bad_request(
            "Creator must be at most 1024 characters",
        ));
    }
    Ok(())
}

fn custom_id_signed_error() -> ApiError {
    ApiError::bad_request("Images with a custom ID cannot require signed URLs")
}

fn fail_after_upload(app: &App) -> Result<(), ApiError> {
    if app.faults.fail_after_upload() {
        app.faults.note_injected();
        return Err(ApiError::internal("Internal Server Error"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Multipart forms.

#[derive(Debug, Default)]
struct Form {
    file: Option<(Option<String>, Bytes)>,
    file_too_large: bool,
    text: Vec<(String, String)>,
    fields: usize,
}

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.text
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn is_multipart(req: &Request<Body>) -> bool {
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
async fn read_form(req: Request<Body>) -> Result<Form, ApiError> {
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
struct CommonFields {
    id: Option<String>,
    creator: Option<String>,
    meta: Map<String, Value>,
    require_signed_urls: bool,
}

fn common_fields(form: &Form) -> Result<CommonFields, ApiError> {
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
fn check_format(data: &[u8]) -> Result<&'static str, ApiError> {
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

fn too_large() -> ApiError {
    ApiError::new(413, 5413, "Image file size too large (max 10 MB)")
}

fn already_exists() -> ApiError {
    ApiError::new(409, 5409, "Resource already exists")
}

// ---------------------------------------------------------------------------------------------
// v1 upload (file or url).

async fn upload_v1(app: &App, req: Request<Body>) -> ApiResult {
    let form = read_form(req).await?;
    if form.file_too_large {
        return Err(too_large());
    }
    let url = form.get("url").map(str::to_owned);
    let (filename, data) = match (form.file.clone(), url) {
        (Some(file), None) => file,
        (None, Some(url)) => {
            let fields = common_fields(&form)?;
            ensure_free(app, fields.id.as_deref())?;
            fetch_url(&url).await?
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "Specify either a file or a url, not both",
            ))
        }
        (None, None) => return Err(ApiError::bad_request("A file or a url field is required")),
    };
    let fields = common_fields(&form)?;
    ensure_free(app, fields.id.as_deref())?;
    let mime = check_format(&data)?;
    let (custom_id, id) = match fields.id {
        Some(id) => (true, id),
        None => (false, uuid::Uuid::new_v4().to_string()),
    };
    let (seq, result) = {
        let mut store = app.lock();
        let seq = store.alloc_seq();
        let image = Image {
            seq,
            id,
            custom_id,
            filename,
            uploaded: Utc::now(),
            require_signed_urls: fields.require_signed_urls,
            meta: fields.meta,
            creator: fields.creator,
            draft: false,
            upload_expiry: None,
            content_type: Some(mime.to_owned()),
            blob: Some(data.clone()),
        };
        let json = image.to_json(&app.origin, &app.config.account_hash, &store.variants);
        if !store.insert(image) {
            return Err(already_exists());
        }
        (seq, json)
    };
    write_blob(app, seq, &data).await?;
    persist(app).await?;
    fail_after_upload(app)?;
    ok(result)
}

fn ensure_free(app: &App, id: Option<&str>) -> Result<(), ApiError> {
    if let Some(id) = id {
        if app.lock().get(id).is_some() {
            return Err(already_exists());
        }
    }
    Ok(())
}

fn refused_url() -> ApiError {
    ApiError::bad_request("The emulator only fetches http:// URLs on 127.0.0.1, localhost or [::1]")
}

/// Fetches an image from a loopback HTTP URL (HTTP/1.1 GET, 10 s timeout, 10 MiB limit).
async fn fetch_url(url: &str) -> Result<(Option<String>, Bytes), ApiError> {
    let rest = url.trim().strip_prefix("http://").ok_or_else(refused_url)?;
    let rest = rest.split('#').next().unwrap_or(rest);
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], &rest[i..]),
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    if authority.contains('@') {
        return Err(refused_url());
    }
    let (host, port) = if let Some(r) = authority.strip_prefix('[') {
        let (h, after) = r.split_once(']').ok_or_else(refused_url)?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let ip = match host.to_ascii_lowercase().as_str() {
        "127.0.0.1" | "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        "::1" => IpAddr::V6(Ipv6Addr::LOCALHOST),
        _ => return Err(refused_url()),
    };
    let port: u16 = match port {
        None | Some("") => 80,
        Some(p) => p.parse().map_err(|_| refused_url())?,
    };
    let fetch_failed =
        |what: String| ApiError::bad_request(format!("Failed to fetch image from URL: {what}"));
    let work = async {
        let stream = tokio::net::TcpStream::connect((ip, port))
            .await
            .map_err(|e| fetch_failed(e.to_string()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| fetch_failed(e.to_string()))?;
        tokio::spawn(conn);
        let request = Request::get(path.as_str())
            .header(header::HOST, authority)
            .body(Empty::<Bytes>::new())
            .map_err(|e| fetch_failed(e.to_string()))?;
        let resp = sender
            .send_request(request)
            .await
            .map_err(|e| fetch_failed(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fetch_failed(format!("origin answered {}", resp.status())));
        }
        match Limited::new(resp.into_body(), MAX_IMAGE_BYTES)
            .collect()
            .await
        {
            Ok(body) => Ok(body.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
            Err(e) => Err(fetch_failed(e.to_string())),
        }
    };
    let data = tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .map_err(|_| ApiError::new(400, 5408, "Fetching the image from the URL timed out"))??;
    let filename = path
        .split('?')
        .next()
        .and_then(|p| p.rsplit('/').next())
        .filter(|s| !s.is_empty())
        .and_then(decode_path);
    Ok((filename, data))
}

// ---------------------------------------------------------------------------------------------
// One-time upload URL.

async fn one_time_upload(app: &App, rest: &str, req: Request<Body>) -> ApiResult {
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
    {
        let store = app.lock();
        let image = store.get(&id).ok_or_else(ApiError::image_not_found)?;
        if !image.draft {
            return Err(ApiError::bad_request(
                "This upload URL has already been used",
            ));
        }
        if image.upload_expiry.is_some_and(|exp| exp < now) {
            return Err(ApiError::new(410, 5400, "This upload URL has expired"));
        }
    }
    if form.file_too_large {
        return Err(too_large());
    }
    let (filename, data) = form
        .file
        .ok_or_else(|| ApiError::bad_request("A file field is required"))?;
    let mime = check_format(&data)?;
    let (seq, result) = {
        let mut store = app.lock();
        let image = store.get_mut(&id).ok_or_else(ApiError::image_not_found)?;
        if !image.draft {
            return Err(ApiError::bad_request(
                "This upload URL has already been used",
            ));
        }
        image.draft = false;
        image.upload_expiry = None;
        image.filename = filename;
        image.content_type = Some(mime.to_owned());
        image.blob = Some(data.clone());
        let seq = image.seq;
        let image = image.clone();
        (seq, image_json(app, &store, &image))
    };
    write_blob(app, seq, &data).await?;
    persist(app).await?;
    fail_after_upload(app)?;
    ok(result)
}

// ---------------------------------------------------------------------------------------------
// Direct uploads (drafts).

async fn create_draft(app: &App, fields: CommonFields, expiry: Option<&str>) -> ApiResult {
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
    {
        let mut store = app.lock();
        let seq = store.alloc_seq();
        let image = Image {
            seq,
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
            blob: None,
        };
        if !store.insert(image) {
            return Err(already_exists());
        }
    }
    persist(app).await?;
    ok(json!({
        "id": id,
        "uploadURL": format!("{}/upload/{}/{}", app.origin, app.config.account_hash, encode_id(&id)),
    }))
}

async fn direct_upload_v2(app: &App, req: Request<Body>) -> ApiResult {
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
    ensure_free(app, fields.id.as_deref())?;
    let expiry = form.get("expiry").map(str::to_owned);
    create_draft(app, fields, expiry.as_deref()).await
}

async fn direct_upload_v1(app: &App, req: Request<Body>) -> ApiResult {
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
    ensure_free(app, id.as_deref())?;
    let expiry = text("expiry")?;
    let fields = CommonFields {
        id,
        creator,
        meta,
        require_signed_urls,
    };
    create_draft(app, fields, expiry.as_deref()).await
}

// ---------------------------------------------------------------------------------------------
// Image get / patch / delete / blob.

fn image_get(app: &App, id: &str) -> ApiResult {
    let store = app.lock();
    let image = store.get(id).ok_or_else(ApiError::image_not_found)?;
    ok(image_json(app, &store, image))
}

async fn image_patch(app: &App, id: &str, req: Request<Body>) -> ApiResult {
    let body = read_json_body(req).await?.unwrap_or_default();
    let meta = match body.get("metadata") {
        None => None,
        Some(Value::Null) => Some(Map::new()),
        Some(v) => Some(metadata_from_value(v)?),
    };
    let creator = match body.get("creator") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) => {
            check_creator(s)?;
            Some(Some(s.clone()))
        }
        Some(_) => return Err(ApiError::bad_request("creator must be a string")),
    };
    let signed = match body.get("requireSignedURLs") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(ApiError::bad_request("requireSignedURLs must be a boolean")),
    };
    let result = {
        let mut store = app.lock();
        let image = store.get_mut(id).ok_or_else(ApiError::image_not_found)?;
        if signed == Some(true) && image.custom_id {
            return Err(custom_id_signed_error());
        }
        if let Some(meta) = meta {
            image.meta = meta;
        }
        if let Some(creator) = creator {
            image.creator = creator;
        }
        if let Some(signed) = signed {
            image.require_signed_urls = signed;
        }
        let image = image.clone();
        image_json(app, &store, &image)
    };
    persist(app).await?;
    ok(result)
}

async fn image_delete(app: &App, id: &str) -> ApiResult {
    let removed = app
        .lock()
        .remove(id)
        .ok_or_else(ApiError::image_not_found)?;
    persist(app).await?;
    if let Some(dir) = &app.config.data_dir {
        let _ = tokio::fs::remove_file(blob_path(dir, removed.seq)).await;
    }
    ok(json!({}))
}

fn blob(app: &App, id: &str) -> ApiResult {
    let (data, mime) = {
        let store = app.lock();
        let image = store.get(id).ok_or_else(ApiError::image_not_found)?;
        match (&image.blob, &image.content_type) {
            (Some(b), Some(m)) => (b.clone(), m.clone()),
            _ => return Err(ApiError::image_not_found()),
        }
    };
    let mut resp = Response::new(Body::from(data));
    if let Ok(v) = HeaderValue::from_str(&mime) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(resp)
}

// ---------------------------------------------------------------------------------------------
// Listing.

fn list_v1(app: &App, pairs: &[(String, String)]) -> ApiResult {
    let page = parse_range(pairs, "page", 1, 1, u64::from(u32::MAX))?;
    let per_page = parse_range(pairs, "per_page", 100, 1, 10_000)?;
    let creator = query_get(pairs, "creator");
    let skip = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    let take = usize::try_from(per_page).unwrap_or(usize::MAX);
    let store = app.lock();
    let images: Vec<Value> = store
        .images
        .values()
        .filter(|i| creator_matches(creator, i))
        .skip(skip)
        .take(take)
        .map(|i| image_json(app, &store, i))
        .collect();
    ok(json!({ "images": images }))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Any,
    Str,
    Num,
    Bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, PartialEq)]
enum FilterOp {
    Eq(Kind),
    In(Kind),
    Cmp(Cmp, f64),
}

#[derive(Debug, Clone, PartialEq)]
struct MetaFilter {
    path: Vec<String>,
    op: FilterOp,
    values: Vec<String>,
}

/// Parses `meta.<path>[<op>]=<value>` query parameters (at most 5, at most 5 levels deep).
fn parse_filters(pairs: &[(String, String)]) -> Result<Vec<MetaFilter>, ApiError> {
    let mut filters = Vec::new();
    for (key, value) in pairs {
        let Some(rest) = key.strip_prefix("meta.") else {
            continue;
        };
        let bad =
            |why: &str| ApiError::bad_request(format!("Invalid metadata filter {key}: {why}"));
        let (path, op) = match rest.split_once('[') {
            Some((path, op)) => (
                path,
                op.strip_suffix(']')
                    .ok_or_else(|| bad("missing closing bracket"))?,
            ),
            None => (rest, "eq"),
        };
        let path: Vec<String> = path.split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(bad("empty path segment"));
        }
        if path.len() > 5 {
            return Err(bad("at most 5 levels of nesting"));
        }
        let kind = |suffix: Option<&str>| -> Result<Kind, ApiError> {
            match suffix {
                None => Ok(Kind::Any),
                Some("string") => Ok(Kind::Str),
                Some("number") => Ok(Kind::Num),
                Some("boolean") | Some("bool") => Ok(Kind::Bool),
                Some(_) => Err(bad("unknown type")),
            }
        };
        let (name, suffix) = match op.split_once(':') {
            Some((n, s)) => (n, Some(s)),
            None => (op, None),
        };
        let values: Vec<String> = if name == "in" {
            value.split('|').map(str::to_owned).collect()
        } else {
            vec![value.clone()]
        };
        let op = match name {
            "eq" => FilterOp::Eq(kind(suffix)?),
            "in" => FilterOp::In(kind(suffix)?),
            "gt" | "gte" | "lt" | "lte" => {
                if !matches!(suffix, None | Some("number")) {
                    return Err(bad("comparisons work on numbers only"));
                }
                let n: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| bad("value must be a number"))?;
                let cmp = match name {
                    "gt" => Cmp::Gt,
                    "gte" => Cmp::Gte,
                    "lt" => Cmp::Lt,
                    _ => Cmp::Lte,
                };
                FilterOp::Cmp(cmp, n)
            }
            _ => return Err(bad("unknown operator")),
        };
        if let FilterOp::Eq(k) | FilterOp::In(k) = &op {
            for v in &values {
                match k {
                    Kind::Num if v.trim().parse::<f64>().is_err() => {
                        return Err(bad("value must be a number"))
                    }
                    Kind::Bool if !matches!(v.as_str(), "true" | "false") => {
                        return Err(bad("value must be true or false"))
                    }
                    _ => {}
                }
            }
        }
        filters.push(MetaFilter { path, op, values });
    }
    if filters.len() > 5 {
        return Err(ApiError::bad_request(
            "At most 5 metadata filters are allowed",
        ));
    }
    Ok(filters)
}

fn value_eq(field: &Value, wanted: &str, kind: Kind) -> bool {
    match kind {
        Kind::Str => field.as_str() == Some(wanted),
        Kind::Num => match (field.as_f64(), wanted.trim().parse::<f64>()) {
            (Some(a), Ok(b)) => a == b,
            _ => false,
        },
        Kind::Bool => field.as_bool().map(|b| if b { "true" } else { "false" }) == Some(wanted),
        Kind::Any => match field {
            Value::String(s) => s == wanted,
            Value::Number(_) => value_eq(field, wanted, Kind::Num),
            Value::Bool(_) => value_eq(field, wanted, Kind::Bool),
            Value::Null => wanted == "null",
            _ => false,
        },
    }
}

fn filter_matches(meta: &Map<String, Value>, filter: &MetaFilter) -> bool {
    let mut segments = filter.path.iter();
    let Some(first) = segments.next() else {
        return false;
    };
    let Some(mut field) = meta.get(first) else {
        return false;
    };
    for seg in segments {
        match field.as_object().and_then(|o| o.get(seg)) {
            Some(next) => field = next,
            None => return false,
        }
    }
    match &filter.op {
        FilterOp::Eq(kind) | FilterOp::In(kind) => {
            filter.values.iter().any(|v| value_eq(field, v, *kind))
        }
        FilterOp::Cmp(cmp, n) => match field.as_f64() {
            Some(x) => match cmp {
                Cmp::Gt => x > *n,
                Cmp::Gte => x >= *n,
                Cmp::Lt => x < *n,
                Cmp::Lte => x <= *n,
            },
            None => false,
        },
    }
}

/// FNV-1a, to make continuation tokens tamper-evident.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn encode_token(desc: bool, seq: u64) -> String {
    let body = format!("emu1:{}:{seq}", if desc { 'd' } else { 'a' });
    let check = fnv(&body);
    hex(format!("{body}:{check:016x}").as_bytes())
}

fn decode_token(token: &str, desc: bool) -> Result<u64, ApiError> {
    let invalid = || ApiError::bad_request("Invalid continuation_token");
    let bytes = unhex(token.trim()).ok_or_else(invalid)?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (body, check) = text.rsplit_once(':').ok_or_else(invalid)?;
    if format!("{:016x}", fnv(body)) != check {
        return Err(invalid());
    }
    let mut parts = body.split(':');
    let (Some("emu1"), Some(dir), Some(seq), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    if dir != if desc { "d" } else { "a" } {
        return Err(ApiError::bad_request(
            "continuation_token was issued for the other sort_order",
        ));
    }
    seq.parse().map_err(|_| invalid())
}

fn list_v2(app: &App, pairs: &[(String, String)]) -> ApiResult {
    let per_page = parse_range(pairs, "per_page", 1000, 10, 10_000)?;
    let per_page = usize::try_from(per_page).unwrap_or(10_000);
    let desc = match query_get(pairs, "sort_order") {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => return Err(ApiError::bad_request("sort_order must be asc or desc")),
    };
    let after = match query_get(pairs, "continuation_token") {
        None | Some("") => None,
        Some(token) => Some(decode_token(token, desc)?),
    };
    let creator = query_get(pairs, "creator");
    let filters = parse_filters(pairs)?;
    let store = app.lock();
    let keep = |i: &&Image| {
        creator_matches(creator, i) && filters.iter().all(|f| filter_matches(&i.meta, f))
    };
    let page: Vec<&Image> = match (desc, after) {
        (true, Some(seq)) => store
            .images
            .range(..seq)
            .rev()
            .map(|(_, i)| i)
            .filter(keep)
            .take(per_page + 1)
            .collect(),
        (true, None) => store
            .images
            .values()
            .rev()
            .filter(keep)
            .take(per_page + 1)
            .collect(),
        (false, Some(seq)) => store
            .images
            .range(seq.saturating_add(1)..)
            .map(|(_, i)| i)
            .filter(keep)
            .take(per_page + 1)
            .collect(),
        (false, None) => store
            .images
            .values()
            .filter(keep)
            .take(per_page + 1)
            .collect(),
    };
    let more = page.len() > per_page;
    let page = &page[..page.len().min(per_page)];
    let token = match (more, page.last()) {
        (true, Some(last)) => Value::String(encode_token(desc, last.seq)),
        _ => Value::Null,
    };
    let images: Vec<Value> = page.iter().map(|i| image_json(app, &store, i)).collect();
    ok(json!({ "images": images, "continuation_token": token }))
}

// ---------------------------------------------------------------------------------------------
// Keys and stats.

fn keys_json(store: &Store) -> Value {
    let keys: Vec<Value> = store
        .keys
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    json!({ "keys": keys })
}

fn keys_list(app: &App) -> ApiResult {
    ok(keys_json(&app.lock()))
}

fn check_key_name(raw: &str) -> Result<String, ApiError> {
    let name = decode_path(raw).unwrap_or_default();
    if !valid_name(&name, 20) {
        return Err(ApiError::bad_request(
            "Key names must be 1 to 20 letters or digits",
        ));
    }
    Ok(name)
}

async fn key_put(app: &App, raw: &str) -> ApiResult {
    let name = check_key_name(raw)?;
    let result = {
        let mut store = app.lock();
        store.keys.insert(name, random_key());
        keys_json(&store)
    };
    persist(app).await?;
    ok(result)
}

async fn key_delete(app: &App, raw: &str) -> ApiResult {
    let name = check_key_name(raw)?;
    let result = {
        let mut store = app.lock();
        if store.keys.remove(&name).is_none() {
            return Err(ApiError::new(404, 5404, "Key not found"));
        }
        if store.keys.is_empty() {
            store.keys.insert("default".into(), random_key());
        }
        keys_json(&store)
    };
    persist(app).await?;
    ok(result)
}

fn stats(app: &App) -> ApiResult {
    let current = app.lock().count();
    ok(json!({ "count": { "current": current, "allowed": 100_000 } }))
}

// ---------------------------------------------------------------------------------------------
// Variants.

fn variant_not_found() -> ApiError {
    ApiError::new(404, 5401, "Variant not found")
}

fn variants_list(app: &App) -> ApiResult {
    let store = app.lock();
    let map: Map<String, Value> = store
        .variants
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json()))
        .collect();
    ok(json!({ "variants": map }))
}

fn check_variant_name(raw: &str) -> Result<String, ApiError> {
    let name = decode_path(raw).unwrap_or_default();
    if !valid_name(&name, 99) {
        return Err(ApiError::bad_request(
            "Variant names must be 1 to 99 letters or digits",
        ));
    }
    Ok(name)
}

/// Applies an `options` object (all fields required when `base` is `None`) and
/// `neverRequireSignedURLs` onto a variant.
fn apply_variant_body(
    body: &Map<String, Value>,
    mut variant: Variant,
    require_all: bool,
) -> Result<Variant, ApiError> {
    let options = match body.get("options") {
        Some(Value::Object(o)) => Some(o),
        None | Some(Value::Null) if !require_all => None,
        _ => return Err(ApiError::bad_request("options must be an object")),
    };
    if let Some(options) = options {
        let text = |name: &str, allowed: &[&str]| -> Result<Option<String>, ApiError> {
            match options.get(name) {
                None if !require_all => Ok(None),
                Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
                _ => Err(ApiError::bad_request(format!(
                    "options.{name} must be one of {}",
                    allowed.join(", ")
                ))),
            }
        };
        let size = |name: &str| -> Result<Option<u32>, ApiError> {
            match options.get(name) {
                None if !require_all => Ok(None),
                Some(v) => match v.as_f64() {
                    Some(n) if n.fract() == 0.0 && (1.0..=12_000.0).contains(&n) => {
                        // In range and integral, so the cast is exact.
                        Ok(Some(n as u32))
                    }
                    _ => Err(ApiError::bad_request(format!(
                        "options.{name} must be an integer between 1 and 12000"
                    ))),
                },
                None => Err(ApiError::bad_request(format!("options.{name} is required"))),
            }
        };
        if let Some(fit) = text("fit", &["scale-down", "contain", "cover", "crop", "pad"])? {
            variant.fit = fit;
        }
        if let Some(m) = text("metadata", &["keep", "copyright", "none"])? {
            variant.metadata = m;
        }
        if let Some(w) = size("width")? {
            variant.width = w;
        }
        if let Some(h) = size("height")? {
            variant.height = h;
        }
    }
    match body.get("neverRequireSignedURLs") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => variant.never_require_signed_urls = *b,
        Some(_) => {
            return Err(ApiError::bad_request(
                "neverRequireSignedURLs must be a boolean",
            ))
        }
    }
    Ok(variant)
}

async fn variant_create(app: &App, req: Request<Body>) -> ApiResult {
    let body = read_json_body(req)
        .await?
        .ok_or_else(|| ApiError::bad_request("A JSON body is required"))?;
    let id = match body.get("id") {
        Some(Value::String(s)) if valid_name(s, 99) => s.clone(),
        _ => {
            return Err(ApiError::bad_request(
                "id must be 1 to 99 letters or digits",
            ))
        }
    };
    let blank = Variant {
        id: id.clone(),
        fit: String::new(),
        metadata: String::new(),
        width: 0,
        height: 0,
        never_require_signed_urls: false,
    };
    let variant = apply_variant_body(&body, blank, true)?;
    let result = {
        let mut store = app.lock();
        if store.variants.contains_key(&id) {
            return Err(already_exists());
        }
        if store.variants.len() >= MAX_VARIANTS {
            return Err(ApiError::bad_request(
                "An account can have at most 100 variants",
            ));
        }
        store.variants.insert(id, variant.clone());
        variant.to_json()
    };
    persist(app).await?;
    ok(json!({ "variant": result }))
}

fn variant_get(app: &App, raw: &str, flat: bool) -> ApiResult {
    let name = decode_path(raw).unwrap_or_default();
    let store = app.lock();
    let variant = store.variants.get(&name).ok_or_else(variant_not_found)?;
    if flat {
        ok(variant.to_json())
    } else {
        ok(json!({ "variant": variant.to_json() }))
    }
}

async fn variant_patch(app: &App, raw: &str, req: Request<Body>) -> ApiResult {
    let name = check_variant_name(raw)?;
    let body = read_json_body(req).await?.unwrap_or_default();
    let current = app
        .lock()
        .variants
        .get(&name)
        .cloned()
        .ok_or_else(variant_not_found)?;
    let updated = apply_variant_body(&body, current, false)?;
    {
        let mut store = app.lock();
        let slot = store
            .variants
            .get_mut(&name)
            .ok_or_else(variant_not_found)?;
        *slot = updated.clone();
    }
    persist(app).await?;
    ok(json!({ "variant": updated.to_json() }))
}

async fn variant_delete(app: &App, raw: &str) -> ApiResult {
    let name = decode_path(raw).unwrap_or_default();
    app.lock()
        .variants
        .remove(&name)
        .ok_or_else(variant_not_found)?;
    persist(app).await?;
    ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let t = encode_token(true, 42);
        assert_eq!(decode_token(&t, true).ok(), Some(42));
        assert!(decode_token(&t, false).is_err());
        assert!(decode_token("zz", true).is_err());
        let mut forged = hex(b"emu1:d:43:0000000000000000");
        assert!(decode_token(&forged, true).is_err());
        forged.push('0');
        assert!(decode_token(&forged, true).is_err());
    }

    #[test]
    fn filters() {
        let pairs = vec![
            ("meta.a.b[gte]".to_owned(), "3".to_owned()),
            ("meta.c[in]".to_owned(), "x|y".to_owned()),
            ("meta.d".to_owned(), "true".to_owned()),
        ];
        let f = parse_filters(&pairs).unwrap_or_default();
        assert_eq!(f.len(), 3);
        let meta = json!({"a": {"b": 3}, "c": "y", "d": true});
        let meta = meta.as_object().cloned().unwrap_or_default();
        assert!(f.iter().all(|f| filter_matches(&meta, f)));
        let too_many: Vec<_> = (0..6)
            .map(|i| (format!("meta.k{i}"), "1".to_owned()))
            .collect();
        assert!(parse_filters(&too_many).is_err());
        let bad = vec![("meta.a[gt]".to_owned(), "abc".to_owned())];
        assert!(parse_filters(&bad).is_err());
    }
}
