//! The HTTP client: Rekor v1's REST API (`/api/v1/log...`) and C2SP tiles (`/checkpoint`,
//! `/tile/...`), as `hallmark log serve` and Rekor v1 serve them.

use crate::{ClientError, LogEntry};
use hallmark_core::PublicKey;
use hallmark_tlog::{
    Hash,
    rekor::{DsseRekord, DsseSigned, HashedRekord},
    tiles::Tile,
};
use reqwest::{StatusCode, header};
use serde::Deserialize;
use std::time::Duration;
use url::Url;

/// The largest JSON response read (entries, proofs, log info).
pub const MAX_RESPONSE_BYTES: u64 = 16 << 20;
/// The largest entry bundle read (256 entries of at most 64 KiB, plus length prefixes).
pub const MAX_ENTRY_BUNDLE_BYTES: u64 = 256 * (65_535 + 2);

/// `GET /api/v1/log`: the log's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogInfo {
    /// The root hash of the current tree.
    pub root_hash: Hash,
    /// The number of entries.
    pub tree_size: u64,
    /// The signed checkpoint (note text) of the current tree.
    pub signed_tree_head: String,
    /// The tree ID (Rekor shards), as given.
    pub tree_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogInfo {
    root_hash: String,
    tree_size: u64,
    signed_tree_head: String,
    #[serde(default, rename = "treeID")]
    tree_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConsistency {
    #[serde(default)]
    hashes: Vec<String>,
}

/// A client of one log.
#[derive(Debug, Clone)]
pub struct TlogClient {
    http: reqwest::Client,
    base: Url,
}

/// A reqwest error as its innermost cause ("Connection refused (os error 111)", "operation
/// timed out"): [`ClientError::Unreachable`] names the method and URL, and reqwest's own text
/// only repeats the URL or says "error sending request".
fn transport_reason(e: reqwest::Error) -> String {
    let e = e.without_url();
    hallmark_core::error::root_cause(&e).to_string()
}

impl TlogClient {
    /// A client for the log at `base_url` (`https://host[:port][/prefix]`; plain HTTP is
    /// accepted, since everything a log returns is verified by signatures and proofs).
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let mut base = Url::parse(base_url).map_err(|e| ClientError::BadUrl {
            url: base_url.to_owned(),
            reason: e.to_string(),
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(ClientError::BadUrl {
                url: base_url.to_owned(),
                reason: "expected an http:// or https:// URL with a host".into(),
            });
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        base.set_fragment(None);
        let http = reqwest::Client::builder()
            .user_agent(concat!("hallmark/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| ClientError::Client {
                reason: e.to_string(),
            })?;
        Ok(Self { http, base })
    }

    /// The base URL as given, without a trailing slash (what a trusted root's `baseUrl` holds).
    pub fn base_url(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }

    /// The host (and port, if any) of the base URL.
    pub fn host_port(&self) -> String {
        let host = self.base.host_str().unwrap_or_default();
        match self.base.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        }
    }

    fn url(&self, path: &str) -> Result<Url, ClientError> {
        self.base.join(path).map_err(|e| ClientError::BadUrl {
            url: format!("{}{path}", self.base),
            reason: e.to_string(),
        })
    }

    async fn send(
        &self,
        method: &'static str,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut req = match body {
            Some(b) => self
                .http
                .post(url.clone())
                .header(header::CONTENT_TYPE, "application/json")
                .body(b),
            None => self.http.get(url.clone()),
        };
        req = req.header(header::ACCEPT, "application/json, text/plain, */*");
        req.send().await.map_err(|e| ClientError::Unreachable {
            method,
            url: url.to_string(),
            reason: transport_reason(e),
        })
    }

    async fn read(
        resp: reqwest::Response,
        method: &'static str,
        url: &Url,
        limit: u64,
    ) -> Result<Vec<u8>, ClientError> {
        let mut resp = resp;
        if resp.content_length().is_some_and(|l| l > limit) {
            return Err(ClientError::TooLarge {
                url: url.to_string(),
                limit,
            });
        }
        let mut buf = Vec::new();
        loop {
            let chunk = resp.chunk().await.map_err(|e| ClientError::Unreachable {
                method,
                url: url.to_string(),
                reason: transport_reason(e),
            })?;
            let Some(chunk) = chunk else { break };
            if (buf.len() + chunk.len()) as u64 > limit {
                return Err(ClientError::TooLarge {
                    url: url.to_string(),
                    limit,
                });
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    }

    async fn status_error(
        resp: reqwest::Response,
        method: &'static str,
        url: &Url,
        expected: &'static str,
    ) -> ClientError {
        let status = resp.status().as_u16();
        let body = Self::read(resp, method, url, 4096)
            .await
            .unwrap_or_default();
        ClientError::Status {
            method,
            url: url.to_string(),
            expected,
            status,
            body: String::from_utf8_lossy(&body)
                .trim()
                .chars()
                .take(300)
                .collect::<String>()
                .replace(['\n', '\r'], " "),
        }
    }

    /// GET `path`; 200 → body, 404 → `None`.
    async fn get_optional(&self, path: &str, limit: u64) -> Result<Option<Vec<u8>>, ClientError> {
        let url = self.url(path)?;
        let resp = self.send("GET", url.clone(), None).await?;
        match resp.status() {
            StatusCode::OK => Ok(Some(Self::read(resp, "GET", &url, limit).await?)),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(Self::status_error(resp, "GET", &url, "200").await),
        }
    }

    async fn get(&self, path: &str, limit: u64) -> Result<Vec<u8>, ClientError> {
        let url = self.url(path)?;
        let resp = self.send("GET", url.clone(), None).await?;
        if resp.status() != StatusCode::OK {
            return Err(Self::status_error(resp, "GET", &url, "200").await);
        }
        Self::read(resp, "GET", &url, limit).await
    }

    /// `GET /api/v1/log`.
    pub async fn log_info(&self) -> Result<LogInfo, ClientError> {
        let body = self.get("api/v1/log", MAX_RESPONSE_BYTES).await?;
        let raw: RawLogInfo =
            serde_json::from_slice(&body).map_err(|e| ClientError::BadResponse {
                reason: format!("GET /api/v1/log: {e}"),
            })?;
        Ok(LogInfo {
            root_hash: Hash::from_hex(&raw.root_hash).map_err(|_| ClientError::BadResponse {
                reason: format!(
                    "GET /api/v1/log: rootHash {:?} is not a hex SHA-256",
                    raw.root_hash
                ),
            })?,
            tree_size: raw.tree_size,
            signed_tree_head: raw.signed_tree_head,
            tree_id: raw.tree_id.unwrap_or_default(),
        })
    }

    /// `GET /api/v1/log/publicKey` (PEM).
    pub async fn public_key(&self) -> Result<PublicKey, ClientError> {
        let body = self.get("api/v1/log/publicKey", 64 << 10).await?;
        let text = String::from_utf8(body).map_err(|_| ClientError::BadResponse {
            reason: "GET /api/v1/log/publicKey: not UTF-8 PEM".into(),
        })?;
        PublicKey::from_pem(&text, "the log's public key").map_err(|e| ClientError::BadLogKey {
            reason: e.to_string(),
        })
    }

    /// `POST /api/v1/log/entries` with a `hashedrekord` 0.0.1 entry. Returns the entry and
    /// whether it is new (201) or already was in the log (409: the existing entry is used).
    pub async fn create_entry(
        &self,
        entry: &HashedRekord,
    ) -> Result<(LogEntry, bool), ClientError> {
        let body = entry.canonical_body();
        self.submit(body.clone(), body).await
    }

    /// `POST /api/v1/log/entries` with a `dsse` 0.0.1 entry (the envelope and its verifiers);
    /// the log stores and returns Rekor's canonical `dsse` body, checked here against
    /// `signed`, the entry's signatures paired with their verifiers ([`DsseRekord::pair`]).
    pub async fn create_dsse_entry(
        &self,
        entry: &DsseRekord,
        signed: &DsseSigned,
    ) -> Result<(LogEntry, bool), ClientError> {
        self.submit(entry.proposed_json(), signed.canonical_body())
            .await
    }

    /// Submit `proposed`, whose canonical body is `body`.
    async fn submit(
        &self,
        proposed: Vec<u8>,
        body: Vec<u8>,
    ) -> Result<(LogEntry, bool), ClientError> {
        let url = self.url("api/v1/log/entries")?;
        let resp = self.send("POST", url.clone(), Some(proposed)).await?;
        let status = resp.status();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (entry, created) = match status {
            StatusCode::CREATED | StatusCode::OK => {
                let bytes = Self::read(resp, "POST", &url, MAX_RESPONSE_BYTES).await?;
                (
                    single(
                        LogEntry::parse_response(&bytes)?,
                        "POST /api/v1/log/entries",
                    )?,
                    true,
                )
            }
            StatusCode::CONFLICT => {
                let bytes = Self::read(resp, "POST", &url, MAX_RESPONSE_BYTES).await?;
                // hallmark's log returns the existing entry; Rekor v1 an error and a Location.
                let existing = LogEntry::parse_response(&bytes)
                    .ok()
                    .and_then(|v| single(v, "").ok());
                let existing = match existing {
                    Some(e) => e,
                    None => {
                        let uuid = location
                            .as_deref()
                            .and_then(|l| l.rsplit('/').next())
                            .map(str::to_owned)
                            .unwrap_or_else(|| hallmark_tlog::rekor::entry_uuid(&body));
                        self.entry_by_uuid(&uuid).await?
                    }
                };
                (existing, false)
            }
            _ => return Err(Self::status_error(resp, "POST", &url, "201 or 409").await),
        };
        if entry.body != body {
            return Err(ClientError::BadResponse {
                reason: format!(
                    "the log returned entry {} whose body is not the entry submitted",
                    entry.uuid
                ),
            });
        }
        Ok((entry, created))
    }

    /// `GET /api/v1/log/entries?logIndex=N`.
    pub async fn entry_by_index(&self, index: u64) -> Result<LogEntry, ClientError> {
        let path = format!("api/v1/log/entries?logIndex={index}");
        let bytes = self.get(&path, MAX_RESPONSE_BYTES).await?;
        single(LogEntry::parse_response(&bytes)?, &path)
    }

    /// `GET /api/v1/log/entries/{uuid}` (64-hex UUID or 80-hex entry ID).
    pub async fn entry_by_uuid(&self, uuid: &str) -> Result<LogEntry, ClientError> {
        if uuid.is_empty() || !uuid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ClientError::BadResponse {
                reason: format!("entry UUID {uuid:?} is not hex"),
            });
        }
        let path = format!("api/v1/log/entries/{uuid}");
        let bytes = self.get(&path, MAX_RESPONSE_BYTES).await?;
        single(LogEntry::parse_response(&bytes)?, &path)
    }

    /// `GET /api/v1/log/proof?firstSize=&lastSize=`: the consistency proof between two tree
    /// sizes (hashes only; the roots come from verified checkpoints).
    pub async fn consistency_proof(&self, first: u64, last: u64) -> Result<Vec<Hash>, ClientError> {
        let path = format!("api/v1/log/proof?firstSize={first}&lastSize={last}");
        let bytes = self.get(&path, MAX_RESPONSE_BYTES).await?;
        let raw: RawConsistency =
            serde_json::from_slice(&bytes).map_err(|e| ClientError::BadResponse {
                reason: format!("GET /{path}: {e}"),
            })?;
        raw.hashes
            .iter()
            .map(|h| {
                Hash::from_hex(h).map_err(|_| ClientError::BadResponse {
                    reason: format!("GET /{path}: hash {h:?} is not a hex SHA-256"),
                })
            })
            .collect()
    }

    /// `GET /checkpoint` (C2SP tlog-tiles), `None` if the log serves no tiles.
    pub async fn checkpoint(&self) -> Result<Option<String>, ClientError> {
        Ok(self
            .get_optional("checkpoint", 1 << 20)
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// `GET /tile/<L>/<N>[.p/<W>]` (C2SP tlog-tiles), `None` on 404.
    pub async fn tile(&self, tile: &Tile) -> Result<Option<Vec<u8>>, ClientError> {
        self.get_optional(&tile.path(), tile.data_len() as u64)
            .await
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves, computed from the
    /// log's tiles (so it can be against an older checkpoint than the log's newest, for example
    /// the newest one its witnesses cosigned). Each tile is read once.
    pub async fn inclusion_proof_from_tiles(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Vec<Hash>, ClientError> {
        let bad = |reason: String| ClientError::BadResponse { reason };
        let indexes = hallmark_tlog::tree::inclusion_proof_indexes(size, index)
            .map_err(|e| bad(format!("inclusion proof of {index} in {size}: {e}")))?;
        let mut tiles: std::collections::HashMap<Tile, Vec<u8>> = std::collections::HashMap::new();
        let mut hashes = Vec::with_capacity(indexes.len());
        for i in indexes {
            let span = hallmark_tlog::tiles::tile_for_stored_index(size, i)
                .map_err(|e| bad(format!("tile of stored hash {}: {e}", i.get())))?;
            let data = match tiles.entry(span.tile) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let data = self.tile(&span.tile).await?.ok_or_else(|| {
                        bad(format!(
                            "GET /{}: the log has no such tile",
                            span.tile.path()
                        ))
                    })?;
                    e.insert(data)
                }
            };
            hashes.push(
                hallmark_tlog::tiles::hash_from_tile(&span, data.as_slice())
                    .map_err(|e| bad(format!("GET /{}: {e}", span.tile.path())))?,
            );
        }
        hallmark_tlog::tree::inclusion_proof_from_hashes(size, index, &hashes)
            .map_err(|e| bad(format!("inclusion proof of {index} in {size}: {e}")))
    }

    /// `GET /tile/entries/<N>[.p/<W>]` (C2SP tlog-tiles entry bundle), `None` on 404.
    pub async fn entry_bundle(&self, tile: &Tile) -> Result<Option<Vec<u8>>, ClientError> {
        self.get_optional(&tile.entries_path(), MAX_ENTRY_BUNDLE_BYTES)
            .await
    }
}

fn single(mut entries: Vec<LogEntry>, what: &str) -> Result<LogEntry, ClientError> {
    if entries.len() != 1 {
        return Err(ClientError::BadResponse {
            reason: format!(
                "{what}: expected exactly one entry, found {}",
                entries.len()
            ),
        });
    }
    Ok(entries.remove(0))
}
