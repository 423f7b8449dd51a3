//! The result of [`evaluate`](crate::evaluate): a verdict, the rule that decided, each
//! requirement's result and the reason, in one documented JSON shape.

use crate::evidence::Collected;
use crate::model::Mode;
use serde::ser::{SerializeMap, Serializer};
use std::fmt;

/// Allowed or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// The image may be used.
    Allow,
    /// The image is refused.
    Deny,
}

impl Verdict {
    /// `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
        }
    }
}

/// Which group of a rule a requirement belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Group {
    /// `require`: all must hold.
    All,
    /// `anyOf`: one must hold.
    AnyOf,
}

impl Group {
    /// `require` or `anyOf` (as in the file).
    pub fn as_str(self) -> &'static str {
        match self {
            Group::All => "require",
            Group::AnyOf => "anyOf",
        }
    }
}

/// The decision about one image.
///
/// Serialises as `{"reference", "digest", "decision": "allow"|"deny", "rule": name|null,
/// "mode": "enforce"|"audit", "requirements": [{"type", "group": "require"|"anyOf",
/// "description", "met", "reason": text|null, "code": snake_case|null}], "warnings": [..],
/// "reason": text|null}`.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The image as given (`name[:tag][@digest]`).
    pub image: String,
    /// The manifest digest decided about.
    pub digest: String,
    /// Allowed or not.
    pub verdict: Verdict,
    /// The rule that matched; `None` when the policy's default decided.
    pub rule: Option<String>,
    /// The rule's mode (`Enforce` when no rule matched).
    pub mode: Mode,
    /// Each requirement of the rule, in file order (`require` then `anyOf`).
    pub requirements: Vec<RequirementResult>,
    /// Audit findings and other notes.
    pub warnings: Vec<String>,
    /// Why the image is denied (`None` when allowed).
    pub reason: Option<Reason>,
}

impl Decision {
    /// True when the verdict is [`Verdict::Allow`].
    pub fn allowed(&self) -> bool {
        self.verdict == Verdict::Allow
    }

    /// Why this decision denies, in one line: `denied by rule NAME: REQUIREMENT: REASON` (the
    /// first unmet requirement), or the decision's own reason (`the policy's default` when no
    /// rule matched). What every enforcement point tells the user.
    pub fn denial(&self) -> String {
        let rule = self.rule.as_deref().map_or_else(
            || "the policy's default".to_owned(),
            |r| format!("rule {r}"),
        );
        let why = self
            .requirements
            .iter()
            .find(|r| !r.met)
            .map(|r| match &r.reason {
                Some(reason) => format!("{}: {reason}", r.description),
                None => r.description.clone(),
            })
            .or_else(|| self.reason.as_ref().map(ToString::to_string))
            .unwrap_or_else(|| "denied".to_owned());
        format!("denied by {rule}: {why}")
    }
}

/// The result of one requirement.
#[derive(Debug, Clone)]
pub struct RequirementResult {
    /// `require` or `anyOf`.
    pub group: Group,
    /// [`Requirement::kind`](crate::Requirement::kind).
    pub kind: &'static str,
    /// [`Requirement::describe`](crate::Requirement::describe).
    pub description: String,
    /// Whether it holds.
    pub met: bool,
    /// Why not (`None` when met).
    pub reason: Option<Reason>,
}

/// Why a requirement is not met, or why an image is denied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// No rule matched and the policy's default is deny.
    NoRuleMatched,
    /// A `reject` requirement.
    Rejected {
        /// Its message.
        message: Option<String>,
    },
    /// Nothing of the kind was found.
    NoSignatures {
        /// What was looked for, e.g. `cosign signatures (simplesigning, bundle)`.
        what: String,
    },
    /// Not enough distinct accepted signers.
    ThresholdNotMet {
        /// Distinct signers required.
        required: usize,
        /// What they are counted among, e.g. `3 keys`.
        among: String,
        /// The accepted signers found (key references, identities, DCT signer names).
        found: Vec<String>,
        /// Why the other candidates did not count, one summary line each.
        ignored: Vec<String>,
    },
    /// Signatures by accepted signers name another image.
    IdentityMismatch {
        /// What was expected, e.g. `matchRepository on registry.example.com/app`.
        expected: String,
        /// The references the signatures name.
        found: Vec<String>,
    },
    /// Accepted signatures are not in any trusted log.
    NotLogged {
        /// The log ids accepted.
        logs: Vec<String>,
        /// How many otherwise acceptable signatures or attestations were found.
        candidates: usize,
        /// Why their entries did not verify in those logs (distinct reasons).
        why: Vec<String>,
    },
    /// No verified Docker Content Trust data.
    DctUnavailable {
        /// The server (`None` = default).
        server: Option<String>,
        /// Why.
        message: String,
    },
    /// The tag is not signed by enough of the named signers.
    DctNotSigned {
        /// The tag (empty for a digest-only reference).
        tag: String,
        /// The named signers.
        expected: Vec<String>,
        /// Who signed it (as the served digest).
        found: Vec<String>,
    },
    /// The trust data signs the tag as another digest than the registry serves.
    DctDigestMismatch {
        /// The tag.
        tag: String,
        /// The digests signed for it.
        signed: Vec<String>,
        /// The digest the registry serves.
        served: String,
    },
    /// No notation verification could be made.
    NotationUnavailable {
        /// Why.
        message: String,
    },
    /// No notation signature verified under the trust policy.
    NotationNotVerified {
        /// The trust policy applied.
        policy: String,
        /// Each signature found, with why it failed (empty: none found).
        failures: Vec<String>,
    },
    /// No attestation of the predicate type by an accepted signer.
    AttestationMissing {
        /// The predicate type.
        predicate_type: String,
        /// What was found instead (other types, unlisted signers), if anything.
        found: Vec<String>,
    },
    /// The CEL condition is false for every accepted attestation.
    ConditionFalse {
        /// The expression.
        expression: String,
        /// For a top-level comparison, the value of each side found.
        found: Option<String>,
    },
    /// The CEL condition could not be evaluated.
    ConditionError {
        /// The expression.
        expression: String,
        /// The evaluation error.
        message: String,
    },
    /// Keys could not be loaded and the threshold cannot be met without them.
    KeyUnavailable {
        /// Key ids that failed, with why.
        keys: Vec<String>,
    },
    /// Evidence could not be collected.
    CollectionFailed {
        /// What.
        what: Collected,
        /// Why.
        message: String,
    },
    /// No `anyOf` alternative holds.
    NoAlternativeMet,
}

impl Reason {
    /// The variant's name in snake_case (the JSON `code`).
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NoRuleMatched => "no_rule_matched",
            Reason::Rejected { .. } => "rejected",
            Reason::NoSignatures { .. } => "no_signatures",
            Reason::ThresholdNotMet { .. } => "threshold_not_met",
            Reason::IdentityMismatch { .. } => "identity_mismatch",
            Reason::NotLogged { .. } => "not_logged",
            Reason::DctUnavailable { .. } => "dct_unavailable",
            Reason::DctNotSigned { .. } => "dct_not_signed",
            Reason::DctDigestMismatch { .. } => "dct_digest_mismatch",
            Reason::NotationUnavailable { .. } => "notation_unavailable",
            Reason::NotationNotVerified { .. } => "notation_not_verified",
            Reason::AttestationMissing { .. } => "attestation_missing",
            Reason::ConditionFalse { .. } => "condition_false",
            Reason::ConditionError { .. } => "condition_error",
            Reason::KeyUnavailable { .. } => "key_unavailable",
            Reason::CollectionFailed { .. } => "collection_failed",
            Reason::NoAlternativeMet => "no_alternative_met",
        }
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(", ")
    }
}

fn or_list(v: &[String]) -> String {
    match v.len() {
        0 => "nobody".to_string(),
        1 => v[0].clone(),
        n => format!("{} or {}", v[..n - 1].join(", "), v[n - 1]),
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoRuleMatched => {
                f.write_str("no rule matches this image and the policy's default is deny")
            }
            Reason::Rejected { message: Some(m) } => write!(f, "rejected by policy: {m}"),
            Reason::Rejected { message: None } => f.write_str("rejected by policy"),
            Reason::NoSignatures { what } => write!(f, "no {what} found"),
            Reason::ThresholdNotMet {
                required,
                among,
                found,
                ignored,
            } => {
                write!(f, "{required} of {among} required, {} found", found.len())?;
                if !found.is_empty() {
                    write!(f, " ({})", found.join(", "))?;
                }
                for i in ignored {
                    write!(f, "; {i}")?;
                }
                Ok(())
            }
            Reason::IdentityMismatch { expected, found } => write!(
                f,
                "signed for another image (expected {expected}, found {})",
                list(found)
            ),
            Reason::NotLogged {
                logs,
                candidates,
                why,
            } => {
                write!(
                    f,
                    "{candidates} acceptable signature(s) found, none logged in {}",
                    or_list(logs)
                )?;
                if !why.is_empty() {
                    write!(f, " ({})", why.join("; "))?;
                }
                Ok(())
            }
            Reason::DctUnavailable {
                server: Some(s),
                message,
            } => write!(f, "no verified trust data from {s}: {message}"),
            Reason::DctUnavailable {
                server: None,
                message,
            } => write!(f, "no verified trust data: {message}"),
            Reason::DctNotSigned {
                tag,
                expected,
                found,
            } => {
                let what = if tag.is_empty() {
                    "the digest is".to_string()
                } else {
                    format!("tag {tag} is")
                };
                let by = if expected.is_empty() {
                    "anyone".to_string()
                } else {
                    or_list(expected)
                };
                if found.is_empty() {
                    write!(f, "{what} not signed by {by} (not signed)")
                } else {
                    write!(
                        f,
                        "{what} not signed by {by} (signed by {})",
                        found.join(", ")
                    )
                }
            }
            Reason::DctDigestMismatch {
                tag,
                signed,
                served,
            } => write!(
                f,
                "trust data signs {tag} as {}, the registry serves {served}",
                signed.join(" and ")
            ),
            Reason::NotationUnavailable { message } => {
                write!(f, "no notation verification: {message}")
            }
            Reason::NotationNotVerified { policy, failures } => {
                if failures.is_empty() {
                    write!(
                        f,
                        "no notation signature found (trust policy {policy} requires one)"
                    )
                } else {
                    write!(
                        f,
                        "no notation signature verified under trust policy {policy}: {}",
                        failures.join("; ")
                    )
                }
            }
            Reason::AttestationMissing {
                predicate_type,
                found,
            } => {
                write!(
                    f,
                    "no attestation of type {predicate_type} by an accepted signer"
                )?;
                if !found.is_empty() {
                    write!(f, " (found {})", found.join("; "))?;
                }
                Ok(())
            }
            Reason::ConditionFalse {
                expression,
                found: Some(found),
            } => write!(f, "condition `{expression}` is false: {found}"),
            Reason::ConditionFalse {
                expression,
                found: None,
            } => write!(f, "condition `{expression}` is false"),
            Reason::ConditionError {
                expression,
                message,
            } => write!(
                f,
                "condition `{expression}` could not be evaluated: {message}"
            ),
            Reason::KeyUnavailable { keys } => {
                write!(f, "keys could not be loaded: {}", keys.join("; "))
            }
            Reason::CollectionFailed { what, message } => {
                write!(f, "{what} could not be collected: {message}")
            }
            Reason::NoAlternativeMet => f.write_str("none of the anyOf alternatives holds"),
        }
    }
}

impl serde::Serialize for RequirementResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(6))?;
        m.serialize_entry("type", self.kind)?;
        m.serialize_entry("group", self.group.as_str())?;
        m.serialize_entry("description", &self.description)?;
        m.serialize_entry("met", &self.met)?;
        m.serialize_entry("reason", &self.reason.as_ref().map(ToString::to_string))?;
        m.serialize_entry("code", &self.reason.as_ref().map(Reason::code))?;
        m.end()
    }
}

impl serde::Serialize for Decision {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(8))?;
        m.serialize_entry("reference", &self.image)?;
        m.serialize_entry("digest", &self.digest)?;
        m.serialize_entry("decision", self.verdict.as_str())?;
        m.serialize_entry("rule", &self.rule)?;
        m.serialize_entry("mode", self.mode.as_str())?;
        m.serialize_entry("requirements", &self.requirements)?;
        m.serialize_entry("warnings", &self.warnings)?;
        m.serialize_entry("reason", &self.reason.as_ref().map(ToString::to_string))?;
        m.end()
    }
}
