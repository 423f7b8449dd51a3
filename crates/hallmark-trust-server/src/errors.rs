//! Notary's error codes (`server/errors/errors.go`) in the registry errcode JSON shape:
//! `{"errors":[{"code":"..","message":"..","detail":..}]}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hallmark_tuf::server::ValidationError;
use serde_json::Value;

/// A Notary (or registry auth) error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code {
    /// `NO_STORAGE`, 500.
    NoStorage,
    /// `NO_FILENAME`, 400.
    NoFilename,
    /// `INVALID_ROLE`, 400.
    InvalidRole,
    /// `MALFORMED_JSON`, 400.
    MalformedJson,
    /// `UPDATING`, 500.
    Updating,
    /// `VERSION`, 400.
    Version,
    /// `METADATA_NOT_FOUND`, 404.
    MetadataNotFound,
    /// `INVALID_UPDATE`, 400.
    InvalidUpdate,
    /// `MALFORMED_UPLOAD`, 400.
    MalformedUpload,
    /// `GENERIC_NOT_FOUND`, 404.
    GenericNotFound,
    /// `INVALID_GUN`, 400.
    InvalidGun,
    /// `INVALID_PARAMETERS`, 400.
    InvalidParameters,
    /// `UNAUTHORIZED`, 401 (docker/distribution errcode).
    Unauthorized,
    /// `DENIED`, 403 (docker/distribution errcode).
    Denied,
    /// `SIZE_INVALID`-like: the request body is too large, 413.
    TooLarge,
    /// `TOOMANYREQUESTS`, 429 (docker/distribution errcode).
    TooManyRequests,
    /// `UNAVAILABLE`, 503 (docker/distribution errcode): the server is busy; answered with
    /// `Retry-After`.
    Unavailable,
    /// `TIMEOUT`, 408: the request body did not arrive in time.
    BodyTimeout,
    /// `UNKNOWN`, 500.
    Unknown,
}

impl Code {
    /// The code string, message and HTTP status Notary uses.
    pub fn describe(self) -> (&'static str, &'static str, StatusCode) {
        match self {
            Code::NoStorage => (
                "NO_STORAGE",
                "The server is misconfigured and has no storage.",
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            Code::NoFilename => (
                "NO_FILENAME",
                "No file/role name provided.",
                StatusCode::BAD_REQUEST,
            ),
            Code::InvalidRole => (
                "INVALID_ROLE",
                "The role you are attempting to operate on is invalid.",
                StatusCode::BAD_REQUEST,
            ),
            Code::MalformedJson => (
                "MALFORMED_JSON",
                "JSON sent by the client could not be parsed by the server",
                StatusCode::BAD_REQUEST,
            ),
            Code::Updating => (
                "UPDATING",
                "An error has occurred while updating the TUF repository.",
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            Code::Version => (
                "VERSION",
                "A newer version of metadata is already available.",
                StatusCode::BAD_REQUEST,
            ),
            Code::MetadataNotFound => (
                "METADATA_NOT_FOUND",
                "You have requested metadata that does not exist.",
                StatusCode::NOT_FOUND,
            ),
            Code::InvalidUpdate => (
                "INVALID_UPDATE",
                "Update sent by the client is invalid.",
                StatusCode::BAD_REQUEST,
            ),
            Code::MalformedUpload => (
                "MALFORMED_UPLOAD",
                "The body of your request is malformed.",
                StatusCode::BAD_REQUEST,
            ),
            Code::GenericNotFound => (
                "GENERIC_NOT_FOUND",
                "You have requested a resource that does not exist.",
                StatusCode::NOT_FOUND,
            ),
            Code::InvalidGun => (
                "INVALID_GUN",
                "The server does not support actions on images of this name.",
                StatusCode::BAD_REQUEST,
            ),
            Code::InvalidParameters => (
                "INVALID_PARAMETERS",
                "The parameters provided are not valid.",
                StatusCode::BAD_REQUEST,
            ),
            Code::Unauthorized => (
                "UNAUTHORIZED",
                "authentication required",
                StatusCode::UNAUTHORIZED,
            ),
            Code::Denied => (
                "DENIED",
                "requested access to the resource is denied",
                StatusCode::FORBIDDEN,
            ),
            Code::TooLarge => (
                "SIZE_INVALID",
                "The request body is larger than the server accepts.",
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            Code::Unavailable => (
                "UNAVAILABLE",
                "service unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            Code::BodyTimeout => (
                "TIMEOUT",
                "the request body did not arrive in time",
                StatusCode::REQUEST_TIMEOUT,
            ),
            Code::TooManyRequests => (
                "TOOMANYREQUESTS",
                "too many requests",
                StatusCode::TOO_MANY_REQUESTS,
            ),
            Code::Unknown => (
                "UNKNOWN",
                "unknown error",
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        }
    }
}

/// An error answer: a code, its detail, and optionally a `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq)]
pub struct NotaryError {
    /// The code.
    pub code: Code,
    /// The `detail` as JSON text, written as it is (so object members keep notary-server's
    /// order); `None` leaves `detail` out, as Go's `omitempty` does for a nil detail.
    pub detail: Option<String>,
    /// A `WWW-Authenticate` header value (401 answers).
    pub challenge: Option<String>,
}

impl NotaryError {
    /// An error with a detail (JSON `null` leaves it out).
    pub fn new(code: Code, detail: Value) -> Self {
        Self {
            code,
            detail: (!detail.is_null()).then(|| detail.to_string()),
            challenge: None,
        }
    }

    /// An error whose detail is already JSON text.
    pub fn raw(code: Code, detail_json: String) -> Self {
        Self {
            code,
            detail: Some(detail_json),
            challenge: None,
        }
    }

    /// An error without detail.
    pub fn bare(code: Code) -> Self {
        Self {
            code,
            detail: None,
            challenge: None,
        }
    }

    /// The JSON body, members in notary-server's order (`code`, `message`, `detail`).
    pub fn body(&self) -> String {
        let (code, message, _) = self.code.describe();
        let detail = self
            .detail
            .as_deref()
            .map(|d| format!(",\"detail\":{d}"))
            .unwrap_or_default();
        format!(
            "{{\"errors\":[{{\"code\":{},\"message\":{}{detail}}}]}}",
            Value::String(code.to_string()),
            Value::String(message.to_string())
        )
    }
}

/// Notary's answer to a refused update: `INVALID_UPDATE` with notary-server's serialized
/// validation error as detail (`{"Name":"ErrBadRoot","Error":{"Msg":..}}`), or `VERSION`.
impl From<ValidationError> for NotaryError {
    fn from(e: ValidationError) -> Self {
        let text = |m: &str| Value::String(m.to_string()).to_string();
        let msg = |m: &str| format!("{{\"Msg\":{}}}", text(m));
        let (name, error) = match &e {
            ValidationError::BadRoot(m) => ("ErrBadRoot", msg(m)),
            ValidationError::BadTargets(m) => ("ErrBadTargets", msg(m)),
            ValidationError::BadSnapshot(m) => ("ErrBadSnapshot", msg(m)),
            ValidationError::BadHierarchy { missing, msg } => (
                "ErrBadHierarchy",
                format!("{{\"Missing\":{},\"Msg\":{}}}", text(missing), text(msg)),
            ),
            ValidationError::Validation(m) => ("ErrValidation", msg(m)),
            ValidationError::OldVersion { .. } => {
                // notary-server's detail is its empty `ErrOldVersion` struct.
                return NotaryError::raw(Code::Version, "{}".to_string());
            }
            other => ("ErrValidation", msg(&other.to_string())),
        };
        NotaryError::raw(
            Code::InvalidUpdate,
            format!("{{\"Name\":\"{name}\",\"Error\":{error}}}"),
        )
    }
}

impl std::fmt::Display for NotaryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (code, message, _) = self.code.describe();
        write!(
            f,
            "{code}: {message} {}",
            self.detail.as_deref().unwrap_or("")
        )
    }
}

impl IntoResponse for NotaryError {
    fn into_response(self) -> Response {
        let status = self.code.describe().2;
        let mut response = (status, self.body()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Some(c) = self
            .challenge
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, c);
        }
        if matches!(self.code, Code::Unavailable | Code::TooManyRequests) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}
