//! Every API operation's success and error paths, direct uploads and delivery.

use crate::common::*;
use cloudflare_images_emulator::Config;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

// ----------------------------------------------------------------------------------------------
// Auth, routing, envelope

#[tokio::test]
async fn auth_is_required_and_checked() {
    let ctx = Ctx::new().await;
    let url = ctx.url("v1/stats");
    Ctx::raw(ctx.http.get(&url)).await.assert_error(401, 10000);
    Ctx::raw(ctx.http.get(&url).bearer_auth("wrong"))
        .await
        .assert_error(403, 10000);
    Ctx::raw(ctx.http.get(&url).header("Authorization", "Bearer "))
        .await
        .assert_error(401, 10000);
    Ctx::raw(ctx.http.get(&url).header("X-Auth-Email", "a@example.com"))
        .await
        .assert_error(401, 10000);
    Ctx::raw(
        ctx.http
            .get(&url)
            .header("X-Auth-Email", "a@example.com")
            .header("X-Auth-Key", "k"),
    )
    .await
    .assert_ok();
    ctx.get("v1/stats").await.assert_ok();
    // Unknown account.
    let other = format!("{}/accounts/nope/images/v1/stats", ctx.emu.base_url());
    ctx.send(ctx.http.get(other)).await.assert_error(403, 10000);
    // Unknown route and method.
    ctx.get("v9").await.assert_error(404, 7003);
    ctx.send(ctx.http.put(ctx.url("v1/stats")))
        .await
        .assert_error(405, 10405);
}

#[test]
fn config_debug_hides_the_token() {
    let config = Config {
        api_token: Some("s3cret".into()),
        ..Config::default()
    };
    let text = format!("{config:?}");
    assert!(!text.contains("s3cret"));
    assert!(text.contains("023e105f4ecef8ad9ca31a8372d0c353"));
}

#[tokio::test]
async fn any_token_is_accepted_without_configured_token() {
    let ctx = Ctx::with(Config::default()).await;
    Ctx::raw(ctx.http.get(ctx.url("v1/stats")).bearer_auth("anything"))
        .await
        .assert_ok();
    Ctx::raw(ctx.http.get(ctx.url("v1/stats")))
        .await
        .assert_error(401, 10000);
}

// ----------------------------------------------------------------------------------------------
// Upload

#[tokio::test]
async fn upload_file_then_get_and_blob() {
    let ctx = Ctx::new().await;
    let image = ctx
        .upload_png(&[
            ("metadata", r#"{"owner":"me","n":3}"#),
            ("creator", "user-1"),
            ("requireSignedURLs", "true"),
        ])
        .await;
    let id = image["id"].as_str().expect("id").to_owned();
    let parsed = uuid::Uuid::parse_str(&id).expect("generated ids are UUIDs");
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(image["filename"], "pic.png");
    assert_eq!(image["creator"], "user-1");
    assert_eq!(image["requireSignedURLs"], true);
    assert_eq!(image["meta"], json!({"owner": "me", "n": 3}));
    assert!(image.get("draft").is_none());
    chrono::DateTime::parse_from_rfc3339(image["uploaded"].as_str().expect("uploaded"))
        .expect("RFC 3339");
    assert_eq!(
        image["variants"],
        json!([format!(
            "{}/{}/{id}/public",
            ctx.emu.origin(),
            ctx.emu.account_hash()
        )])
    );
    assert_eq!(ctx.emu.image_count(), 1);

    let got = ctx.get(&format!("v1/{id}")).await;
    assert_eq!(got.assert_ok(), &image);

    let blob = ctx
        .http
        .get(ctx.url(&format!("v1/{id}/blob")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("blob");
    assert_eq!(blob.status(), 200);
    assert_eq!(blob.headers()["content-type"], "image/png");
    assert_eq!(blob.bytes().await.expect("bytes").to_vec(), png());

    ctx.get("v1/nope").await.assert_error(404, 5404);
    ctx.get("v1/nope/blob").await.assert_error(404, 5404);
}

#[tokio::test]
async fn upload_accepts_every_supported_format() {
    let ctx = Ctx::new().await;
    let mut heic = b"\0\0\0\x18ftypheic".to_vec();
    heic.extend_from_slice(&[0; 16]);
    let mut avif = b"\0\0\0\x18ftypavif".to_vec();
    avif.extend_from_slice(&[0; 16]);
    let samples: Vec<(&str, Vec<u8>, &str)> = vec![
        ("a.jpg", vec![0xff, 0xd8, 0xff, 0xe0, 0, 0x10], "image/jpeg"),
        ("a.gif", b"GIF89a\x01\x00\x01\x00".to_vec(), "image/gif"),
        ("a.webp", b"RIFF\x10\0\0\0WEBPVP8 ".to_vec(), "image/webp"),
        (
            "a.svg",
            b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
            "image/svg+xml",
        ),
        ("b.svg", b"<svg/>".to_vec(), "image/svg+xml"),
        ("a.heic", heic, "image/heic"),
        ("a.avif", avif, "image/avif"),
    ];
    for (name, bytes, mime) in samples {
        let answer = ctx.upload(file_form(bytes.clone(), name)).await;
        let id = answer.assert_ok()["id"].as_str().expect("id").to_owned();
        let blob = ctx
            .http
            .get(ctx.url(&format!("v1/{id}/blob")))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("blob");
        assert_eq!(blob.headers()["content-type"], mime, "{name}");
        assert_eq!(blob.bytes().await.expect("bytes").to_vec(), bytes);
    }
}

#[tokio::test]
async fn upload_rejects_bad_requests() {
    let ctx = Ctx::new().await;
    // Neither file nor url; both.
    ctx.upload(Form::new().text("creator", "x"))
        .await
        .assert_error(400, 5400);
    ctx.upload(file_form(png(), "a.png").text("url", "http://127.0.0.1:1/a.png"))
        .await
        .assert_error(400, 5400);
    // Not multipart.
    ctx.post_json("v1", json!({"url": "http://127.0.0.1/a.png"}))
        .await
        .assert_error(415, 5415);
    // Metadata: not JSON, not an object, too big.
    for bad in ["{not json", "[1,2]", "\"text\""] {
        ctx.upload(file_form(png(), "a.png").text("metadata", bad))
            .await
            .assert_error(400, 5400);
    }
    let big = format!(r#"{{"k":"{}"}}"#, "x".repeat(1020));
    ctx.upload(file_form(png(), "a.png").text("metadata", big))
        .await
        .assert_error(400, 5400);
    // Bad requireSignedURLs.
    ctx.upload(file_form(png(), "a.png").text("requireSignedURLs", "maybe"))
        .await
        .assert_error(400, 5400);
    // Custom ids.
    for bad in [
        "/leading".to_owned(),
        "trailing/".to_owned(),
        "x".repeat(1025),
        uuid::Uuid::new_v4().to_string(),
    ] {
        ctx.upload(file_form(png(), "a.png").text("id", bad))
            .await
            .assert_error(400, 5400);
    }
    ctx.upload(
        file_form(png(), "a.png")
            .text("id", "custom")
            .text("requireSignedURLs", "true"),
    )
    .await
    .assert_error(400, 5400);
    // Longest custom id is fine; a duplicate is a conflict.
    let long = "y".repeat(1024);
    ctx.upload(file_form(png(), "a.png").text("id", long.clone()))
        .await
        .assert_ok();
    ctx.upload(file_form(png(), "a.png").text("id", long))
        .await
        .assert_error(409, 5409);
    // Nothing but the one successful upload was stored.
    assert_eq!(ctx.emu.image_count(), 1);
}

#[tokio::test]
async fn upload_checks_magic_bytes() {
    let ctx = Ctx::new().await;
    ctx.upload(file_form(b"hello, world".to_vec(), "a.png"))
        .await
        .assert_error(415, 9422);
    ctx.upload(file_form(Vec::new(), "empty.png"))
        .await
        .assert_error(415, 9422);
    let answer = ctx
        .upload(file_form(b"%PDF-1.7 ...".to_vec(), "a.pdf"))
        .await;
    answer.assert_error(415, 5455);
    ctx.upload(file_form(b"II*\0\x08\0\0\0".to_vec(), "a.tiff"))
        .await
        .assert_error(415, 5455);
    let decode = ctx.upload(file_form(b"GIF00".to_vec(), "a.gif")).await;
    assert_eq!(
        decode.json["errors"][0]["message"],
        "ERROR 9422: Decode error: image failed to be decoded"
    );
    assert_eq!(ctx.emu.image_count(), 0);
}

#[tokio::test]
async fn upload_enforces_ten_megabytes() {
    let ctx = Ctx::new().await;
    let limit = 10 * 1024 * 1024;
    let mut exact = png();
    exact.resize(limit, 0);
    ctx.upload(file_form(exact, "exact.png")).await.assert_ok();
    let mut over = png();
    over.resize(limit + 1, 0);
    ctx.upload(file_form(over, "over.png"))
        .await
        .assert_error(413, 5413);
    assert_eq!(ctx.emu.image_count(), 1);
}

#[tokio::test]
async fn custom_ids_with_slashes() {
    let ctx = Ctx::new().await;
    let id = "shop/products/shoe 1.png";
    let image = ctx.upload_png(&[("id", id)]).await;
    assert_eq!(image["id"], id);
    // Encoded and unencoded slashes both work.
    ctx.get(&format!("v1/{}", enc(id))).await.assert_ok();
    ctx.get("v1/shop/products/shoe%201.png").await.assert_ok();
    for path in [
        format!("v1/{}/blob", enc(id)),
        "v1/shop/products/shoe%201.png/blob".to_owned(),
    ] {
        let resp = ctx
            .http
            .get(ctx.url(&path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("blob");
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.bytes().await.expect("bytes").to_vec(), png());
    }
    // An id that itself ends in "/blob" is reachable when encoded.
    ctx.upload_png(&[("id", "x/blob")]).await;
    let got = ctx.get(&format!("v1/{}", enc("x/blob"))).await;
    assert_eq!(got.assert_ok()["id"], "x/blob");
    ctx.get("v1/x/blob").await.assert_error(404, 5404); // blob of "x", which does not exist
                                                        // Patch, deliver, delete.
    let patched = ctx
        .patch(&format!("v1/{}", enc(id)), json!({"creator": "c"}))
        .await;
    assert_eq!(patched.assert_ok()["creator"], "c");
    let delivered = ctx
        .deliver(&format!(
            "/{}/{}/public",
            ctx.emu.account_hash(),
            enc(id).replace("%2F", "/")
        ))
        .await;
    assert_eq!(delivered.status(), 200);
    ctx.delete(&format!("v1/{}", enc(id))).await.assert_ok();
    ctx.get(&format!("v1/{}", enc(id)))
        .await
        .assert_error(404, 5404);
}

#[tokio::test]
async fn upload_from_loopback_url() {
    let ctx = Ctx::new().await;
    let source = ctx.upload_png(&[]).await;
    let url = format!(
        "{}/{}/{}/public",
        ctx.emu.origin(),
        ctx.emu.account_hash(),
        source["id"].as_str().expect("id")
    );
    let answer = ctx.upload(Form::new().text("url", url.clone())).await;
    let image = answer.assert_ok();
    assert_eq!(image["filename"], "public");
    let localhost = url.replace("127.0.0.1", "localhost");
    ctx.upload(
        Form::new()
            .text("url", localhost)
            .text("id", "from-url")
            .text("metadata", r#"{"via":"url"}"#),
    )
    .await
    .assert_ok();
    assert_eq!(ctx.emu.image_count(), 3);
    // Only loopback http URLs are fetched.
    for refused in [
        "https://127.0.0.1/a.png",
        "http://example.com/a.png",
        "http://10.0.0.1/a.png",
        "ftp://127.0.0.1/a.png",
        "http://user@127.0.0.1/a.png",
    ] {
        ctx.upload(Form::new().text("url", refused))
            .await
            .assert_error(400, 5400);
    }
    // A loopback URL that answers 404, or that is not an image.
    let missing = format!(
        "{}/{}/nope/public",
        ctx.emu.origin(),
        ctx.emu.account_hash()
    );
    ctx.upload(Form::new().text("url", missing))
        .await
        .assert_error(400, 5400);
    let not_image = format!("{}/v1/stats", ctx.api);
    ctx.upload(Form::new().text("url", not_image))
        .await
        .assert_error(400, 5400);
    assert_eq!(ctx.emu.image_count(), 3);
}

// ----------------------------------------------------------------------------------------------
// Get / patch / delete

#[tokio::test]
async fn patch_changes_only_given_fields() {
    let ctx = Ctx::new().await;
    let image = ctx
        .upload_png(&[("metadata", r#"{"a":1}"#), ("creator", "c1")])
        .await;
    let id = image["id"].as_str().expect("id");
    let path = format!("v1/{id}");
    let after = ctx.patch(&path, json!({"requireSignedURLs": true})).await;
    let after = after.assert_ok();
    assert_eq!(after["requireSignedURLs"], true);
    assert_eq!(after["meta"], json!({"a": 1}));
    assert_eq!(after["creator"], "c1");
    let after = ctx.patch(&path, json!({"metadata": {"b": 2}})).await;
    let after = after.assert_ok();
    assert_eq!(after["meta"], json!({"b": 2}));
    assert_eq!(after["requireSignedURLs"], true);
    assert_eq!(after["creator"], "c1");
    let after = ctx.patch(&path, json!({"creator": "c2"})).await;
    assert_eq!(after.assert_ok()["creator"], "c2");
    assert_eq!(ctx.get(&path).await.assert_ok()["creator"], "c2");
    // Errors.
    ctx.patch(&path, json!({"metadata": "x"}))
        .await
        .assert_error(400, 5400);
    ctx.patch(&path, json!({"requireSignedURLs": "yes"}))
        .await
        .assert_error(400, 5400);
    ctx.send(ctx.http.patch(ctx.url(&path)).body("not json"))
        .await
        .assert_error(400, 5400);
    ctx.patch("v1/unknown", json!({"creator": "x"}))
        .await
        .assert_error(404, 5404);
    ctx.upload_png(&[("id", "custom")]).await;
    ctx.patch("v1/custom", json!({"requireSignedURLs": true}))
        .await
        .assert_error(400, 5400);
}

#[tokio::test]
async fn delete_image() {
    let ctx = Ctx::new().await;
    let image = ctx.upload_png(&[]).await;
    let path = format!("v1/{}", image["id"].as_str().expect("id"));
    // Cloudflare's spec declares a JSON body on DELETE; it is accepted and ignored.
    let answer = ctx
        .send(ctx.http.delete(ctx.url(&path)).json(&json!({})))
        .await;
    assert_eq!(answer.assert_ok(), &json!({}));
    ctx.get(&path).await.assert_error(404, 5404);
    ctx.delete(&path).await.assert_error(404, 5404);
    assert_eq!(ctx.emu.image_count(), 0);
}

// ----------------------------------------------------------------------------------------------
// Listing (small; the 25,000-image runs are in pagination.rs)

#[tokio::test]
async fn list_v1_pages_and_creator() {
    let ctx = Ctx::new().await;
    let mut all = Vec::new();
    for i in 0..5 {
        let creator = if i % 2 == 0 { "even" } else { "odd" };
        let image = ctx
            .upload_png(&[("id", &format!("img{i}")), ("creator", creator)])
            .await;
        all.push(image["id"].as_str().expect("id").to_owned());
    }
    ctx.upload_png(&[("id", "nocreator")]).await;
    all.push("nocreator".into());
    assert_eq!(listed_ids(ctx.get("v1").await.assert_ok()), all);
    assert_eq!(
        listed_ids(ctx.get("v1?page=2&per_page=2").await.assert_ok()),
        all[2..4]
    );
    assert!(listed_ids(ctx.get("v1?page=9&per_page=2").await.assert_ok()).is_empty());
    assert_eq!(
        listed_ids(ctx.get("v1?creator=even").await.assert_ok()),
        ["img0", "img2", "img4"]
    );
    assert_eq!(
        listed_ids(ctx.get("v1?creator=").await.assert_ok()),
        ["nocreator"]
    );
    for bad in [
        "v1?page=0",
        "v1?per_page=0",
        "v1?per_page=10001",
        "v1?page=x",
    ] {
        ctx.get(bad).await.assert_error(400, 5400);
    }
}

#[tokio::test]
async fn list_v2_sorting_tokens_and_filters() {
    let ctx = Ctx::new().await;
    let metas = [
        r#"{"kind":"cat","size":1,"ok":true,"nested":{"deep":"x"}}"#,
        r#"{"kind":"dog","size":5,"ok":false,"nested":{"deep":"y"}}"#,
        r#"{"kind":"cat","size":10,"ok":true,"nested":{"deep":"y"}}"#,
        r#"{"kind":"7","size":"10"}"#,
    ];
    for (i, meta) in metas.iter().enumerate() {
        ctx.upload_png(&[("id", &format!("m{i}")), ("metadata", meta)])
            .await;
    }
    let page = ctx.get("v2").await;
    let result = page.assert_ok();
    assert_eq!(listed_ids(result), ["m3", "m2", "m1", "m0"]);
    assert_eq!(result["continuation_token"], Value::Null);
    assert_eq!(
        listed_ids(ctx.get("v2?sort_order=asc").await.assert_ok()),
        ["m0", "m1", "m2", "m3"]
    );
    let cases: &[(&str, &[&str])] = &[
        ("meta.kind=cat", &["m0", "m2"]),
        ("meta.kind[eq]=cat", &["m0", "m2"]),
        ("meta.kind[eq:string]=7", &["m3"]),
        ("meta.size[eq]=10", &["m2", "m3"]),
        ("meta.size[eq:number]=10", &["m2"]),
        ("meta.size[gt]=1", &["m1", "m2"]),
        ("meta.size[gte:number]=1", &["m0", "m1", "m2"]),
        ("meta.size[lt]=10", &["m0", "m1"]),
        ("meta.size[lte]=5", &["m0", "m1"]),
        ("meta.ok[eq:boolean]=true", &["m0", "m2"]),
        ("meta.kind[in]=dog|7", &["m1", "m3"]),
        ("meta.size[in:number]=1|5", &["m0", "m1"]),
        ("meta.nested.deep=y", &["m1", "m2"]),
        ("meta.nested.deep=y&meta.kind=cat", &["m2"]),
        ("meta.missing=1", &[]),
        ("meta.kind%5Beq%5D=cat", &["m0", "m2"]),
    ];
    for (query, expected) in cases {
        let answer = ctx.get(&format!("v2?sort_order=asc&{query}")).await;
        assert_eq!(&listed_ids(answer.assert_ok()), expected, "{query}");
    }
    for bad in [
        "v2?per_page=9",
        "v2?per_page=10001",
        "v2?sort_order=up",
        "v2?continuation_token=garbage",
        "v2?meta.size[gt]=big",
        "v2?meta.size[eq:number]=x",
        "v2?meta.ok[eq:boolean]=yes",
        "v2?meta.a[like]=x",
        "v2?meta.a.b.c.d.e.f=1",
        "v2?meta.a=1&meta.b=1&meta.c=1&meta.d=1&meta.e=1&meta.f=1",
    ] {
        ctx.get(bad).await.assert_error(400, 5400);
    }
    ctx.get("v2?meta.a=1&meta.b=1&meta.c=1&meta.d=1&meta.e=1")
        .await
        .assert_ok();
}

#[tokio::test]
async fn list_v2_continuation_tokens() {
    let ctx = Ctx::new().await;
    let seeded = ctx.emu.seed_images(25).await;
    let first = ctx.get("v2?per_page=10").await;
    let result = first.assert_ok();
    let token = result["continuation_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let expected: Vec<String> = seeded.iter().rev().cloned().collect();
    assert_eq!(listed_ids(result), expected[..10]);
    let second = ctx
        .get(&format!("v2?per_page=10&continuation_token={token}"))
        .await;
    assert_eq!(listed_ids(second.assert_ok()), expected[10..20]);
    // A desc token is refused with asc.
    ctx.get(&format!("v2?sort_order=asc&continuation_token={token}"))
        .await
        .assert_error(400, 5400);
    // A tampered token is refused.
    let mut tampered = token.clone();
    tampered.replace_range(0..2, "00");
    ctx.get(&format!("v2?continuation_token={tampered}"))
        .await
        .assert_error(400, 5400);
}

// ----------------------------------------------------------------------------------------------
// Keys and stats

fn key_names(result: &Value) -> Vec<String> {
    result["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["name"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test]
async fn signing_keys() {
    let ctx = Ctx::new().await;
    let list = ctx.get("v1/keys").await;
    let result = list.assert_ok();
    assert_eq!(key_names(result), ["default"]);
    let default_value = result["keys"][0]["value"]
        .as_str()
        .expect("value")
        .to_owned();
    assert!(default_value.len() >= 32);

    let put = ctx.send(ctx.http.put(ctx.url("v1/keys/second"))).await;
    assert_eq!(key_names(put.assert_ok()), ["default", "second"]);
    let value = put.result()["keys"][1]["value"].clone();
    let again = ctx.send(ctx.http.put(ctx.url("v1/keys/second"))).await;
    assert_ne!(
        again.assert_ok()["keys"][1]["value"],
        value,
        "PUT regenerates"
    );
    assert_eq!(ctx.emu.signing_keys().len(), 2);

    for bad in [
        "v1/keys/bad-name",
        "v1/keys/%20",
        &format!("v1/keys/{}", "k".repeat(21)),
    ] {
        ctx.send(ctx.http.put(ctx.url(bad)))
            .await
            .assert_error(400, 5400);
    }
    let del = ctx.delete("v1/keys/default").await;
    assert_eq!(key_names(del.assert_ok()), ["second"]);
    ctx.delete("v1/keys/default").await.assert_error(404, 5404);
    // Deleting the last key regenerates "default" with a new value.
    let del = ctx.delete("v1/keys/second").await;
    let result = del.assert_ok();
    assert_eq!(key_names(result), ["default"]);
    assert_ne!(result["keys"][0]["value"], default_value.as_str());
}

#[tokio::test]
async fn stats_count_images() {
    let ctx = Ctx::new().await;
    let stats = ctx.get("v1/stats").await;
    assert_eq!(
        stats.assert_ok(),
        &json!({"count": {"current": 0, "allowed": 100000}})
    );
    ctx.upload_png(&[]).await;
    ctx.upload_png(&[]).await;
    let stats = ctx.get("v1/stats").await;
    assert_eq!(stats.assert_ok()["count"]["current"], 2);
}

// ----------------------------------------------------------------------------------------------
// Variants

#[tokio::test]
async fn variants_crud() {
    let ctx = Ctx::new().await;
    let list = ctx.get("v1/variants").await;
    assert_eq!(
        list.assert_ok(),
        &json!({"variants": {"public": {
            "id": "public",
            "options": {"fit": "scale-down", "metadata": "none", "width": 1366, "height": 768},
            "neverRequireSignedURLs": false
        }}})
    );
    let hero = json!({
        "id": "hero",
        "options": {"fit": "cover", "metadata": "keep", "width": 100, "height": 50},
        "neverRequireSignedURLs": true
    });
    let created = ctx.post_json("v1/variants", hero.clone()).await;
    assert_eq!(created.assert_ok(), &json!({ "variant": hero }));
    ctx.post_json("v1/variants", hero.clone())
        .await
        .assert_error(409, 5409);
    assert_eq!(
        ctx.get("v1/variants/hero").await.assert_ok(),
        &json!({ "variant": hero })
    );
    assert_eq!(ctx.get("v1/variants/hero/flat").await.assert_ok(), &hero);
    // Image objects list one URL per variant.
    let image = ctx.upload_png(&[]).await;
    assert_eq!(image["variants"].as_array().expect("variants").len(), 2);

    let patched = ctx
        .patch(
            "v1/variants/hero",
            json!({"options": {"width": 200}, "neverRequireSignedURLs": false}),
        )
        .await;
    let variant = &patched.assert_ok()["variant"];
    assert_eq!(variant["options"]["width"], 200);
    assert_eq!(variant["options"]["height"], 50);
    assert_eq!(variant["options"]["fit"], "cover");
    assert_eq!(variant["neverRequireSignedURLs"], false);
    ctx.patch("v1/variants/hero", json!({"options": {"fit": "stretch"}}))
        .await
        .assert_error(400, 5400);
    ctx.patch("v1/variants/nope", json!({"options": {"width": 1}}))
        .await
        .assert_error(404, 5401);

    assert_eq!(ctx.delete("v1/variants/hero").await.assert_ok(), &json!({}));
    ctx.get("v1/variants/hero").await.assert_error(404, 5401);
    ctx.get("v1/variants/hero/flat")
        .await
        .assert_error(404, 5401);
    ctx.delete("v1/variants/hero").await.assert_error(404, 5401);
}

#[tokio::test]
async fn variant_validation_and_limit() {
    let ctx = Ctx::new().await;
    let base = json!({"fit": "pad", "metadata": "copyright", "width": 10, "height": 10});
    let with = |id: &str, options: Value| json!({"id": id, "options": options});
    let mut bad_cases = vec![
        with("bad-id", base.clone()),
        with(&"v".repeat(100), base.clone()),
        with("", base.clone()),
        json!({"options": base.clone()}),
        json!({"id": "x"}),
    ];
    for (field, value) in [
        ("fit", json!("stretch")),
        ("metadata", json!("all")),
        ("width", json!(0)),
        ("width", json!(12001)),
        ("height", json!(1.5)),
        ("height", json!("10")),
    ] {
        let mut options = base.clone();
        options[field] = value;
        bad_cases.push(with("x", options));
    }
    let mut missing = base.clone();
    missing.as_object_mut().expect("object").remove("height");
    bad_cases.push(with("x", missing));
    for body in bad_cases {
        let answer = ctx.post_json("v1/variants", body.clone()).await;
        answer.assert_error(400, 5400);
    }
    ctx.send(ctx.http.post(ctx.url("v1/variants")).body("nope"))
        .await
        .assert_error(400, 5400);
    // 100 variants at most ("public" exists already).
    for i in 0..99 {
        ctx.post_json("v1/variants", with(&format!("v{i}"), base.clone()))
            .await
            .assert_ok();
    }
    ctx.post_json("v1/variants", with("onemore", base.clone()))
        .await
        .assert_error(400, 5400);
    let list = ctx.get("v1/variants").await;
    assert_eq!(
        list.assert_ok()["variants"].as_object().expect("map").len(),
        100
    );
}

// ----------------------------------------------------------------------------------------------
// Direct uploads

fn expiry_in(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339()
}

#[tokio::test]
async fn direct_upload_v2_flow() {
    let ctx = Ctx::new().await;
    let form = Form::new()
        .text("metadata", r#"{"k":"v"}"#)
        .text("creator", "c")
        .text("requireSignedURLs", "true")
        .text("expiry", expiry_in(600));
    let answer = ctx
        .send(ctx.http.post(ctx.url("v2/direct_upload")).multipart(form))
        .await;
    let result = answer.assert_ok().clone();
    let id = result["id"].as_str().expect("id").to_owned();
    let upload_url = result["uploadURL"].as_str().expect("uploadURL").to_owned();
    assert_eq!(
        upload_url,
        format!(
            "{}/upload/{}/{id}",
            ctx.emu.origin(),
            ctx.emu.account_hash()
        )
    );
    // The draft exists but holds no file.
    let draft = ctx.get(&format!("v1/{id}")).await;
    let draft = draft.assert_ok();
    assert_eq!(draft["draft"], true);
    assert_eq!(draft["meta"], json!({"k": "v"}));
    assert_eq!(draft["creator"], "c");
    assert_eq!(ctx.emu.image_count(), 0);
    ctx.get(&format!("v1/{id}/blob"))
        .await
        .assert_error(404, 5404);

    // The one-time URL needs no credentials; a bad file is refused without using it up.
    Ctx::raw(
        ctx.http
            .post(&upload_url)
            .multipart(file_form(b"nope".to_vec(), "x.png")),
    )
    .await
    .assert_error(415, 9422);
    Ctx::raw(
        ctx.http
            .post(&upload_url)
            .multipart(Form::new().text("a", "b")),
    )
    .await
    .assert_error(400, 5400);
    let stored = Ctx::raw(
        ctx.http
            .post(&upload_url)
            .multipart(file_form(png(), "up.png")),
    )
    .await;
    let image = stored.assert_ok();
    assert_eq!(image["id"], id.as_str());
    assert_eq!(image["filename"], "up.png");
    assert!(image.get("draft").is_none());
    assert_eq!(ctx.emu.image_count(), 1);
    let got = ctx.get(&format!("v1/{id}")).await;
    assert!(got.assert_ok().get("draft").is_none());
    // Second use is refused.
    Ctx::raw(
        ctx.http
            .post(&upload_url)
            .multipart(file_form(png(), "up.png")),
    )
    .await
    .assert_error(400, 5400);
    // Unknown upload URL.
    let unknown = format!(
        "{}/upload/{}/nope",
        ctx.emu.origin(),
        ctx.emu.account_hash()
    );
    Ctx::raw(ctx.http.post(unknown).multipart(file_form(png(), "up.png")))
        .await
        .assert_error(404, 5404);
}

#[tokio::test]
async fn direct_upload_v2_validation_and_expiry() {
    let ctx = Ctx::new().await;
    let post = |form: Form| ctx.send(ctx.http.post(ctx.url("v2/direct_upload")).multipart(form));
    for bad in [expiry_in(60), expiry_in(7 * 3600), "tomorrow".to_owned()] {
        post(Form::new().text("expiry", bad))
            .await
            .assert_error(400, 5400);
    }
    post(Form::new().text("id", "/bad"))
        .await
        .assert_error(400, 5400);
    post(Form::new().text("metadata", "[]"))
        .await
        .assert_error(400, 5400);
    post(
        Form::new()
            .text("id", "d/1")
            .text("requireSignedURLs", "true"),
    )
    .await
    .assert_error(400, 5400);
    post(
        Form::new()
            .text("id", "d/1")
            .text("expiry", expiry_in(6 * 3600 - 5)),
    )
    .await
    .assert_ok();
    post(Form::new().text("id", "d/1"))
        .await
        .assert_error(409, 5409);
    let default_expiry = post(Form::new().text("creator", "x")).await;
    let id = default_expiry.assert_ok()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // No fields at all (an empty body) is accepted too.
    ctx.send(ctx.http.post(ctx.url("v2/direct_upload")))
        .await
        .assert_ok();
    // An expired URL is refused.
    assert!(ctx.emu.expire_upload_url(&id));
    let url = format!(
        "{}/upload/{}/{id}",
        ctx.emu.origin(),
        ctx.emu.account_hash()
    );
    Ctx::raw(ctx.http.post(url).multipart(file_form(png(), "late.png")))
        .await
        .assert_error(410, 5400);
    // The custom-id draft's URL keeps the slash.
    let url = format!("{}/upload/{}/d/1", ctx.emu.origin(), ctx.emu.account_hash());
    Ctx::raw(ctx.http.post(url).multipart(file_form(png(), "ok.png")))
        .await
        .assert_ok();
}

#[tokio::test]
async fn direct_upload_v1() {
    let ctx = Ctx::new().await;
    let answer = ctx.send(ctx.http.post(ctx.url("v1/direct_upload"))).await;
    let result = answer.assert_ok();
    assert!(result["id"].is_string());
    assert!(result["uploadURL"].is_string());
    let answer = ctx
        .post_json(
            "v1/direct_upload",
            json!({"metadata": {"a": 1}, "requireSignedURLs": true, "expiry": expiry_in(300)}),
        )
        .await;
    let id = answer.assert_ok()["id"].as_str().expect("id").to_owned();
    let draft = ctx.get(&format!("v1/{id}")).await;
    let draft = draft.assert_ok();
    assert_eq!(draft["draft"], true);
    assert_eq!(draft["requireSignedURLs"], true);
    ctx.post_json("v1/direct_upload", json!({"expiry": expiry_in(10)}))
        .await
        .assert_error(400, 5400);
    ctx.post_json("v1/direct_upload", json!({"metadata": 5}))
        .await
        .assert_error(400, 5400);
    ctx.send(ctx.http.post(ctx.url("v1/direct_upload")).body("{"))
        .await
        .assert_error(400, 5400);
}

// ----------------------------------------------------------------------------------------------
// Delivery and signed URLs

#[tokio::test]
async fn delivery_of_public_images() {
    let ctx = Ctx::new().await;
    let image = ctx.upload_png(&[]).await;
    let id = image["id"].as_str().expect("id");
    let hash = ctx.emu.account_hash().to_owned();
    let url = image["variants"][0].as_str().expect("url");
    let resp = ctx.http.get(url).send().await.expect("deliver");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    // Rendered through `public` (scale-down into 1366x768): still the 1x1 PNG.
    assert_png_1x1(&resp.bytes().await.expect("bytes"));
    let head = ctx.http.head(url).send().await.expect("head");
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "image/png");
    assert!(head.bytes().await.expect("empty").is_empty());
    let flexible = [
        format!("/{hash}/{id}/w=400,h=300"),
        format!("/cdn-cgi/imagedelivery/{hash}/{id}/width=10,fit=cover"),
    ];
    for path in &flexible {
        assert_eq!(ctx.deliver(path).await.status(), 404, "{path}: not enabled");
    }
    ctx.patch("v1/config", json!({"flexible_variants": true}))
        .await
        .assert_ok();
    for path in flexible
        .iter()
        .chain([&format!("/cdn-cgi/imagedelivery/{hash}/{id}/public")])
    {
        assert_eq!(ctx.deliver(path).await.status(), 200, "{path}");
    }
    for path in [
        format!("/{hash}/{id}/nosuchvariant"),
        format!("/{hash}/nosuchimage/public"),
        format!("/wronghash/{id}/public"),
        format!("/{hash}/{id}"),
        // `/` itself is the console (browser_http.rs).
        "/favicon.ico".to_owned(),
    ] {
        assert_eq!(ctx.deliver(&path).await.status(), 404, "{path}");
    }
    // Drafts have nothing to deliver.
    let draft = ctx.send(ctx.http.post(ctx.url("v2/direct_upload"))).await;
    let draft_id = draft.assert_ok()["id"].as_str().expect("id").to_owned();
    assert_eq!(
        ctx.deliver(&format!("/{hash}/{draft_id}/public"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn signed_delivery() {
    let ctx = Ctx::new().await;
    ctx.patch("v1/config", json!({"flexible_variants": true}))
        .await
        .assert_ok();
    let image = ctx.upload_png(&[("requireSignedURLs", "true")]).await;
    let id = image["id"].as_str().expect("id");
    let hash = ctx.emu.account_hash().to_owned();
    let keys = ctx.get("v1/keys").await;
    let key = keys.assert_ok()["keys"][0]["value"]
        .as_str()
        .expect("key")
        .to_owned();
    let path = format!("/{hash}/{id}/public");
    let exp = now_secs() + 300;
    let sig = hmac_hex(&key, &format!("{path}?exp={exp}"));

    assert_eq!(ctx.deliver(&path).await.status(), 403, "unsigned");
    let ok = ctx.deliver(&format!("{path}?exp={exp}&sig={sig}")).await;
    assert_eq!(ok.status(), 200);
    assert_png_1x1(&ok.bytes().await.expect("bytes"));
    // Wrong signature, missing exp or sig, altered exp, expired, other path.
    let wrong = hmac_hex("not-the-key", &format!("{path}?exp={exp}"));
    let expired_exp = now_secs() - 10;
    let expired_sig = hmac_hex(&key, &format!("{path}?exp={expired_exp}"));
    for query in [
        format!("exp={exp}&sig={wrong}"),
        format!("sig={sig}"),
        format!("exp={exp}"),
        format!("exp={}&sig={sig}", exp + 1),
        format!("exp={expired_exp}&sig={expired_sig}"),
        format!("exp={exp}&sig=zz"),
    ] {
        assert_eq!(
            ctx.deliver(&format!("{path}?{query}")).await.status(),
            403,
            "{query}"
        );
    }
    let other = format!("/{hash}/{id}/w=10");
    assert_eq!(
        ctx.deliver(&format!("{other}?exp={exp}&sig={sig}"))
            .await
            .status(),
        403
    );
    // Cloudflare refuses flexible variants of an image that requires signed URLs, even
    // when the URL is correctly signed.
    let other_sig = hmac_hex(&key, &format!("{other}?exp={exp}"));
    let refused = ctx
        .deliver(&format!("{other}?exp={exp}&sig={other_sig}"))
        .await;
    assert_eq!(refused.status(), 403, "flexible variants cannot be signed");
    assert_eq!(
        refused.text().await.expect("body"),
        "ERROR 9403: flexible variants cannot be used for images that require signed URLs"
    );
    // The cdn-cgi route accepts a signature over its full path or the short path.
    let cdn = format!("/cdn-cgi/imagedelivery{path}");
    let cdn_sig = hmac_hex(&key, &format!("{cdn}?exp={exp}"));
    assert_eq!(
        ctx.deliver(&format!("{cdn}?exp={exp}&sig={cdn_sig}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        ctx.deliver(&format!("{cdn}?exp={exp}&sig={sig}"))
            .await
            .status(),
        200
    );
    // Any current key works; a deleted key stops working.
    let put = ctx.send(ctx.http.put(ctx.url("v1/keys/second"))).await;
    let second = put.assert_ok()["keys"][1]["value"]
        .as_str()
        .expect("value")
        .to_owned();
    let sig2 = hmac_hex(&second, &format!("{path}?exp={exp}"));
    assert_eq!(
        ctx.deliver(&format!("{path}?exp={exp}&sig={sig2}"))
            .await
            .status(),
        200
    );
    ctx.delete("v1/keys/default").await.assert_ok();
    assert_eq!(
        ctx.deliver(&format!("{path}?exp={exp}&sig={sig}"))
            .await
            .status(),
        403
    );
    // A variant that never requires signatures serves without one.
    ctx.post_json(
        "v1/variants",
        json!({"id": "open", "options": {"fit": "contain", "metadata": "none", "width": 5, "height": 5}, "neverRequireSignedURLs": true}),
    )
    .await
    .assert_ok();
    assert_eq!(
        ctx.deliver(&format!("/{hash}/{id}/open")).await.status(),
        200
    );
    // Making the image public lifts the requirement.
    ctx.patch(&format!("v1/{id}"), json!({"requireSignedURLs": false}))
        .await
        .assert_ok();
    assert_eq!(ctx.deliver(&path).await.status(), 200);
}

#[tokio::test]
async fn multipart_metadata_part_with_content_type() {
    // Some clients send metadata as an application/json part; that works as well.
    let ctx = Ctx::new().await;
    let part = Part::text(r#"{"x":true}"#)
        .mime_str("application/json")
        .expect("mime");
    let answer = ctx
        .upload(file_form(png(), "a.png").part("metadata", part))
        .await;
    assert_eq!(answer.assert_ok()["meta"], json!({"x": true}));
}

/// Asserts that delivered bytes are a 1x1 PNG (what `png()` renders to through `public`).
#[track_caller]
fn assert_png_1x1(bytes: &[u8]) {
    assert_eq!(
        image::guess_format(bytes).expect("an image format"),
        image::ImageFormat::Png
    );
    let img = image::load_from_memory(bytes).expect("decodes");
    assert_eq!((img.width(), img.height()), (1, 1));
}
