//! `Policy::parse` on arbitrary bytes, as they are and inside a hallmark/v1 document or a
//! containers-policy.json `transports` object, so both formats' parsers are reached: never
//! panics; a policy that loads converts to hallmark/v1 YAML, which loads again without panic,
//! and both decide about a fixed image without panic.
#![no_main]

use hallmark_policy::containers::to_hallmark_yaml;
use hallmark_policy::{Evidence, ImageName, Policy, evaluate};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::path::Path;

fn evidence() -> Evidence {
    Evidence {
        image: ImageName {
            name: "registry.example.com/team/app".into(),
            tag: Some("v1".into()),
            digest: None,
        },
        digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111".into(),
        namespace: Some("team-a".into()),
        keys: BTreeMap::new(),
        signatures: Vec::new(),
        attestations: Vec::new(),
        dct: Vec::new(),
        notation: Vec::new(),
        rejected: Vec::new(),
        failures: Vec::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let input: Vec<u8> = match mode % 3 {
        0 => rest.to_vec(),
        1 => [b"apiVersion: hallmark/v1\nkind: Policy\n".as_slice(), rest].concat(),
        _ => [
            br#"{"default": [{"type": "reject"}], "transports": "#.as_slice(),
            rest,
            b"}",
        ]
        .concat(),
    };
    let Ok(policy) = Policy::parse(&input, Path::new("/fuzz/policy.yaml")) else {
        return;
    };
    let e = evidence();
    let _ = serde_json::to_string(&evaluate(&policy, &e, 0));
    let yaml = to_hallmark_yaml(&policy);
    if let Ok(again) = Policy::parse(yaml.as_bytes(), Path::new("/fuzz/converted.yaml")) {
        let _ = evaluate(&again, &e, 0);
    }
});
