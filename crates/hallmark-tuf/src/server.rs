//! What a Notary server does with metadata, as pure functions: validation of an atomic
//! update as notary-server 0.7.0 validates it (`server/handlers/validation.go`
//! `validateUpdate`), and the snapshots and timestamps it generates and re-signs with the keys
//! it holds (the `signed` objects are [`crate::builder`]'s, as the client's are).
//!
//! Given the GUN's current metadata, the uploaded files and the keys the server holds for the
//! GUN, [`validate_update`] returns every file to store (the uploads plus a generated snapshot
//! when the client sent none and the server holds the snapshot key, plus a new timestamp), or
//! the error Notary would answer with:
//!
//! - root: the first root must be signed by a threshold of its own root keys; a new root must
//!   have version `current + 1` and be signed by thresholds of the old and the new root keys;
//!   its root keys must be certificates with CN = GUN, valid now (Notary's TOFU trust pinning);
//!   all four roles must be listed with keys that exist.
//! - targets and delegations (in name order, so parents come first): signed by a threshold of
//!   the keys the (new or stored) root or parent delegates to them; a delegated role must be
//!   delegated by its parent and list only targets within its paths.
//! - snapshot (if uploaded): signed by the root's snapshot keys and listing the exact length
//!   and hashes of the root, the targets and every uploaded or stored delegation it names.
//! - no metadata may be expired; every uploaded role's version must be greater than the stored
//!   one ([`ValidationError::OldVersion`], Notary's `VERSION`).
//! - timestamp: never accepted from a client (notary-server ignores an uploaded timestamp;
//!   hallmark rejects it so nothing is silently dropped); always generated, version + 1,
//!   expiring in 14 days, signed by the server's key that the root lists for `timestamp`.

use crate::builder::{file_meta_value, new_timestamp, snapshot_value};
use crate::model::{Metadata, Root, Signed, Snapshot, Targets, Timestamp};
use crate::{
    PrivateKey, TufError, check_file_meta, check_root_certificates, sign_metadata, verify_threshold,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

/// How long a server-signed timestamp is valid (Notary's default: 14 days).
pub const TIMESTAMP_LIFETIME: Duration = Duration::days(14);
/// How long a server-generated snapshot is valid (Notary's default: 3 years of Go's `Year`).
pub const SNAPSHOT_LIFETIME: Duration = Duration::days(3 * 365);

/// Lifetimes of server-signed metadata and how close to expiry the server's background task
/// re-signs it. Internal: the defaults are Notary's lifetimes (timestamp 14 days, snapshot 3
/// years) and re-signing in the last quarter of each; only tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Lifetime of a server-signed timestamp.
    pub timestamp: Duration,
    /// Re-sign the timestamp when it expires within this (must be below `timestamp`).
    pub timestamp_resign_within: Duration,
    /// Lifetime of a server-generated snapshot.
    pub snapshot: Duration,
    /// Re-sign a server-held snapshot when it expires within this (must be below `snapshot`).
    pub snapshot_resign_within: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            timestamp: TIMESTAMP_LIFETIME,
            timestamp_resign_within: TIMESTAMP_LIFETIME / 4,
            snapshot: SNAPSHOT_LIFETIME,
            snapshot_resign_within: SNAPSHOT_LIFETIME / 4,
        }
    }
}

impl Lifetimes {
    /// Checks that each threshold is positive and below its lifetime (else every re-signed
    /// file would be due again at once).
    pub fn check(&self) -> Result<(), String> {
        for (name, lifetime, within) in [
            ("timestamp", self.timestamp, self.timestamp_resign_within),
            ("snapshot", self.snapshot, self.snapshot_resign_within),
        ] {
            if !(within.is_positive() && within < lifetime) {
                return Err(format!(
                    "{name} re-signing threshold: expected more than 0 and less than the \
                     lifetime {lifetime}, found {within}"
                ));
            }
        }
        Ok(())
    }
}

/// One file of an update (uploaded or generated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The role (`root`, `targets`, `targets/releases`, `snapshot`, `timestamp`).
    pub role: String,
    /// `signed.version`.
    pub version: u64,
    /// The file bytes, verbatim.
    pub data: Vec<u8>,
}

/// A key the server holds for a GUN.
#[derive(Debug, Clone)]
pub struct ServerKey {
    /// `snapshot` or `timestamp`.
    pub role: String,
    /// The private key.
    pub key: PrivateKey,
}

/// Why an update was refused: the kinds of notary-server's validation errors (the trust
/// server answers with their names: `ErrBadRoot`, ..., or `VERSION`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// Notary `ErrBadRoot`.
    #[error("bad root: {0}")]
    BadRoot(String),
    /// Notary `ErrBadTargets`.
    #[error("bad targets: {0}")]
    BadTargets(String),
    /// Notary `ErrBadSnapshot`.
    #[error("bad snapshot: {0}")]
    BadSnapshot(String),
    /// Notary `ErrBadHierarchy`: a role needed for the update is missing.
    #[error("missing {missing}: {msg}")]
    BadHierarchy {
        /// The missing role.
        missing: String,
        /// Why it was needed.
        msg: String,
    },
    /// Notary `ErrValidation`.
    #[error("{0}")]
    Validation(String),
    /// An uploaded role is not newer than the stored one (Notary's `VERSION`).
    #[error("{role}: version {found} is not newer than the stored version {stored}")]
    OldVersion {
        /// The role.
        role: String,
        /// The stored version.
        stored: u64,
        /// The uploaded version.
        found: u64,
    },
}

/// Whether `role` is a role name Notary accepts (`data.ValidRole`): the four top-level roles
/// or `targets/<name>[/<name>...]` with non-empty segments.
pub fn valid_role(role: &str) -> bool {
    match role {
        "root" | "targets" | "snapshot" | "timestamp" => true,
        _ => role.strip_prefix("targets/").is_some_and(|rest| {
            rest.split('/')
                .all(|s| !s.is_empty() && !s.chars().any(char::is_whitespace))
        }),
    }
}

fn is_targets_role(role: &str) -> bool {
    role == "targets" || role.starts_with("targets/")
}

fn parent_of(role: &str) -> &str {
    role.rsplit_once('/').map_or("", |(p, _)| p)
}

fn check_not_expired<T: Metadata>(
    signed: &Signed<T>,
    role: &str,
    now: OffsetDateTime,
) -> Result<(), String> {
    let expires = signed.signed.expires();
    if expires.at < now {
        return Err(format!("{role} expired at {}", expires.text));
    }
    Ok(())
}

fn check_root_shape(root: &Root) -> Result<(), String> {
    for role in ["root", "targets", "snapshot", "timestamp"] {
        let r = root
            .roles
            .get(role)
            .ok_or_else(|| format!("root does not list the {role} role"))?;
        if r.threshold < 1 {
            return Err(format!(
                "{role}: threshold must be at least 1, found {}",
                r.threshold
            ));
        }
        if (r.key_ids.len() as u64) < r.threshold {
            return Err(format!(
                "{role}: threshold {} but only {} key IDs",
                r.threshold,
                r.key_ids.len()
            ));
        }
        for id in &r.key_ids {
            if !root.keys.contains_key(id) {
                return Err(format!("{role}: key {id} is not in the root's keys"));
            }
        }
    }
    Ok(())
}

fn parse<T: Metadata>(bytes: &[u8], role: &str) -> Result<Signed<T>, String> {
    Signed::parse(bytes, role).map_err(|e: TufError| e.to_string())
}

fn version_of(bytes: &[u8]) -> u64 {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v.get("signed")?.get("version")?.as_u64())
        .unwrap_or(0)
}

/// The stored version of a role (0 if none).
fn stored_version(current: &BTreeMap<String, Vec<u8>>, role: &str) -> u64 {
    current.get(role).map_or(0, |b| version_of(b))
}

/// Validates an update of `gun` whose current files are `current` (role → bytes) and returns
/// every file to store, generated snapshot and timestamp included. `updates` must hold valid
/// role names and parseable envelopes (the HTTP layer answers `INVALID_ROLE` and
/// `MALFORMED_JSON` first).
pub fn validate_update(
    gun: &str,
    current: &BTreeMap<String, Vec<u8>>,
    updates: Vec<Update>,
    server_keys: &[ServerKey],
    now: OffsetDateTime,
) -> Result<Vec<Update>, ValidationError> {
    validate_update_with(
        gun,
        current,
        updates,
        server_keys,
        now,
        &Lifetimes::default(),
    )
}

/// [`validate_update`] with the lifetimes of the generated snapshot and timestamp.
pub fn validate_update_with(
    gun: &str,
    current: &BTreeMap<String, Vec<u8>>,
    updates: Vec<Update>,
    server_keys: &[ServerKey],
    now: OffsetDateTime,
    lifetimes: &Lifetimes,
) -> Result<Vec<Update>, ValidationError> {
    let mut roles: BTreeMap<String, Update> = BTreeMap::new();
    for u in updates {
        roles.insert(u.role.clone(), u);
    }
    if roles.contains_key("timestamp") {
        return Err(ValidationError::Validation(
            "timestamp is generated and signed by the server; it cannot be uploaded".to_string(),
        ));
    }
    let mut apply = Vec::new();

    // Root.
    let stored_root = match current.get("root") {
        Some(bytes) => Some(parse::<Root>(bytes, "root").map_err(ValidationError::Validation)?),
        None => None,
    };
    let root: Signed<Root> = if let Some(update) = roles.get("root") {
        let current_version = stored_root.as_ref().map_or(0, |r| r.signed.version);
        let new: Signed<Root> = parse(&update.data, "root").map_err(ValidationError::BadRoot)?;
        let v = new.signed.version;
        if v == current_version && current_version > 0 {
            return Err(ValidationError::OldVersion {
                role: "root".into(),
                stored: current_version,
                found: v,
            });
        }
        if v != current_version + 1 {
            return Err(ValidationError::BadRoot(format!(
                "Root modifications must increment the version. Current {current_version}, new {v}"
            )));
        }
        check_root_shape(&new.signed).map_err(ValidationError::BadRoot)?;
        if let Some(old) = &stored_root {
            let old_role = old
                .signed
                .role("root")
                .map_err(|e| ValidationError::BadRoot(e.to_string()))?;
            verify_threshold(
                &new,
                "root (by the previous root keys)",
                &old.signed.keys,
                &old_role.key_ids,
                old_role.threshold,
            )
            .map_err(|e| ValidationError::BadRoot(e.to_string()))?;
        }
        let own = new
            .signed
            .role("root")
            .map_err(|e| ValidationError::BadRoot(e.to_string()))?;
        verify_threshold(&new, "root", &new.signed.keys, &own.key_ids, own.threshold)
            .map_err(|e| ValidationError::BadRoot(e.to_string()))?;
        check_root_certificates(&new, gun, now)
            .map_err(|e| ValidationError::BadRoot(e.to_string()))?;
        check_not_expired(&new, "root", now).map_err(ValidationError::BadRoot)?;
        apply.push(update.clone());
        new
    } else if let Some(r) = stored_root {
        r
    } else {
        return Err(ValidationError::Validation(
            "no pre-existing root and no root provided in update.".to_string(),
        ));
    };
    let root_bytes: Vec<u8> = roles
        .get("root")
        .map(|u| u.data.clone())
        .or_else(|| current.get("root").cloned())
        .unwrap_or_default();

    // Targets and delegations, parents first (name order puts a parent before its children).
    let mut loaded: BTreeMap<String, Signed<Targets>> = BTreeMap::new();
    let targets_roles: Vec<String> = roles
        .keys()
        .filter(|r| is_targets_role(r))
        .cloned()
        .collect();
    for role in &targets_roles {
        let update = &roles[role];
        let signed: Signed<Targets> =
            parse(&update.data, role).map_err(ValidationError::BadTargets)?;
        if role == "targets" {
            let keys = root
                .signed
                .role("targets")
                .map_err(|e| ValidationError::BadTargets(e.to_string()))?;
            verify_threshold(
                &signed,
                role,
                &root.signed.keys,
                &keys.key_ids,
                keys.threshold,
            )
            .map_err(|e| ValidationError::BadTargets(e.to_string()))?;
        } else {
            let parent_name = parent_of(role);
            if !loaded.contains_key(parent_name) {
                let Some(bytes) = current.get(parent_name) else {
                    return Err(ValidationError::BadTargets(format!(
                        "{role}: parent role {parent_name} does not exist"
                    )));
                };
                let parent: Signed<Targets> =
                    parse(bytes, parent_name).map_err(ValidationError::BadTargets)?;
                loaded.insert(parent_name.to_string(), parent);
            }
            let parent = &loaded[parent_name];
            let Some(delegation) = parent
                .signed
                .delegations
                .roles
                .iter()
                .find(|d| &d.name == role)
            else {
                return Err(ValidationError::BadTargets(format!(
                    "{role} is not delegated by {parent_name}"
                )));
            };
            verify_threshold(
                &signed,
                role,
                &parent.signed.delegations.keys,
                &delegation.key_ids,
                delegation.threshold,
            )
            .map_err(|e| ValidationError::BadTargets(e.to_string()))?;
            for target in signed.signed.targets.keys() {
                if !delegation.allows(target) {
                    return Err(ValidationError::BadTargets(format!(
                        "{role}: target {target:?} is outside the delegated paths {:?}",
                        delegation.paths
                    )));
                }
            }
        }
        check_not_expired(&signed, role, now).map_err(ValidationError::BadTargets)?;
        loaded.insert(role.clone(), signed);
        apply.push(update.clone());
    }

    // The current bytes of each targets-family role after this update.
    let role_bytes = |role: &str| -> Option<&[u8]> {
        roles
            .get(role)
            .map(|u| u.data.as_slice())
            .or_else(|| current.get(role).map(Vec::as_slice))
    };

    // Snapshot: uploaded, or generated with the server's key.
    let snapshot_bytes: Vec<u8> = if let Some(update) = roles.get("snapshot") {
        let signed: Signed<Snapshot> =
            parse(&update.data, "snapshot").map_err(ValidationError::BadSnapshot)?;
        let keys = root
            .signed
            .role("snapshot")
            .map_err(|e| ValidationError::BadSnapshot(e.to_string()))?;
        verify_threshold(
            &signed,
            "snapshot",
            &root.signed.keys,
            &keys.key_ids,
            keys.threshold,
        )
        .map_err(|e| ValidationError::BadSnapshot(e.to_string()))?;
        check_not_expired(&signed, "snapshot", now).map_err(ValidationError::BadSnapshot)?;
        check_file_meta(
            "root",
            "snapshot",
            signed.signed.meta.get("root"),
            &root_bytes,
        )
        .map_err(|e| ValidationError::BadSnapshot(e.to_string()))?;
        match role_bytes("targets") {
            Some(b) => check_file_meta("targets", "snapshot", signed.signed.meta.get("targets"), b)
                .map_err(|e| ValidationError::BadSnapshot(e.to_string()))?,
            None => {
                return Err(ValidationError::BadHierarchy {
                    missing: "targets".into(),
                    msg: "no targets metadata was uploaded or stored".into(),
                });
            }
        }
        for role in &targets_roles {
            check_file_meta(
                role,
                "snapshot",
                signed.signed.meta.get(role),
                &roles[role].data,
            )
            .map_err(|e| ValidationError::BadSnapshot(e.to_string()))?;
        }
        for (role, bytes) in current {
            if role.starts_with("targets/")
                && !roles.contains_key(role)
                && let Some(meta) = signed.signed.meta.get(role)
            {
                check_file_meta(role, "snapshot", Some(meta), bytes)
                    .map_err(|e| ValidationError::BadSnapshot(e.to_string()))?;
            }
        }
        apply.push(update.clone());
        update.data.clone()
    } else {
        let Some(targets) = role_bytes("targets") else {
            return Err(ValidationError::BadHierarchy {
                missing: "targets".into(),
                msg: "no targets metadata was uploaded or stored".into(),
            });
        };
        let mut meta = current
            .get("snapshot")
            .map(|prev| stored_meta(prev))
            .unwrap_or_default();
        meta.insert("root".into(), file_meta_value(&root_bytes));
        meta.insert("targets".into(), file_meta_value(targets));
        for role in &targets_roles {
            meta.insert(role.clone(), file_meta_value(&roles[role].data));
        }
        let version = stored_version(current, "snapshot") + 1;
        let keys = signing_keys(&root.signed, "snapshot", server_keys).ok_or_else(|| {
            ValidationError::BadHierarchy {
                missing: "snapshot".into(),
                msg: "no snapshot was included in update and server does not hold current snapshot key for repository".into(),
            }
        })?;
        let update = sign_snapshot(version, now + lifetimes.snapshot, meta, &keys)?;
        let data = update.data.clone();
        apply.push(update);
        data
    };

    // Versions must move forward (Notary's storage answers VERSION otherwise).
    for u in &apply {
        let stored = stored_version(current, &u.role);
        if u.role != "root" && u.version <= stored {
            return Err(ValidationError::OldVersion {
                role: u.role.clone(),
                stored,
                found: u.version,
            });
        }
        if u.version < 1 {
            return Err(ValidationError::Validation(format!(
                "{}: version must be at least 1, found {}",
                u.role, u.version
            )));
        }
    }

    apply.push(generate_timestamp(
        &root.signed,
        current.get("timestamp").map(Vec::as_slice),
        &snapshot_bytes,
        server_keys,
        now,
        lifetimes.timestamp,
    )?);
    Ok(apply)
}

/// The `meta` of a stored snapshot (empty if it does not parse).
fn stored_meta(snapshot: &[u8]) -> Map<String, Value> {
    serde_json::from_slice::<Value>(snapshot)
        .ok()
        .and_then(|v| v.get("signed")?.get("meta")?.as_object().cloned())
        .unwrap_or_default()
}

/// A snapshot listing `meta`, signed with the server's snapshot key(s).
fn sign_snapshot(
    version: u64,
    expires: OffsetDateTime,
    meta: Map<String, Value>,
    keys: &[&PrivateKey],
) -> Result<Update, ValidationError> {
    let data = sign_metadata(&snapshot_value(version, expires, meta), keys)
        .map_err(|e| ValidationError::Validation(e.to_string()))?;
    Ok(Update {
        role: "snapshot".into(),
        version,
        data,
    })
}

/// The server keys that the root lists for `role`, if they meet its threshold.
fn signing_keys<'a>(
    root: &Root,
    role: &str,
    server_keys: &'a [ServerKey],
) -> Option<Vec<&'a PrivateKey>> {
    let r = root.roles.get(role)?;
    let mut keys: Vec<&PrivateKey> = Vec::new();
    for k in server_keys.iter().filter(|k| k.role == role) {
        let id = k.key.key_id();
        if r.key_ids.contains(&id) && !keys.iter().any(|x| x.key_id() == id) {
            keys.push(&k.key);
        }
    }
    (!keys.is_empty() && keys.len() as u64 >= r.threshold).then_some(keys)
}

/// A new timestamp over `snapshot`: version = previous + 1, expiring `lifetime` (Notary:
/// [`TIMESTAMP_LIFETIME`]) after `now`, signed with the server's timestamp key(s) that `root`
/// lists.
pub fn generate_timestamp(
    root: &Root,
    previous: Option<&[u8]>,
    snapshot: &[u8],
    server_keys: &[ServerKey],
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<Update, ValidationError> {
    let keys = signing_keys(root, "timestamp", server_keys)
        .ok_or_else(|| ValidationError::BadRoot("no timestamp keys exist on the server".into()))?;
    let version = previous.map_or(0, version_of) + 1;
    let signed = new_timestamp(version, now + lifetime, snapshot);
    let data =
        sign_metadata(&signed, &keys).map_err(|e| ValidationError::Validation(e.to_string()))?;
    Ok(Update {
        role: "timestamp".into(),
        version,
        data,
    })
}

/// Re-signs the current timestamp (same snapshot) when it expires within `margin` of `now`;
/// `None` when it is still fresh or cannot be re-signed (no server key listed by `root`).
pub fn refresh_timestamp(
    root_bytes: &[u8],
    timestamp: &[u8],
    snapshot: &[u8],
    server_keys: &[ServerKey],
    now: OffsetDateTime,
    margin: Duration,
    lifetime: Duration,
) -> Option<Update> {
    let ts: Signed<Timestamp> = Signed::parse(timestamp, "timestamp").ok()?;
    if ts.signed.expires.at - now > margin {
        return None;
    }
    let root: Signed<Root> = Signed::parse(root_bytes, "root").ok()?;
    generate_timestamp(
        &root.signed,
        Some(timestamp),
        snapshot,
        server_keys,
        now,
        lifetime,
    )
    .ok()
}

/// When a stored snapshot or timestamp (`role`) expires (`None` if it does not parse).
pub fn expiry_of(bytes: &[u8], role: &str) -> Option<OffsetDateTime> {
    match role {
        "timestamp" => Signed::<Timestamp>::parse(bytes, role)
            .ok()
            .map(|t| t.signed.expires.at),
        "snapshot" => Signed::<Snapshot>::parse(bytes, role)
            .ok()
            .map(|t| t.signed.expires.at),
        _ => None,
    }
}

/// Whether the background re-signing has anything to do for these current files: the
/// timestamp expires within its threshold, or the snapshot within its own (whether the server
/// holds the snapshot key is decided by [`resign`]).
pub fn resign_due(
    snapshot: &[u8],
    timestamp: &[u8],
    now: OffsetDateTime,
    lifetimes: &Lifetimes,
) -> bool {
    let due = |bytes: &[u8], role: &str, within: Duration| {
        expiry_of(bytes, role).is_none_or(|at| at - now <= within)
    };
    due(timestamp, "timestamp", lifetimes.timestamp_resign_within)
        || due(snapshot, "snapshot", lifetimes.snapshot_resign_within)
}

/// The files the background re-signing stores for a GUN whose current files are `root`,
/// `snapshot` and `timestamp`: a new snapshot (same `meta`, version + 1, expiring
/// `lifetimes.snapshot` after `now`) when the snapshot expires within its threshold and
/// `root` lists server-held snapshot keys meeting its threshold, then a new timestamp (over
/// the new or the current snapshot) when a snapshot was re-signed or the timestamp expires
/// within its threshold. Empty when nothing is due or the server cannot sign: a client-held
/// snapshot is never re-signed, so after it expires the server keeps serving it (with fresh
/// timestamps) and clients refuse it as expired, which is how they detect a freeze.
pub fn resign(
    root: &[u8],
    snapshot: &[u8],
    timestamp: &[u8],
    server_keys: &[ServerKey],
    now: OffsetDateTime,
    lifetimes: &Lifetimes,
) -> Result<Vec<Update>, ValidationError> {
    let root: Signed<Root> = parse(root, "root").map_err(ValidationError::Validation)?;
    let mut out = Vec::new();
    let snapshot_due = expiry_of(snapshot, "snapshot")
        .is_none_or(|at| at - now <= lifetimes.snapshot_resign_within);
    let mut snapshot_bytes = snapshot.to_vec();
    if snapshot_due && let Some(keys) = signing_keys(&root.signed, "snapshot", server_keys) {
        let update = sign_snapshot(
            version_of(snapshot) + 1,
            now + lifetimes.snapshot,
            stored_meta(snapshot),
            &keys,
        )?;
        snapshot_bytes = update.data.clone();
        out.push(update);
    }
    let timestamp_due = expiry_of(timestamp, "timestamp")
        .is_none_or(|at| at - now <= lifetimes.timestamp_resign_within);
    if !out.is_empty() || timestamp_due {
        out.push(generate_timestamp(
            &root.signed,
            Some(timestamp),
            &snapshot_bytes,
            server_keys,
            now,
            lifetimes.timestamp,
        )?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names() {
        for ok in [
            "root",
            "targets",
            "snapshot",
            "timestamp",
            "targets/releases",
            "targets/a/b",
        ] {
            assert!(valid_role(ok), "{ok}");
        }
        for bad in [
            "",
            "foo",
            "targets/",
            "targets//x",
            "Targets",
            "targets/a b",
            "root/x",
        ] {
            assert!(!valid_role(bad), "{bad}");
        }
    }
}
