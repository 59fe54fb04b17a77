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

mod cache;
mod codecs;
mod exif;
mod geometry;
mod options;

pub(crate) use cache::*;
pub(crate) use codecs::*;
pub(crate) use exif::*;
pub(crate) use geometry::*;
pub(crate) use options::*;

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
    fn transformation_options_follow_cloudflares_syntax_and_ranges() {
        let t = |text: &str| Options::parse(text, Syntax::Transform);
        let o = t(
            "width=auto,h=10,q=medium-high,g=0.25x1,rotate=270,flip=hv,blur=250,\
                   sharpen=10,brightness=0.5,contrast=2,gamma=1.5,saturation=0,\
                   background=rgba(1,2,3,0.5),border=color:red;top:1;left:2,\
                   trim=1;2,trim.width=5,onerror=redirect,format=json,scq=low,zoom=1,\
                   segment=foreground,compression=fast",
        )
        .unwrap();
        assert_eq!((o.width, o.height, o.quality), (None, Some(10), Some(80)));
        assert_eq!(
            (o.gravity, o.rotate, o.flip),
            ((0.25, 1.0), 270, (true, true))
        );
        assert_eq!((o.blur, o.sharpen), (Some(250.0), Some(10.0)));
        assert_eq!(
            (o.brightness, o.contrast, o.gamma, o.saturation),
            (Some(0.5), Some(2.0), Some(1.5), Some(0.0))
        );
        assert_eq!(o.background, Some(Rgba([1, 2, 3, 128])));
        let border = o.border.unwrap();
        assert_eq!(border.color, Rgba([255, 0, 0, 255]));
        assert_eq!((border.top, border.right, border.left), (1, 0, 2));
        let trim = o.trim.unwrap();
        assert_eq!((trim.top, trim.right, trim.bottom, trim.left), (1, 2, 1, 2));
        assert_eq!(trim.width, Some(5));
        assert!(o.onerror_redirect && o.format == FormatOption::Json);
        let o = t("trim=border,trim.border.tolerance=9").unwrap();
        assert_eq!(o.trim.unwrap().border, Some((None, 9, 0)));
        let o = t("trim=border,trim.border.color=#fff").unwrap();
        assert_eq!(
            o.trim.unwrap().border,
            Some((Some(Rgba([255, 255, 255, 255])), 0, 0))
        );
        let o = t("trim.border.color=#ffffff,trim.border.keep=3").unwrap();
        assert_eq!(
            o.trim.unwrap().border,
            Some((Some(Rgba([255, 255, 255, 255])), 0, 3))
        );
        assert_eq!(parse_color("#0f08"), Some(Rgba([0, 255, 0, 136])));
        for bad in [
            "rotate=45",
            "flip=x",
            "blur=251",
            "sharpen=-1",
            "brightness=nan",
            "gravity=1.5x0",
            "background=#12345",
            "border=color:red",
            "border=width:1;style:solid",
            "trim=1;2;3;4;5",
            "trim.border.tolerance=256",
            "onerror=retry",
            "zoom=2",
            "segment=background",
            "compression=slow",
            "scq=0",
            "unknown=1",
        ] {
            assert!(t(bad).is_err(), "{bad}");
        }
        // Flexible variants: unknown options ignored, no JSON; the rest as transformations.
        assert!(Options::parse_flexible("unknown=1").is_ok());
        assert!(Options::parse_flexible("format=json").is_err());
        assert!(Options::parse_flexible("rotate=45").is_err());
        assert_eq!(Options::parse_flexible("rotate=90").unwrap().rotate, 90);
        // A comma inside parentheses does not separate options.
        assert_eq!(t("background=rgb(0,0,255),w=3").unwrap().width, Some(3));
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
    fn extreme_options_on_tiny_images_render() {
        let every = "blur=250,sharpen=10,brightness=100,contrast=100,gamma=0,saturation=100,\
                     background=transparent,border=color:#0000;width:0,trim=12000,rotate=270,\
                     flip=hv,g=1x1,fit=cover,w=3,h=5";
        let o = Options::parse(every, Syntax::Transform).unwrap();
        for (w, h) in [(1, 1), (2, 1), (1, 3)] {
            let r = render(&png(w, h), ImageFormat::Png, &o, false).unwrap();
            let img = image::load_from_memory(&r.bytes).unwrap();
            assert_eq!((img.width(), img.height()), (3, 5));
        }
        let o = Options::parse("trim=border,trim.border.keep=12000", Syntax::Transform).unwrap();
        let r = render(&png(4, 4), ImageFormat::Png, &o, false).unwrap();
        assert_eq!(image::load_from_memory(&r.bytes).unwrap().width(), 4);
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
