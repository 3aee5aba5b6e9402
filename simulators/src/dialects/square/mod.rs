//! The Square dialect: Square's `/v2` API (JSON, money as
//! `{amount, currency}` in minor units, quantities as decimal strings,
//! `idempotency_key` in the body, Square's error shape) over the POS
//! simulator's state machine, with payments through the gateway as the
//! native POS takes them.
//!
//! It is served on the POS's own listener: its paths start with
//! [`PATH_PREFIX`], which the native API never uses. Auth is
//! `Authorization: Bearer <access token>`.

//!
//! - `book.rs`: what the dialect keeps in the POS state (catalog object
//!   ids and versions, orders, payments, refunds);
//! - `pricing.rs`: the POS's promotions as PRICING_RULE, DISCOUNT and
//!   PRODUCT_SET catalog objects;
//! - `wire.rs`: Square's objects rendered from the POS state;
//! - `routes.rs`: the handlers; every change is a call into `pos/state.rs`,
//!   and payments go through the gateway as the native POS takes them;
//! - `gift_cards.rs`: Square's Gift Cards API, read-only, over the
//!   gateway's cards (balances and activities read from the gateway);
//! - `events.rs`: canonical POS events as Square webhook events.
//!
//! Every answer carries the `Square-Version` the client sent (or
//! [`API_VERSION`]).

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use omnisim_api::pay::PayClient;

use crate::core::Simulator;
use crate::error::{ErrorKind, SimError};
use crate::pos::PosState;

pub mod book;
mod customers;
mod events;
mod gift_cards;
mod pricing;
mod routes;
mod wire;

pub use book::Book;
pub use events::TYPES as EVENT_TYPES;

/// Every Square path starts with this.
pub const PATH_PREFIX: &str = "/v2/";

/// The `Square-Version` answered when a request names none: squareup
/// 46.0.0.20260916's.
pub const API_VERSION: &str = "2026-09-16";

/// The Square code of a shared-layer or state-machine error: Square codes
/// (upper case) pass through; omnisim's own map to Square's.
fn square_code(error: &SimError) -> (&'static str, &'static str) {
    if error
        .code
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b == b'_')
    {
        let category = match error.kind {
            ErrorKind::Declined => "PAYMENT_METHOD_ERROR",
            ErrorKind::Unavailable | ErrorKind::Timeout => "API_ERROR",
            _ => "INVALID_REQUEST_ERROR",
        };
        return (category, error.code);
    }
    match error.kind {
        ErrorKind::Unauthorized => ("AUTHENTICATION_ERROR", "UNAUTHORIZED"),
        ErrorKind::RateLimited => ("RATE_LIMIT_ERROR", "RATE_LIMITED"),
        ErrorKind::Unavailable => ("API_ERROR", "SERVICE_UNAVAILABLE"),
        ErrorKind::Timeout => ("API_ERROR", "GATEWAY_TIMEOUT"),
        ErrorKind::NotFound => ("INVALID_REQUEST_ERROR", "NOT_FOUND"),
        ErrorKind::TooLarge => ("INVALID_REQUEST_ERROR", "BAD_REQUEST"),
        ErrorKind::Declined => ("PAYMENT_METHOD_ERROR", "GENERIC_DECLINE"),
        ErrorKind::MethodNotAllowed => ("INVALID_REQUEST_ERROR", "UNSUPPORTED_METHOD"),
        _ if error.code == "idempotency_error" => {
            ("INVALID_REQUEST_ERROR", "IDEMPOTENCY_KEY_REUSED")
        }
        _ if error.code == "parameter_invalid" => ("INVALID_REQUEST_ERROR", "INVALID_VALUE"),
        _ if error.code == "parameter_missing" => {
            ("INVALID_REQUEST_ERROR", "MISSING_REQUIRED_PARAMETER")
        }
        _ => ("INVALID_REQUEST_ERROR", "BAD_REQUEST"),
    }
}

/// A shared-layer error in Square's shape:
/// `{"errors": [{"category", "code", "detail", "field"}]}`.
pub fn error_response(_path: &str, error: SimError) -> Response {
    let (category, code) = square_code(&error);
    let mut entry = serde_json::json!({
        "category": category,
        "code": code,
        "detail": error.message,
    });
    if let Some(field) = error.field.as_ref().filter(|f| !f.is_empty()) {
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

/// The Square routes over the POS simulator, with its state applied and no
/// middleware (the POS router merges them before its own middleware stack),
/// each answer carrying the `Square-Version` asked for.
pub fn routes(sim: Arc<Simulator<PosState>>, pay: PayClient) -> Router {
    routes::routes(Arc::new(routes::Dialect { sim, pay })).layer(axum::middleware::from_fn(
        |req: axum::extract::Request, next: axum::middleware::Next| async move {
            let version = req
                .headers()
                .get("square-version")
                .cloned()
                .unwrap_or(HeaderValue::from_static(API_VERSION));
            let mut response = next.run(req).await;
            response.headers_mut().insert("square-version", version);
            response
        },
    ))
}

/// Renders a canonical POS event as the Square webhook events a
/// subscription made through the dialect receives.
pub fn render(state: &PosState, event: &omnisim_api::Event) -> Vec<super::Rendered> {
    events::render(state, event)
}
