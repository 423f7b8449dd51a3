//! Certificate-based verification: Fulcio (keyless) and private-PKI signatures (rows 13, 14, 15,
//! 24, 25's Rekor+Fulcio combination, 26), and key-based verification of the same signatures.

use crate::support::*;
use hallmark_core::PublicKey;
use hallmark_sigstore::{
    BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, CertificateIdentity,
    CertificatePolicy, IdentityCheck, OidcIssuer, SIGNATURE_ANNOTATION, SubjectName,
    TransparencyLog, TrustedCertificates, VerificationPolicy, VerifiedSignature,
    candidate::{CandidateSource, SignatureCandidate},
    certificate::{Certificate, CertificateError, CheckTime, UnixTime},
    error::Rejection,
    rekor_set::RekorSetError,
    verify,
};
use std::{collections::BTreeMap, time::Duration};

const FULCIO_DIR: &str = "dir-img-cosign-fulcio-rekor-valid";
const FULCIO_REPO: &str = "192.168.64.2:5000/cosign-signed/fulcio-rekor-1";
const PKI_DIR: &str = "dir-img-cosign-pki-valid";
const PKI_REPO: &str = "localhost:5000/test";
const GITHUB_OAUTH: &str = "https://github.com/login/oauth";
const MITR: &str = "mitr@redhat.com";
const QIWAN: &str = "qiwan@redhat.com";
const MYHOST: &str = "myhost.example.com";
/// "Now" for checks without a transparency log: 2026-01-01T00:00:00Z.
const NOW: u64 = 1767225600;
/// Row 24/25: the integratedTime of `rekor-set`, one second after the leaf's notBefore.
const REKOR_SET_TIME: u64 = 1670870899;
/// notBefore and notAfter of `fulcio-cert` (2022-12-12 18:48:18Z and 18:58:18Z).
const FULCIO_CERT_NOT_BEFORE: u64 = 1670870898;
const FULCIO_CERT_NOT_AFTER: u64 = 1670871498;

fn fixture(name: &str) -> Vec<u8> {
    vector(&format!("{CI_FIXTURES}/{name}"))
}

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn trust(roots: &str, intermediates: Option<&str>) -> TrustedCertificates {
    TrustedCertificates::from_pem(&fixture(roots), intermediates.map(fixture).as_deref()).unwrap()
}

fn fulcio_identity(email: &str) -> CertificateIdentity {
    CertificateIdentity::new(
        SubjectName::Email(email.into()),
        OidcIssuer::Exact(GITHUB_OAUTH.into()),
    )
}

fn pki_identity(email: &str, host: &str) -> CertificateIdentity {
    CertificateIdentity::new(SubjectName::Email(email.into()), OidcIssuer::NotChecked)
        .and_subject(SubjectName::Dns(host.into()))
}

/// containers/image's `fulcio{caPath, oidcIssuer, subjectEmail}` + `rekorPublicKeyPaths` +
/// `matchRepository`.
fn fulcio_policy(
    roots: &str,
    identity: CertificateIdentity,
    log: TransparencyLog,
) -> VerificationPolicy {
    VerificationPolicy {
        certificates: Some(CertificatePolicy {
            trust: trust(roots, None),
            identity,
            log,
        }),
        identity: IdentityCheck::Repository(FULCIO_REPO.into()),
        ..VerificationPolicy::default()
    }
}

fn rekor(keys: Vec<PublicKey>) -> TransparencyLog {
    TransparencyLog::Required { rekor_keys: keys }
}

fn no_log() -> TransparencyLog {
    TransparencyLog::NotRequired { now: at(NOW) }
}

/// containers/image's `pki{caRootsPath, caIntermediatesPath, subjectEmail, subjectHostname}`.
fn pki_policy(intermediates: Option<&str>, identity: CertificateIdentity) -> VerificationPolicy {
    VerificationPolicy {
        certificates: Some(CertificatePolicy {
            trust: trust("pki_root_crts.pem", intermediates),
            identity,
            log: no_log(),
        }),
        identity: IdentityCheck::Repository(PKI_REPO.into()),
        ..VerificationPolicy::default()
    }
}

fn check(
    img: &DirImage,
    c: &SignatureCandidate,
    policy: &VerificationPolicy,
) -> Result<VerifiedSignature, Rejection> {
    verify::verify_candidate(&img.digest().unwrap(), c, policy)
}

fn without(c: &SignatureCandidate, annotation: &str) -> SignatureCandidate {
    let mut m = c.clone();
    assert!(m.annotations.remove(annotation).is_some(), "{annotation}");
    m
}

fn with(c: &SignatureCandidate, annotation: &str, value: &str) -> SignatureCandidate {
    let mut m = c.clone();
    m.annotations.insert(annotation.into(), value.into());
    m
}

fn is_cert_error(
    r: &Result<VerifiedSignature, Rejection>,
    f: impl Fn(&CertificateError) -> bool,
) -> bool {
    matches!(r, Err(Rejection::Certificate(e)) if f(e))
}

/// Row 13: the keyless signature is accepted with the Fulcio root, the issuer, the e-mail and
/// any Rekor key list holding rekor.pub; also without the chain annotation when the chain
/// itself is the trusted CA.
#[test]
fn row13_fulcio_rekor_accepted() {
    let img = DirImage::load(FULCIO_DIR);
    let [c] = img.candidates.as_slice() else {
        panic!("one signature expected")
    };
    for keys in [
        vec![rekor_pub()],
        vec![rekor_pub(), cosign_pub()],
        vec![cosign_pub(), rekor_pub()],
    ] {
        let policy = fulcio_policy("fulcio_v1.crt.pem", fulcio_identity(MITR), rekor(keys));
        let v = check(&img, c, &policy).unwrap();
        assert_eq!(v.format, "cosign-simplesigning");
        assert_eq!(v.docker_reference.as_deref(), Some(FULCIO_REPO));
        let cert = v.certificate.unwrap();
        assert_eq!(cert.emails, vec![MITR.to_owned()]);
        assert_eq!(cert.oidc_issuer.as_deref(), Some(GITHUB_OAUTH));
        assert!(cert.uris.is_empty() && cert.dns_names.is_empty());
        // The key is the leaf's.
        let leaf =
            Certificate::from_leaf_pem(c.annotations[CERTIFICATE_ANNOTATION].as_bytes(), "leaf")
                .unwrap();
        assert_eq!(cert.sha256, leaf.sha256());
        assert_eq!(v.key_fingerprint, leaf.public_key().unwrap().fingerprint());
    }
    // "…fine if the issuer is directly trusted": the chain PEM given as the CA, no chain
    // annotation.
    let policy = fulcio_policy(
        "fulcio-chain",
        fulcio_identity(MITR),
        rekor(vec![rekor_pub()]),
    );
    let c2 = without(c, CHAIN_ANNOTATION);
    assert!(check(&img, &c2, &policy).is_ok());
    // Through the image-level verifier too.
    let policy = fulcio_policy(
        "fulcio_v1.crt.pem",
        fulcio_identity(MITR),
        rekor(vec![rekor_pub()]),
    );
    let ok = img.verify(FULCIO_REPO, &policy).unwrap();
    assert_eq!(ok.len(), 1);
    // cosign's `--certificate-identity` (e-mail or URI) matches the e-mail too.
    let cosign_style = CertificateIdentity::new(
        SubjectName::Any(MITR.into()),
        OidcIssuer::Exact(GITHUB_OAUTH.into()),
    );
    let policy = fulcio_policy("fulcio_v1.crt.pem", cosign_style, rekor(vec![rekor_pub()]));
    assert!(check(&img, c, &policy).is_ok());
}

/// Row 14: every modified signature or wrong policy is rejected, for the stated reason.
#[test]
fn row14_fulcio_rejections() {
    let img = DirImage::load(FULCIO_DIR);
    let c = &img.candidates[0];
    let good = || {
        fulcio_policy(
            "fulcio_v1.crt.pem",
            fulcio_identity(MITR),
            rekor(vec![rekor_pub()]),
        )
    };

    // "Fulcio, no Rekor requirement": the ten-minute certificate is checked at "now" and has
    // long expired (with or without the SET annotation).
    let no_rekor = fulcio_policy("fulcio_v1.crt.pem", fulcio_identity(MITR), no_log());
    for sig in [without(c, BUNDLE_ANNOTATION), c.clone()] {
        let r = check(&img, &sig, &no_rekor);
        assert!(
            is_cert_error(
                &r,
                |e| matches!(e, CertificateError::NotValidAt { not_after, .. } if not_after == "2023-01-20T21:01:31Z")
            ),
            "{r:?}"
        );
        let text = r.unwrap_err().to_string();
        assert!(text.contains("email:mitr@redhat.com"), "{text}");
        assert!(text.contains("no transparency log was required"), "{text}");
    }
    // Missing Rekor SET annotation.
    let r = check(&img, &without(c, BUNDLE_ANNOTATION), &good());
    assert_eq!(r, Err(Rejection::Rekor(RekorSetError::MissingBundle)));
    // Missing certificate annotation.
    let r = check(&img, &without(c, CERTIFICATE_ANNOTATION), &good());
    assert!(
        matches!(r, Err(Rejection::MissingCertificate { .. })),
        "{r:?}"
    );
    // Missing chain, with only the root trusted.
    let r = check(&img, &without(c, CHAIN_ANNOTATION), &good());
    assert!(
        is_cert_error(
            &r,
            |e| matches!(e, CertificateError::Untrusted { reason, .. } if reason.contains("UnknownIssuer"))
        ),
        "{r:?}"
    );
    // Invalid Fulcio certificate.
    let r = check(
        &img,
        &with(c, CERTIFICATE_ANNOTATION, "this is not PEM"),
        &good(),
    );
    assert!(
        is_cert_error(&r, |e| matches!(e, CertificateError::NotPem { .. })),
        "{r:?}"
    );
    // A Fulcio certificate which we don't accept (another e-mail).
    let other = fulcio_policy(
        "fulcio_v1.crt.pem",
        fulcio_identity("this-does-not-match@example.com"),
        rekor(vec![rekor_pub()]),
    );
    assert_eq!(
        check(&img, c, &other),
        Err(Rejection::CertificateIdentityMismatch {
            expected: "email:this-does-not-match@example.com".into(),
            found: "email:mitr@redhat.com".into()
        })
    );
    // Another issuer.
    let other = fulcio_policy(
        "fulcio_v1.crt.pem",
        CertificateIdentity::new(
            SubjectName::Email(MITR.into()),
            OidcIssuer::Exact("https://accounts.google.com".into()),
        ),
        rekor(vec![rekor_pub()]),
    );
    assert_eq!(
        check(&img, c, &other),
        Err(Rejection::CertificateIssuerMismatch {
            expected: "https://accounts.google.com".into(),
            found: Some(GITHUB_OAUTH.into())
        })
    );
    // Invalid Rekor SET.
    let r = check(
        &img,
        &with(c, BUNDLE_ANNOTATION, "this is not a valid SET"),
        &good(),
    );
    assert!(
        matches!(r, Err(Rejection::Rekor(RekorSetError::Malformed { .. }))),
        "{r:?}"
    );
    // A Rekor SET which we don't accept (cosign.pub as the Rekor key).
    let wrong = fulcio_policy(
        "fulcio_v1.crt.pem",
        fulcio_identity(MITR),
        rekor(vec![cosign_pub()]),
    );
    assert_eq!(
        check(&img, c, &wrong),
        Err(Rejection::Rekor(RekorSetError::BadSet {
            tried: vec![cosign_pub().fingerprint()]
        }))
    );
    // No Rekor key at all while a log is required.
    let none = fulcio_policy("fulcio_v1.crt.pem", fulcio_identity(MITR), rekor(vec![]));
    assert_eq!(
        check(&img, c, &none),
        Err(Rejection::Rekor(RekorSetError::NoLogKeys))
    );
    // Another root (the private PKI's).
    let r = check(
        &img,
        c,
        &fulcio_policy(
            "pki_root_crts.pem",
            fulcio_identity(MITR),
            rekor(vec![rekor_pub()]),
        ),
    );
    assert!(
        is_cert_error(&r, |e| matches!(e, CertificateError::Untrusted { .. })),
        "{r:?}"
    );
    // A signature over another payload: the SET records the original payload's hash.
    let mut tampered = c.clone();
    tampered.body = fixture("rekor-payload");
    let r = check(&img, &tampered, &good());
    assert!(
        matches!(
            r,
            Err(Rejection::Rekor(RekorSetError::PayloadHashMismatch { .. }))
        ),
        "{r:?}"
    );
    // Another image: the payload signs another digest.
    let r = verify::verify_candidate(&digest(SAMPLE_DIGEST), c, &good());
    assert!(matches!(r, Err(Rejection::DigestMismatch { .. })), "{r:?}");
    // The signed repository is checked as for keys.
    let mut repo = good();
    repo.identity = IdentityCheck::Repository("example.com/other".into());
    assert!(matches!(
        check(&img, c, &repo),
        Err(Rejection::IdentityMismatch { .. })
    ));
}

/// Row 15: the private-PKI signature is accepted with roots + intermediates, e-mail and
/// hostname; also without the chain annotation (intermediates from the configuration).
/// Rejected without the certificate, and without the chain when no intermediates are
/// configured.
#[test]
fn row15_pki() {
    let img = DirImage::load(PKI_DIR);
    let c = &img.candidates[0];
    let identity = pki_identity(QIWAN, MYHOST);
    let full = pki_policy(Some("pki_intermediate_crts.pem"), identity.clone());
    let v = check(&img, c, &full).unwrap();
    assert_eq!(v.docker_reference.as_deref(), Some(PKI_REPO));
    let cert = v.certificate.unwrap();
    assert_eq!(cert.emails, vec![QIWAN.to_owned()]);
    assert_eq!(cert.dns_names, vec![MYHOST.to_owned()]);
    assert_eq!(cert.oidc_issuer, None);
    assert!(img.verify(PKI_REPO, &full).is_ok());
    // Chain annotation removed: the configured intermediates complete the path.
    assert!(check(&img, &without(c, CHAIN_ANNOTATION), &full).is_ok());
    // Intermediates only in the chain annotation.
    let roots_only = pki_policy(None, identity.clone());
    assert!(check(&img, c, &roots_only).is_ok());

    // Certificate removed.
    let r = check(&img, &without(c, CERTIFICATE_ANNOTATION), &full);
    assert!(
        matches!(r, Err(Rejection::MissingCertificate { .. })),
        "{r:?}"
    );
    // Chain removed and no intermediates configured.
    let r = check(&img, &without(c, CHAIN_ANNOTATION), &roots_only);
    assert!(
        is_cert_error(&r, |e| matches!(e, CertificateError::Untrusted { .. })),
        "{r:?}"
    );
    // Wrong hostname / e-mail.
    for (email, host, expected) in [
        (QIWAN, "other.example.com", "dns:other.example.com"),
        ("other@example.com", MYHOST, "email:other@example.com"),
    ] {
        let r = check(
            &img,
            c,
            &pki_policy(Some("pki_intermediate_crts.pem"), pki_identity(email, host)),
        );
        assert_eq!(
            r,
            Err(Rejection::CertificateIdentityMismatch {
                expected: expected.into(),
                found: "email:qiwan@redhat.com, dns:myhost.example.com".into()
            })
        );
    }
    // An OIDC issuer requirement fails: the certificate has none.
    let issuer = VerificationPolicy {
        certificates: Some(CertificatePolicy {
            trust: trust("pki_root_crts.pem", Some("pki_intermediate_crts.pem")),
            identity: CertificateIdentity::new(
                SubjectName::Email(QIWAN.into()),
                OidcIssuer::Exact(GITHUB_OAUTH.into()),
            ),
            log: no_log(),
        }),
        ..VerificationPolicy::default()
    };
    assert!(matches!(
        check(&img, c, &issuer),
        Err(Rejection::CertificateIssuerMismatch { found: None, .. })
    ));
    // Before the certificate was issued (2024-10-01).
    let mut early = full.clone();
    if let Some(cp) = early.certificates.as_mut() {
        cp.log = TransparencyLog::NotRequired {
            now: at(1_700_000_000),
        };
    }
    let r = check(&img, c, &early);
    assert!(
        is_cert_error(&r, |e| matches!(e, CertificateError::NotValidAt { .. })),
        "{r:?}"
    );
    // The Fulcio trust does not accept it.
    let r = check(
        &img,
        c,
        &fulcio_policy("fulcio_v1.crt.pem", pki_identity(QIWAN, MYHOST), no_log()),
    );
    assert!(
        is_cert_error(&r, |e| matches!(e, CertificateError::Untrusted { .. })),
        "{r:?}"
    );
    // A payload signed by another key under this certificate fails the signature check.
    let other = candidate_from_file(&format!("{CI_FIXTURES}/dir-img-cosign-valid/signature-1"));
    let mut forged = c.clone();
    forged.annotations.insert(
        SIGNATURE_ANNOTATION.into(),
        other.annotations[SIGNATURE_ANNOTATION].clone(),
    );
    let r = check(&img, &forged, &full);
    assert!(
        matches!(r, Err(Rejection::CertificateSignature { .. })),
        "{r:?}"
    );
}

/// Key-based verification of the certificate signatures is unchanged: the fixture keys did not
/// make them. A policy with keys and certificate trust verifies keyed signatures by key.
#[test]
fn certificate_signatures_are_rejected_by_key_verification() {
    let keys = vec![cosign_pub(), cosign2_pub()];
    let tried: Vec<String> = keys.iter().map(PublicKey::fingerprint).collect();
    for (dir, repo) in [(FULCIO_DIR, FULCIO_REPO), (PKI_DIR, PKI_REPO)] {
        let img = DirImage::load(dir);
        let c = &img.candidates[0];
        let r = rejections(img.verify(repo, &repo_policy(keys.clone(), repo)));
        assert_eq!(
            r,
            vec![Rejection::NoKeyVerifies {
                tried: tried.clone()
            }],
            "{dir}"
        );
        for removed in [CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION] {
            let r = check(&img, &without(c, removed), &key_policy(keys.clone()));
            assert!(
                matches!(r, Err(Rejection::NoKeyVerifies { .. })),
                "{dir}: {r:?}"
            );
        }
    }
    // A keyed signature (no certificate) under a policy with both a key and certificate trust.
    let img = DirImage::load("dir-img-cosign-valid");
    let both = VerificationPolicy {
        keys: vec![cosign_pub()],
        identity: IdentityCheck::Any,
        ..pki_policy(None, pki_identity(QIWAN, MYHOST))
    };
    let v = img.verify(SAMPLE_REPO, &both).unwrap();
    assert_eq!(v[0].certificate, None);
    assert_eq!(v[0].key_fingerprint, cosign_pub().fingerprint());
    // Certificate trust only: a keyed signature has no certificate.
    let certs_only = VerificationPolicy {
        keys: vec![],
        ..both
    };
    let r = rejections(img.verify(SAMPLE_REPO, &certs_only));
    assert!(
        matches!(r[..], [Rejection::MissingCertificate { .. }]),
        "{r:?}"
    );
    // Certificate files are not public keys.
    for file in [
        "fulcio-cert",
        "fulcio-chain",
        "fulcio_v1.crt.pem",
        "pki-cert",
        "pki-chain",
    ] {
        let pem = vector_text(&format!("{CI_FIXTURES}/{file}"));
        assert!(PublicKey::from_pem(&pem, file).is_err(), "{file}");
    }
}

/// Row 24: the Dec-2022 Fulcio leaf, checked at a given instant.
#[test]
fn row24_fulcio_certificate_at_time() {
    let leaf = Certificate::from_leaf_pem(&fixture("fulcio-cert"), "fulcio-cert").unwrap();
    assert_eq!(leaf.emails(), [MITR.to_owned()]);
    assert_eq!(leaf.oidc_issuer(), Some(GITHUB_OAUTH));
    assert_eq!(leaf.not_before(), FULCIO_CERT_NOT_BEFORE);
    assert_eq!(leaf.not_after(), FULCIO_CERT_NOT_AFTER);
    // Identical to rekor_set_test.go's rekor-cert.
    assert_eq!(
        leaf,
        Certificate::from_leaf_pem(&vector(&format!("{CI_TESTDATA}/rekor-cert")), "rekor-cert")
            .unwrap()
    );
    let chain = Certificate::chain_from_pem(&fixture("fulcio-chain"), "fulcio-chain").unwrap();
    assert_eq!(chain.len(), 2);
    let root = trust("fulcio_v1.crt.pem", None);
    let t = |s| CheckTime::RekorIntegratedTime(at(s));
    assert_eq!(root.verify(&leaf, &chain, t(REKOR_SET_TIME)), Ok(()));
    // The first and last second of validity.
    assert_eq!(
        root.verify(&leaf, &chain, t(FULCIO_CERT_NOT_BEFORE)),
        Ok(())
    );
    assert_eq!(root.verify(&leaf, &chain, t(FULCIO_CERT_NOT_AFTER)), Ok(()));
    // The chain as roots, no chain given.
    let chain_as_roots = trust("fulcio-chain", None);
    assert_eq!(chain_as_roots.verify(&leaf, &[], t(REKOR_SET_TIME)), Ok(()));
    // Empty chain with fulcio_v1 as root.
    assert!(matches!(
        root.verify(&leaf, &[], t(REKOR_SET_TIME)),
        Err(CertificateError::Untrusted { .. })
    ));
    // 18:48:17Z and 18:58:19Z.
    for secs in [FULCIO_CERT_NOT_BEFORE - 1, FULCIO_CERT_NOT_AFTER + 1] {
        let r = root.verify(&leaf, &chain, t(secs));
        assert!(
            matches!(&r, Err(CertificateError::NotValidAt { not_before, not_after, source_of_time, .. })
                if not_before == "2022-12-12T18:48:18Z" && not_after == "2022-12-12T18:58:18Z" && source_of_time.contains("Rekor")),
            "{r:?}"
        );
    }
    // "not a certificate" as leaf or chain; the leaf repeated twice; empty.
    assert!(matches!(
        Certificate::from_leaf_pem(b"not a certificate", "leaf"),
        Err(CertificateError::NotPem { .. })
    ));
    assert!(matches!(
        Certificate::chain_from_pem(b"not a certificate", "chain"),
        Err(CertificateError::NotPem { .. })
    ));
    let twice = [fixture("fulcio-cert"), fixture("fulcio-cert")].concat();
    assert_eq!(
        Certificate::from_leaf_pem(&twice, "leaf"),
        Err(CertificateError::NotExactlyOne {
            what: "leaf".into(),
            found: 2
        })
    );
    assert!(matches!(
        Certificate::from_leaf_pem(b"", "leaf"),
        Err(CertificateError::Empty { .. })
    ));
    // A public key is not a certificate.
    assert!(matches!(
        Certificate::from_leaf_pem(&fixture("cosign.pub"), "leaf"),
        Err(CertificateError::WrongLabel { found, .. }) if found == "PUBLIC KEY"
    ));
    // No roots.
    assert_eq!(
        TrustedCertificates::new(vec![], chain),
        Err(CertificateError::NoRoots)
    );
}

/// Row 25, combined with Fulcio: the SET of rekor_set_test.go, its certificate through
/// fulcio-chain to fulcio_v1 at the SET's integratedTime, the e-mail, and the signature over
/// the payload with the certificate's key. Rejected when the payload is replaced or the e-mail
/// differs.
#[test]
fn row25_rekor_and_fulcio_combined() {
    let testdata = |n: &str| vector(&format!("{CI_TESTDATA}/{n}"));
    let text = |n: &str| String::from_utf8(testdata(n)).unwrap();
    let payload = testdata("rekor-payload");
    let signed = hallmark_sigstore::payload::parse(&payload).unwrap();
    let candidate = SignatureCandidate {
        source: CandidateSource::File {
            name: "rekor-payload".into(),
        },
        media_type: hallmark_sigstore::SIMPLE_SIGNING_MEDIA_TYPE.into(),
        body: payload,
        annotations: BTreeMap::from([
            (
                SIGNATURE_ANNOTATION.to_owned(),
                text("rekor-sig").trim().to_owned(),
            ),
            (BUNDLE_ANNOTATION.to_owned(), text("rekor-set")),
            (CERTIFICATE_ANNOTATION.to_owned(), text("rekor-cert")),
            (
                CHAIN_ANNOTATION.to_owned(),
                vector_text(&format!("{CI_FIXTURES}/fulcio-chain")),
            ),
        ]),
    };
    let policy = |email: &str| VerificationPolicy {
        certificates: Some(CertificatePolicy {
            trust: trust("fulcio_v1.crt.pem", None),
            identity: fulcio_identity(email),
            log: rekor(vec![rekor_pub()]),
        }),
        ..VerificationPolicy::default()
    };
    let v = verify::verify_candidate(&signed.manifest_digest, &candidate, &policy(MITR)).unwrap();
    assert_eq!(
        v.docker_reference.as_deref(),
        Some("192.168.64.2:5000/test-repo-2100826901021538654/alpine")
    );
    // Without the log requirement the certificate has expired.
    let mut no_rekor = policy(MITR);
    if let Some(cp) = no_rekor.certificates.as_mut() {
        cp.log = no_log();
    }
    let r = verify::verify_candidate(&signed.manifest_digest, &candidate, &no_rekor);
    assert!(
        matches!(
            r,
            Err(Rejection::Certificate(CertificateError::NotValidAt { .. }))
        ),
        "{r:?}"
    );
    // Another e-mail.
    let r = verify::verify_candidate(
        &signed.manifest_digest,
        &candidate,
        &policy("this-does-not-match@example.com"),
    );
    assert!(
        matches!(r, Err(Rejection::CertificateIdentityMismatch { .. })),
        "{r:?}"
    );
    // The payload replaced (by another cosign payload).
    let mut replaced = candidate.clone();
    replaced.body = fixture("dir-img-cosign-valid/signature-1");
    let r = verify::verify_candidate(&signed.manifest_digest, &replaced, &policy(MITR));
    assert!(
        matches!(
            r,
            Err(Rejection::Rekor(RekorSetError::PayloadHashMismatch { .. }))
        ),
        "{r:?}"
    );
    // The certificate twice, or not PEM, in the annotation.
    for bad in [
        [text("rekor-cert"), text("rekor-cert")].concat(),
        "this is not PEM".to_owned(),
    ] {
        let mut m = candidate.clone();
        m.annotations.insert(CERTIFICATE_ANNOTATION.into(), bad);
        let r = verify::verify_candidate(&signed.manifest_digest, &m, &policy(MITR));
        assert!(matches!(r, Err(Rejection::Certificate(_))), "{r:?}");
    }
}

/// Row 26: the private-PKI leaf through roots and intermediates.
#[test]
fn row26_pki_certificates() {
    let leaf = Certificate::from_leaf_pem(&fixture("pki-cert"), "pki-cert").unwrap();
    assert_eq!(leaf.emails(), [QIWAN.to_owned()]);
    assert_eq!(leaf.dns_names(), [MYHOST.to_owned()]);
    assert_eq!(leaf.oidc_issuer(), None);
    assert!(pki_identity(QIWAN, MYHOST).check(&leaf).is_ok());
    let chain = Certificate::chain_from_pem(&fixture("pki-chain"), "pki-chain").unwrap();
    let now = CheckTime::Now(at(NOW));
    let both = trust("pki_root_crts.pem", Some("pki_intermediate_crts.pem"));
    let roots = trust("pki_root_crts.pem", None);
    assert_eq!(both.verify(&leaf, &chain, now), Ok(()));
    assert_eq!(both.verify(&leaf, &[], now), Ok(()));
    assert_eq!(roots.verify(&leaf, &chain, now), Ok(()));
    assert!(matches!(
        roots.verify(&leaf, &[], now),
        Err(CertificateError::Untrusted { .. })
    ));
    // A CA certificate is not a signing leaf.
    let root = Certificate::from_leaf_pem(&fixture("pki_root_crts.pem"), "root").unwrap();
    assert!(both.verify(&root, &[], now).is_err());
    // The leaf's key is RSA-4096.
    assert_eq!(
        leaf.public_key().unwrap().algorithm(),
        hallmark_core::KeyAlgorithm::Rsa
    );
}
