//! Small, valid, deterministic sample images (one uncompressed tar layer holding one file),
//! for the quickstart, tests and benchmarks. Built in memory, no tools needed.

use crate::{
    error::OciError,
    manifest::{Descriptor, ImageIndex, ImageManifest, Platform, media_types, to_json_bytes},
    store::Store,
};
use hallmark_core::Digest;

/// Tar block size.
const BLOCK: usize = 512;

/// A sample image built in memory: its layer, config and manifest bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleImage {
    /// The uncompressed tar layer.
    pub layer: Vec<u8>,
    /// The config JSON.
    pub config: Vec<u8>,
    /// The OCI image manifest JSON.
    pub manifest: Vec<u8>,
}

impl SampleImage {
    /// Build the image for `architecture` (`amd64`, `arm64`, ...) whose layer holds
    /// `/hello.txt` with `content`.
    pub fn build(content: &str, architecture: &str) -> Self {
        let layer = tar_with_one_file("hello.txt", content.as_bytes());
        let layer_digest = Digest::sha256_of(&layer);
        let config = format!(
            r#"{{"architecture":"{architecture}","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}},"config":{{"Cmd":["/bin/cat","/hello.txt"]}}}}"#
        )
        .into_bytes();
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(media_types::OCI_MANIFEST.to_owned()),
            artifact_type: None,
            config: descriptor(media_types::OCI_CONFIG, &config),
            layers: vec![Descriptor {
                digest: layer_digest,
                ..descriptor(media_types::OCI_LAYER_TAR, &layer)
            }],
            subject: None,
            annotations: None,
        };
        Self {
            manifest: to_json_bytes(&manifest),
            layer,
            config,
        }
    }

    /// The manifest digest.
    pub fn digest(&self) -> Digest {
        Digest::sha256_of(&self.manifest)
    }

    /// Write layer, config and manifest to `store` (the manifest under `tag`, or by digest).
    pub async fn push(&self, store: &Store, tag: Option<&str>) -> Result<Digest, OciError> {
        store.put_blob(&self.layer).await?;
        store.put_blob(&self.config).await?;
        store
            .put_manifest(&self.manifest, media_types::OCI_MANIFEST, tag)
            .await
    }
}

fn descriptor(media_type: &str, bytes: &[u8]) -> Descriptor {
    Descriptor {
        media_type: media_type.to_owned(),
        digest: Digest::sha256_of(bytes),
        size: bytes.len() as u64,
        annotations: None,
        platform: None,
        artifact_type: None,
    }
}

/// A ustar archive with one regular file (mode 0644, uid/gid 0, mtime 0), padded, followed
/// by the two zero blocks that end an archive.
pub fn tar_with_one_file(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; BLOCK];
    let name = name.as_bytes();
    let name_len = name.len().min(100);
    header[..name_len].copy_from_slice(&name[..name_len]);
    put_octal(&mut header[100..108], 0o644);
    put_octal(&mut header[108..116], 0);
    put_octal(&mut header[116..124], 0);
    put_octal(&mut header[124..136], content.len() as u64);
    put_octal(&mut header[136..148], 0);
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    put_octal(&mut header[329..337], 0);
    put_octal(&mut header[337..345], 0);
    // The checksum is computed with its own field as spaces, then written as six octal
    // digits, NUL, space.
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    let digits = format!("{sum:06o}");
    header[148..154].copy_from_slice(&digits.as_bytes()[digits.len() - 6..]);
    header[154] = 0;
    header[155] = b' ';

    let padded = content.len().div_ceil(BLOCK) * BLOCK;
    let mut out = Vec::with_capacity(BLOCK + padded + 2 * BLOCK);
    out.extend_from_slice(&header);
    out.extend_from_slice(content);
    out.resize(BLOCK + padded + 2 * BLOCK, 0);
    out
}

/// Write `value` as zero-padded octal filling `field` but its last byte, which is NUL.
fn put_octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let digits = format!("{value:0width$o}");
    let digits = &digits.as_bytes()[digits.len().saturating_sub(width)..];
    field[..width].copy_from_slice(digits);
    field[width] = 0;
}

/// Build a sample image whose single layer holds `/hello.txt` with `content`, and write its
/// config, layer and manifest to `store` under `tag`. Returns the manifest digest. Different
/// `content` gives different digests; the same content gives the same digest.
pub async fn push_sample_image(
    store: &Store,
    tag: &str,
    content: &str,
) -> Result<Digest, OciError> {
    SampleImage::build(content, "amd64")
        .push(store, Some(tag))
        .await
}

/// The two-platform index of [`push_sample_index`] and its children, built in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleIndex {
    /// linux/amd64 and linux/arm64 images.
    pub children: Vec<(Platform, SampleImage)>,
    /// The OCI index JSON.
    pub index: Vec<u8>,
}

impl SampleIndex {
    /// Build the index of linux/amd64 and linux/arm64 sample images with `content`.
    pub fn build(content: &str) -> Self {
        let children: Vec<(Platform, SampleImage)> = ["amd64", "arm64"]
            .into_iter()
            .map(|arch| {
                let platform = Platform {
                    architecture: arch.to_owned(),
                    os: "linux".to_owned(),
                    variant: None,
                };
                (platform, SampleImage::build(content, arch))
            })
            .collect();
        let index = ImageIndex {
            schema_version: 2,
            media_type: Some(media_types::OCI_INDEX.to_owned()),
            artifact_type: None,
            manifests: children
                .iter()
                .map(|(platform, image)| Descriptor {
                    platform: Some(platform.clone()),
                    ..descriptor(media_types::OCI_MANIFEST, &image.manifest)
                })
                .collect(),
            subject: None,
            annotations: None,
        };
        Self {
            children,
            index: to_json_bytes(&index),
        }
    }

    /// The index digest.
    pub fn digest(&self) -> Digest {
        Digest::sha256_of(&self.index)
    }

    /// Push both children by digest, then the index under `tag`.
    pub async fn push(&self, store: &Store, tag: &str) -> Result<Digest, OciError> {
        for (_, child) in &self.children {
            child.push(store, None).await?;
        }
        store
            .put_manifest(&self.index, media_types::OCI_INDEX, Some(tag))
            .await
    }
}

/// Build a two-platform (linux/amd64, linux/arm64) index of sample images, pushing both
/// children by digest and the index under `tag`. Returns the index digest.
pub async fn push_sample_index(
    store: &Store,
    tag: &str,
    content: &str,
) -> Result<Digest, OciError> {
    SampleIndex::build(content).push(store, tag).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_header_is_valid_ustar() {
        let tar = tar_with_one_file("hello.txt", b"hello\n");
        assert_eq!(tar.len(), 512 * 4);
        assert_eq!(&tar[257..263], b"ustar\0");
        assert_eq!(&tar[100..108], b"0000644\0");
        assert_eq!(&tar[124..136], b"00000000006\0");
        let mut header = tar[..512].to_vec();
        let stored = std::str::from_utf8(&header[148..154])
            .expect("checksum is ASCII")
            .to_owned();
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(
            u32::from_str_radix(&stored, 8).expect("checksum is octal"),
            sum
        );
        assert_eq!(&tar[512..518], b"hello\n");
        assert!(tar[518..].iter().all(|&b| b == 0));
    }
}
