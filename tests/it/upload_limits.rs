//! Cloudflare's limits on an uploaded image, measured from the file's header
//! before sending: each limit broken is refused with the typed error and no
//! request reaches the server; an image right at each limit goes out as is.

use std::path::{Path, PathBuf};

use cloudflare_images::direct::UploadToUrl;
use cloudflare_images::error::ImageLimit;
use cloudflare_images::upload::{
    MAX_ANIMATION_AREA, MAX_IMAGE_AREA, MAX_IMAGE_BYTES, MAX_IMAGE_SIDE, PEEK_LEN,
};
use cloudflare_images::ErrorKind;
use test_support::harness::*;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A PNG's signature and IHDR chunk for `width`x`height` (what the header
/// reader measures), then `pad` zero bytes.
fn png(width: u32, height: u32, pad: usize) -> Vec<u8> {
    let mut data = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    data.extend(width.to_be_bytes());
    data.extend(height.to_be_bytes());
    data.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
    data.resize(data.len() + pad, 0);
    data
}

/// A GIF `width`x`height` with `frames` frames covering the canvas, each
/// behind a graphic control extension.
fn gif(width: u16, height: u16, frames: usize) -> Vec<u8> {
    let mut data = b"GIF89a".to_vec();
    data.extend(width.to_le_bytes());
    data.extend(height.to_le_bytes());
    // Flags (a two-colour global table), background, aspect, the table.
    data.extend([0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff]);
    for _ in 0..frames {
        data.extend([0x21, 0xF9, 4, 0, 10, 0, 0, 0]);
        data.push(0x2C);
        data.extend([0, 0, 0, 0]);
        data.extend(width.to_le_bytes());
        data.extend(height.to_le_bytes());
        data.extend([0, 2, 2, 0x4C, 0x01, 0]);
    }
    data.push(0x3B);
    data
}

/// The bytes of [`gif`]'s header: signature, screen descriptor, colour table.
const GIF_HEADER_LEN: usize = 19;

/// An animated WebP canvas `width`x`height` with `frames` ANMF chunks of that size.
fn animated_webp(width: u32, height: u32, frames: usize) -> Vec<u8> {
    let u24 = |v: u32| v.to_le_bytes()[..3].to_vec();
    let mut body = b"WEBP".to_vec();
    body.extend(b"VP8X");
    body.extend(10u32.to_le_bytes());
    body.extend([0x02, 0, 0, 0]);
    body.extend(u24(width - 1));
    body.extend(u24(height - 1));
    body.extend(b"ANIM");
    body.extend(6u32.to_le_bytes());
    body.extend([0; 6]);
    for _ in 0..frames {
        body.extend(b"ANMF");
        body.extend(16u32.to_le_bytes());
        body.extend(u24(0));
        body.extend(u24(0));
        body.extend(u24(width - 1));
        body.extend(u24(height - 1));
        body.extend([100, 0, 0, 0]);
    }
    let mut data = b"RIFF".to_vec();
    data.extend(u32::try_from(body.len()).unwrap().to_le_bytes());
    data.extend(body);
    data
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

/// A server that fails the test if any request reaches it.
async fn untouchable() -> Harness {
    let h = Harness::new().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&h.server)
        .await;
    h
}

fn refusals() -> Vec<(&'static str, Vec<u8>, ImageLimit)> {
    vec![
        (
            "a.png",
            png(1, 1, MAX_IMAGE_BYTES as usize - 33 + 1),
            ImageLimit::FileSize {
                limit: MAX_IMAGE_BYTES,
                measured: MAX_IMAGE_BYTES + 1,
            },
        ),
        (
            "wide.png",
            png(12_001, 1, 0),
            ImageLimit::Side {
                limit: MAX_IMAGE_SIDE,
                width: 12_001,
                height: 1,
            },
        ),
        (
            "tall.gif",
            gif(1, 12_001, 1),
            ImageLimit::Side {
                limit: MAX_IMAGE_SIDE,
                width: 1,
                height: 12_001,
            },
        ),
        (
            "area.png",
            png(10_000, 10_001, 0),
            ImageLimit::Area {
                limit: MAX_IMAGE_AREA,
                width: 10_000,
                height: 10_001,
            },
        ),
        (
            "anim.gif",
            gif(1_000, 1_000, 101),
            ImageLimit::AnimationArea {
                limit: MAX_ANIMATION_AREA,
                frames: 101,
                measured: 101_000_000,
            },
        ),
        (
            "anim.webp",
            animated_webp(2_000, 1_000, 51),
            ImageLimit::AnimationArea {
                limit: MAX_ANIMATION_AREA,
                frames: 51,
                measured: 102_000_000,
            },
        ),
        (
            "a.bmp",
            b"BM\x3e\0\0\0\0\0\0\0\x3e\0\0\0\x28\0\0\0\x01\0\0\0\x01\0\0\0\x01\0\x01\0".to_vec(),
            ImageLimit::Format {
                detected: Some("BMP".into()),
            },
        ),
        (
            "a.txt",
            b"plain text, not an image".to_vec(),
            ImageLimit::Format { detected: None },
        ),
    ]
}

fn assert_refused(
    result: cloudflare_images::Result<impl std::fmt::Debug>,
    want: &ImageLimit,
    what: &str,
) {
    let err = result.expect_err(what);
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{what}");
    assert_eq!(err.image_limit(), Some(want), "{what}");
    // The message names the limit and the value measured.
    let text = err.to_string();
    for number in [want.limit(), want.measured()].into_iter().flatten() {
        assert!(text.contains(&number.to_string()), "{what}: {text}");
    }
}

#[tokio::test]
async fn each_limit_is_refused_by_every_upload_path_before_a_byte_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let h = untouchable().await;
    let upload_host = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&upload_host)
        .await;
    let upload_url = format!("{}/upload/hash/id", upload_host.uri());
    for (name, data, want) in refusals() {
        let path = write(dir.path(), name, &data);
        let len = data.len() as u64;
        let what = |via: &str| format!("{name} via {via}");
        let v1 = || h.client.v1().create();
        assert_refused(
            v1().file(data.clone(), name).send().await,
            &want,
            &what("bytes"),
        );
        assert_refused(v1().path(&path).send().await, &want, &what("path"));
        let reader = std::io::Cursor::new(data.clone());
        assert_refused(
            v1().reader(reader, len, name).send().await,
            &want,
            &what("reader"),
        );
        let report = h
            .client
            .v1()
            .create_many()
            .add_bytes(data.clone(), name)
            .add_path(&path)
            .send()
            .await;
        for item in report.items() {
            let err = item.result.as_ref().expect_err(name);
            assert_eq!(
                err.image_limit(),
                Some(&want),
                "{} via create_many",
                item.source
            );
        }
        let direct = UploadToUrl::new(&upload_url).file(data.clone(), name);
        assert_refused(direct.send().await, &want, &what("upload URL bytes"));
        assert_refused(
            UploadToUrl::new(&upload_url).path(&path).send().await,
            &want,
            &what("upload URL path"),
        );
    }
    assert_eq!(h.request_count().await, 0);
    assert!(upload_host.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_image_right_at_each_limit_goes_out_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "size.png",
            png(1, 1, MAX_IMAGE_BYTES as usize - 33),
            "image/png",
        ),
        ("side.png", png(12_000, 8_333, 0), "image/png"),
        ("area.png", png(10_000, 10_000, 0), "image/png"),
        ("anim.gif", gif(1_000, 1_000, 100), "image/gif"),
        ("anim.webp", animated_webp(2_000, 1_000, 50), "image/webp"),
        // WebP is exempt from the side limit (its own format stops at 16,383).
        ("wide.webp", animated_webp(16_383, 1, 1), "image/webp"),
        // An SVG has no pixel size: only its bytes are checked.
        (
            "huge.svg",
            br#"<svg xmlns="http://www.w3.org/2000/svg" width="99999" height="99999"/>"#.to_vec(),
            "image/svg+xml",
        ),
    ];
    for (name, data, mime) in cases {
        let path = write(dir.path(), name, &data);
        for via in ["bytes", "path", "reader"] {
            let h = Harness::new().await;
            h.respond_ok(image_json("ok")).await;
            let upload = h.client.v1().create();
            let upload = match via {
                "bytes" => upload.file(data.clone(), name),
                "path" => upload.path(&path),
                _ => upload.reader(std::io::Cursor::new(data.clone()), data.len() as u64, name),
            };
            let image = upload
                .send()
                .await
                .unwrap_or_else(|e| panic!("{name} via {via}: {e}"));
            assert_eq!(image.id.as_deref(), Some("ok"));
            let req = h.single_request().await;
            assert_eq!(req.method.as_str(), "POST");
            assert_eq!(
                req.url.path(),
                format!("/client/v4/accounts/{ACCOUNT}/images/v1")
            );
            assert_eq!(req.url.query(), None);
            let parts = multipart_parts(&req);
            assert_eq!(parts.len(), 1, "{name} via {via}");
            assert_eq!(parts[0].name, "file");
            assert_eq!(parts[0].filename.as_deref(), Some(name));
            assert_eq!(
                parts[0].content_type.as_deref(),
                Some(mime),
                "{name} via {via}"
            );
            assert!(
                parts[0].value == data,
                "{name} via {via}: the bytes as given"
            );
        }
    }
}

#[tokio::test]
async fn a_reader_is_measured_from_its_peek_only() {
    // 101 frames of a GIF, the last ones past the peek: a reader is read once,
    // so what lies past PEEK_LEN is left to Cloudflare (documented), while the
    // same bytes from memory are refused.
    let mut data = gif(1_000, 1_000, 1);
    data.truncate(data.len() - 1);
    // A comment extension that fills the peek, then 100 more frames.
    data.extend([0x21, 0xFE]);
    for _ in 0..(PEEK_LEN / 256 + 1) {
        data.push(255);
        data.extend([b'x'; 255]);
    }
    data.push(0);
    let rest = gif(1_000, 1_000, 100);
    data.extend(&rest[GIF_HEADER_LEN..]);
    let h = Harness::new().await;
    h.respond_ok(image_json("ok")).await;
    let len = data.len() as u64;
    h.client
        .v1()
        .create()
        .reader(std::io::Cursor::new(data.clone()), len, "long.gif")
        .send()
        .await
        .unwrap();
    let req = h.single_request().await;
    assert_eq!(multipart_parts(&req)[0].value, data);
    let err = h
        .client
        .v1()
        .create()
        .file(data, "long.gif")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.image_limit(),
        Some(&ImageLimit::AnimationArea {
            limit: MAX_ANIMATION_AREA,
            frames: 101,
            measured: 101_000_000
        })
    );
    assert_eq!(h.request_count().await, 1);
}
