//! `GET v1/stats`.

use serde_json::json;

use crate::http::{ok, ApiResult};
use crate::App;

pub(super) async fn stats(app: &App) -> ApiResult {
    let current = app.db(|s| s.count()).await?;
    ok(json!({ "count": { "current": current, "allowed": 100_000 } }))
}
