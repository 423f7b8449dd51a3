//! Commands over images: sign, verify, attest, verify-attestation, tree, copy.

use crate::output::{term_eprintln, term_println};
use crate::{
    cli::{
        AttestArgs, CopyArgs, OutputFormat, SignArgs, TreeArgs, VerifyArgs, VerifyAttestationArgs,
    },
    commands::parse_annotations,
    context::{Context, parse_image},
    output::{for_each, load_public_keys, signature_json},
    secrets::{open_signer, public_keys},
};
use anyhow::{Context as _, Result};
use hallmark_core::ImageRef;
use hallmark_flows::{AttestOptions, SignOptions, SigstoreError};
use hallmark_keys::Signer as _;
use hallmark_oci::OciError;
use hallmark_sigstore::{
    CertificateIdentity, CertificatePolicy, IdentityCheck, OidcIssuer, SubjectName, TlogPolicy,
    TransparencyLog, TrustedCertificates, TrustedLogs, VerificationPolicy, VerifiedSignature,
    attestation::{build_predicate, predicate_type_uri},
    bundle::build_message_signature_bundle,
    certificate::{SigstoreTrustedRoot, UnixTime},
};
use serde_json::{Value, json};
use std::{process::ExitCode, sync::Arc};

/// `image@digest` for messages; `image` alone when it already names the digest.
fn with_digest(image: &ImageRef, digest: &hallmark_core::Digest) -> String {
    if image.digest().is_some() {
        image.to_string()
    } else {
        format!("{image}@{digest}")
    }
}

pub(crate) fn parse_all(images: &[String]) -> Result<Vec<ImageRef>> {
    images.iter().map(|s| parse_image(s)).collect()
}

/// `--tag` tags images that were pushed by digest: every image must be given by digest.
pub(crate) fn check_tag_targets(images: &[ImageRef], tag: Option<&str>) -> Result<()> {
    if tag.is_some()
        && let Some(image) = images.iter().find(|i| i.digest().is_none())
    {
        anyhow::bail!(
            "--tag tags images pushed by digest: expected registry/repo@sha256:..., found {image}"
        );
    }
    Ok(())
}

/// An error of one image's `action` (`signing`, `attesting`; `None`: verifying), named by the
/// image once: a verdict (`no valid signature for IMAGE: ...`) names it already, and so does a
/// registry or layout error naming its repository or URL; anything else (a key, an
/// authentication refusal naming only the registry) gets the image as context.
fn in_image(e: SigstoreError, image: &ImageRef, action: Option<&str>) -> anyhow::Error {
    let located = match &e {
        SigstoreError::Verify(_) => true,
        SigstoreError::Oci(o) => matches!(
            o,
            OciError::Transport { .. }
                | OciError::Status { .. }
                | OciError::NotFound { .. }
                | OciError::TooLarge { .. }
                | OciError::DigestMismatch { .. }
                | OciError::Malformed { .. }
                | OciError::RetriesExhausted { .. }
        ),
        _ => false,
    };
    let e = anyhow::Error::new(e);
    match (located, action) {
        (true, None) => e,
        (true, Some(action)) => e.context(action.to_owned()),
        (false, None) => e.context(image.to_string()),
        (false, Some(action)) => e.context(format!("{action} {image}")),
    }
}

/// Report per-image results in input order: `ok` prints an image's text and returns its JSON
/// object; a failure prints `error: ...` and becomes `{"reference", "error"}` plus
/// `failure_fields`. `-o json` prints the array. Exit 0 only if every image succeeded.
pub(crate) fn report<T>(
    ctx: &Context,
    images: &[ImageRef],
    results: Vec<Result<T>>,
    failure_fields: &Value,
    what_failed: &str,
    mut ok: impl FnMut(&ImageRef, T) -> Value,
) -> ExitCode {
    let mut failed = 0;
    let mut out = Vec::with_capacity(images.len());
    for (image, r) in images.iter().zip(results) {
        match r {
            Ok(v) => out.push(ok(image, v)),
            Err(e) => {
                failed += 1;
                term_eprintln!("error: {e:#}");
                if let Some(hint) = crate::hints::hint(&e) {
                    term_eprintln!("hint: {hint}");
                }
                let mut obj = json!({"reference": image.to_string(), "error": format!("{e:#}")});
                if let (Some(o), Some(extra)) = (obj.as_object_mut(), failure_fields.as_object()) {
                    o.extend(extra.clone());
                }
                out.push(obj);
            }
        }
    }
    if ctx.output == OutputFormat::Json {
        term_println!("{}", Value::Array(out));
    }
    if failed > 0 && images.len() > 1 {
        term_eprintln!("{failed} of {} images {what_failed}", images.len());
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub(crate) async fn sign(ctx: &Arc<Context>, a: SignArgs) -> Result<ExitCode> {
    // Everything that can fail without touching a registry is checked first.
    let images = parse_all(&a.images)?;
    check_tag_targets(&images, a.tag.as_deref())?;
    if a.bundle.is_some() && images.len() != 1 {
        anyhow::bail!(
            "--bundle writes one bundle: expected one image, found {}",
            images.len()
        );
    }
    let tlog = crate::commands::tlog_client::upload_client(&a.tlog)?;
    if a.bundle.is_some() && tlog.is_none() {
        anyhow::bail!("--bundle needs a transparency-log entry, but --tlog-upload=false");
    }
    let options = SignOptions {
        annotations: parse_annotations(&a.annotations)?,
        recursive: a.recursive,
        identity: a.sign_container_identity.clone(),
        tlog,
        always_log: a.bundle.is_some(),
    };
    let key = Arc::new(open_signer(&a.key).await?);
    let options = Arc::new(options);
    let results = for_each(ctx, "signing", images.clone(), |image| {
        let ctx = ctx.clone();
        let key = key.clone();
        let options = options.clone();
        let tag = a.tag.clone();
        async move {
            let store = ctx.store(&image, false)?;
            // With --tag the image was just pushed by digest and may be unreadable until
            // signed (a proxy serving only signed images): it is not read back first.
            let signed = if tag.is_some() {
                hallmark_flows::sign_written(&store, &image, key.as_ref(), &options).await
            } else {
                hallmark_flows::sign(&store, &image, key.as_ref(), &options).await
            }
            .map_err(|e| in_image(e, &image, Some("signing")))?;
            tag_after_signing(&store, &image, tag.as_deref()).await?;
            Ok(signed)
        }
    })
    .await;
    let results = match &a.bundle {
        Some(path) => {
            // A witnessed log: the bundle carries a checkpoint its witnesses cosigned.
            let log = crate::commands::tlog_client::upload_client(&a.tlog)?;
            let mut out = Vec::with_capacity(results.len());
            for r in results {
                out.push(
                    async {
                        let mut signed = r?;
                        if let (Some(client), Some(top)) = (&log, signed.first_mut())
                            && let Some(entry) = top.tlog_entry.take()
                        {
                            top.tlog_entry = Some(
                                hallmark_tlog_client::witnessed::cosigned_entry(
                                    client,
                                    entry,
                                    crate::commands::tlog_client::WITNESS_WAIT,
                                )
                                .await?,
                            );
                        }
                        write_sign_bundle(
                            path,
                            a.output_payload.as_deref(),
                            &signed,
                            key.public_key(),
                        )?;
                        Ok(signed)
                    }
                    .await,
                );
            }
            out
        }
        None => results,
    };
    Ok(report(
        ctx,
        &images,
        results,
        &json!({}),
        "failed to sign",
        |image, signed| {
            for s in &signed {
                if ctx.output == OutputFormat::Text {
                    let what = if s.added {
                        "signed"
                    } else {
                        "already signed by this key"
                    };
                    let logged = s
                        .tlog_entry
                        .as_ref()
                        .map(|e| format!(", transparency log index {}", e.log_index))
                        .unwrap_or_default();
                    term_eprintln!("{image}: {} {what} ({}){logged}", s.digest, s.tag);
                }
            }
            json!({"reference": image.to_string(), "key": key.reference(), "signed": signed.iter().map(|s| json!({
                "digest": s.digest.to_string(),
                "tag": s.tag,
                "signature_manifest_digest": s.manifest_digest.to_string(),
                "added": s.added,
                "tlog": s.tlog_entry.as_ref().map(|e| json!({"log_index": e.log_index, "uuid": e.leaf_uuid(), "integrated_time": e.integrated_time, "log_id": e.log_id})),
            })).collect::<Vec<_>>()})
        },
    ))
}

/// `sign --bundle`: the bundle of the top manifest's signature (a messageSignature over the
/// signed payload, with its log entry).
fn write_sign_bundle(
    path: &std::path::Path,
    payload_path: Option<&std::path::Path>,
    signed: &[hallmark_flows::SignedManifest],
    key: &hallmark_core::PublicKey,
) -> Result<()> {
    let top = signed.first().context("--bundle: nothing was signed")?;
    let entry = top
        .tlog_entry
        .as_ref()
        .context("--bundle: the signature was not logged")?;
    let bundle = build_message_signature_bundle(
        &top.payload,
        &top.signature,
        key,
        vec![entry.to_bundle_tlog_entry()?],
    );
    crate::secrets::write_file(
        path,
        format!("{}\n", serde_json::to_string_pretty(&bundle)?).as_bytes(),
        0o644,
        true,
    )?;
    if let Some(p) = payload_path {
        crate::secrets::write_file(p, &top.payload, 0o644, true)?;
    }
    Ok(())
}

/// The certificate policy of `verify`, if a certificate root source is given.
fn certificate_policy(a: &VerifyArgs) -> Result<Option<CertificatePolicy>> {
    let read = |p: &std::path::PathBuf, what: &str| {
        std::fs::read(p).with_context(|| format!("reading {what} {}", p.display()))
    };
    let mut rekor_keys = load_public_keys(&a.rekor_key)?;
    let trust = match (&a.ca_roots, &a.trusted_root) {
        (Some(roots), None) => {
            let roots_pem = read(roots, "--ca-roots")?;
            let intermediates = a
                .ca_intermediates
                .as_ref()
                .map(|p| read(p, "--ca-intermediates"))
                .transpose()?;
            TrustedCertificates::from_pem(&roots_pem, intermediates.as_deref())
                .with_context(|| format!("--ca-roots {}", roots.display()))?
        }
        (None, Some(file)) if a.key.is_empty() => {
            let root = SigstoreTrustedRoot::parse(&read(file, "--trusted-root")?)
                .with_context(|| format!("--trusted-root {}", file.display()))?;
            rekor_keys.extend(root.rekor_keys);
            if rekor_keys.is_empty() {
                anyhow::bail!(
                    "--trusted-root {}: no Rekor key (ECDSA P-256) found; keyless verification needs one, give --rekor-key",
                    file.display()
                );
            }
            root.certificates
        }
        _ => return Ok(None),
    };
    let Some(identity) = &a.certificate_identity else {
        anyhow::bail!("--certificate-identity is required with certificate verification");
    };
    let issuer = match &a.certificate_oidc_issuer {
        Some(url) => OidcIssuer::Exact(url.clone()),
        None => OidcIssuer::NotChecked,
    };
    let log = if rekor_keys.is_empty() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("the system clock is before 1970")?;
        TransparencyLog::NotRequired {
            now: UnixTime::since_unix_epoch(now),
        }
    } else {
        TransparencyLog::Required { rekor_keys }
    };
    Ok(Some(CertificatePolicy {
        trust,
        identity: CertificateIdentity::new(SubjectName::Any(identity.clone()), issuer),
        log,
    }))
}

/// The transparency-log policy of key verification: the logs of `--trusted-root` and
/// `--rekor-key` (with `--key`); entries required with `--require-tlog`.
fn tlog_policy(a: &VerifyArgs) -> Result<TlogPolicy> {
    if a.key.is_empty() {
        return Ok(TlogPolicy::NotChecked);
    }
    let mut logs: Option<TrustedLogs> = None;
    if let Some(file) = &a.trusted_root {
        let json = std::fs::read(file)
            .with_context(|| format!("reading --trusted-root {}", file.display()))?;
        logs = Some(
            TrustedLogs::from_trusted_root(&json)
                .with_context(|| format!("--trusted-root {}", file.display()))?,
        );
    }
    if !a.rekor_key.is_empty() {
        let keys = TrustedLogs::from_keys(&load_public_keys(&a.rekor_key)?)?;
        logs = Some(match logs {
            Some(l) => l.merged(keys),
            None => keys,
        });
    }
    let logs = match (&a.witness_policy, logs) {
        (Some(p), Some(l)) => {
            Some(l.with_witness_policy(crate::commands::tlog_client::witness_policy(p)?))
        }
        (Some(_), None) => anyhow::bail!(
            "--witness-policy needs the transparency log's key: --trusted-root FILE (from `hallmark log trusted-root`) or --rekor-key FILE"
        ),
        (None, l) => l,
    };
    // A witness policy requires the entry (and its cosigned checkpoint).
    Ok(match (logs, a.require_tlog || a.witness_policy.is_some()) {
        (None, true) => anyhow::bail!(
            "--require-tlog needs the transparency log's key: --trusted-root FILE (from `hallmark log trusted-root`) or --rekor-key FILE"
        ),
        (None, false) => TlogPolicy::NotChecked,
        (Some(l), true) => TlogPolicy::Required(l),
        (Some(l), false) => TlogPolicy::VerifyIfPresent(l),
    })
}

/// Who made a verified signature, for the text output.
fn signer_text(signatures: &[VerifiedSignature]) -> String {
    let keys: std::collections::BTreeSet<String> = signatures
        .iter()
        .filter(|s| s.certificate.is_none())
        .map(|s| format!("sha256:{}", s.key_fingerprint))
        .collect();
    let certs: std::collections::BTreeSet<String> = signatures
        .iter()
        .filter_map(|s| s.certificate.as_ref())
        .map(|c| {
            let names: Vec<&str> = c
                .emails
                .iter()
                .chain(&c.uris)
                .chain(&c.dns_names)
                .map(String::as_str)
                .collect();
            match &c.oidc_issuer {
                Some(issuer) => format!("{} (issuer {issuer})", names.join(", ")),
                None => names.join(", "),
            }
        })
        .collect();
    let mut parts = Vec::new();
    if !keys.is_empty() {
        parts.push(format!(
            "key{} {}",
            if keys.len() == 1 { "" } else { "s" },
            keys.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if !certs.is_empty() {
        parts.push(format!(
            "certificate{} {}",
            if certs.len() == 1 { "" } else { "s" },
            certs.into_iter().collect::<Vec<_>>().join("; ")
        ));
    }
    parts.join(" and ")
}

pub(crate) async fn verify(ctx: &Arc<Context>, a: VerifyArgs) -> Result<ExitCode> {
    let images = parse_all(&a.images)?;
    // DOCKER_CONTENT_TRUST: tags resolve through signed trust data, not the registry's tag.
    let images = crate::commands::trust::client::content_trust_images(ctx, images).await?;
    let certificates = certificate_policy(&a)?;
    if a.require_tlog
        && a.key.is_empty()
        && !matches!(
            certificates.as_ref().map(|c| &c.log),
            Some(TransparencyLog::Required { .. })
        )
    {
        anyhow::bail!("--require-tlog needs log keys: --trusted-root FILE or --rekor-key FILE");
    }
    let policy = Arc::new(VerificationPolicy {
        keys: public_keys(&a.key).await?,
        annotations: parse_annotations(&a.annotations)?,
        identity: match &a.identity {
            Some(r) => IdentityCheck::Repository(r.clone()),
            None => IdentityCheck::Any,
        },
        certificates,
        tlog: tlog_policy(&a)?,
    });
    let results = for_each(ctx, "verifying", images.clone(), |image| {
        let ctx = ctx.clone();
        let policy = policy.clone();
        async move {
            let store = ctx.store(&image, false)?;
            hallmark_flows::verify_image(&store, &image, &policy)
                .await
                .map_err(|e| in_image(e, &image, None))
        }
    })
    .await;
    let failure = json!({"verified": false, "signatures": []});
    Ok(report(
        ctx,
        &images,
        results,
        &failure,
        "failed verification",
        |image, v| {
            if ctx.output == OutputFormat::Text {
                let logged: Vec<String> = v
                    .signatures
                    .iter()
                    .filter_map(|s| s.tlog_entry.as_ref())
                    .map(|e| format!("index {}", e.log_index))
                    .collect();
                let logged = if logged.is_empty() {
                    String::new()
                } else {
                    format!(", transparency log entry {}", logged.join(", "))
                };
                term_println!(
                    "{}: verified, {} valid signature{} by {}{logged}",
                    with_digest(image, &v.digest),
                    v.signatures.len(),
                    if v.signatures.len() == 1 { "" } else { "s" },
                    signer_text(&v.signatures)
                );
            }
            json!({
                "reference": image.to_string(),
                "digest": v.digest.to_string(),
                "verified": true,
                "signatures": v.signatures.iter().map(signature_json).collect::<Vec<_>>(),
            })
        },
    ))
}

pub(crate) async fn attest(ctx: &Arc<Context>, a: AttestArgs) -> Result<ExitCode> {
    let images = parse_all(&a.images)?;
    let predicate_type = predicate_type_uri(&a.predicate_type).map_err(anyhow::Error::msg)?;
    let file = std::fs::read(&a.predicate)
        .with_context(|| format!("reading predicate {}", a.predicate.display()))?;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let predicate = build_predicate(&predicate_type, &file, &now)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.predicate.display()))?;
    let key = open_signer(&a.key).await?;
    let options = AttestOptions {
        predicate_type,
        predicate,
        replace: a.replace,
    };
    let (key, options) = (Arc::new(key), Arc::new(options));
    let results = for_each(ctx, "attesting", images.clone(), |image| {
        let (ctx, key, options) = (ctx.clone(), key.clone(), options.clone());
        async move {
            let store = ctx.store(&image, false)?;
            hallmark_flows::attest(&store, &image, key.as_ref(), &options)
                .await
                .map_err(|e| in_image(e, &image, Some("attesting")))
        }
    })
    .await;
    Ok(report(
        ctx,
        &images,
        results,
        &json!({}),
        "failed to attest",
        |image, s| {
            if ctx.output == OutputFormat::Text {
                let note = if s.added {
                    ""
                } else {
                    ", identical attestation already present"
                };
                term_eprintln!("{image}: {} attested ({}){note}", s.digest, s.tag);
            }
            json!({"reference": image.to_string(), "key": key.reference(), "digest": s.digest.to_string(), "tag": s.tag, "added": s.added})
        },
    ))
}

pub(crate) async fn verify_attestation(
    ctx: &Arc<Context>,
    a: VerifyAttestationArgs,
) -> Result<ExitCode> {
    let images = parse_all(&a.images)?;
    let keys = public_keys(&a.key).await?;
    let predicate_type = a
        .predicate_type
        .as_deref()
        .map(predicate_type_uri)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let (keys, predicate_type) = (Arc::new(keys), Arc::new(predicate_type));
    let results = for_each(ctx, "verifying", images.clone(), |image| {
        let (ctx, keys, predicate_type) = (ctx.clone(), keys.clone(), predicate_type.clone());
        async move {
            let store = ctx.store(&image, false)?;
            hallmark_flows::verify_attestations(&store, &image, &keys, predicate_type.as_deref())
                .await
                .map_err(|e| in_image(e, &image, None))
        }
    })
    .await;
    let failure = json!({"verified": false, "attestations": []});
    Ok(report(
        ctx,
        &images,
        results,
        &failure,
        "failed verification",
        |image, (digest, atts)| {
            if ctx.output == OutputFormat::Text {
                term_eprintln!(
                    "{}: {} verified attestation{}",
                    with_digest(image, &digest),
                    atts.len(),
                    if atts.len() == 1 { "" } else { "s" }
                );
                for att in &atts {
                    term_println!("{}", att.statement);
                }
            }
            json!({
                "reference": image.to_string(),
                "digest": digest.to_string(),
                "verified": true,
                "attestations": atts.iter().map(|t| json!({"key_fingerprint": t.key_fingerprint, "predicate_type": t.predicate_type, "statement": t.statement})).collect::<Vec<_>>(),
            })
        },
    ))
}

pub(crate) async fn tree(ctx: &Arc<Context>, a: TreeArgs) -> Result<ExitCode> {
    let image = parse_image(&a.image)?;
    let store = ctx.store(&image, false)?;
    let t = hallmark_flows::tree(&store, &image).await?;
    match ctx.output {
        OutputFormat::Json => term_println!("{}", serde_json::to_string_pretty(&t)?),
        OutputFormat::Text => {
            term_println!("{} ({}, {})", t.reference, t.digest, t.media_type);
            let sections: [(&str, Vec<String>); 4] = [
                (
                    "Signatures",
                    t.signatures
                        .iter()
                        .map(|l| format!("{} {} [{}]", l.tag, l.digest, l.media_type))
                        .collect(),
                ),
                (
                    "Attestations",
                    t.attestations
                        .iter()
                        .map(|l| {
                            format!(
                                "{} {} [{}]",
                                l.tag,
                                l.digest,
                                l.predicate_type.as_deref().unwrap_or(&l.media_type)
                            )
                        })
                        .collect(),
                ),
                (
                    "Referrers",
                    t.referrers
                        .iter()
                        .map(|r| {
                            format!(
                                "{} [{}]",
                                r.digest,
                                r.artifact_type.as_deref().unwrap_or("-")
                            )
                        })
                        .collect(),
                ),
                ("Manifests", t.manifests.clone()),
            ];
            let present: Vec<_> = sections.iter().filter(|(_, v)| !v.is_empty()).collect();
            if present.is_empty() {
                term_println!("└── (no signatures, attestations or referrers)");
            }
            for (i, (name, items)) in present.iter().enumerate() {
                let last = i + 1 == present.len();
                term_println!("{} {name}", if last { "└──" } else { "├──" });
                for (j, item) in items.iter().enumerate() {
                    let bar = if last { "    " } else { "│   " };
                    term_println!(
                        "{bar}{} {item}",
                        if j + 1 == items.len() {
                            "└──"
                        } else {
                            "├──"
                        }
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// With `--tag TAG`, tag a signed image (given by digest) once its signature is written.
pub(crate) async fn tag_after_signing(
    store: &hallmark_oci::Store,
    image: &ImageRef,
    tag: Option<&str>,
) -> Result<()> {
    if let (Some(tag), Some(digest)) = (tag, image.digest()) {
        tag_last(store, digest, tag)
            .await
            .with_context(|| format!("tagging {image} as {tag} after signing"))?;
    }
    Ok(())
}

/// Tag the manifest at `digest` as `tag` (its exact bytes, read back by digest).
pub(crate) async fn tag_last(
    store: &hallmark_oci::Store,
    digest: &hallmark_core::Digest,
    tag: &str,
) -> Result<()> {
    let m = store.get_manifest(&digest.to_string()).await?;
    store
        .put_manifest(&m.bytes, &m.media_type, Some(tag))
        .await?;
    Ok(())
}

pub(crate) async fn copy(ctx: &Arc<Context>, a: CopyArgs) -> Result<ExitCode> {
    let src = parse_image(&a.src)?;
    // DOCKER_CONTENT_TRUST: the source tag resolves through signed trust data.
    let src = crate::commands::trust::client::content_trust_image(ctx, src).await?;
    let dst = parse_image(&a.dst)?;
    if dst.digest().is_some() {
        anyhow::bail!(
            "destination {dst}: expected a repository or tag, found a digest (the digest is the source's)"
        );
    }
    let src_store = ctx.store(&src, false)?;
    let tag = dst.tag().or(src.tag()).map(str::to_owned);
    // With --sign: by digest first, then the signature, then the tag.
    let copy_tag = if a.sign { None } else { tag.as_deref() };
    let key = match (&a.sign, &a.key) {
        (true, Some(k)) => Some(open_signer(k).await?),
        _ => None,
    };
    let report = ctx
        .copy_into(&src_store, &src, &dst, copy_tag)
        .await
        .with_context(|| format!("copying {src} to {dst}"))?;
    if let Some(key) = &key {
        let digest = hallmark_core::Digest::parse(&report.digest)?;
        let pinned = match &dst {
            ImageRef::Registry(r) => ImageRef::Registry(r.with_digest(digest.clone())),
            ImageRef::Layout { path, .. } => ImageRef::Layout {
                path: path.clone(),
                tag: None,
                digest: Some(digest.clone()),
            },
        };
        let dst_store = ctx.store(&dst, false)?;
        hallmark_flows::sign_written(&dst_store, &pinned, key, &SignOptions::default())
            .await
            .map_err(|e| in_image(e, &pinned, Some("signing")))?;
        if let Some(tag) = &tag {
            tag_last(&dst_store, &digest, tag)
                .await
                .with_context(|| format!("tagging {pinned} as {tag} after signing"))?;
        }
    }
    match ctx.output {
        OutputFormat::Json => term_println!("{}", serde_json::to_string(&report)?),
        OutputFormat::Text => term_eprintln!(
            "copied {src} ({}) to {dst}: {} manifests, {} blobs, attachments [{}], {} referrers",
            report.digest,
            report.manifests,
            report.blobs,
            report.attachments.join(", "),
            report.referrers.len()
        ),
    }
    Ok(ExitCode::SUCCESS)
}
