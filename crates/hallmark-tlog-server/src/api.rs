//! The HTTP API: Rekor v1's subset (`/api/v1/log...`), the C2SP tlog-tiles resources
//! (`/checkpoint`, `/tile/...`), JSON errors shaped as Rekor's.

use crate::entry;
use crate::error::ApiError;
use crate::log::{Appended, EntryView, LogCore};
use crate::storage::Storage;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_tlog::Hash;
use hallmark_tlog::tiles::{TilePath, encode_entry_bundle, parse_tile_path};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Largest request body accepted (413 above).
pub const MAX_BODY: usize = 128 * 1024;
/// Most items per list in `POST /api/v1/log/entries/retrieve` (as Rekor's openapi).
pub const MAX_RETRIEVE: usize = 10;
/// Cache-Control of full tiles and entry bundles.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache-Control of partial tiles.
pub const PARTIAL: &str = "public, max-age=60";
/// Cache-Control of the checkpoint.
pub const CHECKPOINT_CACHE: &str = "public, max-age=1";

type Core<S> = State<Arc<LogCore<S>>>;

/// The router over a log.
pub fn router<S: Storage>(core: Arc<LogCore<S>>, request_timeout: Duration) -> Router {
    Router::new()
        .route("/api/v1/log", get(log_info::<S>))
        .route("/api/v1/log/publicKey", get(public_key::<S>))
        .route("/api/v1/log/proof", get(consistency::<S>))
        .route(
            "/api/v1/log/entries",
            post(create_entry::<S>).get(entry_by_index::<S>),
        )
        .route("/api/v1/log/entries/retrieve", post(retrieve::<S>))
        .route("/api/v1/log/entries/{uuid}", get(entry_by_uuid::<S>))
        .route("/checkpoint", get(checkpoint::<S>))
        .route("/checkpoint/latest", get(latest_checkpoint::<S>))
        .route("/tile/{*path}", get(tile::<S>))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            timeout(req, next, request_timeout)
        }))
        .with_state(core)
}

async fn timeout(req: Request, next: Next, limit: Duration) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "request timed out").into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such resource")
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// The Rekor `LogEntry` map `{entryID: LogEntryAnon}` of an entry. Its SET is signed here, as
/// Rekor v1 signs one each time it serves an entry (entries stored by earlier versions keep the
/// SET stored with them): the sequencer's critical path signs only the checkpoint.
pub fn log_entry_json<S: Storage>(
    core: &LogCore<S>,
    view: &EntryView,
) -> Result<(String, Value), ApiError> {
    let e = &view.entry;
    let signed;
    let set = if e.set.is_empty() {
        signed = core
            .key()
            .sign_set(&e.body, e.integrated_time, e.index)
            .map_err(|err| ApiError::internal_error("signing the SET", &err))?;
        &signed
    } else {
        &e.set
    };
    let uuid = e.leaf_hash.to_hex();
    let entry_id = format!("{:016x}{uuid}", core.tree_id());
    let cp = &view.checkpoint;
    let anon = json!({
        "body": STANDARD.encode(&e.body),
        "integratedTime": e.integrated_time,
        "logID": core.key().log_id(),
        "logIndex": e.index,
        "verification": {
            "signedEntryTimestamp": STANDARD.encode(set),
            "inclusionProof": {
                "logIndex": e.index,
                "rootHash": cp.root.to_hex(),
                "treeSize": cp.size,
                "hashes": view.proof.iter().map(Hash::to_hex).collect::<Vec<_>>(),
                "checkpoint": cp.note,
            }
        }
    });
    let mut map = serde_json::Map::new();
    map.insert(entry_id.clone(), anon);
    Ok((entry_id, Value::Object(map)))
}

async fn create_entry<S: Storage>(
    State(core): Core<S>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|r| {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!("the request body is larger than {MAX_BODY} bytes"),
            )
        } else {
            ApiError::new(status, r.body_text())
        }
    })?;
    let valid = entry::validate(&body)?;
    let appended = core.append(valid.leaf_hash, valid.body).await?;
    let (status, view) = match &appended {
        Appended::Created(v) => (StatusCode::CREATED, v),
        Appended::Existing(v) => (StatusCode::CONFLICT, v),
    };
    let (entry_id, json) = log_entry_json(&core, view)?;
    let mut response = json_response(status, &json);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/log/entries/{entry_id}")) {
        headers.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&view.entry.leaf_hash.to_hex()) {
        headers.insert(header::ETAG, v);
    }
    Ok(response)
}

/// `name=value` pairs of a query string (values here are numbers: no percent-decoding).
fn query_param<'a>(query: &'a Option<String>, name: &str) -> Option<&'a str> {
    query
        .as_deref()?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn parse_u64(value: &str, name: &str) -> Result<u64, ApiError> {
    value.parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!(
            "{name} must be a non-negative integer, found {:?}",
            value.chars().take(40).collect::<String>()
        ))
    })
}

async fn entry_by_index<S: Storage>(
    State(core): Core<S>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let index = query_param(&query, "logIndex")
        .ok_or_else(|| ApiError::bad_request("expected the logIndex query parameter"))?;
    let index = parse_u64(index, "logIndex")?;
    let view = core
        .view_index(index)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no entry at log index {index}")))?;
    Ok(json_response(
        StatusCode::OK,
        &log_entry_json(&core, &view)?.1,
    ))
}

/// The leaf hash named by a 64-hex UUID or an 80-hex entry ID of this tree.
fn parse_uuid<S: Storage>(core: &LogCore<S>, s: &str) -> Result<Hash, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "invalid entry UUID {:?}: expected 64 hex digits or an 80-hex entry ID",
            s.chars().take(100).collect::<String>()
        ))
    };
    let s_lower = s.to_ascii_lowercase();
    let uuid = match s_lower.len() {
        64 => s_lower.as_str(),
        80 => {
            let (tree, uuid) = s_lower.split_at(16);
            if u64::from_str_radix(tree, 16).map_err(|_| bad())? != core.tree_id() {
                return Err(ApiError::not_found(format!(
                    "entry ID {s} is for another tree"
                )));
            }
            uuid
        }
        _ => return Err(bad()),
    };
    Hash::from_hex(uuid).map_err(|_| bad())
}

async fn entry_by_uuid<S: Storage>(
    State(core): Core<S>,
    Path(uuid): Path<String>,
) -> Result<Response, ApiError> {
    let leaf = parse_uuid(&core, &uuid)?;
    let entry = core
        .storage
        .entry_by_leaf_hash(&leaf)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no entry with UUID {}", leaf.to_hex())))?;
    let view = core.view(entry).await?;
    Ok(json_response(
        StatusCode::OK,
        &log_entry_json(&core, &view)?.1,
    ))
}

fn list<'a>(body: &'a Value, name: &str) -> Result<&'a [Value], ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) if items.len() <= MAX_RETRIEVE => Ok(items),
        Some(Value::Array(_)) => Err(ApiError::bad_request(format!(
            "{name}: at most {MAX_RETRIEVE} items"
        ))),
        Some(_) => Err(ApiError::bad_request(format!("{name}: expected an array"))),
    }
}

async fn retrieve<S: Storage>(
    State(core): Core<S>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|r| ApiError::new(r.status(), r.body_text()))?;
    let request: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("request body is not JSON: {e}")))?;
    if !request.is_object() {
        return Err(ApiError::bad_request("expected a JSON object"));
    }
    let mut leaves: Vec<Hash> = Vec::new();
    for u in list(&request, "entryUUIDs")? {
        let s = u
            .as_str()
            .ok_or_else(|| ApiError::bad_request("entryUUIDs: expected strings"))?;
        leaves.push(parse_uuid(&core, s)?);
    }
    for e in list(&request, "entries")? {
        leaves.push(entry::proposed_leaf_hash(e.to_string().as_bytes())?);
    }
    let mut indexes = Vec::new();
    for i in list(&request, "logIndexes")? {
        indexes.push(
            i.as_u64().ok_or_else(|| {
                ApiError::bad_request("logIndexes: expected non-negative integers")
            })?,
        );
    }
    let mut out = Vec::new();
    for leaf in leaves {
        if let Some(e) = core.storage.entry_by_leaf_hash(&leaf).await? {
            out.push(log_entry_json(&core, &core.view(e).await?)?.1);
        }
    }
    for index in indexes {
        if let Some(v) = core.view_index(index).await? {
            out.push(log_entry_json(&core, &v)?.1);
        }
    }
    Ok(json_response(StatusCode::OK, &Value::Array(out)))
}

async fn log_info<S: Storage>(State(core): Core<S>) -> Result<Response, ApiError> {
    let cp = core.current().await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "rootHash": cp.root.to_hex(),
            "treeSize": cp.size,
            "signedTreeHead": cp.note,
            "treeID": core.tree_id().to_string(),
        }),
    ))
}

async fn public_key<S: Storage>(State(core): Core<S>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        core.key().public_key().to_pem(),
    )
        .into_response()
}

async fn consistency<S: Storage>(
    State(core): Core<S>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let first = match query_param(&query, "firstSize") {
        Some(v) => parse_u64(v, "firstSize")?,
        None => 1,
    };
    let last = query_param(&query, "lastSize")
        .ok_or_else(|| ApiError::bad_request("expected the lastSize query parameter"))?;
    let last = parse_u64(last, "lastSize")?;
    if first < 1 || first > last {
        return Err(ApiError::bad_request(format!(
            "expected 1 <= firstSize <= lastSize, found firstSize {first}, lastSize {last}"
        )));
    }
    let cp = core.current().await?;
    if last > cp.size {
        return Err(ApiError::bad_request(format!(
            "lastSize {last} is beyond the tree size {}",
            cp.size
        )));
    }
    let (proof, root) = core.consistency_proof(first, last).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "rootHash": root.to_hex(),
            "hashes": proof.iter().map(Hash::to_hex).collect::<Vec<_>>(),
        }),
    ))
}

/// The checkpoint: with a witness policy, the newest one whose cosignatures satisfy its quorum
/// (with them); else the newest.
async fn checkpoint<S: Storage>(State(core): Core<S>) -> Result<Response, ApiError> {
    let cp = match &core.witnessing {
        Some(w) => w.cosigned().ok_or_else(|| {
            ApiError::unavailable(format!(
                "no checkpoint is cosigned as the witness policy requires yet ({}); the newest is at /checkpoint/latest",
                w.policy().describe()
            ))
        })?,
        None => core.current().await?,
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, CHECKPOINT_CACHE),
        ],
        cp.note.clone(),
    )
        .into_response())
}

/// The newest checkpoint, cosigned or not (for witnesses and monitors).
async fn latest_checkpoint<S: Storage>(State(core): Core<S>) -> Result<Response, ApiError> {
    let cp = core.current().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, CHECKPOINT_CACHE),
        ],
        cp.note.clone(),
    )
        .into_response())
}

async fn tile<S: Storage>(
    State(core): Core<S>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let full_path = format!("tile/{path}");
    let parsed = parse_tile_path(&full_path).map_err(|e| ApiError::not_found(e.to_string()))?;
    let size = core.current().await?.size;
    let (tile, data) = match parsed {
        TilePath::Hashes(tile) => {
            let shift = u32::from(tile.level()) * hallmark_tlog::tiles::TILE_HEIGHT;
            let at_level = size.checked_shr(shift).unwrap_or(0);
            let end = tile
                .index()
                .checked_mul(256)
                .and_then(|b| b.checked_add(u64::from(tile.width())));
            if end.is_none_or(|e| e > at_level) {
                return Err(ApiError::not_found(format!(
                    "{full_path} is not in the tree of size {size}"
                )));
            }
            let indexes: Vec<u64> = tile
                .hash_indexes()
                .map_err(|e| ApiError::not_found(e.to_string()))?
                .iter()
                .map(|i| i.get())
                .collect();
            let hashes = core.storage.read_hashes(&indexes).await?;
            let data: Vec<u8> = hashes.iter().flat_map(|h| h.0).collect();
            (tile, data)
        }
        TilePath::Entries(tile) => {
            let start = tile.index().checked_mul(256);
            let end = start.and_then(|s| s.checked_add(u64::from(tile.width())));
            let (Some(start), Some(end)) = (start, end) else {
                return Err(ApiError::not_found("no such entry bundle"));
            };
            if end > size {
                return Err(ApiError::not_found(format!(
                    "{full_path} is not in the tree of size {size}"
                )));
            }
            let bodies = core.storage.entry_bodies(start, end).await?;
            let data = encode_entry_bundle(&bodies)
                .map_err(|e| ApiError::internal_error("entry bundle", &e))?;
            (tile, data)
        }
        _ => return Err(ApiError::not_found("no such tile")),
    };
    let cache = if tile.is_full() { IMMUTABLE } else { PARTIAL };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, cache),
        ],
        data,
    )
        .into_response())
}
