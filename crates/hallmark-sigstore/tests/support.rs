//! Shared helpers: vector paths, keys, `dir:` images.

use hallmark_core::{Digest, PublicKey};
use hallmark_sigstore::{
    IdentityCheck, SignatureCandidate, VerificationPolicy, VerifiedSignature, VerifyError,
    error::Rejection, verify,
};
use std::path::PathBuf;

/// containers/image `signature/fixtures/`.
pub(crate) const CI_FIXTURES: &str = "containers-image/signature/fixtures";
/// containers/image `signature/internal/testdata/`.
pub(crate) const CI_TESTDATA: &str = "containers-image/signature/internal/testdata";

/// The repository cosign signed in most containers/image fixtures.
pub(crate) const SAMPLE_REPO: &str = "192.168.64.2:5000/cosign-signed-single-sample";
/// The manifest digest of `dir-img-cosign-valid`.
pub(crate) const SAMPLE_DIGEST: &str =
    "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00";

/// Path of a file under `tests/data/vectors/`.
pub(crate) fn vector_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/vectors")
        .join(rel)
}

/// Bytes of a file under `tests/data/vectors/`.
pub(crate) fn vector(rel: &str) -> Vec<u8> {
    let path = vector_path(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Text of a file under `tests/data/vectors/`.
pub(crate) fn vector_text(rel: &str) -> String {
    String::from_utf8(vector(rel)).unwrap()
}

/// A public key from a PEM file under `tests/data/vectors/`.
pub(crate) fn key(rel: &str) -> PublicKey {
    PublicKey::from_pem(&vector_text(rel), rel).unwrap()
}

/// containers/image `fixtures/cosign.pub`.
pub(crate) fn cosign_pub() -> PublicKey {
    key(&format!("{CI_FIXTURES}/cosign.pub"))
}

/// containers/image `fixtures/cosign2.pub`.
pub(crate) fn cosign2_pub() -> PublicKey {
    key(&format!("{CI_FIXTURES}/cosign2.pub"))
}

/// containers/image `fixtures/rekor.pub`.
pub(crate) fn rekor_pub() -> PublicKey {
    key(&format!("{CI_FIXTURES}/rekor.pub"))
}

/// A digest from a string.
pub(crate) fn digest(s: &str) -> Digest {
    Digest::parse(s).unwrap()
}

/// A containers/image `dir:` image: its manifest (if any) and its signature files.
pub(crate) struct DirImage {
    /// `manifest.json`, if present.
    pub(crate) manifest: Option<Vec<u8>>,
    /// Sigstore signature files, parsed.
    pub(crate) candidates: Vec<SignatureCandidate>,
    /// Signature files that are not sigstore signatures (GPG).
    pub(crate) other_signatures: usize,
}

/// Parse one `signature-N` file, which must be a sigstore signature file.
pub(crate) fn candidate_from_file(rel: &str) -> SignatureCandidate {
    let name = rel.rsplit('/').next().unwrap();
    SignatureCandidate::from_containers_dir_file(name, &vector(rel))
        .unwrap_or_else(|| panic!("{rel} is not a sigstore signature file"))
        .unwrap()
}

impl DirImage {
    /// Load `fixtures/<name>/`.
    pub(crate) fn load(name: &str) -> Self {
        let dir = vector_path(&format!("{CI_FIXTURES}/{name}"));
        assert!(dir.is_dir(), "{} missing", dir.display());
        let manifest = std::fs::read(dir.join("manifest.json")).ok();
        let mut candidates = Vec::new();
        let mut other_signatures = 0;
        for n in 1.. {
            let file = format!("signature-{n}");
            let Ok(bytes) = std::fs::read(dir.join(&file)) else {
                break;
            };
            match SignatureCandidate::from_containers_dir_file(&file, &bytes) {
                Some(c) => candidates.push(c.unwrap()),
                None => other_signatures += 1,
            }
        }
        DirImage {
            manifest,
            candidates,
            other_signatures,
        }
    }

    /// The manifest digest as hallmark computes it (sha256 of the bytes); an error when the
    /// image has no manifest.
    pub(crate) fn digest(&self) -> Result<Digest, String> {
        self.manifest
            .as_deref()
            .map(Digest::sha256_of)
            .ok_or_else(|| "the image has no manifest.json".to_owned())
    }

    /// Verify with `policy` (the digest must be computable).
    pub(crate) fn verify(
        &self,
        image: &str,
        policy: &VerificationPolicy,
    ) -> Result<Vec<VerifiedSignature>, VerifyError> {
        verify::verify_signatures(image, &self.digest().unwrap(), &self.candidates, policy)
    }
}

/// A policy with `keys` and a repository check.
pub(crate) fn repo_policy(keys: Vec<PublicKey>, repository: &str) -> VerificationPolicy {
    VerificationPolicy {
        keys,
        identity: IdentityCheck::Repository(repository.to_owned()),
        ..VerificationPolicy::default()
    }
}

/// A policy with `keys` only.
pub(crate) fn key_policy(keys: Vec<PublicKey>) -> VerificationPolicy {
    VerificationPolicy {
        keys,
        ..VerificationPolicy::default()
    }
}

/// The per-candidate rejections of a failed verification (panics on success or NoSignatures).
pub(crate) fn rejections(r: Result<Vec<VerifiedSignature>, VerifyError>) -> Vec<Rejection> {
    match r {
        Err(VerifyError::NoneValid { rejections, .. }) => {
            rejections.into_iter().map(|(_, r)| r).collect()
        }
        other => panic!("expected NoneValid, got {other:?}"),
    }
}
