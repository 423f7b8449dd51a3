//! Refusals: every one exits 1 with a message naming what was expected and what was found, and
//! leaves the registry as it was.

use crate::util::{
    FakeRegistry, Image, OCI_INDEX, OCI_MANIFEST, SIGNATURE_ANNOTATION, World, dead_addr, get_blob,
    get_manifest, http_response, put_blob, put_manifest, registry, sha256, sig_tag, state, unique,
};
use serde_json::{Value, json};

/// A signed image and its key.
fn signed(w: &World, name: &str) -> (crate::util::Key, Image) {
    let k = w.key("k", "pw");
    let image = w.seed(name, 1).remove(0);
    w.sign(&k, &[&image.by_tag()]);
    (k, image)
}

/// The `.sig` manifest of `image` as JSON.
fn sig_manifest(image: &Image) -> Value {
    serde_json::from_slice(&get_manifest(&image.path, &sig_tag(&image.digest)).1).unwrap()
}

#[test]
fn wrong_key() {
    let w = World::new();
    let (_, image) = signed(&w, "wrong-key");
    let other = w.key("other", "pw");
    let before = state(&image.path);
    w.verify(&other, &[], &image.by_tag()).failure(&[
        &format!("no valid signature for {}", image.by_tag()),
        &format!(
            "[{} layer 0] signature does not verify with the given key (sha256:{})",
            sig_tag(&image.digest),
            other.fingerprint
        ),
    ]);
    assert_eq!(state(&image.path), before, "verify changed the registry");
}

#[test]
fn tampered_payload() {
    let w = World::new();
    let (k, image) = signed(&w, "tampered");
    // Rewrite the payload (same image, an extra claim) and point the .sig layer at it; the
    // signature annotation stays the original one.
    let mut manifest = sig_manifest(&image);
    let layer = manifest["layers"][0].clone();
    let mut payload: Value =
        serde_json::from_slice(&get_blob(&image.path, layer["digest"].as_str().unwrap())).unwrap();
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"],
        image.digest.as_str()
    );
    payload["optional"] = json!({"tampered": "yes"});
    let body = serde_json::to_vec(&payload).unwrap();
    let digest = put_blob(&image.path, &body);
    manifest["layers"][0]["digest"] = json!(digest);
    manifest["layers"][0]["size"] = json!(body.len());
    put_manifest(
        &image.path,
        &sig_tag(&image.digest),
        OCI_MANIFEST,
        &serde_json::to_vec(&manifest).unwrap(),
    );

    let before = state(&image.path);
    w.verify(&k, &[], &image.by_tag()).failure(&[&format!(
        "signature does not verify with the given key (sha256:{})",
        k.fingerprint
    )]);
    // Asking for the claim the attacker added does not help either.
    w.verify(&k, &["-a", "tampered=yes"], &image.by_digest())
        .failure(&["signature does not verify"]);
    assert_eq!(state(&image.path), before, "verify changed the registry");
}

#[test]
fn payload_for_another_digest() {
    let w = World::new();
    let (k, a) = signed(&w, "other-digest");
    // B in the same repository, unsigned; A's .sig manifest copied to B's .sig tag.
    let b = w
        .seed_with(a.repo.strip_suffix('0').unwrap(), 1, "v2", false)
        .remove(0);
    assert_eq!(b.repo, a.repo);
    assert_ne!(b.digest, a.digest);
    let (content_type, bytes) = get_manifest(&a.path, &sig_tag(&a.digest));
    put_manifest(&b.path, &sig_tag(&b.digest), &content_type, &bytes);

    let before = state(&a.path);
    w.verify(&k, &[], &b.by_tag()).failure(&[&format!(
        "payload signs {}, expected the image digest {}",
        a.digest, b.digest
    )]);
    w.verify(&k, &[], &a.by_tag()).success();
    assert_eq!(state(&a.path), before, "verify changed the registry");
}

#[test]
fn signature_copied_from_another_repository_with_identity() {
    let w = World::new();
    let (k, src) = signed(&w, "identity-src");
    let dst_path = format!("{}/copy", unique("identity-dst"));
    let dst = format!("{}/{dst_path}", registry());
    w.hm(["copy", &src.by_tag(), &format!("{dst}:v1")])
        .run()
        .success();
    let before = state(&dst_path);
    assert!(
        before.contains_key(&sig_tag(&src.digest)),
        "copy: expected the .sig tag at the destination, found {before:?}"
    );
    w.verify(&k, &["--identity", &dst], &format!("{dst}:v1"))
        .failure(&[&format!(
            "signed identity is \"{}\", expected repository \"{dst}\"",
            src.repo
        )]);
    assert_eq!(state(&dst_path), before, "verify changed the registry");
}

#[test]
fn no_signature() {
    let w = World::new();
    let k = w.key("k", "pw");
    let image = w.seed("unsigned", 1).remove(0);
    let before = state(&image.path);
    w.verify(&k, &[], &image.by_tag()).failure(&[
        &format!("no signatures found for {}", image.by_tag()),
        &format!(
            "expected a signature at tag {} or a Sigstore bundle referrer, found none",
            sig_tag(&image.digest)
        ),
    ]);
    assert_eq!(state(&image.path), before, "verify changed the registry");
}

#[test]
fn malformed_signature_manifest_and_annotation() {
    let w = World::new();
    let k = w.key("k", "pw");
    let images = w.seed("malformed", 3);
    let (as_index, bad_b64, garbage) = (&images[0], &images[1], &images[2]);
    for i in &images {
        w.sign(&k, &[&i.by_tag()]);
    }

    // An index at the .sig tag.
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"mediaType": OCI_MANIFEST, "digest": as_index.digest, "size": get_manifest(&as_index.path, &as_index.digest).1.len()}]});
    put_manifest(
        &as_index.path,
        &sig_tag(&as_index.digest),
        OCI_INDEX,
        &serde_json::to_vec(&index).unwrap(),
    );
    let before = state(&as_index.path);
    w.verify(&k, &[], &as_index.by_tag()).failure(&[
        "malformed signature manifest",
        &sig_tag(&as_index.digest),
        "expected an image manifest, found an index",
    ]);
    // Signing again refuses to build on it rather than replacing it.
    w.hm(["sign", "--key", "k.key", &as_index.by_tag()])
        .pw("pw")
        .run()
        .failure(&[
            "malformed signature manifest",
            "expected an image manifest, found an index",
        ]);
    assert_eq!(
        state(&as_index.path),
        before,
        "the refusals changed the registry"
    );

    // A signature annotation that is not base64.
    let mut manifest = sig_manifest(bad_b64);
    manifest["layers"][0]["annotations"][SIGNATURE_ANNOTATION] = json!("%%% not base64 %%%");
    put_manifest(
        &bad_b64.path,
        &sig_tag(&bad_b64.digest),
        OCI_MANIFEST,
        &serde_json::to_vec(&manifest).unwrap(),
    );
    let before = state(&bad_b64.path);
    w.verify(&k, &[], &bad_b64.by_tag()).failure(&[&format!(
        "[{} layer 0] signature annotation dev.cosignproject.cosign/signature is not valid base64: expected standard base64",
        sig_tag(&bad_b64.digest)
    )]);
    assert_eq!(state(&bad_b64.path), before, "verify changed the registry");

    // Garbage JSON at the .sig tag: a registry refuses to store it, so plant it in a layout.
    let layout = w.path("layout");
    let layout_ref = format!("oci:{}:img", layout.display());
    w.hm(["copy", &garbage.by_tag(), &layout_ref])
        .run()
        .success();
    let junk = br#"{"this is": ["not", "a manifest"]}"#;
    let junk_digest = sha256(junk);
    std::fs::write(
        layout
            .join("blobs/sha256")
            .join(junk_digest.trim_start_matches("sha256:")),
        junk,
    )
    .unwrap();
    let index_path = layout.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    let entry = index["manifests"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| {
            e["annotations"]["org.opencontainers.image.ref.name"]
                == sig_tag(&garbage.digest).as_str()
        })
        .unwrap_or_else(|| panic!("copy: expected the .sig tag in the layout's index.json"));
    entry["digest"] = json!(junk_digest);
    entry["size"] = json!(junk.len());
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    let index_before = std::fs::read(&index_path).unwrap();
    w.verify(&k, &[], &layout_ref).failure(&[
        &format!(
            "malformed signature manifest at oci:{}:{}: ",
            layout.display(),
            sig_tag(&garbage.digest)
        ),
        "missing field",
    ]);
    assert_eq!(
        std::fs::read(&index_path).unwrap(),
        index_before,
        "verify changed the layout"
    );
}

#[test]
fn registry_serving_content_under_the_wrong_digest() {
    let w = World::new();
    let k = w.key("k", "pw");
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
    let actual = sha256(manifest);
    let claimed = sha256(b"the manifest that was asked for");
    let served = manifest.to_vec();
    let header = claimed.clone();
    let fake = FakeRegistry::start(move |_method, path| {
        if path.starts_with("/v2/x/y/manifests/") {
            http_response(
                "200 OK",
                &[
                    ("Content-Type", OCI_MANIFEST),
                    ("Docker-Content-Digest", &header),
                ],
                &served,
                true,
            )
        } else {
            http_response(
                "404 Not Found",
                &[("Content-Type", "application/json")],
                br#"{"errors":[{"code":"NOT_FOUND"}]}"#,
                true,
            )
        }
    });
    let by_digest = format!("{}/x/y@{claimed}", fake.addr);
    w.verify(&k, &[], &by_digest)
        .failure(&[&fake.addr, &format!("expected {claimed}, found {actual}")]);
    // By tag, the Docker-Content-Digest header is the claim.
    let by_tag = format!("{}/x/y:v1", fake.addr);
    w.verify(&k, &[], &by_tag)
        .failure(&[&fake.addr, &format!("expected {claimed}, found {actual}")]);
    // Nothing is signed on top of content that does not match.
    w.hm(["sign", "--key", "k.key", &by_digest])
        .pw("pw")
        .run()
        .failure(&[&format!("expected {claimed}, found {actual}")]);
}

#[test]
fn oversized_manifest_response() {
    let w = World::new();
    let k = w.key("k", "pw");
    let limit = 4u64 << 20;
    let big = vec![b' '; (limit + 1024) as usize];
    let fake = FakeRegistry::start(move |_method, path| {
        // /v2/x/announced/... says how large it is; /v2/x/streamed/... does not.
        let announced = path.starts_with("/v2/x/announced/manifests/");
        if announced || path.starts_with("/v2/x/streamed/manifests/") {
            http_response("200 OK", &[("Content-Type", OCI_MANIFEST)], &big, announced)
        } else {
            http_response("404 Not Found", &[], b"", true)
        }
    });
    for repo in ["announced", "streamed"] {
        let image = format!("{}/x/{repo}:v1", fake.addr);
        w.verify(&k, &[], &image).failure(&[&format!(
            "manifest v1 from {}/x/{repo} is larger than the limit of {limit} bytes",
            fake.addr
        )]);
    }
}

#[test]
fn wrong_passphrase_writes_nothing() {
    let w = World::new();
    let k = w.key("k", "right");
    let image = w.seed("wrong-pass", 1).remove(0);
    let before = state(&image.path);
    w.hm(["sign", "--key", "k.key", &image.by_tag()])
        .pw("wrong")
        .run()
        .failure(&["k.key", "wrong passphrase"]);
    w.hm([
        "attest",
        "--key",
        "k.key",
        "--predicate",
        "k.pub",
        &image.by_tag(),
    ])
    .pw("wrong")
    .run()
    .failure(&["k.key", "wrong passphrase"]);
    let after = state(&image.path);
    assert_eq!(after, before, "a refused sign changed the registry");
    assert!(
        !after.contains_key(&sig_tag(&image.digest)),
        "expected no .sig tag, found {after:?}"
    );
    w.verify(&k, &[], &image.by_tag())
        .failure(&["no signatures found"]);
}

#[test]
fn truncated_and_garbage_key_files() {
    let w = World::new();
    let k = w.key("k", "pw");
    let image = w.seed("bad-keys", 1).remove(0);
    let text = std::fs::read_to_string(&k.private).unwrap();
    std::fs::write(w.path("truncated.key"), &text[..text.len() / 2]).unwrap();
    std::fs::write(w.path("garbage.key"), "this is not a key\n").unwrap();
    std::fs::write(
        w.path("garbage.pub"),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let before = state(&image.path);

    w.hm(["sign", "--key", "truncated.key", &image.by_tag()])
        .pw("pw")
        .run()
        .failure(&[
            "truncated.key",
            "-----END ENCRYPTED COSIGN PRIVATE KEY-----",
            "truncated?",
        ]);
    w.hm(["sign", "--key", "garbage.key", &image.by_tag()])
        .pw("pw")
        .run()
        .failure(&[
            "garbage.key",
            "not a PEM file",
            "expected a `-----BEGIN ...-----` block",
        ]);
    w.hm(["sign", "--key", "missing.key", &image.by_tag()])
        .pw("pw")
        .run()
        .failure(&["reading private key missing.key"]);
    w.hm(["verify", "--key", "garbage.pub", &image.by_tag()])
        .run()
        .failure(&[
            "garbage.pub",
            "expected a DER SubjectPublicKeyInfo, found bytes that do not parse",
        ]);
    assert_eq!(
        state(&image.path),
        before,
        "refused signs changed the registry"
    );
}

#[test]
fn unreachable_registry() {
    let w = World::new();
    let k = w.key("k", "pw");
    let dead = dead_addr();
    let image = format!("{dead}/x/y:v1");
    w.verify(&k, &[], &image).failure(&[
        &format!("registry {dead}: http://{dead}/v2/x/y/manifests/v1: unreachable"),
        "Connection refused",
    ]);
    w.hm(["sign", "--key", "k.key", &image])
        .pw("pw")
        .run()
        .failure(&[&format!("registry {dead}: "), ": unreachable: "]);
}

#[test]
fn non_loopback_registries_are_not_spoken_to_over_plain_http() {
    let w = World::new();
    let k = w.key("k", "pw");
    let out = w.verify(&k, &[], "example.invalid:5000/x:y");
    out.failure(&[
        "example.invalid:5000",
        "https://example.invalid:5000/v2/x/manifests/y",
    ]);
    assert!(
        !out.stderr.contains("http://example.invalid"),
        "expected no plain HTTP to example.invalid, found:\n{out}"
    );
}

/// A layout from an untrusted tarball may hold a FIFO where `index.json` should be: `verify`,
/// `tree` and `copy` refuse it at once, by what it is, instead of waiting forever.
#[test]
fn a_fifo_in_a_layout_is_refused_not_waited_on() {
    let w = World::new();
    let (k, image) = signed(&w, "fifo-layout");
    let dir = w.path("layout");
    w.hm([
        "copy",
        &image.by_tag(),
        &format!("oci:{}:v1", dir.display()),
    ])
    .run()
    .success();
    std::fs::remove_file(dir.join("index.json")).unwrap();
    let out = std::process::Command::new("mkfifo")
        .arg(dir.join("index.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "mkfifo: {out:?}");
    let layout = format!("oci:{}:v1", dir.display());
    let needles = [
        "index.json",
        "expected a regular file inside the layout",
        "a FIFO",
    ];
    w.verify(&k, &[], &layout).failure(&needles);
    w.hm(["tree", &layout]).run().failure(&needles);
    let dest = format!("{}/{}", registry(), unique("fifo-copy"));
    w.hm(["copy", &layout, &format!("{dest}:v1")])
        .run()
        .failure(&needles);
}

/// A registry chooses media types, artifact types and error bodies: `tree` and every error
/// print them with control characters escaped, so they cannot retitle or clear the terminal
/// or print a fake result.
#[test]
fn registry_text_cannot_drive_the_terminal() {
    const EVIL: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\rverified OK";
    let assert_inert = |text: &str, what: &str| {
        for c in ['\u{1b}', '\u{7}', '\r'] {
            assert!(
                !text.contains(c),
                "{what}: expected no raw {c:?}, found:\n{text:?}"
            );
        }
        assert!(
            text.contains("\\u{1b}]0;pwned\\u{7}\\u{1b}[2J"),
            "{what}: expected the escaped text, found:\n{text:?}"
        );
    };
    let w = World::new();
    let image = w.seed("escape", 1).remove(0);
    // A referrer in the tag-schema fallback index, with a hostile artifactType.
    let referrers = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": image.digest, "size": 10,
                       "artifactType": EVIL}]
    });
    put_manifest(
        &image.path,
        &format!("sha256-{}", image.digest.trim_start_matches("sha256:")),
        OCI_INDEX,
        referrers.to_string().as_bytes(),
    );
    let out = w.hm(["tree", &image.by_tag()]).run();
    out.success();
    assert_inert(&out.stdout, "tree");

    let k = w.key("k", "pw");
    let fake = FakeRegistry::start(|_, _| {
        http_response(
            "400 Bad Request",
            &[("Content-Type", "text/plain")],
            EVIL.as_bytes(),
            true,
        )
    });
    let out = w
        .hm([
            "verify",
            "--key",
            k.public.to_str().unwrap(),
            &format!("{}/x/y:v1", fake.addr),
        ])
        .run();
    assert_eq!(out.code, Some(1), "{out}");
    assert_inert(&out.stderr, "an error body");
}

/// A JSON array served as a manifest: `verify`, `tree` and `copy` tell the same story.
#[test]
fn a_manifest_that_is_not_a_json_object_is_one_clear_error_everywhere() {
    let w = World::new();
    let k = w.key("k", "pw");
    let fake = FakeRegistry::start(|_, path| {
        if path.contains("/manifests/") {
            http_response(
                "200 OK",
                &[("Content-Type", OCI_MANIFEST)],
                b"[1, 2, 3]",
                true,
            )
        } else {
            http_response("404 Not Found", &[], b"", true)
        }
    });
    let image = format!("{}/x/y:v1", fake.addr);
    let needle = "expected a manifest (a JSON object), found a JSON array";
    w.verify(&k, &[], &image).failure(&[needle]);
    w.hm(["tree", &image]).run().failure(&[needle]);
    let dest = w.path("dest");
    w.hm(["copy", &image, &format!("oci:{}:v1", dest.display())])
        .run()
        .failure(&[needle]);
}

/// Garbage, a redirect loop and a body cut short are each reported as what they are, not as
/// an unreachable registry.
#[test]
fn transport_failures_say_what_happened() {
    let w = World::new();
    let k = w.key("k", "pw");
    /// A fake registry's whole answer to (method, path).
    type Answer = fn(&str, &str) -> Vec<u8>;
    let cases: [(&str, Answer, &str); 3] = [
        (
            "garbage",
            |_, _| b"SSH-2.0-OpenSSH_9.2\r\n\r\n".to_vec(),
            ": the answer is not valid HTTP: ",
        ),
        (
            "a redirect loop",
            |_, path| http_response("302 Found", &[("Location", path)], b"", true),
            ": too many redirects (a redirect loop): ",
        ),
        (
            "a body cut short",
            |_, _| {
                let mut r = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n".to_vec();
                r.extend_from_slice(b"{\"schemaVersion\":2");
                r
            },
            ": the response body was cut off or unreadable: ",
        ),
    ];
    for (name, handler, needle) in cases {
        let fake = FakeRegistry::start(handler);
        let out = w.verify(&k, &[], &format!("{}/x/y:v1", fake.addr));
        out.failure(&[needle]);
        assert!(
            !out.stderr.contains("unreachable"),
            "{name}: expected no 'unreachable', found:\n{out}"
        );
    }
}

/// Retries stay within the deadline: a registry that answers 503 slowly, forever, ends the
/// command at `--timeout` with a clear error (each retry used to get the whole request
/// timeout again); an answer that is not HTTP is not retried at all.
#[test]
fn slow_failures_end_at_the_deadline_and_garbage_is_not_retried() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let w = World::new();
    let k = w.key("k", "pw");
    let slow = FakeRegistry::start(|_, _| {
        std::thread::sleep(std::time::Duration::from_secs(2));
        http_response("503 Service Unavailable", &[], b"busy", true)
    });
    let started = std::time::Instant::now();
    let out = w
        .hm([
            "verify",
            "--timeout",
            "5s",
            "--key",
            k.public.to_str().unwrap(),
            &format!("{}/x/y:v1", slow.addr),
        ])
        .run();
    let took = started.elapsed();
    out.failure(&["expected the command to finish within 5s (--timeout)"]);
    assert!(
        took < std::time::Duration::from_secs(20),
        "expected the command to end near its 5 s deadline, it took {took:?}"
    );

    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    let garbage = FakeRegistry::start(move |_, _| {
        counted.fetch_add(1, Ordering::SeqCst);
        b"SSH-2.0-OpenSSH_9.2\r\n\r\n".to_vec()
    });
    w.verify(&k, &[], &format!("{}/x/y:v1", garbage.addr))
        .failure(&["the answer is not valid HTTP"]);
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "expected one request to a server that does not speak HTTP"
    );
}
