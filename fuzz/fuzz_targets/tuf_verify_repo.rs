//! `hallmark_tuf::verify_repo` with arbitrary timestamp bytes against a real notary 0.7.0
//! repository: never panics, and anything that verifies names the real snapshot.
#![no_main]

use hallmark_tuf::canonical::to_canonical;
use hallmark_tuf::{Limits, RepoFiles, TrustedVersions, verify_repo};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::LazyLock;
use time::OffsetDateTime;

/// The compact bytes notary uploads: `{"signed":<canonical>,"signatures":[..]}`.
fn wire(pretty: &[u8]) -> Vec<u8> {
    let v: Value = serde_json::from_slice(pretty).expect("fixture parses");
    let mut out = b"{\"signed\":".to_vec();
    out.extend(to_canonical(&v["signed"]).expect("fixture canonicalises"));
    out.extend(b",\"signatures\":");
    out.extend(to_canonical(&v["signatures"]).expect("fixture canonicalises"));
    out.push(b'}');
    out
}

struct Repo {
    root1: Vec<u8>,
    root2: Vec<u8>,
    snapshot: Vec<u8>,
    targets: Vec<u8>,
    releases: Vec<u8>,
}

macro_rules! fixture {
    ($file:literal) => {
        wire(include_bytes!(concat!(
            "../../crates/hallmark-tuf/tests/data/notary-0.7.0/ecdsa-signer/",
            $file
        )))
    };
}

static REPO: LazyLock<Repo> = LazyLock::new(|| Repo {
    root1: fixture!("1.root.json"),
    root2: fixture!("root.json"),
    snapshot: fixture!("snapshot.json"),
    targets: fixture!("targets.json"),
    releases: fixture!("targets/releases.json"),
});

fuzz_target!(|data: &[u8]| {
    let repo = &*REPO;
    let files = RepoFiles {
        root_chain: vec![&repo.root2],
        timestamp: data,
        snapshot: &repo.snapshot,
        targets: &repo.targets,
        delegations: vec![("targets/releases", &repo.releases)],
    };
    // Inside the fixture's validity window (2026-11-22 .. 2026-12-06).
    let now = OffsetDateTime::from_unix_timestamp(1_795_392_000).expect("valid time");
    if let Ok(v) = verify_repo(
        &repo.root1,
        &files,
        &TrustedVersions::default(),
        now,
        &Limits::default(),
    ) {
        assert_eq!(v.root_bytes, repo.root2);
    }
});
