//! OCI image layout directories (image-spec v1.1 `image-layout.md`): `oci-layout`,
//! `index.json`, `blobs/<alg>/<hex>`. Tags are `org.opencontainers.image.ref.name`
//! annotations in `index.json`. Blobs are written to a temporary file and renamed, and
//! `index.json` is replaced atomically, so a crash never leaves a half-written layout.

use crate::{
    blob::{BlobReader, TempFile},
    error::OciError,
    manifest::{Descriptor, Manifest, manifest_media_type, media_types},
    registry::filter_artifact_type,
    store::FetchedManifest,
};
use hallmark_core::Digest;
use serde_json::{Map, Value};
use std::{
    collections::HashMap,
    io::Write as _,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, OnceLock, Weak,
        atomic::{AtomicU64, Ordering},
    },
};

/// The annotation that names a tag in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The file that marks a layout.
const LAYOUT_FILE: &str = "oci-layout";
/// The index of a layout.
const INDEX_FILE: &str = "index.json";
/// The only layout version there is.
const LAYOUT_VERSION: &str = "1.0.0";
/// Largest manifest read from a layout (as [`crate::Limits`] defaults to for registries).
const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Largest `index.json` read.
const MAX_INDEX_BYTES: u64 = 64 << 20;
/// Largest `oci-layout` file read (it holds one short JSON object).
const MAX_LAYOUT_FILE_BYTES: u64 = 4 << 10;

/// An OCI image layout directory. Cheap to clone; index updates within one process are
/// serialised.
#[derive(Clone, Debug)]
pub struct Layout {
    path: PathBuf,
    /// `path` with every symlink resolved: no file is read from outside it.
    root: PathBuf,
    /// Shared by every `Layout` of the same directory in this process.
    shared: Arc<Shared>,
}

/// Per-directory state shared by every handle on it in this process: the lock that serialises
/// `index.json` updates, and the last parsed `index.json` with lookup tables, reused while the
/// file is unchanged (same inode, size and mtime; every update replaces the file by rename).
#[derive(Debug, Default)]
struct Shared {
    lock: tokio::sync::Mutex<()>,
    /// Held while `index.json` is read and parsed, so concurrent readers parse it once.
    load: tokio::sync::Mutex<()>,
    /// `index.json` updates waiting to be written. Whoever holds `lock` next writes all of them
    /// in one replace (group commit), so many concurrent writers cost one fsync, not one each.
    pending: Mutex<Vec<PendingEntry>>,
    cache: Mutex<Option<(FileStamp, Arc<Snapshot>)>>,
}

/// One `index.json` update waiting for the next write.
#[derive(Debug)]
struct PendingEntry {
    entry: Map<String, Value>,
    tag: Option<String>,
    digest: String,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// Identity of one version of `index.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

impl FileStamp {
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt as _;
        let m = std::fs::metadata(path).ok()?;
        Some(Self {
            ino: m.ino(),
            len: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        })
    }
}

/// The parsed entries of one version of `index.json`.
#[derive(Debug, Default)]
struct Snapshot {
    entries: Vec<Descriptor>,
    by_tag: HashMap<String, usize>,
    by_digest: HashMap<Digest, usize>,
    /// Subject digest → the manifests of `entries` that name it, built on the first referrers
    /// lookup of this `index.json` version (each manifest read once, not once per lookup).
    referrers: tokio::sync::OnceCell<HashMap<Digest, Vec<Descriptor>>>,
}

impl Snapshot {
    fn new(entries: Vec<Descriptor>) -> Self {
        let mut by_tag = HashMap::with_capacity(entries.len());
        let mut by_digest = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            if let Some(tag) = e.annotations.as_ref().and_then(|a| a.get(REF_NAME)) {
                // The first entry with a name wins, as a linear search would find it.
                by_tag.entry(tag.clone()).or_insert(i);
            }
            by_digest.entry(e.digest.clone()).or_insert(i);
        }
        Self {
            entries,
            by_tag,
            by_digest,
            referrers: tokio::sync::OnceCell::new(),
        }
    }
    fn tag(&self, tag: &str) -> Option<&Descriptor> {
        self.by_tag.get(tag).map(|&i| &self.entries[i])
    }
    fn digest(&self, digest: &Digest) -> Option<&Descriptor> {
        self.by_digest.get(digest).map(|&i| &self.entries[i])
    }
}

/// The shared state of a directory.
fn index_lock_for(path: &Path) -> Arc<Shared> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Weak<Shared>>>> = OnceLock::new();
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut locks = LOCKS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(lock) = locks.get(&key).and_then(Weak::upgrade) {
        return lock;
    }
    locks.retain(|_, weak| weak.strong_count() > 0);
    let lock = Arc::new(Shared::default());
    locks.insert(key, Arc::downgrade(&lock));
    lock
}

fn io_err(path: &Path, source: std::io::Error) -> OciError {
    OciError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A temporary file name for `dir/name` no other writer in this process or another uses.
fn temp_path(dir: &Path, name: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Write `bytes` to `dir/name` through a temporary file in `dir` and a rename.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), OciError> {
    let tmp = temp_path(dir, name);
    let target = dir.join(name);
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io_err(&tmp, e))?;
        file.write_all(bytes).map_err(|e| io_err(&tmp, e))?;
        file.sync_all().map_err(|e| io_err(&tmp, e))?;
        drop(file);
        std::fs::rename(&tmp, &target).map_err(|e| io_err(&target, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

async fn blocking<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> Result<T, OciError> + Send + 'static,
) -> Result<T, OciError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io_err(path, std::io::Error::other(e.to_string())))?
}

fn ref_name(entry: &Value) -> Option<&str> {
    entry.get("annotations")?.get(REF_NAME)?.as_str()
}

fn entry_digest(entry: &Value) -> Option<&str> {
    entry.get("digest")?.as_str()
}

impl Layout {
    /// Open an existing layout (its `oci-layout` file must say version 1.0.0).
    pub fn open(path: &Path) -> Result<Self, OciError> {
        let marker = path.join(LAYOUT_FILE);
        let root = std::fs::canonicalize(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                OciError::NotFound {
                    what: "OCI image layout (no such directory)".into(),
                    location: path.display().to_string(),
                }
            } else {
                io_err(path, e)
            }
        })?;
        let bytes = match read_file_bounded(&root, &marker, MAX_LAYOUT_FILE_BYTES)? {
            Read::Bytes(bytes) => bytes,
            Read::NotFound => {
                return Err(OciError::NotFound {
                    what: "OCI image layout (no oci-layout file)".into(),
                    location: path.display().to_string(),
                });
            }
            Read::TooLarge => {
                return Err(OciError::TooLarge {
                    what: LAYOUT_FILE.into(),
                    location: path.display().to_string(),
                    limit: MAX_LAYOUT_FILE_BYTES,
                });
            }
        };
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct LayoutFile {
            image_layout_version: String,
        }
        let parsed: LayoutFile =
            serde_json::from_slice(&bytes).map_err(|e| OciError::Malformed {
                what: LAYOUT_FILE.into(),
                location: path.display().to_string(),
                reason: format!("expected {{\"imageLayoutVersion\":\"1.0.0\"}}: {e}"),
            })?;
        if parsed.image_layout_version != LAYOUT_VERSION {
            return Err(OciError::Malformed {
                what: LAYOUT_FILE.into(),
                location: path.display().to_string(),
                reason: format!(
                    "expected imageLayoutVersion {LAYOUT_VERSION}, found {:?}",
                    parsed.image_layout_version
                ),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            root,
            shared: index_lock_for(path),
        })
    }

    /// Open, or initialise an empty layout at `path` (creating the directory).
    pub fn create(path: &Path) -> Result<Self, OciError> {
        let blobs = path.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs).map_err(|e| io_err(&blobs, e))?;
        if !path.join(LAYOUT_FILE).exists() {
            write_atomic(path, LAYOUT_FILE, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        if !path.join(INDEX_FILE).exists() {
            let empty = format!(
                r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[]}}"#,
                media_types::OCI_INDEX
            );
            write_atomic(path, INDEX_FILE, empty.as_bytes())?;
        }
        Self::open(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `oci:DIR`, for messages.
    pub fn location(&self) -> String {
        format!("oci:{}", self.path.display())
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.path
            .join("blobs")
            .join(digest.algorithm_name())
            .join(digest.hex())
    }

    /// `index.json` as JSON (tolerating fields and entries of other tools).
    async fn read_index(&self) -> Result<Map<String, Value>, OciError> {
        let path = self.path.join(INDEX_FILE);
        let bytes = read_bounded(
            &self.root,
            &path,
            MAX_INDEX_BYTES,
            || self.not_found(INDEX_FILE),
            || self.too_large(INDEX_FILE, MAX_INDEX_BYTES),
        )
        .await?;
        parse_index(&bytes, &self.location())
    }

    /// The cached snapshot, if it is of the `index.json` version `stamp`.
    fn cached(&self, stamp: Option<FileStamp>) -> Option<Arc<Snapshot>> {
        let stamp = stamp?;
        let cache = self
            .shared
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .as_ref()
            .filter(|(cached, _)| *cached == stamp)
            .map(|(_, snapshot)| snapshot.clone())
    }

    /// The parsed `index.json`, from the cache while the file is unchanged.
    async fn snapshot(&self) -> Result<Arc<Snapshot>, OciError> {
        let path = self.path.join(INDEX_FILE);
        let stamp = FileStamp::of(&path);
        if let Some(snapshot) = self.cached(stamp) {
            return Ok(snapshot);
        }
        // Single flight: wait for a concurrent load, then use its result if it is current.
        let _loading = self.shared.load.lock().await;
        let stamp = FileStamp::of(&path);
        if let Some(snapshot) = self.cached(stamp) {
            return Ok(snapshot);
        }
        let index = self.read_index().await?;
        let entries = index
            .get("manifests")
            .and_then(Value::as_array)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| serde_json::from_value::<Descriptor>(e.clone()).ok())
                    .collect()
            })
            .unwrap_or_default();
        let snapshot = Arc::new(Snapshot::new(entries));
        // Cache only when the file did not change while it was read.
        if let Some(stamp) = stamp
            && FileStamp::of(&path) == Some(stamp)
        {
            *self
                .shared
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some((stamp, snapshot.clone()));
        }
        Ok(snapshot)
    }

    fn not_found(&self, what: &str) -> OciError {
        OciError::NotFound {
            what: what.to_owned(),
            location: self.location(),
        }
    }

    fn too_large(&self, what: &str, limit: u64) -> OciError {
        OciError::TooLarge {
            what: what.to_owned(),
            location: self.location(),
            limit,
        }
    }

    fn parse_reference(&self, reference: &str) -> Result<Option<Digest>, OciError> {
        crate::store::parse_reference(reference, || self.location())
    }

    /// Read and verify a blob.
    async fn read_blob(
        &self,
        digest: &Digest,
        max_bytes: u64,
        what: &str,
    ) -> Result<Vec<u8>, OciError> {
        let bytes = read_bounded(
            &self.root,
            &self.blob_path(digest),
            max_bytes,
            || self.not_found(what),
            || self.too_large(what, max_bytes),
        )
        .await?;
        digest
            .verify(&bytes)
            .map_err(|source| OciError::DigestMismatch {
                what: what.to_owned(),
                location: self.location(),
                source,
            })?;
        Ok(bytes)
    }

    /// Get a manifest by tag or digest; verified.
    pub async fn get_manifest(&self, reference: &str) -> Result<FetchedManifest, OciError> {
        let what = format!("manifest {reference}");
        let requested = self.parse_reference(reference)?;
        let snapshot = self.snapshot().await?;
        let entry = match &requested {
            Some(digest) => snapshot.digest(digest).cloned(),
            None => Some(
                snapshot
                    .tag(reference)
                    .cloned()
                    .ok_or_else(|| self.not_found(&format!("tag {reference}")))?,
            ),
        };
        let digest = match (&entry, requested) {
            (Some(entry), _) => entry.digest.clone(),
            (None, Some(digest)) => digest,
            (None, None) => return Err(self.not_found(&what)),
        };
        let bytes = self.read_blob(&digest, MAX_MANIFEST_BYTES, &what).await?;
        let media_type = match entry {
            Some(entry) => entry.media_type,
            None => manifest_media_type(&bytes, None).ok_or_else(|| OciError::Malformed {
                what: what.clone(),
                location: self.location(),
                reason: "expected a manifest (JSON with mediaType, config or manifests)".into(),
            })?,
        };
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// Descriptor of a tag or digest, `None` if absent.
    pub async fn head_manifest(&self, reference: &str) -> Result<Option<Descriptor>, OciError> {
        let requested = self.parse_reference(reference)?;
        let snapshot = self.snapshot().await?;
        match requested {
            None => Ok(snapshot.tag(reference).cloned()),
            Some(digest) => {
                if let Some(entry) = snapshot.digest(&digest) {
                    return Ok(Some(entry.clone()));
                }
                match self.get_manifest(reference).await {
                    Ok(fetched) => Ok(Some(fetched.descriptor())),
                    Err(OciError::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Read a blob, at most `max_bytes`, verified.
    pub async fn get_blob(&self, digest: &Digest, max_bytes: u64) -> Result<Vec<u8>, OciError> {
        self.read_blob(digest, max_bytes, &format!("blob {digest}"))
            .await
    }

    /// Write a blob (no-op if present).
    pub async fn put_blob(&self, bytes: &[u8]) -> Result<Digest, OciError> {
        let digest = Digest::sha256_of(bytes);
        let path = self.blob_path(&digest);
        if let Ok(meta) = tokio::fs::metadata(&path).await
            && meta.is_file()
            && meta.len() == bytes.len() as u64
        {
            return Ok(digest);
        }
        let dir = self.path.join("blobs").join(digest.algorithm_name());
        let name = digest.hex().to_owned();
        let bytes = bytes.to_vec();
        blocking(&dir.clone(), move || {
            std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
            write_atomic(&dir, &name, &bytes)
        })
        .await?;
        Ok(digest)
    }

    /// Open a blob for a streaming read, checked against `descriptor` while it is read (see
    /// [`BlobReader`]). A file of another size than the descriptor's is refused before any
    /// byte is read.
    pub async fn open_blob(&self, descriptor: &Descriptor) -> Result<BlobReader, OciError> {
        let what = format!("blob {}", descriptor.digest);
        let path = self.blob_path(&descriptor.digest);
        let (root, opened) = (self.root.clone(), path.clone());
        let file = blocking(&path, move || open_in_layout(&root, &opened)).await?;
        let Some((file, len)) = file else {
            return Err(self.not_found(&what));
        };
        let file = tokio::fs::File::from_std(file);
        if len > descriptor.size {
            return Err(self.too_large(&format!("{what} (the descriptor's size)"), descriptor.size));
        }
        if len < descriptor.size {
            return Err(OciError::SizeMismatch {
                what,
                location: self.location(),
                expected: descriptor.size,
                found: len,
            });
        }
        Ok(BlobReader::file(file, path, descriptor, self.location()))
    }

    /// True if the blob's file exists with the descriptor's size.
    pub async fn has_blob(&self, descriptor: &Descriptor) -> Result<bool, OciError> {
        let path = self.blob_path(&descriptor.digest);
        let (root, opened) = (self.root.clone(), path.clone());
        let file = blocking(&path, move || open_in_layout(&root, &opened)).await?;
        Ok(file.is_some_and(|(_, len)| len == descriptor.size))
    }

    /// Write a blob from a stream, checked against its descriptor as it arrives; the file
    /// appears under `blobs/` only once every byte has been verified.
    pub async fn put_blob_stream(&self, blob: &mut BlobReader) -> Result<(), OciError> {
        use tokio::io::AsyncWriteExt as _;
        let digest = blob.digest().clone();
        let dir = self.path.join("blobs").join(digest.algorithm_name());
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io_err(&dir, e))?;
        let target = dir.join(digest.hex());
        let tmp = TempFile::new(temp_path(&dir, digest.hex()));
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp.path())
            .await
            .map_err(|e| io_err(tmp.path(), e))?;
        while let Some(chunk) = blob.next_chunk().await? {
            file.write_all(&chunk)
                .await
                .map_err(|e| io_err(tmp.path(), e))?;
        }
        file.flush().await.map_err(|e| io_err(tmp.path(), e))?;
        file.sync_all().await.map_err(|e| io_err(tmp.path(), e))?;
        drop(file);
        tokio::fs::rename(tmp.path(), &target)
            .await
            .map_err(|e| io_err(&target, e))?;
        tmp.keep();
        Ok(())
    }

    /// Write a manifest blob and record it in `index.json` (with a tag, replacing any entry
    /// with the same tag; untagged entries are added once).
    pub async fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<Digest, OciError> {
        let digest = self.put_blob(bytes).await?;
        let mut entry = Map::new();
        entry.insert("mediaType".into(), Value::from(media_type));
        entry.insert("digest".into(), Value::from(digest.to_string()));
        entry.insert("size".into(), Value::from(bytes.len() as u64));
        if let Some(tag) = tag {
            let mut annotations = Map::new();
            annotations.insert(REF_NAME.into(), Value::from(tag));
            entry.insert("annotations".into(), Value::Object(annotations));
        }
        let (done, written) = tokio::sync::oneshot::channel();
        self.shared
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(PendingEntry {
                entry,
                tag: tag.map(str::to_owned),
                digest: digest.to_string(),
                done,
            });
        {
            let _guard = self.shared.lock.lock().await;
            let batch = std::mem::take(
                &mut *self
                    .shared
                    .pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            // Empty when an earlier holder of the lock already wrote this update.
            if !batch.is_empty() {
                let result = self
                    .write_index_updates(&batch)
                    .await
                    .map_err(|e| hallmark_core::error::chain(&e));
                for p in batch {
                    let _ = p.done.send(result.clone());
                }
            }
        }
        match written.await {
            Ok(Ok(())) => Ok(digest),
            Ok(Err(reason)) => Err(OciError::Io {
                path: self.path.join(INDEX_FILE).display().to_string(),
                source: std::io::Error::other(reason),
            }),
            Err(_) => Err(OciError::Io {
                path: self.path.join(INDEX_FILE).display().to_string(),
                source: std::io::Error::other("index.json update abandoned"),
            }),
        }
    }

    /// Apply `batch` to `index.json` in order and replace the file once. Called with the
    /// index lock held.
    async fn write_index_updates(&self, batch: &[PendingEntry]) -> Result<(), OciError> {
        let mut index = self.read_index().await?;
        if !matches!(index.get("manifests"), Some(Value::Array(_))) {
            index.insert("manifests".into(), Value::Array(Vec::new()));
        }
        let Some(Value::Array(manifests)) = index.get_mut("manifests") else {
            return Err(OciError::Malformed {
                what: INDEX_FILE.into(),
                location: self.location(),
                reason: "expected `manifests` to be an array".into(),
            });
        };
        for PendingEntry {
            entry, tag, digest, ..
        } in batch
        {
            match tag {
                // A tag names one manifest: replace the first entry with it, drop the others.
                Some(tag) => {
                    let mut placed = false;
                    let mut kept = Vec::with_capacity(manifests.len() + 1);
                    for existing in manifests.drain(..) {
                        if ref_name(&existing) == Some(tag.as_str()) {
                            if !placed {
                                kept.push(Value::Object(entry.clone()));
                                placed = true;
                            }
                        } else {
                            kept.push(existing);
                        }
                    }
                    if !placed {
                        kept.push(Value::Object(entry.clone()));
                    }
                    *manifests = kept;
                }
                None => {
                    if !manifests
                        .iter()
                        .any(|e| entry_digest(e) == Some(digest.as_str()))
                    {
                        manifests.push(Value::Object(entry.clone()));
                    }
                }
            }
        }
        index.insert("schemaVersion".into(), Value::from(2));
        index
            .entry("mediaType")
            .or_insert_with(|| Value::from(media_types::OCI_INDEX));
        let out = serde_json::to_vec(&Value::Object(index)).map_err(|e| OciError::Malformed {
            what: INDEX_FILE.into(),
            location: self.location(),
            reason: e.to_string(),
        })?;
        let dir = self.path.clone();
        blocking(&self.path, move || write_atomic(&dir, INDEX_FILE, &out)).await
    }

    /// Manifests in `index.json` whose `subject` is `subject`.
    pub async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, OciError> {
        let snapshot = self.snapshot().await?;
        let by_subject = snapshot
            .referrers
            .get_or_try_init(|| self.subjects(&snapshot.entries))
            .await?;
        let found = by_subject.get(subject).cloned().unwrap_or_default();
        Ok(filter_artifact_type(found, artifact_type))
    }

    /// Every manifest of `entries` that has a subject, by subject.
    async fn subjects(
        &self,
        entries: &[Descriptor],
    ) -> Result<HashMap<Digest, Vec<Descriptor>>, OciError> {
        let mut seen = std::collections::HashSet::new();
        let mut out: HashMap<Digest, Vec<Descriptor>> = HashMap::new();
        for entry in entries {
            if !seen.insert(entry.digest.clone()) {
                continue;
            }
            let what = format!("manifest {}", entry.digest);
            let bytes = match self
                .read_blob(&entry.digest, MAX_MANIFEST_BYTES, &what)
                .await
            {
                Ok(bytes) => bytes,
                // Entries whose blob is missing are another tool's business.
                Err(OciError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            let Ok(manifest) = Manifest::parse(&bytes, Some(&entry.media_type)) else {
                continue;
            };
            let Some(subject) = manifest.subject() else {
                continue;
            };
            out.entry(subject.digest.clone())
                .or_default()
                .push(Descriptor {
                    media_type: entry.media_type.clone(),
                    digest: entry.digest.clone(),
                    size: bytes.len() as u64,
                    annotations: manifest.annotations().cloned(),
                    platform: None,
                    artifact_type: manifest.effective_artifact_type().map(str::to_owned),
                });
        }
        Ok(out)
    }

    /// Tags in `index.json`.
    pub async fn list_tags(&self) -> Result<Vec<String>, OciError> {
        let index = self.read_index().await?;
        let mut tags: Vec<String> = Vec::new();
        for entry in index
            .get("manifests")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(tag) = ref_name(entry)
                && !tags.iter().any(|t| t == tag)
            {
                tags.push(tag.to_owned());
            }
        }
        Ok(tags)
    }
}

/// Parse `index.json`: a JSON object (other fields kept as they are).
fn parse_index(bytes: &[u8], location: &str) -> Result<Map<String, Value>, OciError> {
    let malformed = |reason: String| OciError::Malformed {
        what: INDEX_FILE.into(),
        location: location.to_owned(),
        reason,
    };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(index)) => match index.get("manifests") {
            None | Some(Value::Array(_)) | Some(Value::Null) => Ok(index),
            Some(other) => Err(malformed(format!(
                "expected `manifests` to be an array, found {}",
                json_kind(other)
            ))),
        },
        Ok(other) => Err(malformed(format!(
            "expected a JSON object, found {}",
            json_kind(&other)
        ))),
        Err(e) => Err(malformed(format!("expected JSON: {e}"))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What reading a layout file found.
enum Read {
    Bytes(Vec<u8>),
    NotFound,
    TooLarge,
}

/// Read a file of the layout at `root`, at most `limit` bytes (see [`open_in_layout`]).
async fn read_bounded(
    root: &Path,
    path: &Path,
    limit: u64,
    not_found: impl FnOnce() -> OciError,
    too_large: impl Fn() -> OciError,
) -> Result<Vec<u8>, OciError> {
    // One trip to the blocking pool per file: open, checks and bounded read together.
    let (root, owned) = (root.to_path_buf(), path.to_path_buf());
    match blocking(path, move || read_file_bounded(&root, &owned, limit)).await? {
        Read::Bytes(bytes) => Ok(bytes),
        Read::NotFound => Err(not_found()),
        Read::TooLarge => Err(too_large()),
    }
}

/// [`read_bounded`], blocking.
fn read_file_bounded(root: &Path, path: &Path, limit: u64) -> Result<Read, OciError> {
    use std::io::Read as _;
    let Some((file, len)) = open_in_layout(root, path)? else {
        return Ok(Read::NotFound);
    };
    if len > limit {
        return Ok(Read::TooLarge);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_err(path, e))?;
    if bytes.len() as u64 > limit {
        return Ok(Read::TooLarge);
    }
    Ok(Read::Bytes(bytes))
}

/// Open a file of the layout whose resolved directory is `root`, for reading: `None` when
/// it does not exist. Only a regular file whose real path (every symlink resolved) lies
/// inside `root` is opened; a FIFO, socket, device or directory, or a symlink leading out of
/// the layout, is refused without blocking (a FIFO is opened non-blocking, then refused by
/// its type), as a layout may come from an untrusted tarball. Returns the file and its size.
fn open_in_layout(root: &Path, path: &Path) -> Result<Option<(std::fs::File, u64)>, OciError> {
    use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
    let real = match std::fs::canonicalize(path) {
        Ok(real) => real,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path, e)),
    };
    if !real.starts_with(root) {
        return Err(OciError::UnsafeFile {
            path: path.display().to_string(),
            location: format!("oci:{}", root.display()),
            found: format!("a symlink to {}, outside the layout", real.display()),
        });
    }
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(&real)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path, e)),
    };
    let meta = file.metadata().map_err(|e| io_err(path, e))?;
    let t = meta.file_type();
    if !t.is_file() {
        let found = if t.is_fifo() {
            "a FIFO"
        } else if t.is_dir() {
            "a directory"
        } else if t.is_socket() {
            "a socket"
        } else if t.is_block_device() || t.is_char_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(OciError::UnsafeFile {
            path: path.display().to_string(),
            location: format!("oci:{}", root.display()),
            found: found.to_owned(),
        });
    }
    Ok(Some((file, meta.len())))
}
