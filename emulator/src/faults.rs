//! Runtime fault injection: rate limits, server errors, latency, connection resets and
//! "stored but answered 500" uploads.
//!
//! Every switch is an atomic, so tests can flip them while the server runs. Faults apply to
//! API requests (paths under `/client/v4/`), to the batch host (`/batch/...`) and to one-time
//! upload URLs (`/upload/...`), never to image delivery. They are independent of the rate
//! windows (`crate::limits`), which are checked after them. Percentages are deterministic: with `P` percent, exactly `P` of every
//! 100 consecutive eligible requests are hit, spread evenly (an accumulator crossing multiples
//! of 100), so tests can predict which request fails.
//!
//! A "reset" is done by failing the hyper service for that request: hyper then closes the
//! connection without writing a single response byte, and the client sees the connection end
//! before a response (an incomplete-message or connection-reset error, depending on timing).
//! It happens before the request is handled, so a reset request never changes any state.
//!
//! Order of evaluation for each eligible request: latency, reset, `fail_next`, rate limit,
//! 5xx percentage.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

const OFF: u64 = u64::MAX;

/// Fault settings given at start-up (see [`crate::Config::faults`] and the binary's flags).
///
/// Every field can also be changed at run time through [`Faults`]. Fields may be added:
/// start from `FaultConfig::default()` (or [`crate::Config::default`]) and set the ones
/// wanted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultConfig {
    /// After this many API requests, answer every further one with 429 (code 971).
    pub rate_limit_after: Option<u64>,
    /// Value of the `Retry-After` header on 429 answers, in seconds (`None` = 1).
    pub retry_after_secs: Option<u64>,
    /// Percentage (0..=100) of API requests answered with 500 (code 5500).
    pub fail_5xx_percent: u8,
    /// Delay added before every API request is handled.
    pub latency: Duration,
    /// Percentage (0..=100) of API requests whose connection is closed without any response.
    pub reset_percent: u8,
    /// Store every uploaded image, then answer 500 anyway.
    pub fail_after_upload: bool,
    /// Injected server errors are HTML 502 pages (see [`Faults::set_html_502`]).
    pub html_502: bool,
}

/// What the fault layer decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FaultAction {
    /// Handle the request normally.
    Proceed,
    /// Close the connection without answering.
    Reset,
    /// Answer with this error instead of handling the request.
    Respond {
        status: u16,
        code: u32,
        message: &'static str,
        retry_after: Option<u64>,
        html: bool,
    },
}

/// Runtime fault switches of a running emulator; get them with
/// [`crate::EmulatorHandle::faults`].
#[derive(Debug)]
pub struct Faults {
    rate_limit_after: AtomicU64,
    rate_limit_seen: AtomicU64,
    retry_after_secs: AtomicU64,
    fail_5xx_percent: AtomicU8,
    acc_5xx: AtomicU64,
    html_502: AtomicBool,
    latency_ms: AtomicU64,
    reset_percent: AtomicU8,
    acc_reset: AtomicU64,
    fail_after_upload: AtomicBool,
    fail_next_count: AtomicU64,
    fail_next_status: AtomicU16,
    injected: AtomicU64,
}

impl Faults {
    /// Creates switches initialised from a [`FaultConfig`].
    pub(crate) fn new(config: &FaultConfig) -> Self {
        let faults = Faults {
            rate_limit_after: AtomicU64::new(OFF),
            rate_limit_seen: AtomicU64::new(0),
            retry_after_secs: AtomicU64::new(1),
            fail_5xx_percent: AtomicU8::new(0),
            acc_5xx: AtomicU64::new(0),
            html_502: AtomicBool::new(false),
            latency_ms: AtomicU64::new(0),
            reset_percent: AtomicU8::new(0),
            acc_reset: AtomicU64::new(0),
            fail_after_upload: AtomicBool::new(false),
            fail_next_count: AtomicU64::new(0),
            fail_next_status: AtomicU16::new(500),
            injected: AtomicU64::new(0),
        };
        faults.set_rate_limit_after(config.rate_limit_after);
        if let Some(secs) = config.retry_after_secs {
            faults.set_retry_after_secs(secs);
        }
        faults.set_fail_5xx_percent(config.fail_5xx_percent);
        faults.set_latency(config.latency);
        faults.set_reset_percent(config.reset_percent);
        faults.set_fail_after_upload(config.fail_after_upload);
        faults.set_html_502(config.html_502);
        faults
    }

    /// After `n` more API requests, answer every further one with HTTP 429, error code 971
    /// and a `Retry-After` header; `None` turns the limit off. Setting it restarts the count.
    pub fn set_rate_limit_after(&self, n: Option<u64>) {
        self.rate_limit_seen.store(0, Ordering::SeqCst);
        let value = n.map_or(OFF, |n| n.min(OFF - 1));
        self.rate_limit_after.store(value, Ordering::SeqCst);
    }

    /// The current rate-limit threshold, if any.
    pub fn rate_limit_after(&self) -> Option<u64> {
        match self.rate_limit_after.load(Ordering::SeqCst) {
            OFF => None,
            n => Some(n),
        }
    }

    /// Sets the `Retry-After` value (seconds) sent with 429 answers. Default 1.
    pub fn set_retry_after_secs(&self, secs: u64) {
        self.retry_after_secs.store(secs, Ordering::SeqCst);
    }

    /// Answers `percent` % of API requests (deterministically spread) with HTTP 500 and error
    /// code 5500, or with an HTML 502 page when [`Faults::set_html_502`] is on. Values above
    /// 100 count as 100.
    pub fn set_fail_5xx_percent(&self, percent: u8) {
        self.acc_5xx.store(0, Ordering::SeqCst);
        self.fail_5xx_percent
            .store(percent.min(100), Ordering::SeqCst);
    }

    /// Makes injected server errors look like a proxy failure: HTTP 502 with an HTML body
    /// (not a JSON envelope), as Cloudflare's edge sometimes answers.
    pub fn set_html_502(&self, on: bool) {
        self.html_502.store(on, Ordering::SeqCst);
    }

    /// Delays every API request by `latency` before handling it.
    pub fn set_latency(&self, latency: Duration) {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.latency_ms.store(ms, Ordering::SeqCst);
    }

    /// The current added latency.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::SeqCst))
    }

    /// Closes the connection without any response for `percent` % of API requests
    /// (deterministically spread), before the request is handled (no state changes).
    /// Values above 100 count as 100.
    pub fn set_reset_percent(&self, percent: u8) {
        self.acc_reset.store(0, Ordering::SeqCst);
        self.reset_percent.store(percent.min(100), Ordering::SeqCst);
    }

    /// When on, uploads (v1 upload and one-time upload URLs) store the image and then answer
    /// HTTP 500 (code 5500), so a client that retries blindly creates duplicates.
    pub fn set_fail_after_upload(&self, on: bool) {
        self.fail_after_upload.store(on, Ordering::SeqCst);
    }

    /// Whether uploads currently answer 500 after storing the image.
    pub fn fail_after_upload(&self) -> bool {
        self.fail_after_upload.load(Ordering::SeqCst)
    }

    /// Answers the next `n` API requests with `status` (an error envelope; 429 carries code
    /// 971 and `Retry-After`, 5xx code 5500, anything else code 5400), without handling them.
    pub fn fail_next(&self, n: u64, status: u16) {
        self.fail_next_status.store(status, Ordering::SeqCst);
        self.fail_next_count.store(n, Ordering::SeqCst);
    }

    /// Turns every fault off (rate limit, errors, latency, resets, fail-after-upload,
    /// pending `fail_next`).
    pub fn clear(&self) {
        self.set_rate_limit_after(None);
        self.set_fail_5xx_percent(0);
        self.set_html_502(false);
        self.set_latency(Duration::ZERO);
        self.set_reset_percent(0);
        self.set_fail_after_upload(false);
        self.fail_next_count.store(0, Ordering::SeqCst);
    }

    /// How many faults (error answers, resets, fail-after-upload answers) were injected so far.
    pub fn injected_count(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    pub(crate) fn note_injected(&self) {
        self.injected.fetch_add(1, Ordering::SeqCst);
    }

    /// Accumulator step: true on exactly `percent` of every 100 calls.
    fn hit(acc: &AtomicU64, percent: u8) -> bool {
        if percent == 0 {
            return false;
        }
        let p = u64::from(percent);
        let old = acc.fetch_add(p, Ordering::SeqCst);
        (old + p) / 100 > old / 100
    }

    /// Decides the fate of one eligible request.
    pub(crate) fn decide(&self) -> FaultAction {
        if Self::hit(&self.acc_reset, self.reset_percent.load(Ordering::SeqCst)) {
            self.note_injected();
            return FaultAction::Reset;
        }
        let pending = self
            .fail_next_count
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if pending.is_ok() {
            self.note_injected();
            let status = self.fail_next_status.load(Ordering::SeqCst);
            return self.error_for(status);
        }
        let limit = self.rate_limit_after.load(Ordering::SeqCst);
        if limit != OFF {
            let seen = self.rate_limit_seen.fetch_add(1, Ordering::SeqCst) + 1;
            if seen > limit {
                self.note_injected();
                return self.error_for(429);
            }
        }
        if Self::hit(&self.acc_5xx, self.fail_5xx_percent.load(Ordering::SeqCst)) {
            self.note_injected();
            if self.html_502.load(Ordering::SeqCst) {
                return FaultAction::Respond {
                    status: 502,
                    code: 5500,
                    message: "Bad Gateway",
                    retry_after: None,
                    html: true,
                };
            }
            return self.error_for(500);
        }
        FaultAction::Proceed
    }

    fn error_for(&self, status: u16) -> FaultAction {
        match status {
            429 => FaultAction::Respond {
                status,
                code: 971,
                message: "Please wait and consider throttling your request speed",
                retry_after: Some(self.retry_after_secs.load(Ordering::SeqCst)),
                html: false,
            },
            503 => FaultAction::Respond {
                status,
                code: 5503,
                message: "Service unavailable",
                retry_after: None,
                html: false,
            },
            500..=599 => FaultAction::Respond {
                status,
                code: 5500,
                message: "Internal Server Error",
                retry_after: None,
                html: false,
            },
            _ => FaultAction::Respond {
                status,
                code: 5400,
                message: "Injected failure",
                retry_after: None,
                html: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_is_exact_and_spread() {
        let f = Faults::new(&FaultConfig::default());
        f.set_fail_5xx_percent(25);
        let hits: Vec<bool> = (0..8).map(|_| f.decide() != FaultAction::Proceed).collect();
        assert_eq!(
            hits,
            vec![false, false, false, true, false, false, false, true]
        );
    }

    #[test]
    fn rate_limit_after_n() {
        let f = Faults::new(&FaultConfig::default());
        f.set_rate_limit_after(Some(2));
        assert_eq!(f.decide(), FaultAction::Proceed);
        assert_eq!(f.decide(), FaultAction::Proceed);
        assert!(matches!(
            f.decide(),
            FaultAction::Respond { status: 429, .. }
        ));
        f.set_rate_limit_after(None);
        assert_eq!(f.decide(), FaultAction::Proceed);
    }
}
