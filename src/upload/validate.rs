//! Checks that need no request: formats by magic bytes, expiry windows, custom ids with signing, URLs for messages.

use super::*;

/// A URL fit to print or log: scheme, host and path; no user name or password,
/// and a query (which may hold a signature) shown as `?…`. A URL that does not
/// parse loses its user info and query all the same.
///
/// ```
/// use cloudflare_images::upload::redact_url;
/// assert_eq!(
///     redact_url("http://user:SECRET@host/x.png?sig=SECRET#SECRET"),
///     "http://host/x.png?…"
/// );
/// assert_eq!(redact_url("http://SECRET@[bad/x?SECRET"), "http://[bad/x?…");
/// ```
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let had_query = parsed.query().is_some();
            parsed.set_query(None);
            parsed.set_fragment(None);
            // The user name can be a secret too (`https://TOKEN@host/...`).
            let _ = parsed.set_password(None);
            let _ = parsed.set_username("");
            let mut text = parsed.to_string();
            if had_query {
                text.push_str("?…");
            }
            text
        }
        Err(_) => {
            let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(end);
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let path: String = tail.chars().take_while(|&c| c != '?' && c != '#').collect();
            let query = if tail.contains('?') { "?…" } else { "" };
            let scheme = if scheme.is_empty() {
                String::new()
            } else {
                format!("{scheme}://")
            };
            format!("{scheme}{host}{path}{query}")
        }
    }
}

/// Checks an optional custom id, and that it does not come with
/// `requireSignedURLs: true` (Cloudflare rejects the combination).
pub(crate) fn validate_id_and_signing(
    id: Option<&str>,
    require_signed_urls: Option<bool>,
) -> Result<()> {
    let Some(id) = id else { return Ok(()) };
    crate::ids::check_custom_id(id)?;
    if require_signed_urls == Some(true) {
        return Err(Error::invalid_input(
            "an image with a custom id cannot require signed URLs (Cloudflare rejects the combination)",
        ));
    }
    Ok(())
}

/// Checks a direct-upload expiry: between 2 minutes and 6 hours after `now`.
pub(crate) fn validate_expiry(expiry: DateTime<Utc>, now: DateTime<Utc>) -> Result<()> {
    let earliest = now + ChronoDuration::minutes(2);
    let latest = now + ChronoDuration::hours(6);
    if expiry < earliest || expiry > latest {
        return Err(Error::invalid_input(format!(
            "expiry {} is outside the allowed window (2 minutes to 6 hours from now)",
            expiry.to_rfc3339()
        )));
    }
    Ok(())
}

/// The image type of `data` by its magic bytes, for the part's content type.
pub(crate) fn sniff_image_type(data: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| data.starts_with(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else if data.len() >= 12 && &data[4..8] == b"ftyp" {
        match &data[8..12] {
            b"avif" | b"avis" => Some("image/avif"),
            b"heic" | b"heix" | b"mif1" | b"msf1" | b"hevc" => Some("image/heic"),
            _ => None,
        }
    } else {
        let head = String::from_utf8_lossy(&data[..data.len().min(1024)]);
        let head = head.trim_start_matches('\u{feff}').trim_start();
        (head.starts_with("<svg") || (head.starts_with("<?xml") && head.contains("<svg")))
            .then_some("image/svg+xml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_window() {
        let now = Utc::now();
        assert!(validate_expiry(now + ChronoDuration::minutes(30), now).is_ok());
        assert!(validate_expiry(now + ChronoDuration::minutes(1), now).is_err());
        assert!(validate_expiry(now + ChronoDuration::hours(7), now).is_err());
    }

    #[test]
    fn magic_bytes() {
        assert_eq!(
            sniff_image_type(b"\x89PNG\r\n\x1a\nrest"),
            Some("image/png")
        );
        assert_eq!(
            sniff_image_type(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some("image/jpeg")
        );
        assert_eq!(
            sniff_image_type(b"RIFF\0\0\0\0WEBPVP8 "),
            Some("image/webp")
        );
        assert_eq!(sniff_image_type(b"\0\0\0\x1cftypavif"), Some("image/avif"));
        assert_eq!(sniff_image_type(b"\0\0\0\x18ftypheic"), Some("image/heic"));
        assert_eq!(sniff_image_type(b"GIF89a"), Some("image/gif"));
        assert_eq!(
            sniff_image_type(b"<?xml version=\"1.0\"?><svg/>"),
            Some("image/svg+xml")
        );
        assert_eq!(sniff_image_type(b"hello"), None);
    }

    #[test]
    fn urls_lose_their_query_in_messages() {
        assert_eq!(
            redact_url("https://bucket.s3.amazonaws.com/a.png?X-Amz-Signature=secret"),
            "https://bucket.s3.amazonaws.com/a.png?…"
        );
        assert_eq!(
            redact_url("http://user:SECRET@host/x.png?sig=SECRET"),
            "http://host/x.png?…"
        );
        assert_eq!(redact_url("not a url?sig=1"), "not a url?…");
    }
}
