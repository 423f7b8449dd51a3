//! Offline parts: trust directory key files, root certificates, metadata builders.

use hallmark_trust_client::TrustDir;
use hallmark_tuf::builder::{self, SigningKey};
use hallmark_tuf::cert::{canonical_key_id, certificate_key, root_certificate};
use hallmark_tuf::{KeyType, PrivateKey, Root, Signed, Targets, verify_threshold};
use std::os::unix::fs::PermissionsExt as _;

#[test]
fn key_files_are_0600_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let trust = TrustDir::new(dir.path().join("trust"));
    let key = PrivateKey::generate(KeyType::Ecdsa).unwrap();
    let path = trust.write_key(&key, "alice", None, b"pw").unwrap();
    assert_eq!(
        path,
        dir.path()
            .join("trust/private")
            .join(format!("{}.key", key.key_id()))
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\nrole: alice\n\n"));
    let keys = trust.list_keys().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].role, "alice");
    let read = trust.read_key(&keys[0], b"pw").unwrap();
    assert_eq!(read.key.key_id(), key.key_id());
    let wrong = hallmark_core::error::chain(&trust.read_key(&keys[0], b"nope").unwrap_err());
    assert!(wrong.contains("wrong passphrase"), "{wrong}");
    // A second write of the same key is refused, the file is unchanged.
    assert!(trust.write_key(&key, "alice", None, b"pw").is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn root_certificate_is_notarys() {
    let key = PrivateKey::generate(KeyType::Ecdsa).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let pem = root_certificate(&key, "127.0.0.1:5000/demo/app", now).unwrap();
    let cert = certificate_key(&pem).unwrap();
    let info = cert.certificate().unwrap();
    assert_eq!(info.common_name.as_deref(), Some("127.0.0.1:5000/demo/app"));
    assert_eq!(info.not_after - info.not_before, 3650 * 86400);
    // The bare key ID names the private key file; the certificate's ID differs.
    assert_eq!(canonical_key_id(&cert).unwrap(), key.key_id());
    assert_ne!(cert.key_id(), key.key_id());
    // openssl reads it as notary writes it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.pem"), &pem).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(dir.path().join("c.pem"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Subject: CN = 127.0.0.1:5000/demo/app",
        "Issuer: CN = 127.0.0.1:5000/demo/app",
        "Digital Signature, Key Encipherment",
        "Code Signing",
        "CA:FALSE",
        "ecdsa-with-SHA256",
    ] {
        assert!(text.contains(needle), "{needle} missing in:\n{text}");
    }
    let verify = std::process::Command::new("openssl")
        .args(["verify", "-check_ss_sig", "-partial_chain", "-CAfile"])
        .arg(dir.path().join("c.pem"))
        .arg(dir.path().join("c.pem"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&verify.stdout).contains("OK"),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn built_root_and_targets_verify() {
    let now = time::OffsetDateTime::now_utc();
    let root_key = PrivateKey::generate(KeyType::Ecdsa).unwrap();
    let cert =
        certificate_key(&root_certificate(&root_key, "example.com/app", now).unwrap()).unwrap();
    let targets_key = PrivateKey::generate(KeyType::Ecdsa).unwrap();
    let other = PrivateKey::generate(KeyType::Ecdsa).unwrap();
    let mut root = builder::new_root(
        0,
        now,
        &[&cert],
        &[targets_key.public_key()],
        &[other.public_key()],
        &[other.public_key()],
    );
    builder::bump(&mut root, now + builder::ROOT_EXPIRY).unwrap();
    let cert_id = cert.key_id();
    let bytes = builder::sign(
        &root,
        &[SigningKey {
            key: &root_key,
            key_id: &cert_id,
        }],
    )
    .unwrap();
    let parsed: Signed<Root> = Signed::parse(&bytes, "root").unwrap();
    assert_eq!(parsed.signed.version, 1);
    let role = parsed.signed.role("root").unwrap();
    verify_threshold(&parsed, "root", &parsed.signed.keys, &role.key_ids, 1).unwrap();
    hallmark_tuf::check_root_certificates(&parsed, "example.com/app", now).unwrap();

    let alice = PrivateKey::generate(KeyType::Ecdsa).unwrap();
    let mut targets = builder::new_targets(0, now);
    builder::add_delegation(&mut targets, "targets/alice", &[alice.public_key()], &[""]).unwrap();
    builder::add_delegation(
        &mut targets,
        "targets/releases",
        &[alice.public_key()],
        &[""],
    )
    .unwrap();
    builder::set_target(&mut targets, "v1", builder::target_value(&[7u8; 32], 42)).unwrap();
    builder::bump(&mut targets, now + builder::TARGETS_EXPIRY).unwrap();
    let tid = targets_key.key_id();
    let bytes = builder::sign(
        &targets,
        &[SigningKey {
            key: &targets_key,
            key_id: &tid,
        }],
    )
    .unwrap();
    let parsed: Signed<Targets> = Signed::parse(&bytes, "targets").unwrap();
    assert_eq!(parsed.signed.delegations.roles.len(), 2);
    assert_eq!(parsed.signed.delegations.roles[1].name, "targets/releases");
    assert_eq!(
        parsed.signed.delegations.roles[1].paths,
        vec![String::new()]
    );
    assert_eq!(parsed.signed.targets["v1"].length, 42);
    // Removing alice empties releases' keys and drops her role and key.
    builder::remove_delegation_keys(&mut targets, "targets/releases", &[alice.key_id()]).unwrap();
    builder::remove_delegation(&mut targets, "targets/alice").unwrap();
    assert_eq!(targets["delegations"]["roles"].as_array().unwrap().len(), 1);
    assert!(
        targets["delegations"]["keys"]
            .as_object()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn go_time_drops_trailing_zeros() {
    let t = time::macros::datetime!(2029-11-21 06:14:02.500979 UTC);
    assert_eq!(builder::go_time(t), "2029-11-21T06:14:02.500979Z");
    let t = time::macros::datetime!(2029-11-21 06:14:02 UTC);
    assert_eq!(builder::go_time(t), "2029-11-21T06:14:02Z");
}

#[test]
fn docker_inspect_vectors() {
    use hallmark_tuf::{InvalidDelegations, Limits, RepoFiles, TrustedVersions, inspect};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/docker-28.2.2");
    let read = |p: &str| std::fs::read(dir.join(p)).unwrap();
    let (root, timestamp, snapshot, targets) = (
        read("metadata/root.json"),
        read("metadata/timestamp.json"),
        read("metadata/snapshot.json"),
        read("metadata/targets.json"),
    );
    let (releases, alice) = (
        read("metadata/targets/releases.json"),
        read("metadata/targets/alice.json"),
    );
    let ts: hallmark_tuf::Signed<hallmark_tuf::Timestamp> =
        hallmark_tuf::Signed::parse(&timestamp, "timestamp").unwrap();
    // While the recorded timestamp was fresh (it expires 14 days after signing).
    let now = ts.signed.expires.at - time::Duration::days(13);
    let files = RepoFiles {
        root_chain: vec![],
        timestamp: &timestamp,
        snapshot: &snapshot,
        targets: &targets,
        delegations: vec![("targets/releases", &releases), ("targets/alice", &alice)],
    };
    let repo = hallmark_tuf::verify_repo_with(
        &root,
        &files,
        &TrustedVersions::default(),
        now,
        &Limits::default(),
        InvalidDelegations::Reject,
    )
    .unwrap();
    hallmark_tuf::check_root_certificates(&repo.root, "127.0.0.1:5000/demo/app", now).unwrap();
    for (suffix, tag) in [("", None), ("-v1", Some("v1")), ("-v10", Some("v10"))] {
        let name = match tag {
            Some(t) => format!("127.0.0.1:5000/demo/app:{t}"),
            None => "127.0.0.1:5000/demo/app".to_string(),
        };
        let info = inspect::trust_info(&repo, &name, tag);
        let json = String::from_utf8(read(&format!("app{suffix}.json"))).unwrap();
        assert_eq!(
            inspect::render_json(std::slice::from_ref(&info)),
            json,
            "{name}"
        );
        let pretty = String::from_utf8(read(&format!("app{suffix}.pretty.txt"))).unwrap();
        assert_eq!(inspect::render_pretty(&info), pretty, "{name} --pretty");
    }
}

#[test]
fn unchanged_cache_is_not_rewritten() {
    use std::collections::BTreeMap;
    use std::os::unix::fs::MetadataExt as _;
    let dir = tempfile::tempdir().unwrap();
    let trust = TrustDir::new(dir.path());
    let gun = "example.com/demo/app";
    let mut files = BTreeMap::from([
        ("root".to_string(), b"{\"root\":1}".to_vec()),
        ("targets/releases".to_string(), b"{\"releases\":1}".to_vec()),
    ]);
    trust.store_cache(gun, &files).unwrap();
    let root = trust.metadata_dir(gun).join("root.json");
    let inode = std::fs::metadata(&root).unwrap().ino();
    // The same files: nothing is replaced (a rewrite swaps in new files, new inodes).
    trust.store_cache(gun, &files).unwrap();
    assert_eq!(std::fs::metadata(&root).unwrap().ino(), inode);
    assert_eq!(trust.cached(gun).unwrap(), files);
    // One role less: the cache is replaced and the role is gone.
    files.remove("targets/releases");
    trust.store_cache(gun, &files).unwrap();
    assert_ne!(std::fs::metadata(&root).unwrap().ino(), inode);
    assert_eq!(trust.cached(gun).unwrap(), files);
}
