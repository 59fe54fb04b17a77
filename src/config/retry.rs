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
//!   502, 503, 504, timeouts and transport failures after sending.
//!
//! Uploads: a file from a path or from bytes is rebuilt for each attempt, so it
//! is repeated on 429 and when no connection was made. With a custom id an
//! upload is repeated like a GET, and an "already exists" (5409) answer after a
//! repeat counts as success once the stored image is shown to be the one sent
//! (same file name, metadata, creator and signing flag). Without a custom id a
//! body that went out is never sent again; a reader's body is sent once. So the
//! SDK never stores an image twice.
//!
//! `Retry-After` is honoured in seconds or as an HTTP date; a wait longer than
//! [`RetryPolicy::max_backoff`] is not done silently, the 429 is returned
//! instead ([`Error::retry_after`](crate::Error::retry_after) tells the wait). A
//! 429 pauses every request of the client and its clones, not only the one that
//! got it. Waits never run past the operation's deadline.

use std::time::Duration;

use reqwest::StatusCode;

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

    /// Sets how many times a request may be repeated after its first attempt
    /// (read back with [`retry_limit`](Self::retry_limit)).
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

    /// How many times a request may be repeated after its first attempt: the
    /// value set by [`max_retries`](Self::max_retries).
    pub fn retry_limit(&self) -> u32 {
        self.max_retries
    }

    /// How long to wait before repeating a request that failed with `outcome`,
    /// or `None` when it must not be repeated. `attempt` counts from 0.
    pub(crate) fn delay(&self, repeat: Repeat, outcome: Outcome, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_retries || repeat == Repeat::Never {
            return None;
        }
        let always = repeat == Repeat::Always;
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
                    || (always && matches!(status.as_u16(), 408 | 500 | 502 | 503 | 504));
                if !retry {
                    return None;
                }
                match retry_after {
                    Some(wait) if wait > self.max_backoff => None,
                    Some(wait) => Some(wait),
                    None => Some(backoff()),
                }
            }
            Outcome::FailedAfterSending => always.then(backoff),
        }
    }
}

/// How safe it is to send a request again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Repeating cannot do anything twice (GET, PUT, DELETE; an upload with a
    /// custom id).
    Always,
    /// Only when the server cannot have acted on it (no connection, 429).
    IfUnprocessed,
    /// Never: the body cannot be sent again.
    Never,
}

/// What happened to one attempt, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// No connection was made: the server cannot have acted on the request.
    NotConnected,
    /// An error response arrived, with its `Retry-After` if any.
    Status(StatusCode, Option<Duration>),
    /// The request may have reached the server (timeout, reset, body error).
    FailedAfterSending,
}

/// The wait a `Retry-After` header asks for: seconds (fractions rounded up,
/// negative as zero) or an HTTP date (one in the past as zero), per RFC 9110.
/// `None` when absent or unreadable.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    parse_retry_after(value, std::time::SystemTime::now())
}

fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        if !seconds.is_finite() {
            return None;
        }
        // Anything beyond a day is as good as "not now"; the cap decides.
        let seconds = seconds.clamp(0.0, 86_400.0 * 365.0).ceil();
        return Some(Duration::from_secs(seconds as u64));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
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
    fn retry_limit_reads_what_max_retries_set() {
        assert_eq!(RetryPolicy::default().max_retries(5).retry_limit(), 5);
        assert_eq!(RetryPolicy::none().retry_limit(), 0);
    }

    #[test]
    fn safe_requests_retry_server_errors_others_only_when_not_processed() {
        let p = RetryPolicy::default();
        for code in [408, 500, 502, 503, 504] {
            assert!(
                p.delay(Repeat::Always, status(code, None), 0).is_some(),
                "{code}"
            );
            assert!(
                p.delay(Repeat::IfUnprocessed, status(code, None), 0)
                    .is_none(),
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 409, 413, 415, 501] {
            assert!(
                p.delay(Repeat::Always, status(code, None), 0).is_none(),
                "{code}"
            );
        }
        assert!(p
            .delay(Repeat::IfUnprocessed, status(429, None), 0)
            .is_some());
        assert!(p
            .delay(Repeat::IfUnprocessed, Outcome::NotConnected, 0)
            .is_some());
        assert!(p
            .delay(Repeat::IfUnprocessed, Outcome::FailedAfterSending, 0)
            .is_none());
        assert!(p
            .delay(Repeat::Always, Outcome::FailedAfterSending, 0)
            .is_some());
        for outcome in [
            status(429, None),
            Outcome::NotConnected,
            Outcome::FailedAfterSending,
        ] {
            assert!(p.delay(Repeat::Never, outcome, 0).is_none());
        }
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let p = RetryPolicy::default().max_backoff(Duration::from_secs(10));
        assert_eq!(
            p.delay(Repeat::Always, status(429, Some(3)), 0),
            Some(Duration::from_secs(3))
        );
        assert_eq!(p.delay(Repeat::Always, status(429, Some(300)), 0), None);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let secs = |v: &str| parse_retry_after(v, now).map(|d| d.as_secs());
        assert_eq!(secs("7"), Some(7));
        assert_eq!(secs(" 1.2 "), Some(2));
        assert_eq!(secs("-5"), Some(0));
        assert_eq!(secs("99999999999999999999"), Some(86_400 * 365));
        // 2015-10-21 07:28:00 GMT is `now`; 07:28:30 is 30 s later.
        assert_eq!(secs("Wed, 21 Oct 2015 07:28:30 GMT"), Some(30));
        assert_eq!(secs("Wed, 21 Oct 2015 07:00:00 GMT"), Some(0));
        assert_eq!(secs("soon"), None);
        assert_eq!(secs("NaN"), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_the_limit() {
        let p = RetryPolicy::default()
            .initial_backoff(Duration::from_millis(100))
            .max_retries(3);
        for attempt in 0..3 {
            let d = p.delay(Repeat::Always, status(503, None), attempt).unwrap();
            let full = Duration::from_millis(100 * 2u64.pow(attempt));
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
        assert_eq!(p.delay(Repeat::Always, status(503, None), 3), None);
        assert_eq!(
            RetryPolicy::none().delay(Repeat::Always, status(503, None), 0),
            None
        );
    }
}
