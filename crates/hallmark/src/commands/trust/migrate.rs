//! `hallmark trust migrate`: for every tag signed with Docker Content Trust, verify the trust
//! data and write a cosign signature (the `.sig` form) for the signed digest, so that
//! `hallmark verify --key` (and cosign, skopeo) keep working once the Notary server is gone.
//! The payload's `optional` records the DCT signers and tag.

use super::client::{TrustServerArgs, open_repository, parse_repo};
use crate::context::Context;
use crate::secrets::load_signing_key;
use anyhow::{Context as _, Result, bail};
use clap::Args;
use hallmark_core::{Digest, ImageRef, RegistryRef};
use hallmark_flows::SignOptions;
use hallmark_tuf::inspect;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Annotation naming the DCT signers of the tag (comma-separated, docker's names).
pub(crate) const SIGNERS_ANNOTATION: &str = "dev.hallmark.dct/signers";
/// Annotation naming the DCT-signed tag.
pub(crate) const TAG_ANNOTATION: &str = "dev.hallmark.dct/tag";

/// Options of `hallmark trust migrate`.
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// Repository whose DCT-signed tags get cosign signatures.
    pub(crate) repo: String,
    /// cosign private key to sign with.
    #[arg(long)]
    pub(crate) key: PathBuf,
    #[command(flatten)]
    pub(crate) server: TrustServerArgs,
}

pub(crate) async fn run(ctx: &Context, a: MigrateArgs) -> Result<ExitCode> {
    let (r, _) = parse_repo(&a.repo)?;
    if r.tag.is_some() || r.digest.is_some() {
        bail!("{}: expected a repository without tag or digest", a.repo);
    }
    // Everything that can fail before a registry write: the key, the verified trust data.
    let key = load_signing_key(&a.key)?;
    let repo = open_repository(ctx, &a.server, &r)?;
    let data = repo
        .update(time::OffsetDateTime::now_utc())
        .await?
        .ok_or_else(|| anyhow::anyhow!("{}: no trust data to migrate", a.repo))?;
    let info = inspect::trust_info(&data.verified, &a.repo, None);
    if info.signed_tags.is_empty() {
        bail!("{}: the trust data has no signed tags to migrate", a.repo);
    }
    let mut plan = Vec::new();
    for t in &info.signed_tags {
        // The digest docker would pull for the tag (targets/releases, then targets).
        let Some(resolved) = data.verified.resolve(&t.signed_tag) else {
            continue;
        };
        if hex::encode(&resolved.sha256) != t.digest {
            continue;
        }
        let digest = Digest::parse(&format!("sha256:{}", t.digest))?;
        plan.push((t.signed_tag.clone(), digest, t.signers.join(",")));
    }
    let mut migrated = 0;
    for (tag, digest, signers) in plan {
        let image = ImageRef::Registry(RegistryRef {
            tag: None,
            digest: Some(digest.clone()),
            ..r.clone()
        });
        let store = ctx.store(&image, false)?;
        let options = SignOptions {
            annotations: BTreeMap::from([
                (SIGNERS_ANNOTATION.to_string(), signers.clone()),
                (TAG_ANNOTATION.to_string(), tag.clone()),
            ]),
            recursive: false,
            identity: None,
            tlog: None,
            always_log: false,
        };
        let signed = hallmark_flows::sign(&store, &image, &key, &options)
            .await
            .with_context(|| format!("signing {}:{tag} ({digest})", a.repo))?;
        let added = signed.iter().any(|s| s.added);
        println!(
            "{}:{tag} {digest} signers {signers}: {}",
            a.repo,
            if added {
                "cosign signature written"
            } else {
                "already signed by this key"
            }
        );
        migrated += 1;
    }
    eprintln!("migrated {migrated} signed tag(s) of {}", a.repo);
    Ok(ExitCode::SUCCESS)
}
