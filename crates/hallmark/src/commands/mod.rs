//! One module per command group.

mod blob;
mod bundle;
mod debug;
mod image;
mod key;
pub(crate) mod log;
mod notation;
mod policy;
mod pull;
mod quickstart;
pub(crate) mod serve;
pub(crate) mod tlog_client;
pub(crate) mod trust;
mod witness;

use crate::{
    cli::{Cli, Command},
    context::Context,
};
use anyhow::{Result, bail};
use std::{collections::BTreeMap, process::ExitCode};

pub(crate) async fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::Verify(v) = &cli.command {
        keyless_flags(v);
    }
    let ctx = Context::new(&cli.global)?;
    // Servers run until stopped, local-only commands need no deadline; everything that talks
    // to registries, trust servers or logs ends by --timeout, retries included.
    let deadline = match &cli.command {
        Command::Key(_)
        | Command::Policy(_)
        | Command::VerifyBlob(_)
        | Command::Quickstart(_)
        | Command::Debug(_)
        | Command::Admission(_)
        | Command::Serve(_)
        | Command::Proxy(_)
        | Command::Ui(_)
        | Command::Witness(crate::cli::WitnessCommand::Serve(_))
        | Command::Log(crate::cli::LogCommand::Serve(_))
        | Command::Trust(trust::TrustCommand::Serve(_)) => None,
        _ => Some(cli.global.timeout),
    };
    let command = async move {
        match cli.command {
            Command::Key(k) => key::run(&ctx, k),
            Command::Sign(a) if a.format == crate::cli::SignFormat::Notation => {
                notation::sign(&ctx, a).await
            }
            Command::Sign(a) if a.format == crate::cli::SignFormat::Bundle => {
                bundle::sign(&ctx, a).await
            }
            Command::Sign(a) => image::sign(&ctx, a).await,
            Command::Verify(a) if a.policy.is_some() || a.notation_policy.is_some() => {
                policy::verify(&ctx, a).await
            }
            Command::Verify(a) => image::verify(&ctx, a).await,
            Command::Pull(a) => policy::pull(&ctx, a).await,
            Command::Policy(p) => policy::run(p),
            Command::Attest(a) => image::attest(&ctx, a).await,
            Command::VerifyAttestation(a) => image::verify_attestation(&ctx, a).await,
            Command::SignBlob(a) => blob::sign(&ctx, a).await,
            Command::VerifyBlob(a) => blob::verify(&ctx, a),
            Command::Tree(a) => image::tree(&ctx, a).await,
            Command::Copy(a) => image::copy(&ctx, a).await,
            Command::Quickstart(a) => quickstart::run(&ctx, a).await,
            Command::Log(l) => log::run(&ctx, l).await,
            Command::Admission(a) => serve::admission(&ctx, a).await,
            Command::Serve(a) => serve::serve(&ctx, *a).await,
            Command::Proxy(a) => serve::proxy_serve(&ctx, a).await,
            Command::Ui(a) => serve::ui(&ctx, a).await,
            Command::Trust(t) => trust::run(&ctx, t).await,
            Command::Notation(n) => notation::run(&ctx, n).await,
            Command::Witness(w) => witness::run(w).await,
            Command::Debug(d) => debug::run(&ctx, d).await,
        }
    };
    match deadline {
        None => command.await,
        Some(limit) => tokio::time::timeout(limit, command)
            .await
            .unwrap_or_else(|_| {
                Err(anyhow::anyhow!(
                    "timed out: expected the command to finish within {}s (--timeout), it did not",
                    limit.as_secs()
                ))
            }),
    }
}

/// `verify --trusted-root` without `--key` is keyless verification: it needs the certificate
/// identity and issuer (a usage error, exit 2, like clap's own).
fn keyless_flags(v: &crate::cli::VerifyArgs) {
    if v.trusted_root.is_none() || !v.key.is_empty() {
        return;
    }
    let mut missing = Vec::new();
    if v.certificate_identity.is_none() {
        missing.push("--certificate-identity <VALUE>");
    }
    if v.certificate_oidc_issuer.is_none() {
        missing.push("--certificate-oidc-issuer <URL>");
    }
    if !missing.is_empty() {
        use clap::CommandFactory as _;
        Cli::command()
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                format!(
                    "the following required arguments were not provided:\n  {}\n\n--trusted-root without --key verifies certificates (keyless); with --key it names the transparency logs",
                    missing.join("\n  ")
                ),
            )
            .exit();
    }
}

/// Parse `-a KEY=VALUE` arguments.
pub(crate) fn parse_annotations(list: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for a in list {
        let Some((k, v)) = a.split_once('=') else {
            bail!("annotation {a:?}: expected KEY=VALUE");
        };
        if k.is_empty() {
            bail!("annotation {a:?}: expected a non-empty KEY before '='");
        }
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}
