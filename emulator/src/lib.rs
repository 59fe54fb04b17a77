#![cfg_attr(docsrs, feature(doc_cfg))]
//! A stateful local stand-in for the Cloudflare Images API.
//!
//! The emulator serves, on one loopback port:
//!
//! - the API under `/client/v4/accounts/{account_id}/images/...` (v1 upload, list, get, edit,
//!   delete, blob; v2 list with continuation tokens and metadata filters; signing keys; stats;
//!   variants; v1 and v2 direct uploads), with Cloudflare's JSON envelope and error codes;
//! - one-time direct-upload URLs at `/upload/{account_hash}/{image_id}` (no credentials);
//! - the Batch API under `/batch/images/...` ([`EmulatorHandle::batch_url`]), with batch tokens
//!   from `GET .../images/v1/batch_token`;
//! - delivery at `/{account_hash}/{image_id}/{variant}` and
//!   `/cdn-cgi/imagedelivery/{account_hash}/{image_id}/{variant}`, with signed-URL checks;
//! - transformations at `/cdn-cgi/image/{options}/{source}` of its own paths and of
//!   absolute URLs on the origins [`Config::transform_origins`] allows, with
//!   `Cf-Resized: err=...` failures and `format=json`.
//!
//! Delivery renders variants with the `image` crate: named variants (`width`, `height`,
//! `fit`, `metadata`) and, once enabled with `PATCH v1/config {"flexible_variants": true}`,
//! flexible variants (`w=400,h=300,fit=cover,format=webp`). The output is WebP when the
//! client's `Accept` lists `image/webp` (or `format=webp`), else the source format; AVIF is
//! not built and falls back. SVG (and HEIC/AVIF sources, which are not decoded) are served
//! as stored; animated GIFs stay animated; `v1/{id}/blob` is always the original bytes.
//! Rendered results are cached by content, options and output format, up to a memory
//! bound ([`EmulatorHandle::render_count`] counts the renders). See the README for the
//! exact semantics.
//! [`Faults`] injects rate limits, server errors, latency, connection resets and
//! "stored but failed" uploads at run time.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let emu = cloudflare_images_emulator::Emulator::start().await?;
//! println!("API base URL: {}", emu.base_url());
//! emu.faults().fail_next(1, 503);
//! emu.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod api;
mod args;
mod console;
mod delivery;
mod encoding;
mod faults;
pub mod fixtures;
mod http;
mod limits;
mod render;
mod requests;
mod router;
mod seed;
mod store;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use args::ServeArgs;
pub use faults::{FaultConfig, Faults};
pub use requests::RecordedRequest;
pub use seed::{SeedError, SeedImage, SeedVariant};

use limits::Limits;
use requests::RequestLog;
use store::{Image, Store};

/// Start-up settings of an emulator. Its `Debug` output hides the token.
#[derive(Clone)]
pub struct Config {
    /// The account id expected in API paths (`/accounts/{account_id}/...`).
    pub account_id: String,
    /// The account hash used in delivery and upload URLs.
    pub account_hash: String,
    /// If set, the only bearer token accepted; if `None`, any non-empty credential is.
    /// `X-Auth-Email` + `X-Auth-Key` pairs are always accepted when both are non-empty.
    pub api_token: Option<String>,
    /// If set, images and state are kept in this folder (`images.db`, SQLite in WAL mode, and
    /// content-addressed `blobs/`) and loaded again on start; several processes may share it.
    /// If `None`, all is in memory.
    pub data_dir: Option<PathBuf>,
    /// Port on 127.0.0.1 to listen on; 0 picks a free one.
    pub port: u16,
    /// Faults active from the start (they can be changed later through [`Faults`]).
    pub faults: FaultConfig,
    /// Enforce Cloudflare's rate limits as sliding windows: 1,200 API requests per 300 s for
    /// the account, 200 batch requests per 1 s for each batch token; beyond them 429 with
    /// code 971 and `Retry-After`. Off by default (tests and benchmarks send thousands of
    /// requests in seconds to [`Emulator::start`]).
    pub rate_limits: bool,
    /// Multiplies the length of every rate window, keeping the counts: 0.01 gives 1,200 per
    /// 3 s and 200 per 10 ms. Must be finite and positive. Default 1.
    pub rate_limit_scale: f64,
    /// Lifetime of the batch tokens `GET v1/batch_token` issues (not scaled). Default 60
    /// minutes.
    pub batch_token_ttl: Duration,
    /// Turns flexible variants on at start, as `PATCH v1/config {"flexible_variants":
    /// true}` would (kept in the data folder). Default off, as on Cloudflare: delivery then
    /// refuses `w=...` options in place of a variant name.
    pub flexible_variants: bool,
    /// Origins (`http://host:port`) whose images `/cdn-cgi/image/<options>/<url>` may fetch
    /// and transform, as a zone's "resize images from any origin" setting would allow them;
    /// any other absolute source is refused (403, `Cf-Resized: err=9403`) without being
    /// contacted. Only `http` origins can be fetched (no TLS client is built). Default
    /// none: only the emulator's own paths are transformed. See
    /// [`Config::allow_transform_origin`].
    pub transform_origins: Vec<String>,
}

impl Config {
    /// Allows `/cdn-cgi/image/` transformations to fetch from `origin`
    /// (`http://host:port`), as `--transform-origin` does; [`Emulator::start_with`] refuses
    /// a value that is not an origin.
    ///
    /// ```
    /// use cloudflare_images_emulator::Config;
    ///
    /// let config = Config::default().allow_transform_origin("http://127.0.0.1:8080");
    /// assert_eq!(config.transform_origins, ["http://127.0.0.1:8080"]);
    /// ```
    pub fn allow_transform_origin(mut self, origin: impl Into<String>) -> Config {
        self.transform_origins.push(origin.into());
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            account_id: "023e105f4ecef8ad9ca31a8372d0c353".into(),
            account_hash: "emu-account-hash".into(),
            api_token: None,
            data_dir: None,
            port: 0,
            faults: FaultConfig::default(),
            rate_limits: false,
            rate_limit_scale: 1.0,
            batch_token_ttl: Duration::from_secs(60 * 60),
            flexible_variants: false,
            transform_origins: Vec::new(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("account_id", &self.account_id)
            .field("account_hash", &self.account_hash)
            .field("api_token", &self.api_token.as_ref().map(|_| "<redacted>"))
            .field("data_dir", &self.data_dir)
            .field("port", &self.port)
            .field("faults", &self.faults)
            .field("rate_limits", &self.rate_limits)
            .field("rate_limit_scale", &self.rate_limit_scale)
            .field("batch_token_ttl", &self.batch_token_ttl)
            .field("flexible_variants", &self.flexible_variants)
            .field("transform_origins", &self.transform_origins)
            .finish()
    }
}

/// Entry point: starts emulator servers. Not a value to build: use its associated functions.
#[derive(Debug)]
#[non_exhaustive]
pub struct Emulator;

impl Emulator {
    /// Starts an emulator with [`Config::default`] on an ephemeral port.
    pub async fn start() -> std::io::Result<EmulatorHandle> {
        Self::start_with(Config::default()).await
    }

    /// Starts an emulator with the given configuration. Fails if the port cannot be bound,
    /// the data folder cannot be opened, `rate_limit_scale` is not a finite positive
    /// number, or a `transform_origins` entry is not an origin.
    pub async fn start_with(config: Config) -> std::io::Result<EmulatorHandle> {
        let scale = config.rate_limit_scale;
        if !(scale.is_finite() && scale > 0.0) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("rate_limit_scale must be finite and positive, got {scale}"),
            ));
        }
        let transform_origins = config
            .transform_origins
            .iter()
            .map(|o| delivery::transform::Origin::parse(o))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let dir = config.data_dir.clone();
        let flexible = config.flexible_variants;
        let store = tokio::task::spawn_blocking(move || {
            let store = Store::open(dir.as_deref())?;
            if flexible {
                store
                    .set_flexible_variants(true)
                    .map_err(std::io::Error::other)?;
            }
            Ok::<_, std::io::Error>(store)
        })
        .await
        .map_err(std::io::Error::other)??;
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let port = listener.local_addr()?.port();
        let origin = format!("http://127.0.0.1:{port}");
        let faults = Faults::new(&config.faults);
        let limits = Limits::new(config.rate_limits, scale, config.batch_token_ttl);
        let app = Arc::new(App {
            origin,
            store: Arc::new(store),
            faults,
            limits,
            request_count: AtomicU64::new(0),
            batch_request_count: AtomicU64::new(0),
            renders: render::RenderCache::new(render::DEFAULT_CACHE_BYTES),
            requests: RequestLog::default(),
            transform_origins,
            config,
        });
        let task = tokio::spawn(router::serve(listener, app.clone()));
        Ok(EmulatorHandle {
            app,
            task: Some(task),
        })
    }
}

/// A running emulator. Dropping it stops the server.
#[derive(Debug)]
pub struct EmulatorHandle {
    app: Arc<App>,
    task: Option<JoinHandle<()>>,
}

impl EmulatorHandle {
    /// The API base URL, like `https://api.cloudflare.com/client/v4`:
    /// `http://127.0.0.1:PORT/client/v4`.
    pub fn base_url(&self) -> String {
        format!("{}/client/v4", self.app.origin)
    }

    /// The Batch API base URL, like `https://batch.imagedelivery.net`:
    /// `http://127.0.0.1:PORT/batch` (requests go to `<batch_url>/images/v1...` with
    /// `Authorization: Bearer <batch token>`).
    pub fn batch_url(&self) -> String {
        format!("{}/batch", self.app.origin)
    }

    /// The delivery and upload origin, `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        self.app.origin.clone()
    }

    /// The account id the API expects.
    pub fn account_id(&self) -> &str {
        &self.app.config.account_id
    }

    /// The account hash used in delivery URLs.
    pub fn account_hash(&self) -> &str {
        &self.app.config.account_hash
    }

    /// The runtime fault switches.
    pub fn faults(&self) -> &Faults {
        &self.app.faults
    }

    /// Number of HTTP requests received so far, on every route (API, uploads, delivery),
    /// including requests answered by injected faults.
    pub fn request_count(&self) -> u64 {
        self.app.request_count.load(Ordering::SeqCst)
    }

    /// Number of HTTP requests received under the batch URL (any outcome, faults included).
    pub fn batch_request_count(&self) -> u64 {
        self.app.batch_request_count.load(Ordering::SeqCst)
    }

    /// Number of requests the rate windows (`Config::rate_limits`) answered with 429
    /// (code 971), global and batch together. Injected 429s
    /// ([`FaultConfig::rate_limit_after`]) are not counted.
    pub fn rate_limited_count(&self) -> u64 {
        self.app.limits.refused()
    }

    /// Number of batch tokens issued by `GET v1/batch_token`.
    pub fn batch_tokens_issued(&self) -> u64 {
        self.app.limits.tokens_issued()
    }

    /// Test helper: makes every batch token issued so far expired (the batch routes then
    /// answer 401).
    #[doc(hidden)]
    pub fn expire_batch_tokens(&self) {
        self.app.limits.expire_tokens();
    }

    /// Number of variant renders performed so far (deliveries that decoded and encoded an
    /// image; answers from the render cache, SVGs and other formats served as stored are not
    /// counted).
    pub fn render_count(&self) -> u64 {
        self.app.renders.renders()
    }

    /// Number of deliveries answered from the render cache.
    pub fn render_cache_hits(&self) -> u64 {
        self.app.renders.hits()
    }

    /// Number of stored images (drafts not counted).
    pub fn image_count(&self) -> usize {
        self.app.store.count().unwrap_or(0)
    }

    /// The current signing keys as `(name, value)` pairs, sorted by name.
    pub fn signing_keys(&self) -> Vec<(String, String)> {
        self.app.store.keys().unwrap_or_default()
    }

    /// Stores an image directly (no HTTP), checked as an upload of it would be; returns its
    /// id. Fails as the upload would (an existing id, invalid metadata, bytes that are not
    /// an image), with the API's error code.
    pub async fn seed_image(&self, image: SeedImage) -> Result<String, SeedError> {
        let (image, data) = image.into_image()?;
        let (image, _) = self.app.db(move |s| s.insert(image, Some(data))).await?;
        Ok(image.id)
    }

    /// Creates a named variant directly (no HTTP), checked as `POST v1/variants` would
    /// check it. Fails as that request would (an existing name, an invalid option, more
    /// than 100 variants).
    pub async fn seed_variant(&self, variant: SeedVariant) -> Result<(), SeedError> {
        let variant = variant.into_variant()?;
        self.app
            .db(move |s| s.create_variant(&variant, api::MAX_VARIANTS))
            .await?;
        Ok(())
    }

    /// The requests received so far, oldest first, on every route (API, uploads, batch,
    /// delivery, console), with the status answered; injected faults included. Only the
    /// 10,000 most recent are kept.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.app.requests.snapshot()
    }

    /// Forgets the requests recorded so far (the counters such as
    /// [`EmulatorHandle::request_count`] are not reset).
    pub fn clear_requests(&self) {
        self.app.requests.clear();
    }

    /// Test helper: inserts `n` small PNG images directly (no HTTP), with upload times one
    /// millisecond apart and increasing, and metadata `{"index": i, "even": i % 2 == 0}`.
    /// Returns their ids in upload order.
    #[doc(hidden)]
    pub async fn seed_images(&self, n: usize) -> Vec<String> {
        let base = Utc::now() - chrono::Duration::milliseconds(i64::try_from(n).unwrap_or(0));
        let images: Vec<Image> = (0..n)
            .map(|i| {
                let mut meta = serde_json::Map::new();
                meta.insert("index".into(), serde_json::json!(i));
                meta.insert("even".into(), serde_json::json!(i % 2 == 0));
                Image {
                    seq: 0,
                    id: uuid::Uuid::new_v4().to_string(),
                    custom_id: false,
                    filename: Some(format!("seed-{i}.png")),
                    uploaded: base + chrono::Duration::milliseconds(i64::try_from(i).unwrap_or(0)),
                    require_signed_urls: false,
                    meta,
                    creator: None,
                    draft: false,
                    upload_expiry: None,
                    content_type: Some("image/png".into()),
                    blob_hash: None,
                }
            })
            .collect();
        self.app
            .db(move |s| s.seed(images, &Bytes::from_static(fixtures::PIXEL_PNG)))
            .await
            .unwrap_or_default()
    }

    /// Test helper: makes the one-time upload URL of draft `id` expired. Returns false if no
    /// such draft exists.
    #[doc(hidden)]
    pub fn expire_upload_url(&self, id: &str) -> bool {
        self.app.store.expire_draft(id).unwrap_or(false)
    }

    /// Stops the server and waits until it has stopped. Open connections are closed.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Shared server state.
#[derive(Debug)]
pub(crate) struct App {
    pub config: Config,
    pub origin: String,
    pub store: Arc<Store>,
    pub faults: Faults,
    pub limits: Limits,
    pub request_count: AtomicU64,
    pub batch_request_count: AtomicU64,
    pub renders: render::RenderCache,
    pub requests: RequestLog,
    /// [`Config::transform_origins`], parsed.
    pub transform_origins: Vec<delivery::transform::Origin>,
}

impl App {
    /// Runs `f` on the store on the blocking thread pool (SQLite and file I/O are
    /// synchronous). A panic in `f` becomes a 500.
    pub async fn db<T, E, F>(&self, f: F) -> Result<T, http::ApiError>
    where
        T: Send + 'static,
        E: Into<http::ApiError> + Send + 'static,
        F: FnOnce(&Store) -> Result<T, E> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| http::ApiError::internal(format!("Storage task failed: {e}")))?
            .map_err(Into::into)
    }
}
