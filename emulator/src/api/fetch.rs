//! Fetching an image from a loopback `http://` URL (`POST v1` with a `url` field).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use axum::http::{header, Request};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;

use super::{too_large, MAX_IMAGE_BYTES};
use crate::encoding::decode_path;
use crate::http::ApiError;

pub(super) fn refused_url() -> ApiError {
    ApiError::bad_request("The emulator only fetches http:// URLs on 127.0.0.1, localhost or [::1]")
}

/// Fetches an image from a loopback HTTP URL (HTTP/1.1 GET, 10 s timeout, 10 MiB limit).
pub(super) async fn fetch_url(url: &str) -> Result<(Option<String>, Bytes), ApiError> {
    let rest = url.trim().strip_prefix("http://").ok_or_else(refused_url)?;
    let rest = rest.split('#').next().unwrap_or(rest);
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], &rest[i..]),
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    if authority.contains('@') {
        return Err(refused_url());
    }
    let (host, port) = if let Some(r) = authority.strip_prefix('[') {
        let (h, after) = r.split_once(']').ok_or_else(refused_url)?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let ip = match host.to_ascii_lowercase().as_str() {
        "127.0.0.1" | "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        "::1" => IpAddr::V6(Ipv6Addr::LOCALHOST),
        _ => return Err(refused_url()),
    };
    let port: u16 = match port {
        None | Some("") => 80,
        Some(p) => p.parse().map_err(|_| refused_url())?,
    };
    let fetch_failed =
        |what: String| ApiError::bad_request(format!("Failed to fetch image from URL: {what}"));
    let work = async {
        let stream = tokio::net::TcpStream::connect((ip, port))
            .await
            .map_err(|e| fetch_failed(e.to_string()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| fetch_failed(e.to_string()))?;
        tokio::spawn(conn);
        let request = Request::get(path.as_str())
            .header(header::HOST, authority)
            .body(Empty::<Bytes>::new())
            .map_err(|e| fetch_failed(e.to_string()))?;
        let resp = sender
            .send_request(request)
            .await
            .map_err(|e| fetch_failed(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fetch_failed(format!("origin answered {}", resp.status())));
        }
        match Limited::new(resp.into_body(), MAX_IMAGE_BYTES)
            .collect()
            .await
        {
            Ok(body) => Ok(body.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
            Err(e) => Err(fetch_failed(e.to_string())),
        }
    };
    let data = tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .map_err(|_| ApiError::new(400, 5408, "Fetching the image from the URL timed out"))??;
    let filename = path
        .split('?')
        .next()
        .and_then(|p| p.rsplit('/').next())
        .filter(|s| !s.is_empty())
        .and_then(decode_path);
    Ok((filename, data))
}
