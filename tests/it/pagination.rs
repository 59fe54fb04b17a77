//! Pagination streams: exact requests on an in-process mock server that serves
//! pages from a `Vec` and records every query string, plus one end-to-end run
//! against the emulator.

// v1 listing is deprecated by Cloudflare and still tested here, through the tree.
#![allow(deprecated)]
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudflare_images::pagination::{MetadataFilter, PaginationError, V2Images};
use cloudflare_images::types::V2ListSortOrder;
use cloudflare_images::{Client, ErrorKind, RetryPolicy};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use test_support::harness::ok_response;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";
const MIGRATION: &str = "107b9558-dd06-4bbd-5fef-9c2c16bb7900";

/// How the mock answers.
#[derive(Clone, Copy)]
enum Mode {
    /// `page` / `per_page` (v1; default per_page 100).
    V1,
    /// `continuation_token` = `tok-<offset>` / `per_page` (v2; default 1000).
    V2,
    /// Like `V2`, but the page at offset `at` hands out `tok-<to>` instead.
    V2Repeat { at: usize, to: usize },
    /// Like `V2`, but the page at offset `at` fails with a 500 envelope.
    V2FailAt(usize),
    /// `offset` / `limit` (sourcing kit; default limit 25), items under `key`.
    Offset(&'static str),
}

/// Serves pages of `items` and records each request's path and raw query.
struct PageServer {
    items: Vec<Value>,
    mode: Mode,
    log: Arc<Mutex<Vec<(String, String)>>>,
}

fn param(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn num(req: &Request, name: &str, default: usize) -> usize {
    param(req, name).map_or(default, |v| v.parse().expect("numeric parameter"))
}

impl Respond for PageServer {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.log.lock().unwrap().push((
            req.url.path().to_string(),
            req.url.query().unwrap_or("").to_string(),
        ));
        let slice = |from: usize, n: usize| -> Vec<Value> {
            self.items.iter().skip(from).take(n).cloned().collect()
        };
        match self.mode {
            Mode::V1 => {
                let per_page = num(req, "per_page", 100);
                let page = num(req, "page", 1);
                ok_response(json!({ "images": slice((page - 1) * per_page, per_page) }))
            }
            Mode::V2 | Mode::V2Repeat { .. } | Mode::V2FailAt(_) => {
                let per_page = num(req, "per_page", 1000);
                let offset = param(req, "continuation_token")
                    .map_or(0, |t| t.strip_prefix("tok-").unwrap().parse().unwrap());
                if matches!(self.mode, Mode::V2FailAt(at) if at == offset) {
                    return ResponseTemplate::new(500).set_body_json(json!({
                        "success": false, "messages": [], "result": null,
                        "errors": [{"code": 5500, "message": "internal error"}],
                    }));
                }
                let next = offset + per_page;
                let token = match self.mode {
                    Mode::V2Repeat { at, to } if at == offset => json!(format!("tok-{to}")),
                    _ if next < self.items.len() => json!(format!("tok-{next}")),
                    _ => Value::Null,
                };
                ok_response(
                    json!({ "images": slice(offset, per_page), "continuation_token": token }),
                )
            }
            Mode::Offset(key) => {
                let limit = num(req, "limit", 25);
                let offset = num(req, "offset", 0);
                ok_response(json!({ key: slice(offset, limit) }))
            }
        }
    }
}

struct Mock2 {
    server: MockServer,
    client: Client,
    log: Arc<Mutex<Vec<(String, String)>>>,
}

impl Mock2 {
    async fn start(mode: Mode, items: Vec<Value>) -> Mock2 {
        let server = MockServer::start().await;
        let log = Arc::new(Mutex::new(Vec::new()));
        Mock::given(any())
            .respond_with(PageServer {
                items,
                mode,
                log: Arc::clone(&log),
            })
            .mount(&server)
            .await;
        let client = Client::builder()
            .api_token("test-token")
            .account_id(ACCOUNT)
            .base_url(format!("{}/client/v4", server.uri()))
            .retry_policy(
                RetryPolicy::default().initial_backoff(std::time::Duration::from_millis(1)),
            )
            .build()
            .unwrap();
        Mock2 {
            server,
            client,
            log,
        }
    }

    /// The raw query strings received, in order.
    fn queries(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(_, q)| q.clone())
            .collect()
    }

    fn paths(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn count(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Waits (up to 10 s) until at least `n` requests have arrived.
    async fn wait_for(&self, n: usize) {
        for _ in 0..1000 {
            if self.count() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn images(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"id": format!("img-{i:05}"), "filename": format!("{i}.png"), "requireSignedURLs": false}))
        .collect()
}

fn ids(images: &[cloudflare_images::types::Image]) -> Vec<String> {
    images.iter().map(|i| i.id.clone().unwrap()).collect()
}

fn expected_ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("img-{i:05}")).collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// v1.

#[tokio::test]
async fn v1_streams_2500_images_once_in_order() {
    let m = Mock2::start(Mode::V1, images(2500)).await;
    let got: Vec<_> = m
        .client
        .v1()
        .list_all()
        .per_page(1000)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids(&got), expected_ids(0..2500));
    assert_eq!(
        m.queries(),
        strings(&[
            "page=1&per_page=1000",
            "page=2&per_page=1000",
            "page=3&per_page=1000"
        ])
    );
    let path = format!("/client/v4/accounts/{ACCOUNT}/images/v1");
    assert!(m.paths().iter().all(|p| *p == path));
}

#[tokio::test]
async fn v1_pages_resume_and_edge_cases() {
    // An exact multiple ends on the empty page after it.
    let m = Mock2::start(Mode::V1, images(2000)).await;
    let pages: Vec<_> = m
        .client
        .v1()
        .list_all()
        .per_page(1000)
        .creator("u1")
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!((pages[0].page, pages[0].next_page), (1, Some(2)));
    assert_eq!((pages[1].page, pages[1].next_page), (2, Some(3)));
    assert_eq!(
        m.queries(),
        strings(&[
            "creator=u1&page=1&per_page=1000",
            "creator=u1&page=2&per_page=1000",
            "creator=u1&page=3&per_page=1000"
        ])
    );

    // Resume from a saved page number.
    let m = Mock2::start(Mode::V1, images(250)).await;
    let got: Vec<_> = m
        .client
        .v1()
        .list_all()
        .per_page(100)
        .start_page(2)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids(&got), expected_ids(100..250));
    assert_eq!(
        m.queries(),
        strings(&["page=2&per_page=100", "page=3&per_page=100"])
    );

    // A short first page is confirmed by one empty page (the server may cap
    // the page size); the stream still yields every image once.
    let m = Mock2::start(Mode::V1, images(37)).await;
    let got: Vec<_> = m
        .client
        .v1()
        .list_all()
        .per_page(100)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids(&got), expected_ids(0..37));
    assert_eq!(
        m.queries(),
        strings(&["page=1&per_page=100", "page=2&per_page=100"])
    );

    // Without per_page, the server's page size (100 here) is learned from the
    // first page.
    let m = Mock2::start(Mode::V1, images(250)).await;
    let got: Vec<_> = m.client.v1().list_all().try_collect().await.unwrap();
    assert_eq!(ids(&got), expected_ids(0..250));
    assert_eq!(m.queries(), strings(&["page=1", "page=2", "page=3"]));
}

// ---------------------------------------------------------------------------------------------
// v2.

#[tokio::test]
async fn v2_streams_2500_images_once_in_order() {
    let m = Mock2::start(Mode::V2, images(2500)).await;
    let got: Vec<_> = m
        .client
        .v2()
        .list_all()
        .per_page(1000)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids(&got), expected_ids(0..2500));
    assert_eq!(
        m.queries(),
        strings(&[
            "per_page=1000",
            "continuation_token=tok-1000&per_page=1000",
            "continuation_token=tok-2000&per_page=1000"
        ])
    );
    let path = format!("/client/v4/accounts/{ACCOUNT}/images/v2");
    assert!(m.paths().iter().all(|p| *p == path));
}

#[tokio::test]
async fn v2_pages_carry_tokens_and_resume_where_they_left_off() {
    let m = Mock2::start(Mode::V2, images(2500)).await;
    let mut pages = m
        .client
        .v2()
        .list_all()
        .per_page(1000)
        .sort_order(V2ListSortOrder::Asc)
        .creator("u1")
        .pages();
    let first = pages.try_next().await.unwrap().unwrap();
    assert_eq!(ids(&first.images), expected_ids(0..1000));
    assert_eq!(first.token, None);
    assert_eq!(first.number, 0);
    let checkpoint = first.continuation_token.clone().unwrap();
    assert_eq!(checkpoint, "tok-1000");
    drop(pages);
    assert_eq!(m.count(), 1);

    let resumed = m
        .client
        .v2()
        .list_all()
        .per_page(1000)
        .sort_order(V2ListSortOrder::Asc)
        .creator("u1")
        .resume_from(checkpoint)
        .pages();
    let pages: Vec<_> = resumed.try_collect().await.unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].token.as_deref(), Some("tok-1000"));
    assert_eq!(pages[0].continuation_token.as_deref(), Some("tok-2000"));
    assert_eq!(pages[1].continuation_token, None);
    let rest: Vec<_> = pages.into_iter().flatten().collect();
    assert_eq!(ids(&rest), expected_ids(1000..2500));
    assert_eq!(
        m.queries(),
        strings(&[
            "creator=u1&per_page=1000&sort_order=asc",
            "continuation_token=tok-1000&creator=u1&per_page=1000&sort_order=asc",
            "continuation_token=tok-2000&creator=u1&per_page=1000&sort_order=asc"
        ])
    );
}

#[tokio::test]
async fn v2_repeated_token_is_a_typed_error_and_ends_the_stream() {
    // The page at offset 2000 hands out tok-1000 again.
    let m = Mock2::start(Mode::V2Repeat { at: 2000, to: 1000 }, images(3500)).await;
    let mut pages = m.client.v2().list_all().per_page(1000).pages();
    for _ in 0..3 {
        pages.try_next().await.unwrap().unwrap();
    }
    let e = pages.next().await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(!e.is_retryable());
    assert_eq!(
        PaginationError::of(&e),
        Some(&PaginationError::RepeatedToken {
            token: "tok-1000".into(),
            page: 2
        })
    );
    assert!(pages.next().await.is_none());
    assert!(pages.next().await.is_none());
    assert_eq!(m.count(), 3, "{:?}", m.queries());

    // The token a listing resumed from counts as seen.
    let m = Mock2::start(Mode::V2Repeat { at: 1000, to: 1000 }, images(3500)).await;
    let mut items = m
        .client
        .v2()
        .list_all()
        .per_page(1000)
        .resume_from("tok-1000")
        .items();
    for _ in 0..1000 {
        items.try_next().await.unwrap().unwrap();
    }
    let e = items.next().await.unwrap().unwrap_err();
    assert!(PaginationError::of(&e).is_some());
    assert!(items.next().await.is_none());
    assert_eq!(
        m.queries(),
        strings(&["continuation_token=tok-1000&per_page=1000"])
    );
}

#[tokio::test]
async fn a_failed_page_is_yielded_once_and_ends_the_stream() {
    let m = Mock2::start(Mode::V2FailAt(1000), images(2500)).await;
    let mut items = m.client.v2().list_all().per_page(1000).items();
    let mut n = 0;
    let error = loop {
        match items.next().await.unwrap() {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(n, 1000);
    assert_eq!(error.kind(), ErrorKind::Api);
    assert_eq!(error.status(), Some(500));
    assert!(error.has_code(5500));
    assert!(items.next().await.is_none());
    // The failing page is tried three times (the default two retries of a GET).
    assert_eq!(m.count(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_prefetch_yields_the_same_and_stays_one_page_ahead() {
    let plain = Mock2::start(Mode::V2, images(2500)).await;
    let expected: Vec<_> = plain
        .client
        .v2()
        .list_all()
        .per_page(1000)
        .try_collect()
        .await
        .unwrap();

    let m = Mock2::start(Mode::V2, images(2500)).await;
    let settle = || tokio::time::sleep(Duration::from_millis(300));
    let mut items = m
        .client
        .v2()
        .list_all()
        .per_page(1000)
        .prefetch(true)
        .items();
    settle().await;
    assert_eq!(m.count(), 0, "lazy");
    let mut got = Vec::new();
    got.push(items.try_next().await.unwrap().unwrap());
    m.wait_for(2).await;
    settle().await;
    assert_eq!(
        m.count(),
        2,
        "page 1 is prefetched while page 0 is consumed"
    );
    while got.len() < 1000 {
        got.push(items.try_next().await.unwrap().unwrap());
    }
    settle().await;
    assert_eq!(
        m.count(),
        2,
        "no request for page 2 before page 1 is consumed"
    );
    got.push(items.try_next().await.unwrap().unwrap());
    m.wait_for(3).await;
    settle().await;
    assert_eq!(m.count(), 3);
    while let Some(image) = items.try_next().await.unwrap() {
        got.push(image);
    }
    assert_eq!(ids(&got), ids(&expected));
    assert_eq!(m.queries(), plain.queries());
}

#[tokio::test]
async fn prefetch_on_a_current_thread_runtime_gives_the_same_result() {
    let m = Mock2::start(Mode::V2, images(2500)).await;
    let got: Vec<_> = m
        .client
        .v2()
        .list_all()
        .per_page(1000)
        .prefetch(true)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids(&got), expected_ids(0..2500));
    assert_eq!(m.count(), 3);
}

// ---------------------------------------------------------------------------------------------
// Laziness.

#[tokio::test]
async fn creating_streams_sends_nothing() {
    let m = Mock2::start(Mode::V2, images(50)).await;
    let id = uuid::Uuid::parse_str(MIGRATION).unwrap();
    let c = &m.client;
    let v1 = c.v1().list_all().per_page(10);
    let v1_pages = c.v1().list_all().pages();
    let v2 = c.v2().list_all().prefetch(true);
    let v2_pages = c.v2().list_all().per_page(10).prefetch(true).pages();
    let v2_items = c.v2().list_all().items();
    let kits = (
        c.v2().sourcing_kit().migrations().list_all().items(),
        c.v2().sourcing_kit().sources().list_all().pages(),
        c.v2().sourcing_kit().migrations().lifecycle().logs_all(id),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(m.count(), 0);
    assert!(m.server.received_requests().await.unwrap().is_empty());

    // The first poll sends the first request, and only that.
    let mut v2_pages = v2_pages;
    let page = v2_pages.try_next().await.unwrap().unwrap();
    assert_eq!(page.images.len(), 10);
    drop((v1, v1_pages, v2, v2_items, kits));
    m.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // With prefetch the second page is on its way, nothing beyond it.
    assert_eq!(
        m.queries(),
        strings(&["per_page=10", "continuation_token=tok-10&per_page=10"])
    );
}

// ---------------------------------------------------------------------------------------------
// Metadata filters.

#[tokio::test]
async fn metadata_filters_go_on_the_wire_encoded() {
    let m = Mock2::start(Mode::V2, images(25)).await;
    let got: Vec<_> = m
        .client
        .v2()
        .list_all()
        .per_page(10)
        .filter(MetadataFilter::eq("status", "active"))
        .filter(MetadataFilter::eq("priority", 5))
        .filter(MetadataFilter::eq("flags.public", true))
        .filters([
            MetadataFilter::gte("score", 1.5),
            MetadataFilter::in_("region.name", ["eu west", "us"]),
        ])
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got.len(), 25);
    let filters = "meta.status%5Beq%3Astring%5D=active\
        &meta.priority%5Beq%3Anumber%5D=5\
        &meta.flags.public%5Beq%3Aboolean%5D=true\
        &meta.score%5Bgte%3Anumber%5D=1.5\
        &meta.region.name%5Bin%3Astring%5D=eu+west%7Cus";
    assert_eq!(
        m.queries(),
        vec![
            format!("per_page=10&{filters}"),
            format!("continuation_token=tok-10&per_page=10&{filters}"),
            format!("continuation_token=tok-20&per_page=10&{filters}"),
        ]
    );
}

#[tokio::test]
async fn bad_options_fail_before_any_request() {
    let m = Mock2::start(Mode::V2, images(25)).await;
    let c = &m.client;
    let six: Vec<_> = (0..6)
        .map(|i| MetadataFilter::eq(format!("k{i}"), i))
        .collect();
    let cases: Vec<(&str, V2Images)> = vec![
        ("6 filters", c.v2().list_all().filters(six)),
        (
            "6 levels",
            c.v2()
                .list_all()
                .filter(MetadataFilter::eq("a.b.c.d.e.f", "x")),
        ),
        (
            "11 in values",
            c.v2().list_all().filter(MetadataFilter::in_("n", 0..11)),
        ),
        (
            "range with a string",
            c.v2().list_all().filter(MetadataFilter::gt("n", "ten")),
        ),
        ("per_page 9", c.v2().list_all().per_page(9)),
        ("per_page 10001", c.v2().list_all().per_page(10_001)),
        ("empty resume token", c.v2().list_all().resume_from("")),
    ];
    for (name, pager) in cases {
        let mut pages = pager.pages();
        let e = pages.next().await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{name}: {e}");
        assert!(pages.next().await.is_none(), "{name}");
    }
    // The limits themselves are accepted.
    let five: Vec<_> = (0..5)
        .map(|i| MetadataFilter::eq(format!("k{i}"), i))
        .collect();
    assert!(MetadataFilter::eq("a.b.c.d.e", 1).validate().is_ok());
    assert!(MetadataFilter::in_("n", 0..10).validate().is_ok());

    let e = c
        .v1()
        .list_all()
        .per_page(5)
        .next()
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = c
        .v2()
        .sourcing_kit()
        .migrations()
        .list_all()
        .limit(101)
        .next()
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(m.count(), 0);

    let got: Vec<_> = c
        .v2()
        .list_all()
        .per_page(10)
        .filters(five)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got.len(), 25);
}

// ---------------------------------------------------------------------------------------------
// Sourcing kit.

fn entries(n: usize, f: impl Fn(usize) -> Value) -> Vec<Value> {
    (0..n).map(f).collect()
}

#[tokio::test]
async fn sourcing_kit_pagers_walk_offsets() {
    let uuid = |i: usize| format!("00000000-0000-4000-8000-{i:012}");
    let m = Mock2::start(
        Mode::Offset("migrations"),
        entries(250, |i| json!({"id": uuid(i)})),
    )
    .await;
    let got: Vec<_> = m
        .client
        .v2()
        .sourcing_kit()
        .migrations()
        .list_all()
        .limit(100)
        .try_collect()
        .await
        .unwrap();
    let got: Vec<String> = got.iter().map(|x| x.id.unwrap().to_string()).collect();
    assert_eq!(got, (0..250).map(uuid).collect::<Vec<_>>());
    assert_eq!(
        m.queries(),
        strings(&[
            "limit=100&offset=0",
            "limit=100&offset=100",
            "limit=100&offset=200"
        ])
    );
    let path = format!("/client/v4/accounts/{ACCOUNT}/images/v2/sourcingkit/migrations");
    assert!(m.paths().iter().all(|p| *p == path));

    let m = Mock2::start(
        Mode::Offset("sources"),
        entries(60, |i| json!({"name": format!("s{i}")})),
    )
    .await;
    let pages: Vec<_> = m
        .client
        .v2()
        .sourcing_kit()
        .sources()
        .list_all()
        .limit(25)
        .name("s")
        .offset(10)
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        pages
            .iter()
            .map(|p| (p.offset, p.next_offset, p.items.len()))
            .collect::<Vec<_>>(),
        vec![(10, Some(35), 25), (35, Some(60), 25)],
    );
    assert_eq!(pages[1].items[24].name.as_deref(), Some("s59"));
    // The second page was full, so the empty third one ends the listing.
    assert_eq!(
        m.queries(),
        strings(&[
            "limit=25&name=s&offset=10",
            "limit=25&name=s&offset=35",
            "limit=25&name=s&offset=60"
        ])
    );

    let m = Mock2::start(
        Mode::Offset("logs"),
        entries(30, |i| json!({"msg": format!("line {i}")})),
    )
    .await;
    let id = uuid::Uuid::parse_str(MIGRATION).unwrap();
    let got: Vec<_> = m
        .client
        .v2()
        .sourcing_kit()
        .migrations()
        .lifecycle()
        .logs_all(id)
        .limit(20)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got.len(), 30);
    assert_eq!(got[29].msg.as_deref(), Some("line 29"));
    assert_eq!(
        m.queries(),
        strings(&["limit=20&offset=0", "limit=20&offset=20"])
    );
    let path =
        format!("/client/v4/accounts/{ACCOUNT}/images/v2/sourcingkit/migrations/{MIGRATION}/logs");
    assert!(m.paths().iter().all(|p| *p == path));
}

// ---------------------------------------------------------------------------------------------
// End to end.

#[tokio::test]
async fn e2e_emulator_streams_2500_images() {
    let emulator = cloudflare_images_emulator::Emulator::start().await.unwrap();
    let seeded = emulator.seed_images(2500).await;
    assert_eq!(seeded.len(), 2500);
    let client = Client::builder()
        .api_token("local-token")
        .account_id(emulator.account_id())
        .base_url(emulator.base_url())
        .build()
        .unwrap();

    let pages: Vec<_> = client
        .v2()
        .list_all()
        .per_page(1000)
        .prefetch(true)
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        pages.iter().map(|p| p.images.len()).collect::<Vec<_>>(),
        [1000, 1000, 500]
    );
    let ids: Vec<String> = pages.into_iter().flatten().map(|i| i.id.unwrap()).collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (2500, 2500));
    assert_eq!(unique, seeded.iter().collect::<HashSet<_>>());

    // Filters are understood by the emulator's parser.
    let even = client
        .v2()
        .list_all()
        .per_page(1000)
        .filter(MetadataFilter::eq("even", true))
        .filter(MetadataFilter::lt("index", 1000))
        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
        .await
        .unwrap();
    assert_eq!(even, 500);

    let v1 = client
        .v1()
        .list_all()
        .per_page(1000)
        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
        .await
        .unwrap();
    assert_eq!(v1, 2500);
}
