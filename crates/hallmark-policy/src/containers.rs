//! containers-policy.json (as skopeo 1.18 / containers/image v5.34 reads it) → [`Policy`],
//! and [`to_hallmark_yaml`] for `hallmark policy convert`.

use crate::model::Policy;
use crate::parse::{Ctx, DiagnosticKind, Node};

pub(crate) fn from_tree(ctx: &mut Ctx<'_>, root: &Node) -> Option<Policy> {
    ctx.error(
        root.pos,
        DiagnosticKind::Unsupported,
        "containers-policy.json: not yet supported",
    );
    None
}

/// The policy as a hallmark/v1 YAML document.
pub fn to_hallmark_yaml(_policy: &Policy) -> String {
    String::new()
}
