//! The Notary server HTTP API (notary 0.7.0 `server/server.go`) as the notary client uses
//! it: metadata by role, by hash and by version (size-limited: timestamp 1 MiB, others
//! 100 MiB), the server-held `snapshot.key`/`timestamp.key` (get-or-create and rotate),
//! atomic multipart uploads and deletion. HTTPS with rustls; an extra CA can be trusted.

use crate::error::TrustError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hallmark_tuf::{KeyType, TufKey};
use std::time::Duration;

/// Largest timestamp download.
pub const TIMESTAMP_LIMIT: u64 = 1 << 20;
/// Largest download of any other metadata.
pub const METADATA_LIMIT: u64 = 100 << 20;

/// A client of one Notary server.
#[derive(Debug, Clone)]
pub struct Remote {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
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
            .connect_timeout(Duration::from_secs(30));
        if let Some(pem) = extra_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                TrustError::Invalid(format!("--tls-ca: expected PEM certificates: {e}"))
            })?;
            if certs.is_empty() {
                return Err(TrustError::Invalid(
                    "--tls-ca: expected at least one PEM CERTIFICATE block, found none".into(),
                ));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| TrustError::Http {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            base: url.trim_end_matches('/').to_string(),
            http,
            token: None,
        })
    }

    /// Sends `Authorization: Bearer TOKEN` with every request.
    pub fn with_bearer_token(mut self, token: String) -> Self {
        self.token = Some(token);
        self
    }

    /// The server URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    fn tuf_url(&self, gun: &str, file: &str) -> String {
        format!("{}/v2/{gun}/_trust/tuf/{file}", self.base)
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, url);
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, TrustError> {
        req.send().await.map_err(|e| TrustError::Http {
            url: url.to_string(),
            reason: error_chain(&e),
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
            reason: error_chain(&e),
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
        let resp = self
            .send(self.request(reqwest::Method::GET, url), url)
            .await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(Self::error(resp, url).await);
        }
        Self::body(resp, url, limit).await.map(Some)
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
        let resp = self
            .send(self.request(reqwest::Method::POST, &url), &url)
            .await?;
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
        let req = self
            .request(reqwest::Method::POST, &url)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        let resp = self.send(req, &url).await?;
        if !resp.status().is_success() {
            return Err(Self::error(resp, &url).await);
        }
        Ok(())
    }

    /// `DELETE /v2/<gun>/_trust/tuf/`: removes all of the repository's trust data.
    pub async fn delete(&self, gun: &str) -> Result<(), TrustError> {
        let url = self.tuf_url(gun, "");
        let resp = self
            .send(self.request(reqwest::Method::DELETE, &url), &url)
            .await?;
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

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}
