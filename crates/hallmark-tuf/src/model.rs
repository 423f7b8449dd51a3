//! Notary's TUF metadata: the `{"signed":..,"signatures":[..]}` envelope and the four roles.

use crate::canonical::to_canonical;
use crate::error::TufError;
use crate::keys::TufKey;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One entry of `signatures`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The ID of the signing key.
    pub key_id: String,
    /// The signature method (`ecdsa`, `eddsa`, `rsapss`, `rsapkcs1v15`).
    pub method: String,
    /// The decoded signature bytes (raw r||s for ECDSA).
    pub sig: Vec<u8>,
}

/// A signed metadata file: the parsed `signed` object, its signatures, and the canonical bytes
/// of `signed` that the signatures cover.
#[derive(Debug, Clone)]
pub struct Signed<T> {
    /// The parsed `signed` object.
    pub signed: T,
    /// The signatures, as listed.
    pub signatures: Vec<Signature>,
    /// The canonical JSON of `signed`: what the signatures verify over.
    pub signed_bytes: Vec<u8>,
}

/// A role's metadata type.
pub trait Metadata: Sized {
    /// The `_type` Notary writes (`Root`, `Targets`, `Snapshot`, `Timestamp`).
    const TYPE: &'static str;
    /// Parses the `signed` object (its `_type` already checked).
    fn from_value(value: &Value, what: &str) -> Result<Self, TufError>;
    /// The `version`.
    fn version(&self) -> u64;
    /// The `expires` time.
    fn expires(&self) -> &Expires;
}

/// An `expires` time, as written and as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expires {
    /// The RFC 3339 text as written.
    pub text: String,
    /// The parsed instant.
    pub at: OffsetDateTime,
}

/// Keys and threshold of a top-level role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleKeys {
    /// The key IDs allowed to sign for the role.
    pub key_ids: Vec<String>,
    /// How many distinct key IDs must sign.
    pub threshold: u64,
}

/// The `signed` object of `root.json`.
#[derive(Debug, Clone)]
pub struct Root {
    /// `version`.
    pub version: u64,
    /// `expires`.
    pub expires: Expires,
    /// `consistent_snapshot` (always false in Notary).
    pub consistent_snapshot: bool,
    /// `keys`, by key ID (each ID checked against the key).
    pub keys: BTreeMap<String, TufKey>,
    /// `roles`: `root`, `targets`, `snapshot`, `timestamp`.
    pub roles: BTreeMap<String, RoleKeys>,
}

impl Root {
    /// The keys and threshold of a top-level role.
    pub fn role(&self, name: &str) -> Result<&RoleKeys, TufError> {
        self.roles.get(name).ok_or_else(|| TufError::Malformed {
            what: "root".to_string(),
            reason: format!("expected role {name:?} in roles"),
        })
    }
}

/// Length and hashes of a file, as listed in `meta` or `targets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// `length` in bytes.
    pub length: u64,
    /// `hashes`, decoded from base64, by algorithm (`sha256`, `sha512`).
    pub hashes: BTreeMap<String, Vec<u8>>,
}

/// A delegated role in `delegations.roles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegatedRole {
    /// `name`, e.g. `targets/releases`.
    pub name: String,
    /// `keyids`.
    pub key_ids: Vec<String>,
    /// `threshold`.
    pub threshold: u64,
    /// `paths`: target name prefixes (Notary's prefix semantics; `""` is every path).
    pub paths: Vec<String>,
    /// `path_hash_prefixes`: hex prefixes of the SHA-256 of target names.
    pub path_hash_prefixes: Vec<String>,
}

impl DelegatedRole {
    /// Whether a target name is within this role's delegated paths.
    pub fn allows(&self, target: &str) -> bool {
        if self.paths.iter().any(|p| target.starts_with(p.as_str())) {
            return true;
        }
        if self.path_hash_prefixes.is_empty() {
            return false;
        }
        let hash = hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            target.as_bytes(),
        ));
        self.path_hash_prefixes
            .iter()
            .any(|p| hash.starts_with(p.as_str()))
    }
}

/// `delegations` of a targets role.
#[derive(Debug, Clone, Default)]
pub struct Delegations {
    /// `keys`, by key ID.
    pub keys: BTreeMap<String, TufKey>,
    /// `roles`, in order.
    pub roles: Vec<DelegatedRole>,
}

/// The `signed` object of `targets.json` or a delegated role's file.
#[derive(Debug, Clone)]
pub struct Targets {
    /// `version`.
    pub version: u64,
    /// `expires`.
    pub expires: Expires,
    /// `targets`: for docker, tag -> manifest length and hashes.
    pub targets: BTreeMap<String, FileMeta>,
    /// `delegations`.
    pub delegations: Delegations,
}

/// The `signed` object of `snapshot.json`.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `version`.
    pub version: u64,
    /// `expires`.
    pub expires: Expires,
    /// `meta`: role name -> length and hashes of its file.
    pub meta: BTreeMap<String, FileMeta>,
}

/// The `signed` object of `timestamp.json`.
#[derive(Debug, Clone)]
pub struct Timestamp {
    /// `version`.
    pub version: u64,
    /// `expires`.
    pub expires: Expires,
    /// `meta`: `snapshot` -> length and hashes.
    pub meta: BTreeMap<String, FileMeta>,
}

fn malformed(what: &str, reason: impl Into<String>) -> TufError {
    TufError::Malformed {
        what: what.to_string(),
        reason: reason.into(),
    }
}

#[derive(Deserialize)]
struct RawEnvelope {
    signed: Value,
    signatures: Vec<RawSignature>,
}

#[derive(Deserialize)]
struct RawSignature {
    keyid: String,
    method: String,
    sig: String,
}

#[derive(Deserialize)]
struct RawCommon {
    version: u64,
    expires: String,
}

#[derive(Deserialize)]
struct RawRole {
    keyids: Vec<String>,
    threshold: u64,
}

#[derive(Deserialize)]
struct RawRoot {
    #[serde(default)]
    consistent_snapshot: bool,
    keys: BTreeMap<String, Value>,
    roles: BTreeMap<String, RawRole>,
}

#[derive(Deserialize)]
struct RawFileMeta {
    length: u64,
    hashes: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawDelegatedRole {
    name: String,
    keyids: Vec<String>,
    threshold: u64,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    path_hash_prefixes: Vec<String>,
}

#[derive(Deserialize, Default)]
struct RawDelegations {
    #[serde(default)]
    keys: BTreeMap<String, Value>,
    #[serde(default)]
    roles: Vec<RawDelegatedRole>,
}

#[derive(Deserialize)]
struct RawTargets {
    #[serde(default)]
    targets: BTreeMap<String, RawFileMeta>,
    #[serde(default)]
    delegations: RawDelegations,
}

#[derive(Deserialize)]
struct RawMeta {
    meta: BTreeMap<String, RawFileMeta>,
}

fn from_value<T: serde::de::DeserializeOwned>(value: &Value, what: &str) -> Result<T, TufError> {
    T::deserialize(value).map_err(|e| malformed(what, e.to_string()))
}

fn common(value: &Value, what: &str) -> Result<(u64, Expires), TufError> {
    let c: RawCommon = from_value(value, what)?;
    let at = OffsetDateTime::parse(&c.expires, &Rfc3339).map_err(|e| {
        malformed(
            what,
            format!("expires {:?} is not RFC 3339: {e}", c.expires),
        )
    })?;
    Ok((
        c.version,
        Expires {
            text: c.expires,
            at,
        },
    ))
}

fn parse_keys(raw: &BTreeMap<String, Value>) -> Result<BTreeMap<String, TufKey>, TufError> {
    let mut keys = BTreeMap::new();
    for (listed, value) in raw {
        let key = TufKey::from_value(value, listed)?;
        let computed = key.key_id();
        if &computed != listed {
            return Err(TufError::KeyIdMismatch {
                listed: listed.clone(),
                computed,
            });
        }
        keys.insert(listed.clone(), key);
    }
    Ok(keys)
}

fn parse_file_meta(
    raw: BTreeMap<String, RawFileMeta>,
    what: &str,
) -> Result<BTreeMap<String, FileMeta>, TufError> {
    let mut out = BTreeMap::new();
    for (name, m) in raw {
        let mut hashes = BTreeMap::new();
        for (alg, b64) in m.hashes {
            let bytes = STANDARD
                .decode(&b64)
                .map_err(|e| malformed(what, format!("{name}: hash {alg} is not base64: {e}")))?;
            hashes.insert(alg, bytes);
        }
        out.insert(
            name,
            FileMeta {
                length: m.length,
                hashes,
            },
        );
    }
    Ok(out)
}

impl Metadata for Root {
    const TYPE: &'static str = "Root";
    fn from_value(value: &Value, what: &str) -> Result<Self, TufError> {
        let (version, expires) = common(value, what)?;
        let raw: RawRoot = from_value(value, what)?;
        let mut roles = BTreeMap::new();
        for (name, r) in raw.roles {
            roles.insert(
                name,
                RoleKeys {
                    key_ids: r.keyids,
                    threshold: r.threshold,
                },
            );
        }
        Ok(Root {
            version,
            expires,
            consistent_snapshot: raw.consistent_snapshot,
            keys: parse_keys(&raw.keys)?,
            roles,
        })
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn expires(&self) -> &Expires {
        &self.expires
    }
}

impl Metadata for Targets {
    const TYPE: &'static str = "Targets";
    fn from_value(value: &Value, what: &str) -> Result<Self, TufError> {
        let (version, expires) = common(value, what)?;
        let raw: RawTargets = from_value(value, what)?;
        let roles = raw
            .delegations
            .roles
            .into_iter()
            .map(|r| DelegatedRole {
                name: r.name,
                key_ids: r.keyids,
                threshold: r.threshold,
                paths: r.paths,
                path_hash_prefixes: r.path_hash_prefixes,
            })
            .collect();
        Ok(Targets {
            version,
            expires,
            targets: parse_file_meta(raw.targets, what)?,
            delegations: Delegations {
                keys: parse_keys(&raw.delegations.keys)?,
                roles,
            },
        })
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn expires(&self) -> &Expires {
        &self.expires
    }
}

impl Metadata for Snapshot {
    const TYPE: &'static str = "Snapshot";
    fn from_value(value: &Value, what: &str) -> Result<Self, TufError> {
        let (version, expires) = common(value, what)?;
        let raw: RawMeta = from_value(value, what)?;
        Ok(Snapshot {
            version,
            expires,
            meta: parse_file_meta(raw.meta, what)?,
        })
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn expires(&self) -> &Expires {
        &self.expires
    }
}

impl Metadata for Timestamp {
    const TYPE: &'static str = "Timestamp";
    fn from_value(value: &Value, what: &str) -> Result<Self, TufError> {
        let (version, expires) = common(value, what)?;
        let raw: RawMeta = from_value(value, what)?;
        Ok(Timestamp {
            version,
            expires,
            meta: parse_file_meta(raw.meta, what)?,
        })
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn expires(&self) -> &Expires {
        &self.expires
    }
}

impl<T: Metadata> Signed<T> {
    /// Parses a metadata file, checks its `_type`, and keeps the canonical `signed` bytes.
    /// Signatures are not verified here.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Self, TufError> {
        let env: RawEnvelope =
            serde_json::from_slice(bytes).map_err(|e| malformed(what, e.to_string()))?;
        let found = env
            .signed
            .get("_type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if found != T::TYPE {
            return Err(TufError::WrongType {
                what: what.to_string(),
                expected: T::TYPE.to_string(),
                found,
            });
        }
        let signed_bytes = to_canonical(&env.signed)?;
        let signed = T::from_value(&env.signed, what)?;
        let mut signatures = Vec::with_capacity(env.signatures.len());
        for s in env.signatures {
            let sig = STANDARD.decode(&s.sig).map_err(|e| {
                malformed(what, format!("signature by {} is not base64: {e}", s.keyid))
            })?;
            signatures.push(Signature {
                key_id: s.keyid,
                method: s.method,
                sig,
            });
        }
        Ok(Signed {
            signed,
            signatures,
            signed_bytes,
        })
    }
}
