//! Notary Project (notation) signatures in a store, as notation writes and finds them
//! (signature specification v1.1, "OCI Signatures"; OCI distribution-spec v1.1 referrers):
//!
//! - written: the envelope as a blob, an image manifest with `artifactType
//!   application/vnd.cncf.notary.signature`, the empty config, the envelope as its one layer,
//!   `subject` = the signed manifest and the `io.cncf.notary.x509chain.thumbprint#S256`
//!   annotation; pushed by digest, then recorded in the `sha256-<hex>` referrers tag index
//!   (what notation writes by default, and what registries without the referrers API, like
//!   docker-registry 2.8, serve), so it is found either way;
//! - found: the subject's referrers (the API, else the tag schema) of that artifact type, or
//!   the legacy form whose config media type is the artifact type; each read within bounds and
//!   checked to be a signature of this subject before its envelope is returned.

use crate::SigstoreError;
use hallmark_core::{Digest, ImageRef};
use hallmark_keys::Signer;
use hallmark_notation::sign::{SignRequest, prepare};
use hallmark_notation::{Format, Payload, SigningScheme};
use hallmark_oci::Store;
use hallmark_oci::manifest::{Descriptor, Manifest};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The artifact type of notation signature manifests.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
/// The annotation listing the chain's SHA-256 thumbprints (a JSON array in a string).
pub const THUMBPRINT_ANNOTATION: &str = "io.cncf.notary.x509chain.thumbprint#S256";
/// The most signatures of one image read (a registry could list thousands).
pub const MAX_SIGNATURES: usize = 32;

/// How to sign.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NotationSignOptions {
    /// JWS or COSE.
    pub format: Format,
    /// `notary.x509` (default) or `notary.x509.signingAuthority`.
    pub signing_scheme: SigningScheme,
    /// When the signature stops being valid, if ever.
    pub expiry: Option<time::Duration>,
    /// notation's user metadata: the payload's `targetArtifact` annotations.
    pub user_metadata: BTreeMap<String, String>,
    /// `io.cncf.notary.signingAgent`.
    pub signing_agent: String,
    /// The signing time (the caller's clock).
    pub now: OffsetDateTime,
}

impl NotationSignOptions {
    /// JWS, `notary.x509`, no expiry or metadata, signed now by `agent`.
    pub fn new(format: Format, agent: impl Into<String>, now: OffsetDateTime) -> Self {
        Self {
            format,
            signing_scheme: SigningScheme::X509,
            expiry: None,
            user_metadata: BTreeMap::new(),
            signing_agent: agent.into(),
            now,
        }
    }
}

/// A signature written.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NotationSigned {
    /// The manifest signed.
    pub subject: Digest,
    /// The signature manifest.
    pub signature: Digest,
    /// The envelope's media type.
    pub media_type: &'static str,
}

/// Sign `image` (its manifest, resolved once) with `key`, whose certificate chain `chain` (DER,
/// signing certificate first, root last) is carried in the envelope, and store the signature
/// next to it.
///
/// The signing certificate must hold `key`'s public key and meet notation's certificate rules;
/// notation signs with RSASSA-PSS or ECDSA, so an RSA key (signed PKCS#1 v1.5 by hallmark's
/// signers) is refused before anything is written.
pub async fn sign<S: Signer>(
    store: &Store,
    image: &ImageRef,
    key: &S,
    chain: &[Vec<u8>],
    options: &NotationSignOptions,
) -> Result<NotationSigned, SigstoreError> {
    let top = crate::resolve(store, image).await?;
    check_key(key, chain)?;
    let mut payload = Payload::new(
        &top.media_type,
        top.digest.to_string(),
        top.bytes.len() as u64,
    );
    if !options.user_metadata.is_empty() {
        if let Some(k) = options
            .user_metadata
            .keys()
            .find(|k| k.starts_with("io.cncf.notary"))
        {
            return Err(SigstoreError::Invalid(format!(
                "expected user metadata keys outside the reserved io.cncf.notary prefix, found {k}"
            )));
        }
        payload = payload.with_annotations(
            options
                .user_metadata
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
                .collect(),
        );
    }
    let mut request = SignRequest::new(
        options.format,
        payload,
        options.signing_scheme,
        options.now,
        chain.to_vec(),
    )
    .with_signing_agent(options.signing_agent.clone());
    if let Some(e) = options.expiry {
        request = request.with_expiry(options.now + e);
    }
    let prepared = prepare(&request).map_err(notation_error)?;
    let signature = key.sign(prepared.to_be_signed()).await?;
    let envelope = prepared.finish(&signature).map_err(notation_error)?;
    // What is written must be what a verifier accepts: parse it back and check its integrity
    // before the first write.
    let media_type = options.format.media_type();
    hallmark_notation::parse(&envelope, media_type)
        .and_then(|e| e.verify_integrity())
        .map_err(notation_error)?;

    let thumbprints = serde_json::to_string(&hallmark_notation::chain::thumbprints(chain))
        .map_err(|e| SigstoreError::Invalid(e.to_string()))?;
    let annotations = BTreeMap::from([(THUMBPRINT_ANNOTATION.to_owned(), thumbprints)]);
    let signature = crate::push_artifact(
        store,
        top.descriptor(),
        SIGNATURE_ARTIFACT_TYPE,
        media_type,
        &envelope,
        annotations,
    )
    .await?;
    tracing::debug!(image = %image, subject = %top.digest, signature = %signature, media_type, "notation signature written");
    Ok(NotationSigned {
        subject: top.digest,
        signature,
        media_type,
    })
}

/// The key signs what the certificate certifies, with an algorithm notation allows.
fn check_key<S: Signer>(key: &S, chain: &[Vec<u8>]) -> Result<(), SigstoreError> {
    use hallmark_core::KeyAlgorithm;
    let public = key.public_key();
    match public.algorithm() {
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => {}
        other => {
            return Err(SigstoreError::Invalid(format!(
                "expected an ECDSA P-256 or P-384 key for a notation signature (notation signs with ECDSA or RSASSA-PSS), found a {} key",
                other.name()
            )));
        }
    }
    let leaf = chain.first().ok_or_else(|| {
        SigstoreError::Invalid(
            "expected a certificate chain, signing certificate first, found no certificate".into(),
        )
    })?;
    let certified = {
        use x509_cert::der::{Decode as _, Encode as _};
        x509_cert::Certificate::from_der(leaf)
            .and_then(|c| c.tbs_certificate().subject_public_key_info().to_der())
            .map_err(|e| {
                SigstoreError::Invalid(format!(
                    "expected the signing certificate as X.509 DER, found: {e}"
                ))
            })?
    };
    if certified != public.spki_der() {
        return Err(SigstoreError::Invalid(format!(
            "expected the signing certificate to certify the signing key {}, found a certificate for another key",
            public.fingerprint()
        )));
    }
    Ok(())
}

fn notation_error(e: hallmark_notation::EnvelopeError) -> SigstoreError {
    SigstoreError::Notation(e)
}
/// One notation signature of an image, as found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FoundSignature {
    /// The signature manifest's digest.
    pub source: Digest,
    /// The envelope's media type and bytes, or why they could not be read.
    pub envelope: Result<(String, Vec<u8>), String>,
}

/// The notation signatures of `subject` (at most [`MAX_SIGNATURES`]), envelopes read within
/// [`hallmark_notation::jws::MAX_ENVELOPE_BYTES`]. Listing failures are errors; a signature
/// manifest that cannot be read or is not a signature of `subject` is returned with why.
pub async fn signatures(
    store: &Store,
    subject: &Digest,
) -> Result<Vec<FoundSignature>, SigstoreError> {
    let referrers = store
        .referrers(subject, Some(SIGNATURE_ARTIFACT_TYPE))
        .await?;
    let mut out = Vec::new();
    for r in referrers.into_iter().take(MAX_SIGNATURES) {
        let envelope = read_envelope(store, subject, &r).await;
        out.push(FoundSignature {
            source: r.digest,
            envelope,
        });
    }
    Ok(out)
}

async fn read_envelope(
    store: &Store,
    subject: &Digest,
    r: &Descriptor,
) -> Result<(String, Vec<u8>), String> {
    let m = store
        .get_manifest(&r.digest.to_string())
        .await
        .map_err(|e| e.to_string())?;
    let manifest = match Manifest::parse(&m.bytes, Some(&m.media_type)) {
        Ok(Manifest::Image(i)) => i,
        Ok(Manifest::Index(_)) => {
            return Err("expected a signature manifest, found an index".into());
        }
        Err(e) => return Err(format!("expected a signature manifest: {e}")),
    };
    let typed = manifest.artifact_type.as_deref() == Some(SIGNATURE_ARTIFACT_TYPE)
        || manifest.config.media_type == SIGNATURE_ARTIFACT_TYPE;
    if !typed {
        return Err(format!(
            "expected artifactType or config media type {SIGNATURE_ARTIFACT_TYPE}, found {}",
            manifest
                .artifact_type
                .as_deref()
                .unwrap_or(&manifest.config.media_type)
        ));
    }
    match &manifest.subject {
        Some(s) if s.digest == *subject => {}
        Some(s) => {
            return Err(format!(
                "expected a signature of {subject}, found one whose subject is {}",
                s.digest
            ));
        }
        None => return Err(format!("expected a subject {subject}, found none")),
    }
    let [layer] = manifest.layers.as_slice() else {
        return Err(format!(
            "expected one envelope layer, found {}",
            manifest.layers.len()
        ));
    };
    if !matches!(
        layer.media_type.as_str(),
        hallmark_notation::JWS_MEDIA_TYPE | hallmark_notation::COSE_MEDIA_TYPE
    ) {
        return Err(format!(
            "expected an envelope of media type {} or {}, found {}",
            hallmark_notation::JWS_MEDIA_TYPE,
            hallmark_notation::COSE_MEDIA_TYPE,
            layer.media_type
        ));
    }
    let limit = hallmark_notation::jws::MAX_ENVELOPE_BYTES as u64;
    if layer.size > limit {
        return Err(format!(
            "expected an envelope of at most {limit} bytes, found {} declared",
            layer.size
        ));
    }
    let bytes = store
        .get_blob(&layer.digest, layer.size)
        .await
        .map_err(|e| e.to_string())?;
    Ok((layer.media_type.clone(), bytes))
}
