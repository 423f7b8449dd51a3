//! `hallmark ui`, the page of signed states, in headless Chromium (Debian's chromium through
//! playwright-core): a cosign-signed tag, a tag signed with Docker Content Trust on `hallmark
//! trust serve`, a notation-signed tag, a tag signed by a key the policy does not trust and an
//! unsigned tag each show
//! their true state and signers; the page's filter works; screenshots are kept under the test
//! target directory. The JSON API agrees with `hallmark verify --policy -o json` on every tag.

use crate::policy::trust;
use crate::util::{Daemon, World, registry};
use hallmark_testutil::process::free_port;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn get(addr: &str, target: &str) -> Value {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60", "-f"])
        .arg(format!("http://{addr}{target}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "GET {target}: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_page_shows_every_format_truly_and_its_json_agrees_with_verify() {
    let Some(n) = crate::trust_client::hallmark_serve() else {
        panic!("the notary CLI is needed (./scripts/test installs it)");
    };
    let w = World::new();
    let prefix = crate::util::unique("ui");
    let imgs = w.seed_with(&format!("{}/{prefix}/img", registry()), 5, "v1", false);
    let (cosigned, dct, untrusted, unsigned, notation) =
        (&imgs[0], &imgs[1], &imgs[2], &imgs[3], &imgs[4]);
    let key = w.key("trusted", "pw");
    let stranger = w.key("stranger", "pw2");
    w.sign(&key, &[&cosigned.by_tag()]);
    w.sign(&stranger, &[&untrusted.by_tag()]);
    crate::notation::generate(&w, "acme");
    crate::notation::sign(&w, "acme", &[], &notation.by_tag());
    trust(
        &w,
        n,
        &[
            "key",
            "generate",
            "alice",
            "--dir",
            w.dir().to_str().unwrap(),
        ],
    )
    .success();
    trust(
        &w,
        n,
        &["signer", "add", "alice", &dct.repo, "--key", "alice.pub"],
    )
    .success();
    trust(&w, n, &["sign", &dct.by_tag()]).success();
    // The trust server's CA where docker looks for it; the policy names only the server.
    let host = n.url.trim_start_matches("https://");
    let tls = w.dir().join(".no-docker-config/tls").join(host);
    std::fs::create_dir_all(&tls).unwrap();
    std::fs::copy(&n.ca, tls.join("ca.crt")).unwrap();
    let r = registry();
    std::fs::write(
        w.path("policy.yaml"),
        format!(
            "apiVersion: hallmark/v1\nkind: Policy\ndefault: deny\nrules:\n\
             \x20 - name: cosign\n    images: [\"{r}/{prefix}/img0\", \"{r}/{prefix}/img2\", \"{r}/{prefix}/img3\"]\n\
             \x20   require:\n      - cosign: {{keys: [{}]}}\n\
             \x20 - name: dct\n    images: [\"{r}/{prefix}/img1\"]\n    require:\n\
             \x20     - dct: {{server: \"{}\", signers: [alice], threshold: 1}}\n\
             \x20 - name: notation\n    images: [\"{r}/{prefix}/img4\"]\n    require:\n\
             \x20     - notation: {{trustStore: store, trustStores: [\"ca:acme\"], trustedIdentities: [\"*\"]}}\n",
            key.public.display(),
            n.url
        ),
    )
    .unwrap();

    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hallmark"));
    cmd.args(["ui", "--addr", &addr, "--registry", &format!("http://{r}")])
        .args(["--policy", "policy.yaml"])
        .current_dir(w.dir())
        .env("DOCKER_CONFIG", w.dir().join(".no-docker-config"));
    let _ui = Daemon::start(cmd, w.path("ui.log"), || {
        std::net::TcpStream::connect(&addr).is_ok()
    });

    // The JSON API and verify --policy agree on every tag.
    let tags = get(&addr, &format!("/ui/api/tags?repository={prefix}/"));
    let tags = tags.as_array().unwrap();
    assert_eq!(tags.len(), 5, "{tags:?}");
    for t in tags {
        let image = format!(
            "{r}/{}:{}",
            t["repository"].as_str().unwrap(),
            t["tag"].as_str().unwrap()
        );
        let out = w
            .hm(["verify", "--policy", "policy.yaml", "-o", "json", &image])
            .run();
        let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
        let d = &v[0];
        assert_eq!(t["digest"], d["digest"], "{image}");
        assert_eq!(
            t["decision"]["decision"], d["decision"],
            "{image}: {t} vs {d}"
        );
        assert_eq!(t["decision"]["rule"], d["rule"], "{image}");
        assert_eq!(
            t["decision"]["requirements"][0]["met"], d["requirements"][0]["met"],
            "{image}"
        );
    }

    // The page in headless Chromium.
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-page");
    std::fs::create_dir_all(&shots).unwrap();
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    let out = Command::new("node")
        .arg(js.join("ui_page.js"))
        .arg(format!("http://{addr}"))
        .arg(&shots)
        .arg(format!("{prefix}/"))
        .current_dir(&js)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium (/usr/bin/chromium, installed by ./scripts/test): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |rows: &Value, img: &str| -> Option<Value> {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|row| row["repository"] == format!("{prefix}/{img}").as_str())
            .cloned()
    };
    let text = |row: &Value| {
        row["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let cosigned_row = row(&seen["all"], "img0").unwrap();
    assert_eq!(cosigned_row["state"], "allowed", "{cosigned_row}");
    assert!(
        text(&cosigned_row).contains("signed by key sha256:"),
        "{}",
        text(&cosigned_row)
    );
    let dct_row = row(&seen["all"], "img1").unwrap();
    assert_eq!(dct_row["state"], "allowed", "{dct_row}");
    assert!(
        text(&dct_row).contains("signed by alice"),
        "{}",
        text(&dct_row)
    );
    // Every format the policy names is checked for every tag, whatever rule decides it.
    assert!(
        text(&dct_row).contains("no signatures"),
        "{}",
        text(&dct_row)
    );
    assert!(
        text(&cosigned_row).contains("no trust data"),
        "{}",
        text(&cosigned_row)
    );
    let notation_row = row(&seen["all"], "img4").unwrap();
    assert_eq!(notation_row["state"], "allowed", "{notation_row}");
    assert!(
        text(&notation_row).contains("JWS signed by CN=acme"),
        "{}",
        text(&notation_row)
    );
    assert!(
        text(&cosigned_row).contains("no notation signatures"),
        "{}",
        text(&cosigned_row)
    );
    let untrusted_row = row(&seen["all"], "img2").unwrap();
    assert_eq!(untrusted_row["state"], "denied");
    assert!(
        text(&untrusted_row).contains("not accepted"),
        "{}",
        text(&untrusted_row)
    );
    let unsigned_row = row(&seen["all"], "img3").unwrap();
    assert_eq!(unsigned_row["state"], "denied");
    assert!(
        text(&unsigned_row).contains("no signatures"),
        "{}",
        text(&unsigned_row)
    );
    // The filter (the page's own form): denied only.
    assert!(seen["url"].as_str().unwrap().contains("state=denied"));
    assert!(row(&seen["denied"], "img0").is_none());
    assert!(row(&seen["denied"], "img1").is_none());
    assert!(row(&seen["denied"], "img2").is_some());
    assert!(row(&seen["denied"], "img3").is_some());
    for shot in ["all.png", "denied.png"] {
        let len = std::fs::metadata(shots.join(shot)).unwrap().len();
        assert!(len > 1000, "{shot}: {len} bytes");
    }
    assert!(row(&seen["denied"], "img4").is_none());
    let _ = (cosigned, dct, untrusted, unsigned);
}
