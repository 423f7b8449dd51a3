//! The cosign "simple signing" payload.
//!
//! Written byte for byte as Go's `json.Marshal` of sigstore's `payload.SimpleContainerImage`:
//! `{"critical":{"identity":{"docker-reference":"R"},"image":{"docker-manifest-digest":"D"},
//! "type":"cosign container image signature"},"optional":null|{sorted string map}}`.
//!
//! Read as strictly as containers/image reads it: exactly the keys above (no more, no fewer),
//! `type` equal to the constant, `optional` null, absent or an object.

use crate::error::PayloadError;
use hallmark_core::Digest;
use hallmark_core::gojson;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The `critical.type` value.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";

/// Build the payload bytes for `docker_reference` and `digest`, with `annotations` in
/// `optional` (or `null` when empty).
pub fn build(
    docker_reference: &str,
    digest: &Digest,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut s = String::with_capacity(256);
    s.push_str("{\"critical\":{\"identity\":{\"docker-reference\":");
    gojson::push_string(&mut s, docker_reference);
    s.push_str("},\"image\":{\"docker-manifest-digest\":");
    gojson::push_string(&mut s, &digest.to_string());
    s.push_str("},\"type\":");
    gojson::push_string(&mut s, COSIGN_SIGNATURE_TYPE);
    s.push_str("},\"optional\":");
    if annotations.is_empty() {
        s.push_str("null");
    } else {
        s.push('{');
        for (i, (k, v)) in annotations.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            gojson::push_string(&mut s, k);
            s.push(':');
            gojson::push_string(&mut s, v);
        }
        s.push('}');
    }
    s.push('}');
    s.into_bytes()
}

/// A parsed, strictly validated payload.
#[derive(Debug, Clone, PartialEq)]
pub struct SimpleSigning {
    /// `critical.identity.docker-reference`.
    pub docker_reference: String,
    /// `critical.image.docker-manifest-digest`, as written (validated as a digest).
    pub manifest_digest: Digest,
    /// `optional`, when an object.
    pub optional: Option<Map<String, Value>>,
    /// The whole payload as JSON, for reports.
    pub json: Value,
}

fn exact_keys(
    obj: &Map<String, Value>,
    keys: &[&'static str],
    what: &'static str,
) -> Result<(), PayloadError> {
    for k in obj.keys() {
        if !keys.contains(&k.as_str()) {
            return Err(PayloadError::UnexpectedField {
                object: what,
                field: k.clone(),
            });
        }
    }
    for k in keys {
        if !obj.contains_key(*k) {
            return Err(PayloadError::MissingField {
                object: what,
                field: k,
            });
        }
    }
    Ok(())
}

fn object<'a>(v: &'a Value, what: &'static str) -> Result<&'a Map<String, Value>, PayloadError> {
    v.as_object()
        .ok_or(PayloadError::NotAnObject { object: what })
}

/// Parse and validate payload bytes.
pub fn parse(bytes: &[u8]) -> Result<SimpleSigning, PayloadError> {
    let json: Value = serde_json::from_slice(bytes).map_err(|e| PayloadError::NotJson {
        reason: e.to_string(),
    })?;
    let top = object(&json, "payload")?;
    for k in top.keys() {
        if k != "critical" && k != "optional" {
            return Err(PayloadError::UnexpectedField {
                object: "payload",
                field: k.clone(),
            });
        }
    }
    let critical = object(
        top.get("critical").ok_or(PayloadError::MissingField {
            object: "payload",
            field: "critical",
        })?,
        "critical",
    )?;
    exact_keys(critical, &["type", "image", "identity"], "critical")?;
    let ty = critical["type"].as_str().ok_or(PayloadError::NotAString {
        field: "critical.type",
    })?;
    if ty != COSIGN_SIGNATURE_TYPE {
        return Err(PayloadError::WrongType {
            found: ty.to_owned(),
        });
    }
    let image = object(&critical["image"], "critical.image")?;
    exact_keys(image, &["docker-manifest-digest"], "critical.image")?;
    let digest_str = image["docker-manifest-digest"]
        .as_str()
        .ok_or(PayloadError::NotAString {
            field: "critical.image.docker-manifest-digest",
        })?;
    let manifest_digest =
        Digest::parse(digest_str).map_err(|source| PayloadError::BadDigest { source })?;
    let identity = object(&critical["identity"], "critical.identity")?;
    exact_keys(identity, &["docker-reference"], "critical.identity")?;
    let docker_reference = identity["docker-reference"]
        .as_str()
        .ok_or(PayloadError::NotAString {
            field: "critical.identity.docker-reference",
        })?
        .to_owned();
    let optional = match top.get("optional") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => return Err(PayloadError::NotAnObject { object: "optional" }),
    };
    Ok(SimpleSigning {
        docker_reference,
        manifest_digest,
        optional,
        json,
    })
}

impl SimpleSigning {
    /// The `optional` entries whose values are strings (cosign's annotations).
    pub fn annotations(&self) -> BTreeMap<String, String> {
        self.optional
            .iter()
            .flat_map(|m| m.iter())
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect()
    }
}
