//! notation's OCI trust policy (`trustpolicy.oci.json`, or the older `trustpolicy.json`),
//! version 1.0, read as notation reads it (trust-store-trust-policy.md §Trust Policy):
//! `trustPolicies[]` with `name`, `registryScopes` (fully qualified repositories, or `*` in at
//! most one policy), `signatureVerification` (`level` strict / permissive / audit / skip,
//! per-check `override`, `verifyTimestamp`), `trustStores` (`ca:`, `signingAuthority:`,
//! `tsa:` named stores) and `trustedIdentities` (`*` or `x509.subject:` distinguished names
//! with at least C, ST and O). Every rule the specification gives for a valid document is
//! checked at load; [`TrustPolicyDocument::select`] picks the policy of a repository as
//! notation does.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Why a trust policy document is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trust policy{}: expected {expected}, found {found}", .policy.as_deref().map(|p| format!(" {p:?}")).unwrap_or_default())]
#[non_exhaustive]
pub struct TrustPolicyError {
    /// The policy (by name) the problem is in, if any.
    pub policy: Option<String>,
    /// What the specification requires.
    pub expected: String,
    /// What the document has.
    pub found: String,
}

fn err(
    policy: Option<&str>,
    expected: impl Into<String>,
    found: impl Into<String>,
) -> TrustPolicyError {
    TrustPolicyError {
        policy: policy.map(str::to_owned),
        expected: expected.into(),
        found: found.into(),
    }
}

/// A verification level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Level {
    /// Every check enforced.
    Strict,
    /// Integrity and authenticity enforced; the rest logged.
    Permissive,
    /// Integrity enforced; the rest logged.
    Audit,
    /// No verification.
    Skip,
}

impl Level {
    /// The level's name in a trust policy: `strict`, `permissive`, `audit` or `skip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Strict => "strict",
            Level::Permissive => "permissive",
            Level::Audit => "audit",
            Level::Skip => "skip",
        }
    }
}

/// One verification check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Check {
    /// The signature over the signed bytes.
    Integrity,
    /// The chain to a trusted store and a trusted identity.
    Authenticity,
    /// The signing time is vouched for (timestamp or signing authority).
    AuthenticTimestamp,
    /// The signature's expiry.
    Expiry,
    /// Certificate revocation.
    Revocation,
}

impl Check {
    /// The check's name in a trust policy's `override` (`integrity`, `authenticity`,
    /// `authenticTimestamp`, `expiry`, `revocation`).
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Integrity => "integrity",
            Check::Authenticity => "authenticity",
            Check::AuthenticTimestamp => "authenticTimestamp",
            Check::Expiry => "expiry",
            Check::Revocation => "revocation",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "integrity" => Check::Integrity,
            "authenticity" => Check::Authenticity,
            "authenticTimestamp" => Check::AuthenticTimestamp,
            "expiry" => Check::Expiry,
            "revocation" => Check::Revocation,
            _ => return None,
        })
    }
}

/// What a failed check does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Verification fails.
    Enforce,
    /// The failure is logged and verification goes on.
    Log,
    /// The check is not made.
    Skip,
}

/// A trust store reference: `{type}:{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustStore {
    /// `ca:NAME`: roots for `notary.x509`.
    Ca(String),
    /// `signingAuthority:NAME`: roots for `notary.x509.signingAuthority`.
    SigningAuthority(String),
    /// `tsa:NAME`: roots of timestamping authorities.
    Tsa(String),
}

impl TrustStore {
    /// The store's type as a directory name under `x509/`: `ca`, `signingAuthority`, `tsa`.
    pub fn kind(&self) -> &'static str {
        match self {
            TrustStore::Ca(_) => "ca",
            TrustStore::SigningAuthority(_) => "signingAuthority",
            TrustStore::Tsa(_) => "tsa",
        }
    }

    /// The store's name (its directory under `x509/<type>/`).
    pub fn name(&self) -> &str {
        match self {
            TrustStore::Ca(n) | TrustStore::SigningAuthority(n) | TrustStore::Tsa(n) => n,
        }
    }
}

impl std::fmt::Display for TrustStore {
    /// `type:name`, as the trust policy writes it (and as [`Stores`](crate::verify::Stores)
    /// is keyed).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind(), self.name())
    }
}

/// Which signing identities are trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustedIdentities {
    /// `*`: any identity the trust stores vouch for.
    Any,
    /// `x509.subject:` names: the signing certificate's subject must contain every attribute of
    /// one of them.
    Subjects(Vec<Vec<(String, String)>>),
}

/// One policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrustPolicy {
    /// Its name.
    pub name: String,
    /// Repositories it covers; `None` is the global scope `*`.
    pub scopes: Option<Vec<String>>,
    /// The level.
    pub level: Level,
    /// Per-check overrides of the level.
    pub overrides: BTreeMap<Check, Action>,
    /// `verifyTimestamp: afterCertExpiry` (else `always`).
    pub timestamp_after_cert_expiry: bool,
    /// The trust stores named.
    pub trust_stores: Vec<TrustStore>,
    /// The identities trusted.
    pub trusted_identities: TrustedIdentities,
}

impl TrustPolicy {
    /// What a failure of `check` does under this policy.
    pub fn action(&self, check: Check) -> Action {
        if self.level == Level::Skip {
            return Action::Skip;
        }
        if let Some(a) = self.overrides.get(&check) {
            return *a;
        }
        match (self.level, check) {
            (_, Check::Integrity)
            | (Level::Strict, _)
            | (Level::Permissive, Check::Authenticity) => Action::Enforce,
            _ => Action::Log,
        }
    }

    /// Is `subject` (the signing certificate's subject attributes) trusted?
    pub fn trusts_subject(&self, subject: &[(String, String)]) -> bool {
        match &self.trusted_identities {
            TrustedIdentities::Any => true,
            TrustedIdentities::Subjects(names) => names
                .iter()
                .any(|name| name.iter().all(|attr| subject.contains(attr))),
        }
    }
}

/// A trust policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrustPolicyDocument {
    /// The policies, in file order.
    pub policies: Vec<TrustPolicy>,
}

impl TrustPolicyDocument {
    /// The policy for `repository` (`registry/namespace/repo`, fully qualified): the one whose
    /// scopes name it, else the global one; `None`: the artifact is untrusted.
    pub fn select(&self, repository: &str) -> Option<&TrustPolicy> {
        self.policies
            .iter()
            .find(|p| {
                p.scopes
                    .as_ref()
                    .is_some_and(|s| s.iter().any(|r| r == repository))
            })
            .or_else(|| self.policies.iter().find(|p| p.scopes.is_none()))
    }
}

/// Parse an `x509.subject` distinguished name (`C=US, ST=WA, O=Notary`) into attributes, with
/// notation's escaping (`\,`, `\;`, `\\`, `\=`).
pub fn parse_dn(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = s.chars().peekable();
    let mut parts = Vec::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => current.push(n),
                None => return Err("a trailing backslash".into()),
            },
            ',' | ';' => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    for part in parts {
        let part = part.trim();
        let Some((k, v)) = part.split_once('=') else {
            return Err(format!("{part:?}: expected TYPE=VALUE"));
        };
        let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
        if k.is_empty() || v.is_empty() {
            return Err(format!("{part:?}: expected TYPE=VALUE"));
        }
        let k = if k == "S" { "ST".to_owned() } else { k };
        if out.iter().any(|(ok, _): &(String, String)| *ok == k) {
            return Err(format!("{k} given twice"));
        }
        out.push((k, v));
    }
    for required in ["C", "ST", "O"] {
        if !out.iter().any(|(k, _)| k == required) {
            return Err(format!(
                "no {required} (an x509.subject must name at least C, ST and O)"
            ));
        }
    }
    Ok(out)
}

fn strings<'a>(
    policy: &str,
    p: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<Vec<&'a str>>, TrustPolicyError> {
    match p.get(key) {
        None => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| err(Some(policy), format!("{key} as strings"), v.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(err(
            Some(policy),
            format!("{key} as a list of strings"),
            other.to_string(),
        )),
    }
}

/// Read a trust policy document (version 1.0), checking every rule of the specification.
pub fn parse(bytes: &[u8]) -> Result<TrustPolicyDocument, TrustPolicyError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        err(
            None,
            "a JSON trust policy document",
            format!("invalid JSON: {e}"),
        )
    })?;
    let top = v
        .as_object()
        .ok_or_else(|| err(None, "a JSON object", v.to_string()))?;
    match top.get("version").and_then(Value::as_str) {
        Some("1.0") => {}
        other => return Err(err(None, "version \"1.0\"", format!("{other:?}"))),
    }
    let list = top
        .get("trustPolicies")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| err(None, "a non-empty trustPolicies list", "none"))?;
    let mut policies: Vec<TrustPolicy> = Vec::new();
    for item in list {
        let p = item
            .as_object()
            .ok_or_else(|| err(None, "each trust policy as an object", item.to_string()))?;
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| {
                err(
                    None,
                    "a name for every trust policy",
                    "a policy without one",
                )
            })?
            .to_owned();
        if policies.iter().any(|q| q.name == name) {
            return Err(err(Some(&name), "unique policy names", "the name twice"));
        }
        let scopes = strings(&name, p, "registryScopes")?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                err(
                    Some(&name),
                    "registryScopes with at least one repository or \"*\"",
                    "none",
                )
            })?;
        let scopes = if scopes.contains(&"*") {
            if scopes.len() > 1 {
                return Err(err(
                    Some(&name),
                    "\"*\" alone in registryScopes",
                    format!("{scopes:?}"),
                ));
            }
            if policies.iter().any(|q| q.scopes.is_none()) {
                return Err(err(
                    Some(&name),
                    "one global (\"*\") policy at most",
                    "a second one",
                ));
            }
            None
        } else {
            for s in &scopes {
                if s.contains('*')
                    || !s.contains('/')
                    || s.contains('@')
                    || s.rsplit('/').next().is_some_and(|l| l.contains(':'))
                {
                    return Err(err(
                        Some(&name),
                        "fully qualified repositories (registry/namespace/repo, no tag, digest or wildcard)",
                        *s,
                    ));
                }
                if policies.iter().any(|q| {
                    q.scopes
                        .as_ref()
                        .is_some_and(|qs| qs.iter().any(|x| x == s))
                }) {
                    return Err(err(
                        Some(&name),
                        "each repository in one policy's scopes",
                        format!("{s} twice"),
                    ));
                }
            }
            Some(scopes.into_iter().map(str::to_owned).collect())
        };
        let sv = p
            .get("signatureVerification")
            .and_then(Value::as_object)
            .ok_or_else(|| err(Some(&name), "signatureVerification", "none"))?;
        let level = match sv.get("level").and_then(Value::as_str) {
            Some("strict") => Level::Strict,
            Some("permissive") => Level::Permissive,
            Some("audit") => Level::Audit,
            Some("skip") => Level::Skip,
            other => {
                return Err(err(
                    Some(&name),
                    "level strict, permissive, audit or skip",
                    format!("{other:?}"),
                ));
            }
        };
        if level == Level::Skip && scopes.is_none() {
            return Err(err(
                Some(&name),
                "a level other than skip for the global scope \"*\"",
                "skip",
            ));
        }
        let mut overrides = BTreeMap::new();
        if let Some(o) = sv.get("override") {
            let o = o
                .as_object()
                .ok_or_else(|| err(Some(&name), "override as an object", o.to_string()))?;
            if level == Level::Skip && !o.is_empty() {
                return Err(err(
                    Some(&name),
                    "no override with level skip",
                    "an override",
                ));
            }
            for (k, v) in o {
                let check = Check::from_name(k).ok_or_else(|| {
                    err(
                        Some(&name),
                        "override keys authenticity, authenticTimestamp, expiry or revocation",
                        k.clone(),
                    )
                })?;
                if check == Check::Integrity {
                    return Err(err(
                        Some(&name),
                        "no override of integrity (it is always enforced)",
                        "integrity",
                    ));
                }
                let action = match v.as_str() {
                    Some("enforce") => Action::Enforce,
                    Some("log") => Action::Log,
                    Some("skip") if check == Check::Revocation => Action::Skip,
                    _ => {
                        return Err(err(
                            Some(&name),
                            format!(
                                "override {k}: enforce or log{}",
                                if check == Check::Revocation {
                                    " or skip"
                                } else {
                                    ""
                                }
                            ),
                            v.to_string(),
                        ));
                    }
                };
                overrides.insert(check, action);
            }
        }
        let timestamp_after_cert_expiry = match sv.get("verifyTimestamp").and_then(Value::as_str) {
            None | Some("always") => false,
            Some("afterCertExpiry") => true,
            Some(other) => {
                return Err(err(
                    Some(&name),
                    "verifyTimestamp always or afterCertExpiry",
                    other,
                ));
            }
        };
        let stores = strings(&name, p, "trustStores")?.unwrap_or_default();
        let identities = strings(&name, p, "trustedIdentities")?.unwrap_or_default();
        if level == Level::Skip {
            if !stores.is_empty() || !identities.is_empty() {
                return Err(err(
                    Some(&name),
                    "no trustStores or trustedIdentities with level skip",
                    "some",
                ));
            }
        } else if stores.is_empty() || identities.is_empty() {
            return Err(err(
                Some(&name),
                "trustStores and trustedIdentities (required unless level is skip)",
                "none",
            ));
        }
        let trust_stores = stores
            .iter()
            .map(|s| match s.split_once(':') {
                Some(("ca", n)) if !n.is_empty() => Ok(TrustStore::Ca(n.to_owned())),
                Some(("signingAuthority", n)) if !n.is_empty() => {
                    Ok(TrustStore::SigningAuthority(n.to_owned()))
                }
                Some(("tsa", n)) if !n.is_empty() => Ok(TrustStore::Tsa(n.to_owned())),
                _ => Err(err(
                    Some(&name),
                    "trust stores as ca:NAME, signingAuthority:NAME or tsa:NAME",
                    *s,
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let trusted_identities = if identities.contains(&"*") {
            if identities.len() > 1 {
                return Err(err(
                    Some(&name),
                    "\"*\" alone in trustedIdentities",
                    format!("{identities:?}"),
                ));
            }
            TrustedIdentities::Any
        } else {
            let mut names = Vec::new();
            for id in &identities {
                let Some(dn) = id.strip_prefix("x509.subject:") else {
                    return Err(err(
                        Some(&name),
                        "trusted identities as \"*\" or x509.subject: DN",
                        *id,
                    ));
                };
                let dn = parse_dn(dn).map_err(|why| {
                    err(
                        Some(&name),
                        "a valid x509.subject distinguished name",
                        format!("{id:?}: {why}"),
                    )
                })?;
                if names.contains(&dn) {
                    return Err(err(
                        Some(&name),
                        "distinct trusted identities",
                        format!("{id:?} twice"),
                    ));
                }
                names.push(dn);
            }
            TrustedIdentities::Subjects(names)
        };
        policies.push(TrustPolicy {
            name,
            scopes,
            level,
            overrides,
            timestamp_after_cert_expiry,
            trust_stores,
            trusted_identities,
        });
    }
    Ok(TrustPolicyDocument { policies })
}
