//! Offline verification of transparency-log entries against trusted logs (pure: no I/O, no
//! clock).
//!
//! An entry comes from cosign's `dev.sigstore.cosign/bundle` annotation (a SET only) or from a
//! Sigstore bundle's `verificationMaterial.tlogEntries[]` (a SET and an inclusion proof with a
//! signed checkpoint). [`verify_entry`] checks, in order:
//!
//! 1. the entry's `logID` is one of the trusted logs (a Sigstore `trusted_root.json`'s `tlogs`,
//!    or bare Rekor keys), and its `integratedTime` lies in that log's `validFor`;
//! 2. the SET: the log key's signature over the RFC 8785 form of `{body, integratedTime,
//!    logID, logIndex}` ([`hallmark_tlog::rekor::SetPayload`]);
//! 3. when an inclusion proof is present: the RFC 9162 inclusion proof of the body's leaf hash
//!    at `inclusionProof.logIndex` in the tree of `treeSize` leaves with `rootHash`; the
//!    checkpoint is signed by the same log key (the note signature whose key ID is the log
//!    key's) and names exactly that size and root.
//!
//! Whether the entry records *this* signature (payload hash, signature, signer) is checked by
//! the caller with [`crate::rekor_set::check_hashedrekord`].
//!
//! [`TlogPolicy`] says what verification requires: nothing, entries that verify when present,
//! or a verified entry for every accepted signature.

use crate::{
    certificate::TRUSTED_ROOT_MEDIA_TYPE_PREFIX,
    rekor_set::{RekorBundle, RekorSetError},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{KeyAlgorithm, PublicKey};
use hallmark_tlog::{Hash, InclusionProof, LogKey, leaf_hash, rekor::SetPayload, verify_inclusion};
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

/// Why a transparency-log entry was not accepted. Values from the entry are untrusted.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlogError {
    /// The policy requires a log entry and the signature has none.
    #[error("no transparency-log entry: {expected}")]
    Missing {
        /// Where one was looked for.
        expected: &'static str,
    },
    /// The entry is malformed.
    #[error("transparency-log entry: {0}")]
    Malformed(RekorSetError),
    /// The entry was made by a log that is not trusted.
    #[error(
        "transparency-log entry is from log {found}, which is not a trusted log (trusted: {})",
        .trusted.join(", ")
    )]
    UnknownLog {
        /// The entry's log ID (hex).
        found: String,
        /// The trusted log IDs (hex).
        trusted: Vec<String>,
    },
    /// The entry's time is outside the log key's validity.
    #[error(
        "transparency-log entry integrated at {integrated_time} is outside the validity of log {log_id} ({valid})"
    )]
    OutsideValidity {
        /// The log ID.
        log_id: String,
        /// The entry's integrated time.
        integrated_time: i64,
        /// The validity window.
        valid: String,
    },
    /// The SET does not verify.
    #[error(
        "the transparency log's SET (signed entry timestamp) does not verify with log {log_id}'s key: the entry was altered or not made by this log"
    )]
    BadSet {
        /// The log ID.
        log_id: String,
    },
    /// The inclusion proof does not verify.
    #[error("inclusion proof: {reason}")]
    BadInclusionProof {
        /// Why.
        reason: String,
    },
    /// The checkpoint does not verify or does not match the proof.
    #[error("inclusion proof checkpoint: {reason}")]
    BadCheckpoint {
        /// Why.
        reason: String,
    },
    /// The entry does not record this signature.
    #[error("transparency-log entry does not record this signature: {0}")]
    Body(RekorSetError),
    /// A trusted root or log key is not usable.
    #[error("trusted transparency logs: {reason}")]
    BadTrustedLogs {
        /// Why.
        reason: String,
    },
    /// The entry's checkpoint is not cosigned as the witness policy requires.
    #[error("transparency-log entry: {reason}")]
    NotWitnessed {
        /// What was expected and found.
        reason: String,
    },
}

/// One trusted log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedLog {
    /// The log key.
    pub key: PublicKey,
    /// The log ID (hex) entries name.
    pub log_id: String,
    /// The log's URL, if known.
    pub base_url: Option<String>,
    /// Start of the key's validity (Unix seconds), if given.
    pub valid_from: Option<i64>,
    /// End of the key's validity (Unix seconds), if given.
    pub valid_until: Option<i64>,
}

/// The logs whose entries are accepted, and the witnesses whose cosignatures their checkpoints
/// must carry, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrustedLogs {
    logs: Vec<TrustedLog>,
    witnesses: Option<hallmark_tlog::witness::WitnessPolicy>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<RawTlog>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlog {
    #[serde(default)]
    base_url: Option<String>,
    public_key: RawKey,
    log_id: RawLogId,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKey {
    raw_bytes: String,
    #[serde(default)]
    valid_for: Option<RawValidity>,
}
#[derive(Deserialize)]
struct RawValidity {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

fn rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

impl TrustedLogs {
    /// Require every entry's inclusion proof to carry a checkpoint whose cosignatures meet
    /// `policy`'s quorum.
    #[must_use]
    pub fn with_witness_policy(mut self, policy: hallmark_tlog::witness::WitnessPolicy) -> Self {
        self.witnesses = Some(policy);
        self
    }

    /// The `tlogs` of a Sigstore `trusted_root.json`. Logs whose key hallmark cannot verify
    /// SETs with (anything but ECDSA P-256, e.g. Rekor v2's Ed25519 logs) are skipped.
    pub fn from_trusted_root(json: &[u8]) -> Result<Self, TlogError> {
        let bad = |reason: String| TlogError::BadTrustedLogs { reason };
        let raw: RawRoot = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
        if !raw.media_type.starts_with(TRUSTED_ROOT_MEDIA_TYPE_PREFIX) {
            return Err(bad(format!(
                "mediaType is {:?}, expected {TRUSTED_ROOT_MEDIA_TYPE_PREFIX}+json;version=0.1",
                raw.media_type
            )));
        }
        let mut logs = Vec::new();
        for (i, t) in raw.tlogs.iter().enumerate() {
            let Some(key) =
                crate::tlog::trusted_log_key(i, &t.public_key.raw_bytes, &t.log_id.key_id)
                    .map_err(bad)?
            else {
                continue;
            };
            let time = |s: &Option<String>, what: &str| -> Result<Option<i64>, TlogError> {
                s.as_deref()
                    .map(|s| {
                        rfc3339(s).ok_or_else(|| {
                            bad(format!(
                                "tlogs[{i}].publicKey.validFor.{what} {s:?} is not RFC 3339"
                            ))
                        })
                    })
                    .transpose()
            };
            let (start, end) = match &t.public_key.valid_for {
                Some(v) => (time(&v.start, "start")?, time(&v.end, "end")?),
                None => (None, None),
            };
            logs.push(TrustedLog {
                log_id: key.fingerprint(),
                key,
                base_url: t.base_url.clone(),
                valid_from: start,
                valid_until: end,
            });
        }
        if logs.is_empty() {
            return Err(bad(
                "no usable tlogs (expected at least one ECDSA P-256 log key)".into(),
            ));
        }
        Ok(Self {
            logs,
            witnesses: None,
        })
    }

    /// Bare log keys (Rekor v1 style: ECDSA P-256, log ID = SHA-256 of the SPKI), valid at
    /// any time.
    pub fn from_keys(keys: &[PublicKey]) -> Result<Self, TlogError> {
        let mut logs = Vec::new();
        for key in keys {
            if key.algorithm() != KeyAlgorithm::EcdsaP256 {
                return Err(TlogError::BadTrustedLogs {
                    reason: format!(
                        "log key sha256:{} is {}, expected ECDSA P-256",
                        key.fingerprint(),
                        key.algorithm()
                    ),
                });
            }
            logs.push(TrustedLog {
                log_id: key.fingerprint(),
                key: key.clone(),
                base_url: None,
                valid_from: None,
                valid_until: None,
            });
        }
        Ok(Self {
            logs,
            witnesses: None,
        })
    }

    /// Both sets of logs.
    pub fn merged(mut self, other: TrustedLogs) -> Self {
        self.witnesses = self.witnesses.or(other.witnesses);
        for l in other.logs {
            if !self.logs.iter().any(|x| x.log_id == l.log_id) {
                self.logs.push(l);
            }
        }
        self
    }

    /// The logs.
    pub fn logs(&self) -> &[TrustedLog] {
        &self.logs
    }

    /// The log keys (for APIs that take bare keys).
    pub fn keys(&self) -> Vec<PublicKey> {
        self.logs.iter().map(|l| l.key.clone()).collect()
    }

    fn find(&self, log_id: &str) -> Result<&TrustedLog, TlogError> {
        self.logs
            .iter()
            .find(|l| l.log_id.eq_ignore_ascii_case(log_id))
            .ok_or_else(|| TlogError::UnknownLog {
                found: log_id.chars().take(100).collect(),
                trusted: self.logs.iter().map(|l| l.log_id.clone()).collect(),
            })
    }
}

/// What verification requires of transparency-log entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TlogPolicy {
    /// Entries are not looked at.
    #[default]
    NotChecked,
    /// An entry a signature carries must verify against these logs; a signature without one
    /// is still accepted.
    VerifyIfPresent(TrustedLogs),
    /// Every accepted signature must carry an entry that verifies against these logs.
    Required(TrustedLogs),
}

impl TlogPolicy {
    /// The trusted logs, unless entries are not checked.
    pub fn logs(&self) -> Option<&TrustedLogs> {
        match self {
            TlogPolicy::NotChecked => None,
            TlogPolicy::VerifyIfPresent(l) | TlogPolicy::Required(l) => Some(l),
        }
    }

    /// Whether an entry is required.
    pub fn is_required(&self) -> bool {
        matches!(self, TlogPolicy::Required(_))
    }
}

/// A log entry as a signature carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogEntry {
    /// Body, SET and the fields it signs.
    pub rekor: RekorBundle,
    /// The inclusion proof with its checkpoint (bundles carry one; cosign's annotation does
    /// not).
    pub inclusion_proof: Option<InclusionProof>,
}

/// A verified entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTlogEntry {
    /// The log ID (hex).
    pub log_id: String,
    /// The log's URL, if the trusted root names it.
    pub base_url: Option<String>,
    /// The entry's index.
    pub log_index: i64,
    /// When the log integrated it (Unix seconds), vouched for by the SET.
    pub integrated_time: i64,
    /// The tree size and root (hex) the inclusion proof was verified against, if there was one.
    pub inclusion: Option<(u64, String)>,
}

impl TlogEntry {
    /// From cosign's `dev.sigstore.cosign/bundle` annotation.
    pub fn from_annotation(json: &[u8]) -> Result<Self, TlogError> {
        Ok(Self {
            rekor: RekorBundle::parse(json).map_err(TlogError::Malformed)?,
            inclusion_proof: None,
        })
    }

    /// From a Sigstore bundle's `tlogEntries[]` item (protojson).
    pub fn from_bundle_entry(entry: &Value) -> Result<Self, TlogError> {
        let rekor = RekorBundle::from_tlog_entry(entry).map_err(TlogError::Malformed)?;
        let inclusion_proof = match entry.get("inclusionProof") {
            None | Some(Value::Null) => None,
            Some(p) => Some(parse_bundle_proof(p)?),
        };
        Ok(Self {
            rekor,
            inclusion_proof,
        })
    }
}

fn parse_bundle_proof(p: &Value) -> Result<InclusionProof, TlogError> {
    let bad = |reason: String| {
        TlogError::Malformed(RekorSetError::Malformed {
            reason: format!("tlog entry inclusionProof: {reason}"),
        })
    };
    let int = |field: &str| -> Result<u64, TlogError> {
        match p.get(field) {
            Some(Value::String(s)) => s.parse().ok(),
            Some(Value::Number(n)) => n.as_u64(),
            // protojson omits zero values
            None => Some(0),
            _ => None,
        }
        .ok_or_else(|| bad(format!("{field} is not an unsigned integer")))
    };
    let hash = |v: &Value, what: &str| -> Result<Hash, TlogError> {
        v.as_str()
            .and_then(|s| Hash::from_base64(s).ok())
            .ok_or_else(|| bad(format!("{what} is not the base64 of 32 bytes")))
    };
    let root_hash = hash(p.get("rootHash").unwrap_or(&Value::Null), "rootHash")?;
    let hashes = match p.get("hashes") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|h| hash(h, "hashes[]"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("hashes is not an array".into())),
    };
    let checkpoint = p
        .pointer("/checkpoint/envelope")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("checkpoint.envelope is missing".into()))?
        .to_owned();
    Ok(InclusionProof {
        log_index: int("logIndex")?,
        root_hash,
        tree_size: int("treeSize")?,
        hashes,
        checkpoint,
    })
}

fn validity_text(log: &TrustedLog) -> String {
    let fmt = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), |t| t.to_string());
    format!(
        "from {} until {}",
        fmt(log.valid_from),
        fmt(log.valid_until)
    )
}

/// Verify an entry against the trusted logs: known log, validity, SET, and the inclusion
/// proof with its checkpoint when present.
pub fn verify_entry(entry: &TlogEntry, logs: &TrustedLogs) -> Result<VerifiedTlogEntry, TlogError> {
    let p = &entry.rekor.payload;
    let log = logs.find(&p.log_id)?;
    let t = p.integrated_time;
    if log.valid_from.is_some_and(|s| t < s) || log.valid_until.is_some_and(|e| t >= e) {
        return Err(TlogError::OutsideValidity {
            log_id: log.log_id.clone(),
            integrated_time: t,
            valid: validity_text(log),
        });
    }
    let set = SetPayload {
        body: p.body.clone(),
        integrated_time: p.integrated_time,
        log_id: p.log_id.clone(),
        log_index: p.log_index,
    };
    set.verify(&log.key, &entry.rekor.signed_entry_timestamp)
        .map_err(|_| TlogError::BadSet {
            log_id: log.log_id.clone(),
        })?;
    let inclusion = match &entry.inclusion_proof {
        None if logs.witnesses.is_some() => {
            return Err(TlogError::NotWitnessed {
                reason: "expected an inclusion proof with a checkpoint cosigned as the witness policy requires, found no inclusion proof".into(),
            });
        }
        None => None,
        Some(proof) => {
            verify_inclusion_proof(&entry.rekor.body, proof, log)?;
            if let Some(policy) = &logs.witnesses {
                let note =
                    hallmark_tlog::note::Note::parse(proof.checkpoint.as_bytes()).map_err(|e| {
                        TlogError::BadCheckpoint {
                            reason: e.to_string(),
                        }
                    })?;
                policy.check(&note).map_err(|e| TlogError::NotWitnessed {
                    reason: format!("the checkpoint of size {}: {e}", proof.tree_size),
                })?;
            }
            Some((proof.tree_size, proof.root_hash.to_hex()))
        }
    };
    Ok(VerifiedTlogEntry {
        log_id: log.log_id.clone(),
        base_url: log.base_url.clone(),
        log_index: p.log_index,
        integrated_time: t,
        inclusion,
    })
}

fn verify_inclusion_proof(
    body: &[u8],
    proof: &InclusionProof,
    log: &TrustedLog,
) -> Result<(), TlogError> {
    verify_inclusion(
        &leaf_hash(body),
        proof.log_index,
        proof.tree_size,
        &proof.hashes,
        &proof.root_hash,
    )
    .map_err(|e| TlogError::BadInclusionProof {
        reason: format!(
            "entry {} in a tree of {}: {e}",
            proof.log_index, proof.tree_size
        ),
    })?;
    let key = LogKey::new(log.key.clone()).map_err(|e| TlogError::BadCheckpoint {
        reason: e.to_string(),
    })?;
    let verified =
        key.open_checkpoint(&proof.checkpoint)
            .map_err(|e| TlogError::BadCheckpoint {
                reason: e.to_string(),
            })?;
    let cp = &verified.checkpoint;
    if cp.size() != proof.tree_size || cp.root() != &proof.root_hash {
        return Err(TlogError::BadCheckpoint {
            reason: format!(
                "the checkpoint is for size {} root {}, the proof for size {} root {}",
                cp.size(),
                cp.root().to_hex(),
                proof.tree_size,
                proof.root_hash.to_hex()
            ),
        });
    }
    Ok(())
}

/// The key of `tlogs[i]` of a `trusted_root.json`: `Ok(None)` for keys hallmark does not use
/// for logs (not ECDSA P-256, or unparsable), an error when the base64 is bad or the log ID is
/// not the SHA-256 of the key.
pub(crate) fn trusted_log_key(
    i: usize,
    raw_bytes: &str,
    key_id: &str,
) -> Result<Option<PublicKey>, String> {
    let der = STANDARD
        .decode(raw_bytes.as_bytes())
        .map_err(|_| format!("tlogs[{i}].publicKey.rawBytes is not base64"))?;
    let key_id = STANDARD
        .decode(key_id.as_bytes())
        .map_err(|_| format!("tlogs[{i}].logId.keyId is not base64"))?;
    let Ok(key) = PublicKey::from_spki_der(&der) else {
        return Ok(None);
    };
    if key.algorithm() != KeyAlgorithm::EcdsaP256 {
        return Ok(None);
    }
    if hex::encode(&key_id) != key.fingerprint() {
        return Err(format!(
            "tlogs[{i}].logId.keyId is {}, expected {} (sha256 of its public key)",
            hex::encode(&key_id),
            key.fingerprint()
        ));
    }
    Ok(Some(key))
}
