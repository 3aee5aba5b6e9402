//! Dialects: the real platforms' wire formats over the same state machines,
//! so that a connector built on the official Stripe, Shopify or Square client
//! runs here unchanged but for its base URL.
//!
//! A dialect is a translation and nothing else. It owns routes,
//! (de)serialisation, id mapping and event rendering; every transition is a
//! call into the platform's existing state machine (`pay/state.rs`,
//! `shop/state.rs`, `pos/state.rs`), so a write through a dialect is seen by
//! the native API, the change feed, the engine and every checker, and the
//! reverse. A state the real platform has and the model lacks goes into the
//! state machine, where the native API can use it too.
//!
//! - [`Wire`] names the wire a request speaks. The shared middleware
//!   ([`crate::layers::stack`]) reads the credential in that wire's own
//!   header ([`Wire::credential`]), accepts it by that wire's rules
//!   ([`Wire::accepts`]) and renders its own refusals (401, 429, injected
//!   5xx and timeouts, idempotency conflicts) in that wire's error shape
//!   ([`Wire::error_response`]). Auth, faults, partitions, rate limits,
//!   idempotency and the event log are therefore the same for every wire.
//! - Events are stored once, in canonical form. A webhook subscription made
//!   through a dialect remembers its [`Wire`]; each committed event is
//!   rendered for it by [`crate::core::Platform::render`] into that
//!   dialect's envelope, event names and extra headers ([`Rendered`]), and
//!   signed with the platform's scheme as today.
//! - [`Credentials`] are the tokens a connector presents on each dialect,
//!   derived from the one API key so that `omnisim serve` can print them.
//!
//! Where each is served: Shopify's `/admin/api/{version}/…` and Square's
//! `/v2/…` do not collide with the native `/v1/…`, so they live on the shop
//! and POS listeners. Stripe's `/v1/…` does collide with the native gateway,
//! so the Stripe dialect has a router of its own
//! ([`crate::Simulators::stripe_router`]) over the same pay simulator, bound
//! to its own port by `omnisim serve` and mounted as its own host in process.

use std::borrow::Cow;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::core::Core;
use crate::error::SimError;

pub mod gift_card_ledger;
pub mod shopify;
pub mod square;
pub mod stripe;

/// The wire format a request speaks, or a subscription receives.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Wire {
    /// omnisim's own JSON (API.md): the canonical API.
    #[default]
    Native,
    /// Stripe's `/v1` API, over the pay simulator.
    Stripe,
    /// Shopify's Admin API (GraphQL and the REST subset), over the shop.
    Shopify,
    /// Square's `/v2` API, over the POS.
    Square,
}

/// Every wire, in a fixed order.
pub const WIRES: [Wire; 4] = [Wire::Native, Wire::Stripe, Wire::Shopify, Wire::Square];

/// Where a router's requests get their [`Wire`]: one fixed wire (the Stripe
/// router), or by path on a listener that serves the native API beside a
/// dialect (shop with Shopify's `/admin/`, POS with Square's `/v2/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireRule {
    /// Every request speaks this wire.
    Fixed(Wire),
    /// By path, on the listener of this platform (`pos`, `shop` or `pay`).
    ByPath(&'static str),
}

impl WireRule {
    /// The wire of a request to `path`.
    pub fn wire(self, path: &str) -> Wire {
        match self {
            WireRule::Fixed(wire) => wire,
            WireRule::ByPath("shop") if path.starts_with(shopify::PATH_PREFIX) => Wire::Shopify,
            WireRule::ByPath("pos") if path.starts_with(square::PATH_PREFIX) => Wire::Square,
            WireRule::ByPath(_) => Wire::Native,
        }
    }
}

/// A credential as a request presents it, before it is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presented<'a> {
    /// No credential in this wire's header.
    Missing,
    /// A header that does not parse in this wire's style.
    Malformed,
    /// The credential.
    Key(Cow<'a, str>),
}

/// Why a credential is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No credential at all.
    Missing,
    /// A credential this wire does not accept; the message says why.
    Invalid(String),
}

impl Wire {
    /// The name used in `omnisim serve --json` and in the docs.
    pub fn name(self) -> &'static str {
        match self {
            Wire::Native => "native",
            Wire::Stripe => "stripe",
            Wire::Shopify => "shopify",
            Wire::Square => "square",
        }
    }

    /// The credential a request presents, read from this wire's own header:
    /// `Authorization: Bearer` (native, Square), Bearer or Basic (Stripe),
    /// `X-Shopify-Access-Token` (Shopify).
    pub fn credential(self, headers: &HeaderMap) -> Presented<'_> {
        match self {
            Wire::Native | Wire::Square => bearer(headers),
            Wire::Stripe => stripe::credential(headers),
            Wire::Shopify => shopify::credential(headers),
        }
    }

    /// Whether `key` may call this wire on `core`. The harness's actor keys
    /// and the platforms' own keys are accepted on every wire.
    pub fn accepts(self, core: &Core, key: &str) -> Result<(), Refusal> {
        if core.accepts_key(key) {
            return Ok(());
        }
        let credentials = Credentials::for_api_key(&core.api_key);
        match self {
            Wire::Native => Err(Refusal::Invalid("the API key is not valid".into())),
            Wire::Stripe => stripe::accepts(key),
            Wire::Shopify if key == credentials.shopify_access_token => Ok(()),
            Wire::Shopify => Err(Refusal::Invalid(
                "[API] Invalid API key or access token (unrecognized login or wrong password)"
                    .into(),
            )),
            Wire::Square if key == credentials.square_access_token => Ok(()),
            Wire::Square => Err(Refusal::Invalid(
                "This request could not be authorized.".into(),
            )),
        }
    }

    /// Renders an error of the shared layers (auth, rate limit, injected
    /// faults, idempotency, body limit, unknown path) in this wire's shape,
    /// for a request to `path`.
    pub fn error_response(self, path: &str, error: SimError) -> Response {
        match self {
            Wire::Native => error.into_response(),
            Wire::Stripe => stripe::error_response(path, error),
            Wire::Shopify => shopify::error_response(path, error),
            Wire::Square => square::error_response(path, error),
        }
    }

    /// True when this wire takes an idempotency key in the `Idempotency-Key`
    /// header (native and Stripe). Square carries it in the body and
    /// Shopify in a GraphQL directive: their handlers use
    /// [`crate::idempotency::keyed`] themselves.
    pub fn header_idempotency(self) -> bool {
        matches!(self, Wire::Native | Wire::Stripe)
    }
}

fn bearer(headers: &HeaderMap) -> Presented<'_> {
    match headers.get(axum::http::header::AUTHORIZATION) {
        None => Presented::Missing,
        Some(v) => match v.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) {
            Some(key) => Presented::Key(Cow::Borrowed(key.trim())),
            None => Presented::Malformed,
        },
    }
}

/// The tokens a connector presents on each dialect, derived from the one API
/// key (`omnisim serve --api-key`), so they can be printed and passed on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Credentials {
    /// Stripe's secret key (any `sk_test_…` key is accepted; this is the one printed).
    pub stripe_api_key: String,
    /// Shopify's Admin API access token.
    pub shopify_access_token: String,
    /// Square's access token.
    pub square_access_token: String,
}

impl Credentials {
    /// The dialect credentials for `api_key`.
    pub fn for_api_key(api_key: &str) -> Self {
        Credentials {
            stripe_api_key: format!("sk_test_{api_key}"),
            shopify_access_token: format!("shpat_{api_key}"),
            square_access_token: format!("EAAA{api_key}"),
        }
    }
}

/// One committed event as one wire delivers it: the body, the topic the
/// subscription matches on and the receiver sees, a delivery-independent id
/// (the same on every retry), and headers besides the signature.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// The event id in this wire (`evt_…` for Stripe, a webhook id for Shopify).
    pub id: String,
    /// The topic or event type in this wire's names.
    pub topic: String,
    /// The raw JSON body.
    pub body: Bytes,
    /// Headers to send besides the content type and the signature.
    pub headers: Vec<(&'static str, String)>,
}

impl Rendered {
    /// The native rendering: the event object itself, under its own type.
    pub fn native(event: &omnisim_api::Event) -> Self {
        Rendered {
            id: event.id.clone(),
            topic: event.kind.clone(),
            body: Bytes::from(serde_json::to_vec(event).unwrap_or_default()),
            headers: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_by_path() {
        assert_eq!(
            WireRule::ByPath("shop").wire("/admin/api/2026-01/graphql.json"),
            Wire::Shopify
        );
        assert_eq!(
            WireRule::ByPath("shop").wire("/v1/inventory/adjust"),
            Wire::Native
        );
        assert_eq!(WireRule::ByPath("pos").wire("/v2/locations"), Wire::Square);
        assert_eq!(WireRule::ByPath("pay").wire("/v2/locations"), Wire::Native);
        assert_eq!(
            WireRule::Fixed(Wire::Stripe).wire("/v1/payment_intents"),
            Wire::Stripe
        );
    }

    #[test]
    fn credentials_follow_the_api_key() {
        let c = Credentials::for_api_key("test_key");
        assert_eq!(c.stripe_api_key, "sk_test_test_key");
        assert_eq!(c.shopify_access_token, "shpat_test_key");
        assert_eq!(c.square_access_token, "EAAAtest_key");
    }
}
