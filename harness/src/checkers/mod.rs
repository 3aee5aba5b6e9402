//! The checkers: pure functions of (history, final state, truth). Each one
//! judges one invariant and reports every violation with the operations that
//! witness it. They never drive the system and never take the engine's word.

mod catalog_parity;
mod customers_converge;
mod exactly_once;
mod honours_retry_after;
mod ledger_reconciles;
mod no_oversell;
mod pickups_follow_orders;
mod promotions_agree;
mod propagation;
mod returns_restock;
mod stock_converges;
mod sync_latency;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use omnisim_reports::{CheckResult, Status, Violation};
use serde::{Deserialize, Serialize};

use crate::history::Entry;
use crate::truth::Truth;
use crate::validate::Loaded;

/// The state of the platforms at the end of the run, read through their APIs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FinalState {
    /// Shop levels by `sku@location`.
    pub shop_levels: BTreeMap<String, serde_json::Value>,
    /// POS IN_STOCK counts by `sku@location`.
    pub pos_counts: BTreeMap<String, i64>,
    /// Shop orders.
    pub orders: Vec<serde_json::Value>,
    /// Gateway intents.
    pub intents: Vec<serde_json::Value>,
    /// Shop products by SKU.
    pub products: BTreeMap<String, serde_json::Value>,
    /// POS items by SKU.
    pub items: BTreeMap<String, serde_json::Value>,
    /// POS pickups by the order id they serve.
    #[serde(default)]
    pub pickups: BTreeMap<String, serde_json::Value>,
    /// Shop customer profiles, by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shop_customers: Vec<serde_json::Value>,
    /// POS customer profiles, by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pos_customers: Vec<serde_json::Value>,
    /// Gateway gift cards, by code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gift_cards: Vec<serde_json::Value>,
    /// Each platform's record of the rate limit it held the connector to
    /// (`GET /_control/throttle`), by platform; only those that refused
    /// something.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub throttle: BTreeMap<String, omnisim_api::common::ThrottleRecord>,
}

/// Everything a checker may read.
pub struct Input<'a> {
    /// The scenario.
    pub loaded: &'a Loaded,
    /// The history.
    pub history: &'a [Entry],
    /// The platforms at the end.
    pub state: &'a FinalState,
    /// The truth.
    pub truth: &'a Truth,
    /// The buffer the connector holds back at stores.
    pub buffer: i64,
    /// When the run ended.
    pub ended: DateTime<Utc>,
}

impl Input<'_> {
    /// Platform events of one platform, in commit order.
    pub fn events<'b>(
        &'b self,
        platform: &'b str,
    ) -> impl Iterator<Item = (u64, &'b omnisim_api::Event)> + 'b {
        self.history.iter().filter_map(move |e| match e {
            Entry::Event {
                index,
                platform: p,
                event,
                ..
            } if p == platform => Some((*index, event)),
            _ => None,
        })
    }

    /// `platform`'s events with the true time of each commit (its stamp
    /// with the platform clock's skew taken out; see
    /// [`Entry::true_time`]): what a checker times changes by.
    pub fn events_at<'b>(
        &'b self,
        platform: &'b str,
    ) -> impl Iterator<Item = (u64, &'b omnisim_api::Event, DateTime<Utc>)> + 'b {
        self.history.iter().filter_map(move |e| match e {
            Entry::Event {
                index,
                platform: p,
                event,
                ..
            } if p == platform => Some((*index, event, e.true_time())),
            _ => None,
        })
    }

    /// The stock SLA (5 minutes by default).
    pub fn stock_sla(&self) -> Duration {
        sla(&self.loaded.scenario.sla.stock, Duration::from_secs(300))
    }

    /// The catalog SLA (15 minutes by default).
    pub fn catalog_sla(&self) -> Duration {
        sla(&self.loaded.scenario.sla.catalog, Duration::from_secs(900))
    }
}

fn sla(v: &Option<crate::scenario::Spanned<String>>, default: Duration) -> Duration {
    v.as_ref()
        .and_then(|s| crate::validate::parse_duration(s.get_ref()))
        .unwrap_or(default)
}

fn verdict(name: &str, violations: Vec<Violation>, metrics: serde_json::Value) -> CheckResult {
    let status = if violations.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    CheckResult {
        name: name.to_owned(),
        status,
        violations,
        expected_to_fail: false,
        metrics,
    }
}

/// Runs every checker, in the order of [`crate::validate::CHECKS`].
pub fn run_all(input: &Input<'_>) -> Vec<CheckResult> {
    vec![
        no_oversell::check(input),
        stock_converges::check(input),
        ledger_reconciles::check(input),
        exactly_once::check(input),
        returns_restock::check(input),
        catalog_parity::check(input),
        sync_latency::check(input),
        pickups_follow_orders::check(input),
        customers_converge::check(input),
        promotions_agree::check(input),
        honours_retry_after::check(input),
    ]
}

/// A completed actor operation in words, read from the operation itself (its
/// process, action and answer), so a witness never carries the label of
/// another operation: `web order ord_000001 placed by shop:ana`, `staff
/// cancelled web order ord_000001`.
pub fn op_label(process: &str, f: &str, value: &serde_json::Value) -> String {
    let id = value["id"]
        .as_str()
        .or_else(|| value["order_ref"].as_str())
        .unwrap_or("?");
    let who = match process.split_once(':') {
        Some(("shop", c)) => format!("customer {c}"),
        Some(("pos", store)) => format!("clerk at {store}"),
        _ => process.to_owned(),
    };
    match f {
        "checkout" => format!("web order {id} placed by {who}"),
        "cancel" => format!("{who} cancelled web order {id}"),
        "fulfil" => format!("{who} fulfilled web order {id}"),
        "capture" => format!("{who} captured web order {id}"),
        "pickup" => format!("web order {id} collected ({who})"),
        "sale" => format!("store sale {id}"),
        "return" => format!("store return {id}"),
        _ => format!("{who} {f} {id}"),
    }
}

/// A span in human units: `250 ms`, `1.5 s`, `8 min 02 s`, `2 h 05 min`.
pub fn human_ms(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    let text = match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 if ms.is_multiple_of(1000) => format!("{} s", ms / 1000),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 if ms.is_multiple_of(60_000) => format!("{} min", ms / 60_000),
        60_000..3_600_000 => format!("{} min {:02} s", ms / 60_000, ms / 1000 % 60),
        _ if ms.is_multiple_of(3_600_000) => format!("{} h", ms / 3_600_000),
        _ => format!("{} h {:02} min", ms / 3_600_000, ms / 60_000 % 60),
    };
    format!("{sign}{text}")
}

/// `12:03:07` from a simulated time.
pub fn clock(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::human_ms;

    #[test]
    fn spans_read_in_human_units() {
        assert_eq!(human_ms(250), "250 ms");
        assert_eq!(human_ms(1_500), "1.5 s");
        assert_eq!(human_ms(30_000), "30 s");
        assert_eq!(human_ms(481_890), "8 min 01 s");
        assert_eq!(human_ms(900_000), "15 min");
        assert_eq!(human_ms(7_500_000), "2 h 05 min");
    }
}
