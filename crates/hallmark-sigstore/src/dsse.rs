//! DSSE envelopes (Dead Simple Signing Envelope v1.0.0) as cosign writes them.
//!
//! Signatures are over PAE: `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths in
//! ASCII decimal. JSON field order: `payloadType`, `payload`, `signatures[{keyid, sig}]`.

use crate::error::Rejection;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{PublicKey, SigningKey};
use serde::{Deserialize, Serialize};

/// The in-toto payload type.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Key id (cosign writes `""`).
    #[serde(default)]
    pub keyid: String,
    /// Base64 signature.
    pub sig: String,
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Payload type.
    pub payload_type: String,
    /// Base64 payload.
    pub payload: String,
    /// Signatures.
    pub signatures: Vec<EnvelopeSignature>,
}

/// Pre-authentication encoding.
pub use hallmark_core::dsse::pae;

impl Envelope {
    /// Sign `body` as `payload_type` with `key`.
    pub fn sign(
        key: &SigningKey,
        payload_type: &str,
        body: &[u8],
    ) -> Result<Self, hallmark_core::KeyError> {
        let sig = key.sign(&pae(payload_type, body))?;
        Ok(Self::from_signature(payload_type, body, &sig))
    }

    /// An envelope over `body` as `payload_type` carrying `signature`, made by a signer over
    /// [`pae`]`(payload_type, body)` (a key file, token, KMS or Vault key).
    pub fn from_signature(payload_type: &str, body: &[u8], signature: &[u8]) -> Self {
        Envelope {
            payload_type: payload_type.to_owned(),
            payload: STANDARD.encode(body),
            signatures: vec![EnvelopeSignature {
                keyid: String::new(),
                sig: STANDARD.encode(signature),
            }],
        }
    }

    /// Parse envelope JSON.
    pub fn parse(bytes: &[u8]) -> Result<Self, Rejection> {
        serde_json::from_slice(bytes).map_err(|e| Rejection::Malformed {
            reason: format!("DSSE envelope: {e}"),
        })
    }

    /// The decoded payload.
    pub fn body(&self) -> Result<Vec<u8>, Rejection> {
        STANDARD
            .decode(self.payload.as_bytes())
            .map_err(|_| Rejection::Malformed {
                reason: "DSSE payload is not base64".into(),
            })
    }

    /// Verify that at least one signature verifies with one of `keys`; returns the decoded
    /// body and the fingerprint of the key that verified.
    pub fn verify(&self, keys: &[PublicKey]) -> Result<(Vec<u8>, String), Rejection> {
        let body = self.body()?;
        if self.signatures.is_empty() {
            return Err(Rejection::MissingSignature);
        }
        let message = pae(&self.payload_type, &body);
        for s in &self.signatures {
            let Ok(sig) = STANDARD.decode(s.sig.as_bytes()) else {
                continue;
            };
            for k in keys {
                if k.verify(&message, &sig).is_ok() {
                    return Ok((body, k.fingerprint()));
                }
            }
        }
        Err(Rejection::NoKeyVerifies {
            tried: keys.iter().map(PublicKey::fingerprint).collect(),
        })
    }

    /// Compact JSON bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialization of this plain struct cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pae_matches_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            super::pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }
}
