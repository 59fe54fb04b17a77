//! Variants: `GET/POST v1/variants`, `GET/PATCH/DELETE v1/variants/{id}`,
//! `GET v1/variants/{id}/flat`.

use axum::body::Body;
use axum::http::Request;
use serde_json::{json, Map, Value};

use super::fields::valid_name;
use super::read_json_body;
use crate::encoding::decode_path;
use crate::http::{ok, ApiError, ApiResult};
use crate::store::Variant;
use crate::App;

/// At most this many variants per account.
pub(crate) const MAX_VARIANTS: usize = 100;

/// The API representation of a variant.
pub(super) fn variant_json(variant: &Variant) -> Value {
    json!({
        "id": variant.id,
        "options": {
            "fit": variant.fit,
            "metadata": variant.metadata,
            "width": variant.width,
            "height": variant.height,
        },
        "neverRequireSignedURLs": variant.never_require_signed_urls,
    })
}

pub(super) fn variant_not_found() -> ApiError {
    ApiError::new(404, 5401, "Variant not found")
}

pub(super) async fn variants_list(app: &App) -> ApiResult {
    let variants = app.db(|s| s.variants()).await?;
    let map: Map<String, Value> = variants
        .iter()
        .map(|(k, v)| (k.clone(), variant_json(v)))
        .collect();
    ok(json!({ "variants": map }))
}

pub(super) fn check_variant_name(raw: &str) -> Result<String, ApiError> {
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
pub(super) fn apply_variant_body(
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

pub(super) async fn variant_create(app: &App, req: Request<Body>) -> ApiResult {
    let body = read_json_body(req)
        .await?
        .ok_or_else(|| ApiError::bad_request("A JSON body is required"))?;
    let variant = variant_from_body(&body)?;
    let created = variant.clone();
    app.db(move |s| s.create_variant(&created, MAX_VARIANTS))
        .await?;
    ok(json!({ "variant": variant_json(&variant) }))
}

/// A new variant from a creation body (`id`, every option, `neverRequireSignedURLs`),
/// checked as `POST v1/variants` checks it.
pub(crate) fn variant_from_body(body: &Map<String, Value>) -> Result<Variant, ApiError> {
    let id = match body.get("id") {
        Some(Value::String(s)) if valid_name(s, 99) => s.clone(),
        _ => {
            return Err(ApiError::bad_request(
                "id must be 1 to 99 letters or digits",
            ))
        }
    };
    let blank = Variant {
        id,
        fit: String::new(),
        metadata: String::new(),
        width: 0,
        height: 0,
        never_require_signed_urls: false,
    };
    apply_variant_body(body, blank, true)
}

pub(super) async fn variant_get(app: &App, raw: &str, flat: bool) -> ApiResult {
    let name = decode_path(raw).unwrap_or_default();
    let variant = app
        .db(move |s| s.variant(&name))
        .await?
        .ok_or_else(variant_not_found)?;
    if flat {
        ok(variant_json(&variant))
    } else {
        ok(json!({ "variant": variant_json(&variant) }))
    }
}

pub(super) async fn variant_patch(app: &App, raw: &str, req: Request<Body>) -> ApiResult {
    let name = check_variant_name(raw)?;
    let body = read_json_body(req).await?.unwrap_or_default();
    let updated = app
        .db(move |s| s.update_variant(&name, |current| apply_variant_body(&body, current, false)))
        .await?
        .ok_or_else(variant_not_found)?;
    ok(json!({ "variant": variant_json(&updated) }))
}

pub(super) async fn variant_delete(app: &App, raw: &str) -> ApiResult {
    let name = decode_path(raw).unwrap_or_default();
    if !app.db(move |s| s.delete_variant(&name)).await? {
        return Err(variant_not_found());
    }
    ok(json!({}))
}
