//! Delivery URLs and signed URLs (`imagedelivery.net`), with a verifier.
//!
//! Cloudflare serves an image at
//! `https://imagedelivery.net/<account_hash>/<image_id>/<variant>`, or on one of
//! your zones at `https://<zone>/cdn-cgi/imagedelivery/<account_hash>/<image_id>/<variant>`.
//! The variant is a named variant (`public`) or flexible-variant options
//! (`w=400,sharpen=3`, see [`FlexibleOptions`]).
//!
//! Images uploaded with `requireSignedURLs` are only served from signed URLs:
//! `exp` (Unix seconds) is added to the query, then `sig`, the lowercase hex
//! HMAC-SHA256 of `path + "?" + query` keyed with a signing key of the account
//! (see [`SigningKey`]).
//!
//! ```
//! use cloudflare_images::delivery::{DeliveryUrl, Expiry, FlexibleOptions, SigningKey};
//! # fn main() -> Result<(), cloudflare_images::Error> {
//! let url = DeliveryUrl::new("ZWd9g1K7eljCn_KDTu_MWA", "products/café 01", "public")?;
//! assert_eq!(
//!     url.to_string(),
//!     "https://imagedelivery.net/ZWd9g1K7eljCn_KDTu_MWA/products/caf%C3%A9%2001/public"
//! );
//!
//! let thumb = DeliveryUrl::new(
//!     "ZWd9g1K7eljCn_KDTu_MWA",
//!     "083eb7b2-5392-4565-b69e-aff66acddd00",
//!     FlexibleOptions::new().width(400).sharpen(3.0),
//! )?
//! .on_zone("images.example.com")?;
//! assert_eq!(
//!     thumb.to_string(),
//!     "https://images.example.com/cdn-cgi/imagedelivery/ZWd9g1K7eljCn_KDTu_MWA/\
//!      083eb7b2-5392-4565-b69e-aff66acddd00/w=400,sharpen=3"
//! );
//!
//! let key = SigningKey::new("my-signing-key")?;
//! let signed = url.sign(&key, Expiry::from_unix_seconds(1631289275));
//! assert!(signed.contains("?exp=1631289275&sig="));
//! # Ok(())
//! # }
//! ```
//!
//! # How image ids are escaped
//!
//! A custom id may contain `/` (`products/2024/a.png`); each `/` stays a path
//! separator, as Cloudflare expects. Every other byte except the RFC 3986
//! unreserved characters (`A-Z a-z 0-9 - . _ ~`) is percent-encoded per segment
//! as UTF-8 with uppercase hex: a space becomes `%20`, `?` `%3F`, `#` `%23`,
//! `%` `%25`, `é` `%C3%A9`, and sub-delimiters such as `+`, `,`, `=` and `@` are
//! encoded too. Leaving only unreserved characters bare makes the path
//! unambiguous and stable: HTTP clients, proxies and Cloudflare's URL
//! normalization leave it as it is, so the path that was signed is the path the
//! server sees. Ids with a leading or trailing `/`, or with a `.` or `..`
//! segment, are refused: URL normalization would resolve those segments away
//! and the URL would no longer address the image.
//!
//! # Signing and custom domains
//!
//! The signed path is the path of the URL as it will be requested: on a custom
//! domain it includes `/cdn-cgi/imagedelivery`. [`verify_signed_url`] accepts
//! either form for such URLs, as Cloudflare does.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, TimeZone, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet};

use crate::client::Secret;
use crate::error::{Error, Result};
use crate::ids::SEGMENT;
use crate::Client;

/// Cloudflare's delivery origin.
pub const DELIVERY_ORIGIN: &str = "https://imagedelivery.net";

/// The path prefix of delivery on a custom domain (zone).
pub const ZONE_PATH_PREFIX: &str = "/cdn-cgi/imagedelivery";

/// The longest named variant Cloudflare accepts.
pub const MAX_VARIANT_NAME_LEN: usize = 99;

/// Bytes percent-encoded in the variant segment: as [`SEGMENT`], but the `=`
/// and `,` of flexible-variant options stay literal.
const VARIANT_SEGMENT: &AsciiSet = &SEGMENT.remove(b'=').remove(b',');

// ---------------------------------------------------------------------------
// Variants
// ---------------------------------------------------------------------------

/// The last segment of a delivery URL: a named variant or flexible options.
///
/// Built from a `&str`/`String` (a named variant such as `"public"`) or from
/// [`FlexibleOptions`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Variant {
    /// A variant defined on the account, e.g. `public` or `thumbnail`.
    Named(String),
    /// Flexible-variant options in place of a name (`w=400,sharpen=3`); the
    /// account must have flexible variants enabled.
    Flexible(FlexibleOptions),
}

impl From<&str> for Variant {
    fn from(name: &str) -> Self {
        Variant::Named(name.to_string())
    }
}

impl From<String> for Variant {
    fn from(name: String) -> Self {
        Variant::Named(name)
    }
}

impl From<FlexibleOptions> for Variant {
    fn from(options: FlexibleOptions) -> Self {
        Variant::Flexible(options)
    }
}

impl From<&FlexibleOptions> for Variant {
    fn from(options: &FlexibleOptions) -> Self {
        Variant::Flexible(options.clone())
    }
}

impl Variant {
    /// The segment as it appears in the URL (before percent-encoding), or an
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) error.
    ///
    /// A name is 1 to 99 ASCII letters, digits, `-` or `_` (no `/`, no `=`).
    pub fn render(&self) -> Result<String> {
        match self {
            Variant::Named(name) => {
                if name.is_empty() {
                    return Err(Error::invalid_input("the variant name must not be empty"));
                }
                if name.len() > MAX_VARIANT_NAME_LEN {
                    return Err(Error::invalid_input(format!(
                        "the variant name is longer than {MAX_VARIANT_NAME_LEN} characters"
                    )));
                }
                if name.contains('/') {
                    return Err(Error::invalid_input(format!(
                        "the variant name {name:?} contains '/'"
                    )));
                }
                if name.contains('=') {
                    return Err(Error::invalid_input(format!(
                        "the variant name {name:?} contains '=': use FlexibleOptions for flexible variants"
                    )));
                }
                if !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(Error::invalid_input(format!(
                        "the variant name {name:?} may only contain ASCII letters, digits, '-' and '_'"
                    )));
                }
                Ok(name.clone())
            }
            Variant::Flexible(options) => options.render(),
        }
    }
}

/// How a flexible variant fits the image into `width` × `height`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fit {
    /// Shrink to fit, never enlarge (`scale-down`).
    ScaleDown,
    /// Fit inside, preserving the aspect ratio (`contain`).
    Contain,
    /// Fill the area, cropping if needed (`cover`).
    Cover,
    /// Shrink and crop to the area, never enlarge (`crop`).
    Crop,
    /// Fit inside and pad the rest with the background colour (`pad`).
    Pad,
}

impl Fit {
    /// The value in the URL, e.g. `scale-down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fit::ScaleDown => "scale-down",
            Fit::Contain => "contain",
            Fit::Cover => "cover",
            Fit::Crop => "crop",
            Fit::Pad => "pad",
        }
    }
}

/// The output format of a flexible variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// The best format the browser accepts (`auto`).
    Auto,
    /// AVIF (`avif`).
    Avif,
    /// WebP (`webp`).
    Webp,
    /// Progressive JPEG (`jpeg`).
    Jpeg,
    /// Baseline JPEG (`baseline-jpeg`).
    BaselineJpeg,
    /// Image information as JSON instead of an image (`json`).
    Json,
}

impl Format {
    /// The value in the URL, e.g. `webp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Avif => "avif",
            Format::Webp => "webp",
            Format::Jpeg => "jpeg",
            Format::BaselineJpeg => "baseline-jpeg",
            Format::Json => "json",
        }
    }
}

/// Which part of the image to keep when cropping.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Gravity {
    /// Chosen from the image content (`auto`).
    Auto,
    /// Keep the left side (`left`).
    Left,
    /// Keep the right side (`right`).
    Right,
    /// Keep the top (`top`).
    Top,
    /// Keep the bottom (`bottom`).
    Bottom,
    /// Keep the point at `x`, `y` (each 0.0 to 1.0, from the top left): `0.5x0.3`.
    Point {
        /// Horizontal position, 0.0 (left) to 1.0 (right).
        x: f64,
        /// Vertical position, 0.0 (top) to 1.0 (bottom).
        y: f64,
    },
}

/// Clockwise rotation of a flexible variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rotate {
    /// 90 degrees.
    Deg90,
    /// 180 degrees.
    Deg180,
    /// 270 degrees.
    Deg270,
}

/// Which metadata (EXIF) a flexible variant keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetadataPolicy {
    /// Keep all of it (`keep`).
    Keep,
    /// Keep only copyright (`copyright`).
    Copyright,
    /// Strip it (`none`).
    None,
}

impl MetadataPolicy {
    /// The value in the URL, e.g. `copyright`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetadataPolicy::Keep => "keep",
            MetadataPolicy::Copyright => "copyright",
            MetadataPolicy::None => "none",
        }
    }
}

/// The largest width or height a flexible variant may ask for, in pixels
/// (Cloudflare's per-side limit for stored images).
pub const MAX_DIMENSION: u32 = 12_000;

/// Flexible-variant options, rendered as `key=value` pairs joined by `,`
/// (`w=400,sharpen=3`) in the order they were first set; setting an option again
/// replaces its value in place.
///
/// Setters never fail; an invalid value (quality 0, a negative blur, a NaN) is
/// remembered and reported as an [`InvalidInput`](crate::ErrorKind::InvalidInput)
/// error when the URL is built ([`DeliveryUrl::new`]) or by [`render`](Self::render).
///
/// ```
/// use cloudflare_images::delivery::{Fit, FlexibleOptions};
/// let o = FlexibleOptions::new().width(400).height(300).fit(Fit::Cover).quality(80);
/// assert_eq!(o.render().unwrap(), "w=400,h=300,fit=cover,q=80");
/// assert!(FlexibleOptions::new().quality(0).render().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlexibleOptions {
    entries: Vec<(String, String)>,
    error: Option<String>,
}

/// Renders a float without a trailing `.0` (`3`, `0.5`).
fn float(value: f64) -> String {
    format!("{value}")
}

impl FlexibleOptions {
    /// No options yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn set(mut self, key: &str, value: String) -> Self {
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key.to_string(), value)),
        }
        self
    }

    fn fail(mut self, message: String) -> Self {
        if self.error.is_none() {
            self.error = Some(message);
        }
        self
    }

    fn set_float(self, key: &str, value: f64, min: f64, max: f64) -> Self {
        if value.is_finite() && value >= min && value <= max {
            self.set(key, float(value))
        } else {
            self.fail(format!(
                "{key} must be between {min} and {max}, got {value}"
            ))
        }
    }

    fn set_dimension(self, key: &str, value: u32) -> Self {
        if (1..=MAX_DIMENSION).contains(&value) {
            self.set(key, value.to_string())
        } else {
            self.fail(format!(
                "{key} must be between 1 and {MAX_DIMENSION} pixels, got {value}"
            ))
        }
    }

    /// Width in pixels, 1 to 12,000 (`w`).
    pub fn width(self, pixels: u32) -> Self {
        self.set_dimension("w", pixels)
    }

    /// Height in pixels, 1 to 12,000 (`h`).
    pub fn height(self, pixels: u32) -> Self {
        self.set_dimension("h", pixels)
    }

    /// How the image fits `width` × `height` (`fit`).
    pub fn fit(self, fit: Fit) -> Self {
        self.set("fit", fit.as_str().to_string())
    }

    /// Quality for lossy formats, 1 to 100 (`q`).
    pub fn quality(self, quality: u8) -> Self {
        if (1..=100).contains(&quality) {
            self.set("q", quality.to_string())
        } else {
            self.fail(format!("q must be between 1 and 100, got {quality}"))
        }
    }

    /// Output format (`format`).
    pub fn format(self, format: Format) -> Self {
        self.set("format", format.as_str().to_string())
    }

    /// Sharpening strength, 0 to 10 (`sharpen`).
    pub fn sharpen(self, strength: f64) -> Self {
        self.set_float("sharpen", strength, 0.0, 10.0)
    }

    /// Blur radius, 1 to 250 (`blur`).
    pub fn blur(self, radius: f64) -> Self {
        self.set_float("blur", radius, 1.0, 250.0)
    }

    /// Device pixel ratio multiplying width and height, above 0 and at most 10 (`dpr`).
    pub fn dpr(self, ratio: f64) -> Self {
        if ratio.is_finite() && ratio > 0.0 && ratio <= 10.0 {
            self.set("dpr", float(ratio))
        } else {
            self.fail(format!("dpr must be above 0 and at most 10, got {ratio}"))
        }
    }

    /// What to keep when cropping (`gravity`).
    pub fn gravity(self, gravity: Gravity) -> Self {
        let value = match gravity {
            Gravity::Auto => "auto".to_string(),
            Gravity::Left => "left".to_string(),
            Gravity::Right => "right".to_string(),
            Gravity::Top => "top".to_string(),
            Gravity::Bottom => "bottom".to_string(),
            Gravity::Point { x, y } => {
                let ok = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
                if !(ok(x) && ok(y)) {
                    return self.fail(format!(
                        "gravity coordinates must be between 0 and 1, got {x}x{y}"
                    ));
                }
                format!("{}x{}", float(x), float(y))
            }
        };
        self.set("gravity", value)
    }

    /// Clockwise rotation (`rotate`).
    pub fn rotate(self, rotate: Rotate) -> Self {
        let degrees = match rotate {
            Rotate::Deg90 => "90",
            Rotate::Deg180 => "180",
            Rotate::Deg270 => "270",
        };
        self.set("rotate", degrees.to_string())
    }

    /// Which metadata to keep (`metadata`).
    pub fn metadata(self, policy: MetadataPolicy) -> Self {
        self.set("metadata", policy.as_str().to_string())
    }

    /// Whether animations are kept (`anim=true`) or only the first frame (`anim=false`).
    pub fn anim(self, keep: bool) -> Self {
        self.set("anim", keep.to_string())
    }

    /// Brightness factor, 0 to 10; 1 leaves it unchanged (`brightness`).
    pub fn brightness(self, factor: f64) -> Self {
        self.set_float("brightness", factor, 0.0, 10.0)
    }

    /// Contrast factor, 0 to 10; 1 leaves it unchanged (`contrast`).
    pub fn contrast(self, factor: f64) -> Self {
        self.set_float("contrast", factor, 0.0, 10.0)
    }

    /// Gamma, 0 to 10; 1 leaves it unchanged (`gamma`).
    pub fn gamma(self, gamma: f64) -> Self {
        self.set_float("gamma", gamma, 0.0, 10.0)
    }

    /// Saturation factor, 0 (greyscale) to 10; 1 leaves it unchanged (`saturation`).
    pub fn saturation(self, factor: f64) -> Self {
        self.set_float("saturation", factor, 0.0, 10.0)
    }

    /// Any other option, for options this type does not model yet.
    ///
    /// The key is lowercase ASCII letters, digits, `-` or `.`, starting with a
    /// letter; the value is non-empty ASCII letters, digits, `.`, `-`, `_`, `:`
    /// or `;` (so it needs no escaping in the URL).
    pub fn option(self, key: &str, value: &str) -> Self {
        let key_ok = key.starts_with(|c: char| c.is_ascii_lowercase())
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !key_ok {
            return self.fail(format!("invalid flexible-variant option name {key:?}"));
        }
        let value_ok = !value.is_empty()
            && value.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b';')
            });
        if !value_ok {
            return self.fail(format!("invalid value {value:?} for option {key}"));
        }
        self.set(key, value.to_string())
    }

    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The options as `key=value` pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The variant segment, e.g. `w=400,sharpen=3`; an error if a value was
    /// invalid or no option is set.
    pub fn render(&self) -> Result<String> {
        if let Some(message) = &self.error {
            return Err(Error::invalid_input(message.clone()));
        }
        if self.entries.is_empty() {
            return Err(Error::invalid_input(
                "flexible-variant options must set at least one option",
            ));
        }
        Ok(self
            .entries
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","))
    }
}

// ---------------------------------------------------------------------------
// Delivery URLs
// ---------------------------------------------------------------------------

/// A delivery URL: `https://imagedelivery.net/<account_hash>/<image_id>/<variant>`,
/// or on a zone `https://<zone>/cdn-cgi/imagedelivery/<account_hash>/<image_id>/<variant>`,
/// or under any base URL given with [`with_base_url`](Self::with_base_url) (a
/// local emulator).
///
/// `Display` writes the URL. See the [module documentation](self) for how the
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

fn check_image_id(id: &str) -> Result<()> {
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

impl DeliveryUrl {
    /// A URL on `imagedelivery.net`.
    ///
    /// Fails with [`InvalidInput`](crate::ErrorKind::InvalidInput) on an empty or
    /// malformed account hash, an empty, over-long or unaddressable image id (see
    /// the [module documentation](self)), or an invalid variant (see
    /// [`Variant::render`]).
    pub fn new(
        account_hash: impl Into<String>,
        image_id: impl Into<String>,
        variant: impl Into<Variant>,
    ) -> Result<Self> {
        let account_hash = account_hash.into();
        let image_id = image_id.into();
        check_account_hash(&account_hash)?;
        check_image_id(&image_id)?;
        let variant = variant.into().render()?;
        Ok(DeliveryUrl {
            origin: DELIVERY_ORIGIN.to_string(),
            prefix: String::new(),
            account_hash,
            image_id,
            variant,
        })
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

// ---------------------------------------------------------------------------
// Keys, clocks, expiry
// ---------------------------------------------------------------------------

/// A signing key of the account, as the keys API
/// (`client.v1().keys().list()`) shows it. Its value is secret: `Debug` redacts
/// it, and it never appears in errors.
#[derive(Clone)]
pub struct SigningKey {
    name: Option<String>,
    secret: Secret,
    /// The HMAC-SHA256 key made from the secret (ring's: the crypto provider the
    /// default TLS already compiles, so signing adds no crates to a user's build).
    mac: ring::hmac::Key,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl SigningKey {
    /// A key from its value (the HMAC key is the value's UTF-8 bytes). Fails on
    /// an empty value.
    pub fn new(value: impl Into<Secret>) -> Result<Self> {
        let secret = value.into();
        if secret.expose().is_empty() {
            return Err(Error::invalid_input("the signing key is empty"));
        }
        let mac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose().as_bytes());
        Ok(SigningKey {
            name: None,
            secret,
            mac,
        })
    }

    /// The same key, labelled with its name on the account.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The key's name on the account, when known.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The key's value; handle with care.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Every signing key of the client's account, in the API's order (keys
    /// without a value are skipped).
    pub async fn fetch_all(client: &Client) -> Result<Vec<SigningKey>> {
        let response = client.v1().keys().list().send().await?;
        Ok(response
            .keys
            .into_iter()
            .filter_map(|k| {
                let key = SigningKey::new(k.value?).ok()?;
                Some(match k.name {
                    Some(name) => key.with_name(name),
                    None => key,
                })
            })
            .collect())
    }

    /// The signing key called `name`, or the first key of the account when
    /// `name` is `None`, through the keys API. Fails with
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) when there is no such key.
    pub async fn fetch(client: &Client, name: Option<&str>) -> Result<SigningKey> {
        let keys = Self::fetch_all(client).await?;
        match name {
            Some(name) => keys
                .into_iter()
                .find(|k| k.name() == Some(name))
                .ok_or_else(|| {
                    Error::invalid_input(format!("the account has no signing key named {name:?}"))
                }),
            None => keys
                .into_iter()
                .next()
                .ok_or_else(|| Error::invalid_input("the account has no signing key")),
        }
    }

    fn signature_bytes(&self, message: &str) -> ring::hmac::Tag {
        ring::hmac::sign(&self.mac, message.as_bytes())
    }

    /// Whether `sig` is this key's signature of `message`, compared in constant time
    /// (`ring::hmac::verify`), so timing does not reveal how much of a guess was right.
    fn verifies(&self, message: &str, sig: &[u8]) -> bool {
        ring::hmac::verify(&self.mac, message.as_bytes(), sig).is_ok()
    }

    /// The lowercase hex HMAC-SHA256 of `message` (`/<hash>/<id>/<variant>?exp=…`).
    pub fn signature(&self, message: &str) -> String {
        hex(self.signature_bytes(message).as_ref())
    }
}

/// Where "now" comes from, so tests can fix it.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A fixed instant is a clock that never moves.
impl Clock for DateTime<Utc> {
    fn now(&self) -> DateTime<Utc> {
        *self
    }
}

/// When a signed URL stops working, in whole Unix seconds (the `exp` parameter).
///
/// From a `chrono::DateTime<Utc>` or a `SystemTime` (fractions of a second are
/// dropped, so the URL expires up to one second early, never late), from Unix
/// seconds, or [`after`](Self::after) a duration from a clock's now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Expiry(i64);

impl Expiry {
    /// At `seconds` after the Unix epoch.
    pub fn from_unix_seconds(seconds: i64) -> Self {
        Expiry(seconds)
    }

    /// `ttl` after `clock.now()`; fails if that is out of range.
    pub fn after(ttl: Duration, clock: &dyn Clock) -> Result<Self> {
        let ttl = chrono::Duration::from_std(ttl)
            .map_err(|_| Error::invalid_input("the signed URL lifetime is too long"))?;
        clock
            .now()
            .checked_add_signed(ttl)
            .map(Expiry::from)
            .ok_or_else(|| Error::invalid_input("the signed URL lifetime is too long"))
    }

    /// The `exp` value: seconds since the Unix epoch.
    pub fn unix_seconds(self) -> i64 {
        self.0
    }

    /// The instant, when representable.
    pub fn to_datetime(self) -> Option<DateTime<Utc>> {
        Utc.timestamp_opt(self.0, 0).single()
    }
}

impl From<DateTime<Utc>> for Expiry {
    fn from(at: DateTime<Utc>) -> Self {
        Expiry(at.timestamp())
    }
}

impl From<SystemTime> for Expiry {
    fn from(at: SystemTime) -> Self {
        let secs = match at.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(before) => {
                let d = before.duration();
                let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                // Round towards the past, like `DateTime::timestamp`.
                let whole = if d.subsec_nanos() > 0 {
                    whole.saturating_add(1)
                } else {
                    whole
                };
                whole.saturating_neg()
            }
        };
        Expiry(secs)
    }
}

// ---------------------------------------------------------------------------
// Signing any URL
// ---------------------------------------------------------------------------

/// Splits an absolute `http(s)` URL or a path-and-query into
/// `(origin, path, query)`; refuses fragments.
fn split_url(url: &str) -> Option<(&str, &str, Option<&str>)> {
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
fn canonical(url: &str) -> Option<(String, String, Option<String>)> {
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

// ---------------------------------------------------------------------------
// Verifying
// ---------------------------------------------------------------------------

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

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
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
    use crate::ErrorKind;

    #[test]
    fn a_key_verifies_its_own_signature_and_nothing_else() {
        let key = SigningKey::new("secret").expect("key");
        let sig: Vec<u8> = key.signature_bytes("/h/id/public?exp=1").as_ref().to_vec();
        assert_eq!(sig.len(), 32);
        assert!(key.verifies("/h/id/public?exp=1", &sig));
        assert!(!key.verifies("/h/id/public?exp=2", &sig));
        let mut flipped = sig.clone();
        flipped[31] ^= 1;
        assert!(!key.verifies("/h/id/public?exp=1", &flipped));
        assert!(!key.verifies("/h/id/public?exp=1", &sig[..31]));
        assert!(!key.verifies("/h/id/public?exp=1", b""));
        let other = SigningKey::new("other").expect("key");
        assert!(!other.verifies("/h/id/public?exp=1", &sig));
    }

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
    fn expiry_from_system_time_rounds_to_the_past() {
        let t = UNIX_EPOCH + Duration::from_millis(1_500);
        assert_eq!(Expiry::from(t).unix_seconds(), 1);
        let t = UNIX_EPOCH - Duration::from_millis(1_500);
        assert_eq!(Expiry::from(t).unix_seconds(), -2);
        let t = UNIX_EPOCH - Duration::from_secs(3);
        assert_eq!(Expiry::from(t).unix_seconds(), -3);
    }

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

    #[test]
    fn signing_key_never_fails_to_build_a_mac() {
        let key = SigningKey::new("k").unwrap();
        assert_eq!(key.signature("m").len(), 64);
        assert!(SigningKey::new("").is_err());
        // RFC 4231, test case 2: HMAC-SHA256 as Cloudflare computes it, lowercase hex.
        assert_eq!(
            SigningKey::new("Jefe")
                .unwrap()
                .signature("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
