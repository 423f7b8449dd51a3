//! Canonical JSON as Notary writes it (`github.com/docker/go/canonical/json`, `MarshalCanonical`).
//!
//! Object keys sorted by their UTF-8 bytes, no insignificant whitespace, integers only, and
//! strings escaped the OLPC canonical JSON way that encoder uses: only `"` and `\` are escaped,
//! every other character (control characters, `<`, `>`, `&`, U+2028) is written as is.

use crate::error::TufError;
use serde_json::Value;

/// The canonical bytes of a JSON value.
pub fn to_canonical(value: &Value) -> Result<Vec<u8>, TufError> {
    let mut out = Vec::new();
    write_value(value, &mut out)?;
    Ok(out)
}

/// Parses JSON bytes and returns their canonical form.
pub fn canonicalize(json: &[u8]) -> Result<Vec<u8>, TufError> {
    let value: Value = serde_json::from_slice(json).map_err(|e| TufError::Malformed {
        what: "JSON".to_string(),
        reason: e.to_string(),
    })?;
    to_canonical(&value)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), TufError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else if let Some(u) = n.as_u64() {
                out.extend_from_slice(u.to_string().as_bytes());
            } else {
                return Err(TufError::FloatNotAllowed {
                    found: n.to_string(),
                });
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_value(v, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}
