//! Integration tests of hallmark-trust-server (one binary).

mod api;
mod auth;
mod postgres;
mod resign;
mod util;
