//! `docker trust inspect` as a pure function of verified trust data (docker/cli
//! `cmd/docker-trust/trust/{common,inspect,inspect_pretty,formatter}.go`): the signed tags
//! released in `targets` or `targets/releases` with the other roles that signed the same
//! name and hash, the signers (delegations other than `releases`) and the administrative
//! keys, as docker's indented JSON or its `--pretty` tables.

use crate::verify::{RELEASES_ROLE, TARGETS_ROLE, VerifiedRepo};
use serde::Serialize;
use std::collections::BTreeMap;

/// How docker names a signer made of the `targets` or `targets/releases` role.
pub const REPO_ADMIN: &str = "Repo Admin";

/// One signed tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignedTag {
    /// The tag.
    pub signed_tag: String,
    /// Hex SHA-256 of the manifest.
    pub digest: String,
    /// Signer names (`Repo Admin` when only an administrative role signed).
    pub signers: Vec<String>,
}

/// A key, by ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyId {
    /// The key ID.
    #[serde(rename = "ID")]
    pub id: String,
}

/// A signer or administrative role with its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignerKeys {
    /// `alice`, `Root` or `Repository`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Its keys (omitted when empty, as Go's `omitempty`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyId>,
}

/// What `docker trust inspect` reports for one `REPO[:TAG]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrustInfo {
    /// The name as given on the command line.
    pub name: String,
    /// Signed tags, naturally sorted by tag.
    pub signed_tags: Vec<SignedTag>,
    /// Signers, by name descending (docker's order).
    pub signers: Vec<SignerKeys>,
    /// `Root` then `Repository`.
    pub administrative_keys: Vec<SignerKeys>,
    /// Rows before docker's JSON post-processing: signers empty when only an administrative
    /// role signed (the pretty table prints `(Repo Admin)` for those).
    #[serde(skip)]
    pub raw_signers: Vec<Vec<String>>,
    /// Key IDs by signer name, for the pretty table.
    #[serde(skip)]
    pub signer_keys: BTreeMap<String, Vec<String>>,
}

fn is_released(role: &str) -> bool {
    role == TARGETS_ROLE || role == RELEASES_ROLE
}

/// docker's `notaryRoleToSigner`.
pub fn signer_name(role: &str) -> String {
    if is_released(role) {
        REPO_ADMIN.to_string()
    } else {
        role.strip_prefix("targets/").unwrap_or(role).to_string()
    }
}

/// Roles in the order notary's target walk visits them: `targets`, then delegations breadth
/// first in the order each parent lists them. Only verified roles are visited.
pub fn walk_order(repo: &VerifiedRepo) -> Vec<String> {
    let mut out = vec![TARGETS_ROLE.to_string()];
    let mut i = 0;
    while i < out.len() {
        let parent = if out[i] == TARGETS_ROLE {
            Some(&repo.targets)
        } else {
            repo.delegations.get(&out[i])
        };
        if let Some(p) = parent {
            for r in &p.signed.delegations.roles {
                if repo.delegations.contains_key(&r.name) && !out.contains(&r.name) {
                    out.push(r.name.clone());
                }
            }
        }
        i += 1;
    }
    out
}

/// Every delegated role listed anywhere (published or not), parents first, with its key IDs.
pub fn delegation_roles(repo: &VerifiedRepo) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut parents = vec![&repo.targets];
    let mut i = 0;
    while i < parents.len() {
        for r in &parents[i].signed.delegations.roles {
            if out.iter().any(|(n, _)| n == &r.name) {
                continue;
            }
            out.push((r.name.clone(), r.key_ids.clone()));
            if let Some(child) = repo.delegations.get(&r.name) {
                parents.push(child);
            }
        }
        i += 1;
    }
    out
}

/// Go's `sortorder.NaturalLess`: runs of digits compare by value.
pub fn natural_less(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (ca, cb) = (a[i], b[j]);
        if ca.is_ascii_digit() && cb.is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i] == b'0' {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j] == b'0' {
                j += 1;
            }
            let ni = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let nj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let (da, db) = (&a[ni..i], &b[nj..j]);
            if da.len() != db.len() {
                return da.len() < db.len();
            }
            if da != db {
                return da < db;
            }
            if i - si != j - sj {
                return i - si < j - sj;
            }
        } else {
            if ca != cb {
                return ca < cb;
            }
            i += 1;
            j += 1;
        }
    }
    a.len() - i < b.len() - j
}

fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if natural_less(a, b) {
        std::cmp::Ordering::Less
    } else if natural_less(b, a) {
        std::cmp::Ordering::Greater
    } else {
        std::cmp::Ordering::Equal
    }
}

/// Builds docker's inspect model for `name` (as given), restricted to `tag` when given.
pub fn trust_info(repo: &VerifiedRepo, name: &str, tag: Option<&str>) -> TrustInfo {
    // notary's GetAllTargetMetadataByName: (role, target name, sha256) in walk order.
    let mut all: Vec<(String, String, String)> = Vec::new();
    for role in walk_order(repo) {
        let Some(targets) = repo.role_targets(&role) else {
            continue;
        };
        for (t, meta) in targets {
            if tag.is_some_and(|tag| tag != t) {
                continue;
            }
            let digest = meta
                .hashes
                .get("sha256")
                .map(hex::encode)
                .unwrap_or_default();
            all.push((role.clone(), t.clone(), digest));
        }
    }
    let mut released: Vec<((String, String), Vec<String>)> = Vec::new();
    for (role, t, d) in &all {
        if is_released(role) && !released.iter().any(|(k, _)| k.0 == *t && k.1 == *d) {
            released.push(((t.clone(), d.clone()), Vec::new()));
        }
    }
    for (role, t, d) in &all {
        if is_released(role) {
            continue;
        }
        if let Some((_, signers)) = released.iter_mut().find(|(k, _)| k.0 == *t && k.1 == *d) {
            signers.push(signer_name(role));
        }
    }
    released.sort_by(|a, b| natural_cmp(&a.0.0, &b.0.0));
    let raw_signers: Vec<Vec<String>> = released.iter().map(|(_, s)| s.clone()).collect();
    let signed_tags = released
        .into_iter()
        .map(|((t, d), signers)| SignedTag {
            signed_tag: t,
            digest: d,
            signers: if signers.is_empty() {
                vec![REPO_ADMIN.to_string()]
            } else {
                signers
            },
        })
        .collect();

    let mut signer_keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (role, ids) in delegation_roles(repo) {
        if role == RELEASES_ROLE {
            continue;
        }
        signer_keys.insert(signer_name(&role), ids);
    }
    let mut signers: Vec<SignerKeys> = signer_keys
        .iter()
        .map(|(n, ids)| SignerKeys {
            name: n.clone(),
            keys: ids.iter().map(|id| KeyId { id: id.clone() }).collect(),
        })
        .collect();
    signers.sort_by(|a, b| b.name.cmp(&a.name));

    let admin = |role: &str, display: &str| SignerKeys {
        name: display.to_string(),
        keys: repo
            .root
            .signed
            .roles
            .get(role)
            .map(|r| {
                r.key_ids
                    .iter()
                    .map(|id| KeyId { id: id.clone() })
                    .collect()
            })
            .unwrap_or_default(),
    };
    TrustInfo {
        name: name.to_string(),
        signed_tags,
        signers,
        administrative_keys: vec![admin("root", "Root"), admin(TARGETS_ROLE, "Repository")],
        raw_signers,
        signer_keys,
    }
}

/// docker's JSON output for several repositories: `json.Indent` of the array with four
/// spaces, then a newline (`[]` when empty).
pub fn render_json(infos: &[TrustInfo]) -> String {
    if infos.is_empty() {
        return "[]\n".to_string();
    }
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    // Plain strings and arrays: serialisation cannot fail.
    let _ = infos.serialize(&mut ser);
    let mut text = String::from_utf8(out).unwrap_or_default();
    text.push('\n');
    text
}

/// Go's `text/tabwriter` as docker's formatter configures it (min width 10, padding 3,
/// padded with spaces); the last cell of a line is not padded.
pub fn tabwrite(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                widths[i] = widths[i].max((cell.chars().count() + 3).max(10));
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// docker's `TruncateID`: the first 12 characters.
fn truncate_id(id: &str) -> &str {
    let id = id.split_once(':').map_or(id, |(_, rest)| rest);
    id.get(..12).unwrap_or(id)
}

/// docker's `--pretty` output for one repository.
pub fn render_pretty(info: &TrustInfo) -> String {
    let name = &info.name;
    let mut out = String::new();
    if info.signed_tags.is_empty() {
        out.push_str(&format!("\nNo signatures for {name}\n\n"));
    } else {
        out.push_str(&format!("\nSignatures for {name}\n\n"));
        let mut rows = vec![vec![
            "SIGNED TAG".to_string(),
            "DIGEST".to_string(),
            "SIGNERS".to_string(),
        ]];
        for (t, raw) in info.signed_tags.iter().zip(&info.raw_signers) {
            let mut signers = raw.clone();
            if signers.is_empty() {
                signers.push(format!("({REPO_ADMIN})"));
            }
            signers.sort();
            rows.push(vec![
                t.signed_tag.clone(),
                t.digest.clone(),
                signers.join(", "),
            ]);
        }
        out.push_str(&tabwrite(&rows));
    }
    if !info.signer_keys.is_empty() {
        out.push_str(&format!("\nList of signers and their keys for {name}\n\n"));
        let mut names: Vec<&String> = info.signer_keys.keys().collect();
        names.sort_by(|a, b| natural_cmp(a, b));
        let mut rows = vec![vec!["SIGNER".to_string(), "KEYS".to_string()]];
        for n in names {
            let mut ids = info.signer_keys[n].clone();
            ids.sort();
            let ids: Vec<&str> = ids.iter().map(|i| truncate_id(i)).collect();
            rows.push(vec![n.clone(), ids.join(", ")]);
        }
        out.push_str(&tabwrite(&rows));
    }
    out.push_str(&format!("\nAdministrative keys for {name}\n\n"));
    for (label, admin) in [("Repository Key", "Repository"), ("Root Key", "Root")] {
        if let Some(a) = info.administrative_keys.iter().find(|a| a.name == admin) {
            let mut ids: Vec<&str> = a.keys.iter().map(|k| k.id.as_str()).collect();
            ids.sort();
            out.push_str(&format!("  {label}:\t{}\n", ids.join(", ")));
        }
    }
    out
}

/// The threshold of a delegated role, from its parent's listing.
pub fn delegation_threshold(repo: &VerifiedRepo, role: &str) -> Option<u64> {
    std::iter::once(&repo.targets)
        .chain(repo.delegations.values())
        .flat_map(|p| &p.signed.delegations.roles)
        .find(|r| r.name == role)
        .map(|r| r.threshold)
}
