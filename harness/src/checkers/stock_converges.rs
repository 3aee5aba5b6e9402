//! `stock_converges`: after the settle window, every channel shows the true
//! available stock (the shop minus the buffer at stores).

use omnisim_reports::{CheckResult, Violation, Witness};

use super::{Input, verdict};
use crate::scenario::LocationKindSpec;

pub(super) fn check(input: &Input<'_>) -> CheckResult {
    let mut violations = Vec::new();
    let m = &input.loaded.scenario.merchant;
    let mut compared = 0;
    for item in &m.catalog {
        let sku = item.sku.get_ref();
        for loc in &m.locations {
            let id = loc.id.get_ref();
            let truth = input.truth.available(sku, id);
            let key = format!("{sku}@{id}");
            let store = loc.kind == LocationKindSpec::Store;
            let witness = |what: String| Witness {
                index: input.history.len() as u64,
                time: input.ended,
                what,
            };
            if store && item.on_pos && item.on_shop {
                compared += 1;
                if let Some(pos) = input.state.pos_counts.get(&key)
                    && *pos != truth
                {
                    violations.push(Violation {
                        message: format!(
                            "POS shows {pos} {sku} sellable at {id}; the truth is {truth}"
                        ),
                        sku: Some(sku.clone()),
                        units: Some(pos - truth),
                        witnesses: vec![witness(format!("final POS count {pos}"))],
                    });
                }
            }
            if item.on_shop && (!store || item.on_pos) {
                let want = if store {
                    (truth - input.buffer).max(0).min(truth.max(0))
                } else {
                    truth
                };
                if let Some(level) = input.state.shop_levels.get(&key) {
                    compared += 1;
                    let shown = level["available"].as_i64().unwrap_or(0);
                    // Negative availability and zero both mean "cannot sell"; compare what can be sold.
                    if shown.max(0) != want.max(0) {
                        violations.push(Violation {
                            message: format!("shop shows {shown} {sku} available at {id}; the truth minus buffer is {want}"),
                            sku: Some(sku.clone()),
                            units: Some(shown - want),
                            witnesses: vec![witness(format!("final shop level {shown}"))],
                        });
                    }
                }
            }
        }
    }
    verdict(
        "stock_converges",
        violations,
        serde_json::json!({ "views_compared": compared }),
    )
}
