//! Client of Docker Content Trust (Notary v1, notary 0.7.0 server API and metadata) with
//! docker's semantics (docker/cli `cmd/docker-trust`): the trust directory shared with docker
//! and notary, the Notary HTTP API, verified and cached updates with root trust on first use
//! or pinning, and staged changes (signers, signed tags, key rotations) signed and published
//! in one atomic upload.
//!
//! The TUF rules themselves (parsing, signatures, rollback, expiry, delegations) are
//! `hallmark-tuf`'s pure functions; this crate does the I/O around them and writes the cache
//! only after verification.

pub mod config;
pub mod error;
pub mod external;
pub mod remote;
pub mod repo;
pub mod trustdir;

pub use config::{ClientConfig, Login, LoginSource};
pub use error::TrustError;
pub use external::{KeyRefSigner, RoleSigner};
pub use remote::Remote;
pub use repo::{Draft, Passphrases, Repository, RootTrust, TrustData};
pub use trustdir::{KeyInfo, TrustDir};
