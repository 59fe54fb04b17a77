//! Client memory stays bounded whatever the server sends: a 2 GiB body (200 or
//! 404), an endless chunked body, a 2 GiB HTML 502. The process's peak RSS is
//! read from `/proc/self/status`, so this file holds one test only (other tests
//! in the same process would add their own memory).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cloudflare_images::{Client, ErrorKind, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const GIB2: u64 = 2 << 30;

#[derive(Clone, Copy)]
enum Flood {
    /// `Content-Length: 2 GiB`, then filler.
    Declared(u16, &'static str),
    /// Chunked, never ending.
    Endless(u16, &'static str),
}

/// Serves `flood` to every connection; returns the base URL and the bytes written.
async fn flood_server(flood: Flood) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let written = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&written);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let (status, content_type, chunked) = match flood {
                    Flood::Declared(s, ct) => (s, ct, false),
                    Flood::Endless(s, ct) => (s, ct, true),
                };
                let framing = if chunked {
                    "transfer-encoding: chunked".to_string()
                } else {
                    format!("content-length: {GIB2}")
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\n{framing}\r\nconnection: close\r\n\r\n"
                );
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let filler = vec![b' '; 64 * 1024];
                let chunk = [
                    format!("{:x}\r\n", filler.len()).into_bytes(),
                    filler.clone(),
                    b"\r\n".to_vec(),
                ]
                .concat();
                let piece = if chunked { &chunk } else { &filler };
                let mut sent = 0u64;
                while sent < GIB2 {
                    if socket.write_all(piece).await.is_err() {
                        return;
                    }
                    sent += piece.len() as u64;
                    counter.fetch_add(piece.len() as u64, Ordering::Relaxed);
                }
            });
        }
    });
    (format!("http://127.0.0.1:{port}/client/v4"), written)
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
        let (base_url, written) = flood_server(flood).await;
        let client = Client::builder()
            .api_token("t")
            .account_id("023e105f4ecef8ad9ca31a8372d0c353")
            .base_url(base_url)
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        let err = client.v1().stats().get().send().await.unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        // Let the server notice the closed connection.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let sent = written.load(Ordering::Relaxed);
        // At most the 32 MiB cap plus what the sockets buffer.
        assert!(sent < 48 << 20, "the server wrote {sent} bytes");
    }
    let peak = peak_rss_kib();
    eprintln!("client peak RSS: {peak} KiB");
    assert!(peak > 0, "VmHWM is readable");
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
}
