//! Image names, image patterns (globs), their specificity and their overlap.
//!
//! A pattern is a glob over an image's `name`, optionally followed by `:TAG` or `@DIGEST`
//! (each literal or a glob) to scope a tag or digest: `*` is any run of characters except
//! `/`, `**` (two or more `*`) any run including `/`, `?` one character other than `/`;
//! everything else is literal. The tag separator is a `:` after the last `/` (after the
//! `oci:` prefix for layouts); the digest separator is `@`.
//!
//! Specificity = literal characters − wildcard tokens. The order this gives reproduces
//! containers-policy.json's scope order for converted policies (identity > repository >
//! longer namespace > shorter namespace > host\[:port\] > `*.sub.domain` > `*.domain` > `""`).

use hallmark_core::RegistryRef;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::Path;

/// An image's name as policies see it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ImageName {
    /// `registry/repository`, Docker Hub as `docker.io/library/x` / `docker.io/ns/x` (any of
    /// docker.io, index.docker.io, registry-1.docker.io); or `oci:PATH` for an OCI layout.
    pub name: String,
    /// Tag as given.
    pub tag: Option<String>,
    /// Digest as given (`algorithm:hex`).
    pub digest: Option<String>,
}

impl ImageName {
    /// From a registry reference, with Docker Hub normalised (a name-only reference keeps
    /// no tag; the collector sets `latest` where the user gave a bare name).
    pub fn from_registry_ref(r: &RegistryRef) -> Self {
        let registry = if r.is_docker_hub() {
            "docker.io"
        } else {
            r.registry.as_str()
        };
        let repository = if r.is_docker_hub() && !r.repository.contains('/') {
            format!("library/{}", r.repository)
        } else {
            r.repository.clone()
        };
        ImageName {
            name: format!("{registry}/{repository}"),
            tag: r.tag.clone(),
            digest: r.digest.as_ref().map(ToString::to_string),
        }
    }

    /// An OCI image layout at `path` (give the absolute, resolved path: containers-policy.json
    /// `oci` scopes are absolute paths), with the tag (`org.opencontainers.image.ref.name`)
    /// and digest as given.
    pub fn from_oci_path(path: &Path, tag: Option<&str>, digest: Option<&str>) -> Self {
        ImageName {
            name: format!("oci:{}", path.display()),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        }
    }

    /// True for `oci:` layouts.
    pub fn is_oci(&self) -> bool {
        self.name.starts_with("oci:")
    }
}

impl fmt::Display for ImageName {
    /// `name[:tag][@digest]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Why a pattern is not a valid glob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image pattern {pattern:?}: {reason}")]
pub struct PatternError {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong.
    pub reason: &'static str,
}

/// A glob token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Lit(char),
    /// `?`
    One,
    /// `*`
    Star,
    /// `**`
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob(Vec<Token>);

impl Glob {
    fn parse(s: &str) -> Glob {
        let mut tokens = Vec::new();
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => {
                    let mut j = i;
                    while j < chars.len() && chars[j] == '*' {
                        j += 1;
                    }
                    tokens.push(if j - i >= 2 { Token::Any } else { Token::Star });
                    i = j;
                }
                '?' => {
                    tokens.push(Token::One);
                    i += 1;
                }
                c => {
                    tokens.push(Token::Lit(c));
                    i += 1;
                }
            }
        }
        Glob(tokens)
    }

    fn specificity(&self) -> i64 {
        self.0
            .iter()
            .map(|t| match t {
                Token::Lit(_) => 1,
                _ => -1,
            })
            .sum()
    }

    /// NFA state successors on `c` from state `i` (no epsilon).
    fn step(&self, i: usize, c: char, out: &mut Vec<usize>) {
        match self.0.get(i) {
            Some(Token::Lit(l)) if *l == c => out.push(i + 1),
            Some(Token::One) if c != '/' => out.push(i + 1),
            Some(Token::Star) if c != '/' => out.push(i),
            Some(Token::Any) => out.push(i),
            _ => {}
        }
    }

    fn is_wild(&self, i: usize) -> bool {
        matches!(self.0.get(i), Some(Token::Star | Token::Any))
    }

    fn matches(&self, s: &str) -> bool {
        // The state sets and the step buffer are made once per match, not once per character:
        // admission decides every image of every request through here.
        let n = self.0.len();
        let mut cur = vec![false; n + 1];
        let mut next = vec![false; n + 1];
        let mut out = Vec::with_capacity(4);
        cur[0] = true;
        self.close(&mut cur);
        for c in s.chars() {
            next.fill(false);
            let mut any = false;
            for (i, on) in cur.iter().enumerate() {
                if *on {
                    out.clear();
                    self.step(i, c, &mut out);
                    for &j in &out {
                        next[j] = true;
                        any = true;
                    }
                }
            }
            if !any {
                return false;
            }
            self.close(&mut next);
            std::mem::swap(&mut cur, &mut next);
        }
        cur[n]
    }

    fn close(&self, set: &mut [bool]) {
        for i in 0..self.0.len() {
            if set[i] && self.is_wild(i) {
                set[i + 1] = true;
            }
        }
    }

    fn literals(&self) -> impl Iterator<Item = char> + '_ {
        self.0.iter().filter_map(|t| match t {
            Token::Lit(c) => Some(*c),
            _ => None,
        })
    }
}

/// An image pattern (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePattern {
    text: String,
    name: Glob,
    tag: Option<Glob>,
    digest: Option<Glob>,
}

impl ImagePattern {
    /// Parse a pattern.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let err = |reason| PatternError {
            pattern: text.to_string(),
            reason,
        };
        if text.is_empty() {
            return Err(err("the pattern is empty"));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(
                "whitespace and control characters never occur in an image name",
            ));
        }
        let (oci, body) = match text.strip_prefix("oci:") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (rest, digest) = match body.find('@') {
            Some(i) if !body[i + 1..].contains('/') => (&body[..i], Some(&body[i + 1..])),
            Some(_) if !oci => {
                return Err(err("`@` introduces a digest, which cannot contain `/`"));
            }
            _ => (body, None),
        };
        if digest.is_some_and(|d| d.is_empty() || d.contains('@')) {
            return Err(err("the digest after `@` is empty or has another `@`"));
        }
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => {
                let colon = last_slash + i;
                (&rest[..colon], Some(&rest[colon + 1..]))
            }
            None => (rest, None),
        };
        if tag.is_some_and(|t| t.is_empty() || t.contains(':')) {
            return Err(err("the tag after `:` is empty or has another `:`"));
        }
        if name.is_empty() {
            return Err(err("the name part is empty"));
        }
        let name = if oci {
            format!("oci:{name}")
        } else {
            name.to_string()
        };
        Ok(ImagePattern {
            text: text.to_string(),
            name: Glob::parse(&name),
            tag: tag.map(Glob::parse),
            digest: digest.map(Glob::parse),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Literal characters minus wildcard tokens (`:`/`@` separators count as literals).
    pub fn specificity(&self) -> i64 {
        self.name.specificity()
            + self.tag.as_ref().map_or(0, |t| 1 + t.specificity())
            + self.digest.as_ref().map_or(0, |d| 1 + d.specificity())
    }

    /// Does the pattern match `image`? A tag (digest) scope needs the image's tag (digest); a
    /// registry image with neither counts as tagged `latest`.
    pub fn matches(&self, image: &ImageName) -> bool {
        if !self.name.matches(&image.name) {
            return false;
        }
        let part = |g: &Option<Glob>, v: Option<&str>| match (g, v) {
            (None, _) => true,
            (Some(g), Some(v)) => g.matches(v),
            (Some(_), None) => false,
        };
        // A registry image given by bare name is `name:latest`, as the docker transport
        // reads it.
        let tag = if image.tag.is_none() && image.digest.is_none() && !image.is_oci() {
            Some("latest")
        } else {
            image.tag.as_deref()
        };
        part(&self.tag, tag) && part(&self.digest, image.digest.as_deref())
    }

    /// An image name both patterns match (names restricted to plausible registry names
    /// `host[:port]/path` and `oci:PATH`, tags to `[A-Za-z0-9_][A-Za-z0-9_.-]*`, digests to
    /// `algorithm:hex`), or `None` when their languages do not intersect.
    pub fn intersection(&self, other: &ImagePattern) -> Option<ImageName> {
        let name = intersect(&self.name, &other.name, Domain::Name)?;
        let both = |a: &Option<Glob>, b: &Option<Glob>, d: Domain| -> Option<Option<String>> {
            match (a, b) {
                (None, None) => Some(None),
                (Some(g), None) | (None, Some(g)) => {
                    Some(Some(intersect(g, &Glob::parse("**"), d)?))
                }
                (Some(x), Some(y)) => Some(Some(intersect(x, y, d)?)),
            }
        };
        let tag = both(&self.tag, &other.tag, Domain::Tag)?;
        let digest = both(&self.digest, &other.digest, Domain::Digest)?;
        Some(ImageName { name, tag, digest })
    }
}

impl fmt::Display for ImagePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The strings an image part can be (a small NFA), so that overlap examples are real names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Domain {
    Name,
    Tag,
    Digest,
}

// Name NFA states.
const N_START: u8 = 0;
const N_O: u8 = 1;
const N_OC: u8 = 2;
const N_OCI: u8 = 3;
const N_OCI_COLON: u8 = 4;
const N_PATH: u8 = 5;
const N_HOST: u8 = 6;
const N_PORT0: u8 = 7;
const N_PORT: u8 = 8;
const N_COMP0: u8 = 9;
const N_COMP: u8 = 10;
// Tag / digest states.
const T_START: u8 = 0;
const T_MORE: u8 = 1;
const D_START: u8 = 0;
const D_ALGO: u8 = 1;
const D_HEX0: u8 = 2;
const D_HEX: u8 = 3;

impl Domain {
    fn start(self) -> u8 {
        match self {
            Domain::Name => N_START,
            Domain::Tag => T_START,
            Domain::Digest => D_START,
        }
    }

    fn accepting(self, s: u8) -> bool {
        match self {
            Domain::Name => s == N_PATH || s == N_COMP,
            Domain::Tag => s == T_MORE,
            Domain::Digest => s == D_HEX,
        }
    }

    fn step(self, s: u8, c: char, out: &mut Vec<u8>) {
        let host = c.is_ascii_alphanumeric() || c == '.' || c == '-';
        let comp = c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
        match self {
            Domain::Name => match s {
                N_START => {
                    if c == 'o' {
                        out.push(N_O);
                    }
                    if host {
                        out.push(N_HOST);
                    }
                }
                N_O if c == 'c' => out.push(N_OC),
                N_OC if c == 'i' => out.push(N_OCI),
                N_OCI if c == ':' => out.push(N_OCI_COLON),
                N_OCI_COLON | N_PATH => out.push(N_PATH),
                N_HOST => {
                    if host {
                        out.push(N_HOST);
                    }
                    if c == ':' {
                        out.push(N_PORT0);
                    }
                    if c == '/' {
                        out.push(N_COMP0);
                    }
                }
                N_PORT0 | N_PORT => {
                    if c.is_ascii_digit() {
                        out.push(N_PORT);
                    }
                    if s == N_PORT && c == '/' {
                        out.push(N_COMP0);
                    }
                }
                N_COMP0 | N_COMP => {
                    if comp {
                        out.push(N_COMP);
                    }
                    if s == N_COMP && c == '/' {
                        out.push(N_COMP0);
                    }
                }
                _ => {}
            },
            Domain::Tag => {
                let first = c.is_ascii_alphanumeric() || c == '_';
                if (s == T_START && first) || (s == T_MORE && (first || c == '.' || c == '-')) {
                    out.push(T_MORE);
                }
            }
            Domain::Digest => match s {
                D_START | D_ALGO => {
                    if c.is_ascii_lowercase() || c.is_ascii_digit() {
                        out.push(D_ALGO);
                    }
                    if s == D_ALGO && c == ':' {
                        out.push(D_HEX0);
                    }
                }
                D_HEX0 | D_HEX if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() => {
                    out.push(D_HEX)
                }
                _ => {}
            },
        }
    }
}

/// Bound on explored product states: patterns are short, this only guards against
/// adversarial input (the answer is then "they may intersect", with no example).
const MAX_STATES: usize = 2_000_000;

/// Breadth-first search of the product of two glob NFAs and the domain NFA: the shortest
/// string in all three languages.
fn intersect(a: &Glob, b: &Glob, domain: Domain) -> Option<String> {
    let mut alphabet: Vec<char> = a.literals().chain(b.literals()).collect();
    alphabet.extend(['a', 'g', 'A', '0', '.', '-', '_', '+', ':', '/', '@', '~']);
    alphabet.sort_unstable();
    alphabet.dedup();
    type State = (usize, usize, u8);
    let start: State = (0, 0, domain.start());
    let mut parent: HashMap<State, Option<(State, Option<char>)>> = HashMap::new();
    let mut queue = VecDeque::new();
    parent.insert(start, None);
    queue.push_back(start);
    let (na, nb) = (a.0.len(), b.0.len());
    let mut sa = Vec::new();
    let mut sb = Vec::new();
    let mut sd = Vec::new();
    while let Some(st @ (i, j, d)) = queue.pop_front() {
        if i == na && j == nb && domain.accepting(d) {
            let mut out = Vec::new();
            let mut cur = st;
            while let Some(Some((prev, c))) = parent.get(&cur) {
                if let Some(c) = c {
                    out.push(*c);
                }
                cur = *prev;
            }
            out.reverse();
            return Some(out.into_iter().collect());
        }
        if parent.len() > MAX_STATES {
            return Some(String::from("(too complex to find an example)"));
        }
        let mut push = |next: State, c: Option<char>, parent: &mut HashMap<_, _>| {
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(next) {
                e.insert(Some((st, c)));
                queue.push_back(next);
            }
        };
        if a.is_wild(i) {
            push((i + 1, j, d), None, &mut parent);
        }
        if b.is_wild(j) {
            push((i, j + 1, d), None, &mut parent);
        }
        for &c in &alphabet {
            sa.clear();
            a.step(i, c, &mut sa);
            if sa.is_empty() {
                continue;
            }
            sb.clear();
            b.step(j, c, &mut sb);
            if sb.is_empty() {
                continue;
            }
            sd.clear();
            domain.step(d, c, &mut sd);
            for &x in &sa {
                for &y in &sb {
                    for &z in &sd {
                        push((x, y, z), Some(c), &mut parent);
                    }
                }
            }
        }
    }
    None
}
