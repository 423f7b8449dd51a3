//! Fulcio and private-PKI signatures (rows 13, 14, 15, 24, 26). hallmark does not verify
//! certificates yet; these tests pin the current behaviour.

use crate::support::*;
use hallmark_core::PublicKey;
use hallmark_sigstore::{CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, error::Rejection};

/// Certificate-signed images are rejected by `--key` verification with the fixture keys: the
/// signatures were made with the certificates' keys. Certificates and chains are not keys.
#[test]
fn certificate_signatures_are_rejected_by_key_verification() {
    let keys = vec![cosign_pub(), cosign2_pub()];
    let tried: Vec<String> = keys.iter().map(PublicKey::fingerprint).collect();
    for (dir, repo) in [
        (
            "dir-img-cosign-fulcio-rekor-valid",
            "192.168.64.2:5000/cosign-signed/fulcio-rekor-1",
        ),
        ("dir-img-cosign-pki-valid", "localhost:5000/test"),
    ] {
        let img = DirImage::load(dir);
        assert_eq!(img.candidates.len(), 1, "{dir}");
        let c = &img.candidates[0];
        // The layers do carry a certificate and a chain: the keyless / PKI material.
        assert!(
            c.annotations[CERTIFICATE_ANNOTATION].starts_with("-----BEGIN CERTIFICATE-----"),
            "{dir}"
        );
        assert!(
            c.annotations[CHAIN_ANNOTATION].starts_with("-----BEGIN CERTIFICATE-----"),
            "{dir}"
        );
        // The payload names this image, so only the key check fails.
        let payload = hallmark_sigstore::payload::parse(&c.body).unwrap();
        assert_eq!(payload.docker_reference, repo, "{dir}");
        assert_eq!(payload.manifest_digest, img.digest().unwrap(), "{dir}");
        let r = rejections(img.verify(repo, &repo_policy(keys.clone(), repo)));
        assert_eq!(
            r,
            vec![Rejection::NoKeyVerifies {
                tried: tried.clone()
            }],
            "{dir}"
        );
        // Row 14's and 15's modified variants (certificate or chain removed) are rejected too.
        for removed in [CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION] {
            let mut m = c.clone();
            m.annotations.remove(removed);
            let r = hallmark_sigstore::verify::verify_candidate(
                &img.digest().unwrap(),
                &m,
                &key_policy(keys.clone()),
            );
            assert!(
                matches!(r, Err(Rejection::NoKeyVerifies { .. })),
                "{dir} without {removed}: {r:?}"
            );
        }
    }
    // Rows 24 and 26: the certificate files are not public keys hallmark can use.
    for file in [
        "fulcio-cert",
        "fulcio-chain",
        "fulcio_v1.crt.pem",
        "pki-cert",
        "pki-chain",
        "pki_root_crts.pem",
        "pki_intermediate_crts.pem",
    ] {
        let pem = vector_text(&format!("{CI_FIXTURES}/{file}"));
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{file}");
        assert!(PublicKey::from_pem(&pem, file).is_err(), "{file}");
    }
}
