//! Hidden helpers for benchmarks and tests.

use crate::output::{term_eprintln, term_println};
use crate::{cli::DebugCommand, context::Context, output::for_each};
use anyhow::{Result, bail};
use hallmark_core::ImageRef;
use hallmark_oci::sample::{push_sample_image, push_sample_index};
use std::{process::ExitCode, sync::Arc};

pub(crate) async fn run(ctx: &Arc<Context>, cmd: DebugCommand) -> Result<ExitCode> {
    match cmd {
        DebugCommand::TlogLoad(a) => crate::commands::log::load(a).await,
        DebugCommand::TlogSeed(a) => crate::commands::log::seed(a).await,
        DebugCommand::AdmissionLoad(a) => crate::commands::serve::admission_load(a).await,
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
                    Ok((image, d)) => term_println!("{image} {d}"),
                    Err(e) => {
                        failed += 1;
                        term_eprintln!("error: {e:#}");
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
