//! Direct creator uploads end to end (emulator), the credential-free upload
//! request (mock upload host), waiting for drafts, and blobs saved to files.

use std::path::Path;
use std::time::{Duration, Instant};

use cloudflare_images::direct::{image_status, wait_for_upload, UploadToUrl, UploadWaitTimedOut};
use cloudflare_images::{Client, ErrorKind};
use cloudflare_images_emulator::fixtures::PIXEL_PNG;
use cloudflare_images_emulator::{Emulator, EmulatorHandle};
use serde_json::json;
use test_support::harness::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn emulator_client() -> (EmulatorHandle, Client) {
    let emulator = Emulator::start().await.expect("emulator");
    let client = Client::builder()
        .api_token("e2e-token")
        .account_id(emulator.account_id())
        .base_url(emulator.base_url())
        .build()
        .unwrap();
    (emulator, client)
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn create_url_upload_without_credentials_wait_and_download() {
    let (emulator, client) = emulator_client().await;
    let created = client
        .v2()
        .direct_uploads()
        .create()
        .id("creators/avatar-1")
        .metadata(json!({"user": 42}))
        .send()
        .await
        .unwrap();
    let id = created.id.clone().unwrap();
    let url = created.upload_url.clone().unwrap();
    assert_eq!(id, "creators/avatar-1");
    assert!(
        url.starts_with(&format!("{}/upload/", emulator.origin())),
        "{url}"
    );

    let before = image_status(&client, &id).await.unwrap();
    assert!(before.draft, "a new direct upload is a draft");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("avatar.png");
    std::fs::write(&path, PIXEL_PNG).unwrap();
    let uploaded = UploadToUrl::new(&url).path(&path).send().await.unwrap();
    assert_eq!(uploaded.id.as_deref(), Some(id.as_str()));
    assert_eq!(uploaded.filename.as_deref(), Some("avatar.png"));

    let image = wait_for_upload(&client, &id)
        .timeout(Duration::from_secs(10))
        .poll_interval(Duration::from_millis(20))
        .send()
        .await
        .unwrap();
    assert_eq!(image.id.as_deref(), Some(id.as_str()));
    assert_eq!(image.meta.unwrap().0["user"], 42);
    assert!(!image_status(&client, &id).await.unwrap().draft);

    let blob = client.v1().blobs().get(&id).send().await.unwrap();
    assert_eq!(&blob.bytes().await.unwrap()[..], PIXEL_PNG);

    // The URL works once.
    let again = UploadToUrl::new(&url)
        .file(PIXEL_PNG, "again.png")
        .send()
        .await
        .unwrap_err();
    assert_eq!((again.kind(), again.status()), (ErrorKind::Api, Some(400)));
}

#[tokio::test]
async fn the_upload_request_carries_no_credentials() {
    // The API, which needs the token, and a separate upload host, which must not see it.
    let api = Harness::new().await;
    let upload_host = MockServer::start().await;
    let upload_url = format!("{}/upload/hash/direct%2F1", upload_host.uri());
    api.respond_ok(json!({"id": "direct/1", "uploadURL": upload_url}))
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(ok(image_json("direct/1"))))
        .mount(&upload_host)
        .await;

    let created = api
        .client
        .v2()
        .direct_uploads()
        .create()
        .id("direct/1")
        .send()
        .await
        .unwrap();
    let image = UploadToUrl::new(created.upload_url.unwrap())
        .file(PIXEL_PNG, "me.png")
        .send()
        .await
        .unwrap();
    assert_eq!(image.id.as_deref(), Some("direct/1"));

    let api_request = api.single_request().await;
    assert_eq!(
        header(&api_request, "authorization"),
        Some(format!("Bearer {TOKEN}"))
    );
    let requests = upload_host.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(req.method.as_str(), "POST");
    assert_eq!(req.url.path(), "/upload/hash/direct%2F1");
    assert_eq!(req.url.query(), None);
    for name in [
        "authorization",
        "x-auth-email",
        "x-auth-key",
        "x-auth-user-service-key",
        "cookie",
    ] {
        assert_eq!(header(req, name), None, "{name} sent to the upload URL");
    }
    let sent_headers = format!("{:?}", req.headers);
    assert!(!sent_headers.contains(TOKEN), "{sent_headers}");
    assert_eq!(
        multipart_parts(req),
        vec![Part::file("file", "me.png", "image/png", PIXEL_PNG)]
    );
}

#[tokio::test]
async fn a_creator_upload_checks_the_file_and_url_before_sending() {
    let upload_host = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(ok(image_json("x"))))
        .mount(&upload_host)
        .await;
    let url = format!("{}/upload/hash/x", upload_host.uri());
    let cases = vec![
        UploadToUrl::new(&url).file(&b"text"[..], "a.png"),
        UploadToUrl::new(&url).file(&b""[..], "a.png"),
        UploadToUrl::new(&url),
        UploadToUrl::new(&url)
            .file(PIXEL_PNG, "a.png")
            .file(PIXEL_PNG, "b.png"),
        UploadToUrl::new("ftp://example.com/upload").file(PIXEL_PNG, "a.png"),
        UploadToUrl::new("not a url").file(PIXEL_PNG, "a.png"),
    ];
    for upload in cases {
        let shown = format!("{upload:?}");
        let err = upload.send().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{shown}: {err}");
    }
    assert_eq!(upload_host.received_requests().await.unwrap().len(), 0);
}

#[tokio::test]
async fn debug_of_a_creator_upload_hides_the_one_time_url() {
    let upload = UploadToUrl::new("https://upload.imagedelivery.net/hash/secret-id?token=t")
        .file(PIXEL_PNG, "a.png");
    let shown = format!("{upload:?}");
    assert!(
        shown.contains("https://upload.imagedelivery.net"),
        "{shown}"
    );
    assert!(
        !shown.contains("secret-id") && !shown.contains("token"),
        "{shown}"
    );
}

#[tokio::test]
async fn waiting_for_a_draft_that_is_never_uploaded_times_out() {
    let (_emulator, client) = emulator_client().await;
    let created = client.v2().direct_uploads().create().send().await.unwrap();
    let id = created.id.unwrap();

    let started = Instant::now();
    let err = wait_for_upload(&client, &id)
        .timeout(Duration::from_millis(300))
        .poll_interval(Duration::from_millis(50))
        .send()
        .await
        .unwrap_err();
    let elapsed = started.elapsed();

    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    let timeout = UploadWaitTimedOut::of(&err).expect("a wait timeout");
    assert_eq!(timeout.id, id);
    assert!(timeout.polls >= 2, "{timeout:?}");
    assert!(timeout.waited >= Duration::from_millis(300));
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert!(err.to_string().contains("still a draft"), "{err}");
}

#[tokio::test]
async fn waiting_for_an_image_that_does_not_exist_fails_at_once() {
    let (_emulator, client) = emulator_client().await;
    let started = Instant::now();
    let err = wait_for_upload(&client, "no/such/image")
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Api, Some(404)));
    assert!(err.has_code(5404));
    assert!(UploadWaitTimedOut::of(&err).is_none());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn waiting_polls_the_image_endpoint_with_the_encoded_id() {
    let h = Harness::new().await;
    let mut draft = image_json("a/b");
    draft["draft"] = json!(true);
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(ok(draft)))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&h.server)
        .await;
    h.respond_ok(image_json("a/b")).await;
    let image = wait_for_upload(&h.client, "a/b")
        .poll_interval(Duration::from_millis(10))
        .send()
        .await
        .unwrap();
    assert_eq!(image.id.as_deref(), Some("a/b"));
    let requests = h.server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3, "two draft answers, then the image");
    for req in &requests {
        assert_eq!(req.method.as_str(), "GET");
        assert_eq!(
            req.url.path(),
            format!("/client/v4/accounts/{ACCOUNT}/images/v1/a%2Fb")
        );
        assert_eq!(
            header(req, "authorization"),
            Some(format!("Bearer {TOKEN}"))
        );
    }
}

#[tokio::test]
async fn a_blob_saved_to_a_file_has_the_exact_bytes_and_no_leftovers() {
    let (_emulator, client) = emulator_client().await;
    let data = {
        let mut d = PIXEL_PNG.to_vec();
        d.extend((0..300_000u32).map(|i| (i * 31 % 251) as u8));
        d
    };
    client
        .v1()
        .create()
        .file(data.clone(), "big.png")
        .id("saved/1")
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("copy.png");
    std::fs::write(&target, b"old contents").unwrap();

    let blob = client.v1().blobs().get("saved/1").send().await.unwrap();
    let written = blob.save_to(&target).await.unwrap();

    assert_eq!(written, data.len() as u64);
    assert!(std::fs::read(&target).unwrap() == data);
    assert_eq!(listing(dir.path()), ["copy.png"]);
}

/// A server that answers one request with a `Content-Length` of `claimed`,
/// sends `sent` bytes of body, and hangs up.
async fn truncating_server(claimed: usize, sent: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            request.extend_from_slice(&buf[..n]);
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {claimed}\r\n\r\n"
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        let mut body = PIXEL_PNG.to_vec();
        body.resize(sent, 0xAB);
        socket.write_all(&body).await.unwrap();
        socket.flush().await.unwrap();
        // Dropping the socket closes the connection mid-body.
    });
    format!("http://{addr}/client/v4")
}

#[tokio::test]
async fn a_download_cut_short_leaves_no_file_and_no_temporary_file() {
    let base = truncating_server(1_000_000, 200_000).await;
    let client = Client::builder()
        .api_token(TOKEN)
        .account_id(ACCOUNT)
        .base_url(base)
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("photo.png");

    let blob = client.v1().blobs().get("cut").send().await.unwrap();
    assert_eq!(blob.content_length(), Some(1_000_000));
    let err = blob.save_to(&target).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(!target.exists());
    assert_eq!(listing(dir.path()), Vec::<String>::new(), "leftover files");
}

#[tokio::test]
async fn a_failed_download_keeps_the_previous_file() {
    let base = truncating_server(50_000, 10_000).await;
    let client = Client::builder()
        .api_token(TOKEN)
        .account_id(ACCOUNT)
        .base_url(base)
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("photo.png");
    std::fs::write(&target, b"previous").unwrap();

    let blob = client.v1().blobs().get("cut").send().await.unwrap();
    assert!(blob.save_to(&target).await.is_err());

    assert_eq!(std::fs::read(&target).unwrap(), b"previous");
    assert_eq!(listing(dir.path()), ["photo.png"]);
}

#[tokio::test]
async fn saving_into_a_missing_directory_fails_cleanly() {
    let h = Harness::new().await;
    h.respond(ResponseTemplate::new(200).set_body_raw(PIXEL_PNG.to_vec(), "image/png"))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("no-such-dir").join("a.png");
    let blob = h.client.v1().blobs().get("x").send().await.unwrap();
    let err = blob.save_to(&target).await.unwrap_err();
    assert!(std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some());
    assert_eq!(listing(dir.path()), Vec::<String>::new());
}
