use crate::support::{pass, text};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::aead::{Aead as _, KeyInit as _};
use crypto_secretbox::{Key, Nonce, XSalsa20Poly1305};
use hallmark_core::keyfile::{
    COSIGN_LABEL, SIGSTORE_LABEL, decrypt_cosign_key, encrypt_cosign_key, is_encrypted_cosign_key,
    load_private_key,
};
use hallmark_core::{KeyAlgorithm, KeyError, SigningKey};

const COSIGN_KEYS: &str = "vectors/cosign/keys_test";
const RS_KEYS: &str = "vectors/sigstore-rs/keys";
const RS_IMPORT: &str = "vectors/sigstore-rs/key_pair_import";

/// The JSON inside an encrypted key PEM.
fn envelope_of(pem: &str) -> serde_json::Value {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    serde_json::from_slice(&STANDARD.decode(body).unwrap()).unwrap()
}

/// Wrap JSON in a PEM with `label`.
fn pem_of(label: &str, json: &[u8]) -> String {
    let b64 = STANDARD.encode(json);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Encrypt `pkcs8` the way cosign does, with chosen scrypt parameters, independently of
/// hallmark's encoder.
fn handmade(pkcs8: &[u8], password: &str, log_n: u8, r: u32, p: u32) -> String {
    let salt = [7u8; 32];
    let nonce = [9u8; 24];
    let params = scrypt::Params::new(log_n, r, p).unwrap();
    let mut key = [0u8; 32];
    scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key).unwrap();
    let ciphertext = XSalsa20Poly1305::new(Key::from_slice(&key))
        .encrypt(Nonce::from_slice(&nonce), pkcs8)
        .unwrap();
    let json = format!(
        r#"{{"kdf":{{"name":"scrypt","params":{{"N":{},"r":{r},"p":{p}}},"salt":"{}"}},"cipher":{{"name":"nacl/secretbox","nonce":"{}"}},"ciphertext":"{}"}}"#,
        1u64 << log_n,
        STANDARD.encode(salt),
        STANDARD.encode(nonce),
        STANDARD.encode(ciphertext)
    );
    pem_of(SIGSTORE_LABEL, json.as_bytes())
}

/// Replace a field of the envelope and re-wrap it.
fn edit_envelope(pem: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut env = envelope_of(pem);
    edit(&mut env);
    pem_of(COSIGN_LABEL, &serde_json::to_vec(&env).unwrap())
}

fn expect_malformed(pem: &str, needle: &str) {
    match decrypt_cosign_key(pem, &pass("pw"), "k.key") {
        Err(KeyError::MalformedEnvelope { what, reason }) => {
            assert_eq!(what, "k.key");
            assert!(reason.contains(needle), "{reason:?} lacks {needle:?}");
        }
        other => panic!("expected MalformedEnvelope({needle}), got {other:?}"),
    }
}

// ---------------------------------------------------------------- upstream keys

#[test]
fn decrypts_upstream_encrypted_keys() {
    for (file, password, alg) in [
        (
            format!("{RS_KEYS}/ecdsa_encrypted_private.key"),
            "123",
            KeyAlgorithm::EcdsaP256,
        ),
        // N=65536, empty password, made by cosign.
        (
            format!("{RS_KEYS}/cosign_generated_encrypted_empty_private.key"),
            "",
            KeyAlgorithm::EcdsaP256,
        ),
        // PKCS#8 v2 inside, CRLF line endings.
        (
            format!("{RS_KEYS}/ed25519_encrypted_private.key"),
            "123",
            KeyAlgorithm::Ed25519,
        ),
        (
            format!("{RS_KEYS}/rsa_encrypted_private.key"),
            "123",
            KeyAlgorithm::Rsa,
        ),
        (
            format!("{RS_IMPORT}/ECDSA_P256_ASN1_ENCRYPTED_PRIVATE_PEM.key"),
            "password",
            KeyAlgorithm::EcdsaP256,
        ),
        (
            format!("{COSIGN_KEYS}/pemcosignkey.key"),
            "hello",
            KeyAlgorithm::EcdsaP256,
        ),
        (
            format!("{COSIGN_KEYS}/pemsigstorekey.key"),
            "hello",
            KeyAlgorithm::EcdsaP256,
        ),
    ] {
        let pem = text(&file);
        assert!(is_encrypted_cosign_key(&pem), "{file}");
        let key = decrypt_cosign_key(&pem, &pass(password), &file)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(key.algorithm(), alg, "{file}");
        let via_load = load_private_key(&pem, Some(&pass(password)), &file).unwrap();
        assert_eq!(via_load.public_key(), key.public_key());
        let sig = key.sign(b"m").unwrap();
        key.public_key().verify(b"m", &sig).unwrap();

        match decrypt_cosign_key(&pem, &pass("wrong"), &file) {
            Err(KeyError::WrongPassphrase { what }) => assert_eq!(what, file),
            other => panic!("{file}: expected WrongPassphrase, got {other:?}"),
        }
        match load_private_key(&pem, None, &file) {
            Err(e @ KeyError::PassphraseRequired { .. }) => {
                assert!(e.to_string().contains("passphrase is required"), "{e}")
            }
            other => panic!("{file}: expected PassphraseRequired, got {other:?}"),
        }
    }
}

#[test]
fn sec1_inside_an_encrypted_key_is_rejected_after_decryption() {
    // cosign decrypts this key with `hello` but refuses its SEC1 plaintext; so do we, and the
    // error says so (it is not a wrong passphrase).
    let pem = text(&format!("{COSIGN_KEYS}/pemcosigneckey.key"));
    match decrypt_cosign_key(&pem, &pass("hello"), "ec.key") {
        Err(KeyError::InvalidKey { what, reason }) => {
            assert_eq!(what, "ec.key");
            assert!(
                reason.contains("SEC1") && reason.contains("PKCS#8"),
                "{reason}"
            );
        }
        other => panic!("expected InvalidKey, got {other:?}"),
    }
    assert!(matches!(
        decrypt_cosign_key(&pem, &pass("hell"), "ec.key"),
        Err(KeyError::WrongPassphrase { .. })
    ));
}

#[test]
fn plain_keys_load_with_or_without_a_passphrase() {
    let pem = text(&format!("{RS_KEYS}/ecdsa_private.key"));
    assert!(!is_encrypted_cosign_key(&pem));
    let a = load_private_key(&pem, None, "k").unwrap();
    let b = load_private_key(&pem, Some(&pass("")), "k").unwrap();
    let c = load_private_key(&pem, Some(&pass("123")), "k").unwrap();
    assert_eq!(a.public_key(), b.public_key());
    assert_eq!(a.public_key(), c.public_key());
    // decrypt_cosign_key itself wants an encrypted key.
    match decrypt_cosign_key(&pem, &pass(""), "k") {
        Err(KeyError::UnexpectedLabel {
            found, expected, ..
        }) => {
            assert_eq!(found, "PRIVATE KEY");
            assert!(expected.contains(COSIGN_LABEL) && expected.contains(SIGSTORE_LABEL));
        }
        other => panic!("expected UnexpectedLabel, got {other:?}"),
    }
}

/// cosign's import test: every importable plain key, re-encrypted with `hello`, loads again.
#[test]
fn imported_keys_reencrypt_and_load() {
    for file in [
        "validrsa.key",
        "validrsapkcs1.key",
        "validrsapkcs8.key",
        "validecp256.key",
        "validecp384.key",
        "validecpkcs8.key",
        "ed25519key.key",
    ] {
        let plain = text(&format!("{COSIGN_KEYS}/{file}"));
        let key = load_private_key(&plain, None, file).unwrap();
        let encrypted = encrypt_cosign_key(&key, &pass("hello")).unwrap();
        let again = load_private_key(&encrypted, Some(&pass("hello")), file).unwrap();
        assert_eq!(again.public_key(), key.public_key(), "{file}");
    }
}

#[test]
fn load_reports_all_accepted_labels() {
    match load_private_key(&text(&format!("{COSIGN_KEYS}/invalidkey.key")), None, "pgp") {
        Err(KeyError::UnexpectedLabel {
            found, expected, ..
        }) => {
            assert_eq!(found, "PGP PRIVATE KEY BLOCK");
            assert!(expected.contains(COSIGN_LABEL) && expected.contains("EC PRIVATE KEY"));
        }
        other => panic!("expected UnexpectedLabel, got {other:?}"),
    }
}

// ---------------------------------------------------------------- hallmark's own files

#[test]
fn round_trip_each_algorithm() {
    for alg in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Ed25519,
        KeyAlgorithm::Rsa,
    ] {
        let key = SigningKey::generate(alg).unwrap();
        let pem = encrypt_cosign_key(&key, &pass("correct horse")).unwrap();
        assert!(pem.starts_with(&format!("-----BEGIN {COSIGN_LABEL}-----\n")));
        assert!(pem.ends_with(&format!("-----END {COSIGN_LABEL}-----\n")));
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert!(is_encrypted_cosign_key(&pem));
        let back = decrypt_cosign_key(&pem, &pass("correct horse"), "k").unwrap();
        assert_eq!(back.algorithm(), alg);
        assert_eq!(back.public_key(), key.public_key());
        assert_eq!(*back.to_pkcs8_der(), *key.to_pkcs8_der());
        assert!(matches!(
            decrypt_cosign_key(&pem, &pass("correct horse "), "k"),
            Err(KeyError::WrongPassphrase { .. })
        ));
    }
}

#[test]
fn envelope_has_cosigns_exact_shape() {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let pem = encrypt_cosign_key(&key, &pass("pw")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let json = String::from_utf8(STANDARD.decode(body).unwrap()).unwrap();
    assert!(
        json.starts_with(r#"{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":""#),
        "{json}"
    );
    assert!(
        json.contains(r#""},"cipher":{"name":"nacl/secretbox","nonce":""#),
        "{json}"
    );
    assert!(
        json.contains(r#""},"ciphertext":""#) && json.ends_with("\"}"),
        "{json}"
    );
    let env = envelope_of(&pem);
    let salt = STANDARD
        .decode(env["kdf"]["salt"].as_str().unwrap())
        .unwrap();
    let nonce = STANDARD
        .decode(env["cipher"]["nonce"].as_str().unwrap())
        .unwrap();
    let ct = STANDARD
        .decode(env["ciphertext"].as_str().unwrap())
        .unwrap();
    assert_eq!(salt.len(), 32);
    assert_eq!(nonce.len(), 24);
    assert_eq!(ct.len(), key.to_pkcs8_der().len() + 16);
    // The plaintext is the PKCS#8 DER: decrypt it independently.
    let params = scrypt::Params::new(15, 8, 1).unwrap();
    let mut k = [0u8; 32];
    scrypt::scrypt(b"pw", &salt, &params, &mut k).unwrap();
    let plain = XSalsa20Poly1305::new(Key::from_slice(&k))
        .decrypt(Nonce::from_slice(&nonce), ct.as_slice())
        .unwrap();
    assert_eq!(plain, *key.to_pkcs8_der());
    // Fresh salt and nonce every time.
    let env2 = envelope_of(&encrypt_cosign_key(&key, &pass("pw")).unwrap());
    assert_ne!(env["kdf"]["salt"], env2["kdf"]["salt"]);
    assert_ne!(env["cipher"]["nonce"], env2["cipher"]["nonce"]);
}

#[test]
fn empty_passphrase_works() {
    let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let pem = encrypt_cosign_key(&key, &pass("")).unwrap();
    let back = load_private_key(&pem, Some(&pass("")), "k").unwrap();
    assert_eq!(back.public_key(), key.public_key());
    assert!(matches!(
        decrypt_cosign_key(&pem, &pass(" "), "k"),
        Err(KeyError::WrongPassphrase { .. })
    ));
}

#[test]
fn larger_scrypt_costs_decrypt() {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    for log_n in [16u8, 17] {
        let pem = handmade(&key.to_pkcs8_der(), "pw", log_n, 8, 1);
        let back = decrypt_cosign_key(&pem, &pass("pw"), "k").unwrap();
        assert_eq!(back.public_key(), key.public_key(), "log_n {log_n}");
    }
}

#[test]
fn unsupported_scrypt_parameters_are_rejected() {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let pem = encrypt_cosign_key(&key, &pass("pw")).unwrap();
    for (n, r, p) in [
        (16384u64, 8u32, 1u32),
        (262144, 8, 1),
        (32768, 16, 1),
        (32768, 8, 2),
        (0, 8, 1),
        (32767, 8, 1),
    ] {
        let edited = edit_envelope(&pem, |env| {
            env["kdf"]["params"] = serde_json::json!({"N": n, "r": r, "p": p});
        });
        match decrypt_cosign_key(&edited, &pass("pw"), "k") {
            Err(e @ KeyError::UnsupportedKdf { .. }) => {
                let KeyError::UnsupportedKdf {
                    n: en,
                    r: er,
                    p: ep,
                    ..
                } = e
                else {
                    unreachable!()
                };
                assert_eq!((en, er, ep), (n, r, p));
                let msg = e.to_string();
                assert!(
                    msg.contains(&format!("N={n}")) && msg.contains("32768"),
                    "{msg}"
                );
            }
            other => panic!("N={n} r={r} p={p}: expected UnsupportedKdf, got {other:?}"),
        }
    }
}

#[test]
fn malformed_envelopes_are_named() {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let pem = encrypt_cosign_key(&key, &pass("pw")).unwrap();
    expect_malformed(
        &edit_envelope(&pem, |e| e["kdf"]["name"] = "argon2id".into()),
        "argon2id",
    );
    expect_malformed(
        &edit_envelope(&pem, |e| e["cipher"]["name"] = "aes-gcm".into()),
        "aes-gcm",
    );
    expect_malformed(
        &edit_envelope(&pem, |e| {
            e["cipher"]["nonce"] = STANDARD.encode([0u8; 12]).into()
        }),
        "12 bytes; expected 24",
    );
    expect_malformed(
        &edit_envelope(&pem, |e| e["kdf"]["salt"] = "".into()),
        "salt is empty",
    );
    expect_malformed(
        &edit_envelope(&pem, |e| e["kdf"]["salt"] = "%%%".into()),
        "kdf.salt",
    );
    expect_malformed(
        &edit_envelope(&pem, |e| {
            e["ciphertext"] = STANDARD.encode([1u8; 10]).into()
        }),
        "ciphertext is 10 bytes",
    );
    expect_malformed(
        &edit_envelope(&pem, |e| {
            e.as_object_mut().unwrap().remove("cipher");
        }),
        "cipher",
    );
    expect_malformed(
        &edit_envelope(&pem, |e| e["kdf"]["params"]["N"] = "32768".into()),
        "expected JSON",
    );
    expect_malformed(&pem_of(COSIGN_LABEL, b"not json"), "expected JSON");
    expect_malformed(&pem_of(COSIGN_LABEL, b"[]"), "expected JSON");
}

#[test]
fn tampered_ciphertext_is_a_wrong_passphrase() {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let pem = encrypt_cosign_key(&key, &pass("pw")).unwrap();
    let env = envelope_of(&pem);
    let ct = STANDARD
        .decode(env["ciphertext"].as_str().unwrap())
        .unwrap();
    for i in [0, 15, 16, ct.len() - 1] {
        let mut bad = ct.clone();
        bad[i] ^= 0x80;
        let edited = edit_envelope(&pem, |e| e["ciphertext"] = STANDARD.encode(&bad).into());
        assert!(
            matches!(
                decrypt_cosign_key(&edited, &pass("pw"), "k"),
                Err(KeyError::WrongPassphrase { .. })
            ),
            "byte {i}"
        );
    }
    // A different salt derives a different key: same result.
    let edited = edit_envelope(&pem, |e| {
        e["kdf"]["salt"] = STANDARD.encode([0u8; 32]).into()
    });
    assert!(matches!(
        decrypt_cosign_key(&edited, &pass("pw"), "k"),
        Err(KeyError::WrongPassphrase { .. })
    ));
}

#[test]
fn garbage_and_truncation_give_errors_not_panics() {
    for input in [
        "",
        "hello",
        "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n",
        "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n",
        "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n!!!!\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n",
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n",
    ] {
        match load_private_key(input, Some(&pass("pw")), "g") {
            Err(KeyError::Pem { .. } | KeyError::MalformedEnvelope { .. }) => {}
            other => panic!("{input:?}: expected Pem or MalformedEnvelope, got {other:?}"),
        }
    }
    // Cut an encrypted key at many points: every cut that loses part of the block fails
    // cleanly with a Pem or MalformedEnvelope error, before any scrypt work.
    let pem = text(&format!("{COSIGN_KEYS}/pemsigstorekey.key"));
    let end = pem.find("-----END").unwrap();
    for cut in (0..end + 8).step_by(5) {
        match load_private_key(&pem[..cut], Some(&pass("hello")), "cut") {
            Err(KeyError::Pem { .. } | KeyError::MalformedEnvelope { .. }) => {}
            Err(KeyError::UnexpectedLabel { .. }) if cut < 45 => {}
            other => panic!("cut at {cut}: expected Pem or MalformedEnvelope, got {other:?}"),
        }
    }
}
