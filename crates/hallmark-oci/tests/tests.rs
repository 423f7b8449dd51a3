//! Integration tests of hallmark-oci against a real docker-registry 2.8, OCI layouts in
//! temporary directories, and a tiny in-test HTTP server for faults.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;
mod docker_archive;
mod faults;
mod hostile_layout;
mod layout;
mod registry;
mod stream;
