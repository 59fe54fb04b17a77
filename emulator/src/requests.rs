//! The log of requests an emulator received, so a test can assert on what the application
//! under test sent ([`crate::EmulatorHandle::requests`]).

use std::collections::VecDeque;
use std::sync::Mutex;

/// The log keeps this many most recent requests: enough for any test's assertions, while a
/// long benchmark run does not grow the server's memory.
pub(crate) const KEPT: usize = 10_000;

/// One request the emulator received, with the status it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The method, such as `GET`.
    pub method: String,
    /// The path, as sent (percent-encoded), such as
    /// `/client/v4/accounts/{account_id}/images/v1`.
    pub path: String,
    /// The query string without its `?`, if there was one.
    pub query: Option<String>,
    /// The status answered, or `None` when the connection was closed without an answer
    /// (the reset fault).
    pub status: Option<u16>,
}

/// The most recent [`KEPT`] requests, oldest first.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    entries: Mutex<VecDeque<RecordedRequest>>,
}

impl RequestLog {
    pub(crate) fn record(&self, request: RecordedRequest) {
        // A panic elsewhere while holding the lock leaves the deque itself intact.
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() == KEPT {
            entries.pop_front();
        }
        entries.push_back(request);
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
