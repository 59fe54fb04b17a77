//! Client configuration, grouped: [`Timeouts`] (deadlines), [`Limits`] (memory,
//! connections, pacing) and [`RetryPolicy`] (when a failed request is repeated),
//! each with documented defaults, set on a [`ClientBuilder`](crate::ClientBuilder)
//! with [`timeouts`](crate::ClientBuilder::timeouts),
//! [`limits`](crate::ClientBuilder::limits) and
//! [`retry_policy`](crate::ClientBuilder::retry_policy).
//!
//! ```
//! use std::time::Duration;
//! use cloudflare_images::config::{Limits, RateLimit, RetryPolicy, Timeouts};
//!
//! let builder = cloudflare_images::Client::builder()
//!     .timeouts(Timeouts::default().operation(Duration::from_secs(60)))
//!     .limits(Limits::default().rate_limit(RateLimit::cloudflare_global()))
//!     .retry_policy(RetryPolicy::default().max_retries(4));
//! # let _ = builder;
//! ```

mod limits;
pub mod retry;
mod timeouts;

pub use crate::runtime::{RateLimit, BATCH_REQUESTS_PER_SECOND, DEFAULT_BATCH_URL};
pub use limits::Limits;
pub use retry::RetryPolicy;
pub use timeouts::Timeouts;

/// Cloudflare's API base URL, the default of
/// [`ClientBuilder::base_url`](crate::ClientBuilder::base_url).
pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";
