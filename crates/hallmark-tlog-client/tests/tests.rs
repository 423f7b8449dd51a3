//! Tests of hallmark-tlog-client's pure parts: entry forms, checkpoint verification, monitor
//! transitions and state files.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod pure;
