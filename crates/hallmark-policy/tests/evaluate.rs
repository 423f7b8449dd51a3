//! evaluate(): each requirement kind met and unmet, with reasons naming what was expected and
//! what was found; groups, modes, defaults and namespaces.

use crate::support::{
    DIGEST, OTHER_DIGEST, attestation, cert_sig, dct, evidence, fingerprint, key_sig, policy,
    with_key,
};
use hallmark_policy::{
    Collected, CollectionFailure, DctEvidence, Evidence, Mode, Reason, RejectedCandidate,
    SignatureFormat, Verdict, evaluate,
};

const KEYS: &str = "/etc/hallmark/keys";

fn rules(body: &str) -> String {
    format!("apiVersion: hallmark/v1\nkind: Policy\ndefault: deny\nrules:\n{body}")
}

fn one_rule(require: &str) -> String {
    rules(&format!(
        "  - name: prod\n    images: ['registry.example.com/**']\n    require:\n{require}"
    ))
}

fn three_keys() -> Evidence {
    let e = evidence("registry.example.com/app:v1");
    let e = with_key(e, &format!("{KEYS}/a.pub"), 1);
    let e = with_key(e, &format!("{KEYS}/b.pub"), 2);
    with_key(e, &format!("{KEYS}/c.pub"), 3)
}

fn reason(text: &str, e: &Evidence) -> (Verdict, String, &'static str) {
    let d = evaluate(&policy(text), e, 1_700_000_000);
    let r = d.reason.clone();
    (
        d.verdict,
        r.as_ref().map(ToString::to_string).unwrap_or_default(),
        r.as_ref().map_or("", Reason::code),
    )
}

#[test]
fn k_of_n_counts_distinct_keys() {
    let p =
        one_rule("      - cosign: {keys: [keys/a.pub, keys/b.pub, keys/c.pub], threshold: 2}\n");
    let mut two = three_keys();
    two.signatures = vec![key_sig(1, None), key_sig(3, None)];
    assert_eq!(reason(&p, &two).0, Verdict::Allow);
    let mut twice = three_keys();
    twice.signatures = vec![key_sig(1, None), key_sig(1, None)];
    let (v, text, code) = reason(&p, &twice);
    assert_eq!((v, code), (Verdict::Deny, "threshold_not_met"));
    assert!(
        text.starts_with("2 of 3 keys required, 1 found (/etc/hallmark/keys/a.pub)"),
        "{text}"
    );
    let mut unlisted = three_keys();
    unlisted.signatures = vec![key_sig(1, None), key_sig(7, None)];
    let (_, text, _) = reason(&p, &unlisted);
    assert!(
        text.contains("1 signature by an unlisted signer (key sha256:070707070707…)"),
        "{text}"
    );
}

#[test]
fn a_key_that_does_not_load_matters_only_when_the_threshold_cannot_be_met() {
    let p = one_rule("      - cosign: {keys: [keys/a.pub, keys/b.pub], threshold: 1}\n");
    let mut e = three_keys();
    e.keys
        .insert(format!("{KEYS}/b.pub"), Err("permission denied".into()));
    e.signatures = vec![key_sig(1, None)];
    assert_eq!(reason(&p, &e).0, Verdict::Allow);
    let p2 = one_rule("      - cosign: {keys: [keys/a.pub, keys/b.pub], threshold: 2}\n");
    let (v, text, code) = reason(&p2, &e);
    assert_eq!((v, code), (Verdict::Deny, "key_unavailable"));
    assert!(
        text.contains("/etc/hallmark/keys/b.pub: permission denied"),
        "{text}"
    );
}

#[test]
fn no_signatures_and_collection_failures() {
    let p = one_rule("      - cosign: {keys: [keys/a.pub]}\n");
    let (_, text, code) = reason(&p, &three_keys());
    assert_eq!(code, "no_signatures");
    assert_eq!(text, "no cosign signatures (simplesigning, bundle) found");
    let mut e = three_keys();
    e.failures.push(CollectionFailure {
        what: Collected::Signatures,
        message: "registry returned 500".into(),
    });
    let (_, text, code) = reason(&p, &e);
    assert_eq!(code, "collection_failed");
    assert!(text.contains("registry returned 500"), "{text}");
    let mut e = three_keys();
    e.rejected.push(RejectedCandidate {
        format: "simplesigning",
        source: "sha256-1.sig".into(),
        reason: "bad signature".into(),
    });
    let (_, text, code) = reason(&p, &e);
    assert_eq!(code, "threshold_not_met");
    assert!(
        text.contains("1 candidate did not verify (first: sha256-1.sig: bad signature)"),
        "{text}"
    );
}

#[test]
fn keyless_identities_exact_and_regex() {
    let p = one_rule(
        "      - cosign:\n          keyless:\n            trustedRoot: trusted_root.json\n            identities:\n              - {issuer: https://token.actions.githubusercontent.com, subjectRegExp: '^https://github.com/acme/.*$'}\n              - {issuerRegExp: '^https://accounts\\.example\\.com$', subject: ops@example.com}\n",
    );
    let trust = "/etc/hallmark/trusted_root.json";
    let gh = Some("https://token.actions.githubusercontent.com");
    let cases: &[(&str, &str, Option<&str>, bool)] = &[
        (
            trust,
            "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main",
            gh,
            true,
        ),
        (
            trust,
            "https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main",
            gh,
            false,
        ),
        (
            trust,
            "https://github.com/acme/app",
            Some("https://other.example"),
            false,
        ),
        (trust, "https://github.com/acme/app", None, false),
        (
            trust,
            "ops@example.com",
            Some("https://accounts.example.com"),
            true,
        ),
        (
            trust,
            "ops@example.com",
            Some("https://accounts.example.com.evil"),
            false,
        ),
        (
            "/other/trusted_root.json",
            "ops@example.com",
            Some("https://accounts.example.com"),
            false,
        ),
    ];
    for (t, subject, issuer, allowed) in cases {
        let mut e = evidence("registry.example.com/app:v1");
        e.signatures.push(cert_sig(t, subject, *issuer));
        assert_eq!(
            reason(&p, &e).0 == Verdict::Allow,
            *allowed,
            "{subject} {issuer:?} {t}"
        );
    }
}

#[test]
fn certificate_signers_are_distinct_by_identity() {
    let p = one_rule(
        "      - cosign:\n          certificates: {roots: ca.pem, identities: [{subject: a@example.com}, {subject: b@example.com}]}\n          threshold: 2\n",
    );
    let mut e = evidence("registry.example.com/app:v1");
    e.signatures = vec![
        cert_sig("/etc/hallmark/ca.pem", "a@example.com", None),
        cert_sig("/etc/hallmark/ca.pem", "a@example.com", None),
    ];
    assert_eq!(reason(&p, &e).0, Verdict::Deny);
    e.signatures
        .push(cert_sig("/etc/hallmark/ca.pem", "b@example.com", Some("x")));
    assert_eq!(reason(&p, &e).0, Verdict::Allow);
}

#[test]
fn annotations_must_match() {
    let p = one_rule("      - cosign: {keys: [keys/a.pub], annotations: {env: prod}}\n");
    let mut e = three_keys();
    let mut s = key_sig(1, None);
    s.annotations.insert("env".into(), "dev".into());
    e.signatures = vec![s.clone()];
    let (v, text, _) = reason(&p, &e);
    assert_eq!(v, Verdict::Deny);
    assert!(
        text.contains("without the required annotations (expected env=prod, found env=dev)"),
        "{text}"
    );
    s.annotations.insert("env".into(), "prod".into());
    s.annotations.insert("extra".into(), "fine".into());
    e.signatures = vec![s];
    assert_eq!(reason(&p, &e).0, Verdict::Allow);
}

#[test]
fn signed_identity_mismatch_names_expected_and_found() {
    let p =
        one_rule("      - cosign: {keys: [keys/a.pub], signedIdentity: {type: matchRepository}}\n");
    let mut e = three_keys();
    e.signatures = vec![key_sig(1, Some("registry.example.com/other:v1"))];
    let (v, text, code) = reason(&p, &e);
    assert_eq!((v, code), (Verdict::Deny, "identity_mismatch"));
    assert_eq!(
        text,
        "signed for another image (expected matchRepository on registry.example.com/app, found registry.example.com/other:v1)"
    );
    e.signatures = vec![key_sig(1, Some("registry.example.com/app:v0"))];
    assert_eq!(reason(&p, &e).0, Verdict::Allow);
}

#[test]
fn formats_filter_signatures() {
    let p = one_rule("      - cosign: {keys: [keys/a.pub], formats: [bundle]}\n");
    let mut e = three_keys();
    e.signatures = vec![key_sig(1, None)];
    let (_, text, code) = reason(&p, &e);
    assert_eq!(code, "no_signatures");
    assert_eq!(text, "no cosign signatures (bundle) found");
    e.signatures[0].format = SignatureFormat::Bundle;
    assert_eq!(reason(&p, &e).0, Verdict::Allow);
}

#[test]
fn tlog_inside_a_requirement() {
    let p = one_rule("      - cosign: {keys: [keys/a.pub], tlog: {rekorKeys: [keys/rekor.pub]}}\n");
    let mut e = three_keys();
    e.signatures = vec![key_sig(1, None)];
    let (v, text, code) = reason(&p, &e);
    assert_eq!((v, code), (Verdict::Deny, "not_logged"));
    assert!(
        text.contains("none logged in /etc/hallmark/keys/rekor.pub"),
        "{text}"
    );
    e.signatures[0].logged_in = vec![format!("{KEYS}/rekor.pub")];
    assert_eq!(reason(&p, &e).0, Verdict::Allow);
}

#[test]
fn witnessed_tlog_counts_entries_only_under_its_witness_policy() {
    let p = one_rule(
        "      - cosign: {keys: [keys/a.pub]}\n      - tlog: {rekorKeys: [keys/rekor.pub], witnessPolicy: witnesses.txt}\n",
    );
    let parsed = policy(&p);
    let witnessed = format!("{KEYS}/rekor.pub witnessed under /etc/hallmark/witnesses.txt");
    let ids = match &parsed.rules[0].require[1] {
        hallmark_policy::Requirement::Tlog(t) => t.ids(),
        other => panic!("expected a tlog requirement, found {other:?}"),
    };
    assert_eq!(ids, vec![witnessed.clone()]);
    let mut e = three_keys();
    let mut sig = key_sig(1, None);
    // Logged in the log, but not under the witness policy: not counted, and the refusal says
    // why the entry did not verify there.
    sig.logged_in = vec![format!("{KEYS}/rekor.pub")];
    sig.log_failures.insert(
        witnessed.clone(),
        "the checkpoint of size 9: cosigned by [w1], the quorum needs 2 of [w1, w2]".into(),
    );
    e.signatures = vec![sig];
    let d = evaluate(&parsed, &e, 0);
    assert_eq!(d.verdict, Verdict::Deny);
    let r = d.requirements[1].reason.as_ref().unwrap();
    assert_eq!(r.code(), "not_logged");
    let text = r.to_string();
    assert!(
        text.contains(&format!("none logged in {witnessed}")),
        "{text}"
    );
    assert!(
        text.contains("cosigned by [w1], the quorum needs 2 of [w1, w2]"),
        "{text}"
    );
    e.signatures[0].logged_in = vec![witnessed];
    assert!(evaluate(&parsed, &e, 0).allowed());
}

#[test]
fn standalone_tlog_needs_an_accepted_signature_to_be_logged() {
    let p = one_rule(
        "      - cosign: {keys: [keys/a.pub]}\n      - tlog: {trustedRoot: trusted_root.json}\n",
    );
    let mut e = three_keys();
    let mut unlisted = key_sig(7, None);
    unlisted.logged_in = vec!["/etc/hallmark/trusted_root.json".into()];
    e.signatures = vec![key_sig(1, None), unlisted];
    let d = evaluate(&policy(&p), &e, 0);
    assert_eq!(d.verdict, Verdict::Deny);
    assert_eq!(
        d.requirements[1].reason.as_ref().unwrap().code(),
        "not_logged"
    );
    e.signatures[0].logged_in = vec!["/etc/hallmark/trusted_root.json".into()];
    assert!(evaluate(&policy(&p), &e, 0).allowed());
}

fn dct_policy() -> String {
    one_rule("      - dct: {server: https://notary.example.com, signers: [alice, bob]}\n")
}

fn with_dct(img: &str, d: DctEvidence) -> Evidence {
    let mut e = evidence(img);
    e.dct.push(d);
    e
}

#[test]
fn dct_signed_by_a_named_signer() {
    let s = Some("https://notary.example.com");
    let alice = with_dct(
        "registry.example.com/app:v1",
        dct(s, &[("v1", DIGEST, &["alice"])]),
    );
    assert_eq!(reason(&dct_policy(), &alice).0, Verdict::Allow);
    let carol = with_dct(
        "registry.example.com/app:v1",
        dct(s, &[("v1", DIGEST, &["carol"]), ("v2", DIGEST, &["alice"])]),
    );
    let (v, text, code) = reason(&dct_policy(), &carol);
    assert_eq!((v, code), (Verdict::Deny, "dct_not_signed"));
    assert_eq!(
        text,
        "tag v1 is not signed by alice or bob (signed by carol)"
    );
    let mismatch = with_dct(
        "registry.example.com/app:v1",
        dct(s, &[("v1", OTHER_DIGEST, &["alice"])]),
    );
    let (_, text, code) = reason(&dct_policy(), &mismatch);
    assert_eq!(code, "dct_digest_mismatch");
    assert_eq!(
        text,
        format!("trust data signs v1 as {OTHER_DIGEST}, the registry serves {DIGEST}")
    );
    let unsigned = with_dct(
        "registry.example.com/app:v1",
        dct(s, &[("v2", DIGEST, &["alice"])]),
    );
    assert_eq!(
        reason(&dct_policy(), &unsigned).1,
        "tag v1 is not signed by alice or bob (not signed)"
    );
    let digest_only = with_dct(
        &format!("registry.example.com/app@{DIGEST}"),
        dct(s, &[("v2", DIGEST, &["bob"])]),
    );
    assert_eq!(reason(&dct_policy(), &digest_only).0, Verdict::Allow);
}

#[test]
fn dct_unavailable() {
    let s = Some("https://notary.example.com".to_string());
    let e = with_dct(
        "registry.example.com/app:v1",
        DctEvidence {
            server: s,
            result: Err("root expired".into()),
        },
    );
    let (v, text, code) = reason(&dct_policy(), &e);
    assert_eq!((v, code), (Verdict::Deny, "dct_unavailable"));
    assert_eq!(
        text,
        "no verified trust data from https://notary.example.com: root expired"
    );
    let other_server = with_dct(
        "registry.example.com/app:v1",
        dct(None, &[("v1", DIGEST, &["alice"])]),
    );
    assert_eq!(reason(&dct_policy(), &other_server).2, "dct_unavailable");
}

fn attestation_policy() -> String {
    one_rule(
        "      - attestation:\n          type: slsaprovenance1\n          keys: [keys/a.pub]\n          condition: 'predicate.runDetails.builder.id == \"https://ci.example.com/builder\"'\n",
    )
}

const SLSA1: &str = "https://slsa.dev/provenance/v1";

#[test]
fn attestation_condition() {
    let mut e = three_keys();
    e.attestations = vec![attestation(
        1,
        SLSA1,
        serde_json::json!({"runDetails": {"builder": {"id": "https://ci.example.com/builder"}}}),
    )];
    assert_eq!(reason(&attestation_policy(), &e).0, Verdict::Allow);
    e.attestations = vec![attestation(
        1,
        SLSA1,
        serde_json::json!({"runDetails": {"builder": {"id": "https://other.example/builder"}}}),
    )];
    let (v, text, code) = reason(&attestation_policy(), &e);
    assert_eq!((v, code), (Verdict::Deny, "condition_false"));
    assert!(
        text.contains("predicate.runDetails.builder.id == \"https://ci.example.com/builder\""),
        "{text}"
    );
    assert!(text.contains("predicate.runDetails.builder.id is \"https://other.example/builder\", expected == \"https://ci.example.com/builder\""), "{text}");
    e.attestations = vec![attestation(
        1,
        SLSA1,
        serde_json::json!({"buildDefinition": {}}),
    )];
    let (_, text, code) = reason(&attestation_policy(), &e);
    assert_eq!(code, "condition_error");
    assert!(text.contains("runDetails"), "{text}");
}

#[test]
fn attestation_missing_or_by_an_unlisted_key() {
    let mut e = three_keys();
    e.attestations = vec![attestation(
        1,
        "https://spdx.dev/Document",
        serde_json::json!({}),
    )];
    let (_, text, code) = reason(&attestation_policy(), &e);
    assert_eq!(code, "attestation_missing");
    assert_eq!(
        text,
        "no attestation of type https://slsa.dev/provenance/v1 by an accepted signer (found 1 attestation of type https://spdx.dev/Document)"
    );
    e.attestations = vec![attestation(9, SLSA1, serde_json::json!({}))];
    assert!(
        reason(&attestation_policy(), &e)
            .1
            .contains("1 attestation by an unlisted signer")
    );
}

#[test]
fn audit_allows_with_one_warning_per_unmet_requirement() {
    let p = rules(
        "  - name: prod\n    images: ['registry.example.com/**']\n    mode: audit\n    require:\n      - cosign: {keys: [keys/a.pub]}\n      - reject: {message: frozen}\n      - accept: {}\n",
    );
    let d = evaluate(&policy(&p), &three_keys(), 0);
    assert_eq!((d.verdict, d.mode), (Verdict::Allow, Mode::Audit));
    assert_eq!(d.reason, None);
    assert_eq!(
        d.warnings,
        vec![
            "audit: rule prod: cosign: 1 of 1 key: no cosign signatures (simplesigning, bundle) found".to_string(),
            "audit: rule prod: reject: frozen: rejected by policy: frozen".to_string(),
        ]
    );
}

#[test]
fn any_of_needs_one_alternative() {
    let p = rules(
        "  - name: prod\n    images: ['registry.example.com/**']\n    anyOf:\n      - cosign: {keys: [keys/a.pub]}\n      - dct: {signers: [alice]}\n",
    );
    let mut e = three_keys();
    let d = evaluate(&policy(&p), &e, 0);
    assert_eq!(d.reason, Some(Reason::NoAlternativeMet));
    e.dct.push(dct(None, &[("v1", DIGEST, &["alice"])]));
    assert!(evaluate(&policy(&p), &e, 0).allowed());
}

#[test]
fn reject_and_accept() {
    let p = rules(
        "  - {name: frozen, images: ['registry.example.com/**'], require: [reject: {message: 'registry frozen'}]}\n  - {name: open, images: ['quay.io/**'], require: [accept: {}]}\n",
    );
    let (v, text, code) = reason(&p, &evidence("registry.example.com/app:v1"));
    assert_eq!((v, code), (Verdict::Deny, "rejected"));
    assert_eq!(text, "rejected by policy: registry frozen");
    assert_eq!(reason(&p, &evidence("quay.io/a/b:v1")).0, Verdict::Allow);
}

#[test]
fn default_deny_and_allow() {
    let deny = rules("  - {name: open, images: ['quay.io/**'], require: [accept: {}]}\n");
    let d = evaluate(&policy(&deny), &evidence("busybox:latest"), 0);
    assert_eq!(
        (d.verdict, d.rule.clone(), d.reason.clone()),
        (Verdict::Deny, None, Some(Reason::NoRuleMatched))
    );
    let allow = deny.replace("default: deny", "default: allow");
    let d = evaluate(&policy(&allow), &evidence("busybox:latest"), 0);
    assert_eq!((d.verdict, d.reason), (Verdict::Allow, None));
}

#[test]
fn namespaces_limit_rules() {
    let p = rules(
        "  - {name: team-a, namespaces: [team-a], images: ['registry.example.com/**'], require: [accept: {}]}\n  - {name: everyone, images: ['**'], require: [reject: {}]}\n",
    );
    let mut e = evidence("registry.example.com/app:v1");
    e.namespace = Some("team-a".into());
    let d = evaluate(&policy(&p), &e, 0);
    assert_eq!(
        (d.verdict, d.rule.as_deref()),
        (Verdict::Allow, Some("team-a"))
    );
    e.namespace = Some("team-b".into());
    assert_eq!(
        evaluate(&policy(&p), &e, 0).rule.as_deref(),
        Some("everyone")
    );
    e.namespace = None;
    assert_eq!(
        evaluate(&policy(&p), &e, 0).rule.as_deref(),
        Some("everyone")
    );
}

#[test]
fn the_most_specific_rule_decides() {
    let p = rules(
        "  - {name: all, images: ['registry.example.com/**'], require: [reject: {}]}\n  - {name: app, images: ['registry.example.com/app'], require: [accept: {}]}\n  - {name: v1, images: ['registry.example.com/app:v1'], require: [reject: {}]}\n",
    );
    let rule = |img: &str| evaluate(&policy(&p), &evidence(img), 0).rule;
    assert_eq!(rule("registry.example.com/app:v2").as_deref(), Some("app"));
    assert_eq!(rule("registry.example.com/app:v1").as_deref(), Some("v1"));
    assert_eq!(
        rule("registry.example.com/other:v1").as_deref(),
        Some("all")
    );
    let _ = fingerprint(0);
}
