//! Test support: the real third-party components hallmark's tests talk to, started on
//! 127.0.0.1 by the tests themselves and stopped when the test process exits.
//!
//! - [`registry`]: a docker-registry 2.8 (CNCF distribution) shared by one test binary.
//! - [`docker`]: a real Docker engine (docker.io 20.10 `dockerd`, no networking) and the
//!   `docker` CLI against it.
//! - [`notary`]: notary 0.7.0 (CLI, notary-server, notary-signer) and a small openssl test PKI.
//! - [`postgres`]: a throwaway PostgreSQL cluster (initdb into a temporary directory).
//! - [`hostile`]: servers that never answer, or answer every request with the same bytes.
//! - [`process`]: free ports, signals and liveness checks shared by the starters.
//! - [`softhsm`]: SoftHSM2 token directories with EC key pairs (pkcs11-tool).
//! - [`moto`]: a moto 5.2.5 server (AWS KMS and Secrets Manager) on loopback.
//! - [`vault`]: a FIXTURE answering Vault's transit API (no Vault server runs here).
//! - [`tools`]: skopeo 1.18 with sigstore enabled, and helpers to drive it.

pub mod docker;
pub mod hostile;
pub mod moto;
pub mod notary;
pub mod postgres;
pub mod process;
pub mod registry;
pub mod softhsm;
pub mod tools;
pub mod vault;
