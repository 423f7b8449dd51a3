//! Image patterns: glob semantics, specificity reproducing containers-policy.json's scope
//! order for every pair of scope kinds, and the overlap (intersection) check.

use crate::support::{image, policy};
use hallmark_policy::{ImageName, ImagePattern, Policy};
use std::path::Path;

fn pat(s: &str) -> ImagePattern {
    ImagePattern::parse(s).unwrap()
}

#[test]
fn glob_semantics() {
    let cases: &[(&str, &str, bool)] = &[
        (
            "registry.example.com/app",
            "registry.example.com/app:v1",
            true,
        ),
        (
            "registry.example.com/app",
            "registry.example.com/app/sub:v1",
            false,
        ),
        (
            "registry.example.com/*",
            "registry.example.com/app:v1",
            true,
        ),
        (
            "registry.example.com/*",
            "registry.example.com/team/app:v1",
            false,
        ),
        (
            "registry.example.com/**",
            "registry.example.com/team/app:v1",
            true,
        ),
        (
            "registry.example.com/**",
            "registry.example.org/team/app:v1",
            false,
        ),
        (
            "registry.example.com/ap?",
            "registry.example.com/app:v1",
            true,
        ),
        (
            "registry.example.com/ap?",
            "registry.example.com/ap:v1",
            false,
        ),
        (
            "registry.example.com/?",
            "registry.example.com/a/b:v1",
            false,
        ),
        ("*.example.com/**", "registry.example.com/a/b:v1", true),
        ("*.example.com/**", "example.com/a:v1", false),
        ("**", "docker.io/library/busybox:latest", true),
        ("busybox", "busybox:latest", false),
        ("docker.io/library/busybox", "busybox:latest", true),
        // Tag and digest scopes.
        ("docker.io/library/busybox:latest", "busybox:latest", true),
        ("docker.io/library/busybox:latest", "busybox:1.36", false),
        ("docker.io/library/busybox:latest", "busybox", true),
        ("docker.io/library/busybox:1.*", "busybox:1.36", true),
        (
            "docker.io/library/busybox:1.*",
            "busybox@sha256:1111111111111111111111111111111111111111111111111111111111111111",
            false,
        ),
        (
            "registry.example.com/**:v1",
            "registry.example.com/a/b:v1",
            true,
        ),
        (
            "registry.example.com/**:v1",
            "registry.example.com/a/b:v2",
            false,
        ),
        (
            "docker.io/library/busybox@sha256:1111111111111111111111111111111111111111111111111111111111111111",
            "busybox@sha256:1111111111111111111111111111111111111111111111111111111111111111",
            true,
        ),
        (
            "docker.io/library/busybox@sha256:*",
            "busybox@sha256:1111111111111111111111111111111111111111111111111111111111111111",
            true,
        ),
        (
            "docker.io/library/busybox@sha256:*",
            "busybox:latest",
            false,
        ),
        ("localhost:5000/**", "localhost:5000/app:v1", true),
        ("oci:/srv/layouts/**", "oci:/srv/layouts/app:v1", true),
        ("oci:/srv/layouts/app", "oci:/srv/layouts/app:v1", true),
        ("oci:/srv/layouts/app:v2", "oci:/srv/layouts/app:v1", false),
        ("oci:**", "oci:/srv/x", true),
    ];
    for (p, img, expected) in cases {
        assert_eq!(pat(p).matches(&image(img)), *expected, "{p} vs {img}");
    }
}

#[test]
fn image_names_normalise_docker_hub() {
    for s in [
        "busybox",
        "docker.io/busybox",
        "index.docker.io/library/busybox",
        "registry-1.docker.io/busybox",
    ] {
        assert_eq!(image(s).name, "docker.io/library/busybox", "{s}");
    }
    assert_eq!(image("quay.io/a/b:v1").to_string(), "quay.io/a/b:v1");
    assert_eq!(image("oci:/srv/l:v1").to_string(), "oci:/srv/l:v1");
}

#[test]
fn specificity_counts_literals_minus_wildcards() {
    let cases: &[(&str, i64)] = &[
        ("**", -1),
        ("a.io/x", 6),
        ("a.io/**", 4),
        ("a.io/x:v1", 9),
        ("*.io/**", 2),
        ("a.io/x?", 5),
        ("a.io/***", 4),
    ];
    for (p, s) in cases {
        assert_eq!(pat(p).specificity(), *s, "{p}");
    }
}

#[test]
fn invalid_patterns() {
    for p in ["", "a.io/x:", "a.io/x@", ":v1", "a.io/x y", "a.io/x:v1:v2"] {
        assert!(ImagePattern::parse(p).is_err(), "{p:?} should not parse");
    }
}

/// The containers-policy.json scopes that can apply to an image, most specific first
/// (requirementsForImageRef + DockerReferenceNamespaces).
fn scopes_in_containers_order(identity: &str, name: &str) -> Vec<String> {
    let mut v = vec![identity.to_string()];
    let mut n = name.to_string();
    loop {
        v.push(n.clone());
        match n.rfind('/') {
            Some(i) => n.truncate(i),
            None => break,
        }
    }
    let mut host = n.split(':').next().unwrap().to_string();
    while let Some(i) = host.find('.') {
        host = host[i + 1..].to_string();
        v.push(format!("*.{host}"));
    }
    v.push(String::new());
    v
}

fn containers_policy(first: &str, second: &str) -> Policy {
    let text = format!(
        r#"{{"default": [{{"type": "reject"}}], "transports": {{"docker": {{
            {first:?}: [{{"type": "insecureAcceptAnything"}}],
            {second:?}: [{{"type": "reject"}}]}}}}}}"#
    );
    Policy::parse(text.as_bytes(), Path::new("/etc/containers/policy.json")).unwrap()
}

#[test]
fn specificity_reproduces_the_containers_scope_order_for_every_pair() {
    let images = [
        (
            "a.b.example.com/ns/sub/app:v1",
            "a.b.example.com/ns/sub/app",
        ),
        (
            "registry.example.com:5000/ns/app:v1",
            "registry.example.com:5000/ns/app",
        ),
        (
            "quay.io/ns/app@sha256:1111111111111111111111111111111111111111111111111111111111111111",
            "quay.io/ns/app",
        ),
        ("busybox:latest", "docker.io/library/busybox"),
    ];
    let mut pairs = 0;
    for (img, name) in images {
        let identity = image(img).to_string();
        let scopes = scopes_in_containers_order(&identity, name);
        for i in 0..scopes.len() {
            for j in 0..scopes.len() {
                if i == j {
                    continue;
                }
                // Whichever order the file lists them in, the more specific scope decides.
                let p = containers_policy(&scopes[i], &scopes[j]);
                let winner = scopes[i.min(j)].clone();
                let rule = p.rule_for(&image(img), None).map(|r| r.name.clone());
                assert_eq!(
                    rule,
                    Some(format!("docker:{winner}")),
                    "{img}: {:?} vs {:?}",
                    scopes[i],
                    scopes[j]
                );
                pairs += 1;
            }
        }
    }
    assert!(pairs > 150, "{pairs}");
}

#[test]
fn intersection_finds_a_real_example_or_none() {
    let yes: &[(&str, &str, &str)] = &[
        (
            "registry.example.com/*/app",
            "registry.example.com/tea/*",
            "registry.example.com/tea/app",
        ),
        ("**", "quay.io/a", "quay.io/a"),
        ("a.io/**:v1", "a.io/x:*", "a.io/x:v1"),
        ("oci:/srv/**", "oci:**", ""),
    ];
    for (a, b, example) in yes {
        let got = pat(a)
            .intersection(&pat(b))
            .unwrap_or_else(|| panic!("{a} ∩ {b} is empty?"));
        assert!(
            pat(a).matches(&got) && pat(b).matches(&got),
            "{a} ∩ {b}: {got}"
        );
        if !example.is_empty() {
            assert_eq!(got.to_string(), *example);
        }
    }
    let no: &[(&str, &str)] = &[
        ("registry.example.com/app", "registry.example.com/other"),
        ("a.io/x:v1", "a.io/x:v2"),
        ("a.io/*", "a.io/*/*"),
        // With and without a port.
        ("*.example.com/**", "*.example.com:*/**"),
        // Equal specificity, but no valid host ends with both (a port is digits).
        ("*.example.com/**", "*.example.org:*/**"),
        ("*.ab.c/**", "*.x.yz:*/**"),
        ("oci:/srv/a/**", "registry.example.com/**"),
    ];
    for (a, b) in no {
        assert_eq!(pat(a).intersection(&pat(b)), None::<ImageName>, "{a} ∩ {b}");
    }
}

#[test]
fn converted_wildcard_scopes_load_without_overlap() {
    // Both wildcard forms of two domains of equal length: valid names never overlap.
    let p = Policy::parse(
        br#"{"default": [{"type": "reject"}], "transports": {"docker": {
            "*.example.com": [{"type": "insecureAcceptAnything"}],
            "*.example.org": [{"type": "insecureAcceptAnything"}]}}}"#,
        Path::new("/p.json"),
    );
    assert!(p.is_ok(), "{p:?}");
    let yaml = hallmark_policy::containers::to_hallmark_yaml(&p.unwrap());
    policy(&yaml);
}
