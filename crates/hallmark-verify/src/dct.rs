//! The Docker Content Trust collector: the repository's trust data from each server a rule
//! names, verified by [`hallmark_trust_client`] (root trust, thresholds, expiry, rollback,
//! delegations; the trust directory's cache is replaced only after verification), reduced to
//! what `docker trust inspect` shows: every released tag, its digest and the signers (docker's
//! names: a delegation `targets/alice` is `alice`; a tag released only by the repository key
//! is signed by `targets`).

use hallmark_core::RegistryRef;
use hallmark_policy::evidence::{DctEvidence, DctTarget};
use hallmark_trust_client::{ClientConfig, TrustError};
use hallmark_tuf::inspect;

/// The trust data of `r` on each of `servers` (`None`: the configured or default server).
pub async fn collect(
    config: &ClientConfig,
    r: &RegistryRef,
    servers: &[Option<String>],
) -> Vec<DctEvidence> {
    let lookups = servers.iter().map(|server| async move {
        DctEvidence {
            server: server.clone(),
            result: signed_tags(config, r, server.as_deref())
                .await
                .map_err(|e| hallmark_core::error::chain(&e)),
        }
    });
    futures::future::join_all(lookups).await
}

/// Every released tag of `r` with its digest and signers.
pub async fn signed_tags(
    config: &ClientConfig,
    r: &RegistryRef,
    server: Option<&str>,
) -> Result<Vec<DctTarget>, TrustError> {
    let repo = config.open_on(r, server)?;
    let Some(data) = repo.update(time::OffsetDateTime::now_utc()).await? else {
        return Err(TrustError::NotInitialised {
            gun: repo.gun.clone(),
            server: repo.remote.url().to_owned(),
        });
    };
    let info = inspect::trust_info(&data.verified, &repo.gun, None);
    Ok(info
        .signed_tags
        .into_iter()
        .map(|t| DctTarget {
            tag: t.signed_tag,
            digest: format!("sha256:{}", t.digest),
            signers: t
                .signers
                .into_iter()
                .map(|s| {
                    if s == inspect::REPO_ADMIN {
                        "targets".to_owned()
                    } else {
                        s
                    }
                })
                .collect(),
        })
        .collect())
}
