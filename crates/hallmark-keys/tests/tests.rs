//! hallmark-keys integration tests (one binary): reference parsing and redaction, DER
//! conversion checked by aws-lc-rs, file and env keys, and the Vault transit client against
//! the Vault FIXTURE of hallmark-testutil (no Vault server runs here). PKCS#11 (SoftHSM2) and
//! AWS (moto) run in the CLI tests, in child processes, because their libraries read the
//! process environment (`SOFTHSM2_CONF`, `AWS_*`).

mod der;
mod keyref;
mod local;
#[cfg(feature = "vault")]
mod vault;
