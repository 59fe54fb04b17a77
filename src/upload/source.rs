//! Where an upload's bytes come from (memory, a file, a reader), checked and streamed with progress.

use super::*;
use crate::error::ImageLimit;

/// A file's bytes: in memory, on disk, or behind a reader.
#[derive(Clone)]
pub(crate) enum FileSource {
    Bytes {
        data: Bytes,
        filename: String,
    },
    Path {
        path: PathBuf,
    },
    /// Shared so the upload stays `Clone`; the first send takes the reader.
    Reader {
        reader: Arc<Mutex<Option<BoxReader>>>,
        length: u64,
        filename: String,
    },
}

impl FileSource {
    pub(crate) fn reader(
        reader: impl AsyncRead + Send + 'static,
        length: u64,
        filename: String,
    ) -> Self {
        FileSource::Reader {
            reader: Arc::new(Mutex::new(Some(Box::pin(reader)))),
            length,
            filename,
        }
    }

    /// The file name sent with the file, when known before reading it.
    pub(crate) fn filename(&self) -> Option<String> {
        match self {
            FileSource::Bytes { filename, .. } | FileSource::Reader { filename, .. } => {
                Some(filename.clone())
            }
            FileSource::Path { path } => path.file_name().map(|n| n.to_string_lossy().into_owned()),
        }
    }

    /// A short description for reports: never file contents, never a URL query.
    pub(crate) fn describe(&self) -> String {
        match self {
            FileSource::Bytes { data, filename } => {
                format!("bytes {filename:?} ({} bytes)", data.len())
            }
            FileSource::Path { path } => format!("file {}", path.display()),
            FileSource::Reader {
                length, filename, ..
            } => format!("reader {filename:?} ({length} bytes)"),
        }
    }

    /// Checks the file (size, emptiness, format by magic bytes) and turns it into
    /// the multipart `file` part, streamed with a known length. Reads at most the
    /// first [`SNIFF_LEN`] bytes (a reader's first [`PEEK_LEN`]) into memory before
    /// the request starts, and measures the image against Cloudflare's limits.
    pub(crate) async fn into_part(self, progress: Option<Arc<ProgressFn>>) -> Result<Part> {
        let (stream, length, filename, mime): (Option<ChunkStream>, u64, String, &str) = match self
        {
            FileSource::Bytes { data, filename } => {
                let length = data.len() as u64;
                check_length(length, &filename)?;
                let mime = check_format(&data, &filename)?;
                limits::check_image(mime, &mut io::Cursor::new(&data[..]), &filename)?;
                if progress.is_none() {
                    let part = Part::stream_with_length(reqwest::Body::from(data), length);
                    return finish_part(part, filename, mime);
                }
                let chunks = (0..data.len())
                    .step_by(CHUNK_SIZE)
                    .map(move |at| Ok(data.slice(at..(at + CHUNK_SIZE).min(data.len()))))
                    .collect::<Vec<_>>();
                let stream: ChunkStream = Box::pin(futures_util::stream::iter(chunks));
                (Some(stream), length, filename, mime)
            }
            FileSource::Path { path } => {
                let (file, length, filename, mime) = open_image_file(&path).await?;
                let stream = reader_chunks(file);
                (Some(stream), length, filename, mime)
            }
            FileSource::Reader {
                reader,
                length,
                filename,
            } => {
                let taken = reader.lock().ok().and_then(|mut slot| slot.take());
                let Some(mut reader) = taken else {
                    return Err(Error::invalid_input(
                        "the reader of this upload was already used by an earlier send",
                    ));
                };
                check_length(length, &filename)?;
                // Read once, so measured from a peek that is sent after it.
                let want = usize::try_from(length.min(PEEK_LEN as u64)).unwrap_or(PEEK_LEN);
                let mut head = vec![0u8; want];
                let got = read_head(&mut reader, &mut head)
                    .await
                    .map_err(|e| Error::io(format!("could not read {filename:?}"), e))?;
                head.truncate(got);
                let mime = check_format(&head, &filename)?;
                limits::check_image(mime, &mut io::Cursor::new(&head[..]), &filename)?;
                let chained = std::io::Cursor::new(head).chain(reader);
                let stream = reader_chunks(chained);
                (Some(stream), length, filename, mime)
            }
        };
        let Some(stream) = stream else {
            return Err(Error::invalid_input("the upload has no file"));
        };
        let counted = Counted {
            inner: stream,
            sent: 0,
            total: length,
            progress,
            finished: false,
        };
        let part = Part::stream_with_length(reqwest::Body::wrap_stream(counted), length);
        finish_part(part, filename, mime)
    }
}

fn finish_part(part: Part, filename: String, mime: &str) -> Result<Part> {
    part.file_name(filename)
        .mime_str(mime)
        .map_err(|e| Error::invalid_input("invalid content type").with_source(e))
}

fn check_length(length: u64, filename: &str) -> Result<()> {
    if length == 0 {
        return Err(Error::invalid_input(format!(
            "the file {filename:?} is empty"
        )));
    }
    if length > MAX_IMAGE_BYTES {
        return Err(Error::image_limit_exceeded(
            filename,
            ImageLimit::FileSize {
                limit: MAX_IMAGE_BYTES,
                measured: length,
            },
        ));
    }
    Ok(())
}

fn check_format(head: &[u8], filename: &str) -> Result<&'static str> {
    sniff_image_type(head).ok_or_else(|| limits::unsupported_format(head, filename))
}

/// Opens an image file, checks it from its metadata and first bytes, and
/// returns it rewound, with its length, file name and content type.
async fn open_image_file(path: &Path) -> Result<(tokio::fs::File, u64, String, &'static str)> {
    let shown = path.display();
    let filename = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::invalid_input(format!("{shown} does not name a file")))?;
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(format!("could not open {shown}"), e))?;
    let metadata = file
        .metadata()
        .await
        .map_err(|e| Error::io(format!("could not read the metadata of {shown}"), e))?;
    if !metadata.is_file() {
        return Err(Error::invalid_input(format!(
            "{shown} is not a regular file"
        )));
    }
    let length = metadata.len();
    check_length(length, &filename)?;
    let want = usize::try_from(length.min(SNIFF_LEN as u64)).unwrap_or(SNIFF_LEN);
    let mut head = vec![0u8; want];
    let got = read_head(&mut file, &mut head)
        .await
        .map_err(|e| Error::io(format!("could not read {shown}"), e))?;
    let mime = check_format(&head[..got], &filename)?;
    // The whole file is walked for an animation's frames: off the async
    // threads, through a bounded buffer.
    let (measured, name) = (path.to_path_buf(), filename.clone());
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&measured)
            .map_err(|e| Error::io(format!("could not open {}", measured.display()), e))?;
        let mut body = io::BufReader::with_capacity(CHUNK_SIZE, file);
        limits::check_image(mime, &mut body, &name)
    })
    .await
    .map_err(|e| Error::io(format!("could not read {shown}"), io::Error::other(e)))??;
    file.seek(io::SeekFrom::Start(0))
        .await
        .map_err(|e| Error::io(format!("could not read {shown}"), e))?;
    Ok((file, length, filename, mime))
}

/// Fills `buf` from `reader` as far as it goes; returns how many bytes were read.
async fn read_head(reader: &mut (impl AsyncRead + Unpin), buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = reader.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// `reader` as a stream of chunks of at most [`CHUNK_SIZE`], each read once
/// (tokio-util's `ReaderStream` does the same; these few lines keep that crate
/// out of every user's build). Chunks are split off one buffer, so a reader
/// that trickles a byte per read fills one allocation with many small chunks
/// rather than allocating [`CHUNK_SIZE`] for each byte.
fn reader_chunks<R: AsyncRead + Send + Unpin + 'static>(reader: R) -> ChunkStream {
    use bytes::BufMut;
    Box::pin(futures_util::stream::try_unfold(
        (reader, bytes::BytesMut::new()),
        |(mut reader, mut buffer)| async move {
            if buffer.capacity() == 0 {
                buffer.reserve(CHUNK_SIZE);
            }
            let read = reader
                .read_buf(&mut (&mut buffer).limit(CHUNK_SIZE))
                .await?;
            Ok((read > 0).then(|| (buffer.split().freeze(), (reader, buffer))))
        },
    ))
}

/// A body stream that reports progress and holds the source to its declared
/// length: a file that grows or shrinks mid-upload fails the request instead of
/// sending a body that disagrees with its `Content-Length`.
struct Counted {
    inner: ChunkStream,
    sent: u64,
    total: u64,
    progress: Option<Arc<ProgressFn>>,
    finished: bool,
}

impl Stream for Counted {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                self.sent += chunk.len() as u64;
                if self.sent > self.total {
                    self.finished = true;
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "the file has more bytes than its declared length of {}",
                            self.total
                        ),
                    ))));
                }
                if let Some(progress) = &self.progress {
                    progress(self.sent, self.total);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.finished = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.finished = true;
                if self.sent < self.total {
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the file ended after {} of its declared {} bytes",
                            self.sent, self.total
                        ),
                    ))));
                }
                Poll::Ready(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// Hands out `step` bytes per read.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        step: usize,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let end = (self.at.saturating_add(self.step))
                .min(self.data.len())
                .min(self.at + buf.remaining());
            let (at, data) = (self.at, std::mem::take(&mut self.data));
            buf.put_slice(&data[at..end]);
            self.data = data;
            self.at = end;
            Poll::Ready(Ok(()))
        }
    }

    fn chunks_of(data: &[u8], step: usize) -> Vec<Bytes> {
        let reader = Trickle {
            data: data.to_vec(),
            at: 0,
            step,
        };
        block_on(
            reader_chunks(reader)
                .map(|c| c.unwrap())
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn a_reader_becomes_chunks_of_at_most_chunk_size_in_order() {
        let data: Vec<u8> = (0..3 * CHUNK_SIZE + 17).map(|i| (i % 251) as u8).collect();
        let chunks = chunks_of(&data, usize::MAX);
        let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE, 17]);
        assert_eq!(chunks.concat(), data);
    }

    #[test]
    fn a_trickling_reader_shares_one_buffer_between_its_chunks() {
        let data: Vec<u8> = (0..1000).map(|i| (i % 251) as u8).collect();
        let chunks = chunks_of(&data, 1);
        assert_eq!(chunks.len(), 1000);
        assert_eq!(chunks.concat(), data);
        // Each byte sits right after the previous one: one allocation, not 1,000
        // allocations of CHUNK_SIZE.
        for pair in chunks.windows(2) {
            assert_eq!(pair[1].as_ptr(), pair[0].as_ptr().wrapping_add(1));
        }
    }

    #[test]
    fn a_body_shorter_or_longer_than_declared_fails_the_stream() {
        block_on(async {
            for (len, declared, ok) in [
                (100usize, 200u64, false),
                (300, 200, false),
                (200, 200, true),
            ] {
                let chunks = vec![
                    Ok(Bytes::from(vec![0u8; len / 2])),
                    Ok(Bytes::from(vec![0u8; len - len / 2])),
                ];
                let seen = Arc::new(Mutex::new(Vec::new()));
                let record = Arc::clone(&seen);
                let mut counted = Counted {
                    inner: Box::pin(futures_util::stream::iter(chunks)),
                    sent: 0,
                    total: declared,
                    progress: Some(Arc::new(move |sent, total| {
                        record.lock().unwrap().push((sent, total))
                    })),
                    finished: false,
                };
                let mut failed = false;
                while let Some(item) = counted.next().await {
                    failed |= item.is_err();
                }
                assert_eq!(failed, !ok, "len {len} declared {declared}");
                if ok {
                    assert_eq!(seen.lock().unwrap().last(), Some(&(declared, declared)));
                }
            }
        });
    }

    #[test]
    fn a_reader_is_taken_once() {
        block_on(async {
            let source = FileSource::reader(
                // A 1x1 GIF header.
                std::io::Cursor::new(b"GIF89a\x01\0\x01\0\0\0\0".to_vec()),
                13,
                "a.gif".into(),
            );
            assert!(source.clone().into_part(None).await.is_ok());
            let err = source.into_part(None).await.unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
        });
    }
}
