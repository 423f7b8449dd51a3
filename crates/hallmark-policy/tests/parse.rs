//! Loading: every load error is reported with file, line and column, and names what was
//! expected and what was found; valid files (YAML and JSON) give the same model.

use crate::support::{POLICY_PATH, error, errors, policy, policy_at};
use hallmark_policy::{
    DefaultAction, DiagnosticKind, FileOrData, KeySource, Mode, Origin, Requirement,
    SignatureFormat, SignedIdentity, TrustSource,
};
use std::path::{Path, PathBuf};

const FULL: &str = r#"apiVersion: hallmark/v1
kind: Policy
default: deny
rules:
  - name: production
    images: ["registry.example.com/prod/**"]
    namespaces: [team-a]
    mode: audit
    require:
      - cosign:
          keys: [keys/a.pub, /abs/b.pub, "awskms:///alias/release"]
          threshold: 2
          keyless:
            trustedRoot: trusted_root.json
            identities:
              - {issuer: https://token.actions.githubusercontent.com, subjectRegExp: '^https://github.com/acme/.*$'}
          certificates:
            roots: ca.pem
            intermediates: intermediates.pem
            identities: [{subject: release@example.com}]
          annotations: {env: prod}
          signedIdentity: {type: matchRepository}
          formats: [simplesigning]
          tlog: {trustedRoot: trusted_root.json}
      - dct: {server: https://notary.example.com, signers: [alice, bob], threshold: 1}
      - attestation:
          type: slsaprovenance1
          keys: [keys/ci.pub]
          condition: 'predicate.runDetails.builder.id == "https://ci.example.com/builder"'
          tlog: {rekorKeys: [keys/rekor.pub]}
      - tlog: {trustedRoot: trusted_root.json}
    anyOf:
      - reject: {message: "no"}
      - accept: {}
"#;

/// 1-based line and column (characters) of the first occurrence of `needle` in `text`.
fn pos_of(text: &str, needle: &str) -> (usize, usize) {
    let b = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"));
    let before = &text[..b];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (line, col)
}

/// Assert one diagnostic at the first occurrence of `needle`, of `kind`, whose message
/// contains each of `texts`.
fn at_text(text: &str, needle: &str, kind: DiagnosticKind, texts: &[&str]) {
    let (line, column) = pos_of(text, needle);
    at(text, line, column, kind, texts);
}

/// Assert one diagnostic's place and kind, and that its message contains each of `texts`.
fn at(text: &str, line: usize, column: usize, kind: DiagnosticKind, texts: &[&str]) {
    let d = error(text);
    assert_eq!(d.file, PathBuf::from(POLICY_PATH), "{d:?}");
    assert_eq!((d.line, d.column, d.kind), (line, column, kind), "{d:?}");
    for t in texts {
        assert!(d.message.contains(t), "{:?} lacks {t:?}", d.message);
    }
}

fn rule_with(require: &str) -> String {
    format!(
        "apiVersion: hallmark/v1\nkind: Policy\nrules:\n  - name: r\n    images: [\"**\"]\n    require:\n{require}"
    )
}

#[test]
fn full_policy_loads_with_every_field() {
    let p = policy(FULL);
    assert_eq!(p.origin, Origin::Hallmark);
    assert_eq!(p.default, DefaultAction::Deny);
    assert_eq!(p.source, PathBuf::from(POLICY_PATH));
    let r = &p.rules[0];
    assert_eq!(r.name, "production");
    assert_eq!(r.mode, Mode::Audit);
    assert_eq!(r.namespaces.as_deref(), Some(&["team-a".to_string()][..]));
    assert_eq!(r.require.len(), 4);
    assert_eq!(r.any_of.len(), 2);
    let Requirement::Cosign(c) = &r.require[0] else {
        panic!()
    };
    assert_eq!(
        c.keys,
        vec![
            KeySource::Reference("/etc/hallmark/keys/a.pub".into()),
            KeySource::Reference("/abs/b.pub".into()),
            KeySource::Reference("awskms:///alias/release".into()),
        ]
    );
    assert_eq!(c.threshold, 2);
    assert_eq!(
        c.keyless.as_ref().unwrap().source,
        TrustSource::TrustedRoot("/etc/hallmark/trusted_root.json".into())
    );
    assert_eq!(
        c.certificates.as_ref().unwrap().source,
        TrustSource::Roots {
            roots: FileOrData::File("/etc/hallmark/ca.pem".into()),
            intermediates: Some(FileOrData::File("/etc/hallmark/intermediates.pem".into())),
        }
    );
    assert_eq!(c.signed_identity, SignedIdentity::MatchRepository);
    assert_eq!(c.formats, vec![SignatureFormat::SimpleSigning]);
    assert_eq!(c.annotations.get("env").map(String::as_str), Some("prod"));
    let Requirement::Attestation(a) = &r.require[2] else {
        panic!()
    };
    assert_eq!(a.predicate_type, "https://slsa.dev/provenance/v1");
    assert_eq!(a.threshold, 1);
    assert_eq!(
        a.tlog.as_ref().unwrap().ids(),
        vec!["/etc/hallmark/keys/rekor.pub".to_string()]
    );
    assert_eq!(r.require[3].kind(), "tlog");
    assert_eq!(r.any_of[0].kind(), "reject");
    assert_eq!(r.any_of[1].kind(), "accept");
}

#[test]
fn collector_helpers_are_deduplicated_with_ids() {
    let p = policy(FULL);
    let r = &p.rules[0];
    let keys = r.key_sources();
    assert_eq!(keys.len(), 4);
    assert!(keys.contains_key("/etc/hallmark/keys/ci.pub"));
    let trust = r.trust_sources();
    assert_eq!(
        trust.keys().collect::<Vec<_>>(),
        vec![
            "/etc/hallmark/ca.pem+/etc/hallmark/intermediates.pem",
            "/etc/hallmark/trusted_root.json"
        ]
    );
    let logs = r.log_sources();
    assert_eq!(
        logs.keys().collect::<Vec<_>>(),
        vec![
            "/etc/hallmark/keys/rekor.pub",
            "/etc/hallmark/trusted_root.json"
        ]
    );
    let needs = r.needs();
    assert!(needs.signatures);
    assert_eq!(
        needs.attestations,
        vec!["https://slsa.dev/provenance/v1".to_string()]
    );
    assert_eq!(
        needs.dct_servers,
        vec![Some("https://notary.example.com".to_string())]
    );
    assert_eq!(r.require[0].describe().lines().count(), 1);
    assert!(
        r.require[0]
            .describe()
            .starts_with("cosign: 2 of 5 signers")
    );
    assert_eq!(
        r.require[1].describe(),
        "dct: signed by 1 of alice, bob on https://notary.example.com"
    );
}

#[test]
fn json_and_yaml_give_the_same_model() {
    let json = r#"{
  "apiVersion": "hallmark/v1", "kind": "Policy", "default": "allow",
  "rules": [{"name": "r", "images": ["registry.example.com/**:v1"],
             "require": [{"cosign": {"keys": ["k.pub"], "signedIdentity": {"type": "exactReference", "dockerReference": "busybox:latest"}}}]}]
}"#;
    let yaml = "apiVersion: hallmark/v1\nkind: Policy\ndefault: allow\nrules:\n- name: r\n  images: ['registry.example.com/**:v1']\n  require:\n  - cosign: {keys: [k.pub], signedIdentity: {type: exactReference, dockerReference: 'busybox:latest'}}\n";
    let (a, b) = (policy(json), policy(yaml));
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert_eq!(a.default, DefaultAction::Allow);
}

#[test]
fn relative_paths_resolve_against_the_policy_directory() {
    let text = rule_with(
        "      - cosign: {keys: [keys/a.pub, ../b.pub, 'env://KEY', 'pkcs11:token=x'], keyless: {trustedRoot: tr.json, identities: [{issuer: i, subject: s}]}}\n",
    );
    let p = policy_at(&text, "/srv/policies/p.yaml");
    let Requirement::Cosign(c) = &p.rules[0].require[0] else {
        panic!()
    };
    let ids: Vec<String> = c.keys.iter().map(KeySource::id).collect();
    assert_eq!(
        ids,
        vec![
            "/srv/policies/keys/a.pub",
            "/srv/policies/../b.pub",
            "env://KEY",
            "pkcs11:token=x"
        ]
    );
    assert_eq!(
        c.keyless.as_ref().unwrap().source.id(),
        "/srv/policies/tr.json"
    );
    // A bare file name in the working directory keeps relative paths relative.
    let p = policy_at(&text, "p.yaml");
    let Requirement::Cosign(c) = &p.rules[0].require[0] else {
        panic!()
    };
    assert_eq!(c.keys[0].id(), "keys/a.pub");
}

#[test]
fn inline_pem_keys_are_data_with_a_digest_id() {
    let text = rule_with(
        "      - cosign: {keys: [\"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n\"]}\n",
    );
    let p = policy(&text);
    let Requirement::Cosign(c) = &p.rules[0].require[0] else {
        panic!()
    };
    assert!(matches!(&c.keys[0], KeySource::Data(d) if d.starts_with("-----BEGIN")));
    assert!(c.keys[0].id().starts_with("keyData:sha256:"));
    assert_eq!(c.keys[0].id().len(), "keyData:sha256:".len() + 64);
}

#[test]
fn malformed_yaml_has_a_position() {
    at(
        "apiVersion: hallmark/v1\nkind: Policy\nrules: [\n  {name: x\n",
        5,
        1,
        DiagnosticKind::Syntax,
        &["malformed YAML"],
    );
}

#[test]
fn malformed_json_has_a_position() {
    at(
        "{\n  \"apiVersion\": \"hallmark/v1\",\n  \"kind\": \"Policy\",\n}\n",
        4,
        1,
        DiagnosticKind::Syntax,
        &["malformed JSON", "key must be a string"],
    );
}

#[test]
fn not_utf8_is_a_syntax_error() {
    let d = match hallmark_policy::Policy::parse(b"apiVersion: \xff\n", Path::new(POLICY_PATH)) {
        Err(e) => e.diagnostics.into_iter().next().unwrap(),
        Ok(_) => panic!(),
    };
    assert_eq!((d.line, d.column, d.kind), (1, 13, DiagnosticKind::Syntax));
}

#[test]
fn duplicate_keys_are_refused() {
    at(
        "apiVersion: hallmark/v1\nkind: Policy\nkind: Policy\n",
        3,
        1,
        DiagnosticKind::DuplicateKey,
        &["duplicate key `kind`", "line 2"],
    );
}

#[test]
fn unknown_top_level_key() {
    at(
        "apiVersion: hallmark/v1\nkind: Policy\ndefualt: deny\n",
        3,
        1,
        DiagnosticKind::UnknownKey,
        &["unknown field `defualt`", "expected one of", "`default`"],
    );
}

#[test]
fn unknown_key_in_a_rule() {
    at(
        "apiVersion: hallmark/v1\nkind: Policy\nrules:\n  - name: r\n    image: [x]\n",
        5,
        5,
        DiagnosticKind::UnknownKey,
        &["unknown field `image`", "`images`"],
    );
}

#[test]
fn unknown_key_deep_in_a_requirement() {
    at_text(
        &rule_with(
            "      - cosign:\n          keys: [k.pub]\n          keyless: {trustedRoot: t.json, identities: [{issuer: i, subject: s, sujbect: x}]}\n",
        ),
        "sujbect",
        DiagnosticKind::UnknownKey,
        &["unknown field `sujbect`", "`subject`"],
    );
}

#[test]
fn wrong_api_version_and_kind_are_both_reported() {
    let e = errors("apiVersion: hallmark/v2\nkind: Polcy\n");
    assert_eq!(e.len(), 2, "{e:#?}");
    assert_eq!(
        (e[0].line, e[0].column, e[0].kind),
        (1, 13, DiagnosticKind::ApiVersion)
    );
    assert!(
        e[0].message.contains("\"hallmark/v2\"")
            && e[0].message.contains("expected \"hallmark/v1\"")
    );
    assert_eq!(
        (e[1].line, e[1].column, e[1].kind),
        (2, 7, DiagnosticKind::Kind)
    );
    assert!(e[1].message.contains("\"Polcy\"") && e[1].message.contains("expected \"Policy\""));
}

#[test]
fn missing_api_version() {
    at(
        "kind: Policy\ndefault: deny\n",
        1,
        1,
        DiagnosticKind::MissingField,
        &["missing field `apiVersion`"],
    );
}

#[test]
fn missing_required_rule_field() {
    at(
        "apiVersion: hallmark/v1\nkind: Policy\nrules:\n  - name: r\n    require: [accept: {}]\n",
        4,
        5,
        DiagnosticKind::MissingField,
        &["missing field `images`"],
    );
}

#[test]
fn wrong_type_names_expected_and_found() {
    at(
        &rule_with("      - cosign: {keys: [k.pub], threshold: two}\n"),
        7,
        44,
        DiagnosticKind::InvalidType,
        &["invalid type: string \"two\"", "expected u64"],
    );
}

#[test]
fn duplicate_rule_names() {
    at(
        "apiVersion: hallmark/v1\nkind: Policy\nrules:\n  - {name: r, images: [a.io/x], require: [accept: {}]}\n  - {name: r, images: [b.io/x], require: [accept: {}]}\n",
        5,
        12,
        DiagnosticKind::DuplicateRule,
        &["duplicate rule name `r`", "line 4"],
    );
}

#[test]
fn threshold_zero() {
    at(
        &rule_with("      - cosign: {keys: [k.pub], threshold: 0}\n"),
        7,
        44,
        DiagnosticKind::Threshold,
        &["threshold is 0", "expected at least 1"],
    );
}

#[test]
fn threshold_above_the_number_of_keys() {
    at(
        &rule_with(
            "      - cosign:\n          keys: [a.pub, b.pub]\n          keyless: {trustedRoot: t.json, identities: [{issuer: i, subject: s}]}\n          threshold: 4\n",
        ),
        10,
        22,
        DiagnosticKind::Threshold,
        &["threshold is 4", "only 3 keys and identities"],
    );
    at(
        &rule_with("      - attestation: {type: link, keys: [a.pub], threshold: 2}\n"),
        7,
        61,
        DiagnosticKind::Threshold,
        &["threshold is 2", "only 1 keys"],
    );
    at(
        &rule_with("      - dct: {signers: [alice], threshold: 2}\n"),
        7,
        44,
        DiagnosticKind::Threshold,
        &["threshold is 2", "only 1 named signers"],
    );
}

#[test]
fn empty_any_of() {
    at(
        "apiVersion: hallmark/v1\nkind: Policy\nrules:\n  - name: r\n    images: [x.io/y]\n    require: [accept: {}]\n    anyOf: []\n",
        7,
        12,
        DiagnosticKind::EmptyAnyOf,
        &["anyOf is empty", "at least one"],
    );
}

#[test]
fn rule_without_requirements() {
    at(
        "apiVersion: hallmark/v1\nkind: Policy\nrules:\n  - name: r\n    images: [x.io/y]\n",
        4,
        5,
        DiagnosticKind::NoRequirements,
        &["neither require nor anyOf"],
    );
}

#[test]
fn requirement_with_two_kinds() {
    at(
        &rule_with("      - {accept: {}, reject: {}}\n"),
        7,
        9,
        DiagnosticKind::InvalidValue,
        &["exactly one of cosign, dct", "found accept, reject"],
    );
}

#[test]
fn unknown_requirement_kind() {
    at(
        &rule_with("      - ratify: {}\n"),
        7,
        9,
        DiagnosticKind::InvalidValue,
        &["unknown variant `ratify`", "`cosign`"],
    );
}

#[test]
fn cel_syntax_error_points_into_the_expression() {
    at_text(
        &rule_with(
            "      - attestation:\n          type: link\n          keys: [k.pub]\n          condition: 'predicate.x == == 1'\n",
        ),
        "== 1",
        DiagnosticKind::ConditionSyntax,
        &["CEL syntax error"],
    );
}

#[test]
fn cel_undeclared_variable_points_at_it() {
    at_text(
        &rule_with(
            "      - attestation:\n          type: link\n          keys: [k.pub]\n          condition: 'predicate.x == 1 && builder.id == \"b\"'\n",
        ),
        "builder.id",
        DiagnosticKind::UndeclaredVariable,
        &["undeclared variable `builder`", "declared: predicate"],
    );
}

#[test]
fn cel_in_a_block_scalar_maps_lines() {
    at_text(
        &rule_with(
            "      - attestation:\n          type: link\n          keys: [k.pub]\n          condition: |\n            predicate.x == 1 &&\n              size(subjects) > 0\n",
        ),
        "subjects)",
        DiagnosticKind::UndeclaredVariable,
        &["`subjects`"],
    );
}

#[test]
fn cel_unknown_function() {
    at_text(
        &rule_with(
            "      - attestation:\n          type: link\n          keys: [k.pub]\n          condition: 'frobnicate(predicate)'\n",
        ),
        "frobnicate",
        DiagnosticKind::UnknownFunction,
        &["unknown function `frobnicate`"],
    );
}

#[test]
fn invalid_glob() {
    at(
        "apiVersion: hallmark/v1\nkind: Policy\nrules:\n  - name: r\n    images: [ok.io/x, 'bad.io/x:']\n    require: [accept: {}]\n",
        5,
        23,
        DiagnosticKind::InvalidPattern,
        &["bad.io/x:", "tag after `:` is empty"],
    );
}

#[test]
fn equal_specificity_overlap_names_both_rules_and_an_example() {
    at(
        "apiVersion: hallmark/v1\nkind: Policy\nrules:\n  - {name: one, images: ['registry.example.com/*/app'], require: [accept: {}]}\n  - {name: two, images: ['registry.example.com/tea/*'], require: [reject: {}]}\n",
        5,
        26,
        DiagnosticKind::Overlap,
        &[
            "`one`",
            "`two`",
            "registry.example.com/tea/app",
            "equal specificity (24)",
            "line 4, column 26",
        ],
    );
}

#[test]
fn overlap_is_allowed_across_disjoint_namespaces() {
    policy(
        "apiVersion: hallmark/v1\nkind: Policy\nrules:\n  - {name: one, namespaces: [a], images: ['x.io/*/app'], require: [accept: {}]}\n  - {name: two, namespaces: [b], images: ['x.io/tea/*'], require: [reject: {}]}\n",
    );
    let d = error(
        "apiVersion: hallmark/v1\nkind: Policy\nrules:\n  - {name: one, namespaces: [a, b], images: ['x.io/*/app'], require: [accept: {}]}\n  - {name: two, images: ['x.io/tea/*'], require: [reject: {}]}\n",
    );
    assert_eq!(d.kind, DiagnosticKind::Overlap);
}

#[test]
fn regex_that_does_not_compile() {
    at_text(
        &rule_with(
            "      - cosign: {keyless: {trustedRoot: t.json, identities: [{issuer: i, subjectRegExp: '(unclosed'}]}}\n",
        ),
        "'(unclosed'",
        DiagnosticKind::InvalidRegex,
        &["subjectRegExp \"(unclosed\" does not compile"],
    );
}

#[test]
fn invalid_signed_identity_reference() {
    at(
        &rule_with(
            "      - cosign:\n          keys: [k.pub]\n          signedIdentity: {type: exactReference, dockerReference: 'busybox'}\n",
        ),
        9,
        67,
        DiagnosticKind::InvalidReference,
        &["\"busybox\"", "neither a tag nor digest"],
    );
}

#[test]
fn all_errors_are_collected() {
    let e = errors(
        "apiVersion: hallmark/v1\nkind: Policy\nrules:\n  - {name: a, images: [x.io/a], require: [cosign: {keys: [k], threshold: 0}]}\n  - {name: b, images: ['x.io/b:'], require: [dct: {signers: [a], thresold: 1}]}\n  - {name: c, images: [x.io/c], anyOf: []}\n",
    );
    let kinds: Vec<DiagnosticKind> = e.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        vec![
            DiagnosticKind::Threshold,
            DiagnosticKind::InvalidPattern,
            DiagnosticKind::UnknownKey,
            DiagnosticKind::EmptyAnyOf
        ],
        "{e:#?}"
    );
    assert!(e.iter().all(|d| d.file == Path::new(POLICY_PATH)));
}

#[test]
fn alias_bombs_and_deep_nesting_are_refused() {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..8 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
            p = i - 1
        ));
    }
    assert_eq!(errors(&bomb)[0].kind, DiagnosticKind::Syntax);
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert_eq!(errors(&deep)[0].kind, DiagnosticKind::Syntax);
}
