//! Typed errors of Notary metadata parsing and verification.

use thiserror::Error;

/// Why metadata was rejected. Each variant names what was expected and what was found.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TufError {
    /// The bytes are not JSON, or not the shape Notary writes.
    #[error("{what}: malformed metadata: {reason}")]
    Malformed {
        /// The file or object being parsed.
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// A JSON number that is not an integer; Notary's canonical JSON has no floats.
    #[error("canonical JSON: expected an integer, found the number {found}")]
    FloatNotAllowed {
        /// The number as written.
        found: String,
    },
    /// A target or delegated role name the builder refuses: empty, or with control characters,
    /// which canonical JSON (as notary's encoder) writes raw and no JSON parser reads back.
    #[error("{what}: expected {expected}, found {found}")]
    InvalidName {
        /// What was named (`target name`, `delegated role name`, `delegation path`).
        what: String,
        /// What a valid name is.
        expected: String,
        /// The name given, escaped and quoted.
        found: String,
    },
    /// The `_type` of `signed` is not the role being verified.
    #[error("{what}: expected _type {expected:?}, found {found:?}")]
    WrongType {
        /// The file being verified.
        what: String,
        /// The `_type` expected (`Root`, `Targets`, `Snapshot`, `Timestamp`).
        expected: String,
        /// The `_type` found.
        found: String,
    },
    /// A key could not be decoded or is of an unsupported kind.
    #[error("key {key_id}: {reason}")]
    InvalidKey {
        /// The key ID as listed.
        key_id: String,
        /// What was wrong.
        reason: String,
    },
    /// A key is listed under an ID that is not the hash of its canonical form.
    #[error("key listed as {listed} has key ID {computed}")]
    KeyIdMismatch {
        /// The ID the metadata lists the key under.
        listed: String,
        /// The ID computed from the key.
        computed: String,
    },
    /// A signature's `method` does not fit the key type.
    #[error(
        "key {key_id} of type {key_type}: signature method {method:?} does not fit; expected one of {expected}"
    )]
    MethodMismatch {
        /// The signing key ID.
        key_id: String,
        /// The key's `keytype`.
        key_type: String,
        /// The `method` in the signature.
        method: String,
        /// The methods the key type accepts.
        expected: String,
    },
    /// A signature does not verify with its key.
    #[error("key {key_id}: signature does not verify")]
    BadSignature {
        /// The signing key ID.
        key_id: String,
    },
    /// A role's threshold is not a positive number.
    #[error("role {role}: threshold must be at least 1, found {found}")]
    InvalidThreshold {
        /// The role.
        role: String,
        /// The threshold found.
        found: u64,
    },
    /// Fewer distinct trusted keys signed than the role's threshold.
    #[error(
        "{role}: expected valid signatures from {threshold} distinct trusted keys, found {valid}"
    )]
    ThresholdNotMet {
        /// The role (and, for root rotation, which root's keys).
        role: String,
        /// The threshold required.
        threshold: u64,
        /// Distinct role keys whose signatures verified.
        valid: u64,
    },
    /// Metadata expired before the verification time.
    #[error("{role} version {version} expired at {expires}, verification time is {now}")]
    Expired {
        /// The role.
        role: String,
        /// Its version.
        version: u64,
        /// The `expires` it carries (RFC 3339).
        expires: String,
        /// The verification time (RFC 3339).
        now: String,
    },
    /// Metadata has a lower version than the one trusted before.
    #[error("{role}: expected version {trusted} or higher (trusted before), found {found}")]
    Rollback {
        /// The role.
        role: String,
        /// The version trusted before.
        trusted: u64,
        /// The version offered.
        found: u64,
    },
    /// A root in the rotation chain is not the next version.
    #[error("root rotation: expected version {expected}, found {found}")]
    RootVersionNotConsecutive {
        /// The next version after the trusted root.
        expected: u64,
        /// The version found.
        found: u64,
    },
    /// A file is longer than allowed.
    #[error("{role}: expected at most {limit} bytes, found {found}")]
    TooLarge {
        /// The role.
        role: String,
        /// The size limit.
        limit: u64,
        /// The size found.
        found: u64,
    },
    /// A file's length is not the one listed by the metadata above it.
    #[error("{role}: {listed_by} lists length {expected}, found {found} bytes")]
    LengthMismatch {
        /// The role whose file was checked.
        role: String,
        /// The role listing it (`timestamp` or `snapshot`).
        listed_by: String,
        /// The listed length.
        expected: u64,
        /// The actual length.
        found: u64,
    },
    /// A file's hash is not the one listed by the metadata above it.
    #[error("{role}: {listed_by} lists {algorithm} {expected}, found {found}")]
    HashMismatch {
        /// The role whose file was checked.
        role: String,
        /// The role listing it.
        listed_by: String,
        /// `sha256` or `sha512`.
        algorithm: String,
        /// The listed hash (base64).
        expected: String,
        /// The computed hash (base64).
        found: String,
    },
    /// The metadata above does not list this role (or lists no SHA-256 for it).
    #[error("{role}: not listed by {listed_by} (expected an entry with length and sha256)")]
    NotListed {
        /// The role.
        role: String,
        /// The role that should list it.
        listed_by: String,
    },
    /// A role listed in the snapshot and delegated by its parent was not supplied.
    #[error("delegated role {role} is listed in the snapshot but was not supplied")]
    MissingRole {
        /// The delegated role.
        role: String,
    },
    /// A supplied delegated role is not delegated by its parent.
    #[error("role {role}: not delegated by {parent}")]
    NotDelegated {
        /// The delegated role.
        role: String,
        /// The parent role.
        parent: String,
    },
    /// A delegated role lists a target outside the paths delegated to it.
    #[error("role {role}: target {target:?} is outside its delegated paths {paths:?}")]
    TargetOutsideDelegatedPaths {
        /// The delegated role.
        role: String,
        /// The target name.
        target: String,
        /// The delegated path prefixes.
        paths: Vec<String>,
    },
    /// No root key is a certificate for the GUN that is valid at the verification time.
    #[error(
        "root of {gun}: expected a root certificate with CN {gun:?} valid at {now}, found: {found}"
    )]
    NoValidRootCertificate {
        /// The GUN (repository name) expected as CN.
        gun: String,
        /// The verification time (RFC 3339).
        now: String,
        /// Why each root key was not accepted.
        found: String,
    },
    /// A key could not sign.
    #[error("signing with key {key_id}: {reason}")]
    Signing {
        /// The key's ID.
        key_id: String,
        /// What failed.
        reason: String,
    },
}
