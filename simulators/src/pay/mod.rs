//! The payment gateway, modelled on Stripe PaymentIntents: intents with
//! manual or automatic capture, declines through test cards, authorization
//! expiry, bank transfers that settle later, gift cards, refunds, and balance
//! transactions with a settlement report.
//!
//! - `state.rs`: the state machine ([`PayState`]), plain Rust.
//! - `rules.rs`: the test-card table, fees, timings and validation.
//! - `routes.rs`: the axum handlers and [`router`].

mod routes;
pub mod rules;
pub mod state;

#[cfg(test)]
mod proptests;

pub use routes::router;
pub use state::{Attempt, PayState};
