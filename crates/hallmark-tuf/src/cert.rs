//! The self-signed root certificate notary makes for a repository's root key
//! (`cryptoservice/certificate.go` `GenerateCertificate`, notary 0.7.0): X.509 v3, a random
//! 128-bit serial, subject and issuer `CN=<GUN>`, valid from now for ten 365-day years, key
//! usage digitalSignature + keyEncipherment (critical), extended key usage codeSigning,
//! basic constraints CA:FALSE (critical), signed with ECDSA SHA-256 by the key itself.
//!
//! The root key is listed in `root.json` as an `ecdsa-x509` key whose public value is this
//! certificate's PEM text; its key ID (over the certificate) differs from the ID of the bare
//! key, which names the private key file.

use crate::error::TufError;
use crate::keyfile::PrivateKey;
use crate::keys::{KeyType, TufKey};
use time::OffsetDateTime;

/// Validity of a root certificate: notary's ten years of 365 days.
pub const ROOT_CERT_VALIDITY: time::Duration = time::Duration::days(3650);

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A DER INTEGER from unsigned big-endian bytes.
fn uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(&trimmed);
    tlv(0x02, &content)
}

const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];

/// Go's `isPrintable` (encoding/asn1): what may go into a PrintableString.
fn is_printable(s: &str) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b' ' | b'\'' | b'(' | b')' | b'+' | b',' | b'-' | b'.' | b'/' | b':' | b'=' | b'?'
            )
    })
}

fn name(cn: &str) -> Vec<u8> {
    // Go's pkix.Name marshals the CN as PrintableString when it can, else UTF8String.
    let tag = if is_printable(cn) { 0x13 } else { 0x0c };
    let atv = seq(&[tlv(0x06, OID_CN), tlv(tag, cn.as_bytes())]);
    seq(&[tlv(0x31, &atv)])
}

fn time_der(t: OffsetDateTime) -> Vec<u8> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let (y, mo, d, h, mi, s) = (
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    );
    if (1950..2050).contains(&y) {
        let text = format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y % 100);
        tlv(0x17, text.as_bytes())
    } else {
        let text = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z");
        tlv(0x18, text.as_bytes())
    }
}

/// DER ECDSA-Sig-Value from raw r||s.
fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    seq(&[uint(r), uint(s)])
}

/// Makes notary's self-signed root certificate for `gun`, valid from `not_before` for
/// [`ROOT_CERT_VALIDITY`], and returns its PEM text. Only ECDSA P-256 keys are supported
/// (what docker and notary generate for root keys).
pub fn root_certificate(
    key: &PrivateKey,
    gun: &str,
    not_before: OffsetDateTime,
) -> Result<String, TufError> {
    if key.key_type() != KeyType::Ecdsa {
        return Err(TufError::Signing {
            key_id: key.key_id(),
            reason: format!(
                "root certificates are made for ecdsa keys, found {}",
                key.key_type().name()
            ),
        });
    }
    let mut serial = [0u8; 16];
    aws_lc_rs::rand::fill(&mut serial).map_err(|_| TufError::Signing {
        key_id: key.key_id(),
        reason: "no random numbers for the certificate serial".to_string(),
    })?;
    serial[0] &= 0x7f;
    let not_before = not_before
        .replace_nanosecond(0)
        .unwrap_or(not_before)
        .to_offset(time::UtcOffset::UTC);
    let not_after = not_before + ROOT_CERT_VALIDITY;
    let sig_alg = seq(&[tlv(0x06, OID_ECDSA_SHA256)]);
    // Extensions exactly as Go writes them for notary's template.
    let key_usage = seq(&[
        tlv(0x06, &[0x55, 0x1d, 0x0f]),
        tlv(0x01, &[0xff]),
        tlv(0x04, &tlv(0x03, &[0x05, 0xa0])),
    ]);
    let ext_key_usage = seq(&[
        tlv(0x06, &[0x55, 0x1d, 0x25]),
        tlv(
            0x04,
            &seq(&[tlv(0x06, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03])]),
        ),
    ]);
    let basic_constraints = seq(&[
        tlv(0x06, &[0x55, 0x1d, 0x13]),
        tlv(0x01, &[0xff]),
        tlv(0x04, &seq(&[])),
    ]);
    let extensions = tlv(0xa3, &seq(&[key_usage, ext_key_usage, basic_constraints]));
    let tbs = seq(&[
        tlv(0xa0, &tlv(0x02, &[0x02])),
        uint(&serial),
        sig_alg.clone(),
        name(gun),
        seq(&[time_der(not_before), time_der(not_after)]),
        name(gun),
        key.public_key().public().to_vec(),
        extensions,
    ]);
    let signature = key.sign(&tbs).map_err(|e| TufError::Signing {
        key_id: key.key_id(),
        reason: e.to_string(),
    })?;
    let mut bits = vec![0u8];
    bits.extend_from_slice(&ecdsa_der(&signature.sig));
    let cert = seq(&[tbs, sig_alg, tlv(0x03, &bits)]);
    pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &cert).map_err(|e| {
        TufError::Signing {
            key_id: key.key_id(),
            reason: format!("certificate PEM: {e}"),
        }
    })
}

/// The `ecdsa-x509` key for a root certificate's PEM text.
pub fn certificate_key(pem: &str) -> Result<TufKey, TufError> {
    TufKey::new(KeyType::EcdsaX509, pem.as_bytes().to_vec())
}

/// The ID of the bare public key inside an `*-x509` key (notary's "canonical" key ID, which
/// names the private key file); for other keys, the key's own ID.
pub fn canonical_key_id(key: &TufKey) -> Result<String, TufError> {
    use spki::der::{Decode as _, Encode as _};
    let key_type = match key.key_type() {
        KeyType::EcdsaX509 => KeyType::Ecdsa,
        KeyType::RsaX509 => KeyType::Rsa,
        _ => return Ok(key.key_id()),
    };
    let invalid = |reason: String| TufError::InvalidKey {
        key_id: key.key_id(),
        reason,
    };
    let text = std::str::from_utf8(key.public())
        .map_err(|_| invalid("certificate PEM is not UTF-8".to_string()))?;
    let (_, der) = pem_rfc7468::decode_vec(text.trim().as_bytes())
        .map_err(|e| invalid(format!("certificate PEM: {e}")))?;
    let cert =
        x509_cert::Certificate::from_der(&der).map_err(|e| invalid(format!("certificate: {e}")))?;
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| invalid(format!("certificate public key: {e}")))?;
    Ok(TufKey::new(key_type, spki)?.key_id())
}
