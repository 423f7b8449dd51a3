//! Faults: a registry that accepts connections and never answers, one that answers 500,
//! requests that are not AdmissionReviews, oversized bodies, objects without containers or
//! with 500 of them. Each gives a well-formed answer within the decision timeout or a 4xx, and
//! the webhook keeps serving.

use crate::common::*;
use serde_json::Value;
use std::time::Duration;

/// A registry that answers every request with 500; its address.
fn failing_registry() -> String {
    let body = "{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"storage down\"}]}";
    hallmark_testutil::hostile::canned_server(format!(
        "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ))
}

fn enforce_all(mode: &str) -> String {
    format!(
        "apiVersion: hallmark/v1\nkind: Policy\ndefault: deny\nrules:\n  - name: all\n    \
         images: [\"**\"]\n    mode: {mode}\n    require:\n      - cosign: {{keys: [key.pub]}}\n"
    )
}

#[tokio::test]
async fn a_registry_that_never_answers_gives_a_denial_within_the_timeout_and_the_verification_stops()
 {
    let addr = hallmark_testutil::hostile::silent_server();
    let setup = Setup {
        policy: enforce_all("enforce"),
        decision_timeout: Duration::from_millis(700),
        ..Setup::default()
    };
    let s = Served::start(setup, &key().public_key().to_pem()).await;
    // By digest: the tag lookup is skipped and the verification itself hangs.
    let image = format!("{addr}/app@sha256:{}", "ab".repeat(32));
    let r = s
        .review(
            "/validate",
            &review("Pod", "CREATE", "default", pod("p", &[&image])),
        )
        .await;
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(message.contains(&image), "{message}");
    assert!(message.contains("within 700ms"), "{message}");
    assert!(s.metric("hallmark_admission_decision_timeouts_total").await >= 1.0);
    // Nobody waits for that verification any more: it was dropped, not left running.
    assert_eq!(
        s.metric("hallmark_admission_verifications_abandoned_total")
            .await,
        1.0
    );
    // By tag, too.
    let tagged = format!("{addr}/app:1");
    let r = s
        .review(
            "/validate",
            &review("Pod", "CREATE", "default", pod("p", &[&tagged])),
        )
        .await;
    assert_eq!(r["allowed"], false, "{r}");

    // Audit mode never blocks, whatever goes wrong.
    std::fs::write(&s.policy, enforce_all("audit")).unwrap();
    s.webhook.reload(true).await.unwrap();
    let r = s
        .review(
            "/validate",
            &review("Pod", "CREATE", "default", pod("p", &[&image])),
        )
        .await;
    assert_eq!(r["allowed"], true, "{r}");
    assert!(
        r["warnings"][0].as_str().unwrap().contains("not verified"),
        "{r}"
    );
    s.stop().await;
}

#[tokio::test]
async fn failure_policy_ignore_admits_what_could_not_be_decided_with_a_warning() {
    let addr = failing_registry();
    let policy = "apiVersion: hallmark/v1\nkind: Policy\ndefault: deny\nrules:\n  - name: rollout\n    \
         images: [\"**\"]\n    failurePolicy: Ignore\n    require:\n      - cosign: {keys: [key.pub]}\n";
    let s = Served::with_policy(policy, &key().public_key().to_pem()).await;
    let image = format!("{addr}/app:1");
    let r = s
        .review(
            "/validate",
            &review("Pod", "CREATE", "default", pod("p", &[&image])),
        )
        .await;
    assert_eq!(r["allowed"], true, "{r}");
    // The warning is cut below the API server's 120 characters; the metrics keep the count.
    let warning = r["warnings"][0].as_str().unwrap();
    assert!(
        warning.contains("not verified (failure policy Ignore)"),
        "{r}"
    );
    assert!(s.metric("hallmark_admission_registry_errors_total").await >= 1.0);
    s.stop().await;
}

#[tokio::test]
async fn a_registry_answering_500_gives_a_denial_naming_it() {
    let addr = failing_registry();
    let s = Served::with_policy(enforce_all("enforce"), &key().public_key().to_pem()).await;
    let image = format!("{addr}/app:1");
    let r = s
        .review(
            "/validate",
            &review("Pod", "CREATE", "default", pod("p", &[&image])),
        )
        .await;
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(message.contains("500"), "{message}");
    assert!(s.metric("hallmark_admission_registry_errors_total").await >= 1.0);
    s.stop().await;
}

#[tokio::test]
async fn bad_requests_get_a_4xx_and_the_webhook_keeps_serving() {
    let s = Served::with_policy(enforce_all("enforce"), &key().public_key().to_pem()).await;
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("not JSON", b"{\"apiVersion\": ".to_vec(), 400, "invalid JSON"),
        (
            "wrong apiVersion",
            serde_json::json!({"apiVersion": "admission.k8s.io/v2", "kind": "AdmissionReview", "request": {}})
                .to_string()
                .into_bytes(),
            400,
            "admission.k8s.io/v1",
        ),
        (
            "no request",
            serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"})
                .to_string()
                .into_bytes(),
            400,
            "request",
        ),
        ("10 MiB body", vec![b' '; 10 * 1024 * 1024], 413, ""),
    ];
    for (what, body, status, needle) in cases {
        for path in ["/validate", "/mutate"] {
            let (got, answer) = s.post(path, body.clone()).await;
            assert_eq!(got, status, "{what} {path}: {answer}");
            assert!(
                answer.to_string().contains(needle),
                "{what}: expected {needle:?} in {answer}"
            );
        }
    }
    assert!(s.metric("hallmark_admission_bad_requests_total").await >= 6.0);
    assert_eq!(s.get("/healthz").await.0, 200, "still serving");

    // An object with no containers: nothing to decide.
    let mut empty = pod("empty", &[]);
    empty["spec"]["containers"] = Value::Array(Vec::new());
    let r = s
        .review("/validate", &review("Pod", "CREATE", "default", empty))
        .await;
    assert_eq!(r["allowed"], true, "{r}");
    // A kind without a pod template (a ConfigMap): nothing to decide.
    let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
    let r = s
        .review("/validate", &review("ConfigMap", "CREATE", "default", cm))
        .await;
    assert_eq!(r["allowed"], true, "{r}");
}

#[tokio::test]
async fn five_hundred_containers_in_one_pod_get_one_answer() {
    let repo = unique("many");
    let key = key();
    push(&repo, "signed").await;
    sign(&repo, "signed", &key).await;
    push(&repo, "unsigned").await;
    let s = Served::with_policy(enforce_all("enforce"), &key.public_key().to_pem()).await;
    let signed = format!("{}/{repo}:signed", registry());
    let unsigned = format!("{}/{repo}:unsigned", registry());
    let images: Vec<&str> = (0..500)
        .map(|i| {
            if i == 250 {
                unsigned.as_str()
            } else {
                signed.as_str()
            }
        })
        .collect();
    let r = s
        .review(
            "/validate",
            &review("Pod", "CREATE", "default", pod("wide", &images)),
        )
        .await;
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(message.contains("container c250"), "{message}");
    assert_eq!(message.matches("denied by").count(), 1, "{message}");
    let mut object = pod("wide", &images);
    let m = s
        .review(
            "/mutate",
            &review("Pod", "CREATE", "default", object.clone()),
        )
        .await;
    apply_patch(&mut object, &m);
    let pinned = hallmark_admission::images("Pod", &object);
    assert_eq!(pinned.len(), 500);
    let unpinned: Vec<_> = pinned
        .iter()
        .filter(|p| !p.image.contains("@sha256:"))
        .collect();
    assert_eq!(
        unpinned.len(),
        1,
        "only the unsigned image stays unpinned: {unpinned:?}"
    );
    assert_eq!(unpinned[0].container, "c250");
    s.stop().await;
}
