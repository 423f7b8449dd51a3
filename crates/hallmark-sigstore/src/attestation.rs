//! in-toto attestations in cosign's legacy `.att` form: a DSSE envelope
//! (`application/vnd.in-toto+json`) holding an in-toto Statement v0.1 whose subject is the
//! image (`name` = repository, `digest.sha256`), one layer per attestation with the
//! `predicateType` annotation.

use crate::{
    dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE},
    error::Rejection,
};
use hallmark_core::{Digest, PublicKey};
use serde_json::{Value, json};

/// The statement type cosign writes for `.att` attestations.
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// The statement type of in-toto v1 (bundles).
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// cosign's predicate type for `--type custom`.
pub const CUSTOM_PREDICATE: &str = "https://cosign.sigstore.dev/attestation/v1";

/// Map cosign's `--type` names to predicate type URIs; any other value must be a URI and is
/// used as is.
pub fn predicate_type_uri(name: &str) -> Result<String, String> {
    Ok(match name {
        "custom" => CUSTOM_PREDICATE,
        "slsaprovenance" | "slsaprovenance02" => "https://slsa.dev/provenance/v0.2",
        "slsaprovenance1" => "https://slsa.dev/provenance/v1",
        "spdx" | "spdxjson" => "https://spdx.dev/Document",
        "cyclonedx" => "https://cyclonedx.org/bom",
        "link" => "https://in-toto.io/Link/v1",
        "vuln" => "https://cosign.sigstore.dev/attestation/vuln/v1",
        "openvex" => "https://openvex.dev/ns",
        other if other.contains("://") => return Ok(other.to_owned()),
        other => {
            return Err(format!(
                "unknown predicate type {other:?}: expected slsaprovenance, slsaprovenance1, spdxjson, cyclonedx, vuln, openvex, link, custom or a URI"
            ));
        }
    }
    .to_owned())
}

/// Build the predicate as cosign does: for the custom type, `{"Data": <file text>,
/// "Timestamp": <RFC 3339>}`; for every other type the file must be JSON and is used as is.
pub fn build_predicate(
    predicate_type: &str,
    file: &[u8],
    timestamp_rfc3339: &str,
) -> Result<Value, String> {
    if predicate_type == CUSTOM_PREDICATE {
        let text = String::from_utf8(file.to_vec())
            .map_err(|_| "predicate file is not UTF-8 text".to_owned())?;
        return Ok(json!({"Data": text, "Timestamp": timestamp_rfc3339}));
    }
    serde_json::from_slice(file)
        .map_err(|e| format!("predicate file is not JSON (required for {predicate_type}): {e}"))
}

/// Build statement bytes (v0.1) for an image.
pub fn build_statement(
    repository: &str,
    digest: &Digest,
    predicate_type: &str,
    predicate: Value,
) -> Vec<u8> {
    let mut digest_map = serde_json::Map::new();
    digest_map.insert(
        digest.algorithm_name().to_owned(),
        Value::String(digest.hex().to_owned()),
    );
    let statement = json!({
        "_type": STATEMENT_V01,
        "predicateType": predicate_type,
        "subject": [{"name": repository, "digest": Value::Object(digest_map)}],
        "predicate": predicate,
    });
    serde_json::to_vec(&statement).unwrap_or_default()
}

/// A verified attestation.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedAttestation {
    /// Fingerprint of the key that verified it.
    pub key_fingerprint: String,
    /// The predicate type.
    pub predicate_type: String,
    /// The whole statement.
    pub statement: Value,
}

/// Check that a statement names `digest` among its subjects; returns the parsed statement.
pub fn check_statement(body: &[u8], digest: &Digest) -> Result<Value, Rejection> {
    let statement: Value = serde_json::from_slice(body).map_err(|e| Rejection::Malformed {
        reason: format!("in-toto statement is not JSON: {e}"),
    })?;
    let ty = statement
        .get("_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if ty != STATEMENT_V01 && ty != STATEMENT_V1 {
        return Err(Rejection::Malformed {
            reason: format!(
                "statement _type is {ty:?}, expected {STATEMENT_V01} or {STATEMENT_V1}"
            ),
        });
    }
    let subjects = statement
        .get("subject")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let found: Vec<String> = subjects
        .iter()
        .filter_map(|s| {
            s.get("digest")?
                .get(digest.algorithm_name())?
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    if !found.iter().any(|h| h == digest.hex()) {
        return Err(Rejection::DigestMismatch {
            expected: digest.to_string(),
            found: if found.is_empty() {
                "no subject digest".to_owned()
            } else {
                found
                    .iter()
                    .map(|h| format!("{}:{h}", digest.algorithm_name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        });
    }
    Ok(statement)
}

/// Verify a DSSE attestation layer for `digest`, optionally requiring a predicate type.
pub fn verify_attestation(
    envelope_bytes: &[u8],
    digest: &Digest,
    keys: &[PublicKey],
    predicate_type: Option<&str>,
) -> Result<VerifiedAttestation, Rejection> {
    let envelope = Envelope::parse(envelope_bytes)?;
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(Rejection::Malformed {
            reason: format!(
                "DSSE payloadType is {:?}, expected {IN_TOTO_PAYLOAD_TYPE}",
                envelope.payload_type
            ),
        });
    }
    let (body, key_fingerprint) = envelope.verify(keys)?;
    let statement = check_statement(&body, digest)?;
    let found_type = statement
        .get("predicateType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(want) = predicate_type
        && found_type != want
    {
        return Err(Rejection::Malformed {
            reason: format!("predicate type is {found_type:?}, expected {want:?}"),
        });
    }
    Ok(VerifiedAttestation {
        key_fingerprint,
        predicate_type: found_type,
        statement,
    })
}
