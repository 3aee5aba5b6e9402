//! The payment gateway, modelled on Stripe PaymentIntents.

mod routes;
pub mod state;

pub use routes::router;
pub use state::PayState;
