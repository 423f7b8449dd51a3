//! Notary Project (notation) signatures through the CLI, against the shared docker-registry 2.8
//! (no referrers API: the tag-schema fallback) and OCI layouts: `notation cert generate-test`,
//! `sign --format notation` (JWS and COSE), `verify --notation-policy --trust-store` with
//! notation's own files, notation requirements in a hallmark policy next to cosign, and
//! `copy` carrying the signatures.

use crate::util::{Image, World, get_manifest, tags};
use serde_json::{Value, json};

/// notation's subject for `generate-test NAME`.
pub(crate) fn identity(name: &str) -> String {
    format!("x509.subject: CN={name}, O=Notary, L=Seattle, ST=WA, C=US")
}

/// `notation cert generate-test NAME` into `keys/` and the trust store `store/`.
pub(crate) fn generate(w: &World, name: &str) {
    w.hm([
        "notation",
        "cert",
        "generate-test",
        name,
        "--key-dir",
        "keys",
        "--trust-store",
        "store",
        "-o",
        "json",
    ])
    .pw("pw")
    .run()
    .success();
}

/// `sign --format notation` with the generated key; returns the JSON line of the image.
pub(crate) fn sign(w: &World, name: &str, extra: &[&str], image: &str) -> Value {
    let key = format!("keys/{name}.key");
    let cert = format!("keys/{name}.crt");
    let mut args = vec![
        "sign", "--format", "notation", "--key", &key, "--cert", &cert, "-o", "json",
    ];
    args.extend(extra);
    args.push(image);
    let out = w.hm(args).pw("pw").run();
    out.success();
    out.json()[0].clone()
}

/// notation's trustpolicy.json with one policy.
pub(crate) fn trust_policy(
    w: &World,
    file: &str,
    scopes: &[&str],
    level: &str,
    identities: &[String],
) {
    let doc = json!({
        "version": "1.0",
        "trustPolicies": [{
            "name": "test",
            "registryScopes": scopes,
            "signatureVerification": {"level": level},
            "trustStores": ["ca:acme"],
            "trustedIdentities": identities,
        }]
    });
    std::fs::write(w.path(file), doc.to_string()).unwrap();
}

/// `verify --notation-policy FILE --trust-store store -o json IMAGE` → (exit code, decision).
pub(crate) fn verify(
    w: &World,
    file: &str,
    image: &str,
) -> (Option<i32>, Value, crate::util::Output) {
    let out = w
        .hm([
            "verify",
            "--notation-policy",
            file,
            "--trust-store",
            "store",
            "-o",
            "json",
            image,
        ])
        .run();
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("expected a JSON array ({e}), found:\n{out}"));
    (out.code, v[0].clone(), out)
}

fn reason(d: &Value) -> String {
    d["requirements"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn generate_test_writes_an_encrypted_key_a_chain_and_a_trust_store() {
    let w = World::new();
    generate(&w, "acme");
    assert_eq!(crate::util::mode(&w.path("keys/acme.key")), 0o600);
    let key = std::fs::read_to_string(w.path("keys/acme.key")).unwrap();
    assert!(
        key.contains("ENCRYPTED") && !key.contains("BEGIN PRIVATE KEY"),
        "expected an encrypted key file, found:\n{key}"
    );
    let chain = std::fs::read_to_string(w.path("keys/acme.crt")).unwrap();
    assert_eq!(
        chain.matches("BEGIN CERTIFICATE").count(),
        2,
        "expected the signing certificate and the test CA, found:\n{chain}"
    );
    let ca = std::fs::read_to_string(w.path("store/x509/ca/acme/acme.crt")).unwrap();
    assert!(
        chain.ends_with(&ca),
        "expected the trust store to hold the chain's CA"
    );
    // A second run does not overwrite.
    w.hm([
        "notation",
        "cert",
        "generate-test",
        "acme",
        "--key-dir",
        "keys",
        "--trust-store",
        "store",
    ])
    .pw("pw")
    .run()
    .failure(&["already exists"]);
}

#[test]
fn signatures_written_as_notation_writes_them_verify_under_its_trust_policy() {
    let w = World::new();
    generate(&w, "acme");
    let imgs = w.seed("notation-rt", 3);
    let (jws, cose, unsigned): (&Image, &Image, &Image) = (&imgs[0], &imgs[1], &imgs[2]);
    let s = sign(&w, "acme", &["-a", "build=42"], &jws.by_tag());
    assert_eq!(s["digest"], jws.digest.as_str());
    assert_eq!(s["envelope_media_type"], "application/jose+json");
    let c = sign(
        &w,
        "acme",
        &["--envelope", "cose", "--expiry", "1d"],
        &cose.by_tag(),
    );
    assert_eq!(c["envelope_media_type"], "application/cose");

    // Stored as notation stores it: an OCI 1.1 artifact whose subject is the image, recorded
    // in the referrers tag index (docker-registry 2.8 has no referrers API).
    let sig = s["signature_manifest_digest"].as_str().unwrap();
    let (_, bytes) = get_manifest(&jws.path, sig);
    let m: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(m["artifactType"], "application/vnd.cncf.notary.signature");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(m["layers"][0]["mediaType"], "application/jose+json");
    assert_eq!(m["subject"]["digest"], jws.digest.as_str());
    let thumbprints: Vec<String> = serde_json::from_str(
        m["annotations"]["io.cncf.notary.x509chain.thumbprint#S256"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(thumbprints.len(), 2, "{m}");
    assert!(
        thumbprints.iter().all(|t| t.len() == 64
            && t.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())),
        "expected uppercase SHA-256 hex thumbprints, found {thumbprints:?}"
    );
    let fallback = jws.digest.replace(':', "-");
    assert!(
        tags(&jws.path).contains(&fallback),
        "expected the referrers tag {fallback}"
    );

    let scopes = [
        jws.repo.as_str(),
        cose.repo.as_str(),
        unsigned.repo.as_str(),
    ];
    trust_policy(&w, "strict.json", &scopes, "strict", &[identity("acme")]);
    for img in [jws, cose] {
        let (code, d, out) = verify(&w, "strict.json", &img.by_tag());
        assert_eq!(
            code,
            Some(0),
            "expected {} allowed, found:\n{out}",
            img.by_tag()
        );
        assert_eq!(d["decision"], "allow", "{out}");
        assert_eq!(d["digest"], img.digest.as_str(), "{out}");
    }
    let (code, d, out) = verify(&w, "strict.json", &unsigned.by_tag());
    assert_eq!(code, Some(1), "expected the unsigned image denied:\n{out}");
    assert!(
        reason(&d).contains("no notation signature found"),
        "expected the reason to say no signature was found, found:\n{out}"
    );

    // Another trusted identity: the signature is authentic but not by whom the policy trusts.
    trust_policy(&w, "other.json", &scopes, "strict", &[identity("other")]);
    let (code, d, out) = verify(&w, "other.json", &jws.by_tag());
    assert_eq!(
        code,
        Some(1),
        "expected an untrusted identity denied:\n{out}"
    );
    assert!(
        reason(&d).contains("authenticity") && reason(&d).contains("CN=acme"),
        "expected the reason to name the check and the signer found, found:\n{out}"
    );
    // At level audit notation only logs it: allowed, with the failure as a warning.
    trust_policy(&w, "audit.json", &scopes, "audit", &[identity("other")]);
    let (code, d, out) = verify(&w, "audit.json", &jws.by_tag());
    assert_eq!(code, Some(0), "audit: expected allowed, found:\n{out}");
    assert!(
        d["warnings"].to_string().contains("authenticity"),
        "audit: expected the logged failure among the warnings, found:\n{out}"
    );
    // No policy for the repository: nothing applies, as notation says.
    trust_policy(
        &w,
        "elsewhere.json",
        &["example.com/other/repo"],
        "strict",
        &[identity("acme")],
    );
    let (code, d, out) = verify(&w, "elsewhere.json", &jws.by_tag());
    assert_eq!(code, Some(1), "{out}");
    assert!(reason(&d).contains("registryScopes cover"), "{out}");
}

#[test]
fn one_policy_can_require_cosign_and_notation() {
    let w = World::new();
    generate(&w, "acme");
    let k = w.key("cosign", "pw");
    let imgs = w.seed("notation-both", 2);
    let (both, notation_only) = (&imgs[0], &imgs[1]);
    sign(&w, "acme", &[], &both.by_tag());
    sign(&w, "acme", &[], &notation_only.by_tag());
    w.sign(&k, &[&both.by_tag()]);
    std::fs::write(
        w.path("policy.yaml"),
        format!(
            "apiVersion: hallmark/v1\nkind: Policy\ndefault: deny\nrules:\n  - name: release\n    images: [\"**\"]\n    require:\n      - cosign: {{keys: [cosign.pub]}}\n      - notation:\n          trustStore: store\n          trustStores: [\"ca:acme\"]\n          trustedIdentities: [\"{}\"]\n",
            identity("acme")
        ),
    )
    .unwrap();
    let out = w
        .hm([
            "verify",
            "--policy",
            "policy.yaml",
            "-o",
            "json",
            &both.by_tag(),
        ])
        .run();
    assert_eq!(
        out.code,
        Some(0),
        "cosign and notation: expected allowed:\n{out}"
    );
    let out = w
        .hm(["verify", "--policy", "policy.yaml", &notation_only.by_tag()])
        .run();
    assert_eq!(out.code, Some(1), "notation only: expected denied:\n{out}");
    assert!(
        out.stdout.contains("not met cosign") && out.stdout.contains("met     notation"),
        "expected cosign unmet and notation met, found:\n{out}"
    );
    // A policy naming a trust store that does not exist cannot be enforced: exit 2, named.
    std::fs::write(
        w.path("missing.yaml"),
        "apiVersion: hallmark/v1\nkind: Policy\nrules:\n  - name: r\n    images: [\"**\"]\n    require:\n      - notation: {trustStore: store, trustStores: [\"ca:nobody\"], trustedIdentities: [\"*\"]}\n",
    )
    .unwrap();
    let out = w
        .hm(["verify", "--policy", "missing.yaml", &both.by_tag()])
        .run();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("ca:nobody"), "{out}");
}

#[test]
fn copy_carries_notation_signatures_to_a_layout_where_they_verify() {
    let w = World::new();
    generate(&w, "acme");
    let img = &w.seed("notation-copy", 1)[0];
    sign(&w, "acme", &["--envelope", "cose"], &img.by_tag());
    let layout = format!("oci:{}:v1", w.path("layout").display());
    w.hm(["copy", &img.by_tag(), &layout]).run().success();
    let doc = json!({
        "version": "1.0",
        "trustPolicies": [{
            "name": "everything",
            "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:acme"],
            "trustedIdentities": [identity("acme")],
        }]
    });
    std::fs::write(w.path("tp.json"), doc.to_string()).unwrap();
    let (code, d, out) = verify(&w, "tp.json", &layout);
    assert_eq!(code, Some(0), "expected the copy allowed:\n{out}");
    assert_eq!(d["digest"], img.digest.as_str(), "{out}");
    // The tree lists the signature.
    let tree = w.tree(&img.by_tag());
    assert!(
        tree.to_string()
            .contains("application/vnd.cncf.notary.signature"),
        "expected the notation signature in the tree, found {tree}"
    );
}

/// The Python that checks envelopes independently (cryptography and cbor2; installed by
/// ./scripts/test); the test fails without it, it never skips.
#[track_caller]
fn check_python() -> String {
    std::env::var("HALLMARK_CHECK_PYTHON").unwrap_or_else(|_| {
        panic!("HALLMARK_CHECK_PYTHON is not set: run ./scripts/test (it installs Python's cryptography and cbor2)")
    })
}

/// Run the independent check on an envelope file.
fn python_check(
    w: &World,
    envelope: &std::path::Path,
    media_type: &str,
    digest: &str,
) -> crate::util::Output {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/notation_check.py");
    crate::util::run_tool(
        w.dir(),
        &check_python(),
        &[
            script.as_os_str(),
            envelope.as_os_str(),
            media_type.as_ref(),
            digest.as_ref(),
        ],
    )
}

#[test]
fn envelopes_written_verify_with_python_cryptography_and_cbor2() {
    let w = World::new();
    generate(&w, "acme");
    let imgs = w.seed("notation-py", 2);
    for (img, extra, media_type) in [
        (&imgs[0], vec!["--expiry", "30d"], "application/jose+json"),
        (
            &imgs[1],
            vec!["--envelope", "cose", "-a", "team=platform"],
            "application/cose",
        ),
    ] {
        let s = sign(&w, "acme", &extra, &img.by_tag());
        let (_, bytes) = get_manifest(&img.path, s["signature_manifest_digest"].as_str().unwrap());
        let m: Value = serde_json::from_slice(&bytes).unwrap();
        let layer = m["layers"][0]["digest"].as_str().unwrap();
        let envelope = crate::util::get_blob(&img.path, layer);
        let file = w.path("envelope");
        std::fs::write(&file, &envelope).unwrap();
        let out = python_check(&w, &file, media_type, &img.digest);
        assert_eq!(
            out.code,
            Some(0),
            "{media_type}: expected Python to verify the envelope:\n{out}"
        );
        assert_eq!(out.stdout.trim(), "ok ES256", "{out}");
        // The check can fail: the last byte of the signature changed.
        let mut bad = envelope.clone();
        let at = match media_type {
            // The JWS signature is the last member written (Go orders keys): change a base64url
            // character well inside it (the last one also carries padding bits).
            "application/jose+json" => bad.len() - 10,
            _ => bad.len() - 1,
        };
        bad[at] = if bad[at] == b'A' { b'g' } else { b'A' };
        std::fs::write(&file, &bad).unwrap();
        let out = python_check(&w, &file, media_type, &img.digest);
        assert_eq!(
            out.code,
            Some(1),
            "{media_type}: expected an altered signature refused:\n{out}"
        );
        assert!(out.stdout.starts_with("failed"), "{out}");
    }
}
