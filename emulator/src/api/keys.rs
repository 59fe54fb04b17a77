//! Signing keys: `GET v1/keys`, `PUT/DELETE v1/keys/{name}`.

use serde_json::{json, Value};

use super::fields::valid_name;
use crate::encoding::decode_path;
use crate::http::{ok, ApiError, ApiResult};
use crate::App;

pub(super) fn keys_json(keys: &[(String, String)]) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    json!({ "keys": keys })
}

pub(super) async fn keys_list(app: &App) -> ApiResult {
    ok(keys_json(&app.db(|s| s.keys()).await?))
}

pub(super) fn check_key_name(raw: &str) -> Result<String, ApiError> {
    let name = decode_path(raw).unwrap_or_default();
    if !valid_name(&name, 20) {
        return Err(ApiError::bad_request(
            "Key names must be 1 to 20 letters or digits",
        ));
    }
    Ok(name)
}

pub(super) async fn key_put(app: &App, raw: &str) -> ApiResult {
    let name = check_key_name(raw)?;
    ok(keys_json(&app.db(move |s| s.put_key(&name)).await?))
}

pub(super) async fn key_delete(app: &App, raw: &str) -> ApiResult {
    let name = check_key_name(raw)?;
    let keys = app
        .db(move |s| s.delete_key(&name))
        .await?
        .ok_or_else(|| ApiError::new(404, 5404, "Key not found"))?;
    ok(keys_json(&keys))
}
