//! Signing images with a transparency log (`sign --tlog-url`), against a real `hallmark log
//! serve` and the shared docker-registry: cosign's bundle annotation, `verify --trusted-root`
//! with the trusted root `log trusted-root` prints, `--require-tlog`, tampered SETs, another
//! log's trusted root, and a log failure leaving the registry untouched.

use crate::{
    tlog_util::{LogServer, trusted_root},
    util::{OCI_MANIFEST, World, dead_addr, get_manifest, put_manifest, sig_tag, state},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde_json::Value;

const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// The annotations of the `.sig` layers of `path`@`digest`.
fn sig_layers(path: &str, digest: &str) -> (Value, Vec<Value>) {
    let (_, bytes) = get_manifest(path, &sig_tag(digest));
    let m: Value = serde_json::from_slice(&bytes).unwrap();
    let layers = m["layers"].as_array().unwrap().clone();
    (m, layers)
}

#[test]
fn sign_with_tlog_then_verify_with_its_trusted_root() {
    let w = World::new();
    let log = LogServer::start(&w, "log");
    let _k = w.key("k", "pw");
    let image = w.seed("tlog-sign", 1).remove(0);

    let out = w
        .hm([
            "sign",
            "--key",
            "k.key",
            "--tlog-url",
            &log.url(),
            &image.by_tag(),
        ])
        .pw("pw")
        .run();
    out.success();
    assert!(
        out.stderr.contains("transparency log index 0"),
        "sign: expected the log index, found:\n{out}"
    );
    assert_eq!(log.size(), 1, "one entry logged");

    // cosign's RekorBundle annotation, exactly its fields.
    let (_, layers) = sig_layers(&image.path, &image.digest);
    assert_eq!(layers.len(), 1);
    let annotation = layers[0]["annotations"][BUNDLE_ANNOTATION]
        .as_str()
        .unwrap_or_else(|| {
            panic!(
                "expected a {BUNDLE_ANNOTATION} annotation, found {}",
                layers[0]
            )
        });
    let bundle: Value = serde_json::from_str(annotation).unwrap();
    let keys: Vec<&str> = bundle
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["Payload", "SignedEntryTimestamp"], "{bundle}");
    let mut payload_keys: Vec<&str> = bundle["Payload"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    payload_keys.sort();
    assert_eq!(
        payload_keys,
        ["body", "integratedTime", "logID", "logIndex"],
        "{bundle}"
    );
    assert_eq!(bundle["Payload"]["logIndex"], 0);
    let body: Value = serde_json::from_slice(
        &STANDARD
            .decode(bundle["Payload"]["body"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["kind"], "hashedrekord");
    assert_eq!(body["apiVersion"], "0.0.1");

    // The trusted root of the log.
    let root = trusted_root(&w, &log, "root.json");
    assert_eq!(
        root["mediaType"],
        "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
    );
    let tlog = &root["tlogs"][0];
    assert_eq!(tlog["baseUrl"], log.url());
    assert_eq!(tlog["hashAlgorithm"], "SHA2_256");
    assert_eq!(tlog["publicKey"]["keyDetails"], "PKIX_ECDSA_P256_SHA_256");
    assert_eq!(
        hex::encode(
            STANDARD
                .decode(tlog["logId"]["keyId"].as_str().unwrap())
                .unwrap()
        ),
        bundle["Payload"]["logID"].as_str().unwrap(),
        "logId.keyId is the log ID the entries name"
    );
    for empty in ["certificateAuthorities", "ctlogs", "timestampAuthorities"] {
        assert_eq!(root[empty], Value::Array(vec![]), "{empty}");
    }

    let out = w
        .hm([
            "verify",
            "--key",
            "k.pub",
            "--trusted-root",
            "root.json",
            "--require-tlog",
            "-o",
            "json",
            &image.by_tag(),
        ])
        .run();
    out.success();
    let v = out.json();
    let sig = &v[0]["signatures"][0];
    assert_eq!(sig["tlog"]["log_index"], 0, "{v}");
    assert_eq!(sig["tlog"]["base_url"], log.url(), "{v}");
    let text = w
        .hm([
            "verify",
            "--key",
            "k.pub",
            "--trusted-root",
            "root.json",
            "--require-tlog",
            &image.by_digest(),
        ])
        .run();
    text.success();
    assert!(
        text.stdout.contains("transparency log entry index 0"),
        "{text}"
    );

    // Signing again: an identical logged signature is there, nothing new is logged or added.
    let again = w
        .hm([
            "sign",
            "--key",
            "k.key",
            "--tlog-url",
            &log.url(),
            &image.by_tag(),
        ])
        .pw("pw")
        .run();
    again.success();
    assert!(
        again.stderr.contains("already signed by this key"),
        "{again}"
    );
    assert_eq!(log.size(), 1);
}

#[test]
fn require_tlog_rejects_unlogged_signatures() {
    let w = World::new();
    let log = LogServer::start(&w, "log");
    trusted_root(&w, &log, "root.json");
    let k = w.key("k", "pw");
    let images = w.seed("tlog-unlogged", 2);

    // No --tlog-url: nothing is logged (the log is opt-in).
    w.sign(&k, &[&images[0].by_tag()]);
    // --tlog-upload=false overrides --tlog-url.
    w.hm([
        "sign",
        "--key",
        "k.key",
        "--tlog-url",
        &log.url(),
        "--tlog-upload=false",
        &images[1].by_tag(),
    ])
    .pw("pw")
    .run()
    .success();
    assert_eq!(log.size(), 0, "nothing may be logged");
    for image in &images {
        let (_, layers) = sig_layers(&image.path, &image.digest);
        assert!(layers[0]["annotations"].get(BUNDLE_ANNOTATION).is_none());
        w.verify(
            &k,
            &["--trusted-root", "root.json", "--require-tlog"],
            &image.by_tag(),
        )
        .failure(&["no transparency-log entry", "was not logged"]);
        // Without --require-tlog an unlogged signature is accepted (entries are checked when
        // present).
        w.verify(&k, &["--trusted-root", "root.json"], &image.by_tag())
            .success();
    }
    // --require-tlog without log keys is an error.
    w.verify(&k, &["--require-tlog"], &images[0].by_tag())
        .failure(&["--require-tlog needs"]);
}

#[test]
fn tampered_set_and_another_logs_root_are_rejected() {
    let w = World::new();
    let log = LogServer::start(&w, "log");
    let other = LogServer::start(&w, "other-log");
    trusted_root(&w, &log, "root.json");
    trusted_root(&w, &other, "other-root.json");
    let k = w.key("k", "pw");
    let image = w.seed("tlog-tamper", 1).remove(0);
    w.hm([
        "sign",
        "--key",
        "k.key",
        "--tlog-url",
        &log.url(),
        &image.by_tag(),
    ])
    .pw("pw")
    .run()
    .success();
    w.verify(
        &k,
        &["--trusted-root", "root.json", "--require-tlog"],
        &image.by_tag(),
    )
    .success();

    // The trusted root of another log: the entry's log is not trusted.
    w.verify(
        &k,
        &["--trusted-root", "other-root.json", "--require-tlog"],
        &image.by_tag(),
    )
    .failure(&["not a trusted log"]);
    // Even without --require-tlog: an entry that is present must verify.
    w.verify(&k, &["--trusted-root", "other-root.json"], &image.by_tag())
        .failure(&["not a trusted log"]);

    // Rewrite the .sig manifest with an altered SET (same layer blob, same config).
    let (mut m, _) = sig_layers(&image.path, &image.digest);
    let annotation = m["layers"][0]["annotations"][BUNDLE_ANNOTATION]
        .as_str()
        .unwrap()
        .to_owned();
    let mut bundle: Value = serde_json::from_str(&annotation).unwrap();
    let mut set = STANDARD
        .decode(bundle["SignedEntryTimestamp"].as_str().unwrap())
        .unwrap();
    let n = set.len();
    set[n - 1] ^= 0x01;
    bundle["SignedEntryTimestamp"] = STANDARD.encode(&set).into();
    m["layers"][0]["annotations"][BUNDLE_ANNOTATION] = bundle.to_string().into();
    put_manifest(
        &image.path,
        &sig_tag(&image.digest),
        OCI_MANIFEST,
        &serde_json::to_vec(&m).unwrap(),
    );
    w.verify(
        &k,
        &["--trusted-root", "root.json", "--require-tlog"],
        &image.by_tag(),
    )
    .failure(&["SET", "does not verify"]);

    // An altered integratedTime under the genuine SET.
    bundle["SignedEntryTimestamp"] = STANDARD
        .encode({
            let mut s = set.clone();
            s[n - 1] ^= 0x01;
            s
        })
        .into();
    let t = bundle["Payload"]["integratedTime"].as_i64().unwrap();
    bundle["Payload"]["integratedTime"] = (t + 60).into();
    m["layers"][0]["annotations"][BUNDLE_ANNOTATION] = bundle.to_string().into();
    put_manifest(
        &image.path,
        &sig_tag(&image.digest),
        OCI_MANIFEST,
        &serde_json::to_vec(&m).unwrap(),
    );
    w.verify(
        &k,
        &["--trusted-root", "root.json", "--require-tlog"],
        &image.by_tag(),
    )
    .failure(&["does not verify"]);
}

#[test]
fn a_log_failure_aborts_before_any_registry_write() {
    let w = World::new();
    let _k = w.key("k", "pw");
    let image = w.seed("tlog-dead", 1).remove(0);
    let before = state(&image.path);
    let out = w
        .hm([
            "sign",
            "--key",
            "k.key",
            "--tlog-url",
            &format!("http://{}", dead_addr()),
            &image.by_tag(),
        ])
        .pw("pw")
        .run();
    out.failure(&["transparency log", "nothing was written"]);
    assert_eq!(state(&image.path), before, "the registry must be unchanged");
}

#[test]
fn sign_bundle_for_an_image_verifies_with_verify_blob() {
    let w = World::new();
    let log = LogServer::start(&w, "log");
    trusted_root(&w, &log, "root.json");
    let _k = w.key("k", "pw");
    let image = w.seed("tlog-bundle", 1).remove(0);
    w.hm([
        "sign",
        "--key",
        "k.key",
        "--tlog-url",
        &log.url(),
        "--bundle",
        "image.bundle.json",
        "--output-payload",
        "payload.json",
        &image.by_tag(),
    ])
    .pw("pw")
    .run()
    .success();
    // The payload is the simple-signing payload attached to the image.
    let (_, layers) = sig_layers(&image.path, &image.digest);
    let payload = std::fs::read(w.path("payload.json")).unwrap();
    assert_eq!(
        layers[0]["digest"].as_str().unwrap(),
        crate::util::sha256(&payload)
    );
    w.hm([
        "verify-blob",
        "--key",
        "k.pub",
        "--bundle",
        "image.bundle.json",
        "--trusted-root",
        "root.json",
        "payload.json",
    ])
    .run()
    .success();
    // --bundle with more than one image is refused before anything happens.
    let more = w.seed("tlog-bundle-2", 2);
    w.hm([
        "sign",
        "--key",
        "k.key",
        "--tlog-url",
        &log.url(),
        "--bundle",
        "x.json",
        &more[0].by_tag(),
        &more[1].by_tag(),
    ])
    .pw("pw")
    .run()
    .failure(&["expected one image"]);
}
