//! Variants: named variants and flexible-variant options, the last segment of a
//! delivery URL.

use crate::error::{Error, Result};

/// The longest named variant Cloudflare accepts.
pub const MAX_VARIANT_NAME_LEN: usize = 99;

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
/// error when the URL is built ([`DeliveryUrl::new`](super::DeliveryUrl::new)) or by [`render`](Self::render).
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
