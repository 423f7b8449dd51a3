//! The Decision JSON shape is pinned; policies and decisions can be shared across threads.

use crate::support::{evidence, key_sig, policy, with_key};
use hallmark_policy::evaluate;

#[test]
fn decision_json_shape() {
    let p = policy(
        "apiVersion: hallmark/v1\nkind: Policy\nrules:\n  - name: prod\n    images: ['registry.example.com/**']\n    require:\n      - cosign: {keys: [keys/a.pub]}\n    anyOf:\n      - accept: {}\n",
    );
    let mut e = with_key(
        evidence("registry.example.com/app:v1"),
        "/etc/hallmark/keys/a.pub",
        1,
    );
    e.signatures.push(key_sig(2, None));
    let d = evaluate(&p, &e, 0);
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "reference": "registry.example.com/app:v1",
            "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
            "decision": "deny",
            "rule": "prod",
            "mode": "enforce",
            "requirements": [
                {
                    "type": "cosign",
                    "group": "require",
                    "description": "cosign: 1 of 1 key",
                    "met": false,
                    "reason": "1 of 1 key required, 0 found; 1 signature by an unlisted signer (key sha256:020202020202…)",
                    "code": "threshold_not_met"
                },
                {
                    "type": "accept",
                    "group": "anyOf",
                    "description": "accept",
                    "met": true,
                    "reason": null,
                    "code": null
                }
            ],
            "warnings": [],
            "reason": "1 of 1 key required, 0 found; 1 signature by an unlisted signer (key sha256:020202020202…)"
        })
    );
    let none = evaluate(&p, &evidence("quay.io/x/y:v1"), 0);
    assert_eq!(
        serde_json::to_value(&none).unwrap(),
        serde_json::json!({
            "reference": "quay.io/x/y:v1",
            "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
            "decision": "deny",
            "rule": null,
            "mode": "enforce",
            "requirements": [],
            "warnings": [],
            "reason": "no rule matches this image and the policy's default is deny"
        })
    );
}

#[test]
fn policies_and_decisions_cross_threads() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<hallmark_policy::Policy>();
    shared::<hallmark_policy::Decision>();
    shared::<hallmark_policy::Evidence>();
}
