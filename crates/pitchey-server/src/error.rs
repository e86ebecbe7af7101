//! The one error type of the HTTP layer. Every failure reaches the client as
//! `{"success":false,"error":{"code","message"}}` with a status from contract §0.4; internal details are
//! logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pitchey_core::ValidationError;
use pitchey_store::StoreError;
use serde_json::json;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human message, safe to show.
    pub message: String,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// Any status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    /// 400 BAD_REQUEST.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    /// 400 VALIDATION_ERROR.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    /// 401 UNAUTHORIZED ("Authentication required").
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Authentication required")
    }

    /// 401 INVALID_CREDENTIALS.
    pub fn invalid_credentials() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS", "Invalid credentials")
    }

    /// 403 FORBIDDEN.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    /// 404 NOT_FOUND.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// 409 with a specific code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 429 with `Retry-After`: the sign-in limit's answer, in the contract's words (§0.7; sign-up shares it).
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "Too many login attempts. Please try again later.",
            )
        }
    }

    /// 503 TIMEOUT for a write that ran past the request deadline and goes on running: it may or may not
    /// take effect, so no `Retry-After` invites a blind retry.
    pub fn outcome_unknown() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "TIMEOUT",
            "The request took too long to answer. It may still take effect: check before sending it again.",
        )
    }

    /// 503 SERVICE_UNAVAILABLE with `Retry-After`.
    pub fn unavailable(retry_after_secs: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "The service is temporarily unavailable. Please retry shortly.",
            )
        }
    }

    /// 500 INTERNAL_ERROR; `detail` is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "Internal server error")
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::validation(e.0)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("Not found"),
            StoreError::Conflict(_) => ApiError::conflict("ALREADY_EXISTS", "Resource already exists"),
            StoreError::ForeignKey => ApiError::validation("A referenced record does not exist"),
            StoreError::Check => ApiError::validation("A value is out of range"),
            StoreError::InvalidValue(why) => ApiError::validation(format!("A value cannot be stored: {why}")),
            StoreError::Unavailable(_) | StoreError::PoolTimeout | StoreError::Timeout => ApiError::unavailable(5),
            StoreError::CircuitOpen(wait) => ApiError::unavailable(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)),
            // Rolled back whole: the client may simply send it again. (The store has logged it.)
            StoreError::Contention(_) => ApiError::unavailable(1),
            StoreError::Internal(detail) => ApiError::internal(detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "success": false,
            "error": { "code": self.code, "message": self.message },
        });
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

impl pitchey_cache::Outage for ApiError {
    fn is_outage(&self) -> bool {
        self.status == StatusCode::SERVICE_UNAVAILABLE
    }
}
