//! A throwaway PostgreSQL cluster on loopback (Debian package `postgresql`).
//!
//! [`start_new`] runs `initdb` into a temporary directory, then `pg_ctl start` with the
//! postmaster listening on `127.0.0.1` at a free port (its Unix socket in the same directory),
//! trusting local connections for the superuser `hallmark`. The cluster is stopped when the
//! value is dropped, and a small `sh` watchdog stops it (and removes the directory) if the test
//! process dies first.
//!
//! PostgreSQL refuses to run as root: when the tests run as root, the directory is given to the
//! `postgres` user (created by the Debian package) and `initdb`/`pg_ctl` run through
//! `runuser -u postgres --`.
//!
//! ```no_run
//! let pg = hallmark_testutil::postgres::start_new();
//! let url = pg.create_database("log");
//! ```

use crate::process::{free_port, process_alive, signal};
use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long `initdb` plus the start may take.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The superuser of the test clusters.
pub const SUPERUSER: &str = "hallmark";

/// A running PostgreSQL cluster on `127.0.0.1`.
#[derive(Debug)]
pub struct TestPostgres {
    port: u16,
    pid: u32,
    bin: PathBuf,
    as_postgres: bool,
    watchdog: Child,
    dir: Option<TempDir>,
    dir_path: PathBuf,
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb`.
pub fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

fn is_root() -> bool {
    // The owner of /proc/self is the effective user.
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

impl TestPostgres {
    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The postmaster's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The cluster directory (data, socket, log).
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir_path.join("postgres.log")).unwrap_or_default()
    }

    /// A `postgres://` URL for `database`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Create a database and return its URL.
    ///
    /// # Panics
    ///
    /// If `createdb` fails.
    pub fn create_database(&self, name: &str) -> String {
        let out = self.run_pg(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
                name,
            ],
        );
        if !out.status.success() {
            panic!(
                "createdb {name} failed: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                self.log()
            );
        }
        self.url(name)
    }

    fn run_pg(&self, tool: &str, args: &[&str]) -> Output {
        pg_command(&self.bin, tool, self.as_postgres, args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"))
    }

    /// Stop the cluster now (SIGINT: fast shutdown; SIGKILL after 10 s). Idempotent.
    pub fn stop(&mut self) {
        signal(self.pid, "INT");
        let deadline = Instant::now() + Duration::from_secs(10);
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

impl Drop for TestPostgres {
    fn drop(&mut self) {
        self.stop();
        drop(self.dir.take());
    }
}

fn pg_command(bin: &Path, tool: &str, as_postgres: bool, args: &[&str]) -> Command {
    let exe = bin.join(tool);
    let mut cmd = if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    cmd.args(args).stdin(Stdio::null());
    cmd
}

/// The watchdog: waits while the test process (`$1`) lives, then stops the postmaster whose
/// pid file is `$2` and removes the directory `$3`.
const WATCHDOG: &str = r#"while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
pid=$(head -n 1 "$2" 2>/dev/null)
if [ -n "$pid" ]; then
  kill -INT "$pid" 2>/dev/null
  i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  kill -KILL "$pid" 2>/dev/null
fi
rm -rf "$3""#;

/// Start a new cluster, stopped when the returned value is dropped.
///
/// # Panics
///
/// If PostgreSQL is not installed (run `./scripts/test`, which installs it) or does not start
/// within [`STARTUP_TIMEOUT`].
pub fn start_new() -> TestPostgres {
    let bin = bin_dir().unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run ./scripts/test, \
             which installs it, or `apt-get install postgresql`"
        )
    });
    let as_postgres = is_root();
    let dir = tempfile::Builder::new()
        .prefix("hallmark-postgres-")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory for PostgreSQL: {e}"));
    let dir_path = dir.path().to_path_buf();
    if as_postgres {
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir_path)
            .status()
            .unwrap_or_else(|e| panic!("cannot run chown: {e}"));
        assert!(
            status.success(),
            "chown postgres {} failed",
            dir_path.display()
        );
    }
    let data = dir_path.join("data");
    let data_s = data.to_string_lossy().into_owned();
    let out = pg_command(
        &bin,
        "initdb",
        as_postgres,
        &[
            "-D",
            &data_s,
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
    )
    .output()
    .unwrap_or_else(|e| panic!("cannot run initdb: {e}"));
    if !out.status.success() {
        panic!(
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let log = dir_path.join("postgres.log");
    let dir_s = dir_path.to_string_lossy().into_owned();
    let mut last_err = String::new();
    for _attempt in 0..3 {
        let port = free_port();
        let options =
            format!("-k {dir_s} -h 127.0.0.1 -p {port} -c fsync=off -c max_connections=200");
        let out = pg_command(
            &bin,
            "pg_ctl",
            as_postgres,
            &[
                "start",
                "-D",
                &data_s,
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-t",
                &STARTUP_TIMEOUT.as_secs().to_string(),
                "-o",
                &options,
            ],
        )
        .output()
        .unwrap_or_else(|e| panic!("cannot run pg_ctl: {e}"));
        if !out.status.success() {
            last_err = format!(
                "{}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                fs::read_to_string(&log).unwrap_or_default()
            );
            continue;
        }
        let pid_file = data.join("postmaster.pid");
        let pid: u32 = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.lines().next()?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no pid in {}", pid_file.display()));
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(std::process::id().to_string())
            .arg(&pid_file)
            .arg(&dir_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the PostgreSQL watchdog: {e}"));
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while connect(port).is_none() {
            assert!(
                Instant::now() < deadline,
                "PostgreSQL on 127.0.0.1:{port} does not accept connections"
            );
            thread::sleep(Duration::from_millis(25));
        }
        return TestPostgres {
            port,
            pid,
            bin,
            as_postgres,
            watchdog,
            dir: Some(dir),
            dir_path,
        };
    }
    panic!("pg_ctl start failed 3 times; last: {last_err}");
}

fn connect(port: u16) -> Option<TcpStream> {
    let sock = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&sock, Duration::from_millis(500)).ok()
}
