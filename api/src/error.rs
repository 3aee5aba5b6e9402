//! The JSON error body every simulator returns, and the error a client sees.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::transport::TransportError;

/// `{"error": {"code", "message", "field"}}`, returned with every 4xx and 5xx.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error detail.
    pub error: ErrorDetail,
}

/// What went wrong, for machines (`code`, `field`) and people (`message`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, such as `out_of_stock` or `idempotency_error`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// The request field at fault, as a dotted path (`lines[0].sku`), if any.
    pub field: Option<String>,
    /// For declines (402): the test card's decline reason, as Stripe names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    /// For declines: the payment intent left in `requires_payment_method`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent: Option<String>,
}

/// A failed call through a typed client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The platform answered with an error status and a JSON error body.
    #[error("{status} `{}`: {}", body.error.code, body.error.message)]
    Status {
        /// The HTTP status.
        status: u16,
        /// The decoded error body.
        body: Box<ErrorBody>,
        /// `Retry-After` in seconds, when the platform sent one (429).
        retry_after_secs: Option<u64>,
    },
    /// The platform answered with an error status but no JSON error body.
    #[error("{status} without an error body: {text}")]
    UnexpectedStatus {
        /// The HTTP status.
        status: u16,
        /// The body as text, cut to 512 bytes.
        text: String,
    },
    /// The request never got an answer: the outcome is unknown.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The answer was 2xx but its body did not decode.
    #[error("could not decode the response of `{path}`: {source}")]
    Decode {
        /// The request path.
        path: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
}

impl ApiError {
    /// The error code for status errors, such as `out_of_stock`.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Status { body, .. } => Some(&body.error.code),
            _ => None,
        }
    }

    /// The HTTP status, if the platform answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } | ApiError::UnexpectedStatus { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// True when the request may have been applied although no answer came
    /// (a timeout or a dropped connection): history records it as `info`.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, ApiError::Transport(e) if e.outcome_unknown())
    }

    /// True when retrying the same request (same idempotency key) is sensible:
    /// 429, 5xx, and transport failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Status { status, .. } | ApiError::UnexpectedStatus { status, .. } => {
                *status == 429 || *status >= 500
            }
            ApiError::Transport(_) => true,
            ApiError::Decode { .. } => false,
        }
    }
}
