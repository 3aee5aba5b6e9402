//! `omnisim engine`: the reference connector as a separate process.
//!
//! Configuration follows the connector contract: every flag can come from the
//! environment variable named beside it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use omnisim_api::{Clock, HttpTransport};
use omnisim_engine::config::parse_duration;
use omnisim_engine::{
    Endpoints, Engine, EngineConfig, ReserveMode, SqliteStore, Strategy, SyncMode, WriteMode,
};

#[derive(Debug, Args)]
pub struct EngineArgs {
    /// POS base URL.
    #[arg(long, env = "OMNISIM_POS_URL", default_value = "http://127.0.0.1:7101")]
    pos_url: String,
    /// Shop base URL.
    #[arg(
        long,
        env = "OMNISIM_SHOP_URL",
        default_value = "http://127.0.0.1:7102"
    )]
    shop_url: String,
    /// Pay base URL.
    #[arg(long, env = "OMNISIM_PAY_URL", default_value = "http://127.0.0.1:7103")]
    pay_url: String,
    /// Bearer key for all three.
    #[arg(long, env = "OMNISIM_API_KEY", default_value = "test_key")]
    api_key: String,
    /// Port of the webhook receiver, `/healthz` and `/status` on 127.0.0.1 (0 = any).
    #[arg(long, env = "OMNISIM_CONNECTOR_PORT", default_value_t = 7200)]
    port: u16,
    /// Where durable state (SQLite) lives.
    #[arg(long, env = "OMNISIM_STATE_DIR", default_value = ".omnisim-engine")]
    state_dir: PathBuf,
    /// `webhook` (with reconciliation polling) or `poll:<interval>`, such as `poll:15m`.
    #[arg(long, env = "OMNISIM_ENGINE_SYNC", default_value = "webhook")]
    sync: SyncMode,
    /// How often the change feeds are read to repair missed webhooks.
    #[arg(long, env = "OMNISIM_ENGINE_RECONCILE_EVERY", default_value = "60s", value_parser = duration)]
    reconcile_every: Duration,
    /// `adjust`, `set` or `compare_and_set`.
    #[arg(long, env = "OMNISIM_ENGINE_WRITE", default_value = "adjust")]
    write: WriteMode,
    /// Units held back from online availability at store locations.
    #[arg(long, env = "OMNISIM_ENGINE_BUFFER", default_value_t = 0)]
    buffer: i64,
    /// `on_order` or `on_capture`.
    #[arg(long, env = "OMNISIM_ENGINE_RESERVE", default_value = "on_order")]
    reserve: ReserveMode,
    /// Which system owns each synced catalog field: `price=pos,tax_code=shop`
    /// (each `shop`, `pos` or `both`; fields left out are `both`).
    #[arg(long, env = "OMNISIM_CATALOG_MASTER", default_value = "")]
    catalog_master: omnisim_engine::CatalogMaster,
    /// Scenario time runs this many times faster than the wall clock (set by
    /// `omnisim certify`): the reconcile and poll intervals are divided by it.
    #[arg(long, env = "OMNISIM_TIME_SCALE", default_value_t = 1.0, value_parser = time_scale)]
    time_scale: f64,
    /// Seed for retry jitter.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Switch on a deliberate failure mode (repeatable), to test a test
    /// suite or a certification profile against a connector with that bug.
    #[arg(
        long = "defect",
        env = "OMNISIM_ENGINE_DEFECTS",
        value_delimiter = ',',
        hide = true
    )]
    defects: Vec<omnisim_engine::Defect>,
}

fn time_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 1.0 => Ok(x),
        _ => Err(format!("`{s}` is not a time scale of 1 or more")),
    }
}

fn duration(s: &str) -> Result<Duration, String> {
    parse_duration(s).ok_or_else(|| format!("`{s}` is not a duration such as 90s, 15m or 2h"))
}

pub async fn run(args: EngineArgs) -> ExitCode {
    let listener =
        match tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("omnisim engine: cannot bind 127.0.0.1:{}: {e}", args.port);
                return ExitCode::from(2);
            }
        };
    let public_url = match listener.local_addr() {
        Ok(a) => format!("http://{a}"),
        Err(e) => {
            eprintln!("omnisim engine: {e}");
            return ExitCode::from(2);
        }
    };
    let store = match SqliteStore::open(&args.state_dir) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("omnisim engine: {e}");
            return ExitCode::from(2);
        }
    };
    let scale = |d: Duration| d.div_f64(args.time_scale).max(Duration::from_millis(100));
    let sync = match args.sync {
        SyncMode::Poll { every } => SyncMode::Poll {
            every: scale(every),
        },
        other => other,
    };
    let strategy = Strategy {
        sync,
        reconcile_every: scale(args.reconcile_every),
        write: args.write,
        buffer: args.buffer,
        reserve: args.reserve,
        dedupe: true,
        catalog_master: args.catalog_master,
        defects: args.defects.iter().copied().collect(),
    };
    let config = EngineConfig {
        endpoints: Endpoints {
            pos_url: args.pos_url,
            shop_url: args.shop_url,
            pay_url: args.pay_url,
            api_key: args.api_key,
            public_url: public_url.clone(),
        },
        strategy,
        seed: args.seed,
    };
    let engine = match Engine::new(
        config,
        Arc::new(HttpTransport::default()),
        store,
        // The wall clock as it is. The POS takes an `occurred_at` up to 2 s
        // ahead of its own clock (two hosts' clocks differ), so no lag is
        // needed against skew, and a lag would stamp a change before a
        // count made just before it, which then absorbs it (certify found
        // this: a delivery booked online 19 ms after a shelf count was lost
        // while the engine stamped 250 ms in the past).
        Clock::real(),
    ) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("omnisim engine: {e}");
            return ExitCode::from(2);
        }
    };
    let router = engine.router();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(omnisim_simulators::serve::shutdown_signal())
            .await
    });
    // The platforms may still be starting: retry start-up for up to a minute.
    let mut tasks = None;
    for attempt in 0..120 {
        match engine.start().await {
            Ok(t) => {
                tasks = Some(t);
                break;
            }
            Err(e) if attempt < 119 => {
                tracing::info!(error = %e, "platforms not ready; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                eprintln!("omnisim engine: cannot start: {e}");
                return ExitCode::from(2);
            }
        }
    }
    crate::say!(
        "omnisim engine listening on {public_url} (webhooks at {public_url}/webhooks/{{pos,shop,pay}}; /healthz, /status)"
    );
    crate::say!("  strategy: {}", engine.strategy());
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let result = server.await;
    for t in tasks.into_iter().flatten() {
        t.abort();
    }
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("omnisim engine: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("omnisim engine: {e}");
            ExitCode::FAILURE
        }
    }
}
