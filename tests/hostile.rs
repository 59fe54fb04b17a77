//! The SDK against a hostile HTTP/1.1 server: redirects that would carry
//! credentials away, bodies too large to hold, answers that never come or
//! trickle in, envelopes that lie about success, `Retry-After` in every form,
//! pagination that makes no progress, and a flood of concurrent requests.
//!
//! The server ([`server`]) is a plain `TcpListener` written here, so that it can
//! misbehave in ways an HTTP framework would not allow, and count what the
//! client really did: requests, connections, bytes it managed to write.

use std::time::{Duration, Instant, SystemTime};

use cloudflare_images::{Client, ClientBuilder, ErrorKind, RetryPolicy, TimeoutLimit};
use futures_util::StreamExt;
use serde_json::{json, Value};

use server::{Act, Server};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
const TOKEN: &str = "hostile-secret-token";
const MIB: u64 = 1024 * 1024;
const TWO_GIB: u64 = 2 * 1024 * MIB;

/// An in-process HTTP/1.1 server whose every answer is chosen per request.
mod server {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// How the server answers one request. Every answer carries
    /// `Connection: close`, and the connection is closed after it.
    #[derive(Clone, Debug)]
    pub enum Act {
        /// A complete response; the body with `Content-Length`, or chunked in
        /// 256-byte chunks.
        Reply {
            status: u16,
            headers: Vec<(String, String)>,
            body: Vec<u8>,
            chunked: bool,
        },
        /// A body of `len` bytes generated on the fly (`prefix`, then `filler`),
        /// written in 64 KiB chunks until done or a write fails; with
        /// `Content-Length` when `declare`, else delimited by closing.
        Huge {
            status: u16,
            content_type: &'static str,
            prefix: &'static [u8],
            filler: u8,
            len: u64,
            declare: bool,
        },
        /// A chunked body of `filler` that never ends (until a write fails).
        Endless {
            status: u16,
            content_type: &'static str,
            filler: u8,
        },
        /// The head at once, then the body (with `Content-Length`) one byte
        /// every `every`.
        Trickle { body: Vec<u8>, every: Duration },
        /// No answer: the socket is held until the client closes it.
        Hang,
        /// The answer, after a delay.
        Delayed(Duration, Box<Act>),
    }

    impl Act {
        pub fn reply(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Act {
            Act::Reply {
                status,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body: body.into(),
                chunked: false,
            }
        }

        pub fn json(status: u16, body: &serde_json::Value) -> Act {
            Act::reply(
                status,
                &[("Content-Type", "application/json")],
                body.to_string(),
            )
        }

        pub fn chunked(self) -> Act {
            match self {
                Act::Reply {
                    status,
                    headers,
                    body,
                    ..
                } => Act::Reply {
                    status,
                    headers,
                    body,
                    chunked: true,
                },
                other => other,
            }
        }
    }

    /// One request as the server saw it.
    #[derive(Clone, Debug)]
    pub struct Seen {
        /// 0-based, in order of arrival.
        pub index: usize,
        /// Request line and headers, as received.
        pub head: String,
        /// When the head was complete.
        pub at: Instant,
        /// The server's own port (for redirects to itself).
        pub port: u16,
    }

    #[derive(Default)]
    pub struct Stats {
        /// Connections accepted.
        pub connections: AtomicUsize,
        /// Request heads read completely.
        pub requests: AtomicUsize,
        /// Bytes the server's writes completed (a failed write counts nothing).
        pub written: AtomicU64,
        /// Every request, in order.
        pub seen: Mutex<Vec<Seen>>,
        /// Connections whose handler still runs.
        pub live: AtomicUsize,
        /// Connections accepted and not yet being answered: counted from accept
        /// until the server starts writing its answer (or closes). The client
        /// cannot have the answer, and so cannot start another request under
        /// its cap, before that point: this is the number of requests the
        /// client has in flight, with no race against the server's close.
        pub awaiting: AtomicUsize,
        /// The most `awaiting` ever was.
        pub max_awaiting: AtomicUsize,
    }

    pub struct Server {
        pub port: u16,
        pub stats: Arc<Stats>,
    }

    type Handler = Arc<dyn Fn(&Seen) -> Act + Send + Sync>;

    impl Server {
        /// Listens on 127.0.0.1 at a free port; `handler` picks each answer.
        pub async fn start(handler: impl Fn(&Seen) -> Act + Send + Sync + 'static) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let stats = Arc::new(Stats::default());
            let handler: Handler = Arc::new(handler);
            let task_stats = Arc::clone(&stats);
            tokio::spawn(async move {
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        continue;
                    };
                    task_stats.connections.fetch_add(1, Ordering::SeqCst);
                    task_stats.live.fetch_add(1, Ordering::SeqCst);
                    let now = task_stats.awaiting.fetch_add(1, Ordering::SeqCst) + 1;
                    task_stats.max_awaiting.fetch_max(now, Ordering::SeqCst);
                    tokio::spawn(handle(
                        socket,
                        port,
                        Arc::clone(&task_stats),
                        Arc::clone(&handler),
                    ));
                }
            });
            Server { port, stats }
        }

        /// `http://127.0.0.1:{port}/client/v4`.
        pub fn base_url(&self) -> String {
            format!("http://127.0.0.1:{}/client/v4", self.port)
        }

        pub fn requests(&self) -> usize {
            self.stats.requests.load(Ordering::SeqCst)
        }

        pub fn connections(&self) -> usize {
            self.stats.connections.load(Ordering::SeqCst)
        }

        pub fn written(&self) -> u64 {
            self.stats.written.load(Ordering::SeqCst)
        }

        pub fn max_awaiting(&self) -> usize {
            self.stats.max_awaiting.load(Ordering::SeqCst)
        }

        pub fn seen(&self) -> Vec<Seen> {
            self.stats.seen.lock().unwrap().clone()
        }

        /// Waits until every connection's handler has finished (the client
        /// closed, or the answer is complete); false if that takes longer than
        /// `within`.
        pub async fn wait_idle(&self, within: Duration) -> bool {
            let until = Instant::now() + within;
            while Instant::now() < until {
                if self.stats.live.load(Ordering::SeqCst) == 0 {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            false
        }
    }

    /// Decrements the gauges of one connection, each once.
    struct Guard {
        stats: Arc<Stats>,
        answering: bool,
    }

    impl Guard {
        fn answering(&mut self) {
            if !self.answering {
                self.answering = true;
                self.stats.awaiting.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            self.answering();
            self.stats.live.fetch_sub(1, Ordering::SeqCst);
        }
    }

    async fn handle(mut socket: TcpStream, port: u16, stats: Arc<Stats>, handler: Handler) {
        let mut guard = Guard {
            stats: Arc::clone(&stats),
            answering: false,
        };
        let Some(head) = read_request(&mut socket).await else {
            return;
        };
        let seen = {
            let mut all = stats.seen.lock().unwrap();
            let seen = Seen {
                index: stats.requests.fetch_add(1, Ordering::SeqCst),
                head,
                at: Instant::now(),
                port,
            };
            all.push(seen.clone());
            seen
        };
        let act = handler(&seen);
        let _ = answer(&mut socket, &stats, &mut guard, act).await;
        let _ = socket.shutdown().await;
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
        head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// Reads a request head and discards its body (`Content-Length`, or chunked
    /// until the last chunk). `None` if the client went away first.
    async fn read_request(socket: &mut TcpStream) -> Option<String> {
        let mut buf = Vec::new();
        let mut tmp = vec![0u8; 64 * 1024];
        let end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 1 << 20 {
                return None;
            }
            let n = socket.read(&mut tmp).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut body = buf.split_off(end);
        if let Some(len) = header(&head, "content-length").and_then(|v| v.parse::<usize>().ok()) {
            while body.len() < len {
                match socket.read(&mut tmp).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => body.extend_from_slice(&tmp[..n]),
                }
            }
        } else if header(&head, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            while !body.ends_with(b"0\r\n\r\n") {
                match socket.read(&mut tmp).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => body.extend_from_slice(&tmp[..n]),
                }
            }
        }
        Some(head)
    }

    async fn write(socket: &mut TcpStream, stats: &Stats, bytes: &[u8]) -> std::io::Result<()> {
        socket.write_all(bytes).await?;
        stats
            .written
            .fetch_add(bytes.len() as u64, Ordering::SeqCst);
        Ok(())
    }

    fn head(status: u16, headers: &[(String, String)]) -> Vec<u8> {
        let mut text = format!("HTTP/1.1 {status} Hostile\r\nConnection: close\r\n");
        for (k, v) in headers {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        text.into_bytes()
    }

    fn chunk(data: &[u8]) -> Vec<u8> {
        let mut out = format!("{:x}\r\n", data.len()).into_bytes();
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
        out
    }

    async fn answer(
        socket: &mut TcpStream,
        stats: &Stats,
        guard: &mut Guard,
        mut act: Act,
    ) -> std::io::Result<()> {
        while let Act::Delayed(wait, then) = act {
            tokio::time::sleep(wait).await;
            act = *then;
        }
        match act {
            Act::Delayed(..) => unreachable!(),
            Act::Reply {
                status,
                mut headers,
                body,
                chunked,
            } => {
                let bytes = if chunked {
                    headers.push(("Transfer-Encoding".into(), "chunked".into()));
                    let mut bytes = head(status, &headers);
                    for piece in body.chunks(256) {
                        bytes.extend(chunk(piece));
                    }
                    bytes.extend_from_slice(b"0\r\n\r\n");
                    bytes
                } else {
                    headers.push(("Content-Length".into(), body.len().to_string()));
                    let mut bytes = head(status, &headers);
                    bytes.extend_from_slice(&body);
                    bytes
                };
                guard.answering();
                write(socket, stats, &bytes).await?;
            }
            Act::Huge {
                status,
                content_type,
                prefix,
                filler,
                len,
                declare,
            } => {
                let mut headers = vec![("Content-Type".to_string(), content_type.to_string())];
                if declare {
                    headers.push(("Content-Length".into(), len.to_string()));
                }
                guard.answering();
                write(socket, stats, &head(status, &headers)).await?;
                write(socket, stats, prefix).await?;
                let block = vec![filler; 64 * 1024];
                let mut left = len.saturating_sub(prefix.len() as u64);
                while left > 0 {
                    let n = left.min(block.len() as u64) as usize;
                    write(socket, stats, &block[..n]).await?;
                    left -= n as u64;
                }
            }
            Act::Endless {
                status,
                content_type,
                filler,
            } => {
                let headers = vec![
                    ("Content-Type".to_string(), content_type.to_string()),
                    ("Transfer-Encoding".to_string(), "chunked".to_string()),
                ];
                guard.answering();
                write(socket, stats, &head(status, &headers)).await?;
                let block = chunk(&vec![filler; 64 * 1024]);
                loop {
                    write(socket, stats, &block).await?;
                }
            }
            Act::Trickle { body, every } => {
                let headers = vec![
                    ("Content-Type".to_string(), "application/json".to_string()),
                    ("Content-Length".to_string(), body.len().to_string()),
                ];
                guard.answering();
                write(socket, stats, &head(200, &headers)).await?;
                for byte in body {
                    tokio::time::sleep(every).await;
                    write(socket, stats, &[byte]).await?;
                }
            }
            Act::Hang => {
                let mut tmp = [0u8; 1024];
                while matches!(socket.read(&mut tmp).await, Ok(n) if n > 0) {}
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

fn builder(server: &Server) -> ClientBuilder {
    Client::builder()
        .api_token(TOKEN)
        .account_id("023e105f4ecef8ad9ca31a8372d0c353")
        .base_url(server.base_url())
}

fn envelope(result: Value) -> Value {
    json!({"success": true, "errors": [], "messages": [], "result": result})
}

fn failure(code: i64) -> Value {
    json!({"success": false, "errors": [{"code": code, "message": "x"}], "messages": [], "result": null})
}

fn stats_result() -> Value {
    json!({"count": {"allowed": 100000, "current": 7}})
}

fn stats_ok() -> Act {
    Act::json(200, &envelope(stats_result()))
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
    let http = reqwest::Client::builder().build().unwrap();
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
    let mut body = envelope(stats_result());
    body["messages"] = json!([{"code": 1, "message": "p".repeat(2000)}]);
    let size = body.to_string().len();
    assert!((2000..3000).contains(&size), "{size}");

    for chunked in [false, true] {
        let reply = Act::json(200, &body);
        let reply = if chunked { reply.chunked() } else { reply };
        let api = Server::start(move |_| reply.clone()).await;

        let small = builder(&api).max_response_bytes(1024).build().unwrap();
        let e = small.v1().stats().get().send().await.unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::BodyTooLarge,
            "chunked {chunked}: {e:?}"
        );
        assert_eq!(api.requests(), 1);

        // The same body under a cap it fits: it was valid all along.
        let fits = builder(&api).max_response_bytes(4096).build().unwrap();
        let stats = fits.v1().stats().get().send().await.unwrap();
        assert!(format!("{stats:?}").contains('7'), "{stats:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Deadlines.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_hits_the_attempt_deadline() {
    let body = envelope(stats_result()).to_string().into_bytes();
    let api = Server::start(move |_| Act::Trickle {
        body: body.clone(),
        every: Duration::from_millis(500),
    })
    .await;
    let client = builder(&api)
        .attempt_timeout(Duration::from_secs(1))
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
        .attempt_timeout(Duration::from_millis(300))
        .timeout(Duration::from_secs(1))
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
        .attempt_timeout(Duration::from_secs(30))
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
                failure(10000).to_string(),
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
    let client = builder(&api).max_connections(8).build().unwrap();
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
    let page = envelope(json!({"images": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}));
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
    let client = builder(&api).max_connections(4).build().unwrap();
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
