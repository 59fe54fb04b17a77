//! Rate-limit windows and batch tokens.
//!
//! Two limits, as Cloudflare documents them:
//!
//! - the account's global limit, 1,200 API requests per 300 s ([`GLOBAL_LIMIT`],
//!   [`GLOBAL_WINDOW`]), counted on every request under `/client/v4/`;
//! - each batch token's limit, 200 requests per 1 s ([`BATCH_LIMIT`], [`BATCH_WINDOW`]),
//!   counted on the batch routes only (which do not count against the global limit).
//!
//! Each is a sliding log: the times of the requests admitted in the last window are kept
//! (at most `limit` of them); a request is admitted when fewer than `limit` were admitted in
//! the window ending now. A refused request is not counted, and its `Retry-After` is the time,
//! in whole seconds rounded up (at least 1), until the oldest admitted request leaves the
//! window, i.e. until the next request would be admitted. `Config::rate_limit_scale`
//! multiplies the window lengths (never the counts).
//!
//! Windows are off unless `Config::rate_limits` is set (see the crate README for why).
//! Batch tokens are kept in memory, per process, with their expiry.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::encoding::random_key;
use crate::http::ApiError;

/// Requests per [`GLOBAL_WINDOW`] on the API, per account.
pub(crate) const GLOBAL_LIMIT: usize = 1200;
/// Length of the global window (5 minutes) before scaling.
pub(crate) const GLOBAL_WINDOW: Duration = Duration::from_secs(300);
/// Requests per [`BATCH_WINDOW`] on the batch routes, per batch token.
pub(crate) const BATCH_LIMIT: usize = 200;
/// Length of a batch token's window (1 second) before scaling.
pub(crate) const BATCH_WINDOW: Duration = Duration::from_secs(1);

/// A sliding-log rate window: at most `limit` admitted requests in any `length`.
#[derive(Debug)]
pub(crate) struct Window {
    limit: usize,
    length: Duration,
    admitted: VecDeque<Instant>,
}

impl Window {
    pub(crate) fn new(limit: usize, length: Duration) -> Window {
        Window {
            limit,
            length,
            admitted: VecDeque::new(),
        }
    }

    /// Admits (and counts) a request made at `now`, or returns how long until one would be
    /// admitted.
    pub(crate) fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        while let Some(&first) = self.admitted.front() {
            if now.saturating_duration_since(first) >= self.length {
                self.admitted.pop_front();
            } else {
                break;
            }
        }
        match self.admitted.front() {
            Some(&first) if self.admitted.len() >= self.limit => {
                Err((first + self.length).saturating_duration_since(now))
            }
            _ => {
                self.admitted.push_back(now);
                Ok(())
            }
        }
    }
}

impl Window {
    /// The requests left in the window and the seconds (rounded up) until the
    /// oldest admitted request leaves it, as Cloudflare's `Ratelimit` header reports
    /// them. Called right after [`admit`](Self::admit), which dropped every request
    /// older than the window, so the log holds exactly the live ones.
    fn headroom(&self, now: Instant) -> Headroom {
        let reset = self.admitted.front().map_or(0, |&first| {
            retry_after_secs((first + self.length).saturating_duration_since(now))
        });
        Headroom {
            remaining: self.limit.saturating_sub(self.admitted.len()),
            reset_secs: reset,
            quota: self.limit,
            window_secs: retry_after_secs(self.length),
        }
    }
}

/// What the global window reports on each API answer, in Cloudflare's rate-limit
/// headers (<https://developers.cloudflare.com/fundamentals/api/reference/limits/>):
/// `Ratelimit: "default";r=<remaining>;t=<reset>` and
/// `Ratelimit-Policy: "default";q=<quota>;w=<window>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Headroom {
    /// Requests left in the current window.
    pub(crate) remaining: usize,
    /// Seconds until a request leaves the window (0 when none is in it).
    pub(crate) reset_secs: u64,
    /// Requests allowed per window.
    pub(crate) quota: usize,
    /// The window's length in seconds (after `rate_limit_scale`).
    pub(crate) window_secs: u64,
}

impl Headroom {
    /// Adds the two headers to `headers`.
    pub(crate) fn write(&self, headers: &mut axum::http::HeaderMap) {
        let pairs = [
            (
                "ratelimit",
                format!("\"default\";r={};t={}", self.remaining, self.reset_secs),
            ),
            (
                "ratelimit-policy",
                format!("\"default\";q={};w={}", self.quota, self.window_secs),
            ),
        ];
        for (name, value) in pairs {
            if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
}

/// `Retry-After` for a wait: whole seconds, rounded up, at least 1.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// The 429 Cloudflare answers beyond a limit: code 971 and `Retry-After`.
pub(crate) fn too_many_requests(wait: Duration) -> ApiError {
    let mut err = ApiError::new(
        429,
        971,
        "Please wait and consider throttling your request speed",
    );
    err.retry_after = Some(retry_after_secs(wait));
    err
}

/// Why a batch request was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Unknown or expired token.
    Token,
    /// The token's window is full; wait this long.
    Limited(Duration),
}

#[derive(Debug)]
struct BatchToken {
    expires: DateTime<Utc>,
    window: Window,
}

/// The rate windows and batch tokens of one emulator.
#[derive(Debug)]
pub(crate) struct Limits {
    enabled: bool,
    scale: f64,
    token_ttl: Duration,
    global: Mutex<Window>,
    tokens: Mutex<HashMap<String, BatchToken>>,
    issued: AtomicU64,
    /// Requests answered 429 by a window (global or batch).
    refused: AtomicU64,
}

impl Limits {
    /// `scale` must be finite and positive (checked by `Emulator::start_with`).
    pub(crate) fn new(enabled: bool, scale: f64, token_ttl: Duration) -> Limits {
        Limits {
            enabled,
            scale,
            token_ttl,
            global: Mutex::new(Window::new(GLOBAL_LIMIT, GLOBAL_WINDOW.mul_f64(scale))),
            tokens: Mutex::new(HashMap::new()),
            issued: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Counts one API request against the global window (when windows are on), and
    /// returns the headroom left after it (`None` when windows are off: nothing is
    /// counted, so the emulator sends no rate-limit headers). A refusal carries the
    /// headroom too (none left).
    pub(crate) fn admit_global(&self) -> Result<Option<Headroom>, (ApiError, Option<Headroom>)> {
        if !self.enabled {
            return Ok(None);
        }
        let mut window = self.global.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match window.admit(now) {
            Ok(()) => Ok(Some(window.headroom(now))),
            Err(wait) => {
                self.refused.fetch_add(1, Ordering::SeqCst);
                Err((too_many_requests(wait), Some(window.headroom(now))))
            }
        }
    }

    /// Issues a new batch token; returns it and its expiry. Forgets expired tokens.
    pub(crate) fn issue_token(&self) -> (String, DateTime<Utc>) {
        let now = Utc::now();
        let ttl = chrono::Duration::from_std(self.token_ttl).unwrap_or(chrono::Duration::MAX);
        let expires = now
            .checked_add_signed(ttl)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let token = random_key();
        let window = Window::new(BATCH_LIMIT, BATCH_WINDOW.mul_f64(self.scale));
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.retain(|_, t| t.expires > now);
        tokens.insert(token.clone(), BatchToken { expires, window });
        self.issued.fetch_add(1, Ordering::SeqCst);
        (token, expires)
    }

    /// Checks a batch token and counts the request against its window (when windows are on).
    pub(crate) fn admit_batch(&self, token: &str) -> Result<(), Refused> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let Some(state) = tokens.get_mut(token) else {
            return Err(Refused::Token);
        };
        if state.expires <= Utc::now() {
            tokens.remove(token);
            return Err(Refused::Token);
        }
        if !self.enabled {
            return Ok(());
        }
        state.window.admit(Instant::now()).map_err(|wait| {
            self.refused.fetch_add(1, Ordering::SeqCst);
            Refused::Limited(wait)
        })
    }

    /// How many requests a window refused with 429.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }

    /// How many batch tokens were issued.
    pub(crate) fn tokens_issued(&self) -> u64 {
        self.issued.load(Ordering::SeqCst)
    }

    /// Makes every batch token issued so far expired.
    pub(crate) fn expire_tokens(&self) {
        let past = Utc::now() - chrono::Duration::seconds(1);
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        for t in tokens.values_mut() {
            t.expires = past;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_log_counts_and_frees() {
        let mut w = Window::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert!(w.admit(at(0)).is_ok());
        assert!(w.admit(at(1000)).is_ok());
        assert!(w.admit(at(2000)).is_ok());
        // Full until the first leaves the window, at 10 s.
        assert_eq!(w.admit(at(2500)), Err(Duration::from_millis(7500)));
        // A refusal is not counted.
        assert_eq!(w.admit(at(9999)), Err(Duration::from_millis(1)));
        assert!(w.admit(at(10_000)).is_ok());
        assert_eq!(w.admit(at(10_500)), Err(Duration::from_millis(500)));
        assert!(w.admit(at(11_000)).is_ok());
        // Much later, the whole window is free again.
        for ms in [30_000, 30_001, 30_002] {
            assert!(w.admit(at(ms)).is_ok());
        }
        assert!(w.admit(at(30_003)).is_err());
    }

    #[test]
    fn exactly_the_limit_within_one_window() {
        let mut w = Window::new(GLOBAL_LIMIT, GLOBAL_WINDOW);
        let t0 = Instant::now();
        let refused = (0..1300u64)
            .filter(|i| w.admit(t0 + Duration::from_millis(*i)).is_err())
            .count();
        assert_eq!(refused, 100);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
        assert_eq!(retry_after_secs(Duration::from_secs(300)), 300);
    }

    #[test]
    fn tokens_expire_and_have_their_own_windows() {
        let limits = Limits::new(true, 100.0, Duration::from_secs(3600));
        let (a, expires) = limits.issue_token();
        assert!(expires > Utc::now() + chrono::Duration::minutes(59));
        let (b, _) = limits.issue_token();
        assert_ne!(a, b);
        for _ in 0..BATCH_LIMIT {
            assert_eq!(limits.admit_batch(&a), Ok(()));
        }
        assert!(matches!(limits.admit_batch(&a), Err(Refused::Limited(_))));
        assert_eq!(limits.admit_batch(&b), Ok(()));
        assert_eq!(limits.admit_batch("nope"), Err(Refused::Token));
        limits.expire_tokens();
        assert_eq!(limits.admit_batch(&b), Err(Refused::Token));
        assert_eq!(limits.tokens_issued(), 2);
    }

    #[test]
    fn off_means_unlimited_but_tokens_still_checked() {
        let limits = Limits::new(false, 1.0, Duration::from_secs(3600));
        for _ in 0..2 * GLOBAL_LIMIT {
            assert!(limits.admit_global().is_ok());
        }
        let (a, _) = limits.issue_token();
        for _ in 0..2 * BATCH_LIMIT {
            assert_eq!(limits.admit_batch(&a), Ok(()));
        }
        assert_eq!(limits.admit_batch("nope"), Err(Refused::Token));
    }
}
