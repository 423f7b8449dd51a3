//! containers/image's `signedIdentity` semantics (`signature/policy_reference_match.go`) over
//! docker references parsed as containers/image's copy of `distribution/reference` does
//! (`ParseNormalizedNamed`, `ParseNamed`, `Name()`, `String()`).

use crate::model::SignedIdentity;
use crate::pattern::ImageName;

/// A parsed docker reference (the parts `policy_reference_match.go` looks at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DockerRef {
    /// `Name()`: `domain/path`, normalised (`docker.io/library/busybox`).
    pub(crate) name: String,
    pub(crate) tag: Option<String>,
    pub(crate) digest: Option<String>,
}

impl DockerRef {
    /// `String()`: `name[:tag][@digest]`.
    pub(crate) fn string(&self) -> String {
        let mut s = self.name.clone();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }
}

const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// `reference.ParseNormalizedNamed`.
pub(crate) fn parse_normalized_named(s: &str) -> Option<DockerRef> {
    // anchoredIdentifierRegexp: a 64-hex-character image ID is refused.
    if s.len() == 64 && s.bytes().all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9')) {
        return None;
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote_name = remainder.split(':').next().unwrap_or_default();
    if remote_name.to_lowercase() != remote_name {
        return None;
    }
    parse(&format!("{domain}/{remainder}"))
}

/// `reference.ParseNamed`: `ParseNormalizedNamed`, and the input must be canonical.
pub(crate) fn parse_named(s: &str) -> Option<DockerRef> {
    let r = parse_normalized_named(s)?;
    (r.string() == s).then_some(r)
}

/// containers/image's `splitDockerDomain` (the older one: no upper-case domain rule).
fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.find('/') {
        Some(i) if name[..i].contains(['.', ':']) || &name[..i] == "localhost" => {
            (name[..i].to_string(), name[i + 1..].to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    if domain == "index.docker.io" {
        domain = "docker.io".to_string();
    }
    if domain == "docker.io" && !remainder.contains('/') {
        remainder = format!("library/{remainder}");
    }
    (domain, remainder)
}

/// `reference.Parse` for a string that has a name (ReferenceRegexp, anchored).
fn parse(s: &str) -> Option<DockerRef> {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].find(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if !valid_name(name) || name.len() > NAME_TOTAL_LENGTH_MAX {
        return None;
    }
    if let Some(t) = tag
        && !valid_tag(t)
    {
        return None;
    }
    if let Some(d) = digest
        && !valid_digest(d)
    {
        return None;
    }
    Some(DockerRef {
        name: name.to_string(),
        tag: tag.map(str::to_string),
        digest: digest.map(str::to_string),
    })
}

/// `(domain/)?nameComponent(/nameComponent)*`
fn valid_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    let all_components = |p: &[&str]| !p.is_empty() && p.iter().all(|c| valid_component(c));
    all_components(&parts) || (valid_domain(parts[0]) && all_components(&parts[1..]))
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let (Some(&f), Some(&l)) = (b.first(), b.last()) else {
        return false;
    };
    if !alnum(f) || !alnum(l) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(matches!(sep, "." | "_" | "__") || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

/// `domainComponent(\.domainComponent)*(:[0-9]+)?`
fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    host.split('.').all(|c| {
        let b = c.as_bytes();
        match (b.first(), b.last()) {
            (Some(f), Some(l)) => {
                f.is_ascii_alphanumeric()
                    && l.is_ascii_alphanumeric()
                    && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
            }
            _ => false,
        }
    })
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let w = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = t.as_bytes();
    match b.split_first() {
        Some((&f, rest)) => {
            w(f) && rest.len() <= 127 && rest.iter().all(|&x| w(x) || x == b'.' || x == b'-')
        }
        None => false,
    }
}

/// digestPat, then go-digest's `Parse` (sha256 / sha384 / sha512, lower-case hex of the
/// right length).
fn valid_digest(d: &str) -> bool {
    let Some((algo, hex)) = d.split_once(':') else {
        return false;
    };
    let len = match algo {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == len && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Is `s` a valid remapIdentity prefix (`validateIdentityRemappingPrefix`): a domain, or a
/// name that starts with a domain and `/`.
pub(crate) fn valid_remap_prefix(s: &str) -> bool {
    if valid_domain(s) && !s.is_empty() {
        return true;
    }
    match s.split_once('/') {
        Some((first, _)) => {
            valid_domain(first) && valid_name(s) && s.len() <= NAME_TOTAL_LENGTH_MAX
        }
        None => false,
    }
}

/// The image as containers/image's docker transport sees it (`DockerReference()`); `None`
/// for `oci:` layouts, which have none.
///
/// A bare name is tagged `latest`, as the docker transport does (`TagNameOnly`).
fn intended(image: &ImageName) -> Option<DockerRef> {
    if image.is_oci() {
        return None;
    }
    let mut r = parse_normalized_named(&image.to_string())?;
    if r.is_name_only() {
        r.tag = Some("latest".to_string());
    }
    Some(r)
}

fn match_repo_digest_or_exact(intended: &DockerRef, signature: &DockerRef) -> bool {
    if signature.is_name_only() {
        return false;
    }
    if intended.tag.is_some() {
        signature.string() == intended.string()
    } else if intended.digest.is_some() {
        signature.name == intended.name
    } else {
        false
    }
}

pub(crate) fn matches(si: &SignedIdentity, image: &ImageName, signed: Option<&str>) -> bool {
    if *si == SignedIdentity::Any {
        return true;
    }
    let Some(signature) = signed.and_then(parse_normalized_named) else {
        return false;
    };
    match si {
        SignedIdentity::Any => true,
        SignedIdentity::MatchExact => intended(image).is_some_and(|i| {
            !i.is_name_only() && !signature.is_name_only() && signature.string() == i.string()
        }),
        SignedIdentity::MatchRepoDigestOrExact => {
            intended(image).is_some_and(|i| match_repo_digest_or_exact(&i, &signature))
        }
        SignedIdentity::MatchRepository => {
            intended(image).is_some_and(|i| signature.name == i.name)
        }
        SignedIdentity::ExactReference(r) => parse_normalized_named(r).is_some_and(|i| {
            !i.is_name_only() && !signature.is_name_only() && signature.string() == i.string()
        }),
        SignedIdentity::ExactRepository(r) => {
            parse_normalized_named(r).is_some_and(|i| signature.name == i.name)
        }
        SignedIdentity::RemapIdentity {
            prefix,
            signed_prefix,
        } => {
            let Some(i) = intended(image) else {
                return false;
            };
            let remapped = if ref_matches_prefix(&i.name, prefix) {
                match parse_named(&i.string().replacen(prefix.as_str(), signed_prefix, 1)) {
                    Some(r) => r,
                    None => return false,
                }
            } else {
                i
            };
            match_repo_digest_or_exact(&remapped, &signature)
        }
    }
}

/// `refMatchesPrefix`: the name equals the prefix, or starts with it followed by `/`.
fn ref_matches_prefix(name: &str, prefix: &str) -> bool {
    name == prefix
        || (name.len() > prefix.len()
            && name.starts_with(prefix)
            && name.as_bytes()[prefix.len()] == b'/')
}

/// What the image is expected to be signed as, for messages.
pub(crate) fn expected(si: &SignedIdentity, image: &ImageName) -> String {
    let i = intended(image).map_or_else(|| image.to_string(), |r| r.string());
    match si {
        SignedIdentity::Any => "any reference".to_string(),
        SignedIdentity::MatchRepository => format!(
            "matchRepository on {}",
            intended(image).map_or_else(|| image.name.clone(), |r| r.name)
        ),
        SignedIdentity::ExactReference(_) | SignedIdentity::ExactRepository(_) => si.to_string(),
        SignedIdentity::RemapIdentity { .. } => format!("{si} for {i}"),
        other => format!("{} on {i}", other.type_name()),
    }
}
