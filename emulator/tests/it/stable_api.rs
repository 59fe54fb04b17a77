//! The library API a user's own tests rely on (README, "Stable API"): seeding images and
//! variants, faults switched on and off, and the request log and counters to assert on.

use cloudflare_images_emulator::fixtures::PIXEL_PNG;
use cloudflare_images_emulator::{RecordedRequest, SeedImage, SeedVariant};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn seeded_images_are_served_as_uploaded_ones() {
    let ctx = Ctx::new().await;
    let id = ctx
        .emu
        .seed_image(
            SeedImage::new(PIXEL_PNG)
                .id("products/cat")
                .filename("cat.png")
                .metadata(json!({"sku": "C-1"})),
        )
        .await
        .expect("seeded");
    assert_eq!(id, "products/cat");
    let generated = ctx
        .emu
        .seed_image(SeedImage::new(png()).require_signed_urls(true))
        .await
        .expect("seeded");
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    assert_eq!(ctx.emu.image_count(), 2);

    let image = ctx.get(&format!("v1/{}", enc(&id))).await;
    let image = image.assert_ok();
    assert_eq!(image["filename"], "cat.png");
    assert_eq!(image["meta"], json!({"sku": "C-1"}));
    assert_eq!(image["requireSignedURLs"], false);
    let private = ctx.get(&format!("v1/{generated}")).await;
    assert_eq!(private.assert_ok()["requireSignedURLs"], true);
    let blob = ctx
        .send(ctx.http.get(ctx.url(&format!("v1/{}/blob", enc(&id)))))
        .await;
    assert_eq!(blob.status, 200);
}

#[tokio::test]
async fn seeding_fails_as_the_upload_would() {
    let ctx = Ctx::new().await;
    let seed = || SeedImage::new(PIXEL_PNG).id("taken");
    ctx.emu.seed_image(seed()).await.expect("first");
    let err = ctx.emu.seed_image(seed()).await.expect_err("the id exists");
    assert_eq!((err.status(), err.code()), (409, 5409));

    let not_an_image = SeedImage::new(&b"hello"[..]);
    let err = ctx
        .emu
        .seed_image(not_an_image)
        .await
        .expect_err("no image");
    assert_eq!((err.status(), err.code()), (415, 9422));

    let array = SeedImage::new(PIXEL_PNG).metadata(json!([1]));
    let err = ctx.emu.seed_image(array).await.expect_err("not an object");
    assert_eq!((err.status(), err.code()), (400, 5400));

    let signed = SeedImage::new(PIXEL_PNG)
        .id("custom")
        .require_signed_urls(true);
    let err = ctx
        .emu
        .seed_image(signed)
        .await
        .expect_err("custom + signed");
    assert_eq!(err.code(), 5400);
    assert_eq!(ctx.emu.image_count(), 1);
}

#[tokio::test]
async fn seeded_variants_are_listed_and_delivered() {
    let ctx = Ctx::new().await;
    ctx.emu
        .seed_variant(
            SeedVariant::new("thumb", 2, 2)
                .fit("cover")
                .metadata("keep")
                .never_require_signed_urls(true),
        )
        .await
        .expect("seeded");
    let variant = ctx.get("v1/variants/thumb").await;
    assert_eq!(
        variant.assert_ok()["variant"],
        json!({
            "id": "thumb",
            "options": {"fit": "cover", "metadata": "keep", "width": 2, "height": 2},
            "neverRequireSignedURLs": true,
        })
    );
    let err = ctx
        .emu
        .seed_variant(SeedVariant::new("thumb", 2, 2))
        .await
        .expect_err("exists");
    assert_eq!(err.code(), 5409);
    let err = ctx
        .emu
        .seed_variant(SeedVariant::new("bad", 2, 2).fit("stretch"))
        .await
        .expect_err("no such fit");
    assert_eq!(err.code(), 5400);
    let err = ctx
        .emu
        .seed_variant(SeedVariant::new("big", 12_001, 2))
        .await
        .expect_err("too wide");
    assert_eq!(err.code(), 5400);

    let id = ctx
        .emu
        .seed_image(SeedImage::new(PIXEL_PNG))
        .await
        .expect("seeded");
    let path = format!("/{}/{id}/thumb", ctx.emu.account_hash());
    assert_eq!(ctx.deliver(&path).await.status(), 200);
}

#[tokio::test]
async fn the_request_log_shows_what_was_sent_and_answered() {
    let ctx = Ctx::new().await;
    ctx.get("v1/stats").await.assert_ok();
    ctx.emu.faults().fail_next(1, 503);
    ctx.get("v2?per_page=10").await.assert_error(503, 5503);
    let log = ctx.emu.requests();
    let api = format!("/client/v4/accounts/{}/images", ctx.emu.account_id());
    let seen: Vec<(&str, String, Option<&str>, Option<u16>)> = log
        .iter()
        .map(|r: &RecordedRequest| {
            (
                r.method.as_str(),
                r.path.clone(),
                r.query.as_deref(),
                r.status,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("GET", format!("{api}/v1/stats"), None, Some(200)),
            ("GET", format!("{api}/v2"), Some("per_page=10"), Some(503)),
        ]
    );
    assert_eq!(ctx.emu.request_count(), 2);

    ctx.emu.clear_requests();
    assert!(ctx.emu.requests().is_empty());
    assert_eq!(ctx.emu.request_count(), 2, "counters are not reset");

    ctx.emu.faults().set_reset_percent(100);
    let reset = ctx
        .http
        .get(ctx.url("v1/stats"))
        .bearer_auth(TOKEN)
        .send()
        .await;
    assert!(reset.is_err(), "the connection is closed without an answer");
    ctx.emu.faults().clear();
    let log = ctx.emu.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, None);
}

/// Odd and hostile ids: seeding accepts exactly the ids an upload accepts, refuses the
/// others with the upload's status and code, and a seeded odd id is served at its
/// percent-encoded path like an uploaded one.
#[tokio::test]
async fn seeding_accepts_and_refuses_the_ids_an_upload_does() {
    let ctx = Ctx::new().await;
    // Uploads go to an emulator of their own: the seeded ids would answer 409 here.
    let over_http = Ctx::new().await;
    let long = format!("p/{}", "x".repeat(1024));
    let ids = [
        "..",
        ".",
        "/leading",
        "023e105f-4eca-4bd4-8a6a-3c2d16d2a0b1",
        "p/..",
        "p/../b",
        "p/./a",
        "p\\b",
        "p/100%",
        "p/%2e%2e",
        "p/trailing/",
        "p//b",
        "p/café/ünïcödé",
        "p/space in id",
        "p/q?x=1",
        "p/frag#x",
        "p/tab\tid",
        long.as_str(),
    ];
    let mut accepted = 0;
    for id in ids {
        let seeded = ctx.emu.seed_image(SeedImage::new(PIXEL_PNG).id(id)).await;
        if let Ok(seeded_id) = &seeded {
            assert_eq!(seeded_id, id);
            accepted += 1;
            // An id with a "." or ".." segment, which a URL parser removes (even as
            // %2E), cannot be addressed in a path; the SDK refuses such custom ids.
            if !id.split('/').any(|s| s == "." || s == "..") {
                let got = ctx.get(&format!("v1/{}", enc(seeded_id))).await;
                assert_eq!(got.assert_ok()["id"], id, "{id:?}");
            }
        }
        let uploaded = over_http
            .upload(file_form(PIXEL_PNG.to_vec(), "p.png").text("id", id.to_string()))
            .await;
        match seeded {
            Ok(_) => assert_eq!(
                uploaded.status, 200,
                "{id:?}: seeded, but the upload failed"
            ),
            Err(err) => assert_eq!(
                (u64::from(err.status()), u64::from(err.code())),
                (u64::from(uploaded.status), uploaded.code()),
                "{id:?}: seeding and the upload refuse alike"
            ),
        }
    }
    // Both outcomes were exercised.
    assert!(
        accepted > 0 && accepted < ids.len(),
        "{accepted} of {}",
        ids.len()
    );
}
