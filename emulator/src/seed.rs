//! Putting images and variants into a running emulator without going through HTTP, for the
//! set-up of a test ([`crate::EmulatorHandle::seed_image`],
//! [`crate::EmulatorHandle::seed_variant`]). Both are checked as the API checks an upload or
//! a variant creation, so a seeded state is one the API could have produced.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::api::fields::{metadata_from_value, validate_custom_id};
use crate::http::ApiError;
use crate::store::{Image, Variant};

/// An image to store, as `POST v1` would store an upload of it.
///
/// ```
/// use cloudflare_images_emulator::{fixtures::PIXEL_PNG, SeedImage};
///
/// let image = SeedImage::new(PIXEL_PNG)
///     .id("products/cat")
///     .filename("cat.png")
///     .metadata(serde_json::json!({"sku": "C-1"}));
/// # let _ = image;
/// ```
#[derive(Debug, Clone)]
pub struct SeedImage {
    data: Bytes,
    id: Option<String>,
    filename: Option<String>,
    metadata: Value,
    require_signed_urls: bool,
}

impl SeedImage {
    /// An image with these bytes (PNG, JPEG, GIF, WebP, SVG, HEIC or AVIF, as for an
    /// upload), a generated UUID, no file name, empty metadata and public delivery.
    pub fn new(data: impl Into<Bytes>) -> Self {
        SeedImage {
            data: data.into(),
            id: None,
            filename: None,
            metadata: Value::Object(Map::new()),
            require_signed_urls: false,
        }
    }

    /// A custom id instead of a generated UUID (the API's rules apply: 1 to 1,024
    /// characters, no leading or trailing `/`, not a UUID).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The file name the API reports.
    pub fn filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// The image's metadata: a JSON object of at most 1,024 bytes, as for an upload.
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// Serve the image only through signed URLs (not with a custom id, as on Cloudflare).
    pub fn require_signed_urls(mut self, on: bool) -> Self {
        self.require_signed_urls = on;
        self
    }

    /// The stored image, or the error the API would answer to the same upload.
    pub(crate) fn into_image(self) -> Result<(Image, Bytes), SeedError> {
        if let Some(id) = &self.id {
            validate_custom_id(id)?;
            if self.require_signed_urls {
                return Err(crate::api::custom_id_signed_error().into());
            }
        }
        let meta = metadata_from_value(&self.metadata)?;
        let mime = crate::api::check_format(&self.data)?;
        let image = Image::uploaded_now(
            self.id,
            self.filename,
            self.require_signed_urls,
            meta,
            None,
            mime,
        );
        Ok((image, self.data))
    }
}

/// A named variant to create, as `POST v1/variants` would.
///
/// ```
/// use cloudflare_images_emulator::SeedVariant;
///
/// let thumb = SeedVariant::new("thumb", 200, 200).fit("cover");
/// # let _ = thumb;
/// ```
#[derive(Debug, Clone)]
pub struct SeedVariant {
    name: String,
    width: u32,
    height: u32,
    fit: String,
    metadata: String,
    never_require_signed_urls: bool,
}

impl SeedVariant {
    /// Variant `name` (1 to 99 letters or digits) of at most `width` x `height` pixels
    /// (1 to 12,000 each), with `fit` `scale-down` and `metadata` `none`.
    pub fn new(name: impl Into<String>, width: u32, height: u32) -> Self {
        SeedVariant {
            name: name.into(),
            width,
            height,
            fit: "scale-down".into(),
            metadata: "none".into(),
            never_require_signed_urls: false,
        }
    }

    /// How the image fits the box: `scale-down`, `contain`, `cover`, `crop` or `pad`.
    pub fn fit(mut self, fit: impl Into<String>) -> Self {
        self.fit = fit.into();
        self
    }

    /// Which metadata the rendered image keeps: `keep`, `copyright` or `none`.
    pub fn metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = metadata.into();
        self
    }

    /// Serve this variant without a signature even for images that require signed URLs.
    pub fn never_require_signed_urls(mut self, on: bool) -> Self {
        self.never_require_signed_urls = on;
        self
    }

    /// The variant, checked by the API's own rules for a creation body.
    pub(crate) fn into_variant(self) -> Result<Variant, SeedError> {
        let mut body = Map::new();
        body.insert("id".into(), Value::String(self.name));
        body.insert(
            "options".into(),
            json!({
                "fit": self.fit,
                "metadata": self.metadata,
                "width": self.width,
                "height": self.height,
            }),
        );
        body.insert(
            "neverRequireSignedURLs".into(),
            Value::Bool(self.never_require_signed_urls),
        );
        Ok(crate::api::variant_from_body(&body)?)
    }
}

/// Why seeding failed: the error the API would have answered to the same upload or variant
/// creation (for example 5409 when the id exists, 5400 for an invalid field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedError {
    status: u16,
    code: u32,
    message: String,
}

impl SeedError {
    /// The HTTP status the API would have answered.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The Cloudflare error code the API would have answered.
    pub fn code(&self) -> u32 {
        self.code
    }

    /// The error message the API would have answered.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for SeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (code {}, HTTP {})",
            self.message, self.code, self.status
        )
    }
}

impl std::error::Error for SeedError {}

impl From<ApiError> for SeedError {
    fn from(e: ApiError) -> Self {
        SeedError {
            status: e.status.as_u16(),
            code: e.code,
            message: e.message,
        }
    }
}
