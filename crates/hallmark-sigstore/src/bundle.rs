//! Sigstore bundles v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`, protobuf-specs JSON
//! form), as cosign 3 attaches them to images as OCI 1.1 referrers.
//!
//! For images cosign signs an in-toto v1 statement (predicate type
//! `https://sigstore.dev/cosign/sign/v1`, subject = the image digest, `-a` annotations in the
//! subject's `annotations`) inside a DSSE envelope. hallmark verifies such bundles against public
//! keys ([`verify_image_bundle`]) or, for certificate (keyless) bundles, against certificate
//! trust ([`verify_certificate_bundle`]): the one Rekor `dsse` 0.0.1 tlog entry's SET (its
//! `integratedTime` is when the certificate must be valid), the entry's consistency with the
//! envelope and certificate, the certificate's path and identity, then the DSSE signature with
//! the certificate's key and the statement subject.

use crate::{
    attestation::check_statement,
    certificate::{Certificate, CertificatePolicy, CertificateSummary},
    dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE},
    error::Rejection,
    rekor_set::{self, ExpectedSigner, RekorBundle, RekorSetError},
    tlog::{self, TlogEntry, TlogError, TlogPolicy, VerifiedTlogEntry},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{Digest, PublicKey};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The predicate type of a cosign 3 image signature.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// The parts of a bundle hallmark reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// Media type (must be v0.3).
    pub media_type: String,
    /// Keys, certificates, log entries.
    pub verification_material: VerificationMaterial,
    /// DSSE content.
    #[serde(default)]
    pub dsse_envelope: Option<Envelope>,
    /// Message-signature content.
    #[serde(default)]
    pub message_signature: Option<Value>,
}

/// Verification material.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    /// A public-key hint (key-signed bundles).
    #[serde(default)]
    pub public_key: Option<Value>,
    /// A leaf certificate (keyless bundles).
    #[serde(default)]
    pub certificate: Option<Value>,
    /// A certificate chain (older bundles).
    #[serde(default)]
    pub x509_certificate_chain: Option<Value>,
    /// Transparency-log entries.
    #[serde(default)]
    pub tlog_entries: Vec<Value>,
}

/// What a verified bundle says.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedBundle {
    /// Fingerprint of the key that verified the envelope.
    pub key_fingerprint: String,
    /// The certificate whose key verified the envelope (certificate-based verification).
    pub certificate: Option<CertificateSummary>,
    /// The statement.
    pub statement: Value,
    /// The predicate type.
    pub predicate_type: String,
    /// The subject annotations (cosign's `-a`).
    pub annotations: BTreeMap<String, String>,
}

/// Parse bundle JSON.
pub fn parse(bytes: &[u8]) -> Result<Bundle, Rejection> {
    let b: Bundle = serde_json::from_slice(bytes).map_err(|e| Rejection::Malformed {
        reason: format!("Sigstore bundle: {e}"),
    })?;
    if b.media_type != crate::BUNDLE_V03_MEDIA_TYPE {
        return Err(Rejection::Malformed {
            reason: format!(
                "bundle mediaType is {:?}, expected {}",
                b.media_type,
                crate::BUNDLE_V03_MEDIA_TYPE
            ),
        });
    }
    Ok(b)
}

/// The DSSE envelope of an image bundle: in-toto payload type, exactly one signature.
fn image_envelope(bundle: &Bundle) -> Result<&Envelope, Rejection> {
    let Some(envelope) = bundle.dsse_envelope.as_ref() else {
        return Err(Rejection::Malformed {
            reason:
                "image bundle has no dsseEnvelope (messageSignature bundles sign blobs, not images)"
                    .into(),
        });
    };
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(Rejection::Malformed {
            reason: format!(
                "DSSE payloadType is {:?}, expected {IN_TOTO_PAYLOAD_TYPE}",
                envelope.payload_type
            ),
        });
    }
    if envelope.signatures.len() != 1 {
        return Err(Rejection::Malformed {
            reason: format!(
                "bundle DSSE envelope must have exactly 1 signature, found {}",
                envelope.signatures.len()
            ),
        });
    }
    Ok(envelope)
}

fn has_certificate_material(bundle: &Bundle) -> bool {
    bundle.verification_material.certificate.is_some()
        || bundle
            .verification_material
            .x509_certificate_chain
            .is_some()
}

/// Whether `bytes` is a bundle whose verification material is a certificate (not a key hint).
pub fn has_certificate(bytes: &[u8]) -> bool {
    parse(bytes).is_ok_and(|b| has_certificate_material(&b))
}

/// Verify a bundle attached to image `digest` with `keys`.
pub fn verify_image_bundle(
    bytes: &[u8],
    digest: &Digest,
    keys: &[PublicKey],
) -> Result<VerifiedBundle, Rejection> {
    let bundle = parse(bytes)?;
    let envelope = image_envelope(&bundle)?;
    let (body, key_fingerprint) = match envelope.verify(keys) {
        Ok(v) => v,
        Err(Rejection::NoKeyVerifies { tried }) if has_certificate_material(&bundle) => {
            return Err(Rejection::Malformed {
                reason: format!(
                    "bundle is signed with a certificate (keyless), not with the given key{} ({}); verify it with certificate trust instead",
                    if tried.len() == 1 { "" } else { "s" },
                    tried.join(", ")
                ),
            });
        }
        Err(e) => return Err(e),
    };
    statement_result(&body, digest, key_fingerprint, None)
}

/// The leaf and the untrusted chain of a bundle's verification material.
fn bundle_certificates(bundle: &Bundle) -> Result<(Certificate, Vec<Certificate>), Rejection> {
    let der_of = |v: &Value, what: &str| -> Result<Certificate, Rejection> {
        let raw =
            v.get("rawBytes")
                .and_then(Value::as_str)
                .ok_or_else(|| Rejection::Malformed {
                    reason: format!("{what}.rawBytes is missing or not a string"),
                })?;
        let der = STANDARD
            .decode(raw.as_bytes())
            .map_err(|_| Rejection::Malformed {
                reason: format!("{what}.rawBytes is not base64"),
            })?;
        Certificate::from_der(&der, what).map_err(Rejection::Certificate)
    };
    let material = &bundle.verification_material;
    if let Some(c) = &material.certificate {
        return Ok((der_of(c, "verificationMaterial.certificate")?, Vec::new()));
    }
    if let Some(chain) = &material.x509_certificate_chain {
        let certs = chain
            .get("certificates")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut parsed = certs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                der_of(
                    c,
                    &format!("verificationMaterial.x509CertificateChain.certificates[{i}]"),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        if parsed.is_empty() {
            return Err(Rejection::MissingCertificate {
                expected: "a certificate in verificationMaterial.x509CertificateChain",
            });
        }
        let leaf = parsed.remove(0);
        return Ok((leaf, parsed));
    }
    Err(Rejection::MissingCertificate {
        expected: "verificationMaterial.certificate or x509CertificateChain",
    })
}

/// The Rekor entry kind cosign 3 logs for DSSE bundles.
pub const DSSE_ENTRY_KIND: &str = "dsse";
/// The `dsse` entry version checked.
pub const DSSE_ENTRY_VERSION: &str = "0.0.1";

/// Check that a `dsse` 0.0.1 entry body records this envelope's payload hash, its one signature
/// and `leaf` as the verifier. `envelopeHash` is not compared: it hashes the JSON the client
/// submitted, which the bundle does not preserve (cosign's Go client and sigstore-rs serialise
/// the envelope differently); payload hash, signature and verifier bind the entry to the
/// envelope.
pub fn check_dsse_entry(
    body: &[u8],
    envelope: &Envelope,
    payload: &[u8],
    leaf: &Certificate,
) -> Result<(), RekorSetError> {
    check_dsse_entry_signer(body, envelope, payload, DsseSigner::Certificate(leaf))
}

/// Who a `dsse` entry must name as the verifier.
#[derive(Debug, Clone, Copy)]
enum DsseSigner<'a> {
    Certificate(&'a Certificate),
    Key(&'a PublicKey),
}

fn check_dsse_entry_signer(
    body: &[u8],
    envelope: &Envelope,
    payload: &[u8],
    signer: DsseSigner<'_>,
) -> Result<(), RekorSetError> {
    let bad = |reason: String| RekorSetError::BadBody { reason };
    let entry: Value = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    let field = |p: &str| entry.pointer(p).and_then(Value::as_str);
    let (kind, version) = (field("/kind"), field("/apiVersion"));
    if kind != Some(DSSE_ENTRY_KIND) || version != Some(DSSE_ENTRY_VERSION) {
        return Err(bad(format!(
            "entry is {} {}, expected {DSSE_ENTRY_KIND} {DSSE_ENTRY_VERSION}",
            kind.unwrap_or("(no kind)"),
            version.unwrap_or("(no apiVersion)")
        )));
    }
    let algorithm = field("/spec/payloadHash/algorithm").unwrap_or_default();
    if algorithm != "sha256" {
        return Err(RekorSetError::HashAlgorithm {
            found: algorithm.to_owned(),
        });
    }
    let payload_hash = Digest::sha256_of(payload).hex().to_owned();
    let logged_hash = field("/spec/payloadHash/value").unwrap_or_default();
    if logged_hash != payload_hash {
        return Err(RekorSetError::PayloadHashMismatch {
            expected: payload_hash,
            found: logged_hash.to_owned(),
        });
    }
    let signatures = entry
        .pointer("/spec/signatures")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let [logged] = signatures else {
        return Err(bad(format!(
            "spec.signatures has {} entries, expected 1 (the envelope's one signature)",
            signatures.len()
        )));
    };
    let expected_sig = envelope
        .signatures
        .first()
        .map(|s| s.sig.as_str())
        .unwrap_or_default();
    let logged_sig = logged
        .get("signature")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let decode = |s: &str| STANDARD.decode(s.as_bytes()).ok();
    if decode(expected_sig).is_none() || decode(expected_sig) != decode(logged_sig) {
        return Err(RekorSetError::SignatureMismatch {
            expected: expected_sig.to_owned(),
            found: logged_sig.to_owned(),
        });
    }
    let verifier = logged
        .get("verifier")
        .and_then(Value::as_str)
        .and_then(decode)
        .ok_or_else(|| bad("spec.signatures[0].verifier is missing or not base64".into()))?;
    match signer {
        DsseSigner::Certificate(leaf) => {
            let logged_cert = Certificate::from_leaf_pem(&verifier, "Rekor entry verifier")
                .map_err(|e| RekorSetError::BadLoggedSigner {
                    reason: e.to_string(),
                })?;
            if logged_cert.der() != leaf.der() {
                return Err(RekorSetError::SignerMismatch {
                    expected: format!("certificate sha256:{}", leaf.sha256()),
                    found: format!("certificate sha256:{}", logged_cert.sha256()),
                });
            }
        }
        DsseSigner::Key(key) => {
            let logged_key = std::str::from_utf8(&verifier)
                .ok()
                .and_then(|pem| PublicKey::from_pem(pem, "Rekor entry verifier").ok())
                .ok_or_else(|| RekorSetError::BadLoggedSigner {
                    reason: "spec.signatures[0].verifier is not a PEM public key".into(),
                })?;
            if logged_key.spki_der() != key.spki_der() {
                return Err(RekorSetError::SignerMismatch {
                    expected: format!("public key sha256:{}", key.fingerprint()),
                    found: format!("public key sha256:{}", logged_key.fingerprint()),
                });
            }
        }
    }
    Ok(())
}

/// Verify a certificate-signed (keyless or private-PKI) bundle attached to image `digest`:
/// when the policy requires a log, exactly one tlog entry whose SET verifies and which records
/// this envelope and certificate; the certificate's path to a root at the entry's
/// `integratedTime` (or the policy's `now`); its identity; the DSSE signature with its key; the
/// statement subject.
pub fn verify_certificate_bundle(
    bytes: &[u8],
    digest: &Digest,
    policy: &CertificatePolicy,
) -> Result<VerifiedBundle, Rejection> {
    let bundle = parse(bytes)?;
    let envelope = image_envelope(&bundle)?;
    let (leaf, chain) = bundle_certificates(&bundle)?;
    let payload = envelope.body()?;
    let at = crate::verify::check_time(&policy.log, |rekor_keys| {
        let entries = &bundle.verification_material.tlog_entries;
        let [entry] = entries.as_slice() else {
            return Err(RekorSetError::Malformed {
                reason: format!(
                    "bundle must have exactly 1 tlog entry, found {}",
                    entries.len()
                ),
            });
        };
        let rekor = RekorBundle::from_tlog_entry(entry)?;
        rekor.verify_set(rekor_keys)?;
        check_dsse_entry(&rekor.body, envelope, &payload, &leaf)?;
        Ok(rekor.payload.integrated_time)
    })?;
    policy
        .trust
        .verify(&leaf, &chain, at)
        .map_err(Rejection::Certificate)?;
    policy.identity.check(&leaf)?;
    let key = leaf.public_key().map_err(Rejection::Certificate)?;
    let (body, key_fingerprint) = match envelope.verify(std::slice::from_ref(&key)) {
        Ok(v) => v,
        Err(Rejection::NoKeyVerifies { .. }) => {
            return Err(Rejection::CertificateSignature {
                certificate: leaf.sha256(),
                key_fingerprint: key.fingerprint(),
            });
        }
        Err(e) => return Err(e),
    };
    statement_result(&body, digest, key_fingerprint, Some(leaf.summary()))
}

fn statement_result(
    body: &[u8],
    digest: &Digest,
    key_fingerprint: String,
    certificate: Option<CertificateSummary>,
) -> Result<VerifiedBundle, Rejection> {
    let statement = check_statement(body, digest)?;
    let predicate_type = statement
        .get("predicateType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let annotations = statement
        .get("subject")
        .and_then(Value::as_array)
        .and_then(|subjects| {
            subjects.iter().find(|s| {
                s.get("digest")
                    .and_then(|d| d.get(digest.algorithm_name()))
                    .and_then(Value::as_str)
                    == Some(digest.hex())
            })
        })
        .and_then(|s| s.get("annotations"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    Ok(VerifiedBundle {
        key_fingerprint,
        certificate,
        statement,
        predicate_type,
        annotations,
    })
}

/// The transparency-log entries of a key-signed bundle, under `policy`: the first entry that
/// verifies against the trusted logs (SET, and the inclusion proof with its checkpoint, which
/// bundles v0.3 must carry) and records this signature by `key` is returned. `None` when the
/// policy does not check entries, or allows none and there is none.
pub fn verify_bundle_tlog(
    bytes: &[u8],
    key: &PublicKey,
    policy: &TlogPolicy,
) -> Result<Option<VerifiedTlogEntry>, Rejection> {
    let Some(logs) = policy.logs() else {
        return Ok(None);
    };
    let bundle = parse(bytes)?;
    let entries = &bundle.verification_material.tlog_entries;
    if entries.is_empty() {
        if policy.is_required() {
            return Err(Rejection::Tlog(TlogError::Missing {
                expected: "an entry in the bundle's verificationMaterial.tlogEntries",
            }));
        }
        return Ok(None);
    }
    let mut first_error = None;
    for e in entries {
        match verify_one_bundle_entry(&bundle, e, key, logs) {
            Ok(v) => return Ok(Some(v)),
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    Err(Rejection::Tlog(first_error.unwrap_or(TlogError::Missing {
        expected: "a tlog entry",
    })))
}

fn verify_one_bundle_entry(
    bundle: &Bundle,
    entry: &Value,
    key: &PublicKey,
    logs: &crate::tlog::TrustedLogs,
) -> Result<VerifiedTlogEntry, TlogError> {
    let entry = TlogEntry::from_bundle_entry(entry)?;
    if entry.inclusion_proof.is_none() {
        return Err(TlogError::BadInclusionProof {
            reason: "the bundle's tlog entry has no inclusionProof (bundles v0.3 must carry one, with a checkpoint)".into(),
        });
    }
    let verified = tlog::verify_entry(&entry, logs)?;
    let body = &entry.rekor.body;
    if let Some(envelope) = &bundle.dsse_envelope {
        let payload = envelope.body().map_err(|e| {
            TlogError::Body(RekorSetError::BadBody {
                reason: e.to_string(),
            })
        })?;
        check_dsse_entry_signer(body, envelope, &payload, DsseSigner::Key(key))
            .map_err(TlogError::Body)?;
    } else {
        return Err(TlogError::Body(RekorSetError::BadBody {
            reason: "the bundle has no dsseEnvelope; message-signature bundles are checked with their artifact (verify-blob)".into(),
        }));
    }
    Ok(verified)
}

/// `verificationMaterial.publicKey.hint` for a key, as cosign writes it: the base64 SHA-256 of
/// its DER SubjectPublicKeyInfo.
pub fn key_hint(key: &PublicKey) -> String {
    STANDARD.encode(hex::decode(key.fingerprint()).unwrap_or_default())
}

/// A key-signed Sigstore bundle v0.3 over an artifact (`messageSignature`: its SHA-256 and the
/// signature), with the log entries (protojson `tlogEntries[]` items), as sigstore-js and
/// cosign read it.
pub fn build_message_signature_bundle(
    artifact: &[u8],
    signature: &[u8],
    key: &PublicKey,
    tlog_entries: Vec<Value>,
) -> Value {
    let digest_bytes = hex::decode(Digest::sha256_of(artifact).hex()).unwrap_or_default();
    serde_json::json!({
        "mediaType": crate::BUNDLE_V03_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": key_hint(key)},
            "tlogEntries": tlog_entries,
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(digest_bytes)},
            "signature": STANDARD.encode(signature),
        },
    })
}

/// What a verified message-signature bundle says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBlobBundle {
    /// Fingerprint of the key that verified the signature.
    pub key_fingerprint: String,
    /// The verified log entry, if the policy checks entries.
    pub tlog_entry: Option<VerifiedTlogEntry>,
}

/// Verify a key-signed `messageSignature` bundle over `artifact`: the digest is the artifact's
/// SHA-256, the signature verifies with one of `keys`, and the log entries satisfy `policy`
/// (each entry must carry an inclusion proof and record this signature, digest and key).
pub fn verify_blob_bundle(
    bytes: &[u8],
    artifact: &[u8],
    keys: &[PublicKey],
    policy: &TlogPolicy,
) -> Result<VerifiedBlobBundle, Rejection> {
    let bundle = parse(bytes)?;
    let malformed = |reason: &str| Rejection::Malformed {
        reason: format!("bundle messageSignature: {reason}"),
    };
    let ms = bundle
        .message_signature
        .as_ref()
        .ok_or_else(|| malformed("missing (a DSSE bundle is not a blob signature)"))?;
    let field = |p: &str| ms.pointer(p).and_then(Value::as_str);
    if field("/messageDigest/algorithm") != Some("SHA2_256") {
        return Err(malformed("messageDigest.algorithm is not SHA2_256"));
    }
    let digest = field("/messageDigest/digest")
        .and_then(|d| STANDARD.decode(d).ok())
        .ok_or_else(|| malformed("messageDigest.digest is not base64"))?;
    let actual = Digest::sha256_of(artifact);
    if hex::encode(&digest) != actual.hex() {
        return Err(Rejection::Malformed {
            reason: format!(
                "the bundle's messageDigest is sha256:{}, but the artifact's is {actual}: the bundle signs another artifact",
                hex::encode(&digest)
            ),
        });
    }
    let sig_b64 = field("/signature").ok_or_else(|| malformed("signature is missing"))?;
    let sig = STANDARD
        .decode(sig_b64)
        .map_err(|_| malformed("signature is not base64"))?;
    let key = keys
        .iter()
        .find(|k| k.verify(artifact, &sig).is_ok())
        .ok_or_else(|| Rejection::NoKeyVerifies {
            tried: keys.iter().map(PublicKey::fingerprint).collect(),
        })?;
    let tlog_entry = match policy.logs() {
        None => None,
        Some(logs) => {
            let entries = &bundle.verification_material.tlog_entries;
            if entries.is_empty() && !policy.is_required() {
                None
            } else {
                let mut first_error = None;
                let mut found = None;
                for e in entries {
                    let r = TlogEntry::from_bundle_entry(e).and_then(|entry| {
                        if entry.inclusion_proof.is_none() {
                            return Err(TlogError::BadInclusionProof {
                                reason: "the bundle's tlog entry has no inclusionProof (bundles v0.3 must carry one, with a checkpoint)".into(),
                            });
                        }
                        let v = tlog::verify_entry(&entry, logs)?;
                        rekor_set::check_hashedrekord(
                            &entry.rekor.body,
                            artifact,
                            sig_b64,
                            ExpectedSigner::Key(key),
                        )
                        .map_err(TlogError::Body)?;
                        Ok(v)
                    });
                    match r {
                        Ok(v) => {
                            found = Some(v);
                            break;
                        }
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                match found {
                    Some(v) => Some(v),
                    None => {
                        return Err(Rejection::Tlog(first_error.unwrap_or(TlogError::Missing {
                            expected: "an entry in the bundle's verificationMaterial.tlogEntries",
                        })));
                    }
                }
            }
        }
    };
    Ok(VerifiedBlobBundle {
        key_fingerprint: key.fingerprint(),
        tlog_entry,
    })
}
