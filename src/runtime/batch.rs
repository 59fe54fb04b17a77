//! Cloudflare's Batch API: the operations it serves go to the batch host
//! (`https://batch.imagedelivery.net/images/v1...`) with a short-lived batch
//! token instead of the account's credentials, outside the account's global
//! limit, at 200 requests per second per token. Tokens come from
//! `GET /accounts/{account_id}/images/v1/batch_token` and are renewed before they
//! expire; several may be used at once, each paced on its own.
//!
//! This module does not send anything itself: the caller hands [`Batch::auth`]
//! the request that fetches a token, so the pacing and token bookkeeping here
//! depend on nothing but [`limits`](super::limits).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

use super::limits::{Limits, RateLimit};
use crate::error::{Error, Result};
use crate::resources::OperationId;

/// Cloudflare's batch host.
pub const DEFAULT_BATCH_URL: &str = "https://batch.imagedelivery.net";

/// A token is renewed when it has less than this left.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// Whether the batch host serves the operation `id`: per Cloudflare's "Images
/// batch API" page, `POST v1`, `GET`/`PATCH`/`DELETE v1/{id}`, `GET v2`,
/// `POST v2/direct_upload`.
pub(crate) fn serves(id: OperationId) -> bool {
    matches!(
        id,
        OperationId::V1Create
            | OperationId::V1Get
            | OperationId::V1Edit
            | OperationId::V1Delete
            | OperationId::V2List
            | OperationId::V2DirectUploadsCreate
    )
}

/// A batch token as the API issued it.
pub(crate) struct Issued {
    pub(crate) token: String,
    pub(crate) expires: SystemTime,
}

/// Where the batch host is and how many tokens to spread over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BatchSettings {
    pub(crate) base_url: String,
    pub(crate) tokens: usize,
    /// Each token's pace.
    pub(crate) rate: RateLimit,
}

struct Token {
    header: HeaderValue,
    renew_at: SystemTime,
}

struct Slot {
    token: tokio::sync::Mutex<Option<Token>>,
    limits: Limits,
}

pub(crate) struct Batch {
    base_url: String,
    rate: RateLimit,
    slots: Vec<Slot>,
    next: AtomicUsize,
}

impl Batch {
    pub(crate) fn new(settings: BatchSettings) -> Result<Batch> {
        let base_url = settings.base_url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| Error::config(format!("invalid batch URL {base_url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::config(format!(
                "batch URL {base_url:?} is not http(s)"
            )));
        }
        let slots = (0..settings.tokens.max(1))
            .map(|_| Slot {
                token: tokio::sync::Mutex::new(None),
                limits: Limits::new(Some(settings.rate)),
            })
            .collect();
        Ok(Batch {
            base_url,
            rate: settings.rate,
            slots,
            next: AtomicUsize::new(0),
        })
    }

    pub(crate) fn settings(&self) -> BatchSettings {
        BatchSettings {
            base_url: self.base_url.clone(),
            tokens: self.slots.len(),
            rate: self.rate,
        }
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The token slot for the next operation: round robin, so every token
    /// carries an equal share.
    pub(crate) fn pick(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()
    }

    pub(crate) fn limits(&self, slot: usize) -> &Limits {
        &self.slots[slot % self.slots.len()].limits
    }

    /// The `Authorization` header for `slot`, fetching or renewing its token
    /// with `fetch` first when needed (one fetch at a time per slot).
    pub(crate) async fn auth<F, Fut>(&self, slot: usize, fetch: F) -> Result<HeaderMap>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Issued>>,
    {
        let slot = &self.slots[slot % self.slots.len()];
        let mut token = slot.token.lock().await;
        let fresh = token
            .as_ref()
            .is_some_and(|t| SystemTime::now() < t.renew_at);
        if !fresh {
            let issued = fetch().await?;
            let mut header =
                HeaderValue::from_str(&format!("Bearer {}", issued.token)).map_err(|_| {
                    Error::protocol("the batch token holds characters not allowed in a header")
                })?;
            header.set_sensitive(true);
            let expires = issued.expires;
            *token = Some(Token {
                header,
                renew_at: expires.checked_sub(RENEW_BEFORE).unwrap_or(expires),
            });
        }
        let mut headers = HeaderMap::new();
        if let Some(t) = token.as_ref() {
            headers.insert(AUTHORIZATION, t.header.clone());
        }
        Ok(headers)
    }

    /// Drops `slot`'s token, so the next request fetches a new one.
    pub(crate) async fn forget(&self, slot: usize) {
        *self.slots[slot % self.slots.len()].token.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::super::limits::BATCH_REQUESTS_PER_SECOND;
    use super::*;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn each_token_is_paced_to_200_requests_a_second_on_its_own() {
        let batch = Batch::new(BatchSettings {
            base_url: "http://127.0.0.1:9".into(),
            tokens: 2,
            rate: RateLimit::cloudflare_batch_token(),
        })
        .unwrap();
        let start = Instant::now();
        let far = start + Duration::from_secs(10);
        for _ in 0..BATCH_REQUESTS_PER_SECOND / 2 {
            assert!(batch.limits(0).admit(far).await.is_ok());
        }
        assert_eq!(Instant::now(), start, "half a window goes at once");
        // The other token is not held back by the first one's window.
        assert!(batch.limits(1).admit(far).await.is_ok());
        assert_eq!(Instant::now(), start);
        // The rest of the first token's window: one every 5 ms.
        for _ in 0..BATCH_REQUESTS_PER_SECOND / 2 {
            assert!(batch.limits(0).admit(far).await.is_ok());
        }
        assert_eq!(Instant::now() - start, Duration::from_millis(500));
        assert!(batch.limits(0).admit(far).await.is_ok());
        assert_eq!(
            Instant::now() - start,
            Duration::from_secs(1),
            "the 201st waits for the window"
        );
        assert_eq!((batch.pick(), batch.pick(), batch.pick()), (0, 1, 0));
    }

    #[test]
    fn served_operations() {
        assert!(serves(OperationId::V1Create));
        assert!(serves(OperationId::V2DirectUploadsCreate));
        assert!(!serves(OperationId::V1StatsGet));
        assert!(!serves(OperationId::V1BatchTokenGet));
        assert!(Batch::new(BatchSettings {
            base_url: "ftp://x".into(),
            tokens: 1,
            rate: RateLimit::cloudflare_batch_token(),
        })
        .is_err());
    }

    /// The token comes from the fetch the caller injects: fetched once while
    /// fresh, again after `forget`, and renewed when close to expiry.
    #[tokio::test]
    async fn tokens_come_from_the_injected_fetch() {
        let batch = Batch::new(BatchSettings {
            base_url: "http://127.0.0.1:9".into(),
            tokens: 1,
            rate: RateLimit::cloudflare_batch_token(),
        })
        .unwrap();
        let fetches = AtomicUsize::new(0);
        let fetch = |lifetime: Duration| {
            let n = fetches.fetch_add(1, Ordering::Relaxed);
            async move {
                Ok(Issued {
                    token: format!("t{n}"),
                    expires: SystemTime::now() + lifetime,
                })
            }
        };
        let hour = Duration::from_secs(3600);
        let first = batch.auth(0, || fetch(hour)).await.unwrap();
        assert_eq!(first[AUTHORIZATION], "Bearer t0");
        assert!(first[AUTHORIZATION].is_sensitive());
        let again = batch.auth(0, || fetch(hour)).await.unwrap();
        assert_eq!(again[AUTHORIZATION], "Bearer t0");
        batch.forget(0).await;
        let renewed = batch.auth(0, || fetch(RENEW_BEFORE / 2)).await.unwrap();
        assert_eq!(renewed[AUTHORIZATION], "Bearer t1");
        // Within RENEW_BEFORE of its expiry: fetched again.
        let next = batch.auth(0, || fetch(hour)).await.unwrap();
        assert_eq!(next[AUTHORIZATION], "Bearer t2");
        let bad = batch
            .auth(0, || async {
                Ok(Issued {
                    token: "a\nb".into(),
                    expires: SystemTime::UNIX_EPOCH,
                })
            })
            .await;
        assert!(bad.is_ok(), "a fresh token is not fetched again");
        assert_eq!(fetches.load(Ordering::Relaxed), 3);
    }
}
