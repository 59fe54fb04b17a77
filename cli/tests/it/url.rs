//! `cfimg url`: transformation and delivery URLs built and read back without the
//! API, and against an emulator: the account hash read from the image's record,
//! a signed URL the emulator serves, and a flexible variant of an image that
//! requires signed URLs refused before any delivery request.

use crate::common::*;

use cloudflare_images_emulator::{Emulator, SeedImage};
use serde_json::{json, Value};

fn parsed(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

#[test]
fn transformation_urls_are_built_with_checked_options() {
    let data = tempfile::tempdir().unwrap();
    let r = ok(
        local(data.path()),
        &[
            "url",
            "transform",
            "/uploads/cat.jpg",
            "--zone",
            "example.com",
            "--options",
            "w=400,f=auto,fit=cover",
        ],
    );
    assert_eq!(
        r.stdout,
        "https://example.com/cdn-cgi/image/w=400,format=auto,fit=cover/uploads/cat.jpg\n"
    );
    let r = ok(
        local(data.path()),
        &[
            "url",
            "transform",
            "https://origin.example/a.png",
            "--options",
            "q=high",
            "--json",
        ],
    );
    assert_eq!(
        parsed(&r),
        json!({"url": "/cdn-cgi/image/q=high/https://origin.example/a.png"})
    );

    // Out of range, unknown, or a bad zone: usage errors, nothing printed on stdout.
    for (options, zone, says) in [
        ("w=0", "example.com", "between 1 and"),
        ("q=101", "example.com", "q must be between 1 and 100"),
        ("nope=1", "example.com", "nope"),
        ("w=10", "https://example.com/", "zone"),
    ] {
        let r = run(
            local(data.path()),
            &[
                "url",
                "transform",
                "/a.png",
                "--zone",
                zone,
                "--options",
                options,
            ],
        );
        assert_eq!(r.code, 2, "{options} {zone}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
        assert!(r.stderr.contains(says), "{options}: {}", r.stderr);
    }
}

#[test]
fn urls_are_read_back_into_their_parts() {
    let data = tempfile::tempdir().unwrap();
    let url = "https://imagedelivery.net/ZWd9g1K7eljCn_KDTu_MWA/products%2Fcat.png/w=200,fit=cover?exp=1700000000&sig=abcd";
    let r = ok(local(data.path()), &["url", "parse", url, "--json"]);
    assert_eq!(
        parsed(&r),
        json!({
            "kind": "delivery",
            "origin": "https://imagedelivery.net",
            "account_hash": "ZWd9g1K7eljCn_KDTu_MWA",
            "image_id": "products/cat.png",
            "variant": {"options": {"w": "200", "fit": "cover"}},
            "exp": 1_700_000_000,
            "signed": true,
        })
    );
    let r = ok(local(data.path()), &["url", "parse", url]);
    assert!(
        r.stdout.contains("image id:     products/cat.png\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("options:      w=200\n"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("expires:      2023-11-14T22:13:20+00:00\n"),
        "{}",
        r.stdout
    );

    let r = ok(
        local(data.path()),
        &[
            "url",
            "parse",
            "https://example.com/cdn-cgi/image/h=300,q=80/https://origin.example/x.jpg",
            "--json",
        ],
    );
    assert_eq!(
        parsed(&r),
        json!({
            "kind": "transformation",
            "zone": "example.com",
            "options": {"h": "300", "q": "80"},
            "source": {"url": "https://origin.example/x.jpg"},
        })
    );
    let r = ok(
        local(data.path()),
        &[
            "url",
            "parse",
            "https://img.example.com/cdn-cgi/imagedelivery/h1/a/b/thumb",
            "--json",
        ],
    );
    assert_eq!(parsed(&r)["variant"], json!({"name": "thumb"}));
    assert_eq!(parsed(&r)["image_id"], "a/b");

    let r = run(
        local(data.path()),
        &["url", "parse", "https://example.com/not/an/image/url"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn delivery_urls_are_built_offline_with_an_account_hash() {
    let data = tempfile::tempdir().unwrap();
    let r = ok(
        local(data.path()),
        &[
            "url",
            "image",
            "products/cat",
            "--account-hash",
            "ZWd9g1K7eljCn_KDTu_MWA",
            "--variant",
            "w=400,sharpen=3",
            "--zone",
            "img.example.com",
        ],
    );
    assert_eq!(
        r.stdout,
        "https://img.example.com/cdn-cgi/imagedelivery/ZWd9g1K7eljCn_KDTu_MWA/products/cat/w=400,sharpen=3\n"
    );
    // Declared to require signed URLs: a flexible variant is refused, a name is not.
    let r = run(
        local(data.path()),
        &[
            "url",
            "image",
            "products/cat",
            "--account-hash",
            "h",
            "--variant",
            "w=400",
            "--signed-image",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("signed"), "{}", r.stderr);
    let r = ok(
        local(data.path()),
        &[
            "url",
            "image",
            "products/cat",
            "--account-hash",
            "h",
            "--signed-image",
        ],
    );
    assert_eq!(
        r.stdout,
        "https://imagedelivery.net/h/products/cat/public\n"
    );
}

#[test]
fn srcset_markup_counts_its_transformations() {
    let data = tempfile::tempdir().unwrap();
    let r = ok(
        local(data.path()),
        &[
            "url",
            "srcset",
            "--source",
            "/a.jpg",
            "--zone",
            "example.com",
            "--widths",
            "800,400",
            "--markup",
            "srcset",
        ],
    );
    assert_eq!(
        r.stdout,
        "https://example.com/cdn-cgi/image/w=400/a.jpg 400w, https://example.com/cdn-cgi/image/w=800/a.jpg 800w\n"
    );
    assert!(
        r.stderr.contains("2 distinct transformation"),
        "{}",
        r.stderr
    );

    let r = ok(
        local(data.path()),
        &[
            "url",
            "srcset",
            "cat",
            "--account-hash",
            "h",
            "--widths",
            "320,640",
            "--options",
            "fit=scale-down",
            "--sizes",
            "(max-width: 640px) 100vw, 640px",
            "--markup",
            "picture",
            "--alt",
            "A \"cat\"",
            "--json",
        ],
    );
    let v = parsed(&r);
    assert_eq!(v["transformations"], 6, "{v}");
    assert_eq!(v["widths"], json!([320, 640]));
    assert_eq!(v["sizes"], "(max-width: 640px) 100vw, 640px");
    let markup = v["markup"].as_str().unwrap();
    assert!(
        markup.starts_with("<picture><source type=\"image/avif\""),
        "{markup}"
    );
    assert!(markup.contains("alt=\"A &quot;cat&quot;\""), "{markup}");
    assert!(
        markup.contains("https://imagedelivery.net/h/cat/fit=scale-down,w=640,format=webp 640w"),
        "{markup}"
    );

    // Seventeen widths: more than the bounded set allows.
    let widths = (1..=17)
        .map(|w| (w * 100).to_string())
        .collect::<Vec<_>>()
        .join(",");
    let r = run(
        local(data.path()),
        &[
            "url",
            "srcset",
            "--source",
            "/a.jpg",
            "--zone",
            "example.com",
            "--widths",
            &widths,
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn image_urls_come_from_the_record_and_signed_ones_are_served() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime.block_on(Emulator::start()).unwrap();
    let open = runtime
        .block_on(emulator.seed_image(SeedImage::new(PIXEL_PNG.to_vec()).id("open/cat")))
        .unwrap();
    let private = runtime
        .block_on(emulator.seed_image(SeedImage::new(PIXEL_PNG.to_vec()).require_signed_urls(true)))
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let origin = emulator.origin();
    let hash = emulator.account_hash();

    let r = ok(remote(&emulator, d), &["url", "image", &open, "--json"]);
    let url = parsed(&r)["url"].as_str().unwrap().to_string();
    assert_eq!(url, format!("{origin}/{hash}/open/cat/public"));
    let status = |url: &str| {
        runtime
            .block_on(reqwest::get(url))
            .expect("delivery answers")
            .status()
            .as_u16()
    };
    assert_eq!(status(&url), 200);

    // Requires signed URLs: unsigned refused by the emulator, signed served.
    let r = ok(remote(&emulator, d), &["url", "image", &private]);
    assert_eq!(status(r.stdout.trim()), 403);
    let r = ok(
        remote(&emulator, d),
        &[
            "url",
            "image",
            &private,
            "--sign",
            "--expires-in",
            "10m",
            "--json",
        ],
    );
    let signed = parsed(&r);
    let signed_url = signed["url"].as_str().unwrap();
    assert!(signed_url.contains("?exp="), "{signed_url}");
    assert_eq!(status(signed_url), 200);

    // A flexible variant of it: refused by cfimg before any delivery request.
    emulator.clear_requests();
    let r = run(
        remote(&emulator, d),
        &["url", "image", &private, "--variant", "w=100", "--sign"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("signed"), "{}", r.stderr);
    let sent: Vec<String> = emulator
        .requests()
        .iter()
        .map(|q| format!("{} {}", q.method, q.path))
        .collect();
    assert_eq!(
        sent,
        [format!(
            "GET /client/v4/accounts/{}/images/v1/{private}",
            emulator.account_id()
        )],
        "only the record was read"
    );
    // `cfimg sign` refuses it as well, and `cfimg get` says the URLs need signing.
    let r = run(
        remote(&emulator, d),
        &["sign", &private, "--variant", "w=100"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("named variants only"), "{}", r.stderr);
    let r = ok(remote(&emulator, d), &["get", &private]);
    assert!(
        r.stderr
            .contains(&format!("cfimg url image {private} --sign")),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout
            .contains(&format!("{origin}/{hash}/{private}/public")),
        "{}",
        r.stdout
    );
    runtime.block_on(emulator.shutdown());
}
