//! Direct creator uploads: the flow where your server asks Cloudflare for a
//! one-time upload URL and a browser or device uploads the image to it.
//!
//! 1. Your server creates the URL with credentials:
//!    `client.v2().direct_uploads().create().send().await?` (a
//!    [`CreateUploadUrl`](crate::upload::CreateUploadUrl)) returns the future
//!    image's `id` and its `uploadURL`. The image is a draft until uploaded.
//! 2. The creator POSTs a multipart `file` to the `uploadURL` with no
//!    credentials. [`UploadToUrl`] does exactly that from Rust (a device, a
//!    worker, a test), over its own plain HTTP client: the SDK's authenticated
//!    client, and so your API token, is never involved.
//! 3. Your server waits for the image to stop being a draft:
//!    [`wait_for_upload`] polls `GET images/v1/{id}` until it has been uploaded,
//!    within a deadline.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = cloudflare_images_emulator::Emulator::start().await?;
//! # let client = cloudflare_images::Client::builder().api_token("t")
//! #     .account_id(emulator.account_id()).base_url(emulator.base_url()).build()?;
//! use cloudflare_images::direct::{wait_for_upload, UploadToUrl};
//! use std::time::Duration;
//!
//! let created = client.v2().direct_uploads().create().send().await?;
//! let (id, url) = (created.id.unwrap_or_default(), created.upload_url.unwrap_or_default());
//!
//! # let png = cloudflare_images_emulator::fixtures::PIXEL_PNG; // a 1x1 PNG
//! UploadToUrl::new(url).file(&png[..], "pixel.png").send().await?;
//!
//! let image = wait_for_upload(&client, &id).timeout(Duration::from_secs(30)).send().await?;
//! assert_eq!(image.id.as_deref(), Some(id.as_str()));
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::multipart::Form;
use tokio::io::AsyncRead;
use tokio::time::Instant;

use crate::api::types;
use crate::error::TimeoutLimit;
use crate::error::{Error, Result};
use crate::upload::{redact_url, FileSource, ProgressFn};
use crate::Client;

/// Uploads a file to a one-time `uploadURL` the way a browser would: one
/// multipart `file` field, no credentials.
///
/// It uses its own `reqwest::Client` (or the one given to
/// [`http_client`](Self::http_client)) and sends no credentials. The file is
/// checked like [`ImageUpload`](crate::upload::ImageUpload)'s (size, emptiness,
/// format) before anything is sent, and never retried: an upload URL works once.
/// Like every request of the SDK it follows no redirect, has a deadline
/// ([`timeout`](Self::timeout)) and reads a bounded answer.
#[must_use = "a request does nothing until it is sent with `.send().await`"]
pub struct UploadToUrl {
    upload_url: String,
    files: Vec<FileSource>,
    http: Option<reqwest::Client>,
    progress: Option<Arc<ProgressFn>>,
    timeout: Duration,
}

impl fmt::Debug for UploadToUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The upload URL is a capability until used: show only where it points.
        let url = reqwest::Url::parse(&self.upload_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| "<invalid>".to_string());
        f.debug_struct("UploadToUrl")
            .field("upload_origin", &url)
            .field(
                "files",
                &self
                    .files
                    .iter()
                    .map(FileSource::describe)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl UploadToUrl {
    /// An upload to `upload_url`, the `uploadURL` returned by
    /// `client.v2().direct_uploads().create()`.
    pub fn new(upload_url: impl Into<String>) -> Self {
        UploadToUrl {
            upload_url: upload_url.into(),
            files: Vec::new(),
            http: None,
            progress: None,
            timeout: crate::config::Timeouts::DEFAULT_UPLOAD,
        }
    }

    /// The deadline of the upload (default
    /// [`DEFAULT_UPLOAD_TIMEOUT`](crate::config::Timeouts::DEFAULT_UPLOAD)).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The image's bytes and file name.
    pub fn file(mut self, data: impl Into<Bytes>, filename: impl Into<String>) -> Self {
        self.files.push(FileSource::Bytes {
            data: data.into(),
            filename: filename.into(),
        });
        self
    }

    /// A file on disk, streamed (see [`ImageUpload::path`](crate::upload::ImageUpload::path)).
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.files.push(FileSource::Path {
            path: path.as_ref().to_path_buf(),
        });
        self
    }

    /// A reader producing exactly `length` bytes, streamed (see
    /// [`ImageUpload::reader`](crate::upload::ImageUpload::reader)).
    pub fn reader(
        mut self,
        reader: impl AsyncRead + Send + 'static,
        length: u64,
        filename: impl Into<String>,
    ) -> Self {
        self.files
            .push(FileSource::reader(reader, length, filename.into()));
        self
    }

    /// Sends through `http` instead of a fresh client (to share a connection
    /// pool, e.g. [`Client::http_client`], which carries no credentials). It must
    /// not carry credentials in its default headers.
    ///
    /// Pass one for more than a few uploads: without it each `send` builds a
    /// client, which loads the system's root certificates and opens a new
    /// connection, many times the cost of a small upload. No client is kept
    /// between calls on purpose: a pooled connection belongs to the tokio runtime
    /// that opened it.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Calls `progress(sent, total)` as the file is sent (see
    /// [`ImageUpload::on_progress`](crate::upload::ImageUpload::on_progress)).
    pub fn on_progress(mut self, progress: impl Fn(u64, u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// Checks the file and the URL, uploads, and returns the stored image.
    pub async fn send(self) -> Result<types::Image> {
        let url = reqwest::Url::parse(&self.upload_url).map_err(|e| {
            Error::invalid_input(format!(
                "invalid upload URL {:?}: {e}",
                redact_url(&self.upload_url)
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::invalid_input(format!(
                "upload URL {:?} is not http(s)",
                redact_url(&self.upload_url)
            )));
        }
        let mut files = self.files.into_iter();
        let (Some(file), None) = (files.next(), files.next()) else {
            return Err(Error::invalid_input(
                "a creator upload takes exactly one file: call file(), path() or reader() once",
            ));
        };
        let part = file.into_part(self.progress).await?;
        let http = match self.http {
            Some(http) => http,
            None => plain_http_client()?,
        };
        let request = http
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .multipart(Form::new().part("file", part))
            .build()
            .map_err(|e| Error::invalid_input("the request could not be built").with_source(e))?;
        crate::runtime::send_once(&http, request, self.timeout).await
    }
}

/// An HTTP client with no default headers beyond a `User-Agent`.
fn plain_http_client() -> Result<reqwest::Client> {
    crate::tls::http_client_builder()?
        .user_agent(concat!("cloudflare-images-rs/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Error::config("the HTTP client could not be built").with_source(e))
}

/// An image and whether it is still a draft (created for a direct upload and
/// not uploaded yet).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ImageStatus {
    /// The image as Cloudflare describes it (its `draft` field included).
    pub image: types::Image,
    /// `true` until a file has been uploaded to the image's upload URL.
    pub draft: bool,
}

/// Fetches an image (`GET images/v1/{id}`) with its draft flag.
pub async fn image_status(client: &Client, id: &str) -> Result<ImageStatus> {
    let image = client.v1().get(id).send().await?;
    let draft = image.draft == Some(true);
    Ok(ImageStatus { image, draft })
}

/// Waits until the image `id` is no longer a draft: built by [`wait_for_upload`].
#[derive(Clone, Debug)]
#[must_use = "nothing happens until it is sent with `.send().await`"]
pub struct WaitForUpload<'a> {
    client: &'a Client,
    id: String,
    timeout: Duration,
    poll_interval: Duration,
}

/// Polls `client.v1().get(id)` until the image has been uploaded (is no longer
/// a draft) and returns it. Defaults: 60 s timeout, a poll every second.
pub fn wait_for_upload<'a>(client: &'a Client, id: impl Into<String>) -> WaitForUpload<'a> {
    WaitForUpload {
        client,
        id: id.into(),
        timeout: Duration::from_secs(60),
        poll_interval: Duration::from_secs(1),
    }
}

impl WaitForUpload<'_> {
    /// How long to wait in all, requests included (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long to pause between polls (default 1 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Polls until the image is uploaded, an error that waiting cannot fix (the
    /// image does not exist, bad credentials), or the timeout.
    ///
    /// Errors that may pass ([`Error::is_retryable`]: 429, 5xx, transport) are
    /// polled through until the deadline. Running out of time gives an
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) error whose
    /// `source()` is an [`UploadWaitTimedOut`].
    pub async fn send(self) -> Result<types::Image> {
        crate::ids::check("image_id", &self.id)?;
        if self.poll_interval.is_zero() {
            return Err(Error::invalid_input("the poll interval must not be zero"));
        }
        let started = Instant::now();
        let deadline = started + self.timeout;
        let mut polls = 0u32;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            polls += 1;
            match tokio::time::timeout(remaining, image_status(self.client, &self.id)).await {
                Err(_elapsed) => break,
                Ok(Ok(status)) if !status.draft => return Ok(status.image),
                Ok(Ok(_draft)) => {}
                Ok(Err(e)) if e.is_retryable() => {}
                Ok(Err(e)) => return Err(e),
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            tokio::time::sleep(self.poll_interval.min(remaining)).await;
        }
        let waited = started.elapsed();
        Err(Error::timeout(
            format!(
                "image {:?} was still a draft after {} ms ({polls} polls)",
                self.id,
                waited.as_millis()
            ),
            TimeoutLimit::Wait(self.timeout),
        )
        .with_source(UploadWaitTimedOut {
            id: self.id,
            waited,
            polls,
        }))
    }
}

/// The `source()` of the error [`WaitForUpload::send`] returns when the image
/// was still a draft at the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadWaitTimedOut {
    /// The image waited for.
    pub id: String,
    /// How long was waited.
    pub waited: Duration,
    /// How many times the image was fetched.
    pub polls: u32,
}

impl fmt::Display for UploadWaitTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "image {:?} not uploaded within {} ms",
            self.id,
            self.waited.as_millis()
        )
    }
}

impl std::error::Error for UploadWaitTimedOut {}

impl UploadWaitTimedOut {
    /// The timeout behind `error`, if it is a [`WaitForUpload`] timeout.
    pub fn of(error: &Error) -> Option<&UploadWaitTimedOut> {
        std::error::Error::source(error)?.downcast_ref()
    }
}
