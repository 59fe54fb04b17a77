//! `cfimg variants list --json` and `variants apply FILE`: the file format is
//! the list's, apply makes the account match it (every field compared), a
//! second apply sends no write, `--prune` deletes what the file lacks, and a
//! bad file is refused before any request.

use crate::common::*;
use std::path::Path;

use cloudflare_images_emulator::{Emulator, EmulatorHandle};
use serde_json::{json, Value};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The variants of `list --json`, sorted by id.
fn listed(emulator: &EmulatorHandle, data: &Path) -> Vec<Value> {
    let mut v = json(&ok(remote(emulator, data), &["variants", "list", "--json"]).stdout)
        .as_array()
        .expect("an array")
        .clone();
    v.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    v
}

/// `(method, path below the account's images/)` of the requests since the last call.
fn sent(emulator: &EmulatorHandle) -> Vec<(String, String)> {
    let prefix = format!("/client/v4/accounts/{}/images/", emulator.account_id());
    let out = emulator
        .requests()
        .into_iter()
        .map(|r| {
            let path = r.path.strip_prefix(&prefix).unwrap_or(&r.path).to_string();
            (r.method, path)
        })
        .collect();
    emulator.clear_requests();
    out
}

fn pair(method: &str, path: &str) -> (String, String) {
    (method.to_string(), path.to_string())
}

fn variant(id: &str, fit: &str, w: u32, h: u32, never: bool) -> Value {
    json!({
        "id": id,
        "options": {"fit": fit, "metadata": "none", "width": w, "height": h},
        "neverRequireSignedURLs": never,
    })
}

fn summary(r: &Run) -> (i64, i64, i64, i64) {
    let v = json(&r.stdout);
    let n = |k: &str| v[k].as_i64().unwrap_or_else(|| panic!("{k} in {v}"));
    (n("created"), n("updated"), n("deleted"), n("unchanged"))
}

#[test]
fn apply_makes_the_account_match_the_file_and_a_rerun_changes_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime.block_on(Emulator::start()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let file = d.join("variants.json");

    // The list's format is the API's variant object; the account starts with `public`.
    let start = listed(&emulator, d);
    assert_eq!(start.len(), 1, "{start:?}");
    assert_eq!(start[0]["id"], "public");
    let public = start[0].clone();
    assert_eq!(
        public.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["id", "neverRequireSignedURLs", "options"]
    );

    let wanted = vec![
        public.clone(),
        variant("thumb", "cover", 200, 100, false),
        variant("hero", "scale-down", 1600, 900, true),
    ];
    std::fs::write(&file, serde_json::to_string_pretty(&wanted).unwrap()).unwrap();
    let f = file.to_str().unwrap();
    sent(&emulator);

    // A dry run prints the plan and writes nothing.
    let r = ok(remote(&emulator, d), &["variants", "apply", f, "--dry-run"]);
    assert!(r.stdout.contains("+ create thumb\n"), "{}", r.stdout);
    assert!(r.stdout.contains("+ create hero\n"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("plan: 2 to create, 0 to update, 0 to delete, 1 unchanged (dry run)"),
        "{}",
        r.stdout
    );
    assert_eq!(sent(&emulator), [pair("GET", "v1/variants")]);

    let r = ok(remote(&emulator, d), &["variants", "apply", f, "--json"]);
    assert_eq!(summary(&r), (2, 0, 0, 1));
    assert_eq!(
        sent(&emulator),
        [
            pair("GET", "v1/variants"),
            pair("POST", "v1/variants"),
            pair("POST", "v1/variants"),
        ]
    );
    let mut expected = wanted.clone();
    expected.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    assert_eq!(listed(&emulator, d), expected);
    sent(&emulator);

    // Again: nothing to do, no write sent.
    let r = ok(remote(&emulator, d), &["variants", "apply", f, "--json"]);
    assert_eq!(summary(&r), (0, 0, 0, 3));
    assert_eq!(json(&r.stdout)["plan"], json!([]));
    assert_eq!(sent(&emulator), [pair("GET", "v1/variants")]);

    // The list's own output applies as is: no change.
    let listed_file = d.join("listed.json");
    let out = ok(remote(&emulator, d), &["variants", "list", "--json"]).stdout;
    std::fs::write(&listed_file, out).unwrap();
    let r = ok(
        remote(&emulator, d),
        &["variants", "apply", listed_file.to_str().unwrap(), "--json"],
    );
    assert_eq!(summary(&r), (0, 0, 0, 3));
    sent(&emulator);

    // Every field is compared: a size, and the signed-URL flag alone.
    let changed = vec![
        public.clone(),
        variant("thumb", "cover", 240, 100, false),
        variant("hero", "scale-down", 1600, 900, false),
    ];
    std::fs::write(&file, serde_json::to_string(&changed).unwrap()).unwrap();
    let r = ok(remote(&emulator, d), &["variants", "apply", f, "--json"]);
    assert_eq!(summary(&r), (0, 2, 0, 1));
    assert_eq!(
        sent(&emulator),
        [
            pair("GET", "v1/variants"),
            pair("PATCH", "v1/variants/thumb"),
            pair("PATCH", "v1/variants/hero"),
        ]
    );
    let mut expected = changed.clone();
    expected.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    assert_eq!(listed(&emulator, d), expected);

    // A variant the file lacks stays without --prune; --prune deletes it after
    // confirmation (refused without a terminal and --yes).
    std::fs::write(
        &file,
        serde_json::to_string(&[public.clone(), changed[1].clone()]).unwrap(),
    )
    .unwrap();
    let r = ok(remote(&emulator, d), &["variants", "apply", f, "--json"]);
    assert_eq!(summary(&r), (0, 0, 0, 2));
    let r = run(remote(&emulator, d), &["variants", "apply", f, "--prune"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    assert_eq!(listed(&emulator, d).len(), 3);
    sent(&emulator);
    let r = ok(
        remote(&emulator, d),
        &["variants", "apply", f, "--prune", "--yes", "--json"],
    );
    assert_eq!(summary(&r), (0, 0, 1, 2));
    assert_eq!(
        json(&r.stdout)["plan"],
        json!([{"action": "delete", "id": "hero"}])
    );
    assert_eq!(
        sent(&emulator),
        [
            pair("GET", "v1/variants"),
            pair("DELETE", "v1/variants/hero")
        ]
    );
    let ids: Vec<Value> = listed(&emulator, d)
        .iter()
        .map(|v| v["id"].clone())
        .collect();
    assert_eq!(ids, [json!("public"), json!("thumb")]);

    runtime.block_on(emulator.shutdown());
}

#[test]
fn a_bad_file_is_refused_naming_the_line_or_field_before_any_request() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime.block_on(Emulator::start()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let file = d.join("variants.json");
    let f = file.to_str().unwrap();
    let cases: [(&str, &str); 5] = [
        (
            "[\n  {\"id\": \"a\",\n   \"options\": {\"fit\": \"cove\", \"metadata\": \"none\", \"width\": 1, \"height\": 1}}\n]",
            "line 3",
        ),
        (
            r#"[{"id":"a","options":{"fit":"pad","metadata":"none","width":1,"height":1},"nevr":true}]"#,
            "unknown field `nevr`",
        ),
        (
            r#"[{"id":"a","options":{"fit":"pad","metadata":"none","width":1,"height":12001}}]"#,
            "variant #1 (\"a\"): field options.height",
        ),
        (
            r#"[{"id":"a_b","options":{"fit":"pad","metadata":"none","width":1,"height":1}}]"#,
            "variant #1 (\"a_b\"): field id",
        ),
        (r#"{"variants": {}}"#, "line 1"),
    ];
    for (text, needle) in cases {
        std::fs::write(&file, text).unwrap();
        emulator.clear_requests();
        let r = run(
            remote(&emulator, d),
            &["variants", "apply", f, "--prune", "--yes"],
        );
        assert_eq!(r.code, 2, "{text}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{text}: {}", r.stderr);
        assert!(r.stderr.contains("variants.json"), "{}", r.stderr);
        assert_eq!(emulator.requests().len(), 0, "{text}");
    }
    let r = run(
        remote(&emulator, d),
        &[
            "variants",
            "apply",
            d.join("missing.json").to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot read"), "{}", r.stderr);
    assert_eq!(emulator.requests().len(), 0);
    runtime.block_on(emulator.shutdown());
}

#[test]
fn an_apply_stopped_midway_is_completed_by_a_rerun() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime.block_on(Emulator::start()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let file = d.join("variants.json");
    let f = file.to_str().unwrap();
    let wanted: Vec<Value> = ["a", "b", "c"]
        .iter()
        .map(|id| variant(id, "contain", 100, 100, false))
        .collect();
    std::fs::write(&file, serde_json::to_string(&wanted).unwrap()).unwrap();

    // The list and the first create pass, then every request is refused.
    emulator.faults().set_retry_after_secs(1);
    emulator.faults().set_rate_limit_after(Some(2));
    let r = run(remote(&emulator, d), &["variants", "apply", f]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("create variant b (1 of 3 changes made)"),
        "{}",
        r.stderr
    );
    emulator.faults().clear();
    // `public` and `a`.
    assert_eq!(listed(&emulator, d).len(), 2);

    let r = ok(remote(&emulator, d), &["variants", "apply", f, "--json"]);
    assert_eq!(summary(&r), (2, 0, 0, 1));
    let r = ok(remote(&emulator, d), &["variants", "apply", f, "--json"]);
    assert_eq!(summary(&r), (0, 0, 0, 3));
    runtime.block_on(emulator.shutdown());
}

/// Killed with SIGKILL in the middle of an apply (each request slowed down so the
/// kill lands between writes), a rerun of the same command finishes the job:
/// every variant of the file exists with its fields, none is created twice, and a
/// third apply changes nothing.
#[test]
fn an_apply_killed_midway_is_finished_by_a_rerun() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime.block_on(Emulator::start()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let file = d.join("variants.json");
    let mut wanted = listed(&emulator, d);
    for i in 0..24 {
        wanted.push(variant(
            &format!("v{i:02}"),
            "cover",
            100 + i,
            50 + i,
            false,
        ));
    }
    std::fs::write(&file, serde_json::to_string(&wanted).unwrap()).unwrap();
    let count = || {
        runtime.block_on(async {
            reqwest::Client::new()
                .get(format!(
                    "{}/accounts/{}/images/v1/variants",
                    emulator.base_url(),
                    emulator.account_id()
                ))
                .bearer_auth("test")
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })["result"]["variants"]
            .as_object()
            .map_or(0, |m| m.len())
    };

    emulator.faults().set_latency(Duration::from_millis(150));
    let mut child = remote(&emulator, d)
        .args(["variants", "apply", file.to_str().unwrap(), "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let give_up = Instant::now() + Duration::from_secs(60);
    while count() < 6 && Instant::now() < give_up {
        assert!(
            child.try_wait().unwrap().is_none(),
            "apply ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // A request in flight at the kill may still land: let it, before counting.
    std::thread::sleep(Duration::from_millis(500));
    emulator.faults().set_latency(Duration::ZERO);
    let before = count();
    assert!((6..25).contains(&before), "killed with {before} variants");

    emulator.clear_requests();
    let r = ok(
        remote(&emulator, d),
        &["variants", "apply", file.to_str().unwrap(), "--json"],
    );
    let (created, updated, deleted, _) = summary(&r);
    assert_eq!((updated, deleted), (0, 0), "{}", r.stdout);
    // What the kill left undone, created once; nothing created twice.
    assert_eq!(
        usize::try_from(created).unwrap(),
        25 - before,
        "{}",
        r.stdout
    );
    let posts = sent(&emulator)
        .into_iter()
        .filter(|(m, p)| m == "POST" && p == "v1/variants")
        .count();
    assert_eq!(posts, 25 - before);
    assert_eq!(listed(&emulator, d), {
        let mut w = wanted.clone();
        w.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        w
    });
    let r = ok(
        remote(&emulator, d),
        &["variants", "apply", file.to_str().unwrap(), "--json"],
    );
    assert_eq!(
        summary(&r).0 + summary(&r).1 + summary(&r).2,
        0,
        "{}",
        r.stdout
    );
    runtime.block_on(emulator.shutdown());
}
