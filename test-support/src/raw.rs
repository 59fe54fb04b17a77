//! An in-process HTTP/1.1 server whose every answer is chosen per request.
//!
//! It is a plain `TcpListener`, so that it can misbehave in ways an HTTP framework
//! would not allow (bodies of gigabytes or no end, answers that trickle in or never
//! come), and count what the client really did: requests, connections, bytes it
//! managed to write.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
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
        /// The status code.
        status: u16,
        /// Headers besides `Connection` and the body's framing.
        headers: Vec<(String, String)>,
        /// The whole body.
        body: Vec<u8>,
        /// Chunked transfer encoding rather than `Content-Length`.
        chunked: bool,
    },
    /// A body of `len` bytes generated on the fly (`prefix`, then `filler`),
    /// written in 64 KiB chunks until done or a write fails; with
    /// `Content-Length` when `declare`, else delimited by closing.
    Huge {
        /// The status code.
        status: u16,
        /// The `Content-Type`.
        content_type: &'static str,
        /// The body's first bytes.
        prefix: &'static [u8],
        /// The byte repeated after `prefix`.
        filler: u8,
        /// The body's length, `prefix` included.
        len: u64,
        /// Whether `Content-Length` announces `len`.
        declare: bool,
    },
    /// A chunked body of `filler` that never ends (until a write fails).
    Endless {
        /// The status code.
        status: u16,
        /// The `Content-Type`.
        content_type: &'static str,
        /// The byte the body repeats.
        filler: u8,
    },
    /// The head at once, then the body (with `Content-Length`) one byte
    /// every `every`.
    Trickle {
        /// The whole body.
        body: Vec<u8>,
        /// The pause before each byte.
        every: Duration,
    },
    /// No answer: the socket is held until the client closes it.
    Hang,
    /// The answer, after a delay.
    Delayed(Duration, Box<Act>),
}

impl Act {
    /// A complete response with `Content-Length`.
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

    /// A complete `application/json` response.
    pub fn json(status: u16, body: &serde_json::Value) -> Act {
        Act::reply(
            status,
            &[("Content-Type", "application/json")],
            body.to_string(),
        )
    }

    /// The same [`Act::Reply`] with a chunked body; other answers unchanged.
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

/// What the server counted, shared with its connection tasks.
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

/// A running server; it serves until the runtime it was started on shuts down.
pub struct Server {
    /// The port it listens on, at 127.0.0.1.
    pub port: u16,
    /// What it counted so far.
    pub stats: Arc<Stats>,
}

type Handler = Arc<dyn Fn(&Seen) -> Act + Send + Sync>;

impl Server {
    /// Listens on 127.0.0.1 at a free port; `handler` picks each answer.
    pub async fn start(handler: impl Fn(&Seen) -> Act + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port on 127.0.0.1");
        let port = listener.local_addr().expect("the bound address").port();
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

    /// Request heads read completely.
    pub fn requests(&self) -> usize {
        self.stats.requests.load(Ordering::SeqCst)
    }

    /// Connections accepted.
    pub fn connections(&self) -> usize {
        self.stats.connections.load(Ordering::SeqCst)
    }

    /// Bytes of answers the client accepted.
    pub fn written(&self) -> u64 {
        self.stats.written.load(Ordering::SeqCst)
    }

    /// The most requests the client ever had in flight at once.
    pub fn max_awaiting(&self) -> usize {
        self.stats.max_awaiting.load(Ordering::SeqCst)
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.stats
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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
        let mut all = stats.seen.lock().unwrap_or_else(PoisonError::into_inner);
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
