//! `payload::parse` on arbitrary bytes: never panics, and what parses rebuilds to a payload
//! that parses to the same claims.
#![no_main]

use hallmark_sigstore::payload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = payload::parse(data) else {
        return;
    };
    let annotations = p.annotations();
    let rebuilt = payload::build(&p.docker_reference, &p.manifest_digest, &annotations);
    let again = payload::parse(&rebuilt).expect("a built payload parses");
    assert_eq!(again.docker_reference, p.docker_reference);
    assert_eq!(again.manifest_digest, p.manifest_digest);
    assert_eq!(again.annotations(), annotations);
    // Building is deterministic: the rebuilt payload rebuilds to itself.
    assert_eq!(
        payload::build(
            &again.docker_reference,
            &again.manifest_digest,
            &again.annotations()
        ),
        rebuilt
    );
});
