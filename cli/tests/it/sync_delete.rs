//! `cfimg sync DIR --id-prefix P` and `cfimg delete` by filter, against an
//! emulator started in this process (so its request log shows every write):
//! the exact ids uploaded, replaced and deleted; nothing outside the selection
//! touched; no write from `--dry-run`, from a refusal without `--yes`, or from
//! a sync of an unchanged tree; a run killed midway finished by a rerun.

use crate::common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cloudflare_images::Client;
use cloudflare_images_emulator::{Emulator, EmulatorHandle};
use serde_json::{json, Value};
use tokio::runtime::Runtime;

/// A second valid PNG (1x1, red), different from [`PIXEL_PNG`].
fn red_png() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(1, 1, image::Rgb([255, 0, 0]))
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

fn ok_json(cmd: Command, args: &[&str]) -> Value {
    let r = ok(cmd, args);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

/// An emulator, a runtime to drive it, and an SDK client on it for seeding.
struct Api {
    rt: Runtime,
    emulator: EmulatorHandle,
    client: Client,
}

impl Api {
    fn start() -> Api {
        let rt = Runtime::new().unwrap();
        let emulator = rt.block_on(Emulator::start()).unwrap();
        let client = Client::builder()
            .api_token("test")
            .account_id(emulator.account_id())
            .base_url(emulator.base_url())
            .build()
            .unwrap();
        Api {
            rt,
            emulator,
            client,
        }
    }

    /// Stores `bytes` as `id`, with `meta` and `creator`.
    fn seed(&self, id: &str, bytes: &[u8], meta: Value, creator: Option<&str>) {
        self.rt.block_on(async {
            let mut request = self
                .client
                .v1()
                .create()
                .file(bytes.to_vec(), "seed.png")
                .id(id)
                .metadata(&meta);
            if let Some(c) = creator {
                request = request.creator(c);
            }
            request.send().await.unwrap();
        });
    }

    /// Every stored id.
    fn ids(&self) -> BTreeSet<String> {
        self.images()
            .into_iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Every stored image, as the API's JSON.
    fn images(&self) -> Vec<Value> {
        self.rt.block_on(async {
            use futures_util::TryStreamExt;
            let images: Vec<_> = self.client.v2().list_all().try_collect().await.unwrap();
            images
                .into_iter()
                .map(|i| serde_json::to_value(i).unwrap())
                .collect()
        })
    }

    /// An image's original bytes.
    fn blob(&self, id: &str) -> Vec<u8> {
        self.rt.block_on(async {
            let blob = self.client.v1().blobs().get(id).send().await.unwrap();
            blob.bytes().await.unwrap().to_vec()
        })
    }

    /// The writes received since the log was cleared: `(method, image id or
    /// path)`, ids percent-decoded.
    fn writes(&self) -> Vec<(String, String)> {
        let images = format!(
            "/client/v4/accounts/{}/images/v1",
            self.emulator.account_id()
        );
        self.emulator
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET" && r.method != "HEAD")
            .map(|r| {
                let target = match r.path.strip_prefix(&format!("{images}/")) {
                    Some(id) => decode(id),
                    None => r.path.clone(),
                };
                (r.method, target)
            })
            .collect()
    }
}

/// Percent-decodes an id taken from a request path.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn write_file(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Images outside the prefix, including ids that share its first characters.
const OUTSIDE: &[&str] = &["other/a.png", "site.png", "sitemap/a.png", "x/site/a.png"];

#[test]
fn sync_uploads_replaces_and_deletes_exactly_under_the_prefix() {
    let api = Api::start();
    let red = red_png();
    for id in OUTSIDE {
        api.seed(id, PIXEL_PNG, json!({"keep": "me"}), None);
    }
    // Under the prefix, stored by other means (no content hash in the metadata):
    // one with the file's content, one with other content, one without a file.
    api.seed("site/same.png", PIXEL_PNG, json!({}), None);
    api.seed("site/changed.png", PIXEL_PNG, json!({}), None);
    api.seed("site/stale.png", PIXEL_PNG, json!({}), None);
    let files = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let root = files.path();
    write_file(root, "same.png", PIXEL_PNG);
    write_file(root, "changed.png", &red);
    write_file(root, "new/deep.png", PIXEL_PNG);
    write_file(root, "notes.txt", b"not an image");
    let dir = root.to_str().unwrap();
    let sync = |extra: &[&'static str]| {
        let mut args = vec!["sync", dir, "--id-prefix", "site/", "--json", "-q"];
        args.extend_from_slice(extra);
        args
    };

    // --dry-run: the plan, and no write.
    api.emulator.clear_requests();
    let plan = ok_json(remote(&api.emulator, data.path()), &sync(&["--dry-run"]));
    assert_eq!(plan["dry_run"], true);
    assert_eq!(strings(&plan["upload"]), ["site/new/deep.png"]);
    assert_eq!(strings(&plan["replace"]), ["site/changed.png"]);
    assert_eq!(strings(&plan["delete"]), ["site/stale.png"]);
    assert_eq!(plan["unchanged"], 1);
    assert_eq!(api.writes(), vec![], "--dry-run wrote");

    // Replacing and deleting without --yes, stdin not a terminal: refused, no write.
    let r = run(remote(&api.emulator, data.path()), &sync(&[]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("pass --yes"), "{}", r.stderr);
    assert_eq!(api.writes(), vec![], "a refused sync wrote");

    // Applied.
    let report = ok_json(remote(&api.emulator, data.path()), &sync(&["--yes"]));
    assert_eq!(strings(&report["uploaded"]), ["site/new/deep.png"]);
    assert_eq!(strings(&report["replaced"]), ["site/changed.png"]);
    assert_eq!(strings(&report["deleted"]), ["site/stale.png"]);
    assert_eq!(report["unchanged"], 1);
    assert_eq!(report["failed"], json!([]));
    let writes = api.writes();
    let deletes: BTreeSet<String> = writes
        .iter()
        .filter(|(m, _)| m == "DELETE")
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(
        deletes,
        set(&[
            "site/changed.png",
            "site/changed.png.cfimg-sync-staging",
            "site/stale.png"
        ])
    );
    // Uploads: the new file, and the replacement's staging copy and final image.
    let posts = writes.iter().filter(|(m, _)| m == "POST").count();
    assert_eq!(posts, 3, "{writes:?}");
    assert_eq!(writes.len(), 6, "{writes:?}");

    let mut expected: BTreeSet<String> = OUTSIDE.iter().map(|s| s.to_string()).collect();
    expected.extend(set(&[
        "site/same.png",
        "site/changed.png",
        "site/new/deep.png",
    ]));
    assert_eq!(api.ids(), expected);
    for image in api.images() {
        let id = image["id"].as_str().unwrap();
        if OUTSIDE.contains(&id) {
            assert_eq!(image["meta"], json!({"keep": "me"}), "{id} was changed");
        }
    }
    assert_eq!(
        api.blob("site/changed.png"),
        red,
        "replaced by the new content"
    );
    assert_eq!(api.blob("site/new/deep.png"), PIXEL_PNG);
    let changed = api
        .images()
        .into_iter()
        .find(|i| i["id"] == "site/changed.png")
        .unwrap();
    let sha = changed["meta"]["cfimg_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(sha.len(), 64);

    // An unchanged tree: reads only.
    api.emulator.clear_requests();
    let report = ok_json(remote(&api.emulator, data.path()), &sync(&[]));
    assert_eq!(report["uploaded"], json!([]));
    assert_eq!(report["replaced"], json!([]));
    assert_eq!(report["deleted"], json!([]));
    assert_eq!(report["unchanged"], 3);
    assert_eq!(api.writes(), vec![], "an unchanged sync wrote");
    assert!(!api.emulator.requests().is_empty(), "it listed");

    // Human output: the plan's counts first.
    let r = ok(
        remote(&api.emulator, data.path()),
        &["sync", dir, "--id-prefix", "site/", "--dry-run"],
    );
    assert!(
        r.stdout.starts_with("sync ")
            && r.stdout
                .contains(": 0 to upload, 0 to replace, 0 to delete, 3 unchanged\n"),
        "{}",
        r.stdout
    );

    // Bad input is refused before anything is sent.
    api.emulator.clear_requests();
    let r = run(
        remote(&api.emulator, data.path()),
        &["sync", dir, "--id-prefix", ""],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(
        remote(&api.emulator, data.path()),
        &["sync", &format!("{dir}/same.png"), "--id-prefix", "site/"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a directory"), "{}", r.stderr);
    assert!(api.emulator.requests().is_empty());
}

/// A replacement stopped midway (its staging copy stored, the old image deleted
/// or not) is finished by the next sync, which reuses the staging copy.
#[test]
fn sync_finishes_an_interrupted_replacement() {
    let api = Api::start();
    let red = red_png();
    let files = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    write_file(files.path(), "a.png", &red);
    write_file(files.path(), "b.png", &red);
    let dir = files.path().to_str().unwrap();
    // The hash sync records for the red file: take it from a first sync elsewhere.
    let report = ok_json(
        remote(&api.emulator, data.path()),
        &["sync", dir, "--id-prefix", "tmp/", "--json", "-q"],
    );
    assert_eq!(strings(&report["uploaded"]), ["tmp/a.png", "tmp/b.png"]);
    let sha = api
        .images()
        .into_iter()
        .find(|i| i["id"] == "tmp/a.png")
        .unwrap()["meta"]["cfimg_sha256"]
        .clone();
    // a.png: stopped after step 1 (staging stored, old image still there).
    api.seed("p/a.png", PIXEL_PNG, json!({}), None);
    api.seed(
        "p/a.png.cfimg-sync-staging",
        &red,
        json!({"cfimg_sha256": sha}),
        None,
    );
    // b.png: stopped after step 2 (old image deleted).
    api.seed(
        "p/b.png.cfimg-sync-staging",
        &red,
        json!({"cfimg_sha256": sha}),
        None,
    );

    api.emulator.clear_requests();
    let report = ok_json(
        remote(&api.emulator, data.path()),
        &["sync", dir, "--id-prefix", "p/", "--json", "-q", "--yes"],
    );
    assert_eq!(strings(&report["uploaded"]), ["p/b.png"]);
    assert_eq!(strings(&report["replaced"]), ["p/a.png"]);
    assert_eq!(strings(&report["deleted"]), ["p/b.png.cfimg-sync-staging"]);
    let writes = api.writes();
    // The staging copy of a.png is reused: one upload each, no staging upload.
    assert_eq!(
        writes.iter().filter(|(m, _)| m == "POST").count(),
        2,
        "{writes:?}"
    );
    let under_p: BTreeSet<String> = api
        .ids()
        .into_iter()
        .filter(|id| id.starts_with("p/"))
        .collect();
    assert_eq!(under_p, set(&["p/a.png", "p/b.png"]));
    assert_eq!(api.blob("p/a.png"), red);
    assert_eq!(api.blob("p/b.png"), red);
}

#[test]
fn killed_sync_is_finished_by_a_rerun() {
    let api = Api::start();
    api.seed("other/keep.png", PIXEL_PNG, json!({}), None);
    let files = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let expected: BTreeSet<String> = (0..60)
        .map(|i| {
            let rel = format!("d{}/img{i:03}.png", i % 3);
            write_file(files.path(), &rel, PIXEL_PNG);
            format!("m/{rel}")
        })
        .collect();
    let dir = files.path().to_str().unwrap();
    let args = ["sync", dir, "--id-prefix", "m/", "--yes", "-j", "2", "-q"];
    // Slow enough that the kill lands midway (nothing asserts that it did).
    api.emulator.faults().set_latency(Duration::from_millis(20));
    start_and_kill(remote(&api.emulator, data.path()), &args, 21, || {
        api.emulator.image_count()
    });
    eprintln!("killed with {} images stored", api.emulator.image_count());
    api.emulator.faults().set_latency(Duration::ZERO);

    ok(remote(&api.emulator, data.path()), &args);
    let mut all = expected.clone();
    all.insert("other/keep.png".into());
    assert_eq!(api.ids(), all, "every file once, nothing else");
    api.emulator.clear_requests();
    let report = ok_json(
        remote(&api.emulator, data.path()),
        &["sync", dir, "--id-prefix", "m/", "--json", "-q"],
    );
    assert_eq!(report["unchanged"], 60);
    assert_eq!(api.writes(), vec![]);
}

/// Six images with metadata, creators and two upload times around `boundary`.
fn seed_library(api: &Api) -> String {
    api.seed(
        "old/a.png",
        PIXEL_PNG,
        json!({"status": "retired"}),
        Some("alice"),
    );
    api.seed(
        "old/b.png",
        PIXEL_PNG,
        json!({"status": "active"}),
        Some("bob"),
    );
    api.seed(
        "x/c.png",
        PIXEL_PNG,
        json!({"status": "retired", "n": {"k": "v"}}),
        None,
    );
    std::thread::sleep(Duration::from_millis(30));
    let boundary = chrono::Utc::now().to_rfc3339();
    std::thread::sleep(Duration::from_millis(30));
    api.seed(
        "new/d.png",
        PIXEL_PNG,
        json!({"status": "retired"}),
        Some("alice"),
    );
    api.seed(
        "new/e.png",
        PIXEL_PNG,
        json!({"status": "active", "n": {"k": "v"}}),
        Some("alice"),
    );
    api.seed("old/f.png", PIXEL_PNG, json!({"status": 1}), None);
    boundary
}

const LIBRARY: &[&str] = &[
    "old/a.png",
    "old/b.png",
    "x/c.png",
    "new/d.png",
    "new/e.png",
    "old/f.png",
];

#[test]
fn delete_by_filter_selects_exactly_and_dry_run_writes_nothing() {
    let api = Api::start();
    let boundary = seed_library(&api);
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let dry = |filters: &[&str]| -> BTreeSet<String> {
        let mut args = vec!["delete", "--dry-run", "--json", "-q"];
        args.extend_from_slice(filters);
        let plan = ok_json(remote(&api.emulator, d), &args);
        assert_eq!(plan["dry_run"], true);
        let sample: BTreeSet<String> = strings(&plan["sample"]).into_iter().collect();
        assert_eq!(plan["count"].as_u64().unwrap() as usize, sample.len());
        sample
    };
    api.emulator.clear_requests();
    assert_eq!(
        dry(&["--meta", "status=retired"]),
        set(&["old/a.png", "x/c.png", "new/d.png"])
    );
    assert_eq!(
        dry(&["--meta", "status=retired", "--creator", "alice"]),
        set(&["old/a.png", "new/d.png"])
    );
    assert_eq!(dry(&["--creator", ""]), set(&["x/c.png", "old/f.png"]));
    assert_eq!(dry(&["--meta", "n.k=v"]), set(&["x/c.png", "new/e.png"]));
    assert_eq!(
        dry(&["--id-prefix", "old/"]),
        set(&["old/a.png", "old/b.png", "old/f.png"])
    );
    assert_eq!(
        dry(&["--uploaded-before", &boundary]),
        set(&["old/a.png", "old/b.png", "x/c.png"])
    );
    assert_eq!(
        dry(&["--uploaded-after", &boundary, "--id-prefix", "old/"]),
        set(&["old/f.png"])
    );
    assert_eq!(dry(&["--uploaded-before", "2000-01-01"]), set(&[]));
    // Ids and a filter: only the ids the filter selects.
    assert_eq!(
        dry(&["old/a.png", "old/b.png", "nope", "--meta", "status=retired"]),
        set(&["old/a.png"])
    );
    assert_eq!(api.writes(), vec![], "--dry-run wrote");

    // Without --yes and without a terminal: refused, nothing deleted.
    let r = run(
        remote(&api.emulator, d),
        &["delete", "--meta", "status=retired"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("pass --yes"), "{}", r.stderr);
    assert_eq!(api.writes(), vec![]);
    // Bad filters are usage errors before anything is sent.
    for bad in [
        &["delete", "--uploaded-before", "last week"][..],
        &["delete", "--meta", "novalue"],
        &["delete", "--id-prefix", "", "--yes"],
        &["delete"],
    ] {
        assert_eq!(run(remote(&api.emulator, d), bad).code, 2, "{bad:?}");
    }
    assert_eq!(api.writes(), vec![]);

    let report = ok_json(
        remote(&api.emulator, d),
        &[
            "delete",
            "--meta",
            "status=retired",
            "--creator",
            "alice",
            "--yes",
            "--json",
            "-q",
        ],
    );
    assert_eq!(strings(&report["deleted"]), ["new/d.png", "old/a.png"]);
    assert_eq!(report["failed"], json!([]));
    let deleted: BTreeSet<String> = api
        .writes()
        .into_iter()
        .map(|(m, id)| {
            assert_eq!(m, "DELETE");
            id
        })
        .collect();
    assert_eq!(deleted, set(&["old/a.png", "new/d.png"]));
    let left: BTreeSet<String> = LIBRARY
        .iter()
        .map(|s| s.to_string())
        .collect::<BTreeSet<_>>()
        .difference(&deleted)
        .cloned()
        .collect();
    assert_eq!(api.ids(), left);

    // Ids on stdin, one already gone: deleted or reported gone, no error.
    let mut cmd = remote(&api.emulator, d);
    cmd.args(["delete", "-", "--yes", "--json", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"x/c.png\n\nold/a.png\n").unwrap();
    }
    let r = Run::from(child.wait_with_output().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(strings(&report["deleted"]), ["x/c.png"]);
    assert_eq!(strings(&report["already_gone"]), ["old/a.png"]);
    assert_eq!(api.ids(), set(&["old/b.png", "new/e.png", "old/f.png"]));
}

/// Rows of the deletion journal in `data` with this state.
fn journal_ids(data: &Path, state: &str) -> BTreeSet<String> {
    let path = data.join("journal.db");
    let Ok(conn) = rusqlite::Connection::open(&path) else {
        return BTreeSet::new();
    };
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let Ok(mut stmt) = conn.prepare("SELECT id FROM deletions WHERE state = ?1") else {
        return BTreeSet::new();
    };
    stmt.query_map([state], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn killed_bulk_delete_resumes_without_deleting_twice() {
    let api = Api::start();
    let doomed: BTreeSet<String> = (0..80).map(|i| format!("gone/{i:03}.png")).collect();
    for id in &doomed {
        api.seed(id, PIXEL_PNG, json!({"batch": "x"}), None);
    }
    for i in 0..5 {
        api.seed(
            &format!("gone/keep{i}.png"),
            PIXEL_PNG,
            json!({"batch": "y"}),
            None,
        );
    }
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let args = ["delete", "--meta", "batch=x", "--yes", "-j", "2", "-q"];
    api.emulator.faults().set_latency(Duration::from_millis(20));
    start_and_kill(remote(&api.emulator, d), &args, 30, || {
        85 - api.emulator.image_count()
    });
    api.emulator.faults().set_latency(Duration::ZERO);
    let done = journal_ids(d, "done");
    eprintln!("killed with {} deletions journaled", done.len());

    api.emulator.clear_requests();
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let report = ok_json(remote(&api.emulator, d), &json_args);
    let sent: BTreeSet<String> = api.writes().into_iter().map(|(_, id)| id).collect();
    assert!(
        sent.is_disjoint(&done),
        "deleted again: {:?}",
        sent.intersection(&done)
    );
    if !done.is_empty() {
        assert_eq!(report["resumed"], true);
        assert_eq!(
            report["already_deleted"].as_u64().unwrap() as usize,
            done.len()
        );
    }
    // Only deletions in flight at the kill can find their image already gone.
    assert!(
        report["already_gone"].as_array().unwrap().len() <= 2,
        "{report}"
    );
    assert_eq!(report["failed"], json!([]));
    let mut finished: BTreeSet<String> = strings(&report["deleted"]).into_iter().collect();
    finished.extend(strings(&report["already_gone"]));
    finished.extend(done);
    assert_eq!(finished, doomed);
    assert_eq!(
        api.ids(),
        (0..5)
            .map(|i| format!("gone/keep{i}.png"))
            .collect::<BTreeSet<_>>()
    );
    // The finished job is forgotten: the same command plans afresh and finds nothing.
    assert!(journal_ids(d, "done").is_empty());
    let report = ok_json(remote(&api.emulator, d), &json_args);
    assert_eq!(report["deleted"], json!([]));
    assert_eq!(report["resumed"], false);
}

#[test]
fn help_names_sync_and_the_delete_filters() {
    let data = tempfile::tempdir().unwrap();
    let r = ok(local(data.path()), &["--help"]);
    assert!(r.stdout.contains("sync"), "{}", r.stdout);
    let r = ok(local(data.path()), &["delete", "--help"]);
    for flag in [
        "--meta",
        "--creator",
        "--uploaded-before",
        "--uploaded-after",
        "--id-prefix",
        "--dry-run",
        "--yes",
    ] {
        assert!(r.stdout.contains(flag), "delete {flag}");
    }
    let r = ok(local(data.path()), &["sync", "--help"]);
    for flag in ["--id-prefix", "--dry-run", "--yes", "Examples:"] {
        assert!(r.stdout.contains(flag), "sync {flag}");
    }
}
