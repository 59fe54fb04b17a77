//! Signing an existing URL.

use super::{Expiry, SigningKey};
use crate::error::{Error, Result};

/// Splits an absolute `http(s)` URL or a path-and-query into
/// `(origin, path, query)`; refuses fragments.
pub(super) fn split_url(url: &str) -> Option<(&str, &str, Option<&str>)> {
    if url.contains('#') {
        return None;
    }
    let (origin, rest) = if let Some(after) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    {
        let slash = after.find('/')?;
        let origin_len = url.len() - after.len() + slash;
        (&url[..origin_len], &url[origin_len..])
    } else if url.starts_with('/') {
        ("", url)
    } else {
        return None;
    };
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return None;
    }
    Some(match rest.split_once('?') {
        Some((path, query)) => (origin, path, Some(query)),
        None => (origin, rest, None),
    })
}

/// The URL as a browser's URL parser (and so every HTTP client) puts it on the
/// wire: `café` becomes `caf%C3%A9`, spaces and other unsafe bytes are escaped,
/// `%XX` stays as written. Cloudflare signs and checks that form, so a raw
/// Unicode path must be canonicalized before signing or verifying.
pub(super) fn canonical(url: &str) -> Option<(String, String, Option<String>)> {
    let (origin, _, _) = split_url(url)?;
    let parsed = if origin.is_empty() {
        if url.starts_with("//") {
            // A browser reads `//host/path` as another host.
            return None;
        }
        reqwest::Url::parse("http://canonical.invalid")
            .ok()?
            .join(url)
            .ok()?
    } else {
        reqwest::Url::parse(url).ok()?
    };
    let origin = if origin.is_empty() {
        String::new()
    } else {
        parsed.origin().ascii_serialization()
    };
    Some((
        origin,
        parsed.path().to_string(),
        parsed.query().map(str::to_string),
    ))
}

/// Signs an existing URL (absolute, or a path with an optional query): appends
/// `exp`, then `sig` over `path + "?" + query`. The URL is first put in the form
/// a browser would send (see [`DeliveryUrl`] for building one): a raw
/// `https://imagedelivery.net/H/café/public` is signed, and returned, as
/// `.../caf%C3%A9/public`.
///
/// Fails with [`InvalidInput`](crate::ErrorKind::InvalidInput) if the URL is
/// not an `http(s)` URL or a path starting with `/`, has a fragment or
/// whitespace, or already has `exp` or `sig`.
pub fn sign_url(url: &str, key: &SigningKey, expiry: impl Into<Expiry>) -> Result<String> {
    let (origin, path, query) = canonical(url).ok_or_else(|| {
        Error::invalid_input(
            "expected an http(s) URL or a path starting with '/', without fragment or whitespace",
        )
    })?;
    let query = query.as_deref().unwrap_or("");
    if query.split('&').any(|p| {
        p.split('=')
            .next()
            .is_some_and(|k| k == "exp" || k == "sig")
    }) {
        return Err(Error::invalid_input(
            "the URL already has an exp or sig parameter",
        ));
    }
    let exp = expiry.into().unix_seconds();
    let query = if query.is_empty() {
        format!("exp={exp}")
    } else {
        format!("{query}&exp={exp}")
    };
    let path_and_query = format!("{path}?{query}");
    let sig = key.signature(&path_and_query);
    Ok(format!("{origin}{path_and_query}&sig={sig}"))
}

pub(super) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_url_forms() {
        assert_eq!(
            split_url("https://imagedelivery.net/h/i/v?exp=1&sig=2"),
            Some(("https://imagedelivery.net", "/h/i/v", Some("exp=1&sig=2")))
        );
        assert_eq!(split_url("/h/i/v"), Some(("", "/h/i/v", None)));
        assert_eq!(split_url("https://imagedelivery.net"), None);
        assert_eq!(split_url("h/i/v"), None);
        assert_eq!(split_url("/h/i/v#frag"), None);
        assert_eq!(split_url("ftp://x/y"), None);
    }
}
