//! Middleware every simulator runs in front of its handlers, outermost first:
//! bearer auth, then rate limit and injected faults. (Idempotency sits inside
//! them, next to the handlers, so a rejected or failed-by-fault request never
//! uses up its key.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use omnisim_api::common::{EarlyRetry, Faults, Latency, RateLimit, ThrottleRecord};
use rand::Rng;
use rand_distr::{Distribution, LogNormal};

use crate::core::{Core, lock};
use crate::dialects::{Presented, Refusal, Wire, WireRule};
use crate::error::{ErrorKind, SimError, SimResult};

/// Paths that need no key and bypass faults.
fn is_open_path(path: &str) -> bool {
    path == "/healthz" || path == "/openapi.json"
}

/// The control API is exempt from faults: the harness must always reach it.
fn is_control_path(path: &str) -> bool {
    path.starts_with("/_control")
}

/// What the middleware runs on: the simulator's machinery and how its
/// requests get their wire (native, or a dialect by path or fixed).
#[derive(Clone, Debug)]
pub struct StackState {
    /// The simulator's shared machinery.
    pub core: Arc<Core>,
    /// Which wire each request speaks.
    pub wires: WireRule,
}

/// Who is calling: the credential a request presented, and the wire it
/// spoke. Set by [`stack`] for the whole of a request's handling (a task
/// local), so a state transition can record who caused it without every
/// handler passing it along; see [`current_caller`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The credential as presented (an API key, a dialect's token).
    pub credential: Arc<str>,
    /// The wire the request spoke.
    pub wire: Wire,
}

tokio::task_local! {
    static CALLER: Caller;
}

/// The caller of the request being handled on this task, if any: `None` for
/// work no request caused (timers such as authorization expiry).
pub fn current_caller() -> Option<Caller> {
    CALLER.try_with(Caller::clone).ok()
}

/// Runs `work` as a task of its own, the caller carried on, so that it
/// finishes even when the future awaiting it is dropped (its client hung
/// up). `None` when that task failed (it panicked).
pub(crate) async fn detached<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
) -> Option<T> {
    let task = match current_caller() {
        Some(who) => tokio::spawn(CALLER.scope(who, work)),
        None => tokio::spawn(work),
    };
    task.await.ok()
}

/// Every simulator's middleware, outermost first: auth in the request's
/// wire, then rate limit and injected faults, then idempotency next to the
/// handlers. One layer rather than three: each layer costs a boxed hop per
/// request, and exploration makes millions of them. Its own refusals are
/// rendered in the request's wire ([`Wire::error_response`]).
pub async fn stack(State(state): State<StackState>, req: Request, next: Next) -> Response {
    let core = state.core;
    let path = req.uri().path().to_owned();
    let wire = state.wires.wire(&path);
    // The presented credential, read once: auth checks it, the rate limit
    // counts by it, a partition cuts off the connector's, idempotency keys
    // are its own.
    let presented = wire.credential(req.headers());
    if let Some(refused) = refuse_auth(&core, wire, &path, &presented) {
        return wire.error_response(&path, refused);
    }
    let caller: Arc<str> = match presented {
        Presented::Key(key) => Arc::from(key.as_ref()),
        Presented::Missing | Presented::Malformed => Arc::from(""),
    };
    let inner = Arc::clone(&core);
    let scope = Arc::clone(&caller);
    let who = Caller {
        credential: Arc::clone(&caller),
        wire,
    };
    CALLER
        .scope(
            who,
            faults(core, req, wire, &caller, move |req| {
                crate::idempotency::layer(inner, scope, wire, req, next)
            }),
        )
        .await
}

/// Auth in the request's wire: 401 `unauthorized` without an accepted credential.
fn refuse_auth(core: &Core, wire: Wire, path: &str, presented: &Presented<'_>) -> Option<SimError> {
    if is_open_path(path) {
        return None;
    }
    let unauthorized = |message: String| {
        Some(SimError::new(ErrorKind::Unauthorized, "unauthorized", message).field("Authorization"))
    };
    match presented {
        Presented::Key(key) => match wire.accepts(core, key) {
            Ok(()) => None,
            Err(Refusal::Missing) => unauthorized(missing_credential(wire)),
            Err(Refusal::Invalid(why)) => unauthorized(why),
        },
        Presented::Missing => unauthorized(missing_credential(wire)),
        Presented::Malformed => unauthorized(format!(
            "the credential is malformed; {}",
            missing_credential(wire)
        )),
    }
}

fn missing_credential(wire: Wire) -> String {
    match wire {
        Wire::Native => "send `Authorization: Bearer <key>`".into(),
        Wire::Stripe => "You did not provide an API key. Send `Authorization: Bearer sk_test_…` \
                         (or HTTP Basic auth with the key as the user name)."
            .into(),
        Wire::Shopify => "send the Admin API access token in `X-Shopify-Access-Token`".into(),
        Wire::Square => "send `Authorization: Bearer <access token>`".into(),
    }
}

/// A leaky bucket per API key, in thousandths of a request.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: BTreeMap<String, (u64, DateTime<Utc>)>,
}

/// The answer of one rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketReading {
    /// Requests in the bucket after this one (rounded up).
    pub used: u64,
    /// Bucket size.
    pub capacity: u32,
    /// When refused: seconds until a request fits.
    pub retry_after_secs: Option<u64>,
}

impl RateLimiter {
    /// Counts one request by `key` at `now` against `limit`.
    pub fn check(&mut self, key: &str, limit: &RateLimit, now: DateTime<Utc>) -> BucketReading {
        const UNIT: u64 = 1000;
        let (level, last) = self.buckets.entry(key.to_owned()).or_insert((0, now));
        let elapsed_ms = u64::try_from((now - *last).num_milliseconds()).unwrap_or(0);
        // leak_per_sec requests per 1000 ms = leak_per_sec thousandths per ms.
        *level = level.saturating_sub(elapsed_ms.saturating_mul(u64::from(limit.leak_per_sec)));
        *last = now;
        let capacity = u64::from(limit.capacity) * UNIT;
        if *level + UNIT > capacity {
            let over = *level + UNIT - capacity;
            let wait_ms = over.div_ceil(u64::from(limit.leak_per_sec));
            BucketReading {
                used: level.div_ceil(UNIT),
                capacity: limit.capacity,
                retry_after_secs: Some(wait_ms.div_ceil(1000).max(1)),
            }
        } else {
            *level += UNIT;
            BucketReading {
                used: level.div_ceil(UNIT),
                capacity: limit.capacity,
                retry_after_secs: None,
            }
        }
    }
}

/// The connector's requests the rate limit refused, and those it sent again
/// before the Retry-After it was given: a request is the same when its
/// method, path and query, and its `Idempotency-Key` (or, without one, its
/// body) are. Actors' requests are not watched.
#[derive(Debug, Default)]
pub struct Throttle {
    /// Refused requests still inside their wait: (refused at, until, seconds).
    waiting: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>, u64)>,
    record: ThrottleRecord,
}

/// How many early requests a [`ThrottleRecord`] keeps.
const EARLY_KEPT: usize = 1000;

impl Throttle {
    /// Whether anything is still waiting (a request must then be identified
    /// even after the rate limit was lifted).
    fn watching(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Notes a request as it arrives: too soon if a 429 told it to wait.
    fn arrived(&mut self, request: &str, identity: &str, now: DateTime<Utc>) {
        self.waiting.retain(|_, (_, until, _)| *until > now);
        if let Some((refused_at, _, secs)) = self.waiting.get(identity) {
            self.record.early_total += 1;
            if self.record.early.len() < EARLY_KEPT {
                self.record.early.push(EarlyRetry {
                    at: now,
                    request: request.to_owned(),
                    refused_at: *refused_at,
                    retry_after_secs: *secs,
                });
            }
        }
    }

    /// Notes a 429 that named a wait of `secs`.
    fn refused(&mut self, identity: String, now: DateTime<Utc>, secs: u64) {
        self.record.refused += 1;
        let until =
            now + chrono::TimeDelta::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000));
        self.waiting.insert(identity, (now, until, secs));
    }

    /// What was recorded.
    pub fn record(&self) -> ThrottleRecord {
        self.record.clone()
    }
}

/// `METHOD /path?query` of a request, and what makes it the same request
/// when it comes again (with the request to pass on). A body over the
/// simulators' limit is refused here as the handler would refuse it.
async fn identify(req: Request) -> Result<(String, String, Request), SimError> {
    let shown = format!(
        "{} {}",
        req.method(),
        req.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    if req.method() == http::Method::GET || req.method() == http::Method::HEAD {
        return Ok((shown.clone(), shown, req));
    }
    if let Some(key) = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
    {
        let identity = format!("{shown} key={key}");
        return Ok((shown, identity, req));
    }
    use sha2::Digest;
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, crate::extract::BODY_LIMIT_BYTES)
        .await
        .map_err(|_| SimError::body_too_large())?;
    let identity = format!("{shown} body={:x}", sha2::Sha256::digest(&bytes));
    Ok((
        shown,
        identity,
        Request::from_parts(parts, axum::body::Body::from(bytes)),
    ))
}

/// Checks a latency distribution's parameters.
pub fn validate_latency(field: &str, latency: &Latency) -> SimResult<()> {
    match latency {
        Latency::Uniform { min_ms, max_ms } if min_ms > max_ms => Err(SimError::bad_value(
            field,
            "uniform latency needs min_ms <= max_ms",
        )),
        Latency::Lognormal { p50_ms, p99_ms } if *p50_ms == 0 || p99_ms < p50_ms => Err(
            SimError::bad_value(field, "log-normal latency needs 0 < p50_ms <= p99_ms"),
        ),
        _ => Ok(()),
    }
}

/// Draws one delay from a latency distribution (capped at ten minutes).
pub fn sample_latency(latency: &Latency, rng: &mut impl Rng) -> Duration {
    let ms = match *latency {
        Latency::Fixed { ms } => ms,
        Latency::Uniform { min_ms, max_ms } => rng.random_range(min_ms..=max_ms),
        Latency::Lognormal { p50_ms, p99_ms } => {
            // p99 = p50 · e^(2.326·σ)  ⇒  σ = ln(p99/p50) / 2.326
            let mu = (p50_ms as f64).ln();
            let sigma = ((p99_ms as f64) / (p50_ms as f64)).ln() / 2.326_347_9;
            match LogNormal::new(mu, sigma) {
                Ok(d) => d.sample(rng).round() as u64,
                Err(_) => p50_ms,
            }
        }
    };
    Duration::from_millis(ms.min(600_000))
}

/// How long a partition holds a connector request before answering 503
/// `partitioned`, if it has not healed by then.
pub const PARTITION_HOLD: Duration = Duration::from_secs(30);

/// A partition drops the connector's requests (any credential but the
/// harness's actors' and the platforms' own keys):
/// held without an answer until the cut heals or [`PARTITION_HOLD`] passes,
/// then refused with 503 `partitioned`, never applied.
fn cut_off(core: &Core, caller: &str) -> bool {
    core.partitioned() && !core.is_actor_key(caller)
}

/// Holds a request [`cut_off`] by a partition, then refuses it.
async fn partitioned(core: &Core, wire: Wire, path: &str) -> Response {
    core.note_partitioned_request();
    let mut cut = core.partition_watch();
    tokio::select! {
        biased;
        _ = cut.wait_for(|cut| !*cut) => {}
        () = tokio::time::sleep(PARTITION_HOLD) => {}
    }
    wire.error_response(
        path,
        SimError::new(
            ErrorKind::Unavailable,
            "partitioned",
            "partitioned (nemesis): this platform was cut off from the connector; \
             nothing was applied",
        ),
    )
}

/// The largest GraphQL body the read-only fault reads to tell a query from
/// a mutation; a larger one counts as a write.
const GRAPHQL_PEEK_MAX: usize = 1 << 20;

/// Whether `req` would change something (for the read-only fault), and the
/// request to pass on. `GET` and `HEAD` read; on the GraphQL endpoint, a
/// `POST` reads when the operation it runs is a query (its body is read to
/// tell, as the dialect reads it).
async fn is_write(req: Request) -> (bool, Request) {
    let method = req.method().clone();
    if method == http::Method::GET || method == http::Method::HEAD {
        return (false, req);
    }
    if !req.uri().path().ends_with("/graphql.json") {
        return (true, req);
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, GRAPHQL_PEEK_MAX).await else {
        return (true, Request::from_parts(parts, axum::body::Body::empty()));
    };
    let reads = crate::dialects::shopify::graphql_reads_only(&parts.headers, &bytes);
    (
        !reads,
        Request::from_parts(parts, axum::body::Body::from(bytes)),
    )
}

/// What the fault layer decided for one request.
struct Plan {
    latency: Duration,
    reject: Option<SimError>,
    timeout: Option<Duration>,
    bucket: Option<BucketReading>,
}

/// `connector_write`: the request is a write with the connector's key (for
/// `lost_write_answers`).
fn plan(core: &Core, faults: &Faults, api_key: &str, connector_write: bool) -> Plan {
    let bucket = faults
        .rate_limit
        .as_ref()
        .map(|limit| lock(&core.rate).check(api_key, limit, core.clock.now()));
    core.with_rng(|rng| {
        let latency = faults
            .latency
            .as_ref()
            .map_or(Duration::ZERO, |l| sample_latency(l, rng));
        let mut reject = None;
        if let Some(BucketReading {
            retry_after_secs: Some(secs),
            ..
        }) = bucket
        {
            reject = Some(
                SimError::new(
                    ErrorKind::RateLimited,
                    "rate_limited",
                    format!("too many requests; retry after {secs} s"),
                )
                .retry_after(secs),
            );
        } else if faults.error_rate > 0.0 && rng.random_bool(faults.error_rate) {
            reject = Some(SimError::new(
                ErrorKind::Unavailable,
                "service_unavailable",
                "injected fault: the service is unavailable; nothing was applied",
            ));
        }
        let mut drawn = |rate: f64| rate > 0.0 && rng.random_bool(rate);
        let lost = reject.is_none()
            && (drawn(faults.timeout_rate)
                || (connector_write && drawn(faults.lost_write_answers)));
        let timeout = lost.then(|| Duration::from_millis(faults.timeout_ms.max(1)));
        Plan {
            latency,
            reject,
            timeout,
            bucket,
        }
    })
}

/// Rate limit, latency, 5xx and timeouts, as `POST /_control/faults` sets
/// them, around `inner`, for a request from `caller` (its API key).
async fn faults<F, Fut>(
    core: Arc<Core>,
    req: Request,
    wire: Wire,
    caller: &str,
    inner: F,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response> + Send + 'static,
{
    let path = req.uri().path().to_owned();
    if is_open_path(&path) || is_control_path(&path) {
        return inner(req).await;
    }
    if cut_off(&core, caller) {
        return partitioned(&core, wire, &path).await;
    }
    let faults = core.faults();
    let connector = !core.is_actor_key(caller);
    let (writes, req) = if faults.read_only || (connector && faults.lost_write_answers > 0.0) {
        is_write(req).await
    } else {
        (false, req)
    };
    let req = if faults.read_only {
        if writes {
            return wire.error_response(
                &path,
                SimError::new(
                    ErrorKind::Unavailable,
                    "read_only",
                    "injected fault: the platform is read-only for now; reads are served, \
                     writes refused, and nothing was applied",
                ),
            );
        }
        req
    } else {
        req
    };
    // The connector's requests are watched while a rate limit holds, and
    // after it, while a wait it named still runs.
    let watched = connector && (faults.rate_limit.is_some() || lock(&core.throttle).watching());
    let (req, identity) = if watched {
        let (shown, identity, req) = match identify(req).await {
            Ok(identified) => identified,
            Err(e) => return wire.error_response(&path, e),
        };
        lock(&core.throttle).arrived(&shown, &identity, core.clock.now());
        (req, Some(identity))
    } else {
        (req, None)
    };
    let plan = plan(&core, &faults, caller, connector && writes);
    if let (Some(identity), Some(secs)) = (identity, plan.bucket.and_then(|b| b.retry_after_secs)) {
        lock(&core.throttle).refused(identity, core.clock.now(), secs);
    }
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    let mut response = match plan.reject {
        Some(e) => wire.error_response(&path, e),
        None => {
            // Once accepted, a shop or gateway request runs to completion even
            // if its caller hangs up, as a platform's own transaction does: a
            // client that times out must not leave half a checkout behind (an
            // authorization at the gateway without its order). The register
            // is different on purpose: a sale at the counter is abandoned when
            // the register gives up, releasing its units and voiding its
            // authorizations (see the POS's pending sales), until money has
            // moved that voiding cannot undo (a gift card loaded, a refund
            // made): from there the POS finishes the sale or return itself.
            // A read changes nothing, so it has nothing to finish.
            let response = if core.platform == "pos" || req.method() == http::Method::GET {
                inner(req).await
            } else {
                match detached(inner(req)).await {
                    Some(r) => r,
                    None => wire.error_response(
                        &path,
                        SimError::new(
                            ErrorKind::Unavailable,
                            "internal_error",
                            "the request failed inside the simulator",
                        ),
                    ),
                }
            };
            match plan.timeout {
                Some(hang) => {
                    // Applied, but the answer never comes back in time.
                    tokio::time::sleep(hang).await;
                    wire.error_response(
                        &path,
                        SimError::new(
                            ErrorKind::Timeout,
                            "timeout",
                            "injected fault: the request was applied but its answer was lost",
                        ),
                    )
                }
                None => response,
            }
        }
    };
    if let Some(b) = plan.bucket
        && let Ok(v) = HeaderValue::from_str(&format!("{}/{}", b.used, b.capacity))
    {
        let name = if core.platform == "shop" {
            "x-shopify-shop-api-call-limit"
        } else {
            "x-ratelimit-usage"
        };
        response.headers_mut().insert(name, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use rand::SeedableRng;

    #[test]
    fn a_graphql_query_reads_and_a_mutation_writes() {
        let is_query = |document: &str| {
            let body = serde_json::to_vec(&serde_json::json!({ "query": document })).unwrap();
            crate::dialects::shopify::graphql_reads_only(&http::HeaderMap::new(), &body)
        };
        assert!(is_query("{ shop { name } }"));
        assert!(is_query(
            "# first\n  query Products($n: Int) { products(first: $n) { id } }"
        ));
        assert!(is_query("query{ shop { name } }"));
        assert!(is_query(
            "fragment F on Shop { name } query { shop { ...F } }"
        ));
        assert!(!is_query("mutation { productUpdate { id } }"));
        assert!(!is_query("fragment F on Shop { name }"));
        assert!(!is_query("subscription { x }"));
        assert!(!is_query(""));
    }

    #[test]
    fn shopify_bucket_fills_at_40_and_leaks_2_per_second() {
        let limit = RateLimit {
            capacity: 40,
            leak_per_sec: 2,
        };
        let t0 = DateTime::from_timestamp(1_000, 0).unwrap();
        let mut rl = RateLimiter::default();
        for i in 1..=40 {
            let r = rl.check("k", &limit, t0);
            assert_eq!((r.used, r.retry_after_secs), (i, None));
        }
        let refused = rl.check("k", &limit, t0);
        assert_eq!(refused.retry_after_secs, Some(1));
        // Half a second later one request has leaked out.
        let r = rl.check("k", &limit, t0 + TimeDelta::milliseconds(500));
        assert_eq!((r.used, r.retry_after_secs), (40, None));
        // Another key has its own bucket.
        assert_eq!(rl.check("other", &limit, t0).retry_after_secs, None);
    }

    #[test]
    fn lognormal_latency_has_the_asked_median() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let l = Latency::Lognormal {
            p50_ms: 20,
            p99_ms: 200,
        };
        let mut v: Vec<u64> = (0..2001)
            .map(|_| sample_latency(&l, &mut rng).as_millis() as u64)
            .collect();
        v.sort_unstable();
        assert!((17..=23).contains(&v[1000]), "median {}", v[1000]);
        assert!((120..=320).contains(&v[1980]), "p99 {}", v[1980]);
    }
}
