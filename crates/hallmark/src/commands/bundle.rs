//! `hallmark sign --format bundle`: image signatures as cosign 3 writes them by default, a
//! Sigstore bundle (DSSE over an in-toto statement, its `dsse` log entry) attached as an OCI 1.1
//! referrer.

use crate::cli::{OutputFormat, SignArgs};
use crate::commands::image::{check_tag_targets, parse_all, report, tag_after_signing};
use crate::commands::parse_annotations;
use crate::context::Context;
use crate::output::{for_each, term_eprintln};
use crate::secrets::open_signer;
use anyhow::{Context as _, Result};
use serde_json::json;
use std::process::ExitCode;
use std::sync::Arc;

pub(crate) async fn sign(ctx: &Arc<Context>, a: SignArgs) -> Result<ExitCode> {
    let images = parse_all(&a.images)?;
    for (flag, given) in [
        ("--bundle", a.bundle.is_some()),
        ("--recursive", a.recursive),
        (
            "--sign-container-identity",
            a.sign_container_identity.is_some(),
        ),
        ("--cert", a.cert.is_some()),
    ] {
        if given {
            anyhow::bail!(
                "{flag} does not apply to --format bundle: expected it left out, found it given"
            );
        }
    }
    let log = crate::commands::tlog_client::upload_client(&a.tlog)?.context(
        "--format bundle logs the signature: expected --tlog-url URL (a bundle carries its log entry)",
    )?;
    check_tag_targets(&images, a.tag.as_deref())?;
    let annotations = Arc::new(parse_annotations(&a.annotations)?);
    let key = Arc::new(open_signer(&a.key).await?);
    let log = Arc::new(log);
    let results = for_each(ctx, "signing", images.clone(), |image| {
        let ctx = ctx.clone();
        let key = key.clone();
        let log = log.clone();
        let annotations = annotations.clone();
        let tag = a.tag.clone();
        async move {
            let store = ctx.store(&image, false)?;
            let signed = hallmark_flows::bundle_sign::sign(
                &store,
                &image,
                key.as_ref(),
                &log,
                &annotations,
                crate::commands::tlog_client::WITNESS_WAIT,
            )
            .await
            .with_context(|| format!("{image}: signing (bundle)"))?;
            tag_after_signing(&store, &image, tag.as_deref()).await?;
            Ok(signed)
        }
    })
    .await;
    Ok(report(
        ctx,
        &images,
        results,
        &json!({}),
        "failed to sign",
        |image, s| {
            if ctx.output == OutputFormat::Text {
                term_eprintln!(
                    "{image}: {} signed (Sigstore bundle {}, log index {})",
                    s.subject,
                    s.referrer,
                    s.entry.log_index
                );
            }
            json!({
                "reference": image.to_string(),
                "digest": s.subject.to_string(),
                "bundle_manifest_digest": s.referrer.to_string(),
                "log_index": s.entry.log_index,
            })
        },
    ))
}
