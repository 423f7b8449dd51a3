//! Pushes through the proxy with skopeo: `refuse` keeps unsigned tags from ever existing
//! upstream and lets a signed digest be tagged; `gate` lets the tag through and serves it to
//! nobody until it is signed.

use crate::*;
use hallmark_testutil::tools::skopeo_copy;

async fn tag_exists_upstream(repo: &str, tag: &str) -> bool {
    store(repo).head_manifest(tag).await.unwrap().is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_mode_keeps_unsigned_tags_out_and_tags_signed_digests() {
    if !skopeo() {
        return;
    }
    let prefix = unique("refuse");
    let repo = format!("{prefix}/app");
    let key = key();
    let signed = push(&repo, "candidate").await;
    sign(&repo, "candidate", &key, None).await;
    let unsigned = push(&format!("{prefix}/staging"), "build").await;
    let p = Running::start(registry(), &prefix, &key, PushMode::Refuse).await;

    // An unsigned image pushed by tag through the proxy: refused, and no tag upstream.
    let (addr, reg, pfx) = (p.addr.clone(), registry().to_owned(), prefix.clone());
    let refused = tokio::task::spawn_blocking(move || {
        skopeo_copy(
            &format!("docker://{reg}/{pfx}/staging@{unsigned}"),
            &format!("docker://{addr}/{pfx}/app:release"),
            &[],
        )
    })
    .await
    .unwrap();
    refused.assert_failure_containing("refused");
    assert!(!tag_exists_upstream(&repo, "release").await);

    // The signed digest may be tagged.
    let (addr, reg, pfx) = (p.addr.clone(), registry().to_owned(), prefix.clone());
    let tagged = tokio::task::spawn_blocking(move || {
        skopeo_copy(
            &format!("docker://{reg}/{pfx}/app@{signed}"),
            &format!("docker://{addr}/{pfx}/app:release"),
            &[],
        )
    })
    .await
    .unwrap();
    tagged.assert_success();
    assert!(tag_exists_upstream(&repo, "release").await);
    assert!(
        p.proxy
            .metrics()
            .contains("hallmark_proxy_pushes_refused_total 1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_mode_takes_the_tag_and_serves_it_once_signed() {
    if !skopeo() {
        return;
    }
    let prefix = unique("gate");
    let repo = format!("{prefix}/app");
    let key = key();
    let built = push(&format!("{prefix}/ci"), "build").await;
    let p = Running::start(registry(), &prefix, &key, PushMode::Gate).await;
    let (addr, reg, pfx) = (p.addr.clone(), registry().to_owned(), prefix.clone());
    let pushed = tokio::task::spawn_blocking(move || {
        skopeo_copy(
            &format!("docker://{reg}/{pfx}/ci@{built}"),
            &format!("docker://{addr}/{pfx}/app:1.0"),
            &[],
        )
    })
    .await
    .unwrap();
    pushed.assert_success();
    assert!(
        tag_exists_upstream(&repo, "1.0").await,
        "gate mode takes the tag"
    );
    let (addr, path) = (p.addr.clone(), format!("/v2/{repo}/manifests/1.0"));
    let (status, body) = tokio::task::spawn_blocking(move || http(&addr, "GET", &path))
        .await
        .unwrap();
    assert_eq!(status, 403, "served to nobody until signed: {body}");
    sign(&repo, "1.0", &key, None).await;
    let (addr, path) = (p.addr.clone(), format!("/v2/{repo}/manifests/1.0"));
    let (status, body) = tokio::task::spawn_blocking(move || http(&addr, "GET", &path))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
}
