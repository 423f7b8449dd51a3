//! `hallmark_notation::trustpolicy::parse` on arbitrary bytes: never panics; a document that
//! loads selects at most one policy per repository, and integrity is never logged or skipped
//! below level skip.
#![no_main]

use hallmark_notation::trustpolicy::{Action, Check, Level, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = parse(data) else {
        return;
    };
    for p in &doc.policies {
        if p.level != Level::Skip {
            assert_eq!(p.action(Check::Integrity), Action::Enforce);
        }
        for scope in p.scopes.iter().flatten() {
            assert_eq!(doc.select(scope).map(|s| &s.name), Some(&p.name));
        }
    }
});
