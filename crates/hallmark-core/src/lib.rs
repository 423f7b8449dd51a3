//! The pure core of hallmark: content digests, image references, public and private keys,
//! signatures and key files.
//!
//! Nothing here does I/O beyond what the caller hands in as bytes, nothing is async, and every
//! parser is fuzzable. Formats followed:
//!
//! - OCI image spec v1.1 digests (`algorithm:hex`), and the docker reference grammar of
//!   `distribution/reference` for image names.
//! - cosign's encrypted private key files (`ENCRYPTED COSIGN PRIVATE KEY` and
//!   `ENCRYPTED SIGSTORE PRIVATE KEY`: scrypt + NaCl secretbox over PKCS#8 DER), as written by
//!   cosign 1.x-3.x, skopeo 1.11+ and sigstore-rs 0.14, and plain PKCS#8 / SEC1 / PKCS#1 PEM.
//! - Public keys as X.509 SubjectPublicKeyInfo (`PUBLIC KEY` PEM).
//! - Signatures as cosign makes them: ECDSA (ASN.1 DER) over SHA-256 for P-256, SHA-384 for
//!   P-384; RSA PKCS#1 v1.5 with SHA-256; pure Ed25519.
//! - Go's `encoding/json` string encoding and `encoding/base64` decoding, for bytes that must
//!   equal what a Go tool writes ([`gojson`]).

pub mod digest;
pub mod dsse;
pub mod error;
pub mod gojson;
pub mod keyfile;
pub mod keys;
mod pem_block;
pub mod reference;
pub mod secret;
pub mod text;

pub use digest::{Digest, DigestAlgorithm, Hasher};
pub use error::{DigestError, KeyError, ReferenceError};
pub use keys::{KeyAlgorithm, PublicKey, SigningKey};
pub use pem_block::certificates as pem_certificates;
pub use reference::{ImageRef, RegistryRef, is_valid_name, is_valid_tag};
pub use secret::Passphrase;
