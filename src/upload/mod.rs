//! The two multipart operations, written by hand because progenitor cannot
//! generate `multipart/form-data` bodies: v1 upload and v2 direct upload.
//!
//! They go through the SDK's one transport, like generated operations, and
//! return the same typed results and [`Error`]s.
//!
//! An image comes from memory ([`ImageUpload::file`]), from a file on disk
//! ([`ImageUpload::path`], streamed in 64 KiB chunks and never read whole into
//! memory), from any [`AsyncRead`] with a known length ([`ImageUpload::reader`]),
//! or from a URL Cloudflare fetches ([`ImageUpload::url`]). Everything Cloudflare
//! would reject is checked before a byte is sent: size, emptiness, format (by the
//! file's magic bytes), custom id, metadata size and numbers.
//!
//! # Limits on the image
//!
//! Every upload of a file's bytes (v1 [`ImageUpload`], [`UploadMany`], and a
//! [`crate::direct::UploadToUrl`] to a one-time URL) measures the file against
//! Cloudflare's documented limits before sending, and refuses one that breaks
//! them with [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) and an
//! [`ImageLimit`](crate::error::ImageLimit) naming the limit and the measured
//! value ([`Error::image_limit`]):
//! - at most [`MAX_IMAGE_BYTES`];
//! - a format Cloudflare accepts, by magic bytes: PNG, JPEG, GIF, WebP, SVG,
//!   HEIC, and AVIF (accepted on Enterprise plans only; the SDK cannot see the
//!   plan and lets it through);
//! - width and height read from the header (with the `imagesize` crate): at most
//!   [`MAX_IMAGE_SIDE`] per side ([`MAX_AVIF_SIDE`] for AVIF; WebP, which
//!   Cloudflare exempts, stops at its format's 16,383) and at most
//!   [`MAX_IMAGE_AREA`] pixels;
//! - an animated GIF or WebP: the sum of its frames' areas at most
//!   [`MAX_ANIMATION_AREA`].
//!
//! An SVG has no pixel size (Cloudflare never resizes one): only its byte size
//! is checked. A header the SDK cannot measure (cut short, or laid out in a way
//! the header reader does not follow) is sent and left to Cloudflare, which
//! decodes the whole image: only what is measured to break a limit is refused.
//! A file or bytes are measured whole (a file through a 64 KiB buffer); a
//! [`reader`](ImageUpload::reader) is read once, so it is measured from its
//! first [`PEEK_LEN`] bytes, held until sent: frames of an animation past them
//! are not counted.
//!
//! Retries never store an image twice (see [`crate::config::retry`]): bytes and files
//! are rebuilt for each attempt and repeated when the server cannot have acted
//! (429, no connection); with a custom id an upload is repeated after any
//! transient failure, and "already exists" after such a repeat is resolved by
//! fetching the stored image and checking it is the one sent. A reader is sent
//! once.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use futures_util::{Stream, StreamExt};
use reqwest::multipart::{Form, Part};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};

use crate::api::types;
use crate::error::{Error, Result};
use crate::runtime::{FormFactory, Method, Operation, Replay, RequestOptions};
use crate::Client;

mod create_upload_url;
mod limits;
mod many;
mod metadata;
mod source;
mod validate;

pub use create_upload_url::CreateUploadUrl;
pub use limits::{MAX_ANIMATION_AREA, MAX_AVIF_SIDE, MAX_IMAGE_AREA, MAX_IMAGE_SIDE, PEEK_LEN};
pub use many::{ManyItem, ManyReport, UploadMany};
use metadata::Metadata;
pub(crate) use source::FileSource;
pub use validate::redact_url;
pub(crate) use validate::{sniff_image_type, validate_expiry, validate_id_and_signing};

/// The largest image Cloudflare stores: 10 MB.
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;
/// The largest `metadata`, serialized: 1,024 bytes.
pub const MAX_METADATA_BYTES: usize = 1024;
/// The longest custom id: 1,024 characters.
pub const MAX_CUSTOM_ID_LEN: usize = crate::ids::MAX_ID_LEN;
/// The size of the chunks a file or reader is streamed in: 64 KiB.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// How many leading bytes are read to recognise the image format (SVG needs a
/// few hundred; the binary formats twelve).
const SNIFF_LEN: usize = 1024;

/// A progress callback: `(bytes sent so far, total bytes of the file)`.
///
/// "Sent" means handed to the HTTP connection; the last call reports the total.
pub type ProgressFn = dyn Fn(u64, u64) + Send + Sync + 'static;

type BoxReader = Pin<Box<dyn AsyncRead + Send + 'static>>;
type ChunkStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'static>>;

/// Where an upload's image comes from.
#[derive(Clone)]
enum Source {
    File(FileSource),
    Url(String),
}

/// Uploads an image (`POST /accounts/{account_id}/images/v1`): built by
/// [`V1::create`](crate::resources::V1::create).
///
/// Give exactly one source: [`file`](Self::file), [`path`](Self::path),
/// [`reader`](Self::reader) or [`url`](Self::url).
///
/// Cloning is cheap (bytes are shared). A [`reader`](Self::reader) source is
/// taken by the first `send` of any clone; sending another clone afterwards
/// fails with [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
#[derive(Clone)]
#[must_use = "a request does nothing until it is sent with `.send().await`"]
pub struct ImageUpload<'a> {
    client: &'a Client,
    sources: Vec<Source>,
    id: Option<String>,
    creator: Option<String>,
    metadata: Option<Metadata>,
    require_signed_urls: Option<bool>,
    progress: Option<Arc<ProgressFn>>,
    options: RequestOptions,
}

impl fmt::Debug for ImageUpload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageUpload")
            .field("source", &self.describe())
            .field("id", &self.id)
            .field("creator", &self.creator)
            .field("require_signed_urls", &self.require_signed_urls)
            .finish_non_exhaustive()
    }
}

/// `client.v1().create()` returns this builder.
impl crate::runtime::Handwritten for crate::resources::handwritten::V1Create {
    type Builder<'a> = ImageUpload<'a>;
    fn builder(client: &Client) -> ImageUpload<'_> {
        ImageUpload::new(client)
    }
}

impl<'a> ImageUpload<'a> {
    /// A new upload on `client`; public as `client.v1().create()`.
    pub(crate) fn new(client: &'a Client) -> Self {
        ImageUpload {
            client,
            sources: Vec::new(),
            id: None,
            creator: None,
            metadata: None,
            require_signed_urls: None,
            progress: None,
            options: RequestOptions::default(),
        }
    }

    /// The deadline for the whole upload, retries included, instead of the
    /// client's [`Timeouts::upload`](crate::config::Timeouts::upload) (or,
    /// for a URL upload, [`Timeouts::operation`](crate::config::Timeouts::operation)).
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// The deadline for each attempt instead of the client's.
    pub fn attempt_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.options.attempt_timeout = Some(timeout);
        self
    }

    /// The image's bytes, and the file name Cloudflare records for it.
    pub fn file(mut self, data: impl Into<Bytes>, filename: impl Into<String>) -> Self {
        self.sources.push(Source::File(FileSource::Bytes {
            data: data.into(),
            filename: filename.into(),
        }));
        self
    }

    /// A file on disk, streamed in [`CHUNK_SIZE`] chunks (never read whole into
    /// memory). The file name sent is the path's last component; size and format
    /// are checked from the file's metadata and first bytes before sending.
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.sources.push(Source::File(FileSource::Path {
            path: path.as_ref().to_path_buf(),
        }));
        self
    }

    /// Any reader producing exactly `length` bytes, streamed in [`CHUNK_SIZE`]
    /// chunks, with the file name Cloudflare records. Its first bytes are read
    /// before sending to check the format; a reader that ends early or runs
    /// past `length` fails the upload.
    pub fn reader(
        mut self,
        reader: impl AsyncRead + Send + 'static,
        length: u64,
        filename: impl Into<String>,
    ) -> Self {
        self.sources.push(Source::File(FileSource::reader(
            reader,
            length,
            filename.into(),
        )));
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

    /// Key-value metadata: anything that serializes to a JSON object (a
    /// `#[derive(Serialize)]` struct, a `serde_json::Map`, a `json!({..})`), at
    /// most 1,024 bytes as JSON. Sent as the JSON text of the `metadata` field,
    /// keys in serialization order. Checked when the upload is sent.
    pub fn metadata(mut self, metadata: impl Serialize) -> Self {
        self.metadata = Some(Metadata::new(&metadata));
        self
    }

    /// Whether the image is served only through signed URLs.
    pub fn require_signed_urls(mut self, value: bool) -> Self {
        self.require_signed_urls = Some(value);
        self
    }

    /// Calls `progress(sent, total)` as the file's bytes are handed to the
    /// connection, once per chunk (at most [`CHUNK_SIZE`] bytes apart); the last
    /// call has `sent == total`. Not called for [`url`](Self::url) uploads.
    pub fn on_progress(mut self, progress: impl Fn(u64, u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// What this upload sends, for reports and logs: a file name and size, a
    /// path, or a URL without its query (which may hold a signature).
    pub fn describe(&self) -> String {
        match self.sources.as_slice() {
            [] => "no source".to_string(),
            [Source::File(file)] => file.describe(),
            [Source::Url(url)] => format!("url {}", redact_url(url)),
            several => format!("{} sources", several.len()),
        }
    }

    /// The checks that need no I/O.
    fn validate(&self) -> Result<()> {
        match self.sources.as_slice() {
            [] => {
                return Err(Error::invalid_input(
                    "an upload needs a file or a URL: call file(), path(), reader() or url()",
                ))
            }
            [_] => {}
            _ => {
                return Err(Error::invalid_input(
                    "an upload takes one file or one URL, not several",
                ))
            }
        }
        if let [Source::Url(url)] = self.sources.as_slice() {
            let parsed = reqwest::Url::parse(url).map_err(|e| {
                Error::invalid_input(format!("invalid image URL {:?}: {e}", redact_url(url)))
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(Error::invalid_input(format!(
                    "image URL {:?} is not http(s)",
                    redact_url(url)
                )));
            }
        }
        validate_id_and_signing(self.id.as_deref(), self.require_signed_urls)?;
        if let Some(metadata) = &self.metadata {
            metadata.field()?;
        }
        Ok(())
    }

    /// Validates, uploads, and returns the stored image.
    ///
    /// Nothing is sent if any check fails. Repeated only where that cannot
    /// store the image twice (see the [module docs](self)).
    pub async fn send(self) -> Result<types::Image> {
        self.validate()?;
        let metadata = self.metadata.as_ref().map(Metadata::field).transpose()?;
        let Some(source) = self.sources.into_iter().next() else {
            return Err(Error::invalid_input("an upload needs a file or a URL"));
        };
        let sent = Sent {
            filename: match &source {
                Source::File(file) => file.filename(),
                Source::Url(_) => None,
            },
            metadata: metadata.clone(),
            creator: self.creator.clone(),
            require_signed_urls: self.require_signed_urls.unwrap_or(false),
        };
        let replay = match (&source, &self.id) {
            (Source::File(FileSource::Reader { .. }), _) => Replay::Once,
            (_, Some(_)) => Replay::Idempotent,
            (_, None) => Replay::Rebuild,
        };
        let carries_file = matches!(source, Source::File(_));
        let fields = Arc::new(TextFields::of([
            ("id", self.id.clone()),
            ("creator", self.creator),
            ("metadata", metadata),
            (
                "requireSignedURLs",
                self.require_signed_urls.map(|v| v.to_string()),
            ),
        ]));
        let progress = self.progress;
        let form: FormFactory = Arc::new(move || {
            let (source, fields, progress) =
                (source.clone(), Arc::clone(&fields), progress.clone());
            Box::pin(async move {
                let form = match source {
                    Source::File(file) => Form::new().part("file", file.into_part(progress).await?),
                    Source::Url(url) => Form::new().text("url", url),
                };
                Ok(fields.add_to(form))
            })
        });
        let mut operation = Operation::new(
            crate::resources::OperationId::V1Create,
            Method::POST,
            "/accounts/{account_id}/images/v1",
        );
        operation.multipart(form, replay, carries_file);
        operation.options(self.options);
        let repeated = operation.track_ambiguity();
        match self.client.execute::<types::Image>(operation).await {
            Err(e) if e.has_code(5409) && repeated.load(std::sync::atomic::Ordering::Relaxed) => {
                // An earlier attempt may have stored the image before failing:
                // if the stored one is what was sent, that attempt succeeded.
                let Some(id) = self.id else { return Err(e) };
                match self.client.v1().get(id).send().await {
                    Ok(stored) if sent.matches(&stored) => Ok(stored),
                    _ => Err(e),
                }
            }
            other => other,
        }
    }
}

/// The multipart text fields a request sets, in order (unset ones left out).
pub(crate) struct TextFields(Vec<(&'static str, String)>);

impl TextFields {
    pub(crate) fn of<const N: usize>(fields: [(&'static str, Option<String>); N]) -> Self {
        TextFields(
            fields
                .into_iter()
                .filter_map(|(name, value)| Some((name, value?)))
                .collect(),
        )
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn push(&mut self, name: &'static str, value: impl Into<String>) {
        self.0.push((name, value.into()));
    }

    /// `form` with these fields added (the body is rebuilt for each attempt).
    pub(crate) fn add_to(&self, form: Form) -> Form {
        self.0
            .iter()
            .fold(form, |form, (name, value)| form.text(*name, value.clone()))
    }
}

/// What an upload sent, to recognise the stored image after a repeat.
struct Sent {
    filename: Option<String>,
    metadata: Option<String>,
    creator: Option<String>,
    require_signed_urls: bool,
}

impl Sent {
    fn matches(&self, stored: &types::Image) -> bool {
        let metadata: Option<serde_json::Value> = self
            .metadata
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok());
        let stored_metadata = stored
            .meta
            .as_ref()
            .and_then(|m| serde_json::to_value(m).ok())
            .filter(|m| m.as_object().is_some_and(|o| !o.is_empty()));
        (self.filename.is_none() || stored.filename == self.filename)
            && metadata == stored_metadata
            && stored.creator == self.creator
            && stored.require_signed_urls == self.require_signed_urls
    }
}
