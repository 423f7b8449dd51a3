//! `hallmark key ...`

use crate::{
    cli::{Algorithm, KeyCommand},
    context::Context,
    secrets::{block_on, generate_key, key_ref, passphrase, public_key_of, write_file},
};
use anyhow::{Context as _, Result};
use hallmark_core::{KeyAlgorithm, SigningKey, keyfile};
use std::{path::Path, process::ExitCode};
use zeroize::Zeroizing;

pub(crate) fn run(ctx: &Context, cmd: KeyCommand) -> Result<ExitCode> {
    match cmd {
        KeyCommand::Generate(a) if a.kms.is_some() => generate_in_kms(ctx, &a),
        KeyCommand::Generate(a) => {
            let algorithm = match a.algorithm {
                Algorithm::EcdsaP256 => KeyAlgorithm::EcdsaP256,
                Algorithm::EcdsaP384 => KeyAlgorithm::EcdsaP384,
                Algorithm::Ed25519 => KeyAlgorithm::Ed25519,
                Algorithm::Rsa => KeyAlgorithm::Rsa,
            };
            let key = SigningKey::generate(algorithm)?;
            write_pair(ctx, &key, &a.output_prefix, a.force)
        }
        KeyCommand::PublicKey(a) => {
            let public = block_on(public_key_of(&a.key))?;
            let pem = public.to_pem();
            match a.outfile {
                Some(path) => write_file(&path, pem.as_bytes(), 0o644, true)?,
                None => print!("{pem}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        KeyCommand::Import(a) => {
            let what = a.key.display().to_string();
            let text = Zeroizing::new(
                std::fs::read_to_string(&a.key).with_context(|| format!("reading {what}"))?,
            );
            let key = if keyfile::is_encrypted_cosign_key(&text) {
                let pass = passphrase(&format!("private key {what}"), false)?;
                keyfile::decrypt_cosign_key(&text, &pass, &what)?
            } else {
                SigningKey::from_pem(&text, &what)?
            };
            write_pair(ctx, &key, &a.output_prefix, a.force)
        }
    }
}

/// `key generate --kms REF`: create the key in the token, KMS or Vault; write PREFIX.pub.
fn generate_in_kms(ctx: &Context, a: &crate::cli::KeyGenerateArgs) -> Result<ExitCode> {
    let reference = a.kms.as_deref().unwrap_or_default();
    let r = key_ref(reference)?;
    if a.algorithm != Algorithm::EcdsaP256 {
        anyhow::bail!(
            "key generate --kms creates ecdsa-p256 keys; expected --algorithm ecdsa-p256, found {:?}",
            a.algorithm
        );
    }
    let pub_path = with_ext(&a.output_prefix, "pub");
    if !a.force && pub_path.exists() {
        anyhow::bail!(
            "{} already exists; expected a new file (use --force to overwrite)",
            pub_path.display()
        );
    }
    let public = block_on(generate_key(&r))?;
    let pem = public.to_pem();
    write_file(&pub_path, pem.as_bytes(), 0o644, a.force)?;
    match ctx.output {
        crate::cli::OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "key": r.to_string(),
                "public_key": pub_path.display().to_string(),
                "public_key_pem": pem,
                "algorithm": public.algorithm().name(),
                "fingerprint": public.fingerprint(),
            })
        ),
        crate::cli::OutputFormat::Text => {
            eprintln!("Key created in {r}");
            eprintln!("Public key written to {}", pub_path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn with_ext(prefix: &Path, ext: &str) -> std::path::PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    s.into()
}

fn write_pair(ctx: &Context, key: &SigningKey, prefix: &Path, force: bool) -> Result<ExitCode> {
    let key_path = with_ext(prefix, "key");
    let pub_path = with_ext(prefix, "pub");
    if !force {
        for p in [&key_path, &pub_path] {
            if p.exists() {
                anyhow::bail!(
                    "{} already exists; expected a new file (use --force to overwrite)",
                    p.display()
                );
            }
        }
    }
    let pass = passphrase(&format!("new private key {}", key_path.display()), true)?;
    let pem = Zeroizing::new(keyfile::encrypt_cosign_key(key, &pass)?);
    write_file(&key_path, pem.as_bytes(), 0o600, force)?;
    write_file(
        &pub_path,
        key.public_key().to_pem().as_bytes(),
        0o644,
        force,
    )?;
    match ctx.output {
        crate::cli::OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "private_key": key_path.display().to_string(),
                "public_key": pub_path.display().to_string(),
                "algorithm": key.algorithm().name(),
                "fingerprint": key.public_key().fingerprint(),
            })
        ),
        crate::cli::OutputFormat::Text => {
            eprintln!(
                "Private key written to {} (encrypted, mode 0600)",
                key_path.display()
            );
            eprintln!("Public key written to {}", pub_path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
