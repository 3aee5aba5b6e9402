//! The real-time world: the three simulators on real loopback ports and the
//! connector under test as a child process, driven by the same runner as the
//! virtual-time world.
//!
//! Each scenario gets fresh simulators (fresh ports, empty state) and a fresh
//! connector process with an empty `OMNISIM_STATE_DIR`. A crash is a SIGKILL
//! of the process; a restart spawns the same command with the same state
//! directory and port. Everything the harness sends goes through a recording
//! transport, so the history is kept as in virtual time.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use omnisim_api::{BoxFuture, Clock, HttpTransport, Transport, TransportError};
use omnisim_simulators::serve::{self, Running, ServeConfig};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use crate::history::History;

/// The API key of real-time worlds: the connector's (`OMNISIM_API_KEY`).
pub const API_KEY: &str = "cert_key";
/// The key the harness's own actors present in real-time worlds (accepted
/// besides [`API_KEY`]; a partition does not cut it off).
pub const ACTOR_KEY: &str = "cert_actor_key";

/// How much of each output stream is kept (the tail).
const LOG_CAP: usize = 256 * 1024;

/// How to run the connector under test.
#[derive(Clone, Debug)]
pub struct ConnectorSpec {
    /// The command line, run by `sh -c "exec …"` (so quoting works and the
    /// SIGKILL reaches the connector itself).
    pub command: String,
    /// Working directory of the connector.
    pub workdir: Option<PathBuf>,
    /// Instead of polling `/healthz`, consider it ready after this long.
    pub ready_after: Option<Duration>,
    /// How long `/healthz` may take to answer 200.
    pub start_timeout: Duration,
    /// Scenario time runs this many times faster than the wall clock.
    pub time_scale: f64,
    /// Where per-scenario state directories are made.
    pub state_root: PathBuf,
    /// How it reaches the platforms (native API, dialect base URLs, or the
    /// real hosts through the intercepting proxy).
    pub via: crate::via::Via,
}

/// Why the connector did not become ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartError {
    /// The command could not be run at all.
    NotFound(String),
    /// It exited before it was ready.
    Exited(String),
    /// `/healthz` never answered 200 in time.
    NeverHealthy(Duration),
    /// The harness itself could not set up (ports, folders).
    Harness(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::NotFound(m) => write!(f, "the connector command could not be run: {m}"),
            StartError::Exited(m) => write!(f, "the connector exited before it was ready: {m}"),
            StartError::NeverHealthy(d) => write!(
                f,
                "the connector never answered 200 on /healthz within {} s",
                d.as_secs()
            ),
            StartError::Harness(m) => write!(f, "the harness could not start: {m}"),
        }
    }
}

/// The connector's output so far (the tail of each stream).
#[derive(Clone, Debug, Default)]
pub struct ConnectorLogs {
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl ConnectorLogs {
    /// Standard output, lossily decoded.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stdout)).into_owned()
    }

    /// Standard error, lossily decoded.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr)).into_owned()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn pump(mut from: impl tokio::io::AsyncRead + Unpin + Send + 'static, to: Arc<Mutex<Vec<u8>>>) {
    tokio::spawn(async move {
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut out = lock(&to);
                    out.extend_from_slice(&buf[..n]);
                    if out.len() > LOG_CAP {
                        let cut = out.len() - LOG_CAP;
                        out.drain(..cut);
                    }
                }
            }
        }
    });
}

/// A real HTTP transport that records every exchange in the history.
#[derive(Clone)]
pub struct RecordingTransport {
    inner: HttpTransport,
    clock: Clock,
    history: History,
}

impl Transport for RecordingTransport {
    fn send(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> BoxFuture<'static, Result<http::Response<bytes::Bytes>, TransportError>> {
        let url = request.uri().to_string();
        let method = request.method().to_string();
        let clock = self.clock.clone();
        let history = self.history.clone();
        let sent = clock.now();
        let inner = self.inner.send(request);
        Box::pin(async move {
            let result = inner.await;
            let (status, error) = match &result {
                Ok(r) => (Some(r.status().as_u16()), None),
                Err(e) => (None, Some(e.to_string())),
            };
            history.http(sent, clock.now(), &method, &url, status, error);
            result
        })
    }
}

/// The simulators on real ports and the connector process.
pub struct RealWorld {
    /// The clock (real time).
    pub clock: Clock,
    /// Everything that happened.
    pub history: History,
    /// The served simulators.
    pub running: Running,
    /// The recording transport the harness's own requests go through.
    pub transport: RecordingTransport,
    spec: ConnectorSpec,
    port: u16,
    state_dir: PathBuf,
    child: tokio::sync::Mutex<Option<Child>>,
    logs: ConnectorLogs,
    settings: MerchantSettings,
}

/// The merchant's settings for one scenario, as a merchant enters them on a
/// connector's settings page: the connector gets them in its environment.
#[derive(Clone, Debug, Default)]
pub struct MerchantSettings {
    /// Which system owns each synced catalog field, as
    /// `price=<owner>,tax_code=<owner>` (`shop`, `pos` or `both`):
    /// `OMNISIM_CATALOG_MASTER`.
    pub catalog_master: String,
}

impl RealWorld {
    /// Starts fresh simulators on free loopback ports (must run inside a
    /// normal, unpaused runtime). The connector is not started yet.
    pub async fn new(
        seed: u64,
        spec: ConnectorSpec,
        scenario_id: &str,
        settings: MerchantSettings,
    ) -> Result<Self, StartError> {
        let clock = Clock::real();
        let history = History::new();
        let scale = spec.time_scale.max(1.0).round().min(f64::from(u32::MAX)) as u32;
        let running = serve::start(ServeConfig {
            bind: [127, 0, 0, 1].into(),
            pos_port: 0,
            shop_port: 0,
            pay_port: 0,
            stripe_port: 0,
            api_key: API_KEY.into(),
            seed,
            retention: Default::default(),
            delay_scale: scale.max(1),
            intercept: (spec.via == crate::via::Via::Intercept).then(|| {
                omnisim_simulators::intercept::InterceptConfig {
                    port: 0,
                    ca_dir: spec.state_root.join("ca"),
                }
            }),
            webhook_hosts: Vec::new(),
        })
        .await
        .map_err(|e| StartError::Harness(format!("cannot bind the simulators: {e}")))?;
        running.sims.accept_actor_key(ACTOR_KEY);
        let port = free_port().map_err(|e| StartError::Harness(format!("no free port: {e}")))?;
        let state_dir = spec.state_root.join(scenario_id);
        let _ = std::fs::remove_dir_all(&state_dir);
        std::fs::create_dir_all(&state_dir).map_err(|e| {
            StartError::Harness(format!("cannot create {}: {e}", state_dir.display()))
        })?;
        let transport = RecordingTransport {
            inner: HttpTransport::new(Duration::from_secs(10)),
            clock: clock.clone(),
            history: history.clone(),
        };
        Ok(RealWorld {
            clock,
            history,
            running,
            transport,
            spec,
            port,
            state_dir,
            child: tokio::sync::Mutex::new(None),
            logs: ConnectorLogs::default(),
            settings,
        })
    }

    /// The connector's output so far.
    pub fn logs(&self) -> ConnectorLogs {
        self.logs.clone()
    }

    /// The port the connector serves on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The connector's state directory for this scenario.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Scenario time to wall time.
    pub fn scaled(&self, d: Duration) -> Duration {
        d.div_f64(self.spec.time_scale.max(0.001))
    }

    /// The environment the connector gets, as the contract lists it.
    pub fn env(&self) -> Vec<(String, String)> {
        let u = &self.running.urls;
        let native = vec![
            ("OMNISIM_POS_URL", u.pos.clone()),
            ("OMNISIM_SHOP_URL", u.shop.clone()),
            ("OMNISIM_PAY_URL", u.pay.clone()),
            ("OMNISIM_API_KEY", u.api_key.clone()),
            ("OMNISIM_CONNECTOR_PORT", self.port.to_string()),
            ("OMNISIM_STATE_DIR", self.state_dir.display().to_string()),
            ("OMNISIM_TIME_SCALE", format!("{}", self.spec.time_scale)),
            // The merchant's settings.
            (
                "OMNISIM_CATALOG_MASTER",
                self.settings.catalog_master.clone(),
            ),
            // The Stripe dialect, for connectors on the official Stripe clients.
            (
                "OMNISIM_STRIPE_API_BASE",
                u.dialects.stripe.api_base.clone(),
            ),
            ("OMNISIM_STRIPE_API_KEY", u.dialects.stripe.api_key.clone()),
            // The Square dialect, for connectors on the official Square clients.
            (
                "OMNISIM_SQUARE_BASE_URL",
                u.dialects.square.base_url.clone(),
            ),
            (
                "OMNISIM_SQUARE_ACCESS_TOKEN",
                u.dialects.square.access_token.clone(),
            ),
            // The Shopify dialect, for connectors on the official Shopify
            // clients (the secret signs its webhooks).
            (
                "OMNISIM_SHOPIFY_SHOP_URL",
                u.dialects.shopify.shop_url.clone(),
            ),
            (
                "OMNISIM_SHOPIFY_API_VERSION",
                u.dialects.shopify.api_version.clone(),
            ),
            (
                "OMNISIM_SHOPIFY_ACCESS_TOKEN",
                u.dialects.shopify.access_token.clone(),
            ),
            (
                "OMNISIM_SHOPIFY_API_SECRET",
                u.dialects.shopify.api_secret.clone(),
            ),
        ];
        let inherited = std::env::var("PYTHONPATH").ok();
        native
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .chain(crate::via::env(
                self.spec.via,
                u,
                self.port,
                inherited.as_deref(),
            ))
            .collect()
    }

    /// Starts the connector (killing a running one first) and waits until it
    /// is ready.
    pub async fn start_connector(&self) -> Result<(), StartError> {
        self.kill_connector().await;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("exec {}", self.spec.command))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = &self.spec.workdir {
            cmd.current_dir(dir);
        }
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| StartError::NotFound(format!("`{}`: {e}", self.spec.command)))?;
        if let Some(out) = child.stdout.take() {
            pump(out, Arc::clone(&self.logs.stdout));
        }
        if let Some(err) = child.stderr.take() {
            pump(err, Arc::clone(&self.logs.stderr));
        }
        let healthz = format!("http://127.0.0.1:{}/healthz", self.port);
        let probe = HttpTransport::new(Duration::from_secs(2));
        let started = tokio::time::Instant::now();
        let deadline = self.spec.ready_after.unwrap_or(self.spec.start_timeout);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                // Give the pumps a moment to drain what it printed.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let detail = match status.code() {
                    Some(127) => {
                        return Err(StartError::NotFound(format!(
                            "`{}`: command not found (exit status 127)",
                            self.spec.command
                        )));
                    }
                    Some(126) => {
                        return Err(StartError::NotFound(format!(
                            "`{}`: not executable (exit status 126)",
                            self.spec.command
                        )));
                    }
                    _ => format!("{status}"),
                };
                return Err(StartError::Exited(detail));
            }
            if self.spec.ready_after.is_none() {
                let request = http::Request::get(&healthz)
                    .body(bytes::Bytes::new())
                    .map_err(|e| StartError::Harness(e.to_string()))?;
                if let Ok(r) = probe.send(request).await
                    && r.status() == http::StatusCode::OK
                {
                    break;
                }
            }
            if started.elapsed() >= deadline {
                if self.spec.ready_after.is_some() {
                    break;
                }
                let _ = child.start_kill();
                let _ = child.wait().await;
                return Err(StartError::NeverHealthy(deadline));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        *self.child.lock().await = Some(child);
        Ok(())
    }

    /// SIGKILLs the connector, if it runs, and reaps it.
    pub async fn kill_connector(&self) {
        if let Some(mut child) = self.child.lock().await.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Where a platform delivers webhooks to the connector: the URL it
    /// registered (`None` when it registered none there).
    pub fn receiver_url(&self, platform: &str) -> Option<String> {
        let sims = &self.running.sims;
        let subs = match platform {
            "shop" => sims.shop.core.webhooks.list(),
            "pay" => sims.pay.core.webhooks.list(),
            _ => sims.pos.core.webhooks.list(),
        };
        subs.into_iter().map(|s| s.url).next()
    }

    /// Waits until nothing moves: no new platform events, webhook delivery
    /// attempts or harness requests for `quiet`, after at least `min` and at
    /// most `max`.
    pub async fn settle(&self, min: Duration, quiet: Duration, max: Duration) {
        use omnisim_simulators::SimControl;
        let started = tokio::time::Instant::now();
        tokio::time::sleep(min).await;
        let s = &self.running.sims;
        let activity = || {
            s.pos.all_events().len()
                + s.shop.all_events().len()
                + s.pay.all_events().len()
                + s.pos.core.webhooks.deliveries().len()
                + s.shop.core.webhooks.deliveries().len()
                + s.pay.core.webhooks.deliveries().len()
        };
        let mut last = activity();
        let mut still_since = tokio::time::Instant::now();
        while started.elapsed() < max {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = activity();
            if now != last {
                last = now;
                still_since = tokio::time::Instant::now();
            } else if still_since.elapsed() >= quiet {
                break;
            }
        }
    }

    /// Stops the connector and the simulators.
    pub async fn shutdown(self) {
        self.kill_connector().await;
        let _ = self.running.shutdown().await;
    }
}

fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}
