//! The SDK end to end against the emulator: every seed operation through the
//! resource tree, authentication failures, and injected faults as the SDK reports
//! them.

use cloudflare_images::open_enums::{ImageVariantFit, ImageVariantSchemasMetadata};
use cloudflare_images::types::{self, V2ListSortOrder};
use cloudflare_images::{Client, Error, ErrorKind, RetryPolicy};
use cloudflare_images_emulator::fixtures::PIXEL_PNG;
use cloudflare_images_emulator::{Config, Emulator, EmulatorHandle};
use serde_json::{json, Map, Value};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The emulator's HTML 502 page.
const HTML_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n";

struct Env {
    emu: EmulatorHandle,
    client: Client,
}

/// The default retry rules, with a 1 ms backoff and at most 5 s of `Retry-After`.
fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_secs(5))
}

impl Env {
    async fn new() -> Env {
        Self::with(Config::default(), "e2e-token").await
    }

    async fn with(config: Config, token: &str) -> Env {
        let emu = Emulator::start_with(config).await.expect("emulator starts");
        let client = Client::builder()
            .api_token(token)
            .account_id(emu.account_id())
            .base_url(emu.base_url())
            .retry_policy(fast_retries())
            .build()
            .expect("client builds");
        Env { emu, client }
    }

    async fn upload(&self, id: Option<&str>) -> types::Image {
        let mut upload = self.client.v1().create().file(PIXEL_PNG, "a.png");
        if let Some(id) = id {
            upload = upload.id(id);
        }
        upload.send().await.expect("upload")
    }

    /// The delivery URL of `encoded_id` for `variant`.
    fn delivery(&self, encoded_id: &str, variant: &str) -> String {
        format!(
            "{}/{}/{encoded_id}/{variant}",
            self.emu.origin(),
            self.emu.account_hash()
        )
    }

    async fn stats_current(&self) -> f64 {
        let stats = self.client.v1().stats().get().send().await.expect("stats");
        let count = stats.count.expect("count");
        assert_eq!(count.allowed, Some(100_000.0));
        count.current.expect("current")
    }
}

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn meta(image: &types::Image) -> Value {
    Value::Object(image.meta.clone().map(Map::from).unwrap_or_default())
}

fn variants(image: &types::Image) -> Vec<String> {
    image.variants.clone().map(Vec::from).unwrap_or_default()
}

fn options(width: u32, height: u32) -> types::ImageVariantOptions {
    types::ImageVariantOptions {
        fit: ImageVariantFit::Cover,
        height,
        metadata: ImageVariantSchemasMetadata::Keep,
        width,
    }
}

/// Asserts an `Api` error with this status and exactly these codes.
#[track_caller]
fn assert_api_error(err: &Error, status: u16, codes: &[i64]) {
    assert_eq!(err.kind(), ErrorKind::Api, "{err:?}");
    assert_eq!(err.status(), Some(status), "{err:?}");
    assert_eq!(err.code_numbers().collect::<Vec<_>>(), codes, "{err:?}");
}

fn is_uuid(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::try_parse(id).is_ok()
}

// ---------------------------------------------------------------------------------------------
// Images

#[tokio::test]
async fn upload_get_edit_blob_delete() {
    let env = Env::new().await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let image = env
        .client
        .v1()
        .create()
        .file(PIXEL_PNG, "a.png")
        .metadata(map(json!({"k": "v", "n": 1})))
        .creator("user-1")
        .send()
        .await
        .expect("upload");
    let id = image.id.clone().expect("id");
    assert!(is_uuid(&id), "{id}");
    assert_eq!(image.filename.as_deref(), Some("a.png"));
    assert_eq!(image.creator.as_deref(), Some("user-1"));
    assert_eq!(meta(&image), json!({"k": "v", "n": 1}));
    assert!(!image.require_signed_urls);
    assert_eq!(variants(&image), vec![env.delivery(&id, "public")]);
    let uploaded = image.uploaded.expect("uploaded");
    assert!(
        before <= uploaded && uploaded <= chrono::Utc::now(),
        "{uploaded}"
    );
    assert_eq!(env.emu.image_count(), 1);

    // Get returns exactly what the upload returned.
    let got = env.client.v1().get(&id).send().await.expect("get");
    assert_eq!(
        serde_json::to_value(&got).expect("json"),
        serde_json::to_value(&image).expect("json")
    );

    // Edit with only metadata: the metadata is replaced, nothing else changes.
    let edited = env
        .client
        .v1()
        .edit(&id)
        .metadata(map(json!({"k": "v2"})))
        .send()
        .await
        .expect("edit");
    assert_eq!(meta(&edited), json!({"k": "v2"}));
    let mut expected = serde_json::to_value(&image).expect("json");
    expected["meta"] = json!({"k": "v2"});
    assert_eq!(serde_json::to_value(&edited).expect("json"), expected);
    let got = env.client.v1().get(&id).send().await.expect("get");
    assert_eq!(serde_json::to_value(&got).expect("json"), expected);

    // Blob: the original bytes and type.
    let blob = env.client.v1().blobs().get(&id).send().await.expect("blob");
    assert_eq!(blob.content_type(), Some("image/png"));
    assert_eq!(blob.content_length(), Some(PIXEL_PNG.len() as u64));
    assert_eq!(&blob.bytes().await.expect("bytes")[..], PIXEL_PNG);

    // Delete, then everything about the image is 404 / 5404.
    let deleted = env.client.v1().delete(&id).send().await.expect("delete");
    assert!(deleted.is_empty(), "{deleted:?}");
    assert_eq!(env.emu.image_count(), 0);
    let err = env.client.v1().get(&id).send().await.unwrap_err();
    assert_api_error(&err, 404, &[5404]);
    assert!(err.has_code(5404));
    assert!(!err.is_retryable());
    let err = env.client.v1().blobs().get(&id).send().await.unwrap_err();
    assert_api_error(&err, 404, &[5404]);
    let err = env.client.v1().delete(&id).send().await.unwrap_err();
    assert_api_error(&err, 404, &[5404]);
    let err = env
        .client
        .v1()
        .edit(&id)
        .metadata(map(json!({"a": 1})))
        .send()
        .await
        .unwrap_err();
    assert_api_error(&err, 404, &[5404]);
}

/// A path upload is streamed from disk; the emulator stores exactly the file's
/// bytes, and the streams and batch helpers see it.
#[tokio::test]
async fn upload_by_path_then_stream_and_batch() {
    use futures_util::TryStreamExt;
    let env = Env::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("photo.png");
    let mut bytes = PIXEL_PNG.to_vec();
    bytes.extend((0..300_000u32).map(|i| (i % 251) as u8));
    std::fs::write(&path, &bytes).expect("write");

    let image = env
        .client
        .v1()
        .create()
        .path(&path)
        .id("disk/photo")
        .send()
        .await
        .expect("upload");
    assert_eq!(image.filename.as_deref(), Some("photo.png"));
    let blob = env
        .client
        .v1()
        .blobs()
        .get("disk/photo")
        .send()
        .await
        .expect("blob");
    assert_eq!(blob.content_type(), Some("image/png"));
    assert_eq!(blob.bytes().await.expect("bytes").to_vec(), bytes);

    let empty = dir.path().join("empty.png");
    std::fs::write(&empty, b"").expect("write");
    let report = env
        .client
        .v1()
        .create_many()
        .add_path(&path)
        .add_path(&empty)
        .add_bytes(PIXEL_PNG, "b.png")
        .send()
        .await;
    let outcome: Vec<bool> = report.items().iter().map(|i| i.result.is_ok()).collect();
    assert_eq!(outcome, [true, false, true]);

    let ids: Vec<String> = env
        .client
        .v2()
        .list_all()
        .per_page(10)
        .sort_order(types::V2ListSortOrder::Asc)
        .items()
        .map_ok(|i| i.id.unwrap_or_default())
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], "disk/photo");
    assert_eq!(env.emu.image_count(), 3);
}

#[tokio::test]
async fn upload_by_url_from_a_local_server() {
    let env = Env::new().await;
    let origin = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/pics/cat.png"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/png")
                .set_body_bytes(PIXEL_PNG),
        )
        .expect(1)
        .mount(&origin)
        .await;
    let image = env
        .client
        .v1()
        .create()
        .url(format!("{}/pics/cat.png", origin.uri()))
        .id("from/url")
        .send()
        .await
        .expect("upload by URL");
    assert_eq!(image.id.as_deref(), Some("from/url"));
    assert_eq!(image.filename.as_deref(), Some("cat.png"));
    let blob = env
        .client
        .v1()
        .blobs()
        .get("from/url")
        .send()
        .await
        .expect("blob");
    assert_eq!(&blob.bytes().await.expect("bytes")[..], PIXEL_PNG);
    assert_eq!(env.emu.image_count(), 1);
    origin.verify().await;

    // An origin that answers 404: Cloudflare's 400, nothing stored.
    let err = env
        .client
        .v1()
        .create()
        .url(format!("{}/missing.png", origin.uri()))
        .send()
        .await
        .unwrap_err();
    assert_api_error(&err, 400, &[5400]);
    assert_eq!(env.emu.image_count(), 1);
}

#[tokio::test]
async fn custom_ids_with_slashes_and_non_ascii_round_trip() {
    let env = Env::new().await;
    let ids = [
        "folder/sub/image.png",
        "ümlaut/日本語 画像",
        "100%/done?x=1&y=2#frag",
        "plus+and space/tilde~",
    ];
    for id in ids {
        let image = env.upload(Some(id)).await;
        assert_eq!(image.id.as_deref(), Some(id));
        let got = env.client.v1().get(id).send().await.expect("get");
        assert_eq!(got.id.as_deref(), Some(id), "get {id}");
        let edited = env
            .client
            .v1()
            .edit(id)
            .metadata(map(json!({"id": id})))
            .send()
            .await
            .expect("edit");
        assert_eq!(meta(&edited), json!({"id": id}));
        let blob = env.client.v1().blobs().get(id).send().await.expect("blob");
        assert_eq!(
            &blob.bytes().await.expect("bytes")[..],
            PIXEL_PNG,
            "blob {id}"
        );
    }
    let listed: Vec<String> = env
        .client
        .v2()
        .list()
        .sort_order(V2ListSortOrder::Asc)
        .send()
        .await
        .expect("list")
        .images
        .into_iter()
        .filter_map(|i| i.id)
        .collect();
    assert_eq!(listed, ids);
    for id in ids {
        env.client.v1().delete(id).send().await.expect("delete");
        let err = env.client.v1().get(id).send().await.unwrap_err();
        assert_api_error(&err, 404, &[5404]);
    }
    assert_eq!(env.emu.image_count(), 0);
}

#[tokio::test]
#[allow(deprecated)]
async fn list_v1_pages_and_v2_continuation() {
    let env = Env::new().await;
    let seeded = env.emu.seed_images(12).await;
    let alice = env
        .client
        .v1()
        .create()
        .file(PIXEL_PNG, "alice.png")
        .creator("alice")
        .send()
        .await
        .expect("upload")
        .id
        .expect("id");
    let mut all = seeded.clone();
    all.push(alice.clone());

    // v1: pages in upload order.
    let mut v1 = Vec::new();
    for page in 1..=4u32 {
        let result = env
            .client
            .v1()
            .list()
            .page(page)
            .per_page(5u32)
            .send()
            .await
            .expect("list v1");
        let sizes = [5, 5, 3, 0];
        assert_eq!(result.images.len(), sizes[page as usize - 1], "page {page}");
        v1.extend(result.images.into_iter().filter_map(|i| i.id));
    }
    assert_eq!(v1, all);
    let only_alice = env.client.v1().list().creator("alice").send().await;
    let only_alice: Vec<_> = only_alice
        .expect("list")
        .images
        .into_iter()
        .filter_map(|i| i.id)
        .collect();
    assert_eq!(only_alice, vec![alice.clone()]);

    // v2: newest first by default, continuation tokens until exhausted.
    let first = env
        .client
        .v2()
        .list()
        .per_page(10u32)
        .send()
        .await
        .expect("list v2");
    assert_eq!(first.images.len(), 10);
    let token = first.continuation_token.clone().expect("a token");
    let second = env
        .client
        .v2()
        .list()
        .per_page(10u32)
        .continuation_token(token)
        .send()
        .await
        .expect("list v2 page 2");
    assert_eq!(second.images.len(), 3);
    assert_eq!(second.continuation_token, None);
    let v2: Vec<String> = first
        .images
        .into_iter()
        .chain(second.images)
        .filter_map(|i| i.id)
        .collect();
    let mut newest_first = all.clone();
    newest_first.reverse();
    assert_eq!(v2, newest_first);
    let asc: Vec<String> = env
        .client
        .v2()
        .list()
        .sort_order(V2ListSortOrder::Asc)
        .send()
        .await
        .expect("asc")
        .images
        .into_iter()
        .filter_map(|i| i.id)
        .collect();
    assert_eq!(asc, all);
    let by_creator = env.client.v2().list().creator("alice").send().await;
    let by_creator: Vec<_> = by_creator
        .expect("v2 creator")
        .images
        .into_iter()
        .filter_map(|i| i.id)
        .collect();
    assert_eq!(by_creator, vec![alice]);
    // A forged token is the API's 400.
    let err = env
        .client
        .v2()
        .list()
        .continuation_token("not-a-token")
        .send()
        .await
        .unwrap_err();
    assert_api_error(&err, 400, &[5400]);
}

#[tokio::test]
async fn stats_count_follows_uploads_and_deletes() {
    let env = Env::new().await;
    assert_eq!(env.stats_current().await, 0.0);
    let a = env.upload(None).await.id.expect("id");
    env.upload(Some("second")).await;
    assert_eq!(env.stats_current().await, 2.0);
    env.client.v1().delete(&a).send().await.expect("delete");
    assert_eq!(env.stats_current().await, 1.0);
    // Drafts do not count.
    env.client
        .v2()
        .direct_uploads()
        .create()
        .send()
        .await
        .expect("draft");
    assert_eq!(env.stats_current().await, 1.0);
    assert_eq!(env.emu.image_count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Direct uploads

#[tokio::test]
async fn v2_direct_upload_creates_a_draft_that_the_upload_url_completes() {
    let env = Env::new().await;
    let draft = env
        .client
        .v2()
        .direct_uploads()
        .create()
        .id("drafts/one")
        .creator("user-7")
        .metadata(map(json!({"from": "browser"})))
        .expiry(chrono::Utc::now() + chrono::Duration::minutes(10))
        .send()
        .await
        .expect("direct upload");
    assert_eq!(draft.id.as_deref(), Some("drafts/one"));
    let upload_url = draft.upload_url.expect("uploadURL");
    assert_eq!(
        upload_url,
        format!(
            "{}/upload/{}/drafts/one",
            env.emu.origin(),
            env.emu.account_hash()
        )
    );
    // A draft: not counted, no bytes yet, but its details are there.
    assert_eq!(env.emu.image_count(), 0);
    let image = env.client.v1().get("drafts/one").send().await.expect("get");
    assert_eq!(image.creator.as_deref(), Some("user-7"));
    assert_eq!(meta(&image), json!({"from": "browser"}));
    let err = env
        .client
        .v1()
        .blobs()
        .get("drafts/one")
        .send()
        .await
        .unwrap_err();
    assert_api_error(&err, 404, &[5404]);
    // The same custom id again: 409.
    let err = env
        .client
        .v2()
        .direct_uploads()
        .create()
        .id("drafts/one")
        .send()
        .await
        .unwrap_err();
    assert_api_error(&err, 409, &[5409]);

    // The one-time URL takes the file without credentials, once.
    let form = || {
        reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(PIXEL_PNG).file_name("browser.png"),
        )
    };
    let http = cloudflare_images::http_client_builder()
        .expect("the SDK's TLS")
        .build()
        .expect("an http client");
    let resp = http
        .post(&upload_url)
        .multipart(form())
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(env.emu.image_count(), 1);
    let resp = http
        .post(&upload_url)
        .multipart(form())
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 400);
    let image = env.client.v1().get("drafts/one").send().await.expect("get");
    assert_eq!(image.filename.as_deref(), Some("browser.png"));
    let blob = env
        .client
        .v1()
        .blobs()
        .get("drafts/one")
        .send()
        .await
        .expect("blob");
    assert_eq!(&blob.bytes().await.expect("bytes")[..], PIXEL_PNG);
}

#[tokio::test]
#[allow(deprecated)]
async fn v1_direct_upload_creates_a_draft() {
    let env = Env::new().await;
    let draft = env
        .client
        .v1()
        .direct_uploads()
        .create()
        .send()
        .await
        .expect("direct upload v1");
    let id = draft.id.expect("id");
    assert!(is_uuid(&id), "{id}");
    assert_eq!(
        draft.upload_url,
        Some(format!(
            "{}/upload/{}/{id}",
            env.emu.origin(),
            env.emu.account_hash()
        ))
    );
    assert_eq!(env.emu.image_count(), 0);
    assert_eq!(
        env.client.v1().get(&id).send().await.expect("get").id,
        Some(id)
    );
}

// ---------------------------------------------------------------------------------------------
// Variants and keys

#[tokio::test]
async fn variants_crud() {
    let env = Env::new().await;
    let names = |list: types::ImageVariantsResponse| -> Vec<String> {
        list.variants
            .map(|v| v.0.into_keys().collect())
            .unwrap_or_default()
    };
    let list = env
        .client
        .v1()
        .variants()
        .list()
        .send()
        .await
        .expect("list");
    assert_eq!(names(list), ["public"]);

    let created = env
        .client
        .v1()
        .variants()
        .create("thumb", options(100, 50))
        .never_require_signed_urls(true)
        .send()
        .await
        .expect("create")
        .variant
        .expect("variant");
    let as_json = |v: &types::ImageVariantDefinition| serde_json::to_value(v).expect("json");
    let thumb = json!({"id": "thumb", "neverRequireSignedURLs": true,
        "options": {"fit": "cover", "metadata": "keep", "width": 100, "height": 50}});
    assert_eq!(as_json(&created), thumb);
    let got = env
        .client
        .v1()
        .variants()
        .get("thumb")
        .send()
        .await
        .expect("get")
        .variant
        .expect("variant");
    assert_eq!(as_json(&got), thumb);
    let flat = env
        .client
        .v1()
        .variants()
        .get_flat("thumb")
        .send()
        .await
        .expect("flat");
    assert_eq!(as_json(&flat), thumb);
    let err = env
        .client
        .v1()
        .variants()
        .create("thumb", options(1, 1))
        .send()
        .await
        .unwrap_err();
    assert_api_error(&err, 409, &[5409]);

    let edited = env
        .client
        .v1()
        .variants()
        .edit("thumb", options(200, 120))
        .send()
        .await
        .expect("edit")
        .variant
        .expect("variant");
    assert_eq!(edited.options.width, 200);
    assert_eq!(edited.options.height, 120);
    let list = env
        .client
        .v1()
        .variants()
        .list()
        .send()
        .await
        .expect("list");
    assert_eq!(names(list), ["public", "thumb"]);
    // Images list one delivery URL per variant.
    let image = env.upload(Some("with/variants")).await;
    assert_eq!(
        variants(&image),
        vec![
            env.delivery("with/variants", "public"),
            env.delivery("with/variants", "thumb")
        ]
    );

    let deleted = env
        .client
        .v1()
        .variants()
        .delete("thumb")
        .send()
        .await
        .expect("delete");
    assert!(deleted.is_empty());
    let err = env
        .client
        .v1()
        .variants()
        .get("thumb")
        .send()
        .await
        .unwrap_err();
    assert_api_error(&err, 404, &[5401]);
    let err = env
        .client
        .v1()
        .variants()
        .get_flat("thumb")
        .send()
        .await
        .unwrap_err();
    assert_api_error(&err, 404, &[5401]);
    let list = env
        .client
        .v1()
        .variants()
        .list()
        .send()
        .await
        .expect("list");
    assert_eq!(names(list), ["public"]);
}

#[tokio::test]
async fn signing_keys_update_and_delete() {
    let env = Env::new().await;
    let pairs = |keys: types::ImageKeysResponse| -> Vec<(String, String)> {
        keys.keys
            .into_iter()
            .map(|k| (k.name.expect("name"), k.value.expect("value")))
            .collect()
    };
    let listed = pairs(env.client.v1().keys().list().send().await.expect("list"));
    assert_eq!(listed, env.emu.signing_keys());
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, "default");
    let default_value = listed[0].1.clone();

    let after_add = pairs(
        env.client
            .v1()
            .keys()
            .update("second")
            .send()
            .await
            .expect("add"),
    );
    assert_eq!(after_add, env.emu.signing_keys());
    let names: Vec<&str> = after_add.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["default", "second"]);
    // Updating an existing key rotates its value.
    let rotated = pairs(
        env.client
            .v1()
            .keys()
            .update("second")
            .send()
            .await
            .expect("rotate"),
    );
    assert_eq!(rotated[0], after_add[0]);
    assert_ne!(rotated[1].1, after_add[1].1);

    let after_delete = pairs(
        env.client
            .v1()
            .keys()
            .delete("second")
            .send()
            .await
            .expect("delete"),
    );
    assert_eq!(
        after_delete,
        vec![("default".to_string(), default_value.clone())]
    );
    // Deleting the last key regenerates `default` with a new value.
    let regenerated = pairs(
        env.client
            .v1()
            .keys()
            .delete("default")
            .send()
            .await
            .expect("delete last"),
    );
    assert_eq!(regenerated.len(), 1);
    assert_eq!(regenerated[0].0, "default");
    assert_ne!(regenerated[0].1, default_value);
    assert_eq!(regenerated, env.emu.signing_keys());

    let err = env
        .client
        .v1()
        .keys()
        .delete("nope")
        .send()
        .await
        .unwrap_err();
    assert_api_error(&err, 404, &[5404]);
}

// ---------------------------------------------------------------------------------------------
// Authentication and faults

#[tokio::test]
async fn a_wrong_token_is_an_api_error_403() {
    let config = Config {
        api_token: Some("right".into()),
        ..Default::default()
    };
    let env = Env::with(config, "wrong").await;
    let err = env.client.v1().stats().get().send().await.unwrap_err();
    assert_api_error(&err, 403, &[10000]);
    assert!(err.has_code(10000));
    assert!(!err.is_retryable());
    // The handwritten multipart path reports it the same way.
    let err = env
        .client
        .v1()
        .create()
        .file(PIXEL_PNG, "a.png")
        .send()
        .await
        .unwrap_err();
    assert_api_error(&err, 403, &[10000]);
    assert_eq!(env.emu.image_count(), 0);
    // The right token works.
    let right = Client::builder()
        .api_token("right")
        .account_id(env.client.account_id())
        .base_url(env.client.base_url())
        .build()
        .expect("client");
    assert!(right.v1().stats().get().send().await.is_ok());
}

#[tokio::test]
async fn rate_limit_429_is_retried_within_limits_and_uploads_never() {
    let env = Env::new().await;
    env.emu.faults().set_rate_limit_after(Some(0));
    // Retry-After 7 s is more than the client's 5 s max_backoff: returned, not waited.
    env.emu.faults().set_retry_after_secs(7);
    let before = env.emu.request_count();
    let err = env.client.v1().stats().get().send().await.unwrap_err();
    assert_api_error(&err, 429, &[971]);
    assert!(err.is_retryable());
    assert_eq!(env.emu.request_count() - before, 1);
    // Retry-After 0: repeated twice (the default), then the 429 is returned.
    env.emu.faults().set_retry_after_secs(0);
    let before = env.emu.request_count();
    let err = env.client.v1().stats().get().send().await.unwrap_err();
    assert_api_error(&err, 429, &[971]);
    assert_eq!(env.emu.request_count() - before, 3);
    // An upload from bytes is rebuilt and repeated on a 429 (the API did not
    // process it); one from a reader cannot be rebuilt and is sent once.
    let before = env.emu.request_count();
    let err = env
        .client
        .v1()
        .create()
        .file(PIXEL_PNG, "a.png")
        .send()
        .await
        .unwrap_err();
    assert_api_error(&err, 429, &[971]);
    assert!(err.is_retryable());
    assert_eq!(env.emu.request_count() - before, 3);
    let before = env.emu.request_count();
    let err = env
        .client
        .v1()
        .create()
        .reader(
            std::io::Cursor::new(PIXEL_PNG),
            PIXEL_PNG.len() as u64,
            "a.png",
        )
        .send()
        .await
        .unwrap_err();
    assert_api_error(&err, 429, &[971]);
    assert_eq!(env.emu.request_count() - before, 1);
    assert_eq!(env.emu.image_count(), 0);
    env.emu.faults().set_rate_limit_after(None);
    assert_eq!(env.stats_current().await, 0.0);
}

#[tokio::test]
async fn html_502_is_an_http_error_with_the_body_snippet() {
    let env = Env::new().await;
    env.emu.faults().set_html_502(true);
    env.emu.faults().set_fail_5xx_percent(100);
    let err = env.client.v1().stats().get().send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Http, "{err:?}");
    assert_eq!(err.status(), Some(502));
    assert_eq!(err.body_snippet(), Some(HTML_502));
    assert!(err.api_errors().is_empty());
    assert!(err.is_retryable());
    // The handwritten upload goes through the same hook.
    let err = env
        .client
        .v1()
        .create()
        .file(PIXEL_PNG, "a.png")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Http, "{err:?}");
    assert_eq!(err.status(), Some(502));
    assert_eq!(err.body_snippet(), Some(HTML_502));
    assert_eq!(env.emu.image_count(), 0);
    env.emu.faults().clear();
    assert_eq!(env.stats_current().await, 0.0);
}

#[tokio::test]
async fn json_500_is_retried_for_a_get_and_typed_when_it_persists() {
    let env = Env::new().await;
    env.emu.faults().fail_next(1, 500);
    let before = env.emu.request_count();
    assert!(env.client.v1().keys().list().send().await.is_ok());
    assert_eq!(
        env.emu.request_count() - before,
        2,
        "one 500, then the retry"
    );
    // Without retries the 500 comes back typed and retryable.
    let once = Client::builder()
        .api_token("e2e-token")
        .account_id(env.client.account_id())
        .base_url(env.client.base_url())
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client");
    env.emu.faults().fail_next(1, 500);
    let err = once.v1().keys().list().send().await.unwrap_err();
    assert_api_error(&err, 500, &[5500]);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn fail_after_upload_errors_and_the_image_exists_exactly_once() {
    let env = Env::new().await;
    env.emu.faults().set_fail_after_upload(true);
    let before = env.emu.request_count();
    // With a custom id the upload is repeated; "already exists" is resolved by
    // fetching the stored image, which is the one sent: success, one image.
    let image = env
        .client
        .v1()
        .create()
        .file(PIXEL_PNG, "a.png")
        .id("stored/anyway")
        .metadata(serde_json::json!({"k": 1}))
        .send()
        .await
        .expect("resolved after the repeat");
    assert_eq!(image.id.as_deref(), Some("stored/anyway"));
    // 500 after storing, then 409 (already exists), then the GET.
    assert_eq!(env.emu.request_count() - before, 3);
    assert_eq!(env.emu.image_count(), 1);
    // Another image already stored under the id is not mistaken for ours.
    let err = env
        .client
        .v1()
        .create()
        .file(PIXEL_PNG, "other.png")
        .id("stored/anyway")
        .send()
        .await
        .unwrap_err();
    assert_api_error(&err, 409, &[5409]);
    assert_eq!(env.emu.image_count(), 1);
    let before = env.emu.request_count();
    // Without a custom id too.
    let err = env
        .client
        .v1()
        .create()
        .file(PIXEL_PNG, "b.png")
        .send()
        .await
        .unwrap_err();
    assert_api_error(&err, 500, &[5500]);
    // Without a custom id a body that went out is never sent again.
    assert_eq!(env.emu.request_count() - before, 1);
    assert_eq!(env.emu.image_count(), 2);

    env.emu.faults().set_fail_after_upload(false);
    let image = env
        .client
        .v1()
        .get("stored/anyway")
        .send()
        .await
        .expect("get");
    assert_eq!(image.filename.as_deref(), Some("a.png"));
    let ids: Vec<String> = env
        .client
        .v2()
        .list()
        .send()
        .await
        .expect("list")
        .images
        .into_iter()
        .filter_map(|i| i.id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(
        ids.iter()
            .filter(|id| id.as_str() == "stored/anyway")
            .count(),
        1
    );
}

// ---------------------------------------------------------------------------------------------
// Regressions: SDK bugs these tests found

/// An empty map is sent as `{}` and clears the metadata (codegen's
/// `patch_objects_clearable` fixup; typify used to skip empty maps).
#[tokio::test]
async fn edit_with_empty_metadata_clears_it() {
    let env = Env::new().await;
    let image = env
        .client
        .v1()
        .create()
        .file(PIXEL_PNG, "a.png")
        .metadata(map(json!({"k": 1})))
        .send()
        .await
        .expect("upload");
    let id = image.id.expect("id");
    let edited = env
        .client
        .v1()
        .edit(&id)
        .metadata(Map::new())
        .send()
        .await
        .expect("edit");
    assert_eq!(meta(&edited), json!({}));
}

/// `.` and `..` as a path segment are removed by URL parsing (`%2E` too), so
/// `get(".")` would reach the list endpoint; the SDK refuses them before sending.
#[tokio::test]
async fn dot_ids_never_reach_another_endpoint() {
    let env = Env::new().await;
    let before = env.emu.request_count();
    for id in [".", ".."] {
        let upload = env
            .client
            .v1()
            .create()
            .file(PIXEL_PNG, "a.png")
            .id(id)
            .send()
            .await;
        assert_eq!(
            upload.unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "upload {id:?}"
        );
        for err in [
            env.client.v1().get(id).send().await.unwrap_err(),
            env.client.v1().delete(id).send().await.unwrap_err(),
            env.client
                .v1()
                .edit(id)
                .creator("c")
                .send()
                .await
                .unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{id:?}: {err:?}");
        }
    }
    assert_eq!(env.emu.request_count(), before, "nothing was sent");
}
