//! `AddCheckpoint::parse` on arbitrary bodies (with a format round trip), then the witness's
//! decision on what parses, against one known log: never panics, and a request the witness
//! accepts is one whose old size is the held size and whose checkpoint grows from it.
#![no_main]

use hallmark_tlog::Hash;
use hallmark_tlog::note::{Ed25519NoteSigner, NoteVerifier};
use hallmark_tlog::witness::{AddCheckpoint, Held, witness};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

const ORIGIN: &str = "log.example.com/fuzz";

fuzz_target!(|data: &[u8]| {
    let Ok(request) = AddCheckpoint::parse(data) else {
        return;
    };
    assert_eq!(
        AddCheckpoint::parse(request.to_body().as_bytes()).as_ref(),
        Ok(&request),
        "parse/format round trip"
    );
    let log = Ed25519NoteSigner::from_seed(ORIGIN, &[1; 32]).expect("seed");
    let mut logs: BTreeMap<String, Vec<Box<dyn NoteVerifier + Send + Sync>>> = BTreeMap::new();
    logs.insert(ORIGIN.into(), vec![Box::new(log.verifier())]);
    let held = Held {
        size: 3,
        root: Hash([7; 32]),
    };
    if let Ok(accepted) = witness(&logs, |_| Some(held.clone()), &request) {
        assert_eq!(request.old_size, 3);
        assert!(accepted.held.size >= 3);
    }
});
