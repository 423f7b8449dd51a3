//! docker-registry 2.8 (CNCF distribution, Debian package `docker-registry`) on loopback.
//!
//! [`shared`] starts one registry per test process on `127.0.0.1` with a free port, storing
//! into a temporary directory; [`start_new`] starts a private one that is stopped when it is
//! dropped. Each registry runs under a small `sh` watchdog that kills it (and removes its
//! directory, for the shared one) once the test process is gone, since statics are never
//! dropped.
//!
//! ```no_run
//! let registry = hallmark_testutil::registry::shared();
//! let image = format!("{}/demo/app:v1", registry.addr());
//! ```

use crate::process::{free_port, process_alive, signal};
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The executable of Debian's `docker-registry` package.
pub const REGISTRY_BINARY: &str = "docker-registry";

/// How long a registry may take to answer `GET /v2/` after it is started.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A running docker-registry on `127.0.0.1`.
#[derive(Debug)]
pub struct TestRegistry {
    addr: String,
    pid: u32,
    log_path: PathBuf,
    /// The watchdog shell (parent of the registry).
    watchdog: Child,
    /// Storage, config and log; `None` for the shared registry, whose watchdog removes it.
    dir: Option<TempDir>,
    dir_path: PathBuf,
}

impl TestRegistry {
    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Process id of the docker-registry process.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The registry's log file (stdout and stderr, level warn).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The registry's log so far (empty if unreadable), for assertion messages.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The directory holding config, storage and log.
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// Stop the registry now (SIGTERM, then SIGKILL after 5 s) and wait until its port is
    /// closed. Idempotent.
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
        let deadline = Instant::now() + Duration::from_secs(5);
        while connect(&self.addr).is_some() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
        drop(self.dir.take());
    }
}

/// The registry shared by every test of this test binary, started on first use.
///
/// # Panics
///
/// If `docker-registry` is not installed (run `./scripts/test`, which installs it), or it
/// does not start within [`STARTUP_TIMEOUT`].
pub fn shared() -> &'static TestRegistry {
    static SHARED: OnceLock<TestRegistry> = OnceLock::new();
    SHARED.get_or_init(|| start(true))
}

/// A private registry, stopped when the returned value is dropped.
///
/// # Panics
///
/// As [`shared`].
pub fn start_new() -> TestRegistry {
    start(false)
}

/// The watchdog: runs the registry in the background, records its pid, and kills it once
/// the test process (`$2`) has exited. `$1` config, `$3` log, `$4` pid file, `$5` directory
/// to remove afterwards (empty: none).
const WATCHDOG: &str = r#"docker-registry serve "$1" >>"$3" 2>&1 </dev/null & child=$!
echo "$child" >"$4"
while kill -0 "$2" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
kill "$child" 2>/dev/null
wait "$child" 2>/dev/null
if [ -n "$5" ]; then rm -rf "$5"; fi"#;

fn start(shared: bool) -> TestRegistry {
    if find_in_path(REGISTRY_BINARY).is_none() {
        panic!(
            "`{REGISTRY_BINARY}` is not installed (Debian package docker-registry 2.8): run \
             ./scripts/test, which installs it, or `apt-get install docker-registry`"
        );
    }
    let dir = tempfile::Builder::new()
        .prefix("hallmark-registry-")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory for the registry: {e}"));
    let dir_path = dir.path().to_path_buf();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let storage = dir_path.join("storage");
    let config = dir_path.join("config.yml");
    let log_path = dir_path.join("registry.log");
    let pid_file = dir_path.join("registry.pid");
    fs::create_dir_all(&storage).unwrap_or_else(|e| panic!("create {}: {e}", storage.display()));
    let yaml = format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
         \x20 maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: {addr}\n",
        storage = storage.display()
    );
    fs::write(&config, yaml).unwrap_or_else(|e| panic!("write {}: {e}", config.display()));

    let remove_after = if shared {
        dir_path.as_os_str().to_owned()
    } else {
        Default::default()
    };
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("sh")
        .arg(&config)
        .arg(std::process::id().to_string())
        .arg(&log_path)
        .arg(&pid_file)
        .arg(remove_after)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start sh for {REGISTRY_BINARY}: {e}"));

    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let pid = loop {
        if let Some(pid) = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            break Some(pid);
        }
        if Instant::now() > deadline || matches!(watchdog.try_wait(), Ok(Some(_))) {
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let ready = pid.is_some() && wait_ready(&addr, &mut watchdog, deadline);
    match pid {
        Some(pid) if ready => TestRegistry {
            addr,
            pid,
            log_path,
            watchdog,
            dir: (!shared).then_some(dir),
            dir_path,
        },
        _ => {
            if let Some(pid) = pid {
                signal(pid, "KILL");
            }
            let _ = watchdog.kill();
            let _ = watchdog.wait();
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            panic!(
                "{REGISTRY_BINARY} on {addr} did not answer GET /v2/ within {}s; its log:\n{log}",
                STARTUP_TIMEOUT.as_secs()
            );
        }
    }
}

/// Poll `GET /v2/` until it answers 200 or 401, the watchdog exits, or `deadline`.
fn wait_ready(addr: &str, watchdog: &mut Child, deadline: Instant) -> bool {
    while Instant::now() < deadline {
        if matches!(watchdog.try_wait(), Ok(Some(_))) {
            return false;
        }
        if let Some(status) = get_v2_status(addr)
            && (status == 200 || status == 401)
        {
            return true;
        }
        thread::sleep(Duration::from_millis(25));
    }
    false
}

fn connect(addr: &str) -> Option<TcpStream> {
    let sock: SocketAddr = addr.parse().ok()?;
    TcpStream::connect_timeout(&sock, Duration::from_millis(500)).ok()
}

/// Status code of a raw HTTP/1.0 `GET /v2/`.
fn get_v2_status(addr: &str) -> Option<u16> {
    let mut stream = connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .ok()?;
    stream
        .write_all(format!("GET /v2/ HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < 12 {
        let n = stream.read(&mut head[len..]).ok()?;
        if n == 0 {
            break;
        }
        len += n;
    }
    let line = std::str::from_utf8(&head[..len]).ok()?;
    let rest = line.strip_prefix("HTTP/1.")?;
    rest.get(2..5)?.parse().ok()
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
