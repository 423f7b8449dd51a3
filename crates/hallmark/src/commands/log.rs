//! `hallmark log serve` (the transparency log server) and the hidden benchmark helpers
//! `hallmark debug tlog-load` (load generator) and `hallmark debug tlog-seed`.

use crate::cli::{LogCommand, LogKeyTypeArg, LogServeArgs};
use crate::commands::tlog_client;
use crate::context::Context;
use anyhow::{Context as _, Result, anyhow, bail};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use clap::{Args, ValueEnum};
use hallmark_core::{Digest, KeyAlgorithm, SigningKey};
use hallmark_tlog::checkpoint::Checkpoint;
use hallmark_tlog::note::{EcdsaNoteVerifier, Ed25519NoteVerifier, NoteVerifier};
use hallmark_tlog::rekor::HashedRekord;
use hallmark_tlog::{Hash, leaf_hash, verify_inclusion};
use hallmark_tlog_server::{Config, LogKeyType, Server};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `$XDG_DATA_HOME/hallmark` (else `~/.local/share/hallmark`): where servers keep their data
/// directories by default.
pub(crate) fn data_home() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("hallmark")
}

fn default_data_dir() -> PathBuf {
    data_home().join("log")
}

pub(crate) async fn run(ctx: &Context, cmd: LogCommand) -> Result<ExitCode> {
    match cmd {
        LogCommand::Serve(a) => serve(a).await,
        LogCommand::TrustedRoot(a) => tlog_client::trusted_root(ctx, a).await,
        LogCommand::Verify(a) => tlog_client::verify(ctx, a).await,
        LogCommand::Search(a) => tlog_client::search(ctx, a).await,
        LogCommand::Vkey(a) => tlog_client::vkey(a).await,
    }
}

async fn serve(a: LogServeArgs) -> Result<ExitCode> {
    let addr: SocketAddr = a
        .addr
        .parse()
        .with_context(|| format!("--addr {:?}: expected IP:PORT", a.addr))?;
    crate::commands::serve::reach(a.allow_remote).check(addr, "the log")?;
    let data_dir = a.data_dir.unwrap_or_else(default_data_dir);
    let mut config = Config::new(&data_dir);
    config.limits = a.connections.limits();
    let a_database_set = a.database.is_some();
    config.database = a.database;
    config.origin = a.origin;
    config.key_type = match a.log_key_type {
        LogKeyTypeArg::EcdsaP256 => LogKeyType::EcdsaP256,
        LogKeyTypeArg::Ed25519 => LogKeyType::Ed25519,
    };
    if let Some(path) = &a.witness_policy {
        config.witness_policy = Some(tlog_client::witness_policy(path)?);
    }
    config.tuning.max_batch = a.max_batch.max(1);
    config.tuning.batch_wait = Duration::from_millis(a.batch_wait_ms);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let server = Server::start(config, listener)
        .await
        .context("starting the log")?;
    let storage = if a_database_set {
        "PostgreSQL".to_owned()
    } else {
        format!("SQLite in {}", data_dir.display())
    };
    eprintln!(
        "hallmark log: serving on http://{} ({storage}); SIGTERM or Ctrl-C stops it",
        server.addr()
    );
    hallmark_serve::shutdown_signal().await;
    eprintln!("hallmark log: stopping");
    server.shutdown().await.context("stopping the log")?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LoadMode {
    /// POST pre-signed hashedrekord entries.
    Append,
    /// GET entries by random index (each answer carries an inclusion proof).
    Inclusion,
    /// GET consistency proofs between random sizes.
    Consistency,
}

#[derive(Debug, Args)]
pub(crate) struct TlogLoadArgs {
    /// The log's base URL, e.g. http://127.0.0.1:3000.
    #[arg(long)]
    pub(crate) url: String,
    /// Concurrent clients (each with one request in flight).
    #[arg(long, default_value_t = 64)]
    pub(crate) clients: usize,
    /// How long to run, e.g. 10s or 500ms.
    #[arg(long, default_value = "10s", value_parser = crate::cli::parse_duration)]
    pub(crate) duration: Duration,
    /// What to request.
    #[arg(long, value_enum, default_value_t = LoadMode::Append)]
    pub(crate) mode: LoadMode,
    /// Entries to pre-sign for append mode (the run stops early if they run out).
    #[arg(long, default_value_t = 200_000)]
    pub(crate) entries: usize,
    /// Verify the checkpoint signature of every Nth answer (inclusion proofs are always
    /// verified).
    #[arg(long, default_value_t = 64)]
    pub(crate) verify_every: u64,
}

#[derive(Debug, Args)]
pub(crate) struct TlogSeedArgs {
    /// The log's data directory.
    #[arg(long)]
    pub(crate) data_dir: PathBuf,
    /// A postgres://... URL instead of SQLite in the data directory.
    #[arg(long, env = "HALLMARK_LOG_DATABASE", hide_env_values = true)]
    pub(crate) database: Option<String>,
    /// The log's origin (needed when the log is new).
    #[arg(long)]
    pub(crate) origin: Option<String>,
    /// Entries to append.
    #[arg(long)]
    pub(crate) count: u64,
    /// Entries per sequencer batch.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) batch: usize,
}

/// Signed entries, made on every core: (proposed-entry JSON, leaf hash of its canonical body).
fn presign(count: usize, tag: &str) -> Result<Vec<(Vec<u8>, Hash)>> {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256)?;
    let pem = key.public_key().to_pem();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = count.div_ceil(threads.max(1)).max(1);
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let make = |i: usize| -> Result<(Vec<u8>, Hash)> {
        let artifact = format!("hallmark tlog {tag} {nonce} {i}");
        let digest = Digest::sha256_of(artifact.as_bytes());
        let signature = key.sign(artifact.as_bytes())?;
        let entry = HashedRekord {
            digest: digest.clone(),
            signature: signature.clone(),
            signer_pem: pem.as_bytes().to_vec(),
        };
        let json = json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                "signature": {
                    "content": STANDARD.encode(&signature),
                    "publicKey": {"content": STANDARD.encode(pem.as_bytes())}
                }
            }
        });
        Ok((json.to_string().into_bytes(), entry.leaf_hash()))
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let make = &make;
                s.spawn(move || {
                    (t * per..((t + 1) * per).min(count))
                        .map(make)
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(count);
        for h in handles {
            out.extend(h.join().map_err(|_| anyhow!("signing thread panicked"))??);
        }
        Ok(out)
    })
}

/// What the log must spend on cryptography per append, measured on one core with the server's
/// own code: checking the entry (`entry::validate`: its P-256 signature, with the parsing
/// around it) and signing its SET with a P-256 log key. Microseconds each, best of 3 rounds.
fn crypto_floor(entries: &[(Vec<u8>, Hash)]) -> Result<(f64, f64)> {
    let sample = &entries[..entries.len().min(500)];
    if sample.is_empty() {
        bail!("no entries to measure");
    }
    let key = hallmark_tlog_server::LogKey::new(
        SigningKey::generate(KeyAlgorithm::EcdsaP256)?,
        "floor.example/log",
    )?;
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        let t = Instant::now();
        let mut bodies = Vec::with_capacity(sample.len());
        for (body, _) in sample {
            let valid = hallmark_tlog_server::entry::validate(body)
                .map_err(|e| anyhow!("a pre-signed entry does not validate: {}", e.message))?;
            bodies.push(valid.body);
        }
        let validate = t.elapsed().as_secs_f64() * 1e6 / sample.len() as f64;
        let t = Instant::now();
        for (i, body) in bodies.iter().enumerate() {
            key.sign_set(body, 1_700_000_000, i as u64)?;
        }
        let sign = t.elapsed().as_secs_f64() * 1e6 / sample.len() as f64;
        best = (best.0.min(validate), best.1.min(sign));
    }
    Ok(best)
}

/// Canonical bodies for seeding, signed on every core, `chunk` at a time.
fn seed_bodies(count: u64, chunk: usize) -> Result<impl Iterator<Item = Vec<u8>>> {
    let key = Arc::new(SigningKey::generate(KeyAlgorithm::EcdsaP256)?);
    let pem = key.public_key().to_pem().into_bytes();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut next = 0u64;
    let chunks = std::iter::from_fn(move || {
        if next >= count {
            return None;
        }
        let end = (next + chunk as u64).min(count);
        let range: Vec<u64> = (next..end).collect();
        next = end;
        let per = range.len().div_ceil(threads).max(1);
        let bodies: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = range
                .chunks(per)
                .map(|part| {
                    let key = key.clone();
                    let pem = &pem;
                    s.spawn(move || {
                        part.iter()
                            .filter_map(|i| {
                                let artifact = format!("hallmark tlog seed {nonce} {i}");
                                let signature = key.sign(artifact.as_bytes()).ok()?;
                                Some(
                                    HashedRekord {
                                        digest: Digest::sha256_of(artifact.as_bytes()),
                                        signature,
                                        signer_pem: pem.clone(),
                                    }
                                    .canonical_body(),
                                )
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        Some(bodies)
    });
    Ok(chunks.flatten())
}

pub(crate) async fn seed(a: TlogSeedArgs) -> Result<ExitCode> {
    let mut config = Config::new(&a.data_dir);
    config.database = a.database;
    config.origin = a.origin;
    let t0 = Instant::now();
    let bodies = seed_bodies(a.count, a.batch.max(1))?;
    let size = hallmark_tlog_server::seed(&config, bodies, a.batch.max(1))
        .await
        .context("seeding the log")?;
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"appended": a.count, "tree_size": size, "seconds": secs,
               "appends_per_second": a.count as f64 / secs.max(1e-9)})
    );
    Ok(ExitCode::SUCCESS)
}

struct Shared {
    ok: AtomicU64,
    conflicts: AtomicU64,
    errors: AtomicU64,
    bad_proofs: AtomicU64,
    next: AtomicUsize,
}

/// The log's checkpoint verifier, from its public key and origin.
async fn log_verifier(
    client: &reqwest::Client,
    url: &str,
) -> Result<(Box<dyn NoteVerifier + Send + Sync>, u64)> {
    let pem = client
        .get(format!("{url}/api/v1/log/publicKey"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let key = hallmark_core::PublicKey::from_pem(&pem, "log public key")?;
    let info: Value = client
        .get(format!("{url}/api/v1/log"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let note = info["signedTreeHead"]
        .as_str()
        .ok_or_else(|| anyhow!("no signedTreeHead"))?;
    let origin = note.lines().next().unwrap_or_default().to_owned();
    let size = info["treeSize"].as_u64().unwrap_or(0);
    let verifier: Box<dyn NoteVerifier + Send + Sync> = match key.algorithm() {
        KeyAlgorithm::Ed25519 => {
            let spki = key.spki_der();
            Box::new(Ed25519NoteVerifier::new(
                &origin,
                &spki[spki.len().saturating_sub(32)..],
            )?)
        }
        _ => Box::new(EcdsaNoteVerifier::new(&origin, key)?),
    };
    Ok((verifier, size))
}

fn hashes(v: &Value) -> Option<Vec<Hash>> {
    v.as_array()?
        .iter()
        .map(|h| Hash::from_hex(h.as_str()?).ok())
        .collect()
}

/// Check a LogEntry answer: the inclusion proof, and (if `check_note`) the checkpoint.
fn check_entry(v: &Value, verifier: &dyn NoteVerifier, check_note: bool) -> bool {
    let Some(e) = v.as_object().and_then(|o| o.values().next()) else {
        return false;
    };
    let Some(body) = e["body"].as_str().and_then(|b| STANDARD.decode(b).ok()) else {
        return false;
    };
    let p = &e["verification"]["inclusionProof"];
    let (Some(index), Some(size), Some(root), Some(proof)) = (
        p["logIndex"].as_u64(),
        p["treeSize"].as_u64(),
        p["rootHash"].as_str().and_then(|r| Hash::from_hex(r).ok()),
        hashes(&p["hashes"]),
    ) else {
        return false;
    };
    if verify_inclusion(&leaf_hash(&body), index, size, &proof, &root).is_err() {
        return false;
    }
    if check_note {
        let note = p["checkpoint"].as_str().unwrap_or_default();
        match Checkpoint::open(note.as_bytes(), &[verifier]) {
            Ok((cp, _)) => cp.size() == size && *cp.root() == root,
            Err(_) => false,
        }
    } else {
        true
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

pub(crate) async fn load(a: TlogLoadArgs) -> Result<ExitCode> {
    let url = a.url.trim_end_matches('/').to_owned();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.clients.max(1))
        .timeout(Duration::from_secs(60))
        .http1_only()
        .build()?;
    let (verifier, size) = log_verifier(&client, &url).await?;
    let verifier: Arc<dyn NoteVerifier + Send + Sync> = Arc::from(verifier);
    let entries = if a.mode == LoadMode::Append {
        let t0 = Instant::now();
        let e = presign(a.entries, "load")?;
        eprintln!(
            "pre-signed {} entries in {:.1} s",
            e.len(),
            t0.elapsed().as_secs_f64()
        );
        e
    } else {
        if size < 2 {
            bail!("the log has {size} entries; proofs need at least 2");
        }
        Vec::new()
    };
    let floor = if a.mode == LoadMode::Append {
        Some(crypto_floor(&entries)?)
    } else {
        None
    };
    let entries = Arc::new(entries);
    let shared = Arc::new(Shared {
        ok: AtomicU64::new(0),
        conflicts: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        bad_proofs: AtomicU64::new(0),
        next: AtomicUsize::new(0),
    });
    let start = Instant::now();
    let deadline = start + a.duration;
    let mut tasks = Vec::new();
    for c in 0..a.clients.max(1) {
        let client = client.clone();
        let url = url.clone();
        let entries = entries.clone();
        let shared = shared.clone();
        let verifier = verifier.clone();
        let mode = a.mode;
        let every = a.verify_every.max(1);
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u64> = Vec::new();
            let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (c as u64).wrapping_mul(0x2545_f491_4f6c_dd1d);
            let mut n = 0u64;
            while Instant::now() < deadline {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                n += 1;
                let t0 = Instant::now();
                let result = match mode {
                    LoadMode::Append => {
                        let i = shared.next.fetch_add(1, Ordering::Relaxed);
                        let Some((body, _)) = entries.get(i) else {
                            break;
                        };
                        client
                            .post(format!("{url}/api/v1/log/entries"))
                            .header("content-type", "application/json")
                            .body(body.clone())
                            .send()
                            .await
                    }
                    LoadMode::Inclusion => {
                        client
                            .get(format!("{url}/api/v1/log/entries?logIndex={}", rng % size))
                            .send()
                            .await
                    }
                    LoadMode::Consistency => {
                        let first = 1 + rng % (size - 1);
                        let last = first + 1 + (rng >> 20) % (size - first);
                        client
                            .get(format!(
                                "{url}/api/v1/log/proof?firstSize={first}&lastSize={last}"
                            ))
                            .send()
                            .await
                    }
                };
                let Ok(response) = result else {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let status = response.status().as_u16();
                let Ok(v) = response.json::<Value>().await else {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                latencies.push(t0.elapsed().as_micros() as u64);
                match status {
                    200 | 201 => {
                        shared.ok.fetch_add(1, Ordering::Relaxed);
                        let good = match mode {
                            LoadMode::Consistency => hashes(&v["hashes"]).is_some(),
                            _ => check_entry(&v, verifier.as_ref(), n.is_multiple_of(every)),
                        };
                        if !good {
                            shared.bad_proofs.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    409 => {
                        shared.conflicts.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        shared.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let ok = shared.ok.load(Ordering::Relaxed);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let crypto_floor = floor.map(|(validate, sign)| {
        json!({
            "validate_entry_us": validate,
            "sign_set_us": sign,
            "cpus": cpus,
            "appends_per_second_ceiling": cpus as f64 * 1e6 / (validate + sign),
        })
    });
    let report = json!({
        "mode": format!("{:?}", a.mode).to_lowercase(),
        "crypto_floor": crypto_floor,
        "clients": a.clients,
        "seconds": elapsed,
        "ok": ok,
        "conflicts": shared.conflicts.load(Ordering::Relaxed),
        "errors": shared.errors.load(Ordering::Relaxed),
        "bad_proofs": shared.bad_proofs.load(Ordering::Relaxed),
        "per_second": ok as f64 / elapsed.max(1e-9),
        "latency_ms": {
            "p50": percentile(&latencies, 0.50),
            "p99": percentile(&latencies, 0.99),
            "max": percentile(&latencies, 1.0),
        },
        "tree_size_at_start": size,
    });
    println!("{report}");
    if shared.bad_proofs.load(Ordering::Relaxed) > 0 {
        bail!("some answers did not verify");
    }
    Ok(ExitCode::SUCCESS)
}
