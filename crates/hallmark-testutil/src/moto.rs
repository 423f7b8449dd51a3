//! moto 5.2.5 (`moto[server]` from PyPI) on loopback: AWS KMS and Secrets Manager.
//!
//! `moto_server` is found through `HALLMARK_MOTO_SERVER` (a path), else `PATH`. [`shared`]
//! starts one server per test binary on a free port and waits (bounded) until `/moto-api/`
//! answers; a `sh` watchdog kills it by PID once the test process is gone. [`start_new`] gives
//! a private server, stopped on drop (for tests that kill it mid-run).
//!
//! Clients use [`MotoServer::aws_env`]: `AWS_ENDPOINT_URL`, test credentials and
//! `us-east-1`. moto signs `MessageType=DIGEST` over sha256(digest) (not what AWS does).

use crate::process::{free_port, process_alive, signal};
use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::OnceLock,
    thread,
    time::{Duration, Instant},
};

/// The environment variable naming the `moto_server` executable.
pub const SERVER_ENV: &str = "HALLMARK_MOTO_SERVER";
/// How long moto may take to answer after it is started.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A running moto server.
#[derive(Debug)]
pub struct MotoServer {
    port: u16,
    pid: u32,
    watchdog: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// The `moto_server` executable, if found.
pub fn server_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(SERVER_ENV) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("moto_server"))
        .find(|p| p.is_file())
}

/// Whether moto can be started here.
pub fn available() -> bool {
    server_binary().is_some()
}

impl MotoServer {
    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The environment an AWS client needs to talk to this server (and nothing else).
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
        ]
    }

    /// POST an AWS JSON 1.1 call (`X-Amz-Target: TARGET`) and return status and body; moto
    /// does not check signatures, so this is enough to set up keys and secrets in tests.
    pub fn call(&self, target: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("connect to moto: {e}"));
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        let host = format!("127.0.0.1:{}", self.port);
        let service = if target.starts_with("TrentService") {
            "kms"
        } else {
            "secretsmanager"
        };
        let req = format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {target}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream
            .write_all(req.as_bytes())
            .unwrap_or_else(|e| panic!("write to moto: {e}"));
        let mut resp = Vec::new();
        let _ = stream.read_to_end(&mut resp);
        let text = String::from_utf8_lossy(&resp).into_owned();
        let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// Call and require a 200, returning the JSON body.
    pub fn call_ok(&self, target: &str, body: &str) -> serde_json::Value {
        let (status, text) = self.call(target, body);
        assert_eq!(status, 200, "{target} {body}: HTTP {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{target}: not JSON ({e}): {text}"))
    }

    /// Create a KMS key (`KeySpec`, `KeyUsage`) and return its key ID.
    pub fn create_kms_key(&self, spec: &str, usage: &str) -> String {
        let v = self.call_ok(
            "TrentService.CreateKey",
            &serde_json::json!({"KeySpec": spec, "KeyUsage": usage, "Description": "hallmark test"}).to_string(),
        );
        v["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap_or_else(|| panic!("CreateKey returned no KeyId: {v}"))
            .to_owned()
    }

    /// Point `alias/NAME` at `key_id`.
    pub fn create_alias(&self, alias: &str, key_id: &str) {
        self.call_ok(
            "TrentService.CreateAlias",
            &serde_json::json!({"AliasName": alias, "TargetKeyId": key_id}).to_string(),
        );
    }

    /// Create a Secrets Manager secret with a string value.
    pub fn create_secret(&self, name: &str, value: &str) {
        self.call_ok(
            "secretsmanager.CreateSecret",
            &serde_json::json!({"Name": name, "SecretString": value}).to_string(),
        );
    }

    /// Stop the server (TERM, then KILL after 5 s). Idempotent.
    pub fn stop(&mut self) {
        signal(self.pid, "TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while process_alive(self.pid) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        if process_alive(self.pid) {
            signal(self.pid, "KILL");
        }
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The moto server shared by this test binary.
///
/// # Panics
///
/// If `moto_server` is not found or does not answer within [`STARTUP_TIMEOUT`].
pub fn shared() -> &'static MotoServer {
    static SHARED: OnceLock<MotoServer> = OnceLock::new();
    SHARED.get_or_init(start_new)
}

const WATCHDOG: &str = r#""$1" -H 127.0.0.1 -p "$2" >>"$4" 2>&1 </dev/null & child=$!
echo "$child" >"$5"
while kill -0 "$3" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
kill "$child" 2>/dev/null
wait "$child" 2>/dev/null"#;

/// A private moto server, stopped when dropped.
///
/// # Panics
///
/// As [`shared`].
pub fn start_new() -> MotoServer {
    let binary = server_binary().unwrap_or_else(|| {
        panic!(
            "moto_server not found: set {SERVER_ENV} or put it on PATH (PyPI moto[server]==5.2.5 in a venv)"
        )
    });
    let dir = tempfile::Builder::new()
        .prefix("hallmark-moto-")
        .tempdir()
        .unwrap_or_else(|e| panic!("temporary directory for moto: {e}"));
    let port = free_port();
    let log = dir.path().join("moto.log");
    let pid_file = dir.path().join("moto.pid");
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("sh")
        .arg(&binary)
        .arg(port.to_string())
        .arg(std::process::id().to_string())
        .arg(&log)
        .arg(&pid_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start sh for moto_server: {e}"));
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let mut pid = None;
    while Instant::now() < deadline {
        if pid.is_none() {
            pid = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok());
        }
        if matches!(watchdog.try_wait(), Ok(Some(_))) {
            break;
        }
        if let Some(p) = pid
            && moto_api_answers(port)
        {
            return MotoServer {
                port,
                pid: p,
                watchdog,
                log,
                _dir: dir,
            };
        }
        thread::sleep(Duration::from_millis(50));
    }
    if let Some(p) = pid {
        signal(p, "KILL");
    }
    let _ = watchdog.kill();
    let _ = watchdog.wait();
    panic!(
        "moto_server on 127.0.0.1:{port} did not answer /moto-api/ within {}s; log:\n{}",
        STARTUP_TIMEOUT.as_secs(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

fn moto_api_answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}
