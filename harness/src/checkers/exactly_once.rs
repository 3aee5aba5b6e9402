//! `exactly_once`: a duplicated or retried delivery never applies twice,
//! judged by what the platforms show, whatever the connector's references
//! look like.
//!
//! - Stock: the connector never moves a channel by more than the other
//!   channel's changes account for ([`super::propagation`]): its writes on
//!   a store's level may not add up past what the source's changes so far
//!   could, nor end the run away from them once every change has arrived.
//! - Refunds: the units the connector refunds online on an order never
//!   exceed the units of that order returned at a register.

use std::collections::BTreeMap;

use omnisim_reports::{CheckResult, Violation, Witness};

use super::propagation::{self, Overshoot};
use super::{Input, clock, verdict};

fn stock_violation(o: &Overshoot) -> Violation {
    let source = o.direction.0.name();
    let target = o.direction.target().name();
    let mut witnesses = Vec::new();
    let mut last = String::new();
    if let Some((index, time, kind, delta)) = &o.change {
        witnesses.push(Witness {
            index: *index,
            time: *time,
            what: format!("{source} {kind} of {} ({delta:+})", o.sku),
        });
        last = format!(
            " (the last {source} change: {kind} {delta:+} at {})",
            clock(*time)
        );
    }
    witnesses.push(Witness {
        index: o.write.0,
        time: o.write.1,
        what: format!("the connector's write on the {target}"),
    });
    let message = if o.at_end {
        format!(
            "{}: every {source} change of {} at {} reached the {target}, yet the connector's \
             writes there end at {:+} for {:+} of {source} changes: it moved the {target} by \
             {:+} more than they account for{last}",
            o.direction.label(),
            o.sku,
            o.location,
            o.paid,
            o.owed,
            o.paid - o.owed,
        )
    } else {
        format!(
            "{}: at {} the connector's writes had moved the {target}'s {} at {} by {:+}, past \
             the {source}'s changes so far in that direction ({:+}): a change applied \
             twice{last}",
            o.direction.label(),
            clock(o.write.1),
            o.sku,
            o.location,
            o.paid,
            o.bound,
        )
    };
    Violation {
        message,
        sku: Some(o.sku.clone()),
        units: Some((o.paid - o.owed).abs()),
        witnesses,
    }
}

pub(super) fn check(input: &Input<'_>) -> CheckResult {
    let flows = propagation::analyse(input);
    let mut violations: Vec<Violation> = flows.overshoots.iter().map(stock_violation).collect();
    // Units returned at a register, by (order, sku), and the connector's
    // online refunds of the same.
    let mut returned: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (_, e) in input.events("pos") {
        if e.kind != "return.created" {
            continue;
        }
        let Some(order) = e.data["order_ref"].as_str() else {
            continue;
        };
        for l in e.data["lines"].as_array().into_iter().flatten() {
            *returned
                .entry((
                    order.to_owned(),
                    l["sku"].as_str().unwrap_or_default().to_owned(),
                ))
                .or_insert(0) += l["quantity"].as_i64().unwrap_or(0);
        }
    }
    let mut refunded: BTreeMap<(String, String), (i64, Vec<Witness>)> = BTreeMap::new();
    let mut refunds = 0;
    for (index, e) in input.events("shop") {
        if e.kind != "refunds/create" || !e.actor.is_connector() {
            continue;
        }
        refunds += 1;
        let order = e.data["order_id"].as_str().unwrap_or_default();
        for l in e.data["lines"].as_array().into_iter().flatten() {
            let q = l["quantity"].as_i64().unwrap_or(0);
            let entry = refunded
                .entry((
                    order.to_owned(),
                    l["sku"].as_str().unwrap_or_default().to_owned(),
                ))
                .or_default();
            entry.0 += q;
            entry.1.push(Witness {
                index,
                time: e.occurred_at,
                what: format!("the connector's refund of {q} on {order}"),
            });
        }
    }
    for ((order, sku), (units, witnesses)) in refunded {
        let back = returned
            .get(&(order.clone(), sku.clone()))
            .copied()
            .unwrap_or(0);
        if units > back {
            violations.push(Violation {
                message: format!(
                    "the connector refunded {units} {sku} online on order {order}, but {back} \
                     came back at a register: a return refunded more than once"
                ),
                sku: Some(sku),
                units: Some(units - back),
                witnesses,
            });
        }
    }
    verdict(
        "exactly_once",
        violations,
        serde_json::json!({
            "connector_stock_writes": flows.writes,
            "connector_refunds": refunds,
        }),
    )
}
