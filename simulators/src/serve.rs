//! `omnisim serve`: the three simulators on real loopback ports.
//!
//! [`start`] binds all three listeners first (port 0 picks a free one), so the
//! shop and the POS know the gateway's real URL, then serves each router with
//! graceful shutdown. Webhooks go out over real HTTP, with retry delays
//! compressed by [`ServeConfig::retry_time_scale`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use omnisim_api::{Clock, HttpTransport};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::core::Retention;
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
    /// The bearer key every simulator requires.
    pub api_key: String,
    /// Seed for secrets and fault draws.
    pub seed: u64,
    /// Divisor of webhook retry delays: 60 turns minutes into seconds.
    pub retry_time_scale: u32,
    /// What the simulators keep of events and idempotency keys.
    pub retention: Retention,
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
    let bind = |port| TcpListener::bind(SocketAddr::new(config.bind, port));
    let pos_listener = bind(config.pos_port).await?;
    let shop_listener = bind(config.shop_port).await?;
    let pay_listener = bind(config.pay_port).await?;
    let url = |l: &TcpListener| l.local_addr().map(|a| format!("http://{a}"));
    let urls = Urls {
        pos: url(&pos_listener)?,
        shop: url(&shop_listener)?,
        pay: url(&pay_listener)?,
        api_key: config.api_key.clone(),
    };
    let sims = Simulators::new(SimulatorsConfig {
        clock: Clock::real(),
        api_key: config.api_key.clone(),
        seed: config.seed,
        // Shopify allows a webhook receiver 5 s; the same bound suits pay calls.
        transport: Arc::new(HttpTransport::new(Duration::from_secs(5))),
        pay_url: urls.pay.clone(),
        retry_time_scale: config.retry_time_scale,
    });
    sims.set_retention(config.retention);
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    for (listener, router) in [
        (pos_listener, sims.pos_router()),
        (shop_listener, sims.shop_router()),
        (pay_listener, sims.pay_router()),
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
