//! Cloudflare's response envelopes, as the API wraps every JSON answer.

use serde_json::{json, Value};

/// The success envelope around `result`.
pub fn ok(result: Value) -> Value {
    json!({"success": true, "errors": [], "messages": [], "result": result})
}

/// A failure envelope with one error, `code` and `message`, and a null result.
pub fn failure(code: i64, message: &str) -> Value {
    json!({"success": false, "errors": [{"code": code, "message": message}], "messages": [], "result": null})
}
