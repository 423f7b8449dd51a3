//! Transparency-log client commands: `hallmark log trusted-root`, `log verify` (monitoring)
//! and `log search`, and the log client the signing commands upload with.

use crate::{
    cli::{LogSearchArgs, LogTrustedRootArgs, LogVerifyArgs, OutputFormat, TlogUploadArgs},
    context::Context,
    output::load_public_keys,
    secrets::write_file,
};
use anyhow::{Context as _, Result, bail};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{KeyAlgorithm, PublicKey};
use hallmark_sigstore::TrustedLogs;
use hallmark_tlog_client::{
    LogKey, MonitorOutcome, MonitorState, TlogClient, monitor, search::search_key,
};
use serde_json::json;
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

/// The media type of the trusted root printed.
const TRUSTED_ROOT_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.trustedroot+json;version=0.1";

/// The log client for `--tlog-url` / `--tlog-upload`, or `None` when nothing is uploaded.
pub(crate) fn upload_client(a: &TlogUploadArgs) -> Result<Option<TlogClient>> {
    match (&a.tlog_url, a.tlog_upload) {
        (Some(url), true) => Ok(Some(TlogClient::new(url)?)),
        _ => Ok(None),
    }
}

fn rfc3339(secs: i64) -> Result<String> {
    Ok(time::OffsetDateTime::from_unix_timestamp(secs)
        .context("time out of range")?
        .format(&time::format_description::well_known::Rfc3339)?)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The log key to check checkpoints with: the one a `--trusted-root` lists for this log (its
/// `baseUrl`, or its only log), else the key the log serves (trust on first use, said on
/// stderr).
async fn log_key(client: &TlogClient, trusted_root: Option<&Path>) -> Result<(PublicKey, bool)> {
    let Some(file) = trusted_root else {
        return Ok((client.public_key().await?, false));
    };
    let json = std::fs::read(file)
        .with_context(|| format!("reading --trusted-root {}", file.display()))?;
    let logs = TrustedLogs::from_trusted_root(&json)
        .with_context(|| format!("--trusted-root {}", file.display()))?;
    let url = client.base_url();
    let by_url: Vec<_> = logs
        .logs()
        .iter()
        .filter(|l| l.base_url.as_deref().map(|u| u.trim_end_matches('/')) == Some(url.as_str()))
        .collect();
    match (by_url.as_slice(), logs.logs()) {
        ([one], _) => Ok((one.key.clone(), true)),
        ([], [one]) => Ok((one.key.clone(), true)),
        _ => bail!(
            "--trusted-root {}: expected one log with baseUrl {url} (or a single log), found {}",
            file.display(),
            logs.logs().len()
        ),
    }
}

/// `hallmark log trusted-root`.
pub(crate) async fn trusted_root(ctx: &Context, a: LogTrustedRootArgs) -> Result<ExitCode> {
    let client = TlogClient::new(&a.tlog_url)?;
    let key = client.public_key().await?;
    let log_key = LogKey::new(key.clone())?;
    let info = client.log_info().await?;
    let checkpoint = log_key
        .open_checkpoint(&info.signed_tree_head)
        .context("the log's checkpoint is not signed by the key it serves")?;
    let log_id = log_key.log_id_bytes(checkpoint.checkpoint.origin());
    let start = match &a.valid_from {
        Some(t) => time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .with_context(|| format!("--valid-from {t:?}: expected an RFC 3339 time"))?
            .unix_timestamp(),
        None if info.tree_size > 0 => {
            let first = client.entry_by_index(0).await?;
            if key.algorithm() == KeyAlgorithm::EcdsaP256 && first.log_id != hex::encode(log_id) {
                bail!(
                    "the log's entries name log ID {}, but its key's ID is {}",
                    first.log_id,
                    hex::encode(log_id)
                );
            }
            first.integrated_time.min(now_secs())
        }
        None => now_secs(),
    };
    let key_details = match key.algorithm() {
        KeyAlgorithm::EcdsaP256 => "PKIX_ECDSA_P256_SHA_256",
        KeyAlgorithm::Ed25519 => "PKIX_ED25519",
        other => bail!("the log key is {other}, expected ECDSA P-256 or Ed25519"),
    };
    let base_url = client.base_url();
    if !base_url.contains(&checkpoint.key_name) {
        eprintln!(
            "warning: the log signs checkpoints as {:?}, which is not part of {base_url}; sigstore-js matches the checkpoint key name against baseUrl and will reject this log's bundles",
            checkpoint.key_name
        );
    }
    let root = json!({
        "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
        "tlogs": [{
            "baseUrl": base_url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": STANDARD.encode(key.spki_der()),
                "keyDetails": key_details,
                "validFor": {"start": rfc3339(start)?},
            },
            "logId": {"keyId": STANDARD.encode(log_id)},
        }],
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": [],
    });
    let text = format!("{}\n", serde_json::to_string_pretty(&root)?);
    match &a.outfile {
        Some(p) => {
            write_file(p, text.as_bytes(), 0o644, true)?;
            if ctx.output == OutputFormat::Text {
                eprintln!(
                    "wrote the trusted root of {base_url} (log ID {}) to {}",
                    hex::encode(log_id),
                    p.display()
                );
            }
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `$XDG_STATE_HOME/hallmark/tlog/<host>.json` (else `~/.local/state/...`).
fn default_state_path(client: &TlogClient) -> Result<PathBuf> {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .context("neither XDG_STATE_HOME nor HOME is set; give --state FILE")?;
            PathBuf::from(home).join(".local/state")
        }
    };
    let host: String = client
        .host_port()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(base.join("hallmark/tlog").join(format!("{host}.json")))
}

/// `hallmark log verify`.
/// How long a client writing a bundle waits for the log's witnesses to cosign a checkpoint
/// that covers its entry.
pub(crate) const WITNESS_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A witness policy file.
pub(crate) fn witness_policy(
    path: &std::path::Path,
) -> Result<hallmark_tlog::witness::WitnessPolicy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the witness policy {}", path.display()))?;
    hallmark_tlog::witness::WitnessPolicy::parse(&text)
        .with_context(|| format!("witness policy {}", path.display()))
}

/// `hallmark log vkey --tlog-url URL`: the log's key (`/api/v1/log/publicKey`) named by the
/// origin of its checkpoint.
pub(crate) async fn vkey(a: crate::cli::LogVkeyArgs) -> Result<ExitCode> {
    let client = TlogClient::new(&a.tlog_url)?;
    let key = client.public_key().await?;
    let info = client.log_info().await?;
    let origin = info
        .signed_tree_head
        .split('\n')
        .next()
        .filter(|o| !o.is_empty())
        .with_context(|| format!("{}: expected a checkpoint with an origin line", a.tlog_url))?
        .to_owned();
    let vkey = match key.algorithm() {
        hallmark_core::KeyAlgorithm::Ed25519 => {
            hallmark_tlog::note::Ed25519NoteVerifier::new(&origin, key.raw())?.vkey()
        }
        _ => hallmark_tlog::note::EcdsaNoteVerifier::new(&origin, key)?.vkey(),
    };
    println!("{vkey}");
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn verify(ctx: &Context, a: LogVerifyArgs) -> Result<ExitCode> {
    let client = TlogClient::new(&a.tlog_url)?;
    let witnesses = a
        .witness_policy
        .as_deref()
        .map(witness_policy)
        .transpose()?;
    let state_path = match &a.state {
        Some(p) => p.clone(),
        None => default_state_path(&client)?,
    };
    let previous = MonitorState::load(&state_path)?;
    if let Some(p) = &previous
        && p.url != client.base_url()
    {
        eprintln!(
            "warning: {} was recorded for {}, not {}; checking that this log extends it",
            state_path.display(),
            p.url,
            client.base_url()
        );
    }
    let trusted = match &a.trusted_root {
        Some(f) => Some(log_key(&client, Some(f)).await?.0),
        None => None,
    };
    let (outcome, state) = monitor::check(&client, previous.as_ref(), trusted.as_ref())
        .await
        .with_context(|| {
            format!(
                "log {} is NOT consistent with the checkpoint recorded in {}",
                client.base_url(),
                state_path.display()
            )
        })?;
    state.save(&state_path)?;
    let url = client.base_url();
    let cosigned = match &witnesses {
        None => None,
        Some(policy) => {
            let note = client.checkpoint().await?.with_context(|| {
                format!("log {url}: expected a checkpoint at /checkpoint, found none")
            })?;
            let note = hallmark_tlog::note::Note::parse(note.as_bytes())
                .with_context(|| format!("log {url}: the checkpoint at /checkpoint"))?;
            let log_key =
                hallmark_tlog::LogKey::new(PublicKey::from_pem(&state.public_key, "log key")?)?;
            log_key
                .open_checkpoint(&note.to_text())
                .with_context(|| format!("log {url}: the checkpoint at /checkpoint"))?;
            let signed = policy
                .check(&note)
                .with_context(|| format!("log {url}: the checkpoint at /checkpoint"))?;
            Some(signed.into_iter().collect::<Vec<_>>())
        }
    };
    let (status, text) = match &outcome {
        MonitorOutcome::FirstSeen { checkpoint } => (
            "first-seen",
            format!(
                "log {url}: first run, trusting the current checkpoint on first use (TOFU; nothing earlier to compare with): {checkpoint}; log key sha256:{}",
                PublicKey::from_pem(&state.public_key, "log key")?.fingerprint()
            ),
        ),
        MonitorOutcome::Unchanged { checkpoint } => (
            "unchanged",
            format!("log {url}: unchanged since the last run: {checkpoint}"),
        ),
        MonitorOutcome::Grew { old, new } => (
            "consistent",
            format!(
                "log {url}: consistent: grew from {} to {} entries, consistency proof verified; now {new}",
                old.size, new.size
            ),
        ),
    };
    match ctx.output {
        OutputFormat::Text => {
            println!("{text}");
            if let Some(signed) = &cosigned {
                println!(
                    "log {url}: /checkpoint cosigned as the witness policy requires, by {}",
                    signed.join(", ")
                );
            }
            eprintln!("state: {}", state_path.display());
        }
        OutputFormat::Json => println!(
            "{}",
            json!({
                "url": url,
                "status": status,
                "cosigned_by": cosigned,
                "origin": state.origin,
                "tree_size": state.tree_size,
                "root_hash": state.root_hash,
                "previous_tree_size": previous.as_ref().map(|p| p.tree_size),
                "state": state_path.display().to_string(),
            })
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// `hallmark log search`.
pub(crate) async fn search(ctx: &Context, a: LogSearchArgs) -> Result<ExitCode> {
    let key = load_public_keys(std::slice::from_ref(&a.public_key))?.remove(0);
    let client = TlogClient::new(&a.tlog_url)?;
    let (log_public, pinned) = log_key(&client, a.trusted_root.as_deref()).await?;
    if !pinned && ctx.output == OutputFormat::Text {
        eprintln!(
            "note: checking the log's checkpoint with the key it serves (sha256:{}); give --trusted-root to pin it",
            log_public.fingerprint()
        );
    }
    let report = search_key(&client, &LogKey::new(log_public)?, &key).await?;
    let size = report.checkpoint.checkpoint.size();
    match ctx.output {
        OutputFormat::Text => {
            for h in &report.hits {
                let when = match h.integrated_time {
                    Some(t) => rfc3339(t).unwrap_or_else(|_| t.to_string()),
                    None => "-".into(),
                };
                println!("{}\t{}\t{}\t{when}", h.log_index, h.uuid, h.digest);
            }
            eprintln!(
                "{} of {size} entries in {} were made with key sha256:{} (all entries read via {}, checked against the signed checkpoint root)",
                report.hits.len(),
                client.base_url(),
                key.fingerprint(),
                report.method
            );
        }
        OutputFormat::Json => println!(
            "{}",
            json!({
                "url": client.base_url(),
                "key_fingerprint": key.fingerprint(),
                "tree_size": size,
                "root_hash": report.checkpoint.checkpoint.root().to_hex(),
                "method": report.method,
                "entries": report.hits.iter().map(|h| json!({
                    "log_index": h.log_index,
                    "uuid": h.uuid,
                    "digest": h.digest,
                    "signature": h.signature,
                    "integrated_time": h.integrated_time,
                })).collect::<Vec<_>>(),
            })
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// The trusted logs of a `--trusted-root` file (for `verify-blob`).
pub(crate) fn trusted_logs(file: &Path) -> Result<TrustedLogs> {
    let json = std::fs::read(file)
        .with_context(|| format!("reading --trusted-root {}", file.display()))?;
    TrustedLogs::from_trusted_root(&json)
        .with_context(|| format!("--trusted-root {}", file.display()))
}
