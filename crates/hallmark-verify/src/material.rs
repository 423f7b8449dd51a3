//! The keys, certificate roots and transparency logs a policy names, loaded once when the
//! [`crate::Verifier`] is built. Every source is known by the id the policy gives it
//! (`KeySource::id`, `TrustSource::id`, the log ids of `LogTrust`), which is also how the
//! evidence names it.

use crate::SetupError;
use hallmark_core::PublicKey;
use hallmark_keys::{KeyRef, OpenOptions};
use hallmark_policy::model::{FileOrData, KeySource, LogSource, TrustSource};
use hallmark_sigstore::{
    TrustedCertificates, TrustedLogs, certificate::SigstoreTrustedRoot, tlog::TlogError,
};
use std::collections::{BTreeMap, btree_map::Entry};

/// A certificate trust source: the roots, and the Rekor keys of a `trusted_root.json` (what
/// Fulcio certificates are checked against: their SET gives the instant they must be valid at).
#[derive(Debug, Clone)]
pub struct CertificateRoots {
    /// Roots and intermediates.
    pub certificates: TrustedCertificates,
    /// Rekor keys from the trusted root (empty for private PKI roots).
    pub rekor_keys: Vec<PublicKey>,
}

/// Everything loaded.
#[derive(Debug, Default)]
pub struct Material {
    keys: BTreeMap<String, PublicKey>,
    roots: BTreeMap<String, CertificateRoots>,
    logs: BTreeMap<String, TrustedLogs>,
    notation: BTreeMap<String, crate::notation::NotationMaterial>,
}

impl Material {
    /// Load every source of every rule of `policy`.
    pub async fn load(policy: &hallmark_policy::Policy) -> Result<Self, SetupError> {
        let mut m = Material::default();
        for rule in &policy.rules {
            for (id, key) in rule.key_sources() {
                if let Entry::Vacant(e) = m.keys.entry(id) {
                    e.insert(load_key(&key).await?);
                }
            }
            for (id, source) in rule.trust_sources() {
                if let Entry::Vacant(e) = m.roots.entry(id) {
                    e.insert(load_roots(&source)?);
                }
            }
            for r in rule.require.iter().chain(&rule.any_of) {
                if let hallmark_policy::Requirement::Notation(n) = r
                    && let Entry::Vacant(e) = m.notation.entry(n.id.clone())
                {
                    e.insert(crate::notation::NotationMaterial::load(n)?);
                }
            }
            for (id, source) in rule.log_sources() {
                if let Entry::Vacant(e) = m.logs.entry(id) {
                    let logs = load_logs(e.key(), &source).await?;
                    e.insert(logs);
                }
            }
        }
        Ok(m)
    }

    /// The key of a source id.
    pub fn key(&self, id: &str) -> Option<&PublicKey> {
        self.keys.get(id)
    }

    /// The certificate roots of a trust source id.
    pub fn roots(&self, id: &str) -> Option<&CertificateRoots> {
        self.roots.get(id)
    }

    /// The trusted logs of a log source id.
    pub fn logs(&self, id: &str) -> Option<&TrustedLogs> {
        self.logs.get(id)
    }

    /// The trust policy and stores of a notation requirement id.
    pub fn notation(&self, id: &str) -> Option<&crate::notation::NotationMaterial> {
        self.notation.get(id)
    }

    /// Key source id → SPKI fingerprint, as the evidence carries it.
    pub fn key_fingerprints(&self) -> BTreeMap<String, Result<String, String>> {
        self.keys
            .iter()
            .map(|(id, k)| (id.clone(), Ok(k.fingerprint())))
            .collect()
    }
}

fn public_key_from_pem(text: &str, what: &str) -> Result<PublicKey, SetupError> {
    PublicKey::from_pem(text, what).map_err(|e| {
        let hint = if text.contains("PRIVATE KEY") {
            " (this is a private key: a policy names public keys, e.g. cosign.pub)"
        } else {
            ""
        };
        SetupError::Key {
            key: what.to_owned(),
            reason: format!("{e}{hint}"),
        }
    })
}

async fn load_key(source: &KeySource) -> Result<PublicKey, SetupError> {
    match source {
        KeySource::Data(pem) => public_key_from_pem(pem, "keyData"),
        KeySource::Reference(reference) => {
            let r = KeyRef::parse(reference).map_err(|e| SetupError::Key {
                key: reference.clone(),
                reason: e.to_string(),
            })?;
            match &r {
                KeyRef::File(path) => {
                    let text =
                        std::fs::read_to_string(path).map_err(|source| SetupError::ReadKey {
                            path: path.clone(),
                            source,
                        })?;
                    public_key_from_pem(&text, &path.display().to_string())
                }
                _ => r
                    .public_key(&OpenOptions::from_env())
                    .await
                    .map_err(|source| SetupError::KeyRef {
                        key: r.to_string(),
                        source,
                    }),
            }
        }
        other => Err(SetupError::Key {
            key: other.id(),
            reason: "unsupported key source".into(),
        }),
    }
}

fn read(what: &'static str, f: &FileOrData) -> Result<Vec<u8>, SetupError> {
    match f {
        FileOrData::Data(d) => Ok(d.as_bytes().to_vec()),
        FileOrData::File(path) => std::fs::read(path).map_err(|source| SetupError::ReadFile {
            what,
            path: path.clone(),
            source,
        }),
        other => Err(SetupError::Trust {
            what,
            source_id: other.id(),
            reason: "unsupported source".into(),
        }),
    }
}

fn load_roots(source: &TrustSource) -> Result<CertificateRoots, SetupError> {
    let id = source.id();
    match source {
        TrustSource::TrustedRoot(path) => {
            let json = read("trusted root", &FileOrData::File(path.clone()))?;
            let root = SigstoreTrustedRoot::parse(&json).map_err(|e| SetupError::Trust {
                what: "trusted root",
                source_id: id.clone(),
                reason: e.to_string(),
            })?;
            Ok(CertificateRoots {
                certificates: root.certificates,
                rekor_keys: root.rekor_keys,
            })
        }
        TrustSource::Roots {
            roots,
            intermediates,
        } => {
            let roots_pem = read("certificate roots", roots)?;
            let inter = intermediates
                .as_ref()
                .map(|i| read("intermediate certificates", i))
                .transpose()?;
            let certificates = TrustedCertificates::from_pem(&roots_pem, inter.as_deref())
                .map_err(|e| SetupError::Trust {
                    what: "certificate roots",
                    source_id: id.clone(),
                    reason: e.to_string(),
                })?;
            Ok(CertificateRoots {
                certificates,
                rekor_keys: Vec::new(),
            })
        }
        _ => Err(SetupError::Trust {
            what: "certificate roots",
            source_id: id,
            reason: "unsupported trust source".into(),
        }),
    }
}

fn log_error(id: &str, e: TlogError) -> SetupError {
    SetupError::Trust {
        what: "transparency log",
        source_id: id.to_owned(),
        reason: e.to_string(),
    }
}

/// The trusted logs of one log source.
async fn load_logs(id: &str, source: &LogSource) -> Result<TrustedLogs, SetupError> {
    match source {
        LogSource::TrustedRoot(path) => {
            let json = read("trusted root", &FileOrData::File(path.clone()))?;
            TrustedLogs::from_trusted_root(&json).map_err(|e| log_error(id, e))
        }
        LogSource::RekorKey(key) => {
            let k = load_key(key).await?;
            TrustedLogs::from_keys(std::slice::from_ref(&k)).map_err(|e| log_error(id, e))
        }
        LogSource::Witnessed { log, policy } => {
            let logs = Box::pin(load_logs(id, log)).await?;
            let text = read("witness policy", &FileOrData::File(policy.clone()))?;
            let text = String::from_utf8(text).map_err(|_| SetupError::Trust {
                what: "witness policy",
                source_id: id.to_owned(),
                reason: format!("{}: expected UTF-8 text", policy.display()),
            })?;
            let parsed = hallmark_tlog::witness::WitnessPolicy::parse(&text).map_err(|e| {
                SetupError::Trust {
                    what: "witness policy",
                    source_id: id.to_owned(),
                    reason: e.to_string(),
                }
            })?;
            Ok(logs.with_witness_policy(parsed))
        }
        other => Err(SetupError::Trust {
            what: "transparency log",
            source_id: id.to_owned(),
            reason: format!("unsupported log source {other:?}"),
        }),
    }
}
