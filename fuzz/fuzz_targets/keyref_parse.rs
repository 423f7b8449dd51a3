//! `hallmark_keys::KeyRef::parse` (`--key REF`: file paths, `env://`, RFC 7512 `pkcs11:`,
//! `awskms://`, `awssm://`, `hashivault://`) on arbitrary text: never panics; the scheme
//! matches the prefix; and the PIN never shows: with the URI's `pin-value` replaced by a marker,
//! neither `Display`, `Debug` nor the error message contains the marker, and `Display` does
//! not depend on the PIN at all.
#![no_main]

use hallmark_keys::KeyRef;
use libfuzzer_sys::fuzz_target;

const MARKER: &str = "Zq7PinMarker";

/// `s` with the value of every query attribute `pin-value` replaced by `pin`.
fn with_pin(s: &str, pin: &str) -> Option<String> {
    let (path, query) = s.split_once('?')?;
    let mut found = false;
    let query: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some(("pin-value", _)) => {
                found = true;
                format!("pin-value={pin}")
            }
            _ => kv.to_string(),
        })
        .collect();
    found.then(|| format!("{path}?{}", query.join("&")))
}

fn shown(r: &Result<KeyRef, hallmark_keys::KeysError>) -> String {
    match r {
        Ok(k) => format!("{k} {k:?}"),
        Err(e) => format!("{e} {e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = KeyRef::parse(s);
    if let Ok(k) = &parsed {
        let prefix = match k.scheme() {
            "file" => String::new(),
            "pkcs11" => "pkcs11:".to_string(),
            other => format!("{other}://"),
        };
        assert!(s.starts_with(&prefix), "{s:?} parsed as {}", k.scheme());
    }
    if !s.starts_with("pkcs11:") || s.contains(MARKER) {
        return;
    }
    let Some(marked) = with_pin(s, MARKER) else {
        return;
    };
    let marked_parse = KeyRef::parse(&marked);
    let text = shown(&marked_parse);
    assert!(!text.contains(MARKER), "PIN shown: {text}");
    if let (Ok(a), Ok(b)) = (
        &marked_parse,
        KeyRef::parse(&with_pin(s, "0000").expect("pin")),
    ) {
        assert_eq!(a.to_string(), b.to_string());
    }
});
