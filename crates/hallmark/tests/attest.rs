//! `hallmark attest` / `verify-attestation`, and `.att` in `tree`.

use crate::util::{World, att_tag};
use serde_json::Value;

const SLSA: &str = "https://slsa.dev/provenance/v0.2";
const CUSTOM: &str = "https://cosign.sigstore.dev/attestation/v1";

/// Statements printed by `verify-attestation` (one JSON document per line).
fn statements(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("expected a JSON statement per line ({e}), found {l:?}"))
        })
        .collect()
}

#[test]
fn attest_slsaprovenance_and_custom_then_verify_each_type() {
    let w = World::new();
    let k = w.key("k", "pw");
    let image = w.seed("attest", 1).remove(0);
    std::fs::write(
        w.path("provenance.json"),
        r#"{"builder":{"id":"https://ci.example/builder"},"buildType":"test"}"#,
    )
    .unwrap();
    std::fs::write(w.path("note.txt"), "free-form note\n").unwrap();

    let out = w
        .hm([
            "attest",
            "--key",
            "k.key",
            "--type",
            "slsaprovenance",
            "--predicate",
            "provenance.json",
            &image.by_tag(),
        ])
        .pw("pw")
        .run();
    out.success();
    assert!(
        out.stderr.contains(&format!(
            "{} attested ({})",
            image.digest,
            att_tag(&image.digest)
        )),
        "attest: expected `<digest> attested (<att tag>)`, found:\n{out}"
    );
    w.hm([
        "attest",
        "--key",
        "k.key",
        "--type",
        "custom",
        "--predicate",
        "note.txt",
        &image.by_digest(),
    ])
    .pw("pw")
    .run()
    .success();

    let out = w
        .hm([
            "verify-attestation",
            "--key",
            "k.pub",
            "--type",
            "slsaprovenance",
            &image.by_tag(),
        ])
        .run();
    out.success();
    let st = statements(&out.stdout);
    assert_eq!(
        st.len(),
        1,
        "--type slsaprovenance: expected only the SLSA statement, found:\n{out}"
    );
    assert_eq!(st[0]["predicateType"], SLSA);
    assert_eq!(
        st[0]["predicate"]["builder"]["id"],
        "https://ci.example/builder"
    );
    assert_eq!(
        st[0]["subject"][0]["digest"]["sha256"],
        image.digest.trim_start_matches("sha256:")
    );
    assert_eq!(st[0]["subject"][0]["name"], image.repo.as_str());

    let out = w
        .hm([
            "verify-attestation",
            "-o",
            "json",
            "--key",
            "k.pub",
            "--type",
            "custom",
            &image.by_digest(),
        ])
        .run();
    out.success();
    let v = out.json();
    let atts = v[0]["attestations"].as_array().unwrap();
    assert_eq!(
        atts.len(),
        1,
        "--type custom: expected one attestation, found {v}"
    );
    assert_eq!(atts[0]["predicate_type"], CUSTOM);
    assert_eq!(atts[0]["key_fingerprint"], k.fingerprint.as_str());
    assert_eq!(
        atts[0]["statement"]["predicate"]["Data"],
        "free-form note\n"
    );

    // No filter: both.
    let out = w
        .hm(["verify-attestation", "--key", "k.pub", &image.by_tag()])
        .run();
    out.success();
    let types: Vec<Value> = statements(&out.stdout)
        .into_iter()
        .map(|s| s["predicateType"].clone())
        .collect();
    assert_eq!(
        types,
        [SLSA, CUSTOM],
        "no --type: expected both statements, found:\n{out}"
    );
}

#[test]
fn wrong_type_filter_or_key_fails() {
    let w = World::new();
    let k = w.key("k", "pw");
    let other = w.key("other", "pw");
    let image = w.seed("attest-refusals", 1).remove(0);
    std::fs::write(w.path("p.json"), r#"{"builder":{"id":"b"}}"#).unwrap();
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

    w.hm([
        "verify-attestation",
        "--key",
        "k.pub",
        "--type",
        "spdxjson",
        &image.by_tag(),
    ])
    .run()
    .failure(&[&format!(
        "predicate type is \"{SLSA}\", expected \"https://spdx.dev/Document\""
    )]);
    w.hm(["verify-attestation", "--key", "other.pub", &image.by_tag()])
        .run()
        .failure(&[
            &att_tag(&image.digest),
            &format!(
                "does not verify with the given key (sha256:{})",
                other.fingerprint
            ),
        ]);
    w.hm([
        "verify-attestation",
        "--key",
        "k.pub",
        "--type",
        "nonsense",
        &image.by_tag(),
    ])
    .run()
    .failure(&["unknown predicate type \"nonsense\": expected"]);
    // A signature is not an attestation, and no attestation at all is a clear error.
    let bare = w.seed("attest-none", 1).remove(0);
    w.sign(&k, &[&bare.by_tag()]);
    w.hm(["verify-attestation", "--key", "k.pub", &bare.by_tag()])
        .run()
        .failure(&[&att_tag(&bare.digest), "found none"]);
    // A predicate that is not JSON for a JSON type is refused before anything is written.
    std::fs::write(w.path("bad.json"), "not json").unwrap();
    w.hm([
        "attest",
        "--key",
        "k.key",
        "--type",
        "slsaprovenance",
        "--predicate",
        "bad.json",
        &bare.by_tag(),
    ])
    .pw("pw")
    .run()
    .failure(&["bad.json"]);
    assert!(
        !crate::util::tags(&bare.path).contains(&att_tag(&bare.digest)),
        "a refused attest wrote an .att tag"
    );
}

#[test]
fn tree_shows_attestations() {
    let w = World::new();
    let k = w.key("k", "pw");
    let image = w.seed("attest-tree", 1).remove(0);
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
    // The same attestation again adds nothing.
    let again = w
        .hm([
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
        .run();
    again.success();
    assert!(
        again
            .stderr
            .contains("identical attestation already present"),
        "attest again: expected no new layer, found:\n{again}"
    );

    let tree = w.tree(&image.by_tag());
    let atts = tree["attestations"]
        .as_array()
        .unwrap_or_else(|| panic!("tree: expected attestations[], found {tree}"));
    assert_eq!(atts.len(), 1, "tree: expected one .att layer, found {tree}");
    assert_eq!(atts[0]["tag"], att_tag(&image.digest).as_str());
    assert_eq!(atts[0]["predicate_type"], SLSA);
    assert_eq!(
        atts[0]["media_type"],
        "application/vnd.dsse.envelope.v1+json"
    );
    assert_eq!(crate::util::signature_layers(&tree), 1);

    let text = w.hm(["tree", &image.by_tag()]).run();
    text.success();
    for needle in ["Signatures", "Attestations", &att_tag(&image.digest), SLSA] {
        assert!(
            text.stdout.contains(needle),
            "tree: expected {needle:?}, found:\n{text}"
        );
    }
}

#[test]
fn replace_drops_only_attestations_of_the_same_type() {
    let w = World::new();
    w.key("k", "pw");
    let image = w.seed("attest-replace", 1).remove(0);
    let attest = |predicate_type: &str, file: &str, content: &str, extra: &[&str]| {
        std::fs::write(w.path(file), content).unwrap();
        let mut args = vec![
            "attest",
            "--key",
            "k.key",
            "--type",
            predicate_type,
            "--predicate",
            file,
        ];
        args.extend_from_slice(extra);
        let by_tag = image.by_tag();
        args.push(&by_tag);
        w.hm(args).pw("pw").run().success();
    };
    attest("slsaprovenance", "p1.json", r#"{"buildType":"first"}"#, &[]);
    attest(
        "slsaprovenance",
        "p2.json",
        r#"{"buildType":"second"}"#,
        &[],
    );
    attest("custom", "note.txt", "keep me\n", &[]);
    assert_eq!(
        w.tree(&image.by_tag())["attestations"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    attest(
        "slsaprovenance",
        "p3.json",
        r#"{"buildType":"third"}"#,
        &["--replace"],
    );
    let tree = w.tree(&image.by_tag());
    let types: Vec<&str> = tree["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["predicate_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [CUSTOM, SLSA],
        "expected the custom attestation kept and one SLSA one: {tree}"
    );

    let out = w
        .hm([
            "verify-attestation",
            "--key",
            "k.pub",
            "--type",
            "slsaprovenance",
            &image.by_tag(),
        ])
        .run();
    out.success();
    let build_types: Vec<String> = statements(&out.stdout)
        .iter()
        .map(|s| s["predicate"]["buildType"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        build_types,
        ["third"],
        "expected only the replacing statement, found {build_types:?}"
    );
    let out = w
        .hm([
            "verify-attestation",
            "--key",
            "k.pub",
            "--type",
            "custom",
            &image.by_tag(),
        ])
        .run();
    out.success();
    assert_eq!(statements(&out.stdout)[0]["predicate"]["Data"], "keep me\n");
}
