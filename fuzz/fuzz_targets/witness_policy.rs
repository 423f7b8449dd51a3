//! `WitnessPolicy::parse` on arbitrary text: never panics, and a policy that parses decides
//! every set of signers without panicking (nested groups included).
#![no_main]

use hallmark_tlog::witness::WitnessPolicy;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = WitnessPolicy::parse(text) {
        let names: Vec<String> = p.witnesses.iter().map(|w| w.name.clone()).collect();
        let _ = p.satisfied_by(&BTreeSet::new());
        let _ = p.satisfied_by(&names.iter().cloned().collect());
        let _ = p.describe();
    }
});
