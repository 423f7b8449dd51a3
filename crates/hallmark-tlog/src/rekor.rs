//! Rekor v1 helpers: the `hashedrekord` 0.0.1 entry body, entry UUIDs, log IDs and the Signed
//! Entry Timestamp (SET, the "inclusion promise").
//!
//! - The canonical body is the RFC 8785 form of
//!   `{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256",
//!   "value":"<hex>"}},"signature":{"content":"<base64 signature>","publicKey":{"content":
//!   "<base64 of a PEM public key or certificate>"}}}}`; it is the leaf data of the log.
//! - The entry UUID is the hex RFC 6962 leaf hash of the canonical body; the 80-hex entry ID is
//!   the 16-hex tree ID followed by the UUID.
//! - The log ID is the hex SHA-256 of the log key's DER SubjectPublicKeyInfo.
//! - The SET is the log key's ECDSA P-256 / SHA-256 (ASN.1 DER) signature over the RFC 8785
//!   form of `{"body":"<base64 canonical body>","integratedTime":<unix seconds>,"logID":"<hex>",
//!   "logIndex":<index>}`. These bytes are the same as those cosign, sigstore-go and
//!   `hallmark_sigstore::rekor_set` verify.

use crate::hash::{Hash, leaf_hash};
use crate::jcs::write_string;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{Digest, KeyAlgorithm, PublicKey, SigningKey};
use serde_json::{Map, Value};
use thiserror::Error;

/// The `kind` of hashedrekord entries.
pub const HASHEDREKORD_KIND: &str = "hashedrekord";
/// The `kind` of DSSE entries (what cosign 3 logs for the envelopes of its bundles).
pub const DSSE_KIND: &str = "dsse";
/// The `apiVersion` of DSSE entries implemented here.
pub const DSSE_V001: &str = "0.0.1";
/// The `apiVersion` implemented here.
pub const HASHEDREKORD_V001: &str = "0.0.1";

/// Why a Rekor entry or SET was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RekorError {
    /// The entry is not JSON.
    #[error("Rekor entry is not JSON: {reason}")]
    NotJson {
        /// The parser's message.
        reason: String,
    },
    /// The entry is not a hashedrekord 0.0.1 entry.
    #[error(
        "Rekor entry is kind {kind:?} apiVersion {api_version:?}, expected {HASHEDREKORD_KIND:?} {HASHEDREKORD_V001:?}"
    )]
    UnsupportedEntry {
        /// `kind` found.
        kind: String,
        /// `apiVersion` found.
        api_version: String,
    },
    /// A field is missing, of the wrong type, unknown or has a bad value.
    #[error("hashedrekord field {field}: {reason}")]
    BadField {
        /// The JSON path of the field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A field of a `dsse` entry is missing, of the wrong type, unknown or has a bad value.
    #[error("dsse field {field}: {reason}")]
    BadDsseField {
        /// The JSON path of the field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A tree ID or UUID that cannot form an entry ID.
    #[error("invalid entry UUID {found:?}: expected 64 lower-case hex digits")]
    BadUuid {
        /// The UUID given.
        found: String,
    },
    /// The log key is not an ECDSA P-256 key.
    #[error("Rekor log key is {found}, expected an ECDSA P-256 key")]
    UnsupportedLogKey {
        /// The key's algorithm.
        found: &'static str,
    },
    /// Signing the SET failed.
    #[error("signing the SET failed: {reason}")]
    Signing {
        /// Why.
        reason: String,
    },
    /// The SET does not verify.
    #[error("the SET does not verify with log key {log_id}")]
    BadSet {
        /// The log ID of the key tried.
        log_id: String,
    },
    /// The payload's logID is not the key's.
    #[error("SET payload logID is {found:?}, expected {expected} (the log key's ID)")]
    LogIdMismatch {
        /// The key's log ID.
        expected: String,
        /// The payload's.
        found: String,
    },
}

/// A `hashedrekord` 0.0.1 entry: a signature over an artifact digest by a key or certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedRekord {
    /// The artifact digest (`spec.data.hash`): sha256, sha384 or sha512.
    pub digest: Digest,
    /// The signature (`spec.signature.content`, decoded).
    pub signature: Vec<u8>,
    /// The PEM public key or certificate (`spec.signature.publicKey.content`, decoded).
    pub signer_pem: Vec<u8>,
}

fn bad(field: &'static str, reason: impl Into<String>) -> RekorError {
    RekorError::BadField {
        field,
        reason: reason.into(),
    }
}

/// The object at `field`, with exactly the member names `names`.
fn object<'a>(
    value: &'a Value,
    field: &'static str,
    names: &[&str],
) -> Result<&'a Map<String, Value>, RekorError> {
    let map = value
        .as_object()
        .ok_or_else(|| bad(field, "expected an object"))?;
    for name in names {
        if !map.contains_key(*name) {
            return Err(bad(field, format!("expected a member {name:?}")));
        }
    }
    if let Some(extra) = map.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(bad(field, format!("unexpected member {extra:?}")));
    }
    Ok(map)
}

fn member<'a>(
    map: &'a Map<String, Value>,
    name: &str,
    field: &'static str,
) -> Result<&'a Value, RekorError> {
    map.get(name)
        .ok_or_else(|| bad(field, format!("expected a member {name:?}")))
}

fn string<'a>(
    map: &'a Map<String, Value>,
    name: &str,
    field: &'static str,
) -> Result<&'a str, RekorError> {
    member(map, name, field)?
        .as_str()
        .ok_or_else(|| bad(field, "expected a string"))
}

fn base64_field(
    map: &Map<String, Value>,
    name: &str,
    field: &'static str,
) -> Result<Vec<u8>, RekorError> {
    let bytes = STANDARD
        .decode(string(map, name, field)?)
        .map_err(|_| bad(field, "expected standard base64"))?;
    if bytes.is_empty() {
        return Err(bad(field, "expected a non-empty value"));
    }
    Ok(bytes)
}

/// An entry as JSON.
fn parse_json(json: &[u8]) -> Result<Value, RekorError> {
    serde_json::from_slice(json).map_err(|e| RekorError::NotJson {
        reason: e.to_string(),
    })
}

/// The `spec` of an entry that must be `kind` `api_version`, with exactly the members
/// `spec_names`.
fn entry_spec<'a>(
    value: &'a Value,
    kind: &str,
    api_version: &str,
    spec_names: &[&str],
) -> Result<&'a Map<String, Value>, RekorError> {
    let top = object(value, "(entry)", &["apiVersion", "kind", "spec"])?;
    let found_kind = string(top, "kind", "kind")?;
    let found_version = string(top, "apiVersion", "apiVersion")?;
    if found_kind != kind || found_version != api_version {
        return Err(RekorError::UnsupportedEntry {
            kind: found_kind.to_owned(),
            api_version: found_version.to_owned(),
        });
    }
    object(member(top, "spec", "spec")?, "spec", spec_names)
}

/// `{"apiVersion":...,"kind":...,"spec":` (RFC 8785 member order), the start of every body.
fn write_head(out: &mut String, api_version: &str, kind: &str) {
    out.push_str("{\"apiVersion\":");
    write_string(out, api_version);
    out.push_str(",\"kind\":");
    write_string(out, kind);
    out.push_str(",\"spec\":");
}

impl HashedRekord {
    /// Parse an entry (a proposed entry as submitted, or a canonical body). Unknown members
    /// are rejected, as in Rekor's schema.
    pub fn parse(json: &[u8]) -> Result<Self, RekorError> {
        let value = parse_json(json)?;
        let spec = entry_spec(
            &value,
            HASHEDREKORD_KIND,
            HASHEDREKORD_V001,
            &["data", "signature"],
        )?;
        let data = object(member(spec, "data", "spec.data")?, "spec.data", &["hash"])?;
        let hash = object(
            member(data, "hash", "spec.data.hash")?,
            "spec.data.hash",
            &["algorithm", "value"],
        )?;
        let algorithm = string(hash, "algorithm", "spec.data.hash.algorithm")?;
        let value = string(hash, "value", "spec.data.hash.value")?;
        let digest = Digest::parse(&format!("{algorithm}:{value}"))
            .map_err(|e| bad("spec.data.hash", e.to_string()))?;
        let signature = object(
            member(spec, "signature", "spec.signature")?,
            "spec.signature",
            &["content", "publicKey"],
        )?;
        let sig = base64_field(signature, "content", "spec.signature.content")?;
        let public_key = object(
            member(signature, "publicKey", "spec.signature.publicKey")?,
            "spec.signature.publicKey",
            &["content"],
        )?;
        let signer_pem = base64_field(public_key, "content", "spec.signature.publicKey.content")?;
        Ok(Self {
            digest,
            signature: sig,
            signer_pem,
        })
    }

    /// The canonical body (RFC 8785), the log's leaf data.
    pub fn canonical_body(&self) -> Vec<u8> {
        let mut out = String::with_capacity(256 + self.signer_pem.len() * 4 / 3);
        write_head(&mut out, HASHEDREKORD_V001, HASHEDREKORD_KIND);
        out.push_str("{\"data\":{\"hash\":{\"algorithm\":");
        write_string(&mut out, self.digest.algorithm_name());
        out.push_str(",\"value\":");
        write_string(&mut out, self.digest.hex());
        out.push_str("}},\"signature\":{\"content\":");
        write_string(&mut out, &STANDARD.encode(&self.signature));
        out.push_str(",\"publicKey\":{\"content\":");
        write_string(&mut out, &STANDARD.encode(&self.signer_pem));
        out.push_str("}}}}");
        out.into_bytes()
    }

    /// The leaf hash of the canonical body.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.canonical_body())
    }

    /// The entry UUID (hex leaf hash of the canonical body).
    pub fn uuid(&self) -> String {
        entry_uuid(&self.canonical_body())
    }
}

/// A proposed `dsse` 0.0.1 entry: a DSSE envelope with its signatures and the verifiers (PEM
/// public keys or certificates) that signed them. What a client submits is
/// `{"apiVersion":"0.0.1","kind":"dsse","spec":{"proposedContent":{"envelope":"<the envelope's
/// JSON, as a string>","verifiers":["<base64 PEM>",...]}}}`; what the log stores is its canonical
/// body, Rekor's: `{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelopeHash":{"algorithm":
/// "sha256","value":"<hex of the envelope string>"},"payloadHash":{"algorithm":"sha256","value":
/// "<hex of the decoded payload>"},"signatures":[{"signature":"<base64>","verifier":
/// "<base64 PEM>"},...]}}` (RFC 8785), one member per distinct signature, sorted by signature.
/// Which verifier goes with which signature is only known once they are checked: see
/// [`DsseRekord::pair`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsseRekord {
    /// The envelope as submitted (a JSON document).
    pub envelope: String,
    /// The envelope's `payloadType`.
    pub payload_type: String,
    /// The envelope's payload, decoded.
    pub payload: Vec<u8>,
    /// The envelope's signatures, in the envelope's order (at least one).
    pub signatures: Vec<DsseSignature>,
    /// The PEM public keys or certificates proposed as verifiers, in order (at least one).
    pub verifiers: Vec<Vec<u8>>,
}

/// One signature of a DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsseSignature {
    /// `sig` as written in the envelope (base64).
    pub sig: String,
    /// `sig` decoded.
    pub bytes: Vec<u8>,
    /// `keyid` (empty when absent).
    pub keyid: String,
}

/// Base64 as DSSE implementations read it: standard, else URL-safe (both padded).
fn dsse_base64(text: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
        .ok()
}

/// A `dsse` entry whose signatures are paired with their verifiers: what the log stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsseSigned {
    envelope_hash: Digest,
    payload_hash: Digest,
    /// (signature as base64, verifier PEM), one per distinct signature, sorted by signature.
    signatures: Vec<(String, Vec<u8>)>,
}

fn dsse_bad(field: &'static str, reason: impl Into<String>) -> RekorError {
    RekorError::BadDsseField {
        field,
        reason: reason.into(),
    }
}

impl DsseRekord {
    /// An entry for `envelope` (its JSON text), proposing `verifiers` (PEM public keys or
    /// certificates) as its signers.
    pub fn new(envelope: &str, verifiers: Vec<Vec<u8>>) -> Result<Self, RekorError> {
        const ENVELOPE: &str = "spec.proposedContent.envelope";
        let value: Value =
            serde_json::from_str(envelope).map_err(|e| dsse_bad(ENVELOPE, e.to_string()))?;
        let map = value
            .as_object()
            .ok_or_else(|| dsse_bad(ENVELOPE, "expected an object"))?;
        let text = |name: &str| {
            map.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| dsse_bad(ENVELOPE, format!("expected a string member {name:?}")))
        };
        let payload_type = text("payloadType")?.to_owned();
        let payload = dsse_base64(text("payload")?)
            .ok_or_else(|| dsse_bad(ENVELOPE, "payload: expected base64"))?;
        let listed = map
            .get("signatures")
            .and_then(Value::as_array)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| dsse_bad(ENVELOPE, "expected a non-empty signatures array"))?;
        let signatures = listed
            .iter()
            .enumerate()
            .map(|(i, one)| {
                let sig = one.get("sig").and_then(Value::as_str).unwrap_or_default();
                let bytes = dsse_base64(sig).filter(|b| !b.is_empty()).ok_or_else(|| {
                    dsse_bad(
                        ENVELOPE,
                        format!("signatures[{i}].sig: expected non-empty base64"),
                    )
                })?;
                let keyid = match one.get("keyid") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(k)) => k.clone(),
                    Some(_) => {
                        return Err(dsse_bad(
                            ENVELOPE,
                            format!("signatures[{i}].keyid: expected a string"),
                        ));
                    }
                };
                Ok(DsseSignature {
                    sig: sig.to_owned(),
                    bytes,
                    keyid,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if verifiers.is_empty() {
            return Err(dsse_bad(
                "spec.proposedContent.verifiers",
                "expected at least one verifier",
            ));
        }
        if let Some(i) = verifiers.iter().position(Vec::is_empty) {
            return Err(dsse_bad(
                "spec.proposedContent.verifiers",
                format!("verifiers[{i}]: expected a non-empty PEM"),
            ));
        }
        Ok(Self {
            envelope: envelope.to_owned(),
            payload_type,
            payload,
            signatures,
            verifiers,
        })
    }

    /// Parse a proposed entry (as a client submits it). Unknown members are rejected.
    pub fn parse_proposed(json: &[u8]) -> Result<Self, RekorError> {
        // The shared readers name hashedrekord fields; these are a dsse entry's.
        let dsse = |e: RekorError| match e {
            RekorError::BadField { field, reason } => RekorError::BadDsseField { field, reason },
            other => other,
        };
        let value = parse_json(json)?;
        let spec = entry_spec(&value, DSSE_KIND, DSSE_V001, &["proposedContent"]).map_err(dsse)?;
        let proposed = object(
            member(spec, "proposedContent", "spec.proposedContent").map_err(dsse)?,
            "spec.proposedContent",
            &["envelope", "verifiers"],
        )
        .map_err(dsse)?;
        let envelope =
            string(proposed, "envelope", "spec.proposedContent.envelope").map_err(dsse)?;
        let verifiers = member(proposed, "verifiers", "spec.proposedContent.verifiers")
            .map_err(dsse)?
            .as_array()
            .ok_or_else(|| dsse_bad("spec.proposedContent.verifiers", "expected an array"))?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .and_then(|v| STANDARD.decode(v).ok())
                    .ok_or_else(|| {
                        dsse_bad(
                            "spec.proposedContent.verifiers",
                            format!("verifiers[{i}]: expected standard base64 of a PEM"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(envelope, verifiers)
    }

    /// The proposed entry a client submits.
    pub fn proposed_json(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.envelope.len() * 2 + 256);
        write_head(&mut out, DSSE_V001, DSSE_KIND);
        out.push_str("{\"proposedContent\":{\"envelope\":");
        write_string(&mut out, &self.envelope);
        out.push_str(",\"verifiers\":[");
        for (i, verifier) in self.verifiers.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(&mut out, &STANDARD.encode(verifier));
        }
        out.push_str("]}}}");
        out.into_bytes()
    }

    /// The DSSE pre-authentication encoding the signatures are over.
    pub fn pae(&self) -> Vec<u8> {
        hallmark_core::dsse::pae(&self.payload_type, &self.payload)
    }

    /// Pair the envelope's signatures with the verifiers that made them, as Rekor does:
    /// verifiers are taken in order while some signature is still unverified; each is paired
    /// with the first signature, in the envelope's order, that it verifies (a later verifier
    /// replacing an earlier one on the same signature), and must verify one; in the end every
    /// signature must be paired. `verifies(v, s)` says whether verifier `v` verifies signature
    /// `s` (indexes into [`Self::verifiers`] and [`Self::signatures`]) over [`Self::pae`],
    /// the signature's `keyid`, when it has one, naming the key (see
    /// [`PublicKey::ssh_key_id`]).
    pub fn pair(
        &self,
        mut verifies: impl FnMut(usize, usize) -> bool,
    ) -> Result<DsseSigned, RekorError> {
        let mut verifier_of: Vec<Option<usize>> = vec![None; self.signatures.len()];
        for v in 0..self.verifiers.len() {
            if verifier_of.iter().all(Option::is_some) {
                break;
            }
            let Some(s) = (0..self.signatures.len()).find(|&s| verifies(v, s)) else {
                return Err(dsse_bad(
                    "spec.proposedContent.verifiers",
                    format!(
                        "verifiers[{v}] verifies none of the envelope's {} signature(s) over its DSSE pre-authentication encoding",
                        self.signatures.len()
                    ),
                ));
            };
            // Rekor keys signatures by their text: copies of one are paired together.
            let text = &self.signatures[s].sig;
            for (paired, other) in verifier_of.iter_mut().zip(&self.signatures) {
                if &other.sig == text {
                    *paired = Some(v);
                }
            }
        }
        let mut signatures = Vec::with_capacity(self.signatures.len());
        for (s, paired) in verifier_of.iter().enumerate() {
            let Some(v) = paired else {
                return Err(dsse_bad(
                    "spec.proposedContent.envelope",
                    format!(
                        "signatures[{s}] is verified by none of the {} verifier(s)",
                        self.verifiers.len()
                    ),
                ));
            };
            signatures.push((self.signatures[s].sig.clone(), self.verifiers[*v].clone()));
        }
        // Rekor keys the pairs by signature text: one member per distinct signature, sorted.
        signatures.sort_by(|a, b| a.0.cmp(&b.0));
        signatures.dedup_by(|a, b| a.0 == b.0);
        Ok(DsseSigned {
            envelope_hash: Digest::sha256_of(self.envelope.as_bytes()),
            payload_hash: Digest::sha256_of(&self.payload),
            signatures,
        })
    }
}

impl DsseSigned {
    /// The canonical body (RFC 8785), the log's leaf data.
    pub fn canonical_body(&self) -> Vec<u8> {
        let listed: usize = self.signatures.iter().map(|(s, v)| s.len() + v.len()).sum();
        let mut out = String::with_capacity(512 + listed * 4 / 3);
        write_head(&mut out, DSSE_V001, DSSE_KIND);
        out.push_str("{\"envelopeHash\":{\"algorithm\":\"sha256\",\"value\":");
        write_string(&mut out, self.envelope_hash.hex());
        out.push_str("},\"payloadHash\":{\"algorithm\":\"sha256\",\"value\":");
        write_string(&mut out, self.payload_hash.hex());
        out.push_str("},\"signatures\":[");
        for (i, (signature, verifier)) in self.signatures.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"signature\":");
            write_string(&mut out, signature);
            out.push_str(",\"verifier\":");
            write_string(&mut out, &STANDARD.encode(verifier));
            out.push('}');
        }
        out.push_str("]}}");
        out.into_bytes()
    }
}

/// The entry UUID of a canonical body: the hex RFC 6962 leaf hash.
pub fn entry_uuid(canonical_body: &[u8]) -> String {
    leaf_hash(canonical_body).to_hex()
}

/// The 80-hex entry ID: 16 hex digits of the tree ID, then the UUID.
pub fn entry_id(tree_id: u64, uuid: &str) -> Result<String, RekorError> {
    if Hash::from_hex(uuid).is_err() {
        return Err(RekorError::BadUuid {
            found: uuid.chars().take(100).collect(),
        });
    }
    Ok(format!("{tree_id:016x}{uuid}"))
}

/// The log ID: hex SHA-256 of the log key's DER SubjectPublicKeyInfo.
pub fn log_id(key: &PublicKey) -> String {
    key.fingerprint()
}

fn require_p256(algorithm: KeyAlgorithm) -> Result<(), RekorError> {
    if algorithm == KeyAlgorithm::EcdsaP256 {
        Ok(())
    } else {
        Err(RekorError::UnsupportedLogKey {
            found: algorithm.name(),
        })
    }
}

/// What a SET signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetPayload {
    /// Base64 of the canonical body (as given to / by the log).
    pub body: String,
    /// When the log integrated the entry, Unix seconds.
    pub integrated_time: i64,
    /// The log ID (hex).
    pub log_id: String,
    /// The entry's (virtual) log index.
    pub log_index: i64,
}

impl SetPayload {
    /// The payload for an entry this log integrated.
    pub fn new(
        canonical_body: &[u8],
        integrated_time: i64,
        log_key: &PublicKey,
        log_index: i64,
    ) -> Self {
        Self {
            body: STANDARD.encode(canonical_body),
            integrated_time,
            log_id: log_id(log_key),
            log_index,
        }
    }

    /// The RFC 8785 bytes the SET signs.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.body.len() + 160);
        out.push_str("{\"body\":");
        write_string(&mut out, &self.body);
        out.push_str(&format!(
            ",\"integratedTime\":{},\"logID\":",
            self.integrated_time
        ));
        write_string(&mut out, &self.log_id);
        out.push_str(&format!(",\"logIndex\":{}}}", self.log_index));
        out.into_bytes()
    }

    /// Sign: the SET (ECDSA P-256 / SHA-256, ASN.1 DER). The key must be the one `log_id`
    /// names.
    pub fn sign(&self, log_key: &SigningKey) -> Result<Vec<u8>, RekorError> {
        require_p256(log_key.algorithm())?;
        self.check_log_id(log_key.public_key())?;
        log_key
            .sign(&self.canonical_bytes())
            .map_err(|e| RekorError::Signing {
                reason: e.to_string(),
            })
    }

    /// Verify a SET with the log key, and that `log_id` names that key.
    pub fn verify(&self, log_key: &PublicKey, set: &[u8]) -> Result<(), RekorError> {
        require_p256(log_key.algorithm())?;
        log_key
            .verify(&self.canonical_bytes(), set)
            .map_err(|_| RekorError::BadSet {
                log_id: log_id(log_key),
            })?;
        self.check_log_id(log_key)
    }

    fn check_log_id(&self, key: &PublicKey) -> Result<(), RekorError> {
        let expected = log_id(key);
        if self.log_id != expected {
            return Err(RekorError::LogIdMismatch {
                expected,
                found: self.log_id.clone(),
            });
        }
        Ok(())
    }
}
