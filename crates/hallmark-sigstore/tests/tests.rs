//! Integration tests of hallmark-sigstore (one test binary), mostly against third-party
//! vectors under `tests/data/vectors/` (see its README for origin and row numbers).
#![allow(clippy::unwrap_used)]

mod attestations;
mod bundles;
mod certificates;
mod containers_dir;
mod payload;
mod rekor;
mod sigmanifest;
mod support;
mod tlog;
