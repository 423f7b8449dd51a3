//! Image references: `registry/repo:tag`, `registry/repo@sha256:...`, `oci:DIR[:tag]`.

use crate::{digest::Digest, error::ReferenceError};
use std::path::PathBuf;

/// A reference to an image in a registry.
///
/// Follows docker's grammar: the first path component is the registry when it contains a `.` or
/// a `:` or is `localhost`; otherwise the registry is `docker.io` (and one-component names get
/// `library/`). Both a tag and a digest may be given (`repo:tag@sha256:...`): the digest wins.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegistryRef {
    /// Registry host\[:port\] as written (`docker.io` for Docker Hub).
    pub registry: String,
    /// Repository path, lower case, e.g. `demo/app`.
    pub repository: String,
    /// Tag, if given.
    pub tag: Option<String>,
    /// Digest, if given.
    pub digest: Option<Digest>,
}

impl RegistryRef {
    /// Parse a registry reference (without a transport prefix).
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let invalid = |reason: &'static str| ReferenceError::Invalid {
            found: s.to_string(),
            reason,
        };
        if s.is_empty() {
            return Err(invalid("the reference is empty"));
        }
        // name [":" tag] ["@" digest]
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => {
                if d.contains('@') {
                    return Err(invalid("more than one `@`"));
                }
                let digest = Digest::parse(d).map_err(|source| ReferenceError::Digest {
                    found: s.to_string(),
                    source,
                })?;
                (rest, Some(digest))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let colon = last_slash + i;
                let tag = &rest[colon + 1..];
                if !is_valid_tag(tag) {
                    return Err(invalid(
                        "the tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
                    ));
                }
                (&rest[..colon], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(invalid("the repository name is empty"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                if !is_valid_domain(first) {
                    return Err(invalid(
                        "the registry must be a host name, IPv4 address or [IPv6] address with an optional :port",
                    ));
                }
                (first.to_string(), remainder)
            }
            _ => (DOCKER_HUB.to_string(), name),
        };
        if repository.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(invalid("the repository name must be lower case"));
        }
        if !repository.split('/').all(is_valid_path_component) {
            return Err(invalid(
                "each repository path component must be [a-z0-9]+ joined by `.`, `_`, `__` or `-`",
            ));
        }
        let repository = if is_docker_hub(&registry) && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_string()
        };
        // Checked on the normalised name, as `distribution/reference` does, so that what
        // parses also parses again after Display.
        if registry.len() + 1 + repository.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(invalid(
                "the name (registry/repository) is longer than 255 characters",
            ));
        }
        Ok(Self {
            registry,
            repository,
            tag,
            digest,
        })
    }
    /// `registry/repository` as cosign writes it into `docker-reference` (Docker Hub as
    /// `index.docker.io`, as go-containerregistry names it).
    pub fn repository_name(&self) -> String {
        if is_docker_hub(&self.registry) {
            format!("index.docker.io/{}", self.repository)
        } else {
            format!("{}/{}", self.registry, self.repository)
        }
    }
    /// The host to talk to over HTTP (`registry-1.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        if is_docker_hub(&self.registry) {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }
    /// A copy that points at `digest` (tag dropped).
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: None,
            digest: Some(digest),
        }
    }
    /// A copy that points at `tag` (digest dropped).
    pub fn with_tag(&self, tag: &str) -> Self {
        Self {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        }
    }
    /// True when the registry is Docker Hub (`docker.io`, `index.docker.io` or
    /// `registry-1.docker.io`).
    pub fn is_docker_hub(&self) -> bool {
        is_docker_hub(&self.registry)
    }
    /// True when the registry host is a loopback name or address
    /// (`localhost`, 127.0.0.0/8, `::1`), with or without a port.
    pub fn is_loopback(&self) -> bool {
        let host = host_without_port(&self.registry);
        if host.eq_ignore_ascii_case("localhost") || host == "[::1]" {
            return true;
        }
        let octets: Vec<&str> = host.split('.').collect();
        octets.len() == 4
            && octets[0] == "127"
            && octets
                .iter()
                .all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok())
    }
}

impl std::fmt::Display for RegistryRef {
    /// `registry/repo[:tag][@digest]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// An image, in a registry or in an OCI image layout directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImageRef {
    /// `registry/repo[:tag][@digest]`
    Registry(RegistryRef),
    /// `oci:DIR[:tag][@digest]`: an OCI image layout. The tag is the
    /// `org.opencontainers.image.ref.name` annotation in `index.json`.
    Layout {
        /// The layout directory.
        path: PathBuf,
        /// Tag, if given.
        tag: Option<String>,
        /// Digest, if given.
        digest: Option<Digest>,
    },
}

impl ImageRef {
    /// Parse `oci:DIR[:tag][@digest]` or a registry reference (`docker://` prefix allowed).
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        match s.strip_prefix("oci:") {
            Some(rest) => parse_layout(s, rest),
            None => {
                RegistryRef::parse(s.strip_prefix("docker://").unwrap_or(s)).map(Self::Registry)
            }
        }
    }
    /// The digest, if the reference names one.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            Self::Registry(r) => r.digest.as_ref(),
            Self::Layout { digest, .. } => digest.as_ref(),
        }
    }
    /// The tag, if the reference names one.
    pub fn tag(&self) -> Option<&str> {
        match self {
            Self::Registry(r) => r.tag.as_deref(),
            Self::Layout { tag, .. } => tag.as_deref(),
        }
    }
}

impl std::fmt::Display for ImageRef {
    /// `registry/repo[:tag][@digest]` or `oci:DIR[:tag][@digest]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Registry(r) => r.fmt(f),
            Self::Layout { path, tag, digest } => {
                write!(f, "oci:{}", path.display())?;
                if let Some(tag) = tag {
                    write!(f, ":{tag}")?;
                }
                if let Some(digest) = digest {
                    write!(f, "@{digest}")?;
                }
                Ok(())
            }
        }
    }
}

/// The registry name of Docker Hub when none is given.
const DOCKER_HUB: &str = "docker.io";
/// Longest accepted name (registry and repository), as in `distribution/reference`.
const NAME_TOTAL_LENGTH_MAX: usize = 255;

fn is_docker_hub(registry: &str) -> bool {
    matches!(
        registry,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    )
}

/// `oci:DIR[:tag][@digest]`; `rest` is what follows `oci:`.
fn parse_layout(s: &str, rest: &str) -> Result<ImageRef, ReferenceError> {
    let invalid = |reason: &'static str| ReferenceError::Invalid {
        found: s.to_string(),
        reason,
    };
    let (rest, digest) = match rest.rfind('@') {
        Some(i) if !rest[i + 1..].contains('/') => {
            let digest =
                Digest::parse(&rest[i + 1..]).map_err(|source| ReferenceError::Digest {
                    found: s.to_string(),
                    source,
                })?;
            (&rest[..i], Some(digest))
        }
        _ => (rest, None),
    };
    let (dir, tag) = match rest.rfind(':') {
        Some(i) if !rest[i + 1..].contains('/') => {
            let tag = &rest[i + 1..];
            if !is_valid_tag(tag) {
                return Err(invalid(
                    "the layout tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
                ));
            }
            (&rest[..i], Some(tag.to_string()))
        }
        _ => (rest, None),
    };
    if dir.is_empty() {
        return Err(invalid("the OCI layout directory is empty"));
    }
    Ok(ImageRef::Layout {
        path: PathBuf::from(dir),
        tag,
        digest,
    })
}

/// Whether `name` is a repository name of the docker reference grammar
/// (`distribution/reference` NameRegexp, with docker's domain split: a first component with
/// `.` or `:`, or `localhost`, is a domain): `[domain[:port]/]component(/component)*`, each
/// component `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`, at most 255 characters; no tag, no
/// digest. Notary GUNs are such names.
pub fn is_valid_name(name: &str) -> bool {
    if name.is_empty() || name.len() > NAME_TOTAL_LENGTH_MAX {
        return false;
    }
    let mut components = name.split('/');
    let first = components.next().unwrap_or_default();
    let rest: Vec<&str> = components.collect();
    // As docker splits a name: the first component is a domain only when it looks like one.
    let looks_like_domain = first.contains(['.', ':']) || first == "localhost";
    let first_ok = if !rest.is_empty() && looks_like_domain {
        is_valid_domain(first)
    } else {
        is_valid_path_component(first)
    };
    first_ok && rest.iter().all(|c| is_valid_path_component(c))
}

/// True for a valid tag: `[\w][\w.-]{0,127}` (the distribution spec's tag grammar).
pub fn is_valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    match bytes.split_first() {
        Some((&first, rest)) => {
            word(first)
                && rest.len() <= 127
                && rest.iter().all(|&b| word(b) || b == b'.' || b == b'-')
        }
        None => false,
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host[:port]` where host is a domain name, an IPv4 address or `[IPv6]`.
fn is_valid_domain(domain: &str) -> bool {
    let (host, port) = if let Some(after_bracket) = domain.strip_prefix('[') {
        let Some((inner, after)) = after_bracket.split_once(']') else {
            return false;
        };
        if inner.is_empty()
            || !inner.contains(':')
            || !inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("[]", Some(port)),
                None => return false,
            },
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    host == "[]"
        || host.split('.').all(|c| {
            let b = c.as_bytes();
            match (b.first(), b.last()) {
                (Some(&f), Some(&l)) => {
                    f.is_ascii_alphanumeric()
                        && l.is_ascii_alphanumeric()
                        && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
                }
                _ => false,
            }
        })
}

/// The host part of `host[:port]` (brackets of an IPv6 address kept).
fn host_without_port(registry: &str) -> &str {
    if registry.starts_with('[') {
        match registry.find(']') {
            Some(i) => &registry[..=i],
            None => registry,
        }
    } else {
        registry.split_once(':').map_or(registry, |(h, _)| h)
    }
}
