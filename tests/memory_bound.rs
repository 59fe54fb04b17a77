//! Client memory stays bounded whatever the server sends: a 2 GiB body (200 or
//! 404), an endless chunked body, a 2 GiB HTML 502. The process's peak RSS is
//! read from `/proc/self/status`, so this file holds one test only and is a test
//! binary of its own, not a module of `tests/it` (other tests in the same process
//! would add their own memory).

use cloudflare_images::{Client, ErrorKind, RetryPolicy};
use test_support::raw::{Act, Server};

const GIB2: u64 = 2 << 30;

#[derive(Clone, Copy)]
enum Flood {
    /// `Content-Length: 2 GiB`, then filler.
    Declared(u16, &'static str),
    /// Chunked, never ending.
    Endless(u16, &'static str),
}

/// Serves `flood` to every connection; the server counts the bytes written.
async fn flood_server(flood: Flood) -> Server {
    Server::start(move |_| match flood {
        Flood::Declared(status, content_type) => Act::Huge {
            status,
            content_type,
            prefix: b"",
            filler: b' ',
            len: GIB2,
            declare: true,
        },
        Flood::Endless(status, content_type) => Act::Endless {
            status,
            content_type,
            filler: b' ',
        },
    })
    .await
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_and_endless_bodies_keep_the_client_under_64_mib() {
    let cases = [
        (
            Flood::Declared(200, "application/json"),
            ErrorKind::BodyTooLarge,
        ),
        (
            Flood::Endless(200, "application/json"),
            ErrorKind::BodyTooLarge,
        ),
        (Flood::Declared(404, "application/json"), ErrorKind::Http),
        (Flood::Endless(502, "text/html"), ErrorKind::Http),
    ];
    for (flood, kind) in cases {
        let server = flood_server(flood).await;
        let client = Client::builder()
            .api_token("t")
            .account_id("023e105f4ecef8ad9ca31a8372d0c353")
            .base_url(server.base_url())
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        let err = client.v1().stats().get().send().await.unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        // Let the server notice the closed connection.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let sent = server.written();
        // At most the 32 MiB cap plus what the sockets buffer.
        assert!(sent < 48 << 20, "the server wrote {sent} bytes");
    }
    let peak = peak_rss_kib();
    eprintln!("client peak RSS: {peak} KiB");
    assert!(peak > 0, "VmHWM is readable");
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
}
