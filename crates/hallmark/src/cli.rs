//! Command-line definitions.

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Sign, verify and carry container images: cosign signatures and attestations, in any OCI
/// registry or OCI layout.
#[derive(Debug, Parser)]
#[command(name = "hallmark", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
}

/// Options every command takes.
#[derive(Args, Clone)]
pub(crate) struct GlobalArgs {
    /// Debug logging to standard error: -v for hallmark's debug events, -vv for its trace
    /// events (RUST_LOG directives add to this). Secrets are never logged.
    #[arg(long, short = 'v', global = true, action = ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) output: OutputFormat,
    /// Allow plain HTTP to registries that are not on a loopback address.
    #[arg(long, global = true)]
    pub(crate) allow_http_registry: bool,
    /// Registry user name (else credentials come from docker's config.json).
    #[arg(long, global = true, env = "HALLMARK_REGISTRY_USERNAME")]
    pub(crate) registry_username: Option<String>,
    /// Registry password or token (with --registry-username).
    #[arg(
        long,
        global = true,
        env = "HALLMARK_REGISTRY_PASSWORD",
        hide_env_values = true
    )]
    pub(crate) registry_password: Option<String>,
    /// Extra CA certificates (PEM) to trust for HTTPS registries.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) registry_cacert: Option<PathBuf>,
    /// How many images to work on at once.
    #[arg(long, global = true, default_value_t = 64)]
    pub(crate) max_workers: usize,
    /// The longest a command that talks to registries, trust servers or logs may take in all
    /// (retries included): `90s`, `5m`, `1h` or seconds. Servers (`log serve`, `trust serve`)
    /// run until stopped.
    #[arg(long, global = true, value_name = "DURATION", default_value = "5m", value_parser = parse_timeout)]
    pub(crate) timeout: std::time::Duration,
}

/// `250ms`, `90s`, `5m`, `1h`, `30d`, or a number of seconds.
pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let invalid = || format!("expected a duration such as 90s, 5m or 1h, found {s:?}");
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = number.parse().map_err(|_| invalid())?;
    let seconds = |factor: u64| n.checked_mul(factor).map(std::time::Duration::from_secs);
    match unit {
        "ms" => Some(std::time::Duration::from_millis(n)),
        "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        "d" => seconds(86_400),
        _ => None,
    }
    .ok_or_else(invalid)
}

/// A `--timeout`: a duration above zero.
fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err(format!(
            "expected a duration above zero, such as 90s, 5m or 1h, found {s:?}"
        )),
        d => Ok(d),
    }
}

/// Written by hand so the registry password never shows.
impl std::fmt::Debug for GlobalArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalArgs")
            .field("verbose", &self.verbose)
            .field("output", &self.output)
            .field("allow_http_registry", &self.allow_http_registry)
            .field("timeout", &self.timeout)
            .field("registry_username", &self.registry_username)
            .field(
                "registry_password",
                &self.registry_password.as_ref().map(|_| "<redacted>"),
            )
            .field("registry_cacert", &self.registry_cacert)
            .field("max_workers", &self.max_workers)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate, import and show signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Sign images (cosign `.sig` format, readable by cosign, skopeo and podman).
    Sign(SignArgs),
    /// Verify image signatures (or decide each image under --policy); exits 0 only if every
    /// image is verified (allowed).
    Verify(VerifyArgs),
    /// Decide each image under a policy and copy only allowed ones, by the digest verified,
    /// with their signatures, to an OCI layout, a registry or a docker-archive file.
    Pull(PullArgs),
    /// Check, print the schema of, or convert trust policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Attach a signed in-toto attestation to an image (cosign `.att` format).
    Attest(AttestArgs),
    /// Verify an image's attestations and print the verified statements.
    VerifyAttestation(VerifyAttestationArgs),
    /// Sign a file; prints a cosign-compatible base64 signature.
    SignBlob(SignBlobArgs),
    /// Verify a file's signature.
    VerifyBlob(VerifyBlobArgs),
    /// Show an image's signatures, attestations and referrers.
    Tree(TreeArgs),
    /// Copy an image with its signatures, attestations and referrers.
    Copy(CopyArgs),
    /// Walk through signing and verification on a local OCI layout, with no server.
    Quickstart(QuickstartArgs),
    /// Run hallmark's transparency log (Rekor v1 API, C2SP checkpoints and tiles).
    #[command(subcommand)]
    Log(LogCommand),
    /// Docker Content Trust (Notary v1): keys, signers, signed tags, and a trust server.
    #[command(subcommand)]
    Trust(crate::commands::trust::TrustCommand),
    /// Kubernetes admission: a validating and mutating webhook and a Gatekeeper provider
    /// deciding with a trust policy.
    #[command(subcommand)]
    Admission(crate::commands::serve::AdmissionCommand),
    /// A registry proxy that enforces a trust policy in front of any OCI registry: pulls are
    /// served at the verified digest, unsigned tag pushes refused or gated.
    Proxy(crate::commands::serve::ProxyServeArgs),
    /// A page (and JSON API) showing the true signed state of every tag of a registry under a
    /// policy: cosign signatures, attestations, Docker Content Trust, the decision and why.
    Ui(crate::commands::serve::UiArgs),
    /// Serve several of hallmark's services in one process (--trust, --log, --admission,
    /// --proxy) on one or several addresses, with one TLS setup, one /metrics and one shutdown.
    Serve(Box<crate::commands::serve::ServeArgs>),
    /// Notary Project (notation) helpers: test certificates.
    #[command(subcommand)]
    Notation(NotationCommand),
    /// A C2SP tlog-witness: cosigns the checkpoints of the logs it follows when each is
    /// consistent with the last one it cosigned.
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// Developer helpers (benchmarks, tests).
    #[command(subcommand, hide = true)]
    Debug(DebugCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum WitnessCommand {
    /// Serve POST /add-checkpoint (C2SP tlog-witness) until SIGTERM or Ctrl-C.
    Serve(WitnessServeArgs),
    /// Print the witness's verifier key (`NAME+ID+KEY`), for witness policies.
    Vkey(WitnessVkeyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct WitnessServeArgs {
    /// Address to listen on (loopback unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:3010", value_name = "HOST:PORT")]
    pub(crate) addr: String,
    #[command(flatten)]
    pub(crate) connections: ConnectionArgs,
    /// Data directory: the witness key (made at the first start) and its SQLite database
    /// (default: $XDG_DATA_HOME/hallmark/witness).
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// A log to witness, ORIGIN=VKEY (the log's checkpoint note vkey; repeatable).
    #[arg(long = "log", value_name = "ORIGIN=VKEY", required = true)]
    pub(crate) logs: Vec<String>,
    /// The witness's name in its cosignatures, fixed at the first start (default
    /// hallmark-witness).
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,
    /// Allow listening on an address that is not loopback.
    #[arg(long)]
    pub(crate) allow_remote: bool,
}

#[derive(Debug, Args)]
pub(crate) struct WitnessVkeyArgs {
    /// The witness's data directory (default: $XDG_DATA_HOME/hallmark/witness).
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum NotationCommand {
    /// Certificates for notation signatures.
    #[command(subcommand)]
    Cert(NotationCertCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum NotationCertCommand {
    /// Make a test CA and a signing certificate under it (as `notation cert generate-test`
    /// does): NAME.key (encrypted, 0600) and NAME.crt (the chain, signing certificate first)
    /// in --key-dir, and the CA added to the trust store `ca:NAME`. For quickstarts and tests.
    GenerateTest(NotationGenerateTestArgs),
}

#[derive(Debug, Args)]
pub(crate) struct NotationGenerateTestArgs {
    /// The name: the certificates' common name, the key and chain file names, the trust store.
    pub(crate) name: String,
    /// Where NAME.key and NAME.crt go (default $XDG_CONFIG_HOME/notation/localkeys).
    #[arg(long, value_name = "DIR")]
    pub(crate) key_dir: Option<PathBuf>,
    /// Certify this key instead of making one (ECDSA P-256 or P-384, any key reference:
    /// pkcs11:..., awskms://..., hashivault://..., a key file): the key stays where it is and
    /// only NAME.crt is written.
    #[arg(long, value_name = "REF")]
    pub(crate) key: Option<String>,
    /// The trust store the CA goes into, as `x509/ca/NAME/NAME.crt` (default
    /// $XDG_CONFIG_HOME/notation/truststore).
    #[arg(long, value_name = "DIR")]
    pub(crate) trust_store: Option<PathBuf>,
    /// Overwrite existing files.
    #[arg(long, short = 'f')]
    pub(crate) force: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Generate a key pair: PREFIX.key (encrypted, 0600) and PREFIX.pub.
    Generate(KeyGenerateArgs),
    /// Print the public key of a private key file.
    PublicKey(KeyPublicArgs),
    /// Import a plain PKCS#8 / SEC1 / PKCS#1 PEM private key as an encrypted cosign key.
    Import(KeyImportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct KeyGenerateArgs {
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(long, default_value = "cosign")]
    pub(crate) output_prefix: PathBuf,
    /// Key algorithm.
    #[arg(long, value_enum, default_value_t = Algorithm::EcdsaP256)]
    pub(crate) algorithm: Algorithm,
    /// Overwrite existing files.
    #[arg(long, short = 'f')]
    pub(crate) force: bool,
    /// Create the key inside a token, KMS or Vault instead of a file (EC P-256):
    /// pkcs11:token=T;object=LABEL?module-path=..., awskms://[ENDPOINT]/alias/NAME or
    /// hashivault://KEY. Prints the public key (or writes PREFIX.pub with --output-prefix).
    #[arg(long, value_name = "REF")]
    pub(crate) kms: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Algorithm {
    EcdsaP256,
    EcdsaP384,
    Ed25519,
    Rsa,
}

#[derive(Debug, Args)]
pub(crate) struct KeyPublicArgs {
    /// The key: a private key file, env://VAR, pkcs11:..., awskms://[ENDPOINT]/KEY,
    /// awssm://SECRET or hashivault://KEY.
    #[arg(long, value_name = "REF")]
    pub(crate) key: String,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub(crate) outfile: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct KeyImportArgs {
    /// The plain PEM private key to import.
    #[arg(long, short = 'k')]
    pub(crate) key: PathBuf,
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(long, default_value = "import-cosign")]
    pub(crate) output_prefix: PathBuf,
    /// Overwrite existing files.
    #[arg(long, short = 'f')]
    pub(crate) force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The signing key: a key file (cosign format or plain PEM), env://VAR,
    /// pkcs11:token=...;object=...?module-path=..., awskms://[ENDPOINT]/KEY,
    /// awssm://SECRET[?passphrase-secret=NAME&region=R] or hashivault://KEY.
    #[arg(long, value_name = "REF")]
    pub(crate) key: String,
    /// Annotation to sign into the payload, KEY=VALUE (repeatable); with --format notation,
    /// notation's user metadata (the payload's targetArtifact annotations).
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE")]
    pub(crate) annotations: Vec<String>,
    /// The signature format: cosign (`.sig`, the default) or notation (Notary Project: an OCI
    /// 1.1 referrer holding a JWS or COSE envelope; needs --cert).
    #[arg(long, value_enum, default_value_t = SignFormat::Cosign)]
    pub(crate) format: SignFormat,
    /// notation: the certificate chain (PEM), signing certificate first, root last; the
    /// signing certificate must hold --key's public key.
    #[arg(long, value_name = "CHAIN.pem", required_if_eq("format", "notation"))]
    pub(crate) cert: Option<PathBuf>,
    /// notation: the envelope format.
    #[arg(long, value_enum, default_value_t = EnvelopeFormat::Jws)]
    pub(crate) envelope: EnvelopeFormat,
    /// notation: how long the signature stays valid (e.g. 24h, 365d); default: no expiry.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) expiry: Option<std::time::Duration>,
    /// notation: the signing scheme.
    #[arg(long, value_enum, default_value_t = SigningSchemeArg::NotaryX509)]
    pub(crate) signing_scheme: SigningSchemeArg,
    /// Sign an index and each platform manifest under it.
    #[arg(long, short = 'r')]
    pub(crate) recursive: bool,
    /// The docker-reference to sign instead of the image's repository.
    #[arg(long, value_name = "REPO")]
    pub(crate) sign_container_identity: Option<String>,
    #[command(flatten)]
    pub(crate) tlog: TlogUploadArgs,
    /// Also write a key-signed Sigstore bundle v0.3 to FILE: a messageSignature over the signed
    /// payload, with the log entry (needs --tlog-url; one image, not --recursive).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tlog_url",
        conflicts_with = "recursive"
    )]
    pub(crate) bundle: Option<PathBuf>,
    /// With --bundle: write the signed payload (the bundle's artifact) to FILE.
    #[arg(long, value_name = "FILE", requires = "bundle")]
    pub(crate) output_payload: Option<PathBuf>,
    /// After signing, tag each image (given by digest) TAG: the tag is written last, so a
    /// registry proxy refusing unsigned tags takes it.
    #[arg(long, value_name = "TAG")]
    pub(crate) tag: Option<String>,
    /// Images: registry/repo:tag, registry/repo@sha256:..., oci:DIR[:tag].
    #[arg(required = true, value_name = "IMAGE")]
    pub(crate) images: Vec<String>,
}

/// `sign --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SignFormat {
    /// cosign simple signing (`sha256-<hex>.sig`).
    Cosign,
    /// A Sigstore bundle v0.3 referrer, as cosign 3 signs by default (DSSE over an in-toto
    /// statement, logged as a `dsse` entry; needs --tlog-url). On a witnessed log the bundle
    /// carries a checkpoint its witnesses cosigned.
    Bundle,
    /// Notary Project (notation) signature.
    Notation,
}

/// `sign --envelope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum EnvelopeFormat {
    /// JWS JSON serialization (`application/jose+json`).
    Jws,
    /// COSE_Sign1 (`application/cose`).
    Cose,
}

/// `sign --signing-scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SigningSchemeArg {
    /// `notary.x509`: the certificate chains to a `ca` trust store.
    #[value(name = "notary.x509")]
    NotaryX509,
    /// `notary.x509.signingAuthority`: the certificate chains to a `signingAuthority` store;
    /// the signing time is authentic.
    #[value(name = "notary.x509.signingAuthority")]
    NotaryX509SigningAuthority,
}

/// Transparency-log upload when signing.
#[derive(Debug, Args)]
pub(crate) struct TlogUploadArgs {
    /// Upload each signature to this transparency log (Rekor v1 API, e.g. `hallmark log
    /// serve`) before anything is written; without it nothing is logged.
    #[arg(long, value_name = "URL")]
    pub(crate) tlog_url: Option<String>,
    /// Upload to the transparency log; --tlog-upload=false skips the log even with --tlog-url.
    #[arg(
        long,
        value_name = "BOOL",
        default_value_t = true,
        action = ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true
    )]
    pub(crate) tlog_upload: bool,
}

#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("trust")
        .required(true)
        .multiple(true)
        .args(["key", "ca_roots", "trusted_root", "policy", "notation_policy"])
))]
pub(crate) struct VerifyArgs {
    /// Verify notation (Notary Project) signatures under notation's trust policy file (as
    /// notation does: the policy whose registryScopes cover the image; default
    /// $XDG_CONFIG_HOME/notation/trustpolicy.json when given without a value).
    #[arg(
        long,
        value_name = "FILE",
        num_args = 0..=1,
        default_missing_value = "",
        conflicts_with_all = ["policy", "key", "ca_roots", "trusted_root", "certificate_identity"]
    )]
    pub(crate) notation_policy: Option<PathBuf>,
    /// notation's trust store: the folder holding `x509/{ca,signingAuthority,tsa}/<name>/`
    /// (default $XDG_CONFIG_HOME/notation/truststore).
    #[arg(long, value_name = "DIR", requires = "notation_policy")]
    pub(crate) trust_store: Option<PathBuf>,
    /// Decide each image under this policy (hallmark/v1 YAML or JSON, or a
    /// containers-policy.json) instead of the key and certificate flags.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["key", "ca_roots", "ca_intermediates", "trusted_root", "rekor_key", "require_tlog", "witness_policy", "certificate_identity", "certificate_oidc_issuer", "annotations", "identity"]
    )]
    pub(crate) policy: Option<PathBuf>,
    /// Public key(s): a PEM file, or a key reference (env://, pkcs11:, awskms://,
    /// hashivault://, ...) whose public key is fetched; a signature by any of them is accepted.
    #[arg(long, value_name = "FILE")]
    pub(crate) key: Vec<String>,
    /// Root certificates (PEM) of a private PKI: signatures must carry a certificate issued
    /// under them, valid now (or when a --rekor-key log entry was made).
    #[arg(
        long,
        value_name = "FILE",
        requires = "certificate_identity",
        conflicts_with_all = ["key", "trusted_root"]
    )]
    pub(crate) ca_roots: Option<PathBuf>,
    /// Intermediate certificates (PEM) completing the path to --ca-roots, besides the chain the
    /// signature carries.
    #[arg(
        long,
        value_name = "FILE",
        requires = "ca_roots",
        conflicts_with_all = ["key", "trusted_root"]
    )]
    pub(crate) ca_intermediates: Option<PathBuf>,
    /// Sigstore trusted_root.json. Alone (keyless): Fulcio CAs and Rekor keys; a Rekor entry
    /// is required and the certificate must be valid at its integrated time (needs
    /// --certificate-identity and --certificate-oidc-issuer). With --key: the transparency logs
    /// whose entries are checked (SET, and inclusion proof with checkpoint when present).
    #[arg(long, value_name = "FILE")]
    pub(crate) trusted_root: Option<PathBuf>,
    /// Rekor public key (PEM), repeatable: require a Rekor SET by one of them (with
    /// --trusted-root, in addition to its keys; with --key, a trusted log key).
    #[arg(long, value_name = "FILE")]
    pub(crate) rekor_key: Vec<PathBuf>,
    /// Reject a signature without a valid transparency-log entry (log keys from
    /// --trusted-root or --rekor-key).
    #[arg(long)]
    pub(crate) require_tlog: bool,
    /// Require each accepted signature's log entry to carry an inclusion proof whose
    /// checkpoint is cosigned as this witness policy requires (Sigstore bundles carry one;
    /// cosign's `.sig` annotation does not). Implies --require-tlog.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub(crate) witness_policy: Option<PathBuf>,
    /// The identity the signing certificate must name: a SAN e-mail, URI or DNS name.
    #[arg(long, value_name = "VALUE", conflicts_with = "key")]
    pub(crate) certificate_identity: Option<String>,
    /// The OIDC issuer the signing certificate must name (Fulcio's issuer extension).
    #[arg(long, value_name = "URL", conflicts_with = "key")]
    pub(crate) certificate_oidc_issuer: Option<String>,
    /// Required annotation, KEY=VALUE (repeatable).
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE")]
    pub(crate) annotations: Vec<String>,
    /// The repository the signature must name (registry/repo).
    #[arg(long, value_name = "REPO")]
    pub(crate) identity: Option<String>,
    /// Images to verify.
    #[arg(required = true, value_name = "IMAGE")]
    pub(crate) images: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct AttestArgs {
    /// The signing key: a key file (cosign format or plain PEM), env://VAR,
    /// pkcs11:token=...;object=...?module-path=..., awskms://[ENDPOINT]/KEY,
    /// awssm://SECRET[?passphrase-secret=NAME&region=R] or hashivault://KEY.
    #[arg(long, value_name = "REF")]
    pub(crate) key: String,
    /// The predicate file.
    #[arg(long)]
    pub(crate) predicate: PathBuf,
    /// slsaprovenance|slsaprovenance1|spdxjson|cyclonedx|vuln|openvex|link|custom|URI.
    #[arg(long = "type", default_value = "custom")]
    pub(crate) predicate_type: String,
    /// Replace attestations of the same predicate type.
    #[arg(long)]
    pub(crate) replace: bool,
    /// Images to attest.
    #[arg(required = true, value_name = "IMAGE")]
    pub(crate) images: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyAttestationArgs {
    /// Public key(s): a PEM file or a key reference (env://, pkcs11:, awskms://, ...).
    #[arg(long, required = true, value_name = "REF")]
    pub(crate) key: Vec<String>,
    /// Predicate type to require (name or URI); default: any.
    #[arg(long = "type")]
    pub(crate) predicate_type: Option<String>,
    /// Images.
    #[arg(required = true, value_name = "IMAGE")]
    pub(crate) images: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SignBlobArgs {
    /// The signing key: a key file (cosign format or plain PEM), env://VAR,
    /// pkcs11:token=...;object=...?module-path=..., awskms://[ENDPOINT]/KEY,
    /// awssm://SECRET[?passphrase-secret=NAME&region=R] or hashivault://KEY.
    #[arg(long, value_name = "REF")]
    pub(crate) key: String,
    /// Also write the base64 signature to this file.
    #[arg(long)]
    pub(crate) output_signature: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) tlog: TlogUploadArgs,
    /// Write a key-signed Sigstore bundle v0.3 (messageSignature and the log entry) to FILE
    /// (needs --tlog-url).
    #[arg(long, value_name = "FILE", requires = "tlog_url")]
    pub(crate) bundle: Option<PathBuf>,
    /// The file to sign.
    pub(crate) file: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyBlobArgs {
    /// Public key: a PEM file or a key reference (env://, pkcs11:, awskms://, ...).
    #[arg(long, value_name = "REF")]
    pub(crate) key: String,
    /// The signature: a file holding base64 (or raw DER), or the base64 itself.
    #[arg(long, required_unless_present = "bundle", conflicts_with = "bundle")]
    pub(crate) signature: Option<String>,
    /// A key-signed Sigstore bundle v0.3 (messageSignature) instead of --signature.
    #[arg(long, value_name = "FILE")]
    pub(crate) bundle: Option<PathBuf>,
    /// Sigstore trusted_root.json: the bundle's transparency-log entry must verify against
    /// one of its logs (SET, inclusion proof, checkpoint).
    #[arg(long, value_name = "FILE", requires = "bundle")]
    pub(crate) trusted_root: Option<PathBuf>,
    /// With --trusted-root: the bundle's checkpoint must carry cosignatures that meet this
    /// witness policy's quorum (C2SP cosignature/v1, Sigsum policy format).
    #[arg(long, value_name = "FILE", requires = "trusted_root")]
    pub(crate) witness_policy: Option<PathBuf>,
    /// The file.
    pub(crate) file: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct TreeArgs {
    /// The image.
    pub(crate) image: String,
}

#[derive(Debug, Args)]
pub(crate) struct CopyArgs {
    /// Source image.
    pub(crate) src: String,
    /// Destination (registry/repo[:tag] or oci:DIR[:tag]).
    pub(crate) dst: String,
    /// Sign the copy at the destination before its tag exists: manifest by digest, then the
    /// signature, then the tag, last (how to publish through `hallmark proxy --push-mode
    /// refuse`).
    #[arg(long, requires = "key")]
    pub(crate) sign: bool,
    /// The signing key for --sign (any key reference `sign --key` takes).
    #[arg(long, value_name = "REF", requires = "sign")]
    pub(crate) key: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    /// The policy every image must satisfy (hallmark/v1 YAML or JSON, or a
    /// containers-policy.json).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: PathBuf,
    /// Destination: oci:DIR, a registry repository (registry/repo, each image keeps its tag),
    /// or docker-archive:FILE (one image; `docker load -i FILE` reads it).
    #[arg(long, value_name = "DEST")]
    pub(crate) to: String,
    /// OS/ARCH[/VARIANT] written to a docker-archive when an image is an index (default:
    /// this machine's, as docker pull chooses).
    #[arg(long, value_name = "OS/ARCH")]
    pub(crate) platform: Option<String>,
    /// Images to pull: registry/repo:tag or registry/repo@sha256:...
    #[arg(required = true, value_name = "IMAGE")]
    pub(crate) images: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Load a policy and report every error with its line and column (exit 2 on errors).
    Check(PolicyFileArgs),
    /// Print the JSON Schema of the hallmark/v1 policy format.
    Schema,
    /// Print the hallmark/v1 policy equivalent to a containers-policy.json or a sigstore
    /// policy-controller ClusterImagePolicy.
    Convert(PolicyFileArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PolicyFileArgs {
    /// The policy file.
    pub(crate) file: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct QuickstartArgs {
    /// Where to put the sample layout and keys (default: $XDG_DATA_HOME/hallmark/quickstart).
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DebugCommand {
    /// Push COUNT distinct sample images as PREFIX<i>:TAG.
    PushSample(PushSampleArgs),
    /// Load generator for `hallmark log serve` (appends or proofs, concurrent clients); in
    /// append mode it also measures the log's cryptography per append on one core (the entry
    /// check and the SET signature), the ceiling no design can pass on these CPUs.
    TlogLoad(crate::commands::log::TlogLoadArgs),
    /// Append COUNT signed entries to a log's storage through the sequencer, in big batches.
    TlogSeed(crate::commands::log::TlogSeedArgs),
    /// Load generator for the admission webhook (one AdmissionReview, concurrent clients).
    AdmissionLoad(crate::commands::serve::AdmissionLoadArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PushSampleArgs {
    /// How many images.
    #[arg(long, default_value_t = 1)]
    pub(crate) count: usize,
    /// Reference prefix, e.g. 127.0.0.1:5000/bench/img (or oci:DIR:img).
    #[arg(long)]
    pub(crate) repo_prefix: String,
    /// Tag.
    #[arg(long, default_value = "v1")]
    pub(crate) tag: String,
    /// Push multi-platform indexes instead of single images.
    #[arg(long)]
    pub(crate) index: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LogTrustedRootArgs {
    /// The log's base URL (Rekor v1 API).
    #[arg(long, value_name = "URL")]
    pub(crate) tlog_url: String,
    /// Start of the log key's validity (RFC 3339); default: the first entry's integrated time,
    /// or now for an empty log.
    #[arg(long, value_name = "TIME")]
    pub(crate) valid_from: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub(crate) outfile: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct LogVerifyArgs {
    /// The log's base URL (Rekor v1 API).
    #[arg(long, value_name = "URL")]
    pub(crate) tlog_url: String,
    /// Where the last verified checkpoint is kept (default:
    /// $XDG_STATE_HOME/hallmark/tlog/<host>.json).
    #[arg(long, value_name = "FILE")]
    pub(crate) state: Option<PathBuf>,
    /// Pin the log key to the one a Sigstore trusted_root.json lists (else the first run trusts
    /// the key the log serves).
    #[arg(long, value_name = "FILE")]
    pub(crate) trusted_root: Option<PathBuf>,
    /// Also require the log's checkpoint (`/checkpoint`) to carry cosignatures that satisfy
    /// this witness policy's quorum.
    #[arg(long, value_name = "FILE")]
    pub(crate) witness_policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct LogSearchArgs {
    /// The public key (PEM) to look for.
    #[arg(long, value_name = "FILE")]
    pub(crate) public_key: PathBuf,
    /// The log's base URL (Rekor v1 API).
    #[arg(long, value_name = "URL")]
    pub(crate) tlog_url: String,
    /// Check the log's checkpoint with the key a Sigstore trusted_root.json lists (else the key
    /// the log serves).
    #[arg(long, value_name = "FILE")]
    pub(crate) trusted_root: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LogCommand {
    /// Serve a transparency log over HTTP: Rekor v1's API subset (hashedrekord 0.0.1),
    /// C2SP signed checkpoints and tlog-tiles.
    Serve(LogServeArgs),
    /// Print a Sigstore trusted_root.json for a log (its key, log ID and base URL).
    TrustedRoot(LogTrustedRootArgs),
    /// Monitor a log: verify its checkpoint and consistency with the last one seen.
    Verify(LogVerifyArgs),
    /// Find a public key's entries in a log, checked against its checkpoint.
    Search(LogSearchArgs),
    /// Print a log's checkpoint verifier key (C2SP vkey: origin, key ID, key), what witnesses
    /// (`witness serve --log ORIGIN=VKEY`) and witness policies name it by.
    Vkey(LogVkeyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct LogVkeyArgs {
    /// The log's base URL.
    #[arg(long, value_name = "URL")]
    pub(crate) tlog_url: String,
}

/// Connection limits of a server (`trust serve`, `log serve`, `admission serve`, `serve`).
#[derive(Debug, Args)]
pub(crate) struct ConnectionArgs {
    /// Most connections open at once; more are closed as they arrive.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub(crate) max_connections: usize,
    /// Seconds a request's headers, and a TLS handshake, may take to arrive in full.
    #[arg(long, default_value_t = 10, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) header_timeout: u64,
    /// Seconds a connection may go without reading or writing a byte before it is closed.
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) idle_timeout: u64,
}

impl ConnectionArgs {
    /// The limits these flags give.
    pub(crate) fn limits(&self) -> hallmark_serve::Limits {
        let mut limits = hallmark_serve::Limits::default();
        limits.max_connections = self.max_connections.max(1);
        limits.header_read_timeout = std::time::Duration::from_secs(self.header_timeout);
        limits.handshake_timeout = std::time::Duration::from_secs(self.header_timeout);
        limits.idle_timeout = std::time::Duration::from_secs(self.idle_timeout);
        limits
    }
}

#[derive(Debug, Args)]
pub(crate) struct LogServeArgs {
    /// Address to listen on (loopback unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:3000", value_name = "HOST:PORT")]
    pub(crate) addr: String,
    #[command(flatten)]
    pub(crate) connections: ConnectionArgs,
    /// Data directory: the log key, and the SQLite database unless --database
    /// (default: $XDG_DATA_HOME/hallmark/log).
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// A postgres://... URL: store the log in PostgreSQL (several servers may share it).
    #[arg(
        long,
        value_name = "URL",
        env = "HALLMARK_LOG_DATABASE",
        hide_env_values = true
    )]
    pub(crate) database: Option<String>,
    /// Checkpoint origin and note key name (default: the stored one, else HOST:PORT).
    #[arg(long, value_name = "NAME")]
    pub(crate) origin: Option<String>,
    /// Type of the log key generated at the first start.
    #[arg(long, value_enum, default_value_t = LogKeyTypeArg::EcdsaP256)]
    pub(crate) log_key_type: LogKeyTypeArg,
    /// Send every new checkpoint to this witness policy's witnesses and serve at /checkpoint
    /// the newest one whose cosignatures meet its quorum (/checkpoint/latest: the newest).
    #[arg(long, value_name = "FILE")]
    pub(crate) witness_policy: Option<PathBuf>,
    /// Allow listening on an address that is not loopback.
    #[arg(long)]
    pub(crate) allow_remote: bool,
    /// Most entries the sequencer commits in one batch.
    #[arg(long, default_value_t = 4096, hide = true)]
    pub(crate) max_batch: usize,
    /// How long the sequencer waits for more entries after the first, in milliseconds.
    #[arg(long, default_value_t = 1, hide = true)]
    pub(crate) batch_wait_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogKeyTypeArg {
    EcdsaP256,
    Ed25519,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::Parser as _;

    #[test]
    fn debug_of_the_arguments_never_shows_the_registry_password() {
        let cli = Cli::try_parse_from([
            "hallmark",
            "-vv",
            "--registry-username",
            "ci-bot",
            "--registry-password",
            "registry-pw-5c1d",
            "verify",
            "--key",
            "k.pub",
            "oci:x",
        ])
        .expect("parse");
        assert_eq!(cli.global.verbose, 2);
        let shown = format!("{:?} {:#?}", cli.global, cli.global);
        assert!(shown.contains("ci-bot"), "{shown}");
        assert!(!shown.contains("registry-pw-5c1d"), "{shown}");
    }
}
