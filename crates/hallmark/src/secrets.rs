//! Passphrases and private keys: from the environment, a terminal prompt, or a clear error.

use anyhow::{Context as _, Result, bail};
use hallmark_core::{Passphrase, PublicKey, SigningKey, keyfile};
use hallmark_keys::{KeyRef, KeySigner, OpenOptions};
use std::{io::IsTerminal as _, os::unix::ffi::OsStringExt as _, path::Path};
use zeroize::Zeroizing;

/// The environment variables a passphrase is read from, in order.
pub(crate) const PASSPHRASE_VARS: [&str; 2] = ["HALLMARK_PASSWORD", "COSIGN_PASSWORD"];

/// What is missing when no passphrase can be had (the error names the purpose, or its caller
/// does).
const NO_PASSPHRASE: &str = "expected HALLMARK_PASSWORD or COSIGN_PASSWORD in the environment (an empty value is a valid passphrase); found neither, and no terminal to prompt on";

/// The variable a passphrase comes from, if one is set (`HALLMARK_PASSWORD` wins).
pub(crate) fn passphrase_var() -> Option<&'static str> {
    PASSPHRASE_VARS
        .into_iter()
        .find(|var| std::env::var_os(var).is_some())
}

/// Whether [`passphrase`] would prompt (no variable set, a terminal, `CI` unset).
fn can_prompt() -> bool {
    std::env::var_os("CI").is_none() && std::io::stdin().is_terminal()
}

/// A passphrase from `HALLMARK_PASSWORD` / `COSIGN_PASSWORD` (empty is valid), else a prompt
/// on a terminal (never when `CI` is set), else an error.
pub(crate) fn passphrase(purpose: &str, confirm: bool) -> Result<Passphrase> {
    for var in PASSPHRASE_VARS {
        if let Some(v) = std::env::var_os(var) {
            tracing::debug!(
                purpose,
                source = var,
                "passphrase from environment variable"
            );
            return Ok(Passphrase::new(v.into_vec()));
        }
    }
    if std::env::var_os("CI").is_some() || !std::io::stdin().is_terminal() {
        tracing::debug!(
            purpose,
            ci = std::env::var_os("CI").is_some(),
            "no passphrase: not in the environment, and no prompt"
        );
        bail!("a passphrase is needed for {purpose}: {NO_PASSPHRASE}");
    }
    tracing::debug!(purpose, confirm, "passphrase from terminal prompt");
    let first = Zeroizing::new(
        rpassword::prompt_password(format!("Enter passphrase for {purpose}: "))
            .context("reading passphrase")?,
    );
    if confirm {
        let second = Zeroizing::new(
            rpassword::prompt_password("Enter passphrase again: ").context("reading passphrase")?,
        );
        if *first != *second {
            bail!("the two passphrases differ");
        }
    }
    Ok(Passphrase::new(first.as_bytes().to_vec()))
}

/// Load a private key file, asking for its passphrase only when it is encrypted (for commands
/// that need a key in memory, not a key reference).
#[allow(dead_code)]
pub(crate) fn load_signing_key(path: &Path) -> Result<SigningKey> {
    let what = path.display().to_string();
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading private key {what}"))?,
    );
    let pass = if keyfile::is_encrypted_cosign_key(&text) {
        Some(passphrase(&format!("private key {what}"), false)?)
    } else {
        None
    };
    Ok(keyfile::load_private_key(&text, pass.as_ref(), &what)?)
}

/// Run a future to completion from synchronous command code (on the multi-threaded runtime).
pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

/// The passphrase source of key references: environment, terminal prompt, or an error naming
/// the variables to set. `purpose` names the key for the prompt; the error leaves it out, since
/// the key reference error it becomes names the key.
fn passphrase_for(purpose: &str) -> Result<Passphrase, String> {
    if passphrase_var().is_none() && !can_prompt() {
        return Err(format!("a passphrase is needed: {NO_PASSPHRASE}"));
    }
    passphrase(purpose, false).map_err(|e| format!("{e:#}"))
}

/// The public key of any key reference: a private key file is opened (passphrase asked
/// for), remote keys are asked for theirs (`key public-key`).
pub(crate) async fn public_key_of(reference: &str) -> Result<PublicKey> {
    let options = OpenOptions {
        passphrase: &passphrase_for,
        vars: None,
    };
    Ok(key_ref(reference)?.public_key(&options).await?)
}

/// Create a key inside its token, KMS or Vault (`key generate --kms`).
pub(crate) async fn generate_key(r: &KeyRef) -> Result<PublicKey> {
    let options = OpenOptions {
        passphrase: &passphrase_for,
        vars: None,
    };
    Ok(r.generate(&options).await?)
}

/// Parse a `--key` reference.
pub(crate) fn key_ref(reference: &str) -> Result<KeyRef> {
    Ok(KeyRef::parse(reference)?)
}

/// Open the signing key a `--key` reference names: a file, `env://`, `pkcs11:`, `awskms://`,
/// `awssm://` or `hashivault://`.
pub(crate) async fn open_signer(reference: &str) -> Result<KeySigner> {
    let r = key_ref(reference)?;
    let options = OpenOptions {
        passphrase: &passphrase_for,
        vars: None,
    };
    Ok(r.open(&options).await?)
}

/// The public keys `--key` references name, for verification: public key files as before,
/// and the public key of any other reference (token, KMS, Vault, secret).
pub(crate) async fn public_keys(references: &[String]) -> Result<Vec<PublicKey>> {
    let options = OpenOptions {
        passphrase: &passphrase_for,
        vars: None,
    };
    let mut out = Vec::with_capacity(references.len());
    for reference in references {
        let r = key_ref(reference)?;
        match &r {
            KeyRef::File(path) => {
                out.extend(crate::output::load_public_keys(std::slice::from_ref(path))?)
            }
            _ => out.push(r.public_key(&options).await?),
        }
    }
    Ok(out)
}

/// Write `bytes` to `path` with mode `mode`, atomically (temporary file + rename), refusing
/// to overwrite unless `force`.
pub(crate) fn write_file(path: &Path, bytes: &[u8], mode: u32, force: bool) -> Result<()> {
    use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _};
    if !force && path.exists() {
        bail!(
            "{} already exists; expected a new file (use --force to overwrite)",
            path.display()
        );
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}
