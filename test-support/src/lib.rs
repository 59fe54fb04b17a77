//! What this workspace's tests share, in one place:
//!
//! - [`raw`]: an HTTP/1.1 server on a bare `TcpListener` that misbehaves on demand
//!   (huge, endless or trickling bodies, answers that never come) and counts what
//!   the client did;
//! - [`envelope`]: Cloudflare's `{"success", "errors", "messages", "result"}`
//!   envelopes;
//! - `harness` (feature `harness`): a wiremock server answering an SDK client, with
//!   assertions on the exact request that went out.
//!
//! Not published: it exists for the tests of the crates in this workspace.

#![warn(missing_docs)]

pub mod envelope;
#[cfg(feature = "harness")]
pub mod harness;
pub mod raw;
