//! skopeo 1.18 (with sigstore support) as an independent peer implementation for interop tests.
//!
//! `./scripts/test` installs skopeo 1.18 into the test cache and exports `HALLMARK_SKOPEO`.
//! skopeo reads and writes cosign-format signatures ("sigstore attachments": the
//! `<repo>:sha256-<hex>.sig` manifest), so tests can sign with hallmark and verify with skopeo,
//! or the other way round.
//!
//! Every skopeo run has stdin closed and is killed after [`SKOPEO_TIMEOUT`]. Nothing here reads
//! the machine's `/etc/containers`: each call passes its own policy and `registries.d`, written
//! to temporary directories.
//!
//! ```no_run
//! use hallmark_testutil::tools::{self, SignedIdentity};
//! # let (registry, dir) = ("127.0.0.1:5000", std::path::Path::new("."));
//! tools::skopeo_generate_key(&dir.join("k"), "pass");
//! tools::skopeo_sign_in_place(registry, "demo/app:v1", &dir.join("k.private"), "pass").assert_success();
//! let verdict = tools::skopeo_verify(registry, "demo/app:v1", &dir.join("k.pub"), SignedIdentity::MatchRepository);
//! assert!(verdict.success, "{verdict}");
//! ```

use crate::process::{drain, wait_bounded};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use tempfile::TempDir;

/// Environment variable naming the skopeo 1.18 executable (set by `./scripts/test`).
pub const SKOPEO_ENV: &str = "HALLMARK_SKOPEO";

/// Hard limit for one skopeo invocation; the process is killed when it runs longer.
pub const SKOPEO_TIMEOUT: Duration = Duration::from_secs(120);

/// The outcome of one skopeo invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkopeoResult {
    /// The process exited with status 0 (false when it failed, was killed or timed out).
    pub success: bool,
    /// Everything skopeo wrote to stdout.
    pub stdout: String,
    /// Everything skopeo wrote to stderr (plus a note from us if it was killed on timeout).
    pub stderr: String,
}

impl SkopeoResult {
    /// Panics with skopeo's output unless it succeeded.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.success, "skopeo failed:\n{self}");
        self
    }

    /// Panics unless skopeo failed and its stderr contains `needle`.
    #[track_caller]
    pub fn assert_failure_containing(&self, needle: &str) -> &Self {
        assert!(!self.success, "skopeo unexpectedly succeeded:\n{self}");
        assert!(
            self.stderr.contains(needle),
            "skopeo failed, but stderr lacks {needle:?}:\n{self}"
        );
        self
    }
}

impl fmt::Display for SkopeoResult {
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

/// Which identities a `sigstoreSigned` policy requirement accepts (containers-policy.json(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedIdentity {
    /// The signature's docker-reference must name the same repository (any tag).
    MatchRepository,
    /// The signature's docker-reference must equal the verified reference exactly.
    MatchExact,
    /// Exact match for tags; for digest references, the same repository is enough.
    MatchRepoDigestOrExact,
}

impl SignedIdentity {
    /// The `signedIdentity.type` string in policy.json.
    pub fn policy_type(self) -> &'static str {
        match self {
            Self::MatchRepository => "matchRepository",
            Self::MatchExact => "matchExact",
            Self::MatchRepoDigestOrExact => "matchRepoDigestOrExact",
        }
    }
}

/// The test cache directory: `$HALLMARK_TEST_CACHE`, else `$XDG_CACHE_HOME/hallmark-test`,
/// else `$HOME/.cache/hallmark-test` (the same rule as `scripts/lib/common.sh`).
pub fn test_cache_dir() -> PathBuf {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("HALLMARK_TEST_CACHE") {
        return PathBuf::from(dir);
    }
    let base = non_empty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| std::env::temp_dir().join("hallmark-cache"));
    base.join("hallmark-test")
}

/// Path of the skopeo 1.18 executable: `$HALLMARK_SKOPEO`, else the wrapper `./scripts/test`
/// installs in the test cache. Panics if it does not exist.
#[track_caller]
pub fn skopeo() -> PathBuf {
    let path = skopeo_path();
    assert!(
        path.is_file(),
        "skopeo 1.18 not found at {} (${SKOPEO_ENV} or the test cache): \
         run ./scripts/test to install skopeo 1.18",
        path.display()
    );
    path
}

/// Whether skopeo 1.18 is installed, for tests that skip without it (`if
/// !skopeo_available() { return; }`). Under CI (`CI` set and not `false`) a missing skopeo is a
/// setup error, so this panics rather than letting the test pass without running.
#[track_caller]
pub fn skopeo_available() -> bool {
    let path = skopeo_path();
    if path.is_file() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "CI is set but skopeo 1.18 is missing at {}: run ./scripts/test",
        path.display()
    );
    eprintln!(
        "skopeo 1.18 not installed at {} (run ./scripts/test); skipping",
        path.display()
    );
    false
}

fn skopeo_path() -> PathBuf {
    std::env::var_os(SKOPEO_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| test_cache_dir().join("skopeo-trixie").join("skopeo"))
}

/// Runs skopeo with `args`, stdin closed, killed after [`SKOPEO_TIMEOUT`].
pub fn skopeo_run<I, S>(args: I) -> SkopeoResult
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(skopeo());
    cmd.args(args);
    run_with_timeout(cmd, SKOPEO_TIMEOUT)
}

/// `skopeo generate-sigstore-key`: writes `<prefix>.private` (an `ENCRYPTED COSIGN PRIVATE
/// KEY`, encrypted with `passphrase`) and `<prefix>.pub`. Panics on failure.
#[track_caller]
pub fn skopeo_generate_key(prefix: &Path, passphrase: &str) {
    let tmp = temp_dir();
    let pass = passphrase_file(&tmp, passphrase);
    let mut args: Vec<OsString> = vec!["generate-sigstore-key".into(), "--output-prefix".into()];
    args.push(prefix.into());
    args.push("--passphrase-file".into());
    args.push(pass.into());
    skopeo_run(&args).assert_success();
}

/// Signs `registry/repo_tag` in place the way skopeo users do: `skopeo copy
/// --sign-by-sigstore-private-key` of the image onto itself, with `use-sigstore-attachments`
/// enabled for `registry`, so the signature lands in `<repo>:sha256-<hex>.sig`. Plain HTTP.
/// Note that signing again appends another signature layer.
pub fn skopeo_sign_in_place(
    registry: &str,
    repo_tag: &str,
    private_key: &Path,
    passphrase: &str,
) -> SkopeoResult {
    let tmp = temp_dir();
    let registries_d = write_registries_d(&tmp.path().join("registries.d"), registry);
    let pass = passphrase_file(&tmp, passphrase);
    let image = format!("docker://{registry}/{repo_tag}");
    let mut args: Vec<OsString> = vec![
        "--insecure-policy".into(),
        "copy".into(),
        "--registries.d".into(),
        registries_d.into(),
        "--src-tls-verify=false".into(),
        "--dest-tls-verify=false".into(),
        "--sign-by-sigstore-private-key".into(),
        private_key.into(),
        "--sign-passphrase-file".into(),
        pass.into(),
    ];
    args.push(image.clone().into());
    args.push(image.into());
    skopeo_run(&args)
}

/// Verifies `registry/repo_ref` (`repo:tag` or `repo@sha256:…`) with skopeo's policy engine: a
/// policy that rejects everything except `sigstoreSigned` by `public_key` with `identity` for
/// this repository, then `skopeo copy --remove-signatures` into a throwaway OCI layout.
/// `success` is skopeo's verdict; on rejection, `stderr` says why.
pub fn skopeo_verify(
    registry: &str,
    repo_ref: &str,
    public_key: &Path,
    identity: SignedIdentity,
) -> SkopeoResult {
    let tmp = temp_dir();
    let registries_d = write_registries_d(&tmp.path().join("registries.d"), registry);
    let scope = format!("{registry}/{}", repository_of(repo_ref));
    let policy = tmp.path().join("policy.json");
    fs::write(&policy, verify_policy_json(&scope, public_key, identity))
        .unwrap_or_else(|e| panic!("writing {}: {e}", policy.display()));
    let mut dest = OsString::from("oci:");
    dest.push(tmp.path().join("out"));
    dest.push(":x");
    let mut args: Vec<OsString> = vec![
        "copy".into(),
        "--remove-signatures".into(),
        "--policy".into(),
        policy.into(),
        "--registries.d".into(),
        registries_d.into(),
        "--src-tls-verify=false".into(),
    ];
    args.push(format!("docker://{registry}/{repo_ref}").into());
    args.push(dest);
    skopeo_run(&args)
}

/// Generic `skopeo copy SRC DST` (full transport references such as
/// `docker://127.0.0.1:5000/a/b:v1`, `oci:/some/dir:tag`, `dir:/some/dir`), with TLS
/// verification off on both sides (loopback registries speak plain HTTP). Unless `extra_args`
/// contains `--policy`, the copy runs with `--insecure-policy`. Signatures in cosign
/// attachments are only seen if `extra_args` names a `--registries.d` from
/// [`sigstore_registries_d`].
pub fn skopeo_copy(src: &str, dst: &str, extra_args: &[&str]) -> SkopeoResult {
    let has_policy = extra_args
        .iter()
        .any(|a| *a == "--policy" || a.starts_with("--policy="));
    let mut args: Vec<&str> = Vec::new();
    if !has_policy {
        args.push("--insecure-policy");
    }
    args.extend(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"]);
    args.extend_from_slice(extra_args);
    args.extend([src, dst]);
    skopeo_run(&args)
}

/// A temporary `registries.d` that turns on cosign-style sigstore attachments for `registry`
/// (pass its path to [`skopeo_copy`] as `--registries.d`). The directory lives as long as the
/// returned value.
pub fn sigstore_registries_d(registry: &str) -> TempDir {
    let tmp = temp_dir();
    write_registries_d(tmp.path(), registry);
    tmp
}

/// The policy.json [`skopeo_verify`] uses: reject by default; for docker references in `scope`
/// (`registry/repository`), require a sigstore signature by `public_key` with `identity`;
/// accept anything as an `oci:` destination.
pub fn verify_policy_json(scope: &str, public_key: &Path, identity: SignedIdentity) -> String {
    let policy = json!({
        "default": [{"type": "reject"}],
        "transports": {
            "docker": {
                scope: [{
                    "type": "sigstoreSigned",
                    "keyPath": public_key.to_string_lossy(),
                    "signedIdentity": {"type": identity.policy_type()}
                }]
            },
            "oci": {"": [{"type": "insecureAcceptAnything"}]}
        }
    });
    serde_json::to_string_pretty(&policy).unwrap_or_else(|e| panic!("serialising policy: {e}"))
}

/// `repo:tag`, `repo@sha256:…` or `repo:tag@sha256:…` → `repo`. The registry is not part of
/// `repo_ref`, so the first `:` or `@` ends the repository.
pub fn repository_of(repo_ref: &str) -> &str {
    repo_ref.split([':', '@']).next().unwrap_or(repo_ref)
}

fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("hallmark-skopeo-")
        .tempdir()
        .unwrap_or_else(|e| panic!("creating a temporary directory: {e}"))
}

/// skopeo strips one trailing newline from passphrase files; we write none.
fn passphrase_file(dir: &TempDir, passphrase: &str) -> PathBuf {
    let path = dir.path().join("passphrase");
    fs::write(&path, passphrase).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

fn write_registries_d(dir: &Path, registry: &str) -> PathBuf {
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let yaml = format!("docker:\n  \"{registry}\":\n    use-sigstore-attachments: true\n");
    let file = dir.join("hallmark-test.yaml");
    fs::write(&file, yaml).unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
    dir.to_path_buf()
}

/// Runs `cmd` with stdin closed and captured output; kills it (and reports failure) after
/// `timeout`. The pipes are drained by threads so a chatty child cannot block.
fn run_with_timeout(mut cmd: Command, timeout: Duration) -> SkopeoResult {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
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
    SkopeoResult {
        success: !timed_out && status.is_some_and(|s| s.success()),
        stdout,
        stderr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn repository_strips_tag_and_digest() {
        assert_eq!(repository_of("demo/app:v1"), "demo/app");
        assert_eq!(repository_of("demo/app@sha256:abcd"), "demo/app");
        assert_eq!(repository_of("demo/app:v1@sha256:abcd"), "demo/app");
        assert_eq!(repository_of("app"), "app");
    }

    #[test]
    fn policy_has_the_shape_skopeo_expects() {
        let key = Path::new("/keys/cosign \"x\".pub");
        let text = verify_policy_json("127.0.0.1:5000/demo/app", key, SignedIdentity::MatchExact);
        let v: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["default"], json!([{"type": "reject"}]));
        let transports = v["transports"].as_object().expect("transports");
        assert_eq!(transports.len(), 2);
        let docker = transports["docker"].as_object().expect("docker scopes");
        assert_eq!(docker.len(), 1);
        assert_eq!(
            docker["127.0.0.1:5000/demo/app"],
            json!([{
                "type": "sigstoreSigned",
                "keyPath": "/keys/cosign \"x\".pub",
                "signedIdentity": {"type": "matchExact"}
            }])
        );
        assert_eq!(
            transports["oci"],
            json!({"": [{"type": "insecureAcceptAnything"}]})
        );
    }

    #[test]
    fn identity_type_names() {
        assert_eq!(
            SignedIdentity::MatchRepository.policy_type(),
            "matchRepository"
        );
        assert_eq!(SignedIdentity::MatchExact.policy_type(), "matchExact");
        assert_eq!(
            SignedIdentity::MatchRepoDigestOrExact.policy_type(),
            "matchRepoDigestOrExact"
        );
    }

    #[test]
    fn registries_d_enables_attachments_for_the_registry() {
        let dir = sigstore_registries_d("127.0.0.1:5123");
        let text =
            fs::read_to_string(dir.path().join("hallmark-test.yaml")).expect("registries.d file");
        assert_eq!(
            text,
            "docker:\n  \"127.0.0.1:5123\":\n    use-sigstore-attachments: true\n"
        );
    }

    #[test]
    fn timeout_kills_the_child() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let started = std::time::Instant::now();
        let r = run_with_timeout(cmd, Duration::from_millis(200));
        assert!(!r.success);
        assert!(r.stderr.contains("killed after"), "{r}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn output_is_captured_and_stdin_is_closed() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "cat; echo out; echo err >&2; exit 3"]);
        let r = run_with_timeout(cmd, Duration::from_secs(30));
        assert_eq!(
            r,
            SkopeoResult {
                success: false,
                stdout: "out\n".into(),
                stderr: "err\n".into()
            }
        );
    }
}
