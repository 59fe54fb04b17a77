#![cfg_attr(docsrs, feature(doc_cfg))]
//! A typed client for the [Cloudflare Images API](https://developers.cloudflare.com/images/),
//! generated from Cloudflare's OpenAPI description and finished by hand where
//! generation stops: streamed multipart uploads, pagination streams, signed
//! delivery URLs, one error type.
//!
//! ```
//! use cloudflare_images::delivery::{DeliveryUrl, SigningKey};
//! use cloudflare_images::Client;
//! use futures_util::TryStreamExt;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = cloudflare_images_emulator::Emulator::start().await?;
//! # let (base_url, account_id) = (emulator.base_url(), emulator.account_id().to_string());
//! # let account_hash = emulator.account_hash().to_string();
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("cat.png");
//! # std::fs::write(&path, cloudflare_images_emulator::fixtures::PIXEL_PNG)?;
//! // Against the real API: `Client::from_env()?` reads CLOUDFLARE_API_TOKEN and
//! // CLOUDFLARE_ACCOUNT_ID. Here, the local emulator of the API.
//! let client = Client::builder()
//!     .api_token("any-token")
//!     .account_id(account_id)
//!     .base_url(base_url)
//!     .build()?;
//!
//! // Upload a file, streamed from disk, with a custom id and metadata.
//! let image = client
//!     .v1()
//!     .create()
//!     .path(&path)
//!     .id("pets/cat")
//!     .metadata(serde_json::json!({"owner": "ada"}))
//!     .send()
//!     .await?;
//! assert_eq!(image.id.as_deref(), Some("pets/cat"));
//!
//! // Every image, across pages, as a lazy stream.
//! let ids: Vec<String> = client
//!     .v2()
//!     .list_all()
//!     .per_page(1000)
//!     .items()
//!     .map_ok(|image| image.id.unwrap_or_default())
//!     .try_collect()
//!     .await?;
//! assert_eq!(ids, ["pets/cat"]);
//!
//! // A delivery URL signed with the account's signing key, valid for an hour.
//! let key = SigningKey::fetch(&client, None).await?;
//! let url = DeliveryUrl::new(account_hash, "pets/cat", "public")?
//!     .sign_for(&key, std::time::Duration::from_secs(3600))?;
//! assert!(url.starts_with("https://imagedelivery.net/") && url.contains("?exp=") && url.contains("&sig="));
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - [`Client`]: credentials, account, base URL; built with [`Client::builder`] or
//!   [`Client::from_env`].
//! - The resource tree mirrors Cloudflare's official SDKs: `client.v1().get(id)`,
//!   `client.v1().variants().create(..)`, `client.v2().direct_uploads().create()`.
//!   Required values are arguments, optional ones builder setters, and every
//!   request is sent with `.send().await`. See [`resources`].
//! - [`upload`]: uploads from a path (streamed), bytes, any `AsyncRead` or a
//!   URL, validated before sending; many at once with a result per item
//!   (`client.v1().create_many()`, [`upload::UploadMany`]).
//! - [`pagination`]: `client.v2().list_all()` and friends, lazy `Stream`s of
//!   images or pages, with metadata filters, resume and prefetch.
//! - [`direct`]: the direct creator upload flow (upload to a one-time URL without
//!   credentials, wait until the image is ready).
//! - [`delivery`]: delivery URLs, flexible variants, signed URLs and a verifier.
//! - [`Blob`]: original image bytes, streamed or saved atomically to a file.
//! - [`config`]: the client's configuration, grouped: deadlines
//!   ([`config::Timeouts`]), memory, connection and pacing limits
//!   ([`config::Limits`]), and retries ([`RetryPolicy`], [`config::retry`]):
//!   failed requests are repeated only when repeating cannot do anything twice;
//!   the SDK never stores an image twice.
//! - [`ids`]: the one rule for ids in request paths and custom ids, and their
//!   percent-encoding.
//! - Every request, generated or handwritten, goes through one transport:
//!   credentials never follow a redirect, path values are encoded so the server
//!   decodes exactly what was passed, every request has a deadline and a memory
//!   bound, a 429 pauses the whole client, and each attempt is a `tracing` span.
//! - [`types`]: the request and response types, generated from the spec.
//! - [`Error`]: the one error type, with status, Cloudflare codes
//!   ([`ImagesErrorCode`]), `cf-ray` and the `source()` chain.
//!
//! # Generated and handwritten code
//!
//! [`types`], [`open_enums`] and [`resources`] are generated from `spec/` by
//! `codegen/` (see the repository's README); everything else is written by hand.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

/// Includes a generated file: in this workspace, as build.rs just generated it
/// from `spec/` into `OUT_DIR` (`tests/drift.rs` checks that `generated/` holds
/// the same); elsewhere (users' builds), the checked-in copy in `generated/`.
macro_rules! include_generated {
    ($file:literal) => {
        #[cfg(cloudflare_images_regenerated)]
        include!(concat!(env!("OUT_DIR"), "/", $file));
        #[cfg(not(cloudflare_images_regenerated))]
        include!(concat!(env!("CARGO_MANIFEST_DIR"), "/generated/", $file));
    };
}

/// The request and response types, generated from the spec by progenitor
/// (re-exported as [`types`] and [`open_enums`]).
#[allow(
    missing_docs,
    unused_imports,
    clippy::all,
    rustdoc::bare_urls,
    rustdoc::invalid_html_tags,
    rustdoc::broken_intra_doc_links
)]
mod api {
    include_generated!("api.rs");
}

/// The resource tree (`client.v1().variants().get(..)`), generated from the spec.
#[allow(
    clippy::all,
    rustdoc::bare_urls,
    rustdoc::invalid_html_tags,
    rustdoc::broken_intra_doc_links
)]
pub mod resources {
    include_generated!("resources.rs");
}

mod blob;
mod client;
pub mod config;
pub mod delivery;
pub mod direct;
pub mod error;
mod finite;
pub mod ids;
pub mod pagination;
mod runtime;
mod tls;
pub mod upload;

pub use api::open_enums;
pub use api::types;
pub use blob::Blob;
pub use client::{Client, ClientBuilder, Credentials, Secret};
pub use config::{RateLimit, RetryPolicy};
pub use error::{ApiMessage, Error, ErrorKind, ImagesErrorCode, Result, TimeoutLimit};
pub use tls::http_client_builder;

/// The names most programs need: `use cloudflare_images::prelude::*;`.
pub mod prelude {
    pub use crate::delivery::{DeliveryUrl, SigningKey, TransformOptions};
    pub use crate::pagination::MetadataFilter;
    pub use crate::types::{Image, ImageVariantDefinition, ImageVariantOptions};
    pub use crate::upload::UploadMany;
    pub use crate::{Client, Error, ErrorKind, ImagesErrorCode, Result};
}

/// README.md's code blocks, compiled as doctests (`cargo test --doc`) so the
/// README's Rust cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
