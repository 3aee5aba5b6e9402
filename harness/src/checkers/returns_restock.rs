//! `returns_restock`: a restocked return puts exactly its units back at its
//! location, and the money back is the paid price of those units (discount and
//! tax pro rata). Store returns are judged against their sale; online refunds
//! against their order's lines, and goods returned online to a store must
//! reach that store's register.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use omnisim_reports::{CheckResult, Violation, Witness};

use super::{Input, verdict};
use crate::history::{Entry, OpType};

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
    verdict(
        "returns_restock",
        violations,
        serde_json::json!({ "returns_checked": checked, "online_refunds_checked": refunds_checked }),
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
