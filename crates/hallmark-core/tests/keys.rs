use crate::support::{data, text};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hallmark_core::{Digest, KeyAlgorithm, KeyError, PublicKey, SigningKey};

const CI: &str = "vectors/containers-image";
const COSIGN_KEYS: &str = "vectors/cosign/keys_test";
const RS_KEYS: &str = "vectors/sigstore-rs/keys";
const RS_IMPORT: &str = "vectors/sigstore-rs/key_pair_import";

const ALL: [KeyAlgorithm; 4] = [
    KeyAlgorithm::EcdsaP256,
    KeyAlgorithm::EcdsaP384,
    KeyAlgorithm::Ed25519,
    KeyAlgorithm::Rsa,
];

// Fingerprints of cosign's plain test keys, from `openssl pkey -pubout -outform DER | sha256sum`.
const VALIDECP256_FP: &str = "6d9d4f02f673f80570d5ed2f61236060ce644751880a95f1e2482fa420f1e33e";
const VALIDECP384_FP: &str = "aa22df69a02bfee6ee8d1c63ae0a501e2f46cf7a40fd6b08d782ebf3b062c9cb";
const VALIDRSAPKCS1_FP: &str = "2d96e668bf7adf9b0cc50036f88811d411d90514004c136653637b4e5abe7a88";

fn cosign_pub() -> PublicKey {
    PublicKey::from_pem(&text(&format!("{CI}/fixtures/cosign.pub")), "cosign.pub").unwrap()
}

fn cosign2_pub() -> PublicKey {
    PublicKey::from_pem(&text(&format!("{CI}/fixtures/cosign2.pub")), "cosign2.pub").unwrap()
}

fn flip(bytes: &[u8], index: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v[index] ^= 0x01;
    v
}

// ---------------------------------------------------------------- public keys

#[test]
fn algorithm_names_round_trip() {
    for alg in ALL {
        assert_eq!(KeyAlgorithm::from_name(alg.name()), Some(alg));
        assert_eq!(alg.to_string(), alg.name());
    }
    assert_eq!(KeyAlgorithm::EcdsaP256.name(), "ecdsa-p256");
    assert_eq!(KeyAlgorithm::from_name("ecdsa-p521"), None);
}

#[test]
fn reads_upstream_public_keys() {
    // Fingerprints computed independently with `openssl pkey -pubin -outform DER | sha256sum`.
    for (file, alg, fingerprint) in [
        (
            "cosign.pub",
            KeyAlgorithm::EcdsaP256,
            "c87a79018f346cc02482448b77296b0bea143ef2ccab99b04776fb0f638f301f",
        ),
        (
            "cosign2.pub",
            KeyAlgorithm::EcdsaP256,
            "5e7eb6c1e2e6db06470ae59ee8253b3dc4ce33beefb9a0cca06a371cfc0ebdfa",
        ),
        (
            "some-rsa-key.pub",
            KeyAlgorithm::Rsa,
            "a39365192ecdea0826d7b9cdc2a9cb4cc389854620c424743d3761d3617feb81",
        ),
    ] {
        let pem = text(&format!("{CI}/fixtures/{file}"));
        let key = PublicKey::from_pem(&pem, file).unwrap();
        assert_eq!(key.algorithm(), alg, "{file}");
        assert_eq!(key.fingerprint(), fingerprint, "{file}");
        // The upstream files are canonical PEM, so to_pem reproduces them byte for byte.
        assert_eq!(key.to_pem(), pem, "{file}");
        assert_eq!(PublicKey::from_spki_der(key.spki_der()).unwrap(), key);
        let debug = format!("{key:?}");
        assert!(
            debug.contains(alg.name()) && debug.contains(fingerprint),
            "{debug}"
        );
    }
    assert_ne!(cosign_pub(), cosign2_pub());
}

#[test]
fn public_pem_tolerates_surrounding_text_and_crlf() {
    let pem = text(&format!("{CI}/fixtures/cosign.pub"));
    let cert_like = "-----BEGIN SOMETHING ELSE-----\nAAAA\n-----END SOMETHING ELSE-----\n";
    let messy = format!(
        "key for the demo registry:\r\n\r\n{cert_like}{}\r\ntrailing words\r\n",
        pem.replace('\n', "\r\n")
    );
    assert_eq!(PublicKey::from_pem(&messy, "messy").unwrap(), cosign_pub());
    // The first PUBLIC KEY block wins.
    let two = format!("{pem}{}", text(&format!("{CI}/fixtures/cosign2.pub")));
    assert_eq!(PublicKey::from_pem(&two, "two").unwrap(), cosign_pub());
}

#[test]
fn to_pem_layout() {
    let key =
        PublicKey::from_pem(&text(&format!("{CI}/fixtures/some-rsa-key.pub")), "rsa").unwrap();
    let pem = key.to_pem();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
    assert!(!pem.contains('\r'));
    assert!(pem.lines().all(|l| l.len() <= 64), "{pem}");
    assert_eq!(pem.lines().nth(1).unwrap().len(), 64);
}

#[test]
fn public_der_and_pem_encodings() {
    // The sigstore-rs example files are independent keys (not one pair); their fingerprints
    // were computed with `openssl pkey -pubin [-inform DER] -outform DER | sha256sum`.
    let from_pem = PublicKey::from_pem(
        &text(&format!("{RS_IMPORT}/ECDSA_P256_ASN1_PUBLIC_PEM.pub")),
        "pem",
    )
    .unwrap();
    let from_der = PublicKey::from_spki_der(&data(&format!(
        "{RS_IMPORT}/ECDSA_P256_ASN1_PUBLIC_DER.pub"
    )))
    .unwrap();
    assert_eq!(from_pem.algorithm(), KeyAlgorithm::EcdsaP256);
    assert_eq!(from_der.algorithm(), KeyAlgorithm::EcdsaP256);
    assert_eq!(
        from_pem.fingerprint(),
        "e11fc0019b95e45a7157c3f8509ea8476d425bd987acba6d03e6b6f01128a154"
    );
    assert_eq!(
        from_der.fingerprint(),
        "6443066c3e55474ae8d3136a283f17504c87964446a9d42742c874705ac1aee5"
    );
    // DER -> PEM -> DER.
    assert_eq!(
        PublicKey::from_pem(&from_der.to_pem(), "x").unwrap(),
        from_der
    );
}

#[test]
fn public_key_errors() {
    // No PEM at all.
    assert!(matches!(
        PublicKey::from_pem("just some text", "x"),
        Err(KeyError::Pem { .. })
    ));
    assert!(matches!(
        PublicKey::from_pem("", "x"),
        Err(KeyError::Pem { .. })
    ));
    // Another label only.
    let private = text(&format!("{RS_KEYS}/ecdsa_private.key"));
    match PublicKey::from_pem(&private, "x") {
        Err(KeyError::UnexpectedLabel {
            found, expected, ..
        }) => {
            assert_eq!(found, "PRIVATE KEY");
            assert_eq!(expected, "PUBLIC KEY");
        }
        other => panic!("expected UnexpectedLabel, got {other:?}"),
    }
    // Truncated: no END line.
    let pem = text(&format!("{CI}/fixtures/cosign.pub"));
    let truncated = &pem[..pem.len() / 2];
    assert!(matches!(
        PublicKey::from_pem(truncated, "x"),
        Err(KeyError::Pem { .. })
    ));
    // Broken base64.
    let bad_b64 = pem.replacen("MFkw", "M!kw", 1);
    assert!(matches!(
        PublicKey::from_pem(&bad_b64, "x"),
        Err(KeyError::Pem { .. })
    ));
    // Good base64, bad DER.
    let garbage = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(b"definitely not DER")
    );
    assert!(matches!(
        PublicKey::from_pem(&garbage, "x"),
        Err(KeyError::InvalidKey { .. })
    ));
    // DER cut short, DER with trailing bytes.
    let der = cosign_pub().spki_der().to_vec();
    for cut in [0, 1, 10, der.len() - 1] {
        assert!(
            PublicKey::from_spki_der(&der[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    let mut trailing = der.clone();
    trailing.push(0);
    assert!(PublicKey::from_spki_der(&trailing).is_err());
    // A point that is not on the curve.
    let mut off_curve = der.clone();
    let last = off_curve.len() - 1;
    off_curve[last] ^= 0x01;
    match PublicKey::from_spki_der(&off_curve) {
        Err(KeyError::InvalidKey { reason, .. }) => {
            assert!(reason.contains("ecdsa-p256"), "{reason}")
        }
        other => panic!("expected InvalidKey, got {other:?}"),
    }
}

#[test]
fn unsupported_public_key_algorithms_are_named() {
    // A P-521 public key (from cosign's validecp521.key), as made by openssl.
    let p521 = "-----BEGIN PUBLIC KEY-----
MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQACwNtHlqk39nIaJCmgpsX54bNZVu9
PyfLJQcygRusdzoyV/sq6ZA6nvM6ZDdPBPkWQPEUhPU6m3F1RxrUerY9CDIBBZsm
1vnnya+J8/4gb3IRniINR7Tl+Vfe89G5sLAoEAg/C+HDXGJHjSWs68817XuWOQyu
FZvEBOCZLsehQsNfUIU=
-----END PUBLIC KEY-----
";
    match PublicKey::from_pem(p521, "p521.pub") {
        Err(KeyError::InvalidKey { what, reason }) => {
            assert_eq!(what, "p521.pub");
            assert!(
                reason.contains("P-521") && reason.contains("P-256"),
                "{reason}"
            );
        }
        other => panic!("expected InvalidKey, got {other:?}"),
    }
    // An Ed448 key (made with `openssl genpkey -algorithm ed448`).
    let ed448 = "-----BEGIN PUBLIC KEY-----
MEMwBQYDK2VxAzoAQWodaY+T2BTdinUjQWhMnSUfcbJh4I9e6lQfp1PYIMuLo8Zr
+hEyd0rKa1SKMK7jPCsMqzTQ6kYA
-----END PUBLIC KEY-----
";
    match PublicKey::from_pem(ed448, "ed448.pub") {
        Err(KeyError::InvalidKey { reason, .. }) => assert!(reason.contains("Ed448"), "{reason}"),
        other => panic!("expected InvalidKey, got {other:?}"),
    }
}

// ---------------------------------------------------------------- upstream signatures

#[test]
fn verifies_upstream_payload_signatures() {
    for name in ["emptyobject", "nonjson"] {
        let payload = data(&format!("{CI}/sigstore_payload_test/{name}.payload"));
        let sig_b64 = text(&format!("{CI}/sigstore_payload_test/{name}.sig.b64"));
        let sig = STANDARD.decode(sig_b64.trim()).unwrap();
        cosign_pub().verify(&payload, &sig).unwrap();
        match cosign2_pub().verify(&payload, &sig) {
            Err(KeyError::BadSignature {
                algorithm,
                fingerprint,
                ..
            }) => {
                assert_eq!(algorithm, "ecdsa-p256");
                assert_eq!(fingerprint, cosign2_pub().fingerprint());
            }
            other => panic!("expected BadSignature, got {other:?}"),
        }
        let mut other_payload = payload.clone();
        other_payload.push(b' ');
        assert!(cosign_pub().verify(&other_payload, &sig).is_err());
        assert!(
            cosign_pub()
                .verify(&payload, &flip(&sig, sig.len() - 1))
                .is_err()
        );
        assert!(cosign_pub().verify(&payload, &[]).is_err());
    }
}

/// The payload and signature of a containers/image `dir:` signature file.
fn read_dir_signature(rel: &str) -> (Vec<u8>, Vec<u8>) {
    let bytes = data(rel);
    let prefix = b"\x00sigstore-json\n";
    assert_eq!(&bytes[..prefix.len()], prefix);
    let json: serde_json::Value = serde_json::from_slice(&bytes[prefix.len()..]).unwrap();
    assert_eq!(
        json["mimeType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let payload = STANDARD.decode(json["payload"].as_str().unwrap()).unwrap();
    let sig = STANDARD
        .decode(
            json["annotations"]["dev.cosignproject.cosign/signature"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    (payload, sig)
}

#[test]
fn verifies_a_real_cosign_image_signature() {
    let dir = format!("{CI}/fixtures/dir-img-cosign-valid");
    let (payload, sig) = read_dir_signature(&format!("{dir}/signature-1"));
    cosign_pub().verify(&payload, &sig).unwrap();
    assert!(matches!(
        cosign2_pub().verify(&payload, &sig),
        Err(KeyError::BadSignature { .. })
    ));
    // The payload names the manifest it signs.
    let manifest_digest = Digest::sha256_of(&data(&format!("{dir}/manifest.json")));
    assert_eq!(
        manifest_digest.hex(),
        "634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"
    );
    let payload_json: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        payload_json["critical"]["image"]["docker-manifest-digest"],
        manifest_digest.to_string()
    );
    // A one-bit change anywhere in the payload breaks it.
    for i in [0, payload.len() / 2, payload.len() - 1] {
        assert!(cosign_pub().verify(&flip(&payload, i), &sig).is_err());
    }
}

// ---------------------------------------------------------------- signing keys

#[test]
fn generate_sign_verify_each_algorithm() {
    let message = b"hallmark test message";
    for alg in ALL {
        let key = SigningKey::generate(alg).unwrap();
        assert_eq!(key.algorithm(), alg);
        assert_eq!(key.public_key().algorithm(), alg);
        let sig = key.sign(message).unwrap();
        key.public_key().verify(message, &sig).unwrap();
        // A flipped bit in the message or the signature fails.
        assert!(
            key.public_key().verify(&flip(message, 3), &sig).is_err(),
            "{alg}"
        );
        for i in [0, sig.len() / 2, sig.len() - 1] {
            assert!(
                key.public_key().verify(message, &flip(&sig, i)).is_err(),
                "{alg}: flipped byte {i}"
            );
        }
        // A key of another algorithm fails, and so does another key of the same one.
        for other in ALL {
            let other_key = if other == KeyAlgorithm::Rsa && alg != KeyAlgorithm::Rsa {
                // RSA generation is slow; one is enough.
                continue;
            } else {
                SigningKey::generate(other).unwrap()
            };
            assert!(
                other_key.public_key().verify(message, &sig).is_err(),
                "{alg} signature verified with a {other} key"
            );
        }
        // Sizes as cosign produces them.
        match alg {
            KeyAlgorithm::Ed25519 => assert_eq!(sig.len(), 64),
            KeyAlgorithm::Rsa => assert_eq!(sig.len(), 384),
            _ => assert_eq!(sig[0], 0x30, "ECDSA signatures are DER"),
        }
    }
}

#[test]
fn pkcs8_round_trip_keeps_the_key() {
    for alg in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Ed25519,
    ] {
        let key = SigningKey::generate(alg).unwrap();
        let der = key.to_pkcs8_der();
        let again = SigningKey::from_pkcs8_der(&der, "round trip").unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(*again.to_pkcs8_der(), *der);
        let pem = key.to_pkcs8_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let from_pem = SigningKey::from_pem(&pem, "pem").unwrap();
        assert_eq!(from_pem.public_key(), key.public_key());
        // Signatures of the reloaded key verify with the original public key.
        let sig = again.sign(b"m").unwrap();
        key.public_key().verify(b"m", &sig).unwrap();
    }
}

#[test]
fn debug_never_shows_secret_material() {
    for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519] {
        let key = SigningKey::generate(alg).unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains(alg.name()), "{debug}");
        assert!(debug.contains(&key.public_key().fingerprint()), "{debug}");
        let der = key.to_pkcs8_der();
        // The last 16 bytes of the PKCS#8 are private (or public) key bytes; none of the
        // encodings of the private key may appear.
        let secret_tail = &der[der.len() - 16..];
        assert!(!debug.contains(&hex::encode(secret_tail)));
        assert!(!debug.contains(&STANDARD.encode(&der[..])));
        assert!(!debug.contains(&format!("{:?}", &der[..])));
        assert!(!debug.contains(&format!("{:?}", secret_tail)));
    }
}

#[test]
fn loads_upstream_plain_private_keys() {
    for (file, alg) in [
        (
            format!("{COSIGN_KEYS}/validecp256.key"),
            KeyAlgorithm::EcdsaP256,
        ),
        (
            format!("{COSIGN_KEYS}/validecp384.key"),
            KeyAlgorithm::EcdsaP384,
        ),
        (
            format!("{COSIGN_KEYS}/validecpkcs8.key"),
            KeyAlgorithm::EcdsaP256,
        ),
        (format!("{COSIGN_KEYS}/validrsa.key"), KeyAlgorithm::Rsa),
        (
            format!("{COSIGN_KEYS}/validrsapkcs1.key"),
            KeyAlgorithm::Rsa,
        ),
        (
            format!("{COSIGN_KEYS}/validrsapkcs8.key"),
            KeyAlgorithm::Rsa,
        ),
        (
            format!("{COSIGN_KEYS}/ed25519key.key"),
            KeyAlgorithm::Ed25519,
        ),
        (
            format!("{RS_KEYS}/ecdsa_private.key"),
            KeyAlgorithm::EcdsaP256,
        ),
        // PKCS#8 v2 (version 1) Ed25519.
        (
            format!("{RS_KEYS}/ed25519_private.key"),
            KeyAlgorithm::Ed25519,
        ),
        // PKCS#1, 4096 bits.
        (format!("{RS_KEYS}/rsa_private.key"), KeyAlgorithm::Rsa),
        (
            format!("{RS_IMPORT}/ECDSA_P256_ASN1_PRIVATE_PEM.key"),
            KeyAlgorithm::EcdsaP256,
        ),
    ] {
        let key = SigningKey::from_pem(&text(&file), &file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.algorithm(), alg, "{file}");
        let sig = key.sign(b"payload").unwrap();
        key.public_key().verify(b"payload", &sig).unwrap();
        // The PKCS#8 export loads again as the same key.
        let again = SigningKey::from_pkcs8_der(&key.to_pkcs8_der(), &file).unwrap();
        assert_eq!(again.public_key(), key.public_key(), "{file}");
    }
}

#[test]
fn sec1_and_pkcs1_match_their_public_keys() {
    // validrsa.key is the private half of invalidrsawithpubkey.key's public key.
    let private = SigningKey::from_pem(&text(&format!("{COSIGN_KEYS}/validrsa.key")), "k").unwrap();
    let public = PublicKey::from_pem(
        &text(&format!("{COSIGN_KEYS}/invalidrsawithpubkey.key")),
        "p",
    )
    .unwrap();
    assert_eq!(private.public_key(), &public);
    // The sigstore-rs example private keys, PEM and DER PKCS#8 (openssl-computed
    // fingerprints of their public halves).
    let pem = SigningKey::from_pem(
        &text(&format!("{RS_IMPORT}/ECDSA_P256_ASN1_PRIVATE_PEM.key")),
        "k",
    )
    .unwrap();
    let der = SigningKey::from_pkcs8_der(
        &data(&format!("{RS_IMPORT}/ECDSA_P256_ASN1_PRIVATE_DER.key")),
        "k",
    )
    .unwrap();
    assert_eq!(
        pem.public_key().fingerprint(),
        "68abaa4711af2d7fe998cac3ab3936802a09450129e98630c46f265bda59fb94"
    );
    assert_eq!(
        der.public_key().fingerprint(),
        "7d245313517f9e5415c9ae1c9dcacfb778eb111288751e1f8ca3a2cd3a74b78c"
    );
    // SEC1 P-256 and P-384 keys: compare with openssl's view of the same files.
    for (file, fingerprint) in [
        ("validecp256.key", VALIDECP256_FP),
        ("validecp384.key", VALIDECP384_FP),
        ("validrsapkcs1.key", VALIDRSAPKCS1_FP),
    ] {
        let key = SigningKey::from_pem(&text(&format!("{COSIGN_KEYS}/{file}")), file).unwrap();
        assert_eq!(key.public_key().fingerprint(), fingerprint, "{file}");
    }
}

fn invalid_reason(file: &str) -> String {
    match SigningKey::from_pem(&text(&format!("{COSIGN_KEYS}/{file}")), file) {
        Err(KeyError::InvalidKey { what, reason }) => {
            assert_eq!(what, file);
            reason
        }
        other => panic!("{file}: expected InvalidKey, got {other:?}"),
    }
}

#[test]
fn rejects_upstream_invalid_private_keys() {
    let r = invalid_reason("invalidrsasmallkey.key");
    assert!(r.contains("1024 bits") && r.contains("2048"), "{r}");
    let r = invalid_reason("invalidrsalargekey.key");
    assert!(r.contains("5120 bits") && r.contains("4096"), "{r}");
    let r = invalid_reason("invalidecp224.key");
    assert!(r.contains("P-224") && r.contains("P-256 or P-384"), "{r}");
    let r = invalid_reason("invalidecunsupported.key");
    assert!(r.contains("secp256k1"), "{r}");
    // cosign imports P-521; hallmark does not sign with it.
    let r = invalid_reason("validecp521.key");
    assert!(r.contains("P-521"), "{r}");

    match SigningKey::from_pem(
        &text(&format!("{COSIGN_KEYS}/invalidrsawithpubkey.key")),
        "k",
    ) {
        Err(KeyError::UnexpectedLabel {
            found, expected, ..
        }) => {
            assert_eq!(found, "PUBLIC KEY");
            assert!(expected.contains("RSA PRIVATE KEY"));
        }
        other => panic!("expected UnexpectedLabel, got {other:?}"),
    }
    match SigningKey::from_pem(&text(&format!("{COSIGN_KEYS}/invalidkey.key")), "k") {
        Err(KeyError::UnexpectedLabel { found, .. }) => assert_eq!(found, "PGP PRIVATE KEY BLOCK"),
        other => panic!("expected UnexpectedLabel, got {other:?}"),
    }
}

#[test]
fn rejects_p521_and_small_rsa_in_pkcs8_too() {
    // PKCS#8 forms made with `openssl pkcs8 -topk8 -nocrypt` from cosign's SEC1/PKCS#1 files.
    let p521 = "-----BEGIN PRIVATE KEY-----
MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIA3JhHw1bhJyNnK80S
PnvuIY9h++IaEhZcHR7SDHzMnFf72O5fF/RIc+Dbd9lTfrP3Oy9BOC1opvXHvr5t
qzV0MrehgYkDgYYABAALA20eWqTf2chokKaCmxfnhs1lW70/J8slBzKBG6x3OjJX
+yrpkDqe8zpkN08E+RZA8RSE9TqbcXVHGtR6tj0IMgEFmybW+efJr4nz/iBvchGe
Ig1HtOX5V97z0bmwsCgQCD8L4cNcYkeNJazrzzXte5Y5DK4Vm8QE4Jkux6FCw19Q
hQ==
-----END PRIVATE KEY-----
";
    match SigningKey::from_pem(p521, "p521") {
        Err(KeyError::InvalidKey { reason, .. }) => assert!(reason.contains("P-521"), "{reason}"),
        other => panic!("expected InvalidKey, got {other:?}"),
    }
    let rsa1024 = "-----BEGIN PRIVATE KEY-----
MIICdQIBADANBgkqhkiG9w0BAQEFAASCAl8wggJbAgEAAoGBAJibtTCszV8SwH6k
5qAoxHLUb2xfcD0xsL5r8b+Mj4ARGI2ELFp1BSeJyqzVy3vyZNIfXn4wlrf21iHD
CHbJ49QwDM/jJ6IWW4ICPGXwxA6qDZDSLb6O4XvYd6QHVGhePlOjuP2JgvvUXf4D
sL57C8xENBnrCwmVp2IzfFvHezCHAgMBAAECgYAqy29SCQNGZ/HHEeMCgqwkL2JX
l6PX5TlVDNwsBPSwyxqBhNETRMF/Ruqo8QMw7NZM/jL3XBTH3dZKfXDALvlONpFD
xhL27yUU3/sA2jvMS5wJIyWiYQmB29RGalInCwTLHTdb5UI9MjPVY0UbTggKctC+
KY6KFTqdqcMTy3hSgQJBAMoWkuyKkBEiBWxmv5XsKA3fc7ux25pm9qSr3KaAep3k
vUH5RKCUJVcEJhQ9OiZtP0uLx5wNmTr17ohpabU9v2ECQQDBUfJPMjcu7gsLH9Pq
ZM5olHVp2zpeUWpMpQ0Et3494vz1wmGeKA4B3R9oPiFbrUgXSUeM96YujdzqcZ40
84DnAkAgcs12k60cQyUxybG7hebMi3OO0LkdKqkxubK9PWXy0ladMEQXsJHqTe07
VLVwlBwUqkYLxZc0A2cgmiRyCI8hAkAkE2zKhq5xnY6GBux/A0zZi0rV9ElSLJNP
tkVVqgBvABsAqcOZxhPHGUKxK1cCSrX3Un99uQFUErk1Lvq9GuvlAkAZ1x8mucH1
QglCtOtdlZhIYKqQpIeFKsjhsvGsbYj4qVHIAD/EMeWuWsIrbrRcUKLjuukCjC0v
AHUltTAavrHR
-----END PRIVATE KEY-----
";
    match SigningKey::from_pem(rsa1024, "rsa1024") {
        Err(KeyError::InvalidKey { reason, .. }) => {
            assert!(reason.contains("1024 bits"), "{reason}")
        }
        other => panic!("expected InvalidKey, got {other:?}"),
    }
}

#[test]
fn private_key_garbage_is_an_error_not_a_panic() {
    let good = text(&format!("{COSIGN_KEYS}/validecp256.key"));
    let inputs = [
        String::new(),
        "garbage".to_string(),
        "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n".to_string(),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_string(),
        "-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n".to_string(),
        "-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n".to_string(),
        "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n".to_string(),
        "-----BEGIN PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nMAA=\n-----END PRIVATE KEY-----\n"
            .to_string(),
    ];
    for input in &inputs {
        assert!(SigningKey::from_pem(input, "x").is_err(), "{input:?}");
    }
    for cut in (0..good.len() - 1).step_by(7) {
        let r = SigningKey::from_pem(&good[..cut], "x");
        assert!(r.is_err(), "cut at {cut}");
    }
    let der = SigningKey::from_pem(&good, "x").unwrap().to_pkcs8_der();
    for cut in 0..der.len() {
        assert!(
            SigningKey::from_pkcs8_der(&der[..cut], "x").is_err(),
            "cut at {cut}"
        );
    }
}

/// Cross-check with OpenSSL, when it is installed: a key hallmark generates, exported as
/// plain PKCS#8 PEM, signs messages that `openssl dgst -verify` accepts.
#[test]
fn openssl_accepts_hallmark_signatures() {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("openssl not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let message = b"cross-checked with openssl";
    let msg_path = dir.path().join("msg");
    std::fs::write(&msg_path, message).unwrap();
    for (alg, digest) in [
        (KeyAlgorithm::EcdsaP256, "-sha256"),
        (KeyAlgorithm::EcdsaP384, "-sha384"),
        (KeyAlgorithm::Rsa, "-sha256"),
    ] {
        let key = SigningKey::generate(alg).unwrap();
        let pub_path = dir.path().join(format!("{alg}.pub"));
        let sig_path = dir.path().join(format!("{alg}.sig"));
        std::fs::write(&pub_path, key.public_key().to_pem()).unwrap();
        std::fs::write(&sig_path, key.sign(message).unwrap()).unwrap();
        let run = |sig: &std::path::Path| {
            std::process::Command::new("openssl")
                .args(["dgst", digest, "-verify"])
                .arg(&pub_path)
                .arg("-signature")
                .arg(sig)
                .arg(&msg_path)
                .output()
                .unwrap()
        };
        let out = run(&sig_path);
        assert!(
            out.status.success(),
            "{alg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // And it rejects a tampered signature.
        let bad_path = dir.path().join(format!("{alg}.bad"));
        let sig = std::fs::read(&sig_path).unwrap();
        std::fs::write(&bad_path, flip(&sig, sig.len() - 1)).unwrap();
        assert!(!run(&bad_path).status.success(), "{alg}");
        // openssl reads the exported private key and derives the same public key.
        let key_path = dir.path().join(format!("{alg}.key"));
        std::fs::write(&key_path, key.to_pkcs8_pem().as_bytes()).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&key_path)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            key.public_key().to_pem()
        );
    }
}

/// A small deterministic mutation run over the plain key files: random byte edits must give
/// errors or valid keys, never panics. (The cargo-fuzz targets in `fuzz/` go further.)
#[test]
fn mutated_key_files_never_panic() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let files = [
        format!("{CI}/fixtures/cosign.pub"),
        format!("{CI}/fixtures/some-rsa-key.pub"),
        format!("{COSIGN_KEYS}/validecp256.key"),
        format!("{COSIGN_KEYS}/validecpkcs8.key"),
        format!("{COSIGN_KEYS}/ed25519key.key"),
        format!("{COSIGN_KEYS}/validrsa.key"),
    ];
    for file in &files {
        let original = data(file);
        for _ in 0..300 {
            let mut bytes = original.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() % bytes.len() as u64) as usize;
                match next() % 3 {
                    0 => bytes[i] = (next() % 128) as u8,
                    1 => {
                        bytes.remove(i);
                    }
                    _ => bytes.truncate(i),
                }
                if bytes.is_empty() {
                    break;
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            let _ = PublicKey::from_pem(&text, "m");
            let _ = PublicKey::from_spki_der(&bytes);
            if let Ok(key) = SigningKey::from_pem(&text, "m") {
                let sig = key.sign(b"m").unwrap();
                key.public_key().verify(b"m", &sig).unwrap();
            }
            let _ = hallmark_core::keyfile::load_private_key(&text, None, "m");
        }
    }
}

/// SSH key IDs (what Go's DSSE verifiers compare a signature's `keyid` with) are OpenSSH's
/// SHA-256 fingerprints: the expected values were printed by `ssh-keygen -l` (OpenSSH 9.2) for
/// these keys (imported with `ssh-keygen -i -m PKCS8`; the Ed25519 key was made by ssh-keygen
/// and its 32 bytes put in a SubjectPublicKeyInfo). The RSA modulus has its top bit set, so its
/// SSH mpint takes a leading zero byte.
#[test]
fn ssh_key_ids_are_openssh_fingerprints() {
    let cases = [
        (
            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqLyOeba3Qc8zn3K+XUgT2gKzUkL+\n1hLp469HQngpiOYt2JyTbknZXRwsXuc4bZNKOaj/Y1kJiHUKXDehQXnmqg==\n-----END PUBLIC KEY-----\n",
            "SHA256:OhIFnCEcWmAMQa+73WXmPQ/zMNUmTi99aqSlmUl8eMA",
        ),
        (
            "-----BEGIN PUBLIC KEY-----\nMHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEudkFu+mV3Rf2ugDhzfK6niayuvXmJEy9\n59vESujvNqMiF8aOWpctCz3Ng1z5rU4guUHcpJfbDDg+Ql36VpENS5zeuCLh4dxu\nYoxRrrrBkAcfalJ0tK1PRd3N37eYmYmf\n-----END PUBLIC KEY-----\n",
            "SHA256:0rPxp6V4UQ8OY1Z+4AEeXLrD2PIe4uJ9UmC0tQ6qiqw",
        ),
        (
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAONE7fU+pPNU2IzDWHqCt9Bz2bvL8b6cuerZVFtiv2JU=\n-----END PUBLIC KEY-----\n",
            "SHA256:+HIBRzSYmRdIzZ62hYjXg0xOC5pUh6YdRnXg5o/7hHg",
        ),
        (
            "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAvy3rbV/b6pUmqGAbQ3X8\nhAvaUvNZeb36OtChvW1iFC1fhOQyCQzBLouSkFevX9otGQUqDq7yBlqRoiX0Oybg\nZuzUhgLxfWiSNFTjPAqXDlxMpWFWwyLHmMANbZHx3AsnjoG+9nJLNAbH/htgC2y9\nMZTV8exs819iYejlnnbcc2FlXHRQtoB6fuVUxsUmwBiHYCJPCkpUlHoRI3yh5Dkd\nbz9GFqLtavDsog8Cm9C6Qi5/xQqzPfeqjPdxwhP/r//e4hHoaq7l3JBLjGqiHmpE\noGRoFg1Bo4HoE68e2jyotP86K1jbfdVgScCITcTE6Tcw1JZv+yQmVD4ANBQR4nq3\nVwIDAQAB\n-----END PUBLIC KEY-----\n",
            "SHA256:QRO8KDSvL9NOOXpy78T0H8nTZHy6BhbpQWxECGqbUR4",
        ),
    ];
    for (pem, expected) in cases {
        let key = PublicKey::from_pem(pem, "test key").expect("key");
        assert_eq!(
            key.ssh_key_id().as_deref(),
            Some(expected),
            "{}",
            key.algorithm()
        );
    }
}
