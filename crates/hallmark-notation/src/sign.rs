//! Writing envelopes of both formats, pure: no key, no I/O, no clock. [`prepare`] turns a
//! [`SignRequest`] into the exact bytes a signer must sign ([`Prepared::to_be_signed`]);
//! [`Prepared::finish`] takes the signature back, checks it with the signing certificate's key
//! and returns the envelope.
//!
//! The bytes are the ones notation (notation-go over notation-core-go) writes for the same
//! request:
//!
//! - JWS: the protected header and the payload as Go's `encoding/json` writes a map (keys
//!   sorted, no spaces, `<`, `>`, `&`, U+2028 and U+2029 escaped), times in RFC 3339 without
//!   fractional seconds and in the offset given, `crit` listing the signing scheme, the critical
//!   extended attributes, then the authentic signing time and the expiry when present; the
//!   envelope's members in the order `payload`, `protected`, `header` (`x5c`, then
//!   `io.cncf.notary.signingAgent`), `signature`.
//! - COSE: the protected header as a map in RFC 8949 core deterministic order (encoded keys
//!   sorted bytewise), times as CBOR tag 1 over integer seconds, `crit` listing the signing
//!   scheme, the authentic signing time and the expiry when present, then the critical
//!   extended attributes; the payload as notation-go's descriptor struct writes it
//!   (`mediaType`, `digest`, `size`, `annotations`); the unprotected header with `x5chain`
//!   (label 33, always an array) and the signing agent.
//!
//! Signers in this project return ECDSA signatures as ASN.1 DER; envelopes carry them as
//! fixed-width r || s, so [`Prepared::finish`] accepts either ([`ecdsa_der_to_fixed`]).
//! The RFC 3161 timestamp (an unsigned attribute over the signature, which needs a time
//! stamping authority) is not written here.

use crate::attributes::{
    AUTHENTIC_SIGNING_TIME, EXPIRY, NOTARY_SIGNED, SIGNING_AGENT, SIGNING_SCHEME, SIGNING_TIME,
};
use crate::cose::X5CHAIN;
use crate::{Algorithm, EnvelopeError, Format, PAYLOAD_MEDIA_TYPE, Payload, SigningScheme};
use base64::Engine as _;
use coset::cbor::value::Value as Cbor;
use coset::{CoseSign1, Header, Label, ProtectedHeader, SignatureContext, TaggedCborSerializable};
use serde_json::{Map, Value};
use std::fmt::Write as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// An extended signed attribute (notation's `ExtendedSignedAttributes`, which plugins add):
/// another key of the protected header, critical or not. A verifier refuses an envelope with a
/// critical attribute it does not understand; this crate's readers understand none.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExtendedAttribute {
    /// The header key.
    pub key: String,
    /// The value (written as JSON in JWS, as the corresponding CBOR item in COSE).
    pub value: Value,
    /// Listed in `crit`.
    pub critical: bool,
}

impl ExtendedAttribute {
    /// An extended attribute.
    pub fn new(key: impl Into<String>, value: impl Into<Value>, critical: bool) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            critical,
        }
    }
}

/// What to sign and how: notation's `SignRequest` without the signer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignRequest {
    /// The envelope format.
    pub format: Format,
    /// The target artifact's descriptor; its annotations are notation's user metadata.
    pub payload: Payload,
    /// The signing scheme.
    pub signing_scheme: SigningScheme,
    /// The signing time (`io.cncf.notary.signingTime` under `notary.x509`,
    /// `io.cncf.notary.authenticSigningTime` under `notary.x509.signingAuthority`); fractional
    /// seconds are dropped.
    pub signing_time: OffsetDateTime,
    /// `io.cncf.notary.expiry`, if any; fractional seconds are dropped.
    pub expiry: Option<OffsetDateTime>,
    /// The certificate chain, DER, signing certificate first.
    pub chain: Vec<Vec<u8>>,
    /// `io.cncf.notary.signingAgent`, if any.
    pub signing_agent: Option<String>,
    /// Extended signed attributes, in order.
    pub extended: Vec<ExtendedAttribute>,
}

impl SignRequest {
    /// A request without expiry, signing agent or extended attributes.
    pub fn new(
        format: Format,
        payload: Payload,
        signing_scheme: SigningScheme,
        signing_time: OffsetDateTime,
        chain: Vec<Vec<u8>>,
    ) -> Self {
        Self {
            format,
            payload,
            signing_scheme,
            signing_time,
            expiry: None,
            chain,
            signing_agent: None,
            extended: Vec::new(),
        }
    }

    /// With an expiry.
    pub fn with_expiry(mut self, expiry: OffsetDateTime) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// With a signing agent (e.g. `hallmark/0.1.0`).
    pub fn with_signing_agent(mut self, agent: impl Into<String>) -> Self {
        self.signing_agent = Some(agent.into());
        self
    }

    /// With one more extended signed attribute.
    pub fn with_extended_attribute(mut self, attribute: ExtendedAttribute) -> Self {
        self.extended.push(attribute);
        self
    }
}

/// A request made ready to sign: the exact bytes to sign and what the envelope will hold.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Prepared {
    format: Format,
    algorithm: Algorithm,
    key: Vec<u8>,
    protected: Vec<u8>,
    payload: Vec<u8>,
    to_be_signed: Vec<u8>,
    chain: Vec<Vec<u8>>,
    signing_agent: Option<String>,
}

fn request_error(expected: impl Into<String>, found: impl Into<String>) -> EnvelopeError {
    EnvelopeError::Sign {
        expected: expected.into(),
        found: found.into(),
    }
}

/// Check a signing request and compute the bytes to sign.
pub fn prepare(request: &SignRequest) -> Result<Prepared, EnvelopeError> {
    let leaf = request.chain.first().ok_or_else(|| {
        request_error(
            "the certificate chain, signing certificate first",
            "no certificate",
        )
    })?;
    let (algorithm, key) = crate::key_algorithm(leaf)?;
    for (k, v) in &request.payload.annotations {
        if k.starts_with("io.cncf.notary") {
            return Err(request_error(
                "annotation keys outside the reserved io.cncf.notary prefix",
                k.clone(),
            ));
        }
        if !v.is_string() {
            return Err(request_error(
                "string annotation values",
                format!("{k}: {v}"),
            ));
        }
    }
    let mut keys: Vec<&str> = Vec::with_capacity(request.extended.len());
    for e in &request.extended {
        if ["alg", "cty", "crit"].contains(&e.key.as_str())
            || NOTARY_SIGNED.contains(&e.key.as_str())
            || keys.contains(&e.key.as_str())
        {
            return Err(request_error(
                "extended attributes with keys of their own",
                format!("{:?} twice or as a registered or notation attribute", e.key),
            ));
        }
        keys.push(&e.key);
    }
    let whole_seconds = |t: OffsetDateTime| t.replace_nanosecond(0).unwrap_or(t);
    let signing_time = whole_seconds(request.signing_time);
    let expiry = request.expiry.map(whole_seconds);
    let time_key = match request.signing_scheme {
        SigningScheme::X509 => SIGNING_TIME,
        SigningScheme::X509SigningAuthority => AUTHENTIC_SIGNING_TIME,
    };
    let (protected, payload, to_be_signed) = match request.format {
        Format::Jws => {
            let protected =
                jws_protected(request, algorithm, time_key, signing_time, expiry)?.into_bytes();
            let payload = jws_payload(&request.payload).into_bytes();
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let input = format!("{}.{}", b64.encode(&protected), b64.encode(&payload));
            (protected, payload, input.into_bytes())
        }
        Format::Cose => {
            let protected = cose_protected(request, algorithm, time_key, signing_time, expiry)?;
            let payload = cose_payload(&request.payload).into_bytes();
            let input = coset::sig_structure_data(
                SignatureContext::CoseSign1,
                protected_header(&protected),
                None,
                &[],
                &payload,
            );
            (protected, payload, input)
        }
    };
    Ok(Prepared {
        format: request.format,
        algorithm,
        key,
        protected,
        payload,
        to_be_signed,
        chain: request.chain.clone(),
        signing_agent: request.signing_agent.clone(),
    })
}

impl Prepared {
    /// The exact bytes to sign: JWS `ASCII(BASE64URL(protected) '.' BASE64URL(payload))`, COSE
    /// the `Sig_structure` `["Signature1", protected, h'', payload]` in CBOR.
    pub fn to_be_signed(&self) -> &[u8] {
        &self.to_be_signed
    }

    /// The algorithm the signing certificate's key dictates (the signer must sign with it).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The envelope format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The protected header as signed: JSON for JWS, the CBOR map for COSE.
    pub fn protected(&self) -> &[u8] {
        &self.protected
    }

    /// The payload as signed.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The envelope, with `signature` over [`Prepared::to_be_signed`]. ECDSA signatures may be
    /// ASN.1 DER or fixed-width r || s; the envelope holds r || s. The signature must verify
    /// with the signing certificate's key, or nothing is written.
    pub fn finish(self, signature: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let signature = self.signature_value(signature)?;
        match self.format {
            Format::Jws => Ok(self.jws_envelope(&signature).into_bytes()),
            Format::Cose => self.cose_envelope(signature),
        }
    }

    fn verifies(&self, signature: &[u8]) -> bool {
        aws_lc_rs::signature::UnparsedPublicKey::new(self.algorithm.verification(), &self.key)
            .verify(&self.to_be_signed, signature)
            .is_ok()
    }

    /// The signature as the envelope carries it, verified.
    fn signature_value(&self, signature: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let integrity = EnvelopeError::Integrity {
            algorithm: self.algorithm.jws_name(),
        };
        let Some(n) = self.algorithm.ecdsa_scalar_len() else {
            return if self.verifies(signature) {
                Ok(signature.to_vec())
            } else {
                Err(integrity)
            };
        };
        if signature.len() == 2 * n && self.verifies(signature) {
            return Ok(signature.to_vec());
        }
        match ecdsa_der_to_fixed(signature, self.algorithm) {
            Ok(fixed) if self.verifies(&fixed) => Ok(fixed),
            Ok(_) => Err(integrity),
            Err(_) if signature.len() == 2 * n => Err(integrity),
            Err(_) => Err(request_error(
                format!(
                    "an {} signature as ASN.1 DER or as {} bytes r || s",
                    self.algorithm.jws_name(),
                    2 * n
                ),
                format!("{} bytes that are neither", signature.len()),
            )),
        }
    }

    fn jws_envelope(&self, signature: &[u8]) -> String {
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let std = base64::engine::general_purpose::STANDARD;
        let mut out = String::new();
        out.push_str("{\"payload\":");
        go_string(&url.encode(&self.payload), &mut out);
        out.push_str(",\"protected\":");
        go_string(&url.encode(&self.protected), &mut out);
        out.push_str(",\"header\":{\"x5c\":[");
        for (i, cert) in self.chain.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            go_string(&std.encode(cert), &mut out);
        }
        out.push(']');
        if let Some(agent) = &self.signing_agent {
            out.push(',');
            go_string(SIGNING_AGENT, &mut out);
            out.push(':');
            go_string(agent, &mut out);
        }
        out.push_str("},\"signature\":");
        go_string(&url.encode(signature), &mut out);
        out.push('}');
        out
    }

    fn cose_envelope(self, signature: Vec<u8>) -> Result<Vec<u8>, EnvelopeError> {
        let mut unprotected = Header::default();
        unprotected.rest.push((
            Label::Int(X5CHAIN),
            Cbor::Array(self.chain.into_iter().map(Cbor::Bytes).collect()),
        ));
        if let Some(agent) = self.signing_agent {
            unprotected
                .rest
                .push((Label::Text(SIGNING_AGENT.into()), Cbor::Text(agent)));
        }
        let sign1 = CoseSign1 {
            protected: protected_header(&self.protected),
            unprotected,
            payload: Some(self.payload),
            signature,
        };
        sign1
            .to_tagged_vec()
            .map_err(|e| request_error("an encodable COSE_Sign1", e.to_string()))
    }
}

/// A protected header carried as its exact bytes.
fn protected_header(bytes: &[u8]) -> ProtectedHeader {
    ProtectedHeader {
        original_data: Some(bytes.to_vec()),
        header: Header::default(),
    }
}

/// Fixed-width `r || s` (32, 48 or 66 bytes each for ES256, ES384, ES512) from an ASN.1 DER
/// `ECDSA-Sig-Value` (`SEQUENCE { r INTEGER, s INTEGER }`), the form JWS and COSE carry.
pub fn ecdsa_der_to_fixed(der: &[u8], algorithm: Algorithm) -> Result<Vec<u8>, EnvelopeError> {
    use x509_cert::der::Decode as _;
    use x509_cert::der::asn1::UintRef;
    let n = algorithm.ecdsa_scalar_len().ok_or_else(|| {
        request_error(
            "an ECDSA algorithm (ES256, ES384 or ES512)",
            algorithm.jws_name(),
        )
    })?;
    let expected =
        || format!("an ECDSA-Sig-Value (DER SEQUENCE of two INTEGERs of at most {n} bytes)");
    let ints =
        Vec::<UintRef<'_>>::from_der(der).map_err(|e| request_error(expected(), e.to_string()))?;
    let [r, s] = ints.as_slice() else {
        return Err(request_error(
            expected(),
            format!("{} integers", ints.len()),
        ));
    };
    let mut fixed = vec![0u8; 2 * n];
    for (half, int) in fixed.chunks_mut(n).zip([r, s]) {
        let bytes = int.as_bytes();
        let start = n.checked_sub(bytes.len()).ok_or_else(|| {
            request_error(expected(), format!("an integer of {} bytes", bytes.len()))
        })?;
        half[start..].copy_from_slice(bytes);
    }
    Ok(fixed)
}

fn rfc3339(t: OffsetDateTime, what: &str) -> Result<String, EnvelopeError> {
    t.format(&Rfc3339).map_err(|e| {
        request_error(
            format!("a {what} RFC 3339 can write (years 0 to 9999, offset in minutes)"),
            format!("{t} ({e})"),
        )
    })
}

fn jws_protected(
    request: &SignRequest,
    algorithm: Algorithm,
    time_key: &str,
    signing_time: OffsetDateTime,
    expiry: Option<OffsetDateTime>,
) -> Result<String, EnvelopeError> {
    // notation-core-go: the signing scheme, the critical extended attributes, then the
    // authentic signing time and the expiry.
    let mut crit = vec![Value::from(SIGNING_SCHEME)];
    crit.extend(
        request
            .extended
            .iter()
            .filter(|e| e.critical)
            .map(|e| Value::from(e.key.clone())),
    );
    let mut header = Map::new();
    header.insert("alg".into(), algorithm.jws_name().into());
    header.insert("cty".into(), PAYLOAD_MEDIA_TYPE.into());
    header.insert(
        SIGNING_SCHEME.into(),
        request.signing_scheme.as_str().into(),
    );
    header.insert(
        time_key.into(),
        rfc3339(signing_time, "signing time")?.into(),
    );
    if time_key == AUTHENTIC_SIGNING_TIME {
        crit.push(AUTHENTIC_SIGNING_TIME.into());
    }
    if let Some(expiry) = expiry {
        header.insert(EXPIRY.into(), rfc3339(expiry, "expiry")?.into());
        crit.push(EXPIRY.into());
    }
    header.insert("crit".into(), Value::Array(crit));
    for e in &request.extended {
        header.insert(e.key.clone(), e.value.clone());
    }
    let mut out = String::new();
    go_json(&Value::Object(header), &mut out);
    Ok(out)
}

/// The payload as notation-core-go's JWS signer writes it: re-encoded from a map, so keys sorted.
fn jws_payload(payload: &Payload) -> String {
    let mut target = Map::new();
    target.insert("mediaType".into(), payload.media_type.clone().into());
    target.insert("digest".into(), payload.digest.clone().into());
    target.insert("size".into(), payload.size.into());
    if !payload.annotations.is_empty() {
        target.insert(
            "annotations".into(),
            Value::Object(payload.annotations.clone()),
        );
    }
    let mut top = Map::new();
    top.insert("targetArtifact".into(), Value::Object(target));
    let mut out = String::new();
    go_json(&Value::Object(top), &mut out);
    out
}

/// The payload as notation-go writes it (its descriptor struct's field order).
fn cose_payload(payload: &Payload) -> String {
    let mut out = String::from("{\"targetArtifact\":{\"mediaType\":");
    go_string(&payload.media_type, &mut out);
    out.push_str(",\"digest\":");
    go_string(&payload.digest, &mut out);
    let _ = write!(out, ",\"size\":{}", payload.size);
    if !payload.annotations.is_empty() {
        out.push_str(",\"annotations\":");
        go_json(&Value::Object(payload.annotations.clone()), &mut out);
    }
    out.push_str("}}");
    out
}

fn encode(value: &Cbor) -> Result<Vec<u8>, EnvelopeError> {
    let mut out = Vec::new();
    coset::cbor::ser::into_writer(value, &mut out)
        .map_err(|e| request_error("attributes CBOR can encode", e.to_string()))?;
    Ok(out)
}

/// A CBOR map in RFC 8949 core deterministic order (encoded keys sorted bytewise), as go-cose
/// writes headers.
fn deterministic_map(entries: Vec<(Cbor, Cbor)>) -> Result<Cbor, EnvelopeError> {
    let mut keyed = entries
        .into_iter()
        .map(|(k, v)| Ok((encode(&k)?, k, v)))
        .collect::<Result<Vec<_>, EnvelopeError>>()?;
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Cbor::Map(
        keyed.into_iter().map(|(_, k, v)| (k, v)).collect(),
    ))
}

/// The CBOR item of a JSON value (extended attributes in COSE).
fn cbor_of(v: &Value) -> Result<Cbor, EnvelopeError> {
    Ok(match v {
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Cbor::Integer(i.into())
            } else if let Some(u) = n.as_u64() {
                Cbor::Integer(u.into())
            } else {
                Cbor::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => Cbor::Text(s.clone()),
        Value::Array(a) => Cbor::Array(a.iter().map(cbor_of).collect::<Result<_, _>>()?),
        Value::Object(o) => deterministic_map(
            o.iter()
                .map(|(k, v)| Ok((Cbor::Text(k.clone()), cbor_of(v)?)))
                .collect::<Result<_, EnvelopeError>>()?,
        )?,
    })
}

fn epoch(t: OffsetDateTime) -> Cbor {
    Cbor::Tag(1, Box::new(Cbor::Integer(t.unix_timestamp().into())))
}

fn cose_protected(
    request: &SignRequest,
    algorithm: Algorithm,
    time_key: &str,
    signing_time: OffsetDateTime,
    expiry: Option<OffsetDateTime>,
) -> Result<Vec<u8>, EnvelopeError> {
    // notation-core-go: the signing scheme, the authentic signing time and the expiry, then
    // the critical extended attributes.
    let mut crit = vec![Cbor::Text(SIGNING_SCHEME.into())];
    let mut entries = vec![
        (
            Cbor::Integer(1.into()),
            Cbor::Integer(algorithm.cose_label().into()),
        ),
        (
            Cbor::Integer(3.into()),
            Cbor::Text(PAYLOAD_MEDIA_TYPE.into()),
        ),
        (
            Cbor::Text(SIGNING_SCHEME.into()),
            Cbor::Text(request.signing_scheme.as_str().into()),
        ),
        (Cbor::Text(time_key.into()), epoch(signing_time)),
    ];
    if time_key == AUTHENTIC_SIGNING_TIME {
        crit.push(Cbor::Text(AUTHENTIC_SIGNING_TIME.into()));
    }
    if let Some(expiry) = expiry {
        crit.push(Cbor::Text(EXPIRY.into()));
        entries.push((Cbor::Text(EXPIRY.into()), epoch(expiry)));
    }
    for e in &request.extended {
        if e.critical {
            crit.push(Cbor::Text(e.key.clone()));
        }
        entries.push((Cbor::Text(e.key.clone()), cbor_of(&e.value)?));
    }
    entries.push((Cbor::Integer(2.into()), Cbor::Array(crit)));
    encode(&deterministic_map(entries)?)
}

/// A JSON value as Go's `encoding/json` writes it: object keys sorted, no spaces.
fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => go_number(n, out),
        Value::String(s) => go_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            // Sorted here whatever order the map keeps (serde_json's `preserve_order`).
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_string(k, out);
                out.push(':');
                if let Some(v) = o.get(k) {
                    go_json(v, out);
                }
            }
            out.push('}');
        }
    }
}

/// A number as Go writes it: integers as they are, floats in the shortest form that reads back,
/// with an exponent (`e+21`, `e-7`) below 1e-6 and from 1e21.
fn go_number(n: &serde_json::Number, out: &mut String) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else {
        let f = n.as_f64().unwrap_or(0.0);
        let abs = f.abs();
        if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
            let e = format!("{f:e}");
            match e.split_once('e') {
                Some((mantissa, exp)) if !exp.starts_with('-') => {
                    let _ = write!(out, "{mantissa}e+{exp}");
                }
                _ => out.push_str(&e),
            }
        } else {
            let _ = write!(out, "{f}");
        }
    }
}

/// A string as Go's `encoding/json` writes it (HTML-safe escaping).
fn go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn go_json_escapes_and_orders_as_encoding_json() {
        let v =
            serde_json::json!({"b": "<a&b>\u{2028}\n\u{1}é", "a": [1, -2, 1.5, 1e21, 1e-7, 100.0]});
        let mut out = String::new();
        go_json(&v, &mut out);
        assert_eq!(
            out,
            r#"{"a":[1,-2,1.5,1e+21,1e-7,100],"b":"\u003ca\u0026b\u003e\u2028\n\u0001é"}"#
        );
    }

    #[test]
    fn der_signatures_become_fixed_width() {
        // r = 1, s = 0x80 (a leading zero in DER).
        let der = [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80];
        let fixed = ecdsa_der_to_fixed(&der, Algorithm::Es256).unwrap();
        assert_eq!(fixed.len(), 64);
        assert_eq!(fixed[31], 1);
        assert_eq!(fixed[63], 0x80);
        assert!(fixed[..31].iter().chain(&fixed[32..63]).all(|b| *b == 0));
        assert_eq!(
            ecdsa_der_to_fixed(&der, Algorithm::Es512).unwrap().len(),
            132
        );
        // Too long for P-256.
        let mut long = vec![0x30, 0x26, 0x02, 0x21];
        long.extend([0x7f; 33]);
        long.extend([0x02, 0x01, 0x01]);
        let err = ecdsa_der_to_fixed(&long, Algorithm::Es256)
            .unwrap_err()
            .to_string();
        assert!(err.contains("an integer of 33 bytes"), "{err}");
        assert!(ecdsa_der_to_fixed(&der, Algorithm::Ps256).is_err());
        assert!(ecdsa_der_to_fixed(&der[..8], Algorithm::Es256).is_err());
    }
}
