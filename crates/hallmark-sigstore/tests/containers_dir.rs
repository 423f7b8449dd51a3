//! Key-based verification of containers/image `dir:` images and signatures (rows 1-9, 16-21,
//! 23 and 27 of the vectors' expectation table).

use crate::support::*;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{KeyAlgorithm, PublicKey, RegistryRef};
use hallmark_sigstore::{
    IdentityCheck, SIGNATURE_ANNOTATION, SignatureCandidate, VerificationPolicy, VerifyError,
    error::Rejection, verify,
};
use serde_json::Value;

/// Row 1: the cosign-made signature is accepted with cosign.pub, alone or with cosign2.pub in
/// either order, under a repository check.
#[test]
fn row01_cosign_valid_accepted_with_each_key_set() {
    let img = DirImage::load("dir-img-cosign-valid");
    assert_eq!(img.digest().unwrap().to_string(), SAMPLE_DIGEST);
    assert_eq!(img.candidates.len(), 1);
    for keys in [
        vec![cosign_pub()],
        vec![cosign_pub(), cosign2_pub()],
        vec![cosign2_pub(), cosign_pub()],
    ] {
        let ok = img
            .verify(SAMPLE_REPO, &repo_policy(keys, SAMPLE_REPO))
            .unwrap();
        assert_eq!(ok.len(), 1);
        let v = &ok[0];
        assert_eq!(v.format, "cosign-simplesigning");
        assert_eq!(v.key_fingerprint, cosign_pub().fingerprint());
        assert_eq!(v.docker_reference.as_deref(), Some(SAMPLE_REPO));
        assert_eq!(
            v.payload["critical"]["image"]["docker-manifest-digest"],
            SAMPLE_DIGEST
        );
        assert_eq!(v.payload["optional"], Value::Null);
        assert!(v.annotations.is_empty());
        assert_eq!(v.source, "signature-1");
    }
    // Without an identity check (cosign's behaviour) it is accepted too.
    assert_eq!(
        img.verify(SAMPLE_REPO, &key_policy(vec![cosign_pub()]))
            .unwrap()
            .len(),
        1
    );
}

/// Rows 2 and 4: a valid signature for another identity is rejected by the repository check
/// (containers/image `exactReference "this/does-not:match"`, and image ref
/// `testing/manifest:notlatest` under `matchRepository`).
#[test]
fn row02_row04_identity_mismatch_rejected() {
    let img = DirImage::load("dir-img-cosign-valid");
    for expected in ["this/does-not:match", "testing/manifest:notlatest"] {
        let r = rejections(img.verify(expected, &repo_policy(vec![cosign_pub()], expected)));
        assert_eq!(
            r,
            vec![Rejection::IdentityMismatch {
                expected: expected.to_owned(),
                found: SAMPLE_REPO.to_owned()
            }],
            "{expected}"
        );
    }
}

/// Row 3: `matchExact` rejects cosign-made signatures because they carry no tag. hallmark has
/// no `matchExact`; the test pins the fact the upstream rejection rests on.
#[test]
fn row03_cosign_signed_reference_has_no_tag() {
    let img = DirImage::load("dir-img-cosign-valid");
    let ok = img
        .verify(SAMPLE_REPO, &key_policy(vec![cosign_pub()]))
        .unwrap();
    let signed = RegistryRef::parse(ok[0].docker_reference.as_deref().unwrap()).unwrap();
    assert_eq!(signed.tag, None);
    assert_eq!(signed.digest, None);
    assert_eq!(signed.repository_name(), SAMPLE_REPO);
}

/// Row 5: the same layer with a signature annotation that does not verify, or without
/// annotations at all, is rejected.
#[test]
fn row05_modified_signature_annotation_rejected() {
    let img = DirImage::load("dir-img-cosign-valid");
    let digest = img.digest().unwrap();
    let policy = repo_policy(vec![cosign_pub()], SAMPLE_REPO);

    let mut bad = img.candidates[0].clone();
    bad.annotations.insert(
        SIGNATURE_ANNOTATION.into(),
        STANDARD.encode("invalid signature"),
    );
    let r = rejections(verify::verify_signatures(
        SAMPLE_REPO,
        &digest,
        &[bad],
        &policy,
    ));
    assert_eq!(
        r,
        vec![Rejection::NoKeyVerifies {
            tried: vec![cosign_pub().fingerprint()]
        }]
    );

    let mut bare = img.candidates[0].clone();
    bare.annotations.clear();
    let r = rejections(verify::verify_signatures(
        SAMPLE_REPO,
        &digest,
        &[bare],
        &policy,
    ));
    assert_eq!(r, vec![Rejection::MissingSignature]);
}

/// Row 6: a valid signature by a key that is not configured is rejected.
#[test]
fn row06_unknown_key_rejected() {
    let img = DirImage::load("dir-img-cosign-valid");
    let c = candidate_from_file(&format!("{CI_FIXTURES}/unknown-cosign-key.signature"));
    // Same payload as row 1, different signature.
    assert_eq!(c.body, img.candidates[0].body);
    assert_ne!(
        c.annotations.get(SIGNATURE_ANNOTATION),
        img.candidates[0].annotations.get(SIGNATURE_ANNOTATION)
    );
    for keys in [vec![cosign_pub()], vec![cosign_pub(), cosign2_pub()]] {
        let tried: Vec<String> = keys.iter().map(PublicKey::fingerprint).collect();
        let r = rejections(verify::verify_signatures(
            SAMPLE_REPO,
            &img.digest().unwrap(),
            std::slice::from_ref(&c),
            &repo_policy(keys, SAMPLE_REPO),
        ));
        assert_eq!(r, vec![Rejection::NoKeyVerifies { tried }]);
    }
}

/// Row 7: two valid signatures are both accepted; both are rejected for another identity.
#[test]
fn row07_two_valid_signatures() {
    let img = DirImage::load("dir-img-cosign-valid-2");
    assert_eq!(img.candidates.len(), 2);
    let ok = img
        .verify(SAMPLE_REPO, &repo_policy(vec![cosign_pub()], SAMPLE_REPO))
        .unwrap();
    let sources: Vec<&str> = ok.iter().map(|v| v.source.as_str()).collect();
    assert_eq!(sources, ["signature-1", "signature-2"]);

    let other = "this/does-not:match";
    let r = rejections(img.verify(other, &repo_policy(vec![cosign_pub()], other)));
    assert_eq!(r.len(), 2);
    assert!(
        r.iter()
            .all(|r| matches!(r, Rejection::IdentityMismatch { .. })),
        "{r:?}"
    );
}

/// Row 8: one signature by an unknown key and one valid signature: the image is accepted.
#[test]
fn row08_mixed_one_valid_is_enough() {
    let img = DirImage::load("dir-img-cosign-mixed");
    assert_eq!(img.candidates.len(), 2);
    let ok = img
        .verify(SAMPLE_REPO, &repo_policy(vec![cosign_pub()], SAMPLE_REPO))
        .unwrap();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].source, "signature-2");
    // The first one alone is not enough.
    let r = verify::verify_candidate(
        &img.digest().unwrap(),
        &img.candidates[0],
        &repo_policy(vec![cosign_pub()], SAMPLE_REPO),
    );
    assert!(matches!(r, Err(Rejection::NoKeyVerifies { .. })), "{r:?}");
}

/// Row 9: a skopeo-made signature whose identity carries a tag, with creator and timestamp in
/// `optional`, is accepted under the repository check.
#[test]
fn row09_skopeo_signed_with_tag() {
    let img = DirImage::load("dir-img-cosign-valid-with-tag");
    let repo = "192.168.64.2:5000/skopeo-signed";
    for expected in [repo.to_owned(), format!("{repo}:tag")] {
        let ok = img
            .verify(&expected, &repo_policy(vec![cosign_pub()], &expected))
            .unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(
            ok[0].docker_reference.as_deref(),
            Some("192.168.64.2:5000/skopeo-signed:tag")
        );
        // `optional` has a string creator and a numeric timestamp; annotations are the strings.
        assert_eq!(ok[0].payload["optional"]["timestamp"], 1657296609);
        assert_eq!(
            ok[0].annotations.get("creator").map(String::as_str),
            Some("containers/image 5.21.2-dev")
        );
        assert_eq!(ok[0].annotations.len(), 1);
    }
    // The signed identity carries the tag, which is what `matchExact` compares upstream
    // (hallmark's repository check ignores tags: `…:othertag` names the same repository).
    let ok = img.verify(repo, &key_policy(vec![cosign_pub()])).unwrap();
    let signed = RegistryRef::parse(ok[0].docker_reference.as_deref().unwrap()).unwrap();
    assert_eq!(signed.tag.as_deref(), Some("tag"));
    assert_ne!(signed.tag.as_deref(), Some("othertag"));

    // `-a` claims are checked against the string entries of `optional`.
    let mut policy = key_policy(vec![cosign_pub()]);
    policy
        .annotations
        .insert("creator".into(), "containers/image 5.21.2-dev".into());
    assert!(img.verify(repo, &policy).is_ok());
    policy.annotations.insert("creator".into(), "cosign".into());
    let r = rejections(img.verify(repo, &policy));
    assert_eq!(
        r,
        vec![Rejection::AnnotationMismatch {
            key: "creator".into(),
            expected: "cosign".into(),
            found: Some("containers/image 5.21.2-dev".into()),
        }]
    );
}

/// Row 16: an image without a manifest: hallmark cannot compute the digest to verify against.
#[test]
fn row16_no_manifest_no_digest() {
    let img = DirImage::load("dir-img-cosign-no-manifest");
    assert!(img.manifest.is_none());
    assert_eq!(img.candidates.len(), 1);
    let err = img.digest().unwrap_err();
    assert!(err.contains("no manifest"), "{err}");
}

/// Row 17: a schema-1 manifest: hallmark hashes the bytes (no JWS stripping), which do not
/// give the signed digest, so the signature is rejected for a digest mismatch. hallmark-oci
/// does not read schema-1 manifests at all.
#[test]
fn row17_schema1_manifest_digest_mismatch() {
    let img = DirImage::load("dir-img-cosign-manifest-digest-error");
    let manifest = img.manifest.as_deref().unwrap();
    assert!(hallmark_oci_spec::Manifest::parse(manifest, None).is_err());
    let actual = img.digest().unwrap();
    assert_ne!(actual.to_string(), SAMPLE_DIGEST);
    let r = rejections(img.verify(SAMPLE_REPO, &repo_policy(vec![cosign_pub()], SAMPLE_REPO)));
    assert_eq!(
        r,
        vec![Rejection::DigestMismatch {
            expected: actual.to_string(),
            found: SAMPLE_DIGEST.into()
        }]
    );
}

/// Row 18: a modified manifest: digest mismatch.
#[test]
fn row18_modified_manifest_digest_mismatch() {
    let img = DirImage::load("dir-img-cosign-modified-manifest");
    let actual = img.digest().unwrap();
    assert!(actual.hex().starts_with("d9dcafdb"), "{actual}");
    let r = rejections(img.verify(SAMPLE_REPO, &repo_policy(vec![cosign_pub()], SAMPLE_REPO)));
    assert_eq!(
        r,
        vec![Rejection::DigestMismatch {
            expected: actual.to_string(),
            found: SAMPLE_DIGEST.into()
        }]
    );
}

/// Row 19: a sigstore attachment that is not a signature (text/plain) is not used, even
/// though it carries a valid signature annotation.
#[test]
fn row19_other_attachment_not_a_signature() {
    let img = DirImage::load("dir-img-cosign-other-attachment");
    let image = "testing/manifest:latest";
    let r = rejections(img.verify(image, &repo_policy(vec![cosign_pub()], image)));
    assert_eq!(
        r,
        vec![Rejection::NotASignature {
            media_type: "text/plain".into()
        }]
    );
}

/// Row 20: an unsigned image, and an image with only a GPG signature, have no signatures.
#[test]
fn row20_unsigned_and_gpg_only_have_no_signatures() {
    let image = "testing/manifest:latest";
    let policy = repo_policy(vec![cosign_pub()], image);

    let unsigned = DirImage::load("dir-img-unsigned");
    assert_eq!(
        (unsigned.candidates.len(), unsigned.other_signatures),
        (0, 0)
    );
    let r = unsigned.verify(image, &policy);
    assert!(matches!(r, Err(VerifyError::NoSignatures { .. })), "{r:?}");

    let gpg = DirImage::load("dir-img-valid");
    let sig = vector(&format!("{CI_FIXTURES}/dir-img-valid/signature-1"));
    assert!(SignatureCandidate::from_containers_dir_file("signature-1", &sig).is_none());
    assert_eq!((gpg.candidates.len(), gpg.other_signatures), (0, 1));
    let r = gpg.verify(image, &policy);
    match r {
        Err(VerifyError::NoSignatures { sig_tag, .. }) => {
            assert_eq!(sig_tag, format!("{}.sig", gpg.digest().unwrap().tag_form()));
        }
        other => panic!("expected NoSignatures, got {other:?}"),
    }
    // The two images share their manifest (upstream symlinks to image.manifest.json).
    assert_eq!(unsigned.manifest, gpg.manifest);
    assert_eq!(
        unsigned.manifest.unwrap(),
        vector(&format!("{CI_FIXTURES}/image.manifest.json"))
    );
}

/// Rows 21 and 23: the fixture keys parse with the expected algorithms.
#[test]
fn row21_row23_fixture_keys() {
    let (k1, k2) = (cosign_pub(), cosign2_pub());
    assert_eq!(k1.algorithm(), KeyAlgorithm::EcdsaP256);
    assert_eq!(k2.algorithm(), KeyAlgorithm::EcdsaP256);
    assert_ne!(k1, k2);
    assert_eq!(rekor_pub().algorithm(), KeyAlgorithm::EcdsaP256);
    let rsa = key(&format!("{CI_FIXTURES}/some-rsa-key.pub"));
    assert_eq!(rsa.algorithm(), KeyAlgorithm::Rsa);
    // internal/testdata holds the same keys (upstream symlinks).
    assert_eq!(key(&format!("{CI_TESTDATA}/cosign.pub")), k1);
    assert_eq!(key(&format!("{CI_TESTDATA}/cosign2.pub")), k2);
    assert_eq!(key(&format!("{CI_TESTDATA}/rekor.pub")), rekor_pub());
}

fn valid_signature() -> SignatureCandidate {
    candidate_from_file(&format!("{CI_TESTDATA}/valid.signature"))
}

fn with_signature(sig_b64: &str) -> SignatureCandidate {
    let mut c = valid_signature();
    c.annotations
        .insert(SIGNATURE_ANNOTATION.into(), sig_b64.to_owned());
    c
}

/// Row 27: `valid.signature` verifies with every key set containing cosign.pub and gives the
/// expected claims.
#[test]
fn row27_valid_signature_key_sets() {
    let c = valid_signature();
    let d = digest(SAMPLE_DIGEST);
    for keys in [
        vec![cosign_pub()],
        vec![cosign_pub(), cosign2_pub()],
        vec![cosign2_pub(), cosign_pub()],
    ] {
        let v = verify::verify_candidate(&d, &c, &repo_policy(keys, SAMPLE_REPO)).unwrap();
        assert_eq!(v.docker_reference.as_deref(), Some(SAMPLE_REPO));
        assert_eq!(
            v.payload["critical"]["image"]["docker-manifest-digest"],
            SAMPLE_DIGEST
        );
        assert_eq!(v.payload["optional"], Value::Null);
        assert!(v.annotations.is_empty());
    }
    for keys in [vec![cosign2_pub()], vec![]] {
        let tried: Vec<String> = keys.iter().map(PublicKey::fingerprint).collect();
        let r = verify::verify_candidate(&d, &c, &key_policy(keys));
        assert_eq!(r, Err(Rejection::NoKeyVerifies { tried }));
    }
}

/// Row 27: damaged signatures and wrong expectations are rejected.
#[test]
fn row27_invalid_variants_rejected() {
    let d = digest(SAMPLE_DIGEST);
    let policy = key_policy(vec![cosign_pub()]);
    let good = valid_signature().annotations[SIGNATURE_ANNOTATION].clone();
    let raw = STANDARD.decode(&good).unwrap();
    let no_key = Err(Rejection::NoKeyVerifies {
        tried: vec![cosign_pub().fingerprint()],
    });

    let check = |sig: &str| verify::verify_candidate(&d, &with_signature(sig), &policy).map(|_| ());
    assert_eq!(check(&good), Ok(()));
    // Line-wrapped base64 is accepted, as Go's decoder ignores CR and LF.
    assert_eq!(
        check(&format!("{}\r\n{}\n", &good[..40], &good[40..])),
        Ok(())
    );
    assert_eq!(
        check(&format!("{} {}", &good[..40], &good[40..])),
        Err(Rejection::BadBase64)
    );
    assert_eq!(check("&"), Err(Rejection::BadBase64));
    assert_eq!(check(&format!("{good}=")), Err(Rejection::BadBase64));
    assert_eq!(check(&good[..good.len() - 1]), Err(Rejection::BadBase64));
    // Truncated by a whole base64 quantum: decodes, does not verify.
    assert_eq!(check(&good[..good.len() - 4]), no_key);
    assert_eq!(check(""), Err(Rejection::MissingSignature));
    assert_eq!(check(&STANDARD.encode("invalid signature")), no_key);
    assert_eq!(check(&STANDARD.encode([raw.clone(), raw].concat())), no_key);

    // Wrong expected digest or identity.
    let other = digest("sha256:0000000000000000000000000000000000000000000000000000000000000000");
    assert_eq!(
        verify::verify_candidate(&other, &valid_signature(), &policy),
        Err(Rejection::DigestMismatch {
            expected: other.to_string(),
            found: SAMPLE_DIGEST.into()
        })
    );
    let wrong_repo = VerificationPolicy {
        identity: IdentityCheck::Repository("192.168.64.2:5000/other".into()),
        ..policy.clone()
    };
    assert!(matches!(
        verify::verify_candidate(&d, &valid_signature(), &wrong_repo),
        Err(Rejection::IdentityMismatch { .. })
    ));
}
