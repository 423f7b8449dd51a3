//! signedIdentity: containers/image's semantics (policy_reference_match.go), one table per
//! form: tag vs digest vs bare name, docker.io normalisation, remapIdentity prefixes.

use crate::support::image;
use hallmark_policy::{ImageName, SignedIdentity};

const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn check(si: &SignedIdentity, cases: &[(&str, Option<&str>, bool)]) {
    for (img, signed, expected) in cases {
        let img: ImageName = image(img);
        assert_eq!(
            si.matches(&img, *signed),
            *expected,
            "{si} for image {img} signed as {signed:?}"
        );
    }
}

#[test]
fn any_matches_everything_even_without_a_reference() {
    check(
        &SignedIdentity::Any,
        &[
            ("busybox:latest", None, true),
            ("busybox:latest", Some("quay.io/other/thing:v9"), true),
            ("busybox:latest", Some("Not A Reference"), true),
        ],
    );
}

#[test]
fn match_exact() {
    let d1 = format!("busybox@{D1}");
    check(
        &SignedIdentity::MatchExact,
        &[
            ("busybox:latest", Some("busybox:latest"), true),
            (
                "busybox:latest",
                Some("docker.io/library/busybox:latest"),
                true,
            ),
            (
                "busybox:latest",
                Some("index.docker.io/library/busybox:latest"),
                true,
            ),
            ("busybox:latest", Some("docker.io/library/busybox"), false),
            ("busybox:latest", Some("busybox:1.36"), false),
            ("busybox:latest", Some(&d1), false),
            (&d1, Some(&d1), true),
            (&d1, Some("busybox:latest"), false),
            ("busybox", Some("busybox"), false),
            ("busybox", Some("busybox:latest"), true),
            ("busybox:latest", None, false),
            ("busybox:latest", Some("BusyBox:latest"), false),
        ],
    );
}

#[test]
fn match_repo_digest_or_exact() {
    let (d1, d2) = (format!("busybox@{D1}"), format!("busybox@{D2}"));
    check(
        &SignedIdentity::MatchRepoDigestOrExact,
        &[
            // Tagged image: the exact reference.
            ("busybox:latest", Some("busybox:latest"), true),
            ("busybox:latest", Some("busybox:1.36"), false),
            ("busybox:latest", Some(&d1), false),
            ("busybox:latest", Some("busybox"), false),
            // Digest-only image: any tag or digest of the repository, not a bare name.
            (&d1, Some("busybox:whatever"), true),
            (&d1, Some(&d2), true),
            (&d1, Some("busybox"), false),
            (&d1, Some(&format!("alpine@{D1}")), false),
            // A bare name is `latest`, as skopeo reads `docker://busybox`.
            ("busybox", Some("busybox:latest"), true),
            ("busybox", Some("busybox:1.36"), false),
            // Tag and digest: the whole string.
            (
                &format!("busybox:v1@{D1}"),
                Some(&format!("busybox:v1@{D1}")),
                true,
            ),
            (&format!("busybox:v1@{D1}"), Some("busybox:v1"), false),
        ],
    );
}

#[test]
fn match_repository_normalises_docker_hub_as_containers_does() {
    check(
        &SignedIdentity::MatchRepository,
        &[
            ("busybox:latest", Some("busybox:v2"), true),
            ("busybox:latest", Some("busybox"), true),
            (
                "busybox:latest",
                Some("index.docker.io/library/busybox:v2"),
                true,
            ),
            // registry-1.docker.io is not an alias in containers/image's reference package.
            (
                "busybox:latest",
                Some("registry-1.docker.io/library/busybox:v2"),
                false,
            ),
            (
                "busybox:latest",
                Some(
                    "library/busybox@sha256:1111111111111111111111111111111111111111111111111111111111111111",
                ),
                true,
            ),
            (
                "registry.example.com/app:v1",
                Some("registry.example.com/other:v1"),
                false,
            ),
            ("localhost:5000/app:v1", Some("localhost:5000/app:v2"), true),
            ("localhost:5000/app:v1", Some("localhost/app:v2"), false),
        ],
    );
}

#[test]
fn exact_reference_ignores_the_image() {
    check(
        &SignedIdentity::ExactReference("quay.io/acme/app:v1".into()),
        &[
            (
                "registry.example.com/mirror/app:v7",
                Some("quay.io/acme/app:v1"),
                true,
            ),
            ("busybox:latest", Some("quay.io/acme/app:v1"), true),
            ("busybox:latest", Some("quay.io/acme/app:v2"), false),
            ("busybox:latest", Some("quay.io/acme/app"), false),
        ],
    );
    check(
        &SignedIdentity::ExactReference("busybox:latest".into()),
        &[(
            "quay.io/x/y:v1",
            Some("docker.io/library/busybox:latest"),
            true,
        )],
    );
}

#[test]
fn exact_repository_ignores_the_image() {
    check(
        &SignedIdentity::ExactRepository("quay.io/acme/app".into()),
        &[
            ("busybox:latest", Some("quay.io/acme/app:v1"), true),
            (
                "busybox:latest",
                Some(&format!("quay.io/acme/app@{D2}")),
                true,
            ),
            ("busybox:latest", Some("quay.io/acme/app"), true),
            ("busybox:latest", Some("quay.io/acme/other:v1"), false),
        ],
    );
}

#[test]
fn remap_identity_replaces_a_name_prefix_then_matches_repo_digest_or_exact() {
    let si = SignedIdentity::RemapIdentity {
        prefix: "mirror.example.com/upstream".into(),
        signed_prefix: "quay.io/acme".into(),
    };
    check(
        &si,
        &[
            (
                "mirror.example.com/upstream/app:v1",
                Some("quay.io/acme/app:v1"),
                true,
            ),
            (
                "mirror.example.com/upstream/app:v1",
                Some("quay.io/acme/app:v2"),
                false,
            ),
            (
                "mirror.example.com/upstream/app:v1",
                Some("mirror.example.com/upstream/app:v1"),
                false,
            ),
            (
                &format!("mirror.example.com/upstream/app@{D1}"),
                Some("quay.io/acme/app:any"),
                true,
            ),
            // The prefix must end at a `/`: not a prefix here, so the image stays as it is.
            (
                "mirror.example.com/upstreamx/app:v1",
                Some("quay.io/acme/app:v1"),
                false,
            ),
            (
                "mirror.example.com/upstreamx/app:v1",
                Some("mirror.example.com/upstreamx/app:v1"),
                true,
            ),
            // The whole name may equal the prefix.
            (
                "mirror.example.com/upstream:v1",
                Some("quay.io/acme:v1"),
                true,
            ),
        ],
    );
    let hub = SignedIdentity::RemapIdentity {
        prefix: "docker.io".into(),
        signed_prefix: "mirror.example.com".into(),
    };
    check(
        &hub,
        &[
            (
                "busybox:latest",
                Some("mirror.example.com/library/busybox:latest"),
                true,
            ),
            ("busybox:latest", Some("busybox:latest"), false),
        ],
    );
}

#[test]
fn oci_layouts_have_no_docker_reference() {
    let layout = hallmark_policy::ImageName::from_oci_path(
        std::path::Path::new("/srv/layout"),
        Some("v1"),
        None,
    );
    for si in [
        SignedIdentity::MatchExact,
        SignedIdentity::MatchRepoDigestOrExact,
        SignedIdentity::MatchRepository,
    ] {
        assert!(!si.matches(&layout, Some("busybox:v1")), "{si}");
    }
    assert!(SignedIdentity::ExactRepository("busybox".into()).matches(&layout, Some("busybox:v1")));
}
