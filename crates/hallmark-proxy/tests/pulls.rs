//! Pulls through the proxy: signed images come through at the verified digest (and verify
//! in skopeo's own policy engine), unsigned ones are refused with the rule and reason in the
//! client's error, signatures stay readable, a tag moved upstream is decided anew.

use crate::*;
use hallmark_testutil::tools::{SignedIdentity, skopeo_copy, skopeo_verify};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_pulls_a_signed_image_and_is_refused_an_unsigned_one_with_the_reason() {
    if !skopeo() {
        return;
    }
    let prefix = unique("pull");
    let repo = format!("{prefix}/app");
    let key = key();
    let signed = push(&repo, "signed").await;
    push(&repo, "unsigned").await;
    let p = Running::start(registry(), &prefix, &key, PushMode::Refuse).await;
    // The signature names the image as clients of the proxy see it.
    sign(&repo, "signed", &key, Some(format!("{}/{repo}", p.addr))).await;

    let out = tempfile::tempdir().unwrap();
    let dest = format!("dir:{}", out.path().join("signed").display());
    let (addr, repo2) = (p.addr.clone(), repo.clone());
    let ok = tokio::task::spawn_blocking(move || {
        skopeo_copy(&format!("docker://{addr}/{repo2}:signed"), &dest, &[])
    })
    .await
    .unwrap();
    ok.assert_success();
    let manifest = std::fs::read(out.path().join("signed/manifest.json")).unwrap();
    assert_eq!(
        hallmark_core::Digest::sha256_of(&manifest).to_string(),
        signed,
        "the verified digest's bytes"
    );

    let dest = format!("dir:{}", out.path().join("unsigned").display());
    let (addr, repo2) = (p.addr.clone(), repo.clone());
    let refused = tokio::task::spawn_blocking(move || {
        skopeo_copy(&format!("docker://{addr}/{repo2}:unsigned"), &dest, &[])
    })
    .await
    .unwrap();
    refused.assert_failure_containing("denied by rule signed");
    refused.assert_failure_containing("no cosign signatures");

    // skopeo verifies for itself, reading the signature through the proxy.
    let pem = p.dir.path().join("key.pub");
    let (addr, repo2) = (p.addr.clone(), repo.clone());
    let verified = tokio::task::spawn_blocking(move || {
        skopeo_verify(
            &addr,
            &format!("{repo2}:signed"),
            &pem,
            SignedIdentity::MatchRepository,
        )
    })
    .await
    .unwrap();
    verified.assert_success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_moved_upstream_behind_the_proxy_is_decided_on_its_new_digest() {
    let prefix = unique("moved");
    let repo = format!("{prefix}/app");
    let key = key();
    let signed = push(&repo, "v1").await;
    sign(&repo, "v1", &key, None).await;
    let p = Running::start(registry(), &prefix, &key, PushMode::Refuse).await;
    let (addr, path) = (p.addr.clone(), format!("/v2/{repo}/manifests/v1"));
    let (status, body) = tokio::task::spawn_blocking(move || http(&addr, "GET", &path))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        hallmark_core::Digest::sha256_of(body.as_bytes()).to_string(),
        signed
    );
    // Moved, directly in the registry, to an unsigned image.
    push(&repo, "v1").await;
    for method in ["GET", "HEAD"] {
        let (addr, path) = (p.addr.clone(), format!("/v2/{repo}/manifests/v1"));
        let (status, body) = tokio::task::spawn_blocking(move || http(&addr, method, &path))
            .await
            .unwrap();
        assert_eq!(status, 403, "{method}: {body}");
        if method == "GET" {
            assert!(body.contains("\"code\":\"DENIED\""), "{body}");
        }
    }
    // By digest, the signed image is still served.
    let (addr, path) = (p.addr.clone(), format!("/v2/{repo}/manifests/{signed}"));
    let (status, _) = tokio::task::spawn_blocking(move || http(&addr, "GET", &path))
        .await
        .unwrap();
    assert_eq!(status, 200);
    // Signatures are always readable.
    let sig_tag = format!("sha256-{}.sig", signed.trim_start_matches("sha256:"));
    let (addr, path) = (p.addr.clone(), format!("/v2/{repo}/manifests/{sig_tag}"));
    let (status, _) = tokio::task::spawn_blocking(move || http(&addr, "GET", &path))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(
        p.proxy
            .metrics()
            .contains("hallmark_proxy_manifests_denied_total 2")
    );
}
