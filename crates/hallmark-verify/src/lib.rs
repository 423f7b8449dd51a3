//! The one place every enforcement point (the CLI's `verify --policy` and `pull`, and later
//! the admission webhook, the registry proxy and the page) asks **"may this image run, and
//! why?"**.
//!
//! A [`Verifier`] is built once from a [`hallmark_policy::Policy`] and a [`TrustConfig`]: every
//! key, certificate root and transparency-log key the policy names is loaded then (a key that
//! cannot be loaded is a [`SetupError`], never a silent "unsigned"). [`Verifier::decide`]
//! resolves an image's tag once, finds the rule that matches it, collects only the evidence
//! that rule needs (with the collectors of [`collect`] and [`dct`], concurrently) and hands it
//! to the pure [`hallmark_policy::evaluate`]. The decision carries the digest it is about and
//! the exact manifest bytes that were verified, so a caller that copies or serves the image
//! uses those bytes and never reads the tag a second time.
//!
//! Formats collected: cosign `sha256-<hex>.sig` simple-signing signatures and Sigstore bundle
//! v0.3 referrers (key, keyless/Fulcio and private-PKI certificates, Rekor SETs and bundle
//! inclusion proofs, as [`hallmark_sigstore`] verifies them), cosign `.att` DSSE attestations
//! and in-toto bundle referrers, and Docker Content Trust signed tags (notary 0.7.0 trust
//! data through [`hallmark_trust_client`], docker's signer names), and Notary Project
//! (notation) signatures verified under notation trust policies ([`notation`]).

pub mod cached;
pub mod collect;
pub mod dct;
pub mod decision_log;
pub mod error;
mod flight;
pub mod material;
pub mod notation;
mod ttl;

pub use cached::{CacheConfig, Decided, Decider, LoadError, Reloaded};
pub use decision_log::DecisionLog;
pub use error::{DecideError, SetupError};

use hallmark_core::{Digest, ImageRef};
use hallmark_oci::{FetchedManifest, Store};
use hallmark_policy::{
    Decision, Evidence, Policy, SignatureFormat, Verdict, evidence::CollectionFailure,
};
use hallmark_trust_client::ClientConfig;
use std::sync::Arc;

/// Everything a [`Verifier`] needs besides the policy, decided once by its caller (no
/// process-global state).
#[derive(Debug, Clone)]
pub struct TrustConfig {
    /// How Docker Content Trust repositories are reached (server, CA, trust directory, root
    /// trust, registry login). `None`: docker's defaults, made when a rule first needs them.
    pub dct: Option<ClientConfig>,
}

/// A decision about one image, with what it was made on.
#[derive(Debug)]
pub struct Verified {
    /// The decision (verdict, rule, each requirement's result, reasons).
    pub decision: Decision,
    /// The manifest the decision is about: the exact bytes at the digest verified, read once.
    pub manifest: FetchedManifest,
    /// What the decision was made on: the verified signatures, attestations and trust data the
    /// matched rule needed, the candidates that did not verify, what could not be collected.
    pub evidence: Evidence,
}

impl Verified {
    /// True when the image may be used (enforce mode: every requirement met; audit mode:
    /// always).
    pub fn allowed(&self) -> bool {
        self.decision.verdict == Verdict::Allow
    }
}

/// The policy with every key and root it names loaded: build once, decide many times (it is
/// `Send + Sync`; share it behind an `Arc`).
#[derive(Debug)]
pub struct Verifier {
    policy: Arc<Policy>,
    material: material::Material,
    dct: Option<ClientConfig>,
}

impl Verifier {
    /// Load every key, certificate root and log key the policy names.
    pub async fn new(policy: Policy, config: TrustConfig) -> Result<Self, SetupError> {
        let material = material::Material::load(&policy).await?;
        Ok(Self {
            policy: Arc::new(policy),
            material,
            dct: config.dct,
        })
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Evidence about `image` at `digest` with nothing collected yet.
    fn evidence_for(&self, image: &ImageRef, digest: &Digest, namespace: Option<&str>) -> Evidence {
        Evidence {
            image: collect::image_name(image),
            digest: digest.to_string(),
            namespace: namespace.map(str::to_owned),
            keys: self.material.key_fingerprints(),
            signatures: Vec::new(),
            attestations: Vec::new(),
            dct: Vec::new(),
            notation: Vec::new(),
            rejected: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Decide about `image`, read through `store` (the registry repository or OCI layout
    /// the image lives in). `namespace` is the Kubernetes namespace of an admission request.
    ///
    /// A tag is resolved once, here; the evidence is collected for that digest only. Failing to
    /// read the image itself is an error (there is nothing to decide about); failing to read
    /// its signatures, attestations or trust data is evidence (the requirements that needed
    /// them are unmet, with the reason).
    pub async fn decide(
        &self,
        store: &Store,
        image: &ImageRef,
        namespace: Option<&str>,
    ) -> Result<Verified, DecideError> {
        let manifest = store
            .get_manifest(&manifest_reference(image))
            .await
            .map_err(|source| DecideError::Resolve {
                image: image.to_string(),
                source,
            })?;
        let mut evidence = self.evidence_for(image, &manifest.digest, namespace);
        let name = evidence.image.clone();
        // One instant for the whole decision (notation's expiry and validity checks included).
        let instant = time::OffsetDateTime::now_utc();
        let now = instant.unix_timestamp();
        if let Some(rule) = self.policy.rule_for(&name, namespace) {
            let needs = rule.needs();
            let dct_config = match (&self.dct, needs.dct_servers.is_empty()) {
                (_, true) => None,
                (Some(c), false) => Some(c.clone()),
                (None, false) => match ClientConfig::docker_defaults() {
                    Ok(c) => Some(c),
                    Err(e) => {
                        evidence.failures.push(CollectionFailure {
                            what: hallmark_policy::evidence::Collected::Dct,
                            message: e.to_string(),
                        });
                        None
                    }
                },
            };
            let signatures = async {
                if needs.signatures {
                    Some(
                        collect::signatures(
                            store,
                            &manifest.digest,
                            rule,
                            &self.material,
                            collect::Referrers::IfNeeded,
                        )
                        .await,
                    )
                } else {
                    None
                }
            };
            let attestations = async {
                if needs.attestations.is_empty() {
                    None
                } else {
                    Some(collect::attestations(store, &manifest.digest, rule, &self.material).await)
                }
            };
            let trust = async {
                match (&dct_config, image) {
                    (Some(config), ImageRef::Registry(r)) => {
                        dct::collect(config, r, &needs.dct_servers).await
                    }
                    (Some(_), ImageRef::Layout { .. }) => needs
                        .dct_servers
                        .iter()
                        .map(|server| hallmark_policy::evidence::DctEvidence {
                            server: server.clone(),
                            result: Err(
                                "Docker Content Trust signs registry tags; an OCI layout has none"
                                    .into(),
                            ),
                        })
                        .collect(),
                    (None, _) => Vec::new(),
                }
            };
            let notation = async {
                if needs.notation.is_empty() {
                    Vec::new()
                } else {
                    notation::collect(
                        store,
                        &name.name,
                        &manifest,
                        &needs.notation,
                        &self.material,
                        instant,
                    )
                    .await
                }
            };
            let (signatures, attestations, trust, notation) =
                tokio::join!(signatures, attestations, trust, notation);
            evidence.notation = notation;
            if let Some(s) = signatures {
                s.into_evidence(&mut evidence);
            }
            if let Some(a) = attestations {
                a.into_evidence(&mut evidence);
            }
            evidence.dct = trust;
            // Bundle referrers are read only when the `.sig` signatures do not already
            // satisfy the rule: one registry round trip less for the common case.
            let first = hallmark_policy::evaluate(&self.policy, &evidence, now);
            if first.verdict != Verdict::Allow || !first.warnings.is_empty() {
                let wants_bundles = rule.require.iter().chain(&rule.any_of).any(|r| match r {
                    hallmark_policy::Requirement::Cosign(c) => {
                        c.formats.contains(&SignatureFormat::Bundle)
                    }
                    _ => false,
                });
                if needs.signatures && wants_bundles {
                    let more = collect::signatures(
                        store,
                        &manifest.digest,
                        rule,
                        &self.material,
                        collect::Referrers::Only,
                    )
                    .await;
                    more.into_evidence(&mut evidence);
                } else {
                    return Ok(Verified {
                        decision: first,
                        manifest,
                        evidence,
                    });
                }
            } else {
                return Ok(Verified {
                    decision: first,
                    manifest,
                    evidence,
                });
            }
        }
        let decision = hallmark_policy::evaluate(&self.policy, &evidence, now);
        Ok(Verified {
            decision,
            manifest,
            evidence,
        })
    }
}

/// A decision, and everything the policy's keys, roots and servers can say about the image.
#[derive(Debug)]
#[non_exhaustive]
pub struct Inspected {
    /// The decision, made as [`Verifier::decide`] makes it (on what the matched rule needs).
    pub verified: Verified,
    /// Evidence collected for every rule's requirements at once: signatures checked against
    /// every key and certificate root the policy names, attestations of every predicate type
    /// it names, trust data from every server it names.
    pub all: Evidence,
    /// What the policy as a whole can check: cosign signatures, attestation predicate types,
    /// DCT servers (what `all` was collected for).
    pub checked: hallmark_policy::Needs,
}

impl Verifier {
    /// [`Verifier::decide`], then the evidence every rule of the policy would look at, so a
    /// page can show each format's true state, not only what the matched rule required.
    pub async fn inspect(&self, store: &Store, image: &ImageRef) -> Result<Inspected, DecideError> {
        let verified = self.decide(store, image, None).await?;
        let union = hallmark_policy::Rule {
            name: "(every rule)".into(),
            images: Vec::new(),
            namespaces: None,
            mode: hallmark_policy::Mode::Enforce,
            failure_policy: None,
            require: self
                .policy
                .rules
                .iter()
                .flat_map(|r| r.require.iter().chain(&r.any_of))
                .cloned()
                .collect(),
            any_of: Vec::new(),
        };
        let needs = union.needs();
        let digest = verified.manifest.digest.clone();
        let mut all = self.evidence_for(image, &digest, None);
        if needs.signatures {
            for which in [collect::Referrers::IfNeeded, collect::Referrers::Only] {
                collect::signatures(store, &digest, &union, &self.material, which)
                    .await
                    .into_evidence(&mut all);
            }
        }
        if !needs.attestations.is_empty() {
            collect::attestations(store, &digest, &union, &self.material)
                .await
                .into_evidence(&mut all);
        }
        if !needs.notation.is_empty() {
            all.notation = notation::collect(
                store,
                &all.image.name,
                &verified.manifest,
                &needs.notation,
                &self.material,
                time::OffsetDateTime::now_utc(),
            )
            .await;
        }
        if !needs.dct_servers.is_empty()
            && let ImageRef::Registry(r) = image
        {
            let config = match &self.dct {
                Some(c) => Some(c.clone()),
                None => ClientConfig::docker_defaults().ok(),
            };
            if let Some(config) = config {
                let mut pinned = r.clone();
                pinned.digest = Some(digest.clone());
                all.dct = dct::collect(&config, &pinned, &needs.dct_servers).await;
            }
        }
        Ok(Inspected {
            verified,
            all,
            checked: needs,
        })
    }
}

/// The manifest reference (digest or tag) an image reference points at (`latest` when it
/// names neither).
pub fn manifest_reference(image: &ImageRef) -> String {
    if let Some(d) = image.digest() {
        return d.to_string();
    }
    image.tag().unwrap_or("latest").to_owned()
}
