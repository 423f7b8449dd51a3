//! Where `hallmark pull` writes an allowed image, and the copy itself: by the digest that was
//! verified, with its signatures, attestations and referrers.

use crate::context::{Context, parse_image};
use anyhow::{Result, bail};
use hallmark_core::{ImageRef, RegistryRef};
use hallmark_oci::{docker_archive::write_docker_archive, manifest::Platform};
use hallmark_verify::Verified;
use std::path::PathBuf;

/// A pull destination.
#[derive(Debug, Clone)]
pub(crate) enum Destination {
    /// `oci:DIR`: an OCI image layout (created if missing); each image keeps its tag.
    Layout(PathBuf),
    /// `registry/repo`: each image keeps its tag in this repository.
    Registry(RegistryRef),
    /// `docker-archive:FILE`, with the platform taken from an index (default: this machine's).
    DockerArchive(PathBuf, Option<Platform>),
}

impl Destination {
    pub(crate) fn parse(s: &str, images: usize, platform: Option<&str>) -> Result<Self> {
        if let Some(file) = s.strip_prefix("docker-archive:") {
            if file.is_empty() {
                bail!("--to {s}: expected docker-archive:FILE, found no file name");
            }
            if images != 1 {
                bail!("--to {s}: a docker archive holds one image here, found {images} images");
            }
            let platform = platform.map(parse_platform).transpose()?;
            return Ok(Destination::DockerArchive(PathBuf::from(file), platform));
        }
        if let Some(p) = platform {
            bail!(
                "--platform {p}: expected only with --to docker-archive:FILE (other destinations keep the whole index)"
            );
        }
        match parse_image(s)? {
            ImageRef::Layout {
                path,
                tag: None,
                digest: None,
            } => Ok(Destination::Layout(path)),
            ImageRef::Layout { .. } => bail!(
                "--to {s}: expected oci:DIR, found a tag or digest (each image keeps its own tag)"
            ),
            ImageRef::Registry(r) if r.tag.is_none() && r.digest.is_none() => {
                Ok(Destination::Registry(r))
            }
            ImageRef::Registry(_) => bail!(
                "--to {s}: expected a repository (registry/repo), found a tag or digest (each image keeps its own tag)"
            ),
        }
    }
}

/// Copy the verified image to `dest`; returns where it was written.
pub(crate) async fn copy_verified(
    ctx: &Context,
    image: &ImageRef,
    verified: &Verified,
    dest: &Destination,
) -> Result<String> {
    let digest = &verified.manifest.digest;
    // The source pinned to the digest that was decided on: no second read of the tag.
    let pinned = match image {
        ImageRef::Registry(r) => ImageRef::Registry(r.with_digest(digest.clone())),
        ImageRef::Layout { path, .. } => {
            bail!(
                "{}: expected a registry image to pull, found an OCI layout (use hallmark copy)",
                path.display()
            )
        }
    };
    let tag = image.tag().unwrap_or("latest").to_owned();
    let (dst, written) = match dest {
        Destination::Layout(dir) => (
            ImageRef::Layout {
                path: dir.clone(),
                tag: Some(tag.clone()),
                digest: None,
            },
            format!("oci:{}:{tag}", dir.display()),
        ),
        Destination::Registry(r) => {
            let t = r.with_tag(&tag);
            let w = t.to_string();
            (ImageRef::Registry(t), w)
        }
        Destination::DockerArchive(file, platform) => {
            // The manifest that was decided on, streamed blob by blob into the archive; docker
            // names the loaded image by the repository and tag that were asked for.
            let ImageRef::Registry(r) = image else {
                unreachable!("layouts are refused above")
            };
            let repo_tag = format!("{}/{}:{tag}", r.registry, r.repository);
            let store = ctx.store(&pinned, false)?;
            let report = write_docker_archive(
                &store,
                &verified.manifest,
                &repo_tag,
                file,
                platform.as_ref(),
            )
            .await?;
            return Ok(format!(
                "docker-archive:{} as {} (image ID {})",
                file.display(),
                report.repo_tag,
                report.config
            ));
        }
    };
    let src_store = ctx.store(&pinned, false)?;
    ctx.copy_into(&src_store, &pinned, &dst, Some(&tag)).await?;
    Ok(written)
}

/// `os/arch[/variant]`.
pub(crate) fn parse_platform(s: &str) -> Result<Platform> {
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
