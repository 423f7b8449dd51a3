//! Integration tests of the log server: a real server on 127.0.0.1 over SQLite in a
//! temporary directory, driven over HTTP, its answers checked with hallmark-tlog's verifiers.

mod api;
mod util;
