//! Gatekeeper's external-data provider: a ProviderRequest with several keys gets one item per
//! key (the verified digest, or the reason), a malformed one a `systemError`; over TLS 1.3,
//! with Gatekeeper's client certificate checked when asked.

use crate::common::*;
use hallmark_admission_server::GatekeeperClients;
use serde_json::json;

fn provider_request(keys: &[&str]) -> String {
    json!({
        "apiVersion": "externaldata.gatekeeper.sh/v1beta1",
        "kind": "ProviderRequest",
        "request": {"keys": keys}
    })
    .to_string()
}

#[tokio::test]
async fn several_keys_get_mixed_results_one_item_each() {
    let repo = unique("gk");
    let key = key();
    let digest = push(&repo, "signed").await;
    sign(&repo, "signed", &key).await;
    push(&repo, "unsigned").await;
    let s = Served::with_policy(
        policy_for(&format!("{}/{repo}", registry()), "enforce"),
        &key.public_key().to_pem(),
    )
    .await;
    let signed = format!("{}/{repo}:signed", registry());
    let unsigned = format!("{}/{repo}:unsigned", registry());
    let missing = format!("{}/{repo}:nope", registry());
    let (status, answer) = s
        .post(
            "/gatekeeper/verify",
            provider_request(&[&signed, &unsigned, &missing]),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["apiVersion"], "externaldata.gatekeeper.sh/v1beta1");
    assert_eq!(answer["kind"], "ProviderResponse");
    let response = &answer["response"];
    assert_eq!(response["idempotent"], true);
    assert_eq!(response["systemError"], "");
    let items = response["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{answer}");
    assert_eq!(items[0]["key"], signed.as_str());
    assert_eq!(items[0]["value"], digest.as_str());
    assert_eq!(items[0]["error"], "");
    assert_eq!(items[1]["key"], unsigned.as_str());
    assert!(
        items[1]["error"].as_str().unwrap().contains("cosign"),
        "{answer}"
    );
    assert!(
        items[2]["error"].as_str().unwrap().contains("nope"),
        "{answer}"
    );

    // Answered again from the cache.
    let hits = s
        .metric("hallmark_admission_cache_hits_total{cache=\"verdict\"}")
        .await;
    s.post("/gatekeeper/verify", provider_request(&[&signed]))
        .await;
    assert!(
        s.metric("hallmark_admission_cache_hits_total{cache=\"verdict\"}")
            .await
            > hits
    );

    let (status, answer) = s
        .post("/gatekeeper/verify", "{\"kind\": \"ProviderRequest\"}")
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["response"]["systemError"]
            .as_str()
            .unwrap()
            .contains("externaldata.gatekeeper.sh/v1beta1"),
        "{answer}"
    );

    // TLS 1.3, as Gatekeeper 3.11 and later require.
    let tls13 = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&s.pki.ca_cert).unwrap()).unwrap(),
        )
        .min_tls_version(reqwest::tls::Version::TLS_1_3)
        .build()
        .unwrap();
    let resp = tls13
        .post(format!("{}/gatekeeper/verify", s.url))
        .body(provider_request(&[&signed]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn a_client_certificate_can_be_required_of_gatekeeper() {
    let repo = unique("gkmtls");
    let key = key();
    push(&repo, "signed").await;
    sign(&repo, "signed", &key).await;
    let s = Served::start(
        Setup {
            policy: policy_for(&format!("{}/{repo}", registry()), "enforce"),
            gatekeeper_clients: GatekeeperClients::VerifiedCertificate,
            ..Setup::default()
        },
        &key.public_key().to_pem(),
    )
    .await;
    let signed = format!("{}/{repo}:signed", registry());
    let (status, answer) = s
        .post("/gatekeeper/verify", provider_request(&[&signed]))
        .await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["response"]["systemError"]
            .as_str()
            .unwrap()
            .contains("client certificate")
    );
    let gatekeeper = https_client(
        &s.pki,
        Some("gatekeeper-webhook-service.gatekeeper-system.svc"),
    );
    let resp = gatekeeper
        .post(format!("{}/gatekeeper/verify", s.url))
        .body(provider_request(&[&signed]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(answer["response"]["items"][0]["error"], "", "{answer}");
    // The API server presents no certificate and is still answered on /validate.
    let r = s
        .review(
            "/validate",
            &review("Pod", "CREATE", "default", pod("p", &[&signed])),
        )
        .await;
    assert_eq!(r["allowed"], true);
    s.stop().await;
}

#[tokio::test]
async fn gatekeeper_is_answered_within_its_own_timeout_when_a_registry_hangs() {
    let addr = hallmark_testutil::hostile::silent_server();
    let key = key();
    let s = Served::start(
        Setup {
            policy: policy_for("**", "enforce"),
            gatekeeper_timeout: std::time::Duration::from_millis(400),
            ..Setup::default()
        },
        &key.public_key().to_pem(),
    )
    .await;
    let image = format!("{addr}/app@sha256:{}", "cd".repeat(32));
    let (status, answer) = s
        .post("/gatekeeper/verify", provider_request(&[&image]))
        .await;
    assert_eq!(status, 200, "{answer}");
    let error = answer["response"]["items"][0]["error"].as_str().unwrap();
    assert!(error.contains("within 400ms"), "{answer}");
    assert_eq!(answer["response"]["items"][0]["value"], "denied");
    s.stop().await;
}
