//! Many uploads at once, from this process, with bounded concurrency and one
//! result per input. (Not Cloudflare's Batch API, which is a host and tokens for
//! higher rate limits: [`Client::with_batch_api`](crate::Client::with_batch_api).)

use std::path::Path;

use bytes::Bytes;
use futures_util::StreamExt;

use super::ImageUpload;
use crate::api::types;
use crate::error::{Error, Result};
use crate::Client;

/// Uploads many images, at most [`concurrency`](Self::concurrency) at a time,
/// and reports every input's outcome in input order.
///
/// A failure (invalid input, an API error, a transport error) is recorded for
/// its item and the other uploads go on. Each upload is retried only as any upload is
/// (see [`crate::config::retry`]): never in a way that could store an image twice.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = cloudflare_images_emulator::Emulator::start().await?;
/// # let client = cloudflare_images::Client::builder().api_token("t")
/// #     .account_id(emulator.account_id()).base_url(emulator.base_url()).build()?;
/// # let png = cloudflare_images_emulator::fixtures::PIXEL_PNG; // a 1x1 PNG
/// let report = client
///     .v1()
///     .create_many()
///     .concurrency(4)
///     .add_bytes(&png[..], "a.png")
///     .add_bytes(&b"not an image"[..], "b.png") // fails locally, nothing sent
///     .add_upload(client.v1().create().file(&png[..], "c.png").id("many/c"))
///     .send()
///     .await;
/// assert_eq!((report.succeeded().count(), report.failed().count()), (2, 1));
/// assert_eq!(report.items()[1].index, 1);
/// # Ok(())
/// # }
/// ```
#[must_use = "nothing is uploaded until it is sent with `.send().await`"]
#[derive(Debug)]
pub struct UploadMany<'a> {
    client: &'a Client,
    concurrency: usize,
    uploads: Vec<ImageUpload<'a>>,
}

impl<'a> UploadMany<'a> {
    /// The number of uploads in flight unless [`concurrency`](Self::concurrency)
    /// says otherwise.
    pub const DEFAULT_CONCURRENCY: usize = 4;

    /// No uploads yet, on `client`, with [`DEFAULT_CONCURRENCY`](Self::DEFAULT_CONCURRENCY).
    /// Public through `client.v1().create_many()`.
    pub(crate) fn new(client: &'a Client) -> Self {
        UploadMany {
            client,
            concurrency: Self::DEFAULT_CONCURRENCY,
            uploads: Vec::new(),
        }
    }

    /// How many uploads may be in flight at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Adds a fully configured upload (`client.v1().create()...`): custom id,
    /// metadata, creator, progress, any source.
    pub fn add_upload(mut self, upload: ImageUpload<'a>) -> Self {
        self.uploads.push(upload);
        self
    }

    /// Adds a file on disk (streamed; see [`ImageUpload::path`]).
    pub fn add_path(self, path: impl AsRef<Path>) -> Self {
        let upload = ImageUpload::new(self.client).path(path);
        self.add_upload(upload)
    }

    /// Adds bytes in memory with their file name.
    pub fn add_bytes(self, data: impl Into<Bytes>, filename: impl Into<String>) -> Self {
        let upload = ImageUpload::new(self.client).file(data, filename);
        self.add_upload(upload)
    }

    /// Adds a URL for Cloudflare to fetch.
    pub fn add_url(self, url: impl Into<String>) -> Self {
        let upload = ImageUpload::new(self.client).url(url);
        self.add_upload(upload)
    }

    /// How many uploads were added.
    pub fn len(&self) -> usize {
        self.uploads.len()
    }

    /// Whether no upload was added.
    pub fn is_empty(&self) -> bool {
        self.uploads.is_empty()
    }

    /// Runs every upload and returns one [`ManyItem`] per input, in input
    /// order. Never fails as a whole and never stops at the first failure.
    pub async fn send(self) -> ManyReport {
        let items = futures_util::stream::iter(self.uploads.into_iter().enumerate().map(
            |(index, upload)| async move {
                let source = upload.describe();
                let result = upload.send().await;
                ManyItem {
                    index,
                    source,
                    result,
                }
            },
        ))
        .buffered(self.concurrency)
        .collect()
        .await;
        ManyReport { items }
    }
}

/// The outcome of one input of an [`UploadMany`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ManyItem {
    /// The input's position among the uploads added, from 0.
    pub index: usize,
    /// What was uploaded (see [`ImageUpload::describe`]).
    pub source: String,
    /// The stored image, or why this input failed.
    pub result: Result<types::Image>,
}

/// Every input's outcome, in input order.
#[derive(Debug)]
pub struct ManyReport {
    items: Vec<ManyItem>,
}

impl ManyReport {
    /// All items, in input order.
    pub fn items(&self) -> &[ManyItem] {
        &self.items
    }

    /// The items, by value.
    pub fn into_items(self) -> Vec<ManyItem> {
        self.items
    }

    /// The items that uploaded, as `(item, image)` pairs, in input order.
    ///
    /// ```no_run
    /// # async fn run(client: cloudflare_images::Client) {
    /// let report = client.v1().create_many().add_path("a.png").send().await;
    /// for (item, image) in report.succeeded() {
    ///     println!("#{} {} -> {:?}", item.index, item.source, image.id);
    /// }
    /// # }
    /// ```
    pub fn succeeded(&self) -> impl Iterator<Item = (&ManyItem, &types::Image)> {
        self.items
            .iter()
            .filter_map(|item| item.result.as_ref().ok().map(|image| (item, image)))
    }

    /// The items that failed, as `(item, error)` pairs, in input order: which
    /// input (`item.index`, `item.source`) and why.
    ///
    /// ```no_run
    /// # async fn run(client: cloudflare_images::Client) {
    /// let report = client.v1().create_many().add_path("a.png").send().await;
    /// for (item, error) in report.failed() {
    ///     eprintln!("#{} {}: {error}", item.index, item.source);
    /// }
    /// # }
    /// ```
    pub fn failed(&self) -> impl Iterator<Item = (&ManyItem, &Error)> {
        self.items
            .iter()
            .filter_map(|item| item.result.as_ref().err().map(|error| (item, error)))
    }

    /// Whether every item uploaded.
    pub fn all_succeeded(&self) -> bool {
        self.items.iter().all(|item| item.result.is_ok())
    }
}

impl<'a> crate::resources::V1<'a> {
    /// Many uploads with bounded concurrency and a result per item (see [`UploadMany`]).
    pub fn create_many(&self) -> UploadMany<'a> {
        UploadMany::new(self.client())
    }
}
