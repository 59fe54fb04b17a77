//! Image delivery (`/{hash}/{id}/{variant}` and `/cdn-cgi/imagedelivery/{hash}/{id}/{variant}`)
//! with signed-URL verification.
//!
//! The signature is checked as Cloudflare documents it: `sig` is the lowercase hex
//! HMAC-SHA256, keyed with the bytes of a signing key's value as the keys API shows it, of
//! `path + "?" + query` where the query is the received one with the `sig` parameter removed.
//! `path` is the raw (percent-encoded) request path; on the `/cdn-cgi/imagedelivery` route
//! the path without that prefix (`/{hash}/{id}/{variant}`) is accepted as well. Any current
//! key may have signed; comparison is constant-time (`Mac::verify_slice`).

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::api::blob_response;
use crate::store::Delivery;
use crate::util::{decode_path, text_response, unhex};
use crate::App;

const CDN_PREFIX: &str = "/cdn-cgi/imagedelivery";

fn not_found() -> Response<Body> {
    text_response(StatusCode::NOT_FOUND, "ERROR 9404: Image not found")
}

fn forbidden(why: &str) -> Response<Body> {
    text_response(StatusCode::FORBIDDEN, &format!("ERROR 9403: {why}"))
}

/// Serves one delivery request. Every answer carries `Access-Control-Allow-Origin: *`, so a
/// web app on another origin can `fetch` images (and read a 403 or 404), as from
/// `imagedelivery.net`.
pub(crate) async fn serve(app: &App, req: Request<Body>) -> Response<Body> {
    let mut resp = serve_inner(app, req).await;
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

async fn serve_inner(app: &App, req: Request<Body>) -> Response<Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text_response(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    }
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    let (short_path, rest) = match path.strip_prefix(CDN_PREFIX) {
        Some(short) if short.starts_with('/') => (Some(short), &short[1..]),
        _ => (None, path.strip_prefix('/').unwrap_or(path)),
    };
    let Some((hash, after)) = rest.split_once('/') else {
        return not_found();
    };
    if decode_path(hash).as_deref() != Some(app.config.account_hash.as_str()) {
        return not_found();
    }
    let Some((id_raw, variant_raw)) = after.rsplit_once('/') else {
        return not_found();
    };
    let (Some(id), Some(variant)) = (decode_path(id_raw), decode_path(variant_raw)) else {
        return not_found();
    };
    if id.is_empty() || variant.is_empty() {
        return not_found();
    }
    let flexible = variant.contains('=');
    let found = app.db(move |s| s.delivery(&id, &variant, flexible)).await;
    let (blob, mime, require_signed, keys) = match found {
        Ok(Delivery::Found {
            mime,
            blob,
            require_signed,
            keys,
        }) => (blob, mime, require_signed, keys),
        Ok(Delivery::VariantNotFound) => {
            return text_response(StatusCode::NOT_FOUND, "ERROR 9401: Variant not found")
        }
        Ok(Delivery::ImageNotFound) => return not_found(),
        Err(e) => return e.into_response(),
    };
    if require_signed {
        if let Err(why) = verify(
            path,
            short_path,
            query,
            &keys,
            chrono::Utc::now().timestamp(),
        ) {
            return forbidden(why);
        }
    }
    let mut resp = match blob_response(blob, &mime).await {
        Ok(resp) => resp,
        Err(e) if e.status == StatusCode::NOT_FOUND => return not_found(),
        Err(e) => return e.into_response(),
    };
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if require_signed {
            "private, max-age=0"
        } else {
            "public, max-age=86400"
        }),
    );
    resp
}

/// Checks `exp` and `sig` of a signed delivery URL.
pub(crate) fn verify(
    path: &str,
    short_path: Option<&str>,
    query: &str,
    keys: &[String],
    now: i64,
) -> Result<(), &'static str> {
    let mut sig = None;
    let mut exp = None;
    let mut kept = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        if k == "sig" {
            sig = Some(v);
        } else {
            if k == "exp" {
                exp = Some(v);
            }
            kept.push(part);
        }
    }
    let exp: i64 = exp
        .ok_or("signed URL required: missing exp")?
        .parse()
        .map_err(|_| "invalid exp")?;
    if exp < now {
        return Err("signed URL has expired");
    }
    let sig = unhex(sig.ok_or("signed URL required: missing sig")?).ok_or("invalid sig")?;
    let query = kept.join("&");
    let mut messages = vec![format!("{path}?{query}")];
    if let Some(short) = short_path {
        messages.push(format!("{short}?{query}"));
    }
    let mut valid = false;
    for key in keys {
        for message in &messages {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
                continue;
            };
            mac.update(message.as_bytes());
            // Evaluate every combination, so timing does not reveal which key matched.
            valid |= mac.verify_slice(&sig).is_ok();
        }
    }
    if valid {
        Ok(())
    } else {
        Err("invalid signature")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::hex;

    fn sign(key: &str, message: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
        mac.update(message.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    #[test]
    fn signatures() {
        let keys = vec!["k1".to_owned(), "k2".to_owned()];
        let path = "/h/id/public";
        let sig = sign("k2", "/h/id/public?exp=100");
        assert_eq!(
            verify(path, None, &format!("exp=100&sig={sig}"), &keys, 50),
            Ok(())
        );
        assert!(verify(path, None, &format!("exp=100&sig={sig}"), &keys, 101).is_err());
        assert!(verify(path, None, "exp=100", &keys, 50).is_err());
        assert!(verify(path, None, &format!("exp=101&sig={sig}"), &keys, 50).is_err());
        assert!(verify(
            "/h/id/other",
            None,
            &format!("exp=100&sig={sig}"),
            &keys,
            50
        )
        .is_err());
        let cdn = "/cdn-cgi/imagedelivery/h/id/public";
        assert_eq!(
            verify(cdn, Some(path), &format!("exp=100&sig={sig}"), &keys, 50),
            Ok(())
        );
    }
}
