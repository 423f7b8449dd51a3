//! The COSE envelope (`application/cose`): `COSE_Sign1_Tagged` (RFC 9052, CBOR tag 18), as
//! notation writes and reads it (signature-envelope-cose.md).
//!
//! Protected header: label 1 `alg` (an integer, one of the six notation allows), label 2 `crit`,
//! label 3 content type ([`PAYLOAD_MEDIA_TYPE`](crate::PAYLOAD_MEDIA_TYPE)), and the string
//! labels `io.cncf.notary.signingScheme`, `io.cncf.notary.signingTime`,
//! `io.cncf.notary.authenticSigningTime` and `io.cncf.notary.expiry` (times as CBOR tag 1
//! epoch integers). Unprotected header: label 33 `x5chain` (the chain, leaf first),
//! `io.cncf.notary.timestampSignature` and `io.cncf.notary.signingAgent`. The signature is over
//! `Sig_structure = ["Signature1", protected, h'', payload]` with the protected header's bytes
//! as received.
//!
//! Extended attributes (other labels of the protected header) are given in their JSON form:
//! byte strings as standard base64, tags as their content, integer labels and map keys in
//! decimal.

use crate::attributes::{
    self, AUTHENTIC_SIGNING_TIME, EXPIRY, NOTARY_SIGNED, Protected, RawText, SIGNING_AGENT,
    SIGNING_SCHEME, SIGNING_TIME, TIMESTAMP, attribute,
};
use crate::jws::MAX_ENVELOPE_BYTES;
use crate::{Algorithm, Envelope, EnvelopeError, Format, PAYLOAD_MEDIA_TYPE, Payload};
use base64::Engine as _;
use coset::cbor::value::Value;
use coset::{AsCborValue as _, CoseSign1, Label};
use serde_json::Map;
use time::OffsetDateTime;

/// The CBOR tag of `COSE_Sign1_Tagged`.
pub const TAG: u64 = 18;
/// Header label `alg`.
const ALG: i128 = 1;
/// Header label `crit`.
const CRIT: i128 = 2;
/// Header label content type.
const CONTENT_TYPE: i128 = 3;
/// Header label `x5chain` (RFC 9360).
pub(crate) const X5CHAIN: i64 = 33;
const X5CHAIN_LABEL: i128 = 33;
const ALGORITHMS: &str =
    "-37 (PS256), -38 (PS384), -39 (PS512), -7 (ES256), -35 (ES384) or -36 (ES512)";

fn malformed(found: impl Into<String>) -> EnvelopeError {
    EnvelopeError::Malformed {
        format: "COSE",
        found: found.into(),
    }
}

/// A short description of a CBOR item, for error messages.
fn describe(v: &Value) -> String {
    match v {
        Value::Integer(i) => format!("the integer {}", i128::from(*i)),
        Value::Bytes(b) => format!("a byte string of {} bytes", b.len()),
        Value::Float(f) => format!("the float {f}"),
        Value::Text(t) => format!("the text {t:?}"),
        Value::Bool(b) => format!("{b}"),
        Value::Null => "null".into(),
        Value::Tag(t, _) => format!("an item with CBOR tag {t}"),
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::Map(m) => format!("a map of {} entries", m.len()),
        _ => "an unknown CBOR item".into(),
    }
}

/// The first CBOR item of `bytes`, and how many bytes follow it.
fn read_first(mut bytes: &[u8], what: &str) -> Result<(Value, usize), EnvelopeError> {
    let value: Value = coset::cbor::de::from_reader(&mut bytes)
        .map_err(|e| malformed(format!("an {what} that is not CBOR: {e}")))?;
    Ok((value, bytes.len()))
}

fn no_trailing(trailing: usize, what: &str) -> Result<(), EnvelopeError> {
    if trailing == 0 {
        Ok(())
    } else {
        Err(malformed(format!("{trailing} bytes after the {what}")))
    }
}

/// A header label as `crit` lists it and as extended attributes are named.
fn label_name(label: &Value) -> Option<String> {
    match label {
        Value::Text(t) => Some(t.clone()),
        Value::Integer(i) => Some(i128::from(*i).to_string()),
        _ => None,
    }
}

fn int_label(label: &Value) -> Option<i128> {
    match label {
        Value::Integer(i) => Some(i128::from(*i)),
        _ => None,
    }
}

fn text_label<'a>(entries: &'a [(Value, Value)], name: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|(k, _)| matches!(k, Value::Text(t) if t == name))
        .map(|(_, v)| v)
}

fn int_entry(entries: &[(Value, Value)], label: i128) -> Option<&Value> {
    entries
        .iter()
        .find(|(k, _)| int_label(k) == Some(label))
        .map(|(_, v)| v)
}

/// A time attribute: CBOR tag 1 over an integer count of seconds since the epoch.
fn time_of(
    entries: &[(Value, Value)],
    key: &'static str,
) -> Result<Option<OffsetDateTime>, EnvelopeError> {
    let Some(v) = text_label(entries, key) else {
        return Ok(None);
    };
    const EXPECTED: &str = "an epoch date/time (CBOR tag 1 over integer seconds)";
    match v {
        Value::Tag(1, inner) => match inner.as_ref() {
            Value::Integer(i) => i64::try_from(i128::from(*i))
                .ok()
                .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                .map(Some)
                .ok_or_else(|| attribute(key, EXPECTED, format!("{} seconds", i128::from(*i)))),
            other => Err(attribute(
                key,
                EXPECTED,
                format!("tag 1 over {}", describe(other)),
            )),
        },
        other => Err(attribute(key, EXPECTED, describe(other))),
    }
}

/// The JSON form of a CBOR item (extended attributes).
fn json_of(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Integer(i) => {
            let i = i128::from(*i);
            if let Ok(n) = i64::try_from(i) {
                J::from(n)
            } else if let Ok(n) = u64::try_from(i) {
                J::from(n)
            } else {
                J::String(i.to_string())
            }
        }
        Value::Bytes(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Text(t) => J::String(t.clone()),
        Value::Bool(b) => J::Bool(*b),
        Value::Tag(_, inner) => json_of(inner),
        Value::Array(a) => J::Array(a.iter().map(json_of).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::Text(t) => t.clone(),
                        other => json_of(other).to_string(),
                    };
                    (key, json_of(v))
                })
                .collect(),
        ),
        _ => J::Null,
    }
}

/// The signed attributes of a protected header map.
fn protected_attributes(entries: &[(Value, Value)]) -> Result<Protected, EnvelopeError> {
    let mut seen = std::collections::BTreeSet::new();
    for (k, _) in entries {
        let label = match k {
            Value::Text(t) => (true, t.clone()),
            Value::Integer(i) => (false, i128::from(*i).to_string()),
            other => {
                return Err(malformed(format!(
                    "a protected header label that is {} (labels are integers or text)",
                    describe(other)
                )));
            }
        };
        if !seen.insert(label) {
            return Err(malformed(format!(
                "the protected header label {} twice",
                describe(k)
            )));
        }
    }
    let algorithm = match int_entry(entries, ALG) {
        Some(Value::Integer(i)) => Algorithm::from_cose(i128::from(*i))
            .ok_or_else(|| attribute("alg", ALGORITHMS, i128::from(*i).to_string()))?,
        Some(other) => return Err(attribute("alg", ALGORITHMS, describe(other))),
        None => return Err(attribute("alg", ALGORITHMS, "nothing")),
    };
    match int_entry(entries, CONTENT_TYPE) {
        Some(Value::Text(t)) if t == PAYLOAD_MEDIA_TYPE => {}
        Some(other) => {
            return Err(attribute(
                "content type",
                PAYLOAD_MEDIA_TYPE,
                describe(other),
            ));
        }
        None => return Err(attribute("content type", PAYLOAD_MEDIA_TYPE, "nothing")),
    }
    let critical: Vec<String> = match int_entry(entries, CRIT) {
        Some(Value::Array(a)) => a
            .iter()
            .map(|c| match c {
                Value::Text(t) => Ok(t.clone()),
                Value::Integer(i) if (0..=8).contains(&i128::from(*i)) => Err(attribute(
                    "crit",
                    "no integer labels 0 to 8",
                    i128::from(*i).to_string(),
                )),
                Value::Integer(i) => Ok(i128::from(*i).to_string()),
                other => Err(attribute(
                    "crit",
                    "labels (text or integers)",
                    describe(other),
                )),
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(attribute(
                "crit",
                "a list of critical attribute names",
                other.map_or_else(|| "nothing".to_owned(), describe),
            ));
        }
    };
    let signing_scheme = match text_label(entries, SIGNING_SCHEME) {
        None => RawText::Absent,
        Some(Value::Text(t)) => RawText::Text(t.clone()),
        Some(other) => RawText::Other(describe(other)),
    };
    let extended: Map<String, serde_json::Value> = entries
        .iter()
        .filter(|(k, _)| match k {
            Value::Text(t) => !NOTARY_SIGNED.contains(&t.as_str()),
            other => !matches!(
                int_label(other),
                Some(ALG | CRIT | CONTENT_TYPE) | Some(X5CHAIN_LABEL)
            ),
        })
        .filter_map(|(k, v)| label_name(k).map(|name| (name, json_of(v))))
        .collect();
    Ok(Protected {
        algorithm,
        critical,
        names: entries.iter().filter_map(|(k, _)| label_name(k)).collect(),
        signing_scheme,
        signing_time: time_of(entries, SIGNING_TIME)?,
        authentic_signing_time: time_of(entries, AUTHENTIC_SIGNING_TIME)?,
        expiry: time_of(entries, EXPIRY)?,
        extended,
    })
}

/// `x5chain`: an array of byte strings, or one byte string (RFC 9360).
fn chain_of(v: &Value) -> Result<Vec<Vec<u8>>, EnvelopeError> {
    match v {
        Value::Bytes(b) => Ok(vec![b.clone()]),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|c| match c {
                Value::Bytes(b) => Ok(b.clone()),
                other => Err(EnvelopeError::Chain(format!(
                    "x5chain entry: expected a DER certificate as a byte string, found {}",
                    describe(other)
                ))),
            })
            .collect(),
        other => Err(EnvelopeError::Chain(format!(
            "x5chain: expected the chain from the signing certificate to its root as byte strings, found {}",
            describe(other)
        ))),
    }
}

/// Read a COSE envelope.
pub fn parse(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return Err(malformed(format!(
            "{} bytes (at most {MAX_ENVELOPE_BYTES} are read)",
            bytes.len()
        )));
    }
    let (value, trailing) = read_first(bytes, "envelope")?;
    let inner = match value {
        Value::Tag(TAG, inner) => *inner,
        Value::Tag(other, _) => {
            return Err(malformed(format!(
                "CBOR tag {other} (COSE_Sign1_Tagged is tag {TAG})"
            )));
        }
        Value::Array(a) if a.len() == 4 => {
            return Err(malformed(
                "an untagged COSE_Sign1 (COSE_Sign1_Tagged, CBOR tag 18, is required)",
            ));
        }
        other => {
            return Err(malformed(format!(
                "{} (COSE_Sign1_Tagged is CBOR tag 18 over an array of 4 items)",
                describe(&other)
            )));
        }
    };
    no_trailing(trailing, "envelope")?;
    let protected_bytes = match &inner {
        Value::Array(a) if a.len() == 4 => match &a[0] {
            Value::Bytes(b) => b.clone(),
            other => {
                return Err(malformed(format!(
                    "a protected header that is {} (a byte string holding a map is required)",
                    describe(other)
                )));
            }
        },
        other => {
            return Err(malformed(format!(
                "tag 18 over {} (COSE_Sign1 is an array of 4 items)",
                describe(other)
            )));
        }
    };
    let (value, trailing) = read_first(&protected_bytes, "encoded protected header")?;
    no_trailing(trailing, "protected header")?;
    let entries = match value {
        Value::Map(m) => m,
        other => {
            return Err(malformed(format!(
                "a protected header that is {} (a map is required)",
                describe(&other)
            )));
        }
    };
    let attributes = attributes::check(protected_attributes(&entries)?)?;

    let sign1 = CoseSign1::from_cbor_value(inner)
        .map_err(|e| malformed(format!("a COSE_Sign1 that does not decode: {e}")))?;
    let payload_bytes = sign1
        .payload
        .as_deref()
        .ok_or_else(|| malformed("a detached payload (nil); notation embeds the payload"))?;
    if sign1.signature.is_empty() {
        return Err(malformed("an empty signature"));
    }
    let unprotected = &sign1.unprotected.rest;
    let find = |label: &Label| unprotected.iter().find(|(l, _)| l == label).map(|(_, v)| v);
    let chain = match find(&Label::Int(X5CHAIN)) {
        Some(v) => chain_of(v)?,
        // "Optionally, this header can be presented in the protected header."
        None => match int_entry(&entries, X5CHAIN.into()) {
            Some(v) => chain_of(v)?,
            None => {
                return Err(EnvelopeError::Chain(
                    "expected x5chain (label 33), the chain from the signing certificate to its root, found none".into(),
                ));
            }
        },
    };
    let timestamp = match find(&Label::Text(TIMESTAMP.into())) {
        None => None,
        Some(Value::Bytes(b)) => Some(b.clone()),
        Some(other) => {
            return Err(malformed(format!(
                "{TIMESTAMP} is {}, not a byte string",
                describe(other)
            )));
        }
    };
    let signing_agent = match find(&Label::Text(SIGNING_AGENT.into())) {
        Some(Value::Text(t)) => Some(t.clone()),
        _ => None,
    };
    let payload = Payload::parse(payload_bytes)?;
    let signing_input = sign1.tbs_data(&[]);
    Ok(Envelope {
        format: Format::Cose,
        attributes,
        payload,
        chain,
        timestamp,
        signing_agent,
        signing_input,
        signature: sign1.signature,
    })
}
