//! `hallmark witness serve|vkey`: the C2SP tlog-witness of `hallmark-witness`.

use crate::cli::{WitnessCommand, WitnessServeArgs};
use anyhow::{Context as _, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

fn default_data_dir() -> PathBuf {
    crate::commands::log::data_home().join("witness")
}

pub(crate) async fn run(cmd: WitnessCommand) -> Result<ExitCode> {
    match cmd {
        WitnessCommand::Serve(a) => serve(a).await,
        WitnessCommand::Vkey(a) => {
            let dir = a.data_dir.unwrap_or_else(default_data_dir);
            println!("{}", hallmark_witness::vkey(&dir).await?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(a: WitnessServeArgs) -> Result<ExitCode> {
    let addr: SocketAddr = a
        .addr
        .parse()
        .with_context(|| format!("--addr {:?}: expected IP:PORT", a.addr))?;
    crate::commands::serve::reach(a.allow_remote).check(addr, "the witness")?;
    let logs = a
        .logs
        .iter()
        .map(|l| {
            l.split_once('=')
                .map(|(o, k)| (o.to_owned(), k.to_owned()))
                .with_context(|| format!("--log {l:?}: expected ORIGIN=VKEY"))
        })
        .collect::<Result<Vec<_>>>()?;
    let config = hallmark_witness::Config {
        data_dir: a.data_dir.unwrap_or_else(default_data_dir),
        name: a.name,
        logs,
    };
    let (service, witness) = hallmark_witness::open(&config).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    eprintln!(
        "hallmark witness: serving on http://{} as {} ({} log(s)); SIGTERM or Ctrl-C stops it",
        listener.local_addr().unwrap_or(addr),
        witness.vkey(),
        config.logs.len()
    );
    hallmark_serve::serve_all(
        vec![hallmark_serve::Listening {
            listener,
            tls: None,
            services: vec![service],
            metrics: true,
        }],
        a.connections.limits(),
        hallmark_serve::shutdown_signal(),
    )
    .await?;
    eprintln!("hallmark witness: stopped");
    Ok(ExitCode::SUCCESS)
}
