//! Signature thresholds and the TUF client workflow as a pure function.

use crate::error::TufError;
use crate::keys::TufKey;
use crate::model::{FileMeta, Metadata, Root, Signed, Snapshot, Targets, Timestamp};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The delegated role docker prefers when resolving a tag.
pub const RELEASES_ROLE: &str = "targets/releases";
/// The top-level targets role.
pub const TARGETS_ROLE: &str = "targets";

/// Checks that at least `threshold` distinct key IDs of `key_ids` (found in `keys`) produced
/// valid signatures over `signed.signed_bytes`. Signatures by keys outside the role are
/// ignored; a signature that does not verify is not counted; a role key signing with a
/// `method` that does not fit its type is an error.
pub fn verify_threshold<T>(
    signed: &Signed<T>,
    role: &str,
    keys: &BTreeMap<String, TufKey>,
    key_ids: &[String],
    threshold: u64,
) -> Result<(), TufError> {
    if threshold == 0 {
        return Err(TufError::InvalidThreshold {
            role: role.to_string(),
            found: threshold,
        });
    }
    let allowed: BTreeSet<&str> = key_ids.iter().map(String::as_str).collect();
    let mut valid: BTreeSet<&str> = BTreeSet::new();
    for s in &signed.signatures {
        if !allowed.contains(s.key_id.as_str()) || valid.contains(s.key_id.as_str()) {
            continue;
        }
        let Some(key) = keys.get(&s.key_id) else {
            continue;
        };
        match key.verify(&s.key_id, &s.method, &signed.signed_bytes, &s.sig) {
            Ok(()) => {
                valid.insert(s.key_id.as_str());
            }
            Err(TufError::BadSignature { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let found = valid.len() as u64;
    if found < threshold {
        return Err(TufError::ThresholdNotMet {
            role: role.to_string(),
            threshold,
            valid: found,
        });
    }
    Ok(())
}

/// Size limits on downloaded metadata (Notary's `const.go` defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest timestamp file: 1 MiB.
    pub timestamp: u64,
    /// Largest root, snapshot, targets or delegation file: 100 MiB.
    pub other: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timestamp: 1 << 20,
            other: 100 << 20,
        }
    }
}

/// Versions trusted from an earlier update, for rollback checks. `0` means none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedVersions {
    /// Timestamp version.
    pub timestamp: u64,
    /// Snapshot version.
    pub snapshot: u64,
    /// Top-level targets version.
    pub targets: u64,
    /// Delegated role versions, by role name.
    pub delegations: BTreeMap<String, u64>,
}

/// The files of one update, as downloaded (exact bytes: hashes are taken over them).
#[derive(Debug, Clone, Default)]
pub struct RepoFiles<'a> {
    /// Newer roots in order (`N+1.root.json`, `N+2.root.json`, ...), possibly empty.
    pub root_chain: Vec<&'a [u8]>,
    /// `timestamp.json`.
    pub timestamp: &'a [u8],
    /// `snapshot.json`.
    pub snapshot: &'a [u8],
    /// `targets.json`.
    pub targets: &'a [u8],
    /// Delegated role files by role name (e.g. `targets/releases`).
    pub delegations: Vec<(&'a str, &'a [u8])>,
}

/// A target resolved for a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTarget {
    /// The role whose metadata listed it.
    pub role: String,
    /// The target (tag) name.
    pub name: String,
    /// SHA-256 of the manifest.
    pub sha256: Vec<u8>,
    /// Manifest length in bytes.
    pub length: u64,
}

/// The result of a successful verification.
#[derive(Debug, Clone)]
pub struct VerifiedRepo {
    /// The newest trusted root.
    pub root: Signed<Root>,
    /// The exact bytes of the newest root (to pin for the next update).
    pub root_bytes: Vec<u8>,
    /// Verified timestamp.
    pub timestamp: Signed<Timestamp>,
    /// Verified snapshot.
    pub snapshot: Signed<Snapshot>,
    /// Verified top-level targets.
    pub targets: Signed<Targets>,
    /// Verified delegated roles, by name.
    pub delegations: BTreeMap<String, Signed<Targets>>,
}

impl VerifiedRepo {
    /// The versions to remember for the next update's rollback checks.
    pub fn versions(&self) -> TrustedVersions {
        TrustedVersions {
            timestamp: self.timestamp.signed.version,
            snapshot: self.snapshot.signed.version,
            targets: self.targets.signed.version,
            delegations: self
                .delegations
                .iter()
                .map(|(k, v)| (k.clone(), v.signed.version))
                .collect(),
        }
    }

    /// The targets listed by a role (`targets` or a delegated role), if verified.
    pub fn role_targets(&self, role: &str) -> Option<&BTreeMap<String, FileMeta>> {
        if role == TARGETS_ROLE {
            Some(&self.targets.signed.targets)
        } else {
            self.delegations.get(role).map(|d| &d.signed.targets)
        }
    }

    /// Resolves a tag the way `docker pull` with content trust does: `targets/releases`
    /// first, then `targets`. Targets without a SHA-256 are skipped.
    pub fn resolve(&self, tag: &str) -> Option<ResolvedTarget> {
        self.resolve_in(tag, &[RELEASES_ROLE, TARGETS_ROLE])
    }

    /// Resolves a tag in the first of `roles` that lists it.
    pub fn resolve_in(&self, tag: &str, roles: &[&str]) -> Option<ResolvedTarget> {
        roles.iter().find_map(|role| {
            let meta = self.role_targets(role)?.get(tag)?;
            let sha256 = meta.hashes.get("sha256")?;
            Some(ResolvedTarget {
                role: (*role).to_string(),
                name: tag.to_string(),
                sha256: sha256.clone(),
                length: meta.length,
            })
        })
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn check_expiry<T: Metadata>(signed: &T, role: &str, now: OffsetDateTime) -> Result<(), TufError> {
    if signed.expires().at <= now {
        return Err(TufError::Expired {
            role: role.to_string(),
            version: signed.version(),
            expires: signed.expires().text.clone(),
            now: rfc3339(now),
        });
    }
    Ok(())
}

fn check_rollback(role: &str, trusted: u64, found: u64) -> Result<(), TufError> {
    if found < trusted {
        return Err(TufError::Rollback {
            role: role.to_string(),
            trusted,
            found,
        });
    }
    Ok(())
}

fn check_size(role: &str, bytes: &[u8], limit: u64) -> Result<(), TufError> {
    let found = bytes.len() as u64;
    if found > limit {
        return Err(TufError::TooLarge {
            role: role.to_string(),
            limit,
            found,
        });
    }
    Ok(())
}

/// Checks `bytes` against the length and hashes `listed_by` lists for `role`. SHA-256 is
/// required; SHA-512 is checked when listed; other algorithms are ignored.
pub fn check_file_meta(
    role: &str,
    listed_by: &str,
    meta: Option<&FileMeta>,
    bytes: &[u8],
) -> Result<(), TufError> {
    let not_listed = || TufError::NotListed {
        role: role.to_string(),
        listed_by: listed_by.to_string(),
    };
    let meta = meta.ok_or_else(not_listed)?;
    if !meta.hashes.contains_key("sha256") {
        return Err(not_listed());
    }
    let found = bytes.len() as u64;
    if found != meta.length {
        return Err(TufError::LengthMismatch {
            role: role.to_string(),
            listed_by: listed_by.to_string(),
            expected: meta.length,
            found,
        });
    }
    for (name, alg) in [("sha256", &digest::SHA256), ("sha512", &digest::SHA512)] {
        if let Some(expected) = meta.hashes.get(name) {
            let computed = digest::digest(alg, bytes);
            if computed.as_ref() != expected.as_slice() {
                return Err(TufError::HashMismatch {
                    role: role.to_string(),
                    listed_by: listed_by.to_string(),
                    algorithm: name.to_string(),
                    expected: STANDARD.encode(expected),
                    found: STANDARD.encode(computed.as_ref()),
                });
            }
        }
    }
    Ok(())
}

fn verify_top<T: Metadata>(signed: &Signed<T>, role: &str, root: &Root) -> Result<(), TufError> {
    let keys = root.role(role)?;
    verify_threshold(signed, role, &root.keys, &keys.key_ids, keys.threshold)
}

/// Notary's trust pinning check of a root (`trustpinning/certs.go` ValidateRoot, without
/// pinned certificates or CAs): only root-role keys that are certificates with CN = `gun`
/// and valid at `now` count, and they must meet the root threshold. Call it on the newest
/// root after [`verify_repo`].
pub fn check_root_certificates(
    root: &Signed<Root>,
    gun: &str,
    now: OffsetDateTime,
) -> Result<(), TufError> {
    let role = root.signed.role("root")?;
    let now_secs = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    let mut valid = Vec::new();
    let mut rejected = Vec::new();
    for id in &role.key_ids {
        let Some(key) = root.signed.keys.get(id) else {
            rejected.push(format!("{id}: not in keys"));
            continue;
        };
        let Some(cert) = key.certificate() else {
            rejected.push(format!(
                "{id}: {} is not a certificate",
                key.key_type().name()
            ));
            continue;
        };
        if cert.common_name.as_deref() != Some(gun) {
            rejected.push(format!("{id}: CN {:?}", cert.common_name));
        } else if now_secs < cert.not_before || now_secs > cert.not_after {
            rejected.push(format!(
                "{id}: valid {} .. {} (Unix seconds)",
                cert.not_before, cert.not_after
            ));
        } else {
            valid.push(id.clone());
        }
    }
    if valid.is_empty() {
        return Err(TufError::NoValidRootCertificate {
            gun: gun.to_string(),
            now: rfc3339(now),
            found: rejected.join("; "),
        });
    }
    verify_threshold(
        root,
        "root (valid certificates)",
        &root.signed.keys,
        &valid,
        role.threshold,
    )
}

/// Verifies a root rotation chain from a trusted root: each next root must have version
/// `previous + 1` and be signed by a threshold of the previous root's root keys and of its own.
/// Returns the newest root and its bytes. Expiry is not checked here (TUF checks only the
/// final root, after the walk).
pub fn verify_root_chain(
    trusted_root: &[u8],
    chain: &[&[u8]],
    limits: &Limits,
) -> Result<(Signed<Root>, Vec<u8>), TufError> {
    check_size("root", trusted_root, limits.other)?;
    let mut current: Signed<Root> = Signed::parse(trusted_root, "trusted root")?;
    verify_top(&current, "root", &current.signed)?;
    let mut current_bytes = trusted_root.to_vec();
    for bytes in chain {
        check_size("root", bytes, limits.other)?;
        let next: Signed<Root> = Signed::parse(bytes, "root")?;
        let expected = current.signed.version.saturating_add(1);
        if next.signed.version != expected {
            return Err(TufError::RootVersionNotConsecutive {
                expected,
                found: next.signed.version,
            });
        }
        let old = current.signed.role("root")?;
        verify_threshold(
            &next,
            &format!(
                "root version {} (by the keys of root version {})",
                expected, current.signed.version
            ),
            &current.signed.keys,
            &old.key_ids,
            old.threshold,
        )?;
        let new = next.signed.role("root")?;
        verify_threshold(
            &next,
            &format!("root version {expected} (by its own keys)"),
            &next.signed.keys,
            &new.key_ids,
            new.threshold,
        )?;
        current = next;
        current_bytes = bytes.to_vec();
    }
    Ok((current, current_bytes))
}

/// Verifies one update of a Notary repository as TUF's client workflow does, at time `now`:
/// root rotation chain, then timestamp, snapshot (length and hashes from the timestamp),
/// targets and delegated roles (length and hashes from the snapshot), each against its
/// signing keys and threshold, its expiry, and the versions trusted before. The newest root
/// is also checked against the snapshot's `root` entry when the snapshot lists one, so the
/// trusted root must be the exact bytes downloaded. When the root chain rotates the timestamp
/// or snapshot keys, the trusted timestamp and snapshot versions are ignored (TUF 5.3.11).
pub fn verify_repo(
    trusted_root: &[u8],
    files: &RepoFiles<'_>,
    trusted: &TrustedVersions,
    now: OffsetDateTime,
    limits: &Limits,
) -> Result<VerifiedRepo, TufError> {
    verify_repo_with(
        trusted_root,
        files,
        trusted,
        now,
        limits,
        InvalidDelegations::Reject,
    )
}

/// What to do with a delegated role whose signatures do not meet its threshold or that has
/// expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidDelegations {
    /// The whole update fails ([`verify_repo`]).
    Reject,
    /// The role and its descendants are left out of the result, as the notary 0.7.0 client
    /// does (`tufclient.go` downloadTargets: `ErrExpired`/`ErrRoleThreshold` on a delegation
    /// is a warning): their targets are not trusted. Top-level roles still fail.
    Skip,
}

/// [`verify_repo`] with a choice of what an invalid delegated role does.
pub fn verify_repo_with(
    trusted_root: &[u8],
    files: &RepoFiles<'_>,
    trusted: &TrustedVersions,
    now: OffsetDateTime,
    limits: &Limits,
    invalid_delegations: InvalidDelegations,
) -> Result<VerifiedRepo, TufError> {
    let (root, root_bytes) = verify_root_chain(trusted_root, &files.root_chain, limits)?;
    check_expiry(&root.signed, "root", now)?;

    // TUF 5.3.11: when the root walk rotated the timestamp or snapshot keys, the timestamp and
    // snapshot trusted before are discarded (recovery from a fast-forward attack).
    let mut trusted = trusted.clone();
    if !files.root_chain.is_empty() {
        let first: Signed<Root> = Signed::parse(trusted_root, "trusted root")?;
        let rotated = |role: &str| -> Result<bool, TufError> {
            let mut old = first.signed.role(role)?.key_ids.clone();
            let mut new = root.signed.role(role)?.key_ids.clone();
            old.sort();
            new.sort();
            Ok(old != new)
        };
        if rotated("timestamp")? || rotated("snapshot")? {
            trusted.timestamp = 0;
            trusted.snapshot = 0;
        }
    }

    check_size("timestamp", files.timestamp, limits.timestamp)?;
    let timestamp: Signed<Timestamp> = Signed::parse(files.timestamp, "timestamp")?;
    verify_top(&timestamp, "timestamp", &root.signed)?;
    check_rollback("timestamp", trusted.timestamp, timestamp.signed.version)?;
    check_expiry(&timestamp.signed, "timestamp", now)?;

    check_size("snapshot", files.snapshot, limits.other)?;
    check_file_meta(
        "snapshot",
        "timestamp",
        timestamp.signed.meta.get("snapshot"),
        files.snapshot,
    )?;
    let snapshot: Signed<Snapshot> = Signed::parse(files.snapshot, "snapshot")?;
    verify_top(&snapshot, "snapshot", &root.signed)?;
    check_rollback("snapshot", trusted.snapshot, snapshot.signed.version)?;
    check_expiry(&snapshot.signed, "snapshot", now)?;
    if let Some(meta) = snapshot.signed.meta.get("root") {
        check_file_meta("root", "snapshot", Some(meta), &root_bytes)?;
    }

    check_size("targets", files.targets, limits.other)?;
    check_file_meta(
        "targets",
        "snapshot",
        snapshot.signed.meta.get("targets"),
        files.targets,
    )?;
    let targets: Signed<Targets> = Signed::parse(files.targets, "targets")?;
    verify_top(&targets, "targets", &root.signed)?;
    check_rollback("targets", trusted.targets, targets.signed.version)?;
    check_expiry(&targets.signed, "targets", now)?;

    // Delegations, parents before children.
    let mut supplied: Vec<(&str, &[u8])> = files.delegations.clone();
    supplied.sort_by_key(|(name, _)| (name.matches('/').count(), *name));
    let mut delegations: BTreeMap<String, Signed<Targets>> = BTreeMap::new();
    // For each verified delegation, its role entry and those of its ancestors: a target must be
    // within the paths of every one of them (Notary restricts a child to its parent's paths).
    let mut chains: BTreeMap<String, Vec<crate::model::DelegatedRole>> = BTreeMap::new();
    let mut skipped: BTreeSet<String> = BTreeSet::new();
    for (name, bytes) in supplied {
        let parent_name = name.rsplit_once('/').map_or("", |(p, _)| p);
        if skipped.contains(parent_name) {
            skipped.insert(name.to_string());
            continue;
        }
        let parent = if parent_name == TARGETS_ROLE {
            &targets
        } else {
            delegations
                .get(parent_name)
                .ok_or_else(|| TufError::NotDelegated {
                    role: name.to_string(),
                    parent: parent_name.to_string(),
                })?
        };
        let role = parent
            .signed
            .delegations
            .roles
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| TufError::NotDelegated {
                role: name.to_string(),
                parent: parent_name.to_string(),
            })?
            .clone();
        let keys = parent.signed.delegations.keys.clone();
        check_size(name, bytes, limits.other)?;
        check_file_meta(name, "snapshot", snapshot.signed.meta.get(name), bytes)?;
        let signed: Signed<Targets> = Signed::parse(bytes, name)?;
        let valid = verify_threshold(&signed, name, &keys, &role.key_ids, role.threshold)
            .and_then(|()| {
                check_rollback(
                    name,
                    trusted.delegations.get(name).copied().unwrap_or(0),
                    signed.signed.version,
                )
            })
            .and_then(|()| check_expiry(&signed.signed, name, now));
        match valid {
            Err(TufError::ThresholdNotMet { .. } | TufError::Expired { .. })
                if invalid_delegations == InvalidDelegations::Skip =>
            {
                skipped.insert(name.to_string());
                continue;
            }
            other => other?,
        }
        let mut chain = chains.get(parent_name).cloned().unwrap_or_default();
        chain.push(role.clone());
        for target in signed.signed.targets.keys() {
            if let Some(outside) = chain.iter().find(|r| !r.allows(target)) {
                return Err(TufError::TargetOutsideDelegatedPaths {
                    role: name.to_string(),
                    target: target.clone(),
                    paths: outside.paths.clone(),
                });
            }
        }
        chains.insert(name.to_string(), chain);
        delegations.insert(name.to_string(), signed);
    }

    // Every delegated role of a verified parent that the snapshot lists must be supplied.
    let parents = std::iter::once(&targets).chain(delegations.values());
    for parent in parents {
        for role in &parent.signed.delegations.roles {
            if snapshot.signed.meta.contains_key(&role.name)
                && !delegations.contains_key(&role.name)
                && !skipped.contains(&role.name)
            {
                return Err(TufError::MissingRole {
                    role: role.name.clone(),
                });
            }
        }
    }

    Ok(VerifiedRepo {
        root,
        root_bytes,
        timestamp,
        snapshot,
        targets,
        delegations,
    })
}
