//! `catalog_parity`: a price or tax change reaches the other channel within
//! the catalog SLA, in whichever direction the scenario makes it (on the
//! shop, by default, reaching the POS item; on the POS with `target =
//! "pos"`, reaching the shop product), and both agree at the end. A change
//! has reached the other channel when that channel's own record of the SKU
//! first shows it (or a later change of the same SKU, which a connector may
//! carry instead of one that no longer holds), whoever wrote it there.
//! Product status (paused or active per sales channel) is the shop's alone:
//! the POS has nothing to reflect.

use rust_decimal::Decimal;

use omnisim_reports::{CheckResult, Violation, Witness};

use super::{Input, clock, verdict};
use crate::history::{Entry, OpType};

fn dec(v: &serde_json::Value) -> Option<Decimal> {
    v.as_str().and_then(|s| s.parse().ok())
}

/// One catalog change made by the staff.
struct Change<'a> {
    index: u64,
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
    let changes: Vec<Change<'_>> = input
        .history
        .iter()
        .filter_map(|e| match e {
            Entry::Op {
                index,
                time,
                kind: OpType::Ok,
                f,
                value,
                process,
                step,
            } if process == "staff" && (f == "price" || f == "tax") => {
                let on_pos = input.loaded.scenario.steps[*step]
                    .target
                    .as_ref()
                    .is_some_and(|t| t.get_ref() == "pos");
                Some(Change {
                    index: *index,
                    time: *time,
                    f,
                    sku: value["sku"].as_str().unwrap_or_default().to_owned(),
                    price: dec(&value["price"]),
                    tax: value["tax_code"].clone(),
                    on: if on_pos { "pos" } else { "shop" },
                })
            }
            _ => None,
        })
        .collect();
    let mut latencies: std::collections::BTreeMap<&str, Vec<i64>> = Default::default();
    for c in &changes {
        let (other, other_name, event_kind, direction) = if c.on == "pos" {
            ("shop", "shop", "products/update", "POS → shop")
        } else {
            ("pos", "POS", "item.updated", "shop → POS")
        };
        let listed = catalog
            .iter()
            .any(|i| i.sku.get_ref() == &c.sku && i.on_pos && i.on_shop);
        if !listed {
            continue;
        }
        // This change or any later one of the same SKU.
        let acceptable: Vec<(Option<Decimal>, &serde_json::Value)> = changes
            .iter()
            .filter(|l| l.index >= c.index && l.sku == c.sku)
            .map(|l| (l.price, &l.tax))
            .collect();
        let reached = input.events(other).find(|(_, ev)| {
            ev.kind == event_kind
                && ev.occurred_at >= c.time
                && ev.data["sku"] == c.sku.as_str()
                && acceptable.iter().any(|(price, tax)| {
                    dec(&ev.data["price"]) == *price
                        && ev.data["tax_code"].as_str().unwrap_or_default()
                            == tax.as_str().unwrap_or_default()
                })
        });
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
            Some((_, ev)) => {
                let lag = ev.occurred_at - c.time;
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
                            clock(ev.occurred_at),
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
    let mut metrics = serde_json::Map::new();
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
