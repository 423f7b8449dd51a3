//! Hidden helpers for benchmarks and tests.

use crate::{
    cli::{DebugCommand, DockerArchiveArgs, OutputFormat},
    context::{Context, parse_image},
    output::for_each,
};
use anyhow::{Context as _, Result, bail};
use hallmark_core::ImageRef;
use hallmark_oci::sample::{push_sample_image, push_sample_index};
use hallmark_oci::{docker_archive::write_docker_archive, manifest::Platform};
use std::{process::ExitCode, sync::Arc};

pub(crate) async fn run(ctx: &Arc<Context>, cmd: DebugCommand) -> Result<ExitCode> {
    match cmd {
        DebugCommand::TlogLoad(a) => crate::commands::log::load(a).await,
        DebugCommand::TlogSeed(a) => crate::commands::log::seed(a).await,
        DebugCommand::DockerArchive(a) => docker_archive(ctx, a).await,
        DebugCommand::PushSample(a) => {
            // Registry: PREFIX<i>:TAG. Layout (oci:DIR:NAME): tags NAME<i>.
            let refs: Vec<(ImageRef, String)> = (0..a.count)
                .map(|i| {
                    if a.repo_prefix.starts_with("oci:") {
                        let r = format!("{}{i}", a.repo_prefix);
                        let image = ImageRef::parse(&r)?;
                        let tag = image
                            .tag()
                            .map(str::to_owned)
                            .ok_or_else(|| anyhow::anyhow!("{r}: expected oci:DIR:NAME"))?;
                        Ok((image, tag))
                    } else {
                        Ok((
                            ImageRef::parse(&format!("{}{i}:{}", a.repo_prefix, a.tag))?,
                            a.tag.clone(),
                        ))
                    }
                })
                .collect::<Result<_>>()?;
            let results = for_each(ctx, "pushing", refs, |(image, tag)| {
                let ctx = ctx.clone();
                let index = a.index;
                async move {
                    let store = ctx.store(&image, true)?;
                    let content = format!("sample image {image}\n");
                    let d = if index {
                        push_sample_index(&store, &tag, &content).await?
                    } else {
                        push_sample_image(&store, &tag, &content).await?
                    };
                    Ok::<_, anyhow::Error>((image, d))
                }
            })
            .await;
            let mut failed = 0;
            for r in results {
                match r {
                    Ok((image, d)) => println!("{image} {d}"),
                    Err(e) => {
                        failed += 1;
                        eprintln!("error: {e:#}");
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} pushes failed");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `hallmark debug docker-archive IMAGE FILE`: the docker-archive writer until `pull --to
/// docker-archive:FILE` wraps it.
async fn docker_archive(ctx: &Arc<Context>, a: DockerArchiveArgs) -> Result<ExitCode> {
    let image = parse_image(&a.image)?;
    let repo_tag = match (&a.tag, &image) {
        (Some(tag), _) => tag.clone(),
        (None, ImageRef::Registry(r)) => match &r.tag {
            Some(tag) => format!("{}/{}:{tag}", r.registry, r.repository),
            None => bail!("{image}: no tag to name the loaded image by; give --tag REPOSITORY:TAG"),
        },
        (None, ImageRef::Layout { .. }) => {
            bail!("{image}: a layout has no repository name; give --tag REPOSITORY:TAG")
        }
    };
    let platform = a.platform.as_deref().map(parse_platform).transpose()?;
    let store = ctx.store(&image, false)?;
    let manifest = hallmark_sigstore::flow::resolve(&store, &image)
        .await
        .with_context(|| format!("resolving {image}"))?;
    let report = write_docker_archive(&store, &manifest, &repo_tag, &a.file, platform.as_ref())
        .await
        .with_context(|| {
            format!(
                "writing {image} to {} as a docker-archive",
                a.file.display()
            )
        })?;
    match ctx.output {
        OutputFormat::Json => println!("{}", serde_json::to_string(&report)?),
        OutputFormat::Text => eprintln!(
            "wrote {image} ({}) to {} as {}: {} layers, {} bytes; image ID {}",
            report.manifest,
            a.file.display(),
            report.repo_tag,
            report.layers,
            report.bytes,
            report.config
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// `os/arch[/variant]`.
fn parse_platform(s: &str) -> Result<Platform> {
    let mut parts = s.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(os), Some(arch), variant, None) if !os.is_empty() && !arch.is_empty() => {
            Ok(Platform {
                os: os.to_owned(),
                architecture: arch.to_owned(),
                variant: variant.filter(|v| !v.is_empty()).map(str::to_owned),
            })
        }
        _ => bail!("--platform {s:?}: expected OS/ARCH[/VARIANT], such as linux/amd64"),
    }
}
