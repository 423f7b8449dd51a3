//! The page of signed states and its JSON API: a tag signed by the trusted key, one signed by
//! a key the policy does not trust and an unsigned one each show their true state; the JSON
//! agrees with the verifier's own decision; the filter works without JavaScript; recent
//! decisions are listed.

use crate::*;
use hallmark_verify::{TrustConfig, Verifier};
use serde_json::Value;

async fn get_json(addr: &str, path: &str) -> Value {
    let (status, body) = {
        let (addr, path) = (addr.to_owned(), path.to_owned());
        tokio::task::spawn_blocking(move || http(&addr, "GET", &path))
            .await
            .unwrap()
    };
    assert_eq!(status, 200, "{path}: {body}");
    // The test client does not undo chunked encoding: take the JSON between the first `[`/`{`
    // and the last `]`/`}`.
    let start = body.find(['[', '{']).unwrap();
    let end = body.rfind([']', '}']).unwrap();
    serde_json::from_str(&body[start..=end]).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tag_shows_its_true_state_and_the_json_agrees_with_the_verifier() {
    let prefix = unique("page");
    let (trusted, stranger) = (key(), key());
    push(&format!("{prefix}/cosigned"), "v1").await;
    sign(&format!("{prefix}/cosigned"), "v1", &trusted, None).await;
    push(&format!("{prefix}/untrusted"), "v1").await;
    sign(&format!("{prefix}/untrusted"), "v1", &stranger, None).await;
    push(&format!("{prefix}/unsigned"), "v1").await;
    let p = Running::start(registry(), &prefix, &trusted, PushMode::Refuse).await;

    let tags = get_json(&p.addr, &format!("/ui/api/tags?repository={prefix}")).await;
    let tags = tags.as_array().unwrap();
    assert_eq!(tags.len(), 3, "{tags:?}");
    let by_repo = |name: &str| {
        tags.iter()
            .find(|t| t["repository"] == format!("{prefix}/{name}").as_str())
            .unwrap_or_else(|| panic!("{name} missing: {tags:?}"))
            .clone()
    };
    let cosigned = by_repo("cosigned");
    assert_eq!(cosigned["decision"]["decision"], "allow", "{cosigned}");
    assert_eq!(
        cosigned["evidence"]["signatures"][0]["signer"]["fingerprint"],
        trusted
            .public_key()
            .fingerprint()
            .to_string()
            .trim_start_matches("sha256:"),
        "{cosigned}"
    );
    let untrusted = by_repo("untrusted");
    assert_eq!(untrusted["decision"]["decision"], "deny");
    assert!(
        untrusted["evidence"]["signatures"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{untrusted}"
    );
    assert!(
        !untrusted["evidence"]["rejected"]
            .as_array()
            .unwrap()
            .is_empty(),
        "a signature by another key is found and not accepted: {untrusted}"
    );
    let unsigned = by_repo("unsigned");
    assert_eq!(unsigned["decision"]["decision"], "deny");
    assert!(
        unsigned["evidence"]["rejected"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The same decisions as the verifier makes on its own.
    let policy = hallmark_policy::Policy::parse(
        &std::fs::read(p.dir.path().join("policy.yaml")).unwrap(),
        &p.dir.path().join("policy.yaml"),
    )
    .unwrap();
    let verifier = Verifier::new(policy, TrustConfig { dct: None })
        .await
        .unwrap();
    for t in tags {
        let repo = t["repository"].as_str().unwrap();
        let image = ImageRef::parse(&format!("{}/{repo}:v1", registry())).unwrap();
        let v = verifier.decide(&store(repo), &image, None).await.unwrap();
        assert_eq!(t["digest"], v.decision.digest.as_str());
        assert_eq!(
            t["decision"]["decision"],
            v.decision.verdict.as_str(),
            "{repo}"
        );
        assert_eq!(t["decision"]["rule"], "signed");
    }

    // The page, filtered by a form: denied tags only.
    let (addr, path) = (
        p.addr.clone(),
        format!("/ui/?repository={prefix}&state=denied"),
    );
    let (status, html) = tokio::task::spawn_blocking(move || http(&addr, "GET", &path))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!("data-repository=\"{prefix}/untrusted\"")),
        "{html}"
    );
    assert!(html.contains(&format!("data-repository=\"{prefix}/unsigned\"")));
    assert!(!html.contains(&format!("data-repository=\"{prefix}/cosigned\"")));
    assert!(
        html.contains("not accepted:"),
        "the untrusted signature is shown"
    );
    assert!(html.contains("no signatures"), "the unsigned tag says so");
    assert!(!html.contains("<script"), "no JavaScript");

    // A pull through the proxy shows in the recent decisions.
    let (addr, path) = (
        p.addr.clone(),
        format!("/v2/{prefix}/unsigned/manifests/v1"),
    );
    let (status, _) = tokio::task::spawn_blocking(move || http(&addr, "GET", &path))
        .await
        .unwrap();
    assert_eq!(status, 403);
    let recent = get_json(&p.addr, "/ui/api/decisions").await;
    assert_eq!(recent[0]["result"], "deny", "{recent}");
    assert!(recent[0]["image"].as_str().unwrap().contains("unsigned"));
}
