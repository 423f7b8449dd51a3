//! `hallmark verify --policy`, `hallmark pull` and `hallmark policy check|schema|convert`
//! against the shared registry (and the trust servers of `trust_client` for Docker Content
//! Trust requirements), one test per property.

use crate::util::{Image, Key, World};
use serde_json::Value;

/// `verify --policy FILE -o json IMAGE` → (exit code, the image's decision object).
fn decide(w: &World, policy: &str, image: &str) -> (Option<i32>, Value, crate::util::Output) {
    let out = w
        .hm(["verify", "--policy", policy, "-o", "json", image])
        .run();
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("expected a JSON array ({e}), found:\n{out}"));
    let d = v[0].clone();
    (out.code, d, out)
}

fn sign_with(w: &World, k: &Key, extra: &[&str], image: &Image) {
    let mut args = vec!["sign", "--key", k.private.to_str().unwrap()];
    args.extend(extra);
    let r = image.by_tag();
    args.push(&r);
    w.hm(args).pw(&k.pass).run().success();
}

#[test]
fn threshold_counts_distinct_keys_not_signatures() {
    let w = World::new();
    let (k1, k2, k3) = (w.key("k1", "p1"), w.key("k2", "p2"), w.key("k3", "p3"));
    let imgs = w.seed("policy-kofn", 3);
    let (two_keys, one_key_twice, one_key) = (&imgs[0], &imgs[1], &imgs[2]);
    sign_with(&w, &k1, &[], two_keys);
    sign_with(&w, &k2, &[], two_keys);
    // Two different signatures by the same key (different annotations).
    sign_with(&w, &k1, &["-a", "n=1"], one_key_twice);
    sign_with(&w, &k1, &["-a", "n=2"], one_key_twice);
    sign_with(&w, &k3, &[], one_key);
    std::fs::write(
        w.path("policy.yaml"),
        "apiVersion: hallmark/v1\nkind: Policy\ndefault: deny\nrules:\n  - name: release\n    images: [\"**\"]\n    require:\n      - cosign: {keys: [k1.pub, k2.pub, k3.pub], threshold: 2}\n",
    )
    .unwrap();

    let (code, d, out) = decide(&w, "policy.yaml", &two_keys.by_tag());
    assert_eq!(
        code,
        Some(0),
        "two distinct keys: expected allowed, found:\n{out}"
    );
    assert_eq!(d["decision"], "allow", "{out}");
    assert_eq!(d["rule"], "release", "{out}");
    assert_eq!(d["digest"], two_keys.digest.as_str(), "{out}");
    assert_eq!(d["requirements"][0]["met"], true, "{out}");

    let (code, d, out) = decide(&w, "policy.yaml", &one_key_twice.by_tag());
    assert_eq!(
        code,
        Some(1),
        "one key twice: expected denied, found:\n{out}"
    );
    assert_eq!(d["decision"], "deny", "{out}");
    assert_eq!(d["requirements"][0]["met"], false, "{out}");
    let reason = d["requirements"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains('2') && reason.contains('1'),
        "expected the reason to name 2 required and 1 found, found {reason:?}"
    );

    let (code, _, out) = decide(&w, "policy.yaml", &one_key.by_tag());
    assert_eq!(code, Some(1), "one key: expected denied, found:\n{out}");

    // Text output names the verdict, the rule and each requirement.
    let out = w
        .hm(["verify", "--policy", "policy.yaml", &one_key.by_tag()])
        .run();
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stdout.contains("denied") && out.stdout.contains("rule release"),
        "{out}"
    );
    assert!(out.stdout.contains("not met"), "{out}");
}

#[test]
fn attestation_condition_in_cel_decides_on_the_builder() {
    let w = World::new();
    let _ci = w.key("ci", "pw");
    let imgs = w.seed("policy-cel", 2);
    let predicate = |builder: &str| {
        format!(
            r#"{{"buildDefinition":{{"buildType":"https://example.com/build/v1","externalParameters":{{}}}},"runDetails":{{"builder":{{"id":"{builder}"}}}}}}"#
        )
    };
    std::fs::write(
        w.path("good.json"),
        predicate("https://ci.example.com/builder"),
    )
    .unwrap();
    std::fs::write(
        w.path("bad.json"),
        predicate("https://evil.example.com/builder"),
    )
    .unwrap();
    for (img, file) in [(&imgs[0], "good.json"), (&imgs[1], "bad.json")] {
        w.hm([
            "attest",
            "--key",
            "ci.key",
            "--type",
            "slsaprovenance1",
            "--predicate",
            file,
            &img.by_tag(),
        ])
        .pw("pw")
        .run()
        .success();
    }
    std::fs::write(
        w.path("policy.yaml"),
        r#"apiVersion: hallmark/v1
kind: Policy
default: deny
rules:
  - name: built-by-ci
    images: ["**"]
    require:
      - attestation:
          type: slsaprovenance1
          keys: [ci.pub]
          condition: 'predicate.runDetails.builder.id == "https://ci.example.com/builder"'
"#,
    )
    .unwrap();
    let (code, d, out) = decide(&w, "policy.yaml", &imgs[0].by_tag());
    assert_eq!(
        code,
        Some(0),
        "expected builder: expected allowed, found:\n{out}"
    );
    assert_eq!(d["decision"], "allow", "{out}");

    let (code, d, out) = decide(&w, "policy.yaml", &imgs[1].by_tag());
    assert_eq!(
        code,
        Some(1),
        "another builder: expected denied, found:\n{out}"
    );
    let reason = d["requirements"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("predicate.runDetails.builder.id")
            && reason.contains("https://evil.example.com/builder"),
        "expected the expression and the value found in the reason, found {reason:?}"
    );
}

#[test]
fn audit_mode_allows_with_warnings_and_default_allow_passes_unmatched_images() {
    let w = World::new();
    let k = w.key("k", "pw");
    let img = w.seed("policy-audit", 1).remove(0);
    std::fs::write(
        w.path("policy.yaml"),
        "apiVersion: hallmark/v1\nkind: Policy\ndefault: deny\nrules:\n  - name: watch\n    images: [\"**\"]\n    mode: audit\n    require:\n      - cosign: {keys: [k.pub]}\n",
    )
    .unwrap();
    let _ = k;
    let (code, d, out) = decide(&w, "policy.yaml", &img.by_tag());
    assert_eq!(code, Some(0), "audit: expected exit 0, found:\n{out}");
    assert_eq!(d["decision"], "allow", "{out}");
    assert_eq!(d["mode"], "audit", "{out}");
    assert!(
        !d["warnings"].as_array().unwrap().is_empty(),
        "expected a warning, found:\n{out}"
    );

    std::fs::write(
        w.path("allow.yaml"),
        "apiVersion: hallmark/v1\nkind: Policy\ndefault: allow\nrules:\n  - name: elsewhere\n    images: [\"registry.example.com/**\"]\n    require:\n      - reject: {}\n",
    )
    .unwrap();
    let (code, d, out) = decide(&w, "allow.yaml", &img.by_tag());
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(d["rule"], Value::Null, "{out}");

    std::fs::write(
        w.path("deny.yaml"),
        "apiVersion: hallmark/v1\nkind: Policy\ndefault: deny\nrules:\n  - name: elsewhere\n    images: [\"registry.example.com/**\"]\n    require:\n      - accept: {}\n",
    )
    .unwrap();
    let (code, d, out) = decide(&w, "deny.yaml", &img.by_tag());
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(d["decision"], "deny", "{out}");
}

#[test]
fn pull_copies_an_allowed_image_by_its_verified_digest_and_writes_nothing_for_a_denied_one() {
    let w = World::new();
    let k = w.key("k", "pw");
    let imgs = w.seed("policy-pull", 2);
    sign_with(&w, &k, &[], &imgs[0]);
    std::fs::write(
        w.path("policy.yaml"),
        "apiVersion: hallmark/v1\nkind: Policy\ndefault: deny\nrules:\n  - name: signed\n    images: [\"**\"]\n    require:\n      - cosign: {keys: [k.pub]}\n",
    )
    .unwrap();
    let dest = w.path("out");
    let to = format!("oci:{}", dest.display());
    let out = w
        .hm([
            "pull",
            "--policy",
            "policy.yaml",
            "--to",
            &to,
            &imgs[1].by_tag(),
        ])
        .run();
    assert_eq!(
        out.code,
        Some(1),
        "denied pull: expected exit 1, found:\n{out}"
    );
    assert!(
        out.stderr.contains("denied") && out.stderr.contains("nothing was written"),
        "{out}"
    );
    assert!(
        !dest.exists(),
        "a denied pull must write nothing, found {}",
        dest.display()
    );

    let out = w
        .hm([
            "pull",
            "--policy",
            "policy.yaml",
            "--to",
            &to,
            &imgs[0].by_tag(),
        ])
        .run();
    out.success();
    // The layout holds the verified digest under the tag, and its signature: verify offline.
    let layout = format!("oci:{}:{}", dest.display(), imgs[0].tag);
    let (code, d, out) = decide(&w, "policy.yaml", &layout);
    assert_eq!(code, Some(0), "the pulled copy verifies offline: {out}");
    assert_eq!(d["digest"], imgs[0].digest.as_str(), "{out}");
}

/// A policy that does not load: exit 2, the file with line and column, and nothing written.
#[test]
fn bad_policies_exit_2_naming_file_line_and_column() {
    let w = World::new();
    let img = w.seed("policy-bad", 1).remove(0);
    let k = w.key("k", "pw");
    let _ = k;
    let head = "apiVersion: hallmark/v1\nkind: Policy\ndefault: deny\nrules:\n";
    let cases: Vec<(&str, String, &[&str])> = vec![
        (
            "malformed YAML",
            format!("{head}  - name: x\n    images: [\"**\"\n"),
            &["policy.yaml:"],
        ),
        (
            "unknown key",
            format!("{head}  - name: x\n    images: [\"**\"]\n    requires: []\n"),
            &["policy.yaml:7:", "requires"],
        ),
        (
            "wrong apiVersion",
            "apiVersion: hallmark/v2\nkind: Policy\ndefault: deny\nrules: []\n".to_owned(),
            &["policy.yaml:1:", "hallmark/v1"],
        ),
        (
            "threshold above key count",
            format!(
                "{head}  - name: x\n    images: [\"**\"]\n    require:\n      - cosign: {{keys: [k.pub], threshold: 2}}\n"
            ),
            &["policy.yaml:8:", "threshold"],
        ),
        (
            "equal specificity overlap",
            format!(
                "{head}  - name: a\n    images: [\"reg.example.com/*/app\"]\n    require: [accept: {{}}]\n  - name: b\n    images: [\"reg.example.com/app/*\"]\n    require: [accept: {{}}]\n"
            ),
            &["policy.yaml:", "a", "b"],
        ),
        (
            "empty anyOf",
            format!("{head}  - name: x\n    images: [\"**\"]\n    anyOf: []\n"),
            &["policy.yaml:7:", "anyOf"],
        ),
        (
            "CEL that does not compile",
            format!(
                "{head}  - name: x\n    images: [\"**\"]\n    require:\n      - attestation: {{type: slsaprovenance1, keys: [k.pub], condition: 'predicate.x ==== 1'}}\n"
            ),
            &["policy.yaml:8:"],
        ),
        (
            "unreadable key file",
            format!(
                "{head}  - name: x\n    images: [\"**\"]\n    require:\n      - cosign: {{keys: [missing.pub]}}\n"
            ),
            &["missing.pub"],
        ),
    ];
    for (name, text, needles) in cases {
        std::fs::write(w.path("policy.yaml"), &text).unwrap();
        let out = w
            .hm(["verify", "--policy", "policy.yaml", &img.by_tag()])
            .run();
        assert_eq!(out.code, Some(2), "{name}: expected exit 2, found:\n{out}");
        for n in needles {
            assert!(
                out.stderr.contains(n),
                "{name}: expected {n:?} in the error, found:\n{out}"
            );
        }
        let dest = w.path("never");
        let out = w
            .hm([
                "pull",
                "--policy",
                "policy.yaml",
                "--to",
                &format!("oci:{}", dest.display()),
                &img.by_tag(),
            ])
            .run();
        assert_eq!(
            out.code,
            Some(2),
            "{name} (pull): expected exit 2, found:\n{out}"
        );
        assert!(!dest.exists(), "{name}: pull wrote {}", dest.display());
        if name != "unreadable key file" {
            let out = w.hm(["policy", "check", "policy.yaml"]).run();
            assert_eq!(
                out.code,
                Some(2),
                "{name} (policy check): expected exit 2, found:\n{out}"
            );
        }
    }
    let out = w
        .hm(["verify", "--policy", "no-such-policy.yaml", &img.by_tag()])
        .run();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("no-such-policy.yaml"), "{out}");
}

#[test]
fn policy_schema_and_convert() {
    let w = World::new();
    let out = w.hm(["policy", "schema"]).run();
    out.success();
    let schema = out.json();
    assert!(
        schema.get("properties").is_some() || schema.get("$defs").is_some(),
        "{out}"
    );
    let k = w.key("k", "pw");
    std::fs::write(
        w.path("containers.json"),
        format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"registry.example.com/app":[{{"type":"sigstoreSigned","keyPath":"{}","signedIdentity":{{"type":"matchRepository"}}}}]}}}}}}"#,
            k.public.display()
        ),
    )
    .unwrap();
    w.hm(["policy", "check", "containers.json"]).run().success();
    let out = w.hm(["policy", "convert", "containers.json"]).run();
    out.success();
    std::fs::write(w.path("converted.yaml"), &out.stdout).unwrap();
    let check = w.hm(["policy", "check", "converted.yaml"]).run();
    check.success();
    assert!(out.stdout.contains("apiVersion: hallmark/v1"), "{out}");
    assert!(out.stdout.contains("registry.example.com/app"), "{out}");
    // GPG signedBy is refused by name.
    std::fs::write(
        w.path("gpg.json"),
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k.gpg"}]}"#,
    )
    .unwrap();
    let out = w.hm(["policy", "check", "gpg.json"]).run();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("signedBy"), "{out}");
}

/// `hallmark trust ARGS --server URL --tls-ca CA` with both passphrases.
pub(crate) fn trust(
    w: &World,
    n: &crate::trust_client::Notary,
    args: &[&str],
) -> crate::util::Output {
    let mut all: Vec<&str> = vec!["trust"];
    all.extend(args);
    let ca = n.ca.display().to_string();
    if args.first() != Some(&"key") {
        all.extend(["--server", &n.url, "--tls-ca", &ca]);
    }
    w.hm(&all)
        .env("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "root-pass")
        .env("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "repo-pass")
        .run()
}

/// `policy.yaml`: images matching `images` need a DCT signature by `signer` on `n`, whose CA
/// is put where docker looks for it (`$DOCKER_CONFIG/tls/<host:port>/ca.crt`): the policy
/// names only the server.
pub(crate) fn write_dct_policy(
    w: &World,
    n: &crate::trust_client::Notary,
    images: &str,
    signer: &str,
) {
    let host = n.url.trim_start_matches("https://");
    let tls = w.dir().join(".no-docker-config/tls").join(host);
    std::fs::create_dir_all(&tls).unwrap();
    std::fs::copy(&n.ca, tls.join("ca.crt")).unwrap();
    std::fs::write(
        w.path("policy.yaml"),
        format!(
            "apiVersion: hallmark/v1\nkind: Policy\ndefault: deny\nrules:\n  - name: dct\n    images: [\"{images}\"]\n    require:\n      - dct: {{server: \"{}\", signers: [{signer}], threshold: 1}}\n",
            n.url
        ),
    )
    .unwrap();
}

fn dct_signer_requirement(n: &crate::trust_client::Notary) {
    let w = World::new();
    let imgs = w.seed("policy-dct", 2);
    let (by_alice, by_carol) = (&imgs[0], &imgs[1]);
    // The repositories differ (img0, img1): alice signs one, carol the other.
    for name in ["alice", "carol"] {
        trust(
            &w,
            n,
            &["key", "generate", name, "--dir", w.dir().to_str().unwrap()],
        )
        .success();
    }
    trust(
        &w,
        n,
        &[
            "signer",
            "add",
            "alice",
            &by_alice.repo,
            "--key",
            "alice.pub",
        ],
    )
    .success();
    trust(&w, n, &["sign", &by_alice.by_tag()]).success();
    trust(
        &w,
        n,
        &[
            "signer",
            "add",
            "carol",
            &by_carol.repo,
            "--key",
            "carol.pub",
        ],
    )
    .success();
    trust(&w, n, &["sign", &by_carol.by_tag()]).success();
    write_dct_policy(&w, n, "**", "alice");
    let (code, d, out) = decide(&w, "policy.yaml", &by_alice.by_tag());
    assert_eq!(
        code,
        Some(0),
        "signed by alice: expected allowed, found:\n{out}"
    );
    assert_eq!(d["digest"], by_alice.digest.as_str(), "{out}");
    let (code, d, out) = decide(&w, "policy.yaml", &by_carol.by_tag());
    assert_eq!(
        code,
        Some(1),
        "signed only by carol: expected denied, found:\n{out}"
    );
    let reason = d["requirements"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("alice") && reason.contains("carol"),
        "expected the reason to name the signer required and the one found, found {reason:?}"
    );
    stale_trust_data_is_refused(&w, n, by_alice);
}

/// A server (or anyone in the way) that replays the trust data it served before alice signed
/// again: the client has seen the newer data, so the replayed one is stale and the tag is
/// denied, though every signature in it is valid.
fn stale_trust_data_is_refused(w: &World, n: &crate::trust_client::Notary, image: &Image) {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    /// Raw responses by request path.
    type Responses = HashMap<String, Vec<u8>>;
    // None: pass every request through to the server and record its answer; Some: replay.
    let replay: Arc<Mutex<Option<Responses>>> = Arc::new(Mutex::new(None));
    let recorded: Arc<Mutex<Responses>> = Arc::default();
    let (upstream, ca) = (n.url.clone(), n.ca.clone());
    let proxy = {
        let (replay, recorded) = (replay.clone(), recorded.clone());
        crate::util::FakeRegistry::start(move |_method, path| {
            if let Some(frozen) = replay.lock().unwrap().as_ref() {
                return frozen.get(path).cloned().unwrap_or_else(|| {
                    crate::util::http_response("404 Not Found", &[], b"", true)
                });
            }
            let body = tempfile::NamedTempFile::new().unwrap();
            let out = std::process::Command::new("curl")
                .args(["-sS", "--max-time", "20", "-w", "%{http_code}", "--cacert"])
                .arg(&ca)
                .arg("-o")
                .arg(body.path())
                .arg(format!("{upstream}{path}"))
                .output()
                .unwrap();
            let code = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let status = match code.as_str() {
                "200" => "200 OK",
                "404" => "404 Not Found",
                other => panic!("replaying proxy: {upstream}{path} answered {other:?}"),
            };
            let response = crate::util::http_response(
                status,
                &[("Content-Type", "application/json")],
                &std::fs::read(body.path()).unwrap(),
                true,
            );
            recorded
                .lock()
                .unwrap()
                .insert(path.to_owned(), response.clone());
            response
        })
    };
    std::fs::write(
        w.path("policy-proxy.yaml"),
        format!(
            "apiVersion: hallmark/v1\nkind: Policy\ndefault: deny\nrules:\n  - name: dct\n    images: [\"**\"]\n    require:\n      - dct: {{server: \"http://{}\", signers: [alice], threshold: 1}}\n",
            proxy.addr
        ),
    )
    .unwrap();
    let (code, _, out) = decide(w, "policy-proxy.yaml", &image.by_tag());
    assert_eq!(
        code,
        Some(0),
        "through the proxy, before the replay: expected allowed, found:\n{out}"
    );
    *replay.lock().unwrap() = Some(recorded.lock().unwrap().clone());
    // alice signs again: the server's trust data moves on, and the client sees it.
    trust(w, n, &["sign", &image.by_tag()]).success();
    let (code, _, out) = decide(w, "policy.yaml", &image.by_tag());
    assert_eq!(
        code,
        Some(0),
        "after alice signed again: expected allowed, found:\n{out}"
    );
    let (code, d, out) = decide(w, "policy-proxy.yaml", &image.by_tag());
    assert_eq!(
        code,
        Some(1),
        "stale trust data replayed: expected denied, found:\n{out}"
    );
    assert_eq!(d["requirements"][0]["met"], false, "{out}");
    let reason = d["requirements"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("timestamp: expected version") && reason.contains("trusted before"),
        "expected the reason to name the older version replayed, found {reason:?}"
    );
}

#[test]
fn dct_signers_on_notary_server() {
    let Some(n) = crate::trust_client::notary() else {
        return;
    };
    dct_signer_requirement(n);
}

#[test]
fn dct_signers_on_hallmark_trust_serve() {
    let Some(n) = crate::trust_client::hallmark_serve() else {
        return;
    };
    dct_signer_requirement(n);
}
