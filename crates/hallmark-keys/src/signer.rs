//! One signer over every backend.

use crate::{KeyRef, KeysError};
use hallmark_core::{Passphrase, PublicKey, SigningKey};
use std::future::Future;

/// Something that signs messages the way cosign does (ECDSA DER over SHA-256/384, RSA PKCS#1
/// v1.5 SHA-256, pure Ed25519) and knows its public key.
///
/// [`SigningKey`] signs in place (no task switch, no allocation beyond the signature);
/// [`KeySigner`] also reaches tokens, KMS and Vault.
pub trait Signer: Send + Sync {
    /// The public key signatures verify with.
    fn public_key(&self) -> &PublicKey;
    /// Sign `message` (the backend hashes it with the key's hash).
    fn sign(&self, message: &[u8]) -> impl Future<Output = Result<Vec<u8>, KeysError>> + Send;
}

impl Signer for SigningKey {
    fn public_key(&self) -> &PublicKey {
        SigningKey::public_key(self)
    }
    fn sign(&self, message: &[u8]) -> impl Future<Output = Result<Vec<u8>, KeysError>> + Send {
        std::future::ready(
            SigningKey::sign(self, message).map_err(|source| KeysError::Key {
                reference: "private key".to_owned(),
                source,
            }),
        )
    }
}

/// Where passphrases come from when a key needs one. The function gets what the passphrase is
/// for (a redacted reference) and returns it, or a reason naming what to set.
pub type PassphraseFn<'a> = dyn Fn(&str) -> Result<Passphrase, String> + Send + Sync + 'a;

/// Where settings such as `VAULT_ADDR` or `HALLMARK_PKCS11_PIN` are looked up.
pub type VarsFn<'a> = dyn Fn(&str) -> Option<String> + Send + Sync + 'a;

/// How [`KeyRef::open`] gets what is not in the reference.
pub struct OpenOptions<'a> {
    /// Passphrases of encrypted key files and of `awssm://` keys without a passphrase secret.
    pub passphrase: &'a PassphraseFn<'a>,
    /// Settings of the Vault and PKCS#11 backends (`VAULT_ADDR`, `VAULT_TOKEN`,
    /// `VAULT_NAMESPACE`, `TRANSIT_SECRET_ENGINE_PATH`, `HALLMARK_PKCS11_PIN`,
    /// `HALLMARK_PKCS11_MODULE`); `None` reads the process environment. The AWS SDK and the
    /// PKCS#11 module itself read the process environment.
    pub vars: Option<&'a VarsFn<'a>>,
}

impl OpenOptions<'_> {
    /// A setting, from `vars` or the process environment; empty counts as unset.
    #[cfg_attr(not(any(feature = "pkcs11", feature = "vault")), allow(dead_code))]
    pub(crate) fn var(&self, name: &str) -> Option<String> {
        match self.vars {
            Some(f) => f(name),
            None => std::env::var(name).ok(),
        }
        .filter(|v| !v.is_empty())
    }
}

/// The environment variables [`OpenOptions::from_env`] reads a passphrase from, in order.
pub const PASSPHRASE_VARS: [&str; 2] = ["HALLMARK_PASSWORD", "COSIGN_PASSWORD"];

fn env_passphrase(purpose: &str) -> Result<Passphrase, String> {
    use std::os::unix::ffi::OsStringExt as _;
    for var in PASSPHRASE_VARS {
        if let Some(v) = std::env::var_os(var) {
            return Ok(Passphrase::new(v.into_vec()));
        }
    }
    Err(format!(
        "a passphrase is needed for {purpose}: expected HALLMARK_PASSWORD or COSIGN_PASSWORD in the environment, found neither"
    ))
}

impl OpenOptions<'static> {
    /// Passphrases from `HALLMARK_PASSWORD` / `COSIGN_PASSWORD` only.
    pub fn from_env() -> Self {
        Self {
            passphrase: &env_passphrase,
            vars: None,
        }
    }
}

pub(crate) enum Backend {
    Local(SigningKey),
    #[cfg(feature = "pkcs11")]
    Pkcs11(crate::pkcs11::TokenKey),
    #[cfg(feature = "aws")]
    Kms(crate::aws::KmsKey),
    #[cfg(feature = "vault")]
    Vault(crate::vault::TransitKey),
}

/// A key opened from a [`KeyRef`]: a local key (file, `env://`, or decrypted from `awssm://`)
/// or a handle on a key that stays in its token, KMS or Vault.
pub struct KeySigner {
    reference: String,
    scheme: &'static str,
    public: PublicKey,
    backend: Backend,
}

impl KeySigner {
    pub(crate) fn new(reference: &KeyRef, public: PublicKey, backend: Backend) -> Self {
        tracing::debug!(
            reference = %reference,
            backend = reference.scheme(),
            key_type = public.algorithm().name(),
            fingerprint = %public.fingerprint(),
            in_memory = matches!(backend, Backend::Local(_)),
            "signing key opened"
        );
        Self {
            reference: reference.to_string(),
            scheme: reference.scheme(),
            public,
            backend,
        }
    }

    /// Wrap a key already in memory.
    pub fn from_signing_key(key: SigningKey, reference: impl Into<String>) -> Self {
        Self {
            reference: reference.into(),
            scheme: "file",
            public: key.public_key().clone(),
            backend: Backend::Local(key),
        }
    }

    /// The reference it was opened from, redacted (no PIN).
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The backend's short name (`file`, `env`, `pkcs11`, `awskms`, `awssm`, `hashivault`).
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// Whether the private key is in this process's memory (file, env, awssm).
    pub fn is_local(&self) -> bool {
        matches!(self.backend, Backend::Local(_))
    }
}

impl std::fmt::Debug for KeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySigner")
            .field("reference", &self.reference)
            .field("algorithm", &self.public.algorithm().name())
            .field("fingerprint", &self.public.fingerprint())
            .finish_non_exhaustive()
    }
}

impl Signer for KeySigner {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    #[allow(clippy::manual_async_fn)]
    fn sign(&self, message: &[u8]) -> impl Future<Output = Result<Vec<u8>, KeysError>> + Send {
        async move {
            tracing::trace!(
                reference = self.reference,
                backend = self.scheme,
                message_bytes = message.len(),
                "signing"
            );
            match &self.backend {
                Backend::Local(key) => key.sign(message).map_err(|source| KeysError::Key {
                    reference: self.reference.clone(),
                    source,
                }),
                #[cfg(feature = "pkcs11")]
                Backend::Pkcs11(key) => key.sign(message, &self.public).await,
                #[cfg(feature = "aws")]
                Backend::Kms(key) => key.sign(message, &self.public).await,
                #[cfg(feature = "vault")]
                Backend::Vault(key) => key.sign(message, &self.public).await,
            }
        }
    }
}

/// Check a signature a remote backend returned before anyone sees it.
#[allow(dead_code)]
pub(crate) fn check_remote(
    public: &PublicKey,
    message: &[u8],
    signature: &[u8],
    reference: &str,
    backend: &'static str,
    hint: &str,
) -> Result<(), KeysError> {
    public
        .verify(message, signature)
        .map_err(|e| KeysError::BadSignature {
            reference: reference.to_owned(),
            backend,
            reason: format!("{e}{hint}"),
        })
}

impl KeyRef {
    /// Open the key for signing. Local keys are read (and decrypted) now; remote keys are
    /// looked up and their public key fetched, so a missing key fails before any signing.
    pub async fn open(&self, options: &OpenOptions<'_>) -> Result<KeySigner, KeysError> {
        tracing::debug!(reference = %self, backend = self.scheme(), "opening signing key");
        match self {
            Self::File(_) | Self::Env(_) => {
                let key = crate::file::load_private(self, options)?;
                Ok(KeySigner::new(
                    self,
                    key.public_key().clone(),
                    Backend::Local(key),
                ))
            }
            #[cfg(feature = "pkcs11")]
            Self::Pkcs11(uri) => {
                let (key, public) =
                    crate::pkcs11::TokenKey::open(uri, &self.to_string(), options).await?;
                Ok(KeySigner::new(self, public, Backend::Pkcs11(key)))
            }
            #[cfg(feature = "aws")]
            Self::AwsKms { endpoint, key_id } => {
                let (key, public) =
                    crate::aws::KmsKey::open(endpoint.as_deref(), key_id, &self.to_string())
                        .await?;
                Ok(KeySigner::new(self, public, Backend::Kms(key)))
            }
            #[cfg(feature = "aws")]
            Self::AwsSecret {
                secret,
                passphrase_secret,
                region,
            } => {
                let key = crate::aws::fetch_secret_key(
                    secret,
                    passphrase_secret.as_deref(),
                    region.as_deref(),
                    &self.to_string(),
                    options,
                )
                .await?;
                Ok(KeySigner::new(
                    self,
                    key.public_key().clone(),
                    Backend::Local(key),
                ))
            }
            #[cfg(feature = "vault")]
            Self::Vault { key } => {
                let (key, public) =
                    crate::vault::TransitKey::open(key, &self.to_string(), options).await?;
                Ok(KeySigner::new(self, public, Backend::Vault(key)))
            }
            #[allow(unreachable_patterns)]
            _ => Err(self.not_built()),
        }
    }

    /// The public key, for verifiers: a `PUBLIC KEY` PEM file or variable is read as such
    /// (a private key file is opened); remote keys are asked for theirs (no PIN or passphrase
    /// needed where the backend allows).
    pub async fn public_key(&self, options: &OpenOptions<'_>) -> Result<PublicKey, KeysError> {
        tracing::debug!(reference = %self, backend = self.scheme(), "reading public key");
        match self {
            Self::File(_) | Self::Env(_) => crate::file::load_public(self, options),
            #[cfg(feature = "pkcs11")]
            Self::Pkcs11(uri) => crate::pkcs11::public_key(uri, &self.to_string(), options).await,
            #[cfg(feature = "aws")]
            Self::AwsKms { endpoint, key_id } => {
                let (_, public) =
                    crate::aws::KmsKey::open(endpoint.as_deref(), key_id, &self.to_string())
                        .await?;
                Ok(public)
            }
            #[cfg(feature = "vault")]
            Self::Vault { key } => {
                let (_, public) =
                    crate::vault::TransitKey::open(key, &self.to_string(), options).await?;
                Ok(public)
            }
            _ => Ok(self.open(options).await?.public_key().clone()),
        }
    }

    /// Create the key inside its token, KMS or Vault (an EC P-256 signing key) and return its
    /// public key. Files and secrets are not created here.
    #[cfg_attr(
        not(any(feature = "pkcs11", feature = "vault")),
        allow(unused_variables)
    )]
    pub async fn generate(&self, options: &OpenOptions<'_>) -> Result<PublicKey, KeysError> {
        tracing::debug!(reference = %self, backend = self.scheme(), "creating key in backend");
        match self {
            #[cfg(feature = "pkcs11")]
            Self::Pkcs11(uri) => crate::pkcs11::generate(uri, &self.to_string(), options).await,
            #[cfg(feature = "aws")]
            Self::AwsKms { endpoint, key_id } => {
                crate::aws::create_kms_key(endpoint.as_deref(), key_id, &self.to_string()).await
            }
            #[cfg(feature = "vault")]
            Self::Vault { key } => crate::vault::create_key(key, &self.to_string(), options).await,
            _ => Err(KeysError::Unsupported {
                reference: self.to_string(),
                reason: format!(
                    "key generate --kms creates keys in pkcs11:, awskms:// and hashivault:// backends, not {}",
                    self.scheme()
                ),
            }),
        }
    }

    #[allow(dead_code)]
    fn not_built(&self) -> KeysError {
        KeysError::Unsupported {
            reference: self.to_string(),
            reason: format!(
                "this build of hallmark-keys has no {} backend (cargo feature)",
                self.scheme()
            ),
        }
    }
}
