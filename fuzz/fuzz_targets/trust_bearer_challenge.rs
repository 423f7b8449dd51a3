//! `hallmark_oci_spec::auth::parse_bearer_challenge` (a Notary server's or a registry's
//! `WWW-Authenticate`) on arbitrary text: never panics; what parses, written back with quoted
//! and escaped values, parses to the same challenge, and `parse_challenges` picks it.
#![no_main]

use hallmark_oci_spec::auth::{Challenge, parse_bearer_challenge, parse_challenges};
use libfuzzer_sys::fuzz_target;

fn quote(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(c) = parse_bearer_challenge(text) else {
        return;
    };
    assert_eq!(
        parse_challenges([r#"Basic realm="x""#, text]),
        Some(Challenge::Bearer(c.clone()))
    );
    let mut again = format!("Bearer realm={}", quote(&c.realm));
    if let Some(s) = &c.service {
        again.push_str(&format!(",service={}", quote(s)));
    }
    if let Some(s) = &c.scope {
        again.push_str(&format!(",scope={}", quote(s)));
    }
    assert_eq!(
        parse_bearer_challenge(&again).as_ref(),
        Some(&c),
        "{again:?}"
    );
});
