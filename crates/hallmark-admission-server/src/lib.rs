//! hallmark's Kubernetes admission webhook and Gatekeeper external-data provider: the
//! enforcement point that decides, with one [`hallmark_policy`] policy over every signature
//! format, whether the images of an object may run.
//!
//! Follows the Kubernetes admission API (`admission.k8s.io/v1`, `v1beta1` echoed; the pure
//! half is [`hallmark_admission`]) and Gatekeeper's external data API
//! (`externaldata.gatekeeper.sh/v1beta1`, [`hallmark_admission::gatekeeper`]). [`Webhook::router`] serves:
//!
//! - `POST /validate`: allowed or denied, the denial naming each image, its rule and the unmet
//!   requirement; audit findings as warnings. DELETE and CONNECT are allowed untouched; on
//!   UPDATE, images that are the same as in `oldObject` at the same place were admitted
//!   before and are not decided again.
//! - `POST /mutate`: a JSONPatch pinning every allowed image to the digest it was verified at
//!   (`repo:tag@sha256:...` or `repo@sha256:...`, [`hallmark_admission::Pin`]); it never
//!   denies (the validating pass does, on the digests pinned here).
//! - `POST /gatekeeper/verify`: one item per key, the verified digest or the reason.
//! - `GET /healthz`, `GET /readyz`, `GET /metrics` (Prometheus text).
//!
//! Every image is decided once per policy: a **verdict cache** keyed by (policy generation,
//! rule, image name, digest) answers repeated requests without a registry round trip, a
//! shorter-lived **tag cache** maps `repo:tag` to its digest, and concurrent requests for the
//! same image **share one verification**, which stops when every request waiting for it has
//! gone. A policy reload builds a new generation with empty caches, so no verdict outlives the
//! policy it was made under. Every decision finishes within the decision timeout; an image not
//! decided by then is denied, saying so, unless its rule is in audit mode or its failure
//! policy is `Ignore`.

mod metrics;

pub use hallmark_verify::{DecisionLog, LoadError, Reloaded};

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use futures::StreamExt as _;
use hallmark_admission::{ImageSite, Operation, Outcome, Pin, Review, gatekeeper};
use hallmark_policy::{Decision, FailurePolicy, Mode};
use hallmark_verify::Decider;
use metrics::{Endpoint, Metrics};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Largest request body read (an AdmissionReview carries an object and its old version, each
/// at most the 1.5 MiB etcd stores).
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// Images of one request decided at once.
const CONCURRENT_IMAGES: usize = 32;

/// Who may ask the Gatekeeper provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GatekeeperClients {
    /// Any client that completes the TLS handshake.
    #[default]
    Any,
    /// Only clients presenting a certificate the TLS configuration's client CA verified.
    VerifiedCertificate,
}

/// What the webhook is built from.
#[derive(Debug)]
#[non_exhaustive]
pub struct Config {
    /// How `/mutate` pins images.
    pub pin: Pin,
    /// Every request is answered within this (default 8 s, below the API server's 10 s).
    pub decision_timeout: Duration,
    /// Every Gatekeeper request is answered within this (default 1.5 s, inside the 1-2 s
    /// provider timeout Gatekeeper recommends).
    pub gatekeeper_timeout: Duration,
    /// What to do with an image that could not be decided, for rules that do not say.
    pub failure_policy: FailurePolicy,
    /// Where decision lines go.
    pub decision_log: DecisionLog,
    /// Who may ask the Gatekeeper provider.
    pub gatekeeper_clients: GatekeeperClients,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            pin: Pin::default(),
            decision_timeout: Duration::from_secs(8),
            gatekeeper_timeout: Duration::from_millis(1500),
            failure_policy: FailurePolicy::Fail,
            decision_log: DecisionLog::off(),
            gatekeeper_clients: GatekeeperClients::default(),
        }
    }
}

struct Inner {
    config: Config,
    decider: Decider,
    metrics: Metrics,
}

/// The admission webhook: build once with [`Webhook::new`], serve [`Webhook::router`]
/// (cheap to clone).
#[derive(Clone)]
pub struct Webhook {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("digest", &self.inner.decider.policy_digest())
            .finish_non_exhaustive()
    }
}

/// One image's outcome, as decided for one request.
struct Site {
    site: ImageSite,
    rule: Option<String>,
    mode: Mode,
    failure: FailurePolicy,
    result: Result<Arc<Decision>, String>,
    cache_hit: bool,
}

impl Webhook {
    /// A webhook deciding with `decider` (the policy, its caches and the registry client;
    /// other services of the process may share it).
    pub fn new(config: Config, decider: Decider) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                decider,
                metrics: Metrics::default(),
            }),
        }
    }

    /// The digest of the policy file in force.
    pub fn policy_digest(&self) -> String {
        self.inner.decider.policy_digest()
    }

    /// Load the policy file again (see [`Decider::reload`]).
    pub async fn reload(&self, force: bool) -> Result<Reloaded, LoadError> {
        self.inner.decider.reload(force).await
    }

    /// Reload the policy on SIGHUP and when the file changes (see [`Decider::watch`]).
    pub fn watch(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        self.inner.decider.watch(interval, "hallmark admission")
    }

    /// The Prometheus text exposition of the webhook's metrics.
    pub fn metrics(&self) -> String {
        self.inner.metrics.render(&self.inner.decider)
    }

    /// The webhook's routes (`/validate`, `/mutate`, `/gatekeeper/verify`, `/healthz`,
    /// `/readyz`, `/metrics`), request bodies limited to [`MAX_BODY_BYTES`].
    pub fn router(&self) -> Router {
        self.base()
            .route("/metrics", get(metrics_text))
            .with_state(self.clone())
    }

    /// The routes without `/metrics`, for a process that serves one metrics endpoint for
    /// several services (see [`Webhook::metrics`]).
    pub fn routes(&self) -> Router {
        self.base().with_state(self.clone())
    }

    fn base(&self) -> Router<Webhook> {
        Router::new()
            .route("/validate", post(validate))
            .route("/mutate", post(mutate))
            .route("/gatekeeper/verify", post(gatekeeper_verify))
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(readyz))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
    }

    /// Answer an `AdmissionReview` (the body of `/validate` or `/mutate`): the response
    /// review, or why the request is not one (a 400).
    pub async fn review(
        &self,
        body: &[u8],
        mutating: bool,
    ) -> Result<Value, hallmark_admission::ReviewError> {
        let review = Review::parse(body)?;
        let object = match (review.operation, &review.object) {
            (Operation::Create | Operation::Update, Some(o)) => o,
            _ => return Ok(hallmark_admission::Response::allow().to_review(&review)),
        };
        let mut sites = hallmark_admission::images(&review.kind, object);
        if review.operation == Operation::Update
            && let Some(old) = &review.old_object
        {
            // Images already admitted at the same place are not decided again.
            let before = hallmark_admission::images(&review.kind, old);
            sites.retain(|s| {
                !before
                    .iter()
                    .any(|b| b.pointer == s.pointer && b.image == s.image)
            });
        }
        if sites.is_empty() {
            return Ok(hallmark_admission::Response::allow().to_review(&review));
        }
        let endpoint = if mutating {
            Endpoint::Mutate
        } else {
            Endpoint::Validate
        };
        let decided = self
            .decide_sites(sites, review.namespace.as_deref(), endpoint)
            .await;
        let outcomes: Vec<(ImageSite, Outcome<'_>)> = decided
            .iter()
            .map(|d| (d.site.clone(), outcome(d)))
            .collect();
        let answer = if mutating {
            // Every allowed image is pinned; the validating pass denies the others.
            let allowed: Vec<(ImageSite, Outcome<'_>)> = outcomes
                .iter()
                .filter(|(_, o)| matches!(o, Outcome::Decided(d) if d.allowed()))
                .cloned()
                .collect();
            let pinned = hallmark_admission::answer(&allowed, Some(self.inner.config.pin));
            let mut r = hallmark_admission::Response::allow();
            r.patch = pinned.patch;
            r
        } else {
            hallmark_admission::answer(&outcomes, None)
        };
        if self.inner.config.decision_log.enabled() {
            let object_name = object
                .pointer("/metadata/name")
                .or_else(|| object.pointer("/metadata/generateName"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            for d in &decided {
                self.log_decision(
                    d,
                    endpoint,
                    json!({
                        "uid": review.uid,
                        "namespace": review.namespace,
                        "kind": review.kind,
                        "object": object_name,
                        "operation": format!("{:?}", review.operation).to_uppercase(),
                        "dryRun": review.dry_run,
                        "container": d.site.container,
                    }),
                );
            }
        }
        Ok(answer.to_review(&review))
    }

    /// Answer a Gatekeeper `ProviderRequest`.
    pub async fn provide(&self, body: &[u8]) -> Value {
        let keys = match gatekeeper::parse_request(body) {
            Ok(k) => k,
            Err(e) => return gatekeeper::response(&[], Some(&e.to_string())),
        };
        let sites = keys
            .iter()
            .map(|k| ImageSite {
                pointer: String::new(),
                container: String::new(),
                image: k.clone(),
            })
            .collect();
        let decided = self.decide_sites(sites, None, Endpoint::Gatekeeper).await;
        let items: Vec<gatekeeper::Item> = decided
            .iter()
            .map(|d| {
                let allowed = |digest: &str| gatekeeper::Item {
                    key: d.site.image.clone(),
                    value: digest.to_owned(),
                    error: String::new(),
                };
                let denied = |why: String| gatekeeper::Item {
                    key: d.site.image.clone(),
                    value: "denied".into(),
                    error: why,
                };
                match &d.result {
                    Ok(decision) if decision.allowed() => allowed(&decision.digest),
                    Ok(decision) => denied(decision.denial()),
                    Err(why) => denied(format!("no decision: {why}")),
                }
            })
            .collect();
        if self.inner.config.decision_log.enabled() {
            for d in &decided {
                self.log_decision(d, Endpoint::Gatekeeper, json!({}));
            }
        }
        gatekeeper::response(&items, None)
    }

    fn log_decision(&self, d: &Site, endpoint: Endpoint, mut line: Value) {
        let now = hallmark_verify::decision_log::now();
        let (digest, result, reason) = match &d.result {
            Ok(decision) => (
                Some(decision.digest.clone()),
                result_label(Some(decision)),
                (!decision.allowed()).then(|| decision.denial()),
            ),
            Err(why) => (None, "error", Some(why.clone())),
        };
        if let Value::Object(m) = &mut line {
            m.insert("time".into(), json!(now));
            m.insert("endpoint".into(), json!(endpoint.label()));
            m.insert("image".into(), json!(d.site.image));
            m.insert("digest".into(), json!(digest));
            m.insert("rule".into(), json!(d.rule));
            m.insert("mode".into(), json!(d.mode.as_str()));
            m.insert("result".into(), json!(result));
            m.insert("reason".into(), json!(reason));
            m.insert("cacheHit".into(), json!(d.cache_hit));
            if let Ok(decision) = &d.result
                && !decision.warnings.is_empty()
            {
                m.insert("warnings".into(), json!(decision.warnings));
            }
        }
        self.inner.config.decision_log.write(&line);
    }

    /// Decide every site within the decision timeout, in order, a bounded number at a time.
    async fn decide_sites(
        &self,
        sites: Vec<ImageSite>,
        namespace: Option<&str>,
        endpoint: Endpoint,
    ) -> Vec<Site> {
        let timeout = match endpoint {
            Endpoint::Gatekeeper => self.inner.config.gatekeeper_timeout,
            _ => self.inner.config.decision_timeout,
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let decided: Vec<Site> = futures::stream::iter(sites)
            .map(|site| {
                async move {
                    let decision = tokio::time::timeout_at(
                        deadline,
                        self.inner.decider.decide(&site.image, namespace),
                    )
                    .await;
                    let (result, cache_hit) = match decision {
                        Ok(d) => (d.result, d.cache_hit),
                        Err(_) => {
                            self.inner.metrics.timeouts.fetch_add(1, Ordering::Relaxed);
                            (
                                Err(format!(
                                    "expected a decision within {}, found none: the registry \
                                     did not answer in time",
                                    humanize(timeout)
                                )),
                                false,
                            )
                        }
                    };
                    // The rule is the decision's; an image not decided goes by the rule its
                    // name matches.
                    let (rule, mode, failure) = match &result {
                        Ok(d) => (d.rule.clone(), d.mode, FailurePolicy::Fail),
                        Err(_) => self.inner.decider.rule_of(
                            &site.image,
                            namespace,
                            self.inner.config.failure_policy,
                        ),
                    };
                    Site {
                        site,
                        rule,
                        mode,
                        failure,
                        result,
                        cache_hit,
                    }
                }
            })
            .buffered(CONCURRENT_IMAGES)
            .collect()
            .await;
        for d in &decided {
            let result = match &d.result {
                Ok(decision) => result_label(Some(decision)),
                Err(_) => "error",
            };
            self.inner
                .metrics
                .decision(endpoint, result, d.rule.as_deref());
        }
        decided
    }
}

fn outcome(d: &Site) -> Outcome<'_> {
    match &d.result {
        Ok(decision) => Outcome::Decided(decision),
        Err(reason) => Outcome::Undecided {
            reason,
            failure: d.failure,
        },
    }
}

/// `allow`, `warn` (allowed with findings), `deny`.
fn result_label(d: Option<&Decision>) -> &'static str {
    match d {
        Some(d) if d.allowed() && d.warnings.is_empty() => "allow",
        Some(d) if d.allowed() => "warn",
        _ => "deny",
    }
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn json_response(status: StatusCode, v: &Value) -> HttpResponse {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn bad_request(webhook: &Webhook, message: String) -> HttpResponse {
    webhook
        .inner
        .metrics
        .bad_requests
        .fetch_add(1, Ordering::Relaxed);
    (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response()
}

async fn admission(webhook: Webhook, body: Bytes, mutating: bool) -> HttpResponse {
    let started = Instant::now();
    let response = match webhook.review(&body, mutating).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => return bad_request(&webhook, e.to_string()),
    };
    let endpoint = if mutating {
        Endpoint::Mutate
    } else {
        Endpoint::Validate
    };
    webhook.inner.metrics.observe(endpoint, started.elapsed());
    response
}

async fn validate(State(webhook): State<Webhook>, body: Bytes) -> HttpResponse {
    admission(webhook, body, false).await
}

async fn mutate(State(webhook): State<Webhook>, body: Bytes) -> HttpResponse {
    admission(webhook, body, true).await
}

async fn gatekeeper_verify(
    State(webhook): State<Webhook>,
    peer: Option<Extension<ConnectInfo<hallmark_serve::Peer>>>,
    body: Bytes,
) -> HttpResponse {
    if webhook.inner.config.gatekeeper_clients == GatekeeperClients::VerifiedCertificate
        && !peer.is_some_and(|Extension(ConnectInfo(p))| p.client_cert)
    {
        webhook
            .inner
            .metrics
            .bad_requests
            .fetch_add(1, Ordering::Relaxed);
        return json_response(
            StatusCode::FORBIDDEN,
            &gatekeeper::response(
                &[],
                Some(
                    "expected a client certificate signed by the configured client CA, found none",
                ),
            ),
        );
    }
    let started = Instant::now();
    let answer = webhook.provide(&body).await;
    let failed = answer
        .pointer("/response/systemError")
        .and_then(Value::as_str)
        .is_some_and(|e| !e.is_empty());
    if failed {
        webhook
            .inner
            .metrics
            .bad_requests
            .fetch_add(1, Ordering::Relaxed);
        return json_response(StatusCode::BAD_REQUEST, &answer);
    }
    webhook
        .inner
        .metrics
        .observe(Endpoint::Gatekeeper, started.elapsed());
    json_response(StatusCode::OK, &answer)
}

async fn readyz(State(webhook): State<Webhook>) -> String {
    let decider = &webhook.inner.decider;
    format!(
        "ready: policy {} ({} rules, keys loaded)\n",
        decider.policy_digest(),
        decider.policy().policy().rules.len()
    )
}

async fn metrics_text(State(webhook): State<Webhook>) -> HttpResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        webhook.metrics(),
    )
        .into_response()
}
