//! Shared helpers for commands: public keys, bounded concurrency with progress, JSON shapes.

use crate::context::Context;
use anyhow::{Context as _, Result};
use futures::{StreamExt as _, stream};
use hallmark_core::PublicKey;
use hallmark_sigstore::VerifiedSignature;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use std::{future::Future, path::PathBuf};

/// Read public key files.
pub(crate) fn load_public_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>> {
    paths
        .iter()
        .map(|p| {
            let what = p.display().to_string();
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading public key {what}"))?;
            Ok(PublicKey::from_pem(&text, &what)?)
        })
        .collect()
}

/// Run `f` over `items` with at most `ctx.max_workers` at once; results keep the input order.
pub(crate) async fn for_each<T, R, F, Fut>(
    ctx: &Context,
    label: &str,
    items: Vec<T>,
    f: F,
) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R>,
{
    let count = items.len();
    let bar = if ctx.progress(count) {
        let bar = ProgressBar::new(count as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_owned());
        Some(bar)
    } else {
        None
    };
    let mut results: Vec<(usize, R)> = stream::iter(items.into_iter().enumerate())
        .map(|(i, item)| {
            let fut = f(item);
            let bar = bar.clone();
            async move {
                let r = fut.await;
                if let Some(b) = &bar {
                    b.inc(1);
                }
                (i, r)
            }
        })
        .buffer_unordered(ctx.max_workers)
        .collect()
        .await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// The JSON object of one verified signature (documented in the README).
pub(crate) fn signature_json(s: &VerifiedSignature) -> Value {
    let mut v = json!({
        "format": s.format,
        "source": s.source,
        "key_fingerprint": s.key_fingerprint,
        "docker_reference": s.docker_reference,
        "annotations": s.annotations,
        "payload": s.payload,
    });
    if let (Some(e), Some(o)) = (&s.tlog_entry, v.as_object_mut()) {
        o.insert(
            "tlog".into(),
            json!({
                "log_id": e.log_id,
                "base_url": e.base_url,
                "log_index": e.log_index,
                "integrated_time": e.integrated_time,
                "inclusion_proof": e.inclusion.as_ref().map(|(size, root)| json!({"tree_size": size, "root_hash": root})),
            }),
        );
    }
    // Certificate-verified signatures only: the signer the certificate names.
    if let (Some(c), Some(o)) = (&s.certificate, v.as_object_mut()) {
        o.insert(
            "certificate".into(),
            json!({
                "sha256": c.sha256,
                "emails": c.emails,
                "uris": c.uris,
                "dns_names": c.dns_names,
                "oidc_issuer": c.oidc_issuer,
            }),
        );
    }
    v
}

/// `println!` for text that may carry bytes from outside (registry bodies, media types,
/// annotations, reasons): every control character but `\n` is escaped, so a registry cannot
/// drive the terminal (see `hallmark_core::text`).
macro_rules! term_println {
    ($($arg:tt)*) => {
        println!("{}", hallmark_core::text::escape_controls_keep_lines(&format!($($arg)*)))
    };
}

/// `eprintln!` with the escaping of [`term_println`].
macro_rules! term_eprintln {
    ($($arg:tt)*) => {
        eprintln!("{}", hallmark_core::text::escape_controls_keep_lines(&format!($($arg)*)))
    };
}

pub(crate) use {term_eprintln, term_println};
