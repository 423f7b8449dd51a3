//! hallmark's policy engine, pure: "given a policy and an image's evidence, is it allowed,
//! and why?", decided in one place.
//!
//! Formats followed:
//!
//! - **hallmark/v1** policies (`apiVersion: hallmark/v1`, `kind: Policy`), YAML 1.2 or JSON
//!   (one parser for both; a file whose first non-blank character is `{` must be strict
//!   JSON). [`json_schema`] describes the format; it is derived from the parser's own structs.
//! - **containers-policy.json** as skopeo 1.18 (containers/image v5.34) reads it: what it
//!   accepts and refuses at parse time, the scope order of the `docker` and `oci` transports,
//!   `sigstoreSigned` requirements and every `signedIdentity` form, converted to the same
//!   model (see [`containers`]). `signedBy` (GPG) requirements are refused.
//! - sigstore policy-controller's **ClusterImagePolicy** (`policy.sigstore.dev/v1alpha1` and
//!   `v1beta1`): globs, key / KMS / keyless / static authorities as alternatives, `warn` as
//!   audit, rewritten into a hallmark/v1 tree that keeps the document's positions; what cannot
//!   be enforced the same way (Secrets, TrustRoots, CUE/Rego, attestations) is refused by name.
//! - **CEL** conditions via the `cel` crate 0.15 (standard library), with the declared
//!   variables `predicate`, `predicateType`, `subject`, `statement`, `image`, `now`
//!   (see [`condition`]).
//!
//! Nothing here does I/O: [`Policy::parse`] takes the file's bytes and path (relative key and
//! root paths of hallmark/v1 files are joined to the file's directory, without touching the
//! file system), and [`evaluate`] matches an [`Evidence`] a collector gathered against the
//! rule that covers the image.

mod cip;
pub mod condition;
pub mod containers;
pub mod decision;
mod evaluate;
pub mod evidence;
mod file;
mod identity;
pub mod model;
pub mod parse;
pub mod pattern;
pub mod schema;

pub use condition::{Condition, ConditionError, ConditionErrorKind};
pub use decision::{Decision, Group, Reason, RequirementResult, Verdict};
pub use evaluate::evaluate;
pub use evidence::{
    AttestationEvidence, Collected, CollectionFailure, DctEvidence, DctTarget, Evidence,
    NotationEvidence, NotationSignature, NotationVerification, RejectedCandidate,
    SignatureEvidence, Signer,
};
pub use model::{
    AttestationRequirement, CertificateTrust, CosignRequirement, DctRequirement, DefaultAction,
    FailurePolicy, FileOrData, IdentityMatcher, KeySource, LogSource, LogTrust, Mode, Needs,
    NotationRequirement, NotationTrust, Origin, Policy, Requirement, Rule, SignatureFormat,
    SignedIdentity, StringMatch, TrustSource,
};
pub use parse::{Diagnostic, DiagnosticKind, ParseError};
pub use pattern::{ImageName, ImagePattern, PatternError};
pub use schema::json_schema;
