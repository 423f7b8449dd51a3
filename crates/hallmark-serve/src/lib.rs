//! The one HTTP server loop of hallmark's servers (`hallmark trust serve`, `hallmark log
//! serve`, `hallmark admission serve`, and `hallmark serve`, which mounts several of them in
//! one process through [`mount`]), with the process plumbing they share ([`process`]: loopback
//! rules, data-directory locks, shutdown signals; [`tls`]: the rustls setup): HTTP/1.1
//! (hyper 1) over TCP or TLS (rustls), serving an axum [`Router`], with limits a client cannot
//! hold open:
//!
//! - a TLS handshake timeout (each handshake in its own task: a slow client holds up nobody);
//! - a header-read timeout: a request's headers must arrive in full within it, however slowly
//!   they dribble;
//! - an idle timeout: a connection on which nothing is read or written for that long is closed
//!   (a keep-alive connection between requests, a body that stalls);
//! - a cap on concurrent connections: beyond it, a new connection is closed at once rather than
//!   queued, so held connections cannot exhaust file descriptors.
//!
//! Handlers see their connection as `axum::extract::ConnectInfo<Peer>`.

pub mod mount;
pub mod process;
pub mod tls;

pub use mount::{Listening, Service, serve_all};
pub use process::{Reach, create_private_file_once, shutdown_signal};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;

/// What a connection may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest TLS handshake (default 10 s).
    pub handshake_timeout: Duration,
    /// Longest time for a request's headers to arrive in full (default 10 s).
    pub header_read_timeout: Duration,
    /// Longest time without a byte read or written on a connection (default 60 s).
    pub idle_timeout: Duration,
    /// Most connections open at once; more are closed as they arrive (default 1024).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// What a handler knows about its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// The client presented a certificate the TLS configuration verified.
    pub client_cert: bool,
}

/// How long in-flight requests may take to finish once shutdown is asked for.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serve `router` on `listener` (over TLS when `tls` is given) within `limits` until
/// `shutdown` completes; then stop accepting, let in-flight requests finish (for up to
/// 10 s) and return.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let acceptor = tls.map(TlsAcceptor::from);
    let (closing_tx, closing) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (tcp, addr) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: back off.
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    tracing::debug!(%addr, max = limits.max_connections, "connection refused: at the connection cap");
                    drop(tcp);
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let (router, acceptor, closing) = (router.clone(), acceptor.clone(), closing.clone());
                connections.spawn(async move {
                    let _permit = permit;
                    match acceptor {
                        None => {
                            let peer = Peer { addr, client_cert: false };
                            connection(tcp, peer, router, limits, closing).await;
                        }
                        Some(acceptor) => {
                            let Ok(Ok(tls)) =
                                tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await
                            else {
                                return;
                            };
                            let client_cert = tls
                                .get_ref()
                                .1
                                .peer_certificates()
                                .is_some_and(|c| !c.is_empty());
                            let peer = Peer { addr, client_cert };
                            connection(tls, peer, router, limits, closing).await;
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
    Ok(())
}

/// One connection: HTTP/1.1 with the header-read timeout, closed when idle too long, finished
/// gracefully when `closing` turns true.
async fn connection<I>(
    io: I,
    peer: Peer,
    router: Router,
    limits: Limits,
    mut closing: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(Idle::new(io, limits.idle_timeout));
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        tower_service::Service::call(&mut router, req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = closed(&mut closing) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Completes once `closing` is true (or its sender is gone).
async fn closed(closing: &mut watch::Receiver<bool>) {
    while !*closing.borrow_and_update() {
        if closing.changed().await.is_err() {
            return;
        }
    }
}

/// An I/O stream that fails with `TimedOut` once nothing has been read or written for
/// `limit` while the connection waits for the peer.
struct Idle<I> {
    io: I,
    limit: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<I> Idle<I> {
    fn new(io: I, limit: Duration) -> Self {
        Self {
            io,
            limit,
            deadline: Box::pin(tokio::time::sleep(limit)),
        }
    }

    /// Progress was made: the idle clock starts again.
    fn progressed(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.limit);
    }

    /// Nothing to do now: an error once the idle limit has passed.
    fn waiting(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle for too long",
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Idle<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.progressed();
                }
                Poll::Ready(r)
            }
            Poll::Pending => self.waiting(cx).map(Err),
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Idle<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write(cx, data) {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    self.progressed();
                }
                Poll::Ready(r)
            }
            Poll::Pending => self.waiting(cx).map(Err),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
