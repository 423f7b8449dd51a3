//! `hallmark admission serve` and `hallmark serve` as processes: the webhook over HTTPS
//! answering AdmissionReviews, reloading its policy on SIGHUP, logging decisions; the trust
//! server, the log and the webhook in one process on one address, each answering as it does
//! alone, one /metrics, one shutdown; and the setups they refuse.

use crate::util::{Daemon, World, registry};
use hallmark_testutil::notary::Pki;
use hallmark_testutil::process::{free_port, signal};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

struct Running {
    daemon: Daemon,
    url: String,
}

impl Running {
    fn start(w: &World, args: &[&str], port: u16, ready_path: &str, pki: &Pki) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hallmark"));
        cmd.args(args)
            .arg("--tls-cert")
            .arg(&pki.server_cert)
            .arg("--tls-key")
            .arg(&pki.server_key)
            .current_dir(w.dir());
        let url = format!("https://127.0.0.1:{port}");
        let ready = format!("{url}{ready_path}");
        let daemon = Daemon::start(cmd, w.path(&format!("serve-{port}.log")), || {
            curl(pki, "GET", &ready, None).0 == 200
        });
        Running { daemon, url }
    }

    fn stderr(&self) -> String {
        self.daemon.output()
    }

    /// SIGTERM; the exit status.
    fn stop(self) -> std::process::ExitStatus {
        self.daemon.stop()
    }
}

/// `curl` over HTTPS trusting the test CA: status and body.
fn curl(pki: &Pki, method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "20",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "-X",
        method,
    ])
    .arg("--cacert")
    .arg(&pki.ca_cert)
    .arg(url);
    if let Some(b) = body {
        cmd.args(["-H", "content-type: application/json", "--data-binary", b]);
    }
    let out = cmd.output().expect("curl (Debian package `curl`)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn pod_review(image: &str) -> String {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "default",
            "operation": "CREATE",
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "namespace": "default"},
                "spec": {"containers": [{"name": "app", "image": image}]}
            },
            "dryRun": false
        }
    })
    .to_string()
}

fn policy(w: &World, repo: &str, key: &Path, requirement: &str) -> std::path::PathBuf {
    let path = w.path("policy.yaml");
    let requirement = requirement.replace("KEY", &key.display().to_string());
    std::fs::write(
        &path,
        format!(
            "apiVersion: hallmark/v1\nkind: Policy\ndefault: allow\nrules:\n  - name: team\n    \
             images: [\"{repo}\"]\n    require:\n      - {requirement}\n"
        ),
    )
    .unwrap();
    path
}

fn allowed(pki: &Pki, url: &str, image: &str) -> Value {
    let (status, body) = curl(
        pki,
        "POST",
        &format!("{url}/validate"),
        Some(&pod_review(image)),
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
    v["response"].clone()
}

#[test]
fn admission_serve_decides_over_https_reloads_on_sighup_and_logs_decisions() {
    let w = World::new();
    let pki = Pki::new(&w.path("pki"));
    let key = w.key("k", "pw");
    let images = w.seed("admission", 1);
    let image = images[0].by_tag();
    w.sign(&key, &[&image]);
    let policy = policy(&w, &images[0].repo, &key.public, "cosign: {keys: [KEY]}");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let server = Running::start(
        &w,
        &[
            "admission",
            "serve",
            "--addr",
            &addr,
            "--policy",
            policy.to_str().unwrap(),
            "--decision-log",
            "-",
            "--reload-interval",
            "1h",
        ],
        port,
        "/readyz",
        &pki,
    );
    assert_eq!(allowed(&pki, &server.url, &image)["allowed"], true);

    // The policy changes; only SIGHUP (not the hour-long file check) makes it count.
    std::fs::write(
        &policy,
        format!(
            "apiVersion: hallmark/v1\nkind: Policy\ndefault: allow\nrules:\n  - name: frozen\n    \
             images: [\"{}\"]\n    require:\n      - reject: {{message: frozen for audit}}\n",
            images[0].repo
        ),
    )
    .unwrap();
    signal(server.daemon.pid(), "HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    let denied = loop {
        let r = allowed(&pki, &server.url, &image);
        if r["allowed"] == false {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the policy"
        );
        thread::sleep(Duration::from_millis(50));
    };
    assert!(
        denied["status"]["message"]
            .as_str()
            .unwrap()
            .contains("frozen for audit"),
        "{denied}"
    );
    let (status, metrics) = curl(&pki, "GET", &format!("{}/metrics", server.url), None);
    assert_eq!(status, 200);
    assert!(
        metrics.contains("hallmark_admission_policy_reloads_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hallmark_serve_requests_total"),
        "{metrics}"
    );
    let stderr = server.stderr();
    let lines: Vec<Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["result"] == "allow" && l["rule"] == "team"),
        "{stderr}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["result"] == "deny" && l["rule"] == "frozen"),
        "{stderr}"
    );
    assert!(server.stop().success());
}

#[test]
fn serve_mounts_trust_log_and_admission_in_one_process_each_answering_as_alone() {
    let w = World::new();
    let pki = Pki::new(&w.path("pki"));
    let key = w.key("k", "pw");
    let images = w.seed("serve", 1);
    let image = images[0].by_tag();
    let policy = policy(&w, &images[0].repo, &key.public, "cosign: {keys: [KEY]}");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let server = Running::start(
        &w,
        &[
            "serve",
            "--addr",
            &addr,
            "--trust",
            "--trust-data-dir",
            w.path("trust").to_str().unwrap(),
            "--log",
            "--log-data-dir",
            w.path("log").to_str().unwrap(),
            "--admission",
            "--policy",
            policy.to_str().unwrap(),
            "--deny-ttl",
            "0s",
        ],
        port,
        "/readyz",
        &pki,
    );
    // The trust server: notary's health endpoint and a 404 for a repository with no data.
    let (status, _) = curl(
        &pki,
        "GET",
        &format!("{}/_notary_server/health", server.url),
        None,
    );
    assert_eq!(status, 200);
    let (status, body) = curl(
        &pki,
        "GET",
        &format!("{}/v2/{}/none/_trust/tuf/root.json", server.url, registry()),
        None,
    );
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("METADATA_NOT_FOUND"), "{body}");
    // The log: its info and a checkpoint.
    let (status, body) = curl(&pki, "GET", &format!("{}/api/v1/log", server.url), None);
    assert_eq!(status, 200, "{body}");
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["treeSize"], 0);
    let (status, body) = curl(&pki, "GET", &format!("{}/checkpoint", server.url), None);
    assert_eq!(status, 200, "{body}");
    // The webhook: the unsigned image is denied, then signed and admitted.
    let r = allowed(&pki, &server.url, &image);
    assert_eq!(r["allowed"], false, "{r}");
    w.sign(&key, &[&image]);
    // Denials are not cached here (--deny-ttl 0s): the same request is now admitted.
    let r = allowed(&pki, &server.url, &image);
    assert_eq!(r["allowed"], true, "{r}");
    // One /metrics for the process; paths no service answers are 404.
    let (_, metrics) = curl(&pki, "GET", &format!("{}/metrics", server.url), None);
    assert!(
        metrics.contains("hallmark_admission_decisions_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hallmark_serve_requests_total"),
        "{metrics}"
    );
    let (status, _) = curl(&pki, "GET", &format!("{}/nothing-here", server.url), None);
    assert_eq!(status, 404);
    assert!(server.stop().success(), "one shutdown path, exit 0");
}

#[test]
fn servers_refuse_setups_that_would_expose_or_skip_tls() {
    let w = World::new();
    let key = w.key("k", "pw");
    let policy = policy(&w, "example.com/**", &key.public, "cosign: {keys: [KEY]}");
    let p = policy.to_str().unwrap();
    w.hm(["admission", "serve", "--policy", p, "--addr", "127.0.0.1:0"])
        .run()
        .failure(&["HTTPS", "--tls-cert"]);
    w.hm([
        "admission",
        "serve",
        "--policy",
        p,
        "--addr",
        "0.0.0.0:0",
        "--tls-cert",
        "c.pem",
        "--tls-key",
        "k.pem",
    ])
    .run()
    .failure(&["not a loopback address", "--allow-remote"]);
    w.hm(["serve", "--addr", "127.0.0.1:0"])
        .run()
        .failure(&["--trust", "--log", "--admission"]);
    w.hm(["serve", "--addr", "127.0.0.1:0", "--log"])
        .run()
        .failure(&["--log-data-dir"]);
    // The proxy and the trust server both answer /v2/: not on one address.
    let upstream = format!("http://{}", registry());
    let trust_dir = w.path("trust-data");
    w.hm([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--proxy",
        "--upstream",
        &upstream,
        "--policy",
        p,
        "--trust",
        "--trust-data-dir",
        trust_dir.to_str().unwrap(),
    ])
    .run()
    .failure(&["both claim", "/v2", "own address"]);
    std::fs::write(
        w.path("broken.yaml"),
        "apiVersion: hallmark/v1\nkind: Policy\nrules: 3\n",
    )
    .unwrap();
    let pki = Pki::new(&w.path("pki"));
    let out = w
        .hm([
            "admission",
            "serve",
            "--policy",
            "broken.yaml",
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            pki.server_cert.to_str().unwrap(),
            "--tls-key",
            pki.server_key.to_str().unwrap(),
        ])
        .run();
    assert_eq!(
        out.code,
        Some(2),
        "a policy that does not load: exit 2; {out}"
    );
    assert!(out.stderr.contains("broken.yaml"), "{out}");
}
