//! The Shopify dialect: the Admin API (GraphQL at
//! `/admin/api/{version}/graphql.json`, and the legacy REST subset at
//! `/admin/api/{version}/*.json`) over the shop simulator's state machine.
//!
//! It is served on the shop's own listener: its paths start with
//! [`PATH_PREFIX`], which the native API never uses. Auth is Shopify's
//! `X-Shopify-Access-Token` header.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use omnisim_api::pay::PayClient;

use super::Presented;
use crate::core::Simulator;
use crate::error::{ErrorKind, SimError};
use crate::shop::ShopState;

/// The Admin API version this dialect is written to, and prints.
pub const API_VERSION: &str = "2026-01";

/// Every Shopify path starts with this.
pub const PATH_PREFIX: &str = "/admin/";

/// The `X-Shopify-Access-Token` header.
pub fn credential(headers: &HeaderMap) -> Presented<'_> {
    match headers.get("x-shopify-access-token") {
        None => Presented::Missing,
        Some(v) => match v.to_str() {
            Ok(token) => Presented::Key(Cow::Borrowed(token.trim())),
            Err(_) => Presented::Malformed,
        },
    }
}

/// A shared-layer error in Shopify's shape: REST answers `{"errors": "…"}`
/// with the status; GraphQL answers throttling as a 200 with a top-level
/// `THROTTLED` error, as Shopify does, and other errors with their status.
pub fn error_response(path: &str, error: SimError) -> Response {
    let graphql = path.ends_with("/graphql.json");
    if graphql && error.kind == ErrorKind::RateLimited {
        let body = serde_json::json!({
            "errors": [{
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }],
        });
        return (StatusCode::OK, axum::Json(body)).into_response();
    }
    let status = match error.kind {
        ErrorKind::Invalid | ErrorKind::Conflict => StatusCode::UNPROCESSABLE_ENTITY,
        other => other.status(),
    };
    let body = serde_json::json!({ "errors": error.message });
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(secs) = error.extra.as_deref().and_then(|x| x.retry_after_secs) {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, secs.into());
    }
    response
}

/// The Shopify routes over the shop simulator (none yet), with its state
/// applied and no middleware: the shop router merges them before its own
/// middleware stack.
pub fn routes(_sim: Arc<Simulator<ShopState>>, _pay: PayClient) -> Router {
    Router::new()
}

/// Renders a canonical shop event as Shopify webhooks (none yet).
pub fn render(_state: &ShopState, _event: &omnisim_api::Event) -> Vec<super::Rendered> {
    Vec::new()
}
