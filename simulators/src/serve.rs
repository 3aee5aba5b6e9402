//! `omnisim serve`: the three simulators on real loopback ports.
//!
//! [`start`] binds all three listeners first (port 0 picks a free one), so the
//! shop and the POS know the gateway's real URL, then serves each router with
//! graceful shutdown. Webhooks go out over real HTTP. The platforms' own
//! delays (webhook retries, bank-transfer settlement) are compressed by
//! [`ServeConfig::delay_scale`].
//!
//! With [`ServeConfig::intercept`] it also binds the intercepting HTTPS proxy
//! ([`crate::intercept`]) and prints the environment an unchanged connector
//! needs ([`Urls::intercept`]). Webhook targets go through
//! [`crate::intercept::WebhookHosts`], which delivers
//! `https://<port>.omnisim.localhost/…` and [`ServeConfig::webhook_hosts`]
//! on loopback.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use omnisim_api::{Clock, HttpTransport, Transport};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::core::Retention;
use crate::intercept::{InterceptConfig, LocalCa, Proxy, WebhookHost, WebhookHosts};
use crate::world::{Simulators, SimulatorsConfig};

/// How `omnisim serve` runs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address to bind (127.0.0.1 by default).
    pub bind: IpAddr,
    /// POS port (0 = any free port).
    pub pos_port: u16,
    /// Shop port (0 = any free port).
    pub shop_port: u16,
    /// Pay port (0 = any free port).
    pub pay_port: u16,
    /// The Stripe dialect's port (0 = any free port): Stripe's `/v1/…`
    /// paths collide with the native gateway's, so it has its own.
    pub stripe_port: u16,
    /// The bearer key every simulator requires.
    pub api_key: String,
    /// Seed for secrets and fault draws.
    pub seed: u64,
    /// Divisor of the platforms' own delays (webhook retries, bank-transfer
    /// settlement): 60 turns minutes into seconds.
    pub delay_scale: u32,
    /// What the simulators keep of events and idempotency keys.
    pub retention: Retention,
    /// The intercepting HTTPS proxy for the real platforms' hosts
    /// (`omnisim serve --intercept`), if wanted.
    pub intercept: Option<InterceptConfig>,
    /// Webhook receiver hosts delivered to a loopback address
    /// (`--webhook-host NAME=127.0.0.1:PORT`), besides the built-in
    /// `<port>.omnisim.localhost` rule.
    pub webhook_hosts: Vec<WebhookHost>,
}

/// The base URLs of running simulators, as printed at start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Urls {
    /// POS base URL.
    pub pos: String,
    /// Shop base URL.
    pub shop: String,
    /// Pay base URL.
    pub pay: String,
    /// The API key.
    pub api_key: String,
    /// Where each dialect answers, and the credentials it takes.
    pub dialects: DialectUrls,
    /// The intercepting proxy's environment, when it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intercept: Option<InterceptUrls>,
}

/// What a connector needs to reach the simulators through the intercepting
/// proxy: printed as `"intercept": {"env": {NAME: VALUE, …}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InterceptUrls {
    /// The variables, by name ([`crate::intercept::env`]).
    pub env: BTreeMap<String, String>,
}

impl InterceptUrls {
    /// The proxy's URL (`http://127.0.0.1:PORT`).
    pub fn proxy_url(&self) -> &str {
        self.env.get("HTTPS_PROXY").map_or("", String::as_str)
    }

    /// The CA certificate file a connector trusts.
    pub fn ca_cert(&self) -> &str {
        self.env.get("SSL_CERT_FILE").map_or("", String::as_str)
    }
}

/// The Shopify Admin API version the dialect serves and prints.
pub const SHOPIFY_API_VERSION: &str = crate::dialects::shopify::API_VERSION;

/// Where each dialect answers: what an official client is pointed at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DialectUrls {
    /// Stripe: `stripe.api_base` and `stripe.api_key`.
    pub stripe: StripeUrls,
    /// Square: the client's `base_url` and `token`.
    pub square: SquareUrls,
    /// Shopify: the shop address, the Admin API version and the access token.
    pub shopify: ShopifyUrls,
}

/// Where the Stripe dialect answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StripeUrls {
    /// The client's `api_base`.
    pub api_base: String,
    /// A secret key it accepts (any `sk_test_…` key is).
    pub api_key: String,
}

/// Where the Square dialect answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SquareUrls {
    /// The client's `base_url`.
    pub base_url: String,
    /// The access token it accepts.
    pub access_token: String,
}

/// Where the Shopify dialect answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShopifyUrls {
    /// The shop's address (`http://127.0.0.1:7102`).
    pub shop_url: String,
    /// The Admin API version served.
    pub api_version: String,
    /// The Admin API access token it accepts.
    pub access_token: String,
    /// The app's client secret: Shopify webhooks of subscriptions made
    /// through the dialect are signed with it (`X-Shopify-Hmac-Sha256`).
    pub api_secret: String,
}

impl DialectUrls {
    /// The dialects of simulators at these native base URLs, with the
    /// Stripe dialect at `stripe`, for `api_key`.
    pub fn new(pos: &str, shop: &str, stripe: &str, api_key: &str) -> Self {
        let c = crate::dialects::Credentials::for_api_key(api_key);
        DialectUrls {
            stripe: StripeUrls {
                api_base: stripe.to_owned(),
                api_key: c.stripe_api_key,
            },
            square: SquareUrls {
                base_url: pos.to_owned(),
                access_token: c.square_access_token,
            },
            shopify: ShopifyUrls {
                shop_url: shop.to_owned(),
                api_version: SHOPIFY_API_VERSION.to_owned(),
                access_token: c.shopify_access_token,
                api_secret: crate::dialects::shopify::api_secret(api_key),
            },
        }
    }
}

/// Running simulators: their URLs, and the handle to stop them.
pub struct Running {
    /// Where they answer.
    pub urls: Urls,
    /// The simulators themselves.
    pub sims: Simulators,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

/// Binds and serves the three simulators.
pub async fn start(config: ServeConfig) -> std::io::Result<Running> {
    // A bind error names the address and what it was for (`--pos-port`).
    let ip = config.bind;
    let bind = |port, what: &'static str| async move {
        let addr = SocketAddr::new(ip, port);
        TcpListener::bind(addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot bind {addr} ({what}): {e}")))
    };
    let pos_listener = bind(config.pos_port, "pos, --pos-port").await?;
    let shop_listener = bind(config.shop_port, "shop, --shop-port").await?;
    let pay_listener = bind(config.pay_port, "pay, --pay-port").await?;
    let stripe_listener = bind(config.stripe_port, "stripe dialect, --stripe-port").await?;
    let intercept = match &config.intercept {
        Some(i) => {
            let ca = LocalCa::load_or_create(&i.ca_dir).map_err(std::io::Error::other)?;
            Some((
                bind(i.port, "intercepting proxy, --intercept-port").await?,
                Arc::new(ca),
            ))
        }
        None => None,
    };
    let url = |l: &TcpListener| l.local_addr().map(|a| format!("http://{a}"));
    let (pos, shop) = (url(&pos_listener)?, url(&shop_listener)?);
    let dialects = DialectUrls::new(&pos, &shop, &url(&stripe_listener)?, &config.api_key);
    let urls = Urls {
        pos,
        shop,
        pay: url(&pay_listener)?,
        api_key: config.api_key.clone(),
        dialects,
        intercept: match &intercept {
            Some((listener, ca)) => Some(InterceptUrls {
                env: crate::intercept::env(&url(listener)?, ca, &config.api_key),
            }),
            None => None,
        },
    };
    // Shopify allows a webhook receiver 5 s; the same bound suits pay calls.
    let http: Arc<dyn Transport> = Arc::new(HttpTransport::new(Duration::from_secs(5)));
    let transport = Arc::new(WebhookHosts::new(
        http,
        config.webhook_hosts.clone(),
        intercept.is_some(),
        vec![config.bind],
    ));
    let sims = Simulators::new(SimulatorsConfig {
        clock: Clock::real(),
        api_key: config.api_key.clone(),
        seed: config.seed,
        transport,
        pay_url: urls.pay.clone(),
        delay_scale: config.delay_scale,
    });
    sims.set_retention(config.retention);
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    for (listener, router) in [
        (pos_listener, sims.pos_router()),
        (shop_listener, sims.shop_router()),
        (pay_listener, sims.pay_router()),
        (stripe_listener, sims.stripe_router()),
    ] {
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        }));
    }
    if let Some((listener, ca)) = intercept {
        let proxy = Proxy::new(ca, &sims);
        tasks.push(tokio::spawn(proxy.serve(listener, stopped.clone())));
    }
    Ok(Running {
        urls,
        sims,
        stop,
        tasks,
    })
}

impl Running {
    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        for task in self.tasks {
            task.await.map_err(std::io::Error::other)??;
        }
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        biased;
        () = ctrl_c => {}
        () = term => {}
    }
}
