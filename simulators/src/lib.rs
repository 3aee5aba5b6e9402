//! Stateful simulators of the three systems a merchant connects: a point of
//! sale ([`pos`]), an ecommerce platform ([`shop`]) and a payment gateway
//! ([`pay`]), each served as an axum `Router`.
//!
//! Each platform is a plain state machine (`<platform>/state.rs`: no HTTP, time
//! passed in, events returned) wrapped by routes (`<platform>/routes.rs`). What
//! they share is written once:
//! - [`core`]: the [`Simulator`] (state + event log behind one lock) and its
//!   [`Core`] (clock, seeded RNG, faults, rate limits, idempotency, webhooks);
//! - [`error`]: the only place errors become statuses and JSON bodies;
//! - [`extract`]: JSON and query extractors whose rejections name the field;
//! - [`idempotency`], [`layers`] (auth, rate limit, faults), [`webhooks`]
//!   (signed at-least-once delivery), [`events`] (the change feed) and
//!   [`shared`] (feed, subscriptions, locations, control, OpenAPI), with
//!   [`event_docs`] describing every event type's payload there.
//!
//! [`dialects`] serve the real platforms' wire formats (Stripe, Shopify,
//! Square) over the same state machines, so unchanged official clients run
//! against them.
//!
//! [`intercept`] lets an unchanged connector reach the dialects at the real
//! hosts (`api.stripe.com`, `*.myshopify.com`, `connect.squareup.com`): an
//! HTTPS proxy with a local CA, and webhook receivers at public names.
//!
//! [`Simulators`] builds all three on one clock; [`serve`] binds them to ports.
//! The harness runs the same routers in process under virtual time. This crate
//! depends on `omnisim-api` only; the engine must never depend on it.
//!
//! # Example
//! ```
//! use std::sync::Arc;
//! use omnisim_api::{Clock, HttpTransport};
//! use omnisim_simulators::{Simulators, SimulatorsConfig};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let sims = Simulators::new(SimulatorsConfig {
//!     clock: Clock::real(),
//!     api_key: "test_key".into(),
//!     seed: 7,
//!     transport: Arc::new(HttpTransport::default()),
//!     pay_url: "http://127.0.0.1:7103".into(),
//!     delay_scale: 60,
//! });
//! let _pos_router = sims.pos_router();
//! # }
//! ```
#![deny(missing_docs)]

pub mod core;
pub mod customers;
pub mod dialects;
pub mod error;
pub mod event_docs;
pub mod events;
pub mod extract;
pub mod idempotency;
pub mod inprocess;
pub mod intercept;
pub mod layers;
pub mod locations;
pub mod money;
pub mod pay;
pub mod pos;
pub mod promotions;
pub mod serve;
pub mod shared;
pub mod shop;
pub mod webhooks;

mod world;

pub use crate::core::{Core, CoreConfig, Platform, Retention, SimControl, Simulator};
pub use crate::error::{ErrorKind, SimError, SimResult};
pub use crate::events::{Effects, EventDraft};
pub use crate::world::{Simulators, SimulatorsConfig};
