//! Interoperability with skopeo 1.18 (containers/image sigstore support), both ways.

use crate::util::{World, registry, unique};
use hallmark_testutil::tools::{self, SignedIdentity};

#[test]
fn skopeo_accepts_a_hallmark_signature_and_rejects_another_key() {
    let w = World::new();
    let k1 = w.key("k1", "pw1");
    let k2 = w.key("k2", "pw2");
    let images = w.seed("skopeo-accepts", 2);
    let (a, b) = (&images[0], &images[1]);
    w.sign(&k1, &[&a.by_tag()]);
    w.sign(&k2, &[&b.by_tag()]);

    let verdict = tools::skopeo_verify(
        registry(),
        &a.path_tag(),
        &k1.public,
        SignedIdentity::MatchRepository,
    );
    assert!(
        verdict.success,
        "skopeo: expected a hallmark signature by k1 to be accepted, found:\n{verdict}"
    );
    // By digest too. (Not matchRepoDigestOrExact: like cosign, hallmark signs the repository
    // without a tag, and containers/image never matches a name-only identity there.)
    let verdict = tools::skopeo_verify(
        registry(),
        &format!("{}@{}", a.path, a.digest),
        &k1.public,
        SignedIdentity::MatchRepository,
    );
    assert!(
        verdict.success,
        "skopeo by digest: expected acceptance, found:\n{verdict}"
    );

    // B is signed by hallmark with k2 only: skopeo with k1 refuses it.
    tools::skopeo_verify(
        registry(),
        &b.path_tag(),
        &k1.public,
        SignedIdentity::MatchRepository,
    )
    .assert_failure_containing("signature verification failed");
    // ... and accepts it with k2.
    tools::skopeo_verify(
        registry(),
        &b.path_tag(),
        &k2.public,
        SignedIdentity::MatchRepository,
    )
    .assert_success();
}

#[test]
fn a_signature_copied_to_another_repository_is_refused_by_skopeo_and_hallmark() {
    let w = World::new();
    let k = w.key("k", "pw");
    let src = w.seed("copied-sig-src", 1).remove(0);
    w.sign(&k, &[&src.by_tag()]);
    let dst_path = format!("{}/moved", unique("copied-sig-dst"));
    let dst_repo = format!("{}/{dst_path}", registry());
    let out = w
        .hm(["copy", &src.by_tag(), &format!("{dst_repo}:v1")])
        .run();
    out.success();
    assert!(
        out.stderr.contains(&crate::util::sig_tag(&src.digest)),
        "copy: expected the .sig tag among the attachments, found:\n{out}"
    );

    let verdict = tools::skopeo_verify(
        registry(),
        &format!("{dst_path}:v1"),
        &k.public,
        SignedIdentity::MatchRepository,
    );
    verdict.assert_failure_containing(&format!(
        "Signature for identity \\\"{}\\\" is not accepted",
        src.repo
    ));

    w.verify(&k, &["--identity", &dst_repo], &format!("{dst_repo}:v1"))
        .failure(&[&format!(
            "signed identity is \"{}\", expected repository \"{dst_repo}\"",
            src.repo
        )]);
    // The signature itself is intact: without an identity requirement it verifies.
    w.verify(&k, &[], &format!("{dst_repo}@{}", src.digest))
        .success();
}

#[test]
fn hallmark_verifies_skopeo_signatures_made_with_either_key_format() {
    let w = World::new();
    let images = w.seed("skopeo-signed", 2);
    let (a, b) = (&images[0], &images[1]);

    // A: a key from skopeo generate-sigstore-key.
    tools::skopeo_generate_key(&w.path("sk"), "skopeo-pass");
    tools::skopeo_sign_in_place(
        registry(),
        &a.path_tag(),
        &w.path("sk.private"),
        "skopeo-pass",
    )
    .assert_success();
    let out = w
        .hm([
            "verify",
            "-o",
            "json",
            "--key",
            "sk.pub",
            "--identity",
            &a.repo,
            &a.by_tag(),
        ])
        .run();
    out.success();
    let sig = &out.json()[0]["signatures"][0];
    assert_eq!(
        sig["payload"]["critical"]["image"]["docker-manifest-digest"],
        a.digest.as_str(),
        "{sig}"
    );
    assert!(
        sig["annotations"]["creator"]
            .as_str()
            .is_some_and(|c| c.contains("containers/image")),
        "expected skopeo's creator annotation, found {sig}"
    );

    // B: a hallmark-generated key, which skopeo reads as cosign's format.
    let k = w.key("hk", "hallmark-pass");
    tools::skopeo_sign_in_place(registry(), &b.path_tag(), &k.private, "hallmark-pass")
        .assert_success();
    let out = w.verify(&k, &["--identity", &b.repo], &b.by_digest());
    out.success();
    assert!(
        out.stdout.contains(&k.fingerprint),
        "verify: expected the key fingerprint, found:\n{out}"
    );
    // The skopeo key does not verify B.
    w.hm(["verify", "--key", "sk.pub", &b.by_tag()])
        .run()
        .failure(&["signature does not verify with the given key"]);
}

#[test]
fn hallmark_signs_with_a_skopeo_generated_key() {
    let w = World::new();
    let image = w.seed("skopeo-key", 1).remove(0);
    tools::skopeo_generate_key(&w.path("sk"), "sk-pass");
    w.hm(["sign", "--key", "sk.private", &image.by_tag()])
        .pw("wrong")
        .run()
        .failure(&["sk.private", "wrong passphrase"]);
    w.hm(["sign", "--key", "sk.private", &image.by_tag()])
        .pw("sk-pass")
        .run()
        .success();
    w.hm(["verify", "--key", "sk.pub", &image.by_tag()])
        .run()
        .success();
    tools::skopeo_verify(
        registry(),
        &image.path_tag(),
        &w.path("sk.pub"),
        SignedIdentity::MatchRepository,
    )
    .assert_success();
}
