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
//! let all: Vec<_> = V2Images::new(&client).per_page(1000).try_collect().await?;
//! # assert_eq!(all.len(), 30);
//!
//! // Pages, with the token to resume from after each one.
//! let mut pages = V2Images::new(&client)
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

// ---------------------------------------------------------------------------------------------
// v1.

/// One page of the v1 listing.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct V1Page {
    /// The images on this page.
    pub images: Vec<types::Image>,
    /// This page's number (1-based).
    pub page: u32,
    /// The page to resume from after this one ([`V1Images::start_page`]); `None`
    /// when this was the last page.
    pub next_page: Option<u32>,
}

impl IntoIterator for V1Page {
    type Item = types::Image;
    type IntoIter = std::vec::IntoIter<types::Image>;

    fn into_iter(self) -> Self::IntoIter {
        self.images.into_iter()
    }
}

/// Every image, through the v1 listing (`page` / `per_page`): a [`Stream`] of
/// `Result<Image>`.
///
/// Cloudflare deprecates v1 listing; prefer [`V2Images`]. The listing ends on an
/// empty page or a short one (see the module docs); pages are fetched one at a
/// time, when the stream needs them.
#[must_use = "streams do nothing unless polled"]
pub struct V1Images {
    client: Client,
    per_page: Option<u32>,
    creator: Option<String>,
    start_page: u32,
    started: Option<Items<types::Image>>,
}

impl V1Images {
    /// Lists `client`'s images; sends nothing until polled.
    pub fn new(client: &Client) -> Self {
        V1Images {
            client: client.clone(),
            per_page: None,
            creator: None,
            start_page: 1,
            started: None,
        }
    }

    /// Images per request, 10..=10,000 (checked when the stream starts). Unset,
    /// the server's default applies.
    pub fn per_page(mut self, per_page: u32) -> Self {
        self.per_page = Some(per_page);
        self
    }

    /// Only images with this `creator` (`""`: images without one).
    pub fn creator(mut self, creator: impl Into<String>) -> Self {
        self.creator = Some(creator.into());
        self
    }

    /// The page to start from (1-based, default 1), e.g. a saved
    /// [`V1Page::next_page`].
    pub fn start_page(mut self, page: u32) -> Self {
        self.start_page = page;
        self
    }

    /// The listing page by page.
    pub fn pages(self) -> Pages<V1Page> {
        if let Err(e) = check_per_page(self.per_page) {
            return Pages::failed(e);
        }
        if self.start_page == 0 {
            return Pages::failed(Error::invalid_input("start_page is 1-based"));
        }
        let state = V1State {
            client: self.client,
            per_page: self.per_page,
            creator: self.creator.map(Arc::from),
            page: self.start_page,
            largest: None,
            previous: Vec::new(),
        };
        Pages::new(paged(state, v1_step))
    }

    /// The images, one page in memory at a time.
    pub fn items(self) -> Items<types::Image> {
        self.pages().items()
    }
}

impl Stream for V1Images {
    type Item = Result<types::Image>;

    /// Starts the listing on the first poll; options set later are ignored.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.started.is_none() {
            let pager = V1Images {
                client: this.client.clone(),
                per_page: this.per_page,
                creator: this.creator.clone(),
                start_page: this.start_page,
                started: None,
            };
            this.started = Some(pager.items());
        }
        match &mut this.started {
            Some(items) => items.poll_next_unpin(cx),
            None => Poll::Ready(None),
        }
    }
}

impl fmt::Debug for V1Images {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V1Images")
            .field("per_page", &self.per_page)
            .field("creator", &self.creator)
            .field("start_page", &self.start_page)
            .field("started", &self.started.is_some())
            .finish()
    }
}

struct V1State {
    client: Client,
    per_page: Option<u32>,
    creator: Option<Arc<str>>,
    page: u32,
    largest: Option<usize>,
    /// The ids of the previous page, to notice a server that repeats a page.
    previous: Vec<Option<String>>,
}

async fn v1_step(mut st: V1State) -> Step<V1State, V1Page> {
    #[allow(deprecated)]
    let mut request = st.client.v1().list().page(st.page);
    if let Some(n) = st.per_page {
        request = request.per_page(n);
    }
    if let Some(creator) = &st.creator {
        request = request.creator(creator.to_string());
    }
    let images = match request.send().await {
        Ok(result) => result.images,
        Err(e) => return Step::Fail(e),
    };
    let len = images.len();
    if len == 0 {
        return Step::End;
    }
    let ids: Vec<Option<String>> = images.iter().map(|image| image.id.clone()).collect();
    if ids == st.previous {
        // The same page again: asking for the next one would loop forever.
        return Step::Fail(
            Error::protocol(format!(
                "page {} of the v1 listing repeats page {}: the server makes no progress",
                st.page,
                st.page.saturating_sub(1)
            ))
            .with_source(PaginationError::RepeatedPage { page: st.page }),
        );
    }
    let page = st.page;
    let next_page = page.checked_add(1);
    if is_last_page(len, st.per_page, st.largest) || next_page.is_none() {
        return Step::Last(V1Page {
            images,
            page,
            next_page: None,
        });
    }
    st.largest = Some(st.largest.map_or(len, |l| l.max(len)));
    st.page = next_page.unwrap_or(page);
    st.previous = ids;
    Step::Yield(
        V1Page {
            images,
            page,
            next_page,
        },
        st,
    )
}

// ---------------------------------------------------------------------------------------------
// Metadata filters.

/// A value in a [`MetadataFilter`]: a string, a number or a boolean. Its type
/// picks the filter's type suffix (`eq:string`, `eq:number`, `eq:boolean`).
#[derive(Debug, Clone, PartialEq)]
pub struct FilterValue(ValueRepr);

#[derive(Debug, Clone, PartialEq)]
enum ValueRepr {
    Str(String),
    Int(i128),
    Float(f64),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Str,
    Num,
    Bool,
}

impl FilterValue {
    fn kind(&self) -> ValueKind {
        match self.0 {
            ValueRepr::Str(_) => ValueKind::Str,
            ValueRepr::Int(_) | ValueRepr::Float(_) => ValueKind::Num,
            ValueRepr::Bool(_) => ValueKind::Bool,
        }
    }

    /// The value as it goes on the wire (before URL encoding).
    fn wire(&self) -> Result<String> {
        Ok(match &self.0 {
            ValueRepr::Str(s) => s.clone(),
            ValueRepr::Int(n) => n.to_string(),
            ValueRepr::Float(x) if x.is_finite() => x.to_string(),
            ValueRepr::Float(x) => {
                return Err(Error::invalid_input(format!(
                    "metadata filter values must be finite numbers, got {x}"
                )))
            }
            ValueRepr::Bool(b) => b.to_string(),
        })
    }
}

impl From<&str> for FilterValue {
    fn from(value: &str) -> Self {
        FilterValue(ValueRepr::Str(value.to_string()))
    }
}

impl From<String> for FilterValue {
    fn from(value: String) -> Self {
        FilterValue(ValueRepr::Str(value))
    }
}

impl From<&String> for FilterValue {
    fn from(value: &String) -> Self {
        FilterValue(ValueRepr::Str(value.clone()))
    }
}

impl From<bool> for FilterValue {
    fn from(value: bool) -> Self {
        FilterValue(ValueRepr::Bool(value))
    }
}

macro_rules! int_filter_value {
    ($($t:ty),*) => {$(
        impl From<$t> for FilterValue {
            fn from(value: $t) -> Self {
                FilterValue(ValueRepr::Int(i128::from(value)))
            }
        }
    )*};
}
int_filter_value!(i8, i16, i32, i64, u8, u16, u32, u64);

impl From<usize> for FilterValue {
    fn from(value: usize) -> Self {
        // usize is at most 64 bits on every supported target.
        FilterValue(ValueRepr::Int(value as i128))
    }
}

impl From<isize> for FilterValue {
    fn from(value: isize) -> Self {
        FilterValue(ValueRepr::Int(value as i128))
    }
}

impl From<f64> for FilterValue {
    fn from(value: f64) -> Self {
        FilterValue(ValueRepr::Float(value))
    }
}

impl From<f32> for FilterValue {
    fn from(value: f32) -> Self {
        FilterValue(ValueRepr::Float(f64::from(value)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterOp {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
}

impl FilterOp {
    fn name(self) -> &'static str {
        match self {
            FilterOp::Eq => "eq",
            FilterOp::Gt => "gt",
            FilterOp::Gte => "gte",
            FilterOp::Lt => "lt",
            FilterOp::Lte => "lte",
            FilterOp::In => "in",
        }
    }
}

/// A filter on images' metadata for [`V2Images::filter`]: sent as
/// `meta.<path>[<op>:<type>]=<value>`.
///
/// `path` addresses a metadata field, nested fields joined with `.`
/// (`"region.name"`, at most 5 levels), without the `meta.` prefix. The value's
/// Rust type picks the type suffix:
///
/// | Filter | Query key and value |
/// |---|---|
/// | `MetadataFilter::eq("status", "active")` | `meta.status[eq:string]=active` |
/// | `MetadataFilter::eq("priority", 5)` | `meta.priority[eq:number]=5` |
/// | `MetadataFilter::eq("public", true)` | `meta.public[eq:boolean]=true` |
/// | `MetadataFilter::gte("priority", 1)` | `meta.priority[gte:number]=1` |
/// | `MetadataFilter::in_("region", ["eu", "us"])` | `meta.region[in:string]=eu\|us` |
///
/// Range operators (`gt`, `gte`, `lt`, `lte`) take numbers only; `in` takes 1 to 10
/// strings or 1 to 10 numbers, not mixed, and strings without `|`. Filters are
/// checked before anything is sent ([`validate`](MetadataFilter::validate)).
/// Several filters combine with AND.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataFilter {
    path: String,
    op: FilterOp,
    values: Vec<FilterValue>,
}

impl MetadataFilter {
    fn new(path: impl Into<String>, op: FilterOp, values: Vec<FilterValue>) -> Self {
        MetadataFilter {
            path: path.into(),
            op,
            values,
        }
    }

    /// The field at `path` equals `value` (a string, number or boolean).
    pub fn eq(path: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::new(path, FilterOp::Eq, vec![value.into()])
    }

    /// The field at `path` is a number greater than `value`.
    pub fn gt(path: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::new(path, FilterOp::Gt, vec![value.into()])
    }

    /// The field at `path` is a number greater than or equal to `value`.
    pub fn gte(path: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::new(path, FilterOp::Gte, vec![value.into()])
    }

    /// The field at `path` is a number less than `value`.
    pub fn lt(path: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::new(path, FilterOp::Lt, vec![value.into()])
    }

    /// The field at `path` is a number less than or equal to `value`.
    pub fn lte(path: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::new(path, FilterOp::Lte, vec![value.into()])
    }

    /// The field at `path` equals one of `values` (1 to 10 strings, or 1 to 10
    /// numbers).
    pub fn in_<V: Into<FilterValue>>(
        path: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Self::new(
            path,
            FilterOp::In,
            values.into_iter().map(Into::into).collect(),
        )
    }

    /// The metadata path this filter addresses.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Checks the filter against Cloudflare's rules, without sending anything.
    pub fn validate(&self) -> Result<()> {
        self.query_pair().map(|_| ())
    }

    /// The query parameter this filter sends, before URL encoding:
    /// `("meta.status[eq:string]", "active")`; fails as [`validate`](Self::validate).
    pub fn query_pair(&self) -> Result<(String, String)> {
        let bad =
            |why: String| Error::invalid_input(format!("metadata filter {:?}: {why}", self.path));
        let segments: Vec<&str> = self.path.split('.').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(bad("the path is empty or has an empty segment".into()));
        }
        if segments.len() > MAX_FILTER_DEPTH {
            return Err(bad(format!(
                "at most {MAX_FILTER_DEPTH} levels of nesting, got {}",
                segments.len()
            )));
        }
        if self
            .path
            .chars()
            .any(|c| c == '[' || c == ']' || c.is_control())
        {
            return Err(bad(
                "the path must not contain brackets or control characters".into(),
            ));
        }
        let kind = match self.values.first() {
            Some(first) => first.kind(),
            None => return Err(bad("`in` needs at least one value".into())),
        };
        if self.values.iter().any(|v| v.kind() != kind) {
            return Err(bad("all values of `in` must have the same type".into()));
        }
        let suffix = match (self.op, kind) {
            (FilterOp::Gt | FilterOp::Gte | FilterOp::Lt | FilterOp::Lte, ValueKind::Num) => {
                "number"
            }
            (FilterOp::Gt | FilterOp::Gte | FilterOp::Lt | FilterOp::Lte, _) => {
                return Err(bad(format!("`{}` compares numbers only", self.op.name())))
            }
            (FilterOp::In, ValueKind::Bool) => {
                return Err(bad("`in` takes strings or numbers, not booleans".into()))
            }
            (_, ValueKind::Str) => "string",
            (_, ValueKind::Num) => "number",
            (_, ValueKind::Bool) => "boolean",
        };
        if self.values.len() > MAX_IN_VALUES {
            return Err(bad(format!(
                "`in` takes at most {MAX_IN_VALUES} values, got {}",
                self.values.len()
            )));
        }
        let mut wire = Vec::with_capacity(self.values.len());
        for value in &self.values {
            let text = value.wire()?;
            if self.op == FilterOp::In && text.contains('|') {
                return Err(bad(format!(
                    "`in` values must not contain `|`, got {text:?}"
                )));
            }
            wire.push(text);
        }
        Ok((
            format!("meta.{}[{}:{suffix}]", self.path, self.op.name()),
            wire.join("|"),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// v2.

/// One page of the v2 listing.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct V2Page {
    /// The images on this page (possibly none when filtering, with more to come).
    pub images: Vec<types::Image>,
    /// The token of the next page: save it as a checkpoint after processing this
    /// page and pass it to [`V2Images::resume_from`] to continue right after it.
    /// `None` on the last page.
    pub continuation_token: Option<String>,
    /// The token this page was requested with (`None` for the first page of a
    /// listing that did not resume): resuming from it fetches this page again.
    pub token: Option<String>,
    /// 0-based number of this page within this stream.
    pub number: u64,
}

impl IntoIterator for V2Page {
    type Item = types::Image;
    type IntoIter = std::vec::IntoIter<types::Image>;

    fn into_iter(self) -> Self::IntoIter {
        self.images.into_iter()
    }
}

/// Every image, through the v2 listing (continuation tokens): a [`Stream`] of
/// `Result<Image>`, or of pages with [`pages`](V2Images::pages).
///
/// Resumable from a saved [`V2Page::continuation_token`]; stops with
/// [`PaginationError::RepeatedToken`] if the server hands out a token twice.
#[must_use = "streams do nothing unless polled"]
pub struct V2Images {
    client: Client,
    query: V2Query,
    resume_from: Option<String>,
    prefetch: bool,
    started: Option<Items<types::Image>>,
}

#[derive(Debug, Clone, Default)]
struct V2Query {
    per_page: Option<u32>,
    sort_order: Option<types::V2ListSortOrder>,
    creator: Option<String>,
    filters: Vec<MetadataFilter>,
}

impl V2Images {
    /// Lists `client`'s images; sends nothing until polled.
    pub fn new(client: &Client) -> Self {
        V2Images {
            client: client.clone(),
            query: V2Query::default(),
            resume_from: None,
            prefetch: false,
            started: None,
        }
    }

    /// Images per request, 10..=10,000 (checked when the stream starts; the
    /// server's default is 1,000).
    pub fn per_page(mut self, per_page: u32) -> Self {
        self.query.per_page = Some(per_page);
        self
    }

    /// Order by upload time (the server's default is newest first).
    pub fn sort_order(mut self, order: types::V2ListSortOrder) -> Self {
        self.query.sort_order = Some(order);
        self
    }

    /// Only images with this `creator` (`""`: images without one).
    pub fn creator(mut self, creator: impl Into<String>) -> Self {
        self.query.creator = Some(creator.into());
        self
    }

    /// Adds a metadata filter (at most 5; they combine with AND).
    pub fn filter(mut self, filter: MetadataFilter) -> Self {
        self.query.filters.push(filter);
        self
    }

    /// Adds several metadata filters.
    pub fn filters(mut self, filters: impl IntoIterator<Item = MetadataFilter>) -> Self {
        self.query.filters.extend(filters);
        self
    }

    /// Starts from a saved [`V2Page::continuation_token`] instead of the
    /// beginning. Keep the other options as they were when it was issued
    /// (Cloudflare ties tokens to the sort order).
    pub fn resume_from(mut self, continuation_token: impl Into<String>) -> Self {
        self.resume_from = Some(continuation_token.into());
        self
    }

    /// Fetches the next page in the background while the current one is being
    /// consumed (off by default). At most one page ahead: the request for page
    /// N + 2 leaves only once page N + 1 has been handed out. Needs a Tokio
    /// runtime; without one pages are fetched on demand. Dropping the stream
    /// cancels a fetch in flight.
    pub fn prefetch(mut self, prefetch: bool) -> Self {
        self.prefetch = prefetch;
        self
    }

    fn check(&self) -> Result<Arc<[(String, String)]>> {
        check_per_page(self.query.per_page)?;
        if self.query.filters.len() > MAX_METADATA_FILTERS {
            return Err(Error::invalid_input(format!(
                "at most {MAX_METADATA_FILTERS} metadata filters per request, got {}",
                self.query.filters.len()
            )));
        }
        if self.resume_from.as_deref() == Some("") {
            return Err(Error::invalid_input(
                "resume_from needs a continuation token, got an empty string",
            ));
        }
        let mut pairs = Vec::new();
        // The order the generated `v2_list` uses, then the filters.
        if let Some(creator) = &self.query.creator {
            pairs.push(("creator".to_string(), creator.clone()));
        }
        if let Some(n) = self.query.per_page {
            pairs.push(("per_page".to_string(), n.to_string()));
        }
        if let Some(order) = self.query.sort_order {
            pairs.push(("sort_order".to_string(), order.to_string()));
        }
        for filter in &self.query.filters {
            pairs.push(filter.query_pair()?);
        }
        Ok(pairs.into())
    }

    /// The listing page by page.
    pub fn pages(self) -> Pages<V2Page> {
        let pairs = match self.check() {
            Ok(pairs) => pairs,
            Err(e) => return Pages::failed(e),
        };
        let seen = self.resume_from.iter().cloned().collect();
        let state = V2State {
            client: self.client,
            pairs,
            next: V2Next::Fetch(self.resume_from),
            seen,
            number: 0,
            prefetch: self.prefetch,
        };
        Pages::new(paged(state, v2_step))
    }

    /// The images, one page in memory at a time (two with prefetch).
    pub fn items(self) -> Items<types::Image> {
        self.pages().items()
    }
}

impl Stream for V2Images {
    type Item = Result<types::Image>;

    /// Starts the listing on the first poll; options set later are ignored.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.started.is_none() {
            let pager = V2Images {
                client: this.client.clone(),
                query: this.query.clone(),
                resume_from: this.resume_from.clone(),
                prefetch: this.prefetch,
                started: None,
            };
            this.started = Some(pager.items());
        }
        match &mut this.started {
            Some(items) => items.poll_next_unpin(cx),
            None => Poll::Ready(None),
        }
    }
}

impl fmt::Debug for V2Images {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V2Images")
            .field("per_page", &self.query.per_page)
            .field("sort_order", &self.query.sort_order)
            .field("creator", &self.query.creator)
            .field("filters", &self.query.filters)
            .field("resume_from", &self.resume_from)
            .field("prefetch", &self.prefetch)
            .field("started", &self.started.is_some())
            .finish()
    }
}

struct V2State {
    client: Client,
    /// Query parameters other than the token, already checked.
    pairs: Arc<[(String, String)]>,
    next: V2Next,
    /// Every token followed or queued so far.
    seen: HashSet<String>,
    number: u64,
    prefetch: bool,
}

enum V2Next {
    /// Fetch the page for this token when asked.
    Fetch(Option<String>),
    /// The page for this token is being fetched in the background.
    InFlight(String, Prefetch),
    /// Yield this error next.
    Fail(Error),
}

/// A background page fetch, cancelled when dropped.
struct Prefetch(tokio::task::JoinHandle<Result<types::ImagesListResponseV2Result>>);

impl Prefetch {
    fn spawn(client: Client, pairs: Arc<[(String, String)]>, token: String) -> Option<Prefetch> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        Some(Prefetch(runtime.spawn(async move {
            fetch_v2(&client, &pairs, Some(&token)).await
        })))
    }

    async fn join(mut self) -> Result<types::ImagesListResponseV2Result> {
        match (&mut self.0).await {
            Ok(result) => result,
            Err(e) => Err(Error::transport_message(format!(
                "the background fetch of the next page failed: {e}"
            ))),
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn v2_step(mut st: V2State) -> Step<V2State, V2Page> {
    let next = std::mem::replace(&mut st.next, V2Next::Fetch(None));
    let (token, result) = match next {
        V2Next::Fetch(token) => {
            let result = fetch_v2(&st.client, &st.pairs, token.as_deref()).await;
            (token, result)
        }
        V2Next::InFlight(token, prefetch) => (Some(token), prefetch.join().await),
        V2Next::Fail(e) => return Step::Fail(e),
    };
    let result = match result {
        Ok(result) => result,
        Err(e) => return Step::Fail(e),
    };
    // An empty token means the same as none: the end.
    let continuation_token = result.continuation_token.filter(|t| !t.is_empty());
    let number = st.number;
    st.number += 1;
    let page = V2Page {
        images: result.images,
        continuation_token: continuation_token.clone(),
        token,
        number,
    };
    let Some(next_token) = continuation_token else {
        return Step::Last(page);
    };
    st.next = if !st.seen.insert(next_token.clone()) {
        // This page is what was asked for; the error comes next, before any
        // request with the repeated token.
        V2Next::Fail(repeated_token(next_token, number))
    } else if st.prefetch {
        match Prefetch::spawn(st.client.clone(), Arc::clone(&st.pairs), next_token.clone()) {
            Some(prefetch) => V2Next::InFlight(next_token, prefetch),
            None => V2Next::Fetch(Some(next_token)),
        }
    } else {
        V2Next::Fetch(Some(next_token))
    };
    Step::Yield(page, st)
}

/// One v2 list request.
///
/// Every v2 page goes through this handwritten request, filtered or not, rather
/// than the generated `v2_list` when there are no filters: one code path means
/// the same query layout and error mapping for every page, and a listing with
/// filters is not a less-tested variant of one without. Like every request it
/// goes through the transport, as the generated `v2_list` does.
async fn fetch_v2(
    client: &Client,
    pairs: &[(String, String)],
    token: Option<&str>,
) -> Result<types::ImagesListResponseV2Result> {
    let mut operation = crate::transport::Operation::new(
        "v2_list",
        crate::transport::Method::GET,
        "/accounts/{account_id}/images/v2",
    );
    // `continuation_token` first, as the generated method orders it.
    operation.query_param("continuation_token", token);
    operation.query_pairs(pairs);
    client.execute(operation).await
}

// ---------------------------------------------------------------------------------------------
// Sourcing kit (offset / limit).

/// One page of an offset-paginated listing (the sourcing-kit lists).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OffsetPage<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// The offset this page was requested with.
    pub offset: u32,
    /// The offset to resume from after this page; `None` when this was the last.
    pub next_offset: Option<u32>,
}

impl<T> IntoIterator for OffsetPage<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

fn check_limit(limit: Option<u32>) -> Result<()> {
    match limit {
        Some(n) if !(1..=MAX_SOURCING_KIT_LIMIT).contains(&n) => Err(Error::invalid_input(
            format!("limit must be between 1 and {MAX_SOURCING_KIT_LIMIT}, got {n}"),
        )),
        _ => Ok(()),
    }
}

type FetchFuture<T> = Pin<Box<dyn Future<Output = Result<Vec<T>>> + Send>>;
type OffsetFetch<T> = Arc<dyn Fn(Client, u32, Option<u32>) -> FetchFuture<T> + Send + Sync>;

/// Boxes a page fetch; its signature fixes the async block's output type.
fn boxed_fetch<T, F>(fetch: F) -> FetchFuture<T>
where
    F: Future<Output = Result<Vec<T>>> + Send + 'static,
{
    Box::pin(fetch)
}

struct OffsetState<T> {
    client: Client,
    fetch: OffsetFetch<T>,
    offset: u32,
    limit: Option<u32>,
    largest: Option<usize>,
}

/// The pages of an offset listing: `fetch(client, offset, limit)` per page,
/// advancing by the number of items received, ending on an empty or short page.
fn offset_pages<T: Send + 'static>(
    client: Client,
    offset: u32,
    limit: Option<u32>,
    fetch: OffsetFetch<T>,
) -> Pages<OffsetPage<T>> {
    if let Err(e) = check_limit(limit) {
        return Pages::failed(e);
    }
    let state = OffsetState {
        client,
        fetch,
        offset,
        limit,
        largest: None,
    };
    Pages::new(paged(state, |mut st: OffsetState<T>| async move {
        let items = match (st.fetch)(st.client.clone(), st.offset, st.limit).await {
            Ok(items) => items,
            Err(e) => return Step::Fail(e),
        };
        let len = items.len();
        if len == 0 {
            return Step::End;
        }
        let offset = st.offset;
        let next_offset = u32::try_from(len).ok().and_then(|n| offset.checked_add(n));
        if is_last_page(len, st.limit, st.largest) || next_offset.is_none() {
            return Step::Last(OffsetPage {
                items,
                offset,
                next_offset: None,
            });
        }
        st.largest = Some(st.largest.map_or(len, |l| l.max(len)));
        st.offset = next_offset.unwrap_or(offset);
        Step::Yield(
            OffsetPage {
                items,
                offset,
                next_offset,
            },
            st,
        )
    }))
}

macro_rules! offset_pager {
    (
        $(#[$doc:meta])*
        $name:ident, item = $item:ty, what = $what:literal,
        fields { $($field:ident : $fty:ty),* },
        fetch = |$c:ident, $o:ident, $l:ident, $s:ident| $body:expr
    ) => {
        $(#[$doc])*
        #[must_use = "streams do nothing unless polled"]
        pub struct $name {
            client: Client,
            offset: u32,
            limit: Option<u32>,
            $($field: $fty,)*
            started: Option<Items<$item>>,
        }

        impl $name {
            fn config(&self) -> Self {
                $name {
                    client: self.client.clone(),
                    offset: self.offset,
                    limit: self.limit,
                    $($field: self.$field.clone(),)*
                    started: None,
                }
            }

            #[doc = concat!("Items per request, 1..=100 (checked when the stream starts; the server's default is 25).")]
            pub fn limit(mut self, limit: u32) -> Self {
                self.limit = Some(limit);
                self
            }

            /// The offset to start from (default 0), e.g. a saved
            /// [`OffsetPage::next_offset`].
            pub fn offset(mut self, offset: u32) -> Self {
                self.offset = offset;
                self
            }

            #[doc = concat!("The ", $what, " page by page.")]
            pub fn pages(self) -> Pages<OffsetPage<$item>> {
                let $name { client, offset, limit, $($field,)* .. } = self;
                let $s = ($($field,)*);
                let fetch: OffsetFetch<$item> = Arc::new(move |$c: Client, $o: u32, $l: Option<u32>| {
                    #[allow(unused_variables, clippy::clone_on_copy)]
                    let $s = $s.clone();
                    boxed_fetch(async move { $body })
                });
                offset_pages(client, offset, limit, fetch)
            }

            #[doc = concat!("The ", $what, ", one page in memory at a time.")]
            pub fn items(self) -> Items<$item> {
                self.pages().items()
            }
        }

        impl Stream for $name {
            type Item = Result<$item>;

            /// Starts the listing on the first poll; options set later are ignored.
            fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                let this = &mut *self;
                if this.started.is_none() {
                    this.started = Some(this.config().items());
                }
                match &mut this.started {
                    Some(items) => items.poll_next_unpin(cx),
                    None => Poll::Ready(None),
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("offset", &self.offset)
                    .field("limit", &self.limit)
                    $(.field(stringify!($field), &self.$field))*
                    .field("started", &self.started.is_some())
                    .finish()
            }
        }
    };
}

offset_pager! {
    /// Every sourcing-kit migration of the account (`offset` / `limit`): a
    /// [`Stream`] of `Result<SourcingkitMigration>`. Ends on an empty or short page.
    SourcingKitMigrations, item = types::SourcingkitMigration, what = "migrations",
    fields {},
    fetch = |client, offset, limit, _state| {
        let mut request = client.v2().sourcing_kit().migrations().list().offset(offset);
        if let Some(limit) = limit {
            request = request.limit(limit);
        }
        Ok(request.send().await?.migrations)
    }
}

impl SourcingKitMigrations {
    /// Lists `client`'s migrations; sends nothing until polled.
    pub fn new(client: &Client) -> Self {
        SourcingKitMigrations {
            client: client.clone(),
            offset: 0,
            limit: None,
            started: None,
        }
    }
}

offset_pager! {
    /// Every sourcing-kit source of the account (`offset` / `limit`): a
    /// [`Stream`] of `Result<SourcingkitSource>`. Ends on an empty or short page.
    SourcingKitSources, item = types::SourcingkitSource, what = "sources",
    fields { name: Option<String> },
    fetch = |client, offset, limit, state| {
        let (name,) = state;
        let mut request = client.v2().sourcing_kit().sources().list().offset(offset);
        if let Some(limit) = limit {
            request = request.limit(limit);
        }
        if let Some(name) = name {
            request = request.name(name);
        }
        Ok(request.send().await?.sources)
    }
}

impl SourcingKitSources {
    /// Lists `client`'s sources; sends nothing until polled.
    pub fn new(client: &Client) -> Self {
        SourcingKitSources {
            client: client.clone(),
            offset: 0,
            limit: None,
            name: None,
            started: None,
        }
    }

    /// Only sources with this name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

offset_pager! {
    /// Every log entry of one sourcing-kit migration (`offset` / `limit`): a
    /// [`Stream`] of `Result<SourcingkitMigrationLog>`. Ends on an empty or short
    /// page.
    MigrationLogs, item = types::SourcingkitMigrationLog, what = "log entries",
    fields { migration_id: uuid::Uuid },
    fetch = |client, offset, limit, state| {
        let (migration_id,) = state;
        let mut request = client
            .v2()
            .sourcing_kit()
            .migrations()
            .lifecycle()
            .logs(migration_id)
            .offset(offset);
        if let Some(limit) = limit {
            request = request.limit(limit);
        }
        Ok(request.send().await?.logs)
    }
}

impl MigrationLogs {
    /// Lists the logs of `migration_id`; sends nothing until polled.
    pub fn new(client: &Client, migration_id: uuid::Uuid) -> Self {
        MigrationLogs {
            client: client.clone(),
            offset: 0,
            limit: None,
            migration_id,
            started: None,
        }
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

    fn pair(f: MetadataFilter) -> (String, String) {
        f.query_pair().unwrap()
    }

    #[test]
    fn filter_keys_follow_the_value_type() {
        assert_eq!(
            pair(MetadataFilter::eq("status", "active")),
            ("meta.status[eq:string]".into(), "active".into())
        );
        assert_eq!(
            pair(MetadataFilter::eq("a.b", 5)),
            ("meta.a.b[eq:number]".into(), "5".into())
        );
        assert_eq!(
            pair(MetadataFilter::eq("ok", false)),
            ("meta.ok[eq:boolean]".into(), "false".into())
        );
        assert_eq!(
            pair(MetadataFilter::gte("p", 1.5)),
            ("meta.p[gte:number]".into(), "1.5".into())
        );
        assert_eq!(
            pair(MetadataFilter::lt("p", 2.0f64)),
            ("meta.p[lt:number]".into(), "2".into())
        );
        assert_eq!(
            pair(MetadataFilter::in_("r", [4, 5])),
            ("meta.r[in:number]".into(), "4|5".into())
        );
        assert_eq!(
            pair(MetadataFilter::in_("r", ["a", "b"])),
            ("meta.r[in:string]".into(), "a|b".into())
        );
    }

    #[test]
    fn bad_filters_are_invalid_input() {
        let bad = [
            MetadataFilter::gt("p", "x"),
            MetadataFilter::lte("p", true),
            MetadataFilter::eq("", 1),
            MetadataFilter::eq("a..b", 1),
            MetadataFilter::eq("a.b.c.d.e.f", 1),
            MetadataFilter::eq("a[b]", 1),
            MetadataFilter::eq("p", f64::NAN),
            MetadataFilter::in_("p", Vec::<String>::new()),
            MetadataFilter::in_("p", 0..11),
            MetadataFilter::in_("p", ["a|b"]),
            MetadataFilter::in_("p", [true]),
            MetadataFilter::in_("p", [FilterValue::from(1), FilterValue::from("a")]),
        ];
        for f in bad {
            let e = f.validate().unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{f:?}");
        }
        assert!(MetadataFilter::eq("a.b.c.d.e", 1).validate().is_ok());
        assert!(MetadataFilter::in_("p", 0..10).validate().is_ok());
    }

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
