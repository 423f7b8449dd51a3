//! CEL conditions: declared variables, standard functions, comprehensions, and the values
//! found shown when a comparison is false.

use crate::support::image;
use hallmark_policy::condition::{ConditionInput, ConditionOutcome};
use hallmark_policy::{Condition, ConditionErrorKind};

fn eval(src: &str, statement: serde_json::Value) -> ConditionOutcome {
    let c = Condition::compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let img = image("registry.example.com/app:v1");
    c.evaluate(&ConditionInput {
        statement: &statement,
        image: &img,
        now: 1_700_000_000,
    })
}

fn statement() -> serde_json::Value {
    serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "a", "digest": {"sha256": "11"}}, {"name": "b", "digest": {"sha256": "22"}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildType": "x", "level": 3, "materials": ["git", "oci"]}
    })
}

#[test]
fn every_declared_variable_and_standard_functions() {
    let ok = [
        "predicate.level >= 3",
        "predicateType.startsWith('https://slsa.dev/')",
        "size(subject) == 2",
        "subject.exists(s, s.name == 'b')",
        "subject.all(s, has(s.digest.sha256))",
        "statement._type.endsWith('/v1')",
        "image.name == 'registry.example.com/app' && image.tag == 'v1' && image.digest == null",
        "now > timestamp('2020-01-01T00:00:00Z')",
        "'oci' in predicate.materials",
        "predicate.materials.map(m, m + '!')[0] == 'git!'",
        "predicate.buildType.matches('^x$')",
        "type(predicate.level) == int",
    ];
    for src in ok {
        assert_eq!(eval(src, statement()), ConditionOutcome::True, "{src}");
    }
}

#[test]
fn false_comparisons_show_the_values_found() {
    let cases = [
        ("predicate.level > 4", "predicate.level is 3, expected > 4"),
        (
            "'svn' in predicate.materials",
            "predicate.materials is [\"git\", \"oci\"], expected to contain \"svn\"",
        ),
        (
            "predicate.buildType == predicateType",
            "predicate.buildType is \"x\", predicateType is \"https://slsa.dev/provenance/v1\" (expected ==)",
        ),
        (
            "3 > predicate.level",
            "predicate.level is 3, expected 3 > it",
        ),
        (
            "size(subject) == 2 && predicate.buildType == 'y'",
            "predicate.buildType is \"x\", expected == \"y\"",
        ),
    ];
    for (src, found) in cases {
        match eval(src, statement()) {
            ConditionOutcome::False { found: Some(f) } => assert_eq!(f, found, "{src}"),
            other => panic!("{src}: {other:?}"),
        }
    }
}

#[test]
fn errors_and_non_bool_results() {
    assert!(
        matches!(eval("predicate.nope == 1", statement()), ConditionOutcome::Error(e) if e.contains("nope"))
    );
    assert!(
        matches!(eval("predicate.level", statement()), ConditionOutcome::Error(e) if e.contains("not a bool"))
    );
}

#[test]
fn load_time_checks() {
    let cases = [
        ("predicate.x ==", ConditionErrorKind::Syntax),
        ("predicat.x == 1", ConditionErrorKind::UndeclaredVariable),
        (
            "subject.exists(s, t.name == 'a')",
            ConditionErrorKind::UndeclaredVariable,
        ),
        ("nosuch(predicate)", ConditionErrorKind::UnknownFunction),
        ("predicate.frob()", ConditionErrorKind::UnknownFunction),
        ("Foo{a: 1} == predicate", ConditionErrorKind::UnknownType),
    ];
    for (src, kind) in cases {
        let e = Condition::compile(src).expect_err(src);
        assert_eq!(e.kind, kind, "{src}: {e}");
        assert!(e.line >= 1 && e.column >= 1);
    }
    let e = Condition::compile("predicate.a == 1 &&\n  nosuch.b == 2").unwrap_err();
    assert_eq!((e.line, e.column), (2, 3), "{e}");
}
