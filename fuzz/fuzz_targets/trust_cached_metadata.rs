//! The trust directory's metadata cache as `Repository::update` loads it (`TrustDir::cached`,
//! then the cached root and top-level roles checked before anything is downloaded): each of the
//! real notary 0.7.0 files of a repository is kept or replaced by fuzz bytes, or left out.
//! Never panics; with the server unreachable the update fails, and the cache is left exactly
//! as it was (nothing is written unless a download verified).
#![no_main]

mod common;

use common::{Cursor, NOTARY_GUN, NOTARY_REPO};
use hallmark_trust_client::{Remote, Repository, RootTrust, TrustDir};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::LazyLock;

struct Fixture {
    rt: tokio::runtime::Runtime,
    repo: Repository,
    dir: PathBuf,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("hallmark-fuzz-cache-{}", std::process::id()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Port 1 on loopback: nothing listens, every request fails at once.
    let remote = Remote::new("http://127.0.0.1:1", None).expect("remote");
    let repo = Repository {
        gun: NOTARY_GUN.to_string(),
        remote,
        dir: TrustDir::new(&dir),
        root_trust: RootTrust::TrustOnFirstUse,
    };
    Fixture { rt, repo, dir }
});

fuzz_target!(|data: &[u8]| {
    let f = &*FIXTURE;
    let mut c = Cursor(data);
    let fuzzed = c.byte();
    let omitted = usize::from(c.byte());
    let mut files = BTreeMap::new();
    for (i, (role, real)) in NOTARY_REPO.iter().enumerate() {
        if i == omitted {
            continue;
        }
        let bytes = if fuzzed & (1 << i) != 0 {
            let n = usize::from(u16::from_le_bytes([c.byte(), c.byte()]));
            c.bytes(n.min(c.0.len()))
        } else {
            real.clone()
        };
        files.insert((*role).to_string(), bytes);
    }
    let meta = f.repo.dir.metadata_dir(NOTARY_GUN);
    let _ = std::fs::remove_dir_all(&f.dir);
    std::fs::create_dir_all(meta.join("targets")).expect("cache dir");
    for (role, bytes) in &files {
        std::fs::write(meta.join(format!("{role}.json")), bytes).expect("cache file");
    }
    let result = f.rt.block_on(f.repo.update(common::now()));
    assert!(result.is_err(), "no server, yet the update succeeded");
    let after = f.repo.dir.cached(NOTARY_GUN).expect("cache readable");
    assert_eq!(after, files, "a failed update changed the cache");
});
