//! The two multipart operations, written by hand because progenitor cannot
//! generate `multipart/form-data` bodies: v1 upload and v2 direct upload.
//!
//! They go through the generated client's `reqwest::Client`, base URL and hooks,
//! and return the same typed results and [`Error`]s as generated methods.

use bytes::Bytes;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use progenitor_client::{encode_path, ClientHooks, ClientInfo, OperationInfo, ResponseValue};
use reqwest::multipart::{Form, Part};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::api::types;
use crate::error::{Error, Result};
use crate::Client;

/// The largest image Cloudflare stores: 10 MB.
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;
/// The largest `metadata`, serialized: 1,024 bytes.
pub const MAX_METADATA_BYTES: usize = 1024;
/// The longest custom id: 1,024 characters.
pub const MAX_CUSTOM_ID_LEN: usize = 1024;

/// Where an upload's image comes from.
#[derive(Clone)]
enum Source {
    Bytes { data: Bytes, filename: String },
    Url(String),
}

/// Uploads an image (`POST /accounts/{account_id}/images/v1`): built by
/// [`V1::create`](crate::resources::V1::create).
///
/// Give exactly one of [`file`](Self::file) or [`url`](Self::url).
#[derive(Clone)]
#[must_use = "a request does nothing until it is sent with `.send().await`"]
pub struct ImageUpload<'a> {
    client: &'a Client,
    sources: Vec<Source>,
    id: Option<String>,
    creator: Option<String>,
    metadata: Option<Map<String, Value>>,
    require_signed_urls: Option<bool>,
}

impl std::fmt::Debug for ImageUpload<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageUpload")
            .field("id", &self.id)
            .field("creator", &self.creator)
            .field("require_signed_urls", &self.require_signed_urls)
            .finish_non_exhaustive()
    }
}

impl<'a> ImageUpload<'a> {
    /// A new upload on `client`; usually reached as `client.v1().create()`.
    pub fn new(client: &'a Client) -> Self {
        ImageUpload {
            client,
            sources: Vec::new(),
            id: None,
            creator: None,
            metadata: None,
            require_signed_urls: None,
        }
    }

    /// The image's bytes, and the file name Cloudflare records for it.
    pub fn file(mut self, data: impl Into<Bytes>, filename: impl Into<String>) -> Self {
        self.sources.push(Source::Bytes {
            data: data.into(),
            filename: filename.into(),
        });
        self
    }

    /// A URL Cloudflare fetches the image from.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.sources.push(Source::Url(url.into()));
        self
    }

    /// A custom id (up to 1,024 characters, may contain `/`, must not start or
    /// end with `/`, must not be a UUID). Cloudflare picks one otherwise.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Your internal user id for the image's creator.
    pub fn creator(mut self, creator: impl Into<String>) -> Self {
        self.creator = Some(creator.into());
        self
    }

    /// Key-value metadata (at most 1,024 bytes as JSON).
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Whether the image is served only through signed URLs.
    pub fn require_signed_urls(mut self, value: bool) -> Self {
        self.require_signed_urls = Some(value);
        self
    }

    fn validate(&self) -> Result<()> {
        match self.sources.as_slice() {
            [] => {
                return Err(Error::invalid_input(
                    "an upload needs a file or a URL: call file() or url()",
                ))
            }
            [_] => {}
            _ => {
                return Err(Error::invalid_input(
                    "an upload takes one file or one URL, not several",
                ))
            }
        }
        if let [Source::Bytes { data, .. }] = self.sources.as_slice() {
            if data.is_empty() {
                return Err(Error::invalid_input("the file is empty"));
            }
            if data.len() as u64 > MAX_IMAGE_BYTES {
                return Err(Error::invalid_input(format!(
                    "the file has {} bytes; Cloudflare accepts at most {MAX_IMAGE_BYTES}",
                    data.len()
                )));
            }
        }
        if let [Source::Url(url)] = self.sources.as_slice() {
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| Error::invalid_input(format!("invalid image URL {url:?}: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(Error::invalid_input(format!(
                    "image URL {url:?} is not http(s)"
                )));
            }
        }
        if let Some(id) = &self.id {
            validate_custom_id(id)?;
            if self.require_signed_urls == Some(true) {
                return Err(Error::invalid_input(
                    "an image with a custom id cannot require signed URLs (Cloudflare rejects the combination)",
                ));
            }
        }
        Ok(())
    }

    /// Validates, uploads, and returns the stored image.
    pub async fn send(self) -> Result<types::Image> {
        self.validate()?;
        let metadata = metadata_field(self.metadata.as_ref())?;
        let mut form = Form::new();
        form = match self.sources.into_iter().next() {
            Some(Source::Bytes { data, filename }) => {
                let mime = sniff_image_type(&data).unwrap_or("application/octet-stream");
                let part =
                    Part::stream_with_length(reqwest::Body::from(data.clone()), data.len() as u64)
                        .file_name(filename)
                        .mime_str(mime)
                        .map_err(|e| Error::invalid_input("invalid content type").with_source(e))?;
                form.part("file", part)
            }
            Some(Source::Url(url)) => form.text("url", url),
            None => return Err(Error::invalid_input("an upload needs a file or a URL")),
        };
        if let Some(id) = self.id {
            form = form.text("id", id);
        }
        if let Some(creator) = self.creator {
            form = form.text("creator", creator);
        }
        if let Some(metadata) = metadata {
            form = form.text("metadata", metadata);
        }
        if let Some(v) = self.require_signed_urls {
            form = form.text("requireSignedURLs", v.to_string());
        }
        let response: types::ImageResponseSingle =
            send_multipart(self.client, "images/v1", form, "v1_create").await?;
        Ok(response.result)
    }
}

/// Creates a one-time upload URL for a browser or device (`POST
/// /accounts/{account_id}/images/v2/direct_upload`): built by
/// [`V2DirectUploads::create`](crate::resources::V2DirectUploads::create).
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until it is sent with `.send().await`"]
pub struct DirectUpload<'a> {
    client: &'a Client,
    id: Option<String>,
    creator: Option<String>,
    expiry: Option<DateTime<Utc>>,
    metadata: Option<Map<String, Value>>,
    require_signed_urls: Option<bool>,
}

impl<'a> DirectUpload<'a> {
    /// A new direct upload on `client`; usually `client.v2().direct_uploads().create()`.
    pub fn new(client: &'a Client) -> Self {
        DirectUpload {
            client,
            id: None,
            creator: None,
            expiry: None,
            metadata: None,
            require_signed_urls: None,
        }
    }

    /// A custom id for the future image.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Your internal user id for the image's creator.
    pub fn creator(mut self, creator: impl Into<String>) -> Self {
        self.creator = Some(creator.into());
        self
    }

    /// When the upload URL stops working: between 2 minutes and 6 hours from now
    /// (Cloudflare's default is 30 minutes).
    pub fn expiry(mut self, expiry: DateTime<Utc>) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// Key-value metadata (at most 1,024 bytes as JSON).
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Whether the image will be served only through signed URLs.
    pub fn require_signed_urls(mut self, value: bool) -> Self {
        self.require_signed_urls = Some(value);
        self
    }

    /// Validates, creates the draft image, and returns its id and `uploadURL`.
    pub async fn send(self) -> Result<types::ImageDirectUploadResponseV2Result> {
        if let Some(id) = &self.id {
            validate_custom_id(id)?;
            if self.require_signed_urls == Some(true) {
                return Err(Error::invalid_input(
                    "an image with a custom id cannot require signed URLs",
                ));
            }
        }
        if let Some(expiry) = self.expiry {
            validate_expiry(expiry, Utc::now())?;
        }
        let metadata = metadata_field(self.metadata.as_ref())?;
        let mut form = Form::new();
        let mut fields = 0;
        let mut add = |form: Form, name: &'static str, value: Option<String>| match value {
            Some(v) => {
                fields += 1;
                form.text(name, v)
            }
            None => form,
        };
        form = add(form, "id", self.id);
        form = add(form, "creator", self.creator);
        form = add(
            form,
            "expiry",
            self.expiry
                .map(|e| e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        form = add(form, "metadata", metadata);
        form = add(
            form,
            "requireSignedURLs",
            self.require_signed_urls.map(|v| v.to_string()),
        );
        if fields == 0 {
            // Cloudflare rejects a multipart body with no fields; this is its default.
            form = form.text("requireSignedURLs", "false");
        }
        let response: types::ImageDirectUploadResponseV2 = send_multipart(
            self.client,
            "images/v2/direct_upload",
            form,
            "v2_direct_uploads_create",
        )
        .await?;
        Ok(response.result)
    }
}

/// Checks a custom id against Cloudflare's rules.
pub(crate) fn validate_custom_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid_input("the custom id is empty"));
    }
    if id.chars().count() > MAX_CUSTOM_ID_LEN {
        return Err(Error::invalid_input(format!(
            "the custom id is longer than {MAX_CUSTOM_ID_LEN} characters"
        )));
    }
    if id.starts_with('/') || id.ends_with('/') {
        return Err(Error::invalid_input(
            "a custom id must not start or end with '/'",
        ));
    }
    if uuid::Uuid::try_parse(id).is_ok() {
        return Err(Error::invalid_input(
            "a custom id must not be a UUID (Cloudflare reserves those)",
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "the custom id contains a control character",
        ));
    }
    Ok(())
}

/// Checks a direct-upload expiry: between 2 minutes and 6 hours after `now`.
pub(crate) fn validate_expiry(expiry: DateTime<Utc>, now: DateTime<Utc>) -> Result<()> {
    let earliest = now + ChronoDuration::minutes(2);
    let latest = now + ChronoDuration::hours(6);
    if expiry < earliest || expiry > latest {
        return Err(Error::invalid_input(format!(
            "expiry {} is outside the allowed window (2 minutes to 6 hours from now)",
            expiry.to_rfc3339()
        )));
    }
    Ok(())
}

/// `metadata` as the JSON text field Cloudflare's docs send, size-checked.
fn metadata_field(metadata: Option<&Map<String, Value>>) -> Result<Option<String>> {
    let Some(m) = metadata else { return Ok(None) };
    let text = serde_json::to_string(m)
        .map_err(|e| Error::invalid_input("metadata is not serializable").with_source(e))?;
    if text.len() > MAX_METADATA_BYTES {
        return Err(Error::invalid_input(format!(
            "metadata is {} bytes as JSON; Cloudflare accepts at most {MAX_METADATA_BYTES}",
            text.len()
        )));
    }
    Ok(Some(text))
}

/// The image type of `data` by its magic bytes, for the part's content type.
pub(crate) fn sniff_image_type(data: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| data.starts_with(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else if data.len() >= 12 && &data[4..8] == b"ftyp" {
        match &data[8..12] {
            b"avif" | b"avis" => Some("image/avif"),
            b"heic" | b"heix" | b"mif1" | b"msf1" | b"hevc" => Some("image/heic"),
            _ => None,
        }
    } else {
        let head = String::from_utf8_lossy(&data[..data.len().min(1024)]);
        let head = head.trim_start_matches('\u{feff}').trim_start();
        (head.starts_with("<svg") || (head.starts_with("<?xml") && head.contains("<svg")))
            .then_some("image/svg+xml")
    }
}

/// Sends a multipart request through the generated client's hooks and decodes
/// the envelope like a generated method would.
async fn send_multipart<T: DeserializeOwned>(
    client: &Client,
    path: &str,
    form: Form,
    operation_id: &'static str,
) -> Result<T> {
    let api = client.api();
    let url = format!(
        "{}/accounts/{}/{path}",
        api.baseurl(),
        encode_path(client.account_id())
    );
    let mut request = api
        .client()
        .post(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(
            "api-version",
            <crate::api::Client as ClientInfo<()>>::api_version(),
        )
        .multipart(form)
        .build()
        .map_err(Error::transport)?;
    let info = OperationInfo { operation_id };
    let mapped = |e: progenitor_client::Error<types::ApiResponseCommonFailure>| Error::from_api(e);
    api.pre::<types::ApiResponseCommonFailure>(&mut request, &info)
        .await
        .map_err(mapped)?;
    let result = api.exec(request, &info).await;
    api.post::<types::ApiResponseCommonFailure>(&result, &info)
        .await
        .map_err(mapped)?;
    let response = result.map_err(Error::transport)?;
    let status = response.status();
    if status.is_success() {
        let value: ResponseValue<T> = ResponseValue::from_response(response)
            .await
            .map_err(mapped)?;
        Ok(value.into_inner())
    } else {
        let value = ResponseValue::<types::ApiResponseCommonFailure>::from_response(response)
            .await
            .map_err(mapped)?;
        Err(mapped(progenitor_client::Error::ErrorResponse(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_id_rules() {
        assert!(validate_custom_id("products/2024/café-01").is_ok());
        for bad in [
            "",
            "/lead",
            "trail/",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
        ] {
            assert!(validate_custom_id(bad).is_err(), "{bad:?}");
        }
        assert!(validate_custom_id(&"a".repeat(1024)).is_ok());
        assert!(validate_custom_id(&"a".repeat(1025)).is_err());
    }

    #[test]
    fn expiry_window() {
        let now = Utc::now();
        assert!(validate_expiry(now + ChronoDuration::minutes(30), now).is_ok());
        assert!(validate_expiry(now + ChronoDuration::minutes(1), now).is_err());
        assert!(validate_expiry(now + ChronoDuration::hours(7), now).is_err());
    }

    #[test]
    fn magic_bytes() {
        assert_eq!(
            sniff_image_type(b"\x89PNG\r\n\x1a\nrest"),
            Some("image/png")
        );
        assert_eq!(
            sniff_image_type(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some("image/jpeg")
        );
        assert_eq!(
            sniff_image_type(b"RIFF\0\0\0\0WEBPVP8 "),
            Some("image/webp")
        );
        assert_eq!(sniff_image_type(b"\0\0\0\x1cftypavif"), Some("image/avif"));
        assert_eq!(
            sniff_image_type(b"<?xml version=\"1.0\"?><svg/>"),
            Some("image/svg+xml")
        );
        assert_eq!(sniff_image_type(b"hello"), None);
    }

    #[test]
    fn metadata_limit() {
        let mut m = Map::new();
        m.insert("k".into(), Value::String("x".repeat(1100)));
        assert!(metadata_field(Some(&m)).is_err());
        let mut ok = Map::new();
        ok.insert("sku".into(), Value::from(42));
        assert_eq!(
            metadata_field(Some(&ok)).unwrap().as_deref(),
            Some(r#"{"sku":42}"#)
        );
    }
}
