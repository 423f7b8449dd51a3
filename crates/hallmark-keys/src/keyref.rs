//! Parsing key references (`--key REF`).

use crate::KeysError;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// Where a key lives. Parse with [`KeyRef::parse`]; `Display` gives the reference with any
/// PIN redacted.
#[derive(Clone)]
#[non_exhaustive]
pub enum KeyRef {
    /// A key file (private or public PEM; cosign's encrypted format included).
    File(PathBuf),
    /// `env://VAR`: the PEM is the value of an environment variable.
    Env(String),
    /// `pkcs11:...`: a key on a PKCS#11 token (RFC 7512 URI).
    Pkcs11(Box<Pkcs11Uri>),
    /// `awskms://[ENDPOINT]/KEY`: an AWS KMS asymmetric key.
    AwsKms {
        /// `host[:port]` to send requests to (`https://`); else the SDK's endpoint resolution
        /// (`AWS_ENDPOINT_URL`, region).
        endpoint: Option<String>,
        /// Key ID, key ARN, `alias/NAME` or alias ARN.
        key_id: String,
    },
    /// `awssm://SECRET[?passphrase-secret=NAME&region=R]`: an (encrypted) key in AWS Secrets
    /// Manager.
    AwsSecret {
        /// Secret name or ARN holding the PEM key.
        secret: String,
        /// Secret holding the key's passphrase (else the passphrase environment variables).
        passphrase_secret: Option<String>,
        /// Region (else the SDK's region resolution).
        region: Option<String>,
    },
    /// `hashivault://KEY`: a key of Vault's transit engine.
    Vault {
        /// The transit key name.
        key: String,
    },
}

/// An RFC 7512 PKCS#11 URI, reduced to what selects a token, a key and a module.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Pkcs11Uri {
    /// `token`: the token label.
    pub token: Option<String>,
    /// `serial`: the token serial number.
    pub serial: Option<String>,
    /// `slot-id`: the slot number.
    pub slot_id: Option<u64>,
    /// `object`: the key label (`CKA_LABEL`).
    pub object: Option<String>,
    /// `id`: the key ID (`CKA_ID`), bytes.
    pub id: Option<Vec<u8>>,
    /// `module-path`: the PKCS#11 library.
    pub module_path: Option<PathBuf>,
    /// `pin-value`.
    pub(crate) pin: Option<Zeroizing<String>>,
}

impl Pkcs11Uri {
    /// Whether the URI carries a PIN (`pin-value`).
    pub fn has_pin(&self) -> bool {
        self.pin.is_some()
    }
}

impl std::fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Uri")
            .field("token", &self.token)
            .field("serial", &self.serial)
            .field("slot_id", &self.slot_id)
            .field("object", &self.object)
            .field("id", &self.id.as_deref().map(hex_slice))
            .field("module_path", &self.module_path)
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn hex_slice(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn invalid(reference: &str, reason: impl Into<String>) -> KeysError {
    KeysError::InvalidReference {
        reference: reference.to_owned(),
        reason: reason.into(),
    }
}

/// Percent-decode an RFC 3986 component.
fn pct_decode(s: &str, reference: &str) -> Result<Vec<u8>, KeysError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    invalid(
                        reference,
                        "expected %XX (two hex digits) after '%' in the PKCS#11 URI",
                    )
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn pct_string(s: &str, attr: &str, reference: &str) -> Result<String, KeysError> {
    String::from_utf8(pct_decode(s, reference)?)
        .map_err(|_| invalid(reference, format!("PKCS#11 attribute {attr}: not UTF-8")))
}

/// The reference with `pin-value`'s value replaced.
fn redact_pkcs11(s: &str) -> String {
    let (path, query) = match s.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (s, None),
    };
    let redact = |part: &str, sep: char| -> String {
        part.split(sep)
            .map(|kv| match kv.split_once('=') {
                Some(("pin-value", _)) => "pin-value=<redacted>".to_owned(),
                _ => kv.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(&sep.to_string())
    };
    match query {
        Some(q) => format!("{}?{}", redact(path, ';'), redact(q, '&')),
        None => redact(path, ';'),
    }
}

impl Pkcs11Uri {
    fn parse(s: &str) -> Result<Self, KeysError> {
        let shown = redact_pkcs11(s);
        let rest = s
            .strip_prefix("pkcs11:")
            .ok_or_else(|| invalid(&shown, "expected a pkcs11: URI"))?;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, q),
            None => (rest, ""),
        };
        let mut uri = Pkcs11Uri::default();
        let mut seen = std::collections::BTreeSet::new();
        let attrs = path
            .split(';')
            .filter(|a| !a.is_empty())
            .map(|a| (a, true))
            .chain(
                query
                    .split('&')
                    .filter(|a| !a.is_empty())
                    .map(|a| (a, false)),
            );
        for (attr, in_path) in attrs {
            let Some((k, v)) = attr.split_once('=') else {
                return Err(invalid(
                    &shown,
                    format!(
                        "PKCS#11 URI attribute {:?}: expected NAME=VALUE",
                        if attr.starts_with("pin-value") {
                            "pin-value"
                        } else {
                            attr
                        }
                    ),
                ));
            };
            if !seen.insert((k.to_owned(), in_path)) {
                return Err(invalid(
                    &shown,
                    format!("PKCS#11 URI attribute {k} given twice"),
                ));
            }
            match (k, in_path) {
                ("token", true) => uri.token = Some(pct_string(v, k, &shown)?),
                ("serial", true) => uri.serial = Some(pct_string(v, k, &shown)?),
                ("slot-id", true) => {
                    uri.slot_id = Some(pct_string(v, k, &shown)?.parse().map_err(|_| {
                        invalid(&shown, format!("slot-id: expected a number, found {v:?}"))
                    })?)
                }
                ("object", true) => uri.object = Some(pct_string(v, k, &shown)?),
                ("id", true) => uri.id = Some(pct_decode(v, &shown)?),
                ("type", true) => {
                    let t = pct_string(v, k, &shown)?;
                    if !matches!(t.as_str(), "private" | "public" | "cert") {
                        return Err(invalid(
                            &shown,
                            format!(
                                "type: expected private (or public), found {t:?}; a signing key is a private key"
                            ),
                        ));
                    }
                }
                ("module-path", false) => {
                    uri.module_path = Some(PathBuf::from(pct_string(v, k, &shown)?))
                }
                ("pin-value", false) => {
                    let pin = Zeroizing::new(pct_decode(v, &shown)?);
                    uri.pin = Some(Zeroizing::new(
                        String::from_utf8(pin.to_vec())
                            .map_err(|_| invalid(&shown, "pin-value: not UTF-8"))?,
                    ));
                }
                ("pin-source", false) => {
                    return Err(invalid(
                        &shown,
                        "pin-source is not supported; give pin-value or set HALLMARK_PKCS11_PIN",
                    ));
                }
                // RFC 7512 attributes that select nothing hallmark needs, and vendor ones.
                (
                    "manufacturer"
                    | "model"
                    | "library-manufacturer"
                    | "library-description"
                    | "library-version"
                    | "slot-description"
                    | "slot-manufacturer",
                    true,
                )
                | ("module-name", false) => {}
                (k, _) if k.starts_with("x-") => {}
                (k, true) => {
                    return Err(invalid(
                        &shown,
                        format!(
                            "unknown PKCS#11 URI path attribute {k:?}; expected token, serial, slot-id, object, id, type"
                        ),
                    ));
                }
                (k, false) => {
                    return Err(invalid(
                        &shown,
                        format!(
                            "unknown PKCS#11 URI query attribute {k:?}; expected module-path, pin-value"
                        ),
                    ));
                }
            }
        }
        if uri.object.is_none() && uri.id.is_none() {
            return Err(invalid(
                &shown,
                "expected object=LABEL or id=%XX to name the key, found neither",
            ));
        }
        Ok(uri)
    }

    /// The URI (RFC 7512 form), with the PIN redacted.
    fn redacted(&self) -> String {
        fn enc(s: &[u8]) -> String {
            s.iter()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(b) {
                        (*b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        }
        let mut path = Vec::new();
        if let Some(t) = &self.token {
            path.push(format!("token={}", enc(t.as_bytes())));
        }
        if let Some(t) = &self.serial {
            path.push(format!("serial={}", enc(t.as_bytes())));
        }
        if let Some(t) = self.slot_id {
            path.push(format!("slot-id={t}"));
        }
        if let Some(t) = &self.object {
            path.push(format!("object={}", enc(t.as_bytes())));
        }
        if let Some(t) = &self.id {
            path.push(format!(
                "id={}",
                t.iter().map(|b| format!("%{b:02X}")).collect::<String>()
            ));
        }
        let mut query = Vec::new();
        if let Some(m) = &self.module_path {
            query.push(format!("module-path={}", m.display()));
        }
        if self.pin.is_some() {
            query.push("pin-value=<redacted>".to_owned());
        }
        let mut s = format!("pkcs11:{}", path.join(";"));
        if !query.is_empty() {
            s.push('?');
            s.push_str(&query.join("&"));
        }
        s
    }
}

fn parse_query(q: &str, shown: &str, allowed: &[&str]) -> Result<Vec<(String, String)>, KeysError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for kv in q.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| invalid(shown, format!("query {kv:?}: expected NAME=VALUE")))?;
        if !allowed.contains(&k) {
            return Err(invalid(
                shown,
                format!(
                    "unknown query parameter {k:?}; expected {}",
                    allowed.join(", ")
                ),
            ));
        }
        if out.iter().any(|(x, _)| x == k) {
            return Err(invalid(shown, format!("query parameter {k} given twice")));
        }
        out.push((k.to_owned(), pct_string(v, k, shown)?));
    }
    Ok(out)
}

impl KeyRef {
    /// Parse a key reference. A string with no known scheme is a file path; an unknown
    /// `SCHEME://` is an error (cosign's `k8s://`, `gcpkms://`, ... are not supported).
    pub fn parse(s: &str) -> Result<Self, KeysError> {
        if s.is_empty() {
            return Err(invalid(
                "\"\"",
                "expected a key file or reference, found nothing",
            ));
        }
        if let Some(var) = s.strip_prefix("env://") {
            let ok = !var.is_empty() && var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                return Err(invalid(
                    s,
                    "expected env://NAME with NAME letters, digits and '_'",
                ));
            }
            return Ok(Self::Env(var.to_owned()));
        }
        if s.starts_with("pkcs11:") {
            return Ok(Self::Pkcs11(Box::new(Pkcs11Uri::parse(s)?)));
        }
        if let Some(rest) = s.strip_prefix("awskms://") {
            let (endpoint, key) = rest.split_once('/').ok_or_else(|| {
                invalid(
                    s,
                    "expected awskms://[ENDPOINT]/KEY (e.g. awskms:///alias/release), found no '/' before the key",
                )
            })?;
            let key_ok = key.starts_with("arn:")
                || key
                    .strip_prefix("alias/")
                    .is_some_and(|n| !n.is_empty() && !n.contains('/'))
                || (!key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
            if !key_ok {
                return Err(invalid(
                    s,
                    format!(
                        "expected a key ID, key ARN, alias/NAME or alias ARN after the endpoint, found {key:?}"
                    ),
                ));
            }
            return Ok(Self::AwsKms {
                endpoint: (!endpoint.is_empty()).then(|| endpoint.to_owned()),
                key_id: key.to_owned(),
            });
        }
        if let Some(rest) = s.strip_prefix("awssm://") {
            let (secret, query) = rest.split_once('?').unwrap_or((rest, ""));
            if secret.is_empty() {
                return Err(invalid(
                    s,
                    "expected awssm://SECRET (a secret name or ARN), found no secret",
                ));
            }
            let mut passphrase_secret = None;
            let mut region = None;
            for (k, v) in parse_query(query, s, &["passphrase-secret", "region"])? {
                match k.as_str() {
                    "passphrase-secret" => passphrase_secret = Some(v),
                    _ => region = Some(v),
                }
            }
            return Ok(Self::AwsSecret {
                secret: secret.to_owned(),
                passphrase_secret,
                region,
            });
        }
        if let Some(key) = s.strip_prefix("hashivault://") {
            let ok = !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !ok {
                return Err(invalid(
                    s,
                    "expected hashivault://KEY with KEY a transit key name (letters, digits, '-', '_', '.')",
                ));
            }
            return Ok(Self::Vault {
                key: key.to_owned(),
            });
        }
        if let Some((scheme, _)) = s.split_once("://")
            && !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return Err(KeysError::Unsupported {
                reference: s.to_owned(),
                reason: format!(
                    "unsupported key reference scheme {scheme}://; expected a file path, env://, pkcs11:, awskms://, awssm:// or hashivault://"
                ),
            });
        }
        Ok(Self::File(PathBuf::from(s)))
    }

    /// The backend's short name: `file`, `env`, `pkcs11`, `awskms`, `awssm`, `hashivault`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
            Self::Env(_) => "env",
            Self::Pkcs11(_) => "pkcs11",
            Self::AwsKms { .. } => "awskms",
            Self::AwsSecret { .. } => "awssm",
            Self::Vault { .. } => "hashivault",
        }
    }

    /// Whether the key is a local file or environment PEM.
    pub fn is_local(&self) -> bool {
        matches!(self, Self::File(_) | Self::Env(_))
    }
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Env(v) => write!(f, "env://{v}"),
            Self::Pkcs11(u) => f.write_str(&u.redacted()),
            Self::AwsKms { endpoint, key_id } => {
                write!(f, "awskms://{}/{key_id}", endpoint.as_deref().unwrap_or(""))
            }
            Self::AwsSecret {
                secret,
                passphrase_secret,
                region,
            } => {
                write!(f, "awssm://{secret}")?;
                let mut sep = '?';
                if let Some(p) = passphrase_secret {
                    write!(f, "{sep}passphrase-secret={p}")?;
                    sep = '&';
                }
                if let Some(r) = region {
                    write!(f, "{sep}region={r}")?;
                }
                Ok(())
            }
            Self::Vault { key } => write!(f, "hashivault://{key}"),
        }
    }
}

impl std::fmt::Debug for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyRef({self})")
    }
}
