//! The trust server's upload parsing (`hallmark_trust_server::multipart` and
//! `api::parse_upload`, notary's multipart/form-data publish) on arbitrary bodies: never
//! panics; every update it returns names a valid role; multipart parts written back with the
//! same boundary parse to the same parts.
#![no_main]

use hallmark_trust_server::{api, multipart};
use hallmark_tuf::server::valid_role;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First line: the Content-Type header; the rest: the body.
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let Ok(content_type) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let body = data.get(split + 1..).unwrap_or_default();
    if let Ok(updates) = api::parse_upload(Some(content_type), body) {
        assert!(!updates.is_empty());
        for u in &updates {
            assert!(valid_role(&u.role), "{:?}", u.role);
        }
    }
    let Some(boundary) = multipart::boundary(content_type) else {
        return;
    };
    let Some(parts) = multipart::parse(body, &boundary) else {
        return;
    };
    let mut again = Vec::new();
    for p in &parts {
        again.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        if let Some(d) = &p.disposition {
            again.extend_from_slice(format!("Content-Disposition: {d}\r\n").as_bytes());
            let _ = multipart::filename(d);
        }
        again.extend_from_slice(b"\r\n");
        again.extend_from_slice(p.body);
        again.extend_from_slice(b"\r\n");
    }
    again.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let reparsed = multipart::parse(&again, &boundary).expect("written parts parse");
    assert_eq!(reparsed, parts);
});
