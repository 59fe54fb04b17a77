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
//! Retries never store an image twice (see [`crate::retry`]): bytes and files
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
use tokio_util::io::ReaderStream;

use crate::api::types;
use crate::error::{Error, Result};
use crate::transport::{FormFactory, Method, Operation, Replay, RequestOptions};
use crate::Client;

/// The largest image Cloudflare stores: 10 MB.
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;
/// The largest `metadata`, serialized: 1,024 bytes.
pub const MAX_METADATA_BYTES: usize = 1024;
/// The longest custom id: 1,024 characters.
pub const MAX_CUSTOM_ID_LEN: usize = crate::transport::path::MAX_ID_LEN;
/// The size of the chunks a file or reader is streamed in: 64 KiB.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// How many leading bytes are read to recognise the image format (SVG needs a
/// few hundred; the binary formats twelve).
const SNIFF_LEN: usize = 1024;

/// The formats Cloudflare Images accepts, as named in errors.
const SUPPORTED_FORMATS: &str = "PNG, JPEG, GIF, WebP, SVG, HEIC or AVIF";

/// A progress callback: `(bytes sent so far, total bytes of the file)`.
///
/// "Sent" means handed to the HTTP connection; the last call reports the total.
pub type ProgressFn = dyn Fn(u64, u64) + Send + Sync + 'static;

type BoxReader = Pin<Box<dyn AsyncRead + Send + 'static>>;
type ChunkStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'static>>;

/// A file's bytes: in memory, on disk, or behind a reader.
#[derive(Clone)]
pub(crate) enum FileSource {
    Bytes {
        data: Bytes,
        filename: String,
    },
    Path {
        path: PathBuf,
    },
    /// Shared so the upload stays `Clone`; the first send takes the reader.
    Reader {
        reader: Arc<Mutex<Option<BoxReader>>>,
        length: u64,
        filename: String,
    },
}

impl FileSource {
    pub(crate) fn reader(
        reader: impl AsyncRead + Send + 'static,
        length: u64,
        filename: String,
    ) -> Self {
        FileSource::Reader {
            reader: Arc::new(Mutex::new(Some(Box::pin(reader)))),
            length,
            filename,
        }
    }

    /// The file name sent with the file, when known before reading it.
    fn filename(&self) -> Option<String> {
        match self {
            FileSource::Bytes { filename, .. } | FileSource::Reader { filename, .. } => {
                Some(filename.clone())
            }
            FileSource::Path { path } => path.file_name().map(|n| n.to_string_lossy().into_owned()),
        }
    }

    /// A short description for reports: never file contents, never a URL query.
    pub(crate) fn describe(&self) -> String {
        match self {
            FileSource::Bytes { data, filename } => {
                format!("bytes {filename:?} ({} bytes)", data.len())
            }
            FileSource::Path { path } => format!("file {}", path.display()),
            FileSource::Reader {
                length, filename, ..
            } => format!("reader {filename:?} ({length} bytes)"),
        }
    }

    /// Checks the file (size, emptiness, format by magic bytes) and turns it into
    /// the multipart `file` part, streamed with a known length. Reads at most the
    /// first [`SNIFF_LEN`] bytes before the request starts.
    pub(crate) async fn into_part(self, progress: Option<Arc<ProgressFn>>) -> Result<Part> {
        let (stream, length, filename, mime): (Option<ChunkStream>, u64, String, &str) = match self
        {
            FileSource::Bytes { data, filename } => {
                let length = data.len() as u64;
                check_length(length, &filename)?;
                let mime = check_format(&data, &filename)?;
                if progress.is_none() {
                    let part = Part::stream_with_length(reqwest::Body::from(data), length);
                    return finish_part(part, filename, mime);
                }
                let chunks = (0..data.len())
                    .step_by(CHUNK_SIZE)
                    .map(move |at| Ok(data.slice(at..(at + CHUNK_SIZE).min(data.len()))))
                    .collect::<Vec<_>>();
                let stream: ChunkStream = Box::pin(futures_util::stream::iter(chunks));
                (Some(stream), length, filename, mime)
            }
            FileSource::Path { path } => {
                let (file, length, filename, mime) = open_image_file(&path).await?;
                let stream: ChunkStream = Box::pin(ReaderStream::with_capacity(file, CHUNK_SIZE));
                (Some(stream), length, filename, mime)
            }
            FileSource::Reader {
                reader,
                length,
                filename,
            } => {
                let taken = reader.lock().ok().and_then(|mut slot| slot.take());
                let Some(mut reader) = taken else {
                    return Err(Error::invalid_input(
                        "the reader of this upload was already used by an earlier send",
                    ));
                };
                check_length(length, &filename)?;
                let want = usize::try_from(length.min(SNIFF_LEN as u64)).unwrap_or(SNIFF_LEN);
                let mut head = vec![0u8; want];
                let got = read_head(&mut reader, &mut head)
                    .await
                    .map_err(|e| Error::io(format!("could not read {filename:?}"), e))?;
                head.truncate(got);
                let mime = check_format(&head, &filename)?;
                let chained = std::io::Cursor::new(head).chain(reader);
                let stream: ChunkStream =
                    Box::pin(ReaderStream::with_capacity(chained, CHUNK_SIZE));
                (Some(stream), length, filename, mime)
            }
        };
        let Some(stream) = stream else {
            return Err(Error::invalid_input("the upload has no file"));
        };
        let counted = Counted {
            inner: stream,
            sent: 0,
            total: length,
            progress,
            finished: false,
        };
        let part = Part::stream_with_length(reqwest::Body::wrap_stream(counted), length);
        finish_part(part, filename, mime)
    }
}

fn finish_part(part: Part, filename: String, mime: &str) -> Result<Part> {
    part.file_name(filename)
        .mime_str(mime)
        .map_err(|e| Error::invalid_input("invalid content type").with_source(e))
}

fn check_length(length: u64, filename: &str) -> Result<()> {
    if length == 0 {
        return Err(Error::invalid_input(format!(
            "the file {filename:?} is empty"
        )));
    }
    if length > MAX_IMAGE_BYTES {
        return Err(Error::invalid_input(format!(
            "the file {filename:?} has {length} bytes; Cloudflare accepts at most {MAX_IMAGE_BYTES}"
        )));
    }
    Ok(())
}

fn check_format(head: &[u8], filename: &str) -> Result<&'static str> {
    sniff_image_type(head).ok_or_else(|| {
        Error::invalid_input(format!(
            "the file {filename:?} is not a {SUPPORTED_FORMATS} image (by its first bytes)"
        ))
    })
}

/// Opens an image file, checks it from its metadata and first bytes, and
/// returns it rewound, with its length, file name and content type.
async fn open_image_file(path: &Path) -> Result<(tokio::fs::File, u64, String, &'static str)> {
    let shown = path.display();
    let filename = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::invalid_input(format!("{shown} does not name a file")))?;
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(format!("could not open {shown}"), e))?;
    let metadata = file
        .metadata()
        .await
        .map_err(|e| Error::io(format!("could not read the metadata of {shown}"), e))?;
    if !metadata.is_file() {
        return Err(Error::invalid_input(format!(
            "{shown} is not a regular file"
        )));
    }
    let length = metadata.len();
    check_length(length, &filename)?;
    let want = usize::try_from(length.min(SNIFF_LEN as u64)).unwrap_or(SNIFF_LEN);
    let mut head = vec![0u8; want];
    let got = read_head(&mut file, &mut head)
        .await
        .map_err(|e| Error::io(format!("could not read {shown}"), e))?;
    let mime = check_format(&head[..got], &filename)?;
    file.seek(io::SeekFrom::Start(0))
        .await
        .map_err(|e| Error::io(format!("could not read {shown}"), e))?;
    Ok((file, length, filename, mime))
}

/// Fills `buf` from `reader` as far as it goes; returns how many bytes were read.
async fn read_head(reader: &mut (impl AsyncRead + Unpin), buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = reader.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// A body stream that reports progress and holds the source to its declared
/// length: a file that grows or shrinks mid-upload fails the request instead of
/// sending a body that disagrees with its `Content-Length`.
struct Counted {
    inner: ChunkStream,
    sent: u64,
    total: u64,
    progress: Option<Arc<ProgressFn>>,
    finished: bool,
}

impl Stream for Counted {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                self.sent += chunk.len() as u64;
                if self.sent > self.total {
                    self.finished = true;
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "the file has more bytes than its declared length of {}",
                            self.total
                        ),
                    ))));
                }
                if let Some(progress) = &self.progress {
                    progress(self.sent, self.total);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.finished = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.finished = true;
                if self.sent < self.total {
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the file ended after {} of its declared {} bytes",
                            self.sent, self.total
                        ),
                    ))));
                }
                Poll::Ready(None)
            }
        }
    }
}

/// `metadata` serialized once, when set: the JSON text or what was wrong with it.
#[derive(Clone)]
enum Metadata {
    Text(String),
    NotSerializable(Arc<serde_json::Error>),
    NotAnObject,
    NotFinite(Arc<crate::finite::NonFinite>),
}

impl Metadata {
    fn new(value: &impl Serialize) -> Self {
        if let Err(e) = crate::finite::check(value) {
            return Metadata::NotFinite(Arc::new(e));
        }
        match serde_json::to_string(value) {
            // A JSON object, and only an object, serializes starting with `{`.
            Ok(text) if text.starts_with('{') => Metadata::Text(text),
            Ok(_) => Metadata::NotAnObject,
            Err(e) => Metadata::NotSerializable(Arc::new(e)),
        }
    }

    /// The JSON text field, size-checked.
    fn field(&self) -> Result<String> {
        match self {
            Metadata::Text(text) if text.len() > MAX_METADATA_BYTES => {
                Err(Error::invalid_input(format!(
                    "metadata is {} bytes as JSON; Cloudflare accepts at most {MAX_METADATA_BYTES}",
                    text.len()
                )))
            }
            Metadata::Text(text) => Ok(text.clone()),
            Metadata::NotSerializable(e) => {
                Err(Error::invalid_input("metadata could not be serialized").with_source(e.clone()))
            }
            Metadata::NotAnObject => Err(Error::invalid_input(
                "metadata must serialize to a JSON object",
            )),
            Metadata::NotFinite(e) => Err(Error::invalid_input(
                "metadata holds a NaN or infinite number, which JSON cannot carry",
            )
            .with_source(e.clone())),
        }
    }
}

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
            progress: None,
            options: RequestOptions::default(),
        }
    }

    /// The deadline for the whole upload, retries included, instead of the
    /// client's [`upload_timeout`](crate::ClientBuilder::upload_timeout) (or,
    /// for a URL upload, [`timeout`](crate::ClientBuilder::timeout)).
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
        let fields: Arc<Vec<(&'static str, String)>> = Arc::new(
            [
                ("id", self.id.clone()),
                ("creator", self.creator),
                ("metadata", metadata),
                (
                    "requireSignedURLs",
                    self.require_signed_urls.map(|v| v.to_string()),
                ),
            ]
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .collect(),
        );
        let progress = self.progress;
        let form: FormFactory = Arc::new(move || {
            let (source, fields, progress) =
                (source.clone(), Arc::clone(&fields), progress.clone());
            Box::pin(async move {
                let mut form = match source {
                    Source::File(file) => Form::new().part("file", file.into_part(progress).await?),
                    Source::Url(url) => Form::new().text("url", url),
                };
                for (name, value) in fields.iter() {
                    form = form.text(*name, value.clone());
                }
                Ok(form)
            })
        });
        let mut operation = Operation::new(
            "v1_create",
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

/// A URL for messages: scheme, host and path only (queries may carry signatures).
pub(crate) fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let had_query = parsed.query().is_some();
            parsed.set_query(None);
            parsed.set_fragment(None);
            let _ = parsed.set_password(None);
            let mut text = parsed.to_string();
            if had_query {
                text.push_str("?…");
            }
            text
        }
        Err(_) => url.chars().take_while(|&c| c != '?').collect(),
    }
}

/// Creates a one-time upload URL for a browser or device (`POST
/// /accounts/{account_id}/images/v2/direct_upload`): built by
/// [`V2DirectUploads::create`](crate::resources::V2DirectUploads::create).
///
/// Upload to the URL with [`crate::direct::CreatorUpload`] and wait for the
/// image with [`crate::direct::wait_for_upload`].
#[derive(Clone)]
#[must_use = "a request does nothing until it is sent with `.send().await`"]
pub struct DirectUpload<'a> {
    client: &'a Client,
    id: Option<String>,
    creator: Option<String>,
    expiry: Option<DateTime<Utc>>,
    metadata: Option<Metadata>,
    require_signed_urls: Option<bool>,
}

impl fmt::Debug for DirectUpload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectUpload")
            .field("id", &self.id)
            .field("creator", &self.creator)
            .field("expiry", &self.expiry)
            .field("require_signed_urls", &self.require_signed_urls)
            .finish_non_exhaustive()
    }
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

    /// Key-value metadata: anything that serializes to a JSON object, at most
    /// 1,024 bytes as JSON (see [`ImageUpload::metadata`]).
    pub fn metadata(mut self, metadata: impl Serialize) -> Self {
        self.metadata = Some(Metadata::new(&metadata));
        self
    }

    /// Whether the image will be served only through signed URLs.
    pub fn require_signed_urls(mut self, value: bool) -> Self {
        self.require_signed_urls = Some(value);
        self
    }

    /// Validates, creates the draft image, and returns its id and `uploadURL`.
    pub async fn send(self) -> Result<types::ImageDirectUploadResponseV2Result> {
        validate_id_and_signing(self.id.as_deref(), self.require_signed_urls)?;
        if let Some(expiry) = self.expiry {
            validate_expiry(expiry, Utc::now())?;
        }
        let metadata = self.metadata.as_ref().map(Metadata::field).transpose()?;
        let mut fields: Vec<(&'static str, String)> = [
            ("id", self.id),
            ("creator", self.creator),
            (
                "expiry",
                self.expiry
                    .map(|e| e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            ),
            ("metadata", metadata),
            (
                "requireSignedURLs",
                self.require_signed_urls.map(|v| v.to_string()),
            ),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();
        if fields.is_empty() {
            // Cloudflare rejects a multipart body with no fields; this is its default.
            fields.push(("requireSignedURLs", "false".to_string()));
        }
        let fields = Arc::new(fields);
        let factory: FormFactory = Arc::new(move || {
            let form = fields.iter().fold(Form::new(), |form, (name, value)| {
                form.text(*name, value.clone())
            });
            Box::pin(async move { Ok(form) })
        });
        let mut operation = Operation::new(
            "v2_direct_uploads_create",
            Method::POST,
            "/accounts/{account_id}/images/v2/direct_upload",
        );
        operation.multipart(factory, Replay::Rebuild, false);
        self.client.execute(operation).await
    }
}

/// Checks an optional custom id, and that it does not come with
/// `requireSignedURLs: true` (Cloudflare rejects the combination).
fn validate_id_and_signing(id: Option<&str>, require_signed_urls: Option<bool>) -> Result<()> {
    let Some(id) = id else { return Ok(()) };
    crate::transport::path::check_custom_id(id)?;
    if require_signed_urls == Some(true) {
        return Err(Error::invalid_input(
            "an image with a custom id cannot require signed URLs (Cloudflare rejects the combination)",
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

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
        assert_eq!(sniff_image_type(b"\0\0\0\x18ftypheic"), Some("image/heic"));
        assert_eq!(sniff_image_type(b"GIF89a"), Some("image/gif"));
        assert_eq!(
            sniff_image_type(b"<?xml version=\"1.0\"?><svg/>"),
            Some("image/svg+xml")
        );
        assert_eq!(sniff_image_type(b"hello"), None);
    }

    #[test]
    fn metadata_limit_and_shape() {
        let mut m = Map::new();
        m.insert("k".into(), Value::String("x".repeat(1100)));
        assert!(Metadata::new(&m).field().is_err());
        let mut ok = Map::new();
        ok.insert("sku".into(), Value::from(42));
        assert_eq!(Metadata::new(&ok).field().unwrap(), r#"{"sku":42}"#);
        assert!(Metadata::new(&json!([1, 2])).field().is_err());
        assert!(Metadata::new(&"text").field().is_err());
        assert!(Metadata::new(&Option::<Map<String, Value>>::None)
            .field()
            .is_err());
        #[derive(Serialize)]
        struct Tags {
            zeta: u8,
            alpha: &'static str,
        }
        assert_eq!(
            Metadata::new(&Tags {
                zeta: 1,
                alpha: "a"
            })
            .field()
            .unwrap(),
            r#"{"zeta":1,"alpha":"a"}"#
        );
    }

    #[test]
    fn urls_lose_their_query_in_messages() {
        assert_eq!(
            redact_url("https://bucket.s3.amazonaws.com/a.png?X-Amz-Signature=secret"),
            "https://bucket.s3.amazonaws.com/a.png?…"
        );
        assert_eq!(redact_url("not a url?sig=1"), "not a url");
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_body_shorter_or_longer_than_declared_fails_the_stream() {
        block_on(async {
            for (len, declared, ok) in [
                (100usize, 200u64, false),
                (300, 200, false),
                (200, 200, true),
            ] {
                let chunks = vec![
                    Ok(Bytes::from(vec![0u8; len / 2])),
                    Ok(Bytes::from(vec![0u8; len - len / 2])),
                ];
                let seen = Arc::new(Mutex::new(Vec::new()));
                let record = Arc::clone(&seen);
                let mut counted = Counted {
                    inner: Box::pin(futures_util::stream::iter(chunks)),
                    sent: 0,
                    total: declared,
                    progress: Some(Arc::new(move |sent, total| {
                        record.lock().unwrap().push((sent, total))
                    })),
                    finished: false,
                };
                let mut failed = false;
                while let Some(item) = counted.next().await {
                    failed |= item.is_err();
                }
                assert_eq!(failed, !ok, "len {len} declared {declared}");
                if ok {
                    assert_eq!(seen.lock().unwrap().last(), Some(&(declared, declared)));
                }
            }
        });
    }

    #[test]
    fn a_reader_is_taken_once() {
        block_on(async {
            let source = FileSource::reader(
                std::io::Cursor::new(b"GIF89a-------".to_vec()),
                13,
                "a.gif".into(),
            );
            assert!(source.clone().into_part(None).await.is_ok());
            let err = source.into_part(None).await.unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
        });
    }
}
