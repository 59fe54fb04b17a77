//! The sourcing-kit listings: `offset` / `limit`.

use super::*;

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
    pub(crate) fn new(client: &Client) -> Self {
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
    pub(crate) fn new(client: &Client) -> Self {
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
    pub(crate) fn new(client: &Client, migration_id: uuid::Uuid) -> Self {
        MigrationLogs {
            client: client.clone(),
            offset: 0,
            limit: None,
            migration_id,
            started: None,
        }
    }
}
