//! A whole merchant world in one process, for virtual-time runs: the three
//! simulators and the reference engine on one clock, talking through an
//! in-process transport with seeded network latency.
//!
//! Hosts: `http://pos.sim`, `http://shop.sim`, `http://pay.sim`, and the
//! engine at `http://engine.sim`. A simulated crash aborts the engine's tasks
//! and unmounts it; a restart builds a fresh engine from the same simulated
//! disk, which holds only what was committed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use omnisim_api::pay::PayClient;
use omnisim_api::pos::PosClient;
use omnisim_api::shop::ShopClient;
use omnisim_api::{ApiClient, BoxFuture, Clock, Transport, TransportError};
use omnisim_engine::{Endpoints, Engine, EngineConfig, EngineError, MemStore, Strategy};
use omnisim_simulators::inprocess::RouterTransport;
use omnisim_simulators::{Simulators, SimulatorsConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::task::JoinHandle;

use crate::history::History;

/// The API key of in-process worlds: the connector's (the engine's).
pub const API_KEY: &str = "test_key";
/// The key the harness's own actors (customers, clerks, staff) present in
/// in-process worlds: accepted besides [`API_KEY`], and not cut off by a
/// partition, as a storefront or a register does not use the connector
/// app's key.
pub const ACTOR_KEY: &str = "test_actor_key";
/// POS host.
pub const POS_URL: &str = "http://pos.sim";
/// Shop host.
pub const SHOP_URL: &str = "http://shop.sim";
/// Pay host.
pub const PAY_URL: &str = "http://pay.sim";
/// Engine host.
pub const ENGINE_URL: &str = "http://engine.sim";
/// The Stripe dialect over the pay simulator, in virtual time.
pub const STRIPE_URL: &str = "http://stripe.sim";

/// One-way network latency of the in-process transport, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkLatency {
    /// Lower bound.
    pub min_ms: u64,
    /// Upper bound.
    pub max_ms: u64,
}

impl Default for NetworkLatency {
    fn default() -> Self {
        NetworkLatency {
            min_ms: 5,
            max_ms: 40,
        }
    }
}

/// The in-process transport with a seeded latency before each request and a
/// timeout, as a real client has. Every exchange is recorded in the history.
#[derive(Clone)]
pub struct SimNetwork {
    routes: RouterTransport,
    rng: Arc<Mutex<ChaCha8Rng>>,
    latency: NetworkLatency,
    timeout: Duration,
    clock: Clock,
    history: History,
}

impl SimNetwork {
    /// A network with `latency`, drawing from `seed`, recording into `history`.
    pub fn new(seed: u64, latency: NetworkLatency, clock: Clock, history: History) -> Self {
        SimNetwork {
            routes: RouterTransport::new(),
            rng: Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ 0x6e65_7477))),
            latency,
            timeout: Duration::from_secs(10),
            clock,
            history,
        }
    }

    /// The routes by host.
    pub fn routes(&self) -> &RouterTransport {
        &self.routes
    }
}

impl Transport for SimNetwork {
    fn send(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> BoxFuture<'static, Result<http::Response<bytes::Bytes>, TransportError>> {
        let delay =
            {
                let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
                Duration::from_millis(rng.random_range(
                    self.latency.min_ms..=self.latency.max_ms.max(self.latency.min_ms),
                ))
            };
        let url = request.uri().to_string();
        let method = request.method().to_string();
        let timeout = self.timeout;
        let clock = self.clock.clone();
        let history = self.history.clone();
        let sent = clock.now();
        let inner = self.routes.send(request);
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            let result = match tokio::time::timeout(timeout, inner).await {
                Ok(r) => r,
                Err(_) => Err(TransportError::Timeout {
                    url: url.clone(),
                    timeout_ms: timeout.as_millis() as u64,
                }),
            };
            let (status, error) = match &result {
                Ok(r) => (Some(r.status().as_u16()), None),
                Err(e) => (None, Some(e.to_string())),
            };
            history.http(sent, clock.now(), &method, &url, status, error);
            result
        })
    }
}

/// A running engine inside a world.
struct EngineInstance {
    engine: Arc<Engine>,
    tasks: Vec<JoinHandle<()>>,
}

/// The three simulators and, once started, the engine.
pub struct World {
    /// The shared clock.
    pub clock: Clock,
    /// The in-process network.
    pub net: SimNetwork,
    /// Everything that happened.
    pub history: History,
    /// The simulators.
    pub sims: Simulators,
    disk: MemStore,
    engine: Mutex<Option<EngineInstance>>,
    seed: u64,
}

impl Drop for World {
    fn drop(&mut self) {
        self.shut_down();
    }
}

impl World {
    /// A world at `epoch` (must be called inside a paused runtime for
    /// virtual time).
    pub fn new(seed: u64, epoch: DateTime<Utc>, latency: NetworkLatency) -> Self {
        let clock = Clock::new(epoch);
        let history = History::new();
        let net = SimNetwork::new(seed, latency, clock.clone(), history.clone());
        let sims = Simulators::new(SimulatorsConfig {
            clock: clock.clone(),
            api_key: API_KEY.into(),
            seed,
            transport: Arc::new(net.clone()),
            pay_url: PAY_URL.into(),
            delay_scale: 1,
        });
        sims.accept_actor_key(ACTOR_KEY);
        net.routes.mount("pos.sim", sims.pos_router());
        net.routes.mount("shop.sim", sims.shop_router());
        net.routes.mount("pay.sim", sims.pay_router());
        net.routes.mount("stripe.sim", sims.stripe_router());
        World {
            clock,
            net,
            history,
            sims,
            disk: MemStore::new(),
            engine: Mutex::new(None),
            seed,
        }
    }

    fn client(&self, url: &str) -> ApiClient {
        ApiClient::new(Arc::new(self.net.clone()), url, ACTOR_KEY)
    }

    /// A POS client over the simulated network, with the actors' key.
    pub fn pos(&self) -> PosClient {
        PosClient(self.client(POS_URL))
    }

    /// A shop client over the simulated network, with the actors' key.
    pub fn shop(&self) -> ShopClient {
        ShopClient(self.client(SHOP_URL))
    }

    /// A pay client over the simulated network, with the actors' key.
    pub fn pay(&self) -> PayClient {
        PayClient(self.client(PAY_URL))
    }

    /// A client for the engine's own routes (receiver, status).
    pub fn engine_client(&self) -> ApiClient {
        self.client(ENGINE_URL)
    }

    /// Starts (or restarts, from the simulated disk) the engine.
    pub async fn start_engine(&self, strategy: Strategy) -> Result<(), EngineError> {
        self.crash_engine();
        let config = EngineConfig {
            endpoints: Endpoints {
                pos_url: POS_URL.into(),
                shop_url: SHOP_URL.into(),
                pay_url: PAY_URL.into(),
                api_key: API_KEY.into(),
                public_url: ENGINE_URL.into(),
            },
            strategy,
            seed: self.seed,
        };
        let engine = Engine::new(
            config,
            Arc::new(self.net.clone()),
            Arc::new(self.disk.clone()),
            self.clock.clone(),
        )?;
        self.net.routes.mount("engine.sim", engine.router());
        let tasks = engine.start().await?;
        *self.engine.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(EngineInstance { engine, tasks });
        Ok(())
    }

    /// Kills the engine: its tasks stop mid-flight and its receiver goes
    /// away. What it had committed stays on the simulated disk.
    pub fn crash_engine(&self) {
        if let Some(instance) = self.engine.lock().unwrap_or_else(|p| p.into_inner()).take() {
            for t in instance.tasks {
                t.abort();
            }
            self.net.routes.unmount("engine.sim");
        }
    }

    /// Stops the engine and unmounts every host. The routers hold the
    /// simulators and the simulators hold the network that holds the routers:
    /// without this the whole world would outlive its run (a leak that
    /// exploration, with thousands of worlds, turns into gigabytes).
    pub fn shut_down(&self) {
        self.crash_engine();
        for host in ["pos.sim", "shop.sim", "pay.sim", "engine.sim"] {
            self.net.routes.unmount(host);
        }
    }

    /// The running engine, if any.
    pub fn engine(&self) -> Option<Arc<Engine>> {
        self.engine
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|i| Arc::clone(&i.engine))
    }
}

/// The world one run drives: the in-process world on virtual time, or the
/// simulators on real ports with a connector process on the wall clock. The
/// runner's setup, steps and checkers are the same for both.
// One per run, built once and never moved in a hot path.
#[allow(clippy::large_enum_variant)]
pub enum RunWorld {
    /// In process, virtual time, the reference engine inside.
    Virtual(World),
    /// Real ports, real time, any connector as a child process.
    Real(crate::realtime::RealWorld),
}

impl RunWorld {
    /// The shared clock.
    pub fn clock(&self) -> &Clock {
        match self {
            RunWorld::Virtual(w) => &w.clock,
            RunWorld::Real(w) => &w.clock,
        }
    }

    /// The history.
    pub fn history(&self) -> &History {
        match self {
            RunWorld::Virtual(w) => &w.history,
            RunWorld::Real(w) => &w.history,
        }
    }

    /// The simulators (in this process in both modes).
    pub fn sims(&self) -> &Simulators {
        match self {
            RunWorld::Virtual(w) => &w.sims,
            RunWorld::Real(w) => &w.running.sims,
        }
    }

    /// The transport the harness's requests go through (recorded) and the
    /// POS, shop and pay base URLs.
    pub fn network(&self) -> (Arc<dyn Transport>, [String; 3]) {
        match self {
            RunWorld::Virtual(w) => (
                Arc::new(w.net.clone()),
                [POS_URL.into(), SHOP_URL.into(), PAY_URL.into()],
            ),
            RunWorld::Real(w) => {
                let u = &w.running.urls;
                (
                    Arc::new(w.transport.clone()),
                    [u.pos.clone(), u.shop.clone(), u.pay.clone()],
                )
            }
        }
    }

    /// A transport that reaches the platforms without being recorded, and
    /// their URLs: for reading the final state.
    pub fn quiet_network(&self) -> (Arc<dyn Transport>, [String; 3]) {
        match self {
            RunWorld::Virtual(w) => (
                Arc::new(w.net.routes().clone()),
                [POS_URL.into(), SHOP_URL.into(), PAY_URL.into()],
            ),
            RunWorld::Real(w) => {
                let u = &w.running.urls;
                (
                    Arc::new(omnisim_api::HttpTransport::new(Duration::from_secs(10))),
                    [u.pos.clone(), u.shop.clone(), u.pay.clone()],
                )
            }
        }
    }

    /// The key the harness's own requests carry: the actors' key, not the
    /// connector's, so that a partition does not cut the harness off.
    pub fn api_key(&self) -> &'static str {
        match self {
            RunWorld::Virtual(_) => ACTOR_KEY,
            RunWorld::Real(_) => crate::realtime::ACTOR_KEY,
        }
    }

    fn client(&self, i: usize) -> ApiClient {
        let (t, urls) = self.network();
        ApiClient::new(t, &urls[i], self.api_key())
    }

    /// A POS client.
    pub fn pos(&self) -> PosClient {
        PosClient(self.client(0))
    }

    /// A shop client.
    pub fn shop(&self) -> ShopClient {
        ShopClient(self.client(1))
    }

    /// A pay client.
    pub fn pay(&self) -> PayClient {
        PayClient(self.client(2))
    }

    /// Scenario time to the time the runtime waits: the same in virtual
    /// time, divided by the time scale in real time.
    pub fn scaled(&self, d: Duration) -> Duration {
        match self {
            RunWorld::Virtual(_) => d,
            RunWorld::Real(w) => w.scaled(d),
        }
    }

    /// Starts (or restarts) the connector.
    pub async fn start_connector(&self, strategy: Strategy) -> Result<(), String> {
        match self {
            RunWorld::Virtual(w) => w.start_engine(strategy).await.map_err(|e| e.to_string()),
            RunWorld::Real(w) => w.start_connector().await.map_err(|e| e.to_string()),
        }
    }

    /// Kills the connector; what it committed stays.
    pub async fn crash_connector(&self) {
        match self {
            RunWorld::Virtual(w) => w.crash_engine(),
            RunWorld::Real(w) => w.kill_connector().await,
        }
    }

    /// Where `platform` delivers webhooks to the connector (`None`: the
    /// connector registered no receiver there).
    pub fn receiver_url(&self, platform: &str) -> Option<String> {
        match self {
            RunWorld::Virtual(_) => Some(format!("{ENGINE_URL}/webhooks/{platform}")),
            RunWorld::Real(w) => w.receiver_url(platform),
        }
    }

    /// Lets the world settle after the last step.
    pub async fn settle(&self, settle: Duration) {
        match self {
            RunWorld::Virtual(_) => tokio::time::sleep(settle).await,
            RunWorld::Real(w) => {
                let wall = w.scaled(settle);
                let min = wall.min(Duration::from_secs(3));
                w.settle(min, Duration::from_secs(2), wall + Duration::from_secs(5))
                    .await
            }
        }
    }

    /// The reference engine's own sync errors (none for a process).
    pub fn engine_errors(&self) -> Vec<omnisim_engine::SyncError> {
        match self {
            RunWorld::Virtual(w) => w.engine().map(|e| e.errors()).unwrap_or_default(),
            RunWorld::Real(_) => Vec::new(),
        }
    }
}
