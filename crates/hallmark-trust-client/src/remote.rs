//! The Notary server HTTP API (notary 0.7.0 `server/server.go`) as the notary client uses
//! it: metadata by role, by hash and by version (size-limited: timestamp 1 MiB, others
//! 100 MiB), the server-held `snapshot.key`/`timestamp.key` (get-or-create and rotate),
//! atomic multipart uploads and deletion. HTTPS with rustls; an extra CA can be trusted.

use crate::error::TrustError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hallmark_oci_spec::auth::{BearerChallenge, parse_bearer_challenge};
use hallmark_tuf::{KeyType, TufKey};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use zeroize::Zeroizing;

/// Largest timestamp download.
pub const TIMESTAMP_LIMIT: u64 = 1 << 20;
/// Largest download of any other metadata.
pub const METADATA_LIMIT: u64 = 100 << 20;

/// A client of one Notary server.
#[derive(Clone)]
pub struct Remote {
    base: String,
    http: reqwest::Client,
    /// The bearer token in use (given, or obtained from the server's token challenge).
    token: Arc<Mutex<Option<Zeroizing<String>>>>,
    /// Basic credentials for the token server (docker's registry credentials).
    credentials: Option<(String, Zeroizing<String>)>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("base", &self.base)
            .field("credentials", &self.credentials.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

/// The rustls configuration for a server trusted through an extra CA: what reqwest builds
/// (aws-lc-rs, TLS 1.3 and 1.2, ALPN h2 and http/1.1, the platform verifier over the system
/// roots plus the extra CA), except that the server is first verified against the extra CA
/// alone and the system roots are read only when that fails. Reading them (every file under
/// `/etc/ssl/certs` on Debian) costs more than the rest of a command against a local server.
fn extra_ca_tls(pem: &[u8]) -> Result<rustls::ClientConfig, TrustError> {
    use rustls_pki_types::pem::PemObject as _;
    let invalid = |e: &dyn std::fmt::Display| {
        TrustError::Invalid(format!("--tls-ca: expected PEM certificates: {e}"))
    };
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&e))?;
    if certs.is_empty() {
        return Err(TrustError::Invalid(
            "--tls-ca: expected at least one PEM CERTIFICATE block, found none".into(),
        ));
    }
    let mut roots = rustls::RootCertStore::empty();
    for c in &certs {
        roots.add(c.clone()).map_err(|e| invalid(&e))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let extra =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .map_err(|e| invalid(&e))?;
    let verifier = ExtraCaFirst {
        extra,
        extra_certs: certs,
        provider: provider.clone(),
        all: OnceLock::new(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(&e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Server certificate verification against an extra CA first, then (lazily built, once) the
/// platform verifier over the system roots and the extra CA, as reqwest would use.
#[derive(Debug)]
struct ExtraCaFirst {
    extra: Arc<rustls::client::WebPkiServerVerifier>,
    extra_certs: Vec<rustls_pki_types::CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    all: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl ExtraCaFirst {
    fn all(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.all
            .get_or_init(|| {
                rustls_platform_verifier::Verifier::new_with_extra_roots(
                    self.extra_certs.clone(),
                    self.provider.clone(),
                )
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl rustls::client::danger::ServerCertVerifier for ExtraCaFirst {
    fn verify_server_cert(
        &self,
        end_entity: &rustls_pki_types::CertificateDer<'_>,
        intermediates: &[rustls_pki_types::CertificateDer<'_>],
        server_name: &rustls_pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.extra
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .or_else(|_| {
                self.all()?.verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    now,
                )
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl Remote {
    /// A client of the server at `url` (`https://host[:port]`; `http://` only for loopback
    /// hosts), trusting the extra CA certificates in `extra_ca_pem` besides the system roots.
    pub fn new(url: &str, extra_ca_pem: Option<&[u8]>) -> Result<Self, TrustError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| TrustError::Invalid(format!("trust server {url:?}: {e}")))?;
        let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            other => {
                return Err(TrustError::Invalid(format!(
                    "trust server {url}: expected an https:// URL (http:// only for loopback), found scheme {other}"
                )));
            }
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("hallmark/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(30))
            // Small request/response round trips: without it Nagle + delayed ACKs add ~40 ms.
            .tcp_nodelay(true);
        if let Some(pem) = extra_ca_pem {
            builder = builder.tls_backend_preconfigured(extra_ca_tls(pem)?);
        }
        let http = builder.build().map_err(|e| TrustError::Http {
            url: url.to_string(),
            reason: hallmark_core::error::chain(&e.without_url()),
        })?;
        Ok(Self {
            base: url.trim_end_matches('/').to_string(),
            http,
            token: Arc::new(Mutex::new(None)),
            credentials: None,
        })
    }

    /// Sends `Authorization: Bearer TOKEN` with every request.
    pub fn with_bearer_token(self, token: String) -> Self {
        *self
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Zeroizing::new(token));
        self
    }

    /// Basic credentials sent to the token server named by a `401` challenge (docker uses the
    /// registry's credentials for its Notary server).
    pub fn with_credentials(mut self, username: String, password: Zeroizing<String>) -> Self {
        self.credentials = Some((username, password));
        self
    }

    /// The server URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    fn tuf_url(&self, gun: &str, file: &str) -> String {
        format!("{}/v2/{gun}/_trust/tuf/{file}", self.base)
    }

    fn current_token(&self) -> Option<Zeroizing<String>> {
        self.token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sends a request; on `401` with a bearer challenge, gets a token from the challenge's
    /// realm (with the basic credentials, if any) and sends it once more.
    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<reqwest::Response, TrustError> {
        let build = |token: Option<&str>| {
            let mut r = self.http.request(method.clone(), url);
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            if let Some((content_type, bytes)) = body {
                r = r
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(bytes.to_vec());
            }
            r
        };
        let http_err = |e: reqwest::Error| TrustError::Http {
            url: url.to_string(),
            reason: transport_reason(e),
        };
        let token = self.current_token();
        let resp = build(token.as_deref().map(String::as_str))
            .send()
            .await
            .map_err(http_err)?;
        tracing::debug!(method = %method, url, status = resp.status().as_u16(), auth = if token.is_some() { "Bearer" } else { "anonymous" }, "notary request");
        if resp.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let Some(challenge) = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_bearer_challenge)
        else {
            return Ok(resp);
        };
        tracing::debug!(url, realm = %challenge.realm, "notary server asks for a bearer token");
        let token = self.fetch_token(&challenge).await?;
        let resp = build(Some(&token)).send().await.map_err(http_err)?;
        tracing::debug!(method = %method, url, status = resp.status().as_u16(), auth = "Bearer", "notary request");
        *self
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(token);
        Ok(resp)
    }

    /// Gets a token as docker does: `GET realm?service=..&scope=..`, basic credentials if
    /// any; the answer's `token` (or `access_token`).
    async fn fetch_token(&self, c: &BearerChallenge) -> Result<Zeroizing<String>, TrustError> {
        let mut url = url::Url::parse(&c.realm).map_err(|e| TrustError::Http {
            url: c.realm.clone(),
            reason: format!("the token realm of the server's challenge is not a URL: {e}"),
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = &c.service {
                q.append_pair("service", s);
            }
            if let Some(s) = &c.scope {
                q.append_pair("scope", s);
            }
        }
        let realm = c.realm.clone();
        let mut req = self.http.get(url);
        if let Some((user, pass)) = &self.credentials {
            req = req.basic_auth(user, Some(pass.as_str()));
        }
        let resp = req.send().await.map_err(|e| TrustError::Http {
            url: realm.clone(),
            reason: transport_reason(e),
        })?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            return Err(TrustError::Server {
                url: realm,
                status,
                code: String::new(),
                message: match &self.credentials {
                    Some((user, _)) => format!(
                        "the token server refused the registry credentials of user {user:?}; expected a valid login (--registry-username/--registry-password, or docker login)"
                    ),
                    None => "the token server refused an anonymous token request; expected registry credentials (--registry-username/--registry-password, HALLMARK_REGISTRY_USERNAME/HALLMARK_REGISTRY_PASSWORD, or docker login)".to_string(),
                },
            });
        }
        let bytes = Self::body(resp, &realm, 1 << 20).await?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| TrustError::Http {
                url: realm.clone(),
                reason: format!("expected a JSON token response, found: {e}"),
            })?;
        v.get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(|t| Zeroizing::new(t.to_string()))
            .ok_or_else(|| TrustError::Http {
                url: realm,
                reason: "expected {\"token\": ..} in the token response, found none".to_string(),
            })
    }

    async fn body(resp: reqwest::Response, url: &str, limit: u64) -> Result<Vec<u8>, TrustError> {
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(TrustError::TooLarge {
                url: url.to_string(),
                limit,
            });
        }
        let mut resp = resp;
        let mut out = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| TrustError::Http {
            url: url.to_string(),
            reason: transport_reason(e),
        })? {
            if (out.len() + chunk.len()) as u64 > limit {
                return Err(TrustError::TooLarge {
                    url: url.to_string(),
                    limit,
                });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    async fn error(resp: reqwest::Response, url: &str) -> TrustError {
        let status = resp.status().as_u16();
        let body = Self::body(resp, url, 64 << 10).await.unwrap_or_default();
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let first = parsed
            .as_ref()
            .and_then(|v| v.get("errors"))
            .and_then(|e| e.get(0))
            .cloned();
        match first {
            Some(e) => TrustError::Server {
                url: url.to_string(),
                status,
                code: e
                    .get("code")
                    .and_then(|c| c.as_str())
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default(),
                message: {
                    let m = e.get("message").and_then(|m| m.as_str()).unwrap_or("");
                    match e.get("detail") {
                        Some(d) if !d.is_null() && d != &serde_json::json!({}) => {
                            format!("{m} {d}")
                        }
                        _ => m.to_string(),
                    }
                },
            },
            None => TrustError::Server {
                url: url.to_string(),
                status,
                code: String::new(),
                message: String::from_utf8_lossy(&body[..body.len().min(400)]).into_owned(),
            },
        }
    }

    async fn get(&self, url: &str, limit: u64) -> Result<Option<Vec<u8>>, TrustError> {
        let resp = self.send(reqwest::Method::GET, url, None).await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(Self::error(resp, url).await);
        }
        let body = Self::body(resp, url, limit).await;
        // The connection goes back to the pool in a task of its own once the body is read;
        // let it run, or the next request (sent right away) races it with a new connection
        // and a second TLS handshake.
        tokio::task::yield_now().await;
        body.map(Some)
    }

    /// `GET /v2/<gun>/_trust/tuf/<role>.json`; `None` on 404.
    pub async fn get_role(&self, gun: &str, role: &str) -> Result<Option<Vec<u8>>, TrustError> {
        let limit = if role == "timestamp" {
            TIMESTAMP_LIMIT
        } else {
            METADATA_LIMIT
        };
        self.get(&self.tuf_url(gun, &format!("{role}.json")), limit)
            .await
    }

    /// `GET /v2/<gun>/_trust/tuf/<role>.<sha256 hex>.json`; `None` on 404.
    pub async fn get_role_by_hash(
        &self,
        gun: &str,
        role: &str,
        sha256: &[u8],
    ) -> Result<Option<Vec<u8>>, TrustError> {
        let url = self.tuf_url(gun, &format!("{role}.{}.json", hex::encode(sha256)));
        self.get(&url, METADATA_LIMIT).await
    }

    /// `GET /v2/<gun>/_trust/tuf/<version>.root.json`; `None` on 404.
    pub async fn get_root_version(
        &self,
        gun: &str,
        version: u64,
    ) -> Result<Option<Vec<u8>>, TrustError> {
        let url = self.tuf_url(gun, &format!("{version}.root.json"));
        self.get(&url, METADATA_LIMIT).await
    }

    fn parse_key(bytes: &[u8], url: &str) -> Result<TufKey, TrustError> {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| TrustError::Http {
            url: url.to_string(),
            reason: format!("expected a key object, found invalid JSON: {e}"),
        })?;
        let key_type = v
            .get("keytype")
            .and_then(|t| t.as_str())
            .and_then(KeyType::from_name);
        let public = v
            .get("keyval")
            .and_then(|k| k.get("public"))
            .and_then(|p| p.as_str())
            .and_then(|p| STANDARD.decode(p).ok());
        match (key_type, public) {
            (Some(t), Some(p)) => TufKey::new(t, p).map_err(|e| TrustError::Http {
                url: url.to_string(),
                reason: format!("the server's key: {e}"),
            }),
            _ => Err(TrustError::Http {
                url: url.to_string(),
                reason: "expected {\"keytype\":..,\"keyval\":{\"public\":..}}".to_string(),
            }),
        }
    }

    /// `GET /v2/<gun>/_trust/tuf/<role>.key`: the server's public key for `timestamp` or
    /// `snapshot` (created by the server if missing).
    pub async fn get_key(&self, gun: &str, role: &str) -> Result<TufKey, TrustError> {
        let url = self.tuf_url(gun, &format!("{role}.key"));
        let bytes = self
            .get(&url, 1 << 20)
            .await?
            .ok_or_else(|| TrustError::Server {
                url: url.clone(),
                status: 404,
                code: String::new(),
                message: format!("the server has no {role} key"),
            })?;
        Self::parse_key(&bytes, &url)
    }

    /// `POST /v2/<gun>/_trust/tuf/<role>.key`: the server makes a new key and returns it.
    pub async fn rotate_key(&self, gun: &str, role: &str) -> Result<TufKey, TrustError> {
        let url = self.tuf_url(gun, &format!("{role}.key"));
        let resp = self.send(reqwest::Method::POST, &url, None).await?;
        if !resp.status().is_success() {
            return Err(Self::error(resp, &url).await);
        }
        let bytes = Self::body(resp, &url, 1 << 20).await?;
        Self::parse_key(&bytes, &url)
    }

    /// `POST /v2/<gun>/_trust/tuf/`: one atomic multipart upload of `files` (role name ->
    /// signed metadata bytes), as the notary client sends it.
    pub async fn publish(&self, gun: &str, files: &[(String, Vec<u8>)]) -> Result<(), TrustError> {
        let url = self.tuf_url(gun, "");
        let mut rand = [0u8; 30];
        aws_lc_rs::rand::fill(&mut rand).map_err(|_| TrustError::Http {
            url: url.clone(),
            reason: "no random numbers for the multipart boundary".to_string(),
        })?;
        let boundary = hex::encode(rand);
        let body = multipart_body(&boundary, files);
        let content_type = format!("multipart/form-data; boundary={boundary}");
        tracing::debug!(gun, files = ?files.iter().map(|(n, b)| (n.as_str(), b.len())).collect::<Vec<_>>(), "notary publish (upload)");
        let resp = self
            .send(reqwest::Method::POST, &url, Some((&content_type, &body)))
            .await?;
        if !resp.status().is_success() {
            return Err(Self::error(resp, &url).await);
        }
        Ok(())
    }

    /// `DELETE /v2/<gun>/_trust/tuf/`: removes all of the repository's trust data.
    pub async fn delete(&self, gun: &str) -> Result<(), TrustError> {
        let url = self.tuf_url(gun, "");
        let resp = self.send(reqwest::Method::DELETE, &url, None).await?;
        if !resp.status().is_success() {
            return Err(Self::error(resp, &url).await);
        }
        Ok(())
    }
}

/// The multipart body Go's `mime/multipart` writes for notary's upload: one part per file,
/// `form-data; name="files"; filename="<role>"`, `application/octet-stream`.
pub fn multipart_body(boundary: &str, files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (i, (role, bytes)) in files.iter().enumerate() {
        if i > 0 {
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{role}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// A reqwest error as its innermost cause ("Connection refused (os error 111)", "invalid peer
/// certificate: UnknownIssuer"): [`TrustError::Http`] names the URL, and reqwest's own text
/// and intermediate causes only repeat it or say "client error".
fn transport_reason(e: reqwest::Error) -> String {
    let e = e.without_url();
    hallmark_core::error::root_cause(&e).to_string()
}
