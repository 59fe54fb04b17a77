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

/// The `format=` option of a flexible variant or a transformation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormatOption {
    /// Decided from `Accept` (also what `avif` falls back to: no AVIF encoder is built).
    Auto,
    Webp,
    Jpeg,
    /// `format=json` (transformations only): the sizes, no image.
    Json,
}

/// An encoded output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Output {
    Png,
    Jpeg,
    Gif,
    Webp,
    Json,
}

impl Output {
    pub fn mime(self) -> &'static str {
        match self {
            Output::Png => "image/png",
            Output::Jpeg => "image/jpeg",
            Output::Gif => "image/gif",
            Output::Webp => "image/webp",
            Output::Json => "application/json",
        }
    }
}

/// Which options a text may hold: a flexible variant's (unknown options ignored, no
/// `format=json`), or a `/cdn-cgi/image/` transformation's (every documented option, an
/// unknown one is an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    Flexible,
    Transform,
}

/// Pixels cut from each side before anything else (`trim=top;right;bottom;left`,
/// `trim.width`, `trim.height`), or a uniform border found in the pixels (`trim=border`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Trim {
    pub top: u32,
    pub right: u32,
    pub bottom: u32,
    pub left: u32,
    /// `trim.width` / `trim.height`: the size kept from `left`/`top` on.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// `trim=border`: the border's colour (`None`: the top-left pixel's), the per-channel
    /// tolerance and the pixels of it kept on each side.
    pub border: Option<(Option<Rgba<u8>>, u8, u32)>,
}

/// A border added around the output: its colour and width on each side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Border {
    pub color: Rgba<u8>,
    pub top: u32,
    pub right: u32,
    pub bottom: u32,
    pub left: u32,
}

/// What one delivery asks for, from a named variant, flexible options or a transformation.
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
    /// Where crops keep the image: x and y in 0..=1 (0.5, 0.5: centred).
    pub gravity: (f32, f32),
    /// Degrees clockwise: 0, 90, 180 or 270 (after the flip, before resizing).
    pub rotate: u16,
    /// `flip=h`, `v`, `hv`: horizontal and vertical mirroring (before rotating).
    pub flip: (bool, bool),
    pub blur: Option<f32>,
    pub sharpen: Option<f32>,
    pub brightness: Option<f32>,
    pub contrast: Option<f32>,
    pub gamma: Option<f32>,
    pub saturation: Option<f32>,
    /// Under transparent pixels and the padding of `fit=pad` (white when unset).
    pub background: Option<Rgba<u8>>,
    pub trim: Option<Trim>,
    pub border: Option<Border>,
    /// `onerror=redirect`: a failed transformation redirects to its source.
    pub onerror_redirect: bool,
}

impl Options {
    fn plain() -> Options {
        Options {
            width: None,
            height: None,
            fit: Fit::ScaleDown,
            metadata: Metadata::None,
            quality: None,
            format: FormatOption::Auto,
            animate: true,
            gravity: (0.5, 0.5),
            rotate: 0,
            flip: (false, false),
            blur: None,
            sharpen: None,
            brightness: None,
            contrast: None,
            gamma: None,
            saturation: None,
            background: None,
            trim: None,
            border: None,
            onerror_redirect: false,
        }
    }

    /// The options of a named variant.
    pub fn from_variant(v: &Variant) -> Options {
        Options {
            width: Some(v.width).filter(|w| *w > 0),
            height: Some(v.height).filter(|h| *h > 0),
            fit: Fit::parse(&v.fit).unwrap_or(Fit::ScaleDown),
            metadata: Metadata::parse(&v.metadata).unwrap_or(Metadata::None),
            ..Options::plain()
        }
    }

    /// Parses flexible-variant options (`w=100,h=50,fit=cover`). Unknown options are
    /// accepted and ignored; a malformed pair or a bad value is an error message.
    pub fn parse_flexible(text: &str) -> Result<Options, String> {
        Options::parse(text, Syntax::Flexible)
    }

    /// Parses options in `syntax`: `key=value` pairs separated by commas (a comma inside
    /// parentheses, as in `background=rgb(1,2,3)`, separates nothing). Names, short names
    /// and ranges are those Cloudflare documents for transformations.
    pub fn parse(text: &str, syntax: Syntax) -> Result<Options, String> {
        let mut o = Options {
            // Cloudflare's default for flexible variants and transformations.
            metadata: Metadata::Copyright,
            ..Options::plain()
        };
        let mut dpr: Option<f64> = None;
        for part in split_options(text) {
            let Some((key, value)) = part.split_once('=') else {
                return Err(format!("option {part:?} is not key=value"));
            };
            let bad = || format!("invalid value for {key}: {value:?}");
            let number = |lo: f32, hi: f32| {
                value
                    .parse::<f32>()
                    .ok()
                    .filter(|v| v.is_finite() && (lo..=hi).contains(v))
                    .ok_or_else(bad)
            };
            match key {
                "w" | "width" if value == "auto" => o.width = None,
                "w" | "width" => o.width = Some(parse_side(value).ok_or_else(bad)?),
                "h" | "height" => o.height = Some(parse_side(value).ok_or_else(bad)?),
                "fit" => o.fit = Fit::parse(value).ok_or_else(bad)?,
                "metadata" => o.metadata = Metadata::parse(value).ok_or_else(bad)?,
                "q" | "quality" => o.quality = Some(parse_quality(value).ok_or_else(bad)?),
                "format" | "f" => {
                    o.format = match value {
                        "auto" | "avif" => FormatOption::Auto,
                        "webp" => FormatOption::Webp,
                        "jpeg" | "baseline-jpeg" => FormatOption::Jpeg,
                        "json" if syntax == Syntax::Transform => FormatOption::Json,
                        "json" => return Err("format=json is not emulated".into()),
                        _ => return Err(bad()),
                    }
                }
                "anim" => o.animate = parse_bool(value).ok_or_else(bad)?,
                "dpr" => {
                    dpr = Some(
                        value
                            .parse::<f64>()
                            .ok()
                            .filter(|d| d.is_finite() && *d > 0.0 && *d <= 10.0)
                            .ok_or_else(bad)?,
                    )
                }
                "gravity" | "g" => o.gravity = parse_gravity(value).ok_or_else(bad)?,
                "rotate" => {
                    o.rotate = match value {
                        "0" | "360" => 0,
                        "90" => 90,
                        "180" => 180,
                        "270" => 270,
                        _ => return Err(bad()),
                    }
                }
                "flip" => {
                    o.flip = match value {
                        "h" => (true, false),
                        "v" => (false, true),
                        "hv" | "vh" => (true, true),
                        _ => return Err(bad()),
                    }
                }
                "blur" => o.blur = Some(number(0.0, 250.0)?).filter(|b| *b > 0.0),
                "sharpen" => o.sharpen = Some(number(0.0, 10.0)?).filter(|s| *s > 0.0),
                "brightness" => o.brightness = Some(number(0.0, 100.0)?),
                "contrast" => o.contrast = Some(number(0.0, 100.0)?),
                "gamma" => o.gamma = Some(number(0.0, 100.0)?),
                "saturation" => o.saturation = Some(number(0.0, 100.0)?),
                "background" => o.background = Some(parse_color(value).ok_or_else(bad)?),
                "border" => o.border = Some(parse_border(value).ok_or_else(bad)?),
                "trim" => {
                    let trim = o.trim.get_or_insert_with(Trim::default);
                    if value == "border" {
                        trim.border.get_or_insert((None, 0, 0));
                    } else {
                        let sides = parse_sides(value).ok_or_else(bad)?;
                        (trim.top, trim.right, trim.bottom, trim.left) = sides;
                    }
                }
                _ if key.starts_with("trim.") => {
                    let trim = o.trim.get_or_insert_with(Trim::default);
                    let px = || parse_px(value).ok_or_else(bad);
                    match &key[5..] {
                        "top" => trim.top = px()?,
                        "right" => trim.right = px()?,
                        "bottom" => trim.bottom = px()?,
                        "left" => trim.left = px()?,
                        "width" => trim.width = Some(px()?).filter(|w| *w > 0),
                        "height" => trim.height = Some(px()?).filter(|h| *h > 0),
                        "border.color" => {
                            trim.border.get_or_insert((None, 0, 0)).0 =
                                Some(parse_color(value).ok_or_else(bad)?)
                        }
                        "border.tolerance" => {
                            trim.border.get_or_insert((None, 0, 0)).1 =
                                value.parse::<u8>().ok().ok_or_else(bad)?
                        }
                        "border.keep" => trim.border.get_or_insert((None, 0, 0)).2 = px()?,
                        _ if syntax == Syntax::Flexible => {}
                        _ => return Err(format!("unknown option {key:?}")),
                    }
                }
                "onerror" => match value {
                    "redirect" => o.onerror_redirect = true,
                    _ => return Err(bad()),
                },
                // Accepted, not applied (see the README): the emulator has no face or
                // foreground detection, and one encoder speed.
                "zoom" => {
                    number(0.0, 1.0)?;
                }
                "segment" if value == "foreground" => {}
                "compression" if value == "fast" => {}
                "slow-connection-quality" | "scq" => {
                    parse_quality(value).ok_or_else(bad)?;
                }
                "segment" | "compression" => return Err(bad()),
                _ if syntax == Syntax::Flexible => {}
                _ => return Err(format!("unknown option {key:?}")),
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

    /// Whether anything beyond resizing and encoding is asked for (so the pixels are worked
    /// on as RGBA).
    pub(super) fn has_effects(&self) -> bool {
        self.blur.is_some()
            || self.sharpen.is_some()
            || self.brightness.is_some()
            || self.contrast.is_some()
            || self.gamma.is_some()
            || self.saturation.is_some()
            || self.background.is_some()
            || self.border.is_some()
    }

    /// A stable text for the cache key: two requests with equal keys render equal bytes.
    pub(super) fn key(&self) -> String {
        format!("{self:?}")
    }
}

/// Splits on commas outside parentheses.
fn split_options(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// 1..=100, or one of Cloudflare's named perceptual levels. The emulator maps the names to
/// fixed JPEG qualities (Cloudflare tunes them per image).
fn parse_quality(value: &str) -> Option<u8> {
    match value {
        "high" => Some(90),
        "medium-high" => Some(80),
        "medium-low" => Some(65),
        "low" => Some(50),
        _ => value.parse::<u8>().ok().filter(|q| (1..=100).contains(q)),
    }
}

/// `auto`, `face` (both centred here: no saliency or face detection), a side
/// (`left`, `right`, `top`, `bottom`, `center`), or `XxY` with both in 0..=1.
fn parse_gravity(value: &str) -> Option<(f32, f32)> {
    Some(match value {
        "auto" | "face" | "center" | "centre" => (0.5, 0.5),
        "left" => (0.0, 0.5),
        "right" => (1.0, 0.5),
        "top" => (0.5, 0.0),
        "bottom" => (0.5, 1.0),
        _ => {
            let (x, y) = value.split_once('x')?;
            let unit = |t: &str| t.parse::<f32>().ok().filter(|v| (0.0..=1.0).contains(v));
            (unit(x)?, unit(y)?)
        }
    })
}

/// A non-negative whole number of pixels up to [`MAX_SIDE`].
fn parse_px(value: &str) -> Option<u32> {
    value.parse::<u32>().ok().filter(|v| *v <= MAX_SIDE)
}

/// `top;right;bottom;left` (CSS order); one to four values, as CSS shorthand.
fn parse_sides(value: &str) -> Option<(u32, u32, u32, u32)> {
    let v: Vec<u32> = value.split(';').map(parse_px).collect::<Option<_>>()?;
    Some(match v.as_slice() {
        [a] => (*a, *a, *a, *a),
        [a, b] => (*a, *b, *a, *b),
        [a, b, c] => (*a, *b, *c, *b),
        [a, b, c, d] => (*a, *b, *c, *d),
        _ => return None,
    })
}

/// `color:<colour>;width:<px>` or `color:<colour>;top:..;right:..;bottom:..;left:..`.
fn parse_border(value: &str) -> Option<Border> {
    let mut border = Border {
        color: Rgba([0, 0, 0, 255]),
        top: 0,
        right: 0,
        bottom: 0,
        left: 0,
    };
    let mut any_width = false;
    for item in value.split(';') {
        let (k, v) = item.split_once(':')?;
        match k {
            "color" => border.color = parse_color(v)?,
            "width" => {
                let w = parse_px(v)?;
                (border.top, border.right, border.bottom, border.left) = (w, w, w, w);
                any_width = true;
            }
            "top" => (border.top, any_width) = (parse_px(v)?, true),
            "right" => (border.right, any_width) = (parse_px(v)?, true),
            "bottom" => (border.bottom, any_width) = (parse_px(v)?, true),
            "left" => (border.left, any_width) = (parse_px(v)?, true),
            _ => return None,
        }
    }
    any_width.then_some(border)
}

/// A CSS colour: `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`, `rgb(r,g,b)`, `rgba(r,g,b,a)`
/// (alpha 0..=1) or a few common names. Other CSS forms (`hsl()`, the full name list) are
/// refused.
pub(crate) fn parse_color(value: &str) -> Option<Rgba<u8>> {
    let value = value.trim().to_ascii_lowercase();
    if let Some(hex) = value.strip_prefix('#') {
        let digit = |i: usize| u8::from_str_radix(hex.get(i..i + 1)?, 16).ok();
        let pair = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
        return match hex.len() {
            3 | 4 => {
                let alpha = if hex.len() == 4 { digit(3)? * 17 } else { 255 };
                Some(Rgba([
                    digit(0)? * 17,
                    digit(1)? * 17,
                    digit(2)? * 17,
                    alpha,
                ]))
            }
            6 | 8 => {
                let alpha = if hex.len() == 8 { pair(6)? } else { 255 };
                Some(Rgba([pair(0)?, pair(2)?, pair(4)?, alpha]))
            }
            _ => None,
        };
    }
    let args = value
        .strip_prefix("rgba(")
        .or_else(|| value.strip_prefix("rgb("))
        .and_then(|v| v.strip_suffix(')'));
    if let Some(args) = args {
        let parts: Vec<&str> = args.split(',').map(str::trim).collect();
        let channel = |t: &str| t.parse::<u8>().ok();
        let (r, g, b) = match parts.as_slice() {
            [r, g, b] | [r, g, b, _] => (channel(r)?, channel(g)?, channel(b)?),
            _ => return None,
        };
        let alpha = match parts.get(3) {
            Some(a) => {
                let a = a.parse::<f32>().ok().filter(|a| (0.0..=1.0).contains(a))?;
                // In 0..=255 after the clamp, so the cast is exact.
                (a * 255.0).round().clamp(0.0, 255.0) as u8
            }
            None => 255,
        };
        return Some(Rgba([r, g, b, alpha]));
    }
    Some(match value.as_str() {
        "black" => Rgba([0, 0, 0, 255]),
        "white" => Rgba([255, 255, 255, 255]),
        "red" => Rgba([255, 0, 0, 255]),
        "lime" => Rgba([0, 255, 0, 255]),
        "green" => Rgba([0, 128, 0, 255]),
        "blue" => Rgba([0, 0, 255, 255]),
        "yellow" => Rgba([255, 255, 0, 255]),
        "gray" | "grey" => Rgba([128, 128, 128, 255]),
        "transparent" => Rgba([0, 0, 0, 0]),
        _ => return None,
    })
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
    if format == FormatOption::Json {
        return Output::Json;
    }
    if animated {
        return Output::Gif;
    }
    match format {
        FormatOption::Webp => Output::Webp,
        FormatOption::Jpeg => Output::Jpeg,
        FormatOption::Auto if webp_accepted => Output::Webp,
        FormatOption::Auto | FormatOption::Json => match source {
            ImageFormat::Jpeg => Output::Jpeg,
            ImageFormat::Gif => Output::Gif,
            ImageFormat::WebP => Output::Webp,
            _ => Output::Png,
        },
    }
}
