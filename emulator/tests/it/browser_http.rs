//! What a browser needs, at the HTTP level: CORS on one-time upload URLs (preflight, POST
//! answers, errors and faults included), on delivery, none on the API; and the console pages.

use crate::common::*;
use reqwest::header::{HeaderMap, ACCESS_CONTROL_ALLOW_ORIGIN};
use reqwest::Method;
use serde_json::Value;

const WEB_APP: &str = "http://127.0.0.1:1";

fn urlencoded(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn acao(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(ACCESS_CONTROL_ALLOW_ORIGIN)
        .and_then(|v| v.to_str().ok())
}

/// A draft's one-time upload URL.
async fn upload_url(ctx: &Ctx, fields: &[(&str, &str)]) -> (String, String) {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let mut rb = ctx.http.post(ctx.url("v2/direct_upload"));
    if !fields.is_empty() {
        rb = rb.multipart(form);
    }
    let created = ctx.send(rb).await;
    let result = created.assert_ok();
    assert_eq!(acao(&created.headers), None, "the API sends no CORS");
    (
        result["id"].as_str().unwrap().to_owned(),
        result["uploadURL"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn upload_url_answers_a_preflight() {
    let ctx = Ctx::new().await;
    let (_, url) = upload_url(&ctx, &[]).await;
    let resp = ctx
        .http
        .request(Method::OPTIONS, &url)
        .header("Origin", WEB_APP)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "x-requested-with, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let h = resp.headers();
    assert_eq!(acao(h), Some("*"));
    assert_eq!(h["access-control-allow-methods"], "POST, OPTIONS");
    assert_eq!(
        h["access-control-allow-headers"],
        "x-requested-with, content-type"
    );
    assert_eq!(h["access-control-max-age"], "7200");
    // The preflight did not use the URL.
    let answer = Ctx::raw(
        ctx.http
            .post(&url)
            .header("Origin", WEB_APP)
            .multipart(file_form(png(), "a.png")),
    )
    .await;
    answer.assert_ok();
    assert_eq!(acao(&answer.headers), Some("*"));
}

#[tokio::test]
async fn upload_url_errors_carry_cors_too() {
    let ctx = Ctx::new().await;
    let (id, url) = upload_url(&ctx, &[]).await;
    // Not an image.
    let bad = Ctx::raw(
        ctx.http
            .post(&url)
            .header("Origin", WEB_APP)
            .multipart(file_form(b"not an image".to_vec(), "a.png")),
    )
    .await;
    assert!(bad.status >= 400, "{}", bad.json);
    assert_eq!(acao(&bad.headers), Some("*"));
    // Used twice.
    Ctx::raw(ctx.http.post(&url).multipart(file_form(png(), "a.png")))
        .await
        .assert_ok();
    let reused = Ctx::raw(ctx.http.post(&url).multipart(file_form(png(), "a.png"))).await;
    reused.assert_error(400, 5400);
    assert_eq!(acao(&reused.headers), Some("*"));
    // Unknown URL, wrong method.
    let gone = Ctx::raw(
        ctx.http
            .post(format!("{url}x"))
            .multipart(file_form(png(), "a.png")),
    )
    .await;
    assert_eq!(gone.status, 404);
    assert_eq!(acao(&gone.headers), Some("*"));
    let get = Ctx::raw(ctx.http.get(&url)).await;
    assert_eq!(get.status, 405);
    assert_eq!(acao(&get.headers), Some("*"));
    // An injected fault.
    let (_, url2) = upload_url(&ctx, &[]).await;
    ctx.emu.faults().fail_next(1, 503);
    let fault = Ctx::raw(ctx.http.post(&url2).multipart(file_form(png(), "a.png"))).await;
    assert_eq!(fault.status, 503);
    assert_eq!(acao(&fault.headers), Some("*"));
    assert!(!id.is_empty());
}

#[tokio::test]
async fn a_plain_form_post_gets_the_envelope() {
    let ctx = Ctx::new().await;
    let (id, url) = upload_url(&ctx, &[("metadata", r#"{"from":"form"}"#)]).await;
    // What a browser sends for <form method=post enctype=multipart/form-data>: the file, a
    // submit button's field, an Origin, no Access-Control-Request-*.
    let form = file_form(png(), "photo.png").text("submit", "Upload");
    let answer = Ctx::raw(
        ctx.http
            .post(&url)
            .header("Origin", "null")
            .header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .multipart(form),
    )
    .await;
    let result = answer.assert_ok();
    assert_eq!(result["id"], Value::String(id.clone()));
    assert!(answer.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let image = ctx.get(&format!("v1/{}", enc(&id))).await;
    assert_eq!(image.assert_ok()["draft"], Value::Null);
}

#[tokio::test]
async fn delivery_is_readable_cross_origin_and_the_api_is_not() {
    let ctx = Ctx::new().await;
    let image = ctx.upload_png(&[]).await;
    let id = image["id"].as_str().unwrap();
    let hash = ctx.emu.account_hash().to_owned();
    for path in [
        format!("/{hash}/{id}/public"),
        format!("/cdn-cgi/imagedelivery/{hash}/{id}/public"),
        format!("/{hash}/nope/public"),
    ] {
        let resp = ctx
            .http
            .get(format!("{}{path}", ctx.emu.origin()))
            .header("Origin", WEB_APP)
            .send()
            .await
            .unwrap();
        assert_eq!(acao(resp.headers()), Some("*"), "{path}");
    }
    // A private image: refused unsigned, with CORS so the page can read the 403.
    let private = ctx.upload_png(&[("requireSignedURLs", "true")]).await;
    let resp = ctx
        .deliver(&format!(
            "/{hash}/{}/public",
            private["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(acao(resp.headers()), Some("*"));

    // The API: no permissive CORS, on success, error and preflight alike.
    for (method, path, auth) in [
        (Method::GET, "v1", true),
        (Method::GET, "v1", false),
        (Method::OPTIONS, "v1", false),
        (Method::POST, "v2/direct_upload", false),
        (Method::OPTIONS, "v2/direct_upload", true),
    ] {
        let mut rb = ctx
            .http
            .request(method.clone(), ctx.url(path))
            .header("Origin", WEB_APP)
            .header("Access-Control-Request-Method", "POST");
        if auth {
            rb = rb.bearer_auth(TOKEN);
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(acao(resp.headers()), None, "{method} {path}");
        assert!(
            resp.headers()
                .keys()
                .all(|k| !k.as_str().starts_with("access-control-")),
            "{method} {path}"
        );
    }
}

// ----------------------------------------------------------------------------------------------
// The console

async fn page(ctx: &Ctx, path: &str) -> (u16, HeaderMap, String) {
    let resp = ctx
        .http
        .get(format!("{}{path}", ctx.emu.origin()))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

#[tokio::test]
async fn console_lists_and_escapes() {
    let ctx = Ctx::new().await;
    let evil = r#"<img src=x onerror="alert(1)">"#;
    let image = ctx
        .upload_png(&[
            ("id", "shop/<b>bold</b>&co"),
            ("metadata", &serde_json::json!({ "note": evil }).to_string()),
        ])
        .await;
    let id = image["id"].as_str().unwrap();
    let private = ctx.upload_png(&[("requireSignedURLs", "true")]).await;
    let private_id = private["id"].as_str().unwrap();

    let (status, headers, html) = page(&ctx, "/").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    assert_eq!(acao(&headers), None);
    assert!(!html.contains("<b>bold</b>"), "{html}");
    assert!(html.contains("shop/&lt;b&gt;bold&lt;/b&gt;&amp;co"));
    assert!(html.contains("/console/image?id=shop%2F%3Cb%3Ebold%3C%2Fb%3E%26co"));
    assert!(html.contains(private_id));
    // The private image's thumbnail is signed, and the emulator accepts it.
    let thumb = html
        .split('"')
        .find(|s| s.contains(private_id) && s.contains("sig="))
        .expect("a signed thumbnail")
        .replace("&amp;", "&");
    assert_eq!(ctx.deliver(&thumb).await.status(), 200);

    let (status, _, html) = page(&ctx, &format!("/console/image?id={}", enc(id))).await;
    assert_eq!(status, 200);
    assert!(!html.contains(evil), "{html}");
    assert!(html.contains(r"&lt;img src=x onerror=\&quot;alert(1)\&quot;&gt;"));

    // The signed-URL generator.
    let (status, _, html) = page(
        &ctx,
        &format!("/console/image?id={private_id}&variant=public&ttl=60"),
    )
    .await;
    assert_eq!(status, 200);
    let signed = html
        .split('"')
        // The generator's absolute URL (the preview above it is signed too, but relative).
        .find(|s| s.starts_with("http") && s.contains("/public?exp=") && s.contains("sig="))
        .expect("a signed URL")
        .replace("&amp;", "&");
    let resp = ctx.http.get(&signed).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{signed}");

    let (status, _, html) = page(&ctx, "/console/variants").await;
    assert_eq!(status, 200);
    assert!(html.contains("public"));
    // The emulator renders variants: the page must not say otherwise.
    assert!(!html.contains("never resizes"), "{html}");
    assert!(html.contains("resized to its width and height"), "{html}");
    let (status, _, html) = page(&ctx, "/console/upload").await;
    assert_eq!(status, 200);
    assert!(html.contains("id=upload-file"));
    let (status, headers, js) = page(&ctx, "/console/console.js").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.contains("XMLHttpRequest"));
    let (status, _, _) = page(&ctx, "/console/image?id=missing").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn console_pages_through_the_gallery() {
    let ctx = Ctx::new().await;
    let ids = ctx.emu.seed_images(30).await;
    let (_, _, first) = page(&ctx, "/").await;
    assert!(first.contains(&ids[29]) && !first.contains(&ids[0]));
    let next = first
        .split('"')
        .find(|s| s.starts_with("/?after="))
        .expect("a next link");
    let (_, _, second) = page(&ctx, next).await;
    assert!(second.contains(&ids[0]) && !second.contains(&ids[29]));
    assert!(!second.contains("/?after="));
}

#[tokio::test]
async fn console_creates_upload_urls_and_deletes_same_origin_only() {
    let ctx = Ctx::new().await;
    let origin = ctx.emu.origin();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let created = Ctx::raw(
        http.post(format!("{origin}/console/upload-url"))
            .header("Origin", &origin)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(urlencoded(&[
                ("id", "console/one"),
                ("metadata", r#"{"a":1}"#),
            ])),
    )
    .await;
    let result = created.assert_ok().clone();
    assert_eq!(result["id"], "console/one");
    let url = result["uploadURL"].as_str().unwrap();
    Ctx::raw(http.post(url).multipart(file_form(png(), "x.png")))
        .await
        .assert_ok();
    assert_eq!(
        ctx.get("v1/console%2Fone").await.assert_ok()["meta"]["a"],
        1
    );
    // Bad input is an envelope error.
    Ctx::raw(
        http.post(format!("{origin}/console/upload-url"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(urlencoded(&[("metadata", "[1]")])),
    )
    .await
    .assert_error(400, 5400);

    // Another site cannot delete through a visitor's browser.
    let resp = http
        .post(format!("{origin}/console/delete"))
        .header("Origin", WEB_APP)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(urlencoded(&[("id", "console/one")]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    ctx.get("v1/console%2Fone").await.assert_ok();
    // The console's delete form, posted from its own origin.
    let console_delete = |fields: &[(&str, &str)]| {
        let request = http
            .post(format!("{origin}/console/delete"))
            .header("Origin", &origin)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(urlencoded(fields));
        async move { request.send().await.unwrap() }
    };
    // From the console itself: first a page asking to confirm, the image still there...
    let resp = console_delete(&[("id", "console/one")]).await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("Delete image <code>console/one</code>?"),
        "{page}"
    );
    assert!(page.contains("name=confirm value=yes"), "{page}");
    assert!(
        page.contains("href=\"/console/image?id=console%2Fone\""),
        "{page}"
    );
    ctx.get("v1/console%2Fone").await.assert_ok();
    // ...then, confirmed, the delete and a report in the gallery.
    let resp = console_delete(&[("id", "console/one"), ("confirm", "yes")]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/?deleted=console%2Fone");
    ctx.get("v1/console%2Fone").await.assert_error(404, 5404);
    let gallery = http
        .get(format!("{origin}/?deleted=console%2Fone"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        gallery.contains("id=notice role=status>Deleted image <code>console/one</code>."),
        "{gallery}"
    );
    // The report is only made for an image that is gone, whatever the query says.
    ctx.upload_png(&[("id", "still-here")]).await;
    let gallery = http
        .get(format!("{origin}/?deleted=still-here"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!gallery.contains("id=notice"), "{gallery}");
    // Deleting what does not exist asks nothing: 404.
    let resp = console_delete(&[("id", "console/one")]).await;
    assert_eq!(resp.status(), 404);
}
