//! The SDK against a hostile HTTP/1.1 server: redirects that would carry
//! credentials away, bodies too large to hold, answers that never come or
//! trickle in, envelopes that lie about success, `Retry-After` in every form,
//! pagination that makes no progress, and a flood of concurrent requests.
//!
//! The server (`test_support::raw`) is a plain `TcpListener`, so that it can
//! misbehave in ways an HTTP framework would not allow, and count what the
//! client really did: requests, connections, bytes it managed to write.

use std::time::{Duration, Instant, SystemTime};

use cloudflare_images::config::{Limits, Timeouts};
use cloudflare_images::{Client, ClientBuilder, ErrorKind, RetryPolicy, TimeoutLimit};
use futures_util::StreamExt;
use serde_json::{json, Value};

use test_support::envelope::{failure, ok};
use test_support::raw::{Act, Server};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
const TOKEN: &str = "hostile-secret-token";
const MIB: u64 = 1024 * 1024;
const TWO_GIB: u64 = 2 * 1024 * MIB;

// ---------------------------------------------------------------------------------------------
// Helpers.

fn builder(server: &Server) -> ClientBuilder {
    Client::builder()
        .api_token(TOKEN)
        .account_id("023e105f4ecef8ad9ca31a8372d0c353")
        .base_url(server.base_url())
}

fn stats_result() -> Value {
    json!({"count": {"allowed": 100000, "current": 7}})
}

fn stats_ok() -> Act {
    Act::json(200, &ok(stats_result()))
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy::default().initial_backoff(Duration::from_millis(10))
}

fn assert_no_referer(server: &Server) {
    for seen in server.seen() {
        assert!(
            !seen.head.to_ascii_lowercase().contains("\r\nreferer:"),
            "a Referer was sent: {}",
            seen.head
        );
    }
}

/// Waits for the server to finish every connection (the client closed it) and
/// checks how much the server managed to write before that.
async fn assert_stopped_writing(server: &Server, limit: u64) {
    assert!(
        server.wait_idle(Duration::from_secs(5)).await,
        "the client kept the connection open and reading ({} bytes so far)",
        server.written()
    );
    let written = server.written();
    eprintln!("server wrote {written} bytes (limit {limit})");
    assert!(written < limit, "the server wrote {written} bytes");
}

// ---------------------------------------------------------------------------------------------
// 1, 2. Redirects.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_errors_naming_the_host_and_are_never_followed() {
    let elsewhere = Server::start(|_| stats_ok()).await;
    let target = format!("http://127.0.0.1:{}/x", elsewhere.port);
    for code in [301u16, 302, 307, 308] {
        let location = target.clone();
        let api =
            Server::start(move |_| Act::reply(code, &[("Location", location.as_str())], "")).await;
        let client = builder(&api).build().unwrap();

        let e = client.v1().stats().get().send().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Redirect, "{code}: {e:?}");
        assert_eq!(e.status(), Some(code), "{e:?}");
        assert_eq!(e.redirect_host(), Some("127.0.0.1"), "{e:?}");
        assert_eq!(api.requests(), 1, "{code}: a redirect is not retried");

        let e = client
            .v1()
            .create()
            .file(PNG, "a.png")
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Redirect, "{code} upload: {e:?}");
        assert_eq!(e.status(), Some(code), "{e:?}");
        assert_eq!(e.redirect_host(), Some("127.0.0.1"), "{e:?}");
        assert_eq!(api.requests(), 2, "{code}: the upload was sent once");
        assert_no_referer(&api);
    }
    assert_eq!(elsewhere.connections(), 0, "a redirect was followed");

    // The host comes from the Location, not from the request.
    let api =
        Server::start(|_| Act::reply(302, &[("Location", "http://evil.invalid:1/x")], "")).await;
    let e = builder(&api)
        .build()
        .unwrap()
        .v1()
        .stats()
        .get()
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Redirect, "{e:?}");
    assert_eq!(e.redirect_host(), Some("evil.invalid"), "{e:?}");
    assert_eq!(api.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_loop_is_one_request() {
    let api = Server::start(|seen| {
        let me = format!(
            "http://127.0.0.1:{}/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1/stats",
            seen.port
        );
        Act::reply(302, &[("Location", me.as_str())], "")
    })
    .await;
    let client = builder(&api).retry_policy(fast_retries()).build().unwrap();
    let started = Instant::now();
    let e = client.v1().stats().get().send().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Redirect, "{e:?}");
    assert_eq!(e.status(), Some(302));
    assert_eq!(e.redirect_host(), Some("127.0.0.1"));
    assert_eq!(api.requests(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_no_referer(&api);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_own_http_client_that_follows_redirects_never_yields_the_other_hosts_answer() {
    // The other host answers exactly what the API would: only the SDK's own
    // check can turn it into an error.
    let elsewhere = Server::start(|_| stats_ok()).await;
    let target = format!("http://127.0.0.1:{}/x", elsewhere.port);
    let api = Server::start(move |_| Act::reply(302, &[("Location", target.as_str())], "")).await;
    let http = cloudflare_images::http_client_builder()
        .unwrap()
        .build()
        .unwrap();
    let client = builder(&api).http_client(http.clone()).build().unwrap();

    let result = client.v1().stats().get().send().await;
    let e = match result {
        Ok(stats) => panic!("the other host's answer was returned: {stats:?}"),
        Err(e) => e,
    };
    assert_eq!(e.kind(), ErrorKind::Redirect, "{e:?}");
    assert_eq!(e.redirect_host(), Some("127.0.0.1"), "{e:?}");
    // The 3xx was consumed by that client; the other host's status is not the API's.
    assert_eq!(e.status(), None, "{e:?}");
    assert_eq!(api.requests(), 1);
    assert!(
        api.seen()[0].head.contains(TOKEN),
        "the API itself got the token"
    );
    // reqwest's default policy followed the redirect: the request below is
    // what a caller's own client sends to the other host.
    assert_eq!(elsewhere.requests(), 1, "the own client did not follow");
    // Not asserted: that client also sends `Referer: <the API URL>` (account id
    // included) to the other host; reqwest's `referer(true)` default is the
    // caller's to turn off (documented on `ClientBuilder::http_client`).
    for seen in elsewhere.seen() {
        let head = seen.head.to_ascii_lowercase();
        assert!(!head.contains("\r\nauthorization:"), "{}", seen.head);
        assert!(!seen.head.contains(TOKEN), "{}", seen.head);
    }

    // X-Auth-* would follow a redirect: refused with an own client.
    let e = Client::builder()
        .global_key("me@example.com", "global-key")
        .account_id("023e105f4ecef8ad9ca31a8372d0c353")
        .base_url(api.base_url())
        .http_client(http)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e:?}");
}

// ---------------------------------------------------------------------------------------------
// 3. Memory bounds.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_2_gib_success_body_is_refused_unread() {
    let api = Server::start(|_| Act::Huge {
        status: 200,
        content_type: "application/json",
        prefix: b"",
        filler: b' ',
        len: TWO_GIB,
        declare: true,
    })
    .await;
    let client = builder(&api).build().unwrap();
    let started = Instant::now();
    let e = client.v1().stats().get().send().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BodyTooLarge, "{e:?}");
    assert_eq!(e.status(), Some(200));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(api.requests(), 1, "a body too large is not retried");
    assert_stopped_writing(&api, 16 * MIB).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_chunked_success_body_stops_at_the_cap() {
    let api = Server::start(|_| Act::Endless {
        status: 200,
        content_type: "application/json",
        filler: b'[',
    })
    .await;
    let client = builder(&api).build().unwrap();
    let started = Instant::now();
    let e = client.v1().stats().get().send().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BodyTooLarge, "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(api.requests(), 1);
    assert_stopped_writing(&api, 48 * MIB).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_error_bodies_are_read_only_as_far_as_the_error_needs() {
    // A 404 whose 2 GiB body starts like an envelope, with Content-Length.
    let api = Server::start(|_| Act::Huge {
        status: 404,
        content_type: "application/json",
        prefix: br#"{"success":false,"errors":["#,
        filler: b'[',
        len: TWO_GIB,
        declare: true,
    })
    .await;
    let client = builder(&api)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let e = client.v1().get("img").send().await.unwrap_err();
    assert_eq!(e.status(), Some(404), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::Http, "{e:?}");
    let snippet = e.body_snippet().expect("a snippet");
    assert!(snippet.starts_with(r#"{"success":false"#), "{snippet}");
    assert!(snippet.chars().count() <= 513, "{}", snippet.len());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(api.requests(), 1);
    assert_stopped_writing(&api, 16 * MIB).await;

    // A 502 HTML page of 2 GiB, delimited by closing (no Content-Length).
    let api = Server::start(|_| Act::Huge {
        status: 502,
        content_type: "text/html",
        prefix: b"<html><body>Bad gateway",
        filler: b' ',
        len: TWO_GIB,
        declare: false,
    })
    .await;
    let client = builder(&api)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let e = client.v1().stats().get().send().await.unwrap_err();
    assert_eq!(e.status(), Some(502), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::Http, "{e:?}");
    let snippet = e.body_snippet().expect("a snippet of the HTML");
    assert!(snippet.starts_with("<html><body>Bad gateway"), "{snippet}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(api.requests(), 1);
    assert_stopped_writing(&api, 16 * MIB).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_max_response_bytes_refuses_a_valid_larger_body() {
    // A valid 2 KiB stats envelope (padding in `messages`).
    let mut body = ok(stats_result());
    body["messages"] = json!([{"code": 1, "message": "p".repeat(2000)}]);
    let size = body.to_string().len();
    assert!((2000..3000).contains(&size), "{size}");

    for chunked in [false, true] {
        let reply = Act::json(200, &body);
        let reply = if chunked { reply.chunked() } else { reply };
        let api = Server::start(move |_| reply.clone()).await;

        let small = builder(&api)
            .limits(Limits::default().max_response_bytes(1024))
            .build()
            .unwrap();
        let e = small.v1().stats().get().send().await.unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::BodyTooLarge,
            "chunked {chunked}: {e:?}"
        );
        assert_eq!(api.requests(), 1);

        // The same body under a cap it fits: it was valid all along.
        let fits = builder(&api)
            .limits(Limits::default().max_response_bytes(4096))
            .build()
            .unwrap();
        let stats = fits.v1().stats().get().send().await.unwrap();
        assert!(format!("{stats:?}").contains('7'), "{stats:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Deadlines.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_hits_the_attempt_deadline() {
    let body = ok(stats_result()).to_string().into_bytes();
    let api = Server::start(move |_| Act::Trickle {
        body: body.clone(),
        every: Duration::from_millis(500),
    })
    .await;
    let client = builder(&api)
        .timeouts(Timeouts::default().attempt(Duration::from_secs(1)))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let e = client.v1().stats().get().send().await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert_eq!(
        e.timeout_limit(),
        Some(TimeoutLimit::Attempt(Duration::from_secs(1)))
    );
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(api.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_bounded_by_the_deadlines() {
    let api = Server::start(|_| Act::Hang).await;
    let client = builder(&api)
        .timeouts(
            Timeouts::default()
                .attempt(Duration::from_millis(300))
                .operation(Duration::from_secs(1)),
        )
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let started = Instant::now();
    let e = client.v1().stats().get().send().await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert!(
        matches!(
            e.timeout_limit(),
            Some(TimeoutLimit::Attempt(d)) if d == Duration::from_millis(300)
        ) || matches!(
            e.timeout_limit(),
            Some(TimeoutLimit::Operation(d)) if d == Duration::from_secs(1)
        ),
        "{e:?}"
    );
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let requests = api.requests();
    assert!((1..=3).contains(&requests), "{requests} requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_request_deadlines_override_the_clients() {
    let api = Server::start(|_| Act::Hang).await;
    let client = builder(&api)
        .timeouts(Timeouts::default().attempt(Duration::from_secs(30)))
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let started = Instant::now();
    let e = client
        .v1()
        .stats()
        .get()
        .attempt_timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert_eq!(
        e.timeout_limit(),
        Some(TimeoutLimit::Attempt(Duration::from_millis(300)))
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    // A GET is repeated after a timeout: every attempt used the override.
    assert_eq!(api.requests(), 3);

    // The operation deadline, per request.
    let api = Server::start(|_| Act::Hang).await;
    let client = builder(&api).build().unwrap();
    let started = Instant::now();
    let e = client
        .v1()
        .stats()
        .get()
        .timeout(Duration::from_millis(500))
        .send()
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(
        e.timeout_limit(),
        Some(TimeoutLimit::Operation(Duration::from_millis(500))),
        "{e:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(api.requests(), 1);
}

// ---------------------------------------------------------------------------------------------
// 5, 11. Envelopes.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_false_is_an_api_error_even_with_200() {
    for result in [stats_result(), Value::Null] {
        let body = json!({
            "success": false,
            "errors": [{"code": 7003, "message": "no"}],
            "messages": [],
            "result": result,
        });
        let api = Server::start(move |_| Act::json(200, &body)).await;
        let client = builder(&api).build().unwrap();
        let e = client.v1().stats().get().send().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Api, "{e:?}");
        assert_eq!(e.status(), Some(200));
        assert_eq!(e.code_numbers().collect::<Vec<_>>(), [7003]);
        assert_eq!(api.requests(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_codes_beyond_u32_are_kept() {
    let api = Server::start(|_| {
        Act::reply(
            400,
            &[("Content-Type", "application/json")],
            r#"{"success":false,"errors":[{"code":8000000000,"message":"x"}]}"#,
        )
    })
    .await;
    let client = builder(&api).build().unwrap();
    let e = client.v1().stats().get().send().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api, "{e:?}");
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.code_numbers().collect::<Vec<_>>(), [8_000_000_000i64]);
    assert_eq!(api.requests(), 1);
}

// ---------------------------------------------------------------------------------------------
// 6, 7. Retry-After and the client-wide pause.

/// First request 429 with `Retry-After: <value()>`, then 200.
async fn retry_after_server(value: fn() -> String) -> Server {
    Server::start(move |seen| {
        if seen.index == 0 {
            let value = value();
            Act::reply(
                429,
                &[
                    ("Retry-After", value.as_str()),
                    ("Content-Type", "application/json"),
                ],
                failure(10000, "x").to_string(),
            )
        } else {
            stats_ok()
        }
    })
    .await
}

fn gap(server: &Server) -> Duration {
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    seen[1].at.duration_since(seen[0].at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_as_an_http_date_is_waited_for() {
    // Whole seconds: now + 2 s is between 1 and 2 s away.
    let api =
        retry_after_server(|| httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2)))
            .await;
    // A backoff of 10 ms: only the date can explain a long wait.
    let client = builder(&api).retry_policy(fast_retries()).build().unwrap();
    let started = Instant::now();
    client.v1().stats().get().send().await.unwrap();
    assert_eq!(api.requests(), 2);
    let waited = gap(&api);
    assert!(waited >= Duration::from_millis(800), "{waited:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_with_a_fraction_is_waited_for() {
    let api = retry_after_server(|| "1.5".to_string()).await;
    let client = builder(&api).retry_policy(fast_retries()).build().unwrap();
    let started = Instant::now();
    client.v1().stats().get().send().await.unwrap();
    assert_eq!(api.requests(), 2);
    let waited = gap(&api);
    assert!(waited >= Duration::from_millis(1400), "{waited:?}");
    assert!(started.elapsed() < Duration::from_secs(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_pauses_every_request_of_the_client() {
    let api = retry_after_server(|| "1".to_string()).await;
    let client = builder(&api)
        .limits(Limits::default().max_connections(8))
        .build()
        .unwrap();
    let started = Instant::now();
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.v1().stats().get().send().await }
    });
    while api.requests() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no first request"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let others: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.v1().stats().get().send().await })
        })
        .collect();
    first.await.unwrap().unwrap();
    for other in others {
        other.await.unwrap().unwrap();
    }
    let seen = api.seen();
    assert_eq!(seen.len(), 6, "the 429, its retry and four others");
    let paused_at = seen[0].at;
    for later in &seen[1..] {
        let after = later.at.duration_since(paused_at);
        assert!(
            after >= Duration::from_millis(800),
            "request {} arrived {after:?} after the 429",
            later.index
        );
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

// ---------------------------------------------------------------------------------------------
// 8. Pagination without progress.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_listing_that_repeats_its_page_ends_with_a_protocol_error() {
    let page = ok(json!({"images": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}));
    let api = Server::start(move |_| Act::json(200, &page)).await;
    let client = builder(&api).build().unwrap();
    #[allow(deprecated)]
    let items: Vec<_> = client.v1().list_all().items().take(50).collect().await;
    assert!(
        items.len() <= 4,
        "{} items: the listing loops ({} requests)",
        items.len(),
        api.requests()
    );
    let (last, firsts) = items.split_last().expect("something");
    assert!(firsts.iter().all(Result::is_ok), "{items:?}");
    let e = last.as_ref().expect_err("ends with an error");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e:?}");
    assert!(api.requests() <= 3, "{} requests", api.requests());
}

// ---------------------------------------------------------------------------------------------
// 9. Input that cannot be sent.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nan_metadata_is_refused_before_sending() {
    #[derive(serde::Serialize)]
    struct Meta {
        name: &'static str,
        score: f64,
    }
    let api = Server::start(|_| stats_ok()).await;
    let client = builder(&api).build().unwrap();
    let e = client
        .v1()
        .create()
        .file(PNG, "a.png")
        .metadata(Meta {
            name: "x",
            score: f64::NAN,
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    assert_eq!(api.requests(), 0);
    assert_eq!(api.connections(), 0);
}

// ---------------------------------------------------------------------------------------------
// 10. The connection cap.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_caps_requests_in_flight() {
    let api =
        Server::start(|_| Act::Delayed(Duration::from_millis(50), Box::new(stats_ok()))).await;
    let client = builder(&api)
        .limits(Limits::default().max_connections(4))
        .build()
        .unwrap();
    let started = Instant::now();
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.v1().stats().get().send().await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(api.requests(), 40);
    let max = api.max_awaiting();
    assert!(max <= 4, "{max} requests in flight at once");
    assert!(
        max >= 2,
        "{max}: the requests did not overlap, the test proves nothing"
    );
    // 40 requests, 4 at a time, 50 ms each: ~0.5 s.
    assert!(started.elapsed() < Duration::from_secs(10));
}
