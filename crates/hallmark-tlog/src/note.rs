//! C2SP signed notes (`c2sp.org/signed-note`): text signed by one or more keys.
//!
//! ```text
//! <text, ending in a newline>
//!
//! — <key name> <base64(4-byte key ID, big-endian || signature)>
//! ```
//!
//! Key IDs ("key hashes") as the specification and its users define them:
//!
//! - Ed25519 (signature type `0x01`): `SHA-256(name || 0x0A || 0x01 || 32-byte key)[:4]`
//!   ([`Ed25519NoteSigner`], [`Ed25519NoteVerifier`]). Go's `golang.org/x/mod/sumdb/note`
//!   vkeys (`<name>+<hex id>+<base64(0x01 || key)>`) and skeys are read and written.
//! - ECDSA (signature type `0x02`, "as implemented by transparency-dev/witness"):
//!   `SHA-256(DER SubjectPublicKeyInfo)[:4]`, the name is not hashed in. Rekor v1
//!   (`pkg/util/signed_note.go`) and Rekor v2 (`rekor-tiles/pkg/note`) compute the same ID for
//!   their ECDSA checkpoint keys, so one rule serves all three; the signature is ASN.1 DER
//!   ECDSA P-256 / SHA-256 over the note text ([`EcdsaNoteSigner`], [`EcdsaNoteVerifier`]).
//!   vkeys are `<name>+<hex id>+<base64(0x02 || DER SPKI)>` (transparency-dev's convention).
//! - Rekor v1 hashes the DER SPKI for *every* key type, so its Ed25519 key ID differs from
//!   C2SP's; [`Ed25519NoteVerifier::with_key_hash`] with [`spki_key_hash`] covers that case.
//!
//! Parsing follows the specification and Go's reference implementation: valid UTF-8, no
//! control characters but newline, the text is everything up to the *last* blank line, notes
//! over [`MAX_NOTE_SIZE`] or with more than [`MAX_SIGNATURES`] signature lines are rejected,
//! signatures by unknown keys are kept but not trusted, a known key's bad signature rejects
//! the note, and at least one known key must have signed.

use crate::hash::sha256;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{KeyAlgorithm, PublicKey, SigningKey};
use thiserror::Error;

/// Largest note accepted, in bytes (1 MiB).
pub const MAX_NOTE_SIZE: usize = 1 << 20;
/// Most signature lines accepted in one note (the specification requires at least 16).
pub const MAX_SIGNATURES: usize = 100;
/// Signature type byte of Ed25519 note signatures.
pub const SIG_TYPE_ED25519: u8 = 0x01;
/// Signature type byte of ECDSA note signatures.
pub const SIG_TYPE_ECDSA: u8 = 0x02;

/// The separator before each signature: em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), followed by the 32-byte key.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Why a note could not be parsed, signed or verified. Values from the note are untrusted and
/// shown for diagnosis.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is larger than [`MAX_NOTE_SIZE`].
    #[error("signed note is {size} bytes, expected at most {max}")]
    TooLarge {
        /// The size given.
        size: usize,
        /// [`MAX_NOTE_SIZE`].
        max: usize,
    },
    /// The note is not UTF-8.
    #[error("signed note is not valid UTF-8 (at byte {offset})")]
    NotUtf8 {
        /// Where the invalid sequence starts.
        offset: usize,
    },
    /// The note has a control character other than newline.
    #[error(
        "signed note has control character 0x{byte:02x} at byte {offset}; expected none but newline"
    )]
    ControlCharacter {
        /// Where it is.
        offset: usize,
        /// The character.
        byte: u8,
    },
    /// The overall shape is wrong.
    #[error("malformed signed note: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// A signature line is malformed.
    #[error("malformed signature line {line} of the signed note: {reason}")]
    BadSignatureLine {
        /// 1-based line number within the signature block.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A key name is empty or has a space or `+`.
    #[error("invalid key name {name:?}: expected a non-empty name without spaces or '+'")]
    BadKeyName {
        /// The name.
        name: String,
    },
    /// More signature lines than [`MAX_SIGNATURES`].
    #[error("signed note has more than {max} signatures")]
    TooManySignatures {
        /// [`MAX_SIGNATURES`].
        max: usize,
    },
    /// A known key's signature does not verify.
    #[error("the signature by {name} (key ID {key_hash:08x}) does not verify")]
    InvalidSignature {
        /// Key name.
        name: String,
        /// Key ID.
        key_hash: u32,
    },
    /// No signature by a known key.
    #[error(
        "no signature by a known key: expected one of [{}], found [{}]",
        .expected.join(", "), .found.join(", ")
    )]
    NoVerifiedSignature {
        /// The known keys, as `name+keyid`.
        expected: Vec<String>,
        /// The signatures in the note, as `name+keyid`.
        found: Vec<String>,
    },
    /// The text to sign is not a valid note text.
    #[error("invalid note text: {reason}")]
    BadText {
        /// What is wrong.
        reason: &'static str,
    },
    /// Signing was asked with no signer.
    #[error("a signed note needs at least one signer, none given")]
    NoSigners,
    /// A signer failed.
    #[error("signing the note as {name} failed: {reason}")]
    Signing {
        /// Key name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A key is not usable for notes.
    #[error("note key: {reason}")]
    BadKey {
        /// Why.
        reason: String,
    },
    /// A verifier or signer key string (vkey / skey) is malformed.
    #[error("malformed note key string: {reason}")]
    BadKeyString {
        /// Why.
        reason: String,
    },
}

/// Signs note texts.
pub trait NoteSigner {
    /// The key name written in the signature line.
    fn name(&self) -> &str;
    /// The 4-byte key ID, big-endian.
    fn key_hash(&self) -> u32;
    /// The signature over `text` (the note text, final newline included).
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, NoteError>;
}

/// Verifies note signatures by one key.
pub trait NoteVerifier {
    /// The key name.
    fn name(&self) -> &str;
    /// The 4-byte key ID, big-endian.
    fn key_hash(&self) -> u32;
    /// Whether `signature` (without the key ID) is valid over `text`.
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool;
}

/// Whether `name` is a valid key name: non-empty, no Unicode white space, no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(NoteError::BadKeyName {
            name: name.to_owned(),
        })
    }
}

fn first4(bytes: &[u8]) -> u32 {
    let d = sha256(bytes);
    u32::from_be_bytes([d.0[0], d.0[1], d.0[2], d.0[3]])
}

/// The recommended key ID: `SHA-256(name || 0x0A || sig_type || public_key)[:4]`.
pub fn key_hash(name: &str, sig_type: u8, public_key: &[u8]) -> u32 {
    let mut buf = Vec::with_capacity(name.len() + 2 + public_key.len());
    buf.extend_from_slice(name.as_bytes());
    buf.push(b'\n');
    buf.push(sig_type);
    buf.extend_from_slice(public_key);
    first4(&buf)
}

/// The ECDSA (and Rekor v1) key ID: `SHA-256(DER SubjectPublicKeyInfo)[:4]`.
pub fn spki_key_hash(spki_der: &[u8]) -> u32 {
    first4(spki_der)
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key ID.
    pub key_hash: u32,
    /// The signature bytes, after the key ID.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, `— <name> <base64(key ID || signature)>\n`.
    pub fn line(&self) -> String {
        let mut bytes = Vec::with_capacity(4 + self.signature.len());
        bytes.extend_from_slice(&self.key_hash.to_be_bytes());
        bytes.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, STANDARD.encode(bytes))
    }

    /// `name+keyid` (hex), as in error messages.
    pub fn key_label(&self) -> String {
        format!("{}+{:08x}", self.name, self.key_hash)
    }
}

/// Check the characters of a note or note text.
fn check_chars(bytes: &[u8]) -> Result<&str, NoteError> {
    if bytes.len() > MAX_NOTE_SIZE {
        return Err(NoteError::TooLarge {
            size: bytes.len(),
            max: MAX_NOTE_SIZE,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| NoteError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    // Control characters are ASCII, so a byte scan finds them in UTF-8.
    if let Some(offset) = bytes.iter().position(|&b| b < 0x20 && b != b'\n') {
        return Err(NoteError::ControlCharacter {
            offset,
            byte: bytes[offset],
        });
    }
    Ok(text)
}

fn check_text(text: &str) -> Result<(), NoteError> {
    check_chars(text.as_bytes()).map_err(|e| match e {
        NoteError::ControlCharacter { .. } | NoteError::NotUtf8 { .. } => NoteError::BadText {
            reason: "the text has a control character other than newline",
        },
        other => other,
    })?;
    if !text.ends_with('\n') {
        return Err(NoteError::BadText {
            reason: "the text must end with a newline",
        });
    }
    Ok(())
}

/// A note: its text and its signature lines, none of them verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// An unsigned note with `text`, which must end with a newline and have no control
    /// characters but newlines. Add signatures with [`Note::sign`].
    pub fn new(text: &str) -> Result<Self, NoteError> {
        check_text(text)?;
        Ok(Self {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    /// Parse a signed note without verifying it.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        let all = check_chars(bytes)?;
        let split = all.rfind("\n\n").ok_or(NoteError::Malformed {
            reason: "no blank line between the text and the signatures",
        })?;
        let (text, sigs) = (&all[..=split], &all[split + 2..]);
        if sigs.is_empty() {
            return Err(NoteError::Malformed {
                reason: "no signature lines after the blank line",
            });
        }
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(NoteError::Malformed {
                reason: "the last signature line does not end with a newline",
            });
        };
        let mut signatures = Vec::new();
        for (i, line) in sigs.split('\n').enumerate() {
            let bad = |reason| NoteError::BadSignatureLine {
                line: i + 1,
                reason,
            };
            if i >= MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    max: MAX_SIGNATURES,
                });
            }
            let rest = line
                .strip_prefix(SIG_PREFIX)
                .ok_or_else(|| bad("expected it to start with an em dash and a space"))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or_else(|| bad("expected a key name, a space and a base64 signature"))?;
            check_name(name)?;
            let raw = STANDARD
                .decode(b64)
                .map_err(|_| bad("the signature is not standard base64"))?;
            if raw.len() < 5 {
                return Err(bad(
                    "the signature is shorter than a 4-byte key ID and one byte",
                ));
            }
            let key_hash = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_hash,
                signature: raw[4..].to_vec(),
            });
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The text (what the signatures cover), final newline included.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in note order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Add a signature by each signer (after the existing ones).
    pub fn sign(&mut self, signers: &[&dyn NoteSigner]) -> Result<(), NoteError> {
        if signers.is_empty() {
            return Err(NoteError::NoSigners);
        }
        if self.signatures.len() + signers.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        for signer in signers {
            check_name(signer.name())?;
            let signature = signer.sign(self.text.as_bytes())?;
            if signature.is_empty() {
                return Err(NoteError::Signing {
                    name: signer.name().to_owned(),
                    reason: "the signer returned an empty signature".into(),
                });
            }
            self.signatures.push(NoteSignature {
                name: signer.name().to_owned(),
                key_hash: signer.key_hash(),
                signature,
            });
        }
        Ok(())
    }

    /// The whole note: text, blank line, signature lines. (Only a valid note once signed.)
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 1 + 120 * self.signatures.len());
        out.push_str(&self.text);
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.line());
        }
        out
    }

    /// Verify against the known keys: every signature by a known (name, key ID) must verify,
    /// and at least one must be present. Repeated signatures by one key count once; signatures
    /// by unknown keys are returned as unverified.
    pub fn verify(&self, known: &[&dyn NoteVerifier]) -> Result<VerifiedNote, NoteError> {
        let mut verified: Vec<NoteSignature> = Vec::new();
        let mut unverified: Vec<NoteSignature> = Vec::new();
        for sig in &self.signatures {
            let mut candidates = known
                .iter()
                .filter(|v| v.name() == sig.name && v.key_hash() == sig.key_hash)
                .peekable();
            if candidates.peek().is_none() {
                if !unverified.contains(sig) {
                    unverified.push(sig.clone());
                }
                continue;
            }
            if verified
                .iter()
                .any(|v| v.name == sig.name && v.key_hash == sig.key_hash)
            {
                continue;
            }
            if !candidates.any(|v| v.verify(self.text.as_bytes(), &sig.signature)) {
                return Err(NoteError::InvalidSignature {
                    name: sig.name.clone(),
                    key_hash: sig.key_hash,
                });
            }
            verified.push(sig.clone());
        }
        if verified.is_empty() {
            return Err(NoteError::NoVerifiedSignature {
                expected: known
                    .iter()
                    .map(|v| format!("{}+{:08x}", v.name(), v.key_hash()))
                    .collect(),
                found: self
                    .signatures
                    .iter()
                    .map(NoteSignature::key_label)
                    .collect(),
            });
        }
        Ok(VerifiedNote {
            text: self.text.clone(),
            verified,
            unverified,
        })
    }
}

/// A note with at least one verified signature.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedNote {
    /// The text.
    pub text: String,
    /// The signatures by known keys (each verified), one per key.
    pub verified: Vec<NoteSignature>,
    /// The signatures by unknown keys (not checked), without exact duplicates.
    pub unverified: Vec<NoteSignature>,
}

/// Sign `text` with every signer and return the note.
pub fn sign(text: &str, signers: &[&dyn NoteSigner]) -> Result<String, NoteError> {
    let mut note = Note::new(text)?;
    note.sign(signers)?;
    Ok(note.to_text())
}

/// Parse a signed note and verify it against the known keys ([`Note::verify`]).
pub fn open(bytes: &[u8], known: &[&dyn NoteVerifier]) -> Result<VerifiedNote, NoteError> {
    Note::parse(bytes)?.verify(known)
}

fn bad_key_string(reason: impl Into<String>) -> NoteError {
    NoteError::BadKeyString {
        reason: reason.into(),
    }
}

/// Split `<name>+<8 hex key ID>+<base64 key>` and check the name and ID syntax.
pub(crate) fn split_key_string(s: &str) -> Result<(&str, u32, Vec<u8>), NoteError> {
    let (name, rest) = s
        .split_once('+')
        .ok_or_else(|| bad_key_string("expected <name>+<key ID>+<key>"))?;
    let (id, key) = rest
        .split_once('+')
        .ok_or_else(|| bad_key_string("expected <name>+<key ID>+<key>"))?;
    check_name(name)?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad_key_string(format!(
            "key ID {id:?}: expected 8 hex digits"
        )));
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| bad_key_string("key ID is not hex"))?;
    let key = STANDARD
        .decode(key)
        .map_err(|_| bad_key_string("the key is not standard base64"))?;
    Ok((name, id, key))
}

pub(crate) fn check_id(name: &str, found: u32, expected: u32) -> Result<(), NoteError> {
    if found == expected {
        Ok(())
    } else {
        Err(bad_key_string(format!(
            "key ID for {name} is {found:08x}, expected {expected:08x} (computed from the key)"
        )))
    }
}

/// `<name>+<8 hex key ID>+<base64(sig_type || key)>`: a vkey.
pub(crate) fn key_string(name: &str, key_hash: u32, sig_type: u8, key: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(1 + key.len());
    bytes.push(sig_type);
    bytes.extend_from_slice(key);
    format!("{name}+{key_hash:08x}+{}", STANDARD.encode(bytes))
}

/// An Ed25519 note signer.
pub struct Ed25519NoteSigner {
    name: String,
    key_hash: u32,
    public: [u8; 32],
    pair: aws_lc_rs::signature::Ed25519KeyPair,
}

impl Ed25519NoteSigner {
    fn from_pair(
        name: &str,
        pair: aws_lc_rs::signature::Ed25519KeyPair,
    ) -> Result<Self, NoteError> {
        use aws_lc_rs::signature::KeyPair as _;
        check_name(name)?;
        let public: [u8; 32] =
            pair.public_key()
                .as_ref()
                .try_into()
                .map_err(|_| NoteError::BadKey {
                    reason: "the Ed25519 public key is not 32 bytes".into(),
                })?;
        Ok(Self {
            name: name.to_owned(),
            key_hash: key_hash(name, SIG_TYPE_ED25519, &public),
            public,
            pair,
        })
    }

    /// A signer from a 32-byte RFC 8032 private key (seed).
    pub fn from_seed(name: &str, seed: &[u8]) -> Result<Self, NoteError> {
        let pair =
            aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(seed).map_err(|e| {
                NoteError::BadKey {
                    reason: format!("invalid Ed25519 seed: {e}"),
                }
            })?;
        Self::from_pair(name, pair)
    }

    /// A signer from an Ed25519 [`SigningKey`].
    pub fn from_signing_key(name: &str, key: &SigningKey) -> Result<Self, NoteError> {
        if key.algorithm() != KeyAlgorithm::Ed25519 {
            return Err(NoteError::BadKey {
                reason: format!("expected an Ed25519 key, found {}", key.algorithm()),
            });
        }
        let pair =
            aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(&key.to_pkcs8_der()).map_err(|e| {
                NoteError::BadKey {
                    reason: format!("invalid Ed25519 key: {e}"),
                }
            })?;
        Self::from_pair(name, pair)
    }

    /// A fresh random key.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        let pair =
            aws_lc_rs::signature::Ed25519KeyPair::generate().map_err(|_| NoteError::BadKey {
                reason: "Ed25519 key generation failed".into(),
            })?;
        Self::from_pair(name, pair)
    }

    /// A signer from a Go `note` signer key string:
    /// `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || 32-byte seed)>`.
    pub fn from_skey(skey: &str) -> Result<Self, NoteError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad_key_string("a signer key starts with PRIVATE+KEY+"))?;
        let (name, id, key) = split_key_string(rest)?;
        let seed = match key.split_first() {
            Some((&SIG_TYPE_ED25519, seed)) if seed.len() == 32 => seed,
            _ => {
                return Err(bad_key_string(
                    "expected the key to be 0x01 followed by a 32-byte Ed25519 seed",
                ));
            }
        };
        let signer = Self::from_seed(name, seed)?;
        check_id(name, id, signer.key_hash)?;
        Ok(signer)
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Ed25519NoteVerifier {
        Ed25519NoteVerifier {
            name: self.name.clone(),
            key_hash: self.key_hash,
            public: self.public,
        }
    }
}

impl std::fmt::Debug for Ed25519NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ed25519NoteSigner")
            .field("name", &self.name)
            .field("key_hash", &format_args!("{:08x}", self.key_hash))
            .finish_non_exhaustive()
    }
}

impl NoteSigner for Ed25519NoteSigner {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_hash(&self) -> u32 {
        self.key_hash
    }
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, NoteError> {
        self.pair
            .try_sign(text)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| NoteError::Signing {
                name: self.name.clone(),
                reason: "Ed25519 signing failed".into(),
            })
    }
}

/// An Ed25519 note verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ed25519NoteVerifier {
    name: String,
    key_hash: u32,
    public: [u8; 32],
}

impl Ed25519NoteVerifier {
    /// A verifier for the 32-byte Ed25519 `public` key, with the C2SP key ID.
    pub fn new(name: &str, public: &[u8]) -> Result<Self, NoteError> {
        let public: [u8; 32] = public.try_into().map_err(|_| NoteError::BadKey {
            reason: format!("an Ed25519 public key is 32 bytes, found {}", public.len()),
        })?;
        check_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key_hash: key_hash(name, SIG_TYPE_ED25519, &public),
            public,
        })
    }

    /// A verifier with an explicit key ID, for logs that derive it differently (Rekor v1:
    /// [`spki_key_hash`] of [`ed25519_spki`]).
    pub fn with_key_hash(name: &str, public: &[u8], key_hash: u32) -> Result<Self, NoteError> {
        let mut v = Self::new(name, public)?;
        v.key_hash = key_hash;
        Ok(v)
    }

    /// A verifier from a vkey `<name>+<hex key ID>+<base64(0x01 || 32-byte key)>`.
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let (name, id, key) = split_key_string(vkey)?;
        let public = match key.split_first() {
            Some((&SIG_TYPE_ED25519, public)) if public.len() == 32 => public,
            _ => {
                return Err(bad_key_string(
                    "expected the key to be 0x01 followed by a 32-byte Ed25519 public key",
                ));
            }
        };
        let v = Self::new(name, public)?;
        check_id(name, id, v.key_hash)?;
        Ok(v)
    }

    /// The vkey string.
    pub fn vkey(&self) -> String {
        key_string(&self.name, self.key_hash, SIG_TYPE_ED25519, &self.public)
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public
    }
}

/// The DER SubjectPublicKeyInfo of a 32-byte Ed25519 key.
pub fn ed25519_spki(public: &[u8; 32]) -> Vec<u8> {
    let mut der = ED25519_SPKI_PREFIX.to_vec();
    der.extend_from_slice(public);
    der
}

impl NoteVerifier for Ed25519NoteVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_hash(&self) -> u32 {
        self.key_hash
    }
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, self.public)
            .verify(text, signature)
            .is_ok()
    }
}

fn require_p256(algorithm: KeyAlgorithm) -> Result<(), NoteError> {
    if algorithm == KeyAlgorithm::EcdsaP256 {
        Ok(())
    } else {
        Err(NoteError::BadKey {
            reason: format!("expected an ECDSA P-256 key, found {algorithm}"),
        })
    }
}

/// An ECDSA P-256 note signer (key ID = `SHA-256(DER SPKI)[:4]`, as Rekor signs checkpoints).
#[derive(Debug)]
pub struct EcdsaNoteSigner {
    name: String,
    key_hash: u32,
    key: SigningKey,
}

impl EcdsaNoteSigner {
    /// A signer for an ECDSA P-256 key.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        check_name(name)?;
        require_p256(key.algorithm())?;
        Ok(Self {
            name: name.to_owned(),
            key_hash: spki_key_hash(key.public_key().spki_der()),
            key,
        })
    }

    /// The key (for signing other things with the same log key, such as Rekor SETs).
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The matching verifier.
    pub fn verifier(&self) -> EcdsaNoteVerifier {
        EcdsaNoteVerifier {
            name: self.name.clone(),
            key_hash: self.key_hash,
            key: self.key.public_key().clone(),
        }
    }
}

impl NoteSigner for EcdsaNoteSigner {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_hash(&self) -> u32 {
        self.key_hash
    }
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, NoteError> {
        self.key.sign(text).map_err(|e| NoteError::Signing {
            name: self.name.clone(),
            reason: e.to_string(),
        })
    }
}

/// An ECDSA P-256 note verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcdsaNoteVerifier {
    name: String,
    key_hash: u32,
    key: PublicKey,
}

impl EcdsaNoteVerifier {
    /// A verifier for an ECDSA P-256 public key.
    pub fn new(name: &str, key: PublicKey) -> Result<Self, NoteError> {
        check_name(name)?;
        require_p256(key.algorithm())?;
        Ok(Self {
            name: name.to_owned(),
            key_hash: spki_key_hash(key.spki_der()),
            key,
        })
    }

    /// A verifier from a vkey `<name>+<hex key ID>+<base64(0x02 || DER SPKI)>`.
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let (name, id, key) = split_key_string(vkey)?;
        let spki = match key.split_first() {
            Some((&SIG_TYPE_ECDSA, spki)) => spki,
            _ => {
                return Err(bad_key_string(
                    "expected the key to be 0x02 followed by a DER SubjectPublicKeyInfo",
                ));
            }
        };
        let key = PublicKey::from_spki_der_named(spki, "note verifier key").map_err(|e| {
            NoteError::BadKey {
                reason: e.to_string(),
            }
        })?;
        let v = Self::new(name, key)?;
        check_id(name, id, v.key_hash)?;
        Ok(v)
    }

    /// The vkey string.
    pub fn vkey(&self) -> String {
        key_string(
            &self.name,
            self.key_hash,
            SIG_TYPE_ECDSA,
            self.key.spki_der(),
        )
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }
}

impl NoteVerifier for EcdsaNoteVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_hash(&self) -> u32 {
        self.key_hash
    }
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        self.key.verify(text, signature).is_ok()
    }
}

/// A verifier from a vkey of either supported type (by its type byte).
pub fn verifier_from_vkey(vkey: &str) -> Result<Box<dyn NoteVerifier + Send + Sync>, NoteError> {
    let (_, _, key) = split_key_string(vkey)?;
    match key.first() {
        Some(&SIG_TYPE_ED25519) => Ok(Box::new(Ed25519NoteVerifier::from_vkey(vkey)?)),
        Some(&SIG_TYPE_ECDSA) => Ok(Box::new(EcdsaNoteVerifier::from_vkey(vkey)?)),
        Some(other) => Err(bad_key_string(format!(
            "signature type 0x{other:02x} is not supported; expected 0x01 (Ed25519) or 0x02 (ECDSA)"
        ))),
        None => Err(bad_key_string("the key is empty")),
    }
}
