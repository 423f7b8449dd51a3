//! Against the real notary-server + notary-signer 0.7.0, with the real notary CLI on the
//! other side.

use hallmark_testutil::notary::{NotaryCli, NotaryServer, PASSPHRASE, Pki, notary_available};
use hallmark_trust_client::repo::{self, Draft};
use hallmark_trust_client::{Passphrases, Remote, Repository, RootTrust, TrustDir, TrustError};
use hallmark_tuf::{builder, inspect};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use zeroize::Zeroizing;

struct Shared {
    _dir: tempfile::TempDir,
    server: NotaryServer,
    ca: PathBuf,
}

fn shared() -> Option<&'static Shared> {
    static SHARED: OnceLock<Option<Shared>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            if !notary_available() {
                return None;
            }
            let dir = tempfile::tempdir().unwrap();
            let pki = Pki::new(&dir.path().join("pki"));
            let server = NotaryServer::start(&pki);
            Some(Shared {
                ca: pki.ca_cert.clone(),
                _dir: dir,
                server,
            })
        })
        .as_ref()
}

/// A fresh GUN per test.
fn gun(name: &str) -> String {
    format!("127.0.0.1:5000/hallmark-test/{name}")
}

pub(crate) struct Fixed(pub(crate) &'static str);

impl Passphrases for Fixed {
    fn passphrase(&self, _: &str, _: &str, _: bool) -> Result<Zeroizing<Vec<u8>>, TrustError> {
        Ok(Zeroizing::new(self.0.as_bytes().to_vec()))
    }
}

fn repository(s: &Shared, gun: &str, trust: &Path, root_trust: RootTrust) -> Repository {
    let ca = std::fs::read(&s.ca).unwrap();
    Repository {
        gun: gun.to_string(),
        remote: Remote::new(&s.server.url(), Some(&ca)).unwrap(),
        dir: TrustDir::new(trust),
        root_trust,
    }
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// The notary CLI publishes v1 in targets, then alice as a delegate in targets/releases and
/// targets/alice, then v2 through targets/releases.
fn notary_cli_repo(s: &Shared, dir: &Path, gun: &str) -> NotaryCli {
    let cli = NotaryCli::new(&dir.join("notary-trust"), &s.server.url(), &s.ca);
    std::fs::write(dir.join("v1.txt"), b"hello v1\n").unwrap();
    std::fs::write(dir.join("v2.txt"), b"hello v2 !\n").unwrap();
    cli.run(["init", "-p", gun]).assert_success();
    let v1 = dir.join("v1.txt");
    cli.run(["add", "-p", gun, "v1", v1.to_str().unwrap()])
        .assert_success();
    let alice = cli.make_delegation_key(dir, "alice");
    let alice = alice.to_str().unwrap();
    cli.run([
        "delegation",
        "add",
        gun,
        "targets/releases",
        alice,
        "--all-paths",
    ])
    .assert_success();
    cli.run([
        "delegation",
        "add",
        "-p",
        gun,
        "targets/alice",
        alice,
        "--all-paths",
    ])
    .assert_success();
    let v2 = dir.join("v2.txt");
    cli.run([
        "add",
        "-p",
        gun,
        "v2",
        v2.to_str().unwrap(),
        "--roles",
        "targets/releases",
    ])
    .assert_success();
    cli
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_and_caches_what_the_notary_cli_published() {
    let Some(s) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let gun = gun("cli-written");
    notary_cli_repo(s, dir.path(), &gun);
    let trust = dir.path().join("hallmark-trust");
    let repo = repository(s, &gun, &trust, RootTrust::TrustOnFirstUse);
    let data = repo.update(now()).await.unwrap().expect("trust data");
    let v1 = data.verified.resolve("v1").unwrap();
    assert_eq!(v1.role, "targets");
    assert_eq!(v1.sha256, sha256(b"hello v1\n"));
    assert_eq!(v1.length, 9);
    let v2 = data.verified.resolve("v2").unwrap();
    assert_eq!(v2.role, "targets/releases");
    assert_eq!(v2.sha256, sha256(b"hello v2 !\n"));
    assert!(data.verified.resolve("v3").is_none());
    // Cached exactly where notary keeps it, byte for byte what the server serves.
    let meta = trust.join("tuf").join(&gun).join("metadata");
    for f in [
        "root.json",
        "timestamp.json",
        "snapshot.json",
        "targets.json",
        "targets/releases.json",
    ] {
        assert!(meta.join(f).is_file(), "{f} not cached");
    }
    let served = repo
        .remote
        .get_role(&gun, "targets")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(std::fs::read(meta.join("targets.json")).unwrap(), served);

    let info = inspect::trust_info(&data.verified, &gun, None);
    let tags: Vec<(&str, &str, Vec<String>)> = info
        .signed_tags
        .iter()
        .map(|t| (t.signed_tag.as_str(), t.digest.as_str(), t.signers.clone()))
        .collect();
    assert_eq!(
        tags,
        vec![
            (
                "v1",
                hex::encode(sha256(b"hello v1\n")).as_str(),
                vec!["Repo Admin".to_string()]
            ),
            (
                "v2",
                hex::encode(sha256(b"hello v2 !\n")).as_str(),
                vec!["Repo Admin".to_string()]
            ),
        ]
    );
    assert_eq!(info.signers.len(), 1);
    assert_eq!(info.signers[0].name, "alice");
    let root_ids = &data.verified.root.signed.roles["root"].key_ids;
    assert_eq!(info.administrative_keys[0].name, "Root");
    assert_eq!(info.administrative_keys[0].keys[0].id, root_ids[0]);
    assert_eq!(info.administrative_keys[1].name, "Repository");

    // A second update verifies against the cache (no change, same answer).
    let again = repo.update(now()).await.unwrap().unwrap();
    assert_eq!(again.verified.resolve("v2"), Some(v2));
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_cache_is_refused_and_left_alone() {
    let Some(s) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let gun = gun("tampered-cache");
    notary_cli_repo(s, dir.path(), &gun);
    let trust = dir.path().join("hallmark-trust");
    let repo = repository(s, &gun, &trust, RootTrust::TrustOnFirstUse);
    repo.update(now()).await.unwrap().unwrap();
    let path = trust.join("tuf").join(&gun).join("metadata/targets.json");
    let original = std::fs::read_to_string(&path).unwrap();
    let tampered = original.replacen("\"v1\"", "\"v9\"", 1);
    assert_ne!(tampered, original);
    std::fs::write(&path, &tampered).unwrap();
    let err = repo.update(now()).await.unwrap_err();
    assert!(matches!(err, TrustError::CorruptCache { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("targets.json") && text.contains("damaged"),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), tampered);
}

#[tokio::test(flavor = "multi_thread")]
async fn recreated_repository_is_a_root_mismatch() {
    let Some(s) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let gun = gun("recreated");
    let cli = notary_cli_repo(s, dir.path(), &gun);
    let trust = dir.path().join("hallmark-trust");
    let repo = repository(s, &gun, &trust, RootTrust::TrustOnFirstUse);
    repo.update(now()).await.unwrap().unwrap();
    let before = TrustDir::new(&trust).cached(&gun).unwrap();
    // The repository is deleted and re-created with a new root key by someone else.
    cli.run(["delete", "--remote", &gun]).assert_success();
    let other = NotaryCli::new(&dir.path().join("other-trust"), &s.server.url(), &s.ca);
    other.run(["init", "-p", &gun]).assert_success();
    let err = repo.update(now()).await.unwrap_err();
    assert!(matches!(err, TrustError::RootMismatch { .. }), "{err}");
    assert!(err.to_string().contains("root of trust"), "{err}");
    assert_eq!(TrustDir::new(&trust).cached(&gun).unwrap(), before);

    // A pinned root key ID that the server's root does not list is refused on first use.
    let fresh = dir.path().join("fresh-trust");
    let pinned = repository(
        s,
        &gun,
        &fresh,
        RootTrust::PinnedKeyIds(vec!["0".repeat(64)]),
    );
    let err = pinned.update(now()).await.unwrap_err();
    assert!(matches!(err, TrustError::RootMismatch { .. }), "{err}");
    assert!(TrustDir::new(&fresh).cached(&gun).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn hallmark_publishes_and_the_notary_cli_reads_it() {
    let Some(s) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let gun = gun("hallmark-written");
    let trust = dir.path().join("trust");
    let repo = repository(s, &gun, &trust, RootTrust::TrustOnFirstUse);
    assert!(repo.update(now()).await.unwrap().is_none());
    let pass = Fixed(PASSPHRASE);

    // docker trust signer add on a new repository: initialise + targets/alice + releases.
    let alice = hallmark_tuf::PrivateKey::generate(hallmark_tuf::KeyType::Ecdsa).unwrap();
    repo.dir
        .write_key(&alice, "alice", None, PASSPHRASE.as_bytes())
        .unwrap();
    let mut draft = Draft::initialise(&repo, &pass, now()).await.unwrap();
    repo::add_signer(&mut draft, "alice", &[alice.public_key()]).unwrap();
    let uploaded = draft.publish(&repo, &pass, now()).await.unwrap();
    assert_eq!(uploaded, vec!["root", "targets"]);

    // docker trust sign: into every signable role (alice's key is local: both delegations).
    let data = repo.update(now()).await.unwrap().unwrap();
    let mut draft = Draft::from_trust_data(&gun, &data).unwrap();
    let roles = draft.signable_roles(&repo.dir, "v1").unwrap();
    assert_eq!(roles, vec!["targets/alice", "targets/releases"]);
    let digest = sha256(b"manifest bytes");
    for role in &roles {
        builder::set_target(
            draft.role_mut(role),
            "v1",
            builder::target_value(&digest, 14),
        )
        .unwrap();
    }
    draft.publish(&repo, &pass, now()).await.unwrap();
    let data = repo.update(now()).await.unwrap().unwrap();
    let v1 = data.verified.resolve("v1").unwrap();
    assert_eq!(
        (v1.role.as_str(), v1.sha256.clone(), v1.length),
        ("targets/releases", digest.clone(), 14)
    );
    let info = inspect::trust_info(&data.verified, &gun, Some("v1"));
    assert_eq!(info.signed_tags[0].signers, vec!["alice".to_string()]);

    // The notary CLI, with hallmark's trust directory, sees the same target and keys.
    let cli = NotaryCli::new(&trust, &s.server.url(), &s.ca);
    let list = cli.run(["list", &gun, "--roles", "targets/releases"]);
    list.assert_success();
    assert!(
        list.stdout.contains("v1") && list.stdout.contains(&hex::encode(&digest)),
        "{list}"
    );
    let keys = cli.run(["key", "list"]);
    keys.assert_success();
    assert!(keys.stdout.contains(&alice.key_id()), "{keys}");
    assert!(
        keys.stdout.contains("root") && keys.stdout.contains("targets"),
        "{keys}"
    );
    // ... and can publish with hallmark's targets key (it decrypts hallmark's key files).
    std::fs::write(dir.path().join("v2.txt"), b"v2").unwrap();
    cli.run([
        "add",
        "-p",
        &gun,
        "v2",
        dir.path().join("v2.txt").to_str().unwrap(),
        "--roles",
        "targets",
    ])
    .assert_success();
    let data = repo.update(now()).await.unwrap().unwrap();
    assert_eq!(data.verified.resolve("v2").unwrap().role, "targets");

    // Revoke v1 from the signable roles; remove alice.
    let mut draft = Draft::from_trust_data(&gun, &data).unwrap();
    for role in draft.signable_roles(&repo.dir, "v1").unwrap() {
        builder::remove_target(draft.role_mut(&role), "v1").unwrap();
    }
    draft.publish(&repo, &pass, now()).await.unwrap();
    let data = repo.update(now()).await.unwrap().unwrap();
    assert!(data.verified.resolve("v1").is_none());
    let mut draft = Draft::from_trust_data(&gun, &data).unwrap();
    repo::remove_signer(&mut draft, "alice").unwrap();
    draft.publish(&repo, &pass, now()).await.unwrap();
    let data = repo.update(now()).await.unwrap().unwrap();
    let info = inspect::trust_info(&data.verified, &gun, None);
    assert!(info.signers.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_passphrase_uploads_nothing() {
    let Some(s) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let gun = gun("wrong-passphrase");
    let trust = dir.path().join("trust");
    let repo = repository(s, &gun, &trust, RootTrust::TrustOnFirstUse);
    let pass = Fixed(PASSPHRASE);
    let draft = Draft::initialise(&repo, &pass, now()).await.unwrap();
    draft.publish(&repo, &pass, now()).await.unwrap();
    let data = repo.update(now()).await.unwrap().unwrap();
    let before = repo
        .remote
        .get_role(&gun, "targets")
        .await
        .unwrap()
        .unwrap();
    let mut draft = Draft::from_trust_data(&gun, &data).unwrap();
    builder::set_target(
        draft.role_mut("targets"),
        "v1",
        builder::target_value(&[1; 32], 1),
    )
    .unwrap();
    let err = draft
        .publish(&repo, &Fixed("not the passphrase"), now())
        .await
        .unwrap_err();
    let text = hallmark_core::error::chain(&err);
    assert!(text.contains("wrong passphrase"), "{text}");
    let after = repo
        .remote
        .get_role(&gun, "targets")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread")]
async fn key_rotation_targets_and_snapshot() {
    let Some(s) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let gun = gun("rotate");
    let trust = dir.path().join("trust");
    let repo = repository(s, &gun, &trust, RootTrust::TrustOnFirstUse);
    let pass = Fixed(PASSPHRASE);
    let mut draft = Draft::initialise(&repo, &pass, now()).await.unwrap();
    builder::set_target(
        draft.role_mut("targets"),
        "v1",
        builder::target_value(&[3; 32], 3),
    )
    .unwrap();
    draft.publish(&repo, &pass, now()).await.unwrap();
    let data = repo.update(now()).await.unwrap().unwrap();
    // Another client that trusted root version 1 (its cache copied now).
    let lagging_dir = dir.path().join("lagging-trust");
    TrustDir::new(&lagging_dir)
        .store_cache(&gun, &TrustDir::new(&trust).cached(&gun).unwrap())
        .unwrap();
    assert_eq!(data.verified.root.signed.version, 1);
    let old_targets = data.verified.root.signed.roles["targets"].key_ids.clone();
    let old_snapshot = data.verified.root.signed.roles["snapshot"].key_ids.clone();

    // targets: a new local key, root version 2, targets re-signed.
    let mut draft = Draft::from_trust_data(&gun, &data).unwrap();
    let key = hallmark_tuf::PrivateKey::generate(hallmark_tuf::KeyType::Ecdsa).unwrap();
    let public = key.public_key().clone();
    draft.add_new_key(key, "targets", Some(&gun));
    builder::set_root_role_keys(draft.root_mut(), "targets", &[&public]).unwrap();
    draft.role_mut("targets");
    draft.publish(&repo, &pass, now()).await.unwrap();
    let data = repo.update(now()).await.unwrap().unwrap();
    assert_eq!(data.verified.root.signed.version, 2);
    assert_ne!(
        data.verified.root.signed.roles["targets"].key_ids,
        old_targets
    );
    assert!(data.verified.resolve("v1").is_some());

    // snapshot, server-managed: the server makes a new key and re-signs.
    let mut draft = Draft::from_trust_data(&gun, &data).unwrap();
    let new = repo.remote.rotate_key(&gun, "snapshot").await.unwrap();
    builder::set_root_role_keys(draft.root_mut(), "snapshot", &[&new]).unwrap();
    draft.publish(&repo, &pass, now()).await.unwrap();
    let data = repo.update(now()).await.unwrap().unwrap();
    assert_eq!(data.verified.root.signed.version, 3);
    assert_ne!(
        data.verified.root.signed.roles["snapshot"].key_ids,
        old_snapshot
    );
    assert_eq!(
        data.verified.root.signed.roles["snapshot"].key_ids,
        vec![new.key_id()]
    );
    assert!(data.verified.resolve("v1").is_some());
    // The client that cached root version 1 walks 2.root.json and 3.root.json.
    let lagging = repository(s, &gun, &lagging_dir, RootTrust::CachedOnly);
    let walked = lagging.update(now()).await.unwrap().unwrap();
    assert_eq!(walked.verified.root.signed.version, 3);
    assert_eq!(walked.verified.root_bytes, data.verified.root_bytes);
    assert!(walked.verified.resolve("v1").is_some());
    // snapshot back to a client-held key: root version 4 and a snapshot signed here.
    let mut draft = Draft::from_trust_data(&gun, &data).unwrap();
    let key = hallmark_tuf::PrivateKey::generate(hallmark_tuf::KeyType::Ecdsa).unwrap();
    let local = key.public_key().clone();
    draft.add_new_key(key, "snapshot", Some(&gun));
    builder::set_root_role_keys(draft.root_mut(), "snapshot", &[&local]).unwrap();
    let uploaded = draft.publish(&repo, &pass, now()).await.unwrap();
    assert_eq!(uploaded, vec!["root", "snapshot"]);
    let data = repo.update(now()).await.unwrap().unwrap();
    assert_eq!(data.verified.root.signed.version, 4);
    assert_eq!(data.verified.snapshot.signatures[0].key_id, local.key_id());
    // ... and later publishes sign the snapshot locally too.
    let mut draft = Draft::from_trust_data(&gun, &data).unwrap();
    builder::set_target(
        draft.role_mut("targets"),
        "v2",
        builder::target_value(&[4; 32], 4),
    )
    .unwrap();
    let uploaded = draft.publish(&repo, &pass, now()).await.unwrap();
    assert_eq!(uploaded, vec!["targets", "snapshot"]);
    let data = repo.update(now()).await.unwrap().unwrap();
    assert!(data.verified.resolve("v2").is_some());

    // Cached-only trust without a cache refuses to start.
    let empty = repository(s, &gun, &dir.path().join("empty"), RootTrust::CachedOnly);
    let err = empty.update(now()).await.unwrap_err().to_string();
    assert!(err.contains("trust on first use is disabled"), "{err}");
}

/// A plain-HTTP server on 127.0.0.1 that replays fixed responses recorded from the real
/// notary-server (a compromised or stale mirror): `GET .../<role>[.<hash>].json` answers the
/// recorded bytes of that role, anything else 404.
fn replay_server(files: std::collections::BTreeMap<String, Vec<u8>>) -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
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
            let text = String::from_utf8_lossy(&head);
            let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
            let file = path.rsplit("/_trust/tuf/").next().unwrap_or("");
            let role = file
                .strip_suffix(".json")
                .map(|r| match r.rsplit_once('.') {
                    Some((name, hash)) if hash.len() == 64 => name,
                    _ => r,
                })
                .unwrap_or("");
            let response = match files.get(role) {
                Some(body) => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(body);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread")]
async fn rolled_back_timestamp_is_refused_and_cache_kept() {
    let Some(s) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let gun = gun("rollback");
    let trust = dir.path().join("trust");
    let repo = repository(s, &gun, &trust, RootTrust::TrustOnFirstUse);
    let pass = Fixed(PASSPHRASE);
    let draft = Draft::initialise(&repo, &pass, now()).await.unwrap();
    draft.publish(&repo, &pass, now()).await.unwrap();
    // Record the repository as it is now (old), then publish a newer version and trust it.
    let old = repo.update(now()).await.unwrap().unwrap().files;
    let data = repo.update(now()).await.unwrap().unwrap();
    let mut draft = Draft::from_trust_data(&gun, &data).unwrap();
    builder::set_target(
        draft.role_mut("targets"),
        "v1",
        builder::target_value(&[9; 32], 9),
    )
    .unwrap();
    draft.publish(&repo, &pass, now()).await.unwrap();
    let new = repo.update(now()).await.unwrap().unwrap();
    assert!(new.verified.timestamp.signed.version > data.verified.timestamp.signed.version);
    let cached = TrustDir::new(&trust).cached(&gun).unwrap();

    // A server replaying the old, validly signed metadata.
    let replay = Repository {
        gun: gun.clone(),
        remote: Remote::new(&replay_server(old), None).unwrap(),
        dir: TrustDir::new(&trust),
        root_trust: RootTrust::TrustOnFirstUse,
    };
    let err = replay.update(now()).await.unwrap_err();
    let text = hallmark_core::error::chain(&err);
    assert!(
        matches!(&err, TrustError::Verify { source, .. } if matches!(**source, hallmark_tuf::TufError::Rollback { .. })),
        "{text}"
    );
    assert!(text.contains("timestamp"), "{text}");
    assert_eq!(TrustDir::new(&trust).cached(&gun).unwrap(), cached);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_then_recreate_by_this_client() {
    let Some(s) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let gun = gun("delete");
    let trust = dir.path().join("trust");
    let repo = repository(s, &gun, &trust, RootTrust::TrustOnFirstUse);
    let pass = Fixed(PASSPHRASE);
    let mut draft = Draft::initialise(&repo, &pass, now()).await.unwrap();
    builder::set_target(
        draft.role_mut("targets"),
        "v1",
        builder::target_value(&[5; 32], 5),
    )
    .unwrap();
    draft.publish(&repo, &pass, now()).await.unwrap();
    let first = repo.update(now()).await.unwrap().unwrap();
    repo.remote.delete(&gun).await.unwrap();
    assert!(repo.remote.get_role(&gun, "root").await.unwrap().is_none());
    assert!(repo.update(now()).await.unwrap().is_none());
    // Re-created by this client (same root key from the trust directory, new certificate and
    // targets key): the new root it publishes becomes the trusted one.
    let draft = Draft::initialise(&repo, &pass, now()).await.unwrap();
    draft.publish(&repo, &pass, now()).await.unwrap();
    let second = repo.update(now()).await.unwrap().unwrap();
    assert!(second.verified.resolve("v1").is_none());
    assert_ne!(second.verified.root_bytes, first.verified.root_bytes);
}

#[tokio::test(flavor = "multi_thread")]
async fn stale_draft_is_refused_by_the_server() {
    let Some(s) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let gun = gun("stale");
    let trust = dir.path().join("trust");
    let repo = repository(s, &gun, &trust, RootTrust::TrustOnFirstUse);
    let pass = Fixed(PASSPHRASE);
    Draft::initialise(&repo, &pass, now())
        .await
        .unwrap()
        .publish(&repo, &pass, now())
        .await
        .unwrap();
    let data = repo.update(now()).await.unwrap().unwrap();
    // Two publishers start from the same version; the first wins.
    let mut a = Draft::from_trust_data(&gun, &data).unwrap();
    let mut b = Draft::from_trust_data(&gun, &data).unwrap();
    builder::set_target(
        a.role_mut("targets"),
        "a",
        builder::target_value(&[1; 32], 1),
    )
    .unwrap();
    builder::set_target(
        b.role_mut("targets"),
        "b",
        builder::target_value(&[2; 32], 2),
    )
    .unwrap();
    a.publish(&repo, &pass, now()).await.unwrap();
    let err = b.publish(&repo, &pass, now()).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, TrustError::Server { status: 400, .. }),
        "{text}"
    );
    assert!(
        text.contains("(VERSION)") || text.contains("(INVALID_UPDATE)"),
        "{text}"
    );
    let data = repo.update(now()).await.unwrap().unwrap();
    assert!(data.verified.resolve("a").is_some());
    assert!(data.verified.resolve("b").is_none());
}
