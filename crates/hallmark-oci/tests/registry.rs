//! Against the real docker-registry 2.8.

use crate::common::{client, options, reference, shared_repo, shared_store, unique_repo};
use hallmark_core::Digest;
use hallmark_oci::{
    Descriptor, ImageIndex, ImageManifest, Limits, Manifest, OciError, RegistryClient,
    RegistryOptions, Store,
    layout::Layout,
    manifest::to_json_bytes,
    media_types,
    sample::{self, SampleImage, SampleIndex},
};
use std::collections::BTreeMap;

#[tokio::test]
async fn sample_image_round_trips_byte_for_byte() {
    let store = shared_store("image");
    let digest = sample::push_sample_image(&store, "v1", "hello registry\n")
        .await
        .unwrap();
    let image = SampleImage::build("hello registry\n", "amd64");
    assert_eq!(digest, image.digest());

    let by_tag = store.get_manifest("v1").await.unwrap();
    assert_eq!(by_tag.bytes, image.manifest);
    assert_eq!(by_tag.digest, digest);
    assert_eq!(by_tag.media_type, media_types::OCI_MANIFEST);

    let by_digest = store.get_manifest(&digest.to_string()).await.unwrap();
    assert_eq!(by_digest.bytes, image.manifest);
    assert_eq!(by_digest.digest, digest);

    let head = store
        .head_manifest("v1")
        .await
        .unwrap()
        .expect("tag v1 exists");
    assert_eq!(head.digest, digest);
    assert_eq!(head.size, image.manifest.len() as u64);
    assert_eq!(head.media_type, media_types::OCI_MANIFEST);

    let Manifest::Image(manifest) =
        Manifest::parse(&by_tag.bytes, Some(&by_tag.media_type)).unwrap()
    else {
        panic!("expected an image manifest");
    };
    let config = store
        .get_blob(&manifest.config.digest, 1 << 20)
        .await
        .unwrap();
    assert_eq!(config, image.config);
    let layer = store
        .get_blob(&manifest.layers[0].digest, 1 << 20)
        .await
        .unwrap();
    assert_eq!(layer, image.layer);
}

#[tokio::test]
async fn different_content_gives_different_digests() {
    let store = shared_store("distinct");
    let a = sample::push_sample_image(&store, "a", "one").await.unwrap();
    let b = sample::push_sample_image(&store, "b", "two").await.unwrap();
    let a2 = sample::push_sample_image(&store, "a2", "one")
        .await
        .unwrap();
    assert_ne!(a, b);
    assert_eq!(a, a2);
}

#[tokio::test]
async fn sample_index_round_trips() {
    let store = shared_store("index");
    let digest = sample::push_sample_index(&store, "multi", "hello index\n")
        .await
        .unwrap();
    let built = SampleIndex::build("hello index\n");
    assert_eq!(digest, built.digest());

    let fetched = store.get_manifest("multi").await.unwrap();
    assert_eq!(fetched.bytes, built.index);
    assert_eq!(fetched.digest, digest);
    assert_eq!(fetched.media_type, media_types::OCI_INDEX);
    let Manifest::Index(index) = Manifest::parse(&fetched.bytes, None).unwrap() else {
        panic!("expected an index");
    };
    let archs: Vec<_> = index
        .manifests
        .iter()
        .map(|d| d.platform.as_ref().unwrap().architecture.as_str())
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);
    for (child, (_, image)) in index.manifests.iter().zip(&built.children) {
        let got = store.get_manifest(&child.digest.to_string()).await.unwrap();
        assert_eq!(got.bytes, image.manifest);
    }
    assert_ne!(index.manifests[0].digest, index.manifests[1].digest);
}

#[tokio::test]
async fn head_manifest_resolves_tags_and_reports_absence() {
    let repo = shared_repo("head");
    let store = Store::Registry(repo.clone());
    let digest = sample::push_sample_image(&store, "latest", "head")
        .await
        .unwrap();
    let descriptor = repo.head_manifest("latest").await.unwrap().unwrap();
    assert_eq!(descriptor.digest, digest);
    let by_digest = repo
        .head_manifest(&digest.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_digest.digest, digest);
    assert_eq!(repo.head_manifest("missing").await.unwrap(), None);
    let absent = Digest::sha256_of(b"absent");
    assert_eq!(repo.head_manifest(&absent.to_string()).await.unwrap(), None);
}

#[tokio::test]
async fn blobs_round_trip_and_dedupe() {
    let repo = shared_repo("blobs");
    let bytes = b"some blob bytes".repeat(1000);
    let digest = repo.put_blob(&bytes).await.unwrap();
    assert_eq!(digest, Digest::sha256_of(&bytes));
    assert!(repo.has_blob(&digest).await.unwrap());
    assert_eq!(repo.get_blob(&digest, 1 << 20).await.unwrap(), bytes);
    // Second put finds it (HEAD) and does not upload again; same digest.
    assert_eq!(repo.put_blob(&bytes).await.unwrap(), digest);
    assert!(
        !repo
            .has_blob(&Digest::sha256_of(b"never pushed"))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn missing_things_are_not_found() {
    let store = shared_store("missing");
    sample::push_sample_image(&store, "present", "x")
        .await
        .unwrap();
    match store.get_manifest("absent").await {
        Err(OciError::NotFound { what, .. }) => assert!(what.contains("absent"), "{what}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    let blob = Digest::sha256_of(b"no such blob");
    match store.get_blob(&blob, 1024).await {
        Err(OciError::NotFound { what, .. }) => assert!(what.contains(blob.hex()), "{what}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn limits_refuse_large_responses() {
    let registry = hallmark_testutil::registry::shared();
    let name = unique_repo("limits");
    let big = client().repository(&reference(registry.addr(), &name));
    let digest = sample::push_sample_image(&Store::Registry(big), "v1", "limits")
        .await
        .unwrap();

    let small = RegistryClient::new(RegistryOptions {
        limits: Limits {
            max_manifest_bytes: 100,
            max_api_bytes: 1 << 20,
        },
        ..options()
    })
    .unwrap()
    .repository(&reference(registry.addr(), &name));
    match small.get_manifest("v1").await {
        Err(OciError::TooLarge { limit, .. }) => assert_eq!(limit, 100),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let layer = SampleImage::build("limits", "amd64").layer;
    match small.get_blob(&Digest::sha256_of(&layer), 100).await {
        Err(OciError::TooLarge { limit, .. }) => assert_eq!(limit, 100),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Within the limit it works.
    assert_eq!(
        small
            .get_blob(&Digest::sha256_of(&layer), 4096)
            .await
            .unwrap(),
        layer
    );
    assert!(
        small
            .head_manifest(&digest.to_string())
            .await
            .unwrap()
            .is_some()
    );
}

/// An artifact manifest (empty config, one layer) pointing at `subject`.
pub async fn push_referrer(
    store: &Store,
    subject: &Descriptor,
    artifact_type: &str,
    note: &str,
) -> Descriptor {
    let empty = store.put_blob(b"{}").await.unwrap();
    let payload = store.put_blob(note.as_bytes()).await.unwrap();
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_types::OCI_MANIFEST.into()),
        artifact_type: Some(artifact_type.into()),
        config: Descriptor {
            media_type: media_types::OCI_EMPTY.into(),
            digest: empty,
            size: 2,
            annotations: None,
            platform: None,
            artifact_type: None,
        },
        layers: vec![Descriptor {
            media_type: "text/plain".into(),
            digest: payload,
            size: note.len() as u64,
            annotations: None,
            platform: None,
            artifact_type: None,
        }],
        subject: Some(subject.clone()),
        annotations: Some(BTreeMap::from([("note".to_owned(), note.to_owned())])),
    };
    let bytes = to_json_bytes(&manifest);
    let digest = store
        .put_manifest(&bytes, media_types::OCI_MANIFEST, None)
        .await
        .unwrap();
    Descriptor {
        media_type: media_types::OCI_MANIFEST.into(),
        digest,
        size: bytes.len() as u64,
        annotations: manifest.annotations.clone(),
        platform: None,
        artifact_type: Some(artifact_type.into()),
    }
}

#[tokio::test]
async fn referrers_fall_back_to_the_tag_schema() {
    let store = shared_store("referrers");
    let subject_digest = sample::push_sample_image(&store, "v1", "subject")
        .await
        .unwrap();
    let subject = store.head_manifest("v1").await.unwrap().unwrap();
    assert_eq!(subject.digest, subject_digest);

    // No referrers yet: docker-registry 2.8 has no referrers API, and no fallback tag exists.
    assert!(
        store
            .referrers(&subject_digest, None)
            .await
            .unwrap()
            .is_empty()
    );

    let sig = push_referrer(&store, &subject, "application/vnd.dev.hallmark.sig", "a").await;
    let att = push_referrer(&store, &subject, "application/vnd.dev.hallmark.att", "b").await;
    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(media_types::OCI_INDEX.into()),
        artifact_type: None,
        manifests: vec![sig.clone(), att.clone()],
        subject: None,
        annotations: None,
    };
    store
        .put_manifest(
            &to_json_bytes(&index),
            media_types::OCI_INDEX,
            Some(&subject_digest.tag_form()),
        )
        .await
        .unwrap();

    let all = store.referrers(&subject_digest, None).await.unwrap();
    assert_eq!(all, vec![sig.clone(), att.clone()]);
    let sigs = store
        .referrers(&subject_digest, Some("application/vnd.dev.hallmark.sig"))
        .await
        .unwrap();
    assert_eq!(sigs, vec![sig]);
    let none = store
        .referrers(&subject_digest, Some("application/x-other"))
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn list_tags_lists_every_tag() {
    let store = shared_store("tags");
    for tag in ["one", "two", "three"] {
        sample::push_sample_image(&store, tag, tag).await.unwrap();
    }
    let mut tags = store.list_tags().await.unwrap();
    tags.sort();
    assert_eq!(tags, ["one", "three", "two"]);
    match shared_store("never-pushed").list_tags().await {
        Err(OciError::NotFound { .. }) => {}
        other => panic!("expected NotFound for an unknown repository, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_reads_share_one_client() {
    let repo = shared_repo("concurrent");
    let store = Store::Registry(repo.clone());
    let digest = sample::push_sample_image(&store, "v1", "concurrent")
        .await
        .unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.get_manifest("v1").await.map(|m| m.digest) })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), digest);
    }
}

/// Copy an image (manifest, index children, blobs) from one store to another.
pub async fn copy_image(from: &Store, to: &Store, tag: &str) -> Digest {
    let top = from.get_manifest(tag).await.unwrap();
    let manifests = match Manifest::parse(&top.bytes, Some(&top.media_type)).unwrap() {
        Manifest::Index(index) => {
            let mut children = Vec::new();
            for child in index.manifests {
                children.push(from.get_manifest(&child.digest.to_string()).await.unwrap());
            }
            children
        }
        Manifest::Image(_) => Vec::new(),
    };
    for m in manifests.iter().chain(std::iter::once(&top)) {
        if let Manifest::Image(image) = Manifest::parse(&m.bytes, Some(&m.media_type)).unwrap() {
            for blob in std::iter::once(&image.config).chain(&image.layers) {
                let bytes = from.get_blob(&blob.digest, 1 << 20).await.unwrap();
                assert_eq!(to.put_blob(&bytes).await.unwrap(), blob.digest);
            }
        }
    }
    for child in &manifests {
        to.put_manifest(&child.bytes, &child.media_type, None)
            .await
            .unwrap();
    }
    to.put_manifest(&top.bytes, &top.media_type, Some(tag))
        .await
        .unwrap()
}

#[tokio::test]
async fn registry_to_layout_to_registry_round_trip() {
    let source = shared_store("copy-src");
    let image = sample::push_sample_image(&source, "img", "copy me")
        .await
        .unwrap();
    let index = sample::push_sample_index(&source, "idx", "copy me too")
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let layout = Store::Layout(Layout::create(&dir.path().join("layout")).unwrap());
    assert_eq!(copy_image(&source, &layout, "img").await, image);
    assert_eq!(copy_image(&source, &layout, "idx").await, index);

    let back = shared_store("copy-dst");
    assert_eq!(copy_image(&layout, &back, "img").await, image);
    assert_eq!(copy_image(&layout, &back, "idx").await, index);
    assert_eq!(
        back.get_manifest("idx").await.unwrap().bytes,
        source.get_manifest("idx").await.unwrap().bytes
    );
    let mut tags = layout.list_tags().await.unwrap();
    tags.sort();
    assert_eq!(tags, ["idx", "img"]);
}

#[tokio::test]
async fn stopped_registry_is_unreachable() {
    let mut registry = hallmark_testutil::registry::start_new();
    let repo = client().repository(&reference(registry.addr(), "demo/app"));
    let store = Store::Registry(repo.clone());
    sample::push_sample_image(&store, "v1", "soon gone")
        .await
        .unwrap();
    registry.stop();
    match repo.get_manifest("v1").await {
        Err(OciError::Transport { registry: host, .. }) => {
            assert_eq!(host, registry.addr());
        }
        other => panic!("expected Transport, got {other:?}"),
    }
}

#[tokio::test]
async fn skopeo_accepts_the_sample_images() {
    // Panics with an install hint when skopeo 1.18 is missing: this test never passes unrun.
    hallmark_testutil::tools::skopeo();
    let registry = hallmark_testutil::registry::shared();
    let name = unique_repo("skopeo");
    let store = Store::Registry(client().repository(&reference(registry.addr(), &name)));
    let image = sample::push_sample_image(&store, "img", "for skopeo")
        .await
        .unwrap();
    sample::push_sample_index(&store, "idx", "for skopeo")
        .await
        .unwrap();

    let inspect = |target: String| {
        hallmark_testutil::tools::skopeo_run(["inspect", "--tls-verify=false", target.as_str()])
    };
    let out = inspect(format!("docker://{}/{name}:img", registry.addr()));
    out.assert_success();
    assert!(out.stdout.contains(&image.to_string()), "{out}");
    assert!(out.stdout.contains("\"Architecture\": \"amd64\""), "{out}");
    inspect(format!("docker://{}/{name}:idx", registry.addr())).assert_success();

    // A layout written by hallmark is readable by skopeo, and one skopeo writes by us.
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours");
    let layout = Store::Layout(Layout::create(&ours).unwrap());
    sample::push_sample_index(&layout, "idx", "for skopeo")
        .await
        .unwrap();
    let out = hallmark_testutil::tools::skopeo_run([
        "inspect".to_owned(),
        format!("oci:{}:idx", ours.display()),
    ]);
    out.assert_success();

    let theirs = dir.path().join("theirs");
    hallmark_testutil::tools::skopeo_copy(
        &format!("docker://{}/{name}:img", registry.addr()),
        &format!("oci:{}:copied", theirs.display()),
        &[],
    )
    .assert_success();
    let copied = Store::Layout(Layout::open(&theirs).unwrap());
    let fetched = copied.get_manifest("copied").await.unwrap();
    // skopeo may re-encode layers (e.g. compress them), so the manifest digest can differ;
    // the config, which names the uncompressed layer, is copied as it is.
    let Manifest::Image(theirs) =
        Manifest::parse(&fetched.bytes, Some(&fetched.media_type)).unwrap()
    else {
        panic!(
            "expected an image manifest from skopeo, got {}",
            fetched.media_type
        );
    };
    let Manifest::Image(ours) =
        Manifest::parse(&store.get_manifest("img").await.unwrap().bytes, None).unwrap()
    else {
        panic!("expected an image manifest");
    };
    assert_eq!(theirs.config.digest, ours.config.digest);
    for blob in std::iter::once(&theirs.config).chain(&theirs.layers) {
        let bytes = copied.get_blob(&blob.digest, 1 << 20).await.unwrap();
        assert_eq!(bytes.len() as u64, blob.size);
    }
}

/// Throughput of `get_manifest` against raw HTTP GETs of the same URLs on one shared
/// connection pool (run with `--ignored --nocapture`); hallmark should reach ≥ 80 %.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn throughput_against_raw_http() {
    use futures::StreamExt as _;
    let registry = hallmark_testutil::registry::shared();
    let name = unique_repo("bench");
    let repo = client().repository(&reference(registry.addr(), &name));
    let store = Store::Registry(repo.clone());
    let mut digests = Vec::new();
    for i in 0..200 {
        digests.push(
            sample::push_sample_image(&store, &format!("t{i}"), &i.to_string())
                .await
                .unwrap(),
        );
    }
    let rounds = 5;
    let raw = reqwest::Client::new();
    let urls: Vec<String> = digests
        .iter()
        .map(|d| format!("http://{}/v2/{name}/manifests/{d}", registry.addr()))
        .collect();
    for _ in 0..2 {
        let started = std::time::Instant::now();
        futures::stream::iter((0..rounds).flat_map(|_| urls.iter()))
            .for_each_concurrent(32, |url| {
                let raw = raw.clone();
                async move {
                    let resp = raw
                        .get(url)
                        .header("Accept", media_types::MANIFEST_ACCEPT)
                        .send()
                        .await
                        .unwrap();
                    assert!(resp.status().is_success());
                    resp.bytes().await.unwrap();
                }
            })
            .await;
        let raw_rate = (rounds * urls.len()) as f64 / started.elapsed().as_secs_f64();

        let started = std::time::Instant::now();
        futures::stream::iter((0..rounds).flat_map(|_| digests.iter()))
            .for_each_concurrent(32, |digest| {
                let repo = repo.clone();
                async move {
                    repo.get_manifest(&digest.to_string()).await.unwrap();
                }
            })
            .await;
        let ours = (rounds * digests.len()) as f64 / started.elapsed().as_secs_f64();
        eprintln!(
            "raw {raw_rate:.0}/s, hallmark {ours:.0}/s ({:.0} %)",
            100.0 * ours / raw_rate
        );
    }
}
