//! End-to-end tests: every command run as a process, against the emulator that
//! `cfimg` embeds when no credentials are set (state in a temporary
//! `CFIMG_DATA_DIR`), or against an emulator started in this test process and
//! reached through `CLOUDFLARE_BASE_URL`.

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use cloudflare_images_emulator::{Config, Emulator};
use serde_json::Value;

/// `cfimg` pointed at an API by environment variables.
fn remote(base_url: &str, token: &str, account: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cfimg"));
    for v in ENV_VARS {
        cmd.env_remove(v);
    }
    cmd.env("CLOUDFLARE_BASE_URL", base_url)
        .env("CLOUDFLARE_API_TOKEN", token)
        .env("CLOUDFLARE_ACCOUNT_ID", account)
        .stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command, args: &[&str]) -> Run {
    Run::from(cmd.args(args).output().expect("cfimg runs"))
}

fn ok(cmd: &mut Command, args: &[&str]) -> Run {
    let r = run(cmd, args);
    assert_eq!(
        r.code, 0,
        "cfimg {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    assert_no_panic(&r);
    r
}

fn assert_no_panic(r: &Run) {
    assert!(
        !r.stderr.contains("panicked") && !r.stderr.contains("RUST_BACKTRACE"),
        "{}",
        r.stderr
    );
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines().map(json).collect()
}

#[test]
fn help_has_examples_and_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let r = ok(&mut local(dir.path()), &["--help"]);
    assert!(r.stdout.contains("Examples:"), "{}", r.stdout);
    for command in [
        "upload",
        "list",
        "get",
        "edit",
        "delete",
        "download",
        "variants",
        "keys",
        "stats",
        "direct-upload",
        "sign",
        "serve",
        "demo",
    ] {
        assert!(r.stdout.contains(command), "{command} missing from --help");
    }
    let r = ok(&mut local(dir.path()), &["upload", "--help"]);
    assert!(r.stdout.contains("--concurrency") && r.stdout.contains("Examples:"));
    let r = run(&mut local(dir.path()), &["frobnicate"]);
    assert_eq!(r.code, 2);
}

#[test]
fn demo_runs_to_completion() {
    let dir = tempfile::tempdir().unwrap();
    let r = ok(&mut local(dir.path()), &["demo"]);
    for expected in [
        "[1/9]",
        "[9/9]",
        "GET signed   -> HTTP 200",
        "GET unsigned -> HTTP 403",
        "polled until not a draft",
        "0 image(s) left",
        "demo finished",
    ] {
        assert!(
            r.stdout.contains(expected),
            "{expected:?} missing:\n{}",
            r.stdout
        );
    }
    // The demo never touches the user's data directory.
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());

    let r = ok(&mut local(dir.path()), &["demo", "--json"]);
    let report = json(&r.stdout);
    assert_eq!(report["ok"], true);
    assert_eq!(report["steps"].as_array().unwrap().len(), 9);
}

#[test]
fn upload_then_list_in_separate_invocations() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let photos = files.path().join("photos");
    std::fs::create_dir_all(photos.join("nested")).unwrap();
    std::fs::write(photos.join("a.png"), PIXEL_PNG).unwrap();
    std::fs::write(photos.join("nested/b.png"), PIXEL_PNG).unwrap();
    std::fs::write(photos.join("README.md"), b"not an image").unwrap();

    let r = ok(
        &mut local(data.path()),
        &[
            "upload",
            photos.to_str().unwrap(),
            "--metadata",
            r#"{"status":"active","priority":2}"#,
            "--creator",
            "user-1",
            "--concurrency",
            "2",
        ],
    );
    let notes: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("using the local emulator"))
        .collect();
    assert_eq!(notes.len(), 1, "{}", r.stderr);
    assert!(notes[0].contains(data.path().to_str().unwrap()));
    assert!(r.stdout.contains("uploaded 2 of 2"), "{}", r.stdout);
    assert!(r.stderr.contains("skipped 1 file"), "{}", r.stderr);

    // A glob pattern, expanded by cfimg itself.
    let pattern = format!("{}/**/*.png", photos.display());
    let r = ok(
        &mut local(data.path()),
        &["upload", &pattern, "--metadata", r#"{"status":"draft"}"#],
    );
    assert!(r.stdout.contains("uploaded 2 of 2"), "{}", r.stdout);

    let r = ok(&mut local(data.path()), &["list", "--json"]);
    let images = json(&r.stdout);
    assert_eq!(images.as_array().unwrap().len(), 4, "{}", r.stdout);

    let r = ok(
        &mut local(data.path()),
        &["list", "--meta", "status=active", "--format", "jsonl"],
    );
    let active = jsonl(&r.stdout);
    assert_eq!(active.len(), 2);
    assert!(active.iter().all(|i| i["creator"] == "user-1"));

    let r = ok(
        &mut local(data.path()),
        &[
            "list",
            "--meta-filter",
            "priority[gte:number]=2",
            "--format",
            "csv",
        ],
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "id,filename,uploaded,signed,creator,metadata");
    assert_eq!(lines.len(), 3, "{}", r.stdout);

    let r = ok(
        &mut local(data.path()),
        &["list", "--sort", "asc", "--limit", "3", "--jsonl"],
    );
    let limited = jsonl(&r.stdout);
    assert_eq!(limited.len(), 3);
    assert_eq!(limited[0]["meta"]["status"], "active");

    let r = ok(&mut local(data.path()), &["list", "--creator", "user-1"]);
    assert!(r.stdout.starts_with("ID"), "{}", r.stdout);
    assert_eq!(r.stdout.lines().count(), 3);

    let r = ok(
        &mut local(data.path()),
        &["list", "--v1", "--per-page", "10", "--json"],
    );
    assert_eq!(json(&r.stdout).as_array().unwrap().len(), 4);

    let r = run(
        &mut local(data.path()),
        &["list", "--meta-filter", "priority[like]=2"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown operator"));
}

#[test]
fn failed_uploads_exit_non_zero_and_are_named() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let good = files.path().join("good.png");
    let text = files.path().join("notes.txt");
    let empty = files.path().join("empty.png");
    std::fs::write(&good, PIXEL_PNG).unwrap();
    std::fs::write(&text, b"hello, not an image").unwrap();
    std::fs::write(&empty, b"").unwrap();
    let missing = files.path().join("missing.png");
    let args = [
        "upload",
        good.to_str().unwrap(),
        text.to_str().unwrap(),
        empty.to_str().unwrap(),
        missing.to_str().unwrap(),
    ];
    let r = run(&mut local(data.path()), &args);
    assert_no_panic(&r);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    // Many inputs: a line per failure and the summary, nothing else.
    assert_eq!(r.stdout, "");
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| !l.contains("using the local emulator"))
        .collect();
    assert_eq!(lines.len(), 4, "{}", r.stderr);
    for name in ["notes.txt", "empty.png", "missing.png"] {
        assert!(
            lines.iter().any(|l| l.contains(name)),
            "{name} not named in:\n{}",
            r.stderr
        );
    }
    assert!(r.stderr.contains("empty"));
    assert!(lines[3].starts_with("cfimg: error: 3 of 4 uploads failed"));
    assert!(!r.stderr.lines().any(|l| l.contains("good.png")));

    let mut json_args = args.to_vec();
    json_args.push("--json");
    let r = run(&mut local(data.path()), &json_args);
    assert_eq!(r.code, 1);
    let report = json(&r.stdout);
    assert_eq!(report["uploaded"].as_array().unwrap().len(), 1);
    let failed = report["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 3);
    assert!(failed
        .iter()
        .any(|f| f["source"].as_str().unwrap().ends_with("notes.txt")));
}

#[test]
fn get_edit_download_and_delete() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("cat.png");
    std::fs::write(&file, PIXEL_PNG).unwrap();
    let r = ok(
        &mut local(data.path()),
        &[
            "upload",
            file.to_str().unwrap(),
            "--id",
            "animals/cat",
            "--json",
        ],
    );
    assert_eq!(json(&r.stdout)["uploaded"][0]["image"]["id"], "animals/cat");

    let r = ok(&mut local(data.path()), &["get", "animals/cat"]);
    assert!(r.stdout.contains("filename:    cat.png"), "{}", r.stdout);

    let r = ok(
        &mut local(data.path()),
        &[
            "edit",
            "animals/cat",
            "--metadata",
            r#"{"sku":"CAT-2"}"#,
            "--creator",
            "bob",
            "--json",
        ],
    );
    let image = json(&r.stdout);
    assert_eq!(image["meta"]["sku"], "CAT-2");
    assert_eq!(image["creator"], "bob");
    let r = run(&mut local(data.path()), &["edit", "animals/cat"]);
    assert_eq!(r.code, 2);

    let r = run(
        &mut local(data.path()),
        &["edit", "animals/cat", "--metadata", "[1]"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("JSON object"));

    let out = files.path().join("copy.png");
    ok(
        &mut local(data.path()),
        &["download", "animals/cat", "-o", out.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&out).unwrap(), PIXEL_PNG);
    let r = run(
        &mut local(data.path()),
        &["download", "animals/cat", "-o", out.to_str().unwrap()],
    );
    assert_eq!(r.code, 2, "an existing file is not overwritten");
    let r = ok(
        &mut local(data.path()),
        &[
            "download",
            "animals/cat",
            "-o",
            files.path().to_str().unwrap(),
            "--force",
        ],
    );
    assert!(r.stdout.contains("cat.png"), "{}", r.stdout);

    // Without a terminal and without --yes, delete refuses and deletes nothing.
    let r = run(&mut local(data.path()), &["delete", "animals/cat"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    ok(&mut local(data.path()), &["get", "animals/cat"]);

    let r = ok(&mut local(data.path()), &["delete", "animals/cat", "--yes"]);
    assert!(r.stdout.contains("deleted animals/cat"));

    // Errors: one line with Cloudflare's code, status 1, no panic.
    let r = run(&mut local(data.path()), &["get", "animals/cat"]);
    assert_eq!(r.code, 1);
    assert_no_panic(&r);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| !l.contains("using the local emulator"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(errors[0].starts_with("cfimg: error:") && errors[0].contains("5404"));
    let r = run(&mut local(data.path()), &["get", "animals/cat", "--json"]);
    assert_eq!(json(&r.stdout)["error"]["codes"][0], 5404);

    let r = run(
        &mut local(data.path()),
        &["delete", "nope-1", "nope-2", "--yes"],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("2 of 2 deletions failed"), "{}", r.stderr);
}

#[test]
fn variants_keys_and_stats() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let r = ok(
        &mut local(d),
        &[
            "variants", "create", "thumb", "--width", "200", "--height", "100", "--fit", "cover",
        ],
    );
    assert!(r.stdout.contains("thumb") && r.stdout.contains("cover"));
    ok(
        &mut local(d),
        &["variants", "edit", "thumb", "--height", "150"],
    );
    let r = ok(&mut local(d), &["variants", "get", "thumb", "--json"]);
    let v = json(&r.stdout);
    assert_eq!(v["options"]["height"], 150);
    assert_eq!(v["options"]["width"], 200);
    let r = ok(&mut local(d), &["variants", "list", "--json"]);
    assert_eq!(json(&r.stdout).as_array().unwrap().len(), 2);
    let r = run(
        &mut local(d),
        &["variants", "create", "big", "--width", "10"],
    );
    assert_eq!(r.code, 2);
    // Like `delete`: no terminal and no --yes, nothing deleted.
    let r = run(&mut local(d), &["variants", "delete", "thumb"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    ok(&mut local(d), &["variants", "get", "thumb"]);
    ok(&mut local(d), &["variants", "delete", "thumb", "-y"]);
    let r = run(&mut local(d), &["variants", "get", "thumb"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("5401") || r.stderr.contains("404"),
        "{}",
        r.stderr
    );

    let r = ok(&mut local(d), &["keys", "create", "rotation2"]);
    assert!(r.stdout.contains("rotation2"));
    assert!(r.stdout.contains('…'), "values are masked: {}", r.stdout);
    let r = ok(&mut local(d), &["keys", "list", "--reveal", "--json"]);
    let keys = json(&r.stdout);
    assert_eq!(keys.as_array().unwrap().len(), 2);
    assert!(keys[0]["value"].as_str().unwrap().len() >= 32);
    ok(&mut local(d), &["keys", "delete", "rotation2"]);

    let r = ok(&mut local(d), &["stats", "--json"]);
    assert_eq!(json(&r.stdout)["current"].as_u64(), Some(0), "{}", r.stdout);
    assert!(!r.stdout.contains(".0"), "{}", r.stdout);
    let r = ok(&mut local(d), &["stats"]);
    assert!(r.stdout.contains("images: 0 of"), "{}", r.stdout);
}

/// An emulator in this process that only accepts one token; `cfimg` reaches it
/// through `CLOUDFLARE_BASE_URL`, `CLOUDFLARE_API_TOKEN` and `CLOUDFLARE_ACCOUNT_ID`.
#[test]
fn against_an_emulator_through_environment_credentials() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let emulator = rt
        .block_on(Emulator::start_with(Config {
            api_token: Some("test-token".into()),
            ..Config::default()
        }))
        .unwrap();
    let base = emulator.base_url();
    let account = emulator.account_id().to_string();
    let api = || remote(&base, "test-token", &account);
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("secret.png");
    std::fs::write(&file, PIXEL_PNG).unwrap();

    let r = ok(
        &mut api(),
        &[
            "upload",
            file.to_str().unwrap(),
            "--require-signed-urls",
            "--json",
        ],
    );
    assert!(!r.stderr.contains("local emulator"), "{}", r.stderr);
    let id = json(&r.stdout)["uploaded"][0]["image"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(emulator.image_count(), 1);

    // Signed URL: served; without the signature: 403.
    let r = ok(&mut api(), &["sign", &id, "--expires-in", "10m", "--json"]);
    let url = json(&r.stdout)["url"].as_str().unwrap().to_string();
    assert!(url.contains("exp=") && url.contains("sig="));
    let (signed, unsigned) = rt.block_on(async {
        // With the SDK's TLS: its default `rustls` feature leaves reqwest without a
        // crypto provider of its own (a plain `reqwest::get` panics in a lone cfimg build).
        let http = cloudflare_images::http_client_builder()
            .unwrap()
            .build()
            .unwrap();
        let signed = http.get(&url).send().await.unwrap();
        let status = signed.status().as_u16();
        let bytes = signed.bytes().await.unwrap();
        let plain = url.split('?').next().unwrap();
        let unsigned = http.get(plain).send().await.unwrap().status().as_u16();
        ((status, bytes), unsigned)
    });
    assert_eq!(signed.0, 200);
    // The emulator renders the variant (`public`, scale-down into 1366x768): a new PNG of
    // the same 1x1 image, not the uploaded bytes.
    let shown =
        image::load_from_memory_with_format(&signed.1, image::ImageFormat::Png).expect("a PNG");
    assert_eq!((shown.width(), shown.height()), (1, 1));
    assert_eq!(unsigned, 403);
    let r = run(&mut api(), &["sign", &id, "--expires-in", "soon"]);
    assert_eq!(r.code, 2);

    // Direct creator upload: URL only, then URL + file.
    let r = ok(&mut api(), &["direct-upload", "--creator", "user-42"]);
    let upload_url = r.stdout.trim().to_string();
    assert!(upload_url.starts_with(&emulator.origin()), "{upload_url}");
    assert!(upload_url.contains("/upload/"), "{upload_url}");
    // The draft's id ends the one-time URL.
    let draft_id = upload_url.rsplit('/').next().unwrap().to_string();
    let r = ok(
        &mut api(),
        &["direct-upload", "--file", file.to_str().unwrap(), "--json"],
    );
    let report = json(&r.stdout);
    assert_eq!(report["image"]["filename"], "secret.png");
    assert!(report["image"].get("draft").is_none());

    // The two uploads; the draft whose one-time URL was never used is in no
    // listing (Cloudflare: "the image will not appear in the list of images"),
    // but can be read by its id.
    let r = ok(&mut api(), &["list", "--json"]);
    let listed = json(&r.stdout);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{}", r.stdout);
    assert!(!ids.contains(&draft_id.as_str()), "{}", r.stdout);
    let r = ok(&mut api(), &["get", &draft_id]);
    assert!(r.stdout.contains("draft:"), "{}", r.stdout);
    let r = ok(&mut api(), &["list"]);
    assert!(!r.stdout.contains("(draft)"), "{}", r.stdout);

    // A wrong token: one line naming Cloudflare's code, exit status 1.
    let r = run(&mut remote(&base, "wrong", &account), &["stats"]);
    assert_eq!(r.code, 1);
    assert_no_panic(&r);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("10000") && r.stderr.contains("403"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(
            "check that the API token has the Images permission and that CLOUDFLARE_ACCOUNT_ID is the account's id"
        ),
        "{}",
        r.stderr
    );
    let r = run(&mut remote(&base, "wrong", &account), &["stats", "--json"]);
    assert_eq!(r.code, 1);
    assert!(json(&r.stdout)["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("Images permission"));

    // Credentials but no account id: a configuration error, not the emulator.
    let mut cmd = remote(&base, "test-token", &account);
    cmd.env_remove("CLOUDFLARE_ACCOUNT_ID");
    let r = run(&mut cmd, &["stats"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("CLOUDFLARE_ACCOUNT_ID"), "{}", r.stderr);

    rt.block_on(emulator.shutdown());

    // Nothing listening any more: a transport error, one line.
    let r = run(&mut api(), &["stats"]);
    assert_eq!(r.code, 1);
    assert_no_panic(&r);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("connect"), "{}", r.stderr);
}

/// `cfimg serve` prints its base URL first; other invocations can use it.
#[test]
fn serve_runs_an_emulator_for_other_invocations() {
    let data = tempfile::tempdir().unwrap();
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = KillOnDrop(
        local(data.path())
            .args(["serve", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().to_string();
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with("/client/v4"),
        "{base}"
    );
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("x.png");
    std::fs::write(&file, PIXEL_PNG).unwrap();
    let account = "023e105f4ecef8ad9ca31a8372d0c353";
    let up = run(
        &mut remote(&base, "local", account),
        &["upload", file.to_str().unwrap(), "--id", "served/x"],
    );
    let stats = run(&mut remote(&base, "local", account), &["stats", "--json"]);
    drop(child);
    assert_eq!(up.code, 0, "{}", up.stderr);
    assert_eq!(json(&stats.stdout)["current"].as_u64(), Some(1));
    // serve kept its state in the data directory, where the embedded emulator finds it.
    let r = ok(&mut local(data.path()), &["get", "served/x"]);
    assert!(r.stdout.contains("served/x"));
}

#[test]
fn base_url_without_credentials_is_an_error() {
    let data = tempfile::tempdir().unwrap();
    let mut cmd = local(data.path());
    cmd.env("CLOUDFLARE_BASE_URL", "http://127.0.0.1:9/client/v4");
    let r = run(&mut cmd, &["stats"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no credentials"), "{}", r.stderr);
}

// ------------------------------------------------------------------------------------------
// Output contracts: JSON documents, JSON lines, one line per error, goldens.

/// Compares `actual` with `tests/golden/{name}`; `UPDATE_GOLDEN=1` rewrites it.
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing {}; run with UPDATE_GOLDEN=1 to write it",
            path.display()
        )
    });
    if name.ends_with(".json") {
        // Compared as JSON: key order depends on serde_json's `preserve_order`
        // feature, which a workspace-wide build may turn on.
        let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
        assert_eq!(
            parse(actual),
            parse(&expected),
            "output differs from {} (UPDATE_GOLDEN=1 rewrites it):\n{actual}",
            path.display()
        );
        assert!(parse(actual).is_some(), "not JSON: {actual}");
        return;
    }
    assert_eq!(
        actual,
        expected,
        "output differs from {} (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

/// `text` with the temporary directory `dir` shown as `<DIR>`.
fn masked(text: &str, dir: &Path) -> String {
    text.replace(dir.to_str().unwrap(), "<DIR>")
}

/// `cfimg -q` with no credentials: no notice on stderr, so stderr holds only errors.
fn quiet(data: &Path) -> Command {
    let mut cmd = local(data);
    cmd.arg("-q");
    cmd
}

#[test]
fn json_is_one_document_and_jsonl_streams_lines() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    // An empty store: `[]` for --json, nothing for --jsonl.
    let r = ok(&mut quiet(d), &["list", "--json"]);
    assert_eq!(json(&r.stdout), serde_json::json!([]));
    let r = ok(&mut quiet(d), &["list", "--jsonl"]);
    assert_eq!(r.stdout, "");

    let files = tempfile::tempdir().unwrap();
    for name in ["a.png", "b.png", "c.png"] {
        std::fs::write(files.path().join(name), PIXEL_PNG).unwrap();
    }
    ok(&mut quiet(d), &["upload", files.path().to_str().unwrap()]);
    let r = ok(&mut quiet(d), &["list", "--json"]);
    assert_eq!(json(&r.stdout).as_array().unwrap().len(), 3);
    let r = ok(&mut quiet(d), &["list", "--jsonl", "--per-page", "10"]);
    assert_eq!(jsonl(&r.stdout).len(), 3);
    let r = ok(&mut quiet(d), &["list", "--format", "jsonl"]);
    assert_eq!(jsonl(&r.stdout).len(), 3);

    // Lists of variants and keys too; single objects on one line under --jsonl.
    let r = ok(&mut quiet(d), &["variants", "list", "--jsonl"]);
    assert_eq!(jsonl(&r.stdout).len(), 1);
    let r = ok(&mut quiet(d), &["keys", "list", "--json"]);
    assert!(json(&r.stdout).is_array());
    let r = ok(&mut quiet(d), &["stats", "--jsonl"]);
    assert_eq!(r.stdout.lines().count(), 1);
    json(&r.stdout);
    let r = ok(
        &mut quiet(d),
        &["upload", files.path().to_str().unwrap(), "--jsonl"],
    );
    let lines = jsonl(&r.stdout);
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l["image"]["id"].is_string()));

    // An error under --json is one document too.
    let r = run(&mut quiet(d), &["get", "nope", "--json"]);
    assert_eq!(r.code, 1);
    assert_eq!(json(&r.stdout)["error"]["codes"][0], 5404);
    let r = run(&mut quiet(d), &["get", "nope", "--jsonl"]);
    assert_eq!(r.stdout.lines().count(), 1);
    assert_eq!(json(&r.stdout)["error"]["codes"][0], 5404);
}

#[test]
fn usage_errors_exit_2_and_are_json_under_json() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let r = run(&mut quiet(d), &["list", "--json", "--format", "csv"]);
    assert_eq!(r.code, 2);
    let message = json(&r.stdout)["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("--json") && message.contains("--format"),
        "{message}"
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    golden("list_json_format_csv.json", &r.stdout);

    let r = run(&mut quiet(d), &["list", "--per-page", "5", "--json"]);
    assert_eq!(r.code, 2);
    assert!(json(&r.stdout)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--per-page"));
    let r = run(&mut quiet(d), &["list", "--per-page", "5"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--per-page"), "{}", r.stderr);
    assert_eq!(r.stdout, "");
    let r = run(&mut quiet(d), &["frobnicate", "--jsonl"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout.lines().count(), 1);
    assert!(json(&r.stdout)["error"]["message"].is_string());
    let r = run(&mut quiet(d), &["list", "--json", "--jsonl"]);
    assert_eq!(r.code, 2);
    // Arguments the SDK would refuse are refused while parsing, naming the flag.
    let big = format!(r#"{{"k":"{}"}}"#, "x".repeat(1100));
    for args in [
        &["upload", "x.png", "--id", "a/../b"][..],
        &["upload", "x.png", "--id", "/a"],
        &[
            "upload",
            "x.png",
            "--id",
            "2cdc28f0-017a-49c4-9ed7-87056c839010",
        ],
        // A UUID without hyphens: the SDK refuses it, so cfimg does (the SDK's rule).
        &[
            "upload",
            "x.png",
            "--id",
            "2cdc28f0017a49c49ed787056c839010",
        ],
        &["upload", "x.png", "--id", "a", "--require-signed-urls"],
        &["direct-upload", "--id", "a/"],
        &["upload", "x.png", "--metadata", &big],
    ] {
        let r = run(&mut quiet(d), args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("--"), "{args:?}: {}", r.stderr);
    }
    // Input the SDK refuses before sending: a usage error too.
    let r = run(&mut quiet(d), &["get", ".."]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(&mut quiet(d), &["--json"]);
    assert_eq!(r.code, 2);
    assert!(json(&r.stdout)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("subcommand"));
    let r = run(&mut quiet(d), &["stats", "-q", "-v"]);
    assert_eq!(r.code, 2);
    // --help is not an error.
    let r = ok(&mut quiet(d), &["list", "--help", "--json"]);
    assert!(r.stdout.contains("--jsonl"), "{}", r.stdout);
}

#[test]
fn completions_for_each_shell() {
    let data = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let r = ok(&mut local(data.path()), &["completions", shell]);
        assert!(r.stdout.contains("cfimg"), "{shell}");
        assert!(r.stdout.contains("direct-upload"), "{shell}");
        assert_eq!(r.stderr, "", "{shell}: no emulator is started");
    }
    let r = run(&mut local(data.path()), &["completions", "tcsh"]);
    assert_eq!(r.code, 2);
}

#[test]
fn quiet_silences_notes_and_verbose_shows_the_table() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let r = ok(&mut local(d), &["stats"]);
    assert!(
        r.stderr.contains("using the local emulator"),
        "{}",
        r.stderr
    );
    let r = ok(&mut local(d), &["stats", "-q"]);
    assert_eq!(r.stderr, "");
    let r = ok(&mut local(d), &["--quiet", "stats"]);
    assert_eq!(r.stderr, "");

    let files = tempfile::tempdir().unwrap();
    let n = 20;
    for i in 0..n {
        std::fs::write(files.path().join(format!("{i:02}.png")), PIXEL_PNG).unwrap();
    }
    // Many inputs, all fine: one summary line.
    let r = ok(&mut quiet(d), &["upload", files.path().to_str().unwrap()]);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert!(r.stdout.starts_with("uploaded 20 of 20 (1.4 KiB) in "));
    assert_eq!(r.stderr, "");
    // -v: a header, a row per input, a blank line and the summary.
    let r = ok(
        &mut quiet(d),
        &["upload", "-v", files.path().to_str().unwrap()],
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), n + 3, "{}", r.stdout);
    assert!(lines[0].starts_with("STATUS"));
    assert!(lines[1..=n].iter().all(|l| l.starts_with("ok ")));
}

#[test]
fn one_input_one_line() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let files = tempfile::tempdir().unwrap();
    let f = files.path();
    let cat = f.join("cat.png");
    let notes = f.join("notes.txt");
    std::fs::write(&cat, PIXEL_PNG).unwrap();
    std::fs::write(&notes, b"hello, not an image").unwrap();

    let r = ok(
        &mut quiet(d),
        &["upload", cat.to_str().unwrap(), "--id", "pets/cat"],
    );
    assert_eq!(r.stderr, "");
    golden("upload_one_ok.txt", &masked(&r.stdout, f));

    let r = run(&mut quiet(d), &["upload", notes.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "");
    golden("upload_one_failed.txt", &masked(&r.stderr, f));

    // Several inputs with failures: the failures, then the summary.
    let missing = f.join("missing.png");
    let r = run(
        &mut quiet(d),
        &[
            "upload",
            cat.to_str().unwrap(),
            notes.to_str().unwrap(),
            missing.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "");
    golden("upload_many_failed.txt", &masked(&r.stderr, f));

    // delete: its error once.
    let r = run(&mut quiet(d), &["delete", "nope", "--yes"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "");
    golden("delete_one_failed.txt", &r.stderr);
    let r = run(&mut quiet(d), &["delete", "pets/cat", "nope", "--yes"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "deleted pets/cat\n");
    golden("delete_many_failed.txt", &r.stderr);
}

/// A stand-in for the API that answers every request with a stored image; enough
/// for a URL upload to succeed whatever the URL holds.
fn fake_api() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then the body (by Content-Length, or to the last chunk).
            loop {
                let n = stream.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
                let Some(head_end) = text.find("\r\n\r\n") else {
                    continue;
                };
                let length = text[..head_end]
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                let done = match length {
                    Some(len) => buf.len() >= head_end + 4 + len,
                    None => !text.contains("transfer-encoding") || text.ends_with("0\r\n\r\n"),
                };
                if done {
                    break;
                }
            }
            let body = r#"{"success":true,"errors":[],"messages":[],"result":{"id":"fetched-1","filename":"x.png","uploaded":"2026-01-01T00:00:00Z","requireSignedURLs":false,"variants":["https://imagedelivery.net/h/fetched-1/public"]}}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://127.0.0.1:{port}/client/v4")
}

#[test]
fn no_secret_of_a_url_in_any_output() {
    const MARKER: &str = "S3CRETMARK";
    let url = format!("http://user{MARKER}:pw{MARKER}@127.0.0.1:9/cats/x.png?sig={MARKER}&a=1");
    let check = |r: &Run, what: &str| {
        assert_no_panic(r);
        assert!(
            !r.stdout.contains(MARKER) && !r.stderr.contains(MARKER),
            "{what}: secret printed\nstdout:\n{}\nstderr:\n{}",
            r.stdout,
            r.stderr
        );
    };
    // Success: an API that accepts the upload.
    let base = fake_api();
    let account = "023e105f4ecef8ad9ca31a8372d0c353";
    for extra in [&[][..], &["--json"], &["--jsonl"], &["-v"]] {
        let mut args = vec!["upload", url.as_str()];
        args.extend_from_slice(extra);
        let r = run(&mut remote(&base, "t", account), &args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        check(&r, &format!("success {extra:?}"));
        if extra.is_empty() {
            assert_eq!(
                r.stdout,
                "uploaded http://127.0.0.1:9/cats/x.png?… as fetched-1\n"
            );
        }
    }
    // Failure: the embedded emulator refuses URLs with user info.
    let data = tempfile::tempdir().unwrap();
    let other = "http://127.0.0.1:9/ok.png".to_string();
    for extra in [&[][..], &["--json"], &["--jsonl"], &["-v"]] {
        for inputs in [vec![url.as_str()], vec![url.as_str(), other.as_str()]] {
            let mut args = vec!["upload"];
            args.extend(inputs.iter().copied());
            args.extend_from_slice(extra);
            let r = run(&mut local(data.path()), &args);
            assert_eq!(r.code, 1, "{}", r.stderr);
            check(&r, &format!("failure {args:?}"));
        }
    }
    let r = run(&mut quiet(data.path()), &["upload", &url]);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("cfimg: error: could not upload http://127.0.0.1:9/cats/x.png?…: "),
        "{}",
        r.stderr
    );
}

#[test]
fn durations_are_checked_by_the_flag() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let files = tempfile::tempdir().unwrap();
    let cat = files.path().join("cat.png");
    std::fs::write(&cat, PIXEL_PNG).unwrap();
    ok(
        &mut quiet(d),
        &["upload", cat.to_str().unwrap(), "--id", "cat"],
    );
    for good in ["1h 30m", "30min", "90s", "1h30m", "2d", "600"] {
        let r = ok(&mut quiet(d), &["sign", "cat", "--expires-in", good]);
        assert!(r.stdout.contains("exp="), "{good}");
    }
    for bad in ["0s", "0", "soon", "1.5h", "500ms"] {
        let r = run(&mut quiet(d), &["sign", "cat", "--expires-in", bad]);
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("--expires-in"), "{bad}: {}", r.stderr);
    }
    let r = run(&mut quiet(d), &["sign", "cat", "--expires-in", "1.5h"]);
    assert!(r.stderr.contains("1h 30m"), "{}", r.stderr);
    let r = run(
        &mut quiet(d),
        &["sign", "cat", "--expires-in", "0s", "--json"],
    );
    golden("sign_expires_0s.json", &r.stdout);

    for good in ["2m", "1h 30m", "90min", "6h"] {
        ok(&mut quiet(d), &["direct-upload", "--expires-in", good]);
    }
    for bad in ["1m", "7h", "0s", "1.5h"] {
        let r = run(&mut quiet(d), &["direct-upload", "--expires-in", bad]);
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("--expires-in"), "{bad}: {}", r.stderr);
        assert!(!r.stderr.contains("expiry"), "{bad}: {}", r.stderr);
    }
}

/// Runs `cfimg` with `input` on stdin.
fn run_with_stdin(mut cmd: Command, args: &[&str], input: Vec<u8>) -> Run {
    use std::io::Write;
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Run::from(out)
}

#[test]
fn upload_from_stdin() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let r = run_with_stdin(
        quiet(d),
        &["upload", "-", "--name", "cat.png", "--id", "in/cat"],
        PIXEL_PNG.to_vec(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "uploaded stdin as in/cat (70 B)\n");
    let r = ok(&mut quiet(d), &["get", "in/cat", "--json"]);
    assert_eq!(json(&r.stdout)["filename"], "cat.png");

    let r = run_with_stdin(quiet(d), &["upload", "-", "--json"], PIXEL_PNG.to_vec());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r.stdout)["uploaded"][0]["image"]["filename"], "stdin");

    let r = run_with_stdin(quiet(d), &["upload", "-"], Vec::new());
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);

    let r = run_with_stdin(quiet(d), &["upload", "-"], vec![0u8; 10 * 1024 * 1024 + 1]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("10.0 MiB"), "{}", r.stderr);

    let r = run(&mut quiet(d), &["upload", "x.png", "--name", "y.png"]);
    assert_eq!(r.code, 2);
}

#[test]
fn patterns_with_classes_and_alternatives() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let files = tempfile::tempdir().unwrap();
    let f = files.path();
    for name in ["g.png", "p.png", "x.png", "y.png"] {
        std::fs::write(f.join(name), PIXEL_PNG).unwrap();
    }
    let r = ok(
        &mut quiet(d),
        &["upload", &format!("{}/[gp]*.png", f.display()), "--jsonl"],
    );
    let sources: Vec<String> = jsonl(&r.stdout)
        .iter()
        .map(|l| masked(l["source"].as_str().unwrap(), f))
        .collect();
    assert_eq!(sources, ["<DIR>/g.png", "<DIR>/p.png"]);
    let r = ok(
        &mut quiet(d),
        &[
            "upload",
            &format!("{}/{{x,y}}.{{png,svg}}", f.display()),
            "--jsonl",
        ],
    );
    assert_eq!(jsonl(&r.stdout).len(), 2, "{}", r.stdout);
    let r = run(
        &mut quiet(d),
        &["upload", &format!("{}/[q-z]*.gif", f.display())],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no file matches"), "{}", r.stderr);
}

#[test]
fn small_fixes() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let files = tempfile::tempdir().unwrap();
    let f = files.path();
    let cat = f.join("cat.png");
    std::fs::write(&cat, PIXEL_PNG).unwrap();

    // stats: integers.
    let r = ok(&mut quiet(d), &["stats", "--json"]);
    golden("stats_empty.json", &r.stdout);

    // Delivery URLs on the embedded emulator's port come with the note.
    ok(
        &mut quiet(d),
        &["upload", cat.to_str().unwrap(), "--id", "cat"],
    );
    for args in [
        &["get", "cat"][..],
        &["list", "--json"],
        &["list", "--jsonl"],
    ] {
        let r = ok(&mut local(d), args);
        assert!(
            r.stderr
                .contains("note: the local emulator stops when cfimg exits"),
            "{args:?}: {}",
            r.stderr
        );
        let r = ok(&mut quiet(d), args);
        assert_eq!(r.stderr, "", "{args:?}");
    }
    let r = ok(&mut local(d), &["list"]);
    assert!(!r.stderr.contains("note:"), "no URLs in the table");

    // download into a folder that does not exist: said so, before anything is fetched.
    let target = f.join("missing/dir/x.png");
    let r = run(
        &mut quiet(d),
        &["download", "cat", "-o", target.to_str().unwrap()],
    );
    assert_eq!(r.code, 2);
    golden("download_missing_folder.txt", &masked(&r.stderr, f));

    // Help texts.
    let r = ok(&mut quiet(d), &["keys", "delete", "--help"]);
    assert!(!r.stdout.contains("--reveal"), "{}", r.stdout);
    let r = ok(&mut quiet(d), &["demo", "--help"]);
    assert!(!r.stdout.contains("second"), "{}", r.stdout);
    for command in ["upload", "direct-upload"] {
        let r = ok(&mut quiet(d), &[command, "--help"]);
        for flag in ["--id", "--creator", "--metadata", "--require-signed-urls"] {
            assert!(r.stdout.contains(flag), "{command} {flag}");
        }
    }
}

/// `cfimg config --flexible-variants on|off` sets the account's switch (PATCH v1/config);
/// against the embedded emulator it is kept in the data directory, where the next run (or
/// any emulator on that folder) finds it.
#[test]
fn config_turns_flexible_variants_on_and_off() {
    let data = tempfile::tempdir().unwrap();
    let on = ok(
        &mut local(data.path()),
        &["config", "--flexible-variants", "on"],
    );
    assert_eq!(on.stdout, "flexible variants: on\n");
    // An emulator on the same folder sees it: an empty PATCH reports the setting.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seen = runtime.block_on(async {
        let emu = Emulator::start_with(Config {
            data_dir: Some(data.path().to_path_buf()),
            ..Config::default()
        })
        .await
        .unwrap();
        let client = cloudflare_images::Client::builder()
            .api_token("t")
            .account_id(emu.account_id())
            .base_url(emu.base_url())
            .build()
            .unwrap();
        let config = client.v1().config().edit().send().await.unwrap();
        emu.shutdown().await;
        config.flexible_variants
    });
    assert_eq!(seen, Some(true));
    let off = ok(
        &mut local(data.path()),
        &["config", "--flexible-variants", "off", "--json"],
    );
    assert_eq!(
        json(&off.stdout),
        serde_json::json!({"flexible_variants": false})
    );
    let bad = run(
        &mut local(data.path()),
        &["config", "--flexible-variants", "maybe"],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    let missing = run(&mut local(data.path()), &["config"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
}
