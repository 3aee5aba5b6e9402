//! `returns_restock`: a restocked return puts exactly its units back at its
//! location, and the money back is the paid price of those units (discount and
//! tax pro rata). Store returns are judged against their sale; online refunds
//! against their order's lines, and goods returned online to a store must
//! reach that store's register. A store return of an online order must be
//! refunded online for exactly the units the clerk took back.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use omnisim_reports::{CheckResult, Violation, Witness};

use super::{Input, verdict};
use crate::history::{Entry, OpType};

/// A connector refund on the shop: its history index, the event, and the
/// true time of its commit.
type Refund<'a> = (u64, &'a omnisim_api::Event, chrono::DateTime<chrono::Utc>);

fn dec(v: &serde_json::Value) -> Decimal {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_default()
}

pub(super) fn check(input: &Input<'_>) -> CheckResult {
    let mut violations = Vec::new();
    // Sale line totals by (sale id, sku) → (quantity, total).
    let mut sale_lines: BTreeMap<(String, String), (i64, Decimal)> = BTreeMap::new();
    let mut restocks: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for (_, e) in input.events("pos") {
        match e.kind.as_str() {
            "sale.created" => {
                for l in e.data["lines"].as_array().cloned().unwrap_or_default() {
                    let qty = l["quantity"].as_i64().unwrap_or(0);
                    let total = if l["total"].is_string() {
                        dec(&l["total"])
                    } else {
                        dec(&l["price"]) * Decimal::from(qty)
                    };
                    sale_lines.insert(
                        (
                            e.data["id"].as_str().unwrap_or_default().to_owned(),
                            l["sku"].as_str().unwrap_or_default().to_owned(),
                        ),
                        (qty, total),
                    );
                }
            }
            "inventory.count.updated" if e.data["cause"]["kind"] == "return" => {
                let key = (
                    e.data["cause"]["reference"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    e.data["sku"].as_str().unwrap_or_default().to_owned(),
                    e.data["location"].as_str().unwrap_or_default().to_owned(),
                );
                *restocks.entry(key).or_insert(0) += e.data["cause"]["delta"].as_i64().unwrap_or(0);
            }
            _ => {}
        }
    }
    let mut checked = 0;
    for e in input.history {
        let Entry::Op {
            index,
            time,
            kind: OpType::Ok,
            f,
            value,
            process,
            ..
        } = e
        else {
            continue;
        };
        if !(process.starts_with("pos") && f == "return") {
            continue;
        }
        checked += 1;
        let id = value["id"].as_str().unwrap_or_default();
        let location = value["location"].as_str().unwrap_or_default();
        let w = || {
            vec![Witness {
                index: *index,
                time: *time,
                what: format!("store return {id}"),
            }]
        };
        for l in value["lines"].as_array().cloned().unwrap_or_default() {
            let sku = l["sku"].as_str().unwrap_or_default();
            let q = l["quantity"].as_i64().unwrap_or(0);
            if value["restock"].as_bool() == Some(true) {
                let put_back = restocks
                    .get(&(id.to_owned(), sku.to_owned(), location.to_owned()))
                    .copied()
                    .unwrap_or(0);
                if put_back != q {
                    violations.push(Violation {
                        message: format!(
                            "return {id} took back {q} {sku} at {location} but restocked {put_back}"
                        ),
                        sku: Some(sku.to_owned()),
                        units: Some(q - put_back),
                        witnesses: w(),
                    });
                }
            }
            if let Some(sale) = value["sale_id"].as_str()
                && let Some((qty, total)) = sale_lines.get(&(sale.to_owned(), sku.to_owned()))
                && *qty > 0
            {
                let fair = omnisim_api::common::round_money(
                    *total * Decimal::from(q) / Decimal::from(*qty),
                    value["currency"].as_str().unwrap_or("USD"),
                );
                let paid_back = dec(&l["amount"]);
                if (paid_back - fair).abs() > Decimal::new(1, 2) {
                    violations.push(Violation { message: format!("return {id} paid back {paid_back} for {q} {sku}; the paid price pro rata is {fair}"), sku: Some(sku.to_owned()), units: None, witnesses: w() });
                }
            }
        }
    }
    let refunds_checked = online_refunds(input, &mut violations);
    let store_returns_of_orders = store_returns_refunded(input, &mut violations);
    verdict(
        "returns_restock",
        violations,
        serde_json::json!({
            "returns_checked": checked,
            "online_refunds_checked": refunds_checked,
            "store_returns_of_online_orders": store_returns_of_orders,
        }),
    )
}

/// Online refunds: each line's money back is its order line's total pro rata
/// (discount and tax included), and units returned to a store reach the POS
/// there (the register reflects the refund's stock change, see
/// [`super::propagation`]).
fn online_refunds(input: &Input<'_>, violations: &mut Vec<Violation>) -> usize {
    // Order line id → (quantity, total, currency).
    let mut order_lines: BTreeMap<String, (i64, Decimal, String)> = BTreeMap::new();
    for (_, e) in input.events("shop") {
        if e.kind != "orders/create" {
            continue;
        }
        let currency = e.data["currency"].as_str().unwrap_or("USD").to_owned();
        for l in e.data["lines"].as_array().cloned().unwrap_or_default() {
            if let Some(id) = l["id"].as_str() {
                order_lines.insert(
                    id.to_owned(),
                    (
                        l["quantity"].as_i64().unwrap_or(0),
                        dec(&l["total"]),
                        currency.clone(),
                    ),
                );
            }
        }
    }
    // Each stock change a refund made on the shop, by (refund id, sku,
    // location), with whether it reached the register there (judged from
    // the platforms' records, not from how the connector names its writes).
    let flows = super::propagation::analyse(input);
    let reached: BTreeMap<u64, bool> = flows
        .travels
        .iter()
        .filter(|t| t.direction.0 == super::propagation::Channel::Shop)
        .map(|t| (t.index, t.reached.is_some()))
        .collect();
    let mut refund_moves: BTreeMap<(String, String, String), Vec<u64>> = BTreeMap::new();
    for (index, e) in input.events("shop") {
        if e.kind == "inventory_levels/update"
            && e.data["cause"]["kind"] == "refund"
            && let Some(r) = e.data["cause"]["reference"].as_str()
        {
            refund_moves
                .entry((
                    r.to_owned(),
                    e.data["sku"].as_str().unwrap_or_default().to_owned(),
                    e.data["location"].as_str().unwrap_or_default().to_owned(),
                ))
                .or_default()
                .push(index);
        }
    }
    let m = &input.loaded.scenario.merchant;
    let on_pos_store = |sku: &str, location: &str| {
        m.catalog.iter().any(|c| c.sku.get_ref() == sku && c.on_pos)
            && m.locations.iter().any(|l| {
                l.id.get_ref() == location && l.kind == crate::scenario::LocationKindSpec::Store
            })
    };
    let mut checked = 0;
    for (index, e) in input.events("shop") {
        if e.kind != "refunds/create" {
            continue;
        }
        checked += 1;
        let order = e.data["order_id"].as_str().unwrap_or("?");
        let w = || {
            vec![Witness {
                index,
                time: e.occurred_at,
                what: format!("refunds/create on {order}"),
            }]
        };
        for l in e.data["lines"].as_array().cloned().unwrap_or_default() {
            let sku = l["sku"].as_str().unwrap_or_default();
            let q = l["quantity"].as_i64().unwrap_or(0);
            if l["amount"].is_string()
                && let Some((qty, total, currency)) =
                    l["line_id"].as_str().and_then(|id| order_lines.get(id))
                && *qty > 0
            {
                let fair = omnisim_api::common::round_money(
                    *total * Decimal::from(q) / Decimal::from(*qty),
                    currency,
                );
                let paid_back = dec(&l["amount"]);
                if (paid_back - fair).abs() > Decimal::new(1, 2) {
                    violations.push(Violation {
                        message: format!("order {order} refunded {paid_back} for {q} {sku}; the paid price pro rata is {fair}"),
                        sku: Some(sku.to_owned()),
                        units: None,
                        witnesses: w(),
                    });
                }
            }
            if l["restock_type"] == "return"
                && let Some(location) = l["location"].as_str()
                && on_pos_store(sku, location)
            {
                let moves = refund_moves
                    .get(&(
                        e.data["id"].as_str().unwrap_or_default().to_owned(),
                        sku.to_owned(),
                        location.to_owned(),
                    ))
                    .cloned()
                    .unwrap_or_default();
                // Only the moves still owed to the register are its to
                // receive (a refund the connector made to mirror a register
                // return is the register's own change coming back).
                let missing = moves.iter().any(|i| reached.get(i).is_some_and(|r| !r));
                if missing {
                    violations.push(Violation {
                        message: format!("order {order} took back {q} {sku} at {location}, but the register there never got them"),
                        sku: Some(sku.to_owned()),
                        units: Some(q),
                        witnesses: w(),
                    });
                }
            }
        }
    }
    checked
}

/// A store return of an online order: the connector must refund that order
/// online for exactly the SKUs and units the clerk took back. The refunds
/// the harness's own actors made are set aside; of the others on the order,
/// each return takes the one that names it (`store return <id>`, the
/// reference engine's note) or else the first one after it.
fn store_returns_refunded(input: &Input<'_>, violations: &mut Vec<Violation>) -> usize {
    // Refund ids the scripted actors made themselves (staff refunds).
    let mut by_actors = std::collections::BTreeSet::new();
    let mut returns = Vec::new();
    for e in input.history {
        let Entry::Op {
            index,
            time,
            kind: OpType::Ok,
            f,
            value,
            process,
            ..
        } = e
        else {
            continue;
        };
        if f == "refund" && !process.starts_with("pos") {
            if let Some(id) = value["id"].as_str() {
                by_actors.insert(id.to_owned());
            }
        } else if f == "return"
            && process.starts_with("pos")
            && let Some(order) = value["order_ref"].as_str()
        {
            returns.push((*index, *time, order.to_owned(), value));
        }
    }
    // The connector's refunds, per order, in commit order.
    let mut refunds: BTreeMap<String, Vec<Refund<'_>>> = BTreeMap::new();
    for (index, e, at) in input.events_at("shop") {
        if e.kind == "refunds/create"
            && !e.data["id"]
                .as_str()
                .is_some_and(|id| by_actors.contains(id))
            && let Some(order) = e.data["order_id"].as_str()
        {
            refunds
                .entry(order.to_owned())
                .or_default()
                .push((index, e, at));
        }
    }
    let mut used = std::collections::BTreeSet::new();
    for (index, time, order, value) in &returns {
        let id = value["id"].as_str().unwrap_or_default();
        let candidates = refunds.get(order).map(Vec::as_slice).unwrap_or_default();
        let note = format!("store return {id}");
        let pick = candidates
            .iter()
            .find(|(i, e, _)| !used.contains(i) && e.data["note"].as_str() == Some(note.as_str()))
            .or_else(|| {
                candidates.iter().find(|(i, e, at)| {
                    !used.contains(i)
                        && *at >= *time
                        && !e.data["note"]
                            .as_str()
                            .is_some_and(|n| n.starts_with("store return "))
                })
            });
        let mut witnesses = vec![Witness {
            index: *index,
            time: *time,
            what: format!("store return {id}"),
        }];
        let took: BTreeMap<String, i64> = lines_of(value);
        let Some((ri, refund, _)) = pick else {
            violations.push(Violation {
                message: format!(
                    "store return {id} took back {} of online order {order}, but the order was never refunded online",
                    describe(&took)
                ),
                sku: None,
                units: None,
                witnesses,
            });
            continue;
        };
        used.insert(*ri);
        witnesses.push(Witness {
            index: *ri,
            time: refund.occurred_at,
            what: format!("refunds/create on {order}"),
        });
        let gave: BTreeMap<String, i64> = lines_of(&refund.data);
        if gave != took {
            violations.push(Violation {
                message: format!(
                    "store return {id} took back {} of online order {order}, but the order was refunded online for {}",
                    describe(&took),
                    describe(&gave)
                ),
                sku: took.keys().chain(gave.keys()).next().cloned(),
                units: None,
                witnesses,
            });
        }
    }
    returns.len()
}

/// Units per SKU of a return or refund's `lines`.
fn lines_of(v: &serde_json::Value) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for l in v["lines"].as_array().cloned().unwrap_or_default() {
        *out.entry(l["sku"].as_str().unwrap_or_default().to_owned())
            .or_insert(0) += l["quantity"].as_i64().unwrap_or(0);
    }
    out
}

fn describe(lines: &BTreeMap<String, i64>) -> String {
    let parts: Vec<String> = lines.iter().map(|(sku, q)| format!("{q} {sku}")).collect();
    parts.join(", ")
}
