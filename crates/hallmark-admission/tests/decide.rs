//! Answers built from `hallmark-policy` decisions on a real multi-image Deployment: a denial
//! names the image, the rule and the unmet requirement; audit findings are warnings; allowed
//! images are pinned to the verified digest, as the tag-and-digest or digest-only form.

use base64::Engine as _;
use hallmark_admission::{Outcome, Pin, Review, answer, images, pin};
use hallmark_policy::{Decision, FailurePolicy, Group, Mode, Reason, RequirementResult, Verdict};
use serde_json::Value;

fn deployment() -> Review {
    let path = format!(
        "{}/tests/data/connaisseur/09_dply_multi_image.json",
        env!("CARGO_MANIFEST_DIR")
    );
    Review::parse(&std::fs::read(path).unwrap()).unwrap()
}

fn digest(n: u8) -> String {
    format!("sha256:{}", format!("{n:02x}").repeat(32))
}

fn decision(image: &str, n: u8, verdict: Verdict, mode: Mode, met: bool) -> Decision {
    let requirement = RequirementResult {
        group: Group::All,
        kind: "cosign",
        description: "cosign signatures by 1 of 1 key".into(),
        met,
        reason: (!met).then(|| Reason::NoSignatures {
            what: "cosign signatures (simplesigning, bundle)".into(),
        }),
    };
    Decision {
        image: image.into(),
        digest: digest(n),
        verdict,
        rule: Some("production".into()),
        mode,
        requirements: vec![requirement],
        warnings: if mode == Mode::Audit && !met {
            vec!["audit: cosign signatures by 1 of 1 key not met".into()]
        } else {
            Vec::new()
        },
        reason: None,
    }
}

fn patch_ops(answer: &Value) -> Vec<Value> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(answer["response"]["patch"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice::<Value>(&bytes)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn one_denied_image_denies_the_object_naming_image_rule_and_requirement() {
    let r = deployment();
    let sites = images(&r.kind, r.object.as_ref().unwrap());
    let decided: Vec<_> = sites
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let allowed = s.image != "redis:alpine";
            let verdict = if allowed {
                Verdict::Allow
            } else {
                Verdict::Deny
            };
            (
                s.clone(),
                decision(&s.image, i as u8, verdict, Mode::Enforce, allowed),
            )
        })
        .collect();
    let outcomes: Vec<_> = decided
        .iter()
        .map(|(s, d)| (s.clone(), Outcome::Decided(d)))
        .collect();
    let a = answer(&outcomes, Some(Pin::TagAndDigest)).to_review(&r);
    assert_eq!(a["response"]["allowed"], false);
    let message = a["response"]["status"]["message"].as_str().unwrap();
    for needle in [
        "redis:alpine",
        "rule production",
        "cosign signatures by 1 of 1 key",
        "no cosign signatures",
    ] {
        assert!(
            message.to_lowercase().contains(&needle.to_lowercase()),
            "expected {needle:?} in {message:?}"
        );
    }
    assert!(
        !message.contains("mysql"),
        "only denied images are named: {message}"
    );
    assert!(
        a["response"].get("patch").is_none(),
        "a denial patches nothing"
    );
}

#[test]
fn audit_findings_are_warnings_and_allowed_images_are_pinned() {
    let r = deployment();
    let sites = images(&r.kind, r.object.as_ref().unwrap());
    let decided: Vec<_> = sites
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let met = s.image != "mysql:8";
            (
                s.clone(),
                decision(&s.image, i as u8, Verdict::Allow, Mode::Audit, met),
            )
        })
        .collect();
    let outcomes: Vec<_> = decided
        .iter()
        .map(|(s, d)| (s.clone(), Outcome::Decided(d)))
        .collect();
    for (style, expected) in [
        (Pin::TagAndDigest, format!("mysql:8@{}", digest(2))),
        (Pin::DigestOnly, format!("mysql@{}", digest(2))),
    ] {
        let a = answer(&outcomes, Some(style)).to_review(&r);
        assert_eq!(a["response"]["allowed"], true);
        let warnings = a["response"]["warnings"].as_array().unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].as_str().unwrap().starts_with("mysql:8: "));
        let mut object = r.object.clone().unwrap();
        for op in patch_ops(&a) {
            *object.pointer_mut(op["path"].as_str().unwrap()).unwrap() = op["value"].clone();
        }
        let after = images(&r.kind, &object);
        assert_eq!(after[2].image, expected);
        assert!(
            after.iter().all(|s| s.image.contains("@sha256:")),
            "{after:?}"
        );
    }
}

#[test]
fn pins_keep_ports_and_leave_digests_alone() {
    let d = digest(7);
    assert_eq!(
        pin("127.0.0.1:5000/team/app:1.4", &d, Pin::TagAndDigest).unwrap(),
        format!("127.0.0.1:5000/team/app:1.4@{d}")
    );
    assert_eq!(
        pin("127.0.0.1:5000/team/app:1.4", &d, Pin::DigestOnly).unwrap(),
        format!("127.0.0.1:5000/team/app@{d}")
    );
    assert_eq!(
        pin("127.0.0.1:5000/team/app", &d, Pin::DigestOnly).unwrap(),
        format!("127.0.0.1:5000/team/app@{d}")
    );
    assert_eq!(pin(&format!("app@{d}"), &d, Pin::TagAndDigest), None);
}

#[test]
fn an_undecided_image_denies_unless_its_failure_policy_is_ignore() {
    let r = deployment();
    let sites = images(&r.kind, r.object.as_ref().unwrap());
    let reason = "the registry did not answer within 8s";
    for (failure, allowed) in [(FailurePolicy::Fail, false), (FailurePolicy::Ignore, true)] {
        let outcomes: Vec<_> = sites
            .iter()
            .map(|s| (s.clone(), Outcome::Undecided { reason, failure }))
            .collect();
        let a = answer(&outcomes, Some(Pin::TagAndDigest)).to_review(&r);
        assert_eq!(a["response"]["allowed"], allowed, "{failure:?}: {a}");
        assert!(
            a["response"].get("patch").is_none(),
            "nothing verified, nothing pinned"
        );
        let text = if allowed {
            a["response"]["warnings"][0].as_str().unwrap().to_owned()
        } else {
            a["response"]["status"]["message"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert!(text.contains(&sites[0].image), "{text}");
        assert!(text.contains("did not answer"), "{text}");
    }
}
