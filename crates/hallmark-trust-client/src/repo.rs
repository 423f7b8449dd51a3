//! One repository (GUN) on a Notary server: verified updates with a local cache and root
//! trust on first use (or pinned), and drafts of changes that are signed and uploaded in one
//! atomic publish, as notary 0.7.0's client does for docker.

use crate::error::TrustError;
use crate::external::RoleSigner;
use crate::remote::Remote;
use crate::trustdir::TrustDir;
use hallmark_tuf::builder::{self, SigningKey};
use hallmark_tuf::cert::{canonical_key_id, certificate_key, root_certificate};
use hallmark_tuf::verify::{RELEASES_ROLE, TARGETS_ROLE};
use hallmark_tuf::{
    InvalidDelegations, KeyType, Limits, PrivateKey, RepoFiles, Root, Signed, Snapshot, Targets,
    Timestamp, TrustedVersions, TufKey, VerifiedRepo, check_root_certificates, verify_repo_with,
    verify_root_chain, verify_threshold,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// How the root of a repository is trusted. Trust on first use is notary's and docker's
/// default; it can be replaced, never silently skipped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RootTrust {
    /// Trust the first root downloaded, then only roots it signs a rotation to.
    #[default]
    TrustOnFirstUse,
    /// Require a root already cached in the trust directory (notary's `disable_tofu`).
    CachedOnly,
    /// The root must list one of these root key IDs (certificate or bare key IDs), on first
    /// use and after.
    PinnedKeyIds(Vec<String>),
}

/// Where passphrases of private keys come from.
pub trait Passphrases {
    /// The passphrase of the key `key_id` of `role` (`root`, `targets`, `snapshot`, or a
    /// delegation name); `new_key` when a key is being created.
    fn passphrase(
        &self,
        role: &str,
        key_id: &str,
        new_key: bool,
    ) -> Result<Zeroizing<Vec<u8>>, TrustError>;
}

/// The cached root (bytes and parsed) and the versions trusted from the cache.
type CachedTrust = (Vec<u8>, Signed<Root>, TrustedVersions);

/// Verified trust data of a repository and the exact files it came from.
#[derive(Debug, Clone)]
pub struct TrustData {
    /// The verified repository.
    pub verified: VerifiedRepo,
    /// The files by role: `root`, `timestamp`, `snapshot`, `targets`, delegated roles.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// A repository on a trust server with a local trust directory.
#[derive(Debug, Clone)]
pub struct Repository {
    /// The globally unique name, e.g. `127.0.0.1:5000/demo/app` or `docker.io/library/alpine`.
    pub gun: String,
    /// The server.
    pub remote: Remote,
    /// The trust directory.
    pub dir: TrustDir,
    /// How the root is trusted.
    pub root_trust: RootTrust,
}

fn verify_err(gun: &str) -> impl Fn(hallmark_tuf::TufError) -> TrustError + '_ {
    move |source| TrustError::Verify {
        gun: gun.to_string(),
        source: Box::new(source),
    }
}

fn meta_err(what: &str) -> impl Fn(hallmark_tuf::TufError) -> TrustError + '_ {
    move |source| TrustError::Metadata {
        what: what.to_string(),
        source: Box::new(source),
    }
}

/// Root key IDs (listed and bare) of a root.
fn root_key_ids(root: &Root) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = root.roles.get("root") {
        for id in &r.key_ids {
            out.push(id.clone());
            if let Some(canonical) = root.keys.get(id).and_then(|k| canonical_key_id(k).ok())
                && &canonical != id
            {
                out.push(canonical);
            }
        }
    }
    out
}

impl Repository {
    fn cache_error(&self, role: &str, reason: String) -> TrustError {
        let dir = self.dir.metadata_dir(&self.gun);
        TrustError::CorruptCache {
            path: dir.join(format!("{role}.json")),
            dir,
            reason,
        }
    }

    /// The cached root and the versions trusted from the cache, checked: the root verifies
    /// by its own keys and the cached top-level roles by the root's keys.
    fn trusted_from_cache(
        &self,
        cached: &BTreeMap<String, Vec<u8>>,
    ) -> Result<Option<CachedTrust>, TrustError> {
        let Some(root_bytes) = cached.get("root") else {
            return Ok(None);
        };
        let (root, _) = verify_root_chain(root_bytes, &[], &Limits::default())
            .map_err(|e| self.cache_error("root", e.to_string()))?;
        let mut versions = TrustedVersions::default();
        macro_rules! check_top {
            ($ty:ty, $role:expr, $field:ident) => {
                if let Some(bytes) = cached.get($role) {
                    let signed: Signed<$ty> = Signed::parse(bytes, $role)
                        .map_err(|e| self.cache_error($role, e.to_string()))?;
                    let keys = root
                        .signed
                        .role($role)
                        .map_err(|e| self.cache_error($role, e.to_string()))?;
                    verify_threshold(
                        &signed,
                        $role,
                        &root.signed.keys,
                        &keys.key_ids,
                        keys.threshold,
                    )
                    .map_err(|e| self.cache_error($role, e.to_string()))?;
                    versions.$field = signed.signed.version;
                }
            };
        }
        check_top!(Timestamp, "timestamp", timestamp);
        check_top!(Snapshot, "snapshot", snapshot);
        check_top!(Targets, "targets", targets);
        for (role, bytes) in cached {
            if role.starts_with("targets/") {
                let signed: Signed<Targets> = Signed::parse(bytes, role)
                    .map_err(|e| self.cache_error(role, e.to_string()))?;
                versions
                    .delegations
                    .insert(role.clone(), signed.signed.version);
            }
        }
        Ok(Some((root_bytes.clone(), root, versions)))
    }

    fn check_pins(&self, root: &Root, source: &str) -> Result<(), TrustError> {
        if let RootTrust::PinnedKeyIds(pins) = &self.root_trust {
            let found = root_key_ids(root);
            if !pins.iter().any(|p| found.contains(p)) {
                return Err(TrustError::RootMismatch {
                    gun: self.gun.clone(),
                    expected: pins.join(", "),
                    found: found.join(", "),
                    source_of_trust: source.to_string(),
                    dir: self.dir.metadata_dir(&self.gun),
                });
            }
        }
        Ok(())
    }

    /// Downloads the repository's trust data, verifies it against the trusted root (trusted
    /// on first use, pinned, or cached) and, only when it verifies, replaces the cache.
    /// `None` when the server has no trust data for the repository.
    pub async fn update(&self, now: OffsetDateTime) -> Result<Option<TrustData>, TrustError> {
        let cached = self.dir.cached(&self.gun)?;
        let trusted = self.trusted_from_cache(&cached)?;
        if trusted.is_none() && self.root_trust == RootTrust::CachedOnly {
            return Err(TrustError::Invalid(format!(
                "no cached root of trust for {} in {}, and trust on first use is disabled",
                self.gun,
                self.dir.metadata_dir(&self.gun).display()
            )));
        }
        tracing::debug!(gun = self.gun, root_trust = ?self.root_trust, cached_root = trusted.is_some(), "trust data update: fetching roles");
        let Some(timestamp) = self.remote.get_role(&self.gun, "timestamp").await? else {
            return Ok(None);
        };
        let Some(server_root) = self.remote.get_role(&self.gun, "root").await? else {
            return Ok(None);
        };
        let server_root_signed: Signed<Root> =
            Signed::parse(&server_root, "root").map_err(verify_err(&self.gun))?;
        let (trusted_root, versions, chain) = match trusted {
            None => {
                self.check_pins(&server_root_signed.signed, "pinned root key IDs")?;
                (server_root.clone(), TrustedVersions::default(), Vec::new())
            }
            Some((root_bytes, root, versions)) => {
                self.check_pins(&root.signed, "pinned root key IDs")?;
                let (v, s) = (root.signed.version, server_root_signed.signed.version);
                if s < v {
                    return Err(TrustError::Verify {
                        gun: self.gun.clone(),
                        source: Box::new(hallmark_tuf::TufError::Rollback {
                            role: "root".to_string(),
                            trusted: v,
                            found: s,
                        }),
                    });
                }
                if s == v && root_bytes != server_root {
                    return Err(TrustError::RootMismatch {
                        gun: self.gun.clone(),
                        expected: root_key_ids(&root.signed).join(", "),
                        found: root_key_ids(&server_root_signed.signed).join(", "),
                        source_of_trust: format!("root version {v} trusted on first use"),
                        dir: self.dir.metadata_dir(&self.gun),
                    });
                }
                let mut chain = Vec::new();
                for n in v + 1..=s {
                    let bytes = if n == s {
                        server_root.clone()
                    } else {
                        self.remote
                            .get_root_version(&self.gun, n)
                            .await?
                            .ok_or_else(|| TrustError::Server {
                                url: self.remote.url().to_string(),
                                status: 404,
                                code: String::new(),
                                message: format!(
                                    "root version {n} of {} is missing (needed to rotate from version {v} to {s})",
                                    self.gun
                                ),
                            })?
                    };
                    chain.push(bytes);
                }
                (root_bytes, versions, chain)
            }
        };
        let ts: Signed<Timestamp> =
            Signed::parse(&timestamp, "timestamp").map_err(verify_err(&self.gun))?;
        let snapshot = self
            .fetch_listed(&ts.signed.meta, "snapshot")
            .await?
            .ok_or_else(|| self.missing("snapshot"))?;
        let snap: Signed<Snapshot> =
            Signed::parse(&snapshot, "snapshot").map_err(verify_err(&self.gun))?;
        let targets = self
            .fetch_listed(&snap.signed.meta, "targets")
            .await?
            .ok_or_else(|| self.missing("targets"))?;
        // Delegated roles the snapshot lists, discovered breadth first from targets.
        let mut delegations: Vec<(String, Vec<u8>)> = Vec::new();
        let mut queue = vec![targets.clone()];
        while let Some(parent) = queue.pop() {
            let Ok(p) = Signed::<Targets>::parse(&parent, "targets") else {
                continue;
            };
            for r in p.signed.delegations.roles {
                if delegations.iter().any(|(n, _)| n == &r.name)
                    || !snap.signed.meta.contains_key(&r.name)
                {
                    continue;
                }
                if let Some(bytes) = self.fetch_listed(&snap.signed.meta, &r.name).await? {
                    queue.push(bytes.clone());
                    delegations.push((r.name.clone(), bytes));
                }
            }
        }
        let chain_refs: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
        let files = RepoFiles {
            root_chain: chain_refs,
            timestamp: &timestamp,
            snapshot: &snapshot,
            targets: &targets,
            delegations: delegations
                .iter()
                .map(|(n, b)| (n.as_str(), b.as_slice()))
                .collect(),
        };
        // As the notary client: a delegated role that fails its threshold or has expired is
        // left out (its targets are not trusted); top-level roles must verify.
        let verified = verify_repo_with(
            &trusted_root,
            &files,
            &versions,
            now,
            &Limits::default(),
            InvalidDelegations::Skip,
        )
        .map_err(verify_err(&self.gun))?;
        check_root_certificates(&verified.root, &self.gun, now).map_err(verify_err(&self.gun))?;
        tracing::debug!(
            gun = self.gun,
            root_rotations = chain.len(),
            delegations_verified = verified.delegations.len(),
            delegations_fetched = delegations.len(),
            "trust data verified"
        );
        let mut out = BTreeMap::new();
        out.insert("root".to_string(), verified.root_bytes.clone());
        out.insert("timestamp".to_string(), timestamp);
        out.insert("snapshot".to_string(), snapshot);
        out.insert("targets".to_string(), targets);
        for (n, b) in delegations {
            if verified.delegations.contains_key(&n) {
                out.insert(n, b);
            }
        }
        self.dir.store_cache(&self.gun, &out)?;
        Ok(Some(TrustData {
            verified,
            files: out,
        }))
    }

    fn missing(&self, role: &str) -> TrustError {
        TrustError::Server {
            url: self.remote.url().to_string(),
            status: 404,
            code: String::new(),
            message: format!("{role} of {} is missing", self.gun),
        }
    }

    async fn fetch_listed(
        &self,
        meta: &BTreeMap<String, hallmark_tuf::FileMeta>,
        role: &str,
    ) -> Result<Option<Vec<u8>>, TrustError> {
        if let Some(sha) = meta.get(role).and_then(|m| m.hashes.get("sha256"))
            && let Some(b) = self.remote.get_role_by_hash(&self.gun, role, sha).await?
        {
            return Ok(Some(b));
        }
        self.remote.get_role(&self.gun, role).await
    }
}

/// A key created in this session, written to the trust directory right before upload.
#[derive(Debug, Clone)]
struct NewKey {
    key: PrivateKey,
    role: String,
    gun: Option<String>,
}

/// Staged changes to a repository, signed and uploaded together by [`Draft::publish`].
#[derive(Debug)]
pub struct Draft {
    gun: String,
    root: Value,
    root_changed: bool,
    /// The root before changes (signs a rotation); `None` on initialisation.
    old_root: Option<Value>,
    roles: BTreeMap<String, Value>,
    changed: BTreeSet<String>,
    files: BTreeMap<String, Vec<u8>>,
    snapshot_version: u64,
    held: BTreeMap<String, PrivateKey>,
    new_keys: Vec<NewKey>,
    /// Keys outside the trust directory (HSM, KMS) by key ID; preferred over trust-directory
    /// keys for the roles that list them.
    external: BTreeMap<String, Arc<dyn RoleSigner>>,
}

/// The key a role is signed with, under the key ID the role lists.
#[derive(Debug, Clone)]
enum RoleKey {
    Local(PrivateKey, String),
    External(Arc<dyn RoleSigner>, String),
}

impl RoleKey {
    fn listed_id(&self) -> &str {
        match self {
            RoleKey::Local(_, id) | RoleKey::External(_, id) => id,
        }
    }
}

/// Signs a role's `signed` value with every key: trust-directory keys in place, external
/// keys through their backend (each signature verified against the listed key).
async fn sign_role(value: &Value, keys: &[RoleKey], role: &str) -> Result<Vec<u8>, TrustError> {
    let mut pending = builder::Unsigned::new(value).map_err(meta_err(role))?;
    for k in keys {
        match k {
            RoleKey::Local(key, id) => pending
                .sign_local(SigningKey { key, key_id: id })
                .map_err(meta_err(role))?,
            RoleKey::External(signer, id) => {
                let sig = signer.sign(pending.message()).await?;
                pending
                    .add_external(signer.key(), id, signer.method(), sig)
                    .map_err(meta_err(role))?;
            }
        }
    }
    Ok(pending.finish())
}

fn keys_of(value: &Value, path: &[&str]) -> BTreeMap<String, TufKey> {
    let mut v = value;
    for p in path {
        match v.get(p) {
            Some(x) => v = x,
            None => return BTreeMap::new(),
        }
    }
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(id, k)| TufKey::from_value(k, id).ok().map(|k| (id.clone(), k)))
                .collect()
        })
        .unwrap_or_default()
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl Draft {
    /// A draft over downloaded trust data.
    pub fn from_trust_data(gun: &str, data: &TrustData) -> Result<Self, TrustError> {
        let mut roles = BTreeMap::new();
        for (name, bytes) in &data.files {
            if name == TARGETS_ROLE || name.starts_with("targets/") {
                roles.insert(
                    name.clone(),
                    builder::signed_value(bytes, name).map_err(meta_err(name))?,
                );
            }
        }
        let root =
            builder::signed_value(&data.verified.root_bytes, "root").map_err(meta_err("root"))?;
        Ok(Self {
            gun: gun.to_string(),
            old_root: Some(root.clone()),
            root,
            root_changed: false,
            roles,
            changed: BTreeSet::new(),
            files: data.files.clone(),
            snapshot_version: data.verified.snapshot.signed.version,
            held: BTreeMap::new(),
            new_keys: Vec::new(),
            external: BTreeMap::new(),
        })
    }

    /// A draft initialising a new repository as docker does: the first local root key (or a
    /// new one), a self-signed root certificate (CN = GUN), a new targets key, and the
    /// server's snapshot and timestamp keys.
    pub async fn initialise(
        repo: &Repository,
        passphrases: &dyn Passphrases,
        now: OffsetDateTime,
    ) -> Result<Self, TrustError> {
        let root_key = match repo.dir.list_keys()?.into_iter().find(|k| k.role == "root") {
            Some(info) => {
                let pass = passphrases.passphrase("root", &info.key_id, false)?;
                repo.dir.read_key(&info, &pass)?.key
            }
            None => PrivateKey::generate(KeyType::Ecdsa).map_err(|source| TrustError::KeyFile {
                path: repo.dir.private_dir(),
                source: Box::new(source),
            })?,
        };
        let is_new_root = repo.dir.find_key(&root_key.key_id())?.is_none();
        let cert =
            root_certificate(&root_key, &repo.gun, now).map_err(meta_err("root certificate"))?;
        let cert_key = certificate_key(&cert).map_err(meta_err("root certificate"))?;
        let targets_key =
            PrivateKey::generate(KeyType::Ecdsa).map_err(|source| TrustError::KeyFile {
                path: repo.dir.private_dir(),
                source: Box::new(source),
            })?;
        let snapshot_key = repo.remote.get_key(&repo.gun, "snapshot").await?;
        let timestamp_key = repo.remote.get_key(&repo.gun, "timestamp").await?;
        let root = builder::new_root(
            0,
            now,
            &[&cert_key],
            &[targets_key.public_key()],
            &[&snapshot_key],
            &[&timestamp_key],
        );
        let mut draft = Self {
            gun: repo.gun.clone(),
            root,
            root_changed: true,
            old_root: None,
            roles: BTreeMap::new(),
            changed: BTreeSet::new(),
            files: BTreeMap::new(),
            snapshot_version: 0,
            held: BTreeMap::new(),
            new_keys: Vec::new(),
            external: BTreeMap::new(),
        };
        draft
            .roles
            .insert(TARGETS_ROLE.to_string(), builder::new_targets(0, now));
        draft.changed.insert(TARGETS_ROLE.to_string());
        if is_new_root {
            draft.new_keys.push(NewKey {
                key: root_key.clone(),
                role: "root".to_string(),
                gun: None,
            });
        }
        draft.new_keys.push(NewKey {
            key: targets_key.clone(),
            role: "targets".to_string(),
            gun: Some(repo.gun.clone()),
        });
        draft.held.insert(root_key.key_id(), root_key);
        draft.held.insert(targets_key.key_id(), targets_key);
        Ok(draft)
    }

    /// The repository name.
    pub fn gun(&self) -> &str {
        &self.gun
    }

    /// The `signed` value of a targets-type role, if it exists (published or staged).
    pub fn role(&self, name: &str) -> Option<&Value> {
        self.roles.get(name)
    }

    /// The `signed` value of a targets-type role to change; a delegated role never published
    /// starts empty.
    pub fn role_mut(&mut self, name: &str) -> &mut Value {
        self.changed.insert(name.to_string());
        self.roles
            .entry(name.to_string())
            .or_insert_with(|| builder::new_targets(0, OffsetDateTime::now_utc()))
    }

    /// The root's `signed` value to change (a new root version is signed on publish).
    pub fn root_mut(&mut self) -> &mut Value {
        self.root_changed = true;
        &mut self.root
    }

    /// The root's `signed` value.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// Adds a key created by the caller: held for signing, written to the trust directory
    /// (with `role` and `gun` headers) right before the upload.
    pub fn add_new_key(&mut self, key: PrivateKey, role: &str, gun: Option<&str>) {
        self.held.insert(key.key_id(), key.clone());
        self.new_keys.push(NewKey {
            key,
            role: role.to_string(),
            gun: gun.map(str::to_string),
        });
    }

    /// Adds a key held outside the trust directory (an HSM or KMS key opened from a key
    /// reference). Roles that list its key ID are signed with it rather than with a
    /// trust-directory key.
    pub fn add_external_signer(&mut self, signer: Arc<dyn RoleSigner>) {
        self.external.insert(signer.key().key_id(), signer);
    }

    /// The signable roles (as [`Draft::signable_roles`]) that list `key_id`: with a key given
    /// explicitly, only the delegations of that key are signed. An error names the key and
    /// the delegations found when none lists it.
    pub fn signable_roles_for_key(
        &self,
        key_id: &str,
        reference: &str,
        target: &str,
    ) -> Result<Vec<String>, TrustError> {
        let delegations = self.direct_delegations();
        let out: Vec<String> = delegations
            .iter()
            .filter(|(name, ids, paths)| {
                name.matches('/').count() == 1
                    && paths.iter().any(|p| target.starts_with(p.as_str()))
                    && ids.iter().any(|id| id == key_id)
            })
            .map(|(name, _, _)| name.clone())
            .collect();
        if out.is_empty() {
            let names: Vec<&str> = delegations.iter().map(|(n, _, _)| n.as_str()).collect();
            return Err(TrustError::Invalid(format!(
                "key reference {reference} (key ID {key_id}) is not a signer of {}: expected a delegation listing it, found [{}]; add it with `hallmark trust signer add NAME REPO --key REF`",
                self.gun,
                names.join(", ")
            )));
        }
        Ok(out)
    }

    /// Delegated roles that are direct children of `targets`, with key IDs and paths.
    pub fn direct_delegations(&self) -> Vec<(String, Vec<String>, Vec<String>)> {
        let Some(t) = self.roles.get(TARGETS_ROLE) else {
            return Vec::new();
        };
        t.get("delegations")
            .and_then(|d| d.get("roles"))
            .and_then(Value::as_array)
            .map(|roles| {
                roles
                    .iter()
                    .filter_map(|r| {
                        let name = r.get("name")?.as_str()?.to_string();
                        Some((
                            name,
                            string_list(r.get("keyids")),
                            string_list(r.get("paths")),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Docker's signable roles for a target (`GetSignableRoles`): every direct child of
    /// `targets` whose paths allow it and whose key is in the trust directory; `targets` when
    /// there are no delegations.
    pub fn signable_roles(&self, dir: &TrustDir, target: &str) -> Result<Vec<String>, TrustError> {
        let delegations = self.direct_delegations();
        if delegations.is_empty() {
            return Ok(vec![TARGETS_ROLE.to_string()]);
        }
        let local: BTreeSet<String> = dir
            .list_keys()?
            .into_iter()
            .map(|k| k.key_id)
            .chain(self.held.keys().cloned())
            .chain(self.external.keys().cloned())
            .collect();
        let mut out = Vec::new();
        for (name, ids, paths) in delegations {
            if name.matches('/').count() != 1
                || !paths.iter().any(|p| target.starts_with(p.as_str()))
            {
                continue;
            }
            if ids.iter().any(|id| local.contains(id)) {
                out.push(name);
            }
        }
        if out.is_empty() {
            return Err(TrustError::Invalid(format!(
                "no valid signing keys for delegation roles of {}: expected a private key in {} for one of the signers' keys",
                self.gun,
                dir.private_dir().display()
            )));
        }
        Ok(out)
    }

    fn signer(
        &mut self,
        dir: &TrustDir,
        passphrases: &dyn Passphrases,
        role: &str,
        listed: &[String],
        keys: &BTreeMap<String, TufKey>,
    ) -> Result<RoleKey, TrustError> {
        // A key given explicitly (HSM, KMS) first.
        for id in listed {
            if let Some(s) = self.external.get(id) {
                return Ok(RoleKey::External(Arc::clone(s), id.clone()));
            }
        }
        let mut canonical_ids = Vec::new();
        for id in listed {
            let canonical = match keys.get(id) {
                Some(k) => canonical_key_id(k).map_err(meta_err(role))?,
                None => id.clone(),
            };
            if let Some(k) = self.held.get(&canonical) {
                return Ok(RoleKey::Local(k.clone(), id.clone()));
            }
            canonical_ids.push((id.clone(), canonical));
        }
        for (id, canonical) in &canonical_ids {
            if let Some(info) = dir.find_key(canonical)? {
                let pass_role = if role == "root" {
                    "root"
                } else {
                    info.role.as_str()
                };
                let pass = passphrases.passphrase(pass_role, canonical, false)?;
                let key = dir.read_key(&info, &pass)?.key;
                self.held.insert(canonical.clone(), key.clone());
                return Ok(RoleKey::Local(key, id.clone()));
            }
        }
        Err(TrustError::MissingKey {
            role: role.to_string(),
            dir: dir.private_dir(),
            key_ids: canonical_ids
                .iter()
                .map(|(_, c)| c.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    fn role_keys(root: &Value, role: &str) -> Vec<String> {
        string_list(
            root.get("roles")
                .and_then(|r| r.get(role))
                .and_then(|r| r.get("keyids")),
        )
    }

    /// Signs every changed role (new versions, notary's default expiries from `now`), the
    /// snapshot when its key is local, writes keys created in this session to the trust
    /// directory, and uploads everything in one atomic request. Every key is decrypted and
    /// every file signed before the first write.
    pub async fn publish(
        mut self,
        repo: &Repository,
        passphrases: &dyn Passphrases,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, TrustError> {
        let mut uploads: Vec<(String, Vec<u8>)> = Vec::new();
        let mut new_files = self.files.clone();
        if self.root_changed {
            let mut root = self.root.clone();
            builder::bump(&mut root, now + builder::ROOT_EXPIRY).map_err(meta_err("root"))?;
            let mut signers = Vec::new();
            let roots: Vec<Value> = self
                .old_root
                .iter()
                .cloned()
                .chain([root.clone()])
                .collect();
            for r in &roots {
                let keys = keys_of(r, &["keys"]);
                let ids = Self::role_keys(r, "root");
                let s = self.signer(&repo.dir, passphrases, "root", &ids, &keys)?;
                if !signers
                    .iter()
                    .any(|k: &RoleKey| k.listed_id() == s.listed_id())
                {
                    signers.push(s);
                }
            }
            let bytes = sign_role(&root, &signers, "root").await?;
            self.root = root;
            new_files.insert("root".to_string(), bytes.clone());
            uploads.push(("root".to_string(), bytes));
        }
        // Parents before children, so a child's keys come from its parent's new version.
        let mut changed: Vec<String> = self.changed.iter().cloned().collect();
        changed.sort_by_key(|n| (n.matches('/').count(), n.clone()));
        for name in changed {
            let (ids, keys) = if name == TARGETS_ROLE {
                (
                    Self::role_keys(&self.root, TARGETS_ROLE),
                    keys_of(&self.root, &["keys"]),
                )
            } else {
                let parent_name = name.rsplit_once('/').map_or(TARGETS_ROLE, |(p, _)| p);
                let parent = self.roles.get(parent_name).cloned().unwrap_or(Value::Null);
                let ids = parent
                    .get("delegations")
                    .and_then(|d| d.get("roles"))
                    .and_then(Value::as_array)
                    .and_then(|roles| {
                        roles
                            .iter()
                            .find(|r| r.get("name").and_then(Value::as_str) == Some(&name))
                    })
                    .map(|r| string_list(r.get("keyids")))
                    .ok_or_else(|| {
                        TrustError::Invalid(format!(
                            "{name} is not delegated by {parent_name} in {}",
                            self.gun
                        ))
                    })?;
                (ids, keys_of(&parent, &["delegations", "keys"]))
            };
            let key = self.signer(&repo.dir, passphrases, &name, &ids, &keys)?;
            let mut value = self.roles.get(&name).cloned().unwrap_or(Value::Null);
            builder::bump(&mut value, now + builder::TARGETS_EXPIRY).map_err(meta_err(&name))?;
            let bytes = sign_role(&value, &[key], &name).await?;
            self.roles.insert(name.clone(), value);
            new_files.insert(name.clone(), bytes.clone());
            uploads.push((name, bytes));
        }
        // The snapshot, when its key is local (otherwise the server signs it).
        let snapshot_ids = Self::role_keys(&self.root, "snapshot");
        let root_keys = keys_of(&self.root, &["keys"]);
        let local_snapshot = snapshot_ids
            .iter()
            .any(|id| self.held.contains_key(id) || repo.dir.find_key(id).ok().flatten().is_some());
        if local_snapshot {
            let key = self.signer(
                &repo.dir,
                passphrases,
                "snapshot",
                &snapshot_ids,
                &root_keys,
            )?;
            let listed: Vec<(&str, &[u8])> = new_files
                .iter()
                .filter(|(n, _)| {
                    n.as_str() == "root" || n.as_str() == TARGETS_ROLE || n.starts_with("targets/")
                })
                .map(|(n, b)| (n.as_str(), b.as_slice()))
                .collect();
            let snapshot = builder::new_snapshot(
                self.snapshot_version + 1,
                now + builder::SNAPSHOT_EXPIRY,
                listed,
            );
            let bytes = sign_role(&snapshot, &[key], "snapshot").await?;
            uploads.push(("snapshot".to_string(), bytes));
        }
        for k in &self.new_keys {
            let pass = passphrases.passphrase(&k.role, &k.key.key_id(), true)?;
            repo.dir
                .write_key(&k.key, &k.role, k.gun.as_deref(), &pass)?;
        }
        repo.remote.publish(&self.gun, &uploads).await?;
        // A root this client signed is trusted from now on (as notary caches it on
        // initialisation and rotation); the other roles are downloaded and verified against it
        // on the next update.
        if let Some((_, root)) = uploads.iter().find(|(n, _)| n == "root") {
            let files = BTreeMap::from([("root".to_string(), root.clone())]);
            repo.dir.store_cache(&self.gun, &files)?;
        }
        Ok(uploads.into_iter().map(|(n, _)| n).collect())
    }
}

/// The signer role name for a docker signer (`alice` -> `targets/alice`), checked as docker
/// checks it.
pub fn signer_role(name: &str) -> Result<String, TrustError> {
    let valid = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid {
        return Err(TrustError::Invalid(format!(
            "signer name \"{name}\" must start with lowercase alphanumeric characters and can include \"-\" or \"_\" after the first character"
        )));
    }
    if name == "releases" {
        return Err(TrustError::Invalid(
            "releases is a reserved keyword, use a different signer name".to_string(),
        ));
    }
    Ok(format!("targets/{name}"))
}

/// Adds a signer as `docker trust signer add` does: its keys to `targets/<name>` and
/// `targets/releases`, paths `[""]`.
pub fn add_signer(draft: &mut Draft, name: &str, keys: &[&TufKey]) -> Result<(), TrustError> {
    let role = signer_role(name)?;
    let targets = draft.role_mut(TARGETS_ROLE);
    builder::add_delegation(targets, &role, keys, &[""]).map_err(meta_err("targets"))?;
    builder::add_delegation(targets, RELEASES_ROLE, keys, &[""]).map_err(meta_err("targets"))?;
    Ok(())
}

/// Removes a signer as `docker trust signer remove` does: its keys leave `targets/releases`
/// and its role is removed.
pub fn remove_signer(draft: &mut Draft, name: &str) -> Result<(), TrustError> {
    let role = format!("targets/{name}");
    if role == RELEASES_ROLE {
        return Err(TrustError::Invalid(
            "releases is a reserved keyword and cannot be removed".to_string(),
        ));
    }
    let ids = draft
        .direct_delegations()
        .into_iter()
        .find(|(n, _, _)| n == &role)
        .map(|(_, ids, _)| ids)
        .ok_or_else(|| {
            TrustError::Invalid(format!("no signer {name} for repository {}", draft.gun()))
        })?;
    let targets = draft.role_mut(TARGETS_ROLE);
    builder::remove_delegation_keys(targets, RELEASES_ROLE, &ids).map_err(meta_err("targets"))?;
    builder::remove_delegation(targets, &role).map_err(meta_err("targets"))?;
    Ok(())
}

/// Parses a signer's public key file: PEM `PUBLIC KEY` (docker's `NAME.pub`, with or without
/// a `role:` header) or `CERTIFICATE`.
pub fn parse_public_key(text: &str) -> Result<TufKey, TrustError> {
    let block = hallmark_tuf::keyfile::parse_pem(text)
        .map_err(|e| TrustError::Invalid(format!("public key: {e}")))?;
    let key = match block.label.as_str() {
        "PUBLIC KEY" => TufKey::new(KeyType::Ecdsa, block.der),
        "CERTIFICATE" => {
            let pem = text.trim().to_string() + "\n";
            certificate_key(&pem)
        }
        other => {
            return Err(TrustError::Invalid(format!(
                "public key: expected a PEM PUBLIC KEY or CERTIFICATE, found {other}"
            )));
        }
    };
    key.map_err(|e| TrustError::Invalid(format!("public key: {e}")))
}
