//! `hallmark trust`: Docker Content Trust (Notary v1) client commands and the trust server.

pub(crate) mod client;
pub(crate) mod migrate;
mod serve;

use crate::context::Context;
use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

/// `hallmark trust ...`
#[derive(Debug, Subcommand)]
pub(crate) enum TrustCommand {
    /// Run a Notary-compatible trust server (Notary v1 API under /v2/<gun>/_trust/tuf/).
    Serve(serve::ServeArgs),
    /// Manage signing keys (generate, load) and rotate repository keys.
    #[command(subcommand)]
    Key(client::KeyCommand),
    /// Add and remove signers of a repository.
    #[command(subcommand)]
    Signer(client::SignerCommand),
    /// Sign REPO:TAG: the tag's manifest digest and size into the signer's roles.
    Sign(client::SignArgs),
    /// Keys and signed tags of repositories, as `docker trust inspect` prints them.
    Inspect(client::InspectArgs),
    /// Remove the signature of a tag (or of every tag).
    Revoke(client::RevokeArgs),
    /// Print the digest signed for REPO:TAG (targets/releases, then targets).
    Resolve(client::ResolveArgs),
    /// Write a cosign signature for every tag signed with Docker Content Trust.
    Migrate(migrate::MigrateArgs),
}

pub(crate) async fn run(ctx: &Context, cmd: TrustCommand) -> Result<ExitCode> {
    match cmd {
        TrustCommand::Serve(a) => serve::run(ctx, a).await,
        TrustCommand::Key(client::KeyCommand::Generate(a)) => client::key_generate(a),
        TrustCommand::Key(client::KeyCommand::Load(a)) => client::key_load(a),
        TrustCommand::Key(client::KeyCommand::Rotate(a)) => {
            client::with_hint(client::key_rotate(ctx, a).await)
        }
        TrustCommand::Signer(client::SignerCommand::Add(a)) => {
            client::with_hint(client::signer_add(ctx, a).await)
        }
        TrustCommand::Signer(client::SignerCommand::Remove(a)) => {
            client::with_hint(client::signer_remove(ctx, a).await)
        }
        TrustCommand::Sign(a) => client::with_hint(client::sign(ctx, a).await),
        TrustCommand::Inspect(a) => client::inspect_cmd(ctx, a).await,
        TrustCommand::Revoke(a) => client::with_hint(client::revoke(ctx, a).await),
        TrustCommand::Resolve(a) => client::resolve(ctx, a).await,
        TrustCommand::Migrate(a) => migrate::run(ctx, a).await,
    }
}
