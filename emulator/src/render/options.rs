//! What a named variant or flexible-variant options ask for, and the output format a
//! client gets.

use super::*;

/// How the image fits the width x height box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    ScaleDown,
    Contain,
    Cover,
    Crop,
    Pad,
    Squeeze,
}

impl Fit {
    fn parse(text: &str) -> Option<Fit> {
        Some(match text {
            "scale-down" => Fit::ScaleDown,
            "contain" => Fit::Contain,
            "cover" => Fit::Cover,
            "crop" => Fit::Crop,
            "pad" => Fit::Pad,
            "squeeze" => Fit::Squeeze,
            _ => return None,
        })
    }
}

/// Which EXIF metadata a JPEG output keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Metadata {
    Keep,
    Copyright,
    None,
}

impl Metadata {
    fn parse(text: &str) -> Option<Metadata> {
        Some(match text {
            "keep" => Metadata::Keep,
            "copyright" => Metadata::Copyright,
            "none" => Metadata::None,
            _ => return None,
        })
    }
}

/// The `format=` option of a flexible variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormatOption {
    /// Decided from `Accept` (also what `avif` falls back to: no AVIF encoder is built).
    Auto,
    Webp,
    Jpeg,
}

/// An encoded output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Output {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl Output {
    pub fn mime(self) -> &'static str {
        match self {
            Output::Png => "image/png",
            Output::Jpeg => "image/jpeg",
            Output::Gif => "image/gif",
            Output::Webp => "image/webp",
        }
    }
}

/// What one delivery asks for, from a named variant or flexible options.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Options {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: Fit,
    pub metadata: Metadata,
    pub quality: Option<u8>,
    pub format: FormatOption,
    /// `anim=false`: an animated GIF becomes its first frame.
    pub animate: bool,
}

impl Options {
    /// The options of a named variant.
    pub fn from_variant(v: &Variant) -> Options {
        Options {
            width: Some(v.width).filter(|w| *w > 0),
            height: Some(v.height).filter(|h| *h > 0),
            fit: Fit::parse(&v.fit).unwrap_or(Fit::ScaleDown),
            metadata: Metadata::parse(&v.metadata).unwrap_or(Metadata::None),
            quality: None,
            format: FormatOption::Auto,
            animate: true,
        }
    }

    /// Parses flexible-variant options (`w=100,h=50,fit=cover`). Options that are not
    /// emulated (`sharpen`, `blur`, `gravity`, `rotate`, `background`, ...) are accepted and
    /// ignored; a malformed pair or a bad value of an emulated option is an error message.
    pub fn parse_flexible(text: &str) -> Result<Options, String> {
        let mut o = Options {
            width: None,
            height: None,
            fit: Fit::ScaleDown,
            // Cloudflare's default for flexible variants.
            metadata: Metadata::Copyright,
            quality: None,
            format: FormatOption::Auto,
            animate: true,
        };
        let mut dpr: Option<f64> = None;
        for part in text.split(',').filter(|p| !p.is_empty()) {
            let Some((key, value)) = part.split_once('=') else {
                return Err(format!("option {part:?} is not key=value"));
            };
            let bad = || format!("invalid value for {key}: {value:?}");
            match key {
                "w" | "width" => o.width = Some(parse_side(value).ok_or_else(bad)?),
                "h" | "height" => o.height = Some(parse_side(value).ok_or_else(bad)?),
                "fit" => o.fit = Fit::parse(value).ok_or_else(bad)?,
                "metadata" => o.metadata = Metadata::parse(value).ok_or_else(bad)?,
                "q" | "quality" => {
                    o.quality = Some(
                        value
                            .parse::<u8>()
                            .ok()
                            .filter(|q| (1..=100).contains(q))
                            .ok_or_else(bad)?,
                    )
                }
                "format" | "f" => {
                    o.format = match value {
                        "auto" | "avif" => FormatOption::Auto,
                        "webp" => FormatOption::Webp,
                        "jpeg" | "baseline-jpeg" => FormatOption::Jpeg,
                        "json" => return Err("format=json is not emulated".into()),
                        _ => return Err(bad()),
                    }
                }
                "anim" => {
                    o.animate = match value {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad()),
                    }
                }
                "dpr" => {
                    dpr = Some(
                        value
                            .parse::<f64>()
                            .ok()
                            .filter(|d| d.is_finite() && *d > 0.0 && *d <= 10.0)
                            .ok_or_else(bad)?,
                    )
                }
                _ => {}
            }
        }
        if let Some(dpr) = dpr {
            // Bounded above by MAX_SIDE, so the cast back is exact.
            let scale = |side: u32| {
                (f64::from(side) * dpr)
                    .round()
                    .clamp(1.0, f64::from(MAX_SIDE)) as u32
            };
            o.width = o.width.map(scale);
            o.height = o.height.map(scale);
        }
        Ok(o)
    }

    /// A stable text for the cache key: two requests with equal keys render equal bytes.
    pub(super) fn key(&self) -> String {
        format!(
            "{:?},{:?},{:?},{:?},{:?},{}",
            self.width, self.height, self.fit, self.metadata, self.quality, self.animate
        )
    }
}

fn parse_side(value: &str) -> Option<u32> {
    value
        .parse::<u32>()
        .ok()
        .filter(|v| (1..=MAX_SIDE).contains(v))
}

/// Whether an `Accept` header admits WebP (`image/webp` listed with a non-zero `q`).
pub(crate) fn accepts_webp(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f64>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        media.eq_ignore_ascii_case("image/webp") && !refused
    })
}

/// The stored formats the emulator renders; anything else (SVG, HEIC, AVIF) is served as
/// stored.
pub(crate) fn renderable(mime: &str) -> Option<ImageFormat> {
    match mime {
        "image/png" => Some(ImageFormat::Png),
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/gif" => Some(ImageFormat::Gif),
        "image/webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

/// The output format: `format=` first, else WebP if the client accepts it, else the source
/// format. Animations stay GIF (no animated WebP encoder is built).
pub(crate) fn choose_output(
    source: ImageFormat,
    format: FormatOption,
    webp_accepted: bool,
    animated: bool,
) -> Output {
    if animated {
        return Output::Gif;
    }
    match format {
        FormatOption::Webp => Output::Webp,
        FormatOption::Jpeg => Output::Jpeg,
        FormatOption::Auto if webp_accepted => Output::Webp,
        FormatOption::Auto => match source {
            ImageFormat::Jpeg => Output::Jpeg,
            ImageFormat::Gif => Output::Gif,
            ImageFormat::WebP => Output::Webp,
            _ => Output::Png,
        },
    }
}
