//! Integration tests of hallmark-core (one test binary).
#![allow(clippy::unwrap_used)]

mod digest;
mod keyfile;
mod keys;
mod reference;
mod support;
