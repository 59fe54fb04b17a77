//! `/cdn-cgi/image/<options>/<source>` transformations, every answer decoded and measured:
//! sources on the emulator (delivery paths) and on allowed origins (a file server started
//! here), the options the renderer applies, `format=json`, the `Cf-Resized: err=...`
//! failures (an origin not allowed is never contacted), `onerror=redirect`; and
//! `/cdn-cgi/imagedelivery/...` serving exactly what the plain delivery path serves.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::common::*;
use cloudflare_images_emulator::Config;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba};
use serde_json::json;

/// A `w` x `h` PNG: the left half red, the right half blue (so crops, flips and rotations
/// can be told apart).
fn halves(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, _| {
        if x < w / 2 {
            Rgb([220, 20, 20])
        } else {
            Rgb([20, 20, 220])
        }
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img)
        .write_to(&mut out, ImageFormat::Png)
        .expect("encodes");
    out.into_inner()
}

struct Got {
    status: u16,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a 200 in `format` of exactly `w` x `h`; returns the decoded image.
    #[track_caller]
    fn image(&self, format: ImageFormat, w: u32, h: u32) -> image::RgbaImage {
        assert_eq!(
            self.status,
            200,
            "body: {}",
            String::from_utf8_lossy(&self.bytes)
        );
        assert_eq!(self.header("content-type"), format.to_mime_type());
        assert_eq!(self.header("cf-resized"), "internal=ok");
        assert_eq!(image::guess_format(&self.bytes).expect("an image"), format);
        let img = image::load_from_memory_with_format(&self.bytes, format).expect("decodes");
        assert_eq!((img.width(), img.height()), (w, h));
        img.to_rgba8()
    }

    /// Asserts a failure with this status and `Cf-Resized: err=<code>`.
    #[track_caller]
    fn failure(&self, status: u16, code: u16) {
        let body = String::from_utf8_lossy(&self.bytes);
        assert_eq!(self.status, status, "body: {body}");
        assert_eq!(self.header("cf-resized"), format!("err={code}"), "{body}");
        assert!(body.starts_with(&format!("ERROR {code}: ")), "{body}");
    }
}

struct T {
    ctx: Ctx,
    hash: String,
}

impl T {
    async fn new(config: Config) -> T {
        let ctx = Ctx::with(Config {
            api_token: Some(TOKEN.into()),
            ..config
        })
        .await;
        let hash = ctx.emu.account_hash().to_owned();
        T { ctx, hash }
    }

    async fn upload(&self, bytes: Vec<u8>, fields: &[(&str, &str)]) -> String {
        let mut form = file_form(bytes, "a.png");
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let answer = self.ctx.upload(form).await;
        answer.assert_ok()["id"].as_str().expect("an id").to_owned()
    }

    async fn get_with(&self, path: &str, accept: Option<&str>) -> Got {
        let mut rb = self
            .ctx
            .http
            .get(format!("{}{}", self.ctx.emu.origin(), path));
        if let Some(accept) = accept {
            rb = rb.header("accept", accept);
        }
        let resp = rb.send().await.expect("request");
        Got {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            bytes: resp.bytes().await.expect("body").to_vec(),
        }
    }

    /// A GET carrying `Via: image-resizing`, as a transformation's fetch does.
    async fn get_with_via(&self, path: &str) -> Got {
        let resp = self
            .ctx
            .http
            .get(format!("{}{}", self.ctx.emu.origin(), path))
            .header("via", "1.1 image-resizing")
            .send()
            .await
            .expect("request");
        Got {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            bytes: resp.bytes().await.expect("body").to_vec(),
        }
    }

    async fn get(&self, path: &str) -> Got {
        self.get_with(path, None).await
    }

    /// `/cdn-cgi/image/<options>/<hash>/<id>/public`.
    async fn transform(&self, options: &str, id: &str) -> Got {
        self.get(&format!(
            "/cdn-cgi/image/{options}/{}/{id}/public",
            self.hash
        ))
        .await
    }
}

#[tokio::test]
async fn own_delivery_paths_are_transformed() {
    let t = T::new(Config::default()).await;
    let id = t.upload(halves(200, 100), &[]).await;
    // The example of the documentation, long names.
    t.transform("width=100,format=webp", &id)
        .await
        .image(ImageFormat::WebP, 100, 50);
    // Short names, squeeze, JPEG.
    t.transform("w=50,h=50,fit=squeeze,f=jpeg,q=80", &id)
        .await
        .image(ImageFormat::Jpeg, 50, 50);
    // dpr multiplies the sizes; the source format is kept without Accept.
    t.transform("w=30,dpr=2", &id)
        .await
        .image(ImageFormat::Png, 60, 30);
    // width=auto and named quality are accepted.
    t.transform("width=auto,quality=medium-low,h=20", &id)
        .await
        .image(ImageFormat::Png, 40, 20);
    // WebP when Accept allows it, as delivery does.
    let got = t
        .get_with(
            &format!("/cdn-cgi/image/w=20/{}/{id}/public", t.hash),
            Some("image/webp,*/*"),
        )
        .await;
    got.image(ImageFormat::WebP, 20, 10);
    assert_eq!(got.header("vary"), "Accept");
    // The cdn-cgi delivery path is a source too.
    t.get(&format!(
        "/cdn-cgi/image/w=10/cdn-cgi/imagedelivery/{}/{id}/public",
        t.hash
    ))
    .await
    .image(ImageFormat::Png, 10, 5);
}

#[tokio::test]
async fn geometry_and_effects_are_applied() {
    let t = T::new(Config::default()).await;
    let id = t.upload(halves(200, 100), &[]).await;
    let red = |p: &Rgba<u8>| p.0[0] > 150 && p.0[2] < 100;
    let blue = |p: &Rgba<u8>| p.0[2] > 150 && p.0[0] < 100;

    // Rotation comes before resizing: width refers to the rotated image.
    let img = t
        .transform("rotate=90,w=50", &id)
        .await
        .image(ImageFormat::Png, 50, 100);
    // Clockwise: the red left half ends on top.
    assert!(red(img.get_pixel(25, 5)) && blue(img.get_pixel(25, 95)));
    // A horizontal flip puts blue on the left.
    let img = t
        .transform("flip=h", &id)
        .await
        .image(ImageFormat::Png, 200, 100);
    assert!(blue(img.get_pixel(5, 50)) && red(img.get_pixel(195, 50)));
    // Gravity decides what a cover crop keeps.
    let left = t
        .transform("w=50,h=100,fit=cover,gravity=left", &id)
        .await
        .image(ImageFormat::Png, 50, 100);
    assert!(red(left.get_pixel(45, 50)));
    let right = t
        .transform("w=50,h=100,fit=cover,g=1x0.5", &id)
        .await
        .image(ImageFormat::Png, 50, 100);
    assert!(blue(right.get_pixel(5, 50)));
    // Trim cuts top;right;bottom;left before anything else.
    let img = t
        .transform("trim=10;120;10;0", &id)
        .await
        .image(ImageFormat::Png, 80, 80);
    assert!(img.pixels().all(red));
    // trim=border cuts a uniform frame (here white, 10 px) around the picture.
    let framed = RgbImage::from_fn(60, 40, |x, y| {
        if (10..50).contains(&x) && (10..30).contains(&y) {
            Rgb([220, 20, 20])
        } else {
            Rgb([255, 255, 255])
        }
    });
    let mut png = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(framed)
        .write_to(&mut png, ImageFormat::Png)
        .expect("encodes");
    let framed = t.upload(png.into_inner(), &[]).await;
    let img = t
        .transform("trim=border", &framed)
        .await
        .image(ImageFormat::Png, 40, 20);
    assert!(img.pixels().all(red));
    t.transform("trim=border,trim.border.keep=2", &framed)
        .await
        .image(ImageFormat::Png, 44, 24);
    // A border is added around the resized image.
    let img = t
        .transform("w=40,border=color:%2300FF00;width:5", &id)
        .await
        .image(ImageFormat::Png, 50, 30);
    assert_eq!(*img.get_pixel(0, 0), Rgba([0, 255, 0, 255]));
    assert!(red(img.get_pixel(6, 15)));
    // Padding takes the background colour.
    let img = t
        .transform("w=100,h=100,fit=pad,background=%23000000", &id)
        .await
        .image(ImageFormat::Png, 100, 100);
    assert_eq!(*img.get_pixel(50, 2), Rgba([0, 0, 0, 255]));
    // No saturation is grey; no brightness is black.
    let img = t
        .transform("saturation=0", &id)
        .await
        .image(ImageFormat::Png, 200, 100);
    assert!(img.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]));
    let img = t
        .transform("brightness=0", &id)
        .await
        .image(ImageFormat::Png, 200, 100);
    assert!(img.pixels().all(|p| p.0[..3] == [0, 0, 0]));
    // A blur mixes the two halves at their edge; the plain image does not.
    let sharp = t
        .transform("w=200", &id)
        .await
        .image(ImageFormat::Png, 200, 100);
    let blurred = t
        .transform("blur=20", &id)
        .await
        .image(ImageFormat::Png, 200, 100);
    assert!(red(sharp.get_pixel(99, 50)));
    assert!(!red(blurred.get_pixel(99, 50)) && !blue(blurred.get_pixel(99, 50)));
    // Accepted and approximated: sharpen, contrast, gamma, zoom, segment, compression,
    // metadata, anim, slow-connection-quality, onerror.
    t.transform(
        "sharpen=3,contrast=1.2,gamma=1.1,gravity=face,zoom=0.5,segment=foreground,\
         compression=fast,metadata=none,anim=false,scq=50,onerror=redirect",
        &id,
    )
    .await
    .image(ImageFormat::Png, 200, 100);
}

/// Every frame of an animation goes through the same options; it stays an animated GIF.
#[tokio::test]
async fn animations_keep_their_frames() {
    use image::codecs::gif::{GifDecoder, GifEncoder, Repeat};
    use image::{AnimationDecoder, Delay, Frame, RgbaImage};
    let t = T::new(Config::default()).await;
    let mut gif = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut gif);
        encoder.set_repeat(Repeat::Infinite).expect("repeat");
        for i in 0..3u8 {
            let frame = RgbaImage::from_pixel(40, 20, Rgba([i * 100, 50, 200, 255]));
            encoder
                .encode_frame(Frame::from_parts(
                    frame,
                    0,
                    0,
                    Delay::from_numer_denom_ms(100, 1),
                ))
                .expect("frame");
        }
    }
    let id = t.upload(gif, &[]).await;
    let got = t
        .transform("rotate=90,w=10,border=color:red;width:1", &id)
        .await;
    got.image(ImageFormat::Gif, 12, 22);
    let frames = GifDecoder::new(Cursor::new(got.bytes))
        .expect("a GIF")
        .into_frames()
        .collect_frames()
        .expect("frames");
    assert_eq!(frames.len(), 3);
    assert!(frames.iter().all(|f| f.buffer().dimensions() == (12, 22)));
    // format=json describes the first frame.
    let json = t.transform("rotate=90,w=10,format=json", &id).await;
    let body: serde_json::Value = serde_json::from_slice(&json.bytes).expect("JSON");
    assert_eq!((&body["width"], &body["height"]), (&json!(10), &json!(20)));
    assert_eq!(body["original"]["format"], "image/gif");
}

#[tokio::test]
async fn format_json_describes_the_output_and_the_original() {
    let t = T::new(Config::default()).await;
    let id = t.upload(halves(200, 100), &[]).await;
    // The source is what the delivery path serves.
    let size = t.get(&format!("/{}/{id}/public", t.hash)).await.bytes.len();
    let got = t.transform("w=50,format=json", &id).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), "application/json");
    let body: serde_json::Value = serde_json::from_slice(&got.bytes).expect("JSON");
    assert_eq!(
        body,
        json!({
            "width": 50,
            "height": 25,
            "original": {"file_size": size, "width": 200, "height": 100, "format": "image/png"},
        })
    );
}

#[tokio::test]
async fn failures_carry_cf_resized_and_their_status() {
    let t = T::new(Config::default()).await;
    let id = t.upload(halves(20, 10), &[]).await;
    for bad in [
        "w=0",
        "w=12001",
        "q=101",
        "fit=stretch",
        "rotate=45",
        "flip=x",
        "blur=251",
        "sharpen=11",
        "gravity=2x0",
        "background=nocolour",
        "border=width:-1",
        "format=tiff",
        "frobnicate=1",
        "w",
    ] {
        t.transform(bad, &id).await.failure(400, 9401);
    }
    // No source after the options.
    t.get("/cdn-cgi/image/w=10").await.failure(400, 9401);
    // Source not found.
    t.transform("w=10", "no-such-image")
        .await
        .failure(404, 9404);
    // A transformation of a transformation is a loop.
    t.get(&format!(
        "/cdn-cgi/image/w=10/cdn-cgi/image/w=20/{}/{id}/public",
        t.hash
    ))
    .await
    .failure(403, 9403);
    // Too large to render.
    t.transform("w=12000,h=12000,fit=pad", &id)
        .await
        .failure(413, 9413);
    // onerror=redirect sends the client to the source instead.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let resp = client
        .get(format!(
            "{}/cdn-cgi/image/w=10,onerror=redirect/{}/missing/public",
            t.ctx.emu.origin(),
            t.hash
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 302);
    assert_eq!(
        resp.headers()["location"],
        format!("/{}/missing/public", t.hash).as_str()
    );
}

/// What the file server answers on one path: status, headers, body.
type Route = (u16, Vec<(String, String)>, Vec<u8>);

/// A tiny HTTP/1.1 file server: `routes` maps a path to (status, headers, body); every
/// request is counted.
struct Files {
    origin: String,
    hits: Arc<AtomicUsize>,
}

impl Files {
    /// Serves on a thread, one blocking connection at a time (enough for these tests).
    fn start(routes: HashMap<&'static str, Route>) -> Files {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let origin = format!("http://{}", listener.local_addr().expect("addr"));
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                let (status, headers, body) = routes.get(path.as_str()).cloned().unwrap_or((
                    404,
                    vec![],
                    b"not found".to_vec(),
                ));
                let mut out = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                let _ = stream.write_all(out.as_bytes());
                let _ = stream.write_all(&body);
                let _ = stream.shutdown(std::net::Shutdown::Write);
            }
        });
        Files { origin, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn header(k: &str, v: &str) -> Vec<(String, String)> {
    vec![(k.to_owned(), v.to_owned())]
}

#[tokio::test]
async fn absolute_sources_on_allowed_origins_only() {
    // Not allowed: must never be contacted.
    let elsewhere = Files::start(HashMap::from([(
        "/img.png",
        (200, header("content-type", "image/png"), halves(20, 10)),
    )]));
    let redirect_out = format!("{}/img.png", elsewhere.origin);
    let files = Files::start(HashMap::from([
        (
            "/img.png",
            (200, header("content-type", "image/png"), halves(200, 100)),
        ),
        (
            "/page.html",
            (
                200,
                header("content-type", "text/html"),
                b"<html></html>".to_vec(),
            ),
        ),
        ("/private.png", (403, vec![], b"no".to_vec())),
        ("/broken.png", (500, vec![], b"oops".to_vec())),
        ("/moved.png", (302, header("location", "/img.png"), vec![])),
        (
            "/away.png",
            (302, header("location", &redirect_out), vec![]),
        ),
        ("/loop.png", (302, header("location", "/loop.png"), vec![])),
    ]));
    let t = T::new(Config::default().allow_transform_origin(files.origin.clone())).await;
    let at = |options: &str, path: &str| format!("/cdn-cgi/image/{options}/{}{path}", files.origin);

    let img = t
        .get(&at("w=100,f=jpeg", "/img.png"))
        .await
        .image(ImageFormat::Jpeg, 100, 50);
    assert!(img.get_pixel(5, 25).0[0] > 150);
    // A redirect within the allowed origin is followed.
    t.get(&at("w=40", "/moved.png"))
        .await
        .image(ImageFormat::Png, 40, 20);
    let json = t.get(&at("w=40,format=json", "/img.png")).await;
    let body: serde_json::Value = serde_json::from_slice(&json.bytes).expect("JSON");
    assert_eq!(
        (
            &body["width"],
            &body["height"],
            &body["original"]["width"],
            &body["original"]["format"]
        ),
        (&json!(40), &json!(20), &json!(200), &json!("image/png"))
    );
    t.get(&at("w=10", "/missing.png")).await.failure(404, 9404);
    t.get(&at("w=10", "/private.png")).await.failure(403, 9408);
    t.get(&at("w=10", "/broken.png")).await.failure(502, 9509);
    t.get(&at("w=10", "/page.html")).await.failure(415, 9412);
    t.get(&at("w=10", "/loop.png")).await.failure(502, 9421);
    let before = files.hits();
    assert!(before > 0);

    // Another origin, directly or through a redirect: refused, never contacted.
    t.get(&format!("/cdn-cgi/image/w=10/{}/img.png", elsewhere.origin))
        .await
        .failure(403, 9403);
    t.get(&at("w=10", "/away.png")).await.failure(502, 9420);
    assert_eq!(elsewhere.hits(), 0, "a disallowed origin was contacted");
    // Nothing allowed by default.
    let closed = T::new(Config::default()).await;
    closed.get(&at("w=10", "/img.png")).await.failure(403, 9403);
    assert_eq!(files.hits(), before + 1, "only the redirect to elsewhere");
}

/// An origin that sends the fetch back into a transformation (here the emulator itself,
/// allowed as an origin) is a loop, refused once, not a recursion.
#[tokio::test]
async fn a_fetch_back_into_a_transformation_is_a_loop() {
    let t = T::new(Config::default()).await;
    let id = t.upload(halves(20, 10), &[]).await;
    let origin = t.ctx.emu.origin();
    let looping = T::new(Config::default().allow_transform_origin(origin.clone())).await;
    // The allowed origin (another emulator) serves its own images fine ...
    looping
        .get(&format!(
            "/cdn-cgi/image/w=10/{origin}/{}/{id}/public",
            t.hash
        ))
        .await
        .image(ImageFormat::Png, 10, 5);
    // ... but its transformations, fetched by a transformation, refuse the loop (its 403
    // reaches the first as an origin's 4xx).
    t.ctx.emu.clear_requests();
    looping
        .get(&format!(
            "/cdn-cgi/image/w=10/{origin}/cdn-cgi/image/w=20/{}/{id}/public",
            t.hash
        ))
        .await
        .failure(403, 9408);
    let seen = t.ctx.emu.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].status, Some(403));
    // Sent directly with the mark, the loop is named.
    t.get_with_via(&format!("/cdn-cgi/image/w=10/{}/{id}/public", t.hash))
        .await
        .failure(403, 9403);
}

/// A server that answers every connection with `head` (after reading the request) and
/// then holds the connection open without sending more, for `hold`.
fn stalling_server(head: &'static str, hold: std::time::Duration) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(head.as_bytes());
                std::thread::sleep(hold);
            });
        }
    });
    origin
}

/// A source declaring more than 70 MB is refused (413, 9402) without being read; an origin
/// that never finishes its answer meets the 10 s deadline (502, 9402).
#[tokio::test]
async fn fetches_are_bounded_in_size_and_time() {
    let huge = stalling_server(
        "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: 80000000\r\n\r\n",
        std::time::Duration::from_secs(30),
    );
    let stalled = stalling_server(
        "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: 100\r\n\r\n",
        std::time::Duration::from_secs(30),
    );
    let t = T::new(
        Config::default()
            .allow_transform_origin(huge.clone())
            .allow_transform_origin(stalled.clone()),
    )
    .await;
    let started = std::time::Instant::now();
    t.get(&format!("/cdn-cgi/image/w=10/{huge}/a.png"))
        .await
        .failure(413, 9402);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let started = std::time::Instant::now();
    t.get(&format!("/cdn-cgi/image/w=10/{stalled}/a.png"))
        .await
        .failure(502, 9402);
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_secs(9) && took < std::time::Duration::from_secs(20),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_bad_transform_origin_stops_the_start() {
    let started = cloudflare_images_emulator::Emulator::start_with(
        Config::default().allow_transform_origin("localhost:80"),
    )
    .await;
    assert_eq!(
        started.expect_err("not an origin").kind(),
        std::io::ErrorKind::InvalidInput
    );
}

#[tokio::test]
async fn cdn_cgi_imagedelivery_serves_what_the_plain_path_serves() {
    let t = T::new(Config {
        flexible_variants: true,
        ..Config::default()
    })
    .await;
    let id = t.upload(halves(64, 32), &[]).await;
    for (variant, accept) in [
        ("public", None),
        ("public", Some("image/webp,*/*")),
        ("w=20,h=20,fit=cover", None),
        ("w=20,format=jpeg", Some("image/webp")),
        ("nope", None),
    ] {
        let plain = t
            .get_with(&format!("/{}/{id}/{variant}", t.hash), accept)
            .await;
        let cdn = t
            .get_with(
                &format!("/cdn-cgi/imagedelivery/{}/{id}/{variant}", t.hash),
                accept,
            )
            .await;
        assert_eq!(plain.status, cdn.status, "{variant}");
        assert_eq!(plain.bytes, cdn.bytes, "{variant}");
        let mut plain_headers = plain.headers.clone();
        let mut cdn_headers = cdn.headers.clone();
        // The date moves on between the two answers.
        plain_headers.remove("date");
        cdn_headers.remove("date");
        assert_eq!(plain_headers, cdn_headers, "{variant}");
    }
}

#[tokio::test]
async fn signed_images_refuse_flexible_variants_on_every_delivery_path() {
    let t = T::new(Config {
        flexible_variants: true,
        ..Config::default()
    })
    .await;
    let id = t
        .upload(halves(20, 10), &[("requireSignedURLs", "true")])
        .await;
    let keys = t.ctx.get("v1/keys").await;
    let key = keys.assert_ok()["keys"][0]["value"]
        .as_str()
        .expect("key")
        .to_owned();
    let exp = now_secs() + 300;
    for path in [
        format!("/{}/{id}/w=10", t.hash),
        format!("/cdn-cgi/imagedelivery/{}/{id}/w=10", t.hash),
    ] {
        let sig = hmac_hex(&key, &format!("{path}?exp={exp}"));
        let got = t.get(&format!("{path}?exp={exp}&sig={sig}")).await;
        assert_eq!(got.status, 403, "{path}");
        assert_eq!(
            String::from_utf8_lossy(&got.bytes),
            "ERROR 9403: flexible variants cannot be used for images that require signed URLs"
        );
    }
    // A named variant, signed, is still served.
    let path = format!("/{}/{id}/public", t.hash);
    let sig = hmac_hex(&key, &format!("{path}?exp={exp}"));
    let got = t.get(&format!("{path}?exp={exp}&sig={sig}")).await;
    assert_eq!(got.status, 200);
    // ... and transformed through /cdn-cgi/image/ with its signature.
    t.get(&format!("/cdn-cgi/image/w=10{path}?exp={exp}&sig={sig}"))
        .await
        .image(ImageFormat::Png, 10, 5);
}
