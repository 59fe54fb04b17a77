//! One behaviour test per operation of the spec (34): the exact request that goes
//! out and the typed value that comes back.

use cloudflare_images::open_enums::{
    ImageVariantFit, ImageVariantSchemasMetadata, SourcingkitMigrationStatus, SourcingkitVendor,
};
use cloudflare_images::types;
use cloudflare_images_emulator::fixtures::PIXEL_PNG;
use serde_json::{json, Map, Value};
use test_support::harness::*;

const SOURCE: &str = "6f1bb1b4-6d4a-4ac5-9f2a-bb36d0fd1d1c";
const MIGRATION: &str = "0c7a3e54-6e2b-4a7b-8a5f-5b9d6e1f2a3b";

fn options(width: u32, height: u32) -> types::ImageVariantOptions {
    types::ImageVariantOptions {
        fit: ImageVariantFit::ScaleDown,
        height,
        metadata: ImageVariantSchemasMetadata::None,
        width,
    }
}

fn variant_json(id: &str) -> Value {
    json!({"id": id, "neverRequireSignedURLs": true,
           "options": {"fit": "scale-down", "height": 768, "metadata": "none", "width": 1366}})
}

fn migration_json() -> Value {
    json!({"id": MIGRATION, "sourceId": SOURCE, "status": "processing", "conflictBehaviour": "skip",
           "createdAt": "2026-01-01T00:00:00Z"})
}

fn source_json() -> Value {
    json!({"id": SOURCE, "name": "photos", "vendor": "s3", "bucket": "my-bucket", "region": "us-east-1",
           "createdAt": "2026-01-01T00:00:00Z"})
}

fn meta(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

// ---------------------------------------------------------------- images v1

#[tokio::test]
#[allow(deprecated)]
async fn v1_list() {
    let h = Harness::new().await;
    h.respond_ok(json!({"images": [image_json("a"), image_json("b")]}))
        .await;
    let page = h
        .client
        .v1()
        .list()
        .page(2u32)
        .per_page(50u32)
        .creator("user-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.images
            .iter()
            .map(|i| i.id.clone().unwrap())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    h.expect(
        "GET",
        "v1",
        Some("creator=user-1&page=2&per_page=50"),
        Body::Empty,
    )
    .await;
}

#[tokio::test]
async fn v1_create_from_bytes() {
    let h = Harness::new().await;
    h.respond_ok(image_json("products/2024/cafe-01")).await;
    let image = h
        .client
        .v1()
        .create()
        .file(PIXEL_PNG, "logo.png")
        .id("products/2024/cafe-01")
        .creator("user-1")
        .metadata(meta(&[("sku", json!(42))]))
        .require_signed_urls(false)
        .send()
        .await
        .unwrap();
    assert_eq!(image.id.as_deref(), Some("products/2024/cafe-01"));
    assert_eq!(image.variants.unwrap().0.len(), 2);
    h.expect(
        "POST",
        "v1",
        None,
        Body::Multipart(vec![
            Part::file("file", "logo.png", "image/png", PIXEL_PNG),
            Part::text("id", "products/2024/cafe-01"),
            Part::text("creator", "user-1"),
            Part::text("metadata", r#"{"sku":42}"#),
            Part::text("requireSignedURLs", "false"),
        ]),
    )
    .await;
}

#[tokio::test]
async fn v1_create_from_url() {
    let h = Harness::new().await;
    h.respond_ok(image_json(UUID)).await;
    let image = h
        .client
        .v1()
        .create()
        .url("https://example.com/cat.jpg")
        .send()
        .await
        .unwrap();
    assert_eq!(image.id.as_deref(), Some(UUID));
    h.expect(
        "POST",
        "v1",
        None,
        Body::Multipart(vec![Part::text("url", "https://example.com/cat.jpg")]),
    )
    .await;
}

#[tokio::test]
async fn v1_get() {
    let h = Harness::new().await;
    h.respond_ok(image_json(UUID)).await;
    let image = h.client.v1().get(UUID).send().await.unwrap();
    assert_eq!(image.id.as_deref(), Some(UUID));
    assert_eq!(image.filename.as_deref(), Some("logo.png"));
    assert!(!image.require_signed_urls);
    assert_eq!(image.meta.unwrap().0["key"], "value");
    assert_eq!(
        image.uploaded.unwrap().to_rfc3339(),
        "2014-01-02T02:20:00.123+00:00"
    );
    h.expect("GET", &format!("v1/{UUID}"), None, Body::Empty)
        .await;
}

#[tokio::test]
async fn v1_edit_sends_only_what_was_set() {
    let h = Harness::new().await;
    h.respond_ok(image_json(UUID)).await;
    let image = h
        .client
        .v1()
        .edit(UUID)
        .metadata(meta(&[("sku", json!("a-1"))]))
        .send()
        .await
        .unwrap();
    assert_eq!(image.id.as_deref(), Some(UUID));
    h.expect(
        "PATCH",
        &format!("v1/{UUID}"),
        None,
        Body::Json(json!({"metadata": {"sku": "a-1"}})),
    )
    .await;
}

#[tokio::test]
async fn v1_edit_all_fields() {
    let h = Harness::new().await;
    h.respond_ok(image_json(UUID)).await;
    h.client
        .v1()
        .edit(UUID)
        .creator("u2")
        .require_signed_urls(true)
        .send()
        .await
        .unwrap();
    h.expect(
        "PATCH",
        &format!("v1/{UUID}"),
        None,
        Body::Json(json!({"creator": "u2", "requireSignedURLs": true})),
    )
    .await;
}

#[tokio::test]
async fn v1_delete() {
    let h = Harness::new().await;
    h.respond_ok(json!({})).await;
    let result = h.client.v1().delete(UUID).send().await.unwrap();
    assert!(result.is_empty());
    h.expect("DELETE", &format!("v1/{UUID}"), None, Body::Empty)
        .await;
}

#[tokio::test]
async fn v1_blobs_get() {
    let h = Harness::new().await;
    h.respond(wiremock::ResponseTemplate::new(200).set_body_raw(PIXEL_PNG.to_vec(), "image/png"))
        .await;
    let blob = h.client.v1().blobs().get(UUID).send().await.unwrap();
    assert_eq!(blob.content_type(), Some("image/png"));
    assert_eq!(blob.content_length(), Some(PIXEL_PNG.len() as u64));
    assert_eq!(&blob.bytes().await.unwrap()[..], PIXEL_PNG);
    let req = h.single_request().await;
    assert_eq!(req.method.as_str(), "GET");
    assert_eq!(
        req.url.path(),
        format!("/client/v4/accounts/{ACCOUNT}/images/v1/{UUID}/blob")
    );
    assert_eq!(
        header(&req, "authorization"),
        Some(format!("Bearer {TOKEN}"))
    );
}

#[tokio::test]
#[allow(deprecated)]
async fn v1_direct_uploads_create() {
    let h = Harness::new().await;
    h.respond_ok(json!({"id": UUID, "uploadURL": "https://upload.imagedelivery.net/hash/x"}))
        .await;
    let expiry: chrono::DateTime<chrono::Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
    let result = h
        .client
        .v1()
        .direct_uploads()
        .create()
        .expiry(expiry)
        .send()
        .await
        .unwrap();
    assert_eq!(result.id.as_deref(), Some(UUID));
    assert_eq!(
        result.upload_url.as_deref(),
        Some("https://upload.imagedelivery.net/hash/x")
    );
    h.expect(
        "POST",
        "v1/direct_upload",
        None,
        Body::Json(json!({"expiry": "2030-01-01T00:00:00Z"})),
    )
    .await;
}

// ---------------------------------------------------------------- keys, stats

fn keys_json() -> Value {
    json!({"keys": [{"name": "default", "value": "Oix0bbNaT8Rge9PuyxUBrjI6zrgnNR0uH_lEHdh8Wuj"}]})
}

#[tokio::test]
async fn v1_keys_list() {
    let h = Harness::new().await;
    h.respond_ok(keys_json()).await;
    let keys = h.client.v1().keys().list().send().await.unwrap();
    assert_eq!(keys.keys[0].name.as_deref(), Some("default"));
    assert_eq!(
        keys.keys[0].value.as_deref(),
        Some("Oix0bbNaT8Rge9PuyxUBrjI6zrgnNR0uH_lEHdh8Wuj")
    );
    h.expect("GET", "v1/keys", None, Body::Empty).await;
}

#[tokio::test]
async fn v1_keys_update() {
    let h = Harness::new().await;
    h.respond_ok(keys_json()).await;
    let keys = h.client.v1().keys().update("someKey").send().await.unwrap();
    assert_eq!(keys.keys.len(), 1);
    h.expect("PUT", "v1/keys/someKey", None, Body::Empty).await;
}

#[tokio::test]
async fn v1_keys_delete() {
    let h = Harness::new().await;
    h.respond_ok(keys_json()).await;
    let keys = h.client.v1().keys().delete("someKey").send().await.unwrap();
    assert_eq!(keys.keys[0].name.as_deref(), Some("default"));
    h.expect("DELETE", "v1/keys/someKey", None, Body::Empty)
        .await;
}

#[tokio::test]
async fn v1_stats_get() {
    let h = Harness::new().await;
    h.respond_ok(json!({"count": {"allowed": 100000, "current": 1000}}))
        .await;
    let stats = h.client.v1().stats().get().send().await.unwrap();
    let count = stats.count.unwrap();
    assert_eq!(
        (count.allowed, count.current),
        (Some(100000.0), Some(1000.0))
    );
    h.expect("GET", "v1/stats", None, Body::Empty).await;
}

// ------------------------------------------- from spec/supplement.yaml

#[tokio::test]
async fn v1_batch_token_get() {
    let h = Harness::new().await;
    h.respond_ok(json!({"token": "bt", "expiresAt": "2026-12-01T16:00:00Z"}))
        .await;
    let token = h.client.v1().batch_token().get().send().await.unwrap();
    assert_eq!(token.token, "bt");
    assert_eq!(token.expires_at.to_rfc3339(), "2026-12-01T16:00:00+00:00");
    h.expect("GET", "v1/batch_token", None, Body::Empty).await;
}

#[tokio::test]
async fn v1_config_edit_sends_only_what_was_set() {
    let h = Harness::new().await;
    h.respond_ok(json!({"flexible_variants": true})).await;
    let config = h
        .client
        .v1()
        .config()
        .edit()
        .flexible_variants(true)
        .send()
        .await
        .unwrap();
    assert_eq!(config.flexible_variants, Some(true));
    h.expect(
        "PATCH",
        "v1/config",
        None,
        Body::Json(json!({"flexible_variants": true})),
    )
    .await;
}

#[tokio::test]
async fn an_image_reports_its_draft_flag() {
    let h = Harness::new().await;
    let mut image = image_json("d");
    image["draft"] = json!(true);
    h.respond_ok(image).await;
    let got = h.client.v1().get("d").send().await.unwrap();
    assert_eq!(got.draft, Some(true));
}

// ---------------------------------------------------------------- variants

#[tokio::test]
async fn v1_variants_list_is_a_map_of_every_variant() {
    let h = Harness::new().await;
    h.respond_ok(
        json!({"variants": {"hero": variant_json("hero"), "thumbnail": variant_json("thumbnail")}}),
    )
    .await;
    let list = h.client.v1().variants().list().send().await.unwrap();
    let names: Vec<_> = list.variants.unwrap().0.into_keys().collect();
    assert_eq!(names, ["hero", "thumbnail"]);
    h.expect("GET", "v1/variants", None, Body::Empty).await;
}

#[tokio::test]
async fn v1_variants_create() {
    let h = Harness::new().await;
    h.respond_ok(json!({"variant": variant_json("hero")})).await;
    let v = h
        .client
        .v1()
        .variants()
        .create("hero", options(1366, 768))
        .never_require_signed_urls(true)
        .send()
        .await
        .unwrap();
    let def = v.variant.unwrap();
    assert_eq!(def.id, "hero");
    assert_eq!(def.never_require_signed_urls, Some(true));
    assert_eq!(def.options.fit, ImageVariantFit::ScaleDown);
    h.expect(
        "POST",
        "v1/variants",
        None,
        Body::Json(json!({"id": "hero", "neverRequireSignedURLs": true,
                          "options": {"fit": "scale-down", "height": 768, "metadata": "none", "width": 1366}})),
    )
    .await;
}

#[tokio::test]
async fn v1_variants_get() {
    let h = Harness::new().await;
    h.respond_ok(json!({"variant": variant_json("hero")})).await;
    let v = h.client.v1().variants().get("hero").send().await.unwrap();
    assert_eq!(v.variant.unwrap().options.width, 1366);
    h.expect("GET", "v1/variants/hero", None, Body::Empty).await;
}

#[tokio::test]
async fn v1_variants_edit() {
    let h = Harness::new().await;
    h.respond_ok(json!({"variant": variant_json("hero")})).await;
    let v = h
        .client
        .v1()
        .variants()
        .edit("hero", options(800, 600))
        .send()
        .await
        .unwrap();
    assert_eq!(v.variant.unwrap().id, "hero");
    // A PATCH carries only what the caller set: `neverRequireSignedURLs` has a
    // default in the spec, and sending it would reset the variant.
    h.expect(
        "PATCH",
        "v1/variants/hero",
        None,
        Body::Json(json!({"options": {"fit": "scale-down", "height": 600, "metadata": "none", "width": 800}})),
    )
    .await;
    let h = Harness::new().await;
    h.respond_ok(json!({"variant": variant_json("hero")})).await;
    h.client
        .v1()
        .variants()
        .edit("hero", options(800, 600))
        .never_require_signed_urls(true)
        .send()
        .await
        .unwrap();
    h.expect(
        "PATCH",
        "v1/variants/hero",
        None,
        Body::Json(json!({"neverRequireSignedURLs": true,
                          "options": {"fit": "scale-down", "height": 600, "metadata": "none", "width": 800}})),
    )
    .await;
}

#[tokio::test]
async fn v1_variants_delete() {
    let h = Harness::new().await;
    h.respond_ok(json!({})).await;
    h.client
        .v1()
        .variants()
        .delete("hero")
        .send()
        .await
        .unwrap();
    h.expect("DELETE", "v1/variants/hero", None, Body::Empty)
        .await;
}

#[tokio::test]
async fn v1_variants_get_flat() {
    let h = Harness::new().await;
    h.respond_ok(variant_json("hero")).await;
    let def = h
        .client
        .v1()
        .variants()
        .get_flat("hero")
        .send()
        .await
        .unwrap();
    assert_eq!((def.id.as_str(), def.options.height), ("hero", 768));
    h.expect("GET", "v1/variants/hero/flat", None, Body::Empty)
        .await;
}

// ---------------------------------------------------------------- images v2

#[tokio::test]
async fn v2_list() {
    let h = Harness::new().await;
    h.respond_ok(json!({"images": [image_json("a")], "continuation_token": "iD0bxlWFSVUWsDHbzIqvDkgBW4otifAAuGXLz1n8BQA"}))
        .await;
    let page = h
        .client
        .v2()
        .list()
        .continuation_token("tok")
        .per_page(1000u32)
        .sort_order(types::V2ListSortOrder::Asc)
        .creator("user-1")
        .send()
        .await
        .unwrap();
    assert_eq!(page.images.len(), 1);
    assert_eq!(
        page.continuation_token.as_deref(),
        Some("iD0bxlWFSVUWsDHbzIqvDkgBW4otifAAuGXLz1n8BQA")
    );
    h.expect(
        "GET",
        "v2",
        Some("continuation_token=tok&creator=user-1&per_page=1000&sort_order=asc"),
        Body::Empty,
    )
    .await;
}

#[tokio::test]
async fn v2_list_one_page_takes_metadata_filters() {
    use cloudflare_images::pagination::MetadataFilter;
    let h = Harness::new().await;
    h.respond_ok(json!({"images": [], "continuation_token": null}))
        .await;
    h.client
        .v2()
        .list()
        .per_page(100u32)
        .filter(MetadataFilter::eq("status", "active"))
        .filters([MetadataFilter::gte("size", 10)])
        .send()
        .await
        .unwrap();
    let req = h.single_request().await;
    assert_eq!(
        req.url.query(),
        Some("per_page=100&meta.status%5Beq%3Astring%5D=active&meta.size%5Bgte%3Anumber%5D=10")
    );
    // Six filters are more than the API takes: refused before sending.
    let h = Harness::new().await;
    let e = h
        .client
        .v2()
        .list()
        .filters((0..6).map(|i| MetadataFilter::eq(format!("k{i}"), "v")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), cloudflare_images::ErrorKind::InvalidInput);
    assert_eq!(h.request_count().await, 0);
}

#[tokio::test]
async fn v1_edit_metadata_takes_any_serialize_like_the_upload() {
    #[derive(serde::Serialize)]
    struct Tags {
        sku: u32,
        owner: &'static str,
    }
    let h = Harness::new().await;
    h.respond_ok(image_json(UUID)).await;
    h.client
        .v1()
        .edit(UUID)
        .metadata(Tags {
            sku: 7,
            owner: "ada",
        })
        .send()
        .await
        .unwrap();
    h.expect(
        "PATCH",
        &format!("v1/{UUID}"),
        None,
        Body::Json(json!({"metadata": {"sku": 7, "owner": "ada"}})),
    )
    .await;
    // Not an object, or NaN: refused before sending.
    let h = Harness::new().await;
    let nan = std::collections::BTreeMap::from([("x", f64::NAN)]);
    for e in [
        h.client
            .v1()
            .edit(UUID)
            .metadata([1, 2])
            .send()
            .await
            .unwrap_err(),
        h.client
            .v1()
            .edit(UUID)
            .metadata(nan)
            .send()
            .await
            .unwrap_err(),
    ] {
        assert_eq!(e.kind(), cloudflare_images::ErrorKind::InvalidInput, "{e}");
    }
    assert_eq!(h.request_count().await, 0);
}

#[tokio::test]
async fn v2_list_last_page_has_null_token() {
    let h = Harness::new().await;
    h.respond_ok(json!({"images": [], "continuation_token": null}))
        .await;
    let page = h.client.v2().list().send().await.unwrap();
    assert!(page.continuation_token.is_none());
    h.expect("GET", "v2", None, Body::Empty).await;
}

#[tokio::test]
async fn v2_direct_uploads_create() {
    let h = Harness::new().await;
    h.respond_ok(json!({"id": "uploads/1", "uploadURL": "https://upload.imagedelivery.net/hash/uploads%2F1"})).await;
    let expiry = chrono::Utc::now() + chrono::Duration::minutes(30);
    let result = h
        .client
        .v2()
        .direct_uploads()
        .create()
        .id("uploads/1")
        .creator("user-1")
        .expiry(expiry)
        .metadata(meta(&[("k", json!("v"))]))
        .send()
        .await
        .unwrap();
    assert_eq!(result.id.as_deref(), Some("uploads/1"));
    assert_eq!(
        result.upload_url.as_deref(),
        Some("https://upload.imagedelivery.net/hash/uploads%2F1")
    );
    h.expect(
        "POST",
        "v2/direct_upload",
        None,
        Body::Multipart(vec![
            Part::text("id", "uploads/1"),
            Part::text("creator", "user-1"),
            Part::text(
                "expiry",
                &expiry.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            Part::text("metadata", r#"{"k":"v"}"#),
        ]),
    )
    .await;
}

#[tokio::test]
async fn v2_direct_uploads_create_with_no_options_sends_one_field() {
    let h = Harness::new().await;
    h.respond_ok(json!({"id": UUID, "uploadURL": "https://upload.imagedelivery.net/hash/x"}))
        .await;
    h.client
        .v2()
        .direct_uploads()
        .create()
        .send()
        .await
        .unwrap();
    h.expect(
        "POST",
        "v2/direct_upload",
        None,
        Body::Multipart(vec![Part::text("requireSignedURLs", "false")]),
    )
    .await;
}

// ---------------------------------------------------------------- sourcing kit

#[tokio::test]
async fn v2_sourcing_kit_migrations_list() {
    let h = Harness::new().await;
    h.respond_ok(json!({"migrations": [migration_json()]}))
        .await;
    let list = h
        .client
        .v2()
        .sourcing_kit()
        .migrations()
        .list()
        .offset(25u32)
        .limit(25u32)
        .send()
        .await
        .unwrap();
    assert_eq!(
        list.migrations[0].status,
        Some(SourcingkitMigrationStatus::Processing)
    );
    h.expect(
        "GET",
        "v2/sourcingkit/migrations",
        Some("limit=25&offset=25"),
        Body::Empty,
    )
    .await;
}

#[tokio::test]
async fn v2_sourcing_kit_migrations_create() {
    let h = Harness::new().await;
    h.respond_ok(migration_json()).await;
    let source: uuid::Uuid = SOURCE.parse().unwrap();
    let m = h
        .client
        .v2()
        .sourcing_kit()
        .migrations()
        .create(source)
        .path_prefix("photos/")
        .send()
        .await
        .unwrap();
    assert_eq!(m.id.unwrap().to_string(), MIGRATION);
    let req = h.single_request().await;
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body, json!({"sourceId": SOURCE, "pathPrefix": "photos/"}));
    assert_eq!(
        req.url.path(),
        format!("/client/v4/accounts/{ACCOUNT}/images/v2/sourcingkit/migrations")
    );
    assert_eq!(req.method.as_str(), "POST");
}

#[tokio::test]
async fn v2_sourcing_kit_migrations_get() {
    let h = Harness::new().await;
    h.respond_ok(migration_json()).await;
    let m = h
        .client
        .v2()
        .sourcing_kit()
        .migrations()
        .get(MIGRATION.parse::<uuid::Uuid>().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(m.source_id.unwrap().to_string(), SOURCE);
    h.expect(
        "GET",
        &format!("v2/sourcingkit/migrations/{MIGRATION}"),
        None,
        Body::Empty,
    )
    .await;
}

#[tokio::test]
async fn v2_sourcing_kit_migrations_delete() {
    let h = Harness::new().await;
    h.respond_ok(migration_json()).await;
    h.client
        .v2()
        .sourcing_kit()
        .migrations()
        .delete(MIGRATION.parse::<uuid::Uuid>().unwrap())
        .send()
        .await
        .unwrap();
    h.expect(
        "DELETE",
        &format!("v2/sourcingkit/migrations/{MIGRATION}"),
        None,
        Body::Empty,
    )
    .await;
}

#[tokio::test]
async fn v2_sourcing_kit_migrations_lifecycle_get() {
    let h = Harness::new().await;
    h.respond_ok(json!({"scannedCount": 10, "importSuccessCount": 7, "importErrorsCount": 1, "isAccurate": true}))
        .await;
    let id: uuid::Uuid = MIGRATION.parse().unwrap();
    let p = h
        .client
        .v2()
        .sourcing_kit()
        .migrations()
        .lifecycle()
        .get(id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (p.scanned_count, p.import_success_count, p.is_accurate),
        (Some(10), Some(7), Some(true))
    );
    h.expect(
        "GET",
        &format!("v2/sourcingkit/migrations/{MIGRATION}/lifecycle"),
        None,
        Body::Empty,
    )
    .await;
}

#[tokio::test]
async fn v2_sourcing_kit_migrations_lifecycle_abort() {
    let h = Harness::new().await;
    h.respond_ok(migration_json()).await;
    let id: uuid::Uuid = MIGRATION.parse().unwrap();
    h.client
        .v2()
        .sourcing_kit()
        .migrations()
        .lifecycle()
        .abort(id)
        .send()
        .await
        .unwrap();
    let req = h.single_request().await;
    assert_eq!(req.method.as_str(), "PATCH");
    assert_eq!(req.url.path(), format!("/client/v4/accounts/{ACCOUNT}/images/v2/sourcingkit/migrations/{MIGRATION}/lifecycle/abort"));
}

#[tokio::test]
async fn v2_sourcing_kit_migrations_lifecycle_start() {
    let h = Harness::new().await;
    h.respond_ok(migration_json()).await;
    let id: uuid::Uuid = MIGRATION.parse().unwrap();
    let m = h
        .client
        .v2()
        .sourcing_kit()
        .migrations()
        .lifecycle()
        .start(id)
        .send()
        .await
        .unwrap();
    assert_eq!(m.id.unwrap(), id);
    let req = h.single_request().await;
    assert_eq!(req.method.as_str(), "PATCH");
    assert_eq!(req.url.path(), format!("/client/v4/accounts/{ACCOUNT}/images/v2/sourcingkit/migrations/{MIGRATION}/lifecycle/start"));
}

#[tokio::test]
async fn v2_sourcing_kit_migrations_lifecycle_logs() {
    let h = Harness::new().await;
    h.respond_ok(json!({"logs": [{"createdAt": "2026-01-01T00:00:00Z", "msg": "scanned", "logType": "brand_new_type"}]}))
        .await;
    let id: uuid::Uuid = MIGRATION.parse().unwrap();
    let logs = h
        .client
        .v2()
        .sourcing_kit()
        .migrations()
        .lifecycle()
        .logs(id)
        .limit(10u32)
        .send()
        .await
        .unwrap();
    assert_eq!(logs.logs[0].msg.as_deref(), Some("scanned"));
    // An enum value newer than the SDK decodes instead of failing the response.
    assert_eq!(
        logs.logs[0].log_type.as_ref().map(|t| t.as_str()),
        Some("brand_new_type")
    );
    h.expect(
        "GET",
        &format!("v2/sourcingkit/migrations/{MIGRATION}/logs"),
        Some("limit=10"),
        Body::Empty,
    )
    .await;
}

#[tokio::test]
async fn v2_sourcing_kit_sources_list() {
    let h = Harness::new().await;
    h.respond_ok(json!({"sources": [source_json()]})).await;
    let list = h
        .client
        .v2()
        .sourcing_kit()
        .sources()
        .list()
        .send()
        .await
        .unwrap();
    assert_eq!(list.sources[0].vendor, Some(SourcingkitVendor::S3));
    h.expect("GET", "v2/sourcingkit/sources", None, Body::Empty)
        .await;
}

#[tokio::test]
async fn v2_sourcing_kit_sources_create() {
    let h = Harness::new().await;
    h.respond_ok(source_json()).await;
    let secret = meta(&[
        ("access_key_id", json!("AKIA")),
        ("secret_access_key", json!("shh")),
    ]);
    let request = h
        .client
        .v2()
        .sourcing_kit()
        .sources()
        .create("my-bucket", "photos", secret, SourcingkitVendor::S3)
        .account("acct");
    assert!(
        !format!("{request:?}").contains("shh"),
        "secrets stay out of Debug"
    );
    let s = request.send().await.unwrap();
    assert_eq!(s.name.as_deref(), Some("photos"));
    h.expect(
        "POST",
        "v2/sourcingkit/sources",
        None,
        Body::Json(
            json!({"account": "acct", "bucket": "my-bucket", "name": "photos", "vendor": "s3",
                          "secret": {"access_key_id": "AKIA", "secret_access_key": "shh"}}),
        ),
    )
    .await;
}

#[tokio::test]
async fn v2_sourcing_kit_sources_get() {
    let h = Harness::new().await;
    h.respond_ok(source_json()).await;
    let s = h
        .client
        .v2()
        .sourcing_kit()
        .sources()
        .get(SOURCE.parse::<uuid::Uuid>().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(s.bucket.as_deref(), Some("my-bucket"));
    h.expect(
        "GET",
        &format!("v2/sourcingkit/sources/{SOURCE}"),
        None,
        Body::Empty,
    )
    .await;
}

#[tokio::test]
async fn v2_sourcing_kit_sources_update() {
    let h = Harness::new().await;
    h.respond_ok(source_json()).await;
    let id: uuid::Uuid = SOURCE.parse().unwrap();
    h.client
        .v2()
        .sourcing_kit()
        .sources()
        .update(id, "renamed")
        .send()
        .await
        .unwrap();
    h.expect(
        "PATCH",
        &format!("v2/sourcingkit/sources/{SOURCE}"),
        None,
        Body::Json(json!({"name": "renamed"})),
    )
    .await;
}

#[tokio::test]
async fn v2_sourcing_kit_sources_delete() {
    let h = Harness::new().await;
    h.respond_ok(source_json()).await;
    h.client
        .v2()
        .sourcing_kit()
        .sources()
        .delete(SOURCE.parse::<uuid::Uuid>().unwrap())
        .send()
        .await
        .unwrap();
    h.expect(
        "DELETE",
        &format!("v2/sourcingkit/sources/{SOURCE}"),
        None,
        Body::Empty,
    )
    .await;
}

#[tokio::test]
async fn v2_sourcing_kit_sources_connectivity() {
    let h = Harness::new().await;
    h.respond_ok(json!({"connectivityStatus": "ok"})).await;
    let id: uuid::Uuid = SOURCE.parse().unwrap();
    let c = h
        .client
        .v2()
        .sourcing_kit()
        .sources()
        .connectivity(id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        c.connectivity_status.map(|s| s.to_string()).as_deref(),
        Some("ok")
    );
    h.expect(
        "GET",
        &format!("v2/sourcingkit/sources/{SOURCE}/connectivity"),
        None,
        Body::Empty,
    )
    .await;
}

#[tokio::test]
async fn v2_sourcing_kit_sources_pre_check() {
    let h = Harness::new().await;
    h.respond_ok(
        json!({"connectivityStatus": "error", "code": "AccessDenied", "reason": "bad key"}),
    )
    .await;
    let secret = meta(&[("access_key_id", json!("AKIA"))]);
    let c = h
        .client
        .v2()
        .sourcing_kit()
        .sources()
        .pre_check("b", secret, SourcingkitVendor::R2)
        .account("acct")
        .send()
        .await
        .unwrap();
    assert_eq!(c.reason.as_deref(), Some("bad key"));
    h.expect(
        "POST",
        "v2/sourcingkit/sources/connectivity-precheck",
        None,
        Body::Json(json!({"account": "acct", "bucket": "b", "vendor": "r2", "secret": {"access_key_id": "AKIA"}})),
    )
    .await;
}
