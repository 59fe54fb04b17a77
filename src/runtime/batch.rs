//! Cloudflare's Batch API: the operations it serves go to the batch host
//! (`https://batch.imagedelivery.net/images/v1...`) with a short-lived batch
//! token instead of the account's credentials, outside the account's global
//! limit, at 200 requests per second per token. Tokens come from
//! `GET /accounts/{account_id}/images/v1/batch_token` and are renewed before they
//! expire; several may be used at once, each paced on its own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

use super::limits::{Limits, RateLimit};
use super::{Method, Operation, Transport};
use crate::error::{Error, Result};

/// Cloudflare's batch host.
pub const DEFAULT_BATCH_URL: &str = "https://batch.imagedelivery.net";

/// Requests per second one batch token allows.
pub const BATCH_REQUESTS_PER_SECOND: u32 = 200;

/// A token is renewed when it has less than this left.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// The operations the batch host serves (by tree name), per Cloudflare's
/// "Images batch API" page: `POST v1`, `GET`/`PATCH`/`DELETE v1/{id}`, `GET v2`,
/// `POST v2/direct_upload`.
const SERVED: &[&str] = &[
    "v1_create",
    "v1_get",
    "v1_edit",
    "v1_delete",
    "v2_list",
    "v2_direct_uploads_create",
];

/// Whether the batch host serves the operation `id`.
pub(crate) fn serves(id: &str) -> bool {
    SERVED.contains(&id)
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
    /// through the API first when needed (one fetch at a time per slot).
    pub(crate) async fn auth(
        &self,
        slot: usize,
        transport: &Transport,
        account_id: &str,
    ) -> Result<HeaderMap> {
        let slot = &self.slots[slot % self.slots.len()];
        let mut token = slot.token.lock().await;
        let fresh = token
            .as_ref()
            .is_some_and(|t| SystemTime::now() < t.renew_at);
        if !fresh {
            // The operation `client.v1().batch_token().get()` sends (it comes
            // from spec/supplement.yaml).
            let operation = Operation::new(
                "v1_batch_token_get",
                Method::GET,
                "/accounts/{account_id}/images/v1/batch_token",
            );
            // Boxed: this request goes through the same transport (to the API).
            let issued: crate::types::BatchToken =
                Box::pin(transport.execute(account_id, operation)).await?;
            let mut header =
                HeaderValue::from_str(&format!("Bearer {}", issued.token)).map_err(|_| {
                    Error::protocol("the batch token holds characters not allowed in a header")
                })?;
            header.set_sensitive(true);
            let expires: SystemTime = issued.expires_at.into();
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
        for id in SERVED {
            assert!(serves(id));
        }
        assert!(!serves("v1_stats_get"));
        assert!(!serves("v1_batch_token_get"));
        assert!(Batch::new(BatchSettings {
            base_url: "ftp://x".into(),
            tokens: 1,
            rate: RateLimit::cloudflare_batch_token(),
        })
        .is_err());
    }
}
