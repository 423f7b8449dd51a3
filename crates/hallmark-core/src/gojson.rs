//! JSON string encoding exactly as Go's `encoding/json` writes it (HTML-safe escaping of
//! `<`, `>`, `&`, and of U+2028/U+2029), so what hallmark writes in the place of a Go tool
//! (cosign's simple-signing payloads, its `dev.sigstore.cosign/bundle` annotation) is
//! byte-identical to it; and base64 decoding as Go's `StdEncoding` does it. The one Go-JSON
//! encoder of the workspace (RFC 8785 is `hallmark_tlog::jcs`, Notary's canonical JSON
//! `hallmark_tuf::canonical`).

/// Append `s` as a Go-encoded JSON string literal (with quotes) to `out`.
pub fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go-encode a string as a JSON literal.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_string(&mut out, s);
    out
}

/// Decode standard (padded) base64 as Go's `encoding/base64` `StdEncoding` does: `\r` and `\n`
/// anywhere are ignored. cosign and containers/image decode signature annotations this way, and
/// some signers write them line-wrapped (e.g. the RSA signature of containers/image's
/// `dir-img-cosign-pki-valid` fixture).
pub fn decode_base64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::{Engine as _, engine::general_purpose::STANDARD};
    if s.contains(['\r', '\n']) {
        STANDARD.decode(s.replace(['\r', '\n'], ""))
    } else {
        STANDARD.decode(s)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_like_go() {
        assert_eq!(
            super::decode_base64("aGVs\r\nbG8=\n"),
            Ok(b"hello".to_vec())
        );
        assert!(super::decode_base64("aGVs bG8=").is_err());
        assert_eq!(
            super::string("a<b>&\"\\\n\u{1}\u{2028}é"),
            "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\u0001\\u2028é\""
        );
    }
}
