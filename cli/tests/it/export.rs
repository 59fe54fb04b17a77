//! `cfimg export` and `cfimg import` against emulators: a round trip into a
//! second account with every field compared, kills (SIGKILL) in the middle of
//! each and reruns that finish with nothing lost or duplicated (the emulators'
//! request logs count what was sent), the mapping of generated ids, and
//! altered files in the export folder fetched again.

use crate::common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cloudflare_images::Client;
use cloudflare_images_emulator::{Emulator, EmulatorHandle, SeedImage};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn client(emulator: &EmulatorHandle) -> Client {
    Client::builder()
        .api_token("test")
        .account_id(emulator.account_id())
        .base_url(emulator.base_url())
        .build()
        .unwrap()
}

/// Runs cfimg with `--json -q`, expects success, returns the JSON report.
fn report(cmd: Command, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--json", "-q"]);
    let r = run(cmd, &all);
    assert_eq!(
        r.code, 0,
        "cfimg {args:?}\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    serde_json::from_str(&r.stdout).expect("a JSON report")
}

/// A PNG of `w`x`h` pixels of one colour: distinct bytes per image.
fn png(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn manifest(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("manifest.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn mapping(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["old_id"].as_str().unwrap().to_string(),
                v["new_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every image of an account (drafts included), by id.
async fn images(client: &Client) -> BTreeMap<String, cloudflare_images::types::Image> {
    use futures_util::TryStreamExt;
    let all: Vec<_> = client.v2().list_all().try_collect().await.unwrap();
    all.into_iter()
        .map(|i| (i.id.clone().unwrap(), i))
        .collect()
}

/// The fields an import must carry over.
fn fields(i: &cloudflare_images::types::Image) -> Value {
    json!({
        "filename": i.filename,
        "metadata": i.meta.as_ref().map(|m| Value::Object(m.0.clone())).unwrap_or(json!({})),
        "creator": i.creator,
        "requireSignedURLs": i.require_signed_urls,
        "draft": i.draft.unwrap_or(false),
    })
}

async fn blob(client: &Client, id: &str) -> Vec<u8> {
    client
        .v1()
        .blobs()
        .get(id)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

fn count(emulator: &EmulatorHandle, method: &str, matches: impl Fn(&str) -> bool) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.method == method && matches(&r.path))
        .count()
}

fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn round_trip_into_another_account_keeps_every_field() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (a, b) = rt.block_on(async {
        (
            Emulator::start().await.unwrap(),
            Emulator::start().await.unwrap(),
        )
    });
    let (ca, cb) = (client(&a), client(&b));
    let sent: BTreeMap<String, Vec<u8>> = rt.block_on(async {
        let mut sent = BTreeMap::new();
        let cat = png(3, 2, [200, 10, 10]);
        let img = ca
            .v1()
            .create()
            .file(cat.clone(), "cat.png")
            .id("products/cat")
            .creator("user-1")
            .metadata(json!({"sku": "C-1", "n": 2, "tags": ["a", "b"]}))
            .send()
            .await
            .unwrap();
        sent.insert(img.id.unwrap(), cat);
        let dog = png(2, 5, [10, 200, 10]);
        let img = ca
            .v1()
            .create()
            .file(dog.clone(), "dog photo.png")
            .id("nested/deep/dog")
            .send()
            .await
            .unwrap();
        sent.insert(img.id.unwrap(), dog);
        // Ids Cloudflare generated: one served signed only, one public.
        let secret = png(4, 4, [10, 10, 200]);
        let img = ca
            .v1()
            .create()
            .file(secret.clone(), "secret.png")
            .creator("user-2")
            .metadata(json!({"private": true}))
            .require_signed_urls(true)
            .send()
            .await
            .unwrap();
        sent.insert(img.id.unwrap(), secret);
        let plain = png(1, 7, [90, 90, 90]);
        let img = ca
            .v1()
            .create()
            .file(plain.clone(), "plain.png")
            .send()
            .await
            .unwrap();
        sent.insert(img.id.unwrap(), plain);
        sent
    });
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("backup");
    let d = dir.to_str().unwrap();

    let r = report(remote(&a, data.path()), &["export", d]);
    assert_eq!(
        (r["images"].as_u64(), r["fetched"].as_u64()),
        (Some(4), Some(4)),
        "{r}"
    );
    assert_eq!(count(&a, "GET", |p| p.ends_with("/blob")), 4);
    let source = rt.block_on(images(&ca));
    let lines = manifest(&dir);
    assert_eq!(lines.len(), 4);
    for line in &lines {
        let id = line["id"].as_str().unwrap();
        let image = &source[id];
        let bytes = std::fs::read(dir.join(line["path"].as_str().unwrap())).unwrap();
        assert_eq!(bytes, sent[id], "{id}: the original as uploaded");
        assert_eq!(line["sha256"], sha256(&bytes));
        assert_eq!(line["bytes"], bytes.len());
        assert_eq!(line["filename"], json!(image.filename));
        assert_eq!(line["creator"], json!(image.creator));
        assert_eq!(line["requireSignedURLs"], image.require_signed_urls);
        assert_eq!(line["metadata"], fields(image)["metadata"]);
        let uploaded =
            chrono::DateTime::parse_from_rfc3339(line["uploaded"].as_str().unwrap()).unwrap();
        assert_eq!(Some(uploaded.with_timezone(&chrono::Utc)), image.uploaded);
    }

    // A rerun with nothing changed fetches nothing.
    a.clear_requests();
    let r = report(remote(&a, data.path()), &["export", d]);
    assert_eq!(
        (r["fetched"].as_u64(), r["unchanged"].as_u64()),
        (Some(0), Some(4)),
        "{r}"
    );
    assert_eq!(count(&a, "GET", |p| p.ends_with("/blob")), 0);
    assert_eq!(manifest(&dir), lines);
    // So does one with another data directory: the manifest found in the folder
    // stands in for the journal, once the files hash to it.
    let other = tempfile::tempdir().unwrap();
    let r = report(remote(&a, other.path()), &["export", d]);
    assert_eq!(
        (r["fetched"].as_u64(), r["unchanged"].as_u64()),
        (Some(0), Some(4)),
        "{r}"
    );
    assert_eq!(count(&a, "GET", |p| p.ends_with("/blob")), 0);
    assert_eq!(manifest(&dir), lines);

    let r = report(remote(&b, data.path()), &["import", d]);
    assert_eq!(r["uploaded"], 4, "{r}");
    assert_eq!(r["new_ids"], 2, "{r}");
    let map = mapping(&dir.join("id-map.jsonl"));
    let generated: BTreeSet<&str> = source
        .keys()
        .filter(|id| !id.contains('/'))
        .map(String::as_str)
        .collect();
    assert_eq!(
        map.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        generated
    );
    let target = rt.block_on(images(&cb));
    assert_eq!(target.len(), 4, "no drafts, no extra images");
    for (old, image) in &source {
        let new = map.get(old).unwrap_or(old);
        assert_ne!(map.get(old), Some(old));
        let copy = &target[new];
        assert_eq!(fields(copy), fields(image), "{old} -> {new}");
        assert_eq!(
            rt.block_on(blob(&cb, new)),
            sent[old],
            "{old}: the same bytes"
        );
    }

    // A rerun uploads nothing and sends no write.
    b.clear_requests();
    let r = report(remote(&b, data.path()), &["import", d]);
    assert_eq!(
        (r["uploaded"].as_u64(), r["already_done"].as_u64()),
        (Some(0), Some(4)),
        "{r}"
    );
    assert!(
        b.requests().iter().all(|r| r.method == "GET"),
        "{:?}",
        b.requests()
    );
    assert_eq!(mapping(&dir.join("id-map.jsonl")), map);
}

#[test]
fn altered_files_are_fetched_again_and_refused_by_import() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (a, b) = rt.block_on(async {
        (
            Emulator::start().await.unwrap(),
            Emulator::start().await.unwrap(),
        )
    });
    rt.block_on(async {
        for i in 0..6u8 {
            a.seed_image(
                SeedImage::new(png(2, 2, [i * 40, 0, 0]))
                    .id(format!("img/{i}"))
                    .filename(format!("{i}.png")),
            )
            .await
            .unwrap();
        }
    });
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let d = out.path().to_str().unwrap();
    report(remote(&a, data.path()), &["export", d]);
    let lines = manifest(out.path());
    let path = |i: usize| out.path().join(lines[i]["path"].as_str().unwrap());
    let originals: Vec<Vec<u8>> = (0..6).map(|i| std::fs::read(path(i)).unwrap()).collect();
    // Corrupted in place (same length), cut short, removed, and a temporary
    // file as a killed run leaves it.
    let mut bad = originals[0].clone();
    bad[20] ^= 0xff;
    std::fs::write(path(0), &bad).unwrap();
    std::fs::write(path(1), &originals[1][..10]).unwrap();
    std::fs::remove_file(path(2)).unwrap();

    // Import checks every file against the manifest before sending it.
    let r = run(remote(&b, data.path()), &["import", d, "--json", "-q"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["uploaded"], 3, "{v}");
    let failed: BTreeSet<&str> = v["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = (0..3).map(|i| lines[i]["id"].as_str().unwrap()).collect();
    assert_eq!(failed, expected);
    let messages: Vec<&str> = v["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["error"]["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.contains("does not match the manifest"))
            .count(),
        2,
        "{v}"
    );
    assert_eq!(b.image_count(), 3, "nothing sent for the altered files");

    a.clear_requests();
    let r = report(remote(&a, data.path()), &["export", d]);
    assert_eq!(
        (r["fetched"].as_u64(), r["unchanged"].as_u64()),
        (Some(3), Some(3)),
        "{r}"
    );
    assert_eq!(count(&a, "GET", |p| p.ends_with("/blob")), 3);
    for (i, original) in originals.iter().enumerate() {
        assert_eq!(&std::fs::read(path(i)).unwrap(), original, "{i}");
    }
    assert_eq!(manifest(out.path()), lines);

    // The import's rerun sends only the three it could not send.
    let r = report(remote(&b, data.path()), &["import", d]);
    assert_eq!(
        (r["uploaded"].as_u64(), r["already_done"].as_u64()),
        (Some(3), Some(3)),
        "{r}"
    );
    assert_eq!(b.image_count(), 6);
}

#[test]
fn killed_export_and_import_resume_without_loss_or_duplicates() {
    const GENERATED: usize = 90;
    const CUSTOM: usize = 30;
    const TOTAL: usize = GENERATED + CUSTOM;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (a, b) = rt.block_on(async {
        (
            Emulator::start().await.unwrap(),
            Emulator::start().await.unwrap(),
        )
    });
    rt.block_on(async {
        a.seed_images(GENERATED).await;
        for i in 0..CUSTOM {
            a.seed_image(
                SeedImage::new(png(1, 1 + i as u32, [1, 2, 3]))
                    .id(format!("custom/{i:03}"))
                    .filename(format!("c{i}.png")),
            )
            .await
            .unwrap();
        }
    });
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let d = out.path().to_str().unwrap();

    // Export, killed midway.
    a.faults().set_latency(Duration::from_millis(20));
    let at_kill = start_and_kill(
        remote(&a, data.path()),
        &["export", d, "-j", "4", "-q"],
        30,
        || files_under(&out.path().join("originals"), ".png").len(),
    );
    eprintln!("export killed with {at_kill} originals in place");
    a.faults().set_latency(Duration::ZERO);
    a.clear_requests();
    let r = report(remote(&a, data.path()), &["export", d, "-j", "4"]);
    let fetched = r["fetched"].as_u64().unwrap() as usize;
    assert_eq!(
        fetched + r["unchanged"].as_u64().unwrap() as usize,
        TOTAL,
        "{r}"
    );
    // Only originals in flight at the kill are fetched twice.
    assert!(
        fetched <= TOTAL - at_kill + 4,
        "{fetched} fetched after {at_kill}"
    );
    assert_eq!(count(&a, "GET", |p| p.ends_with("/blob")), fetched);
    let lines = manifest(out.path());
    assert_eq!(lines.len(), TOTAL);
    for line in &lines {
        let bytes = std::fs::read(out.path().join(line["path"].as_str().unwrap())).unwrap();
        assert_eq!(line["sha256"], sha256(&bytes));
    }
    assert!(
        files_under(out.path(), ".part").is_empty(),
        "temporary files left"
    );

    // Import, killed midway.
    b.faults().set_latency(Duration::from_millis(20));
    let at_kill = start_and_kill(
        remote(&b, data.path()),
        &["import", d, "-j", "4", "-q"],
        30,
        || b.image_count(),
    );
    eprintln!("import killed with {at_kill} images stored");
    b.faults().set_latency(Duration::ZERO);
    b.clear_requests();
    let r = report(remote(&b, data.path()), &["import", d, "-j", "4"]);
    let uploaded = r["uploaded"].as_u64().unwrap() as usize;
    let found = r["found"].as_u64().unwrap() as usize;
    let done = r["already_done"].as_u64().unwrap() as usize;
    assert_eq!(uploaded + found + done, TOTAL, "{r}");
    assert!(found <= 4, "{r}");
    // Every image stored once: the custom ids as they were, the generated ones
    // under new ids, one each.
    assert_eq!(b.image_count(), TOTAL);
    let map = mapping(&out.path().join("id-map.jsonl"));
    assert_eq!(map.len(), GENERATED);
    let target = rt.block_on(images(&client(&b)));
    let stored: BTreeSet<&str> = target
        .values()
        .filter(|i| i.draft != Some(true))
        .map(|i| i.id.as_deref().unwrap())
        .collect();
    let expected: BTreeSet<&str> = lines
        .iter()
        .map(|l| {
            let id = l["id"].as_str().unwrap();
            map.get(id).map_or(id, String::as_str)
        })
        .collect();
    assert_eq!(stored, expected);
    // The rerun sent each remaining file once (under its custom id, or to a
    // one-time URL); of what the killed run had sent, only uploads under custom
    // ids in flight at the kill were sent again (and recognised as stored).
    let sent = count(&b, "POST", |p| {
        p.ends_with("/images/v1") || p.starts_with("/upload/")
    });
    assert!(
        sent >= uploaded && sent <= uploaded + found,
        "{sent} sent; {r}"
    );

    let r = report(remote(&b, data.path()), &["import", d]);
    assert_eq!(
        (r["uploaded"].as_u64(), r["already_done"].as_u64()),
        (Some(0), Some(TOTAL as u64)),
        "{r}"
    );
}

#[test]
fn import_of_a_folder_without_a_manifest_is_a_usage_error() {
    let data = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let r = run(
        local(data.path()),
        &["import", empty.path().to_str().unwrap()],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("manifest.jsonl"), "{}", r.stderr);
    std::fs::write(empty.path().join("manifest.jsonl"), "{\"id\":\"x\"}\n").unwrap();
    let r = run(
        local(data.path()),
        &["import", empty.path().to_str().unwrap()],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("line 1"), "{}", r.stderr);
}

/// Export and import at the limit in force meet no 429: both emulators enforce
/// Cloudflare's global limit with windows scaled to 3 s, cfimg paces to the
/// same, and each run sends more requests than one window allows. Counts, no
/// timing.
#[test]
fn export_and_import_at_the_global_limit_meet_no_429() {
    const N: usize = 1300;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let limited = || cloudflare_images_emulator::Config {
        rate_limits: true,
        rate_limit_scale: 0.01,
        ..Default::default()
    };
    let (a, b) = rt.block_on(async {
        (
            Emulator::start_with(limited()).await.unwrap(),
            Emulator::start_with(limited()).await.unwrap(),
        )
    });
    rt.block_on(a.seed_images(N));
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let d = out.path().to_str().unwrap();
    let pace = ["--api-rate", "1200/3s", "-j", "32"];
    let mut args = vec!["export", d];
    args.extend(pace);
    let r = report(remote(&a, data.path()), &args);
    eprintln!("export: {} ms", r["elapsed_ms"]);
    assert_eq!(r["fetched"], N, "{r}");
    assert_eq!(a.rate_limited_count(), 0);
    let mut args = vec!["import", d];
    args.extend(pace);
    let r = report(remote(&b, data.path()), &args);
    eprintln!("import: {} ms", r["elapsed_ms"]);
    assert_eq!(r["uploaded"], N, "{r}");
    assert_eq!(b.rate_limited_count(), 0);
    assert_eq!(b.image_count(), N);
}
