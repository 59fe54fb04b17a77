//! Verifying a signed URL as Cloudflare does.

use std::fmt;

use chrono::{DateTime, Utc};

use super::sign::canonical;
use super::{SigningKey, ZONE_PATH_PREFIX};

/// Why [`verify_signed_url`] refused a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not an `http(s)` URL or a path starting with `/`, or it has a fragment
    /// or whitespace.
    InvalidUrl,
    /// No `sig` parameter.
    MissingSig,
    /// More than one `sig` parameter.
    DuplicateSig,
    /// `sig` is not 64 hex digits.
    InvalidSig,
    /// No `exp` parameter.
    MissingExp,
    /// More than one `exp` parameter.
    DuplicateExp,
    /// `exp` is not a number of seconds.
    InvalidExp,
    /// No key to verify with.
    NoKeys,
    /// The signature does not match any key: the path or query was changed, or
    /// another key signed it.
    BadSignature,
    /// The signature is valid but the URL expired at `exp` (Unix seconds).
    Expired {
        /// The URL's `exp`.
        exp: i64,
    },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::InvalidUrl => {
                f.write_str("not an http(s) URL or a path and query starting with '/'")
            }
            VerifyError::MissingSig => f.write_str("the URL has no sig parameter"),
            VerifyError::DuplicateSig => f.write_str("the URL has more than one sig parameter"),
            VerifyError::InvalidSig => f.write_str("sig is not 64 hex digits"),
            VerifyError::MissingExp => f.write_str("the URL has no exp parameter"),
            VerifyError::DuplicateExp => f.write_str("the URL has more than one exp parameter"),
            VerifyError::InvalidExp => f.write_str("exp is not a number of seconds"),
            VerifyError::NoKeys => f.write_str("no signing key to verify with"),
            VerifyError::BadSignature => f.write_str("the signature does not match"),
            VerifyError::Expired { exp } => write!(f, "the URL expired at {exp} (Unix seconds)"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Verifies a signed delivery URL (absolute, or its path and query) as
/// Cloudflare does: exactly one `sig` (64 hex digits) and one `exp`, a
/// signature by one of `keys` over `path + "?" + query` with the `sig`
/// parameter removed and everything else exactly as received, and `now` not
/// after `exp`.
///
/// Any change to the path or the query (a parameter added, removed, reordered
/// or altered) fails with [`VerifyError::BadSignature`]. For a
/// `/cdn-cgi/imagedelivery/...` path, a signature over the path without that
/// prefix is accepted too. The signature is checked before the expiry, so
/// [`VerifyError::Expired`] means the URL is authentic; signatures are compared
/// in constant time, against every key.
///
/// Pass every current key of the account (as
/// [`V1Keys::signing_keys`](crate::resources::V1Keys::signing_keys) lists
/// them): a URL signed with a key before a rotation keeps verifying until that
/// key is deleted.
///
/// The query is checked as received, not decoded and serialized again:
/// [`sign_url`](super::sign_url), like Cloudflare's documented signer, puts the
/// serialized form it signed in the URL, so the received query is the signed
/// one, and URLs signed with the query as written (by earlier versions of this
/// crate) still verify. A query rewritten after signing, even into equivalent
/// parameters (`a=b+c` into `a=b%20c`, an empty `&&`), is refused.
pub fn verify_signed_url(
    url: &str,
    keys: &[SigningKey],
    now: DateTime<Utc>,
) -> std::result::Result<(), VerifyError> {
    let (_, path, query) = canonical(url).ok_or(VerifyError::InvalidUrl)?;
    let query = query.as_deref().unwrap_or("");
    let mut sig = None;
    let mut sig_count = 0;
    let mut exp = None;
    let mut exp_count = 0;
    let mut kept = Vec::new();
    if !query.is_empty() {
        for part in query.split('&') {
            let key = part.split('=').next().unwrap_or(part);
            if key == "sig" {
                sig_count += 1;
                sig = part.strip_prefix("sig=");
                continue;
            }
            if key == "exp" {
                exp_count += 1;
                exp = part.strip_prefix("exp=");
            }
            kept.push(part);
        }
    }
    match sig_count {
        0 => return Err(VerifyError::MissingSig),
        1 => {}
        _ => return Err(VerifyError::DuplicateSig),
    }
    match exp_count {
        0 => return Err(VerifyError::MissingExp),
        1 => {}
        _ => return Err(VerifyError::DuplicateExp),
    }
    let exp = exp
        .filter(|e| {
            let digits = e.strip_prefix('-').unwrap_or(e);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        })
        .and_then(|e| e.parse::<i64>().ok())
        .ok_or(VerifyError::InvalidExp)?;
    let sig = sig.and_then(unhex32).ok_or(VerifyError::InvalidSig)?;
    if keys.is_empty() {
        return Err(VerifyError::NoKeys);
    }
    let query = kept.join("&");
    let mut messages = vec![format!("{path}?{query}")];
    if let Some(short) = path.strip_prefix(ZONE_PATH_PREFIX) {
        if short.starts_with('/') {
            messages.push(format!("{short}?{query}"));
        }
    }
    let mut valid = false;
    for key in keys {
        for message in &messages {
            // Every combination is evaluated, so timing does not reveal which matched.
            valid |= key.verifies(message, &sig);
        }
    }
    if !valid {
        return Err(VerifyError::BadSignature);
    }
    if now.timestamp() > exp {
        return Err(VerifyError::Expired { exp });
    }
    Ok(())
}

/// Decodes exactly 64 hex digits (either case).
fn unhex32(text: &str) -> Option<[u8; 32]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::sign::hex;

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(37)).collect();
        let text = hex(&bytes);
        assert_eq!(text.len(), 64);
        assert_eq!(unhex32(&text).map(|b| b.to_vec()), Some(bytes.clone()));
        assert_eq!(
            unhex32(&text.to_uppercase()).map(|b| b.to_vec()),
            Some(bytes)
        );
        assert_eq!(unhex32(&text[..62]), None);
        assert_eq!(unhex32(&format!("{}zz", &text[..62])), None);
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }
}
