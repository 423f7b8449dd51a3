//! Kubernetes admission, pure (no I/O): what an admission webhook reads and writes.
//!
//! Follows the Kubernetes admission API, `admission.k8s.io/v1` (and `v1beta1`, which the API
//! server still sends when a webhook lists it; the response echoes the request's `apiVersion`
//! and `kind`):
//!
//! - [`Review::parse`]: an `AdmissionReview` request: `uid`, the object's kind, namespace,
//!   operation, `object`, `oldObject`, `dryRun`. A review without a request, a uid or an
//!   operation is an error naming what is missing.
//! - [`images`]: every image of an object, with the JSON pointer of its `image` field: Pods and
//!   every workload kind that carries a pod template (Deployment, ReplicaSet, StatefulSet,
//!   DaemonSet, Job, ReplicationController: `spec.template.spec`; CronJob:
//!   `spec.jobTemplate.spec.template.spec`), in `containers`, `initContainers` and
//!   `ephemeralContainers`.
//! - [`Response`]: the `AdmissionReview` answer: allowed or denied with a message, warnings
//!   (each cut below the 120 characters the API server accepts), and a base64 JSONPatch
//!   (`patchType: JSONPatch`) replacing image references, for the mutating webhook.
//! - [`answer`]: the response for an object whose images `hallmark-policy` decided: a denial
//!   names each denied image, its rule and unmet requirement; audit findings are warnings;
//!   allowed images are pinned to the digest that was verified ([`Pin`]).
//! - [`gatekeeper`]: Gatekeeper's external-data provider messages
//!   (`externaldata.gatekeeper.sh/v1beta1` ProviderRequest and ProviderResponse).

pub mod gatekeeper;

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// The API server's limit on one warning (characters); longer ones are cut.
pub const MAX_WARNING_CHARS: usize = 120;

/// An `AdmissionReview` that is not a usable request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewError {
    /// Not JSON.
    #[error("expected an AdmissionReview (JSON), found invalid JSON: {0}")]
    Json(String),
    /// The wrong `apiVersion` or `kind`.
    #[error(
        "expected apiVersion admission.k8s.io/v1 (or v1beta1) and kind AdmissionReview, found {api_version:?} and {kind:?}"
    )]
    NotAReview {
        /// The `apiVersion` found.
        api_version: String,
        /// The `kind` found.
        kind: String,
    },
    /// A required field is missing or has the wrong type.
    #[error("expected {field} in the AdmissionReview request, found {found}")]
    Missing {
        /// The field (`request`, `request.uid`, ...).
        field: &'static str,
        /// What was there instead.
        found: &'static str,
    },
}

/// The operation of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// `CREATE`
    Create,
    /// `UPDATE`
    Update,
    /// `DELETE`
    Delete,
    /// `CONNECT`
    Connect,
}

/// An admission request, as far as a webhook deciding on images needs it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Review {
    /// The review's `apiVersion`, echoed in the response.
    pub api_version: String,
    /// `request.uid`, echoed in the response.
    pub uid: String,
    /// `request.kind.kind` (`Pod`, `Deployment`, ...).
    pub kind: String,
    /// `request.namespace` (absent for cluster-scoped objects).
    pub namespace: Option<String>,
    /// `request.operation`.
    pub operation: Operation,
    /// `request.object` (absent on DELETE).
    pub object: Option<Value>,
    /// `request.oldObject` (on UPDATE and DELETE).
    pub old_object: Option<Value>,
    /// `request.dryRun`.
    pub dry_run: bool,
}

fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "nothing",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Number(_)) => "a number",
        Some(Value::String(_)) => "a string",
        Some(Value::Array(_)) => "an array",
        Some(Value::Object(_)) => "an object",
    }
}

impl Review {
    /// Read an `AdmissionReview` request.
    pub fn parse(bytes: &[u8]) -> Result<Self, ReviewError> {
        let mut v: Value =
            serde_json::from_slice(bytes).map_err(|e| ReviewError::Json(e.to_string()))?;
        let api_version = v
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default();
        if !matches!(
            api_version,
            "admission.k8s.io/v1" | "admission.k8s.io/v1beta1"
        ) || kind != "AdmissionReview"
        {
            return Err(ReviewError::NotAReview {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
            });
        }
        let api_version = api_version.to_owned();
        let request = match v.get_mut("request") {
            Some(Value::Object(r)) => r,
            other => {
                return Err(ReviewError::Missing {
                    field: "request",
                    found: type_name(other.map(|o| &*o)),
                });
            }
        };
        let string = |field: &'static str, key: &str| match request.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            other => Err(ReviewError::Missing {
                field,
                found: type_name(other),
            }),
        };
        let uid = string("request.uid", "uid")?;
        let operation = match string("request.operation", "operation")?.as_str() {
            "CREATE" => Operation::Create,
            "UPDATE" => Operation::Update,
            "DELETE" => Operation::Delete,
            "CONNECT" => Operation::Connect,
            _ => {
                return Err(ReviewError::Missing {
                    field: "request.operation (CREATE, UPDATE, DELETE or CONNECT)",
                    found: "another string",
                });
            }
        };
        let kind = match request.get("kind").and_then(|k| k.get("kind")) {
            Some(Value::String(k)) => k.clone(),
            other => {
                return Err(ReviewError::Missing {
                    field: "request.kind.kind",
                    found: type_name(other),
                });
            }
        };
        // Taken, not copied: an object may be large.
        let mut take = |key: &str| match request.remove(key) {
            Some(o @ Value::Object(_)) => Ok(Some(o)),
            Some(other) => Err(type_name(Some(&other))),
            None => Err(type_name(None)),
        };
        let (object, object_found) = match take("object") {
            Ok(o) => (o, "an object"),
            Err(found) => (None, found),
        };
        let old_object = take("oldObject").ok().flatten();
        if matches!(operation, Operation::Create | Operation::Update) && object.is_none() {
            return Err(ReviewError::Missing {
                field: "request.object",
                found: object_found,
            });
        }
        Ok(Self {
            api_version,
            uid,
            kind,
            namespace: request
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            operation,
            object,
            old_object,
            dry_run: request.get("dryRun").and_then(Value::as_bool) == Some(true),
        })
    }
}

/// Where an object of `kind` keeps its pod spec, as JSON pointer components; `None` for kinds
/// without one.
pub fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&["spec"]),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => Some(&["spec", "template", "spec"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

/// The container lists of a pod spec.
pub const CONTAINER_LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// One image of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSite {
    /// The JSON pointer (RFC 6901) of the `image` field.
    pub pointer: String,
    /// The container's name.
    pub container: String,
    /// The image reference as written.
    pub image: String,
}

/// Every image of `object` (of `kind`), in file order: init containers, containers, ephemeral
/// containers. Containers without an image are skipped (the API server refuses them anyway).
pub fn images(kind: &str, object: &Value) -> Vec<ImageSite> {
    let Some(path) = pod_spec_path(kind) else {
        return Vec::new();
    };
    let mut spec = object;
    for key in path {
        match spec.get(key) {
            Some(next) => spec = next,
            None => return Vec::new(),
        }
    }
    let base = format!("/{}", path.join("/"));
    let mut out = Vec::new();
    for list in CONTAINER_LISTS {
        let Some(containers) = spec.get(list).and_then(Value::as_array) else {
            continue;
        };
        for (i, c) in containers.iter().enumerate() {
            let Some(image) = c.get("image").and_then(Value::as_str) else {
                continue;
            };
            out.push(ImageSite {
                pointer: format!("{base}/{list}/{i}/image"),
                container: c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                image: image.to_owned(),
            });
        }
    }
    out
}

/// An `AdmissionReview` response.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Response {
    /// Allowed or not.
    pub allowed: bool,
    /// Why not (`status.message`), or a note.
    pub message: Option<String>,
    /// Warnings shown to the client (each cut to [`MAX_WARNING_CHARS`]).
    pub warnings: Vec<String>,
    /// JSONPatch `replace` operations: (pointer, new value).
    pub patch: Vec<(String, String)>,
}

impl Response {
    /// Allowed, nothing to say.
    pub fn allow() -> Self {
        Self {
            allowed: true,
            message: None,
            warnings: Vec::new(),
            patch: Vec::new(),
        }
    }

    /// Denied, with the reason.
    pub fn deny(message: impl Into<String>) -> Self {
        Self {
            allowed: false,
            message: Some(message.into()),
            ..Self::allow()
        }
    }

    /// The `AdmissionReview` answering `review` (its `apiVersion` and `uid` echoed).
    pub fn to_review(&self, review: &Review) -> Value {
        self.to_review_for(&review.api_version, &review.uid)
    }

    /// The `AdmissionReview` answering a request of `api_version` with `uid` (for requests
    /// that did not parse far enough to be a [`Review`]).
    pub fn to_review_for(&self, api_version: &str, uid: &str) -> Value {
        let mut response = Map::new();
        response.insert("uid".into(), json!(uid));
        response.insert("allowed".into(), json!(self.allowed));
        if let Some(message) = &self.message {
            let code = if self.allowed { 200 } else { 403 };
            response.insert("status".into(), json!({"code": code, "message": message}));
        }
        if !self.warnings.is_empty() {
            let warnings: Vec<String> = self.warnings.iter().map(|w| cut_warning(w)).collect();
            response.insert("warnings".into(), json!(warnings));
        }
        if !self.patch.is_empty() {
            let ops: Vec<Value> = self
                .patch
                .iter()
                .map(|(path, value)| json!({"op": "replace", "path": path, "value": value}))
                .collect();
            let bytes = serde_json::to_vec(&ops).unwrap_or_default();
            response.insert("patchType".into(), json!("JSONPatch"));
            response.insert(
                "patch".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
            );
        }
        json!({
            "apiVersion": api_version,
            "kind": "AdmissionReview",
            "response": Value::Object(response),
        })
    }
}

/// `w` cut to fewer than [`MAX_WARNING_CHARS`] characters (an ellipsis marks the cut).
pub fn cut_warning(w: &str) -> String {
    if w.chars().count() < MAX_WARNING_CHARS {
        return w.to_owned();
    }
    let mut out: String = w.chars().take(MAX_WARNING_CHARS - 2).collect();
    out.push('…');
    out
}

/// How an allowed image reference is pinned to the digest that was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Pin {
    /// `repo:tag@sha256:...`: the tag kept for people and tools that diff manifests.
    #[default]
    TagAndDigest,
    /// `repo@sha256:...`.
    DigestOnly,
}

/// `image` pinned to `digest` as `pin` says; `None` when it already names a digest.
pub fn pin(image: &str, digest: &str, pin: Pin) -> Option<String> {
    if image.contains('@') {
        return None;
    }
    let name = match pin {
        Pin::TagAndDigest => image,
        // A tag is what follows the last `:` after the last `/` (a `:` before it is a port).
        Pin::DigestOnly => match image.rfind(':') {
            Some(i) if !image[i..].contains('/') => &image[..i],
            _ => image,
        },
    };
    Some(format!("{name}@{digest}"))
}

/// What became of one image.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Outcome<'a> {
    /// The policy decided.
    Decided(&'a hallmark_policy::Decision),
    /// No decision could be made (the registry did not answer in time, the reference is not
    /// an image, ...).
    Undecided {
        /// Why, naming what was expected and found.
        reason: &'a str,
        /// What to do about it: the rule's failure policy (audit rules never deny).
        failure: hallmark_policy::FailurePolicy,
    },
}

/// The answer for an object whose images were decided (`decided`: each site with its
/// outcome). Denied when any image is denied: the message names each denied image, the rule
/// that decided and why, or why no decision could be made; audit-mode findings and images
/// allowed by failure policy `Ignore` come back as warnings. With `pinning`, every allowed
/// image that names no digest yet is pinned to the digest that was decided on.
pub fn answer(decided: &[(ImageSite, Outcome<'_>)], pinning: Option<Pin>) -> Response {
    let mut denials = Vec::new();
    let mut response = Response::allow();
    for (site, outcome) in decided {
        let d = match outcome {
            Outcome::Decided(d) => d,
            Outcome::Undecided { reason, failure } => {
                if *failure == hallmark_policy::FailurePolicy::Ignore {
                    response.warnings.push(format!(
                        "{}: not verified (failure policy Ignore): {reason}",
                        site.image
                    ));
                } else {
                    denials.push(format!(
                        "{} (container {}): no decision: {reason}",
                        site.image, site.container
                    ));
                }
                continue;
            }
        };
        for w in &d.warnings {
            response.warnings.push(format!("{}: {w}", site.image));
        }
        if !d.allowed() {
            denials.push(format!(
                "{} (container {}): {}",
                site.image,
                site.container,
                d.denial()
            ));
            continue;
        }
        if let Some(style) = pinning
            && let Some(pinned) = pin(&site.image, &d.digest, style)
        {
            response.patch.push((site.pointer.clone(), pinned));
        }
    }
    if denials.is_empty() {
        return response;
    }
    Response {
        allowed: false,
        message: Some(denials.join("; ")),
        warnings: response.warnings,
        patch: Vec::new(),
    }
}
