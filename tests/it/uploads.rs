//! Uploads from paths, readers and bytes; validation before sending; progress;
//! metadata from any `Serialize`; batches. Every test asserts what went out on the
//! wire (or that nothing did).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use cloudflare_images::upload::{CHUNK_SIZE, MAX_IMAGE_BYTES};
use cloudflare_images::ErrorKind;
use cloudflare_images_emulator::fixtures::PIXEL_PNG;
use serde::Serialize;
use serde_json::json;
use test_support::harness::*;
use tokio::io::{AsyncRead, ReadBuf};
use wiremock::matchers::any;
use wiremock::{Match, Mock, Request, ResponseTemplate};

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A PNG header followed by `len - 8` pseudo-random bytes (xorshift).
fn png_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut data = Vec::with_capacity(len);
    data.extend_from_slice(PNG_MAGIC);
    let mut x = seed | 1;
    while data.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(len);
    data
}

fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(data).unwrap();
    path
}

/// The file part and the other parts of the one request received, checked for a
/// streamed body of known length (a `Content-Length`, no chunked encoding).
async fn single_upload(h: &Harness) -> (Request, Vec<Part>) {
    let req = h.single_request().await;
    assert_eq!(req.method.as_str(), "POST");
    assert_eq!(
        req.url.path(),
        format!("/client/v4/accounts/{ACCOUNT}/images/v1")
    );
    assert_eq!(
        header(&req, "authorization"),
        Some(format!("Bearer {TOKEN}"))
    );
    assert_eq!(
        header(&req, "content-length"),
        Some(req.body.len().to_string()),
        "a multipart body of known length"
    );
    assert_eq!(header(&req, "transfer-encoding"), None);
    let parts = multipart_parts(&req);
    (req, parts)
}

#[tokio::test]
async fn a_file_on_disk_goes_out_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let len = (9.9 * 1024.0 * 1024.0) as usize;
    let data = png_bytes(len, 42);
    let path = write_file(dir.path(), "big photo.png", &data);
    let h = Harness::new().await;
    h.respond_ok(image_json("big")).await;

    let image = h
        .client
        .v1()
        .create()
        .path(&path)
        .id("big")
        .send()
        .await
        .unwrap();
    assert_eq!(image.id.as_deref(), Some("big"));

    let (_req, parts) = single_upload(&h).await;
    assert_eq!(parts.len(), 2);
    let file = &parts[0];
    assert_eq!(file.name, "file");
    assert_eq!(file.filename.as_deref(), Some("big photo.png"));
    assert_eq!(file.content_type.as_deref(), Some("image/png"));
    assert_eq!(file.value.len(), len);
    assert!(file.value == data, "the file part differs from the file");
    assert_eq!(parts[1], Part::text("id", "big"));
}

/// An `AsyncRead` that records every read: how much room the caller offered
/// and how much it got.
struct RecordingReader {
    inner: std::io::Cursor<Vec<u8>>,
    largest_request: Arc<AtomicUsize>,
    delivered: Arc<AtomicU64>,
    reads: Arc<AtomicUsize>,
}

impl AsyncRead for RecordingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.largest_request
            .fetch_max(buf.remaining(), Ordering::SeqCst);
        self.reads.fetch_add(1, Ordering::SeqCst);
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let got = buf.filled().len() - before;
        self.delivered.fetch_add(got as u64, Ordering::SeqCst);
        result
    }
}

#[tokio::test]
async fn a_reader_is_streamed_in_small_chunks() {
    let len = 9 * 1024 * 1024 + 123;
    let data = png_bytes(len, 7);
    let largest_request = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let reads = Arc::new(AtomicUsize::new(0));
    let reader = RecordingReader {
        inner: std::io::Cursor::new(data.clone()),
        largest_request: largest_request.clone(),
        delivered: delivered.clone(),
        reads: reads.clone(),
    };
    let h = Harness::new().await;
    h.respond_ok(image_json("streamed")).await;

    h.client
        .v1()
        .create()
        .reader(reader, len as u64, "streamed.png")
        .send()
        .await
        .unwrap();

    let largest = largest_request.load(Ordering::SeqCst);
    assert!(
        largest <= CHUNK_SIZE,
        "a read asked for {largest} bytes at once; the file must be streamed in chunks of at most {CHUNK_SIZE}"
    );
    assert_eq!(delivered.load(Ordering::SeqCst), len as u64);
    assert!(
        reads.load(Ordering::SeqCst) >= len / CHUNK_SIZE,
        "{} reads for {len} bytes",
        reads.load(Ordering::SeqCst)
    );
    let (_req, parts) = single_upload(&h).await;
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].filename.as_deref(), Some("streamed.png"));
    assert_eq!(parts[0].content_type.as_deref(), Some("image/png"));
    assert!(
        parts[0].value == data,
        "the reader's bytes differ on the wire"
    );
}

#[tokio::test]
async fn progress_reaches_the_total_in_chunk_sized_steps() {
    let dir = tempfile::tempdir().unwrap();
    let len = 3 * 1024 * 1024 + 5;
    let path = write_file(dir.path(), "p.png", &png_bytes(len, 3));
    let h = Harness::new().await;
    h.respond_ok(image_json("p")).await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let record = calls.clone();

    h.client
        .v1()
        .create()
        .path(&path)
        .on_progress(move |sent, total| record.lock().unwrap().push((sent, total)))
        .send()
        .await
        .unwrap();

    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.last(), Some(&(len as u64, len as u64)));
    assert!(calls.len() >= len / CHUNK_SIZE, "{} calls", calls.len());
    let mut previous = 0;
    for &(sent, total) in &calls {
        assert_eq!(total, len as u64);
        assert!(sent > previous && sent - previous <= CHUNK_SIZE as u64);
        previous = sent;
    }
    assert_eq!(h.request_count().await, 1);
}

#[tokio::test]
async fn progress_on_bytes_also_reaches_the_total() {
    let h = Harness::new().await;
    h.respond_ok(image_json("b")).await;
    let data = png_bytes(200_000, 9);
    let last = Arc::new(Mutex::new(None));
    let record = last.clone();
    h.client
        .v1()
        .create()
        .file(data.clone(), "b.png")
        .on_progress(move |sent, total| *record.lock().unwrap() = Some((sent, total)))
        .send()
        .await
        .unwrap();
    assert_eq!(*last.lock().unwrap(), Some((200_000, 200_000)));
    let (_req, parts) = single_upload(&h).await;
    assert!(parts[0].value == data);
}

#[derive(Serialize)]
struct ProductMeta {
    sku: String,
    tags: Vec<&'static str>,
    batch: u32,
}

#[tokio::test]
async fn metadata_from_a_serialize_struct_is_the_json_text_field() {
    let h = Harness::new().await;
    h.respond_ok(image_json("m")).await;
    let meta = ProductMeta {
        sku: "CAFE-01".into(),
        tags: vec!["a", "b"],
        batch: 7,
    };
    h.client
        .v1()
        .create()
        .file(PIXEL_PNG, "m.png")
        .metadata(&meta)
        .creator("user-1")
        .send()
        .await
        .unwrap();
    h.expect(
        "POST",
        "v1",
        None,
        Body::Multipart(vec![
            Part::file("file", "m.png", "image/png", PIXEL_PNG),
            Part::text("creator", "user-1"),
            Part::text(
                "metadata",
                r#"{"sku":"CAFE-01","tags":["a","b"],"batch":7}"#,
            ),
        ]),
    )
    .await;
}

#[tokio::test]
async fn every_validation_rule_is_a_typed_error_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let empty = write_file(d, "empty.png", b"");
    let text = write_file(d, "notes.png", b"just some text, not an image at all");
    let too_big = d.join("huge.png");
    {
        let f = std::fs::File::create(&too_big).unwrap();
        f.set_len(MAX_IMAGE_BYTES + 1).unwrap(); // sparse: size from metadata only
    }
    let ok_png = write_file(d, "ok.png", PIXEL_PNG);
    let missing = d.join("missing.png");

    #[derive(Serialize)]
    struct Big {
        note: String,
    }
    let h = Harness::new().await;
    h.respond_ok(image_json("never")).await;
    let c = &h.client;
    let create = || c.v1().create();

    let cases: Vec<(&str, _, &str)> = vec![
        ("path over 10 MB", create().path(&too_big), "at most"),
        ("empty path", create().path(&empty), "empty"),
        ("path not an image", create().path(&text), "not a PNG"),
        ("missing path", create().path(&missing), "could not open"),
        ("directory", create().path(d), "not a regular file"),
        (
            "bytes not an image",
            create().file(&b"hello world"[..], "a.png"),
            "not a PNG",
        ),
        ("empty bytes", create().file(&b""[..], "e.png"), "empty"),
        (
            "bytes over 10 MB",
            create().file(vec![0x89u8; MAX_IMAGE_BYTES as usize + 1], "b.png"),
            "at most",
        ),
        (
            "reader not an image",
            create().reader(std::io::Cursor::new(b"plain text".to_vec()), 10, "r.png"),
            "not a PNG",
        ),
        (
            "reader of length 0",
            create().reader(std::io::Cursor::new(Vec::new()), 0, "r.png"),
            "empty",
        ),
        (
            "reader over 10 MB",
            create().reader(
                std::io::Cursor::new(PIXEL_PNG.to_vec()),
                MAX_IMAGE_BYTES + 1,
                "r.png",
            ),
            "at most",
        ),
        (
            "metadata over 1,024 bytes",
            create().path(&ok_png).metadata(Big {
                note: "x".repeat(1020),
            }),
            "1024",
        ),
        (
            "metadata not an object",
            create().path(&ok_png).metadata(vec![1, 2, 3]),
            "JSON object",
        ),
        (
            "custom id starting with /",
            create().path(&ok_png).id("/lead"),
            "start or end",
        ),
        (
            "custom id that is a UUID",
            create()
                .path(&ok_png)
                .id("0f8fad5b-d9cb-469f-a165-70867728950e"),
            "UUID",
        ),
        (
            "custom id over 1,024 characters",
            create().path(&ok_png).id("a".repeat(1025)),
            "longer than",
        ),
        (
            "custom id with signed URLs",
            create()
                .path(&ok_png)
                .id("products/1")
                .require_signed_urls(true),
            "signed URLs",
        ),
        (
            "file and URL",
            create().path(&ok_png).url("https://example.com/a.png"),
            "not several",
        ),
        ("neither file nor URL", create(), "needs a file or a URL"),
    ];
    for (what, upload, needle) in cases {
        let err = upload.send().await.unwrap_err();
        // A path that cannot be opened is a local I/O failure, not bad input.
        let expected = if what == "missing path" {
            ErrorKind::Io
        } else {
            ErrorKind::InvalidInput
        };
        assert_eq!(err.kind(), expected, "{what}: {err}");
        assert!(
            err.to_string().contains(needle),
            "{what}: {err:?} should mention {needle:?}"
        );
        assert_eq!(h.request_count().await, 0, "{what}: a request was sent");
    }

    // An unreadable path keeps the I/O error as its source.
    let err = create().path(&missing).send().await.unwrap_err();
    let io = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .expect("io::Error source");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(h.request_count().await, 0);
}

#[tokio::test]
async fn each_supported_format_is_sent_with_its_content_type() {
    let cases: [(&[u8], &str); 7] = [
        (PIXEL_PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\0\x01\0", "image/gif"),
        (b"RIFF\x24\0\0\0WEBPVP8 ", "image/webp"),
        (
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            "image/svg+xml",
        ),
        (b"\0\0\0\x18ftypheic\0\0\0\0", "image/heic"),
        (b"\0\0\0\x1cftypavif\0\0\0\0", "image/avif"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (data, mime)) in cases.into_iter().enumerate() {
        let h = Harness::new().await;
        h.respond_ok(image_json("f")).await;
        let path = write_file(dir.path(), &format!("f{i}"), data);
        h.client.v1().create().path(&path).send().await.unwrap();
        let (_req, parts) = single_upload(&h).await;
        assert_eq!(parts[0].content_type.as_deref(), Some(mime));
        assert_eq!(parts[0].value, data);
    }
}

/// Matches an upload whose file part has this file name.
struct FileNamed(&'static str);

impl Match for FileNamed {
    fn matches(&self, request: &Request) -> bool {
        let needle = format!("filename=\"{}\"", self.0);
        request
            .body
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    }
}

#[tokio::test]
async fn a_batch_reports_every_item_in_order_and_never_stops_at_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new().await;
    Mock::given(FileNamed("rejected.png"))
        .respond_with(ResponseTemplate::new(415).set_body_json(failure(
            9422,
            "ERROR 9422: Decode error: image failed to be decoded",
        )))
        .with_priority(1)
        .mount(&h.server)
        .await;
    // Every other upload echoes its custom id.
    Mock::given(any())
        .respond_with(|req: &Request| {
            let parts = multipart_parts(req);
            let id = parts
                .iter()
                .find(|p| p.name == "id")
                .map(|p| String::from_utf8_lossy(&p.value).to_string())
                .unwrap_or_default();
            ResponseTemplate::new(200).set_body_json(ok(image_json(&id)))
        })
        .mount(&h.server)
        .await;

    let not_an_image = write_file(dir.path(), "notes.png", b"meeting notes");
    let mut batch = h.client.v1().create_many().concurrency(4);
    for i in 0..20 {
        let id = format!("batch/{i}");
        let upload = match i {
            5 => h.client.v1().create().file(&b""[..], "empty.png"),
            11 => h.client.v1().create().path(&not_an_image),
            16 => h.client.v1().create().file(PIXEL_PNG, "rejected.png"),
            _ if i % 3 == 0 => {
                let path = write_file(dir.path(), &format!("{i}.png"), &png_bytes(70_000, i));
                h.client.v1().create().path(path)
            }
            _ if i % 3 == 1 => h.client.v1().create().file(PIXEL_PNG, format!("{i}.png")),
            _ => h
                .client
                .v1()
                .create()
                .url(format!("https://example.com/{i}.png?sig=secret")),
        };
        batch = batch.add_upload(upload.id(id).metadata(json!({ "i": i })));
    }
    assert_eq!(batch.len(), 20);
    let report = batch.send().await;

    assert_eq!(report.items().len(), 20);
    for (position, item) in report.items().iter().enumerate() {
        assert_eq!(item.index, position);
    }
    assert_eq!(report.succeeded().count(), 17);
    for (item, image) in report.succeeded() {
        assert_eq!(image.id, Some(format!("batch/{}", item.index)));
    }
    let failed: Vec<_> = report.failed().collect();
    assert_eq!(
        failed
            .iter()
            .map(|(item, _)| item.index)
            .collect::<Vec<_>>(),
        [5, 11, 16]
    );
    assert_eq!(failed[0].1.kind(), ErrorKind::InvalidInput);
    assert_eq!(failed[1].1.kind(), ErrorKind::InvalidInput);
    assert!(failed[1].0.source.contains("notes.png"));
    let rejected = failed[2].1;
    assert_eq!(
        (rejected.kind(), rejected.status()),
        (ErrorKind::Api, Some(415))
    );
    assert!(rejected.has_code(9422));
    assert!(!report.all_succeeded());
    // Descriptions never carry a URL's query.
    assert!(report.items()[2]
        .source
        .starts_with("url https://example.com/2.png"));
    assert!(!report.items()[2].source.contains("secret"));
    // The two local failures sent nothing; everything else exactly once.
    let requests = h.server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 18);
    let mut ids: Vec<String> = requests
        .iter()
        .map(|r| {
            let parts = multipart_parts(r);
            let id = parts.iter().find(|p| p.name == "id").expect("id part");
            String::from_utf8_lossy(&id.value).to_string()
        })
        .collect();
    ids.sort_by_key(|id| id["batch/".len()..].parse::<u32>().unwrap());
    let expected: Vec<String> = (0..20)
        .filter(|i| *i != 5 && *i != 11)
        .map(|i| format!("batch/{i}"))
        .collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn a_batch_keeps_to_its_concurrency() {
    let h = Harness::new().await;
    h.respond(
        ResponseTemplate::new(200)
            .set_body_json(ok(image_json("slow")))
            .set_delay(Duration::from_millis(200)),
    )
    .await;
    let mut batch = h.client.v1().create_many().concurrency(2);
    for i in 0..4 {
        batch = batch.add_bytes(PIXEL_PNG, format!("{i}.png"));
    }
    let started = Instant::now();
    let report = batch.send().await;
    let elapsed = started.elapsed();
    assert!(report.all_succeeded());
    assert_eq!(h.request_count().await, 4);
    // Two at a time, 200 ms each: two rounds at least (unbounded: one round).
    assert!(
        elapsed >= Duration::from_millis(400),
        "4 uploads of 200 ms at concurrency 2 took {elapsed:?}"
    );
}
