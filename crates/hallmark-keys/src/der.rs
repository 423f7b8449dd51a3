//! The little DER hallmark-keys writes: ECDSA signatures (PKCS#11 gives raw `r || s`, cosign
//! wants ASN.1 `ECDSA-Sig-Value`, RFC 3279 2.2.3) and EC SubjectPublicKeyInfo (RFC 5480).

/// DER of OID 1.2.840.10045.2.1 (id-ecPublicKey).
const EC_PUBLIC_KEY_OID: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// DER of OID 1.2.840.10045.3.1.7 (prime256v1 / secp256r1).
#[cfg_attr(not(feature = "pkcs11"), allow(dead_code))]
pub(crate) const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of OID 1.3.132.0.34 (secp384r1).
#[cfg_attr(not(feature = "pkcs11"), allow(dead_code))]
pub(crate) const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
}

fn push_tlv(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    push_len(out, body.len());
    out.extend_from_slice(body);
}

fn push_uint(out: &mut Vec<u8>, bytes: &[u8]) {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let v = &bytes[first..];
    out.push(0x02);
    if v.is_empty() {
        out.extend_from_slice(&[1, 0]);
    } else if v[0] & 0x80 != 0 {
        push_len(out, v.len() + 1);
        out.push(0);
        out.extend_from_slice(v);
    } else {
        push_len(out, v.len());
        out.extend_from_slice(v);
    }
}

/// Convert a raw `r || s` ECDSA signature (PKCS#11 `CKM_ECDSA`, IEEE P1363) to DER. `None`
/// when the length is odd or zero.
pub fn ecdsa_raw_to_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return None;
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = Vec::with_capacity(raw.len() + 8);
    push_uint(&mut body, r);
    push_uint(&mut body, s);
    let mut out = Vec::with_capacity(body.len() + 3);
    push_tlv(&mut out, 0x30, &body);
    Some(out)
}

/// SubjectPublicKeyInfo DER of an EC public key: `curve_oid` the DER of the named curve's OID
/// (as PKCS#11 `CKA_EC_PARAMS` holds it), `point` the uncompressed point.
pub fn ec_spki_der(curve_oid: &[u8], point: &[u8]) -> Vec<u8> {
    let mut alg = Vec::with_capacity(EC_PUBLIC_KEY_OID.len() + curve_oid.len());
    alg.extend_from_slice(EC_PUBLIC_KEY_OID);
    alg.extend_from_slice(curve_oid);
    let mut bits = Vec::with_capacity(point.len() + 1);
    bits.push(0);
    bits.extend_from_slice(point);
    let mut body = Vec::with_capacity(alg.len() + bits.len() + 6);
    push_tlv(&mut body, 0x30, &alg);
    push_tlv(&mut body, 0x03, &bits);
    let mut out = Vec::with_capacity(body.len() + 3);
    push_tlv(&mut out, 0x30, &body);
    out
}

/// The uncompressed point of a PKCS#11 `CKA_EC_POINT`: DER `OCTET STRING` wrapped (as the
/// standard says) or raw (as some tokens return it).
#[cfg_attr(not(feature = "pkcs11"), allow(dead_code))]
pub(crate) fn unwrap_ec_point(value: &[u8], field_len: usize) -> Option<&[u8]> {
    let point_len = 1 + 2 * field_len;
    if value.len() == point_len && value[0] == 0x04 {
        return Some(value);
    }
    if value.len() == point_len + 2 && value[0] == 0x04 && usize::from(value[1]) == point_len {
        return Some(&value[2..]);
    }
    if value.len() == point_len + 3
        && value[0] == 0x04
        && value[1] == 0x81
        && usize::from(value[2]) == point_len
    {
        return Some(&value[3..]);
    }
    None
}
