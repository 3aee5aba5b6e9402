//! The shop simulator.

mod routes;
pub mod state;

pub use routes::router;
pub use state::ShopState;
