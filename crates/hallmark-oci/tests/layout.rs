//! OCI image layouts in temporary directories.

use crate::registry::push_referrer;
use hallmark_core::Digest;
use hallmark_oci::{
    OciError, Store,
    layout::{Layout, REF_NAME},
    media_types,
    sample::{self, SampleImage, SampleIndex},
};
use serde_json::Value;
use std::path::Path;

fn index_json(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap()
}

fn entries(dir: &Path) -> Vec<Value> {
    index_json(dir)["manifests"].as_array().unwrap().clone()
}

#[tokio::test]
async fn create_writes_an_empty_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new");
    Layout::create(&dir).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let index = index_json(&dir);
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], media_types::OCI_INDEX);
    assert_eq!(index["manifests"], Value::Array(vec![]));
    // Creating again keeps what is there; opening works.
    Layout::create(&dir).unwrap();
    Layout::open(&dir).unwrap();
    assert!(
        Layout::open(&dir)
            .unwrap()
            .list_tags()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn open_refuses_what_is_not_a_layout() {
    let tmp = tempfile::tempdir().unwrap();
    match Layout::open(tmp.path()) {
        Err(OciError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    std::fs::write(
        tmp.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"2.0.0"}"#,
    )
    .unwrap();
    match Layout::open(tmp.path()) {
        Err(OciError::Malformed { reason, .. }) => assert!(reason.contains("2.0.0"), "{reason}"),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[tokio::test]
async fn put_get_and_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::create(tmp.path()).unwrap();
    let store = Store::Layout(layout.clone());
    let image = sample::push_sample_image(&store, "v1", "layout")
        .await
        .unwrap();
    let index = sample::push_sample_index(&store, "multi", "layout index")
        .await
        .unwrap();
    let built = SampleImage::build("layout", "amd64");
    assert_eq!(image, built.digest());
    assert_eq!(index, SampleIndex::build("layout index").digest());

    let fetched = store.get_manifest("v1").await.unwrap();
    assert_eq!(fetched.bytes, built.manifest);
    assert_eq!(fetched.media_type, media_types::OCI_MANIFEST);
    assert_eq!(fetched.digest, image);
    let by_digest = store.get_manifest(&image.to_string()).await.unwrap();
    assert_eq!(by_digest.bytes, built.manifest);
    assert_eq!(
        store.get_manifest("multi").await.unwrap().media_type,
        media_types::OCI_INDEX
    );

    let head = store.head_manifest("multi").await.unwrap().unwrap();
    assert_eq!(head.digest, index);
    assert_eq!(store.head_manifest("nope").await.unwrap(), None);
    assert_eq!(
        store
            .head_manifest(&Digest::sha256_of(b"x").to_string())
            .await
            .unwrap(),
        None
    );

    let layer = Digest::sha256_of(&built.layer);
    assert!(tmp.path().join("blobs/sha256").join(layer.hex()).is_file());
    assert_eq!(store.get_blob(&layer, 1 << 20).await.unwrap(), built.layer);
    match store.get_blob(&layer, 10).await {
        Err(OciError::TooLarge { limit: 10, .. }) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
    match store.get_manifest("nope").await {
        Err(OciError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }

    let mut tags = store.list_tags().await.unwrap();
    tags.sort();
    assert_eq!(tags, ["multi", "v1"]);
    // Children of the index are listed untagged, once each.
    let untagged = entries(tmp.path())
        .iter()
        .filter(|e| e.get("annotations").is_none())
        .count();
    assert_eq!(untagged, 2);
    // A manifest already listed under a tag is not listed again when put untagged.
    built.push(&store, None).await.unwrap();
    assert_eq!(entries(tmp.path()).len(), 4);
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .chain(std::fs::read_dir(tmp.path().join("blobs/sha256")).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn same_tag_twice_keeps_one_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::Layout(Layout::create(tmp.path()).unwrap());
    let first = sample::push_sample_image(&store, "v1", "first")
        .await
        .unwrap();
    let second = sample::push_sample_image(&store, "v1", "second")
        .await
        .unwrap();
    assert_ne!(first, second);
    let all = entries(tmp.path());
    let tagged: Vec<_> = all
        .iter()
        .filter(|e| e["annotations"][REF_NAME] == "v1")
        .collect();
    assert_eq!(tagged.len(), 1, "{all:?}");
    assert_eq!(tagged[0]["digest"], second.to_string());
    assert_eq!(store.get_manifest("v1").await.unwrap().digest, second);

    // Untagged puts of the same manifest add one entry.
    let image = SampleImage::build("untagged", "amd64");
    image.push(&store, None).await.unwrap();
    image.push(&store, None).await.unwrap();
    let digest = image.digest().to_string();
    assert_eq!(
        entries(tmp.path())
            .iter()
            .filter(|e| e["digest"] == digest)
            .count(),
        1
    );
    assert_eq!(
        store.get_manifest(&digest).await.unwrap().bytes,
        image.manifest
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_lose_no_entry() {
    let tmp = tempfile::tempdir().unwrap();
    // Separate handles on the same directory share the index lock.
    let handles: Vec<Store> = (0..3)
        .map(|_| Store::Layout(Layout::create(tmp.path()).unwrap()))
        .collect();
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let store = handles[i % handles.len()].clone();
            tokio::spawn(async move {
                sample::push_sample_image(&store, &format!("t{i}"), &format!("c{i}")).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let mut tags = handles[0].list_tags().await.unwrap();
    tags.sort();
    let mut expected: Vec<String> = (0..24).map(|i| format!("t{i}")).collect();
    expected.sort();
    assert_eq!(tags, expected);
}

#[tokio::test]
async fn tolerates_and_keeps_entries_of_other_tools() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let layout = Layout::create(dir).unwrap();
    let store = Store::Layout(layout);
    let image = sample::push_sample_image(&store, "ours", "foreign")
        .await
        .unwrap();
    // Rewrite index.json as umoci/skopeo might: extra top-level and entry fields, an entry
    // without mediaType, and a full-reference ref name.
    let foreign = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": media_types::OCI_MANIFEST,
                "digest": image.to_string(),
                "size": SampleImage::build("foreign", "amd64").manifest.len(),
                "annotations": {
                    REF_NAME: "ours",
                    "io.containerd.image.name": "docker.io/library/x:ours"
                },
                "urls": ["https://example.invalid/x"]
            },
            { "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000", "size": 1 },
            { "mediaType": media_types::OCI_MANIFEST, "digest": "md5:abc", "size": 1 }
        ],
        "annotations": { "made.by": "someone else" }
    });
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&foreign).unwrap(),
    )
    .unwrap();

    assert_eq!(store.get_manifest("ours").await.unwrap().digest, image);
    assert_eq!(store.list_tags().await.unwrap(), ["ours"]);
    sample::push_sample_image(&store, "new", "foreign 2")
        .await
        .unwrap();

    let index = index_json(dir);
    assert_eq!(index["annotations"]["made.by"], "someone else");
    assert_eq!(index["mediaType"], media_types::OCI_INDEX);
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 4);
    assert_eq!(manifests[0]["urls"][0], "https://example.invalid/x");
    assert_eq!(manifests[2]["digest"], "md5:abc");
}

#[tokio::test]
async fn corrupted_blobs_are_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::Layout(Layout::create(tmp.path()).unwrap());
    let digest = sample::push_sample_image(&store, "v1", "corrupt me")
        .await
        .unwrap();
    std::fs::write(
        tmp.path().join("blobs/sha256").join(digest.hex()),
        b"{\"not\":\"it\"}",
    )
    .unwrap();
    match store.get_manifest("v1").await {
        Err(OciError::DigestMismatch { source, .. }) => {
            assert!(source.to_string().contains(digest.hex()), "{source}")
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn referrers_are_found_by_subject() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::Layout(Layout::create(tmp.path()).unwrap());
    sample::push_sample_image(&store, "v1", "subject")
        .await
        .unwrap();
    let other = sample::push_sample_image(&store, "v2", "other subject")
        .await
        .unwrap();
    let subject = store.head_manifest("v1").await.unwrap().unwrap();
    // The tag entry carries the ref name; a subject descriptor does not.
    let subject = hallmark_oci::Descriptor {
        annotations: None,
        ..subject
    };
    assert!(
        store
            .referrers(&subject.digest, None)
            .await
            .unwrap()
            .is_empty()
    );

    let sig = push_referrer(&store, &subject, "application/vnd.dev.hallmark.sig", "s").await;
    let att = push_referrer(&store, &subject, "application/vnd.dev.hallmark.att", "a").await;
    let mut all = store.referrers(&subject.digest, None).await.unwrap();
    all.sort_by(|a, b| a.artifact_type.cmp(&b.artifact_type));
    assert_eq!(all, vec![att, sig.clone()]);
    assert_eq!(sig.annotations.as_ref().unwrap()["note"], "s");
    assert_eq!(
        store
            .referrers(&subject.digest, Some("application/vnd.dev.hallmark.sig"))
            .await
            .unwrap(),
        vec![sig]
    );
    assert!(store.referrers(&other, None).await.unwrap().is_empty());
}
