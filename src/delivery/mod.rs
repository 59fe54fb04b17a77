//! Delivery, transformation and signed URLs, built and parsed, with a verifier and responsive markup.
//!
//! Cloudflare serves an image at
//! `https://imagedelivery.net/<account_hash>/<image_id>/<variant>`, or on one of
//! your zones at `https://<zone>/cdn-cgi/imagedelivery/<account_hash>/<image_id>/<variant>`.
//! The variant is a named variant (`public`) or flexible-variant options
//! (`w=400,sharpen=3`, see [`TransformOptions`]).
//!
//! Transformations of any image on a zone are served from
//! `https://<zone>/cdn-cgi/image/<options>/<source>` ([`TransformUrl`]). Both
//! kinds of options are [`TransformOptions`]: every option Cloudflare documents
//! for URLs, typed, with its documented range checked before a URL exists
//! ([`UrlError`]). [`parse_url`] reads the three forms back into the same typed
//! values, and [`ResponsiveImage`] writes `srcset` and `<picture>` markup over a
//! bounded set of widths.
//!
//! Images uploaded with `requireSignedURLs` are only served from signed URLs:
//! `exp` (Unix seconds) is added to the query, then `sig`, the lowercase hex
//! HMAC-SHA256 of `path + "?" + query` keyed with a signing key of the account
//! (see [`SigningKey`]). The query signed is the `application/x-www-form-urlencoded`
//! serialization of its parameters, as Cloudflare's documented signer computes it
//! with `URLSearchParams` (see [`sign_url`]).
//!
//! ```
//! use cloudflare_images::delivery::{DeliveryUrl, Expiry, TransformOptions, SigningKey};
//! # fn main() -> Result<(), cloudflare_images::Error> {
//! let url = DeliveryUrl::new("ZWd9g1K7eljCn_KDTu_MWA", "products/café 01", "public")?;
//! assert_eq!(
//!     url.to_string(),
//!     "https://imagedelivery.net/ZWd9g1K7eljCn_KDTu_MWA/products/caf%C3%A9%2001/public"
//! );
//!
//! let thumb = DeliveryUrl::new(
//!     "ZWd9g1K7eljCn_KDTu_MWA",
//!     "083eb7b2-5392-4565-b69e-aff66acddd00",
//!     TransformOptions::new().width(400).sharpen(3.0),
//! )?
//! .on_zone("images.example.com")?;
//! assert_eq!(
//!     thumb.to_string(),
//!     "https://images.example.com/cdn-cgi/imagedelivery/ZWd9g1K7eljCn_KDTu_MWA/\
//!      083eb7b2-5392-4565-b69e-aff66acddd00/w=400,sharpen=3"
//! );
//!
//! let key = SigningKey::new("my-signing-key")?;
//! let signed = url.sign(&key, Expiry::from_unix_seconds(1631289275));
//! assert!(signed.contains("?exp=1631289275&sig="));
//! # Ok(())
//! # }
//! ```
//!
//! # How image ids are escaped
//!
//! A custom id may contain `/` (`products/2024/a.png`); each `/` stays a path
//! separator, as Cloudflare expects. Every other byte except the RFC 3986
//! unreserved characters (`A-Z a-z 0-9 - . _ ~`) is percent-encoded per segment
//! as UTF-8 with uppercase hex: a space becomes `%20`, `?` `%3F`, `#` `%23`,
//! `%` `%25`, `é` `%C3%A9`, and sub-delimiters such as `+`, `,`, `=` and `@` are
//! encoded too. Leaving only unreserved characters bare makes the path
//! unambiguous and stable: HTTP clients, proxies and Cloudflare's URL
//! normalization leave it as it is, so the path that was signed is the path the
//! server sees. Ids with a leading or trailing `/`, or with a `.` or `..`
//! segment, are refused: URL normalization would resolve those segments away
//! and the URL would no longer address the image.
//!
//! # Signing and custom domains
//!
//! The signed path is the path of the URL as it will be requested: on a custom
//! domain it includes `/cdn-cgi/imagedelivery`. [`verify_signed_url`] accepts
//! either form for such URLs, as Cloudflare does.

mod expiry;
mod keys;
mod options;
mod parse;
mod responsive;
mod sign;
mod transform_url;
mod url;
mod url_error;
mod variant;
mod verify;

pub use expiry::{Clock, Expiry, SystemClock};
pub use keys::SigningKey;
pub use options::{
    Border, Color, Fit, Flip, Format, Gravity, MetadataPolicy, Quality, QualityLevel, Rotate,
    TransformOption, TransformOptions, Trim, Width, MAX_DIMENSION,
};
pub use parse::{parse_url, ParsedUrl};
pub use responsive::{Markup, ResponsiveImage, MAX_SRCSET_WIDTHS};
pub use sign::sign_url;
pub use transform_url::{Source, TransformUrl, TRANSFORM_PATH_PREFIX};
pub use url::DeliveryUrl;
pub use url_error::UrlError;
pub use variant::{Variant, MAX_VARIANT_NAME_LEN};
pub use verify::{verify_signed_url, VerifyError};

/// Cloudflare's delivery origin.
pub const DELIVERY_ORIGIN: &str = "https://imagedelivery.net";

/// The path prefix of delivery on a custom domain (zone).
pub const ZONE_PATH_PREFIX: &str = "/cdn-cgi/imagedelivery";
