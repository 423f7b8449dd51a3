//! The trust server's pure `hallmark_tuf::server::validate_update` (notary-server's
//! `validateUpdate`) against a fixed stored repository (root with a certificate for the GUN,
//! targets delegating to `targets/releases` and `targets/alice`, snapshot and timestamp keys
//! held by the server).
//! Uploads are raw fuzz bytes under any role, or metadata the notary client would send (new
//! targets, delegations, snapshot, root) changed by the fuzz bytes: wrong keys, versions,
//! targets. Never panics; anything accepted gives a repository (stored files overlaid by the
//! returned ones) that `verify_repo` accepts from the stored root, with every uploaded file
//! kept verbatim at a higher version.
#![no_main]

mod common;

use common::{Cursor, EMPTY_REPO, GUN, KEYS, now};
use hallmark_tuf::builder;
use hallmark_tuf::server::{ServerKey, Update, validate_update};
use hallmark_tuf::{Limits, RepoFiles, TrustedVersions, verify_repo};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::LazyLock;

const ROLES: [&str; 8] = [
    "root",
    "targets",
    "snapshot",
    "targets/releases",
    "targets/alice",
    "timestamp",
    "targets/bob",
    "targets/releases/x",
];

static STORED: LazyLock<BTreeMap<String, Vec<u8>>> = LazyLock::new(|| {
    let r = &*EMPTY_REPO;
    [
        ("root", &r.root),
        ("targets", &r.targets),
        ("targets/releases", &r.releases),
        ("targets/alice", &r.alice),
        ("snapshot", &r.snapshot),
        ("timestamp", &r.timestamp),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.clone()))
    .collect()
});

static SERVER_KEYS: LazyLock<Vec<ServerKey>> = LazyLock::new(|| {
    vec![
        ServerKey {
            role: "timestamp".into(),
            key: KEYS.timestamp.clone(),
        },
        ServerKey {
            role: "snapshot".into(),
            key: KEYS.snapshot.clone(),
        },
    ]
});

/// What the HTTP layer hands to validation: valid role names, parseable envelopes.
fn update(role: &str, data: Vec<u8>) -> Option<Update> {
    let v: Value = serde_json::from_slice(&data).ok()?;
    let version = match v.get("signed")?.get("version") {
        None => 0,
        Some(v) => v.as_u64()?,
    };
    Some(Update {
        role: role.to_string(),
        version,
        data,
    })
}

fn raw(c: &mut Cursor<'_>) -> Vec<Update> {
    let mut out = Vec::new();
    while !c.is_empty() && out.len() < 4 {
        let role = ROLES[usize::from(c.byte()) % ROLES.len()];
        let n = usize::from(u16::from_le_bytes([c.byte(), c.byte()]));
        let data = c.bytes(n.min(c.0.len()));
        out.extend(update(role, data));
    }
    out
}

/// Metadata as the notary client makes it, bent by the fuzz bytes.
fn client(c: &mut Cursor<'_>) -> Vec<Update> {
    let k = &*KEYS;
    let flags = c.byte();
    let mut files: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    let wrong_key = |f: u8| if f & 0x40 != 0 { Some(&k.alice) } else { None };
    let version = |c: &mut Cursor<'_>| u64::from(c.byte() % 4);
    if flags & 1 != 0 {
        let mut t = common::targets_value();
        t["version"] = version(c).into();
        if c.byte() & 1 != 0 {
            builder::remove_delegation(&mut t, "targets/alice").expect("remove");
        }
        let name = c.string(24);
        builder::set_target(&mut t, &name, builder::target_value(&c.bytes(32), 1)).expect("set");
        files.insert(
            "targets",
            common::sign(&t, wrong_key(flags).unwrap_or(&k.targets)),
        );
    }
    if flags & 2 != 0 {
        let role = if c.byte() & 1 != 0 {
            "targets/releases"
        } else {
            "targets/alice"
        };
        let mut t = builder::new_targets(version(c), now() + builder::TARGETS_EXPIRY);
        let name = c.string(24);
        builder::set_target(&mut t, &name, builder::target_value(&c.bytes(32), 7)).expect("set");
        let key = if role == "targets/releases" {
            &k.releases
        } else {
            &k.alice
        };
        let key = if flags & 0x80 != 0 { &k.targets } else { key };
        files.insert(role, common::sign(&t, key));
    }
    if flags & 4 != 0 {
        let mut r = common::root_value();
        r["version"] = (1 + version(c)).into();
        if flags & 0x20 != 0 {
            // Rotate the timestamp key to one the server does not hold.
            builder::set_root_role_keys(&mut r, "timestamp", &[k.alice.public_key()])
                .expect("rotate");
        }
        files.insert("root", common::sign_root(&r));
    }
    if flags & 8 != 0 {
        // A client snapshot over the new and stored files.
        let mut listed: Vec<(&str, Vec<u8>)> = Vec::new();
        for role in ["root", "targets", "targets/releases", "targets/alice"] {
            if flags & 0x10 != 0 && role == "targets/alice" {
                continue;
            }
            let bytes = files
                .get(role)
                .cloned()
                .unwrap_or_else(|| STORED[role].clone());
            listed.push((role, bytes));
        }
        let s = builder::new_snapshot(
            version(c),
            now() + builder::SNAPSHOT_EXPIRY,
            listed.iter().map(|(r, b)| (*r, b.as_slice())),
        );
        files.insert("snapshot", common::sign(&s, &k.snapshot));
    }
    files
        .into_iter()
        .filter_map(|(role, data)| update(role, data))
        .collect()
}

fn version_of(bytes: &[u8]) -> u64 {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v["signed"]["version"].as_u64())
        .unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor(data);
    let uploads = if c.byte() & 1 == 0 {
        raw(&mut c)
    } else {
        client(&mut c)
    };
    if uploads.is_empty() {
        return;
    }
    let stored = &*STORED;
    let Ok(apply) = validate_update(GUN, stored, uploads.clone(), &SERVER_KEYS, now()) else {
        return;
    };
    let mut state = stored.clone();
    for u in &apply {
        assert!(
            u.version > stored.get(&u.role).map_or(0, |b| version_of(b)),
            "{} accepted at version {}",
            u.role,
            u.version
        );
        state.insert(u.role.clone(), u.data.clone());
    }
    for u in &uploads {
        assert_eq!(
            state.get(&u.role),
            Some(&u.data),
            "{} not kept verbatim",
            u.role
        );
    }
    assert!(
        apply.iter().any(|u| u.role == "timestamp"),
        "no new timestamp"
    );
    // The delegations a client walks to: named by targets (or a delegation it walked to),
    // listed in the snapshot, stored.
    let snapshot: Value = serde_json::from_slice(&state["snapshot"]).expect("snapshot");
    let mut delegations: Vec<(&str, &[u8])> = Vec::new();
    let mut queue = vec![state["targets"].as_slice()];
    while let Some(parent) = queue.pop() {
        let parent: Value = serde_json::from_slice(parent).expect("accepted targets parse");
        for r in parent["signed"]["delegations"]["roles"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some((name, bytes)) = r["name"].as_str().and_then(|n| state.get_key_value(n))
            else {
                continue;
            };
            if snapshot["signed"]["meta"].get(name.as_str()).is_none()
                || delegations.iter().any(|(n, _)| n == name)
            {
                continue;
            }
            delegations.push((name.as_str(), bytes.as_slice()));
            queue.push(bytes.as_slice());
        }
    }
    let new_root = apply.iter().find(|u| u.role == "root");
    let files = RepoFiles {
        root_chain: new_root.map(|u| u.data.as_slice()).into_iter().collect(),
        timestamp: &state["timestamp"],
        snapshot: &state["snapshot"],
        targets: &state["targets"],
        delegations,
    };
    let verified = verify_repo(
        &stored["root"],
        &files,
        &TrustedVersions::default(),
        now(),
        &Limits::default(),
    )
    .unwrap_or_else(|e| panic!("accepted update does not verify: {e}"));
    hallmark_tuf::check_root_certificates(&verified.root, GUN, now())
        .expect("accepted root has a valid certificate for the GUN");
});
