//! Integration tests of hallmark-trust-client against the real notary-server and
//! notary-signer 0.7.0 (Debian package `notary`), started on 127.0.0.1 by the tests.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod notary_interop;
mod offline;
