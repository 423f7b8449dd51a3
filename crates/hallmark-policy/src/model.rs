//! The policy model: what a policy file (hallmark/v1 or containers-policy.json) means once
//! loaded. Built only by [`Policy::parse`](crate::Policy::parse); every field is checked.

use crate::condition::Condition;
use crate::identity;
use crate::pattern::{ImageName, ImagePattern};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A loaded policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// What happens to images no rule matches.
    pub default: DefaultAction,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
    /// Which format the policy was read from.
    pub origin: Origin,
    /// The file the policy was read from (as given to [`Policy::parse`]).
    pub source: PathBuf,
}

/// What happens to images no rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DefaultAction {
    /// Refuse them.
    Deny,
    /// Let them through.
    Allow,
}

/// The format a policy was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// `apiVersion: hallmark/v1`, YAML or JSON.
    Hallmark,
    /// containers-policy.json (as skopeo 1.18 / containers/image 5.3x read it).
    ContainersPolicy,
}

/// One rule: which images it covers and what they need.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique name (`docker:<scope>` for rules converted from containers-policy.json).
    pub name: String,
    /// Image patterns; the rule covers an image any of them matches.
    pub images: Vec<ImagePattern>,
    /// Namespaces (admission) the rule is limited to; `None` = any namespace, and none.
    pub namespaces: Option<Vec<String>>,
    /// Enforce or only report.
    pub mode: Mode,
    /// What an admission webhook does with an image of this rule it could not decide;
    /// `None` = the webhook's default.
    pub failure_policy: Option<FailurePolicy>,
    /// Requirements that must all hold.
    pub require: Vec<Requirement>,
    /// Alternatives of which at least one must hold (empty = no such group).
    pub any_of: Vec<Requirement>,
}

/// What an enforcement point does with an image it could not decide (the registry did not
/// answer in time, ...): the Kubernetes `failurePolicy` terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Deny (fail closed).
    #[default]
    Fail,
    /// Allow, with a warning.
    Ignore,
}

/// Whether an unmet rule denies or only warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Mode {
    /// Unmet requirements deny the image.
    Enforce,
    /// Unmet requirements allow the image with a warning each.
    Audit,
}

impl Mode {
    /// `enforce` or `audit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
        }
    }
}

/// One requirement of a rule (an externally tagged one-key map in the file).
#[derive(Debug, Clone)]
#[non_exhaustive]
// Unboxed on purpose: the collector and CLI match on these variants directly; a policy holds
// few requirements.
#[allow(clippy::large_enum_variant)]
pub enum Requirement {
    /// Cosign signatures (simple signing `.sig` and/or Sigstore bundles).
    Cosign(CosignRequirement),
    /// Docker Content Trust (Notary v1) signed tags.
    Dct(DctRequirement),
    /// In-toto attestations, optionally with a CEL condition.
    Attestation(AttestationRequirement),
    /// Notary Project (notation) signatures that verify under a notation trust policy.
    Notation(NotationRequirement),
    /// A signature or attestation accepted by another requirement of the rule is logged.
    Tlog(LogTrust),
    /// Never met.
    Reject {
        /// Shown in the reason.
        message: Option<String>,
    },
    /// Always met.
    Accept,
}

impl Requirement {
    /// `cosign`, `dct`, `notation`, `attestation`, `tlog`, `reject` or `accept`.
    pub fn kind(&self) -> &'static str {
        match self {
            Requirement::Cosign(_) => "cosign",
            Requirement::Dct(_) => "dct",
            Requirement::Notation(_) => "notation",
            Requirement::Attestation(_) => "attestation",
            Requirement::Tlog(_) => "tlog",
            Requirement::Reject { .. } => "reject",
            Requirement::Accept => "accept",
        }
    }

    /// One line for output, e.g. `cosign: 2 of 3 keys`.
    pub fn describe(&self) -> String {
        match self {
            Requirement::Cosign(c) => {
                let mut parts = Vec::new();
                if !c.keys.is_empty() {
                    parts.push(plural(c.keys.len(), "key", "keys"));
                }
                if let Some(k) = &c.keyless {
                    parts.push(format!(
                        "keyless ({})",
                        plural(k.identities.len(), "identity", "identities")
                    ));
                }
                if let Some(k) = &c.certificates {
                    parts.push(format!(
                        "certificates ({})",
                        plural(k.identities.len(), "identity", "identities")
                    ));
                }
                let mut s = format!(
                    "cosign: {} of {} signers ({})",
                    c.threshold,
                    c.candidate_count(),
                    parts.join(", ")
                );
                if c.keyless.is_none() && c.certificates.is_none() {
                    s = format!(
                        "cosign: {} of {}",
                        c.threshold,
                        plural(c.keys.len(), "key", "keys")
                    );
                }
                if c.signed_identity != SignedIdentity::Any {
                    s.push_str(&format!(", signedIdentity {}", c.signed_identity));
                }
                if !c.annotations.is_empty() {
                    let a: Vec<String> = c
                        .annotations
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    s.push_str(&format!(", annotations {}", a.join(",")));
                }
                if c.formats.len() == 1 {
                    s.push_str(&format!(", format {}", c.formats[0]));
                }
                if c.tlog.is_some() {
                    s.push_str(", logged");
                }
                s
            }
            Requirement::Dct(d) => {
                let signers = if d.signers.is_empty() {
                    "any signer".to_string()
                } else {
                    format!("{} of {}", d.threshold, d.signers.join(", "))
                };
                match &d.server {
                    Some(server) => format!("dct: signed by {signers} on {server}"),
                    None => format!("dct: signed by {signers}"),
                }
            }
            Requirement::Notation(n) => match &n.trust {
                NotationTrust::Inline(p) => format!(
                    "notation: {} ({}) in {}",
                    p.level.as_str(),
                    match &p.trusted_identities {
                        hallmark_notation::trustpolicy::TrustedIdentities::Subjects(s) => {
                            plural(s.len(), "trusted identity", "trusted identities")
                        }
                        _ => "any identity".to_owned(),
                    },
                    p.trust_stores
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                NotationTrust::File(f) => {
                    format!("notation: trust policy {}", f.display())
                }
            },
            Requirement::Attestation(a) => {
                let mut s = format!(
                    "attestation {}: {} of {}",
                    a.predicate_type,
                    a.threshold,
                    plural(a.keys.len(), "key", "keys")
                );
                if let Some(c) = &a.condition {
                    s.push_str(&format!(", condition {}", c.source()));
                }
                if a.tlog.is_some() {
                    s.push_str(", logged");
                }
                s
            }
            Requirement::Tlog(t) => format!("tlog: logged in {}", t.ids().join(" or ")),
            Requirement::Reject { message: Some(m) } => format!("reject: {m}"),
            Requirement::Reject { message: None } => "reject".to_string(),
            Requirement::Accept => "accept".to_string(),
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Cosign signatures required.
#[derive(Debug, Clone)]
pub struct CosignRequirement {
    /// Public keys whose signatures count.
    pub keys: Vec<KeySource>,
    /// Distinct accepted signers needed.
    pub threshold: usize,
    /// Fulcio-style certificates chained to a Sigstore trusted root.
    pub keyless: Option<CertificateTrust>,
    /// Certificates chained to private roots.
    pub certificates: Option<CertificateTrust>,
    /// Payload annotations that must be present with these values.
    pub annotations: BTreeMap<String, String>,
    /// How the payload's `docker-reference` must relate to the image.
    pub signed_identity: SignedIdentity,
    /// Signature formats that count.
    pub formats: Vec<SignatureFormat>,
    /// If set, each counted signature must be logged in one of these logs.
    pub tlog: Option<LogTrust>,
}

impl CosignRequirement {
    /// The number of possible distinct signers: keys + keyless identities + certificate
    /// identities (the upper bound of `threshold`).
    pub fn candidate_count(&self) -> usize {
        self.keys.len()
            + self.keyless.as_ref().map_or(0, |k| k.identities.len())
            + self.certificates.as_ref().map_or(0, |k| k.identities.len())
    }
}

/// Certificates accepted: a trust source and the identities it may vouch for.
#[derive(Debug, Clone)]
pub struct CertificateTrust {
    /// Where the roots come from.
    pub source: TrustSource,
    /// At least one must match the certificate.
    pub identities: Vec<IdentityMatcher>,
}

/// Roots for certificate chains.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustSource {
    /// A Sigstore `trusted_root.json` (Fulcio CAs, and its logs).
    TrustedRoot(PathBuf),
    /// PEM roots (and optional intermediates).
    Roots {
        /// Root certificates.
        roots: FileOrData,
        /// Intermediate certificates.
        intermediates: Option<FileOrData>,
    },
}

impl TrustSource {
    /// A stable identifier: the trusted root's path; or `roots` id, plus `+` and the
    /// intermediates' id when given. `Signer::Certificate::trust` carries it.
    pub fn id(&self) -> String {
        match self {
            TrustSource::TrustedRoot(p) => p.display().to_string(),
            TrustSource::Roots {
                roots,
                intermediates: None,
            } => roots.id(),
            TrustSource::Roots {
                roots,
                intermediates: Some(i),
            } => format!("{}+{}", roots.id(), i.id()),
        }
    }
}

/// A PEM file or inline PEM text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileOrData {
    /// A file (resolved path).
    File(PathBuf),
    /// Inline PEM (containers `caData`, or a value starting with `-----BEGIN`).
    Data(String),
}

impl FileOrData {
    /// The path, or `data:sha256:<hex of the bytes>`.
    pub fn id(&self) -> String {
        match self {
            FileOrData::File(p) => p.display().to_string(),
            FileOrData::Data(d) => format!("data:{}", sha256_id(d.as_bytes())),
        }
    }
}

fn sha256_id(bytes: &[u8]) -> String {
    hallmark_core::Digest::sha256_of(bytes).to_string()
}

/// Which certificate identities are accepted.
#[derive(Debug, Clone)]
pub struct IdentityMatcher {
    /// The certificate's OIDC issuer (Fulcio extension); `None` = any.
    pub issuer: Option<StringMatch>,
    /// One of the certificate's SANs.
    pub subject: StringMatch,
}

/// A string compared exactly or with a regular expression.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StringMatch {
    /// Equal strings.
    Exact(String),
    /// `regex` search semantics, anchored only as written (as cosign's `--*-regexp`).
    Regex(regex::Regex),
}

impl StringMatch {
    /// Does `s` match?
    pub fn matches(&self, s: &str) -> bool {
        match self {
            StringMatch::Exact(e) => e == s,
            StringMatch::Regex(r) => r.is_match(s),
        }
    }
}

impl fmt::Display for StringMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StringMatch::Exact(e) => write!(f, "{e}"),
            StringMatch::Regex(r) => write!(f, "~/{}/", r.as_str()),
        }
    }
}

/// A public key: a reference (`--key` form) or inline PEM.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum KeySource {
    /// A resolved file path or a key URI (`awskms://...`, `pkcs11:...`, `env://...`).
    Reference(String),
    /// Inline PEM (containers `keyData`, or a value starting with `-----BEGIN`).
    Data(String),
}

impl KeySource {
    /// The reference as is; inline data as `keyData:sha256:<hex of its bytes>`. Keys of
    /// [`Evidence::keys`](crate::Evidence::keys).
    pub fn id(&self) -> String {
        match self {
            KeySource::Reference(r) => r.clone(),
            KeySource::Data(d) => format!("keyData:{}", sha256_id(d.as_bytes())),
        }
    }
}

/// Transparency logs accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTrust {
    /// Logs of a Sigstore `trusted_root.json` (`tlogs`).
    pub trusted_root: Option<PathBuf>,
    /// Rekor public keys (SETs signed by any of them).
    pub rekor_keys: Vec<KeySource>,
    /// A witness policy file: entries count only with an inclusion proof whose checkpoint is
    /// cosigned as it requires.
    pub witness_policy: Option<PathBuf>,
}

impl LogTrust {
    /// The log-source ids: the trusted root's path, then each Rekor key's id. A signature is
    /// logged here when its `logged_in` names one of them.
    pub fn ids(&self) -> Vec<String> {
        self.sources().iter().map(LogSource::id).collect()
    }

    /// The log sources (each under the witness policy, when there is one).
    pub fn sources(&self) -> Vec<LogSource> {
        let mut v = Vec::new();
        if let Some(t) = &self.trusted_root {
            v.push(LogSource::TrustedRoot(t.clone()));
        }
        v.extend(self.rekor_keys.iter().cloned().map(LogSource::RekorKey));
        match &self.witness_policy {
            None => v,
            Some(policy) => v
                .into_iter()
                .map(|log| LogSource::Witnessed {
                    log: Box::new(log),
                    policy: policy.clone(),
                })
                .collect(),
        }
    }
}

/// One source of trusted logs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogSource {
    /// The `tlogs` of a `trusted_root.json`.
    TrustedRoot(PathBuf),
    /// A Rekor public key.
    RekorKey(KeySource),
    /// A log whose entries count only with a checkpoint cosigned as a witness policy
    /// requires.
    Witnessed {
        /// The log.
        log: Box<LogSource>,
        /// The witness policy file.
        policy: PathBuf,
    },
}

impl LogSource {
    /// The trusted root's path, or the key's id.
    pub fn id(&self) -> String {
        match self {
            LogSource::TrustedRoot(p) => p.display().to_string(),
            LogSource::RekorKey(k) => k.id(),
            LogSource::Witnessed { log, policy } => {
                format!("{} witnessed under {}", log.id(), policy.display())
            }
        }
    }
}

/// Docker Content Trust signatures required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DctRequirement {
    /// Notary server; `None` = the trust client's default.
    pub server: Option<String>,
    /// Signer names as `docker trust inspect` shows them (`targets` for the repository key);
    /// empty = any signer.
    pub signers: Vec<String>,
    /// Distinct named signers needed.
    pub threshold: usize,
}

/// Notary Project (notation) signatures required: as notation decides, the image passes when
/// one of its signatures verifies under the trust policy (at level `audit` failures are only
/// logged; a `skip` policy of a trust-policy file verifies nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotationRequirement {
    /// Identifies the requirement in [`Evidence::notation`](crate::Evidence::notation):
    /// `notation:<rule>#<n>` (the rule's name and the requirement's number in it, counting
    /// `require` then `anyOf` from 1).
    pub id: String,
    /// The folder holding notation's `x509/{ca,signingAuthority,tsa}/<name>/` stores (notation's
    /// `truststore`), resolved against the policy file's directory.
    pub trust_store: PathBuf,
    /// The trust policy.
    pub trust: NotationTrust,
}

/// Where a notation requirement's trust policy comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotationTrust {
    /// Written in the policy file (one notation trust policy, for every image the rule
    /// matches).
    Inline(hallmark_notation::trustpolicy::TrustPolicy),
    /// notation's own `trustpolicy.json`: the policy selected by the image's repository, as
    /// notation selects it.
    File(PathBuf),
}

/// In-toto attestations required.
#[derive(Debug, Clone)]
pub struct AttestationRequirement {
    /// Full predicate type URI.
    pub predicate_type: String,
    /// Keys whose attestations count.
    pub keys: Vec<KeySource>,
    /// Distinct signers whose attestation satisfies the condition.
    pub threshold: usize,
    /// Optional CEL condition over the statement.
    pub condition: Option<Condition>,
    /// If set, each counted attestation must be logged in one of these logs.
    pub tlog: Option<LogTrust>,
}

/// Where a cosign signature was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SignatureFormat {
    /// `sha256-<hex>.sig` simple-signing attachments (what skopeo reads).
    SimpleSigning,
    /// Sigstore bundles v0.3 as OCI referrers.
    Bundle,
}

impl SignatureFormat {
    /// `simplesigning` or `bundle`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureFormat::SimpleSigning => "simplesigning",
            SignatureFormat::Bundle => "bundle",
        }
    }
}

impl fmt::Display for SignatureFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a signature's `docker-reference` must relate to the image (containers/image's
/// `signedIdentity`, same semantics).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignedIdentity {
    /// Anything (cosign's behaviour; hallmark's default).
    Any,
    /// Same reference (tag or digest), neither name-only.
    MatchExact,
    /// Same reference when the image is tagged; same repository when given by digest.
    MatchRepoDigestOrExact,
    /// Same repository.
    MatchRepository,
    /// The signature names exactly this reference (the image is not consulted).
    ExactReference(String),
    /// The signature names this repository (the image is not consulted).
    ExactRepository(String),
    /// `prefix` of the image's repository is replaced by `signed_prefix`, then
    /// matchRepoDigestOrExact.
    RemapIdentity {
        /// Prefix of the image's name.
        prefix: String,
        /// What the signature names instead.
        signed_prefix: String,
    },
}

impl SignedIdentity {
    /// Does a signature whose payload names `signed_reference` (its `docker-reference`)
    /// satisfy this for `image`? A reference that does not parse never matches.
    pub fn matches(&self, image: &ImageName, signed_reference: Option<&str>) -> bool {
        identity::matches(self, image, signed_reference)
    }

    /// The containers-policy.json `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            SignedIdentity::Any => "any",
            SignedIdentity::MatchExact => "matchExact",
            SignedIdentity::MatchRepoDigestOrExact => "matchRepoDigestOrExact",
            SignedIdentity::MatchRepository => "matchRepository",
            SignedIdentity::ExactReference(_) => "exactReference",
            SignedIdentity::ExactRepository(_) => "exactRepository",
            SignedIdentity::RemapIdentity { .. } => "remapIdentity",
        }
    }
}

impl fmt::Display for SignedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignedIdentity::ExactReference(r) => write!(f, "exactReference {r}"),
            SignedIdentity::ExactRepository(r) => write!(f, "exactRepository {r}"),
            SignedIdentity::RemapIdentity {
                prefix,
                signed_prefix,
            } => write!(f, "remapIdentity {prefix} -> {signed_prefix}"),
            other => f.write_str(other.type_name()),
        }
    }
}

/// What the collector must fetch for a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Cosign signatures (any format).
    pub signatures: bool,
    /// Attestation predicate types (full URIs), deduplicated.
    pub attestations: Vec<String>,
    /// DCT servers (`None` = the default server), deduplicated.
    pub dct_servers: Vec<Option<String>>,
    /// Notation requirements ([`NotationRequirement::id`]), deduplicated.
    pub notation: Vec<String>,
}

impl Policy {
    /// The rule deciding `image` (in `namespace`, for admission): among the rules whose
    /// namespaces admit it, the one with the most specific matching pattern. `None`: the
    /// policy's `default` decides.
    pub fn rule_for(&self, image: &ImageName, namespace: Option<&str>) -> Option<&Rule> {
        let mut best: Option<(i64, &Rule)> = None;
        for rule in &self.rules {
            if !rule.admits_namespace(namespace) {
                continue;
            }
            if let Some(s) = rule.specificity_for(image)
                && best.is_none_or(|(b, _)| s > b)
            {
                best = Some((s, rule));
            }
        }
        best.map(|(_, r)| r)
    }
}

impl Rule {
    /// The specificity of this rule's most specific pattern matching `image`.
    pub fn specificity_for(&self, image: &ImageName) -> Option<i64> {
        self.images
            .iter()
            .filter(|p| p.matches(image))
            .map(ImagePattern::specificity)
            .max()
    }

    /// True when the rule applies in `namespace` (absent list = any namespace, and none).
    pub fn admits_namespace(&self, namespace: Option<&str>) -> bool {
        match (&self.namespaces, namespace) {
            (None, _) => true,
            (Some(list), Some(ns)) => list.iter().any(|n| n == ns),
            (Some(_), None) => false,
        }
    }

    fn requirements(&self) -> impl Iterator<Item = &Requirement> {
        self.require.iter().chain(self.any_of.iter())
    }

    /// Signer keys of the rule's cosign and attestation requirements, by id (Rekor keys are
    /// in [`Rule::log_sources`]).
    pub fn key_sources(&self) -> BTreeMap<String, KeySource> {
        let mut m = BTreeMap::new();
        for r in self.requirements() {
            let keys = match r {
                Requirement::Cosign(c) => &c.keys,
                Requirement::Attestation(a) => &a.keys,
                _ => continue,
            };
            for k in keys {
                m.insert(k.id(), k.clone());
            }
        }
        m
    }

    /// Certificate trust sources (keyless and private roots), by id.
    pub fn trust_sources(&self) -> BTreeMap<String, TrustSource> {
        let mut m = BTreeMap::new();
        for r in self.requirements() {
            if let Requirement::Cosign(c) = r {
                for t in [&c.keyless, &c.certificates].into_iter().flatten() {
                    m.insert(t.source.id(), t.source.clone());
                }
            }
        }
        m
    }

    /// Transparency-log sources of every requirement, by id.
    pub fn log_sources(&self) -> BTreeMap<String, LogSource> {
        let mut m = BTreeMap::new();
        for r in self.requirements() {
            let t = match r {
                Requirement::Cosign(c) => c.tlog.as_ref(),
                Requirement::Attestation(a) => a.tlog.as_ref(),
                Requirement::Tlog(t) => Some(t),
                _ => None,
            };
            for s in t.map(LogTrust::sources).unwrap_or_default() {
                m.insert(s.id(), s);
            }
        }
        m
    }

    /// What the collector must fetch so that [`evaluate`](crate::evaluate) can decide.
    pub fn needs(&self) -> Needs {
        let mut n = Needs::default();
        for r in self.requirements() {
            match r {
                Requirement::Cosign(_) => n.signatures = true,
                Requirement::Attestation(a) if !n.attestations.contains(&a.predicate_type) => {
                    n.attestations.push(a.predicate_type.clone());
                }
                Requirement::Dct(d) if !n.dct_servers.contains(&d.server) => {
                    n.dct_servers.push(d.server.clone());
                }
                Requirement::Notation(x) if !n.notation.contains(&x.id) => {
                    n.notation.push(x.id.clone());
                }
                _ => {}
            }
        }
        n
    }
}
