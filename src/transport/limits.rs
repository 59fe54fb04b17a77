//! What the requests under one rate limit share (the account's global limit, or
//! one batch token's): the pause a 429 imposes on all of them, and optional
//! pacing to a request rate.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A request rate to stay under: at most `requests` in any window of `per`.
///
/// ```
/// use cloudflare_images::RateLimit;
/// let global = RateLimit::cloudflare_global();
/// assert_eq!((global.requests(), global.per().as_secs()), (1200, 300));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    requests: u32,
    per: std::time::Duration,
}

impl RateLimit {
    /// At most `requests` in any window of `per`; `None` if either is zero.
    pub fn new(requests: u32, per: std::time::Duration) -> Option<RateLimit> {
        (requests > 0 && !per.is_zero()).then_some(RateLimit { requests, per })
    }

    /// Cloudflare's documented global limit: 1,200 requests per 5 minutes per
    /// account.
    pub fn cloudflare_global() -> RateLimit {
        RateLimit {
            requests: 1200,
            per: std::time::Duration::from_secs(300),
        }
    }

    /// How many requests a window allows.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// The window's length.
    pub fn per(&self) -> std::time::Duration {
        self.per
    }
}

pub(crate) struct Limits {
    /// No request starts before this instant (set by a 429's `Retry-After`).
    pause_until: Mutex<Option<Instant>>,
    /// Start times of the most recent requests, when pacing.
    pacing: Option<(RateLimit, Mutex<VecDeque<Instant>>)>,
}

/// The deadline would pass before the request could start.
pub(crate) enum WouldPassDeadline {
    /// The client is paused by a 429 for this long still.
    Paused(Duration),
    /// Pacing, or the cap on requests in flight.
    Waiting,
}

/// The longest a 429 pauses the client: Cloudflare's documented penalty (every
/// call refused for 5 minutes), whatever a `Retry-After` asks.
pub(crate) const MAX_PAUSE: Duration = Duration::from_secs(300);

impl Limits {
    pub(crate) fn new(rate: Option<RateLimit>) -> Limits {
        Limits {
            pause_until: Mutex::new(None),
            pacing: rate.map(|r| (r, Mutex::new(VecDeque::with_capacity(r.requests as usize)))),
        }
    }

    /// Pauses every request of the client for `wait`.
    pub(crate) fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait.min(MAX_PAUSE);
        if let Ok(mut slot) = self.pause_until.lock() {
            if slot.is_none_or(|current| current < until) {
                *slot = Some(until);
            }
        }
    }

    /// Waits for the shared pause and a pacing slot, or fails at once if either
    /// would outlast `deadline`.
    pub(crate) async fn admit(&self, deadline: Instant) -> Result<(), WouldPassDeadline> {
        // A pause may grow while waiting (another request got a 429).
        loop {
            let paused = self.pause_until.lock().ok().and_then(|slot| *slot);
            let Some(until) = paused.filter(|until| *until > Instant::now()) else {
                break;
            };
            if until > deadline {
                return Err(WouldPassDeadline::Paused(until - Instant::now()));
            }
            tracing::debug!(
                wait_ms = (until - Instant::now()).as_millis() as u64,
                "waiting out the client's rate-limit pause"
            );
            tokio::time::sleep_until(until).await;
        }
        if let Some((rate, starts)) = &self.pacing {
            loop {
                let now = Instant::now();
                let wait_until = {
                    let Ok(mut starts) = starts.lock() else { break };
                    while starts.front().is_some_and(|t| *t + rate.per <= now) {
                        starts.pop_front();
                    }
                    if starts.len() < rate.requests as usize {
                        starts.push_back(now);
                        None
                    } else {
                        starts.front().map(|t| *t + rate.per)
                    }
                };
                match wait_until {
                    None => break,
                    Some(at) if at > deadline => return Err(WouldPassDeadline::Waiting),
                    Some(at) => tokio::time::sleep_until(at).await,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pacing_keeps_every_window_under_the_limit() {
        let limits = Limits::new(RateLimit::new(3, Duration::from_secs(10)));
        let start = Instant::now();
        let far = start + Duration::from_secs(100);
        let mut starts = Vec::new();
        for _ in 0..7 {
            assert!(limits.admit(far).await.is_ok());
            starts.push(Instant::now() - start);
        }
        let secs: Vec<u64> = starts.iter().map(|d| d.as_secs()).collect();
        assert_eq!(secs, [0, 0, 0, 10, 10, 10, 20]);
        // The window is full again; pacing that would pass the deadline fails at once.
        for _ in 0..2 {
            assert!(limits.admit(far).await.is_ok());
        }
        let near = Instant::now() + Duration::from_secs(1);
        assert!(matches!(
            limits.admit(near).await,
            Err(WouldPassDeadline::Waiting)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_request_and_can_only_grow() {
        let limits = Limits::new(None);
        let start = Instant::now();
        limits.pause(Duration::from_secs(5));
        limits.pause(Duration::from_secs(2));
        assert!(limits.admit(start + Duration::from_secs(3)).await.is_err());
        assert!(limits.admit(start + Duration::from_secs(60)).await.is_ok());
        assert_eq!((Instant::now() - start).as_secs(), 5);
        // A `Retry-After` of a day pauses the client for Cloudflare's 5 minutes.
        let start = Instant::now();
        limits.pause(Duration::from_secs(86_400));
        match limits.admit(start + Duration::from_secs(10)).await {
            Err(WouldPassDeadline::Paused(left)) => assert_eq!(left, MAX_PAUSE),
            _ => panic!("expected the pause to outlast the deadline"),
        }
        assert!(limits.admit(start + Duration::from_secs(400)).await.is_ok());
        assert_eq!(Instant::now() - start, MAX_PAUSE);
    }
}
