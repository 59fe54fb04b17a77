//! Memory, connections and pacing.

use crate::runtime::RateLimit;

/// How much a client reads, holds open and sends.
///
/// Set the ones to change on [`Limits::default()`] and pass it to
/// [`ClientBuilder::limits`](crate::ClientBuilder::limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest response body read into memory; a larger one fails with
    /// [`ErrorKind::BodyTooLarge`](crate::ErrorKind::BodyTooLarge) without being
    /// read on. It bounds [`Blob::bytes`](crate::Blob::bytes) too; a blob streamed
    /// ([`Blob::into_stream`](crate::Blob::into_stream),
    /// [`Blob::save_to`](crate::Blob::save_to)) is not bound by it.
    pub max_response_bytes: u64,
    /// The most requests in flight at once, and the most idle connections kept:
    /// further requests wait their turn, so 10,000 concurrent calls do not open
    /// 10,000 sockets. At least 1.
    pub max_connections: usize,
    /// Paces requests to the API to stay under this limit, e.g.
    /// [`RateLimit::cloudflare_global`] (1,200 per 5 minutes). `None` (the
    /// default): not paced; a 429 still pauses the whole client for its
    /// `Retry-After`.
    pub rate_limit: Option<RateLimit>,
    /// The rate each batch token is paced to in batch mode
    /// ([`Client::with_batch_api`](crate::Client::with_batch_api)).
    pub batch_rate_limit: RateLimit,
}

impl Limits {
    /// The default of [`max_response_bytes`](Self::max_response_bytes): 32 MiB,
    /// far above a 10,000-image page and Cloudflare's 10 MB images.
    pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = crate::runtime::DEFAULT_MAX_RESPONSE_BYTES;
    /// The default of [`max_connections`](Self::max_connections): 64.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 64;

    /// Sets [`max_response_bytes`](Self::max_response_bytes).
    pub fn max_response_bytes(mut self, bytes: u64) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Sets [`max_connections`](Self::max_connections) (0 counts as 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Sets [`rate_limit`](Self::rate_limit).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Sets [`batch_rate_limit`](Self::batch_rate_limit) (default
    /// [`RateLimit::cloudflare_batch_token`], 200 requests per second), for a batch
    /// host with other limits, such as an emulator whose windows are scaled.
    pub fn batch_rate_limit(mut self, limit: RateLimit) -> Self {
        self.batch_rate_limit = limit;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_response_bytes: Self::DEFAULT_MAX_RESPONSE_BYTES,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            rate_limit: None,
            batch_rate_limit: RateLimit::cloudflare_batch_token(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_setters() {
        let l = Limits::default();
        assert_eq!(l.max_response_bytes, 32 * 1024 * 1024);
        assert_eq!(l.max_connections, 64);
        assert_eq!(l.rate_limit, None);
        assert_eq!(l.batch_rate_limit, RateLimit::cloudflare_batch_token());
        let l = l
            .max_connections(0)
            .max_response_bytes(7)
            .rate_limit(RateLimit::cloudflare_global());
        assert_eq!(l.max_connections, 1, "at least one request in flight");
        assert_eq!(l.max_response_bytes, 7);
        assert_eq!(l.rate_limit, Some(RateLimit::cloudflare_global()));
    }
}
