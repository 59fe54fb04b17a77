//! When the client repeats a failed request, and when it never does.
//!
//! Cloudflare's official SDKs retry 408, 409, 429, 5xx and connection errors for
//! every request, uploads included, which can store an image twice. Here a
//! request is repeated only when repeating it cannot do anything twice:
//!
//! - any request whose failure proves the server did not act on it: the
//!   connection could not be made, or the answer was 429 (Cloudflare rate-limits
//!   before processing);
//! - idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) also on 408, 500,
//!   502, 503, 504 and transport failures after sending.
//!
//! A request whose body is a stream (every multipart upload) cannot be repeated
//! at all, so an upload is never sent twice by the SDK; the caller decides, and a
//! custom id makes a repeat safe. `Retry-After` is honoured; a wait longer than
//! [`RetryPolicy::max_backoff`] is not done silently, the 429 is returned instead.

use std::time::Duration;

use reqwest::{Method, StatusCode};

/// How many times, and how patiently, the client repeats a failed request.
/// Set with [`ClientBuilder::retry_policy`](crate::ClientBuilder::retry_policy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Two retries, backing off from 500 ms (with jitter), waiting at most 30 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Never repeat a request.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// How many times a request may be repeated after its first attempt.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The wait before the first retry; it doubles for each further one.
    pub fn initial_backoff(mut self, wait: Duration) -> Self {
        self.initial_backoff = wait;
        self
    }

    /// The longest wait between attempts, `Retry-After` included: a server that
    /// asks for more gets its error returned instead.
    pub fn max_backoff(mut self, wait: Duration) -> Self {
        self.max_backoff = wait;
        self
    }

    /// The retries allowed after the first attempt.
    pub fn retries(&self) -> u32 {
        self.max_retries
    }

    /// How long to wait before repeating a request that failed with `outcome`,
    /// or `None` when it must not be repeated. `attempt` counts from 0.
    pub(crate) fn delay(
        &self,
        method: &Method,
        outcome: Outcome,
        attempt: u32,
    ) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        let idempotent = matches!(
            *method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
        );
        let backoff = || {
            let exp = self
                .initial_backoff
                .saturating_mul(2u32.saturating_pow(attempt));
            jitter(exp.min(self.max_backoff))
        };
        match outcome {
            Outcome::NotConnected => Some(backoff()),
            Outcome::Status(status, retry_after) => {
                let retry = status == StatusCode::TOO_MANY_REQUESTS
                    || (idempotent && matches!(status.as_u16(), 408 | 500 | 502 | 503 | 504));
                if !retry {
                    return None;
                }
                match retry_after {
                    Some(wait) if wait > self.max_backoff => None,
                    Some(wait) => Some(wait),
                    None => Some(backoff()),
                }
            }
            Outcome::FailedAfterSending => idempotent.then(backoff),
        }
    }
}

/// What happened to one attempt, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// No connection was made: the server cannot have acted on the request.
    NotConnected,
    /// A response arrived, with its `Retry-After` if any.
    Status(StatusCode, Option<Duration>),
    /// The request may have reached the server (timeout, reset, body error).
    FailedAfterSending,
}

impl Outcome {
    /// Classifies an attempt; `None` for a success or an answer nobody retries.
    pub(crate) fn of(result: &reqwest::Result<reqwest::Response>) -> Option<Outcome> {
        match result {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => {
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                Some(Outcome::Status(response.status(), retry_after))
            }
            Err(e) if e.is_connect() => Some(Outcome::NotConnected),
            Err(_) => Some(Outcome::FailedAfterSending),
        }
    }
}

/// Between half and all of `wait`, so that clients that failed together do not
/// retry together. Seeded per call from the standard library's random hasher keys.
fn jitter(wait: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(wait.as_nanos() as u64);
    let fraction = (h.finish() % 1000) as f64 / 1000.0;
    wait.mul_f64(0.5 + fraction / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, retry_after: Option<u64>) -> Outcome {
        Outcome::Status(
            StatusCode::from_u16(code).unwrap(),
            retry_after.map(Duration::from_secs),
        )
    }

    #[test]
    fn idempotent_requests_retry_server_errors_others_only_when_not_processed() {
        let p = RetryPolicy::default();
        for code in [408, 500, 502, 503, 504] {
            assert!(
                p.delay(&Method::GET, status(code, None), 0).is_some(),
                "GET {code}"
            );
            assert!(
                p.delay(&Method::DELETE, status(code, None), 0).is_some(),
                "DELETE {code}"
            );
            assert!(
                p.delay(&Method::POST, status(code, None), 0).is_none(),
                "POST {code}"
            );
            assert!(
                p.delay(&Method::PATCH, status(code, None), 0).is_none(),
                "PATCH {code}"
            );
        }
        for code in [400, 401, 403, 404, 409, 413, 415, 501] {
            assert!(
                p.delay(&Method::GET, status(code, None), 0).is_none(),
                "GET {code}"
            );
        }
        assert!(p.delay(&Method::POST, status(429, None), 0).is_some());
        assert!(p.delay(&Method::POST, Outcome::NotConnected, 0).is_some());
        assert!(p
            .delay(&Method::POST, Outcome::FailedAfterSending, 0)
            .is_none());
        assert!(p
            .delay(&Method::GET, Outcome::FailedAfterSending, 0)
            .is_some());
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let p = RetryPolicy::default().max_backoff(Duration::from_secs(10));
        assert_eq!(
            p.delay(&Method::GET, status(429, Some(3)), 0),
            Some(Duration::from_secs(3))
        );
        assert_eq!(p.delay(&Method::GET, status(429, Some(300)), 0), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_the_limit() {
        let p = RetryPolicy::default()
            .initial_backoff(Duration::from_millis(100))
            .max_retries(3);
        for attempt in 0..3 {
            let d = p.delay(&Method::GET, status(503, None), attempt).unwrap();
            let full = Duration::from_millis(100 * 2u64.pow(attempt));
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
        assert_eq!(p.delay(&Method::GET, status(503, None), 3), None);
        assert_eq!(
            RetryPolicy::none().delay(&Method::GET, status(503, None), 0),
            None
        );
    }
}
