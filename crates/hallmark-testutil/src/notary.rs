//! Notary 0.7.0 (Debian package `notary`) for interop tests: a small test PKI made with the
//! `openssl` CLI, a runner for the `notary` CLI, and the real `notary-server` + `notary-signer`
//! started on 127.0.0.1 with memory storage.
//!
//! - [`Pki::new`] makes a CA (EC P-256) and a server certificate with subjectAltName
//!   `IP:127.0.0.1, DNS:localhost` (the Go in notary ignores the CN), plus client certificates on
//!   request ([`Pki::issue`]). Keys are unencrypted PKCS#8 PEM, files 0600.
//! - [`NotaryCli`] runs `notary -d TRUST_DIR -s URL --tlscacert CA ...` with stdin closed, the
//!   `NOTARY_*_PASSPHRASE` variables set to [`PASSPHRASE`] and a hard timeout of
//!   [`NOTARY_TIMEOUT`].
//! - [`NotaryServer::start`] starts notary-signer (gRPC, mutual TLS, memory storage) and
//!   notary-server (HTTPS, memory storage, remote trust service, `ecdsa` keys) as the interop
//!   harness does. Both are killed by PID on drop; a `sh` watchdog kills them if the test
//!   process dies first.
//!
//! Executables are found on `PATH`, or through `HALLMARK_NOTARY`, `HALLMARK_NOTARY_SERVER` and
//! `HALLMARK_NOTARY_SIGNER`.
//!
//! ```no_run
//! use hallmark_testutil::notary::{NotaryCli, NotaryServer, Pki};
//! let dir = tempfile::tempdir().unwrap();
//! let pki = Pki::new(dir.path());
//! let server = NotaryServer::start(&pki);
//! let cli = NotaryCli::new(&dir.path().join("trust"), &server.url(), &pki.ca_cert);
//! cli.run(["init", "-p", "example.com/app"]).assert_success();
//! ```

use crate::process::{drain, free_port, process_alive, signal, wait_bounded};
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Hard limit for one `notary` CLI run (killed when it runs longer).
pub const NOTARY_TIMEOUT: Duration = Duration::from_secs(120);

/// How long notary-server and notary-signer may take to listen.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The passphrase [`NotaryCli`] gives notary for every key (root, targets, snapshot,
/// delegation).
pub const PASSPHRASE: &str = "hallmark-test-passphrase";

/// Environment variable naming the `notary` CLI executable (default: `notary` on `PATH`).
pub const NOTARY_ENV: &str = "HALLMARK_NOTARY";
/// Environment variable naming `notary-server` (default: on `PATH`).
pub const NOTARY_SERVER_ENV: &str = "HALLMARK_NOTARY_SERVER";
/// Environment variable naming `notary-signer` (default: on `PATH`).
pub const NOTARY_SIGNER_ENV: &str = "HALLMARK_NOTARY_SIGNER";

fn tool(env: &str, default: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(default);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from(default)
}

/// Whether the notary 0.7.0 executables (`notary`, `notary-server`, `notary-signer`) are
/// installed, for tests that skip without them. Under CI (`CI` set and not `false`/`0`) a
/// missing notary panics instead, so the suite cannot pass without running them.
#[track_caller]
pub fn notary_available() -> bool {
    let missing: Vec<PathBuf> = [
        tool(NOTARY_ENV, "notary"),
        tool(NOTARY_SERVER_ENV, "notary-server"),
        tool(NOTARY_SIGNER_ENV, "notary-signer"),
    ]
    .into_iter()
    .filter(|p| !p.is_file())
    .collect();
    if missing.is_empty() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "CI is set but notary 0.7.0 is missing ({missing:?}): install the Debian package `notary`"
    );
    eprintln!("notary 0.7.0 not installed ({missing:?}); skipping");
    false
}

/// A test certificate authority and certificates it issued, as PEM files in one directory.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The directory holding every file.
    pub dir: PathBuf,
    /// The CA certificate (PEM).
    pub ca_cert: PathBuf,
    /// The CA private key (PKCS#8 PEM).
    pub ca_key: PathBuf,
    /// A server certificate for `127.0.0.1` and `localhost` (PEM), signed by the CA.
    pub server_cert: PathBuf,
    /// The server certificate's private key (PKCS#8 PEM).
    pub server_key: PathBuf,
}

const EXTENSIONS: &str = "\
[x_srv]
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,DNS:notary-server,DNS:notarysigner,IP:127.0.0.1
[x_client]
basicConstraints=CA:FALSE
keyUsage=digitalSignature
extendedKeyUsage=clientAuth
[x_leaf]
basicConstraints=CA:FALSE
keyUsage=digitalSignature
[x_testca]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
";

#[track_caller]
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (Debian package `openssl`): {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o600));
}

impl Pki {
    /// Makes a CA (`CN=Test Notary Root CA`, 30 days) and a server certificate
    /// (`CN=notary-server`, SAN `IP:127.0.0.1`, `DNS:localhost`) in `dir` (created if missing).
    ///
    /// # Panics
    ///
    /// If openssl fails.
    #[track_caller]
    pub fn new(dir: &Path) -> Self {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        fs::write(dir.join("ext.cnf"), EXTENSIONS)
            .unwrap_or_else(|e| panic!("writing ext.cnf: {e}"));
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "ca.key",
            ],
        );
        restrict(&dir.join("ca.key"));
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "ca.key",
                "-sha256",
                "-days",
                "30",
                "-subj",
                "/CN=Test Notary Root CA",
                "-extensions",
                "x_testca",
                "-config",
                "ext.cnf",
                "-out",
                "ca.crt",
            ],
        );
        let pki = Self {
            dir: dir.to_path_buf(),
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
        };
        pki.issue_with("server", "notary-server", "x_srv");
        pki
    }

    /// Issues a client certificate (`extendedKeyUsage=clientAuth`) with common name `cn`;
    /// returns the certificate and key paths (`NAME.crt`, `NAME.key`).
    #[track_caller]
    pub fn issue(&self, name: &str, cn: &str) -> (PathBuf, PathBuf) {
        self.issue_with(name, cn, "x_client")
    }

    /// Issues a plain signing certificate (no extended key usage), e.g. for a token issuer;
    /// returns the certificate and key paths (`NAME.crt`, `NAME.key`).
    #[track_caller]
    pub fn issue_signing(&self, name: &str, cn: &str) -> (PathBuf, PathBuf) {
        self.issue_with(name, cn, "x_leaf")
    }

    #[track_caller]
    fn issue_with(&self, name: &str, cn: &str, extensions: &str) -> (PathBuf, PathBuf) {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let crt = format!("{name}.crt");
        openssl(
            &self.dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &key,
            ],
        );
        restrict(&self.dir.join(&key));
        openssl(
            &self.dir,
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-subj",
                &format!("/CN={cn}"),
                "-config",
                "ext.cnf",
                "-out",
                &csr,
            ],
        );
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "30",
                "-sha256",
                "-extfile",
                "ext.cnf",
                "-extensions",
                extensions,
                "-out",
                &crt,
            ],
        );
        (self.dir.join(crt), self.dir.join(key))
    }
}

/// The outcome of one `notary` CLI run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotaryResult {
    /// Exit status 0 (false when it failed, was killed or timed out).
    pub success: bool,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr (plus a note if it was killed on timeout).
    pub stderr: String,
}

impl NotaryResult {
    /// Panics with notary's output unless it succeeded.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.success, "notary failed:\n{self}");
        self
    }

    /// Panics unless notary failed and its stdout or stderr contains `needle`.
    #[track_caller]
    pub fn assert_failure_containing(&self, needle: &str) -> &Self {
        assert!(!self.success, "notary unexpectedly succeeded:\n{self}");
        assert!(
            self.stderr.contains(needle) || self.stdout.contains(needle),
            "notary failed, but its output lacks {needle:?}:\n{self}"
        );
        self
    }
}

impl fmt::Display for NotaryResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "success: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.success,
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

/// The `notary` CLI bound to one trust directory, server and CA.
#[derive(Debug, Clone)]
pub struct NotaryCli {
    /// The trust directory (`-d`).
    pub trust_dir: PathBuf,
    /// The server URL (`-s`).
    pub server_url: String,
    /// The CA file (`--tlscacert`).
    pub ca_file: PathBuf,
    /// Extra environment variables for every run.
    pub env: Vec<(String, String)>,
}

impl NotaryCli {
    /// A runner for `notary -d trust_dir -s server_url --tlscacert ca_file`.
    pub fn new(trust_dir: &Path, server_url: &str, ca_file: &Path) -> Self {
        Self {
            trust_dir: trust_dir.to_path_buf(),
            server_url: server_url.to_string(),
            ca_file: ca_file.to_path_buf(),
            env: Vec::new(),
        }
    }

    /// Runs `notary` with the common flags, then `args`.
    pub fn run<I, S>(&self, args: I) -> NotaryResult
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run_with_input(args, None)
    }

    /// Runs `notary` with `input` on its standard input (e.g. `"yes\n"` for the confirmation
    /// `notary key rotate GUN root` asks for; with no input it aborts and exits 0).
    pub fn run_with_input<I, S>(&self, args: I, input: Option<&str>) -> NotaryResult
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(tool(NOTARY_ENV, "notary"));
        cmd.arg("-d")
            .arg(&self.trust_dir)
            .arg("-s")
            .arg(&self.server_url)
            .arg("--tlscacert")
            .arg(&self.ca_file)
            .args(args);
        for role in ["ROOT", "TARGETS", "SNAPSHOT", "DELEGATION"] {
            cmd.env(format!("NOTARY_{role}_PASSPHRASE"), PASSPHRASE);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        run_bounded(cmd, NOTARY_TIMEOUT, input)
    }

    /// Makes a delegation key the way the notary 0.7.0 CLI accepts one (an openssl P-256 key,
    /// imported with `notary key import --role ROLE`), and returns the public key PEM path
    /// (`NAME.pub.pem` in `dir`).
    #[track_caller]
    pub fn make_delegation_key(&self, dir: &Path, name: &str) -> PathBuf {
        let key = format!("{name}-key.pem");
        let public = format!("{name}.pub.pem");
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &key,
            ],
        );
        restrict(&dir.join(&key));
        openssl(dir, &["pkey", "-in", &key, "-pubout", "-out", &public]);
        let key_path = dir.join(&key);
        self.run([
            OsStr::new("key"),
            OsStr::new("import"),
            key_path.as_os_str(),
            OsStr::new("--role"),
            OsStr::new(name),
        ])
        .assert_success();
        dir.join(public)
    }
}

/// Runs `cmd` with stdin closed and output captured; kills it after `timeout`.
pub fn run_with_timeout(cmd: Command, timeout: Duration) -> NotaryResult {
    run_bounded(cmd, timeout, None)
}

fn run_bounded(mut cmd: Command, timeout: Duration, input: Option<&str>) -> NotaryResult {
    use std::io::Write as _;
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        // A child that exits without reading closes the pipe; that is not an error here.
        let _ = stdin.write_all(text.as_bytes());
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let (status, timed_out) = wait_bounded(&mut child, timeout);
    let stdout = stdout.join().unwrap_or_default();
    let mut stderr = stderr.join().unwrap_or_default();
    if timed_out {
        stderr.push_str(&format!(
            "\n[hallmark-testutil] {program} killed after {}s\n",
            timeout.as_secs()
        ));
    }
    NotaryResult {
        success: !timed_out && status.is_some_and(|s| s.success()),
        stdout,
        stderr,
    }
}

/// The real notary-server 0.7.0 with notary-signer 0.7.0, memory storage, on 127.0.0.1.
#[derive(Debug)]
pub struct NotaryServer {
    port: u16,
    server: Child,
    signer: Child,
    watchdog: Option<Child>,
    dir: PathBuf,
    /// The CA that signed the server certificate (pass it to clients).
    pub ca_cert: PathBuf,
}

fn wait_listening(port: u16, child: &mut Child, what: &str, log: &Path) {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited with {status} before listening:\n{}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!(
                "{what} did not listen on 127.0.0.1:{port} within {}s:\n{}",
                STARTUP_TIMEOUT.as_secs(),
                fs::read_to_string(log).unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn spawn_logged(program: PathBuf, args: &[&str], dir: &Path, log: &str) -> Child {
    let out = fs::File::create(dir.join(log)).unwrap_or_else(|e| panic!("creating {log}: {e}"));
    let err = out
        .try_clone()
        .unwrap_or_else(|e| panic!("cloning {log}: {e}"));
    Command::new(&program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()))
}

impl NotaryServer {
    /// Starts notary-signer and notary-server (ecdsa keys, memory storage) with certificates
    /// of `pki` (a `notary-signer` client/server certificate is issued in `pki.dir`). Waits
    /// until the server answers on its port.
    ///
    /// # Panics
    ///
    /// If either does not start within [`STARTUP_TIMEOUT`].
    #[track_caller]
    pub fn start(pki: &Pki) -> Self {
        let dir = pki.dir.join(format!("notary-{}", free_port()));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let (signer_cert, signer_key) = pki.issue_with("notary-signer", "notary-signer", "x_srv");
        let signer_port = free_port();
        let port = free_port();
        let p = |x: &Path| x.display().to_string();
        let signer_config = serde_json::json!({
            "server": {
                "grpc_addr": format!("127.0.0.1:{signer_port}"),
                "tls_cert_file": p(&signer_cert),
                "tls_key_file": p(&signer_key),
                "client_ca_file": p(&pki.ca_cert),
            },
            "logging": {"level": "info"},
            "storage": {"backend": "memory"},
        });
        let server_config = serde_json::json!({
            "server": {
                "http_addr": format!("127.0.0.1:{port}"),
                "tls_cert_file": p(&pki.server_cert),
                "tls_key_file": p(&pki.server_key),
            },
            "trust_service": {
                "type": "remote",
                "hostname": "127.0.0.1",
                "port": signer_port.to_string(),
                "tls_ca_file": p(&pki.ca_cert),
                "key_algorithm": "ecdsa",
                "tls_client_cert": p(&pki.server_cert),
                "tls_client_key": p(&pki.server_key),
            },
            "logging": {"level": "info"},
            "storage": {"backend": "memory"},
        });
        fs::write(dir.join("signer.json"), signer_config.to_string())
            .unwrap_or_else(|e| panic!("writing signer.json: {e}"));
        fs::write(dir.join("server.json"), server_config.to_string())
            .unwrap_or_else(|e| panic!("writing server.json: {e}"));

        let mut signer = spawn_logged(
            tool(NOTARY_SIGNER_ENV, "notary-signer"),
            &["-config", "signer.json", "-logf", "logfmt"],
            &dir,
            "signer.log",
        );
        wait_listening(
            signer_port,
            &mut signer,
            "notary-signer",
            &dir.join("signer.log"),
        );
        let mut server = spawn_logged(
            tool(NOTARY_SERVER_ENV, "notary-server"),
            &["-config", "server.json", "-logf", "logfmt"],
            &dir,
            "server.log",
        );
        wait_listening(port, &mut server, "notary-server", &dir.join("server.log"));
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(
                "while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; kill \"$2\" \"$3\" 2>/dev/null",
            )
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .arg(server.id().to_string())
            .arg(signer.id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
        Self {
            port,
            server,
            signer,
            watchdog,
            dir,
            ca_cert: pki.ca_cert.clone(),
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// notary-server's PID.
    pub fn server_pid(&self) -> u32 {
        self.server.id()
    }

    /// notary-signer's PID.
    pub fn signer_pid(&self) -> u32 {
        self.signer.id()
    }

    /// notary-server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Stops both processes (TERM, then KILL) and the watchdog.
    pub fn stop(&mut self) {
        for child in [&mut self.server, &mut self.signer] {
            let pid = child.id();
            if process_alive(pid) {
                signal(pid, "TERM");
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                    thread::sleep(Duration::from_millis(20));
                }
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

impl Drop for NotaryServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_notary_server_publishes_and_lists() {
        if !notary_available() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki::new(&dir.path().join("pki"));
        let server = NotaryServer::start(&pki);
        let cli = NotaryCli::new(&dir.path().join("trust"), &server.url(), &pki.ca_cert);
        cli.run(["init", "-p", "example.com/testutil"])
            .assert_success();
        let file = dir.path().join("v1.txt");
        fs::write(&file, "hello").expect("write");
        cli.run([
            OsStr::new("add"),
            OsStr::new("-p"),
            OsStr::new("example.com/testutil"),
            OsStr::new("v1"),
            file.as_os_str(),
        ])
        .assert_success();
        let list = cli.run(["list", "example.com/testutil"]);
        list.assert_success();
        assert!(list.stdout.contains("v1"), "{list}");
    }
}
