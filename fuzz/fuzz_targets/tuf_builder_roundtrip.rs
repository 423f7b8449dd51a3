//! `hallmark_tuf::builder` round trip: targets set and removed in `targets`,
//! `targets/releases` and `targets/alice` from fuzz bytes are signed, the repository verifies
//! with `verify_repo`, every tag resolves to what was set last (releases before targets, as
//! docker), and `inspect` lists exactly the released tags, its JSON parses, `--pretty` renders.
#![no_main]

mod common;

use common::{Cursor, build, now, root_value, targets_value};
use hallmark_tuf::builder;
use hallmark_tuf::{Limits, RepoFiles, TrustedVersions, inspect, verify_repo};
use libfuzzer_sys::fuzz_target;
use std::collections::{BTreeMap, BTreeSet};

const ROLES: [&str; 3] = ["targets", "targets/releases", "targets/alice"];

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor(data);
    let mut values = [
        targets_value(),
        builder::new_targets(1, now() + builder::TARGETS_EXPIRY),
        builder::new_targets(1, now() + builder::TARGETS_EXPIRY),
    ];
    let mut expected: [BTreeMap<String, (Vec<u8>, u64)>; 3] = Default::default();
    let mut ops = 0;
    while !c.is_empty() && ops < 32 {
        ops += 1;
        let flags = c.byte();
        let role = usize::from(flags % 3);
        let name = c.string(40);
        if flags & 0x80 == 0 && (name.is_empty() || name.chars().any(char::is_control)) {
            // Canonical JSON writes control characters raw (as notary's encoder does), which no
            // JSON parser reads back: the builder refuses such names and writes nothing.
            let sha = c.bytes(32);
            let before = values[role].clone();
            let err = builder::set_target(&mut values[role], &name, builder::target_value(&sha, 1))
                .expect_err("control characters or an empty name are refused");
            assert!(
                matches!(err, hallmark_tuf::TufError::InvalidName { .. }),
                "{err}"
            );
            assert_eq!(values[role], before);
            continue;
        }
        if flags & 0x80 != 0 {
            let was = builder::remove_target(&mut values[role], &name).expect("remove");
            assert_eq!(was, expected[role].remove(&name).is_some());
        } else {
            let sha = c.bytes(32);
            let len = u64::from(c.u32());
            builder::set_target(&mut values[role], &name, builder::target_value(&sha, len))
                .expect("set");
            expected[role].insert(name, (sha, len));
        }
    }
    let repo = build(&root_value(), &values[0], &values[1], &values[2], 1);
    let files = RepoFiles {
        root_chain: vec![],
        timestamp: &repo.timestamp,
        snapshot: &repo.snapshot,
        targets: &repo.targets,
        delegations: vec![
            ("targets/releases", &repo.releases),
            ("targets/alice", &repo.alice),
        ],
    };
    let verified = verify_repo(
        &repo.root,
        &files,
        &TrustedVersions::default(),
        now(),
        &Limits::default(),
    )
    .expect("a repository the builder made verifies");
    hallmark_tuf::check_root_certificates(&verified.root, common::GUN, now())
        .expect("the root certificate is valid for the GUN");
    for (i, role) in ROLES.iter().enumerate() {
        let listed = verified.role_targets(role).expect("role verified");
        assert_eq!(
            listed.keys().collect::<BTreeSet<_>>(),
            expected[i].keys().collect::<BTreeSet<_>>()
        );
    }
    let released: BTreeSet<&String> = expected[0].keys().chain(expected[1].keys()).collect();
    for name in &released {
        let want = expected[1]
            .get(*name)
            .map(|t| ("targets/releases", t))
            .or_else(|| expected[0].get(*name).map(|t| ("targets", t)))
            .expect("released");
        let got = verified.resolve(name).expect("released tag resolves");
        assert_eq!(got.role, want.0);
        assert_eq!((&got.sha256, got.length), (&want.1.0, want.1.1));
    }
    let info = inspect::trust_info(&verified, common::GUN, None);
    let tags: BTreeSet<&String> = info.signed_tags.iter().map(|t| &t.signed_tag).collect();
    assert_eq!(tags, released);
    for w in info.signed_tags.windows(2) {
        assert!(!inspect::natural_less(&w[1].signed_tag, &w[0].signed_tag));
    }
    let json = inspect::render_json(std::slice::from_ref(&info));
    let _: serde_json::Value = serde_json::from_str(&json).expect("inspect JSON parses");
    let _ = inspect::render_pretty(&info);
    if let Some(name) = released.iter().next() {
        let one = inspect::trust_info(&verified, common::GUN, Some(name));
        assert!(one.signed_tags.iter().all(|t| &&t.signed_tag == name));
        let _ = inspect::render_pretty(&one);
    }
});
