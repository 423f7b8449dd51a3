//! Decisions for servers that decide the same images again and again (the admission webhook,
//! the registry proxy): a [`Decider`] holds the policy generation in force with its verdict
//! cache, a tag → digest cache, and shares one verification (and one tag lookup) among the
//! concurrent requests for an image.
//!
//! - A verdict is cached per policy generation, keyed by (rule, image name with its tag,
//!   digest): rule selection and Docker Content Trust depend on the name and tag. Allowing
//!   verdicts live `allow_ttl`, denials `deny_ttl` (an image signed after a denial is admitted
//!   soon), at most `entries` of them.
//! - A reload builds a new generation with empty caches: no verdict outlives the policy it was
//!   made under. A policy that does not load leaves the generation in force.
//! - A verification nobody waits for any more is dropped, its registry requests with it.

use crate::flight::Flights;
use crate::ttl::TtlCache;
use crate::{TrustConfig, Verifier};
use futures::FutureExt as _;
use hallmark_core::{Digest, ImageRef, RegistryRef};
use hallmark_oci::{RegistryClient, Store};
use hallmark_policy::{Decision, FailurePolicy, Mode, Policy};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How long cached answers live, and how many are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheConfig {
    /// Most verdicts kept (per policy generation), and most tag digests.
    pub entries: usize,
    /// How long an allowing verdict is kept (default 10 min).
    pub allow_ttl: Duration,
    /// How long a denying verdict is kept (default 30 s).
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
        source: crate::SetupError,
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

/// What a [`Decider`] has done, for servers' metrics.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Counters {
    /// Verdicts answered from the cache.
    pub verdict_hits: AtomicU64,
    /// Verdicts that needed a verification (started or joined).
    pub verdict_misses: AtomicU64,
    /// Tag digests answered from the cache.
    pub tag_hits: AtomicU64,
    /// Tag digests asked of the registry (or of a lookup under way).
    pub tag_misses: AtomicU64,
    /// Verifications started.
    pub verifications: AtomicU64,
    /// Requests that waited for a verification another request started.
    pub verifications_joined: AtomicU64,
    /// Verifications dropped because every request waiting for them had gone.
    pub verifications_abandoned: AtomicU64,
    /// Reloads that brought a new policy.
    pub reloads_ok: AtomicU64,
    /// Reloads that failed (the policy in force stayed).
    pub reloads_failed: AtomicU64,
}

/// One image decided.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Decided {
    /// The decision, or why none could be made (the image could not be read, the reference is
    /// not a registry image, ...).
    pub result: Result<Arc<Decision>, String>,
    /// Answered from the verdict cache.
    pub cache_hit: bool,
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
    policy: PathBuf,
    trust: TrustConfig,
    registry: RegistryClient,
    cache: CacheConfig,
    generation: RwLock<Arc<Generation>>,
    tags: TtlCache<String, Digest>,
    tag_flights: Flights<String, Result<Digest, Arc<str>>>,
    counters: Counters,
    reload_lock: tokio::sync::Mutex<()>,
}

/// Decides images with caches; cheap to clone.
#[derive(Clone)]
pub struct Decider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Decider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decider")
            .field("policy", &self.inner.policy)
            .field("digest", &self.generation().digest)
            .finish_non_exhaustive()
    }
}

async fn load(
    path: &PathBuf,
    trust: &TrustConfig,
    cache: &CacheConfig,
) -> Result<Generation, LoadError> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|source| LoadError::Read {
            path: path.clone(),
            source,
        })?;
    let policy = Policy::parse(&bytes, path)?;
    let verifier = Verifier::new(policy, trust.clone())
        .await
        .map_err(|source| LoadError::Setup {
            path: path.clone(),
            source,
        })?;
    Ok(Generation {
        verifier: Arc::new(verifier),
        digest: Digest::sha256_of(&bytes).to_string(),
        verdicts: TtlCache::new(cache.entries),
        flights: Flights::new(),
    })
}

impl Decider {
    /// Load the policy file (every key, root and log it names).
    pub async fn open(
        policy: PathBuf,
        trust: TrustConfig,
        registry: RegistryClient,
        cache: CacheConfig,
    ) -> Result<Self, LoadError> {
        let first = load(&policy, &trust, &cache).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                policy,
                trust,
                registry,
                cache,
                generation: RwLock::new(Arc::new(first)),
                tags: TtlCache::new(cache.entries),
                tag_flights: Flights::new(),
                counters: Counters::default(),
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

    /// The policy in force.
    pub fn policy(&self) -> Arc<Verifier> {
        self.generation().verifier.clone()
    }

    /// What the decider has done.
    pub fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// Entries held by the verdict cache (of the generation in force) and the tag cache.
    pub fn cache_entries(&self) -> (usize, usize) {
        (self.generation().verdicts.len(), self.inner.tags.len())
    }

    /// The registry client's request counts.
    pub fn registry_stats(&self) -> hallmark_oci::RequestStats {
        self.inner.registry.stats()
    }

    /// The registry client verifications read through.
    pub fn registry(&self) -> &RegistryClient {
        &self.inner.registry
    }

    /// Load the policy file again. With `force`, even an unchanged file is loaded again (its
    /// keys may have changed); otherwise an unchanged file keeps the generation in force. A
    /// policy that does not load leaves the one in force as it is.
    pub async fn reload(&self, force: bool) -> Result<Reloaded, LoadError> {
        let _one_at_a_time = self.inner.reload_lock.lock().await;
        if !force
            && let Ok(bytes) = tokio::fs::read(&self.inner.policy).await
            && Digest::sha256_of(&bytes).to_string() == self.generation().digest
        {
            return Ok(Reloaded::Unchanged);
        }
        match load(&self.inner.policy, &self.inner.trust, &self.inner.cache).await {
            Ok(g) => {
                let digest = g.digest.clone();
                *self
                    .inner
                    .generation
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(g);
                self.inner
                    .counters
                    .reloads_ok
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(%digest, "policy reloaded");
                Ok(Reloaded::New(digest))
            }
            Err(e) => {
                self.inner
                    .counters
                    .reloads_failed
                    .fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Reload the policy on SIGHUP (always) and when the file's content changes (checked every
    /// `interval`); what happens is said on stderr, prefixed with `who`. Runs until the task is
    /// aborted.
    pub fn watch(&self, interval: Duration, who: &'static str) -> tokio::task::JoinHandle<()> {
        let decider = self.clone();
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
                match decider.reload(force).await {
                    Ok(Reloaded::New(digest)) => {
                        eprintln!("{who}: policy reloaded ({digest})");
                    }
                    Ok(Reloaded::Unchanged) => {}
                    Err(e) => eprintln!(
                        "{who}: policy not reloaded, the one in force stays: {}",
                        hallmark_core::error::chain(&e)
                    ),
                }
            }
        })
    }

    /// The rule deciding `image` in `namespace` under the policy in force, its mode and what to
    /// do when the image cannot be decided (audit rules never deny; `default` for rules that
    /// set no failure policy).
    pub fn rule_of(
        &self,
        image: &str,
        namespace: Option<&str>,
        default: FailurePolicy,
    ) -> (Option<String>, Mode, FailurePolicy) {
        let Ok(ImageRef::Registry(r)) = ImageRef::parse(image) else {
            return (None, Mode::Enforce, default);
        };
        let name = hallmark_policy::ImageName::from_registry_ref(&r);
        match self
            .generation()
            .verifier
            .policy()
            .rule_for(&name, namespace)
        {
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

    /// Decide `image` (a registry reference; a bare name is `:latest`) in `namespace`: its tag
    /// resolved through the tag cache, then the verdict cache, then a verification shared with
    /// every concurrent request for the same image.
    pub async fn decide(&self, image: &str, namespace: Option<&str>) -> Decided {
        let reference = match ImageRef::parse(image) {
            Ok(ImageRef::Registry(r)) => r,
            Ok(ImageRef::Layout { .. }) => {
                return Decided {
                    result: Err(format!(
                        "expected a registry image reference, found the OCI layout {image:?}"
                    )),
                    cache_hit: false,
                };
            }
            Err(e) => {
                return Decided {
                    result: Err(hallmark_core::error::chain(&e)),
                    cache_hit: false,
                };
            }
        };
        self.decide_ref(reference, namespace).await
    }

    /// [`Decider::decide`] for a parsed reference.
    pub async fn decide_ref(&self, reference: RegistryRef, namespace: Option<&str>) -> Decided {
        let generation = self.generation();
        let counters = &self.inner.counters;
        let reference = if reference.tag.is_none() && reference.digest.is_none() {
            reference.with_tag("latest")
        } else {
            reference
        };
        let (digest, resolved_here) = match &reference.digest {
            Some(d) => (d.clone(), false),
            None => match self.resolve_tag(&reference).await {
                Ok(d) => d,
                Err(e) => {
                    return Decided {
                        result: Err(e),
                        cache_hit: false,
                    };
                }
            },
        };
        // The tag stays: rules may match it, and DCT signs tags.
        let mut pinned = reference;
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
            counters.verdict_hits.fetch_add(1, Ordering::Relaxed);
            return Decided {
                result: Ok(d),
                cache_hit: !resolved_here,
            };
        }
        counters.verdict_misses.fetch_add(1, Ordering::Relaxed);
        let (flight, started) = generation.flights.join_or_start(&key, || {
            let (decider, generation, key) = (self.clone(), generation.clone(), key.clone());
            let namespace = namespace.map(str::to_owned);
            decider.verify(generation, key, pinned, namespace).boxed()
        });
        if !started {
            counters
                .verifications_joined
                .fetch_add(1, Ordering::Relaxed);
        }
        Decided {
            result: flight.await.map_err(|e| e.to_string()),
            cache_hit: false,
        }
    }

    /// The digest `reference`'s tag names (through the tag cache; concurrent lookups of one
    /// tag share one registry request); `true` when the registry was asked.
    pub async fn resolve_tag(&self, reference: &RegistryRef) -> Result<(Digest, bool), String> {
        let inner = &self.inner;
        let tag_key = reference.to_string();
        if let Some(d) = inner.tags.get(&tag_key) {
            inner.counters.tag_hits.fetch_add(1, Ordering::Relaxed);
            return Ok((d, false));
        }
        inner.counters.tag_misses.fetch_add(1, Ordering::Relaxed);
        let (lookup, _) = inner.tag_flights.join_or_start(&tag_key, || {
            let (decider, reference, tag_key) = (self.clone(), reference.clone(), tag_key.clone());
            async move {
                let inner = &decider.inner;
                let store = Store::Registry(inner.registry.repository(&reference));
                let tag = reference.tag.as_deref().unwrap_or("latest");
                let result = match store.head_manifest(tag).await {
                    Ok(Some(descriptor)) => {
                        inner.tags.insert(
                            tag_key.clone(),
                            descriptor.digest.clone(),
                            inner.cache.tag_ttl,
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

    /// Forget what the tag cache holds for `reference` (its tag was pushed anew).
    pub fn forget_tag(&self, reference: &RegistryRef) {
        self.inner.tags.remove(&reference.to_string());
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
        struct Watch<'a>(&'a Counters, bool);
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
        inner.counters.verifications.fetch_add(1, Ordering::Relaxed);
        let mut watch = Watch(&inner.counters, false);
        let store = Store::Registry(inner.registry.repository(&pinned));
        let decided = generation
            .verifier
            .decide(&store, &ImageRef::Registry(pinned), namespace.as_deref())
            .await;
        let result = match decided {
            Ok(v) => {
                let d = Arc::new(v.decision);
                let ttl = if d.allowed() {
                    inner.cache.allow_ttl
                } else {
                    inner.cache.deny_ttl
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
