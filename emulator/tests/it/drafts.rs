//! Direct-upload drafts: Cloudflare documents that a draft record "will not appear in the list
//! of images" until its one-time URL receives a file, so no listing (v1 pages, v2 tokens, the
//! creator filter) shows one; once completed it is listed like any image.

use reqwest::multipart::Form;
use serde_json::Value;

use crate::common::{file_form, listed_ids, png, Ctx};

/// Creates a draft (creator `c`) and returns its id and one-time URL.
async fn draft(ctx: &Ctx) -> (String, String) {
    let form = Form::new().text("creator", "c");
    let answer = ctx
        .send(ctx.http.post(ctx.url("v2/direct_upload")).multipart(form))
        .await;
    let result = answer.assert_ok();
    (
        result["id"].as_str().expect("id").to_owned(),
        result["uploadURL"].as_str().expect("uploadURL").to_owned(),
    )
}

#[tokio::test]
async fn a_draft_is_in_no_listing_until_its_file_arrives() {
    let ctx = Ctx::new().await;
    let stored = ctx.upload_png(&[("id", "stored"), ("creator", "c")]).await;
    assert_eq!(stored["id"], "stored");
    let (draft_id, upload_url) = draft(&ctx).await;
    // The draft exists (it can be fetched by id)...
    assert_eq!(
        ctx.get(&format!("v1/{draft_id}")).await.assert_ok()["draft"],
        true
    );

    // ...but no listing shows it.
    for path in [
        "v1",
        "v1?per_page=100&page=1",
        "v1?creator=c",
        "v2",
        "v2?sort_order=asc",
        "v2?creator=c",
    ] {
        let listed = ctx.get(path).await;
        assert_eq!(listed_ids(listed.assert_ok()), ["stored"], "GET {path}");
    }
    // Nor does a v2 page one image long hand out a token that leads to it.
    let first = ctx.get("v2?per_page=10").await;
    assert_eq!(first.assert_ok()["continuation_token"], Value::Null);

    // Completed, it is listed like any image, after the one uploaded before it.
    Ctx::raw(
        ctx.http
            .post(&upload_url)
            .multipart(file_form(png(), "late.png")),
    )
    .await
    .assert_ok();
    let listed = ctx.get("v1").await;
    assert_eq!(
        listed_ids(listed.assert_ok()),
        ["stored", draft_id.as_str()]
    );
    let listed = ctx.get("v2?sort_order=asc").await;
    assert_eq!(
        listed_ids(listed.assert_ok()),
        ["stored", draft_id.as_str()]
    );
}
