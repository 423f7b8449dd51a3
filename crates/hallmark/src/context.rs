//! What every command shares: the registry client, opened layouts, output settings.

use crate::cli::{GlobalArgs, OutputFormat};
use anyhow::{Context as _, Result};
use hallmark_core::ImageRef;
use hallmark_oci::{
    Credentials, HttpPolicy, RegistryClient, RegistryOptions, Store, layout::Layout,
};
use hallmark_trust_client::{Login, LoginSource};
use std::{
    collections::HashMap,
    io::IsTerminal as _,
    path::PathBuf,
    sync::{Arc, Mutex, OnceLock},
};
use zeroize::Zeroizing;

/// Shared per-invocation state.
pub(crate) struct Context {
    /// Built on first use: making it reads the system's root certificates, which commands
    /// that never talk to a registry (`trust resolve`, `trust inspect`, ...) should not pay for.
    client: OnceLock<RegistryClient>,
    options: RegistryOptions,
    pub(crate) output: OutputFormat,
    pub(crate) max_workers: usize,
    layouts: Mutex<HashMap<PathBuf, Layout>>,
    /// The registry login presented to trust servers' token realms.
    trust_login: LoginSource,
}

impl Context {
    pub(crate) fn new(global: &GlobalArgs) -> Result<Arc<Self>> {
        let mut options = RegistryOptions::default();
        let mut trust_login = LoginSource::DockerConfig;
        if global.allow_http_registry {
            options.http = HttpPolicy::AllowInsecureHttp;
        }
        if let Some(username) = &global.registry_username {
            if !username.is_empty() {
                trust_login = LoginSource::Given(Login {
                    username: username.clone(),
                    password: Zeroizing::new(global.registry_password.clone().unwrap_or_default()),
                });
            }
            options.credentials = Credentials::Basic {
                username: username.clone(),
                password: global.registry_password.clone().unwrap_or_default(),
            };
        }
        if let Some(ca) = &global.registry_cacert {
            options.extra_ca_pem = Some(
                std::fs::read(ca)
                    .with_context(|| format!("reading --registry-cacert {}", ca.display()))?,
            );
        }
        tracing::debug!(
            credentials = ?options.credentials,
            password_given = global.registry_password.is_some(),
            http = ?options.http,
            "registry client"
        );
        Ok(Arc::new(Self {
            client: OnceLock::new(),
            options,
            output: global.output,
            max_workers: global.max_workers.max(1),
            layouts: Mutex::new(HashMap::new()),
            trust_login,
        }))
    }

    /// The registry login trust servers see: `--registry-username`/`--registry-password`,
    /// else docker's config for the image's registry.
    pub(crate) fn trust_login(&self) -> LoginSource {
        self.trust_login.clone()
    }

    /// The registry options of this invocation (for a client of different timeouts).
    pub(crate) fn registry_options(&self) -> RegistryOptions {
        self.options.clone()
    }

    /// The registry client.
    pub(crate) fn client(&self) -> Result<&RegistryClient> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let c = RegistryClient::new(self.options.clone())?;
        Ok(self.client.get_or_init(|| c))
    }

    /// Open the store of an image; one `Layout` per directory, so writes to one layout from
    /// concurrent tasks are serialised.
    pub(crate) fn store(&self, image: &ImageRef, create_layout: bool) -> Result<Store> {
        match image {
            ImageRef::Registry(_) => Ok(Store::open(image, self.client()?, false)?),
            ImageRef::Layout { path, .. } => {
                let key = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                let mut map = self
                    .layouts
                    .lock()
                    .map_err(|_| anyhow::anyhow!("layout cache poisoned"))?;
                if let Some(l) = map.get(&key) {
                    return Ok(Store::Layout(l.clone()));
                }
                let layout = if create_layout {
                    Layout::create(path)?
                } else {
                    Layout::open(path)?
                };
                map.insert(key, layout.clone());
                Ok(Store::Layout(layout))
            }
        }
    }

    /// Copy `src` (from `src_store`) into `dst`, tagged `tag`. A layout this creates is
    /// removed again when the copy fails: a failed copy leaves the destination as it was
    /// (the flow itself publishes no name before everything is written).
    pub(crate) async fn copy_into(
        &self,
        src_store: &Store,
        src: &ImageRef,
        dst: &ImageRef,
        tag: Option<&str>,
    ) -> Result<hallmark_flows::CopyReport> {
        let created = match dst {
            ImageRef::Layout { path, .. } if !path.exists() => Some(path.clone()),
            _ => None,
        };
        let dst_store = self.store(dst, true)?;
        let result = hallmark_flows::copy(src_store, src, &dst_store, tag).await;
        if result.is_err()
            && let Some(path) = created
        {
            let key = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
            if let Ok(mut map) = self.layouts.lock() {
                map.remove(&key);
            }
            let _ = std::fs::remove_dir_all(&path);
        }
        Ok(result?)
    }

    /// True when progress bars should be drawn.
    pub(crate) fn progress(&self, count: usize) -> bool {
        count > 1 && std::io::stderr().is_terminal() && self.output == OutputFormat::Text
    }
}

/// Parse an image reference with a message naming it.
pub(crate) fn parse_image(s: &str) -> Result<ImageRef> {
    Ok(ImageRef::parse(s)?)
}
