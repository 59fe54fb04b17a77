//! The codegen crate's integration tests, one binary (one link) for all.
//! `tests/panic_hook.rs` stays apart: it installs a process-wide panic hook.

mod cli;
