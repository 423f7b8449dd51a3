//! Shared by the TUF and trust targets: fixed keys and a repository built the way the notary
//! client builds one (`hallmark_tuf::builder`), signed with those keys.
#![allow(dead_code)]

use hallmark_tuf::builder::{self, SigningKey};
use hallmark_tuf::cert;
use hallmark_tuf::{PrivateKey, TufKey};
use serde_json::Value;
use std::sync::LazyLock;
use time::OffsetDateTime;

/// The repository's GUN (the root certificate's CN).
pub const GUN: &str = "example.com/fuzz/app";

/// A fixed ECDSA P-256 root key (SEC1 DER), so that inputs reproduce.
const ROOT_SEC1: &str = "307702010104209a930ab3b5b6ac3163dc5dd55647d33ffea56dcd02c1ab0cea310282fe05dfaaa00a06082a8648ce3d030107a14403420004e3d9ee66f0128357b75dc99b773ae70ebdb5e55d2cefa603b7af6656026a0158405f8a95b5c15592a96ab5caafd479fd70fb8bb0e34fb07174bb0672e6ed6f0c";

/// 2026-11-22T00:00:00Z: "now" for every check.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_392_000).expect("valid time")
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The repository's keys.
pub struct Keys {
    pub root: PrivateKey,
    /// The root key as listed: its self-signed certificate (`ecdsa-x509`).
    pub root_cert: TufKey,
    pub targets: PrivateKey,
    pub snapshot: PrivateKey,
    pub timestamp: PrivateKey,
    pub releases: PrivateKey,
    pub alice: PrivateKey,
}

pub static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let root = PrivateKey::from_ecdsa_sec1_der(&unhex(ROOT_SEC1)).expect("root key");
    let pem = cert::root_certificate(&root, GUN, now() - time::Duration::days(1))
        .expect("root certificate");
    let root_cert = cert::certificate_key(&pem).expect("certificate key");
    let ed = |b: u8| PrivateKey::from_ed25519_seed(&[b; 32]).expect("ed25519 key");
    Keys {
        root,
        root_cert,
        targets: ed(1),
        snapshot: ed(2),
        timestamp: ed(3),
        releases: ed(4),
        alice: ed(5),
    }
});

/// Signs `signed` with `key` under its own key ID.
pub fn sign(signed: &Value, key: &PrivateKey) -> Vec<u8> {
    let id = key.key_id();
    builder::sign(signed, &[SigningKey { key, key_id: &id }]).expect("signing")
}

/// The `signed` value of root version 1 (root key = certificate, threshold 1 everywhere).
pub fn root_value() -> Value {
    let k = &*KEYS;
    builder::new_root(
        1,
        now() + builder::ROOT_EXPIRY,
        &[&k.root_cert],
        &[k.targets.public_key()],
        &[k.snapshot.public_key()],
        &[k.timestamp.public_key()],
    )
}

/// Signs a root with the root key under the certificate's key ID.
pub fn sign_root(signed: &Value) -> Vec<u8> {
    let k = &*KEYS;
    let id = k.root_cert.key_id();
    builder::sign(
        signed,
        &[SigningKey {
            key: &k.root,
            key_id: &id,
        }],
    )
    .expect("signing root")
}

/// A targets value with the `targets/releases` and `targets/alice` delegations (all paths).
pub fn targets_value() -> Value {
    let k = &*KEYS;
    let mut t = builder::new_targets(1, now() + builder::TARGETS_EXPIRY);
    builder::add_delegation(
        &mut t,
        "targets/releases",
        &[k.releases.public_key()],
        &[""],
    )
    .expect("delegation");
    builder::add_delegation(&mut t, "targets/alice", &[k.alice.public_key()], &[""])
        .expect("delegation");
    t
}

/// The files of a repository.
pub struct Repo {
    pub root: Vec<u8>,
    pub targets: Vec<u8>,
    pub releases: Vec<u8>,
    pub alice: Vec<u8>,
    pub snapshot: Vec<u8>,
    pub timestamp: Vec<u8>,
}

/// Signs the given role values and makes snapshot (version `snap_version`) and timestamp.
pub fn build(
    root: &Value,
    targets: &Value,
    releases: &Value,
    alice: &Value,
    snap_version: u64,
) -> Repo {
    let k = &*KEYS;
    let root = sign_root(root);
    let targets = sign(targets, &k.targets);
    let releases = sign(releases, &k.releases);
    let alice = sign(alice, &k.alice);
    let snapshot_value = builder::new_snapshot(
        snap_version,
        now() + builder::SNAPSHOT_EXPIRY,
        [
            ("root", root.as_slice()),
            ("targets", targets.as_slice()),
            ("targets/releases", releases.as_slice()),
            ("targets/alice", alice.as_slice()),
        ],
    );
    let snapshot = sign(&snapshot_value, &k.snapshot);
    let timestamp = sign(&timestamp_value(&snapshot, snap_version), &k.timestamp);
    Repo {
        root,
        targets,
        releases,
        alice,
        snapshot,
        timestamp,
    }
}

/// A timestamp listing `snapshot`.
pub fn timestamp_value(snapshot: &[u8], version: u64) -> Value {
    builder::new_timestamp(version, now() + time::Duration::days(14), snapshot)
}

/// The repository with no targets.
pub static EMPTY_REPO: LazyLock<Repo> = LazyLock::new(|| {
    let empty = builder::new_targets(1, now() + builder::TARGETS_EXPIRY);
    build(&root_value(), &targets_value(), &empty, &empty, 1)
});

/// Reads fuzz bytes front to back; zeros when they run out.
pub struct Cursor<'a>(pub &'a [u8]);

impl Cursor<'_> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        let mut v = a.to_vec();
        v.resize(n, 0);
        v
    }
    pub fn string(&mut self, max: usize) -> String {
        let n = usize::from(self.byte()) % (max + 1);
        String::from_utf8_lossy(&self.bytes(n)).into_owned()
    }
    pub fn u32(&mut self) -> u32 {
        let b = self.bytes(4);
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

/// The compact bytes notary uploads for a pretty-printed fixture:
/// `{"signed":<canonical>,"signatures":[..]}`.
pub fn wire(pretty: &[u8]) -> Vec<u8> {
    let v: Value = serde_json::from_slice(pretty).expect("fixture parses");
    let mut out = b"{\"signed\":".to_vec();
    out.extend(hallmark_tuf::canonical::to_canonical(&v["signed"]).expect("canonical"));
    out.extend(b",\"signatures\":");
    out.extend(hallmark_tuf::canonical::to_canonical(&v["signatures"]).expect("canonical"));
    out.push(b'}');
    out
}

/// The real notary 0.7.0 repository `example.com/demo/app` (ecdsa-signer fixtures), by role.
pub static NOTARY_REPO: LazyLock<Vec<(&'static str, Vec<u8>)>> = LazyLock::new(|| {
    macro_rules! fixture {
        ($file:literal) => {
            wire(include_bytes!(concat!(
                "../../../crates/hallmark-tuf/tests/data/notary-0.7.0/ecdsa-signer/",
                $file
            )))
        };
    }
    vec![
        ("root", fixture!("root.json")),
        ("timestamp", fixture!("timestamp.json")),
        ("snapshot", fixture!("snapshot.json")),
        ("targets", fixture!("targets.json")),
        ("targets/releases", fixture!("targets/releases.json")),
    ]
});

/// The GUN of [`NOTARY_REPO`].
pub const NOTARY_GUN: &str = "example.com/demo/app";
