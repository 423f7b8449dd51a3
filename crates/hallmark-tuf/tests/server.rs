//! Metadata written by the real notary 0.7.0 passes notary-server's update validation: root
//! rotation v1 → v2, targets with delegations, `targets/releases` signed by the delegation key. Without notary's server-held snapshot key the server cannot make the
//! snapshot, which is the one error expected.

use super::wire;
use hallmark_tuf::server::{Update, ValidationError, validate_update};
use serde_json::Value;
use std::collections::BTreeMap;

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
        let mut current = BTreeMap::new();
        current.insert("root".to_string(), wire(flavour, "1.root.json"));
        let updates = vec![
            update("root", wire(flavour, "root.json")),
            update("targets", wire(flavour, "targets.json")),
            update("targets/releases", wire(flavour, "targets/releases.json")),
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
