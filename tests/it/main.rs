//! The SDK's integration tests, one module per feature, in one test binary: each
//! binary links the SDK, the emulator, wiremock and their dependencies again, so
//! one binary instead of one per file keeps `cargo test` fast to build.
//!
//! Two tests live in binaries of their own, for reasons given in their headers:
//! `tests/memory_bound.rs` (reads the process's own peak memory) and
//! `tests/browser.rs` (drives Chromium).
//!
//! What several modules share (the raw misbehaving server, Cloudflare's envelopes,
//! the wiremock harness) is in the `test-support` crate, not here.
//!
//! Run one feature with `cargo test --test it <module>::`, e.g.
//! `cargo test --test it hostile::`. A module whose tests need process-wide state
//! of their own (a global subscriber, environment variables, the process's memory)
//! belongs in a binary of its own, with the reason in its header.

mod batch_api;
mod batch_e2e;
mod delivery;
mod direct_upload;
mod drift;
mod e2e;
mod encoding;
mod errors;
mod hostile;
mod no_duplicates;
mod operations;
mod pagination;
mod path_property;
mod responsive;
mod retry;
mod tracing;
mod transform_urls;
mod upload_limits;
mod uploads;
