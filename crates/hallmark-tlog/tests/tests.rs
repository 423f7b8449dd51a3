//! hallmark-tlog integration tests (one binary).

mod bench;
mod checkpoint;
mod entry;
mod log_flow;
mod naive;
mod note;
mod prng;
mod proof;
mod real_data;
mod rekor;
mod tiles;
mod tree;
mod witness;
