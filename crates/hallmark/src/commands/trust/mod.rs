//! `hallmark trust`: Docker Content Trust (Notary v1) client commands and the trust server.

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
}

pub(crate) async fn run(ctx: &Context, cmd: TrustCommand) -> Result<ExitCode> {
    match cmd {
        TrustCommand::Serve(a) => serve::run(ctx, a).await,
    }
}
