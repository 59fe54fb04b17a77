//! Cloudflare's transformation options, typed: the `<options>` of
//! `/cdn-cgi/image/<options>/<source>` and of a hosted image's flexible variant.
//!
//! Ranges are Cloudflare's documented ones
//! (<https://developers.cloudflare.com/images/optimization/features/>), except
//! where a doc comment says otherwise.

use super::url_error::UrlError;
use crate::error::Result;

/// The largest width or height a flexible variant may ask for, in pixels
/// (Cloudflare's per-side limit for stored images).
pub const MAX_DIMENSION: u32 = 12_000;

/// How the image fits `width` × `height` (`fit`).
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
    /// Scale to exactly `width` × `height`, distorting if needed (`squeeze`).
    Squeeze,
}

impl Fit {
    const ALL: [Fit; 6] = [
        Fit::ScaleDown,
        Fit::Contain,
        Fit::Cover,
        Fit::Crop,
        Fit::Pad,
        Fit::Squeeze,
    ];

    /// The value in the URL, e.g. `scale-down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fit::ScaleDown => "scale-down",
            Fit::Contain => "contain",
            Fit::Cover => "cover",
            Fit::Crop => "crop",
            Fit::Pad => "pad",
            Fit::Squeeze => "squeeze",
        }
    }
}

/// The output format (`format`, `f`).
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
    const ALL: [Format; 6] = [
        Format::Auto,
        Format::Avif,
        Format::Webp,
        Format::Jpeg,
        Format::BaselineJpeg,
        Format::Json,
    ];

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

/// Which part of the image to keep when cropping (`gravity`, `g`).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Gravity {
    /// Chosen from the image content (`auto`).
    Auto,
    /// Centred on detected faces (`face`); see [`TransformOptions::zoom`].
    Face,
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

/// Clockwise rotation (`rotate`).
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

impl Rotate {
    /// The value in the URL, e.g. `90`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rotate::Deg90 => "90",
            Rotate::Deg180 => "180",
            Rotate::Deg270 => "270",
        }
    }
}

/// Which metadata (EXIF) a JPEG output keeps (`metadata`).
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

/// Mirroring (`flip`), applied before rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Flip {
    /// Horizontally (`h`).
    Horizontal,
    /// Vertically (`v`).
    Vertical,
    /// Both (`hv`).
    Both,
}

impl Flip {
    /// The value in the URL, e.g. `hv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Flip::Horizontal => "h",
            Flip::Vertical => "v",
            Flip::Both => "hv",
        }
    }
}

/// A named perceptual quality level (`quality=medium-high`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QualityLevel {
    /// `high`.
    High,
    /// `medium-high`.
    MediumHigh,
    /// `medium-low`.
    MediumLow,
    /// `low`.
    Low,
}

impl QualityLevel {
    const ALL: [QualityLevel; 4] = [
        QualityLevel::High,
        QualityLevel::MediumHigh,
        QualityLevel::MediumLow,
        QualityLevel::Low,
    ];

    /// The value in the URL, e.g. `medium-high`.
    pub fn as_str(self) -> &'static str {
        match self {
            QualityLevel::High => "high",
            QualityLevel::MediumHigh => "medium-high",
            QualityLevel::MediumLow => "medium-low",
            QualityLevel::Low => "low",
        }
    }
}

/// Output quality: a number from 1 to 100 or a perceptual level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quality {
    /// 1 (smallest) to 100 (best).
    Fixed(u8),
    /// A perceptual level.
    Level(QualityLevel),
}

impl Quality {
    fn render(self) -> String {
        match self {
            Quality::Fixed(q) => q.to_string(),
            Quality::Level(level) => level.as_str().to_string(),
        }
    }
}

/// The output width: pixels, or `auto` (chosen from the browser's client hints).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    /// 1 to [`MAX_DIMENSION`] pixels.
    Pixels(u32),
    /// `auto`.
    Auto,
}

/// A colour for `background` and `trim.border.color`.
///
/// Cloudflare accepts any CSS colour; this type keeps the forms that fit in a
/// URL option without escaping a separator: hex (rendered `#rrggbb` or
/// `#rrggbbaa`, `%23...` on the wire) and CSS colour names. The parser also
/// accepts `rgb(r,g,b)` and `rgba(r,g,b,a)`, which it turns into hex.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Color {
    /// An opaque colour.
    Rgb {
        /// Red.
        r: u8,
        /// Green.
        g: u8,
        /// Blue.
        b: u8,
    },
    /// A colour with an alpha channel (0 transparent, 255 opaque).
    Rgba {
        /// Red.
        r: u8,
        /// Green.
        g: u8,
        /// Blue.
        b: u8,
        /// Alpha.
        a: u8,
    },
    /// A CSS colour name such as `red` or `transparent` (stored lowercase).
    Named(String),
}

impl Color {
    /// A CSS colour name: 1 to 32 ASCII letters (case-insensitive).
    pub fn named(name: &str) -> std::result::Result<Color, UrlError> {
        if name.is_empty() || name.len() > 32 || !name.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(UrlError::invalid_value(
                "color",
                name,
                "a CSS colour name of ASCII letters, #rgb, #rrggbb, #rrggbbaa, rgb() or rgba()",
            ));
        }
        Ok(Color::Named(name.to_ascii_lowercase()))
    }

    fn render(&self) -> String {
        match self {
            Color::Rgb { r, g, b } => format!("#{r:02x}{g:02x}{b:02x}"),
            Color::Rgba { r, g, b, a } => format!("#{r:02x}{g:02x}{b:02x}{a:02x}"),
            Color::Named(name) => name.clone(),
        }
    }

    fn parse(option: &str, value: &str) -> std::result::Result<Color, UrlError> {
        let bad = || {
            UrlError::invalid_value(
                option,
                value,
                "a CSS colour name, #rgb, #rrggbb, #rrggbbaa, rgb() or rgba()",
            )
        };
        if let Some(hex) = value.strip_prefix('#') {
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            let digit = |i: usize| u8::from_str_radix(&hex[i..=i], 16).map_err(|_| bad());
            let pair = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
            return match hex.len() {
                3 | 4 => {
                    let r = digit(0)? * 17;
                    let g = digit(1)? * 17;
                    let b = digit(2)? * 17;
                    if hex.len() == 3 {
                        Ok(Color::Rgb { r, g, b })
                    } else {
                        Ok(Color::Rgba {
                            r,
                            g,
                            b,
                            a: digit(3)? * 17,
                        })
                    }
                }
                6 => Ok(Color::Rgb {
                    r: pair(0)?,
                    g: pair(2)?,
                    b: pair(4)?,
                }),
                8 => Ok(Color::Rgba {
                    r: pair(0)?,
                    g: pair(2)?,
                    b: pair(4)?,
                    a: pair(6)?,
                }),
                _ => Err(bad()),
            };
        }
        let function = value
            .strip_prefix("rgba(")
            .or_else(|| value.strip_prefix("rgb("));
        if let Some(inner) = function {
            let inner = inner.strip_suffix(')').ok_or_else(bad)?;
            let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
            let channel = |s: &str| s.parse::<u8>().map_err(|_| bad());
            return match parts.as_slice() {
                [r, g, b] => Ok(Color::Rgb {
                    r: channel(r)?,
                    g: channel(g)?,
                    b: channel(b)?,
                }),
                [r, g, b, a] => {
                    let alpha: f64 = a.parse().map_err(|_| bad())?;
                    if !(0.0..=1.0).contains(&alpha) {
                        return Err(bad());
                    }
                    // Within 0..=255 by the check above.
                    let a = (alpha * 255.0).round() as u8;
                    Ok(Color::Rgba {
                        r: channel(r)?,
                        g: channel(g)?,
                        b: channel(b)?,
                        a,
                    })
                }
                _ => Err(bad()),
            };
        }
        Color::named(value).map_err(|_| bad())
    }
}

/// A border (`border`). Cloudflare documents it for Workers only: there is no URL
/// syntax for it, so [`TransformOptions::border`] records
/// [`UrlError::NotInUrls`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Border {
    /// The border's colour.
    pub color: Color,
    /// The width on every side, in pixels.
    pub width: u32,
}

/// Trimming (`trim`), performed before resizing.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Trim {
    /// Pixels removed from each side: `trim=top;right;bottom;left`.
    Sides {
        /// From the top.
        top: f64,
        /// From the right.
        right: f64,
        /// From the bottom.
        bottom: f64,
        /// From the left.
        left: f64,
    },
    /// A rectangle kept: `trim.top`, `trim.left`, `trim.width`, `trim.height`
    /// (each optional, at least one).
    Rect {
        /// Pixels removed from the top.
        top: Option<f64>,
        /// Pixels removed from the left.
        left: Option<f64>,
        /// Width kept from the left edge.
        width: Option<f64>,
        /// Height kept from the top edge.
        height: Option<f64>,
    },
    /// The border detected by colour: `trim=border` with `trim.border.color`,
    /// `trim.border.tolerance` and `trim.border.keep`.
    Border {
        /// The border colour; detected when `None`.
        color: Option<Color>,
        /// How closely pixels must match, 0 (not at all) to 255 (exactly).
        tolerance: Option<u8>,
        /// Pixels of the border to keep.
        keep: Option<u32>,
    },
}

/// One transformation option with its typed value.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TransformOption {
    /// `anim`.
    Anim(bool),
    /// `background`.
    Background(Color),
    /// `blur`.
    Blur(f64),
    /// `brightness`.
    Brightness(f64),
    /// `compression=fast`.
    CompressionFast,
    /// `contrast`.
    Contrast(f64),
    /// `dpr`.
    Dpr(f64),
    /// `fit`.
    Fit(Fit),
    /// `flip`.
    Flip(Flip),
    /// `format` (`f`).
    Format(Format),
    /// `gamma`.
    Gamma(f64),
    /// `gravity` (`g`).
    Gravity(Gravity),
    /// `height` (`h`).
    Height(u32),
    /// `metadata`.
    Metadata(MetadataPolicy),
    /// `onerror=redirect`.
    OnErrorRedirect,
    /// `quality` (`q`).
    Quality(Quality),
    /// `rotate`.
    Rotate(Rotate),
    /// `saturation`.
    Saturation(f64),
    /// `segment=foreground`.
    SegmentForeground,
    /// `sharpen`.
    Sharpen(f64),
    /// `slow-connection-quality` (`scq`).
    SlowConnectionQuality(Quality),
    /// `trim` and `trim.*`.
    Trim(Trim),
    /// `width` (`w`).
    Width(Width),
    /// `zoom` (`face-zoom`).
    Zoom(f64),
    /// An option this type does not model, from [`TransformOptions::option`].
    Other {
        /// The name.
        key: String,
        /// The value.
        value: String,
    },
}

/// Renders a float without a trailing `.0` (`3`, `0.5`); Rust's shortest
/// round-trip form, so parsing gives the same value back.
fn float(value: f64) -> String {
    format!("{value}")
}

impl TransformOption {
    /// The name this SDK writes (the short `w`, `h`, `q` as before; other options
    /// in full). Setting an option again replaces the entry with the same name.
    pub fn key(&self) -> &str {
        match self {
            TransformOption::Anim(_) => "anim",
            TransformOption::Background(_) => "background",
            TransformOption::Blur(_) => "blur",
            TransformOption::Brightness(_) => "brightness",
            TransformOption::CompressionFast => "compression",
            TransformOption::Contrast(_) => "contrast",
            TransformOption::Dpr(_) => "dpr",
            TransformOption::Fit(_) => "fit",
            TransformOption::Flip(_) => "flip",
            TransformOption::Format(_) => "format",
            TransformOption::Gamma(_) => "gamma",
            TransformOption::Gravity(_) => "gravity",
            TransformOption::Height(_) => "h",
            TransformOption::Metadata(_) => "metadata",
            TransformOption::OnErrorRedirect => "onerror",
            TransformOption::Quality(_) => "q",
            TransformOption::Rotate(_) => "rotate",
            TransformOption::Saturation(_) => "saturation",
            TransformOption::SegmentForeground => "segment",
            TransformOption::Sharpen(_) => "sharpen",
            TransformOption::SlowConnectionQuality(_) => "slow-connection-quality",
            TransformOption::Trim(_) => "trim",
            TransformOption::Width(_) => "w",
            TransformOption::Zoom(_) => "zoom",
            TransformOption::Other { key, .. } => key,
        }
    }

    /// The `name=value` pairs in the URL (several for some trims), unescaped.
    fn pairs(&self) -> Vec<(String, String)> {
        let one = |v: String| vec![(self.key().to_string(), v)];
        match self {
            TransformOption::Anim(keep) => one(keep.to_string()),
            TransformOption::Background(c) => one(c.render()),
            TransformOption::Blur(v)
            | TransformOption::Brightness(v)
            | TransformOption::Contrast(v)
            | TransformOption::Dpr(v)
            | TransformOption::Gamma(v)
            | TransformOption::Saturation(v)
            | TransformOption::Sharpen(v)
            | TransformOption::Zoom(v) => one(float(*v)),
            TransformOption::CompressionFast => one("fast".into()),
            TransformOption::Fit(fit) => one(fit.as_str().into()),
            TransformOption::Flip(flip) => one(flip.as_str().into()),
            TransformOption::Format(format) => one(format.as_str().into()),
            TransformOption::Gravity(g) => one(match g {
                Gravity::Auto => "auto".into(),
                Gravity::Face => "face".into(),
                Gravity::Left => "left".into(),
                Gravity::Right => "right".into(),
                Gravity::Top => "top".into(),
                Gravity::Bottom => "bottom".into(),
                Gravity::Point { x, y } => format!("{}x{}", float(*x), float(*y)),
            }),
            TransformOption::Height(h) => one(h.to_string()),
            TransformOption::Metadata(m) => one(m.as_str().into()),
            TransformOption::OnErrorRedirect => one("redirect".into()),
            TransformOption::Quality(q) | TransformOption::SlowConnectionQuality(q) => {
                one(q.render())
            }
            TransformOption::Rotate(r) => one(r.as_str().into()),
            TransformOption::SegmentForeground => one("foreground".into()),
            TransformOption::Width(Width::Pixels(w)) => one(w.to_string()),
            TransformOption::Width(Width::Auto) => one("auto".into()),
            TransformOption::Other { value, .. } => one(value.clone()),
            TransformOption::Trim(trim) => match trim {
                Trim::Sides {
                    top,
                    right,
                    bottom,
                    left,
                } => one(format!(
                    "{};{};{};{}",
                    float(*top),
                    float(*right),
                    float(*bottom),
                    float(*left)
                )),
                Trim::Rect {
                    top,
                    left,
                    width,
                    height,
                } => [
                    ("trim.top", top),
                    ("trim.left", left),
                    ("trim.width", width),
                    ("trim.height", height),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), float(v))))
                .collect(),
                Trim::Border {
                    color,
                    tolerance,
                    keep,
                } => {
                    let mut pairs = vec![("trim".to_string(), "border".to_string())];
                    if let Some(c) = color {
                        pairs.push(("trim.border.color".into(), c.render()));
                    }
                    if let Some(t) = tolerance {
                        pairs.push(("trim.border.tolerance".into(), t.to_string()));
                    }
                    if let Some(k) = keep {
                        pairs.push(("trim.border.keep".into(), k.to_string()));
                    }
                    pairs
                }
            },
        }
    }
}

/// Transformation options, for a hosted image's flexible variant
/// (`https://imagedelivery.net/<hash>/<id>/w=400,sharpen=3`) and for
/// transformations on a zone (`/cdn-cgi/image/<options>/<source>`), which take
/// the same syntax.
///
/// Rendered as `name=value` pairs joined by `,` in the order the options were
/// first set; setting an option again replaces its value in place. Two sets of
/// options are equal when they hold the same options in the same order.
///
/// Setters never fail; an invalid value (quality 0, a negative blur, a NaN) is
/// remembered, and the first one is reported as a [`UrlError`] by
/// [`check`](Self::check) or as an
/// [`InvalidInput`](crate::ErrorKind::InvalidInput) error when a URL is built
/// ([`DeliveryUrl::new`](super::DeliveryUrl::new),
/// [`TransformUrl::new`](super::TransformUrl::new)) or by [`render`](Self::render).
/// [`parse`](Self::parse) reads the options back, accepting the long and short
/// names Cloudflare accepts (`width`/`w`, `quality`/`q`, `format`/`f`, ...).
///
/// ```
/// use cloudflare_images::delivery::{Fit, Gravity, TransformOptions, UrlError};
/// let o = TransformOptions::new().width(400).height(300).fit(Fit::Cover).quality(80);
/// assert_eq!(o.render().unwrap(), "w=400,h=300,fit=cover,q=80");
/// assert_eq!(TransformOptions::parse("width=400,h=300,fit=cover,quality=80"), Ok(o));
///
/// let e = TransformOptions::new().quality(0).check().unwrap_err();
/// assert_eq!(
///     e,
///     UrlError::OutOfRange { option: "q", range: "between 1 and 100", value: "0".into() }
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TransformOptions {
    entries: Vec<TransformOption>,
    // The rendered pairs of `entries`, kept so that `iter` can lend them.
    pairs: Vec<(String, String)>,
    error: Option<UrlError>,
}

const FLOAT_0_10: &str = "between 0 and 10";

impl TransformOptions {
    /// No options yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn refresh(&mut self) {
        self.pairs = self
            .entries
            .iter()
            .flat_map(TransformOption::pairs)
            .collect();
    }

    /// Adds `option`, replacing the entry with the same [`key`](TransformOption::key)
    /// in place.
    pub fn set(mut self, option: TransformOption) -> Self {
        match self.entries.iter_mut().find(|e| e.key() == option.key()) {
            Some(entry) => *entry = option,
            None => self.entries.push(option),
        }
        self.refresh();
        self
    }

    fn fail(mut self, error: UrlError) -> Self {
        if self.error.is_none() {
            self.error = Some(error);
        }
        self
    }

    fn checked(self, result: std::result::Result<TransformOption, UrlError>) -> Self {
        match result {
            Ok(option) => self.set(option),
            Err(e) => self.fail(e),
        }
    }

    /// Width in pixels, 1 to 12,000 (`w`).
    pub fn width(self, pixels: u32) -> Self {
        let r = dimension("w", pixels).map(|w| TransformOption::Width(Width::Pixels(w)));
        self.checked(r)
    }

    /// Width chosen by Cloudflare from the browser's client hints (`w=auto`;
    /// Chromium browsers only).
    pub fn width_auto(self) -> Self {
        self.set(TransformOption::Width(Width::Auto))
    }

    /// Height in pixels, 1 to 12,000 (`h`).
    pub fn height(self, pixels: u32) -> Self {
        let r = dimension("h", pixels).map(TransformOption::Height);
        self.checked(r)
    }

    /// How the image fits `width` × `height` (`fit`).
    pub fn fit(self, fit: Fit) -> Self {
        self.set(TransformOption::Fit(fit))
    }

    /// Quality for lossy formats, 1 to 100 (`q`).
    pub fn quality(self, quality: u8) -> Self {
        let r = fixed_quality("q", quality).map(TransformOption::Quality);
        self.checked(r)
    }

    /// A perceptual quality level (`q=medium-high`).
    pub fn quality_level(self, level: QualityLevel) -> Self {
        self.set(TransformOption::Quality(Quality::Level(level)))
    }

    /// Quality on slow connections, 1 to 100 (`slow-connection-quality`).
    pub fn slow_connection_quality(self, quality: u8) -> Self {
        let r = fixed_quality("slow-connection-quality", quality)
            .map(TransformOption::SlowConnectionQuality);
        self.checked(r)
    }

    /// A perceptual quality level on slow connections (`slow-connection-quality=low`).
    pub fn slow_connection_quality_level(self, level: QualityLevel) -> Self {
        self.set(TransformOption::SlowConnectionQuality(Quality::Level(
            level,
        )))
    }

    /// Output format (`format`).
    pub fn format(self, format: Format) -> Self {
        self.set(TransformOption::Format(format))
    }

    /// Sharpening strength, 0 to 10 (`sharpen`).
    pub fn sharpen(self, strength: f64) -> Self {
        let r = ranged("sharpen", strength, 0.0, 10.0, FLOAT_0_10).map(TransformOption::Sharpen);
        self.checked(r)
    }

    /// Blur radius, 1 to 250 (`blur`). Cloudflare also takes 0, which means no
    /// blur: leave the option out instead.
    pub fn blur(self, radius: f64) -> Self {
        let r = ranged("blur", radius, 1.0, 250.0, "between 1 and 250").map(TransformOption::Blur);
        self.checked(r)
    }

    /// Device pixel ratio multiplying width and height, above 0 and at most 2,
    /// Cloudflare's documented maximum (`dpr`).
    pub fn dpr(self, ratio: f64) -> Self {
        self.checked(dpr(ratio))
    }

    /// What to keep when cropping (`gravity`).
    pub fn gravity(self, gravity: Gravity) -> Self {
        self.checked(check_gravity(gravity))
    }

    /// How closely `gravity=face` crops to the faces, 0 to 1 (`zoom`).
    pub fn zoom(self, zoom: f64) -> Self {
        let r = ranged("zoom", zoom, 0.0, 1.0, "between 0 and 1").map(TransformOption::Zoom);
        self.checked(r)
    }

    /// Clockwise rotation (`rotate`).
    pub fn rotate(self, rotate: Rotate) -> Self {
        self.set(TransformOption::Rotate(rotate))
    }

    /// Mirroring, before rotation (`flip`).
    pub fn flip(self, flip: Flip) -> Self {
        self.set(TransformOption::Flip(flip))
    }

    /// Which metadata to keep (`metadata`).
    pub fn metadata(self, policy: MetadataPolicy) -> Self {
        self.set(TransformOption::Metadata(policy))
    }

    /// Whether animations are kept (`anim=true`) or only the first frame (`anim=false`).
    pub fn anim(self, keep: bool) -> Self {
        self.set(TransformOption::Anim(keep))
    }

    /// Brightness factor, 0 to 10; 1 leaves it unchanged (`brightness`).
    ///
    /// Cloudflare documents no maximum for brightness, contrast, gamma and
    /// saturation; 10 keeps the values meaningful.
    pub fn brightness(self, factor: f64) -> Self {
        let r =
            ranged("brightness", factor, 0.0, 10.0, FLOAT_0_10).map(TransformOption::Brightness);
        self.checked(r)
    }

    /// Contrast factor, 0 to 10; 1 leaves it unchanged (`contrast`).
    pub fn contrast(self, factor: f64) -> Self {
        let r = ranged("contrast", factor, 0.0, 10.0, FLOAT_0_10).map(TransformOption::Contrast);
        self.checked(r)
    }

    /// Gamma, 0 to 10; 1 leaves it unchanged (`gamma`).
    pub fn gamma(self, gamma: f64) -> Self {
        let r = ranged("gamma", gamma, 0.0, 10.0, FLOAT_0_10).map(TransformOption::Gamma);
        self.checked(r)
    }

    /// Saturation factor, 0 (greyscale) to 10; 1 leaves it unchanged (`saturation`).
    pub fn saturation(self, factor: f64) -> Self {
        let r =
            ranged("saturation", factor, 0.0, 10.0, FLOAT_0_10).map(TransformOption::Saturation);
        self.checked(r)
    }

    /// Colour under transparent pixels and `fit=pad`'s padding (`background`).
    pub fn background(self, color: Color) -> Self {
        self.set(TransformOption::Background(color))
    }

    /// Encoding speed over size (`compression=fast`).
    pub fn compression_fast(self) -> Self {
        self.set(TransformOption::CompressionFast)
    }

    /// Redirect to the source image when it cannot be transformed
    /// (`onerror=redirect`); transformations on a zone only, refused for hosted images.
    pub fn onerror_redirect(self) -> Self {
        self.set(TransformOption::OnErrorRedirect)
    }

    /// Replace the background with transparency (`segment=foreground`).
    pub fn segment_foreground(self) -> Self {
        self.set(TransformOption::SegmentForeground)
    }

    /// Trimming before resizing (`trim`, `trim.*`); pixel counts must be finite
    /// and not negative, and a [`Trim::Rect`] sets at least one side.
    pub fn trim(self, trim: Trim) -> Self {
        self.checked(check_trim(trim))
    }

    /// A border: Cloudflare offers it to Workers only, with no URL syntax, so
    /// this records [`UrlError::NotInUrls`] and no URL is built.
    pub fn border(self, _border: Border) -> Self {
        self.fail(UrlError::NotInUrls { option: "border" })
    }

    /// Any option by its URL name and value, as the parser reads it: a name this
    /// type models is checked as its setter checks it (`option("w", "400")`),
    /// and any other name is kept as it is, for options Cloudflare adds later.
    ///
    /// An unmodelled name is lowercase ASCII letters, digits, `-` or `.`,
    /// starting with a letter; its value is non-empty ASCII letters, digits, `.`,
    /// `-`, `_`, `:` or `;` (so it needs no escaping in the URL).
    pub fn option(self, key: &str, value: &str) -> Self {
        if is_known(key) {
            return match apply(self.clone(), key, value) {
                Ok(options) => options,
                Err(e) => self.fail(e),
            };
        }
        let key_ok = key.starts_with(|c: char| c.is_ascii_lowercase())
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !key_ok {
            return self.fail(UrlError::InvalidOptionName {
                name: key.to_string(),
            });
        }
        let value_ok = !value.is_empty()
            && value.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b';')
            });
        if !value_ok {
            return self.fail(UrlError::invalid_value(
                key,
                value,
                "ASCII letters, digits, '.', '-', '_', ':' or ';'",
            ));
        }
        self.set(TransformOption::Other {
            key: key.to_string(),
            value: value.to_string(),
        })
    }

    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The typed options, in order.
    pub fn options(&self) -> &[TransformOption] {
        &self.entries
    }

    /// The options as unescaped `name=value` pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The first invalid value set, or [`UrlError::NoOptions`] if no option is set.
    pub fn check(&self) -> std::result::Result<(), UrlError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.entries.is_empty() {
            return Err(UrlError::NoOptions);
        }
        Ok(())
    }

    /// The options segment, unescaped, e.g. `w=400,sharpen=3`; an error if a
    /// value was invalid or no option is set.
    pub fn render(&self) -> Result<String> {
        self.check()?;
        Ok(self.unchecked_render())
    }

    pub(crate) fn unchecked_render(&self) -> String {
        self.pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads an options segment as it appears in a URL (`width=400,f=avif`,
    /// percent-escapes allowed: `background=%23ff0000`), accepting Cloudflare's
    /// long and short option names in any order. A name given twice keeps the
    /// last value, at the place of the first. Unknown names are refused.
    pub fn parse(segment: &str) -> std::result::Result<Self, UrlError> {
        parse_segment(segment, false)
    }
}

impl std::str::FromStr for TransformOptions {
    type Err = UrlError;

    fn from_str(s: &str) -> std::result::Result<Self, UrlError> {
        TransformOptions::parse(s)
    }
}

pub(crate) fn parse_segment(
    segment: &str,
    keep_unknown: bool,
) -> std::result::Result<TransformOptions, UrlError> {
    if segment.is_empty() {
        return Err(UrlError::NoOptions);
    }
    let mut options = TransformOptions::new();
    for part in segment.split(',') {
        let (raw_key, raw_value) = part
            .split_once('=')
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .ok_or_else(|| UrlError::MalformedOption {
                part: part.to_string(),
            })?;
        let key = decode(raw_key)?;
        let value = decode(raw_value)?;
        if is_known(&key) {
            options = apply(options, &key, &value)?;
        } else if keep_unknown {
            options = options.option(&key, &value);
        } else {
            return Err(UrlError::UnknownOption { name: key });
        }
    }
    options.check()?;
    Ok(options)
}

fn decode(raw: &str) -> std::result::Result<String, UrlError> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| UrlError::invalid_url(format!("{raw:?} is not UTF-8 once decoded")))
}

const KNOWN: &[&str] = &[
    "anim",
    "background",
    "blur",
    "brightness",
    "compression",
    "contrast",
    "dpr",
    "fit",
    "flip",
    "format",
    "f",
    "gamma",
    "gravity",
    "g",
    "height",
    "h",
    "metadata",
    "onerror",
    "quality",
    "q",
    "rotate",
    "saturation",
    "segment",
    "sharpen",
    "slow-connection-quality",
    "scq",
    "trim",
    "trim.top",
    "trim.left",
    "trim.width",
    "trim.height",
    "trim.border.color",
    "trim.border.tolerance",
    "trim.border.keep",
    "width",
    "w",
    "zoom",
    "face-zoom",
    "border",
];

fn is_known(key: &str) -> bool {
    KNOWN.contains(&key)
}

fn dimension(key: &'static str, value: u32) -> std::result::Result<u32, UrlError> {
    if (1..=MAX_DIMENSION).contains(&value) {
        Ok(value)
    } else {
        Err(UrlError::out_of_range(key, "between 1 and 12000", value))
    }
}

fn fixed_quality(key: &'static str, value: u8) -> std::result::Result<Quality, UrlError> {
    if (1..=100).contains(&value) {
        Ok(Quality::Fixed(value))
    } else {
        Err(UrlError::out_of_range(key, "between 1 and 100", value))
    }
}

fn ranged(
    key: &'static str,
    value: f64,
    min: f64,
    max: f64,
    range: &'static str,
) -> std::result::Result<f64, UrlError> {
    if value.is_finite() && value >= min && value <= max {
        Ok(value)
    } else {
        Err(UrlError::out_of_range(key, range, value))
    }
}

fn dpr(ratio: f64) -> std::result::Result<TransformOption, UrlError> {
    if ratio.is_finite() && ratio > 0.0 && ratio <= 2.0 {
        Ok(TransformOption::Dpr(ratio))
    } else {
        Err(UrlError::out_of_range(
            "dpr",
            "above 0 and at most 2",
            ratio,
        ))
    }
}

fn check_gravity(gravity: Gravity) -> std::result::Result<TransformOption, UrlError> {
    if let Gravity::Point { x, y } = gravity {
        let ok = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
        if !(ok(x) && ok(y)) {
            return Err(UrlError::out_of_range(
                "gravity coordinates",
                "between 0 and 1",
                format!("{x}x{y}"),
            ));
        }
    }
    Ok(TransformOption::Gravity(gravity))
}

fn check_trim(trim: Trim) -> std::result::Result<TransformOption, UrlError> {
    let pixels = |v: f64| {
        if v.is_finite() && v >= 0.0 {
            Ok(())
        } else {
            Err(UrlError::out_of_range(
                "trim",
                "a finite number of pixels, 0 or more",
                v,
            ))
        }
    };
    match &trim {
        Trim::Sides {
            top,
            right,
            bottom,
            left,
        } => {
            for v in [top, right, bottom, left] {
                pixels(*v)?;
            }
        }
        Trim::Rect {
            top,
            left,
            width,
            height,
        } => {
            let sides = [top, left, width, height];
            if sides.iter().all(|v| v.is_none()) {
                return Err(UrlError::invalid_value(
                    "trim",
                    "",
                    "at least one of trim.top, trim.left, trim.width, trim.height",
                ));
            }
            for v in sides.into_iter().flatten() {
                pixels(*v)?;
            }
        }
        Trim::Border { .. } => {}
    }
    Ok(TransformOption::Trim(trim))
}

fn parse_float(key: &str, value: &str) -> std::result::Result<f64, UrlError> {
    value
        .parse::<f64>()
        .map_err(|_| UrlError::invalid_value(key, value, "a number"))
}

fn parse_u32(key: &str, value: &str) -> std::result::Result<u32, UrlError> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::invalid_value(key, value, "a whole number"));
    }
    value
        .parse::<u32>()
        .map_err(|_| UrlError::invalid_value(key, value, "a whole number"))
}

fn parse_quality(key: &'static str, value: &str) -> std::result::Result<Quality, UrlError> {
    if let Some(level) = QualityLevel::ALL.into_iter().find(|l| l.as_str() == value) {
        return Ok(Quality::Level(level));
    }
    let n = parse_u32(key, value).map_err(|_| {
        UrlError::invalid_value(key, value, "1 to 100, high, medium-high, medium-low or low")
    })?;
    let n = u8::try_from(n).map_err(|_| UrlError::out_of_range(key, "between 1 and 100", n))?;
    fixed_quality(key, n)
}

fn one_of<T: Copy>(
    key: &str,
    value: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
    expected: &'static str,
) -> std::result::Result<T, UrlError> {
    all.iter()
        .copied()
        .find(|v| name(*v) == value)
        .ok_or_else(|| UrlError::invalid_value(key, value, expected))
}

/// Merges a `trim.*` part into the trim already set, if any.
fn merge_trim(
    options: &TransformOptions,
    key: &str,
    value: &str,
) -> std::result::Result<Trim, UrlError> {
    let current = options.entries.iter().find_map(|e| match e {
        TransformOption::Trim(t) => Some(t.clone()),
        _ => None,
    });
    let conflict = |first: &'static str, second: &'static str| UrlError::Conflict { first, second };
    if let Some(side) = key.strip_prefix("trim.border.") {
        let (mut color, mut tolerance, mut keep) = match current {
            None => (None, None, None),
            Some(Trim::Border {
                color,
                tolerance,
                keep,
            }) => (color, tolerance, keep),
            Some(_) => return Err(conflict("trim", "trim.border")),
        };
        match side {
            "color" => color = Some(Color::parse(key, value)?),
            "tolerance" => {
                let n = parse_u32(key, value)?;
                tolerance = Some(u8::try_from(n).map_err(|_| {
                    UrlError::out_of_range("trim.border.tolerance", "between 0 and 255", n)
                })?);
            }
            _ => keep = Some(parse_u32(key, value)?),
        }
        return Ok(Trim::Border {
            color,
            tolerance,
            keep,
        });
    }
    if let Some(side) = key.strip_prefix("trim.") {
        let (mut top, mut left, mut width, mut height) = match current {
            None => (None, None, None, None),
            Some(Trim::Rect {
                top,
                left,
                width,
                height,
            }) => (top, left, width, height),
            Some(_) => return Err(conflict("trim", "trim.top/left/width/height")),
        };
        let v = Some(parse_float(key, value)?);
        match side {
            "top" => top = v,
            "left" => left = v,
            "width" => width = v,
            _ => height = v,
        }
        return Ok(Trim::Rect {
            top,
            left,
            width,
            height,
        });
    }
    // `trim=` itself.
    if value == "border" {
        return match current {
            None => Ok(Trim::Border {
                color: None,
                tolerance: None,
                keep: None,
            }),
            Some(t @ Trim::Border { .. }) => Ok(t),
            Some(_) => Err(conflict("trim=border", "trim.top/left/width/height")),
        };
    }
    if matches!(current, Some(Trim::Border { .. }) | Some(Trim::Rect { .. })) {
        return Err(conflict("trim=top;right;bottom;left", "trim.*"));
    }
    let sides: Vec<&str> = value.split(';').collect();
    let [top, right, bottom, left] = sides.as_slice() else {
        return Err(UrlError::invalid_value(
            "trim",
            value,
            "border or top;right;bottom;left",
        ));
    };
    Ok(Trim::Sides {
        top: parse_float("trim", top)?,
        right: parse_float("trim", right)?,
        bottom: parse_float("trim", bottom)?,
        left: parse_float("trim", left)?,
    })
}

/// Applies one decoded `key=value` of a known option, checked as its setter
/// checks it.
fn apply(
    options: TransformOptions,
    key: &str,
    value: &str,
) -> std::result::Result<TransformOptions, UrlError> {
    let option = match key {
        "anim" => match value {
            "true" => TransformOption::Anim(true),
            "false" => TransformOption::Anim(false),
            _ => return Err(UrlError::invalid_value(key, value, "true or false")),
        },
        "background" => TransformOption::Background(Color::parse(key, value)?),
        "blur" => TransformOption::Blur(ranged(
            "blur",
            parse_float(key, value)?,
            1.0,
            250.0,
            "between 1 and 250",
        )?),
        "brightness" => TransformOption::Brightness(ranged(
            "brightness",
            parse_float(key, value)?,
            0.0,
            10.0,
            FLOAT_0_10,
        )?),
        "contrast" => TransformOption::Contrast(ranged(
            "contrast",
            parse_float(key, value)?,
            0.0,
            10.0,
            FLOAT_0_10,
        )?),
        "gamma" => TransformOption::Gamma(ranged(
            "gamma",
            parse_float(key, value)?,
            0.0,
            10.0,
            FLOAT_0_10,
        )?),
        "saturation" => TransformOption::Saturation(ranged(
            "saturation",
            parse_float(key, value)?,
            0.0,
            10.0,
            FLOAT_0_10,
        )?),
        "sharpen" => TransformOption::Sharpen(ranged(
            "sharpen",
            parse_float(key, value)?,
            0.0,
            10.0,
            FLOAT_0_10,
        )?),
        "zoom" | "face-zoom" => TransformOption::Zoom(ranged(
            "zoom",
            parse_float(key, value)?,
            0.0,
            1.0,
            "between 0 and 1",
        )?),
        "dpr" => dpr(parse_float(key, value)?)?,
        "compression" => match value {
            "fast" => TransformOption::CompressionFast,
            _ => return Err(UrlError::invalid_value(key, value, "fast")),
        },
        "onerror" => match value {
            "redirect" => TransformOption::OnErrorRedirect,
            _ => return Err(UrlError::invalid_value(key, value, "redirect")),
        },
        "segment" => match value {
            "foreground" => TransformOption::SegmentForeground,
            _ => return Err(UrlError::invalid_value(key, value, "foreground")),
        },
        "fit" => TransformOption::Fit(one_of(
            key,
            value,
            &Fit::ALL,
            Fit::as_str,
            "scale-down, contain, cover, crop, pad or squeeze",
        )?),
        "flip" => TransformOption::Flip(one_of(
            key,
            value,
            &[Flip::Horizontal, Flip::Vertical, Flip::Both],
            Flip::as_str,
            "h, v or hv",
        )?),
        "format" | "f" => TransformOption::Format(one_of(
            key,
            value,
            &Format::ALL,
            Format::as_str,
            "auto, avif, webp, jpeg, baseline-jpeg or json",
        )?),
        "metadata" => TransformOption::Metadata(one_of(
            key,
            value,
            &[
                MetadataPolicy::Keep,
                MetadataPolicy::Copyright,
                MetadataPolicy::None,
            ],
            MetadataPolicy::as_str,
            "keep, copyright or none",
        )?),
        "rotate" => TransformOption::Rotate(one_of(
            key,
            value,
            &[Rotate::Deg90, Rotate::Deg180, Rotate::Deg270],
            Rotate::as_str,
            "90, 180 or 270",
        )?),
        "gravity" | "g" => {
            let gravity = match value {
                "auto" => Gravity::Auto,
                "face" => Gravity::Face,
                "left" => Gravity::Left,
                "right" => Gravity::Right,
                "top" => Gravity::Top,
                "bottom" => Gravity::Bottom,
                _ => {
                    let (x, y) = value.split_once('x').ok_or_else(|| {
                        UrlError::invalid_value(
                            key,
                            value,
                            "auto, face, left, right, top, bottom or XxY",
                        )
                    })?;
                    Gravity::Point {
                        x: parse_float(key, x)?,
                        y: parse_float(key, y)?,
                    }
                }
            };
            check_gravity(gravity)?
        }
        "height" | "h" => TransformOption::Height(dimension("h", parse_u32(key, value)?)?),
        "width" | "w" => {
            if value == "auto" {
                TransformOption::Width(Width::Auto)
            } else {
                TransformOption::Width(Width::Pixels(dimension("w", parse_u32(key, value)?)?))
            }
        }
        "quality" | "q" => TransformOption::Quality(parse_quality("q", value)?),
        "slow-connection-quality" | "scq" => {
            TransformOption::SlowConnectionQuality(parse_quality("slow-connection-quality", value)?)
        }
        "border" => return Err(UrlError::NotInUrls { option: "border" }),
        _ => check_trim(merge_trim(&options, key, value)?)?,
    };
    Ok(options.set(option))
}
