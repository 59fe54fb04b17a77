//! What the cfimg process tests share: a valid PNG, a `cfimg` command with a
//! clean environment (local, or against an emulator with credentials) and the
//! outcome of running it.

use std::path::Path;

use cloudflare_images_emulator::EmulatorHandle;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The workspace's one 1x1 PNG.
pub use cloudflare_images_emulator::fixtures::PIXEL_PNG;

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

/// How a `cfimg` process ended: its exit status (-1 if killed by a signal) and
/// its output as text.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// `cfimg` against `emulator` through credentials, its data (journal) in `data`.
pub fn remote(emulator: &EmulatorHandle, data: &Path) -> Command {
    let mut cmd = local(data);
    cmd.env("CLOUDFLARE_BASE_URL", emulator.base_url())
        .env("CLOUDFLARE_API_TOKEN", "test")
        .env("CLOUDFLARE_ACCOUNT_ID", emulator.account_id());
    cmd
}

/// Runs `cmd` with `args`; a panic message on stderr fails the test.
pub fn run(mut cmd: Command, args: &[&str]) -> Run {
    let r = Run::from(cmd.args(args).output().expect("cfimg runs"));
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    r
}

/// [`run`], asserting exit status 0.
pub fn ok(cmd: Command, args: &[&str]) -> Run {
    let r = run(cmd, args);
    assert_eq!(
        r.code, 0,
        "cfimg {args:?}\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    r
}

/// Starts `cfimg ARGS` and kills it (SIGKILL: no handler, no clean-up) once
/// `progress` reaches `at`, or it ended by itself, or two minutes passed;
/// returns the progress then.
pub fn start_and_kill(
    mut cmd: Command,
    args: &[&str],
    at: usize,
    progress: impl Fn() -> usize,
) -> usize {
    let mut child = cmd
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let give_up = Instant::now() + Duration::from_secs(120);
    while progress() < at && Instant::now() < give_up {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    progress()
}
