//! Path parameters are percent-encoded on the way out and come back intact.

use serde_json::json;
use test_support::harness::*;

#[tokio::test]
async fn image_ids_are_percent_encoded_in_paths() {
    let cases = [
        ("products/2024/café-01", "products%2F2024%2Fcaf%C3%A9-01"),
        ("a b", "a%20b"),
        ("100%", "100%25"),
        ("what?", "what%3F"),
        ("tag#1", "tag%231"),
        ("日本/画像", "%E6%97%A5%E6%9C%AC%2F%E7%94%BB%E5%83%8F"),
        // A backslash must not become a path separator, nor dot segments resolve.
        ("a\\b", "a%5Cb"),
        ("a\\..\\b", "a%5C..%5Cb"),
        ("..\\x", "..%5Cx"),
        ("a/../b", "a%2F..%2Fb"),
        ("[x]|^", "%5Bx%5D%7C%5E"),
        ("semi;colon", "semi%3Bcolon"),
    ];
    for (id, encoded) in cases {
        let h = Harness::new().await;
        h.respond_ok(image_json(id)).await;
        let image = h.client.v1().get(id).send().await.unwrap();
        assert_eq!(image.id.as_deref(), Some(id), "id comes back intact");
        h.expect("GET", &format!("v1/{encoded}"), None, Body::Empty)
            .await;
    }
}

#[tokio::test]
async fn encoded_ids_work_for_edit_delete_and_blob_too() {
    let id = "folder/sub folder/x?y";
    let encoded = "folder%2Fsub%20folder%2Fx%3Fy";
    let h = Harness::new().await;
    h.respond_ok(image_json(id)).await;
    h.client.v1().edit(id).creator("c").send().await.unwrap();
    h.expect(
        "PATCH",
        &format!("v1/{encoded}"),
        None,
        Body::Json(json!({"creator": "c"})),
    )
    .await;

    let h = Harness::new().await;
    h.respond_ok(json!({})).await;
    h.client.v1().delete(id).send().await.unwrap();
    h.expect("DELETE", &format!("v1/{encoded}"), None, Body::Empty)
        .await;
}

#[tokio::test]
async fn another_account_is_addressed_with_with_account() {
    let h = Harness::new().await;
    h.respond_ok(json!({"count": {"allowed": 1, "current": 0}}))
        .await;
    let other = h
        .client
        .with_account("0123456789abcdef0123456789abcdef")
        .unwrap();
    other.v1().stats().get().send().await.unwrap();
    let req = h.single_request().await;
    assert_eq!(
        req.url.path(),
        "/client/v4/accounts/0123456789abcdef0123456789abcdef/images/v1/stats"
    );
}
