//! The shop simulator's HTTP routes.

use std::sync::Arc;

use axum::Router;
use omnisim_api::pay::PayClient;
use utoipa_axum::router::OpenApiRouter;

use super::state::ShopState;
use crate::core::Simulator;
use crate::shared::assemble;

/// The shop simulator's whole router; `pay` reaches the gateway.
pub fn router(sim: Arc<Simulator<ShopState>>, pay: PayClient) -> Router {
    let _ = pay;
    let own = OpenApiRouter::new().with_state(Arc::clone(&sim));
    assemble(sim, own, "omnisim shop")
}
