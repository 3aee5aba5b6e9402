//! [`Simulators`]: the POS, shop and pay simulators for a vendor's tests, on
//! real loopback ports or in process, with typed clients for each.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::Router;
use omnisim_api::common::Faults;
use omnisim_api::pay::PayClient;
use omnisim_api::pos::PosClient;
use omnisim_api::shop::ShopClient;
use omnisim_api::{ApiClient, ApiError, Clock, HttpTransport, Transport};
use omnisim_simulators::inprocess::RouterTransport;
use omnisim_simulators::serve::{self, Running, ServeConfig, Urls};
use omnisim_simulators::{Simulators as Sims, SimulatorsConfig};

/// Where the simulators answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Real sockets on 127.0.0.1, free ports: any process can reach them.
    #[default]
    Loopback,
    /// No sockets: requests go straight to the routers through an in-process
    /// transport, at `http://pos.sim`, `http://shop.sim` and `http://pay.sim`.
    /// Mount your own connector's router with [`Simulators::mount`] to receive
    /// their webhooks. With a paused tokio runtime and [`Clock::new`], time is
    /// virtual.
    InProcess,
}

/// One of the three simulators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// The point of sale.
    Pos,
    /// The ecommerce platform.
    Shop,
    /// The payment gateway.
    Pay,
}

/// Why the simulators did not start.
#[derive(Debug)]
pub struct StartError(std::io::Error);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the simulators could not bind: {}", self.0)
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// How to start [`Simulators`]; [`Simulators::builder`] makes one.
#[derive(Clone, Debug)]
pub struct SimulatorsBuilder {
    mode: Mode,
    api_key: String,
    seed: u64,
    clock: Option<Clock>,
    delay_scale: u32,
}

impl Default for SimulatorsBuilder {
    fn default() -> Self {
        SimulatorsBuilder {
            mode: Mode::Loopback,
            api_key: "test_key".into(),
            seed: 1,
            clock: None,
            delay_scale: 60,
        }
    }
}

impl SimulatorsBuilder {
    /// Loopback (the default) or in process.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The bearer key every request must carry (default `test_key`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }

    /// Seed for webhook secrets and fault draws (default 1).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The clock of an in-process world (default: real time). Loopback
    /// simulators always run on real time.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Divide the platforms' own delays, webhook retries and bank-transfer
    /// settlement, by this (default 60 on loopback: minutes become seconds;
    /// in process, 1).
    pub fn delay_scale(mut self, scale: u32) -> Self {
        self.delay_scale = scale.max(1);
        self
    }

    /// Starts them. Must be called inside a tokio runtime.
    pub async fn start(self) -> Result<Simulators, StartError> {
        match self.mode {
            Mode::Loopback => {
                let running = serve::start(ServeConfig {
                    bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
                    pos_port: 0,
                    shop_port: 0,
                    pay_port: 0,
                    stripe_port: 0,
                    api_key: self.api_key.clone(),
                    seed: self.seed,
                    retention: Default::default(),
                    delay_scale: self.delay_scale,
                    intercept: None,
                    webhook_hosts: Vec::new(),
                })
                .await
                .map_err(StartError)?;
                let transport: Arc<dyn Transport> =
                    Arc::new(HttpTransport::new(std::time::Duration::from_secs(30)));
                Ok(Simulators::with(
                    running.urls.clone(),
                    transport,
                    Backing::Loopback(Box::new(running)),
                ))
            }
            Mode::InProcess => {
                let routes = RouterTransport::new();
                let urls = Urls {
                    pos: "http://pos.sim".into(),
                    shop: "http://shop.sim".into(),
                    pay: "http://pay.sim".into(),
                    api_key: self.api_key.clone(),
                    dialects: omnisim_simulators::serve::DialectUrls::new(
                        "http://pos.sim",
                        "http://shop.sim",
                        "http://stripe.sim",
                        &self.api_key,
                    ),
                    intercept: None,
                };
                let sims = Sims::new(SimulatorsConfig {
                    clock: self.clock.unwrap_or_else(Clock::real),
                    api_key: self.api_key.clone(),
                    seed: self.seed,
                    transport: Arc::new(routes.clone()),
                    pay_url: urls.pay.clone(),
                    delay_scale: if self.delay_scale == 60 {
                        1
                    } else {
                        self.delay_scale
                    },
                });
                routes.mount("pos.sim", sims.pos_router());
                routes.mount("shop.sim", sims.shop_router());
                routes.mount("pay.sim", sims.pay_router());
                routes.mount("stripe.sim", sims.stripe_router());
                let transport: Arc<dyn Transport> = Arc::new(routes.clone());
                Ok(Simulators::with(
                    urls,
                    transport,
                    Backing::InProcess { sims, routes },
                ))
            }
        }
    }
}

enum Backing {
    Loopback(Box<Running>),
    InProcess { sims: Sims, routes: RouterTransport },
}

/// The three simulators, started for a test, with a typed client for each.
pub struct Simulators {
    urls: Urls,
    transport: Arc<dyn Transport>,
    pos: PosClient,
    shop: ShopClient,
    pay: PayClient,
    backing: Backing,
}

impl std::fmt::Debug for Simulators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulators")
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

impl Simulators {
    /// The three simulators on free loopback ports, with the defaults of
    /// [`SimulatorsBuilder`].
    pub async fn start() -> Result<Simulators, StartError> {
        Self::builder().start().await
    }

    /// Options: in process or loopback, key, seed, clock.
    pub fn builder() -> SimulatorsBuilder {
        SimulatorsBuilder::default()
    }

    fn with(urls: Urls, transport: Arc<dyn Transport>, backing: Backing) -> Self {
        let client = |url: &str| ApiClient::new(Arc::clone(&transport), url, urls.api_key.as_str());
        Simulators {
            pos: PosClient(client(&urls.pos)),
            shop: ShopClient(client(&urls.shop)),
            pay: PayClient(client(&urls.pay)),
            urls,
            transport,
            backing,
        }
    }

    /// Their base URLs and the API key.
    pub fn urls(&self) -> &Urls {
        &self.urls
    }

    /// A client for the POS.
    pub fn pos(&self) -> &PosClient {
        &self.pos
    }

    /// A client for the shop.
    pub fn shop(&self) -> &ShopClient {
        &self.shop
    }

    /// A client for the gateway.
    pub fn pay(&self) -> &PayClient {
        &self.pay
    }

    /// The transport that reaches them (HTTP, or the in-process routes).
    pub fn transport(&self) -> Arc<dyn Transport> {
        Arc::clone(&self.transport)
    }

    /// The environment the connector contract gives a connector process:
    /// `OMNISIM_POS_URL`, `OMNISIM_SHOP_URL`, `OMNISIM_PAY_URL`,
    /// `OMNISIM_API_KEY`, `OMNISIM_CONNECTOR_PORT` and `OMNISIM_STATE_DIR`.
    pub fn connector_env(&self, port: u16, state_dir: &str) -> Vec<(&'static str, String)> {
        vec![
            ("OMNISIM_POS_URL", self.urls.pos.clone()),
            ("OMNISIM_SHOP_URL", self.urls.shop.clone()),
            ("OMNISIM_PAY_URL", self.urls.pay.clone()),
            ("OMNISIM_API_KEY", self.urls.api_key.clone()),
            ("OMNISIM_CONNECTOR_PORT", port.to_string()),
            ("OMNISIM_STATE_DIR", state_dir.to_owned()),
        ]
    }

    /// In process: serves `router` at `http://{host}` on the same transport,
    /// so webhooks addressed there reach it. On loopback your connector
    /// listens on its own port instead, and this returns `false`.
    pub fn mount(&self, host: &str, router: Router) -> bool {
        match &self.backing {
            Backing::InProcess { routes, .. } => {
                routes.mount(host, router);
                true
            }
            Backing::Loopback(_) => false,
        }
    }

    /// The simulators themselves, for reading state without HTTP.
    pub fn inner(&self) -> &Sims {
        match &self.backing {
            Backing::InProcess { sims, .. } => sims,
            Backing::Loopback(running) => &running.sims,
        }
    }

    /// Back to the default state on all three: no data, events,
    /// subscriptions or faults (`POST /_control/reset`).
    pub async fn reset(&self) -> Result<(), ApiError> {
        for client in [&self.pos.0, &self.shop.0, &self.pay.0] {
            client
                .post::<_, serde_json::Value>("/_control/reset", &serde_json::json!({}), None)
                .await?;
        }
        Ok(())
    }

    /// Replaces the fault settings of one simulator (`POST /_control/faults`).
    pub async fn set_faults(
        &self,
        platform: Platform,
        faults: &Faults,
    ) -> Result<Faults, ApiError> {
        let client = match platform {
            Platform::Pos => &self.pos.0,
            Platform::Shop => &self.shop.0,
            Platform::Pay => &self.pay.0,
        };
        client.post("/_control/faults", faults, None).await
    }

    /// Stops them. On loopback, requests in flight finish first.
    pub async fn shutdown(self) -> std::io::Result<()> {
        match self.backing {
            Backing::Loopback(running) => running.shutdown().await,
            Backing::InProcess { .. } => Ok(()),
        }
    }
}
