//! Notation requirements: loaded with notation's own trust-policy rules (what notation would
//! refuse in trustpolicy.json is refused at its position), and decided as notation decides
//! (one verified signature is enough; failures a level only logs are warnings).

use crate::support::{errors, evidence, policy};
use hallmark_policy::{
    NotationEvidence, NotationSignature, NotationTrust, NotationVerification, Requirement, Verdict,
    evaluate,
};
use std::path::Path;

fn rule(requirement: &str) -> String {
    format!(
        "apiVersion: hallmark/v1\nkind: Policy\nrules:\n  - name: release\n    images: [\"registry.example.com/**\"]\n    require:\n      - notation: {requirement}\n"
    )
}

const INLINE: &str = "{trustStore: store, trustStores: [\"ca:acme\"], trustedIdentities: [\"x509.subject: CN=acme, O=Notary, ST=WA, C=US\"]}";

fn signature(verified: bool, failure: Option<&str>, logged: &[&str]) -> NotationSignature {
    NotationSignature {
        source: "sha256:aaaa".into(),
        envelope: "jws".into(),
        subject: Some("CN=acme,O=Notary,C=US".into()),
        thumbprints: Vec::new(),
        verified,
        failure: failure.map(str::to_owned),
        logged: logged.iter().map(|s| s.to_string()).collect(),
    }
}

fn with(level: &str, signatures: Vec<NotationSignature>) -> hallmark_policy::Evidence {
    let mut e = evidence("registry.example.com/app:v1");
    e.notation.push(NotationEvidence {
        requirement: "notation:release#1".into(),
        result: Ok(NotationVerification {
            policy: "release#1".into(),
            level: level.into(),
            signatures,
        }),
    });
    e
}

#[test]
fn an_inline_requirement_is_a_notation_trust_policy_with_its_store_beside_the_policy() {
    let p = policy(&rule(INLINE));
    let Requirement::Notation(n) = &p.rules[0].require[0] else {
        panic!(
            "expected a notation requirement, found {:?}",
            p.rules[0].require[0]
        );
    };
    assert_eq!(n.id, "notation:release#1");
    assert_eq!(n.trust_store, Path::new("/etc/hallmark/store"));
    let NotationTrust::Inline(t) = &n.trust else {
        panic!("expected an inline trust policy, found {:?}", n.trust);
    };
    assert_eq!(t.level.as_str(), "strict", "strict is the default level");
    assert_eq!(t.trust_stores[0].to_string(), "ca:acme");
    assert!(t.trusts_subject(&[
        ("C".into(), "US".into()),
        ("ST".into(), "WA".into()),
        ("O".into(), "Notary".into()),
        ("CN".into(), "acme".into()),
    ]));
    assert!(!t.trusts_subject(&[("CN".into(), "other".into())]));
    let p = policy(&rule(
        "{trustStore: /etc/notation/truststore, trustPolicy: trustpolicy.json}",
    ));
    let Requirement::Notation(n) = &p.rules[0].require[0] else {
        panic!()
    };
    assert_eq!(
        n.trust,
        NotationTrust::File("/etc/hallmark/trustpolicy.json".into())
    );
}

#[test]
fn what_notation_would_refuse_is_refused_at_its_place() {
    for (requirement, needle) in [
        // A store reference without a type.
        (
            "{trustStore: s, trustStores: [acme], trustedIdentities: [\"*\"]}",
            "trustStores",
        ),
        // A distinguished name without the attributes notation requires.
        (
            "{trustStore: s, trustStores: [\"ca:a\"], trustedIdentities: [\"x509.subject: CN=x\"]}",
            "trustedIdentities",
        ),
        // Integrity is always enforced.
        (
            "{trustStore: s, trustStores: [\"ca:a\"], trustedIdentities: [\"*\"], override: {integrity: log}}",
            "integrity",
        ),
        // `skip` would verify nothing: the requirement would be a lie.
        (
            "{trustStore: s, trustStores: [\"ca:a\"], trustedIdentities: [\"*\"], level: skip}",
            "level",
        ),
        // The trust policy is in the file or here, not both.
        (
            "{trustStore: s, trustPolicy: tp.json, level: audit}",
            "trustPolicy",
        ),
        // An unknown key.
        (
            "{trustStore: s, trustStores: [\"ca:a\"], trustedIdentities: [\"*\"], levle: audit}",
            "levle",
        ),
    ] {
        let e = errors(&rule(requirement));
        assert!(
            e.iter().any(|d| d.line == 7 && d.message.contains(needle)),
            "{requirement}: expected a diagnostic on line 7 naming {needle}, found {e:#?}"
        );
    }
}

#[test]
fn one_verified_signature_meets_it_and_logged_failures_become_warnings() {
    let p = policy(&rule(INLINE));
    let now = 0;
    let d = evaluate(
        &p,
        &with(
            "strict",
            vec![
                signature(false, Some("authenticity: another identity"), &[]),
                signature(true, None, &[]),
            ],
        ),
        now,
    );
    assert_eq!(d.verdict, Verdict::Allow, "{d:?}");
    assert!(d.warnings.is_empty());

    let d = evaluate(
        &p,
        &with(
            "audit",
            vec![signature(true, None, &["authenticity: another identity"])],
        ),
        now,
    );
    assert_eq!(d.verdict, Verdict::Allow);
    assert!(
        d.warnings[0].contains("authenticity: another identity"),
        "{:?}",
        d.warnings
    );

    let d = evaluate(
        &p,
        &with(
            "strict",
            vec![signature(false, Some("expiry: expired at 2022"), &[])],
        ),
        now,
    );
    assert_eq!(d.verdict, Verdict::Deny);
    let why = d.reason.as_ref().unwrap().to_string();
    assert!(
        why.contains("expiry: expired at 2022") && why.contains("release#1"),
        "{why}"
    );
    assert_eq!(d.reason.as_ref().unwrap().code(), "notation_not_verified");

    let d = evaluate(&p, &with("strict", Vec::new()), now);
    assert_eq!(d.verdict, Verdict::Deny);
    assert!(
        d.reason
            .as_ref()
            .unwrap()
            .to_string()
            .contains("no notation signature found")
    );

    // Nothing collected (the registry could not list referrers): unmet, saying why.
    let mut e = evidence("registry.example.com/app:v1");
    e.notation.push(NotationEvidence {
        requirement: "notation:release#1".into(),
        result: Err("the notation signatures could not be listed: 500".into()),
    });
    let d = evaluate(&p, &e, now);
    assert_eq!(d.reason.as_ref().unwrap().code(), "notation_unavailable");
    // A skip policy from notation's file verifies nothing and passes, as notation does.
    let d = evaluate(&p, &with("skip", Vec::new()), now);
    assert_eq!(d.verdict, Verdict::Allow);
}
