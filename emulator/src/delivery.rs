//! Image delivery (`/{hash}/{id}/{variant}` and `/cdn-cgi/imagedelivery/{hash}/{id}/{variant}`)
//! with signed-URL verification; the variant is rendered by [`crate::render`] (PNG, JPEG,
//! GIF and WebP sources) or the stored bytes are served as they are (SVG, HEIC, AVIF).
//! Flexible-variant options are refused (404, `ERROR 9401`) until the account enables
//! them with `PATCH v1/config`, and always for an image that requires signed URLs (403,
//! `ERROR 9403`, even when the URL is correctly signed), as Cloudflare documents.
//!
//! The signature is checked as Cloudflare documents it: `sig` is the lowercase hex
//! HMAC-SHA256, keyed with the bytes of a signing key's value as the keys API shows it, of
//! `path + "?" + query` where the query is the received one with the `sig` parameter removed.
//! `path` is the raw (percent-encoded) request path; on the `/cdn-cgi/imagedelivery` route
//! the path without that prefix (`/{hash}/{id}/{variant}`) is accepted as well. Any current
//! key may have signed; comparison is constant-time. [`url_signature`] is the one place the
//! HMAC is computed: the console signs its preview links with it too.

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use bytes::Bytes;

use crate::encoding::{decode_path, unhex};
use crate::http::blob_response;
use crate::http::text_response;
use crate::render::{self, Options, RenderError};
use crate::store::{BlobSource, Delivery};
use crate::App;

pub(crate) mod transform;

const CDN_PREFIX: &str = "/cdn-cgi/imagedelivery";

fn not_found() -> Response<Body> {
    text_response(StatusCode::NOT_FOUND, "ERROR 9404: Image not found")
}

fn variant_not_found(why: &str) -> Response<Body> {
    text_response(
        StatusCode::NOT_FOUND,
        &format!("ERROR 9401: Variant not found{why}"),
    )
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
    let options_text = variant.clone();
    let found = app.db(move |s| s.delivery(&id, &variant, flexible)).await;
    let (blob, mime, hash, named, require_signed, keys) = match found {
        Ok(Delivery::Found {
            mime,
            blob,
            hash,
            variant,
            require_signed,
            keys,
        }) => (blob, mime, hash, variant, require_signed, keys),
        Ok(Delivery::VariantNotFound) => return variant_not_found(""),
        // Cloudflare does not document this answer; the segment names no variant, so it is
        // the unknown-variant answer, saying why.
        Ok(Delivery::FlexibleDisabled) => return variant_not_found(
            " (flexible variants are not enabled: PATCH v1/config {\"flexible_variants\": true})",
        ),
        Ok(Delivery::ImageNotFound) => return not_found(),
        Err(e) => return e.into_response(),
    };
    if require_signed && named.is_none() {
        // Cloudflare documents that flexible variants cannot be used for images that require
        // signed URLs, a signature does not change that; it documents no status or code for
        // the refusal, so this is the signed-URL refusal with the reason.
        return forbidden("flexible variants cannot be used for images that require signed URLs");
    }
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
    let options = match &named {
        Some(v) => Options::from_variant(v),
        None => match Options::parse_flexible(&options_text) {
            Ok(o) => o,
            Err(why) => {
                return text_response(StatusCode::BAD_REQUEST, &format!("ERROR 9401: {why}"))
            }
        },
    };
    let cache_control = HeaderValue::from_static(if require_signed {
        "private, max-age=0"
    } else {
        "public, max-age=86400"
    });
    // SVG is served as is (Cloudflare never rasterizes it); HEIC and AVIF sources are not
    // decodable here (no such codecs are built), so they are served as stored too.
    let Some(format) = render::renderable(&mime) else {
        let mut resp = match blob_response(blob, &mime).await {
            Ok(resp) => resp,
            Err(e) if e.status == StatusCode::NOT_FOUND => return not_found(),
            Err(e) => return e.into_response(),
        };
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, cache_control);
        return resp;
    };
    let webp = wants_webp(req.headers());
    let read = || async move {
        match blob {
            BlobSource::Memory(bytes) => Ok(bytes),
            BlobSource::File(path) => tokio::fs::read(&path).await.map(Bytes::from).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    // A concurrent delete removed the last image with these bytes.
                    RenderError {
                        status: 404,
                        message: "ERROR 9404: Image not found".into(),
                    }
                } else {
                    RenderError {
                        status: 500,
                        message: format!("ERROR 9500: could not read the image: {e}"),
                    }
                }
            }),
        }
    };
    let rendered = match app
        .renders
        .get_or_render(&hash, format, &options, webp, read)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return text_response(status, &e.message);
        }
    };
    let mut resp = Response::new(Body::from(rendered.bytes));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(rendered.output.mime()),
    );
    // The format depends on `Accept`, so caches must keep one copy per `Accept`.
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    headers.insert(header::CACHE_CONTROL, cache_control);
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
            // Evaluate every combination, so timing does not reveal which key matched.
            if let Some(expected) = url_signature(key, message) {
                valid |= bool::from(expected.as_slice().ct_eq(&sig));
            }
        }
    }
    if valid {
        Ok(())
    } else {
        Err("invalid signature")
    }
}

/// The HMAC-SHA256 of `message` keyed with the bytes of signing key value `key`, as
/// Cloudflare signs delivery URLs. `None` only if the MAC refused the key, which HMAC does
/// not do for any length.
pub(crate) fn url_signature(key: &str, message: &str) -> Option<[u8; 32]> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).ok()?;
    mac.update(message.as_bytes());
    Some(mac.finalize().into_bytes().into())
}

/// Whether a request's `Accept` headers admit WebP: the one rule for hosted variants
/// and `/cdn-cgi/image` transformations alike.
fn wants_webp(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(render::accepts_webp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::hex;

    fn sign(key: &str, message: &str) -> String {
        hex(&url_signature(key, message).unwrap_or_default())
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
