//! Hostile OCI layouts (a tarball can carry anything into an air-gapped site): a FIFO, a
//! directory or a symlink leading out of the layout in place of `oci-layout`, `index.json` or
//! a blob is refused at once, by what it is; nothing blocks and nothing outside is read.
//! Symlinks that stay inside the layout still work.

use hallmark_oci::{OciError, Store, layout::Layout, sample};
use std::path::Path;
use std::time::Duration;

/// Every case must end well within this (before the fix, a FIFO blocked forever).
const BOUND: Duration = Duration::from_secs(10);

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let out = std::process::Command::new("mkfifo")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "mkfifo {}: {out:?}", path.display());
}

/// A layout with one sample image tagged `v1`; returns its directory and the manifest digest.
async fn layout_with_image() -> (tempfile::TempDir, hallmark_core::Digest) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::Layout(Layout::create(tmp.path()).unwrap());
    let digest = sample::push_sample_image(&store, "v1", "hostile")
        .await
        .unwrap();
    (tmp, digest)
}

/// `get_manifest("v1")` of the layout at `dir`, bounded.
async fn get_v1(dir: &Path) -> Result<hallmark_oci::FetchedManifest, OciError> {
    let store = Store::Layout(Layout::open(dir)?);
    tokio::time::timeout(BOUND, store.get_manifest("v1"))
        .await
        .unwrap_or_else(|_| panic!("get_manifest did not end within {BOUND:?}"))
}

#[track_caller]
fn assert_unsafe(r: Result<impl std::fmt::Debug, OciError>, found: &str) {
    match r {
        Err(e @ OciError::UnsafeFile { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains(found) && text.contains("expected a regular file inside the layout"),
                "expected the error to say it found {found:?}, found {text:?}"
            );
        }
        other => panic!("expected UnsafeFile ({found}), found {other:?}"),
    }
}

#[tokio::test]
async fn a_fifo_as_index_json_is_refused_without_blocking() {
    let (tmp, _) = layout_with_image().await;
    mkfifo(&tmp.path().join("index.json"));
    assert_unsafe(get_v1(tmp.path()).await, "a FIFO");
}

#[tokio::test]
async fn a_fifo_as_oci_layout_is_refused_without_blocking() {
    let (tmp, _) = layout_with_image().await;
    mkfifo(&tmp.path().join("oci-layout"));
    let dir = tmp.path().to_path_buf();
    let opened = tokio::time::timeout(
        BOUND,
        tokio::task::spawn_blocking(move || Layout::open(&dir)),
    )
    .await
    .expect("Layout::open did not end in time")
    .unwrap();
    assert_unsafe(opened, "a FIFO");
}

#[tokio::test]
async fn a_fifo_as_a_manifest_blob_is_refused_without_blocking() {
    let (tmp, digest) = layout_with_image().await;
    mkfifo(&tmp.path().join("blobs/sha256").join(digest.hex()));
    assert_unsafe(get_v1(tmp.path()).await, "a FIFO");
}

#[tokio::test]
async fn a_fifo_as_a_layer_blob_is_refused_when_streamed() {
    let (tmp, _) = layout_with_image().await;
    let store = Store::Layout(Layout::open(tmp.path()).unwrap());
    let manifest = store.get_manifest("v1").await.unwrap();
    let parsed =
        hallmark_oci::Manifest::parse(&manifest.bytes, Some(&manifest.media_type)).unwrap();
    let hallmark_oci::Manifest::Image(image) = parsed else {
        panic!("expected an image manifest")
    };
    let layer = image.layers[0].clone();
    mkfifo(&tmp.path().join("blobs/sha256").join(layer.digest.hex()));
    let opened = tokio::time::timeout(BOUND, store.open_blob(&layer))
        .await
        .expect("open_blob did not end in time");
    assert_unsafe(opened.map(|_| ()), "a FIFO");
    let has = tokio::time::timeout(BOUND, store.has_blob(&layer))
        .await
        .expect("has_blob did not end in time");
    assert_unsafe(has, "a FIFO");
}

#[tokio::test]
async fn a_directory_as_a_blob_is_refused() {
    let (tmp, digest) = layout_with_image().await;
    let blob = tmp.path().join("blobs/sha256").join(digest.hex());
    std::fs::remove_file(&blob).unwrap();
    std::fs::create_dir(&blob).unwrap();
    assert_unsafe(get_v1(tmp.path()).await, "a directory");
}

#[tokio::test]
async fn a_symlink_out_of_the_layout_is_refused() {
    let (tmp, _) = layout_with_image().await;
    let outside = tempfile::tempdir().unwrap();
    // A perfectly valid index.json, but outside the layout.
    let copy = outside.path().join("index.json");
    std::fs::copy(tmp.path().join("index.json"), &copy).unwrap();
    std::fs::remove_file(tmp.path().join("index.json")).unwrap();
    std::os::unix::fs::symlink(&copy, tmp.path().join("index.json")).unwrap();
    assert_unsafe(get_v1(tmp.path()).await, "outside the layout");
}

#[tokio::test]
async fn a_blob_directory_linked_out_of_the_layout_is_refused() {
    let (tmp, _) = layout_with_image().await;
    let outside = tempfile::tempdir().unwrap();
    let blobs = tmp.path().join("blobs/sha256");
    let moved = outside.path().join("sha256");
    std::fs::rename(&blobs, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &blobs).unwrap();
    assert_unsafe(get_v1(tmp.path()).await, "outside the layout");
}

#[tokio::test]
async fn symlinks_that_stay_inside_the_layout_still_work() {
    let (tmp, digest) = layout_with_image().await;
    std::fs::rename(
        tmp.path().join("index.json"),
        tmp.path().join("index.real.json"),
    )
    .unwrap();
    std::os::unix::fs::symlink("index.real.json", tmp.path().join("index.json")).unwrap();
    // The layout itself reached through a symlink.
    let elsewhere = tempfile::tempdir().unwrap();
    let link = elsewhere.path().join("layout");
    std::os::unix::fs::symlink(tmp.path(), &link).unwrap();
    let fetched = get_v1(&link).await.unwrap();
    assert_eq!(fetched.digest, digest);
}
