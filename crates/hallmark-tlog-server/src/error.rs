//! Errors: what the HTTP API answers (Rekor's `{"code": N, "message": "..."}`), and storage
//! failures.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use thiserror::Error;

/// An error answered to an HTTP client, with Rekor's JSON shape `{"code": N, "message": "..."}`.
#[derive(Debug, Clone, Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the client.
    pub message: String,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 503 Service Unavailable (retry later).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// 500 Internal Server Error for a failed operation: the error and its causes are logged
    /// to standard error, not sent.
    pub fn internal_error(context: &str, e: &(dyn std::error::Error + 'static)) -> Self {
        Self::internal(context, hallmark_core::error::chain(e))
    }

    /// 500 Internal Server Error; the detail is logged to standard error, not sent.
    pub fn internal(context: &str, detail: impl std::fmt::Display) -> Self {
        eprintln!("hallmark-tlog-server: {context}: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{context}: internal error"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "code": self.status.as_u16(),
            "message": self.message,
        });
        (self.status, axum::Json(body)).into_response()
    }
}

/// A storage operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The database failed.
    #[error("database")]
    Database(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("database migration")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Another sequencer appended first (the batch's indexes or tree size are taken).
    #[error("the tree grew under this sequencer (another sequencer appended): {0}")]
    Conflict(String),
    /// Stored data is not what the log wrote.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StorageError {
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt(what.into())
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        ApiError::internal_error("storage", &e)
    }
}
