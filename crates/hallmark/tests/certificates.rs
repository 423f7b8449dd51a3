//! `hallmark verify` with certificates: the containers/image Fulcio and private-PKI vectors
//! (hallmark-sigstore's `tests/data/vectors`) placed in an OCI layout as cosign attaches them
//! (`sha256-<hex>.sig` manifest, one simple-signing layer with the signature, certificate,
//! chain and Rekor bundle annotations), and the flag rules.

use crate::util::{World, sha256};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const FIXTURES: &str = "containers-image/signature/fixtures";
const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

fn vector(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../hallmark-sigstore/tests/data/vectors")
        .join(rel)
}

fn fixture(name: &str) -> String {
    vector(&format!("{FIXTURES}/{name}")).display().to_string()
}

/// Write `bytes` as a blob of the layout at `dir`; returns its descriptor.
fn blob(dir: &Path, media_type: &str, bytes: &[u8]) -> Value {
    let digest = sha256(bytes);
    let hex = digest.strip_prefix("sha256:").unwrap();
    std::fs::write(dir.join("blobs/sha256").join(hex), bytes).unwrap();
    json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
}

/// An OCI layout holding the `dir:` image `name` (its manifest, tagged `v1`) and its
/// `signature-1` as a cosign `.sig` attachment. Returns `oci:DIR:v1`.
fn layout_from_dir_image(w: &World, name: &str) -> String {
    let dir = w.path(name);
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let src = vector(&format!("{FIXTURES}/{name}"));
    let manifest = std::fs::read(src.join("manifest.json")).unwrap();
    let mut image = blob(&dir, OCI_MANIFEST, &manifest);
    image["annotations"] = json!({REF_NAME: "v1"});

    let file = std::fs::read(src.join("signature-1")).unwrap();
    let sig: Value = serde_json::from_slice(&file[b"\x00sigstore-json\n".len()..]).unwrap();
    assert_eq!(sig["mimeType"], SIMPLE_SIGNING);
    let payload = base64_decode(sig["payload"].as_str().unwrap());
    let mut layer = blob(&dir, SIMPLE_SIGNING, &payload);
    layer["annotations"] = sig["annotations"].clone();
    let config = blob(&dir, "application/vnd.oci.image.config.v1+json", b"{}");
    let sig_manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config,
        "layers": [layer],
    }))
    .unwrap();
    let mut attachment = blob(&dir, OCI_MANIFEST, &sig_manifest);
    let tag = format!(
        "{}.sig",
        image["digest"].as_str().unwrap().replace(':', "-")
    );
    attachment["annotations"] = json!({ REF_NAME: tag });
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [image, attachment]})).unwrap(),
    )
    .unwrap();
    format!("oci:{}:v1", dir.display())
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// The private-PKI signature (row 15): accepted with the roots, intermediates and the e-mail
/// or hostname as identity; the JSON names the certificate; rejected for another identity.
#[test]
fn verify_private_pki_certificate() {
    let w = World::new();
    let image = layout_from_dir_image(&w, "dir-img-cosign-pki-valid");
    let roots = fixture("pki_root_crts.pem");
    let intermediates = fixture("pki_intermediate_crts.pem");
    let out = w
        .hm([
            "verify",
            "--ca-roots",
            &roots,
            "--ca-intermediates",
            &intermediates,
            "--certificate-identity",
            "qiwan@redhat.com",
            "--identity",
            "localhost:5000/test",
            "-o",
            "json",
            &image,
        ])
        .run();
    out.success();
    let v = out.json();
    assert_eq!(v[0]["verified"], true, "{v}");
    let cert = &v[0]["signatures"][0]["certificate"];
    assert_eq!(cert["emails"], json!(["qiwan@redhat.com"]), "{v}");
    assert_eq!(cert["dns_names"], json!(["myhost.example.com"]), "{v}");
    assert_eq!(cert["oidc_issuer"], Value::Null, "{v}");

    // Text output names the certificate; the hostname works as identity too.
    let out = w
        .hm([
            "verify",
            "--ca-roots",
            &roots,
            "--certificate-identity",
            "myhost.example.com",
            &image,
        ])
        .run();
    out.success();
    assert!(
        out.stdout
            .contains("by certificate qiwan@redhat.com, myhost.example.com"),
        "{out}"
    );

    // Another identity; another root.
    w.hm([
        "verify",
        "--ca-roots",
        &roots,
        "--certificate-identity",
        "someone@example.com",
        &image,
    ])
    .run()
    .failure(&[
        "certificate names email:qiwan@redhat.com, dns:myhost.example.com",
        "expected email, uri or dns:someone@example.com",
    ]);
    w.hm([
        "verify",
        "--ca-roots",
        &fixture("fulcio_v1.crt.pem"),
        "--certificate-identity",
        "qiwan@redhat.com",
        &image,
    ])
    .run()
    .failure(&["does not chain to a trusted root"]);
}

/// The keyless signature (row 13): accepted with the public-good trusted_root.json (Fulcio CAs
/// and Rekor key), the e-mail and the issuer, and with the Fulcio root plus rekor.pub; without
/// a Rekor key the ten-minute certificate has expired.
#[test]
fn verify_fulcio_certificate() {
    let w = World::new();
    let image = layout_from_dir_image(&w, "dir-img-cosign-fulcio-rekor-valid");
    let trusted_root = vector("sigstore-rs/trust_root/prod/trusted_root.json")
        .display()
        .to_string();
    let out = w
        .hm([
            "verify",
            "--trusted-root",
            &trusted_root,
            "--certificate-identity",
            "mitr@redhat.com",
            "--certificate-oidc-issuer",
            "https://github.com/login/oauth",
            "-o",
            "json",
            &image,
        ])
        .run();
    out.success();
    let v = out.json();
    let cert = &v[0]["signatures"][0]["certificate"];
    assert_eq!(cert["emails"], json!(["mitr@redhat.com"]), "{v}");
    assert_eq!(cert["oidc_issuer"], "https://github.com/login/oauth", "{v}");

    // Another issuer.
    w.hm([
        "verify",
        "--trusted-root",
        &trusted_root,
        "--certificate-identity",
        "mitr@redhat.com",
        "--certificate-oidc-issuer",
        "https://accounts.google.com",
        &image,
    ])
    .run()
    .failure(&["certificate OIDC issuer is \"https://github.com/login/oauth\""]);

    // The Fulcio root as --ca-roots, with and without the Rekor key.
    let root = fixture("fulcio_v1.crt.pem");
    w.hm([
        "verify",
        "--ca-roots",
        &root,
        "--rekor-key",
        &fixture("rekor.pub"),
        "--certificate-identity",
        "mitr@redhat.com",
        &image,
    ])
    .run()
    .success();
    w.hm([
        "verify",
        "--ca-roots",
        &root,
        "--certificate-identity",
        "mitr@redhat.com",
        &image,
    ])
    .run()
    .failure(&["not at", "no transparency log was required"]);
    // The wrong Rekor key.
    w.hm([
        "verify",
        "--ca-roots",
        &root,
        "--rekor-key",
        &fixture("cosign.pub"),
        "--certificate-identity",
        "mitr@redhat.com",
        &image,
    ])
    .run()
    .failure(&["the Rekor SET does not verify"]);
}

/// Exactly one of --key, --ca-roots, --trusted-root; certificate verification needs
/// --certificate-identity (and --certificate-oidc-issuer for keyless); certificate flags do
/// not go with --key.
#[test]
fn verify_certificate_flag_rules() {
    let w = World::new();
    let roots = fixture("pki_root_crts.pem");
    let trusted_root = vector("cosign/pkg/cosign/testdata/trusted_root_pgi.json")
        .display()
        .to_string();
    let key = fixture("cosign.pub");
    let usage = |args: &[&str], needles: &[&str]| {
        let out = w.hm(args).run();
        assert_eq!(out.code, Some(2), "{out}");
        for n in needles {
            assert!(out.stderr.contains(n), "expected {n:?}:\n{out}");
        }
    };
    usage(
        &["verify", "oci:x:v1"],
        &["--key <FILE>", "--ca-roots <FILE>", "--trusted-root <FILE>"],
    );
    usage(
        &["verify", "--ca-roots", &roots, "oci:x:v1"],
        &["--certificate-identity <VALUE>"],
    );
    usage(
        &[
            "verify",
            "--trusted-root",
            &trusted_root,
            "--certificate-identity",
            "a@b",
            "oci:x:v1",
        ],
        &["--certificate-oidc-issuer <URL>"],
    );
    usage(
        &[
            "verify",
            "--key",
            &key,
            "--ca-roots",
            &roots,
            "--certificate-identity",
            "a@b",
            "oci:x:v1",
        ],
        &["cannot be used with"],
    );
    usage(
        &[
            "verify",
            "--key",
            &key,
            "--certificate-identity",
            "a@b",
            "oci:x:v1",
        ],
        &["cannot be used with"],
    );
    usage(
        &[
            "verify",
            "--ca-roots",
            &roots,
            "--trusted-root",
            &trusted_root,
            "--certificate-identity",
            "a@b",
            "--certificate-oidc-issuer",
            "https://x",
            "oci:x:v1",
        ],
        &["cannot be used with"],
    );
    usage(
        &[
            "verify",
            "--key",
            &key,
            "--ca-intermediates",
            &roots,
            "oci:x:v1",
        ],
        &["cannot be used with"],
    );
    usage(
        &[
            "verify",
            "--trusted-root",
            &trusted_root,
            "--ca-intermediates",
            &roots,
            "--certificate-identity",
            "a@b",
            "--certificate-oidc-issuer",
            "https://x",
            "oci:x:v1",
        ],
        &["cannot be used with"],
    );
    usage(
        &["verify", "--ca-intermediates", &roots, "oci:x:v1"],
        &["--ca-roots <FILE>"],
    );
    // A roots file that is not PEM is a clear error (exit 1).
    w.hm([
        "verify",
        "--ca-roots",
        &key,
        "--certificate-identity",
        "a@b",
        "oci:x:v1",
    ])
    .run()
    .failure(&["--ca-roots", "PUBLIC KEY", "expected CERTIFICATE"]);
}
