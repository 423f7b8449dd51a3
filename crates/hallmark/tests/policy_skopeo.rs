//! `hallmark verify --policy` with a containers-policy.json decides exactly as skopeo 1.18
//! does with the same file: one policy, a matrix of images (signed by one key, another, both,
//! none; a signature copied from another digest; every signedIdentity form; reject and
//! insecureAcceptAnything at tag, digest, repository and namespace scopes; tag and digest
//! references), both tools on every case.

use crate::util::{Key, World, registry, sig_tag, unique};
use base64::Engine as _;
use hallmark_testutil::tools;
use serde_json::json;

struct Case {
    name: &'static str,
    reference: String,
}

fn sign_as(w: &World, key: &Key, identity: Option<&str>, image: &str) {
    let mut args = vec![
        "sign".to_owned(),
        "--key".to_owned(),
        key.private.display().to_string(),
    ];
    if let Some(id) = identity {
        args.push("--sign-container-identity".to_owned());
        args.push(id.to_owned());
    }
    args.push(image.to_owned());
    w.hm(args).pw(&key.pass).run().success();
}

#[test]
fn hallmark_decides_as_skopeo_for_every_case_of_one_containers_policy() {
    if !tools::skopeo_available() {
        panic!("skopeo 1.18 is required (./scripts/test installs it)");
    }
    let w = World::new();
    let k1 = w.key("k1", "pw1");
    let k2 = w.key("k2", "pw2");
    let reg = registry();
    let base = format!("{reg}/{}", unique("policy-diff"));
    let one = |path: &str| {
        w.seed_with(&format!("{base}/{path}"), 1, "v1", false)
            .remove(0)
    };

    let acc_any = one("acc/any");
    let acc_blocked = one("acc/blocked");
    let rej_thing = one("rej/thing");
    let rej_allowed = one("rej/allowed");
    let rej_pinned = one("rej/pinned");
    let k1repo = one("sig/k1repo");
    let k2only = one("sig/k2only");
    let unsigned = one("sig/unsigned");
    let both = one("sig/both");
    let rdoe = one("sig/rdoe");
    let tagged = one("sig/tagged");
    let exact = one("sig/exact");
    let exactref = one("sig/exactref");
    let exactrepo = one("sig/exactrepo");
    let exactrepo_wrong = one("sig/exactrepowrong");
    let remap = one("sig/remap");
    let and_one = one("sig/andone");
    let and_both = one("sig/andboth");
    let keydata = one("sig/keydata");
    let elsewhere = one("sig/elsewhere");
    let outside = one("outside/img");
    let copied = w.seed_with(&format!("{base}/sig/copied"), 2, "v1", false);

    sign_as(&w, &k1, None, &k1repo.by_tag());
    sign_as(&w, &k2, None, &k2only.by_tag());
    sign_as(&w, &k1, None, &both.by_tag());
    sign_as(&w, &k2, None, &both.by_tag());
    sign_as(&w, &k1, None, &rdoe.by_tag());
    sign_as(&w, &k1, Some(&tagged.by_tag()), &tagged.by_tag());
    sign_as(&w, &k1, Some(&exact.by_tag()), &exact.by_tag());
    sign_as(
        &w,
        &k1,
        Some(&format!("{base}/other:v1")),
        &exactref.by_tag(),
    );
    sign_as(&w, &k1, Some(&format!("{base}/other")), &exactrepo.by_tag());
    sign_as(&w, &k1, None, &exactrepo_wrong.by_tag());
    let remap_signed = format!("{base}/orig/{}:v1", remap.repo.rsplit('/').next().unwrap());
    sign_as(&w, &k1, Some(&remap_signed), &remap.by_tag());
    sign_as(&w, &k1, None, &and_one.by_tag());
    sign_as(&w, &k1, None, &and_both.by_tag());
    sign_as(&w, &k2, None, &and_both.by_tag());
    sign_as(&w, &k1, None, &keydata.by_tag());
    sign_as(
        &w,
        &k1,
        Some(&format!("{base}/somewhere-else")),
        &elsewhere.by_tag(),
    );
    // A signature of copied[0], placed where copied[1]'s signature would be.
    sign_as(&w, &k1, None, &copied[0].by_tag());
    tools::skopeo_copy(
        &format!("docker://{}:{}", copied[0].repo, sig_tag(&copied[0].digest)),
        &format!("docker://{}:{}", copied[1].repo, sig_tag(&copied[1].digest)),
        &[],
    )
    .assert_success();

    let k1p = k1.public.display().to_string();
    let k2p = k2.public.display().to_string();
    let k1_data =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&k1.public).unwrap());
    let signed = |key: &str, identity: serde_json::Value| json!([{"type": "sigstoreSigned", "keyPath": key, "signedIdentity": identity}]);
    let repo_id = json!({"type": "matchRepository"});
    let mut docker = serde_json::Map::new();
    let mut scope = |k: String, v: serde_json::Value| {
        docker.insert(k, v);
    };
    scope(
        format!("{base}/acc"),
        json!([{"type": "insecureAcceptAnything"}]),
    );
    scope(acc_blocked.repo.clone(), json!([{"type": "reject"}]));
    scope(format!("{base}/rej"), json!([{"type": "reject"}]));
    scope(
        rej_allowed.by_tag(),
        json!([{"type": "insecureAcceptAnything"}]),
    );
    scope(
        rej_pinned.by_digest(),
        json!([{"type": "insecureAcceptAnything"}]),
    );
    scope(k1repo.repo.clone(), signed(&k1p, repo_id.clone()));
    scope(k2only.repo.clone(), signed(&k1p, repo_id.clone()));
    scope(unsigned.repo.clone(), signed(&k1p, repo_id.clone()));
    scope(
        both.repo.clone(),
        json!([{"type": "sigstoreSigned", "keyPaths": [k1p, k2p], "signedIdentity": repo_id}]),
    );
    scope(
        rdoe.repo.clone(),
        json!([{"type": "sigstoreSigned", "keyPath": k1p}]),
    );
    scope(
        tagged.repo.clone(),
        signed(&k1p, json!({"type": "matchRepoDigestOrExact"})),
    );
    scope(
        exact.repo.clone(),
        signed(&k1p, json!({"type": "matchExact"})),
    );
    scope(
        exactref.repo.clone(),
        signed(
            &k1p,
            json!({"type": "exactReference", "dockerReference": format!("{base}/other:v1")}),
        ),
    );
    scope(
        exactrepo.repo.clone(),
        signed(
            &k1p,
            json!({"type": "exactRepository", "dockerRepository": format!("{base}/other")}),
        ),
    );
    scope(
        exactrepo_wrong.repo.clone(),
        signed(
            &k1p,
            json!({"type": "exactRepository", "dockerRepository": format!("{base}/other")}),
        ),
    );
    scope(
        remap.repo.clone(),
        signed(
            &k1p,
            json!({"type": "remapIdentity", "prefix": format!("{base}/sig"), "signedPrefix": format!("{base}/orig")}),
        ),
    );
    scope(
        and_one.repo.clone(),
        json!([ {"type": "sigstoreSigned", "keyPath": k1p, "signedIdentity": repo_id}, {"type": "sigstoreSigned", "keyPath": k2p, "signedIdentity": repo_id} ]),
    );
    scope(
        and_both.repo.clone(),
        json!([ {"type": "sigstoreSigned", "keyPath": k1p, "signedIdentity": repo_id}, {"type": "sigstoreSigned", "keyPath": k2p, "signedIdentity": repo_id} ]),
    );
    scope(
        keydata.repo.clone(),
        json!([{"type": "sigstoreSigned", "keyData": k1_data, "signedIdentity": repo_id}]),
    );
    scope(elsewhere.repo.clone(), signed(&k1p, repo_id.clone()));
    for img in &copied {
        scope(img.repo.clone(), signed(&k1p, repo_id.clone()));
    }
    let docker = serde_json::Value::Object(docker);
    let policy = json!({
        "default": [{"type": "reject"}],
        "transports": {
            "docker": docker,
            "oci": {"": [{"type": "insecureAcceptAnything"}]},
            "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]}
        }
    });
    let policy_path = w.path("policy.json");
    std::fs::write(&policy_path, serde_json::to_string_pretty(&policy).unwrap()).unwrap();

    let c = |name: &'static str, reference: String| Case { name, reference };
    let cases = vec![
        c("namespace accept, tag", acc_any.by_tag()),
        c("namespace accept, digest", acc_any.by_digest()),
        c(
            "repository reject under an accepting namespace",
            acc_blocked.by_tag(),
        ),
        c("namespace reject", rej_thing.by_tag()),
        c(
            "tag-scope accept under a rejecting namespace",
            rej_allowed.by_tag(),
        ),
        c(
            "tag scope does not cover the digest",
            rej_allowed.by_digest(),
        ),
        c("digest-scope accept", rej_pinned.by_digest()),
        c("digest scope does not cover the tag", rej_pinned.by_tag()),
        c("signed by the key, matchRepository, tag", k1repo.by_tag()),
        c(
            "signed by the key, matchRepository, digest",
            k1repo.by_digest(),
        ),
        c("signed by another key", k2only.by_tag()),
        c("unsigned", unsigned.by_tag()),
        c("signed by both, keyPaths", both.by_tag()),
        c(
            "default matchRepoDigestOrExact, name-only signature, tag",
            rdoe.by_tag(),
        ),
        c(
            "default matchRepoDigestOrExact, name-only signature, digest",
            rdoe.by_digest(),
        ),
        c("matchRepoDigestOrExact, tagged signature", tagged.by_tag()),
        c("matchExact, tagged signature, tag", exact.by_tag()),
        c("matchExact, tagged signature, digest", exact.by_digest()),
        c("exactReference", exactref.by_tag()),
        c("exactRepository", exactrepo.by_tag()),
        c(
            "exactRepository, signature names its own repository",
            exactrepo_wrong.by_tag(),
        ),
        c("remapIdentity", remap.by_tag()),
        c("two requirements, one signature", and_one.by_tag()),
        c("two requirements, both signatures", and_both.by_tag()),
        c("keyData", keydata.by_tag()),
        c("signature names another repository", elsewhere.by_tag()),
        c("signature copied from another digest", copied[1].by_tag()),
        c("the original of the copied signature", copied[0].by_tag()),
        c("no scope: the default", outside.by_tag()),
    ];
    assert!(cases.len() >= 25);

    let registries_d = tools::sigstore_registries_d(reg);
    let registries_d = registries_d.path().display().to_string();
    let policy_arg = policy_path.display().to_string();
    let mut mismatches = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for (i, case) in cases.iter().enumerate() {
        let dest = format!("dir:{}", w.path(&format!("out{i}")).display());
        let skopeo = tools::skopeo_copy(
            &format!("docker://{}", case.reference),
            &dest,
            &["--policy", &policy_arg, "--registries.d", &registries_d],
        );
        let hm = w
            .hm(["verify", "--policy", &policy_arg, &case.reference])
            .run();
        let hm_ok = hm.code == Some(0);
        if hm.code != Some(0) && hm.code != Some(1) {
            mismatches.push(format!(
                "{}: hallmark exited {:?}:\n{hm}",
                case.name, hm.code
            ));
        }
        if skopeo.success {
            accepted += 1;
        } else {
            rejected += 1;
        }
        if skopeo.success != hm_ok {
            mismatches.push(format!(
                "{} ({}): skopeo {}, hallmark {}\nskopeo: {}\nhallmark: {hm}",
                case.name,
                case.reference,
                if skopeo.success { "accepts" } else { "rejects" },
                if hm_ok { "accepts" } else { "rejects" },
                skopeo.stderr.trim(),
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "hallmark and skopeo 1.18 disagree on {} of {} cases:\n\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n\n")
    );
    // The matrix is not one-sided.
    assert!(
        accepted >= 8 && rejected >= 8,
        "expected a matrix with both outcomes, found {accepted} accepted and {rejected} rejected"
    );
}
