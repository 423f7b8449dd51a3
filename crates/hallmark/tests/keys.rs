//! `hallmark key generate | public-key | import`.

use crate::util::{World, mode, openssl, run_tool};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde_json::Value;
use std::{ffi::OsStr, path::Path};

/// The base64 body of the single PEM block labelled `label`.
fn pem_body(text: &str, label: &str) -> Vec<u8> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find(&begin)
        .unwrap_or_else(|| panic!("expected a {begin} line, found:\n{text}"))
        + begin.len();
    let stop = text
        .find(&end)
        .unwrap_or_else(|| panic!("expected a {end} line, found:\n{text}"));
    let b64: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD
        .decode(b64)
        .unwrap_or_else(|e| panic!("{label} body: expected base64, found an error: {e}"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn generate_writes_an_encrypted_cosign_key_and_a_public_key() {
    let w = World::new();
    let k = w.key("cosign", "s3cret");
    assert!(
        k.private.is_file() && k.public.is_file(),
        "expected cosign.key and cosign.pub in {}",
        w.dir().display()
    );
    assert_eq!(
        mode(&k.private),
        0o600,
        "cosign.key: expected mode 0600, found {:o}",
        mode(&k.private)
    );

    let text = read(&k.private);
    assert!(
        text.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"),
        "expected the ENCRYPTED COSIGN PRIVATE KEY label, found:\n{text}"
    );
    let body: Value = serde_json::from_slice(&pem_body(&text, "ENCRYPTED COSIGN PRIVATE KEY"))
        .expect("the PEM body is cosign's JSON envelope");
    assert_eq!(body["kdf"]["name"], "scrypt", "kdf: {body}");
    assert_eq!(body["kdf"]["params"]["N"], 32768, "kdf params: {body}");
    assert_eq!(body["kdf"]["params"]["r"], 8, "kdf params: {body}");
    assert_eq!(body["kdf"]["params"]["p"], 1, "kdf params: {body}");
    assert_eq!(body["cipher"]["name"], "nacl/secretbox", "cipher: {body}");
    assert!(
        body["kdf"]["salt"].is_string()
            && body["cipher"]["nonce"].is_string()
            && body["ciphertext"].is_string(),
        "expected salt, nonce and ciphertext, found {body}"
    );

    let public = read(&k.public);
    assert!(
        public.starts_with("-----BEGIN PUBLIC KEY-----\n")
            && public.trim_end().ends_with("-----END PUBLIC KEY-----"),
        "expected a PUBLIC KEY block, found:\n{public}"
    );
    assert!(!pem_body(&public, "PUBLIC KEY").is_empty());

    // The key is usable with its passphrase, and refused with another.
    let data = w.path("data.txt");
    std::fs::write(&data, "hello").unwrap();
    w.hm(["sign-blob", "--key", "cosign.key", "data.txt"])
        .pw("s3cret")
        .run()
        .success();
    w.hm(["sign-blob", "--key", "cosign.key", "data.txt"])
        .pw("wrong")
        .run()
        .failure(&["cosign.key", "wrong passphrase"]);
}

#[test]
fn an_empty_hallmark_password_is_a_valid_passphrase() {
    let w = World::new();
    w.hm(["key", "generate", "--output-prefix", "empty"])
        .pw("")
        .run()
        .success();
    std::fs::write(w.path("f"), "x").unwrap();
    let sig = w.hm(["sign-blob", "--key", "empty.key", "f"]).pw("").run();
    sig.success();
    w.hm([
        "verify-blob",
        "--key",
        "empty.pub",
        "--signature",
        sig.stdout.trim(),
        "f",
    ])
    .run()
    .success();
    // The key really is encrypted with the empty passphrase, not stored in the clear.
    w.hm(["sign-blob", "--key", "empty.key", "f"])
        .pw("not-empty")
        .run()
        .failure(&["empty.key", "wrong passphrase"]);
}

#[test]
fn cosign_password_is_read_too() {
    let w = World::new();
    w.hm(["key", "generate", "--output-prefix", "c"])
        .env("COSIGN_PASSWORD", "from-cosign")
        .run()
        .success();
    std::fs::write(w.path("f"), "x").unwrap();
    w.hm(["sign-blob", "--key", "c.key", "f"])
        .env("COSIGN_PASSWORD", "from-cosign")
        .run()
        .success();
    w.hm(["sign-blob", "--key", "c.key", "f"])
        .pw("from-cosign")
        .run()
        .success();
    // HALLMARK_PASSWORD wins over COSIGN_PASSWORD.
    w.hm(["sign-blob", "--key", "c.key", "f"])
        .pw("other")
        .env("COSIGN_PASSWORD", "from-cosign")
        .run()
        .failure(&["wrong passphrase"]);
}

#[test]
fn without_a_passphrase_in_ci_generate_fails_and_writes_nothing() {
    let w = World::new();
    let out = w.hm(["key", "generate", "--output-prefix", "nopass"]).run();
    out.failure(&[
        "passphrase",
        "expected HALLMARK_PASSWORD or COSIGN_PASSWORD",
        "found neither",
    ]);
    let entries: Vec<_> = std::fs::read_dir(w.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        entries.is_empty(),
        "expected no files written, found {entries:?}"
    );

    // Signing with an encrypted key needs the passphrase too.
    w.key("k", "pw");
    std::fs::write(w.path("f"), "x").unwrap();
    w.hm(["sign-blob", "--key", "k.key", "f"])
        .run()
        .failure(&["k.key", "found neither"]);
}

#[test]
fn public_key_prints_the_same_public_key() {
    let w = World::new();
    let k = w.key("pk", "pw");
    let out = w
        .hm(["key", "public-key", "--key", "pk.key"])
        .pw("pw")
        .run();
    out.success();
    assert_eq!(
        out.stdout,
        read(&k.public),
        "key public-key: expected the contents of pk.pub"
    );
    w.hm([
        "key",
        "public-key",
        "--key",
        "pk.key",
        "--outfile",
        "again.pub",
    ])
    .pw("pw")
    .run()
    .success();
    assert_eq!(read(&w.path("again.pub")), read(&k.public));
    w.hm(["key", "public-key", "--key", "pk.key"])
        .pw("nope")
        .run()
        .failure(&["pk.key", "wrong passphrase"]);
}

#[test]
fn import_of_a_plain_pkcs8_key_signs_verifiably() {
    let w = World::new();
    let ssl = openssl();
    let os = |s: &'static str| OsStr::new(s);
    run_tool(
        w.dir(),
        ssl,
        &[
            os("genpkey"),
            os("-algorithm"),
            os("EC"),
            os("-pkeyopt"),
            os("ec_paramgen_curve:P-256"),
            os("-out"),
            os("plain.pem"),
        ],
    )
    .success();
    run_tool(
        w.dir(),
        ssl,
        &[
            os("pkey"),
            os("-in"),
            os("plain.pem"),
            os("-pubout"),
            os("-out"),
            os("openssl.pub"),
        ],
    )
    .success();
    assert!(
        read(&w.path("plain.pem")).contains("-----BEGIN PRIVATE KEY-----"),
        "openssl: expected a PKCS#8 PEM"
    );

    let out = w
        .hm([
            "key",
            "import",
            "--key",
            "plain.pem",
            "--output-prefix",
            "imported",
            "-o",
            "json",
        ])
        .pw("imp")
        .run();
    out.success();
    let imported = w.path("imported.key");
    assert_eq!(
        mode(&imported),
        0o600,
        "imported.key: expected mode 0600, found {:o}",
        mode(&imported)
    );
    assert!(
        read(&imported).starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----"),
        "imported.key: expected an encrypted cosign key"
    );
    // The same public key openssl derives.
    assert_eq!(
        pem_body(&read(&w.path("imported.pub")), "PUBLIC KEY"),
        pem_body(&read(&w.path("openssl.pub")), "PUBLIC KEY"),
        "imported.pub: expected the public key of plain.pem"
    );

    // A signature made with the imported key verifies, with hallmark and with openssl.
    std::fs::write(w.path("data.bin"), b"imported key data").unwrap();
    let sig = w
        .hm(["sign-blob", "--key", "imported.key", "data.bin"])
        .pw("imp")
        .run();
    sig.success();
    w.hm([
        "verify-blob",
        "--key",
        "imported.pub",
        "--signature",
        sig.stdout.trim(),
        "data.bin",
    ])
    .run()
    .success();
    std::fs::write(
        w.path("sig.der"),
        STANDARD.decode(sig.stdout.trim()).unwrap(),
    )
    .unwrap();
    let verdict = run_tool(
        w.dir(),
        ssl,
        &[
            os("dgst"),
            os("-sha256"),
            os("-verify"),
            os("openssl.pub"),
            os("-signature"),
            os("sig.der"),
            os("data.bin"),
        ],
    );
    verdict.success();
    assert!(
        verdict.stdout.contains("Verified OK"),
        "openssl: expected Verified OK, found:\n{verdict}"
    );

    // An image signed with the imported key verifies with its public key.
    let image = w.seed("import", 1).remove(0);
    w.hm(["sign", "--key", "imported.key", &image.by_tag()])
        .pw("imp")
        .run()
        .success();
    w.hm(["verify", "--key", "openssl.pub", &image.by_digest()])
        .run()
        .success();
}

#[test]
fn generate_and_import_refuse_to_overwrite_without_force() {
    let w = World::new();
    let first = w.key("keep", "pw");
    let before = (read(&first.private), read(&first.public));
    let out = w
        .hm(["key", "generate", "--output-prefix", "keep"])
        .pw("pw")
        .run();
    out.failure(&["keep.key already exists", "expected a new file", "--force"]);
    assert_eq!(
        (read(&first.private), read(&first.public)),
        before,
        "the refused generate changed the files"
    );

    // Only the .pub existing is refused too (nothing half-written).
    std::fs::write(w.path("half.pub"), "mine").unwrap();
    w.hm(["key", "generate", "--output-prefix", "half"])
        .pw("pw")
        .run()
        .failure(&["half.pub already exists"]);
    assert!(
        !w.path("half.key").exists(),
        "expected no half.key after the refusal"
    );
    assert_eq!(read(&w.path("half.pub")), "mine");

    // Import refuses as well.
    w.hm([
        "key",
        "import",
        "--key",
        "keep.key",
        "--output-prefix",
        "keep",
    ])
    .pw("pw")
    .run()
    .failure(&["already exists", "--force"]);
    assert_eq!((read(&first.private), read(&first.public)), before);

    // --force replaces both files with a new key.
    w.hm(["key", "generate", "--output-prefix", "keep", "--force"])
        .pw("pw")
        .run()
        .success();
    assert_ne!(
        read(&first.public),
        before.1,
        "--force: expected a new public key"
    );
    assert_eq!(mode(&first.private), 0o600);
}
