//! Cloudflare's documented limits on an uploaded image, measured from the
//! file's header before anything is sent.
//!
//! What is measured and how (Cloudflare's "Limits and formats" page, hosted
//! images):
//! - the format, by magic bytes: PNG, JPEG, GIF, WebP, SVG, HEIC, and AVIF
//!   (which Cloudflare takes on Enterprise plans only: the SDK cannot see the
//!   plan, so it lets AVIF through to be decided there);
//! - width and height, read by the `imagesize` crate: at most
//!   [`MAX_IMAGE_SIDE`] per side ([`MAX_AVIF_SIDE`] for AVIF; WebP is exempt
//!   from the side limit, as documented, its own format stopping at 16,383) and
//!   at most [`MAX_IMAGE_AREA`] pixels;
//! - for GIF and WebP, every frame's area, summed, at most [`MAX_ANIMATION_AREA`]
//!   (Cloudflare counts "the sum of areas of all frames").
//!
//! An SVG has no pixel size (Cloudflare never resizes one), so only its byte
//! size is checked. A header the SDK cannot measure (cut short, or a layout
//! the crate does not read) is left to Cloudflare, which decodes the whole
//! file: only what is measured to break a limit is refused. A
//! [`reader`](super::ImageUpload::reader) is read once, so it is measured from
//! its first [`PEEK_LEN`] bytes only: frames past them are not counted.

use std::io::{self, BufRead, Read};

use crate::error::{Error, ImageLimit, Result};

/// The longest side Cloudflare accepts, in pixels (except WebP and AVIF).
pub const MAX_IMAGE_SIDE: u64 = 12_000;
/// The longest side of an AVIF image Cloudflare accepts, in pixels.
pub const MAX_AVIF_SIDE: u64 = 1_200;
/// The largest width times height Cloudflare accepts: 100 megapixels.
pub const MAX_IMAGE_AREA: u64 = 100_000_000;
/// The largest sum of the frames' areas of an animated GIF or WebP Cloudflare
/// accepts: 100 megapixels. (Animations over 50 megapixels are stored but
/// delivered without transformations.)
pub const MAX_ANIMATION_AREA: u64 = 100_000_000;
/// How much of a [`reader`](super::ImageUpload::reader) is read ahead to
/// measure it: 64 KiB, held in memory until it is sent.
pub const PEEK_LEN: usize = 64 * 1024;

/// Checks the image `body` reads from its start (the whole file, or a
/// reader's peek) against the limits; `mime` is its type by magic bytes.
pub(crate) fn check_image<R: BufRead + io::Seek>(
    mime: &str,
    body: &mut R,
    filename: &str,
) -> Result<()> {
    if mime == "image/svg+xml" {
        return Ok(());
    }
    let Some((width, height)) = dimensions(mime, body) else {
        return Ok(());
    };
    let side_limit = match mime {
        "image/avif" => Some(MAX_AVIF_SIDE),
        "image/webp" => None,
        _ => Some(MAX_IMAGE_SIDE),
    };
    if let Some(limit) = side_limit {
        if width.max(height) > limit {
            return Err(Error::image_limit_exceeded(
                filename,
                ImageLimit::Side {
                    limit,
                    width,
                    height,
                },
            ));
        }
    }
    if width.saturating_mul(height) > MAX_IMAGE_AREA {
        return Err(Error::image_limit_exceeded(
            filename,
            ImageLimit::Area {
                limit: MAX_IMAGE_AREA,
                width,
                height,
            },
        ));
    }
    let frames = match mime {
        "image/gif" => rewind(body).then(|| gif_frames(body)),
        "image/webp" => rewind(body).then(|| webp_frames(body)),
        _ => None,
    };
    if let Some(Frames { count, area }) = frames {
        if count > 1 && area > MAX_ANIMATION_AREA {
            return Err(Error::image_limit_exceeded(
                filename,
                ImageLimit::AnimationArea {
                    limit: MAX_ANIMATION_AREA,
                    frames: count,
                    measured: area,
                },
            ));
        }
    }
    Ok(())
}

/// The refusal of a file whose first bytes are no format Cloudflare accepts,
/// naming the format they suggest when `imagesize` knows it.
pub(crate) fn unsupported_format(head: &[u8], filename: &str) -> Error {
    let detected = imagesize::image_type(head)
        .ok()
        .map(|t| format!("{t:?}").to_uppercase());
    Error::image_limit_exceeded(filename, ImageLimit::Format { detected })
}

fn rewind(body: &mut impl io::Seek) -> bool {
    body.seek(io::SeekFrom::Start(0)).is_ok()
}

/// Width and height from the header, or `None` when it cannot be read.
fn dimensions<R: BufRead + io::Seek>(mime: &str, body: &mut R) -> Option<(u64, u64)> {
    if !rewind(body) {
        return None;
    }
    if mime == "image/png" {
        // imagesize reads a PNG's size at a fixed offset without looking for
        // the IHDR chunk that must hold it: without that chunk there, the
        // numbers would be arbitrary bytes.
        let mut head = [0u8; 16];
        body.read_exact(&mut head).ok()?;
        if &head[12..16] != b"IHDR" || !rewind(body) {
            return None;
        }
    }
    // imagesize multiplies header values in `usize` without checking (a
    // HEIF's `ispe` sizes, up to 2^32 each): on a 32-bit target with overflow
    // checks on, as in debug builds, a hostile header would panic. Such a file
    // counts as unmeasured.
    let size = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        imagesize::reader_size(&mut *body)
    }))
    .ok()?
    .ok()?;
    Some((
        u64::try_from(size.width).ok()?,
        u64::try_from(size.height).ok()?,
    ))
}

/// The frames an animation holds, as far as they could be read.
#[derive(Debug, PartialEq, Eq)]
struct Frames {
    count: u64,
    /// The sum of the frames' own areas (a frame may cover part of the canvas).
    area: u64,
}

impl Frames {
    fn add(&mut self, width: u64, height: u64) {
        self.count += 1;
        self.area = self.area.saturating_add(width.saturating_mul(height));
    }
}

/// Skips `n` bytes through the reader's buffer (a seek on a `BufReader`
/// would drop its buffer for each of a GIF's many small blocks).
fn skip(body: &mut impl BufRead, n: u64) -> io::Result<()> {
    let skipped = io::copy(&mut body.take(n), &mut io::sink())?;
    if skipped < n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

fn byte(body: &mut impl Read) -> io::Result<u8> {
    let mut b = [0u8; 1];
    body.read_exact(&mut b)?;
    Ok(b[0])
}

/// The frames of a GIF, walking its blocks up to the trailer; a block cut
/// short or unknown ends the walk with the frames found so far.
fn gif_frames(body: &mut impl BufRead) -> Frames {
    let mut frames = Frames { count: 0, area: 0 };
    let _ = walk_gif(body, &mut frames);
    frames
}

fn walk_gif(body: &mut impl BufRead, frames: &mut Frames) -> io::Result<()> {
    // Header (6) and logical screen descriptor (7).
    let mut screen = [0u8; 13];
    body.read_exact(&mut screen)?;
    skip_color_table(body, screen[10])?;
    loop {
        match byte(body)? {
            // Extension: a label, then data sub-blocks.
            0x21 => {
                byte(body)?;
                skip_sub_blocks(body)?;
            }
            // Image descriptor: position, size, flags; then the LZW data.
            0x2C => {
                let mut descriptor = [0u8; 9];
                body.read_exact(&mut descriptor)?;
                let width = u16::from_le_bytes([descriptor[4], descriptor[5]]);
                let height = u16::from_le_bytes([descriptor[6], descriptor[7]]);
                frames.add(width.into(), height.into());
                skip_color_table(body, descriptor[8])?;
                byte(body)?;
                skip_sub_blocks(body)?;
            }
            _ => return Ok(()),
        }
    }
}

/// Skips the colour table a GIF's `flags` byte announces, if any.
fn skip_color_table(body: &mut impl BufRead, flags: u8) -> io::Result<()> {
    if flags & 0x80 != 0 {
        skip(body, 3 << ((flags & 0x07) + 1))?;
    }
    Ok(())
}

fn skip_sub_blocks(body: &mut impl BufRead) -> io::Result<()> {
    loop {
        match byte(body)? {
            0 => return Ok(()),
            n => skip(body, n.into())?,
        }
    }
}

/// The frames of a WebP: its `ANMF` chunks (none for a still image); a chunk
/// cut short ends the walk with the frames found so far.
fn webp_frames(body: &mut impl BufRead) -> Frames {
    let mut frames = Frames { count: 0, area: 0 };
    let _ = walk_webp(body, &mut frames);
    frames
}

fn walk_webp(body: &mut impl BufRead, frames: &mut Frames) -> io::Result<()> {
    let mut riff = [0u8; 12];
    body.read_exact(&mut riff)?;
    loop {
        let mut header = [0u8; 8];
        body.read_exact(&mut header)?;
        let size = u64::from(u32::from_le_bytes([
            header[4], header[5], header[6], header[7],
        ]));
        // Chunks are padded to an even length.
        let mut left = size + (size & 1);
        if &header[..4] == b"ANMF" {
            // X and Y offsets (3 bytes each), then width - 1 and height - 1.
            let mut frame = [0u8; 12];
            body.read_exact(&mut frame)?;
            let u24 = |b: &[u8]| u64::from(b[0]) | (u64::from(b[1]) << 8) | (u64::from(b[2]) << 16);
            frames.add(u24(&frame[6..9]) + 1, u24(&frame[9..12]) + 1);
            left = left.saturating_sub(12);
        }
        skip(body, left)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A GIF `width`x`height` with `n` frames of that size, each one pixel of LZW data.
    fn gif(width: u16, height: u16, n: usize) -> Vec<u8> {
        let mut data = b"GIF89a".to_vec();
        data.extend(width.to_le_bytes());
        data.extend(height.to_le_bytes());
        // A global colour table of two entries, then background and aspect.
        data.extend([0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff]);
        // A graphic control extension and a comment, to skip.
        data.extend([0x21, 0xF9, 4, 0, 10, 0, 0, 0]);
        data.extend([0x21, 0xFE, 3, b'h', b'e', b'y', 0]);
        for _ in 0..n {
            data.push(0x2C);
            data.extend([0, 0, 0, 0]);
            data.extend(width.to_le_bytes());
            data.extend(height.to_le_bytes());
            data.push(0);
            data.extend([2, 2, 0x4C, 0x01, 0]);
        }
        data.push(0x3B);
        data
    }

    #[test]
    fn gif_frames_are_counted_past_extensions_and_color_tables() {
        let data = gif(100, 50, 3);
        assert_eq!(
            gif_frames(&mut Cursor::new(&data[..])),
            Frames {
                count: 3,
                area: 15_000
            }
        );
        // Cut short: the frames before the cut.
        let cut = &data[..data.len() - 8];
        assert_eq!(gif_frames(&mut Cursor::new(cut)).count, 2);
    }

    /// A HEIF of brand `brand` whose `ispe` property says `width`x`height`.
    fn heif(brand: &[u8; 4], width: u32, height: u32) -> Vec<u8> {
        let mut data = vec![0, 0, 0, 16];
        data.extend(b"ftyp");
        data.extend(brand);
        data.extend([0; 4]);
        data.extend(48u32.to_be_bytes());
        data.extend(b"meta");
        data.extend([0; 4]);
        data.extend(36u32.to_be_bytes());
        data.extend(b"iprp");
        data.extend(28u32.to_be_bytes());
        data.extend(b"ipco");
        data.extend(20u32.to_be_bytes());
        data.extend(b"ispe");
        data.extend([0; 4]);
        data.extend(width.to_be_bytes());
        data.extend(height.to_be_bytes());
        data
    }

    /// A JPEG's start: SOI, a JFIF APP0 segment, then a baseline SOF0 frame header.
    fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let mut data = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
        data.extend(b"JFIF\0");
        data.extend([1, 1, 0, 0, 1, 0, 1, 0, 0]);
        data.extend([0xFF, 0xC0, 0, 17, 8]);
        data.extend(height.to_be_bytes());
        data.extend(width.to_be_bytes());
        data.extend([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        data
    }

    #[test]
    fn a_jpeg_is_measured_past_its_app_segments() {
        let check = |data: &[u8]| check_image("image/jpeg", &mut Cursor::new(data), "a.jpg");
        assert!(check(&jpeg(12_000, 8_333)).is_ok());
        let err = check(&jpeg(12_001, 2)).unwrap_err();
        assert_eq!(
            err.image_limit(),
            Some(&ImageLimit::Side {
                limit: MAX_IMAGE_SIDE,
                width: 12_001,
                height: 2
            })
        );
        let err = check(&jpeg(10_001, 10_000)).unwrap_err();
        assert_eq!(
            err.image_limit().and_then(ImageLimit::measured),
            Some(100_010_000)
        );
    }

    #[test]
    fn avif_stops_at_1200_pixels_a_side_and_heic_at_12000() {
        let check = |mime: &str, data: &[u8]| check_image(mime, &mut Cursor::new(data), "a");
        assert!(check("image/avif", &heif(b"avif", 1_200, 1_200)).is_ok());
        let err = check("image/avif", &heif(b"avif", 1_201, 1)).unwrap_err();
        assert_eq!(
            err.image_limit(),
            Some(&ImageLimit::Side {
                limit: MAX_AVIF_SIDE,
                width: 1_201,
                height: 1
            })
        );
        assert!(check("image/heic", &heif(b"heic", 12_000, 8_333)).is_ok());
        let err = check("image/heic", &heif(b"heic", 1, 12_001)).unwrap_err();
        assert_eq!(
            err.image_limit().and_then(ImageLimit::limit),
            Some(MAX_IMAGE_SIDE)
        );
        // The largest sizes a header can state are measured, not wrapped.
        let err = check("image/heic", &heif(b"heic", u32::MAX, u32::MAX)).unwrap_err();
        assert_eq!(
            err.image_limit().and_then(ImageLimit::measured),
            Some(u64::from(u32::MAX))
        );
    }

    #[test]
    fn a_still_image_at_the_limits_passes_and_one_over_is_named() {
        let check = |data: &[u8]| check_image("image/gif", &mut Cursor::new(data), "a.gif");
        assert!(check(&gif(12_000, 8_333, 1)).is_ok());
        let err = check(&gif(12_001, 1, 1)).unwrap_err();
        assert_eq!(
            err.image_limit(),
            Some(&ImageLimit::Side {
                limit: MAX_IMAGE_SIDE,
                width: 12_001,
                height: 1
            })
        );
        assert!(check(&gif(10_000, 10_000, 1)).is_ok());
        let err = check(&gif(10_000, 10_001, 1)).unwrap_err();
        assert_eq!(
            err.image_limit().and_then(ImageLimit::measured),
            Some(100_010_000)
        );
        // A header cut before its size is left to Cloudflare.
        assert!(check(b"GIF89a").is_ok());
    }
}
