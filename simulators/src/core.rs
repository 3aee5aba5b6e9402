//! What every simulator is made of: a [`Platform`] state machine behind one
//! lock together with its event log ([`Simulator`]), and the platform-agnostic
//! machinery around it ([`Core`]): clock, seeded RNG, faults, rate limits,
//! idempotency and webhook delivery.
//!
//! Every change goes through [`Simulator::commit`]: it runs due timers
//! (expiries, settlements), applies the transition, appends its events to the
//! log under the same lock (so feed order is commit order), then hands the new
//! events to the webhook dispatcher.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use omnisim_api::common::{CreateLocation, Faults, Location};
use omnisim_api::{Actor, ActorKind, Clock, EventPage, Scheme, Transport};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::{Notify, watch};

use crate::dialects::{Rendered, Wire};
use crate::error::{SimError, SimResult};
use crate::events::{EVENTS_MAX_AGE, Effects, EventLog};
use crate::idempotency::IdempotencyStore;
use crate::layers::{RateLimiter, Throttle};
use crate::locations::Locations;
use crate::webhooks::{RetryPolicy, Webhooks};

/// Locks a mutex, recovering the data if a panic poisoned it: simulators keep
/// answering rather than fail every later request.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A platform's state machine: plain data, no HTTP, time passed in.
pub trait Platform: Default + Send + 'static {
    /// `pos`, `shop` or `pay`.
    const NAME: &'static str;
    /// How its webhooks are signed.
    const SCHEME: Scheme;
    /// Every event type it emits; webhook subscriptions may name only these.
    const TOPICS: &'static [&'static str];

    /// Its webhook retry schedule, uncompressed.
    fn retry_policy() -> RetryPolicy;

    /// Runs what is due at `fx.now()` (authorization expiry, settlements).
    fn tick(&mut self, _fx: &mut Effects) {}

    /// The next simulated time at which [`Platform::tick`] has work.
    fn next_deadline(&self) -> Option<DateTime<Utc>> {
        None
    }

    /// The whole state, as `GET /_control/snapshot` shows it.
    fn snapshot(&self) -> serde_json::Value;

    /// Its locations, for platforms that have them.
    fn locations(&self) -> Option<&Locations> {
        None
    }

    /// Its locations, mutably.
    fn locations_mut(&mut self) -> Option<&mut Locations> {
        None
    }

    /// Renders a committed event for a subscription made through `wire`
    /// (a dialect): zero, one or several deliveries in that dialect's
    /// envelope and names. Called under the state lock at commit, so the
    /// dialect's id maps are those of the event's own moment. Native
    /// subscriptions never come here; a wire this platform does not speak
    /// renders nothing.
    fn render(&self, wire: Wire, event: &omnisim_api::Event) -> Vec<Rendered> {
        let _ = (wire, event);
        Vec::new()
    }

    /// Puts an event's data in its canonical wire form before it is stored
    /// (the shop writes money with its currency's exponent here, as its
    /// answers do). Nothing by default.
    fn canonical_event(data: &mut serde_json::Value) {
        let _ = data;
    }
}

/// What a simulator keeps, and for how long, of what would otherwise grow
/// forever: its event log and its idempotency keys. The defaults are the real
/// platforms' (30 days of events, 24 h of keys); a long-running server under
/// load also caps their counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Events older than this leave the feed (default 30 days).
    pub events_max_age: Duration,
    /// At most this many events are held (default: no cap besides age).
    pub events_max: Option<usize>,
    /// Idempotency keys older than this are forgotten (default 24 h).
    pub keys_max_age: Duration,
    /// At most this many keys are held; the oldest go first (default 200,000).
    pub keys_max: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            events_max_age: EVENTS_MAX_AGE,
            events_max: None,
            keys_max_age: crate::idempotency::KEYS_MAX_AGE,
            keys_max: crate::idempotency::MAX_KEYS,
        }
    }
}

/// How a simulator is built.
#[derive(Clone)]
pub struct CoreConfig {
    /// The shared simulated clock.
    pub clock: Clock,
    /// The bearer key every request must carry.
    pub api_key: String,
    /// The seed for this simulator's RNG (faults, secrets).
    pub seed: u64,
    /// How webhooks reach their receivers.
    pub webhook_transport: Arc<dyn Transport>,
    /// Divides each platform's own delays, its webhook retries and the
    /// gateway's bank-transfer settlement: 1 in virtual time (the real
    /// schedule costs nothing), 60 for `omnisim serve` and certification
    /// (minutes → seconds).
    pub delay_scale: u32,
}

/// The platform-agnostic machinery of one simulator.
pub struct Core {
    /// `pos`, `shop` or `pay`.
    pub platform: &'static str,
    /// How its webhooks are signed.
    pub scheme: Scheme,
    /// Simulated time.
    pub clock: Clock,
    /// The bearer key: the connector's (a partition cuts off its requests).
    pub api_key: String,
    /// Further keys accepted besides [`Core::api_key`], with who they are:
    /// the harness's own actors and the other platforms, which a partition
    /// does not cut off.
    actor_keys: Mutex<Vec<(String, Actor)>>,
    /// Labels already worked out, by presented credential (bounded).
    identities: Mutex<std::collections::BTreeMap<String, Actor>>,
    seed: u64,
    rng: Mutex<ChaCha8Rng>,
    faults: Mutex<Faults>,
    /// Mirrors `faults.partition`, so held requests wake when it heals.
    partition: watch::Sender<bool>,
    /// Connector requests refused by a partition so far.
    partitioned_requests: AtomicU64,
    pub(crate) rate: Mutex<RateLimiter>,
    /// What the rate limit refused the connector, and what came back too soon.
    pub(crate) throttle: Mutex<Throttle>,
    pub(crate) idempotency: Mutex<IdempotencyStore>,
    retention: Mutex<Retention>,
    /// Webhook subscriptions and delivery.
    pub webhooks: Webhooks,
    /// Divisor of the platform's own business delays (see
    /// [`CoreConfig::delay_scale`]); webhooks keep their own copy.
    delay_scale: u32,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

fn rng_for(platform: &str, seed: u64) -> ChaCha8Rng {
    // Each platform draws from its own stream of the one seed, so adding
    // requests to one simulator never shifts another's random choices.
    let stream = platform
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

impl Core {
    fn new(platform: &'static str, scheme: Scheme, retry: RetryPolicy, config: CoreConfig) -> Self {
        Core {
            platform,
            scheme,
            clock: config.clock,
            api_key: config.api_key,
            actor_keys: Mutex::new(Vec::new()),
            identities: Mutex::new(std::collections::BTreeMap::new()),
            seed: config.seed,
            rng: Mutex::new(rng_for(platform, config.seed)),
            faults: Mutex::new(Faults::default()),
            partition: watch::channel(false).0,
            partitioned_requests: AtomicU64::new(0),
            rate: Mutex::new(RateLimiter::default()),
            throttle: Mutex::new(Throttle::default()),
            idempotency: Mutex::new(IdempotencyStore::default()),
            retention: Mutex::new(Retention::default()),
            webhooks: Webhooks::new(config.webhook_transport, retry, config.delay_scale),
            delay_scale: config.delay_scale.max(1),
        }
    }

    /// Runs `f` with this simulator's seeded RNG.
    pub fn with_rng<T>(&self, f: impl FnOnce(&mut ChaCha8Rng) -> T) -> T {
        f(&mut lock(&self.rng))
    }

    /// A random lowercase hex string of `bytes` bytes, from the seeded RNG.
    pub fn random_hex(&self, bytes: usize) -> String {
        self.with_rng(|rng| {
            (0..bytes)
                .map(|_| format!("{:02x}", rng.random::<u8>()))
                .collect()
        })
    }

    /// The current fault settings.
    pub fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    /// Replaces the fault settings, after checking them.
    pub fn set_faults(&self, faults: Faults) -> SimResult<Faults> {
        validate_faults(&faults)?;
        let mut current = lock(&self.faults);
        *current = faults.clone();
        self.partition.send_replace(faults.partition);
        Ok(faults)
    }

    /// Cuts this platform off from the connector, or heals the cut, leaving
    /// the other fault settings as they are (see [`Faults::partition`]).
    pub fn set_partition(&self, cut: bool) {
        let mut current = lock(&self.faults);
        current.partition = cut;
        self.partition.send_replace(cut);
    }

    /// True while a partition cuts this platform off from the connector.
    pub fn partitioned(&self) -> bool {
        *self.partition.borrow()
    }

    /// Watches the partition flag (`true` while cut).
    pub(crate) fn partition_watch(&self) -> watch::Receiver<bool> {
        self.partition.subscribe()
    }

    /// Counts one connector request refused by a partition.
    pub(crate) fn note_partitioned_request(&self) {
        self.partitioned_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// The rate limit's record of the connector: its refusals, and the
    /// requests it sent again before their Retry-After.
    pub fn throttle(&self) -> omnisim_api::common::ThrottleRecord {
        lock(&self.throttle).record()
    }

    /// How many connector requests a partition has refused so far (held,
    /// then answered 503 `partitioned` or abandoned by their client).
    pub fn partitioned_requests(&self) -> u64 {
        self.partitioned_requests.load(Ordering::Relaxed)
    }

    /// Accepts `key` besides the connector's [`Core::api_key`], for callers
    /// a partition does not cut off (kept across resets): the harness's own
    /// customers, clerks and staff. Their events are attributed to kind
    /// `actor`, labelled `actor:<first 8 hex of the key's SHA-256>`.
    pub fn accept_actor_key(&self, key: &str) {
        self.accept_key_as(key, ActorKind::Actor, &format!("actor:{}", key_digest(key)));
    }

    /// Accepts `key` as a caller of `kind` labelled `label` in the events it
    /// causes (`platform` for the shop and the register calling the
    /// gateway). Like [`Core::accept_actor_key`], a partition does not cut
    /// it off. A `Connector` kind is refused: every key not registered here
    /// is the connector's.
    pub fn accept_key_as(&self, key: &str, kind: ActorKind, label: &str) {
        if kind == ActorKind::Connector {
            return;
        }
        let mut keys = lock(&self.actor_keys);
        if key != self.api_key && !keys.iter().any(|(k, _)| k == key) {
            keys.push((
                key.to_owned(),
                Actor {
                    kind,
                    id: label.to_owned(),
                },
            ));
        }
        lock(&self.identities).clear();
    }

    /// True for a key accepted by [`Core::accept_actor_key`]: the harness's
    /// actors and the platforms' own keys, never the connector's.
    pub fn is_actor_key(&self, key: &str) -> bool {
        lock(&self.actor_keys).iter().any(|(k, _)| k == key)
    }

    /// True for the connector's key or an accepted actor key.
    pub fn accepts_key(&self, key: &str) -> bool {
        key == self.api_key || self.is_actor_key(key)
    }

    /// Who a presented credential is, as events record it: a registered
    /// actor or platform key as registered; any other accepted credential
    /// is the connector (`app:` and the first 8 hex digits of the SHA-256
    /// of its key, the same on every wire for the dialect tokens derived
    /// from [`Core::api_key`]). Never the secret itself.
    pub fn identify(&self, credential: &str) -> Actor {
        if credential.is_empty() {
            return Actor::system();
        }
        if let Some(a) = lock(&self.identities).get(credential) {
            return a.clone();
        }
        let registered = lock(&self.actor_keys)
            .iter()
            .find(|(k, _)| k == credential)
            .map(|(_, a)| a.clone());
        let actor = registered.unwrap_or_else(|| {
            let app = ["sk_test_", "shpat_", "EAAA"]
                .iter()
                .find_map(|p| credential.strip_prefix(p))
                .filter(|rest| *rest == self.api_key)
                .unwrap_or(credential);
            Actor {
                kind: ActorKind::Connector,
                id: format!("app:{}", key_digest(app)),
            }
        });
        let mut cache = lock(&self.identities);
        if cache.len() >= 256 {
            cache.clear();
        }
        cache.insert(credential.to_owned(), actor.clone());
        actor
    }

    fn reset(&self) {
        *lock(&self.rng) = rng_for(self.platform, self.seed);
        *lock(&self.faults) = Faults::default();
        self.partition.send_replace(false);
        *lock(&self.rate) = RateLimiter::default();
        *lock(&self.throttle) = Throttle::default();
        let r = *lock(&self.retention);
        *lock(&self.idempotency) = IdempotencyStore::new(r.keys_max_age, r.keys_max);
        self.webhooks.reset();
    }
}

/// The first 8 hex digits of a key's SHA-256: a label that names a
/// credential without revealing it.
fn key_digest(key: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(key.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks fault settings before they apply: rates are probabilities,
/// latencies well formed, a rate limit not empty (the control API and the
/// scenario validator share it).
pub fn validate_faults(f: &Faults) -> SimResult<()> {
    let rates = [
        ("error_rate", f.error_rate),
        ("timeout_rate", f.timeout_rate),
        ("lost_write_answers", f.lost_write_answers),
        ("webhooks.duplicate_rate", f.webhooks.duplicate_rate),
        ("webhooks.drop_rate", f.webhooks.drop_rate),
    ];
    for (field, rate) in rates {
        if !(0.0..=1.0).contains(&rate) {
            return Err(SimError::bad_value(
                field,
                format!("`{field}` is a probability from 0 to 1, not {rate}"),
            ));
        }
    }
    if f.clock_skew_ms.unsigned_abs() > 86_400_000 {
        return Err(SimError::bad_value(
            "clock_skew_ms",
            "`clock_skew_ms` is at most a day either way (86400000)",
        ));
    }
    if let Some(rl) = &f.rate_limit
        && (rl.capacity == 0 || rl.leak_per_sec == 0)
    {
        return Err(SimError::bad_value(
            "rate_limit",
            "capacity and leak_per_sec must be at least 1",
        ));
    }
    if f.webhooks.duplicate_simultaneous && f.webhooks.duplicate_after_ms.is_some() {
        return Err(SimError::bad_value(
            "webhooks.duplicate_after_ms",
            "a duplicate comes at the same instant (`duplicate_simultaneous`) or \
             `duplicate_after_ms` later, not both",
        ));
    }
    for (field, latency) in [
        ("latency", &f.latency),
        ("webhooks.delay", &f.webhooks.delay),
    ] {
        if let Some(l) = latency {
            crate::layers::validate_latency(field, l)?;
        }
    }
    Ok(())
}

struct Inner<S> {
    state: S,
    log: EventLog,
    /// The clock skew (ms) each event committed under a `clock_skew_ms`
    /// fault was stamped with, by seq. The platform's API never shows it;
    /// the harness reads it ([`SimControl::clock_skews`]) to put events of
    /// different platforms in their true order.
    skewed: std::collections::BTreeMap<u64, i64>,
}

/// One running simulator: its state machine, event log and machinery.
pub struct Simulator<S: Platform> {
    /// The shared machinery.
    pub core: Arc<Core>,
    inner: Mutex<Inner<S>>,
    wake: Notify,
}

impl<S: Platform> std::fmt::Debug for Simulator<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("platform", &S::NAME)
            .finish_non_exhaustive()
    }
}

impl<S: Platform> Simulator<S> {
    /// A simulator in its default state. Inside a tokio runtime it also starts
    /// the timer task that runs [`Platform::tick`] when a deadline comes due.
    pub fn new(config: CoreConfig) -> Arc<Self> {
        let core = Arc::new(Core::new(S::NAME, S::SCHEME, S::retry_policy(), config));
        let sim = Arc::new(Simulator {
            core,
            inner: Mutex::new(Inner {
                state: S::default(),
                log: EventLog::new(S::NAME),
                skewed: std::collections::BTreeMap::new(),
            }),
            wake: Notify::new(),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(Arc::clone(&sim).run_timers());
        }
        sim
    }

    /// Sets how long events and idempotency keys are kept (kept across resets).
    pub fn set_retention(&self, r: Retention) {
        *lock(&self.core.retention) = r;
        lock(&self.core.idempotency).set_limits(r.keys_max_age, r.keys_max);
        lock(&self.inner)
            .log
            .set_retention(r.events_max_age, r.events_max);
    }

    /// Applies one transition atomically: due timers first, then `f`. On
    /// success its events are committed and dispatched; on failure nothing of
    /// `f` is kept (state machines validate before they mutate).
    pub fn commit<T>(&self, f: impl FnOnce(&mut S, &mut Effects) -> SimResult<T>) -> SimResult<T> {
        let now = self.core.clock.now();
        let (result, events, deadline_moved) = {
            let mut inner = lock(&self.inner);
            let before = inner.state.next_deadline();
            let mut fx = Effects::new(now).with_delay_scale(self.core.delay_scale);
            inner.state.tick(&mut fx);
            // Due timers are the platform's own doing; the transition is
            // its caller's (the request's credential, if a request runs it).
            let mut timers = fx.take();
            let caller = crate::layers::current_caller().map(|c| self.core.identify(&c.credential));
            let mut fx = fx.with_actor(caller.clone());
            let result = f(&mut inner.state, &mut fx);
            let mut caused = if result.is_ok() {
                fx.take()
            } else {
                Vec::new()
            };
            for draft in timers.iter_mut().chain(caused.iter_mut()) {
                S::canonical_event(&mut draft.data);
            }
            // A skewed platform clock shows in its events' stamps only.
            let skew_ms = lock(&self.core.faults).clock_skew_ms;
            let skew = chrono::TimeDelta::milliseconds(skew_ms);
            let mut events = inner.log.append(timers, now + skew);
            if !caused.is_empty() {
                let actor = caller.unwrap_or_else(Actor::system);
                events.extend(inner.log.append_as(caused, now + skew, &actor));
            }
            if skew_ms != 0 {
                for e in &events {
                    inner.skewed.insert(e.seq, skew_ms);
                }
            }
            // Dialect subscribers get each event in their own envelope,
            // rendered now, against the state of the event's own moment.
            let rendered: Vec<(Wire, Vec<Rendered>)> = if events.is_empty() {
                Vec::new()
            } else {
                self.core
                    .webhooks
                    .dialect_wires()
                    .into_iter()
                    .map(|wire| {
                        let out = events
                            .iter()
                            .flat_map(|e| inner.state.render(wire, e))
                            .collect();
                        (wire, out)
                    })
                    .collect()
            };
            let moved = inner.state.next_deadline() != before;
            (result, (events, rendered), moved)
        };
        let (events, rendered) = events;
        if !events.is_empty() {
            self.core.webhooks.dispatch(&self.core, events, rendered);
        }
        if deadline_moved {
            self.wake.notify_one();
        }
        result
    }

    /// Reads the state after running due timers.
    pub fn read<T>(&self, f: impl FnOnce(&S) -> T) -> T {
        match self.commit(|s, _| Ok(f(s))) {
            Ok(t) => t,
            Err(_) => unreachable!("a read cannot fail"),
        }
    }

    /// Reads the state together with its event log (after running due
    /// timers): a dialect serves its own event API from the one canonical log.
    pub fn read_with_events<T>(&self, f: impl FnOnce(&S, &EventLog) -> T) -> T {
        self.read(|_| ());
        let inner = lock(&self.inner);
        f(&inner.state, &inner.log)
    }

    /// Runs [`Platform::tick`] whenever its next deadline comes due.
    async fn run_timers(self: Arc<Self>) {
        loop {
            let deadline = lock(&self.inner).state.next_deadline();
            let notified = self.wake.notified();
            match deadline {
                Some(at) => {
                    let when = self.core.clock.instant_at(at);
                    tokio::select! {
                        biased;
                        () = notified => {}
                        () = tokio::time::sleep_until(when) => {
                            self.read(|_| ());
                            // A deadline the clock reached without tick clearing it
                            // (clock advanced by control) is retried a moment later.
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                }
                None => notified.await,
            }
        }
    }
}

/// What the shared routes (feed, subscriptions, locations, control) need from
/// a simulator, whatever its platform.
pub trait SimControl: Send + Sync + 'static {
    /// The shared machinery.
    fn core(&self) -> &Arc<Core>;
    /// Event types this platform emits.
    fn topics(&self) -> &'static [&'static str];
    /// A page of the change feed.
    fn events_page(&self, after: u64, limit: usize) -> EventPage;
    /// Every event so far.
    fn all_events(&self) -> Vec<omnisim_api::Event>;
    /// The skew (ms) of every event stamped by a skewed clock, by seq: the
    /// true commit time of such an event is its `occurred_at` minus this.
    /// For the harness only; no API shows it.
    fn clock_skews(&self) -> std::collections::BTreeMap<u64, i64>;
    /// Back to the default state: no data, no events, no subscriptions, no faults.
    fn reset(&self);
    /// The whole state as JSON.
    fn snapshot(&self) -> serde_json::Value;
    /// Its locations; `None` for platforms without any.
    fn list_locations(&self) -> Option<Vec<Location>>;
    /// Adds a location.
    fn create_location(&self, req: CreateLocation) -> SimResult<Location>;
}

impl<S: Platform> SimControl for Simulator<S> {
    fn core(&self) -> &Arc<Core> {
        &self.core
    }

    fn topics(&self) -> &'static [&'static str] {
        S::TOPICS
    }

    fn events_page(&self, after: u64, limit: usize) -> EventPage {
        self.read(|_| ());
        lock(&self.inner).log.page(after, limit)
    }

    fn all_events(&self) -> Vec<omnisim_api::Event> {
        lock(&self.inner).log.all()
    }

    fn clock_skews(&self) -> std::collections::BTreeMap<u64, i64> {
        lock(&self.inner).skewed.clone()
    }

    fn reset(&self) {
        {
            let mut inner = lock(&self.inner);
            let r = *lock(&self.core.retention);
            inner.state = S::default();
            inner.log = EventLog::with_retention(S::NAME, r.events_max_age, r.events_max);
            inner.skewed.clear();
        }
        self.core.reset();
        self.wake.notify_one();
    }

    fn snapshot(&self) -> serde_json::Value {
        let (state, events) = {
            let inner = lock(&self.inner);
            (inner.state.snapshot(), inner.log.len())
        };
        serde_json::json!({
            "platform": S::NAME,
            "now": self.core.clock.now(),
            "state": state,
            "events": events,
            "subscriptions": self.core.webhooks.list(),
            "faults": self.core.faults(),
        })
    }

    fn list_locations(&self) -> Option<Vec<Location>> {
        lock(&self.inner).state.locations().map(Locations::list)
    }

    fn create_location(&self, req: CreateLocation) -> SimResult<Location> {
        self.commit(|s, _| match s.locations_mut() {
            Some(locs) => locs.create(req),
            None => Err(SimError::not_found(
                "not_found",
                "this platform has no locations",
            )),
        })
    }
}
