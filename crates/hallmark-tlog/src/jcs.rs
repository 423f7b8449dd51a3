//! RFC 8785 JSON Canonicalization Scheme (JCS) for the values Rekor signs and hashes:
//! objects (members sorted by the UTF-16 code units of their names), arrays, strings, `true`,
//! `false`, `null` and integers.
//!
//! Numbers are limited to integers of magnitude at most 2^53 (and floats with an integral
//! value in that range), whose RFC 8785 (ECMAScript) form is their plain decimal; anything
//! else is rejected rather than approximated. Duplicate member names cannot be represented in
//! a [`serde_json::Value`]; when parsing text, the last one wins, as in `serde_json`.

use serde_json::Value;
use std::fmt::Write as _;
use thiserror::Error;

/// The largest integer magnitude accepted: 2^53 (exact in an IEEE 754 double).
pub const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// A value outside what this JCS implementation canonicalizes.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JcsError {
    /// A number that is not an integer of magnitude <= 2^53.
    #[error("cannot canonicalize number {found}: expected an integer of magnitude at most 2^53")]
    UnsupportedNumber {
        /// The number as serde_json prints it.
        found: String,
    },
    /// The text is not JSON.
    #[error("not JSON: {reason}")]
    NotJson {
        /// The parser's message.
        reason: String,
    },
}

/// The canonical form of `value`.
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, JcsError> {
    let mut out = String::new();
    write_value(&mut out, value)?;
    Ok(out.into_bytes())
}

/// Parse JSON text and return its canonical form.
pub fn canonicalize_json(text: &[u8]) -> Result<Vec<u8>, JcsError> {
    let value: Value = serde_json::from_slice(text).map_err(|e| JcsError::NotJson {
        reason: e.to_string(),
    })?;
    canonicalize(&value)
}

fn write_value(out: &mut String, value: &Value) -> Result<(), JcsError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (name, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, name);
                out.push(':');
                write_value(out, item)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_number(out: &mut String, n: &serde_json::Number) -> Result<(), JcsError> {
    let unsupported = || JcsError::UnsupportedNumber {
        found: n.to_string(),
    };
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_INTEGER {
            return Err(unsupported());
        }
        let _ = write!(out, "{u}");
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(unsupported());
        }
        let _ = write!(out, "{i}");
    } else {
        let f = n.as_f64().ok_or_else(unsupported)?;
        if f.fract() != 0.0 || !f.is_finite() || f.abs() > MAX_SAFE_INTEGER as f64 {
            return Err(unsupported());
        }
        // An integral double in the safe range: ECMAScript prints it as a plain integer
        // (and -0 as 0).
        let _ = write!(out, "{}", f as i64);
    }
    Ok(())
}

/// Append `s` as an RFC 8785 string literal: `"` and `\` escaped, control characters as
/// `\b \t \n \f \r` or `\u00xx` (lower-case hex), everything else as is.
pub fn write_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Runs of bytes that need no escape are copied whole (every byte of a multi-byte UTF-8
    // sequence is >= 0x80, so runs end on character boundaries).
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            b if b < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}
