//! `hallmark trust serve`: the Notary-compatible trust server (notary-server 0.7.0's API).

use crate::context::Context;
use anyhow::{Context as _, Result, bail};
use clap::{Args, ValueEnum};
use hallmark_trust_server::KeyType;
use hallmark_trust_server::{Auth, Config, ExplicitlyUnauthenticated, Server, TokenAuth};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// How writes are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuthMode {
    /// Registry-style bearer tokens (JWT, ES256/RS256) signed by --auth-root-cert's chain.
    Token,
    /// Client certificates signed by --client-ca (needs --tls-cert/--tls-key).
    Mtls,
    /// Anonymous writes from any address (explicitly insecure).
    None,
}

/// Server key algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyAlgorithm {
    /// ECDSA P-256 (notary-server's default with notary-signer).
    Ecdsa,
    /// Ed25519.
    Ed25519,
}

/// Options of `hallmark trust serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on. Without --auth only a loopback address is accepted.
    #[arg(long, default_value = "127.0.0.1:4443")]
    pub(crate) addr: String,
    #[command(flatten)]
    pub(crate) connections: crate::cli::ConnectionArgs,
    /// Data directory: the SQLite database (unless --database) and the key sealing material.
    #[arg(long)]
    pub(crate) data_dir: PathBuf,
    /// PostgreSQL instead of SQLite: postgres://user@host:port/db.
    #[arg(long)]
    pub(crate) database: Option<String>,
    /// TLS certificate chain (PEM); with --tls-key.
    #[arg(long, requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// TLS private key (PEM: PKCS#8, SEC1 or PKCS#1); with --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Authentication of writes (default: anonymous, loopback addresses only).
    #[arg(long, value_enum)]
    pub(crate) auth: Option<AuthMode>,
    /// Token server URL for the 401 challenge (--auth token).
    #[arg(long)]
    pub(crate) auth_realm: Option<String>,
    /// Token service name, the token's `aud` (--auth token).
    #[arg(long)]
    pub(crate) auth_service: Option<String>,
    /// Token issuer, the token's `iss` (--auth token).
    #[arg(long)]
    pub(crate) auth_issuer: Option<String>,
    /// Root certificate bundle of the token signer (PEM; --auth token).
    #[arg(long)]
    pub(crate) auth_root_cert: Option<PathBuf>,
    /// CA certificates for client certificates (PEM; --auth mtls).
    #[arg(long)]
    pub(crate) client_ca: Option<PathBuf>,
    /// Algorithm of the server's timestamp and snapshot keys.
    #[arg(long, value_enum, default_value = "ecdsa")]
    pub(crate) key_algorithm: KeyAlgorithm,
    /// Accept only GUNs starting with one of these prefixes (repeatable).
    #[arg(long = "gun-prefix")]
    pub(crate) gun_prefixes: Vec<String>,
}

fn need<T>(v: Option<T>, flag: &str, mode: &str) -> Result<T> {
    v.with_context(|| format!("--auth {mode} needs {flag}"))
}

fn auth(a: &ServeArgs) -> Result<Auth> {
    Ok(match a.auth {
        None => Auth::LoopbackOnly,
        Some(AuthMode::None) => {
            Auth::AnonymousAnywhere(ExplicitlyUnauthenticated::asked_for_by_operator())
        }
        Some(AuthMode::Token) => {
            let bundle = need(a.auth_root_cert.as_ref(), "--auth-root-cert FILE", "token")?;
            Auth::Token(TokenAuth {
                realm: need(a.auth_realm.clone(), "--auth-realm URL", "token")?,
                service: need(a.auth_service.clone(), "--auth-service NAME", "token")?,
                issuer: need(a.auth_issuer.clone(), "--auth-issuer NAME", "token")?,
                root_certs: hallmark_trust_server::tls::read_certs(bundle)?,
            })
        }
        Some(AuthMode::Mtls) => {
            let ca = need(a.client_ca.as_ref(), "--client-ca FILE", "mtls")?;
            Auth::Mtls {
                client_ca: hallmark_trust_server::tls::read_certs(ca)?,
            }
        }
    })
}

pub(crate) async fn run(_ctx: &Context, a: ServeArgs) -> Result<ExitCode> {
    let addr: SocketAddr = a
        .addr
        .parse()
        .with_context(|| format!("--addr {:?}: expected IP:PORT", a.addr))?;
    let mut config = Config::new(&a.data_dir);
    config.limits = a.connections.limits();
    config.auth = auth(&a)?;
    config.database = a.database.clone();
    config.tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        _ => None,
    };
    config.key_type = match a.key_algorithm {
        KeyAlgorithm::Ecdsa => KeyType::Ecdsa,
        KeyAlgorithm::Ed25519 => KeyType::Ed25519,
    };
    config.gun_prefixes = a.gun_prefixes.clone();
    if let Some(p) = std::env::var_os(hallmark_trust_server::keys::PASSPHRASE_ENV) {
        config.key_passphrase = Some(zeroize::Zeroizing::new(p.into_encoded_bytes()));
    }
    // Refuse before binding: anonymous writes need a loopback address.
    if let Err(e) = hallmark_trust_server::check_auth(&addr, &config) {
        bail!("{e}");
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let server = Server::start(config, listener)
        .await
        .context("starting the trust server")?;
    let scheme = if a.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let storage = if a.database.is_some() {
        "PostgreSQL".to_string()
    } else {
        format!("SQLite in {}", a.data_dir.display())
    };
    eprintln!(
        "hallmark trust: serving the Notary v1 API on {scheme}://{} ({storage}); SIGTERM or Ctrl-C stops it",
        server.addr()
    );
    hallmark_serve::shutdown_signal().await;
    eprintln!("hallmark trust: stopping");
    server
        .shutdown()
        .await
        .context("stopping the trust server")?;
    Ok(ExitCode::SUCCESS)
}
