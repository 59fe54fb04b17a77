//! Pagination as `futures::Stream`s over the list operations.
//!
//! Every pager is a builder that is also a [`Stream`] of items; `.pages()` streams
//! whole pages instead (with the position to resume from), `.items()` streams items.
//!
//! | Pager | Operation | Position |
//! |---|---|---|
//! | [`V1Images`] | `GET images/v1` (deprecated by Cloudflare) | `page` number |
//! | [`V2Images`] | `GET images/v2`, with [`MetadataFilter`]s | `continuation_token` |
//! | [`SourcingKitMigrations`] | `GET images/v2/sourcingkit/migrations` | `offset` |
//! | [`SourcingKitSources`] | `GET images/v2/sourcingkit/sources` | `offset` |
//! | [`MigrationLogs`] | `GET images/v2/sourcingkit/migrations/{id}/logs` | `offset` |
//!
//! All of them:
//!
//! - are lazy: nothing is sent until the stream is first polled;
//! - hold at most one page in memory (two with [`V2Images::prefetch`]);
//! - check their options before sending anything: bad options come out as one
//!   [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) error and no request;
//! - end after yielding an error once: a failed page is never skipped over, and
//!   the stream does not retry by itself. Resume from the last page you processed
//!   ([`V2Page::continuation_token`], [`V1Page::next_page`], [`OffsetPage::next_offset`]).
//!
//! The streams own a clone of the [`Client`] (cheap: an `Arc`), so they are
//! `Send + 'static` and can be moved into tasks.
//!
//! ```
//! use cloudflare_images::pagination::{MetadataFilter, V2Images};
//! use futures_util::TryStreamExt;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = cloudflare_images_emulator::Emulator::start().await?;
//! # emulator.seed_images(30).await;
//! # let client = cloudflare_images::Client::builder().api_token("t")
//! #     .account_id(emulator.account_id()).base_url(emulator.base_url()).build()?;
//! // Every image, 1,000 per request.
//! let all: Vec<_> = client.v2().list_all().per_page(1000).try_collect().await?;
//! # assert_eq!(all.len(), 30);
//!
//! // Pages, with the token to resume from after each one.
//! let mut pages = client.v2().list_all()
//!     .per_page(10)
//!     .filter(MetadataFilter::eq("even", true))
//!     .pages();
//! while let Some(page) = pages.try_next().await? {
//!     println!("{} images; resume with {:?}", page.images.len(), page.continuation_token);
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::{self, BoxStream, Stream, StreamExt, TryStreamExt};

use crate::api::types;
use crate::error::{Error, Result};
use crate::Client;

mod filter;
mod offset;
mod v1;
mod v2;

pub(crate) use filter::filter_pairs;
pub use filter::{FilterValue, MetadataFilter};
pub use offset::{MigrationLogs, OffsetPage, SourcingKitMigrations, SourcingKitSources};
pub use v1::{V1Images, V1Page};
pub use v2::{V2Images, V2Page};

/// The smallest `per_page` the list operations accept.
pub const MIN_PER_PAGE: u32 = 10;
/// The largest `per_page` the list operations accept.
pub const MAX_PER_PAGE: u32 = 10_000;
/// The most metadata filters one v2 list request may carry.
pub const MAX_METADATA_FILTERS: usize = 5;
/// The deepest metadata path a filter may address (`a.b.c.d.e`).
pub const MAX_FILTER_DEPTH: usize = 5;
/// The most values an `in` filter may list.
pub const MAX_IN_VALUES: usize = 10;
/// The largest `limit` the sourcing-kit list operations accept.
pub const MAX_SOURCING_KIT_LIMIT: u32 = 100;

// ---------------------------------------------------------------------------------------------
// Streams.

/// A stream of pages, from a pager's `.pages()`.
///
/// Ends after the last page, or after yielding an error once.
#[must_use = "streams do nothing unless polled"]
pub struct Pages<P> {
    inner: BoxStream<'static, Result<P>>,
}

impl<P> Pages<P> {
    fn new(inner: BoxStream<'static, Result<P>>) -> Self {
        Pages { inner }
    }

    /// A stream that yields `error` when first polled and then ends; sends nothing.
    fn failed(error: Error) -> Self
    where
        P: Send + 'static,
    {
        Pages::new(stream::once(async move { Err(error) }).boxed())
    }

    /// The items of every page, in order, one page in memory at a time.
    pub fn items(self) -> Items<P::Item>
    where
        P: IntoIterator + Send + 'static,
        P::IntoIter: Send + 'static,
        P::Item: Send + 'static,
    {
        Items {
            inner: self
                .inner
                .map_ok(|page| stream::iter(page.into_iter().map(Ok)))
                .try_flatten()
                .boxed(),
        }
    }
}

impl<P> Stream for Pages<P> {
    type Item = Result<P>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl<P> fmt::Debug for Pages<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages").finish_non_exhaustive()
    }
}

/// A stream of items (images, migrations, ...), from a pager's `.items()`.
///
/// Ends after the last item, or after yielding an error once.
#[must_use = "streams do nothing unless polled"]
pub struct Items<T> {
    inner: BoxStream<'static, Result<T>>,
}

impl<T> Stream for Items<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl<T> fmt::Debug for Items<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items").finish_non_exhaustive()
    }
}

/// One step of a pager's state machine.
enum Step<S, P> {
    /// A page, and the state to fetch the next one from.
    Yield(P, S),
    /// The last page.
    Last(P),
    /// An error; the stream ends after it.
    Fail(Error),
    /// Nothing more.
    End,
}

/// A page stream driven by `step`, which is called once per poll that needs a page.
fn paged<S, P, F, Fut>(init: S, mut step: F) -> BoxStream<'static, Result<P>>
where
    S: Send + 'static,
    P: Send + 'static,
    F: FnMut(S) -> Fut + Send + 'static,
    Fut: Future<Output = Step<S, P>> + Send + 'static,
{
    stream::unfold(Some(init), move |state| {
        let next = state.map(&mut step);
        async move {
            match next?.await {
                Step::Yield(page, state) => Some((Ok(page), Some(state))),
                Step::Last(page) => Some((Ok(page), None)),
                Step::Fail(error) => Some((Err(error), None)),
                Step::End => None,
            }
        }
    })
    // After `None` the state is gone; `fuse` keeps later polls returning `None`.
    .fuse()
    .boxed()
}

/// Whether a page of `len` items is the last one.
///
/// A page is short when it has fewer items than asked for. The first page is
/// never taken as short unless it is empty: a server that caps the page size
/// below what was asked (the v1 docs say "up to 100", its `per_page` allows
/// 10,000) would otherwise end the listing after one page and silently drop the
/// rest. Later pages are short when below both the size asked for and the
/// largest page seen. The price is one extra request when everything fits on
/// the first page.
fn is_last_page(len: usize, asked: Option<u32>, largest_seen: Option<usize>) -> bool {
    if len == 0 {
        return true;
    }
    let below_asked = asked.is_none_or(|asked| len < asked as usize);
    below_asked && largest_seen.is_some_and(|largest| len < largest)
}

// ---------------------------------------------------------------------------------------------
// Typed pagination errors.

/// Why a pager stopped, when it was not the server's error: reachable as the
/// [`source`](std::error::Error::source) of the [`Error`] the stream yields (see
/// [`PaginationError::of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PaginationError {
    /// The server returned a continuation token it had already returned (or the
    /// one the listing resumed from): following it would loop forever.
    RepeatedToken {
        /// The repeated token.
        token: String,
        /// The 0-based number of the page that carried it (that page was yielded).
        page: u64,
    },
    /// A v1 page held exactly the images of the page before it: the server
    /// ignores `page`, and following it would loop forever.
    RepeatedPage {
        /// The `page` number whose answer repeated the previous one.
        page: u32,
    },
}

impl PaginationError {
    /// The pagination error behind `error`, if that is why a stream stopped.
    pub fn of(error: &Error) -> Option<&PaginationError> {
        std::error::Error::source(error)?.downcast_ref()
    }
}

impl fmt::Display for PaginationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaginationError::RepeatedToken { page, .. } => write!(
                f,
                "page {page} of the listing returned a continuation token seen before"
            ),
            PaginationError::RepeatedPage { page } => {
                write!(
                    f,
                    "page {page} of the v1 listing repeated the page before it"
                )
            }
        }
    }
}

impl std::error::Error for PaginationError {}

fn repeated_token(token: String, page: u64) -> Error {
    // `InvalidInput`: the SDK refuses to send a request with a token it has
    // already followed (nothing is sent), and it is not worth retrying.
    Error::protocol("the server repeated a continuation token; stopping to avoid a loop")
        .with_source(PaginationError::RepeatedToken { token, page })
}

fn check_per_page(per_page: Option<u32>) -> Result<()> {
    match per_page {
        Some(n) if !(MIN_PER_PAGE..=MAX_PER_PAGE).contains(&n) => Err(Error::invalid_input(
            format!("per_page must be between {MIN_PER_PAGE} and {MAX_PER_PAGE}, got {n}"),
        )),
        _ => Ok(()),
    }
}

// Entry points on the resource tree, beside the generated list methods.

impl crate::resources::V1<'_> {
    /// Every image through v1 paging, as a lazy stream (see [`V1Images`]).
    #[deprecated(note = "v1 listing is deprecated by Cloudflare; use `v2().list_all()`")]
    pub fn list_all(&self) -> V1Images {
        V1Images::new(self.client())
    }
}

impl crate::resources::V2<'_> {
    /// Every image through continuation tokens, as a lazy stream of images or
    /// pages, with metadata filters, resume and prefetch (see [`V2Images`]).
    pub fn list_all(&self) -> V2Images {
        V2Images::new(self.client())
    }
}

impl crate::resources::V2SourcingKitMigrations<'_> {
    /// Every migration, page by page (see [`SourcingKitMigrations`]).
    pub fn list_all(&self) -> SourcingKitMigrations {
        SourcingKitMigrations::new(self.client())
    }
}

impl crate::resources::V2SourcingKitSources<'_> {
    /// Every source, page by page (see [`SourcingKitSources`]).
    pub fn list_all(&self) -> SourcingKitSources {
        SourcingKitSources::new(self.client())
    }
}

impl crate::resources::V2SourcingKitMigrationsLifecycle<'_> {
    /// Every log entry of a migration, page by page (see [`MigrationLogs`]).
    pub fn logs_all(&self, migration_id: uuid::Uuid) -> MigrationLogs {
        MigrationLogs::new(self.client(), migration_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_page_rule() {
        assert!(is_last_page(0, Some(100), None));
        // A short first page is not trusted: the server may cap the page size.
        assert!(!is_last_page(37, Some(100), None));
        assert!(is_last_page(37, Some(100), Some(100)));
        assert!(!is_last_page(100, Some(100), Some(100)));
        // Capped at 50 while 100 was asked: full pages go on, a shorter one ends.
        assert!(!is_last_page(50, Some(100), Some(50)));
        assert!(is_last_page(20, Some(100), Some(50)));
        assert!(is_last_page(20, None, Some(50)));
    }
}
