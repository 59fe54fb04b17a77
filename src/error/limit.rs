//! Which of Cloudflare's limits on an uploaded image a file breaks, measured before sending.

use std::fmt;

/// A documented Cloudflare limit on uploaded images that a file breaks, with
/// what the SDK measured: [`Error::image_limit`](crate::Error::image_limit)
/// returns it for the upload refused before any byte was sent (the error's
/// kind is [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)).
///
/// The numbers are those of [`upload`](crate::upload)'s constants, e.g.
/// [`MAX_IMAGE_SIDE`](crate::upload::MAX_IMAGE_SIDE).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageLimit {
    /// The file is larger than Cloudflare stores, in bytes.
    FileSize {
        /// The largest size accepted.
        limit: u64,
        /// The file's size.
        measured: u64,
    },
    /// A side is longer than Cloudflare accepts for the format, in pixels.
    Side {
        /// The longest side accepted for this format.
        limit: u64,
        /// The image's width.
        width: u64,
        /// The image's height.
        height: u64,
    },
    /// Width times height is more than Cloudflare accepts, in pixels.
    Area {
        /// The largest area accepted.
        limit: u64,
        /// The image's width.
        width: u64,
        /// The image's height.
        height: u64,
    },
    /// The frames of an animated GIF or WebP add up to more pixels than
    /// Cloudflare accepts (the sum of every frame's area).
    AnimationArea {
        /// The largest total accepted.
        limit: u64,
        /// How many frames the file holds.
        frames: u64,
        /// The sum of the frames' areas.
        measured: u64,
    },
    /// The file is not in a format Cloudflare accepts for upload.
    Format {
        /// The format its first bytes suggest, when recognised (e.g. `"BMP"`).
        detected: Option<String>,
    },
}

impl ImageLimit {
    /// The limit broken, in the unit of the variant (`None` for
    /// [`Format`](Self::Format)).
    pub fn limit(&self) -> Option<u64> {
        match self {
            ImageLimit::FileSize { limit, .. }
            | ImageLimit::Side { limit, .. }
            | ImageLimit::Area { limit, .. }
            | ImageLimit::AnimationArea { limit, .. } => Some(*limit),
            ImageLimit::Format { .. } => None,
        }
    }

    /// The value measured against [`limit`](Self::limit): bytes, the longer
    /// side, width times height, or the frames' total area (`None` for
    /// [`Format`](Self::Format)).
    pub fn measured(&self) -> Option<u64> {
        match self {
            ImageLimit::FileSize { measured, .. } | ImageLimit::AnimationArea { measured, .. } => {
                Some(*measured)
            }
            ImageLimit::Side { width, height, .. } => Some((*width).max(*height)),
            ImageLimit::Area { width, height, .. } => Some(width.saturating_mul(*height)),
            ImageLimit::Format { .. } => None,
        }
    }
}

impl ImageLimit {
    /// What the file is or has, to follow "the file ..." (the wording of the
    /// SDK's refusals before this type existed, which scripts may match).
    pub(crate) fn predicate(&self) -> String {
        match self {
            ImageLimit::FileSize { limit, measured } => {
                format!("has {measured} bytes; Cloudflare accepts at most {limit}")
            }
            ImageLimit::Side {
                limit,
                width,
                height,
            } => format!(
                "is {width}x{height} pixels; Cloudflare accepts at most {limit} pixels per side for this format"
            ),
            ImageLimit::Area {
                limit,
                width,
                height,
            } => format!(
                "is {width}x{height} = {} pixels; Cloudflare accepts at most {limit}",
                width.saturating_mul(*height)
            ),
            ImageLimit::AnimationArea {
                limit,
                frames,
                measured,
            } => format!(
                "has {frames} frames adding up to {measured} pixels; Cloudflare accepts at most {limit} for an animation"
            ),
            ImageLimit::Format { detected } => {
                let found = detected
                    .as_ref()
                    .map(|format| format!("is a {format} image, "))
                    .unwrap_or_else(|| "is ".to_owned());
                format!("{found}not a PNG, JPEG, GIF, WebP, SVG, HEIC or AVIF image (by its first bytes)")
            }
        }
    }
}

impl fmt::Display for ImageLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the file {}", self.predicate())
    }
}
