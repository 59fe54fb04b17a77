//! The v2 listing: continuation tokens, filters, resume and prefetch.

use super::*;
use crate::resources::V2ListRequest;

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
    /// The generated `v2().list()` request, sent once per page with that page's
    /// token: its query and URL are the generated operation's.
    request: V2ListRequest<'static>,
    /// Kept to check before the first request (the generated request does not).
    per_page: Option<u32>,
    resume_from: Option<String>,
    prefetch: bool,
    started: Option<Items<types::Image>>,
}

impl V2Images {
    /// Lists `client`'s images; sends nothing until polled.
    pub(crate) fn new(client: &Client) -> Self {
        V2Images {
            request: client.v2().list().into_owned(),
            per_page: None,
            resume_from: None,
            prefetch: false,
            started: None,
        }
    }

    /// Images per request, 10..=10,000 (checked when the stream starts; the
    /// server's default is 1,000).
    pub fn per_page(mut self, per_page: u32) -> Self {
        self.per_page = Some(per_page);
        self.request = self.request.per_page(per_page);
        self
    }

    /// Order by upload time (the server's default is newest first).
    pub fn sort_order(mut self, order: types::V2ListSortOrder) -> Self {
        self.request = self.request.sort_order(order);
        self
    }

    /// Only images with this `creator` (`""`: images without one).
    pub fn creator(mut self, creator: impl Into<String>) -> Self {
        self.request = self.request.creator(creator);
        self
    }

    /// Adds a metadata filter (at most 5; they combine with AND).
    pub fn filter(mut self, filter: MetadataFilter) -> Self {
        self.request = self.request.filter(filter);
        self
    }

    /// Adds several metadata filters.
    pub fn filters(mut self, filters: impl IntoIterator<Item = MetadataFilter>) -> Self {
        self.request = self.request.filters(filters);
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

    /// Checks what the server would reject; invalid filters fail the first
    /// page's request before it is sent.
    fn check(&self) -> Result<()> {
        check_per_page(self.per_page)?;
        if self.resume_from.as_deref() == Some("") {
            return Err(Error::invalid_input(
                "resume_from needs a continuation token, got an empty string",
            ));
        }
        Ok(())
    }

    /// The listing page by page.
    pub fn pages(self) -> Pages<V2Page> {
        if let Err(e) = self.check() {
            return Pages::failed(e);
        }
        let seen = self.resume_from.iter().cloned().collect();
        let state = V2State {
            request: self.request,
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
                request: this.request.clone(),
                per_page: this.per_page,
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
            .field("request", &self.request)
            .field("per_page", &self.per_page)
            .field("resume_from", &self.resume_from)
            .field("prefetch", &self.prefetch)
            .field("started", &self.started.is_some())
            .finish()
    }
}

struct V2State {
    /// The first page's request: each page sends a clone with its token.
    request: V2ListRequest<'static>,
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
struct Prefetch(tokio::task::JoinHandle<Result<types::V2ListResult>>);

impl Prefetch {
    fn spawn(request: V2ListRequest<'static>, token: String) -> Option<Prefetch> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        Some(Prefetch(
            runtime.spawn(async move { fetch_v2(request, Some(token)).await }),
        ))
    }

    async fn join(mut self) -> Result<types::V2ListResult> {
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
            let result = fetch_v2(st.request.clone(), token.clone()).await;
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
        match Prefetch::spawn(st.request.clone(), next_token.clone()) {
            Some(prefetch) => V2Next::InFlight(next_token, prefetch),
            None => V2Next::Fetch(Some(next_token)),
        }
    } else {
        V2Next::Fetch(Some(next_token))
    };
    Step::Yield(page, st)
}

/// One page: the generated request with the page's token (none for the first
/// page of a listing that did not resume).
async fn fetch_v2(
    request: V2ListRequest<'static>,
    token: Option<String>,
) -> Result<types::V2ListResult> {
    match token {
        Some(token) => request.continuation_token(token).send().await,
        None => request.send().await,
    }
}
