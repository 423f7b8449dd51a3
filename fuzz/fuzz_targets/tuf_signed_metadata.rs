//! `hallmark_tuf::Signed<T>` on arbitrary bytes, for each role, with the signature checks run
//! against the fixed keys of a real notary 0.7.0 root: never panics, and the canonical
//! `signed` bytes of a parsed file are canonical.
#![no_main]

use hallmark_tuf::canonical::canonicalize;
use hallmark_tuf::{
    Metadata, Root, Signed, Snapshot, Targets, Timestamp, TufKey, verify_threshold,
};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::sync::LazyLock;

static KEYS: LazyLock<BTreeMap<String, TufKey>> = LazyLock::new(|| {
    let mut keys = BTreeMap::new();
    for root in [
        &include_bytes!("../../crates/hallmark-tuf/tests/data/notary-0.7.0/ecdsa-signer/root.json")
            [..],
        &include_bytes!(
            "../../crates/hallmark-tuf/tests/data/notary-0.7.0/ed25519-local/root.json"
        )[..],
    ] {
        let root: Signed<Root> = Signed::parse(root, "root").expect("fixture root parses");
        keys.extend(root.signed.keys);
    }
    keys
});

fn check<T: Metadata>(data: &[u8], role: &str) {
    let Ok(signed) = Signed::<T>::parse(data, role) else {
        return;
    };
    assert_eq!(
        canonicalize(&signed.signed_bytes).expect("signed bytes canonicalise"),
        signed.signed_bytes,
        "signed bytes are canonical"
    );
    let key_ids: Vec<String> = KEYS.keys().cloned().collect();
    let _ = verify_threshold(&signed, role, &KEYS, &key_ids, 1);
    let listed: Vec<String> = signed.signatures.iter().map(|s| s.key_id.clone()).collect();
    let _ = verify_threshold(&signed, role, &KEYS, &listed, 2);
}

fuzz_target!(|data: &[u8]| {
    check::<Root>(data, "root");
    check::<Targets>(data, "targets");
    check::<Snapshot>(data, "snapshot");
    check::<Timestamp>(data, "timestamp");
});
