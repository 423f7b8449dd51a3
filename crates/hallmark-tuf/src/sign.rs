//! Writing signed metadata as the notary client writes it: the canonical `signed` object and
//! its signatures in a compact `{"signed":..,"signatures":[..]}` envelope (Go's
//! `json.Marshal` of notary's `data.Signed`: fields `keyid`, `method`, `sig` in that order,
//! `sig` base64).

use crate::canonical::to_canonical;
use crate::error::TufError;
use crate::keyfile::PrivateKey;
use crate::model::Signature;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// Signs the `signed` object with every key and returns the file bytes.
///
/// `signed` must be a JSON object with integers only (Notary's canonical JSON has no floats).
pub fn sign_metadata(signed: &Value, keys: &[&PrivateKey]) -> Result<Vec<u8>, TufError> {
    let canonical = to_canonical(signed)?;
    let mut signatures = Vec::with_capacity(keys.len());
    for key in keys {
        let s = key.sign(&canonical).map_err(|e| TufError::Signing {
            key_id: key.key_id(),
            reason: e.to_string(),
        })?;
        signatures.push(s);
    }
    Ok(envelope(&canonical, &signatures))
}

/// The file bytes for canonical `signed` bytes and signatures made over them.
pub fn envelope(canonical_signed: &[u8], signatures: &[Signature]) -> Vec<u8> {
    let mut out = Vec::with_capacity(canonical_signed.len() + 64 + signatures.len() * 200);
    out.extend_from_slice(b"{\"signed\":");
    out.extend_from_slice(canonical_signed);
    out.extend_from_slice(b",\"signatures\":[");
    for (i, s) in signatures.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Key IDs are hex and methods are fixed ASCII names; serde_json escapes them anyway.
        let key_id = serde_json::to_string(&s.key_id).unwrap_or_default();
        let method = serde_json::to_string(&s.method).unwrap_or_default();
        out.extend_from_slice(b"{\"keyid\":");
        out.extend_from_slice(key_id.as_bytes());
        out.extend_from_slice(b",\"method\":");
        out.extend_from_slice(method.as_bytes());
        out.extend_from_slice(b",\"sig\":\"");
        out.extend_from_slice(STANDARD.encode(&s.sig).as_bytes());
        out.extend_from_slice(b"\"}");
    }
    out.extend_from_slice(b"]}");
    out
}
