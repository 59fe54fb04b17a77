//! `cfimg keys rotate`: a new key signs at once, URLs signed with the old key
//! keep verifying against the emulator's delivery until the rerun after the
//! grace period deletes it, a rerun before then changes nothing, and a rotation
//! whose new key went missing (a process killed in between) is completed.

use crate::common::*;
use std::path::Path;
use std::time::Duration;

use cloudflare_images::delivery::{verify_signed_url, SigningKey, VerifyError};
use cloudflare_images_emulator::{Emulator, EmulatorHandle, SeedImage};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The account's keys as signing keys, by name.
fn key(emulator: &EmulatorHandle, name: &str) -> SigningKey {
    let (_, value) = emulator
        .signing_keys()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no key {name}"));
    SigningKey::new(value).unwrap().with_name(name)
}

fn key_names(emulator: &EmulatorHandle) -> Vec<String> {
    let mut names: Vec<String> = emulator
        .signing_keys()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    names.sort();
    names
}

fn sign(emulator: &EmulatorHandle, data: &Path, id: &str) -> String {
    let r = ok(
        remote(emulator, data),
        &["sign", id, "--json", "--expires-in", "1h"],
    );
    json(&r.stdout)["url"].as_str().expect("url").to_string()
}

fn status(runtime: &tokio::runtime::Runtime, url: &str) -> u16 {
    runtime
        .block_on(reqwest::get(url))
        .expect("delivery answers")
        .status()
        .as_u16()
}

fn verifies(url: &str, keys: &[SigningKey]) -> Result<(), VerifyError> {
    verify_signed_url(url, keys, chrono::Utc::now())
}

#[test]
fn old_signatures_verify_until_the_old_key_is_deleted() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime.block_on(Emulator::start()).unwrap();
    let id = runtime
        .block_on(emulator.seed_image(SeedImage::new(PIXEL_PNG.to_vec()).require_signed_urls(true)))
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    assert_eq!(key_names(&emulator), ["default"]);
    let old = key(&emulator, "default");

    let old_url = sign(&emulator, d, &id);
    assert_eq!(verifies(&old_url, std::slice::from_ref(&old)), Ok(()));
    assert_eq!(status(&runtime, &old_url), 200);
    let unsigned = old_url.split('?').next().unwrap().to_string();
    assert_eq!(status(&runtime, &unsigned), 403);

    // Starting needs a grace period.
    let r = run(remote(&emulator, d), &["keys", "rotate"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--grace"), "{}", r.stderr);
    assert_eq!(key_names(&emulator), ["default"]);

    let r = ok(
        remote(&emulator, d),
        &["keys", "rotate", "--grace", "3s", "--json"],
    );
    let started = json(&r.stdout);
    assert_eq!(started["state"], "started");
    assert_eq!(started["old_key"], "default");
    let new_name = started["new_key"].as_str().unwrap().to_string();
    assert!(
        new_name.len() == 15
            && new_name.starts_with('k')
            && new_name[1..].bytes().all(|b| b.is_ascii_digit()),
        "{new_name}"
    );
    assert!(!r.stdout.contains(old.secret().expose()));
    let mut both = vec!["default".to_string(), new_name.clone()];
    both.sort();
    assert_eq!(key_names(&emulator), both);
    let new = key(&emulator, &new_name);

    // New signatures use the new key; the old URL still works.
    let new_url = sign(&emulator, d, &id);
    assert_eq!(verifies(&new_url, std::slice::from_ref(&new)), Ok(()));
    assert_eq!(
        verifies(&new_url, std::slice::from_ref(&old)),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(status(&runtime, &new_url), 200);
    assert_eq!(status(&runtime, &old_url), 200);

    // A rerun within the grace period changes nothing and says when.
    let r = ok(remote(&emulator, d), &["keys", "rotate"]);
    assert!(r.stdout.contains("nothing changed"), "{}", r.stdout);
    assert!(r.stdout.contains(" UTC"), "{}", r.stdout);
    let r = ok(remote(&emulator, d), &["keys", "rotate", "--json"]);
    assert_eq!(json(&r.stdout)["state"], "waiting");
    assert_eq!(key_names(&emulator), both);
    assert_eq!(status(&runtime, &old_url), 200);

    // After it, the old key goes and its URLs stop working.
    let retire = started["retire_after_unix"].as_i64().unwrap();
    while chrono::Utc::now().timestamp() < retire {
        std::thread::sleep(Duration::from_millis(200));
    }
    let r = ok(remote(&emulator, d), &["keys", "rotate", "--json"]);
    assert_eq!(json(&r.stdout)["state"], "finished");
    assert_eq!(key_names(&emulator), std::slice::from_ref(&new_name));
    assert_eq!(status(&runtime, &old_url), 403);
    assert_eq!(status(&runtime, &new_url), 200);
    let again = sign(&emulator, d, &id);
    assert_eq!(verifies(&again, std::slice::from_ref(&new)), Ok(()));

    // Rerunning once more is harmless.
    let r = ok(remote(&emulator, d), &["keys", "rotate"]);
    assert!(r.stdout.contains("no rotation under way"), "{}", r.stdout);
    assert_eq!(key_names(&emulator), [new_name]);
    runtime.block_on(emulator.shutdown());
}

#[test]
fn a_rotation_whose_new_key_is_missing_is_completed_by_a_rerun() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime.block_on(Emulator::start()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    ok(remote(&emulator, d), &["keys", "create", "spare"]);
    let r = ok(
        remote(&emulator, d),
        &[
            "keys", "rotate", "--grace", "1h", "--new", "spring", "--old", "spare", "--json",
        ],
    );
    assert_eq!(json(&r.stdout)["old_key"], "spare");
    // As if the process had died after recording the rotation, before the key existed.
    ok(remote(&emulator, d), &["keys", "delete", "spring"]);
    assert_eq!(key_names(&emulator), ["default", "spare"]);
    let r = ok(remote(&emulator, d), &["keys", "rotate", "--json"]);
    assert_eq!(json(&r.stdout)["state"], "started");
    assert_eq!(key_names(&emulator), ["default", "spare", "spring"]);
    // The key, once there, is never replaced (a PUT would change its value).
    let value = key(&emulator, "spring").secret().expose().to_string();
    let r = ok(remote(&emulator, d), &["keys", "rotate", "--json"]);
    assert_eq!(json(&r.stdout)["state"], "waiting");
    assert_eq!(key(&emulator, "spring").secret().expose(), value);

    // Bad names are refused, and no key is created.
    let other = tempfile::tempdir().unwrap();
    let r = run(
        remote(&emulator, other.path()),
        &["keys", "rotate", "--grace", "1h", "--new", "no-dash"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("letters or digits"), "{}", r.stderr);
    let r = run(
        remote(&emulator, other.path()),
        &["keys", "rotate", "--grace", "1h", "--old", "nosuch"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("nosuch"), "{}", r.stderr);
    assert_eq!(key_names(&emulator), ["default", "spare", "spring"]);
    runtime.block_on(emulator.shutdown());
}
