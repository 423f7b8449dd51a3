//! A trust server per test, and a small repository writer that signs metadata the way the
//! notary client does (root key = self-signed certificate with CN = GUN, made with openssl).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hallmark_trust_server::{Config, Server};
use hallmark_tuf::{KeyType, PrivateKey, TufKey, sign_metadata};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

pub(crate) const FUTURE: &str = "2099-01-01T00:00:00Z";
pub(crate) const PAST: &str = "2020-01-01T00:00:00Z";

/// A running server and its directory.
pub(crate) struct TestServer {
    pub(crate) server: Option<Server>,
    pub(crate) dir: TempDir,
    pub(crate) url: String,
    pub(crate) client: reqwest::Client,
}

pub(crate) async fn start() -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_with(Config::new(dir.path())).await;
    let url = format!("http://{}", server.addr());
    TestServer {
        server: Some(server),
        dir,
        url,
        client: client(),
    }
}

pub(crate) async fn start_with(config: Config) -> Server {
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
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// A response: status, headers, body.
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Resp {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "expected JSON, found {:?}: {e}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The first error code of an errcode body.
    pub(crate) fn code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    #[track_caller]
    pub(crate) fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
    }

    #[track_caller]
    pub(crate) fn assert_ok(&self) {
        assert_eq!(
            self.status,
            200,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
    }
}

pub(crate) async fn send(req: reqwest::RequestBuilder) -> Resp {
    let r = req.send().await.expect("request");
    Resp {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.bytes().await.expect("body").to_vec(),
    }
}

/// A multipart body as the notary client sends it.
pub(crate) fn multipart(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "hallmarktestboundary7f3a";
    let mut body = Vec::new();
    for (name, data) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl TestServer {
    pub(crate) fn tuf(&self, gun: &str, file: &str) -> String {
        format!("{}/v2/{gun}/_trust/tuf/{file}", self.url)
    }

    pub(crate) async fn get(&self, path: &str) -> Resp {
        send(self.client.get(format!("{}{path}", self.url))).await
    }

    pub(crate) async fn get_file(&self, gun: &str, file: &str) -> Resp {
        send(self.client.get(self.tuf(gun, file))).await
    }

    pub(crate) async fn upload(&self, gun: &str, parts: &[(&str, &[u8])]) -> Resp {
        let (ct, body) = multipart(parts);
        send(
            self.client
                .post(self.tuf(gun, ""))
                .header("content-type", ct)
                .body(body),
        )
        .await
    }

    pub(crate) async fn server_key(&self, gun: &str, role: &str) -> TufKey {
        let r = send(self.client.get(self.tuf(gun, &format!("{role}.key")))).await;
        r.assert_ok();
        key_from_json(&r.json())
    }

    /// Everything a client can read of a GUN (to compare before and after a refused update).
    pub(crate) async fn snapshot_state(&self, gun: &str) -> Vec<(String, u16, Vec<u8>)> {
        let mut out = Vec::new();
        for f in [
            "root.json",
            "targets.json",
            "snapshot.json",
            "timestamp.json",
            "targets/releases.json",
            "2.root.json",
        ] {
            let r = self.get_file(gun, f).await;
            out.push((f.to_string(), r.status, r.body));
        }
        let c = self
            .get(&format!("/v2/{gun}/_trust/changefeed?records=100"))
            .await;
        out.push(("changefeed".into(), c.status, c.body));
        out
    }
}

pub(crate) fn key_from_json(v: &Value) -> TufKey {
    let kt = KeyType::from_name(v["keytype"].as_str().expect("keytype")).expect("key type");
    let public = STANDARD
        .decode(v["keyval"]["public"].as_str().expect("public"))
        .expect("base64");
    TufKey::new(kt, public).expect("key")
}

pub(crate) fn key_json(k: &TufKey) -> Value {
    json!({"keytype": k.key_type().name(), "keyval": {"private": null, "public": STANDARD.encode(k.public())}})
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A root key as notary makes it: ECDSA P-256 and a self-signed certificate with CN = `cn`.
pub(crate) fn root_key(cn: &str) -> (PrivateKey, TufKey) {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    openssl(
        d,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "k.pem",
        ],
    );
    openssl(
        d,
        &["ec", "-in", "k.pem", "-outform", "DER", "-out", "k.der"],
    );
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "k.pem",
            "-sha256",
            "-days",
            "3650",
            "-subj",
            &format!("/CN={}", cn.replace('/', "\\/")),
            "-out",
            "c.pem",
        ],
    );
    let key = PrivateKey::from_ecdsa_sec1_der(&std::fs::read(d.join("k.der")).expect("der"))
        .expect("sec1 key");
    let cert = std::fs::read(d.join("c.pem")).expect("cert");
    (
        key,
        TufKey::new(KeyType::EcdsaX509, cert).expect("x509 key"),
    )
}

/// Signs a root as notary does: each signature names the key ID of the signer's certificate.
pub(crate) fn sign_root(
    signed: &Value,
    signers: &[&PrivateKey],
    certs: &[&(PrivateKey, TufKey)],
) -> Vec<u8> {
    let canonical = hallmark_tuf::canonical::to_canonical(signed).expect("canonical");
    let sigs: Vec<hallmark_tuf::Signature> = signers
        .iter()
        .map(|k| {
            let mut sig = k.sign(&canonical).expect("sign");
            if let Some((_, cert)) = certs.iter().find(|(p, _)| p.key_id() == k.key_id()) {
                sig.key_id = cert.key_id();
            }
            sig
        })
        .collect();
    hallmark_tuf::envelope(&canonical, &sigs)
}

pub(crate) fn new_key() -> PrivateKey {
    PrivateKey::generate(KeyType::Ecdsa).expect("key")
}

/// A repository under construction: keys and signing helpers.
pub(crate) struct Repo {
    pub(crate) gun: String,
    pub(crate) root: (PrivateKey, TufKey),
    /// Another root key with a certificate for the GUN (for rotations and wrong-CN tests).
    pub(crate) extra_root: (PrivateKey, TufKey),
    pub(crate) targets: PrivateKey,
    /// Client-held snapshot key (`None`: server-held).
    pub(crate) snapshot: Option<PrivateKey>,
    pub(crate) server_snapshot: Option<TufKey>,
    pub(crate) timestamp: TufKey,
}

pub(crate) fn file_meta(bytes: &[u8]) -> Value {
    hallmark_tuf::builder::file_meta_value(bytes)
}

impl Repo {
    /// Keys for `gun`: the timestamp key (and the snapshot key when `server_snapshot`) from
    /// the server.
    pub(crate) async fn new(server: &TestServer, gun: &str, server_snapshot: bool) -> Repo {
        let timestamp = server.server_key(gun, "timestamp").await;
        let server_snapshot = if server_snapshot {
            Some(server.server_key(gun, "snapshot").await)
        } else {
            None
        };
        Repo {
            gun: gun.to_string(),
            root: root_key(gun),
            extra_root: root_key(gun),
            targets: new_key(),
            snapshot: server_snapshot.is_none().then(new_key),
            server_snapshot,
            timestamp,
        }
    }

    pub(crate) fn snapshot_pub(&self) -> TufKey {
        match (&self.snapshot, &self.server_snapshot) {
            (Some(k), _) => k.public_key().clone(),
            (None, Some(k)) => k.clone(),
            (None, None) => unreachable!("a snapshot key"),
        }
    }

    /// A root listing `root_pub` for root, signed by `signers`.
    pub(crate) fn root_with(
        &self,
        version: u64,
        root_pub: &TufKey,
        timestamp: &TufKey,
        signers: &[&PrivateKey],
    ) -> Vec<u8> {
        let mut keys = BTreeMap::new();
        let role = |k: &TufKey| json!({"keyids": [k.key_id()], "threshold": 1});
        let t = self.targets.public_key().clone();
        let s = self.snapshot_pub();
        for k in [root_pub, &t, &s, timestamp] {
            keys.insert(k.key_id(), key_json(k));
        }
        let signed = json!({
            "_type": "Root",
            "consistent_snapshot": false,
            "expires": FUTURE,
            "keys": keys,
            "roles": {"root": role(root_pub), "targets": role(&t), "snapshot": role(&s), "timestamp": role(timestamp)},
            "version": version,
        });
        sign_root(&signed, signers, &[&self.root, &self.extra_root])
    }

    pub(crate) fn root(&self, version: u64) -> Vec<u8> {
        self.root_with(version, &self.root.1, &self.timestamp, &[&self.root.0])
    }

    pub(crate) fn targets_with(
        &self,
        version: u64,
        targets: &[(&str, &[u8])],
        delegations: Value,
        expires: &str,
        key: &PrivateKey,
    ) -> Vec<u8> {
        let mut t = serde_json::Map::new();
        for (name, content) in targets {
            t.insert(name.to_string(), file_meta(content));
        }
        let signed = json!({
            "_type": "Targets",
            "delegations": delegations,
            "expires": expires,
            "targets": t,
            "version": version,
        });
        sign_metadata(&signed, &[key]).expect("sign targets")
    }

    pub(crate) fn targets(&self, version: u64, targets: &[(&str, &[u8])]) -> Vec<u8> {
        self.targets_with(
            version,
            targets,
            json!({"keys": {}, "roles": []}),
            FUTURE,
            &self.targets,
        )
    }

    pub(crate) fn snapshot(&self, version: u64, files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut meta = serde_json::Map::new();
        for (role, bytes) in files {
            meta.insert(role.to_string(), file_meta(bytes));
        }
        let signed =
            json!({"_type": "Snapshot", "expires": FUTURE, "meta": meta, "version": version});
        sign_metadata(
            &signed,
            &[self.snapshot.as_ref().expect("client snapshot key")],
        )
        .expect("sign snapshot")
    }

    /// Publishes root v1 + targets v1 (+ snapshot v1 when client-held); returns root, targets.
    pub(crate) async fn init(
        &self,
        server: &TestServer,
        targets: &[(&str, &[u8])],
    ) -> (Vec<u8>, Vec<u8>) {
        let root = self.root(1);
        let t = self.targets(1, targets);
        let r = if self.snapshot.is_some() {
            let s = self.snapshot(1, &[("root", &root), ("targets", &t)]);
            server
                .upload(
                    &self.gun,
                    &[("root", &root), ("targets", &t), ("snapshot", &s)],
                )
                .await
        } else {
            server
                .upload(&self.gun, &[("root", &root), ("targets", &t)])
                .await
        };
        r.assert_ok();
        (root, t)
    }
}

/// Verifies what the server serves for `gun` with hallmark-tuf's client verification.
pub(crate) async fn verify_served(
    server: &TestServer,
    gun: &str,
    delegations: &[&str],
) -> hallmark_tuf::VerifiedRepo {
    let root = server.get_file(gun, "1.root.json").await;
    root.assert_ok();
    let current_root = server.get_file(gun, "root.json").await;
    let v1: hallmark_tuf::Signed<hallmark_tuf::Root> =
        hallmark_tuf::Signed::parse(&root.body, "root").expect("root");
    let vn: hallmark_tuf::Signed<hallmark_tuf::Root> =
        hallmark_tuf::Signed::parse(&current_root.body, "root").expect("root");
    let mut chain = Vec::new();
    for v in (v1.signed.version + 1)..=vn.signed.version {
        let r = server.get_file(gun, &format!("{v}.root.json")).await;
        r.assert_ok();
        chain.push(r.body);
    }
    let ts = server.get_file(gun, "timestamp.json").await;
    let sn = server.get_file(gun, "snapshot.json").await;
    let tg = server.get_file(gun, "targets.json").await;
    let mut dels = Vec::new();
    for d in delegations {
        let r = server.get_file(gun, &format!("{d}.json")).await;
        r.assert_ok();
        dels.push((*d, r.body));
    }
    let files = hallmark_tuf::RepoFiles {
        root_chain: chain.iter().map(Vec::as_slice).collect(),
        timestamp: &ts.body,
        snapshot: &sn.body,
        targets: &tg.body,
        delegations: dels.iter().map(|(n, b)| (*n, b.as_slice())).collect(),
    };
    hallmark_tuf::verify_repo(
        &root.body,
        &files,
        &hallmark_tuf::TrustedVersions::default(),
        time::OffsetDateTime::now_utc(),
        &hallmark_tuf::Limits::default(),
    )
    .expect("the served repository verifies")
}
