//! The HTTP API end to end.

use crate::util::{ORIGIN, TestLog, p256, proposed, proposed_raw, start_in, start_log};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{KeyAlgorithm, PublicKey, SigningKey};
use hallmark_tlog::checkpoint::Checkpoint;
use hallmark_tlog::note::{EcdsaNoteVerifier, Ed25519NoteVerifier, NoteVerifier};
use hallmark_tlog::rekor::SetPayload;
use hallmark_tlog::tiles::{Tile, read_tile_data};
use hallmark_tlog::{Hash, MemoryHashStore, leaf_hash, verify_consistency, verify_inclusion};
use hallmark_tlog_server::LogKeyType;
use serde_json::{Value, json};

async fn log_key(log: &TestLog) -> PublicKey {
    let (status, headers, pem) = log.get("/api/v1/log/publicKey").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/x-pem-file");
    PublicKey::from_pem(std::str::from_utf8(&pem).expect("utf8"), "log key").expect("log key")
}

fn note_verifier(key: &PublicKey) -> Box<dyn NoteVerifier> {
    match key.algorithm() {
        KeyAlgorithm::Ed25519 => {
            let spki = key.spki_der();
            Box::new(Ed25519NoteVerifier::new(ORIGIN, &spki[spki.len() - 32..]).expect("vkey"))
        }
        _ => Box::new(EcdsaNoteVerifier::new(ORIGIN, key.clone()).expect("vkey")),
    }
}

fn open_checkpoint(key: &PublicKey, note: &str) -> Checkpoint {
    let v = note_verifier(key);
    let (cp, _) = Checkpoint::open(note.as_bytes(), &[v.as_ref()]).expect("checkpoint verifies");
    cp.expect_origin(ORIGIN).expect("origin");
    cp
}

/// Check one LogEntry map completely; returns (entryID, index, leaf hash, body).
fn check_entry(key: &PublicKey, map: &Value) -> (String, u64, Hash, Vec<u8>) {
    let obj = map.as_object().expect("LogEntry is an object");
    assert_eq!(obj.len(), 1, "{map}");
    let (entry_id, e) = obj.iter().next().expect("one entry");
    assert_eq!(entry_id.len(), 80, "entry ID is 80 hex");
    let body = STANDARD
        .decode(e["body"].as_str().expect("body"))
        .expect("b64");
    let leaf = leaf_hash(&body);
    assert_eq!(&entry_id[16..], leaf.to_hex(), "UUID is the leaf hash");
    let index = e["logIndex"].as_u64().expect("logIndex");
    let log_id = e["logID"].as_str().expect("logID");
    assert_eq!(log_id, key.fingerprint());
    let t = e["integratedTime"].as_i64().expect("integratedTime");
    let proof = &e["verification"]["inclusionProof"];
    assert_eq!(proof["logIndex"].as_u64(), Some(index));
    let size = proof["treeSize"].as_u64().expect("treeSize");
    let root = Hash::from_hex(proof["rootHash"].as_str().expect("rootHash")).expect("hex");
    let hashes: Vec<Hash> = proof["hashes"]
        .as_array()
        .expect("hashes")
        .iter()
        .map(|h| Hash::from_hex(h.as_str().expect("str")).expect("hex"))
        .collect();
    verify_inclusion(&leaf, index, size, &hashes, &root).expect("inclusion proof verifies");
    let cp = open_checkpoint(key, proof["checkpoint"].as_str().expect("checkpoint"));
    assert_eq!((cp.size(), *cp.root()), (size, root));
    let set = STANDARD
        .decode(
            e["verification"]["signedEntryTimestamp"]
                .as_str()
                .expect("SET"),
        )
        .expect("b64");
    let payload = SetPayload::new(&body, t, key, index as i64);
    match key.algorithm() {
        KeyAlgorithm::EcdsaP256 => payload.verify(key, &set).expect("SET verifies"),
        _ => key
            .verify(&payload.canonical_bytes(), &set)
            .expect("Ed25519 SET verifies"),
    }
    (entry_id.clone(), index, leaf, body)
}

async fn append(log: &TestLog, entry: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
    log.post("/api/v1/log/entries", entry.to_string().into_bytes())
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_dedup_and_every_endpoint() {
    let log = start_log(LogKeyType::EcdsaP256).await;
    let key = log_key(&log).await;
    assert_eq!(log.tree_size().await, 0);
    let signer = p256();

    let first = proposed(&signer, b"artifact one");
    let (status, headers, v) = append(&log, &first).await;
    assert_eq!(status, 201, "{v}");
    let (entry_id, index, leaf, _) = check_entry(&key, &v);
    assert_eq!(index, 0);
    assert_eq!(
        headers["location"].to_str().expect("location"),
        format!("/api/v1/log/entries/{entry_id}")
    );
    assert_eq!(headers["etag"].to_str().expect("etag"), leaf.to_hex());

    // The same entry again: 409 with the existing one.
    let (status, headers, v) = append(&log, &first).await;
    assert_eq!(status, 409, "{v}");
    let (again_id, again_index, _, _) = check_entry(&key, &v);
    assert_eq!((again_id.as_str(), again_index), (entry_id.as_str(), 0));
    assert!(headers.contains_key("location"));
    assert_eq!(log.tree_size().await, 1);

    // More entries, concurrently, with duplicates among them.
    // ECDSA signatures are randomized: a duplicate is the same signed entry sent again.
    let distinct: Vec<Value> = (0..30)
        .map(|i| proposed(&signer, format!("artifact {i}").as_bytes()))
        .collect();
    let entries: Vec<Value> = (0..40).map(|i| distinct[i % 30].clone()).collect();
    let results = futures::future::join_all(entries.iter().map(|e| append(&log, e))).await;
    let created = results.iter().filter(|r| r.0 == 201).count();
    let conflicts = results.iter().filter(|r| r.0 == 409).count();
    assert_eq!((created, conflicts), (30, 10));
    let mut seen = std::collections::BTreeSet::new();
    for (_, _, v) in &results {
        let (_, index, _, _) = check_entry(&key, v);
        seen.insert(index);
    }
    assert_eq!(seen.len(), 30);
    assert_eq!(log.tree_size().await, 31);

    // GET /api/v1/log
    let (status, info) = log.get_json("/api/v1/log").await;
    assert_eq!(status, 200);
    let cp = open_checkpoint(&key, info["signedTreeHead"].as_str().expect("sth"));
    assert_eq!(cp.size(), 31);
    assert_eq!(info["rootHash"].as_str(), Some(cp.root().to_hex().as_str()));
    let tree_id: u64 = info["treeID"]
        .as_str()
        .expect("treeID")
        .parse()
        .expect("num");
    assert_eq!(entry_id[..16], format!("{tree_id:016x}"));

    // GET by index, by UUID, by entry ID; retrieve.
    let (status, v) = log.get_json("/api/v1/log/entries?logIndex=0").await;
    assert_eq!(status, 200);
    assert_eq!(check_entry(&key, &v).0, entry_id);
    let (status, v) = log
        .get_json(&format!("/api/v1/log/entries/{}", leaf.to_hex()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(check_entry(&key, &v).0, entry_id);
    let (status, v) = log
        .get_json(&format!("/api/v1/log/entries/{entry_id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(check_entry(&key, &v).1, 0);
    let (status, v) = log.get_json("/api/v1/log/entries?logIndex=31").await;
    assert_eq!((status, v["code"].as_u64()), (404, Some(404)), "{v}");
    let (status, v) = log
        .get_json(&format!("/api/v1/log/entries/{}", "0".repeat(64)))
        .await;
    assert_eq!(status, 404, "{v}");
    let (status, _, v) = log
        .post(
            "/api/v1/log/entries/retrieve",
            json!({"entryUUIDs": [leaf.to_hex()], "logIndexes": [1, 2, 99], "entries": [first]})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let found = v.as_array().expect("array");
    assert_eq!(found.len(), 4, "uuid + 2 indexes + entry");
    for e in found {
        check_entry(&key, e);
    }

    // Consistency proofs between every pair of a few sizes.
    let roots: Vec<(u64, Hash)> = {
        let mut out = Vec::new();
        for size in [1u64, 2, 3, 7, 8, 16, 31] {
            let (status, p) = log
                .get_json(&format!("/api/v1/log/proof?firstSize=1&lastSize={size}"))
                .await;
            assert_eq!(status, 200, "{p}");
            out.push((
                size,
                Hash::from_hex(p["rootHash"].as_str().expect("root")).expect("hex"),
            ));
        }
        out
    };
    assert_eq!(roots.last().map(|r| r.1), Some(*cp.root()));
    for (i, (a, ra)) in roots.iter().enumerate() {
        for (b, rb) in &roots[i..] {
            let (status, p) = log
                .get_json(&format!("/api/v1/log/proof?firstSize={a}&lastSize={b}"))
                .await;
            assert_eq!(status, 200, "{p}");
            assert_eq!(p["rootHash"].as_str(), Some(rb.to_hex().as_str()));
            let hashes: Vec<Hash> = p["hashes"]
                .as_array()
                .expect("hashes")
                .iter()
                .map(|h| Hash::from_hex(h.as_str().expect("s")).expect("hex"))
                .collect();
            verify_consistency(*a, *b, ra, rb, &hashes).expect("consistency verifies");
        }
    }
    for bad in [
        "/api/v1/log/proof?firstSize=5&lastSize=4",
        "/api/v1/log/proof?firstSize=0&lastSize=4",
        "/api/v1/log/proof?firstSize=1&lastSize=32",
        "/api/v1/log/proof?firstSize=1",
        "/api/v1/log/proof?firstSize=x&lastSize=4",
        "/api/v1/log/entries?logIndex=-1",
        "/api/v1/log/entries/not-a-uuid",
    ] {
        let (status, v) = log.get_json(bad).await;
        assert_eq!(status, 400, "{bad}: {v}");
        assert_eq!(v["code"].as_u64(), Some(400), "{bad}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    // /checkpoint
    let (status, headers, note) = log.get("/checkpoint").await;
    assert_eq!(status, 200);
    assert!(
        headers["cache-control"]
            .to_str()
            .expect("cc")
            .contains("max-age=1")
    );
    assert_eq!(
        open_checkpoint(&key, std::str::from_utf8(&note).expect("utf8")).size(),
        31
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_rejected_and_nothing_is_appended() {
    let log = start_log(LogKeyType::EcdsaP256).await;
    let signer = p256();
    let good = proposed(&signer, b"the artifact");
    let (status, _, v) = append(&log, &good).await;
    assert_eq!(status, 201, "{v}");
    let digest = hallmark_core::Digest::sha256_of(b"the artifact");
    let sig = STANDARD.encode(signer.sign(b"the artifact").expect("sign"));
    let pem = signer.public_key().to_pem();
    let other_sig = STANDARD.encode(signer.sign(b"another artifact").expect("sign"));
    let ed = SigningKey::generate(KeyAlgorithm::Ed25519).expect("ed25519");
    let ed_sig = STANDARD.encode(ed.sign(b"the artifact").expect("sign"));
    let mut unknown_field = good.clone();
    unknown_field["spec"]["extra"] = json!(1);
    let mut wrong_kind = good.clone();
    wrong_kind["kind"] = json!("rekord");
    let mut wrong_version = good.clone();
    wrong_version["apiVersion"] = json!("0.0.2");
    let mut sha512 = good.clone();
    sha512["spec"]["data"]["hash"]["algorithm"] = json!("sha512");
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("not JSON", b"{not json".to_vec(), 400),
        ("empty body", Vec::new(), 400),
        ("JSON array", b"[]".to_vec(), 400),
        ("wrong kind", wrong_kind.to_string().into_bytes(), 400),
        (
            "wrong apiVersion",
            wrong_version.to_string().into_bytes(),
            400,
        ),
        ("unknown field", unknown_field.to_string().into_bytes(), 400),
        ("sha512 digest", sha512.to_string().into_bytes(), 400),
        (
            "short digest",
            proposed_raw(&digest.hex()[..62], &sig, &pem)
                .to_string()
                .into_bytes(),
            400,
        ),
        (
            "upper-case digest",
            proposed_raw(&digest.hex().to_uppercase(), &sig, &pem)
                .to_string()
                .into_bytes(),
            400,
        ),
        (
            "signature not base64",
            proposed_raw(digest.hex(), "!!!", &pem)
                .to_string()
                .into_bytes(),
            400,
        ),
        (
            "signature over another artifact",
            proposed_raw(digest.hex(), &other_sig, &pem)
                .to_string()
                .into_bytes(),
            400,
        ),
        (
            "signature over the digest bytes, not the artifact",
            proposed_raw(
                digest.hex(),
                &STANDARD.encode(signer.sign(digest.hex().as_bytes()).expect("sign")),
                &pem,
            )
            .to_string()
            .into_bytes(),
            400,
        ),
        (
            "public key not PEM",
            proposed_raw(digest.hex(), &sig, "not a pem")
                .to_string()
                .into_bytes(),
            400,
        ),
        (
            "private key instead of public",
            proposed_raw(digest.hex(), &sig, &signer.to_pkcs8_pem())
                .to_string()
                .into_bytes(),
            400,
        ),
        (
            "unsupported key type (Ed25519)",
            proposed_raw(digest.hex(), &ed_sig, &ed.public_key().to_pem())
                .to_string()
                .into_bytes(),
            400,
        ),
        ("oversized body", vec![b' '; 200 * 1024], 413),
    ];
    for (name, body, expected) in cases {
        let r = log
            .client
            .post(format!("{}/api/v1/log/entries", log.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST");
        let status = r.status().as_u16();
        let v: Value = serde_json::from_slice(&r.bytes().await.expect("body"))
            .unwrap_or_else(|e| panic!("{name}: error body is not JSON: {e}"));
        assert_eq!(status, expected, "{name}: {v}");
        assert_eq!(v["code"].as_u64(), Some(u64::from(expected)), "{name}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{name}: {v}"
        );
        assert_eq!(log.tree_size().await, 1, "{name}: nothing appended");
    }
    let (status, v) = log.get_json("/no/such/path").await;
    assert_eq!((status, v["code"].as_u64()), (404, Some(404)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_signers_and_p384_over_another_hash() {
    let log = start_log(LogKeyType::EcdsaP256).await;
    let key = log_key(&log).await;
    // RSA PKCS#1 v1.5 signs SHA-256(artifact): verified over the given digest.
    let rsa = SigningKey::generate(KeyAlgorithm::Rsa).expect("keygen");
    let (status, _, v) = append(&log, &proposed(&rsa, b"artifact")).await;
    assert_eq!(status, 201, "{v}");
    check_entry(&key, &v);
    // A P-384 key signs SHA-384(artifact), which is not the sha256 digest the entry names:
    // rejected, as Rekor does (it verifies the signature over the given digest).
    let p384 = SigningKey::generate(KeyAlgorithm::EcdsaP384).expect("keygen");
    let (status, _, v) = append(&log, &proposed(&p384, b"artifact")).await;
    assert_eq!((status, v["code"].as_u64()), (400, Some(400)), "{v}");
    assert_eq!(log.tree_size().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiles_match_the_stored_tree() {
    let log = start_log(LogKeyType::EcdsaP256).await;
    let signer = p256();
    let entries: Vec<Value> = (0..300)
        .map(|i| proposed(&signer, format!("tile artifact {i}").as_bytes()))
        .collect();
    for chunk in entries.chunks(50) {
        let results = futures::future::join_all(chunk.iter().map(|e| append(&log, e))).await;
        assert!(results.iter().all(|r| r.0 == 201));
    }
    assert_eq!(log.tree_size().await, 300);
    let mut bodies = Vec::new();
    let mut store = MemoryHashStore::new();
    for i in 0..300 {
        let (status, v) = log
            .get_json(&format!("/api/v1/log/entries?logIndex={i}"))
            .await;
        assert_eq!(status, 200);
        let e = v.as_object().expect("obj").values().next().expect("entry");
        let body = STANDARD
            .decode(e["body"].as_str().expect("b"))
            .expect("b64");
        store.append_data(&body).expect("append");
        bodies.push(body);
    }
    let (_, info) = log.get_json("/api/v1/log").await;
    assert_eq!(
        info["rootHash"].as_str(),
        Some(store.root().to_hex().as_str())
    );
    for (tile, cache) in [
        (Tile::new(0, 0, 256).expect("tile"), "immutable"),
        (Tile::new(0, 1, 44).expect("tile"), "max-age=60"),
        (Tile::new(1, 0, 1).expect("tile"), "max-age=60"),
    ] {
        let (status, headers, data) = log.get(&format!("/{}", tile.path())).await;
        assert_eq!(status, 200, "{}", tile.path());
        assert!(
            headers["cache-control"]
                .to_str()
                .expect("cc")
                .contains(cache)
        );
        assert_eq!(
            data,
            read_tile_data(&tile, &store).expect("tile data"),
            "{}",
            tile.path()
        );
    }
    let (status, headers, bundle) = log.get("/tile/entries/000").await;
    assert_eq!(status, 200);
    assert!(
        headers["cache-control"]
            .to_str()
            .expect("cc")
            .contains("immutable")
    );
    let parsed = hallmark_tlog::tiles::parse_entry_bundle(&bundle).expect("bundle");
    assert_eq!(parsed.len(), 256);
    assert!(parsed.iter().zip(&bodies).all(|(a, b)| a == b));
    let (status, _, bundle) = log.get("/tile/entries/001.p/44").await;
    assert_eq!(status, 200);
    assert_eq!(
        hallmark_tlog::tiles::parse_entry_bundle(&bundle)
            .expect("b")
            .len(),
        44
    );
    for missing in [
        "/tile/0/001",
        "/tile/0/001.p/45",
        "/tile/2/000.p/1",
        "/tile/entries/002",
        "/tile/0/01",
    ] {
        let (status, _, _) = log.get(missing).await;
        assert_eq!(status, 404, "{missing}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_log_key_and_restart() {
    let mut log = start_log(LogKeyType::Ed25519).await;
    let key = log_key(&log).await;
    assert_eq!(key.algorithm(), KeyAlgorithm::Ed25519);
    let signer = p256();
    let before_restart = proposed(&signer, b"before restart");
    let (status, _, v) = append(&log, &before_restart).await;
    assert_eq!(status, 201, "{v}");
    let (_, _, _, _) = check_entry(&key, &v);
    let (_, before) = log.get_json("/api/v1/log").await;
    // Key file mode 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(log.dir.path().join("log-key.pem"))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    if let Some(server) = log.server.take() {
        server.shutdown().await.expect("shutdown");
    }
    let server = start_in(log.dir.path(), LogKeyType::EcdsaP256).await;
    log.url = format!("http://{}", server.addr());
    log.server = Some(server);
    assert_eq!(log_key(&log).await, key, "the stored key is reused");
    let (_, after) = log.get_json("/api/v1/log").await;
    assert_eq!(after["rootHash"], before["rootHash"]);
    let (status, _, v) = append(&log, &proposed(&signer, b"after restart")).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(check_entry(&key, &v).1, 1);
    let (status, _, v) = append(&log, &before_restart).await;
    assert_eq!(status, 409, "{v}");
}

/// A DSSE envelope over `payload`, signed by `key`, as JSON text.
fn envelope(key: &SigningKey, payload: &[u8]) -> String {
    envelope_signed(&[(key, "")], payload)
}

/// A DSSE envelope over `payload` with one signature per (key, keyid), in order.
fn envelope_signed(signers: &[(&SigningKey, &str)], payload: &[u8]) -> String {
    let payload_type = "application/vnd.in-toto+json";
    let pae = hallmark_core::dsse::pae(payload_type, payload);
    let signatures: Vec<Value> = signers
        .iter()
        .map(|(key, keyid)| json!({"keyid": keyid, "sig": STANDARD.encode(key.sign(&pae).expect("sign"))}))
        .collect();
    json!({
        "payloadType": payload_type,
        "payload": STANDARD.encode(payload),
        "signatures": signatures,
    })
    .to_string()
}

fn dsse_proposed(envelope: &str, verifiers: &[&str]) -> Value {
    json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {"proposedContent": {
            "envelope": envelope,
            "verifiers": verifiers.iter().map(|v| STANDARD.encode(v)).collect::<Vec<_>>(),
        }},
    })
}

/// `dsse` 0.0.1 entries (what cosign 3 logs for its bundles): the envelope's signature is checked
/// over its pre-authentication encoding; Rekor's body (hashes, signature, verifier) is stored
/// and found again by the proposed entry; a bad signature or a verifier that signed nothing
/// are refused and append nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dsse_entries_are_checked_and_stored_as_rekor_does() {
    let log = start_log(LogKeyType::EcdsaP256).await;
    let key = log_key(&log).await;
    let signer = p256();
    let pem = signer.public_key().to_pem();
    let statement = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"aa"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}"#;
    let env = envelope(&signer, statement);
    let entry = dsse_proposed(&env, &[&pem]);
    let (status, _, v) = append(&log, &entry).await;
    assert_eq!(status, 201, "{v}");
    let (_, index, _, body) = check_entry(&key, &v);
    assert_eq!(index, 0);
    let proposed =
        hallmark_tlog::rekor::DsseRekord::new(&env, vec![pem.clone().into_bytes()]).expect("entry");
    let expected = proposed
        .pair(|_, _| true) // one signature, one verifier: the only pairing
        .expect("paired")
        .canonical_body();
    assert_eq!(body, expected);
    let stored: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(stored["kind"], "dsse");
    assert!(stored["spec"].get("proposedContent").is_none(), "{stored}");
    // The same entry again: 409 with the existing one; also with a verifier after the one that
    // made the signature, which Rekor does not reach (the body is the same).
    let (status, _, _) = append(&log, &entry).await;
    assert_eq!(status, 409);
    let other = p256().public_key().to_pem();
    let (status, _, _) = append(&log, &dsse_proposed(&env, &[&pem, &other])).await;
    assert_eq!(status, 409);
    // Found by the proposed entry.
    let (status, _, found) = log
        .post(
            "/api/v1/log/entries/retrieve",
            json!({"entries": [entry]}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");

    let tampered = env.replace(
        &STANDARD.encode(statement),
        &STANDARD.encode(b"{\"another\":\"statement\"}"),
    );
    for (attack, bad, expect) in [
        (
            "another verifier",
            dsse_proposed(&env, &[&other]),
            "verifiers[0] verifies none",
        ),
        (
            "a payload the signature is not over",
            dsse_proposed(&tampered, &[&pem]),
            "verifiers[0] verifies none",
        ),
        (
            "a first verifier that signed nothing",
            dsse_proposed(&env, &[&other, &pem]),
            "verifiers[0] verifies none of the envelope's 1 signature(s)",
        ),
        (
            "no verifier",
            dsse_proposed(&env, &[]),
            "expected at least one verifier",
        ),
        (
            "no envelope JSON",
            dsse_proposed("not json", &[&pem]),
            "spec.proposedContent.envelope",
        ),
        (
            "another apiVersion",
            {
                let mut e = entry.clone();
                e["apiVersion"] = json!("0.0.2");
                e
            },
            "this log accepts hashedrekord 0.0.1 or dsse 0.0.1",
        ),
    ] {
        let (status, _, v) = append(&log, &bad).await;
        assert_eq!(status, 400, "{attack}: {v}");
        let message = v["message"].as_str().unwrap_or_default();
        assert!(message.contains(expect), "{attack}: {message}");
    }
    assert_eq!(log.tree_size().await, 1);
}

/// A `dsse` envelope with several signatures, as Rekor takes it: every signature must be made
/// by one of the verifiers, each verifier is paired with the first signature it verifies, the
/// body lists the signatures sorted with their verifiers, and a signature's `keyid`, when
/// present, must be its verifier's SSH key ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dsse_entries_with_several_signatures_are_paired_as_rekor_does() {
    let log = start_log(LogKeyType::EcdsaP256).await;
    let key = log_key(&log).await;
    let (first, second) = (p256(), p256());
    let (pem1, pem2) = (first.public_key().to_pem(), second.public_key().to_pem());
    let statement = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"bb"}}],"predicateType":"https://example.com/two","predicate":{}}"#;
    let id2 = second.public_key().ssh_key_id().expect("an SSH key ID");
    let env = envelope_signed(&[(&first, ""), (&second, &id2)], statement);
    // The verifiers in the other order: pairing is by verification, not position.
    let (status, _, v) = append(&log, &dsse_proposed(&env, &[&pem2, &pem1])).await;
    assert_eq!(status, 201, "{v}");
    let (_, _, _, body) = check_entry(&key, &v);
    let stored: Value = serde_json::from_slice(&body).expect("json");
    let sigs: Vec<Value> = serde_json::from_str::<Value>(&env).expect("json")["signatures"]
        .as_array()
        .expect("signatures")
        .clone();
    let mut expected = vec![
        (sigs[0]["sig"].as_str().expect("sig"), &pem1),
        (sigs[1]["sig"].as_str().expect("sig"), &pem2),
    ];
    expected.sort();
    let listed = stored["spec"]["signatures"].as_array().expect("signatures");
    assert_eq!(listed.len(), 2, "{stored}");
    for (got, (sig, pem)) in listed.iter().zip(&expected) {
        assert_eq!(got["signature"], *sig, "{stored}");
        assert_eq!(got["verifier"], STANDARD.encode(pem), "{stored}");
    }

    let third = p256();
    let pem3 = third.public_key().to_pem();
    let id1 = first.public_key().ssh_key_id().expect("an SSH key ID");
    let many: Vec<(&SigningKey, &str)> = (0..17).map(|_| (&first, "")).collect();
    for (attack, env, verifiers, expect) in [
        (
            "a signature no verifier made",
            envelope_signed(&[(&first, ""), (&third, "")], statement),
            vec![pem1.as_str()],
            "signatures[1] is verified by none of the 1 verifier(s)",
        ),
        (
            "one key's two signatures (each verifier pairs with one)",
            envelope_signed(&[(&first, ""), (&first, "")], statement),
            vec![&pem1, &pem1],
            "signatures[1] is verified by none",
        ),
        (
            "a keyid naming another key",
            envelope_signed(&[(&first, &id2)], statement),
            vec![&pem1],
            "verifiers[0] verifies none",
        ),
        (
            "a verifier that signed nothing, before the one that did",
            envelope_signed(&[(&first, &id1)], statement),
            vec![&pem3, &pem1],
            "verifiers[0] verifies none",
        ),
        (
            "a verifier that does not parse, reached",
            env.clone(),
            vec!["not a PEM", &pem1],
            "spec.proposedContent.verifiers[0]",
        ),
        (
            "more signatures than the log takes (refused before any is checked)",
            envelope_signed(&many, statement),
            vec![&pem1],
            "17 signatures in the envelope; this log accepts at most 16",
        ),
        (
            "more verifiers than the log takes",
            env.clone(),
            vec![pem1.as_str(); 17],
            "17 verifiers; this log accepts at most 16",
        ),
    ] {
        let (status, _, v) = append(&log, &dsse_proposed(&env, &verifiers)).await;
        assert_eq!(status, 400, "{attack}: {v}");
        let message = v["message"].as_str().unwrap_or_default();
        assert!(message.contains(expect), "{attack}: {message}");
    }
    // Once every signature is paired, later verifiers are neither parsed nor checked (Rekor
    // stops there).
    let env = envelope_signed(&[(&first, &id1)], statement);
    let (status, _, v) = append(&log, &dsse_proposed(&env, &[&pem1, "not a PEM"])).await;
    assert_eq!(status, 201, "{v}");
    let (status, _, v) = append(&log, &dsse_proposed(&env, &[&pem1, &pem3])).await;
    assert_eq!(status, 409, "the same body: {v}");
    let (_, _, _, body) = check_entry(&key, &v);
    let stored: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        stored["spec"]["signatures"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        stored["spec"]["signatures"][0]["verifier"],
        STANDARD.encode(&pem1)
    );
    assert_eq!(log.tree_size().await, 2);
}
