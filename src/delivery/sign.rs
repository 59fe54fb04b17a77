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

/// Signs an existing URL (absolute, or a path with an optional query) as
/// Cloudflare documents it: `exp` is set in the query, then `sig` is the HMAC
/// of `path + "?" + query`, where the query is the
/// `application/x-www-form-urlencoded` serialization of the parsed parameters
/// (what a browser's `URLSearchParams.toString()` gives), then `sig` is
/// appended.
///
/// The URL is first put in the form a browser would send (see [`DeliveryUrl`]
/// for building one): a raw `https://imagedelivery.net/H/café/public` is signed,
/// and returned, as `.../caf%C3%A9/public`. An existing query is returned in the
/// serialized form that was signed, so the URL carries exactly the signed
/// bytes: `?a=b%20c&t=~&f` becomes `?a=b+c&t=%7E&f=&exp=…&sig=…` (the same
/// parameters for any server that decodes them).
///
/// Fails with [`InvalidInput`](crate::ErrorKind::InvalidInput) if the URL is
/// not an `http(s)` URL or a path starting with `/`, has a fragment or
/// whitespace, or already has an `exp` or `sig` parameter (also when
/// percent-encoded, as `%65xp`).
///
/// [`DeliveryUrl`]: super::DeliveryUrl
pub fn sign_url(url: &str, key: &SigningKey, expiry: impl Into<Expiry>) -> Result<String> {
    let (origin, path, query) = canonical(url).ok_or_else(|| {
        Error::invalid_input(
            "expected an http(s) URL or a path starting with '/', without fragment or whitespace",
        )
    })?;
    let exp = expiry.into().unix_seconds();
    let query = signed_query(query.as_deref(), exp)
        .ok_or_else(|| Error::invalid_input("the URL already has an exp or sig parameter"))?;
    let path_and_query = format!("{path}?{query}");
    let sig = key.signature(&path_and_query);
    Ok(format!("{origin}{path_and_query}&sig={sig}"))
}

/// The query to sign: `query`'s parameters, decoded and serialized again as
/// `application/x-www-form-urlencoded` (spaces as `+`, everything but
/// `A-Z a-z 0-9 * - . _` percent-encoded), with `exp` appended; `None` if
/// `query` already has an `exp` or `sig` parameter.
fn signed_query(query: Option<&str>, exp: i64) -> Option<String> {
    // `Url`'s query pairs are the `form_urlencoded` parser and serializer the
    // URL Standard specifies, so no second implementation lives here; the
    // scratch URL only carries the query.
    let mut scratch = reqwest::Url::parse("http://query.invalid/").ok()?;
    scratch.set_query(query);
    let pairs: Vec<(String, String)> = scratch.query_pairs().into_owned().collect();
    if pairs.iter().any(|(k, _)| k == "exp" || k == "sig") {
        return None;
    }
    scratch
        .query_pairs_mut()
        .clear()
        .extend_pairs(&pairs)
        .append_pair("exp", &exp.to_string());
    scratch.query().map(str::to_string)
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

    #[test]
    fn the_query_is_signed_in_its_serialized_form() {
        let q = |query: Option<&str>| signed_query(query, 7);
        assert_eq!(q(None).as_deref(), Some("exp=7"));
        assert_eq!(q(Some("")).as_deref(), Some("exp=7"));
        assert_eq!(q(Some("v=2")).as_deref(), Some("v=2&exp=7"));
        assert_eq!(
            q(Some("a=b%20c&t=~&f")).as_deref(),
            Some("a=b+c&t=%7E&f=&exp=7")
        );
        assert_eq!(q(Some("a=1&&b=2")).as_deref(), Some("a=1&b=2&exp=7"));
        assert_eq!(
            q(Some("x=caf%C3%A9&y=%2B&z=a+b")).as_deref(),
            Some("x=caf%C3%A9&y=%2B&z=a+b&exp=7")
        );
        assert_eq!(q(Some("k*-._=%2A")).as_deref(), Some("k*-._=*&exp=7"));
        for taken in ["exp=1", "a=1&sig=2", "sig", "%65xp=1", "s%69g=1"] {
            assert_eq!(q(Some(taken)), None, "{taken}");
        }
    }
}
