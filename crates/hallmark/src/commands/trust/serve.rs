//! `hallmark trust serve`: the Notary-compatible trust server.

use crate::context::Context;
use anyhow::{Result, bail};
use clap::Args;
use std::process::ExitCode;

/// Options of `hallmark trust serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4443")]
    pub(crate) addr: String,
}

pub(crate) async fn run(_ctx: &Context, a: ServeArgs) -> Result<ExitCode> {
    bail!("trust serve on {} is not built yet", a.addr)
}
