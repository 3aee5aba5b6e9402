//! The Stripe dialect: Stripe's `/v1` API (form-encoded requests, integer
//! minor units, `object` and unix `created` on every object, list envelopes,
//! Stripe's error shape) over the pay simulator's state machine.
//!
//! It is served by a router of its own ([`router`]), since Stripe's paths
//! collide with the native gateway's `/v1/…`. Any `sk_test_…` key is
//! accepted, as Bearer or Basic auth; a `sk_live_…` key is refused.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::{Presented, Refusal, Wire, WireRule};
use crate::core::Simulator;
use crate::error::{ErrorKind, SimError};
use crate::pay::PayState;

/// The credential in Stripe's styles: `Authorization: Bearer sk_test_…`, or
/// Basic auth with the key as the user name and an empty password.
pub fn credential(headers: &HeaderMap) -> Presented<'_> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Presented::Missing;
    };
    let Ok(value) = value.to_str() else {
        return Presented::Malformed;
    };
    if let Some(key) = value.strip_prefix("Bearer ") {
        return Presented::Key(Cow::Borrowed(key.trim()));
    }
    if let Some(encoded) = value.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        return match decoded {
            Some(pair) => match pair.split_once(':') {
                Some((key, _)) if !key.is_empty() => Presented::Key(Cow::Owned(key.to_owned())),
                _ => Presented::Malformed,
            },
            None => Presented::Malformed,
        };
    }
    Presented::Malformed
}

/// Stripe's test mode accepts any `sk_test_…` secret key and refuses live keys.
pub fn accepts(key: &str) -> Result<(), Refusal> {
    if key.starts_with("sk_test_") && key.len() > "sk_test_".len() {
        Ok(())
    } else if key.starts_with("sk_live_") || key.starts_with("rk_live_") {
        Err(Refusal::Invalid(
            "omnisim is Stripe's test mode: live mode keys (`sk_live_…`) are refused; use a \
             `sk_test_…` key"
                .into(),
        ))
    } else {
        Err(Refusal::Invalid(format!(
            "Invalid API Key provided: {}",
            redact(key)
        )))
    }
}

fn redact(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{}****{tail}", key.chars().take(8).collect::<String>())
}

/// A shared-layer error in Stripe's shape:
/// `{"error": {"type", "code", "message", "param", "decline_code"}}`.
pub fn error_response(_path: &str, error: SimError) -> Response {
    let (status, kind) = match error.kind {
        ErrorKind::Unauthorized => (StatusCode::UNAUTHORIZED, "invalid_request_error"),
        ErrorKind::Declined => (StatusCode::PAYMENT_REQUIRED, "card_error"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "invalid_request_error"),
        ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "invalid_request_error"),
        ErrorKind::Unavailable | ErrorKind::Timeout => (error.kind.status(), "api_error"),
        ErrorKind::Conflict if error.code == "idempotency_key_in_use" => {
            (StatusCode::CONFLICT, "invalid_request_error")
        }
        ErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error"),
        _ if error.code == "idempotency_error" => (StatusCode::BAD_REQUEST, "idempotency_error"),
        _ => (StatusCode::BAD_REQUEST, "invalid_request_error"),
    };
    let code = match error.code {
        "rate_limited" => "rate_limit",
        "unauthorized" => "api_key_invalid",
        other => other,
    };
    let extra = error.extra.as_deref();
    let mut body = serde_json::json!({
        "error": {
            "type": kind,
            "code": code,
            "message": error.message,
            "param": error.field,
        }
    });
    if let Some(d) = extra.and_then(|x| x.decline_code) {
        body["error"]["decline_code"] = d.into();
    }
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(secs) = extra.and_then(|x| x.retry_after_secs) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, secs.into());
    }
    response
}

/// The Stripe dialect's router over `sim`, with the shared middleware in
/// front (Stripe's auth styles and error shape).
pub fn router(sim: Arc<Simulator<PayState>>) -> Router {
    let core = Arc::clone(&sim.core);
    let routes = Router::new().fallback(|uri: axum::http::Uri| async move {
        let path = uri.path().to_owned();
        Wire::Stripe.error_response(
            &path,
            SimError::not_found(
                "resource_missing",
                format!("Unrecognized request URL (GET: {path})."),
            ),
        )
    });
    crate::shared::layered(core, WireRule::Fixed(Wire::Stripe), routes)
}

/// Renders a canonical pay event as Stripe events (none yet).
pub fn render(_state: &PayState, _event: &omnisim_api::Event) -> Vec<super::Rendered> {
    Vec::new()
}
