//! Servers that misbehave on purpose, on 127.0.0.1, for fault tests of hallmark's clients and
//! proxies: one that accepts connections and never answers, one that answers every request
//! with the same bytes. Each runs on threads of its own for the rest of the test process.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::time::Duration;

/// A server that accepts connections, holds them open and never says a word; its address.
///
/// # Panics
///
/// If no port can be bound.
pub fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    addr
}

/// A server that answers every request it reads with `response` (a whole raw HTTP response);
/// its address.
///
/// # Panics
///
/// If no port can be bound.
pub fn canned_server(response: impl Into<Vec<u8>>) -> String {
    let response: std::sync::Arc<[u8]> = response.into().into();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let response = response.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {
                    if conn.write_all(&response).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}
