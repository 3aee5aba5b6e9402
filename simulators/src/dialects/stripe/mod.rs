//! The Stripe dialect: Stripe's `/v1` API (form-encoded requests, integer
//! minor units, `object` and unix `created` on every object, list envelopes,
//! Stripe's error shape) over the pay simulator's state machine, so that the
//! official clients (`stripe-python`, `stripe-node`, …) run unchanged with
//! only their API key and base URL set.
//!
//! It is served by a router of its own ([`router`]), since Stripe's paths
//! collide with the native gateway's `/v1/…`. Any `sk_test_…` key is
//! accepted, as Bearer or Basic auth; a `sk_live_…` key is refused.
//!
//! - `form.rs`: Stripe's nested form keys, for bodies and queries.
//! - `wire.rs`: Stripe's objects rendered from the canonical ones.
//! - `routes.rs`: the handlers; every change is a call into `pay/state.rs`.
//! - `events.rs`: canonical pay events as Stripe events, for webhook
//!   endpoints and `GET /v1/events`.
//! - `error.rs`: Stripe's error shape, statuses and `Stripe-Should-Retry`.
//!
//! Every answer carries a `Request-Id` (`req_…`, from a counter) and the
//! `Stripe-Version` the client asked for (or [`API_VERSION`]); a replayed
//! idempotent answer carries `Idempotent-Replayed: true`.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Router;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::{Presented, Refusal, Wire, WireRule};
use crate::core::Simulator;
use crate::error::SimError;
use crate::pay::PayState;

mod error;
mod events;
mod form;
mod routes;
mod wire;

pub use error::StripeError;
pub use events::TYPES as EVENT_TYPES;

/// The API version the dialect speaks: stripe-python 16.1.0's.
pub const API_VERSION: &str = "2026-10-28.endive";

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

/// A shared-layer error (auth, rate limit, injected faults, idempotency,
/// body limit, unknown path) in Stripe's shape and status.
pub fn error_response(_path: &str, error: SimError) -> Response {
    StripeError::from(error).into_response()
}

/// The Stripe dialect's router over `sim`, with the shared middleware in
/// front (Stripe's auth styles and error shape), and outermost the headers
/// Stripe puts on every answer: `Request-Id` and `Stripe-Version`.
pub fn router(sim: Arc<Simulator<PayState>>) -> Router {
    let core = Arc::clone(&sim.core);
    let routes = routes::routes(Arc::new(routes::Dialect::new(sim))).fallback(
        |method: axum::http::Method, uri: axum::http::Uri| async move {
            let path = uri.path().to_owned();
            Wire::Stripe.error_response(
                &path,
                SimError::not_found(
                    "resource_missing",
                    format!("Unrecognized request URL ({method}: {path})."),
                ),
            )
        },
    );
    let counter = Arc::new(AtomicU64::new(0));
    crate::shared::layered(core, WireRule::Fixed(Wire::Stripe), routes).layer(
        axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
                async move {
                    let version = req
                        .headers()
                        .get("stripe-version")
                        .cloned()
                        .unwrap_or(HeaderValue::from_static(API_VERSION));
                    let mut response = next.run(req).await;
                    let headers = response.headers_mut();
                    if let Ok(id) = HeaderValue::from_str(&format!("req_{n:014}")) {
                        headers.insert("request-id", id);
                    }
                    headers.insert("stripe-version", version);
                    response
                }
            },
        ),
    )
}

/// Renders a canonical pay event as the Stripe events a webhook endpoint
/// made through the dialect receives.
pub fn render(state: &PayState, event: &omnisim_api::Event) -> Vec<super::Rendered> {
    events::render(state, event)
}
