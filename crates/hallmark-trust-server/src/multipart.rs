//! A strict, bounded `multipart/form-data` reader for notary's uploads (RFC 7578): each part's
//! `Content-Disposition` filename and bytes.

/// One part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The `Content-Disposition` header value, if any.
    pub disposition: Option<String>,
    /// The body.
    pub body: &'a [u8],
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut pieces = content_type.split(';');
    let mime = pieces.next()?.trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    for p in pieces {
        let (k, v) = p.split_once('=')?;
        if k.trim().eq_ignore_ascii_case("boundary") {
            let v = v.trim().trim_matches('"');
            if !v.is_empty() && v.len() <= 200 {
                return Some(v.to_string());
            }
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut i = from;
    while i + needle.len() <= hay.len() {
        match hay[i..hay.len() - needle.len() + 1]
            .iter()
            .position(|&b| b == first)
        {
            Some(off) => {
                let at = i + off;
                if &hay[at..at + needle.len()] == needle {
                    return Some(at);
                }
                i = at + 1;
            }
            None => return None,
        }
    }
    None
}

/// Splits `body` into parts; `None` when it is not well-formed multipart with `boundary`.
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let delim = format!("--{boundary}").into_bytes();
    let next_delim = format!("\r\n--{boundary}").into_bytes();
    let mut pos = find(body, &delim, 0)?;
    if pos != 0 && body.get(pos.wrapping_sub(2)..pos) != Some(b"\r\n") {
        return None;
    }
    pos += delim.len();
    let mut parts = Vec::new();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Some(parts);
        }
        // Transport padding, then CRLF.
        while matches!(body.get(pos), Some(b' ' | b'\t')) {
            pos += 1;
        }
        if body.get(pos..pos + 2) != Some(b"\r\n") {
            return None;
        }
        pos += 2;
        let (headers_end, skip) = if body.get(pos..pos + 2) == Some(b"\r\n") {
            (pos, 2) // no headers
        } else {
            (find(body, b"\r\n\r\n", pos)?, 4)
        };
        let headers = std::str::from_utf8(&body[pos..headers_end]).ok()?;
        let mut disposition = None;
        for line in headers.split("\r\n").filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':')?;
            if name.trim().eq_ignore_ascii_case("content-disposition") {
                disposition = Some(value.trim().to_string());
            }
        }
        let start = headers_end + skip;
        let end = find(body, &next_delim, start)?;
        parts.push(Part {
            disposition,
            body: &body[start..end],
        });
        pos = end + next_delim.len();
        if parts.len() > 10_000 {
            return None;
        }
    }
}

/// The `filename` (else `name`) parameter of a `Content-Disposition: form-data` value.
pub fn filename(disposition: &str) -> Option<String> {
    let mut pieces = disposition.split(';');
    let kind = pieces.next()?.trim();
    if !kind.eq_ignore_ascii_case("form-data") && !kind.eq_ignore_ascii_case("attachment") {
        return None;
    }
    for p in pieces {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("filename") {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            return Some(v.replace("\\\"", "\"").replace("\\\\", "\\"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_go_writes() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"root\"\r\nContent-Type: application/octet-stream\r\n\r\n{\"a\":1}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"targets/releases\"\r\n\r\n{}\r\n--XyZ--\r\n";
        let parts = parse(body, "XyZ").expect("parts");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].body, b"{\"a\":1}");
        assert_eq!(
            filename(parts[0].disposition.as_deref().expect("cd")).as_deref(),
            Some("root")
        );
        assert_eq!(
            filename(parts[1].disposition.as_deref().expect("cd")).as_deref(),
            Some("targets/releases")
        );
        assert_eq!(
            boundary("multipart/form-data; boundary=XyZ").as_deref(),
            Some("XyZ")
        );
        assert!(boundary("application/json").is_none());
        assert!(parse(b"garbage", "XyZ").is_none());
        let bare = parse(b"--XyZ\r\n\r\nno headers\r\n--XyZ--", "XyZ").expect("parts");
        assert_eq!(
            (bare[0].disposition.as_deref(), bare[0].body),
            (None, &b"no headers"[..])
        );
        assert!(
            parse(
                b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nunterminated",
                "XyZ"
            )
            .is_none()
        );
    }
}
