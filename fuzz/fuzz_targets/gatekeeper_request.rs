//! `hallmark_admission::gatekeeper::parse_request` on arbitrary bytes: never panics; what parses
//! has at most `MAX_KEYS` keys, and a response for them carries one item per key.
#![no_main]

use hallmark_admission::gatekeeper::{Item, MAX_KEYS, parse_request, response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(keys) = parse_request(data) else {
        return;
    };
    assert!(keys.len() <= MAX_KEYS);
    let items: Vec<Item> = keys
        .iter()
        .map(|k| Item {
            key: k.clone(),
            value: "denied".into(),
            error: "x".into(),
        })
        .collect();
    let answer = response(&items, None);
    assert_eq!(
        answer["response"]["items"].as_array().map(Vec::len),
        Some(keys.len())
    );
});
