//! Metadata written by the real notary 0.7.0 (hallmark-tuf's test vectors) passes the server's
//! validation: root rotation v1 → v2, targets with delegations, `targets/releases` signed by
//! the delegation key. Without notary's server-held snapshot key the server cannot make the
//! snapshot, which is the one error expected.

use hallmark_trust_server::validation::{Update, ValidationError, validate_update};
use hallmark_tuf::Signature;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn vectors(flavour: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../hallmark-tuf/tests/data/notary-0.7.0")
        .join(flavour)
}

/// The compact bytes notary uploads, rebuilt from a pretty-printed file.
fn compact(path: PathBuf) -> Vec<u8> {
    use base64::Engine as _;
    let v: Value = serde_json::from_slice(&std::fs::read(&path).expect("vector")).expect("json");
    let canonical = hallmark_tuf::canonical::to_canonical(&v["signed"]).expect("canonical");
    let sigs: Vec<Signature> = v["signatures"]
        .as_array()
        .expect("signatures")
        .iter()
        .map(|s| Signature {
            key_id: s["keyid"].as_str().expect("keyid").into(),
            method: s["method"].as_str().expect("method").into(),
            sig: base64::engine::general_purpose::STANDARD
                .decode(s["sig"].as_str().expect("sig"))
                .expect("b64"),
        })
        .collect();
    hallmark_tuf::envelope(&canonical, &sigs)
}

fn update(role: &str, data: Vec<u8>) -> Update {
    let version = serde_json::from_slice::<Value>(&data).expect("json")["signed"]["version"]
        .as_u64()
        .expect("version");
    Update {
        role: role.into(),
        version,
        data,
    }
}

#[test]
fn real_notary_metadata_passes_validation() {
    for flavour in ["ecdsa-signer", "ed25519-local"] {
        let dir = vectors(flavour);
        let mut current = BTreeMap::new();
        current.insert("root".to_string(), compact(dir.join("1.root.json")));
        let updates = vec![
            update("root", compact(dir.join("root.json"))),
            update("targets", compact(dir.join("targets.json"))),
            update(
                "targets/releases",
                compact(dir.join("targets/releases.json")),
            ),
        ];
        let err = validate_update(
            "example.com/demo/app",
            &current,
            updates.clone(),
            &[],
            time::OffsetDateTime::now_utc(),
        )
        .expect_err("no snapshot key on this server");
        assert!(
            matches!(&err, ValidationError::BadHierarchy { missing, .. } if missing == "snapshot"),
            "{flavour}: {err}"
        );
        // The same files under another GUN: the root certificate's CN does not match.
        let err = validate_update(
            "example.com/other",
            &current,
            updates,
            &[],
            time::OffsetDateTime::now_utc(),
        )
        .expect_err("wrong GUN");
        assert!(
            matches!(err, ValidationError::BadRoot(_)),
            "{flavour}: {err}"
        );
    }
}
