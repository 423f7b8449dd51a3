//! Every vector: parsed (or refused naming what is missing), its images found with their JSON
//! pointers, and an answer that echoes what the API server expects.

use base64::Engine as _;
use hallmark_admission::{
    MAX_WARNING_CHARS, Operation, Response, Review, ReviewError, cut_warning, images,
};
use serde_json::Value;

fn vector(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/data/connaisseur/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn review(name: &str) -> Review {
    Review::parse(&vector(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// (list, index, image) of each image of a vector's object.
fn sites(name: &str) -> Vec<(String, String)> {
    let r = review(name);
    images(&r.kind, r.object.as_ref().unwrap())
        .into_iter()
        .map(|s| (s.pointer, s.image))
        .collect()
}

#[test]
fn every_workload_kind_gives_its_images_with_pointers() {
    let t = "/spec/template/spec";
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "01_deployment",
            &[(
                "/spec/template/spec/containers/0/image",
                "securesystemsengineering/alice-image:test",
            )],
        ),
        (
            "03_replicaset",
            &[(
                "/spec/template/spec/containers/0/image",
                "securesystemsengineering/sample-san-sama:hai",
            )],
        ),
        (
            "04_cronjob",
            &[(
                "/spec/jobTemplate/spec/template/spec/containers/0/image",
                "busybox",
            )],
        ),
        (
            "05_replication_controller",
            &[("/spec/template/spec/containers/0/image", "nginx")],
        ),
        (
            "06_daemonset",
            &[(
                "/spec/template/spec/containers/0/image",
                "quay.io/fluentd_elasticsearch/fluentd:v2.5.2",
            )],
        ),
        (
            "07_statefulset",
            &[(
                "/spec/template/spec/containers/0/image",
                "registry.k8s.io/nginx-slim:0.8",
            )],
        ),
        (
            "08_job",
            &[("/spec/template/spec/containers/0/image", "perl:5.34.0")],
        ),
        (
            "19_pod_initcontainer",
            &[
                ("/spec/initContainers/0/image", "nginx"),
                (
                    "/spec/containers/0/image",
                    "securesystemsengineering/charlie-image@sha256:91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff",
                ),
            ],
        ),
        (
            "20_pod_ephemeralcontainer",
            &[
                (
                    "/spec/containers/0/image",
                    "securesystemsengineering/charlie-image@sha256:91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff",
                ),
                ("/spec/ephemeralContainers/0/image", "nginx"),
            ],
        ),
        (
            "24_alice_tag_digest_dpl",
            &[(
                "/spec/template/spec/containers/0/image",
                "securesystemsengineering/alice-image:test@sha256:1234567890123456123456789012345612345678901234561234567890123456",
            )],
        ),
    ];
    for (name, expected) in cases {
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(p, i)| ((*p).to_owned(), (*i).to_owned()))
            .collect();
        assert_eq!(sites(name), expected, "{name}");
    }
    let multi = sites("09_dply_multi_image");
    assert_eq!(
        multi,
        [
            (
                format!("{t}/initContainers/0/image"),
                "busybox:1.32".to_owned()
            ),
            (format!("{t}/containers/0/image"), "redis:alpine".to_owned()),
            (format!("{t}/containers/1/image"), "mysql:8".to_owned()),
        ]
    );
    // A Role has no images; a Pod whose spec has no containers neither.
    assert!(sites("11_role").is_empty());
    assert!(sites("12_err_pod").is_empty());
}

#[test]
fn requests_keep_what_the_answer_echoes() {
    let r = review("01_deployment");
    assert_eq!(r.api_version, "admission.k8s.io/v1beta1");
    assert_eq!(r.uid, "3a3a7b38-5512-4a85-94bb-3562269e0a6a");
    assert_eq!(r.namespace.as_deref(), Some("test-connaisseur"));
    assert_eq!(r.operation, Operation::Create);
    let u = review("10_update");
    assert_eq!(u.operation, Operation::Update);
    assert!(u.old_object.is_some(), "an UPDATE carries oldObject");
    let answer = Response::allow().to_review(&r);
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1beta1");
    assert_eq!(answer["kind"], "AdmissionReview");
    assert_eq!(answer["response"]["uid"], r.uid.as_str());
    assert_eq!(answer["response"]["allowed"], true);
}

#[test]
fn broken_and_null_requests_are_refused_naming_what_is_missing() {
    for (name, field) in [
        ("21_broken_admission_request", "request.uid"),
        ("26_broken_update_admission_request", "request.uid"),
    ] {
        match Review::parse(&vector(name)) {
            Err(ReviewError::Missing { field: f, .. }) => assert_eq!(f, field, "{name}"),
            other => panic!("{name}: expected a missing {field}, found {other:?}"),
        }
    }
    // A review that is `null` is no review at all.
    assert!(matches!(
        Review::parse(&vector("25_null_request")),
        Err(ReviewError::NotAReview { .. })
    ));
    assert!(matches!(
        Review::parse(b"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":null}"),
        Err(ReviewError::Missing { field: "request", .. })
    ));
    assert!(matches!(
        Review::parse(b"{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}"),
        Err(ReviewError::NotAReview { .. })
    ));
    assert!(matches!(Review::parse(b"[1"), Err(ReviewError::Json(_))));
}

#[test]
fn a_denial_carries_its_message_warnings_are_cut_and_patches_apply() {
    let r = review("09_dply_multi_image");
    let denied = Response::deny("redis:alpine: no signature by the release key").to_review(&r);
    assert_eq!(denied["response"]["allowed"], false);
    assert_eq!(denied["response"]["status"]["code"], 403);
    assert_eq!(
        denied["response"]["status"]["message"],
        "redis:alpine: no signature by the release key"
    );

    let long = "x".repeat(500);
    assert!(cut_warning(&long).chars().count() < MAX_WARNING_CHARS);
    let mut warned = Response::allow();
    warned.warnings.push(long);
    let w = warned.to_review(&r);
    assert!(
        w["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .chars()
            .count()
            < MAX_WARNING_CHARS
    );

    // Pin the second container to a digest and apply the patch as the API server would.
    let site = &images(&r.kind, r.object.as_ref().unwrap())[1];
    let pinned = format!("{}@sha256:{}", site.image, "ab".repeat(32));
    let mut pin = Response::allow();
    pin.patch.push((site.pointer.clone(), pinned.clone()));
    let answer = pin.to_review(&r);
    assert_eq!(answer["response"]["patchType"], "JSONPatch");
    let ops: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(answer["response"]["patch"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut object = r.object.clone().unwrap();
    for op in ops.as_array().unwrap() {
        assert_eq!(op["op"], "replace");
        let target = object.pointer_mut(op["path"].as_str().unwrap()).unwrap();
        *target = op["value"].clone();
    }
    assert_eq!(
        images(&r.kind, &object)[1].image,
        pinned,
        "the patch pins the image it names"
    );
    assert_eq!(images(&r.kind, &object)[0].image, "busybox:1.32");
}
