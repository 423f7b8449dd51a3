//! containers-policy.json as skopeo 1.18 (containers/image v5.34) reads it: what parses,
//! what is refused, how scopes become rules, and conversion to hallmark/v1 YAML that
//! re-parses to a policy with the same decisions.

use crate::support::{DIGEST, evidence, fingerprint, image, key_sig};
use base64::Engine as _;
use hallmark_policy::containers::to_hallmark_yaml;
use hallmark_policy::{
    DefaultAction, DiagnosticKind, Evidence, FileOrData, KeySource, Origin, Policy, Requirement,
    SignatureFormat, SignedIdentity, StringMatch, TrustSource, evaluate,
};
use std::path::Path;

const PATH: &str = "/etc/containers/policy.json";
const PEM: &str =
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n";

fn load(text: &str) -> Policy {
    match Policy::parse(text.as_bytes(), Path::new(PATH)) {
        Ok(p) => p,
        Err(e) => panic!("{e}\n{text}"),
    }
}

fn refused(text: &str) -> hallmark_policy::Diagnostic {
    match Policy::parse(text.as_bytes(), Path::new(PATH)) {
        Ok(p) => panic!("loads: {p:?}\n{text}"),
        Err(e) => e.diagnostics.into_iter().next().unwrap(),
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn sigstore_policy() -> String {
    format!(
        r#"{{
    "default": [{{"type": "reject"}}],
    "transports": {{
        "docker": {{
            "registry.example.com/keypath": [{{"type": "sigstoreSigned", "keyPath": "/etc/pki/a.pub"}}],
            "registry.example.com/keypaths": [{{"type": "sigstoreSigned", "keyPaths": ["/etc/pki/a.pub", "/etc/pki/b.pub"], "signedIdentity": {{"type": "matchRepository"}}}}],
            "registry.example.com/keydata": [{{"type": "sigstoreSigned", "keyData": "{kd}", "signedIdentity": {{"type": "matchExact"}}}}],
            "registry.example.com/keydatas": [{{"type": "sigstoreSigned", "keyDatas": ["{kd}"], "signedIdentity": {{"type": "exactReference", "dockerReference": "quay.io/acme/app:v1"}}}}],
            "registry.example.com/fulcio": [{{"type": "sigstoreSigned",
                "fulcio": {{"caPath": "/etc/pki/fulcio.pem", "oidcIssuer": "https://oauth2.sigstore.dev/auth", "subjectEmail": "dev@example.com"}},
                "rekorPublicKeyPath": "/etc/pki/rekor.pub",
                "signedIdentity": {{"type": "exactRepository", "dockerRepository": "quay.io/acme/app"}}}}],
            "registry.example.com/rekor": [{{"type": "sigstoreSigned", "keyPath": "/etc/pki/a.pub", "rekorPublicKeyDatas": ["{kd}"],
                "signedIdentity": {{"type": "remapIdentity", "prefix": "registry.example.com/rekor", "signedPrefix": "quay.io/acme"}}}}],
            "registry.example.com": [{{"type": "reject"}}],
            "*.example.com": [{{"type": "insecureAcceptAnything"}}],
            "": [{{"type": "sigstoreSigned", "keyPath": "/etc/pki/a.pub", "signedIdentity": {{"type": "matchRepoDigestOrExact"}}}}]
        }},
        "oci": {{
            "/srv/layouts": [{{"type": "insecureAcceptAnything"}}]
        }},
        "docker-daemon": {{"": [{{"type": "insecureAcceptAnything"}}]}},
        "containers-storage": {{"[overlay@/var/lib/containers/storage]": [{{"type": "insecureAcceptAnything"}}]}},
        "dir": {{"/tmp/dirs": [{{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/etc/pki/gpg"}}]}},
        "atomic": {{"whatever": [{{"type": "reject"}}]}}
    }}
}}"#,
        kd = b64(PEM)
    )
}

fn cosign<'p>(p: &'p Policy, rule: &str) -> &'p hallmark_policy::CosignRequirement {
    let r = p
        .rules
        .iter()
        .find(|r| r.name == rule)
        .unwrap_or_else(|| panic!("no rule {rule}"));
    match &r.require[0] {
        Requirement::Cosign(c) => c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn fedora_default_policy() {
    let p = load(
        r#"{
    "default": [{"type": "insecureAcceptAnything"}],
    "transports": {"docker-daemon": {"": [{"type": "insecureAcceptAnything"}]}}
}"#,
    );
    assert_eq!(p.origin, Origin::ContainersPolicy);
    assert_eq!(p.default, DefaultAction::Allow);
    assert!(p.rules.is_empty());
    assert!(evaluate(&p, &evidence("busybox:latest"), 0).allowed());
}

#[test]
fn sigstore_requirements_of_every_form() {
    let p = load(&sigstore_policy());
    assert_eq!(p.default, DefaultAction::Deny);
    let c = cosign(&p, "docker:registry.example.com/keypath");
    assert_eq!(c.keys, vec![KeySource::Reference("/etc/pki/a.pub".into())]);
    assert_eq!(c.threshold, 1);
    assert_eq!(c.signed_identity, SignedIdentity::MatchRepoDigestOrExact);
    assert_eq!(c.formats, vec![SignatureFormat::SimpleSigning]);
    assert!(c.tlog.is_none());
    let c = cosign(&p, "docker:registry.example.com/keypaths");
    assert_eq!(c.keys.len(), 2);
    assert_eq!(c.threshold, 1);
    assert_eq!(c.signed_identity, SignedIdentity::MatchRepository);
    let c = cosign(&p, "docker:registry.example.com/keydata");
    assert_eq!(c.keys, vec![KeySource::Data(PEM.into())]);
    assert_eq!(c.signed_identity, SignedIdentity::MatchExact);
    let c = cosign(&p, "docker:registry.example.com/keydatas");
    assert_eq!(
        c.signed_identity,
        SignedIdentity::ExactReference("quay.io/acme/app:v1".into())
    );
    let c = cosign(&p, "docker:registry.example.com/fulcio");
    assert!(c.keys.is_empty());
    let cert = c.certificates.as_ref().unwrap();
    assert_eq!(
        cert.source,
        TrustSource::Roots {
            roots: FileOrData::File("/etc/pki/fulcio.pem".into()),
            intermediates: None
        }
    );
    assert!(matches!(&cert.identities[0].subject, StringMatch::Exact(s) if s == "dev@example.com"));
    assert!(
        matches!(&cert.identities[0].issuer, Some(StringMatch::Exact(s)) if s == "https://oauth2.sigstore.dev/auth")
    );
    assert_eq!(
        c.tlog.as_ref().unwrap().ids(),
        vec!["/etc/pki/rekor.pub".to_string()]
    );
    assert_eq!(
        c.signed_identity,
        SignedIdentity::ExactRepository("quay.io/acme/app".into())
    );
    let c = cosign(&p, "docker:registry.example.com/rekor");
    assert_eq!(
        c.tlog.as_ref().unwrap().rekor_keys,
        vec![KeySource::Data(PEM.into())]
    );
    assert!(matches!(
        c.signed_identity,
        SignedIdentity::RemapIdentity { .. }
    ));
    // Other transports are read and ignored; docker and oci scopes are rules.
    let names: Vec<&str> = p.rules.iter().map(|r| r.name.as_str()).collect();
    assert!(
        names.contains(&"oci:/srv/layouts") && names.contains(&"docker:"),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("dir:") || n.starts_with("docker-daemon"))
    );
    // docker "" covers registry images; layouts with no oci "" get the global default.
    assert_eq!(
        p.rule_for(&image("oci:/elsewhere"), None).unwrap().name,
        "default"
    );
    assert_eq!(
        p.rule_for(&image("oci:/srv/layouts/app"), None)
            .unwrap()
            .name,
        "oci:/srv/layouts"
    );
    assert_eq!(
        p.rule_for(&image("quay.io/x/y:v1"), None).unwrap().name,
        "docker:"
    );
    assert_eq!(
        p.rule_for(&image("a.example.com/y:v1"), None).unwrap().name,
        "docker:*.example.com"
    );
    assert_eq!(
        p.rule_for(&image("registry.example.com/other:v1"), None)
            .unwrap()
            .name,
        "docker:registry.example.com"
    );
}

#[test]
fn relative_key_paths_are_kept_as_written() {
    let p = load(r#"{"default": [{"type": "sigstoreSigned", "keyPath": "keys/a.pub"}]}"#);
    assert_eq!(
        cosign(&p, "default").keys,
        vec![KeySource::Reference("keys/a.pub".into())]
    );
    let yaml = to_hallmark_yaml(&p);
    assert!(yaml.contains("relative to the working directory"), "{yaml}");
}

#[test]
fn refusals_name_what_is_wrong() {
    let cases: &[(&str, DiagnosticKind, &str)] = &[
        (
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg"}]}"#,
            DiagnosticKind::Unsupported,
            "signedBy (GPG) requirements are not supported",
        ),
        (
            r#"{"default": [{"type": "reject"}], "transports": {"docker": {"quay.io": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg"}]}}}"#,
            DiagnosticKind::Unsupported,
            "signedBy",
        ),
        (
            r#"{"default": []}"#,
            DiagnosticKind::InvalidValue,
            "must not be empty",
        ),
        (
            r#"{"default": [{"type": "reject"}], "transports": {"docker": {"quay.io": []}}}"#,
            DiagnosticKind::InvalidValue,
            "must not be empty",
        ),
        (
            r#"{"transports": {}}"#,
            DiagnosticKind::MissingField,
            "Default policy is missing",
        ),
        (
            r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/a.pub", "keyData": "QUFB"}]}"#,
            DiagnosticKind::InvalidValue,
            "exactly one of keyPath, keyPaths, keyData, keyDatas and fulcio",
        ),
        (
            r#"{"default": [{"type": "sigstoreSigned"}]}"#,
            DiagnosticKind::InvalidValue,
            "exactly one of keyPath",
        ),
        (
            r#"{"default": [{"type": "sigstoreSigned", "keyPaths": []}]}"#,
            DiagnosticKind::InvalidValue,
            "\"keyPaths\" contains no entries",
        ),
        (
            r#"{"default": [{"type": "sigstoreSigned", "fulcio": {"caPath": "/ca", "oidcIssuer": "i", "subjectEmail": "e"}}]}"#,
            DiagnosticKind::MissingField,
            "must be specified if fulcio is used",
        ),
        (
            r#"{"default": [{"type": "sigstoreSigned", "fulcio": {"caPath": "/ca", "oidcIssuer": "i"}, "rekorPublicKeyPath": "/r"}]}"#,
            DiagnosticKind::MissingField,
            "subjectEmail not specified",
        ),
        (
            r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/a", "rekorPublicKeyPath": "/r", "rekorPublicKeyData": "QUFB"}]}"#,
            DiagnosticKind::InvalidValue,
            "at most one of rekorPublicKeyPath",
        ),
        (
            r#"{"default": [{"type": "sigstoreSigned", "keyData": "not base64!"}]}"#,
            DiagnosticKind::InvalidValue,
            "expected base64",
        ),
        (
            r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/a", "keyType": "x"}]}"#,
            DiagnosticKind::UnknownKey,
            "unknown key \"keyType\"",
        ),
        (
            r#"{"default": [{"type": "insecureAcceptAnything", "extra": 1}]}"#,
            DiagnosticKind::UnknownKey,
            "unknown key \"extra\"",
        ),
        (
            r#"{"default": [{"type": "acceptEverything"}]}"#,
            DiagnosticKind::InvalidValue,
            "Unknown policy requirement type \"acceptEverything\"",
        ),
        (
            r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/a", "signedIdentity": {"type": "exactReference", "dockerReference": "busybox"}}]}"#,
            DiagnosticKind::InvalidReference,
            "neither a tag nor digest",
        ),
        (
            r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/a", "signedIdentity": {"type": "exactReference"}}]}"#,
            DiagnosticKind::MissingField,
            "\"dockerReference\" missing",
        ),
        (
            r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/a", "signedIdentity": {"type": "remapIdentity", "prefix": "-bad-", "signedPrefix": "quay.io"}}]}"#,
            DiagnosticKind::InvalidReference,
            "prefix \"-bad-\" is not valid",
        ),
        (
            r#"{"default": [{"type": "reject"}], "transports": {"oci": {"relative/dir": [{"type": "reject"}]}}}"#,
            DiagnosticKind::InvalidScope,
            "must be an absolute path",
        ),
        (
            r#"{"default": [{"type": "reject"}], "transports": {"oci": {"/a/../b": [{"type": "reject"}]}}}"#,
            DiagnosticKind::InvalidScope,
            "perhaps try with path /b",
        ),
        (
            r#"{"default": [{"type": "reject"}], "transports": {"docker-archive": {"/x.tar": [{"type": "reject"}]}}}"#,
            DiagnosticKind::InvalidScope,
            "does not support any scopes",
        ),
        (
            r#"{"default": [{"type": "reject"}], "default": [{"type": "reject"}]}"#,
            DiagnosticKind::DuplicateKey,
            "duplicate key `default`",
        ),
        (
            r#"{"default": [{"type": "reject"}], "transport": {}}"#,
            DiagnosticKind::UnknownKey,
            "unknown key \"transport\"",
        ),
    ];
    for (text, kind, message) in cases {
        let d = refused(text);
        assert_eq!(d.kind, *kind, "{text}: {d:?}");
        assert!(
            d.message.contains(message),
            "{text}: {:?} lacks {message:?}",
            d.message
        );
        assert_eq!(d.file, Path::new(PATH));
        assert!(d.line >= 1 && d.column >= 1);
    }
}

#[test]
fn refusals_point_at_the_place() {
    let text = "{\n  \"default\": [\n    {\"type\": \"reject\"}\n  ],\n  \"transports\": {\n    \"docker\": {\n      \"quay.io\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/k\"}]\n    }\n  }\n}\n";
    let d = refused(text);
    assert_eq!((d.line, d.column), (7, 28), "{d:?}");
}

#[test]
fn signed_by_outside_docker_and_oci_is_validated_and_ignored() {
    load(
        r#"{"default": [{"type": "reject"}], "transports": {"docker-daemon": {"": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k"}]}}}"#,
    );
    let d = refused(
        r#"{"default": [{"type": "reject"}], "transports": {"docker-daemon": {"": [{"type": "signedBy", "keyType": "Nope", "keyPath": "/k"}]}}}"#,
    );
    assert!(d.message.contains("invalid keyType"), "{d:?}");
}

#[test]
fn default_forms() {
    let cases: &[(&str, DefaultAction, usize)] = &[
        (
            r#"{"default": [{"type": "reject"}]}"#,
            DefaultAction::Deny,
            0,
        ),
        (
            r#"{"default": [{"type": "insecureAcceptAnything"}]}"#,
            DefaultAction::Allow,
            0,
        ),
        (
            r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/a.pub"}]}"#,
            DefaultAction::Deny,
            1,
        ),
        (
            r#"{"default": [{"type": "insecureAcceptAnything"}, {"type": "reject"}]}"#,
            DefaultAction::Deny,
            1,
        ),
    ];
    for (text, default, rules) in cases {
        let p = load(text);
        assert_eq!((p.default, p.rules.len()), (*default, *rules), "{text}");
    }
}

/// Evidence signed by key `n` for `reference`.
fn signed(img: &str, key_id: &str, n: u8, reference: Option<&str>) -> Evidence {
    let mut e = evidence(img);
    e.keys.insert(key_id.to_string(), Ok(fingerprint(n)));
    e.keys.insert("/etc/pki/b.pub".into(), Ok(fingerprint(2)));
    e.keys
        .insert(KeySource::Data(PEM.into()).id(), Ok(fingerprint(3)));
    e.signatures.push(key_sig(n, reference));
    e
}

#[test]
fn conversion_to_hallmark_yaml_keeps_every_decision() {
    let original = load(&sigstore_policy());
    let yaml = to_hallmark_yaml(&original);
    let converted = match Policy::parse(yaml.as_bytes(), Path::new("/etc/hallmark/converted.yaml"))
    {
        Ok(p) => p,
        Err(e) => panic!("{e}\n{yaml}"),
    };
    assert_eq!(converted.origin, Origin::Hallmark);
    assert_eq!(original.rules.len(), converted.rules.len());
    let a = "/etc/pki/a.pub";
    let table: Vec<Evidence> = vec![
        signed(
            "registry.example.com/keypath:v1",
            a,
            1,
            Some("registry.example.com/keypath:v1"),
        ),
        signed(
            "registry.example.com/keypath:v1",
            a,
            1,
            Some("registry.example.com/keypath:v2"),
        ),
        signed(
            "registry.example.com/keypath:v1",
            a,
            9,
            Some("registry.example.com/keypath:v1"),
        ),
        signed(
            "registry.example.com/keypaths:v1",
            a,
            2,
            Some("registry.example.com/keypaths:v9"),
        ),
        signed(
            "registry.example.com/keydata:v1",
            a,
            3,
            Some("registry.example.com/keydata:v1"),
        ),
        signed(
            "registry.example.com/keydatas:v1",
            a,
            3,
            Some("quay.io/acme/app:v1"),
        ),
        signed(
            "registry.example.com/keydatas:v1",
            a,
            3,
            Some("registry.example.com/keydatas:v1"),
        ),
        signed(
            "registry.example.com/rekor:v1",
            a,
            1,
            Some("quay.io/acme:v1"),
        ),
        signed(
            "registry.example.com/other:v1",
            a,
            1,
            Some("registry.example.com/other:v1"),
        ),
        signed("a.example.com/x/y:v1", a, 9, None),
        signed("quay.io/x/y:v1", a, 1, Some("quay.io/x/y:v1")),
        signed("quay.io/x/y:v1", a, 1, Some("quay.io/x/z:v1")),
        signed(
            &format!("quay.io/x/y@{DIGEST}"),
            a,
            1,
            Some("quay.io/x/y:whatever"),
        ),
        signed("oci:/srv/layouts/app", a, 9, None),
        signed("oci:/elsewhere", a, 9, None),
    ];
    let mut allowed = 0;
    for e in &table {
        let (x, y) = (evaluate(&original, e, 0), evaluate(&converted, e, 0));
        assert_eq!(x.verdict, y.verdict, "{}: {x:?} vs {y:?}", e.image);
        assert_eq!(x.rule, y.rule, "{}", e.image);
        allowed += usize::from(x.allowed());
    }
    assert!(allowed > 3 && allowed < table.len(), "{allowed}");
    // The YAML is hallmark/v1 and says where it came from.
    assert!(yaml.contains("apiVersion: hallmark/v1"), "{yaml}");
    assert!(
        yaml.contains("# Converted from the containers-policy.json /etc/containers/policy.json")
    );
}

#[test]
fn any_key_that_does_not_load_fails_a_converted_requirement() {
    // containers/image loads every key of keyPaths first: one missing file rejects everything.
    let p = load(
        r#"{"default": [{"type": "sigstoreSigned", "keyPaths": ["/etc/pki/a.pub", "/etc/pki/missing.pub"]}]}"#,
    );
    let mut e = signed(
        "quay.io/x/y:v1",
        "/etc/pki/a.pub",
        1,
        Some("quay.io/x/y:v1"),
    );
    e.keys
        .insert("/etc/pki/missing.pub".into(), Err("no such file".into()));
    let d = evaluate(&p, &e, 0);
    assert!(!d.allowed());
    assert_eq!(d.reason.as_ref().unwrap().code(), "key_unavailable");
}

#[test]
fn json_with_tabs_crlf_and_escapes_loads_through_the_yaml_tree() {
    let cases = [
        "{\n\t\"default\": [\n\t\t{\"type\": \"reject\"}\n\t],\n\t\"transports\": {\n\t\t\"docker\": {\n\t\t\t\"quay.io\": [{\"type\":\"insecureAcceptAnything\"}]\n\t\t}\n\t}\n}\n",
        "{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker\":{\"quay.io\":[{\"type\":\"insecureAcceptAnything\"}]}}}",
        "{\r\n  \"default\": [{\"type\": \"reject\"}],\r\n  \"transports\": {\"docker\": {\"qu\\u0061y.io\\/x\": [{\"type\": \"insecureAcceptAnything\"}]}}\r\n}\r\n",
    ];
    let names = ["docker:quay.io", "docker:quay.io", "docker:quay.io/x"];
    for (text, name) in cases.iter().zip(names) {
        assert_eq!(load(text).rules[0].name, name, "{text:?}");
    }
    // A byte order mark is refused, as Go's encoding/json refuses it.
    assert_eq!(
        refused("\u{feff}{\"default\": [{\"type\": \"reject\"}]}").kind,
        DiagnosticKind::Syntax
    );
}
