//! Where images live: an OCI distribution-spec (v1.1) registry client and OCI image-layout
//! (image-spec v1.1) directories, behind one [`Store`] type.
//!
//! Every byte read is bounded ([`Limits`]) and every manifest and blob is checked against its
//! digest before it is returned. Registry access follows the docker/distribution token
//! protocol (bearer tokens from `WWW-Authenticate`, basic auth), with credentials from docker's
//! `config.json` and credential helpers. Plain HTTP is used only for loopback registries or
//! when [`HttpPolicy::AllowInsecureHttp`] is chosen.

pub mod error;
pub mod layout;
pub mod registry;
pub mod sample;
pub mod store;

/// The OCI wire types ([`hallmark_oci_spec::manifest`]), under their old path.
pub use hallmark_oci_spec::manifest;

pub use error::OciError;
pub use manifest::{Descriptor, ImageIndex, ImageManifest, Manifest, media_types};
pub use registry::{
    Credentials, DockerCredential, HttpPolicy, Limits, RegistryClient, RegistryOptions,
    docker_credentials,
};
pub use store::{FetchedManifest, Store};
