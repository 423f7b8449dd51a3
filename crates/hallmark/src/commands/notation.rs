//! Notary Project (notation) commands: `sign --format notation`, `verify --notation-policy`
//! (notation's trust policy and trust store, decided by the one policy engine) and `notation
//! cert generate-test`.

use crate::cli::{
    EnvelopeFormat, NotationCertCommand, NotationCommand, NotationGenerateTestArgs, OutputFormat,
    SignArgs, SigningSchemeArg, VerifyArgs,
};
use crate::commands::parse_annotations;
use crate::context::{Context, parse_image};
use crate::output::{for_each, term_eprintln, term_println};
use crate::secrets::{open_signer, passphrase, write_file};
use anyhow::{Context as _, Result};
use hallmark_core::{KeyAlgorithm, PublicKey, SigningKey, keyfile};
use hallmark_flows::notation::NotationSignOptions;
use hallmark_notation::{Format, SigningScheme};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use zeroize::Zeroizing;

/// notation's configuration directory: `$XDG_CONFIG_HOME/notation`, else
/// `$HOME/.config/notation` (where notation keeps `trustpolicy.json`, `truststore/` and
/// `localkeys/` on Linux).
fn notation_dir() -> Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("notation"));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).context(
        "expected $XDG_CONFIG_HOME or $HOME to locate notation's configuration, found neither",
    )?;
    Ok(PathBuf::from(home).join(".config").join("notation"))
}

/// `verify --notation-policy [FILE] [--trust-store DIR]`: the one-rule hallmark policy that
/// requires, for every image, a notation signature verified under notation's trust policy
/// file with its trust store, as notation decides.
pub(crate) fn policy(a: &VerifyArgs) -> Result<hallmark_policy::Policy> {
    let file = match a.notation_policy.as_deref() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => notation_dir()?.join("trustpolicy.json"),
    };
    let store = match &a.trust_store {
        Some(d) => d.clone(),
        None => notation_dir()?.join("truststore"),
    };
    let absolute = |p: &Path| -> Result<PathBuf> {
        Ok(if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()?.join(p)
        })
    };
    let text = serde_json::to_string(&json!({
        "apiVersion": "hallmark/v1",
        "kind": "Policy",
        "default": "deny",
        "rules": [{
            "name": "notation",
            "images": ["**"],
            "require": [{"notation": {
                "trustStore": absolute(&store)?.display().to_string(),
                "trustPolicy": absolute(&file)?.display().to_string(),
            }}],
        }],
    }))?;
    hallmark_policy::Policy::parse(text.as_bytes(), Path::new("--notation-policy"))
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// `sign --format notation`.
pub(crate) async fn sign(ctx: &Arc<Context>, a: SignArgs) -> Result<ExitCode> {
    let images: Vec<_> = a
        .images
        .iter()
        .map(|s| parse_image(s))
        .collect::<Result<_>>()?;
    for (flag, given) in [
        ("--bundle", a.bundle.is_some()),
        ("--recursive", a.recursive),
        (
            "--sign-container-identity",
            a.sign_container_identity.is_some(),
        ),
        ("--tlog-url", a.tlog.tlog_url.is_some()),
    ] {
        if given {
            anyhow::bail!(
                "{flag} is a cosign option: expected it left out with --format notation, found it given"
            );
        }
    }
    crate::commands::image::check_tag_targets(&images, a.tag.as_deref())?;
    let cert = a.cert.as_deref().context("--cert")?;
    let text = std::fs::read_to_string(cert)
        .with_context(|| format!("reading the certificate chain {}", cert.display()))?;
    let chain = hallmark_core::pem_certificates(&text, "the certificate chain")
        .with_context(|| cert.display().to_string())?;
    let mut options = NotationSignOptions::new(
        match a.envelope {
            EnvelopeFormat::Jws => Format::Jws,
            EnvelopeFormat::Cose => Format::Cose,
        },
        concat!("hallmark/", env!("CARGO_PKG_VERSION")),
        time::OffsetDateTime::now_utc(),
    );
    options.signing_scheme = match a.signing_scheme {
        SigningSchemeArg::NotaryX509 => SigningScheme::X509,
        SigningSchemeArg::NotaryX509SigningAuthority => SigningScheme::X509SigningAuthority,
    };
    options.expiry = a
        .expiry
        .map(time::Duration::try_from)
        .transpose()
        .context("--expiry")?;
    options.user_metadata = parse_annotations(&a.annotations)?;
    let key = Arc::new(open_signer(&a.key).await?);
    let chain = Arc::new(chain);
    let options = Arc::new(options);
    let results: Vec<Result<hallmark_flows::notation::NotationSigned>> =
        for_each(ctx, "signing", images.clone(), |image| {
            let ctx = ctx.clone();
            let key = key.clone();
            let chain = chain.clone();
            let options = options.clone();
            let tag = a.tag.clone();
            async move {
                let store = ctx.store(&image, false)?;
                let signed =
                    hallmark_flows::notation::sign(&store, &image, key.as_ref(), &chain, &options)
                        .await
                        .with_context(|| format!("{image}: signing (notation)"))?;
                crate::commands::image::tag_after_signing(&store, &image, tag.as_deref()).await?;
                Ok(signed)
            }
        })
        .await;
    let mut failed = 0;
    let mut out = Vec::new();
    for (image, r) in images.iter().zip(results) {
        match r {
            Ok(s) => {
                if ctx.output == OutputFormat::Text {
                    term_eprintln!(
                        "{image}: {} signed (notation {}, signature {})",
                        s.subject,
                        s.media_type,
                        s.signature
                    );
                }
                out.push(json!({
                    "reference": image.to_string(),
                    "digest": s.subject.to_string(),
                    "signature_manifest_digest": s.signature.to_string(),
                    "envelope_media_type": s.media_type,
                }));
            }
            Err(e) => {
                failed += 1;
                term_eprintln!("error: {e:#}");
            }
        }
    }
    if ctx.output == OutputFormat::Json {
        term_println!("{}", serde_json::Value::Array(out));
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `hallmark notation ...`
pub(crate) async fn run(ctx: &Context, cmd: NotationCommand) -> Result<ExitCode> {
    match cmd {
        NotationCommand::Cert(NotationCertCommand::GenerateTest(a)) => {
            let certified = match &a.key {
                Some(reference) => Some(crate::secrets::public_key_of(reference).await?),
                None => None,
            };
            generate_test(ctx, &a, certified)
        }
    }
}

/// A test CA and a code-signing certificate under it, both ECDSA P-256, with the subject
/// `CN=NAME, O=Notary, L=Seattle, ST=WA, C=US` notation's test certificates carry.
fn generate_test(
    ctx: &Context,
    a: &NotationGenerateTestArgs,
    certified: Option<PublicKey>,
) -> Result<ExitCode> {
    let name = a.name.as_str();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        || name.starts_with('.')
    {
        anyhow::bail!(
            "expected a name of letters, digits, '.', '_' and '-' (it names files and a trust store), found {name:?}"
        );
    }
    let key_dir = match &a.key_dir {
        Some(d) => d.clone(),
        None => notation_dir()?.join("localkeys"),
    };
    let store_dir = match &a.trust_store {
        Some(d) => d.clone(),
        None => notation_dir()?.join("truststore"),
    }
    .join("x509")
    .join("ca")
    .join(name);
    let key_path = key_dir.join(format!("{name}.key"));
    let chain_path = key_dir.join(format!("{name}.crt"));
    let ca_path = store_dir.join(format!("{name}.crt"));
    if !a.force
        && let Some(p) = [&key_path, &chain_path, &ca_path]
            .into_iter()
            .find(|p| p.exists())
    {
        anyhow::bail!(
            "{} already exists; expected a new file (use --force to overwrite)",
            p.display()
        );
    }
    let (key, public) = match certified {
        Some(public) => (None, public),
        None => {
            let key = SigningKey::generate(KeyAlgorithm::EcdsaP256)?;
            let public = key.public_key().clone();
            (Some(key), public)
        }
    };
    let (ca_pem, leaf_pem) = test_certificates(name, &public)?;
    // Everything that can fail is done before the first file is written.
    let encrypted = match &key {
        Some(key) => {
            let pass = passphrase(&format!("new private key {}", key_path.display()), true)?;
            Some(Zeroizing::new(keyfile::encrypt_cosign_key(key, &pass)?))
        }
        None => None,
    };
    for dir in [&key_dir, &store_dir] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if let Some(pem) = &encrypted {
        write_file(&key_path, pem.as_bytes(), 0o600, a.force)?;
    }
    write_file(
        &chain_path,
        format!("{leaf_pem}{ca_pem}").as_bytes(),
        0o644,
        a.force,
    )?;
    write_file(&ca_path, ca_pem.as_bytes(), 0o644, a.force)?;
    match ctx.output {
        OutputFormat::Json => term_println!(
            "{}",
            json!({
                "name": name,
                "key": match (&key, &a.key) {
                    (Some(_), _) => key_path.display().to_string(),
                    (None, reference) => reference.clone().unwrap_or_default(),
                },
                "certificate_chain": chain_path.display().to_string(),
                "trust_store": format!("ca:{name}"),
                "trust_store_certificate": ca_path.display().to_string(),
                "fingerprint": public.fingerprint(),
            })
        ),
        OutputFormat::Text => {
            match (&key, &a.key) {
                (Some(_), _) => {
                    term_eprintln!("Key written to {} (encrypted)", key_path.display());
                }
                (None, reference) => term_eprintln!(
                    "Certified the key {} (sha256:{})",
                    reference.as_deref().unwrap_or_default(),
                    public.fingerprint()
                ),
            }
            term_eprintln!(
                "Certificate chain written to {} (signing certificate, then the test CA)",
                chain_path.display()
            );
            term_eprintln!(
                "Test CA added to the trust store ca:{name} at {}",
                ca_path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A public key as rcgen certifies it.
struct Certified<'a>(&'a PublicKey);

impl rcgen::PublicKeyData for Certified<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.0.raw()
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.0.algorithm() {
            KeyAlgorithm::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            _ => &rcgen::PKCS_ECDSA_P256_SHA256,
        }
    }
}

/// The CA certificate and the signing certificate for `public` (PEM).
fn test_certificates(name: &str, public: &PublicKey) -> Result<(String, String)> {
    if !matches!(
        public.algorithm(),
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384
    ) {
        anyhow::bail!(
            "expected an ECDSA P-256 or P-384 key to certify (what notation signatures are made with here), found a {} key",
            public.algorithm().name()
        );
    }
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    };
    let dn = |cn: String| {
        let mut d = DistinguishedName::new();
        d.push(DnType::CountryName, "US");
        d.push(DnType::StateOrProvinceName, "WA");
        d.push(DnType::LocalityName, "Seattle");
        d.push(DnType::OrganizationName, "Notary");
        d.push(DnType::CommonName, cn);
        d
    };
    let now = time::OffsetDateTime::now_utc();
    let pair = |key: &SigningKey| -> Result<KeyPair> {
        let der = key.to_pkcs8_der();
        let der = rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_slice());
        KeyPair::from_pkcs8_der_and_sign_algo(&der, &PKCS_ECDSA_P256_SHA256)
            .context("loading the generated key for the certificate")
    };
    let ca_key = SigningKey::generate(KeyAlgorithm::EcdsaP256)?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = dn(format!("{name} test CA"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = now - time::Duration::minutes(5);
    ca.not_after = now + time::Duration::days(365);
    let ca_pair = pair(&ca_key)?;
    let ca_cert = ca.self_signed(&ca_pair).context("making the test CA")?;

    let mut leaf = CertificateParams::default();
    leaf.distinguished_name = dn(name.to_owned());
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    leaf.not_before = now - time::Duration::minutes(5);
    leaf.not_after = now + time::Duration::days(365);
    let issuer = Issuer::new(ca, ca_pair);
    let leaf_cert = leaf
        .signed_by(&Certified(public), &issuer)
        .context("making the test signing certificate")?;
    Ok((ca_cert.pem(), leaf_cert.pem()))
}
