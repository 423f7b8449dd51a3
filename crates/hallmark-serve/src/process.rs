//! Process plumbing every hallmark server shares: who may connect (loopback or the network),
//! one server per data directory (a lock file), and the signals that stop a server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Who may reach a server: a server that would expose something to the network only listens
/// on a non-loopback address when its operator asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Reach {
    /// Loopback addresses only (127.0.0.0/8, ::1).
    #[default]
    LoopbackOnly,
    /// Any address: the operator asked for it (`--allow-remote`).
    Network,
}

/// A setup refused before anything is bound or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A non-loopback address without [`Reach::Network`].
    #[error(
        "--addr {addr} is not a loopback address; pass --allow-remote to serve {what} to other hosts"
    )]
    NotLoopback {
        /// The address.
        addr: SocketAddr,
        /// What would be served.
        what: String,
    },
    /// Another process holds the data directory.
    #[error(
        "another {what} is using {dir} (SQLite takes one server per data directory; use --database postgres://... for several)"
    )]
    Locked {
        /// The server kind.
        what: String,
        /// The directory.
        dir: PathBuf,
    },
    /// The data directory or its lock file could not be made.
    #[error("{context}")]
    Io {
        /// What was done.
        context: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl Reach {
    /// Refuse `addr` unless this reach allows it.
    pub fn check(self, addr: SocketAddr, what: &str) -> Result<(), SetupError> {
        if self == Reach::LoopbackOnly && !addr.ip().is_loopback() {
            return Err(SetupError::NotLoopback {
                addr,
                what: what.to_owned(),
            });
        }
        Ok(())
    }
}

/// A held data-directory lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

/// Create `dir` (mode 0700) and take its lock file `lock` for this process: a second server
/// of kind `what` on the same directory is refused.
pub fn lock_data_dir(dir: &Path, lock: &str, what: &str) -> Result<DirLock, SetupError> {
    std::fs::create_dir_all(dir).map_err(|source| SetupError::Io {
        context: format!("create {}", dir.display()),
        source,
    })?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let path = dir.join(lock);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| SetupError::Io {
            context: format!("open {}", path.display()),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(DirLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(SetupError::Locked {
            what: what.to_owned(),
            dir: dir.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(SetupError::Io {
            context: format!("lock {}", path.display()),
            source,
        }),
    }
}

/// Write `bytes` to `path` once, readable by the owner only (0600): into a temporary file beside
/// it, synced, then hard-linked into place, so that of two processes starting over one
/// directory the first writer wins and both read its file. Nothing is done when `path` exists.
/// For a server's own key in its data directory (a log's, a witness's).
pub fn create_private_file_once(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    if path.exists() {
        return Ok(());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        let written = file.write_all(bytes).and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    }
    // hard_link fails if the file exists: the first writer wins, everyone reads its file.
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}
