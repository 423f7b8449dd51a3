//! Witnessed logs end to end with the real binaries: a `hallmark log serve` whose checkpoints
//! two `hallmark witness serve` processes cosign under a witness policy (2 of 2); `/checkpoint`
//! serves the cosigned checkpoint, `log verify --witness-policy` accepts it and names the
//! witnesses, and refuses it under a policy whose quorum those witnesses do not meet. A bundle
//! written by `sign-blob --bundle` carries a cosigned checkpoint and its proof, so
//! `verify-blob --witness-policy` accepts it offline; an unwitnessed log's bundle is refused.

use crate::tlog_util::{LogServer, sign_blob_logged, trusted_root};
use crate::util::{Daemon, World, http};
use hallmark_testutil::process::free_port;
use std::ffi::OsStr;
use std::process::Command;
use std::time::{Duration, Instant};

struct Witness {
    _daemon: Daemon,
    url: String,
    vkey: String,
}

fn witness(w: &World, name: &str, log: &str) -> Witness {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let dir = w.path(name);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hallmark"));
    cmd.args(["witness", "serve", "--addr", &addr, "--log", log])
        .args(["--name", &format!("{name}.example.com"), "--data-dir"])
        .arg(&dir);
    let daemon = Daemon::start(cmd, w.path(&format!("{name}.log")), || {
        std::net::TcpStream::connect(&addr).is_ok()
    });
    let out = w
        .hm([
            OsStr::new("witness"),
            "vkey".as_ref(),
            "--data-dir".as_ref(),
            dir.as_os_str(),
        ])
        .run();
    out.success();
    Witness {
        _daemon: daemon,
        url: format!("http://{addr}"),
        vkey: out.stdout.trim().to_owned(),
    }
}

/// The log's `/checkpoint` once it serves a cosigned checkpoint of a non-empty tree (at most
/// 30 s); `why` is shown when none comes.
fn cosigned_checkpoint(log: &LogServer, why: impl Fn() -> String) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = http(&log.addr, "GET", "/checkpoint", &[], b"");
        if r.status == 200 {
            let text = String::from_utf8(r.body).unwrap();
            if text.lines().nth(1) != Some("0") {
                return text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no cosigned checkpoint after 30 s (last answer {}): {}",
            r.status,
            why()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The log in `data` served under the witness policy `policy.txt` of `w`, with one blob
/// signed and logged in it by a new key `signer` (passphrase `pw`).
fn witnessed_log_with_an_entry(
    w: &World,
    data: &std::path::Path,
    blob: &[u8],
) -> (LogServer, crate::util::Key) {
    let policy = w.path("policy.txt");
    let log = LogServer::start_with(
        data,
        None,
        &["--witness-policy".as_ref(), policy.as_os_str()],
    );
    let key = w.key("signer", "pw");
    std::fs::write(w.path("blob"), blob).unwrap();
    sign_blob_logged(w, &key, &log, "blob", &[]);
    (log, key)
}

/// `hallmark log verify --tlog-url LOG --witness-policy POLICY` with a state file in `w`.
fn log_verify(w: &World, log: &LogServer, policy: &std::path::Path) -> crate::util::Output {
    w.hm([
        "log",
        "verify",
        "--tlog-url",
        &log.url(),
        "--witness-policy",
    ])
    .args([
        policy.as_os_str(),
        "--state".as_ref(),
        w.path("state.json").as_os_str(),
    ])
    .run()
}

#[test]
fn witnesses_cosign_the_log_and_verifiers_require_their_quorum() {
    let w = World::new();
    let data = w.path("log");
    std::fs::create_dir_all(&data).unwrap();
    // The log's vkey: its key and origin are made at the first start and kept.
    let log_vkey = {
        let log = LogServer::start_in(&data, None);
        let out = w.hm(["log", "vkey", "--tlog-url", &log.url()]).run();
        out.success();
        out.stdout.trim().to_owned()
    };
    let origin = log_vkey.split('+').next().unwrap().to_owned();
    let follow = format!("{origin}={log_vkey}");
    let (w1, w2, w3) = (
        witness(&w, "w1", &follow),
        witness(&w, "w2", &follow),
        witness(&w, "w3", &follow),
    );
    std::fs::write(
        w.path("policy.txt"),
        format!(
            "# both witnesses\nwitness w1 {} {}\nwitness w2 {} {}\ngroup both all w1 w2\nquorum both\n",
            w1.vkey, w1.url, w2.vkey, w2.url
        ),
    )
    .unwrap();
    // A verifier that also demands w3, which the log does not ask.
    std::fs::write(
        w.path("strict.txt"),
        format!(
            "witness w1 {}\nwitness w2 {}\nwitness w3 {}\ngroup all3 all w1 w2 w3\nquorum all3\n",
            w1.vkey, w2.vkey, w3.vkey
        ),
    )
    .unwrap();
    let policy = w.path("policy.txt");
    let (log, key) = witnessed_log_with_an_entry(&w, &data, b"witnessed artifact");

    // /checkpoint serves the checkpoint once both witnesses cosigned it (bounded wait).
    let note = cosigned_checkpoint(&log, String::new);
    assert_eq!(
        note.matches("\u{2014} ").count(),
        3,
        "the log's signature and two cosignatures:\n{note}"
    );
    let latest = http(&log.addr, "GET", "/checkpoint/latest", &[], b"");
    assert_eq!(latest.status, 200);

    let out = log_verify(&w, &log, &policy);
    out.success();
    assert!(
        out.stdout
            .contains("cosigned as the witness policy requires, by w1, w2"),
        "{out}"
    );
    let out = log_verify(&w, &log, &w.path("strict.txt"));
    out.failure(&[
        "do not satisfy the witness policy",
        "3 of [w1, w2, w3]",
        "[w1, w2]",
    ]);

    // Bundles: written against a cosigned checkpoint, verified offline under the policy.
    trusted_root(&w, &log, "trusted_root.json");
    std::fs::write(w.path("release.tar"), b"a witnessed release\n").unwrap();
    sign_blob_logged(
        &w,
        &key,
        &log,
        "release.tar",
        &["--bundle", "release.bundle.json"],
    );
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.path("release.bundle.json")).unwrap()).unwrap();
    let envelope = bundle
        .pointer("/verificationMaterial/tlogEntries/0/inclusionProof/checkpoint/envelope")
        .and_then(serde_json::Value::as_str)
        .unwrap();
    assert_eq!(envelope.matches("\u{2014} ").count(), 3, "{envelope}");
    let verify_blob = |bundle: &str, policy: &std::path::Path| {
        w.hm(["verify-blob", "--key"])
            .args([key.public.as_os_str()])
            .args(["--bundle", bundle, "--trusted-root", "trusted_root.json"])
            .args([
                "--witness-policy".as_ref(),
                policy.as_os_str(),
                "release.tar".as_ref(),
            ])
            .run()
    };
    verify_blob("release.bundle.json", &policy).success();
    verify_blob("release.bundle.json", &w.path("strict.txt")).failure(&["3 of [w1, w2, w3]"]);
    // Images: a signature logged in cosign's `.sig` annotation carries a SET but no
    // checkpoint, so a verifier requiring witnesses refuses it, naming why; without the
    // witness policy the same signature and entry verify.
    let img = &w.seed("witnessed-image", 1)[0];
    w.hm(["sign", "--key"])
        .args([key.private.as_os_str()])
        .args(["--tlog-url", &log.url(), &img.by_tag()])
        .pw("pw")
        .run()
        .success();
    let verify_image = |extra: &[&std::ffi::OsStr]| {
        w.hm(["verify", "--key"])
            .args([key.public.as_os_str()])
            .args(["--trusted-root", "trusted_root.json"])
            .args(extra)
            .args([img.by_tag()])
            .run()
    };
    verify_image(&["--require-tlog".as_ref()]).success();
    verify_image(&["--witness-policy".as_ref(), policy.as_os_str()])
        .failure(&["cosigned as the witness policy requires, found no inclusion proof"]);
    // The same through a policy file (what admission and the proxy decide with): a `tlog`
    // requirement with `witnessPolicy` does not count the entry, and says why.
    let pub_key = key.public.display().to_string();
    let policy_file = |tlog: &str| {
        format!(
            "apiVersion: hallmark/v1\nkind: Policy\ndefault: deny\nrules:\n  - name: release\n    images: [\"**\"]\n    require:\n      - cosign: {{keys: [{pub_key}]}}\n      - tlog: {{{tlog}}}\n"
        )
    };
    std::fs::write(
        w.path("logged.yaml"),
        policy_file("trustedRoot: trusted_root.json"),
    )
    .unwrap();
    std::fs::write(
        w.path("witnessed.yaml"),
        policy_file("trustedRoot: trusted_root.json, witnessPolicy: policy.txt"),
    )
    .unwrap();
    let decide = |file: &str| w.hm(["verify", "--policy", file, &img.by_tag()]).run();
    decide("logged.yaml").success();
    let out = decide("witnessed.yaml");
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stdout.contains(
            "none logged in trusted_root.json witnessed under policy.txt (transparency-log entry: expected an inclusion proof with a checkpoint cosigned as the witness policy requires, found no inclusion proof)"
        ),
        "{out}"
    );
    // The same image signed as cosign 3 does by default (a bundle referrer whose `dsse` entry
    // is proven against a checkpoint both witnesses cosigned) passes the witness policy, on the
    // command line and in a policy file; a verifier demanding a third witness still refuses.
    let out = w
        .hm(["sign", "--format", "bundle", "--key"])
        .args([key.private.as_os_str()])
        .args(["--tlog-url", &log.url(), "-o", "json", &img.by_tag()])
        .pw("pw")
        .run();
    out.success();
    let signed: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(signed[0]["bundle_manifest_digest"].is_string(), "{out}");
    // The referrer has cosign 3's shape, and sigstore-js verifies its bundle: the DSSE
    // signature, the `dsse` entry's body against the envelope, the SET, the inclusion proof and
    // the checkpoint, with the log's trusted root.
    let referrer = signed[0]["bundle_manifest_digest"].as_str().unwrap();
    let manifest = crate::util::http(
        crate::util::registry(),
        "GET",
        &format!("/v2/{}/manifests/{referrer}", img.path),
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    );
    assert_eq!(manifest.status, 200);
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.body).unwrap();
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(manifest["subject"]["digest"], img.digest.as_str());
    assert_eq!(
        manifest["annotations"]["dev.sigstore.bundle.predicateType"],
        "https://sigstore.dev/cosign/sign/v1"
    );
    let bundle =
        crate::util::get_blob(&img.path, manifest["layers"][0]["digest"].as_str().unwrap());
    let parsed: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
    let entry = &parsed["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["kind"], "dsse");
    let envelope = entry
        .pointer("/inclusionProof/checkpoint/envelope")
        .and_then(serde_json::Value::as_str)
        .unwrap();
    assert_eq!(envelope.matches("\u{2014} ").count(), 3, "{envelope}");
    std::fs::write(w.path("image.bundle.json"), &bundle).unwrap();
    // sigstore-js finds the log of a checkpoint signature by its key hint and by matching the
    // signature's name (the log's origin, here the address of the log's first start) against
    // the log's baseUrl: its trusted root names the log by its origin.
    let mut root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.path("trusted_root.json")).unwrap()).unwrap();
    root["tlogs"][0]["baseUrl"] = serde_json::Value::String(format!("http://{origin}"));
    std::fs::write(w.path("trusted_root.js.json"), root.to_string()).unwrap();
    let js = crate::tlog_util::sigstore_js_verify(
        w.dir(),
        "image.bundle.json",
        "release.tar",
        "trusted_root.js.json",
        &key.public,
    );
    js.success();
    assert!(js.stdout.starts_with("OK "), "{js}");
    verify_image(&["--witness-policy".as_ref(), policy.as_os_str()]).success();
    verify_image(&[
        "--witness-policy".as_ref(),
        w.path("strict.txt").as_os_str(),
    ])
    .failure(&["3 of [w1, w2, w3]"]);
    decide("witnessed.yaml").success();
    // Without a log a bundle cannot be written, and nothing is pushed.
    w.hm(["sign", "--format", "bundle", "--key"])
        .args([key.private.as_os_str()])
        .args([&img.by_tag()])
        .pw("pw")
        .run()
        .failure(&["expected --tlog-url URL"]);
    // A witness policy that does not parse is a load error naming the file and the line.
    std::fs::write(w.path("policy.txt.bad"), "witness w1 not-a-vkey\n").unwrap();
    std::fs::write(
        w.path("bad.yaml"),
        policy_file("trustedRoot: trusted_root.json, witnessPolicy: policy.txt.bad"),
    )
    .unwrap();
    let out = decide("bad.yaml");
    assert_eq!(out.code, Some(2), "a policy that does not load: {out}");
    assert!(
        out.stderr
            .contains("witnessed under policy.txt.bad named in the policy")
            && out
                .stderr
                .contains("line 1: witness w1: malformed note key"),
        "{out}"
    );

    // The same log without witnesses: its bundle's checkpoint carries no cosignature.
    drop(log);
    let plain = LogServer::start_in(&data, None);
    sign_blob_logged(
        &w,
        &key,
        &plain,
        "release.tar",
        &["--bundle", "plain.bundle.json"],
    );
    verify_blob("plain.bundle.json", &policy).failure(&["do not satisfy the witness policy"]);
}

/// The independent witness, installed by ./scripts/test; the test fails without it.
#[track_caller]
fn aics_witness() -> String {
    std::env::var("HALLMARK_AICS_WITNESS").unwrap_or_else(|_| {
        panic!("HALLMARK_AICS_WITNESS is not set: run ./scripts/test (it installs aics-witness)")
    })
}

/// aics-witness 0.1.0 (an independent C2SP tlog-witness, Python, from PyPI) cosigns a hallmark
/// log's checkpoints as the log asks it; hallmark's verifier accepts its cosignatures; a
/// checkpoint for the same origin signed by another key is refused by aics-witness and by
/// hallmark's witness alike. The log key is Ed25519: aics-witness derives ECDSA vkey IDs
/// differently (docs/compatibility.md).
#[test]
fn an_independent_witness_cosigns_hallmark_checkpoints_and_hallmark_accepts_them() {
    let aics = aics_witness();
    let w = World::new();
    let data = w.path("log");
    std::fs::create_dir_all(&data).unwrap();
    let log_vkey = {
        let log = LogServer::start_with(
            &data,
            None,
            &["--log-key-type".as_ref(), "ed25519".as_ref()],
        );
        let out = w.hm(["log", "vkey", "--tlog-url", &log.url()]).run();
        out.success();
        out.stdout.trim().to_owned()
    };
    let origin = log_vkey.split('+').next().unwrap().to_owned();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let tool = |args: &[&str]| {
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        crate::util::run_tool(w.dir(), &aics, &args)
    };
    tool(&[
        "init",
        "-c",
        "witness.json",
        "--name",
        "aics.example.com/w1",
        "--listen",
        &addr,
    ])
    .success();
    tool(&[
        "add-log",
        "-c",
        "witness.json",
        "--origin",
        &origin,
        "--vkey",
        &log_vkey,
    ])
    .success();
    let status = tool(&["status", "-c", "witness.json"]);
    status.success();
    let aics_vkey = status
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("vkey"))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("aics-witness status: no vkey line:\n{status}"));
    let mut cmd = Command::new(&aics);
    cmd.args(["serve", "-c", "witness.json"])
        .current_dir(w.dir());
    let _aics = Daemon::start(cmd, w.path("aics.log"), || {
        std::net::TcpStream::connect(&addr).is_ok()
    });
    std::fs::write(
        w.path("policy.txt"),
        format!("witness aics {aics_vkey} http://{addr}\nquorum aics\n"),
    )
    .unwrap();
    let policy = w.path("policy.txt");
    let (log, key) = witnessed_log_with_an_entry(&w, &data, b"independently witnessed");
    let note = cosigned_checkpoint(&log, || {
        std::fs::read_to_string(w.path("aics.log")).unwrap_or_default()
    });
    assert!(note.contains("\u{2014} aics.example.com/w1 "), "{note}");
    let out = log_verify(&w, &log, &policy);
    out.success();
    assert!(out.stdout.contains("by aics"), "{out}");

    // Another key signing checkpoints for the same origin: both witnesses refuse it (403).
    let impostor = LogServer::start_in(&w.path("impostor"), Some(&origin));
    sign_blob_logged(&w, &key, &impostor, "blob", &[]);
    let forged = http(&impostor.addr, "GET", "/checkpoint/latest", &[], b"");
    assert_eq!(forged.status, 200);
    let body = format!("old 0\n\n{}", String::from_utf8(forged.body).unwrap());
    let r = http(&addr, "POST", "/add-checkpoint", &[], body.as_bytes());
    assert_eq!(
        r.status,
        403,
        "aics-witness: {}",
        String::from_utf8_lossy(&r.body)
    );
    let ours = witness(&w, "ours", &format!("{origin}={log_vkey}"));
    let ours_addr = ours.url.trim_start_matches("http://").to_owned();
    let r = http(&ours_addr, "POST", "/add-checkpoint", &[], body.as_bytes());
    assert_eq!(
        r.status,
        403,
        "hallmark witness: {}",
        String::from_utf8_lossy(&r.body)
    );
}
