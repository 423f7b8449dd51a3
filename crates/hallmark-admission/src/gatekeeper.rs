//! Gatekeeper's external-data provider API, `externaldata.gatekeeper.sh/v1beta1`: a
//! `ProviderRequest` carries keys (image references), the `ProviderResponse` one item per key.

use serde::Deserialize;
use serde_json::{Value, json};

/// The API version both messages carry.
pub const API_VERSION: &str = "externaldata.gatekeeper.sh/v1beta1";

/// Most keys one request may carry.
pub const MAX_KEYS: usize = 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderRequest {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    request: Option<RequestBody>,
}

#[derive(Debug, Deserialize)]
struct RequestBody {
    #[serde(default)]
    keys: Vec<String>,
}

/// A `ProviderRequest` that cannot be answered key by key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderRequestError {
    /// Not JSON of the expected shape.
    #[error("expected a ProviderRequest (JSON with request.keys), found {0}")]
    Malformed(String),
    /// Another API version or kind.
    #[error(
        "expected apiVersion {API_VERSION} and kind ProviderRequest, found {api_version:?} and {kind:?}"
    )]
    NotARequest {
        /// Found.
        api_version: String,
        /// Found.
        kind: String,
    },
    /// Too many keys.
    #[error("expected at most {MAX_KEYS} keys in one ProviderRequest, found {0}")]
    TooManyKeys(usize),
}

/// The keys of a `ProviderRequest`.
pub fn parse_request(body: &[u8]) -> Result<Vec<String>, ProviderRequestError> {
    let r: ProviderRequest =
        serde_json::from_slice(body).map_err(|e| ProviderRequestError::Malformed(e.to_string()))?;
    if r.api_version != API_VERSION || r.kind != "ProviderRequest" {
        return Err(ProviderRequestError::NotARequest {
            api_version: r.api_version,
            kind: r.kind,
        });
    }
    let keys = r
        .request
        .ok_or_else(|| ProviderRequestError::Malformed("no request".into()))?
        .keys;
    if keys.len() > MAX_KEYS {
        return Err(ProviderRequestError::TooManyKeys(keys.len()));
    }
    Ok(keys)
}

/// One answered key: `value` is the verified digest when the image is allowed, `error` the
/// reason when it is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The key as sent.
    pub key: String,
    /// The verified digest (allowed), or `denied`.
    pub value: String,
    /// Why the image is denied or could not be decided (empty when allowed).
    pub error: String,
}

/// The `ProviderResponse` with `items`, or with `systemError` set when the whole request failed.
pub fn response(items: &[Item], system_error: Option<&str>) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|i| json!({"key": i.key, "value": i.value, "error": i.error}))
        .collect();
    json!({
        "apiVersion": API_VERSION,
        "kind": "ProviderResponse",
        "response": {
            "idempotent": true,
            "items": items,
            "systemError": system_error.unwrap_or(""),
        }
    })
}
