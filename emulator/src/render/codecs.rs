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
