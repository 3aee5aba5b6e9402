//! The engine at run time: its webhook receiver, its queue and worker, its
//! change-feed poller, and retries.
//!
//! Events arrive two ways and meet in one place, [`Engine::process`]:
//! - **Webhooks** (fast path): verified, deduplicated against applied and
//!   queued ids under one lock (no check-then-insert race), queued, answered
//!   200 at once; a worker applies them in arrival order.
//! - **Change feeds** (the guarantee): the poller reads each feed from its
//!   durable cursor, applies what was not applied yet, and moves the cursor only
//!   past events that were applied. A webhook lost, dropped or acknowledged just
//!   before a crash is repaired here.
//!
//! One async lock serializes application, so the state needs no finer locking
//! and a run is deterministic under virtual time.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use omnisim_api::common::CreateWebhookSubscription;
use omnisim_api::pay::PayClient;
use omnisim_api::pos::PosClient;
use omnisim_api::shop::ShopClient;
use omnisim_api::{ApiClient, ApiError, Clock, Event, Transport};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{Endpoints, Strategy, SyncMode};
use crate::defect::Defect;
use crate::state::{EngineState, Plat, SubscriptionRecord};
use crate::store::{Store, StoreError};

/// The most events waiting in the webhook queue; past it the receiver answers
/// 503 and the platform retries later.
pub const QUEUE_MAX: usize = 10_000;
/// The most recent sync errors kept for `/status`.
pub const ERRORS_MAX: usize = 1000;
/// Attempts per outgoing call before giving up on it for this round.
pub const ATTEMPTS_MAX: u32 = 6;
/// Start-up rounds before a connector whose platforms keep failing
/// transiently gives up: with [`START_WAIT_MAX`] between them, about a day.
pub const START_ROUNDS_MAX: u32 = 1440;
/// The longest wait between two start-up rounds.
pub const START_WAIT_MAX: Duration = Duration::from_secs(60);

/// How the engine is built.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Where the platforms are.
    pub endpoints: Endpoints,
    /// What it does.
    pub strategy: Strategy,
    /// Seed for retry jitter.
    pub seed: u64,
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The durable store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A platform refused or could not be reached during start-up.
    #[error("while {doing}: {source}")]
    Api {
        /// What the engine was doing.
        doing: String,
        /// The failure.
        #[source]
        source: ApiError,
    },
}

/// A problem the engine met and reported instead of guessing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyncError {
    /// Stable code: `unmapped_sku`, `write_failed`, `payment_mismatch`, …
    pub code: String,
    /// What happened.
    pub message: String,
    /// The event being applied, if any.
    pub event_id: Option<String>,
    /// When, in simulated time.
    pub at: DateTime<Utc>,
}

#[derive(Debug, Default, Serialize)]
struct Counters {
    received: u64,
    duplicates: u64,
    rejected_signatures: u64,
    applied: u64,
    failed: u64,
    poll_rounds: u64,
    /// Catalog writes on the side that does not own the field.
    catalog_conflicts: u64,
}

/// The reference connector.
pub struct Engine {
    pub(crate) cfg: EngineConfig,
    pub(crate) clock: Clock,
    pub(crate) pos: PosClient,
    pub(crate) shop: ShopClient,
    pub(crate) pay: PayClient,
    store: Arc<dyn Store>,
    state: Mutex<EngineState>,
    work: tokio::sync::Mutex<()>,
    queue: mpsc::Sender<(Plat, Event)>,
    queue_rx: Mutex<Option<mpsc::Receiver<(Plat, Event)>>>,
    queued: Mutex<BTreeSet<String>>,
    rng: Mutex<ChaCha8Rng>,
    ready: AtomicBool,
    queue_depth: AtomicU64,
    counters: Mutex<Counters>,
    errors: Mutex<VecDeque<SyncError>>,
    feed_heads: Mutex<BTreeMap<Plat, u64>>,
    undeduped: AtomicU64,
    /// Orders changed since the last three-way match.
    pub(crate) to_match: Mutex<BTreeSet<String>>,
    /// POS location ids seen so far (locations are never deleted).
    pub(crate) pos_locations: Mutex<BTreeSet<String>>,
    /// Orders whose store reservation waits for the next pass
    /// ([`Defect::ReserveLag`] only).
    pub(crate) pending_reservations: Mutex<BTreeSet<String>>,
    /// When this process started, in simulated ms ([`Defect::CrashReapplies`]).
    boot_ms: i64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("strategy", &self.cfg.strategy)
            .finish_non_exhaustive()
    }
}

/// Whether a failed call is worth trying again with the same idempotency
/// key: a 429, a 5xx, no answer, or 409 `idempotency_key_in_use` (the same
/// request is still running on the platform, perhaps the engine's own earlier
/// try that timed out; Stripe and our simulators both say "retry later"). A
/// refusal it is not: taking it for one drops the write for good.
pub(crate) fn worth_retrying(e: &ApiError) -> bool {
    e.is_retryable() || e.code() == Some("idempotency_key_in_use")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The engine's idempotency keys and write references derive from the event
/// that caused the write, so a retried or re-applied event never applies twice.
pub const REFERENCE_PREFIX: &str = "omnisim-engine:";

impl Engine {
    /// Builds an engine from its durable state; nothing runs until [`Engine::start`].
    pub fn new(
        cfg: EngineConfig,
        transport: Arc<dyn Transport>,
        store: Arc<dyn Store>,
        clock: Clock,
    ) -> Result<Arc<Self>, EngineError> {
        let state = EngineState::from_store(store.load_all()?);
        let client =
            |url: &str| ApiClient::new(Arc::clone(&transport), url, cfg.endpoints.api_key.clone());
        let (tx, rx) = mpsc::channel(QUEUE_MAX);
        Ok(Arc::new(Engine {
            pos: PosClient(client(&cfg.endpoints.pos_url)),
            shop: ShopClient(client(&cfg.endpoints.shop_url)),
            pay: PayClient(client(&cfg.endpoints.pay_url)),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(cfg.seed)),
            cfg,
            clock: clock.clone(),
            store,
            state: Mutex::new(state),
            work: tokio::sync::Mutex::new(()),
            queue: tx,
            queue_rx: Mutex::new(Some(rx)),
            queued: Mutex::new(BTreeSet::new()),
            ready: AtomicBool::new(false),
            queue_depth: AtomicU64::new(0),
            counters: Mutex::new(Counters::default()),
            errors: Mutex::new(VecDeque::new()),
            feed_heads: Mutex::new(BTreeMap::new()),
            undeduped: AtomicU64::new(0),
            to_match: Mutex::new(BTreeSet::new()),
            pos_locations: Mutex::new(BTreeSet::new()),
            pending_reservations: Mutex::new(BTreeSet::new()),
            boot_ms: clock.now().timestamp_millis(),
        }))
    }

    pub(crate) fn client(&self, p: Plat) -> &ApiClient {
        match p {
            Plat::Pos => &self.pos.0,
            Plat::Shop => &self.shop.0,
            Plat::Pay => &self.pay.0,
        }
    }

    /// The idempotency key for a write. Keys derive from the causing event, so
    /// a re-applied event is replayed by the platform, not applied twice. With
    /// deduplication switched off (a deliberate bug) every write gets a fresh
    /// key, so duplicates really apply twice.
    pub(crate) fn key(&self, base: String) -> String {
        if !self.cfg.strategy.dedupe || self.has(Defect::DedupeRace) {
            format!("{base}:{}", self.undeduped.fetch_add(1, Ordering::SeqCst))
        } else if self.has(Defect::CrashReapplies) {
            // Unique per process, as a key drawn at random would be.
            format!("{base}:{}", self.boot_ms)
        } else {
            base
        }
    }

    /// The idempotency key of a stock write: `None` with
    /// [`Defect::NoIdempotencyKey`].
    pub(crate) fn stock_key(&self, base: String) -> Option<String> {
        (!self.has(Defect::NoIdempotencyKey)).then(|| self.key(base))
    }

    /// Whether a deliberate failure mode is switched on.
    pub(crate) fn has(&self, d: Defect) -> bool {
        self.cfg.strategy.defects.contains(&d)
    }

    /// Holds the application lock: nothing else is applied meanwhile.
    pub(crate) async fn exclusive(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.work.lock().await
    }

    /// Commits the state writes made so far, reporting a failure.
    pub(crate) fn commit_or_report(&self) {
        if let Err(e) = self.commit() {
            self.report("store_failed", e.to_string(), None);
        }
    }

    /// The strategy in force.
    pub fn strategy(&self) -> &Strategy {
        &self.cfg.strategy
    }

    pub(crate) fn with_state<T>(&self, f: impl FnOnce(&mut EngineState) -> T) -> T {
        f(&mut lock(&self.state))
    }

    fn webhook_url(&self, p: Plat) -> String {
        format!(
            "{}/webhooks/{}",
            self.cfg.endpoints.public_url.trim_end_matches('/'),
            p.name()
        )
    }

    /// Registers webhooks (in webhook mode), positions fresh cursors at the
    /// feeds' ends, and starts the worker and the poller.
    ///
    /// A platform that fails transiently throughout start-up ([`worth_retrying`]
    /// after every call's own retries) does not stop it: start-up begins again
    /// after 1 s, 2 s, 4 s … up to [`START_WAIT_MAX`], for at most
    /// [`START_ROUNDS_MAX`] rounds, as a supervisor restarts a connector that
    /// could not start. Every step is idempotent, so a round repeats nothing.
    /// A refusal (a bad key, a store failure) ends it at once.
    pub async fn start(self: &Arc<Self>) -> Result<Vec<JoinHandle<()>>, EngineError> {
        let mut wait = Duration::from_secs(1);
        let mut round = 1;
        loop {
            match self.start_once().await {
                Err(EngineError::Api { doing, source })
                    if worth_retrying(&source) && round < START_ROUNDS_MAX =>
                {
                    tracing::info!(%doing, error = %source, ?wait, round, "start-up failed; trying again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(START_WAIT_MAX);
                    round += 1;
                }
                result => return result,
            }
        }
    }

    async fn start_once(self: &Arc<Self>) -> Result<Vec<JoinHandle<()>>, EngineError> {
        if self.cfg.strategy.sync == SyncMode::Webhook {
            for p in Plat::ALL {
                self.subscribe(p).await?;
            }
        }
        let fresh_install = self.with_state(|s| s.cursors.is_empty());
        crate::sync::map_catalog(self, fresh_install).await?;
        for p in Plat::ALL {
            let fresh = self.with_state(|s| !s.cursors.contains_key(&p));
            if fresh {
                let head = self.feed_head(p).await?;
                self.with_state(|s| s.start_cursor(p, head));
            }
        }
        self.commit()?;
        let mut tasks = Vec::new();
        if let Some(rx) = lock(&self.queue_rx).take() {
            tasks.push(tokio::spawn(Arc::clone(self).run_worker(rx)));
        }
        tasks.push(tokio::spawn(Arc::clone(self).run_poller()));
        self.ready.store(true, Ordering::SeqCst);
        tracing::info!(strategy = ?self.cfg.strategy, "engine started");
        Ok(tasks)
    }

    async fn subscribe(&self, p: Plat) -> Result<(), EngineError> {
        let url = self.webhook_url(p);
        let existing = self.with_state(|s| s.subscriptions.get(&p).cloned());
        let client = self.client(p);
        // Start-up rides out transient failures like every other call: one
        // 503 while listing must not leave a restarted connector dead.
        let listed = self
            .call(|| client.subscriptions())
            .await
            .map_err(|e| EngineError::Api {
                doing: format!("listing {} subscriptions", p.name()),
                source: e,
            })?;
        if let Some(rec) = existing
            && rec.url == url
            && listed.data.iter().any(|s| {
                s.id == rec.id && s.status == omnisim_api::common::SubscriptionStatus::Active
            })
        {
            return Ok(());
        }
        // Keyed, so a retry after a lost answer does not subscribe twice; the
        // key moves on with every subscription the platform already lists.
        let key = format!("subscribe-{}-{}", p.name(), listed.data.len());
        let body = CreateWebhookSubscription {
            url: url.clone(),
            topics: vec!["*".into()],
        };
        let created = self
            .call(|| client.subscribe(&body, Some(&key)))
            .await
            .map_err(|e| EngineError::Api {
                doing: format!("subscribing to {} webhooks", p.name()),
                source: e,
            })?;
        let secret = created.secret.unwrap_or_default();
        self.with_state(|s| {
            s.save_subscription(
                p,
                SubscriptionRecord {
                    id: created.id,
                    url,
                    secrets: vec![secret],
                },
            )
        });
        Ok(())
    }

    async fn feed_head(&self, p: Plat) -> Result<u64, EngineError> {
        let mut cursor: Option<String> = None;
        loop {
            let client = self.client(p);
            let page = self
                .call(|| client.events(cursor.as_deref(), 1000))
                .await
                .map_err(|e| EngineError::Api {
                    doing: format!("reading the {} feed", p.name()),
                    source: e,
                })?;
            let next = page.next_cursor.clone();
            if !page.has_more {
                return Ok(next.parse().unwrap_or(0));
            }
            cursor = Some(next);
        }
    }

    fn commit(&self) -> Result<(), StoreError> {
        let writes = self.with_state(EngineState::take_writes);
        if writes.is_empty() {
            return Ok(());
        }
        self.store.commit(writes)
    }

    /// Counts a catalog write made on the side that does not own the field.
    pub(crate) fn count_catalog_conflict(&self) {
        lock(&self.counters).catalog_conflicts += 1;
    }

    pub(crate) fn report(&self, code: &str, message: String, event_id: Option<&str>) {
        tracing::warn!(code, %message, "sync error");
        let mut errors = lock(&self.errors);
        if errors.len() >= ERRORS_MAX {
            errors.pop_front();
        }
        errors.push_back(SyncError {
            code: code.to_owned(),
            message,
            event_id: event_id.map(str::to_owned),
            at: self.clock.now(),
        });
    }

    /// Sync errors reported so far (newest 1,000).
    pub fn errors(&self) -> Vec<SyncError> {
        lock(&self.errors).iter().cloned().collect()
    }

    /// Applies one event once: the single entry point of both paths.
    /// Returns false when it could not be applied (it stays unapplied, and
    /// the poller will try again).
    pub async fn process(&self, p: Plat, event: &Event) -> bool {
        self.process_from(p, event, false).await
    }

    async fn process_from(&self, p: Plat, event: &Event, from_webhook: bool) -> bool {
        let _one_at_a_time = self.work.lock().await;
        // With the racy receiver, its check is trusted for webhooks.
        let trusted = from_webhook && self.has(Defect::DedupeRace);
        if self.cfg.strategy.dedupe && !trusted && self.with_state(|s| s.seen.contains(&event.id)) {
            self.with_state(|s| self.moved_over(s, p, event.seq));
            if let Err(e) = self.commit() {
                self.report("store_failed", e.to_string(), Some(&event.id));
            }
            return true;
        }
        let span = tracing::info_span!("apply", platform = p.name(), event = %event.id, kind = %event.kind);
        let _enter = span.enter();
        if self.has(Defect::CommitBeforeApply) {
            self.with_state(|s| {
                s.mark_seen(&event.id);
                self.moved_over(s, p, event.seq);
            });
            self.commit_or_report();
        }
        let outcome = crate::sync::apply(self, p, event).await;
        let ok = match outcome {
            Ok(()) => {
                self.with_state(|s| {
                    s.mark_seen(&event.id);
                    self.moved_over(s, p, event.seq);
                });
                lock(&self.counters).applied += 1;
                true
            }
            Err(e) => {
                lock(&self.counters).failed += 1;
                self.report("apply_failed", e.to_string(), Some(&event.id));
                false
            }
        };
        if let Err(e) = self.commit() {
            self.report("store_failed", e.to_string(), Some(&event.id));
            return false;
        }
        ok
    }

    /// Records that event `seq` was applied: the cursor moves over it once
    /// nothing before it is missing (with [`Defect::CursorSkipsGaps`], at once).
    fn moved_over(&self, s: &mut EngineState, p: Plat, seq: u64) {
        if self.has(Defect::CursorSkipsGaps) && s.cursors.contains_key(&p) {
            s.set_cursor(p, seq);
        } else {
            s.applied(p, seq);
        }
    }

    async fn run_worker(self: Arc<Self>, mut rx: mpsc::Receiver<(Plat, Event)>) {
        while let Some((p, event)) = rx.recv().await {
            self.queue_depth.fetch_sub(1, Ordering::SeqCst);
            self.process_from(p, &event, true).await;
            lock(&self.queued).remove(&event.id);
        }
    }

    async fn run_poller(self: Arc<Self>) {
        let every = match self.cfg.strategy.sync {
            SyncMode::Webhook => self.cfg.strategy.reconcile_every,
            SyncMode::Poll { every } => every,
        };
        // Catch up at once (a restarted engine resumes from its cursors), then
        // on every interval.
        loop {
            for p in Plat::ALL {
                self.poll_feed(p).await;
            }
            crate::sync::reconcile(&self).await;
            lock(&self.counters).poll_rounds += 1;
            tokio::time::sleep(every).await;
        }
    }

    /// Reads one feed from its cursor and applies what is new, in order.
    pub async fn poll_feed(&self, p: Plat) {
        loop {
            let cursor = self
                .with_state(|s| s.cursors.get(&p).copied().unwrap_or(0))
                .to_string();
            let page = match self
                .call(|| self.client(p).events(Some(&cursor), 200))
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    self.report(
                        "poll_failed",
                        format!("reading the {} feed: {e}", p.name()),
                        None,
                    );
                    return;
                }
            };
            if let Some(last) = page.events.last() {
                lock(&self.feed_heads).insert(p, last.seq);
            }
            for event in &page.events {
                if !self.process(p, event).await {
                    return;
                }
                self.with_state(|s| s.set_cursor(p, event.seq));
                if let Err(e) = self.commit() {
                    self.report("store_failed", e.to_string(), None);
                    return;
                }
            }
            if !page.has_more {
                return;
            }
        }
    }

    /// Calls a platform, retrying 429, 5xx, transport failures and a key
    /// still in use ([`worth_retrying`]) with exponential backoff and seeded
    /// jitter, honouring `Retry-After`.
    pub(crate) async fn call<T, F, Fut>(&self, mut f: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let mut attempt = 0;
        loop {
            match f().await {
                Ok(t) => return Ok(t),
                Err(e) if worth_retrying(&e) && attempt + 1 < ATTEMPTS_MAX => {
                    let base_ms = 200u64 << attempt;
                    let jitter_ms = lock(&self.rng).random_range(0..=base_ms / 2);
                    let wait = match &e {
                        ApiError::Status {
                            retry_after_secs: Some(s),
                            ..
                        } => Duration::from_secs(*s) + Duration::from_millis(jitter_ms),
                        _ => Duration::from_millis(base_ms + jitter_ms),
                    };
                    tracing::debug!(error = %e, ?wait, attempt, "retrying");
                    tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The receiver, `/healthz` and `/status`.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/webhooks/{platform}", post(receive))
            .route("/healthz", get(healthz))
            .route("/status", get(status))
            .with_state(Arc::clone(self))
    }

    /// `/status` as JSON.
    pub fn status(&self) -> serde_json::Value {
        let heads = lock(&self.feed_heads).clone();
        let (cursors, applied_ids, orders) =
            self.with_state(|s| (s.cursors.clone(), s.seen.len(), s.orders.len()));
        let lag: BTreeMap<&str, u64> = Plat::ALL
            .iter()
            .map(|p| {
                (
                    p.name(),
                    heads
                        .get(p)
                        .copied()
                        .unwrap_or(0)
                        .saturating_sub(cursors.get(p).copied().unwrap_or(0)),
                )
            })
            .collect();
        serde_json::json!({
            "ready": self.ready.load(Ordering::SeqCst),
            "strategy": self.cfg.strategy.to_json(),
            "queue_depth": self.queue_depth.load(Ordering::SeqCst),
            "cursors": cursors.iter().map(|(p, c)| (p.name(), c)).collect::<BTreeMap<_, _>>(),
            "lag": lag,
            "events_applied": applied_ids,
            "orders_tracked": orders,
            "counters": *lock(&self.counters),
            "errors": self.errors(),
        })
    }
}

fn error_response(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        axum::Json(
            serde_json::json!({ "error": { "code": code, "message": message, "field": null } }),
        ),
    )
        .into_response()
}

async fn receive(
    State(engine): State<Arc<Engine>>,
    Path(platform): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(p) = Plat::parse(&platform) else {
        return error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no platform `{platform}`"),
        );
    };
    lock(&engine.counters).received += 1;
    let secrets = engine
        .with_state(|s| s.subscriptions.get(&p).map(|r| r.secrets.clone()))
        .unwrap_or_default();
    let url = engine.webhook_url(p);
    if let Err(e) = omnisim_api::signing::verify(
        p.scheme(),
        &secrets,
        &url,
        &headers,
        &body,
        engine.clock.now(),
    ) {
        let stale = matches!(e, omnisim_api::signing::SignatureError::Stale { .. });
        let waved_through = engine.has(Defect::BadSignatureApplied)
            || (stale && engine.has(Defect::StaleSignatureAccepted));
        if waved_through {
            tracing::warn!(platform = p.name(), error = %e, "a webhook did not verify; applying it anyway");
        } else {
            lock(&engine.counters).rejected_signatures += 1;
            tracing::warn!(platform = p.name(), error = %e, "rejected a webhook");
            return error_response(StatusCode::UNAUTHORIZED, "invalid_signature", e.to_string());
        }
    }
    let event: Event = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, "invalid_json", e.to_string()),
    };
    if engine.cfg.strategy.dedupe && engine.has(Defect::DedupeRace) {
        // Checked against what was applied; marked only once applied.
        if engine.with_state(|s| s.seen.contains(&event.id)) {
            lock(&engine.counters).duplicates += 1;
            return (
                StatusCode::OK,
                axum::Json(serde_json::json!({ "status": "duplicate" })),
            )
                .into_response();
        }
    } else if engine.cfg.strategy.dedupe {
        // Check and insert under one lock: two copies arriving at once cannot both pass.
        let mut queued = lock(&engine.queued);
        if queued.contains(&event.id) || engine.with_state(|s| s.seen.contains(&event.id)) {
            lock(&engine.counters).duplicates += 1;
            return (
                StatusCode::OK,
                axum::Json(serde_json::json!({ "status": "duplicate" })),
            )
                .into_response();
        }
        queued.insert(event.id.clone());
    }
    let id = event.id.clone();
    engine.queue_depth.fetch_add(1, Ordering::SeqCst);
    match engine.queue.try_send((p, event)) {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "status": "queued" })),
        )
            .into_response(),
        Err(_) => {
            engine.queue_depth.fetch_sub(1, Ordering::SeqCst);
            lock(&engine.queued).remove(&id);
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_full",
                "the engine is behind; retry later".into(),
            )
        }
    }
}

async fn healthz(State(engine): State<Arc<Engine>>) -> Response {
    if engine.ready.load(Ordering::SeqCst) {
        (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "status": "ok" })),
        )
            .into_response()
    } else {
        error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            "the engine is starting".into(),
        )
    }
}

async fn status(State(engine): State<Arc<Engine>>) -> axum::Json<serde_json::Value> {
    axum::Json(engine.status())
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnisim_api::{ErrorBody, ErrorDetail};

    fn status(status: u16, code: &str) -> ApiError {
        ApiError::Status {
            status,
            body: Box::new(ErrorBody {
                error: ErrorDetail {
                    code: code.to_owned(),
                    message: "m".to_owned(),
                    field: None,
                    decline_code: None,
                    payment_intent: None,
                },
            }),
            retry_after_secs: None,
        }
    }

    #[test]
    fn a_key_still_in_use_is_retried_not_refused() {
        assert!(worth_retrying(&status(409, "idempotency_key_in_use")));
        assert!(worth_retrying(&status(503, "payment_gateway_unavailable")));
        assert!(worth_retrying(&status(429, "rate_limited")));
        assert!(!worth_retrying(&status(409, "order_already_cancelled")));
        assert!(!worth_retrying(&status(422, "idempotency_error")));
    }
}
