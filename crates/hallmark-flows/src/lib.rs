//! async flows over a registry or OCI layout: sign, attest, verify, tree, copy.
//!
//! The cosign formats these flows read and write (simple-signing payloads, `sha256-<hex>.sig` /
//! `.att` attachment manifests, DSSE / in-toto attestations, Sigstore bundle v0.3 referrers)
//! and every verification decision are in the pure `hallmark-sigstore`; this crate does the
//! I/O around them against a [`Store`] (an OCI distribution-spec v1.1 registry or an OCI
//! image-spec v1.1 layout), signs with a [`Signer`] from `hallmark-keys`, and uploads
//! `hashedrekord` 0.0.1 entries to a Rekor v1-compatible log with a [`TlogClient`].
//!
//! Tags are resolved once. All checks (and log uploads) run before the first write, and blobs
//! are written before the manifest that names them, so a failure leaves the store as it was.

pub mod bundle_sign;
mod error;
pub mod notation;

pub use error::SigstoreError;
pub use hallmark_sigstore::sigmanifest::Attachment;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use futures::{StreamExt as _, TryStreamExt as _};
use hallmark_core::{Digest, ImageRef, PublicKey};
use hallmark_keys::Signer;
use hallmark_oci::{
    Descriptor, FetchedManifest, ImageIndex, ImageManifest, Manifest, OciError, Store,
    manifest::to_json_bytes, media_types,
};
use hallmark_sigstore::{
    BUNDLE_ANNOTATION, BUNDLE_V03_MEDIA_TYPE, DSSE_MEDIA_TYPE, PREDICATE_TYPE_ANNOTATION,
    SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, SigManifestError,
    attestation::{self, VerifiedAttestation},
    bundle::COSIGN_SIGN_PREDICATE,
    candidate::{CandidateSource, SignatureCandidate},
    dsse::{self, Envelope, IN_TOTO_PAYLOAD_TYPE},
    error::{Rejection, VerifyError},
    payload,
    sigmanifest::{self, NewLayer},
    verify::{self, VerificationPolicy, VerifiedSignature},
};
use hallmark_tlog::{LogEntry, rekor::HashedRekord};
use hallmark_tlog_client::TlogClient;
use std::collections::BTreeMap;

/// The largest signature payload, envelope or bundle read (cosign's default is larger; these
/// objects are a few KiB).
pub const MAX_ATTACHMENT_BYTES: u64 = 16 << 20;

/// The most bytes of signatures (`.sig` layers, or bundle referrers) read for one image: a
/// signature is a few KiB, so a manifest that lists more is refused before anything is
/// fetched (it used to be fetched all at once and held: 100 payloads of 16 MiB, 1.7 GB).
pub const MAX_SIGNATURE_BYTES_PER_IMAGE: u64 = 16 << 20;

/// The most bytes of attestations (`.att` layers) read for one image (SBOM attestations can
/// be large).
pub const MAX_ATTESTATION_BYTES_PER_IMAGE: u64 = 128 << 20;

/// Attachment blobs fetched at once for one image.
const ATTACHMENT_FETCHES: usize = 8;

/// The per-image byte budget of `kind`.
fn attachment_budget(kind: Attachment) -> u64 {
    match kind {
        Attachment::Signature => MAX_SIGNATURE_BYTES_PER_IMAGE,
        Attachment::Attestation => MAX_ATTESTATION_BYTES_PER_IMAGE,
    }
}

/// Refuse a set of attachment layers whose declared sizes exceed `budget` (each blob is then
/// read with its declared size as its limit, so the declared total bounds what is read).
fn check_budget<'a>(
    layers: impl IntoIterator<Item = &'a Descriptor>,
    budget: u64,
    location: &str,
) -> Result<(), SigstoreError> {
    let total = layers
        .into_iter()
        .fold(0u64, |sum, d| sum.saturating_add(d.size));
    if total > budget {
        return Err(SigManifestError::Malformed {
            what: "attachments".into(),
            location: location.to_owned(),
            reason: format!(
                "expected at most {budget} bytes of signatures or attestations for one image, found layers of {total} bytes"
            ),
        }
        .into());
    }
    Ok(())
}

/// The per-blob read limit of an attachment layer: its declared size, at most
/// [`MAX_ATTACHMENT_BYTES`].
fn layer_limit(d: &Descriptor) -> u64 {
    d.size.min(MAX_ATTACHMENT_BYTES)
}

/// The manifest reference (digest or tag) an image reference points at.
pub fn manifest_reference(image: &ImageRef) -> String {
    if let Some(d) = image.digest() {
        return d.to_string();
    }
    image.tag().unwrap_or("latest").to_owned()
}

/// Fetch the manifest an image reference points at (tags resolved once, here).
pub async fn resolve(store: &Store, image: &ImageRef) -> Result<FetchedManifest, SigstoreError> {
    Ok(store.get_manifest(&manifest_reference(image)).await?)
}

/// The docker-reference hallmark signs for an image when none is given: the repository
/// (`registry/repo`, as cosign writes it), or `oci:DIR` for a layout.
pub fn default_identity(image: &ImageRef) -> String {
    match image {
        ImageRef::Registry(r) => r.repository_name(),
        ImageRef::Layout { path, .. } => format!("oci:{}", path.display()),
    }
}

async fn get_optional_manifest(
    store: &Store,
    reference: &str,
) -> Result<Option<FetchedManifest>, SigstoreError> {
    match store.get_manifest(reference).await {
        Ok(m) => Ok(Some(m)),
        Err(OciError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn parse_attachment_manifest(
    m: &FetchedManifest,
    location: &str,
) -> Result<ImageManifest, SigstoreError> {
    Ok(sigmanifest::parse_manifest(
        &m.bytes,
        &m.media_type,
        location,
    )?)
}

/// Options of [`sign`].
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// `-a key=value` annotations, written into the payload's `optional`.
    pub annotations: BTreeMap<String, String>,
    /// Sign an index and every manifest under it.
    pub recursive: bool,
    /// The docker-reference to sign (default: [`default_identity`]).
    pub identity: Option<String>,
    /// Upload each signature to this transparency log (before anything is written) and store
    /// the entry in cosign's `dev.sigstore.cosign/bundle` annotation.
    pub tlog: Option<TlogClient>,
    /// Log a signature even when an identical one (same payload and key, already logged) is
    /// attached, because the caller needs the new entry (to write a Sigstore bundle).
    pub always_log: bool,
}

/// One signed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedManifest {
    /// The digest signed.
    pub digest: Digest,
    /// The attachment tag written.
    pub tag: String,
    /// The digest of the attachment manifest at `tag` after this call: the one written, or the
    /// one already there when `added` is false.
    pub manifest_digest: Digest,
    /// False when an identical signature by the same key was already there.
    pub added: bool,
    /// The signed payload.
    pub payload: Vec<u8>,
    /// The signature made (when `added` is false, the attached one is another, equivalent one).
    pub signature: Vec<u8>,
    /// The transparency-log entry of `signature`, when a log was used.
    pub tlog_entry: Option<LogEntry>,
}

/// Digests to sign: the manifest, and with `recursive` every manifest below an index.
async fn walk(
    store: &Store,
    top: &FetchedManifest,
    recursive: bool,
) -> Result<Vec<Digest>, SigstoreError> {
    let mut out = vec![top.digest.clone()];
    if !recursive {
        return Ok(out);
    }
    let mut queue = vec![top.clone()];
    while let Some(m) = queue.pop() {
        if let Ok(Manifest::Index(index)) = Manifest::parse(&m.bytes, Some(&m.media_type)) {
            for child in index.manifests {
                if out.contains(&child.digest) {
                    continue;
                }
                out.push(child.digest.clone());
                if out.len() > 10_000 {
                    return Err(SigstoreError::Invalid(
                        "index tree has more than 10000 manifests".into(),
                    ));
                }
                let fetched = store.get_manifest(&child.digest.to_string()).await?;
                queue.push(fetched);
            }
        }
    }
    Ok(out)
}

/// Log a signature over `artifact` by `key` as a `hashedrekord` 0.0.1 entry (sha256 of the
/// artifact, base64 signature, PEM public key). A 409 from the log reuses the existing entry.
pub async fn log_signature(
    client: &TlogClient,
    artifact: &[u8],
    signature: &[u8],
    key: &PublicKey,
) -> Result<LogEntry, SigstoreError> {
    let rekord = HashedRekord {
        digest: Digest::sha256_of(artifact),
        signature: signature.to_vec(),
        signer_pem: key.to_pem().into_bytes(),
    };
    let (entry, _created) = client.create_entry(&rekord).await?;
    if entry.signed_entry_timestamp.is_none() {
        return Err(hallmark_tlog_client::ClientError::BadResponse {
            reason: format!(
                "entry {} has no signedEntryTimestamp (cosign's annotation needs a SET)",
                entry.uuid
            ),
        }
        .into());
    }
    Ok(entry)
}

/// Whether an attached layer is `layer` signed by `public`: the same payload, a signature that
/// verifies, and (when `logged`) a `dev.sigstore.cosign/bundle` annotation.
fn is_same_signature(
    existing: &Descriptor,
    layer: &NewLayer,
    public: &PublicKey,
    logged: bool,
) -> bool {
    let annotations = existing.annotations.as_ref();
    existing.digest == layer.descriptor().digest
        && (!logged || annotations.is_some_and(|a| a.contains_key(BUNDLE_ANNOTATION)))
        && annotations
            .and_then(|a| a.get(SIGNATURE_ANNOTATION))
            .and_then(|s| STANDARD.decode(s).ok())
            .is_some_and(|sig| public.verify(&layer.blob, &sig).is_ok())
}

/// Whether the `.sig` manifest of `digest` already has `layer` signed by `public` (and logged).
async fn already_signed(
    store: &Store,
    digest: &Digest,
    layer: &NewLayer,
    public: &PublicKey,
) -> Result<bool, SigstoreError> {
    let tag = Attachment::Signature.tag(digest);
    let Some(m) = get_optional_manifest(store, &tag).await? else {
        return Ok(false);
    };
    let im = parse_attachment_manifest(&m, &format!("{}:{tag}", store.location()))?;
    Ok(im
        .layers
        .iter()
        .any(|d| is_same_signature(d, layer, public, true)))
}

/// Sign an image: resolve it once, then write a simple-signing layer into
/// `sha256-<hex>.sig` for its digest (and, with `recursive`, for every child manifest).
///
/// With a transparency log, every signature is uploaded first (a digest already carrying an
/// identical logged signature by this key is skipped, unless `always_log`); any log failure
/// aborts before the first write. The entry goes into the layer's
/// `dev.sigstore.cosign/bundle` annotation.
pub async fn sign<S: Signer>(
    store: &Store,
    image: &ImageRef,
    key: &S,
    options: &SignOptions,
) -> Result<Vec<SignedManifest>, SigstoreError> {
    let top = resolve(store, image).await?;
    let digests = walk(store, &top, options.recursive).await?;
    sign_digests(store, image, digests, key, options).await
}

/// Sign the manifest at `image`'s digest without reading it back first: for an image this
/// process has just written to `store` by digest, where reading it again may be refused (a
/// registry proxy that serves only signed images). Not recursive; the image must name a
/// digest.
pub async fn sign_written<S: Signer>(
    store: &Store,
    image: &ImageRef,
    key: &S,
    options: &SignOptions,
) -> Result<Vec<SignedManifest>, SigstoreError> {
    let Some(digest) = image.digest() else {
        return Err(SigstoreError::Invalid(format!(
            "{image}: expected a reference by digest"
        )));
    };
    sign_digests(store, image, vec![digest.clone()], key, options).await
}

async fn sign_digests<S: Signer>(
    store: &Store,
    image: &ImageRef,
    digests: Vec<Digest>,
    key: &S,
    options: &SignOptions,
) -> Result<Vec<SignedManifest>, SigstoreError> {
    let identity = options
        .identity
        .clone()
        .unwrap_or_else(|| default_identity(image));
    let public = key.public_key().clone();
    tracing::debug!(
        image = %image,
        manifests = digests.len(),
        identity,
        key = %public.fingerprint(),
        tlog = options.tlog.is_some(),
        "signing image"
    );
    let mut pending = Vec::with_capacity(digests.len());
    for digest in digests {
        let body = payload::build(&identity, &digest, &options.annotations);
        let signature = key.sign(&body).await?;
        let mut annotations = BTreeMap::new();
        annotations.insert(SIGNATURE_ANNOTATION.to_owned(), STANDARD.encode(&signature));
        let layer = NewLayer {
            media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_owned(),
            blob: body,
            annotations,
        };
        pending.push((digest, layer, signature, None::<LogEntry>));
    }
    if let Some(client) = &options.tlog {
        for (digest, layer, signature, entry) in &mut pending {
            if !options.always_log && already_signed(store, digest, layer, &public).await? {
                tracing::debug!(digest = %digest, "already signed and logged by this key; not logged again");
                continue;
            }
            let logged = log_signature(client, &layer.blob, signature, &public).await?;
            if let Some(annotation) = logged.to_cosign_annotation() {
                layer
                    .annotations
                    .insert(BUNDLE_ANNOTATION.to_owned(), annotation);
            }
            *entry = Some(logged);
        }
    }
    let logged = options.tlog.is_some();
    let mut out = Vec::with_capacity(pending.len());
    for (digest, layer, signature, tlog_entry) in pending {
        let (added, manifest_digest) = append_layer(
            store,
            &digest,
            Attachment::Signature,
            &layer,
            |existing, _blob| is_same_signature(existing, &layer, &public, logged),
            false,
        )
        .await?;
        tracing::debug!(
            image = %image,
            digest = %digest,
            added,
            logged = tlog_entry.is_some(),
            "signature written"
        );
        out.push(SignedManifest {
            tag: Attachment::Signature.tag(&digest),
            digest,
            manifest_digest,
            added,
            payload: layer.blob,
            signature,
            tlog_entry,
        });
    }
    Ok(out)
}

/// Append a layer to the attachment manifest of `digest`, unless `is_duplicate` says an
/// existing layer is the same. `needs_blob` fetches existing blobs for the duplicate check.
/// Returns whether the layer was added and the digest of the attachment manifest now tagged.
async fn append_layer(
    store: &Store,
    digest: &Digest,
    kind: Attachment,
    layer: &NewLayer,
    is_duplicate: impl Fn(&Descriptor, Option<&[u8]>) -> bool,
    needs_blob: bool,
) -> Result<(bool, Digest), SigstoreError> {
    let tag = kind.tag(digest);
    let location = format!("{}:{tag}", store.location());
    let existing = get_optional_manifest(store, &tag).await?;
    let appended = match existing {
        Some(m) => {
            let im = parse_attachment_manifest(&m, &location)?;
            for d in &im.layers {
                let blob = if needs_blob {
                    Some(store.get_blob(&d.digest, MAX_ATTACHMENT_BYTES).await?)
                } else {
                    None
                };
                if is_duplicate(d, blob.as_deref()) {
                    return Ok((false, m.digest.clone()));
                }
            }
            let config = store
                .get_blob(&im.config.digest, MAX_ATTACHMENT_BYTES)
                .await?;
            sigmanifest::append(Some((&im, &config)), layer, &location)?
        }
        None => sigmanifest::append(None, layer, &location)?,
    };
    store.put_blob(&layer.blob).await?;
    store.put_blob(&appended.config).await?;
    let written = store
        .put_manifest(&appended.manifest, media_types::OCI_MANIFEST, Some(&tag))
        .await?;
    Ok((true, written))
}

/// Fetch every layer of the attachment manifest at `kind`'s tag as candidates.
pub async fn attachment_candidates(
    store: &Store,
    digest: &Digest,
    kind: Attachment,
) -> Result<Vec<SignatureCandidate>, SigstoreError> {
    let tag = kind.tag(digest);
    let location = format!("{}:{tag}", store.location());
    let Some(m) = get_optional_manifest(store, &tag).await? else {
        return Ok(Vec::new());
    };
    let im = parse_attachment_manifest(&m, &location)?;
    if im.layers.len() > sigmanifest::MAX_LAYERS {
        return Err(SigManifestError::TooManyLayers {
            location,
            count: im.layers.len(),
            limit: sigmanifest::MAX_LAYERS,
        }
        .into());
    }
    check_budget(&im.layers, attachment_budget(kind), &location)?;
    // Owned descriptors: the fetches stay `Send` for callers that spawn them (a closure over
    // borrowed items is not general enough for the compiler's `Send` check).
    let fetches = im.layers.into_iter().enumerate().map(|(i, d)| {
        let tag = tag.clone();
        async move {
            let body = store.get_blob(&d.digest, layer_limit(&d)).await?;
            Ok::<_, SigstoreError>(SignatureCandidate {
                source: CandidateSource::AttachmentTag { tag, layer: i },
                media_type: d.media_type,
                body,
                annotations: d.annotations.unwrap_or_default(),
            })
        }
    });
    futures::stream::iter(fetches)
        .buffered(ATTACHMENT_FETCHES)
        .try_collect()
        .await
}

/// Sigstore bundle referrers of `digest` as candidates.
pub async fn bundle_candidates(
    store: &Store,
    digest: &Digest,
) -> Result<Vec<SignatureCandidate>, SigstoreError> {
    let referrers = store.referrers(digest, Some(BUNDLE_V03_MEDIA_TYPE)).await?;
    let mut out = Vec::new();
    let mut budget = MAX_SIGNATURE_BYTES_PER_IMAGE;
    for r in referrers.iter().take(sigmanifest::MAX_LAYERS) {
        let m = store.get_manifest(&r.digest.to_string()).await?;
        let location = format!("{}@{}", store.location(), r.digest);
        let im = parse_attachment_manifest(&m, &location)?;
        let bundles: Vec<&Descriptor> = im
            .layers
            .iter()
            .filter(|l| l.media_type == BUNDLE_V03_MEDIA_TYPE)
            .collect();
        check_budget(bundles.iter().copied(), budget, &location)?;
        for l in bundles {
            budget = budget.saturating_sub(l.size);
            let body = store.get_blob(&l.digest, layer_limit(l)).await?;
            out.push(SignatureCandidate {
                source: CandidateSource::Referrer {
                    manifest: r.digest.to_string(),
                },
                media_type: l.media_type.clone(),
                body,
                annotations: im.annotations.clone().unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

/// The result of verifying one image.
#[derive(Debug, Clone)]
pub struct ImageVerification {
    /// The reference as given.
    pub reference: String,
    /// The digest verified.
    pub digest: Digest,
    /// Signatures that passed.
    pub signatures: Vec<VerifiedSignature>,
}

/// Verify an image: the `.sig` signatures first; Sigstore bundle referrers are read when the
/// `.sig` tag has no valid signature.
pub async fn verify_image(
    store: &Store,
    image: &ImageRef,
    policy: &VerificationPolicy,
) -> Result<ImageVerification, SigstoreError> {
    let m = resolve(store, image).await?;
    let name = image.to_string();
    let mut candidates = attachment_candidates(store, &m.digest, Attachment::Signature).await?;
    tracing::debug!(
        image = name,
        digest = %m.digest,
        candidates = candidates.len(),
        "verifying .sig signatures"
    );
    let first = verify::verify_signatures(&name, &m.digest, &candidates, policy);
    let signatures = match first {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(image = name, reason = %e, "no valid .sig signature; reading bundle referrers");
            candidates.extend(bundle_candidates(store, &m.digest).await?);
            verify::verify_signatures(&name, &m.digest, &candidates, policy).inspect_err(|e| {
                tracing::debug!(image = name, candidates = candidates.len(), reason = %e, "verification failed");
            })?
        }
    };
    for s in &signatures {
        tracing::debug!(
            image = name,
            digest = %m.digest,
            source = s.source,
            format = s.format,
            key = s.key_fingerprint,
            "signature verified"
        );
    }
    Ok(ImageVerification {
        reference: name,
        digest: m.digest,
        signatures,
    })
}

/// Options of [`attest`].
#[derive(Debug, Clone)]
pub struct AttestOptions {
    /// Predicate type URI.
    pub predicate_type: String,
    /// The predicate.
    pub predicate: serde_json::Value,
    /// Replace existing attestations of the same predicate type.
    pub replace: bool,
}

/// Attest an image: a DSSE envelope over an in-toto statement, appended to
/// `sha256-<hex>.att`.
pub async fn attest<S: Signer>(
    store: &Store,
    image: &ImageRef,
    key: &S,
    options: &AttestOptions,
) -> Result<SignedManifest, SigstoreError> {
    let m = resolve(store, image).await?;
    let repository = match image {
        ImageRef::Registry(r) => r.repository_name(),
        ImageRef::Layout { .. } => default_identity(image),
    };
    let statement = attestation::build_statement(
        &repository,
        &m.digest,
        &options.predicate_type,
        options.predicate.clone(),
    );
    let signature = key
        .sign(&dsse::pae(IN_TOTO_PAYLOAD_TYPE, &statement))
        .await?;
    let envelope = Envelope::from_signature(IN_TOTO_PAYLOAD_TYPE, &statement, &signature);
    let mut annotations = BTreeMap::new();
    annotations.insert(SIGNATURE_ANNOTATION.to_owned(), String::new());
    annotations.insert(
        PREDICATE_TYPE_ANNOTATION.to_owned(),
        options.predicate_type.clone(),
    );
    let layer = NewLayer {
        media_type: DSSE_MEDIA_TYPE.to_owned(),
        blob: envelope.to_bytes(),
        annotations,
    };
    let public = key.public_key().clone();
    let tag = Attachment::Attestation.tag(&m.digest);
    if options.replace {
        let manifest_digest =
            replace_attestations(store, &m.digest, &options.predicate_type, &layer).await?;
        return Ok(SignedManifest {
            digest: m.digest,
            tag,
            manifest_digest,
            added: true,
            payload: statement,
            signature: Vec::new(),
            tlog_entry: None,
        });
    }
    let (added, manifest_digest) = append_layer(
        store,
        &m.digest,
        Attachment::Attestation,
        &layer,
        |d, blob| {
            let same_type = d
                .annotations
                .as_ref()
                .and_then(|a| a.get(PREDICATE_TYPE_ANNOTATION))
                == Some(&options.predicate_type);
            same_type
                && blob.and_then(|b| Envelope::parse(b).ok()).is_some_and(|e| {
                    e.payload == envelope.payload && e.verify(std::slice::from_ref(&public)).is_ok()
                })
        },
        true,
    )
    .await?;
    Ok(SignedManifest {
        digest: m.digest,
        tag,
        manifest_digest,
        added,
        payload: statement,
        signature: Vec::new(),
        tlog_entry: None,
    })
}

async fn replace_attestations(
    store: &Store,
    digest: &Digest,
    predicate_type: &str,
    layer: &NewLayer,
) -> Result<Digest, SigstoreError> {
    let tag = Attachment::Attestation.tag(digest);
    let location = format!("{}:{tag}", store.location());
    let appended = match get_optional_manifest(store, &tag).await? {
        Some(m) => {
            let im = parse_attachment_manifest(&m, &location)?;
            let config = store
                .get_blob(&im.config.digest, MAX_ATTACHMENT_BYTES)
                .await?;
            let config = sigmanifest::parse_config(&config, &location)?;
            // Keep the layers of other predicate types; the kept blobs are already there.
            let mut layers: Vec<Descriptor> = im
                .layers
                .into_iter()
                .filter(|d| {
                    d.annotations
                        .as_ref()
                        .and_then(|a| a.get(PREDICATE_TYPE_ANNOTATION))
                        .map(String::as_str)
                        != Some(predicate_type)
                })
                .collect();
            layers.push(layer.descriptor());
            sigmanifest::build(layers, config, &location)?
        }
        None => sigmanifest::append(None, layer, &location)?,
    };
    store.put_blob(&layer.blob).await?;
    store.put_blob(&appended.config).await?;
    Ok(store
        .put_manifest(&appended.manifest, media_types::OCI_MANIFEST, Some(&tag))
        .await?)
}

/// Verify an image's attestations (`.att` layers and in-toto bundle referrers), optionally of
/// one predicate type. At least one must pass.
pub async fn verify_attestations(
    store: &Store,
    image: &ImageRef,
    keys: &[PublicKey],
    predicate_type: Option<&str>,
) -> Result<(Digest, Vec<VerifiedAttestation>), SigstoreError> {
    let m = resolve(store, image).await?;
    let name = image.to_string();
    let mut candidates = attachment_candidates(store, &m.digest, Attachment::Attestation).await?;
    candidates.extend(bundle_candidates(store, &m.digest).await?);
    let mut ok = Vec::new();
    let mut rejections = Vec::new();
    for c in &candidates {
        let r = match c.media_type.as_str() {
            DSSE_MEDIA_TYPE => {
                attestation::verify_attestation(&c.body, &m.digest, keys, predicate_type)
            }
            BUNDLE_V03_MEDIA_TYPE => hallmark_sigstore::bundle::verify_image_bundle(
                &c.body, &m.digest, keys,
            )
            .and_then(|v| {
                if v.predicate_type == COSIGN_SIGN_PREDICATE {
                    return Err(Rejection::NotASignature {
                        media_type: "signature bundle (not an attestation)".into(),
                    });
                }
                match predicate_type {
                    Some(want) if want != v.predicate_type => Err(Rejection::Malformed {
                        reason: format!(
                            "predicate type is {:?}, expected {want:?}",
                            v.predicate_type
                        ),
                    }),
                    _ => Ok(VerifiedAttestation {
                        key_fingerprint: v.key_fingerprint,
                        predicate_type: v.predicate_type,
                        statement: v.statement,
                    }),
                }
            }),
            other => Err(Rejection::NotASignature {
                media_type: other.to_owned(),
            }),
        };
        match r {
            Ok(v) => {
                tracing::debug!(
                    image = name,
                    source = %c.source,
                    predicate_type = v.predicate_type,
                    key = v.key_fingerprint,
                    "attestation verified"
                );
                ok.push(v)
            }
            Err(e) => {
                tracing::debug!(image = name, source = %c.source, reason = %e, "attestation rejected");
                rejections.push((c.source.to_string(), e))
            }
        }
    }
    if candidates.is_empty() {
        return Err(VerifyError::NoAttestations {
            image: name,
            att_tag: Attachment::Attestation.tag(&m.digest),
        }
        .into());
    }
    if ok.is_empty() {
        return Err(VerifyError::NoneValidAttestation {
            image: name,
            rejections,
        }
        .into());
    }
    Ok((m.digest, ok))
}

/// What is attached to an image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Tree {
    /// The image reference.
    pub reference: String,
    /// Its digest.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Signature layers (`.sig`).
    pub signatures: Vec<TreeLayer>,
    /// Attestation layers (`.att`).
    pub attestations: Vec<TreeLayer>,
    /// OCI referrers.
    pub referrers: Vec<TreeReferrer>,
    /// Child manifests of an index.
    pub manifests: Vec<String>,
}

/// One layer of an attachment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TreeLayer {
    /// The attachment tag.
    pub tag: String,
    /// Layer digest.
    pub digest: String,
    /// Layer media type.
    pub media_type: String,
    /// Predicate type, for attestations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
}

/// One referrer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TreeReferrer {
    /// Manifest digest.
    pub digest: String,
    /// Artifact type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

/// Inspect what is attached to an image.
pub async fn tree(store: &Store, image: &ImageRef) -> Result<Tree, SigstoreError> {
    let m = resolve(store, image).await?;
    let layers = |kind: Attachment| {
        let tag = kind.tag(&m.digest);
        async move {
            let Some(fm) = get_optional_manifest(store, &tag).await? else {
                return Ok::<_, SigstoreError>(Vec::new());
            };
            let im = parse_attachment_manifest(&fm, &format!("{}:{tag}", store.location()))?;
            Ok(im
                .layers
                .iter()
                .map(|l| TreeLayer {
                    tag: tag.clone(),
                    digest: l.digest.to_string(),
                    media_type: l.media_type.clone(),
                    predicate_type: l
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(PREDICATE_TYPE_ANNOTATION))
                        .cloned(),
                })
                .collect())
        }
    };
    let signatures = layers(Attachment::Signature).await?;
    let attestations = layers(Attachment::Attestation).await?;
    let referrers = store
        .referrers(&m.digest, None)
        .await?
        .into_iter()
        .map(|d| TreeReferrer {
            digest: d.digest.to_string(),
            artifact_type: d.artifact_type,
        })
        .collect();
    let manifests = match Manifest::parse(&m.bytes, Some(&m.media_type)) {
        Ok(Manifest::Index(i)) => i.manifests.iter().map(|d| d.digest.to_string()).collect(),
        _ => Vec::new(),
    };
    Ok(Tree {
        reference: image.to_string(),
        digest: m.digest.to_string(),
        media_type: m.media_type,
        signatures,
        attestations,
        referrers,
        manifests,
    })
}

/// What [`copy`] moved.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CopyReport {
    /// The image digest.
    pub digest: String,
    /// Manifests written.
    pub manifests: usize,
    /// Blobs written or already present.
    pub blobs: usize,
    /// Attachment tags copied (`.sig`, `.att`).
    pub attachments: Vec<String>,
    /// Referrers copied.
    pub referrers: Vec<String>,
}

/// Deepest nesting of image indexes below an image that is followed: an index of images is 1
/// deep, an index of indexes of images 2. Real images do not nest deeply; a chain of nested
/// indexes is refused with this limit in the error rather than walked.
pub const MAX_INDEX_DEPTH: usize = 8;

/// Most distinct manifests in one image tree (an index and everything below it).
pub const MAX_TREE_MANIFESTS: usize = 10_000;

/// A manifest of an image tree, parsed once.
enum TreeNode {
    /// An image manifest: its config and layers.
    Image(Box<ImageManifest>),
    /// An index: its children, and how many of them have been visited.
    Index(Vec<Descriptor>, usize),
}

fn parse_tree_node(src: &Store, m: &FetchedManifest) -> Result<TreeNode, SigstoreError> {
    match Manifest::parse(&m.bytes, Some(&m.media_type)) {
        Ok(Manifest::Image(im)) => Ok(TreeNode::Image(Box::new(im))),
        Ok(Manifest::Index(index)) => Ok(TreeNode::Index(index.manifests, 0)),
        Err(e) => Err(SigstoreError::Malformed {
            what: "manifest".into(),
            location: format!("{}@{}", src.location(), m.digest),
            reason: e.to_string(),
        }),
    }
}

/// Every manifest of the tree below `top`, each fetched once however often it is listed,
/// children before their parents (`top` last), with the image manifests parsed. Iterative:
/// the depth is bounded by [`MAX_INDEX_DEPTH`], the size by [`MAX_TREE_MANIFESTS`].
async fn fetch_tree(
    src: &Store,
    top: &FetchedManifest,
) -> Result<Vec<(FetchedManifest, Option<ImageManifest>)>, SigstoreError> {
    let mut order = Vec::new();
    let mut seen = std::collections::HashSet::from([top.digest.clone()]);
    let mut stack = vec![(top.clone(), parse_tree_node(src, top)?)];
    while let Some((manifest, node)) = stack.last_mut() {
        let parent = manifest.digest.clone();
        let next = match node {
            TreeNode::Index(children, visited) if *visited < children.len() => {
                *visited += 1;
                Some(children[*visited - 1].clone())
            }
            _ => None,
        };
        let Some(child) = next else {
            let (manifest, node) = stack.pop().unwrap_or_else(|| unreachable!("not empty"));
            let image = match node {
                TreeNode::Image(im) => Some(*im),
                TreeNode::Index(..) => None,
            };
            order.push((manifest, image));
            continue;
        };
        if !seen.insert(child.digest.clone()) {
            continue;
        }
        if stack.len() > MAX_INDEX_DEPTH {
            return Err(SigstoreError::Malformed {
                what: "image index".into(),
                location: format!("{}@{}", src.location(), top.digest),
                reason: format!(
                    "expected indexes nested at most {MAX_INDEX_DEPTH} deep, found index {parent} at depth {} listing more",
                    stack.len()
                ),
            });
        }
        if seen.len() > MAX_TREE_MANIFESTS {
            return Err(SigstoreError::Malformed {
                what: "image index".into(),
                location: format!("{}@{}", src.location(), top.digest),
                reason: format!(
                    "expected at most {MAX_TREE_MANIFESTS} distinct manifests below it, found more"
                ),
            });
        }
        let fetched = src.get_manifest(&child.digest.to_string()).await?;
        let node = parse_tree_node(src, &fetched)?;
        stack.push((fetched, node));
    }
    Ok(order)
}

/// A manifest [`copy`] has written where nothing names it yet, and the name (tag) it gets
/// when the copy is published.
struct Staged {
    manifest: FetchedManifest,
    tag: Option<String>,
}

/// Stage one manifest (and, for an index, everything below it) with all blobs: blobs and
/// manifests are written to `dst` where nothing names them yet (a registry: by digest; a
/// layout: blob files only, no `index.json` entry), children before the manifests that name
/// them. The top manifest is published under `tag` (or by digest) by [`publish`].
async fn stage_tree(
    src: &Store,
    dst: &Store,
    top: &FetchedManifest,
    tag: Option<&str>,
    report: &mut CopyReport,
    staged: &mut Vec<Staged>,
) -> Result<(), SigstoreError> {
    for (manifest, image) in fetch_tree(src, top).await? {
        if let Some(im) = image {
            for d in std::iter::once(&im.config).chain(im.layers.iter()) {
                dst.copy_blob(src, d).await?;
                report.blobs += 1;
            }
        }
        let written = match dst {
            Store::Registry(_) => {
                dst.put_manifest(&manifest.bytes, &manifest.media_type, None)
                    .await?
            }
            Store::Layout(_) => dst.put_blob(&manifest.bytes).await?,
        };
        if written != manifest.digest {
            return Err(SigstoreError::Malformed {
                what: "copied manifest".into(),
                location: dst.location(),
                reason: format!(
                    "expected digest {}, destination computed {written}",
                    manifest.digest
                ),
            });
        }
        report.manifests += 1;
        let tag = (manifest.digest == top.digest)
            .then(|| tag.map(str::to_owned))
            .flatten();
        staged.push(Staged { manifest, tag });
    }
    Ok(())
}

/// Name what was staged, in order: a layout gets the `index.json` entry of every manifest
/// (untagged ones too, as OCI layouts list them), a registry the tags.
async fn publish(dst: &Store, staged: &[Staged]) -> Result<(), SigstoreError> {
    for s in staged {
        if matches!(dst, Store::Layout(_)) || s.tag.is_some() {
            dst.put_manifest(&s.manifest.bytes, &s.manifest.media_type, s.tag.as_deref())
                .await?;
        }
    }
    Ok(())
}

/// The empty config (`{}`) of OCI 1.1 artifacts.
const EMPTY_CONFIG: &[u8] = b"{}";

fn descriptor(media_type: &str, digest: Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_owned(),
        digest,
        size,
        annotations: None,
        platform: None,
        artifact_type: None,
    }
}

/// Push an OCI 1.1 artifact of `subject`: `layer` (of `layer_media_type`) as its one layer,
/// the empty config, `artifact_type` and `annotations`; recorded in the tag-schema referrers
/// index too. Returns the artifact manifest's digest.
pub(crate) async fn push_artifact(
    store: &Store,
    subject: Descriptor,
    artifact_type: &str,
    layer_media_type: &str,
    layer: &[u8],
    annotations: BTreeMap<String, String>,
) -> Result<Digest, SigstoreError> {
    let layer_digest = store.put_blob(layer).await?;
    let config_digest = store.put_blob(EMPTY_CONFIG).await?;
    let subject_digest = subject.digest.clone();
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_types::OCI_MANIFEST.into()),
        artifact_type: Some(artifact_type.into()),
        config: descriptor(
            media_types::OCI_EMPTY,
            config_digest,
            EMPTY_CONFIG.len() as u64,
        ),
        layers: vec![descriptor(
            layer_media_type,
            layer_digest,
            layer.len() as u64,
        )],
        subject: Some(subject),
        annotations: Some(annotations.clone()),
    };
    let bytes = to_json_bytes(&manifest);
    let digest = Digest::sha256_of(&bytes);
    store
        .put_manifest(&bytes, media_types::OCI_MANIFEST, None)
        .await?;
    let mut listed = descriptor(
        media_types::OCI_MANIFEST,
        digest.clone(),
        bytes.len() as u64,
    );
    listed.artifact_type = Some(artifact_type.into());
    listed.annotations = Some(annotations);
    add_to_referrers_index(store, &subject_digest, listed).await?;
    Ok(digest)
}

/// Record a referrer in the destination's tag-schema fallback index (`sha256-<hex>`), for
/// registries without the referrers API.
pub(crate) async fn add_to_referrers_index(
    dst: &Store,
    subject: &Digest,
    descriptor: Descriptor,
) -> Result<(), SigstoreError> {
    if matches!(dst, Store::Layout(_)) {
        return Ok(());
    }
    let tag = subject.tag_form();
    let mut index = match get_optional_manifest(dst, &tag).await? {
        Some(m) => match Manifest::parse(&m.bytes, Some(&m.media_type)) {
            Ok(Manifest::Index(i)) => i,
            _ => {
                return Err(SigstoreError::Malformed {
                    what: "referrers tag index".into(),
                    location: format!("{}:{tag}", dst.location()),
                    reason: "not an index".into(),
                });
            }
        },
        None => ImageIndex {
            schema_version: 2,
            media_type: Some(media_types::OCI_INDEX.into()),
            artifact_type: None,
            manifests: Vec::new(),
            subject: None,
            annotations: None,
        },
    };
    if index
        .manifests
        .iter()
        .any(|d| d.digest == descriptor.digest)
    {
        return Ok(());
    }
    index.manifests.push(descriptor);
    dst.put_manifest(&to_json_bytes(&index), media_types::OCI_INDEX, Some(&tag))
        .await?;
    Ok(())
}

/// Copy an image with its signatures, attestations and referrers (for every manifest of an
/// index too) from `src` to `dst`, tagging it `dst_tag` when given.
pub async fn copy(
    src: &Store,
    image: &ImageRef,
    dst: &Store,
    dst_tag: Option<&str>,
) -> Result<CopyReport, SigstoreError> {
    let top = resolve(src, image).await?;
    tracing::debug!(image = %image, digest = %top.digest, to = %dst.location(), "copying image");
    let mut report = CopyReport {
        digest: top.digest.to_string(),
        ..CopyReport::default()
    };
    // Everything is fetched, checked and written where nothing names it yet; only then are
    // names published, the image's own tag last: a copy that fails leaves every tag of the
    // destination as it was.
    let mut image_tree = Vec::new();
    stage_tree(src, dst, &top, dst_tag, &mut report, &mut image_tree).await?;
    // The manifests of the image (an index and its children), top first: no second fetch.
    let mut digests: Vec<Digest> = image_tree
        .iter()
        .map(|s| s.manifest.digest.clone())
        .collect();
    digests.rotate_right(1);
    let mut attached = Vec::new();
    let mut links = Vec::new();
    for digest in &digests {
        for kind in [Attachment::Signature, Attachment::Attestation] {
            let tag = kind.tag(digest);
            if let Some(m) = get_optional_manifest(src, &tag).await? {
                stage_tree(src, dst, &m, Some(&tag), &mut report, &mut attached).await?;
                report.attachments.push(tag);
            }
        }
        for r in src.referrers(digest, None).await? {
            let m = src.get_manifest(&r.digest.to_string()).await?;
            stage_tree(src, dst, &m, None, &mut report, &mut attached).await?;
            report.referrers.push(r.digest.to_string());
            links.push((digest.clone(), r));
        }
    }
    publish(dst, &attached).await?;
    for (subject, r) in links {
        add_to_referrers_index(dst, &subject, r).await?;
    }
    publish(dst, &image_tree).await?;
    Ok(report)
}
