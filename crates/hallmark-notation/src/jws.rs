//! The JWS envelope (`application/jose+json`): flattened JSON serialization, as notation writes
//! and reads it (signature-envelope-jws.md).

use crate::attributes::{
    self, AUTHENTIC_SIGNING_TIME, EXPIRY, NOTARY_SIGNED, Protected, RawText, SIGNING_AGENT,
    SIGNING_SCHEME, SIGNING_TIME, TIMESTAMP, attribute,
};
use crate::{Algorithm, Envelope, EnvelopeError, Format, PAYLOAD_MEDIA_TYPE, Payload, b64url};
use base64::Engine as _;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Largest envelope read (bytes); notation's own limit on signature blobs is 2 MiB.
pub const MAX_ENVELOPE_BYTES: usize = 2 * 1024 * 1024;

/// Registered JWS headers, which `crit` must not list.
const REGISTERED: [&str; 3] = ["alg", "cty", "crit"];

fn malformed(found: impl Into<String>) -> EnvelopeError {
    EnvelopeError::Malformed {
        format: "JWS",
        found: found.into(),
    }
}

fn time_of(
    protected: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<OffsetDateTime>, EnvelopeError> {
    match protected.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
            .map(Some)
            .map_err(|e| attribute(key, "an RFC 3339 time", format!("{s:?} ({e})"))),
        Some(other) => Err(attribute(key, "an RFC 3339 time string", other.to_string())),
    }
}

/// Read a JWS envelope.
pub fn parse(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return Err(malformed(format!(
            "{} bytes (at most {MAX_ENVELOPE_BYTES} are read)",
            bytes.len()
        )));
    }
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| malformed(format!("invalid JSON: {e}")))?;
    let top = v
        .as_object()
        .ok_or_else(|| malformed("JSON that is not an object"))?;
    for key in top.keys() {
        if !matches!(
            key.as_str(),
            "payload" | "protected" | "header" | "signature"
        ) {
            return Err(malformed(format!(
                "the top-level member {key:?} (only payload, protected, header and signature are allowed)"
            )));
        }
    }
    let member = |k: &'static str| {
        top.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| malformed(format!("no {k} string")))
    };
    let (payload_b64, protected_b64, signature_b64) = (
        member("payload")?,
        member("protected")?,
        member("signature")?,
    );
    let protected_bytes = b64url(protected_b64, "protected")?;
    let payload_bytes = b64url(payload_b64, "payload")?;
    let signature = b64url(signature_b64, "signature")?;
    let protected: Map<String, Value> = serde_json::from_slice::<Value>(&protected_bytes)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .ok_or_else(|| malformed("a protected header that is not a JSON object"))?;

    let alg_name = protected
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            attribute(
                "alg",
                "PS256, PS384, PS512, ES256, ES384 or ES512",
                "nothing",
            )
        })?;
    let algorithm = Algorithm::from_jws(alg_name).ok_or_else(|| {
        attribute(
            "alg",
            "PS256, PS384, PS512, ES256, ES384 or ES512",
            alg_name,
        )
    })?;
    match protected.get("cty").and_then(Value::as_str) {
        Some(PAYLOAD_MEDIA_TYPE) => {}
        other => return Err(attribute("cty", PAYLOAD_MEDIA_TYPE, format!("{other:?}"))),
    }
    let critical: Vec<String> = match protected.get("crit") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|c| {
                c.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| attribute("crit", "strings", c.to_string()))
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(attribute(
                "crit",
                "a list of critical attribute names",
                format!("{other:?}"),
            ));
        }
    };
    for c in &critical {
        if REGISTERED.contains(&c.as_str()) {
            return Err(attribute("crit", "no registered header names", c.clone()));
        }
    }
    let signing_scheme = match protected.get(SIGNING_SCHEME) {
        None => RawText::Absent,
        Some(Value::String(s)) => RawText::Text(s.clone()),
        Some(other) => RawText::Other(other.to_string()),
    };
    let signing_time = time_of(&protected, SIGNING_TIME)?;
    let authentic_signing_time = time_of(&protected, AUTHENTIC_SIGNING_TIME)?;
    let expiry = time_of(&protected, EXPIRY)?;
    let extended: Map<String, Value> = protected
        .iter()
        .filter(|(k, _)| !REGISTERED.contains(&k.as_str()) && !NOTARY_SIGNED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let attributes = attributes::check(Protected {
        algorithm,
        critical,
        names: protected.keys().cloned().collect(),
        signing_scheme,
        signing_time,
        authentic_signing_time,
        expiry,
        extended,
    })?;

    let header = top
        .get("header")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            malformed("no header object (the certificate chain is unsigned header x5c)")
        })?;
    let chain = match header.get("x5c") {
        Some(Value::Array(certs)) if !certs.is_empty() => certs
            .iter()
            .map(|c| {
                c.as_str()
                    .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                    .ok_or_else(|| {
                        EnvelopeError::Chain(format!("x5c entry {c}: expected standard base64 DER"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(EnvelopeError::Chain(
                "expected header.x5c, the chain from the signing certificate to its root, found none".into(),
            ));
        }
    };
    let timestamp = match header.get(TIMESTAMP) {
        None => None,
        Some(Value::String(s)) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| malformed(format!("{TIMESTAMP} is not base64: {e}")))?,
        ),
        Some(other) => {
            return Err(malformed(format!(
                "{TIMESTAMP} is {other}, not a base64 string"
            )));
        }
    };
    let signing_agent = header
        .get(SIGNING_AGENT)
        .and_then(Value::as_str)
        .map(str::to_owned);
    let payload = Payload::parse(&payload_bytes)?;
    let mut signing_input = Vec::with_capacity(protected_b64.len() + 1 + payload_b64.len());
    signing_input.extend_from_slice(protected_b64.as_bytes());
    signing_input.push(b'.');
    signing_input.extend_from_slice(payload_b64.as_bytes());
    Ok(Envelope {
        format: Format::Jws,
        attributes,
        payload,
        chain,
        timestamp,
        signing_agent,
        signing_input,
        signature,
    })
}
