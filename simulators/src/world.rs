//! The three simulators built together on one clock.

use std::sync::Arc;

use axum::Router;
use omnisim_api::pay::PayClient;
use omnisim_api::{ApiClient, Clock, Transport};

use crate::core::{CoreConfig, Retention, Simulator};
use crate::pay::PayState;
use crate::pos::PosState;
use crate::shop::ShopState;

/// How to build the three simulators.
#[derive(Clone)]
pub struct SimulatorsConfig {
    /// The one clock they share.
    pub clock: Clock,
    /// The bearer key each of them requires.
    pub api_key: String,
    /// The run's seed; each simulator draws its own stream from it.
    pub seed: u64,
    /// How they reach others: webhooks to connectors, and shop and pos to pay.
    pub transport: Arc<dyn Transport>,
    /// The pay simulator's base URL, as shop and pos call it.
    pub pay_url: String,
    /// Divisor of webhook retry delays (1 in virtual time).
    pub retry_time_scale: u32,
}

/// The POS, shop and payment simulators of one world.
#[derive(Clone, Debug)]
pub struct Simulators {
    /// The point of sale.
    pub pos: Arc<Simulator<PosState>>,
    /// The ecommerce platform.
    pub shop: Arc<Simulator<ShopState>>,
    /// The payment gateway.
    pub pay: Arc<Simulator<PayState>>,
    /// The client shop and pos use to reach pay.
    pub pay_client: PayClient,
}

impl Simulators {
    /// Builds the three in their default state.
    pub fn new(config: SimulatorsConfig) -> Self {
        let core = |salt: u64| CoreConfig {
            clock: config.clock.clone(),
            api_key: config.api_key.clone(),
            seed: config.seed ^ salt,
            webhook_transport: Arc::clone(&config.transport),
            retry_time_scale: config.retry_time_scale,
        };
        let pay_client = PayClient(ApiClient::new(
            Arc::clone(&config.transport),
            config.pay_url.clone(),
            config.api_key.clone(),
        ));
        Simulators {
            pos: Simulator::new(core(1)),
            shop: Simulator::new(core(2)),
            pay: Simulator::new(core(3)),
            pay_client,
        }
    }

    /// Sets what all three keep of events and idempotency keys.
    pub fn set_retention(&self, r: Retention) {
        self.pos.set_retention(r);
        self.shop.set_retention(r);
        self.pay.set_retention(r);
    }

    /// The POS router.
    pub fn pos_router(&self) -> Router {
        crate::pos::router(Arc::clone(&self.pos), self.pay_client.clone())
    }

    /// The shop router.
    pub fn shop_router(&self) -> Router {
        crate::shop::router(Arc::clone(&self.shop), self.pay_client.clone())
    }

    /// The pay router.
    pub fn pay_router(&self) -> Router {
        crate::pay::router(Arc::clone(&self.pay))
    }
}
