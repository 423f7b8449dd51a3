//! OCI wire types, pure: no I/O, no async.
//!
//! Specifications followed:
//!
//! - **OCI image-spec v1.1** (`opencontainers/image-spec` v1.1.0): image manifests, image
//!   indexes, descriptors (with `artifactType` and `subject`), media types ([`manifest`]).
//! - **Docker image manifest v2, schema 2** and manifest lists, read as their OCI equivalents.
//! - **RFC 7235** `WWW-Authenticate` challenges as docker's registry token authentication
//!   (distribution `docs/spec/auth/token.md`) and notary-server 0.7.0 send them ([`auth`]).
//!
//! What hallmark writes is stable byte for byte (fields in spec order, empty optionals
//! omitted); what it reads is lenient about fields other tools add. The registry client and
//! image layouts that move these bytes live in `hallmark-oci` (which re-exports [`manifest`]).

pub mod auth;
pub mod manifest;

pub use manifest::{
    Descriptor, ImageIndex, ImageManifest, Manifest, Platform, media_types, to_json_bytes,
};
