//! hallmark-tlog integration tests (one binary).

mod naive;
mod prng;
mod proof;
mod tree;
