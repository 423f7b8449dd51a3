//! Witnessing: C2SP tlog-cosignature (`cosignature/v1`, Ed25519, signature type `0x04`), the
//! C2SP tlog-witness `add-checkpoint` request and the witness's decision on it, and witness
//! policies in the format Sigsum publishes (`witness`, `group`, `quorum`, `log` lines).
//!
//! A cosignature line is a signed-note signature line whose signature is `u64 BE timestamp ||
//! Ed25519 signature` over `"cosignature/v1\ntime <timestamp>\n" || <checkpoint text>` (the
//! whole checkpoint body, extension lines included); its key ID is
//! `SHA-256(name || 0x0A || 0x04 || public key)[:4]`. [`CosignatureVerifier`] is a
//! [`NoteVerifier`], so a cosigned checkpoint is an ordinary note with more signature lines.
//!
//! The witness ([`witness`]) checks a request as tlog-witness orders it: the checkpoint is a
//! valid note by a known log (404 for an unknown origin, 403 for a bad or missing log
//! signature), the old size is not after the new one (400), it is the size the witness holds
//! for that log (409, answering with its size), and the consistency proof leads from the held
//! root to the new one (422). Only then is the new state returned to be persisted, and only a
//! persisted state may be cosigned.

use crate::checkpoint::Checkpoint;
use crate::hash::Hash;
use crate::note::{Note, NoteError, NoteSignature, NoteVerifier, key_hash};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// Signature type byte of timestamped Ed25519 cosignatures.
pub const SIG_TYPE_COSIGNATURE: u8 = 0x04;
/// Most consistency-proof lines in an `add-checkpoint` request (tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;
/// Largest `add-checkpoint` body read, in bytes.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// The content type of a 409 answer: the witness's size for the log.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The message a cosignature signs.
fn cosigned_message(checkpoint_text: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{checkpoint_text}").into_bytes()
}

fn bad_key(reason: impl Into<String>) -> NoteError {
    NoteError::BadKey {
        reason: reason.into(),
    }
}

/// A witness's cosigning key.
pub struct CosignatureSigner {
    name: String,
    key_hash: u32,
    public: [u8; 32],
    pair: aws_lc_rs::signature::Ed25519KeyPair,
}

impl std::fmt::Debug for CosignatureSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CosignatureSigner")
            .field("name", &self.name)
            .field("key_hash", &format_args!("{:08x}", self.key_hash))
            .finish_non_exhaustive()
    }
}

impl CosignatureSigner {
    /// A signer named `name` (the witness's name) from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: &[u8]) -> Result<Self, NoteError> {
        let pair = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|e| bad_key(format!("invalid Ed25519 seed: {e}")))?;
        Self::from_pair(name, pair)
    }

    /// A signer from an Ed25519 [`SigningKey`](hallmark_core::SigningKey).
    pub fn from_signing_key(
        name: &str,
        key: &hallmark_core::SigningKey,
    ) -> Result<Self, NoteError> {
        if key.algorithm() != hallmark_core::KeyAlgorithm::Ed25519 {
            return Err(bad_key(format!(
                "expected an Ed25519 key, found {}",
                key.algorithm()
            )));
        }
        let pair = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(&key.to_pkcs8_der())
            .map_err(|e| bad_key(format!("invalid Ed25519 key: {e}")))?;
        Self::from_pair(name, pair)
    }

    fn from_pair(
        name: &str,
        pair: aws_lc_rs::signature::Ed25519KeyPair,
    ) -> Result<Self, NoteError> {
        use aws_lc_rs::signature::KeyPair as _;
        if !crate::note::is_valid_key_name(name) {
            return Err(NoteError::BadKeyName {
                name: name.to_owned(),
            });
        }
        let public: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| bad_key("the Ed25519 public key is not 32 bytes"))?;
        Ok(Self {
            name: name.to_owned(),
            key_hash: key_hash(name, SIG_TYPE_COSIGNATURE, &public),
            public,
            pair,
        })
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cosignature line over `checkpoint_text` (a checkpoint body, final newline included)
    /// at `timestamp` (Unix seconds).
    pub fn cosign(
        &self,
        checkpoint_text: &str,
        timestamp: u64,
    ) -> Result<NoteSignature, NoteError> {
        let signature = self
            .pair
            .try_sign(&cosigned_message(checkpoint_text, timestamp))
            .map_err(|_| NoteError::Signing {
                name: self.name.clone(),
                reason: "Ed25519 signing failed".into(),
            })?;
        let mut bytes = timestamp.to_be_bytes().to_vec();
        bytes.extend_from_slice(signature.as_ref());
        Ok(NoteSignature {
            name: self.name.clone(),
            key_hash: self.key_hash,
            signature: bytes,
        })
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key_hash: self.key_hash,
            public: self.public,
        }
    }
}

/// Verifies one witness's cosignatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key_hash: u32,
    public: [u8; 32],
}

impl CosignatureVerifier {
    /// A verifier for the witness `name` with the 32-byte Ed25519 `public` key.
    pub fn new(name: &str, public: &[u8]) -> Result<Self, NoteError> {
        if !crate::note::is_valid_key_name(name) {
            return Err(NoteError::BadKeyName {
                name: name.to_owned(),
            });
        }
        let public: [u8; 32] = public.try_into().map_err(|_| {
            bad_key(format!(
                "an Ed25519 public key is 32 bytes, found {}",
                public.len()
            ))
        })?;
        Ok(Self {
            name: name.to_owned(),
            key_hash: key_hash(name, SIG_TYPE_COSIGNATURE, &public),
            public,
        })
    }

    /// From a vkey `<name>+<hex key ID>+<base64(0x04 || 32-byte key)>`.
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let (name, id, key) = crate::note::split_key_string(vkey)?;
        let public = match key.split_first() {
            Some((&SIG_TYPE_COSIGNATURE, public)) if public.len() == 32 => public,
            Some((t, _)) => {
                return Err(NoteError::BadKeyString {
                    reason: format!(
                        "expected a cosignature key (type 0x04 and 32 bytes), found type 0x{t:02x} of {} bytes",
                        key.len() - 1
                    ),
                });
            }
            None => {
                return Err(NoteError::BadKeyString {
                    reason: "the key is empty".into(),
                });
            }
        };
        let v = Self::new(name, public)?;
        crate::note::check_id(name, id, v.key_hash)?;
        Ok(v)
    }

    /// The vkey string.
    pub fn vkey(&self) -> String {
        crate::note::key_string(
            &self.name,
            self.key_hash,
            SIG_TYPE_COSIGNATURE,
            &self.public,
        )
    }

    /// The time of a valid cosignature (`signature` without the key ID) over
    /// `checkpoint_text`, or `None`.
    pub fn timestamp_of(&self, checkpoint_text: &str, signature: &[u8]) -> Option<u64> {
        if signature.len() != 8 + 64 {
            return None;
        }
        let (ts, sig) = signature.split_at(8);
        let timestamp = u64::from_be_bytes(ts.try_into().ok()?);
        aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, self.public)
            .verify(&cosigned_message(checkpoint_text, timestamp), sig)
            .ok()
            .map(|()| timestamp)
    }
}

impl NoteVerifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_hash(&self) -> u32 {
        self.key_hash
    }
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        std::str::from_utf8(text)
            .ok()
            .and_then(|t| self.timestamp_of(t, signature))
            .is_some()
    }
}

/// Why an `add-checkpoint` request is refused; each maps to the HTTP status tlog-witness gives.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The body is not a request (400).
    #[error("malformed add-checkpoint request: {0}")]
    Malformed(String),
    /// The old size is after the checkpoint's size (400).
    #[error("expected an old size at most the checkpoint's size {new}, found {old}")]
    OldAfterNew {
        /// The request's old size.
        old: u64,
        /// The checkpoint's size.
        new: u64,
    },
    /// No log with this origin is known (404).
    #[error("expected a checkpoint of a known log, found origin {origin:?}")]
    UnknownLog {
        /// The origin.
        origin: String,
    },
    /// The log's signature is missing or invalid (403).
    #[error("expected a checkpoint signed by the log's key: {0}")]
    BadSignature(String),
    /// The old size is not the size the witness holds (409, with that size).
    #[error("expected old size {held} (the size this witness holds for the log), found {old}")]
    Conflict {
        /// The size the witness holds.
        held: u64,
        /// The request's old size.
        old: u64,
    },
    /// The consistency proof does not lead from the held root to the new one (422).
    #[error("the consistency proof from size {old} to {new} does not verify: {reason}")]
    BadProof {
        /// Old size.
        old: u64,
        /// New size.
        new: u64,
        /// Why.
        reason: String,
    },
}

impl WitnessError {
    /// The HTTP status tlog-witness gives for this refusal.
    pub fn status(&self) -> u16 {
        match self {
            WitnessError::Malformed(_) | WitnessError::OldAfterNew { .. } => 400,
            WitnessError::BadSignature(_) => 403,
            WitnessError::UnknownLog { .. } => 404,
            WitnessError::Conflict { .. } => 409,
            WitnessError::BadProof { .. } => 422,
        }
    }
}

/// A tlog-witness `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size the client believes the witness holds.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

impl AddCheckpoint {
    /// Parse `old <size>\n`, up to [`MAX_PROOF_LINES`] base64 hashes, a blank line, the note.
    pub fn parse(body: &[u8]) -> Result<Self, WitnessError> {
        let bad = |s: &str| WitnessError::Malformed(s.to_owned());
        if body.len() > MAX_REQUEST_BYTES {
            return Err(WitnessError::Malformed(format!(
                "expected at most {MAX_REQUEST_BYTES} bytes, found {}",
                body.len()
            )));
        }
        let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8"))?;
        let (first, rest) = text
            .split_once('\n')
            .ok_or_else(|| bad("expected an `old <size>` line"))?;
        let size = first
            .strip_prefix("old ")
            .ok_or_else(|| bad("expected the first line to be `old <size>`"))?;
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(bad("expected a decimal old size without leading zeros"));
        }
        let old_size: u64 = size.parse().map_err(|_| bad("the old size is too large"))?;
        let (proof_text, checkpoint) = if let Some(c) = rest.strip_prefix('\n') {
            ("", c)
        } else {
            rest.split_once("\n\n")
                .ok_or_else(|| bad("expected a blank line before the checkpoint"))?
        };
        let mut proof = Vec::new();
        let lines = if proof_text.is_empty() {
            Vec::new()
        } else {
            proof_text.split('\n').collect()
        };
        for line in lines {
            if proof.len() == MAX_PROOF_LINES {
                return Err(WitnessError::Malformed(format!(
                    "expected at most {MAX_PROOF_LINES} proof lines"
                )));
            }
            let bytes = STANDARD
                .decode(line)
                .map_err(|_| bad("a proof line is not standard base64"))?;
            let hash: [u8; 32] = bytes
                .try_into()
                .map_err(|_| bad("a proof line is not a 32-byte hash"))?;
            proof.push(Hash(hash));
        }
        Ok(Self {
            old_size,
            proof,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// The checkpoint's origin (its first line), unverified: which log's state the decision
    /// is about.
    pub fn origin(&self) -> &str {
        self.checkpoint.split('\n').next().unwrap_or_default()
    }

    /// The request body.
    pub fn to_body(&self) -> String {
        let mut out = format!("old {}\n", self.old_size);
        for h in &self.proof {
            out.push_str(&STANDARD.encode(h.0));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }
}

/// What a witness holds for one log: the latest checkpoint it cosigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Its size.
    pub size: u64,
    /// Its root.
    pub root: Hash,
}

/// A request the witness accepts: the state to persist (before cosigning) and the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accepted {
    /// The log's origin.
    pub origin: String,
    /// The new state.
    pub held: Held,
    /// The checkpoint body (what the cosignature signs).
    pub text: String,
}

/// Decide an `add-checkpoint` request. `logs` are the known logs' verifiers by origin, `held`
/// what the witness holds for the checkpoint's origin (`None`: nothing yet, size 0).
pub fn witness(
    logs: &BTreeMap<String, Vec<Box<dyn NoteVerifier + Send + Sync>>>,
    held: impl FnOnce(&str) -> Option<Held>,
    request: &AddCheckpoint,
) -> Result<Accepted, WitnessError> {
    let note = Note::parse(request.checkpoint.as_bytes())
        .map_err(|e| WitnessError::Malformed(format!("the checkpoint: {e}")))?;
    let origin = request.origin().to_owned();
    let Some(verifiers) = logs.get(&origin) else {
        return Err(WitnessError::UnknownLog { origin });
    };
    let known: Vec<&dyn NoteVerifier> = verifiers
        .iter()
        .map(|v| v.as_ref() as &dyn NoteVerifier)
        .collect();
    note.verify(&known)
        .map_err(|e| WitnessError::BadSignature(e.to_string()))?;
    let checkpoint = Checkpoint::parse(note.text())
        .map_err(|e| WitnessError::Malformed(format!("the checkpoint: {e}")))?;
    let new = checkpoint.size();
    if request.old_size > new {
        return Err(WitnessError::OldAfterNew {
            old: request.old_size,
            new,
        });
    }
    let held = held(&origin);
    let held_size = held.as_ref().map_or(0, |h| h.size);
    if held_size != request.old_size {
        return Err(WitnessError::Conflict {
            held: held_size,
            old: request.old_size,
        });
    }
    let old_root = held.map_or(crate::hash::EMPTY_ROOT, |h| h.root);
    crate::proof::verify_consistency(
        request.old_size,
        new,
        &old_root,
        checkpoint.root(),
        &request.proof,
    )
    .map_err(|e| WitnessError::BadProof {
        old: request.old_size,
        new,
        reason: e.to_string(),
    })?;
    Ok(Accepted {
        origin,
        held: Held {
            size: new,
            root: *checkpoint.root(),
        },
        text: note.text().to_owned(),
    })
}

/// Why a witness policy cannot be read, or a checkpoint does not satisfy it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A line of the policy file is wrong.
    #[error("witness policy line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What was expected and found.
        reason: String,
    },
    /// The file as a whole is wrong (no quorum, ...).
    #[error("witness policy: {0}")]
    File(String),
    /// The cosignatures do not satisfy the quorum.
    #[error(
        "the checkpoint's cosignatures do not satisfy the witness policy: {needed}; valid cosignatures by [{}]",
        .signed.join(", ")
    )]
    QuorumNotMet {
        /// What the quorum needs, in words.
        needed: String,
        /// The witnesses whose valid cosignatures the checkpoint carries.
        signed: Vec<String>,
    },
}

/// A witness of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyWitness {
    /// The policy's name for it.
    pub name: String,
    /// Its cosignature key.
    pub verifier: CosignatureVerifier,
    /// Where it takes `add-checkpoint` requests (`<url>/add-checkpoint`), if given.
    pub url: Option<String>,
}

/// A group: `threshold` of its members must be satisfied.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    threshold: usize,
    members: Vec<String>,
}

/// A witness policy (Sigsum's format, keys as C2SP vkeys):
///
/// ```text
/// # comment
/// log <vkey> [<url>]
/// witness <name> <cosignature vkey> [<url>]
/// group <name> <k>|any|all <member>...
/// quorum <name>|none
/// ```
///
/// Names are defined before they are used; members are witnesses or groups; `quorum` appears
/// once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessPolicy {
    /// The witnesses, in file order.
    pub witnesses: Vec<PolicyWitness>,
    /// The `log` lines: log vkeys and URLs, as written.
    pub logs: Vec<(String, Option<String>)>,
    groups: BTreeMap<String, Group>,
    quorum: Option<String>,
}

impl WitnessPolicy {
    /// Parse a policy file.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let mut p = WitnessPolicy {
            witnesses: Vec::new(),
            logs: Vec::new(),
            groups: BTreeMap::new(),
            quorum: None,
        };
        let mut quorum_seen = false;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |reason: String| PolicyError::Line { line, reason };
            let content = raw.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let words: Vec<&str> = content.split_whitespace().collect();
            let defined = |p: &WitnessPolicy, name: &str| {
                p.groups.contains_key(name) || p.witnesses.iter().any(|w| w.name == name)
            };
            match words.as_slice() {
                ["log", key, rest @ ..] if rest.len() <= 1 => {
                    p.logs
                        .push(((*key).to_owned(), rest.first().map(|s| (*s).to_owned())));
                }
                ["witness", name, vkey, rest @ ..] if rest.len() <= 1 => {
                    if defined(&p, name) {
                        return Err(err(format!("the name {name} is defined twice")));
                    }
                    let verifier = CosignatureVerifier::from_vkey(vkey)
                        .map_err(|e| err(format!("witness {name}: {e}")))?;
                    p.witnesses.push(PolicyWitness {
                        name: (*name).to_owned(),
                        verifier,
                        url: rest.first().map(|s| (*s).to_owned()),
                    });
                }
                ["group", name, threshold, members @ ..] if !members.is_empty() => {
                    if defined(&p, name) {
                        return Err(err(format!("the name {name} is defined twice")));
                    }
                    for m in members {
                        if !defined(&p, m) {
                            return Err(err(format!(
                                "group {name}: expected members defined above, found {m}"
                            )));
                        }
                    }
                    let distinct: BTreeSet<&&str> = members.iter().collect();
                    if distinct.len() != members.len() {
                        return Err(err(format!("group {name}: a member is listed twice")));
                    }
                    let threshold = match *threshold {
                        "any" => 1,
                        "all" => members.len(),
                        k => match k.parse::<usize>() {
                            Ok(k) if (1..=members.len()).contains(&k) => k,
                            _ => {
                                return Err(err(format!(
                                    "group {name}: expected a threshold of any, all or 1 to {}, found {k}",
                                    members.len()
                                )));
                            }
                        },
                    };
                    p.groups.insert(
                        (*name).to_owned(),
                        Group {
                            threshold,
                            members: members.iter().map(|m| (*m).to_owned()).collect(),
                        },
                    );
                }
                ["quorum", name] => {
                    if quorum_seen {
                        return Err(err("expected one quorum line, found a second".into()));
                    }
                    quorum_seen = true;
                    if *name != "none" {
                        if !defined(&p, name) {
                            return Err(err(format!(
                                "quorum: expected a witness or group defined above, found {name}"
                            )));
                        }
                        p.quorum = Some((*name).to_owned());
                    }
                }
                _ => {
                    return Err(err(format!(
                        "expected `log KEY [URL]`, `witness NAME KEY [URL]`, `group NAME K|any|all MEMBER...` or `quorum NAME|none`, found {content:?}"
                    )));
                }
            }
        }
        if !quorum_seen {
            return Err(PolicyError::File(
                "expected a quorum line (`quorum NAME` or `quorum none`), found none".into(),
            ));
        }
        Ok(p)
    }

    /// The cosignature verifiers of every witness.
    pub fn verifiers(&self) -> impl Iterator<Item = &CosignatureVerifier> {
        self.witnesses.iter().map(|w| &w.verifier)
    }

    /// Whether the witnesses named in `signed` satisfy the quorum.
    pub fn satisfied_by(&self, signed: &BTreeSet<String>) -> bool {
        match &self.quorum {
            None => true,
            Some(q) => self.holds(q, signed, 0),
        }
    }

    fn holds(&self, name: &str, signed: &BTreeSet<String>, depth: usize) -> bool {
        if depth > 64 {
            return false;
        }
        match self.groups.get(name) {
            Some(g) => {
                g.members
                    .iter()
                    .filter(|m| self.holds(m, signed, depth + 1))
                    .count()
                    >= g.threshold
            }
            None => signed.contains(name),
        }
    }

    /// What the quorum needs, in words (`2 of [a, b, c]`).
    pub fn describe(&self) -> String {
        match &self.quorum {
            None => "no quorum (none)".into(),
            Some(q) => self.describe_name(q, 0),
        }
    }

    fn describe_name(&self, name: &str, depth: usize) -> String {
        match self.groups.get(name) {
            Some(g) if depth < 8 => format!(
                "{} of [{}]",
                g.threshold,
                g.members
                    .iter()
                    .map(|m| self.describe_name(m, depth + 1))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => name.to_owned(),
        }
    }

    /// The witnesses whose cosignature over `note`'s text verifies (unknown and invalid
    /// cosignature lines are ignored: they cannot count).
    pub fn cosigned_by(&self, note: &Note) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for s in note.signatures() {
            for w in &self.witnesses {
                if w.verifier.name == s.name
                    && w.verifier.key_hash == s.key_hash
                    && w.verifier.timestamp_of(note.text(), &s.signature).is_some()
                {
                    out.insert(w.name.clone());
                }
            }
        }
        out
    }

    /// Check a signed checkpoint's cosignatures against the quorum.
    pub fn check(&self, note: &Note) -> Result<BTreeSet<String>, PolicyError> {
        let signed = self.cosigned_by(note);
        if self.satisfied_by(&signed) {
            Ok(signed)
        } else {
            Err(PolicyError::QuorumNotMet {
                needed: self.describe(),
                signed: signed.into_iter().collect(),
            })
        }
    }
}
