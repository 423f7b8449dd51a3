//! The admission webhook as the Kubernetes API server and Gatekeeper call it: over HTTPS, with
//! real AdmissionReview requests (connaisseur's captured vectors with their images rewritten
//! to the local registry, and requests rendered from real workload objects), against the real
//! docker-registry holding images signed by hallmark and by skopeo. No API server can run
//! here; the webhook is called the way it calls.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;
mod decisions;
mod faults;
mod gatekeeper;
mod manifests;
mod vectors;
