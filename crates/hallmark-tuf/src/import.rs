//! Importing unencrypted private keys the way `docker trust key load` accepts them: PEM
//! `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC1) ECDSA P-256 keys.

use crate::keyfile::{KeyFileError, PrivateKey};
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

/// An ECDSA P-256 key from PKCS#8 or SEC1 DER.
pub fn ecdsa_from_der(der: &[u8]) -> Result<PrivateKey, KeyFileError> {
    let invalid = |reason: &str| KeyFileError::InvalidKey {
        key_type: "ecdsa".to_string(),
        reason: reason.to_string(),
    };
    let pair = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
        .or_else(|_| EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der))
        .map_err(|_| invalid("expected an ECDSA P-256 key in PKCS#8 or SEC1 DER"))?;
    let sec1 = pair
        .private_key()
        .as_der()
        .map_err(|_| invalid("cannot encode the key as SEC1"))?;
    PrivateKey::from_ecdsa_sec1_der(sec1.as_ref())
}
