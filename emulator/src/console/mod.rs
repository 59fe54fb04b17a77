//! A local console at `/`: server-rendered HTML pages read straight from the emulator's store
//! (it is not a second API and takes no credentials).
//!
//! | route | page |
//! | --- | --- |
//! | `GET /` | gallery of the stored images, newest first, thumbnails through delivery (signed when the image requires it), `?after=<seq>` pages |
//! | `GET /console/image?id=<id>` | one image: fields, metadata, variants with their delivery URLs, a signed-URL generator (`&variant=..&ttl=..`), delete |
//! | `POST /console/delete` | form field `id`: a page asking to confirm; with `confirm=yes` too, deletes, then 303 to `/?deleted=<id>`, where the gallery reports it |
//! | `GET /console/variants` | the variants |
//! | `GET /console/upload` | a creator upload run from the browser: one-time URL, then `fetch`-style upload with progress |
//! | `POST /console/upload-url` | form fields `id`, `metadata`, `requireSignedURLs`: creates a draft, answers `{"id","uploadURL"}` |
//! | `GET /console/stats.json` | the emulator's counters: `requests`, `batch_requests`, `rate_limited` (429s from the rate windows), `batch_tokens_issued`, `images` (for scripts and benchmarks) |
//!
//! Every id, file name, creator and metadata value is user input and HTML-escaped. Pages carry
//! a strict Content-Security-Policy (scripts and styles from the console only). POST routes
//! accept only a request whose `Origin` is the console's own (or none: not from a browser), so
//! another site cannot make a visitor's browser delete images.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use chrono::Utc;
use serde_json::{json, Map, Value};

use crate::api::fields::{parse_metadata_text, validate_custom_id};
use crate::encoding::encode_id;
use crate::encoding::hex;
use crate::http::{json_response, ApiError};
use crate::store::{CreatorFilter, Image, StoreError};
use crate::App;

const PREFIX: &str = "/console";
/// Images per gallery page.
const PAGE: usize = 24;
/// Lifetime of the signed thumbnail and preview URLs the console renders.
const PREVIEW_TTL_SECS: i64 = 3600;
/// Largest form body the console reads.
const MAX_FORM_BODY: usize = 64 * 1024;

const SCRIPT: &str = include_str!("console.js");
const STYLE: &str = include_str!("console.css");

const CSP: &str = "default-src 'none'; img-src 'self' data:; style-src 'self'; \
                   script-src 'self'; connect-src *; form-action 'self'; base-uri 'none'; \
                   frame-ancestors 'none'";

/// True if `path` is a console route (`/`, `/console/...`). An account hash of `console` would
/// make `/console/...` a delivery path, so then only `/` is the console.
pub(crate) fn handles(app: &App, path: &str) -> bool {
    path == "/"
        || (app.config.account_hash != "console"
            && (path == PREFIX || path.starts_with("/console/")))
}

/// Serves one console request.
pub(crate) async fn serve(app: Arc<App>, req: Request<Body>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let method = req.method().clone();
    let result = match (method.clone(), path.as_str()) {
        (Method::GET | Method::HEAD, "/") => gallery(&app, get("after"), get("deleted")).await,
        (Method::GET | Method::HEAD, "/console" | "/console/") => Ok(redirect("/")),
        (Method::GET | Method::HEAD, "/console/image") => {
            image_page(&app, get("id").unwrap_or(""), get("variant"), get("ttl")).await
        }
        (Method::GET | Method::HEAD, "/console/variants") => variants_page(&app).await,
        (Method::GET | Method::HEAD, "/console/stats.json") => Ok(json_response(
            StatusCode::OK,
            &json!({
                "requests": app.request_count.load(std::sync::atomic::Ordering::SeqCst),
                "batch_requests": app.batch_request_count.load(std::sync::atomic::Ordering::SeqCst),
                "rate_limited": app.limits.refused(),
                "batch_tokens_issued": app.limits.tokens_issued(),
                "images": app.store.count().unwrap_or(0),
            }),
        )),
        (Method::GET | Method::HEAD, "/console/upload") => Ok(upload_page(&app)),
        (Method::GET | Method::HEAD, "/console/console.js") => {
            Ok(asset(SCRIPT, "text/javascript; charset=utf-8"))
        }
        (Method::GET | Method::HEAD, "/console/console.css") => {
            Ok(asset(STYLE, "text/css; charset=utf-8"))
        }
        (Method::POST, "/console/delete") => delete(&app, req).await,
        (Method::POST, "/console/upload-url") => {
            return upload_url(&app, req)
                .await
                .unwrap_or_else(ApiError::into_response)
        }
        (_, "/" | "/console/image" | "/console/variants" | "/console/upload") => {
            Err(ApiError::new(405, 10405, "Method not allowed"))
        }
        _ => Err(ApiError::new(404, 7003, "No such console page")),
    };
    result.unwrap_or_else(|e| error_page(&app, &e))
}

// ---------------------------------------------------------------------------------------------
// Pages.

/// The gallery, newest first; `deleted` names an image the console just deleted, reported
/// at the top (only if it is indeed gone: the query alone proves nothing).
async fn gallery(
    app: &App,
    after: Option<&str>,
    deleted: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let after = match after {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<u64>()
                .map_err(|_| ApiError::bad_request("after must be a number"))?,
        ),
    };
    let deleted = deleted.filter(|id| !id.is_empty()).map(str::to_owned);
    let gone = deleted.clone();
    let (images, count, keys, flexible, names, gone) = app
        .db(move |s| {
            let (images, names) = s.scan(true, after, CreatorFilter::Any, PAGE + 1, |_| true)?;
            let gone = match gone {
                Some(id) if !s.exists(&id)? => Some(id),
                _ => None,
            };
            Ok::<_, StoreError>((
                images,
                s.count()?,
                s.keys()?,
                s.flexible_variants()?,
                names,
                gone,
            ))
        })
        .await?;
    let more = images.len() > PAGE;
    let shown = &images[..images.len().min(PAGE)];
    let mut body = String::new();
    if let Some(id) = gone {
        let _ = write!(
            body,
            "<p class=notice id=notice role=status>Deleted image <code>{}</code>.</p>",
            esc(&id)
        );
    }
    let _ = write!(
        body,
        "<h1>Images</h1><p class=summary>{count} stored (drafts not counted). \
         <a href=\"/console/upload\">Upload from this browser</a></p>"
    );
    if shown.is_empty() {
        body.push_str("<p class=empty>No images yet.</p>");
    }
    body.push_str("<ul class=gallery>");
    let now = Utc::now().timestamp();
    for image in shown {
        let link = image_link(&image.id);
        let preview = preview_variant(flexible, image.require_signed_urls, &names, 240);
        let thumb = match preview {
            None => "<span class=placeholder>no variant to preview with</span>".to_owned(),
            Some(variant) => {
                let src = delivery_path(
                    app,
                    &image.id,
                    &variant,
                    image.require_signed_urls,
                    &keys,
                    now,
                );
                format!("<img src=\"{}\" alt=\"\" loading=lazy>", esc(&src))
            }
        };
        let _ = write!(
            body,
            "<li class=card data-id=\"{}\"><a href=\"{}\">{thumb}<span class=id>{}</span></a>{}</li>",
            esc(&image.id),
            esc(&link),
            esc(&image.id),
            badges(image),
        );
    }
    body.push_str("</ul>");
    if let (true, Some(last)) = (more, shown.last()) {
        let _ = write!(
            body,
            "<p class=pager><a rel=next href=\"/?after={}\">Older images</a></p>",
            last.seq
        );
    }
    if after.is_some() {
        body.push_str("<p class=pager><a href=\"/\">Newest images</a></p>");
    }
    Ok(page(app, "Images", &body))
}

fn badges(image: &Image) -> String {
    let mut out = String::new();
    if image.draft {
        out.push_str("<span class=badge>draft</span>");
    }
    if image.require_signed_urls {
        out.push_str("<span class=badge>signed URLs</span>");
    }
    out
}

async fn image_page(
    app: &App,
    id: &str,
    sign_variant: Option<&str>,
    ttl: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let lookup = id.to_owned();
    let (found, keys, variants, flexible) = app
        .db(move |s| {
            Ok::<_, StoreError>((
                s.image(&lookup)?,
                s.keys()?,
                s.variants()?,
                s.flexible_variants()?,
            ))
        })
        .await?;
    let Some((image, _)) = found else {
        return Err(ApiError::image_not_found());
    };
    let now = Utc::now().timestamp();
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Image <code>{}</code></h1>{}",
        esc(&image.id),
        badges(&image)
    );
    let names: Vec<String> = variants.keys().cloned().collect();
    let preview = preview_variant(flexible, image.require_signed_urls, &names, 640);
    if let (false, Some(preview)) = (image.draft, preview) {
        let src = delivery_path(
            app,
            &image.id,
            &preview,
            image.require_signed_urls,
            &keys,
            now,
        );
        let _ = write!(
            body,
            "<p><img class=preview src=\"{}\" alt=\"\"></p>",
            esc(&src)
        );
    }
    body.push_str("<table class=fields>");
    let mut row = |name: &str, value: String| {
        let _ = write!(body, "<tr><th>{name}</th><td>{value}</td></tr>");
    };
    row("id", format!("<code>{}</code>", esc(&image.id)));
    row(
        "filename",
        image.filename.as_deref().map(esc).unwrap_or_default(),
    );
    row("uploaded", esc(&image.uploaded.to_rfc3339()));
    row(
        "creator",
        image.creator.as_deref().map(esc).unwrap_or_default(),
    );
    row("requireSignedURLs", image.require_signed_urls.to_string());
    row("draft", image.draft.to_string());
    if let Some(expiry) = image.upload_expiry {
        row("upload URL expires", esc(&expiry.to_rfc3339()));
    }
    if let Some(mime) = &image.content_type {
        row("content type", esc(mime));
    }
    let meta = serde_json::to_string_pretty(&Value::Object(image.meta.clone())).unwrap_or_default();
    row("metadata", format!("<pre class=meta>{}</pre>", esc(&meta)));
    body.push_str("</table>");

    if !image.draft {
        body.push_str(
            "<h2>Variants</h2><table class=variants><tr><th>variant</th><th>delivery URL</th></tr>",
        );
        for (name, variant) in &variants {
            let signed = image.require_signed_urls && !variant.never_require_signed_urls;
            let url = format!(
                "{}{}",
                app.origin,
                delivery_path(app, &image.id, name, false, &keys, now)
            );
            let note = if signed {
                " <span class=badge>refused unsigned (403)</span>"
            } else {
                ""
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td><a href=\"{url}\"><code>{url}</code></a>{note}</td></tr>",
                esc(name),
                url = esc(&url),
            );
        }
        body.push_str("</table>");

        body.push_str("<h2>Signed URL</h2>");
        let variant = sign_variant.unwrap_or("public");
        let ttl_secs = match ttl {
            None | Some("") => 3600,
            Some(t) => t
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|t| (1..=31_536_000).contains(t))
                .ok_or_else(|| ApiError::bad_request("ttl must be 1..=31536000 seconds"))?,
        };
        let _ = write!(
            body,
            "<form method=get action=\"/console/image\" class=sign>\
             <input type=hidden name=id value=\"{}\">\
             <label>variant <input name=variant value=\"{}\" list=variant-names></label>\
             <datalist id=variant-names>{}</datalist>\
             <label>valid for <input name=ttl type=number min=1 value=\"{ttl_secs}\"> s</label>\
             <button type=submit>Sign</button></form>",
            esc(&image.id),
            esc(variant),
            variants
                .keys()
                .map(|n| format!("<option value=\"{}\">", esc(n)))
                .collect::<String>(),
        );
        if sign_variant.is_some() {
            match keys.first() {
                Some((key_name, key)) => {
                    let path = delivery_raw_path(app, &image.id, variant);
                    let exp = now + ttl_secs;
                    let url = format!("{}{}", app.origin, sign(&path, exp, key));
                    let _ = write!(
                        body,
                        "<p class=signed>Signed with key <code>{}</code>, valid until {}:<br>\
                         <a id=signed-url href=\"{url}\"><code>{url}</code></a></p>",
                        esc(key_name),
                        esc(&chrono::DateTime::from_timestamp(exp, 0)
                            .map(|t| t.to_rfc3339())
                            .unwrap_or_default()),
                        url = esc(&url),
                    );
                }
                None => body.push_str("<p>No signing key.</p>"),
            }
        }
    }

    let _ = write!(
        body,
        "<h2>Delete</h2><form method=post action=\"/console/delete\" class=delete>\
         <input type=hidden name=id value=\"{}\"><button type=submit>Delete this image</button></form>",
        esc(&image.id)
    );
    Ok(page(app, &format!("Image {}", image.id), &body))
}

async fn variants_page(app: &App) -> Result<Response<Body>, ApiError> {
    let variants = app.db(|s| s.variants()).await?;
    let mut body = String::from(
        "<h1>Variants</h1><table class=variants><tr><th>name</th><th>fit</th><th>width</th>\
         <th>height</th><th>metadata</th><th>neverRequireSignedURLs</th></tr>",
    );
    for variant in variants.values() {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&variant.id),
            esc(&variant.fit),
            variant.width,
            variant.height,
            esc(&variant.metadata),
            variant.never_require_signed_urls
        );
    }
    body.push_str(
        "</table><p>Each variant is rendered as Cloudflare documents it: resized to its width and \
         height by its <code>fit</code>, EXIF orientation applied, in the format the request \
         accepts. SVGs are served as stored: Cloudflare does not resize them.</p>",
    );
    Ok(page(app, "Variants", &body))
}

fn upload_page(app: &App) -> Response<Body> {
    let body = "<h1>Creator upload</h1>\
        <p>Runs the direct creator upload flow from this browser: the console creates a one-time \
        upload URL (as your backend would, with <code>POST v2/direct_upload</code>), then the \
        browser sends the file straight to it, without credentials.</p>\
        <form id=upload-form class=upload>\
        <label>custom id (optional) <input name=id id=upload-id></label>\
        <label>metadata (JSON object) <input name=metadata id=upload-metadata value=\"{}\"></label>\
        <label><input type=checkbox name=requireSignedURLs id=upload-signed value=true> require signed URLs</label>\
        <label>file <input type=file name=file id=upload-file accept=\"image/*\" required></label>\
        <button type=submit id=upload-button>Upload</button>\
        </form>\
        <progress id=upload-progress max=100 value=0></progress>\
        <p id=upload-status role=status></p>";
    page(app, "Creator upload", body)
}

// ---------------------------------------------------------------------------------------------
// Actions.

/// Deletes in two steps: without `confirm=yes` the answer is a page asking to confirm (a
/// delete cannot be undone); with it, the image goes and the gallery reports it.
async fn delete(app: &App, req: Request<Body>) -> Result<Response<Body>, ApiError> {
    check_same_origin(req.headers())?;
    let form = read_form(req).await?;
    let id = form_get(&form, "id").unwrap_or_default();
    if form_get(&form, "confirm").as_deref() != Some("yes") {
        let lookup = id.clone();
        if !app.db(move |s| s.exists(&lookup)).await? {
            return Err(ApiError::image_not_found());
        }
        let body = format!(
            "<h1>Delete image <code>{shown}</code>?</h1>\
             <p>The image and every variant of it stop being served. This cannot be undone.</p>\
             <form method=post action=\"/console/delete\" class=delete>\
             <input type=hidden name=id value=\"{shown}\">\
             <input type=hidden name=confirm value=yes>\
             <button type=submit id=confirm-delete>Delete</button> \
             <a id=cancel-delete href=\"{back}\">Cancel</a></form>",
            shown = esc(&id),
            back = esc(&image_link(&id)),
        );
        return Ok(page(app, &format!("Delete {id}?"), &body));
    }
    let target = id.clone();
    let deleted = app.db(move |s| s.delete(&target)).await?;
    if !deleted {
        return Err(ApiError::image_not_found());
    }
    let encoded: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    Ok(redirect_to(&format!("/?deleted={encoded}")))
}

/// Creates a draft for the console's upload page, like `POST v2/direct_upload`.
async fn upload_url(app: &App, req: Request<Body>) -> Result<Response<Body>, ApiError> {
    check_same_origin(req.headers())?;
    let form = read_form(req).await?;
    let custom = form_get(&form, "id").filter(|id| !id.trim().is_empty());
    if let Some(id) = &custom {
        validate_custom_id(id)?;
    }
    let meta = match form_get(&form, "metadata").filter(|m| !m.trim().is_empty()) {
        Some(text) => parse_metadata_text(&text)?,
        None => Map::new(),
    };
    let require_signed_urls = form_get(&form, "requireSignedURLs")
        .is_some_and(|v| matches!(v.as_str(), "true" | "on" | "1"));
    if custom.is_some() && require_signed_urls {
        return Err(ApiError::bad_request(
            "Images with a custom ID cannot require signed URLs",
        ));
    }
    let now = Utc::now();
    let (custom_id, id) = match custom {
        Some(id) => (true, id),
        None => (false, uuid::Uuid::new_v4().to_string()),
    };
    let image = Image {
        seq: 0,
        id: id.clone(),
        custom_id,
        filename: None,
        uploaded: now,
        require_signed_urls,
        meta,
        creator: None,
        draft: true,
        upload_expiry: Some(now + chrono::Duration::minutes(30)),
        content_type: None,
        blob_hash: None,
    };
    app.db(move |s| s.insert(image, None)).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "success": true, "errors": [], "messages": [],
            "result": {
                "id": id,
                "uploadURL": format!("{}/upload/{}/{}", app.origin, app.config.account_hash, encode_id(&id)),
                "page": image_link(&id),
            },
        }),
    ))
}

/// Refuses a POST sent by a browser from another origin (CSRF): the `Origin` must be
/// `http://<Host>`. A request without `Origin` does not come from a browser's form or fetch.
fn check_same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if origin.to_str().ok() == Some(format!("http://{host}").as_str()) {
        Ok(())
    } else {
        Err(ApiError::new(
            403,
            10000,
            "The console accepts forms from its own pages only",
        ))
    }
}

async fn read_form(req: Request<Body>) -> Result<Vec<(String, String)>, ApiError> {
    let bytes = axum::body::to_bytes(req.into_body(), MAX_FORM_BODY)
        .await
        .map_err(|_| ApiError::bad_request("Form too large or unreadable"))?;
    Ok(form_urlencoded::parse(&bytes).into_owned().collect())
}

fn form_get(form: &[(String, String)], name: &str) -> Option<String> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

// ---------------------------------------------------------------------------------------------
// URLs, signing, escaping, layout.

fn image_link(id: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/console/image?id={encoded}")
}

/// `/<hash>/<id>/<variant>`, percent-encoded as the emulator's own URLs are.
/// The variant previews are delivered in: `w=<width>` when the account allows flexible
/// variants and the image needs no signature (Cloudflare refuses flexible variants for
/// images that require signed URLs), else `public` if it exists, else the first variant by
/// name; `None` if there is no variant at all.
fn preview_variant(flexible: bool, signed: bool, names: &[String], width: u32) -> Option<String> {
    if flexible && !signed {
        return Some(format!("w={width}"));
    }
    names
        .iter()
        .find(|n| *n == "public")
        .or_else(|| names.first())
        .cloned()
}

fn delivery_raw_path(app: &App, id: &str, variant: &str) -> String {
    let variant = if variant
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "=,.-_".contains(c))
    {
        variant.to_owned()
    } else {
        encode_id(variant).replace('/', "%2F")
    };
    format!(
        "/{}/{}/{variant}",
        encode_id(&app.config.account_hash),
        encode_id(id),
    )
}

/// The delivery path of `id` in `variant`, signed for [`PREVIEW_TTL_SECS`] with the first key
/// when `signed`.
fn delivery_path(
    app: &App,
    id: &str,
    variant: &str,
    signed: bool,
    keys: &[(String, String)],
    now: i64,
) -> String {
    let path = delivery_raw_path(app, id, variant);
    match keys.first() {
        Some((_, key)) if signed => sign(&path, now + PREVIEW_TTL_SECS, key),
        _ => path,
    }
}

/// `path?exp=..&sig=..` as Cloudflare signs it (see `delivery.rs`).
fn sign(path: &str, exp: i64, key: &str) -> String {
    let unsigned = format!("{path}?exp={exp}");
    match crate::delivery::url_signature(key, &unsigned) {
        Some(sig) => format!("{unsigned}&sig={}", hex(&sig)),
        None => unsigned,
    }
}

/// HTML-escapes text for element content and quoted attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(app: &App, title: &str, body: &str) -> Response<Body> {
    html(StatusCode::OK, app, title, body)
}

fn html(status: StatusCode, app: &App, title: &str, body: &str) -> Response<Body> {
    let text = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <title>{} · Images emulator</title>\
         <link rel=stylesheet href=\"/console/console.css\">\
         <script src=\"/console/console.js\" defer></script></head><body>\
         <header><strong>Cloudflare Images emulator</strong> \
         <nav><a href=\"/\">Images</a> <a href=\"/console/upload\">Upload</a> \
         <a href=\"/console/variants\">Variants</a></nav>\
         <span class=api>API <code>{}/client/v4</code>, account <code>{}</code></span></header>\
         <main>{body}</main></body></html>",
        esc(title),
        esc(&app.origin),
        esc(&app.config.account_id),
    );
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

fn error_page(app: &App, error: &ApiError) -> Response<Body> {
    let body = format!(
        "<h1>{}</h1><p class=error>{} (code {})</p><p><a href=\"/\">Back to the images</a></p>",
        error.status.as_u16(),
        esc(&error.message),
        error.code
    );
    html(error.status, app, "Error", &body)
}

fn asset(text: &'static str, mime: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::from(text));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// A 303 to a path built here (percent-encoded, so always a valid header value).
fn redirect_to(to: &str) -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, value);
    }
    resp
}

fn redirect(to: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    resp.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    resp
}

#[cfg(test)]
mod tests {

    #[test]
    fn previews_use_a_flexible_width_only_where_cloudflare_would_serve_it() {
        let names = vec!["hero".to_owned(), "public".to_owned()];
        assert_eq!(
            preview_variant(true, false, &names, 240).as_deref(),
            Some("w=240")
        );
        // Disabled, or an image that requires signed URLs: a named variant, `public` first.
        assert_eq!(
            preview_variant(false, false, &names, 240).as_deref(),
            Some("public")
        );
        assert_eq!(
            preview_variant(true, true, &names, 240).as_deref(),
            Some("public")
        );
        let others = vec!["avatar".to_owned(), "hero".to_owned()];
        assert_eq!(
            preview_variant(false, false, &others, 240).as_deref(),
            Some("avatar")
        );
        assert_eq!(preview_variant(false, false, &[], 240), None);
    }
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>"a"&'b'</script>"#),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn image_links_encode_the_id() {
        assert_eq!(image_link("a/b c&d"), "/console/image?id=a%2Fb+c%26d");
    }
}
