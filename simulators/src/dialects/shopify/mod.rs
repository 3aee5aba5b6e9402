//! The Shopify dialect: the Admin API (GraphQL at
//! `/admin/api/{version}/graphql.json`, and the legacy REST subset at
//! `/admin/api/{version}/*.json`) over the shop simulator's state machine.
//!
//! It is served on the shop's own listener: its paths start with
//! [`PATH_PREFIX`], which the native API never uses. Auth is Shopify's
//! `X-Shopify-Access-Token` header.
//!
//! - `graphql.rs`: the Admin GraphQL schema (`async-graphql`) and its
//!   resolvers; every write is a call into `shop/state.rs`.
//! - `customers.rs`: customers over the shop's customer profiles (the
//!   GraphQL object, queries and mutations; the translation REST shares).
//! - `discounts.rs`: automatic basic discounts over the shop's automatic
//!   promotions (the GraphQL objects, queries, mutations, and the discount
//!   webhook body).
//! - `ids.rs`: numeric and `gid://shopify/…` ids from counters.
//! - `wire.rs`: Shopify's REST resources, for webhook bodies (and REST).
//! - `events.rs`: canonical shop events as Shopify webhooks.
//!
//! Any version `YYYY-MM` (or `unstable`) is accepted in the path and served
//! by the one implementation; answers carry `X-Shopify-API-Version` with the
//! version asked for when it is one of [`VERSIONS`], else [`API_VERSION`].

use std::borrow::Cow;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use bytes::Bytes;
use omnisim_api::pay::PayClient;

use super::{Presented, Wire};
use crate::core::Simulator;
use crate::error::{ErrorKind, SimError};
use crate::shop::ShopState;

mod customers;
mod discounts;
mod events;
mod gift_cards;
mod graphql;
mod ids;
mod rest;
mod wire;

pub use graphql::QUANTITY_NAMES;
pub use ids::Ids;

/// The Admin API versions answered as themselves; any other well-formed
/// version is served too, and answered as [`API_VERSION`].
pub const VERSIONS: &[&str] = &[
    "2024-01", "2024-04", "2024-07", "2024-10", "2025-01", "2025-04", "2025-07", "2025-10",
    "2026-01", "2026-04", "unstable",
];

/// The shop's `myshopify.com` domain, as `shop` and webhooks name it.
pub const SHOP_DOMAIN: &str = "omnisim.myshopify.com";

/// The shop's order key (`ord_000012`) of a Shopify order id as a connector
/// holds it: `gid://shopify/Order/12` (GraphQL) or `12` (REST). Another
/// platform's record that names a Shopify order (a Square order's
/// `reference_id`) names the shop's order this way.
pub fn order_key(id: &str) -> Option<String> {
    ids::parse_gid("Order", id).map(|n| format!("ord_{n:06}"))
}

/// The app's client secret that Shopify webhooks of dialect subscriptions
/// are signed with (Shopify signs with the app's secret, not one per
/// subscription): `shpss_<api key>`.
pub fn api_secret(api_key: &str) -> String {
    format!("shpss_{api_key}")
}

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
    if graphql && (error.code == "idempotency_error" || error.code == "idempotency_key_in_use") {
        let code = if error.code == "idempotency_error" {
            "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
        } else {
            "IDEMPOTENCY_CONCURRENT_REQUEST"
        };
        let body = serde_json::json!({
            "errors": [{"message": error.message, "extensions": {"code": code}}],
        });
        return (StatusCode::OK, axum::Json(body)).into_response();
    }
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

/// What the Shopify handlers run on.
struct Dialect {
    shared: Arc<graphql::Shared>,
    schema: graphql::AdminSchema,
}

/// The Shopify routes over the shop simulator, with its state applied and
/// no middleware: the shop router merges them before its own middleware
/// stack.
pub fn routes(sim: Arc<Simulator<ShopState>>, pay: PayClient) -> Router {
    let shared = Arc::new(graphql::Shared { sim, pay });
    let dialect = Arc::new(Dialect {
        schema: graphql::schema(Arc::clone(&shared)),
        shared,
    });
    Router::new()
        .route("/admin/{*rest}", any(dispatch))
        .with_state(dialect)
}

async fn not_found() -> Response {
    rest::not_found()
}

/// Everything under `/admin/`: GraphQL at `api/{version}/graphql.json`, the
/// REST subset at `api/{version}/….json`, 404 otherwise.
async fn dispatch(
    State(d): State<Arc<Dialect>>,
    method: Method,
    Path(tail): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(rest) = tail.strip_prefix("api/") else {
        return not_found().await;
    };
    let Some((version, path)) = rest.split_once('/') else {
        return not_found().await;
    };
    if !valid_version(version) {
        return not_found().await;
    }
    let version = version.to_owned();
    let mut response = if path == "graphql.json" {
        if method != Method::POST {
            return not_found().await;
        }
        graphql_handler(State(Arc::clone(&d)), Path(version.clone()), headers, body).await
    } else {
        let base = rest::base_url(&headers, &version);
        rest::serve(&d.shared, &method, &base, path, uri.query(), &body).await
    };
    if let Ok(v) = HeaderValue::from_str(served_version(&version)) {
        response.headers_mut().insert("x-shopify-api-version", v);
    }
    response
}

fn valid_version(v: &str) -> bool {
    v == "unstable"
        || (v.len() == 7
            && v.as_bytes()[4] == b'-'
            && v[..4].bytes().all(|b| b.is_ascii_digit())
            && v[5..].bytes().all(|b| b.is_ascii_digit()))
}

fn served_version(v: &str) -> &'static str {
    VERSIONS
        .iter()
        .find(|x| **x == v)
        .copied()
        .unwrap_or(API_VERSION)
}

/// The GraphQL request a body carries: JSON `{query, variables,
/// operationName}`, or a bare document under `application/graphql`.
fn graphql_request(headers: &HeaderMap, body: &[u8]) -> Option<async_graphql::Request> {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/graphql"));
    if raw {
        std::str::from_utf8(body)
            .ok()
            .map(async_graphql::Request::new)
    } else {
        serde_json::from_slice(body).ok()
    }
}

/// Whether a body sent to the GraphQL endpoint only reads: the operation it
/// runs is a query (for the read-only fault; a body that does not parse is
/// not a read).
pub fn graphql_reads_only(headers: &HeaderMap, body: &[u8]) -> bool {
    graphql_request(headers, body).is_some_and(|r| graphql::is_query(&r))
}

/// `POST /admin/api/{version}/graphql.json`: a JSON body `{query,
/// variables, operationName}` (or a raw `application/graphql` document). A
/// mutation field with `@idempotent(key:)` runs the whole request under
/// that key: a replay answers the first response and applies nothing.
async fn graphql_handler(
    State(d): State<Arc<Dialect>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !valid_version(&version) {
        return not_found().await;
    }
    let path = format!("/admin/api/{version}/graphql.json");
    let Some(request) = graphql_request(&headers, &body) else {
        return bad_body();
    };
    let key = graphql::idempotency_key(&request);
    let cost = graphql::cost(&request);
    let schema = d.schema.clone();
    let run = async move {
        let mut response = schema.execute(request).await;
        response.extensions.insert("cost".to_owned(), cost);
        (StatusCode::OK, axum::Json(response)).into_response()
    };
    match key {
        Some(key) => {
            let core = &d.shared.sim.core;
            let caller = crate::layers::current_caller()
                .map(|c| c.credential.to_string())
                .unwrap_or_default();
            let fingerprint =
                crate::idempotency::fingerprint(&[b"graphql ", path.as_bytes(), b"\n"], &body);
            crate::idempotency::keyed(core, &caller, key, fingerprint, Wire::Shopify, &path, run)
                .await
        }
        None => run.await,
    }
}

fn bad_body() -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({
            "errors": {"query": "Required parameter missing or invalid"}
        })),
    )
        .into_response()
}

/// Renders a canonical shop event as the Shopify webhooks a subscription
/// made through the dialect receives.
pub fn render(state: &ShopState, event: &omnisim_api::Event) -> Vec<super::Rendered> {
    events::render(state, event)
}
