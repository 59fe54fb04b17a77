//! A typed client for the [Cloudflare Images API](https://developers.cloudflare.com/images/),
//! generated from Cloudflare's OpenAPI description and finished by hand where
//! generation stops (multipart uploads, errors, blobs).
//!
//! ```
//! use cloudflare_images::Client;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = cloudflare_images_emulator::Emulator::start().await?;
//! # let (base_url, account_id) = (emulator.base_url(), emulator.account_id().to_string());
//! // Against the real API: Client::from_env()? reads CLOUDFLARE_API_TOKEN and
//! // CLOUDFLARE_ACCOUNT_ID. Here, a local emulator of the API.
//! let client = Client::builder()
//!     .api_token("any-token")
//!     .account_id(account_id)
//!     .base_url(base_url)
//!     .build()?;
//!
//! let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
//! let image = client.v1().create().file(&png[..], "pixel.png").id("docs/pixel").send().await?;
//! assert_eq!(image.id.as_deref(), Some("docs/pixel"));
//!
//! let page = client.v2().list().per_page(100u32).send().await?;
//! assert!(page.images.iter().any(|i| i.id.as_deref() == Some("docs/pixel")));
//!
//! client.v1().delete("docs/pixel").send().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - [`Client`]: credentials, account, base URL; built with [`Client::builder`] or
//!   [`Client::from_env`].
//! - The resource tree mirrors Cloudflare's official SDKs: `client.v1().list()`,
//!   `client.v1().variants().create(..)`, `client.v2().direct_uploads().create()`.
//!   Required values are arguments, optional ones builder setters, and every
//!   request is sent with `.send().await`. See [`resources`].
//! - [`types`]: the request and response types, generated from the spec.
//! - [`Error`]: the one error type, with status, Cloudflare codes, `cf-ray` and the
//!   `source()` chain.
//!
//! # Generated and handwritten code
//!
//! [`api`] and [`resources`] are generated from `spec/` by `codegen/` (see the
//! repository's README); everything else is written by hand.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

/// The progenitor client and types, generated from the spec. Prefer the resource
/// tree ([`Client::v1`], [`Client::v2`]); this module is public for its types.
#[allow(
    missing_docs,
    unused_imports,
    clippy::all,
    rustdoc::bare_urls,
    rustdoc::invalid_html_tags,
    rustdoc::broken_intra_doc_links
)]
pub mod api {
    include!(concat!(env!("CARGO_MANIFEST_DIR"), "/generated/api.rs"));
}

/// The resource tree (`client.v1().variants().get(..)`), generated from the spec.
#[allow(
    clippy::all,
    rustdoc::bare_urls,
    rustdoc::invalid_html_tags,
    rustdoc::broken_intra_doc_links
)]
pub mod resources {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/generated/resources.rs"
    ));
}

pub mod batch;
mod blob;
mod client;
pub mod delivery;
pub mod direct;
pub mod error;
pub mod error_code;
mod hooks;
pub mod pagination;
pub mod upload;

pub use api::open_enums;
pub use api::types;
pub use blob::Blob;
pub use client::{Client, ClientBuilder, Credentials, Secret, DEFAULT_BASE_URL};
pub use error::{ApiMessage, Error, ErrorKind, Result};

/// The names most programs need: `use cloudflare_images::prelude::*;`.
pub mod prelude {
    pub use crate::types::{Image, ImageVariantDefinition, ImageVariantOptions};
    pub use crate::{Client, Error, ErrorKind, Result};
}
