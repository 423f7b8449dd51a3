//! `hallmark trust ...` (the Docker Content Trust client), `DOCKER_CONTENT_TRUST=1` pulls and
//! `trust migrate`, against the real notary-server + notary-signer 0.7.0 (started here, TLS
//! with a test CA), the real notary CLI, and the shared docker-registry.

use crate::util::{OCI_MANIFEST, World, get_manifest, put_manifest, registry, unique};
use hallmark_testutil::notary::{NotaryCli, NotaryServer, Pki, notary_available};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const ROOT_PW: &str = "root-pass-1";
const REPO_PW: &str = "repo-pass-1";

/// A trust server over TLS: the real notary-server, or `hallmark trust serve` (also used by
/// the `trust_keyref` tests).
pub(crate) struct Notary {
    _dir: tempfile::TempDir,
    _server: Box<dyn std::any::Any + Send + Sync>,
    pub(crate) url: String,
    pub(crate) ca: PathBuf,
}

/// The real notary-server + notary-signer 0.7.0, shared by this test binary.
pub(crate) fn notary() -> Option<&'static Notary> {
    static SHARED: OnceLock<Option<Notary>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            if !notary_available() {
                return None;
            }
            let dir = tempfile::tempdir().unwrap();
            let pki = Pki::new(&dir.path().join("pki"));
            let server = NotaryServer::start(&pki);
            Some(Notary {
                ca: pki.ca_cert.clone(),
                url: server.url(),
                _dir: dir,
                _server: Box::new(server),
            })
        })
        .as_ref()
}

/// `hallmark trust serve` over TLS (SQLite), shared by this test binary.
pub(crate) fn hallmark_serve() -> Option<&'static Notary> {
    static SHARED: OnceLock<Option<Notary>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            // The notary CLI checks what hallmark publishes.
            if !notary_available() {
                return None;
            }
            let dir = tempfile::tempdir().unwrap();
            let pki = Pki::new(&dir.path().join("pki"));
            let server =
                crate::trust_serve::TrustServe::start(&dir.path().join("data"), Some(&pki), &[]);
            Some(Notary {
                ca: pki.ca_cert.clone(),
                url: server.url.clone(),
                _dir: dir,
                _server: Box::new(server),
            })
        })
        .as_ref()
}

/// The trust directory the `hallmark` runs of a World use ($DOCKER_CONFIG/trust).
fn trust_dir(w: &World) -> PathBuf {
    w.dir().join(".no-docker-config").join("trust")
}

/// `hallmark trust ARGS --server URL --tls-ca CA` with both passphrases set.
fn trust(w: &World, n: &Notary, args: &[&str]) -> crate::util::Output {
    trust_env(
        w,
        n,
        args,
        &[
            ("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", ROOT_PW),
            ("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", REPO_PW),
        ],
    )
}

fn trust_env(w: &World, n: &Notary, args: &[&str], env: &[(&str, &str)]) -> crate::util::Output {
    let url = n.url.clone();
    let ca = n.ca.display().to_string();
    let mut all: Vec<&str> = vec!["trust"];
    all.extend(args);
    // Key commands take no server options.
    if !matches!(args.first(), Some(&"key")) || matches!(args.get(1), Some(&"rotate")) {
        all.extend(["--server", &url, "--tls-ca", &ca]);
    }
    let mut cmd = w.hm(&all);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.run()
}

/// The key ID of the only private key file with `role: NAME`.
fn key_id_of_role(w: &World, role: &str) -> String {
    let dir = trust_dir(w).join("private");
    let mut found = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        if text.contains(&format!("\nrole: {role}\n")) {
            found.push(p.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    assert_eq!(
        found.len(),
        1,
        "expected one {role} key in {}, found {found:?}",
        dir.display()
    );
    found.remove(0)
}

fn mode(path: &Path) -> u32 {
    crate::util::mode(path)
}

/// A GUN-style repository (no tag) with one sample image `:v1`; returns (repo, digest).
fn seeded(w: &World, name: &str) -> (String, String) {
    let img = w.seed(name, 1).remove(0);
    (img.repo, img.digest)
}

#[test]
fn key_generate_and_load_write_files_docker_and_notary_read() {
    let Some(n) = notary() else { return };
    let w = World::new();
    let out = trust(
        &w,
        n,
        &[
            "key",
            "generate",
            "alice",
            "--dir",
            w.dir().to_str().unwrap(),
        ],
    );
    out.success();
    assert!(out.stdout.contains("Generating key for alice..."), "{out}");
    let public = w.path("alice.pub");
    assert!(
        out.stdout.contains(&format!(
            "Successfully generated and loaded private key. Corresponding public key available: {}",
            public.display()
        )),
        "{out}"
    );
    let text = std::fs::read_to_string(&public).unwrap();
    assert!(
        text.starts_with("-----BEGIN PUBLIC KEY-----\nrole: alice\n\n"),
        "{text}"
    );
    assert_eq!(mode(&public), 0o600);
    let id = key_id_of_role(&w, "alice");
    let private = trust_dir(&w).join("private").join(format!("{id}.key"));
    assert_eq!(mode(&private), 0o600);
    assert!(
        std::fs::read_to_string(&private)
            .unwrap()
            .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\nrole: alice\n\n")
    );

    // An unencrypted PKCS#8 key made by openssl, loaded under another name.
    let pem = w.path("carol-key.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&pem)
        .status()
        .unwrap();
    assert!(status.success());
    // Readable by others: refused, nothing imported.
    std::fs::set_permissions(&pem, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    trust(
        &w,
        n,
        &["key", "load", pem.to_str().unwrap(), "--name", "carol"],
    )
    .failure(&["must not be readable or writable by others"]);
    std::fs::set_permissions(&pem, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // No passphrase and no terminal: a clear error naming the variable, nothing imported.
    trust_env(
        &w,
        n,
        &["key", "load", pem.to_str().unwrap(), "--name", "carol"],
        &[],
    )
    .failure(&["DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"]);
    let before = std::fs::read_dir(trust_dir(&w).join("private"))
        .unwrap()
        .count();
    assert_eq!(before, 1);
    trust(
        &w,
        n,
        &["key", "load", pem.to_str().unwrap(), "--name", "carol"],
    )
    .success();
    let carol = key_id_of_role(&w, "carol");

    // The real notary CLI lists both keys from hallmark's files (it decrypts each one).
    let cli = NotaryCli::new(&trust_dir(&w), &n.url, &n.ca);
    let list = cli.run(["key", "list"]);
    list.assert_success();
    for needle in [id.as_str(), carol.as_str(), "alice", "carol"] {
        assert!(list.stdout.contains(needle), "{needle} not listed:\n{list}");
    }
    // An encrypted key file (docker's, notary's or hallmark's format) loads into another trust
    // directory with its passphrase; a wrong one is refused and nothing is written.
    let w2 = World::new();
    let copy = w2.path("alice.key");
    std::fs::copy(&private, &copy).unwrap();
    std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    trust_env(
        &w2,
        n,
        &["key", "load", copy.to_str().unwrap(), "--name", "alice"],
        &[("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "wrong")],
    )
    .failure(&["could not decrypt key"]);
    assert!(!trust_dir(&w2).join("private").exists());
    trust(
        &w2,
        n,
        &["key", "load", copy.to_str().unwrap(), "--name", "alice"],
    )
    .success();
    assert_eq!(key_id_of_role(&w2, "alice"), id);

    // Bad names are refused as docker refuses them.
    trust(&w, n, &["key", "generate", "Bad"]).failure(&["must start with lowercase alphanumeric"]);
}

#[test]
fn signer_add_sign_inspect_resolve_revoke() {
    let Some(n) = notary() else { return };
    signer_sign_flow(n);
}

#[test]
fn signer_add_sign_inspect_resolve_revoke_on_hallmark_trust_serve() {
    let Some(n) = hallmark_serve() else { return };
    signer_sign_flow(n);
}

fn signer_sign_flow(n: &Notary) {
    let w = World::new();
    let (repo, digest) = seeded(&w, "trust-sign");
    let hex = digest.trim_start_matches("sha256:").to_string();
    let gun = repo.clone();
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
    let alice = key_id_of_role(&w, "alice");
    let out = trust(
        &w,
        n,
        &["signer", "add", "alice", &repo, "--key", "alice.pub"],
    );
    out.success();
    assert!(
        out.stdout
            .contains(&format!("Initializing signed repository for {repo}...")),
        "{out}"
    );
    assert!(
        out.stdout
            .contains(&format!("Successfully added signer: alice to {repo}")),
        "{out}"
    );
    trust(&w, n, &["sign", &format!("{repo}:v1")]).success();

    // inspect: docker's JSON, field by field, with docker's 4-space indentation.
    let out = trust(&w, n, &["inspect", &repo]);
    out.success();
    assert!(
        out.stdout.starts_with("[\n    {\n        \"Name\": "),
        "{out}"
    );
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let r = &v[0];
    assert_eq!(r["Name"], repo.as_str());
    assert_eq!(r["SignedTags"].as_array().unwrap().len(), 1);
    assert_eq!(r["SignedTags"][0]["SignedTag"], "v1");
    assert_eq!(r["SignedTags"][0]["Digest"], hex.as_str());
    assert_eq!(r["SignedTags"][0]["Signers"], serde_json::json!(["alice"]));
    assert_eq!(r["Signers"][0]["Name"], "alice");
    assert_eq!(r["Signers"][0]["Keys"][0]["ID"], alice.as_str());
    assert_eq!(r["AdministrativeKeys"][0]["Name"], "Root");
    assert_eq!(r["AdministrativeKeys"][1]["Name"], "Repository");
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    let order: Vec<usize> = [
        "\"Name\"",
        "\"SignedTags\"",
        "\"Signers\"",
        "\"AdministrativeKeys\"",
    ]
    .iter()
    .map(|k| out.stdout.find(k).unwrap())
    .collect();
    assert!(
        order.windows(2).all(|p| p[0] < p[1]),
        "field order: {keys:?}"
    );
    let root_id = r["AdministrativeKeys"][0]["Keys"][0]["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let repo_id = r["AdministrativeKeys"][1]["Keys"][0]["ID"]
        .as_str()
        .unwrap()
        .to_string();

    // --pretty, as docker prints it.
    let out = trust(&w, n, &["inspect", "--pretty", &format!("{repo}:v1")]);
    out.success();
    let expected = format!(
        "\nSignatures for {repo}:v1\n\nSIGNED TAG   DIGEST{pad}SIGNERS\nv1           {hex}   alice\n\nList of signers and their keys for {repo}:v1\n\nSIGNER    KEYS\nalice     {short}\n\nAdministrative keys for {repo}:v1\n\n  Repository Key:\t{repo_id}\n  Root Key:\t{root_id}\n",
        pad = " ".repeat(64 + 3 - "DIGEST".len()),
        short = &alice[..12],
    );
    assert_eq!(out.stdout, expected);

    // Root pinning: a pinned root key ID the repository's root does not list is refused;
    // its own root key ID (certificate ID, as inspect shows it) is accepted.
    let zeros = "0".repeat(64);
    trust(
        &w,
        n,
        &["resolve", &format!("{repo}:v1"), "--root-key-id", &zeros],
    )
    .failure(&["root of trust", &zeros]);
    trust(
        &w,
        n,
        &["resolve", &format!("{repo}:v1"), "--root-key-id", &root_id],
    )
    .success();

    // resolve, and the notary CLI reading the same trust data.
    let out = trust(&w, n, &["resolve", &format!("{repo}:v1")]);
    out.success();
    assert_eq!(out.stdout, format!("{digest}\n"));
    let cli = NotaryCli::new(&w.path("notary-trust"), &n.url, &n.ca);
    let list = cli.run(["list", &gun, "--roles", "targets/releases"]);
    list.assert_success();
    assert!(
        list.stdout.contains("v1") && list.stdout.contains(&hex),
        "{list}"
    );
    let (_, manifest) = get_manifest(repo.split_once('/').unwrap().1, "v1");
    assert!(
        list.stdout.contains(&manifest.len().to_string()),
        "size missing:\n{list}"
    );

    // The notary CLI, on hallmark's trust directory (its keys and its metadata cache), signs
    // v9 into targets/releases with the key `hallmark trust key generate` made.
    let mut own = NotaryCli::new(&trust_dir(&w), &n.url, &n.ca);
    own.env = vec![
        ("NOTARY_ROOT_PASSPHRASE".into(), ROOT_PW.into()),
        ("NOTARY_TARGETS_PASSPHRASE".into(), REPO_PW.into()),
        ("NOTARY_SNAPSHOT_PASSPHRASE".into(), REPO_PW.into()),
        ("NOTARY_DELEGATION_PASSPHRASE".into(), REPO_PW.into()),
    ];
    std::fs::write(w.path("v9.txt"), "nine\n").unwrap();
    let v9 = w.path("v9.txt");
    own.run([
        "add",
        "-p",
        &gun,
        "v9",
        v9.to_str().unwrap(),
        "--roles",
        "targets/releases",
    ])
    .assert_success();
    let out = trust(&w, n, &["resolve", &format!("{repo}:v9")]);
    out.success();
    assert_eq!(out.stdout, format!("{}\n", crate::util::sha256(b"nine\n")));
    trust(&w, n, &["revoke", &format!("{repo}:v9")]).success();

    // Revoke: the tag has no trust data any more; exactly docker's message.
    trust(&w, n, &["revoke", &format!("{repo}:v1")]).success();
    let out = trust(&w, n, &["resolve", &format!("{repo}:v1")]);
    assert_eq!(out.code, Some(1), "{out}");
    assert_eq!(out.stderr, "No valid trust data for v1\n");
    let out = trust(&w, n, &["inspect", &repo]);
    out.success();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v[0]["SignedTags"], serde_json::json!([]));

    // Signer remove: alice signed the last released version, so docker's question comes
    // first (no terminal here: an error naming --force, nothing changed); with -f she goes.
    trust(&w, n, &["signer", "remove", "alice", &repo]).failure(&["unpullable", "--force"]);
    let v: Value = serde_json::from_str(&trust(&w, n, &["inspect", &repo]).stdout).unwrap();
    assert_eq!(v[0]["Signers"][0]["Name"], "alice");
    trust(&w, n, &["signer", "remove", "alice", &repo, "-f"]).success();
    let v: Value = serde_json::from_str(&trust(&w, n, &["inspect", &repo]).stdout).unwrap();
    assert_eq!(v[0]["Signers"], serde_json::json!([]));
}

#[test]
fn inspect_and_resolve_data_written_by_the_notary_cli() {
    let Some(n) = notary() else { return };
    let w = World::new();
    let gun = format!("{}/{}/cli", registry(), unique("notary-written"));
    let cli = NotaryCli::new(&w.path("notary-trust"), &n.url, &n.ca);
    std::fs::write(w.path("a.txt"), "a\n").unwrap();
    std::fs::write(w.path("b.txt"), "bb\n").unwrap();
    cli.run(["init", "-p", &gun]).assert_success();
    cli.run(["add", "-p", &gun, "a", w.path("a.txt").to_str().unwrap()])
        .assert_success();
    let bob = cli.make_delegation_key(w.dir(), "bob");
    let bob = bob.to_str().unwrap();
    cli.run([
        "delegation",
        "add",
        &gun,
        "targets/releases",
        bob,
        "--all-paths",
    ])
    .assert_success();
    cli.run([
        "delegation",
        "add",
        "-p",
        &gun,
        "targets/bob",
        bob,
        "--all-paths",
    ])
    .assert_success();
    cli.run([
        "add",
        "-p",
        &gun,
        "b",
        w.path("b.txt").to_str().unwrap(),
        "--roles",
        "targets/releases",
        "--roles",
        "targets/bob",
    ])
    .assert_success();
    let sha = |s: &str| {
        crate::util::sha256(s.as_bytes())
            .trim_start_matches("sha256:")
            .to_string()
    };
    let out = trust(&w, n, &["resolve", &format!("{gun}:b")]);
    out.success();
    assert_eq!(out.stdout.trim(), format!("sha256:{}", sha("bb\n")));
    let out = trust(&w, n, &["inspect", &gun]);
    out.success();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let tags = v[0]["SignedTags"].as_array().unwrap();
    assert_eq!(tags.len(), 2);
    assert_eq!(
        (tags[0]["SignedTag"].as_str(), tags[0]["Signers"].clone()),
        (Some("a"), serde_json::json!(["Repo Admin"]))
    );
    assert_eq!(
        (tags[1]["SignedTag"].as_str(), tags[1]["Signers"].clone()),
        (Some("b"), serde_json::json!(["bob"]))
    );
    assert_eq!(tags[1]["Digest"], sha("bb\n").as_str());
    assert_eq!(v[0]["Signers"][0]["Name"], "bob");
}

#[test]
fn content_trust_pulls_use_the_signed_digest() {
    let Some(n) = notary() else { return };
    content_trust_flow(n);
}

#[test]
fn content_trust_pulls_use_the_signed_digest_on_hallmark_trust_serve() {
    let Some(n) = hallmark_serve() else { return };
    content_trust_flow(n);
}

fn content_trust_flow(n: &Notary) {
    let w = World::new();
    let prefix = format!("{}/{}/img", registry(), unique("dct-pull"));
    let a = w.seed_with(&prefix, 1, "v1", false).remove(0);
    let b = w.seed_with(&prefix, 1, "v2", false).remove(0);
    assert_ne!(a.digest, b.digest);
    let k = w.key("k", "pw");
    w.sign(&k, &[&a.by_digest()]);
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
        &["signer", "add", "alice", &a.repo, "--key", "alice.pub"],
    )
    .success();
    trust(&w, n, &["sign", &a.by_tag()]).success();
    // The registry tag v1 is moved to the other (unsigned) image.
    let (_, b_manifest) = get_manifest(&b.path, "v2");
    put_manifest(&a.path, "v1", OCI_MANIFEST, &b_manifest);
    w.verify(&k, &[], &a.by_tag()).failure(&[]);

    // docker's per-host CA location, and the server from the environment.
    let host = n.url.clone().trim_start_matches("https://").to_string();
    let tls = w.dir().join(".no-docker-config/tls").join(&host);
    std::fs::create_dir_all(&tls).unwrap();
    std::fs::copy(&n.ca, tls.join("ca.crt")).unwrap();
    let url = n.url.clone();
    let dct = |args: &[&str]| {
        w.hm(args)
            .env("DOCKER_CONTENT_TRUST", "1")
            .env("DOCKER_CONTENT_TRUST_SERVER", &url)
            .run()
    };
    let out = dct(&["verify", "--key", k.public.to_str().unwrap(), &a.by_tag()]);
    out.success();
    assert!(
        out.stdout.contains(&a.digest) && !out.stdout.contains(&b.digest),
        "{out}"
    );
    let out = dct(&[
        "copy",
        &a.by_tag(),
        &format!("oci:{}:x", w.path("layout").display()),
    ]);
    out.success();
    assert!(out.stderr.contains(&a.digest), "{out}");
    let index = std::fs::read_to_string(w.path("layout/index.json")).unwrap();
    assert!(
        index.contains(&a.digest) && !index.contains(&b.digest),
        "{index}"
    );
    // A tag without trust data fails, whatever the registry says.
    dct(&[
        "verify",
        "--key",
        k.public.to_str().unwrap(),
        &format!("{}:v2", a.repo),
    ])
    .failure(&["No valid trust data for v2"]);
    // DOCKER_CONTENT_TRUST=0 is off: the registry tag is used again.
    w.hm(["verify", "--key", k.public.to_str().unwrap(), &a.by_tag()])
        .env("DOCKER_CONTENT_TRUST", "0")
        .run()
        .failure(&[]);
}

#[test]
fn migrate_writes_cosign_signatures_naming_the_dct_signers() {
    let Some(n) = notary() else { return };
    let w = World::new();
    let prefix = format!("{}/{}/img", registry(), unique("dct-migrate"));
    let a = w.seed_with(&prefix, 1, "v1", false).remove(0);
    let b = w.seed_with(&prefix, 1, "v2", false).remove(0);
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
        &["signer", "add", "alice", &a.repo, "--key", "alice.pub"],
    )
    .success();
    trust(&w, n, &["sign", &a.by_tag()]).success();
    trust(&w, n, &["sign", &b.by_tag()]).success();
    let k = w.key("k", "pw");
    w.verify(&k, &[], &a.by_tag()).failure(&[]);
    let out = w
        .hm([
            "trust",
            "migrate",
            &a.repo,
            "--key",
            k.private.to_str().unwrap(),
            "--server",
            &n.url,
            "--tls-ca",
            n.ca.to_str().unwrap(),
        ])
        .pw("pw")
        .run();
    out.success();
    assert!(out.stderr.contains("migrated 2 signed tag(s)"), "{out}");
    for (image, tag) in [(&a, "v1"), (&b, "v2")] {
        let out = w.verify(&k, &["-o", "json"], &image.by_digest());
        out.success();
        let v = out.json();
        let ann = &v[0]["signatures"][0]["annotations"];
        assert_eq!(ann["dev.hallmark.dct/signers"], "alice", "{v}");
        assert_eq!(ann["dev.hallmark.dct/tag"], tag, "{v}");
    }
}

#[test]
fn key_rotation_and_failures_change_nothing() {
    let Some(n) = notary() else { return };
    rotation_flow(n);
}

#[test]
fn key_rotation_and_failures_change_nothing_on_hallmark_trust_serve() {
    let Some(n) = hallmark_serve() else { return };
    rotation_flow(n);
}

fn rotation_flow(n: &Notary) {
    let w = World::new();
    let (repo, _) = seeded(&w, "trust-rotate");
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
        &["signer", "add", "alice", &repo, "--key", "alice.pub"],
    )
    .success();
    let before: Value = serde_json::from_str(&trust(&w, n, &["inspect", &repo]).stdout).unwrap();

    // Wrong repository passphrase: a clear error, nothing uploaded.
    let out = trust_env(
        &w,
        n,
        &["sign", &format!("{repo}:v1")],
        &[
            ("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", ROOT_PW),
            ("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "wrong"),
        ],
    );
    out.failure(&[
        "wrong passphrase",
        "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
    ]);
    // No passphrase at all (CI, no terminal): the variable is named.
    trust_env(&w, n, &["sign", &format!("{repo}:v1")], &[])
        .failure(&["DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"]);
    let after: Value = serde_json::from_str(&trust(&w, n, &["inspect", &repo]).stdout).unwrap();
    assert_eq!(before, after);

    // targets: a new repository key.
    trust(&w, n, &["key", "rotate", &repo, "targets"]).success();
    let v: Value = serde_json::from_str(&trust(&w, n, &["inspect", &repo]).stdout).unwrap();
    assert_ne!(
        v[0]["AdministrativeKeys"][1],
        before[0]["AdministrativeKeys"][1]
    );
    assert_eq!(
        v[0]["AdministrativeKeys"][0],
        before[0]["AdministrativeKeys"][0]
    );
    // snapshot: held by the server, new key.
    trust(
        &w,
        n,
        &["key", "rotate", &repo, "snapshot", "--server-managed"],
    )
    .success();
    trust(&w, n, &["key", "rotate", &repo, "timestamp"]).failure(&["--server-managed"]);
    // Still signable and resolvable after both rotations.
    trust(&w, n, &["sign", &format!("{repo}:v1")]).success();
    trust(&w, n, &["resolve", &format!("{repo}:v1")]).success();
    // Revoking every tag asks first (docker's question); --yes skips it.
    trust(&w, n, &["revoke", &repo]).failure(&["delete all signature data", "--yes"]);
    trust(&w, n, &["resolve", &format!("{repo}:v1")]).success();
    trust(&w, n, &["revoke", &repo, "--yes"]).success();
    let out = trust(&w, n, &["resolve", &format!("{repo}:v1")]);
    assert_eq!(out.stderr, "No valid trust data for v1\n", "{out}");
}

/// A plain-HTTP token server on 127.0.0.1 (the registry's auth server in docker's flow): with
/// basic credentials `tester:secret` it answers `{"token": JWT}` (ES256, `x5c` = the issuer
/// certificate) granting the requested scope; otherwise 401.
fn token_server(issuer_key: hallmark_tuf::PrivateKey, issuer_der: Vec<u8>) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let expected = format!("Basic {}", STANDARD.encode("tester:secret"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let text = String::from_utf8_lossy(&head).to_string();
            let target = text.split_whitespace().nth(1).unwrap_or("").to_string();
            let authorized = text.lines().any(|l| {
                l.to_ascii_lowercase().starts_with("authorization:") && l[14..].trim() == expected
            });
            let url = url::Url::parse(&format!("http://x{target}")).unwrap();
            let scope = url
                .query_pairs()
                .find(|(k, _)| k == "scope")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let response = if authorized {
                // repository:<name>:<actions>; the name may hold a port's colon.
                let (name, actions) = scope
                    .strip_prefix("repository:")
                    .and_then(|r| r.rsplit_once(':'))
                    .unwrap_or(("", ""));
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let claims = serde_json::json!({
                    "iss": "test-issuer", "aud": "hallmark-trust", "sub": "tester",
                    "exp": now + 300, "nbf": now - 10, "iat": now,
                    "access": [{"type": "repository", "name": name, "actions": actions.split(',').collect::<Vec<_>>()}],
                });
                let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "x5c": [STANDARD.encode(&issuer_der)]});
                let input = format!(
                    "{}.{}",
                    URL_SAFE_NO_PAD.encode(header.to_string()),
                    URL_SAFE_NO_PAD.encode(claims.to_string())
                );
                let sig = issuer_key.sign(input.as_bytes()).unwrap().sig;
                let body = serde_json::json!({"token": format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))}).to_string();
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    format!("http://{addr}/token")
}

fn pem_der(path: &Path) -> Vec<u8> {
    use base64::Engine as _;
    let text = std::fs::read_to_string(path).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

#[test]
fn token_auth_challenge_with_registry_credentials() {
    if !notary_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let (issuer_crt, issuer_key) = pki.issue_signing("issuer", "token-issuer");
    let key = hallmark_tuf::import::ecdsa_from_der(&pem_der(&issuer_key)).unwrap();
    let realm = token_server(key, pem_der(&issuer_crt));
    let ca = pki.ca_cert.display().to_string();
    let server = crate::trust_serve::TrustServe::start(
        &dir.path().join("data"),
        Some(&pki),
        &[
            "--auth",
            "token",
            "--auth-realm",
            &realm,
            "--auth-service",
            "hallmark-trust",
            "--auth-issuer",
            "test-issuer",
            "--auth-root-cert",
            &ca,
        ],
    );
    let n = Notary {
        _dir: tempfile::tempdir().unwrap(),
        _server: Box::new(()),
        url: server.url.clone(),
        ca: pki.ca_cert.clone(),
    };
    let w = World::new();
    let (repo, digest) = seeded(&w, "trust-token");
    trust(
        &w,
        &n,
        &[
            "key",
            "generate",
            "alice",
            "--dir",
            w.dir().to_str().unwrap(),
        ],
    )
    .success();
    let pw = [
        ("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", ROOT_PW),
        ("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", REPO_PW),
    ];
    // No credentials: the token server refuses, the error says what is missing; no trust data.
    trust(
        &w,
        &n,
        &["signer", "add", "alice", &repo, "--key", "alice.pub"],
    )
    .failure(&[
        "anonymous token request",
        "--registry-username",
        "HALLMARK_REGISTRY_USERNAME",
    ]);
    trust(&w, &n, &["inspect", &repo]).failure(&["no signatures or cannot access"]);
    // Wrong password: refused.
    let mut env = pw.to_vec();
    env.extend([
        ("HALLMARK_REGISTRY_USERNAME", "tester"),
        ("HALLMARK_REGISTRY_PASSWORD", "nope"),
    ]);
    trust_env(
        &w,
        &n,
        &["signer", "add", "alice", &repo, "--key", "alice.pub"],
        &env,
    )
    .failure(&["refused the registry credentials of user \"tester\""]);
    // The global --registry-username/--registry-password flags reach the token realm: wrong
    // ones are refused and nothing is written, right ones publish.
    let signer_add = |password: &str| {
        trust(
            &w,
            &n,
            &[
                "signer",
                "add",
                "alice",
                &repo,
                "--key",
                "alice.pub",
                "--registry-username",
                "tester",
                "--registry-password",
                password,
            ],
        )
    };
    signer_add("nope").failure(&[
        "refused the registry credentials of user \"tester\"",
        "--registry-username",
    ]);
    let inspect = [
        "inspect",
        &repo,
        "--registry-username",
        "tester",
        "--registry-password",
        "secret",
    ];
    trust(&w, &n, &inspect).failure(&["no signatures or cannot access"]);
    signer_add("secret").success();
    let v: Value = serde_json::from_str(&trust(&w, &n, &inspect).stdout).unwrap();
    assert_eq!(v[0]["Signers"][0]["Name"], "alice", "{v}");
    // docker's config.json credentials (as `docker login` writes them) work.
    use base64::Engine as _;
    let host = repo.split('/').next().unwrap();
    std::fs::create_dir_all(w.dir().join(".no-docker-config")).unwrap();
    std::fs::write(
        w.dir().join(".no-docker-config/config.json"),
        serde_json::json!({"auths": {host: {"auth": base64::engine::general_purpose::STANDARD.encode("tester:secret")}}}).to_string(),
    )
    .unwrap();
    trust(&w, &n, &["sign", &format!("{repo}:v1")]).success();
    let out = trust(&w, &n, &["resolve", &format!("{repo}:v1")]);
    out.success();
    assert_eq!(out.stdout, format!("{digest}\n"));
    // docker's credential helpers (`credHelpers`, as for registry pulls): a
    // `docker-credential-hmtoken` on PATH answers `get` for the registry host, and signer add
    // publishes with its credentials (config.json has no `auths` entry any more).
    use std::os::unix::fs::PermissionsExt as _;
    let bin = w.dir().join("helper-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let asked = w.dir().join("helper-asked");
    let helper = bin.join("docker-credential-hmtoken");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\nprintf '%s' \"$server\" > '{}'\n\
             [ -n \"$HM_HELPER_FAIL\" ] && {{ echo 'credentials not found in native keychain'; exit 1; }}\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"tester\",\"Secret\":\"secret\"}}' \"$server\"\n",
            asked.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        w.dir().join(".no-docker-config/config.json"),
        serde_json::json!({"credHelpers": {host: "hmtoken"}}).to_string(),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    trust(
        &w,
        &n,
        &["key", "generate", "bob", "--dir", w.dir().to_str().unwrap()],
    )
    .success();
    let mut env = pw.to_vec();
    env.extend([("PATH", path.as_str()), ("HM_HELPER_FAIL", "1")]);
    // A failing helper is an error naming it, as for pulls; nothing is published.
    trust_env(
        &w,
        &n,
        &["signer", "add", "bob", &repo, "--key", "bob.pub"],
        &env,
    )
    .failure(&["credential helper", "hmtoken"]);
    let v: Value = serde_json::from_str(&trust(&w, &n, &inspect).stdout).unwrap();
    assert_eq!(v[0]["Signers"].as_array().unwrap().len(), 1, "{v}");
    env.pop();
    trust_env(
        &w,
        &n,
        &["signer", "add", "bob", &repo, "--key", "bob.pub"],
        &env,
    )
    .success();
    assert_eq!(std::fs::read_to_string(&asked).unwrap(), host);
    let v: Value = serde_json::from_str(&trust(&w, &n, &inspect).stdout).unwrap();
    let mut names: Vec<&str> = v[0]["Signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["alice", "bob"], "{v}");
    drop(server);
}

#[test]
fn sign_initialises_a_new_repository_into_targets() {
    let Some(n) = notary() else { return };
    let w = World::new();
    let (repo, digest) = seeded(&w, "trust-sign-new");
    let out = trust(&w, n, &["sign", &format!("{repo}:v1")]);
    out.success();
    assert!(out.stdout.contains("into targets"), "{out}");
    let v: Value = serde_json::from_str(&trust(&w, n, &["inspect", &repo]).stdout).unwrap();
    assert_eq!(
        v[0]["SignedTags"][0]["Signers"],
        serde_json::json!(["Repo Admin"])
    );
    assert_eq!(
        v[0]["SignedTags"][0]["Digest"],
        digest.trim_start_matches("sha256:")
    );
    assert_eq!(v[0]["Signers"], serde_json::json!([]));
    // The new root and targets keys are in the trust directory, 0600, with docker's headers.
    let root = key_id_of_role(&w, "root");
    let targets = key_id_of_role(&w, "targets");
    for id in [&root, &targets] {
        assert_eq!(
            mode(&trust_dir(&w).join("private").join(format!("{id}.key"))),
            0o600
        );
    }
    let text =
        std::fs::read_to_string(trust_dir(&w).join("private").join(format!("{targets}.key")))
            .unwrap();
    // Headers sorted as Go's pem.Encode writes them (notary's own files).
    assert!(
        text.starts_with(&format!(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\ngun: {repo}\nrole: targets\n\n"
        )),
        "{text}"
    );
    // A tag the registry does not have: a clear error, nothing signed.
    trust(&w, n, &["sign", &format!("{repo}:nope")]).failure(&["nope"]);
    let v2: Value = serde_json::from_str(&trust(&w, n, &["inspect", &repo]).stdout).unwrap();
    assert_eq!(v, v2);
}

/// `--tls-ca` is tried first and the system roots only when it does not verify the server
/// (they are read lazily; `SSL_CERT_FILE` / `SSL_CERT_DIR` name them here): a server under the
/// system roots is trusted next to an unrelated `--tls-ca`, under neither it is refused.
#[test]
fn tls_ca_then_system_roots() {
    let Some(n) = notary() else { return };
    let w = World::new();
    let gun = format!("{}/{}/tls", registry(), unique("tls-roots"));
    let cli = NotaryCli::new(&w.path("notary-trust"), &n.url, &n.ca);
    std::fs::write(w.path("a.txt"), "a\n").unwrap();
    cli.run(["init", "-p", &gun]).assert_success();
    cli.run(["add", "-p", &gun, "a", w.path("a.txt").to_str().unwrap()])
        .assert_success();
    let other = Pki::new(&w.path("other-pki"));
    std::fs::create_dir_all(w.path("no-certs")).unwrap();
    let resolve = |system_roots: &Path| {
        w.hm([
            "trust",
            "resolve",
            &format!("{gun}:a"),
            "--server",
            &n.url,
            "--tls-ca",
            other.ca_cert.to_str().unwrap(),
        ])
        .env("SSL_CERT_FILE", system_roots.to_str().unwrap())
        .env("SSL_CERT_DIR", w.path("no-certs").to_str().unwrap())
        .run()
    };
    // (The other CA has the same name as the server's: the signature check refuses it.)
    resolve(&other.ca_cert).failure(&["invalid peer certificate"]);
    assert!(
        !trust_dir(&w).join("tuf").join(&gun).exists(),
        "nothing cached from the refused server"
    );
    let out = resolve(&n.ca);
    out.success();
    assert_eq!(
        out.stdout.trim(),
        crate::util::sha256(b"a\n"),
        "resolved through the system roots"
    );
}
