//! SoftHSM2 tokens (Debian packages `softhsm2` and `opensc` for `pkcs11-tool`) in a temporary
//! directory: a `softhsm2.conf` pointing at its own token directory, a token initialised with
//! `softhsm2-util --init-token`, and EC key pairs made with `pkcs11-tool --keypairgen`.
//!
//! The library reads `SOFTHSM2_CONF` when it is initialised, so a test hands
//! [`SoftHsm::conf`] to the process it starts (`Command::env("SOFTHSM2_CONF", ...)`).
//!
//! ```no_run
//! let hsm = hallmark_testutil::softhsm::SoftHsm::new("release");
//! hsm.keygen_p256("signer", "01");
//! let uri = hsm.uri("signer", true);
//! ```

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};
use tempfile::TempDir;

/// The environment variable naming the SoftHSM2 module (default: Debian's path).
pub const MODULE_ENV: &str = "HALLMARK_SOFTHSM_MODULE";
/// Debian's SoftHSM2 module.
pub const DEBIAN_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The user PIN of test tokens.
pub const PIN: &str = "4711-user-pin";
/// The security officer PIN of test tokens.
pub const SO_PIN: &str = "0815-so-pin";

/// The SoftHSM2 module, if installed.
pub fn module() -> Option<PathBuf> {
    let candidate = std::env::var_os(MODULE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEBIAN_MODULE));
    candidate.is_file().then_some(candidate)
}

/// A SoftHSM2 token directory with one initialised token, removed when dropped.
#[derive(Debug)]
pub struct SoftHsm {
    dir: TempDir,
    conf: PathBuf,
    module: PathBuf,
    label: String,
}

fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e} (install Debian softhsm2 and opensc)"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl SoftHsm {
    /// A new token directory with a token labelled `label` (user PIN [`PIN`]).
    ///
    /// # Panics
    ///
    /// If SoftHSM2 is not installed or `softhsm2-util` fails.
    pub fn new(label: &str) -> Self {
        let module = module().unwrap_or_else(|| {
            panic!(
                "SoftHSM2 is not installed: expected {DEBIAN_MODULE} or ${MODULE_ENV} (Debian packages softhsm2, opensc)"
            )
        });
        let dir = tempfile::Builder::new()
            .prefix("hallmark-softhsm-")
            .tempdir()
            .unwrap_or_else(|e| panic!("temporary directory for SoftHSM: {e}"));
        let tokens = dir.path().join("tokens");
        std::fs::create_dir_all(&tokens).unwrap_or_else(|e| panic!("create tokens dir: {e}"));
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokens.display()
            ),
        )
        .unwrap_or_else(|e| panic!("write {}: {e}", conf.display()));
        let hsm = Self {
            dir,
            conf,
            module,
            label: label.to_owned(),
        };
        run(
            Command::new("softhsm2-util")
                .env("SOFTHSM2_CONF", &hsm.conf)
                .args(["--init-token", "--free", "--label", label, "--pin", PIN])
                .args(["--so-pin", SO_PIN]),
            "softhsm2-util --init-token",
        );
        hsm
    }

    /// The `softhsm2.conf` to pass as `SOFTHSM2_CONF`.
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// The module path.
    pub fn module(&self) -> &Path {
        &self.module
    }

    /// The token label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The directory holding the configuration and tokens.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `pkcs11-tool` on this token, logged in.
    pub fn pkcs11_tool(&self) -> Command {
        let mut cmd = Command::new("pkcs11-tool");
        cmd.env("SOFTHSM2_CONF", &self.conf)
            .arg("--module")
            .arg(&self.module)
            .args(["--token-label", &self.label, "--login", "--pin", PIN]);
        cmd
    }

    /// Generate an EC key pair of `curve` (`prime256v1`, `secp384r1`, ...) labelled `label`
    /// with ID `id_hex` on the token.
    pub fn keygen(&self, curve: &str, label: &str, id_hex: &str) {
        run(
            self.pkcs11_tool().args([
                "--keypairgen",
                "--key-type",
                &format!("EC:{curve}"),
                "--id",
                id_hex,
                "--label",
                label,
            ]),
            "pkcs11-tool --keypairgen",
        );
    }

    /// Generate an EC P-256 key pair.
    pub fn keygen_p256(&self, label: &str, id_hex: &str) {
        self.keygen("prime256v1", label, id_hex);
    }

    /// The RFC 7512 URI of key `object` on this token, with `module-path` and, when
    /// `with_pin`, `pin-value`.
    pub fn uri(&self, object: &str, with_pin: bool) -> String {
        let mut uri = format!(
            "pkcs11:token={};object={object}?module-path={}",
            self.label,
            self.module.display()
        );
        if with_pin {
            uri.push_str("&pin-value=");
            uri.push_str(PIN);
        }
        uri
    }
}
