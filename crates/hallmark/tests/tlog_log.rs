//! The log client commands against real `hallmark log serve` processes: `log verify`
//! (monitoring: trust on first use, growth, and loud failures on a rollback, a fork and a
//! rewrite), `log search` ("was my key used?"), and key-signed bundles from `sign-blob
//! --bundle` verified by sigstore-js (`@sigstore/verify`) and by `verify-blob`.

use crate::{
    tlog_util::{LogServer, sign_blob_logged, sigstore_js_verify, trusted_root},
    util::{Output, World, sha256},
};
use serde_json::Value;

fn log_verify(w: &World, log: &LogServer, state: &str) -> Output {
    w.hm(["log", "verify", "--tlog-url", &log.url(), "--state", state])
        .run()
}

/// Log `n` distinct blobs signed by `key` (files `<prefix><i>`).
fn log_blobs(
    w: &World,
    key: &crate::util::Key,
    log: &LogServer,
    prefix: &str,
    n: usize,
) -> Vec<String> {
    (0..n)
        .map(|i| {
            let name = format!("{prefix}{i}");
            std::fs::write(w.path(&name), format!("{prefix} artifact {i}\n")).unwrap();
            sign_blob_logged(w, key, log, &name, &[]);
            name
        })
        .collect()
}

#[test]
fn log_verify_trusts_first_then_checks_consistency() {
    let w = World::new();
    let log = LogServer::start(&w, "log");
    let k = w.key("k", "pw");

    let first = log_verify(&w, &log, "state.json");
    first.success();
    assert!(
        first.stdout.contains("first run") && first.stdout.contains("TOFU"),
        "{first}"
    );
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("state.json")).unwrap()).unwrap();
    assert_eq!(state["tree_size"], 0);

    log_blobs(&w, &k, &log, "a", 3);
    let grew = log_verify(&w, &log, "state.json");
    grew.success();
    assert!(
        grew.stdout.contains("consistent: grew from 0 to 3 entries"),
        "{grew}"
    );
    log_blobs(&w, &k, &log, "b", 2);
    let grew = log_verify(&w, &log, "state.json");
    grew.success();
    assert!(
        grew.stdout
            .contains("grew from 3 to 5 entries, consistency proof verified"),
        "{grew}"
    );
    let same = w
        .hm([
            "log",
            "verify",
            "--tlog-url",
            &log.url(),
            "--state",
            "state.json",
            "-o",
            "json",
        ])
        .run();
    same.success();
    assert_eq!(same.json()["status"], "unchanged", "{same}");
    assert_eq!(same.json()["tree_size"], 5, "{same}");

    // The default state file lives under $XDG_STATE_HOME/hallmark/tlog/.
    let xdg = w.path("xdg-state");
    w.hm(["log", "verify", "--tlog-url", &log.url()])
        .env("XDG_STATE_HOME", xdg.to_str().unwrap())
        .run()
        .success();
    let host = log.addr.replace(':', "_");
    assert!(
        xdg.join(format!("hallmark/tlog/{host}.json")).is_file(),
        "expected the default state file under {}",
        xdg.display()
    );
}

/// A second log with the first one's key and origin but other entries ("the same log"
/// rewritten or forked) is caught at every size: smaller (rollback), equal (fork), larger (no
/// consistency proof can exist). The state file is left as it was.
#[test]
fn log_verify_fails_loudly_on_rollback_fork_and_rewrite() {
    let w = World::new();
    let a = LogServer::start(&w, "log-a");
    let k = w.key("k", "pw");
    log_blobs(&w, &k, &a, "a", 4);
    log_verify(&w, &a, "state.json").success();
    let recorded = std::fs::read(w.path("state.json")).unwrap();

    // Log B: A's key and origin, different entries.
    let b_dir = w.path("log-b");
    std::fs::create_dir_all(&b_dir).unwrap();
    std::fs::copy(a.data_dir.join("log-key.pem"), b_dir.join("log-key.pem")).unwrap();
    let b = LogServer::start_in(&b_dir, Some(&a.origin()));
    assert_eq!(b.origin(), a.origin());

    let expect_inconsistent = |what: &str| {
        let out = log_verify(&w, &b, "state.json");
        out.failure(&[
            "TRANSPARENCY LOG INCONSISTENCY",
            what,
            "previously verified",
            "now served",
            "NOT consistent",
        ]);
        assert_eq!(
            std::fs::read(w.path("state.json")).unwrap(),
            recorded,
            "the state file must not change on failure"
        );
        out
    };

    log_blobs(&w, &k, &b, "b", 2);
    expect_inconsistent("the tree shrank");
    log_blobs(&w, &k, &b, "c", 2);
    let out = expect_inconsistent("another root at the same size");
    // Both checkpoints are named: sizes and roots.
    let a_root = a.info()["rootHash"].as_str().unwrap().to_owned();
    let b_root = b.info()["rootHash"].as_str().unwrap().to_owned();
    assert!(
        out.stderr.contains(&a_root) && out.stderr.contains(&b_root),
        "{out}"
    );
    log_blobs(&w, &k, &b, "d", 3);
    expect_inconsistent("the consistency proof does not verify");

    // A log with another key at the recorded URL's place: its checkpoints do not verify.
    let c = LogServer::start(&w, "log-c");
    log_verify(&w, &c, "state.json").failure(&["not signed by the key recorded before"]);

    // A itself is still fine.
    log_blobs(&w, &k, &a, "e", 1);
    log_verify(&w, &a, "state.json").success();
}

#[test]
fn log_search_finds_exactly_one_keys_entries() {
    let w = World::new();
    let log = LogServer::start(&w, "log");
    let k1 = w.key("k1", "pw");
    let k2 = w.key("k2", "pw");
    let mine = log_blobs(&w, &k1, &log, "mine", 2);
    let theirs = log_blobs(&w, &k2, &log, "theirs", 2);
    let mine2 = log_blobs(&w, &k1, &log, "more", 1);
    // An image signature by k1 is a hashedrekord entry too.
    let image = w.seed("tlog-search", 1).remove(0);
    w.hm([
        "sign",
        "--key",
        "k1.key",
        "--tlog-url",
        &log.url(),
        &image.by_tag(),
    ])
    .pw("pw")
    .run()
    .success();
    assert_eq!(log.size(), 6);

    let out = w
        .hm([
            "log",
            "search",
            "--public-key",
            "k1.pub",
            "--tlog-url",
            &log.url(),
            "-o",
            "json",
        ])
        .run();
    out.success();
    let v = out.json();
    let entries = v["entries"].as_array().unwrap();
    let indexes: Vec<u64> = entries
        .iter()
        .map(|e| e["log_index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [0, 1, 4, 5], "{v}");
    for (e, file) in entries.iter().zip(mine.iter().chain(&mine2)) {
        assert_eq!(
            e["digest"].as_str().unwrap(),
            sha256(&std::fs::read(w.path(file)).unwrap()),
            "{v}"
        );
        assert!(e["integrated_time"].as_i64().is_some(), "{v}");
    }
    assert_eq!(v["tree_size"], 6);
    assert_eq!(v["method"], "tiles", "read through C2SP entry bundles: {v}");
    assert_eq!(v["key_fingerprint"].as_str().unwrap(), k1.fingerprint);

    let out = w
        .hm([
            "log",
            "search",
            "--public-key",
            "k2.pub",
            "--tlog-url",
            &log.url(),
        ])
        .run();
    out.success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), theirs.len(), "{out}");
    assert!(
        lines[0].starts_with("2\t") && lines[1].starts_with("3\t"),
        "{out}"
    );
    assert!(out.stderr.contains("2 of 6 entries"), "{out}");

    // A key never used: no entries, still a success.
    let _k3 = w.key("k3", "pw");
    let out = w
        .hm([
            "log",
            "search",
            "--public-key",
            "k3.pub",
            "--tlog-url",
            &log.url(),
            "-o",
            "json",
        ])
        .run();
    out.success();
    assert_eq!(out.json()["entries"], Value::Array(vec![]));
}

#[test]
fn sign_blob_bundle_verifies_with_sigstore_js_and_verify_blob() {
    let w = World::new();
    let log = LogServer::start(&w, "log");
    let k = w.key("k", "pw");
    // Other entries first, so the inclusion proof is not trivial.
    log_blobs(&w, &k, &log, "pre", 3);
    std::fs::write(w.path("release.tar"), b"release artifact\x00\x01\x02\n").unwrap();
    let out = sign_blob_logged(
        &w,
        &k,
        &log,
        "release.tar",
        &["--bundle", "release.bundle.json"],
    );
    assert!(out.stderr.contains("at index 3"), "{out}");
    log_blobs(&w, &k, &log, "post", 2);
    let root = trusted_root(&w, &log, "trusted_root.json");
    assert_eq!(root["tlogs"][0]["baseUrl"], log.url());

    // The bundle, per the protobuf-specs JSON form.
    let bundle: Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("release.bundle.json")).unwrap())
            .unwrap();
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["logIndex"], "3");
    assert_eq!(entry["kindVersion"]["kind"], "hashedrekord");
    assert_eq!(entry["kindVersion"]["version"], "0.0.1");
    assert!(entry["inclusionPromise"]["signedEntryTimestamp"].is_string());
    assert!(entry["inclusionProof"]["checkpoint"]["envelope"].is_string());
    assert!(bundle["verificationMaterial"]["publicKey"]["hint"].is_string());
    assert_eq!(
        bundle["messageSignature"]["messageDigest"]["algorithm"],
        "SHA2_256"
    );

    // sigstore-js: accepted with hallmark's trusted root.
    let js = sigstore_js_verify(
        w.dir(),
        "release.bundle.json",
        "release.tar",
        "trusted_root.json",
        &k.public,
    );
    js.success();
    assert!(js.stdout.starts_with("OK "), "{js}");

    // hallmark: accepted with the trusted root, SET + proof + checkpoint verified.
    let ok = w
        .hm([
            "verify-blob",
            "--key",
            "k.pub",
            "--bundle",
            "release.bundle.json",
            "--trusted-root",
            "trusted_root.json",
            "release.tar",
        ])
        .run();
    ok.success();
    assert!(ok.stderr.contains("inclusion proof, checkpoint"), "{ok}");

    // Tampered: another artifact; an altered SET; an altered inclusion proof; another log's
    // trusted root. sigstore-js and hallmark both refuse each.
    std::fs::write(w.path("other.tar"), b"not the release\n").unwrap();
    let refuse = |bundle: &str, artifact: &str, root: &str, needle: &str| {
        let js = sigstore_js_verify(w.dir(), bundle, artifact, root, &k.public);
        assert_eq!(
            js.code,
            Some(1),
            "sigstore-js must refuse {bundle}/{artifact}/{root}:\n{js}"
        );
        assert!(js.stdout.starts_with("FAIL "), "{js}");
        w.hm([
            "verify-blob",
            "--key",
            "k.pub",
            "--bundle",
            bundle,
            "--trusted-root",
            root,
            artifact,
        ])
        .run()
        .failure(&[needle]);
    };
    refuse(
        "release.bundle.json",
        "other.tar",
        "trusted_root.json",
        "signs another artifact",
    );

    let flip = |b: &str| -> String {
        let mut raw =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b).unwrap();
        let n = raw.len();
        raw[n - 1] ^= 1;
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw)
    };
    let mut bad_set = bundle.clone();
    let e = &mut bad_set["verificationMaterial"]["tlogEntries"][0];
    e["inclusionPromise"]["signedEntryTimestamp"] = flip(
        e["inclusionPromise"]["signedEntryTimestamp"]
            .as_str()
            .unwrap(),
    )
    .into();
    std::fs::write(w.path("bad-set.json"), bad_set.to_string()).unwrap();
    refuse("bad-set.json", "release.tar", "trusted_root.json", "SET");

    let mut bad_proof = bundle.clone();
    let e = &mut bad_proof["verificationMaterial"]["tlogEntries"][0];
    e["inclusionProof"]["hashes"][0] =
        flip(e["inclusionProof"]["hashes"][0].as_str().unwrap()).into();
    std::fs::write(w.path("bad-proof.json"), bad_proof.to_string()).unwrap();
    refuse(
        "bad-proof.json",
        "release.tar",
        "trusted_root.json",
        "inclusion proof",
    );

    let other = LogServer::start(&w, "other-log");
    trusted_root(&w, &other, "other_root.json");
    refuse(
        "release.bundle.json",
        "release.tar",
        "other_root.json",
        "not a trusted log",
    );
}
