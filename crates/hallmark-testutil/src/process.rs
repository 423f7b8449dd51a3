//! Small process and port helpers shared by the server starters.

use std::{
    fs,
    io::Read,
    net::TcpListener,
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0 to find a free port: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no local address for the port probe: {e}"))
        .port()
}

/// Send `signal` (a name such as `TERM` or `KILL`) to `pid`; errors are ignored (the process
/// may be gone already).
pub fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// True while `pid` runs (a zombie, state `Z`, counts as gone).
pub fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

/// The shell loop behind [`watchdog`]: `$1` is the test process, `$2` the server to stop.
const WATCHDOG: &str = r#"while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
kill -TERM "$2" 2>/dev/null
i=0
while kill -0 "$2" 2>/dev/null && [ "$i" -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
kill -KILL "$2" 2>/dev/null
exit 0"#;

/// Starts a `sh` watchdog that stops `child_pid` (TERM, then KILL after 2 s) once the current
/// process is gone. A server kept in a `static` is never dropped when a test process exits (one
/// process per test under nextest), and a leaked server would also keep the test runner's output
/// pipe open; the watchdog ends both. Kill the returned child when the server is stopped
/// normally.
pub fn watchdog(child_pid: u32) -> std::process::Child {
    Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("sh")
        .arg(std::process::id().to_string())
        .arg(child_pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the watchdog shell for pid {child_pid}: {e}"))
}

/// Reads a child's pipe to the end on a thread (so a chatty child cannot block).
pub(crate) fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error only truncates the captured output.
            let _ = pipe.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Polls `try_wait` until the child exits or `timeout` passes (then kills and reaps it).
pub(crate) fn wait_bounded(child: &mut Child, timeout: Duration) -> (Option<ExitStatus>, bool) {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (Some(status), false),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                return (child.wait().ok(), true);
            }
            Ok(None) => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => panic!("waiting for child process: {e}"),
        }
    }
}
