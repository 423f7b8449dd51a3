//! The witness over HTTP, by the property each test defends: it answers each tlog-witness case
//! with its status; it never cosigns two views of one log, even when they race, and a verifier
//! requiring it refuses the view it did not cosign; it continues
//! from what it committed after a restart; its name and key are fixed at the first start.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use hallmark_tlog::checkpoint::Checkpoint;
use hallmark_tlog::hash::leaf_hash;
use hallmark_tlog::note::{Ed25519NoteSigner, Note};
use hallmark_tlog::tree::{MemoryHashStore, prove_consistency};
use hallmark_tlog::witness::{AddCheckpoint, CosignatureVerifier};
use hallmark_witness::{Config, Witness};
use std::path::Path;

const ORIGIN: &str = "log.example.com/witnessed";

struct Log {
    signer: Ed25519NoteSigner,
    store: MemoryHashStore,
}

impl Log {
    fn new(seed: u8) -> Self {
        Self {
            signer: Ed25519NoteSigner::from_seed(ORIGIN, &[seed; 32]).unwrap(),
            store: MemoryHashStore::new(),
        }
    }
    fn grow(&mut self, n: u32, tag: &str) {
        for i in 0..n {
            self.store
                .append_leaf_hash(leaf_hash(format!("{tag}{i}").as_bytes()))
                .unwrap();
        }
    }
    fn body(&self, old: u64) -> String {
        AddCheckpoint {
            old_size: old,
            proof: prove_consistency(old, self.store.size(), &self.store).unwrap(),
            checkpoint: Checkpoint::new(ORIGIN, self.store.size(), self.store.root())
                .unwrap()
                .sign(&[&self.signer])
                .unwrap(),
        }
        .to_body()
    }
}

fn config(dir: &Path, log: &Log) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        name: Some("witness.example.com".into()),
        logs: vec![(ORIGIN.into(), log.signer.verifier().vkey())],
    }
}

/// Serve `w` on a loopback port; returns its base URL.
async fn serve(w: &Witness) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = w.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

async fn post(url: &str, body: String) -> (u16, String, String) {
    let r = reqwest::Client::new()
        .post(format!("{url}/add-checkpoint"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

#[tokio::test]
async fn every_case_of_the_protocol_gets_its_status_and_a_cosignature_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(1);
    log.grow(5, "a");
    let w = Witness::open(&config(dir.path(), &log)).await.unwrap();
    let url = serve(&w).await;
    let verifier = CosignatureVerifier::from_vkey(&w.vkey()).unwrap();

    let (status, _, line) = post(&url, log.body(0)).await;
    assert_eq!(status, 200, "{line}");
    let checkpoint = log.body(0);
    let note_text = checkpoint.split_once("\n\n").unwrap().1;
    let cosigned = Note::parse(format!("{note_text}{line}").as_bytes()).unwrap();
    cosigned.verify(&[&verifier]).unwrap();

    log.grow(3, "b");
    // 409 with the held size, as text/x.tlog.size.
    let (status, ct, body) = post(&url, log.body(0)).await;
    assert_eq!(
        (status, ct.as_str(), body.as_str()),
        (409, "text/x.tlog.size", "5\n")
    );
    let (status, _, _) = post(&url, log.body(5)).await;
    assert_eq!(status, 200);
    // 422: a bad proof; 403: another key; 404: another origin; 400: garbage.
    log.grow(1, "c");
    let good = log.body(8);
    let mut lines: Vec<String> = good.split('\n').map(str::to_owned).collect();
    lines[1] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    let (status, _, body) = post(&url, lines.join("\n")).await;
    assert_eq!(status, 422, "{body}");
    let mut stranger = Log::new(9);
    stranger.grow(9, "a");
    let (status, _, body) = post(&url, stranger.body(8)).await;
    assert_eq!(status, 403, "{body}");
    let elsewhere = good.replace(ORIGIN, "other.example.com/log");
    let (status, _, _) = post(&url, elsewhere).await;
    assert!(status == 404 || status == 403, "{status}");
    let (status, _, _) = post(&url, "hello".into()).await;
    assert_eq!(status, 400);
    // The held state did not move on any refusal.
    assert_eq!(w.held(ORIGIN).await.unwrap().unwrap().size, 8);
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_views_racing_for_one_size_get_one_cosignature() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(1);
    log.grow(4, "a");
    let w = Witness::open(&config(dir.path(), &log)).await.unwrap();
    let url = serve(&w).await;
    assert_eq!(post(&url, log.body(0)).await.0, 200);
    // Eight views of size 10, each extending the held tree differently.
    let mut views = Vec::new();
    for v in 0..8 {
        let mut fork = Log::new(1);
        fork.grow(4, "a");
        fork.grow(6, &format!("view{v}-"));
        views.push(fork.body(4));
    }
    let answers = futures_join(views.into_iter().map(|b| {
        let url = url.clone();
        async move { post(&url, b).await.0 }
    }))
    .await;
    assert_eq!(
        answers.iter().filter(|s| **s == 200).count(),
        1,
        "exactly one view cosigned: {answers:?}"
    );
    assert!(
        answers.iter().all(|s| *s == 200 || *s == 409 || *s == 422),
        "{answers:?}"
    );
    w.close().await;
}

/// A log showing two clients two views of size 10 asks the witness about both: only the first
/// is cosigned, and a verifier requiring that witness (quorum 1) refuses the other, with no
/// cosignature or with the first view's cosignature moved onto it.
#[tokio::test]
async fn a_split_view_gets_one_view_cosigned_and_verifiers_refuse_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let mut shown_to_a = Log::new(1);
    shown_to_a.grow(4, "a");
    let w = Witness::open(&config(dir.path(), &shown_to_a))
        .await
        .unwrap();
    let url = serve(&w).await;
    assert_eq!(post(&url, shown_to_a.body(0)).await.0, 200);
    let mut shown_to_b = Log::new(1);
    shown_to_b.grow(4, "a");
    shown_to_a.grow(6, "for-a-");
    shown_to_b.grow(6, "for-b-");
    let (body_a, body_b) = (shown_to_a.body(4), shown_to_b.body(4));
    let (status, _, cosignature) = post(&url, body_a.clone()).await;
    assert_eq!(status, 200, "{cosignature}");
    let (status, _, answer) = post(&url, body_b.clone()).await;
    assert_eq!(
        status, 409,
        "the other view of size 10 is not cosigned: {answer}"
    );
    let note = |body: &str| body.split_once("\n\n").unwrap().1.to_owned();
    let policy = hallmark_tlog::witness::WitnessPolicy::parse(&format!(
        "witness w {}\nquorum w\n",
        w.vkey()
    ))
    .unwrap();
    let view_a = Note::parse(format!("{}{cosignature}", note(&body_a)).as_bytes()).unwrap();
    let signed = policy.check(&view_a).unwrap();
    assert!(signed.contains("w"), "{signed:?}");
    for (attack, text) in [
        ("no cosignature", note(&body_b)),
        (
            "the other view's cosignature",
            format!("{}{cosignature}", note(&body_b)),
        ),
    ] {
        let view_b = Note::parse(text.as_bytes()).unwrap();
        let err = policy
            .check(&view_b)
            .expect_err(&format!("view b with {attack} refused"));
        assert!(
            err.to_string()
                .contains("do not satisfy the witness policy"),
            "{attack}: {err}"
        );
    }
    w.close().await;
}

async fn futures_join<F: std::future::Future<Output = u16> + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_restarted_witness_continues_from_what_it_committed_with_its_name_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(1);
    log.grow(6, "a");
    let first = Witness::open(&config(dir.path(), &log)).await.unwrap();
    let vkey = first.vkey();
    first
        .add_checkpoint(log.body(0).as_bytes(), 1)
        .await
        .unwrap();
    first.close().await;

    let again = Witness::open(&config(dir.path(), &log)).await.unwrap();
    assert_eq!(again.vkey(), vkey, "the key and name are kept");
    assert_eq!(hallmark_witness::vkey(dir.path()).await.unwrap(), vkey);
    log.grow(2, "b");
    let e = again
        .add_checkpoint(log.body(0).as_bytes(), 2)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("expected old size 6"), "{e}");
    again
        .add_checkpoint(log.body(6).as_bytes(), 2)
        .await
        .unwrap();
    again.close().await;

    let mut renamed = config(dir.path(), &log);
    renamed.name = Some("other.example.com".into());
    let e = Witness::open(&renamed).await.unwrap_err();
    assert!(e.to_string().contains("witness.example.com"), "{e}");
    let key = std::fs::metadata(dir.path().join(hallmark_witness::KEY_FILE)).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777,
        0o600
    );
}
