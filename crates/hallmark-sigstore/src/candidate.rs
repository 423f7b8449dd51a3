//! Signature candidates: one attached signature (or attestation, or bundle) as found, before
//! any check. Built from `.sig`/`.att` layers, OCI referrers, or containers/image `dir:`
//! signature files.

use base64::Engine as _;
use std::collections::BTreeMap;

/// Where a candidate was found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CandidateSource {
    /// A layer of an attachment manifest at a tag (`sha256-<hex>.sig` / `.att`).
    AttachmentTag {
        /// The tag.
        tag: String,
        /// Index of the layer.
        layer: usize,
    },
    /// An OCI 1.1 referrer manifest (digest).
    Referrer {
        /// The referrer manifest digest.
        manifest: String,
    },
    /// A file (containers/image `dir:` signature, or a bundle file).
    File {
        /// File name.
        name: String,
    },
}

impl std::fmt::Display for CandidateSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CandidateSource::AttachmentTag { tag, layer } => write!(f, "{tag} layer {layer}"),
            CandidateSource::Referrer { manifest } => write!(f, "referrer {manifest}"),
            CandidateSource::File { name } => write!(f, "{name}"),
        }
    }
}

/// One attached signature-like object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCandidate {
    /// Where it came from.
    pub source: CandidateSource,
    /// The layer media type (simple signing, DSSE, or bundle).
    pub media_type: String,
    /// The layer blob: payload, DSSE envelope or bundle JSON.
    pub body: Vec<u8>,
    /// The layer annotations.
    pub annotations: BTreeMap<String, String>,
}

/// The prefix of a containers/image sigstore signature file.
pub const CONTAINERS_SIGSTORE_PREFIX: &[u8] = b"\x00sigstore-json\n";

impl SignatureCandidate {
    /// Parse a containers/image `dir:` transport signature file (`signature-N`):
    /// `\0sigstore-json\n` + `{"mimeType","payload"(base64),"annotations"}`.
    /// Returns `None` if the file is not a sigstore signature file (e.g. a GPG signature).
    pub fn from_containers_dir_file(name: &str, bytes: &[u8]) -> Option<Result<Self, String>> {
        let json = bytes.strip_prefix(CONTAINERS_SIGSTORE_PREFIX)?;
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct File {
            mime_type: String,
            payload: String,
            #[serde(default)]
            annotations: BTreeMap<String, String>,
        }
        Some((|| {
            let f: File = serde_json::from_slice(json)
                .map_err(|e| format!("{name}: malformed sigstore signature file: {e}"))?;
            let body = base64::engine::general_purpose::STANDARD
                .decode(f.payload.as_bytes())
                .map_err(|e| format!("{name}: payload is not base64: {e}"))?;
            Ok(SignatureCandidate {
                source: CandidateSource::File {
                    name: name.to_owned(),
                },
                media_type: f.mime_type,
                body,
                annotations: f.annotations,
            })
        })())
    }
}
