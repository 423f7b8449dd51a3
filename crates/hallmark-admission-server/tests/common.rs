//! The world the webhook tests run in: the shared real docker-registry, images pushed to it and
//! signed (by hallmark or by skopeo), a test PKI, and the webhook served over HTTPS by
//! `hallmark-serve` on 127.0.0.1, called the way the API server and Gatekeeper call it.

use base64::Engine as _;
use hallmark_admission_server::{Config, DecisionLog, GatekeeperClients, Webhook};
use hallmark_core::{ImageRef, KeyAlgorithm, SigningKey};
use hallmark_oci::{RegistryClient, RegistryOptions, Store, sample::SampleImage};
use hallmark_testutil::notary::Pki;
use hallmark_verify::{CacheConfig, Decider, TrustConfig};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A unique repository prefix per call, so tests sharing the registry never meet.
pub fn unique(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "adm-{}-{name}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn registry() -> &'static str {
    hallmark_testutil::registry::shared().addr()
}

pub fn client() -> RegistryClient {
    RegistryClient::new(RegistryOptions::default()).expect("registry client")
}

/// Push a distinct sample image as `registry/repo:tag`; its digest.
pub async fn push(repo: &str, tag: &str) -> String {
    let image = format!("{}/{repo}:{tag}", registry());
    let ImageRef::Registry(r) = ImageRef::parse(&image).expect("reference") else {
        panic!("not a registry reference")
    };
    let store = Store::Registry(client().repository(&r));
    SampleImage::build(&image, "amd64")
        .push(&store, Some(tag))
        .await
        .expect("push")
        .to_string()
}

/// Sign `registry/repo:tag` with `key` (a cosign `.sig` signature).
pub async fn sign(repo: &str, tag: &str, key: &SigningKey) {
    let image = ImageRef::parse(&format!("{}/{repo}:{tag}", registry())).expect("reference");
    let ImageRef::Registry(r) = &image else {
        panic!("not a registry reference")
    };
    let store = Store::Registry(client().repository(r));
    hallmark_flows::sign(&store, &image, key, &hallmark_flows::SignOptions::default())
        .await
        .expect("sign");
}

/// A webhook served over HTTPS, with what the tests need to reach it.
pub struct Served {
    pub dir: tempfile::TempDir,
    pub pki: Pki,
    pub url: String,
    pub webhook: Webhook,
    pub http: reqwest::Client,
    pub policy: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// How to build the webhook under test.
pub struct Setup {
    pub policy: String,
    pub decision_timeout: Duration,
    pub gatekeeper_timeout: Duration,
    pub pin: hallmark_admission::Pin,
    pub gatekeeper_clients: GatekeeperClients,
    pub decision_log: bool,
    pub registry: RegistryOptions,
}

impl Default for Setup {
    fn default() -> Self {
        let registry = RegistryOptions {
            max_retries: 1,
            retry_base: Duration::from_millis(50),
            ..RegistryOptions::default()
        };
        Self {
            policy: String::new(),
            decision_timeout: Duration::from_secs(8),
            gatekeeper_timeout: Duration::from_millis(1500),
            pin: hallmark_admission::Pin::TagAndDigest,
            gatekeeper_clients: GatekeeperClients::Any,
            decision_log: false,
            registry,
        }
    }
}

/// A policy with one enforcing rule for `pattern` requiring a signature by `key.pub`, and
/// `default: allow` for everything else.
pub fn policy_for(pattern: &str, mode: &str) -> String {
    format!(
        "apiVersion: hallmark/v1\nkind: Policy\ndefault: allow\nrules:\n  - name: signed\n    \
         images: [\"{pattern}\"]\n    mode: {mode}\n    require:\n      - cosign: {{keys: [key.pub]}}\n"
    )
}

impl Served {
    /// Serve a webhook whose policy's `key.pub` is `public_pem`.
    pub async fn start(setup: Setup, public_pem: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("key.pub"), public_pem).expect("key");
        let policy = dir.path().join("policy.yaml");
        std::fs::write(&policy, &setup.policy).expect("policy");
        let pki = Pki::new(&dir.path().join("pki"));
        let registry = RegistryClient::new(setup.registry).expect("registry client");
        let mut config = Config::default();
        config.decision_timeout = setup.decision_timeout;
        config.gatekeeper_timeout = setup.gatekeeper_timeout;
        config.pin = setup.pin;
        config.gatekeeper_clients = setup.gatekeeper_clients;
        if setup.decision_log {
            let file = std::fs::File::create(dir.path().join("decisions.log")).expect("log");
            config.decision_log = DecisionLog::to_writer(Box::new(file));
        }
        let decider = Decider::open(
            policy.clone(),
            TrustConfig { dct: None },
            registry,
            CacheConfig::default(),
        )
        .await
        .expect("policy");
        let webhook = Webhook::new(config, decider);
        let client_ca = (setup.gatekeeper_clients == GatekeeperClients::VerifiedCertificate)
            .then(|| hallmark_serve::tls::read_certs(&pki.ca_cert).expect("ca"));
        let tls = hallmark_serve::tls::server_config(
            &pki.server_cert,
            &pki.server_key,
            client_ca.as_deref(),
        )
        .expect("tls");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "https://127.0.0.1:{}",
            listener.local_addr().expect("addr").port()
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = webhook.router();
        let task = tokio::spawn(async move {
            hallmark_serve::serve(
                listener,
                Some(tls),
                router,
                hallmark_serve::Limits::default(),
                async move {
                    let _ = stopped.await;
                },
            )
            .await
            .expect("serve");
        });
        let http = https_client(&pki, None);
        Self {
            dir,
            pki,
            url,
            webhook,
            http,
            policy,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// [`Served::start`] with only a policy (everything else as [`Setup::default`]).
    pub async fn with_policy(policy: impl Into<String>, public_pem: &str) -> Self {
        let setup = Setup {
            policy: policy.into(),
            ..Setup::default()
        };
        Self::start(setup, public_pem).await
    }

    /// POST `body` to `path`; status and body as JSON (or `Value::String` when not JSON).
    pub async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    /// The `response` of an AdmissionReview answer to `review`, checked for the echo the API
    /// server requires.
    pub async fn review(&self, path: &str, review: &Value) -> Value {
        let (status, answer) = self.post(path, review.to_string()).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["apiVersion"], review["apiVersion"], "{answer}");
        assert_eq!(answer["kind"], "AdmissionReview");
        assert_eq!(
            answer["response"]["uid"], review["request"]["uid"],
            "{answer}"
        );
        answer["response"].clone()
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("request");
        (resp.status().as_u16(), resp.text().await.expect("body"))
    }

    /// The value of one metric sample (`name{labels}` exactly as exposed), 0 when absent.
    pub async fn metric(&self, sample: &str) -> f64 {
        let (_, text) = self.get("/metrics").await;
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
            .map_or(0.0, |v| v.trim().parse().expect("metric value"))
    }

    pub fn decision_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("decisions.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a decision line is JSON"))
            .collect()
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), t).await;
        }
    }
}

/// An HTTPS client trusting the test CA, with a client certificate when `identity` names one.
pub fn https_client(pki: &Pki, identity: Option<&str>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki.ca_cert).expect("ca")).expect("ca");
    let mut b = reqwest::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(30));
    if let Some(cn) = identity {
        let (crt, key) = pki.issue("client", cn);
        let mut pem = std::fs::read(crt).expect("crt");
        pem.extend_from_slice(&std::fs::read(key).expect("key"));
        b = b.identity(reqwest::Identity::from_pem(&pem).expect("identity"));
    }
    b.build().expect("client")
}

/// An AdmissionReview as the API server sends it, for `object` of `kind`.
pub fn review(kind: &str, operation: &str, namespace: &str, object: Value) -> Value {
    let (group, version) = match kind {
        "Pod" | "ReplicationController" => ("", "v1"),
        "Job" | "CronJob" => ("batch", "v1"),
        _ => ("apps", "v1"),
    };
    let resource = format!("{}s", kind.to_lowercase());
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("{:08x}-0000-4000-8000-000000000000", rand_u32()),
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": resource},
            "requestKind": {"group": group, "version": version, "kind": kind},
            "requestResource": {"group": group, "version": version, "resource": resource},
            "name": object.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
            "namespace": namespace,
            "operation": operation,
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    })
}

fn rand_u32() -> u32 {
    static N: AtomicUsize = AtomicUsize::new(1);
    u32::try_from(N.fetch_add(1, Ordering::Relaxed) % 0xffff_ffff).unwrap_or(1) ^ std::process::id()
}

/// A Pod running `images` (one container each), as the API server renders it.
pub fn pod(name: &str, images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            json!({
                "name": format!("c{i}"),
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File"
            })
        })
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {
            "containers": containers,
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "terminationGracePeriodSeconds": 30
        },
        "status": {}
    })
}

/// A workload of `kind` whose pod template runs `images`.
pub fn workload(kind: &str, name: &str, images: &[&str]) -> Value {
    let spec = pod(name, images)["spec"].clone();
    let template = json!({"metadata": {"labels": {"app": name}}, "spec": spec});
    let (api_version, spec) = match kind {
        "CronJob" => (
            "batch/v1",
            json!({"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}}),
        ),
        "Job" => ("batch/v1", json!({"template": template, "backoffLimit": 6})),
        "ReplicationController" => ("v1", json!({"replicas": 1, "template": template})),
        _ => (
            "apps/v1",
            json!({"replicas": 2, "selector": {"matchLabels": {"app": name}}, "template": template}),
        ),
    };
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    })
}

/// Apply a base64 JSONPatch of `replace` operations to `object`.
pub fn apply_patch(object: &mut Value, response: &Value) {
    assert_eq!(response["patchType"], "JSONPatch", "{response}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(response["patch"].as_str().expect("patch"))
        .expect("base64");
    let ops: Vec<Value> = serde_json::from_slice(&bytes).expect("JSONPatch");
    for op in ops {
        assert_eq!(op["op"], "replace", "{op}");
        let target = object
            .pointer_mut(op["path"].as_str().expect("path"))
            .unwrap_or_else(|| panic!("{op} points at nothing"));
        *target = op["value"].clone();
    }
}

/// The connaisseur AdmissionReview vectors (real requests) kept by hallmark-admission.
pub fn vector_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../hallmark-admission/tests/data/connaisseur")
}

pub fn key() -> SigningKey {
    SigningKey::generate(KeyAlgorithm::EcdsaP256).expect("key")
}
