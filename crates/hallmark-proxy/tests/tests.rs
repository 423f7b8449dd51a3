//! The proxy in front of the real docker-registry 2.8, with real clients: skopeo 1.18 pulls
//! signed images through it (and verifies them itself), is refused unsigned ones with the
//! proxy's reason, pushes through it in both push modes; a tag moved upstream behind the
//! proxy's back is decided anew; an upstream that is down or hostile gives clear 4xx/5xx.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod faults;
mod pulls;
mod pushes;

use hallmark_core::{ImageRef, KeyAlgorithm, SigningKey};
use hallmark_oci::{RegistryClient, RegistryOptions, Store, sample::SampleImage};
use hallmark_proxy::{Config, Proxy, PushMode};
use hallmark_verify::{CacheConfig, Decider, TrustConfig};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub fn unique(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "proxy-{}-{name}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn registry() -> &'static str {
    hallmark_testutil::registry::shared().addr()
}

pub fn client() -> RegistryClient {
    RegistryClient::new(RegistryOptions::default()).unwrap()
}

pub fn store(repo: &str) -> Store {
    let ImageRef::Registry(r) = ImageRef::parse(&format!("{}/{repo}", registry())).unwrap() else {
        panic!("not a registry reference")
    };
    Store::Registry(client().repository(&r))
}

/// Push a distinct sample image to the registry (not through the proxy); its digest.
pub async fn push(repo: &str, tag: &str) -> String {
    SampleImage::build(&format!("{repo}:{tag}:{}", unique("c")), "amd64")
        .push(&store(repo), Some(tag))
        .await
        .unwrap()
        .to_string()
}

/// Sign `registry/repo:tag` (upstream) with `key`, the signature naming `identity`.
pub async fn sign(repo: &str, tag: &str, key: &SigningKey, identity: Option<String>) {
    let image = ImageRef::parse(&format!("{}/{repo}:{tag}", registry())).unwrap();
    let options = hallmark_flows::SignOptions {
        identity,
        ..hallmark_flows::SignOptions::default()
    };
    hallmark_flows::sign(&store(repo), &image, key, &options)
        .await
        .unwrap();
}

pub fn key() -> SigningKey {
    SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap()
}

/// A proxy on 127.0.0.1 in front of `upstream`.
pub struct Running {
    pub addr: String,
    pub dir: tempfile::TempDir,
    pub proxy: Proxy,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Running {
    /// A proxy whose policy requires a signature by `key` for `{upstream}/{prefix}/**` (the
    /// default allows everything else).
    pub async fn start(upstream: &str, prefix: &str, key: &SigningKey, mode: PushMode) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key.pub"), key.public_key().to_pem()).unwrap();
        let policy = dir.path().join("policy.yaml");
        std::fs::write(
            &policy,
            format!(
                "apiVersion: hallmark/v1\nkind: Policy\ndefault: allow\nrules:\n  - name: signed\n    \
                 images: [\"{upstream}/{prefix}/**\"]\n    require:\n      - cosign: {{keys: [key.pub]}}\n"
            ),
        )
        .unwrap();
        let options = RegistryOptions {
            max_retries: 1,
            retry_base: Duration::from_millis(50),
            timeout: Duration::from_secs(5),
            ..RegistryOptions::default()
        };
        let mut cache = CacheConfig::default();
        cache.deny_ttl = Duration::ZERO;
        let decider = Decider::open(
            policy,
            TrustConfig { dct: None },
            RegistryClient::new(options).unwrap(),
            cache,
        )
        .await
        .unwrap();
        let mut config = Config::new(format!("http://{upstream}"));
        config.push_mode = mode;
        config.upstream_timeout = Duration::from_secs(3);
        let proxy = Proxy::new(config, decider).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = proxy.router();
        tokio::spawn(async move {
            let _ = hallmark_serve::serve(
                listener,
                None,
                router,
                hallmark_serve::Limits::default(),
                async move {
                    let _ = stopped.await;
                },
            )
            .await;
        });
        Self {
            addr,
            dir,
            proxy,
            stop: Some(stop),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// skopeo is installed (scripts/test installs it); tests that need it say so and return.
pub fn skopeo() -> bool {
    let there = hallmark_testutil::tools::skopeo_available();
    if !there {
        eprintln!("skipped: skopeo is not installed (scripts/test installs it)");
    }
    there
}

/// A plain HTTP/1.1 request to `addr`; status line and body.
pub fn http(addr: &str, method: &str, path: &str) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/vnd.oci.image.manifest.v1+json\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

mod page;
