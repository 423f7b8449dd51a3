use hallmark_core::{Digest, ImageRef, ReferenceError, RegistryRef};
use std::path::PathBuf;

const HEX: &str = "634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00";

fn digest() -> Digest {
    Digest::parse(&format!("sha256:{HEX}")).unwrap()
}

/// (input, registry, repository, tag, has digest)
const GOOD: &[(&str, &str, &str, Option<&str>, bool)] = &[
    (
        "127.0.0.1:5000/demo/app:v1",
        "127.0.0.1:5000",
        "demo/app",
        Some("v1"),
        false,
    ),
    ("localhost/x@sha256:HEX", "localhost", "x", None, true),
    (
        "repo:tag@sha256:HEX",
        "docker.io",
        "library/repo",
        Some("tag"),
        true,
    ),
    ("nginx", "docker.io", "library/nginx", None, false),
    (
        "nginx:1.25-alpine",
        "docker.io",
        "library/nginx",
        Some("1.25-alpine"),
        false,
    ),
    ("docker.io/nginx", "docker.io", "library/nginx", None, false),
    (
        "index.docker.io/nginx",
        "index.docker.io",
        "library/nginx",
        None,
        false,
    ),
    (
        "docker.io/library/nginx:latest",
        "docker.io",
        "library/nginx",
        Some("latest"),
        false,
    ),
    ("user/app", "docker.io", "user/app", None, false),
    (
        "ghcr.io/org/sub/app:v1.2.3",
        "ghcr.io",
        "org/sub/app",
        Some("v1.2.3"),
        false,
    ),
    (
        "ghcr.io/a/b-c__d.e_f--g:_x",
        "ghcr.io",
        "a/b-c__d.e_f--g",
        Some("_x"),
        false,
    ),
    (
        "localhost:5000",
        "docker.io",
        "library/localhost",
        Some("5000"),
        false,
    ),
    (
        "localhost:5000/a:B_1.x-y",
        "localhost:5000",
        "a",
        Some("B_1.x-y"),
        false,
    ),
    ("[::1]:5000/a/b", "[::1]:5000", "a/b", None, false),
    ("[fe80::1]/a", "[fe80::1]", "a", None, false),
    (
        "my-registry.example.com:443/team/app@sha256:HEX",
        "my-registry.example.com:443",
        "team/app",
        None,
        true,
    ),
    (
        "Registry.Example/app",
        "Registry.Example",
        "app",
        None,
        false,
    ),
];

#[test]
fn parses_good_references() {
    for &(input, registry, repository, tag, has_digest) in GOOD {
        let input = input.replace("HEX", HEX);
        let r = RegistryRef::parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.registry, registry, "{input}");
        assert_eq!(r.repository, repository, "{input}");
        assert_eq!(r.tag.as_deref(), tag, "{input}");
        assert_eq!(r.digest.clone(), has_digest.then(digest), "{input}");
        // Display round-trips.
        let shown = r.to_string();
        assert_eq!(RegistryRef::parse(&shown).unwrap(), r, "{input} -> {shown}");
        // As an ImageRef too, with and without docker://.
        assert_eq!(
            ImageRef::parse(&input).unwrap(),
            ImageRef::Registry(r.clone())
        );
        assert_eq!(
            ImageRef::parse(&format!("docker://{input}")).unwrap(),
            ImageRef::Registry(r.clone())
        );
        assert_eq!(ImageRef::Registry(r).to_string(), shown);
    }
}

#[test]
fn display_is_canonical() {
    let r = RegistryRef::parse(&format!("repo:tag@sha256:{HEX}")).unwrap();
    assert_eq!(
        r.to_string(),
        format!("docker.io/library/repo:tag@sha256:{HEX}")
    );
    let r = RegistryRef::parse("127.0.0.1:5000/demo/app:v1").unwrap();
    assert_eq!(r.to_string(), "127.0.0.1:5000/demo/app:v1");
}

#[test]
fn rejects_bad_references() {
    let long_component = "a".repeat(256);
    let long_tag = format!("app:{}", "t".repeat(129));
    let bad: Vec<String> = vec![
        String::new(),
        "docker.io/Nginx".into(),
        "ghcr.io/org/App".into(),
        "nginx:".into(),
        "nginx:-tag".into(),
        "nginx:.tag".into(),
        "nginx:ta g".into(),
        long_tag,
        "a//b".into(),
        "a/b/".into(),
        "/a".into(),
        "a..b".into(),
        "a._b".into(),
        "a___b".into(),
        "-a".into(),
        "a-".into(),
        "a_".into(),
        "ex ample.com/a".into(),
        "example.com:/a".into(),
        "example.com:80x/a".into(),
        "-example.com/a".into(),
        "example..com/a".into(),
        "[::1/a".into(),
        "[]/a".into(),
        "localhost/".into(),
        "a@b@c".into(),
        "nginx:latest:x".into(),
        "docker://nginx".into(), // the transport prefix is for ImageRef only
        long_component,
    ];
    for input in &bad {
        match RegistryRef::parse(input) {
            Err(ReferenceError::Invalid { found, reason }) => {
                assert_eq!(&found, input);
                assert!(!reason.is_empty());
            }
            other => panic!("{input:?}: expected Invalid, got {other:?}"),
        }
    }
}

#[test]
fn rejects_bad_digests_with_the_digest_error() {
    for input in [
        "nginx@sha256:abc",
        "nginx@",
        "nginx:1@md5:d41d8cd98f00b204e9800998ecf8427e",
        "nginx@SHA256:0000",
    ] {
        match RegistryRef::parse(input) {
            Err(ReferenceError::Digest { found, .. }) => assert_eq!(found, input),
            other => panic!("{input:?}: expected Digest error, got {other:?}"),
        }
    }
    // The reference in the message, the digest rule in its cause, each said once.
    let err = RegistryRef::parse("nginx@sha256:abc").unwrap_err();
    let (top, msg) = (err.to_string(), hallmark_core::error::chain(&err));
    assert!(
        top.contains("nginx@sha256:abc") && !top.contains("64 hex"),
        "{top}"
    );
    assert!(
        msg.contains("64 hex") && msg.matches("64 hex").count() == 1,
        "{msg}"
    );
}

#[test]
fn docker_hub_names() {
    for input in [
        "nginx",
        "docker.io/library/nginx",
        "index.docker.io/nginx",
        "registry-1.docker.io/library/nginx",
    ] {
        let r = RegistryRef::parse(input).unwrap();
        assert_eq!(
            r.repository_name(),
            "index.docker.io/library/nginx",
            "{input}"
        );
        assert_eq!(r.api_host(), "registry-1.docker.io", "{input}");
        assert!(r.is_docker_hub());
    }
    let r = RegistryRef::parse("ghcr.io/a/b").unwrap();
    assert_eq!(r.repository_name(), "ghcr.io/a/b");
    assert_eq!(r.api_host(), "ghcr.io");
    assert!(!r.is_docker_hub());
    let r = RegistryRef::parse("localhost:5000/a/b:t").unwrap();
    assert_eq!(r.repository_name(), "localhost:5000/a/b");
    assert_eq!(r.api_host(), "localhost:5000");
}

#[test]
fn loopback_detection() {
    for (registry, expected) in [
        ("localhost", true),
        ("localhost:5000", true),
        ("127.0.0.1", true),
        ("127.0.0.1:5000", true),
        ("127.1.2.3:80", true),
        ("127.255.255.255", true),
        ("[::1]", true),
        ("[::1]:5000", true),
        ("128.0.0.1", false),
        ("127.0.0.256", false),
        ("127.0.0.1.nip.io", false),
        ("127.0.0.1.nip.io:5000", false),
        ("localhost.example.com", false),
        ("[::2]:5000", false),
        ("docker.io", false),
        ("10.0.0.1:5000", false),
    ] {
        let r = RegistryRef::parse(&format!("{registry}/app")).unwrap();
        assert_eq!(r.is_loopback(), expected, "{registry}");
    }
}

#[test]
fn with_digest_and_with_tag() {
    let r = RegistryRef::parse("ghcr.io/a/b:v1").unwrap();
    let d = r.with_digest(digest());
    assert_eq!(d.tag, None);
    assert_eq!(d.digest, Some(digest()));
    assert_eq!(d.to_string(), format!("ghcr.io/a/b@sha256:{HEX}"));
    let t = d.with_tag("v2");
    assert_eq!(t.digest, None);
    assert_eq!(t.to_string(), "ghcr.io/a/b:v2");
}

#[test]
fn parses_oci_layouts() {
    let d = Some(digest());
    let cases: Vec<(String, &str, Option<&str>, Option<Digest>)> = vec![
        ("oci:dir".into(), "dir", None, None),
        ("oci:dir:tag".into(), "dir", Some("tag"), None),
        (
            "oci:./out/layout:v1.0".into(),
            "./out/layout",
            Some("v1.0"),
            None,
        ),
        ("oci:/abs/a:b/c".into(), "/abs/a:b/c", None, None),
        ("oci:/abs/a:b/c:t".into(), "/abs/a:b/c", Some("t"), None),
        (format!("oci:dir@sha256:{HEX}"), "dir", None, d.clone()),
        (
            format!("oci:a/b:t@sha256:{HEX}"),
            "a/b",
            Some("t"),
            d.clone(),
        ),
        ("oci:a@b/c".into(), "a@b/c", None, None),
    ];
    for (input, path, tag, digest) in cases {
        let r = ImageRef::parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(
            r,
            ImageRef::Layout {
                path: PathBuf::from(path),
                tag: tag.map(str::to_string),
                digest: digest.clone(),
            },
            "{input}"
        );
        assert_eq!(r.tag(), tag);
        assert_eq!(r.digest(), digest.as_ref());
        assert_eq!(r.to_string(), input);
        assert_eq!(ImageRef::parse(&r.to_string()).unwrap(), r);
    }
}

#[test]
fn rejects_bad_oci_layouts() {
    for input in ["oci:", "oci::tag", "oci:dir:", "oci:dir:-x", "oci:dir:a b"] {
        assert!(
            matches!(ImageRef::parse(input), Err(ReferenceError::Invalid { .. })),
            "{input}"
        );
    }
    assert!(matches!(
        ImageRef::parse("oci:dir@sha256:123"),
        Err(ReferenceError::Digest { .. })
    ));
}

#[test]
fn image_ref_accessors_for_registry_refs() {
    let r = ImageRef::parse(&format!("docker://ghcr.io/a/b:v1@sha256:{HEX}")).unwrap();
    assert_eq!(r.tag(), Some("v1"));
    assert_eq!(r.digest(), Some(&digest()));
    assert_eq!(r.to_string(), format!("ghcr.io/a/b:v1@sha256:{HEX}"));
}

#[test]
fn name_length_limit_applies_to_the_normalised_name() {
    // "docker.io/library/" is 18 characters: 237 more make 255, the limit.
    let ok = "a".repeat(237);
    let r = RegistryRef::parse(&ok).unwrap();
    assert_eq!(r.to_string().len(), 255);
    assert_eq!(RegistryRef::parse(&r.to_string()).unwrap(), r);
    assert!(matches!(
        RegistryRef::parse(&"a".repeat(238)),
        Err(ReferenceError::Invalid { .. })
    ));
}
