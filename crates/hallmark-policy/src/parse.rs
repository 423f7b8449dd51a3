//! Loading a policy: format detection, a YAML 1.2 / JSON tree with positions, the hallmark/v1
//! file model, and every load-time check, each reported with file, line and column.
//!
//! All diagnostics are collected: a broken rule or requirement does not hide the next one
//! (within one requirement, the first structural error is reported).

use crate::condition::{Condition, ConditionErrorKind};
use crate::file::{
    self, AttestationFile, CosignFile, DctFile, DefaultFile, FormatFile, IdentityFile, ModeFile,
    NotationFile, PolicyFile, RequirementFile, RuleFile, SignedIdentityFile, TlogFile,
};
use crate::identity;
use crate::model::{
    AttestationRequirement, CertificateTrust, CosignRequirement, DctRequirement, DefaultAction,
    FailurePolicy, FileOrData, IdentityMatcher, KeySource, LogTrust, Mode, NotationRequirement,
    NotationTrust, Origin, Policy, Requirement, Rule, SignatureFormat, SignedIdentity, StringMatch,
    TrustSource,
};
use crate::pattern::ImagePattern;
use saphyr_parser::{Event, Parser, ScalarStyle};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A policy that does not load: every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// The problems, in file order of discovery.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file (as given to [`Policy::parse`]).
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// What kind of problem.
    pub kind: DiagnosticKind,
    /// What is wrong: names what was expected and what was found.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// Kinds of [`Diagnostic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// Malformed YAML or JSON (or not UTF-8).
    Syntax,
    /// A key given twice in one mapping.
    DuplicateKey,
    /// A key the format does not have.
    UnknownKey,
    /// A required field is absent.
    MissingField,
    /// A value of the wrong type.
    InvalidType,
    /// A value that is not allowed.
    InvalidValue,
    /// `apiVersion` is not `hallmark/v1`.
    ApiVersion,
    /// `kind` is not `Policy`.
    Kind,
    /// Two rules with one name.
    DuplicateRule,
    /// A threshold of 0 or above the number of possible signers.
    Threshold,
    /// `anyOf: []`.
    EmptyAnyOf,
    /// A rule with neither `require` nor `anyOf`.
    NoRequirements,
    /// A CEL condition that does not parse.
    ConditionSyntax,
    /// A CEL condition naming an undeclared variable.
    UndeclaredVariable,
    /// A CEL condition calling an unknown function.
    UnknownFunction,
    /// A CEL condition naming an unknown type.
    UnknownType,
    /// An image pattern that is not a valid glob.
    InvalidPattern,
    /// Two rules with patterns of equal specificity matching a common image.
    Overlap,
    /// A regular expression that does not compile.
    InvalidRegex,
    /// A docker reference (signedIdentity) that does not parse.
    InvalidReference,
    /// Something valid in the source format that hallmark does not support
    /// (`signedBy` in containers-policy.json).
    Unsupported,
    /// A containers-policy.json scope its transport refuses.
    InvalidScope,
}

// ---------------------------------------------------------------------------------------
// The tree with positions.

/// A 1-based position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum V {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML/JSON node with its position.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) v: V,
    pub(crate) pos: Pos,
    /// For scalars: the last line of the scalar in the file.
    pub(crate) end_line: usize,
}

impl Node {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.v {
            V::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    pub(crate) fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.v {
            V::Map(m) => m
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    pub(crate) fn type_name(&self) -> &'static str {
        match &self.v {
            V::Null => "null",
            V::Bool(_) => "a boolean",
            V::Int(_) | V::Float(_) => "a number",
            V::Str(_) => "a string",
            V::Seq(_) => "a list",
            V::Map(_) => "a mapping",
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.v {
            V::Null => J::Null,
            V::Bool(b) => J::Bool(*b),
            V::Int(i) => J::from(*i),
            V::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            V::Str(s) => J::String(s.clone()),
            V::Seq(s) => J::Array(s.iter().map(Node::to_json).collect()),
            V::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Limits that keep hostile files cheap (alias bombs, deep nesting).
const MAX_NODES: usize = 200_000;
const MAX_DEPTH: usize = 64;

enum Frame {
    Seq {
        items: Vec<Node>,
        pos: Pos,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        pos: Pos,
        anchor: usize,
    },
}

fn count_nodes(n: &Node) -> usize {
    match &n.v {
        V::Seq(s) => 1 + s.iter().map(count_nodes).sum::<usize>(),
        V::Map(m) => {
            1 + m
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(s: &str) -> V {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return V::Null,
        "true" | "True" | "TRUE" => return V::Bool(true),
        "false" | "False" | "FALSE" => return V::Bool(false),
        _ => {}
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return V::Int(i);
        }
        if let Ok(f) = s.parse::<f64>() {
            return V::Float(f);
        }
    }
    if let Some(o) = s.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(o, 8)
    {
        return V::Int(i);
    }
    if let Some(h) = s.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(h, 16)
    {
        return V::Int(i);
    }
    let is_float = {
        let m = digits;
        let (mant, exp) = match m.find(['e', 'E']) {
            Some(i) => (&m[..i], Some(&m[i + 1..])),
            None => (m, None),
        };
        let mant_ok = match mant.split_once('.') {
            Some((a, b)) => {
                (!a.is_empty() || !b.is_empty())
                    && a.bytes().all(|x| x.is_ascii_digit())
                    && b.bytes().all(|x| x.is_ascii_digit())
            }
            None => !mant.is_empty() && mant.bytes().all(|x| x.is_ascii_digit()),
        };
        let exp_ok = exp.is_none_or(|e| {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && e.bytes().all(|x| x.is_ascii_digit())
        });
        mant_ok && exp_ok && (mant.contains('.') || exp.is_some())
    };
    if is_float && let Ok(f) = s.parse::<f64>() {
        return V::Float(f);
    }
    match digits {
        ".inf" | ".Inf" | ".INF" => V::Float(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }),
        ".nan" | ".NaN" | ".NAN" if digits.len() == s.len() => V::Float(f64::NAN),
        _ => V::Str(s.to_string()),
    }
}

/// Parse YAML 1.2 (JSON included) into a tree. Errors: position and message.
pub(crate) fn load_tree(text: &str) -> Result<Node, (Pos, DiagnosticKind, String)> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: BTreeMap<usize, Node> = BTreeMap::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    let mut nodes = 0usize;
    let syntax = |pos: Pos, msg: String| (pos, DiagnosticKind::Syntax, msg);
    while let Some(ev) = parser.next_event() {
        let (event, span) = ev.map_err(|e| {
            let m = e.marker();
            syntax(
                Pos {
                    line: m.line(),
                    column: m.col() + 1,
                },
                format!("malformed YAML/JSON: {}", e.info()),
            )
        })?;
        let pos = Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        };
        let node = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => {
                continue;
            }
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(syntax(
                        pos,
                        "more than one YAML document: a policy file holds one".to_string(),
                    ));
                }
                continue;
            }
            Event::Alias(id) => {
                let n = anchors.get(&id).cloned().ok_or_else(|| {
                    syntax(
                        pos,
                        "an alias names an anchor that is not defined".to_string(),
                    )
                })?;
                nodes += count_nodes(&n);
                n
            }
            Event::Scalar(value, style, anchor, tag) => {
                let is_str_tag = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let v = if style != ScalarStyle::Plain || is_str_tag {
                    V::Str(value.to_string())
                } else {
                    resolve_plain(&value)
                };
                let n = Node {
                    v,
                    pos,
                    end_line: span.end.line(),
                };
                if anchor > 0 {
                    anchors.insert(anchor, n.clone());
                }
                nodes += 1;
                n
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(syntax(
                        pos,
                        format!("nesting deeper than {MAX_DEPTH} levels"),
                    ));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        items: Vec::new(),
                        pos,
                        anchor,
                    }
                } else {
                    Frame::Map {
                        entries: Vec::new(),
                        key: None,
                        pos,
                        anchor,
                    }
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (n, anchor) = match stack.pop() {
                    Some(Frame::Seq { items, pos, anchor }) => (
                        Node {
                            v: V::Seq(items),
                            pos,
                            end_line: pos.line,
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        entries,
                        pos,
                        anchor,
                        ..
                    }) => (
                        Node {
                            v: V::Map(entries),
                            pos,
                            end_line: pos.line,
                        },
                        anchor,
                    ),
                    None => return Err(syntax(pos, "unbalanced collection end".to_string())),
                };
                if anchor > 0 {
                    anchors.insert(anchor, n.clone());
                }
                nodes += 1;
                n
            }
        };
        if nodes > MAX_NODES {
            return Err(syntax(
                pos,
                format!("more than {MAX_NODES} nodes (aliases expanded)"),
            ));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    let Some(name) = scalar_key(&node) else {
                        return Err((
                            node.pos,
                            DiagnosticKind::InvalidType,
                            format!("a mapping key must be a string, found {}", node.type_name()),
                        ));
                    };
                    if let Some((first, _)) =
                        entries.iter().find(|(k, _)| k.as_str() == Some(&name))
                    {
                        return Err((
                            node.pos,
                            DiagnosticKind::DuplicateKey,
                            format!(
                                "duplicate key `{name}` (first given at line {}, column {})",
                                first.pos.line, first.pos.column
                            ),
                        ));
                    }
                    *key = Some(Node {
                        v: V::Str(name),
                        ..node
                    });
                }
                Some(k) => entries.push((k, node)),
            },
        }
    }
    Ok(root.unwrap_or(Node {
        v: V::Null,
        pos: Pos { line: 1, column: 1 },
        end_line: 1,
    }))
}

fn scalar_key(n: &Node) -> Option<String> {
    Some(match &n.v {
        V::Str(s) => s.clone(),
        V::Null => "null".to_string(),
        V::Bool(b) => b.to_string(),
        V::Int(i) => i.to_string(),
        V::Float(f) => f.to_string(),
        V::Seq(_) | V::Map(_) => return None,
    })
}

// ---------------------------------------------------------------------------------------
// Diagnostics collection.

pub(crate) struct Ctx<'a> {
    pub(crate) file: &'a Path,
    pub(crate) text: &'a str,
    pub(crate) diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    pub(crate) fn error(&mut self, pos: Pos, kind: DiagnosticKind, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            file: self.file.to_path_buf(),
            line: pos.line,
            column: pos.column,
            kind,
            message: message.into(),
        });
    }

    /// Deserialise `node` into `T`; on failure, one diagnostic at the failing field.
    pub(crate) fn deserialize<T: DeserializeOwned>(&mut self, node: &Node) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(node.to_json()) {
            Ok(t) => Some(t),
            Err(e) => {
                let mut at = node;
                let mut key_pos = None;
                for seg in e.path().iter() {
                    let next = match seg {
                        serde_path_to_error::Segment::Seq { index } => match &at.v {
                            V::Seq(s) => s.get(*index),
                            _ => None,
                        },
                        serde_path_to_error::Segment::Map { key }
                        | serde_path_to_error::Segment::Enum { variant: key } => {
                            at.entry(key).map(|(k, v)| {
                                key_pos = Some(k.pos);
                                v
                            })
                        }
                        _ => None,
                    };
                    match next {
                        Some(n) => at = n,
                        None => break,
                    }
                }
                let inner = e.into_inner().to_string();
                let kind = if inner.starts_with("unknown field") {
                    DiagnosticKind::UnknownKey
                } else if inner.starts_with("missing field") {
                    DiagnosticKind::MissingField
                } else if inner.starts_with("invalid type") || inner.starts_with("invalid length") {
                    DiagnosticKind::InvalidType
                } else {
                    DiagnosticKind::InvalidValue
                };
                let mut pos = at.pos;
                if kind == DiagnosticKind::UnknownKey {
                    // Point at the unknown key itself.
                    if let Some(name) = inner.split('`').nth(1) {
                        if let Some((k, _)) = at.entry(name) {
                            pos = k.pos;
                        } else if let Some(kp) = key_pos {
                            pos = kp;
                        }
                    }
                }
                self.error(pos, kind, inner);
                None
            }
        }
    }
}

/// First non-blank character `{`: strict JSON is required.
fn looks_like_json(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('{')
}

impl Policy {
    /// Load a policy from its bytes; `path` is the file's path, used in diagnostics and to
    /// resolve relative paths of hallmark/v1 files against its directory (no file-system
    /// access). hallmark/v1 (YAML or JSON), containers-policy.json and sigstore
    /// policy-controller's ClusterImagePolicy are detected.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Policy, ParseError> {
        let mut ctx = Ctx {
            file: path,
            text: "",
            diags: Vec::new(),
        };
        let fail = |ctx: Ctx<'_>| ParseError {
            diagnostics: ctx.diags,
        };
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let before = &bytes[..e.valid_up_to()];
                let line = before.iter().filter(|b| **b == b'\n').count() + 1;
                let col_start = before
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1);
                let column = String::from_utf8_lossy(&before[col_start..])
                    .chars()
                    .count()
                    + 1;
                ctx.error(
                    Pos { line, column },
                    DiagnosticKind::Syntax,
                    "the file is not UTF-8",
                );
                return Err(fail(ctx));
            }
        };
        ctx.text = text;
        if looks_like_json(text)
            && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text)
        {
            ctx.error(
                Pos {
                    line: e.line().max(1),
                    column: e.column().max(1),
                },
                DiagnosticKind::Syntax,
                format!("malformed JSON: {e}"),
            );
            return Err(fail(ctx));
        }
        let root = match load_tree(text) {
            Ok(r) => r,
            Err((pos, kind, msg)) => {
                ctx.error(pos, kind, msg);
                return Err(fail(ctx));
            }
        };
        if !matches!(root.v, V::Map(_)) {
            ctx.error(
                root.pos,
                DiagnosticKind::InvalidType,
                format!(
                    "a policy is a mapping (apiVersion: hallmark/v1, or a containers-policy.json object), found {}",
                    root.type_name()
                ),
            );
            return Err(fail(ctx));
        }
        let containers = root.get("apiVersion").is_none()
            && (root
                .get("default")
                .is_some_and(|d| matches!(d.v, V::Seq(_)))
                || root.get("transports").is_some());
        let policy = if containers {
            crate::containers::from_tree(&mut ctx, &root)
        } else if crate::cip::is_cluster_image_policy(&root) {
            match crate::cip::to_hallmark_tree(&mut ctx, &root) {
                Some(tree) if ctx.diags.is_empty() => hallmark_policy(&mut ctx, &tree),
                _ => None,
            }
        } else {
            hallmark_policy(&mut ctx, &root)
        };
        match policy {
            Some(p) if ctx.diags.is_empty() => Ok(p),
            _ => {
                if ctx.diags.is_empty() {
                    ctx.error(
                        root.pos,
                        DiagnosticKind::InvalidValue,
                        "the policy does not load",
                    );
                }
                Err(fail(ctx))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// hallmark/v1.

/// Resolve a key string: inline PEM, a key URI, or a path (relative to `dir`).
pub(crate) fn key_source(s: &str, dir: Option<&Path>) -> KeySource {
    if s.trim_start().starts_with("-----BEGIN") {
        KeySource::Data(s.to_string())
    } else if s.contains("://") || s.starts_with("pkcs11:") {
        KeySource::Reference(s.to_string())
    } else {
        KeySource::Reference(resolve_path(s, dir).display().to_string())
    }
}

pub(crate) fn resolve_path(s: &str, dir: Option<&Path>) -> PathBuf {
    let p = Path::new(s);
    match dir {
        Some(d) if p.is_relative() => d.join(p),
        _ => p.to_path_buf(),
    }
}

fn file_or_data(s: &str, dir: Option<&Path>) -> FileOrData {
    if s.trim_start().starts_with("-----BEGIN") {
        FileOrData::Data(s.to_string())
    } else {
        FileOrData::File(resolve_path(s, dir))
    }
}

const REQUIREMENT_KINDS: &str = "cosign, dct, notation, attestation, tlog, reject, accept";

fn hallmark_policy(ctx: &mut Ctx<'_>, root: &Node) -> Option<Policy> {
    let top: PolicyFile<serde_json::Value> = ctx.deserialize(root)?;
    if top.api_version != file::API_VERSION {
        let pos = root.get("apiVersion").map_or(root.pos, |n| n.pos);
        ctx.error(
            pos,
            DiagnosticKind::ApiVersion,
            format!(
                "apiVersion is {:?}, expected {:?}",
                top.api_version,
                file::API_VERSION
            ),
        );
    }
    if top.kind != file::KIND {
        let pos = root.get("kind").map_or(root.pos, |n| n.pos);
        ctx.error(
            pos,
            DiagnosticKind::Kind,
            format!("kind is {:?}, expected {:?}", top.kind, file::KIND),
        );
    }
    let dir = ctx.file.parent();
    let dir = dir.filter(|d| !d.as_os_str().is_empty());
    let rule_nodes: Vec<&Node> = match root.get("rules").map(|n| &n.v) {
        Some(V::Seq(s)) => s.iter().collect(),
        _ => Vec::new(),
    };
    let mut rules: Vec<(Rule, &Node)> = Vec::new();
    let mut names: BTreeMap<String, Pos> = BTreeMap::new();
    for rn in rule_nodes {
        if let Some(rule) = hallmark_rule(ctx, rn, dir) {
            let name_pos = rn.get("name").map_or(rn.pos, |n| n.pos);
            if let Some(first) = names.get(&rule.name) {
                ctx.error(
                    name_pos,
                    DiagnosticKind::DuplicateRule,
                    format!(
                        "duplicate rule name `{}` (first used at line {}, column {})",
                        rule.name, first.line, first.column
                    ),
                );
            } else {
                names.insert(rule.name.clone(), name_pos);
            }
            rules.push((rule, rn));
        }
    }
    check_overlaps(ctx, &rules);
    Some(Policy {
        default: match top.default {
            Some(DefaultFile::Allow) => DefaultAction::Allow,
            Some(DefaultFile::Deny) | None => DefaultAction::Deny,
        },
        rules: rules.into_iter().map(|(r, _)| r).collect(),
        origin: Origin::Hallmark,
        source: ctx.file.to_path_buf(),
    })
}

/// Position of the `index`th image pattern of a rule node.
pub(crate) fn image_pos(rule: &Node, index: usize) -> Pos {
    match rule.get("images").map(|n| &n.v) {
        Some(V::Seq(s)) => s.get(index).map_or(rule.pos, |n| n.pos),
        _ => rule.pos,
    }
}

/// Refuse two rules whose patterns have equal specificity and a common image (and whose
/// namespace sets intersect).
pub(crate) fn check_overlaps(ctx: &mut Ctx<'_>, rules: &[(Rule, &Node)]) {
    for (j, (b, bn)) in rules.iter().enumerate() {
        for (a, an) in &rules[..j] {
            let ns = match (&a.namespaces, &b.namespaces) {
                (Some(x), Some(y)) => x.iter().any(|n| y.contains(n)),
                _ => true,
            };
            if !ns {
                continue;
            }
            'pairs: for (pi, p) in a.images.iter().enumerate() {
                for (qi, q) in b.images.iter().enumerate() {
                    if p.specificity() != q.specificity() {
                        continue;
                    }
                    if let Some(example) = p.intersection(q) {
                        let ap = image_pos(an, pi);
                        ctx.error(
                            image_pos(bn, qi),
                            DiagnosticKind::Overlap,
                            format!(
                                "rules `{}` and `{}` overlap: their patterns `{p}` (line {}, column {}) and `{q}` have equal specificity ({}) and both match {example}; make one more specific",
                                a.name,
                                b.name,
                                ap.line,
                                ap.column,
                                p.specificity()
                            ),
                        );
                        break 'pairs;
                    }
                }
            }
        }
    }
}

fn hallmark_rule(ctx: &mut Ctx<'_>, rn: &Node, dir: Option<&Path>) -> Option<Rule> {
    let rf: RuleFile<serde_json::Value> = ctx.deserialize(rn)?;
    let mut images = Vec::new();
    if rf.images.is_empty() {
        let pos = rn.get("images").map_or(rn.pos, |n| n.pos);
        ctx.error(
            pos,
            DiagnosticKind::InvalidValue,
            format!(
                "rule `{}`: images is empty, expected at least one image pattern",
                rf.name
            ),
        );
    }
    for (i, text) in rf.images.iter().enumerate() {
        match ImagePattern::parse(text) {
            Ok(p) => images.push(p),
            Err(e) => ctx.error(
                image_pos(rn, i),
                DiagnosticKind::InvalidPattern,
                e.to_string(),
            ),
        }
    }
    if let Some(ns) = &rf.namespaces
        && ns.is_empty()
    {
        let pos = rn.get("namespaces").map_or(rn.pos, |n| n.pos);
        ctx.error(
            pos,
            DiagnosticKind::InvalidValue,
            format!(
                "rule `{}`: namespaces is empty and would match nothing; omit it to match any namespace",
                rf.name
            ),
        );
    }
    if rf.require.is_empty() && rf.any_of.is_none() {
        ctx.error(
            rn.pos,
            DiagnosticKind::NoRequirements,
            format!(
                "rule `{}` has neither require nor anyOf: say what images it covers need (accept: {{}} allows them)",
                rf.name
            ),
        );
    }
    if let Some(a) = &rf.any_of
        && a.is_empty()
    {
        let pos = rn.get("anyOf").map_or(rn.pos, |n| n.pos);
        ctx.error(
            pos,
            DiagnosticKind::EmptyAnyOf,
            format!(
                "rule `{}`: anyOf is empty, expected at least one alternative",
                rf.name
            ),
        );
    }
    // Requirements are numbered through the rule (require, then anyOf) from 1: `rule#n` names
    // one where it needs a name of its own.
    let mut number = 0;
    let mut group = |key: &str| -> Vec<Requirement> {
        let mut out = Vec::new();
        if let Some(V::Seq(items)) = rn.get(key).map(|n| &n.v) {
            for item in items {
                number += 1;
                let place = format!("{}#{number}", rf.name);
                if let Some(r) = requirement(ctx, item, dir, &place) {
                    out.push(r);
                }
            }
        }
        out
    };
    let require = group("require");
    let any_of = group("anyOf");
    Some(Rule {
        name: rf.name,
        images,
        namespaces: rf.namespaces,
        mode: match rf.mode {
            Some(ModeFile::Audit) => Mode::Audit,
            Some(ModeFile::Enforce) | None => Mode::Enforce,
        },
        failure_policy: rf.failure_policy.map(|f| match f {
            file::FailurePolicyFile::Fail => FailurePolicy::Fail,
            file::FailurePolicyFile::Ignore => FailurePolicy::Ignore,
        }),
        require,
        any_of,
    })
}

/// One requirement; `place` (`rule#n`) names it where it needs a name of its own.
fn requirement(
    ctx: &mut Ctx<'_>,
    item: &Node,
    dir: Option<&Path>,
    place: &str,
) -> Option<Requirement> {
    if let V::Map(m) = &item.v
        && m.len() != 1
    {
        let keys: Vec<&str> = m.iter().filter_map(|(k, _)| k.as_str()).collect();
        ctx.error(
            item.pos,
            DiagnosticKind::InvalidValue,
            format!(
                "a requirement has exactly one of {REQUIREMENT_KINDS}; found {}",
                if keys.is_empty() {
                    "none".to_string()
                } else {
                    keys.join(", ")
                }
            ),
        );
        return None;
    }
    let rf: RequirementFile = ctx.deserialize(item)?;
    let body = match &item.v {
        V::Map(m) => m.first().map_or(item, |(_, v)| v),
        _ => item,
    };
    Some(match rf {
        RequirementFile::Cosign(c) => Requirement::Cosign(cosign(ctx, body, c, dir)?),
        RequirementFile::Dct(d) => Requirement::Dct(dct(ctx, body, d)?),
        RequirementFile::Notation(n) => Requirement::Notation(notation(ctx, body, n, dir, place)?),
        RequirementFile::Attestation(a) => {
            Requirement::Attestation(attestation(ctx, body, a, dir)?)
        }
        RequirementFile::Tlog(t) => Requirement::Tlog(tlog(ctx, body, &t, dir)?),
        RequirementFile::Reject(r) => Requirement::Reject {
            message: r.and_then(|r| r.message),
        },
        RequirementFile::Accept(_) => Requirement::Accept,
    })
}

fn field_pos(body: &Node, key: &str) -> Pos {
    body.get(key).map_or(body.pos, |n| n.pos)
}

fn threshold(
    ctx: &mut Ctx<'_>,
    body: &Node,
    given: Option<u64>,
    max: usize,
    among: &str,
) -> Option<usize> {
    let t = given.unwrap_or(1);
    let pos = field_pos(body, "threshold");
    if t == 0 {
        ctx.error(
            pos,
            DiagnosticKind::Threshold,
            "threshold is 0, expected at least 1",
        );
        return None;
    }
    if t > max as u64 {
        ctx.error(
            pos,
            DiagnosticKind::Threshold,
            format!("threshold is {t}, but only {max} {among} can sign"),
        );
        return None;
    }
    usize::try_from(t).ok()
}

fn tlog(ctx: &mut Ctx<'_>, body: &Node, t: &TlogFile, dir: Option<&Path>) -> Option<LogTrust> {
    let keys = t.rekor_keys.clone().unwrap_or_default();
    if t.trusted_root.is_none() && keys.is_empty() {
        ctx.error(
            body.pos,
            DiagnosticKind::MissingField,
            "tlog needs trustedRoot or a non-empty rekorKeys list, found neither",
        );
        return None;
    }
    Some(LogTrust {
        trusted_root: t.trusted_root.as_deref().map(|p| resolve_path(p, dir)),
        rekor_keys: keys.iter().map(|k| key_source(k, dir)).collect(),
        witness_policy: t.witness_policy.as_deref().map(|p| resolve_path(p, dir)),
    })
}

fn string_match(
    ctx: &mut Ctx<'_>,
    body: &Node,
    exact: &Option<String>,
    regexp: &Option<String>,
    name: &str,
    required: bool,
) -> Result<Option<StringMatch>, ()> {
    let re_name = format!("{name}RegExp");
    match (exact, regexp) {
        (Some(_), Some(_)) => {
            ctx.error(
                field_pos(body, &re_name),
                DiagnosticKind::InvalidValue,
                format!("give {name} or {re_name}, not both"),
            );
            Err(())
        }
        (Some(e), None) => Ok(Some(StringMatch::Exact(e.clone()))),
        (None, Some(r)) => match regex::Regex::new(r) {
            Ok(re) => Ok(Some(StringMatch::Regex(re))),
            Err(e) => {
                ctx.error(
                    field_pos(body, &re_name),
                    DiagnosticKind::InvalidRegex,
                    format!("{re_name} {r:?} does not compile: {e}"),
                );
                Err(())
            }
        },
        (None, None) if required => {
            ctx.error(
                body.pos,
                DiagnosticKind::MissingField,
                format!("an identity needs {name} or {re_name}, found neither"),
            );
            Err(())
        }
        (None, None) => Ok(None),
    }
}

fn identities(
    ctx: &mut Ctx<'_>,
    body: &Node,
    list: &[IdentityFile],
    issuer_required: bool,
) -> Option<Vec<IdentityMatcher>> {
    if list.is_empty() {
        ctx.error(
            field_pos(body, "identities"),
            DiagnosticKind::InvalidValue,
            "identities is empty, expected at least one identity",
        );
        return None;
    }
    let nodes: Vec<&Node> = match body.get("identities").map(|n| &n.v) {
        Some(V::Seq(s)) => s.iter().collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, id) in list.iter().enumerate() {
        let node = nodes.get(i).copied().unwrap_or(body);
        let issuer = string_match(
            ctx,
            node,
            &id.issuer,
            &id.issuer_regexp,
            "issuer",
            issuer_required,
        );
        let subject = string_match(ctx, node, &id.subject, &id.subject_regexp, "subject", true);
        match (issuer, subject) {
            (Ok(issuer), Ok(Some(subject))) => out.push(IdentityMatcher { issuer, subject }),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

fn cosign(
    ctx: &mut Ctx<'_>,
    body: &Node,
    c: CosignFile,
    dir: Option<&Path>,
) -> Option<CosignRequirement> {
    let mut ok = true;
    let keys: Vec<KeySource> = c.keys.iter().map(|k| key_source(k, dir)).collect();
    if c.keys.iter().any(String::is_empty) {
        ctx.error(
            field_pos(body, "keys"),
            DiagnosticKind::InvalidValue,
            "a key reference is empty",
        );
        ok = false;
    }
    let keyless = match &c.keyless {
        Some(k) => {
            let node = body.get("keyless").unwrap_or(body);
            match identities(ctx, node, &k.identities, true) {
                Some(ids) => Some(CertificateTrust {
                    source: TrustSource::TrustedRoot(resolve_path(&k.trusted_root, dir)),
                    identities: ids,
                }),
                None => {
                    ok = false;
                    None
                }
            }
        }
        None => None,
    };
    let certificates = match &c.certificates {
        Some(k) => {
            let node = body.get("certificates").unwrap_or(body);
            match identities(ctx, node, &k.identities, false) {
                Some(ids) => Some(CertificateTrust {
                    source: TrustSource::Roots {
                        roots: file_or_data(&k.roots, dir),
                        intermediates: k.intermediates.as_deref().map(|i| file_or_data(i, dir)),
                    },
                    identities: ids,
                }),
                None => {
                    ok = false;
                    None
                }
            }
        }
        None => None,
    };
    if c.keys.is_empty() && c.keyless.is_none() && c.certificates.is_none() {
        ctx.error(
            body.pos,
            DiagnosticKind::MissingField,
            "cosign needs keys, keyless or certificates, found none of them",
        );
        return None;
    }
    let signed_identity = match &c.signed_identity {
        Some(si) => signed_identity(ctx, body.get("signedIdentity").unwrap_or(body), si)?,
        None => SignedIdentity::Any,
    };
    let formats = match &c.formats {
        None => vec![SignatureFormat::SimpleSigning, SignatureFormat::Bundle],
        Some(f) if f.is_empty() => {
            ctx.error(
                field_pos(body, "formats"),
                DiagnosticKind::InvalidValue,
                "formats is empty, expected simplesigning and/or bundle",
            );
            return None;
        }
        Some(f) => {
            let mut v: Vec<SignatureFormat> = f
                .iter()
                .map(|x| match x {
                    FormatFile::Simplesigning => SignatureFormat::SimpleSigning,
                    FormatFile::Bundle => SignatureFormat::Bundle,
                })
                .collect();
            v.sort();
            v.dedup();
            v
        }
    };
    let tlog = match &c.tlog {
        Some(t) => Some(tlog(ctx, body.get("tlog").unwrap_or(body), t, dir)?),
        None => None,
    };
    let mut req = CosignRequirement {
        keys,
        threshold: 1,
        keyless,
        certificates,
        annotations: c.annotations,
        signed_identity,
        formats,
        tlog,
    };
    if !ok {
        return None;
    }
    req.threshold = threshold(
        ctx,
        body,
        c.threshold,
        req.candidate_count(),
        "keys and identities",
    )?;
    Some(req)
}

pub(crate) fn signed_identity(
    ctx: &mut Ctx<'_>,
    node: &Node,
    si: &SignedIdentityFile,
) -> Option<SignedIdentity> {
    let bad = |ctx: &mut Ctx<'_>, key: &str, msg: String| {
        ctx.error(field_pos(node, key), DiagnosticKind::InvalidReference, msg);
    };
    Some(match si {
        SignedIdentityFile::Any => SignedIdentity::Any,
        SignedIdentityFile::MatchExact => SignedIdentity::MatchExact,
        SignedIdentityFile::MatchRepoDigestOrExact => SignedIdentity::MatchRepoDigestOrExact,
        SignedIdentityFile::MatchRepository => SignedIdentity::MatchRepository,
        SignedIdentityFile::ExactReference { docker_reference } => {
            match identity::parse_normalized_named(docker_reference) {
                None => {
                    bad(
                        ctx,
                        "dockerReference",
                        format!(
                            "dockerReference {docker_reference:?} is not a valid docker reference"
                        ),
                    );
                    return None;
                }
                Some(r) if r.tag.is_none() && r.digest.is_none() => {
                    bad(
                        ctx,
                        "dockerReference",
                        format!(
                            "dockerReference {docker_reference:?} contains neither a tag nor digest, expected one"
                        ),
                    );
                    return None;
                }
                Some(_) => SignedIdentity::ExactReference(docker_reference.clone()),
            }
        }
        SignedIdentityFile::ExactRepository { docker_repository } => {
            if identity::parse_normalized_named(docker_repository).is_none() {
                bad(
                    ctx,
                    "dockerRepository",
                    format!(
                        "dockerRepository {docker_repository:?} is not a valid docker repository"
                    ),
                );
                return None;
            }
            SignedIdentity::ExactRepository(docker_repository.clone())
        }
        SignedIdentityFile::RemapIdentity {
            prefix,
            signed_prefix,
        } => {
            let mut ok = true;
            for (key, v) in [("prefix", prefix), ("signedPrefix", signed_prefix)] {
                if !identity::valid_remap_prefix(v) {
                    bad(
                        ctx,
                        key,
                        format!(
                            "{key} {v:?} is not valid: expected a host[:port] or host[:port]/path prefix"
                        ),
                    );
                    ok = false;
                }
            }
            if !ok {
                return None;
            }
            SignedIdentity::RemapIdentity {
                prefix: prefix.clone(),
                signed_prefix: signed_prefix.clone(),
            }
        }
    })
}

fn dct(ctx: &mut Ctx<'_>, body: &Node, d: DctFile) -> Option<DctRequirement> {
    if d.signers.iter().any(String::is_empty) {
        ctx.error(
            field_pos(body, "signers"),
            DiagnosticKind::InvalidValue,
            "a signer name is empty",
        );
        return None;
    }
    let max = if d.signers.is_empty() {
        usize::MAX
    } else {
        d.signers.len()
    };
    let threshold = threshold(ctx, body, d.threshold, max, "named signers")?;
    Some(DctRequirement {
        server: d.server,
        signers: d.signers,
        threshold,
    })
}

/// A notation requirement: an inline trust policy is checked by notation's own rules (the
/// document it would be in `trustpolicy.json` is read by `hallmark_notation::trustpolicy`), so
/// what notation refuses to load is refused here, at the field's position.
fn notation(
    ctx: &mut Ctx<'_>,
    body: &Node,
    n: NotationFile,
    dir: Option<&Path>,
    place: &str,
) -> Option<NotationRequirement> {
    let trust_store = resolve_path(&n.trust_store, dir);
    let id = format!("notation:{place}");
    if let Some(file) = &n.trust_policy {
        let inline = [
            ("trustStores", !n.trust_stores.is_empty()),
            ("trustedIdentities", !n.trusted_identities.is_empty()),
            ("level", n.level.is_some()),
            ("override", !n.overrides.is_empty()),
            ("verifyTimestamp", n.verify_timestamp.is_some()),
        ];
        if let Some((key, _)) = inline.iter().find(|(_, given)| *given) {
            ctx.error(
                field_pos(body, key),
                DiagnosticKind::InvalidValue,
                format!(
                    "notation: {key} is written in the trust policy file {file}, expected it there or trustPolicy left out"
                ),
            );
            return None;
        }
        return Some(NotationRequirement {
            id,
            trust_store,
            trust: NotationTrust::File(resolve_path(file, dir)),
        });
    }
    let level = n.level.as_deref().unwrap_or("strict");
    if !matches!(level, "strict" | "permissive" | "audit") {
        ctx.error(
            field_pos(body, "level"),
            DiagnosticKind::InvalidValue,
            format!(
                "notation: expected level strict, permissive or audit (an image that needs no signature needs no notation requirement), found {level:?}"
            ),
        );
        return None;
    }
    let mut verification = serde_json::Map::new();
    verification.insert("level".into(), level.into());
    if !n.overrides.is_empty() {
        verification.insert(
            "override".into(),
            n.overrides
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        );
    }
    if let Some(t) = &n.verify_timestamp {
        verification.insert("verifyTimestamp".into(), t.as_str().into());
    }
    let document = serde_json::json!({
        "version": "1.0",
        "trustPolicies": [{
            "name": place,
            "registryScopes": ["*"],
            "signatureVerification": verification,
            "trustStores": n.trust_stores,
            "trustedIdentities": n.trusted_identities,
        }]
    });
    match hallmark_notation::trustpolicy::parse(document.to_string().as_bytes()) {
        Ok(mut doc) if doc.policies.len() == 1 => Some(NotationRequirement {
            id,
            trust_store,
            trust: NotationTrust::Inline(doc.policies.remove(0)),
        }),
        Ok(_) => None,
        Err(e) => {
            // notation's error names what it expected; the field it concerns is found by
            // what that text speaks of.
            let text = format!("{} {}", e.expected, e.found).to_ascii_lowercase();
            let key = [
                ("trustStores", "trust store"),
                ("trustedIdentities", "x509.subject"),
                ("trustedIdentities", "identit"),
                ("override", "override"),
                ("override", "integrity"),
                ("verifyTimestamp", "verifytimestamp"),
                ("level", "level"),
            ]
            .into_iter()
            .find(|(_, needle)| text.contains(needle))
            .map(|(k, _)| k);
            ctx.error(
                key.map_or(body.pos, |k| field_pos(body, k)),
                DiagnosticKind::InvalidValue,
                format!(
                    "notation{}: expected {}, found {}",
                    key.map(|k| format!(" {k}")).unwrap_or_default(),
                    e.expected,
                    e.found
                ),
            );
            None
        }
    }
}

/// A predicate type: cosign's `--type` name or a URI.
pub(crate) fn predicate_type(t: &str) -> Option<String> {
    if let Some((_, uri)) = file::PREDICATE_TYPES.iter().find(|(n, _)| *n == t) {
        return Some((*uri).to_string());
    }
    (t.contains(':') && !t.chars().any(char::is_whitespace)).then(|| t.to_string())
}

fn attestation(
    ctx: &mut Ctx<'_>,
    body: &Node,
    a: AttestationFile,
    dir: Option<&Path>,
) -> Option<AttestationRequirement> {
    let mut ok = true;
    let pt = predicate_type(&a.predicate_type);
    if pt.is_none() {
        let names: Vec<&str> = file::PREDICATE_TYPES.iter().map(|(n, _)| *n).collect();
        ctx.error(
            field_pos(body, "type"),
            DiagnosticKind::InvalidValue,
            format!(
                "attestation type {:?} is neither one of cosign's names ({}) nor a predicate type URI",
                a.predicate_type,
                names.join(", ")
            ),
        );
        ok = false;
    }
    if a.keys.is_empty() {
        ctx.error(
            field_pos(body, "keys"),
            DiagnosticKind::InvalidValue,
            "keys is empty, expected the keys whose attestations count",
        );
        return None;
    }
    let condition = match &a.condition {
        Some(src) => {
            let node = body.get("condition").unwrap_or(body);
            match Condition::compile(src) {
                Ok(c) => Some(c),
                Err(e) => {
                    let kind = match e.kind {
                        ConditionErrorKind::Syntax => DiagnosticKind::ConditionSyntax,
                        ConditionErrorKind::UndeclaredVariable => {
                            DiagnosticKind::UndeclaredVariable
                        }
                        ConditionErrorKind::UnknownFunction => DiagnosticKind::UnknownFunction,
                        ConditionErrorKind::UnknownType => DiagnosticKind::UnknownType,
                    };
                    let pos = map_expression_pos(ctx.text, node, src, e.line, e.column);
                    ctx.error(pos, kind, format!("condition: {e}"));
                    ok = false;
                    None
                }
            }
        }
        None => None,
    };
    let tlog = match &a.tlog {
        Some(t) => Some(tlog(ctx, body.get("tlog").unwrap_or(body), t, dir)?),
        None => None,
    };
    let threshold = threshold(ctx, body, a.threshold, a.keys.len(), "keys")?;
    if !ok {
        return None;
    }
    Some(AttestationRequirement {
        predicate_type: pt?,
        keys: a.keys.iter().map(|k| key_source(k, dir)).collect(),
        threshold,
        condition,
        tlog,
    })
}

/// Map a position inside an expression (1-based line/column) to the file: the expression's
/// line is looked up among the scalar's lines in the file; when it cannot be found (escapes,
/// folding), the scalar's own position is returned.
fn map_expression_pos(text: &str, node: &Node, expr: &str, line: usize, column: usize) -> Pos {
    let Some(expr_line) = expr.lines().nth(line.saturating_sub(1)) else {
        return node.pos;
    };
    if expr_line.trim().is_empty() {
        return node.pos;
    }
    let first = node.pos.line;
    let last = node.end_line.max(first);
    for (i, file_line) in text
        .lines()
        .enumerate()
        .skip(first - 1)
        .take(last - first + 1)
    {
        let search_from = if i + 1 == first {
            file_line
                .char_indices()
                .nth(node.pos.column - 1)
                .map_or(file_line.len(), |(b, _)| b)
        } else {
            0
        };
        if let Some(b) = file_line[search_from..].find(expr_line) {
            let col = file_line[..search_from + b].chars().count() + column;
            return Pos {
                line: i + 1,
                column: col,
            };
        }
    }
    node.pos
}
