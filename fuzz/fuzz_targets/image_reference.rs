//! `ImageRef::parse` / `RegistryRef::parse` on arbitrary text: never panic, and what parses
//! displays as text that parses to the same reference.
#![no_main]

use hallmark_core::{ImageRef, RegistryRef};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = RegistryRef::parse(text) {
        let shown = r.to_string();
        assert_eq!(RegistryRef::parse(&shown).as_ref(), Ok(&r), "{shown}");
        let _ = (r.repository_name(), r.api_host(), r.is_loopback());
    }
    if let Ok(r) = ImageRef::parse(text) {
        let shown = r.to_string();
        assert_eq!(ImageRef::parse(&shown).as_ref(), Ok(&r), "{shown}");
        let _ = (r.tag(), r.digest());
    }
});
