//! Each checker fed a history with a known violation, and the same history
//! without it. Checkers are pure: history, final state and truth in, verdict out.

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use omnisim_api::{Actor, ActorKind, Event};
use omnisim_harness::checkers::{self, FinalState, Input};
use omnisim_harness::history::{Entry, OpType};
use omnisim_harness::validate::{Loaded, load_str};
use omnisim_reports::{CheckResult, Status};
use serde_json::{Value, json};

const SCENARIO: &str = r#"name = "checker fixture"
[merchant]
locations = [{ id = "store-1", kind = "store" }]
[[merchant.catalog]]
sku = "MUG"
title = "Mug"
price = "10.00"
stock = { "store-1" = 2 }
[[step]]
at = "10:00"
actor = "pos"
action = "sale"
location = "store-1"
lines = { MUG = 1 }
[[step]]
at = "10:05"
actor = "pos"
action = "return"
location = "store-1"
lines = { MUG = 1 }
[[step]]
at = "10:10"
actor = "staff"
action = "price"
sku = "MUG"
price = "12.00"
"#;

fn loaded() -> Loaded {
    load_str(Path::new("fixture.toml"), SCENARIO).expect("fixture is valid")
}

fn t(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + TimeDelta::minutes(minutes)
}

fn op(index: u64, minutes: i64, step: usize, process: &str, f: &str, value: Value) -> Entry {
    Entry::Op {
        index,
        time: t(minutes),
        step,
        process: process.into(),
        kind: OpType::Ok,
        f: f.into(),
        value,
    }
}

fn event(index: u64, platform: &str, id: &str, kind: &str, seconds: i64, data: Value) -> Entry {
    Entry::Event {
        index,
        platform: platform.into(),
        event: Event {
            id: id.into(),
            seq: index,
            kind: kind.into(),
            occurred_at: t(0) + TimeDelta::seconds(seconds),
            actor: Actor {
                kind: ActorKind::Actor,
                id: "actor:clerk".into(),
            },
            data,
        },
        skew_ms: None,
    }
}

/// The same event, caused by the connector's credential.
fn by_connector(mut e: Entry) -> Entry {
    if let Entry::Event { event, .. } = &mut e {
        event.actor = Actor {
            kind: ActorKind::Connector,
            id: "app:0badc0de".into(),
        };
    }
    e
}

fn sale(qty: i64) -> Entry {
    op(
        1,
        0,
        0,
        "pos:store-1",
        "sale",
        json!({"id": "sale_1", "location": "store-1", "lines": [{"sku": "MUG", "quantity": qty, "price": "10.00", "total": format!("{}.00", 10 * qty)}]}),
    )
}

fn check(name: &str, history: &[Entry], state: &FinalState) -> CheckResult {
    let loaded = loaded();
    let truth = omnisim_harness::truth::compute(&loaded, history);
    let input = Input {
        loaded: &loaded,
        history,
        state,
        truth: &truth,
        buffer: 0,
        ended: t(60),
    };
    checkers::run_all(&input)
        .into_iter()
        .find(|c| c.name == name)
        .expect("a checker of that name")
}

fn converged(pos: i64, shop: i64) -> FinalState {
    let mut s = FinalState::default();
    s.pos_counts.insert("MUG@store-1".into(), pos);
    s.shop_levels
        .insert("MUG@store-1".into(), json!({"available": shop}));
    s
}

#[test]
fn no_oversell() {
    assert_eq!(
        check("no_oversell", &[sale(2)], &converged(0, 0)).status,
        Status::Pass
    );
    let c = check("no_oversell", &[sale(3)], &converged(0, 0));
    assert_eq!(c.status, Status::Fail);
    assert_eq!(c.violations[0].units, Some(1));
    assert!(
        c.violations[0].message.contains("when true stock was 2"),
        "{}",
        c.violations[0].message
    );
    assert_eq!(c.violations[0].witnesses[0].index, 1);
}

#[test]
fn stock_converges() {
    assert_eq!(
        check("stock_converges", &[sale(1)], &converged(1, 1)).status,
        Status::Pass
    );
    let c = check("stock_converges", &[sale(1)], &converged(1, 2));
    assert_eq!(c.status, Status::Fail);
    assert!(
        c.violations[0].message.contains("shop shows 2"),
        "{}",
        c.violations[0].message
    );
}

#[test]
fn ledger_reconciles() {
    let state = |received: &str| FinalState {
        orders: vec![
            json!({"id": "ord_1", "status": "open", "payment_intent": "pi_1", "total": "10.00", "total_captured": "10.00", "total_refunded": "0.00", "total_released": "0.00", "fulfillment_status": "fulfilled"}),
        ],
        intents: vec![
            json!({"id": "pi_1", "status": "succeeded", "amount_received": received, "amount_refunded": "0.00", "metadata": {"order_id": "ord_1"}}),
        ],
        ..FinalState::default()
    };
    assert_eq!(
        check("ledger_reconciles", &[], &state("10.00")).status,
        Status::Pass
    );
    let c = check("ledger_reconciles", &[], &state("8.00"));
    assert_eq!(c.status, Status::Fail);
    assert!(
        c.violations[0].message.contains("the gateway shows 8.00"),
        "{}",
        c.violations[0].message
    );
    let orphan = FinalState {
        intents: vec![
            json!({"id": "pi_9", "status": "requires_capture", "amount_received": "0.00", "amount_refunded": "0.00", "metadata": {"order_id": "ord_9"}}),
        ],
        ..FinalState::default()
    };
    assert!(
        check("ledger_reconciles", &[], &orphan).violations[0]
            .message
            .contains("orphan authorization pi_9")
    );
}

#[test]
fn exactly_once() {
    // A clerk's sale of one mug at 10:00, and the connector's writes on the
    // shop; whatever they carry as a reference, only their effect counts.
    let pos_sale = event(
        4,
        "pos",
        "evt_pos_4",
        "inventory.count.updated",
        0,
        json!({"sku": "MUG", "location": "store-1", "quantity": 1, "cause": {"kind": "sale", "reference": "sale_1", "delta": -1}}),
    );
    let write = |index, reference: Value| {
        by_connector(event(
            index,
            "shop",
            &format!("evt_shop_{index}"),
            "inventory_levels/update",
            index as i64,
            json!({"sku": "MUG", "location": "store-1", "cause": {"kind": "adjust", "reference": reference, "delta": -1}}),
        ))
    };
    for reference in [
        json!(null),
        json!("anything-7"),
        json!("omnisim-engine:evt_pos_4"),
    ] {
        let once = check(
            "exactly_once",
            &[sale(1), pos_sale.clone(), write(10, reference.clone())],
            &FinalState::default(),
        );
        assert_eq!(once.status, Status::Pass, "{:?}", once.violations);
        let c = check(
            "exactly_once",
            &[
                sale(1),
                pos_sale.clone(),
                write(10, reference.clone()),
                write(11, reference),
            ],
            &FinalState::default(),
        );
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.violations[0].message.contains("POS → shop")
                && c.violations[0].message.contains("applied twice"),
            "{}",
            c.violations[0].message
        );
    }
    // An absolute write over the target's own change moves it by that
    // change as well: a lost update (the shop's sale of one never reaches
    // the register), not the register's +2 applied twice.
    let staff_receipt = event(
        5,
        "pos",
        "evt_pos_5",
        "inventory.count.updated",
        5,
        json!({"sku": "MUG", "location": "store-1", "cause": {"kind": "receive", "reference": null, "delta": 2}}),
    );
    let shop_sale = event(
        6,
        "shop",
        "evt_shop_6",
        "inventory_levels/update",
        6,
        json!({"sku": "MUG", "location": "store-1", "cause": {"kind": "order", "reference": null, "delta": -1}}),
    );
    let absolute = by_connector(event(
        7,
        "shop",
        "evt_shop_7",
        "inventory_levels/update",
        7,
        json!({"sku": "MUG", "location": "store-1", "cause": {"kind": "set", "reference": null, "delta": 3}}),
    ));
    let c = check(
        "exactly_once",
        &[sale(1), staff_receipt, shop_sale, absolute],
        &FinalState::default(),
    );
    assert_eq!(c.status, Status::Pass, "{:?}", c.violations);
    // The same write by a clerk is no connector's double apply.
    let staff_write = event(
        11,
        "shop",
        "evt_shop_11",
        "inventory_levels/update",
        11,
        json!({"sku": "MUG", "location": "store-1", "cause": {"kind": "adjust", "reference": null, "delta": -1}}),
    );
    let c = check(
        "exactly_once",
        &[sale(1), pos_sale, write(10, json!(null)), staff_write],
        &FinalState::default(),
    );
    assert_eq!(c.status, Status::Pass, "{:?}", c.violations);
}

#[test]
fn returns_restock() {
    let sale_event = event(
        5,
        "pos",
        "evt_pos_5",
        "sale.created",
        0,
        json!({"id": "sale_1", "lines": [{"sku": "MUG", "quantity": 2, "price": "10.00", "total": "20.00"}]}),
    );
    let ret = |amount: &str| {
        op(
            2,
            5,
            1,
            "pos:store-1",
            "return",
            json!({"id": "ret_1", "sale_id": "sale_1", "location": "store-1", "restock": true, "currency": "USD", "lines": [{"sku": "MUG", "quantity": 1, "amount": amount}]}),
        )
    };
    let restocked = event(
        6,
        "pos",
        "evt_pos_6",
        "inventory.count.updated",
        300,
        json!({"sku": "MUG", "location": "store-1", "quantity": 1, "cause": {"kind": "return", "reference": "ret_1", "delta": 1}}),
    );
    let ok = check(
        "returns_restock",
        &[ret("10.00"), sale_event.clone(), restocked],
        &FinalState::default(),
    );
    assert_eq!(ok.status, Status::Pass, "{:?}", ok.violations);
    let c = check(
        "returns_restock",
        &[ret("12.00"), sale_event],
        &FinalState::default(),
    );
    assert_eq!(c.status, Status::Fail);
    let messages: Vec<&str> = c.violations.iter().map(|v| v.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.contains("restocked 0")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("paid back 12.00") && m.contains("is 10.00")),
        "{messages:?}"
    );
}

#[test]
fn catalog_parity() {
    let change = op(
        3,
        10,
        2,
        "staff",
        "price",
        json!({"sku": "MUG", "price": "12.00", "tax_code": null}),
    );
    // The shop's own record of the edit, committed as the step ran.
    let made = event(
        8,
        "shop",
        "evt_shop_8",
        "products/update",
        600,
        json!({"sku": "MUG", "price": "12.00", "tax_code": null}),
    );
    let reached = |seconds| {
        by_connector(event(
            9,
            "pos",
            "evt_pos_9",
            "item.updated",
            seconds,
            json!({"sku": "MUG", "price": "12.00", "tax_code": null}),
        ))
    };
    assert_eq!(
        check(
            "catalog_parity",
            &[change.clone(), made.clone(), reached(601)],
            &FinalState::default()
        )
        .status,
        Status::Pass
    );
    let late = check(
        "catalog_parity",
        &[change.clone(), made.clone(), reached(600 + 3600)],
        &FinalState::default(),
    );
    assert_eq!(late.status, Status::Fail);
    assert!(
        late.violations[0]
            .message
            .contains("reached the POS only at 11:10:00"),
        "{}",
        late.violations[0].message
    );
    assert!(
        check(
            "catalog_parity",
            &[change.clone(), made],
            &FinalState::default()
        )
        .violations[0]
            .message
            .contains("never reached")
    );
    // An edit the shop never recorded (the price it already had) changed
    // nothing: there is nothing to carry.
    assert_eq!(
        check("catalog_parity", &[change], &FinalState::default()).status,
        Status::Pass
    );
}

#[test]
fn sync_latency() {
    let pos_change = event(
        4,
        "pos",
        "evt_pos_4",
        "inventory.count.updated",
        0,
        json!({"sku": "MUG", "location": "store-1", "quantity": 1, "cause": {"kind": "sale", "reference": "sale_1", "delta": -1}}),
    );
    // By delta, with no reference at all, or by an absolute set.
    let landed = |seconds, kind: &str| {
        by_connector(event(
            8,
            "shop",
            "evt_shop_8",
            "inventory_levels/update",
            seconds,
            json!({"sku": "MUG", "location": "store-1", "available": 1, "cause": {"kind": kind, "reference": null, "delta": -1}}),
        ))
    };
    for kind in ["adjust", "set"] {
        let fast = check(
            "sync_latency",
            &[sale(1), pos_change.clone(), landed(2, kind)],
            &FinalState::default(),
        );
        assert_eq!(fast.status, Status::Pass, "{:?}", fast.violations);
        assert_eq!(fast.metrics["pos_to_shop"]["sale"]["p99_ms"], 2000);
    }
    let slow = check(
        "sync_latency",
        &[sale(1), pos_change.clone(), landed(900, "adjust")],
        &FinalState::default(),
    );
    assert_eq!(slow.status, Status::Fail);
    assert!(
        slow.violations[0].message.starts_with("POS → shop: "),
        "{}",
        slow.violations[0].message
    );
    // A write by someone else than the connector is no propagation.
    let by_staff = event(
        8,
        "shop",
        "evt_shop_8",
        "inventory_levels/update",
        2,
        json!({"sku": "MUG", "location": "store-1", "cause": {"kind": "adjust", "reference": null, "delta": -1}}),
    );
    let never = check(
        "sync_latency",
        &[sale(1), pos_change, by_staff],
        &FinalState::default(),
    );
    let messages: Vec<&str> = never
        .violations
        .iter()
        .map(|v| v.message.as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("POS → shop") && m.contains("never reached the shop")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("shop → POS") && m.contains("never reached the POS")),
        "{messages:?}"
    );
}

fn invoked(index: u64, minutes: i64, step: usize, process: &str, f: &str, asked: Value) -> Entry {
    Entry::Op {
        index,
        time: t(minutes),
        step,
        process: process.into(),
        kind: OpType::Invoke,
        f: f.into(),
        value: asked,
    }
}

fn profile(id: &str, email: Option<&str>, phone: Option<&str>, consent: bool) -> Value {
    json!({"id": id, "name": "Ada Lovelace", "email": email, "phone": phone,
        "accepts_marketing": consent, "version": 1})
}

#[test]
fn customers_converge() {
    // Ada signs up at the register (email in capitals, no phone), then
    // online with her phone and consent; later she withdraws it in store.
    let history = vec![
        invoked(
            0,
            0,
            10,
            "pos",
            "signup",
            json!({"customer": "Ada Lovelace", "email": "Ada@Example.COM"}),
        ),
        op(1, 0, 10, "pos", "signup", json!({})),
        invoked(
            2,
            1,
            11,
            "shop:Ada Lovelace",
            "signup",
            json!({"customer": "Ada Lovelace",
            "email": "ada@example.com", "phone": "+44 20 7946 0000", "accepts_marketing": true}),
        ),
        op(3, 1, 11, "shop:Ada Lovelace", "signup", json!({})),
        invoked(
            4,
            30,
            12,
            "pos",
            "consent",
            json!({"email": "ada@example.com", "accepts_marketing": false}),
        ),
        op(5, 30, 12, "pos", "consent", json!({})),
    ];
    let agreed = FinalState {
        shop_customers: vec![profile(
            "cus_000001",
            Some("ada@example.com"),
            Some("+442079460000"),
            false,
        )],
        pos_customers: vec![profile(
            "cust_000001",
            Some("Ada@Example.COM"),
            Some("+44 20 7946 0000"),
            false,
        )],
        ..FinalState::default()
    };
    let r = check("customers_converge", &history, &agreed);
    assert_eq!(r.status, Status::Pass, "{:?}", r.violations);
    assert_eq!(
        r.metrics["people"], 1,
        "one person, matched by email in any case"
    );

    // A duplicate on the shop, and the withdrawal never reached it.
    let broken = FinalState {
        shop_customers: vec![
            profile(
                "cus_000001",
                Some("ada@example.com"),
                Some("+442079460000"),
                true,
            ),
            profile("cus_000002", None, Some("+44 20 7946 0000"), false),
        ],
        pos_customers: vec![profile("cust_000001", Some("ada@example.com"), None, false)],
        ..FinalState::default()
    };
    let r = check("customers_converge", &history, &broken);
    assert_eq!(r.status, Status::Fail);
    let messages: Vec<&str> = r.violations.iter().map(|v| v.message.as_str()).collect();
    assert!(
        messages.contains(
            &"Ada Lovelace (ada@example.com) has 2 profiles on the shop (cus_000001, cus_000002)"
        ),
        "{messages:?}"
    );
    // The POS lacks the phone she gave online.
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("phone for ada@example.com is none on the POS")),
        "{messages:?}"
    );
    // Every violation points at her scripted steps.
    for v in &r.violations {
        assert!(v.witnesses.iter().any(|w| w.index == 1), "{v:?}");
    }
    let lone = FinalState {
        shop_customers: vec![profile(
            "cus_000001",
            Some("ada@example.com"),
            Some("+442079460000"),
            true,
        )],
        pos_customers: vec![profile(
            "cust_000001",
            Some("ada@example.com"),
            Some("+442079460000"),
            false,
        )],
        ..FinalState::default()
    };
    let r = check("customers_converge", &history, &lone);
    let messages: Vec<&str> = r.violations.iter().map(|v| v.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "marketing consent for ada@example.com is no on the POS, yes on the shop; the customer's latest choice (10:30:00 on the POS) was no"
        ]
    );
}

/// Gift-card money is conserved: a card sold at the register for 50.00 and
/// spent online for 30.00 must hold 20.00; a card nobody paid for, a card
/// sold but never issued, and a card spent beyond what it was loaded with
/// are each named.
#[test]
fn ledger_reconciles_conserves_gift_card_money() {
    let sold = event(
        1,
        "pos",
        "ev_1",
        "sale.created",
        0,
        json!({"id": "sale_1", "location": "store-1", "lines": [], "tenders": [{"type": "cash", "amount": "50.00"}], "gift_cards": [{"code": "GC-ANA", "amount": "50.00"}]}),
    );
    let spent_online = json!({"id": "pi_1", "status": "succeeded", "amount_received": "30.00", "amount_refunded": "0.00", "amount_capturable": "0.00", "payment_method": {"type": "gift_card", "gift_card": "GC-ANA"}, "metadata": {"order_id": "ord_1"}});
    let card = |balance: &str, issued: &str| json!({"code": "GC-ANA", "balance": balance, "initial_balance": issued, "held": "0.00", "captured": "30.00", "refunded": "0.00", "currency": "USD"});
    let order = json!({"id": "ord_1", "status": "open", "payment_intent": "pi_1", "total": "30.00", "total_captured": "30.00", "total_refunded": "0.00", "total_released": "0.00", "fulfillment_status": "fulfilled"});
    let state = |cards: Vec<Value>| FinalState {
        orders: vec![order.clone()],
        intents: vec![spent_online.clone()],
        gift_cards: cards,
        ..FinalState::default()
    };
    let history = [sold.clone()];
    let messages = |s: &FinalState, h: &[Entry]| -> Vec<String> {
        check("ledger_reconciles", h, s)
            .violations
            .into_iter()
            .map(|v| v.message)
            .collect()
    };

    let good = state(vec![card("20.00", "50.00")]);
    assert_eq!(messages(&good, &history), Vec::<String>::new());

    // The gateway kept the balance whole: the online spend never came off it.
    let whole = state(vec![card("50.00", "50.00")]);
    assert_eq!(
        messages(&whole, &history),
        vec![
            "gift card GC-ANA: 50.00 sold at store-1 on store sale sale_1, 30.00 spent online on ord_1, so 20.00 should be left, but its balance is 50.00"
        ]
    );

    // Issued for more than the sale took.
    let inflated = state(vec![card("70.00", "100.00")]);
    assert!(messages(&inflated, &history)[0].contains("but the gateway issued it with 100.00"));

    // A card at the gateway nothing paid for.
    let unpaid = messages(&state(vec![card("20.00", "50.00")]), &[]);
    assert_eq!(
        unpaid,
        vec![
            "gift card GC-ANA: the gateway issued it with 50.00, but no sale, online order or store-credit return paid for it"
        ]
    );

    // Sold at the register, never issued.
    let missing = messages(&state(Vec::new()), &history);
    assert_eq!(
        missing,
        vec![
            "gift card GC-ANA: 50.00 sold at store-1 on store sale sale_1, but the gateway has no such card"
        ]
    );

    // Spent beyond what was loaded.
    let mut over = state(vec![card("0.00", "50.00")]);
    over.intents[0]["amount_received"] = json!("60.00");
    over.orders[0]["total"] = json!("60.00");
    over.orders[0]["total_captured"] = json!("60.00");
    assert!(
        messages(&over, &history)
            .iter()
            .any(|m| m.contains("which is 10.00 more than was ever loaded onto it")),
        "{:?}",
        messages(&over, &history)
    );

    // A store-credit return backs the card it loaded.
    let credit = event(
        2,
        "pos",
        "ev_2",
        "return.created",
        60,
        json!({"id": "ret_1", "location": "store-1", "refunds": [{"type": "gift_card", "amount": "50.00", "payment_intent": null, "reference": "GC-ANA"}]}),
    );
    assert_eq!(messages(&good, &[credit]), Vec::<String>::new());

    // A card the merchant issued online without a sale is backed by the
    // shop's record of it, for exactly its amount.
    let issued = |amount: &str| {
        event(
            3,
            "shop",
            "ev_3",
            "gift_cards/issued",
            0,
            json!({"code": "GC-ANA", "amount": amount, "currency": "USD", "reason": "goodwill", "customer": null}),
        )
    };
    assert_eq!(messages(&good, &[issued("50.00")]), Vec::<String>::new());
    assert_eq!(
        messages(&good, &[issued("40.00")]),
        vec![
            "gift card GC-ANA: 40.00 issued by the merchant online (goodwill), 30.00 spent online on ord_1, but the gateway issued it with 50.00"
        ]
    );
    // Recorded as issued, and also sold: the gateway holds one load, not two.
    assert!(
        messages(&good, &[sold.clone(), issued("50.00")])[0]
            .contains("but the gateway issued it with 50.00")
    );
    // So is a card a register issued without a sale, by the POS's record.
    let at_the_register = event(
        4,
        "pos",
        "ev_4",
        "gift_card.issued",
        0,
        json!({"code": "GC-ANA", "amount": "50.00", "currency": "USD", "reason": "replacement card", "customer": null}),
    );
    assert_eq!(messages(&good, &[at_the_register]), Vec::<String>::new());
    // A shop event of another kind does not back a card.
    let mut other = issued("50.00");
    if let Entry::Event { event, .. } = &mut other {
        event.kind = "orders/create".into();
    }
    assert_eq!(unpaid, messages(&good, &[other]));
}

/// A pickup order for `mugs` mugs at store-1, `left` of them still to
/// collect, `status` `open` or `cancelled`.
fn pickup_order(status: &str, mugs: i64, left: i64) -> Value {
    json!({"id": "ord_1", "status": status, "pickup_location": "store-1", "location": "store-1",
           "lines": [{"sku": "MUG", "quantity": mugs, "fulfillable_quantity": left, "fulfilled_quantity": 0}]})
}

fn pickup(status: &str, mugs: i64) -> Value {
    json!({"order_ref": "ord_1", "status": status, "lines": [{"sku": "MUG", "quantity": mugs}]})
}

#[test]
fn pickups_follow_orders_finds_missing_and_stale_slips() {
    let judge = |order: Value, slip: Option<Value>| {
        let mut s = converged(2, 2);
        s.orders.push(order);
        if let Some(p) = slip {
            s.pickups.insert("ord_1".into(), p);
        }
        check("pickups_follow_orders", &[], &s)
    };
    let fails_with = |r: CheckResult, words: &str| {
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert!(
            r.violations[0].message.contains(words),
            "{}",
            r.violations[0].message
        );
    };
    // The slip lists what is left to collect; a cancelled order has none.
    assert_eq!(
        judge(pickup_order("open", 2, 2), Some(pickup("ready", 2))).status,
        Status::Pass
    );
    assert_eq!(
        judge(
            pickup_order("cancelled", 2, 2),
            Some(pickup("cancelled", 2))
        )
        .status,
        Status::Pass
    );
    assert_eq!(
        judge(pickup_order("cancelled", 2, 2), None).status,
        Status::Pass
    );
    // A slip longer than the order.
    fails_with(
        judge(pickup_order("open", 2, 1), Some(pickup("ready", 2))),
        "lists 2 MUG, but the order holds 1 MUG",
    );
    // No slip at all for an order to collect.
    fails_with(
        judge(pickup_order("open", 2, 2), None),
        "the register set nothing aside for it",
    );
    // A cancelled order whose units are still set aside.
    fails_with(
        judge(pickup_order("cancelled", 2, 2), Some(pickup("ready", 2))),
        "was cancelled online, yet its store pickup still holds 2 MUG",
    );
    // A slip closed at the register while the order still waits online.
    fails_with(
        judge(pickup_order("open", 2, 2), Some(pickup("cancelled", 2))),
        "yet the order still waits online for 2 MUG to be collected",
    );
}
