//! Attachment manifests: appending layers.

use hallmark_core::Digest;
use hallmark_oci_spec::ImageManifest;
use hallmark_sigstore::{
    SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, SigManifestError,
    sigmanifest::{self, MAX_LAYERS, NewLayer},
};
use serde_json::Value;

fn layer(n: usize) -> NewLayer {
    NewLayer {
        media_type: SIMPLE_SIGNING_MEDIA_TYPE.into(),
        blob: format!("payload {n}").into_bytes(),
        annotations: [(SIGNATURE_ANNOTATION.to_owned(), format!("sig{n}"))].into(),
    }
}

fn parse(a: &sigmanifest::Appended) -> (ImageManifest, Value) {
    (
        serde_json::from_slice(&a.manifest).unwrap(),
        serde_json::from_slice(&a.config).unwrap(),
    )
}

fn diff_ids(config: &Value) -> Vec<String> {
    config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn append_keeps_earlier_layers_and_adds_diff_ids() {
    let first = sigmanifest::append(None, &layer(1), "test").unwrap();
    let (m1, c1) = parse(&first);
    assert_eq!(m1.schema_version, 2);
    assert_eq!(m1.layers.len(), 1);
    assert_eq!(m1.layers[0].digest, Digest::sha256_of(b"payload 1"));
    assert_eq!(m1.layers[0].size, 9);
    assert_eq!(
        m1.layers[0].annotations.as_ref().unwrap()[SIGNATURE_ANNOTATION],
        "sig1"
    );
    assert_eq!(m1.config.digest, Digest::sha256_of(&first.config));
    assert_eq!(m1.config.size, first.config.len() as u64);
    assert_eq!(diff_ids(&c1), [Digest::sha256_of(b"payload 1").to_string()]);
    assert_eq!(c1["created"], "0001-01-01T00:00:00Z");

    let second = sigmanifest::append(Some((&m1, &first.config)), &layer(2), "test").unwrap();
    let (m2, c2) = parse(&second);
    assert_eq!(m2.layers.len(), 2);
    assert_eq!(m2.layers[0], m1.layers[0]);
    assert_eq!(m2.layers[1].digest, Digest::sha256_of(b"payload 2"));
    assert_eq!(
        diff_ids(&c2),
        [
            Digest::sha256_of(b"payload 1").to_string(),
            Digest::sha256_of(b"payload 2").to_string()
        ]
    );
    assert_eq!(m2.config.digest, Digest::sha256_of(&second.config));
    // Other config fields survive.
    let mut custom: Value = serde_json::from_slice(&first.config).unwrap();
    custom["architecture"] = "arm64".into();
    let custom = serde_json::to_vec(&custom).unwrap();
    let (_, c3) = parse(&sigmanifest::append(Some((&m1, &custom)), &layer(3), "test").unwrap());
    assert_eq!(c3["architecture"], "arm64");
    assert_eq!(diff_ids(&c3).len(), 2);
}

#[test]
fn append_refuses_past_the_layer_limit() {
    let first = sigmanifest::append(None, &layer(0), "test").unwrap();
    let (mut m, _) = parse(&first);
    let config = br#"{"rootfs":{"type":"layers","diff_ids":[]}}"#;
    m.layers = vec![m.layers[0].clone(); MAX_LAYERS - 1];
    let ok = sigmanifest::append(Some((&m, config)), &layer(1), "test").unwrap();
    assert_eq!(parse(&ok).0.layers.len(), MAX_LAYERS);
    m.layers = vec![m.layers[0].clone(); MAX_LAYERS];
    match sigmanifest::append(Some((&m, config)), &layer(1), "repo:sha256-x.sig") {
        Err(SigManifestError::TooManyLayers {
            location,
            count,
            limit,
        }) => {
            assert_eq!(
                (location.as_str(), count, limit),
                ("repo:sha256-x.sig", 1001, 1000)
            );
        }
        other => panic!("expected TooManyLayers, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn append_rejects_malformed_config() {
    let first = sigmanifest::append(None, &layer(0), "test").unwrap();
    let (m, _) = parse(&first);
    for bad in [&b"not json"[..], b"[]", b"\"x\""] {
        let r = sigmanifest::append(Some((&m, bad)), &layer(1), "test");
        assert!(
            matches!(r, Err(SigManifestError::Malformed { .. })),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}
