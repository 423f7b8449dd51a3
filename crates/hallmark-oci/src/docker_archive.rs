//! docker-archive files: the tar `docker save` writes and `docker load -i FILE` reads.
//!
//! What is written is the shape `docker save` has had since Docker 25: an OCI image layout
//! (`oci-layout`, `index.json`, `blobs/<alg>/<hex>` for the config, every layer and the
//! manifest) plus docker's `manifest.json`:
//!
//! ```json
//! [{"Config":"blobs/sha256/<config hex>","RepoTags":["repo:tag"],"Layers":["blobs/sha256/<layer hex>"]}]
//! ```
//!
//! Older engines (Docker 20.10's `docker load`) read only `manifest.json` and follow its paths,
//! so they load this as well. Layers are stored as the registry has them (gzip or zstd
//! compressed, or plain tar): `docker load` decompresses each and checks it against the
//! config's `rootfs.diff_ids`, and the loaded image's ID is the digest of the config bytes,
//! which are written unchanged. Each blob is streamed from the store into the tar and checked
//! against its digest as it goes (constant memory); the archive is written to a temporary file
//! next to `path` and renamed over it only once complete, so a failure leaves nothing behind.

use crate::{
    blob::TempFile,
    error::OciError,
    manifest::{Descriptor, Manifest, Platform, media_types},
    store::{FetchedManifest, Store},
};
use hallmark_core::{Digest, RegistryRef};
use serde::Serialize;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

/// Largest image config read (it is held in memory to check `rootfs.diff_ids`).
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// The annotation containerd (and `docker save` since Docker 25) names an image with in
/// `index.json`.
const CONTAINERD_IMAGE_NAME: &str = "io.containerd.image.name";

/// Tar block size.
const BLOCK: usize = 512;

/// What [`write_docker_archive`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DockerArchiveReport {
    /// The archive written.
    pub path: PathBuf,
    /// The `repo:tag` `docker load` gives the image.
    pub repo_tag: String,
    /// The image manifest written (the platform's, when the image is an index).
    #[serde(serialize_with = "as_string")]
    pub manifest: Digest,
    /// The index the manifest was chosen from, if the image is an index.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_as_string"
    )]
    pub index: Option<Digest>,
    /// The config digest: the image ID `docker load` gives the image.
    #[serde(serialize_with = "as_string")]
    pub config: Digest,
    /// `os/architecture[/variant]` of the manifest, from the index or the config.
    pub platform: Option<String>,
    /// Layers in the archive.
    pub layers: usize,
    /// Size of the archive in bytes.
    pub bytes: u64,
}

fn as_string<S: serde::Serializer>(d: &Digest, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}

fn opt_as_string<S: serde::Serializer>(d: &Option<Digest>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.collect_str(d),
        None => s.serialize_none(),
    }
}

/// The platform docker would pull on this machine: `linux/<host architecture>` in Go's
/// names (`amd64`, `arm64`, ...).
pub fn host_platform() -> Platform {
    let architecture = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        other => other,
    };
    Platform {
        architecture: architecture.to_owned(),
        os: "linux".to_owned(),
        variant: None,
    }
}

/// Write the image `manifest` (read from `store`) to `path` as a docker-archive that
/// `docker load -i` loads as `repo_tag`. For an index, the manifest of `platform` is written
/// (default: [`host_platform`], else linux/amd64). Blobs are streamed and verified; the
/// archive appears at `path` only when complete. See the [module documentation](self).
pub async fn write_docker_archive(
    store: &Store,
    manifest: &FetchedManifest,
    repo_tag: &str,
    path: &Path,
    platform: Option<&Platform>,
) -> Result<DockerArchiveReport, OciError> {
    let name = check_repo_tag(repo_tag)?;
    let (image, index, chosen) = select_image(store, manifest, platform).await?;
    let parsed = match Manifest::parse(&image.bytes, Some(&image.media_type)) {
        Ok(Manifest::Image(im)) => im,
        Ok(Manifest::Index(_)) => {
            return Err(OciError::Malformed {
                what: format!("manifest {}", image.digest),
                location: store.location(),
                reason: "expected an image manifest under the index, found another index".into(),
            });
        }
        Err(e) => {
            return Err(OciError::Malformed {
                what: format!("manifest {}", image.digest),
                location: store.location(),
                reason: e.to_string(),
            });
        }
    };
    let config = read_config(store, &parsed.config, parsed.layers.len()).await?;
    let platform = chosen.or_else(|| config.platform.clone());

    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| OciError::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "expected a file path for the archive, found a directory or nothing",
            ),
        })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = TempFile::new(dir.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        next_temp()
    )));
    let io = |e: std::io::Error| OciError::Io {
        path: path.display().to_string(),
        source: e,
    };
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp.path())
        .await
        .map_err(|e| OciError::Io {
            path: tmp.path().display().to_string(),
            source: e,
        })?;
    let mut tar = TarWriter {
        out: tokio::io::BufWriter::with_capacity(1 << 20, file),
        written: 0,
    };

    let blob_path = |d: &Digest| format!("blobs/{}/{}", d.algorithm_name(), d.hex());
    tar.dir("blobs/").await.map_err(io)?;
    let mut algorithms: Vec<&str> = std::iter::once(&parsed.config.digest)
        .chain(parsed.layers.iter().map(|l| &l.digest))
        .chain(std::iter::once(&image.digest))
        .map(Digest::algorithm_name)
        .collect();
    algorithms.sort_unstable();
    algorithms.dedup();
    for alg in algorithms {
        tar.dir(&format!("blobs/{alg}/")).await.map_err(io)?;
    }
    tar.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
        .await
        .map_err(io)?;
    tar.file(&blob_path(&parsed.config.digest), &config.bytes)
        .await
        .map_err(io)?;
    let mut written = std::collections::HashSet::new();
    written.insert(parsed.config.digest.clone());
    for layer in &parsed.layers {
        if !written.insert(layer.digest.clone()) {
            continue;
        }
        tar.blob(store, layer, &blob_path(&layer.digest), path)
            .await?;
    }
    tar.file(&blob_path(&image.digest), &image.bytes)
        .await
        .map_err(io)?;
    let index_json = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_INDEX,
        "manifests": [{
            "mediaType": image.media_type,
            "digest": image.digest.to_string(),
            "size": image.bytes.len(),
            "annotations": {
                CONTAINERD_IMAGE_NAME: name.full,
                crate::layout::REF_NAME: name.tag,
            },
        }],
    });
    tar.file("index.json", index_json.to_string().as_bytes())
        .await
        .map_err(io)?;
    let manifest_json = serde_json::json!([{
        "Config": blob_path(&parsed.config.digest),
        "RepoTags": [repo_tag],
        "Layers": parsed.layers.iter().map(|l| blob_path(&l.digest)).collect::<Vec<_>>(),
    }]);
    tar.file("manifest.json", manifest_json.to_string().as_bytes())
        .await
        .map_err(io)?;
    tar.write(&[0u8; 2 * BLOCK]).await.map_err(io)?;
    let bytes = tar.written;
    let mut out = tar.out;
    out.flush().await.map_err(io)?;
    let file = out.into_inner();
    file.sync_all().await.map_err(io)?;
    drop(file);
    tokio::fs::rename(tmp.path(), path).await.map_err(io)?;
    tmp.keep();
    Ok(DockerArchiveReport {
        path: path.to_path_buf(),
        repo_tag: repo_tag.to_owned(),
        manifest: image.digest.clone(),
        index,
        config: parsed.config.digest.clone(),
        platform: platform.map(|p| platform_string(&p)),
        layers: parsed.layers.len(),
        bytes,
    })
}

fn next_temp() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn platform_string(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

/// The name `repo_tag` gives `index.json`: the full reference and the tag.
struct ArchiveName {
    full: String,
    tag: String,
}

/// `docker load` takes `REPOSITORY:TAG` (no digest).
fn check_repo_tag(repo_tag: &str) -> Result<ArchiveName, OciError> {
    let malformed = |reason: String| OciError::Malformed {
        what: "docker-archive tag".into(),
        location: repo_tag.to_owned(),
        reason,
    };
    let parsed = RegistryRef::parse(repo_tag)
        .map_err(|e| malformed(format!("expected REPOSITORY:TAG: {e}")))?;
    if parsed.digest.is_some() {
        return Err(malformed(
            "expected REPOSITORY:TAG, found a digest (docker load tags images, it does not pin them)"
                .into(),
        ));
    }
    let Some(tag) = parsed.tag.clone() else {
        return Err(malformed("expected REPOSITORY:TAG, found no tag".into()));
    };
    Ok(ArchiveName {
        full: format!("{}/{}:{tag}", parsed.registry, parsed.repository),
        tag,
    })
}

/// The image manifest to write: `manifest` itself, or the platform's child of an index
/// (with the index digest and the platform chosen).
async fn select_image(
    store: &Store,
    manifest: &FetchedManifest,
    platform: Option<&Platform>,
) -> Result<(FetchedManifest, Option<Digest>, Option<Platform>), OciError> {
    let index = match Manifest::parse(&manifest.bytes, Some(&manifest.media_type)) {
        Ok(Manifest::Image(_)) => return Ok((manifest.clone(), None, None)),
        Ok(Manifest::Index(index)) => index,
        Err(e) => {
            return Err(OciError::Malformed {
                what: format!("manifest {}", manifest.digest),
                location: store.location(),
                reason: e.to_string(),
            });
        }
    };
    let matches = |wanted: &Platform, d: &Descriptor| {
        d.platform.as_ref().is_some_and(|p| {
            p.os == wanted.os
                && p.architecture == wanted.architecture
                && (wanted.variant.is_none() || p.variant == wanted.variant)
        })
    };
    let wanted: Vec<Platform> = match platform {
        Some(p) => vec![p.clone()],
        None => {
            let host = host_platform();
            let amd64 = Platform {
                architecture: "amd64".into(),
                os: "linux".into(),
                variant: None,
            };
            if host == amd64 {
                vec![host]
            } else {
                vec![host, amd64]
            }
        }
    };
    let found = wanted.iter().find_map(|w| {
        index
            .manifests
            .iter()
            .find(|d| matches(w, d))
            .map(|d| (d, d.platform.clone().unwrap_or_else(|| w.clone())))
    });
    let Some((descriptor, chosen)) = found else {
        let available: Vec<String> = index
            .manifests
            .iter()
            .filter_map(|d| d.platform.as_ref().map(platform_string))
            .collect();
        return Err(OciError::NotFound {
            what: format!(
                "a {} manifest in index {} (it has: {})",
                wanted
                    .iter()
                    .map(platform_string)
                    .collect::<Vec<_>>()
                    .join(" or "),
                manifest.digest,
                if available.is_empty() {
                    "no platforms".to_owned()
                } else {
                    available.join(", ")
                }
            ),
            location: store.location(),
        });
    };
    let child = store.get_manifest(&descriptor.digest.to_string()).await?;
    Ok((child, Some(manifest.digest.clone()), Some(chosen)))
}

/// An image config as read: its exact bytes and platform.
struct Config {
    bytes: Vec<u8>,
    platform: Option<Platform>,
}

/// Read the config (verified, exactly its descriptor's size) and check that it is an image
/// config with one `rootfs.diff_ids` entry per layer, as `docker load` requires.
async fn read_config(
    store: &Store,
    descriptor: &Descriptor,
    layers: usize,
) -> Result<Config, OciError> {
    let what = format!("config {}", descriptor.digest);
    let malformed = |reason: String| OciError::Malformed {
        what: what.clone(),
        location: store.location(),
        reason,
    };
    let media_type = descriptor.media_type.as_str();
    if media_type != media_types::OCI_CONFIG && media_type != media_types::DOCKER_CONFIG {
        return Err(malformed(format!(
            "expected an image config ({} or {}), found {media_type:?}: docker load reads \
             container images only",
            media_types::OCI_CONFIG,
            media_types::DOCKER_CONFIG
        )));
    }
    if descriptor.size > MAX_CONFIG_BYTES {
        return Err(OciError::TooLarge {
            what,
            location: store.location(),
            limit: MAX_CONFIG_BYTES,
        });
    }
    let mut blob = store.open_blob(descriptor).await?;
    let mut bytes = Vec::with_capacity(usize::try_from(descriptor.size).unwrap_or(0));
    while let Some(chunk) = blob.next_chunk().await? {
        bytes.extend_from_slice(&chunk);
    }
    #[derive(serde::Deserialize)]
    struct RootFs {
        #[serde(default)]
        diff_ids: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    struct ImageConfig {
        #[serde(default)]
        architecture: Option<String>,
        #[serde(default)]
        os: Option<String>,
        #[serde(default)]
        variant: Option<String>,
        rootfs: Option<RootFs>,
    }
    let parsed: ImageConfig = serde_json::from_slice(&bytes)
        .map_err(|e| malformed(format!("expected an image config JSON object: {e}")))?;
    let diff_ids = parsed.rootfs.map(|r| r.diff_ids.len()).ok_or_else(|| {
        malformed("expected rootfs.diff_ids (one per layer), found no rootfs".into())
    })?;
    if diff_ids != layers {
        return Err(malformed(format!(
            "expected one rootfs.diff_ids entry per layer ({layers}), found {diff_ids}"
        )));
    }
    let platform = match (parsed.os, parsed.architecture) {
        (Some(os), Some(architecture)) => Some(Platform {
            architecture,
            os,
            variant: parsed.variant,
        }),
        _ => None,
    };
    Ok(Config { bytes, platform })
}

/// Writes tar entries (GNU headers, as docker's own archives carry) to `out`.
struct TarWriter<W> {
    out: W,
    written: u64,
}

impl<W: AsyncWrite + Unpin> TarWriter<W> {
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes).await?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// The header of an entry (preceded by a GNU long-name entry for paths over 100 bytes).
    async fn header(
        &mut self,
        path: &str,
        size: u64,
        kind: tar::EntryType,
        mode: u32,
    ) -> std::io::Result<()> {
        let name = path.as_bytes();
        if name.len() > 100 {
            let mut long = gnu_header(b"././@LongLink", name.len() as u64 + 1, 0o644);
            long.set_entry_type(tar::EntryType::GNULongName);
            long.set_cksum();
            self.write(long.as_bytes()).await?;
            self.write(name).await?;
            self.write(&[0]).await?;
            self.pad(name.len() as u64 + 1).await?;
        }
        let mut header = gnu_header(&name[..name.len().min(100)], size, mode);
        header.set_entry_type(kind);
        header.set_cksum();
        self.write(header.as_bytes()).await
    }

    /// Zeros up to the next block boundary after `size` bytes of data.
    async fn pad(&mut self, size: u64) -> std::io::Result<()> {
        let rest = (size % BLOCK as u64) as usize;
        if rest > 0 {
            self.write(&[0u8; BLOCK][..BLOCK - rest]).await?;
        }
        Ok(())
    }

    async fn dir(&mut self, path: &str) -> std::io::Result<()> {
        self.header(path, 0, tar::EntryType::Directory, 0o755).await
    }

    async fn file(&mut self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.header(path, bytes.len() as u64, tar::EntryType::Regular, 0o644)
            .await?;
        self.write(bytes).await?;
        self.pad(bytes.len() as u64).await
    }

    /// A blob streamed from `store`, verified as it is copied.
    async fn blob(
        &mut self,
        store: &Store,
        descriptor: &Descriptor,
        entry: &str,
        archive: &Path,
    ) -> Result<(), OciError> {
        let io = |e: std::io::Error| OciError::Io {
            path: archive.display().to_string(),
            source: e,
        };
        let mut blob = store.open_blob(descriptor).await?;
        self.header(entry, descriptor.size, tar::EntryType::Regular, 0o644)
            .await
            .map_err(io)?;
        while let Some(chunk) = blob.next_chunk().await? {
            self.write(&chunk).await.map_err(io)?;
        }
        self.pad(descriptor.size).await.map_err(io)
    }
}

/// A GNU header with `name` (at most 100 bytes), `size`, `mode`, owner root and mtime 0.
fn gnu_header(name: &[u8], size: u64, mode: u32) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    if let Some(gnu) = header.as_gnu_mut() {
        gnu.name[..name.len()].copy_from_slice(name);
    }
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_tags_need_a_tag_and_no_digest() {
        let name = check_repo_tag("127.0.0.1:5000/demo/app:v1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(name.full, "127.0.0.1:5000/demo/app:v1");
        assert_eq!(name.tag, "v1");
        let name = check_repo_tag("busybox:latest").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(name.full, "docker.io/library/busybox:latest");
        for bad in [
            "busybox",
            "demo/app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "Demo/App:v1",
            "",
        ] {
            assert!(
                matches!(check_repo_tag(bad), Err(OciError::Malformed { .. })),
                "{bad:?}: expected a refusal"
            );
        }
    }

    #[test]
    fn host_platform_uses_go_names() {
        let p = host_platform();
        assert_eq!(p.os, "linux");
        assert!(!["x86_64", "aarch64"].contains(&p.architecture.as_str()));
    }
}
