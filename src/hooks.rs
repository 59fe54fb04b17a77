//! The generated client's hooks: where every request, generated or handwritten,
//! passes on its way out and back.
//!
//! `exec` turns an error response whose body is not JSON (an HTML 502 from the
//! edge, a proxy's 413 page) into a failure envelope that keeps the status, the
//! headers and the start of the body. Without it progenitor would try to decode the
//! HTML as JSON and report an invalid payload with no status at all.

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};

use crate::api::Client as ApiClient;
use crate::error::{snippet, NON_JSON_BODY_KEY};

impl ClientHooks<()> for ApiClient {
    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let response = self.client().execute(request).await?;
        if response.status().is_success() || is_json(&response) {
            return Ok(response);
        }
        Ok(envelope_for_non_json(response).await)
    }
}

fn is_json(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"))
}

/// Rebuilds a non-JSON error response as Cloudflare's failure envelope, keeping
/// its status and headers; the body's start travels in `result`.
async fn envelope_for_non_json(response: reqwest::Response) -> reqwest::Response {
    let status = response.status();
    let mut headers = response.headers().clone();
    // A body that fails midway still yields an error with its status.
    let body = response.bytes().await.unwrap_or_default();
    let envelope = serde_json::json!({
        "success": false,
        "errors": [],
        "messages": [],
        "result": { NON_JSON_BODY_KEY: snippet(&body) },
    });
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.remove(CONTENT_LENGTH);
    let mut rebuilt = http::Response::new(envelope.to_string());
    *rebuilt.status_mut() = status;
    *rebuilt.headers_mut() = headers;
    reqwest::Response::from(rebuilt)
}
