//! Faults: an upstream that is down or never answers, one that serves garbage as a manifest,
//! names that are not repository names and paths that try to leave `/v2/`. Each is a clear
//! 4xx or 502 and the proxy keeps serving.

use crate::*;
use std::net::TcpListener;

/// A 200 answer with `body` as an OCI manifest.
fn manifest_response(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

async fn get(addr: &str, method: &'static str, path: &str) -> (u16, String) {
    let (addr, path) = (addr.to_owned(), path.to_owned());
    tokio::task::spawn_blocking(move || http(&addr, method, &path))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_is_down_or_silent_gives_a_502_in_bounded_time() {
    let key = key();
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    for upstream in [dead, hallmark_testutil::hostile::silent_server()] {
        let p = Running::start(&upstream, "team", &key, PushMode::Refuse).await;
        let (status, body) = get(&p.addr, "GET", "/v2/team/app/manifests/v1").await;
        assert_eq!(status, 502, "{upstream}: {body}");
        assert!(body.contains("UNAVAILABLE"), "{body}");
        assert!(body.contains(&upstream), "names the upstream: {body}");
        let (status, _) = get(
            &p.addr,
            "GET",
            &format!("/v2/team/app/blobs/sha256:{}", "a".repeat(64)),
        )
        .await;
        assert_eq!(status, 502);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_upstream_is_not_served() {
    let key = key();
    let body = "this is not a manifest";
    let upstream = hallmark_testutil::hostile::canned_server(manifest_response(body));
    let p = Running::start(&upstream, "team", &key, PushMode::Refuse).await;
    // By tag: the digest of the garbage is decided and the decision cannot read it as a
    // manifest: nothing is served.
    let (status, body) = get(&p.addr, "GET", "/v2/team/app/manifests/v1").await;
    assert!(status == 502 || status == 403, "{status}: {body}");
    assert!(!body.contains("this is not a manifest"), "{body}");
    // By digest: bytes that do not hash to the digest asked for are refused.
    let (status, body) = get(
        &p.addr,
        "GET",
        &format!("/v2/team/app/manifests/sha256:{}", "b".repeat(64)),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("do not hash"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_over_the_size_limit_is_not_served() {
    let key = key();
    let body = "x".repeat(hallmark_proxy::MAX_MANIFEST_BYTES + 1);
    let upstream = hallmark_testutil::hostile::canned_server(manifest_response(&body));
    let p = Running::start(&upstream, "team", &key, PushMode::Refuse).await;
    let (status, body) = get(&p.addr, "GET", "/v2/team/app/manifests/v1").await;
    assert_eq!(status, 502, "{}", &body[..body.len().min(300)]);
    assert!(
        body.contains("expected at most"),
        "{}",
        &body[..body.len().min(300)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_names_and_paths_are_refused_and_the_proxy_keeps_serving() {
    let key = key();
    let prefix = unique("odd");
    let p = Running::start(registry(), &prefix, &key, PushMode::Refuse).await;
    for (path, code) in [
        ("/v2/../../etc/passwd/manifests/latest", "NAME_INVALID"),
        ("/v2/Team/App/manifests/latest", "NAME_INVALID"),
        ("/v2/team//app/manifests/latest", "NAME_INVALID"),
        ("/v2/team/app/manifests/..%2f..%2fx", "MANIFEST_INVALID"),
        ("/v2/team/app/manifests/", "MANIFEST_INVALID"),
        ("/v2/team/app/nonsense", "UNSUPPORTED"),
    ] {
        let (status, body) = get(&p.addr, "GET", path).await;
        assert!(
            (400..500).contains(&status),
            "{path}: expected a 4xx, found {status}: {body}"
        );
        assert!(body.contains(code), "{path}: expected {code} in {body}");
    }
    let (status, _) = get(&p.addr, "GET", "/v2/").await;
    assert_eq!(status, 200, "still serving");
    assert!(
        p.proxy
            .metrics()
            .contains("hallmark_proxy_bad_requests_total 6")
    );
}
