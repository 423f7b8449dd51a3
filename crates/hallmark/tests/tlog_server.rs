//! `hallmark log serve` as a process: SIGKILLed at random points during a stream of appends
//! (SQLite; and with a witness, both SIGKILLed in turn), and two processes over one PostgreSQL
//! database. After each run every acknowledged
//! entry is in the log exactly once at its acknowledged index, and consistency proofs verify
//! between the checkpoints the log published.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{Digest, KeyAlgorithm, PublicKey, SigningKey};
use hallmark_tlog::checkpoint::Checkpoint;
use hallmark_tlog::note::EcdsaNoteVerifier;
use hallmark_tlog::tiles::parse_entry_bundle;
use hallmark_tlog::{Hash, MemoryHashStore, leaf_hash, verify_consistency, verify_inclusion};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// One HTTP/1.1 exchange (`Connection: close`); `None` on any transport error.
fn try_http(addr: &str, method: &str, target: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
    let sock: SocketAddr = addr.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(30))).ok()?;
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status_line = std::str::from_utf8(&raw[..split]).ok()?.lines().next()?;
    let status: u16 = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let head = std::str::from_utf8(&raw[..split])
        .ok()?
        .to_ascii_lowercase();
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body)?;
    }
    Some((status, body))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).ok()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

fn get_json(addr: &str, target: &str) -> (u16, Value) {
    let (status, body) =
        try_http(addr, "GET", target, b"").unwrap_or_else(|| panic!("GET {target} on {addr}"));
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("GET {target}: not JSON ({e}): {body:?}"));
    (status, v)
}

fn free_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// A `hallmark log serve` child process.
struct Serve {
    child: Child,
}

impl Serve {
    fn start(addr: &str, data_dir: &Path, database: Option<&str>, origin: &str) -> Serve {
        Self::start_with(addr, data_dir, database, origin, &[])
    }

    fn start_with(
        addr: &str,
        data_dir: &Path,
        database: Option<&str>,
        origin: &str,
        extra: &[&std::ffi::OsStr],
    ) -> Serve {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.with_extension(format!("{}.log", addr.replace(':', "_"))))
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hallmark"));
        cmd.args([
            "log",
            "serve",
            "--addr",
            addr,
            "--origin",
            origin,
            "--data-dir",
        ])
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
        if let Some(url) = database {
            cmd.args(["--database", url]);
        }
        cmd.args(extra);
        let child = cmd.spawn().expect("spawn hallmark log serve");
        let mut s = Serve { child };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some((200, _)) = try_http(addr, "GET", "/api/v1/log", b"") {
                return s;
            }
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("hallmark log serve on {addr} exited during startup: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "hallmark log serve on {addr} not ready in 30 s"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Pre-signed entries: (proposed-entry JSON, leaf hash of the canonical body).
fn signed_entries(count: usize, tag: &str) -> Vec<(Vec<u8>, Hash)> {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let pem = key.public_key().to_pem();
    (0..count)
        .map(|i| {
            let artifact = format!("crash test {tag} {i}");
            let digest = Digest::sha256_of(artifact.as_bytes());
            let signature = key.sign(artifact.as_bytes()).unwrap();
            let entry = hallmark_tlog::rekor::HashedRekord {
                digest: digest.clone(),
                signature: signature.clone(),
                signer_pem: pem.as_bytes().to_vec(),
            };
            let json = json!({
                "apiVersion": "0.0.1", "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                    "signature": {"content": STANDARD.encode(&signature),
                                  "publicKey": {"content": STANDARD.encode(pem.as_bytes())}}
                }
            });
            (json.to_string().into_bytes(), entry.leaf_hash())
        })
        .collect()
}

/// What clients observed: acknowledged entries and every checkpoint seen.
#[derive(Default)]
struct Observed {
    /// leaf hash -> acknowledged index
    acked: HashMap<Hash, u64>,
    /// checkpoint notes seen, by size
    checkpoints: BTreeMap<u64, Vec<String>>,
    created: usize,
    conflicts: usize,
}

/// Submit one entry; `Some(true)` once acknowledged (201 or 409), `Some(false)` for another
/// answer, `None` when the outcome is unknown (transport error).
fn submit(addr: &str, entry: &(Vec<u8>, Hash), seen: &Mutex<Observed>) -> Option<bool> {
    let (status, body) = try_http(addr, "POST", "/api/v1/log/entries", &entry.0)?;
    if status != 201 && status != 409 {
        return Some(false);
    }
    let v: Value = serde_json::from_slice(&body).ok()?;
    let (id, e) = v.as_object()?.iter().next()?;
    assert_eq!(&id[16..], entry.1.to_hex(), "answer for another entry");
    let index = e["logIndex"].as_u64()?;
    let p = &e["verification"]["inclusionProof"];
    let proof: Vec<Hash> = p["hashes"]
        .as_array()?
        .iter()
        .map(|h| Hash::from_hex(h.as_str().unwrap()).unwrap())
        .collect();
    let size = p["treeSize"].as_u64()?;
    let root = Hash::from_hex(p["rootHash"].as_str()?).ok()?;
    verify_inclusion(&entry.1, index, size, &proof, &root).expect("acknowledged proof verifies");
    let mut seen = seen.lock().unwrap();
    if let Some(previous) = seen.acked.insert(entry.1, index) {
        assert_eq!(previous, index, "an entry was acknowledged at two indexes");
    }
    if status == 201 {
        seen.created += 1;
    } else {
        seen.conflicts += 1;
    }
    seen.checkpoints
        .entry(size)
        .or_default()
        .push(p["checkpoint"].as_str()?.to_owned());
    Some(true)
}

fn log_info_checkpoint(addr: &str, seen: &Mutex<Observed>) {
    if let Some((200, body)) = try_http(addr, "GET", "/api/v1/log", b"")
        && let Ok(v) = serde_json::from_slice::<Value>(&body)
    {
        let size = v["treeSize"].as_u64().unwrap();
        let note = v["signedTreeHead"].as_str().unwrap().to_owned();
        seen.lock()
            .unwrap()
            .checkpoints
            .entry(size)
            .or_default()
            .push(note);
    }
}

/// Check the final log at `addr` against everything observed.
fn check_log(addr: &str, origin: &str, entries: &[(Vec<u8>, Hash)], seen: &Observed) {
    let (status, pem) = try_http(addr, "GET", "/api/v1/log/publicKey", b"").unwrap();
    assert_eq!(status, 200);
    let key = PublicKey::from_pem(std::str::from_utf8(&pem).unwrap(), "log key").unwrap();
    let verifier = EcdsaNoteVerifier::new(origin, key).unwrap();
    let (_, info) = get_json(addr, "/api/v1/log");
    let size = info["treeSize"].as_u64().unwrap();
    // Every leaf, through the entry bundles.
    let mut bodies: Vec<Vec<u8>> = Vec::with_capacity(size as usize);
    let mut n = 0u64;
    while n * 256 < size {
        let width = (size - n * 256).min(256);
        let tile = hallmark_tlog::tiles::Tile::new(0, n, width as u16).unwrap();
        let (status, data) =
            try_http(addr, "GET", &format!("/{}", tile.entries_path()), b"").expect("entry bundle");
        assert_eq!(status, 200, "{}", tile.entries_path());
        let parsed = parse_entry_bundle(&data).unwrap();
        assert_eq!(parsed.len() as u64, width);
        bodies.extend(parsed.into_iter().map(<[u8]>::to_vec));
        n += 1;
    }
    let mut store = MemoryHashStore::new();
    let mut at: HashMap<Hash, u64> = HashMap::new();
    for (i, body) in bodies.iter().enumerate() {
        let leaf = leaf_hash(body);
        store.append_leaf_hash(leaf).unwrap();
        assert!(
            at.insert(leaf, i as u64).is_none(),
            "entry at {i} is in the log twice"
        );
    }
    assert_eq!(store.root().to_hex(), info["rootHash"].as_str().unwrap());
    let ours: HashSet<Hash> = entries.iter().map(|e| e.1).collect();
    assert!(
        at.keys().all(|l| ours.contains(l)),
        "the log holds an entry nobody sent"
    );
    for (leaf, index) in &seen.acked {
        assert_eq!(
            at.get(leaf),
            Some(index),
            "acknowledged entry {leaf} not at {index}"
        );
    }
    // Checkpoints: each verifies, one root per size, consistent with the final tree.
    let mut by_size: BTreeMap<u64, Hash> = BTreeMap::new();
    for (size, notes) in &seen.checkpoints {
        for note in notes {
            let (cp, _) = Checkpoint::open(note.as_bytes(), &[&verifier]).expect("checkpoint");
            assert_eq!(cp.size(), *size);
            if let Some(previous) = by_size.insert(*size, *cp.root()) {
                assert_eq!(previous, *cp.root(), "two roots for tree size {size}");
            }
        }
    }
    let sizes: Vec<(u64, Hash)> = by_size.into_iter().filter(|(s, _)| *s > 0).collect();
    let mut pairs: Vec<((u64, Hash), (u64, Hash))> =
        sizes.windows(2).map(|w| (w[0], w[1])).collect();
    if let (Some(first), Some(last)) = (sizes.first(), sizes.last()) {
        pairs.push((*first, *last));
        pairs.push((*last, (size, store.root())));
    }
    for ((a, ra), (b, rb)) in &pairs {
        let (status, p) = get_json(
            addr,
            &format!("/api/v1/log/proof?firstSize={a}&lastSize={b}"),
        );
        assert_eq!(status, 200, "{p}");
        assert_eq!(p["rootHash"].as_str(), Some(rb.to_hex().as_str()));
        let proof: Vec<Hash> = p["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| Hash::from_hex(h.as_str().unwrap()).unwrap())
            .collect();
        verify_consistency(*a, *b, ra, rb, &proof)
            .unwrap_or_else(|e| panic!("consistency {a} -> {b}: {e}"));
    }
    eprintln!(
        "log of {size} entries: {} acknowledged ({} created, {} conflicts), {} checkpoint sizes, {} consistency proofs verified",
        seen.acked.len(),
        seen.created,
        seen.conflicts,
        sizes.len(),
        pairs.len()
    );
}

/// Clients streaming entries to the addresses in `addrs` (round robin per client) until
/// `stop`; entries with an unknown outcome are sent again later.
fn run_clients(
    addrs: Arc<Mutex<Vec<String>>>,
    entries: Arc<Vec<(Vec<u8>, Hash)>>,
    clients: usize,
    seen: Arc<Mutex<Observed>>,
    stop: Arc<AtomicBool>,
) -> Vec<thread::JoinHandle<Vec<usize>>> {
    (0..clients)
        .map(|c| {
            let (addrs, entries, seen, stop) =
                (addrs.clone(), entries.clone(), seen.clone(), stop.clone());
            thread::spawn(move || {
                let mut unknown: Vec<usize> = Vec::new();
                let mut next = c;
                while !stop.load(Ordering::SeqCst) {
                    let i = if !unknown.is_empty() && next % 4 == 0 {
                        unknown.remove(0)
                    } else if next < entries.len() {
                        let i = next;
                        next += clients;
                        i
                    } else if let Some(i) = unknown.pop() {
                        i
                    } else {
                        break;
                    };
                    let list = addrs.lock().unwrap().clone();
                    let addr = &list[(i / clients) % list.len()];
                    match submit(addr, &entries[i], &seen) {
                        Some(true) => {}
                        Some(false) | None => {
                            unknown.push(i);
                            thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
                unknown
            })
        })
        .collect()
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Settle every entry whose outcome is still unknown, against a running server.
fn settle(addr: &str, entries: &[(Vec<u8>, Hash)], unknown: &[usize], seen: &Mutex<Observed>) {
    for &i in unknown {
        let deadline = Instant::now() + Duration::from_secs(30);
        while submit(addr, &entries[i], seen) != Some(true) {
            assert!(Instant::now() < deadline, "entry {i} never acknowledged");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn sigkill_during_appends_loses_and_duplicates_nothing() {
    const KILLS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    let origin = "crash.test/log";
    let addr = free_addr();
    let entries = Arc::new(signed_entries(30_000, "sqlite"));
    let seen = Arc::new(Mutex::new(Observed::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let addrs = Arc::new(Mutex::new(vec![addr.clone()]));
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}");
    let mut server = Serve::start(&addr, &data, None, origin);
    log_info_checkpoint(&addr, &seen);
    let clients = run_clients(addrs, entries.clone(), 4, seen.clone(), stop.clone());
    let t0 = Instant::now();
    for _ in 0..KILLS {
        thread::sleep(Duration::from_millis(20 + xorshift(&mut seed) % 180));
        server.kill();
        thread::sleep(Duration::from_millis(xorshift(&mut seed) % 20));
        server = Serve::start(&addr, &data, None, origin);
        log_info_checkpoint(&addr, &seen);
    }
    stop.store(true, Ordering::SeqCst);
    let unknown: Vec<usize> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("client thread"))
        .collect();
    eprintln!(
        "{KILLS} SIGKILLs in {:.1} s; settling {} entries with unknown outcome",
        t0.elapsed().as_secs_f64(),
        unknown.len()
    );
    settle(&addr, &entries, &unknown, &seen);
    log_info_checkpoint(&addr, &seen);
    let seen = seen.lock().unwrap();
    assert!(
        seen.created > 500,
        "only {} appends acknowledged",
        seen.created
    );
    assert!(
        seen.acked.len() < entries.len(),
        "the clients ran out of entries before the last kill"
    );
    check_log(&addr, origin, &entries, &seen);
    drop(server);
}

/// A `hallmark witness serve` child process.
struct WitnessProcess {
    child: Child,
}

impl WitnessProcess {
    fn start(addr: &str, dir: &Path, log: &str) -> Self {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.with_extension("log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_hallmark"))
            .args(["witness", "serve", "--addr", addr, "--log", log])
            .args(["--name", "crash-witness.test", "--data-dir"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(out))
            .spawn()
            .expect("spawn hallmark witness serve");
        let mut w = WitnessProcess { child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).is_err() {
            if let Ok(Some(status)) = w.child.try_wait() {
                panic!("hallmark witness serve exited during startup: {status}");
            }
            assert!(Instant::now() < deadline, "witness not ready in 30 s");
            thread::sleep(Duration::from_millis(10));
        }
        w
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn hallmark_stdout(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hallmark"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn sigkill_of_log_and_witness_loses_nothing_and_cosigns_one_history() {
    const KILLS: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    let wdir = dir.path().join("witness");
    let origin = "crash.test/witnessed";
    let (addr, waddr) = (free_addr(), free_addr());
    let log_vkey = {
        let _first = Serve::start(&addr, &data, None, origin);
        hallmark_stdout(&[
            "log".as_ref(),
            "vkey".as_ref(),
            "--tlog-url".as_ref(),
            format!("http://{addr}").as_ref(),
        ])
    };
    let follow = format!("{origin}={log_vkey}");
    let mut witness = WitnessProcess::start(&waddr, &wdir, &follow);
    let witness_vkey = hallmark_stdout(&[
        "witness".as_ref(),
        "vkey".as_ref(),
        "--data-dir".as_ref(),
        wdir.as_os_str(),
    ]);
    let policy = dir.path().join("policy.txt");
    std::fs::write(
        &policy,
        format!("witness w {witness_vkey} http://{waddr}\nquorum w\n"),
    )
    .unwrap();
    let extra = ["--witness-policy".as_ref(), policy.as_os_str()];
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("witnessed crash test seed {seed}");
    let entries = Arc::new(signed_entries(20_000, "witnessed"));
    let seen = Arc::new(Mutex::new(Observed::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut server = Serve::start_with(&addr, &data, None, origin, &extra);
    // Every cosigned checkpoint /checkpoint serves, as a client would see it.
    let cosigned = Arc::new(Mutex::new(BTreeMap::<u64, Vec<String>>::new()));
    let collector = {
        let (addr, cosigned, stop) = (addr.clone(), cosigned.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if let Some((200, body)) = try_http(&addr, "GET", "/checkpoint", b"") {
                    let note = String::from_utf8(body).unwrap();
                    let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
                    cosigned.lock().unwrap().entry(size).or_default().push(note);
                }
                thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let clients = run_clients(
        Arc::new(Mutex::new(vec![addr.clone()])),
        entries.clone(),
        4,
        seen.clone(),
        stop.clone(),
    );
    for k in 0..KILLS {
        thread::sleep(Duration::from_millis(50 + xorshift(&mut seed) % 200));
        if k % 2 == 0 {
            server.kill();
            thread::sleep(Duration::from_millis(xorshift(&mut seed) % 20));
            server = Serve::start_with(&addr, &data, None, origin, &extra);
        } else {
            witness.kill();
            thread::sleep(Duration::from_millis(xorshift(&mut seed) % 20));
            witness = WitnessProcess::start(&waddr, &wdir, &follow);
        }
    }
    stop.store(true, Ordering::SeqCst);
    collector.join().unwrap();
    let unknown: Vec<usize> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("client thread"))
        .collect();
    settle(&addr, &entries, &unknown, &seen);
    log_info_checkpoint(&addr, &seen);
    let cosigned = std::mem::take(&mut *cosigned.lock().unwrap());
    assert!(
        cosigned.len() >= 3,
        "expected cosigned checkpoints of several sizes, found {}",
        cosigned.len()
    );
    // Each one carries a valid cosignature; all of them go into the consistency check.
    let verifier = hallmark_tlog::witness::CosignatureVerifier::from_vkey(&witness_vkey).unwrap();
    {
        let mut seen = seen.lock().unwrap();
        for (size, notes) in cosigned {
            for note in notes {
                hallmark_tlog::note::Note::parse(note.as_bytes())
                    .unwrap()
                    .verify(&[&verifier])
                    .unwrap_or_else(|e| panic!("cosigned checkpoint of size {size}: {e}"));
                seen.checkpoints.entry(size).or_default().push(note);
            }
        }
    }
    let seen = seen.lock().unwrap();
    check_log(&addr, origin, &entries, &seen);
    drop(server);
    drop(witness);
}

#[test]
fn two_processes_over_one_postgres_database() {
    let pg = hallmark_testutil::postgres::start_new();
    let url = pg.create_database("tlog");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    let origin = "pg.test/log";
    let (a_addr, b_addr) = (free_addr(), free_addr());
    let mut a = Serve::start(&a_addr, &data, Some(&url), origin);
    let b = Serve::start(&b_addr, &data, Some(&url), origin);
    let entries = Arc::new(signed_entries(6000, "postgres"));
    let seen = Arc::new(Mutex::new(Observed::default()));
    // The same entries to both processes at once: one appends, the other answers 409.
    let both: Vec<_> = entries[..20].to_vec();
    let dup_threads: Vec<_> = [a_addr.clone(), b_addr.clone()]
        .into_iter()
        .map(|addr| {
            let (both, seen) = (both.clone(), seen.clone());
            thread::spawn(move || {
                for e in &both {
                    assert_eq!(submit(&addr, e, &seen), Some(true));
                }
            })
        })
        .collect();
    for t in dup_threads {
        t.join().unwrap();
    }
    assert_eq!(seen.lock().unwrap().created, 20, "each entry appended once");
    let stop = Arc::new(AtomicBool::new(false));
    let addrs = Arc::new(Mutex::new(vec![a_addr.clone(), b_addr.clone()]));
    let clients = run_clients(addrs, entries.clone(), 8, seen.clone(), stop.clone());
    // Midway, SIGKILL the first process (the sequencer if it started first) and restart it.
    thread::sleep(Duration::from_millis(1000));
    let before_kill = seen.lock().unwrap().acked.len();
    a.kill();
    log_info_checkpoint(&b_addr, &seen);
    thread::sleep(Duration::from_millis(500));
    a = Serve::start(&a_addr, &data, Some(&url), origin);
    // Every client sends all its entries (retrying unknown outcomes) unless this takes a minute.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !clients.iter().all(|c| c.is_finished()) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::SeqCst);
    let unknown: Vec<usize> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("client thread"))
        .collect();
    // On a loaded machine the clients may not reach every entry before the deadline: settle
    // the ones with an unknown outcome and the ones never sent alike.
    let unacked: Vec<usize> = {
        let seen = seen.lock().unwrap();
        (0..entries.len())
            .filter(|&i| !seen.acked.contains_key(&entries[i].1))
            .collect()
    };
    eprintln!(
        "{} entries of unknown outcome, {} not acknowledged at the deadline",
        unknown.len(),
        unacked.len()
    );
    settle(&b_addr, &entries, &unacked, &seen);
    log_info_checkpoint(&a_addr, &seen);
    log_info_checkpoint(&b_addr, &seen);
    let seen = seen.lock().unwrap();
    assert!(
        before_kill < entries.len(),
        "appends were still running at the kill"
    );
    eprintln!("{before_kill} entries acknowledged before the SIGKILL");
    assert_eq!(seen.acked.len(), entries.len(), "every entry acknowledged");
    check_log(&a_addr, origin, &entries, &seen);
    check_log(&b_addr, origin, &entries, &seen);
    drop((a, b, pg));
}
