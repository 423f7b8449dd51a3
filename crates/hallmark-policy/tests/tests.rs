//! Integration tests of hallmark-policy (one test binary), by the property defended.
#![allow(clippy::unwrap_used)]

mod cluster_image_policy;
mod condition;
mod containers;
mod decision_json;
mod evaluate;
mod notation;
mod parse;
mod patterns;
mod schema;
mod signed_identity;
mod support;
