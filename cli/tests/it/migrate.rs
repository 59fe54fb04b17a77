//! `cfimg upload --resume` and `--shard`: a migration killed with SIGKILL and
//! resumed stores every file exactly once, shards are disjoint and complete, bad
//! shards are usage errors. No timing is asserted: uploads, images and
//! duplicates are counted.

use crate::common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cloudflare_images_emulator::Emulator;
use serde_json::Value;

/// `n` PNG files in nested folders under `root`; their relative paths.
fn tree(root: &Path, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let rel = format!("d{}/sub{}/img{i:04}.png", i % 4, i % 3);
            let path = root.join(&rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, PIXEL_PNG).unwrap();
            rel
        })
        .collect()
}

/// Rows of the journal in `data` with this state.
fn journal_count(data: &Path, sql_where: &str) -> Option<i64> {
    let path = data.join("journal.db");
    if !path.exists() {
        return None;
    }
    let conn = rusqlite::Connection::open(&path).ok()?;
    conn.busy_timeout(Duration::from_secs(5)).ok()?;
    conn.query_row(
        &format!("SELECT count(*) FROM uploads WHERE {sql_where}"),
        [],
        |r| r.get(0),
    )
    .ok()
}

/// Starts `cfimg upload ROOT --resume` and kills it (SIGKILL) once `progress`
/// reports at least 50 uploads (or it ended by itself); returns how many were
/// reported then.
fn kill_upload(cmd: Command, root: &Path, progress: impl Fn() -> usize) -> usize {
    let root = root.to_str().unwrap();
    let args = ["upload", root, "--resume", "--concurrency", "4", "-q"];
    start_and_kill(cmd, &args, 50, progress)
}

/// After the kill: `--resume` finishes, every file is stored once, and a third
/// run uploads nothing.
fn resume_and_check(make: &dyn Fn() -> Command, root: &Path, data: &Path, files: &[String]) {
    let r = ok(
        make(),
        &["upload", root.to_str().unwrap(), "--resume", "-j", "4"],
    );
    assert!(r.stdout.contains("0 failed"), "{}", r.stdout);

    let r = ok(make(), &["list", "--json", "-q"]);
    let images: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<&str> = images.iter().map(|i| i["id"].as_str().unwrap()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), files.len(), "one image per file, no duplicates");
    let expected: BTreeSet<&str> = files.iter().map(String::as_str).collect();
    assert_eq!(unique, expected, "custom ids are the relative paths");

    let done = journal_count(data, "state = 'done'").unwrap();
    assert_eq!(done, files.len() as i64);
    // Only uploads in flight at the kill can have been sent twice.
    let resent = journal_count(data, "sends > 1").unwrap();
    assert!(resent <= 4, "{resent} uploads sent twice");

    let r = ok(
        make(),
        &["upload", root.to_str().unwrap(), "--resume", "--json"],
    );
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["uploaded"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(report["already_done"], files.len());
    let r = ok(make(), &["upload", root.to_str().unwrap(), "--resume"]);
    assert!(
        r.stdout
            .contains(&format!("0 uploaded, {} already done", files.len())),
        "{}",
        r.stdout
    );
}

#[test]
fn killed_migration_resumes_on_an_emulator_process() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime.block_on(Emulator::start()).unwrap();
    // Slow enough that the kill lands midway (nothing asserts that it did).
    emulator.faults().set_latency(Duration::from_millis(20));
    let files_dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let files = tree(files_dir.path(), 200);

    let at_kill = kill_upload(remote(&emulator, data.path()), files_dir.path(), || {
        emulator.image_count()
    });
    eprintln!("killed with {at_kill} images stored");
    emulator.faults().set_latency(Duration::ZERO);
    let make = || remote(&emulator, data.path());
    resume_and_check(&make, files_dir.path(), data.path(), &files);
    assert_eq!(emulator.image_count(), 200);
}

#[test]
fn killed_migration_resumes_on_the_embedded_emulator() {
    let files_dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let files = tree(files_dir.path(), 200);
    let data_path: PathBuf = data.path().to_path_buf();
    let at_kill = kill_upload(local(data.path()), files_dir.path(), || {
        journal_count(&data_path, "state = 'done'").unwrap_or(0) as usize
    });
    eprintln!("killed with {at_kill} uploads journaled");
    let make = || local(data.path());
    resume_and_check(&make, files_dir.path(), data.path(), &files);
}

#[test]
fn shards_are_disjoint_and_complete() {
    let files_dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let files = tree(files_dir.path(), 60);
    let root = files_dir.path().to_str().unwrap();
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let r = ok(
            local(data.path()),
            &["upload", root, "--shard", &shard, "--json", "-q"],
        );
        let report: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(
            report["shard"]["inputs"].as_u64().unwrap() as usize,
            report["uploaded"].as_array().unwrap().len()
        );
        for o in report["uploaded"].as_array().unwrap() {
            let source = o["source"].as_str().unwrap();
            let rel = Path::new(source)
                .strip_prefix(files_dir.path())
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            assert!(seen.insert(rel.clone()), "{rel} in two shards");
            total += 1;
        }
    }
    assert_eq!(total, files.len());
    assert_eq!(seen, files.iter().cloned().collect::<BTreeSet<_>>());
    // The same shard from another folder holding the same tree (another
    // machine's mount point) is the same share.
    let copy = tempfile::tempdir().unwrap();
    tree(copy.path(), 60);
    let a = ok(
        local(data.path()),
        &["upload", root, "--shard", "2/3", "--json", "-q"],
    );
    let b = ok(
        local(data.path()),
        &[
            "upload",
            copy.path().to_str().unwrap(),
            "--shard",
            "2/3",
            "--json",
            "-q",
        ],
    );
    let rels = |text: &str, base: &Path| -> BTreeSet<String> {
        let report: Value = serde_json::from_str(text).unwrap();
        report["uploaded"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                Path::new(o["source"].as_str().unwrap())
                    .strip_prefix(base)
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        rels(&a.stdout, files_dir.path()),
        rels(&b.stdout, copy.path())
    );
}

#[test]
fn an_id_taken_by_another_image_is_a_failure_not_a_match() {
    let files_dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    tree(files_dir.path(), 3);
    let root = files_dir.path().to_str().unwrap();
    let one = files_dir.path().join("d0/sub0/img0000.png");
    // Another image already holds the id the migration derives for img0000.png.
    ok(
        local(data.path()),
        &[
            "upload",
            one.to_str().unwrap(),
            "--id",
            "d0/sub0/img0000.png",
            "--metadata",
            r#"{"other":true}"#,
            "-q",
        ],
    );
    let r = run(local(data.path()), &["upload", root, "--resume", "-q"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("taken by a different image"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout
            .contains("2 uploaded, 0 already done, 0 found already stored, 1 failed"),
        "{}",
        r.stdout
    );
}

#[test]
fn bad_shards_are_usage_errors() {
    let data = tempfile::tempdir().unwrap();
    for bad in ["0/3", "4/3", "1/0", "0/0", "x/3", "3", "1/3/5", "-1/3", ""] {
        let flag = format!("--shard={bad}");
        let r = run(local(data.path()), &["upload", "a.png", &flag]);
        assert_eq!(r.code, 2, "--shard {bad:?}: {}", r.stderr);
        assert!(r.stderr.contains("--shard"), "{}", r.stderr);
        let r = run(local(data.path()), &["upload", "a.png", &flag, "--json"]);
        assert_eq!(r.code, 2);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        assert!(v["error"]["message"].is_string());
    }
    // Nothing was started: no journal, no emulator state.
    assert!(std::fs::read_dir(data.path()).unwrap().next().is_none());
}

#[test]
fn batch_api_uploads_go_through_the_batch_host_with_several_tokens() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime.block_on(Emulator::start()).unwrap();
    let files_dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let files = tree(files_dir.path(), 40);
    let mut cmd = remote(&emulator, data.path());
    cmd.env("CLOUDFLARE_BATCH_URL", emulator.batch_url());
    let dir = files_dir.path().to_str().unwrap();
    ok(
        cmd,
        &[
            "upload",
            dir,
            "--resume",
            "--batch-api",
            "--tokens",
            "2",
            "-q",
        ],
    );
    assert_eq!(emulator.image_count(), files.len());
    // Every upload went to the batch host, spread over two tokens.
    assert!(
        emulator.batch_request_count() >= files.len() as u64,
        "{} batch requests",
        emulator.batch_request_count()
    );
    assert_eq!(emulator.batch_tokens_issued(), 2);
}

/// `cfimg upload` at the limit in force meets no 429: the emulator enforces Cloudflare's
/// windows (scaled by `scale`) and cfimg paces to the same, given by `args`. Counts, no
/// timing: every file stored once, no failure, and the emulator refused nothing.
fn paced_migration_meets_no_429(scale: f64, files: usize, args: &[&str]) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime
        .block_on(Emulator::start_with(cloudflare_images_emulator::Config {
            rate_limits: true,
            rate_limit_scale: scale,
            ..Default::default()
        }))
        .unwrap();
    let files_dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let names = tree(files_dir.path(), files);
    let mut cmd = remote(&emulator, data.path());
    cmd.env("CLOUDFLARE_BATCH_URL", emulator.batch_url());
    let dir = files_dir.path().to_str().unwrap();
    let mut all = vec!["upload", dir, "--resume", "--json", "-q"];
    all.extend_from_slice(args);
    let out = ok(cmd, &all);
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON report");
    assert_eq!(
        report["failed"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );
    assert_eq!(
        report["uploaded"].as_array().map(Vec::len),
        Some(names.len())
    );
    assert_eq!(emulator.rate_limited_count(), 0);
    assert_eq!(emulator.image_count(), names.len());
}

#[test]
fn batch_migration_at_the_token_limit_meets_no_429() {
    // 200 per second per token, unscaled: 900 uploads over 2 tokens fill more than 2 windows.
    paced_migration_meets_no_429(1.0, 900, &["--batch-api", "--tokens", "2"]);
}

#[test]
fn migration_at_the_global_limit_meets_no_429() {
    // 1,200 per 3 s (scale 0.01): 1,500 uploads fill more than one window.
    paced_migration_meets_no_429(0.01, 1500, &["--api-rate", "1200/3s", "-j", "64"]);
}
