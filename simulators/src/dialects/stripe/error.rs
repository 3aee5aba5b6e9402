//! Stripe's error shape and statuses: `{"error": {"type", "code", "message",
//! "param", "decline_code", "payment_intent", …}}`, with the statuses that
//! make the official clients raise their own classes (`CardError` 402,
//! `InvalidRequestError` 400/404, `IdempotencyError` 400 with type
//! `idempotency_error`, `AuthenticationError` 401, `RateLimitError` 429,
//! `APIError` 5xx). 409 is only for an idempotency key in flight; a state
//! conflict is 400 `payment_intent_unexpected_state`, stored for replay like
//! any request that executed. `Stripe-Should-Retry` tells the clients which
//! failures are safe to retry: the ones where nothing was applied (429,
//! injected 503) or whose answer a retry replays (504, 409).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::{ErrorKind, SimError};
use crate::idempotency::Executed;

/// One Stripe error answer.
#[derive(Clone, Debug)]
pub struct StripeError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `error` object.
    pub error: Value,
    /// The request executed (a state conflict): stored for idempotent replay.
    pub executed: bool,
    /// `Retry-After`, for 429.
    pub retry_after_secs: Option<u64>,
}

/// Result alias of the dialect's handlers.
pub type StripeResult<T> = Result<T, StripeError>;

impl StripeError {
    /// 400 `invalid_request_error` with `code`, `message` and `param`.
    pub fn invalid(code: &str, message: impl Into<String>, param: Option<&str>) -> Self {
        StripeError {
            status: StatusCode::BAD_REQUEST,
            error: json!({
                "type": "invalid_request_error",
                "code": code,
                "message": message.into(),
                "param": param,
            }),
            executed: false,
            retry_after_secs: None,
        }
    }

    /// 404 `resource_missing`: "No such payment_intent: 'pi_…'".
    pub fn missing(object: &str, id: &str, param: &str) -> Self {
        let mut e = StripeError::invalid(
            "resource_missing",
            format!("No such {object}: '{id}'"),
            Some(param),
        );
        e.status = StatusCode::NOT_FOUND;
        e
    }

    /// 400 `parameter_missing`.
    pub fn param_missing(param: &str) -> Self {
        StripeError::invalid(
            "parameter_missing",
            format!("Missing required param: {param}."),
            Some(param),
        )
    }

    /// Renames the param the error names.
    pub fn param(mut self, param: &str) -> Self {
        self.error["param"] = param.into();
        self
    }

    /// Sets a field of the `error` object.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.error[key] = value;
        self
    }
}

/// The param Stripe names for a native field.
fn stripe_param(field: &str) -> String {
    match field {
        "reason" => "cancellation_reason".into(),
        f if f.starts_with("payment_method.") => "payment_method".into(),
        f if f.starts_with("metadata.") => format!(
            "metadata[{}]",
            f.strip_prefix("metadata.").unwrap_or_default()
        ),
        f => f.replace('.', "[").to_owned() + &"]".repeat(f.matches('.').count()),
    }
}

/// The Stripe error code of a decline code: a few declines have their own
/// error code, the rest are `card_declined`.
pub fn decline_error_code(decline_code: &str) -> &'static str {
    match decline_code {
        "expired_card" => "expired_card",
        "incorrect_cvc" => "incorrect_cvc",
        "processing_error" => "processing_error",
        "incorrect_number" => "incorrect_number",
        "authentication_required" => "authentication_required",
        _ => "card_declined",
    }
}

impl From<SimError> for StripeError {
    fn from(e: SimError) -> Self {
        let extra = e.extra.as_deref();
        let (status, kind) = match e.kind {
            ErrorKind::Unauthorized => (StatusCode::UNAUTHORIZED, "invalid_request_error"),
            ErrorKind::Declined => (StatusCode::PAYMENT_REQUIRED, "card_error"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "invalid_request_error"),
            ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "invalid_request_error"),
            ErrorKind::Unavailable | ErrorKind::Timeout => (e.kind.status(), "api_error"),
            ErrorKind::Conflict if e.code == "idempotency_key_in_use" => {
                (StatusCode::CONFLICT, "invalid_request_error")
            }
            ErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error"),
            ErrorKind::MethodNotAllowed => (StatusCode::NOT_FOUND, "invalid_request_error"),
            _ if e.code == "idempotency_error" => (StatusCode::BAD_REQUEST, "idempotency_error"),
            _ => (StatusCode::BAD_REQUEST, "invalid_request_error"),
        };
        let decline = extra.and_then(|x| x.decline_code);
        let code = match (e.code, decline) {
            ("card_declined", Some(d)) => decline_error_code(d),
            ("rate_limited", _) => "rate_limit",
            ("unauthorized", _) => "api_key_invalid",
            ("not_found" | "method_not_allowed", _) => "resource_missing",
            (other, _) => other,
        };
        let param = match e.field.as_deref() {
            Some("Authorization" | "Idempotency-Key") | None => None,
            Some(f) => Some(stripe_param(f)),
        };
        let mut error = json!({
            "type": kind,
            "code": code,
            "message": e.message,
            "param": param,
        });
        if let Some(d) = decline {
            error["decline_code"] = d.into();
        }
        if e.kind == ErrorKind::Unauthorized {
            // Stripe's 401 names no param.
            error["param"] = Value::Null;
        }
        StripeError {
            status,
            error,
            executed: e.kind == ErrorKind::Conflict && e.code != "idempotency_key_in_use",
            retry_after_secs: extra.and_then(|x| x.retry_after_secs),
        }
    }
}

impl IntoResponse for StripeError {
    fn into_response(self) -> Response {
        let retry = match self.status.as_u16() {
            409 | 429 | 500.. => "true",
            _ => "false",
        };
        let mut response =
            (self.status, axum::Json(json!({ "error": self.error }))).into_response();
        let headers = response.headers_mut();
        headers.insert("stripe-should-retry", HeaderValue::from_static(retry));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, secs.into());
        }
        if self.executed {
            response.extensions_mut().insert(Executed);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_follow_stripe_names() {
        assert_eq!(stripe_param("reason"), "cancellation_reason");
        assert_eq!(stripe_param("payment_method.number"), "payment_method");
        assert_eq!(stripe_param("metadata.order"), "metadata[order]");
        assert_eq!(stripe_param("amount"), "amount");
    }

    #[test]
    fn conflicts_are_400_and_stored_declines_402() {
        let e = StripeError::from(SimError::conflict("payment_intent_unexpected_state", "x"));
        assert_eq!((e.status, e.executed), (StatusCode::BAD_REQUEST, true));
        let e = StripeError::from(SimError::declined("expired_card", "Your card has expired."));
        assert_eq!(e.status, StatusCode::PAYMENT_REQUIRED);
        assert_eq!(e.error["code"], "expired_card");
        assert_eq!(e.error["type"], "card_error");
        let e = StripeError::from(SimError::invalid("idempotency_error", "x"));
        assert_eq!(
            (e.status, e.error["type"].as_str()),
            (StatusCode::BAD_REQUEST, Some("idempotency_error"))
        );
    }
}
