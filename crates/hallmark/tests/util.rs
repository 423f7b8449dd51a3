//! Helpers shared by the CLI tests: a per-test directory with a `hallmark` command builder,
//! seeding images, raw HTTP to the shared registry (to read its state or plant hostile
//! content), and a tiny fake registry for faults a real one never produces.

use hallmark_core::Digest;
use serde_json::Value;
use std::{
    collections::BTreeMap,
    ffi::OsStr,
    fmt,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread,
    time::{Duration, Instant},
};
use tempfile::TempDir;

/// The longest any one `hallmark` (or openssl) run may take before it is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// Every manifest media type, for `Accept` headers.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";
/// The OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The annotation holding a cosign signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// `127.0.0.1:PORT` of the registry shared by this test binary.
pub fn registry() -> &'static str {
    hallmark_testutil::registry::shared().addr()
}

/// A repository path (without the registry) no other test uses: `cli/<name>-<n>`.
pub fn unique(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("cli/{name}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// `sha256-<hex>.sig` for `digest` (`sha256:<hex>`).
pub fn sig_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// `sha256-<hex>.att` for `digest`.
pub fn att_tag(digest: &str) -> String {
    format!("{}.att", digest.replace(':', "-"))
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    Digest::sha256_of(bytes).to_string()
}

/// The file mode bits (permissions) of `path`.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

// ---- one test's world ------------------------------------------------------------------

/// A key pair written by `hallmark key generate`.
#[derive(Debug, Clone)]
pub struct Key {
    pub private: PathBuf,
    pub public: PathBuf,
    pub pass: String,
    /// Hex SHA-256 fingerprint, as hallmark prints it after `sha256:`.
    pub fingerprint: String,
}

/// An image pushed by `hallmark debug push-sample` to the shared registry.
#[derive(Debug, Clone)]
pub struct Image {
    /// `127.0.0.1:PORT/path` (no tag).
    pub repo: String,
    /// The repository path without the registry.
    pub path: String,
    /// The tag it was pushed under.
    pub tag: String,
    /// `sha256:<hex>`.
    pub digest: String,
}

impl Image {
    /// `registry/path:tag`.
    pub fn by_tag(&self) -> String {
        format!("{}:{}", self.repo, self.tag)
    }
    /// `registry/path@sha256:<hex>`.
    pub fn by_digest(&self) -> String {
        format!("{}@{}", self.repo, self.digest)
    }
    /// `path:tag`, as the skopeo helpers take it.
    pub fn path_tag(&self) -> String {
        format!("{}:{}", self.path, self.tag)
    }
}

/// One test's temporary directory; commands run there.
pub struct World {
    dir: TempDir,
}

impl World {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("hallmark-cli-")
            .tempdir()
            .unwrap();
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `hallmark ARGS` in this directory.
    pub fn hm<I, S>(&self, args: I) -> Hallmark
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        hallmark(self.dir()).args(args)
    }

    /// `hallmark key generate --output-prefix NAME -o json` with `pass`.
    pub fn key(&self, name: &str, pass: &str) -> Key {
        let out = self
            .hm(["key", "generate", "--output-prefix", name, "-o", "json"])
            .pw(pass)
            .run();
        out.success();
        let v = out.json();
        let fingerprint = v["fingerprint"]
            .as_str()
            .unwrap_or_else(|| panic!("key generate -o json: expected a fingerprint, found {v}"))
            .to_owned();
        Key {
            private: self.path(&format!("{name}.key")),
            public: self.path(&format!("{name}.pub")),
            pass: pass.to_owned(),
            fingerprint,
        }
    }

    /// Push `count` sample images `registry/<unique(name)>/img<i>:v1`.
    pub fn seed(&self, name: &str, count: usize) -> Vec<Image> {
        self.seed_with(
            &format!("{}/{}/img", registry(), unique(name)),
            count,
            "v1",
            false,
        )
    }

    /// Push one sample multi-platform index `registry/<unique(name)>/idx0:v1`.
    pub fn seed_index(&self, name: &str) -> Image {
        self.seed_with(
            &format!("{}/{}/idx", registry(), unique(name)),
            1,
            "v1",
            true,
        )
        .remove(0)
    }

    /// `hallmark debug push-sample` to the registry; parses its `REF DIGEST` lines.
    pub fn seed_with(&self, prefix: &str, count: usize, tag: &str, index: bool) -> Vec<Image> {
        let count_s = count.to_string();
        let mut args = vec![
            "debug",
            "push-sample",
            "--count",
            &count_s,
            "--repo-prefix",
            prefix,
            "--tag",
            tag,
        ];
        if index {
            args.push("--index");
        }
        let out = self.hm(args).run();
        out.success();
        let images: Vec<Image> = out
            .stdout
            .lines()
            .map(|line| {
                let (reference, digest) = line.split_once(' ').unwrap_or_else(|| {
                    panic!("push-sample: expected `REF DIGEST`, found {line:?}")
                });
                let (repo, tag) = reference.rsplit_once(':').unwrap();
                let path = repo.split_once('/').unwrap().1.to_owned();
                assert!(
                    digest.starts_with("sha256:"),
                    "push-sample: expected a digest, found {digest:?}"
                );
                Image {
                    repo: repo.to_owned(),
                    path,
                    tag: tag.to_owned(),
                    digest: digest.to_owned(),
                }
            })
            .collect();
        assert_eq!(
            images.len(),
            count,
            "push-sample: expected {count} images, found {}",
            out
        );
        images
    }

    /// `hallmark tree -o json IMAGE`.
    pub fn tree(&self, image: &str) -> Value {
        let out = self.hm(["tree", "-o", "json", image]).run();
        out.success();
        out.json()
    }

    /// `hallmark sign --key KEY IMAGES...` with the key's passphrase; must succeed.
    pub fn sign(&self, key: &Key, images: &[&str]) -> Output {
        let mut args: Vec<&OsStr> =
            vec!["sign".as_ref(), "--key".as_ref(), key.private.as_os_str()];
        args.extend(images.iter().map(|s| OsStr::new(*s)));
        let out = self.hm(args).pw(&key.pass).run();
        out.success();
        out
    }

    /// `hallmark verify --key PUB EXTRA... IMAGE` (not asserted).
    pub fn verify(&self, key: &Key, extra: &[&str], image: &str) -> Output {
        let mut args: Vec<&OsStr> =
            vec!["verify".as_ref(), "--key".as_ref(), key.public.as_os_str()];
        args.extend(extra.iter().map(|s| OsStr::new(*s)));
        args.push(image.as_ref());
        self.hm(args).run()
    }
}

/// Number of signature layers `tree -o json` reports.
pub fn signature_layers(tree: &Value) -> usize {
    tree["signatures"]
        .as_array()
        .unwrap_or_else(|| panic!("tree: expected a signatures array, found {tree}"))
        .len()
}

// ---- running hallmark -------------------------------------------------------------------

/// A `hallmark` invocation: `CI=1`, stdin null, no passphrase variables unless given with
/// [`Hallmark::pw`], no registry credentials, and a docker config directory that does not exist
/// (anonymous access; the machine's config is never read).
pub struct Hallmark {
    cmd: Command,
    shown: String,
}

/// The `hallmark` command builder, running in `dir`.
pub fn hallmark(dir: &Path) -> Hallmark {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hallmark"));
    cmd.current_dir(dir)
        .env("CI", "1")
        .env("DOCKER_CONFIG", dir.join(".no-docker-config"))
        .env("NO_COLOR", "1")
        .env_remove("HALLMARK_PASSWORD")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("HALLMARK_REGISTRY_USERNAME")
        .env_remove("HALLMARK_REGISTRY_PASSWORD")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    Hallmark {
        cmd,
        shown: "hallmark".into(),
    }
}

impl Hallmark {
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self.shown.push(' ');
            self.shown.push_str(&a.as_ref().to_string_lossy());
            self.cmd.arg(a);
        }
        self
    }

    /// Set `HALLMARK_PASSWORD`.
    pub fn pw(self, pass: &str) -> Self {
        self.env("HALLMARK_PASSWORD", pass)
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.shown = format!("{name}={value:?} {}", self.shown);
        self.cmd.env(name, value);
        self
    }

    pub fn run(self) -> Output {
        run_bounded(self.cmd, self.shown)
    }
}

/// What a command did.
pub struct Output {
    /// Exit code (`None`: killed).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    shown: String,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` exited with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.shown,
            self.code,
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

impl Output {
    /// Panics unless the command exited 0.
    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "expected exit code 0, found {:?}:\n{self}",
            self.code
        );
        self
    }

    /// Panics unless the command exited 1 (a clean failure, not a crash or a usage error) and
    /// stderr contains every needle.
    #[track_caller]
    pub fn failure(&self, needles: &[&str]) -> &Self {
        assert_eq!(
            self.code,
            Some(1),
            "expected exit code 1, found {:?}:\n{self}",
            self.code
        );
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "expected stderr to contain {n:?}, found:\n{self}"
            );
        }
        self
    }

    /// stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("expected JSON on stdout ({e}), found:\n{self}"))
    }
}

/// Run `cmd` with captured output, killed after [`COMMAND_TIMEOUT`].
pub fn run_bounded(mut cmd: Command, shown: String) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting `{shown}`: {e}"));
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(5));
    };
    let stdout = stdout.join().unwrap_or_default();
    let mut stderr = stderr.join().unwrap_or_default();
    if status.is_none() {
        stderr.push_str(&format!(
            "\n[test] killed after {}s\n",
            COMMAND_TIMEOUT.as_secs()
        ));
    }
    Output {
        code: status.and_then(|s| s.code()),
        stdout,
        stderr,
        shown,
    }
}

/// Run another program (openssl, ...) in `dir`, bounded like hallmark.
pub fn run_tool(dir: &Path, program: &str, args: &[&OsStr]) -> Output {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir).args(args).stdin(Stdio::null());
    let shown = std::iter::once(program.to_owned())
        .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    run_bounded(cmd, shown)
}

/// The `openssl` executable; the tests that need it fail (never skip) without it.
#[track_caller]
pub fn openssl() -> &'static str {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("openssl").is_file()));
    assert!(
        found,
        "these tests need `openssl` on PATH (Debian package openssl); expected it, found none"
    );
    "openssl"
}

// ---- raw HTTP to a registry --------------------------------------------------------------

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.0 request over a fresh connection (read until the server closes), bounded by
/// timeouts.
pub fn http(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let what = format!("{method} http://{addr}{target}");
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{what}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!(
        "{method} {target} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    s.write_all(body).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "{what}: expected an HTTP response, found {:?}",
                String::from_utf8_lossy(&raw)
            )
        });
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{what}: expected a status line, found {status_line:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// Tags of `path` in the shared registry, sorted (none when the repository does not exist).
pub fn tags(path: &str) -> Vec<String> {
    let r = http(
        registry(),
        "GET",
        &format!("/v2/{path}/tags/list"),
        &[],
        b"",
    );
    match r.status {
        404 => Vec::new(),
        200 => {
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            let mut tags: Vec<String> = v["tags"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            tags.sort();
            tags
        }
        s => panic!(
            "GET /v2/{path}/tags/list: expected 200 or 404, found {s}: {}",
            String::from_utf8_lossy(&r.body)
        ),
    }
}

/// Every tag of `path` with the digest of the manifest it names: what "unchanged" compares.
pub fn state(path: &str) -> BTreeMap<String, String> {
    tags(path)
        .into_iter()
        .map(|t| (t.clone(), sha256(&get_manifest(path, &t).1)))
        .collect()
}

/// GET a manifest: (content type, bytes).
pub fn get_manifest(path: &str, reference: &str) -> (String, Vec<u8>) {
    let r = http(
        registry(),
        "GET",
        &format!("/v2/{path}/manifests/{reference}"),
        &[("Accept", MANIFEST_ACCEPT)],
        b"",
    );
    assert_eq!(
        r.status,
        200,
        "GET {path} manifest {reference}: expected 200, found {}: {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    (
        r.header("content-type").unwrap_or_default().to_owned(),
        r.body,
    )
}

/// PUT a manifest under `reference`.
pub fn put_manifest(path: &str, reference: &str, content_type: &str, bytes: &[u8]) {
    let r = http(
        registry(),
        "PUT",
        &format!("/v2/{path}/manifests/{reference}"),
        &[("Content-Type", content_type)],
        bytes,
    );
    assert_eq!(
        r.status,
        201,
        "PUT {path} manifest {reference}: expected 201, found {}: {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
}

/// GET a blob.
pub fn get_blob(path: &str, digest: &str) -> Vec<u8> {
    let r = http(
        registry(),
        "GET",
        &format!("/v2/{path}/blobs/{digest}"),
        &[],
        b"",
    );
    assert_eq!(
        r.status, 200,
        "GET {path} blob {digest}: expected 200, found {}",
        r.status
    );
    r.body
}

/// Upload a blob (POST, then PUT with the digest); returns its digest.
pub fn put_blob(path: &str, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let r = http(
        registry(),
        "POST",
        &format!("/v2/{path}/blobs/uploads/"),
        &[],
        b"",
    );
    assert_eq!(
        r.status, 202,
        "POST {path} blob upload: expected 202, found {}",
        r.status
    );
    let location = r.header("location").unwrap_or_else(|| {
        panic!("POST {path} blob upload: expected a Location header, found none")
    });
    let target = match location.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/').unwrap()..],
        None => location,
    };
    let sep = if target.contains('?') { '&' } else { '?' };
    let r = http(
        registry(),
        "PUT",
        &format!("{target}{sep}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        bytes,
    );
    assert_eq!(
        r.status,
        201,
        "PUT {path} blob {digest}: expected 201, found {}: {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    digest
}

// ---- a tiny fake registry ----------------------------------------------------------------

/// The longest a [`FakeRegistry`] serves.
const FAKE_LIFETIME: Duration = Duration::from_secs(60);

/// An HTTP server on 127.0.0.1 answering every request with `handler(method, path)` (a whole
/// raw response; the connection is closed after it). Stops when dropped or after
/// [`FAKE_LIFETIME`].
pub struct FakeRegistry {
    pub addr: String,
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
}

impl FakeRegistry {
    pub fn start(handler: impl Fn(&str, &str) -> Vec<u8> + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = thread::spawn(move || {
            let deadline = Instant::now() + FAKE_LIFETIME;
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => serve_one(stream, &handler),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            addr,
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn serve_one(mut stream: TcpStream, handler: &impl Fn(&str, &str) -> Vec<u8>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 << 10 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut first = text.lines().next().unwrap_or_default().split(' ');
    let (method, path) = (
        first.next().unwrap_or_default().to_owned(),
        first.next().unwrap_or_default().to_owned(),
    );
    // The client may hang up early (e.g. on a Content-Length over its limit): ignore errors.
    let _ = stream.write_all(&handler(&method, &path));
    let _ = stream.flush();
}

/// A raw HTTP/1.1 response that closes the connection; `Content-Length` only if `length`.
pub fn http_response(status: &str, headers: &[(&str, &str)], body: &[u8], length: bool) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if length {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A `127.0.0.1:PORT` where nothing listens (bound, then closed).
pub fn dead_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    addr
}

/// A hallmark server process of a test (its stdout and stderr in a log file), stopped when
/// dropped: SIGTERM, then SIGKILL after 10 s; a watchdog kills it if the test process dies.
pub struct Daemon {
    child: std::process::Child,
    watchdog: std::process::Child,
    log: PathBuf,
}

impl Daemon {
    /// Spawn `cmd` with its output in `log`, then wait (at most 30 s) until `ready()` holds;
    /// a process that exits first fails the test with its log.
    pub fn start(mut cmd: Command, log: PathBuf, ready: impl Fn() -> bool) -> Self {
        let out = std::fs::File::create(&log).unwrap();
        let mut child = cmd
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let watchdog = hallmark_testutil::process::watchdog(child.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !ready() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "{cmd:?} exited with {status}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{cmd:?} not ready after 30 s: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self {
            child,
            watchdog,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM and its exit status (it must stop within 20 s).
    pub fn stop(mut self) -> std::process::ExitStatus {
        hallmark_testutil::process::signal(self.child.id(), "TERM");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "did not stop within 20 s of SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            hallmark_testutil::process::signal(self.child.id(), "TERM");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while std::time::Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None))
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}
