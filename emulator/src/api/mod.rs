//! The `/client/v4/accounts/{account_id}/images/...` API and the one-time upload URLs.
//!
//! This module holds the entry point ([`serve`], reached from `crate::router`), authentication, the route table
//! ([`ROUTES`]) and helpers shared by the handlers; each resource's handlers live in their
//! own module. Adding a route is one line in [`ROUTES`] plus its handler.
//!
//! Routing works on the raw (still percent-encoded) path, so an image id sent as
//! `a%2Fb%2Fc` stays one path segment, and `.../v1/{id}/blob` is recognised whatever the id holds.

pub(crate) mod batch;
mod config;
pub(crate) mod direct_upload;
mod fetch;
pub(crate) mod fields;
mod form;
mod images;
mod keys;
mod list;
mod stats;
mod tokens;
mod variants;

pub(crate) use form::check_format;
pub(crate) use variants::{variant_from_body, MAX_VARIANTS};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request};
use chrono::SecondsFormat;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq as _;

use crate::encoding::{decode_path, encode_id};
use crate::http::{ApiError, ApiResult};
use crate::store::Image;
use crate::App;

/// Largest accepted image: 10 MiB.
pub(crate) const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;
/// Largest accepted JSON body.
const MAX_JSON_BODY: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// The route table.

/// A matched API request, as a handler receives it.
pub(crate) struct Call {
    pub app: Arc<App>,
    pub req: Request<Body>,
    /// The pieces captured by the pattern's `{name}` / `{name*}` parts, raw (still
    /// percent-encoded), in pattern order.
    pub params: Vec<String>,
}

impl Call {
    /// The `i`-th captured piece, raw.
    fn raw(&self, i: usize) -> &str {
        self.params.get(i).map_or("", String::as_str)
    }

    /// The `i`-th captured piece as an image id (percent-decoded once); 404 if not UTF-8.
    fn image_id(&self, i: usize) -> Result<String, ApiError> {
        decode_path(self.raw(i)).ok_or_else(ApiError::image_not_found)
    }

    /// The decoded query string.
    fn query(&self) -> Vec<(String, String)> {
        query_pairs(&self.req)
    }
}

type Reply = Pin<Box<dyn Future<Output = ApiResult> + Send>>;

/// One row of [`ROUTES`].
struct Route {
    /// `None` matches any method.
    method: Option<Method>,
    /// Path below `accounts/{account_id}/images/`, `/`-separated. `{name}` captures one
    /// segment, `{name*}` one or more (at most one per pattern); other segments are literal.
    pattern: &'static str,
    handler: fn(Call) -> Reply,
}

/// Builds a [`Route`]: `route!(GET "v1/keys" => |call| keys::list(&call.app))`. `ANY` matches
/// every method (used for the 405 rows).
macro_rules! route {
    (ANY $pattern:literal => |$call:ident| $body:expr) => {
        Route {
            method: None,
            pattern: $pattern,
            handler: |$call: Call| -> Reply { Box::pin(async move { $body }) },
        }
    };
    ($method:ident $pattern:literal => |$call:ident| $body:expr) => {
        Route {
            method: Some(Method::$method),
            pattern: $pattern,
            handler: |$call: Call| -> Reply { Box::pin(async move { $body }) },
        }
    };
}

/// The API's routes, tried in order: the first row whose method and pattern match handles
/// the request; if none does, 404 (code 7003).
fn routes() -> &'static [Route] {
    static ROUTES: std::sync::LazyLock<Vec<Route>> = std::sync::LazyLock::new(|| {
        vec![
            route!(GET "v1" => |c| list::list_v1(&c.app, &c.query()).await),
            route!(POST "v1" => |c| images::upload_v1(&c.app, c.req).await),
            route!(GET "v1/keys" => |c| keys::keys_list(&c.app).await),
            route!(PUT "v1/keys/{name}" => |c| keys::key_put(&c.app, c.raw(0)).await),
            route!(DELETE "v1/keys/{name}" => |c| keys::key_delete(&c.app, c.raw(0)).await),
            route!(GET "v1/stats" => |c| stats::stats(&c.app).await),
            route!(GET "v1/batch_token" => |c| batch::issue_token(&c.app)),
            // Only PATCH: any other method on `v1/config` still means an image with that id.
            route!(PATCH "v1/config" => |c| config::config_patch(&c.app, c.req).await),
            route!(GET "v1/variants" => |c| variants::variants_list(&c.app).await),
            route!(POST "v1/variants" => |c| variants::variant_create(&c.app, c.req).await),
            route!(GET "v1/variants/{id}" => |c| variants::variant_get(&c.app, c.raw(0), false).await),
            route!(GET "v1/variants/{id}/flat" => |c| variants::variant_get(&c.app, c.raw(0), true).await),
            route!(PATCH "v1/variants/{id}" => |c| {
                let raw = c.raw(0).to_owned();
                variants::variant_patch(&c.app, &raw, c.req).await
            }),
            route!(DELETE "v1/variants/{id}" => |c| variants::variant_delete(&c.app, c.raw(0)).await),
            route!(POST "v1/direct_upload" => |c| direct_upload::direct_upload_v1(&c.app, c.req).await),
            route!(GET "v2" => |c| list::list_v2(&c.app, &c.query()).await),
            route!(POST "v2/direct_upload" => |c| direct_upload::direct_upload_v2(&c.app, c.req).await),
            route!(ANY "v1" => |_c| Err(method_not_allowed())),
            route!(ANY "v2" => |_c| Err(method_not_allowed())),
            route!(ANY "v1/keys" => |_c| Err(method_not_allowed())),
            route!(ANY "v1/stats" => |_c| Err(method_not_allowed())),
            route!(ANY "v1/batch_token" => |_c| Err(method_not_allowed())),
            route!(ANY "v1/variants" => |_c| Err(method_not_allowed())),
            // Image ids may hold `/`, so these come last and capture the rest of the path.
            route!(GET "v1/{id*}/blob" => |c| images::blob(&c.app, &c.image_id(0)?).await),
            route!(GET "v1/{id*}" => |c| images::image_get(&c.app, &c.image_id(0)?).await),
            route!(PATCH "v1/{id*}" => |c| {
                let id = c.image_id(0)?;
                images::image_patch(&c.app, &id, c.req).await
            }),
            route!(DELETE "v1/{id*}" => |c| images::image_delete(&c.app, &c.image_id(0)?).await),
            route!(ANY "v1/{id*}" => |_c| Err(method_not_allowed())),
        ]
    });
    &ROUTES
}

/// Matches `path` (segments) against `pattern`; returns the captured pieces.
fn match_pattern(pattern: &str, segs: &[&str]) -> Option<Vec<String>> {
    let pat: Vec<&str> = pattern.split('/').collect();
    let mut params = Vec::new();
    match pat
        .iter()
        .position(|p| p.starts_with('{') && p.ends_with("*}"))
    {
        None => {
            if pat.len() != segs.len() {
                return None;
            }
            for (p, s) in pat.iter().zip(segs) {
                if p.starts_with('{') {
                    params.push((*s).to_owned());
                } else if p != s {
                    return None;
                }
            }
        }
        Some(star) => {
            let after = pat.len() - star - 1;
            if segs.len() < star + 1 + after {
                return None;
            }
            let (head, rest) = segs.split_at(star);
            let (middle, tail) = rest.split_at(rest.len() - after);
            for (p, s) in pat[..star]
                .iter()
                .zip(head)
                .chain(pat[star + 1..].iter().zip(tail))
            {
                if p.starts_with('{') {
                    params.push((*s).to_owned());
                } else if p != s {
                    return None;
                }
            }
            // Keep captures in pattern order: the star piece goes where it stands.
            let before = pat[..star].iter().filter(|p| p.starts_with('{')).count();
            params.insert(before, middle.join("/"));
        }
    }
    Some(params)
}

// ---------------------------------------------------------------------------------------------
// Authentication and query strings.

pub(super) fn no_route(path: &str) -> ApiError {
    ApiError::new(
        404,
        7003,
        format!("Could not route to /client/v4/{path}, perhaps your object identifier is invalid?"),
    )
}

pub(super) fn method_not_allowed() -> ApiError {
    ApiError::new(405, 10405, "Method not allowed")
}

pub(super) fn auth_error(status: u16) -> ApiError {
    ApiError::new(status, 10000, "Authentication error")
}

/// Checks credentials: 401 when none are usable, 403 when the bearer token is wrong.
pub(super) fn check_auth(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
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
            // Constant time, so response timing does not reveal how much of a guess was right.
            Some(expected) if !bool::from(expected.as_bytes().ct_eq(token.as_bytes())) => {
                Err(auth_error(403))
            }
            _ => Ok(()),
        };
    }
    if text("x-auth-email").is_some() && text("x-auth-key").is_some() {
        return Ok(());
    }
    Err(auth_error(401))
}

pub(super) fn query_pairs(req: &Request<Body>) -> Vec<(String, String)> {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

pub(super) fn query_get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(super) fn parse_range(
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

/// Checks credentials and the account, then runs the first matching route.
pub(crate) async fn serve(app: Arc<App>, rest: &str, req: Request<Body>) -> ApiResult {
    if rest.trim_end_matches('/') == tokens::PATH {
        return tokens::verify(&app, &req);
    }
    check_auth(&app, req.headers())?;
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
    let segs: Vec<&str> = tail.trim_end_matches('/').split('/').collect();
    for route in routes() {
        if route.method.as_ref().is_some_and(|m| m != req.method()) {
            continue;
        }
        if let Some(params) = match_pattern(route.pattern, &segs) {
            return (route.handler)(Call { app, req, params }).await;
        }
    }
    Err(no_route(rest))
}

// ---------------------------------------------------------------------------------------------
// Errors and helpers shared by the handlers.

/// The API representation of `image`; `variants` are the variant names, sorted.
pub(super) fn image_json(app: &App, image: &Image, variants: &[String]) -> Value {
    let (origin, hash) = (&app.origin, &app.config.account_hash);
    let encoded_id = encode_id(&image.id);
    let urls: Vec<Value> = variants
        .iter()
        .map(|v| Value::String(format!("{origin}/{hash}/{encoded_id}/{v}")))
        .collect();
    let mut obj = Map::new();
    obj.insert("id".into(), Value::String(image.id.clone()));
    if let Some(f) = &image.filename {
        obj.insert("filename".into(), Value::String(f.clone()));
    }
    obj.insert(
        "uploaded".into(),
        Value::String(image.uploaded.to_rfc3339_opts(SecondsFormat::Millis, true)),
    );
    obj.insert(
        "requireSignedURLs".into(),
        Value::Bool(image.require_signed_urls),
    );
    obj.insert("variants".into(), Value::Array(urls));
    obj.insert("meta".into(), Value::Object(image.meta.clone()));
    if let Some(c) = &image.creator {
        obj.insert("creator".into(), Value::String(c.clone()));
    }
    if image.draft {
        obj.insert("draft".into(), Value::Bool(true));
    }
    Value::Object(obj)
}

pub(super) async fn read_json_body(
    req: Request<Body>,
) -> Result<Option<Map<String, Value>>, ApiError> {
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

pub(super) fn check_creator(creator: &str) -> Result<(), ApiError> {
    if creator.chars().count() > 1024 {
        return Err(ApiError::bad_request(
            "Creator must be at most 1024 characters",
        ));
    }
    Ok(())
}

pub(crate) fn custom_id_signed_error() -> ApiError {
    ApiError::bad_request("Images with a custom ID cannot require signed URLs")
}

pub(super) fn fail_after_upload(app: &App) -> Result<(), ApiError> {
    if app.faults.fail_after_upload() {
        app.faults.note_injected();
        return Err(ApiError::internal("Internal Server Error"));
    }
    Ok(())
}

pub(super) fn too_large() -> ApiError {
    ApiError::new(413, 5413, "Image file size too large (max 10 MB)")
}

pub(super) fn already_exists() -> ApiError {
    ApiError::new(409, 5409, "Resource already exists")
}

/// 409 if `id` is taken (an early answer; the insert checks again atomically).
pub(super) async fn ensure_free(app: &App, id: Option<&str>) -> Result<(), ApiError> {
    if let Some(id) = id {
        let id = id.to_owned();
        if app.db(move |s| s.exists(&id)).await? {
            return Err(already_exists());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(path: &str) -> Vec<&str> {
        path.split('/').collect()
    }

    #[test]
    fn patterns() {
        assert_eq!(match_pattern("v1/keys", &segs("v1/keys")), Some(vec![]));
        assert_eq!(match_pattern("v1/keys", &segs("v1/keys/x")), None);
        assert_eq!(
            match_pattern("v1/keys/{name}", &segs("v1/keys/a%2Fb")),
            Some(vec!["a%2Fb".to_owned()])
        );
        assert_eq!(
            match_pattern("v1/{id*}", &segs("v1/a/b/c")),
            Some(vec!["a/b/c".to_owned()])
        );
        assert_eq!(match_pattern("v1/{id*}", &segs("v1")), None);
        assert_eq!(
            match_pattern("v1/{id*}/blob", &segs("v1/a/blob/blob")),
            Some(vec!["a/blob".to_owned()])
        );
        assert_eq!(match_pattern("v1/{id*}/blob", &segs("v1/blob")), None);
        assert_eq!(
            match_pattern("x/{a}/{b*}/y/{c}", &segs("x/1/2/3/y/4")),
            Some(vec!["1".to_owned(), "2/3".to_owned(), "4".to_owned()])
        );
    }

    #[test]
    fn every_pattern_has_at_most_one_star() {
        for route in routes() {
            let stars = route
                .pattern
                .split('/')
                .filter(|p| p.ends_with("*}"))
                .count();
            assert!(stars <= 1, "{}", route.pattern);
        }
    }
}
