//! The pure core of hallmark's transparency log.
//!
//! TODO crate docs
pub mod hash;
pub mod proof;
pub mod tree;
