//! `hallmark proxy` in front of the shared docker-registry, with a real Docker engine as the
//! client: `docker pull` of a signed image works and has the verified digest, of an unsigned
//! one fails showing the proxy's reason; `docker push` of an unsigned tag is refused in
//! `refuse` mode (and `hallmark copy --sign` publishes through it), taken and hidden until
//! signed in `gate` mode; a large layer streams through with the proxy's memory bounded.

use crate::docker_engine::{engine, import_and_push};
use crate::util::{Daemon, World, put_blob, registry, unique};
use hallmark_testutil::process::free_port;
use std::process::Command;

struct Proxy {
    daemon: Daemon,
    addr: String,
}

impl Proxy {
    fn start(w: &World, policy: &std::path::Path, mode: &str) -> Self {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hallmark"));
        cmd.args(["proxy", "--addr", &addr, "--upstream"])
            .arg(format!("http://{}", registry()))
            .arg("--policy")
            .arg(policy)
            .args([
                "--push-mode",
                mode,
                "--deny-ttl",
                "0s",
                "--decision-log",
                "-",
            ]);
        let daemon = Daemon::start(cmd, w.path(&format!("proxy-{port}.log")), || {
            std::net::TcpStream::connect(&addr).is_ok()
        });
        Self { daemon, addr }
    }

    /// The proxy's peak resident memory so far (VmHWM), KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.daemon.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    fn stderr(&self) -> String {
        self.daemon.output()
    }
}

fn policy(w: &World, prefix: &str, key: &std::path::Path) -> std::path::PathBuf {
    let path = w.path("proxy-policy.yaml");
    std::fs::write(
        &path,
        format!(
            "apiVersion: hallmark/v1\nkind: Policy\ndefault: allow\nrules:\n  - name: release\n    \
             images: [\"{}/{prefix}/**\"]\n    require:\n      - cosign: {{keys: [{}]}}\n",
            registry(),
            key.display()
        ),
    )
    .unwrap();
    path
}

fn upstream_has_tag(repo: &str, tag: &str) -> bool {
    let r = crate::util::http(
        registry(),
        "HEAD",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        )],
        b"",
    );
    r.status == 200
}

#[test]
fn docker_pulls_signed_images_through_the_proxy_and_is_refused_unsigned_ones() {
    let docker = engine().client();
    let w = World::new();
    let key = w.key("release", "pw");
    let prefix = unique("dproxy");
    let repo = format!("{prefix}/app");
    let signed = format!("{}/{repo}:signed", registry());
    let unsigned = format!("{}/{repo}:unsigned", registry());
    let digest = import_and_push(&w, &docker, &signed, "signed through the proxy");
    import_and_push(&w, &docker, &unsigned, "unsigned through the proxy");
    w.sign(&key, &[&signed]);
    let p = Proxy::start(&w, &policy(&w, &prefix, &key.public), "refuse");

    docker
        .run(["pull", &format!("{}/{repo}:signed", p.addr)])
        .assert_success();
    let inspect = docker.run([
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        &format!("{}/{repo}:signed", p.addr),
    ]);
    inspect.assert_success();
    assert!(
        inspect.stdout.contains(&digest),
        "docker has the verified digest {digest}: {}",
        inspect.stdout
    );
    let refused = docker.run(["pull", &format!("{}/{repo}:unsigned", p.addr)]);
    refused.assert_failure_containing("denied by rule release");
    assert!(p.stderr().contains("\"result\":\"deny\""), "{}", p.stderr());
}

#[test]
fn refuse_mode_stops_unsigned_docker_pushes_and_copy_sign_publishes_through_it() {
    let docker = engine().client();
    let w = World::new();
    let key = w.key("release", "pw");
    let prefix = unique("drefuse");
    let repo = format!("{prefix}/app");
    let built = format!("{}/{prefix}/ci:build", registry());
    let digest = import_and_push(&w, &docker, &built, "built by ci");
    let p = Proxy::start(&w, &policy(&w, &prefix, &key.public), "refuse");
    let through = format!("{}/{repo}:1.0", p.addr);
    docker.run(["tag", &built, &through]).assert_success();
    docker
        .run(["push", &through])
        .assert_failure_containing("refused");
    assert!(!upstream_has_tag(&repo, "1.0"), "no unsigned tag upstream");

    // Manifest by digest, signature, then the tag: the proxy takes it.
    w.hm([
        "copy",
        &built,
        &through,
        "--sign",
        "--key",
        key.private.to_str().unwrap(),
    ])
    .pw(&key.pass)
    .run()
    .success();
    assert!(upstream_has_tag(&repo, "1.0"));
    docker.run(["pull", &through]).assert_success();

    // An image pushed by digest only (the copy's tag was refused, its manifest is there):
    // `sign --tag` signs it without reading it back, then tags it.
    let other = format!("{}/{prefix}/web:2.0", p.addr);
    w.hm(["copy", &built, &other]).run().failure(&["refused"]);
    assert!(!upstream_has_tag(&format!("{prefix}/web"), "2.0"));
    w.hm([
        "sign",
        "--key",
        key.private.to_str().unwrap(),
        "--tag",
        "2.0",
        &format!("{}/{prefix}/web@{digest}", p.addr),
    ])
    .pw(&key.pass)
    .run()
    .success();
    assert!(upstream_has_tag(&format!("{prefix}/web"), "2.0"));
}

#[test]
fn gate_mode_takes_docker_pushes_and_serves_them_once_signed() {
    let docker = engine().client();
    let w = World::new();
    let key = w.key("release", "pw");
    let prefix = unique("dgate");
    let repo = format!("{prefix}/app");
    let built = format!("{}/{prefix}/ci:build", registry());
    import_and_push(&w, &docker, &built, "gated");
    let p = Proxy::start(&w, &policy(&w, &prefix, &key.public), "gate");
    let through = format!("{}/{repo}:2.0", p.addr);
    docker.run(["tag", &built, &through]).assert_success();
    docker.run(["push", &through]).assert_success();
    assert!(upstream_has_tag(&repo, "2.0"));
    docker.run(["rmi", &through]).assert_success();
    docker
        .run(["pull", &through])
        .assert_failure_containing("denied by rule release");
    w.sign(&key, &[&format!("{}/{repo}:2.0", registry())]);
    docker.run(["pull", &through]).assert_success();
}

#[test]
fn a_large_layer_streams_through_with_bounded_memory() {
    let w = World::new();
    let key = w.key("release", "pw");
    let prefix = unique("big");
    let repo = format!("{prefix}/blob");
    // 1 GiB of incompressible bytes, pushed straight to the registry.
    let mut bytes = vec![0u8; 1024 * 1024 * 1024];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for chunk in bytes.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let digest = put_blob(&repo, &bytes);
    drop(bytes);
    let p = Proxy::start(&w, &policy(&w, &prefix, &key.public), "refuse");
    let before = p.peak_rss_kib();
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "120",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download}",
        ])
        .arg(format!("http://{}/v2/{repo}/blobs/{digest}", p.addr))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(text, format!("200 {}", 1024 * 1024 * 1024), "{out:?}");
    // A client that goes away in the middle of the blob.
    {
        use std::io::{Read as _, Write as _};
        let mut s = std::net::TcpStream::connect(&p.addr).unwrap();
        write!(
            s,
            "GET /v2/{repo}/blobs/{digest} HTTP/1.1\r\nHost: {}\r\n\r\n",
            p.addr
        )
        .unwrap();
        let mut buf = vec![0u8; 4 * 1024 * 1024];
        let mut got = 0;
        while got < buf.len() {
            match s.read(&mut buf[got..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        assert!(got > 0, "the blob started");
    }
    let after = crate::util::http(&p.addr, "GET", "/v2/", &[], b"");
    assert_eq!(
        after.status, 200,
        "the proxy keeps serving after a client left mid-blob"
    );
    let peak = p.peak_rss_kib();
    eprintln!("proxy peak RSS: {before} KiB before, {peak} KiB after a 1 GiB blob");
    assert!(
        peak < 96 * 1024,
        "the blob must stream: peak RSS {peak} KiB after 1 GiB (before: {before} KiB)"
    );
}
