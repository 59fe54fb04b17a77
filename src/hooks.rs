//! The generated client's hooks: where every request, generated or handwritten,
//! passes on its way out and back.
//!
//! `exec` repeats a failed attempt when [`RetryPolicy`] says it is safe, then
//! turns an error response whose body is not JSON (an HTML 502 from the
//! edge, a proxy's 413 page) into a failure envelope that keeps the status, the
//! headers and the start of the body. Without it progenitor would try to decode the
//! HTML as JSON and report an invalid payload with no status at all.

use progenitor_client::{encode_path, ClientHooks, ClientInfo, OperationInfo, ResponseValue};
use reqwest::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use serde::de::DeserializeOwned;

use crate::api::types::ApiResponseCommonFailure;
use crate::api::Client as ApiClient;
use crate::error::{snippet, Error, Result, NON_JSON_BODY_KEY};
use crate::retry::{Outcome, RetryPolicy};
use crate::Client;

impl ClientHooks<RetryPolicy> for ApiClient {
    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let policy = self.inner();
        let method = request.method().clone();
        let mut request = request;
        let mut attempt = 0;
        let result = loop {
            // A streamed body (every multipart upload) cannot be cloned: such a
            // request is sent exactly once.
            let spare = (attempt < policy.retries())
                .then(|| request.try_clone())
                .flatten();
            let result = self.client().execute(request).await;
            let delay =
                Outcome::of(&result).and_then(|outcome| policy.delay(&method, outcome, attempt));
            match (spare, delay) {
                (Some(next), Some(delay)) => {
                    tokio::time::sleep(delay).await;
                    request = next;
                    attempt += 1;
                }
                _ => break result,
            }
        };
        let response = result?;
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

/// A request to `{base}/accounts/{account_id}/{path}` with the headers every
/// generated method sends, for the operations written by hand.
pub(crate) fn api_request(
    client: &Client,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    let api = client.api();
    let url = format!(
        "{}/accounts/{}/{path}",
        api.baseurl(),
        encode_path(client.account_id())
    );
    api.client()
        .request(method, url)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(
            "api-version",
            <ApiClient as ClientInfo<RetryPolicy>>::api_version(),
        )
}

/// Sends a handwritten request through the generated client's `pre`/`exec`/`post`
/// hooks and decodes it as a generated method would: 2xx as `T`, 4xx and 5xx as
/// Cloudflare's failure envelope, anything else as an unexpected response.
pub(crate) async fn send_through_hooks<T: DeserializeOwned>(
    client: &Client,
    request: reqwest::RequestBuilder,
    operation_id: &'static str,
) -> Result<T> {
    let api = client.api();
    let mut request = request.build().map_err(Error::transport)?;
    let info = OperationInfo { operation_id };
    api.pre::<ApiResponseCommonFailure>(&mut request, &info)
        .await
        .map_err(Error::from_api)?;
    let result = api.exec(request, &info).await;
    api.post::<ApiResponseCommonFailure>(&result, &info)
        .await
        .map_err(Error::from_api)?;
    let response = result.map_err(Error::transport)?;
    match response.status().as_u16() {
        200..=299 => {
            let value: ResponseValue<T> = ResponseValue::from_response(response)
                .await
                .map_err(Error::from_api)?;
            Ok(value.into_inner())
        }
        400..=599 => {
            let value = ResponseValue::<ApiResponseCommonFailure>::from_response(response)
                .await
                .map_err(Error::from_api)?;
            Err(Error::from_api(progenitor_client::Error::ErrorResponse(
                value,
            )))
        }
        _ => Err(Error::from_api(
            progenitor_client::Error::UnexpectedResponse(response),
        )),
    }
}
