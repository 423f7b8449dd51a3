//! Raw r||s to DER and EC SPKI, checked against aws-lc-rs.

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{self, EcdsaKeyPair, KeyPair as _},
};
use hallmark_core::{KeyAlgorithm, PublicKey};
use hallmark_keys::{ec_spki_der, ecdsa_raw_to_der};

const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

fn roundtrip(
    fixed: &'static signature::EcdsaSigningAlgorithm,
    curve: &[u8],
    algorithm: KeyAlgorithm,
) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(fixed, &rng).expect("generate");
    let pair = EcdsaKeyPair::from_pkcs8(fixed, pkcs8.as_ref()).expect("pair");
    let spki = ec_spki_der(curve, pair.public_key().as_ref());
    let public = PublicKey::from_spki_der(&spki).expect("our SPKI parses");
    assert_eq!(public.algorithm(), algorithm);
    // Many signatures, so that r or s with a high bit or leading zero bytes come up.
    for i in 0..200u32 {
        let msg = format!("message {i}");
        let raw = pair.sign(&rng, msg.as_bytes()).expect("sign");
        let der = ecdsa_raw_to_der(raw.as_ref()).expect("even length");
        public
            .verify(msg.as_bytes(), &der)
            .unwrap_or_else(|e| panic!("signature {i} does not verify as DER: {e}"));
    }
}

#[test]
fn p256_fixed_signatures_become_der_that_verifies() {
    roundtrip(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        P256,
        KeyAlgorithm::EcdsaP256,
    );
}

#[test]
fn p384_fixed_signatures_become_der_that_verifies() {
    roundtrip(
        &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        P384,
        KeyAlgorithm::EcdsaP384,
    );
}

#[test]
fn der_integers_are_minimal() {
    let mut raw = vec![0u8; 64];
    raw[31] = 1; // r = 1
    raw[32] = 0x80; // s has its high bit set
    let der = ecdsa_raw_to_der(&raw).expect("der");
    assert_eq!(&der[..5], &[0x30, 0x26, 0x02, 0x01, 0x01]);
    assert_eq!(&der[5..8], &[0x02, 0x21, 0x00]);
    assert!(ecdsa_raw_to_der(&[1, 2, 3]).is_none());
    assert!(ecdsa_raw_to_der(&[]).is_none());
}
