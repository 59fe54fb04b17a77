//! Cloudflare's Batch API: `GET v1/batch_token` on the API issues a token; the batch host
//! (here `<origin>/batch`, like `https://batch.imagedelivery.net`) serves
//! `<batch>/images/v1...` with `Authorization: Bearer <batch token>` for the covered
//! operations only ([`COVERED`]), with the same handlers, bodies and answers as the API.
//!
//! A batch request is matched against the API's route table ([`super::routes`]), so both
//! hosts resolve a path the same way (`v1/keys` is the keys route on both, never an image
//! id); the batch host then runs the row only if it is covered, answers 405 for another
//! method on a covered path, and 404 (code 7003) for everything else. Batch requests are
//! counted against their token's window, never the global one.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request};
use chrono::SecondsFormat;
use serde_json::json;

use super::{auth_error, match_pattern, method_not_allowed, routes, Call};
use crate::http::{ok, ApiError, ApiResult};
use crate::limits::{too_many_requests, Refused};
use crate::App;

/// The (method, pattern) rows of the API route table the batch host serves, per
/// Cloudflare's "Upload via batch API" page.
const COVERED: &[(&str, &str)] = &[
    ("POST", "v1"),
    ("GET", "v1/{id*}"),
    ("PATCH", "v1/{id*}"),
    ("DELETE", "v1/{id*}"),
    ("GET", "v2"),
    ("POST", "v2/direct_upload"),
];

/// `GET v1/batch_token`: `{"token", "expiresAt"}` (RFC 3339, nanoseconds, UTC).
pub(super) fn issue_token(app: &App) -> ApiResult {
    let (token, expires) = app.limits.issue_token();
    ok(json!({
        "token": token,
        "expiresAt": expires.to_rfc3339_opts(SecondsFormat::Nanos, true),
    }))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn no_route(rest: &str) -> ApiError {
    ApiError::new(
        404,
        7003,
        format!("Could not route to /{rest}, perhaps your object identifier is invalid?"),
    )
}

/// A request under `<origin>/batch/`; `rest` is the path after it (still percent-encoded).
pub(crate) async fn serve(app: Arc<App>, rest: &str, req: Request<Body>) -> ApiResult {
    let token = bearer(req.headers()).ok_or_else(|| auth_error(401))?;
    match app.limits.admit_batch(token) {
        Ok(()) => {}
        Err(Refused::Token) => return Err(auth_error(401)),
        Err(Refused::Limited(wait)) => return Err(too_many_requests(wait)),
    }
    let Some(tail) = rest.strip_prefix("images/") else {
        return Err(no_route(rest));
    };
    let segs: Vec<&str> = tail.trim_end_matches('/').split('/').collect();
    for route in routes() {
        if route.method.as_ref().is_some_and(|m| m != req.method()) {
            continue;
        }
        let Some(params) = match_pattern(route.pattern, &segs) else {
            continue;
        };
        return match &route.method {
            Some(m) if COVERED.contains(&(m.as_str(), route.pattern)) => {
                (route.handler)(Call { app, req, params }).await
            }
            None if COVERED.iter().any(|(_, p)| *p == route.pattern) => Err(method_not_allowed()),
            _ => Err(no_route(rest)),
        };
    }
    Err(no_route(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_covered_row_is_in_the_api_table() {
        for (method, pattern) in COVERED {
            assert!(
                routes()
                    .iter()
                    .any(|r| r.method.as_ref().is_some_and(|m| m.as_str() == *method)
                        && r.pattern == *pattern),
                "{method} {pattern}"
            );
        }
    }
}
