//! A real Docker engine (Debian's docker.io, private to this test process, no networking):
//! `hallmark pull --to docker-archive:FILE` then `docker load -i FILE`, and Docker Content
//! Trust through `hallmark trust serve`: `DOCKER_CONTENT_TRUST=1 docker push` signs, a trusted
//! `docker pull` gets the signed digest, and an unsigned tag is refused.
//!
//! Images are made by the engine itself (`docker import` of a small tar, `docker push` to the
//! shared registry), so their layers and configs are exactly what docker writes.

use crate::util::{World, get_manifest, registry, sha256, unique};
use hallmark_testutil::docker::{self, DockerClient, DockerEngine};
use serde_json::Value;

pub(crate) fn engine() -> &'static DockerEngine {
    docker::shared()
        .expect("a Docker engine (./scripts/test installs docker.io); the reason is printed above")
}

/// A tar of one file holding `content`, for `docker import`.
pub(crate) fn rootfs_tar(w: &World, content: &str) -> std::path::PathBuf {
    let dir = w.path(&unique("rootfs"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), content).unwrap();
    let tar = w.path(&format!("{}.tar", unique("rootfs")));
    let out = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&dir)
        .arg(".")
        .output()
        .unwrap();
    assert!(out.status.success(), "tar: {out:?}");
    tar
}

/// `docker import` a one-file tar as `reference` (content differs by `content`) and push it
/// to the shared registry; returns the manifest digest the registry holds.
pub(crate) fn import_and_push(
    w: &World,
    docker: &DockerClient,
    reference: &str,
    content: &str,
) -> String {
    let tar = rootfs_tar(w, content);
    docker
        .run(["import", tar.to_str().unwrap(), reference])
        .assert_success();
    docker.run(["push", reference]).assert_success();
    let (path, tag) = reference
        .strip_prefix(&format!("{}/", registry()))
        .and_then(|r| r.rsplit_once(':'))
        .unwrap();
    sha256(&get_manifest(path, tag).1)
}

/// The config digest a registry manifest names.
fn config_digest(reference: &str) -> String {
    let (path, tag) = reference
        .strip_prefix(&format!("{}/", registry()))
        .and_then(|r| r.rsplit_once(':'))
        .unwrap();
    let (_, bytes) = get_manifest(path, tag);
    let m: Value = serde_json::from_slice(&bytes).unwrap();
    m["config"]["digest"].as_str().unwrap().to_owned()
}

#[test]
fn pull_to_docker_archive_loads_as_the_verified_image_and_a_denied_pull_writes_nothing() {
    let engine = engine();
    let docker = engine.client();
    let w = World::new();
    let key = w.key("release", "pw");
    let repo = format!("{}/{}", registry(), unique("docker-archive"));
    let signed = format!("{repo}:v1");
    let unsigned = format!("{repo}:unsigned");
    let digest = import_and_push(&w, &docker, &signed, "signed");
    import_and_push(&w, &docker, &unsigned, "unsigned");
    w.hm(["sign", "--key", key.private.to_str().unwrap(), &signed])
        .pw(&key.pass)
        .run()
        .success();
    std::fs::write(
        w.path("policy.yaml"),
        format!(
            "apiVersion: hallmark/v1\nkind: Policy\ndefault: deny\nrules:\n  - name: release\n    images: [\"{repo}\"]\n    require:\n      - cosign: {{keys: [{}]}}\n",
            key.public.display()
        ),
    )
    .unwrap();

    // Neither image stays in the engine: only the archive can bring it back.
    docker.run(["rmi", &signed, &unsigned]).assert_success();
    let out = w
        .hm([
            "pull",
            "--policy",
            "policy.yaml",
            "--to",
            "docker-archive:signed.tar",
            "-o",
            "json",
            &signed,
        ])
        .run();
    out.success();
    let v = out.json();
    assert_eq!(v[0]["decision"], "allow", "{out}");
    assert_eq!(v[0]["digest"], digest.as_str(), "{out}");
    let archive = w.path("signed.tar");
    docker
        .run(["load", "-i", archive.to_str().unwrap()])
        .assert_success();
    let id = docker.run(["image", "inspect", "--format", "{{.Id}}", &signed]);
    id.assert_success();
    assert_eq!(
        id.stdout.trim(),
        config_digest(&signed),
        "expected the loaded image's ID to be the config digest of the verified manifest"
    );

    let out = w
        .hm([
            "pull",
            "--policy",
            "policy.yaml",
            "--to",
            "docker-archive:unsigned.tar",
            &unsigned,
        ])
        .run();
    out.failure(&["denied by the policy", "nothing was written"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        !w.path("unsigned.tar").exists(),
        "a denied pull wrote its archive"
    );
    let leftovers: Vec<_> = std::fs::read_dir(w.dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("unsigned"))
        .collect();
    assert!(leftovers.is_empty(), "a denied pull left {leftovers:?}");
}

#[test]
fn docker_content_trust_push_and_pull_through_hallmark_trust_serve() {
    let engine = engine();
    let Some(server) = crate::trust_client::hallmark_serve() else {
        panic!("hallmark trust serve needs the notary CLI (./scripts/test installs notary)");
    };
    let docker = engine.client();
    let host_port = server.url.trim_start_matches("https://").to_owned();
    docker.trust_ca(&host_port, &server.ca);
    let w = World::new();
    let repo = format!("{}/{}", registry(), unique("docker-dct"));
    let signed = format!("{repo}:signed");
    let unsigned = format!("{repo}:unsigned");
    let trusted = |args: &[&str]| {
        docker
            .docker(args)
            .env("DOCKER_CONTENT_TRUST", "1")
            .env("DOCKER_CONTENT_TRUST_SERVER", &server.url)
            .env("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "root-pass")
            .env("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "repo-pass")
            .run()
    };

    // The unsigned tag is pushed with trust off; the signed one with trust on.
    import_and_push(&w, &docker, &unsigned, "unsigned");
    let tar = rootfs_tar(&w, "signed");
    docker
        .run(["import", tar.to_str().unwrap(), &signed])
        .assert_success();
    let push = trusted(&["push", &signed]);
    push.assert_success();
    assert!(
        push.stdout.contains("Signing and pushing trust metadata"),
        "expected docker to sign, found:\n{push}"
    );
    let (path, _) = signed
        .strip_prefix(&format!("{}/", registry()))
        .unwrap()
        .rsplit_once(':')
        .unwrap();
    let digest = sha256(&get_manifest(path, "signed").1);

    docker.run(["rmi", &signed, &unsigned]).assert_success();
    let pull = trusted(&["pull", &signed]);
    pull.assert_success();
    assert!(
        pull.stdout.contains(&format!("{signed}@{digest}")),
        "expected the trusted pull to resolve {signed} to the signed digest {digest}, found:\n{pull}"
    );
    let repo_digests = docker.run([
        "image",
        "inspect",
        "--format",
        "{{join .RepoDigests \" \"}}",
        &signed,
    ]);
    repo_digests.assert_success();
    assert!(
        repo_digests.stdout.contains(&digest),
        "expected the pulled image to carry {digest}, found:\n{repo_digests}"
    );
    trusted(&["pull", &unsigned]).assert_failure_containing("No valid trust data for unsigned");
    let images = docker.run(["images", "-q", &unsigned]);
    images.assert_success();
    assert!(
        images.stdout.trim().is_empty(),
        "the refused pull left an image: {images}"
    );

    // hallmark reads what docker signed: the tag's digest under the repository key.
    let out = w
        .hm([
            "trust",
            "inspect",
            &repo,
            "--server",
            &server.url,
            "--tls-ca",
            server.ca.to_str().unwrap(),
        ])
        .run();
    out.success();
    let inspect = out.json();
    let tags = &inspect[0]["SignedTags"];
    assert_eq!(tags[0]["SignedTag"], "signed", "{out}");
    assert_eq!(
        tags[0]["Digest"],
        digest.trim_start_matches("sha256:"),
        "{out}"
    );
    assert_eq!(tags[0]["Signers"][0], "Repo Admin", "{out}");

    // A policy decides on what docker signed: the repository key is the signer `targets`.
    crate::policy::write_dct_policy(&w, server, &repo, "targets");
    let out = w
        .hm(["verify", "--policy", "policy.yaml", "-o", "json", &signed])
        .run();
    out.success();
    assert_eq!(out.json()[0]["digest"], digest.as_str(), "{out}");
    let out = w
        .hm(["verify", "--policy", "policy.yaml", "-o", "json", &unsigned])
        .run();
    assert_eq!(out.code, Some(1), "{out}");
    assert_eq!(
        out.json()[0]["requirements"][0]["code"],
        "dct_not_signed",
        "{out}"
    );
}
