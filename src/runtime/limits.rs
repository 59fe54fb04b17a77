//! What the requests under one rate limit share (the account's global limit, or
//! one batch token's): the pause a 429 imposes on all of them, and optional
//! pacing to a request rate.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Requests per second one batch token allows (Cloudflare's "Images batch API"
/// page).
pub const BATCH_REQUESTS_PER_SECOND: u32 = 200;

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

    /// Cloudflare's documented limit of one batch token:
    /// [`BATCH_REQUESTS_PER_SECOND`](crate::config::BATCH_REQUESTS_PER_SECOND) (200)
    /// requests per second.
    pub fn cloudflare_batch_token() -> RateLimit {
        RateLimit {
            requests: BATCH_REQUESTS_PER_SECOND,
            per: std::time::Duration::from_secs(1),
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
    /// The window's occupants, when pacing.
    pacing: Option<Pacing>,
}

/// Pacing to a [`RateLimit`] as the server counts it. The server sees a request
/// somewhere between its start and its completion here, so a slot is held from
/// the start and frees a full window after the *completion*: a request admitted
/// then arrives at least `per` after every earlier occupant of its slot arrived,
/// whatever the latencies. Counting from starts (a burst, then the next one `per`
/// later) lets jitter put `requests + 1` arrivals in one of the server's windows,
/// and a 429 then pauses everything. The cost is one latency per window, so
/// latency is kept low too: once the window is half full, admissions are spaced
/// `per / requests` apart instead of bursting the rest, so a sustained run does
/// not queue a window's worth of requests at the server at once (which made the
/// latency, and the loss, a fifth of a 1-second window). The gaps follow a
/// schedule that a late admission catches up on (up to [`CATCH_UP`]), so the
/// hiccups of a busy machine do not add up to a lower rate. A short job (under
/// half a window) still goes at once.
struct Pacing {
    rate: RateLimit,
    window: Mutex<Window>,
    /// Signalled when a request completes (frees nothing yet, but gives a
    /// waiter whose window was all in flight a time to wait for).
    completed: tokio::sync::Notify,
}

#[derive(Default)]
struct Window {
    /// Admitted and not completed.
    in_flight: usize,
    /// Completion times within the last window, oldest first.
    done: VecDeque<Instant>,
    /// When the latest request was admitted.
    last_admitted: Option<Instant>,
}

/// A request's place in its rate limit's window, held until the attempt ends
/// (dropped: completed, whatever the outcome).
#[must_use = "the slot frees a window after it is dropped; hold it for the attempt"]
pub(crate) struct Admission<'a> {
    pacing: Option<&'a Pacing>,
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if let Some(pacing) = self.pacing {
            let mut window = pacing.window.lock().unwrap_or_else(|e| e.into_inner());
            window.in_flight = window.in_flight.saturating_sub(1);
            window.done.push_back(Instant::now());
            drop(window);
            pacing.completed.notify_waiters();
        }
    }
}

/// The deadline would pass before the request could start.
pub(crate) enum WouldPassDeadline {
    /// The client is paused by a 429 for this long still.
    Paused(Duration),
    /// Pacing, or the cap on requests in flight.
    Waiting,
}

/// How far behind its schedule pacing may fall and still catch up (see
/// `admit`): a few scheduler hiccups of a loaded machine, at most a tenth of
/// the window. At 200 per second, a burst of at most 10.
const CATCH_UP: Duration = Duration::from_millis(50);

/// The longest a 429 pauses the client: Cloudflare's documented penalty (every
/// call refused for 5 minutes), whatever a `Retry-After` asks.
pub(crate) const MAX_PAUSE: Duration = Duration::from_secs(300);

impl Limits {
    pub(crate) fn new(rate: Option<RateLimit>) -> Limits {
        Limits {
            pause_until: Mutex::new(None),
            pacing: rate.map(|rate| Pacing {
                rate,
                window: Mutex::new(Window {
                    in_flight: 0,
                    // Grows as needed: a caller's `RateLimit::new(u32::MAX, ..)` must not
                    // reserve 64 GiB up front.
                    done: VecDeque::with_capacity((rate.requests as usize).min(1024)),
                    last_admitted: None,
                }),
                completed: tokio::sync::Notify::new(),
            }),
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
    /// would outlast `deadline`. The slot is the returned [`Admission`]'s until
    /// it is dropped.
    pub(crate) async fn admit(
        &self,
        deadline: Instant,
    ) -> Result<Admission<'_>, WouldPassDeadline> {
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
        let Some(pacing) = &self.pacing else {
            return Ok(Admission { pacing: None });
        };
        let per = pacing.rate.per;
        let capacity = pacing.rate.requests as usize;
        let spacing = per / pacing.rate.requests;
        let catch_up = spacing.max(CATCH_UP.min(per / 10));
        loop {
            // Registered before looking, so a completion between the look and
            // the wait is not missed.
            let completed = pacing.completed.notified();
            tokio::pin!(completed);
            completed.as_mut().enable();
            let now = Instant::now();
            let wait_until = {
                let mut window = pacing.window.lock().unwrap_or_else(|e| e.into_inner());
                while window.done.front().is_some_and(|t| *t + per <= now) {
                    window.done.pop_front();
                }
                let occupied = window.in_flight + window.done.len();
                let spaced = window
                    .last_admitted
                    .map(|t| t + spacing)
                    .filter(|at| occupied >= capacity / 2 && *at > now);
                if occupied < capacity {
                    match spaced {
                        None => {
                            window.in_flight += 1;
                            // On the schedule, not when the wait happened to end: a
                            // timer that fires late, or a caller busy elsewhere, would
                            // otherwise lose its lateness for good (1 ms late on 5 ms
                            // gaps loses a sixth of the rate), and a loaded machine is
                            // late by more than a gap now and then. So up to
                            // `catch_up` behind, the next admissions follow at once
                            // until back on schedule (a short burst; the window's
                            // slots still bound it). Further behind (the window was
                            // full, or nothing was asked), the schedule restarts.
                            let on_schedule = window
                                .last_admitted
                                .filter(|_| occupied >= capacity / 2)
                                .and_then(|t| t.checked_add(spacing))
                                .filter(|t| *t <= now && now - *t < catch_up)
                                .unwrap_or(now);
                            window.last_admitted = Some(on_schedule);
                            return Ok(Admission {
                                pacing: Some(pacing),
                            });
                        }
                        Some(at) => Some(at),
                    }
                } else {
                    // Full: the oldest completion frees its slot a window after
                    // it; if every slot is in flight, wait for a completion first.
                    window.done.front().map(|t| *t + per)
                }
            };
            match wait_until {
                Some(at) if at > deadline => return Err(WouldPassDeadline::Waiting),
                Some(at) => tokio::time::sleep_until(at).await,
                None => {
                    if tokio::time::timeout_at(deadline, completed).await.is_err() {
                        return Err(WouldPassDeadline::Waiting);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pacing_keeps_every_window_under_the_limit() {
        // 4 per 8 s: half a window at once, then one every 2 s.
        let limits = Limits::new(RateLimit::new(4, Duration::from_secs(8)));
        let start = Instant::now();
        let far = start + Duration::from_secs(100);
        let mut starts = Vec::new();
        for _ in 0..8 {
            // Completed at once (dropped): each slot frees 8 s after its start.
            assert!(limits.admit(far).await.is_ok());
            starts.push(Instant::now() - start);
        }
        let secs: Vec<u64> = starts.iter().map(|d| d.as_secs()).collect();
        assert_eq!(secs, [0, 0, 2, 4, 8, 10, 12, 14]);
        // Every window of 8 s holds at most 4 starts.
        for (i, a) in starts.iter().enumerate() {
            let within = starts[i..]
                .iter()
                .filter(|b| **b - *a < Duration::from_secs(8))
                .count();
            assert!(within <= 4, "{secs:?}");
        }
        // Pacing that would pass the deadline fails at once.
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

    #[tokio::test(start_paused = true)]
    async fn a_slot_frees_a_window_after_its_request_completes() {
        // 2 per 10 s: the second is spaced 5 s after the first.
        let limits = Limits::new(RateLimit::new(2, Duration::from_secs(10)));
        let start = Instant::now();
        let far = start + Duration::from_secs(100);
        let a = limits.admit(far).await.ok().expect("a");
        let b = limits.admit(far).await.ok().expect("b");
        assert_eq!(Instant::now() - start, Duration::from_secs(5));
        // Both slots in flight: the third waits for a completion, then a window.
        let third = async {
            let c = limits.admit(far).await.ok().expect("c");
            (Instant::now() - start, c)
        };
        let release = async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            drop(a);
            tokio::time::sleep(Duration::from_secs(1)).await;
            drop(b);
        };
        let ((waited, c), ()) = tokio::join!(third, release);
        assert_eq!(waited, Duration::from_secs(18), "a completed at 8 s");
        let d = limits.admit(far).await.ok().expect("d");
        assert_eq!(
            Instant::now() - start,
            Duration::from_secs(23),
            "b completed at 9 s, and d is spaced 5 s after c"
        );
        drop((c, d));
        // All in flight and no completion before the deadline: refused then.
        let near = Instant::now() + Duration::from_secs(100);
        let e = limits.admit(near).await.ok().expect("e");
        let f = limits.admit(near).await.ok().expect("f");
        let soon = Instant::now() + Duration::from_secs(5);
        assert!(matches!(
            limits.admit(soon).await,
            Err(WouldPassDeadline::Waiting)
        ));
        drop((e, f));
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_wake_does_not_stretch_the_gaps() {
        // 4 per 8 s: gaps of 2 s once the window is half full.
        let limits = Limits::new(RateLimit::new(4, Duration::from_secs(8)));
        let start = Instant::now();
        let far = start + Duration::from_secs(100);
        for _ in 0..2 {
            drop(limits.admit(far).await.ok().expect("half a window at once"));
        }
        // The third comes half a second after its turn (a late timer, a busy caller)...
        tokio::time::advance(Duration::from_millis(2500)).await;
        drop(limits.admit(far).await.ok().expect("third"));
        // ...and the fourth keeps the schedule: 4 s, not 4.5 s.
        drop(limits.admit(far).await.ok().expect("fourth"));
        assert_eq!(Instant::now() - start, Duration::from_secs(4));
    }

    #[tokio::test(start_paused = true)]
    async fn falling_behind_by_less_than_the_catch_up_is_made_up() {
        // 200 per second: gaps of 5 ms once 100 are in the window.
        let limits = Limits::new(RateLimit::new(200, Duration::from_secs(1)));
        let start = Instant::now();
        let far = start + Duration::from_secs(100);
        async fn admit_at(limits: &Limits, start: Instant, far: Instant) -> u128 {
            drop(limits.admit(far).await.ok().expect("admitted"));
            (Instant::now() - start).as_millis()
        }
        for _ in 0..101 {
            admit_at(&limits, start, far).await;
        }
        // The 101st went at 5 ms. The caller comes back 30 ms after the 102nd's
        // turn (10 ms): six turns were missed and go at once, then 5 ms gaps again.
        tokio::time::advance(Duration::from_millis(35)).await;
        let mut at = Vec::new();
        for _ in 0..9 {
            at.push(admit_at(&limits, start, far).await);
        }
        assert_eq!(at, [40, 40, 40, 40, 40, 40, 40, 45, 50]);
        // 200 ms behind (more than the catch-up, 50 ms): the schedule restarts.
        tokio::time::advance(Duration::from_millis(255)).await;
        let mut at = Vec::new();
        for _ in 0..3 {
            at.push(admit_at(&limits, start, far).await);
        }
        assert_eq!(at, [305, 310, 315]);
    }

    /// A limit too high to bind (a raised account, a benchmark) costs no memory up front.
    #[tokio::test(start_paused = true)]
    async fn a_huge_limit_reserves_nothing() {
        let limits = Limits::new(RateLimit::new(u32::MAX, Duration::from_secs(1)));
        let far = Instant::now() + Duration::from_secs(1);
        for _ in 0..3 {
            drop(limits.admit(far).await.ok().expect("admitted"));
        }
        let Some(pacing) = &limits.pacing else {
            panic!("pacing")
        };
        let window = pacing.window.lock().unwrap();
        assert_eq!(window.done.len(), 3);
        assert!(window.done.capacity() <= 1024);
    }
}
