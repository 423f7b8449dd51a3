//! Blobs as streams of chunks, in constant memory.
//!
//! A [`BlobReader`] yields a blob's bytes chunk by chunk (HTTP response chunks from a
//! registry, 1 MiB file reads from a layout, or any stream of [`Bytes`]) and checks them against
//! the descriptor they were asked for by: never more than its `size`, and at the end exactly
//! `size` bytes that hash to its `digest`. Only then does [`BlobReader::next_chunk`] answer
//! `Ok(None)`, so a writer that publishes on `None` publishes verified content only:
//! [`crate::Layout`] renames its temporary file then, and a registry upload sends its closing
//! `PUT ?digest=` then (the registry checks the digest too). On any error the writer discards
//! what it has (the temporary file is removed, the upload session deleted).

use crate::{error::OciError, manifest::Descriptor};
use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use hallmark_core::{Digest, Hasher};
use std::{path::PathBuf, pin::Pin};
use tokio::io::AsyncReadExt as _;

/// How much one read of a layout file returns.
pub(crate) const FILE_CHUNK_BYTES: usize = 1 << 20;

/// What [`crate::Store::copy_blob`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobCopy {
    /// The destination had the blob already; nothing was read.
    AlreadyPresent,
    /// The blob was streamed from the source and written.
    Copied,
    /// The registry mounted the blob from the source repository (same registry); no bytes
    /// moved.
    Mounted,
}

/// A stream of chunks from any source ([`BlobReader::from_stream`]).
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

enum Source {
    Http {
        response: reqwest::Response,
        registry: String,
    },
    File {
        file: tokio::fs::File,
        path: PathBuf,
    },
    Stream(ChunkStream),
}

/// Where a [`BlobReader`] stands.
#[derive(Debug)]
enum State {
    Reading(Hasher),
    /// Every byte was read and verified.
    Verified,
    /// An error was returned; the content must not be used.
    Failed,
}

/// A blob read as a stream of chunks, checked against its descriptor as it is read. See the
/// [module documentation](self).
pub struct BlobReader {
    source: Source,
    digest: Digest,
    size: u64,
    read: u64,
    state: State,
    what: String,
    location: String,
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobReader")
            .field("digest", &self.digest)
            .field("size", &self.size)
            .field("read", &self.read)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl BlobReader {
    fn new(source: Source, descriptor: &Descriptor, location: String) -> Self {
        Self {
            source,
            digest: descriptor.digest.clone(),
            size: descriptor.size,
            read: 0,
            state: State::Reading(Hasher::new(descriptor.digest.algorithm())),
            what: format!("blob {}", descriptor.digest),
            location,
        }
    }

    /// A reader over a registry's `200` answer to `GET .../blobs/<digest>`.
    pub(crate) fn http(
        response: reqwest::Response,
        registry: &str,
        descriptor: &Descriptor,
        location: String,
    ) -> Self {
        Self::new(
            Source::Http {
                response,
                registry: registry.to_owned(),
            },
            descriptor,
            location,
        )
    }

    /// A reader over an open layout file.
    pub(crate) fn file(
        file: tokio::fs::File,
        path: PathBuf,
        descriptor: &Descriptor,
        location: String,
    ) -> Self {
        Self::new(Source::File { file, path }, descriptor, location)
    }

    /// A reader over any stream of chunks (generated content, another transport), checked
    /// against `descriptor` like every other reader. `location` names the source in errors.
    pub fn from_stream(
        descriptor: &Descriptor,
        location: impl Into<String>,
        stream: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    ) -> Self {
        Self::new(
            Source::Stream(Box::pin(stream)),
            descriptor,
            location.into(),
        )
    }

    /// The digest the content must have.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The size the content must have.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes returned so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// `registry/repo` or `oci:DIR` the blob is read from.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// An error of this blob at its source.
    pub(crate) fn error(&self, make: impl FnOnce(String, String) -> OciError) -> OciError {
        make(self.what.clone(), self.location.clone())
    }

    /// The next chunk (never empty). `Ok(None)` once all `size` bytes were read and hash to
    /// the digest; that answer is the only one that makes the content usable. More bytes than
    /// `size` ([`OciError::TooLarge`]), fewer ([`OciError::SizeMismatch`]) or other bytes
    /// ([`OciError::DigestMismatch`]) are errors, after which the reader only answers errors.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, OciError> {
        match self.step().await {
            Ok(chunk) => Ok(chunk),
            Err(e) => {
                self.state = State::Failed;
                Err(e)
            }
        }
    }

    async fn step(&mut self) -> Result<Option<Bytes>, OciError> {
        match self.state {
            State::Reading(_) => {}
            State::Verified => return Ok(None),
            State::Failed => {
                return Err(self.error(|what, location| OciError::Malformed {
                    what,
                    location,
                    reason: "read again after an error; expected the reader to be dropped".into(),
                }));
            }
        }
        loop {
            let chunk = self.read_source().await?;
            let Some(chunk) = chunk else {
                return self.finish().map(|()| None);
            };
            if chunk.is_empty() {
                continue;
            }
            let read = self.read + chunk.len() as u64;
            if read > self.size {
                let limit = self.size;
                return Err(self.error(|what, location| OciError::TooLarge {
                    what: format!("{what} (the descriptor's size)"),
                    location,
                    limit,
                }));
            }
            if let State::Reading(hasher) = &mut self.state {
                hasher.update(&chunk);
            }
            self.read = read;
            return Ok(Some(chunk));
        }
    }

    /// The end of the source: check size and digest.
    fn finish(&mut self) -> Result<(), OciError> {
        if self.read != self.size {
            let (expected, found) = (self.size, self.read);
            return Err(self.error(|what, location| OciError::SizeMismatch {
                what,
                location,
                expected,
                found,
            }));
        }
        let State::Reading(hasher) = std::mem::replace(&mut self.state, State::Failed) else {
            return Ok(());
        };
        let found = hasher.finish();
        if found != self.digest {
            let expected = self.digest.to_string();
            return Err(self.error(|what, location| OciError::DigestMismatch {
                what,
                location,
                source: hallmark_core::DigestError::Mismatch {
                    expected,
                    found: found.to_string(),
                },
            }));
        }
        self.state = State::Verified;
        Ok(())
    }

    async fn read_source(&mut self) -> Result<Option<Bytes>, OciError> {
        match &mut self.source {
            Source::Http { response, registry } => response
                .chunk()
                .await
                .map_err(|e| crate::registry::transport_error(registry, e)),
            Source::File { file, path } => {
                // Never ask for more than is left (+1 to see a file that grew).
                let left = self.size.saturating_sub(self.read).saturating_add(1);
                let want =
                    usize::try_from(left).map_or(FILE_CHUNK_BYTES, |l| l.min(FILE_CHUNK_BYTES));
                let mut buf = bytes::BytesMut::with_capacity(want);
                while buf.len() < want {
                    let n = file
                        .read_buf(&mut buf)
                        .await
                        .map_err(|source| OciError::Io {
                            path: path.display().to_string(),
                            source,
                        })?;
                    if n == 0 {
                        break;
                    }
                }
                Ok((!buf.is_empty()).then(|| buf.freeze()))
            }
            Source::Stream(stream) => match stream.next().await {
                None => Ok(None),
                Some(Ok(chunk)) => Ok(Some(chunk)),
                Some(Err(source)) => Err(OciError::Io {
                    path: self.location.clone(),
                    source,
                }),
            },
        }
    }
}

/// Removes a temporary file when dropped, unless [`TempFile::keep`] was called: nothing is
/// left behind by an error, a panic, or a future dropped half way.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path: Some(path) }
    }
    pub(crate) fn path(&self) -> &std::path::Path {
        self.path.as_deref().unwrap_or(std::path::Path::new(""))
    }
    /// The file was renamed into place: do not remove it.
    pub(crate) fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The chunk size of a registry upload session's `PATCH` requests.
pub(crate) const UPLOAD_CHUNK_BYTES: usize = 8 << 20;

/// Transfers are allowed `timeout + size / MIN_TRANSFER_BYTES_PER_SEC` in all; stalls are
/// caught by the per-read timeout long before.
pub(crate) const MIN_TRANSFER_BYTES_PER_SEC: u64 = 64 << 10;
