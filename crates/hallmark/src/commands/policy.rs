//! `hallmark verify --policy`, `hallmark pull` and `hallmark policy check|schema|convert`: the
//! commands over one trust policy, decided by `hallmark-policy` with evidence from
//! `hallmark-verify`.

use crate::output::{term_eprintln, term_println};
use crate::{
    cli::{OutputFormat, PolicyCommand, PolicyFileArgs, PullArgs, VerifyArgs},
    context::{Context, parse_image},
    output::for_each,
};
use anyhow::{Context as _, Result};
use hallmark_core::ImageRef;
use hallmark_policy::{Decision, Policy, Verdict};
use hallmark_verify::{TrustConfig, Verified, Verifier};
use serde_json::Value;
use std::{path::Path, process::ExitCode, sync::Arc};

/// Exit code of a policy that does not load (a usage error, as clap's).
pub(crate) const POLICY_ERROR: u8 = 2;

/// Read and parse a policy; on failure print every diagnostic and return the exit code.
fn load(path: &Path) -> Result<Policy, ExitCode> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            term_eprintln!(
                "error: policy {}: cannot be read: {e}; expected a hallmark/v1 policy (YAML or JSON) or a containers-policy.json",
                path.display()
            );
            return Err(ExitCode::from(POLICY_ERROR));
        }
    };
    Policy::parse(&bytes, path).map_err(|e| {
        term_eprintln!("error: {e}");
        ExitCode::from(POLICY_ERROR)
    })
}

pub(crate) fn run(cmd: PolicyCommand) -> Result<ExitCode> {
    match cmd {
        PolicyCommand::Check(PolicyFileArgs { file }) => Ok(match load(&file) {
            Ok(p) => {
                term_println!(
                    "{}: ok ({} rule{}, default {})",
                    file.display(),
                    p.rules.len(),
                    if p.rules.len() == 1 { "" } else { "s" },
                    match p.default {
                        hallmark_policy::DefaultAction::Allow => "allow",
                        _ => "deny",
                    }
                );
                ExitCode::SUCCESS
            }
            Err(code) => code,
        }),
        PolicyCommand::Schema => {
            term_println!(
                "{}",
                serde_json::to_string_pretty(&hallmark_policy::schema::json_schema())?
            );
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Convert(PolicyFileArgs { file }) => Ok(match load(&file) {
            Ok(p) => {
                print!("{}", hallmark_policy::containers::to_hallmark_yaml(&p));
                ExitCode::SUCCESS
            }
            Err(code) => code,
        }),
    }
}

/// The verifier of a policy file, with the trust settings of this invocation.
async fn verifier(ctx: &Context, path: &Path) -> Result<Result<Arc<Verifier>, ExitCode>> {
    let policy = match load(path) {
        Ok(p) => p,
        Err(code) => return Ok(Err(code)),
    };
    match Verifier::new(policy, trust_config(ctx)).await {
        Ok(v) => Ok(Ok(Arc::new(v))),
        Err(e) => {
            term_eprintln!(
                "error: policy {}: {}",
                path.display(),
                hallmark_core::error::chain(&e)
            );
            Ok(Err(ExitCode::from(POLICY_ERROR)))
        }
    }
}

/// The trust settings of this invocation: docker's DCT defaults with the registry login,
/// `$DOCKER_CONTENT_TRUST_SERVER` and `$HALLMARK_TRUST_DIR`.
pub(crate) fn trust_config(ctx: &Context) -> TrustConfig {
    let dct = match hallmark_trust_client::ClientConfig::docker_defaults() {
        Ok(mut c) => {
            c.login = ctx.trust_login();
            c.server = std::env::var(crate::commands::trust::client::SERVER_ENV)
                .ok()
                .filter(|s| !s.is_empty());
            if let Some(dir) = std::env::var_os("HALLMARK_TRUST_DIR") {
                c.trust_dir = hallmark_trust_client::TrustDir::new(dir);
            }
            Some(c)
        }
        Err(_) => None,
    };
    TrustConfig { dct }
}

/// Decide every image (bounded concurrency, input order kept).
async fn decide_all(
    ctx: &Arc<Context>,
    verifier: &Arc<Verifier>,
    images: &[ImageRef],
) -> Vec<Result<Verified>> {
    for_each(ctx, "verifying", images.to_vec(), |image| {
        let ctx = ctx.clone();
        let verifier = verifier.clone();
        async move {
            let store = ctx.store(&image, false)?;
            Ok(verifier.decide(&store, &image, None).await?)
        }
    })
    .await
}

/// One decision as text: the verdict line, then each requirement.
fn print_decision(d: &Decision) {
    let verdict = if d.verdict == Verdict::Allow {
        "allowed"
    } else {
        "denied"
    };
    let name = if d.image.contains('@') {
        d.image.clone()
    } else {
        format!("{}@{}", d.image, d.digest)
    };
    match (&d.rule, &d.reason) {
        (Some(rule), Some(why)) if d.verdict != Verdict::Allow => term_println!(
            "{name}: {verdict} by rule {rule} ({}): {why}",
            d.mode.as_str()
        ),
        (Some(rule), _) => term_println!("{name}: {verdict} by rule {rule} ({})", d.mode.as_str()),
        (None, Some(why)) if d.verdict != Verdict::Allow => {
            term_println!("{name}: {verdict}: {why}")
        }
        (None, _) => term_println!(
            "{name}: {verdict}: no rule matches this image and the policy's default is allow"
        ),
    }
    for r in &d.requirements {
        let state = if r.met { "met    " } else { "not met" };
        match &r.reason {
            Some(why) if !r.met => term_println!("  {state} {}: {why}", r.description),
            _ => term_println!("  {state} {}", r.description),
        }
    }
    for w in &d.warnings {
        term_eprintln!("warning: {}: {w}", d.image);
    }
}

/// `hallmark verify --policy FILE IMAGE...`
pub(crate) async fn verify(ctx: &Arc<Context>, a: VerifyArgs) -> Result<ExitCode> {
    let images: Vec<ImageRef> = a
        .images
        .iter()
        .map(|s| parse_image(s))
        .collect::<Result<_>>()?;
    let verifier = if a.notation_policy.is_some() {
        let policy = match crate::commands::notation::policy(&a) {
            Ok(p) => p,
            Err(e) => {
                term_eprintln!("error: {e:#}");
                return Ok(ExitCode::from(POLICY_ERROR));
            }
        };
        match Verifier::new(policy, trust_config(ctx)).await {
            Ok(v) => Arc::new(v),
            Err(e) => {
                term_eprintln!("error: {}", hallmark_core::error::chain(&e));
                return Ok(ExitCode::from(POLICY_ERROR));
            }
        }
    } else {
        let path = a.policy.clone().context("--policy")?;
        match verifier(ctx, &path).await? {
            Ok(v) => v,
            Err(code) => return Ok(code),
        }
    };
    let results = decide_all(ctx, &verifier, &images).await;
    let mut out = Vec::with_capacity(images.len());
    let mut failed = 0;
    for (image, r) in images.iter().zip(results) {
        match r {
            Ok(v) => {
                if !v.allowed() {
                    failed += 1;
                }
                if ctx.output == OutputFormat::Text {
                    print_decision(&v.decision);
                }
                out.push(serde_json::to_value(&v.decision)?);
            }
            Err(e) => {
                failed += 1;
                term_eprintln!("error: {e:#}");
                out.push(serde_json::json!({
                    "reference": image.to_string(),
                    "decision": "deny",
                    "error": format!("{e:#}"),
                }));
            }
        }
    }
    if ctx.output == OutputFormat::Json {
        term_println!("{}", Value::Array(out));
    }
    if failed > 0 && images.len() > 1 {
        term_eprintln!("{failed} of {} images denied", images.len());
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `hallmark pull --policy FILE --to DEST IMAGE...`
pub(crate) async fn pull(ctx: &Arc<Context>, a: PullArgs) -> Result<ExitCode> {
    let images: Vec<ImageRef> = a
        .images
        .iter()
        .map(|s| parse_image(s))
        .collect::<Result<_>>()?;
    let dest =
        crate::commands::pull::Destination::parse(&a.to, images.len(), a.platform.as_deref())?;
    let verifier = match verifier(ctx, &a.policy).await? {
        Ok(v) => v,
        Err(code) => return Ok(code),
    };
    let results = decide_all(ctx, &verifier, &images).await;
    let mut failed = 0;
    let mut out = Vec::new();
    for (image, r) in images.iter().zip(results) {
        let v = match r {
            Ok(v) => v,
            Err(e) => {
                failed += 1;
                term_eprintln!("error: {e:#}; nothing was written");
                out.push(serde_json::json!({"reference": image.to_string(), "decision": "deny", "error": format!("{e:#}")}));
                continue;
            }
        };
        let mut json = serde_json::to_value(&v.decision)?;
        if !v.allowed() {
            failed += 1;
            let why = v
                .decision
                .reason
                .as_ref()
                .map_or_else(|| "denied".to_owned(), ToString::to_string);
            term_eprintln!("error: {image}: denied by the policy: {why}; nothing was written");
            out.push(json);
            continue;
        }
        for w in &v.decision.warnings {
            term_eprintln!("warning: {image}: {w}");
        }
        match crate::commands::pull::copy_verified(ctx, image, &v, &dest).await {
            Ok(written) => {
                if ctx.output == OutputFormat::Text {
                    term_eprintln!(
                        "{image}: allowed, {} written to {written}",
                        v.manifest.digest
                    );
                }
                if let Some(o) = json.as_object_mut() {
                    o.insert("written".into(), Value::String(written));
                }
            }
            Err(e) => {
                failed += 1;
                term_eprintln!("error: {image}: {e:#}");
                if let Some(o) = json.as_object_mut() {
                    o.insert("error".into(), Value::String(format!("{e:#}")));
                }
            }
        }
        out.push(json);
    }
    if ctx.output == OutputFormat::Json {
        term_println!("{}", Value::Array(out));
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
