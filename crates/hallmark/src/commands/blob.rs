//! `hallmark sign-blob` / `verify-blob`: cosign-compatible signatures over files, optionally
//! logged in a transparency log and written as key-signed Sigstore bundles v0.3.

use crate::output::{term_eprintln, term_println};
use crate::{
    cli::{OutputFormat, SignBlobArgs, VerifyBlobArgs},
    context::Context,
    secrets::{block_on, open_signer, public_keys, write_file},
};
use anyhow::{Context as _, Result, bail};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_flows::log_signature;
use hallmark_keys::Signer as _;
use hallmark_sigstore::{
    TlogPolicy,
    bundle::{build_message_signature_bundle, verify_blob_bundle},
};
use std::process::ExitCode;

pub(crate) async fn sign(ctx: &Context, a: SignBlobArgs) -> Result<ExitCode> {
    let key = open_signer(&a.key).await?;
    let tlog = crate::commands::tlog_client::upload_client(&a.tlog)?;
    if a.bundle.is_some() && tlog.is_none() {
        bail!("--bundle needs a transparency-log entry, but --tlog-upload=false");
    }
    let data = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let raw_sig = key
        .sign(&data)
        .await
        .with_context(|| format!("signing {}", a.file.display()))?;
    let sig = STANDARD.encode(&raw_sig);
    // The log first: a failed upload writes nothing.
    let entry = match &tlog {
        Some(client) => Some(
            log_signature(client, &data, &raw_sig, key.public_key())
                .await
                .with_context(|| format!("logging the signature of {}", a.file.display()))?,
        ),
        None => None,
    };
    if let Some(path) = &a.output_signature {
        write_file(path, sig.as_bytes(), 0o644, true)?;
    }
    // A witnessed log: the bundle carries a checkpoint its witnesses cosigned.
    let entry = match (&a.bundle, &tlog, entry) {
        (Some(_), Some(client), Some(e)) => Some(
            hallmark_tlog_client::witnessed::cosigned_entry(
                client,
                e,
                crate::commands::tlog_client::WITNESS_WAIT,
            )
            .await?,
        ),
        (_, _, e) => e,
    };
    if let (Some(path), Some(entry)) = (&a.bundle, &entry) {
        let bundle = build_message_signature_bundle(
            &data,
            &raw_sig,
            key.public_key(),
            vec![entry.to_bundle_tlog_entry()?],
        );
        write_file(
            path,
            format!("{}\n", serde_json::to_string_pretty(&bundle)?).as_bytes(),
            0o644,
            true,
        )?;
    }
    match ctx.output {
        OutputFormat::Text => {
            term_println!("{sig}");
            if let Some(e) = &entry {
                term_eprintln!(
                    "logged in {} at index {} (entry {})",
                    a.tlog.tlog_url.as_deref().unwrap_or_default(),
                    e.log_index,
                    e.leaf_uuid()
                );
            }
        }
        OutputFormat::Json => term_println!(
            "{}",
            serde_json::json!({
                "file": a.file.display().to_string(),
                "signature": sig,
                "key_fingerprint": key.public_key().fingerprint(),
                "key": key.reference(),
                "tlog": entry.as_ref().map(|e| serde_json::json!({"log_index": e.log_index, "uuid": e.leaf_uuid(), "integrated_time": e.integrated_time, "log_id": e.log_id})),
                "bundle": a.bundle.as_ref().map(|p| p.display().to_string()),
            })
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn verify_bundle(
    ctx: &Context,
    a: &VerifyBlobArgs,
    bundle_path: &std::path::Path,
    data: &[u8],
) -> Result<ExitCode> {
    let keys = block_on(public_keys(std::slice::from_ref(&a.key)))?;
    let bundle = std::fs::read(bundle_path)
        .with_context(|| format!("reading bundle {}", bundle_path.display()))?;
    let policy = match &a.trusted_root {
        Some(f) => {
            let mut logs = crate::commands::tlog_client::trusted_logs(f)?;
            if let Some(p) = &a.witness_policy {
                logs = logs.with_witness_policy(crate::commands::tlog_client::witness_policy(p)?);
            }
            TlogPolicy::Required(logs)
        }
        None => TlogPolicy::NotChecked,
    };
    let v = verify_blob_bundle(&bundle, data, &keys, &policy).map_err(|r| {
        anyhow::anyhow!(
            "verifying {} against bundle {}: {r}",
            a.file.display(),
            bundle_path.display()
        )
    })?;
    let logged = match &v.tlog_entry {
        Some(e) => format!(
            ", transparency log entry {} of log {} verified (SET{})",
            e.log_index,
            e.log_id,
            if e.inclusion.is_some() {
                ", inclusion proof, checkpoint"
            } else {
                ""
            }
        ),
        None => ", transparency log entry NOT checked (give --trusted-root)".into(),
    };
    match ctx.output {
        OutputFormat::Text => term_eprintln!(
            "Verified OK: {} signed by key sha256:{}{logged}",
            a.file.display(),
            v.key_fingerprint
        ),
        OutputFormat::Json => term_println!(
            "{}",
            serde_json::json!({
                "file": a.file.display().to_string(),
                "verified": true,
                "key_fingerprint": v.key_fingerprint,
                "tlog": v.tlog_entry.as_ref().map(|e| serde_json::json!({"log_id": e.log_id, "log_index": e.log_index, "integrated_time": e.integrated_time})),
            })
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn verify(ctx: &Context, a: VerifyBlobArgs) -> Result<ExitCode> {
    let data = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    if let Some(bundle) = &a.bundle {
        return verify_bundle(ctx, &a, bundle, &data);
    }
    let keys = block_on(public_keys(std::slice::from_ref(&a.key)))?;
    let signature = a.signature.clone().unwrap_or_default();
    let path = std::path::Path::new(&signature);
    let raw = if path.is_file() {
        std::fs::read(path).with_context(|| format!("reading signature {}", path.display()))?
    } else {
        signature.clone().into_bytes()
    };
    let text = String::from_utf8_lossy(&raw);
    let sig = match STANDARD.decode(text.trim().as_bytes()) {
        Ok(s) => s,
        Err(_) if raw.first() == Some(&0x30) => raw.clone(),
        Err(_) => bail!(
            "signature {signature:?}: expected base64 (or a file holding base64 or DER), found neither"
        ),
    };
    let key = &keys[0];
    key.verify(&data, &sig)
        .with_context(|| format!("verifying {} against its signature", a.file.display()))?;
    match ctx.output {
        OutputFormat::Text => term_eprintln!(
            "Verified OK: {} signed by key sha256:{}",
            a.file.display(),
            key.fingerprint()
        ),
        OutputFormat::Json => term_println!(
            "{}",
            serde_json::json!({"file": a.file.display().to_string(), "verified": true, "key_fingerprint": key.fingerprint()})
        ),
    }
    Ok(ExitCode::SUCCESS)
}
