//! `hallmark quickstart`: the whole job on a local OCI layout, no server.

use crate::{
    cli::QuickstartArgs,
    context::Context,
    secrets::{PASSPHRASE_VARS, write_file},
};
use anyhow::{Context as _, Result, bail};
use hallmark_core::{ImageRef, KeyAlgorithm, Passphrase, PublicKey, SigningKey, keyfile};
use hallmark_flows::{Attachment, SignOptions};
use hallmark_oci::sample::push_sample_image;
use hallmark_sigstore::VerificationPolicy;
use std::{os::unix::ffi::OsStringExt as _, path::PathBuf, process::ExitCode};

fn default_dir() -> PathBuf {
    crate::commands::log::data_home().join("quickstart")
}

pub(crate) async fn run(ctx: &Context, a: QuickstartArgs) -> Result<ExitCode> {
    let dir = a.dir.unwrap_or_else(default_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let layout_dir = dir.join("layout");
    let image = ImageRef::parse(&format!("oci:{}:v1", layout_dir.display()))?;
    let tampered = ImageRef::parse(&format!("oci:{}:v1-tampered", layout_dir.display()))?;
    let store = ctx.store(&image, true)?;

    println!("hallmark quickstart, working in {}", dir.display());
    let digest = push_sample_image(&store, "v1", "hello from the hallmark quickstart\n").await?;
    println!("1. Built a sample image in an OCI layout: {image} = {digest}");

    let (pass, pass_note) = match PASSPHRASE_VARS.iter().find_map(std::env::var_os) {
        Some(v) => (
            Passphrase::new(v.into_vec()),
            "the passphrase from the environment",
        ),
        None => (
            Passphrase::new(Vec::new()),
            "an empty passphrase (set HALLMARK_PASSWORD to choose one)",
        ),
    };
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256)?;
    let key_path = dir.join("quickstart.key");
    let pub_path = dir.join("quickstart.pub");
    write_file(
        &key_path,
        keyfile::encrypt_cosign_key(&key, &pass)?.as_bytes(),
        0o600,
        true,
    )?;
    write_file(&pub_path, key.public_key().to_pem().as_bytes(), 0o644, true)?;
    // Read the key back from disk as a user's signing run would.
    let key_text = std::fs::read_to_string(&key_path)?;
    let key = keyfile::load_private_key(&key_text, Some(&pass), &key_path.display().to_string())?;
    println!(
        "2. Generated an ECDSA P-256 key pair, encrypted with {pass_note}:\n     {} (cosign format, mode 0600)\n     {} (fingerprint sha256:{})",
        key_path.display(),
        pub_path.display(),
        key.public_key().fingerprint()
    );

    let signed = hallmark_flows::sign(&store, &image, &key, &SignOptions::default()).await?;
    for s in &signed {
        println!(
            "3. Signed {digest}: signature stored at tag {} (cosign's .sig format)",
            s.tag
        );
    }

    let public = PublicKey::from_pem(
        &std::fs::read_to_string(&pub_path)?,
        &pub_path.display().to_string(),
    )?;
    let policy = VerificationPolicy {
        keys: vec![public],
        ..VerificationPolicy::default()
    };
    let ok = hallmark_flows::verify_image(&store, &image, &policy).await?;
    println!(
        "4. Verified {image}: {} valid signature(s) by sha256:{}",
        ok.signatures.len(),
        ok.signatures[0].key_fingerprint
    );

    // An attacker changes the image and re-uses the old signature.
    let tampered_digest = push_sample_image(
        &store,
        "v1-tampered",
        "hello from the hallmark quickstart, modified\n",
    )
    .await?;
    let sig = store
        .get_manifest(&Attachment::Signature.tag(&digest))
        .await?;
    // Blobs are shared within one layout, so the manifest alone moves the signature.
    store
        .put_manifest(
            &sig.bytes,
            &sig.media_type,
            Some(&Attachment::Signature.tag(&tampered_digest)),
        )
        .await?;
    match hallmark_flows::verify_image(&store, &tampered, &policy).await {
        Ok(_) => bail!("the tampered image verified; expected a refusal"),
        Err(e) => println!(
            "5. Tampered image {tampered} ({tampered_digest}) carrying the old signature is refused:\n     {e}"
        ),
    }
    println!(
        "\nFiles:\n  layout      {}\n  private key {}\n  public key  {}\n\nTry it yourself:\n  hallmark verify --key {} {image}\n  hallmark tree {image}",
        layout_dir.display(),
        key_path.display(),
        pub_path.display(),
        pub_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
