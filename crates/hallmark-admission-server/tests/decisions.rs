//! What the webhook decides: signed passes, unsigned is denied with the reason, audit warns,
//! mutation pins and the validating pass then decides on digests from the cache, namespaces
//! scope rules, UPDATE and DELETE, a policy reload, one verification for many requests.

use crate::common::*;
use serde_json::Value;
use std::time::Duration;

struct World {
    repo: String,
    signed: String,
    unsigned: String,
    key: hallmark_core::SigningKey,
}

/// A repository with a signed image (`:signed`) and an unsigned one (`:unsigned`).
async fn world(name: &str) -> World {
    let repo = unique(name);
    let key = key();
    push(&repo, "signed").await;
    push(&repo, "unsigned").await;
    sign(&repo, "signed", &key).await;
    World {
        signed: format!("{}/{repo}:signed", registry()),
        unsigned: format!("{}/{repo}:unsigned", registry()),
        repo,
        key,
    }
}

async fn serve(w: &World, mode: &str) -> Served {
    let setup = Setup {
        policy: policy_for(&format!("{}/{}", registry(), w.repo), mode),
        decision_log: true,
        ..Setup::default()
    };
    Served::start(setup, &w.key.public_key().to_pem()).await
}

#[tokio::test]
async fn a_signed_image_is_admitted_and_an_unsigned_one_denied_naming_image_rule_and_reason() {
    let w = world("basic").await;
    let s = serve(&w, "enforce").await;
    let ok = s
        .review(
            "/validate",
            &review("Pod", "CREATE", "default", pod("ok", &[&w.signed])),
        )
        .await;
    assert_eq!(ok["allowed"], true, "{ok}");
    assert!(ok.get("patch").is_none(), "validation does not patch: {ok}");

    let bad = s
        .review(
            "/validate",
            &review(
                "Pod",
                "CREATE",
                "default",
                pod("bad", &[&w.signed, &w.unsigned]),
            ),
        )
        .await;
    assert_eq!(bad["allowed"], false, "{bad}");
    assert_eq!(bad["status"]["code"], 403);
    let message = bad["status"]["message"].as_str().unwrap();
    for needle in [w.unsigned.as_str(), "rule signed", "cosign", "c1"] {
        assert!(
            message.contains(needle),
            "expected {needle:?} in {message:?}"
        );
    }
    assert!(
        !message.contains(&format!("{} (", w.signed)),
        "only the denied image is named: {message}"
    );

    // Every workload kind that carries a pod template is decided the same way.
    for kind in [
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "ReplicationController",
    ] {
        let good = s
            .review(
                "/validate",
                &review(kind, "CREATE", "default", workload(kind, "w", &[&w.signed])),
            )
            .await;
        assert_eq!(good["allowed"], true, "{kind}: {good}");
        let bad = s
            .review(
                "/validate",
                &review(
                    kind,
                    "CREATE",
                    "default",
                    workload(kind, "w", &[&w.unsigned]),
                ),
            )
            .await;
        assert_eq!(bad["allowed"], false, "{kind}: {bad}");
    }

    // One JSON line per image decision.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let lines = s.decision_lines();
    let denied = lines
        .iter()
        .find(|l| l["image"] == w.unsigned.as_str() && l["kind"] == "Pod")
        .expect("a line for the unsigned image");
    assert_eq!(denied["result"], "deny", "{denied}");
    assert_eq!(denied["rule"], "signed");
    assert_eq!(denied["namespace"], "default");
    assert_eq!(denied["object"], "bad");
    assert_eq!(denied["operation"], "CREATE");
    assert!(denied["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(
        denied["reason"].as_str().unwrap().contains("cosign"),
        "{denied}"
    );
    assert!(denied["time"].as_str().unwrap().ends_with('Z'), "{denied}");
    assert!(
        lines.iter().any(|l| l["cacheHit"] == true),
        "later requests hit the cache"
    );
    s.stop().await;
}

#[tokio::test]
async fn an_image_signed_by_skopeo_is_admitted() {
    if !hallmark_testutil::tools::skopeo_available() {
        eprintln!("skipped: skopeo is not installed (scripts/test installs it)");
        return;
    }
    let repo = unique("skopeo");
    push(&repo, "v1").await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("skopeo");
    hallmark_testutil::tools::skopeo_generate_key(&prefix, "pw");
    hallmark_testutil::tools::skopeo_sign_in_place(
        registry(),
        &format!("{repo}:v1"),
        &prefix.with_extension("private"),
        "pw",
    )
    .assert_success();
    let pem = std::fs::read_to_string(prefix.with_extension("pub")).unwrap();
    let setup = Setup {
        policy: policy_for(&format!("{}/{repo}", registry()), "enforce"),
        ..Setup::default()
    };
    let s = Served::start(setup, &pem).await;
    let image = format!("{}/{repo}:v1", registry());
    let r = s
        .review(
            "/validate",
            &review("Pod", "CREATE", "default", pod("p", &[&image])),
        )
        .await;
    assert_eq!(r["allowed"], true, "{r}");
    s.stop().await;
}

#[tokio::test]
async fn mutation_pins_to_the_verified_digest_and_validation_then_decides_from_the_cache() {
    let w = world("mutate").await;
    let s = serve(&w, "enforce").await;
    let mut object = workload("Deployment", "web", &[&w.signed, &w.unsigned]);
    let first = s
        .review(
            "/mutate",
            &review("Deployment", "CREATE", "default", object.clone()),
        )
        .await;
    assert_eq!(first["allowed"], true, "mutation never denies: {first}");
    apply_patch(&mut object, &first);
    let images = hallmark_admission::images("Deployment", &object);
    assert!(
        images[0]
            .image
            .starts_with(&format!("{}@sha256:", w.signed)),
        "the allowed image is pinned, its tag kept: {images:?}"
    );
    assert_eq!(images[1].image, w.unsigned, "a denied image is not pinned");

    // The validating pass sees the pinned reference and decides it from the verdict cache:
    // no registry round trip.
    let before = s.metric("hallmark_admission_registry_requests_total").await;
    let hits = s
        .metric("hallmark_admission_cache_hits_total{cache=\"verdict\"}")
        .await;
    let pinned_only = workload("Deployment", "web", &[&images[0].image]);
    let v = s
        .review(
            "/validate",
            &review("Deployment", "CREATE", "default", pinned_only),
        )
        .await;
    assert_eq!(v["allowed"], true, "{v}");
    assert_eq!(
        s.metric("hallmark_admission_registry_requests_total").await,
        before,
        "the pinned image was decided without the registry"
    );
    assert!(
        s.metric("hallmark_admission_cache_hits_total{cache=\"verdict\"}")
            .await
            > hits
    );
    // A reference that already names a digest is left as it is.
    let again = s
        .review(
            "/mutate",
            &review("Deployment", "CREATE", "default", object.clone()),
        )
        .await;
    assert!(again.get("patch").is_none(), "{again}");
    s.stop().await;
}

#[tokio::test]
async fn digest_only_pins_drop_the_tag() {
    let w = world("pin").await;
    let setup = Setup {
        policy: policy_for(&format!("{}/{}", registry(), w.repo), "enforce"),
        pin: hallmark_admission::Pin::DigestOnly,
        ..Setup::default()
    };
    let s = Served::start(setup, &w.key.public_key().to_pem()).await;
    let mut object = pod("p", &[&w.signed]);
    let r = s
        .review(
            "/mutate",
            &review("Pod", "CREATE", "default", object.clone()),
        )
        .await;
    apply_patch(&mut object, &r);
    let image = object["spec"]["containers"][0]["image"].as_str().unwrap();
    let repo = format!("{}/{}@sha256:", registry(), w.repo);
    assert!(image.starts_with(&repo), "{image}");
    s.stop().await;
}

#[tokio::test]
async fn audit_mode_warns_and_admits() {
    let w = world("audit").await;
    let s = serve(&w, "audit").await;
    let r = s
        .review(
            "/validate",
            &review(
                "Pod",
                "CREATE",
                "default",
                pod("a", &[&w.unsigned, &w.signed]),
            ),
        )
        .await;
    assert_eq!(r["allowed"], true, "{r}");
    let warnings = r["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = warnings[0].as_str().unwrap();
    assert!(warning.chars().count() < 120, "{warning}");
    assert!(warning.starts_with(&w.unsigned), "{warning}");
    assert!(
        s.metric("hallmark_admission_decisions_total{endpoint=\"validate\",result=\"warn\",rule=\"signed\"}")
            .await
            >= 1.0
    );
    s.stop().await;
}

#[tokio::test]
async fn delete_connect_and_unchanged_updates_pass_untouched_changed_updates_are_decided() {
    let w = world("update").await;
    let s = serve(&w, "enforce").await;
    let verifications = s.metric("hallmark_admission_verifications_total").await;
    for op in ["DELETE", "CONNECT"] {
        let mut r = review("Pod", op, "default", Value::Null);
        r["request"]["oldObject"] = pod("old", &[&w.unsigned]);
        let a = s.review("/validate", &r).await;
        assert_eq!(a["allowed"], true, "{op}: {a}");
    }
    assert_eq!(
        s.metric("hallmark_admission_verifications_total").await,
        verifications,
        "DELETE and CONNECT decide nothing"
    );

    // An UPDATE that keeps the (unsigned) image admitted before: nothing to decide.
    let mut same = review(
        "Deployment",
        "UPDATE",
        "default",
        workload("Deployment", "d", &[&w.unsigned]),
    );
    same["request"]["oldObject"] = workload("Deployment", "d", &[&w.unsigned]);
    same["request"]["object"]["metadata"]["labels"] = serde_json::json!({"rolled": "yes"});
    let a = s.review("/validate", &same).await;
    assert_eq!(a["allowed"], true, "{a}");

    // An UPDATE that changes the image to an unsigned one is decided, dry run or not.
    let mut changed = review(
        "Deployment",
        "UPDATE",
        "default",
        workload("Deployment", "d", &[&w.unsigned]),
    );
    changed["request"]["oldObject"] = workload("Deployment", "d", &[&w.signed]);
    changed["request"]["dryRun"] = Value::Bool(true);
    let a = s.review("/validate", &changed).await;
    assert_eq!(a["allowed"], false, "{a}");
    s.stop().await;
}

#[tokio::test]
async fn rules_scoped_by_namespace_apply_only_there() {
    let w = world("ns").await;
    let policy = format!(
        "apiVersion: hallmark/v1\nkind: Policy\ndefault: allow\nrules:\n  - name: prod-signed\n    \
         images: [\"{}/{}\"]\n    namespaces: [prod]\n    require:\n      - cosign: {{keys: [key.pub]}}\n",
        registry(),
        w.repo
    );
    let s = Served::with_policy(policy, &w.key.public_key().to_pem()).await;
    let prod = s
        .review(
            "/validate",
            &review("Pod", "CREATE", "prod", pod("p", &[&w.unsigned])),
        )
        .await;
    assert_eq!(prod["allowed"], false, "{prod}");
    let dev = s
        .review(
            "/validate",
            &review("Pod", "CREATE", "dev", pod("p", &[&w.unsigned])),
        )
        .await;
    assert_eq!(
        dev["allowed"], true,
        "no rule covers dev; the default allows: {dev}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_policy_reload_changes_the_decision_and_leaves_no_stale_verdict() {
    let w = world("reload").await;
    let s = serve(&w, "enforce").await;
    let watcher = s.webhook.watch(Duration::from_millis(100));
    let request = review("Pod", "CREATE", "default", pod("p", &[&w.signed]));
    assert_eq!(s.review("/validate", &request).await["allowed"], true);
    let first = s.webhook.policy_digest();
    // The same image, now under a policy that rejects the repository: the cached "allow"
    // belongs to the old policy and must not be used.
    let rejecting = format!(
        "apiVersion: hallmark/v1\nkind: Policy\ndefault: allow\nrules:\n  - name: frozen\n    \
         images: [\"{}/{}\"]\n    require:\n      - reject: {{message: repository frozen}}\n",
        registry(),
        w.repo
    );
    std::fs::write(&s.policy, rejecting).unwrap();
    let mut waited = 0;
    while s.webhook.policy_digest() == first && waited < 100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_ne!(
        s.webhook.policy_digest(),
        first,
        "the file change was picked up"
    );
    let (_, ready) = s.get("/readyz").await;
    assert!(ready.contains(&s.webhook.policy_digest()), "{ready}");
    let after = s.review("/validate", &request).await;
    assert_eq!(after["allowed"], false, "{after}");
    assert!(
        after["status"]["message"]
            .as_str()
            .unwrap()
            .contains("frozen"),
        "{after}"
    );
    // A broken policy keeps the one in force.
    std::fs::write(
        &s.policy,
        "apiVersion: hallmark/v1\nkind: Policy\nrules: [oops]\n",
    )
    .unwrap();
    assert!(s.webhook.reload(true).await.is_err());
    assert_eq!(s.review("/validate", &request).await["allowed"], false);
    assert!(
        s.metric("hallmark_admission_policy_reloads_total{result=\"failed\"}")
            .await
            >= 1.0
    );
    watcher.abort();
    s.stop().await;
}

#[tokio::test]
async fn fifty_replicas_at_once_cost_one_verification() {
    let w = world("burst").await;
    let s = serve(&w, "enforce").await;
    let before = s.metric("hallmark_admission_verifications_total").await;
    let registry_before = s.metric("hallmark_admission_registry_requests_total").await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let http = s.http.clone();
        let url = format!("{}/validate", s.url);
        let body = review(
            "Pod",
            "CREATE",
            "default",
            pod(&format!("r{i}"), &[&w.signed]),
        )
        .to_string();
        tasks.push(tokio::spawn(async move {
            let v: Value = http
                .post(url)
                .body(body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["response"]["allowed"].as_bool().unwrap()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap());
    }
    assert_eq!(
        s.metric("hallmark_admission_verifications_total").await - before,
        1.0,
        "one verification for fifty identical requests"
    );
    let round_trips =
        s.metric("hallmark_admission_registry_requests_total").await - registry_before;
    // One tag lookup and one verification's reads (manifest, signature manifest, its layer),
    // not fifty of each.
    assert!(round_trips <= 6.0, "{round_trips} registry requests");
    let (hits, joined) = (
        s.metric("hallmark_admission_cache_hits_total{cache=\"verdict\"}")
            .await,
        s.metric("hallmark_admission_verifications_joined_total")
            .await,
    );
    assert_eq!(hits + joined + 1.0, 50.0, "hits {hits}, joined {joined}");
    s.stop().await;
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let w = world("health").await;
    let s = serve(&w, "enforce").await;
    assert_eq!(s.get("/healthz").await.0, 200);
    let (status, ready) = s.get("/readyz").await;
    assert_eq!(status, 200);
    assert!(ready.contains("sha256:"), "{ready}");
    s.review(
        "/validate",
        &review("Pod", "CREATE", "default", pod("p", &[&w.signed])),
    )
    .await;
    let (status, text) = s.get("/metrics").await;
    assert_eq!(status, 200);
    for family in [
        "# TYPE hallmark_admission_decisions_total counter",
        "hallmark_admission_decisions_total{endpoint=\"validate\",result=\"allow\",rule=\"signed\"} 1",
        "hallmark_admission_cache_misses_total{cache=\"verdict\"} 1",
        "# TYPE hallmark_admission_request_duration_seconds histogram",
        "hallmark_admission_request_duration_seconds_count{endpoint=\"validate\"} 1",
        "hallmark_admission_registry_requests_total ",
        "hallmark_admission_registry_errors_total 0",
    ] {
        assert!(text.contains(family), "expected {family:?} in\n{text}");
    }
    s.stop().await;
}
