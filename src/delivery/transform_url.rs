//! Transformation URLs of any image on a zone:
//! `https://<zone>/cdn-cgi/image/<options>/<source>`.

use std::fmt;

use percent_encoding::utf8_percent_encode;

use super::options::TransformOptions;
use super::url::{check_zone_for_url, VARIANT_SEGMENT};
use super::url_error::UrlError;

/// The path prefix of transformations on a zone.
pub const TRANSFORM_PATH_PREFIX: &str = "/cdn-cgi/image";

/// The image a transformation URL reads: a path on the zone or an absolute URL.
///
/// Cloudflare appends the source as it is, without decoding it, so it is kept
/// and written exactly as given: it must already be a valid URL part (printable
/// ASCII, no spaces, no `#`; percent-encode anything else first).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// A path on the zone, stored without its leading `/`: `uploads/a.jpg`
    /// (a query such as `?v=2` may follow).
    Path(String),
    /// An absolute `http(s)` URL: `https://s3.example.com/bucket/a.png`.
    Url(String),
}

impl Source {
    /// Reads `source`: `https://...` or `http://...` is a URL, anything else a
    /// path on the zone (a leading `/` is optional).
    pub fn parse(source: &str) -> Result<Source, UrlError> {
        let bad = |why: &str| UrlError::invalid_url(format!("source {source:?}: {why}"));
        if source.is_empty() {
            return Err(bad("it is empty"));
        }
        if !source.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(
                "only printable ASCII without spaces is sent as it is: percent-encode the rest",
            ));
        }
        if source.contains('#') {
            return Err(bad("a fragment is never sent to the server"));
        }
        if source.starts_with("http://") || source.starts_with("https://") {
            let parsed = reqwest::Url::parse(source).map_err(|e| bad(&e.to_string()))?;
            if parsed.host_str().is_none() {
                return Err(bad("it has no host"));
            }
            if !parsed.username().is_empty() || parsed.password().is_some() {
                return Err(bad("it must not contain credentials"));
            }
            return Ok(Source::Url(source.to_string()));
        }
        let path = source.strip_prefix('/').unwrap_or(source);
        let path_only = path.split('?').next().unwrap_or(path);
        if path_only.is_empty() || path.starts_with('/') {
            return Err(bad("expected a path such as /images/a.jpg"));
        }
        if path_only.split('/').any(|s| s == "." || s == "..") {
            return Err(bad("'.' and '..' segments would be resolved away"));
        }
        if path.contains("://") {
            return Err(bad("an absolute URL must start with http:// or https://"));
        }
        Ok(Source::Path(path.to_string()))
    }

    /// The source as it appears after the options: `uploads/a.jpg` or
    /// `https://s3.example.com/a.png`.
    pub fn as_str(&self) -> &str {
        match self {
            Source::Path(p) | Source::Url(p) => p,
        }
    }
}

/// A transformation URL: `https://<zone>/cdn-cgi/image/<options>/<source>`, or
/// its zone-relative form `/cdn-cgi/image/<options>/<source>` for pages served
/// from the zone itself ([`relative`](Self::relative)).
///
/// `Display` writes the URL. The options are written as for flexible variants
/// (`,` and `=` literal, other reserved bytes percent-encoded, `#` as `%23`).
///
/// ```
/// use cloudflare_images::delivery::{Format, TransformOptions, TransformUrl};
/// # fn main() -> Result<(), cloudflare_images::delivery::UrlError> {
/// let url = TransformUrl::new(
///     "example.com",
///     TransformOptions::new().width(80).quality(75).format(Format::Auto),
///     "/uploads/avatar1.jpg",
/// )?;
/// assert_eq!(
///     url.to_string(),
///     "https://example.com/cdn-cgi/image/w=80,q=75,format=auto/uploads/avatar1.jpg"
/// );
/// assert_eq!(url.path(), "/cdn-cgi/image/w=80,q=75,format=auto/uploads/avatar1.jpg");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TransformUrl {
    zone: Option<String>,
    options: TransformOptions,
    source: Source,
}

impl TransformUrl {
    /// A transformation on `zone` (a host name with an optional port, no scheme)
    /// of `source` (see [`Source::parse`]); an error if an option is invalid or
    /// none is set, or the zone or source is malformed.
    pub fn new(zone: &str, options: TransformOptions, source: &str) -> Result<Self, UrlError> {
        check_zone_for_url(zone)?;
        options.check()?;
        Ok(TransformUrl {
            zone: Some(zone.to_ascii_lowercase()),
            options,
            source: Source::parse(source)?,
        })
    }

    /// The zone-relative form, `/cdn-cgi/image/<options>/<source>`, which
    /// Cloudflare documents for markup on the zone's own pages.
    pub fn relative(options: TransformOptions, source: &str) -> Result<Self, UrlError> {
        options.check()?;
        Ok(TransformUrl {
            zone: None,
            options,
            source: Source::parse(source)?,
        })
    }

    /// The zone, lowercase; `None` for the zone-relative form.
    pub fn zone(&self) -> Option<&str> {
        self.zone.as_deref()
    }

    /// The options.
    pub fn options(&self) -> &TransformOptions {
        &self.options
    }

    /// The source image.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The same source with other options; an error if they are invalid.
    pub fn with_options(&self, options: TransformOptions) -> Result<Self, UrlError> {
        options.check()?;
        Ok(TransformUrl {
            options,
            ..self.clone()
        })
    }

    /// The path (and the source's query): `/cdn-cgi/image/<options>/<source>`,
    /// for `src` attributes on pages of the zone itself.
    pub fn path(&self) -> String {
        format!(
            "{TRANSFORM_PATH_PREFIX}/{}/{}",
            utf8_percent_encode(&self.options.unchecked_render(), VARIANT_SEGMENT),
            self.source.as_str()
        )
    }

    /// The URL as a string (same as `to_string()`): the [`path`](Self::path)
    /// alone for the zone-relative form.
    pub fn url(&self) -> String {
        match &self.zone {
            Some(zone) => format!("https://{zone}{}", self.path()),
            None => self.path(),
        }
    }
}

impl fmt::Display for TransformUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())
    }
}
