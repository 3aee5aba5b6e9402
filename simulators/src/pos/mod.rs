//! The pos simulator: a point of sale modelled on Square Inventory + Orders.
//!
//! - [`state`]: the state machine ([`PosState`]): catalog, stock, sales,
//!   returns, pickups, settings and tax rates;
//! - `ledger`: the Square-ordered IN_STOCK count of one SKU at one location;
//! - `routes`: the HTTP handlers, and the two-phase flow that takes card and
//!   gift-card tenders (and refunds) through the payment gateway.

mod ledger;
pub(crate) mod routes;
pub mod state;

pub use routes::router;
pub use state::PosState;
