//! Notary Project (notation) evidence: notation's trust stores and trust-policy files read as
//! notation reads them (trust-store-trust-policy.md v1.1), once, when the verifier is built;
//! then, per image, its notation signatures (found by [`hallmark_flows::notation`]) verified
//! by [`hallmark_notation::verify`] under each notation requirement a rule has.

use crate::SetupError;
use hallmark_flows::notation::FoundSignature;
use hallmark_notation::trustpolicy::{Level, TrustPolicy, TrustPolicyDocument, TrustStore};
use hallmark_notation::verify::Stores;
use hallmark_oci::{FetchedManifest, Store};
use hallmark_policy::evidence::{NotationEvidence, NotationSignature, NotationVerification};
use hallmark_policy::{NotationRequirement, NotationTrust};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// The most bytes read of one trust-store certificate file or trust-policy file.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A notation requirement's trust policy (or notation's whole document) and the certificates
/// of every trust store it names.
#[derive(Debug, Clone)]
pub struct NotationMaterial {
    trust: Trust,
    stores: Stores,
}

#[derive(Debug, Clone)]
enum Trust {
    Inline(TrustPolicy),
    Document {
        path: PathBuf,
        document: TrustPolicyDocument,
    },
}

impl NotationMaterial {
    /// Read the requirement's trust-policy file (if any) and the trust stores its policies
    /// name. A store or file that cannot be read is an error: the policy could not be enforced
    /// as written.
    pub fn load(requirement: &NotationRequirement) -> Result<Self, SetupError> {
        let trust = match &requirement.trust {
            NotationTrust::Inline(p) => Trust::Inline(p.clone()),
            NotationTrust::File(path) => {
                let bytes = read_bounded(path).map_err(|source| SetupError::ReadFile {
                    what: "notation trust policy",
                    path: path.clone(),
                    source,
                })?;
                let document = hallmark_notation::trustpolicy::parse(&bytes).map_err(|e| {
                    SetupError::Trust {
                        what: "notation trust policy",
                        source_id: path.display().to_string(),
                        reason: e.to_string(),
                    }
                })?;
                Trust::Document {
                    path: path.clone(),
                    document,
                }
            }
            other => {
                return Err(SetupError::Trust {
                    what: "notation trust policy",
                    source_id: requirement.id.clone(),
                    reason: format!("expected an inline policy or a file, found {other:?}"),
                });
            }
        };
        let policies: Vec<&TrustPolicy> = match &trust {
            Trust::Inline(p) => vec![p],
            Trust::Document { document, .. } => document.policies.iter().collect(),
        };
        let mut stores = Stores::new();
        for p in policies {
            if p.level == Level::Skip {
                continue;
            }
            for s in &p.trust_stores {
                let key = s.to_string();
                if stores.contains_key(&key) {
                    continue;
                }
                let certs = read_store(&requirement.trust_store, s).map_err(|reason| {
                    SetupError::Trust {
                        what: "notation trust store",
                        source_id: key.clone(),
                        reason,
                    }
                })?;
                stores.insert(key, certs);
            }
        }
        Ok(Self { trust, stores })
    }

    /// The trust policy for `repository` (`registry/repository`), or why there is none.
    fn policy_for(&self, repository: &str) -> Result<&TrustPolicy, String> {
        match &self.trust {
            Trust::Inline(p) => Ok(p),
            Trust::Document { path, document } => document.select(repository).ok_or_else(|| {
                format!(
                    "expected a trust policy in {} whose registryScopes cover {repository}, found none",
                    path.display()
                )
            }),
        }
    }
}

fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "expected at most {MAX_FILE_BYTES} bytes, found more"
        )));
    }
    Ok(bytes)
}

/// The certificates of one named store, `ROOT/x509/<type>/<name>/`, as notation reads it: every
/// regular file in it, PEM or DER, one or more certificates each; sub-directories are ignored;
/// a symbolic link (the store itself or a file in it) is refused; an empty store is an error.
pub fn read_store(root: &Path, store: &TrustStore) -> Result<Vec<Vec<u8>>, String> {
    let dir = root.join("x509").join(store.kind()).join(store.name());
    let shown = dir.display();
    let meta = std::fs::symlink_metadata(&dir)
        .map_err(|e| format!("expected the directory {shown}: {e}"))?;
    if meta.file_type().is_symlink() {
        return Err(format!(
            "expected the directory {shown}, found a symbolic link (notation refuses them)"
        ));
    }
    if !meta.is_dir() {
        return Err(format!("expected the directory {shown}, found a file"));
    }
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{shown}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{shown}: {e}"))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    let mut certs = Vec::new();
    for entry in entries {
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if kind.is_symlink() {
            return Err(format!(
                "expected regular certificate files in {shown}, found the symbolic link {} (notation refuses them)",
                path.display()
            ));
        }
        if kind.is_dir() {
            tracing::warn!(directory = %path.display(), "sub-directory of a notation trust store ignored");
            continue;
        }
        let bytes = read_bounded(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let found = hallmark_notation::verify::certificates(&bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if found.is_empty() {
            return Err(format!(
                "expected certificates in {}, found none",
                path.display()
            ));
        }
        certs.extend(found);
    }
    if certs.is_empty() {
        return Err(format!("expected certificates in {shown}, found none"));
    }
    Ok(certs)
}

/// The notation evidence for `ids` (requirements of `material`), about `manifest` of the
/// image named `repository`: signatures listed and read once, verified under each
/// requirement's trust policy at `now`.
pub async fn collect(
    store: &Store,
    repository: &str,
    manifest: &FetchedManifest,
    ids: &[String],
    material: &crate::material::Material,
    now: OffsetDateTime,
) -> Vec<NotationEvidence> {
    let found = hallmark_flows::notation::signatures(store, &manifest.digest).await;
    ids.iter()
        .map(|id| NotationEvidence {
            requirement: id.clone(),
            result: match (&found, material.notation(id)) {
                (_, None) => Err(format!("{id}: trust material not loaded")),
                (Err(e), _) => Err(format!("the notation signatures could not be listed: {e}")),
                (Ok(found), Some(m)) => verify_all(found, m, repository, manifest, now),
            },
        })
        .collect()
}

fn verify_all(
    found: &[FoundSignature],
    material: &NotationMaterial,
    repository: &str,
    manifest: &FetchedManifest,
    now: OffsetDateTime,
) -> Result<NotationVerification, String> {
    let policy = material.policy_for(repository)?;
    let mut out = NotationVerification {
        policy: policy.name.clone(),
        level: policy.level.as_str().to_owned(),
        signatures: Vec::new(),
    };
    if policy.level == Level::Skip {
        return Ok(out);
    }
    let target = (
        manifest.media_type.as_str(),
        manifest.digest.to_string(),
        manifest.bytes.len() as u64,
    );
    for f in found {
        let mut s = NotationSignature {
            source: f.source.to_string(),
            envelope: String::new(),
            subject: None,
            thumbprints: Vec::new(),
            verified: false,
            failure: None,
            logged: Vec::new(),
        };
        let envelope = f
            .envelope
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|(media_type, bytes)| {
                s.envelope = if media_type == hallmark_notation::COSE_MEDIA_TYPE {
                    "cose".into()
                } else {
                    "jws".into()
                };
                hallmark_notation::parse(bytes, media_type).map_err(|e| e.to_string())
            });
        match envelope {
            Err(e) => s.failure = Some(e),
            Ok(envelope) => {
                s.subject = envelope.chain.first().and_then(|c| subject_text(c));
                s.thumbprints = hallmark_notation::chain::thumbprints(&envelope.chain);
                let outcome = hallmark_notation::verify::verify(
                    &envelope,
                    policy,
                    &material.stores,
                    (target.0, &target.1, target.2),
                    now,
                );
                s.verified = outcome.passed;
                s.failure = outcome.failure().map(|c| {
                    format!(
                        "{}: {}",
                        c.check.as_str(),
                        c.failure.as_deref().unwrap_or("failed")
                    )
                });
                s.logged = outcome
                    .checks
                    .iter()
                    .filter(|c| c.action == hallmark_notation::trustpolicy::Action::Log)
                    .filter_map(|c| {
                        c.failure
                            .as_ref()
                            .map(|f| format!("{}: {f}", c.check.as_str()))
                    })
                    .collect();
            }
        }
        out.signatures.push(s);
    }
    Ok(out)
}

fn subject_text(der: &[u8]) -> Option<String> {
    use x509_cert::der::Decode as _;
    x509_cert::Certificate::from_der(der)
        .ok()
        .map(|c| c.tbs_certificate().subject().to_string())
}
