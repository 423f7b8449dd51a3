//! The server loop against hostile clients: connections that dribble their headers, sit
//! idle, or come by the hundred beyond the cap; a normal client is still served.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod hostile;
