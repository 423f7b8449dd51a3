//! The Notary v1 API in-process over SQLite: endpoints, validation errors (with Notary's codes,
//! and nothing stored), rotation, races, restart.

use crate::util::*;
use hallmark_tuf::{PrivateKey, TufKey};
use serde_json::{Value, json};

#[tokio::test]
async fn base_health_metrics_and_not_found() {
    let s = start().await;
    let r = s.get("/v2/").await;
    r.assert_ok();
    assert_eq!(r.body, b"{}");
    let h = s.get("/_notary_server/health").await;
    h.assert_ok();
    assert_eq!(h.body, b"{}");
    s.get("/nothing/here")
        .await
        .assert_error(404, "METADATA_NOT_FOUND");
    s.get_file("example.com/none", "root.json")
        .await
        .assert_error(404, "METADATA_NOT_FOUND");
    s.get_file("example.com/none", "targets.key")
        .await
        .assert_error(404, "METADATA_NOT_FOUND");
    // Byte for byte what notary-server 0.7.0 answers (checked against it).
    let not_found = b"{\"errors\":[{\"code\":\"METADATA_NOT_FOUND\",\"message\":\"You have requested metadata that does not exist.\"}]}";
    assert_eq!(s.get("/nothing").await.body, not_found);
    assert_eq!(s.get_file("g", "targets.key").await.body, not_found);
    let missing = b"{\"errors\":[{\"code\":\"METADATA_NOT_FOUND\",\"message\":\"You have requested metadata that does not exist.\",\"detail\":{}}]}";
    assert_eq!(s.get_file("g", "root.json").await.body, missing);
    assert_eq!(s.get_file("g", "1.root.json").await.body, missing);
    let r = s.get("/v2/g/_trust/changefeed").await;
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        r#"{"errors":[{"code":"INVALID_PARAMETERS","message":"The parameters provided are not valid.","detail":"invalid records parameter: strconv.ParseInt: parsing \"\": invalid syntax"}]}"#
    );
    assert_eq!(r.headers["content-type"], "application/json; charset=utf-8");
    let r = s.get("/v2/g/_trust/changefeed?records=1&change_id=x").await;
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        r#"{"errors":[{"code":"INVALID_PARAMETERS","message":"The parameters provided are not valid.","detail":{}}]}"#
    );
    let r = s.upload("g", &[("targets", br#"{"signed":{"_type":"Targets","version":1,"expires":"2099-01-01T00:00:00Z","targets":{}},"signatures":[]}"#)]).await;
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        r#"{"errors":[{"code":"INVALID_UPDATE","message":"Update sent by the client is invalid.","detail":{"Name":"ErrValidation","Error":{"Msg":"no pre-existing root and no root provided in update."}}}]}"#
    );
    let r = send(
        s.client
            .post(s.tuf("g", ""))
            .header("content-type", "application/json")
            .body("{}"),
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        r#"{"errors":[{"code":"MALFORMED_UPLOAD","message":"The body of your request is malformed."}]}"#
    );
    let d = send(s.client.delete(s.tuf("g", ""))).await;
    d.assert_ok();
    assert!(d.body.is_empty());
    let m = s.get("/metrics").await;
    m.assert_ok();
    let text = String::from_utf8(m.body).expect("utf-8");
    assert!(
        text.contains("# TYPE hallmark_trust_http_requests_total counter"),
        "{text}"
    );
    assert!(
        text.contains("hallmark_trust_updates_accepted_total 0"),
        "{text}"
    );
}

#[tokio::test]
async fn publish_read_back_by_role_hash_and_version() {
    let s = start().await;
    let gun = "example.com/app";
    let k1 = s.server_key(gun, "timestamp").await;
    let k2 = s.server_key(gun, "timestamp").await;
    assert_eq!(k1, k2, "GET timestamp.key is get-or-create");
    let repo = Repo::new(&s, gun, false).await;
    let (root, targets) = repo.init(&s, &[("v1", b"one")]).await;

    let r = s.get_file(gun, "root.json").await;
    r.assert_ok();
    assert_eq!(r.body, root, "uploaded bytes are served verbatim");
    assert_eq!(
        r.headers["cache-control"],
        "public, max-age=300, s-maxage=300, must-revalidate"
    );
    let lm = r.headers["last-modified"].to_str().expect("ascii");
    assert!(lm.ends_with(" UTC") && lm.len() == 29, "{lm}");
    assert_eq!(s.get_file(gun, "targets.json").await.body, targets);

    let v1 = s.get_file(gun, "1.root.json").await;
    v1.assert_ok();
    assert_eq!(v1.body, root);
    assert_eq!(
        v1.headers["cache-control"],
        "public, max-age=2592000, s-maxage=2592000"
    );
    s.get_file(gun, "2.root.json")
        .await
        .assert_error(404, "METADATA_NOT_FOUND");

    let verified = verify_served(&s, gun, &[]).await;
    assert_eq!(verified.resolve("v1").expect("v1").length, 3);

    // By hash: sha256, sha512, as the notary client asks.
    let ts: Value = s.get_file(gun, "timestamp.json").await.json();
    let snap_sha = hex::encode(base64_decode(
        ts["signed"]["meta"]["snapshot"]["hashes"]["sha256"]
            .as_str()
            .expect("sha256"),
    ));
    let by_hash = s.get_file(gun, &format!("snapshot.{snap_sha}.json")).await;
    by_hash.assert_ok();
    assert_eq!(by_hash.body, s.get_file(gun, "snapshot.json").await.body);
    assert_eq!(
        by_hash.headers["cache-control"],
        "public, max-age=2592000, s-maxage=2592000"
    );
    let t512 = hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA512,
        &targets,
    ));
    assert_eq!(
        s.get_file(gun, &format!("targets.{t512}.json")).await.body,
        targets
    );
    s.get_file(gun, &format!("targets.{}.json", "0".repeat(64)))
        .await
        .assert_error(404, "METADATA_NOT_FOUND");
    assert_eq!(ts["signed"]["_type"], "Timestamp");
    assert_eq!(ts["signed"]["version"], 1);

    // A second publish: targets v2 + snapshot v2.
    let t2 = repo.targets(2, &[("v1", b"one"), ("v2", b"two")]);
    let s2 = repo.snapshot(2, &[("root", &root), ("targets", &t2)]);
    s.upload(gun, &[("targets", &t2), ("snapshot", &s2)])
        .await
        .assert_ok();
    let verified = verify_served(&s, gun, &[]).await;
    assert!(verified.resolve("v2").is_some());
    assert_eq!(s.get_file(gun, "1.targets.json").await.body, targets);

    // Changefeed: one record per timestamp.
    let feed = s
        .get(&format!("/v2/{gun}/_trust/changefeed?records=10"))
        .await;
    feed.assert_ok();
    let feed = feed.json();
    assert_eq!(feed["count"], 2);
    assert_eq!(feed["records"][1]["Version"], 2);
    assert_eq!(feed["records"][1]["GUN"], gun);
    assert_eq!(feed["records"][1]["Category"], "update");
    let ts_now = s.get_file(gun, "timestamp.json").await.body;
    assert_eq!(
        feed["records"][1]["SHA256"],
        hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            &ts_now
        ))
    );
    let last = s
        .get(&format!("/v2/{gun}/_trust/changefeed?records=-1"))
        .await
        .json();
    assert_eq!(last["count"], 1);
    assert_eq!(last["records"][0]["ID"], feed["records"][1]["ID"]);
    let after = s
        .get(&format!(
            "/v2/_trust/changefeed?change_id={}&records=10",
            feed["records"][0]["ID"].as_str().expect("id")
        ))
        .await
        .json();
    assert_eq!(after["count"], 1);
    s.get(&format!("/v2/{gun}/_trust/changefeed"))
        .await
        .assert_error(400, "INVALID_PARAMETERS");
    s.get(&format!(
        "/v2/{gun}/_trust/changefeed?records=1&change_id=x"
    ))
    .await
    .assert_error(400, "INVALID_PARAMETERS");

    let m = String::from_utf8(s.get("/metrics").await.body).expect("utf-8");
    assert!(m.contains("hallmark_trust_updates_accepted_total 2"), "{m}");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

#[tokio::test]
async fn server_generates_the_snapshot_when_it_holds_the_key() {
    let s = start().await;
    let gun = "example.com/server-snapshot";
    let repo = Repo::new(&s, gun, true).await;
    repo.init(&s, &[("latest", b"manifest")]).await;
    let snap: Value = s.get_file(gun, "snapshot.json").await.json();
    assert_eq!(snap["signed"]["version"], 1);
    assert_eq!(snap["signed"]["_type"], "Snapshot");
    let expires = snap["signed"]["expires"].as_str().expect("expires");
    assert!(expires.ends_with('Z'), "{expires}");
    verify_served(&s, gun, &[]).await;
    // Targets only: the server makes snapshot v2.
    let t2 = repo.targets(2, &[("latest", b"manifest2")]);
    s.upload(gun, &[("targets", &t2)]).await.assert_ok();
    let v = verify_served(&s, gun, &[]).await;
    assert_eq!(v.resolve("latest").expect("latest").length, 9);
    assert_eq!(
        s.get_file(gun, "snapshot.json").await.json()["signed"]["version"],
        2
    );
}

/// Uploads `parts` expecting `status`/`code`, and checks nothing a client can read changed.
async fn refused(
    s: &TestServer,
    gun: &str,
    parts: &[(&str, &[u8])],
    status: u16,
    code: &str,
) -> Value {
    let before = s.snapshot_state(gun).await;
    let r = s.upload(gun, parts).await;
    r.assert_error(status, code);
    assert_eq!(
        s.snapshot_state(gun).await,
        before,
        "a refused update changed what is served"
    );
    r.json()
}

#[tokio::test]
async fn malformed_uploads_get_notarys_codes_and_store_nothing() {
    let s = start().await;
    let gun = "example.com/bad";
    let repo = Repo::new(&s, gun, false).await;
    let (root, _) = repo.init(&s, &[("a", b"a")]).await;
    refused(&s, gun, &[("targets", b"not json")], 400, "MALFORMED_JSON").await;
    refused(
        &s,
        gun,
        &[("targets", b"{\"signed\":{\"version\":\"x\"}}")],
        400,
        "MALFORMED_JSON",
    )
    .await;
    let e = refused(&s, gun, &[("nope", &root)], 400, "INVALID_ROLE").await;
    assert_eq!(e["errors"][0]["detail"], "nope");
    refused(&s, gun, &[(".json", &root)], 400, "NO_FILENAME").await;

    let before = s.snapshot_state(gun).await;
    let r = send(
        s.client
            .post(s.tuf(gun, ""))
            .header("content-type", "application/json")
            .body(root.clone()),
    )
    .await;
    r.assert_error(400, "MALFORMED_UPLOAD");
    let r = send(
        s.client
            .post(s.tuf(gun, ""))
            .header("content-type", "multipart/form-data; boundary=zz")
            .body("--zz\r\nContent-Disposition: form-data; name=\"files\"\r\n\r\n{}\r\n--zz--\r\n"),
    )
    .await;
    r.assert_error(400, "NO_FILENAME");
    // Over 100 MiB.
    let (ct, mut body) = multipart(&[("targets", b"{}")]);
    body.resize((100 << 20) + 10, b' ');
    let r = send(
        s.client
            .post(s.tuf(gun, ""))
            .header("content-type", ct)
            .body(body),
    )
    .await;
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.code(), "SIZE_INVALID");
    assert_eq!(s.snapshot_state(gun).await, before);
}

#[tokio::test]
async fn invalid_updates_are_refused_with_invalid_update_or_version() {
    let s = start().await;
    let gun = "example.com/invalid";
    let repo = Repo::new(&s, gun, false).await;

    // No root yet.
    let t = repo.targets(1, &[]);
    let e = refused(&s, gun, &[("targets", &t)], 400, "INVALID_UPDATE").await;
    assert_eq!(e["errors"][0]["detail"]["Name"], "ErrValidation");

    // Root whose certificate CN is not the GUN.
    let other = root_key("example.com/other");
    let bad_root = sign_root(
        &serde_json::from_slice::<Value>(&repo.root_with(1, &other.1, &repo.timestamp, &[]))
            .expect("json")["signed"],
        &[&other.0],
        &[&other],
    );
    let s1 = repo.snapshot(1, &[("root", &bad_root), ("targets", &t)]);
    let e = refused(
        &s,
        gun,
        &[("root", &bad_root), ("targets", &t), ("snapshot", &s1)],
        400,
        "INVALID_UPDATE",
    )
    .await;
    assert_eq!(e["errors"][0]["detail"]["Name"], "ErrBadRoot");

    // Timestamp key the server does not hold (a timestamp "signed by the wrong key").
    let foreign = new_key();
    let r = repo.root_with(1, &repo.root.1, foreign.public_key(), &[&repo.root.0]);
    let s1 = repo.snapshot(1, &[("root", &r), ("targets", &t)]);
    let e = refused(
        &s,
        gun,
        &[("root", &r), ("targets", &t), ("snapshot", &s1)],
        400,
        "INVALID_UPDATE",
    )
    .await;
    assert_eq!(e["errors"][0]["detail"]["Name"], "ErrBadRoot");
    assert!(
        e["errors"][0]["detail"]["Error"]["Msg"]
            .as_str()
            .expect("msg")
            .contains("timestamp"),
        "{e}"
    );

    let (root, t1) = repo.init(&s, &[("a", b"a")]).await;

    // A client-made timestamp, even one signed by the server's own key role: refused.
    let ts = hallmark_tuf::sign_metadata(
        &json!({"_type": "Timestamp", "expires": FUTURE, "meta": {}, "version": 9}),
        &[&foreign],
    )
    .expect("sign");
    refused(&s, gun, &[("timestamp", &ts)], 400, "INVALID_UPDATE").await;

    // Targets signed by a key the root does not list.
    let wrong = repo.targets_with(
        2,
        &[("x", b"x")],
        json!({"keys": {}, "roles": []}),
        FUTURE,
        &foreign,
    );
    let s2 = repo.snapshot(2, &[("root", &root), ("targets", &wrong)]);
    let e = refused(
        &s,
        gun,
        &[("targets", &wrong), ("snapshot", &s2)],
        400,
        "INVALID_UPDATE",
    )
    .await;
    assert_eq!(e["errors"][0]["detail"]["Name"], "ErrBadTargets");

    // Expired targets.
    let expired = repo.targets_with(
        2,
        &[],
        json!({"keys": {}, "roles": []}),
        PAST,
        &repo.targets,
    );
    let s2 = repo.snapshot(2, &[("root", &root), ("targets", &expired)]);
    refused(
        &s,
        gun,
        &[("targets", &expired), ("snapshot", &s2)],
        400,
        "INVALID_UPDATE",
    )
    .await;

    // Snapshot that does not match the uploaded targets (mix-and-match).
    let t2 = repo.targets(2, &[("b", b"b")]);
    let s2 = repo.snapshot(2, &[("root", &root), ("targets", &t1)]);
    let e = refused(
        &s,
        gun,
        &[("targets", &t2), ("snapshot", &s2)],
        400,
        "INVALID_UPDATE",
    )
    .await;
    assert_eq!(e["errors"][0]["detail"]["Name"], "ErrBadSnapshot");

    // No snapshot, and the server does not hold the snapshot key.
    let e = refused(&s, gun, &[("targets", &t2)], 400, "INVALID_UPDATE").await;
    assert_eq!(e["errors"][0]["detail"]["Name"], "ErrBadHierarchy");
    assert_eq!(e["errors"][0]["detail"]["Error"]["Missing"], "snapshot");

    // Stale version: targets v1 again (a rollback), and snapshot v1 again.
    let t1b = repo.targets(1, &[("c", b"c")]);
    let s2 = repo.snapshot(2, &[("root", &root), ("targets", &t1b)]);
    refused(
        &s,
        gun,
        &[("targets", &t1b), ("snapshot", &s2)],
        400,
        "VERSION",
    )
    .await;
    let s1 = repo.snapshot(1, &[("root", &root), ("targets", &t2)]);
    refused(
        &s,
        gun,
        &[("targets", &t2), ("snapshot", &s1)],
        400,
        "VERSION",
    )
    .await;
}

#[tokio::test]
async fn root_rotation_needs_both_keys_and_one_version_step() {
    let s = start().await;
    let gun = "example.com/rotate";
    let repo = Repo::new(&s, gun, true).await;
    repo.init(&s, &[("a", b"a")]).await;
    let new_root = &repo.extra_root;

    let only_new = repo.root_with(2, &new_root.1, &repo.timestamp, &[&new_root.0]);
    let e = refused(&s, gun, &[("root", &only_new)], 400, "INVALID_UPDATE").await;
    assert_eq!(e["errors"][0]["detail"]["Name"], "ErrBadRoot");
    let only_old = repo.root_with(2, &new_root.1, &repo.timestamp, &[&repo.root.0]);
    refused(&s, gun, &[("root", &only_old)], 400, "INVALID_UPDATE").await;
    let skip = repo.root_with(
        3,
        &new_root.1,
        &repo.timestamp,
        &[&repo.root.0, &new_root.0],
    );
    refused(&s, gun, &[("root", &skip)], 400, "INVALID_UPDATE").await;

    let v2 = repo.root_with(
        2,
        &new_root.1,
        &repo.timestamp,
        &[&repo.root.0, &new_root.0],
    );
    s.upload(gun, &[("root", &v2)]).await.assert_ok();
    assert_eq!(s.get_file(gun, "2.root.json").await.body, v2);
    verify_served(&s, gun, &[]).await;

    // Rolling back to root v1 (or replaying v2): refused.
    let v1 = repo.root(1);
    refused(&s, gun, &[("root", &v1)], 400, "INVALID_UPDATE").await;
    refused(&s, gun, &[("root", &v2)], 400, "VERSION").await;
}

fn delegations(keys: &[&TufKey], roles: Value) -> Value {
    let mut k = serde_json::Map::new();
    for key in keys {
        k.insert(key.key_id(), key_json(key));
    }
    json!({"keys": k, "roles": roles})
}

#[tokio::test]
async fn delegations_keys_paths_and_removed_signers() {
    let s = start().await;
    let gun = "example.com/delegated";
    let repo = Repo::new(&s, gun, true).await;
    repo.init(&s, &[]).await;
    let alice: PrivateKey = new_key();
    let bob: PrivateKey = new_key();
    let a = alice.public_key().clone();
    let b = bob.public_key().clone();
    let role = |name: &str, key: &TufKey, paths: Value| json!({"name": name, "keyids": [key.key_id()], "threshold": 1, "paths": paths});

    let t2 = repo.targets_with(
        2,
        &[],
        delegations(
            &[&a],
            json!([
                role("targets/releases", &a, json!([""])),
                role("targets/alice", &a, json!(["v1"]))
            ]),
        ),
        FUTURE,
        &repo.targets,
    );
    s.upload(gun, &[("targets", &t2)]).await.assert_ok();

    // Not delegated at all.
    let stray = repo.targets_with(1, &[("v1", b"1")], json!({}), FUTURE, &alice);
    refused(&s, gun, &[("targets/stray", &stray)], 400, "INVALID_UPDATE").await;
    // Signed by the wrong key.
    let by_bob = repo.targets_with(1, &[("v1", b"1")], json!({}), FUTURE, &bob);
    refused(
        &s,
        gun,
        &[("targets/releases", &by_bob)],
        400,
        "INVALID_UPDATE",
    )
    .await;
    // Outside the delegated paths.
    let outside = repo.targets_with(1, &[("v2", b"2")], json!({}), FUTURE, &alice);
    let e = refused(
        &s,
        gun,
        &[("targets/alice", &outside)],
        400,
        "INVALID_UPDATE",
    )
    .await;
    assert!(
        e["errors"][0]["detail"]["Error"]["Msg"]
            .as_str()
            .expect("msg")
            .contains("outside"),
        "{e}"
    );

    let rel1 = repo.targets_with(1, &[("v1", b"1")], json!({}), FUTURE, &alice);
    s.upload(gun, &[("targets/releases", &rel1)])
        .await
        .assert_ok();
    let v = verify_served(&s, gun, &["targets/releases"]).await;
    assert_eq!(v.resolve("v1").expect("v1").role, "targets/releases");

    // Alice removed from releases, bob added: alice's next release is refused.
    let t3 = repo.targets_with(
        3,
        &[],
        delegations(&[&b], json!([role("targets/releases", &b, json!([""]))])),
        FUTURE,
        &repo.targets,
    );
    s.upload(gun, &[("targets", &t3)]).await.assert_ok();
    let rel2 = repo.targets_with(2, &[("v1", b"1"), ("v9", b"9")], json!({}), FUTURE, &alice);
    refused(
        &s,
        gun,
        &[("targets/releases", &rel2)],
        400,
        "INVALID_UPDATE",
    )
    .await;
    let rel2 = repo.targets_with(2, &[("v9", b"9")], json!({}), FUTURE, &bob);
    s.upload(gun, &[("targets/releases", &rel2)])
        .await
        .assert_ok();
    assert!(
        verify_served(&s, gun, &["targets/releases"])
            .await
            .resolve("v9")
            .is_some()
    );
}

#[tokio::test]
async fn racing_updates_exactly_one_wins_and_none_is_lost() {
    let s = start().await;
    let gun = "example.com/race";
    let repo = Repo::new(&s, gun, true).await;
    repo.init(&s, &[]).await;
    // Two publishers with the same base version, many rounds.
    for round in 0..5u64 {
        let version = 2 + round;
        let a = repo.targets(version, &[("a", format!("a{round}").as_bytes())]);
        let b = repo.targets(version, &[("b", format!("b{round}").as_bytes())]);
        let (pa, pb) = ([("targets", a.as_slice())], [("targets", b.as_slice())]);
        let (ra, rb) = tokio::join!(s.upload(gun, &pa), s.upload(gun, &pb));
        let oks = [&ra, &rb].iter().filter(|r| r.status == 200).count();
        assert_eq!(oks, 1, "round {round}: {} / {}", ra.status, rb.status);
        let loser = if ra.status == 200 { &rb } else { &ra };
        loser.assert_error(400, "VERSION");
        let winner = if ra.status == 200 { a } else { b };
        assert_eq!(s.get_file(gun, "targets.json").await.body, winner);
        verify_served(&s, gun, &[]).await;
    }
    // Eight publishers that retry on VERSION: every one of their targets ends up published.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let client = s.client.clone();
        let url = s.url.clone();
        let targets_key = repo.targets.clone();
        let gun = gun.to_string();
        tasks.push(tokio::spawn(async move {
            for _attempt in 0..200 {
                let cur: Value = client
                    .get(format!("{url}/v2/{gun}/_trust/tuf/targets.json"))
                    .send()
                    .await
                    .expect("get")
                    .json()
                    .await
                    .expect("json");
                let mut signed = cur["signed"].clone();
                let version = signed["version"].as_u64().expect("version") + 1;
                signed["version"] = json!(version);
                signed["targets"][format!("t{i}")] = file_meta(format!("{i}").as_bytes());
                let bytes = hallmark_tuf::sign_metadata(&signed, &[&targets_key]).expect("sign");
                let (ct, body) = multipart(&[("targets", &bytes)]);
                let r = client
                    .post(format!("{url}/v2/{gun}/_trust/tuf/"))
                    .header("content-type", ct)
                    .body(body)
                    .send()
                    .await
                    .expect("post");
                if r.status() == 200 {
                    return true;
                }
                let v: Value = r.json().await.expect("json");
                assert_eq!(v["errors"][0]["code"], "VERSION", "{v}");
            }
            false
        }));
    }
    for t in tasks {
        assert!(t.await.expect("task"), "a publisher never got through");
    }
    let v = verify_served(&s, gun, &[]).await;
    for i in 0..8 {
        assert!(v.resolve(&format!("t{i}")).is_some(), "t{i} was lost");
    }
}

#[tokio::test]
async fn keys_rotate_and_delete() {
    let s = start().await;
    let gun = "example.com/keys";
    let repo = Repo::new(&s, gun, true).await;
    repo.init(&s, &[("a", b"a")]).await;

    // Rotating the timestamp key: the old one still signs until the root lists the new one.
    let r = send(s.client.post(s.tuf(gun, "timestamp.key"))).await;
    r.assert_ok();
    let new_ts = key_from_json(&r.json());
    assert_ne!(new_ts, repo.timestamp);
    assert_eq!(s.server_key(gun, "timestamp").await, new_ts);
    let t2 = repo.targets(2, &[("b", b"b")]);
    s.upload(gun, &[("targets", &t2)]).await.assert_ok();
    verify_served(&s, gun, &[]).await;
    let v2 = repo.root_with(2, &repo.root.1, &new_ts, &[&repo.root.0]);
    s.upload(gun, &[("root", &v2)]).await.assert_ok();
    verify_served(&s, gun, &[]).await;

    // DELETE: everything gone, a deletion in the changefeed, the GUN can start again.
    let d = send(s.client.delete(s.tuf(gun, ""))).await;
    d.assert_ok();
    assert!(d.body.is_empty());
    for f in [
        "root.json",
        "targets.json",
        "snapshot.json",
        "timestamp.json",
        "1.root.json",
    ] {
        s.get_file(gun, f)
            .await
            .assert_error(404, "METADATA_NOT_FOUND");
    }
    let feed = s
        .get(&format!("/v2/{gun}/_trust/changefeed?records=-1"))
        .await
        .json();
    assert_eq!(feed["records"][0]["Category"], "deletion");
    let again = Repo::new(&s, gun, true).await;
    assert_eq!(again.timestamp, new_ts, "keys survive DELETE");
    again.init(&s, &[("z", b"z")]).await;
    verify_served(&s, gun, &[]).await;
}

#[tokio::test]
async fn restart_keeps_metadata_and_keys_sealed() {
    let mut s = start().await;
    let gun = "example.com/restart";
    let repo = Repo::new(&s, gun, true).await;
    let (root, _) = repo.init(&s, &[("a", b"a")]).await;
    s.server
        .take()
        .expect("server")
        .shutdown()
        .await
        .expect("shutdown");

    // The private keys are not in the database in the clear.
    let db = std::fs::read(s.dir.path().join("trust.db")).expect("db");
    let secret = std::fs::metadata(s.dir.path().join("keys.secret")).expect("keys.secret");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(secret.permissions().mode() & 0o777, 0o600);
    assert!(!db.windows(7).any(|w| w == b"PRIVATE"));

    let server = start_with(hallmark_trust_server::Config::new(s.dir.path())).await;
    s.url = format!("http://{}", server.addr());
    s.server = Some(server);
    assert_eq!(s.get_file(gun, "root.json").await.body, root);
    assert_eq!(s.server_key(gun, "timestamp").await, repo.timestamp);
    assert_eq!(
        s.server_key(gun, "snapshot").await,
        repo.server_snapshot.clone().expect("snapshot key")
    );
    let t2 = repo.targets(2, &[("b", b"b")]);
    s.upload(gun, &[("targets", &t2)]).await.assert_ok();
    verify_served(&s, gun, &[]).await;

    // Another sealing key (a wrong passphrase) is refused at startup.
    s.server
        .take()
        .expect("server")
        .shutdown()
        .await
        .expect("shutdown");
    let mut config = hallmark_trust_server::Config::new(s.dir.path());
    config.key_passphrase = Some(zeroize::Zeroizing::new(b"not the key".to_vec()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let err = hallmark_trust_server::Server::start(config, listener)
        .await
        .expect_err("wrong sealing key");
    assert!(err.to_string().contains("cannot be unsealed"), "{err}");
}

#[tokio::test]
async fn anonymous_writes_need_a_loopback_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .expect("bind");
    let err = hallmark_trust_server::Server::start(
        hallmark_trust_server::Config::new(dir.path()),
        listener,
    )
    .await
    .expect_err("must refuse");
    assert!(err.to_string().contains("loopback"), "{err}");
    let mut config = hallmark_trust_server::Config::new(dir.path());
    config.auth = hallmark_trust_server::Auth::AnonymousAnywhere(
        hallmark_trust_server::ExplicitlyUnauthenticated::asked_for_by_operator(),
    );
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .expect("bind");
    let server = hallmark_trust_server::Server::start(config, listener)
        .await
        .expect("--auth none");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn timestamp_is_re_signed_when_served_close_to_expiry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = hallmark_trust_server::Config::new(dir.path());
    // Every timestamp (14 days) is "close to expiry" with a 15-day margin.
    config.timestamp_refresh = time::Duration::days(15);
    let server = start_with(config).await;
    let s = TestServer {
        url: format!("http://{}", server.addr()),
        server: Some(server),
        dir,
        client: client(),
    };
    let gun = "example.com/fresh";
    let repo = Repo::new(&s, gun, true).await;
    repo.init(&s, &[("a", b"a")]).await;
    let v1 = s.get_file(gun, "timestamp.json").await.json()["signed"]["version"]
        .as_u64()
        .expect("version");
    let v2 = s.get_file(gun, "timestamp.json").await.json()["signed"]["version"]
        .as_u64()
        .expect("version");
    assert_eq!(v1, 2, "re-signed on read");
    assert_eq!(v2, 2, "at most once a minute per GUN");
    verify_served(&s, gun, &[]).await;
    let feed = s
        .get(&format!("/v2/{gun}/_trust/changefeed?records=100"))
        .await
        .json();
    assert_eq!(feed["count"], 2, "{feed}");
}

#[tokio::test]
async fn gun_prefixes_and_ed25519_server_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = hallmark_trust_server::Config::new(dir.path());
    config.gun_prefixes = vec!["registry.example/".into()];
    config.key_type = hallmark_trust_server::KeyType::Ed25519;
    let server = start_with(config).await;
    let s = TestServer {
        url: format!("http://{}", server.addr()),
        server: Some(server),
        dir,
        client: client(),
    };
    let e = s.get_file("elsewhere.example/app", "timestamp.key").await;
    e.assert_error(400, "INVALID_GUN");
    s.get_file("elsewhere.example/app", "root.json")
        .await
        .assert_error(400, "INVALID_GUN");
    let gun = "registry.example/app";
    let repo = Repo::new(&s, gun, true).await;
    assert_eq!(repo.timestamp.key_type().name(), "ed25519");
    repo.init(&s, &[("v1", b"one")]).await;
    let ts: Value = s.get_file(gun, "timestamp.json").await.json();
    assert_eq!(ts["signatures"][0]["method"], "eddsa");
    verify_served(&s, gun, &[]).await;
}

/// The status code of a raw HTTP response (0 if there is none).
fn status_code(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// `GET path` written as it is (no URL normalisation): (status, body).
async fn raw_get(url: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("write the request");
    let mut raw = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .expect("the server answered in time")
        .expect("read the answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
    (status_code(&text), text)
}

/// A GUN is a repository name: `..`, `../../x`, `/abs`, `a%00b` and friends are refused with
/// INVALID_GUN (they used to be accepted, and got server keys).
#[tokio::test]
async fn guns_that_are_not_repository_names_are_invalid() {
    let s = start().await;
    for gun in [
        "..",
        "../../x",
        "/abs",
        "a%00b",
        "a%2F..",
        "UPPER/case",
        "a//b",
        "x/..",
        "-lead",
    ] {
        let (status, body) = raw_get(&s.url, &format!("/v2/{gun}/_trust/tuf/timestamp.key")).await;
        assert!(
            status == 400 && body.contains("INVALID_GUN"),
            "{gun}: expected 400 INVALID_GUN, found {status}:\n{body}"
        );
    }
    for gun in ["docker.io/library/alpine", "127.0.0.1:5000/a/b", "team/app"] {
        s.get_file(gun, "timestamp.key").await.assert_ok();
    }
}

/// Anonymous requests (writes not authenticated) may create only so many server keys a
/// minute: past the burst, TOOMANYREQUESTS, while keys that exist are still served.
#[tokio::test]
async fn anonymous_key_creation_is_rate_limited() {
    let s = start().await;
    let mut created = 0;
    let mut limited = None;
    for i in 0..80 {
        let r = s
            .get_file(&format!("registry.example/anon/r{i}"), "timestamp.key")
            .await;
        match r.status {
            200 => created += 1,
            _ => {
                limited = Some(r);
                break;
            }
        }
    }
    let limited = limited.expect("expected the server to stop creating keys");
    limited.assert_error(429, "TOOMANYREQUESTS");
    assert!(
        (50..=61).contains(&created),
        "expected about 60 keys before the limit, created {created}"
    );
    s.get_file("registry.example/anon/r0", "timestamp.key")
        .await
        .assert_ok();
}

/// Send `head` and the first `sent` bytes of a body of `length` bytes, then stall; the
/// status the server answers with (0 if none within 10 s).
async fn stalled_post(url: &str, gun: &str, length: usize, sent: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /v2/{gun}/_trust/tuf/ HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: {length}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("write the head");
    s.write_all(&vec![b'a'; sent])
        .await
        .expect("write part of the body");
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
            if raw.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    (status_code(&text), text)
}

/// A body that stalls gets 408; bodies in memory share one budget, and an upload that does
/// not fit gets 503 with Retry-After before a byte of it is read (16 held uploads of 99 MiB
/// used to cost 2.1 GB).
#[tokio::test]
async fn stalled_bodies_get_408_and_uploads_share_a_memory_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = hallmark_trust_server::Config::new(dir.path());
    config.body_timeout = std::time::Duration::from_secs(1);
    config.body_budget = 1 << 20;
    let server = start_with(config).await;
    let url = format!("http://{}", server.addr());
    let (status, text) = stalled_post(&url, "registry.example/stall", 1000, 10).await;
    assert_eq!(status, 408, "a stalled body: expected 408, found:\n{text}");

    // One upload holds 900 KiB of the 1 MiB budget while it trickles in ...
    let holder = tokio::spawn({
        let url = url.clone();
        async move { stalled_post(&url, "registry.example/holder", 900 << 10, 1).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // ... so one of 500 KiB is refused at once, with Retry-After.
    let (status, text) = stalled_post(&url, "registry.example/other", 500 << 10, 0).await;
    assert_eq!(status, 503, "over the budget: expected 503, found:\n{text}");
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 5"),
        "expected Retry-After, found:\n{text}"
    );
    // The holder ends at the body timeout and gives its share back.
    assert_eq!(holder.await.expect("holder").0, 408);
    let (status, text) = stalled_post(&url, "registry.example/other", 500 << 10, 0).await;
    assert_eq!(
        status, 408,
        "with the budget back, the upload is read (and stalls): found:\n{text}"
    );
}
