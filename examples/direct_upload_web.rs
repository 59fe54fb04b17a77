//! A small web app running the direct creator upload flow in a browser:
//!
//! 1. the page asks this backend for a one-time upload URL (`POST /api/upload-url`); the
//!    backend creates it with the SDK (custom id, metadata, expiry; or `requireSignedURLs`);
//! 2. the browser sends the chosen file straight to that URL, without credentials, with
//!    `XMLHttpRequest` (for upload progress) — or with a plain HTML `<form>`;
//! 3. the page polls `GET /api/status?id=` until the image is no longer a draft
//!    (`direct::image_status`), then shows it through its delivery URL, signed
//!    (`DeliveryUrl` + `SigningKey::fetch`) when the image requires signed URLs.
//!
//! The page (`direct_upload_web/index.html`) is embedded in the binary: no JS build, nothing
//! fetched from the internet. Without `CLOUDFLARE_API_TOKEN` it runs against a local Images
//! emulator started in this process; with `CLOUDFLARE_API_TOKEN` and `CLOUDFLARE_ACCOUNT_ID`
//! (as `Client::from_env` reads them) against your Cloudflare account.
//!
//! Run: `cargo run --example direct_upload_web [-- --port 8080]`, then open the printed URL.
//! `--self-test` serves one scripted round through reqwest (no browser) and exits.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue, Response, StatusCode, Uri};
use axum::routing::{get, post};
use axum::Router;
use cloudflare_images::delivery::{DeliveryUrl, SigningKey};
use cloudflare_images::direct::image_status;
use cloudflare_images::Client;
use cloudflare_images_emulator::fixtures::PIXEL_PNG;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

const INDEX_HTML: &str = include_str!("direct_upload_web/index.html");

/// How long a one-time URL handed to the browser stays valid.
const UPLOAD_URL_TTL: chrono::Duration = chrono::Duration::minutes(30);
/// How long the signed delivery URLs this app hands out stay valid.
const SIGNED_URL_TTL: Duration = Duration::from_secs(15 * 60);

/// The backend's state: the SDK client (it holds the credentials; the browser never sees
/// them) and the account's signing key, fetched once when first needed.
pub struct Backend {
    client: Client,
    key: OnceCell<SigningKey>,
    counter: AtomicU32,
}

/// A running web app.
pub struct WebApp {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    task: JoinHandle<()>,
}

impl Drop for WebApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the web app on 127.0.0.1:`port` (0: a free port).
pub async fn start_web_app(client: Client, port: u16) -> std::io::Result<WebApp> {
    let backend = Arc::new(Backend {
        client,
        key: OnceCell::new(),
        counter: AtomicU32::new(0),
    });
    let router = Router::new()
        .route("/", get(index))
        .route("/api/upload-url", post(upload_url))
        .route("/api/status", get(status))
        .with_state(backend);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr: SocketAddr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(WebApp {
        url: format!("http://{addr}"),
        task,
    })
}

async fn index() -> Response<Body> {
    let mut resp = Response::new(Body::from(INDEX_HTML));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn sdk_error(e: &dyn std::fmt::Display) -> Response<Body> {
    eprintln!("error: {e}");
    json_response(StatusCode::BAD_GATEWAY, &json!({ "error": e.to_string() }))
}

/// `POST /api/upload-url` (form: `private=true`, `name=<file name>`): a one-time upload URL.
/// A public image gets a custom id; a private one cannot have one (Cloudflare's rule), so it
/// gets `requireSignedURLs` and a generated id.
async fn upload_url(State(backend): State<Arc<Backend>>, body: Bytes) -> Response<Body> {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let private = field("private") == Some("true");
    let name: String = field("name").unwrap_or("").chars().take(200).collect();
    let mut request = backend
        .client
        .v2()
        .direct_uploads()
        .create()
        .metadata(json!({ "app": "direct_upload_web", "file": name }))
        .expiry(chrono::Utc::now() + UPLOAD_URL_TTL);
    if private {
        request = request.require_signed_urls(true);
    } else {
        let n = backend.counter.fetch_add(1, Ordering::Relaxed);
        let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S%3f");
        request = request.id(format!("web/{stamp}-{n}"));
    }
    match request.send().await {
        Ok(created) => json_response(
            StatusCode::OK,
            &json!({ "id": created.id, "uploadURL": created.upload_url }),
        ),
        Err(e) => sdk_error(&e),
    }
}

/// `GET /api/status?id=`: `{"draft": true}` until uploaded, then the image and the URL to
/// show it with (signed if the image requires it) and its unsigned URL.
async fn status(State(backend): State<Arc<Backend>>, uri: Uri) -> Response<Body> {
    let id = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "id")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let status = match image_status(&backend.client, &id).await {
        Ok(status) => status,
        Err(e) => return sdk_error(&e),
    };
    if status.draft {
        return json_response(StatusCode::OK, &json!({ "id": id, "draft": true }));
    }
    let image = status.image;
    let urls = match delivery_urls(&backend, &id, &image).await {
        Ok(urls) => urls,
        Err(e) => return sdk_error(&e),
    };
    json_response(
        StatusCode::OK,
        &json!({
            "id": id,
            "draft": false,
            "filename": image.filename,
            "requireSignedURLs": image.require_signed_urls,
            "url": urls.0,
            "unsignedUrl": urls.1,
        }),
    )
}

/// The URL to show the image with (signed when required) and its plain URL. The account hash
/// and the delivery origin come from the image's own variant URLs, so this works unchanged on
/// Cloudflare (`https://imagedelivery.net/<hash>/...`) and on the emulator.
async fn delivery_urls(
    backend: &Backend,
    id: &str,
    image: &cloudflare_images::types::Image,
) -> Result<(String, String), Box<dyn std::error::Error + Send + Sync>> {
    let variants = image.variants.as_deref().map(Vec::as_slice).unwrap_or(&[]);
    let chosen = variants
        .iter()
        .find(|u| u.ends_with("/public"))
        .or(variants.first())
        .ok_or("the image has no variant URL")?;
    let parsed = reqwest::Url::parse(chosen)?;
    let segments: Vec<&str> = parsed
        .path_segments()
        .map(Iterator::collect)
        .unwrap_or_default();
    let (Some(hash), Some(variant)) = (segments.first(), segments.last()) else {
        return Err("unexpected variant URL".into());
    };
    let url = DeliveryUrl::new(*hash, id, *variant)?
        .with_base_url(&parsed.origin().ascii_serialization())?;
    let plain = url.url();
    if !image.require_signed_urls {
        return Ok((plain.clone(), plain));
    }
    let key = backend
        .key
        .get_or_try_init(|| SigningKey::fetch(&backend.client, None))
        .await?;
    Ok((url.sign_for(key, SIGNED_URL_TTL)?, plain))
}

/// The client: from the environment when `CLOUDFLARE_API_TOKEN` is set, else on a local
/// emulator started here (returned so it lives as long as the app).
async fn client(
) -> Result<(Client, Option<cloudflare_images_emulator::EmulatorHandle>), Box<dyn std::error::Error>>
{
    if std::env::var("CLOUDFLARE_API_TOKEN").is_ok_and(|t| !t.is_empty()) {
        println!("using your Cloudflare account (CLOUDFLARE_API_TOKEN is set)");
        return Ok((Client::from_env()?, None));
    }
    let emulator = cloudflare_images_emulator::Emulator::start().await?;
    println!(
        "local Images emulator at {} (its console: {}/)",
        emulator.origin(),
        emulator.origin()
    );
    let client = Client::builder()
        .api_token("local-token")
        .account_id(emulator.account_id())
        .base_url(emulator.base_url())
        .build()?;
    Ok((client, Some(emulator)))
}

#[allow(dead_code)] // the browser test includes this file for `start_web_app`
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 0u16;
    let mut self_test = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().ok_or("--port needs a value")?.parse()?,
            "--self-test" => self_test = true,
            "--help" | "-h" => {
                println!("usage: direct_upload_web [--port N] [--self-test]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let (client, _emulator) = client().await?;
    let app = start_web_app(client.clone(), port).await?;
    if self_test {
        self_test_round(&client, &app.url).await?;
        println!("self-test passed");
        return Ok(());
    }
    println!("open {}/ in a browser (Ctrl-C to stop)", app.url);
    std::future::pending::<()>().await;
    Ok(())
}

/// One scripted round of what the page does, through reqwest: a public image through a
/// cross-origin upload, a private one shown signed and refused unsigned. Deletes both.
#[allow(dead_code)]
async fn self_test_round(client: &Client, app: &str) -> Result<(), Box<dyn std::error::Error>> {
    let http = cloudflare_images::http_client_builder()?.build()?;
    let page = http.get(format!("{app}/")).send().await?.text().await?;
    check(page.contains("id=\"upload\""), "the page is served")?;
    let mut made = Vec::new();
    for private in [false, true] {
        let created: Value = http
            .post(format!("{app}/api/upload-url"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("private={private}&name=pixel.png"))
            .send()
            .await?
            .json()
            .await?;
        let id = created["id"].as_str().ok_or("no id")?.to_owned();
        let upload_url = created["uploadURL"].as_str().ok_or("no uploadURL")?;
        made.push(id.clone());
        // The browser's preflight, then its cross-origin POST.
        let preflight = http
            .request(reqwest::Method::OPTIONS, upload_url)
            .header("Origin", app)
            .header("Access-Control-Request-Method", "POST")
            .send()
            .await?;
        check(preflight.status().is_success(), "the preflight is answered")?;
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(PIXEL_PNG).file_name("pixel.png"),
        );
        let uploaded = http
            .post(upload_url)
            .header("Origin", app)
            .multipart(form)
            .send()
            .await?;
        check(uploaded.status().is_success(), "the upload succeeds")?;
        check(
            uploaded
                .headers()
                .contains_key("access-control-allow-origin"),
            "the upload answer is readable cross-origin",
        )?;
        // Poll like the page.
        let mut status = Value::Null;
        for _ in 0..100 {
            status = http
                .get(format!("{app}/api/status"))
                .query(&[("id", &id)])
                .send()
                .await?
                .json()
                .await?;
            if status["draft"] == false {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        check(status["draft"] == false, "the image is no longer a draft")?;
        let shown = http
            .get(status["url"].as_str().ok_or("no url")?)
            .send()
            .await?;
        check(shown.status().is_success(), "the image is delivered")?;
        // Delivery renders the variant (the emulator, like Cloudflare, re-encodes it, as
        // WebP when the client accepts it), so the bytes are checked to be an image, not
        // compared with the upload's.
        let shown_type = shown
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        check(
            shown_type.starts_with("image/") && !shown.bytes().await?.is_empty(),
            "an image is delivered",
        )?;
        if private {
            let unsigned = http
                .get(status["unsignedUrl"].as_str().ok_or("no url")?)
                .send()
                .await?;
            check(
                unsigned.status() == 403,
                "the private image is refused unsigned",
            )?;
        }
        println!(
            "{} image {id}: uploaded, delivered",
            if private { "private" } else { "public" }
        );
    }
    for id in made {
        client.v1().delete(id).send().await?;
    }
    Ok(())
}

fn check(ok: bool, what: &str) -> Result<(), Box<dyn std::error::Error>> {
    if ok {
        Ok(())
    } else {
        Err(format!("self-test failed: {what}").into())
    }
}
