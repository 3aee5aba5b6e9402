//! `sync_latency`: how long a store stock change takes to show on the shop
//! (p50 and p99 per change type), against the stock SLA.

use std::collections::BTreeMap;

use omnisim_reports::{CheckResult, Violation, Witness};

use super::{Input, verdict};

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub(super) fn check(input: &Input<'_>) -> CheckResult {
    let sla_ms = input.stock_sla().as_millis() as i64;
    // When each engine write landed on the shop, by the POS event it carries.
    let mut landed: BTreeMap<String, chrono::DateTime<chrono::Utc>> = BTreeMap::new();
    for (_, e) in input.events("shop") {
        if let Some(r) = e.data["cause"]["reference"]
            .as_str()
            .and_then(|r| r.strip_prefix("omnisim-engine:"))
        {
            landed.entry(r.to_owned()).or_insert(e.occurred_at);
        }
    }
    let mut by_kind: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut violations = Vec::new();
    for (index, e) in input.events("pos") {
        if e.kind != "inventory.count.updated" {
            continue;
        }
        let kind = e.data["cause"]["kind"].as_str().unwrap_or("?");
        if !matches!(kind, "sale" | "return" | "count" | "adjust")
            || e.data["cause"]["delta"].as_i64().unwrap_or(0) == 0
        {
            continue;
        }
        if e.data["cause"]["reference"]
            .as_str()
            .is_some_and(|r| r.starts_with("omnisim-engine:") || r == "setup")
        {
            continue;
        }
        let sku = e.data["sku"].as_str().unwrap_or_default();
        if !input
            .loaded
            .scenario
            .merchant
            .catalog
            .iter()
            .any(|c| c.sku.get_ref() == sku && c.on_shop)
        {
            continue;
        }
        match landed.get(&e.id) {
            Some(at) => by_kind
                .entry(kind.to_owned())
                .or_default()
                .push((*at - e.occurred_at).num_milliseconds()),
            None => violations.push(Violation {
                message: format!(
                    "POS {kind} of {sku} at {} never reached the shop",
                    super::clock(e.occurred_at)
                ),
                sku: Some(sku.to_owned()),
                units: None,
                witnesses: vec![Witness {
                    index,
                    time: e.occurred_at,
                    what: format!("{} {}", e.kind, e.id),
                }],
            }),
        }
    }
    let mut metrics = serde_json::Map::new();
    for (kind, mut v) in by_kind {
        v.sort_unstable();
        let (p50, p99) = (percentile(&v, 50.0), percentile(&v, 99.0));
        if p99 > sla_ms {
            violations.push(Violation {
                message: format!(
                    "POS {kind} changes reach the shop in {p99} ms at p99, over the {sla_ms} ms SLA"
                ),
                sku: None,
                units: None,
                witnesses: Vec::new(),
            });
        }
        metrics.insert(
            kind,
            serde_json::json!({ "count": v.len(), "p50_ms": p50, "p99_ms": p99 }),
        );
    }
    verdict(
        "sync_latency",
        violations,
        serde_json::Value::Object(metrics),
    )
}
