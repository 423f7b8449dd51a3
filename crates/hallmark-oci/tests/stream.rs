//! Streaming blobs: readers checked against their descriptor, chunked registry uploads, layout
//! writes published only after verification, and `Store::copy_blob` between both kinds.

use crate::common::{FakeServer, Reply, options, shared_repo, shared_store};
use hallmark_core::Digest;
use hallmark_oci::{
    BlobCopy, BlobReader, Bytes, Descriptor, OciError, Store, layout::Layout, media_types,
};
use std::path::Path;

/// `len` deterministic pseudo-random bytes (xorshift64*), different for each `seed`.
fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn descriptor_of(bytes: &[u8]) -> Descriptor {
    Descriptor {
        media_type: media_types::OCI_LAYER_TAR.to_owned(),
        digest: Digest::sha256_of(bytes),
        size: bytes.len() as u64,
        annotations: None,
        platform: None,
        artifact_type: None,
    }
}

/// A reader handing out `bytes` in `chunk`-sized pieces, checked against `descriptor`.
fn reader(descriptor: &Descriptor, bytes: Vec<u8>, chunk: usize) -> BlobReader {
    let chunks: Vec<Result<Bytes, std::io::Error>> = bytes
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    BlobReader::from_stream(descriptor, "test stream", futures::stream::iter(chunks))
}

async fn drain(mut blob: BlobReader) -> Result<Vec<u8>, OciError> {
    let mut out = Vec::new();
    while let Some(chunk) = blob.next_chunk().await? {
        assert!(!chunk.is_empty(), "expected no empty chunks");
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Files in `dir/blobs/sha256`, sorted (temporary files included).
fn blob_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("blobs").join("sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn reader_checks_size_and_digest() {
    let bytes = pseudo_random(1, 10_000);
    let d = descriptor_of(&bytes);
    assert_eq!(drain(reader(&d, bytes.clone(), 777)).await.unwrap(), bytes);

    // Other bytes of the same size: refused at the end, naming both digests.
    let mut other = bytes.clone();
    other[9_999] ^= 1;
    match drain(reader(&d, other.clone(), 4096)).await {
        Err(OciError::DigestMismatch { source, .. }) => {
            let text = source.to_string();
            assert!(text.contains(d.digest.hex()), "{text}");
            assert!(text.contains(Digest::sha256_of(&other).hex()), "{text}");
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }

    // More than the descriptor's size: refused as soon as it shows.
    let mut longer = bytes.clone();
    longer.push(0);
    match drain(reader(&d, longer, 4096)).await {
        Err(OciError::TooLarge { limit, .. }) => assert_eq!(limit, 10_000),
        other => panic!("expected TooLarge, got {other:?}"),
    }

    // Fewer: refused at the end, with both sizes.
    match drain(reader(&d, bytes[..9_000].to_vec(), 4096)).await {
        Err(OciError::SizeMismatch {
            expected, found, ..
        }) => assert_eq!((expected, found), (10_000, 9_000)),
        other => panic!("expected SizeMismatch, got {other:?}"),
    }

    // After an error, the reader only answers errors.
    let mut blob = reader(&d, other, 100_000);
    assert!(blob.next_chunk().await.unwrap().is_some());
    assert!(blob.next_chunk().await.is_err());
    assert!(blob.next_chunk().await.is_err());
}

#[tokio::test]
async fn layout_publishes_a_streamed_blob_only_when_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::create(tmp.path()).unwrap();
    let store = Store::Layout(layout.clone());
    let bytes = pseudo_random(2, 3 << 20);
    let d = descriptor_of(&bytes);

    let mut bad = bytes.clone();
    bad[123] ^= 0x40;
    let err = store
        .put_blob_stream(&mut reader(&d, bad, 64 << 10))
        .await
        .unwrap_err();
    assert!(matches!(err, OciError::DigestMismatch { .. }), "{err}");
    assert!(
        blob_files(tmp.path()).is_empty(),
        "expected no blob and no temporary file after a mismatch, found {:?}",
        blob_files(tmp.path())
    );
    assert!(!store.has_blob(&d).await.unwrap());

    store
        .put_blob_stream(&mut reader(&d, bytes.clone(), 64 << 10))
        .await
        .unwrap();
    assert_eq!(blob_files(tmp.path()), vec![d.digest.hex().to_owned()]);
    assert!(store.has_blob(&d).await.unwrap());
    assert_eq!(
        drain(store.open_blob(&d).await.unwrap()).await.unwrap(),
        bytes
    );

    // A descriptor with another size is refused before reading.
    let wrong_size = Descriptor {
        size: d.size + 1,
        ..d.clone()
    };
    assert!(matches!(
        store.open_blob(&wrong_size).await,
        Err(OciError::SizeMismatch { .. })
    ));
    let wrong_size = Descriptor {
        size: d.size - 1,
        ..d.clone()
    };
    assert!(matches!(
        store.open_blob(&wrong_size).await,
        Err(OciError::TooLarge { .. })
    ));
}

#[tokio::test]
async fn registry_chunked_upload_round_trips_and_copies() {
    // 8 MiB upload chunks: two PATCHes, and the rest with the PUT.
    let bytes = pseudo_random(3, (17 << 20) + 12_345);
    let d = descriptor_of(&bytes);
    let src = shared_store("stream-src");
    src.put_blob_stream(&mut reader(&d, bytes.clone(), 100_000))
        .await
        .unwrap();
    assert!(src.has_blob(&d).await.unwrap());
    assert_eq!(
        drain(src.open_blob(&d).await.unwrap()).await.unwrap(),
        bytes
    );

    // registry -> layout -> registry (another repository: mounted), and present after.
    let tmp = tempfile::tempdir().unwrap();
    let layout = Store::Layout(Layout::create(tmp.path()).unwrap());
    assert_eq!(layout.copy_blob(&src, &d).await.unwrap(), BlobCopy::Copied);
    assert_eq!(
        layout.copy_blob(&src, &d).await.unwrap(),
        BlobCopy::AlreadyPresent
    );
    let back = shared_store("stream-back");
    assert_eq!(back.copy_blob(&layout, &d).await.unwrap(), BlobCopy::Copied);
    assert_eq!(
        drain(back.open_blob(&d).await.unwrap()).await.unwrap(),
        bytes
    );
    let mounted = shared_store("stream-mount");
    assert_eq!(
        mounted.copy_blob(&src, &d).await.unwrap(),
        BlobCopy::Mounted
    );
    assert!(mounted.has_blob(&d).await.unwrap());

    // Between two registries the bytes are streamed.
    let other = hallmark_testutil::registry::start_new();
    let far = Store::Registry(
        crate::common::client().repository(&crate::common::reference(other.addr(), "stream/far")),
    );
    assert_eq!(far.copy_blob(&src, &d).await.unwrap(), BlobCopy::Copied);
    assert_eq!(
        drain(far.open_blob(&d).await.unwrap()).await.unwrap(),
        bytes
    );
}

#[tokio::test]
async fn registry_upload_of_other_bytes_publishes_nothing() {
    let bytes = pseudo_random(4, (9 << 20) + 1);
    let d = descriptor_of(&bytes);
    let mut bad = bytes.clone();
    bad[(9 << 20) - 5] ^= 1;
    let repo = shared_repo("stream-bad");
    let store = Store::Registry(repo.clone());
    let err = store
        .put_blob_stream(&mut reader(&d, bad.clone(), 1 << 20))
        .await
        .unwrap_err();
    assert!(matches!(err, OciError::DigestMismatch { .. }), "{err}");
    assert!(!repo.has_blob(&d.digest).await.unwrap());
    assert!(!repo.has_blob(&Digest::sha256_of(&bad)).await.unwrap());
}

#[tokio::test]
async fn failed_upload_deletes_its_session_and_never_puts() {
    let server = FakeServer::start(|req, _| match req.method.as_str() {
        "POST" => Reply::new(202)
            .header("Location", "/v2/demo/app/blobs/uploads/s1?_state=a")
            .header("Range", "0-0"),
        "PATCH" => Reply::new(202)
            .header("Location", "/v2/demo/app/blobs/uploads/s1?_state=b")
            .header("Range", &format!("0-{}", (8 << 20) - 1)),
        "DELETE" => Reply::new(204),
        _ => Reply::new(500),
    });
    let store = Store::Registry(server.repo(options(), "demo/app"));
    let bytes = pseudo_random(5, (8 << 20) + 100);
    let d = descriptor_of(&bytes);
    let mut bad = bytes.clone();
    bad[(8 << 20) + 50] ^= 1;
    let err = store
        .put_blob_stream(&mut reader(&d, bad, 1 << 20))
        .await
        .unwrap_err();
    assert!(matches!(err, OciError::DigestMismatch { .. }), "{err}");
    let seen: Vec<(String, String)> = server
        .requests()
        .iter()
        .map(|r| (r.method.clone(), r.target.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("POST".into(), "/v2/demo/app/blobs/uploads/".into()),
            (
                "PATCH".into(),
                "/v2/demo/app/blobs/uploads/s1?_state=a".into()
            ),
            (
                "DELETE".into(),
                "/v2/demo/app/blobs/uploads/s1?_state=b".into()
            ),
        ],
        "expected one PATCH of 8 MiB, no PUT, and the session deleted"
    );
    let patch = &server.requests()[1];
    assert_eq!(patch.header("content-range"), Some("0-8388607"));
    assert_eq!(patch.header("content-length"), Some("8388608"));
}

#[tokio::test]
async fn registry_blob_of_another_length_is_refused_before_reading() {
    let server = FakeServer::start(|_, _| Reply::new(200).body(vec![7u8; 100]));
    let store = Store::Registry(server.repo(options(), "demo/app"));
    let d = descriptor_of(&[7u8; 50]);
    match store.open_blob(&d).await {
        Err(OciError::TooLarge { limit, .. }) => assert_eq!(limit, 50),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let d = descriptor_of(&[7u8; 150]);
    match store.open_blob(&d).await {
        Err(OciError::SizeMismatch {
            expected, found, ..
        }) => assert_eq!((expected, found), (150, 100)),
        other => panic!("expected SizeMismatch, got {other:?}"),
    }
    // The right length with other bytes: refused at the end.
    let d = descriptor_of(&[8u8; 100]);
    let blob = store.open_blob(&d).await.unwrap();
    assert!(matches!(
        drain(blob).await,
        Err(OciError::DigestMismatch { .. })
    ));
}
