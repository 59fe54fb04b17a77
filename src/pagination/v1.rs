//! The v1 listing: `page` / `per_page`, ended by a short page.

use super::*;

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
    pub(crate) fn new(client: &Client) -> Self {
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
