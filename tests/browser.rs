//! The browser side, in a real browser: headless Chromium driven over WebDriver (plain JSON
//! requests to `chromedriver`, no WebDriver crate).
//!
//! A page served from another origin than the emulator (the `direct_upload_web` example's
//! server) uploads a file through a one-time URL with XMLHttpRequest and with a plain HTML
//! form; the images must then be non-drafts in the store and in the emulator's console, and a
//! private image must be refused unsigned and shown signed. The emulator's console follows:
//! its own creator upload, a failed one (progress reset, the error code once, no draft card
//! left), delete with confirmation and a report after, and the Variants page's description.
//! A screenshot of each page is kept under `target/browser-screenshots/`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`). Without them the test prints a skip message and passes, unless `CI=true`.
//!
//! A test binary of its own, not a module of `tests/it`: Chromium and chromedriver take both
//! cores and hundreds of MiB for a long run, and cargo runs test binaries one after another,
//! so the browser never competes with the timing-sensitive tests of `tests/it` (timeouts,
//! trickled bodies, retry waits). It also runs alone as `cargo test --test browser`.

#[allow(dead_code)]
#[path = "../examples/direct_upload_web.rs"]
mod web;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cloudflare_images::direct::image_status;
use cloudflare_images::Client;
use cloudflare_images_emulator::Emulator;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// `chromedriver` (killed on drop) and one browser session.
struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    screenshots: PathBuf,
    /// Chromium's fresh `--user-data-dir`, removed on drop.
    profile: PathBuf,
    /// True once the session has been deleted (the browser closed).
    closed: bool,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Close the browser (also after a failed assertion), then chromedriver.
        if let Some((base, path)) = self
            .session
            .strip_prefix("http://")
            .filter(|_| !self.closed)
            .and_then(|s| s.split_once('/'))
        {
            use std::io::{Read, Write};
            if let Ok(mut stream) = std::net::TcpStream::connect(base) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = write!(
                    stream,
                    "DELETE /{path} HTTP/1.1\r\nHost: {base}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                // The answer comes once the browser has quit.
                let _ = stream.read(&mut [0; 512]);
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; `None` if they are not installed
    /// (a failure when `CI=true`).
    async fn start() -> Option<Browser> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(
                !ci,
                "CI=true but {CHROMIUM} or {CHROMEDRIVER} is missing: install chromium chromium-driver"
            );
            eprintln!(
                "SKIPPED: browser test needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
            );
            return None;
        }
        let work = target_dir().join("browser-test");
        let profile = work.join(format!("profile-{}", std::process::id()));
        let tmp = work.join("tmp");
        std::fs::create_dir_all(&profile).expect("profile dir");
        std::fs::create_dir_all(&tmp).expect("tmp dir");
        let screenshots = target_dir().join("browser-screenshots");
        std::fs::create_dir_all(&screenshots).expect("screenshot dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(work.join("chromedriver.log")).expect("log file");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .env("TMPDIR", &tmp)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("chromedriver starts");
        let http = cloudflare_images::http_client_builder()
            .expect("the SDK's TLS")
            .build()
            .expect("an http client");
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            http,
            session: base.clone(),
            driver,
            screenshots,
            profile: profile.clone(),
            closed: false,
        };
        let ready = Instant::now();
        loop {
            let status = browser.http.get(format!("{base}/status")).send().await;
            if let Ok(resp) = status {
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                if body["value"]["ready"] == true {
                    break;
                }
            }
            assert!(
                ready.elapsed() < Duration::from_secs(20),
                "chromedriver not ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1100,1000",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let created = browser
            .command(
                reqwest::Method::POST,
                "",
                json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
                }}}),
            )
            .await;
        let id = created["sessionId"].as_str().expect("a session id");
        browser.session = format!("{base}/session/{id}");
        Some(browser)
    }

    /// One WebDriver command; returns its `value`, panics on a WebDriver error.
    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = if path.is_empty() && !self.session.contains("/session/") {
            format!("{}/session", self.session)
        } else {
            format!("{}{path}", self.session)
        };
        let mut rb = self.http.request(method.clone(), &url);
        if method != reqwest::Method::GET && method != reqwest::Method::DELETE {
            rb = rb.json(&body);
        }
        let resp = rb.send().await.expect("webdriver request");
        let status = resp.status();
        let answer: Value = resp.json().await.expect("webdriver JSON");
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .command(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found[ELEMENT].as_str().expect("an element id").to_owned()
    }

    async fn send_keys(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            json!({}),
        )
        .await;
    }

    async fn script(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// Waits until `expression` (JavaScript) is truthy; returns its value.
    async fn wait_for(&self, expression: &str, what: &str) -> Value {
        let started = Instant::now();
        loop {
            let value = self.script(&format!("return ({expression});")).await;
            if !(value.is_null() || value == false || value == "") {
                return value;
            }
            if started.elapsed() > Duration::from_secs(20) {
                self.screenshot("timeout").await;
                let text = self.script("return document.body.innerText;").await;
                panic!("timed out waiting for {what}; page text: {text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends the session: the browser quits.
    async fn quit(&mut self) {
        self.command(reqwest::Method::DELETE, "", Value::Null).await;
        self.closed = true;
    }

    async fn screenshot(&self, name: &str) {
        let data = self
            .command(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let png = base64_decode(data.as_str().expect("base64 text"));
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(self.screenshots.join(format!("{name}.png")), png).expect("screenshot");
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let clean: Vec<u8> = text.bytes().filter(|c| !b"=\r\n".contains(c)).collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= u32::from(value(c)) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// A `size`x`size` RGB PNG (a colour gradient), uncompressed: visible in screenshots.
fn test_png(size: u32, tint: u8) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut raw = Vec::new();
    for y in 0..size {
        raw.push(0); // filter: none
        for x in 0..size {
            raw.extend_from_slice(&[(x * 255 / size) as u8, (y * 255 / size) as u8, tint]);
        }
    }
    // zlib with stored (uncompressed) deflate blocks.
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        let len = u16::try_from(block.len()).unwrap();
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&size.to_be_bytes());
    header.extend_from_slice(&size.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &z);
    chunk(&mut png, b"IEND", &[]);
    png
}

async fn assert_stored(client: &Client, id: &str) {
    let status = image_status(client, id).await.expect("the image exists");
    assert!(!status.draft, "{id} is still a draft");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_from_a_browser_on_another_origin() {
    let started = Instant::now();
    let Some(mut browser) = Browser::start().await else {
        return;
    };
    eprintln!("browser started in {:?}", started.elapsed());
    let emulator = Emulator::start().await.expect("emulator");
    let client = Client::builder()
        .api_token("local-token")
        .account_id(emulator.account_id())
        .base_url(emulator.base_url())
        .build()
        .expect("client");
    let app = web::start_web_app(client.clone(), 0)
        .await
        .expect("web app");
    assert_ne!(app.url, emulator.origin(), "the page is on another origin");

    let files = target_dir().join("browser-test");
    let (blue, orange) = (files.join("blue.png"), files.join("orange.png"));
    std::fs::write(&blue, test_png(96, 230)).expect("file");
    std::fs::write(&orange, test_png(96, 20)).expect("file");
    let (blue, orange) = (blue.display().to_string(), orange.display().to_string());

    // 1. The web app: XMLHttpRequest to the one-time URL, a public image.
    let step = Instant::now();
    browser.goto(&format!("{}/", app.url)).await;
    browser.send_keys("#file", &blue).await;
    browser.click("#upload").await;
    browser
        .wait_for("document.getElementById('status').dataset.state === 'done' || document.getElementById('status').dataset.state === 'error'", "the upload")
        .await;
    let state = browser
        .script("return document.getElementById('status').textContent;")
        .await;
    let public_id = browser
        .script("return document.getElementById('status').dataset.id || null;")
        .await;
    let public_id = public_id
        .as_str()
        .unwrap_or_else(|| panic!("upload failed: {state}"))
        .to_owned();
    assert_eq!(
        browser
            .script("return document.getElementById('result').naturalWidth;")
            .await,
        96,
        "the image is shown through its delivery URL"
    );
    assert_eq!(
        browser
            .script("return document.getElementById('progress').value;")
            .await,
        100
    );
    browser.screenshot("1-web-app-public-upload").await;
    assert_stored(&client, &public_id).await;
    eprintln!("public upload via XHR: {:?}", step.elapsed());

    // 2. A private image: shown through a signed URL, its unsigned URL refused (read by a
    //    cross-origin fetch, so delivery's CORS is exercised too).
    let step = Instant::now();
    browser.click("#private").await;
    browser.send_keys("#file", &orange).await;
    browser.click("#upload").await;
    browser
        .wait_for("document.getElementById('unsigned').dataset.status || document.getElementById('status').dataset.state === 'error'", "the private upload")
        .await;
    let private_id = browser
        .script("return document.getElementById('status').dataset.id || document.getElementById('status').textContent;")
        .await
        .as_str()
        .expect("text")
        .to_owned();
    assert_ne!(private_id, public_id);
    assert_eq!(
        browser
            .script("return document.getElementById('unsigned').dataset.status;")
            .await,
        "403",
        "the unsigned URL is refused"
    );
    let src = browser
        .script("return document.getElementById('result').src;")
        .await;
    assert!(
        src.as_str().unwrap().contains("sig="),
        "shown signed: {src}"
    );
    assert_eq!(
        browser
            .script("return document.getElementById('result').naturalWidth;")
            .await,
        96
    );
    browser.screenshot("2-web-app-private-signed").await;
    assert_stored(&client, &private_id).await;
    let unsigned = reqwest::get(src.as_str().unwrap().split('?').next().unwrap())
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    eprintln!("private upload, signed display: {:?}", step.elapsed());

    // 3. A plain HTML form posting to the one-time URL (no script involved in the upload).
    let step = Instant::now();
    browser.click("#form-prepare").await;
    browser
        .wait_for(
            "document.getElementById('form-status').dataset.state === 'ready'",
            "the form's URL",
        )
        .await;
    browser.send_keys("#form-file", &blue).await;
    browser.click("#form-submit").await;
    browser
        .wait_for("document.getElementById('form-status').dataset.state === 'done' || document.getElementById('form-status').dataset.state === 'error'", "the form upload")
        .await;
    let form_id = browser
        .script("return document.getElementById('form-status').dataset.id || document.getElementById('form-status').textContent;")
        .await
        .as_str()
        .expect("text")
        .to_owned();
    assert_eq!(
        browser
            .script("return document.getElementById('form-image').naturalWidth;")
            .await,
        96,
        "{form_id}"
    );
    browser
        .script("document.getElementById('form-image').scrollIntoView(); return null;")
        .await;
    browser.screenshot("3-web-app-form-post").await;
    assert_stored(&client, &form_id).await;
    eprintln!("form post: {:?}", step.elapsed());

    // 4. The console lists all three as non-drafts, with thumbnails (signed for the private one).
    let step = Instant::now();
    browser.goto(&format!("{}/", emulator.origin())).await;
    browser
        .wait_for(
            "[...document.images].every(i => i.complete)",
            "the thumbnails",
        )
        .await;
    let cards = browser
        .script("return [...document.querySelectorAll('.card')].map(c => [c.dataset.id, c.classList.contains('draft'), c.querySelector('img') ? c.querySelector('img').naturalWidth : 0]);")
        .await;
    for id in [&public_id, &private_id, &form_id] {
        let card = cards
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c[0] == id.as_str())
            .unwrap_or_else(|| panic!("{id} in the gallery: {cards}"));
        assert_eq!(card[1], false, "{id} is not a draft");
        assert_eq!(card[2], 96, "{id} has a thumbnail");
    }
    browser.screenshot("4-console-gallery").await;

    // The private image's page: preview shown (signed), the signed-URL generator works.
    let encoded: String = form_urlencoded::byte_serialize(private_id.as_bytes()).collect();
    browser
        .goto(&format!(
            "{}/console/image?id={encoded}&variant=public&ttl=600",
            emulator.origin()
        ))
        .await;
    browser
        .wait_for(
            "document.querySelector('img.preview').complete",
            "the preview",
        )
        .await;
    assert_eq!(
        browser
            .script("return document.querySelector('img.preview').naturalWidth;")
            .await,
        96
    );
    let signed = browser
        .script("return document.getElementById('signed-url').href;")
        .await;
    browser.screenshot("5-console-image-page").await;
    let resp = reqwest::get(signed.as_str().unwrap()).await.unwrap();
    assert_eq!(resp.status(), 200, "the generated signed URL works");

    // The console's own creator-upload page.
    browser
        .goto(&format!("{}/console/upload", emulator.origin()))
        .await;
    browser
        .send_keys("#upload-id", "console/from-browser")
        .await;
    browser.send_keys("#upload-file", &orange).await;
    browser.click("#upload-button").await;
    browser
        .wait_for("document.getElementById('upload-status').dataset.state === 'done' || document.getElementById('upload-status').dataset.state === 'error'", "the console upload")
        .await;
    let text = browser
        .script("return document.getElementById('upload-status').textContent;")
        .await;
    assert_eq!(
        browser
            .script("return document.getElementById('upload-status').dataset.id || null;")
            .await,
        "console/from-browser",
        "{text}"
    );
    browser.screenshot("6-console-upload").await;
    assert_stored(&client, "console/from-browser").await;
    browser
        .goto(&format!("{}/console/variants", emulator.origin()))
        .await;
    browser.screenshot("7-console-variants").await;
    let text = browser.script("return document.body.textContent;").await;
    let text = text.as_str().expect("text");
    assert!(!text.contains("never resizes"), "{text}");
    assert!(text.contains("resized to its width and height"), "{text}");
    assert_eq!(emulator.image_count(), 4);

    // A failed console upload (not an image): the bar back at 0, Cloudflare's code once,
    // and no card left in the gallery for the draft its URL made.
    let notes = files.join("notes.png");
    std::fs::write(&notes, b"plain text, not an image").expect("file");
    browser
        .goto(&format!("{}/console/upload", emulator.origin()))
        .await;
    browser.send_keys("#upload-id", "console/fails").await;
    browser
        .send_keys("#upload-file", &notes.display().to_string())
        .await;
    browser.click("#upload-button").await;
    browser
        .wait_for("document.getElementById('upload-status').dataset.state === 'done' || document.getElementById('upload-status').dataset.state === 'error'", "the failing upload")
        .await;
    let status = browser
        .script("return document.getElementById('upload-status').textContent;")
        .await;
    let status = status.as_str().expect("text").to_owned();
    assert_eq!(
        browser
            .script("return document.getElementById('upload-status').dataset.state;")
            .await,
        "error",
        "{status}"
    );
    assert_eq!(status.matches("9422").count(), 1, "the code once: {status}");
    assert_eq!(
        browser
            .script("return document.getElementById('upload-progress').value;")
            .await,
        0,
        "the progress bar is reset"
    );
    browser.screenshot("8-console-failed-upload").await;
    browser.goto(&format!("{}/", emulator.origin())).await;
    let cards = browser
        .script("return [...document.querySelectorAll('.card')].map(c => c.dataset.id);")
        .await;
    assert!(
        !cards
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "console/fails"),
        "no card for the failed upload's draft: {cards}"
    );
    assert_eq!(cards.as_array().unwrap().len(), 4, "{cards}");

    // Delete from the image page: a confirmation first, then a report in the gallery.
    browser
        .goto(&format!(
            "{}/console/image?id=console%2Ffrom-browser",
            emulator.origin()
        ))
        .await;
    browser.click("form.delete button").await;
    browser
        .wait_for(
            "!!document.getElementById('confirm-delete')",
            "the confirmation",
        )
        .await;
    let heading = browser
        .script("return document.querySelector('h1').textContent;")
        .await;
    assert_eq!(heading, "Delete image console/from-browser?");
    browser.screenshot("9-console-confirm-delete").await;
    assert_eq!(
        emulator.image_count(),
        4,
        "nothing deleted before confirming"
    );
    browser.click("#confirm-delete").await;
    browser
        .wait_for("!!document.getElementById('notice')", "the report")
        .await;
    let notice = browser
        .script("return document.getElementById('notice').textContent;")
        .await;
    assert_eq!(notice, "Deleted image console/from-browser.");
    browser.screenshot("10-console-deleted").await;
    assert_eq!(emulator.image_count(), 3);
    assert!(image_status(&client, "console/from-browser").await.is_err());
    eprintln!("console: {:?}", step.elapsed());

    browser.quit().await;
    eprintln!(
        "browser test: {:?} in all; screenshots in {}",
        started.elapsed(),
        browser.screenshots.display()
    );
}
