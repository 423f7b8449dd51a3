//! `hallmark admission serve` (the Kubernetes admission webhook and Gatekeeper provider) and
//! `hallmark serve` (any of hallmark's services in one process: trust server, log, admission
//! webhook), both through `hallmark-serve`'s one mount, TLS and shutdown path.

use crate::cli::ConnectionArgs;
use crate::context::Context;
use crate::output::term_eprintln;
use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use hallmark_admission_server::{Config, GatekeeperClients, Webhook};
use hallmark_proxy::Proxy;
use hallmark_serve::{Listening, Reach, Service};
use hallmark_verify::{CacheConfig, Decider, DecisionLog};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// `hallmark admission ...`
#[derive(Debug, Subcommand)]
pub(crate) enum AdmissionCommand {
    /// Serve the Kubernetes admission webhook (POST /validate, /mutate) and Gatekeeper's
    /// external-data provider (POST /gatekeeper/verify) over HTTPS, with /healthz, /readyz
    /// and /metrics.
    Serve(AdmissionServeArgs),
}

/// How allowed images are pinned by `/mutate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PinArg {
    /// `repo:tag@sha256:...` (the tag kept for people and GitOps diffs).
    TagAndDigest,
    /// `repo@sha256:...`.
    DigestOnly,
}

/// What to do with an image that could not be decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailurePolicyArg {
    /// Deny it (fail closed).
    Fail,
    /// Admit it with a warning.
    Ignore,
}

/// TLS shared by every address of a server.
#[derive(Debug, Args)]
pub(crate) struct TlsArgs {
    /// TLS certificate chain (PEM); with --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// TLS private key (PEM: PKCS#8, SEC1 or PKCS#1); with --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// CA certificates (PEM) for client certificates: clients may present one; Gatekeeper's
    /// requests to /gatekeeper/verify must (and trust-server writes, under `hallmark serve`).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) client_ca: Option<PathBuf>,
}

impl TlsArgs {
    fn config(&self) -> Result<Option<Arc<rustls::ServerConfig>>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let client_ca = match &self.client_ca {
            Some(ca) => Some(hallmark_serve::tls::read_certs(ca)?),
            None => None,
        };
        Ok(Some(hallmark_serve::tls::server_config(
            cert,
            key,
            client_ca.as_deref(),
        )?))
    }
}

/// The policy and the cached decisions every enforcing service of the process shares.
#[derive(Debug, Args)]
pub(crate) struct DecisionArgs {
    /// The policy (hallmark/v1 YAML or JSON, containers-policy.json or a ClusterImagePolicy);
    /// reloaded when the file changes and on SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Write one JSON line per image decision to FILE (appended), or `-` for stderr.
    #[arg(long, value_name = "FILE")]
    pub(crate) decision_log: Option<PathBuf>,
    /// Most verdicts (and tag digests) kept in memory.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub(crate) cache_entries: usize,
    /// How long an allowing verdict is kept.
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = crate::cli::parse_duration)]
    pub(crate) cache_ttl: Duration,
    /// How long a denying verdict is kept (an image signed after a denial is admitted soon).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = crate::cli::parse_duration)]
    pub(crate) deny_ttl: Duration,
    /// How long a tag's digest is kept (the webhook; the proxy resolves tags on every pull).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = crate::cli::parse_duration)]
    pub(crate) tag_ttl: Duration,
    /// How often the policy file is checked for changes.
    #[arg(long, default_value = "2s", value_name = "DURATION", value_parser = crate::cli::parse_duration, hide = true)]
    pub(crate) reload_interval: Duration,
}

/// The webhook's settings.
#[derive(Debug, Args)]
pub(crate) struct WebhookArgs {
    /// How /mutate pins allowed images.
    #[arg(long, value_enum, default_value_t = PinArg::TagAndDigest)]
    pub(crate) pin: PinArg,
    /// Every admission request is answered within this (below the API server's 10s webhook
    /// timeout); an image not decided by then is denied, saying so.
    #[arg(long, default_value = "8s", value_name = "DURATION", value_parser = crate::cli::parse_duration)]
    pub(crate) decision_timeout: Duration,
    /// Every Gatekeeper provider request is answered within this (Gatekeeper's provider
    /// timeout is 1-2 s).
    #[arg(long, default_value = "1500ms", value_name = "DURATION", value_parser = crate::cli::parse_duration)]
    pub(crate) gatekeeper_timeout: Duration,
    /// What to do with an image that could not be decided (registry unreachable, timeout),
    /// for rules that set no failurePolicy; audit rules always admit.
    #[arg(long, value_enum, default_value_t = FailurePolicyArg::Fail)]
    pub(crate) failure_policy: FailurePolicyArg,
}

/// Options of `hallmark admission serve`.
#[derive(Debug, Args)]
pub(crate) struct AdmissionServeArgs {
    /// Address to listen on (loopback unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "HOST:PORT")]
    pub(crate) addr: String,
    /// Allow listening on an address that is not loopback (in a cluster: 0.0.0.0:8443).
    #[arg(long)]
    pub(crate) allow_remote: bool,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
    #[command(flatten)]
    pub(crate) decisions: DecisionArgs,
    #[command(flatten)]
    pub(crate) webhook: WebhookArgs,
    #[command(flatten)]
    pub(crate) connections: ConnectionArgs,
}

/// What happens to manifests pushed by tag through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PushModeArg {
    /// Forwarded only when the pushed digest already satisfies the policy: an unsigned tag
    /// never exists upstream (publish with `hallmark copy SRC PROXY/repo:TAG --sign`).
    Refuse,
    /// Forwarded; the tag is served to nobody until it is signed (what
    /// `DOCKER_CONTENT_TRUST=1 docker push` needs: it pushes the tag, then signs).
    Gate,
}

/// The proxy's settings.
#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// The registry behind the proxy: http(s)://HOST[:PORT]. Policy rules name its images
    /// (HOST[:PORT]/repo), as their signatures do.
    #[arg(long, value_name = "URL")]
    pub(crate) upstream: Option<String>,
    /// Extra CA certificates (PEM) for an HTTPS upstream.
    #[arg(long, value_name = "FILE")]
    pub(crate) upstream_cacert: Option<PathBuf>,
    /// Tag pushes: refuse unsigned ones, or take them and serve them once signed.
    #[arg(long, value_enum, default_value_t = PushModeArg::Refuse)]
    pub(crate) push_mode: PushModeArg,
    /// The Notary server Docker Content Trust rules read (default:
    /// $DOCKER_CONTENT_TRUST_SERVER, else docker's).
    #[arg(long, value_name = "URL")]
    pub(crate) trust_server: Option<String>,
}

/// Options of `hallmark proxy`.
#[derive(Debug, Args)]
pub(crate) struct ProxyServeArgs {
    /// Address to listen on (loopback unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:5001", value_name = "HOST:PORT")]
    pub(crate) addr: String,
    /// Allow listening on an address that is not loopback.
    #[arg(long)]
    pub(crate) allow_remote: bool,
    #[command(flatten)]
    pub(crate) proxy: ProxyArgs,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
    #[command(flatten)]
    pub(crate) decisions: DecisionArgs,
    #[command(flatten)]
    pub(crate) connections: ConnectionArgs,
}

/// Options of `hallmark ui`.
#[derive(Debug, Args)]
pub(crate) struct UiArgs {
    /// The registry whose tags are shown: http(s)://HOST[:PORT].
    #[arg(long, value_name = "URL")]
    pub(crate) registry: String,
    /// The Notary server Docker Content Trust rules read (default:
    /// $DOCKER_CONTENT_TRUST_SERVER, else docker's).
    #[arg(long, value_name = "URL")]
    pub(crate) trust_server: Option<String>,
    /// Extra CA certificates (PEM) for an HTTPS registry.
    #[arg(long, value_name = "FILE")]
    pub(crate) registry_ca: Option<PathBuf>,
    /// Address to listen on (loopback unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub(crate) addr: String,
    /// Allow listening on an address that is not loopback.
    #[arg(long)]
    pub(crate) allow_remote: bool,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
    #[command(flatten)]
    pub(crate) decisions: DecisionArgs,
    #[command(flatten)]
    pub(crate) connections: ConnectionArgs,
}

/// Options of `hallmark serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address every service without an address of its own is mounted on (loopback
    /// unless --allow-remote); /metrics is served here.
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "HOST:PORT")]
    pub(crate) addr: String,
    /// Allow listening on addresses that are not loopback.
    #[arg(long)]
    pub(crate) allow_remote: bool,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
    #[command(flatten)]
    pub(crate) connections: ConnectionArgs,
    /// Mount the Notary v1 trust server (`/v2/.../_trust/...`); needs --trust-data-dir.
    #[arg(long)]
    pub(crate) trust: bool,
    /// Its own address instead of --addr.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) trust_addr: Option<String>,
    /// The trust server's data directory (SQLite and sealed server keys).
    #[arg(long, value_name = "DIR")]
    pub(crate) trust_data_dir: Option<PathBuf>,
    /// The trust server's PostgreSQL database instead of SQLite.
    #[arg(long, value_name = "URL")]
    pub(crate) trust_database: Option<String>,
    /// Mount the transparency log (`/api/v1/log...`, `/checkpoint`, `/tile/...`); needs
    /// --log-data-dir.
    #[arg(long)]
    pub(crate) log: bool,
    /// Its own address instead of --addr.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) log_addr: Option<String>,
    /// The log's data directory (its key, and SQLite unless --log-database).
    #[arg(long, value_name = "DIR")]
    pub(crate) log_data_dir: Option<PathBuf>,
    /// The log's PostgreSQL database instead of SQLite.
    #[arg(long, value_name = "URL")]
    pub(crate) log_database: Option<String>,
    /// Mount the admission webhook (`/validate`, `/mutate`, `/gatekeeper/verify`, `/healthz`,
    /// `/readyz`); needs --policy and TLS.
    #[arg(long)]
    pub(crate) admission: bool,
    /// Its own address instead of --addr.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) admission_addr: Option<String>,
    #[command(flatten)]
    pub(crate) webhook: WebhookArgs,
    /// Mount the registry proxy (`/v2/...`); needs --upstream and --policy. It claims `/v2/`
    /// as the trust server does: give one of them its own address.
    #[arg(long)]
    pub(crate) proxy: bool,
    /// Its own address instead of --addr.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) proxy_addr: Option<String>,
    #[command(flatten)]
    pub(crate) proxying: ProxyArgs,
    #[command(flatten)]
    pub(crate) decisions: DecisionArgs,
}

fn parse_addr(s: &str, flag: &str) -> Result<SocketAddr> {
    s.parse()
        .with_context(|| format!("{flag} {s:?}: expected IP:PORT"))
}

/// The decider (policy, caches) and decision log these arguments describe; `Err(code)` when
/// the policy does not load (reported).
async fn decider(
    ctx: &Context,
    d: &DecisionArgs,
    timeout: Duration,
    proxy: Option<&ProxyArgs>,
) -> Result<Result<(Decider, DecisionLog), ExitCode>> {
    let Some(policy) = d.policy.clone() else {
        bail!("expected --policy FILE: the policy to enforce");
    };
    let mut options = ctx.registry_options();
    // A registry request never outlives the decision it serves; one retry at most.
    options.timeout = timeout;
    options.max_retries = options.max_retries.min(1);
    let mut trust = super::policy::trust_config(ctx);
    if let Some(p) = proxy {
        if let Some(ca) = &p.upstream_cacert {
            options.extra_ca_pem = Some(
                std::fs::read(ca).with_context(|| format!("--upstream-cacert {}", ca.display()))?,
            );
        }
        if p.upstream
            .as_deref()
            .is_some_and(|u| u.starts_with("http://"))
        {
            options.http = hallmark_oci::HttpPolicy::AllowInsecureHttp;
        }
        if let (Some(server), Some(dct)) = (&p.trust_server, trust.dct.as_mut()) {
            dct.server = Some(server.clone());
        }
    }
    let registry = hallmark_oci::RegistryClient::new(options)?;
    let mut cache = CacheConfig::default();
    cache.entries = d.cache_entries.max(1);
    cache.allow_ttl = d.cache_ttl;
    cache.deny_ttl = d.deny_ttl;
    cache.tag_ttl = d.tag_ttl;
    let log = match &d.decision_log {
        None => DecisionLog::off(),
        Some(p) if p.as_os_str() == "-" => DecisionLog::to_writer(Box::new(std::io::stderr())),
        Some(p) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("--decision-log {}", p.display()))?;
            DecisionLog::to_writer(Box::new(file))
        }
    };
    match Decider::open(policy, trust, registry, cache).await {
        Ok(decider) => Ok(Ok((decider, log))),
        Err(e) => {
            term_eprintln!("error: {}", hallmark_core::error::chain(&e));
            Ok(Err(ExitCode::from(super::policy::POLICY_ERROR)))
        }
    }
}

/// The webhook these arguments describe, deciding with `decider`.
fn webhook(decider: &Decider, log: &DecisionLog, a: &WebhookArgs, tls: &TlsArgs) -> Webhook {
    let mut config = Config::default();
    config.pin = match a.pin {
        PinArg::TagAndDigest => hallmark_admission::Pin::TagAndDigest,
        PinArg::DigestOnly => hallmark_admission::Pin::DigestOnly,
    };
    config.decision_timeout = a.decision_timeout;
    config.gatekeeper_timeout = a.gatekeeper_timeout;
    config.failure_policy = match a.failure_policy {
        FailurePolicyArg::Fail => hallmark_policy::FailurePolicy::Fail,
        FailurePolicyArg::Ignore => hallmark_policy::FailurePolicy::Ignore,
    };
    config.decision_log = log.clone();
    if tls.client_ca.is_some() {
        config.gatekeeper_clients = GatekeeperClients::VerifiedCertificate;
    }
    Webhook::new(config, decider.clone())
}

/// The proxy these arguments describe, deciding with `decider`.
fn proxy(decider: &Decider, log: &DecisionLog, p: &ProxyArgs) -> Result<Proxy> {
    let Some(upstream) = &p.upstream else {
        bail!("the proxy needs --upstream URL: the registry it stands in front of");
    };
    let mut config = hallmark_proxy::Config::new(upstream.clone());
    if let Some(ca) = &p.upstream_cacert {
        config.upstream_ca =
            Some(std::fs::read(ca).with_context(|| format!("--upstream-cacert {}", ca.display()))?);
    }
    config.push_mode = match p.push_mode {
        PushModeArg::Refuse => hallmark_proxy::PushMode::Refuse,
        PushModeArg::Gate => hallmark_proxy::PushMode::Gate,
    };
    config.decision_log = log.clone();
    Ok(Proxy::new(config, decider.clone())?)
}

fn proxy_service(proxy: &Proxy) -> Service {
    let metrics = proxy.clone();
    Service::new("proxy", &["/v2", "/ui"], proxy.router())
        .with_metrics(Arc::new(move || metrics.metrics()))
}

fn admission_service(webhook: &Webhook) -> Service {
    let metrics = webhook.clone();
    Service::new(
        "admission",
        &[
            "/validate",
            "/mutate",
            "/gatekeeper/",
            "/healthz",
            "/readyz",
        ],
        webhook.routes(),
    )
    .with_metrics(Arc::new(move || metrics.metrics()))
}

/// `hallmark admission serve`
pub(crate) async fn admission(ctx: &Context, cmd: AdmissionCommand) -> Result<ExitCode> {
    let AdmissionCommand::Serve(a) = cmd;
    let addr = parse_addr(&a.addr, "--addr")?;
    reach(a.allow_remote).check(addr, "the admission webhook")?;
    let Some(tls) = a.tls.config()? else {
        bail!(
            "the admission webhook is served over HTTPS only: expected --tls-cert and --tls-key \
             (the API server and Gatekeeper call webhooks over TLS)"
        );
    };
    let timeout = a.webhook.decision_timeout.max(a.webhook.gatekeeper_timeout);
    let (decider, log) = match decider(ctx, &a.decisions, timeout, None).await? {
        Ok(d) => d,
        Err(code) => return Ok(code),
    };
    let webhook = webhook(&decider, &log, &a.webhook, &a.tls);
    let alone = Alone {
        who: "hallmark admission",
        addr,
        tls: Some(tls),
        limits: a.connections.limits(),
        reload_interval: a.decisions.reload_interval,
    };
    alone
        .serve(&decider, admission_service(&webhook), true, |at| {
            format!(
                "serving on {at} (policy {}); SIGHUP reloads the policy, SIGTERM or Ctrl-C stops it",
                decider.policy_digest()
            )
        })
        .await
}

/// A service served alone on one address (`admission serve`, `proxy`, `ui`): the policy
/// watched for reloads, one line said at start and one at the end.
struct Alone {
    who: &'static str,
    addr: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: hallmark_serve::Limits,
    reload_interval: Duration,
}

impl Alone {
    async fn serve(
        self,
        decider: &Decider,
        service: Service,
        metrics: bool,
        started: impl FnOnce(String) -> String,
    ) -> Result<ExitCode> {
        let addr = self.addr;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let watcher = decider.watch(self.reload_interval, self.who);
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        eprintln!(
            "{}: {}",
            self.who,
            started(format!("{scheme}://{}", listener.local_addr()?))
        );
        hallmark_serve::serve_all(
            vec![Listening {
                listener,
                tls: self.tls,
                services: vec![service],
                metrics,
            }],
            self.limits,
            hallmark_serve::shutdown_signal(),
        )
        .await?;
        watcher.abort();
        eprintln!("{}: stopped", self.who);
        Ok(ExitCode::SUCCESS)
    }
}

/// `hallmark proxy`
pub(crate) async fn proxy_serve(ctx: &Context, a: ProxyServeArgs) -> Result<ExitCode> {
    let addr = parse_addr(&a.addr, "--addr")?;
    reach(a.allow_remote).check(addr, "the registry proxy")?;
    let tls = a.tls.config()?;
    let (decider, log) =
        match decider(ctx, &a.decisions, Duration::from_secs(30), Some(&a.proxy)).await? {
            Ok(d) => d,
            Err(code) => return Ok(code),
        };
    let proxy = proxy(&decider, &log, &a.proxy)?;
    let alone = Alone {
        who: "hallmark proxy",
        addr,
        tls,
        limits: a.connections.limits(),
        reload_interval: a.decisions.reload_interval,
    };
    alone
        .serve(&decider, proxy_service(&proxy), true, |at| {
            format!(
                "serving {} on {at} (policy {}); SIGHUP reloads the policy, SIGTERM or Ctrl-C stops it",
                a.proxy.upstream.as_deref().unwrap_or_default(),
                decider.policy_digest()
            )
        })
        .await
}

/// `hallmark ui`: the page of signed states (and its JSON API) for one registry.
pub(crate) async fn ui(ctx: &Context, a: UiArgs) -> Result<ExitCode> {
    let addr = parse_addr(&a.addr, "--addr")?;
    reach(a.allow_remote).check(addr, "the page")?;
    let tls = a.tls.config()?;
    let upstream = ProxyArgs {
        upstream: Some(a.registry.clone()),
        upstream_cacert: a.registry_ca.clone(),
        push_mode: PushModeArg::Refuse,
        trust_server: a.trust_server.clone(),
    };
    let (decider, log) =
        match decider(ctx, &a.decisions, Duration::from_secs(30), Some(&upstream)).await? {
            Ok(d) => d,
            Err(code) => return Ok(code),
        };
    let proxy = proxy(&decider, &log, &upstream)?;
    let alone = Alone {
        who: "hallmark ui",
        addr,
        tls,
        limits: a.connections.limits(),
        reload_interval: a.decisions.reload_interval,
    };
    let service = Service::new("ui", &["/ui"], proxy.ui_router());
    alone
        .serve(&decider, service, false, |at| {
            format!(
                "the signed state of {} on {at}/ui/; SIGTERM or Ctrl-C stops it",
                a.registry
            )
        })
        .await
}

pub(crate) fn reach(allow_remote: bool) -> Reach {
    if allow_remote {
        Reach::Network
    } else {
        Reach::LoopbackOnly
    }
}

/// `hallmark serve`
pub(crate) async fn serve(ctx: &Context, a: ServeArgs) -> Result<ExitCode> {
    if !(a.trust || a.log || a.admission || a.proxy) {
        bail!("expected at least one service to mount: --trust, --log, --admission or --proxy");
    }
    let main = parse_addr(&a.addr, "--addr")?;
    let tls = a.tls.config()?;
    let limits = a.connections.limits();
    // Address → services; each address is checked against the loopback rule before binding.
    let mut mounts: BTreeMap<SocketAddr, Vec<Service>> = BTreeMap::new();
    let at = |own: &Option<String>, flag: &str| -> Result<SocketAddr> {
        match own {
            Some(s) => parse_addr(s, flag),
            None => Ok(main),
        }
    };
    let mut watcher = None;
    let mut names = Vec::new();
    // One policy and one cache for the webhook and the proxy.
    let decisions = if a.admission || a.proxy {
        if a.admission && tls.is_none() {
            bail!("--admission is served over HTTPS only: expected --tls-cert and --tls-key");
        }
        let timeout = a.webhook.decision_timeout.max(a.webhook.gatekeeper_timeout);
        let proxying = a.proxy.then_some(&a.proxying);
        match decider(ctx, &a.decisions, timeout, proxying).await? {
            Ok((decider, log)) => {
                watcher = Some(decider.watch(a.decisions.reload_interval, "hallmark serve"));
                Some((decider, log))
            }
            Err(code) => return Ok(code),
        }
    } else {
        None
    };
    if let (true, Some((decider, log))) = (a.admission, &decisions) {
        let addr = at(&a.admission_addr, "--admission-addr")?;
        reach(a.allow_remote).check(addr, "the admission webhook")?;
        let webhook = webhook(decider, log, &a.webhook, &a.tls);
        mounts
            .entry(addr)
            .or_default()
            .push(admission_service(&webhook));
        names.push(format!("admission on {addr}"));
    }
    if let (true, Some((decider, log))) = (a.proxy, &decisions) {
        let addr = at(&a.proxy_addr, "--proxy-addr")?;
        reach(a.allow_remote).check(addr, "the registry proxy")?;
        let proxy = proxy(decider, log, &a.proxying)?;
        mounts.entry(addr).or_default().push(proxy_service(&proxy));
        names.push(format!("proxy on {addr}"));
    }
    if a.log {
        let addr = at(&a.log_addr, "--log-addr")?;
        reach(a.allow_remote).check(addr, "the log")?;
        let Some(dir) = &a.log_data_dir else {
            bail!("--log needs --log-data-dir DIR");
        };
        let mut config = hallmark_tlog_server::Config::new(dir);
        config.limits = limits;
        config.database = a.log_database.clone();
        let service = hallmark_tlog_server::open(config, addr)
            .await
            .context("starting the log")?;
        mounts.entry(addr).or_default().push(service);
        names.push(format!("log on {addr}"));
    }
    if a.trust {
        let addr = at(&a.trust_addr, "--trust-addr")?;
        let Some(dir) = &a.trust_data_dir else {
            bail!("--trust needs --trust-data-dir DIR");
        };
        let mut config = hallmark_trust_server::Config::new(dir);
        config.limits = limits;
        config.database = a.trust_database.clone();
        if let (Some(ca), Some(cert), Some(key)) =
            (&a.tls.client_ca, &a.tls.tls_cert, &a.tls.tls_key)
        {
            config.auth = hallmark_trust_server::Auth::Mtls {
                client_ca: hallmark_serve::tls::read_certs(ca)?,
            };
            config.tls = Some((cert.clone(), key.clone()));
        }
        if let Some(p) = std::env::var_os(hallmark_trust_server::keys::PASSPHRASE_ENV) {
            config.key_passphrase = Some(zeroize::Zeroizing::new(p.into_encoded_bytes()));
        }
        let opened = hallmark_trust_server::open(config, addr)
            .await
            .context("starting the trust server")?;
        mounts.entry(addr).or_default().push(opened.service);
        names.push(format!("trust on {addr}"));
    }
    let mut listening = Vec::new();
    for (addr, services) in mounts {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        listening.push(Listening {
            listener,
            tls: tls.clone(),
            services,
            metrics: addr == main,
        });
    }
    if !listening.iter().any(|l| l.metrics) {
        let listener = tokio::net::TcpListener::bind(main)
            .await
            .with_context(|| format!("listening on {main}"))?;
        listening.push(Listening {
            listener,
            tls: tls.clone(),
            services: Vec::new(),
            metrics: true,
        });
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!(
        "hallmark serve: {} ({scheme}; metrics on {main}/metrics); SIGTERM or Ctrl-C stops it",
        names.join(", ")
    );
    hallmark_serve::serve_all(listening, limits, hallmark_serve::shutdown_signal()).await?;
    if let Some(w) = watcher {
        w.abort();
    }
    eprintln!("hallmark serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Options of `hallmark debug admission-load`.
#[derive(Debug, Args)]
pub(crate) struct AdmissionLoadArgs {
    /// The webhook's endpoint, e.g. https://127.0.0.1:8443/validate.
    #[arg(long)]
    pub(crate) url: String,
    /// CA certificate (PEM) the webhook's certificate chains to.
    #[arg(long, value_name = "FILE")]
    pub(crate) cacert: PathBuf,
    /// The AdmissionReview sent, again and again.
    #[arg(long, value_name = "FILE")]
    pub(crate) body: PathBuf,
    /// Concurrent clients, each on its own TLS connection with one request in flight.
    #[arg(long, default_value_t = 64)]
    pub(crate) clients: usize,
    /// How long to run, e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = crate::cli::parse_duration)]
    pub(crate) duration: Duration,
    /// The answer every response must carry.
    #[arg(long, value_enum, default_value_t = Expect::Allow)]
    pub(crate) expect: Expect,
}

/// The answer a load run expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Expect {
    /// `allowed: true`.
    Allow,
    /// `allowed: false`.
    Deny,
}

/// `hallmark debug admission-load`: AdmissionReviews at a webhook from concurrent clients;
/// prints one JSON object (requests, req/s, p50/p99 latency in ms, errors, wrong answers).
pub(crate) async fn admission_load(a: AdmissionLoadArgs) -> Result<ExitCode> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let ca =
        std::fs::read(&a.cacert).with_context(|| format!("--cacert {}", a.cacert.display()))?;
    let body = std::fs::read(&a.body).with_context(|| format!("--body {}", a.body.display()))?;
    let body = hallmark_oci::Bytes::from(body);
    let expected = a.expect == Expect::Allow;
    let errors = Arc::new(AtomicU64::new(0));
    let wrong = Arc::new(AtomicU64::new(0));
    let start = std::time::Instant::now();
    let deadline = start + a.duration;
    let mut tasks = Vec::new();
    for _ in 0..a.clients.max(1) {
        let client = reqwest::Client::builder()
            .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&ca)?)
            .pool_max_idle_per_host(1)
            .http1_only()
            .timeout(Duration::from_secs(30))
            .build()?;
        let (url, body, errors, wrong) =
            (a.url.clone(), body.clone(), errors.clone(), wrong.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u64> = Vec::new();
            while std::time::Instant::now() < deadline {
                let t0 = std::time::Instant::now();
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                let answer = match sent {
                    Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await.ok(),
                    _ => None,
                };
                let Some(answer) = answer else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                latencies.push(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX));
                if answer["response"]["allowed"].as_bool() != Some(expected) {
                    wrong.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let seconds = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        #[allow(clippy::cast_precision_loss)]
        let ms = all[i] as f64 / 1000.0;
        ms
    };
    #[allow(clippy::cast_precision_loss)]
    let rps = all.len() as f64 / seconds;
    println!(
        "{}",
        serde_json::json!({
            "requests": all.len(),
            "seconds": seconds,
            "rps": rps,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "errors": errors.load(Ordering::Relaxed),
            "wrong": wrong.load(Ordering::Relaxed),
        })
    );
    Ok(ExitCode::SUCCESS)
}
