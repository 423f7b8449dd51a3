//! OCI manifest, index and descriptor types (image-spec v1.1), with docker v2 schema 2
//! media types read as their OCI equivalents.
//!
//! Types keep field order as the spec lists it, and omit empty optional fields, so what
//! hallmark writes is stable byte for byte.

use hallmark_core::Digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Media type constants.
pub mod media_types {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// OCI empty descriptor (`{}`).
    pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
    /// OCI uncompressed layer.
    pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
    /// OCI gzip layer.
    pub const OCI_LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// Docker v2 schema 2 manifest.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// Docker image config.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    /// The `Accept` header for manifests: every manifest type hallmark reads.
    pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Digest of the content (serialized as `algorithm:hex`).
    #[serde(with = "digest_serde")]
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// Optional annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Platform (index entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Artifact type (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

/// Platform of an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture.
    pub architecture: String,
    /// Operating system.
    pub os: String,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest (OCI or docker v2s2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// Media type (may be absent in OCI manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Artifact type (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Config descriptor.
    pub config: Descriptor,
    /// Layers.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Subject (OCI 1.1 referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image index (OCI or docker manifest list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// Media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Manifests.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A parsed manifest of either kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// Image manifest.
    Image(ImageManifest),
    /// Index.
    Index(ImageIndex),
}

impl Manifest {
    /// Parse manifest bytes. `media_type` is the Content-Type the registry sent (or the
    /// descriptor's); when it is missing or generic, the JSON decides (`manifests` → index,
    /// `config` → image).
    pub fn parse(bytes: &[u8], media_type: Option<&str>) -> Result<Self, serde_json::Error> {
        let given = media_type.map(essence);
        let kind = match given {
            Some(media_types::OCI_MANIFEST | media_types::DOCKER_MANIFEST) => Some(Kind::Image),
            Some(media_types::OCI_INDEX | media_types::DOCKER_MANIFEST_LIST) => Some(Kind::Index),
            _ => None,
        };
        let kind = match kind {
            Some(kind) => kind,
            None => {
                let probe: Probe = serde_json::from_slice(bytes)?;
                probe.kind().ok_or_else(|| {
                    <serde_json::Error as serde::de::Error>::custom(
                        "expected an image manifest (with `config`) or an index (with `manifests`), \
                         found neither",
                    )
                })?
            }
        };
        match kind {
            Kind::Image => Ok(Manifest::Image(serde_json::from_slice(bytes)?)),
            Kind::Index => Ok(Manifest::Index(serde_json::from_slice(bytes)?)),
        }
    }

    /// The `subject` of the manifest, if any.
    pub fn subject(&self) -> Option<&Descriptor> {
        match self {
            Manifest::Image(m) => m.subject.as_ref(),
            Manifest::Index(i) => i.subject.as_ref(),
        }
    }

    /// The artifact type as the referrers API reports it: `artifactType`, or for image
    /// manifests without one, the config media type.
    pub fn effective_artifact_type(&self) -> Option<&str> {
        match self {
            Manifest::Image(m) => m
                .artifact_type
                .as_deref()
                .or(Some(m.config.media_type.as_str())),
            Manifest::Index(i) => i.artifact_type.as_deref(),
        }
    }

    /// The manifest's annotations, if any.
    pub fn annotations(&self) -> Option<&BTreeMap<String, String>> {
        match self {
            Manifest::Image(m) => m.annotations.as_ref(),
            Manifest::Index(i) => i.annotations.as_ref(),
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Image,
    Index,
}

/// Just enough of a manifest to tell what it is.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    config: Option<serde::de::IgnoredAny>,
}

impl Probe {
    fn kind(&self) -> Option<Kind> {
        match self.media_type.as_deref() {
            Some(media_types::OCI_MANIFEST | media_types::DOCKER_MANIFEST) => {
                return Some(Kind::Image);
            }
            Some(media_types::OCI_INDEX | media_types::DOCKER_MANIFEST_LIST) => {
                return Some(Kind::Index);
            }
            _ => {}
        }
        if self.manifests.is_some() {
            Some(Kind::Index)
        } else if self.config.is_some() {
            Some(Kind::Image)
        } else {
            None
        }
    }
}

/// The media type without parameters (`application/json; charset=utf-8` → `application/json`).
pub fn essence(media_type: &str) -> &str {
    media_type.split(';').next().unwrap_or(media_type).trim()
}

/// The media type of manifest bytes: `content_type` unless it is missing or generic
/// (`application/json`, `text/plain`, `application/octet-stream`), else the JSON's
/// `mediaType`, else inferred from its shape (`manifests` → OCI index, `config` → OCI
/// manifest). `None` when the bytes are not a recognisable manifest.
pub fn manifest_media_type(bytes: &[u8], content_type: Option<&str>) -> Option<String> {
    if let Some(ct) = content_type.map(essence) {
        let generic = ct.is_empty()
            || ct == "application/json"
            || ct == "text/plain"
            || ct == "application/octet-stream";
        if !generic {
            return Some(ct.to_owned());
        }
    }
    let probe: Probe = serde_json::from_slice(bytes).ok()?;
    if let Some(mt) = probe.media_type.as_deref() {
        return Some(mt.to_owned());
    }
    match probe.kind()? {
        Kind::Image => Some(media_types::OCI_MANIFEST.to_owned()),
        Kind::Index => Some(media_types::OCI_INDEX.to_owned()),
    }
}

/// Serialize a value as compact JSON (the bytes hallmark pushes).
///
/// # Panics
///
/// If `value`'s `Serialize` implementation fails (maps with non-string keys, or a custom
/// implementation returning an error). The types of this crate never do; use
/// [`try_to_json_bytes`] for other types.
pub fn to_json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    #[allow(clippy::expect_used)]
    try_to_json_bytes(value).expect("serializing a manifest type to JSON cannot fail")
}

/// Serialize a value as compact JSON, returning serialization errors.
pub fn try_to_json_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(value)
}

mod digest_serde {
    use hallmark_core::Digest;
    use serde::{Deserialize, Deserializer, Serializer};
    pub(crate) fn serialize<S: Serializer>(d: &Digest, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(d)
    }
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#""config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}"#;

    #[test]
    fn parse_uses_media_type_then_shape() {
        let image = format!(r#"{{"schemaVersion":2,{CONFIG},"layers":[]}}"#);
        assert!(matches!(
            Manifest::parse(image.as_bytes(), None),
            Ok(Manifest::Image(_))
        ));
        assert!(matches!(
            Manifest::parse(image.as_bytes(), Some("application/json")),
            Ok(Manifest::Image(_))
        ));
        let index = r#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            Manifest::parse(index.as_bytes(), None),
            Ok(Manifest::Index(_))
        ));
        assert!(matches!(
            Manifest::parse(index.as_bytes(), Some(media_types::DOCKER_MANIFEST_LIST)),
            Ok(Manifest::Index(_))
        ));
        // The declared type wins: an index body declared as an image manifest is an error.
        assert!(Manifest::parse(index.as_bytes(), Some(media_types::OCI_MANIFEST)).is_err());
        assert!(Manifest::parse(br#"{"schemaVersion":2}"#, None).is_err());
    }

    #[test]
    fn media_type_sniffing() {
        let image = format!(r#"{{"schemaVersion":2,{CONFIG}}}"#);
        assert_eq!(
            manifest_media_type(image.as_bytes(), Some("application/json; charset=utf-8"))
                .as_deref(),
            Some(media_types::OCI_MANIFEST)
        );
        assert_eq!(
            manifest_media_type(image.as_bytes(), Some(media_types::DOCKER_MANIFEST)).as_deref(),
            Some(media_types::DOCKER_MANIFEST)
        );
        let docker = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}",{CONFIG}}}"#,
            media_types::DOCKER_MANIFEST
        );
        assert_eq!(
            manifest_media_type(docker.as_bytes(), None).as_deref(),
            Some(media_types::DOCKER_MANIFEST)
        );
        assert_eq!(manifest_media_type(b"not json", None), None);
    }

    #[test]
    fn serialization_omits_empty_optionals_and_keeps_order() {
        let manifest: ImageManifest =
            serde_json::from_str(&format!(r#"{{"schemaVersion":2,{CONFIG},"layers":[]}}"#))
                .expect("valid manifest");
        let bytes = to_json_bytes(&manifest);
        assert_eq!(
            String::from_utf8(bytes).expect("utf-8"),
            format!(r#"{{"schemaVersion":2,{CONFIG},"layers":[]}}"#)
        );
    }
}
