//! Many uploads at once, with bounded concurrency and one result per input.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = cloudflare_images_emulator::Emulator::start().await?;
//! # let client = cloudflare_images::Client::builder().api_token("t")
//! #     .account_id(emulator.account_id()).base_url(emulator.base_url()).build()?;
//! use cloudflare_images::batch::BatchUpload;
//!
//! # let png = cloudflare_images_emulator::fixtures::PIXEL_PNG; // a 1x1 PNG
//! let report = BatchUpload::new(&client)
//!     .concurrency(4)
//!     .add_bytes(&png[..], "a.png")
//!     .add_bytes(&b"not an image"[..], "b.png") // fails locally, nothing sent
//!     .add_upload(client.v1().create().file(&png[..], "c.png").id("batch/c"))
//!     .send()
//!     .await;
//! assert_eq!((report.succeeded().count(), report.failed().count()), (2, 1));
//! assert_eq!(report.items()[1].index, 1);
//! # Ok(())
//! # }
//! ```

use std::path::Path;

use bytes::Bytes;
use futures_util::StreamExt;

use crate::api::types;
use crate::error::{Error, Result};
use crate::upload::ImageUpload;
use crate::Client;

/// The default number of uploads in flight.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Uploads many images, at most [`concurrency`](Self::concurrency) at a time,
/// and reports every input's outcome in input order.
///
/// A failure (invalid input, an API error, a transport error) is recorded for
/// its item and the batch goes on. Each upload is retried only as any upload is
/// (see [`crate::retry`]): never in a way that could store an image twice.
#[must_use = "a batch does nothing until it is sent with `.send().await`"]
#[derive(Debug)]
pub struct BatchUpload<'a> {
    client: &'a Client,
    concurrency: usize,
    uploads: Vec<ImageUpload<'a>>,
}

impl<'a> BatchUpload<'a> {
    /// An empty batch on `client`, with [`DEFAULT_CONCURRENCY`].
    pub fn new(client: &'a Client) -> Self {
        BatchUpload {
            client,
            concurrency: DEFAULT_CONCURRENCY,
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

    /// How many uploads the batch holds.
    pub fn len(&self) -> usize {
        self.uploads.len()
    }

    /// Whether the batch holds no uploads.
    pub fn is_empty(&self) -> bool {
        self.uploads.is_empty()
    }

    /// Runs every upload and returns one [`BatchItem`] per input, in input
    /// order. Never fails as a whole and never stops at the first failure.
    pub async fn send(self) -> BatchReport {
        let items = futures_util::stream::iter(self.uploads.into_iter().enumerate().map(
            |(index, upload)| async move {
                let source = upload.describe();
                let result = upload.send().await;
                BatchItem {
                    index,
                    source,
                    result,
                }
            },
        ))
        .buffered(self.concurrency)
        .collect()
        .await;
        BatchReport { items }
    }
}

/// The outcome of one input of a batch.
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchItem {
    /// The input's position in the batch, from 0.
    pub index: usize,
    /// What was uploaded (see [`ImageUpload::describe`]).
    pub source: String,
    /// The stored image, or why this input failed.
    pub result: Result<types::Image>,
}

/// Every input's outcome, in input order.
#[derive(Debug)]
pub struct BatchReport {
    items: Vec<BatchItem>,
}

impl BatchReport {
    /// All items, in input order.
    pub fn items(&self) -> &[BatchItem] {
        &self.items
    }

    /// The items, by value.
    pub fn into_items(self) -> Vec<BatchItem> {
        self.items
    }

    /// The items that uploaded, as `(item, image)` pairs, in input order.
    ///
    /// ```no_run
    /// # async fn run(client: cloudflare_images::Client) {
    /// let report = client.v1().create_batch().add_path("a.png").send().await;
    /// for (item, image) in report.succeeded() {
    ///     println!("#{} {} -> {:?}", item.index, item.source, image.id);
    /// }
    /// # }
    /// ```
    pub fn succeeded(&self) -> impl Iterator<Item = (&BatchItem, &types::Image)> {
        self.items
            .iter()
            .filter_map(|item| item.result.as_ref().ok().map(|image| (item, image)))
    }

    /// The items that failed, as `(item, error)` pairs, in input order: which
    /// input (`item.index`, `item.source`) and why.
    ///
    /// ```no_run
    /// # async fn run(client: cloudflare_images::Client) {
    /// let report = client.v1().create_batch().add_path("a.png").send().await;
    /// for (item, error) in report.failed() {
    ///     eprintln!("#{} {}: {error}", item.index, item.source);
    /// }
    /// # }
    /// ```
    pub fn failed(&self) -> impl Iterator<Item = (&BatchItem, &Error)> {
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
    /// Many uploads with bounded concurrency and a result per item (see [`BatchUpload`]).
    pub fn create_batch(&self) -> BatchUpload<'a> {
        BatchUpload::new(self.client())
    }
}
