//! Test data shared by the workspace's test suites, examples and doc tests (they all
//! depend on the emulator), so each image is written out once.

/// A valid 1x1 PNG: one opaque red pixel (RGBA, 70 bytes; the file
/// `emulator/fixtures/pixel.png`).
///
/// It passes every check an upload goes through (the SDK's and the emulator's format
/// sniffing, Cloudflare's size limits), and a delivery answers it byte for byte.
///
/// ```
/// use cloudflare_images_emulator::fixtures::PIXEL_PNG;
/// assert!(PIXEL_PNG.starts_with(b"\x89PNG\r\n\x1a\n"));
/// ```
pub const PIXEL_PNG: &[u8] = include_bytes!("../fixtures/pixel.png");

#[cfg(test)]
mod tests {
    use super::PIXEL_PNG;

    /// Splits a PNG into its chunks: `(type, data)`; `None` if the framing is broken.
    fn chunks(png: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
        let mut rest = png.strip_prefix(b"\x89PNG\r\n\x1a\n")?;
        let mut out = Vec::new();
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            let kind = rest.get(4..8)?;
            let data = rest.get(8..8 + len)?;
            rest = rest.get(8 + len + 4..)?;
            out.push((kind, data));
        }
        Some(out)
    }

    #[test]
    fn pixel_png_is_a_whole_1x1_png() {
        let chunks = chunks(PIXEL_PNG).expect("PNG framing");
        let kinds: Vec<&[u8]> = chunks.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, [&b"IHDR"[..], b"IDAT", b"IEND"]);
        let ihdr = chunks[0].1;
        assert_eq!(&ihdr[..8], &[0, 0, 0, 1, 0, 0, 0, 1], "width 1, height 1");
    }
}
