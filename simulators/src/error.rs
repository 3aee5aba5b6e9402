//! The one place where a simulator error becomes an HTTP answer.
//!
//! State machines return [`SimError`], which names an abstract [`ErrorKind`]
//! (not a status), a stable snake_case code, a message and the request field at
//! fault. [`IntoResponse`] maps the kind to the status codes of API.md and
//! renders `{"error": {"code", "message", "field"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use omnisim_api::{ErrorBody, ErrorDetail};

/// What kind of failure, independent of HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed: bad JSON, a missing or mistyped field (400).
    Malformed,
    /// No or wrong API key (401).
    Unauthorized,
    /// A payment was declined (402).
    Declined,
    /// An unknown id (404).
    NotFound,
    /// The method is not served on this path (405).
    MethodNotAllowed,
    /// The request conflicts with the current state (409).
    Conflict,
    /// The body is over the size limit (413).
    TooLarge,
    /// The request is well formed but not meaningful (422).
    Invalid,
    /// The rate limit was hit (429).
    RateLimited,
    /// An injected server fault (503).
    Unavailable,
    /// An injected timeout: the request was applied, the answer withheld (504).
    Timeout,
}

impl ErrorKind {
    /// The HTTP status for this kind.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::Malformed => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Declined => StatusCode::PAYMENT_REQUIRED,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// A failed request, as every simulator reports it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SimError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// Stable snake_case code (`out_of_stock`, `amount_too_large`, …).
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// The request field at fault, as a dotted path.
    pub field: Option<String>,
    /// Rarely set details, boxed to keep the error small.
    pub extra: Option<Box<ErrorExtra>>,
}

/// Details only some errors carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorExtra {
    /// Declines: the issuer's reason.
    pub decline_code: Option<&'static str>,
    /// Declines: the intent left behind.
    pub payment_intent: Option<String>,
    /// 429: seconds to wait.
    pub retry_after_secs: Option<u64>,
}

impl SimError {
    /// An error of `kind` with `code` and `message`.
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        SimError {
            kind,
            code,
            message: message.into(),
            field: None,
            extra: None,
        }
    }

    /// Names the request field at fault.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 400 with `code`.
    pub fn malformed(code: &'static str, message: impl Into<String>) -> Self {
        SimError::new(ErrorKind::Malformed, code, message)
    }

    /// 404 `resource_missing` (or a more specific code).
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        SimError::new(ErrorKind::NotFound, code, message)
    }

    /// 409 with `code`.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        SimError::new(ErrorKind::Conflict, code, message)
    }

    /// 422 with `code`.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        SimError::new(ErrorKind::Invalid, code, message)
    }

    /// 402 `card_declined` with a decline code.
    pub fn declined(decline_code: &'static str, message: impl Into<String>) -> Self {
        let mut e = SimError::new(ErrorKind::Declined, "card_declined", message);
        e.extra_mut().decline_code = Some(decline_code);
        e
    }

    /// The rarely set details, created on first use.
    pub fn extra_mut(&mut self) -> &mut ErrorExtra {
        self.extra.get_or_insert_with(Default::default)
    }

    /// Names the payment intent a decline left behind.
    pub fn with_payment_intent(mut self, id: impl Into<String>) -> Self {
        self.extra_mut().payment_intent = Some(id.into());
        self
    }

    /// Sets `Retry-After` (429).
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.extra_mut().retry_after_secs = Some(secs);
        self
    }

    /// 422 `parameter_invalid` naming `field`: a value outside its domain.
    pub fn bad_value(field: impl Into<String>, message: impl Into<String>) -> Self {
        SimError::invalid("parameter_invalid", message).field(field)
    }

    /// 413 `body_too_large`: a body over [`crate::extract::BODY_LIMIT_BYTES`].
    pub fn body_too_large() -> Self {
        SimError::new(
            ErrorKind::TooLarge,
            "body_too_large",
            format!(
                "the body is over the {} byte limit",
                crate::extract::BODY_LIMIT_BYTES
            ),
        )
    }

    /// 404 for an unknown location named by `field`.
    pub fn unknown_location(field: impl Into<String>, id: &str) -> Self {
        SimError::not_found("unknown_location", format!("no location `{id}`")).field(field)
    }

    /// The wire body for this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
                field: self.field.clone(),
                decline_code: self
                    .extra
                    .as_ref()
                    .and_then(|x| x.decline_code)
                    .map(str::to_owned),
                payment_intent: self.extra.as_ref().and_then(|x| x.payment_intent.clone()),
            },
        }
    }
}

/// Codes the platforms' state machines give an unknown record, which the
/// native wire names alike on every simulator (see [`SimError::native`]).
const UNKNOWN_RECORD_CODES: &[&str] = &[
    "unknown_order",
    "unknown_sale",
    "unknown_return",
    "unknown_pickup",
    "unknown_customer",
    "unknown_promotion",
];

impl SimError {
    /// This error as the native wire states it. The same mistake reads the
    /// same on the three simulators: an unknown order, sale, return, pickup,
    /// customer, promotion, payment intent or refund is 404 `resource_missing`, naming the field
    /// that held the id (`id` for the one in the path). Dialects render the
    /// error themselves, from the state machine's own code.
    pub fn native(mut self) -> Self {
        if self.kind == ErrorKind::NotFound && UNKNOWN_RECORD_CODES.contains(&self.code) {
            self.code = "resource_missing";
            if self.field.is_none() {
                self.field = Some("id".to_owned());
            }
        }
        self
    }
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let e = self.native();
        let mut response = (e.kind.status(), Json(e.body())).into_response();
        if let Some(secs) = e.extra.as_ref().and_then(|x| x.retry_after_secs) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Result alias for simulator operations.
pub type SimResult<T> = Result<T, SimError>;
