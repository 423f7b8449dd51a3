//! Shared helpers: policies from text, images, evidence builders.

use hallmark_core::RegistryRef;
use hallmark_policy::{
    AttestationEvidence, DctEvidence, DctTarget, Diagnostic, Evidence, ImageName, Policy,
    SignatureEvidence, SignatureFormat, Signer,
};
use std::collections::BTreeMap;
use std::path::Path;

/// Where test policies pretend to live.
pub(crate) const POLICY_PATH: &str = "/etc/hallmark/policy.yaml";
/// The digest the test images resolve to.
pub(crate) const DIGEST: &str =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
/// Another digest.
pub(crate) const OTHER_DIGEST: &str =
    "sha256:2222222222222222222222222222222222222222222222222222222222222222";

pub(crate) fn policy(text: &str) -> Policy {
    match Policy::parse(text.as_bytes(), Path::new(POLICY_PATH)) {
        Ok(p) => p,
        Err(e) => panic!("policy does not load:\n{e}\n---\n{text}"),
    }
}

pub(crate) fn policy_at(text: &str, path: &str) -> Policy {
    match Policy::parse(text.as_bytes(), Path::new(path)) {
        Ok(p) => p,
        Err(e) => panic!("policy does not load:\n{e}\n---\n{text}"),
    }
}

pub(crate) fn errors(text: &str) -> Vec<Diagnostic> {
    match Policy::parse(text.as_bytes(), Path::new(POLICY_PATH)) {
        Ok(_) => panic!("policy loads but should not:\n{text}"),
        Err(e) => e.diagnostics,
    }
}

/// The single diagnostic of `text`.
pub(crate) fn error(text: &str) -> Diagnostic {
    let e = errors(text);
    assert_eq!(e.len(), 1, "expected one diagnostic, got {e:#?}");
    e.into_iter().next().unwrap()
}

/// `name[:tag][@digest]` as the collector would give it (registry references only).
pub(crate) fn image(s: &str) -> ImageName {
    if let Some(rest) = s.strip_prefix("oci:") {
        let (path, tag) = match rest.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => (p, Some(t)),
            _ => (rest, None),
        };
        return ImageName::from_oci_path(Path::new(path), tag, None);
    }
    ImageName::from_registry_ref(&RegistryRef::parse(s).unwrap())
}

pub(crate) fn evidence(img: &str) -> Evidence {
    Evidence {
        image: image(img),
        digest: DIGEST.to_string(),
        namespace: None,
        keys: BTreeMap::new(),
        signatures: Vec::new(),
        attestations: Vec::new(),
        dct: Vec::new(),
        notation: Vec::new(),
        rejected: Vec::new(),
        failures: Vec::new(),
    }
}

pub(crate) fn fingerprint(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

pub(crate) fn with_key(mut e: Evidence, id: &str, n: u8) -> Evidence {
    e.keys.insert(id.to_string(), Ok(fingerprint(n)));
    e
}

pub(crate) fn key_sig(n: u8, reference: Option<&str>) -> SignatureEvidence {
    SignatureEvidence {
        source: format!("sig-{n}"),
        format: SignatureFormat::SimpleSigning,
        signer: Signer::Key {
            fingerprint: fingerprint(n),
        },
        docker_reference: reference.map(str::to_string),
        annotations: BTreeMap::new(),
        logged_in: Vec::new(),
        log_failures: BTreeMap::new(),
    }
}

pub(crate) fn cert_sig(trust: &str, subject: &str, issuer: Option<&str>) -> SignatureEvidence {
    SignatureEvidence {
        source: format!("cert-{subject}"),
        format: SignatureFormat::Bundle,
        signer: Signer::Certificate {
            trust: trust.to_string(),
            subjects: vec![subject.to_string()],
            issuer: issuer.map(str::to_string),
            fingerprint: fingerprint(99),
        },
        docker_reference: None,
        annotations: BTreeMap::new(),
        logged_in: Vec::new(),
        log_failures: BTreeMap::new(),
    }
}

pub(crate) fn attestation(
    n: u8,
    predicate_type: &str,
    predicate: serde_json::Value,
) -> AttestationEvidence {
    AttestationEvidence {
        source: format!("att-{n}"),
        signer: Signer::Key {
            fingerprint: fingerprint(n),
        },
        predicate_type: predicate_type.to_string(),
        statement: serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "x", "digest": {"sha256": "11"}}],
            "predicateType": predicate_type,
            "predicate": predicate,
        }),
        logged_in: Vec::new(),
    }
}

pub(crate) fn dct(server: Option<&str>, targets: &[(&str, &str, &[&str])]) -> DctEvidence {
    DctEvidence {
        server: server.map(str::to_string),
        result: Ok(targets
            .iter()
            .map(|(tag, digest, signers)| DctTarget {
                tag: tag.to_string(),
                digest: digest.to_string(),
                signers: signers.iter().map(|s| s.to_string()).collect(),
            })
            .collect()),
    }
}
