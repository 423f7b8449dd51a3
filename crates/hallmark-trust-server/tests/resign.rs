//! The background re-signing of server-signed metadata: with the server idle (no reads of
//! current metadata), a timestamp in the last part of its (shortened) lifetime is replaced
//! before it expires, a server-held snapshot likewise (and the timestamp then points at it),
//! and a client-held snapshot is never touched. State is observed through the changefeed and
//! version-addressed reads, which never re-sign on read.

use crate::util::{Repo, TestServer, client, start_with};
use hallmark_trust_server::Config;
use hallmark_tuf::builder::new_snapshot;
use hallmark_tuf::server::Lifetimes;
use hallmark_tuf::{Root, Signed, Snapshot, Timestamp, sign_metadata};
use serde_json::Value;
use std::time::Duration;
use time::OffsetDateTime;

/// A server whose background task looks every 100 ms, with `lifetimes`, and whose on-read
/// re-signing only fires for an already expired timestamp (so it cannot be what re-signs).
async fn start_resigning(lifetimes: Lifetimes) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::new(dir.path());
    config.lifetimes = lifetimes;
    config.resign_interval = Duration::from_millis(100);
    config.timestamp_refresh = time::Duration::ZERO;
    let server = start_with(config).await;
    TestServer {
        url: format!("http://{}", server.addr()),
        server: Some(server),
        dir,
        client: client(),
    }
}

/// Waits (at most 60 s) until the GUN's changefeed has a timestamp record for which `done`
/// (given the timestamp file of that version) holds; returns that file.
async fn wait_for_timestamp(
    s: &TestServer,
    gun: &str,
    done: impl Fn(&Signed<Timestamp>) -> bool,
) -> (Vec<u8>, Signed<Timestamp>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let feed = s
            .get(&format!("/v2/{gun}/_trust/changefeed?records=-100"))
            .await
            .json();
        let latest = feed["records"]
            .as_array()
            .and_then(|r| r.last())
            .and_then(|r| r["Version"].as_u64())
            .expect("a changefeed record");
        let r = s.get_file(gun, &format!("{latest}.timestamp.json")).await;
        if r.status == 200 {
            let ts = Signed::<Timestamp>::parse(&r.body, "timestamp").expect("timestamp");
            if done(&ts) {
                return (r.body, ts);
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no re-signed timestamp within 60 s; changefeed: {feed}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks that the timestamp lists exactly `snapshot` (length and hashes).
#[track_caller]
fn lists(ts: &Signed<Timestamp>, snapshot: &[u8]) {
    hallmark_tuf::check_file_meta(
        "snapshot",
        "timestamp",
        ts.signed.meta.get("snapshot"),
        snapshot,
    )
    .unwrap_or_else(|e| panic!("the timestamp lists the snapshot: {e}"));
}

/// `signed.meta` of a file, as stored.
fn meta_of(bytes: &[u8]) -> Value {
    serde_json::from_slice::<Value>(bytes).expect("json")["signed"]["meta"].clone()
}

fn root_of(bytes: &[u8]) -> Signed<Root> {
    Signed::parse(bytes, "root").expect("root")
}

/// Verifies `signed` with the root's keys and threshold for `role`.
fn verify_role<T>(root: &Signed<Root>, signed: &Signed<T>, role: &str) {
    let keys = root.signed.role(role).expect("role in root");
    hallmark_tuf::verify_threshold(
        signed,
        role,
        &root.signed.keys,
        &keys.key_ids,
        keys.threshold,
    )
    .unwrap_or_else(|e| panic!("{role} verifies with the root's {role} key: {e}"));
}

#[tokio::test]
async fn idle_server_re_signs_the_timestamp_before_it_expires() {
    let lifetime = time::Duration::seconds(30);
    let s = start_resigning(Lifetimes {
        timestamp: lifetime,
        timestamp_resign_within: time::Duration::seconds(25),
        ..Lifetimes::default()
    })
    .await;
    let gun = "example.com/resign/timestamp";
    let repo = Repo::new(&s, gun, true).await;
    let (root, _) = repo.init(&s, &[("a", b"a")]).await;
    let first = s.get_file(gun, "1.timestamp.json").await;
    first.assert_ok();
    let first = Signed::<Timestamp>::parse(&first.body, "timestamp").expect("timestamp");
    let first_snapshot = s.get_file(gun, "1.snapshot.json").await;
    first_snapshot.assert_ok();

    let (_, next) = wait_for_timestamp(&s, gun, |t| t.signed.version > 1).await;
    assert_eq!(next.signed.version, 2, "one re-signing: version + 1");
    let signed_at = next.signed.expires.at - lifetime;
    assert!(
        signed_at < first.signed.expires.at,
        "re-signed at {signed_at}, before version 1 expired at {}",
        first.signed.expires.at
    );
    let root = root_of(&root);
    verify_role(&root, &next, "timestamp");
    assert_eq!(
        root.signed
            .role("timestamp")
            .expect("timestamp role")
            .key_ids,
        vec![repo.timestamp.key_id()],
        "the root lists the server's timestamp key"
    );
    // Same snapshot: the timestamp alone was due.
    let snapshot = s.get_file(gun, "snapshot.json").await;
    assert_eq!(snapshot.body, first_snapshot.body, "snapshot untouched");
    lists(&next, &snapshot.body);
    // One changefeed record per timestamp, as for an update.
    let feed = s
        .get(&format!("/v2/{gun}/_trust/changefeed?records=100"))
        .await
        .json();
    let versions: Vec<u64> = feed["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["Version"].as_u64())
        .collect();
    assert_eq!(&versions[..2], &[1, 2], "{feed}");
    crate::util::verify_served(&s, gun, &[]).await;
}

#[tokio::test]
async fn server_held_snapshot_is_re_signed_before_it_expires() {
    let lifetime = time::Duration::seconds(30);
    let s = start_resigning(Lifetimes {
        snapshot: lifetime,
        snapshot_resign_within: time::Duration::seconds(25),
        ..Lifetimes::default()
    })
    .await;
    let gun = "example.com/resign/snapshot";
    let repo = Repo::new(&s, gun, true).await;
    let (root, _) = repo.init(&s, &[("a", b"a")]).await;
    let first = s.get_file(gun, "1.snapshot.json").await;
    first.assert_ok();
    let first_bytes = first.body.clone();
    let first = Signed::<Snapshot>::parse(&first.body, "snapshot").expect("snapshot");

    // The timestamp (14 days) is not due itself: a new one means the snapshot was re-signed.
    let (_, ts) = wait_for_timestamp(&s, gun, |t| t.signed.version > 1).await;
    let r = s.get_file(gun, "2.snapshot.json").await;
    r.assert_ok();
    let snapshot = Signed::<Snapshot>::parse(&r.body, "snapshot").expect("snapshot");
    assert_eq!(snapshot.signed.version, 2);
    let signed_at = snapshot.signed.expires.at - lifetime;
    assert!(
        signed_at < first.signed.expires.at,
        "re-signed at {signed_at}, before version 1 expired at {}",
        first.signed.expires.at
    );
    assert_eq!(
        meta_of(&r.body),
        meta_of(&first_bytes),
        "the same root and targets listed"
    );
    let root = root_of(&root);
    verify_role(&root, &snapshot, "snapshot");
    assert_eq!(
        root.signed.role("snapshot").expect("snapshot role").key_ids,
        vec![repo.server_snapshot.as_ref().expect("server key").key_id()]
    );
    verify_role(&root, &ts, "timestamp");
    // The timestamp of the same transaction lists the new snapshot's hashes.
    let ts2 = s.get_file(gun, "2.timestamp.json").await;
    ts2.assert_ok();
    let ts2 = Signed::<Timestamp>::parse(&ts2.body, "timestamp").expect("timestamp");
    lists(&ts2, &r.body);
    crate::util::verify_served(&s, gun, &[]).await;
}

#[tokio::test]
async fn client_held_snapshot_is_never_re_signed_and_is_served_expired() {
    let s = start_resigning(Lifetimes {
        timestamp: time::Duration::seconds(6),
        timestamp_resign_within: time::Duration::seconds(5),
        // Every snapshot is "due": the server must still leave a client's alone.
        snapshot: time::Duration::days(1),
        snapshot_resign_within: time::Duration::days(1) - time::Duration::SECOND,
    })
    .await;
    let gun = "example.com/resign/client-snapshot";
    let repo = Repo::new(&s, gun, false).await;
    let root = repo.root(1);
    let targets = repo.targets(1, &[("a", b"a")]);
    let expires = OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let snapshot = sign_metadata(
        &new_snapshot(1, expires, [("root", &root[..]), ("targets", &targets[..])]),
        &[repo.snapshot.as_ref().expect("client snapshot key")],
    )
    .expect("sign snapshot");
    s.upload(
        gun,
        &[
            ("root", &root),
            ("targets", &targets),
            ("snapshot", &snapshot),
        ],
    )
    .await
    .assert_ok();

    // A timestamp signed after the snapshot expired: the task has looked at this GUN since.
    let (ts_bytes, ts) = wait_for_timestamp(&s, gun, |t| {
        t.signed.expires.at - time::Duration::seconds(6) > expires
    })
    .await;
    verify_role(&root_of(&root), &ts, "timestamp");
    assert_eq!(
        s.get_file(gun, "2.snapshot.json").await.status,
        404,
        "no snapshot version 2"
    );
    let served = s.get_file(gun, "snapshot.json").await;
    assert_eq!(
        served.body, snapshot,
        "the expired client snapshot is served"
    );
    lists(&ts, &snapshot);
    // A client detects the freeze: the snapshot is expired.
    let files = hallmark_tuf::RepoFiles {
        root_chain: Vec::new(),
        timestamp: &ts_bytes,
        snapshot: &served.body,
        targets: &targets,
        delegations: Vec::new(),
    };
    let err = hallmark_tuf::verify_repo(
        &root,
        &files,
        &hallmark_tuf::TrustedVersions::default(),
        OffsetDateTime::now_utc(),
        &hallmark_tuf::Limits::default(),
    )
    .expect_err("an expired snapshot is refused");
    assert!(
        matches!(&err, hallmark_tuf::TufError::Expired { role, .. } if role == "snapshot"),
        "{err}"
    );
}

#[tokio::test]
async fn every_gun_is_reached_one_gun_per_tick() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::new(dir.path());
    config.lifetimes = Lifetimes {
        timestamp: time::Duration::seconds(30),
        timestamp_resign_within: time::Duration::seconds(25),
        ..Lifetimes::default()
    };
    config.resign_interval = Duration::from_millis(100);
    config.resign_batch = 1;
    config.timestamp_refresh = time::Duration::ZERO;
    let server = start_with(config).await;
    let s = TestServer {
        url: format!("http://{}", server.addr()),
        server: Some(server),
        dir,
        client: client(),
    };
    let guns = [
        "example.com/batch/a",
        "example.com/batch/b",
        "example.com/batch/c",
    ];
    for gun in guns {
        Repo::new(&s, gun, true)
            .await
            .init(&s, &[("a", b"a")])
            .await;
    }
    for gun in guns {
        let (_, ts) = wait_for_timestamp(&s, gun, |t| t.signed.version > 1).await;
        assert_eq!(ts.signed.version, 2, "{gun}");
        crate::util::verify_served(&s, gun, &[]).await;
    }
}

#[tokio::test]
async fn client_updates_racing_the_re_signing_are_all_kept() {
    // Timestamp and snapshot are due again as soon as they are signed: the task re-signs the
    // GUN on every tick while the client publishes.
    let s = start_resigning(Lifetimes {
        timestamp: time::Duration::seconds(60),
        timestamp_resign_within: time::Duration::seconds(59),
        snapshot: time::Duration::seconds(60),
        snapshot_resign_within: time::Duration::seconds(59),
    })
    .await;
    let gun = "example.com/resign/race";
    let repo = Repo::new(&s, gun, true).await;
    let (root, _) = repo.init(&s, &[("v1", b"1")]).await;
    let mut last_targets = Vec::new();
    for v in 2..=15u64 {
        let name = format!("v{v}");
        let t = repo.targets(v, &[(name.as_str(), name.as_bytes())]);
        s.upload(gun, &[("targets", &t)]).await.assert_ok();
        last_targets = t;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // The re-signing has run in between (a timestamp beyond the 15 updates' ones).
    wait_for_timestamp(&s, gun, |t| t.signed.version > 16).await;
    let served = s.get_file(gun, "targets.json").await;
    assert_eq!(
        served.body, last_targets,
        "the last client update is current"
    );
    crate::util::verify_served(&s, gun, &[]).await;
    // The timestamp chain has no gaps or duplicates: each re-signing or update took one version.
    let feed = s
        .get(&format!("/v2/{gun}/_trust/changefeed?records=1000"))
        .await
        .json();
    let versions: Vec<u64> = feed["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["Version"].as_u64())
        .collect();
    let expected: Vec<u64> = (1..=versions.len() as u64).collect();
    assert_eq!(versions, expected, "{feed}");
    verify_role(
        &root_of(&root),
        &Signed::<Timestamp>::parse(&s.get_file(gun, "timestamp.json").await.body, "timestamp")
            .expect("timestamp"),
        "timestamp",
    );
}
