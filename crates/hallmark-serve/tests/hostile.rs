//! Each test starts its own server with short limits and plays one hostile client.

use axum::{Router, extract::ConnectInfo, routing::get};
use hallmark_serve::{Limits, Peer, serve};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Well above every limit used here: a test fails rather than hangs.
const BOUND: Duration = Duration::from_secs(10);

fn limits(max_connections: usize) -> Limits {
    let mut l = Limits::default();
    l.header_read_timeout = Duration::from_secs(1);
    l.idle_timeout = Duration::from_secs(1);
    l.max_connections = max_connections;
    l
}

/// A server answering `GET /` with `ok <client address>`; stopped when the sender drops.
async fn start(limits: Limits) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let router = Router::new().route(
        "/",
        get(|ConnectInfo(peer): ConnectInfo<Peer>| async move { format!("ok {}", peer.addr) }),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, None, router, limits, async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// One normal request on a fresh connection: the body.
async fn get_ok(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(BOUND, s.read_to_end(&mut out))
        .await
        .expect("a normal request answered in time")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// Read until the server closes the connection; how long that took.
async fn until_closed(s: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(BOUND, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the server closed the connection in time");
    started.elapsed()
}

#[tokio::test]
async fn headers_dribbled_a_byte_at_a_time_are_cut_at_the_header_read_timeout() {
    let (addr, _stop) = start(limits(64)).await;
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").await.unwrap();
    let dribble = tokio::spawn({
        let mut w = s.into_split().1;
        async move {
            for _ in 0..40 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if w.write_all(b"X").await.is_err() {
                    return true;
                }
            }
            false
        }
    });
    let cut = tokio::time::timeout(BOUND, dribble)
        .await
        .expect("the dribbling client was cut off in time")
        .unwrap();
    assert!(
        cut,
        "expected the server to close a connection dribbling its headers"
    );
    assert!(get_ok(&addr).await.contains("ok 127.0.0.1"));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let (addr, _stop) = start(limits(64)).await;
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let took = until_closed(&mut s).await;
    assert!(took < BOUND, "closed after {took:?}");
}

#[tokio::test]
async fn a_silent_connection_is_closed() {
    let (addr, _stop) = start(limits(64)).await;
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let took = until_closed(&mut s).await;
    assert!(took < BOUND, "closed after {took:?}");
}

#[tokio::test]
async fn beyond_the_cap_new_connections_are_closed_at_once_and_slots_come_back() {
    let (addr, _stop) = start(limits(20)).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        // Half a request: the connection is busy until the header timeout.
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(&addr).await.unwrap();
    let _ = extra.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_millis(900), extra.read_to_end(&mut buf))
        .await
        .expect("a connection over the cap is closed at once, not queued");
    assert!(
        read.is_err() || buf.is_empty(),
        "expected no answer over the cap, found {:?}",
        String::from_utf8_lossy(&buf)
    );
    // The held connections end at the header timeout; their slots serve again.
    drop(held);
    let started = Instant::now();
    loop {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(BOUND, s.read_to_end(&mut out)).await;
        if String::from_utf8_lossy(&out).contains("ok 127.0.0.1") {
            break;
        }
        assert!(started.elapsed() < BOUND, "slots did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_normal_client_is_served_while_hundreds_of_connections_dribble() {
    let (addr, _stop) = start(limits(1024)).await;
    let mut held = Vec::new();
    for _ in 0..300 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").await.unwrap();
        held.push(s);
    }
    let started = Instant::now();
    let body = get_ok(&addr).await;
    assert!(body.contains("ok 127.0.0.1"), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "expected a normal request served within a second, it took {:?}",
        started.elapsed()
    );
}
