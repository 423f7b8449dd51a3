//! A log server per test, and signed entries.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{Digest, KeyAlgorithm, SigningKey};
use hallmark_tlog_server::{Config, LogKeyType, Server};
use serde_json::{Value, json};
use std::time::Duration;
use tempfile::TempDir;

/// A running server and its directory.
pub(crate) struct TestLog {
    pub(crate) server: Option<Server>,
    pub(crate) dir: TempDir,
    pub(crate) url: String,
    pub(crate) client: reqwest::Client,
}

pub(crate) const ORIGIN: &str = "tlog.test.example/log";

pub(crate) async fn start_log(key_type: LogKeyType) -> TestLog {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_in(dir.path(), key_type).await;
    let url = format!("http://{}", server.addr());
    TestLog {
        server: Some(server),
        dir,
        url,
        client: client(),
    }
}

pub(crate) async fn start_in(dir: &std::path::Path, key_type: LogKeyType) -> Server {
    let mut config = Config::new(dir);
    config.origin = Some(ORIGIN.into());
    config.key_type = key_type;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    tokio::time::timeout(Duration::from_secs(30), Server::start(config, listener))
        .await
        .expect("server start timed out")
        .expect("server start")
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

impl TestLog {
    pub(crate) async fn get(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let r = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("GET");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.bytes().await.expect("body").to_vec())
    }

    pub(crate) async fn get_json(&self, path: &str) -> (u16, Value) {
        let (status, _, body) = self.get(path).await;
        let v = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body:?}"));
        (status, v)
    }

    pub(crate) async fn post(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.expect("body");
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("POST {path}: not JSON ({e}): {bytes:?}"));
        (status, headers, v)
    }

    pub(crate) async fn tree_size(&self) -> u64 {
        let (status, v) = self.get_json("/api/v1/log").await;
        assert_eq!(status, 200, "{v}");
        v["treeSize"].as_u64().expect("treeSize")
    }
}

/// A hashedrekord proposed entry for `artifact`, signed by `key`.
pub(crate) fn proposed(key: &SigningKey, artifact: &[u8]) -> Value {
    let digest = Digest::sha256_of(artifact);
    let sig = key.sign(artifact).expect("sign");
    proposed_raw(
        digest.hex(),
        &STANDARD.encode(sig),
        &key.public_key().to_pem(),
    )
}

pub(crate) fn proposed_raw(hex: &str, sig_b64: &str, pem: &str) -> Value {
    json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex}},
            "signature": {"content": sig_b64, "publicKey": {"content": STANDARD.encode(pem)}}
        }
    })
}

pub(crate) fn p256() -> SigningKey {
    SigningKey::generate(KeyAlgorithm::EcdsaP256).expect("keygen")
}
