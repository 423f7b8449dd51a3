//! Faults from a tiny in-test HTTP server: wrong bytes, 5xx and 429, huge bodies, auth.

use crate::common::{FakeServer, Reply, options};
use base64::Engine as _;
use hallmark_core::Digest;
use hallmark_oci::{Credentials, Limits, OciError, RegistryOptions, media_types};
use std::time::{Duration, Instant};

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

fn manifest_reply() -> Reply {
    Reply::new(200)
        .header("Content-Type", media_types::OCI_MANIFEST)
        .body(MANIFEST)
}

#[tokio::test]
async fn manifest_not_matching_the_requested_digest_is_refused() {
    let server = FakeServer::start(|_, _| manifest_reply());
    let repo = server.repo(options(), "demo/app");
    let wanted = Digest::sha256_of(b"something else");
    match repo.get_manifest(&wanted.to_string()).await {
        Err(OciError::DigestMismatch { source, .. }) => {
            let text = source.to_string();
            assert!(text.contains(wanted.hex()), "{text}");
            assert!(
                text.contains(Digest::sha256_of(MANIFEST.as_bytes()).hex()),
                "{text}"
            );
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    let request = &server.requests()[0];
    assert_eq!(request.path(), format!("/v2/demo/app/manifests/{wanted}"));
    assert_eq!(request.header("accept"), Some(media_types::MANIFEST_ACCEPT));
}

#[tokio::test]
async fn tag_with_wrong_docker_content_digest_is_refused() {
    let lie = Digest::sha256_of(b"lie").to_string();
    let server =
        FakeServer::start(move |_, _| manifest_reply().header("Docker-Content-Digest", &lie));
    let repo = server.repo(options(), "demo/app");
    assert!(matches!(
        repo.get_manifest("v1").await,
        Err(OciError::DigestMismatch { .. })
    ));

    // With the right header, the computed digest is returned.
    let right = Digest::sha256_of(MANIFEST.as_bytes());
    let header = right.to_string();
    let server =
        FakeServer::start(move |_, _| manifest_reply().header("Docker-Content-Digest", &header));
    let fetched = server
        .repo(options(), "demo/app")
        .get_manifest("v1")
        .await
        .unwrap();
    assert_eq!(fetched.digest, right);
    assert_eq!(fetched.bytes, MANIFEST.as_bytes());
}

#[tokio::test]
async fn blob_not_matching_its_digest_is_refused() {
    let server = FakeServer::start(|_, _| Reply::new(200).body("tampered"));
    let repo = server.repo(options(), "demo/app");
    let digest = Digest::sha256_of(b"original");
    assert!(matches!(
        repo.get_blob(&digest, 1024).await,
        Err(OciError::DigestMismatch { .. })
    ));
}

#[tokio::test]
async fn server_errors_are_retried() {
    let server = FakeServer::start(|_, n| {
        if n < 2 {
            Reply::new(503)
        } else {
            manifest_reply()
        }
    });
    let repo = server.repo(
        RegistryOptions {
            max_retries: 3,
            ..options()
        },
        "demo/app",
    );
    let fetched = repo.get_manifest("v1").await.unwrap();
    assert_eq!(fetched.bytes, MANIFEST.as_bytes());
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn too_many_requests_exhausts_retries() {
    let server = FakeServer::start(|_, _| Reply::new(429));
    let retry_base = Duration::from_millis(20);
    let repo = server.repo(
        RegistryOptions {
            max_retries: 3,
            retry_base,
            ..options()
        },
        "demo/app",
    );
    let started = Instant::now();
    match repo.get_manifest("v1").await {
        Err(OciError::RetriesExhausted {
            attempts,
            status,
            method,
            ..
        }) => {
            assert_eq!((attempts, status, method), (4, 429, "GET"));
        }
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 4);
    // Backoff doubles: 20 + 40 + 80 ms at least.
    assert!(
        started.elapsed() >= Duration::from_millis(140),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = FakeServer::start(|_, n| {
        if n == 0 {
            Reply::new(429).header("Retry-After", "1")
        } else {
            manifest_reply()
        }
    });
    let repo = server.repo(options(), "demo/app");
    let started = Instant::now();
    repo.get_manifest("v1").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn other_statuses_are_not_retried() {
    let server =
        FakeServer::start(|_, _| Reply::new(403).body(r#"{"errors":[{"code":"DENIED"}]}"#));
    let repo = server.repo(options(), "demo/app");
    match repo.get_manifest("v1").await {
        Err(OciError::Status {
            status,
            body,
            method,
            ..
        }) => {
            assert_eq!((status, method), (403, "GET"));
            assert!(body.contains("DENIED"), "{body}");
        }
        other => panic!("expected Status, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn huge_content_length_is_refused_before_reading() {
    let server = FakeServer::start(|_, _| Reply {
        content_length: Some(1 << 40),
        ..Reply::new(200).header("Content-Type", media_types::OCI_MANIFEST)
    });
    let repo = server.repo(options(), "demo/app");
    match repo.get_manifest("v1").await {
        Err(OciError::TooLarge { limit, .. }) => {
            assert_eq!(limit, Limits::default().max_manifest_bytes)
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    match repo.get_blob(&Digest::sha256_of(b"x"), 1 << 20).await {
        Err(OciError::TooLarge { limit, .. }) => assert_eq!(limit, 1 << 20),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[tokio::test]
async fn body_longer_than_limit_without_content_length_is_refused() {
    // A chunked body: no Content-Length, so the limit is enforced while streaming.
    let server = FakeServer::start(|_, _| Reply {
        content_length: None,
        ..Reply::new(200)
            .header("Transfer-Encoding", "chunked")
            .body(format!("{:x}\r\n{}\r\n0\r\n\r\n", 4000, "x".repeat(4000)))
    });
    let repo = server.repo(
        RegistryOptions {
            limits: Limits {
                max_manifest_bytes: 1000,
                max_api_bytes: 1000,
            },
            ..options()
        },
        "demo/app",
    );
    match repo.get_manifest("v1").await {
        Err(OciError::TooLarge { limit: 1000, .. }) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

fn bearer_server(token_json: &'static str) -> FakeServer {
    FakeServer::start(move |req, _| {
        if req.path() == "/token" {
            return Reply::new(200)
                .header("Content-Type", "application/json")
                .body(token_json);
        }
        match req.header("authorization") {
            Some("Bearer tok-123") => manifest_reply(),
            _ => {
                let realm = format!("http://{}/token", req.header("host").unwrap_or_default());
                Reply::new(401).header(
                    "WWW-Authenticate",
                    &format!(
                        r#"Bearer realm="{realm}",service="fake.registry",scope="repository:demo/app:pull""#
                    ),
                )
            }
        }
    })
}

#[tokio::test]
async fn bearer_token_flow_fetches_and_reuses_the_token() {
    let server = bearer_server(r#"{"token":"tok-123","expires_in":300}"#);
    let repo = server.repo(options(), "demo/app");
    repo.get_manifest("v1").await.unwrap();
    repo.get_manifest("v1").await.unwrap();
    let requests = server.requests();
    let paths: Vec<_> = requests.iter().map(|r| r.path().to_owned()).collect();
    assert_eq!(
        paths,
        [
            "/v2/demo/app/manifests/v1",
            "/token",
            "/v2/demo/app/manifests/v1",
            "/v2/demo/app/manifests/v1"
        ]
    );
    assert_eq!(requests[0].header("authorization"), None);
    let token_request = &requests[1];
    assert!(
        token_request.target.contains("service=fake.registry"),
        "{}",
        token_request.target
    );
    assert!(
        token_request
            .target
            .contains("scope=repository%3Ademo%2Fapp%3Apull"),
        "{}",
        token_request.target
    );
    assert_eq!(
        token_request.header("authorization"),
        None,
        "anonymous token request"
    );
    assert_eq!(requests[2].header("authorization"), Some("Bearer tok-123"));
    assert_eq!(requests[3].header("authorization"), Some("Bearer tok-123"));
}

#[tokio::test]
async fn bearer_token_request_carries_basic_credentials() {
    let server = bearer_server(r#"{"access_token":"tok-123"}"#);
    let creds = Credentials::Basic {
        username: "alice".into(),
        password: "s3cret".into(),
    };
    let repo = server.repo(
        RegistryOptions {
            credentials: creds,
            ..options()
        },
        "demo/app",
    );
    repo.get_manifest("v1").await.unwrap();
    let requests = server.requests();
    let token_request = requests.iter().find(|r| r.path() == "/token").unwrap();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
    );
    assert_eq!(
        token_request.header("authorization"),
        Some(expected.as_str())
    );
    // Push scope is asked for separately.
    let _ = repo.put_blob(b"x").await;
    let push_token = server
        .requests()
        .into_iter()
        .filter(|r| r.path() == "/token")
        .nth(1)
        .expect("a second token request for push");
    assert!(
        push_token.target.contains("pull%2Cpush"),
        "{}",
        push_token.target
    );
}

#[tokio::test]
async fn refused_credentials_give_an_auth_error_without_the_password() {
    let server = FakeServer::start(|req, _| {
        if req.path() == "/token" {
            return Reply::new(401).body("bad credentials");
        }
        let realm = format!("http://{}/token", req.header("host").unwrap_or_default());
        Reply::new(401).header("WWW-Authenticate", &format!(r#"Bearer realm="{realm}""#))
    });
    let creds = Credentials::Basic {
        username: "alice".into(),
        password: "hunter2-pass".into(),
    };
    let repo = server.repo(
        RegistryOptions {
            credentials: creds,
            ..options()
        },
        "demo/app",
    );
    let err = repo.get_manifest("v1").await.unwrap_err();
    assert!(matches!(err, OciError::Auth { .. }), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("hunter2-pass"), "{text}");
    assert!(
        !text.contains(&base64::engine::general_purpose::STANDARD.encode("alice:hunter2-pass"))
    );
}

#[tokio::test]
async fn basic_challenge_sends_basic_credentials() {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("bob:pw")
    );
    let wanted = expected.clone();
    let server = FakeServer::start(move |req, _| {
        if req.header("authorization") == Some(wanted.as_str()) {
            manifest_reply()
        } else {
            Reply::new(401).header("WWW-Authenticate", r#"Basic realm="fake""#)
        }
    });
    let creds = Credentials::Basic {
        username: "bob".into(),
        password: "pw".into(),
    };
    let repo = server.repo(
        RegistryOptions {
            credentials: creds,
            ..options()
        },
        "demo/app",
    );
    repo.get_manifest("v1").await.unwrap();
    repo.get_manifest("v1").await.unwrap();
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        3,
        "the second request sends credentials up front"
    );
    assert_eq!(requests[2].header("authorization"), Some(expected.as_str()));

    // Anonymous against a Basic registry: an Auth error saying credentials are missing.
    let anonymous = server.repo(options(), "demo/app");
    match anonymous.get_manifest("v1").await {
        Err(OciError::Auth { reason, .. }) => assert!(reason.contains("credentials"), "{reason}"),
        other => panic!("expected Auth, got {other:?}"),
    }
}

#[tokio::test]
async fn docker_config_credentials_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let server = FakeServer::start(|req, _| {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("carol:pw")
        );
        if req.header("authorization") == Some(expected.as_str()) {
            manifest_reply()
        } else {
            Reply::new(401).header("WWW-Authenticate", r#"Basic realm="fake""#)
        }
    });
    let auth = base64::engine::general_purpose::STANDARD.encode("carol:pw");
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, server.addr),
    )
    .unwrap();
    let repo = server.repo(
        RegistryOptions {
            credentials: Credentials::DockerConfigAt(config),
            ..options()
        },
        "demo/app",
    );
    repo.get_manifest("v1").await.unwrap();

    // A config that does not exist, given explicitly, is an error.
    let missing = server.repo(
        RegistryOptions {
            credentials: Credentials::DockerConfigAt(dir.path().join("nope.json")),
            ..options()
        },
        "demo/app",
    );
    assert!(matches!(
        missing.get_manifest("v1").await,
        Err(OciError::Io { .. })
    ));
}

#[tokio::test]
async fn tag_list_follows_link_pagination() {
    let server = FakeServer::start(|req, _| {
        if req.target.contains("last=b") {
            Reply::new(200).body(r#"{"name":"demo/app","tags":["c"]}"#)
        } else {
            Reply::new(200)
                .header("Link", r#"</v2/demo/app/tags/list?n=2&last=b>; rel="next""#)
                .body(r#"{"name":"demo/app","tags":["a","b"]}"#)
        }
    });
    let repo = server.repo(options(), "demo/app");
    assert_eq!(repo.list_tags().await.unwrap(), ["a", "b", "c"]);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn referrers_api_answer_is_used_and_filtered() {
    let subject = Digest::sha256_of(b"subject");
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"{}","size":10,"artifactType":"a/one"}},{{"mediaType":"{}","digest":"{}","size":11,"artifactType":"a/two"}}]}}"#,
        media_types::OCI_INDEX,
        media_types::OCI_MANIFEST,
        Digest::sha256_of(b"1"),
        media_types::OCI_MANIFEST,
        Digest::sha256_of(b"2"),
    );
    let server = FakeServer::start(move |req, _| {
        if req.path().contains("/referrers/") {
            // This registry ignores the filter; the client applies it.
            Reply::new(200)
                .header("Content-Type", media_types::OCI_INDEX)
                .body(index.clone())
        } else {
            Reply::new(404)
        }
    });
    let repo = server.repo(options(), "demo/app");
    assert_eq!(repo.referrers(&subject, None).await.unwrap().len(), 2);
    let two = repo.referrers(&subject, Some("a/two")).await.unwrap();
    assert_eq!(two.len(), 1);
    assert_eq!(two[0].digest, Digest::sha256_of(b"2"));
    let requests = server.requests();
    assert!(
        requests[1].target.ends_with("?artifactType=a%2Ftwo"),
        "{}",
        requests[1].target
    );
    // The API answered: no fallback tag lookups.
    assert!(requests.iter().all(|r| !r.path().contains("/manifests/")));
}

#[tokio::test]
async fn unreachable_registry() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let client = hallmark_oci::RegistryClient::new(RegistryOptions {
        max_retries: 1,
        retry_base: Duration::from_millis(5),
        ..options()
    })
    .unwrap();
    let repo = client.repository(&crate::common::reference(&addr, "demo/app"));
    match repo.get_manifest("v1").await {
        Err(OciError::Transport { registry, .. }) => assert_eq!(registry, addr),
        other => panic!("expected Transport, got {other:?}"),
    }
}

/// A referrers API that answers 200 with something that is not an index (deep nesting,
/// invalid UTF-8, a bad digest, an image manifest) is an error naming it, never "no
/// referrers": a copy would otherwise carry none and succeed.
#[tokio::test]
async fn a_referrers_answer_that_is_not_an_index_is_an_error() {
    let subject = Digest::sha256_of(b"subject");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let bad_digest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"sha256:nothex","size":1}}]}}"#,
        media_types::OCI_INDEX,
        media_types::OCI_MANIFEST
    );
    let image = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"a/b","digest":"{}","size":1}},"layers":[]}}"#,
        media_types::OCI_MANIFEST,
        Digest::sha256_of(b"c")
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("deeply nested JSON", deep.into_bytes()),
        (
            "invalid UTF-8",
            b"{\"schemaVersion\":2,\"manifests\":[\"\xff\xfe\"]}".to_vec(),
        ),
        ("a bad digest", bad_digest.into_bytes()),
        ("an image manifest", image.into_bytes()),
    ];
    for (name, body) in cases {
        let server = FakeServer::start(move |req, _| {
            if req.path().contains("/referrers/") {
                Reply::new(200)
                    .header("Content-Type", media_types::OCI_INDEX)
                    .body(body.clone())
            } else {
                // The tag-schema fallback has an (empty) answer: it must not be used.
                Reply::new(404)
            }
        });
        let repo = server.repo(options(), "demo/app");
        match repo.referrers(&subject, None).await {
            Err(e @ OciError::Malformed { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains("expected an image index from the referrers API"),
                    "{name}: {text}"
                );
            }
            other => panic!("{name}: expected Malformed, found {other:?}"),
        }
    }
}
