//! The pos simulator.

mod routes;
pub mod state;

pub use routes::router;
pub use state::PosState;
