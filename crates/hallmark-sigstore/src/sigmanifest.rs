//! cosign attachment manifests (`sha256-<hex>.sig` / `.att`): an OCI image manifest whose
//! config is an OCI image config listing each layer's digest in `rootfs.diff_ids`, one layer
//! per signature. New signatures are appended, as cosign and containers/image do.

use crate::error::SigManifestError;
use hallmark_core::Digest;
use hallmark_oci_spec::{Descriptor, ImageManifest, Manifest, media_types, to_json_bytes};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// cosign's limit on layers in one attachment manifest.
pub const MAX_LAYERS: usize = 1000;

/// Which attachment tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    /// `.sig`
    Signature,
    /// `.att`
    Attestation,
}

impl Attachment {
    /// The tag suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Attachment::Signature => "sig",
            Attachment::Attestation => "att",
        }
    }
    /// The attachment tag for `digest`.
    pub fn tag(self, digest: &Digest) -> String {
        format!("{}.{}", digest.tag_form(), self.suffix())
    }
}

/// Parse the manifest found at an attachment tag or referrer (`media_type` as the store
/// reported it): it must be an image manifest.
pub fn parse_manifest(
    bytes: &[u8],
    media_type: &str,
    location: &str,
) -> Result<ImageManifest, SigManifestError> {
    match Manifest::parse(bytes, Some(media_type)) {
        Ok(Manifest::Image(im)) => Ok(im),
        Ok(Manifest::Index(_)) => Err(SigManifestError::Malformed {
            what: "signature manifest".into(),
            location: location.to_owned(),
            reason: "expected an image manifest, found an index".into(),
        }),
        Err(e) => Err(SigManifestError::Malformed {
            what: "signature manifest".into(),
            location: location.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// A layer to attach.
#[derive(Debug, Clone)]
pub struct NewLayer {
    /// Layer media type.
    pub media_type: String,
    /// Layer blob.
    pub blob: Vec<u8>,
    /// Layer annotations.
    pub annotations: BTreeMap<String, String>,
}

impl NewLayer {
    /// The layer's descriptor.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: Digest::sha256_of(&self.blob),
            size: self.blob.len() as u64,
            annotations: Some(self.annotations.clone()),
            platform: None,
            artifact_type: None,
        }
    }
}

/// The config of a fresh attachment manifest (go-containerregistry's empty image config).
fn empty_config() -> Value {
    json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": []},
        "config": {}
    })
}

/// The manifest and config to write after appending `layer`.
pub struct Appended {
    /// New manifest bytes.
    pub manifest: Vec<u8>,
    /// New config bytes.
    pub config: Vec<u8>,
}

/// Append `layer` to an existing attachment manifest (with its config bytes), or start one.
pub fn append(
    existing: Option<(&ImageManifest, &[u8])>,
    layer: &NewLayer,
    location: &str,
) -> Result<Appended, SigManifestError> {
    let (mut layers, config) = match existing {
        Some((m, config_bytes)) => (m.layers.clone(), parse_config(config_bytes, location)?),
        None => (Vec::new(), empty_config()),
    };
    layers.push(layer.descriptor());
    build(layers, config, location)
}

/// Parse an attachment config (a JSON object).
pub fn parse_config(config_bytes: &[u8], location: &str) -> Result<Value, SigManifestError> {
    let malformed = |reason: String| SigManifestError::Malformed {
        what: "attachment config".into(),
        location: location.to_owned(),
        reason,
    };
    let config: Value =
        serde_json::from_slice(config_bytes).map_err(|e| malformed(e.to_string()))?;
    if !config.is_object() {
        return Err(malformed("not a JSON object".into()));
    }
    Ok(config)
}

/// Build an attachment manifest over `layers`, with `config` (an object) whose
/// `rootfs.diff_ids` is set to the layer digests (the layers are uncompressed).
pub fn build(
    layers: Vec<Descriptor>,
    mut config: Value,
    location: &str,
) -> Result<Appended, SigManifestError> {
    if layers.len() > MAX_LAYERS {
        return Err(SigManifestError::TooManyLayers {
            location: location.to_owned(),
            count: layers.len(),
            limit: MAX_LAYERS,
        });
    }
    let diff_ids: Vec<Value> = layers
        .iter()
        .map(|d| Value::String(d.digest.to_string()))
        .collect();
    if let Some(obj) = config.as_object_mut() {
        match obj
            .entry("rootfs")
            .or_insert_with(|| json!({"type": "layers"}))
        {
            Value::Object(rootfs) => {
                rootfs.insert("diff_ids".into(), Value::Array(diff_ids));
            }
            other => *other = json!({"type": "layers", "diff_ids": diff_ids}),
        }
    }
    let config_bytes = serde_json::to_vec(&config).unwrap_or_default();
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_types::OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config: Descriptor {
            media_type: media_types::OCI_CONFIG.to_owned(),
            digest: Digest::sha256_of(&config_bytes),
            size: config_bytes.len() as u64,
            annotations: None,
            platform: None,
            artifact_type: None,
        },
        layers,
        subject: None,
        annotations: None,
    };
    Ok(Appended {
        manifest: to_json_bytes(&manifest),
        config: config_bytes,
    })
}
