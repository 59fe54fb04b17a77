//! Image bytes as they come back from the blob endpoint.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::time::{Instant, Sleep};

use crate::error::{Error, Result};

/// The original bytes of an image, streamed: nothing is buffered until asked.
///
/// [`bytes`](Self::bytes) holds the whole body in memory and is bound by
/// [`Limits::max_response_bytes`](crate::config::Limits::max_response_bytes)
/// (default 32 MiB; Cloudflare stores no image over 10 MB), or by the bound passed
/// to [`bytes_up_to`](Self::bytes_up_to); [`into_stream`](Self::into_stream) and
/// [`save_to`](Self::save_to) hold one chunk at a time and have no bound.
///
/// The body must arrive before the operation's deadline
/// ([`Timeouts::operation`](crate::config::Timeouts::operation), or the request's
/// `timeout()`); past it the stream ends with an
/// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) error.
pub struct Blob {
    content_type: Option<String>,
    content_length: Option<u64>,
    status: u16,
    max_bytes: u64,
    stream: Deadlined,
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blob")
            .field("content_type", &self.content_type)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

impl Blob {
    /// `max_bytes` bounds [`bytes`](Self::bytes): the client's
    /// `max_response_bytes`.
    pub(crate) fn from_response(
        response: reqwest::Response,
        deadline: Instant,
        max_bytes: u64,
    ) -> Self {
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let content_length = header(reqwest::header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
        let limit = deadline.saturating_duration_since(Instant::now());
        Blob {
            content_type,
            content_length,
            status: response.status().as_u16(),
            max_bytes,
            stream: Deadlined {
                inner: response.bytes_stream().boxed(),
                deadline: Box::pin(tokio::time::sleep_until(deadline)),
                limit,
                done: false,
            },
        }
    }

    /// The `Content-Type` the server sent (e.g. `image/png`).
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The `Content-Length` the server sent, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The body as a stream of chunks.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes>> + Send {
        self.stream
    }

    /// Reads the whole body into memory, up to the client's
    /// [`Limits::max_response_bytes`](crate::config::Limits::max_response_bytes); a larger
    /// body fails with [`ErrorKind::BodyTooLarge`](crate::ErrorKind::BodyTooLarge)
    /// and is not read on. For larger bodies, stream them
    /// ([`into_stream`](Self::into_stream), [`save_to`](Self::save_to)) or choose
    /// the bound with [`bytes_up_to`](Self::bytes_up_to).
    pub async fn bytes(self) -> Result<Bytes> {
        let max = self.max_bytes;
        self.bytes_up_to(max).await
    }

    /// Reads the whole body into memory if it is at most `max_bytes` long;
    /// otherwise fails with [`ErrorKind::BodyTooLarge`](crate::ErrorKind::BodyTooLarge)
    /// as soon as the `Content-Length` or the bytes received exceed it, so at most
    /// `max_bytes` and one chunk are ever held.
    pub async fn bytes_up_to(self, max_bytes: u64) -> Result<Bytes> {
        if self.content_length.is_some_and(|len| len > max_bytes) {
            return Err(Error::body_too_large(max_bytes, self.status));
        }
        let mut stream = self.stream;
        // The declared length is only a hint (it may lie): the reservation is
        // bounded, and the buffer grows with what really arrives.
        let reserve = self
            .content_length
            .unwrap_or(0)
            .min(max_bytes)
            .min(16 << 20);
        let mut buf = bytes::BytesMut::with_capacity(usize::try_from(reserve).unwrap_or(0));
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if (buf.len() as u64).saturating_add(chunk.len() as u64) > max_bytes {
                return Err(Error::body_too_large(max_bytes, self.status));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    /// Streams the body into the file at `path` and returns the number of bytes
    /// written.
    ///
    /// The bytes go to a temporary file in the same directory, which is renamed
    /// to `path` (replacing any file there) only once the whole body has arrived,
    /// matched the `Content-Length` and been flushed to disk. A download that
    /// fails, or a future dropped midway, leaves neither `path` changed nor a
    /// temporary file behind.
    pub async fn save_to(self, path: impl AsRef<Path>) -> Result<u64> {
        let path = path.as_ref();
        let shown = path.display();
        let name = path
            .file_name()
            .ok_or_else(|| Error::invalid_input(format!("{shown} does not name a file")))?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let (file, temp) = create_temp(&dir, &name.to_string_lossy()).await?;
        // Removes the temporary file on every early return, error or drop.
        let mut guard = TempGuard(Some(temp));
        let mut file = tokio::io::BufWriter::with_capacity(64 * 1024, file);
        let mut stream = self.stream;
        let mut written: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::io(format!("could not write next to {shown}"), e))?;
            written += chunk.len() as u64;
        }
        if let Some(expected) = self.content_length {
            if written != expected {
                return Err(Error::transport_message(format!(
                    "the download ended after {written} of {expected} bytes; {shown} was not written"
                )));
            }
        }
        file.flush()
            .await
            .map_err(|e| Error::io(format!("could not write next to {shown}"), e))?;
        let file = file.into_inner();
        file.sync_all()
            .await
            .map_err(|e| Error::io(format!("could not write next to {shown}"), e))?;
        drop(file);
        let temp = guard.0.as_deref().unwrap_or(path);
        tokio::fs::rename(temp, path)
            .await
            .map_err(|e| Error::io(format!("could not move the download to {shown}"), e))?;
        guard.0 = None;
        Ok(written)
    }
}

/// A body stream that ends with a timeout error at the operation's deadline.
struct Deadlined {
    inner: BoxStream<'static, reqwest::Result<Bytes>>,
    deadline: Pin<Box<Sleep>>,
    limit: std::time::Duration,
    done: bool,
}

impl Stream for Deadlined {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = self.inner.poll_next_unpin(cx) {
            self.done = !matches!(item, Some(Ok(_)));
            return Poll::Ready(item.map(|r| r.map_err(Error::transport)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.done = true;
            let limit = crate::error::TimeoutLimit::Operation(self.limit);
            return Poll::Ready(Some(Err(Error::timeout(
                format!("the blob did not arrive within the {limit}"),
                limit,
            ))));
        }
        Poll::Pending
    }
}

/// Creates a new, unique temporary file in `dir` for a download to `name`.
async fn create_temp(dir: &Path, name: &str) -> Result<(tokio::fs::File, PathBuf)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last_error = None;
    for _ in 0..16 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let unique = format!(
            ".{name}.{}-{}-{nanos:08x}.part",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let temp = dir.join(unique);
        match tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .await
        {
            Ok(file) => return Ok((file, temp)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => {
                return Err(Error::io(
                    format!("could not create a temporary file in {}", dir.display()),
                    e,
                ))
            }
        }
    }
    Err(Error::io(
        format!("could not create a temporary file in {}", dir.display()),
        last_error.unwrap_or_else(|| std::io::Error::other("no unique name found")),
    ))
}

/// Deletes the temporary file it holds when dropped, unless disarmed.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(temp) = self.0.take() {
            // Best effort: the file handle is already closed or closing.
            let _ = std::fs::remove_file(temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    use crate::config::{Limits, RetryPolicy};
    use crate::{Client, ErrorKind};

    const MIB: u64 = 1024 * 1024;

    /// Serves one blob request with `head` as the response head, then up to
    /// `total` bytes of body in chunked encoding; returns how many body bytes the
    /// socket accepted before the client went away.
    async fn serve(listener: TcpListener, head: &'static str, total: u64) -> u64 {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before sending a request");
            request.extend_from_slice(&buf[..n]);
        }
        if socket.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let chunk = vec![0x5a_u8; 64 * 1024];
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(&chunk);
        framed.extend_from_slice(b"\r\n");
        let mut written = 0;
        while written < total {
            if socket.write_all(&framed).await.is_err() {
                break;
            }
            written += chunk.len() as u64;
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
        written
    }

    async fn client_for(listener: &TcpListener, max_bytes: u64) -> Client {
        let port = listener.local_addr().unwrap().port();
        Client::builder()
            .api_token("t")
            .account_id("023e105f4ecef8ad9ca31a8372d0c353")
            .base_url(format!("http://127.0.0.1:{port}/client/v4"))
            .limits(Limits::default().max_response_bytes(max_bytes))
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap()
    }

    /// A body without a length that goes on far past the bound: `bytes()` fails
    /// with BodyTooLarge once the bound is passed and stops reading, so the server
    /// gets to send only the bound plus what the sockets' buffers hold, not the
    /// 512 MiB it offers.
    #[tokio::test]
    async fn bytes_stops_at_the_bound_of_an_endless_body() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = client_for(&listener, MIB).await;
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ntransfer-encoding: chunked\r\n\r\n";
        let server = tokio::spawn(serve(listener, head, 512 * MIB));
        let blob = client.v1().blobs().get("big").send().await.unwrap();
        let err = blob.bytes().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BodyTooLarge, "{err}");
        assert_eq!(err.status(), Some(200));
        assert!(err.to_string().contains(&MIB.to_string()), "{err}");
        drop(client);
        let written = server.await.unwrap();
        // Loopback socket buffers grow to a few MiB each way; anything near the
        // 512 MiB offered would mean the body was read on.
        assert!(written < 24 * MIB, "the server sent {written} bytes");
    }

    /// A declared length over the bound fails before any body byte is read; under
    /// a larger bound given to `bytes_up_to`, the same size is read whole.
    #[tokio::test]
    async fn a_declared_length_over_the_bound_fails_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = client_for(&listener, MIB).await;
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: 104857600\r\n\r\n";
        let server = tokio::spawn(serve(listener, head, 0));
        let blob = client.v1().blobs().get("big").send().await.unwrap();
        assert_eq!(blob.content_length(), Some(100 * MIB));
        let err = blob.bytes().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BodyTooLarge, "{err}");
        server.await.unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = client_for(&listener, MIB).await;
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ntransfer-encoding: chunked\r\n\r\n";
        let server = tokio::spawn(serve(listener, head, 2 * MIB));
        let blob = client.v1().blobs().get("fits").send().await.unwrap();
        let bytes = blob.bytes_up_to(3 * MIB).await.unwrap();
        assert_eq!(bytes.len() as u64, 2 * MIB);
        assert_eq!(server.await.unwrap(), 2 * MIB);
    }
}
