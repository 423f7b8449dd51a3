//! What a collector found about an image: the input of [`evaluate`](crate::evaluate).
//!
//! Everything here has already been verified cryptographically by the collector
//! (`hallmark-verify`): signatures sign [`Evidence::digest`] under the signer given, entries
//! named in `logged_in` were verified against their log. Evaluation only matches these facts
//! against a rule's requirements.

use crate::model::SignatureFormat;
use crate::pattern::ImageName;
use std::collections::BTreeMap;

/// What was collected about one image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Evidence {
    /// The image as the user gave it (a bare name means tag `latest`, as skopeo does).
    pub image: ImageName,
    /// The manifest digest the decision is about (resolved once).
    pub digest: String,
    /// The caller's namespace (admission), if any.
    pub namespace: Option<String>,
    /// [`KeySource::id`](crate::KeySource::id) → `Ok(sha256 hex fingerprint of the SPKI)` or
    /// `Err(why it could not be loaded)`.
    pub keys: BTreeMap<String, Result<String, String>>,
    /// Verified cosign signatures of `digest`.
    pub signatures: Vec<SignatureEvidence>,
    /// Verified attestations about `digest`.
    pub attestations: Vec<AttestationEvidence>,
    /// Docker Content Trust data, one per server a rule needs.
    pub dct: Vec<DctEvidence>,
    /// Notation signatures verified under each notation requirement a rule has.
    pub notation: Vec<NotationEvidence>,
    /// Candidates found that nothing verified.
    pub rejected: Vec<RejectedCandidate>,
    /// What could not be collected.
    pub failures: Vec<CollectionFailure>,
}

/// A verified cosign signature.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignatureEvidence {
    /// Where it was found (tag, referrer digest, file), for messages.
    pub source: String,
    /// `.sig` attachment or Sigstore bundle.
    pub format: SignatureFormat,
    /// Who signed.
    pub signer: Signer,
    /// The payload's `critical.identity.docker-reference` (bundles: none).
    pub docker_reference: Option<String>,
    /// The payload's `optional` annotations.
    pub annotations: BTreeMap<String, String>,
    /// Log-source ids ([`LogTrust::ids`](crate::LogTrust::ids)) whose verified entry records
    /// this signature.
    pub logged_in: Vec<String>,
    /// Log-source ids that do not record it, with why (e.g. a checkpoint whose cosignatures
    /// do not meet a witness policy's quorum).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub log_failures: BTreeMap<String, String>,
}

/// Who made a signature or attestation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Signer {
    /// A public key.
    Key {
        /// sha256 hex of the key's DER SubjectPublicKeyInfo.
        fingerprint: String,
    },
    /// A certificate that chained to a trust source.
    Certificate {
        /// [`TrustSource::id`](crate::TrustSource::id) of the source it chained to.
        trust: String,
        /// Its SANs (emails, URIs, ...).
        subjects: Vec<String>,
        /// Its OIDC issuer (Fulcio extension), if any.
        issuer: Option<String>,
        /// sha256 hex of the certificate's public key SPKI.
        fingerprint: String,
    },
}

/// A verified in-toto attestation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AttestationEvidence {
    /// Where it was found.
    pub source: String,
    /// Who signed the envelope.
    pub signer: Signer,
    /// The statement's `predicateType`.
    pub predicate_type: String,
    /// The whole in-toto statement.
    pub statement: serde_json::Value,
    /// Log-source ids whose verified entry records it.
    pub logged_in: Vec<String>,
}

/// Docker Content Trust data from one server.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DctEvidence {
    /// The server, as in the requirement (`None` = the default server).
    pub server: Option<String>,
    /// Verified signed targets, or why there is no verified trust data.
    pub result: Result<Vec<DctTarget>, String>,
}

/// One signed tag, as `docker trust inspect` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DctTarget {
    /// The tag.
    pub tag: String,
    /// The digest it is signed as (`sha256:<hex>`).
    pub digest: String,
    /// Signer names (`alice`; the repository key's role as `targets`).
    pub signers: Vec<String>,
}

/// Notation signatures of the image, verified under one notation requirement's trust policy.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NotationEvidence {
    /// [`NotationRequirement::id`](crate::NotationRequirement::id).
    pub requirement: String,
    /// The verification, or why none could be made (no trust policy for the repository, the
    /// signatures could not be read).
    pub result: Result<NotationVerification, String>,
}

/// What one trust policy said of an image's notation signatures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NotationVerification {
    /// The trust policy applied (its name).
    pub policy: String,
    /// Its level (`strict`, `permissive`, `audit`, `skip`).
    pub level: String,
    /// Every signature found, each with its result (a `skip` policy verifies none).
    pub signatures: Vec<NotationSignature>,
}

/// One notation signature and its verification.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NotationSignature {
    /// The signature manifest's digest.
    pub source: String,
    /// `jws` or `cose`.
    pub envelope: String,
    /// The signing certificate's subject (RFC 4514), when the envelope could be read.
    pub subject: Option<String>,
    /// SHA-256 thumbprints of the chain, leaf first (uppercase hex).
    pub thumbprints: Vec<String>,
    /// Verified under the trust policy (no enforced check failed).
    pub verified: bool,
    /// The enforced check that failed, with why.
    pub failure: Option<String>,
    /// Checks that failed but are only logged at this level (`expiry: ...`).
    pub logged: Vec<String>,
}

/// A candidate that did not verify.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RejectedCandidate {
    /// `simplesigning`, `bundle`, `attestation`, `dct`, ...
    pub format: &'static str,
    /// Where it was found.
    pub source: String,
    /// Why it was rejected.
    pub reason: String,
}

/// Something the collector could not collect.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CollectionFailure {
    /// What.
    pub what: Collected,
    /// Why.
    pub message: String,
}

/// Kinds of evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Collected {
    /// Cosign signatures.
    Signatures,
    /// Attestations.
    Attestations,
    /// Docker Content Trust data.
    Dct,
    /// Notation signatures.
    Notation,
}

impl std::fmt::Display for Collected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Collected::Signatures => "signatures",
            Collected::Attestations => "attestations",
            Collected::Dct => "trust data",
            Collected::Notation => "notation signatures",
        })
    }
}
