//! Delivery URLs: building, escaping and checking them.

use std::fmt;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet};

use super::options::{parse_segment, TransformOptions};
use super::url_error::UrlError;
use super::{Clock, Expiry, SigningKey, SystemClock, Variant, DELIVERY_ORIGIN, ZONE_PATH_PREFIX};
use crate::error::{Error, Result};
use crate::ids::SEGMENT;

/// Bytes percent-encoded in the variant segment: as [`SEGMENT`], but the `=`
/// and `,` of flexible-variant options stay literal.
pub(super) const VARIANT_SEGMENT: &AsciiSet = &SEGMENT.remove(b'=').remove(b',');

/// A delivery URL: `https://imagedelivery.net/<account_hash>/<image_id>/<variant>`,
/// or on a zone `https://<zone>/cdn-cgi/imagedelivery/<account_hash>/<image_id>/<variant>`,
/// or under any base URL given with [`with_base_url`](Self::with_base_url) (a
/// local emulator).
///
/// `Display` writes the URL. See the [module documentation](super) for how the
/// image id is escaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryUrl {
    origin: String,
    prefix: String,
    account_hash: String,
    image_id: String,
    variant: String,
}

/// Percent-encodes `id` segment by segment, keeping `/` as the separator.
fn encode_image_id(id: &str) -> String {
    id.split('/')
        .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

fn check_account_hash(hash: &str) -> Result<()> {
    if hash.is_empty() {
        return Err(Error::invalid_input("the account hash must not be empty"));
    }
    if hash.len() > 64
        || !hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::invalid_input(format!(
            "the account hash {hash:?} is not valid: expected up to 64 ASCII letters, digits, '-' or '_'"
        )));
    }
    Ok(())
}

fn check_delivery_image_id(id: &str) -> Result<()> {
    crate::ids::check_delivery_id("the image id", id)
}

/// Checks a DNS host name with an optional port (`images.example.com`,
/// `localhost:8443`).
fn check_zone(zone: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::invalid_input(format!(
            "invalid zone {zone:?}: {why}"
        )))
    };
    if zone.is_empty() {
        return bad("it is empty");
    }
    if zone.contains("://") {
        return bad("give the host name only, without a scheme");
    }
    let (host, port) = match zone.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (zone, None),
    };
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || port.parse::<u16>().map_or(true, |p| p == 0) {
            return bad("the port is not a number from 1 to 65535");
        }
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() || host.len() > 253 {
        return bad("the host name must have 1 to 253 characters");
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return bad("expected a host name of letters, digits, '-' and '.'");
        }
    }
    Ok(())
}

/// [`check_zone`] with the typed error.
pub(super) fn check_zone_for_url(zone: &str) -> std::result::Result<(), UrlError> {
    check_zone(zone).map_err(|e| UrlError::invalid_url(e.to_string()))
}

impl DeliveryUrl {
    /// A URL on `imagedelivery.net`.
    ///
    /// Fails with [`InvalidInput`](crate::ErrorKind::InvalidInput) on an empty or
    /// malformed account hash, an empty, over-long or unaddressable image id (see
    /// the [module documentation](super)), or an invalid variant (see
    /// [`Variant::render`]).
    pub fn new(
        account_hash: impl Into<String>,
        image_id: impl Into<String>,
        variant: impl Into<Variant>,
    ) -> Result<Self> {
        let account_hash = account_hash.into();
        let image_id = image_id.into();
        check_account_hash(&account_hash)?;
        check_delivery_image_id(&image_id)?;
        let variant = variant.into().render()?;
        Ok(DeliveryUrl {
            origin: DELIVERY_ORIGIN.to_string(),
            prefix: String::new(),
            account_hash,
            image_id,
            variant,
        })
    }

    /// A URL on `imagedelivery.net` for `image`, a record the API returned.
    ///
    /// Knowing the image, this refuses a flexible variant when the image requires
    /// signed URLs ([`UrlError::FlexibleVariantOfSignedImage`], as an
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) error): Cloudflare serves
    /// such images through named variants only, signed or not. A record without
    /// an id is refused too.
    pub fn for_image(
        account_hash: impl Into<String>,
        image: &crate::types::Image,
        variant: impl Into<Variant>,
    ) -> Result<Self> {
        let id = image
            .id
            .as_deref()
            .ok_or_else(|| Error::invalid_input("the image record has no id"))?;
        DeliveryUrl::new(account_hash, id, variant)?.require_signed_urls(image.require_signed_urls)
    }

    /// Declares whether the image requires signed URLs (`requireSignedURLs`):
    /// if it does, a flexible variant is refused with
    /// [`UrlError::FlexibleVariantOfSignedImage`] (as an
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) error), since Cloudflare
    /// refuses it. [`DeliveryUrl::new`] alone cannot know, and builds the URL.
    pub fn require_signed_urls(self, required: bool) -> Result<Self> {
        if required && self.is_flexible() {
            return Err(UrlError::FlexibleVariantOfSignedImage.into());
        }
        Ok(self)
    }

    /// Whether the variant is flexible-variant options rather than a name.
    pub fn is_flexible(&self) -> bool {
        self.variant.contains('=')
    }

    /// The flexible-variant options, typed; `None` for a named variant.
    pub fn options(&self) -> Option<TransformOptions> {
        if !self.is_flexible() {
            return None;
        }
        // The segment was rendered from valid options, so it parses; unmodelled
        // options given with `TransformOptions::option` are kept as they are.
        parse_segment(&self.variant, true).ok()
    }

    /// The same image on a zone of the account:
    /// `https://<zone>/cdn-cgi/imagedelivery/...`. `zone` is a host name, with
    /// an optional port, and no scheme or path.
    pub fn on_zone(mut self, zone: &str) -> Result<Self> {
        check_zone(zone)?;
        self.origin = format!("https://{}", zone.to_ascii_lowercase());
        self.prefix = ZONE_PATH_PREFIX.to_string();
        Ok(self)
    }

    /// The same image under another base URL: `<base>/<account_hash>/<image_id>/<variant>`.
    ///
    /// For a local emulator (`http://127.0.0.1:8787`) or a proxy; the base may
    /// have a path (`https://example.com/cdn-cgi/imagedelivery`) but no query
    /// or fragment.
    pub fn with_base_url(mut self, base_url: &str) -> Result<Self> {
        let parsed = reqwest::Url::parse(base_url)
            .map_err(|e| Error::invalid_input(format!("invalid base URL {base_url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::invalid_input(format!(
                "base URL {base_url:?} is not http(s)"
            )));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(Error::invalid_input(format!(
                "base URL {base_url:?} must not have a query or fragment"
            )));
        }
        if parsed.cannot_be_a_base() || parsed.host_str().is_none() {
            return Err(Error::invalid_input(format!(
                "base URL {base_url:?} has no host"
            )));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(Error::invalid_input(
                "the base URL must not contain credentials",
            ));
        }
        self.origin = parsed.origin().ascii_serialization();
        self.prefix = parsed.path().trim_end_matches('/').to_string();
        Ok(self)
    }

    /// The account hash (not the account id).
    pub fn account_hash(&self) -> &str {
        &self.account_hash
    }

    /// The image id, unescaped.
    pub fn image_id(&self) -> &str {
        &self.image_id
    }

    /// The variant segment, unescaped: `public` or `w=400,sharpen=3`.
    pub fn variant(&self) -> &str {
        &self.variant
    }

    /// The scheme and host: `https://imagedelivery.net`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The percent-encoded path: `/<hash>/<id>/<variant>` (with the zone prefix
    /// on a custom domain). This is the path that is signed.
    pub fn path(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.prefix,
            self.account_hash,
            encode_image_id(&self.image_id),
            utf8_percent_encode(&self.variant, VARIANT_SEGMENT)
        )
    }

    /// The URL as a string (same as `to_string()`).
    pub fn url(&self) -> String {
        format!("{}{}", self.origin, self.path())
    }

    /// The signed URL, valid through `expiry`:
    /// `<url>?exp=<unix seconds>&sig=<hex HMAC-SHA256>`.
    pub fn sign(&self, key: &SigningKey, expiry: impl Into<Expiry>) -> String {
        let exp = expiry.into().unix_seconds();
        let path_and_query = format!("{}?exp={exp}", self.path());
        let sig = key.signature(&path_and_query);
        format!("{}{path_and_query}&sig={sig}", self.origin)
    }

    /// The signed URL, valid for `ttl` from now (the system clock).
    pub fn sign_for(&self, key: &SigningKey, ttl: Duration) -> Result<String> {
        self.sign_for_with_clock(key, ttl, &SystemClock)
    }

    /// The signed URL, valid for `ttl` from `clock.now()`.
    pub fn sign_for_with_clock(
        &self,
        key: &SigningKey,
        ttl: Duration,
        clock: &dyn Clock,
    ) -> Result<String> {
        Ok(self.sign(key, Expiry::after(ttl, clock)?))
    }
}

impl fmt::Display for DeliveryUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn zones_are_checked() {
        for ok in ["images.example.com", "localhost:8443", "a-b.example.co.uk."] {
            assert!(check_zone(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "https://example.com",
            "example.com/path",
            "-bad.example.com",
            "exa mple.com",
            "example..com",
            "example.com:0",
            "example.com:99999",
            "ex?ample.com",
        ] {
            let e = check_zone(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
        }
    }
}
