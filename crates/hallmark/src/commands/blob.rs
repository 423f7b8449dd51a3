//! `hallmark sign-blob` / `verify-blob`: cosign-compatible signatures over files.

use crate::{
    cli::{OutputFormat, SignBlobArgs, VerifyBlobArgs},
    context::Context,
    output::load_public_keys,
    secrets::{load_signing_key, write_file},
};
use anyhow::{Context as _, Result, bail};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use std::process::ExitCode;

pub(crate) fn sign(ctx: &Context, a: SignBlobArgs) -> Result<ExitCode> {
    let key = load_signing_key(&a.key)?;
    let data = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let sig = STANDARD.encode(key.sign(&data)?);
    if let Some(path) = &a.output_signature {
        write_file(path, sig.as_bytes(), 0o644, true)?;
    }
    match ctx.output {
        OutputFormat::Text => println!("{sig}"),
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({"file": a.file.display().to_string(), "signature": sig, "key_fingerprint": key.public_key().fingerprint()})
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn verify(ctx: &Context, a: VerifyBlobArgs) -> Result<ExitCode> {
    let keys = load_public_keys(std::slice::from_ref(&a.key))?;
    let data = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let path = std::path::Path::new(&a.signature);
    let raw = if path.is_file() {
        std::fs::read(path).with_context(|| format!("reading signature {}", path.display()))?
    } else {
        a.signature.clone().into_bytes()
    };
    let text = String::from_utf8_lossy(&raw);
    let sig = match STANDARD.decode(text.trim().as_bytes()) {
        Ok(s) => s,
        Err(_) if raw.first() == Some(&0x30) => raw.clone(),
        Err(_) => bail!(
            "signature {:?}: expected base64 (or a file holding base64 or DER), found neither",
            a.signature
        ),
    };
    let key = &keys[0];
    key.verify(&data, &sig)
        .with_context(|| format!("verifying {} against its signature", a.file.display()))?;
    match ctx.output {
        OutputFormat::Text => eprintln!(
            "Verified OK: {} signed by key sha256:{}",
            a.file.display(),
            key.fingerprint()
        ),
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({"file": a.file.display().to_string(), "verified": true, "key_fingerprint": key.fingerprint()})
        ),
    }
    Ok(ExitCode::SUCCESS)
}
