//! `evaluate(policy, evidence, now) -> Decision`: match the facts a collector found against
//! the rule that covers the image. Pure and total: every input gives a decision.

use crate::condition::{ConditionInput, ConditionOutcome};
use crate::decision::{Decision, Group, Reason, RequirementResult, Verdict};
use crate::evidence::{Collected, Evidence, SignatureEvidence, Signer};
use crate::identity;
use crate::model::{
    AttestationRequirement, CosignRequirement, DctRequirement, DefaultAction, KeySource, LogTrust,
    Mode, NotationRequirement, Origin, Policy, Requirement,
};
use std::collections::{BTreeMap, BTreeSet};

/// Decide about the image `evidence` describes, at `now` (unix seconds, for CEL's `now`).
///
/// No rule matches: the policy's `default` decides (deny → [`Reason::NoRuleMatched`]). A
/// rule matches: every `require` entry must hold and, when `anyOf` is given, one of its
/// entries; otherwise an `enforce` rule denies with the first unmet requirement's reason and
/// an `audit` rule allows with one warning per unmet requirement.
pub fn evaluate(policy: &Policy, evidence: &Evidence, now: i64) -> Decision {
    let image = evidence.image.to_string();
    let Some(rule) = policy.rule_for(&evidence.image, evidence.namespace.as_deref()) else {
        let deny = policy.default != DefaultAction::Allow;
        return Decision {
            image,
            digest: evidence.digest.clone(),
            verdict: if deny { Verdict::Deny } else { Verdict::Allow },
            rule: None,
            mode: Mode::Enforce,
            requirements: Vec::new(),
            warnings: Vec::new(),
            reason: deny.then_some(Reason::NoRuleMatched),
        };
    };
    let mut eval = Eval {
        policy,
        evidence,
        now,
        accepted_signatures: BTreeSet::new(),
        accepted_attestations: BTreeSet::new(),
        logged: Vec::new(),
    };
    let all: Vec<(Group, &Requirement)> = rule
        .require
        .iter()
        .map(|r| (Group::All, r))
        .chain(rule.any_of.iter().map(|r| (Group::AnyOf, r)))
        .collect();
    // tlog requirements look at what the others accepted: evaluate them last.
    let mut outcomes: Vec<Option<(bool, Option<Reason>)>> = vec![None; all.len()];
    for pass in [false, true] {
        for (i, (_, r)) in all.iter().enumerate() {
            if matches!(r, Requirement::Tlog(_)) == pass {
                outcomes[i] = Some(eval.requirement(r));
            }
        }
    }
    let requirements: Vec<RequirementResult> = all
        .iter()
        .zip(outcomes)
        .map(|((group, r), o)| {
            let (met, reason) = o.unwrap_or((false, None));
            RequirementResult {
                group: *group,
                kind: r.kind(),
                description: r.describe(),
                met,
                reason: if met { None } else { reason },
            }
        })
        .collect();
    let unmet_require: Vec<&RequirementResult> = requirements
        .iter()
        .filter(|r| r.group == Group::All && !r.met)
        .collect();
    let any_of: Vec<&RequirementResult> = requirements
        .iter()
        .filter(|r| r.group == Group::AnyOf)
        .collect();
    let any_of_ok = any_of.is_empty() || any_of.iter().any(|r| r.met);
    // Failures a notation trust policy only logs (audit, permissive, `log` overrides) are
    // warnings of the decision, whatever it is.
    let mut warnings = std::mem::take(&mut eval.logged);
    let (verdict, reason) = if unmet_require.is_empty() && any_of_ok {
        (Verdict::Allow, None)
    } else if rule.mode == Mode::Audit {
        let unmet_any: Vec<&RequirementResult> = if any_of_ok { Vec::new() } else { any_of };
        for r in unmet_require.iter().chain(unmet_any.iter()) {
            warnings.push(format!(
                "audit: rule {}: {}: {}",
                rule.name,
                r.description,
                r.reason
                    .as_ref()
                    .map_or_else(|| "not met".to_string(), ToString::to_string)
            ));
        }
        (Verdict::Allow, None)
    } else {
        let reason = match unmet_require.first() {
            Some(r) => r.reason.clone(),
            None if any_of.len() == 1 => any_of[0].reason.clone(),
            None => Some(Reason::NoAlternativeMet),
        };
        (
            Verdict::Deny,
            Some(reason.unwrap_or(Reason::NoAlternativeMet)),
        )
    };
    Decision {
        image,
        digest: evidence.digest.clone(),
        verdict,
        rule: Some(rule.name.clone()),
        mode: rule.mode,
        requirements,
        warnings,
        reason,
    }
}

struct Eval<'a> {
    policy: &'a Policy,
    evidence: &'a Evidence,
    now: i64,
    accepted_signatures: BTreeSet<usize>,
    accepted_attestations: BTreeSet<usize>,
    logged: Vec<String>,
}

fn normalize_fingerprint(f: &str) -> String {
    f.trim()
        .strip_prefix("sha256:")
        .unwrap_or(f.trim())
        .to_ascii_lowercase()
}

fn short(f: &str) -> String {
    let f = normalize_fingerprint(f);
    let cut: String = f.chars().take(12).collect();
    format!("sha256:{cut}…")
}

fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The keys of a requirement that loaded (id, fingerprint), and why the others did not.
struct Keys<'a> {
    loaded: Vec<(&'a KeySource, String)>,
    unavailable: Vec<String>,
}

impl<'a> Keys<'a> {
    /// The loaded key whose fingerprint is `fingerprint` (any `sha256:` prefix or case), with
    /// its normalised fingerprint.
    fn find(&self, fingerprint: &str) -> Option<(&'a KeySource, &str)> {
        let f = normalize_fingerprint(fingerprint);
        self.loaded
            .iter()
            .find(|(_, kf)| *kf == f)
            .map(|(k, kf)| (*k, kf.as_str()))
    }
}

impl Eval<'_> {
    fn requirement(&mut self, r: &Requirement) -> (bool, Option<Reason>) {
        match r {
            Requirement::Cosign(c) => self.cosign(c),
            Requirement::Attestation(a) => self.attestation(a),
            Requirement::Dct(d) => self.dct(d),
            Requirement::Notation(n) => self.notation(n),
            Requirement::Tlog(t) => self.tlog(t),
            Requirement::Reject { message } => (
                false,
                Some(Reason::Rejected {
                    message: message.clone(),
                }),
            ),
            Requirement::Accept => (true, None),
        }
    }

    fn keys<'k>(&self, keys: &'k [KeySource]) -> Keys<'k> {
        let mut out = Keys {
            loaded: Vec::new(),
            unavailable: Vec::new(),
        };
        for k in keys {
            let id = k.id();
            match self.evidence.keys.get(&id) {
                Some(Ok(f)) => out.loaded.push((k, normalize_fingerprint(f))),
                Some(Err(e)) => out.unavailable.push(format!("{id}: {e}")),
                None => out
                    .unavailable
                    .push(format!("{id}: not loaded by the collector")),
            }
        }
        out
    }

    fn failure(&self, what: Collected) -> Option<Reason> {
        self.evidence
            .failures
            .iter()
            .find(|f| f.what == what)
            .map(|f| Reason::CollectionFailed {
                what,
                message: f.message.clone(),
            })
    }

    fn rejected_line(&self, formats: &[&str]) -> Option<String> {
        let r: Vec<_> = self
            .evidence
            .rejected
            .iter()
            .filter(|c| formats.contains(&c.format))
            .collect();
        let first = r.first()?;
        Some(format!(
            "{} did not verify (first: {}: {})",
            count(r.len(), "candidate", "candidates"),
            first.source,
            first.reason
        ))
    }

    fn logged(ids: &[String], logged_in: &[String]) -> bool {
        logged_in.iter().any(|l| ids.contains(l))
    }

    /// Add (once each) why `s`'s entry did not verify in the logs `ids`.
    fn log_failures(ids: &[String], s: &SignatureEvidence, out: &mut Vec<String>) {
        for (id, why) in &s.log_failures {
            if ids.contains(id) && !out.contains(why) {
                out.push(why.clone());
            }
        }
    }

    fn cosign(&mut self, c: &CosignRequirement) -> (bool, Option<Reason>) {
        let ev = self.evidence;
        let keys = self.keys(&c.keys);
        if self.policy.origin == Origin::ContainersPolicy && !keys.unavailable.is_empty() {
            // containers/image loads every key first and rejects every signature when one
            // does not load.
            return (
                false,
                Some(Reason::KeyUnavailable {
                    keys: keys.unavailable,
                }),
            );
        }
        let tlog_ids = c.tlog.as_ref().map(LogTrust::ids);
        let mut signers: BTreeMap<String, String> = BTreeMap::new();
        let mut candidates = 0usize;
        let mut unlisted: Vec<String> = Vec::new();
        let mut wrong_identity: Vec<String> = Vec::new();
        let mut wrong_annotations: Vec<String> = Vec::new();
        let mut not_logged = 0usize;
        let mut why_not_logged: Vec<String> = Vec::new();
        for (idx, s) in ev.signatures.iter().enumerate() {
            if !c.formats.contains(&s.format) {
                continue;
            }
            candidates += 1;
            let signer = match &s.signer {
                Signer::Key { fingerprint } => keys
                    .find(fingerprint)
                    .map(|(k, kf)| (format!("key:{kf}"), k.id())),
                Signer::Certificate {
                    trust,
                    subjects,
                    issuer,
                    ..
                } => [&c.keyless, &c.certificates]
                    .into_iter()
                    .flatten()
                    .filter(|ct| ct.source.id() == *trust)
                    .flat_map(|ct| ct.identities.iter())
                    .find_map(|m| {
                        let issuer_ok = m
                            .issuer
                            .as_ref()
                            .is_none_or(|im| issuer.as_deref().is_some_and(|i| im.matches(i)));
                        let subject = subjects.iter().find(|s| m.subject.matches(s))?;
                        issuer_ok.then(|| {
                            let iss = issuer.clone().unwrap_or_default();
                            (
                                format!("cert:{trust}\n{subject}\n{iss}"),
                                if iss.is_empty() {
                                    subject.clone()
                                } else {
                                    format!("{subject} ({iss})")
                                },
                            )
                        })
                    }),
            };
            let Some((sid, desc)) = signer else {
                unlisted.push(match &s.signer {
                    Signer::Key { fingerprint } => format!("key {}", short(fingerprint)),
                    Signer::Certificate {
                        subjects, issuer, ..
                    } => format!(
                        "certificate for {}{}",
                        subjects.join(", "),
                        issuer.as_ref().map_or(String::new(), |i| format!(" ({i})"))
                    ),
                });
                continue;
            };
            let missing: Vec<String> = c
                .annotations
                .iter()
                .filter(|(k, v)| s.annotations.get(*k) != Some(*v))
                .map(|(k, v)| match s.annotations.get(k) {
                    Some(found) => format!("{k}={v}, found {k}={found}"),
                    None => format!("{k}={v}, found none"),
                })
                .collect();
            if !missing.is_empty() {
                wrong_annotations.push(missing.join(", "));
                continue;
            }
            if !c
                .signed_identity
                .matches(&ev.image, s.docker_reference.as_deref())
            {
                wrong_identity.push(
                    s.docker_reference
                        .clone()
                        .unwrap_or_else(|| "no docker-reference".to_string()),
                );
                continue;
            }
            if let Some(ids) = &tlog_ids
                && !Self::logged(ids, &s.logged_in)
            {
                not_logged += 1;
                Self::log_failures(ids, s, &mut why_not_logged);
                continue;
            }
            self.accepted_signatures.insert(idx);
            signers.insert(sid, desc);
        }
        if signers.len() >= c.threshold {
            return (true, None);
        }
        let possible = keys.loaded.len()
            + c.keyless.as_ref().map_or(0, |k| k.identities.len())
            + c.certificates.as_ref().map_or(0, |k| k.identities.len());
        if !keys.unavailable.is_empty() && possible < c.threshold {
            return (
                false,
                Some(Reason::KeyUnavailable {
                    keys: keys.unavailable,
                }),
            );
        }
        let formats: Vec<&str> = c.formats.iter().map(|f| f.as_str()).collect();
        let rejected = self.rejected_line(&formats);
        if candidates == 0 {
            if let Some(r) = self.failure(Collected::Signatures) {
                return (false, Some(r));
            }
            if rejected.is_none() {
                return (
                    false,
                    Some(Reason::NoSignatures {
                        what: format!("cosign signatures ({})", formats.join(", ")),
                    }),
                );
            }
        }
        if signers.is_empty()
            && unlisted.is_empty()
            && wrong_annotations.is_empty()
            && not_logged == 0
            && !wrong_identity.is_empty()
            && rejected.is_none()
        {
            return (
                false,
                Some(Reason::IdentityMismatch {
                    expected: identity::expected(&c.signed_identity, &ev.image),
                    found: wrong_identity,
                }),
            );
        }
        if signers.is_empty()
            && unlisted.is_empty()
            && wrong_annotations.is_empty()
            && wrong_identity.is_empty()
            && not_logged > 0
            && rejected.is_none()
        {
            return (
                false,
                Some(Reason::NotLogged {
                    logs: tlog_ids.unwrap_or_default(),
                    candidates: not_logged,
                    why: why_not_logged,
                }),
            );
        }
        let mut ignored = Vec::new();
        if !unlisted.is_empty() {
            ignored.push(format!(
                "{} by an unlisted signer ({})",
                count(unlisted.len(), "signature", "signatures"),
                unlisted.join(", ")
            ));
        }
        if !wrong_identity.is_empty() {
            ignored.push(format!(
                "{} signed for another image (expected {}, found {})",
                wrong_identity.len(),
                identity::expected(&c.signed_identity, &ev.image),
                wrong_identity.join(", ")
            ));
        }
        if !wrong_annotations.is_empty() {
            ignored.push(format!(
                "{} without the required annotations (expected {})",
                wrong_annotations.len(),
                wrong_annotations.join("; ")
            ));
        }
        if not_logged > 0 {
            ignored.push(format!(
                "{not_logged} not logged in {}",
                tlog_ids.unwrap_or_default().join(" or ")
            ));
        }
        if !keys.unavailable.is_empty() {
            ignored.push(format!("keys not loaded: {}", keys.unavailable.join("; ")));
        }
        ignored.extend(rejected);
        let among = if c.keyless.is_none() && c.certificates.is_none() {
            count(c.keys.len(), "key", "keys")
        } else {
            format!("{} keys and identities", c.candidate_count())
        };
        (
            false,
            Some(Reason::ThresholdNotMet {
                required: c.threshold,
                among,
                found: signers.into_values().collect(),
                ignored,
            }),
        )
    }

    fn attestation(&mut self, a: &AttestationRequirement) -> (bool, Option<Reason>) {
        let ev = self.evidence;
        let keys = self.keys(&a.keys);
        let tlog_ids = a.tlog.as_ref().map(LogTrust::ids);
        let mut signers: BTreeMap<String, String> = BTreeMap::new();
        let mut candidates = 0usize;
        let mut other_types: BTreeMap<&str, usize> = BTreeMap::new();
        let mut unlisted = 0usize;
        let mut not_logged = 0usize;
        let mut first_false: Option<Option<String>> = None;
        let mut first_error: Option<String> = None;
        let mut failed_condition = 0usize;
        for (idx, at) in ev.attestations.iter().enumerate() {
            if at.predicate_type != a.predicate_type {
                *other_types.entry(at.predicate_type.as_str()).or_default() += 1;
                continue;
            }
            candidates += 1;
            let signer = match &at.signer {
                Signer::Key { fingerprint } => keys
                    .find(fingerprint)
                    .map(|(k, kf)| (kf.to_owned(), k.id())),
                _ => None,
            };
            let Some((sid, desc)) = signer else {
                unlisted += 1;
                continue;
            };
            if let Some(ids) = &tlog_ids
                && !Self::logged(ids, &at.logged_in)
            {
                not_logged += 1;
                continue;
            }
            if let Some(cond) = &a.condition {
                let input = ConditionInput {
                    statement: &at.statement,
                    image: &ev.image,
                    now: self.now,
                };
                match cond.evaluate(&input) {
                    ConditionOutcome::True => {}
                    ConditionOutcome::False { found } => {
                        failed_condition += 1;
                        first_false.get_or_insert(found);
                        continue;
                    }
                    ConditionOutcome::Error(e) => {
                        failed_condition += 1;
                        first_error.get_or_insert(e);
                        continue;
                    }
                }
            }
            self.accepted_attestations.insert(idx);
            signers.insert(sid, desc);
        }
        if signers.len() >= a.threshold {
            return (true, None);
        }
        if !keys.unavailable.is_empty() && keys.loaded.len() < a.threshold {
            return (
                false,
                Some(Reason::KeyUnavailable {
                    keys: keys.unavailable,
                }),
            );
        }
        let rejected = self.rejected_line(&["attestation"]);
        let expression = a
            .condition
            .as_ref()
            .map(|c| c.source().to_string())
            .unwrap_or_default();
        if candidates == 0 || (signers.is_empty() && unlisted == candidates) {
            if candidates == 0
                && let Some(r) = self.failure(Collected::Attestations)
            {
                return (false, Some(r));
            }
            let mut found: Vec<String> = other_types
                .iter()
                .map(|(t, n)| format!("{} of type {t}", count(*n, "attestation", "attestations")))
                .collect();
            if unlisted > 0 {
                found.push(format!(
                    "{} by an unlisted signer",
                    count(unlisted, "attestation", "attestations")
                ));
            }
            found.extend(rejected);
            return (
                false,
                Some(Reason::AttestationMissing {
                    predicate_type: a.predicate_type.clone(),
                    found,
                }),
            );
        }
        if signers.is_empty() && failed_condition > 0 && not_logged == 0 {
            if let Some(found) = first_false {
                return (false, Some(Reason::ConditionFalse { expression, found }));
            }
            if let Some(message) = first_error {
                return (
                    false,
                    Some(Reason::ConditionError {
                        expression,
                        message,
                    }),
                );
            }
        }
        if signers.is_empty() && not_logged > 0 && failed_condition == 0 {
            return (
                false,
                Some(Reason::NotLogged {
                    logs: tlog_ids.unwrap_or_default(),
                    candidates: not_logged,
                    why: Vec::new(),
                }),
            );
        }
        let mut ignored = Vec::new();
        if unlisted > 0 {
            ignored.push(format!(
                "{} by an unlisted signer",
                count(unlisted, "attestation", "attestations")
            ));
        }
        if not_logged > 0 {
            ignored.push(format!(
                "{not_logged} not logged in {}",
                tlog_ids.unwrap_or_default().join(" or ")
            ));
        }
        if failed_condition > 0 {
            let detail = match (&first_false, &first_error) {
                (Some(Some(f)), _) => format!(": {f}"),
                (_, Some(e)) => format!(": {e}"),
                _ => String::new(),
            };
            ignored.push(format!(
                "{failed_condition} failing the condition `{expression}`{detail}"
            ));
        }
        ignored.extend(rejected);
        (
            false,
            Some(Reason::ThresholdNotMet {
                required: a.threshold,
                among: count(a.keys.len(), "key", "keys"),
                found: signers.into_values().collect(),
                ignored,
            }),
        )
    }

    /// notation's rule: one signature that verifies under the trust policy is enough; a `skip`
    /// policy verifies nothing and passes.
    fn notation(&mut self, n: &NotationRequirement) -> (bool, Option<Reason>) {
        let ev = self.evidence;
        let Some(found) = ev.notation.iter().find(|x| x.requirement == n.id) else {
            let message = ev
                .failures
                .iter()
                .find(|f| f.what == Collected::Notation)
                .map_or_else(
                    || "no notation signatures were collected for this requirement".to_string(),
                    |f| f.message.clone(),
                );
            return (false, Some(Reason::NotationUnavailable { message }));
        };
        let v = match &found.result {
            Ok(v) => v,
            Err(message) => {
                return (
                    false,
                    Some(Reason::NotationUnavailable {
                        message: message.clone(),
                    }),
                );
            }
        };
        if v.level == "skip" {
            return (true, None);
        }
        if let Some(s) = v.signatures.iter().find(|s| s.verified) {
            for l in &s.logged {
                self.logged.push(format!(
                    "notation: trust policy {} ({}) logs a failed check of signature {}: {l}",
                    v.policy, v.level, s.source
                ));
            }
            return (true, None);
        }
        (
            false,
            Some(Reason::NotationNotVerified {
                policy: v.policy.clone(),
                failures: v
                    .signatures
                    .iter()
                    .map(|s| {
                        format!(
                            "{}: {}",
                            s.source,
                            s.failure.as_deref().unwrap_or("not verified")
                        )
                    })
                    .collect(),
            }),
        )
    }

    fn dct(&mut self, d: &DctRequirement) -> (bool, Option<Reason>) {
        let ev = self.evidence;
        let Some(data) = ev.dct.iter().find(|x| x.server == d.server) else {
            let message = self
                .evidence
                .failures
                .iter()
                .find(|f| f.what == Collected::Dct)
                .map_or_else(
                    || "no trust data was collected for this server".to_string(),
                    |f| f.message.clone(),
                );
            return (
                false,
                Some(Reason::DctUnavailable {
                    server: d.server.clone(),
                    message,
                }),
            );
        };
        let targets = match &data.result {
            Ok(t) => t,
            Err(e) => {
                return (
                    false,
                    Some(Reason::DctUnavailable {
                        server: d.server.clone(),
                        message: e.clone(),
                    }),
                );
            }
        };
        let served = &ev.digest;
        let tag = ev.image.tag.clone();
        let for_image: Vec<_> = targets
            .iter()
            .filter(|t| match &tag {
                Some(tag) => t.tag == *tag,
                None => t.digest == *served,
            })
            .collect();
        let tag_text = tag.clone().unwrap_or_default();
        let matching: Vec<_> = for_image.iter().filter(|t| t.digest == *served).collect();
        if matching.is_empty() {
            if for_image.is_empty() {
                return (
                    false,
                    Some(Reason::DctNotSigned {
                        tag: tag_text,
                        expected: d.signers.clone(),
                        found: Vec::new(),
                    }),
                );
            }
            let mut signed: Vec<String> = for_image.iter().map(|t| t.digest.clone()).collect();
            signed.sort();
            signed.dedup();
            return (
                false,
                Some(Reason::DctDigestMismatch {
                    tag: tag_text,
                    signed,
                    served: served.clone(),
                }),
            );
        }
        let all_signers: BTreeSet<&str> = matching
            .iter()
            .flat_map(|t| t.signers.iter().map(String::as_str))
            .collect();
        let accepted: BTreeSet<&str> = all_signers
            .iter()
            .copied()
            .filter(|s| d.signers.is_empty() || d.signers.iter().any(|n| n == s))
            .collect();
        if accepted.len() >= d.threshold {
            return (true, None);
        }
        (
            false,
            Some(Reason::DctNotSigned {
                tag: tag_text,
                expected: d.signers.clone(),
                found: all_signers.iter().map(|s| s.to_string()).collect(),
            }),
        )
    }

    fn tlog(&mut self, t: &LogTrust) -> (bool, Option<Reason>) {
        let ids = t.ids();
        let ev = self.evidence;
        let sigs = self
            .accepted_signatures
            .iter()
            .filter_map(|i| ev.signatures.get(*i))
            .map(|s| &s.logged_in);
        let atts = self
            .accepted_attestations
            .iter()
            .filter_map(|i| ev.attestations.get(*i))
            .map(|a| &a.logged_in);
        let all: Vec<&Vec<String>> = sigs.chain(atts).collect();
        if all.iter().any(|l| Self::logged(&ids, l)) {
            return (true, None);
        }
        let mut why = Vec::new();
        for s in self
            .accepted_signatures
            .iter()
            .filter_map(|i| ev.signatures.get(*i))
        {
            Self::log_failures(&ids, s, &mut why);
        }
        (
            false,
            Some(Reason::NotLogged {
                logs: ids,
                candidates: all.len(),
                why,
            }),
        )
    }
}
