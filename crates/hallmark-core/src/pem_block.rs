//! Finding PEM blocks in text that may hold other content (comments, other blocks, CRLF line
//! endings), and decoding their base64 into zeroizing memory.

use crate::error::KeyError;
use base64::Engine as _;
use zeroize::Zeroizing;

/// One `-----BEGIN label-----` ... `-----END label-----` block, not yet decoded.
pub(crate) struct RawBlock<'a> {
    /// The label between `BEGIN ` and the dashes.
    pub(crate) label: &'a str,
    body: Vec<&'a str>,
}

impl RawBlock<'_> {
    /// Decode the base64 body. `what` names the source in errors.
    pub(crate) fn decode(&self, what: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let pem_err = |reason: String| KeyError::Pem {
            what: what.to_string(),
            reason,
        };
        // Reserve up front: a reallocation would leave an unwiped copy behind.
        let capacity = self.body.iter().map(|l| l.len()).sum();
        let mut b64 = Zeroizing::new(String::with_capacity(capacity));
        for line in &self.body {
            if line.contains(':') {
                return Err(pem_err(format!(
                    "the {:?} block has RFC 1421 headers ({line:?}); expected base64 only \
                     (legacy encrypted PEM is not supported)",
                    self.label
                )));
            }
            b64.extend(line.chars().filter(|c| !c.is_ascii_whitespace()));
        }
        if b64.is_empty() {
            return Err(pem_err(format!("the {:?} block is empty", self.label)));
        }
        let mut out = Zeroizing::new(Vec::with_capacity(b64.len() / 4 * 3 + 3));
        base64::engine::general_purpose::STANDARD
            .decode_vec(b64.as_bytes(), &mut out)
            .map_err(|e| {
                pem_err(format!(
                    "the {:?} block is not valid base64: {e}",
                    self.label
                ))
            })?;
        Ok(out)
    }
}

/// Iterate over the PEM blocks of `text`, in order. A block without its END line (or with a
/// BEGIN line inside it) yields an error, after which iteration stops.
pub(crate) fn blocks<'a>(
    text: &'a str,
    what: &'a str,
) -> impl Iterator<Item = Result<RawBlock<'a>, KeyError>> + 'a {
    let mut lines = text.lines().map(str::trim);
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let pem_err = |reason: String| {
            Some(Err(KeyError::Pem {
                what: what.to_string(),
                reason,
            }))
        };
        let label = loop {
            match lines.next() {
                None => {
                    done = true;
                    return None;
                }
                Some(line) => {
                    if let Some(label) = begin_label(line) {
                        break label;
                    }
                }
            }
        };
        let mut body = Vec::new();
        loop {
            match lines.next() {
                None => {
                    done = true;
                    return pem_err(format!(
                        "the {label:?} block has no `-----END {label}-----` line (truncated?)"
                    ));
                }
                Some(line) => {
                    if let Some(end) = end_label(line) {
                        if end != label {
                            done = true;
                            return pem_err(format!(
                                "the {label:?} block ends with `-----END {end}-----`; expected \
                                 `-----END {label}-----`"
                            ));
                        }
                        return Some(Ok(RawBlock { label, body }));
                    }
                    if begin_label(line).is_some() {
                        done = true;
                        return pem_err(format!(
                            "the {label:?} block has no `-----END {label}-----` line before \
                             the next BEGIN line (truncated?)"
                        ));
                    }
                    body.push(line);
                }
            }
        }
    })
}

/// The first block whose label satisfies `accept`. `Ok(Err(first_label))` when there are
/// blocks but none is accepted (with the first label seen), a `Pem` error when there are none.
pub(crate) fn find<'a>(
    text: &'a str,
    what: &'a str,
    accept: impl Fn(&str) -> bool,
) -> Result<Result<RawBlock<'a>, &'a str>, KeyError> {
    let mut first_label = None;
    for block in blocks(text, what) {
        let block = block?;
        if accept(block.label) {
            return Ok(Ok(block));
        }
        first_label.get_or_insert(block.label);
    }
    match first_label {
        Some(label) => Ok(Err(label)),
        None => Err(KeyError::Pem {
            what: what.to_string(),
            reason: "no BEGIN line found".to_string(),
        }),
    }
}

fn begin_label(line: &str) -> Option<&str> {
    line.strip_prefix("-----BEGIN ")?.strip_suffix("-----")
}

fn end_label(line: &str) -> Option<&str> {
    line.strip_prefix("-----END ")?.strip_suffix("-----")
}

/// PEM with LF line endings, 64-character lines and a trailing newline.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    // pem-rfc7468 only fails on invalid labels or lengths beyond memory; our labels are
    // constants, so the fallback is never taken, but it produces the same text.
    let mut pem = pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der)
        .unwrap_or_else(|_| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            let mut out = format!("-----BEGIN {label}-----\n");
            for chunk in b64.as_bytes().chunks(64) {
                out.push_str(&String::from_utf8_lossy(chunk));
                out.push('\n');
            }
            out.push_str(&format!("-----END {label}-----\n"));
            out
        });
    if !pem.ends_with('\n') {
        pem.push('\n');
    }
    pem
}

/// The DER of every `CERTIFICATE` block of `text`, in order (other blocks are skipped). At least
/// one is required. `what` names the source in errors.
pub fn certificates(text: &str, what: &str) -> Result<Vec<Vec<u8>>, KeyError> {
    let mut out = Vec::new();
    for block in blocks(text, what) {
        let block = block?;
        if block.label == "CERTIFICATE" {
            out.push(block.decode(what)?.to_vec());
        }
    }
    if out.is_empty() {
        return Err(KeyError::Pem {
            what: what.to_string(),
            reason: "expected at least one PEM CERTIFICATE block, found none".into(),
        });
    }
    Ok(out)
}
