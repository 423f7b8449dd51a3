//! `hallmark trust key|signer|sign|inspect|revoke|resolve`: the Docker Content Trust client,
//! with docker's commands, names, files and output.

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use hallmark_core::{Digest, ImageRef, RegistryRef};
use hallmark_trust_client::repo::{self, Draft};
use hallmark_trust_client::{
    ClientConfig, KeyRefSigner, Passphrases, Repository, RoleSigner, RootTrust, TrustDir,
    TrustError,
};
use hallmark_tuf::keyfile::{self, KeyFileError};
use hallmark_tuf::verify::{RELEASES_ROLE, TARGETS_ROLE};
use hallmark_tuf::{KeyType, PrivateKey, builder, inspect};
use std::io::IsTerminal as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::context::Context;

/// Environment variable of the root key passphrase (docker's name).
pub(crate) const ROOT_PASSPHRASE_ENV: &str = "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE";
/// Environment variable of the passphrase of every other key (docker's name).
pub(crate) const REPOSITORY_PASSPHRASE_ENV: &str = "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE";
/// Environment variable of the trust server (docker's name).
pub(crate) const SERVER_ENV: &str = "DOCKER_CONTENT_TRUST_SERVER";

/// Where the trust data lives and how its root is trusted.
#[derive(Debug, Args, Clone)]
pub(crate) struct TrustServerArgs {
    /// Notary server URL (default: https://notary.docker.io for Docker Hub, else
    /// https://<registry host>).
    #[arg(long, env = SERVER_ENV, value_name = "URL")]
    pub(crate) server: Option<String>,
    /// Extra CA certificate(s) (PEM) for the trust server (default: docker's
    /// $DOCKER_CONFIG/tls/<host:port>/ca.crt when present).
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_ca: Option<PathBuf>,
    /// Trust directory (default: $DOCKER_CONFIG/trust, else ~/.docker/trust).
    #[arg(long, value_name = "DIR", env = "HALLMARK_TRUST_DIR")]
    pub(crate) trust_dir: Option<PathBuf>,
    /// Pin the repository's root key ID(s) (certificate or bare key ID) instead of trusting
    /// the first root seen.
    #[arg(long = "root-key-id", value_name = "ID")]
    pub(crate) root_key_ids: Vec<String>,
    /// Refuse to trust a root on first use: a root must already be cached in the trust
    /// directory.
    #[arg(long, conflicts_with = "root_key_ids")]
    pub(crate) disable_tofu: bool,
}

/// `hallmark trust key ...`
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Generate a signing key: private key in the trust directory, NAME.pub in --dir.
    Generate(KeyGenerateArgs),
    /// Load a private key file into the trust directory.
    Load(KeyLoadArgs),
    /// Rotate a repository key (targets or snapshot; snapshot/timestamp server-managed).
    Rotate(KeyRotateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct KeyGenerateArgs {
    /// Key name (the signer name): [a-z0-9][a-z0-9_-]*.
    pub(crate) name: String,
    /// Directory for NAME.pub (default: the current directory).
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// Trust directory (default: $DOCKER_CONFIG/trust, else ~/.docker/trust).
    #[arg(long, value_name = "DIR", env = "HALLMARK_TRUST_DIR")]
    pub(crate) trust_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct KeyLoadArgs {
    /// Private key file (PEM; encrypted or not).
    pub(crate) file: PathBuf,
    /// Name (role) for the loaded key.
    #[arg(long, default_value = "signer")]
    pub(crate) name: String,
    /// Trust directory (default: $DOCKER_CONFIG/trust, else ~/.docker/trust).
    #[arg(long, value_name = "DIR", env = "HALLMARK_TRUST_DIR")]
    pub(crate) trust_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct KeyRotateArgs {
    /// Repository.
    pub(crate) repo: String,
    /// Role: targets, snapshot or timestamp.
    pub(crate) role: String,
    /// Let the server hold the new key (snapshot, timestamp).
    #[arg(long)]
    pub(crate) server_managed: bool,
    #[command(flatten)]
    pub(crate) server: TrustServerArgs,
}

/// `hallmark trust signer ...`
#[derive(Debug, Subcommand)]
pub(crate) enum SignerCommand {
    /// Add a signer (initialises the repository on first use).
    Add(SignerAddArgs),
    /// Remove a signer.
    Remove(SignerRemoveArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SignerAddArgs {
    /// Signer name.
    pub(crate) name: String,
    /// Repository.
    pub(crate) repo: String,
    /// The signer's public key file(s) (PEM PUBLIC KEY or CERTIFICATE), or key references
    /// (pkcs11:, awskms://, hashivault://, env://, awssm://) whose public key becomes the
    /// delegation key (ECDSA P-256 or RSA).
    #[arg(long = "key", required = true, value_name = "FILE|REF")]
    pub(crate) keys: Vec<String>,
    #[command(flatten)]
    pub(crate) server: TrustServerArgs,
}

#[derive(Debug, Args)]
pub(crate) struct SignerRemoveArgs {
    /// Signer name.
    pub(crate) name: String,
    /// Repository.
    pub(crate) repo: String,
    /// Do not ask before removing the signer of the last released version.
    #[arg(long, short = 'f')]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) server: TrustServerArgs,
}

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// REPO:TAG to sign (the manifest the registry serves for the tag).
    pub(crate) image: String,
    /// Sign the signer's delegations with this key reference (pkcs11:, awskms://,
    /// hashivault://, ...; ECDSA P-256 or RSA) instead of a trust-directory key.
    #[arg(long = "key", value_name = "REF")]
    pub(crate) key: Option<String>,
    #[command(flatten)]
    pub(crate) server: TrustServerArgs,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// REPO[:TAG]...
    #[arg(required = true)]
    pub(crate) images: Vec<String>,
    /// Print the information in a human friendly format.
    #[arg(long)]
    pub(crate) pretty: bool,
    #[command(flatten)]
    pub(crate) server: TrustServerArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// REPO[:TAG] (without a tag: every signed tag).
    pub(crate) image: String,
    /// Do not ask before revoking every signed tag of a repository.
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// Sign the signer's delegations with this key reference (pkcs11:, awskms://,
    /// hashivault://, ...; ECDSA P-256 or RSA) instead of a trust-directory key.
    #[arg(long = "key", value_name = "REF")]
    pub(crate) key: Option<String>,
    #[command(flatten)]
    pub(crate) server: TrustServerArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ResolveArgs {
    /// REPO:TAG.
    pub(crate) image: String,
    #[command(flatten)]
    pub(crate) server: TrustServerArgs,
}

/// Passphrases from docker's environment variables, else a terminal prompt (never with `CI`
/// set or without a terminal), else an error naming the variable.
pub(crate) struct EnvPassphrases;

impl Passphrases for EnvPassphrases {
    fn passphrase(
        &self,
        role: &str,
        key_id: &str,
        new_key: bool,
    ) -> Result<Zeroizing<Vec<u8>>, TrustError> {
        let var = if role == "root" {
            ROOT_PASSPHRASE_ENV
        } else {
            REPOSITORY_PASSPHRASE_ENV
        };
        if let Some(v) = std::env::var_os(var) {
            use std::os::unix::ffi::OsStringExt as _;
            return Ok(Zeroizing::new(v.into_vec()));
        }
        let short = key_id.get(..7).unwrap_or(key_id);
        if std::env::var_os("CI").is_some() || !std::io::stdin().is_terminal() {
            return Err(TrustError::Passphrase(format!(
                "a passphrase is needed for the {role} key {short}: expected {var} in the environment; found none, and no terminal to prompt on"
            )));
        }
        let prompt = if new_key {
            format!("Enter passphrase for new {role} key with ID {short}: ")
        } else {
            format!("Enter passphrase for {role} key with ID {short}: ")
        };
        let first = Zeroizing::new(
            rpassword::prompt_password(prompt)
                .map_err(|e| TrustError::Passphrase(format!("reading passphrase: {e}")))?,
        );
        if new_key {
            let again = Zeroizing::new(
                rpassword::prompt_password(format!(
                    "Repeat passphrase for new {role} key with ID {short}: "
                ))
                .map_err(|e| TrustError::Passphrase(format!("reading passphrase: {e}")))?,
            );
            if *first != *again {
                return Err(TrustError::Passphrase(
                    "the two passphrases differ".to_string(),
                ));
            }
        }
        Ok(Zeroizing::new(first.as_bytes().to_vec()))
    }
}

/// docker's `DOCKER_CONTENT_TRUST`: enabled by any non-empty value that is not a Go
/// `ParseBool` false.
pub(crate) fn content_trust_enabled() -> bool {
    match std::env::var("DOCKER_CONTENT_TRUST") {
        Ok(v) => {
            !v.is_empty() && !matches!(v.as_str(), "0" | "f" | "F" | "false" | "FALSE" | "False")
        }
        Err(_) => false,
    }
}

fn trust_dir(arg: Option<&PathBuf>) -> Result<TrustDir> {
    match arg {
        Some(p) => Ok(TrustDir::new(p)),
        None => TrustDir::default_path().map(TrustDir::new).context(
            "no trust directory: expected DOCKER_CONFIG or HOME in the environment, found neither",
        ),
    }
}

/// A registry repository reference and its GUN (`registry/repository`, Docker Hub as
/// `docker.io/...`, as docker names it).
pub(crate) fn parse_repo(s: &str) -> Result<(RegistryRef, String)> {
    let r = RegistryRef::parse(s).with_context(|| format!("repository {s:?}"))?;
    let gun = format!("{}/{}", r.registry, r.repository);
    Ok((r, gun))
}

/// The trust client settings of `args`, with the registry login of the command line (else
/// docker's config).
pub(crate) fn client_config(ctx: &Context, args: &TrustServerArgs) -> Result<ClientConfig> {
    let tls_ca = match &args.tls_ca {
        Some(p) => {
            Some(std::fs::read(p).with_context(|| format!("reading --tls-ca {}", p.display()))?)
        }
        None => None,
    };
    let root_trust = if args.disable_tofu {
        RootTrust::CachedOnly
    } else if !args.root_key_ids.is_empty() {
        RootTrust::PinnedKeyIds(args.root_key_ids.clone())
    } else {
        RootTrust::TrustOnFirstUse
    };
    Ok(ClientConfig {
        server: args.server.clone(),
        tls_ca,
        trust_dir: trust_dir(args.trust_dir.as_ref())?,
        root_trust,
        login: ctx.trust_login(),
    })
}

/// The repository handle for `r` with the server, CA and root trust of `args`.
pub(crate) fn open_repository(
    ctx: &Context,
    args: &TrustServerArgs,
    r: &RegistryRef,
) -> Result<Repository> {
    Ok(client_config(ctx, args)?.open(r)?)
}

/// docker's `prompt.Confirm`: `y`/`yes` on a terminal; without one (or with `CI` set) an
/// error naming the flag that skips the question.
fn confirm(question: &str, flag: &str) -> Result<bool> {
    if std::env::var_os("CI").is_some() || !std::io::stdin().is_terminal() {
        bail!("{question} Expected confirmation on a terminal, found none: pass {flag} to proceed");
    }
    print!("{question} [y/N] ");
    use std::io::Write as _;
    std::io::stdout().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("reading the answer")?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn valid_key_name(name: &str) -> Result<()> {
    let ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !ok {
        bail!(
            "key name \"{name}\" must start with lowercase alphanumeric characters and can include \"-\" or \"_\" after the first character"
        );
    }
    Ok(())
}

pub(crate) fn key_generate(a: KeyGenerateArgs) -> Result<ExitCode> {
    valid_key_name(&a.name)?;
    let dir = match a.dir {
        Some(d) => d,
        None => std::env::current_dir().context("current directory")?,
    };
    if !dir.is_dir() {
        bail!("public key path does not exist: \"{}\"", dir.display());
    }
    let pub_path = dir.join(format!("{}.pub", a.name));
    if pub_path.exists() {
        bail!("public key file already exists: \"{}\"", pub_path.display());
    }
    let trust = trust_dir(a.trust_dir.as_ref())?;
    println!("Generating key for {}...", a.name);
    let key = PrivateKey::generate(KeyType::Ecdsa)?;
    let pass = EnvPassphrases.passphrase(&a.name, &key.key_id(), true)?;
    trust.write_key(&key, &a.name, None, &pass)?;
    let pem = keyfile::write_pem(
        "PUBLIC KEY",
        &[("role", a.name.as_str())],
        key.public_key().public(),
    );
    hallmark_trust_client::trustdir::write_atomic(&pub_path, pem.as_bytes(), 0o600)?;
    println!(
        "Successfully generated and loaded private key. Corresponding public key available: {}",
        pub_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn key_load(a: KeyLoadArgs) -> Result<ExitCode> {
    valid_key_name(&a.name)?;
    let path = &a.file;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("refusing to load key from {}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "refusing to load key from {p}: private key file {p} must not be readable or writable by others",
            p = path.display()
        );
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    println!("Loading key from \"{}\"...", path.display());
    let block = keyfile::parse_pem(&text).map_err(|_| {
        anyhow::anyhow!(
            "error importing key from {p}: provided file {p} is not a supported private key - to add a signer's public key use hallmark trust signer add",
            p = path.display()
        )
    })?;
    let key = match block.label.as_str() {
        "ENCRYPTED PRIVATE KEY" => {
            let pass = EnvPassphrases.passphrase(&a.name, "(key being loaded)", false)?;
            keyfile::read_key_file(&text, &pass)
                .map_err(|e| match e {
                    KeyFileError::WrongPassphrase => anyhow::anyhow!(
                        "error importing key from {}: cannot load key: could not decrypt key (wrong passphrase; it comes from {REPOSITORY_PASSPHRASE_ENV})",
                        path.display()
                    ),
                    other => anyhow::anyhow!("error importing key from {}: {other}", path.display()),
                })?
                .key
        }
        "PRIVATE KEY" | "EC PRIVATE KEY" => hallmark_tuf::import::ecdsa_from_der(&block.der)
            .with_context(|| format!("error importing key from {}", path.display()))?,
        other => bail!(
            "error importing key from {p}: provided file {p} is not a supported private key (PEM {other}) - to add a signer's public key use hallmark trust signer add",
            p = path.display()
        ),
    };
    let trust = trust_dir(a.trust_dir.as_ref())?;
    let pass = EnvPassphrases.passphrase(&a.name, &key.key_id(), true)?;
    trust.write_key(&key, &a.name, None, &pass)?;
    println!("Successfully imported key from {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// Opens a `--key` reference as a delegation signer: the key is reached (PIN, KMS lookup)
/// and its type checked (ECDSA P-256 or RSA, what notary verifies) before any trust
/// data is read or written.
async fn open_role_signer(reference: &str) -> Result<Arc<dyn RoleSigner>> {
    let signer = crate::secrets::open_signer(reference).await?;
    let shown = signer.reference().to_string();
    Ok(Arc::new(KeyRefSigner::new(signer, shown)?))
}

/// Downloads and verifies trust data; a draft over it, or a new repository's draft.
async fn draft_for(repo: &Repository) -> Result<(Draft, bool)> {
    match repo.update(now()).await? {
        Some(data) => Ok((Draft::from_trust_data(&repo.gun, &data)?, false)),
        None => Ok((Draft::initialise(repo, &EnvPassphrases, now()).await?, true)),
    }
}

pub(crate) async fn signer_add(ctx: &Context, a: SignerAddArgs) -> Result<ExitCode> {
    repo::signer_role(&a.name)?;
    let mut keys = Vec::new();
    for k in &a.keys {
        let r = crate::secrets::key_ref(k)?;
        if let hallmark_keys::KeyRef::File(p) = &r {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("unable to read public key from file {}", p.display()))?;
            keys.push(repo::parse_public_key(&text).with_context(|| {
                format!("could not parse public key from file: {}", p.display())
            })?);
        } else {
            // The key stays in its token or KMS; its public key is the delegation key.
            let public = crate::secrets::public_key_of(k).await?;
            keys.push(hallmark_trust_client::external::delegation_key(
                &public,
                &r.to_string(),
            )?);
        }
    }
    let (r, _) = parse_repo(&a.repo)?;
    let repo = open_repository(ctx, &a.server, &r)?;
    println!("Adding signer \"{}\" to {}...", a.name, a.repo);
    let (mut draft, new) = draft_for(&repo).await?;
    if new {
        println!("Initializing signed repository for {}...", a.repo);
    }
    let key_refs: Vec<&hallmark_tuf::TufKey> = keys.iter().collect();
    repo::add_signer(&mut draft, &a.name, &key_refs)?;
    draft
        .publish(&repo, &EnvPassphrases, now())
        .await
        .with_context(|| format!("failed to add signer to: {}", a.repo))?;
    if new {
        println!("Successfully initialized \"{}\"", a.repo);
    }
    println!("Successfully added signer: {} to {}", a.name, a.repo);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn signer_remove(ctx: &Context, a: SignerRemoveArgs) -> Result<ExitCode> {
    let (r, gun) = parse_repo(&a.repo)?;
    let repo = open_repository(ctx, &a.server, &r)?;
    println!("Removing signer \"{}\" from {}...", a.name, a.repo);
    let data = repo.update(now()).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "error retrieving signers for {}: the repository has no trust data",
            a.repo
        )
    })?;
    // docker's check: does this signer hold every signature of targets/releases?
    let role = format!("targets/{}", a.name);
    let signer_keys: Vec<String> = inspect::delegation_roles(&data.verified)
        .into_iter()
        .find(|(n, _)| n == &role)
        .map(|(_, ids)| ids)
        .unwrap_or_default();
    if let Some(releases) = data.verified.delegations.get(RELEASES_ROLE) {
        let total = releases.signatures.len();
        let others = releases
            .signatures
            .iter()
            .filter(|s| !signer_keys.contains(&s.key_id))
            .count();
        let threshold = inspect::delegation_threshold(&data.verified, RELEASES_ROLE).unwrap_or(1);
        if total > 0 && (others as u64) < threshold && !a.force {
            let question = format!(
                "The signer \"{}\" signed the last released version of {repo}. Removing this signer will make {repo} unpullable. Are you sure you want to continue?",
                a.name,
                repo = a.repo
            );
            if !confirm(&question, "--force")? {
                println!("Signer \"{}\" not removed from {}", a.name, a.repo);
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    let mut draft = Draft::from_trust_data(&gun, &data)?;
    repo::remove_signer(&mut draft, &a.name)?;
    draft
        .publish(&repo, &EnvPassphrases, now())
        .await
        .with_context(|| format!("error removing signer from: {}", a.repo))?;
    println!("Successfully removed {} from {}", a.name, a.repo);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn sign(ctx: &Context, a: SignArgs) -> Result<ExitCode> {
    let (r, _) = parse_repo(&a.image)?;
    let Some(tag) = r.tag.clone() else {
        bail!("{}: expected REPO:TAG, found no tag", a.image);
    };
    if r.digest.is_some() {
        bail!("{}: expected REPO:TAG, found a digest", a.image);
    }
    // A key reference is opened (PIN, KMS key, type checked) before any trust data is read.
    let external = match &a.key {
        Some(k) => Some(open_role_signer(k).await?),
        None => None,
    };
    let image = ImageRef::Registry(r.clone());
    let store = ctx.store(&image, false)?;
    let manifest = store
        .get_manifest(&tag)
        .await
        .with_context(|| format!("fetching the manifest of {}", a.image))?;
    let sha256 = hex::decode(manifest.digest.to_string().trim_start_matches("sha256:"))
        .context("manifest digest")?;
    if !manifest.digest.to_string().starts_with("sha256:") {
        bail!(
            "{}: expected a sha256 manifest digest, found {}",
            a.image,
            manifest.digest
        );
    }
    let repo = open_repository(ctx, &a.server, &r)?;
    let (mut draft, new) = draft_for(&repo).await?;
    let roles = match &external {
        Some(s) if new => bail!(
            "{}: the repository has no trust data, so no signer lists key reference {}: add it first with `hallmark trust signer add NAME {} --key REF`",
            a.image,
            s.reference(),
            format_args!("{}/{}", r.registry, r.repository)
        ),
        Some(s) => draft.signable_roles_for_key(&s.key().key_id(), s.reference(), &tag)?,
        None if new => vec![TARGETS_ROLE.to_string()],
        None => draft.signable_roles(&repo.dir, &tag)?,
    };
    if let Some(s) = external {
        draft.add_external_signer(s);
    }
    println!(
        "Signing and pushing trust data for local image {}, may overwrite remote trust data",
        a.image
    );
    for role in &roles {
        builder::set_target(
            draft.role_mut(role),
            &tag,
            builder::target_value(&sha256, manifest.bytes.len() as u64),
        )?;
    }
    draft.publish(&repo, &EnvPassphrases, now()).await?;
    println!(
        "Successfully signed {}:{tag} ({}) into {}",
        format_args!("{}/{}", r.registry, r.repository),
        manifest.digest,
        roles.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// The inspect model of one `REPO[:TAG]`.
async fn trust_info(
    ctx: &Context,
    args: &TrustServerArgs,
    name: &str,
) -> Result<inspect::TrustInfo> {
    let (r, _) = parse_repo(name)?;
    let repo = open_repository(ctx, args, &r)?;
    let data = match repo.update(now()).await {
        Ok(Some(d)) => d,
        Ok(None) => bail!("no signatures or cannot access {name}"),
        Err(e) => {
            return Err(
                anyhow::Error::from(e).context(format!("no signatures or cannot access {name}"))
            );
        }
    };
    Ok(inspect::trust_info(&data.verified, name, r.tag.as_deref()))
}

pub(crate) async fn inspect_cmd(ctx: &Context, a: InspectArgs) -> Result<ExitCode> {
    let mut failed = false;
    if a.pretty {
        for (i, name) in a.images.iter().enumerate() {
            match trust_info(ctx, &a.server, name).await {
                Ok(info) => print!("{}", inspect::render_pretty(&info)),
                Err(e) => {
                    eprintln!("{e:#}");
                    failed = true;
                }
            }
            if i + 1 < a.images.len() {
                print!("\n\n");
            }
        }
    } else {
        let mut infos = Vec::new();
        let mut errors = Vec::new();
        for name in &a.images {
            match trust_info(ctx, &a.server, name).await {
                Ok(info) => infos.push(info),
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        print!("{}", inspect::render_json(&infos));
        for e in &errors {
            eprintln!("{e}");
        }
        failed = !errors.is_empty();
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) async fn revoke(ctx: &Context, a: RevokeArgs) -> Result<ExitCode> {
    let (r, gun) = parse_repo(&a.image)?;
    if r.digest.is_some() {
        bail!("cannot use a digest reference for IMAGE:TAG");
    }
    let external = match &a.key {
        Some(k) => Some(open_role_signer(k).await?),
        None => None,
    };
    let repo = open_repository(ctx, &a.server, &r)?;
    let data = repo.update(now()).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "could not remove signature for {}: the repository has no trust data",
            a.image
        )
    })?;
    let tags: Vec<String> = match &r.tag {
        Some(t) => {
            if data.verified.resolve(t).is_none() {
                bail!(
                    "could not remove signature for {}: No valid trust data for {t}",
                    a.image
                );
            }
            vec![t.clone()]
        }
        None => {
            if !a.yes
                && !confirm(
                    &format!(
                        "Confirm you would like to delete all signature data for {}?",
                        a.image
                    ),
                    "--yes",
                )?
            {
                bail!("trust revoke has been cancelled");
            }
            let mut all: Vec<String> = [RELEASES_ROLE, TARGETS_ROLE]
                .iter()
                .filter_map(|role| data.verified.role_targets(role))
                .flat_map(|t| t.keys().cloned())
                .collect();
            all.sort();
            all.dedup();
            if all.is_empty() {
                bail!(
                    "could not remove signature for {}: no signed tags to remove",
                    a.image
                );
            }
            all
        }
    };
    let mut draft = Draft::from_trust_data(&gun, &data)?;
    for tag in &tags {
        let roles = match &external {
            Some(s) => draft.signable_roles_for_key(&s.key().key_id(), s.reference(), tag)?,
            None => draft.signable_roles(&repo.dir, tag)?,
        };
        for role in roles {
            let listed = draft
                .role(&role)
                .and_then(|v| v.get("targets"))
                .and_then(|t| t.get(tag))
                .is_some();
            if listed {
                builder::remove_target(draft.role_mut(&role), tag)?;
            }
        }
    }
    if let Some(s) = external {
        draft.add_external_signer(s);
    }
    draft
        .publish(&repo, &EnvPassphrases, now())
        .await
        .with_context(|| format!("could not remove signature for {}", a.image))?;
    println!("Successfully deleted signature for {}", a.image);
    Ok(ExitCode::SUCCESS)
}

/// Resolves `REPO:TAG` through trust data to its signed digest (`targets/releases`, then
/// `targets`, as docker pulls).
pub(crate) async fn resolve_digest(
    ctx: &Context,
    args: &TrustServerArgs,
    r: &RegistryRef,
    tag: &str,
) -> Result<Digest> {
    let repo = open_repository(ctx, args, r)?;
    let no_data = || TrustError::NoTrustData {
        tag: tag.to_string(),
    };
    let data = repo.update(now()).await?.ok_or_else(no_data)?;
    let target = data.verified.resolve(tag).ok_or_else(no_data)?;
    Ok(Digest::parse(&format!(
        "sha256:{}",
        hex::encode(&target.sha256)
    ))?)
}

pub(crate) async fn resolve(ctx: &Context, a: ResolveArgs) -> Result<ExitCode> {
    let (r, _) = parse_repo(&a.image)?;
    let Some(tag) = r.tag.clone() else {
        bail!("{}: expected REPO:TAG, found no tag", a.image);
    };
    match resolve_digest(ctx, &a.server, &r, &tag).await {
        Ok(digest) => {
            println!("{digest}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => match e.downcast_ref::<TrustError>() {
            // docker's exact message, alone on stderr.
            Some(TrustError::NoTrustData { tag }) => {
                eprintln!("No valid trust data for {tag}");
                Ok(ExitCode::FAILURE)
            }
            _ => Err(e),
        },
    }
}

pub(crate) async fn key_rotate(ctx: &Context, a: KeyRotateArgs) -> Result<ExitCode> {
    let (r, gun) = parse_repo(&a.repo)?;
    let repo = open_repository(ctx, &a.server, &r)?;
    let data = repo.update(now()).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "{}: the repository has no trust data to rotate keys of",
            a.repo
        )
    })?;
    let mut draft = Draft::from_trust_data(&gun, &data)?;
    let new_key = match (a.role.as_str(), a.server_managed) {
        ("timestamp" | "snapshot", true) => repo.remote.rotate_key(&gun, &a.role).await?,
        ("targets" | "snapshot", false) => {
            let key = PrivateKey::generate(KeyType::Ecdsa)?;
            let public = key.public_key().clone();
            draft.add_new_key(key, &a.role, Some(&gun));
            public
        }
        ("timestamp", false) => {
            bail!("the timestamp key is always held by the server: expected --server-managed")
        }
        ("targets", true) => {
            bail!("the targets key cannot be held by the server: expected no --server-managed")
        }
        (other, _) => {
            bail!("key rotate: expected role targets, snapshot or timestamp, found {other:?}")
        }
    };
    builder::set_root_role_keys(draft.root_mut(), &a.role, &[&new_key])?;
    if a.role == TARGETS_ROLE {
        // Re-sign targets with the new key.
        draft.role_mut(TARGETS_ROLE);
    }
    draft.publish(&repo, &EnvPassphrases, now()).await?;
    println!(
        "Successfully rotated {} key for repository {}: new key ID {}",
        a.role,
        a.repo,
        new_key.key_id()
    );
    Ok(ExitCode::SUCCESS)
}

/// `DOCKER_CONTENT_TRUST` for `verify` and `copy`: when enabled, a registry `REPO[:TAG]`
/// (no digest) is resolved through trust data (`targets/releases`, then `targets`; the tag
/// defaults to `latest`), never through the registry's tag. The trust server comes from
/// `DOCKER_CONTENT_TRUST_SERVER` (else docker's default), its CA from docker's
/// `$DOCKER_CONFIG/tls/<host:port>/ca.crt`. Other references are returned unchanged.
pub(crate) async fn content_trust_image(ctx: &Context, image: ImageRef) -> Result<ImageRef> {
    if !content_trust_enabled() {
        return Ok(image);
    }
    let ImageRef::Registry(r) = &image else {
        return Ok(image);
    };
    if r.digest.is_some() {
        return Ok(image);
    }
    let tag = r.tag.clone().unwrap_or_else(|| "latest".to_string());
    let args = TrustServerArgs {
        server: std::env::var(SERVER_ENV).ok().filter(|s| !s.is_empty()),
        tls_ca: None,
        trust_dir: std::env::var_os("HALLMARK_TRUST_DIR").map(PathBuf::from),
        root_key_ids: Vec::new(),
        disable_tofu: false,
    };
    let digest = resolve_digest(ctx, &args, r, &tag).await.with_context(|| {
        format!("DOCKER_CONTENT_TRUST is enabled: resolving {image} through trust data")
    })?;
    Ok(ImageRef::Registry(RegistryRef {
        tag: Some(tag),
        digest: Some(digest),
        ..r.clone()
    }))
}

/// [`content_trust_image`] for each image, in order.
pub(crate) async fn content_trust_images(
    ctx: &Context,
    images: Vec<ImageRef>,
) -> Result<Vec<ImageRef>> {
    if !content_trust_enabled() {
        return Ok(images);
    }
    let mut out = Vec::with_capacity(images.len());
    for image in images {
        out.push(content_trust_image(ctx, image).await?);
    }
    Ok(out)
}

/// Adds the passphrase variables to a wrong-passphrase error.
pub(crate) fn with_hint(r: Result<ExitCode>) -> Result<ExitCode> {
    r.map_err(|e| {
        if format!("{e:#}").contains("wrong passphrase") {
            e.context(format!(
                "a private key did not decrypt: the root key's passphrase comes from {ROOT_PASSPHRASE_ENV}, every other key's from {REPOSITORY_PASSPHRASE_ENV}"
            ))
        } else {
            e
        }
    })
}
