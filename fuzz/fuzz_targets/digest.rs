//! `Digest::parse` on arbitrary text: never panics, and what parses round-trips.
#![no_main]

use hallmark_core::Digest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = Digest::parse(text) {
        assert_eq!(d.to_string(), text);
        assert_eq!(Digest::parse(&d.to_string()).as_ref(), Ok(&d));
        assert!(d.tag_form().starts_with(d.algorithm_name()));
        let _ = d.verify(data);
    }
});
