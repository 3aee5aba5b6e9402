//! The ecommerce platform simulator, modelled on Shopify Admin.
//!
//! - [`state`]: the state machine (catalog, inventory, orders, refunds);
//! - `inventory`: stock levels and their change events;
//! - `pricing`: discount, tax and refund arithmetic;
//! - `gateway`: calls to the payment simulator and the mapping of its errors;
//! - `routes`: the HTTP handlers and [`router`].

mod gateway;
mod inventory;
pub(crate) mod pricing;
pub(crate) mod routes;
pub mod state;

pub use routes::router;
pub use state::ShopState;
