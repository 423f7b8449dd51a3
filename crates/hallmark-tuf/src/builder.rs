//! Building and changing metadata the way the notary 0.7.0 client does (`tuf/tuf.go`,
//! `tuf/data/*.go`): new roots, targets, delegations, snapshots and (as the server makes them,
//! see [`crate::server`]) timestamps as JSON values, expiry
//! times in Go's RFC 3339 with nanoseconds, version bumps, and signing (an `*-x509` root key
//! signs under the key ID of its certificate).
//!
//! Changes work on the `signed` JSON value of the downloaded file, so fields hallmark does
//! not model survive a re-signing.

use crate::canonical::to_canonical;
use crate::error::TufError;
use crate::keyfile::PrivateKey;
use crate::keys::TufKey;
use crate::sign::envelope;
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// Notary's default expiry of root metadata: 10 years.
pub const ROOT_EXPIRY: time::Duration = time::Duration::days(3650);
/// Notary's default expiry of targets and delegation metadata: 3 years.
pub const TARGETS_EXPIRY: time::Duration = time::Duration::days(3 * 365);
/// Notary's default expiry of snapshot metadata: 3 years.
pub const SNAPSHOT_EXPIRY: time::Duration = time::Duration::days(3 * 365);

/// Go's `time.Time` JSON form in UTC: RFC 3339 with the fraction's trailing zeros dropped
/// (`RFC3339Nano`), e.g. `2029-11-21T06:14:02.500979465Z`.
pub fn go_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// A key as listed in `keys`: `{"keytype":..,"keyval":{"private":null,"public":"<b64>"}}`.
pub fn key_value(key: &TufKey) -> Value {
    json!({
        "keytype": key.key_type().name(),
        "keyval": {"private": null, "public": STANDARD.encode(key.public())},
    })
}

/// Length and SHA-256 + SHA-512 hashes (base64) of a file, as snapshot and timestamp list them.
pub fn file_meta_value(bytes: &[u8]) -> Value {
    json!({
        "hashes": {
            "sha256": STANDARD.encode(digest::digest(&digest::SHA256, bytes)),
            "sha512": STANDARD.encode(digest::digest(&digest::SHA512, bytes)),
        },
        "length": bytes.len(),
    })
}

/// A docker target: the manifest's SHA-256 and length (docker lists only SHA-256).
pub fn target_value(sha256: &[u8], length: u64) -> Value {
    json!({"hashes": {"sha256": STANDARD.encode(sha256)}, "length": length})
}

/// The `signed` object of a new root (version 1 unless given): each top-level role with its
/// keys and threshold 1.
pub fn new_root(
    version: u64,
    expires: OffsetDateTime,
    root: &[&TufKey],
    targets: &[&TufKey],
    snapshot: &[&TufKey],
    timestamp: &[&TufKey],
) -> Value {
    let mut keys = Map::new();
    let mut roles = Map::new();
    for (name, list) in [
        ("root", root),
        ("snapshot", snapshot),
        ("targets", targets),
        ("timestamp", timestamp),
    ] {
        let mut ids = Vec::new();
        for k in list {
            let id = k.key_id();
            keys.insert(id.clone(), key_value(k));
            ids.push(Value::String(id));
        }
        roles.insert(name.to_string(), json!({"keyids": ids, "threshold": 1}));
    }
    json!({
        "_type": "Root",
        "consistent_snapshot": false,
        "expires": go_time(expires),
        "keys": keys,
        "roles": roles,
        "version": version,
    })
}

/// The `signed` object of an empty targets or delegated role (version 1 unless given).
pub fn new_targets(version: u64, expires: OffsetDateTime) -> Value {
    json!({
        "_type": "Targets",
        "delegations": {"keys": {}, "roles": []},
        "expires": go_time(expires),
        "targets": {},
        "version": version,
    })
}

/// The `signed` object of a snapshot listing `files` (role name -> file bytes).
pub fn new_snapshot<'a>(
    version: u64,
    expires: OffsetDateTime,
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Value {
    let meta: Map<String, Value> = files
        .into_iter()
        .map(|(name, bytes)| (name.to_string(), file_meta_value(bytes)))
        .collect();
    snapshot_value(version, expires, meta)
}

/// The `signed` object of a snapshot whose `meta` (role name -> [`file_meta_value`]) is given,
/// e.g. kept from the previous snapshot when only some roles change.
pub fn snapshot_value(version: u64, expires: OffsetDateTime, meta: Map<String, Value>) -> Value {
    json!({
        "_type": "Snapshot",
        "expires": go_time(expires),
        "meta": meta,
        "version": version,
    })
}

/// The `signed` object of a timestamp over the snapshot file `snapshot` (Notary's server makes
/// these with the key it holds; clients never do).
pub fn new_timestamp(version: u64, expires: OffsetDateTime, snapshot: &[u8]) -> Value {
    json!({
        "_type": "Timestamp",
        "expires": go_time(expires),
        "meta": {"snapshot": file_meta_value(snapshot)},
        "version": version,
    })
}

fn malformed(what: &str, reason: &str) -> TufError {
    TufError::Malformed {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

/// The `signed` value of a metadata file, as a JSON object.
pub fn signed_value(file: &[u8], what: &str) -> Result<Value, TufError> {
    let v: Value = serde_json::from_slice(file).map_err(|e| malformed(what, &e.to_string()))?;
    let signed = v
        .get("signed")
        .filter(|s| s.is_object())
        .cloned()
        .ok_or_else(|| malformed(what, "expected an object `signed`"))?;
    Ok(signed)
}

/// Sets `version` to one more than it was and `expires` to `expires`.
pub fn bump(signed: &mut Value, expires: OffsetDateTime) -> Result<u64, TufError> {
    let version = signed
        .get("version")
        .and_then(Value::as_u64)
        .ok_or_else(|| malformed("metadata", "expected an integer version"))?
        + 1;
    let obj = signed
        .as_object_mut()
        .ok_or_else(|| malformed("metadata", "expected an object"))?;
    obj.insert("version".to_string(), json!(version));
    obj.insert("expires".to_string(), json!(go_time(expires)));
    Ok(version)
}

fn object_at<'a>(signed: &'a mut Value, key: &str) -> Result<&'a mut Map<String, Value>, TufError> {
    let obj = signed
        .as_object_mut()
        .ok_or_else(|| malformed("metadata", "expected an object"))?;
    obj.entry(key.to_string())
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| malformed("metadata", &format!("expected an object {key}")))
}

/// Refuses a name canonical JSON cannot carry: it writes strings raw apart from `"` and `\`
/// (as notary's encoder does), so control characters would make metadata no JSON parser reads
/// back. `allow_empty` is for delegation paths, where `""` means every target.
fn check_name(what: &str, name: &str, allow_empty: bool) -> Result<(), TufError> {
    if (name.is_empty() && !allow_empty) || name.chars().any(char::is_control) {
        return Err(TufError::InvalidName {
            what: what.to_string(),
            expected: if allow_empty {
                "no control characters".to_string()
            } else {
                "a non-empty name without control characters".to_string()
            },
            found: format!("\"{}\"", name.escape_debug()),
        });
    }
    Ok(())
}

/// Adds or replaces a target in a targets role's `signed` value. The name must be non-empty
/// and free of control characters ([`TufError::InvalidName`]).
pub fn set_target(signed: &mut Value, name: &str, target: Value) -> Result<(), TufError> {
    check_name("target name", name, false)?;
    object_at(signed, "targets")?.insert(name.to_string(), target);
    Ok(())
}

/// Removes a target; returns whether it was listed.
pub fn remove_target(signed: &mut Value, name: &str) -> Result<bool, TufError> {
    Ok(object_at(signed, "targets")?.remove(name).is_some())
}

fn delegations(signed: &mut Value) -> Result<&mut Map<String, Value>, TufError> {
    let d = object_at(signed, "delegations")?;
    d.entry("keys".to_string()).or_insert_with(|| json!({}));
    d.entry("roles".to_string()).or_insert_with(|| json!([]));
    Ok(d)
}

/// Adds `keys` to the delegated role `role` of a targets role's `signed` value, creating the
/// role with `paths` and threshold 1 if it does not exist (notary's
/// `AddDelegationRoleAndKeys` + `AddDelegationPaths`). Existing key IDs are kept once. The
/// role name must be non-empty and, like the paths, free of control characters
/// ([`TufError::InvalidName`]).
pub fn add_delegation(
    signed: &mut Value,
    role: &str,
    keys: &[&TufKey],
    paths: &[&str],
) -> Result<(), TufError> {
    check_name("delegated role name", role, false)?;
    for path in paths {
        check_name("delegation path", path, true)?;
    }
    let d = delegations(signed)?;
    if let Some(map) = d.get_mut("keys").and_then(Value::as_object_mut) {
        for k in keys {
            map.insert(k.key_id(), key_value(k));
        }
    }
    let roles = d
        .get_mut("roles")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| malformed("delegations", "expected an array roles"))?;
    let existing = roles
        .iter_mut()
        .find(|r| r.get("name").and_then(Value::as_str) == Some(role));
    match existing {
        Some(r) => {
            let ids = r
                .as_object_mut()
                .ok_or_else(|| malformed("delegations", "expected role objects"))?
                .entry("keyids".to_string())
                .or_insert_with(|| json!([]));
            if let Some(ids) = ids.as_array_mut() {
                for k in keys {
                    let id = Value::String(k.key_id());
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
            let p = r
                .as_object_mut()
                .ok_or_else(|| malformed("delegations", "expected role objects"))?
                .entry("paths".to_string())
                .or_insert_with(|| json!([]));
            if let Some(p) = p.as_array_mut() {
                for path in paths {
                    let v = json!(path);
                    if !p.contains(&v) {
                        p.push(v);
                    }
                }
            }
        }
        None => roles.push(json!({
            "keyids": keys.iter().map(|k| k.key_id()).collect::<Vec<_>>(),
            "name": role,
            "paths": paths,
            "threshold": 1,
        })),
    }
    Ok(())
}

/// Removes the delegated role `role` (notary's `RemoveDelegationRole`); returns its key IDs.
/// Keys no other role uses are dropped from `keys`.
pub fn remove_delegation(signed: &mut Value, role: &str) -> Result<Vec<String>, TufError> {
    let d = delegations(signed)?;
    let roles = d
        .get_mut("roles")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| malformed("delegations", "expected an array roles"))?;
    let mut removed = Vec::new();
    roles.retain(|r| {
        if r.get("name").and_then(Value::as_str) == Some(role) {
            removed.extend(key_ids_of(r));
            false
        } else {
            true
        }
    });
    prune_keys(d);
    Ok(removed)
}

/// Removes key IDs from a delegated role (notary's `RemoveDelegationKeys`). The role stays,
/// possibly with no keys.
pub fn remove_delegation_keys(
    signed: &mut Value,
    role: &str,
    key_ids: &[String],
) -> Result<(), TufError> {
    let d = delegations(signed)?;
    if let Some(roles) = d.get_mut("roles").and_then(Value::as_array_mut) {
        for r in roles
            .iter_mut()
            .filter(|r| r.get("name").and_then(Value::as_str) == Some(role))
        {
            if let Some(ids) = r.get_mut("keyids").and_then(Value::as_array_mut) {
                ids.retain(|id| !key_ids.iter().any(|k| id.as_str() == Some(k)));
            }
        }
    }
    prune_keys(d);
    Ok(())
}

fn key_ids_of(role: &Value) -> Vec<String> {
    role.get("keyids")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn prune_keys(d: &mut Map<String, Value>) {
    let used: Vec<String> = d
        .get("roles")
        .and_then(Value::as_array)
        .map(|roles| roles.iter().flat_map(key_ids_of).collect())
        .unwrap_or_default();
    if let Some(keys) = d.get_mut("keys").and_then(Value::as_object_mut) {
        keys.retain(|id, _| used.contains(id));
    }
}

/// Replaces the keys of a top-level role in a root's `signed` value (notary's key rotation),
/// dropping keys no role uses any more.
pub fn set_root_role_keys(
    signed: &mut Value,
    role: &str,
    keys: &[&TufKey],
) -> Result<(), TufError> {
    {
        let map = object_at(signed, "keys")?;
        for k in keys {
            map.insert(k.key_id(), key_value(k));
        }
    }
    let roles = object_at(signed, "roles")?;
    roles.insert(
        role.to_string(),
        json!({"keyids": keys.iter().map(|k| k.key_id()).collect::<Vec<_>>(), "threshold": 1}),
    );
    let used: Vec<String> = roles.values().flat_map(key_ids_of).collect();
    object_at(signed, "keys")?.retain(|id, _| used.contains(id));
    Ok(())
}

/// A signing key with the key ID it signs under (for a root key: the ID of its certificate).
#[derive(Debug, Clone, Copy)]
pub struct SigningKey<'a> {
    /// The private key.
    pub key: &'a PrivateKey,
    /// The key ID written into `signatures`.
    pub key_id: &'a str,
}

/// Signs the `signed` value with each key under its listed key ID and returns the file bytes
/// (compact canonical JSON, as the notary client uploads).
pub fn sign(signed: &Value, keys: &[SigningKey<'_>]) -> Result<Vec<u8>, TufError> {
    let mut pending = Unsigned::new(signed)?;
    for k in keys {
        pending.sign_local(*k)?;
    }
    Ok(pending.finish())
}

/// A role being signed by keys of any kind: the canonical `signed` bytes, signed in place by
/// trust-directory keys ([`Unsigned::sign_local`]) or by keys held elsewhere (an HSM, a KMS)
/// whose raw signatures over [`Unsigned::message`] are added with [`Unsigned::add_external`],
/// which verifies each one against the listed public key before accepting it.
///
/// The signing itself may be asynchronous or remote; this type stays pure.
#[derive(Debug, Clone)]
pub struct Unsigned {
    canonical: Vec<u8>,
    signatures: Vec<crate::model::Signature>,
}

impl Unsigned {
    /// Canonicalises the `signed` value (a JSON object, integers only).
    pub fn new(signed: &Value) -> Result<Self, TufError> {
        Ok(Self {
            canonical: to_canonical(signed)?,
            signatures: Vec::new(),
        })
    }

    /// The bytes every signature covers: the canonical `signed` object. ECDSA signers sign
    /// SHA-256 of these bytes and return raw r||s.
    pub fn message(&self) -> &[u8] {
        &self.canonical
    }

    /// Signs with a private key from the trust directory under its listed key ID.
    pub fn sign_local(&mut self, key: SigningKey<'_>) -> Result<(), TufError> {
        let mut s = key
            .key
            .sign(&self.canonical)
            .map_err(|e| TufError::Signing {
                key_id: key.key_id.to_string(),
                reason: e.to_string(),
            })?;
        s.key_id = key.key_id.to_string();
        self.signatures.push(s);
        Ok(())
    }

    /// Adds a signature made elsewhere by `key` (listed as `key_id`) with Notary's `method`
    /// (`ecdsa`: raw r||s over SHA-256 of [`Unsigned::message`]). The signature is verified
    /// against `key` first: one that does not verify is refused, never written.
    pub fn add_external(
        &mut self,
        key: &TufKey,
        key_id: &str,
        method: &str,
        sig: Vec<u8>,
    ) -> Result<(), TufError> {
        key.verify(key_id, method, &self.canonical, &sig)
            .map_err(|e| TufError::Signing {
                key_id: key_id.to_string(),
                reason: format!(
                    "the external signer's {method} signature does not verify with the listed {} key: {e}",
                    key.key_type().name()
                ),
            })?;
        self.signatures.push(crate::model::Signature {
            key_id: key_id.to_string(),
            method: method.to_string(),
            sig,
        });
        Ok(())
    }

    /// The file bytes: `{"signed":<canonical>,"signatures":[..]}` in signing order.
    pub fn finish(self) -> Vec<u8> {
        envelope(&self.canonical, &self.signatures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_time_format() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_120_000_000).expect("time");
        assert_eq!(go_time(t), "2023-11-14T22:13:20.12Z");
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
        assert_eq!(go_time(t), "2023-11-14T22:13:20Z");
    }
}
