//! `hallmark copy` (registry ↔ layout ↔ registry) with signatures and attestations, and `tree`.

use crate::util::{World, att_tag, registry, sig_tag, signature_layers, tags, unique};

#[test]
fn copy_through_a_layout_keeps_signatures_and_attestations() {
    let w = World::new();
    let k = w.key("k", "pw");
    let image = w.seed("copy-src", 1).remove(0);
    std::fs::write(w.path("p.json"), r#"{"builder":{"id":"b"}}"#).unwrap();
    w.sign(&k, &[&image.by_tag()]);
    w.hm([
        "attest",
        "--key",
        "k.key",
        "--type",
        "slsaprovenance",
        "--predicate",
        "p.json",
        &image.by_tag(),
    ])
    .pw("pw")
    .run()
    .success();

    // Registry → layout.
    let layout = format!("oci:{}", w.path("layout").display());
    let out = w
        .hm([
            "copy",
            "-o",
            "json",
            &image.by_tag(),
            &format!("{layout}:app"),
        ])
        .run();
    out.success();
    let report = out.json();
    assert_eq!(report["digest"], image.digest.as_str(), "{report}");
    let attachments: Vec<&str> = report["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        attachments,
        [sig_tag(&image.digest), att_tag(&image.digest)],
        "copy: expected .sig and .att, found {report}"
    );
    w.verify(&k, &[], &format!("{layout}:app")).success();
    w.verify(&k, &[], &format!("{layout}@{}", image.digest))
        .success();

    // Layout → another repository.
    let dst_path = format!("{}/copied", unique("copy-dst"));
    let dst = format!("{}/{dst_path}", registry());
    w.hm(["copy", &format!("{layout}:app"), &format!("{dst}:v2")])
        .run()
        .success();
    assert_eq!(
        tags(&dst_path),
        vec![
            att_tag(&image.digest),
            sig_tag(&image.digest),
            "v2".to_owned()
        ],
        "destination tags"
    );

    let by_digest = format!("{dst}@{}", image.digest);
    let out = w.verify(&k, &[], &by_digest);
    out.success();
    assert!(out.stdout.contains(&k.fingerprint), "{out}");
    // The signature still names where it was signed.
    w.verify(&k, &["--identity", &image.repo], &by_digest)
        .success();
    let att = w
        .hm([
            "verify-attestation",
            "--key",
            "k.pub",
            "--type",
            "slsaprovenance",
            &by_digest,
        ])
        .run();
    att.success();
    assert!(
        att.stdout
            .contains(image.digest.trim_start_matches("sha256:")),
        "verify-attestation at the destination: {att}"
    );
    let tree = w.tree(&format!("{dst}:v2"));
    assert_eq!(signature_layers(&tree), 1, "{tree}");
    assert_eq!(tree["attestations"].as_array().unwrap().len(), 1, "{tree}");

    // A digest destination is refused.
    w.hm(["copy", &image.by_tag(), &by_digest])
        .run()
        .failure(&["expected a repository or tag, found a digest"]);
}

#[test]
fn copy_of_a_recursively_signed_index_carries_the_children_signatures() {
    let w = World::new();
    let k = w.key("k", "pw");
    let index = w.seed_index("copy-index");
    w.hm(["sign", "--recursive", "--key", "k.key", &index.by_tag()])
        .pw("pw")
        .run()
        .success();
    let children: Vec<String> = w.tree(&index.by_tag())["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(children.len(), 2);

    let dst_path = format!("{}/index", unique("copy-index-dst"));
    let dst = format!("{}/{dst_path}", registry());
    let out = w
        .hm(["copy", "-o", "json", &index.by_tag(), &format!("{dst}:v1")])
        .run();
    out.success();
    let report = out.json();
    let mut expected: Vec<String> = std::iter::once(&index.digest)
        .chain(&children)
        .map(|d| sig_tag(d))
        .collect();
    let mut attachments: Vec<String> = report["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    attachments.sort();
    assert_eq!(
        attachments, expected,
        "copy: expected the index's and both children's .sig, found {report}"
    );

    w.verify(&k, &[], &format!("{dst}@{}", index.digest))
        .success();
    for child in &children {
        let tree = w.tree(&format!("{dst}@{child}"));
        assert_eq!(
            signature_layers(&tree),
            1,
            "child {child} at the destination: {tree}"
        );
        w.verify(&k, &["--identity", &index.repo], &format!("{dst}@{child}"))
            .success();
    }
}

/// A copy that fails (here: the signature payload is missing from the source, so the
/// attachment step fails after the image itself was written) leaves the destination as it
/// was: a layout it would have created does not exist, an existing layout's `index.json` is
/// unchanged, and a registry repository gets no tag.
#[test]
fn a_copy_that_fails_leaves_the_destination_as_it_was() {
    let w = World::new();
    let k = w.key("k", "pw");
    let images = w.seed("copy-fails", 2);
    w.sign(&k, &[&images[0].by_tag()]);
    let src = w.path("src");
    let src_ref = format!("oci:{}:v1", src.display());
    w.hm(["copy", &images[0].by_tag(), &src_ref])
        .run()
        .success();
    let tree = w.tree(&src_ref);
    let payload = tree["signatures"][0]["digest"].as_str().unwrap().to_owned();
    std::fs::remove_file(
        src.join("blobs/sha256")
            .join(payload.trim_start_matches("sha256:")),
    )
    .unwrap();

    let fresh = w.path("fresh");
    w.hm(["copy", &src_ref, &format!("oci:{}:v1", fresh.display())])
        .run()
        .failure(&[&payload]);
    assert!(!fresh.exists(), "a failed copy left {}", fresh.display());

    let existing = w.path("existing");
    w.hm([
        "copy",
        &images[1].by_tag(),
        &format!("oci:{}:other", existing.display()),
    ])
    .run()
    .success();
    let before = std::fs::read(existing.join("index.json")).unwrap();
    w.hm(["copy", &src_ref, &format!("oci:{}:v1", existing.display())])
        .run()
        .failure(&[&payload]);
    assert_eq!(
        String::from_utf8_lossy(&std::fs::read(existing.join("index.json")).unwrap()),
        String::from_utf8_lossy(&before),
        "a failed copy changed index.json"
    );

    let path = unique("copy-fails-dst");
    w.hm(["copy", &src_ref, &format!("{}/{path}:v1", registry())])
        .run()
        .failure(&[&payload]);
    assert_eq!(
        tags(&path),
        Vec::<String>::new(),
        "a failed copy tagged the destination"
    );
}
