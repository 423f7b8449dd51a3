//! Decision logs: one JSON line per image decision, written by a thread of their own so a slow
//! disk or pipe never holds up an answer.

use std::io::Write;
use std::sync::mpsc;

/// Where decision lines go.
#[derive(Debug, Clone)]
pub struct DecisionLog {
    tx: Option<mpsc::SyncSender<String>>,
}

/// Lines waiting to be written; beyond this, lines are dropped (and counted) rather than
/// holding up admission.
const BACKLOG: usize = 65_536;

impl DecisionLog {
    /// No decision log.
    pub fn off() -> Self {
        Self { tx: None }
    }

    /// Lines written to `out` (stderr, a file) by a thread of their own.
    pub fn to_writer(out: Box<dyn Write + Send>) -> Self {
        let (tx, rx) = mpsc::sync_channel::<String>(BACKLOG);
        std::thread::Builder::new()
            .name("hallmark-decision-log".into())
            .spawn(move || {
                let mut out = std::io::BufWriter::new(out);
                while let Ok(line) = rx.recv() {
                    let _ = out.write_all(line.as_bytes());
                    // Write out whenever nothing else is waiting.
                    while let Ok(line) = rx.try_recv() {
                        let _ = out.write_all(line.as_bytes());
                    }
                    let _ = out.flush();
                }
            })
            .map_or(Self { tx: None }, |_| Self { tx: Some(tx) })
    }

    /// True when lines go somewhere.
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Write one line (a JSON object; a newline is added).
    pub fn write(&self, line: &serde_json::Value) {
        if let Some(tx) = &self.tx {
            let mut s = line.to_string();
            s.push('\n');
            let _ = tx.try_send(s);
        }
    }
}

/// The current time as decision lines carry it (RFC 3339, UTC).
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
