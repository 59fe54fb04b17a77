//! A memory-bounded cache of rendered results, keyed by content, options and output.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    blob: String,
    options: String,
    webp: bool,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Key, Rendered>,
    /// Insertion order, oldest first: the eviction order.
    order: VecDeque<Key>,
    bytes: usize,
}

/// Rendered results by (blob hash, normalized options, whether WebP is accepted), at most
/// `cap` bytes of them; the oldest go first. Also the renders' concurrency limit and
/// counters.
#[derive(Debug)]
pub(crate) struct RenderCache {
    entries: Mutex<Entries>,
    cap: usize,
    permits: Arc<Semaphore>,
    renders: AtomicU64,
    hits: AtomicU64,
}

impl RenderCache {
    pub fn new(cap: usize) -> RenderCache {
        RenderCache {
            entries: Mutex::new(Entries::default()),
            cap,
            permits: Arc::new(Semaphore::new(CONCURRENT_RENDERS)),
            renders: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }

    /// Renders performed so far (cache misses that decoded an image).
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::SeqCst)
    }

    /// Deliveries answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached render of `blob` with `options`, or renders it on the blocking pool (at
    /// most [`CONCURRENT_RENDERS`] at once), caching the result. `data` is only called on a
    /// miss.
    pub async fn get_or_render<F, Fut>(
        &self,
        blob: &str,
        format: ImageFormat,
        options: &Options,
        webp_accepted: bool,
        data: F,
    ) -> Result<Rendered, RenderError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Bytes, RenderError>>,
    {
        let key = Key {
            blob: blob.to_owned(),
            options: format!("{}|{:?}", options.key(), options.format),
            webp: webp_accepted,
        };
        if let Some(hit) = self.lock().map.get(&key) {
            self.hits.fetch_add(1, Ordering::SeqCst);
            return Ok(hit.clone());
        }
        let bytes = data().await?;
        let _permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| RenderError {
                status: 503,
                message: "ERROR 9503: the renderer has stopped".into(),
            })?;
        let options_owned = options.clone();
        let rendered = tokio::task::spawn_blocking(move || {
            render(&bytes, format, &options_owned, webp_accepted)
        })
        .await
        .map_err(|e| RenderError {
            status: 500,
            message: format!("ERROR 9524: the render task failed: {e}"),
        })??;
        self.renders.fetch_add(1, Ordering::SeqCst);
        self.insert(key, rendered.clone());
        Ok(rendered)
    }

    fn insert(&self, key: Key, rendered: Rendered) {
        let size = rendered.bytes.len();
        if size > self.cap {
            return;
        }
        let mut entries = self.lock();
        if entries.map.contains_key(&key) {
            return;
        }
        while entries.bytes + size > self.cap {
            let Some(oldest) = entries.order.pop_front() else {
                break;
            };
            if let Some(gone) = entries.map.remove(&oldest) {
                entries.bytes -= gone.bytes.len();
            }
        }
        entries.bytes += size;
        entries.order.push_back(key.clone());
        entries.map.insert(key, rendered);
    }

    /// Number of cached results and their total bytes.
    #[cfg(test)]
    pub(super) fn usage(&self) -> (usize, usize) {
        let entries = self.lock();
        (entries.map.len(), entries.bytes)
    }
}
