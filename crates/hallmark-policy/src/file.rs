//! The hallmark/v1 file model: the serde structs the parser deserialises, the converter
//! serialises and the JSON Schema is derived from (one definition, so they cannot drift).
//!
//! `PolicyFile` and `RuleFile` are generic over their list items so that the parser can
//! deserialise a rule (a requirement) at a time and report every broken one, while the
//! schema uses the fully typed default parameters.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The only `apiVersion`.
pub(crate) const API_VERSION: &str = "hallmark/v1";
/// The only `kind`.
pub(crate) const KIND: &str = "Policy";

/// A hallmark/v1 policy.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "hallmark policy (hallmark/v1)")]
pub(crate) struct PolicyFile<R = RuleFile> {
    /// Must be `hallmark/v1`.
    pub(crate) api_version: String,
    /// Must be `Policy`.
    pub(crate) kind: String,
    /// What happens to images no rule matches (default: deny).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) default: Option<DefaultFile>,
    /// The rules; the one with the most specific matching image pattern decides.
    #[serde(default)]
    pub(crate) rules: Vec<R>,
}

/// `deny` or `allow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DefaultFile {
    /// Refuse images no rule matches.
    Deny,
    /// Allow images no rule matches.
    Allow,
}

/// `Fail` or `Ignore` (the Kubernetes terms): what an admission webhook does with an image
/// it could not decide (registry unreachable, decision timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) enum FailurePolicyFile {
    /// Deny the image (fail closed).
    Fail,
    /// Allow the image with a warning.
    Ignore,
}

/// `enforce` or `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ModeFile {
    /// Unmet requirements deny.
    Enforce,
    /// Unmet requirements allow, with a warning each.
    Audit,
}

/// A rule.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RuleFile<Q = RequirementFile> {
    /// Unique name.
    pub(crate) name: String,
    /// Image patterns: globs over `registry/repository` (`*`, `**`, `?`), optionally
    /// `:TAG` or `@DIGEST`; `oci:PATH` for OCI layouts.
    pub(crate) images: Vec<String>,
    /// Namespaces (admission) the rule is limited to; absent = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) namespaces: Option<Vec<String>>,
    /// `enforce` (default) or `audit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mode: Option<ModeFile>,
    /// `Fail` or `Ignore`: what an admission webhook does when it cannot decide an image this
    /// rule covers; absent = the webhook's `--failure-policy` (default `Fail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) failure_policy: Option<FailurePolicyFile>,
    /// Requirements that must all hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) require: Vec<Q>,
    /// Alternatives of which at least one must hold (non-empty when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) any_of: Option<Vec<Q>>,
}

/// One requirement: exactly one of its kinds.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) enum RequirementFile {
    /// Cosign signatures.
    Cosign(CosignFile),
    /// Docker Content Trust signed tags.
    Dct(DctFile),
    /// Notary Project (notation) signatures.
    Notation(NotationFile),
    /// In-toto attestations.
    Attestation(AttestationFile),
    /// A signature or attestation accepted by another requirement is logged.
    Tlog(TlogFile),
    /// Never met.
    Reject(Option<RejectFile>),
    /// Always met.
    Accept(Option<AcceptFile>),
}

/// `cosign:`
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CosignFile {
    /// Key references (paths relative to the policy's directory, key URIs, or inline PEM
    /// starting with `-----BEGIN`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) keys: Vec<String>,
    /// Distinct signers needed (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) threshold: Option<u64>,
    /// Fulcio-style certificates chained to a Sigstore trusted root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) keyless: Option<KeylessFile>,
    /// Certificates chained to private roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) certificates: Option<CertificatesFile>,
    /// Payload annotations that must be present with these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) annotations: BTreeMap<String, String>,
    /// How the signed `docker-reference` must relate to the image (default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) signed_identity: Option<SignedIdentityFile>,
    /// Formats that count (default: both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) formats: Option<Vec<FormatFile>>,
    /// Each counted signature must be logged in one of these logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tlog: Option<TlogFile>,
}

/// `keyless:`
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct KeylessFile {
    /// A Sigstore `trusted_root.json`.
    pub(crate) trusted_root: String,
    /// Accepted identities (at least one).
    pub(crate) identities: Vec<IdentityFile>,
}

/// `certificates:`
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CertificatesFile {
    /// PEM root certificates (path or inline PEM).
    pub(crate) roots: String,
    /// PEM intermediate certificates (path or inline PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) intermediates: Option<String>,
    /// Accepted identities (at least one).
    pub(crate) identities: Vec<IdentityFile>,
}

/// An accepted certificate identity: `issuer` or `issuerRegExp` (optional for
/// `certificates`), and `subject` or `subjectRegExp`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct IdentityFile {
    /// OIDC issuer, exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) issuer: Option<String>,
    /// OIDC issuer, regular expression.
    #[serde(
        default,
        rename = "issuerRegExp",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) issuer_regexp: Option<String>,
    /// A SAN, exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) subject: Option<String>,
    /// A SAN, regular expression.
    #[serde(
        default,
        rename = "subjectRegExp",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) subject_regexp: Option<String>,
}

/// `signedIdentity:` (containers-policy.json's forms and semantics).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub(crate) enum SignedIdentityFile {
    /// Any reference.
    Any,
    /// The image's reference exactly.
    MatchExact,
    /// The image's reference when tagged, its repository when given by digest.
    MatchRepoDigestOrExact,
    /// The image's repository.
    MatchRepository,
    /// Exactly this reference.
    ExactReference {
        /// A tagged or digested reference.
        docker_reference: String,
    },
    /// This repository.
    ExactRepository {
        /// A repository.
        docker_repository: String,
    },
    /// The image's `prefix` replaced by `signedPrefix`, then matchRepoDigestOrExact.
    RemapIdentity {
        /// A host, or a host and repository path prefix.
        prefix: String,
        /// Its replacement.
        signed_prefix: String,
    },
}

/// `simplesigning` (`.sig` tags) or `bundle` (Sigstore bundle referrers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FormatFile {
    /// `sha256-<hex>.sig` simple-signing attachments.
    Simplesigning,
    /// Sigstore bundle v0.3 referrers.
    Bundle,
}

/// `tlog:` logs: a trusted root's logs and/or Rekor keys (at least one).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct TlogFile {
    /// A Sigstore `trusted_root.json` (its `tlogs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) trusted_root: Option<String>,
    /// Rekor public keys (paths, key URIs or inline PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rekor_keys: Option<Vec<String>>,
    /// A witness policy file (Sigsum's format, C2SP vkeys): an entry counts only with an
    /// inclusion proof whose checkpoint carries cosignatures meeting its quorum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) witness_policy: Option<String>,
}

/// `dct:`
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct DctFile {
    /// Notary server (default: the trust client's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) server: Option<String>,
    /// Signer names (`docker trust inspect`); empty = any signer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) signers: Vec<String>,
    /// Distinct named signers needed (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) threshold: Option<u64>,
}

/// `notation:` a notation trust policy, written here (`trustStores`, `trustedIdentities`,
/// `level`, `override`, `verifyTimestamp`, as in notation's `trustpolicy.json`) or read from
/// notation's own file (`trustPolicy`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct NotationFile {
    /// The folder holding notation's `x509/` trust stores (notation's `truststore`), relative
    /// to the policy's directory.
    pub(crate) trust_store: String,
    /// notation's `trustpolicy.json` (relative to the policy's directory): the policy its
    /// `registryScopes` select for the image decides. Excludes the fields below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) trust_policy: Option<String>,
    /// Trust stores, `ca:NAME`, `signingAuthority:NAME`, `tsa:NAME`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) trust_stores: Vec<String>,
    /// `x509.subject: <distinguished name>` entries, or `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) trusted_identities: Vec<String>,
    /// `strict` (default), `permissive` or `audit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) level: Option<String>,
    /// Per-check actions: `authenticity`, `authenticTimestamp`, `expiry`, `revocation` →
    /// `enforce` or `log` (`skip` for revocation).
    #[serde(
        default,
        rename = "override",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub(crate) overrides: BTreeMap<String, String>,
    /// `always` (default) or `afterCertExpiry`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) verify_timestamp: Option<String>,
}

/// `attestation:`
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AttestationFile {
    /// cosign `--type` name or a full predicate type URI.
    #[serde(rename = "type")]
    pub(crate) predicate_type: String,
    /// Keys whose attestations count.
    pub(crate) keys: Vec<String>,
    /// Distinct signers needed (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) threshold: Option<u64>,
    /// CEL over `predicate`, `predicateType`, `subject`, `statement`, `image`, `now`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) condition: Option<String>,
    /// Each counted attestation must be logged in one of these logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tlog: Option<TlogFile>,
}

/// `reject:`
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RejectFile {
    /// Shown in the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
}

/// `accept: {}`
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AcceptFile {}

/// cosign's `--type` short names and the predicate types they stand for.
pub(crate) const PREDICATE_TYPES: &[(&str, &str)] = &[
    ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance02", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
    ("link", "https://in-toto.io/Link/v1"),
    ("spdx", "https://spdx.dev/Document"),
    ("spdxjson", "https://spdx.dev/Document"),
    ("cyclonedx", "https://cyclonedx.org/bom"),
    ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
    ("openvex", "https://openvex.dev/ns"),
    ("custom", "https://cosign.sigstore.dev/attestation/v1"),
];
