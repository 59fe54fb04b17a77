//! Decoding with memory bounds, applying the geometry, and encoding in the output format.

use super::*;

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
    let json = options.format == FormatOption::Json;
    // `format=json` describes the first frame of an animation.
    let (source, exif) = decode(data, format, options.animate && !json)?;
    let output = choose_output(
        format,
        options.format,
        webp_accepted,
        matches!(source, Source::Animated(_)),
    );
    let mut out = Vec::new();
    let encoded = match source {
        Source::Still(img) => {
            let (sw, sh) = (img.width(), img.height());
            let img = transform(img, options, 1)?;
            if json {
                let info = serde_json::json!({
                    "width": img.width(),
                    "height": img.height(),
                    "original": {
                        "file_size": data.len(),
                        "width": sw,
                        "height": sh,
                        "format": format.to_mime_type(),
                    },
                });
                out = info.to_string().into_bytes();
                Ok(())
            } else {
                encode_still(&img, output, options, exif, &mut out)
            }
        }
        Source::Animated(frames) => {
            let count = u64::try_from(frames.len()).unwrap_or(u64::MAX);
            let mut failure = None;
            let frames = frames.into_iter().map_while(|f| {
                let delay = f.delay();
                match transform(DynamicImage::ImageRgba8(f.into_buffer()), options, count) {
                    Ok(img) => Some(Frame::from_parts(img.to_rgba8(), 0, 0, delay)),
                    Err(e) => {
                        failure = Some(e);
                        None
                    }
                }
            });
            let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
            let encoded = encoder
                .set_repeat(Repeat::Infinite)
                .and_then(|()| encoder.encode_frames(frames));
            drop(encoder);
            if let Some(e) = failure {
                return Err(e);
            }
            encoded
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

/// Everything but encoding, in Cloudflare's order: trim, flip, rotate (so width and height
/// refer to the rotated image), the fit, then blur, sharpen and the colour adjustments, the
/// background under transparent pixels, and the border around the result. `frames` images
/// of this size are held at once (all frames of an animation), which the budget bounds.
fn transform(img: DynamicImage, o: &Options, frames: u64) -> Result<DynamicImage, RenderError> {
    let mut img = img;
    if let Some(trim) = &o.trim {
        img = apply_trim(img, trim);
    }
    if o.flip.0 {
        img = img.fliph();
    }
    if o.flip.1 {
        img = img.flipv();
    }
    img = match o.rotate {
        90 => img.rotate90(),
        180 => img.rotate180(),
        270 => img.rotate270(),
        _ => img,
    };
    let plan = plan(img.width(), img.height(), o.width, o.height, o.fit);
    let budget = |pixels: u64| pixels.saturating_mul(4).saturating_mul(frames);
    if budget(plan.peak_pixels()) > RENDER_BUDGET_BYTES {
        return Err(RenderError::too_large("the requested size"));
    }
    let pad = o.background.unwrap_or(Rgba([255, 255, 255, 255]));
    img = apply(img, &plan, o.gravity, pad);
    if !o.has_effects() {
        return Ok(img);
    }
    if let Some(radius) = o.blur {
        // Cloudflare's radius 1..=250 as a Gaussian sigma of half of it.
        img = img.fast_blur(radius / 2.0);
    }
    if let Some(amount) = o.sharpen {
        img = img.unsharpen(0.5 + amount / 4.0, 0);
    }
    let mut rgba = img.to_rgba8();
    if o.brightness.is_some() || o.contrast.is_some() || o.gamma.is_some() {
        adjust_levels(&mut rgba, o);
    }
    if let Some(s) = o.saturation {
        for p in rgba.pixels_mut() {
            let [r, g, b, _] = p.0.map(f32::from);
            let luma = 0.2126 * r + 0.7152 * g + 0.0722 * b;
            for c in &mut p.0[..3] {
                *c = to_channel(luma + (f32::from(*c) - luma) * s);
            }
        }
    }
    if let Some(bg) = o.background {
        for p in rgba.pixels_mut() {
            *p = over(*p, bg);
        }
    }
    if let Some(b) = &o.border {
        let w = u64::from(rgba.width()) + u64::from(b.left) + u64::from(b.right);
        let h = u64::from(rgba.height()) + u64::from(b.top) + u64::from(b.bottom);
        if budget(w.saturating_mul(h)) > RENDER_BUDGET_BYTES {
            return Err(RenderError::too_large("the requested size"));
        }
        let (w, h) = (
            u32::try_from(w).unwrap_or(u32::MAX),
            u32::try_from(h).unwrap_or(u32::MAX),
        );
        let mut canvas = RgbaImage::from_pixel(w, h, b.color);
        image::imageops::replace(&mut canvas, &rgba, i64::from(b.left), i64::from(b.top));
        rgba = canvas;
    }
    Ok(DynamicImage::ImageRgba8(rgba))
}

/// A float channel value rounded into 0..=255.
fn to_channel(v: f32) -> u8 {
    // Clamped first, so the cast is exact.
    v.round().clamp(0.0, 255.0) as u8
}

/// Brightness (a factor), contrast (a factor around mid-grey) and gamma (an exponent of
/// 1/gamma: above 1 brightens) on the colour channels, through one lookup table.
fn adjust_levels(img: &mut RgbaImage, o: &Options) {
    let table: Vec<u8> = (0..=255u8)
        .map(|c| {
            let mut v = f32::from(c);
            if let Some(b) = o.brightness {
                v *= b;
            }
            if let Some(k) = o.contrast {
                v = (v - 127.5) * k + 127.5;
            }
            if let Some(g) = o.gamma {
                let unit = (v / 255.0).clamp(0.0, 1.0);
                v = if g > 0.0 {
                    unit.powf(1.0 / g) * 255.0
                } else {
                    0.0
                };
            }
            to_channel(v)
        })
        .collect();
    for p in img.pixels_mut() {
        for c in &mut p.0[..3] {
            *c = table[usize::from(*c)];
        }
    }
}

/// `top` composited over `bottom` (straight alpha).
fn over(top: Rgba<u8>, bottom: Rgba<u8>) -> Rgba<u8> {
    let ta = f32::from(top.0[3]) / 255.0;
    let ba = f32::from(bottom.0[3]) / 255.0;
    let a = ta + ba * (1.0 - ta);
    if a <= 0.0 {
        return Rgba([0, 0, 0, 0]);
    }
    let mix = |t: u8, b: u8| to_channel((f32::from(t) * ta + f32::from(b) * ba * (1.0 - ta)) / a);
    Rgba([
        mix(top.0[0], bottom.0[0]),
        mix(top.0[1], bottom.0[1]),
        mix(top.0[2], bottom.0[2]),
        to_channel(a * 255.0),
    ])
}

/// Cuts the sides `trim` names (never below one pixel), or the uniform border it asks to
/// find: rows and columns whose every pixel is within the tolerance of the border colour,
/// less `keep` pixels of it on each side.
fn apply_trim(img: DynamicImage, trim: &Trim) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 {
        return img;
    }
    let (x, y, cw, ch) = if let Some((color, tolerance, keep)) = trim.border {
        let rgba = img.to_rgba8();
        let c = color.unwrap_or(*rgba.get_pixel(0, 0));
        let near = |p: &Rgba<u8>| p.0.iter().zip(c.0).all(|(a, b)| a.abs_diff(b) <= tolerance);
        let row_plain = |y: u32| (0..w).all(|x| near(rgba.get_pixel(x, y)));
        let col_plain = |x: u32| (0..h).all(|y| near(rgba.get_pixel(x, y)));
        let Some(top) = (0..h).find(|y| !row_plain(*y)) else {
            // All border: nothing to keep but the image itself.
            return img;
        };
        let bottom = (0..h).rev().find(|y| !row_plain(*y)).unwrap_or(top);
        let left = (0..w).find(|x| !col_plain(*x)).unwrap_or(0);
        let right = (0..w).rev().find(|x| !col_plain(*x)).unwrap_or(left);
        let x0 = left.saturating_sub(keep);
        let y0 = top.saturating_sub(keep);
        let x1 = right.saturating_add(keep).min(w - 1);
        let y1 = bottom.saturating_add(keep).min(h - 1);
        (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
    } else {
        let x = trim.left.min(w - 1);
        let y = trim.top.min(h - 1);
        let cw = trim
            .width
            .unwrap_or_else(|| w.saturating_sub(trim.left.saturating_add(trim.right)))
            .clamp(1, w - x);
        let ch = trim
            .height
            .unwrap_or_else(|| h.saturating_sub(trim.top.saturating_add(trim.bottom)))
            .clamp(1, h - y);
        (x, y, cw, ch)
    };
    if (x, y, cw, ch) == (0, 0, w, h) {
        img
    } else {
        img.crop_imm(x, y, cw, ch)
    }
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
        // Answered before encoding (see `render`).
        Output::Json => Ok(()),
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
pub(super) fn flatten_on_white(img: &DynamicImage) -> image::RgbImage {
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
