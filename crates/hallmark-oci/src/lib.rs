//! Where images live: an OCI distribution-spec (v1.1) registry client and OCI image-layout
//! (image-spec v1.1) directories, behind one [`Store`] type.
//!
//! Every byte read is bounded ([`Limits`]) and every manifest and blob is checked against its
//! digest before it is returned. Registry access follows the docker/distribution token
//! protocol (bearer tokens from `WWW-Authenticate`, basic auth), with credentials from docker's
//! `config.json` and credential helpers. Plain HTTP is used only for loopback registries or
//! when [`HttpPolicy::AllowInsecureHttp`] is chosen.
//!
//! Blobs of any size move in constant memory: [`Store::open_blob`] reads one as a stream of
//! chunks checked against its descriptor, [`Store::put_blob_stream`] writes one and publishes
//! it only once it is verified, and [`Store::copy_blob`] does both. [`docker_archive`] writes
//! an image as the tar `docker load` reads.

pub mod blob;
pub mod docker_archive;
pub mod error;
pub mod layout;
pub mod registry;
pub mod sample;
pub mod store;

/// The OCI wire types ([`hallmark_oci_spec::manifest`]), under their old path.
pub use hallmark_oci_spec::manifest;

pub use blob::{BlobCopy, BlobReader};
pub use bytes::Bytes;
pub use error::{OciError, TransportFailure};
pub use manifest::{Descriptor, ImageIndex, ImageManifest, Manifest, media_types};
pub use registry::{
    Credentials, DockerCredential, HttpPolicy, Limits, RegistryClient, RegistryOptions,
    RequestStats, docker_credentials,
};
pub use store::{FetchedManifest, Store};
