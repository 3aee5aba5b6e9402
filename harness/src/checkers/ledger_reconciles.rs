//! `ledger_reconciles`: money is one truth across shop, POS and gateway.
//! Every order's captured − refunded equals the gateway's; no orphan or open
//! authorization after a cancel; no capture on a cancelled order; no refund
//! above captured; store sales' card tenders were collected in full. An order
//! whose payment died at the gateway, or whose pickup the store closed as a
//! no-show, does not stay open holding its authorization or its stock.
//! Gift-card money is conserved: each card at the gateway was paid for (a
//! register sale or a store-credit return) or issued by the merchant, and
//! its balance is what was loaded less what was spent and held.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use omnisim_reports::{CheckResult, Violation, Witness};

use super::{Input, verdict};

fn dec(v: &serde_json::Value) -> Decimal {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_default()
}

pub(super) fn check(input: &Input<'_>) -> CheckResult {
    let mut violations = Vec::new();
    let intents: BTreeMap<&str, &serde_json::Value> = input
        .state
        .intents
        .iter()
        .filter_map(|i| Some((i["id"].as_str()?, i)))
        .collect();
    let end = |what: String| Witness {
        index: input.history.len() as u64,
        time: input.ended,
        what,
    };
    let mut orders_by_id = BTreeMap::new();
    for o in &input.state.orders {
        let id = o["id"].as_str().unwrap_or_default();
        orders_by_id.insert(id, o);
        let Some(pi) = o["payment_intent"].as_str() else {
            continue;
        };
        let Some(intent) = intents.get(pi) else {
            violations.push(Violation {
                message: format!("order {id} names intent {pi}, which the gateway does not have"),
                sku: None,
                units: None,
                witnesses: vec![end(format!("order {id}"))],
            });
            continue;
        };
        let shop_net = dec(&o["total_captured"]) - dec(&o["total_refunded"]);
        let pay_net = dec(&intent["amount_received"]) - dec(&intent["amount_refunded"]);
        if shop_net != pay_net {
            let card = match intent["payment_method"]["gift_card"].as_str() {
                Some(code) if shop_net < pay_net => format!(
                    ": the order says {} was refunded, but it never went back onto gift card {code}",
                    pay_net - shop_net
                ),
                _ => String::new(),
            };
            violations.push(Violation {
                message: format!("order {id} shows {shop_net} captured net of refunds; the gateway shows {pay_net} on {pi}{card}"),
                sku: None,
                units: None,
                witnesses: vec![end(format!("order {id}")), end(format!("intent {pi}"))],
            });
        }
        let cancelled = o["status"] == "cancelled";
        if cancelled && intent["status"] == "requires_capture" {
            violations.push(Violation {
                message: format!(
                    "order {id} is cancelled but its authorization {pi} is still open"
                ),
                sku: None,
                units: None,
                witnesses: vec![end(format!("intent {pi}"))],
            });
        }
        if cancelled && pay_net > Decimal::ZERO {
            violations.push(Violation {
                message: format!("order {id} is cancelled but {pay_net} is still captured on {pi}"),
                sku: None,
                units: None,
                witnesses: vec![end(format!("intent {pi}"))],
            });
        }
        let handed_over = o["fulfillment_status"] == "fulfilled";
        let dead = match intent["status"].as_str() {
            Some("canceled") => Some(format!(
                "was cancelled at the gateway ({})",
                intent["cancellation_reason"].as_str().unwrap_or("voided")
            )),
            Some("requires_payment_method") if !intent["last_payment_error"].is_null() => {
                Some(format!(
                    "failed ({})",
                    intent["last_payment_error"]["code"]
                        .as_str()
                        .unwrap_or("declined")
                ))
            }
            _ => None,
        };
        if !cancelled
            && !handed_over
            && pay_net.is_zero()
            && let Some(dead) = dead
        {
            violations.push(Violation {
                message: format!(
                    "order {id} is still open, but its payment {pi} {dead}: its stock stays held for a sale that will never be paid"
                ),
                sku: None,
                units: None,
                witnesses: vec![end(format!("order {id}")), end(format!("intent {pi}"))],
            });
        }
        if !cancelled && o["fulfillment_status"] == "fulfilled" {
            // Refunds before capture lower what is captured instead of moving money back.
            let net_total =
                dec(&o["total"]) - dec(&o["total_refunded"]) - dec(&o["total_released"]);
            if pay_net != net_total {
                violations.push(Violation {
                    message: format!("order {id} was handed over; its net total is {net_total} but {pay_net} was collected"),
                    sku: None,
                    units: None,
                    witnesses: vec![end(format!("order {id}"))],
                });
            }
        }
    }
    for (pi, intent) in &intents {
        if dec(&intent["amount_refunded"]) > dec(&intent["amount_received"]) {
            violations.push(Violation {
                message: format!("intent {pi} refunded more than it captured"),
                sku: None,
                units: None,
                witnesses: vec![end(format!("intent {pi}"))],
            });
        }
        if let Some(order) = intent["metadata"]["order_id"].as_str()
            && intent["status"] == "requires_capture"
            && !orders_by_id.contains_key(order)
        {
            violations.push(Violation {
                message: format!("orphan authorization {pi}: order {order} does not exist"),
                sku: None,
                units: None,
                witnesses: vec![end(format!("intent {pi}"))],
            });
        }
    }
    // Pickups the store closed as no-shows: their orders end cancelled, the
    // authorization voided.
    for (index, e) in input.events("pos") {
        if e.kind != "pickup.cancelled" {
            continue;
        }
        let Some(order) = e.data["order_ref"]
            .as_str()
            .and_then(|id| orders_by_id.get(id))
        else {
            continue;
        };
        if order["status"] == "cancelled" || order["fulfillment_status"] == "fulfilled" {
            continue;
        }
        let id = order["id"].as_str().unwrap_or_default();
        let held = order["payment_intent"]
            .as_str()
            .and_then(|pi| intents.get(pi).map(|i| (pi, i)))
            .filter(|(_, i)| i["status"] == "requires_capture")
            .map(|(pi, _)| format!(" and its authorization {pi} is still open"))
            .unwrap_or_default();
        violations.push(Violation {
            message: format!(
                "the pickup of order {id} was closed as a no-show at the store, but the online order is still open{held}"
            ),
            sku: None,
            units: None,
            witnesses: vec![
                Witness {
                    index,
                    time: e.occurred_at,
                    what: "pickup.cancelled".into(),
                },
                end(format!("order {id}")),
            ],
        });
    }
    // Store sales: each card or gift-card tender collected in full, less its refunds.
    for (index, e) in input.events("pos") {
        if e.kind != "sale.created" {
            continue;
        }
        for t in e.data["tenders"].as_array().cloned().unwrap_or_default() {
            let Some(pi) = t["payment_intent"].as_str() else {
                continue;
            };
            let Some(intent) = intents.get(pi) else {
                continue;
            };
            if dec(&intent["amount_received"]) != dec(&t["amount"]) {
                violations.push(Violation {
                    message: format!(
                        "store sale {} took {} by {} but the gateway collected {}",
                        e.data["id"].as_str().unwrap_or("?"),
                        dec(&t["amount"]),
                        pi,
                        dec(&intent["amount_received"])
                    ),
                    sku: None,
                    units: None,
                    witnesses: vec![Witness {
                        index,
                        time: e.occurred_at,
                        what: "sale.created".into(),
                    }],
                });
            }
        }
    }
    gift_cards(input, &intents, &mut violations);
    verdict(
        "ledger_reconciles",
        violations,
        serde_json::json!({
            "orders": input.state.orders.len(),
            "intents": intents.len(),
            "gift_cards": input.state.gift_cards.len(),
        }),
    )
}

/// Money onto a gift card, and where it came from.
struct Load {
    amount: Decimal,
    what: String,
    witness: Option<Witness>,
}

/// Gift-card money is conserved: every card at the gateway was paid for
/// (sold at a register, bought online, or store credit a return gave) or
/// issued by the merchant (before the day began, online, recorded by the
/// shop as `gift_cards/issued`, or at a register, recorded by the POS as
/// `gift_card.issued`), for exactly what it was loaded with; each
/// card's balance is what was loaded less what is spent (captured net of
/// refunds back to it) and held; nothing is spent beyond what was loaded;
/// and every card a sale sold or a return gave exists.
fn gift_cards(
    input: &Input<'_>,
    intents: &BTreeMap<&str, &serde_json::Value>,
    violations: &mut Vec<Violation>,
) {
    let end = |what: String| Witness {
        index: input.history.len() as u64,
        time: input.ended,
        what,
    };
    let mut loads: BTreeMap<String, Vec<Load>> = BTreeMap::new();
    for g in &input.loaded.scenario.merchant.gift_cards {
        loads.entry(g.code.clone()).or_default().push(Load {
            amount: g.balance,
            what: format!("{} issued by the merchant before opening", g.balance),
            witness: None,
        });
    }
    for (index, e) in input.events("pos") {
        let witness = |what: &str| Witness {
            index,
            time: e.occurred_at,
            what: what.into(),
        };
        let id = e.data["id"].as_str().unwrap_or("?");
        let store = e.data["location"].as_str().unwrap_or("?");
        match e.kind.as_str() {
            "sale.created" => {
                for g in e.data["gift_cards"].as_array().into_iter().flatten() {
                    let Some(code) = g["code"].as_str() else {
                        continue;
                    };
                    let amount = dec(&g["amount"]);
                    loads.entry(code.to_owned()).or_default().push(Load {
                        amount,
                        what: format!("{amount} sold at {store} on store sale {id}"),
                        witness: Some(witness("sale.created")),
                    });
                }
            }
            // A card the register issued without a sale (a replacement, a
            // goodwill gesture, a card activated through Square's API): the
            // register recorded it with its reason; nothing paid for it.
            "gift_card.issued" => {
                if let Some(code) = e.data["code"].as_str() {
                    let amount = dec(&e.data["amount"]);
                    let reason = e.data["reason"].as_str().unwrap_or("?");
                    loads.entry(code.to_owned()).or_default().push(Load {
                        amount,
                        what: format!("{amount} issued at the register without a sale ({reason})"),
                        witness: Some(witness("gift_card.issued")),
                    });
                }
            }
            "return.created" => {
                for r in e.data["refunds"].as_array().into_iter().flatten() {
                    // A store credit: a gift card the return loaded, not a
                    // refund to a gift card tender (which names its intent).
                    if r["type"] != "gift_card" || !r["payment_intent"].is_null() {
                        continue;
                    }
                    let Some(code) = r["reference"].as_str() else {
                        continue;
                    };
                    let amount = dec(&r["amount"]);
                    loads.entry(code.to_owned()).or_default().push(Load {
                        amount,
                        what: format!("{amount} store credit from store return {id} at {store}"),
                        witness: Some(witness("return.created")),
                    });
                }
            }
            _ => {}
        }
    }
    // Cards the merchant issued online without a sale: the shop recorded
    // each (`gift_cards/issued`, with its reason); nothing paid for them.
    for (index, e) in input.events("shop") {
        if e.kind != "gift_cards/issued" {
            continue;
        }
        let Some(code) = e.data["code"].as_str() else {
            continue;
        };
        let amount = dec(&e.data["amount"]);
        let reason = e.data["reason"].as_str().unwrap_or("?");
        loads.entry(code.to_owned()).or_default().push(Load {
            amount,
            what: format!("{amount} issued by the merchant online ({reason})"),
            witness: Some(Witness {
                index,
                time: e.occurred_at,
                what: "gift_cards/issued".into(),
            }),
        });
    }
    // Cards bought online: the captured payment names its card.
    for (pi, intent) in intents {
        let Some(code) = intent["metadata"]["gift_card_code"].as_str() else {
            continue;
        };
        let amount = dec(&intent["amount_received"]) - dec(&intent["amount_refunded"]);
        if amount.is_zero() {
            continue; // Declined, or refunded when the card could not be issued.
        }
        let buyer = intent["metadata"]["gift_card_customer"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map(|c| format!(" by {c}"))
            .unwrap_or_default();
        loads.entry(code.to_owned()).or_default().push(Load {
            amount,
            what: format!("{amount} bought online{buyer} ({pi})"),
            witness: None,
        });
    }
    // What each card's payments took, net of refunds, and what they hold.
    let mut spends: BTreeMap<&str, Vec<(Decimal, Decimal, String)>> = BTreeMap::new();
    for (pi, intent) in intents {
        let Some(code) = intent["payment_method"]["gift_card"].as_str() else {
            continue;
        };
        let net = dec(&intent["amount_received"]) - dec(&intent["amount_refunded"]);
        let held = if intent["status"] == "requires_capture" {
            dec(&intent["amount_capturable"])
        } else {
            Decimal::ZERO
        };
        let place = match (
            intent["metadata"]["order_id"].as_str(),
            intent["metadata"]["pos_sale"].as_str(),
        ) {
            (Some(order), _) => format!("online on {order}"),
            (None, Some(sale)) => format!("in store on {sale}"),
            (None, None) => format!("on {pi}"),
        };
        spends.entry(code).or_default().push((net, held, place));
    }
    let mut at_gateway = std::collections::BTreeSet::new();
    for card in &input.state.gift_cards {
        let Some(code) = card["code"].as_str() else {
            continue;
        };
        at_gateway.insert(code);
        let balance = dec(&card["balance"]);
        let issued = dec(&card["initial_balance"]);
        let its_loads = loads.get(code).map(Vec::as_slice).unwrap_or_default();
        let loaded: Decimal = its_loads.iter().map(|l| l.amount).sum();
        let witnesses = |last: String| {
            its_loads
                .iter()
                .filter_map(|l| l.witness.clone())
                .chain(std::iter::once(end(last)))
                .collect::<Vec<_>>()
        };
        if its_loads.is_empty() {
            violations.push(Violation {
                message: format!(
                    "gift card {code}: the gateway issued it with {issued}, but no sale, online order or store-credit return paid for it"
                ),
                sku: None,
                units: None,
                witnesses: witnesses(format!("gift card {code}")),
            });
            continue;
        }
        let story = |tail: String| {
            let mut parts: Vec<String> = its_loads.iter().map(|l| l.what.clone()).collect();
            for (net, held, place) in spends.get(code).into_iter().flatten() {
                if !net.is_zero() {
                    parts.push(format!("{net} spent {place}"));
                }
                if !held.is_zero() {
                    parts.push(format!("{held} held {place}"));
                }
            }
            format!("gift card {code}: {}, {tail}", parts.join(", "))
        };
        if issued != loaded {
            violations.push(Violation {
                message: story(format!("but the gateway issued it with {issued}")),
                sku: None,
                units: None,
                witnesses: witnesses(format!("gift card {code}")),
            });
            continue;
        }
        let (spent, held) = spends
            .get(code)
            .into_iter()
            .flatten()
            .fold((Decimal::ZERO, Decimal::ZERO), |(s, h), (net, held, _)| {
                (s + net, h + held)
            });
        if spent + held > loaded {
            violations.push(Violation {
                message: story(format!(
                    "which is {} more than was ever loaded onto it",
                    spent + held - loaded
                )),
                sku: None,
                units: None,
                witnesses: witnesses(format!("gift card {code}")),
            });
        } else if loaded - spent - held != balance {
            violations.push(Violation {
                message: story(format!(
                    "so {} should be left, but its balance is {balance}",
                    loaded - spent - held
                )),
                sku: None,
                units: None,
                witnesses: witnesses(format!("gift card {code}")),
            });
        }
    }
    for (code, its_loads) in &loads {
        if at_gateway.contains(code.as_str()) {
            continue;
        }
        let what: Vec<&str> = its_loads.iter().map(|l| l.what.as_str()).collect();
        violations.push(Violation {
            message: format!(
                "gift card {code}: {}, but the gateway has no such card",
                what.join(", ")
            ),
            sku: None,
            units: None,
            witnesses: its_loads
                .iter()
                .filter_map(|l| l.witness.clone())
                .chain(std::iter::once(end(format!("gift card {code}"))))
                .collect(),
        });
    }
}
