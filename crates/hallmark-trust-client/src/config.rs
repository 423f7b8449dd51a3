//! How a repository's trust data is reached, decided once per process and passed down: the
//! server (docker's default or an override), the extra CA, the trust directory, how the root
//! is trusted and the registry login presented to the server's token realm. No process-global
//! state: every caller (the CLI's `trust` commands, the `DOCKER_CONTENT_TRUST` hook, the policy
//! collectors) opens repositories through one [`ClientConfig`].

use crate::{Remote, Repository, RootTrust, TrustDir, TrustError};
use hallmark_core::RegistryRef;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// A registry login, which docker also presents to the trust server's token realm.
#[derive(Clone)]
pub struct Login {
    /// User name.
    pub username: String,
    /// Password or token; never logged.
    pub password: Zeroizing<String>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where the registry login comes from.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum LoginSource {
    /// This login for every registry (`--registry-username` / `--registry-password`).
    Given(Login),
    /// docker's `config.json` for the image's registry (credential helpers, then `auths`), as
    /// docker does for pulls.
    #[default]
    DockerConfig,
    /// No login: token requests are anonymous.
    Anonymous,
}

/// How repositories are opened.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The trust server; `None` is docker's default for the registry
    /// ([`ClientConfig::default_server`]).
    pub server: Option<String>,
    /// Extra CA certificates (PEM) for the server; `None` uses docker's per-host
    /// `$DOCKER_CONFIG/tls/<host[:port]>/ca.crt` when present.
    pub tls_ca: Option<Vec<u8>>,
    /// The trust directory (keys and verified metadata cache).
    pub trust_dir: TrustDir,
    /// How a repository's root is trusted.
    pub root_trust: RootTrust,
    /// The login presented to the server's token realm.
    pub login: LoginSource,
}

impl ClientConfig {
    /// docker's defaults: its trust directory, trust on first use, the registry's default
    /// server, docker's credentials. Fails only when there is no home directory for the trust
    /// directory.
    pub fn docker_defaults() -> Result<Self, TrustError> {
        let dir = TrustDir::default_path().ok_or_else(|| {
            TrustError::Invalid(
                "no trust directory: expected DOCKER_CONFIG or HOME in the environment, found neither"
                    .into(),
            )
        })?;
        Ok(Self {
            server: None,
            tls_ca: None,
            trust_dir: TrustDir::new(dir),
            root_trust: RootTrust::default(),
            login: LoginSource::DockerConfig,
        })
    }

    /// docker's default trust server of a registry: `https://notary.docker.io` for Docker
    /// Hub, else `https://<registry host[:port]>`.
    pub fn default_server(r: &RegistryRef) -> String {
        if r.is_docker_hub() {
            "https://notary.docker.io".to_string()
        } else {
            format!("https://{}", r.registry)
        }
    }

    /// The server used for `r`: the configured one, else the default.
    pub fn server_for(&self, r: &RegistryRef) -> String {
        self.server
            .clone()
            .unwrap_or_else(|| Self::default_server(r))
    }

    /// The repository of `r` (its GUN is `registry/repository`, as docker names it) on
    /// `server` (else [`ClientConfig::server_for`]).
    pub fn open_on(&self, r: &RegistryRef, server: Option<&str>) -> Result<Repository, TrustError> {
        let server = server.map_or_else(|| self.server_for(r), str::to_owned);
        let ca = match &self.tls_ca {
            Some(pem) => Some(pem.clone()),
            None => docker_tls_ca(&server),
        };
        let mut remote = Remote::new(&server, ca.as_deref())?;
        if let Some(login) = self.login_for(r)? {
            remote = remote.with_credentials(login.username, login.password);
        }
        Ok(Repository {
            gun: gun(r),
            remote,
            dir: self.trust_dir.clone(),
            root_trust: self.root_trust.clone(),
        })
    }

    /// The repository of `r` on the configured (or default) server.
    pub fn open(&self, r: &RegistryRef) -> Result<Repository, TrustError> {
        self.open_on(r, None)
    }

    /// The login for `r`'s registry. An identity token (OAuth refresh token) in docker's
    /// config is not usable with the basic-auth token request, so the request is then
    /// anonymous (with a warning).
    fn login_for(&self, r: &RegistryRef) -> Result<Option<Login>, TrustError> {
        match &self.login {
            LoginSource::Given(login) => Ok(Some(login.clone())),
            LoginSource::Anonymous => Ok(None),
            LoginSource::DockerConfig => {
                let registry = if r.is_docker_hub() {
                    "docker.io"
                } else {
                    r.registry.as_str()
                };
                let found = hallmark_oci::docker_credentials(registry).map_err(|e| {
                    TrustError::Invalid(format!(
                        "registry credentials for {registry} from docker's config: {e}"
                    ))
                })?;
                Ok(match found {
                    Some(hallmark_oci::DockerCredential::UsernamePassword {
                        username,
                        password,
                    }) => Some(Login { username, password }),
                    Some(other) => {
                        tracing::warn!(
                            registry,
                            credential = ?other,
                            "docker's config holds an identity token for the registry; the trust server's \
                             token request is anonymous (pass --registry-username/--registry-password)"
                        );
                        None
                    }
                    None => None,
                })
            }
        }
    }
}

/// The GUN of a registry reference: `registry/repository` (Docker Hub as `docker.io/...`).
pub fn gun(r: &RegistryRef) -> String {
    format!("{}/{}", r.registry, r.repository)
}

/// docker's per-host CA: `$DOCKER_CONFIG/tls/<host[:port]>/ca.crt` (else under ~/.docker).
fn docker_tls_ca(server: &str) -> Option<Vec<u8>> {
    let url = url::Url::parse(server).ok()?;
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str()?),
        None => url.host_str()?.to_string(),
    };
    let base = std::env::var_os("DOCKER_CONFIG")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))?;
    std::fs::read(base.join("tls").join(host).join("ca.crt")).ok()
}
