//! Reading delivery and transformation URLs back into their typed form.

use super::options::{TransformOption, TransformOptions};
use super::transform_url::{Source, TransformUrl, TRANSFORM_PATH_PREFIX};
use super::url::check_zone_for_url;
use super::url_error::UrlError;
use super::{DeliveryUrl, Variant, ZONE_PATH_PREFIX};

/// A URL read by [`parse_url`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ParsedUrl {
    /// `https://imagedelivery.net/<hash>/<id>/<variant>` or
    /// `https://<zone>/cdn-cgi/imagedelivery/<hash>/<id>/<variant>`.
    Delivery {
        /// The URL without its query.
        url: DeliveryUrl,
        /// The variant, typed: a name or flexible-variant options.
        variant: Variant,
        /// The query as it was (`exp=...&sig=...` for a signed URL), without `?`.
        query: Option<String>,
        /// The `exp` of a signed URL (Unix seconds).
        exp: Option<i64>,
        /// The `sig` of a signed URL (hex), as it was.
        sig: Option<String>,
    },
    /// `https://<zone>/cdn-cgi/image/<options>/<source>`.
    Transformation(TransformUrl),
}

/// Reads a delivery URL (on `imagedelivery.net` or a zone's
/// `/cdn-cgi/imagedelivery`) or a transformation URL (`/cdn-cgi/image`, with
/// its zone or zone-relative: `/cdn-cgi/image/w=100/a.png`).
///
/// Options are read as [`TransformOptions::parse`] reads them (long or short
/// names, any order). A delivery URL's image id is percent-decoded segment by
/// segment, and its query is kept, with a signed URL's `exp` and `sig`; only
/// the URL is read: [`verify_signed_url`](super::verify_signed_url) checks a
/// signature. A transformation's source, query included, is kept as it is, as
/// Cloudflare reads it.
///
/// ```
/// use cloudflare_images::delivery::{parse_url, Fit, ParsedUrl, TransformOptions, Variant};
/// let parsed = parse_url(
///     "https://imagedelivery.net/ZWd9g1K7eljCn_KDTu_MWA/products/a.png/width=200,fit=cover?exp=1&sig=ab",
/// )
/// .unwrap();
/// let ParsedUrl::Delivery { url, variant, exp, .. } = parsed else { panic!("a delivery URL") };
/// assert_eq!(url.image_id(), "products/a.png");
/// assert_eq!(variant, Variant::Flexible(TransformOptions::new().width(200).fit(Fit::Cover)));
/// assert_eq!(exp, Some(1));
/// ```
pub fn parse_url(input: &str) -> Result<ParsedUrl, UrlError> {
    if !input.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UrlError::invalid_url(
            "a URL is printable ASCII without spaces (percent-encode the rest)",
        ));
    }
    if input.starts_with('/') {
        return parse_transformation(input, None);
    }
    let rest = input
        .strip_prefix("https://")
        .ok_or(UrlError::UnknownForm)?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => return Err(UrlError::UnknownForm),
    };
    if host.contains('@') {
        return Err(UrlError::invalid_url(
            "the URL must not contain credentials",
        ));
    }
    let host = host.to_ascii_lowercase();
    if host == "imagedelivery.net" {
        return parse_delivery(path, None);
    }
    check_zone_for_url(&host)?;
    if let Some(rest) = path.strip_prefix(ZONE_PATH_PREFIX) {
        if rest.starts_with('/') {
            return parse_delivery(rest, Some(&host));
        }
    }
    parse_transformation(path, Some(&host))
}

/// `path` is `/cdn-cgi/image/<options>/<source>`.
fn parse_transformation(path: &str, zone: Option<&str>) -> Result<ParsedUrl, UrlError> {
    let rest = path
        .strip_prefix(TRANSFORM_PATH_PREFIX)
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or(UrlError::UnknownForm)?;
    let (options, source) = rest
        .split_once('/')
        .ok_or_else(|| UrlError::invalid_url("no source after the options"))?;
    let options = TransformOptions::parse(options)?;
    let source = Source::parse(source)?;
    match zone {
        Some(zone) => TransformUrl::new(zone, options, source.as_str()),
        None => TransformUrl::relative(options, source.as_str()),
    }
    .map(ParsedUrl::Transformation)
}

/// `path` is `/<hash>/<id...>/<variant>[?query]`.
fn parse_delivery(path: &str, zone: Option<&str>) -> Result<ParsedUrl, UrlError> {
    if path.contains('#') {
        return Err(UrlError::invalid_url(
            "a fragment is never sent to the server",
        ));
    }
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let [hash, id @ .., variant] = segments.as_slice() else {
        return Err(UrlError::invalid_url(
            "expected /<account_hash>/<image_id>/<variant>",
        ));
    };
    if id.is_empty() {
        return Err(UrlError::invalid_url(
            "expected /<account_hash>/<image_id>/<variant>",
        ));
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| UrlError::invalid_url(format!("{s:?} is not UTF-8 once decoded")))
    };
    let image_id = id
        .iter()
        .map(|s| decode(s))
        .collect::<Result<Vec<_>, _>>()?
        .join("/");
    let variant = if variant.contains('=') {
        Variant::Flexible(TransformOptions::parse(variant)?)
    } else {
        Variant::Named(decode(variant)?)
    };
    if let Variant::Flexible(options) = &variant {
        if options
            .options()
            .iter()
            .any(|o| matches!(o, TransformOption::OnErrorRedirect))
        {
            return Err(UrlError::NotForHostedImages { option: "onerror" });
        }
    }
    let invalid = |e: crate::Error| UrlError::invalid_url(e.to_string());
    let mut url = DeliveryUrl::new(*hash, image_id, variant.clone()).map_err(invalid)?;
    if let Some(zone) = zone {
        url = url.on_zone(zone).map_err(invalid)?;
    }
    let (mut exp, mut sig) = (None, None);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "exp" => {
                let seconds = value
                    .parse::<i64>()
                    .map_err(|_| UrlError::invalid_url("exp is not a number of seconds"))?;
                if exp.replace(seconds).is_some() {
                    return Err(UrlError::invalid_url("more than one exp"));
                }
            }
            "sig" => {
                let previous = sig.replace(value.to_string());
                if previous.is_some() {
                    return Err(UrlError::invalid_url("more than one sig"));
                }
            }
            _ => {}
        }
    }
    Ok(ParsedUrl::Delivery {
        url,
        variant,
        query: query.map(str::to_string),
        exp,
        sig,
    })
}
