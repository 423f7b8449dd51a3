//! The real AdmissionReview requests (connaisseur's captured vectors: Pods, Deployments,
//! CronJobs, DaemonSets, StatefulSets, multi-image objects, init and ephemeral containers,
//! UPDATE, DELETE, broken requests) with their images rewritten to the local registry: images
//! the vectors expect to be allowed become a signed image, the others an unsigned one. Each is
//! answered as the API server needs, over HTTPS.

use crate::common::*;
use serde_json::Value;

/// Vectors that are not usable requests: 400, naming what is missing.
const BROKEN: [&str; 3] = [
    "21_broken_admission_request",
    "25_null_request",
    "26_broken_update_admission_request",
];

#[tokio::test]
async fn every_vector_is_answered_signed_images_pass_and_unsigned_are_denied() {
    let repo = unique("vectors");
    let key = key();
    push(&repo, "signed").await;
    sign(&repo, "signed", &key).await;
    push(&repo, "unsigned").await;
    let signed = format!("{}/{repo}:signed", registry());
    let unsigned = format!("{}/{repo}:unsigned", registry());
    let s = Served::with_policy(
        policy_for(&format!("{}/{repo}", registry()), "enforce"),
        &key.public_key().to_pem(),
    )
    .await;
    let mut names: Vec<String> = std::fs::read_dir(vector_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".json").map(str::to_owned)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 29, "{names:?}");
    let mut decided = 0;
    for name in &names {
        let bytes = std::fs::read(vector_dir().join(format!("{name}.json"))).unwrap();
        if BROKEN.contains(&name.as_str()) {
            for path in ["/validate", "/mutate"] {
                let (status, answer) = s.post(path, bytes.clone()).await;
                assert_eq!(status, 400, "{name} {path}: {answer}");
            }
            continue;
        }
        let mut v: Value = serde_json::from_slice(&bytes).unwrap();
        let kind = v["request"]["kind"]["kind"].as_str().unwrap().to_owned();
        // Every image of object and oldObject becomes a local one; the vectors' own names
        // say which they expect to be denied.
        let mut expect_denied = false;
        for field in ["object", "oldObject"] {
            let Some(object) = v["request"].get_mut(field).filter(|o| o.is_object()) else {
                continue;
            };
            for site in hallmark_admission::images(&kind, &object.clone()) {
                let deny = site.image.contains("deny") || site.image.contains("bob");
                if field == "object" && deny {
                    expect_denied = true;
                }
                *object.pointer_mut(&site.pointer).unwrap() = Value::String(if deny {
                    unsigned.clone()
                } else {
                    signed.clone()
                });
            }
        }
        let operation = v["request"]["operation"].as_str().unwrap().to_owned();
        let changes_images = operation == "CREATE"
            || (operation == "UPDATE" && {
                let images = |f: &str| {
                    v["request"]
                        .get(f)
                        .filter(|o| o.is_object())
                        .map(|o| hallmark_admission::images(&kind, o))
                        .unwrap_or_default()
                };
                images("object") != images("oldObject")
            });
        let validated = s.review("/validate", &v).await;
        let mutated = s.review("/mutate", &v).await;
        assert_eq!(mutated["allowed"], true, "{name}: mutation never denies");
        if expect_denied && changes_images {
            assert_eq!(validated["allowed"], false, "{name}: {validated}");
            assert!(
                validated["status"]["message"]
                    .as_str()
                    .unwrap()
                    .contains(&unsigned),
                "{name}: {validated}"
            );
            decided += 1;
        } else {
            assert_eq!(validated["allowed"], true, "{name}: {validated}");
        }
        if validated["allowed"] == true && changes_images && operation == "CREATE" {
            let object = v["request"]["object"].clone();
            if !hallmark_admission::images(&kind, &object).is_empty() {
                let mut patched = object;
                apply_patch(&mut patched, &mutated);
                for site in hallmark_admission::images(&kind, &patched) {
                    assert!(
                        site.image.starts_with(&format!("{signed}@sha256:")),
                        "{name}: {site:?}"
                    );
                }
                decided += 1;
            }
        }
    }
    assert!(decided >= 15, "{decided} vectors decided");
    s.stop().await;
}
