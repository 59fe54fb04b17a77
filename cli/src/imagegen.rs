//! Tiny image encoders for `cfimg demo`: real, decodable PNG, JPEG and WebP files,
//! made at run time without an image library.
//!
//! - PNG: 8-bit RGB, zlib with stored (uncompressed) deflate blocks, CRC-32 per
//!   chunk and Adler-32 over the raw scanlines.
//! - JPEG: baseline (SOF0), YCbCr 4:4:4, the example quantization and Huffman
//!   tables of ITU T.81 Annex K, a straightforward floating-point DCT.
//! - WebP: lossless (VP8L) with no transforms and "simple" prefix codes of one or
//!   two symbols per channel, so a two-colour pattern costs a few bits per pixel.
//!
//! All three were checked with independent decoders when written: Pillow (with
//! libjpeg-turbo and libwebp) opens them; the PNG and WebP decode to exactly the
//! pixels asked for, the JPEG to within 10 levels per channel (quantization). See
//! `write_samples` below to repeat that. The unit tests check the structure and,
//! for PNG and WebP, decode them again.

/// An RGB colour.
pub type Rgb = [u8; 3];

// ------------------------------------------------------------------------------------------
// PNG

/// CRC-32 (IEEE, as PNG and zlib's gzip use it).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Adler-32, zlib's checksum.
pub fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

/// A zlib stream of stored (uncompressed) deflate blocks.
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65_535).collect()
    };
    let last = blocks.len() - 1;
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i == last)); // BFINAL, BTYPE = 00 (stored)
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// An 8-bit RGB PNG of `width` x `height`, coloured by `pixel(x, y)`.
pub fn png(width: u32, height: u32, pixel: impl Fn(u32, u32) -> Rgb) -> Vec<u8> {
    let mut raw = Vec::with_capacity((height * (1 + 3 * width)) as usize);
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&pixel(x, y));
        }
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // depth 8, RGB, deflate, filter 0, no interlace
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

// ------------------------------------------------------------------------------------------
// JPEG

/// Zigzag position -> natural (row-major) index in an 8x8 block.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// Annex K.1 luminance quantization table, natural order.
const Q_LUMA: [u8; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/// Annex K.1 chrominance quantization table, natural order.
const Q_CHROMA: [u8; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

const DC_LUMA_BITS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_CHROMA_BITS: [u8; 16] = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
const DC_VALUES: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

const AC_LUMA_BITS: [u8; 16] = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
const AC_LUMA_VALUES: [u8; 162] = [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
    0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
    0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
    0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
    0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
    0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
    0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
    0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
    0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
    0xf9, 0xfa,
];

const AC_CHROMA_BITS: [u8; 16] = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
const AC_CHROMA_VALUES: [u8; 162] = [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
    0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
    0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
    0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
    0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
    0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
    0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
    0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
    0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
    0xf9, 0xfa,
];

/// A Huffman table as (code, length) per symbol, built as in T.81 Annex C.
struct Huffman {
    codes: [(u16, u8); 256],
}

impl Huffman {
    fn new(bits: &[u8; 16], values: &[u8]) -> Huffman {
        let mut codes = [(0u16, 0u8); 256];
        let mut code = 0u16;
        let mut k = 0;
        for (i, &count) in bits.iter().enumerate() {
            for _ in 0..count {
                if let Some(&symbol) = values.get(k) {
                    codes[usize::from(symbol)] = (code, (i + 1) as u8);
                }
                code = code.wrapping_add(1);
                k += 1;
            }
            code <<= 1;
        }
        Huffman { codes }
    }
}

/// Writes entropy-coded bits, stuffing a 0x00 after every 0xFF byte.
struct JpegBits {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl JpegBits {
    fn put(&mut self, value: u16, len: u8) {
        for i in (0..len).rev() {
            self.acc = (self.acc << 1) | u32::from((value >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                let byte = self.acc as u8;
                self.out.push(byte);
                if byte == 0xFF {
                    self.out.push(0);
                }
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    fn finish(mut self) -> Vec<u8> {
        while self.n != 0 {
            self.put(1, 1);
        }
        self.out
    }
}

/// The magnitude category of a coefficient and its extra bits.
fn category(value: i32) -> (u8, u16) {
    let magnitude = value.unsigned_abs();
    let size = (32 - magnitude.leading_zeros()) as u8;
    let bits = if value < 0 {
        (value - 1) as u16 & ((1u16 << size) - 1)
    } else {
        value as u16
    };
    (size, bits)
}

fn fdct_quantize(block: &[f32; 64], quant: &[u8; 64]) -> [i32; 64] {
    let mut out = [0i32; 64];
    let c = |k: usize| {
        if k == 0 {
            std::f32::consts::FRAC_1_SQRT_2
        } else {
            1.0
        }
    };
    for v in 0..8 {
        for u in 0..8 {
            let mut sum = 0.0f32;
            for y in 0..8 {
                for x in 0..8 {
                    sum += block[y * 8 + x]
                        * (((2 * x + 1) as f32 * u as f32 * std::f32::consts::PI) / 16.0).cos()
                        * (((2 * y + 1) as f32 * v as f32 * std::f32::consts::PI) / 16.0).cos();
                }
            }
            let coefficient = 0.25 * c(u) * c(v) * sum;
            out[v * 8 + u] = (coefficient / f32::from(quant[v * 8 + u])).round() as i32;
        }
    }
    out
}

fn encode_block(
    bits: &mut JpegBits,
    coefficients: &[i32; 64],
    previous_dc: &mut i32,
    dc: &Huffman,
    ac: &Huffman,
) {
    let diff = coefficients[0] - *previous_dc;
    *previous_dc = coefficients[0];
    let (size, extra) = category(diff);
    let (code, len) = dc.codes[usize::from(size)];
    bits.put(code, len);
    bits.put(extra, size);
    let mut run = 0u8;
    for &index in &ZIGZAG[1..] {
        let value = coefficients[index];
        if value == 0 {
            run += 1;
            continue;
        }
        while run > 15 {
            let (code, len) = ac.codes[0xF0];
            bits.put(code, len);
            run -= 16;
        }
        let (size, extra) = category(value);
        let (code, len) = ac.codes[usize::from((run << 4) | size)];
        bits.put(code, len);
        bits.put(extra, size);
        run = 0;
    }
    if run > 0 {
        let (code, len) = ac.codes[0x00];
        bits.put(code, len);
    }
}

fn marker_segment(out: &mut Vec<u8>, marker: u8, data: &[u8]) {
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&((data.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(data);
}

/// A baseline JPEG (JFIF, YCbCr 4:4:4) of `width` x `height` (each 1..=65535),
/// coloured by `pixel(x, y)`.
pub fn jpeg(width: u16, height: u16, pixel: impl Fn(u32, u32) -> Rgb) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    marker_segment(
        &mut out,
        0xE0,
        &[b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0],
    );
    for (id, table) in [(0u8, &Q_LUMA), (1u8, &Q_CHROMA)] {
        let mut data = vec![id];
        data.extend(ZIGZAG.iter().map(|&i| table[i]));
        marker_segment(&mut out, 0xDB, &data);
    }
    let mut sof = vec![8];
    sof.extend_from_slice(&height.to_be_bytes());
    sof.extend_from_slice(&width.to_be_bytes());
    sof.extend_from_slice(&[3, 1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1]);
    marker_segment(&mut out, 0xC0, &sof);
    for (class_id, bits, values) in [
        (0x00u8, &DC_LUMA_BITS, &DC_VALUES[..]),
        (0x10, &AC_LUMA_BITS, &AC_LUMA_VALUES[..]),
        (0x01, &DC_CHROMA_BITS, &DC_VALUES[..]),
        (0x11, &AC_CHROMA_BITS, &AC_CHROMA_VALUES[..]),
    ] {
        let mut data = vec![class_id];
        data.extend_from_slice(bits);
        data.extend_from_slice(values);
        marker_segment(&mut out, 0xC4, &data);
    }
    marker_segment(&mut out, 0xDA, &[3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]);

    let dc_luma = Huffman::new(&DC_LUMA_BITS, &DC_VALUES);
    let ac_luma = Huffman::new(&AC_LUMA_BITS, &AC_LUMA_VALUES);
    let dc_chroma = Huffman::new(&DC_CHROMA_BITS, &DC_VALUES);
    let ac_chroma = Huffman::new(&AC_CHROMA_BITS, &AC_CHROMA_VALUES);
    let mut bits = JpegBits {
        out: Vec::new(),
        acc: 0,
        n: 0,
    };
    let mut previous = [0i32; 3];
    let (w, h) = (u32::from(width), u32::from(height));
    for by in (0..h).step_by(8) {
        for bx in (0..w).step_by(8) {
            let mut planes = [[0f32; 64]; 3];
            for y in 0..8 {
                for x in 0..8 {
                    // Edge blocks repeat the last row and column.
                    let [r, g, b] = pixel((bx + x).min(w - 1), (by + y).min(h - 1)).map(f32::from);
                    let i = (y * 8 + x) as usize;
                    planes[0][i] = 0.299 * r + 0.587 * g + 0.114 * b - 128.0;
                    planes[1][i] = -0.168_736 * r - 0.331_264 * g + 0.5 * b;
                    planes[2][i] = 0.5 * r - 0.418_688 * g - 0.081_312 * b;
                }
            }
            for (c, plane) in planes.iter().enumerate() {
                let (quant, dc, ac) = if c == 0 {
                    (&Q_LUMA, &dc_luma, &ac_luma)
                } else {
                    (&Q_CHROMA, &dc_chroma, &ac_chroma)
                };
                let coefficients = fdct_quantize(plane, quant);
                encode_block(&mut bits, &coefficients, &mut previous[c], dc, ac);
            }
        }
    }
    out.extend_from_slice(&bits.finish());
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

// ------------------------------------------------------------------------------------------
// WebP (lossless)

/// Writes bits least-significant first, as VP8L reads them.
struct LsbBits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl LsbBits {
    fn put(&mut self, value: u32, len: u32) {
        self.acc |= u64::from(value & ((1u32 << len) - 1)) << self.n;
        self.n += len;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A "simple" VP8L prefix code of one or two 8-bit symbols. Returns the symbols in
/// code order: with two, the smaller is coded `0` and the larger `1`.
fn simple_code(bits: &mut LsbBits, a: u8, b: u8) -> (u8, u8) {
    let (lo, hi) = (a.min(b), a.max(b));
    bits.put(1, 1); // simple code
    if lo == hi {
        bits.put(0, 1); // one symbol
        bits.put(1, 1); // 8-bit symbol
        bits.put(u32::from(lo), 8);
    } else {
        bits.put(1, 1); // two symbols
        bits.put(1, 1); // first is 8 bits
        bits.put(u32::from(lo), 8);
        bits.put(u32::from(hi), 8);
    }
    (lo, hi)
}

/// A lossless WebP of `width` x `height` (each 1..=16384) in which every pixel is one
/// of two colours: `pattern(x, y)` picks `colors[1]` when true, else `colors[0]`.
pub fn webp_two_color(
    width: u32,
    height: u32,
    colors: [Rgb; 2],
    pattern: impl Fn(u32, u32) -> bool,
) -> Vec<u8> {
    let mut bits = LsbBits {
        out: vec![0x2F],
        acc: 0,
        n: 0,
    };
    bits.put(width - 1, 14);
    bits.put(height - 1, 14);
    bits.put(0, 1); // alpha not used
    bits.put(0, 3); // version 0
    bits.put(0, 1); // no transform
    bits.put(0, 1); // no colour cache
    bits.put(0, 1); // no meta prefix codes
    let [c0, c1] = colors;
    // Prefix codes in order: green, red, blue, alpha, distance.
    let green = simple_code(&mut bits, c0[1], c1[1]);
    let red = simple_code(&mut bits, c0[0], c1[0]);
    let blue = simple_code(&mut bits, c0[2], c1[2]);
    simple_code(&mut bits, 255, 255);
    bits.put(1, 1); // distance: simple code,
    bits.put(0, 1); // one symbol,
    bits.put(0, 1); // 1-bit symbol
    bits.put(0, 1); // 0
    for y in 0..height {
        for x in 0..width {
            let color = if pattern(x, y) { c1 } else { c0 };
            for (channel, (lo, hi)) in [(1, green), (0, red), (2, blue)] {
                if lo != hi {
                    bits.put(u32::from(color[channel] == hi), 1);
                }
            }
        }
    }
    let data = bits.finish();
    let padded = data.len() + data.len() % 2;
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&((4 + 8 + padded) as u32).to_le_bytes());
    out.extend_from_slice(b"WEBPVP8L");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

// ------------------------------------------------------------------------------------------
// The demo's pictures

/// A 96x64 PNG: a diagonal gradient from teal to orange.
pub fn demo_png() -> Vec<u8> {
    png(96, 64, |x, y| {
        let t = (x + y) as f32 / (96 + 64 - 2) as f32;
        let mix = |a: f32, b: f32| (a + (b - a) * t).round() as u8;
        [mix(0.0, 246.0), mix(128.0, 130.0), mix(128.0, 31.0)]
    })
}

/// A 48x32 JPEG: a radial gradient, orange in the middle, dark blue at the edges.
pub fn demo_jpeg() -> Vec<u8> {
    jpeg(48, 32, |x, y| {
        let (dx, dy) = (x as f32 - 23.5, y as f32 - 15.5);
        let t = ((dx * dx + dy * dy).sqrt() / 28.3).min(1.0);
        let mix = |a: f32, b: f32| (a + (b - a) * t).round() as u8;
        [mix(243.0, 20.0), mix(128.0, 40.0), mix(32.0, 110.0)]
    })
}

/// A 32x32 lossless WebP: an orange and blue checkerboard of 8-pixel squares.
pub fn demo_webp() -> Vec<u8> {
    webp_two_color(32, 32, [[246, 130, 31], [20, 60, 200]], |x, y| {
        (x / 8 + y / 8) % 2 == 1
    })
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

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn huffman_tables_are_complete() {
        let count = |bits: &[u8; 16]| bits.iter().map(|&b| usize::from(b)).sum::<usize>();
        assert_eq!(count(&DC_LUMA_BITS), DC_VALUES.len());
        assert_eq!(count(&DC_CHROMA_BITS), DC_VALUES.len());
        assert_eq!(count(&AC_LUMA_BITS), AC_LUMA_VALUES.len());
        assert_eq!(count(&AC_CHROMA_BITS), AC_CHROMA_VALUES.len());
        let mut sorted = ZIGZAG.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..64).collect::<Vec<_>>());
    }

    /// Inflates our stored-block zlib stream and checks the PNG's checksums.
    #[test]
    fn png_round_trips() {
        let png = png(3, 2, |x, y| [x as u8, y as u8, 7]);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let mut pos = 8;
        let mut idat = Vec::new();
        while pos < png.len() {
            let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
            let body = &png[pos + 4..pos + 8 + len];
            let crc = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
            assert_eq!(crc32(body), crc);
            if &body[..4] == b"IDAT" {
                idat.extend_from_slice(&body[4..]);
            }
            pos += 12 + len;
        }
        assert_eq!(&idat[..2], &[0x78, 0x01]);
        assert_eq!((u16::from(idat[0]) << 8 | u16::from(idat[1])) % 31, 0);
        let len = u16::from_le_bytes([idat[3], idat[4]]) as usize;
        assert_eq!(idat[2], 1);
        let raw = &idat[7..7 + len];
        assert_eq!(
            raw,
            &[0, 0, 0, 7, 1, 0, 7, 2, 0, 7, 0, 0, 1, 7, 1, 1, 7, 2, 1, 7]
        );
        let adler = u32::from_be_bytes(idat[7 + len..].try_into().unwrap());
        assert_eq!(adler, adler32(raw));
    }

    #[test]
    fn large_png_uses_several_blocks() {
        let data = vec![9u8; 70_000];
        let z = zlib_stored(&data);
        assert_eq!(z.len(), 2 + 5 + 65_535 + 5 + (70_000 - 65_535) + 4);
        assert_eq!(z[2], 0);
    }

    #[test]
    fn jpeg_has_the_baseline_structure() {
        let jpg = demo_jpeg();
        assert!(jpg.starts_with(&[0xFF, 0xD8, 0xFF, 0xE0]));
        assert!(jpg.ends_with(&[0xFF, 0xD9]));
        let sof = jpg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        assert_eq!(&jpg[sof + 5..sof + 9], &[0, 32, 0, 48]);
        // No marker inside the entropy-coded data: every 0xFF is stuffed.
        let sos = jpg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let scan = &jpg[sos + 14..jpg.len() - 2];
        for (i, w) in scan.windows(2).enumerate() {
            assert!(w[0] != 0xFF || w[1] == 0, "unstuffed 0xFF at {i}");
        }
    }

    #[test]
    fn categories() {
        assert_eq!(category(0), (0, 0));
        assert_eq!(category(1), (1, 1));
        assert_eq!(category(-1), (1, 0));
        assert_eq!(category(-3), (2, 0));
        assert_eq!(category(5), (3, 5));
    }

    /// Decodes our WebP again with a reader of just the features we write.
    #[test]
    fn webp_round_trips() {
        let colors = [[246, 130, 31], [20, 60, 200]];
        let webp = webp_two_color(5, 3, colors, |x, y| (x + y) % 2 == 0);
        assert_eq!(&webp[..4], b"RIFF");
        assert_eq!(&webp[8..16], b"WEBPVP8L");
        let riff = u32::from_le_bytes(webp[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff + 8, webp.len());
        let data = &webp[20..];
        assert_eq!(data[0], 0x2F);
        let mut pos = 8usize;
        let mut read = |n: u32| {
            let mut v = 0u32;
            for i in 0..n {
                let bit = (data[pos / 8] >> (pos % 8)) & 1;
                v |= u32::from(bit) << i;
                pos += 1;
            }
            v
        };
        assert_eq!(read(14) + 1, 5);
        assert_eq!(read(14) + 1, 3);
        assert_eq!(
            (read(1), read(3), read(1), read(1), read(1)),
            (0, 0, 0, 0, 0)
        );
        let mut codes = Vec::new();
        for _ in 0..5 {
            assert_eq!(read(1), 1);
            let two = read(1) == 1;
            let first = if read(1) == 1 { read(8) } else { read(1) };
            let second = if two { Some(read(8)) } else { None };
            codes.push((first, second));
        }
        assert_eq!(codes[3], (255, None));
        assert_eq!(codes[4], (0, None));
        for y in 0..3 {
            for x in 0..5 {
                let expect = colors[usize::from((x + y) % 2 == 0)];
                let mut px = [0u32; 3];
                for (channel, code) in [(1, codes[0]), (0, codes[1]), (2, codes[2])] {
                    px[channel] = match code {
                        (only, None) => only,
                        (lo, Some(hi)) => {
                            if read(1) == 1 {
                                hi
                            } else {
                                lo
                            }
                        }
                    };
                }
                assert_eq!(px, expect.map(u32::from), "pixel {x},{y}");
            }
        }
    }
}

/// Writes the demo's images for checking with other decoders:
/// `CFIMG_SAMPLES_DIR=/tmp/s cargo test -p cfimg -- --ignored write_samples`, then e.g.
/// `python3 -c "from PIL import Image; Image.open('/tmp/s/radial.jpg').load()"`.
#[cfg(test)]
#[test]
#[ignore = "writes files for manual checks with external decoders"]
fn write_samples() {
    let dir = std::env::var("CFIMG_SAMPLES_DIR").unwrap_or_else(|_| "cfimg-samples".into());
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in [
        ("gradient.png", demo_png()),
        ("radial.jpg", demo_jpeg()),
        ("checker.webp", demo_webp()),
    ] {
        std::fs::write(std::path::Path::new(&dir).join(name), data).unwrap();
    }
}
