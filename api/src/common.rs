//! Wire types every simulator shares: locations, webhook subscriptions, the
//! fault settings of the control API, and money rules.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A store, warehouse or online location. Ids are shared keys across platforms:
/// POS `store-1` is shop `store-1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Location {
    /// The shared location id.
    pub id: String,
    /// A display name.
    pub name: String,
    /// What the location is.
    #[serde(default)]
    pub kind: LocationKind,
}

/// What kind of place a location is.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    /// A shop with a counter.
    #[default]
    Store,
    /// A stock room that ships online orders.
    Warehouse,
    /// The online channel's own virtual location.
    Online,
}

/// `POST /v1/locations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLocation {
    /// The shared location id (letters, digits, `-` and `_`).
    pub id: String,
    /// A display name.
    pub name: String,
    /// Store by default.
    #[serde(default)]
    pub kind: LocationKind,
}

/// `GET /v1/locations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LocationList {
    /// Every location, by id.
    pub data: Vec<Location>,
}

/// `POST /v1/webhook_subscriptions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookSubscription {
    /// Where deliveries are POSTed.
    pub url: String,
    /// Event types to deliver; `"*"` means every type.
    pub topics: Vec<String>,
}

/// A webhook subscription. `secret` is present only in the answers to create
/// and rotate; listings never show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookSubscription {
    /// The subscription id.
    pub id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Event types delivered; `"*"` means every type.
    pub topics: Vec<String>,
    /// The signing secret, only when just created or rotated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Active, or disabled after too many consecutive failed deliveries.
    pub status: SubscriptionStatus,
    /// Failed deliveries in a row (reset by a success).
    pub consecutive_failures: u32,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// Whether a subscription still receives deliveries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Deliveries go out.
    Active,
    /// Removed by the platform after repeated failures, as Shopify does.
    Disabled,
}

/// `GET /v1/webhook_subscriptions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookSubscriptionList {
    /// Every subscription, without secrets.
    pub data: Vec<WebhookSubscription>,
}

/// `POST /v1/webhook_subscriptions/{id}/rotate_secret`: issue a new secret and
/// keep signing with the old one too for `overlap_secs` (default 24 h).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the previous secret stays valid.
    #[serde(default)]
    pub overlap_secs: Option<u64>,
}

/// A latency distribution, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    /// Always the same.
    Fixed {
        /// Delay.
        ms: u64,
    },
    /// Uniform between the bounds, inclusive.
    Uniform {
        /// Lower bound.
        min_ms: u64,
        /// Upper bound.
        max_ms: u64,
    },
    /// Log-normal with the given median and 99th percentile.
    Lognormal {
        /// Median.
        p50_ms: u64,
        /// 99th percentile.
        p99_ms: u64,
    },
}

/// A leaky bucket: `capacity` requests, draining `leak_per_sec` per second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Bucket size (Shopify: 40).
    pub capacity: u32,
    /// Requests drained per second (Shopify: 2).
    pub leak_per_sec: u32,
}

/// What a simulator recorded of the rate limit it held the connector to
/// (`GET /_control/throttle`): how often it answered 429 with Retry-After, and
/// every request the connector sent again before the Retry-After it had been
/// given for that same request. Actors' requests are not recorded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ThrottleRecord {
    /// Connector requests refused with 429 so far.
    pub refused: u64,
    /// Requests sent again too soon (oldest first, at most 1,000 kept).
    pub early: Vec<EarlyRetry>,
    /// How many requests came too soon in all (`early` may hold fewer).
    pub early_total: u64,
}

/// One request the connector sent again before its Retry-After had passed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EarlyRetry {
    /// When it came again.
    pub at: DateTime<Utc>,
    /// The request, `METHOD /path?query`.
    pub request: String,
    /// When the 429 that named the wait was answered.
    pub refused_at: DateTime<Utc>,
    /// The wait it named, in seconds.
    pub retry_after_secs: u64,
}

/// Faults on webhook deliveries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookFaults {
    /// Extra delay before each delivery.
    pub delay: Option<Latency>,
    /// Probability (0..=1) that an event is delivered twice.
    pub duplicate_rate: f64,
    /// When duplicating, send both copies at the same instant.
    pub duplicate_simultaneous: bool,
    /// When duplicating, send the second copy this long after the first,
    /// as a platform redelivers an event whose receipt it never saw
    /// acknowledged (Shopify keeps trying for 48 hours). A copy a day late
    /// outlives the platforms' 24-hour memory of idempotency keys: only a
    /// receiver that remembers the event ids it applied can tell it is old.
    pub duplicate_after_ms: Option<u64>,
    /// Probability (0..=1) that an event's delivery is dropped.
    pub drop_rate: f64,
    /// Redeliver a dropped event after this long; never if absent.
    pub redeliver_dropped_after_ms: Option<u64>,
    /// Hold each delivery back by a uniform random delay up to this, so that
    /// later events can overtake earlier ones.
    pub reorder_window_ms: u64,
}

/// The fault settings of one simulator: `POST /_control/faults` replaces them,
/// `GET /_control/faults` reads them. All rates are probabilities in 0..=1.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every API response.
    pub latency: Option<Latency>,
    /// Probability of answering 503 without applying the request.
    pub error_rate: f64,
    /// Probability of applying the request and then never answering in time:
    /// the caller cannot know the outcome.
    pub timeout_rate: f64,
    /// How long a timed-out request hangs before the simulator gives up (504).
    pub timeout_ms: u64,
    /// Probability that a write from the connector (the simulator's main API
    /// key) is applied and its answer then lost, as a connection dropping
    /// between the connector and the platform loses it: the write hangs for
    /// `timeout_ms` and is answered 504 `timeout`, as with `timeout_rate`.
    /// Reads, and writes by other callers (the harness's customers, clerks
    /// and staff), are answered as usual, so a scenario can lose exactly
    /// the connector's write answers and nothing else.
    pub lost_write_answers: f64,
    /// A leaky-bucket rate limit per API key; none when absent.
    pub rate_limit: Option<RateLimit>,
    /// Faults on outgoing webhooks.
    pub webhooks: WebhookFaults,
    /// Clock skew: the platform stamps its events' `occurred_at` this many
    /// milliseconds ahead of true time (behind when negative), as a platform
    /// whose clock drifts does. Its timers and the data it returns are not
    /// affected.
    pub clock_skew_ms: i64,
    /// A network partition between this platform and the connector, as long
    /// as it is `true`. The connector is whoever presents the simulator's
    /// main API key (`OMNISIM_API_KEY`); other accepted keys (the harness's
    /// customers, clerks and staff, and the platforms' calls to each other)
    /// are not cut off.
    ///
    /// - A request with the connector's key is never applied. Like a dropped
    ///   packet it gets no answer while the partition lasts: it is held until
    ///   the partition heals or 30 s pass (whichever comes first), then
    ///   answered 503 with code `partitioned` ("nothing was applied"). A
    ///   client with a shorter timeout of its own sees that timeout instead;
    ///   either way nothing was applied, and a retry after the heal is safe.
    /// - Every webhook delivery attempt fails without reaching the receiver,
    ///   recorded in `/_control/deliveries` with status `null` and an error
    ///   that says `partitioned`; it counts as a failed attempt and is
    ///   retried on the platform's normal schedule, so it arrives after the
    ///   heal.
    ///
    /// The rest of the fault settings apply as usual to what gets through.
    pub partition: bool,
    /// Reads are served and every write is refused, as a platform in
    /// maintenance or failing over its database answers: a request other
    /// than `GET` or `HEAD` (on the GraphQL endpoint, any operation but a
    /// query) gets 503 with code `read_only`, and nothing is applied. A
    /// connector reading before it writes gets its reads, then its writes
    /// refused: it must keep the change and write it again later, not take
    /// it as done.
    pub read_only: bool,
}

/// `POST /_control/clock`: move simulated time forward (for expiries and
/// settlements in real-time runs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceClock {
    /// Seconds to add.
    pub advance_secs: u64,
}

/// The simulated time, as `/_control/clock` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClockReading {
    /// Now, in simulated time.
    pub now: DateTime<Utc>,
}

/// `PUT /v1/tax_rates/{code}` on the shop and the POS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTaxRate {
    /// The rate as a fraction from 0 to 1: `0.0825` is 8.25 %.
    #[schema(value_type = String, example = "0.0825")]
    pub rate: Decimal,
}

/// A tax rate for one tax code. Codes without a rate are taxed at 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaxRate {
    /// The tax code.
    pub code: String,
    /// The rate as a fraction.
    #[schema(value_type = String)]
    pub rate: Decimal,
}

/// `GET /v1/tax_rates`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaxRateList {
    /// Every rate, by code. Codes not listed are taxed at 0.
    pub data: Vec<TaxRate>,
}

/// Minor-unit scale of a currency: 0 for zero-decimal currencies, else 2.
pub fn currency_scale(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" | "XAF" | "XOF" => 0,
        _ => 2,
    }
}

/// True for a three-letter upper-case ISO 4217-shaped code.
pub fn is_currency_code(currency: &str) -> bool {
    currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())
}

/// True when `amount` has no more decimals than the currency allows.
pub fn fits_currency(amount: Decimal, currency: &str) -> bool {
    amount.normalize().scale() <= currency_scale(currency)
}

/// Rounds to the currency's minor unit, half to even (banker's rounding), as
/// pro-rata tax and discount splits need.
pub fn round_money(amount: Decimal, currency: &str) -> Decimal {
    amount.round_dp_with_strategy(
        currency_scale(currency),
        rust_decimal::RoundingStrategy::MidpointNearestEven,
    )
}

/// Splits `amount` (capped at the sum of `subtotals`) across lines in
/// proportion to their subtotals; the remainder goes to the last line, and
/// what a line cannot take (its subtotal is the cap) moves to earlier lines.
pub fn split_fixed(subtotals: &[Decimal], amount: Decimal, currency: &str) -> Vec<Decimal> {
    let sum: Decimal = subtotals.iter().sum();
    let amount = amount.min(sum).max(Decimal::ZERO);
    let n = subtotals.len();
    if n == 0 || sum.is_zero() {
        return vec![Decimal::ZERO; n];
    }
    let mut shares: Vec<Decimal> = subtotals
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if i + 1 == n {
                Decimal::ZERO
            } else {
                round_money(amount * *s / sum, currency).min(*s)
            }
        })
        .collect();
    let given: Decimal = shares.iter().sum();
    shares[n - 1] = amount - given;
    // Settle: no share above its subtotal, none below zero, the sum kept.
    // Rounding moves at most a few minor units, from the last line backwards.
    for i in (1..n).rev() {
        if shares[i] > subtotals[i] {
            let excess = shares[i] - subtotals[i];
            shares[i] = subtotals[i];
            shares[i - 1] += excess;
        } else if shares[i] < Decimal::ZERO {
            let deficit = -shares[i];
            shares[i] = Decimal::ZERO;
            shares[i - 1] -= deficit;
        }
    }
    // Whatever the first line cannot take goes to any headroom left, from the
    // back; there is enough because `amount` is at most the sum.
    let mut carry = shares[0] - subtotals[0];
    if carry > Decimal::ZERO {
        shares[0] = subtotals[0];
        for i in (1..n).rev() {
            let take = (subtotals[i] - shares[i]).min(carry);
            shares[i] += take;
            carry -= take;
        }
    }
    debug_assert!(
        shares[0] >= Decimal::ZERO,
        "fixed discount split below zero"
    );
    shares
}
