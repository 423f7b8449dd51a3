//! hallmark-admission against real AdmissionReview requests (captured from clusters and kept
//! by the connaisseur project: `tests/data/connaisseur`, Apache-2.0, see its LICENSE).

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod decide;
mod vectors;
