//! Webhook subscriptions and signed, at-least-once delivery.
//!
//! Each committed event goes to every active subscription whose topics match.
//! A delivery is retried on the platform's schedule (compressed by the
//! configured time scale) until a 2xx; Shopify-style platforms disable a
//! subscription after too many failures in a row. The fault settings delay,
//! duplicate (also two copies at once), drop (with optional redelivery) and
//! reorder deliveries; while a partition cuts the platform off from the
//! connector, every attempt fails as a connection failure and is retried on
//! the normal schedule. Every attempt is recorded for `/_control/deliveries`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use indexmap::IndexMap;
use omnisim_api::common::{SubscriptionStatus, WebhookSubscription};
use omnisim_api::signing::{self, Delivery};
use omnisim_api::{Event, Transport};
use rand::Rng;
use serde::Serialize;

use crate::core::{Core, lock};
use crate::dialects::{Rendered, Wire};
use crate::error::{SimError, SimResult};
use crate::layers::sample_latency;

/// The most delivery attempts remembered for `/_control/deliveries`.
pub const DELIVERY_LOG_MAX: usize = 10_000;
/// The most subscriptions one simulator holds.
pub const SUBSCRIPTIONS_MAX: usize = 100;
/// Why a delivery attempt failed during a partition (see `Faults::partition`).
pub const PARTITIONED_DELIVERY: &str =
    "partitioned (nemesis): the receiver is unreachable from this platform";
/// How long a rotated-out secret still signs, by default.
pub const ROTATION_OVERLAP_SECS: u64 = 24 * 3600;

/// A platform's retry schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Waits between attempts, in real-platform seconds; attempts = len + 1.
    pub delays_secs: Vec<u64>,
    /// Disable the subscription after this many failures in a row.
    pub disable_after_failures: Option<u32>,
}

impl RetryPolicy {
    /// Stripe: retries with backoff for up to three days.
    pub fn stripe() -> Self {
        RetryPolicy {
            delays_secs: vec![60, 300, 1800, 3600, 10_800, 21_600, 43_200, 86_400, 86_400],
            disable_after_failures: None,
        }
    }

    /// Shopify: eight tries over about four hours, then the subscription is removed.
    pub fn shopify() -> Self {
        RetryPolicy {
            delays_secs: vec![60, 120, 300, 900, 1800, 3600, 7200],
            disable_after_failures: Some(8),
        }
    }

    /// Square: 1, 2, 4, 8, 16 and 32 minutes, then hourly, for 72 hours.
    pub fn square() -> Self {
        let mut delays_secs = vec![60, 120, 240, 480, 960, 1920];
        let spent: u64 = delays_secs.iter().sum();
        delays_secs.extend(std::iter::repeat_n(
            3600,
            ((72 * 3600 - spent) / 3600) as usize,
        ));
        RetryPolicy {
            delays_secs,
            disable_after_failures: None,
        }
    }
}

#[derive(Clone, Debug)]
struct Subscription {
    id: String,
    /// The wire it was made through: its deliveries' envelope and names.
    wire: Wire,
    url: String,
    topics: Vec<String>,
    /// Newest first; older ones carry the time they stop signing.
    secrets: Vec<(String, Option<DateTime<Utc>>)>,
    status: SubscriptionStatus,
    consecutive_failures: u32,
    created_at: DateTime<Utc>,
}

impl Subscription {
    fn wire(&self, with_secret: bool) -> WebhookSubscription {
        WebhookSubscription {
            id: self.id.clone(),
            url: self.url.clone(),
            topics: self.topics.clone(),
            secret: with_secret.then(|| self.secrets[0].0.clone()),
            status: self.status,
            consecutive_failures: self.consecutive_failures,
            created_at: self.created_at,
        }
    }

    fn wants(&self, kind: &str) -> bool {
        self.status == SubscriptionStatus::Active
            && self.topics.iter().any(|t| t == "*" || t == kind)
    }

    fn live_secrets(&self, now: DateTime<Utc>) -> Vec<String> {
        self.secrets
            .iter()
            .filter(|(_, until)| until.is_none_or(|u| now < u))
            .map(|(s, _)| s.clone())
            .collect()
    }
}

/// One delivery attempt, as `/_control/deliveries` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct DeliveryRecord {
    /// The event delivered.
    pub event_id: String,
    /// Its type.
    pub topic: String,
    /// The subscription.
    pub subscription: String,
    /// 1 for the first try.
    pub attempt: u32,
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// Why no answer came.
    pub error: Option<String>,
    /// Simulated time of the attempt.
    pub at: DateTime<Utc>,
}

/// Subscriptions and the delivery machinery of one simulator.
pub struct Webhooks {
    subs: Mutex<IndexMap<String, Subscription>>,
    next_id: AtomicU64,
    generation: AtomicU64,
    transport: Arc<dyn Transport>,
    retry: RetryPolicy,
    time_scale: u32,
    log: Mutex<VecDeque<DeliveryRecord>>,
}

impl Webhooks {
    pub(crate) fn new(transport: Arc<dyn Transport>, retry: RetryPolicy, time_scale: u32) -> Self {
        Webhooks {
            subs: Mutex::new(IndexMap::new()),
            next_id: AtomicU64::new(1),
            generation: AtomicU64::new(0),
            transport,
            retry,
            time_scale: time_scale.max(1),
            log: Mutex::new(VecDeque::new()),
        }
    }

    /// Drops every subscription and stops deliveries in flight.
    pub(crate) fn reset(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        lock(&self.subs).clear();
        lock(&self.log).clear();
        self.next_id.store(1, Ordering::SeqCst);
    }

    /// Creates a native subscription; the answer carries its secret.
    pub fn create(
        &self,
        core: &Core,
        url: String,
        topics: Vec<String>,
        known: &[&str],
    ) -> SimResult<WebhookSubscription> {
        self.create_for(Wire::Native, core, url, topics, known)
    }

    /// Creates a subscription made through `wire`: its deliveries are that
    /// wire's renderings ([`crate::core::Platform::render`]), and `topics`
    /// are in that wire's names (`known`). The answer carries its secret.
    pub fn create_for(
        &self,
        wire: Wire,
        core: &Core,
        url: String,
        topics: Vec<String>,
        known: &[&str],
    ) -> SimResult<WebhookSubscription> {
        match url.parse::<http::Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => {}
            _ => {
                return Err(SimError::bad_value(
                    "url",
                    format!("`{url}` is not an http(s) URL"),
                ));
            }
        }
        if topics.is_empty() {
            return Err(SimError::bad_value(
                "topics",
                "name at least one topic, or \"*\"",
            ));
        }
        for (i, t) in topics.iter().enumerate() {
            if t != "*" && !known.contains(&t.as_str()) {
                return Err(SimError::bad_value(
                    format!("topics[{i}]"),
                    format!(
                        "unknown topic `{t}`; this platform emits: {}",
                        known.join(", ")
                    ),
                ));
            }
        }
        let mut subs = lock(&self.subs);
        if subs.len() >= SUBSCRIPTIONS_MAX {
            return Err(SimError::invalid(
                "too_many_subscriptions",
                format!("at most {SUBSCRIPTIONS_MAX} subscriptions"),
            ));
        }
        let n = self.next_id.fetch_add(1, Ordering::SeqCst);
        let sub = Subscription {
            id: format!("whsub_{}_{n:04}", core.platform),
            wire,
            url,
            topics,
            secrets: vec![(format!("whsec_{}", core.random_hex(24)), None)],
            status: SubscriptionStatus::Active,
            consecutive_failures: 0,
            created_at: core.clock.now(),
        };
        let wire = sub.wire(true);
        subs.insert(sub.id.clone(), sub);
        Ok(wire)
    }

    /// Every subscription, without secrets.
    pub fn list(&self) -> Vec<WebhookSubscription> {
        lock(&self.subs).values().map(|s| s.wire(false)).collect()
    }

    /// The subscriptions made through `wire`, without secrets, oldest first.
    pub fn list_for(&self, wire: Wire) -> Vec<WebhookSubscription> {
        lock(&self.subs)
            .values()
            .filter(|s| s.wire == wire)
            .map(|s| s.wire(false))
            .collect()
    }

    /// One subscription and the wire it was made through, without its secret.
    pub fn get(&self, id: &str) -> Option<(Wire, WebhookSubscription)> {
        lock(&self.subs).get(id).map(|s| (s.wire, s.wire(false)))
    }

    /// The dialect wires (not native) that have an active subscription: the
    /// ones each commit renders its events for.
    pub fn dialect_wires(&self) -> Vec<Wire> {
        let subs = lock(&self.subs);
        let mut wires: Vec<Wire> = Vec::new();
        for s in subs.values() {
            if s.wire != Wire::Native
                && s.status == SubscriptionStatus::Active
                && !wires.contains(&s.wire)
            {
                wires.push(s.wire);
            }
        }
        wires
    }

    /// Deletes a subscription.
    pub fn delete(&self, id: &str) -> SimResult<WebhookSubscription> {
        lock(&self.subs)
            .shift_remove(id)
            .map(|s| s.wire(false))
            .ok_or_else(|| {
                SimError::not_found("resource_missing", format!("no subscription `{id}`"))
            })
    }

    /// Issues a new secret; the old one keeps signing for `overlap_secs`.
    pub fn rotate(
        &self,
        core: &Core,
        id: &str,
        overlap_secs: u64,
    ) -> SimResult<WebhookSubscription> {
        let now = core.clock.now();
        let fresh = format!("whsec_{}", core.random_hex(24));
        let mut subs = lock(&self.subs);
        let sub = subs.get_mut(id).ok_or_else(|| {
            SimError::not_found("resource_missing", format!("no subscription `{id}`"))
        })?;
        let until = now + TimeDelta::seconds(i64::try_from(overlap_secs).unwrap_or(i64::MAX / 2));
        for (_, expiry) in &mut sub.secrets {
            if expiry.is_none_or(|e| e > until) {
                *expiry = Some(until);
            }
        }
        sub.secrets.retain(|(_, e)| e.is_none_or(|e| e > now));
        sub.secrets.insert(0, (fresh, None));
        Ok(sub.wire(true))
    }

    /// Makes `secret` the only secret of subscription `id`: a dialect whose
    /// platform signs with the app's own secret (Shopify's client secret)
    /// rather than one per subscription sets it right after creating it.
    pub fn set_secret(&self, id: &str, secret: &str) -> SimResult<()> {
        let mut subs = lock(&self.subs);
        let sub = subs.get_mut(id).ok_or_else(|| {
            SimError::not_found("resource_missing", format!("no subscription `{id}`"))
        })?;
        sub.secrets = vec![(secret.to_owned(), None)];
        Ok(())
    }

    /// The secrets currently signing deliveries to `url`, newest first. For
    /// the harness's stale-signature step only; never served over HTTP.
    pub fn live_secrets_for(&self, url: &str, now: DateTime<Utc>) -> Vec<String> {
        lock(&self.subs)
            .values()
            .find(|s| s.url == url)
            .map(|s| s.live_secrets(now))
            .unwrap_or_default()
    }

    /// Delivery attempts so far, oldest first.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        lock(&self.log).iter().cloned().collect()
    }

    fn scaled(&self, secs: u64) -> Duration {
        Duration::from_millis(secs.saturating_mul(1000) / u64::from(self.time_scale))
    }

    /// Schedules the deliveries of freshly committed events: the native
    /// rendering to native subscriptions, and each dialect's `rendered`
    /// deliveries to the subscriptions made through that dialect.
    pub(crate) fn dispatch(
        &self,
        core: &Arc<Core>,
        events: Vec<Event>,
        rendered: Vec<(Wire, Vec<Rendered>)>,
    ) {
        let faults = core.faults().webhooks;
        let generation = self.generation.load(Ordering::SeqCst);
        let targets = |wire: Wire, topic: &str| -> Vec<String> {
            lock(&self.subs)
                .values()
                .filter(|s| s.wire == wire && s.wants(topic))
                .map(|s| s.id.clone())
                .collect()
        };
        let schedule = |subs: Vec<String>, out: Rendered, canonical: Arc<str>| {
            let out = Arc::new(out);
            for sub in subs {
                let starts = core.with_rng(|rng| plan_starts(&faults, rng));
                for start in starts {
                    tokio::spawn(deliver(
                        Arc::clone(core),
                        sub.clone(),
                        Arc::clone(&out),
                        Arc::clone(&canonical),
                        start,
                        generation,
                    ));
                }
            }
        };
        for event in &events {
            let subs = targets(Wire::Native, &event.kind);
            if !subs.is_empty() {
                schedule(subs, Rendered::native(event), Arc::from(event.id.as_str()));
            }
        }
        for (wire, outs) in rendered {
            for out in outs {
                let subs = targets(wire, &out.topic);
                if !subs.is_empty() {
                    let canonical: Arc<str> = Arc::from(out.id.as_str());
                    schedule(subs, out, canonical);
                }
            }
        }
    }

    fn record(&self, r: DeliveryRecord) {
        let mut log = lock(&self.log);
        if log.len() >= DELIVERY_LOG_MAX {
            log.pop_front();
        }
        log.push_back(r);
    }

    /// Notes a delivery outcome; returns false once the subscription is gone.
    fn note(&self, id: &str, ok: bool) -> bool {
        let mut subs = lock(&self.subs);
        let Some(sub) = subs.get_mut(id) else {
            return false;
        };
        if ok {
            sub.consecutive_failures = 0;
        } else {
            sub.consecutive_failures += 1;
            if self
                .retry
                .disable_after_failures
                .is_some_and(|n| sub.consecutive_failures >= n)
            {
                sub.status = SubscriptionStatus::Disabled;
                return false;
            }
        }
        true
    }
}

/// When the copies of one delivery start, as the webhook faults say: none
/// if dropped (unless redelivered later), two if duplicated.
fn plan_starts(
    faults: &omnisim_api::common::WebhookFaults,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Vec<Duration> {
    let base = faults
        .delay
        .as_ref()
        .map_or(Duration::ZERO, |d| sample_latency(d, rng));
    let jitter = |rng: &mut rand_chacha::ChaCha8Rng| {
        if faults.reorder_window_ms > 0 {
            Duration::from_millis(rng.random_range(0..=faults.reorder_window_ms))
        } else {
            Duration::ZERO
        }
    };
    let mut starts = Vec::new();
    let dropped = faults.drop_rate > 0.0 && rng.random_bool(faults.drop_rate);
    if dropped {
        if let Some(ms) = faults.redeliver_dropped_after_ms {
            starts.push(base + Duration::from_millis(ms));
        }
    } else {
        starts.push(base + jitter(rng));
    }
    if !dropped && faults.duplicate_rate > 0.0 && rng.random_bool(faults.duplicate_rate) {
        let second = if faults.duplicate_simultaneous {
            starts[0]
        } else if let Some(ms) = faults.duplicate_after_ms {
            starts[0] + Duration::from_millis(ms)
        } else {
            base + jitter(rng)
        };
        starts.push(second);
    }
    starts
}

/// Delivers one rendered event to one subscription, retrying on the
/// platform's schedule. `canonical` is the id of the event in the
/// platform's own log, sent as `x-omnisim-event-id` and recorded.
async fn deliver(
    core: Arc<Core>,
    sub_id: String,
    out: Arc<Rendered>,
    canonical: Arc<str>,
    start: Duration,
    generation: u64,
) {
    let hooks = &core.webhooks;
    if !start.is_zero() {
        tokio::time::sleep(start).await;
    }
    let attempts = hooks.retry.delays_secs.len() + 1;
    for attempt in 1..=attempts {
        if hooks.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        let now = core.clock.now();
        let target = lock(&hooks.subs)
            .get(&sub_id)
            .filter(|s| s.status == SubscriptionStatus::Active)
            .map(|s| (s.url.clone(), s.live_secrets(now)));
        let Some((url, secrets)) = target else { return };
        let mut builder = http::Request::builder()
            .method(http::Method::POST)
            .uri(&url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::USER_AGENT,
                format!("omnisim-{}-webhooks", core.platform),
            )
            .header("x-omnisim-event-id", canonical.as_ref())
            .header("x-omnisim-delivery-attempt", attempt.to_string());
        for (name, value) in &out.headers {
            builder = builder.header(*name, value.as_str());
        }
        let signed = signing::sign(
            core.scheme,
            &secrets,
            Delivery {
                url: &url,
                body: &out.body,
                event_id: &out.id,
                topic: &out.topic,
                sent_at: now,
            },
        );
        for (name, value) in signed {
            builder = builder.header(name, value);
        }
        let outcome = match builder.body(out.body.clone()) {
            // Cut off from the connector: the receiver cannot be reached.
            Ok(_) if core.partitioned() => Err(omnisim_api::TransportError::Connect {
                url: url.clone(),
                message: PARTITIONED_DELIVERY.into(),
            }),
            Ok(request) => hooks
                .transport
                .send(request)
                .await
                .map(|r| r.status().as_u16()),
            Err(e) => Err(omnisim_api::TransportError::Invalid {
                url: url.clone(),
                message: e.to_string(),
            }),
        };
        let ok = matches!(outcome, Ok(s) if (200..300).contains(&s));
        hooks.record(DeliveryRecord {
            event_id: canonical.to_string(),
            topic: out.topic.clone(),
            subscription: sub_id.clone(),
            attempt: attempt as u32,
            status: outcome.as_ref().ok().copied(),
            error: outcome.err().map(|e| e.to_string()),
            at: now,
        });
        if !hooks.note(&sub_id, ok) || ok {
            return;
        }
        if let Some(wait) = hooks.retry.delays_secs.get(attempt - 1) {
            tokio::time::sleep(hooks.scaled(*wait)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_schedule_spans_72_hours() {
        let total: u64 = RetryPolicy::square().delays_secs.iter().sum();
        assert!(total <= 72 * 3600 && total > 71 * 3600, "{total}");
        let shopify = RetryPolicy::shopify();
        assert_eq!(shopify.delays_secs.len() + 1, 8);
        assert!(shopify.delays_secs.iter().sum::<u64>() <= 4 * 3600);
    }
}
