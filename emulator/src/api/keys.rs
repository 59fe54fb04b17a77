//! Signing keys: `GET v1/keys`, `PUT/DELETE v1/keys/{name}`.

use serde_json::{json, Value};

use super::persist;
use crate::store::Store;
use crate::util::{decode_path, ok, random_key, valid_name, ApiError, ApiResult};
use crate::App;

pub(super) fn keys_json(store: &Store) -> Value {
    let keys: Vec<Value> = store
        .keys
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    json!({ "keys": keys })
}

pub(super) fn keys_list(app: &App) -> ApiResult {
    ok(keys_json(&app.lock()))
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
    let result = {
        let mut store = app.lock();
        store.keys.insert(name, random_key());
        keys_json(&store)
    };
    persist(app).await?;
    ok(result)
}

pub(super) async fn key_delete(app: &App, raw: &str) -> ApiResult {
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
