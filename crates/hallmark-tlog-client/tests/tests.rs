//! Tests of hallmark-tlog-client's pure parts: monitor transitions and state files (entry forms
//! and checkpoint verification are tested in hallmark-tlog, where they live).

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod pure;
