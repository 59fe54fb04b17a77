//! The geometry of each `fit` mode: the resize, crop and canvas a render applies.

use super::*;

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
    pub(super) fn peak_pixels(&self) -> u64 {
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

/// Applies `plan`: crops keep the part `gravity` points at (x and y in 0..=1), padding is
/// `pad`.
pub(super) fn apply(
    img: DynamicImage,
    plan: &Plan,
    gravity: (f32, f32),
    pad: Rgba<u8>,
) -> DynamicImage {
    let mut img = img;
    if (img.width(), img.height()) != plan.resize {
        img = img.resize_exact(plan.resize.0, plan.resize.1, FilterType::Triangle);
    }
    if let Some((cw, ch)) = plan.crop {
        // The spare pixels times a fraction in 0..=1, so the result fits in a u32.
        let offset = |spare: u32, at: f32| (f64::from(spare) * f64::from(at)).round() as u32;
        let x = offset(img.width().saturating_sub(cw), gravity.0);
        let y = offset(img.height().saturating_sub(ch), gravity.1);
        img = img.crop_imm(x, y, cw, ch);
    }
    if let Some((w, h)) = plan.canvas {
        let mut canvas = RgbaImage::from_pixel(w, h, pad);
        let x = i64::from(w.saturating_sub(img.width()) / 2);
        let y = i64::from(h.saturating_sub(img.height()) / 2);
        image::imageops::overlay(&mut canvas, &img.to_rgba8(), x, y);
        img = DynamicImage::ImageRgba8(canvas);
    }
    img
}
