//! Image signatures as cosign 3 writes them by default (`cosign sign --new-bundle-format`): a
//! DSSE envelope over an in-toto v1 statement (one subject, the image digest;
//! `predicateType` `https://sigstore.dev/cosign/sign/v1`; an empty predicate), logged as a
//! `dsse` 0.0.1 entry, in a Sigstore bundle v0.3 pushed as an OCI 1.1 referrer of the image
//! (recorded in the `sha256-<hex>` referrers tag index where the registry has no referrers API).
//!
//! On a witnessed log the bundle's entry is proven against a checkpoint the witnesses cosigned
//! (waiting for it, bounded), so the signature verifies offline under a witness policy.

use crate::SigstoreError;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{Digest, ImageRef};
use hallmark_keys::Signer;
use hallmark_oci::Store;
use hallmark_sigstore::bundle::{COSIGN_SIGN_PREDICATE, key_hint};
use hallmark_sigstore::dsse::{Envelope, EnvelopeSignature, IN_TOTO_PAYLOAD_TYPE, pae};
use hallmark_sigstore::{BUNDLE_V03_MEDIA_TYPE, attestation::STATEMENT_V1};
use hallmark_tlog::rekor::DsseRekord;
use hallmark_tlog_client::{LogEntry, TlogClient};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// A bundle signature written.
#[derive(Debug, Clone)]
pub struct BundleSigned {
    /// The image signed.
    pub subject: Digest,
    /// The referrer manifest's digest.
    pub referrer: Digest,
    /// The log entry the bundle carries.
    pub entry: LogEntry,
}

/// The in-toto statement cosign 3 signs for an image: the digest as the one subject (no name),
/// the annotations on it.
pub fn sign_statement(digest: &Digest, annotations: &BTreeMap<String, String>) -> Vec<u8> {
    let mut subject = json!({"digest": {digest.algorithm_name(): digest.hex()}});
    if !annotations.is_empty() {
        subject["annotations"] = json!(annotations);
    }
    let statement = json!({
        "_type": STATEMENT_V1,
        "subject": [subject],
        "predicateType": COSIGN_SIGN_PREDICATE,
        "predicate": {},
    });
    serde_json::to_vec(&statement).unwrap_or_default()
}

/// Sign `image` with `key` as a bundle referrer, its envelope logged in `log`; on a witnessed
/// log, wait at most `wait` for a cosigned checkpoint covering the entry. The log is written
/// first, so a refused entry leaves the registry as it was.
pub async fn sign<S: Signer>(
    store: &Store,
    image: &ImageRef,
    key: &S,
    log: &TlogClient,
    annotations: &BTreeMap<String, String>,
    wait: Duration,
) -> Result<BundleSigned, SigstoreError> {
    let top = crate::resolve(store, image).await?;
    let statement = sign_statement(&top.digest, annotations);
    let signature = key.sign(&pae(IN_TOTO_PAYLOAD_TYPE, &statement)).await?;
    let envelope = Envelope {
        payload_type: IN_TOTO_PAYLOAD_TYPE.to_owned(),
        payload: STANDARD.encode(&statement),
        signatures: vec![EnvelopeSignature {
            keyid: String::new(),
            sig: STANDARD.encode(&signature),
        }],
    };
    let envelope_json =
        serde_json::to_string(&envelope).map_err(|e| SigstoreError::Invalid(e.to_string()))?;
    let public = key.public_key();
    let rekord = DsseRekord::new(&envelope_json, vec![public.to_pem().into_bytes()])
        .map_err(|e| SigstoreError::Invalid(e.to_string()))?;
    let pae_bytes = rekord.pae();
    let signed = rekord
        .pair(|_, s| {
            public
                .verify(&pae_bytes, &rekord.signatures[s].bytes)
                .is_ok()
        })
        .map_err(|e| SigstoreError::Invalid(e.to_string()))?;
    let (entry, _created) = log.create_dsse_entry(&rekord, &signed).await?;
    let entry = hallmark_tlog_client::witnessed::cosigned_entry(log, entry, wait).await?;
    let bundle = json!({
        "mediaType": BUNDLE_V03_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": key_hint(public)},
            "tlogEntries": [entry
                .to_bundle_tlog_entry()
                .map_err(|e| SigstoreError::Invalid(format!("the log entry: {e}")))?],
        },
        "dsseEnvelope": serde_json::to_value(&envelope)
            .map_err(|e| SigstoreError::Invalid(e.to_string()))?,
    });
    let bundle_bytes =
        serde_json::to_vec(&bundle).map_err(|e| SigstoreError::Invalid(e.to_string()))?;
    // What is written must be what a verifier accepts: check it before the first write.
    hallmark_sigstore::bundle::verify_image_bundle(
        &bundle_bytes,
        &top.digest,
        std::slice::from_ref(public),
    )
    .map_err(|e| SigstoreError::Invalid(format!("the bundle written would not verify: {e}")))?;

    let created = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let annotations = BTreeMap::from([
        (
            "dev.sigstore.bundle.content".to_owned(),
            "dsse-envelope".to_owned(),
        ),
        (
            "dev.sigstore.bundle.predicateType".to_owned(),
            COSIGN_SIGN_PREDICATE.to_owned(),
        ),
        ("org.opencontainers.image.created".to_owned(), created),
    ]);
    let referrer = crate::push_artifact(
        store,
        top.descriptor(),
        BUNDLE_V03_MEDIA_TYPE,
        BUNDLE_V03_MEDIA_TYPE,
        &bundle_bytes,
        annotations,
    )
    .await?;
    tracing::debug!(image = %image, subject = %top.digest, referrer = %referrer, "bundle signature written");
    Ok(BundleSigned {
        subject: top.digest,
        referrer,
        entry,
    })
}
