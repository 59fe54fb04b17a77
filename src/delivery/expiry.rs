//! When a signed URL expires, and the clock "now" comes from.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, TimeZone, Utc};

use crate::error::{Error, Result};

/// Where "now" comes from, so tests can fix it.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A fixed instant is a clock that never moves.
impl Clock for DateTime<Utc> {
    fn now(&self) -> DateTime<Utc> {
        *self
    }
}

/// When a signed URL stops working, in whole Unix seconds (the `exp` parameter).
///
/// From a `chrono::DateTime<Utc>` or a `SystemTime` (fractions of a second are
/// dropped, so the URL expires up to one second early, never late), from Unix
/// seconds, or [`after`](Self::after) a duration from a clock's now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Expiry(i64);

impl Expiry {
    /// At `seconds` after the Unix epoch.
    pub fn from_unix_seconds(seconds: i64) -> Self {
        Expiry(seconds)
    }

    /// `ttl` after `clock.now()`; fails if that is out of range.
    pub fn after(ttl: Duration, clock: &dyn Clock) -> Result<Self> {
        let ttl = chrono::Duration::from_std(ttl)
            .map_err(|_| Error::invalid_input("the signed URL lifetime is too long"))?;
        clock
            .now()
            .checked_add_signed(ttl)
            .map(Expiry::from)
            .ok_or_else(|| Error::invalid_input("the signed URL lifetime is too long"))
    }

    /// The `exp` value: seconds since the Unix epoch.
    pub fn unix_seconds(self) -> i64 {
        self.0
    }

    /// The instant, when representable.
    pub fn to_datetime(self) -> Option<DateTime<Utc>> {
        Utc.timestamp_opt(self.0, 0).single()
    }
}

impl From<DateTime<Utc>> for Expiry {
    fn from(at: DateTime<Utc>) -> Self {
        Expiry(at.timestamp())
    }
}

impl From<SystemTime> for Expiry {
    fn from(at: SystemTime) -> Self {
        let secs = match at.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(before) => {
                let d = before.duration();
                let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                // Round towards the past, like `DateTime::timestamp`.
                let whole = if d.subsec_nanos() > 0 {
                    whole.saturating_add(1)
                } else {
                    whole
                };
                whole.saturating_neg()
            }
        };
        Expiry(secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_from_system_time_rounds_to_the_past() {
        let t = UNIX_EPOCH + Duration::from_millis(1_500);
        assert_eq!(Expiry::from(t).unix_seconds(), 1);
        let t = UNIX_EPOCH - Duration::from_millis(1_500);
        assert_eq!(Expiry::from(t).unix_seconds(), -2);
        let t = UNIX_EPOCH - Duration::from_secs(3);
        assert_eq!(Expiry::from(t).unix_seconds(), -3);
    }
}
