//! "Was my key used?": every entry of the log, filtered by signer key.
//!
//! The scan reads the whole log up to a verified checkpoint, by C2SP entry bundles
//! (`/tile/entries/...`, 256 entries a request) or, for logs without tiles, entry by entry
//! (`/api/v1/log/entries?logIndex=N`). The leaf hashes of what was read are hashed into a tree
//! whose root must be the checkpoint's: the log cannot leave an entry out of the scan.
//! `hashedrekord` 0.0.1 entries whose `publicKey` is a PEM public key with the same DER
//! SubjectPublicKeyInfo as the key searched for are reported (entries logged with a
//! certificate are not matched).

use crate::{ClientError, LogKey, TlogClient, VerifiedCheckpoint, monitor::current_checkpoint};
use hallmark_core::PublicKey;
use hallmark_tlog::{
    Frontier, leaf_hash,
    rekor::HashedRekord,
    tiles::{FULL_WIDTH, Tile, parse_entry_bundle},
};

/// One entry made with the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// Index of the entry in the log.
    pub log_index: u64,
    /// Entry UUID (hex leaf hash).
    pub uuid: String,
    /// The artifact digest the entry records (`sha256:<hex>`).
    pub digest: String,
    /// The signature (base64) the entry records.
    pub signature: String,
    /// When the log integrated it (Unix seconds), from the entry API.
    pub integrated_time: Option<i64>,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchReport {
    /// The checkpoint the log was scanned up to.
    pub checkpoint: VerifiedCheckpoint,
    /// How the entries were read: `"tiles"` or `"entries"`.
    pub method: &'static str,
    /// The matching entries, in log order.
    pub hits: Vec<SearchHit>,
}

/// Whether the PEM in an entry is a public key with `key`'s DER SubjectPublicKeyInfo.
fn same_key(signer_pem: &[u8], key: &PublicKey) -> bool {
    std::str::from_utf8(signer_pem)
        .ok()
        .and_then(|text| PublicKey::from_pem(text, "entry key").ok())
        .is_some_and(|k| k.spki_der() == key.spki_der())
}

async fn read_by_tiles(
    client: &TlogClient,
    size: u64,
) -> Result<Option<Vec<Vec<u8>>>, ClientError> {
    let full = u64::from(FULL_WIDTH);
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut index = 0;
    while index * full < size {
        let width = (size - index * full).min(full);
        let tile = Tile::new(0, index, width as u16).map_err(|e| ClientError::BadResponse {
            reason: e.to_string(),
        })?;
        let data = match client.entry_bundle(&tile).await? {
            Some(d) => d,
            // The partial bundle may be gone once the full one exists.
            None if !tile.is_full() => match client.entry_bundle(&tile.to_full()).await? {
                Some(d) => d,
                None if index == 0 => return Ok(None),
                None => {
                    return Err(ClientError::BadResponse {
                        reason: format!("entry bundle {} is missing", tile.entries_path()),
                    });
                }
            },
            None if index == 0 => return Ok(None),
            None => {
                return Err(ClientError::BadResponse {
                    reason: format!("entry bundle {} is missing", tile.entries_path()),
                });
            }
        };
        let entries = parse_entry_bundle(&data).map_err(|e| ClientError::BadResponse {
            reason: format!("{}: {e}", tile.entries_path()),
        })?;
        if (entries.len() as u64) < width {
            return Err(ClientError::BadResponse {
                reason: format!(
                    "{}: {} entries, expected at least {width}",
                    tile.entries_path(),
                    entries.len()
                ),
            });
        }
        out.extend(entries.iter().take(width as usize).map(|e| e.to_vec()));
        index += 1;
    }
    Ok(Some(out))
}

async fn read_by_index(client: &TlogClient, size: u64) -> Result<Vec<Vec<u8>>, ClientError> {
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut next = 0;
    while next < size {
        let batch: Vec<u64> = (next..size.min(next + 16)).collect();
        let fetched =
            futures::future::try_join_all(batch.iter().map(|&i| client.entry_by_index(i))).await?;
        for (i, e) in batch.iter().zip(fetched) {
            if e.log_index != *i as i64 {
                return Err(ClientError::BadResponse {
                    reason: format!(
                        "asked for entry {i}, the log returned entry {}",
                        e.log_index
                    ),
                });
            }
            out.push(e.body);
        }
        next += batch.len() as u64;
    }
    Ok(out)
}

/// Scan the whole log (up to its current checkpoint, verified with `log_key`) for entries
/// made with `key`.
pub async fn search_key(
    client: &TlogClient,
    log_key: &LogKey,
    key: &PublicKey,
) -> Result<SearchReport, ClientError> {
    let checkpoint = current_checkpoint(client, log_key).await?;
    let size = checkpoint.checkpoint.size();
    let (method, entries) = match read_by_tiles(client, size).await? {
        Some(e) => ("tiles", e),
        None => ("entries", read_by_index(client, size).await?),
    };
    let mut frontier = Frontier::new();
    let mut scratch = Vec::new();
    let mut hits = Vec::new();
    for (i, body) in entries.iter().enumerate() {
        scratch.clear();
        frontier
            .append(leaf_hash(body), &mut scratch)
            .map_err(|e| ClientError::BadResponse {
                reason: hallmark_core::error::chain(&e),
            })?;
        let Ok(rekord) = HashedRekord::parse(body) else {
            continue;
        };
        if same_key(&rekord.signer_pem, key) {
            hits.push(SearchHit {
                log_index: i as u64,
                uuid: leaf_hash(body).to_hex(),
                digest: rekord.digest.to_string(),
                signature: base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    &rekord.signature,
                ),
                integrated_time: None,
            });
        }
    }
    if frontier.root() != *checkpoint.checkpoint.root() {
        return Err(ClientError::BadResponse {
            reason: format!(
                "the {} entries read hash to root {}, but the checkpoint for size {size} has root {}: the log served an incomplete or altered list",
                entries.len(),
                frontier.root().to_hex(),
                checkpoint.checkpoint.root().to_hex()
            ),
        });
    }
    for hit in &mut hits {
        if let Ok(e) = client.entry_by_index(hit.log_index).await
            && e.body == entries[hit.log_index as usize]
        {
            hit.integrated_time = Some(e.integrated_time);
        }
    }
    Ok(SearchReport {
        checkpoint,
        method,
        hits,
    })
}
