//! Integration tests of the `hallmark` CLI: the built binary against a real docker-registry
//! 2.8 (shared by this test binary), OCI layouts in temporary directories, skopeo 1.18 as an
//! independent implementation, openssl, and a tiny in-test HTTP server for hostile registries.
//!
//! Every test works in its own temporary directory and its own registry repositories, so
//! tests run in parallel.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod util;

mod attest;
mod bad_input;
mod blob;
mod bundle_referrer;
mod certificates;
mod copy_tree;
mod docker_engine;
mod error_chains;
mod interop_skopeo;
mod keyrefs;
mod keys;
mod notation;
mod policy;
mod policy_skopeo;
mod proxy;
mod quickstart;
mod serve;
mod sign_verify;
mod tlog_images;
mod tlog_log;
mod tlog_server;
mod tlog_util;
mod tlog_witness;
mod trust_client;
mod trust_keyref;
mod trust_serve;
mod ui_page;
