//! `catalog_parity`: a price or tax change made on the shop reaches the POS
//! within the catalog SLA, and both agree at the end.

use rust_decimal::Decimal;

use omnisim_reports::{CheckResult, Violation, Witness};

use super::{Input, clock, verdict};
use crate::history::{Entry, OpType};

fn dec(v: &serde_json::Value) -> Option<Decimal> {
    v.as_str().and_then(|s| s.parse().ok())
}

pub(super) fn check(input: &Input<'_>) -> CheckResult {
    let mut violations = Vec::new();
    let sla = chrono::TimeDelta::from_std(input.catalog_sla()).unwrap_or_default();
    let mut latencies = Vec::new();
    // Every shop-side change as (history index, sku, price, tax code): a
    // change superseded by a later one of the same SKU has reached the POS
    // when the POS shows it or any later one (a connector may skip a price
    // that no longer holds).
    let shop_changes: Vec<(u64, String, Option<Decimal>, serde_json::Value)> = input
        .history
        .iter()
        .filter_map(|e| match e {
            Entry::Op {
                index,
                kind: OpType::Ok,
                f,
                value,
                process,
                step,
                ..
            } if process == "staff"
                && (f == "price" || f == "tax")
                && input.loaded.scenario.steps[*step]
                    .target
                    .as_ref()
                    .is_none_or(|t| t.get_ref() != "pos") =>
            {
                Some((
                    *index,
                    value["sku"].as_str().unwrap_or_default().to_owned(),
                    dec(&value["price"]),
                    value["tax_code"].clone(),
                ))
            }
            _ => None,
        })
        .collect();
    for e in input.history {
        let Entry::Op {
            index,
            time,
            kind: OpType::Ok,
            f,
            value,
            process,
            step,
        } = e
        else {
            continue;
        };
        if process != "staff" || !(f == "price" || f == "tax") {
            continue;
        }
        let st = &input.loaded.scenario.steps[*step];
        if st.target.as_ref().is_some_and(|t| t.get_ref() == "pos") {
            continue;
        }
        let sku = value["sku"].as_str().unwrap_or_default();
        if !input
            .loaded
            .scenario
            .merchant
            .catalog
            .iter()
            .any(|c| c.sku.get_ref() == sku && c.on_pos)
        {
            continue;
        }
        let acceptable: Vec<(Option<Decimal>, &serde_json::Value)> = shop_changes
            .iter()
            .filter(|(i, s, _, _)| i >= index && s == sku)
            .map(|(_, _, price, tax)| (*price, tax))
            .collect();
        let reached = input.events("pos").find(|(_, ev)| {
            ev.kind == "item.updated"
                && ev.occurred_at >= *time
                && ev.data["sku"] == sku
                && acceptable.iter().any(|(price, tax)| {
                    dec(&ev.data["price"]) == *price && ev.data["tax_code"] == **tax
                })
        });
        match reached {
            Some((_, ev)) => {
                let lag = ev.occurred_at - *time;
                latencies.push(lag.num_milliseconds());
                if lag > sla {
                    violations.push(Violation {
                        message: format!(
                            "{sku} {f} change at {} reached the POS only at {}",
                            clock(*time),
                            clock(ev.occurred_at)
                        ),
                        sku: Some(sku.to_owned()),
                        units: None,
                        witnesses: vec![Witness {
                            index: *index,
                            time: *time,
                            what: format!("staff {f}"),
                        }],
                    });
                }
            }
            None => violations.push(Violation {
                message: format!("{sku} {f} change at {} never reached the POS", clock(*time)),
                sku: Some(sku.to_owned()),
                units: None,
                witnesses: vec![Witness {
                    index: *index,
                    time: *time,
                    what: format!("staff {f}"),
                }],
            }),
        }
    }
    // Both agree at the end on every SKU listed on both.
    for item in &input.loaded.scenario.merchant.catalog {
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
    latencies.sort_unstable();
    verdict(
        "catalog_parity",
        violations,
        serde_json::json!({ "changes": latencies.len(), "max_ms": latencies.last() }),
    )
}
