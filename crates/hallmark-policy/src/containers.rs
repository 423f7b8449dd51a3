//! containers-policy.json (as skopeo 1.18 / containers/image v5.34 reads it) → [`Policy`],
//! and [`to_hallmark_yaml`] for `hallmark policy convert`.
//!
//! Parsing follows `signature/policy_config.go` and `policy_config_sigstore.go`: every object
//! is read "paranoidly" (unknown and duplicate keys refused), `default` is required, every
//! requirement list must be non-empty, `sigstoreSigned` takes exactly one of `keyPath`,
//! `keyPaths`, `keyData`, `keyDatas`, `fulcio`, at most one Rekor key field (required with
//! `fulcio`), `signedIdentity` defaults to `matchRepoDigestOrExact`, `…Data` fields are base64
//! (as Go's `[]byte`), and each registered transport validates its scopes as containers/image
//! does (`oci`, `oci-archive`, `dir`, `sif`: absolute clean paths, not `/`; `docker-archive`,
//! `tarball`: only `""`; `docker-daemon`: no `algo:digest`; `containers-storage`: a `[store]`
//! prefix). Unknown transports are accepted unvalidated, as there.
//!
//! Conversion: `docker` scopes become rules named `docker:<scope>` and `oci` scopes rules
//! named `oci:<scope>`, with patterns whose specificity order is containers/image's lookup
//! order (identity, repository, namespaces longest first, host\[:port\], `*.sub.domain`,
//! `*.domain`, the transport's `""`, then the global default). Other transports are read,
//! validated and ignored (they cannot name an image hallmark reads). `insecureAcceptAnything`
//! → accept, `reject` → reject, `signedBaseLayer` → reject (containers/image rejects every
//! image with it), `sigstoreSigned` → a cosign requirement with threshold 1 over its keys
//! (or a `certificates` trust for `fulcio`: its CA, issuer and email exactly), a tlog
//! requirement on its Rekor keys, its signedIdentity, and format `simplesigning` only (skopeo
//! reads only `.sig` attachments).
//!
//! Differences, on purpose:
//! - `signedBy` (GPG) requirements in the default or the `docker`/`oci` transports are
//!   refused at load; elsewhere they are validated and ignored with their transport.
//! - Relative `keyPath`/`caPath`/`rekorPublicKeyPath` values are kept as written:
//!   containers/image opens them relative to the working directory, and so will the
//!   collector. ([`to_hallmark_yaml`] notes that hallmark/v1 resolves them against the
//!   policy's own directory.)
//! - A scope containing `*` or `?` (other than a leading `*.` host wildcard), or a wildcard
//!   with a port, can never match in containers/image; it becomes no rule.

use crate::file::{
    self, CertificatesFile, CosignFile, DctFile, DefaultFile, FormatFile, IdentityFile,
    KeylessFile, ModeFile, PolicyFile, RejectFile, RequirementFile, RuleFile, SignedIdentityFile,
    TlogFile,
};
use crate::model::{
    CertificateTrust, CosignRequirement, DefaultAction, FileOrData, IdentityMatcher, KeySource,
    LogTrust, Mode, Origin, Policy, Requirement, Rule, SignatureFormat, SignedIdentity,
    StringMatch, TrustSource,
};
use crate::parse::{self, Ctx, DiagnosticKind, Node, V};
use crate::pattern::ImagePattern;
use base64::Engine as _;
use std::path::Path;

/// A converted requirement list, or `None` when it could not be read.
type Reqs = Option<Vec<Requirement>>;

/// Check that `node` is an object whose keys are all in `allowed`.
fn object<'n>(
    ctx: &mut Ctx<'_>,
    node: &'n Node,
    allowed: &[&str],
    what: &str,
) -> Option<&'n [(Node, Node)]> {
    let V::Map(entries) = &node.v else {
        ctx.error(
            node.pos,
            DiagnosticKind::InvalidType,
            format!("{what}: JSON object expected, found {}", node.type_name()),
        );
        return None;
    };
    let mut ok = true;
    for (k, _) in entries {
        let name = k.as_str().unwrap_or_default();
        if !allowed.contains(&name) {
            ctx.error(
                k.pos,
                DiagnosticKind::UnknownKey,
                format!(
                    "{what}: unknown key {name:?}, expected one of {}",
                    allowed
                        .iter()
                        .map(|a| format!("{a:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            ok = false;
        }
    }
    ok.then_some(entries.as_slice())
}

/// A string field: absent or null → `None` (Go leaves the string empty).
fn string(ctx: &mut Ctx<'_>, node: &Node, key: &str) -> Result<Option<String>, ()> {
    match node.get(key) {
        None => Ok(None),
        Some(Node { v: V::Null, .. }) => Ok(Some(String::new())),
        Some(Node { v: V::Str(s), .. }) => Ok(Some(s.clone())),
        Some(n) => {
            ctx.error(
                n.pos,
                DiagnosticKind::InvalidType,
                format!("{key}: expected a string, found {}", n.type_name()),
            );
            Err(())
        }
    }
}

/// A list of strings: absent → `None`; null → `Some(empty)` (Go's nil slice).
fn strings(ctx: &mut Ctx<'_>, node: &Node, key: &str) -> Result<Option<Vec<String>>, ()> {
    list_of(ctx, node, key, "string", |_, _, s| Ok(s.to_owned()))
}

/// A list of `noun`s, each string item read by `item` (null items are empty strings): absent
/// → `None`; null → `Some(empty)` (Go's nil slice).
fn list_of(
    ctx: &mut Ctx<'_>,
    node: &Node,
    key: &str,
    noun: &str,
    mut item: impl FnMut(&mut Ctx<'_>, &Node, &str) -> Result<String, ()>,
) -> Result<Option<Vec<String>>, ()> {
    match node.get(key) {
        None => Ok(None),
        Some(Node { v: V::Null, .. }) => Ok(Some(Vec::new())),
        Some(Node {
            v: V::Seq(items), ..
        }) => {
            let mut out = Vec::new();
            for i in items {
                match &i.v {
                    V::Str(s) => out.push(item(ctx, i, s)?),
                    V::Null => out.push(String::new()),
                    _ => {
                        ctx.error(
                            i.pos,
                            DiagnosticKind::InvalidType,
                            format!("{key}: expected {noun}s, found {}", i.type_name()),
                        );
                        return Err(());
                    }
                }
            }
            Ok(Some(out))
        }
        Some(n) => {
            ctx.error(
                n.pos,
                DiagnosticKind::InvalidType,
                format!("{key}: expected a list of {noun}s, found {}", n.type_name()),
            );
            Err(())
        }
    }
}

/// Go's base64 for `[]byte` (standard alphabet, padded; CR and LF ignored).
fn base64_bytes(ctx: &mut Ctx<'_>, n: &Node, key: &str, s: &str) -> Result<String, ()> {
    let cleaned: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    match base64::engine::general_purpose::STANDARD.decode(cleaned.as_bytes()) {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(e) => {
            ctx.error(
                n.pos,
                DiagnosticKind::InvalidValue,
                format!("{key}: expected base64 data (Go []byte), found {s:?}: {e}"),
            );
            Err(())
        }
    }
}

/// `…Data` (one base64 string; null → absent) and `…Datas` (a list; null → empty).
fn data_field(ctx: &mut Ctx<'_>, node: &Node, key: &str) -> Result<Option<String>, ()> {
    match node.get(key) {
        None | Some(Node { v: V::Null, .. }) => Ok(None),
        Some(n @ Node { v: V::Str(s), .. }) => base64_bytes(ctx, n, key, s).map(Some),
        Some(n) => {
            ctx.error(
                n.pos,
                DiagnosticKind::InvalidType,
                format!("{key}: expected a base64 string, found {}", n.type_name()),
            );
            Err(())
        }
    }
}

fn datas_field(ctx: &mut Ctx<'_>, node: &Node, key: &str) -> Result<Option<Vec<String>>, ()> {
    list_of(ctx, node, key, "base64 string", |ctx, n, s| {
        base64_bytes(ctx, n, key, s)
    })
}

fn type_of(ctx: &mut Ctx<'_>, node: &Node, what: &str) -> Option<String> {
    if !matches!(node.v, V::Map(_)) {
        ctx.error(
            node.pos,
            DiagnosticKind::InvalidType,
            format!("{what}: JSON object expected, found {}", node.type_name()),
        );
        return None;
    }
    match node.get("type") {
        Some(Node { v: V::Str(s), .. }) => Some(s.clone()),
        Some(Node { v: V::Null, .. }) | None => Some(String::new()),
        Some(n) => {
            ctx.error(
                n.pos,
                DiagnosticKind::InvalidType,
                format!("{what}: type must be a string, found {}", n.type_name()),
            );
            None
        }
    }
}

/// A `signedIdentity` / `baseLayerIdentity` object.
fn reference_match(ctx: &mut Ctx<'_>, node: &Node) -> Option<SignedIdentity> {
    let t = type_of(ctx, node, "signedIdentity")?;
    let (fields, si): (&[&str], SignedIdentityFile) = match t.as_str() {
        "matchExact" => (&["type"], SignedIdentityFile::MatchExact),
        "matchRepoDigestOrExact" => (&["type"], SignedIdentityFile::MatchRepoDigestOrExact),
        "matchRepository" => (&["type"], SignedIdentityFile::MatchRepository),
        "exactReference" => (
            &["type", "dockerReference"],
            SignedIdentityFile::ExactReference {
                docker_reference: string(ctx, node, "dockerReference")
                    .ok()?
                    .unwrap_or_default(),
            },
        ),
        "exactRepository" => (
            &["type", "dockerRepository"],
            SignedIdentityFile::ExactRepository {
                docker_repository: string(ctx, node, "dockerRepository")
                    .ok()?
                    .unwrap_or_default(),
            },
        ),
        "remapIdentity" => (
            &["type", "prefix", "signedPrefix"],
            SignedIdentityFile::RemapIdentity {
                prefix: string(ctx, node, "prefix").ok()?.unwrap_or_default(),
                signed_prefix: string(ctx, node, "signedPrefix").ok()?.unwrap_or_default(),
            },
        ),
        other => {
            ctx.error(
                node.get("type").map_or(node.pos, |n| n.pos),
                DiagnosticKind::InvalidValue,
                format!(
                    "Unknown policy reference match type {other:?}, expected matchExact, matchRepoDigestOrExact, matchRepository, exactReference, exactRepository or remapIdentity"
                ),
            );
            return None;
        }
    };
    object(ctx, node, fields, "signedIdentity")?;
    // ParanoidUnmarshalJSONObjectExactFields: every field present.
    for f in fields {
        if node.get(f).is_none() {
            ctx.error(
                node.pos,
                DiagnosticKind::MissingField,
                format!("signedIdentity: Key {f:?} missing in a JSON object"),
            );
            return None;
        }
    }
    parse::signed_identity(ctx, node, &si)
}

/// One requirement; `relevant` = in the default or the docker/oci transports.
fn requirement(ctx: &mut Ctx<'_>, node: &Node, relevant: bool) -> Option<Requirement> {
    let t = type_of(ctx, node, "requirement")?;
    match t.as_str() {
        "insecureAcceptAnything" | "reject" => {
            object(ctx, node, &["type"], &t)?;
            Some(if t == "reject" {
                Requirement::Reject { message: None }
            } else {
                Requirement::Accept
            })
        }
        "signedBy" => {
            if relevant {
                ctx.error(
                    node.get("type").map_or(node.pos, |n| n.pos),
                    DiagnosticKind::Unsupported,
                    "signedBy (GPG) requirements are not supported: sign with cosign keys and use sigstoreSigned, or a hallmark/v1 policy",
                );
                return None;
            }
            signed_by(ctx, node)
        }
        "signedBaseLayer" => {
            object(ctx, node, &["type", "baseLayerIdentity"], &t)?;
            let Some(bli) = node.get("baseLayerIdentity") else {
                ctx.error(
                    node.pos,
                    DiagnosticKind::MissingField,
                    "signedBaseLayer: Key \"baseLayerIdentity\" missing in a JSON object",
                );
                return None;
            };
            reference_match(ctx, bli)?;
            Some(Requirement::Reject {
                message: Some(
                    "signedBaseLayer is not implemented by containers/image: it rejects every image"
                        .to_string(),
                ),
            })
        }
        "sigstoreSigned" => sigstore_signed(ctx, node).map(Requirement::Cosign),
        other => {
            ctx.error(
                node.get("type").map_or(node.pos, |n| n.pos),
                DiagnosticKind::InvalidValue,
                format!(
                    "Unknown policy requirement type {other:?}, expected insecureAcceptAnything, reject, signedBy, signedBaseLayer or sigstoreSigned"
                ),
            );
            None
        }
    }
}

/// `signedBy` outside the transports hallmark reads: validated as containers/image does,
/// then irrelevant.
fn signed_by(ctx: &mut Ctx<'_>, node: &Node) -> Option<Requirement> {
    object(
        ctx,
        node,
        &[
            "type",
            "keyType",
            "keyPath",
            "keyPaths",
            "keyData",
            "signedIdentity",
        ],
        "signedBy",
    )?;
    let key_type = string(ctx, node, "keyType").ok()?.unwrap_or_default();
    if !matches!(
        key_type.as_str(),
        "GPGKeys" | "signedByGPGKeys" | "X509Certificates" | "signedByX509CAs"
    ) {
        ctx.error(
            node.get("keyType").map_or(node.pos, |n| n.pos),
            DiagnosticKind::InvalidValue,
            format!("signedBy: invalid keyType {key_type:?}"),
        );
        return None;
    }
    let sources = ["keyPath", "keyPaths", "keyData"]
        .iter()
        .filter(|k| node.get(k).is_some())
        .count();
    if sources != 1 {
        ctx.error(
            node.pos,
            DiagnosticKind::InvalidValue,
            "signedBy: exactly one of keyPath, keyPaths and keyData must be specified",
        );
        return None;
    }
    if let Some(si) = node.get("signedIdentity") {
        reference_match(ctx, si)?;
    }
    Some(Requirement::Reject {
        message: Some("signedBy is not supported".to_string()),
    })
}

fn sigstore_signed(ctx: &mut Ctx<'_>, node: &Node) -> Option<CosignRequirement> {
    const FIELDS: &[&str] = &[
        "type",
        "keyPath",
        "keyPaths",
        "keyData",
        "keyDatas",
        "fulcio",
        "rekorPublicKeyPath",
        "rekorPublicKeyPaths",
        "rekorPublicKeyData",
        "rekorPublicKeyDatas",
        "signedIdentity",
    ];
    object(ctx, node, FIELDS, "sigstoreSigned")?;
    let signed_identity = match node.get("signedIdentity") {
        Some(si) => reference_match(ctx, si)?,
        None => SignedIdentity::MatchRepoDigestOrExact,
    };
    let key_path = string(ctx, node, "keyPath").ok()?.filter(|s| !s.is_empty());
    let key_paths = strings(ctx, node, "keyPaths").ok()?;
    let key_data = data_field(ctx, node, "keyData").ok()?;
    let key_datas = datas_field(ctx, node, "keyDatas").ok()?;
    let fulcio = match node.get("fulcio") {
        Some(f) => Some(fulcio(ctx, f)?),
        None => None,
    };
    let rekor_path = string(ctx, node, "rekorPublicKeyPath")
        .ok()?
        .filter(|s| !s.is_empty());
    let rekor_paths = strings(ctx, node, "rekorPublicKeyPaths").ok()?;
    let rekor_data = data_field(ctx, node, "rekorPublicKeyData").ok()?;
    let rekor_datas = datas_field(ctx, node, "rekorPublicKeyDatas").ok()?;
    for (key, list) in [
        ("keyPaths", &key_paths),
        ("keyDatas", &key_datas),
        ("rekorPublicKeyPaths", &rekor_paths),
        ("rekorPublicKeyDatas", &rekor_datas),
    ] {
        if list.as_ref().is_some_and(Vec::is_empty) {
            ctx.error(
                node.get(key).map_or(node.pos, |n| n.pos),
                DiagnosticKind::InvalidValue,
                format!("{key:?} contains no entries"),
            );
            return None;
        }
    }
    let key_sources = usize::from(key_path.is_some())
        + usize::from(key_paths.is_some())
        + usize::from(key_data.is_some())
        + usize::from(key_datas.is_some())
        + usize::from(fulcio.is_some());
    if key_sources != 1 {
        ctx.error(
            node.pos,
            DiagnosticKind::InvalidValue,
            format!(
                "sigstoreSigned: exactly one of keyPath, keyPaths, keyData, keyDatas and fulcio must be specified, found {key_sources}"
            ),
        );
        return None;
    }
    let rekor_sources = usize::from(rekor_path.is_some())
        + usize::from(rekor_paths.is_some())
        + usize::from(rekor_data.is_some())
        + usize::from(rekor_datas.is_some());
    if rekor_sources > 1 {
        ctx.error(
            node.pos,
            DiagnosticKind::InvalidValue,
            "sigstoreSigned: at most one of rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData and rekorPublicKeyDatas can be used simultaneously",
        );
        return None;
    }
    if fulcio.is_some() && rekor_sources == 0 {
        ctx.error(
            node.pos,
            DiagnosticKind::MissingField,
            "sigstoreSigned: at least one of rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData and rekorPublicKeyDatas must be specified if fulcio is used",
        );
        return None;
    }
    let path_key = |p: String| KeySource::Reference(p);
    let mut keys: Vec<KeySource> = Vec::new();
    keys.extend(key_path.map(path_key));
    keys.extend(key_paths.unwrap_or_default().into_iter().map(path_key));
    keys.extend(key_data.map(KeySource::Data));
    keys.extend(
        key_datas
            .unwrap_or_default()
            .into_iter()
            .map(KeySource::Data),
    );
    let mut rekor: Vec<KeySource> = Vec::new();
    rekor.extend(rekor_path.map(path_key));
    rekor.extend(rekor_paths.unwrap_or_default().into_iter().map(path_key));
    rekor.extend(rekor_data.map(KeySource::Data));
    rekor.extend(
        rekor_datas
            .unwrap_or_default()
            .into_iter()
            .map(KeySource::Data),
    );
    Some(CosignRequirement {
        keys,
        threshold: 1,
        keyless: None,
        certificates: fulcio,
        annotations: Default::default(),
        signed_identity,
        formats: vec![SignatureFormat::SimpleSigning],
        tlog: (!rekor.is_empty()).then_some(LogTrust {
            trusted_root: None,
            rekor_keys: rekor,
            witness_policy: None,
        }),
    })
}

fn fulcio(ctx: &mut Ctx<'_>, node: &Node) -> Option<CertificateTrust> {
    object(
        ctx,
        node,
        &["caPath", "caData", "oidcIssuer", "subjectEmail"],
        "fulcio",
    )?;
    let ca_path = string(ctx, node, "caPath").ok()?.filter(|s| !s.is_empty());
    let ca_data = data_field(ctx, node, "caData").ok()?;
    let issuer = string(ctx, node, "oidcIssuer").ok()?.unwrap_or_default();
    let email = string(ctx, node, "subjectEmail").ok()?.unwrap_or_default();
    let roots = match (ca_path, ca_data) {
        (Some(_), Some(_)) => {
            ctx.error(
                node.pos,
                DiagnosticKind::InvalidValue,
                "fulcio: caPath and caData cannot be used simultaneously",
            );
            return None;
        }
        (None, None) => {
            ctx.error(
                node.pos,
                DiagnosticKind::MissingField,
                "fulcio: at least one of caPath and caData must be specified",
            );
            return None;
        }
        (Some(p), None) => FileOrData::File(p.into()),
        (None, Some(d)) => FileOrData::Data(d),
    };
    for (key, v) in [("oidcIssuer", &issuer), ("subjectEmail", &email)] {
        if v.is_empty() {
            ctx.error(
                node.pos,
                DiagnosticKind::MissingField,
                format!("fulcio: {key} not specified"),
            );
            return None;
        }
    }
    Some(CertificateTrust {
        source: TrustSource::Roots {
            roots,
            intermediates: None,
        },
        identities: vec![IdentityMatcher {
            issuer: Some(StringMatch::Exact(issuer)),
            subject: StringMatch::Exact(email),
        }],
    })
}

fn requirement_list(ctx: &mut Ctx<'_>, node: &Node, relevant: bool) -> Reqs {
    let items = match &node.v {
        V::Seq(items) => items,
        V::Null => &Vec::new(),
        _ => {
            ctx.error(
                node.pos,
                DiagnosticKind::InvalidType,
                format!(
                    "a list of policy requirements expected, found {}",
                    node.type_name()
                ),
            );
            return None;
        }
    };
    if items.is_empty() {
        ctx.error(
            node.pos,
            DiagnosticKind::InvalidValue,
            "List of verification policy requirements must not be empty",
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for i in items {
        match requirement(ctx, i, relevant) {
            Some(r) => out.push(r),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// Go's `filepath.Clean` for a Unix path.
fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

fn absolute_scope(scope: &str) -> Result<(), String> {
    if !scope.starts_with('/') {
        return Err(format!("Invalid scope {scope}: must be an absolute path"));
    }
    if scope == "/" {
        return Err(r#"Invalid scope "/": Use the generic default scope """#.to_string());
    }
    let c = clean(scope);
    if c != scope {
        return Err(format!(
            "Invalid scope {scope}: Uses non-canonical path format, perhaps try with path {c}"
        ));
    }
    Ok(())
}

fn is_digest(s: &str) -> bool {
    s.split_once(':').is_some_and(|(a, h)| {
        let len = match a {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => return false,
        };
        h.len() == len && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// `ValidatePolicyConfigurationScope` of the transports skopeo registers.
fn validate_scope(transport: &str, scope: &str) -> Result<(), String> {
    if scope.is_empty() {
        return Ok(());
    }
    match transport {
        "oci" | "oci-archive" | "dir" | "sif" => absolute_scope(scope),
        "docker-archive" | "tarball" => Err(format!(
            r#"{transport}: does not support any scopes except the default "" one"#
        )),
        "docker-daemon" if is_digest(scope) => Err(format!(
            "docker-daemon: can not use algo:digest value {scope} as a namespace"
        )),
        "containers-storage" => {
            let invalid = || Err("invalid reference: the scope needs a [store] prefix".to_string());
            let Some(rest) = scope.strip_prefix('[') else {
                return invalid();
            };
            let Some(close) = rest.find(']') else {
                return invalid();
            };
            let spec = &rest[..close];
            let root = match spec.split_once('@') {
                None if !spec.is_empty() => spec,
                Some((d, r)) if !d.is_empty() && !r.is_empty() => r,
                _ => return invalid(),
            };
            if !root.starts_with('/') {
                return Err("the store's graph root must be an absolute path".to_string());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Patterns for a docker scope, or `None` when containers/image can never match it.
fn docker_patterns(scope: &str) -> Option<Vec<String>> {
    if scope.is_empty() {
        return Some(vec!["**".to_string()]);
    }
    let globby = |s: &str| s.contains(['*', '?']);
    let v = if let Some(domain) = scope.strip_prefix("*.") {
        if globby(domain) || domain.contains([':', '/']) || domain.is_empty() {
            return None;
        }
        vec![format!("{scope}/**"), format!("{scope}:*/**")]
    } else if globby(scope) {
        return None;
    } else if !scope.contains('/') {
        vec![format!("{scope}/**")]
    } else {
        let (name, digest) = match scope.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (scope, None),
        };
        let tagged = name[name.rfind('/').map_or(0, |i| i + 1)..].contains(':');
        match (tagged, digest) {
            // An identity is never both tagged and digested there.
            (true, Some(_)) => return None,
            (true, None) | (false, Some(_)) => vec![scope.to_string()],
            (false, None) => vec![scope.to_string(), format!("{scope}/**")],
        }
    };
    v.iter()
        .all(|p| ImagePattern::parse(p).is_ok())
        .then_some(v)
}

fn oci_patterns(scope: &str) -> Option<Vec<String>> {
    if scope.is_empty() {
        return Some(vec!["oci:**".to_string()]);
    }
    if scope.contains(['*', '?']) {
        return None;
    }
    let v = vec![format!("oci:{scope}"), format!("oci:{scope}/**")];
    v.iter()
        .all(|p| ImagePattern::parse(p).is_ok())
        .then_some(v)
}

fn rule(name: String, patterns: Vec<String>, require: Vec<Requirement>) -> Rule {
    Rule {
        name,
        images: patterns
            .iter()
            .filter_map(|p| ImagePattern::parse(p).ok())
            .collect(),
        namespaces: None,
        mode: Mode::Enforce,
        failure_policy: None,
        require,
        any_of: Vec::new(),
    }
}

pub(crate) fn from_tree(ctx: &mut Ctx<'_>, root: &Node) -> Option<Policy> {
    object(ctx, root, &["default", "transports"], "policy")?;
    let default = match root.get("default") {
        Some(d) => requirement_list(ctx, d, true),
        None => {
            ctx.error(
                root.pos,
                DiagnosticKind::MissingField,
                "Default policy is missing",
            );
            None
        }
    };
    let mut rules = Vec::new();
    let mut has_default = [false, false]; // docker "", oci ""
    if let Some(t) = root.get("transports") {
        match &t.v {
            V::Map(transports) => {
                for (tk, scopes) in transports {
                    let transport = tk.as_str().unwrap_or_default();
                    let relevant = matches!(transport, "docker" | "oci");
                    let V::Map(entries) = &scopes.v else {
                        ctx.error(
                            scopes.pos,
                            DiagnosticKind::InvalidType,
                            format!(
                                "transport {transport:?}: JSON object of scopes expected, found {}",
                                scopes.type_name()
                            ),
                        );
                        continue;
                    };
                    for (sk, reqs) in entries {
                        let scope = sk.as_str().unwrap_or_default();
                        if let Err(e) = validate_scope(transport, scope) {
                            ctx.error(
                                sk.pos,
                                DiagnosticKind::InvalidScope,
                                format!("transport {transport:?}: scope {scope:?} is refused: {e}"),
                            );
                            continue;
                        }
                        let Some(reqs) = requirement_list(ctx, reqs, relevant) else {
                            continue;
                        };
                        let patterns = match transport {
                            "docker" => docker_patterns(scope),
                            "oci" => oci_patterns(scope),
                            _ => continue,
                        };
                        if scope.is_empty() {
                            has_default[usize::from(transport == "oci")] = true;
                        }
                        if let Some(p) = patterns {
                            rules.push(rule(format!("{transport}:{scope}"), p, reqs));
                        }
                    }
                }
            }
            _ => ctx.error(
                t.pos,
                DiagnosticKind::InvalidType,
                format!("transports: JSON object expected, found {}", t.type_name()),
            ),
        }
    }
    let default = default?;
    let only = |f: fn(&Requirement) -> bool| default.len() == 1 && f(&default[0]);
    let just_reject = only(|r| matches!(r, Requirement::Reject { message: None }));
    let just_accept = only(|r| matches!(r, Requirement::Accept));
    let action = if just_accept {
        DefaultAction::Allow
    } else {
        DefaultAction::Deny
    };
    match has_default {
        // Images of both transports have a transport default: the global one is unused.
        [true, true] => {}
        // docker's "" (`**`) would also catch layouts: give them the global default.
        [true, false] => rules.push(rule(
            "default".to_string(),
            vec!["oci:**".to_string()],
            default,
        )),
        _ if just_reject || just_accept => {}
        _ => rules.push(rule("default".to_string(), vec!["**".to_string()], default)),
    }
    Some(Policy {
        default: action,
        rules,
        origin: Origin::ContainersPolicy,
        source: ctx.file.to_path_buf(),
    })
}

// ---------------------------------------------------------------------------------------
// Model → hallmark/v1 YAML.

fn key_text(k: &KeySource) -> String {
    match k {
        KeySource::Reference(r) | KeySource::Data(r) => r.clone(),
    }
}

fn fod_text(f: &FileOrData) -> String {
    match f {
        FileOrData::File(p) => p.display().to_string(),
        FileOrData::Data(d) => d.clone(),
    }
}

fn is_relative_path(s: &str) -> bool {
    !s.trim_start().starts_with("-----BEGIN")
        && !s.contains("://")
        && !s.starts_with("pkcs11:")
        && Path::new(s).is_relative()
}

fn identity_file(m: &IdentityMatcher) -> IdentityFile {
    let mut f = IdentityFile::default();
    match &m.issuer {
        Some(StringMatch::Exact(e)) => f.issuer = Some(e.clone()),
        Some(StringMatch::Regex(r)) => f.issuer_regexp = Some(r.as_str().to_string()),
        None => {}
    }
    match &m.subject {
        StringMatch::Exact(e) => f.subject = Some(e.clone()),
        StringMatch::Regex(r) => f.subject_regexp = Some(r.as_str().to_string()),
    }
    f
}

fn tlog_file(t: &LogTrust, paths: &mut Vec<String>) -> TlogFile {
    let keys: Vec<String> = t.rekor_keys.iter().map(key_text).collect();
    paths.extend(keys.iter().cloned());
    paths.extend(
        [&t.trusted_root, &t.witness_policy]
            .into_iter()
            .flatten()
            .map(|p| p.display().to_string()),
    );
    TlogFile {
        trusted_root: t.trusted_root.as_ref().map(|p| p.display().to_string()),
        rekor_keys: (!keys.is_empty()).then_some(keys),
        witness_policy: t.witness_policy.as_ref().map(|p| p.display().to_string()),
    }
}

fn signed_identity_file(si: &SignedIdentity) -> Option<SignedIdentityFile> {
    Some(match si {
        SignedIdentity::Any => return None,
        SignedIdentity::MatchExact => SignedIdentityFile::MatchExact,
        SignedIdentity::MatchRepoDigestOrExact => SignedIdentityFile::MatchRepoDigestOrExact,
        SignedIdentity::MatchRepository => SignedIdentityFile::MatchRepository,
        SignedIdentity::ExactReference(r) => SignedIdentityFile::ExactReference {
            docker_reference: r.clone(),
        },
        SignedIdentity::ExactRepository(r) => SignedIdentityFile::ExactRepository {
            docker_repository: r.clone(),
        },
        SignedIdentity::RemapIdentity {
            prefix,
            signed_prefix,
        } => SignedIdentityFile::RemapIdentity {
            prefix: prefix.clone(),
            signed_prefix: signed_prefix.clone(),
        },
    })
}

/// A notation requirement as the file writes it (identities in notation's `x509.subject:`
/// form, values escaped as notation reads them).
fn notation_file(n: &crate::NotationRequirement, paths: &mut Vec<String>) -> file::NotationFile {
    use hallmark_notation::trustpolicy::{Action, TrustedIdentities};
    let trust_store = n.trust_store.display().to_string();
    paths.push(trust_store.clone());
    let mut f = file::NotationFile {
        trust_store,
        ..file::NotationFile::default()
    };
    match &n.trust {
        crate::NotationTrust::File(p) => {
            paths.push(p.display().to_string());
            f.trust_policy = Some(p.display().to_string());
        }
        crate::NotationTrust::Inline(p) => {
            f.level = Some(p.level.as_str().to_owned());
            f.trust_stores = p.trust_stores.iter().map(ToString::to_string).collect();
            f.trusted_identities = match &p.trusted_identities {
                TrustedIdentities::Subjects(names) => names
                    .iter()
                    .map(|dn| {
                        let parts: Vec<String> = dn
                            .iter()
                            .map(|(k, v)| format!("{k}={}", v.replace(',', "\\,")))
                            .collect();
                        format!("x509.subject: {}", parts.join(", "))
                    })
                    .collect(),
                _ => vec!["*".to_owned()],
            };
            f.overrides = p
                .overrides
                .iter()
                .map(|(c, a)| {
                    let action = match a {
                        Action::Enforce => "enforce",
                        Action::Log => "log",
                        _ => "skip",
                    };
                    (c.as_str().to_owned(), action.to_owned())
                })
                .collect();
            if p.timestamp_after_cert_expiry {
                f.verify_timestamp = Some("afterCertExpiry".into());
            }
        }
    }
    f
}

fn requirement_file(r: &Requirement, paths: &mut Vec<String>) -> RequirementFile {
    let threshold = |t: usize| (t != 1).then_some(t as u64);
    match r {
        Requirement::Cosign(c) => {
            let keys: Vec<String> = c.keys.iter().map(key_text).collect();
            paths.extend(keys.iter().cloned());
            let mut keyless = None;
            let mut certificates = None;
            for ct in [&c.keyless, &c.certificates].into_iter().flatten() {
                let identities = ct.identities.iter().map(identity_file).collect();
                match &ct.source {
                    TrustSource::TrustedRoot(p) => {
                        paths.push(p.display().to_string());
                        keyless = Some(KeylessFile {
                            trusted_root: p.display().to_string(),
                            identities,
                        });
                    }
                    TrustSource::Roots {
                        roots,
                        intermediates,
                    } => {
                        paths.push(fod_text(roots));
                        paths.extend(intermediates.iter().map(fod_text));
                        certificates = Some(CertificatesFile {
                            roots: fod_text(roots),
                            intermediates: intermediates.as_ref().map(fod_text),
                            identities,
                        });
                    }
                }
            }
            let both = c.formats.contains(&SignatureFormat::SimpleSigning)
                && c.formats.contains(&SignatureFormat::Bundle);
            RequirementFile::Cosign(CosignFile {
                keys,
                threshold: threshold(c.threshold),
                keyless,
                certificates,
                annotations: c.annotations.clone(),
                signed_identity: signed_identity_file(&c.signed_identity),
                formats: (!both).then(|| {
                    c.formats
                        .iter()
                        .map(|f| match f {
                            SignatureFormat::SimpleSigning => FormatFile::Simplesigning,
                            SignatureFormat::Bundle => FormatFile::Bundle,
                        })
                        .collect()
                }),
                tlog: c.tlog.as_ref().map(|t| tlog_file(t, paths)),
            })
        }
        Requirement::Dct(d) => RequirementFile::Dct(DctFile {
            server: d.server.clone(),
            signers: d.signers.clone(),
            threshold: threshold(d.threshold),
        }),
        Requirement::Notation(n) => RequirementFile::Notation(notation_file(n, paths)),
        Requirement::Attestation(a) => {
            let keys: Vec<String> = a.keys.iter().map(key_text).collect();
            paths.extend(keys.iter().cloned());
            RequirementFile::Attestation(file::AttestationFile {
                predicate_type: a.predicate_type.clone(),
                keys,
                threshold: threshold(a.threshold),
                condition: a.condition.as_ref().map(|c| c.source().to_string()),
                tlog: a.tlog.as_ref().map(|t| tlog_file(t, paths)),
            })
        }
        Requirement::Tlog(t) => RequirementFile::Tlog(tlog_file(t, paths)),
        Requirement::Reject { message } => RequirementFile::Reject(Some(RejectFile {
            message: message.clone(),
        })),
        Requirement::Accept => RequirementFile::Accept(Some(file::AcceptFile {})),
    }
}

/// The policy as a hallmark/v1 YAML document (what `hallmark policy convert` writes).
///
/// It re-parses to a policy with the same decisions, with one caveat the document states in
/// a leading comment when it applies: relative paths taken from a containers-policy.json
/// (relative to the working directory there) are resolved against the new file's directory.
pub fn to_hallmark_yaml(policy: &Policy) -> String {
    let mut paths = Vec::new();
    let rules: Vec<RuleFile> = policy
        .rules
        .iter()
        .map(|r| RuleFile {
            name: r.name.clone(),
            images: r.images.iter().map(|p| p.as_str().to_string()).collect(),
            namespaces: r.namespaces.clone(),
            mode: (r.mode == Mode::Audit).then_some(ModeFile::Audit),
            failure_policy: r.failure_policy.map(|f| match f {
                crate::model::FailurePolicy::Ignore => crate::file::FailurePolicyFile::Ignore,
                _ => crate::file::FailurePolicyFile::Fail,
            }),
            require: r
                .require
                .iter()
                .map(|q| requirement_file(q, &mut paths))
                .collect(),
            any_of: (!r.any_of.is_empty()).then(|| {
                r.any_of
                    .iter()
                    .map(|q| requirement_file(q, &mut paths))
                    .collect()
            }),
        })
        .collect();
    let doc = PolicyFile {
        api_version: file::API_VERSION.to_string(),
        kind: file::KIND.to_string(),
        default: Some(match policy.default {
            DefaultAction::Allow => DefaultFile::Allow,
            _ => DefaultFile::Deny,
        }),
        rules,
    };
    let mut out = String::new();
    if policy.origin == Origin::ContainersPolicy {
        out.push_str(&format!(
            "# Converted from the containers-policy.json {}.\n",
            policy.source.display()
        ));
        if paths.iter().any(|p| is_relative_path(p)) {
            out.push_str("# Note: relative paths were relative to the working directory there; here they are\n# relative to this file's directory.\n");
        }
    }
    let value = serde_json::to_value(&doc).unwrap_or(serde_json::Value::Null);
    emit(&value, 0, &mut out);
    out
}

fn yaml_key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        k.to_string()
    } else {
        serde_json::Value::String(k.to_string()).to_string()
    }
}

fn scalar(v: &serde_json::Value) -> String {
    // JSON scalars are YAML 1.2 flow scalars; a string is written plain only when YAML 1.2
    // reads it back as that same string (no indicator first, nothing a resolver would take
    // for a number, a boolean or null), else double-quoted.
    match v {
        serde_json::Value::String(t) if is_plain(t) => t.clone(),
        other => other.to_string(),
    }
}

fn is_plain(t: &str) -> bool {
    let Some(first) = t.chars().next() else {
        return false;
    };
    let safe = |c: char| c.is_ascii_alphanumeric() || "_./:@+-".contains(c);
    (first.is_ascii_alphanumeric() || first == '/' || first == '.')
        && t.chars().all(safe)
        && !t.ends_with(':')
        && !matches!(
            t.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | ".inf" | ".nan"
        )
        && t.parse::<f64>().is_err()
        && !t.starts_with("0x")
        && !t.starts_with("0o")
}

/// Keys in the order a reader expects them (the file's own order), the rest alphabetically.
fn key_rank(k: &str) -> usize {
    const ORDER: [&str; 9] = [
        "apiVersion",
        "kind",
        "default",
        "name",
        "images",
        "namespaces",
        "mode",
        "require",
        "anyOf",
    ];
    ORDER.iter().position(|o| *o == k).unwrap_or(ORDER.len())
}

fn emit(v: &serde_json::Value, indent: usize, out: &mut String) {
    use serde_json::Value as J;
    let pad = " ".repeat(indent);
    match v {
        J::Object(m) => {
            let mut entries: Vec<_> = m.iter().collect();
            entries.sort_by_key(|(k, _)| key_rank(k));
            for (k, x) in entries {
                match x {
                    J::Object(o) if !o.is_empty() => {
                        out.push_str(&format!("{pad}{}:\n", yaml_key(k)));
                        emit(x, indent + 2, out);
                    }
                    J::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}{}:\n", yaml_key(k)));
                        emit(x, indent + 2, out);
                    }
                    J::Object(_) => out.push_str(&format!("{pad}{}: {{}}\n", yaml_key(k))),
                    J::Array(_) => out.push_str(&format!("{pad}{}: []\n", yaml_key(k))),
                    s => out.push_str(&format!("{pad}{}: {}\n", yaml_key(k), scalar(s))),
                }
            }
        }
        J::Array(a) => {
            for x in a {
                match x {
                    J::Object(o) if !o.is_empty() => {
                        let mut inner = String::new();
                        emit(x, indent + 2, &mut inner);
                        // First line of the item goes after "- ".
                        let trimmed = inner.get(indent + 2..).unwrap_or_default();
                        out.push_str(&format!("{pad}- {trimmed}"));
                    }
                    J::Array(b) if !b.is_empty() => {
                        out.push_str(&format!("{pad}-\n"));
                        emit(x, indent + 2, out);
                    }
                    J::Object(_) => out.push_str(&format!("{pad}- {{}}\n")),
                    J::Array(_) => out.push_str(&format!("{pad}- []\n")),
                    s => out.push_str(&format!("{pad}- {}\n", scalar(s))),
                }
            }
        }
        s => out.push_str(&format!("{pad}{}\n", scalar(s))),
    }
}
