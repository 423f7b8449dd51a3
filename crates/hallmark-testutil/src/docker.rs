//! A real Docker engine for interop tests: Debian's docker.io 20.10 `dockerd`, started without
//! networking features (`--iptables=false --ip6tables=false --bridge=none`, storage driver
//! `vfs`) with private data and exec roots in a temporary directory and a unix socket, as the
//! interop harness's `docker-engine.sh` does. Loopback registries (127.0.0.0/8) are insecure
//! registries, so `docker push`/`pull` speak plain HTTP to the test registries. No container is
//! ever run: images come from `docker import` and `docker load`.
//!
//! [`shared`] starts one engine per test process (under nextest, per test) and answers `None`,
//! after printing why, only when no engine can run here at all (no `dockerd` and no way to
//! install it, not root, or `dockerd` exits at start). `./scripts/test` installs `docker.io`;
//! when `dockerd` is missing and this process is root, [`shared`] installs it with apt first.
//! A `sh` watchdog runs `dockerd`, stops it (TERM, then KILL after 15 s) once the test process
//! is gone, and removes the engine's directory. [`DockerClient`] runs the `docker` CLI (the one
//! on `PATH`, or `HALLMARK_DOCKER`) against the engine with its own, fresh `DOCKER_CONFIG`,
//! stdin closed and a hard timeout.
//!
//! ```no_run
//! if let Some(engine) = hallmark_testutil::docker::shared() {
//!     let docker = engine.client();
//!     docker.run(["load", "-i", "image.tar"]).assert_success();
//! }
//! ```

use crate::process::{drain, process_alive, signal, wait_bounded};
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// Environment variable naming `dockerd` (default: on `PATH`, or `/usr/sbin/dockerd`).
pub const DOCKERD_ENV: &str = "HALLMARK_DOCKERD";
/// Environment variable naming the `docker` CLI (default: on `PATH`).
pub const DOCKER_ENV: &str = "HALLMARK_DOCKER";

/// How long `dockerd` may take to answer `GET /_ping` on its socket.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Hard limit for one `docker` CLI run (killed when it runs longer).
pub const DOCKER_TIMEOUT: Duration = Duration::from_secs(180);
/// Hard limit for installing `docker.io` with apt.
pub const INSTALL_TIMEOUT: Duration = Duration::from_secs(900);

/// The registries the engine treats as insecure (plain HTTP, no certificate checks).
const INSECURE_REGISTRIES: &str = "127.0.0.0/8";

/// The watchdog: runs dockerd, records its pid, stops it once the test process (`$1`) or
/// dockerd itself is gone, then stops its containerd if left behind, undoes the bind mount
/// dockerd puts on its data root, and removes the directory (`$2`). `$3` is dockerd, the rest
/// its arguments.
const WATCHDOG: &str = r#"tp=$1; dir=$2; dockerd=$3; shift 3
"$dockerd" "$@" >>"$dir/dockerd.log" 2>&1 </dev/null & child=$!
echo "$child" >"$dir/dockerd.child"
while kill -0 "$tp" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
kill -TERM "$child" 2>/dev/null
i=0
while kill -0 "$child" 2>/dev/null && [ "$i" -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
kill -KILL "$child" 2>/dev/null
wait "$child" 2>/dev/null
c=$(cat "$dir/exec/containerd/containerd.pid" 2>/dev/null)
if [ -n "$c" ] && tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null | grep -qF "$dir/"; then
  kill -KILL "$c" 2>/dev/null
fi
i=0
while grep -qF " $dir/data " /proc/self/mountinfo 2>/dev/null && [ "$i" -lt 10 ]; do
  umount "$dir/data" 2>/dev/null || umount -l "$dir/data" 2>/dev/null
  i=$((i + 1))
done
rm -rf "$dir"
exit 0"#;

/// A running `dockerd` with its own data root, exec root and unix socket.
#[derive(Debug)]
pub struct DockerEngine {
    dir: PathBuf,
    socket: PathBuf,
    pid: u32,
    /// The watchdog shell (parent of dockerd).
    watchdog: Child,
}

impl DockerEngine {
    /// Start a private engine. `Err` says why no engine can run here; see [`shared`].
    pub fn start() -> Result<Self, String> {
        let dockerd = ensure_dockerd()?;
        let dir = tempfile::Builder::new()
            .prefix("hallmark-dockerd-")
            .tempdir()
            .map_err(|e| format!("cannot create a directory for dockerd: {e}"))?
            // The watchdog removes it once dockerd has stopped.
            .keep();
        let socket = dir.join("docker.sock");
        // A config file of its own: no /etc/docker/daemon.json, and the engine key (which
        // dockerd 20.10 would otherwise share in /etc/docker/key.json) in the directory.
        let config = dir.join("daemon.json");
        let key = dir.join("key.json");
        fs::write(
            &config,
            serde_json::json!({ "deprecated-key-path": key }).to_string(),
        )
        .map_err(|e| format!("writing {}: {e}", config.display()))?;
        let p = |x: &Path| x.display().to_string();
        let args = [
            "--config-file".to_owned(),
            p(&config),
            "--iptables=false".to_owned(),
            "--ip6tables=false".to_owned(),
            "--bridge=none".to_owned(),
            "--storage-driver=vfs".to_owned(),
            "--data-root".to_owned(),
            p(&dir.join("data")),
            "--exec-root".to_owned(),
            p(&dir.join("exec")),
            "--pidfile".to_owned(),
            p(&dir.join("dockerd.pid")),
            "-H".to_owned(),
            format!("unix://{}", socket.display()),
            "--insecure-registry".to_owned(),
            INSECURE_REGISTRIES.to_owned(),
        ];
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(std::process::id().to_string())
            .arg(&dir)
            .arg(&dockerd)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start sh for dockerd: {e}"))?;
        let log_path = dir.join("dockerd.log");
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut pid = None;
        let ready = loop {
            if pid.is_none() {
                pid = fs::read_to_string(dir.join("dockerd.child"))
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok());
            }
            if pid.is_some() && ping(&socket) {
                break true;
            }
            if Instant::now() > deadline || matches!(watchdog.try_wait(), Ok(Some(_))) {
                break false;
            }
            thread::sleep(Duration::from_millis(25));
        };
        match pid {
            Some(pid) if ready => Ok(Self {
                dir,
                socket,
                pid,
                watchdog,
            }),
            _ => {
                let log = fs::read_to_string(&log_path).unwrap_or_default();
                if let Some(pid) = pid {
                    signal(pid, "TERM");
                }
                // The watchdog stops dockerd and removes the directory.
                let _ = wait_bounded(&mut watchdog, Duration::from_secs(20));
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                Err(format!(
                    "{} did not answer GET /_ping on {} within {}s; the end of its log:\n{}",
                    dockerd.display(),
                    socket.display(),
                    STARTUP_TIMEOUT.as_secs(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ))
            }
        }
    }

    /// `unix:///.../docker.sock`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// dockerd's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// dockerd's log so far (for assertion messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }

    /// A `docker` CLI client of this engine with a fresh, empty `DOCKER_CONFIG` (its own
    /// trust directory too: the CLI pins repository root keys there, so use one client per
    /// trust server).
    pub fn client(&self) -> DockerClient {
        let config = tempfile::Builder::new()
            .prefix("hallmark-docker-config-")
            .tempdir()
            .unwrap_or_else(|e| panic!("creating a DOCKER_CONFIG directory: {e}"));
        DockerClient {
            host: self.host(),
            config,
        }
    }

    /// Stop dockerd (TERM; the watchdog kills it after 15 s) and wait until the watchdog has
    /// cleaned up. Idempotent.
    pub fn stop(&mut self) {
        if process_alive(self.pid) {
            signal(self.pid, "TERM");
        }
        let (_, killed) = wait_bounded(&mut self.watchdog, Duration::from_secs(30));
        if killed && process_alive(self.pid) {
            signal(self.pid, "KILL");
        }
    }
}

impl Drop for DockerEngine {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The engine shared by every test of this test process, started on first use; `None`
/// (after printing the reason to stderr) when no engine can run here.
pub fn shared() -> Option<&'static DockerEngine> {
    static SHARED: OnceLock<Option<DockerEngine>> = OnceLock::new();
    SHARED
        .get_or_init(|| match DockerEngine::start() {
            Ok(engine) => Some(engine),
            Err(reason) => {
                eprintln!("[hallmark-testutil] no Docker engine, skipping: {reason}");
                None
            }
        })
        .as_ref()
}

/// `GET /_ping` over the socket answers `OK`.
fn ping(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.take(4096).read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.starts_with("HTTP/1.") && text.contains(" 200 ") && text.ends_with("OK")
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn find_dockerd() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(DOCKERD_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    find_in_path("dockerd").or_else(|| {
        let sbin = PathBuf::from("/usr/sbin/dockerd");
        sbin.is_file().then_some(sbin)
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `dockerd`, installed with apt (Debian package docker.io, no recommends) when missing.
fn ensure_dockerd() -> Result<PathBuf, String> {
    if !is_root() {
        return Err("dockerd needs root, and this test process is not root".into());
    }
    if let Some(found) = find_dockerd() {
        return Ok(found);
    }
    if find_in_path("apt-get").is_none() {
        return Err(
            "dockerd is not installed (Debian package docker.io) and there is no \
                    apt-get to install it"
                .into(),
        );
    }
    let mut cmd = Command::new("apt-get");
    cmd.args([
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        "-o",
        "DPkg::Lock::Timeout=300",
        "docker.io",
    ])
    .env("DEBIAN_FRONTEND", "noninteractive")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run apt-get to install docker.io: {e}"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let (status, timed_out) = wait_bounded(&mut child, INSTALL_TIMEOUT);
    let (_, stderr) = (stdout.join(), stderr.join().unwrap_or_default());
    match find_dockerd() {
        Some(found) if !timed_out && status.is_some_and(|s| s.success()) => Ok(found),
        _ => Err(format!(
            "dockerd is not installed and `apt-get install docker.io` failed{}: {}",
            if timed_out { " (timed out)" } else { "" },
            stderr.trim()
        )),
    }
}

/// The `docker` CLI against one engine, with its own `DOCKER_CONFIG` (removed when dropped).
#[derive(Debug)]
pub struct DockerClient {
    host: String,
    config: tempfile::TempDir,
}

impl DockerClient {
    /// The `DOCKER_CONFIG` directory (its `trust/` holds the DCT keys the CLI made).
    pub fn config_dir(&self) -> &Path {
        self.config.path()
    }

    /// Trust `ca` (PEM) for the trust server or registry at `host_port`, as the CLI looks it
    /// up: `$DOCKER_CONFIG/tls/<host:port>/ca.crt`.
    pub fn trust_ca(&self, host_port: &str, ca: &Path) {
        let dir = self.config.path().join("tls").join(host_port);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        fs::copy(ca, dir.join("ca.crt"))
            .unwrap_or_else(|e| panic!("copying {} to {}: {e}", ca.display(), dir.display()));
    }

    /// `docker ARGS` against the engine: `DOCKER_HOST` and `DOCKER_CONFIG` set, the content
    /// trust and TLS variables of the test process removed; add more with
    /// [`DockerCommand::env`].
    pub fn docker<I, S>(&self, args: I) -> DockerCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let program = std::env::var_os(DOCKER_ENV)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "docker".into());
        let mut cmd = Command::new(&program);
        cmd.env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", self.config.path())
            .env("DOCKER_CLI_HINTS", "false");
        for name in [
            "DOCKER_CONTEXT",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
            "DOCKER_CONTENT_TRUST",
            "DOCKER_CONTENT_TRUST_SERVER",
            "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE",
            "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
        ] {
            cmd.env_remove(name);
        }
        let mut shown = program.to_string_lossy().into_owned();
        for a in args {
            shown.push(' ');
            shown.push_str(&a.as_ref().to_string_lossy());
            cmd.arg(a);
        }
        DockerCommand { cmd, shown }
    }

    /// `docker ARGS`, run now.
    pub fn run<I, S>(&self, args: I) -> DockerOutput
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.docker(args).run()
    }
}

/// One `docker` invocation being built.
#[derive(Debug)]
pub struct DockerCommand {
    cmd: Command,
    shown: String,
}

impl DockerCommand {
    /// Set an environment variable (shown in failure messages).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.shown = format!("{name}={value:?} {}", self.shown);
        self.cmd.env(name, value);
        self
    }

    /// Run with stdin closed, output captured, killed after [`DOCKER_TIMEOUT`].
    pub fn run(mut self) -> DockerOutput {
        let mut child = self
            .cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting `{}`: {e}", self.shown));
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let (status, timed_out) = wait_bounded(&mut child, DOCKER_TIMEOUT);
        let stdout = stdout.join().unwrap_or_default();
        let mut stderr = stderr.join().unwrap_or_default();
        if timed_out {
            stderr.push_str(&format!(
                "\n[hallmark-testutil] killed after {}s\n",
                DOCKER_TIMEOUT.as_secs()
            ));
        }
        DockerOutput {
            success: !timed_out && status.is_some_and(|s| s.success()),
            stdout,
            stderr,
            shown: self.shown,
        }
    }
}

/// What a `docker` run did.
#[derive(Debug, Clone)]
pub struct DockerOutput {
    /// Exited 0 (false when it failed or was killed).
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error (plus a note if it was killed).
    pub stderr: String,
    shown: String,
}

impl DockerOutput {
    /// Panics with the output unless the command succeeded.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.success, "expected success, found a failure:\n{self}");
        self
    }

    /// Panics unless the command failed with `needle` in its output (stderr or stdout).
    #[track_caller]
    pub fn assert_failure_containing(&self, needle: &str) -> &Self {
        assert!(!self.success, "expected a failure, found success:\n{self}");
        assert!(
            self.stderr.contains(needle) || self.stdout.contains(needle),
            "expected the output to contain {needle:?}, found:\n{self}"
        );
        self
    }
}

impl fmt::Display for DockerOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` success: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.shown,
            self.success,
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_answers_and_is_cleaned_up_on_stop() {
        let mut engine = match DockerEngine::start() {
            Ok(engine) => engine,
            Err(reason) => {
                eprintln!("skipping: {reason}");
                return;
            }
        };
        let docker = engine.client();
        let version = docker.run(["version", "--format", "{{.Server.Version}}"]);
        version.assert_success();
        assert!(
            !version.stdout.trim().is_empty(),
            "expected a server version, found:\n{version}"
        );
        let info = docker.run([
            "info",
            "--format",
            "{{json .RegistryConfig.InsecureRegistryCIDRs}}",
        ]);
        info.assert_success();
        assert!(info.stdout.contains("127.0.0.0/8"), "{info}");
        let dir = engine.dir.clone();
        let pid = engine.pid();
        engine.stop();
        assert!(!process_alive(pid), "expected dockerd {pid} to be stopped");
        assert!(!dir.exists(), "expected {} to be removed", dir.display());
    }
}
