//! `catalog_parity`: a price or tax change reaches the other channel within
//! the catalog SLA, in whichever direction the scenario makes it (on the
//! shop, by default, reaching the POS item; on the POS with `target =
//! "pos"`, reaching the shop product), and both agree at the end. A change
//! has reached the other channel when that channel's own record of the SKU
//! first shows it (or a later change of the same SKU, which a connector may
//! carry instead of one that no longer holds), whoever wrote it there.
//! Product status (paused or active per sales channel) is the shop's alone:
//! the POS has nothing to reflect.
//!
//! A staff edit that leaves the value as it was (a price set to the price
//! it already had) changes nothing: the platform records no update, and
//! there is nothing to carry. Only edits their own platform recorded (an
//! update of that SKU by someone other than the connector while the step
//! ran) are judged.
//!
//! Where the merchant names an owner (`[merchant] catalog_master`), a change
//! on the owner's side must reach the other, a change on the other side is a
//! conflict whose value must be put back to the owner's within the SLA, and
//! at the end both sides hold the owner's latest value.

use rust_decimal::Decimal;

use omnisim_reports::{CheckResult, Violation, Witness};

use super::{Input, clock, verdict};
use crate::history::{Entry, OpType};

fn dec(v: &serde_json::Value) -> Option<Decimal> {
    v.as_str().and_then(|s| s.parse().ok())
}

/// One catalog change made by the staff.
struct Change<'a> {
    /// The history entry of its answer (for witnesses).
    index: u64,
    /// Its place among all the changes in the order the platforms recorded
    /// them: a change whose answer was lost is answered late, after changes
    /// made since, but was recorded when it was made.
    seq: usize,
    time: chrono::DateTime<chrono::Utc>,
    f: &'a str,
    sku: String,
    price: Option<Decimal>,
    tax: serde_json::Value,
    /// Where it was made: `shop` or `pos`.
    on: &'static str,
}

pub(super) fn check(input: &Input<'_>) -> CheckResult {
    let mut violations = Vec::new();
    let sla = chrono::TimeDelta::from_std(input.catalog_sla()).unwrap_or_default();
    let catalog = &input.loaded.scenario.merchant.catalog;
    let started: std::collections::BTreeMap<usize, chrono::DateTime<chrono::Utc>> = input
        .history
        .iter()
        .filter_map(|e| match e {
            Entry::Op {
                kind: OpType::Invoke,
                step,
                time,
                ..
            } => Some((*step, *time)),
            _ => None,
        })
        .collect();
    let mut changes: Vec<Change<'_>> = input
        .history
        .iter()
        .filter_map(|e| match e {
            Entry::Op {
                index,
                time,
                kind: kind @ (OpType::Ok | OpType::Info),
                f,
                value,
                process,
                step,
            } if process == "staff" && (f == "price" || f == "tax") => {
                let on_pos = input.loaded.scenario.steps[*step]
                    .target
                    .as_ref()
                    .is_some_and(|t| t.get_ref() == "pos");
                let on = if on_pos { "pos" } else { "shop" };
                let from = started.get(step).copied().unwrap_or(*time);
                if *kind == OpType::Info {
                    // The answer was lost: the change is what the platform
                    // recorded in the meantime, if it did.
                    let sku = input.loaded.scenario.steps[*step]
                        .sku
                        .as_ref()
                        .map(|s| s.get_ref().as_str())?;
                    let (at, data) = recorded_update(input, on, sku, from, *time)?;
                    return Some(Change {
                        index: *index,
                        seq: 0,
                        time: at,
                        f,
                        sku: sku.to_owned(),
                        price: dec(&data["price"]),
                        tax: data["tax_code"].clone(),
                        on,
                    });
                }
                let change = Change {
                    index: *index,
                    seq: 0,
                    time: *time,
                    f,
                    sku: value["sku"].as_str().unwrap_or_default().to_owned(),
                    price: dec(&value["price"]),
                    tax: value["tax_code"].clone(),
                    on,
                };
                recorded_update(input, on, &change.sku, from, change.time).map(|_| change)
            }
            _ => None,
        })
        .collect();
    changes.sort_by_key(|c| (c.time, c.index));
    for (seq, c) in changes.iter_mut().enumerate() {
        c.seq = seq;
    }
    let mut latencies: std::collections::BTreeMap<&str, Vec<i64>> = Default::default();
    let mut conflicts = 0;
    for c in &changes {
        // A SKU only one platform sells has no other side to reach, nor an
        // owner elsewhere to put its value back.
        let listed = catalog
            .iter()
            .any(|i| i.sku.get_ref() == &c.sku && i.on_pos && i.on_shop);
        if !listed {
            continue;
        }
        let owner = owner_of(input, c.f);
        if owner != "both" && owner != c.on {
            conflicts += 1;
            if let Some(v) = undone(input, &changes, c, owner, sla) {
                violations.push(v);
            }
            continue;
        }
        let (other, other_name, event_kind, direction) = if c.on == "pos" {
            ("shop", "shop", "products/update", "POS → shop")
        } else {
            ("pos", "POS", "item.updated", "shop → POS")
        };
        // This change or any later one of the same field of the same SKU,
        // judged on that field alone: the other field may rightly hold a
        // change made meanwhile on the other side.
        let acceptable: Vec<(Option<Decimal>, &serde_json::Value)> = changes
            .iter()
            .filter(|l| l.seq >= c.seq && l.sku == c.sku && l.f == c.f)
            .map(|l| (l.price, &l.tax))
            .collect();
        let holds = |data: &serde_json::Value,
                     (price, tax): &(Option<Decimal>, &serde_json::Value)| {
            if c.f == "price" {
                dec(&data["price"]) == *price
            } else {
                data["tax_code"].as_str().unwrap_or_default() == tax.as_str().unwrap_or_default()
            }
        };
        let reached = input
            .events_at(other)
            .find(|(_, ev, at)| {
                ev.kind == event_kind
                    && *at >= c.time
                    && ev.data["sku"] == c.sku.as_str()
                    && acceptable.iter().any(|v| holds(&ev.data, v))
            })
            .map(|(_, _, at)| at);
        // Nothing to carry: the other side already held the value (a tax
        // code removed and restored during an outage: the restore puts back
        // what the register still has). The other side never changed after
        // this change, and ends holding the value of the latest change of
        // this field on this side: reached when that change was made.
        let superseded = || {
            let last = changes
                .iter()
                .rfind(|l| l.seq >= c.seq && l.sku == c.sku && l.f == c.f && l.on == c.on)?;
            let record = if other == "pos" {
                input.state.items.get(&c.sku)
            } else {
                input.state.products.get(&c.sku)
            }?;
            let untouched = !input.events_at(other).any(|(_, ev, at)| {
                ev.kind == event_kind && at >= c.time && ev.data["sku"] == c.sku.as_str()
            });
            (untouched && holds(record, &(last.price, &last.tax))).then_some(last.time)
        };
        let reached = reached.or_else(superseded);
        let witness = || Witness {
            index: c.index,
            time: c.time,
            what: format!(
                "staff {} on the {}",
                c.f,
                if c.on == "pos" { "POS" } else { "shop" }
            ),
        };
        match reached {
            Some(at) => {
                let lag = at - c.time;
                latencies
                    .entry(if c.on == "pos" {
                        "pos_to_shop"
                    } else {
                        "shop_to_pos"
                    })
                    .or_default()
                    .push(lag.num_milliseconds());
                if lag > sla {
                    violations.push(Violation {
                        message: format!(
                            "{direction}: {} {} change at {} reached the {other_name} only at {} ({} later), over the {} SLA",
                            c.sku,
                            c.f,
                            clock(c.time),
                            clock(at),
                            super::human_ms(lag.num_milliseconds()),
                            super::human_ms(sla.num_milliseconds())
                        ),
                        sku: Some(c.sku.clone()),
                        units: None,
                        witnesses: vec![witness()],
                    });
                }
            }
            None => violations.push(Violation {
                message: format!(
                    "{direction}: {} {} change at {} never reached the {other_name}",
                    c.sku,
                    c.f,
                    clock(c.time)
                ),
                sku: Some(c.sku.clone()),
                units: None,
                witnesses: vec![witness()],
            }),
        }
    }
    // Both agree at the end on every SKU listed on both.
    for item in catalog {
        let sku = item.sku.get_ref();
        let (Some(product), Some(pos_item)) =
            (input.state.products.get(sku), input.state.items.get(sku))
        else {
            continue;
        };
        let price_differs = dec(&product["price"]) != dec(&pos_item["price"]);
        let tax_differs = product["tax_code"].as_str().unwrap_or_default()
            != pos_item["tax_code"].as_str().unwrap_or_default();
        if price_differs || tax_differs {
            violations.push(Violation {
                message: format!(
                    "at the end the shop sells {sku} at {} (tax {}) but the POS at {} (tax {})",
                    product["price"].as_str().unwrap_or("?"),
                    product["tax_code"].as_str().unwrap_or("none"),
                    pos_item["price"].as_str().unwrap_or("?"),
                    pos_item["tax_code"].as_str().unwrap_or("none"),
                ),
                sku: Some(sku.clone()),
                units: None,
                witnesses: vec![Witness {
                    index: input.history.len() as u64,
                    time: input.ended,
                    what: "final catalog".into(),
                }],
            });
        }
    }
    // The owner's value wins wherever the merchant named one.
    for item in catalog {
        let sku = item.sku.get_ref();
        let (Some(product), Some(pos_item)) =
            (input.state.products.get(sku), input.state.items.get(sku))
        else {
            continue;
        };
        for f in ["price", "tax"] {
            let owner = owner_of(input, f);
            if owner == "both" {
                continue;
            }
            let (want, set_at) = owner_value(input, &changes, sku, f, &owner, None);
            let read = |v: &serde_json::Value| -> String {
                if f == "price" {
                    dec(&v["price"]).map(price_text).unwrap_or_default()
                } else {
                    v["tax_code"].as_str().unwrap_or_default().to_owned()
                }
            };
            let (shop_has, pos_has) = (read(product), read(pos_item));
            if shop_has != want || pos_has != want {
                let what = if f == "price" { "price" } else { "tax code" };
                let owner_name = if owner == "pos" { "POS" } else { "shop" };
                violations.push(Violation {
                    message: format!(
                        "{sku}'s {what} is owned by the {owner_name}, which set {} {}; at the end the shop has {} and the POS {}",
                        show(&want),
                        set_at.map_or("from the start".to_owned(), |t| format!("at {}", clock(t))),
                        show(&shop_has),
                        show(&pos_has)
                    ),
                    sku: Some(sku.clone()),
                    units: None,
                    witnesses: vec![Witness {
                        index: input.history.len() as u64,
                        time: input.ended,
                        what: "final catalog".into(),
                    }],
                });
            }
        }
    }
    let mut metrics = serde_json::Map::new();
    metrics.insert("conflicts".into(), conflicts.into());
    metrics.insert("sla_ms".into(), sla.num_milliseconds().into());
    let mut all = 0;
    for (direction, mut v) in latencies {
        v.sort_unstable();
        all += v.len();
        metrics.insert(
            direction.into(),
            serde_json::json!({ "changes": v.len(), "max_ms": v.last() }),
        );
    }
    metrics.insert("changes".into(), all.into());
    verdict(
        "catalog_parity",
        violations,
        serde_json::Value::Object(metrics),
    )
}

/// The update the platform a change was made on (`on`) recorded for it:
/// the latest of its SKU, made by someone other than the connector,
/// committed between the step's start (`from`) and its answer (`to`), as
/// its time and the record it left.
fn recorded_update<'a>(
    input: &'a Input<'_>,
    on: &str,
    sku: &str,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Option<(chrono::DateTime<chrono::Utc>, &'a serde_json::Value)> {
    let kind = if on == "pos" {
        "item.updated"
    } else {
        "products/update"
    };
    input.history.iter().rev().find_map(|e| match e {
        Entry::Event {
            platform, event, ..
        } if platform == on
            && event.kind == kind
            && event.data["sku"] == sku
            && !event.actor.is_connector()
            && (from..=to).contains(&e.true_time()) =>
        {
            Some((e.true_time(), &event.data))
        }
        _ => None,
    })
}

/// A price as text, trailing zeros dropped, so `32` and `32.00` agree.
fn price_text(d: Decimal) -> String {
    d.normalize().to_string()
}

fn show(v: &str) -> &str {
    if v.is_empty() { "none" } else { v }
}

/// The owner (`shop`, `pos` or `both`) of a change's field (`price` or `tax`).
fn owner_of(input: &Input<'_>, f: &str) -> String {
    let m = &input.loaded.scenario.merchant.catalog_master;
    let v = if f == "price" { &m.price } else { &m.tax_code };
    v.as_ref()
        .map_or_else(|| "both".to_owned(), |s| s.get_ref().clone())
}

/// A change's value of its own field, as text (`""` for no tax code).
fn value_of(c: &Change<'_>) -> String {
    if c.f == "price" {
        c.price.map(price_text).unwrap_or_default()
    } else {
        c.tax.as_str().unwrap_or_default().to_owned()
    }
}

/// The value the owner holds for `sku`'s field `f`: its latest change (before
/// `before`, when given), else the starting catalog; with when it was set.
fn owner_value(
    input: &Input<'_>,
    changes: &[Change<'_>],
    sku: &str,
    f: &str,
    owner: &str,
    before: Option<usize>,
) -> (String, Option<chrono::DateTime<chrono::Utc>>) {
    let latest = changes
        .iter()
        .filter(|c| c.sku == sku && c.f == f && c.on == owner)
        .rfind(|c| before.is_none_or(|b| c.seq < b));
    if let Some(c) = latest {
        return (value_of(c), Some(c.time));
    }
    let item = input
        .loaded
        .scenario
        .merchant
        .catalog
        .iter()
        .find(|i| i.sku.get_ref() == sku);
    let start = match (f, item) {
        ("price", Some(i)) => price_text(i.price),
        (_, Some(i)) => i.tax_code.clone().unwrap_or_default(),
        _ => String::new(),
    };
    (start, None)
}

/// A change made on the side that does not own its field is a conflict: the
/// owner's value must be put back on that side within the SLA (the owner's
/// value then, or a later one of the owner's).
fn undone(
    input: &Input<'_>,
    changes: &[Change<'_>],
    c: &Change<'_>,
    owner: String,
    sla: chrono::TimeDelta,
) -> Option<Violation> {
    let (then, _) = owner_value(input, changes, &c.sku, c.f, &owner, Some(c.seq));
    let mut accepted = vec![then.clone()];
    accepted.extend(
        changes
            .iter()
            .filter(|l| l.seq > c.seq && l.sku == c.sku && l.f == c.f && l.on == owner)
            .map(value_of),
    );
    let (platform, kind, side) = if c.on == "pos" {
        ("pos", "item.updated", "POS")
    } else {
        ("shop", "products/update", "shop")
    };
    let owner_name = if owner == "pos" { "POS" } else { "shop" };
    let field = if c.f == "price" { "price" } else { "tax code" };
    let witness = Witness {
        index: c.index,
        time: c.time,
        what: format!("staff {} on the {side}", c.f),
    };
    if value_of(c) == then {
        return None;
    }
    let back = input.events_at(platform).find(|(_, ev, at)| {
        ev.kind == kind && *at >= c.time && ev.data["sku"] == c.sku.as_str() && {
            let v = if c.f == "price" {
                dec(&ev.data["price"]).map(price_text).unwrap_or_default()
            } else {
                ev.data["tax_code"].as_str().unwrap_or_default().to_owned()
            };
            accepted.contains(&v)
        }
    });
    let message = match back {
        Some((_, _, at)) if at - c.time <= sla => return None,
        Some((_, _, at)) => format!(
            "{} {field} {} set on the {side} at {} (the {owner_name} owns it, at {}) was put back only at {}, over the {} SLA",
            c.sku,
            show(&value_of(c)),
            clock(c.time),
            show(&then),
            clock(at),
            super::human_ms(sla.num_milliseconds())
        ),
        None => format!(
            "{} {field} {} set on the {side} at {} was never put back to the {owner_name}'s {}, which owns it",
            c.sku,
            show(&value_of(c)),
            clock(c.time),
            show(&then)
        ),
    };
    Some(Violation {
        message,
        sku: Some(c.sku.clone()),
        units: None,
        witnesses: vec![witness],
    })
}
