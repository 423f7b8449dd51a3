//! HashiCorp Vault transit keys (`hashivault://KEY`) over Vault's HTTP API (transit secrets
//! engine, API as documented for Vault 1.x): `GET /v1/{mount}/keys/{name}` (type, latest
//! version, public keys), `POST /v1/{mount}/sign/{name}` and `POST /v1/{mount}/keys/{name}`
//! (create).
//!
//! Environment: `VAULT_ADDR`, `VAULT_TOKEN` (sent as `X-Vault-Token`), optional
//! `VAULT_NAMESPACE`, and `TRANSIT_SECRET_ENGINE_PATH` (cosign's name for the mount; default
//! `transit`). Key types: `ecdsa-p256` (sha2-256), `ecdsa-p384` (sha2-384), `rsa-2048/3072/4096`
//! (sha2-256, `signature_algorithm=pkcs1v15`), `ed25519`. Signatures are requested as ASN.1
//! (`marshaling_algorithm=asn1`) and verified against the public key before use. 429 and 5xx
//! answers and connection failures are retried at most 4 times with backoff. The token is held
//! in a zeroizing buffer; the copy reqwest makes for the request header is not wiped.

use crate::{KeysError, OpenOptions};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{KeyAlgorithm, PublicKey};
use serde_json::{Value, json};
use std::time::Duration;
use zeroize::Zeroizing;

const BACKEND: &str = "Vault transit";
const RETRIES: u32 = 4;
const MAX_RESPONSE: usize = 1 << 20;

fn fail(reference: &str, reason: impl Into<String>) -> KeysError {
    KeysError::Backend {
        reference: reference.to_owned(),
        backend: BACKEND,
        reason: reason.into(),
    }
}

/// A Vault transit key.
pub(crate) struct TransitKey {
    client: reqwest::Client,
    addr: String,
    token: Zeroizing<String>,
    namespace: Option<String>,
    mount: String,
    name: String,
    version: u64,
    hash: Option<&'static str>,
    rsa: bool,
    reference: String,
}

struct Conn {
    client: reqwest::Client,
    addr: String,
    token: Zeroizing<String>,
    namespace: Option<String>,
    mount: String,
}

fn connect(reference: &str, options: &OpenOptions<'_>) -> Result<Conn, KeysError> {
    let need = |var: &str| {
        options.var(var).ok_or_else(|| KeysError::InvalidReference {
            reference: reference.to_owned(),
            reason: format!("expected {var} in the environment for hashivault://, found it unset"),
        })
    };
    let addr = need("VAULT_ADDR")?.trim_end_matches('/').to_owned();
    let token = Zeroizing::new(need("VAULT_TOKEN")?);
    let mount = options
        .var("TRANSIT_SECRET_ENGINE_PATH")
        .unwrap_or_else(|| "transit".to_owned())
        .trim_matches('/')
        .to_owned();
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| fail(reference, format!("HTTP client: {}", transport_reason(e))))?;
    Ok(Conn {
        client,
        addr,
        token,
        namespace: options.var("VAULT_NAMESPACE"),
        mount,
    })
}

/// A reqwest error as its innermost cause ("Connection refused (os error 111)"): the caller's
/// message already names the method and URL, reqwest's own text would repeat the URL.
fn transport_reason(e: reqwest::Error) -> String {
    let e = e.without_url();
    hallmark_core::error::root_cause(&e).to_string()
}

/// One Vault call with bounded retries; returns the `data` object of the answer (or `Null`
/// for 204). Errors carry Vault's `errors` list, never the token.
async fn call(
    conn: &Conn,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
    reference: &str,
) -> Result<Value, KeysError> {
    let url = format!("{}/v1/{}/{path}", conn.addr, conn.mount);
    let mut delay = Duration::from_millis(100);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut token =
            reqwest::header::HeaderValue::from_str(conn.token.as_str()).map_err(|_| {
                fail(
                    reference,
                    "VAULT_TOKEN holds characters not allowed in a header",
                )
            })?;
        token.set_sensitive(true);
        let mut req = conn
            .client
            .request(method.clone(), &url)
            .header("X-Vault-Token", token);
        if let Some(ns) = &conn.namespace {
            req = req.header("X-Vault-Namespace", ns);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let retryable = |what: String| -> Result<String, KeysError> {
            if attempt > RETRIES {
                Err(fail(
                    reference,
                    format!("{method} {url}: {what} (gave up after {attempt} attempts)"),
                ))
            } else {
                tracing::debug!(
                    reference,
                    %method,
                    %url,
                    attempt,
                    error = %what,
                    "Vault transit request failed; retrying"
                );
                Ok(what)
            }
        };
        match req.send().await {
            Err(e) => {
                retryable(format!("request failed: {}", transport_reason(e)))?;
            }
            Ok(resp) => {
                let status = resp.status();
                tracing::debug!(
                    reference,
                    %method,
                    %url,
                    status = status.as_u16(),
                    attempt,
                    "Vault transit request"
                );
                // Read at most MAX_RESPONSE bytes of the answer.
                let mut resp = resp;
                let mut bytes = Vec::new();
                let read = loop {
                    match resp.chunk().await {
                        Ok(Some(c)) if bytes.len() + c.len() > MAX_RESPONSE => {
                            return Err(fail(
                                reference,
                                format!("{method} {url}: answer over 1 MiB"),
                            ));
                        }
                        Ok(Some(c)) => bytes.extend_from_slice(&c),
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                };
                if let Err(e) = read {
                    retryable(format!("reading the answer: {}", transport_reason(e)))?;
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    continue;
                }
                if status == reqwest::StatusCode::NO_CONTENT {
                    return Ok(Value::Null);
                }
                let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                if status.is_success() {
                    return Ok(json.get("data").cloned().unwrap_or(Value::Null));
                }
                let errors = json
                    .get("errors")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .unwrap_or_default();
                let what = format!("{method} {url}: HTTP {status}: {errors}");
                if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                    retryable(what)?;
                } else {
                    return Err(fail(reference, what));
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
}

fn key_params(kind: &str) -> Option<(KeyAlgorithm, Option<&'static str>, bool)> {
    Some(match kind {
        "ecdsa-p256" => (KeyAlgorithm::EcdsaP256, Some("sha2-256"), false),
        "ecdsa-p384" => (KeyAlgorithm::EcdsaP384, Some("sha2-384"), false),
        "rsa-2048" | "rsa-3072" | "rsa-4096" => (KeyAlgorithm::Rsa, Some("sha2-256"), true),
        "ed25519" => (KeyAlgorithm::Ed25519, None, false),
        _ => return None,
    })
}

impl TransitKey {
    /// Read the key (`GET /v1/{mount}/keys/{name}`): its type and the public key of its
    /// latest version.
    pub(crate) async fn open(
        name: &str,
        reference: &str,
        options: &OpenOptions<'_>,
    ) -> Result<(Self, PublicKey), KeysError> {
        let conn = connect(reference, options)?;
        let data = call(
            &conn,
            reqwest::Method::GET,
            &format!("keys/{name}"),
            None,
            reference,
        )
        .await?;
        let kind = data.get("type").and_then(Value::as_str).unwrap_or_default();
        let (expected, hash, rsa) = key_params(kind).ok_or_else(|| {
            fail(
                reference,
                format!(
                    "expected a signing key (ecdsa-p256, ecdsa-p384, rsa-2048/3072/4096, ed25519), found type {kind:?}"
                ),
            )
        })?;
        let version = data
            .get("latest_version")
            .and_then(Value::as_u64)
            .ok_or_else(|| fail(reference, "the key has no latest_version"))?;
        tracing::debug!(reference, key_type = kind, version, mount = %conn.mount, "Vault transit key found");
        let pem = data
            .get("keys")
            .and_then(|k| k.get(version.to_string()))
            .and_then(|k| k.get("public_key"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                fail(
                    reference,
                    format!("expected keys.\"{version}\".public_key in the key, found none"),
                )
            })?;
        let public = if expected == KeyAlgorithm::Ed25519 {
            // Vault gives Ed25519 public keys as base64 of the 32 raw bytes.
            let raw = STANDARD
                .decode(pem.trim())
                .map_err(|_| fail(reference, "ed25519 public_key is not base64"))?;
            let mut spki = vec![
                0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
            ];
            spki.extend_from_slice(&raw);
            PublicKey::from_spki_der_named(&spki, "Vault's public key")
        } else {
            PublicKey::from_pem(pem, "Vault's public key")
        }
        .map_err(|source| KeysError::Key {
            reference: reference.to_owned(),
            source,
        })?;
        if public.algorithm() != expected {
            return Err(fail(
                reference,
                format!(
                    "type {kind} but the public key is {}",
                    public.algorithm().name()
                ),
            ));
        }
        let Conn {
            client,
            addr,
            token,
            namespace,
            mount,
        } = conn;
        Ok((
            Self {
                client,
                addr,
                token,
                namespace,
                mount,
                name: name.to_owned(),
                version,
                hash,
                rsa,
                reference: reference.to_owned(),
            },
            public,
        ))
    }

    /// `POST /v1/{mount}/sign/{name}` with the latest version, ASN.1 signatures.
    pub(crate) async fn sign(
        &self,
        message: &[u8],
        public: &PublicKey,
    ) -> Result<Vec<u8>, KeysError> {
        let mut body = json!({
            "input": STANDARD.encode(message),
            "key_version": self.version,
            "marshaling_algorithm": "asn1",
        });
        if let Some(h) = self.hash {
            body["hash_algorithm"] = json!(h);
        }
        if self.rsa {
            body["signature_algorithm"] = json!("pkcs1v15");
        }
        let conn = Conn {
            client: self.client.clone(),
            addr: self.addr.clone(),
            token: self.token.clone(),
            namespace: self.namespace.clone(),
            mount: self.mount.clone(),
        };
        let data = call(
            &conn,
            reqwest::Method::POST,
            &format!("sign/{}", self.name),
            Some(&body),
            &self.reference,
        )
        .await?;
        let sig = data
            .get("signature")
            .and_then(Value::as_str)
            .ok_or_else(|| fail(&self.reference, "the sign answer has no data.signature"))?;
        let b64 = sig
            .strip_prefix("vault:v")
            .and_then(|rest| rest.split_once(':'))
            .map(|(_, b)| b)
            .ok_or_else(|| {
                fail(
                    &self.reference,
                    "expected a signature of the form vault:vN:BASE64",
                )
            })?;
        let signature = STANDARD
            .decode(b64)
            .map_err(|_| fail(&self.reference, "the signature is not base64"))?;
        crate::signer::check_remote(public, message, &signature, &self.reference, BACKEND, "")?;
        Ok(signature)
    }
}

/// `key generate --kms hashivault://KEY`: create an `ecdsa-p256` transit key.
pub(crate) async fn create_key(
    name: &str,
    reference: &str,
    options: &OpenOptions<'_>,
) -> Result<PublicKey, KeysError> {
    let conn = connect(reference, options)?;
    if call(
        &conn,
        reqwest::Method::GET,
        &format!("keys/{name}"),
        None,
        reference,
    )
    .await
    .is_ok()
    {
        return Err(fail(
            reference,
            format!("transit key {name} already exists; expected a new name"),
        ));
    }
    call(
        &conn,
        reqwest::Method::POST,
        &format!("keys/{name}"),
        Some(&json!({"type": "ecdsa-p256"})),
        reference,
    )
    .await?;
    Ok(TransitKey::open(name, reference, options).await?.1)
}
