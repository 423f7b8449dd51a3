//! Several services in one process: each [`Service`] is an axum [`Router`] claiming path
//! prefixes; [`serve_all`] mounts them on one or several addresses (each with its TLS
//! configuration), serves one `/metrics` endpoint, and stops everything on one shutdown path:
//! listeners first (in-flight requests finish), then each service's own stop (background tasks,
//! storage).

use crate::{Limits, serve};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::IntoResponse as _;
use futures::future::BoxFuture;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;

/// Renders a service's Prometheus metrics (text exposition).
pub type MetricsFn = Arc<dyn Fn() -> String + Send + Sync>;

/// A service a server mounts.
pub struct Service {
    name: &'static str,
    prefixes: Vec<&'static str>,
    router: Router,
    stop: Option<BoxFuture<'static, ()>>,
    metrics: Option<MetricsFn>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.name)
            .field("prefixes", &self.prefixes)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// `router` answering the paths that start with one of `prefixes`.
    pub fn new(name: &'static str, prefixes: &[&'static str], router: Router) -> Self {
        Self {
            name,
            prefixes: prefixes.to_vec(),
            router,
            stop: None,
            metrics: None,
        }
    }

    /// Run `stop` once serving has ended (stop background tasks, close storage).
    #[must_use]
    pub fn on_stop(mut self, stop: impl Future<Output = ()> + Send + 'static) -> Self {
        self.stop = Some(Box::pin(stop));
        self
    }

    /// The service's metrics, served on the process's one `/metrics` endpoint.
    #[must_use]
    pub fn with_metrics(mut self, metrics: MetricsFn) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The service's routes.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Finish: run what [`Service::on_stop`] registered.
    pub async fn stop(self) {
        if let Some(stop) = self.stop {
            stop.await;
        }
    }
}

/// One address and the services mounted on it.
#[derive(Debug)]
pub struct Listening {
    /// The bound listener.
    pub listener: TcpListener,
    /// TLS for this address (`None`: plain HTTP).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The services answering here.
    pub services: Vec<Service>,
    /// Serve the process's `/metrics` here.
    pub metrics: bool,
}

/// Two services claim the same paths on one address.
#[derive(Debug, thiserror::Error)]
#[error(
    "{first} and {second} both claim the paths under {prefix} on one address; give one of them its own address"
)]
pub struct MountConflict {
    /// A service.
    pub first: &'static str,
    /// Another.
    pub second: &'static str,
    /// The contested prefix.
    pub prefix: &'static str,
}

#[derive(Debug, Default)]
struct ListenerStats {
    requests: AtomicU64,
    unrouted: AtomicU64,
}

/// Serve every address until `shutdown` completes, then stop every service.
pub async fn serve_all(
    listeners: Vec<Listening>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), MountConflict> {
    let metrics: Vec<MetricsFn> = listeners
        .iter()
        .flat_map(|l| l.services.iter().filter_map(|s| s.metrics.clone()))
        .collect();
    let mut stops = Vec::new();
    let mut routers = Vec::new();
    let mut stats = Vec::new();
    for l in listeners {
        let s = Arc::new(ListenerStats::default());
        let addr = l
            .listener
            .local_addr()
            .map_or_else(|_| "?".to_owned(), |a| a.to_string());
        stats.push((addr, s.clone()));
        routers.push((l.listener, l.tls, dispatch(&l.services, s)?, l.metrics));
        stops.extend(l.services);
    }
    let stats = Arc::new(stats);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for (listener, tls, router, with_metrics) in routers {
        let router = if with_metrics {
            let (metrics, stats) = (metrics.clone(), stats.clone());
            Router::new()
                .route(
                    "/metrics",
                    axum::routing::get(move || {
                        let (metrics, stats) = (metrics.clone(), stats.clone());
                        async move {
                            let mut out = String::new();
                            for m in metrics.iter() {
                                out.push_str(&m());
                            }
                            out.push_str(&render(&stats));
                            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
                        }
                    }),
                )
                .fallback_service(router)
        } else {
            router
        };
        let mut rx = stop_rx.clone();
        tasks.spawn(async move {
            let _ = serve(listener, tls, router, limits, async move {
                while !*rx.borrow_and_update() {
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
            })
            .await;
        });
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    for s in stops {
        s.stop().await;
    }
    Ok(())
}

/// One router sending each request to the service whose prefix is the longest match.
fn dispatch(services: &[Service], stats: Arc<ListenerStats>) -> Result<Router, MountConflict> {
    let mut table: Vec<(&'static str, &'static str, Router)> = Vec::new();
    for s in services {
        for p in &s.prefixes {
            // Another service's prefix that is, or contains, or is contained in this one.
            if let Some((_, other, _)) = table
                .iter()
                .find(|(q, name, _)| *name != s.name && (q.starts_with(p) || p.starts_with(q)))
            {
                return Err(MountConflict {
                    first: other,
                    second: s.name,
                    prefix: p,
                });
            }
            table.push((p, s.name, s.router.clone()));
        }
    }
    table.sort_by_key(|(p, _, _)| std::cmp::Reverse(p.len()));
    let table = Arc::new(table);
    Ok(Router::new().fallback(move |req: Request<Body>| {
        let (table, stats) = (table.clone(), stats.clone());
        async move {
            stats.requests.fetch_add(1, Ordering::Relaxed);
            let path = req.uri().path();
            match table.iter().find(|(p, _, _)| path.starts_with(p)) {
                Some((_, _, router)) => {
                    let mut router = router.clone();
                    match tower_service::Service::call(&mut router, req).await {
                        Ok(resp) => resp,
                        Err(never) => match never {},
                    }
                }
                None => {
                    stats.unrouted.fetch_add(1, Ordering::Relaxed);
                    (StatusCode::NOT_FOUND, "no service here answers this path\n").into_response()
                }
            }
        }
    }))
}

fn render(stats: &[(String, Arc<ListenerStats>)]) -> String {
    use std::fmt::Write as _;
    type Counter = fn(&ListenerStats) -> &AtomicU64;
    let families: [(&str, &str, Counter); 2] = [
        (
            "hallmark_serve_requests_total",
            "Requests received, by listening address.",
            |s| &s.requests,
        ),
        (
            "hallmark_serve_unrouted_total",
            "Requests for paths no mounted service answers.",
            |s| &s.unrouted,
        ),
    ];
    let mut out = String::new();
    for (name, help, counter) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (addr, s) in stats {
            let _ = writeln!(
                out,
                "{name}{{addr=\"{addr}\"}} {}",
                counter(s).load(Ordering::Relaxed)
            );
        }
    }
    out
}
