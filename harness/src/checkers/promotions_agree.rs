//! `promotions_agree`: a promotion defined once on the shop (the master)
//! prices sales the same way on both channels, and the register's copy of it
//! ends up with the shop's window and terms.
//!
//! The master's promotions come from the shop's own `promotions/create` and
//! `promotions/update` events, each with the true time of its commit, so the
//! checker knows what the shop said at every moment. Every sale is judged
//! against that: a store sale (`sale.created`, at its `occurred_at`) and a
//! web order (`orders/create`, at its `created_at`; one with a discount code
//! is left out, as a code never combines with a promotion). The promotion a
//! sale should take is the one that takes the most off among those running
//! at that moment ([`omnisim_api::promotion::best`], the published rule);
//! the register may lag the shop by the catalog SLA, so a store sale is
//! right if it matches what the shop said at any moment within the SLA
//! before it. A sale is wrong when it took a different promotion, or a
//! different amount off, than every one of those.
//!
//! After the run settles, every master promotion has one copy at the
//! register (`external_ref` = its shop id) with the same value, SKUs, start,
//! end and status.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use omnisim_api::pos::Sale;
use omnisim_api::promotion::{PricedLine, Promotion, best};
use omnisim_api::shop::Order;
use omnisim_reports::{CheckResult, Violation, Witness};
use rust_decimal::Decimal;

use super::{Input, clock, verdict};

/// One edit of a master promotion: when the shop committed it, where it is
/// in the history, and the promotion after it.
struct Said {
    index: u64,
    time: DateTime<Utc>,
    promotion: Promotion,
}

/// A sale on either channel, as the checker reads it.
struct Judged {
    index: u64,
    at: DateTime<Utc>,
    store: bool,
    id: String,
    currency: String,
    lines: Vec<(String, Decimal, i64)>,
    /// The master id of the promotion it took (a register promotion's
    /// `external_ref`, or its own id when it has none), if any.
    took: Option<String>,
    off: Decimal,
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "never".to_owned(), clock)
}

/// What the shop had said by `t`: each promotion's latest state.
fn known_at(master: &BTreeMap<String, Vec<Said>>, t: DateTime<Utc>) -> Vec<&Promotion> {
    master
        .values()
        .filter_map(|edits| edits.iter().rev().find(|s| s.time <= t))
        .map(|s| &s.promotion)
        .collect()
}

fn expected(known: &[&Promotion], sale: &Judged) -> (Option<String>, Decimal, Option<Promotion>) {
    let lines: Vec<PricedLine<'_>> = sale
        .lines
        .iter()
        .map(|(sku, price, quantity)| PricedLine {
            sku,
            price: *price,
            quantity: *quantity,
        })
        .collect();
    match best(known.iter().copied(), sale.at, &lines, &sale.currency) {
        Some((p, off)) => (Some(p.id.clone()), off.iter().sum(), Some(p.clone())),
        None => (None, Decimal::ZERO, None),
    }
}

fn units(lines: &[(String, Decimal, i64)]) -> String {
    lines
        .iter()
        .map(|(sku, _, q)| format!("{q} {sku}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks it.
pub fn check(input: &Input<'_>) -> CheckResult {
    let mut master: BTreeMap<String, Vec<Said>> = BTreeMap::new();
    let mut sales: Vec<Judged> = Vec::new();
    for (index, event, time) in input.events_at("shop") {
        match event.kind.as_str() {
            "promotions/create" | "promotions/update" => {
                if let Ok(p) = serde_json::from_value::<Promotion>(event.data.clone()) {
                    master.entry(p.id.clone()).or_default().push(Said {
                        index,
                        time,
                        promotion: p,
                    });
                }
            }
            "orders/create" => {
                if let Ok(o) = serde_json::from_value::<Order>(event.data.clone())
                    && o.discount_code.is_none()
                {
                    sales.push(Judged {
                        index,
                        at: o.created_at,
                        store: false,
                        off: o.lines.iter().map(|l| l.discount).sum(),
                        lines: o
                            .lines
                            .iter()
                            .map(|l| (l.sku.clone(), l.price, l.quantity))
                            .collect(),
                        id: o.id,
                        currency: o.currency,
                        took: o.promotion,
                    });
                }
            }
            _ => {}
        }
    }
    // The register's promotions: the latest state of each, and the master id
    // each stands for.
    let mut register: BTreeMap<String, (u64, DateTime<Utc>, Promotion)> = BTreeMap::new();
    let mut store_sales: Vec<(u64, Sale)> = Vec::new();
    for (index, event, time) in input.events_at("pos") {
        match event.kind.as_str() {
            "promotion.created" | "promotion.updated" => {
                if let Ok(p) = serde_json::from_value::<Promotion>(event.data.clone()) {
                    register.insert(p.id.clone(), (index, time, p));
                }
            }
            "sale.created" => {
                if let Ok(s) = serde_json::from_value::<Sale>(event.data.clone()) {
                    store_sales.push((index, s));
                }
            }
            _ => {}
        }
    }
    let master_id = |pos_id: &str| -> String {
        register
            .get(pos_id)
            .and_then(|(_, _, p)| p.external_ref.clone())
            .unwrap_or_else(|| pos_id.to_owned())
    };
    for (index, s) in store_sales {
        sales.push(Judged {
            index,
            at: s.occurred_at,
            store: true,
            off: s.lines.iter().map(|l| l.discount).sum(),
            lines: s
                .lines
                .iter()
                .map(|l| (l.sku.clone(), l.price, l.quantity))
                .collect(),
            took: s.promotion.as_deref().map(master_id),
            id: s.id,
            currency: s.currency,
        });
    }
    if master.is_empty() && register.is_empty() {
        return verdict("promotions_agree", Vec::new(), serde_json::json!({}));
    }

    let lag = TimeDelta::from_std(input.catalog_sla()).unwrap_or_default();
    let title_of = |id: &str| -> String {
        master
            .get(id)
            .and_then(|e| e.last())
            .map(|s| s.promotion.title.clone())
            .or_else(|| {
                register
                    .values()
                    .find(|(_, _, p)| p.id == id)
                    .map(|(_, _, p)| p.title.clone())
            })
            .unwrap_or_else(|| id.to_owned())
    };
    let mut violations = Vec::new();
    let mut judged = 0u64;
    for sale in &sales {
        judged += 1;
        let since = if sale.store { sale.at - lag } else { sale.at };
        let mut moments = vec![since];
        for edits in master.values() {
            moments.extend(
                edits
                    .iter()
                    .map(|s| s.time)
                    .filter(|t| *t > since && *t <= sale.at),
            );
        }
        moments.push(sale.at);
        let options: Vec<(Option<String>, Decimal, Option<Promotion>)> = moments
            .iter()
            .map(|t| expected(&known_at(&master, *t), sale))
            .collect();
        if options
            .iter()
            .any(|(id, off, _)| *id == sale.took && *off == sale.off)
        {
            continue;
        }
        let (want_id, want_off, want) = options.last().cloned().unwrap_or_default();
        let channel = if sale.store {
            "store sale"
        } else {
            "web order"
        };
        let what = format!(
            "{channel} {} at {} of {}",
            sale.id,
            clock(sale.at),
            units(&sale.lines)
        );
        let took = match &sale.took {
            Some(id) => {
                let shop_says = master.get(id).and_then(|e| e.last());
                match shop_says {
                    Some(s) if !s.promotion.running_at(sale.at) => format!(
                        "took {} {} off under {}, which ran online from {} to {}",
                        sale.off,
                        sale.currency,
                        s.promotion.describe(),
                        clock(s.promotion.starts_at),
                        when(s.promotion.ends_at)
                    ),
                    Some(s) => format!(
                        "took {} {} off under {}",
                        sale.off,
                        sale.currency,
                        s.promotion.describe()
                    ),
                    None => format!(
                        "took {} {} off under {}, a promotion the shop never had",
                        sale.off,
                        sale.currency,
                        title_of(id)
                    ),
                }
            }
            None => "took no promotion".to_owned(),
        };
        let should = match (&want_id, &want) {
            (Some(_), Some(p)) => format!(
                "the shop's {} running then takes {want_off} {} off",
                p.describe(),
                sale.currency
            ),
            _ => "no promotion ran online then".to_owned(),
        };
        let mut witnesses = vec![Witness {
            index: sale.index,
            time: sale.at,
            what: format!("{channel} {}", sale.id),
        }];
        for id in [sale.took.as_ref(), want_id.as_ref()].into_iter().flatten() {
            if let Some(s) = master.get(id).and_then(|e| e.last()) {
                witnesses.push(Witness {
                    index: s.index,
                    time: s.time,
                    what: format!("the shop's last edit of {}", s.promotion.title),
                });
            }
        }
        witnesses.sort_by_key(|w| w.index);
        witnesses.dedup_by_key(|w| w.index);
        violations.push(Violation {
            message: format!("{what} {took}; {should}"),
            sku: sale.lines.first().map(|(sku, _, _)| sku.clone()),
            units: None,
            witnesses,
        });
    }

    // After the settle: the register's copy of each master promotion.
    let end = input.history.len() as u64;
    for (id, edits) in &master {
        let Some(last) = edits.last() else {
            continue;
        };
        let shop = &last.promotion;
        let copy = register
            .values()
            .find(|(_, _, p)| p.external_ref.as_deref() == Some(id.as_str()));
        let Some((index, time, there)) = copy else {
            violations.push(Violation {
                message: format!(
                    "{} was defined online at {} but never reached the register",
                    shop.describe(),
                    clock(edits[0].time)
                ),
                sku: shop.skus.first().cloned(),
                units: None,
                witnesses: vec![Witness {
                    index: last.index,
                    time: last.time,
                    what: format!("the shop's last edit of {}", shop.title),
                }],
            });
            continue;
        };
        let mut differs = Vec::new();
        if there.ends_at != shop.ends_at {
            differs.push(format!(
                "ends at {} online but {} at the register",
                when(shop.ends_at),
                when(there.ends_at)
            ));
        }
        if there.starts_at != shop.starts_at {
            differs.push(format!(
                "starts at {} online but {} at the register",
                clock(shop.starts_at),
                clock(there.starts_at)
            ));
        }
        if there.status != shop.status {
            differs.push(format!(
                "is {:?} online but {:?} at the register",
                shop.status, there.status
            ));
        }
        if there.value != shop.value || there.kind != shop.kind || there.skus != shop.skus {
            differs.push(format!(
                "is {} online but {} at the register",
                shop.describe(),
                there.describe()
            ));
        }
        if differs.is_empty() {
            continue;
        }
        violations.push(Violation {
            message: format!("{} {}", shop.title, differs.join("; ")),
            sku: shop.skus.first().cloned(),
            units: None,
            witnesses: vec![
                Witness {
                    index: last.index,
                    time: last.time,
                    what: format!("the shop's last edit of {}", shop.title),
                },
                Witness {
                    index: *index,
                    time: *time,
                    what: format!("the register's copy {} as last changed", there.id),
                },
                Witness {
                    index: end,
                    time: input.ended,
                    what: "the end of the run".to_owned(),
                },
            ],
        });
    }
    violations.sort_by_key(|v| v.witnesses.first().map(|w| w.index));
    verdict(
        "promotions_agree",
        violations,
        serde_json::json!({
            "promotions": master.len(),
            "sales_judged": judged,
        }),
    )
}
