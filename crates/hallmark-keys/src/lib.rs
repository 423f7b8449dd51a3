//! Key references for hallmark: where a signing key lives, and one signer over all of them.
//!
//! A [`KeyRef`] is what `--key` takes, in cosign's forms where cosign has one
//! (sigstore/sigstore `pkg/signature/kms/*` reference schemes, cosign `pkg/signature/keys.go`):
//!
//! - a file path (a cosign encrypted key, or plain PKCS#8 / SEC1 / PKCS#1 PEM; a `PUBLIC KEY`
//!   PEM for verification), and `env://VAR` (the PEM in an environment variable);
//! - `pkcs11:token=...;object=...?module-path=...&pin-value=...`: an RFC 7512 PKCS#11 URI
//!   (PIN also from `HALLMARK_PKCS11_PIN`, module also from `HALLMARK_PKCS11_MODULE`), signing
//!   on the token with `CKM_ECDSA` over a digest computed here (PKCS#11 v2.40);
//! - `awskms://[ENDPOINT]/KEY`: AWS KMS (`Sign`, `GetPublicKey`, `DescribeKey`, `CreateKey`),
//!   KEY a key ID, key ARN, alias name (`alias/NAME`) or alias ARN;
//! - `awssm://SECRET[?passphrase-secret=NAME&region=R]`: an encrypted cosign key held in AWS
//!   Secrets Manager, decrypted in memory only;
//! - `hashivault://KEY`: HashiCorp Vault's transit secrets engine (`/v1/transit/keys`,
//!   `/v1/transit/sign`, `/v1/transit/verify`) with `VAULT_ADDR` and `VAULT_TOKEN`.
//!
//! [`KeyRef::open`] turns a reference into a [`KeySigner`]; both it and
//! [`hallmark_core::SigningKey`] implement [`Signer`], the trait the signing flows take. A
//! reference's `Display` never shows a PIN or a secret. Private key bytes and passphrases are
//! held in zeroizing buffers and never written to disk.

mod der;
mod error;
mod file;
mod keyref;
mod signer;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;
#[cfg(feature = "vault")]
pub mod vault;

pub use der::{ec_spki_der, ecdsa_raw_to_der};
pub use error::KeysError;
pub use keyref::{KeyRef, Pkcs11Uri};
pub use signer::{KeySigner, OpenOptions, PASSPHRASE_VARS, PassphraseFn, Signer, VarsFn};
