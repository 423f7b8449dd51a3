//! sigstore policy-controller's `ClusterImagePolicy` (`policy.sigstore.dev/v1alpha1` and
//! `v1beta1`), read as a hallmark/v1 policy so its users can switch: the document is rewritten
//! into a hallmark/v1 tree whose nodes keep the positions of the `ClusterImagePolicy` they
//! came from, then loaded like any hallmark/v1 file.
//!
//! - `spec.images[].glob` → the rule's `images` (`index.docker.io/` written as `docker.io/`, as
//!   hallmark names Docker Hub images);
//! - `spec.authorities[]` → `anyOf` (an image passes when one authority accepts it, as in
//!   policy-controller): `key.data` (inline PEM) and `key.kms` (a key URI) → `cosign: {keys}`;
//!   `keyless.identities` (`issuer`, `subject`, `issuerRegExp`, `subjectRegExp`) → `cosign:
//!   {keyless: {trustedRoot: trusted_root.json, identities}}` (policy-controller uses the Sigstore
//!   public-good root by default; hallmark needs it as a file next to the policy); `static:
//!   {action: pass|fail}` → `accept` / `reject`;
//! - `spec.mode: warn` → `mode: audit`; `enforce` → `enforce`.
//!
//! What hallmark cannot enforce the same way is refused by name, with its position: keys in
//! Kubernetes Secrets (`key.secretRef`), `trustRootRef`, `attestations`, `policy` (CUE/Rego),
//! `source` (signatures in another repository), `keyless.url` without identities.

use crate::DiagnosticKind;
use crate::parse::{Ctx, Node, Pos, V};

/// True when `root` is a `ClusterImagePolicy`.
pub(crate) fn is_cluster_image_policy(root: &Node) -> bool {
    root.get("apiVersion")
        .and_then(Node::as_str)
        .is_some_and(|v| v.starts_with("policy.sigstore.dev/"))
        && root.get("kind").and_then(Node::as_str) == Some("ClusterImagePolicy")
}

fn node(v: V, pos: Pos) -> Node {
    Node {
        v,
        pos,
        end_line: pos.line,
    }
}

fn string(s: &str, pos: Pos) -> Node {
    node(V::Str(s.to_owned()), pos)
}

fn map(entries: Vec<(&str, Node)>, pos: Pos) -> Node {
    node(
        V::Map(
            entries
                .into_iter()
                .map(|(k, v)| (string(k, v.pos), v))
                .collect(),
        ),
        pos,
    )
}

/// Unsupported fields, each an error naming what to do instead.
const UNSUPPORTED: [(&str, &str); 5] = [
    (
        "policy",
        "CUE/Rego policies over attestations; use an `attestation` requirement with a CEL condition",
    ),
    ("attestations", "use an `attestation` requirement"),
    (
        "source",
        "signatures stored in another repository are not read; copy them next to the image",
    ),
    (
        "secretRef",
        "a key in a Kubernetes Secret; put the PEM in `data` or give a key file or KMS URI",
    ),
    (
        "trustRootRef",
        "a TrustRoot resource; give a Sigstore trusted_root.json next to the policy",
    ),
];

/// Refuse the unsupported fields of `n` (with what to do instead) and any field not in
/// `known`.
fn refuse_unsupported(ctx: &mut Ctx<'_>, n: &Node, at: &str, known: &[&str]) {
    let V::Map(entries) = &n.v else {
        ctx.error(
            n.pos,
            DiagnosticKind::InvalidType,
            format!(
                "ClusterImagePolicy {at}: expected a mapping, found {}",
                n.type_name()
            ),
        );
        return;
    };
    for (k, _) in entries {
        let key = k.as_str().unwrap_or_default();
        if let Some((_, instead)) = UNSUPPORTED.iter().find(|(u, _)| *u == key) {
            ctx.error(
                k.pos,
                DiagnosticKind::InvalidValue,
                format!("ClusterImagePolicy {at}.{key} is not supported: {instead}"),
            );
        } else if !known.contains(&key) {
            ctx.error(
                k.pos,
                DiagnosticKind::UnknownKey,
                format!(
                    "ClusterImagePolicy {at}.{key} is not supported (expected one of {})",
                    known.join(", ")
                ),
            );
        }
    }
}

/// The hallmark/v1 tree of a `ClusterImagePolicy`; errors go to `ctx`.
pub(crate) fn to_hallmark_tree(ctx: &mut Ctx<'_>, root: &Node) -> Option<Node> {
    let name = root
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str)
        .unwrap_or("cluster-image-policy")
        .to_owned();
    let Some(spec) = root.get("spec") else {
        ctx.error(
            root.pos,
            DiagnosticKind::MissingField,
            "ClusterImagePolicy: expected spec, found none",
        );
        return None;
    };
    refuse_unsupported(ctx, spec, "spec", &["images", "authorities", "mode"]);
    let mut images = Vec::new();
    match spec.get("images").map(|n| &n.v) {
        Some(V::Seq(items)) if !items.is_empty() => {
            for item in items {
                match item.get("glob").and_then(Node::as_str) {
                    Some(g) => {
                        let g = g
                            .strip_prefix("index.docker.io/")
                            .map_or_else(|| g.to_owned(), |rest| format!("docker.io/{rest}"));
                        images.push(string(&g, item.pos));
                    }
                    None => ctx.error(
                        item.pos,
                        DiagnosticKind::MissingField,
                        "ClusterImagePolicy spec.images[]: expected glob",
                    ),
                }
            }
        }
        _ => ctx.error(
            spec.pos,
            DiagnosticKind::MissingField,
            "ClusterImagePolicy spec.images: expected a non-empty list of {glob: ...}",
        ),
    }
    let mut any_of = Vec::new();
    match spec.get("authorities").map(|n| &n.v) {
        Some(V::Seq(items)) if !items.is_empty() => {
            for a in items {
                if let Some(r) = authority(ctx, a) {
                    any_of.push(r);
                }
            }
        }
        _ => ctx.error(
            spec.pos,
            DiagnosticKind::MissingField,
            "ClusterImagePolicy spec.authorities: expected a non-empty list",
        ),
    }
    let mode = match spec.get("mode").and_then(Node::as_str) {
        None | Some("enforce") => "enforce",
        Some("warn") => "audit",
        Some(other) => {
            let pos = spec.get("mode").map_or(spec.pos, |n| n.pos);
            ctx.error(
                pos,
                DiagnosticKind::InvalidValue,
                format!("ClusterImagePolicy spec.mode: expected enforce or warn, found {other:?}"),
            );
            "enforce"
        }
    };
    if images.is_empty() || any_of.is_empty() {
        return None;
    }
    let pos = spec.pos;
    let rule = map(
        vec![
            ("name", string(&name, root.pos)),
            ("images", node(V::Seq(images), pos)),
            ("mode", string(mode, pos)),
            ("anyOf", node(V::Seq(any_of), pos)),
        ],
        pos,
    );
    // Images no ClusterImagePolicy matches are admitted by policy-controller unless its
    // no-match policy says otherwise: `default: allow`.
    Some(map(
        vec![
            ("apiVersion", string(crate::file::API_VERSION, root.pos)),
            ("kind", string(crate::file::KIND, root.pos)),
            ("default", string("allow", root.pos)),
            ("rules", node(V::Seq(vec![rule]), pos)),
        ],
        root.pos,
    ))
}

/// One authority as a hallmark requirement.
fn authority(ctx: &mut Ctx<'_>, a: &Node) -> Option<Node> {
    // `ctlog` names the Rekor instance; hallmark takes the logs from the trusted root.
    refuse_unsupported(
        ctx,
        a,
        "authorities[]",
        &["name", "key", "keyless", "static", "ctlog"],
    );
    if let Some(key) = a.get("key") {
        refuse_unsupported(
            ctx,
            key,
            "authorities[].key",
            &["data", "kms", "hashAlgorithm"],
        );
        if let Some(h) = key.get("hashAlgorithm")
            && h.as_str() != Some("sha256")
        {
            ctx.error(
                h.pos,
                DiagnosticKind::InvalidValue,
                "ClusterImagePolicy authorities[].key.hashAlgorithm: only sha256 is supported",
            );
        }
        let k = key
            .get("data")
            .or_else(|| key.get("kms"))
            .and_then(Node::as_str);
        let Some(k) = k else {
            if key.get("secretRef").is_none() {
                ctx.error(
                    key.pos,
                    DiagnosticKind::MissingField,
                    "ClusterImagePolicy authorities[].key: expected data (PEM) or kms (a key URI)",
                );
            }
            return None;
        };
        let keys = node(V::Seq(vec![string(k, key.pos)]), key.pos);
        return Some(map(
            vec![("cosign", map(vec![("keys", keys)], key.pos))],
            a.pos,
        ));
    }
    if let Some(keyless) = a.get("keyless") {
        // `url` names the Fulcio instance; hallmark takes its CA from the trusted root.
        refuse_unsupported(
            ctx,
            keyless,
            "authorities[].keyless",
            &["url", "identities", "ca-cert", "insecureIgnoreSCT"],
        );
        if let Some((k, _)) = keyless.entry("ca-cert") {
            ctx.error(
                k.pos,
                DiagnosticKind::InvalidValue,
                "ClusterImagePolicy authorities[].keyless.ca-cert is not supported: use a `certificates` requirement with the CA as roots",
            );
        }
        let identities = match keyless.get("identities").map(|n| &n.v) {
            Some(V::Seq(ids)) if !ids.is_empty() => ids
                .iter()
                .map(|id| {
                    let fields = ["issuer", "subject", "issuerRegExp", "subjectRegExp"]
                        .into_iter()
                        .filter_map(|f| id.get(f).map(|v| (f, v.clone())))
                        .collect();
                    map(fields, id.pos)
                })
                .collect(),
            _ => {
                ctx.error(
                    keyless.pos,
                    DiagnosticKind::MissingField,
                    "ClusterImagePolicy authorities[].keyless: expected identities (issuer and subject, or their RegExp forms)",
                );
                return None;
            }
        };
        let keyless = map(
            vec![
                ("trustedRoot", string("trusted_root.json", keyless.pos)),
                ("identities", node(V::Seq(identities), keyless.pos)),
            ],
            keyless.pos,
        );
        return Some(map(
            vec![("cosign", map(vec![("keyless", keyless)], a.pos))],
            a.pos,
        ));
    }
    if let Some(s) = a.get("static") {
        return match s.get("action").and_then(Node::as_str) {
            Some("pass") => Some(map(vec![("accept", node(V::Null, s.pos))], a.pos)),
            Some("fail") => Some(map(
                vec![(
                    "reject",
                    map(
                        vec![(
                            "message",
                            string("rejected by a static ClusterImagePolicy authority", s.pos),
                        )],
                        s.pos,
                    ),
                )],
                a.pos,
            )),
            _ => {
                ctx.error(
                    s.pos,
                    DiagnosticKind::InvalidValue,
                    "ClusterImagePolicy authorities[].static: expected action pass or fail",
                );
                None
            }
        };
    }
    ctx.error(
        a.pos,
        DiagnosticKind::MissingField,
        "ClusterImagePolicy authorities[]: expected key, keyless or static",
    );
    None
}
