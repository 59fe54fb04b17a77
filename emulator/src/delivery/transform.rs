//! Transformations of any image: `/cdn-cgi/image/<options>/<source>`, rendered with
//! [`crate::render`] from every option Cloudflare documents (see the README for those
//! accepted but approximated).
//!
//! The source is a path on the emulator (its delivery paths, `/<hash>/<id>/<variant>` and
//! `/cdn-cgi/imagedelivery/...`, with their query, so a signed source stays signed, and the
//! console's paths), or an absolute `http://` URL on an origin [`crate::Config`] allows
//! (`--transform-origin`); any other origin is refused before it is contacted. A fetch has
//! a deadline ([`FETCH_DEADLINE`]) and a size bound ([`MAX_SOURCE_BYTES`]), and follows at
//! most [`MAX_REDIRECTS`] redirects, each only to an allowed origin.
//!
//! Fetches carry `Via: image-resizing`, as Cloudflare's do, and a transformation request
//! carrying it is refused as a loop (9403), so an allowed origin that sends a fetch back
//! into `/cdn-cgi/image/` (the emulator itself, say) cannot recurse.
//!
//! Every failure carries `Cf-Resized: err=<code>` and an `ERROR <code>: <why>` body, with
//! the codes of Cloudflare's troubleshooting page. Cloudflare documents the codes, not the
//! statuses; the emulator answers: 9401 (invalid options) 400, 9403 (request loop, or an
//! origin not allowed) 403, 9404 (source not found) 404, 9406 (invalid source URL) 400,
//! 9408 (the origin answered another 4xx) that status, 9412 (not an image) 415, 9413 and
//! 9402-too-large 413, 9402 (download failed or timed out), 9420 (redirect to an origin not
//! allowed), 9421 (too many redirects), 9504 (origin unreachable) and 9509 (origin 5xx) 502,
//! 9523 (undecodable) 415. With `onerror=redirect` a failure past the options redirects
//! (302) to the source instead, as Cloudflare does.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, Response, StatusCode, Uri};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};

use crate::encoding::{decode_path, hex};
use crate::http::text_response;
use crate::render::{self, Options, Syntax};
use crate::App;

/// The route's prefix.
pub(crate) const PREFIX: &str = "/cdn-cgi/image/";

/// How long fetching a source may take, connection, redirects and body together.
pub(crate) const FETCH_DEADLINE: Duration = Duration::from_secs(10);

/// The largest source accepted: Cloudflare's 70 MB limit for transformation sources.
pub(crate) const MAX_SOURCE_BYTES: usize = 70 * 1000 * 1000;

/// The `Via` value of the emulator's fetches, as Cloudflare's.
const VIA: &str = "image-resizing";

/// Redirects followed before answering 9421.
pub(crate) const MAX_REDIRECTS: usize = 5;

/// An origin transformations may fetch from: scheme, lowercase host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// Parses `http://host[:port]` or `https://host[:port]` (a trailing `/` is allowed, any
    /// other path is not).
    pub(crate) fn parse(text: &str) -> Result<Origin, String> {
        let uri: Uri = text
            .parse()
            .map_err(|e| format!("{text:?} is not an origin: {e}"))?;
        let origin = Origin::of(&uri).ok_or_else(|| {
            format!("{text:?} is not an origin (expected http://host[:port] or https://...)")
        })?;
        if !matches!(uri.path_and_query().map(|p| p.as_str()), None | Some("/")) {
            return Err(format!("{text:?} is not an origin: it has a path"));
        }
        Ok(origin)
    }

    /// The origin of an absolute `http`/`https` URI.
    fn of(uri: &Uri) -> Option<Origin> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let host = uri.host().filter(|h| !h.is_empty())?.to_ascii_lowercase();
        Some(Origin {
            scheme,
            host,
            port: uri.port_u16().unwrap_or(default_port),
        })
    }
}

/// A failure: the `Cf-Resized` code, the status and why.
struct Failure {
    code: u16,
    status: StatusCode,
    why: String,
}

impl Failure {
    fn new(code: u16, status: StatusCode, why: impl Into<String>) -> Failure {
        Failure {
            code,
            status,
            why: why.into(),
        }
    }

    fn into_response(self) -> Response<Body> {
        let mut resp = text_response(self.status, &format!("ERROR {}: {}", self.code, self.why));
        if let Ok(v) = HeaderValue::from_str(&format!("err={}", self.code)) {
            resp.headers_mut().insert("cf-resized", v);
        }
        resp
    }
}

/// A fetched source.
struct Fetched {
    bytes: Bytes,
    content_type: Option<String>,
    cache_control: Option<HeaderValue>,
}

/// Serves one `/cdn-cgi/image/...` request.
pub(crate) async fn serve(app: Arc<App>, req: Request<Body>) -> Response<Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text_response(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    }
    // Cloudflare marks its own fetches `Via: image-resizing`; a transformation request that
    // carries it was sent by a transformation (through an allowed origin, possibly this
    // emulator): a loop.
    let looped = req
        .headers()
        .get_all(header::VIA)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(VIA));
    if looped {
        return Failure::new(
            9403,
            StatusCode::FORBIDDEN,
            "request loop: a transformation fetched a transformation",
        )
        .into_response();
    }
    let path = req.uri().path();
    let rest = path.strip_prefix(PREFIX).unwrap_or("");
    let Some((options_raw, source_raw)) = rest.split_once('/') else {
        return Failure::new(
            9401,
            StatusCode::BAD_REQUEST,
            "no source image after the options",
        )
        .into_response();
    };
    let options = match decode_path(options_raw)
        .ok_or_else(|| "the options are not valid percent-encoded UTF-8".to_owned())
        .and_then(|text| Options::parse(&text, Syntax::Transform))
    {
        Ok(o) => o,
        Err(why) => return Failure::new(9401, StatusCode::BAD_REQUEST, why).into_response(),
    };
    // The source is not URL-encoded: it is the rest of the path, then the query.
    let source = match req.uri().query() {
        Some(q) => format!("{source_raw}?{q}"),
        None => source_raw.to_owned(),
    };
    let webp = super::wants_webp(req.headers());
    let onerror_redirect = options.onerror_redirect;
    let (absolute, result) = if is_absolute(&source) {
        let url = normalize_absolute(&source);
        let result = fetch_absolute(&app, &url).await;
        (url, result)
    } else {
        let local = format!("/{source}");
        let result = fetch_local(&app, &local).await;
        (local, result)
    };
    let answer = match result {
        Ok(fetched) => transform(&app, fetched, &options, webp).await,
        Err(f) => Err(f),
    };
    match answer {
        Ok(resp) => resp,
        Err(f) if onerror_redirect => {
            let mut resp = text_response(StatusCode::FOUND, &format!("ERROR {}", f.code));
            if let Ok(v) = HeaderValue::from_str(&absolute) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Err(f) => f.into_response(),
    }
}

/// `http://...`, `https://...`, or the same with the double slash merged (`http:/host/...`,
/// as some proxies normalize paths).
fn is_absolute(source: &str) -> bool {
    let lower = source.get(..8).unwrap_or(source).to_ascii_lowercase();
    lower.starts_with("http:/") || lower.starts_with("https:/")
}

fn normalize_absolute(source: &str) -> String {
    for scheme in ["http:", "https:"] {
        if let Some(head) = source.get(..scheme.len()) {
            if head.eq_ignore_ascii_case(scheme) {
                let rest = &source[scheme.len()..];
                let rest = rest.trim_start_matches('/');
                return format!("{scheme}//{rest}");
            }
        }
    }
    source.to_owned()
}

/// Renders (or describes, `format=json`) a fetched source.
async fn transform(
    app: &App,
    fetched: Fetched,
    options: &Options,
    webp: bool,
) -> Result<Response<Body>, Failure> {
    let sniffed = image::guess_format(&fetched.bytes).ok();
    let format = sniffed.and_then(|f| render::renderable(f.to_mime_type()));
    let Some(format) = format else {
        let svg = fetched
            .content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("image/svg+xml"));
        if svg && options.format != render::FormatOption::Json {
            // Cloudflare serves SVG without resizing it.
            let mut resp = Response::new(Body::from(fetched.bytes));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            );
            return Ok(resp);
        }
        return Err(match sniffed {
            Some(f) => Failure::new(
                9523,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("the emulator cannot decode {}", f.to_mime_type()),
            ),
            None => Failure::new(
                9412,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the source is not an image",
            ),
        });
    };
    let key = format!("source:{}", hex(&Sha256::digest(&fetched.bytes)));
    let bytes = fetched.bytes;
    let rendered = app
        .renders
        .get_or_render(&key, format, options, webp, || async move { Ok(bytes) })
        .await
        .map_err(|e| {
            let status =
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let (code, why) = split_error(&e.message);
            Failure::new(code, status, why)
        })?;
    let mut resp = Response::new(Body::from(rendered.bytes));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(rendered.output.mime()),
    );
    headers.insert("cf-resized", HeaderValue::from_static("internal=ok"));
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    headers.insert(
        header::CACHE_CONTROL,
        fetched
            .cache_control
            .unwrap_or(HeaderValue::from_static("public, max-age=86400")),
    );
    Ok(resp)
}

/// `ERROR 9413: why` as (9413, "why"); a message without a code is a 9523.
fn split_error(message: &str) -> (u16, String) {
    message
        .strip_prefix("ERROR ")
        .and_then(|m| m.split_once(": "))
        .and_then(|(code, why)| Some((code.parse().ok()?, why.to_owned())))
        .unwrap_or_else(|| (9523, message.to_owned()))
}

/// A source on the emulator itself, answered by its delivery route (or the console's).
async fn fetch_local(app: &Arc<App>, path_and_query: &str) -> Result<Fetched, Failure> {
    if path_and_query.starts_with(PREFIX) {
        return Err(Failure::new(
            9403,
            StatusCode::FORBIDDEN,
            "request loop: the source is itself a transformation",
        ));
    }
    let uri: Uri = path_and_query.parse().map_err(|_| {
        Failure::new(
            9406,
            StatusCode::BAD_REQUEST,
            "the source path is not a valid URL",
        )
    })?;
    let req = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .body(Body::empty())
        .map_err(|e| Failure::new(9406, StatusCode::BAD_REQUEST, e.to_string()))?;
    let resp = if crate::console::handles(app, path_and_query.split('?').next().unwrap_or("")) {
        crate::console::serve(app.clone(), req).await
    } else {
        super::serve(app, req).await
    };
    let (parts, body) = resp.into_parts();
    check_status(parts.status)?;
    let bytes = Limited::new(body, MAX_SOURCE_BYTES)
        .collect()
        .await
        .map_err(|_| too_large())?
        .to_bytes();
    Ok(Fetched {
        bytes,
        content_type: content_type(&parts.headers),
        cache_control: parts.headers.get(header::CACHE_CONTROL).cloned(),
    })
}

fn content_type(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn too_large() -> Failure {
    Failure::new(
        9402,
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the source is larger than {MAX_SOURCE_BYTES} bytes"),
    )
}

/// The failure a source's status means, if any.
fn check_status(status: StatusCode) -> Result<(), Failure> {
    if status.is_success() {
        Ok(())
    } else if status == StatusCode::NOT_FOUND {
        Err(Failure::new(9404, status, "the source image was not found"))
    } else if status.is_client_error() {
        Err(Failure::new(
            9408,
            status,
            format!("the origin answered {status}"),
        ))
    } else {
        Err(Failure::new(
            9509,
            StatusCode::BAD_GATEWAY,
            format!("the origin answered {status}"),
        ))
    }
}

/// An absolute source: checked against the allowed origins, then fetched within the
/// deadline.
async fn fetch_absolute(app: &App, url: &str) -> Result<Fetched, Failure> {
    let uri: Uri = url
        .parse()
        .map_err(|_| Failure::new(9406, StatusCode::BAD_REQUEST, "the source URL is not valid"))?;
    allowed(app, &uri, 9403, StatusCode::FORBIDDEN)?;
    tokio::time::timeout(FETCH_DEADLINE, follow(app, uri))
        .await
        .unwrap_or_else(|_| {
            Err(Failure::new(
                9402,
                StatusCode::BAD_GATEWAY,
                format!("fetching the source took longer than {FETCH_DEADLINE:?}"),
            ))
        })
}

/// Refuses `uri` unless its origin is allowed (with `code` and `status`).
fn allowed(app: &App, uri: &Uri, code: u16, status: StatusCode) -> Result<(), Failure> {
    let origin = Origin::of(uri)
        .ok_or_else(|| Failure::new(9406, StatusCode::BAD_REQUEST, "not an http(s) URL"))?;
    if app.transform_origins.contains(&origin) {
        Ok(())
    } else {
        Err(Failure::new(
            code,
            status,
            format!(
                "transformations may not fetch from {}://{}:{} (allow it with --transform-origin)",
                origin.scheme, origin.host, origin.port
            ),
        ))
    }
}

/// Fetches `uri`, following redirects to allowed origins only.
async fn follow(app: &App, uri: Uri) -> Result<Fetched, Failure> {
    let mut uri = uri;
    for _ in 0..=MAX_REDIRECTS {
        let resp = get(&uri).await?;
        if resp.status().is_redirection() {
            let location = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    Failure::new(9420, StatusCode::BAD_GATEWAY, "a redirect without Location")
                })?;
            uri = resolve(&uri, location).ok_or_else(|| {
                Failure::new(
                    9420,
                    StatusCode::BAD_GATEWAY,
                    "the origin redirected to an invalid URL",
                )
            })?;
            allowed(app, &uri, 9420, StatusCode::BAD_GATEWAY)?;
            continue;
        }
        let (parts, body) = resp.into_parts();
        check_status(parts.status)?;
        // A declared length beyond the bound is refused before anything is read.
        if hyper::body::Body::size_hint(&body).lower() > MAX_SOURCE_BYTES as u64 {
            return Err(too_large());
        }
        let bytes = Limited::new(body, MAX_SOURCE_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    too_large()
                } else {
                    Failure::new(
                        9402,
                        StatusCode::BAD_GATEWAY,
                        format!("the download was interrupted: {e}"),
                    )
                }
            })?
            .to_bytes();
        return Ok(Fetched {
            bytes,
            content_type: content_type(&parts.headers),
            cache_control: parts.headers.get(header::CACHE_CONTROL).cloned(),
        });
    }
    Err(Failure::new(
        9421,
        StatusCode::BAD_GATEWAY,
        format!("the origin redirected more than {MAX_REDIRECTS} times"),
    ))
}

/// A redirect's `Location` against the URL that answered it (absolute, or a path).
fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    if location.starts_with('/') && !location.starts_with("//") {
        let mut parts = base.clone().into_parts();
        parts.path_and_query = Some(location.parse().ok()?);
        return Uri::from_parts(parts).ok();
    }
    let uri: Uri = location.parse().ok()?;
    uri.scheme().is_some().then_some(uri)
}

/// One GET over a new HTTP/1.1 connection. Only `http` is fetched: the emulator builds no
/// TLS client.
async fn get(uri: &Uri) -> Result<hyper::Response<hyper::body::Incoming>, Failure> {
    let unreachable = |why: String| Failure::new(9504, StatusCode::BAD_GATEWAY, why);
    if uri.scheme_str() != Some("http") {
        return Err(unreachable(
            "the emulator fetches http:// sources only (it has no TLS client)".into(),
        ));
    }
    let host = uri.host().unwrap_or("");
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| unreachable(format!("could not connect to the origin: {e}")))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(format!("could not talk to the origin: {e}")))?;
    // Drives the connection; it ends with the response body or when the fetch is dropped.
    tokio::spawn(connection);
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or(host);
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::HOST, authority)
        .header(header::ACCEPT, "image/*")
        .header(header::USER_AGENT, "cloudflare-images-emulator")
        .header(header::VIA, VIA)
        .body(Empty::<Bytes>::new())
        .map_err(|e| Failure::new(9406, StatusCode::BAD_REQUEST, e.to_string()))?;
    sender
        .send_request(req)
        .await
        .map_err(|e| unreachable(format!("the origin did not answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let o = Origin::parse("HTTP://LocalHost:8080/").unwrap();
        assert_eq!(
            o,
            Origin {
                scheme: "http".into(),
                host: "localhost".into(),
                port: 8080
            }
        );
        assert_eq!(Origin::parse("https://a.example").unwrap().port, 443);
        for bad in ["ftp://a", "a.example", "http://a/b", "http://"] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sources_and_redirects() {
        assert!(is_absolute("http://a/b.png") && is_absolute("HTTPS:/a/b.png"));
        assert!(!is_absolute("hash/id/public"));
        assert_eq!(normalize_absolute("http:/a/b.png"), "http://a/b.png");
        let base: Uri = "http://a:1/x/y.png".parse().unwrap();
        assert_eq!(resolve(&base, "/z.png").unwrap(), "http://a:1/z.png");
        assert_eq!(resolve(&base, "http://b/c").unwrap(), "http://b/c");
        assert!(resolve(&base, "z.png").is_none());
        assert_eq!(split_error("ERROR 9413: big"), (9413, "big".to_owned()));
        assert_eq!(split_error("odd").0, 9523);
    }
}
