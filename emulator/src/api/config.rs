//! `PATCH v1/config`: account-level Images settings. Only `flexible_variants` exists (off
//! by default, as on Cloudflare); delivery refuses flexible-variant options until it is on.
//! The setting is kept in the store's `settings` table, so it survives restarts with a data
//! folder and is shared by processes using the same folder.

use axum::body::Body;
use axum::http::Request;
use serde_json::{json, Value};

use super::read_json_body;
use crate::http::{ok, ApiError, ApiResult};
use crate::App;

pub(super) async fn config_patch(app: &App, req: Request<Body>) -> ApiResult {
    let body = read_json_body(req).await?.unwrap_or_default();
    let wanted = match body.get("flexible_variants") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(ApiError::bad_request("flexible_variants must be a boolean")),
    };
    let now = app
        .db(move |s| match wanted {
            Some(on) => s.set_flexible_variants(on),
            None => s.flexible_variants(),
        })
        .await?;
    ok(json!({ "flexible_variants": now }))
}
