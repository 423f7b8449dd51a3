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

mod cache;
mod flight;
pub mod log;
mod metrics;

pub use log::DecisionLog;

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use cache::TtlCache;
use flight::Flights;
use futures::{FutureExt as _, StreamExt as _};
use hallmark_admission::{ImageSite, Operation, Outcome, Pin, Review, gatekeeper};
use hallmark_core::{Digest, ImageRef, RegistryRef};
use hallmark_oci::{RegistryClient, Store};
use hallmark_policy::{Decision, FailurePolicy, Mode, Policy};
use hallmark_verify::{TrustConfig, Verifier};
use metrics::{Endpoint, Metrics};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
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

/// How long cached answers live, and how many are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheConfig {
    /// Most verdicts kept (per policy generation).
    pub entries: usize,
    /// How long an allowing verdict is kept (default 10 min).
    pub allow_ttl: Duration,
    /// How long a denying verdict is kept (default 30 s: an image signed after a denial is
    /// admitted soon after).
    pub deny_ttl: Duration,
    /// How long a tag's digest is kept (default 30 s).
    pub tag_ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            entries: 10_000,
            allow_ttl: Duration::from_secs(600),
            deny_ttl: Duration::from_secs(30),
            tag_ttl: Duration::from_secs(30),
        }
    }
}

/// What the webhook is built from.
#[derive(Debug)]
#[non_exhaustive]
pub struct Config {
    /// The policy file (hallmark/v1 YAML or JSON, or containers-policy.json).
    pub policy: PathBuf,
    /// How Docker Content Trust repositories are reached.
    pub trust: TrustConfig,
    /// The registry client (credentials, CA, timeouts).
    pub registry: RegistryClient,
    /// How `/mutate` pins images.
    pub pin: Pin,
    /// Every request is answered within this (default 8 s, below the API server's 10 s).
    pub decision_timeout: Duration,
    /// Every Gatekeeper request is answered within this (default 1.5 s, inside the 1-2 s
    /// provider timeout Gatekeeper recommends).
    pub gatekeeper_timeout: Duration,
    /// What to do with an image that could not be decided, for rules that do not say.
    pub failure_policy: FailurePolicy,
    /// Cache sizes and lifetimes.
    pub cache: CacheConfig,
    /// Where decision lines go.
    pub decision_log: DecisionLog,
    /// Who may ask the Gatekeeper provider.
    pub gatekeeper_clients: GatekeeperClients,
}

impl Config {
    /// Defaults for everything but the policy, trust settings and registry client.
    pub fn new(policy: PathBuf, trust: TrustConfig, registry: RegistryClient) -> Self {
        Self {
            policy,
            trust,
            registry,
            pin: Pin::default(),
            decision_timeout: Duration::from_secs(8),
            gatekeeper_timeout: Duration::from_millis(1500),
            failure_policy: FailurePolicy::Fail,
            cache: CacheConfig::default(),
            decision_log: DecisionLog::off(),
            gatekeeper_clients: GatekeeperClients::default(),
        }
    }
}

/// The policy could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("policy {path}: cannot be read")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid policy.
    #[error(transparent)]
    Parse(#[from] hallmark_policy::ParseError),
    /// A key, root or log the policy names could not be loaded.
    #[error("policy {path}")]
    Setup {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: hallmark_verify::SetupError,
    },
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reloaded {
    /// A new policy is in force (its digest).
    New(String),
    /// The file is unchanged; the policy in force stays.
    Unchanged,
}

/// A verdict's identity: the rule that decides, the image's name (with its tag) and digest,
/// within one policy generation.
type VerdictKey = (Option<String>, String, String);

/// A verification's result as its waiters see it.
type Verification = Result<Arc<Decision>, Arc<str>>;

/// One loaded policy with the caches that belong to it.
struct Generation {
    verifier: Arc<Verifier>,
    digest: String,
    verdicts: TtlCache<VerdictKey, Arc<Decision>>,
    flights: Flights<VerdictKey, Verification>,
}

struct Inner {
    config: Config,
    generation: RwLock<Arc<Generation>>,
    tags: TtlCache<String, Digest>,
    tag_flights: Flights<String, Result<Digest, Arc<str>>>,
    metrics: Metrics,
    reload_lock: tokio::sync::Mutex<()>,
}

/// The admission webhook: build once with [`Webhook::open`], serve [`Webhook::router`]
/// (cheap to clone).
#[derive(Clone)]
pub struct Webhook {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("policy", &self.inner.config.policy)
            .field("digest", &self.generation().digest)
            .finish_non_exhaustive()
    }
}

/// One image's outcome, as decided for one request.
struct Decided {
    site: ImageSite,
    rule: Option<String>,
    mode: Mode,
    failure: FailurePolicy,
    result: Result<Arc<Decision>, String>,
    cache_hit: bool,
}

async fn load(config: &Config) -> Result<Generation, LoadError> {
    let path = &config.policy;
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|source| LoadError::Read {
            path: path.clone(),
            source,
        })?;
    let policy = Policy::parse(&bytes, path)?;
    let verifier = Verifier::new(policy, config.trust.clone())
        .await
        .map_err(|source| LoadError::Setup {
            path: path.clone(),
            source,
        })?;
    Ok(Generation {
        verifier: Arc::new(verifier),
        digest: Digest::sha256_of(&bytes).to_string(),
        verdicts: TtlCache::new(config.cache.entries),
        flights: Flights::new(),
    })
}

impl Webhook {
    /// Load the policy (every key, root and log it names) and make the webhook.
    pub async fn open(config: Config) -> Result<Self, LoadError> {
        let generation = load(&config).await?;
        let tags = TtlCache::new(config.cache.entries);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                generation: RwLock::new(Arc::new(generation)),
                tags,
                tag_flights: Flights::new(),
                metrics: Metrics::default(),
                reload_lock: tokio::sync::Mutex::new(()),
            }),
        })
    }

    fn generation(&self) -> Arc<Generation> {
        self.inner
            .generation
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The digest of the policy file in force.
    pub fn policy_digest(&self) -> String {
        self.generation().digest.clone()
    }

    /// Load the policy file again. With `force`, even an unchanged file is loaded again (its
    /// keys may have changed); otherwise an unchanged file keeps the generation in force. A
    /// policy that does not load leaves the one in force as it is.
    pub async fn reload(&self, force: bool) -> Result<Reloaded, LoadError> {
        let _one_at_a_time = self.inner.reload_lock.lock().await;
        if !force
            && let Ok(bytes) = tokio::fs::read(&self.inner.config.policy).await
            && Digest::sha256_of(&bytes).to_string() == self.generation().digest
        {
            return Ok(Reloaded::Unchanged);
        }
        match load(&self.inner.config).await {
            Ok(g) => {
                let digest = g.digest.clone();
                *self
                    .inner
                    .generation
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(g);
                self.inner
                    .metrics
                    .reloads_ok
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(%digest, "policy reloaded");
                Ok(Reloaded::New(digest))
            }
            Err(e) => {
                self.inner
                    .metrics
                    .reloads_failed
                    .fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Reload the policy on SIGHUP (always) and when the file's content changes (checked every
    /// `interval`); a policy that does not load is reported on stderr and the one in force
    /// stays. Runs until the task is aborted.
    pub fn watch(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let webhook = self.clone();
        tokio::spawn(async move {
            let mut hup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                let force = tokio::select! {
                    _ = tick.tick() => false,
                    Some(()) = async {
                        match &mut hup {
                            Some(h) => h.recv().await,
                            None => std::future::pending().await,
                        }
                    } => true,
                };
                match webhook.reload(force).await {
                    Ok(Reloaded::New(digest)) => {
                        eprintln!("hallmark admission: policy reloaded ({digest})");
                    }
                    Ok(Reloaded::Unchanged) => {}
                    Err(e) => eprintln!(
                        "hallmark admission: policy not reloaded, the one in force stays: {}",
                        hallmark_core::error::chain(&e)
                    ),
                }
            }
        })
    }

    /// The Prometheus text exposition of the webhook's metrics.
    pub fn metrics(&self) -> String {
        let g = self.generation();
        self.inner.metrics.render(
            self.inner.config.registry.stats(),
            g.verdicts.len(),
            self.inner.tags.len(),
        )
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
                    Ok(decision) => denied(hallmark_admission::denial(decision)),
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

    fn log_decision(&self, d: &Decided, endpoint: Endpoint, mut line: Value) {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let (digest, result, reason) = match &d.result {
            Ok(decision) => (
                Some(decision.digest.clone()),
                result_label(Some(decision)),
                (!decision.allowed()).then(|| hallmark_admission::denial(decision)),
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
    ) -> Vec<Decided> {
        let generation = self.generation();
        let timeout = match endpoint {
            Endpoint::Gatekeeper => self.inner.config.gatekeeper_timeout,
            _ => self.inner.config.decision_timeout,
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let decided: Vec<Decided> = futures::stream::iter(sites)
            .map(|site| {
                let generation = generation.clone();
                async move {
                    let decision = tokio::time::timeout_at(
                        deadline,
                        self.decide_image(&generation, &site.image, namespace),
                    )
                    .await;
                    let (result, cache_hit) = match decision {
                        Ok(r) => r,
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
                        Err(_) => self.rule_of(&generation, &site.image, namespace),
                    };
                    Decided {
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

    /// The rule deciding `image` in `namespace`, its mode and what to do when it cannot be
    /// decided (audit rules never deny).
    fn rule_of(
        &self,
        generation: &Generation,
        image: &str,
        namespace: Option<&str>,
    ) -> (Option<String>, Mode, FailurePolicy) {
        let default = self.inner.config.failure_policy;
        let Ok(ImageRef::Registry(r)) = ImageRef::parse(image) else {
            return (None, Mode::Enforce, default);
        };
        let name = hallmark_policy::ImageName::from_registry_ref(&r);
        match generation.verifier.policy().rule_for(&name, namespace) {
            Some(rule) => {
                let failure = if rule.mode == Mode::Audit {
                    FailurePolicy::Ignore
                } else {
                    rule.failure_policy.unwrap_or(default)
                };
                (Some(rule.name.clone()), rule.mode, failure)
            }
            None => (None, Mode::Enforce, default),
        }
    }

    /// One image: the tag resolved (through the tag cache), then the verdict cache, then a
    /// verification shared with every concurrent request for the same image.
    async fn decide_image(
        &self,
        generation: &Arc<Generation>,
        image: &str,
        namespace: Option<&str>,
    ) -> (Result<Arc<Decision>, String>, bool) {
        let inner = &self.inner;
        let reference = match ImageRef::parse(image) {
            Ok(ImageRef::Registry(r)) => r,
            Ok(ImageRef::Layout { .. }) => {
                return (
                    Err(format!(
                        "expected a registry image reference, found the OCI layout {image:?}"
                    )),
                    false,
                );
            }
            Err(e) => return (Err(hallmark_core::error::chain(&e)), false),
        };
        let reference = if reference.tag.is_none() && reference.digest.is_none() {
            reference.with_tag("latest")
        } else {
            reference
        };
        let (digest, resolved_here) = match &reference.digest {
            Some(d) => (d.clone(), false),
            None => match self.resolve_tag(&reference).await {
                Ok(d) => d,
                Err(e) => return (Err(e), false),
            },
        };
        // The tag stays: rules may match it, and DCT signs tags.
        let mut pinned = reference.clone();
        pinned.digest = Some(digest.clone());
        let name = hallmark_policy::ImageName::from_registry_ref(&pinned);
        let rule = generation
            .verifier
            .policy()
            .rule_for(&name, namespace)
            .map(|r| r.name.clone());
        let mut unpinned = pinned.clone();
        unpinned.digest = None;
        let key: VerdictKey = (rule, unpinned.to_string(), digest.to_string());
        if let Some(d) = generation.verdicts.get(&key) {
            inner.metrics.verdict_hits.fetch_add(1, Ordering::Relaxed);
            return (Ok(d), !resolved_here);
        }
        inner.metrics.verdict_misses.fetch_add(1, Ordering::Relaxed);
        let (flight, started) = generation.flights.join_or_start(&key, || {
            let (webhook, generation, key) = (self.clone(), generation.clone(), key.clone());
            let namespace = namespace.map(str::to_owned);
            webhook.verify(generation, key, pinned, namespace).boxed()
        });
        if !started {
            inner
                .metrics
                .verifications_joined
                .fetch_add(1, Ordering::Relaxed);
        }
        (flight.await.map_err(|e| e.to_string()), false)
    }

    /// The digest `reference`'s tag names (through the tag cache; concurrent lookups of one
    /// tag share one registry request); `true` when the registry was asked.
    async fn resolve_tag(&self, reference: &RegistryRef) -> Result<(Digest, bool), String> {
        let inner = &self.inner;
        let tag_key = reference.to_string();
        if let Some(d) = inner.tags.get(&tag_key) {
            inner.metrics.tag_hits.fetch_add(1, Ordering::Relaxed);
            return Ok((d, false));
        }
        inner.metrics.tag_misses.fetch_add(1, Ordering::Relaxed);
        let (lookup, _) = inner.tag_flights.join_or_start(&tag_key, || {
            let (webhook, reference, tag_key) = (self.clone(), reference.clone(), tag_key.clone());
            async move {
                let inner = &webhook.inner;
                let store = Store::Registry(inner.config.registry.repository(&reference));
                let tag = reference.tag.as_deref().unwrap_or("latest");
                let result = match store.head_manifest(tag).await {
                    Ok(Some(descriptor)) => {
                        inner.tags.insert(
                            tag_key.clone(),
                            descriptor.digest.clone(),
                            inner.config.cache.tag_ttl,
                        );
                        Ok(descriptor.digest)
                    }
                    Ok(None) => Err(Arc::from(format!(
                        "expected the tag {tag} in {}, found no such manifest",
                        store.location()
                    ))),
                    Err(e) => Err(Arc::from(hallmark_core::error::chain(&e))),
                };
                inner.tag_flights.finish(&tag_key);
                result
            }
            .boxed()
        });
        lookup.await.map(|d| (d, true)).map_err(|e| e.to_string())
    }

    /// The verification behind a verdict cache miss; its result is cached before it is
    /// handed to the requests waiting for it.
    async fn verify(
        self,
        generation: Arc<Generation>,
        key: VerdictKey,
        pinned: RegistryRef,
        namespace: Option<String>,
    ) -> Verification {
        struct Watch<'a>(&'a Metrics, bool);
        impl Drop for Watch<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    self.0
                        .verifications_abandoned
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let inner = &self.inner;
        inner.metrics.verifications.fetch_add(1, Ordering::Relaxed);
        let mut watch = Watch(&inner.metrics, false);
        let store = Store::Registry(inner.config.registry.repository(&pinned));
        let decided = generation
            .verifier
            .decide(&store, &ImageRef::Registry(pinned), namespace.as_deref())
            .await;
        let result = match decided {
            Ok(v) => {
                let d = Arc::new(v.decision);
                let ttl = if d.allowed() {
                    inner.config.cache.allow_ttl
                } else {
                    inner.config.cache.deny_ttl
                };
                generation.verdicts.insert(key.clone(), d.clone(), ttl);
                Ok(d)
            }
            Err(e) => Err(Arc::from(hallmark_core::error::chain(&e))),
        };
        generation.flights.finish(&key);
        watch.1 = true;
        result
    }
}

fn outcome(d: &Decided) -> Outcome<'_> {
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
    let g = webhook.generation();
    format!(
        "ready: policy {} ({} rules, keys loaded)\n",
        g.digest,
        g.verifier.policy().rules.len()
    )
}

async fn metrics_text(State(webhook): State<Webhook>) -> HttpResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        webhook.metrics(),
    )
        .into_response()
}
