//! `evaluate` with arbitrary evidence (built from the fuzzer's bytes) against a fixed set of
//! policies: never panics, and the security invariants hold: with `default: deny`, an image
//! no rule matches is never allowed; a matched `enforce` rule whose `require` has `reject` never
//! allows; a decision that allows has no reason; the decision serialises.
#![no_main]

use hallmark_policy::{
    AttestationEvidence, Collected, CollectionFailure, DctEvidence, DctTarget, DefaultAction,
    Evidence, ImageName, Mode, NotationEvidence, NotationSignature, NotationVerification, Policy,
    RejectedCandidate, Requirement, SignatureEvidence, SignatureFormat, Signer, evaluate,
};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

const POLICIES: &[&str] = &[
    r#"apiVersion: hallmark/v1
kind: Policy
default: deny
rules:
  - name: prod
    images: ["registry.example.com/prod/**"]
    require:
      - cosign:
          keys: [/k/a.pub, /k/b.pub, /k/c.pub]
          threshold: 2
          keyless:
            trustedRoot: /tr.json
            identities: [{issuer: https://issuer.example, subjectRegExp: '^ci@'}]
          annotations: {env: prod}
          signedIdentity: {type: matchRepoDigestOrExact}
          tlog: {trustedRoot: /tr.json}
      - tlog: {rekorKeys: [/k/rekor.pub]}
  - name: frozen
    images: ["registry.example.com/frozen/**"]
    require: [reject: {message: frozen}, accept: {}]
  - name: audited
    images: ["registry.example.com/audit/**"]
    mode: audit
    require: [reject: {}]
  - name: team
    namespaces: [team-a]
    images: ["registry.example.com/team/**"]
    anyOf:
      - dct: {signers: [alice, bob], threshold: 2}
      - dct: {server: https://notary.example.com}
      - attestation:
          type: slsaprovenance1
          keys: [/k/a.pub]
          condition: 'predicate.builder.id == "https://ci.example.com" && size(subject) > 0'
      - notation:
          trustStore: /notation/truststore
          trustStores: ["ca:acme"]
          trustedIdentities: ["x509.subject: CN=acme, O=Notary, ST=WA, C=US"]
          level: audit
"#,
    r#"apiVersion: hallmark/v1
kind: Policy
default: allow
rules:
  - name: all-rejected
    images: ["**"]
    require: [reject: {}]
  - name: quay
    images: ["quay.io/**:v*"]
    require:
      - cosign: {certificates: {roots: /ca.pem, identities: [{subject: a@example.com}, {subject: b@example.com}]}, threshold: 2, formats: [bundle], signedIdentity: {type: remapIdentity, prefix: quay.io, signedPrefix: registry.example.com}}
"#,
    r#"{"default": [{"type": "reject"}], "transports": {"docker": {
        "registry.example.com": [{"type": "sigstoreSigned", "keyPaths": ["/k/a.pub", "/k/b.pub"], "signedIdentity": {"type": "matchRepository"}}],
        "registry.example.com/frozen": [{"type": "reject"}],
        "*.example.org": [{"type": "insecureAcceptAnything"}]}}}"#,
];

fn policies() -> &'static [Policy] {
    static P: OnceLock<Vec<Policy>> = OnceLock::new();
    P.get_or_init(|| {
        POLICIES
            .iter()
            .map(|t| Policy::parse(t.as_bytes(), Path::new("/fuzz/policy")).expect("fixed policy"))
            .collect()
    })
}

const NAMES: &[&str] = &[
    "registry.example.com/prod/app",
    "registry.example.com/frozen/app",
    "registry.example.com/audit/x",
    "registry.example.com/team/app",
    "registry.example.com/other",
    "quay.io/acme/app",
    "docker.io/library/busybox",
    "a.example.org/x",
    "oci:/srv/layout",
];
const DIGESTS: &[&str] = &[
    "sha256:1111111111111111111111111111111111111111111111111111111111111111",
    "sha256:2222222222222222222222222222222222222222222222222222222222222222",
];
const KEY_IDS: &[&str] = &["/k/a.pub", "/k/b.pub", "/k/c.pub", "/k/rekor.pub"];
const LOGS: &[&str] = &["/tr.json", "/k/rekor.pub", "/elsewhere"];
const REFS: &[&str] = &[
    "registry.example.com/prod/app:v1",
    "registry.example.com/prod/app",
    "quay.io/acme/app:v1",
    "not a reference",
];

fn pick<'a>(u: &mut Unstructured<'_>, from: &[&'a str]) -> Result<String> {
    if u.ratio(1, 8)? {
        return Ok(String::from(u.arbitrary::<&str>()?));
    }
    Ok(from[u.choose_index(from.len())?].to_string())
}

fn fingerprint(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(format!("{:02x}", u.int_in_range(0..=4u8)?).repeat(32))
}

fn signer(u: &mut Unstructured<'_>) -> Result<Signer> {
    Ok(if u.arbitrary()? {
        Signer::Key {
            fingerprint: fingerprint(u)?,
        }
    } else {
        Signer::Certificate {
            trust: pick(u, &["/tr.json", "/ca.pem"])?,
            subjects: vec![pick(
                u,
                &["ci@example.com", "a@example.com", "b@example.com"],
            )?],
            issuer: if u.arbitrary()? {
                Some(pick(u, &["https://issuer.example"])?)
            } else {
                None
            },
            fingerprint: fingerprint(u)?,
        }
    })
}

fn json(u: &mut Unstructured<'_>, depth: u8) -> Result<serde_json::Value> {
    use serde_json::Value as J;
    Ok(match u.int_in_range(0..=5u8)? {
        0 => J::Null,
        1 => J::Bool(u.arbitrary()?),
        2 => J::from(u.arbitrary::<i64>()?),
        3 => J::String(pick(u, &["https://ci.example.com", "x"])?),
        4 if depth < 4 => J::Array(
            (0..u.int_in_range(0..=3u8)?)
                .map(|_| json(u, depth + 1))
                .collect::<Result<_>>()?,
        ),
        _ if depth < 4 => {
            let mut m = serde_json::Map::new();
            for _ in 0..u.int_in_range(0..=3u8)? {
                m.insert(
                    pick(u, &["builder", "id", "subject", "predicate"])?,
                    json(u, depth + 1)?,
                );
            }
            J::Object(m)
        }
        _ => J::Null,
    })
}

fn evidence(u: &mut Unstructured<'_>) -> Result<Evidence> {
    let image = ImageName {
        name: pick(u, NAMES)?,
        tag: if u.arbitrary()? {
            Some(pick(u, &["v1", "latest"])?)
        } else {
            None
        },
        digest: if u.arbitrary()? {
            Some(pick(u, DIGESTS)?)
        } else {
            None
        },
    };
    let mut keys = BTreeMap::new();
    for _ in 0..u.int_in_range(0..=4u8)? {
        let v = if u.ratio(1, 4)? {
            Err(String::from("unavailable"))
        } else {
            Ok(fingerprint(u)?)
        };
        keys.insert(pick(u, KEY_IDS)?, v);
    }
    let mut signatures = Vec::new();
    for _ in 0..u.int_in_range(0..=4u8)? {
        let mut annotations = BTreeMap::new();
        if u.arbitrary()? {
            annotations.insert(String::from("env"), pick(u, &["prod", "dev"])?);
        }
        signatures.push(SignatureEvidence {
            source: String::from("sig"),
            format: if u.arbitrary()? {
                SignatureFormat::SimpleSigning
            } else {
                SignatureFormat::Bundle
            },
            signer: signer(u)?,
            docker_reference: if u.arbitrary()? {
                Some(pick(u, REFS)?)
            } else {
                None
            },
            annotations,
            logged_in: (0..u.int_in_range(0..=2u8)?)
                .map(|_| pick(u, LOGS))
                .collect::<Result<_>>()?,
            log_failures: (0..u.int_in_range(0..=1u8)?)
                .map(|_| Ok((pick(u, LOGS)?, String::from("not cosigned"))))
                .collect::<Result<_>>()?,
        });
    }
    let mut attestations = Vec::new();
    for _ in 0..u.int_in_range(0..=2u8)? {
        let predicate_type = pick(
            u,
            &[
                "https://slsa.dev/provenance/v1",
                "https://spdx.dev/Document",
            ],
        )?;
        attestations.push(AttestationEvidence {
            source: String::from("att"),
            signer: signer(u)?,
            statement: serde_json::json!({
                "predicateType": predicate_type,
                "subject": json(u, 2)?,
                "predicate": json(u, 0)?,
            }),
            predicate_type,
            logged_in: (0..u.int_in_range(0..=1u8)?)
                .map(|_| pick(u, LOGS))
                .collect::<Result<_>>()?,
        });
    }
    let mut dct = Vec::new();
    for _ in 0..u.int_in_range(0..=2u8)? {
        let server = if u.arbitrary()? {
            Some(pick(u, &["https://notary.example.com"])?)
        } else {
            None
        };
        let result = if u.ratio(1, 4)? {
            Err(String::from("no trust data"))
        } else {
            let mut targets = Vec::new();
            for _ in 0..u.int_in_range(0..=3u8)? {
                targets.push(DctTarget {
                    tag: pick(u, &["v1", "latest"])?,
                    digest: pick(u, DIGESTS)?,
                    signers: (0..u.int_in_range(0..=2u8)?)
                        .map(|_| pick(u, &["alice", "bob", "carol", "targets"]))
                        .collect::<Result<_>>()?,
                });
            }
            Ok(targets)
        };
        dct.push(DctEvidence { server, result });
    }
    let mut notation = Vec::new();
    for _ in 0..u.int_in_range(0..=2u8)? {
        let result = if u.ratio(1, 4)? {
            Err(String::from("referrers could not be listed"))
        } else {
            let mut signatures = Vec::new();
            for _ in 0..u.int_in_range(0..=2u8)? {
                let verified: bool = u.arbitrary()?;
                signatures.push(NotationSignature {
                    source: String::from("sha256:sig"),
                    envelope: pick(u, &["jws", "cose"])?,
                    subject: None,
                    thumbprints: Vec::new(),
                    verified,
                    failure: (!verified).then(|| String::from("authenticity: untrusted")),
                    logged: (0..u.int_in_range(0..=1u8)?)
                        .map(|_| pick(u, &["expiry: expired"]))
                        .collect::<Result<_>>()?,
                });
            }
            Ok(NotationVerification {
                policy: String::from("team#4"),
                level: pick(u, &["strict", "permissive", "audit", "skip"])?,
                signatures,
            })
        };
        notation.push(NotationEvidence {
            requirement: pick(u, &["notation:team#4", "notation:other#1"])?,
            result,
        });
    }
    let mut rejected = Vec::new();
    if u.arbitrary()? {
        rejected.push(RejectedCandidate {
            format: "simplesigning",
            source: String::from("x"),
            reason: String::from("bad"),
        });
    }
    let mut failures = Vec::new();
    if u.ratio(1, 4)? {
        failures.push(CollectionFailure {
            what: Collected::Signatures,
            message: String::from("down"),
        });
    }
    Ok(Evidence {
        image,
        digest: pick(u, DIGESTS)?,
        namespace: if u.arbitrary()? {
            Some(pick(u, &["team-a", "team-b"])?)
        } else {
            None
        },
        keys,
        signatures,
        attestations,
        dct,
        notation,
        rejected,
        failures,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(e) = evidence(&mut u) else {
        return;
    };
    for policy in policies() {
        let d = evaluate(policy, &e, 1_700_000_000);
        let _ = serde_json::to_string(&d).expect("decision serialises");
        assert_eq!(d.allowed(), d.reason.is_none(), "{d:?}");
        match policy.rule_for(&e.image, e.namespace.as_deref()) {
            None => {
                if policy.default == DefaultAction::Deny {
                    assert!(
                        !d.allowed(),
                        "no rule matched, default deny, yet allowed: {d:?}"
                    );
                }
            }
            Some(rule) => {
                assert_eq!(d.rule.as_deref(), Some(rule.name.as_str()));
                if rule.mode == Mode::Enforce
                    && rule
                        .require
                        .iter()
                        .any(|r| matches!(r, Requirement::Reject { .. }))
                {
                    assert!(
                        !d.allowed(),
                        "reject in an enforce rule, yet allowed: {d:?}"
                    );
                }
            }
        }
    }
});
