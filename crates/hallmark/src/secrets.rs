//! Passphrases and private keys: from the environment, a terminal prompt, or a clear error.

use anyhow::{Context as _, Result, bail};
use hallmark_core::{Passphrase, SigningKey, keyfile};
use std::{io::IsTerminal as _, os::unix::ffi::OsStringExt as _, path::Path};
use zeroize::Zeroizing;

/// The environment variables a passphrase is read from, in order.
pub(crate) const PASSPHRASE_VARS: [&str; 2] = ["HALLMARK_PASSWORD", "COSIGN_PASSWORD"];

/// A passphrase from `HALLMARK_PASSWORD` / `COSIGN_PASSWORD` (empty is valid), else a prompt
/// on a terminal (never when `CI` is set), else an error.
pub(crate) fn passphrase(purpose: &str, confirm: bool) -> Result<Passphrase> {
    for var in PASSPHRASE_VARS {
        if let Some(v) = std::env::var_os(var) {
            return Ok(Passphrase::new(v.into_vec()));
        }
    }
    if std::env::var_os("CI").is_some() || !std::io::stdin().is_terminal() {
        bail!(
            "a passphrase is needed for {purpose}: expected HALLMARK_PASSWORD or COSIGN_PASSWORD in the environment (an empty value is a valid passphrase); found neither, and no terminal to prompt on"
        );
    }
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

/// Load a private key file, asking for its passphrase only when it is encrypted.
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
