//! `hallmark trust serve` as a process, driven by the real notary 0.7.0 CLI over TLS (a test
//! CA made with openssl): init, add, publish, list, delegations, publishing through
//! `targets/releases` with a delegation key, `key rotate snapshot -r`, remove, `delete
//! --remote`; what the notary CLI downloaded verifies with hallmark-tuf. And the server's
//! refusal to take anonymous writes on a non-loopback address.

use hallmark_testutil::notary::{NotaryCli, Pki, notary_available};
use hallmark_testutil::process::{free_port, signal};
use std::ffi::OsStr;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A `hallmark trust serve` child process (killed by PID on drop, or by a watchdog when the
/// test process ends without dropping it, as a server kept in a `static` does).
pub struct TrustServe {
    child: Child,
    watchdog: Child,
    /// `https://127.0.0.1:PORT` (or `http://` without TLS).
    pub url: String,
    log: PathBuf,
}

impl TrustServe {
    /// Starts `hallmark trust serve --addr 127.0.0.1:PORT --data-dir DIR [TLS from pki] extra`.
    pub fn start(data_dir: &Path, pki: Option<&Pki>, extra: &[&str]) -> Self {
        let port = free_port();
        let log = data_dir.with_extension("log");
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hallmark"));
        cmd.args([
            "trust",
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
        if let Some(pki) = pki {
            cmd.arg("--tls-cert")
                .arg(&pki.server_cert)
                .arg("--tls-key")
                .arg(&pki.server_key);
        }
        let mut child = cmd.spawn().unwrap();
        let watchdog = hallmark_testutil::process::watchdog(child.id());
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "hallmark trust serve exited with {status}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "hallmark trust serve did not listen within 30 s"
            );
            thread::sleep(Duration::from_millis(20));
        }
        let scheme = if pki.is_some() { "https" } else { "http" };
        Self {
            child,
            watchdog,
            url: format!("{scheme}://127.0.0.1:{port}"),
            log,
        }
    }

    /// The server's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for TrustServe {
    fn drop(&mut self) {
        signal(self.child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

fn args<'a>(a: &'a [&'a OsStr]) -> Vec<&'a OsStr> {
    a.to_vec()
}

/// Verifies the metadata the notary CLI cached for `gun` in its trust directory.
fn verify_notary_cache(
    trust_dir: &Path,
    gun: &str,
    delegations: &[&str],
) -> hallmark_tuf::VerifiedRepo {
    let meta = trust_dir.join("tuf").join(gun).join("metadata");
    let read = |name: &str| {
        std::fs::read(meta.join(format!("{name}.json")))
            .unwrap_or_else(|e| panic!("{name}.json in the notary cache: {e}"))
    };
    let root = read("root");
    let timestamp = read("timestamp");
    let snapshot = read("snapshot");
    let targets = read("targets");
    let dels: Vec<(&str, Vec<u8>)> = delegations.iter().map(|d| (*d, read(d))).collect();
    let files = hallmark_tuf::RepoFiles {
        root_chain: Vec::new(),
        timestamp: &timestamp,
        snapshot: &snapshot,
        targets: &targets,
        delegations: dels.iter().map(|(n, b)| (*n, b.as_slice())).collect(),
    };
    hallmark_tuf::verify_repo(
        &root,
        &files,
        &hallmark_tuf::TrustedVersions::default(),
        time::OffsetDateTime::now_utc(),
        &hallmark_tuf::Limits::default(),
    )
    .unwrap_or_else(|e| panic!("what notary downloaded from hallmark does not verify: {e}"))
}

#[test]
fn notary_cli_publishes_delegates_rotates_and_deletes_on_hallmark() {
    if !notary_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let server = TrustServe::start(&dir.path().join("data"), Some(&pki), &[]);
    let trust = dir.path().join("trust");
    let cli = NotaryCli::new(&trust, &server.url, &pki.ca_cert);
    let gun = "example.com/hallmark/app";
    let file = |name: &str, content: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    };
    let (v1, v2, v3) = (
        file("v1.txt", "hello v1"),
        file("v2.txt", "hello v2"),
        file("v3.txt", "hello v3"),
    );
    let ok = |a: &[&OsStr]| {
        let r = cli.run(args(a));
        assert!(
            r.success,
            "notary {a:?} failed:\n{r}\n--- server ---\n{}",
            server.log()
        );
        r
    };
    ok(&["init".as_ref(), "-p".as_ref(), gun.as_ref()]);
    ok(&[
        "add".as_ref(),
        "-p".as_ref(),
        gun.as_ref(),
        "v1".as_ref(),
        v1.as_os_str(),
    ]);
    let list = ok(&["list".as_ref(), gun.as_ref()]);
    assert!(list.stdout.contains("v1"), "{list}");
    verify_notary_cache(&trust, gun, &[]);

    // Delegations as docker trust signer add makes them: targets/releases and targets/alice.
    let alice = cli.make_delegation_key(dir.path(), "alice");
    ok(&[
        "delegation".as_ref(),
        "add".as_ref(),
        gun.as_ref(),
        "targets/releases".as_ref(),
        alice.as_os_str(),
        "--all-paths".as_ref(),
    ]);
    ok(&[
        "delegation".as_ref(),
        "add".as_ref(),
        "-p".as_ref(),
        gun.as_ref(),
        "targets/alice".as_ref(),
        alice.as_os_str(),
        "--all-paths".as_ref(),
    ]);
    let dl = ok(&["delegation".as_ref(), "list".as_ref(), gun.as_ref()]);
    assert!(
        dl.stdout.contains("targets/releases") && dl.stdout.contains("targets/alice"),
        "{dl}"
    );
    ok(&[
        "add".as_ref(),
        "-p".as_ref(),
        gun.as_ref(),
        "v2".as_ref(),
        v2.as_os_str(),
        "--roles".as_ref(),
        "targets/releases".as_ref(),
    ]);
    let rel = ok(&[
        "list".as_ref(),
        gun.as_ref(),
        "--roles".as_ref(),
        "targets/releases".as_ref(),
    ]);
    assert!(rel.stdout.contains("v2"), "{rel}");
    let repo = verify_notary_cache(&trust, gun, &["targets/releases"]);
    assert_eq!(repo.resolve("v2").unwrap().role, "targets/releases");

    // Snapshot key to the server, then more publishes signed by the server's snapshot key.
    ok(&[
        "key".as_ref(),
        "rotate".as_ref(),
        gun.as_ref(),
        "snapshot".as_ref(),
        "-r".as_ref(),
    ]);
    ok(&[
        "add".as_ref(),
        "-p".as_ref(),
        gun.as_ref(),
        "v3".as_ref(),
        v3.as_os_str(),
    ]);
    ok(&[
        "remove".as_ref(),
        "-p".as_ref(),
        gun.as_ref(),
        "v1".as_ref(),
    ]);
    let list = ok(&["list".as_ref(), gun.as_ref()]);
    assert!(
        list.stdout.contains("v2") && list.stdout.contains("v3") && !list.stdout.contains("v1 "),
        "{list}"
    );
    ok(&[
        "verify".as_ref(),
        "-q".as_ref(),
        "-i".as_ref(),
        v2.as_os_str(),
        gun.as_ref(),
        "v2".as_ref(),
    ]);
    // A fresh client (no cache) reads everything back and it verifies.
    let fresh_trust = dir.path().join("fresh");
    let fresh = NotaryCli::new(&fresh_trust, &server.url, &pki.ca_cert);
    let l = fresh.run(["list", gun]);
    assert!(l.success && l.stdout.contains("v3"), "{l}");
    let repo = verify_notary_cache(&fresh_trust, gun, &["targets/releases"]);
    assert!(repo.resolve("v3").is_some() && repo.resolve("v1").is_none());
    let root: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fresh_trust.join("tuf").join(gun).join("metadata/root.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        root["signed"]["version"], 2,
        "the snapshot rotation published root v2"
    );

    // delete --remote on a throwaway GUN.
    let throwaway = "example.com/hallmark/throwaway";
    ok(&["init".as_ref(), "-p".as_ref(), throwaway.as_ref()]);
    ok(&["delete".as_ref(), "--remote".as_ref(), throwaway.as_ref()]);
    let gone = NotaryCli::new(&dir.path().join("after-delete"), &server.url, &pki.ca_cert)
        .run(["list", throwaway]);
    assert!(!gone.success, "{gone}");
    assert!(
        format!("{}{}", gone.stdout, gone.stderr).contains("does not have trust data"),
        "{gone}"
    );
}

#[test]
fn trust_serve_refuses_anonymous_writes_on_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_hallmark"))
        .args([
            "trust",
            "serve",
            "--addr",
            &format!("0.0.0.0:{port}"),
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("loopback") && stderr.contains("--auth none"),
        "{stderr}"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "it must not have listened"
    );

    // --auth mtls without TLS is refused too.
    let out = Command::new(env!("CARGO_BIN_EXE_hallmark"))
        .args([
            "trust",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--auth",
            "mtls",
            "--client-ca",
        ])
        .arg(dir.path().join("missing-ca.pem"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// A token server for the test: answers every `GET /token?service=..&scope=..` with a JWT
/// (ES256, x5c = the issuer certificate) granting exactly the requested scopes, as a registry's
/// token server does for an authorised user. Returns its port.
fn token_server(issuer_key: &Path, issuer_cert: &Path) -> u16 {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use std::io::{BufRead as _, BufReader, Write as _};
    let sec1 = Command::new("openssl")
        .args(["ec", "-in"])
        .arg(issuer_key)
        .args(["-outform", "DER"])
        .output()
        .unwrap();
    assert!(sec1.status.success());
    let key = hallmark_tuf::PrivateKey::from_ecdsa_sec1_der(&sec1.stdout).unwrap();
    let pem = std::fs::read_to_string(issuer_cert).unwrap();
    let cert_der = pem_der(&pem);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
            }
            let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let query = target
                .split_once('?')
                .map(|(_, q)| q.to_string())
                .unwrap_or_default();
            let decode = |s: &str| {
                let b = s.as_bytes();
                let mut out = Vec::new();
                let mut i = 0;
                while i < b.len() {
                    match b[i] {
                        b'%' if i + 2 < b.len() => {
                            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
                            i += 3;
                        }
                        b'+' => {
                            out.push(b' ');
                            i += 1;
                        }
                        c => {
                            out.push(c);
                            i += 1;
                        }
                    }
                }
                String::from_utf8_lossy(&out).into_owned()
            };
            let mut access = Vec::new();
            for kv in query.split('&') {
                if let Some(scope) = kv.strip_prefix("scope=") {
                    for one in decode(scope).split(' ') {
                        let parts: Vec<&str> = one.splitn(3, ':').collect();
                        if parts.len() == 3 {
                            let name = parts[1].to_string();
                            let actions: Vec<&str> = parts[2].split(',').collect();
                            access.push(serde_json::json!({"type": parts[0], "name": name, "actions": actions}));
                        }
                    }
                }
            }
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "x5c": [STANDARD.encode(&cert_der)]});
            let claims = serde_json::json!({"iss": "test-issuer", "aud": "hallmark-test", "sub": "tester",
                "exp": now + 300, "nbf": now - 10, "iat": now, "access": access});
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let sig = key.sign(input.as_bytes()).unwrap().sig;
            let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
            let body =
                serde_json::json!({"token": token, "access_token": token, "expires_in": 300})
                    .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn pem_der(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

#[test]
fn notary_cli_gets_tokens_and_publishes_on_hallmark_with_token_auth() {
    if !notary_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let (issuer_crt, issuer_key) = pki.issue_signing("issuer", "token-issuer");
    let token_port = token_server(&issuer_key, &issuer_crt);
    let realm = format!("http://127.0.0.1:{token_port}/token");
    let ca = pki.ca_cert.display().to_string();
    let server = TrustServe::start(
        &dir.path().join("data"),
        Some(&pki),
        &[
            "--auth",
            "token",
            "--auth-realm",
            &realm,
            "--auth-service",
            "hallmark-test",
            "--auth-issuer",
            "test-issuer",
            "--auth-root-cert",
            &ca,
        ],
    );
    let cli = NotaryCli::new(&dir.path().join("trust"), &server.url, &pki.ca_cert);
    let gun = "example.com/hallmark/tokens";
    let f = dir.path().join("f.txt");
    std::fs::write(&f, "content").unwrap();
    for a in [
        vec!["init".as_ref(), "-p".as_ref(), gun.as_ref()],
        vec![
            "add".as_ref(),
            "-p".as_ref(),
            gun.as_ref(),
            "v1".as_ref(),
            f.as_os_str(),
        ],
        vec![
            "key".as_ref(),
            "rotate".as_ref(),
            gun.as_ref(),
            "snapshot".as_ref(),
            "-r".as_ref(),
        ],
        vec!["delete".as_ref(), "--remote".as_ref(), gun.as_ref()],
    ] {
        let a: Vec<&OsStr> = a;
        let r = cli.run(&a);
        assert!(
            r.success,
            "notary {a:?}:\n{r}\n--- server ---\n{}",
            server.log()
        );
    }

    // Without a token server that grants push, the publish is refused.
    let no_tokens = TrustServe::start(
        &dir.path().join("data2"),
        Some(&pki),
        &[
            "--auth",
            "token",
            "--auth-realm",
            "http://127.0.0.1:9/token",
            "--auth-service",
            "hallmark-test",
            "--auth-issuer",
            "test-issuer",
            "--auth-root-cert",
            &ca,
        ],
    );
    let r = NotaryCli::new(&dir.path().join("trust2"), &no_tokens.url, &pki.ca_cert)
        .run(["init", "-p", gun]);
    assert!(!r.success, "{r}");
}

#[test]
fn notary_cli_with_a_client_certificate_publishes_on_hallmark_with_mtls() {
    if !notary_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let (crt, key) = pki.issue("client", "publisher");
    let ca = pki.ca_cert.display().to_string();
    let server = TrustServe::start(
        &dir.path().join("data"),
        Some(&pki),
        &["--auth", "mtls", "--client-ca", &ca],
    );
    let gun = "example.com/hallmark/mtls";
    let f = dir.path().join("f.txt");
    std::fs::write(&f, "content").unwrap();
    let cli = NotaryCli::new(&dir.path().join("trust"), &server.url, &pki.ca_cert);
    let with_cert = |a: &[&OsStr]| {
        let mut all: Vec<&OsStr> = vec![
            "--tlscert".as_ref(),
            crt.as_os_str(),
            "--tlskey".as_ref(),
            key.as_os_str(),
        ];
        all.extend_from_slice(a);
        cli.run(all)
    };
    for a in [
        vec!["init".as_ref(), "-p".as_ref(), gun.as_ref()],
        vec![
            "add".as_ref(),
            "-p".as_ref(),
            gun.as_ref(),
            "v1".as_ref(),
            f.as_os_str(),
        ],
    ] {
        let r = with_cert(&a);
        assert!(
            r.success,
            "notary {a:?}:\n{r}\n--- server ---\n{}",
            server.log()
        );
    }
    // Reads need no certificate; writes do.
    let anon = NotaryCli::new(&dir.path().join("anon"), &server.url, &pki.ca_cert);
    let l = anon.run(["list", gun]);
    assert!(l.success && l.stdout.contains("v1"), "{l}");
    let r = anon.run(["init", "-p", "example.com/hallmark/mtls-anon"]);
    assert!(!r.success, "{r}");
    assert!(format!("{}{}", r.stdout, r.stderr).contains("401"), "{r}");
}

#[test]
fn notary_cli_rotates_root_and_targets_keys_on_hallmark() {
    if !notary_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let server = TrustServe::start(&dir.path().join("data"), Some(&pki), &[]);
    let gun = "example.com/hallmark/rotate";
    let f = dir.path().join("f.txt");
    std::fs::write(&f, "content").unwrap();
    let publisher = NotaryCli::new(&dir.path().join("publisher"), &server.url, &pki.ca_cert);
    let reader = NotaryCli::new(&dir.path().join("reader"), &server.url, &pki.ca_cert);
    let ok = |cli: &NotaryCli, a: &[&OsStr]| {
        let r = cli.run(a.to_vec());
        assert!(
            r.success,
            "notary {a:?}:\n{r}\n--- server ---\n{}",
            server.log()
        );
        r
    };
    ok(&publisher, &["init".as_ref(), "-p".as_ref(), gun.as_ref()]);
    ok(
        &publisher,
        &[
            "add".as_ref(),
            "-p".as_ref(),
            gun.as_ref(),
            "v1".as_ref(),
            f.as_os_str(),
        ],
    );
    // The reader trusts root version 1 from here on.
    assert!(
        ok(&reader, &["list".as_ref(), gun.as_ref()])
            .stdout
            .contains("v1")
    );
    let reader_root = dir
        .path()
        .join("reader/tuf")
        .join(gun)
        .join("metadata/root.json");
    let root_v1: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&reader_root).unwrap()).unwrap();

    let r = publisher.run_with_input(["key", "rotate", gun, "root"], Some("yes\n"));
    assert!(
        r.success && r.stdout.contains("Successfully rotated root key"),
        "{r}"
    );
    ok(
        &publisher,
        &[
            "key".as_ref(),
            "rotate".as_ref(),
            gun.as_ref(),
            "targets".as_ref(),
        ],
    );
    ok(
        &publisher,
        &[
            "add".as_ref(),
            "-p".as_ref(),
            gun.as_ref(),
            "v2".as_ref(),
            f.as_os_str(),
        ],
    );
    // The reader walks the root chain (N.root.json) from version 1 and accepts the rotation.
    let l = ok(&reader, &["list".as_ref(), gun.as_ref()]);
    assert!(l.stdout.contains("v1") && l.stdout.contains("v2"), "{l}");
    let root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&reader_root).unwrap()).unwrap();
    assert!(root["signed"]["version"].as_u64() > root_v1["signed"]["version"].as_u64());
    for role in ["root", "targets"] {
        assert_ne!(
            root["signed"]["roles"][role]["keyids"], root_v1["signed"]["roles"][role]["keyids"],
            "{role} key rotated"
        );
    }
    verify_notary_cache(&dir.path().join("reader"), gun, &[]);
}
