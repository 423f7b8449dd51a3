//! Errors of registry and layout access. A variant with a cause says only its context; the
//! cause is its `source()` (see `hallmark_core::error`).

use thiserror::Error;

/// Registry or layout access failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OciError {
    /// A request got no usable HTTP answer: no connection, a timeout, a redirect loop, a body
    /// cut off, or an answer that is not HTTP; `failure` says which.
    #[error("registry {registry}: {url}: {failure}: {reason}")]
    Transport {
        /// Registry host.
        registry: String,
        /// The URL requested, without its query.
        url: String,
        /// What happened.
        failure: TransportFailure,
        /// The innermost cause of the transport error ("Connection refused (os error 111)",
        /// "operation timed out", "invalid peer certificate: UnknownIssuer"): reqwest's own
        /// text and its intermediate causes only repeat the URL or say "client error".
        reason: String,
    },
    /// A file of an OCI layout that is not a regular file inside the layout directory: a
    /// FIFO, socket, device or directory, or a symlink leading out of the layout.
    #[error("{path}: expected a regular file inside the layout {location}, found {found}")]
    UnsafeFile {
        /// The file, as named in the layout.
        path: String,
        /// The layout (`oci:DIR`, symlinks resolved).
        location: String,
        /// What it is instead.
        found: String,
    },
    /// The registry answered with an unexpected HTTP status.
    #[error("{method} {url}: expected HTTP {expected}, registry answered {status}: {body}")]
    Status {
        /// HTTP method.
        method: &'static str,
        /// URL requested.
        url: String,
        /// What was expected (e.g. "200").
        expected: &'static str,
        /// What was received.
        status: u16,
        /// Start of the error body (at most 512 bytes).
        body: String,
    },
    /// The thing asked for does not exist (404 / MANIFEST_UNKNOWN / BLOB_UNKNOWN, or not in a layout).
    #[error("{what} not found in {location}")]
    NotFound {
        /// Manifest, tag or blob asked for.
        what: String,
        /// Repository or layout.
        location: String,
    },
    /// Authentication failed or was refused.
    #[error("authentication to {registry} failed: {reason}")]
    Auth {
        /// Registry host.
        registry: String,
        /// What failed.
        reason: String,
    },
    /// A response was larger than allowed.
    #[error("{what} from {location} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// What was being read.
        what: String,
        /// Where.
        location: String,
        /// The limit.
        limit: u64,
    },
    /// Content did not match the digest it was asked for by.
    #[error("{what} from {location}")]
    DigestMismatch {
        /// What was being read.
        what: String,
        /// Where.
        location: String,
        /// The mismatch.
        #[source]
        source: hallmark_core::DigestError,
    },
    /// A blob ended before the size its descriptor gives.
    #[error(
        "{what} from {location}: expected {expected} bytes (the descriptor's size), found {found}"
    )]
    SizeMismatch {
        /// What was being read.
        what: String,
        /// Where.
        location: String,
        /// The descriptor's size.
        expected: u64,
        /// Bytes there were.
        found: u64,
    },
    /// A manifest or index.json is malformed.
    #[error("malformed {what} from {location}: {reason}")]
    Malformed {
        /// What was being read.
        what: String,
        /// Where.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// Plain HTTP was refused for a non-loopback registry.
    #[error(
        "refusing plain HTTP to {registry}: only loopback registries use HTTP unless --allow-http-registry is given"
    )]
    InsecureRefused {
        /// Registry host.
        registry: String,
    },
    /// Too many retries on 429/5xx.
    #[error("{method} {url}: gave up after {attempts} attempts, last status {status}")]
    RetriesExhausted {
        /// HTTP method.
        method: &'static str,
        /// URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// Last status.
        status: u16,
    },
    /// Local file system error (layouts, docker config).
    #[error("{path}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be set up (TLS roots, extra CA certificates).
    #[error("cannot set up the registry HTTP client: {reason}")]
    Client {
        /// What failed.
        reason: String,
    },
    /// The operation is not possible on this kind of store.
    #[error("{0}")]
    Unsupported(String),
}

/// How a request failed below HTTP (see [`OciError::Transport`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportFailure {
    /// No connection (refused, unreachable, TLS handshake failed).
    Connect,
    /// No answer in time.
    Timeout,
    /// Redirected more often than allowed (a redirect loop).
    Redirects,
    /// The response body was cut off or could not be read.
    Body,
    /// The answer is not valid HTTP (garbage, oversized headers).
    NotHttp,
    /// Anything else.
    Other,
}

impl std::fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransportFailure::Connect => "unreachable",
            TransportFailure::Timeout => "timed out",
            TransportFailure::Redirects => "too many redirects (a redirect loop)",
            TransportFailure::Body => "the response body was cut off or unreadable",
            TransportFailure::NotHttp => "the answer is not valid HTTP",
            TransportFailure::Other => "request failed",
        })
    }
}
