//! Hostile image trees: a chain of nested indexes thousands deep is refused with the depth
//! limit in the error (it used to overflow the stack), a child listed many times is fetched
//! and copied once (it used to be fetched once per listing), and a signature manifest listing
//! gigabytes of payloads is refused before any is read.

use hallmark_core::{Digest, ImageRef};
use hallmark_flows::{MAX_INDEX_DEPTH, SigstoreError, copy};
use hallmark_oci::{Store, layout::Layout, media_types, sample::SampleImage};
use std::path::Path;
use std::time::Duration;

/// Every case ends well within this.
const BOUND: Duration = Duration::from_secs(60);

/// An index listing `child` (an image manifest or an index) `times` times.
fn index_of(child: &Digest, child_type: &str, child_size: usize, times: usize) -> Vec<u8> {
    let entry = format!(r#"{{"mediaType":"{child_type}","digest":"{child}","size":{child_size}}}"#);
    let entries = vec![entry; times].join(",");
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{entries}]}}"#,
        media_types::OCI_INDEX
    )
    .into_bytes()
}

/// A layout holding a sample image under `depth` nested indexes, each listing its child
/// `times` times; the outermost is tagged `top`.
async fn nested(dir: &Path, depth: usize, times: usize) -> (Store, ImageRef) {
    let store = Store::Layout(Layout::create(dir).unwrap());
    let image = SampleImage::build("deep", "amd64");
    let mut child = image.push(&store, None).await.unwrap();
    let mut child_type = media_types::OCI_MANIFEST;
    let mut child_size = image.manifest.len();
    for level in 0..depth {
        let bytes = index_of(&child, child_type, child_size, times);
        child = if level + 1 == depth {
            store
                .put_manifest(&bytes, media_types::OCI_INDEX, Some("top"))
                .await
                .unwrap()
        } else {
            // Untagged: the blob alone (a layout finds a manifest by digest without an entry).
            store.put_blob(&bytes).await.unwrap()
        };
        child_type = media_types::OCI_INDEX;
        child_size = bytes.len();
    }
    let image = ImageRef::parse(&format!("oci:{}:top", dir.display())).unwrap();
    (store, image)
}

async fn copy_bounded(
    src: &Store,
    image: &ImageRef,
    dst: &Store,
) -> Result<hallmark_flows::CopyReport, SigstoreError> {
    tokio::time::timeout(BOUND, copy(src, image, dst, Some("copied")))
        .await
        .unwrap_or_else(|_| panic!("copy did not end within {BOUND:?}"))
}

#[tokio::test]
async fn a_chain_of_2000_nested_indexes_is_refused_by_depth() {
    let dir = tempfile::tempdir().unwrap();
    let (src, image) = nested(&dir.path().join("src"), 2_000, 1).await;
    let dst = Store::Layout(Layout::create(&dir.path().join("dst")).unwrap());
    let e = copy_bounded(&src, &image, &dst).await.unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, SigstoreError::Malformed { .. })
            && text.contains(&format!(
                "expected indexes nested at most {MAX_INDEX_DEPTH} deep"
            )),
        "expected the depth limit in the error, found {text:?}"
    );
}

#[tokio::test]
async fn indexes_nested_up_to_the_limit_are_copied() {
    let dir = tempfile::tempdir().unwrap();
    let (src, image) = nested(&dir.path().join("src"), MAX_INDEX_DEPTH, 1).await;
    let dst = Store::Layout(Layout::create(&dir.path().join("dst")).unwrap());
    let report = copy_bounded(&src, &image, &dst).await.unwrap();
    assert_eq!(report.manifests, MAX_INDEX_DEPTH + 1, "{report:?}");
    assert!(dst.get_manifest("copied").await.is_ok());
}

#[tokio::test]
async fn a_child_listed_15000_times_is_copied_once() {
    let dir = tempfile::tempdir().unwrap();
    let (src, image) = nested(&dir.path().join("src"), 1, 15_000).await;
    let dst = Store::Layout(Layout::create(&dir.path().join("dst")).unwrap());
    let report = copy_bounded(&src, &image, &dst).await.unwrap();
    // The index and its one distinct child, with the child's config and layer.
    assert_eq!(report.manifests, 2, "{report:?}");
    assert_eq!(report.blobs, 2, "{report:?}");
}

/// A `.sig` manifest listing 100 distinct payloads of 16 MiB − 1 each is refused from the
/// layers' declared sizes, before any payload is read (they used to be fetched at once and
/// held: 1.7 GB).
#[tokio::test]
async fn fat_signature_payloads_are_refused_before_they_are_read() {
    use hallmark_flows::{MAX_SIGNATURE_BYTES_PER_IMAGE, verify_image};
    use hallmark_sigstore::{SIMPLE_SIGNING_MEDIA_TYPE, VerificationPolicy};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::Layout(Layout::create(dir.path()).unwrap());
    let image = SampleImage::build("fat", "amd64");
    let digest = image.push(&store, Some("v1")).await.unwrap();
    let config = store.put_blob(b"{}").await.unwrap();
    // Distinct, digest-shaped layers; none of the blobs exists: nothing may be fetched.
    let layers: Vec<String> = (0..100u32)
        .map(|i| {
            format!(
                r#"{{"mediaType":"{SIMPLE_SIGNING_MEDIA_TYPE}","digest":"{}","size":{}}}"#,
                Digest::sha256_of(&i.to_be_bytes()),
                (16 << 20) - 1
            )
        })
        .collect();
    let sig = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":2}},"layers":[{}]}}"#,
        media_types::OCI_MANIFEST,
        layers.join(",")
    );
    store
        .put_manifest(
            sig.as_bytes(),
            media_types::OCI_MANIFEST,
            Some(&format!("{}.sig", digest.tag_form())),
        )
        .await
        .unwrap();
    let image = ImageRef::parse(&format!("oci:{}:v1", dir.path().display())).unwrap();
    let e = tokio::time::timeout(
        BOUND,
        verify_image(&store, &image, &VerificationPolicy::default()),
    )
    .await
    .expect("verify did not end in time")
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(&format!(
            "expected at most {MAX_SIGNATURE_BYTES_PER_IMAGE} bytes of signatures"
        )),
        "expected the per-image budget in the error, found {text:?}"
    );
}
