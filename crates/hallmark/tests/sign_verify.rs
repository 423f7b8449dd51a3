//! `hallmark sign` / `verify` against the shared registry.

use crate::util::{World, get_manifest, sha256, sig_tag, signature_layers, tags};

#[test]
fn sign_and_verify_by_tag_and_by_digest() {
    let w = World::new();
    let k = w.key("k", "pw");
    let images = w.seed("tag-digest", 2);
    let (a, b) = (&images[0], &images[1]);

    // A by tag, B by digest.
    let out = w.sign(&k, &[&a.by_tag()]);
    assert!(
        out.stderr
            .contains(&format!("{} signed ({})", a.digest, sig_tag(&a.digest))),
        "sign: expected `<digest> signed (<sig tag>)`, found:\n{out}"
    );
    w.sign(&k, &[&b.by_digest()]);
    assert_eq!(
        tags(&a.path),
        vec![sig_tag(&a.digest), "v1".to_owned()],
        "expected the .sig tag next to v1"
    );
    assert_eq!(tags(&b.path), vec![sig_tag(&b.digest), "v1".to_owned()]);

    for image in [a, b] {
        for reference in [image.by_tag(), image.by_digest()] {
            let out = w.verify(&k, &[], &reference);
            out.success();
            let line = out.stdout.lines().next().unwrap_or_default();
            assert!(
                line.contains(&image.digest)
                    && line.contains("verified, 1 valid signature by key")
                    && line.contains(&k.fingerprint),
                "verify {reference}: expected a verified line naming digest and key, found:\n{out}"
            );
            // The digest is printed once, also when the reference already has it.
            assert_eq!(
                line.matches(&image.digest).count(),
                1,
                "verify {reference}: expected the digest once, found:\n{out}"
            );
        }
    }
}

#[test]
fn many_images_in_one_call_and_the_json_shape() {
    let w = World::new();
    let k = w.key("k", "pw");
    let images = w.seed("many", 3);
    let refs: Vec<String> = images.iter().map(|i| i.by_tag()).collect();
    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();

    let mut args = vec!["sign", "-o", "json", "--key", "k.key"];
    args.extend(&refs);
    let out = w.hm(&args).pw("pw").run();
    out.success();
    let signed = out.json();
    let signed = signed
        .as_array()
        .unwrap_or_else(|| panic!("sign -o json: expected an array, found:\n{out}"));
    assert_eq!(
        signed.len(),
        3,
        "sign -o json: expected 3 entries, found:\n{out}"
    );
    for (entry, image) in signed.iter().zip(&images) {
        assert_eq!(entry["reference"], image.by_tag().as_str());
        assert_eq!(entry["signed"][0]["digest"], image.digest.as_str());
        assert_eq!(entry["signed"][0]["tag"], sig_tag(&image.digest).as_str());
        assert_eq!(entry["signed"][0]["added"], true);
        // The digest of the `.sig` manifest written is the one the registry now serves there.
        let (_, sig_manifest) = get_manifest(&image.path, &sig_tag(&image.digest));
        assert_eq!(
            entry["signed"][0]["signature_manifest_digest"],
            sha256(&sig_manifest).as_str(),
            "sign -o json: expected the digest of the .sig manifest, found:\n{out}"
        );
    }
    // Signing again adds nothing and reports the `.sig` manifest already there.
    let again = w
        .hm(["sign", "-o", "json", "--key", "k.key", refs[0]])
        .pw("pw")
        .run();
    again.success();
    let again = again.json();
    assert_eq!(again[0]["signed"][0]["added"], false, "{again}");
    assert_eq!(
        again[0]["signed"][0]["signature_manifest_digest"],
        signed[0]["signed"][0]["signature_manifest_digest"],
        "{again}"
    );

    let mut args = vec!["verify", "-o", "json", "--key", "k.pub"];
    args.extend(&refs);
    let out = w.hm(&args).run();
    out.success();
    let v = out.json();
    let arr = v
        .as_array()
        .unwrap_or_else(|| panic!("verify -o json: expected an array, found:\n{out}"));
    assert_eq!(
        arr.len(),
        3,
        "verify -o json: expected one object per image, found:\n{out}"
    );
    for (entry, image) in arr.iter().zip(&images) {
        assert_eq!(entry["reference"], image.by_tag().as_str(), "{entry}");
        assert_eq!(entry["digest"], image.digest.as_str(), "{entry}");
        assert_eq!(entry["verified"], true, "{entry}");
        let sigs = entry["signatures"]
            .as_array()
            .unwrap_or_else(|| panic!("expected signatures[], found {entry}"));
        assert_eq!(sigs.len(), 1, "{entry}");
        let s = &sigs[0];
        assert_eq!(s["key_fingerprint"], k.fingerprint.as_str(), "{s}");
        assert!(
            s["annotations"].is_object(),
            "expected an annotations object, found {s}"
        );
        assert_eq!(
            s["payload"]["critical"]["image"]["docker-manifest-digest"],
            image.digest.as_str(),
            "{s}"
        );
        assert_eq!(
            s["payload"]["critical"]["identity"]["docker-reference"],
            image.repo.as_str(),
            "{s}"
        );
        assert_eq!(
            s["payload"]["critical"]["type"], "cosign container image signature",
            "{s}"
        );
    }

    // One unsigned image among signed ones fails the run, and only that entry.
    let unsigned = w.seed("many-unsigned", 1).remove(0);
    let mut args = vec!["verify", "-o", "json", "--key", "k.pub"];
    args.extend(&refs);
    let unsigned_ref = unsigned.by_tag();
    args.push(&unsigned_ref);
    let out = w.hm(&args).run();
    out.failure(&["1 of 4 images failed verification", "no signatures found"]);
    let v = out.json();
    let verified: Vec<bool> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["verified"].as_bool().unwrap())
        .collect();
    assert_eq!(verified, [true, true, true, false], "verify -o json: {v}");
    assert!(
        v[3]["error"]
            .as_str()
            .unwrap()
            .contains(&sig_tag(&unsigned.digest)),
        "{v}"
    );
}

#[test]
fn resigning_adds_no_duplicate_and_a_second_key_appends() {
    let w = World::new();
    let k1 = w.key("k1", "one");
    let k2 = w.key("k2", "two");
    let image = w.seed("resign", 1).remove(0);

    w.sign(&k1, &[&image.by_tag()]);
    assert_eq!(signature_layers(&w.tree(&image.by_tag())), 1);
    let again = w.sign(&k1, &[&image.by_tag()]);
    assert!(
        again.stderr.contains("already signed by this key"),
        "re-sign: expected `already signed by this key`, found:\n{again}"
    );
    let tree = w.tree(&image.by_tag());
    assert_eq!(
        signature_layers(&tree),
        1,
        "re-signing with the same key: expected 1 layer, found {tree}"
    );

    w.sign(&k2, &[&image.by_digest()]);
    let tree = w.tree(&image.by_tag());
    assert_eq!(
        signature_layers(&tree),
        2,
        "signing with a second key: expected 2 layers, found {tree}"
    );
    assert_eq!(tree["digest"], image.digest.as_str());

    w.verify(&k1, &[], &image.by_tag()).success();
    w.verify(&k2, &[], &image.by_tag()).success();
    let both = w
        .hm([
            "verify",
            "-o",
            "json",
            "--key",
            "k1.pub",
            "--key",
            "k2.pub",
            &image.by_tag(),
        ])
        .run();
    both.success();
    let fps: Vec<String> = both.json()[0]["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key_fingerprint"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        fps,
        [k1.fingerprint.clone(), k2.fingerprint.clone()],
        "verify with both keys: expected both signatures, found:\n{both}"
    );
}

#[test]
fn annotations_are_signed_and_checked() {
    let w = World::new();
    let k = w.key("k", "pw");
    let image = w.seed("annotations", 1).remove(0);
    w.hm([
        "sign",
        "--key",
        "k.key",
        "-a",
        "env=prod",
        "-a",
        "team=core",
        &image.by_tag(),
    ])
    .pw("pw")
    .run()
    .success();

    let ok = w
        .hm([
            "verify",
            "-o",
            "json",
            "--key",
            "k.pub",
            "-a",
            "env=prod",
            "-a",
            "team=core",
            &image.by_tag(),
        ])
        .run();
    ok.success();
    let sig = &ok.json()[0]["signatures"][0];
    assert_eq!(sig["annotations"]["env"], "prod", "{sig}");
    assert_eq!(
        sig["payload"]["optional"]["team"], "core",
        "annotations belong in the signed payload: {sig}"
    );

    w.verify(&k, &["-a", "env=dev"], &image.by_tag())
        .failure(&["annotation env: expected \"dev\", found \"prod\""]);
    w.verify(&k, &["-a", "owner=me"], &image.by_tag())
        .failure(&["annotation owner: expected \"me\", found none"]);
    w.verify(&k, &["-a", "novalue"], &image.by_tag())
        .failure(&["annotation \"novalue\": expected KEY=VALUE"]);
}

#[test]
fn identity_accepts_the_signed_repository_only() {
    let w = World::new();
    let k = w.key("k", "pw");
    let image = w.seed("identity", 1).remove(0);
    w.sign(&k, &[&image.by_tag()]);
    w.verify(&k, &["--identity", &image.repo], &image.by_tag())
        .success();
    w.verify(&k, &["--identity", &image.repo], &image.by_digest())
        .success();
    let other = format!("{}-other", image.repo);
    w.verify(&k, &["--identity", &other], &image.by_tag())
        .failure(&[&format!(
            "signed identity is \"{}\", expected repository \"{other}\"",
            image.repo
        )]);
}

#[test]
fn recursive_signs_the_index_and_its_children() {
    let w = World::new();
    let k = w.key("k", "pw");
    let rec = w.seed_index("recursive");
    let flat = w.seed_index("not-recursive");
    let children = |image: &crate::util::Image| -> Vec<String> {
        let tree = w.tree(&image.by_tag());
        tree["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_owned())
            .collect()
    };
    let rec_children = children(&rec);
    assert_eq!(
        rec_children.len(),
        2,
        "push-sample --index: expected 2 children"
    );

    let out = w
        .hm([
            "sign",
            "-o",
            "json",
            "--recursive",
            "--key",
            "k.key",
            &rec.by_tag(),
        ])
        .pw("pw")
        .run();
    out.success();
    let signed: Vec<String> = out.json()[0]["signed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["digest"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = vec![rec.digest.clone()];
    expected.extend(rec_children.iter().cloned());
    assert_eq!(
        signed, expected,
        "sign --recursive: expected the index then both children"
    );
    w.verify(&k, &[], &rec.by_tag()).success();
    for child in &rec_children {
        w.verify(
            &k,
            &["--identity", &rec.repo],
            &format!("{}@{child}", rec.repo),
        )
        .success();
    }

    w.sign(&k, &[&flat.by_tag()]);
    w.verify(&k, &[], &flat.by_tag()).success();
    for child in children(&flat) {
        w.verify(&k, &[], &format!("{}@{child}", flat.repo))
            .failure(&["no signatures found", &sig_tag(&child)]);
    }
    assert_eq!(
        tags(&flat.path),
        vec![sig_tag(&flat.digest), "v1".to_owned()],
        "without --recursive: expected only the index's .sig tag"
    );
}
