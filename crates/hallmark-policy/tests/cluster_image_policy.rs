//! sigstore policy-controller ClusterImagePolicy documents load as hallmark policies: globs,
//! key / KMS / keyless / static authorities as alternatives, `warn` as audit; what hallmark
//! cannot enforce the same way is refused by name and position, never silently dropped.

use crate::support::{errors, policy};
use hallmark_policy::{DiagnosticKind, Mode, Requirement, TrustSource};
use std::path::Path;

const KEY: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYaoTXj6x1NBRIljqO8iQnpDlDcXS\nIvvYOnKs6ZmTOF0qBzvvEDbHUFB1XfT8bTPTuD1ORTKJKVWPMQXGflL1MA==\n-----END PUBLIC KEY-----";

fn cip(authorities: &str, extra: &str) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: release-signed\nspec:\n  images:\n  - glob: \"registry.example.com/team/**\"\n  - glob: \"index.docker.io/library/nginx*\"\n{extra}  authorities:\n{authorities}"
    )
}

#[test]
fn authorities_become_alternatives_of_one_rule() {
    let key = KEY.replace('\n', "\n        ");
    let doc = cip(
        &format!(
            "  - key:\n      hashAlgorithm: sha256\n      data: |\n        {key}\n  - key:\n      kms: awskms:///alias/release\n  - keyless:\n      url: https://fulcio.sigstore.dev\n      identities:\n      - issuer: https://token.actions.githubusercontent.com\n        subjectRegExp: \"^https://github.com/example/.*$\"\n    ctlog:\n      url: https://rekor.sigstore.dev\n  - static:\n      action: fail\n"
        ),
        "  mode: warn\n",
    );
    let p = policy(&doc);
    assert_eq!(p.rules.len(), 1);
    let rule = &p.rules[0];
    assert_eq!(rule.name, "release-signed");
    assert_eq!(rule.mode, Mode::Audit, "warn is audit");
    let patterns: Vec<&str> = rule.images.iter().map(|i| i.as_str()).collect();
    assert_eq!(
        patterns,
        ["registry.example.com/team/**", "docker.io/library/nginx*"],
        "Docker Hub images are named docker.io/ in hallmark"
    );
    assert!(rule.require.is_empty());
    assert_eq!(rule.any_of.len(), 4, "one alternative per authority");
    let Requirement::Cosign(k) = &rule.any_of[0] else {
        panic!("{:?}", rule.any_of[0])
    };
    assert_eq!(k.keys.len(), 1);
    assert!(format!("{:?}", k.keys[0]).contains("BEGIN PUBLIC KEY"));
    let Requirement::Cosign(kms) = &rule.any_of[1] else {
        panic!("{:?}", rule.any_of[1])
    };
    assert!(format!("{:?}", kms.keys[0]).contains("awskms:///alias/release"));
    let Requirement::Cosign(keyless) = &rule.any_of[2] else {
        panic!("{:?}", rule.any_of[2])
    };
    let trust = keyless.keyless.as_ref().expect("keyless");
    assert_eq!(
        trust.source,
        TrustSource::TrustedRoot(Path::new("/etc/hallmark/trusted_root.json").to_path_buf()),
        "the trusted root is a file next to the policy"
    );
    assert_eq!(trust.identities.len(), 1);
    assert!(matches!(rule.any_of[3], Requirement::Reject { .. }));
}

#[test]
fn what_cannot_be_enforced_the_same_way_is_refused_by_name_and_line() {
    let cases: [(&str, &str, &str); 6] = [
        (
            "  - key:\n      secretRef:\n        name: cosign-pub\n",
            "secretRef",
            "Kubernetes Secret",
        ),
        (
            "  - keyless:\n      trustRootRef: my-root\n      identities:\n      - issuer: a\n        subject: b\n",
            "trustRootRef",
            "trusted_root.json",
        ),
        (
            "  - key:\n      kms: awskms:///alias/x\n    attestations:\n    - name: sbom\n      predicateType: https://cyclonedx.org/bom\n",
            "attestations",
            "attestation",
        ),
        (
            "  - key:\n      kms: awskms:///alias/x\n    source:\n    - oci: registry.example.com/signatures\n",
            "source",
            "another repository",
        ),
        (
            "  - key:\n      kms: awskms:///alias/x\n      hashAlgorithm: sha512\n",
            "hashAlgorithm",
            "sha256",
        ),
        (
            "  - keyless:\n      url: https://fulcio.sigstore.dev\n",
            "keyless",
            "identities",
        ),
    ];
    for (authority, field, hint) in cases {
        let doc = cip(authority, "");
        let diags = errors(&doc);
        let d = diags
            .iter()
            .find(|d| d.message.contains(field))
            .unwrap_or_else(|| panic!("{field}: no diagnostic names it: {diags:?}"));
        assert!(d.message.contains(hint), "{field}: {d}");
        let line = doc.lines().nth(d.line - 1).unwrap();
        assert!(
            line.contains(field.split('.').next_back().unwrap()) || field == "keyless",
            "{field}: the diagnostic points at {line:?}"
        );
    }
    // CUE/Rego policies and unknown fields too.
    let diags = errors(&cip(
        "  - key:\n      kms: awskms:///alias/x\n",
        "  policy:\n    type: cue\n    data: \"predicate: {}\"\n  match:\n  - resource: pods\n",
    ));
    assert!(
        diags.iter().any(|d| d.message.contains("spec.policy")),
        "{diags:?}"
    );
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("spec.match") && d.kind == DiagnosticKind::UnknownKey),
        "{diags:?}"
    );
}

#[test]
fn a_converted_policy_prints_as_hallmark_v1_that_loads_the_same() {
    let doc = cip(
        "  - key:\n      kms: awskms:///alias/release\n  - static:\n      action: pass\n",
        "",
    );
    let p = policy(&doc);
    let yaml = hallmark_policy::containers::to_hallmark_yaml(&p);
    assert!(yaml.contains("apiVersion: hallmark/v1"), "{yaml}");
    let again = policy(&yaml);
    assert_eq!(again.rules.len(), 1);
    assert_eq!(again.rules[0].any_of.len(), 2);
    assert!(matches!(again.rules[0].any_of[1], Requirement::Accept));
}
