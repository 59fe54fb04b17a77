//! The emulator's integration tests, one module per feature, built as one test binary (one
//! link instead of one per file). Helpers shared by the modules live in [`common`]; the
//! schema validator of [`schema`] in [`schema_check`].
//!
//! Tests that run the `cloudflare-images-emulator` binary (flags, several processes on one
//! data folder) spawn it as a child process, so they live here too.

mod api;
mod batch;
mod browser_http;
mod common;
mod drafts;
mod faults;
mod pagination;
mod render;
mod schema;
mod schema_check;
mod stable_api;
mod store;
mod tokens;
mod transform;
