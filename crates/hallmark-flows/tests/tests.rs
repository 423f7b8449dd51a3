//! Integration tests of hallmark-flows (one test binary), on OCI image layouts: no servers.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod hostile_trees;
mod layout;
