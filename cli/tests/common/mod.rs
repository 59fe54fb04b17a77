//! What the cfimg process tests share: a valid PNG and a `cfimg` command with a
//! clean environment.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};

/// A valid 1x1 PNG.
pub const PIXEL_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// Every variable cfimg reads from the environment: removed, so the developer's
/// own settings never reach a test.
pub const ENV_VARS: &[&str] = &[
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_KEY",
    "CLOUDFLARE_EMAIL",
    "CLOUDFLARE_API_USER_SERVICE_KEY",
    "CLOUDFLARE_ACCOUNT_ID",
    "CLOUDFLARE_BASE_URL",
    "CLOUDFLARE_BATCH_URL",
    "CFIMG_DATA_DIR",
    "XDG_DATA_HOME",
];

/// `cfimg` with no credentials (the embedded emulator) and its data in `data`;
/// stdin is not a terminal.
pub fn local(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cfimg"));
    for v in ENV_VARS {
        cmd.env_remove(v);
    }
    cmd.env("CFIMG_DATA_DIR", data).stdin(Stdio::null());
    cmd
}
