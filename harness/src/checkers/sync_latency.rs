//! `sync_latency`: how long a store's stock change takes to show on the
//! other channel, in each direction (POS → shop: sales, returns, counts,
//! receipts, waste; shop → POS: web orders, cancellations, refunds with
//! restock, admin adjustments), as p50 and p99 per direction and change
//! type, against the stock SLA. A change the other channel never reflects
//! is a violation of its own. When a change has reached the other channel
//! is decided from the platforms' records alone ([`super::propagation`]).

use std::collections::BTreeMap;

use omnisim_reports::{CheckResult, Violation, Witness};

use super::propagation::{self, Direction};
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
    let flows = propagation::analyse(input);
    // Lags by direction and change type, each with its change's witness.
    let mut lags: BTreeMap<(Direction, String), Vec<(i64, Witness)>> = BTreeMap::new();
    let mut violations = Vec::new();
    for t in &flows.travels {
        let by = if t.by_connector {
            " (the connector's own)"
        } else {
            ""
        };
        let witness = Witness {
            index: t.index,
            time: t.time,
            what: format!(
                "{} {}{by} of {} at {} ({:+})",
                t.direction.0.name(),
                t.kind,
                t.sku,
                t.location,
                t.delta
            ),
        };
        match t.reached {
            Some((at, _)) => lags
                .entry((t.direction, t.kind.clone()))
                .or_default()
                .push(((at - t.time).num_milliseconds(), witness)),
            None => violations.push(Violation {
                message: format!(
                    "{}: {} {}{by} of {} at {} ({:+}) at {} never reached the {}",
                    t.direction.label(),
                    t.direction.0.name(),
                    t.kind,
                    t.sku,
                    t.location,
                    t.delta,
                    super::clock(t.time),
                    t.direction.target().name(),
                ),
                sku: Some(t.sku.clone()),
                units: Some(t.delta.abs()),
                witnesses: vec![witness],
            }),
        }
    }
    let mut metrics = serde_json::Map::new();
    metrics.insert("sla_ms".into(), sla_ms.into());
    for ((direction, kind), mut v) in lags {
        v.sort_by_key(|(ms, w)| (*ms, w.index));
        let ms: Vec<i64> = v.iter().map(|(ms, _)| *ms).collect();
        let (p50, p99) = (percentile(&ms, 50.0), percentile(&ms, 99.0));
        if p99 > sla_ms {
            let slowest = v.last().map(|(_, w)| w.clone());
            violations.push(Violation {
                message: format!(
                    "{}: {} {kind} changes reach the {} in {} at p99, over the {} SLA",
                    direction.label(),
                    direction.0.name(),
                    direction.target().name(),
                    super::human_ms(p99),
                    super::human_ms(sla_ms),
                ),
                sku: None,
                units: None,
                witnesses: slowest.into_iter().collect(),
            });
        }
        let entry = metrics
            .entry(direction.key())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if let Some(m) = entry.as_object_mut() {
            m.insert(
                kind,
                serde_json::json!({ "count": ms.len(), "p50_ms": p50, "p99_ms": p99 }),
            );
        }
    }
    verdict(
        "sync_latency",
        violations,
        serde_json::Value::Object(metrics),
    )
}
