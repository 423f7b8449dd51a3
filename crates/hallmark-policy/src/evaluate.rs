//! `evaluate(policy, evidence, now) -> Decision`.

use crate::decision::{Decision, Reason, Verdict};
use crate::evidence::Evidence;
use crate::model::{DefaultAction, Mode, Policy};

/// Decide about the image `evidence` describes.
pub fn evaluate(policy: &Policy, evidence: &Evidence, _now: i64) -> Decision {
    let deny = policy.default == DefaultAction::Deny;
    Decision {
        image: evidence.image.to_string(),
        digest: evidence.digest.clone(),
        verdict: if deny { Verdict::Deny } else { Verdict::Allow },
        rule: None,
        mode: Mode::Enforce,
        requirements: Vec::new(),
        warnings: Vec::new(),
        reason: deny.then_some(Reason::NoRuleMatched),
    }
}
