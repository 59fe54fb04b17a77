//! Deadlines.

use std::time::Duration;

/// Every deadline a client applies, with Cloudflare-minded defaults.
///
/// Set the ones to change on [`Timeouts::default()`] and pass it to
/// [`ClientBuilder::timeouts`](crate::ClientBuilder::timeouts). A request can
/// override [`attempt`](Self::attempt) and [`operation`](Self::operation) for
/// itself with its own `attempt_timeout()` and `timeout()` setters. A timeout is an
/// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) error whose
/// [`timeout_limit()`](crate::Error::timeout_limit) says which of these fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// How long to wait for a connection.
    pub connect: Duration,
    /// How long a read may wait for data before the attempt fails: it catches a
    /// stalled connection; a body that trickles in is caught by `attempt`.
    pub read: Duration,
    /// One attempt of a request, from sending to the last byte of the response.
    pub attempt: Duration,
    /// A whole operation: every attempt, every wait between them and every wait
    /// for the rate limit. A retry that would end after it is not made.
    pub operation: Duration,
    /// An upload that carries a file, per attempt and in all (in place of
    /// `attempt` and `operation`), so that a large file on a slow link is not cut
    /// off by a deadline meant for GETs.
    pub upload: Duration,
}

impl Timeouts {
    /// The default of [`connect`](Self::connect): 10 s.
    pub const DEFAULT_CONNECT: Duration = Duration::from_secs(10);
    /// The default of [`read`](Self::read): 30 s without a byte.
    pub const DEFAULT_READ: Duration = Duration::from_secs(30);
    /// The default of [`attempt`](Self::attempt): 30 s.
    pub const DEFAULT_ATTEMPT: Duration = crate::runtime::DEFAULT_ATTEMPT_TIMEOUT;
    /// The default of [`operation`](Self::operation): 120 s.
    pub const DEFAULT_OPERATION: Duration = crate::runtime::DEFAULT_TIMEOUT;
    /// The default of [`upload`](Self::upload): 10 minutes (Cloudflare's 10 MB at
    /// ~140 kbit/s).
    pub const DEFAULT_UPLOAD: Duration = crate::runtime::DEFAULT_UPLOAD_TIMEOUT;

    /// Sets [`connect`](Self::connect).
    pub fn connect(mut self, timeout: Duration) -> Self {
        self.connect = timeout;
        self
    }

    /// Sets [`read`](Self::read).
    pub fn read(mut self, timeout: Duration) -> Self {
        self.read = timeout;
        self
    }

    /// Sets [`attempt`](Self::attempt).
    pub fn attempt(mut self, timeout: Duration) -> Self {
        self.attempt = timeout;
        self
    }

    /// Sets [`operation`](Self::operation).
    pub fn operation(mut self, timeout: Duration) -> Self {
        self.operation = timeout;
        self
    }

    /// Sets [`upload`](Self::upload).
    pub fn upload(mut self, timeout: Duration) -> Self {
        self.upload = timeout;
        self
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Self::DEFAULT_CONNECT,
            read: Self::DEFAULT_READ,
            attempt: Self::DEFAULT_ATTEMPT,
            operation: Self::DEFAULT_OPERATION,
            upload: Self::DEFAULT_UPLOAD,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_setters() {
        let t = Timeouts::default();
        assert_eq!(
            (t.connect, t.read, t.attempt, t.operation, t.upload),
            (
                Duration::from_secs(10),
                Duration::from_secs(30),
                Duration::from_secs(30),
                Duration::from_secs(120),
                Duration::from_secs(600)
            )
        );
        let s = Duration::from_secs;
        let t = t
            .connect(s(1))
            .read(s(2))
            .attempt(s(3))
            .operation(s(4))
            .upload(s(5));
        assert_eq!(
            (t.connect, t.read, t.attempt, t.operation, t.upload),
            (s(1), s(2), s(3), s(4), s(5))
        );
    }
}
