//! Delivery URLs, signed URLs and their verifier: exact URLs, known-answer
//! signatures computed independently, rejection of tampered, expired and
//! unsigned URLs, and end-to-end delivery from the emulator.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, TimeZone, Utc};
use cloudflare_images::delivery::{
    sign_url, verify_signed_url, DeliveryUrl, Expiry, Fit, Format, Gravity, MetadataPolicy, Rotate,
    SigningKey, TransformOptions, Variant, VerifyError,
};
use cloudflare_images::{Client, ErrorKind};
use cloudflare_images_emulator::fixtures::PIXEL_PNG;
use cloudflare_images_emulator::{Emulator, EmulatorHandle};

const HASH: &str = "ZWd9g1K7eljCn_KDTu_MWA";
const UUID: &str = "083eb7b2-5392-4565-b69e-aff66acddd00";
const EXP: i64 = 1631289275;

fn key(value: &str) -> SigningKey {
    SigningKey::new(value).expect("non-empty key")
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .expect("valid timestamp")
}

fn invalid(result: cloudflare_images::Result<DeliveryUrl>) -> String {
    let e = result.expect_err("expected InvalidInput");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    e.to_string()
}

// ---------------------------------------------------------------------------
// URL building
// ---------------------------------------------------------------------------

#[test]
fn named_variant_on_imagedelivery_net() {
    let url = DeliveryUrl::new(HASH, UUID, "public").unwrap();
    assert_eq!(
        url.to_string(),
        "https://imagedelivery.net/ZWd9g1K7eljCn_KDTu_MWA/083eb7b2-5392-4565-b69e-aff66acddd00/public"
    );
    assert_eq!(url.url(), url.to_string());
    assert_eq!(url.origin(), "https://imagedelivery.net");
    assert_eq!(
        url.path(),
        "/ZWd9g1K7eljCn_KDTu_MWA/083eb7b2-5392-4565-b69e-aff66acddd00/public"
    );
    assert_eq!(
        (url.account_hash(), url.image_id(), url.variant()),
        (HASH, UUID, "public")
    );
}

#[test]
fn custom_domain_form() {
    let url = DeliveryUrl::new(HASH, UUID, "thumbnail")
        .unwrap()
        .on_zone("Images.Example.com")
        .unwrap();
    assert_eq!(
        url.to_string(),
        "https://images.example.com/cdn-cgi/imagedelivery/ZWd9g1K7eljCn_KDTu_MWA/083eb7b2-5392-4565-b69e-aff66acddd00/thumbnail"
    );
    assert_eq!(
        url.path(),
        "/cdn-cgi/imagedelivery/ZWd9g1K7eljCn_KDTu_MWA/083eb7b2-5392-4565-b69e-aff66acddd00/thumbnail"
    );
    for bad in [
        "",
        "https://images.example.com",
        "images.example.com/x",
        "exa mple.com",
        "-x.com",
    ] {
        let msg = invalid(DeliveryUrl::new(HASH, UUID, "public").unwrap().on_zone(bad));
        assert!(msg.contains("invalid zone"), "{msg}");
    }
}

#[test]
fn base_url_override() {
    let url = DeliveryUrl::new(HASH, UUID, "public")
        .unwrap()
        .with_base_url("http://127.0.0.1:8787/")
        .unwrap();
    assert_eq!(
        url.to_string(),
        "http://127.0.0.1:8787/ZWd9g1K7eljCn_KDTu_MWA/083eb7b2-5392-4565-b69e-aff66acddd00/public"
    );
    let url = url
        .with_base_url("https://example.com/cdn-cgi/imagedelivery")
        .unwrap();
    assert_eq!(
        url.to_string(),
        "https://example.com/cdn-cgi/imagedelivery/ZWd9g1K7eljCn_KDTu_MWA/083eb7b2-5392-4565-b69e-aff66acddd00/public"
    );
    for bad in [
        "not a url",
        "ftp://example.com",
        "http://example.com/?q=1",
        "http://example.com/#f",
        "http://user:pw@example.com",
    ] {
        invalid(
            DeliveryUrl::new(HASH, UUID, "public")
                .unwrap()
                .with_base_url(bad),
        );
    }
}

#[test]
fn flexible_variant_options_in_order() {
    let url =
        DeliveryUrl::new(HASH, UUID, TransformOptions::new().width(400).sharpen(3.0)).unwrap();
    assert_eq!(
        url.to_string(),
        "https://imagedelivery.net/ZWd9g1K7eljCn_KDTu_MWA/083eb7b2-5392-4565-b69e-aff66acddd00/w=400,sharpen=3"
    );
    let all = TransformOptions::new()
        .height(300)
        .width(400)
        .fit(Fit::ScaleDown)
        .quality(85)
        .format(Format::Avif)
        .sharpen(1.5)
        .blur(20.0)
        .dpr(2.0)
        .gravity(Gravity::Point { x: 0.5, y: 0.25 })
        .rotate(Rotate::Deg270)
        .metadata(MetadataPolicy::Copyright)
        .anim(false)
        .brightness(1.1)
        .contrast(0.9)
        .gamma(1.0)
        .saturation(0.0)
        .option("trim.top", "10");
    assert_eq!(
        all.render().unwrap(),
        "h=300,w=400,fit=scale-down,q=85,format=avif,sharpen=1.5,blur=20,dpr=2,\
         gravity=0.5x0.25,rotate=270,metadata=copyright,anim=false,brightness=1.1,\
         contrast=0.9,gamma=1,saturation=0,trim.top=10"
    );
    // Setting again replaces in place.
    let o = TransformOptions::new()
        .width(100)
        .fit(Fit::Cover)
        .width(200)
        .gravity(Gravity::Auto);
    assert_eq!(o.render().unwrap(), "w=200,fit=cover,gravity=auto");
    assert_eq!(
        o.iter().collect::<Vec<_>>(),
        [("w", "200"), ("fit", "cover"), ("gravity", "auto")]
    );
    let url = DeliveryUrl::new(HASH, "a/b", &o)
        .unwrap()
        .on_zone("example.com")
        .unwrap();
    assert_eq!(
        url.path(),
        "/cdn-cgi/imagedelivery/ZWd9g1K7eljCn_KDTu_MWA/a/b/w=200,fit=cover,gravity=auto"
    );
    assert_eq!(url.variant(), "w=200,fit=cover,gravity=auto");
}

#[test]
fn flexible_values_are_validated() {
    let cases: Vec<(TransformOptions, &str)> = vec![
        (TransformOptions::new(), "at least one option"),
        (
            TransformOptions::new().width(0),
            "w must be between 1 and 12000",
        ),
        (TransformOptions::new().height(12_001), "h must be between"),
        (
            TransformOptions::new().quality(0),
            "q must be between 1 and 100",
        ),
        (TransformOptions::new().quality(101), "q must be"),
        (
            TransformOptions::new().sharpen(10.5),
            "sharpen must be between 0 and 10",
        ),
        (TransformOptions::new().sharpen(f64::NAN), "sharpen must be"),
        (
            TransformOptions::new().blur(0.0),
            "blur must be between 1 and 250",
        ),
        (TransformOptions::new().dpr(0.0), "dpr must be above 0"),
        (TransformOptions::new().dpr(f64::INFINITY), "dpr must be"),
        (
            TransformOptions::new().gravity(Gravity::Point { x: 1.5, y: 0.0 }),
            "gravity coordinates",
        ),
        (
            TransformOptions::new().brightness(-1.0),
            "brightness must be",
        ),
        (
            TransformOptions::new().option("W", "1"),
            "invalid flexible-variant option name",
        ),
        (
            TransformOptions::new().option("bg", "#fff"),
            "invalid value",
        ),
        (TransformOptions::new().option("bg", ""), "invalid value"),
        // The first error is kept even if later values are fine.
        (TransformOptions::new().quality(0).width(10), "q must be"),
    ];
    for (options, expected) in cases {
        let e = options.render().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains(expected), "{e} vs {expected}");
        let msg = invalid(DeliveryUrl::new(HASH, UUID, options));
        assert!(msg.contains(expected), "{msg}");
    }
}

#[test]
fn image_ids_are_escaped_per_segment() {
    let cases = [
        // `/` stays a separator; each segment is escaped on its own.
        ("products/2024/a.png", "products/2024/a.png"),
        ("with space", "with%20space"),
        ("q?uestion", "q%3Fuestion"),
        ("hash#tag", "hash%23tag"),
        ("100%", "100%25"),
        ("café/ü", "caf%C3%A9/%C3%BC"),
        ("日本", "%E6%97%A5%E6%9C%AC"),
        ("a+b=c&d,e;f:g@h!i", "a%2Bb%3Dc%26d%2Ce%3Bf%3Ag%40h%21i"),
        ("keep-._~", "keep-._~"),
        ("a//b", "a//b"),
        ("back\\slash", "back%5Cslash"),
    ];
    for (id, encoded) in cases {
        let url = DeliveryUrl::new(HASH, id, "public").unwrap();
        assert_eq!(
            url.to_string(),
            format!("https://imagedelivery.net/{HASH}/{encoded}/public"),
            "{id}"
        );
        assert_eq!(url.image_id(), id);
    }
}

#[test]
fn inputs_are_validated() {
    let msg = invalid(DeliveryUrl::new("", UUID, "public"));
    assert!(msg.contains("account hash must not be empty"), "{msg}");
    let msg = invalid(DeliveryUrl::new("bad/hash", UUID, "public"));
    assert!(msg.contains("account hash"), "{msg}");
    let msg = invalid(DeliveryUrl::new(HASH, "", "public"));
    assert!(msg.contains("image id must not be empty"), "{msg}");
    invalid(DeliveryUrl::new(HASH, "x".repeat(1025), "public"));
    invalid(DeliveryUrl::new(HASH, "a\nb", "public"));
    for id in ["/lead", "trail/", "a/../b", "./a", "a/."] {
        invalid(DeliveryUrl::new(HASH, id, "public"));
    }
    let msg = invalid(DeliveryUrl::new(HASH, UUID, ""));
    assert!(msg.contains("variant name must not be empty"), "{msg}");
    let msg = invalid(DeliveryUrl::new(HASH, UUID, "a/b"));
    assert!(msg.contains("contains '/'"), "{msg}");
    let msg = invalid(DeliveryUrl::new(HASH, UUID, "w=400"));
    assert!(msg.contains("TransformOptions"), "{msg}");
    invalid(DeliveryUrl::new(HASH, UUID, "sp ace"));
    invalid(DeliveryUrl::new(HASH, UUID, "x".repeat(100)));
    assert!(DeliveryUrl::new(HASH, UUID, "x".repeat(99)).is_ok());
    assert!(DeliveryUrl::new(HASH, UUID, Variant::Named("thumb_2-x".into())).is_ok());
}

// ---------------------------------------------------------------------------
// Signing: known answers
// ---------------------------------------------------------------------------

// Every hex constant below was computed once, independently of this crate, with
// Python's standard library:
//   python3 -c 'import hmac,hashlib; print(hmac.new(KEY.encode(), MSG.encode(), hashlib.sha256).hexdigest())'
// where MSG is the path + "?" + query shown next to each constant (for the
// escaped id, the path was built with urllib.parse.quote(segment, safe='')).

#[test]
fn hmac_matches_rfc_4231_test_case_2() {
    // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
    assert_eq!(
        key("Jefe").signature("what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn signed_url_known_answer() {
    // MSG = "/ZWd9g1K7eljCn_KDTu_MWA/083eb7b2-5392-4565-b69e-aff66acddd00/public?exp=1631289275", KEY = "secret-key"
    let url = DeliveryUrl::new(HASH, UUID, "public").unwrap();
    let k = key("secret-key");
    let expected = "https://imagedelivery.net/ZWd9g1K7eljCn_KDTu_MWA/083eb7b2-5392-4565-b69e-aff66acddd00/public\
                    ?exp=1631289275&sig=f5d63f4f6d7567be9d76fe3f9dba1f80170233ea8fc0bd42fef3569aa418564f";
    assert_eq!(url.sign(&k, Expiry::from_unix_seconds(EXP)), expected);
    // The same instant, given every supported way.
    assert_eq!(url.sign(&k, at(EXP)), expected);
    assert_eq!(
        url.sign(&k, at(EXP) + chrono::Duration::milliseconds(999)),
        expected
    );
    assert_eq!(
        url.sign(&k, UNIX_EPOCH + Duration::from_secs(EXP as u64)),
        expected
    );
    let clock = at(EXP - 3600);
    assert_eq!(
        url.sign_for_with_clock(&k, Duration::from_secs(3600), &clock)
            .unwrap(),
        expected
    );
    assert_eq!(
        sign_url(&url.to_string(), &k, Expiry::from_unix_seconds(EXP)).unwrap(),
        expected
    );
}

#[test]
fn signed_url_known_answer_escaped_custom_id() {
    // MSG = "/emu-account-hash/products/caf%C3%A9%2001%3F%23%25%2B%40.png/public?exp=1700000000", KEY = "k-1"
    let url = DeliveryUrl::new("emu-account-hash", "products/café 01?#%+@.png", "public")
        .unwrap()
        .with_base_url("http://127.0.0.1:9")
        .unwrap();
    assert_eq!(
        url.sign(&key("k-1"), Expiry::from_unix_seconds(1_700_000_000)),
        "http://127.0.0.1:9/emu-account-hash/products/caf%C3%A9%2001%3F%23%25%2B%40.png/public\
         ?exp=1700000000&sig=81e704b4898e6cbe7423dfd54fd4897de3508fcd6fe47b73fd4c161938015990"
    );
}

#[test]
fn signed_url_known_answer_custom_domain_flexible() {
    // MSG = "/cdn-cgi/imagedelivery/ZWd9g1K7eljCn_KDTu_MWA/083eb7b2-5392-4565-b69e-aff66acddd00/w=400,sharpen=3?exp=1631289275", KEY = "secret-key"
    let url = DeliveryUrl::new(HASH, UUID, TransformOptions::new().width(400).sharpen(3.0))
        .unwrap()
        .on_zone("images.example.com")
        .unwrap();
    let signed = url.sign(&key("secret-key"), Expiry::from_unix_seconds(EXP));
    assert_eq!(
        signed,
        "https://images.example.com/cdn-cgi/imagedelivery/ZWd9g1K7eljCn_KDTu_MWA/083eb7b2-5392-4565-b69e-aff66acddd00/w=400,sharpen=3\
         ?exp=1631289275&sig=ace515095aa267cb103776a3f81c60620668552b57ecad43919a6d0d9fc0680a"
    );
}

#[test]
fn a_raw_unicode_path_is_signed_as_it_goes_on_the_wire() {
    // A browser, and every HTTP client, sends `café` as `caf%C3%A9`; Cloudflare
    // signs and checks that form, so the raw URL must be signed as it.
    let raw = format!("https://imagedelivery.net/{HASH}/café/public");
    let encoded = format!("https://imagedelivery.net/{HASH}/caf%C3%A9/public");
    let k = key("secret-key");
    let from_raw = sign_url(&raw, &k, Expiry::from_unix_seconds(EXP)).unwrap();
    let from_encoded = sign_url(&encoded, &k, Expiry::from_unix_seconds(EXP)).unwrap();
    assert_eq!(from_raw, from_encoded);
    assert!(
        from_raw.starts_with(&format!("{encoded}?exp={EXP}&sig=")),
        "{from_raw}"
    );
    // The same signature as a URL built (already encoded) by DeliveryUrl.
    let built = DeliveryUrl::new(HASH, "café", "public")
        .unwrap()
        .sign(&k, Expiry::from_unix_seconds(EXP));
    assert_eq!(from_raw, built);
    // Verifying accepts the URL in either form.
    let raw_signed = from_raw.replace("caf%C3%A9", "café");
    for url in [&from_raw, &raw_signed] {
        assert_eq!(
            verify_signed_url(url, std::slice::from_ref(&k), at(EXP - 1)),
            Ok(()),
            "{url}"
        );
    }
}

#[test]
fn sign_url_keeps_an_existing_query() {
    // MSG = "/ZWd9g1K7eljCn_KDTu_MWA/083eb7b2-5392-4565-b69e-aff66acddd00/public?v=2&exp=1631289275", KEY = "secret-key"
    let path = format!("/{HASH}/{UUID}/public?v=2");
    let signed = sign_url(&path, &key("secret-key"), Expiry::from_unix_seconds(EXP)).unwrap();
    assert_eq!(
        signed,
        format!(
            "{path}&exp=1631289275&sig=65f55ae6a3d7c6a93456b28ed1cdd7c0062ef38b17601837321a1ac406664884"
        )
    );
    for bad in [
        "relative/path",
        "/p?exp=1",
        "/p?a=1&sig=2",
        "/p#frag",
        "https://host-without-path",
    ] {
        let e = sign_url(bad, &key("k"), Expiry::from_unix_seconds(1)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
    }
}

#[test]
fn sign_url_signs_the_query_as_url_search_params_serializes_it() {
    // Cloudflare's documented signer sets `exp` through `url.searchParams` and
    // signs `url.pathname + "?" + url.searchParams.toString()`: the
    // application/x-www-form-urlencoded serialization, where a space is `+`,
    // `~` is `%7E` and a bare `f` is `f=`.
    // MSG = "/ZWd9g1K7eljCn_KDTu_MWA/083eb7b2-5392-4565-b69e-aff66acddd00/public?a=b+c&t=%7E&f=&exp=1631289275", KEY = "secret-key"
    let url = format!("https://imagedelivery.net/{HASH}/{UUID}/public?a=b%20c&t=~&f");
    let k = key("secret-key");
    let signed = sign_url(&url, &k, Expiry::from_unix_seconds(EXP)).unwrap();
    assert_eq!(
        signed,
        format!(
            "https://imagedelivery.net/{HASH}/{UUID}/public?a=b+c&t=%7E&f=&exp=1631289275\
             &sig=e2a606775cbd318dffa5b80a240d6560f9988f779aa9c65bbccab60b8f58e532"
        )
    );
    // The same parameters written another way sign the same.
    let respelled = format!("https://imagedelivery.net/{HASH}/{UUID}/public?a=b+c&t=%7E&f=");
    assert_eq!(
        sign_url(&respelled, &k, Expiry::from_unix_seconds(EXP)).unwrap(),
        signed
    );
    // The verifier checks the query as received, which is the form signed.
    assert_eq!(
        verify_signed_url(&signed, std::slice::from_ref(&k), at(EXP)),
        Ok(())
    );
    // An encoded `exp` is an `exp`.
    let e = sign_url(
        &format!("{url}&%65xp=1"),
        &k,
        Expiry::from_unix_seconds(EXP),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn sign_url_output_verifies_whatever_the_query() {
    let k = key("secret-key");
    let base = format!("https://images.example.com/cdn-cgi/imagedelivery/{HASH}/{UUID}/public");
    for query in [
        "",
        "?",
        "?v=2",
        "?a=b%20c&t=~&f",
        "?a=1&&b=2",
        "?q=caf%C3%A9&p=%2B&s=a+b",
        "?x=%ZZ&y=%",
        "?k*-._=%2A&e=%3D%26",
        "?dup=1&dup=2",
        "?only",
        "?caf\u{e9}=\u{65e5}",
    ] {
        let signed = sign_url(
            &format!("{base}{query}"),
            &k,
            Expiry::from_unix_seconds(EXP),
        )
        .unwrap_or_else(|e| panic!("{query}: {e}"));
        assert_eq!(
            verify_signed_url(&signed, std::slice::from_ref(&k), at(EXP)),
            Ok(()),
            "{query} -> {signed}"
        );
        let (unsigned, _) = signed.split_once("&sig=").unwrap();
        assert!(
            unsigned.ends_with(&format!("exp={EXP}")),
            "{query} -> {signed}"
        );
        assert_eq!(
            verify_signed_url(
                &signed.replacen('?', "?z=1&", 1),
                std::slice::from_ref(&k),
                at(EXP)
            ),
            Err(VerifyError::BadSignature),
            "{query}"
        );
    }
}

#[test]
fn urls_signed_before_a_rotation_verify_while_the_old_key_is_current() {
    let (old, new) = (key("old-key"), key("new-key"));
    let url = DeliveryUrl::new(HASH, UUID, "public").unwrap();
    let before = url.sign(&old, Expiry::from_unix_seconds(EXP));
    let after = url.sign(&new, Expiry::from_unix_seconds(EXP));
    let current = [new.clone(), old.clone()];
    for signed in [&before, &after] {
        assert_eq!(verify_signed_url(signed, &current, at(EXP)), Ok(()));
    }
    // Once the old key is deleted, its URLs stop verifying.
    assert_eq!(
        verify_signed_url(&before, std::slice::from_ref(&new), at(EXP)),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn signing_keys_redact_their_secret() {
    let k = key("super-secret-value-123").with_name("default");
    let debug = format!("{k:?}");
    assert_eq!(
        debug,
        r#"SigningKey { name: Some("default"), secret: "<redacted>" }"#
    );
    assert_eq!(k.name(), Some("default"));
    assert_eq!(k.secret().expose(), "super-secret-value-123");
    let e = SigningKey::new("").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(Expiry::after(Duration::MAX, &SystemTimeClock).is_err());
}

struct SystemTimeClock;
impl cloudflare_images::delivery::Clock for SystemTimeClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[test]
fn expiry_conversions() {
    let e = Expiry::after(Duration::from_secs(90), &at(1_000)).unwrap();
    assert_eq!(e.unix_seconds(), 1_090);
    assert_eq!(e.to_datetime(), Some(at(1_090)));
    assert_eq!(Expiry::from(at(5)), Expiry::from_unix_seconds(5));
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    assert_eq!(Expiry::from(now).unix_seconds(), secs);
}

// ---------------------------------------------------------------------------
// Verifying
// ---------------------------------------------------------------------------

fn signed_fixture() -> (String, SigningKey) {
    let k = key("secret-key");
    let url = DeliveryUrl::new(HASH, UUID, "public")
        .unwrap()
        .sign(&k, Expiry::from_unix_seconds(EXP));
    (url, k)
}

#[test]
fn verifier_accepts_valid_urls() {
    let (url, k) = signed_fixture();
    let keys = [key("other"), k.clone()];
    assert_eq!(verify_signed_url(&url, &keys, at(EXP - 10)), Ok(()));
    // Valid through the second of `exp`.
    assert_eq!(verify_signed_url(&url, &keys, at(EXP)), Ok(()));
    // A path and query alone.
    let path_and_query = url.strip_prefix("https://imagedelivery.net").unwrap();
    assert_eq!(verify_signed_url(path_and_query, &keys, at(EXP)), Ok(()));
    // Uppercase hex is the same signature.
    let (base, sig) = url.split_once("&sig=").unwrap();
    let upper = format!("{base}&sig={}", sig.to_uppercase());
    assert_eq!(verify_signed_url(&upper, &keys, at(EXP)), Ok(()));
    // A custom-domain URL signed over the short path is accepted too.
    let short_signed = format!(
        "https://images.example.com/cdn-cgi/imagedelivery{}",
        path_and_query
    );
    assert_eq!(verify_signed_url(&short_signed, &keys, at(EXP)), Ok(()));
    // And over its full path.
    let zone = DeliveryUrl::new(HASH, "a b/c", "public")
        .unwrap()
        .on_zone("images.example.com")
        .unwrap()
        .sign(&k, Expiry::from_unix_seconds(EXP));
    assert_eq!(verify_signed_url(&zone, &keys, at(EXP)), Ok(()));
}

#[test]
fn verifier_rejects_expired_urls() {
    let (url, k) = signed_fixture();
    assert_eq!(
        verify_signed_url(&url, &[k], at(EXP + 1)),
        Err(VerifyError::Expired { exp: EXP })
    );
}

#[test]
fn verifier_rejects_any_tampering() {
    let (url, k) = signed_fixture();
    let keys = [k];
    let now = at(EXP - 100);
    let tampered = [
        url.replace("/public?", "/thumbnail?"),
        url.replace(UUID, "083eb7b2-5392-4565-b69e-aff66acddd01"),
        url.replace(HASH, "ZWd9g1K7eljCn_KDTu_MWB"),
        url.replace("exp=1631289275", "exp=1631289276"),
        url.replace("exp=1631289275", "exp=9999999999"),
        url.replace("?exp=", "?w=1&exp="),
        url.replace("&sig=", "&x=1&sig="),
        url.replace("?exp=1631289275&sig=", "?exp=1631289275&&sig="),
        format!("{url}&extra=1"),
        url.replace("/public?", "/public/?"),
        url.replace("https://imagedelivery.net/", "https://imagedelivery.net//"),
    ];
    for t in &tampered {
        assert_ne!(t, &url);
        assert_eq!(
            verify_signed_url(t, &keys, now),
            Err(VerifyError::BadSignature),
            "{t}"
        );
    }
    // A flipped signature digit.
    let (base, sig) = url.split_once("&sig=").unwrap();
    let mut flipped = sig.to_string();
    let first = if flipped.starts_with('0') { "1" } else { "0" };
    flipped.replace_range(0..1, first);
    assert_eq!(
        verify_signed_url(&format!("{base}&sig={flipped}"), &keys, now),
        Err(VerifyError::BadSignature)
    );
    // Another key.
    assert_eq!(
        verify_signed_url(&url, &[key("not-the-key")], now),
        Err(VerifyError::BadSignature)
    );
    // Tampered and expired: the signature is what fails.
    assert_eq!(
        verify_signed_url(&tampered[0], &keys, at(EXP + 100)),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn verifier_rejects_missing_duplicate_and_malformed_parameters() {
    let (url, k) = signed_fixture();
    let keys = [k];
    let now = at(EXP - 100);
    let (base, sig) = url.split_once("&sig=").unwrap();
    let unsigned = DeliveryUrl::new(HASH, UUID, "public").unwrap().to_string();
    let cases = [
        (unsigned.clone(), VerifyError::MissingSig),
        (format!("{unsigned}?exp={EXP}"), VerifyError::MissingSig),
        (format!("{unsigned}?sig={sig}"), VerifyError::MissingExp),
        (format!("{url}&sig={sig}"), VerifyError::DuplicateSig),
        (
            format!("{base}&exp={EXP}&sig={sig}"),
            VerifyError::DuplicateExp,
        ),
        (format!("{base}&sig="), VerifyError::InvalidSig),
        (format!("{base}&sig"), VerifyError::InvalidSig),
        (
            format!("{base}&sig={}", &sig[..63]),
            VerifyError::InvalidSig,
        ),
        (
            format!("{base}&sig={}zz", &sig[..62]),
            VerifyError::InvalidSig,
        ),
        (
            url.replace("exp=1631289275", "exp=16312x9275"),
            VerifyError::InvalidExp,
        ),
        (
            url.replace("exp=1631289275", "exp="),
            VerifyError::InvalidExp,
        ),
        (
            url.replace("exp=1631289275", "exp=+1631289275"),
            VerifyError::InvalidExp,
        ),
        (format!("{url}#fragment"), VerifyError::InvalidUrl),
        (
            "imagedelivery.net/a/b/c?exp=1&sig=2".to_string(),
            VerifyError::InvalidUrl,
        ),
        (String::new(), VerifyError::InvalidUrl),
    ];
    for (input, expected) in cases {
        assert_eq!(
            verify_signed_url(&input, &keys, now),
            Err(expected),
            "{input}"
        );
    }
    assert_eq!(verify_signed_url(&url, &[], now), Err(VerifyError::NoKeys));
    assert_eq!(
        VerifyError::Expired { exp: 5 }.to_string(),
        "the URL expired at 5 (Unix seconds)"
    );
}

// ---------------------------------------------------------------------------
// Against the emulator
// ---------------------------------------------------------------------------

/// The width and height of a PNG (from its IHDR chunk), or `None` if `bytes` is not one.
/// The emulator renders variants, so delivered bytes are a new PNG, not the upload's.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(..8)? != b"\x89PNG\r\n\x1a\n" || bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let word = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    Some((word(16)?, word(20)?))
}

async fn emulator() -> (EmulatorHandle, Client) {
    let emulator = Emulator::start().await.expect("emulator starts");
    let client = Client::builder()
        .api_token("local-token")
        .account_id(emulator.account_id())
        .base_url(emulator.base_url())
        .build()
        .expect("client");
    (emulator, client)
}

#[tokio::test]
async fn signing_key_is_fetched_through_the_keys_api() {
    let (emulator, client) = emulator().await;
    let expected = emulator.signing_keys();
    assert!(!expected.is_empty());

    let first = SigningKey::fetch(&client, None).await.unwrap();
    assert_eq!(first.name(), Some(expected[0].0.as_str()));
    assert_eq!(first.secret().expose(), expected[0].1);

    client.v1().keys().update("second").send().await.unwrap();
    let all = SigningKey::fetch_all(&client).await.unwrap();
    let names: Vec<_> = all.iter().filter_map(|k| k.name()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let second = SigningKey::fetch(&client, Some("second")).await.unwrap();
    assert_eq!(second.name(), Some("second"));
    let on_emulator = emulator
        .signing_keys()
        .into_iter()
        .find(|(n, _)| n == "second")
        .map(|(_, v)| v);
    assert_eq!(Some(second.secret().expose().to_string()), on_emulator);

    let e = SigningKey::fetch(&client, Some("missing"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        e.to_string(),
        r#"the account has no signing key named "missing""#
    );
    for k in &all {
        assert!(!e.to_string().contains(k.secret().expose()));
        assert!(!format!("{k:?}").contains(k.secret().expose()));
    }
}

#[tokio::test]
async fn the_default_key_is_preferred_else_the_first() {
    let (_emulator, client) = emulator().await;
    // Listed before `default` (the emulator lists keys by name).
    client
        .v1()
        .keys()
        .update("aaarotated")
        .send()
        .await
        .unwrap();
    let all = client.v1().keys().signing_keys().await.unwrap();
    let names: Vec<_> = all.iter().filter_map(|k| k.name()).collect();
    assert_eq!(names, ["aaarotated", "default"]);
    assert_eq!(
        SigningKey::choose(&all).and_then(|k| k.name()),
        Some("default")
    );
    let chosen = SigningKey::fetch(&client, None).await.unwrap();
    assert_eq!(chosen.name(), Some("default"));
    let chosen = client.v1().keys().signing_key(None).await.unwrap();
    assert_eq!(chosen.name(), Some("default"));
    let named = client
        .v1()
        .keys()
        .signing_key(Some("aaarotated"))
        .await
        .unwrap();
    assert_eq!(named.name(), Some("aaarotated"));

    // Without `default`, the first key the API lists.
    client.v1().keys().delete("default").send().await.unwrap();
    let chosen = SigningKey::fetch(&client, None).await.unwrap();
    assert_eq!(chosen.name(), Some("aaarotated"));
}

#[tokio::test]
async fn signed_delivery_end_to_end() {
    let (emulator, client) = emulator().await;
    let image = client
        .v1()
        .create()
        .file(PIXEL_PNG, "a.png")
        .require_signed_urls(true)
        .send()
        .await
        .unwrap();
    let id = image.id.expect("an id");
    assert!(image.require_signed_urls);

    let key = SigningKey::fetch(&client, None).await.unwrap();
    let url = DeliveryUrl::new(emulator.account_hash(), id.as_str(), "public")
        .unwrap()
        .with_base_url(&emulator.origin())
        .unwrap();
    let http = cloudflare_images::http_client_builder()
        .expect("the SDK's TLS")
        .build()
        .expect("an http client");

    // Signed: served.
    let signed = url.sign_for(&key, Duration::from_secs(300)).unwrap();
    assert!(signed.starts_with(&format!(
        "{}/{}/{id}/public?exp=",
        emulator.origin(),
        emulator.account_hash()
    )));
    assert_eq!(
        verify_signed_url(&signed, std::slice::from_ref(&key), Utc::now()),
        Ok(())
    );
    let resp = http.get(&signed).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(png_size(&resp.bytes().await.unwrap()), Some((1, 1)));

    // Flexible variant of an image that requires signed URLs: Cloudflare refuses it
    // even when signed, and flexible variants are enabled. The SDK refuses to build it
    // when it is told (`require_signed_urls`); built anyway, the emulator refuses it.
    let refused = DeliveryUrl::new(
        emulator.account_hash(),
        id.as_str(),
        TransformOptions::new().width(400).sharpen(3.0),
    )
    .unwrap()
    .require_signed_urls(true)
    .expect_err("a flexible variant of a signed image");
    assert_eq!(refused.kind(), ErrorKind::InvalidInput, "{refused}");
    let flexible = DeliveryUrl::new(
        emulator.account_hash(),
        id.as_str(),
        TransformOptions::new().width(400).sharpen(3.0),
    )
    .unwrap()
    .with_base_url(&emulator.origin())
    .unwrap();
    let flexible = flexible.sign_for(&key, Duration::from_secs(300)).unwrap();
    let resp = http.get(&flexible).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let config = client
        .v1()
        .config()
        .edit()
        .flexible_variants(true)
        .send()
        .await
        .unwrap();
    assert_eq!(config.flexible_variants, Some(true));
    let resp = http.get(&flexible).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let body = resp.text().await.unwrap();
    assert!(body.contains("9403"), "{body}");

    // Unsigned: refused.
    let resp = http.get(url.to_string()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    // Expired (correctly signed, expiring an hour ago): refused.
    let an_hour_ago = Utc::now() - chrono::Duration::seconds(3600);
    let expired = url.sign(&key, an_hour_ago);
    assert_eq!(
        verify_signed_url(&expired, std::slice::from_ref(&key), Utc::now()),
        Err(VerifyError::Expired {
            exp: an_hour_ago.timestamp()
        })
    );
    let resp = http.get(&expired).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    // Signed with a key the account does not have: refused.
    let forged = url.sign_for(
        &SigningKey::new("not-a-key").unwrap(),
        Duration::from_secs(300),
    );
    let resp = http.get(forged.unwrap()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    // Another parameter in the query, signed in its serialized form: served.
    let with_query = cloudflare_images::delivery::sign_url(
        &format!("{url}?note=a%20b&t=~&f"),
        &key,
        Utc::now() + chrono::Duration::seconds(300),
    )
    .unwrap();
    assert!(
        with_query.contains("?note=a+b&t=%7E&f=&exp="),
        "{with_query}"
    );
    let resp = http.get(&with_query).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{with_query}");

    // Tampered after signing: refused.
    let tampered = signed.replace("/public?", "/public?x=1&");
    let resp = http.get(&tampered).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
}

#[tokio::test]
async fn escaped_custom_ids_are_served() {
    let (emulator, client) = emulator().await;
    let http = cloudflare_images::http_client_builder()
        .expect("the SDK's TLS")
        .build()
        .expect("an http client");
    for id in [
        "products/2024/café 01.png",
        "odd/q?h#p%+@,=;.png",
        "日本/画像",
    ] {
        client
            .v1()
            .create()
            .file(PIXEL_PNG, "a.png")
            .id(id)
            .send()
            .await
            .unwrap();
        let url = DeliveryUrl::new(emulator.account_hash(), id, "public")
            .unwrap()
            .with_base_url(&emulator.origin())
            .unwrap();
        let resp = http.get(url.to_string()).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{url}");
        let bytes = resp.bytes().await.unwrap();
        assert_eq!(png_size(&bytes), Some((1, 1)), "{url}");
    }
}

#[tokio::test]
async fn signed_delivery_on_the_cdn_cgi_path() {
    let (emulator, client) = emulator().await;
    let image = client
        .v1()
        .create()
        .file(PIXEL_PNG, "a.png")
        .require_signed_urls(true)
        .send()
        .await
        .unwrap();
    let id = image.id.expect("an id");
    let key = SigningKey::fetch(&client, None).await.unwrap();
    let url = DeliveryUrl::new(emulator.account_hash(), id.as_str(), "public")
        .unwrap()
        .with_base_url(&format!("{}/cdn-cgi/imagedelivery", emulator.origin()))
        .unwrap();
    let http = cloudflare_images::http_client_builder()
        .expect("the SDK's TLS")
        .build()
        .expect("an http client");
    let resp = http
        .get(url.sign_for(&key, Duration::from_secs(60)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(png_size(&resp.bytes().await.unwrap()), Some((1, 1)));
    let resp = http.get(url.to_string()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
}
