//! The native error contract (docs/http-api.md), one table: each mistake is
//! sent to every simulator that has a path for it, and each answers with the
//! same status, the same `error.code` and the same `error.field`, in words
//! of the wire (never a Rust type name). Then money: every amount reads with
//! its currency's exponent on every simulator, in answers and in events, and
//! a POS tender's `currency` is accepted and checked.

mod support;

use http::StatusCode;
use serde_json::{Value, json};
use support::{App, World};

/// One mistake: where to send it on each simulator, and the answer.
struct Mistake {
    what: &'static str,
    /// (simulator, method, path, body).
    sends: Vec<(&'static str, &'static str, String, Option<Vec<u8>>)>,
    status: StatusCode,
    code: &'static str,
    /// The field each simulator must name, in `sends` order.
    fields: Vec<Option<&'static str>>,
}

fn body(v: Value) -> Option<Vec<u8>> {
    Some(serde_json::to_vec(&v).unwrap())
}

fn raw(s: &str) -> Option<Vec<u8>> {
    Some(s.as_bytes().to_vec())
}

async fn setup(w: &World) {
    let r = w
        .shop()
        .post(
            "/v1/products",
            json!({"sku": "MUG", "title": "Mug", "price": "12.5", "currency": "USD", "status": "active"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = w
        .pos()
        .post(
            "/v1/items",
            json!({"sku": "MUG", "name": "Mug", "price": "12.50", "currency": "USD"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

fn mistakes() -> Vec<Mistake> {
    let sale = |lines: Value, tenders: Value| json!({"location": "store-1", "lines": lines, "tenders": tenders});
    let card = json!({"type": "card", "number": "4242424242424242"});
    vec![
        Mistake {
            what: "an unknown id in the path",
            sends: vec![
                ("pos", "GET", "/v1/sales/nope".into(), None),
                ("shop", "GET", "/v1/orders/nope".into(), None),
                (
                    "shop",
                    "POST",
                    "/v1/orders/nope/cancel".into(),
                    body(json!({"reason": "customer", "restock": true})),
                ),
                ("pay", "GET", "/v1/payment_intents/nope".into(), None),
                ("pos", "GET", "/v1/returns/nope".into(), None),
            ],
            status: StatusCode::NOT_FOUND,
            code: "resource_missing",
            fields: vec![Some("id"); 5],
        },
        Mistake {
            what: "a required query parameter left out",
            sends: vec![
                ("pos", "GET", "/v1/inventory/MUG".into(), None),
                ("shop", "GET", "/v1/inventory/MUG".into(), None),
            ],
            status: StatusCode::BAD_REQUEST,
            code: "parameter_missing",
            fields: vec![Some("location"); 2],
        },
        Mistake {
            what: "an unknown query parameter",
            sends: vec![
                (
                    "pos",
                    "GET",
                    "/v1/inventory/MUG?location=store-1&colour=red".into(),
                    None,
                ),
                (
                    "shop",
                    "GET",
                    "/v1/inventory/MUG?location=web&colour=red".into(),
                    None,
                ),
                ("pay", "GET", "/v1/payment_intents?colour=red".into(), None),
            ],
            status: StatusCode::BAD_REQUEST,
            code: "parameter_unknown",
            fields: vec![Some("colour"); 3],
        },
        Mistake {
            what: "a query parameter of the wrong type",
            sends: vec![
                ("pos", "GET", "/v1/events?limit=many".into(), None),
                ("shop", "GET", "/v1/events?limit=many".into(), None),
                ("pay", "GET", "/v1/payment_intents?limit=many".into(), None),
            ],
            status: StatusCode::BAD_REQUEST,
            code: "parameter_invalid",
            fields: vec![Some("limit"); 3],
        },
        Mistake {
            what: "a body that is not JSON (a field read before the fault)",
            sends: vec![
                (
                    "pos",
                    "POST",
                    "/v1/sales".into(),
                    raw(r#"{"colour": "red", "lines": ["#),
                ),
                (
                    "shop",
                    "POST",
                    "/v1/orders".into(),
                    raw(r#"{"colour": "red", "lines": ["#),
                ),
                (
                    "pay",
                    "POST",
                    "/v1/payment_intents".into(),
                    raw(r#"{"colour": "red", "amount": ["#),
                ),
                (
                    "pay",
                    "POST",
                    "/v1/refunds".into(),
                    raw(r#"{"amount":"1.00",}"#),
                ),
            ],
            status: StatusCode::BAD_REQUEST,
            code: "invalid_json",
            fields: vec![None; 4],
        },
        Mistake {
            what: "a JSON body that is not an object",
            sends: vec![
                ("pos", "POST", "/v1/sales".into(), raw("[1]")),
                ("shop", "POST", "/v1/orders".into(), raw("42")),
                ("pay", "POST", "/v1/payment_intents".into(), raw("[1]")),
            ],
            status: StatusCode::BAD_REQUEST,
            code: "invalid_json",
            fields: vec![None; 3],
        },
        Mistake {
            what: "an unknown body field",
            sends: vec![
                (
                    "pos",
                    "POST",
                    "/v1/items".into(),
                    body(json!({"colour": "red"})),
                ),
                (
                    "shop",
                    "POST",
                    "/v1/products".into(),
                    body(json!({"colour": "red"})),
                ),
                (
                    "pay",
                    "POST",
                    "/v1/payment_intents".into(),
                    body(json!({"colour": "red"})),
                ),
            ],
            status: StatusCode::BAD_REQUEST,
            code: "parameter_unknown",
            fields: vec![Some("colour"); 3],
        },
        Mistake {
            what: "a required body field left out",
            sends: vec![
                (
                    "pos",
                    "POST",
                    "/v1/items".into(),
                    body(json!({"name": "Mug", "price": "1.00", "currency": "USD"})),
                ),
                (
                    "shop",
                    "POST",
                    "/v1/products".into(),
                    body(
                        json!({"title": "Mug", "price": "1.00", "currency": "USD", "status": "active"}),
                    ),
                ),
                ("pay", "POST", "/v1/gift_cards".into(), body(json!({}))),
            ],
            status: StatusCode::BAD_REQUEST,
            code: "parameter_missing",
            fields: vec![Some("sku"), Some("sku"), Some("balance")],
        },
        Mistake {
            what: "money written as a JSON number",
            sends: vec![
                (
                    "pos",
                    "POST",
                    "/v1/sales".into(),
                    body(sale(
                        json!([{"sku": "MUG", "quantity": 1}]),
                        json!([{"type": "cash", "amount": 20}]),
                    )),
                ),
                (
                    "shop",
                    "POST",
                    "/v1/products".into(),
                    body(
                        json!({"sku": "CUP", "title": "Cup", "price": 20, "currency": "USD", "status": "active"}),
                    ),
                ),
                (
                    "pay",
                    "POST",
                    "/v1/payment_intents".into(),
                    body(
                        json!({"amount": 20, "currency": "USD", "capture_method": "manual", "payment_method": card}),
                    ),
                ),
            ],
            status: StatusCode::BAD_REQUEST,
            code: "parameter_invalid",
            fields: vec![Some("tenders[0].amount"), Some("price"), Some("amount")],
        },
        Mistake {
            what: "a quantity that is not an integer",
            sends: vec![
                (
                    "pos",
                    "POST",
                    "/v1/sales".into(),
                    body(sale(
                        json!([{"sku": "MUG", "quantity": "two"}]),
                        json!([{"type": "cash", "amount": "20.00"}]),
                    )),
                ),
                (
                    "shop",
                    "POST",
                    "/v1/orders".into(),
                    body(json!({"lines": [{"sku": "MUG", "quantity": "two"}], "payment": card})),
                ),
            ],
            status: StatusCode::BAD_REQUEST,
            code: "parameter_invalid",
            fields: vec![Some("lines[0].quantity"); 2],
        },
        Mistake {
            what: "an unknown location",
            sends: vec![
                ("pos", "GET", "/v1/inventory/MUG?location=mars".into(), None),
                (
                    "shop",
                    "GET",
                    "/v1/inventory/MUG?location=mars".into(),
                    None,
                ),
            ],
            status: StatusCode::NOT_FOUND,
            code: "unknown_location",
            fields: vec![Some("location"); 2],
        },
        Mistake {
            what: "an unknown path",
            sends: vec![
                ("pos", "GET", "/v1/nothing".into(), None),
                ("shop", "GET", "/v1/nothing".into(), None),
                ("pay", "GET", "/v1/nothing".into(), None),
            ],
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            fields: vec![None; 3],
        },
    ]
}

fn app(w: &World, sim: &str) -> App {
    match sim {
        "pos" => w.pos(),
        "shop" => w.shop(),
        _ => w.pay(),
    }
}

/// Rust's words, which a person calling an HTTP API should never read.
const RUST_WORDS: &[&str] = &[
    "i64",
    "u32",
    "u64",
    "usize",
    "Decimal",
    "struct ",
    "enum ",
    "a sequence",
    "a map",
];

#[tokio::test(start_paused = true)]
async fn the_same_mistake_gets_the_same_answer_on_every_simulator() {
    let w = World::new();
    setup(&w).await;
    let mut wrong = Vec::new();
    for m in mistakes() {
        assert_eq!(m.sends.len(), m.fields.len(), "{}", m.what);
        for ((sim, method, path, body), field) in m.sends.into_iter().zip(m.fields) {
            let r = app(&w, sim).send(method, &path, body, None).await;
            let e = &r.json["error"];
            let got = (r.status, e["code"].as_str(), e["field"].as_str());
            if got != (m.status, Some(m.code), field) {
                wrong.push(format!(
                    "{}: {sim} {method} {path}: want {} {} {field:?}, got {got:?}: {}",
                    m.what, m.status, m.code, r.json
                ));
            }
            let message = e["message"].as_str().unwrap_or_default();
            if let Some(word) = RUST_WORDS.iter().find(|w| message.contains(*w)) {
                wrong.push(format!("{}: {sim} {path}: `{word}` in {message:?}", m.what));
            }
            if m.what == "money written as a JSON number"
                && !message.contains("a decimal string such as \"20.00\"")
            {
                wrong.push(format!("{}: {sim}: {message:?}", m.what));
            }
            if m.what == "a quantity that is not an integer" && !message.contains("an integer") {
                wrong.push(format!("{}: {sim}: {message:?}", m.what));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every amount of every simulator, in `v`, and its currency.
fn amounts<'a>(v: &'a Value, currency: Option<&'a str>, out: &mut Vec<(String, &'a str, String)>) {
    const MONEY: &[&str] = &[
        "amount",
        "price",
        "total",
        "tax",
        "discount",
        "subtotal",
        "tax_total",
        "discount_total",
        "total_captured",
        "total_capturable",
        "total_refunded",
        "total_released",
        "refunded_amount",
        "amount_capturable",
        "amount_received",
        "amount_refunded",
        "change",
        "refunded",
    ];
    match v {
        Value::Object(m) => {
            let c = m.get("currency").and_then(Value::as_str).or(currency);
            for (k, x) in m {
                match (x, c) {
                    (Value::String(s), Some(c)) if MONEY.contains(&k.as_str()) => {
                        out.push((k.clone(), c, s.clone()));
                    }
                    _ => amounts(x, c, out),
                }
            }
        }
        Value::Array(xs) => xs.iter().for_each(|x| amounts(x, currency, out)),
        _ => {}
    }
}

fn at_exponent(wrong: &mut Vec<String>, what: &str, v: &Value) {
    let mut found = Vec::new();
    amounts(v, None, &mut found);
    assert!(!found.is_empty(), "{what}: no money in {v}");
    for (k, c, s) in found {
        let decimals = s.split_once('.').map_or(0, |(_, d)| d.len());
        let want = if c == "JPY" { 0 } else { 2 };
        if decimals != want {
            wrong.push(format!("{what}: `{k}` = {s:?} in {c}"));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn money_reads_with_its_currencys_exponent_everywhere() {
    let w = World::new();
    setup(&w).await;
    let (shop, pos, pay) = (w.shop(), w.pos(), w.pay());
    let r = shop
        .post(
            "/v1/inventory/set",
            json!({"sku": "MUG", "location": "web", "available": 5}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = pos
        .post(
            "/v1/inventory/changes",
            json!({"changes": [{"type": "PHYSICAL_COUNT", "sku": "MUG", "location": "store-1", "quantity": 5, "occurred_at": "2026-03-02T09:00:00Z"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let mut wrong = Vec::new();
    let order = shop
        .post(
            "/v1/orders",
            json!({"lines": [{"sku": "MUG", "quantity": 1}], "payment": {"type": "card", "number": "4242424242424242"}}),
        )
        .await;
    assert_eq!(order.status, StatusCode::OK, "{}", order.json);
    assert_eq!(order.json["total"], "12.50");
    assert_eq!(order.json["total_captured"], "0.00");
    at_exponent(&mut wrong, "shop order", &order.json);
    let id = order.json["id"].as_str().unwrap().to_owned();
    let r = shop
        .post(&format!("/v1/orders/{id}/capture"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    at_exponent(&mut wrong, "shop capture", &r.json);
    let product = shop.get("/v1/products/MUG").await;
    assert_eq!(product.json["price"], "12.50");
    at_exponent(&mut wrong, "shop product", &product.json);
    let sale = pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [{"sku": "MUG", "quantity": 1}], "tenders": [{"type": "cash", "amount": "20", "currency": "USD"}]}),
        )
        .await;
    assert_eq!(
        sale.status,
        StatusCode::OK,
        "a tender states its currency: {}",
        sale.json
    );
    at_exponent(&mut wrong, "pos sale", &sale.json);
    let intent = pay
        .get(&format!(
            "/v1/payment_intents/{}",
            order.json["payment_intent"].as_str().unwrap()
        ))
        .await;
    at_exponent(&mut wrong, "pay intent", &intent.json);
    for (name, app) in [("shop", &shop), ("pos", &pos), ("pay", &pay)] {
        let feed = app.get("/v1/events?limit=100").await;
        for e in feed.json["events"].as_array().unwrap() {
            let mut found = Vec::new();
            amounts(&e["data"], None, &mut found);
            if !found.is_empty() {
                at_exponent(
                    &mut wrong,
                    &format!("{name} event {}", e["type"]),
                    &e["data"],
                );
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // A tender in another currency than the sale's is refused, naming it.
    let r = pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [{"sku": "MUG", "quantity": 1}], "tenders": [{"type": "cash", "amount": "20.00", "currency": "EUR"}]}),
        )
        .await;
    assert_eq!(
        (
            r.status,
            r.json["error"]["code"].as_str(),
            r.json["error"]["field"].as_str()
        ),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("currency_mismatch"),
            Some("tenders[0].currency")
        ),
        "{}",
        r.json
    );
    let r = pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [{"sku": "MUG", "quantity": 1}], "tenders": [{"type": "cash", "amount": "20.00", "currency": "dollars"}]}),
        )
        .await;
    assert_eq!(
        (
            r.status,
            r.json["error"]["code"].as_str(),
            r.json["error"]["field"].as_str()
        ),
        (
            StatusCode::BAD_REQUEST,
            Some("parameter_invalid"),
            Some("tenders[0].currency")
        ),
        "{}",
        r.json
    );
}
