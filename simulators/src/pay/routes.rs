//! The payment gateway's HTTP routes.

use std::sync::Arc;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use super::state::PayState;
use crate::core::Simulator;
use crate::shared::assemble;

/// The gateway's whole router.
pub fn router(sim: Arc<Simulator<PayState>>) -> Router {
    let own = OpenApiRouter::new().with_state(Arc::clone(&sim));
    assemble(sim, own, "omnisim pay (payment gateway)")
}
