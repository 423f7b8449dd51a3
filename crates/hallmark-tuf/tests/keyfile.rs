//! Tests of notary private key files (`hallmark_tuf::keyfile`): encrypt/decrypt round trips,
//! key IDs, wrong passphrases, and the PEM header lines notary 0.7.0 writes.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use hallmark_tuf::keyfile::{
    KeyFileError, PEM_LABEL, PrivateKey, key_file_name, parse_pem, read_key_file, write_key_file,
    write_key_file_with,
};
use hallmark_tuf::{KeyType, TufKey};

const HEADER_DELEGATION: &str = include_str!("data/notary-0.7.0/keyfile/header-delegation.txt");
const HEADER_TARGETS: &str = include_str!("data/notary-0.7.0/keyfile/header-targets.txt");

fn ecdsa_key() -> (PrivateKey, String) {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let sec1 = pair.private_key().as_der().unwrap();
    let spki = pair.public_key().as_der().unwrap();
    let id = TufKey::new(KeyType::Ecdsa, spki.as_ref().to_vec())
        .unwrap()
        .key_id();
    (PrivateKey::from_ecdsa_sec1_der(sec1.as_ref()).unwrap(), id)
}

#[test]
fn ecdsa_key_round_trips_with_role_and_gun() {
    let (key, id) = ecdsa_key();
    assert_eq!(key.key_id(), id, "key ID is notary's ID of the public key");
    assert_eq!(key_file_name(&key), format!("{id}.key"));
    let text = write_key_file(&key, "targets", Some("example.com/demo/app"), b"hunter2").unwrap();
    assert!(text.starts_with(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\ngun: example.com/demo/app\nrole: targets\n\n"
    ));
    assert!(text.ends_with("-----END ENCRYPTED PRIVATE KEY-----\n"));
    assert!(
        text.lines()
            .all(|l| l.len() <= 64 || l.starts_with("-----"))
    );

    let file = read_key_file(&text, b"hunter2").unwrap();
    assert_eq!(file.role, "targets");
    assert_eq!(file.gun.as_deref(), Some("example.com/demo/app"));
    assert_eq!(file.key.key_type(), KeyType::Ecdsa);
    assert_eq!(file.key.key_id(), id);
    assert_eq!(file.key.secret_bytes(), key.secret_bytes());
}

#[test]
fn ed25519_key_round_trips_as_notary_lays_it_out() {
    let key = PrivateKey::from_ed25519_seed(&[7u8; 32]).unwrap();
    let raw = key.secret_bytes();
    assert_eq!(raw.len(), 96);
    assert_eq!(&raw[..32], &raw[64..], "public || seed || public");
    assert_eq!(&raw[32..64], &[7u8; 32]);
    let expected = TufKey::new(KeyType::Ed25519, raw[..32].to_vec())
        .unwrap()
        .key_id();
    assert_eq!(key.key_id(), expected);

    let text = write_key_file(&key, "alice", None, b"pw").unwrap();
    assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\nrole: alice\n\n"));
    let file = read_key_file(&text, b"pw").unwrap();
    assert_eq!(file.role, "alice");
    assert_eq!(file.gun, None);
    assert_eq!(file.key.key_type(), KeyType::Ed25519);
    assert_eq!(file.key.key_id(), expected);
}

#[test]
fn wrong_passphrase_is_a_typed_error() {
    let (key, _) = ecdsa_key();
    let text = write_key_file(&key, "root", None, b"right").unwrap();
    for wrong in [&b"wrong"[..], b"", b"right "] {
        assert_eq!(
            read_key_file(&text, wrong).unwrap_err(),
            KeyFileError::WrongPassphrase
        );
    }
    let ed = PrivateKey::from_ed25519_seed(&[1u8; 32]).unwrap();
    let text = write_key_file(&ed, "targets", Some("g"), b"right").unwrap();
    assert_eq!(
        read_key_file(&text, b"wrong").unwrap_err(),
        KeyFileError::WrongPassphrase
    );
}

#[test]
fn fixed_salt_and_iv_give_the_same_file_and_root_has_no_gun() {
    let key = PrivateKey::from_ed25519_seed(&[9u8; 32]).unwrap();
    let a =
        write_key_file_with(&key, "root", Some("example.com/x"), b"p", &[1; 8], &[2; 16]).unwrap();
    let b =
        write_key_file_with(&key, "root", Some("example.com/x"), b"p", &[1; 8], &[2; 16]).unwrap();
    assert_eq!(a, b);
    assert!(a.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\nrole: root\n\n"));
    let block = parse_pem(&a).unwrap();
    assert_eq!(block.headers.gun(), None);
    // PBES2 / PBKDF2 (8-byte salt, 2048 iterations, default HMAC-SHA1) / AES-256-CBC.
    let der = block.der;
    let has = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
    assert!(has(&[
        0x04, 0x08, 1, 1, 1, 1, 1, 1, 1, 1, 0x02, 0x02, 0x08, 0x00
    ]));
    assert!(has(&[
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a, 0x04, 0x10
    ]));
    assert!(
        !has(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09]),
        "no prf field"
    );
    assert_eq!(read_key_file(&a, b"p").unwrap().key.key_id(), key.key_id());
}

#[test]
fn notary_header_lines_parse() {
    let body = "MAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let delegation = parse_pem(&format!("{HEADER_DELEGATION}{body}")).unwrap();
    assert_eq!(delegation.label, PEM_LABEL);
    assert_eq!(delegation.headers.role(), Some("alice"));
    assert_eq!(delegation.headers.gun(), None);
    assert_eq!(delegation.der, [0x30, 0x00]);

    // This example stops right after its headers; the blank line follows in the file.
    let targets = parse_pem(&format!("{HEADER_TARGETS}\n{body}")).unwrap();
    assert_eq!(targets.headers.role(), Some("targets"));
    assert_eq!(targets.headers.gun(), Some("example.com/demo/throwaway"));
    assert_eq!(
        targets.headers.headers,
        [
            ("gun".to_string(), "example.com/demo/throwaway".to_string()),
            ("role".to_string(), "targets".to_string())
        ]
    );
}

#[test]
fn malformed_files_are_rejected_with_typed_errors() {
    let (key, _) = ecdsa_key();
    let text = write_key_file(&key, "targets", Some("g"), b"p").unwrap();

    let relabelled = text.replace("ENCRYPTED PRIVATE KEY", "PRIVATE KEY");
    assert!(matches!(
        read_key_file(&relabelled, b"p"),
        Err(KeyFileError::WrongLabel { .. })
    ));
    let no_role = text.replace("role: targets\n", "");
    assert_eq!(
        read_key_file(&no_role, b"p").unwrap_err(),
        KeyFileError::MissingRole
    );
    let truncated = text.replace("-----END ENCRYPTED PRIVATE KEY-----\n", "");
    assert!(matches!(
        read_key_file(&truncated, b"p"),
        Err(KeyFileError::Armor { .. })
    ));
    assert!(matches!(
        read_key_file(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nrole: x\n\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n",
            b"p"
        ),
        Err(KeyFileError::Malformed { .. })
    ));
    assert!(matches!(
        PrivateKey::from_notary_ed25519(&[0u8; 64]),
        Err(KeyFileError::InvalidKey { .. })
    ));
}

#[test]
fn reads_a_key_encrypted_by_openssl_in_notarys_scheme() {
    use base64::Engine as _;
    let text = include_str!("data/notary-0.7.0/keyfile/openssl-ecdsa.key");
    let public = include_str!("data/notary-0.7.0/keyfile/openssl-ecdsa.pub");
    let spki: String = public.lines().filter(|l| !l.starts_with("-----")).collect();
    let spki = base64::engine::general_purpose::STANDARD
        .decode(spki)
        .unwrap();
    let id = TufKey::new(KeyType::Ecdsa, spki).unwrap().key_id();

    let file = read_key_file(text, b"openssl-pass").unwrap();
    assert_eq!(file.role, "openssl");
    assert_eq!(file.key.key_type(), KeyType::Ecdsa);
    assert_eq!(file.key.key_id(), id);
    assert_eq!(
        read_key_file(text, b"notary").unwrap_err(),
        KeyFileError::WrongPassphrase
    );
}

#[test]
fn private_key_debug_shows_no_secret_bytes() {
    use base64::Engine as _;
    for key_type in [KeyType::Ecdsa, KeyType::Ed25519] {
        let key = PrivateKey::generate(key_type).unwrap();
        let secret = key.secret_bytes();
        let shown = format!("{key:?} {key:#?}");
        assert!(shown.contains(&key.key_id()), "{shown}");
        let tail = &secret[secret.len() - 16..];
        for needle in [
            hex::encode(secret),
            hex::encode(tail),
            base64::engine::general_purpose::STANDARD.encode(secret),
            format!("{secret:?}"),
            format!("{tail:?}"),
        ] {
            assert!(!shown.contains(&needle), "{key_type:?}: {shown}");
        }
    }
}
