//! Log entries as Rekor v1 returns them, and the two forms clients store them in: cosign's
//! `dev.sigstore.cosign/bundle` annotation and a Sigstore bundle's `tlogEntries[]` item.
//!
//! Rekor v1 (`openapi.yaml`, `LogEntry`): `{"<entry ID>": {"body": "<b64 canonical body>",
//! "integratedTime": N, "logID": "<hex>", "logIndex": N, "verification": {
//! "signedEntryTimestamp": "<b64>", "inclusionProof": {"checkpoint": "<signed note>",
//! "hashes": ["<hex>", ...], "logIndex": N, "rootHash": "<hex>", "treeSize": N}}}}`.

use crate::Hash;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::gojson;
use serde::Deserialize;
use serde_json::{Value, json};
use thiserror::Error;

/// A log's entry response or a stored entry is not what the Rekor v1 API defines. Values from
/// the log are untrusted and shown for diagnosis.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryError {
    /// The JSON is not a Rekor v1 `LogEntry` (or a field of it is not as defined).
    #[error("transparency log returned a malformed response: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
}

/// An inclusion proof of an entry, with the checkpoint it leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The entry's index in this tree.
    pub log_index: u64,
    /// The root of the tree of `tree_size` leaves.
    pub root_hash: Hash,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The audit path, leaf to root.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint (note text) for `tree_size` and `root_hash`.
    pub checkpoint: String,
}

/// One log entry (Rekor v1 `LogEntryAnon` with its key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The entry ID or UUID the log gave it (the key of the response object).
    pub uuid: String,
    /// The canonical body (the leaf data).
    pub body: Vec<u8>,
    /// When the log integrated the entry, Unix seconds.
    pub integrated_time: i64,
    /// The log ID (hex SHA-256 of the log key's DER SubjectPublicKeyInfo).
    pub log_id: String,
    /// The entry's (virtual) index.
    pub log_index: i64,
    /// The Signed Entry Timestamp (inclusion promise), if the log gave one.
    pub signed_entry_timestamp: Option<Vec<u8>>,
    /// The inclusion proof, if the log gave one.
    pub inclusion_proof: Option<InclusionProof>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    body: String,
    integrated_time: i64,
    #[serde(rename = "logID")]
    log_id: String,
    log_index: i64,
    #[serde(default)]
    verification: Option<RawVerification>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawVerification {
    #[serde(default)]
    signed_entry_timestamp: Option<String>,
    #[serde(default)]
    inclusion_proof: Option<RawProof>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProof {
    checkpoint: String,
    hashes: Vec<String>,
    log_index: u64,
    root_hash: String,
    tree_size: u64,
}

fn bad(reason: impl Into<String>) -> EntryError {
    EntryError::Malformed {
        reason: reason.into(),
    }
}

impl LogEntry {
    /// Parse a Rekor v1 response holding entries (`{"<uuid>": {...}, ...}`, or an array of such
    /// objects as `entries/retrieve` returns).
    pub fn parse_response(json: &[u8]) -> Result<Vec<LogEntry>, EntryError> {
        let value: Value =
            serde_json::from_slice(json).map_err(|e| bad(format!("entry JSON: {e}")))?;
        let objects: Vec<&serde_json::Map<String, Value>> = match &value {
            Value::Object(map) => vec![map],
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_object().ok_or_else(|| bad("expected entry objects")))
                .collect::<Result<_, _>>()?,
            _ => return Err(bad("expected an object of entries")),
        };
        let mut out = Vec::new();
        for map in objects {
            for (uuid, v) in map {
                out.push(Self::from_value(uuid, v)?);
            }
        }
        Ok(out)
    }

    /// One entry from its ID and `LogEntryAnon` value.
    pub fn from_value(uuid: &str, value: &Value) -> Result<LogEntry, EntryError> {
        let raw: RawEntry =
            serde_json::from_value(value.clone()).map_err(|e| bad(format!("entry {uuid}: {e}")))?;
        let body = STANDARD
            .decode(raw.body.as_bytes())
            .map_err(|_| bad(format!("entry {uuid}: body is not base64")))?;
        let (set, proof) = match raw.verification {
            Some(v) => (v.signed_entry_timestamp, v.inclusion_proof),
            None => (None, None),
        };
        let signed_entry_timestamp = set
            .map(|s| {
                STANDARD
                    .decode(s.as_bytes())
                    .map_err(|_| bad(format!("entry {uuid}: signedEntryTimestamp is not base64")))
            })
            .transpose()?;
        let inclusion_proof = proof
            .map(|p| {
                let hex_hash = |s: &str, what: &str| {
                    Hash::from_hex(s)
                        .map_err(|_| bad(format!("entry {uuid}: {what} is not a hex SHA-256")))
                };
                Ok::<_, EntryError>(InclusionProof {
                    log_index: p.log_index,
                    root_hash: hex_hash(&p.root_hash, "inclusionProof.rootHash")?,
                    tree_size: p.tree_size,
                    hashes: p
                        .hashes
                        .iter()
                        .map(|h| hex_hash(h, "inclusionProof.hashes[]"))
                        .collect::<Result<_, _>>()?,
                    checkpoint: p.checkpoint,
                })
            })
            .transpose()?;
        Ok(LogEntry {
            uuid: uuid.to_owned(),
            body,
            integrated_time: raw.integrated_time,
            log_id: raw.log_id,
            log_index: raw.log_index,
            signed_entry_timestamp,
            inclusion_proof,
        })
    }

    /// The entry's UUID: the hex leaf hash of its body (the last 64 hex digits of an entry ID).
    pub fn leaf_uuid(&self) -> String {
        crate::rekor::entry_uuid(&self.body)
    }

    /// cosign's `dev.sigstore.cosign/bundle` annotation (its `RekorBundle`):
    /// `{"SignedEntryTimestamp":"<b64>","Payload":{"body":"<b64>","integratedTime":N,
    /// "logIndex":N,"logID":"<hex>"}}`. `None` without a SET (the annotation requires one).
    pub fn to_cosign_annotation(&self) -> Option<String> {
        let set = self.signed_entry_timestamp.as_ref()?;
        // Go's json.Marshal of cosign's RekorBundle: fields in declaration order.
        let mut out = String::from("{\"SignedEntryTimestamp\":");
        gojson::push_string(&mut out, &STANDARD.encode(set));
        out.push_str(",\"Payload\":{\"body\":");
        gojson::push_string(&mut out, &STANDARD.encode(&self.body));
        out.push_str(&format!(
            ",\"integratedTime\":{},\"logIndex\":{},\"logID\":",
            self.integrated_time, self.log_index
        ));
        gojson::push_string(&mut out, &self.log_id);
        out.push_str("}}");
        Some(out)
    }

    /// The entry as a Sigstore bundle v0.3 `verificationMaterial.tlogEntries[]` item
    /// (protobuf-specs `TransparencyLogEntry` in protojson: int64 as strings, bytes as base64),
    /// with the kind and version its body names.
    pub fn to_bundle_tlog_entry(&self) -> Result<Value, EntryError> {
        let log_id = hex::decode(&self.log_id)
            .map_err(|_| bad(format!("logID {:?} is not hex", self.log_id)))?;
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct KindVersion {
            kind: String,
            api_version: String,
        }
        let kv: KindVersion = serde_json::from_slice(&self.body).map_err(|e| {
            bad(format!(
                "expected a body with kind and apiVersion, found one that does not parse: {e}"
            ))
        })?;
        let mut entry = json!({
            "logIndex": self.log_index.to_string(),
            "logId": {"keyId": STANDARD.encode(log_id)},
            "kindVersion": {"kind": kv.kind, "version": kv.api_version},
            "integratedTime": self.integrated_time.to_string(),
        });
        let obj = entry
            .as_object_mut()
            .ok_or_else(|| bad("internal: not an object"))?;
        if let Some(set) = &self.signed_entry_timestamp {
            obj.insert(
                "inclusionPromise".into(),
                json!({"signedEntryTimestamp": STANDARD.encode(set)}),
            );
        }
        if let Some(p) = &self.inclusion_proof {
            obj.insert(
                "inclusionProof".into(),
                json!({
                    "logIndex": p.log_index.to_string(),
                    "rootHash": p.root_hash.to_base64(),
                    "treeSize": p.tree_size.to_string(),
                    "hashes": p.hashes.iter().map(Hash::to_base64).collect::<Vec<_>>(),
                    "checkpoint": {"envelope": p.checkpoint},
                }),
            );
        }
        obj.insert(
            "canonicalizedBody".into(),
            Value::String(STANDARD.encode(&self.body)),
        );
        Ok(entry)
    }
}
