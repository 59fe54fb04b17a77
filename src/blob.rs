//! Image bytes as they come back from the blob endpoint.

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use progenitor_client::{ByteStream, ResponseValue};

use crate::error::{Error, Result};

/// The original bytes of an image, streamed: nothing is buffered until asked.
pub struct Blob {
    content_type: Option<String>,
    content_length: Option<u64>,
    stream: ByteStream,
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
    pub(crate) fn from_response(response: ResponseValue<ByteStream>) -> Self {
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let content_length = header(reqwest::header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
        Blob {
            content_type,
            content_length,
            stream: response.into_inner(),
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
        self.stream.into_inner().map_err(Error::transport)
    }

    /// Reads the whole body into memory.
    pub async fn bytes(self) -> Result<Bytes> {
        let mut stream = self.stream.into_inner();
        let mut buf =
            bytes::BytesMut::with_capacity(self.content_length.unwrap_or(0).min(16 << 20) as usize);
        while let Some(chunk) = stream.next().await {
            buf.extend_from_slice(&chunk.map_err(Error::transport)?);
        }
        Ok(buf.freeze())
    }
}
