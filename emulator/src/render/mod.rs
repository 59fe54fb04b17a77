//! Rendering variants: what a named variant or flexible-variant options ask for, the
//! geometry of each `fit` mode, decoding with memory bounds, encoding in the chosen output
//! format, and a memory-bounded cache of the results.
//!
//! Semantics follow Cloudflare's documentation of variants and flexible variants:
//!
//! - `scale-down`: shrink to fit inside width x height keeping the aspect ratio, never enlarge;
//! - `contain`: as large as possible inside width x height keeping the aspect ratio;
//! - `cover`: fill exactly width x height, cropping the overflow (centred);
//! - `crop`: like `cover` but never enlarges: a side smaller than the box is kept and the
//!   other cropped, an image smaller than the box is served at its size (as `scale-down`);
//! - `pad`: like `contain`, then padded to exactly width x height with white;
//! - `squeeze` (flexible variants only): stretched to exactly width x height.
//!
//! With only one of width and height, the other follows the aspect ratio. Crops are always
//! centred (`gravity` is not emulated). EXIF orientation is applied to the pixels, as
//! Cloudflare does whatever the `metadata` setting.
//!
//! Decoding is bounded ([`RENDER_BUDGET_BYTES`], 12,000 px per side) so a hostile upload (a
//! small file declaring a huge canvas, or thousands of GIF frames) cannot exhaust memory,
//! and at most [`CONCURRENT_RENDERS`] renders run at once, on the blocking thread pool.

use std::collections::{HashMap, VecDeque};
use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use image::codecs::gif::{GifDecoder, GifEncoder, Repeat};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{
    AnimationDecoder, DynamicImage, ExtendedColorType, Frame, ImageDecoder, ImageEncoder,
    ImageError, ImageFormat, ImageReader, Limits, Rgba, RgbaImage,
};
use tokio::sync::Semaphore;

use crate::store::Variant;

/// The largest width or height accepted in options and in decoded images (Cloudflare's
/// per-side limit for stored images).
pub(crate) const MAX_SIDE: u32 = 12_000;

/// Memory one render may use for decoded pixels, and separately for the output pixels
/// (all frames of an animation together): 256 MiB, about 64 megapixels of RGBA. This is
/// the emulator's own bound (Cloudflare accepts up to 100 megapixels); beyond it the
/// answer is 413 (`ERROR 9413`).
pub(crate) const RENDER_BUDGET_BYTES: u64 = 256 * 1024 * 1024;

/// Renders running at once; more wait. Each may hold up to twice [`RENDER_BUDGET_BYTES`].
pub(crate) const CONCURRENT_RENDERS: usize = 2;

/// Default bound on the bytes of rendered results kept in the cache.
pub(crate) const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// JPEG quality when none is asked for (Cloudflare's default).
const DEFAULT_QUALITY: u8 = 85;

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
    fn key(&self) -> String {
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

// ---------------------------------------------------------------------------------------------
// Geometry.

/// What to do to a `src` image: resize to `resize`, then keep a centred `crop`, then centre
/// the result on a white `canvas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub resize: (u32, u32),
    pub crop: Option<(u32, u32)>,
    pub canvas: Option<(u32, u32)>,
}

impl Plan {
    /// The output's width and height.
    #[cfg(test)]
    pub fn size(&self) -> (u32, u32) {
        self.canvas.or(self.crop).unwrap_or(self.resize)
    }

    /// The largest pixel count any step allocates.
    fn peak_pixels(&self) -> u64 {
        let area = |(w, h): (u32, u32)| u64::from(w) * u64::from(h);
        area(self.resize).max(self.canvas.map_or(0, area))
    }
}

/// `a * num / den`, rounded, at least 1.
fn scaled(a: u32, num: u32, den: u32) -> u32 {
    let den = u64::from(den.max(1));
    let v = (u64::from(a) * u64::from(num) + den / 2) / den;
    u32::try_from(v.max(1)).unwrap_or(u32::MAX)
}

/// The largest size inside `bw` x `bh` with the aspect ratio of `sw` x `sh`.
fn contain(sw: u32, sh: u32, bw: u32, bh: u32) -> (u32, u32) {
    if u64::from(bw) * u64::from(sh) <= u64::from(bh) * u64::from(sw) {
        (bw, scaled(sh, bw, sw).min(bh))
    } else {
        (scaled(sw, bh, sh).min(bw), bh)
    }
}

/// The smallest size covering `bw` x `bh` with the aspect ratio of `sw` x `sh`.
fn cover(sw: u32, sh: u32, bw: u32, bh: u32) -> (u32, u32) {
    if u64::from(bw) * u64::from(sh) >= u64::from(bh) * u64::from(sw) {
        (bw, scaled(sh, bw, sw).max(bh))
    } else {
        (scaled(sw, bh, sh).max(bw), bh)
    }
}

/// The plan for an `sw` x `sh` image with these options.
pub(crate) fn plan(sw: u32, sh: u32, width: Option<u32>, height: Option<u32>, fit: Fit) -> Plan {
    let keep = Plan {
        resize: (sw, sh),
        crop: None,
        canvas: None,
    };
    let (bw, bh) = match (width, height) {
        (None, None) => return keep,
        (Some(w), Some(h)) => (w, h),
        (Some(w), None) => (w, scaled(sh, w, sw)),
        (None, Some(h)) => (scaled(sw, h, sh), h),
    };
    let fits_inside = sw <= bw && sh <= bh;
    match fit {
        Fit::ScaleDown if fits_inside => keep,
        Fit::ScaleDown | Fit::Contain => Plan {
            resize: contain(sw, sh, bw, bh),
            crop: None,
            canvas: None,
        },
        Fit::Cover => Plan {
            resize: cover(sw, sh, bw, bh),
            crop: Some((bw, bh)),
            canvas: None,
        },
        // Covering the box needs no enlarging only when both sides are at least the box's.
        Fit::Crop if bw <= sw && bh <= sh => Plan {
            resize: cover(sw, sh, bw, bh),
            crop: Some((bw, bh)),
            canvas: None,
        },
        Fit::Crop => Plan {
            resize: (sw, sh),
            crop: Some((bw.min(sw), bh.min(sh))).filter(|c| *c != (sw, sh)),
            canvas: None,
        },
        Fit::Pad => Plan {
            resize: contain(sw, sh, bw, bh),
            crop: None,
            canvas: Some((bw, bh)),
        },
        Fit::Squeeze => Plan {
            resize: (bw, bh),
            crop: None,
            canvas: None,
        },
    }
}

fn apply(img: DynamicImage, plan: &Plan) -> DynamicImage {
    let mut img = img;
    if (img.width(), img.height()) != plan.resize {
        img = img.resize_exact(plan.resize.0, plan.resize.1, FilterType::Triangle);
    }
    if let Some((cw, ch)) = plan.crop {
        let x = img.width().saturating_sub(cw) / 2;
        let y = img.height().saturating_sub(ch) / 2;
        img = img.crop_imm(x, y, cw, ch);
    }
    if let Some((w, h)) = plan.canvas {
        let mut canvas = RgbaImage::from_pixel(w, h, Rgba([255, 255, 255, 255]));
        let x = i64::from(w.saturating_sub(img.width()) / 2);
        let y = i64::from(h.saturating_sub(img.height()) / 2);
        image::imageops::overlay(&mut canvas, &img.to_rgba8(), x, y);
        img = DynamicImage::ImageRgba8(canvas);
    }
    img
}

// ---------------------------------------------------------------------------------------------
// Rendering.

/// Why a render failed: an HTTP status and a Cloudflare-style error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RenderError {
    pub status: u16,
    pub message: String,
}

impl RenderError {
    fn too_large(what: &str) -> RenderError {
        RenderError {
            status: 413,
            message: format!("ERROR 9413: {what} exceeds what the emulator renders"),
        }
    }

    fn from_image(e: ImageError) -> RenderError {
        match e {
            ImageError::Limits(l) => RenderError::too_large(&format!("the image ({l})")),
            other => RenderError {
                status: 415,
                message: format!("ERROR 9523: the image could not be decoded: {other}"),
            },
        }
    }
}

/// A rendered image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rendered {
    pub bytes: Bytes,
    pub output: Output,
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(RENDER_BUDGET_BYTES);
    limits
}

/// The decoded source: one image, or the composited frames of an animated GIF.
enum Source {
    Still(DynamicImage),
    Animated(Vec<Frame>),
}

fn decode(
    data: &[u8],
    format: ImageFormat,
    animate: bool,
) -> Result<(Source, Option<Vec<u8>>), RenderError> {
    if format == ImageFormat::Gif {
        let mut decoder = GifDecoder::new(Cursor::new(data)).map_err(RenderError::from_image)?;
        decoder
            .set_limits(limits())
            .map_err(RenderError::from_image)?;
        let (w, h) = decoder.dimensions();
        let frame_bytes = u64::from(w) * u64::from(h) * 4;
        let mut frames = Vec::new();
        let mut total = 0u64;
        for frame in decoder.into_frames() {
            let frame = frame.map_err(RenderError::from_image)?;
            // The decoder bounds one frame; this bounds them all together. Each frame is
            // charged at least 1 KiB, so a flood of tiny frames (bookkeeping, and encoding
            // time) is bounded too.
            total += frame_bytes.max(1024);
            if total > RENDER_BUDGET_BYTES {
                return Err(RenderError::too_large(
                    "the animation (all frames together)",
                ));
            }
            frames.push(frame);
            if !animate {
                break;
            }
        }
        return match frames.len() {
            0 => Err(RenderError {
                status: 415,
                message: "ERROR 9523: the GIF has no frames".into(),
            }),
            1 => {
                let first = frames.pop().map(Frame::into_buffer).unwrap_or_default();
                Ok((Source::Still(DynamicImage::ImageRgba8(first)), None))
            }
            _ => Ok((Source::Animated(frames), None)),
        };
    }
    let mut reader = ImageReader::with_format(Cursor::new(data), format);
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(RenderError::from_image)?;
    // Not every decoder counts its output buffer against `max_alloc` (PNG does not), so
    // the pixels the header declares are checked here, before anything is allocated.
    if decoder.total_bytes() > RENDER_BUDGET_BYTES {
        return Err(RenderError::too_large("the image"));
    }
    // Metadata problems never fail a render: the pixels are what matters.
    let mut exif = decoder.exif_metadata().ok().flatten();
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(RenderError::from_image)?;
    img.apply_orientation(orientation);
    if let Some(exif) = exif.as_mut() {
        // The pixels are upright now; a kept orientation tag would turn them again.
        let _ = Orientation::remove_from_exif_chunk(exif);
    }
    Ok((Source::Still(img), exif))
}

/// Renders `data` (stored as `format`) with `options`, for a client that does or does not
/// accept WebP. CPU-bound: call it on the blocking pool.
pub(crate) fn render(
    data: &[u8],
    format: ImageFormat,
    options: &Options,
    webp_accepted: bool,
) -> Result<Rendered, RenderError> {
    let (source, exif) = decode(data, format, options.animate)?;
    let (sw, sh) = match &source {
        Source::Still(img) => (img.width(), img.height()),
        Source::Animated(frames) => frames
            .first()
            .map_or((1, 1), |f| (f.buffer().width(), f.buffer().height())),
    };
    let plan = plan(sw, sh, options.width, options.height, options.fit);
    let frames = match &source {
        Source::Still(_) => 1,
        Source::Animated(frames) => u64::try_from(frames.len()).unwrap_or(u64::MAX),
    };
    if plan.peak_pixels().saturating_mul(4).saturating_mul(frames) > RENDER_BUDGET_BYTES {
        return Err(RenderError::too_large("the requested size"));
    }
    let output = choose_output(
        format,
        options.format,
        webp_accepted,
        matches!(source, Source::Animated(_)),
    );
    let mut out = Vec::new();
    let encoded = match source {
        Source::Still(img) => encode_still(&apply(img, &plan), output, options, exif, &mut out),
        Source::Animated(frames) => {
            let frames = frames.into_iter().map(|f| {
                let delay = f.delay();
                let img = apply(DynamicImage::ImageRgba8(f.into_buffer()), &plan);
                Frame::from_parts(img.to_rgba8(), 0, 0, delay)
            });
            let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
            encoder
                .set_repeat(Repeat::Infinite)
                .and_then(|()| encoder.encode_frames(frames))
        }
    };
    encoded.map_err(|e| RenderError {
        status: 500,
        message: format!("ERROR 9524: the image could not be encoded: {e}"),
    })?;
    Ok(Rendered {
        bytes: Bytes::from(out),
        output,
    })
}

fn encode_still(
    img: &DynamicImage,
    output: Output,
    options: &Options,
    exif: Option<Vec<u8>>,
    out: &mut Vec<u8>,
) -> image::ImageResult<()> {
    let (w, h) = (img.width(), img.height());
    match output {
        Output::Png => img.write_with_encoder(PngEncoder::new(out)),
        Output::Gif => GifEncoder::new_with_speed(out, 10).encode_frame(Frame::new(img.to_rgba8())),
        // Lossless: the only WebP encoder the `image` crate has (`q` does not apply).
        Output::Webp if img.color().has_alpha() => WebPEncoder::new_lossless(out).write_image(
            img.to_rgba8().as_raw(),
            w,
            h,
            ExtendedColorType::Rgba8,
        ),
        Output::Webp => WebPEncoder::new_lossless(out).write_image(
            img.to_rgb8().as_raw(),
            w,
            h,
            ExtendedColorType::Rgb8,
        ),
        Output::Jpeg => {
            let rgb = flatten_on_white(img);
            let mut encoder =
                JpegEncoder::new_with_quality(out, options.quality.unwrap_or(DEFAULT_QUALITY));
            // Cloudflare keeps metadata in JPEG output only (WebP and PNG discard it).
            let exif = match options.metadata {
                Metadata::Keep => exif,
                Metadata::Copyright => exif.and_then(|e| copyright_only(&e)),
                Metadata::None => None,
            };
            if let Some(exif) = exif {
                // JpegEncoder accepts EXIF; the error type is for encoders that do not.
                let _ = encoder.set_exif_metadata(exif);
            }
            encoder.write_image(rgb.as_raw(), w, h, ExtendedColorType::Rgb8)
        }
    }
}

/// RGB pixels with any transparency composited over white (JPEG has no alpha; dropping the
/// channel would show whatever colour transparent pixels happen to hold, often black).
fn flatten_on_white(img: &DynamicImage) -> image::RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let Rgba([r, g, b, a]) = *rgba.get_pixel(x, y);
        let over = |c: u8| {
            let c = u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a));
            // At most 255 * 255 / 255 = 255 after the division, so it fits in a u8.
            u8::try_from((c + 127) / 255).unwrap_or(255)
        };
        image::Rgb([over(r), over(g), over(b)])
    })
}

// ---------------------------------------------------------------------------------------------
// EXIF: keeping only the copyright.

const TAG_COPYRIGHT: u16 = 0x8298;
const TYPE_ASCII: u16 = 2;

/// An EXIF block (TIFF structure, as the JPEG APP1 segment holds it after `Exif\0\0`) with
/// only IFD0's Copyright tag, or `None` if it has none or cannot be read.
///
/// This is the closest honest reading of Cloudflare's `metadata=copyright` ("discard all
/// metadata except the EXIF copyright tag"): the tag is copied into a new, minimal block;
/// everything else (camera, GPS, dates, thumbnails, XMP) is dropped.
pub(crate) fn copyright_only(exif: &[u8]) -> Option<Vec<u8>> {
    let big = match exif.get(..4)? {
        [b'I', b'I', 42, 0] => false,
        [b'M', b'M', 0, 42] => true,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = exif.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = exif.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let entries = usize::from(u16_at(ifd)?);
    let value = (0..entries).find_map(|i| {
        // Offsets come from the file: checked, so a hostile block cannot overflow them.
        let entry = ifd.checked_add(2)?.checked_add(i.checked_mul(12)?)?;
        if u16_at(entry)? != TAG_COPYRIGHT || u16_at(entry.checked_add(2)?)? != TYPE_ASCII {
            return None;
        }
        let count = usize::try_from(u32_at(entry.checked_add(4)?)?).ok()?;
        let start = if count <= 4 {
            entry.checked_add(8)?
        } else {
            usize::try_from(u32_at(entry.checked_add(8)?)?).ok()?
        };
        exif.get(start..start.checked_add(count)?)
    })?;
    // Big-endian TIFF: header, IFD0 at 8 with one entry and no next IFD, value after it.
    let count = u32::try_from(value.len()).ok()?;
    let mut out = Vec::with_capacity(26 + value.len());
    out.extend_from_slice(b"MM\0\x2a");
    out.extend_from_slice(&8u32.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&TAG_COPYRIGHT.to_be_bytes());
    out.extend_from_slice(&TYPE_ASCII.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    if value.len() <= 4 {
        let mut inline = [0u8; 4];
        inline[..value.len()].copy_from_slice(value);
        out.extend_from_slice(&inline);
        out.extend_from_slice(&0u32.to_be_bytes());
    } else {
        out.extend_from_slice(&26u32.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(value);
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// The cache.

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    blob: String,
    options: String,
    webp: bool,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Key, Rendered>,
    /// Insertion order, oldest first: the eviction order.
    order: VecDeque<Key>,
    bytes: usize,
}

/// Rendered results by (blob hash, normalized options, whether WebP is accepted), at most
/// `cap` bytes of them; the oldest go first. Also the renders' concurrency limit and
/// counters.
#[derive(Debug)]
pub(crate) struct RenderCache {
    entries: Mutex<Entries>,
    cap: usize,
    permits: Arc<Semaphore>,
    renders: AtomicU64,
    hits: AtomicU64,
}

impl RenderCache {
    pub fn new(cap: usize) -> RenderCache {
        RenderCache {
            entries: Mutex::new(Entries::default()),
            cap,
            permits: Arc::new(Semaphore::new(CONCURRENT_RENDERS)),
            renders: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }

    /// Renders performed so far (cache misses that decoded an image).
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::SeqCst)
    }

    /// Deliveries answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached render of `blob` with `options`, or renders it on the blocking pool (at
    /// most [`CONCURRENT_RENDERS`] at once), caching the result. `data` is only called on a
    /// miss.
    pub async fn get_or_render<F, Fut>(
        &self,
        blob: &str,
        format: ImageFormat,
        options: &Options,
        webp_accepted: bool,
        data: F,
    ) -> Result<Rendered, RenderError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Bytes, RenderError>>,
    {
        let key = Key {
            blob: blob.to_owned(),
            options: format!("{}|{:?}", options.key(), options.format),
            webp: webp_accepted,
        };
        if let Some(hit) = self.lock().map.get(&key) {
            self.hits.fetch_add(1, Ordering::SeqCst);
            return Ok(hit.clone());
        }
        let bytes = data().await?;
        let _permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| RenderError {
                status: 503,
                message: "ERROR 9503: the renderer has stopped".into(),
            })?;
        let options_owned = options.clone();
        let rendered = tokio::task::spawn_blocking(move || {
            render(&bytes, format, &options_owned, webp_accepted)
        })
        .await
        .map_err(|e| RenderError {
            status: 500,
            message: format!("ERROR 9524: the render task failed: {e}"),
        })??;
        self.renders.fetch_add(1, Ordering::SeqCst);
        self.insert(key, rendered.clone());
        Ok(rendered)
    }

    fn insert(&self, key: Key, rendered: Rendered) {
        let size = rendered.bytes.len();
        if size > self.cap {
            return;
        }
        let mut entries = self.lock();
        if entries.map.contains_key(&key) {
            return;
        }
        while entries.bytes + size > self.cap {
            let Some(oldest) = entries.order.pop_front() else {
                break;
            };
            if let Some(gone) = entries.map.remove(&oldest) {
                entries.bytes -= gone.bytes.len();
            }
        }
        entries.bytes += size;
        entries.order.push_back(key.clone());
        entries.map.insert(key, rendered);
    }

    /// Number of cached results and their total bytes.
    #[cfg(test)]
    fn usage(&self) -> (usize, usize) {
        let entries = self.lock();
        (entries.map.len(), entries.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(sw: u32, sh: u32, w: Option<u32>, h: Option<u32>, fit: Fit) -> (u32, u32) {
        plan(sw, sh, w, h, fit).size()
    }

    #[test]
    fn fit_modes_follow_cloudflares_upscaling_rules() {
        let b = (Some(400), Some(400));
        assert_eq!(size(100, 50, b.0, b.1, Fit::ScaleDown), (100, 50));
        assert_eq!(size(100, 50, b.0, b.1, Fit::Contain), (400, 200));
        assert_eq!(size(100, 50, b.0, b.1, Fit::Cover), (400, 400));
        assert_eq!(size(100, 50, b.0, b.1, Fit::Crop), (100, 50));
        assert_eq!(size(100, 50, b.0, b.1, Fit::Pad), (400, 400));
        assert_eq!(size(100, 50, b.0, b.1, Fit::Squeeze), (400, 400));
        // Larger than the box: crop behaves as cover, scale-down as contain.
        assert_eq!(
            size(800, 400, Some(200), Some(200), Fit::ScaleDown),
            (200, 100)
        );
        assert_eq!(size(800, 400, Some(200), Some(200), Fit::Crop), (200, 200));
        assert_eq!(
            plan(800, 400, Some(200), Some(200), Fit::Crop).resize,
            (400, 200)
        );
        // One side smaller: crop keeps the scale and trims the other side.
        let p = plan(100, 50, Some(80), Some(80), Fit::Crop);
        assert_eq!((p.resize, p.size()), ((100, 50), (80, 50)));
        // Pad centres the contained image on the canvas.
        let p = plan(100, 50, Some(400), Some(400), Fit::Pad);
        assert_eq!((p.resize, p.size()), ((400, 200), (400, 400)));
    }

    #[test]
    fn one_side_follows_the_aspect_ratio() {
        assert_eq!(size(100, 50, Some(40), None, Fit::ScaleDown), (40, 20));
        assert_eq!(size(100, 50, None, Some(10), Fit::Contain), (20, 10));
        assert_eq!(size(100, 50, Some(400), None, Fit::ScaleDown), (100, 50));
        assert_eq!(size(100, 50, Some(400), None, Fit::Contain), (400, 200));
        assert_eq!(size(100, 50, Some(400), None, Fit::Cover), (400, 200));
        assert_eq!(size(3, 7, None, None, Fit::Cover), (3, 7));
        // Rounding never yields a zero side.
        assert_eq!(size(1000, 1, Some(10), None, Fit::Contain), (10, 1));
    }

    #[test]
    fn flexible_options_parse_short_and_long_names() {
        let o = Options::parse_flexible("w=100,h=50,fit=cover,format=webp,quality=80").unwrap();
        assert_eq!(
            (o.width, o.height, o.fit, o.format, o.quality),
            (
                Some(100),
                Some(50),
                Fit::Cover,
                FormatOption::Webp,
                Some(80)
            )
        );
        let o = Options::parse_flexible("width=7,height=9,sharpen=3,gravity=auto").unwrap();
        assert_eq!((o.width, o.height), (Some(7), Some(9)));
        assert_eq!(o.metadata, Metadata::Copyright);
        let o = Options::parse_flexible("w=100,dpr=2,format=avif").unwrap();
        assert_eq!((o.width, o.format), (Some(200), FormatOption::Auto));
        for bad in [
            "w=0",
            "w=12001",
            "h=x",
            "fit=stretch",
            "q=0",
            "q=101",
            "w",
            "format=tiff",
            "format=json",
            "dpr=0",
            "anim=maybe",
        ] {
            assert!(Options::parse_flexible(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn accept_headers() {
        assert!(accepts_webp("image/avif,image/webp,*/*"));
        assert!(accepts_webp("text/html, IMAGE/WEBP;q=0.8"));
        assert!(!accepts_webp("image/webp;q=0"));
        assert!(!accepts_webp("image/*"));
        assert!(!accepts_webp(""));
    }

    #[test]
    fn output_format_choice() {
        use FormatOption::*;
        // (source, format=, Accept has WebP, animated) -> output
        for (source, option, webp_accepted, animated, output) in [
            (ImageFormat::Png, Auto, false, false, Output::Png),
            (ImageFormat::Png, Auto, true, false, Output::Webp),
            (ImageFormat::Jpeg, Auto, false, false, Output::Jpeg),
            (ImageFormat::Png, Jpeg, true, false, Output::Jpeg),
            (ImageFormat::Jpeg, Webp, false, false, Output::Webp),
            (ImageFormat::Gif, Webp, true, true, Output::Gif),
            (ImageFormat::Gif, Auto, false, false, Output::Gif),
        ] {
            assert_eq!(
                choose_output(source, option, webp_accepted, animated),
                output,
                "{source:?} {option:?} webp={webp_accepted} animated={animated}"
            );
        }
    }

    fn tiff_with(tags: &[(u16, &[u8])], big: bool) -> Vec<u8> {
        let w16 = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let w32 = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend_from_slice(if big { b"MM\0\x2a" } else { b"II\x2a\0" });
        out.extend_from_slice(&w32(8));
        out.extend_from_slice(&w16(tags.len() as u16));
        let mut data_at = 8 + 2 + 12 * tags.len() as u32 + 4;
        let mut data = Vec::new();
        for (tag, value) in tags {
            out.extend_from_slice(&w16(*tag));
            out.extend_from_slice(&w16(TYPE_ASCII));
            out.extend_from_slice(&w32(value.len() as u32));
            if value.len() <= 4 {
                let mut inline = [0u8; 4];
                inline[..value.len()].copy_from_slice(value);
                out.extend_from_slice(&inline);
            } else {
                out.extend_from_slice(&w32(data_at));
                data.extend_from_slice(value);
                data_at += value.len() as u32;
            }
        }
        out.extend_from_slice(&w32(0));
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn copyright_only_keeps_just_the_copyright_tag() {
        for big in [false, true] {
            let exif = tiff_with(
                &[
                    (0x010F, b"CameraMaker\0"),
                    (TAG_COPYRIGHT, b"(c) Jane Doe\0"),
                ],
                big,
            );
            let kept = copyright_only(&exif).expect("a copyright");
            assert_eq!(kept, tiff_with(&[(TAG_COPYRIGHT, b"(c) Jane Doe\0")], true));
            let short = tiff_with(&[(TAG_COPYRIGHT, b"ab\0")], big);
            assert_eq!(
                copyright_only(&short),
                Some(tiff_with(&[(TAG_COPYRIGHT, b"ab\0")], true))
            );
        }
        assert_eq!(
            copyright_only(&tiff_with(&[(0x010F, b"CameraMaker\0")], false)),
            None
        );
        assert_eq!(copyright_only(b"garbage"), None);
        assert_eq!(copyright_only(b"MM\0\x2a\xff\xff\xff\xff"), None);
        // A count pointing past the end is refused, not read out of bounds.
        let mut broken = tiff_with(&[(TAG_COPYRIGHT, b"(c) Jane Doe\0")], false);
        broken.truncate(broken.len() - 4);
        assert_eq!(copyright_only(&broken), None);
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb([10, 200, 30])))
            .write_with_encoder(PngEncoder::new(&mut out))
            .unwrap();
        out
    }

    /// CRC-32 (as PNG chunks use it), to forge a valid header in a test.
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn decoding_is_bounded_and_errors_are_statuses() {
        let o = Options::parse_flexible("w=10").unwrap();
        let err = render(b"not an image", ImageFormat::Png, &o, false).unwrap_err();
        assert_eq!(err.status, 415, "{err:?}");
        // Wider than 12,000 px.
        let err = render(&png(12_001, 1), ImageFormat::Png, &o, false).unwrap_err();
        assert_eq!(err.status, 413, "{err:?}");
        // A tiny file declaring 11,000 x 11,000 pixels (a decompression bomb): refused
        // before its pixels are allocated.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&11_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&11_000u32.to_be_bytes());
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = render(&bomb, ImageFormat::Png, &o, false).unwrap_err();
        assert_eq!(err.status, 413, "{err:?}");
        // An output beyond the budget is refused too.
        let o = Options::parse_flexible("w=12000,h=12000,fit=pad").unwrap();
        let err = render(&png(2, 2), ImageFormat::Png, &o, false).unwrap_err();
        assert_eq!(err.status, 413, "{err:?}");
    }

    #[test]
    fn pad_fills_with_white_and_jpeg_flattens_alpha() {
        let o = Options::parse_flexible("w=40,h=40,fit=pad").unwrap();
        let r = render(&png(20, 10), ImageFormat::Png, &o, false).unwrap();
        let img = image::load_from_memory(&r.bytes).unwrap().to_rgba8();
        assert_eq!(img.dimensions(), (40, 40));
        assert_eq!(*img.get_pixel(0, 0), Rgba([255, 255, 255, 255]));
        assert_eq!(*img.get_pixel(20, 20), Rgba([10, 200, 30, 255]));
        let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(2, 2, Rgba([0, 0, 0, 0])));
        assert_eq!(
            *flatten_on_white(&clear).get_pixel(0, 0),
            image::Rgb([255, 255, 255])
        );
    }

    #[tokio::test]
    async fn the_cache_is_bounded_and_evicts_the_oldest() {
        let data = Bytes::from(png(64, 64));
        let o = Options::parse_flexible("w=32").unwrap();
        let first = render(&data, ImageFormat::Png, &o, false).unwrap();
        let one = first.bytes.len();
        let cache = RenderCache::new(one * 2 + one / 2);
        for blob in ["a", "b", "c"] {
            let d = data.clone();
            let r = cache
                .get_or_render(blob, ImageFormat::Png, &o, false, || async { Ok(d) })
                .await
                .unwrap();
            assert_eq!(r, first);
        }
        assert_eq!(cache.renders(), 3);
        assert_eq!(cache.usage(), (2, one * 2));
        // "a" was evicted, "c" is still there.
        let d = data.clone();
        cache
            .get_or_render("c", ImageFormat::Png, &o, false, || async { Ok(d) })
            .await
            .unwrap();
        assert_eq!((cache.renders(), cache.hits()), (3, 1));
        let d = data.clone();
        cache
            .get_or_render("a", ImageFormat::Png, &o, false, || async { Ok(d) })
            .await
            .unwrap();
        assert_eq!((cache.renders(), cache.hits()), (4, 1));
        // A result larger than the whole cache is served but not kept.
        let tiny = RenderCache::new(1);
        let d = data.clone();
        tiny.get_or_render("a", ImageFormat::Png, &o, false, || async { Ok(d) })
            .await
            .unwrap();
        assert_eq!(tiny.usage(), (0, 0));
    }
}
