//! Variants rendered for real: every answer is decoded and its format and exact size
//! checked, for each `fit` mode (upscaling rules included), one-sided sizes, flexible
//! variants (refused until enabled), output formats (`Accept`, `format=`), JPEG metadata,
//! animated GIFs, SVGs served as is, the render cache and undecodable images.

use std::io::Cursor;

use crate::common::*;
use cloudflare_images_emulator::Config;
use image::codecs::gif::{GifDecoder, GifEncoder, Repeat};
use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::{
    AnimationDecoder, Delay, DynamicImage, Frame, ImageDecoder, ImageEncoder, ImageFormat, Rgb,
    RgbImage, Rgba, RgbaImage,
};
use serde_json::json;

/// A `w` x `h` RGB PNG with a gradient (so a resize cannot be mistaken for a copy).
fn png_of(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 2) as u8, (y * 3) as u8, 90]));
    encode(&DynamicImage::ImageRgb8(img), ImageFormat::Png)
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encodes");
    out.into_inner()
}

/// A JPEG carrying `exif` (a TIFF block) in its APP1 segment.
fn jpeg_with_exif(w: u32, h: u32, exif: Vec<u8>) -> Vec<u8> {
    let img = RgbImage::from_pixel(w, h, Rgb([200, 100, 50]));
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, 90);
    encoder.set_exif_metadata(exif).expect("JPEG takes EXIF");
    encoder
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .expect("encodes");
    out
}

/// A little-endian TIFF block with ASCII tags in IFD0.
fn exif_with(tags: &[(u16, &str)]) -> Vec<u8> {
    let mut out = b"II\x2a\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&(tags.len() as u16).to_le_bytes());
    let mut data_at = 8 + 2 + 12 * tags.len() as u32 + 4;
    let mut data = Vec::new();
    for (tag, text) in tags {
        let mut value = text.as_bytes().to_vec();
        value.push(0);
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(&data_at.to_le_bytes());
        data_at += value.len() as u32;
        data.extend_from_slice(&value);
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// An animated GIF of `frames` frames, each a different colour.
fn animated_gif(w: u32, h: u32, frames: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        encoder.set_repeat(Repeat::Infinite).expect("repeat");
        for i in 0..frames {
            let buf = RgbaImage::from_pixel(w, h, Rgba([(i * 80) as u8, 50, 200, 255]));
            encoder
                .encode_frame(Frame::from_parts(
                    buf,
                    0,
                    0,
                    Delay::from_numer_denom_ms(100, 1),
                ))
                .expect("frame");
        }
    }
    out
}

const SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50"><rect width="100" height="50" fill="red"/></svg>"#;

/// A delivered answer.
struct Got {
    status: u16,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

impl Got {
    #[track_caller]
    fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a 200 in `format` of exactly `w` x `h`, checked by decoding the bytes.
    #[track_caller]
    fn assert_image(&self, format: ImageFormat, w: u32, h: u32) -> DynamicImage {
        assert_eq!(
            self.status,
            200,
            "body: {}",
            String::from_utf8_lossy(&self.bytes)
        );
        assert_eq!(image::guess_format(&self.bytes).expect("an image"), format);
        assert_eq!(self.content_type(), format.to_mime_type());
        let img = image::load_from_memory_with_format(&self.bytes, format).expect("decodes");
        assert_eq!((img.width(), img.height()), (w, h));
        img
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

struct Render {
    ctx: Ctx,
}

impl Render {
    async fn new() -> Render {
        Render {
            ctx: Ctx::new().await,
        }
    }

    async fn upload(&self, bytes: Vec<u8>, name: &str) -> String {
        let answer = self.ctx.upload(file_form(bytes, name)).await;
        answer.assert_ok()["id"].as_str().expect("an id").to_owned()
    }

    async fn variant(&self, name: &str, fit: &str, metadata: &str, w: u32, h: u32) {
        self.ctx
            .post_json(
                "v1/variants",
                json!({"id": name, "options": {"fit": fit, "metadata": metadata, "width": w, "height": h}}),
            )
            .await
            .assert_ok();
    }

    async fn flexible(&self, on: bool) {
        let answer = self
            .ctx
            .patch("v1/config", json!({ "flexible_variants": on }))
            .await;
        assert_eq!(answer.assert_ok()["flexible_variants"], on);
    }

    async fn get(&self, id: &str, variant: &str, accept: Option<&str>) -> Got {
        let url = format!(
            "{}/{}/{id}/{variant}",
            self.ctx.emu.origin(),
            self.ctx.emu.account_hash()
        );
        let mut rb = self.ctx.http.get(url);
        if let Some(accept) = accept {
            rb = rb.header("accept", accept);
        }
        let resp = rb.send().await.expect("delivery");
        Got {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            bytes: resp.bytes().await.expect("body").to_vec(),
        }
    }
}

#[tokio::test]
async fn every_fit_mode_follows_the_upscaling_rules() {
    let r = Render::new().await;
    let small = r.upload(png_of(100, 50), "small.png").await;
    let large = r.upload(png_of(800, 400), "large.png").await;
    for fit in ["scale-down", "contain", "cover", "crop", "pad"] {
        let name = fit.replace('-', "");
        r.variant(&format!("{name}400"), fit, "none", 400, 400)
            .await;
        r.variant(&format!("{name}200"), fit, "none", 200, 200)
            .await;
    }
    // 100x50 into 400x400: only contain, cover and pad enlarge.
    for (variant, w, h) in [
        ("scaledown400", 100, 50),
        ("contain400", 400, 200),
        ("cover400", 400, 400),
        ("crop400", 100, 50),
        ("pad400", 400, 400),
    ] {
        r.get(&small, variant, None)
            .await
            .assert_image(ImageFormat::Png, w, h);
    }
    // 800x400 into 200x200: everything shrinks; crop is cover.
    for (variant, w, h) in [
        ("scaledown200", 200, 100),
        ("contain200", 200, 100),
        ("cover200", 200, 200),
        ("crop200", 200, 200),
        ("pad200", 200, 200),
    ] {
        r.get(&large, variant, None)
            .await
            .assert_image(ImageFormat::Png, w, h);
    }
    // Pad centres the image on white: white bands above and below, the image in between.
    let padded = r
        .get(&small, "pad400", None)
        .await
        .assert_image(ImageFormat::Png, 400, 400)
        .to_rgb8();
    assert_eq!(*padded.get_pixel(200, 10), Rgb([255, 255, 255]));
    assert_eq!(*padded.get_pixel(200, 390), Rgb([255, 255, 255]));
    assert_ne!(*padded.get_pixel(200, 200), Rgb([255, 255, 255]));
    // The default `public` variant (scale-down into 1366x768) keeps both as they are.
    r.get(&small, "public", None)
        .await
        .assert_image(ImageFormat::Png, 100, 50);
    r.get(&large, "public", None)
        .await
        .assert_image(ImageFormat::Png, 800, 400);
}

#[tokio::test]
async fn one_side_follows_the_aspect_ratio() {
    let r = Render::new().await;
    r.flexible(true).await;
    let id = r.upload(png_of(100, 50), "a.png").await;
    for (options, w, h) in [
        ("w=40", 40, 20),
        ("width=40", 40, 20),
        ("h=10", 20, 10),
        ("height=10", 20, 10),
        // scale-down (the default) never enlarges, contain does.
        ("w=400", 100, 50),
        ("w=400,fit=contain", 400, 200),
        ("h=100,fit=cover", 200, 100),
        ("w=50,h=50,fit=cover", 50, 50),
        ("w=50,h=50,fit=squeeze", 50, 50),
        ("w=20,dpr=2", 40, 20),
    ] {
        r.get(&id, options, None)
            .await
            .assert_image(ImageFormat::Png, w, h);
    }
}

/// `Config::flexible_variants` (`--flexible-variants`) starts with them on, as a
/// `PATCH v1/config` would have.
#[tokio::test]
async fn flexible_variants_can_be_on_from_the_start() {
    let r = Render {
        ctx: Ctx::with(cloudflare_images_emulator::Config {
            flexible_variants: true,
            ..Default::default()
        })
        .await,
    };
    let id = r.upload(png_of(100, 50), "a.png").await;
    r.get(&id, "w=50", None)
        .await
        .assert_image(ImageFormat::Png, 50, 25);
    let same = r.ctx.patch("v1/config", json!({})).await;
    assert_eq!(same.assert_ok()["flexible_variants"], true);
}

#[tokio::test]
async fn flexible_variants_are_refused_until_enabled() {
    let r = Render::new().await;
    let id = r.upload(png_of(100, 50), "a.png").await;
    let refused = r.get(&id, "w=50", None).await;
    assert_eq!(refused.status, 404);
    assert!(
        refused.text().contains("flexible variants are not enabled"),
        "{}",
        refused.text()
    );
    r.flexible(true).await;
    r.get(&id, "w=50", None)
        .await
        .assert_image(ImageFormat::Png, 50, 25);
    // An empty PATCH reports the setting without changing it.
    let same = r.ctx.patch("v1/config", json!({})).await;
    assert_eq!(same.assert_ok()["flexible_variants"], true);
    r.ctx
        .patch("v1/config", json!({"flexible_variants": "yes"}))
        .await
        .assert_error(400, 5400);
    r.flexible(false).await;
    assert_eq!(r.get(&id, "w=50", None).await.status, 404);
    // Named variants are unaffected, and bad options are a 400 once enabled.
    r.get(&id, "public", None)
        .await
        .assert_image(ImageFormat::Png, 100, 50);
    r.flexible(true).await;
    for bad in [
        "w=0",
        "w=abc",
        "fit=stretch",
        "q=101",
        "format=tiff",
        "w=10,nonsense",
    ] {
        let got = r.get(&id, bad, None).await;
        assert_eq!(got.status, 400, "{bad}: {}", got.text());
        assert!(
            got.text().starts_with("ERROR 9401"),
            "{bad}: {}",
            got.text()
        );
    }
}

#[tokio::test]
async fn the_flexible_setting_persists_in_the_data_folder() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("render-settings-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = Config {
        api_token: Some(TOKEN.into()),
        data_dir: Some(dir.clone()),
        ..Config::default()
    };
    let first = Render {
        ctx: Ctx::with(config.clone()).await,
    };
    let id = first.upload(png_of(10, 10), "a.png").await;
    first.flexible(true).await;
    first.ctx.emu.shutdown().await;
    let second = Render {
        ctx: Ctx::with(config).await,
    };
    second
        .get(&id, "w=5", None)
        .await
        .assert_image(ImageFormat::Png, 5, 5);
    second.ctx.emu.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_output_format_follows_accept_and_format() {
    let r = Render::new().await;
    r.flexible(true).await;
    let id = r.upload(png_of(100, 50), "a.png").await;
    let webp = r
        .get(
            &id,
            "public",
            Some("image/avif,image/webp,image/*,*/*;q=0.8"),
        )
        .await;
    webp.assert_image(ImageFormat::WebP, 100, 50);
    assert_eq!(webp.headers["vary"], "Accept");
    // AVIF is not built: a client accepting only AVIF gets the source format.
    r.get(&id, "public", Some("image/avif,image/*"))
        .await
        .assert_image(ImageFormat::Png, 100, 50);
    r.get(&id, "public", Some("image/webp;q=0"))
        .await
        .assert_image(ImageFormat::Png, 100, 50);
    for (options, accept, format, w, h) in [
        ("w=50,format=webp", None, ImageFormat::WebP, 50, 25),
        (
            "w=50,format=jpeg",
            Some("image/webp"),
            ImageFormat::Jpeg,
            50,
            25,
        ),
        ("w=50,format=baseline-jpeg", None, ImageFormat::Jpeg, 50, 25),
        ("w=50,format=avif", None, ImageFormat::Png, 50, 25),
        (
            "w=50,format=avif",
            Some("image/webp"),
            ImageFormat::WebP,
            50,
            25,
        ),
        (
            "w=50,format=auto",
            Some("image/webp"),
            ImageFormat::WebP,
            50,
            25,
        ),
        (
            "w=100,h=50,fit=cover,format=webp,quality=80",
            None,
            ImageFormat::WebP,
            100,
            50,
        ),
    ] {
        r.get(&id, options, accept).await.assert_image(format, w, h);
    }
    // A JPEG source stays JPEG; quality changes the bytes.
    let photo = r
        .upload(
            encode(
                &DynamicImage::ImageRgb8(RgbImage::from_fn(64, 64, |x, y| {
                    Rgb([(x * 4) as u8, (y * 4) as u8, ((x + y) * 2) as u8])
                })),
                ImageFormat::Jpeg,
            ),
            "photo.jpg",
        )
        .await;
    let low = r.get(&photo, "w=64,q=5", None).await;
    low.assert_image(ImageFormat::Jpeg, 64, 64);
    let high = r.get(&photo, "w=64,q=100", None).await;
    high.assert_image(ImageFormat::Jpeg, 64, 64);
    assert!(
        low.bytes.len() < high.bytes.len(),
        "q=5: {} bytes, q=100: {} bytes",
        low.bytes.len(),
        high.bytes.len()
    );
}

#[tokio::test]
async fn renders_are_cached() {
    let r = Render::new().await;
    let id = r.upload(png_of(300, 200), "a.png").await;
    r.variant("thumb", "cover", "none", 60, 60).await;
    let before = r.ctx.emu.render_count();
    let first = r.get(&id, "thumb", None).await;
    first.assert_image(ImageFormat::Png, 60, 60);
    assert_eq!(r.ctx.emu.render_count(), before + 1);
    let second = r.get(&id, "thumb", None).await;
    assert_eq!(first.bytes, second.bytes);
    assert_eq!(
        r.ctx.emu.render_count(),
        before + 1,
        "served from the cache"
    );
    assert_eq!(r.ctx.emu.render_cache_hits(), 1);
    // Another output format is another render; another image with the same bytes is not.
    r.get(&id, "thumb", Some("image/webp"))
        .await
        .assert_image(ImageFormat::WebP, 60, 60);
    assert_eq!(r.ctx.emu.render_count(), before + 2);
    let twin = r.upload(png_of(300, 200), "twin.png").await;
    assert_eq!(r.get(&twin, "thumb", None).await.bytes, first.bytes);
    assert_eq!(r.ctx.emu.render_count(), before + 2);
}

#[tokio::test]
async fn svg_is_served_as_is() {
    let r = Render::new().await;
    r.flexible(true).await;
    let id = r.upload(SVG.as_bytes().to_vec(), "a.svg").await;
    let before = r.ctx.emu.render_count();
    for variant in ["public", "w=10,format=webp"] {
        let got = r.get(&id, variant, Some("image/webp")).await;
        assert_eq!(got.status, 200, "{variant}");
        assert_eq!(got.content_type(), "image/svg+xml", "{variant}");
        assert_eq!(got.bytes, SVG.as_bytes(), "{variant}");
    }
    assert_eq!(r.ctx.emu.render_count(), before, "never rasterized");
}

fn gif_frames(bytes: &[u8]) -> Vec<Frame> {
    GifDecoder::new(Cursor::new(bytes))
        .expect("a GIF")
        .into_frames()
        .collect_frames()
        .expect("frames")
}

#[tokio::test]
async fn animated_gifs_keep_their_frames() {
    let r = Render::new().await;
    r.flexible(true).await;
    let id = r.upload(animated_gif(60, 30, 3), "a.gif").await;
    r.variant("half", "scale-down", "none", 30, 30).await;
    // WebP accepted or asked for: still a GIF, as no animated WebP encoder is built.
    for (variant, accept) in [
        ("half", None),
        ("half", Some("image/webp")),
        ("w=30,format=webp", None),
    ] {
        let got = r.get(&id, variant, accept).await;
        got.assert_image(ImageFormat::Gif, 30, 15);
        let frames = gif_frames(&got.bytes);
        assert_eq!(frames.len(), 3, "{variant}");
        for f in &frames {
            assert_eq!(f.buffer().dimensions(), (30, 15));
        }
        // The frames differ (the animation is kept, not one frame repeated).
        assert_ne!(
            frames[0].buffer().get_pixel(5, 5),
            frames[2].buffer().get_pixel(5, 5)
        );
    }
    // anim=false: the first frame, as a still image in any format.
    let still = r.get(&id, "w=30,anim=false", None).await;
    still.assert_image(ImageFormat::Gif, 30, 15);
    assert_eq!(gif_frames(&still.bytes).len(), 1);
    r.get(&id, "w=30,anim=false", Some("image/webp"))
        .await
        .assert_image(ImageFormat::WebP, 30, 15);
}

#[tokio::test]
async fn blobs_stay_the_original_bytes() {
    let r = Render::new().await;
    let original = png_of(100, 50);
    let id = r.upload(original.clone(), "a.png").await;
    r.variant("tiny", "cover", "none", 10, 10).await;
    r.get(&id, "tiny", None)
        .await
        .assert_image(ImageFormat::Png, 10, 10);
    let blob = r
        .ctx
        .http
        .get(r.ctx.url(&format!("v1/{id}/blob")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("blob");
    assert_eq!(blob.status(), 200);
    assert_eq!(blob.bytes().await.expect("bytes").to_vec(), original);
}

fn exif_of(jpeg: &[u8]) -> Option<Vec<u8>> {
    JpegDecoder::new(Cursor::new(jpeg))
        .expect("a JPEG")
        .exif_metadata()
        .expect("readable")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn jpeg_metadata_is_kept_reduced_to_the_copyright_or_stripped() {
    let r = Render::new().await;
    let exif = exif_with(&[(0x010F, "AcmeCam"), (0x8298, "(c) Jane Doe")]);
    let id = r.upload(jpeg_with_exif(80, 40, exif), "photo.jpg").await;
    for metadata in ["keep", "copyright", "none"] {
        r.variant(metadata, "scale-down", metadata, 40, 40).await;
    }
    let keep = r.get(&id, "keep", None).await;
    keep.assert_image(ImageFormat::Jpeg, 40, 20);
    let kept = exif_of(&keep.bytes).expect("EXIF kept");
    assert!(contains(&kept, "AcmeCam") && contains(&kept, "(c) Jane Doe"));

    let copyright = r.get(&id, "copyright", None).await;
    copyright.assert_image(ImageFormat::Jpeg, 40, 20);
    let kept = exif_of(&copyright.bytes).expect("the copyright kept");
    assert!(contains(&kept, "(c) Jane Doe"));
    assert!(!contains(&kept, "AcmeCam"), "only the copyright");

    let none = r.get(&id, "none", None).await;
    none.assert_image(ImageFormat::Jpeg, 40, 20);
    assert_eq!(exif_of(&none.bytes), None);
    assert!(!contains(&none.bytes, "Jane Doe"));

    // WebP output discards metadata whatever the variant says, as on Cloudflare.
    let webp = r.get(&id, "keep", Some("image/webp")).await;
    webp.assert_image(ImageFormat::WebP, 40, 20);
    assert!(!contains(&webp.bytes, "Jane Doe"));
}

#[tokio::test]
async fn undecodable_images_get_a_clear_status() {
    let r = Render::new().await;
    // PNG magic bytes (so the upload is accepted as a PNG), then garbage.
    let mut broken = png_of(4, 4);
    broken.truncate(40);
    let id = r.upload(broken, "broken.png").await;
    let got = r.get(&id, "public", None).await;
    assert_eq!(got.status, 415, "{}", got.text());
    assert!(got.text().starts_with("ERROR 9523"), "{}", got.text());
    // The emulator still serves everything else.
    let ok = r.upload(png_of(4, 4), "ok.png").await;
    r.get(&ok, "public", None)
        .await
        .assert_image(ImageFormat::Png, 4, 4);
}
