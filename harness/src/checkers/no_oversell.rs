//! `no_oversell`: no channel accepts a sale the true stock cannot fill.

use omnisim_reports::{CheckResult, Violation, Witness};

use super::{Input, clock, op_label, verdict};
use crate::history::Entry;

pub(super) fn check(input: &Input<'_>) -> CheckResult {
    let mut violations = Vec::new();
    for o in &input.truth.oversells {
        // What did the channel that accepted it show just before?
        let platform = if o.trigger.starts_with("store") {
            "pos"
        } else {
            "shop"
        };
        let mut shown: Option<(i64, chrono::DateTime<chrono::Utc>, u64)> = None;
        // The trigger's own stock change is not what the channel showed before it.
        let own = o.trigger.rsplit(' ').next().unwrap_or_default();
        for (index, e) in input.events(platform) {
            if e.occurred_at > o.time {
                break;
            }
            let d = &e.data;
            if d["cause"]["reference"] == own {
                continue;
            }
            if d["sku"] == o.sku.as_str() && d["location"] == o.location.as_str() {
                let v = if platform == "pos" {
                    d["quantity"].as_i64()
                } else {
                    d["available"].as_i64()
                };
                if let Some(v) = v {
                    shown = Some((v, e.occurred_at, index));
                }
            }
        }
        let stale = match shown {
            Some((v, at, _)) => format!("; {platform} showed {v}, as of {}", clock(at)),
            None => String::new(),
        };
        let victim = o
            .victim
            .as_ref()
            .filter(|v| !o.trigger.contains(v.as_str()))
            .map(|v| format!(" (web order {v} can no longer be filled)"))
            .unwrap_or_default();
        let mut witnesses = vec![Witness {
            index: o.trigger_op,
            time: o.time,
            what: o.trigger.clone(),
        }];
        if let Some((_, at, index)) = shown {
            witnesses.push(Witness {
                index,
                time: at,
                what: format!("last {platform} stock update before it"),
            });
        }
        // Every completed operation on the victim order, each labelled from
        // the operation itself (its checkout, and a later cancel or fulfil).
        if let Some(v) = &o.victim {
            for e in input.history {
                if let Entry::Op {
                    index,
                    time,
                    kind: crate::history::OpType::Ok,
                    process,
                    f,
                    value,
                    ..
                } = e
                    && (value["id"] == v.as_str() || value["order_ref"] == v.as_str())
                    && !o.trigger.contains(v.as_str())
                {
                    witnesses.push(Witness {
                        index: *index,
                        time: *time,
                        what: op_label(process, f, value),
                    });
                }
            }
        }
        // The sale's own quantity, which may be more than the units oversold.
        let quantity = input
            .history
            .iter()
            .find_map(|e| match e {
                Entry::Op {
                    index,
                    kind: crate::history::OpType::Ok,
                    value,
                    ..
                } if *index == o.trigger_op => Some(
                    value["lines"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|l| l["sku"] == o.sku.as_str())
                        .filter_map(|l| l["quantity"].as_i64())
                        .sum::<i64>(),
                ),
                _ => None,
            })
            .filter(|q| *q > 0)
            .unwrap_or(o.units);
        violations.push(Violation {
            message: format!(
                "{} oversold {} of {} at {}: accepted at {} for {} {} when true stock was {}{stale}{victim}",
                o.trigger,
                units(o.units),
                o.sku,
                o.location,
                clock(o.time),
                quantity,
                if quantity == 1 { "unit" } else { "units" },
                o.true_available_before,
            ),
            sku: Some(o.sku.clone()),
            units: Some(o.units),
            witnesses,
        });
    }
    let total: i64 = input.truth.oversells.iter().map(|o| o.units).sum();
    verdict(
        "no_oversell",
        violations,
        serde_json::json!({ "oversold_units": total }),
    )
}

/// `1 unit`, `3 units`.
fn units(n: i64) -> String {
    format!("{n} {}", if n == 1 { "unit" } else { "units" })
}
