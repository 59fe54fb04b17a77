//! `GET /client/v4/user/tokens/verify`: whether the bearer token works, as Cloudflare answers
//! it (<https://developers.cloudflare.com/fundamentals/api/troubleshooting/>): 200 with the
//! token's `id` and `status: "active"`, else 401 with code 1000 "Invalid API Token".
//!
//! Known differences: the emulator has one token (its configured `api_token`, or any when none
//! is configured), always active and without `not_before`/`expires_on`; its `id` is a fixed
//! value, not derived from the token.

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::json;

use super::method_not_allowed;
use crate::http::{ok, ApiError, ApiResult};
use crate::App;

/// The path below `/client/v4/`.
pub(crate) const PATH: &str = "user/tokens/verify";

/// The `id` the emulator reports for its token.
const TOKEN_ID: &str = "e0000000000000000000000000000001";

fn invalid() -> ApiError {
    ApiError::new(401, 1000, "Invalid API Token")
}

/// Answers a token verification; only a bearer token can be verified.
pub(crate) fn verify(app: &App, req: &Request<Body>) -> ApiResult {
    if req.method() != Method::GET {
        return Err(method_not_allowed());
    }
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()
        });
    if !bearer {
        return Err(invalid());
    }
    // With a bearer token present, the same (constant-time) check as every other request's.
    super::check_auth(app, req.headers()).map_err(|_| invalid())?;
    ok(json!({ "id": TOKEN_ID, "status": "active" }))
}
