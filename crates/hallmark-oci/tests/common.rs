//! Helpers shared by the tests: clients, unique repositories, a fake HTTP server.

use hallmark_core::RegistryRef;
use hallmark_oci::{Credentials, RegistryClient, RegistryOptions, Store, registry::RegistryRepo};
use std::{
    collections::HashMap,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

/// Options for tests: anonymous (never reads the machine's docker config), quick retries.
pub fn options() -> RegistryOptions {
    RegistryOptions {
        credentials: Credentials::Anonymous,
        retry_base: Duration::from_millis(10),
        max_retries: 2,
        timeout: Duration::from_secs(20),
        ..RegistryOptions::default()
    }
}

pub fn client() -> RegistryClient {
    RegistryClient::new(options()).unwrap()
}

/// A repository name no other test uses.
pub fn unique_repo(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "test/{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn reference(addr: &str, repo: &str) -> RegistryRef {
    RegistryRef::parse(&format!("{addr}/{repo}")).unwrap()
}

/// A fresh repository in the shared registry.
pub fn shared_repo(name: &str) -> RegistryRepo {
    let registry = hallmark_testutil::registry::shared();
    client().repository(&reference(registry.addr(), &unique_repo(name)))
}

pub fn shared_store(name: &str) -> Store {
    Store::Registry(shared_repo(name))
}

/// One request as the fake server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names lower case.
    pub headers: HashMap<String, String>,
    #[allow(dead_code)]
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or(&self.target)
    }
}

/// What the fake server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send this Content-Length instead of the body's length.
    pub content_length: Option<u64>,
}

impl Reply {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            content_length: None,
        }
    }
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 answering each request with `handler` (one request
/// per connection, `Connection: close`). Stops accepting after 60 s.
pub struct FakeServer {
    pub addr: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeServer {
    pub fn start<F>(handler: F) -> Self
    where
        F: Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let recorded = requests.clone();
        let handler = Arc::new(handler);
        thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let handler = handler.clone();
                        let recorded = recorded.clone();
                        thread::spawn(move || serve(stream, &*handler, &recorded));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self { addr, requests }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn repo(&self, options: hallmark_oci::RegistryOptions, repo: &str) -> RegistryRepo {
        RegistryClient::new(options)
            .unwrap()
            .repository(&reference(&self.addr, repo))
    }
}

fn serve(
    mut stream: TcpStream,
    handler: &(dyn Fn(&Recorded, usize) -> Reply + Send + Sync),
    recorded: &Mutex<Vec<Recorded>>,
) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 1 << 20 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_owned();
    let target = request_line.next().unwrap_or("").to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let want: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < want.min(16 << 20) {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let request = Recorded {
        method,
        target,
        headers,
        body,
    };
    let index = {
        let mut all = recorded.lock().unwrap();
        all.push(request.clone());
        all.len() - 1
    };
    let reply = handler(&request, index);
    let mut out = format!("HTTP/1.1 {} Fake\r\nConnection: close\r\n", reply.status);
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    let chunked = reply
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"));
    if !chunked {
        let length = reply.content_length.unwrap_or(reply.body.len() as u64);
        out.push_str(&format!("Content-Length: {length}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if request.method != "HEAD" {
        bytes.extend_from_slice(&reply.body);
    }
    let _ = stream.write_all(&bytes);
    let _ = stream.flush();
}
