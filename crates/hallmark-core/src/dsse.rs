//! The DSSE v1 pre-authentication encoding (PAE), what a DSSE signature signs
//! (secure-systems-lab/dsse `protocol.md`): `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`,
//! lengths in ASCII decimal. Shared by the envelopes hallmark signs and verifies and by the log's
//! `dsse` entries.

/// The PAE of `body` of `payload_type`.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + payload_type.len() + 32);
    out.extend_from_slice(
        format!(
            "DSSEv1 {} {} {} ",
            payload_type.len(),
            payload_type,
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
    out
}
