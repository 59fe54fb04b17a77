//! The pictures `cfimg demo` uploads: real PNG, JPEG and WebP files made at run time with
//! the `image` crate (the same version and features as the emulator's, so it is compiled
//! once: PNG, baseline JPEG, lossless WebP).
//!
//! Encoding in-memory pixels into a `Vec` cannot fail for these formats and sizes except
//! through a bug; the encoders' `Result` is still handled, by returning what was written
//! (an empty or truncated file that the upload then reports), never by panicking.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, RgbImage};

/// An RGB colour.
pub type Rgb = [u8; 3];

/// `width` x `height` RGB pixels, coloured by `pixel(x, y)`, encoded as `format`.
fn encode(
    width: u32,
    height: u32,
    format: ImageFormat,
    pixel: impl Fn(u32, u32) -> Rgb,
) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| image::Rgb(pixel(x, y)));
    let mut out = Cursor::new(Vec::new());
    // See the module docs: a failure here leaves a short file, which the upload rejects.
    let _ = DynamicImage::ImageRgb8(img).write_to(&mut out, format);
    out.into_inner()
}

/// An 8-bit RGB PNG of `width` x `height`, coloured by `pixel(x, y)`.
pub fn png(width: u32, height: u32, pixel: impl Fn(u32, u32) -> Rgb) -> Vec<u8> {
    encode(width, height, ImageFormat::Png, pixel)
}

/// A baseline JPEG of `width` x `height` (quality 75, the `image` crate's default).
pub fn jpeg(width: u32, height: u32, pixel: impl Fn(u32, u32) -> Rgb) -> Vec<u8> {
    encode(width, height, ImageFormat::Jpeg, pixel)
}

/// A lossless WebP of `width` x `height`.
pub fn webp(width: u32, height: u32, pixel: impl Fn(u32, u32) -> Rgb) -> Vec<u8> {
    encode(width, height, ImageFormat::WebP, pixel)
}

// ------------------------------------------------------------------------------------------
// The demo's pictures

/// The size of [`demo_png`].
pub const DEMO_PNG_SIZE: (u32, u32) = (96, 64);
/// The size of [`demo_jpeg`].
pub const DEMO_JPEG_SIZE: (u32, u32) = (48, 32);
/// The size of [`demo_webp`].
pub const DEMO_WEBP_SIZE: (u32, u32) = (32, 32);

/// A 96x64 PNG: a diagonal gradient from teal to orange.
pub fn demo_png() -> Vec<u8> {
    let (w, h) = DEMO_PNG_SIZE;
    png(w, h, |x, y| {
        let t = (x + y) as f32 / (w + h - 2) as f32;
        let mix = |a: f32, b: f32| (a + (b - a) * t).round() as u8;
        [mix(0.0, 246.0), mix(128.0, 130.0), mix(128.0, 31.0)]
    })
}

/// A 48x32 JPEG: a radial gradient, orange in the middle, dark blue at the edges.
pub fn demo_jpeg() -> Vec<u8> {
    let (w, h) = DEMO_JPEG_SIZE;
    jpeg(w, h, |x, y| {
        let (dx, dy) = (x as f32 - 23.5, y as f32 - 15.5);
        let t = ((dx * dx + dy * dy).sqrt() / 28.3).min(1.0);
        let mix = |a: f32, b: f32| (a + (b - a) * t).round() as u8;
        [mix(243.0, 20.0), mix(128.0, 40.0), mix(32.0, 110.0)]
    })
}

/// The two colours of [`demo_webp`]'s checkerboard.
const CHECKER: [Rgb; 2] = [[246, 130, 31], [20, 60, 200]];

/// A 32x32 lossless WebP: an orange and blue checkerboard of 8-pixel squares.
pub fn demo_webp() -> Vec<u8> {
    let (w, h) = DEMO_WEBP_SIZE;
    webp(w, h, |x, y| CHECKER[usize::from((x / 8 + y / 8) % 2 == 1)])
}

/// A 16x16 PNG in hue `i` of `n`, darker towards the bottom.
pub fn swatch_png(i: u32, n: u32) -> Vec<u8> {
    let hue = i as f32 / n.max(1) as f32 * 6.0;
    let x = 1.0 - (hue % 2.0 - 1.0).abs();
    let (r, g, b) = match hue as u32 {
        0 => (1.0, x, 0.0),
        1 => (x, 1.0, 0.0),
        2 => (0.0, 1.0, x),
        3 => (0.0, x, 1.0),
        4 => (x, 0.0, 1.0),
        _ => (1.0, 0.0, x),
    };
    png(16, 16, |_, y| {
        let shade = 1.0 - y as f32 / 32.0;
        [r, g, b].map(|c| (c * shade * 255.0).round() as u8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `data`, checking its format (by content, not by name) and size.
    #[track_caller]
    fn decode(data: &[u8], format: ImageFormat, size: (u32, u32)) -> image::RgbImage {
        assert_eq!(image::guess_format(data).expect("a known format"), format);
        let img = image::load_from_memory_with_format(data, format).expect("decodes");
        assert_eq!((img.width(), img.height()), size);
        img.to_rgb8()
    }

    #[test]
    fn png_and_webp_decode_to_exactly_the_pixels_asked_for() {
        let pixel = |x: u32, y: u32| [x as u8 * 40, y as u8 * 70, 7];
        for (data, format) in [
            (png(5, 3, pixel), ImageFormat::Png),
            (webp(5, 3, pixel), ImageFormat::WebP),
        ] {
            let img = decode(&data, format, (5, 3));
            for (x, y, p) in img.enumerate_pixels() {
                assert_eq!(p.0, pixel(x, y), "{format:?} pixel {x},{y}");
            }
        }
    }

    #[test]
    fn the_demo_pictures_decode_with_their_sizes() {
        let img = decode(&demo_png(), ImageFormat::Png, DEMO_PNG_SIZE);
        assert_eq!(img.get_pixel(0, 0).0, [0, 128, 128]);
        assert_eq!(img.get_pixel(95, 63).0, [246, 130, 31]);

        // JPEG is lossy: the centre is orange and the corners dark blue, within a margin.
        let img = decode(&demo_jpeg(), ImageFormat::Jpeg, DEMO_JPEG_SIZE);
        let near = |got: [u8; 3], want: [u8; 3]| {
            got.iter()
                .zip(want)
                .all(|(g, w)| (i16::from(*g) - i16::from(w)).abs() <= 12)
        };
        assert!(
            near(img.get_pixel(24, 16).0, [243, 128, 32]),
            "{:?}",
            img.get_pixel(24, 16)
        );
        assert!(
            near(img.get_pixel(0, 0).0, [21, 40, 110]),
            "{:?}",
            img.get_pixel(0, 0)
        );
        // Baseline (SOF0), as Cloudflare and every browser read.
        assert!(demo_jpeg().windows(2).any(|w| w == [0xFF, 0xC0]));

        let img = decode(&demo_webp(), ImageFormat::WebP, DEMO_WEBP_SIZE);
        assert_eq!(img.get_pixel(0, 0).0, CHECKER[0]);
        assert_eq!(img.get_pixel(8, 0).0, CHECKER[1]);
        assert_eq!(img.get_pixel(8, 8).0, CHECKER[0]);

        for i in 0..9 {
            let img = decode(&swatch_png(i, 9), ImageFormat::Png, (16, 16));
            // Darker towards the bottom.
            let sum = |p: &image::Rgb<u8>| p.0.iter().map(|c| u32::from(*c)).sum::<u32>();
            assert!(
                sum(img.get_pixel(0, 15)) < sum(img.get_pixel(0, 0)),
                "swatch {i}"
            );
        }
        assert_ne!(swatch_png(0, 9), swatch_png(4, 9));
    }
}
