//! The load generator of `omnisim bench`: a tokio + hyper HTTP/1.1 client
//! inside the bench process, so every target (our simulators, the axum
//! ceiling, the peers) is driven by the same code on the same cores.
//!
//! Each connection is one task that sends a request, reads the whole answer,
//! and sends the next (closed loop, keep-alive). Latency is measured per
//! request from the first byte written to the last byte read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What every request of a load run looks like.
#[derive(Clone, Debug)]
pub struct Target {
    /// Where to connect.
    pub addr: SocketAddr,
    /// `POST` or `GET`.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// Extra headers (auth, content type).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body, the same for every request.
    pub body: Bytes,
    /// Send a fresh `Idempotency-Key` with every request.
    pub idempotency_keys: bool,
    /// Where the body carries its own idempotency key (GraphQL's
    /// `@idempotent(key:)`): this text in `body` is replaced by a fresh key
    /// on every request, the same one `idempotency_keys` would send.
    pub body_key: Option<&'static str>,
    /// Reach the target through the intercepting proxy at `addr` instead:
    /// `CONNECT` the host, TLS verified against the local CA, then the same
    /// requests in the tunnel (as a connector on a real platform's host).
    pub tunnel: Option<Tunnel>,
}

/// A real platform's host behind the intercepting proxy.
#[derive(Clone, Debug)]
pub struct Tunnel {
    /// The simulated host (`api.stripe.com`).
    pub host: String,
    /// The CA bundle (PEM) to verify it with.
    pub ca_pem: String,
}

impl Target {
    /// A JSON POST to `url` (`http://host:port/path`) with a bearer key.
    pub fn post_json(url: &str, path: &str, key: Option<&str>, body: &serde_json::Value) -> Self {
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let mut headers = vec![(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )];
        if let Some(k) = key
            && let Ok(v) = HeaderValue::from_str(&format!("Bearer {k}"))
        {
            headers.push((http::header::AUTHORIZATION, v));
        }
        Target {
            addr,
            method: Method::POST,
            path: path.to_owned(),
            headers,
            body: Bytes::from(body.to_string()),
            idempotency_keys: false,
            body_key: None,
            tunnel: None,
        }
    }
}

/// When a load run stops.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// After this long (plus the warm-up, not counted).
    After(Duration),
    /// After this many requests in all.
    Count(u64),
}

/// How hard to push.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Warm-up before measuring (requests sent, not counted).
    pub warmup: Duration,
    /// When to stop.
    pub stop: Stop,
}

/// What one load run measured.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// Answers with a 2xx status, counted.
    pub ok: u64,
    /// Answers with another status, or broken connections.
    pub failed: u64,
    /// Measured wall time.
    pub elapsed: Duration,
    /// Latency percentiles in microseconds: p50, p99, max.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Slowest.
    pub max_us: u64,
    /// The first failure seen, for the report.
    pub first_failure: Option<String>,
}

impl Measured {
    /// Successful requests per second.
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Numbers load runs, so idempotency keys never repeat across runs.
static RUNS: AtomicU64 = AtomicU64::new(0);

/// Drives `target` on the current tokio runtime.
pub async fn run(target: Arc<Target>, spec: Spec) -> Measured {
    let run_id = RUNS.fetch_add(1, Ordering::Relaxed);
    let start = Instant::now(); // determinism-ok: benchmark
    let measure_from = start + spec.warmup;
    let deadline = match spec.stop {
        Stop::After(d) => Some(measure_from + d),
        Stop::Count(_) => None,
    };
    let budget = Arc::new(AtomicU64::new(match spec.stop {
        Stop::Count(n) => n,
        Stop::After(_) => u64::MAX,
    }));
    let mut tasks = Vec::new();
    for conn in 0..spec.connections {
        let target = Arc::clone(&target);
        let budget = Arc::clone(&budget);
        tasks.push(tokio::spawn(async move {
            connection((run_id, conn), target, measure_from, deadline, budget).await
        }));
    }
    let mut lat = Vec::new();
    let mut out = Measured::default();
    for t in tasks {
        if let Ok(r) = t.await {
            lat.extend(r.latencies_us);
            out.ok += r.ok;
            out.failed += r.failed;
            if out.first_failure.is_none() {
                out.first_failure = r.first_failure;
            }
        }
    }
    let end = Instant::now(); // determinism-ok: benchmark
    out.elapsed = end.saturating_duration_since(if spec.warmup.is_zero() {
        start
    } else {
        measure_from
    });
    if let Some(d) = deadline {
        // Tasks stop at their first answer past the deadline: count to it.
        out.elapsed = d
            .saturating_duration_since(measure_from)
            .max(Duration::from_millis(1));
    }
    lat.sort_unstable();
    let pct = |p: f64| -> u64 {
        if lat.is_empty() {
            return 0;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        u64::from(lat[i])
    };
    out.p50_us = pct(0.50);
    out.p99_us = pct(0.99);
    out.max_us = lat.last().copied().map_or(0, u64::from);
    out
}

/// A plain HTTP/1.1 connection to the target, and its `Host`.
async fn plain(
    target: &Target,
) -> Result<
    (
        hyper::client::conn::http1::SendRequest<Full<Bytes>>,
        HeaderValue,
    ),
    String,
> {
    let stream = TcpStream::connect(target.addr)
        .await
        .map_err(|_| format!("cannot connect to {}", target.addr))?;
    let _ = stream.set_nodelay(true);
    let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| "HTTP/1.1 handshake failed".to_owned())?;
    tokio::spawn(async move {
        let _ = driver.await;
    });
    let host = HeaderValue::from_str(&target.addr.to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("localhost"));
    Ok((sender, host))
}

struct ConnResult {
    ok: u64,
    failed: u64,
    latencies_us: Vec<u32>,
    first_failure: Option<String>,
}

async fn connection(
    (run_id, conn): (u64, usize),
    target: Arc<Target>,
    measure_from: Instant,
    deadline: Option<Instant>,
    budget: Arc<AtomicU64>,
) -> ConnResult {
    let mut r = ConnResult {
        ok: 0,
        failed: 0,
        latencies_us: Vec::with_capacity(1 << 14),
        first_failure: None,
    };
    let mut n: u64 = 0;
    'reconnect: loop {
        let (mut sender, host) = match &target.tunnel {
            Some(t) => {
                let tunnel = match omnisim_simulators::intercept::client::roots(&t.ca_pem) {
                    Ok(roots) => {
                        omnisim_simulators::intercept::client::connect(target.addr, &t.host, roots)
                            .await
                    }
                    Err(e) => Err(e),
                };
                match (tunnel, HeaderValue::from_str(&t.host)) {
                    (Ok(sender), Ok(host)) => (sender, host),
                    (Err(e), _) => {
                        r.failed += 1;
                        r.first_failure
                            .get_or_insert_with(|| format!("tunnel to {}: {e}", t.host));
                        return r;
                    }
                    (_, Err(e)) => {
                        r.failed += 1;
                        r.first_failure.get_or_insert_with(|| e.to_string());
                        return r;
                    }
                }
            }
            None => match plain(&target).await {
                Ok(pair) => pair,
                Err(e) => {
                    r.failed += 1;
                    r.first_failure.get_or_insert(e);
                    return r;
                }
            },
        };
        loop {
            let now = Instant::now(); // determinism-ok: benchmark
            if deadline.is_some_and(|d| now >= d) {
                return r;
            }
            let counted = now >= measure_from;
            if counted
                && budget
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
                    .is_err()
            {
                return r;
            }
            n += 1;
            let mut req = Request::builder()
                .method(target.method.clone())
                .uri(target.path.as_str())
                .header(http::header::HOST, host.clone());
            for (k, v) in &target.headers {
                req = req.header(k, v);
            }
            let key = format!("bench-{run_id}-{conn}-{n}");
            if target.idempotency_keys {
                req = req.header("idempotency-key", key.as_str());
            }
            let body = match target.body_key {
                Some(mark) => {
                    Bytes::from(String::from_utf8_lossy(&target.body).replacen(mark, &key, 1))
                }
                None => target.body.clone(),
            };
            let Ok(req) = req.body(Full::new(body)) else {
                return r;
            };
            if sender.ready().await.is_err() {
                // The server closed the connection between requests (no
                // keep-alive): nothing was sent, reconnect.
                continue 'reconnect;
            }
            let sent = Instant::now(); // determinism-ok: benchmark
            let answer = match sender.send_request(req).await {
                Ok(resp) => {
                    let status = resp.status();
                    match resp.into_body().collect().await {
                        Ok(body) => Ok((status, body.to_bytes())),
                        Err(e) => Err(e.to_string()),
                    }
                }
                Err(e) => Err(e.to_string()),
            };
            let took = sent.elapsed(); // determinism-ok: benchmark
            if !counted {
                if answer.is_err() {
                    continue 'reconnect;
                }
                continue;
            }
            match answer {
                Ok((status, _)) if status.is_success() => {
                    r.ok += 1;
                    r.latencies_us
                        .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
                }
                Ok((status, body)) => {
                    r.failed += 1;
                    r.first_failure.get_or_insert_with(|| {
                        format!("{status}: {}", String::from_utf8_lossy(&body))
                    });
                }
                Err(e) => {
                    r.failed += 1;
                    r.first_failure
                        .get_or_insert_with(|| format!("connection error: {e}"));
                    continue 'reconnect;
                }
            }
        }
    }
}
