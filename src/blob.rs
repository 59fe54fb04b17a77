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
/// The body must arrive before the operation's deadline
/// ([`ClientBuilder::timeout`](crate::ClientBuilder::timeout), or the request's
/// `timeout()`); past it the stream ends with an
/// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) error.
pub struct Blob {
    content_type: Option<String>,
    content_length: Option<u64>,
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
    pub(crate) fn from_response(response: reqwest::Response, deadline: Instant) -> Self {
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

    /// Reads the whole body into memory.
    pub async fn bytes(self) -> Result<Bytes> {
        let mut stream = self.stream;
        let mut buf =
            bytes::BytesMut::with_capacity(self.content_length.unwrap_or(0).min(16 << 20) as usize);
        while let Some(chunk) = stream.next().await {
            buf.extend_from_slice(&chunk?);
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
