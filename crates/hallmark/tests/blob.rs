//! `hallmark sign-blob` / `verify-blob`.

use crate::util::{World, openssl, run_tool};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use std::ffi::OsStr;

#[test]
fn sign_blob_round_trip() {
    let w = World::new();
    let k = w.key("k", "pw");
    std::fs::write(w.path("artifact.tar"), b"some release artifact\x00\x01\x02").unwrap();
    let out = w
        .hm([
            "sign-blob",
            "--key",
            "k.key",
            "--output-signature",
            "artifact.sig",
            "artifact.tar",
        ])
        .pw("pw")
        .run();
    out.success();
    let sig = out.stdout.trim().to_owned();
    assert!(
        STANDARD.decode(&sig).is_ok(),
        "sign-blob: expected base64 on stdout, found:\n{out}"
    );
    assert_eq!(
        std::fs::read_to_string(w.path("artifact.sig"))
            .unwrap()
            .trim(),
        sig,
        "--output-signature: expected the printed signature"
    );

    // The signature as an argument, and as a file.
    for signature in [sig.as_str(), "artifact.sig"] {
        let v = w
            .hm([
                "verify-blob",
                "--key",
                "k.pub",
                "--signature",
                signature,
                "artifact.tar",
            ])
            .run();
        v.success();
        assert!(
            v.stderr.contains(&format!(
                "Verified OK: artifact.tar signed by key sha256:{}",
                k.fingerprint
            )),
            "verify-blob: expected Verified OK, found:\n{v}"
        );
    }
    let json = w
        .hm(["sign-blob", "-o", "json", "--key", "k.key", "artifact.tar"])
        .pw("pw")
        .run();
    json.success();
    assert_eq!(json.json()["key_fingerprint"], k.fingerprint.as_str());
}

#[test]
fn sign_blob_signature_verifies_with_openssl() {
    let w = World::new();
    let ssl = openssl();
    w.key("k", "pw");
    std::fs::write(w.path("data.txt"), "verify me with openssl\n").unwrap();
    let out = w
        .hm(["sign-blob", "--key", "k.key", "data.txt"])
        .pw("pw")
        .run();
    out.success();
    let der = STANDARD
        .decode(out.stdout.trim())
        .unwrap_or_else(|e| panic!("sign-blob: expected base64 ({e}), found:\n{out}"));
    assert_eq!(
        der.first(),
        Some(&0x30),
        "expected a DER ECDSA signature (SEQUENCE), found {der:02x?}"
    );
    std::fs::write(w.path("sig.der"), &der).unwrap();
    let os = OsStr::new;
    let verdict = run_tool(
        w.dir(),
        ssl,
        &[
            os("dgst"),
            os("-sha256"),
            os("-verify"),
            os("k.pub"),
            os("-signature"),
            os("sig.der"),
            os("data.txt"),
        ],
    );
    verdict.success();
    assert!(
        verdict.stdout.contains("Verified OK"),
        "openssl: expected Verified OK, found:\n{verdict}"
    );
    // A raw DER signature file is accepted by verify-blob too.
    w.hm([
        "verify-blob",
        "--key",
        "k.pub",
        "--signature",
        "sig.der",
        "data.txt",
    ])
    .run()
    .success();
}

#[test]
fn verify_blob_refuses_a_modified_file() {
    let w = World::new();
    let k = w.key("k", "pw");
    let other = w.key("other", "pw");
    let refused = |key: &crate::util::Key| {
        format!(
            "verifying f.txt against its signature: signature verification failed with ecdsa-p256 key {}: the signature does not match the message and key",
            key.fingerprint
        )
    };
    std::fs::write(w.path("f.txt"), "original").unwrap();
    let out = w
        .hm([
            "sign-blob",
            "--key",
            "k.key",
            "--output-signature",
            "f.sig",
            "f.txt",
        ])
        .pw("pw")
        .run();
    out.success();
    std::fs::write(w.path("f.txt"), "modified").unwrap();
    w.hm([
        "verify-blob",
        "--key",
        "k.pub",
        "--signature",
        "f.sig",
        "f.txt",
    ])
    .run()
    .failure(&[&refused(&k)]);
    std::fs::write(w.path("f.txt"), "original").unwrap();
    w.hm([
        "verify-blob",
        "--key",
        "k.pub",
        "--signature",
        "f.sig",
        "f.txt",
    ])
    .run()
    .success();
    w.hm([
        "verify-blob",
        "--key",
        "other.pub",
        "--signature",
        "f.sig",
        "f.txt",
    ])
    .run()
    .failure(&[&refused(&other)]);
    w.hm([
        "verify-blob",
        "--key",
        "k.pub",
        "--signature",
        "@@not base64@@",
        "f.txt",
    ])
    .run()
    .failure(&["expected base64", "found neither"]);
}
