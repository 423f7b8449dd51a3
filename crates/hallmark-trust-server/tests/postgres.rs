//! The core flow over PostgreSQL (a throwaway cluster): publish, read back, server-generated
//! snapshot, restart, and two server processes over one database racing on one GUN.

use crate::util::*;
use hallmark_trust_server::Config;

async fn pg_server(dir: &std::path::Path, url: &str) -> TestServer {
    let mut config = Config::new(dir);
    config.database = Some(url.to_string());
    let server = start_with(config).await;
    TestServer {
        url: format!("http://{}", server.addr()),
        server: Some(server),
        dir: tempfile::tempdir().expect("tempdir"),
        client: client(),
    }
}

#[tokio::test]
async fn postgres_publish_restart_and_two_servers_racing() {
    let pg = hallmark_testutil::postgres::start_new();
    let url = pg.create_database("trust");
    let data = tempfile::tempdir().expect("tempdir");
    let mut a = pg_server(data.path(), &url).await;
    let gun = "example.com/pg";
    let repo = Repo::new(&a, gun, true).await;
    let (root, _) = repo.init(&a, &[("v1", b"one")]).await;
    assert_eq!(a.get_file(gun, "root.json").await.body, root);
    verify_served(&a, gun, &[]).await;
    // A stale update is refused with VERSION and stores nothing.
    let before = a.snapshot_state(gun).await;
    let t1 = repo.targets(1, &[("x", b"x")]);
    a.upload(gun, &[("targets", &t1)])
        .await
        .assert_error(400, "VERSION");
    assert_eq!(a.snapshot_state(gun).await, before);

    // A second server process over the same database (same sealing key in the data dir).
    let b = pg_server(data.path(), &url).await;
    assert_eq!(b.server_key(gun, "timestamp").await, repo.timestamp);
    for round in 0..3u64 {
        let v = 2 + round;
        let ta = repo.targets(v, &[("a", format!("a{round}").as_bytes())]);
        let tb = repo.targets(v, &[("b", format!("b{round}").as_bytes())]);
        let (pa, pb) = ([("targets", ta.as_slice())], [("targets", tb.as_slice())]);
        let (ra, rb) = tokio::join!(a.upload(gun, &pa), b.upload(gun, &pb));
        assert_eq!(
            [ra.status, rb.status].iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {} {} / {} {}",
            ra.status,
            String::from_utf8_lossy(&ra.body),
            rb.status,
            String::from_utf8_lossy(&rb.body)
        );
        let loser = if ra.status == 200 { &rb } else { &ra };
        loser.assert_error(400, "VERSION");
        let winner = if ra.status == 200 { ta } else { tb };
        // Both servers serve the winner (the other's cache lives at most a second).
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(a.get_file(gun, "targets.json").await.body, winner);
        assert_eq!(b.get_file(gun, "targets.json").await.body, winner);
        verify_served(&b, gun, &[]).await;
    }

    // Restart keeps everything.
    a.server
        .take()
        .expect("server")
        .shutdown()
        .await
        .expect("shutdown");
    let c = pg_server(data.path(), &url).await;
    assert_eq!(c.get_file(gun, "1.root.json").await.body, root);
    let t9 = repo.targets(9, &[("after", b"restart")]);
    c.upload(gun, &[("targets", &t9)]).await.assert_ok();
    assert!(verify_served(&c, gun, &[]).await.resolve("after").is_some());
    let feed = c
        .get(&format!("/v2/{gun}/_trust/changefeed?records=100"))
        .await
        .json();
    assert_eq!(feed["count"], 5);
}
