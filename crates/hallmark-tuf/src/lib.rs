//! The pure core of Notary v1 / Docker Content Trust: TUF metadata in the flavour Notary 0.7.0
//! writes, its canonical JSON, signature checks and the client's verification workflow.
//!
//! Nothing here does I/O or reads a clock: callers hand in the downloaded bytes, the trusted
//! root, the previously trusted versions and the time.
//!
//! Where Notary's TUF differs from the TUF specification (and so from `tough` and `rust-tuf`):
//!
//! - `_type` is capitalised (`Root`, `Targets`, `Snapshot`, `Timestamp`); there is no
//!   `spec_version`, no key `scheme`, no delegation `terminating`.
//! - Key types are `ecdsa`, `ecdsa-x509`, `ed25519`, `rsa`, `rsa-x509`; `ecdsa`/`rsa` public
//!   keys are base64 DER SubjectPublicKeyInfo, `*-x509` keys are base64 of a PEM certificate
//!   (the root key is always one), `ed25519` keys are base64 of 32 raw bytes. A key ID is the
//!   hex SHA-256 of the canonical key object, so an x509 root key's ID is over the certificate.
//! - Signatures carry a `method` (`ecdsa`, `eddsa`, `rsapss`, `rsapkcs1v15`) and base64 `sig`;
//!   ECDSA signatures are raw r||s (not DER) over SHA-256 of the canonical `signed` bytes;
//!   `rsapss` is RSA-PSS with SHA-256 and a salt as long as the hash.
//! - Hashes in `meta` and `targets` are base64, not hex. The snapshot also lists `root`.
//! - Canonical JSON is docker/go's `MarshalCanonical`: OLPC-style string escaping (only `"` and
//!   `\`), sorted keys, integers only. Stored files are the compact JSON the client uploaded:
//!   `{"signed":<canonical>,"signatures":[..]}`, and hashes are over those bytes.
//! - Delegated role names are paths (`targets/releases`); delegated `paths` are prefixes and
//!   `""` matches every target. docker resolves tags in `targets/releases`, then `targets`.
//! - Thresholds are effectively always 1 in Notary; they are still enforced here over distinct
//!   key IDs.
//!
//! Notary's trust pinning of root certificates (CN = GUN, validity period) is
//! [`check_root_certificates`], separate from [`verify_repo`]. A delegated role's targets must be
//! within its own paths and those of every ancestor role.
//!
//! [`server`] is notary-server 0.7.0's side, pure too: `validateUpdate` over an atomic update,
//! and the snapshots and timestamps the server generates and re-signs.
//!
//! [`keyfile`] reads and writes the encrypted private key files of a docker/notary trust
//! directory (`private/<key ID>.key`).

pub mod builder;
pub mod canonical;
pub mod cert;
pub mod error;
pub mod import;
pub mod inspect;
pub mod keyfile;
pub mod keys;
pub mod model;
pub mod server;
pub mod sign;
pub mod verify;

pub use error::TufError;
pub use keyfile::PrivateKey;
pub use keys::{CertificateInfo, KeyType, TufKey};
pub use model::{
    DelegatedRole, Delegations, Expires, FileMeta, Metadata, RoleKeys, Root, Signature, Signed,
    Snapshot, Targets, Timestamp,
};
pub use sign::{envelope, sign_metadata};
pub use verify::{
    InvalidDelegations, Limits, RepoFiles, ResolvedTarget, TrustedVersions, VerifiedRepo,
    check_file_meta, check_root_certificates, verify_repo, verify_repo_with, verify_root_chain,
    verify_threshold,
};
