//! The trust directory shared with docker and notary: `private/<key ID>.key` (encrypted
//! PKCS#8 PEM with `role:`/`gun:` headers, mode 0600) and the verified metadata cache
//! `tuf/<gun>/metadata/<role>.json`, exactly where notary 0.7.0 keeps them.

use crate::error::TrustError;
use hallmark_tuf::keyfile::{self, KeyFile, PrivateKey, parse_pem};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// A private key found in the trust directory (headers only; not decrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key ID (the file name without `.key`).
    pub key_id: String,
    /// The `role` header.
    pub role: String,
    /// The `gun` header, if any.
    pub gun: Option<String>,
    /// The file.
    pub path: PathBuf,
}

/// A docker/notary trust directory.
#[derive(Debug, Clone)]
pub struct TrustDir {
    root: PathBuf,
}

/// The roles a metadata cache may hold, by file name under `metadata/`.
fn role_file(role: &str) -> String {
    format!("{role}.json")
}

impl TrustDir {
    /// A trust directory at `path` (created when first written).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { root: path.into() }
    }

    /// docker's location: `$DOCKER_CONFIG/trust`, else `$HOME/.docker/trust`.
    pub fn default_path() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(dir).join("trust"));
        }
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".docker").join("trust"))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `private/`.
    pub fn private_dir(&self) -> PathBuf {
        self.root.join("private")
    }

    /// `tuf/<gun>/metadata/`.
    pub fn metadata_dir(&self, gun: &str) -> PathBuf {
        self.root.join("tuf").join(gun).join("metadata")
    }

    fn create_dir(path: &Path) -> Result<(), TrustError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| TrustError::io(path, e))
    }

    /// Every private key file under `private/` (the flat layout of notary 0.7.0 and docker,
    /// and the older `root_keys/` and `tuf_keys/<gun>/` subdirectories). Files that are not
    /// PEM key files are skipped.
    pub fn list_keys(&self) -> Result<Vec<KeyInfo>, TrustError> {
        let mut out = Vec::new();
        let mut dirs = vec![self.private_dir()];
        while let Some(dir) = dirs.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(TrustError::io(&dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| TrustError::io(&dir, e))?;
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let Some(key_id) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".key"))
                else {
                    continue;
                };
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let Ok(block) = parse_pem(&text) else {
                    continue;
                };
                let Some(role) = block.headers.role() else {
                    continue;
                };
                out.push(KeyInfo {
                    key_id: key_id.to_string(),
                    role: role.to_string(),
                    gun: block.headers.gun().map(str::to_string),
                    path,
                });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// The key file of `key_id`, if present.
    pub fn find_key(&self, key_id: &str) -> Result<Option<KeyInfo>, TrustError> {
        Ok(self.list_keys()?.into_iter().find(|k| k.key_id == key_id))
    }

    /// Reads and decrypts a key file.
    pub fn read_key(&self, info: &KeyInfo, passphrase: &[u8]) -> Result<KeyFile, TrustError> {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(&info.path).map_err(|e| TrustError::io(&info.path, e))?,
        );
        let file =
            keyfile::read_key_file(&text, passphrase).map_err(|source| TrustError::KeyFile {
                path: info.path.clone(),
                source: Box::new(source),
            })?;
        if file.key.key_id() != info.key_id {
            return Err(TrustError::Invalid(format!(
                "private key {}: the file name names key ID {}, the key inside has key ID {}",
                info.path.display(),
                info.key_id,
                file.key.key_id()
            )));
        }
        Ok(file)
    }

    /// Encrypts and writes `private/<key ID>.key` (mode 0600, atomically). Refuses to
    /// overwrite an existing key file.
    pub fn write_key(
        &self,
        key: &PrivateKey,
        role: &str,
        gun: Option<&str>,
        passphrase: &[u8],
    ) -> Result<PathBuf, TrustError> {
        let pem =
            zeroize::Zeroizing::new(keyfile::write_key_file(key, role, gun, passphrase).map_err(
                |source| TrustError::KeyFile {
                    path: self.private_dir(),
                    source: Box::new(source),
                },
            )?);
        let dir = self.private_dir();
        Self::create_dir(&dir)?;
        let path = dir.join(keyfile::key_file_name(key));
        if path.exists() {
            return Err(TrustError::Invalid(format!(
                "private key {} already exists",
                path.display()
            )));
        }
        write_atomic(&path, pem.as_bytes(), 0o600)?;
        Ok(path)
    }

    /// The cached metadata of a repository, by role (`root`, `timestamp`, `snapshot`,
    /// `targets`, `targets/releases`, ...). Empty when nothing is cached.
    pub fn cached(&self, gun: &str) -> Result<BTreeMap<String, Vec<u8>>, TrustError> {
        let dir = self.metadata_dir(gun);
        let mut out = BTreeMap::new();
        let mut stack = vec![(dir.clone(), String::new())];
        while let Some((d, prefix)) = stack.pop() {
            let entries = match std::fs::read_dir(&d) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(TrustError::io(&d, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| TrustError::io(&d, e))?;
                let path = entry.path();
                let Some(name) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(str::to_string)
                else {
                    continue;
                };
                if path.is_dir() {
                    stack.push((path, format!("{prefix}{name}/")));
                } else if let Some(role) = name.strip_suffix(".json") {
                    let bytes = std::fs::read(&path).map_err(|e| TrustError::io(&path, e))?;
                    out.insert(format!("{prefix}{role}"), bytes);
                }
            }
        }
        Ok(out)
    }

    /// Replaces the cached metadata of a repository with `files` (role -> bytes): written to a
    /// new directory first, then swapped in. Nothing is written when the cache holds exactly
    /// these files already.
    pub fn store_cache(
        &self,
        gun: &str,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> Result<(), TrustError> {
        // Most updates download what is cached already; rewriting it would cost a synced
        // write per file for nothing.
        if self.cached(gun).is_ok_and(|current| current == *files) {
            return Ok(());
        }
        let dir = self.metadata_dir(gun);
        let parent = dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        Self::create_dir(&parent)?;
        let pid = std::process::id();
        let staging = parent.join(format!(".metadata.new-{pid}"));
        let old = parent.join(format!(".metadata.old-{pid}"));
        let _ = std::fs::remove_dir_all(&staging);
        for (role, bytes) in files {
            let path = staging.join(role_file(role));
            if let Some(p) = path.parent() {
                Self::create_dir(p)?;
            }
            write_atomic(&path, bytes, 0o644)?;
        }
        Self::create_dir(&staging)?;
        let had_old = dir.exists();
        if had_old {
            std::fs::rename(&dir, &old).map_err(|e| TrustError::io(&dir, e))?;
        }
        if let Err(e) = std::fs::rename(&staging, &dir) {
            if had_old {
                let _ = std::fs::rename(&old, &dir);
            }
            return Err(TrustError::io(&dir, e));
        }
        if had_old {
            let _ = std::fs::remove_dir_all(&old);
        }
        Ok(())
    }
}

/// Writes a file atomically (temporary file + rename) with `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TrustError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(TrustError::io(path, e));
    }
    Ok(())
}
