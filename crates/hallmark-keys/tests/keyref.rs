//! Key reference parsing and redaction.

use hallmark_keys::{KeyRef, KeysError};

#[test]
fn plain_path_is_a_file() {
    let r = KeyRef::parse("keys/cosign.key").expect("parse");
    assert!(matches!(&r, KeyRef::File(p) if p.to_str() == Some("keys/cosign.key")));
    assert_eq!(r.scheme(), "file");
    assert_eq!(r.to_string(), "keys/cosign.key");
}

#[test]
fn env_reference() {
    let r = KeyRef::parse("env://COSIGN_KEY").expect("parse");
    assert!(matches!(&r, KeyRef::Env(v) if v == "COSIGN_KEY"));
    assert!(matches!(
        KeyRef::parse("env://"),
        Err(KeysError::InvalidReference { .. })
    ));
    assert!(KeyRef::parse("env://A-B").is_err());
}

#[test]
fn awskms_forms_of_cosign() {
    let cases = [
        (
            "awskms:///1234abcd-12ab-34cd-56ef-1234567890ab",
            None,
            "1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
        ("awskms:///alias/release", None, "alias/release"),
        (
            "awskms:///arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            None,
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
        (
            "awskms://localhost:4566/alias/x",
            Some("localhost:4566"),
            "alias/x",
        ),
    ];
    for (s, endpoint, key) in cases {
        match KeyRef::parse(s).expect(s) {
            KeyRef::AwsKms {
                endpoint: e,
                key_id,
            } => {
                assert_eq!(e.as_deref(), endpoint, "{s}");
                assert_eq!(key_id, key, "{s}");
            }
            other => panic!("{s}: {other:?}"),
        }
        assert_eq!(KeyRef::parse(s).expect(s).to_string(), s);
    }
    for bad in [
        "awskms://",
        "awskms:///",
        "awskms:///alias/",
        "awskms:///has space",
    ] {
        let e = KeyRef::parse(bad).expect_err(bad);
        assert!(e.to_string().contains("expected"), "{bad}: {e}");
    }
}

#[test]
fn awssm_with_query() {
    let r =
        KeyRef::parse("awssm://release/cosign-key?passphrase-secret=release/pass&region=eu-west-1")
            .expect("parse");
    match &r {
        KeyRef::AwsSecret {
            secret,
            passphrase_secret,
            region,
        } => {
            assert_eq!(secret, "release/cosign-key");
            assert_eq!(passphrase_secret.as_deref(), Some("release/pass"));
            assert_eq!(region.as_deref(), Some("eu-west-1"));
        }
        other => panic!("{other:?}"),
    }
    let e = KeyRef::parse("awssm://k?colour=blue").expect_err("unknown parameter");
    assert!(e.to_string().contains("colour"), "{e}");
    assert!(KeyRef::parse("awssm://?region=x").is_err());
}

#[test]
fn hashivault_names() {
    assert!(matches!(
        KeyRef::parse("hashivault://release-key").expect("parse"),
        KeyRef::Vault { key } if key == "release-key"
    ));
    assert!(KeyRef::parse("hashivault://").is_err());
    assert!(KeyRef::parse("hashivault://a/b").is_err());
}

#[test]
fn unknown_schemes_are_refused_not_read_as_files() {
    for s in [
        "k8s://ns/secret",
        "gcpkms://projects/p",
        "azurekms://v.vault.azure.net/k",
    ] {
        let e = KeyRef::parse(s).expect_err(s);
        assert!(matches!(e, KeysError::Unsupported { .. }), "{s}: {e}");
        assert!(
            e.to_string().contains("unsupported key reference scheme"),
            "{e}"
        );
    }
}

#[test]
fn pkcs11_uri_attributes() {
    let s = "pkcs11:token=my%20token;object=sig-key;id=%01%a2;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=12%2634";
    let r = KeyRef::parse(s).expect("parse");
    let KeyRef::Pkcs11(uri) = &r else {
        panic!("{r:?}")
    };
    assert_eq!(uri.token.as_deref(), Some("my token"));
    assert_eq!(uri.object.as_deref(), Some("sig-key"));
    assert_eq!(uri.id.as_deref(), Some(&[0x01, 0xa2][..]));
    assert_eq!(
        uri.module_path.as_deref().and_then(|p| p.to_str()),
        Some("/usr/lib/softhsm/libsofthsm2.so")
    );
    assert!(uri.has_pin());
    let shown = r.to_string();
    assert!(
        !shown.contains("12&34") && !shown.contains("12%2634"),
        "{shown}"
    );
    assert!(shown.contains("pin-value=<redacted>"), "{shown}");
    let debug = format!("{r:?} {uri:?}");
    assert!(
        !debug.contains("12&34") && !debug.contains("2634"),
        "{debug}"
    );
}

#[test]
fn pkcs11_errors_never_show_the_pin() {
    let cases = [
        "pkcs11:token=t?pin-value=s3cret-pin",
        "pkcs11:token=t;object=k;bogus=1?pin-value=s3cret-pin",
        "pkcs11:token=t;object=k?pin-value=s3cret-pin&pin-value=s3cret-pin",
        "pkcs11:token=t;object=k;id=%zz?pin-value=s3cret-pin",
        "pkcs11:token=t;object=k?pin-value=s3cret-pin&pin-source=file:/x",
    ];
    for s in cases {
        let e = KeyRef::parse(s).expect_err(s);
        let text = format!("{e} {e:?}");
        assert!(!text.contains("s3cret-pin"), "{s}: {text}");
        assert!(text.contains("<redacted>"), "{s}: {text}");
    }
}

#[test]
fn pkcs11_needs_object_or_id() {
    let e = KeyRef::parse("pkcs11:token=t").expect_err("no key named");
    assert!(e.to_string().contains("object=LABEL or id="), "{e}");
}
