//! docker-archive files read back with the `tar` crate (the Docker engine itself loads them in
//! the CLI tests): the entries `docker load` follows, platform choice, and nothing written on
//! failure.

use hallmark_core::Digest;
use hallmark_oci::{
    OciError, Store,
    docker_archive::write_docker_archive,
    layout::Layout,
    manifest::Platform,
    media_types,
    sample::{SampleImage, SampleIndex},
};
use serde_json::Value;
use std::{collections::BTreeMap, io::Read as _, path::Path};

/// Every regular file of the archive: path → content.
fn entries(archive: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut tar = tar::Archive::new(std::fs::File::open(archive).unwrap());
    let mut out = BTreeMap::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.insert(path, bytes);
    }
    out
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn blob_entry(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

#[tokio::test]
async fn archive_holds_what_docker_load_follows() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::Layout(Layout::create(&tmp.path().join("layout")).unwrap());
    let image = SampleImage::build("archived\n", "amd64");
    image.push(&store, Some("v1")).await.unwrap();
    let manifest = store.get_manifest("v1").await.unwrap();
    let path = tmp.path().join("image.tar");
    let report = write_docker_archive(&store, &manifest, "demo/archived:v1", &path, None)
        .await
        .unwrap();
    let config = Digest::sha256_of(&image.config);
    let layer = Digest::sha256_of(&image.layer);
    assert_eq!(report.config, config);
    assert_eq!(report.manifest, image.digest());
    assert_eq!(report.index, None);
    assert_eq!(report.layers, 1);
    assert_eq!(report.bytes, std::fs::metadata(&path).unwrap().len());

    let files = entries(&path);
    let docker: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(
        docker,
        serde_json::json!([{
            "Config": blob_entry(&config),
            "RepoTags": ["demo/archived:v1"],
            "Layers": [blob_entry(&layer)],
        }])
    );
    assert_eq!(files[&blob_entry(&config)], image.config);
    assert_eq!(files[&blob_entry(&layer)], image.layer);
    assert_eq!(files[&blob_entry(&image.digest())], image.manifest);
    assert_eq!(files["oci-layout"], br#"{"imageLayoutVersion":"1.0.0"}"#);
    let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
    assert_eq!(index["mediaType"], media_types::OCI_INDEX);
    let entry = &index["manifests"][0];
    assert_eq!(entry["digest"], image.digest().to_string());
    assert_eq!(entry["size"], image.manifest.len());
    assert_eq!(
        entry["annotations"]["io.containerd.image.name"],
        "docker.io/demo/archived:v1"
    );
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "v1"
    );
    // Nothing but the archive next to it.
    assert_eq!(names_in(tmp.path()), vec!["image.tar", "layout"]);
}

#[tokio::test]
async fn index_gives_the_platform_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::Layout(Layout::create(&tmp.path().join("layout")).unwrap());
    let index = SampleIndex::build("multi\n");
    index.push(&store, "multi").await.unwrap();
    let fetched = store.get_manifest("multi").await.unwrap();
    let arm64 = Platform {
        architecture: "arm64".into(),
        os: "linux".into(),
        variant: None,
    };
    let path = tmp.path().join("arm64.tar");
    let report = write_docker_archive(&store, &fetched, "demo/multi:v1", &path, Some(&arm64))
        .await
        .unwrap();
    let (_, child) = &index.children[1];
    assert_eq!(report.manifest, child.digest());
    assert_eq!(report.index, Some(index.digest()));
    assert_eq!(report.platform.as_deref(), Some("linux/arm64"));
    assert!(entries(&path).contains_key(&blob_entry(&child.digest())));

    let s390x = Platform {
        architecture: "s390x".into(),
        ..arm64
    };
    let missing = tmp.path().join("s390x.tar");
    match write_docker_archive(&store, &fetched, "demo/multi:v1", &missing, Some(&s390x)).await {
        Err(OciError::NotFound { what, .. }) => {
            assert!(what.contains("linux/s390x"), "{what}");
            assert!(what.contains("linux/amd64, linux/arm64"), "{what}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(!missing.exists());
}

#[tokio::test]
async fn nothing_is_written_when_a_blob_is_not_what_its_digest_says() {
    let tmp = tempfile::tempdir().unwrap();
    let layout_dir = tmp.path().join("layout");
    let store = Store::Layout(Layout::create(&layout_dir).unwrap());
    let image = SampleImage::build("tampered\n", "amd64");
    image.push(&store, Some("v1")).await.unwrap();
    let manifest = store.get_manifest("v1").await.unwrap();
    // Same size, other bytes.
    let layer_file = layout_dir
        .join("blobs/sha256")
        .join(Digest::sha256_of(&image.layer).hex());
    let mut other = image.layer.clone();
    other[600] ^= 1;
    std::fs::write(&layer_file, &other).unwrap();

    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let path = out.join("image.tar");
    std::fs::write(&path, b"previous archive").unwrap();
    match write_docker_archive(&store, &manifest, "demo/tampered:v1", &path, None).await {
        Err(OciError::DigestMismatch { .. }) => {}
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    assert_eq!(
        names_in(&out),
        vec!["image.tar"],
        "expected no temporary file left"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"previous archive");
}

#[tokio::test]
async fn what_docker_cannot_load_is_refused_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::Layout(Layout::create(&tmp.path().join("layout")).unwrap());
    let image = SampleImage::build("x\n", "amd64");
    image.push(&store, Some("v1")).await.unwrap();
    let manifest = store.get_manifest("v1").await.unwrap();
    let path = tmp.path().join("image.tar");
    for tag in [
        "demo/x",
        "demo/x@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ] {
        match write_docker_archive(&store, &manifest, tag, &path, None).await {
            Err(OciError::Malformed { reason, .. }) => {
                assert!(reason.contains("expected REPOSITORY:TAG"), "{reason}")
            }
            other => panic!("{tag}: expected Malformed, got {other:?}"),
        }
    }

    // A config whose diff_ids do not match the layers.
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = store.put_blob(config).await.unwrap();
    let bad = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_MANIFEST,
        "config": {"mediaType": media_types::OCI_CONFIG, "digest": config_digest.to_string(), "size": config.len()},
        "layers": [{"mediaType": media_types::OCI_LAYER_TAR, "digest": Digest::sha256_of(&image.layer).to_string(), "size": image.layer.len()}],
    });
    let bytes = serde_json::to_vec(&bad).unwrap();
    store
        .put_manifest(&bytes, media_types::OCI_MANIFEST, Some("bad"))
        .await
        .unwrap();
    let manifest = store.get_manifest("bad").await.unwrap();
    match write_docker_archive(&store, &manifest, "demo/x:v1", &path, None).await {
        Err(OciError::Malformed { reason, .. }) => assert!(
            reason.contains("expected one rootfs.diff_ids entry per layer (1), found 0"),
            "{reason}"
        ),
        other => panic!("expected Malformed, got {other:?}"),
    }
    assert!(!path.exists());
}
