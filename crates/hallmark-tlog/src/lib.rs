//! The pure core of hallmark's transparency log: Merkle tree hashing, proof generation and
//! verification, signed notes, checkpoints, tiles, and the Rekor v1 entry formats.
//!
//! Nothing here does I/O, nothing is async, and nothing reads a clock (times are passed in).
//! Storage plugs in through two small synchronous traits, [`tree::HashReader`] and
//! [`tiles::TileReader`]; async storage can instead use the two-phase functions of
//! [`tree`] (`*_indexes`, then `*_from_hashes`). Every parser is fuzzable.
//!
//! # Specifications followed
//!
//! The C2SP specifications are unversioned living documents; this crate follows their text as
//! of July 2026 (signed-note, tlog-checkpoint, tlog-tiles). Rekor is its v1 API.
//!
//! - **RFC 6962** §2.1 (= RFC 9162 §2.1.1-2.1.2): SHA-256 Merkle tree hashing with `0x00`/`0x01`
//!   domain separation ([`hash`]); audit paths and consistency proofs are produced as RFC 6962
//!   `PATH` and `PROOF` define them ([`tree`]).
//! - **RFC 9162** §2.1.3.2 and §2.1.4.2: inclusion and consistency proof verification
//!   ([`proof`]), written independently of the generator.
//! - The stored-hash layout of Go's `golang.org/x/mod/sumdb/tlog` (`StoredHashIndex`,
//!   `StoredHashes`, `TreeHash`, `ProveRecord`, `ProveTree`): every complete subtree hash stored
//!   once, proofs in O(log n) reads ([`tree`]).
//! - **C2SP signed-note** (`c2sp.org/signed-note`): notes, Ed25519 (type `0x01`) and ECDSA
//!   (type `0x02`) signatures, Go-compatible vkeys/skeys ([`note`]).
//! - **C2SP tlog-checkpoint** (`c2sp.org/tlog-checkpoint`) ([`checkpoint`]).
//! - **C2SP tlog-tiles** (`c2sp.org/tlog-tiles`): tile height 8, tile and entry-bundle paths,
//!   partial tiles ([`tiles`]).
//! - **C2SP tlog-cosignature** (`cosignature/v1`, type `0x04`) and **tlog-witness**
//!   (`add-checkpoint` requests and the witness's decision), and Sigsum's witness policy format
//!   with C2SP vkeys ([`witness`]).
//! - **RFC 8785** JSON Canonicalization Scheme, for the value shapes Rekor uses ([`jcs`]).
//! - **Rekor v1** (sigstore/rekor `openapi.yaml`, `hashedrekord` 0.0.1 schema): canonical entry
//!   bodies, entry UUIDs and IDs, log IDs, Signed Entry Timestamps ([`rekor`]); `LogEntry`
//!   responses with their inclusion proofs, and the two forms clients store them in: cosign's
//!   `dev.sigstore.cosign/bundle` annotation and a Sigstore bundle v0.3 `tlogEntries[]` item
//!   ([`entry`]); log keys, their log IDs and checkpoint signatures matched by key ID
//!   ([`logkey`]).
//!
//! # Key IDs of checkpoint signatures (finding)
//!
//! The rule for ECDSA note key IDs is not ambiguous: C2SP signed-note type `0x02` ("as
//! implemented by transparency-dev/witness"), Rekor v1 (`pkg/util/signed_note.go`) and Rekor v2
//! (`rekor-tiles/pkg/note`) all use the first 4 bytes of `SHA-256(DER SubjectPublicKeyInfo)`,
//! without the key name. That is what [`note::EcdsaNoteSigner`] and [`note::EcdsaNoteVerifier`]
//! do, and real `rekor.sigstore.dev` checkpoints verify with it (key ID `c0d23d6a`, the first 4
//! bytes of the Rekor log ID; see the tests). The divergence is for Ed25519: C2SP and Rekor v2
//! use `SHA-256(name || 0x0A || 0x01 || key)[:4]`, while Rekor v1 hashes the SPKI for every key
//! type; the C2SP rule is the default and [`note::Ed25519NoteVerifier::with_key_hash`] covers
//! Rekor v1's.

pub mod checkpoint;
pub mod entry;
pub mod hash;
pub mod jcs;
pub mod logkey;
pub mod note;
pub mod proof;
pub mod rekor;
pub mod tiles;
pub mod tree;
pub mod witness;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use entry::{EntryError, InclusionProof, LogEntry};
pub use hash::{EMPTY_ROOT, Hash, HashError, leaf_hash, node_hash};
pub use logkey::{LogKey, LogKeyError, VerifiedCheckpoint};
pub use note::{NoteError, NoteSigner, NoteVerifier};
pub use proof::{ProofError, verify_consistency, verify_inclusion};
pub use rekor::RekorError;
pub use tiles::{Tile, TileError};
pub use tree::{Frontier, HashReader, MemoryHashStore, StoredIndex, TreeError};
