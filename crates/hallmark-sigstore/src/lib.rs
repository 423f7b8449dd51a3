//! cosign-compatible signatures and attestations for container images.
//!
//! Formats followed (see each module):
//!
//! - cosign "simple signing" payloads (`cosign container image signature`), byte-identical to
//!   what Go's `encoding/json` writes for sigstore's `payload.SimpleContainerImage`, parsed as
//!   strictly as containers/image 5.x parses them.
//! - The cosign `sha256-<hex>.sig` / `.att` attachment manifests (cosign 1.x-3.x legacy format,
//!   the one skopeo and podman read), with layer annotations `dev.cosignproject.cosign/signature`,
//!   `dev.sigstore.cosign/bundle`, `dev.sigstore.cosign/certificate`, `predicateType`.
//! - DSSE envelopes (v1.0.0) with in-toto statements (v0.1 for `.att`, v1 for bundles).
//! - Sigstore bundles v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`) attached as OCI
//!   1.1 referrers, as cosign 3 writes them by default (read only).
//! - Certificate-based verification ([`certificate`]): Fulcio (keyless) and private-PKI leaf
//!   certificates chained to configured roots (or a Sigstore `trusted_root.json`), at the Rekor
//!   SET's integrated time or the caller's "now", with an expected SAN and OIDC issuer.
//! - Transparency-log entries ([`tlog`]): the SET and, for bundles, the inclusion proof and
//!   signed checkpoint, verified offline against a `trusted_root.json`'s logs; a typed
//!   [`TlogPolicy`] decides whether an entry is required. Key-signed Sigstore bundles are
//!   written by [`bundle::build_message_signature_bundle`].
//!
//! Everything here is pure and synchronous: no I/O, no async, no clock (times are passed in).
//! The registry / layout I/O around it (resolve, sign with log upload, verify, attest, tree,
//! copy) is in `hallmark-flows`.

pub mod attestation;
pub mod bundle;
pub mod candidate;
pub mod certificate;
pub mod dsse;
pub mod error;
pub mod payload;
pub mod rekor_set;
pub mod sigmanifest;
pub mod tlog;
pub mod verify;

pub use candidate::{CandidateSource, SignatureCandidate};
pub use certificate::{
    CertificateIdentity, CertificatePolicy, OidcIssuer, SubjectName, TransparencyLog,
    TrustedCertificates,
};
pub use error::{Rejection, SigManifestError, VerifyError};
pub use tlog::{TlogPolicy, TrustedLogs, VerifiedTlogEntry};
pub use verify::{IdentityCheck, VerificationPolicy, VerifiedSignature};

/// Layer annotation holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Layer annotation holding a Rekor bundle (SET).
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// Layer annotation holding a PEM certificate.
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Layer annotation holding a PEM chain.
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// Layer annotation holding the predicate type of an attestation.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";
/// Media type of a simple-signing layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Media type of a DSSE attestation layer.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// Media type of a Sigstore bundle v0.3.
pub const BUNDLE_V03_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
