//! The three simulators built together on one clock.

use std::sync::Arc;

use axum::Router;
use omnisim_api::pay::PayClient;
use omnisim_api::{ApiClient, Clock, Transport};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::core::{Core, CoreConfig, Retention, Simulator};
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
    /// Divisor of the platforms' own delays: webhook retries and bank-transfer
    /// settlement (1 in virtual time).
    pub delay_scale: u32,
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
            delay_scale: config.delay_scale,
        };
        // The shop and the register reach the gateway with a key of their
        // own, as real platforms do: a partition of the gateway from the
        // connector does not cut them off. Drawn from its own stream of the
        // seed, so it shifts no simulator's random choices.
        let platform_key = format!(
            "sk_platform_{:016x}",
            ChaCha8Rng::seed_from_u64(config.seed ^ 0x706c_6174_666f_726d).random::<u64>()
        );
        let pay_client = PayClient(ApiClient::new(
            Arc::clone(&config.transport),
            config.pay_url.clone(),
            platform_key.clone(),
        ));
        let pay = Simulator::<PayState>::new(core(3));
        pay.core
            .accept_key_as(&platform_key, omnisim_api::ActorKind::Platform, "platform");
        Simulators {
            pos: Simulator::new(core(1)),
            shop: Simulator::new(core(2)),
            pay,
            pay_client,
        }
    }

    /// Makes all three accept `key` besides the connector's API key: for the
    /// harness's own actors (customers, clerks, staff), whom a partition
    /// does not cut off. Kept across resets.
    pub fn accept_actor_key(&self, key: &str) {
        for core in [&self.pos.core, &self.shop.core, &self.pay.core] {
            core.accept_actor_key(key);
        }
    }

    /// The machinery of `platform` (`pos`, `shop` or `pay`).
    pub fn core(&self, platform: &str) -> Option<&Arc<Core>> {
        match platform {
            "pos" => Some(&self.pos.core),
            "shop" => Some(&self.shop.core),
            "pay" => Some(&self.pay.core),
            _ => None,
        }
    }

    /// Cuts `platform` off from the connector, or heals the cut (the
    /// `partition` fault; other faults stay as they are).
    pub fn set_partitioned(&self, platform: &str, cut: bool) -> Result<(), String> {
        let core = self.core(platform).ok_or_else(|| {
            format!("no platform `{platform}` to partition; use pos, shop or pay")
        })?;
        core.set_partition(cut);
        Ok(())
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

    /// The Stripe dialect's router over the pay simulator: Stripe's own
    /// `/v1/…` paths, which collide with the native gateway's, so it is
    /// served on a listener (or in-process host) of its own.
    pub fn stripe_router(&self) -> Router {
        crate::dialects::stripe::router(Arc::clone(&self.pay))
    }
}
