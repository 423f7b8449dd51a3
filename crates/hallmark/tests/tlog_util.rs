//! A `hallmark log serve` process per test (the real binary on a free 127.0.0.1 port, a
//! temporary data directory, killed when dropped), and helpers around it.

use crate::util::{Output, World, http, run_tool};
use serde_json::Value;
use std::{
    ffi::OsStr,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

/// A running `hallmark log serve`.
pub struct LogServer {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Where its stderr goes.
    log_file: PathBuf,
}

/// A free port on 127.0.0.1 (bound, then released).
fn free_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

impl LogServer {
    /// Start a log with a fresh data directory under the test's world.
    pub fn start(w: &World, name: &str) -> Self {
        let data_dir = w.path(name);
        std::fs::create_dir_all(&data_dir).unwrap();
        Self::start_in(&data_dir, None)
    }

    /// Start a log on `data_dir` (which may hold another log's key), with `origin` if given.
    pub fn start_in(data_dir: &Path, origin: Option<&str>) -> Self {
        Self::start_with(data_dir, origin, &[])
    }

    /// [`LogServer::start_in`] with more `log serve` arguments.
    pub fn start_with(data_dir: &Path, origin: Option<&str>, extra: &[&OsStr]) -> Self {
        let mut last = String::new();
        // The port may be taken between choosing and binding: try a few.
        for _ in 0..5 {
            let addr = free_addr();
            let log_file = data_dir.with_extension(format!("{}.log", addr.replace(':', "_")));
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_hallmark"));
            cmd.args(["log", "serve", "--addr", &addr, "--data-dir"])
                .arg(data_dir)
                .env_remove("HALLMARK_LOG_DATABASE")
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log_file).unwrap());
            if let Some(o) = origin {
                cmd.args(["--origin", o]);
            }
            cmd.args(extra);
            let child = cmd.spawn().expect("starting hallmark log serve");
            let mut server = LogServer {
                child,
                addr,
                data_dir: data_dir.to_owned(),
                log_file,
            };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(e) => last = e,
            }
        }
        panic!("hallmark log serve did not start: {last}");
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "exited with {status}: {}",
                    std::fs::read_to_string(&self.log_file).unwrap_or_default()
                ));
            }
            if std::net::TcpStream::connect(&self.addr).is_ok() {
                let r = http(&self.addr, "GET", "/api/v1/log", &[], b"");
                if r.status == 200 {
                    return Ok(());
                }
            }
            thread::sleep(Duration::from_millis(50));
        }
        Err("not ready after 30 s".into())
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `GET /api/v1/log`.
    pub fn info(&self) -> Value {
        let r = http(&self.addr, "GET", "/api/v1/log", &[], b"");
        assert_eq!(r.status, 200, "GET /api/v1/log");
        serde_json::from_slice(&r.body).unwrap()
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.info()["treeSize"].as_u64().unwrap()
    }

    /// The checkpoint origin (first line of the signed tree head).
    pub fn origin(&self) -> String {
        self.info()["signedTreeHead"]
            .as_str()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LogServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `hallmark log trusted-root --tlog-url URL --outfile FILE` in `w`; returns the JSON.
pub fn trusted_root(w: &World, log: &LogServer, file: &str) -> Value {
    w.hm([
        "log",
        "trusted-root",
        "--tlog-url",
        &log.url(),
        "--outfile",
        file,
    ])
    .run()
    .success();
    serde_json::from_str(&std::fs::read_to_string(w.path(file)).unwrap()).unwrap()
}

/// `hallmark sign-blob --key KEY --tlog-url URL FILE [EXTRA...]`, which must succeed.
pub fn sign_blob_logged(
    w: &World,
    key: &crate::util::Key,
    log: &LogServer,
    file: &str,
    extra: &[&str],
) -> Output {
    let mut args: Vec<&OsStr> = vec![
        "sign-blob".as_ref(),
        "--key".as_ref(),
        key.private.as_os_str(),
        "--tlog-url".as_ref(),
    ];
    let url = log.url();
    args.push(url.as_ref());
    args.extend(extra.iter().map(OsStr::new));
    args.push(file.as_ref());
    let out = w.hm(args).pw(&key.pass).run();
    out.success();
    out
}

/// `node tests/js/verify_bundle.js BUNDLE ARTIFACT ROOT KEY` (sigstore-js); the suite needs node
/// and `npm ci` in tests/js (./scripts/test does it): a missing one fails, never skips.
pub fn sigstore_js_verify(
    dir: &Path,
    bundle: &str,
    artifact: &str,
    root: &str,
    key: &Path,
) -> Output {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    assert!(
        js.join("node_modules/@sigstore/verify").is_dir(),
        "the sigstore-js tests need `npm ci` in {} (./scripts/test runs it); expected node_modules/@sigstore/verify, found none",
        js.display()
    );
    let script = js.join("verify_bundle.js");
    run_tool(
        dir,
        "node",
        &[
            script.as_os_str(),
            OsStr::new(bundle),
            OsStr::new(artifact),
            OsStr::new(root),
            key.as_os_str(),
        ],
    )
}
