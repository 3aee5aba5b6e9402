//! `exactly_once`: a duplicated or retried delivery never applies twice. The
//! engine names the event behind each write (`reference`), so two stock
//! changes with the same reference at the same place are a double apply; so
//! are two refunds for one store return.

use std::collections::BTreeMap;

use omnisim_reports::{CheckResult, Violation, Witness};

use super::{Input, verdict};

pub(super) fn check(input: &Input<'_>) -> CheckResult {
    let mut violations = Vec::new();
    let mut seen: BTreeMap<(String, String, String, String), Vec<Witness>> = BTreeMap::new();
    for platform in ["pos", "shop"] {
        for (index, e) in input.events(platform) {
            let d = &e.data;
            let Some(reference) = d["cause"]["reference"].as_str() else {
                continue;
            };
            if !reference.starts_with("omnisim-engine:") || d["cause"]["delta"].as_i64() == Some(0)
            {
                continue;
            }
            let key = (
                platform.to_owned(),
                reference.to_owned(),
                d["sku"].as_str().unwrap_or_default().to_owned(),
                d["location"].as_str().unwrap_or_default().to_owned(),
            );
            seen.entry(key).or_default().push(Witness {
                index,
                time: e.occurred_at,
                what: format!("{platform} {} {}", e.kind, d["cause"]["delta"]),
            });
        }
    }
    let mut writes = 0;
    for ((platform, reference, sku, location), w) in seen {
        writes += 1;
        if w.len() > 1 {
            violations.push(Violation {
                message: format!(
                    "{} was applied {} times to {platform} {sku} at {location}",
                    reference.trim_start_matches("omnisim-engine:"),
                    w.len()
                ),
                sku: Some(sku),
                units: None,
                witnesses: w,
            });
        }
    }
    let mut refunds: BTreeMap<String, Vec<Witness>> = BTreeMap::new();
    for (index, e) in input.events("shop") {
        if e.kind == "refunds/create"
            && let Some(note) = e.data["note"].as_str()
            && note.starts_with("store return ")
        {
            refunds.entry(note.to_owned()).or_default().push(Witness {
                index,
                time: e.occurred_at,
                what: "refunds/create".into(),
            });
        }
    }
    for (note, w) in refunds {
        if w.len() > 1 {
            violations.push(Violation {
                message: format!("{note} was refunded online {} times", w.len()),
                sku: None,
                units: None,
                witnesses: w,
            });
        }
    }
    verdict(
        "exactly_once",
        violations,
        serde_json::json!({ "engine_writes": writes }),
    )
}
