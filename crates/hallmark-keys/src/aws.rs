//! AWS KMS (`awskms://`) and AWS Secrets Manager (`awssm://`) through the official SDK.
//!
//! Configuration is the SDK's: the standard credential chain (environment, shared config and
//! credentials files with `AWS_PROFILE`, web identity, ECS and EC2 instance metadata,
//! `credential_process`; not SSO), `AWS_REGION` / profile region, and `AWS_ENDPOINT_URL`
//! (or `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL_SECRETS_MANAGER`). A key ARN's region is used
//! when no region is configured. Throttling and transient errors are retried by the SDK's
//! standard retry mode: at most 5 attempts with exponential backoff (jittered, 200 ms base,
//! 5 s cap); every attempt has a timeout.
//!
//! KMS signing: messages up to 4096 bytes are sent as `MessageType=RAW` (KMS hashes them);
//! longer ones as `MessageType=DIGEST` with the digest computed here. Every signature is
//! verified against the key's public key before it is used, so a KMS (or emulator) that signs
//! something else fails loudly: moto 5.2.5 signs `sha256(digest)` for `DIGEST`.
//!
//! Secrets Manager values are moved into zeroizing buffers as soon as the SDK hands them over;
//! the SDK's own HTTP response buffers are outside hallmark's control and are not wiped.

use crate::{KeysError, OpenOptions};
use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_kms::{
    error::{ProvideErrorMetadata, SdkError},
    primitives::Blob,
    types::{KeySpec, KeyState, KeyUsageType, MessageType, SigningAlgorithmSpec},
};
use hallmark_core::{KeyAlgorithm, PublicKey, SigningKey};
use std::time::Duration;
use zeroize::Zeroizing;

/// Debug events for every attempt of every AWS call: operation, attempt number, HTTP
/// status, and the error of a failed attempt (the SDK retries; this shows it doing so).
/// Never a request or response body, header or credential.
#[derive(Debug)]
struct LogAttempts {
    backend: &'static str,
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for LogAttempts {
    fn name(&self) -> &'static str {
        "hallmark-log-attempts"
    }

    fn read_after_attempt(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_sdk_kms::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let attempt = cfg
            .load::<aws_smithy_runtime_api::client::retries::RequestAttempts>()
            .map_or(0, |a| a.attempts());
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map_or("?", |m| m.name());
        let status = context.response().map(|r| r.status().as_u16());
        match context.output_or_error() {
            Some(Err(e)) => tracing::debug!(
                backend = self.backend,
                operation,
                attempt,
                status,
                // A service error's text is the SDK's error metadata (request ID and all): the
                // status says enough here, and the final error gives code and message.
                error = if e.is_operation_error() {
                    "service error".to_owned()
                } else {
                    hallmark_core::error::chain(e)
                },
                "AWS request attempt failed"
            ),
            _ => tracing::debug!(
                backend = self.backend,
                operation,
                attempt,
                status,
                "AWS request"
            ),
        }
        Ok(())
    }
}

const KMS: &str = "AWS KMS";
const SM: &str = "AWS Secrets Manager";
/// The largest message KMS signs with `MessageType=RAW`.
pub const MAX_RAW_MESSAGE: usize = 4096;

fn fail(reference: &str, backend: &'static str, reason: impl Into<String>) -> KeysError {
    KeysError::Backend {
        reference: reference.to_owned(),
        backend,
        reason: reason.into(),
    }
}

/// One line for a failed AWS call: the operation and the service's error code and message for
/// a service error, the innermost cause of a dispatch, response or construction failure, "timed
/// out" for a timeout. Never the SDK's `Debug` or `DisplayErrorContext` (raw response,
/// headers, request ID), never an `ErrorMetadata` rendering.
pub(crate) fn sdk_reason<E, R>(operation: &str, e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let root = || hallmark_core::error::root_cause(e).to_string();
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("{operation}: {code}: {message}"),
                (Some(code), None) => format!("{operation}: {code}"),
                (None, Some(message)) => format!("{operation}: {message}"),
                (None, None) => format!("{operation}: the service answered with an error"),
            }
        }
        SdkError::TimeoutError(_) => format!("{operation}: timed out"),
        SdkError::DispatchFailure(_) => {
            format!("{operation}: cannot reach the service: {}", root())
        }
        SdkError::ResponseError(_) => format!("{operation}: unreadable response: {}", root()),
        SdkError::ConstructionFailure(_) => {
            format!("{operation}: the request was not sent: {}", root())
        }
        _ => format!("{operation}: {}", root()),
    }
}

/// The region of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:...`).
fn arn_region(id: &str) -> Option<&str> {
    let mut parts = id.strip_prefix("arn:")?.split(':');
    let _partition = parts.next()?;
    let _service = parts.next()?;
    parts.next().filter(|r| !r.is_empty())
}

async fn sdk_config(region: Option<&str>, endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(5)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(5)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(20))
                .operation_timeout(Duration::from_secs(90))
                .build(),
        );
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(format!("https://{e}"));
    }
    let config = loader.load().await;
    match (config.region(), region) {
        (_, Some(r)) => config
            .into_builder()
            .region(Region::new(r.to_owned()))
            .build(),
        _ => config,
    }
}

/// A KMS asymmetric signing key.
pub(crate) struct KmsKey {
    client: aws_sdk_kms::Client,
    key_id: String,
    algorithm: SigningAlgorithmSpec,
    hash: &'static aws_lc_rs::digest::Algorithm,
    reference: String,
}

async fn kms_client(endpoint: Option<&str>, key_id: &str) -> aws_sdk_kms::Client {
    let config = sdk_config(None, endpoint).await;
    let config = match (config.region(), arn_region(key_id)) {
        (None, Some(r)) => config
            .into_builder()
            .region(Region::new(r.to_owned()))
            .build(),
        _ => config,
    };
    tracing::debug!(
        backend = KMS,
        region = config.region().map(|r| r.as_ref()),
        endpoint = endpoint.unwrap_or("(SDK default)"),
        "AWS KMS client"
    );
    let config = aws_sdk_kms::config::Builder::from(&config)
        .interceptor(LogAttempts { backend: KMS })
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

impl KmsKey {
    /// Look the key up (`DescribeKey`), check it is an enabled `SIGN_VERIFY` key of a spec
    /// hallmark signs with, and fetch its public key (`GetPublicKey`).
    pub(crate) async fn open(
        endpoint: Option<&str>,
        key_id: &str,
        reference: &str,
    ) -> Result<(Self, PublicKey), KeysError> {
        let client = kms_client(endpoint, key_id).await;
        let described = client
            .describe_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| fail(reference, KMS, sdk_reason("DescribeKey", &e)))?;
        let meta = described
            .key_metadata()
            .ok_or_else(|| fail(reference, KMS, "DescribeKey returned no KeyMetadata"))?;
        match meta.key_usage() {
            Some(KeyUsageType::SignVerify) => {}
            other => {
                return Err(fail(
                    reference,
                    KMS,
                    format!(
                        "expected a key with KeyUsage SIGN_VERIFY, found {}",
                        other.map(|u| u.as_str()).unwrap_or("none")
                    ),
                ));
            }
        }
        if let Some(state) = meta.key_state()
            && *state != KeyState::Enabled
        {
            return Err(fail(
                reference,
                KMS,
                format!("expected an Enabled key, found KeyState {}", state.as_str()),
            ));
        }
        #[allow(deprecated)]
        let spec = meta
            .key_spec()
            .map(|s| s.as_str().to_owned())
            .or_else(|| {
                meta.customer_master_key_spec()
                    .map(|s| s.as_str().to_owned())
            })
            .unwrap_or_default();
        let (algorithm, hash, expected) = match KeySpec::from(spec.as_str()) {
            KeySpec::EccNistP256 => (
                SigningAlgorithmSpec::EcdsaSha256,
                &aws_lc_rs::digest::SHA256,
                KeyAlgorithm::EcdsaP256,
            ),
            KeySpec::EccNistP384 => (
                SigningAlgorithmSpec::EcdsaSha384,
                &aws_lc_rs::digest::SHA384,
                KeyAlgorithm::EcdsaP384,
            ),
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => (
                SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
                &aws_lc_rs::digest::SHA256,
                KeyAlgorithm::Rsa,
            ),
            _ => {
                return Err(fail(
                    reference,
                    KMS,
                    format!(
                        "expected KeySpec ECC_NIST_P256, ECC_NIST_P384 or RSA_2048/3072/4096, found {}",
                        if spec.is_empty() { "none" } else { &spec }
                    ),
                ));
            }
        };
        let key_arn = meta.arn().unwrap_or(key_id).to_owned();
        tracing::debug!(reference, key_arn, key_spec = spec, "AWS KMS key found");
        let got = client
            .get_public_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| fail(reference, KMS, sdk_reason("GetPublicKey", &e)))?;
        let der = got
            .public_key()
            .ok_or_else(|| fail(reference, KMS, "GetPublicKey returned no PublicKey"))?;
        let public = PublicKey::from_spki_der_named(der.as_ref(), "the KMS public key").map_err(
            |source| KeysError::Key {
                reference: reference.to_owned(),
                source,
            },
        )?;
        if public.algorithm() != expected {
            return Err(fail(
                reference,
                KMS,
                format!(
                    "KeySpec {spec} but the public key is {}",
                    public.algorithm().name()
                ),
            ));
        }
        Ok((
            Self {
                client,
                key_id: key_arn,
                algorithm,
                hash,
                reference: reference.to_owned(),
            },
            public,
        ))
    }

    pub(crate) async fn sign(
        &self,
        message: &[u8],
        public: &PublicKey,
    ) -> Result<Vec<u8>, KeysError> {
        let (kind, input) = if message.len() <= MAX_RAW_MESSAGE {
            (MessageType::Raw, message.to_vec())
        } else {
            (
                MessageType::Digest,
                aws_lc_rs::digest::digest(self.hash, message)
                    .as_ref()
                    .to_vec(),
            )
        };
        tracing::debug!(
            reference = self.reference,
            message_type = kind.as_str(),
            signing_algorithm = self.algorithm.as_str(),
            "AWS KMS Sign"
        );
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(input))
            .message_type(kind.clone())
            .signing_algorithm(self.algorithm.clone())
            .send()
            .await
            .map_err(|e| fail(&self.reference, KMS, sdk_reason("Sign", &e)))?;
        let signature = out
            .signature()
            .ok_or_else(|| fail(&self.reference, KMS, "Sign returned no Signature"))?
            .as_ref()
            .to_vec();
        let hint = if kind == MessageType::Digest {
            "; MessageType=DIGEST: the service may have hashed the digest again (moto 5.2.5 does)"
        } else {
            ""
        };
        crate::signer::check_remote(public, message, &signature, &self.reference, KMS, hint)?;
        Ok(signature)
    }
}

/// `key generate --kms awskms://[ENDPOINT]/alias/NAME` (or a key ID, which is ignored as a
/// name): `CreateKey` ECC_NIST_P256 SIGN_VERIFY, then `CreateAlias` when an alias is named.
pub(crate) async fn create_kms_key(
    endpoint: Option<&str>,
    key_id: &str,
    reference: &str,
) -> Result<PublicKey, KeysError> {
    let client = kms_client(endpoint, key_id).await;
    let alias = key_id
        .strip_prefix("alias/")
        .map(|_| key_id.to_owned())
        .or_else(|| {
            key_id
                .split_once(":alias/")
                .map(|(_, n)| format!("alias/{n}"))
        });
    let Some(alias) = alias else {
        return Err(KeysError::InvalidReference {
            reference: reference.to_owned(),
            reason: "key generate --kms awskms://: expected alias/NAME to name the new key (KMS assigns key IDs)".to_owned(),
        });
    };
    tracing::debug!(reference, alias, "AWS KMS CreateKey and CreateAlias");
    let created = client
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .description("hallmark signing key")
        .send()
        .await
        .map_err(|e| fail(reference, KMS, sdk_reason("CreateKey", &e)))?;
    let new_id = created
        .key_metadata()
        .map(|m| m.key_id().to_owned())
        .ok_or_else(|| fail(reference, KMS, "CreateKey returned no KeyMetadata"))?;
    client
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&new_id)
        .send()
        .await
        .map_err(|e| {
            fail(
                reference,
                KMS,
                format!(
                    "{} (the key {new_id} was created, without the alias)",
                    sdk_reason("CreateAlias", &e)
                ),
            )
        })?;
    let (_, public) = KmsKey::open(endpoint, &new_id, reference).await?;
    Ok(public)
}

/// Fetch a secret's value into zeroizing memory (`SecretString`, else `SecretBinary`).
async fn secret_value(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
    what: &str,
    reference: &str,
) -> Result<Zeroizing<Vec<u8>>, KeysError> {
    tracing::debug!(
        reference,
        what,
        secret_id = id,
        "AWS Secrets Manager GetSecretValue"
    );
    let mut out = client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| {
            fail(
                reference,
                SM,
                sdk_reason(&format!("GetSecretValue of the {what}"), &e),
            )
        })?;
    if let Some(s) = out.secret_string.take() {
        tracing::debug!(
            reference,
            what,
            form = "SecretString",
            "secret value received"
        );
        return Ok(Zeroizing::new(s.into_bytes()));
    }
    if let Some(b) = out.secret_binary.take() {
        tracing::debug!(
            reference,
            what,
            form = "SecretBinary",
            "secret value received"
        );
        return Ok(Zeroizing::new(b.into_inner()));
    }
    Err(fail(
        reference,
        SM,
        format!("the {what} has neither SecretString nor SecretBinary"),
    ))
}

/// `awssm://`: fetch the (encrypted) PEM key and its passphrase, decrypt in memory. The
/// fetched text and passphrase are zeroized when this returns; the key lives in the returned
/// [`SigningKey`] (zeroized on drop).
pub(crate) async fn fetch_secret_key(
    secret: &str,
    passphrase_secret: Option<&str>,
    region: Option<&str>,
    reference: &str,
    options: &OpenOptions<'_>,
) -> Result<SigningKey, KeysError> {
    let region = region.or_else(|| arn_region(secret));
    let config = sdk_config(region, None).await;
    tracing::debug!(
        backend = SM,
        region = config.region().map(|r| r.as_ref()),
        "AWS Secrets Manager client"
    );
    let client = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(&config)
            .interceptor(LogAttempts { backend: SM })
            .build(),
    );
    let pem = secret_value(&client, secret, "key secret", reference).await?;
    let pem = Zeroizing::new(
        String::from_utf8(pem.to_vec())
            .map_err(|_| fail(reference, SM, "the key secret is not UTF-8 PEM text"))?,
    );
    let encrypted = hallmark_core::keyfile::is_encrypted_cosign_key(&pem);
    tracing::debug!(
        reference,
        encrypted,
        passphrase_from = match (encrypted, passphrase_secret) {
            (false, _) => "none needed",
            (true, Some(_)) => "passphrase secret",
            (true, None) => "passphrase source (environment or prompt)",
        },
        "key secret fetched"
    );
    if encrypted && let Some(name) = passphrase_secret {
        let pass = secret_value(&client, name, "passphrase secret", reference).await?;
        let fixed = |_: &str| Ok(hallmark_core::Passphrase::new(pass.to_vec()));
        return crate::file::decode_private(
            &pem,
            reference,
            &OpenOptions {
                passphrase: &fixed,
                vars: options.vars,
            },
        );
    }
    crate::file::decode_private(&pem, reference, options)
}
