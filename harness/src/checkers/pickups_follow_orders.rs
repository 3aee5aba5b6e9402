//! `pickups_follow_orders`: a store pickup lists what its online order
//! holds. When an order waiting at a store is shortened (a line dropped or
//! partly refunded before collection), the pickup slip the clerk reads must
//! shrink with it; otherwise the clerk hands over goods nobody paid for, or
//! looks for units that went back on the shelf. The same comparison covers
//! the slips that are missing or left behind:
//!
//! - an open order to collect at a store has no pickup there at all (the
//!   customer arrives and the clerk finds nothing set aside);
//! - a cancelled order's pickup still holds its units off the shelf;
//! - a pickup the register closed (a no-show) while its order still waits
//!   to be collected online.
//!
//! Judged from the two platforms' own records: the shop's order lines (what
//! is left to collect, or what was handed over) against the POS pickup's
//! lines. Lines of SKUs the register does not carry (web-only items) are
//! left out.

use std::collections::BTreeMap;

use omnisim_reports::{CheckResult, Violation, Witness};

use super::{Input, clock, verdict};

/// Units per SKU from `lines`, read by `field`; zero quantities left out.
fn per_sku(lines: &serde_json::Value, field: &str) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for l in lines.as_array().into_iter().flatten() {
        let q = l[field].as_i64().unwrap_or(0);
        if q != 0 {
            *out.entry(l["sku"].as_str().unwrap_or_default().to_owned())
                .or_default() += q;
        }
    }
    out
}

fn describe(m: &BTreeMap<String, i64>) -> String {
    if m.is_empty() {
        return "nothing".into();
    }
    m.iter()
        .map(|(sku, q)| format!("{q} {sku}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a pickup the register closed (a no-show, or released) is doing.
const CLOSED: &str = "closed at the store";

pub(super) fn check(input: &Input<'_>) -> CheckResult {
    let mut violations = Vec::new();
    let end = |what: String| Witness {
        index: input.history.len() as u64,
        time: input.ended,
        what,
    };
    let carried = |sku: &str| {
        input
            .loaded
            .scenario
            .merchant
            .catalog
            .iter()
            .find(|i| i.sku.get_ref() == sku)
            .is_none_or(|i| i.on_pos)
    };
    let is_store = |l: &str| {
        input.loaded.scenario.merchant.locations.iter().any(|spec| {
            spec.id.get_ref() == l && spec.kind == crate::scenario::LocationKindSpec::Store
        })
    };
    let mut checked = 0;
    for o in &input.state.orders {
        let id = o["id"].as_str().unwrap_or_default();
        let open = o["status"] != "cancelled";
        let to_collect = || {
            if open {
                per_sku(&o["lines"], "fulfillable_quantity")
            } else {
                BTreeMap::new()
            }
        };
        let pickup = input.state.pickups.get(id);
        let status = pickup.map(|p| p["status"].as_str().unwrap_or_default());
        let (listed, held, doing) = match (pickup, status) {
            // Only an order to collect in store needs a slip: one shipped
            // from a store may be set aside in other ways.
            (None, _) => match o["pickup_location"].as_str() {
                Some(store) if open && is_store(store) => {
                    (BTreeMap::new(), to_collect(), "to collect, with no pickup")
                }
                _ => continue,
            },
            (Some(p), Some("ready")) => (
                per_sku(&p["lines"], "quantity"),
                to_collect(),
                "still waiting at the store",
            ),
            (Some(_), Some("cancelled")) => (BTreeMap::new(), to_collect(), CLOSED),
            (Some(p), Some("completed")) => (
                per_sku(&p["lines"], "quantity"),
                per_sku(&o["lines"], "fulfilled_quantity"),
                "handed over at the store",
            ),
            _ => continue,
        };
        // A line the register does not carry (a web-only item) cannot be on
        // its pickup slip: the clerk has nothing to hand over for it.
        let mut held = held;
        held.retain(|sku, _| carried(sku));
        checked += 1;
        if listed == held {
            continue;
        }
        let mut witnesses: Vec<Witness> = input
            .events("shop")
            .filter(|(_, e)| e.kind == "refunds/create" && e.data["order_id"] == id)
            .map(|(index, e)| Witness {
                index,
                time: e.occurred_at,
                what: format!(
                    "refund {} of order {id} at {}",
                    e.data["id"].as_str().unwrap_or("?"),
                    clock(e.occurred_at)
                ),
            })
            .collect();
        witnesses.extend(
            input
                .events("pos")
                .filter(|(_, e)| e.kind == "pickup.completed" && e.data["order_ref"] == id)
                .map(|(index, e)| Witness {
                    index,
                    time: e.occurred_at,
                    what: format!(
                        "pickup of order {id} handed over at {}",
                        clock(e.occurred_at)
                    ),
                }),
        );
        witnesses.push(end(format!("pickup of order {id}")));
        witnesses.push(end(format!("order {id}")));
        let sku = listed
            .keys()
            .chain(held.keys())
            .find(|s| listed.get(*s) != held.get(*s))
            .cloned();
        let message = match (pickup.is_some(), listed.is_empty(), held.is_empty()) {
            (false, _, _) => format!(
                "order {id} waits to be collected at {} with {}, but the register set nothing \
                 aside for it: there is no pickup for it at the store",
                o["pickup_location"].as_str().unwrap_or("?"),
                describe(&held)
            ),
            (true, false, true) if !open => format!(
                "order {id} was cancelled online, yet its store pickup still holds {} off the \
                 shelf",
                describe(&listed)
            ),
            (true, true, false) if doing == CLOSED => format!(
                "the register closed the pickup of order {id}, yet the order still waits online \
                 for {} to be collected",
                describe(&held)
            ),
            _ => format!(
                "the store pickup of order {id} ({doing}) lists {}, but the order holds {}",
                describe(&listed),
                describe(&held)
            ),
        };
        violations.push(Violation {
            message,
            sku,
            units: None,
            witnesses,
        });
    }
    verdict(
        "pickups_follow_orders",
        violations,
        serde_json::json!({ "pickups_checked": checked }),
    )
}
