//! cosign 3's default format: a Sigstore bundle v0.3 attached as an OCI 1.1 referrer. The
//! shared docker-registry 2.8 has no referrers API, so the referrer is listed in the
//! `sha256-<hex>` tag-schema index, as cosign (go-containerregistry) does on such registries.

use crate::util::{World, put_blob, put_manifest, sha256};
use hallmark_core::keyfile;
use hallmark_sigstore::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE};
use serde_json::json;

const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Attach to image `digest` in `path` a key-signed cosign 3 bundle whose statement names
/// `statement_digest`, signed by the key at `key_path`.
fn attach_bundle(
    w: &World,
    key_path: &str,
    pass: &str,
    path: &str,
    digest: &str,
    statement_digest: &str,
    annotations: serde_json::Value,
) {
    let pem = std::fs::read_to_string(w.path(key_path)).unwrap();
    let key = keyfile::decrypt_cosign_key(
        &pem,
        &hallmark_core::Passphrase::new(pass.as_bytes().to_vec()),
        key_path,
    )
    .unwrap();
    let hex = digest.strip_prefix("sha256:").unwrap();
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": statement_digest.strip_prefix("sha256:").unwrap()}, "annotations": annotations}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {}
    });
    let envelope = Envelope::sign(
        &key,
        IN_TOTO_PAYLOAD_TYPE,
        &serde_json::to_vec(&statement).unwrap(),
    )
    .unwrap();
    let bundle = serde_json::to_vec(&json!({
        "mediaType": BUNDLE,
        "verificationMaterial": {"publicKey": {"hint": key.public_key().fingerprint()}, "tlogEntries": []},
        "dsseEnvelope": envelope,
    }))
    .unwrap();
    let bundle_digest = put_blob(path, &bundle);
    let config_digest = put_blob(path, b"{}");
    let (subject_type, subject_bytes) = crate::util::get_manifest(path, digest);
    let referrer = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config_digest, "size": 2},
        "layers": [{"mediaType": BUNDLE, "digest": bundle_digest, "size": bundle.len()}],
        "subject": {"mediaType": subject_type, "digest": digest, "size": subject_bytes.len()},
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"}
    }))
    .unwrap();
    let referrer_digest = sha256(&referrer);
    put_manifest(path, &referrer_digest, OCI_MANIFEST, &referrer);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": referrer_digest, "size": referrer.len(), "artifactType": BUNDLE}]
    }))
    .unwrap();
    put_manifest(path, &format!("sha256-{hex}"), OCI_INDEX, &index);
}

#[test]
fn verify_reads_a_cosign3_bundle_referrer_through_the_tag_fallback() {
    let w = World::new();
    let k = w.key("k", "pw");
    let other = w.key("other", "pw");
    let image = w.seed("bundle", 1).remove(0);
    attach_bundle(
        &w,
        "k.key",
        "pw",
        &image.path,
        &image.digest,
        &image.digest,
        json!({"env": "prod"}),
    );

    let out = w.verify(&k, &["-o", "json"], &image.by_tag());
    out.success();
    let v = out.json();
    let sig = &v[0]["signatures"][0];
    assert_eq!(sig["format"], "sigstore-bundle-v0.3", "{v}");
    assert_eq!(sig["key_fingerprint"], k.fingerprint.as_str(), "{v}");
    assert_eq!(sig["annotations"]["env"], "prod", "{v}");
    assert_eq!(
        sig["payload"]["subject"][0]["digest"]["sha256"],
        image.digest.trim_start_matches("sha256:"),
        "{v}"
    );

    // Claims are checked against the statement's subject annotations.
    w.verify(&k, &["-a", "env=prod"], &image.by_tag()).success();
    w.verify(&k, &["-a", "env=dev"], &image.by_tag())
        .failure(&["annotation env: expected \"dev\", found \"prod\""]);
    // Another key does not verify it.
    w.verify(&other, &[], &image.by_tag())
        .failure(&["no valid signature", "does not verify with the given key"]);
    // A bundle names no repository, so --identity cannot be satisfied by it.
    w.verify(&k, &["--identity", &image.repo], &image.by_tag())
        .failure(&["a Sigstore bundle names no repository"]);
    // tree lists the referrer.
    let tree = w.tree(&image.by_tag());
    assert_eq!(tree["referrers"][0]["artifact_type"], BUNDLE, "{tree}");
}

#[test]
fn a_bundle_for_another_image_is_refused() {
    let w = World::new();
    let k = w.key("k", "pw");
    let mut images = w.seed("bundle-other", 2);
    let (a, b) = (images.remove(0), images.remove(0));
    // A bundle whose statement names image A, attached to image B.
    attach_bundle(&w, "k.key", "pw", &b.path, &b.digest, &a.digest, json!({}));
    w.verify(&k, &[], &b.by_tag()).failure(&[
        "no valid signature",
        &format!("expected the image digest {}", b.digest),
    ]);
}
