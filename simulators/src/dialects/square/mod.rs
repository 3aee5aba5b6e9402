//! The Square dialect: Square's `/v2` API (JSON, money as
//! `{amount, currency}` in minor units, quantities as decimal strings,
//! `idempotency_key` in the body, Square's error shape) over the POS
//! simulator's state machine, with payments through the gateway as the
//! native POS takes them.
//!
//! It is served on the POS's own listener: its paths start with
//! [`PATH_PREFIX`], which the native API never uses. Auth is
//! `Authorization: Bearer <access token>`.

use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};
use omnisim_api::pay::PayClient;

use crate::core::Simulator;
use crate::error::{ErrorKind, SimError};
use crate::pos::PosState;

/// Every Square path starts with this.
pub const PATH_PREFIX: &str = "/v2/";

/// A shared-layer error in Square's shape:
/// `{"errors": [{"category", "code", "detail", "field"}]}`.
pub fn error_response(_path: &str, error: SimError) -> Response {
    let (category, code) = match error.kind {
        ErrorKind::Unauthorized => ("AUTHENTICATION_ERROR", "UNAUTHORIZED"),
        ErrorKind::RateLimited => ("RATE_LIMIT_ERROR", "RATE_LIMITED"),
        ErrorKind::Unavailable => ("API_ERROR", "SERVICE_UNAVAILABLE"),
        ErrorKind::Timeout => ("API_ERROR", "GATEWAY_TIMEOUT"),
        ErrorKind::NotFound => ("INVALID_REQUEST_ERROR", "NOT_FOUND"),
        ErrorKind::TooLarge => ("INVALID_REQUEST_ERROR", "BAD_REQUEST"),
        ErrorKind::Declined => ("PAYMENT_METHOD_ERROR", "GENERIC_DECLINE"),
        _ if error.code == "idempotency_error" => {
            ("INVALID_REQUEST_ERROR", "IDEMPOTENCY_KEY_REUSED")
        }
        _ => ("INVALID_REQUEST_ERROR", "BAD_REQUEST"),
    };
    let mut entry = serde_json::json!({
        "category": category,
        "code": code,
        "detail": error.message,
    });
    if let Some(field) = &error.field {
        entry["field"] = field.clone().into();
    }
    let status = match error.kind {
        ErrorKind::Invalid | ErrorKind::Conflict => axum::http::StatusCode::BAD_REQUEST,
        other => other.status(),
    };
    let mut response =
        (status, axum::Json(serde_json::json!({ "errors": [entry] }))).into_response();
    if let Some(secs) = error.extra.as_deref().and_then(|x| x.retry_after_secs) {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, secs.into());
    }
    response
}

/// The Square routes over the POS simulator (none yet), with its state
/// applied and no middleware: the POS router merges them before its own
/// middleware stack.
pub fn routes(_sim: Arc<Simulator<PosState>>, _pay: PayClient) -> Router {
    Router::new()
}

/// Renders a canonical POS event as Square webhook events (none yet).
pub fn render(_state: &PosState, _event: &omnisim_api::Event) -> Vec<super::Rendered> {
    Vec::new()
}
