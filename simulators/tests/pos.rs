//! The pos simulator over HTTP: every path, every error code, the two-phase
//! gateway flow (against a small fake gateway mounted on `pay.sim`), and the
//! events on `/v1/events`.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::{App, PAY_HOST, World};

// ---- a fake gateway --------------------------------------------------------

/// Just enough of the gateway for the POS: manual-capture intents for test
/// cards and gift cards, capture, cancel, refunds and gift cards, with
/// idempotency keys replayed. Every executed call is logged.
#[derive(Default)]
struct FakePay {
    next: u64,
    intents: BTreeMap<String, Value>,
    gift_cards: BTreeMap<String, Decimal>,
    replies: BTreeMap<String, (StatusCode, Value)>,
    calls: Vec<String>,
    /// Answer refunds and gift cards with 500 while set.
    refunds_down: bool,
    /// Hold each refund this long, so that requests can overlap.
    refund_delay_ms: u64,
    /// Refunds being held right now.
    refunds_in_flight: u32,
    /// Hold each card-present authorization this long.
    card_delay_ms: u64,
    /// Answer captures with 500 while set.
    captures_down: bool,
}

type Fake = Arc<Mutex<FakePay>>;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn intent_json(id: &str, amount: Decimal, currency: &str, kind: &str, status: &str) -> Value {
    json!({
        "id": id, "status": status, "amount": amount.to_string(),
        "amount_capturable": if status == "requires_capture" { amount.to_string() } else { "0".into() },
        "amount_received": "0", "amount_refunded": "0", "currency": currency,
        "capture_method": "manual", "payment_method": {"type": kind},
        "metadata": {}, "created_at": "2026-03-02T09:00:00Z", "refunds": [],
    })
}

fn pay_err(code: &str, decline: Option<&str>, pi: Option<&str>) -> Value {
    json!({"error": {"code": code, "message": code, "field": null,
        "decline_code": decline, "payment_intent": pi}})
}

impl FakePay {
    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_{}", self.next)
    }

    fn create_intent(&mut self, body: &Value) -> (StatusCode, Value) {
        let amount = dec(body["amount"].as_str().unwrap());
        let currency = body["currency"].as_str().unwrap();
        assert_eq!(body["capture_method"], "manual", "the POS authorizes first");
        let pm = &body["payment_method"];
        let kind = pm["type"].as_str().unwrap();
        let id = self.id("pi");
        self.calls.push(format!("create {id} {kind} {amount}"));
        let declined = match kind {
            "card_present" => match pm["number"].as_str().unwrap() {
                "4242424242424242" => None,
                "4000000000000002" => Some("card_declined"),
                "4000000000009995" => Some("insufficient_funds"),
                _ => {
                    return (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        pay_err("live_card_rejected", None, None),
                    );
                }
            },
            "gift_card" => {
                let code = pm["code"].as_str().unwrap();
                match self.gift_cards.get_mut(code) {
                    Some(balance) if *balance >= amount => {
                        *balance -= amount;
                        None
                    }
                    Some(_) => Some("insufficient_funds"),
                    None => {
                        return (
                            StatusCode::NOT_FOUND,
                            pay_err("resource_missing", None, None),
                        );
                    }
                }
            }
            other => panic!("the POS never pays by {other}"),
        };
        match declined {
            Some(d) => {
                let pi = intent_json(&id, amount, currency, kind, "requires_payment_method");
                self.intents.insert(id.clone(), pi);
                (
                    StatusCode::PAYMENT_REQUIRED,
                    pay_err("card_declined", Some(d), Some(&id)),
                )
            }
            None => {
                let pi = intent_json(&id, amount, currency, kind, "requires_capture");
                self.intents.insert(id, pi.clone());
                (StatusCode::OK, pi)
            }
        }
    }

    fn set_status(&mut self, id: &str, from: &str, to: &str, verb: &str) -> (StatusCode, Value) {
        if verb == "capture" && self.captures_down {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                pay_err("api_error", None, None),
            );
        }
        let Some(pi) = self.intents.get_mut(id) else {
            return (
                StatusCode::NOT_FOUND,
                pay_err("resource_missing", None, None),
            );
        };
        if pi["status"] != from {
            return (
                StatusCode::CONFLICT,
                pay_err("payment_intent_unexpected_state", None, Some(id)),
            );
        }
        pi["status"] = json!(to);
        if to == "succeeded" {
            pi["amount_received"] = pi["amount"].clone();
        }
        pi["amount_capturable"] = json!("0");
        self.calls.push(format!("{verb} {id}"));
        (StatusCode::OK, pi.clone())
    }

    fn refund(&mut self, body: &Value) -> (StatusCode, Value) {
        if self.refunds_down {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                pay_err("api_error", None, None),
            );
        }
        let pi_id = body["payment_intent"].as_str().unwrap().to_owned();
        let amount = dec(body["amount"].as_str().unwrap());
        let Some(pi) = self.intents.get_mut(&pi_id) else {
            return (
                StatusCode::NOT_FOUND,
                pay_err("resource_missing", None, None),
            );
        };
        let left = dec(pi["amount_received"].as_str().unwrap())
            - dec(pi["amount_refunded"].as_str().unwrap());
        if pi["status"] != "succeeded" || amount > left {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                pay_err("amount_too_large", None, None),
            );
        }
        let refunded = dec(pi["amount_refunded"].as_str().unwrap()) + amount;
        pi["amount_refunded"] = json!(refunded.to_string());
        let currency = pi["currency"].clone();
        let id = self.id("re");
        self.calls.push(format!("refund {pi_id} {amount}"));
        (
            StatusCode::OK,
            json!({"id": id, "payment_intent": pi_id, "amount": amount.to_string(), "currency": currency,
                "status": "succeeded", "metadata": body["metadata"], "created_at": "2026-03-02T09:00:00Z"}),
        )
    }

    fn gift_card(&mut self, body: &Value) -> (StatusCode, Value) {
        if self.refunds_down {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                pay_err("api_error", None, None),
            );
        }
        let balance = dec(body["balance"].as_str().unwrap());
        let code = self.id("GC-NEW");
        self.gift_cards.insert(code.clone(), balance);
        self.calls.push(format!("gift_card {code} {balance}"));
        (
            StatusCode::OK,
            json!({"code": code, "balance": balance.to_string(), "currency": body["currency"],
                "created_at": "2026-03-02T09:00:00Z", "initial_balance": balance.to_string(),
                "held": "0", "captured": "0", "refunded": "0"}),
        )
    }
}

/// Replays a stored answer for a seen key; else runs `f` and stores it.
fn keyed(
    fake: &Fake,
    headers: &HeaderMap,
    f: impl FnOnce(&mut FakePay) -> (StatusCode, Value),
) -> (StatusCode, axum::Json<Value>) {
    let mut p = fake.lock().unwrap();
    let key = headers
        .get("idempotency-key")
        .map(|k| k.to_str().unwrap().to_owned());
    if let Some(k) = &key
        && let Some((s, v)) = p.replies.get(k)
    {
        return (*s, axum::Json(v.clone()));
    }
    let (s, v) = f(&mut p);
    if let Some(k) = key
        && s.as_u16() < 500
    {
        p.replies.insert(k, (s, v.clone()));
    }
    (s, axum::Json(v))
}

fn fake_pay_router(fake: Fake) -> Router {
    Router::new()
        .route(
            "/v1/payment_intents",
            post(
                |State(f): State<Fake>, h: HeaderMap, axum::Json(b): axum::Json<Value>| async move {
                    let delay = f.lock().unwrap().card_delay_ms;
                    if delay > 0 && b["payment_method"]["type"] == "card_present" {
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                    }
                    keyed(&f, &h, |p| p.create_intent(&b))
                },
            ),
        )
        .route(
            "/v1/payment_intents/{id}/capture",
            post(
                |State(f): State<Fake>, Path(id): Path<String>, h: HeaderMap| async move {
                    keyed(&f, &h, |p| {
                        p.set_status(&id, "requires_capture", "succeeded", "capture")
                    })
                },
            ),
        )
        .route(
            "/v1/payment_intents/{id}/cancel",
            post(
                |State(f): State<Fake>, Path(id): Path<String>, h: HeaderMap| async move {
                    keyed(&f, &h, |p| {
                        p.set_status(&id, "requires_capture", "canceled", "cancel")
                    })
                },
            ),
        )
        .route(
            "/v1/refunds",
            post(
                |State(f): State<Fake>, h: HeaderMap, axum::Json(b): axum::Json<Value>| async move {
                    let delay = f.lock().unwrap().refund_delay_ms;
                    if delay > 0 {
                        f.lock().unwrap().refunds_in_flight += 1;
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                        f.lock().unwrap().refunds_in_flight -= 1;
                    }
                    keyed(&f, &h, |p| p.refund(&b))
                },
            ),
        )
        .route(
            "/v1/gift_cards",
            post(
                |State(f): State<Fake>, h: HeaderMap, axum::Json(b): axum::Json<Value>| async move {
                    keyed(&f, &h, |p| p.gift_card(&b))
                },
            ),
        )
        .with_state(fake)
}

/// A world whose pos reaches the fake gateway; gift card `GC-1` holds 50.
fn world_with_fake_pay() -> (World, Fake) {
    let w = World::new();
    let fake: Fake = Arc::default();
    fake.lock()
        .unwrap()
        .gift_cards
        .insert("GC-1".into(), dec("50"));
    w.transport
        .mount(PAY_HOST, fake_pay_router(Arc::clone(&fake)));
    (w, fake)
}

fn calls(fake: &Fake) -> Vec<String> {
    fake.lock().unwrap().calls.clone()
}

// ---- helpers ---------------------------------------------------------------

#[track_caller]
fn assert_error(r: &support::Reply, status: StatusCode, code: &str, field: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.json);
    assert_eq!(r.json["error"]["code"], code, "{}", r.json);
    assert_eq!(r.json["error"]["field"], json!(field), "{}", r.json);
}

/// MUG 10.00 USD taxed STD at 8.25 %, TEE 25.00 USD, FAN 1000 JPY; 10 MUG and
/// 10 TEE counted at store-1.
async fn stocked(pos: &App) {
    for (sku, price, currency, tax) in [
        ("MUG", "10.00", "USD", Some("STD")),
        ("TEE", "25.00", "USD", None),
        ("FAN", "1000", "JPY", None),
    ] {
        let r = pos
            .post(
                "/v1/items",
                json!({"sku": sku, "name": sku, "price": price, "currency": currency, "tax_code": tax}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    }
    let r = pos
        .put("/v1/tax_rates/STD", json!({"rate": "0.0825"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = pos
        .post(
            "/v1/inventory/changes",
            json!({"changes": [
                {"type": "PHYSICAL_COUNT", "sku": "MUG", "location": "store-1", "quantity": 10, "occurred_at": "2026-03-02T08:00:00Z"},
                {"type": "PHYSICAL_COUNT", "sku": "TEE", "location": "store-1", "quantity": 10, "occurred_at": "2026-03-02T08:00:00Z"},
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

async fn quantity(pos: &App, sku: &str) -> i64 {
    let r = pos
        .get(&format!("/v1/inventory/{sku}?location=store-1"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    r.json["quantity"].as_i64().unwrap()
}

async fn events(pos: &App) -> Vec<Value> {
    let r = pos.get("/v1/events?limit=1000").await;
    r.json["events"].as_array().unwrap().clone()
}

async fn events_after(pos: &App, after: usize) -> Vec<Value> {
    let r = pos
        .get(&format!("/v1/events?after={after}&limit=1000"))
        .await;
    r.json["events"].as_array().unwrap().clone()
}

fn types(evs: &[Value]) -> Vec<&str> {
    evs.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

// ---- items -----------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn items_are_created_read_listed_and_patched() {
    let w = World::new();
    let pos = w.pos();
    let r = pos
        .post(
            "/v1/items",
            json!({"sku": "MUG", "name": "Red mug", "price": "12.50", "currency": "USD"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        r.json,
        json!({"sku": "MUG", "name": "Red mug", "price": "12.50", "currency": "USD", "tax_code": null,
            "created_at": "2026-03-02T09:00:00Z", "updated_at": "2026-03-02T09:00:00Z"})
    );
    let r = pos
        .post(
            "/v1/items",
            json!({"sku": "MUG", "name": "Again", "price": "1.00", "currency": "USD"}),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "sku_exists", Some("sku"));
    let r = pos.get("/v1/items/MUG").await;
    assert_eq!(
        (r.status, &r.json["name"]),
        (StatusCode::OK, &json!("Red mug"))
    );
    let r = pos.get("/v1/items/NOPE").await;
    assert_error(&r, StatusCode::NOT_FOUND, "unknown_sku", Some("sku"));

    w.clock.advance(Duration::from_secs(60));
    let r = pos
        .patch(
            "/v1/items/MUG",
            json!({"price": "13.00", "tax_code": "STD"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        (&r.json["price"], &r.json["tax_code"], &r.json["updated_at"]),
        (
            &json!("13.00"),
            &json!("STD"),
            &json!("2026-03-02T09:01:00Z")
        )
    );
    let r = pos.patch("/v1/items/NOPE", json!({"price": "1"})).await;
    assert_error(&r, StatusCode::NOT_FOUND, "unknown_sku", Some("sku"));
    let r = pos.patch("/v1/items/MUG", json!({"price": "-1"})).await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parameter_invalid",
        Some("price"),
    );
    let r = pos.patch("/v1/items/MUG", json!({"colour": "red"})).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "parameter_unknown",
        Some("colour"),
    );

    pos.post(
        "/v1/items",
        json!({"sku": "CUP", "name": "Cup", "price": "0", "currency": "JPY"}),
    )
    .await;
    let r = pos.get("/v1/items").await;
    let skus: Vec<&str> = r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, ["CUP", "MUG"]);

    // item.updated on create and on patch, with the whole item.
    let evs = events(&pos).await;
    assert_eq!(
        types(&evs),
        ["item.updated", "item.updated", "item.updated"]
    );
    let d = &evs[1]["data"];
    assert_eq!(
        (&d["sku"], &d["price"], &d["currency"], &d["tax_code"]),
        (&json!("MUG"), &json!("13.00"), &json!("USD"), &json!("STD"))
    );
}

#[tokio::test(start_paused = true)]
async fn item_requests_are_checked() {
    let w = World::new();
    let pos = w.pos();
    let base = json!({"sku": "MUG", "name": "Mug", "price": "12.50", "currency": "USD"});
    for (patch, status, code, field) in [
        (
            json!({"price": "12.505"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "price",
        ),
        (
            json!({"price": "-0.01"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "price",
        ),
        (
            json!({"price": "12.5", "currency": "JPY"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "price",
        ),
        (
            json!({"currency": "dollars"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "currency",
        ),
        (
            json!({"sku": "A B"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "sku",
        ),
        (
            json!({"name": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "name",
        ),
        (
            json!({"price": 12.5}),
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
            "price",
        ),
    ] {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = pos.post("/v1/items", body).await;
        assert_error(&r, status, code, Some(field));
    }
    // 400: a missing field named, malformed JSON.
    let r = pos
        .post(
            "/v1/items",
            json!({"sku": "MUG", "price": "1", "currency": "USD"}),
        )
        .await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "parameter_missing",
        Some("name"),
    );
    let r = pos
        .send("POST", "/v1/items", Some(b"{\"sku\": ".to_vec()), None)
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json", None);
    // 401 without the key.
    let r = pos.get_unauthed("/v1/items").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json["error"]["code"], "unauthorized");
    // 413 over 1 MiB.
    let big = format!(
        "{{\"sku\": \"MUG\", \"name\": \"{}\", \"price\": \"1\", \"currency\": \"USD\"}}",
        "x".repeat(1024 * 1024)
    );
    let r = pos
        .send("POST", "/v1/items", Some(big.into_bytes()), None)
        .await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", None);
    assert!(events(&pos).await.is_empty(), "nothing was created");
}

// ---- stock -----------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn platforms_worked_example_over_http() {
    let w = World::new();
    let pos = w.pos();
    pos.post(
        "/v1/items",
        json!({"sku": "TEE", "name": "Tee", "price": "25.00", "currency": "USD"}),
    )
    .await;
    let change = |kind: &str, q: i64, at: &str, states: Option<(&str, &str)>| {
        let mut c = json!({"type": kind, "sku": "TEE", "location": "store-1", "quantity": q,
            "occurred_at": format!("2026-03-02T{at}:00Z")});
        if let Some((from, to)) = states {
            c["from_state"] = json!(from);
            c["to_state"] = json!(to);
        }
        json!({"changes": [c]})
    };
    // Times are an hour before the clock's 09:00, in the example's order of arrival.
    let r = pos
        .post(
            "/v1/inventory/changes",
            change("PHYSICAL_COUNT", 100, "08:00", None),
        )
        .await;
    assert_eq!(r.json["counts"][0]["quantity"], 100, "{}", r.json);
    let r = pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [{"sku": "TEE", "quantity": 3}],
                "tenders": [{"type": "cash", "amount": "75.00"}], "occurred_at": "2026-03-02T08:10:00Z"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(quantity(&pos, "TEE").await, 97);
    pos.post(
        "/v1/inventory/changes",
        change("PHYSICAL_COUNT", 90, "08:30", None),
    )
    .await;
    assert_eq!(quantity(&pos, "TEE").await, 90);
    let r = pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [{"sku": "TEE", "quantity": 1}],
                "tenders": [{"type": "cash", "amount": "25.00"}], "occurred_at": "2026-03-02T08:20:00Z"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        quantity(&pos, "TEE").await,
        90,
        "the offline sale falls before the count"
    );
    let r = pos
        .post(
            "/v1/inventory/changes",
            change("ADJUSTMENT", 2, "08:40", Some(("IN_STOCK", "WASTE"))),
        )
        .await;
    assert_eq!(
        r.json,
        json!({"counts": [{"sku": "TEE", "location": "store-1", "quantity": 88,
            "reserved_for_sale": 0, "calculated_at": "2026-03-02T08:40:00Z"}]})
    );
    let r = pos.get("/v1/inventory/TEE?location=store-1").await;
    assert_eq!(
        r.json,
        json!({"sku": "TEE", "location": "store-1", "quantity": 88, "reserved_for_sale": 0,
            "calculated_at": "2026-03-02T08:40:00Z"})
    );
    // The count events, with their causes.
    let evs: Vec<Value> = events(&pos)
        .await
        .into_iter()
        .filter(|e| e["type"] == "inventory.count.updated")
        .collect();
    let got: Vec<(i64, &str, i64)> = evs
        .iter()
        .map(|e| {
            let d = &e["data"];
            (
                d["quantity"].as_i64().unwrap(),
                d["cause"]["kind"].as_str().unwrap(),
                d["cause"]["delta"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (100, "count", 100),
            (97, "sale", -3),
            (90, "count", -7),
            (90, "sale", 0),
            (88, "adjust", -2)
        ]
    );
    assert_eq!(evs[1]["data"]["cause"]["reference"], "sale_000001");
}

#[tokio::test(start_paused = true)]
async fn inventory_changes_are_checked_and_all_or_nothing() {
    let w = World::new();
    let pos = w.pos();
    stocked(&pos).await;
    let ok = json!({"type": "ADJUSTMENT", "sku": "MUG", "location": "store-1", "quantity": 5,
        "from_state": "NONE", "to_state": "IN_STOCK", "occurred_at": "2026-03-02T08:30:00Z", "reference": "po-1"});
    let with = |patch: Value| {
        let mut c = ok.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        json!({"changes": [ok.clone(), c]})
    };
    let cases = [
        (
            json!({"sku": "NOPE"}),
            StatusCode::NOT_FOUND,
            "unknown_sku",
            "changes[1].sku",
        ),
        (
            json!({"location": "nowhere"}),
            StatusCode::NOT_FOUND,
            "unknown_location",
            "changes[1].location",
        ),
        (
            json!({"quantity": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "changes[1].quantity",
        ),
        (
            json!({"from_state": null}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "changes[1].from_state",
        ),
        (
            json!({"to_state": null}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "changes[1].to_state",
        ),
        (
            json!({"from_state": "SOLD", "to_state": "IN_STOCK"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "changes[1].to_state",
        ),
        (
            json!({"from_state": "WASTE", "to_state": "WASTE"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "changes[1].to_state",
        ),
        (
            json!({"occurred_at": "2026-03-02T09:00:03Z"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "changes[1].occurred_at",
        ),
        (
            json!({"type": "PHYSICAL_COUNT", "from_state": null, "to_state": null, "quantity": -1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "changes[1].quantity",
        ),
        (
            json!({"type": "PHYSICAL_COUNT", "from_state": null, "to_state": null, "occurred_at": "2026-03-01T08:59:59Z"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "changes[1].occurred_at",
        ),
        (
            json!({"type": "PHYSICAL_COUNT", "from_state": null, "to_state": null, "occurred_at": "2026-03-02T09:00:03Z"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "changes[1].occurred_at",
        ),
        (
            json!({"type": "PHYSICAL_COUNT", "to_state": null}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "changes[1].from_state",
        ),
        (
            json!({"type": "RECOUNT"}),
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
            "changes[1].type",
        ),
        (
            json!({"quantity": "5"}),
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
            "changes[1].quantity",
        ),
        (
            json!({"occurred_at": null}),
            StatusCode::BAD_REQUEST,
            "parameter_missing",
            "changes[1].occurred_at",
        ),
    ];
    let before = events(&pos).await.len();
    for (patch, status, code, field) in cases {
        let r = pos.post("/v1/inventory/changes", with(patch.clone())).await;
        assert_error(&r, status, code, Some(field));
        assert_eq!(quantity(&pos, "MUG").await, 10, "{patch}: nothing applied");
    }
    let r = pos
        .post("/v1/inventory/changes", json!({"changes": []}))
        .await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parameter_invalid",
        Some("changes"),
    );
    assert_eq!(
        events(&pos).await.len(),
        before,
        "no events from refused batches"
    );
    // The good batch, twice with one key: applied once.
    let r1 = pos
        .post_idem(
            "/v1/inventory/changes",
            with(json!({"quantity": 2})),
            "batch-1",
        )
        .await;
    assert_eq!(r1.status, StatusCode::OK, "{}", r1.json);
    let r2 = pos
        .post_idem(
            "/v1/inventory/changes",
            with(json!({"quantity": 2})),
            "batch-1",
        )
        .await;
    assert_eq!((r2.status, &r2.raw), (StatusCode::OK, &r1.raw));
    assert_eq!(quantity(&pos, "MUG").await, 17);
    let evs = events_after(&pos, before).await;
    assert_eq!(types(&evs), ["inventory.count.updated"; 2]);
    assert_eq!(
        evs[1]["data"]["cause"],
        json!({"kind": "adjust", "reference": "po-1", "delta": 2})
    );
}

#[tokio::test(start_paused = true)]
async fn counts_name_what_is_missing_or_unknown() {
    let w = World::new();
    let pos = w.pos();
    stocked(&pos).await;
    let r = pos.get("/v1/inventory/MUG").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "parameter_missing",
        Some("location"),
    );
    let r = pos.get("/v1/inventory/NOPE?location=store-1").await;
    assert_error(&r, StatusCode::NOT_FOUND, "unknown_sku", Some("sku"));
    let r = pos.get("/v1/inventory/MUG?location=nowhere").await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        "unknown_location",
        Some("location"),
    );
    // A location created later starts at zero.
    pos.post("/v1/locations", json!({"id": "store-2", "name": "Two"}))
        .await;
    let r = pos.get("/v1/inventory/MUG?location=store-2").await;
    assert_eq!((r.status, &r.json["quantity"]), (StatusCode::OK, &json!(0)));
}

// ---- settings and tax ------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn settings_and_tax_rates() {
    let w = World::new();
    let pos = w.pos();
    let r = pos.get("/v1/settings").await;
    assert_eq!(r.json, json!({"sell_when_out_of_stock": "allow"}));
    let r = pos
        .put("/v1/settings", json!({"sell_when_out_of_stock": "warn"}))
        .await;
    assert_eq!(
        (r.status, &r.json["sell_when_out_of_stock"]),
        (StatusCode::OK, &json!("warn"))
    );
    assert_eq!(
        pos.get("/v1/settings").await.json["sell_when_out_of_stock"],
        "warn"
    );
    let r = pos
        .put("/v1/settings", json!({"sell_when_out_of_stock": "maybe"}))
        .await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "parameter_invalid",
        Some("sell_when_out_of_stock"),
    );

    let r = pos
        .put("/v1/tax_rates/STD", json!({"rate": "0.0825"}))
        .await;
    assert_eq!(r.json, json!({"code": "STD", "rate": "0.0825"}));
    pos.put("/v1/tax_rates/FOOD", json!({"rate": "0"})).await;
    let r = pos.put("/v1/tax_rates/STD", json!({"rate": "1.5"})).await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parameter_invalid",
        Some("rate"),
    );
    let r = pos.put("/v1/tax_rates/STD", json!({})).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "parameter_missing",
        Some("rate"),
    );
    let r = pos.get("/v1/tax_rates").await;
    assert_eq!(
        r.json,
        json!({"data": [{"code": "FOOD", "rate": "0"}, {"code": "STD", "rate": "0.0825"}]})
    );
}

// ---- sales -----------------------------------------------------------------

fn sale(lines: Value, tenders: Value) -> Value {
    json!({"location": "store-1", "lines": lines, "tenders": tenders})
}

#[tokio::test(start_paused = true)]
async fn a_cash_sale_is_priced_taxed_and_emitted() {
    let w = World::new();
    let pos = w.pos();
    stocked(&pos).await;
    let before = events(&pos).await.len();
    let r = pos
        .post(
            "/v1/sales",
            sale(
                json!([{"sku": "MUG", "quantity": 3}, {"sku": "TEE", "quantity": 1}]),
                json!([{"type": "cash", "amount": "60.00"}]),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let s = &r.json;
    assert_eq!(
        (&s["id"], &s["total"], &s["currency"]),
        (&json!("sale_000001"), &json!("57.48"), &json!("USD"))
    );
    assert_eq!(
        s["tenders"],
        json!([{"type": "cash", "amount": "57.48", "change": "2.52", "payment_intent": null, "last4": null, "refunded": "0.00"}])
    );
    assert_eq!(s["lines"][0]["tax"], "2.48");
    assert_eq!(
        (quantity(&pos, "MUG").await, quantity(&pos, "TEE").await),
        (7, 9)
    );
    let r = pos.get("/v1/sales/sale_000001").await;
    assert_eq!(&r.json, s);
    let r = pos.get("/v1/sales/sale_000009").await;
    assert_error(&r, StatusCode::NOT_FOUND, "resource_missing", Some("id"));

    let evs = events_after(&pos, before).await;
    assert_eq!(
        types(&evs),
        [
            "sale.created",
            "inventory.count.updated",
            "inventory.count.updated"
        ]
    );
    let d = &evs[0]["data"];
    assert_eq!(
        (
            &d["id"],
            &d["location"],
            &d["occurred_at"],
            &d["total"],
            &d["currency"]
        ),
        (
            &json!("sale_000001"),
            &json!("store-1"),
            &json!("2026-03-02T09:00:00Z"),
            &json!("57.48"),
            &json!("USD")
        )
    );
    assert_eq!(
        (
            &d["lines"][1]["sku"],
            &d["lines"][1]["quantity"],
            &d["lines"][1]["price"]
        ),
        (&json!("TEE"), &json!(1), &json!("25.00"))
    );
    assert_eq!(
        (&d["tenders"][0]["type"], &d["tenders"][0]["amount"]),
        (&json!("cash"), &json!("57.48"))
    );
    assert_eq!(
        evs[1]["data"],
        json!({"sku": "MUG", "location": "store-1", "quantity": 7, "occurred_at": "2026-03-02T09:00:00Z",
            "calculated_at": "2026-03-02T09:00:00Z", "cause": {"kind": "sale", "reference": "sale_000001", "delta": -3}})
    );
}

#[tokio::test(start_paused = true)]
async fn sale_requests_are_checked() {
    let (w, fake) = world_with_fake_pay();
    let pos = w.pos();
    stocked(&pos).await;
    let mug = json!([{"sku": "MUG", "quantity": 1}]); // 10.82: the 0.825 tax rounds half to even
    let cases = [
        (
            json!({"location": "nowhere", "lines": mug, "tenders": [{"type": "cash", "amount": "20"}]}),
            StatusCode::NOT_FOUND,
            "unknown_location",
            "location",
        ),
        (
            sale(json!([]), json!([{"type": "cash", "amount": "1"}])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "lines",
        ),
        (
            sale(
                json!([{"sku": "MUG", "quantity": 0}]),
                json!([{"type": "cash", "amount": "1"}]),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "lines[0].quantity",
        ),
        (
            sale(
                json!([{"sku": "NOPE", "quantity": 1}]),
                json!([{"type": "cash", "amount": "1"}]),
            ),
            StatusCode::NOT_FOUND,
            "unknown_sku",
            "lines[0].sku",
        ),
        (
            sale(
                json!([{"sku": "MUG", "quantity": 1}, {"sku": "FAN", "quantity": 1}]),
                json!([{"type": "cash", "amount": "1"}]),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "currency_mismatch",
            "lines[1].sku",
        ),
        (
            sale(mug.clone(), json!([])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "tenders",
        ),
        (
            sale(mug.clone(), json!([{"type": "cash", "amount": "-1"}])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "tenders[0].amount",
        ),
        (
            sale(
                mug.clone(),
                json!([{"type": "card_present", "amount": "10.82"}]),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "tenders[0].number",
        ),
        (
            sale(
                mug.clone(),
                json!([{"type": "gift_card", "amount": "10.82"}]),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "tenders[0].code",
        ),
        (
            sale(
                mug.clone(),
                json!([{"type": "card_present", "amount": "11", "number": "4242424242424242"}]),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "tender_exceeds_balance",
            "tenders[0].amount",
        ),
        (
            sale(
                mug.clone(),
                json!([{"type": "cash", "amount": "5"}, {"type": "card_present", "amount": "5", "number": "4242424242424242"}]),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "tender_insufficient",
            "tenders",
        ),
        (
            sale(mug.clone(), json!([{"type": "cheque", "amount": "20"}])),
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
            "tenders[0].type",
        ),
        (
            json!({"location": "store-1", "lines": mug, "tenders": [{"type": "cash", "amount": "20"}], "occurred_at": "2026-03-02T09:00:03Z"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "occurred_at",
        ),
        (
            json!({"location": "store-1", "lines": mug}),
            StatusCode::BAD_REQUEST,
            "parameter_missing",
            "tenders",
        ),
    ];
    for (body, status, code, field) in cases {
        let r = pos.post("/v1/sales", body).await;
        assert_error(&r, status, code, Some(field));
    }
    assert!(calls(&fake).is_empty(), "nothing reached the gateway");
    assert_eq!(quantity(&pos, "MUG").await, 10);
}

#[tokio::test(start_paused = true)]
async fn the_sell_policy_over_http() {
    let w = World::new();
    let pos = w.pos();
    stocked(&pos).await;
    let eleven = || {
        sale(
            json!([{"sku": "TEE", "quantity": 11}]),
            json!([{"type": "cash", "amount": "275.00"}]),
        )
    };
    pos.put("/v1/settings", json!({"sell_when_out_of_stock": "block"}))
        .await;
    let r = pos.post("/v1/sales", eleven()).await;
    assert_error(
        &r,
        StatusCode::CONFLICT,
        "out_of_stock",
        Some("lines[0].sku"),
    );
    assert_eq!(quantity(&pos, "TEE").await, 10);
    pos.put("/v1/settings", json!({"sell_when_out_of_stock": "warn"}))
        .await;
    let r = pos.post("/v1/sales", eleven()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        r.json["warnings"],
        json!(["`TEE` is out of stock at `store-1`: -1 left after this sale"])
    );
    pos.put("/v1/settings", json!({"sell_when_out_of_stock": "allow"}))
        .await;
    let r = pos.post("/v1/sales", eleven()).await;
    assert_eq!(
        (r.status, &r.json["warnings"]),
        (StatusCode::OK, &json!([]))
    );
    assert_eq!(quantity(&pos, "TEE").await, -12);
}

/// TEE × 4 = 100.00: gift card 20, card 30, cash 60 (10 change).
fn split_sale() -> Value {
    sale(
        json!([{"sku": "TEE", "quantity": 4}]),
        json!([
            {"type": "gift_card", "amount": "20.00", "code": "GC-1"},
            {"type": "card_present", "amount": "30.00", "number": "4242424242424242"},
            {"type": "cash", "amount": "60.00"},
        ]),
    )
}

#[tokio::test(start_paused = true)]
async fn a_split_tender_sale_authorizes_records_then_captures() {
    let (w, fake) = world_with_fake_pay();
    let pos = w.pos();
    stocked(&pos).await;
    let r = pos.post_idem("/v1/sales", split_sale(), "sale-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        r.json["tenders"],
        json!([
            {"type": "gift_card", "amount": "20.00", "change": "0.00", "payment_intent": "pi_1", "last4": null, "refunded": "0.00"},
            {"type": "card_present", "amount": "30.00", "change": "0.00", "payment_intent": "pi_2", "last4": "4242", "refunded": "0.00"},
            {"type": "cash", "amount": "50.00", "change": "10.00", "payment_intent": null, "last4": null, "refunded": "0.00"},
        ])
    );
    assert_eq!(r.json["total"], "100.00");
    assert_eq!(
        calls(&fake),
        [
            "create pi_1 gift_card 20.00",
            "create pi_2 card_present 30.00",
            "capture pi_1",
            "capture pi_2"
        ]
    );
    assert_eq!(quantity(&pos, "TEE").await, 6);
    // The card number is never kept.
    let snap = pos.get("/_control/snapshot").await;
    assert!(!String::from_utf8_lossy(&snap.raw).contains("4242424242424242"));

    // A replay answers the same, and neither sells nor authorizes again.
    let again = pos.post_idem("/v1/sales", split_sale(), "sale-1").await;
    assert_eq!((again.status, &again.raw), (StatusCode::OK, &r.raw));
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(calls(&fake).len(), 4);
    assert_eq!(quantity(&pos, "TEE").await, 6);
    // The same key with another body is refused.
    let mut other = split_sale();
    other["lines"][0]["quantity"] = json!(3);
    let r = pos.post_idem("/v1/sales", other, "sale-1").await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_error",
        Some("Idempotency-Key"),
    );
    assert_eq!(calls(&fake).len(), 4);
    let sales: Vec<Value> = events(&pos)
        .await
        .into_iter()
        .filter(|e| e["type"] == "sale.created")
        .collect();
    assert_eq!(sales.len(), 1);
    assert_eq!(
        sales[0]["data"]["tenders"][1]["payment_intent"], "pi_2",
        "sale.created names the intents"
    );
}

#[tokio::test(start_paused = true)]
async fn a_decline_sells_nothing_and_voids_the_tenders_before_it() {
    let (w, fake) = world_with_fake_pay();
    let pos = w.pos();
    stocked(&pos).await;
    pos.put("/v1/settings", json!({"sell_when_out_of_stock": "block"}))
        .await;
    let before = events(&pos).await.len();
    let mut body = split_sale();
    body["lines"][0]["quantity"] = json!(10); // 250.00: the last ten
    body["tenders"] = json!([
        {"type": "gift_card", "amount": "20.00", "code": "GC-1"},
        {"type": "card_present", "amount": "30.00", "number": "4000000000000002"},
        {"type": "cash", "amount": "200.00"},
    ]);
    let r = pos.post("/v1/sales", body.clone()).await;
    assert_error(
        &r,
        StatusCode::PAYMENT_REQUIRED,
        "card_declined",
        Some("tenders[1]"),
    );
    assert_eq!(
        (
            &r.json["error"]["decline_code"],
            &r.json["error"]["payment_intent"]
        ),
        (&json!("card_declined"), &json!("pi_2"))
    );
    assert_eq!(
        calls(&fake),
        [
            "create pi_1 gift_card 20.00",
            "create pi_2 card_present 30.00",
            "cancel pi_1"
        ]
    );
    assert_eq!(quantity(&pos, "TEE").await, 10);
    assert_eq!(events(&pos).await.len(), before, "no sale, no events");
    // The units held for it were released: a good card sells them all.
    body["tenders"][1]["number"] = json!("4242424242424242");
    let r = pos.post("/v1/sales", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        r.json["id"], "sale_000002",
        "the declined sale burned its id"
    );
    assert_eq!(quantity(&pos, "TEE").await, 0);
    // A card the gateway refuses outright names the tender.
    let r = pos
        .post(
            "/v1/sales",
            sale(
                json!([{"sku": "MUG", "quantity": 1}]),
                json!([{"type": "card_present", "amount": "10.82", "number": "1234123412341234"}]),
            ),
        )
        .await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "live_card_rejected",
        Some("tenders[0]"),
    );
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_gateway_is_503_and_leaves_nothing_behind() {
    let (w, _fake) = world_with_fake_pay();
    let pos = w.pos();
    stocked(&pos).await;
    pos.put("/v1/settings", json!({"sell_when_out_of_stock": "block"}))
        .await;
    w.transport.unmount(PAY_HOST);
    let mut body = split_sale();
    body["lines"][0]["quantity"] = json!(10);
    body["tenders"][2]["amount"] = json!("200.00");
    let r = pos.post("/v1/sales", body.clone()).await;
    assert_error(
        &r,
        StatusCode::SERVICE_UNAVAILABLE,
        "payment_gateway_unavailable",
        None,
    );
    let snap = pos.get("/_control/snapshot").await;
    assert_eq!(snap.json["state"]["pending_sales"], json!([]));
    assert_eq!(snap.json["state"]["sales"], json!([]));
    // Back up: the same ten units sell.
    let fake: Fake = Arc::default();
    fake.lock()
        .unwrap()
        .gift_cards
        .insert("GC-1".into(), dec("50"));
    w.transport.mount(PAY_HOST, fake_pay_router(fake));
    let r = pos.post("/v1/sales", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

// ---- returns ---------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_split_tender_sale_partly_returned_to_the_original_tenders() {
    let (w, fake) = world_with_fake_pay();
    let pos = w.pos();
    stocked(&pos).await;
    let r = pos.post("/v1/sales", split_sale()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let before = events(&pos).await.len();
    w.clock.advance(Duration::from_secs(600));
    // Two of four tees (50.00): the gift card's 20, then 30 of the card.
    let r = pos
        .post_idem(
            "/v1/returns",
            json!({"sale_id": "sale_000001", "location": "store-1", "lines": [{"sku": "TEE", "quantity": 2}],
                "restock": true, "refund_to": "original"}),
            "ret-1",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        r.json,
        json!({"id": "ret_000001", "location": "store-1", "sale_id": "sale_000001", "order_ref": null,
            "lines": [{"sku": "TEE", "quantity": 2, "amount": "50.00"}], "restock": true,
            "refund_to": "original", "amount": "50.00", "currency": "USD",
            "refunds": [
                {"type": "gift_card", "amount": "20.00", "payment_intent": "pi_1", "reference": "re_3"},
                {"type": "card_present", "amount": "30.00", "payment_intent": "pi_2", "reference": "re_4"},
            ],
            "occurred_at": "2026-03-02T09:10:00Z"})
    );
    assert_eq!(
        &calls(&fake)[4..],
        ["refund pi_1 20.00", "refund pi_2 30.00"]
    );
    assert_eq!(quantity(&pos, "TEE").await, 8);
    // A replay refunds nothing more.
    let again = pos
        .post_idem(
            "/v1/returns",
            json!({"sale_id": "sale_000001", "location": "store-1", "lines": [{"sku": "TEE", "quantity": 2}],
                "restock": true, "refund_to": "original"}),
            "ret-1",
        )
        .await;
    assert_eq!(again.raw, r.raw);
    assert_eq!(calls(&fake).len(), 6);
    // The sale shows what came back.
    let s = pos.get("/v1/sales/sale_000001").await.json;
    assert_eq!(s["lines"][0]["returned_quantity"], 2);
    let refunded: Vec<&str> = s["tenders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["refunded"].as_str().unwrap())
        .collect();
    assert_eq!(refunded, ["20.00", "30.00", "0.00"]);
    // The other two: only cash holds money now.
    let r = pos
        .post(
            "/v1/returns",
            json!({"sale_id": "sale_000001", "location": "store-1", "lines": [{"sku": "TEE", "quantity": 2}],
                "restock": false, "refund_to": "original"}),
        )
        .await;
    assert_eq!(
        r.json["refunds"],
        json!([{"type": "cash", "amount": "50.00", "payment_intent": null, "reference": null}])
    );
    assert_eq!(quantity(&pos, "TEE").await, 8, "not restocked");
    let r = pos
        .post(
            "/v1/returns",
            json!({"sale_id": "sale_000001", "location": "store-1", "lines": [{"sku": "TEE", "quantity": 1}],
                "restock": true, "refund_to": "cash"}),
        )
        .await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "quantity_exceeds_sold",
        Some("lines[0].quantity"),
    );
    assert_eq!(
        pos.get("/v1/returns/ret_000001").await.json["amount"],
        "50.00"
    );
    let r = pos.get("/v1/returns/ret_000009").await;
    assert_error(&r, StatusCode::NOT_FOUND, "resource_missing", Some("id"));

    let evs = events_after(&pos, before).await;
    assert_eq!(
        types(&evs),
        [
            "return.created",
            "inventory.count.updated",
            "return.created"
        ]
    );
    assert_eq!(
        evs[1]["data"],
        json!({"sku": "TEE", "location": "store-1", "quantity": 8, "occurred_at": "2026-03-02T09:10:00Z",
            "calculated_at": "2026-03-02T09:10:00Z", "cause": {"kind": "return", "reference": "ret_000001", "delta": 2}})
    );
    let d = &evs[0]["data"];
    assert_eq!(
        (
            &d["id"],
            &d["sale_id"],
            &d["restock"],
            &d["refund_to"],
            &d["occurred_at"]
        ),
        (
            &json!("ret_000001"),
            &json!("sale_000001"),
            &json!(true),
            &json!("original"),
            &json!("2026-03-02T09:10:00Z")
        )
    );
    assert_eq!(
        d["lines"],
        json!([{"sku": "TEE", "quantity": 2, "amount": "50.00"}])
    );
}

#[tokio::test(start_paused = true)]
async fn store_credit_issues_a_gift_card_and_no_receipt_uses_the_catalog() {
    let (w, fake) = world_with_fake_pay();
    let pos = w.pos();
    stocked(&pos).await;
    pos.post(
        "/v1/sales",
        sale(
            json!([{"sku": "MUG", "quantity": 3}]),
            json!([{"type": "cash", "amount": "32.48"}]),
        ),
    )
    .await;
    let r = pos
        .post(
            "/v1/returns",
            json!({"sale_id": "sale_000001", "location": "store-1", "lines": [{"sku": "MUG", "quantity": 1}],
                "restock": true, "refund_to": "store_credit"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        r.json["refunds"],
        json!([{"type": "gift_card", "amount": "10.83", "payment_intent": null, "reference": "GC-NEW_1"}])
    );
    assert_eq!(calls(&fake), ["gift_card GC-NEW_1 10.83"]);
    // Without a receipt: catalog price and tax, cash or store credit only.
    let r = pos
        .post(
            "/v1/returns",
            json!({"location": "store-1", "lines": [{"sku": "MUG", "quantity": 2}], "restock": true, "refund_to": "cash"}),
        )
        .await;
    assert_eq!(
        (r.status, &r.json["amount"], &r.json["sale_id"]),
        (StatusCode::OK, &json!("21.65"), &json!(null))
    );
    let r = pos
        .post(
            "/v1/returns",
            json!({"location": "store-1", "lines": [{"sku": "MUG", "quantity": 2}], "restock": true, "refund_to": "original"}),
        )
        .await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parameter_invalid",
        Some("refund_to"),
    );
    assert_eq!(quantity(&pos, "MUG").await, 10);
}

#[tokio::test(start_paused = true)]
async fn an_online_order_returned_in_store_moves_units_not_money() {
    let (w, fake) = world_with_fake_pay();
    let pos = w.pos();
    stocked(&pos).await;
    let r = pos
        .post(
            "/v1/returns",
            json!({"order_ref": "web-1001", "location": "store-1", "lines": [{"sku": "TEE", "quantity": 1}],
                "restock": true, "refund_to": "original"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        (&r.json["order_ref"], &r.json["amount"], &r.json["refunds"]),
        (&json!("web-1001"), &json!("25.00"), &json!([]))
    );
    assert!(calls(&fake).is_empty());
    assert_eq!(quantity(&pos, "TEE").await, 11);
    let r = pos
        .post(
            "/v1/returns",
            json!({"order_ref": "web-1001", "location": "store-1", "lines": [{"sku": "TEE", "quantity": 1}],
                "restock": true, "refund_to": "cash"}),
        )
        .await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parameter_invalid",
        Some("refund_to"),
    );
}

#[tokio::test(start_paused = true)]
async fn return_requests_are_checked() {
    let (w, _fake) = world_with_fake_pay();
    let pos = w.pos();
    stocked(&pos).await;
    pos.post(
        "/v1/sales",
        sale(
            json!([{"sku": "MUG", "quantity": 1}]),
            json!([{"type": "cash", "amount": "20"}]),
        ),
    )
    .await;
    let ret = |patch: Value| {
        let mut b = json!({"sale_id": "sale_000001", "location": "store-1",
            "lines": [{"sku": "MUG", "quantity": 1}], "restock": true, "refund_to": "cash"});
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases = [
        (
            ret(json!({"sale_id": "sale_000009"})),
            StatusCode::NOT_FOUND,
            "resource_missing",
            "sale_id",
        ),
        (
            ret(json!({"location": "nowhere"})),
            StatusCode::NOT_FOUND,
            "unknown_location",
            "location",
        ),
        (
            ret(json!({"order_ref": "web-1"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "order_ref",
        ),
        (
            ret(json!({"lines": [{"sku": "TEE", "quantity": 1}]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "sku_not_in_sale",
            "lines[0].sku",
        ),
        (
            ret(json!({"lines": [{"sku": "NOPE", "quantity": 1}]})),
            StatusCode::NOT_FOUND,
            "unknown_sku",
            "lines[0].sku",
        ),
        (
            ret(json!({"lines": [{"sku": "MUG", "quantity": 2}]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity_exceeds_sold",
            "lines[0].quantity",
        ),
        (
            ret(json!({"lines": []})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "lines",
        ),
        (
            ret(json!({"occurred_at": "2026-03-02T09:00:03Z"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "occurred_at",
        ),
        (
            ret(json!({"refund_to": "bitcoin"})),
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
            "refund_to",
        ),
        (
            json!({"location": "store-1", "lines": [], "refund_to": "cash"}),
            StatusCode::BAD_REQUEST,
            "parameter_missing",
            "restock",
        ),
    ];
    for (body, status, code, field) in cases {
        let r = pos.post("/v1/returns", body).await;
        assert_error(&r, status, code, Some(field));
    }
}

#[tokio::test(start_paused = true)]
async fn concurrent_returns_cannot_refund_the_same_units() {
    let (w, fake) = world_with_fake_pay();
    let pos = w.pos();
    stocked(&pos).await;
    let r = pos
        .post(
            "/v1/sales",
            sale(
                json!([{"sku": "TEE", "quantity": 1}]),
                json!([{"type": "card_present", "amount": "25.00", "number": "4242424242424242"}]),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    fake.lock().unwrap().refund_delay_ms = 500;
    let body = json!({"sale_id": "sale_000001", "location": "store-1",
        "lines": [{"sku": "TEE", "quantity": 1}], "restock": true, "refund_to": "original"});
    let (a, (b, held)) = tokio::join!(pos.post("/v1/returns", body.clone()), async {
        // B comes while A's refund is at the gateway (A's refund runs on a
        // task of its own: wait, in virtual time, until it is there).
        for _ in 0..100 {
            if fake.lock().unwrap().refunds_in_flight > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let b = pos.post("/v1/returns", body.clone()).await;
        (b, fake.lock().unwrap().refunds_in_flight)
    });
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    assert_error(
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "quantity_exceeds_sold",
        Some("lines[0].quantity"),
    );
    assert_eq!(
        held, 1,
        "B was refused while A's refund was still at the gateway"
    );
    assert_eq!(
        calls(&fake)
            .iter()
            .filter(|c| c.starts_with("refund"))
            .count(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_refund_releases_the_units() {
    let (w, fake) = world_with_fake_pay();
    let pos = w.pos();
    stocked(&pos).await;
    pos.post(
        "/v1/sales",
        sale(
            json!([{"sku": "TEE", "quantity": 1}]),
            json!([{"type": "card_present", "amount": "25.00", "number": "4242424242424242"}]),
        ),
    )
    .await;
    fake.lock().unwrap().refunds_down = true;
    let body = json!({"sale_id": "sale_000001", "location": "store-1",
        "lines": [{"sku": "TEE", "quantity": 1}], "restock": true, "refund_to": "original"});
    let before = events(&pos).await.len();
    let r = pos.post("/v1/returns", body.clone()).await;
    assert_error(
        &r,
        StatusCode::SERVICE_UNAVAILABLE,
        "payment_gateway_unavailable",
        None,
    );
    let r = pos
        .post(
            "/v1/returns",
            json!({"location": "store-1", "lines": [{"sku": "TEE", "quantity": 1}], "restock": true, "refund_to": "store_credit"}),
        )
        .await;
    assert_error(
        &r,
        StatusCode::SERVICE_UNAVAILABLE,
        "payment_gateway_unavailable",
        None,
    );
    assert_eq!(events(&pos).await.len(), before);
    assert_eq!(quantity(&pos, "TEE").await, 9);
    fake.lock().unwrap().refunds_down = false;
    let r = pos.post("/v1/returns", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["id"], "ret_000003");
    assert_eq!(quantity(&pos, "TEE").await, 10);
}

// ---- pickups ---------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn pickups_set_units_aside_and_are_completed_once() {
    let w = World::new();
    let pos = w.pos();
    stocked(&pos).await;
    pos.put("/v1/settings", json!({"sell_when_out_of_stock": "block"}))
        .await;
    let before = events(&pos).await.len();
    let body = json!({"order_ref": "web-1", "location": "store-1",
        "lines": [{"sku": "TEE", "quantity": 12}], "customer": "Ada"});
    let r = pos.post("/v1/pickups", body.clone()).await;
    assert_eq!(
        r.json,
        json!({"order_ref": "web-1", "location": "store-1", "lines": [{"sku": "TEE", "quantity": 12}],
            "customer": "Ada", "status": "ready", "created_at": "2026-03-02T09:00:00Z",
            "completed_at": null, "cancelled_at": null})
    );
    assert_eq!(
        quantity(&pos, "TEE").await,
        -2,
        "set aside whatever the policy"
    );
    let r = pos.get("/v1/inventory/TEE?location=store-1").await;
    assert_eq!(
        r.json["reserved_for_sale"], 12,
        "the set-aside units are reported apart"
    );
    let r = pos
        .post(
            "/v1/returns",
            json!({"location": "store-1", "order_ref": "web-1",
                "lines": [{"sku": "TEE", "quantity": 1}], "restock": true, "refund_to": "original"}),
        )
        .await;
    assert_error(
        &r,
        StatusCode::CONFLICT,
        "pickup_not_collected",
        Some("order_ref"),
    );
    let r = pos.post("/v1/pickups", body.clone()).await;
    assert_error(&r, StatusCode::CONFLICT, "pickup_exists", Some("order_ref"));
    let mut bad = body.clone();
    bad["order_ref"] = json!("web-2");
    bad["location"] = json!("nowhere");
    let r = pos.post("/v1/pickups", bad).await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        "unknown_location",
        Some("location"),
    );
    let mut bad = body.clone();
    bad["order_ref"] = json!("web-2");
    bad["lines"] = json!([{"sku": "NOPE", "quantity": 1}]);
    let r = pos.post("/v1/pickups", bad).await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        "unknown_sku",
        Some("lines[0].sku"),
    );
    let r = pos
        .post("/v1/pickups", json!({"location": "store-1", "lines": []}))
        .await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "parameter_missing",
        Some("order_ref"),
    );
    let r = pos.get("/v1/pickups/web-1").await;
    assert_eq!(r.json["status"], "ready");
    let r = pos.get("/v1/pickups/web-9").await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        "resource_missing",
        Some("order_ref"),
    );

    w.clock.advance(Duration::from_secs(3600));
    let r = pos.post("/v1/pickups/web-1/complete", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        (&r.json["status"], &r.json["completed_at"]),
        (&json!("completed"), &json!("2026-03-02T10:00:00Z"))
    );
    assert_eq!(quantity(&pos, "TEE").await, -2);
    let r = pos.get("/v1/inventory/TEE?location=store-1").await;
    assert_eq!(r.json["reserved_for_sale"], 0, "handed over");
    let r = pos.post("/v1/pickups/web-1/complete", json!({})).await;
    assert_error(&r, StatusCode::CONFLICT, "pickup_already_completed", None);
    let r = pos.post("/v1/pickups/web-9/complete", json!({})).await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        "resource_missing",
        Some("order_ref"),
    );

    let evs = events_after(&pos, before).await;
    assert_eq!(
        types(&evs),
        [
            "inventory.count.updated",
            "pickup.completed",
            "inventory.count.updated"
        ]
    );
    assert_eq!(
        evs[0]["data"]["cause"],
        json!({"kind": "reserve", "reference": "web-1", "delta": -12})
    );
    assert_eq!(
        (
            &evs[1]["data"]["order_ref"],
            &evs[1]["data"]["status"],
            &evs[1]["data"]["lines"]
        ),
        (
            &json!("web-1"),
            &json!("completed"),
            &json!([{"sku": "TEE", "quantity": 12}])
        )
    );
    assert_eq!(
        evs[2]["data"]["cause"],
        json!({"kind": "fulfillment", "reference": "web-1", "delta": 0})
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_pickup_releases_its_units() {
    let w = World::new();
    let pos = w.pos();
    stocked(&pos).await;
    pos.post(
        "/v1/pickups",
        json!({"order_ref": "web-1", "location": "store-1", "lines": [{"sku": "TEE", "quantity": 3}]}),
    )
    .await;
    assert_eq!(quantity(&pos, "TEE").await, 7);
    // Part released by adjustment (as a connector does for a partial refund).
    let r = pos
        .post(
            "/v1/inventory/changes",
            json!({"changes": [{"type": "ADJUSTMENT", "sku": "TEE", "location": "store-1", "quantity": 1,
                "from_state": "RESERVED_FOR_SALE", "to_state": "IN_STOCK", "occurred_at": "2026-03-02T09:00:00Z"}]}),
        )
        .await;
    assert_eq!(r.json["counts"][0]["quantity"], 8, "{}", r.json);
    let r = pos
        .post(
            "/v1/inventory/changes",
            json!({"changes": [{"type": "ADJUSTMENT", "sku": "TEE", "location": "store-1", "quantity": 3,
                "from_state": "RESERVED_FOR_SALE", "to_state": "IN_STOCK", "occurred_at": "2026-03-02T09:00:00Z"}]}),
        )
        .await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parameter_invalid",
        Some("changes[0].quantity"),
    );
    let before = events(&pos).await.len();
    let r = pos
        .post_idem("/v1/pickups/web-1/cancel", json!({}), "rel-1")
        .await;
    assert_eq!(
        (r.status, &r.json["status"], &r.json["cancelled_at"]),
        (
            StatusCode::OK,
            &json!("cancelled"),
            &json!("2026-03-02T09:00:00Z")
        )
    );
    assert_eq!(
        quantity(&pos, "TEE").await,
        10,
        "the two still held came back"
    );
    let again = pos
        .post_idem("/v1/pickups/web-1/cancel", json!({}), "rel-1")
        .await;
    assert_eq!(again.raw, r.raw);
    let r = pos.post("/v1/pickups/web-1/cancel", json!({})).await;
    assert_error(&r, StatusCode::CONFLICT, "pickup_already_cancelled", None);
    let r = pos.post("/v1/pickups/web-1/complete", json!({})).await;
    assert_error(&r, StatusCode::CONFLICT, "pickup_already_cancelled", None);
    let r = pos.post("/v1/pickups/web-9/cancel", json!({})).await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        "resource_missing",
        Some("order_ref"),
    );
    assert_eq!(quantity(&pos, "TEE").await, 10);
    let evs = events_after(&pos, before).await;
    assert_eq!(types(&evs), ["pickup.cancelled", "inventory.count.updated"]);
    assert_eq!(evs[0]["data"]["status"], "cancelled");
    assert_eq!(
        evs[1]["data"]["cause"],
        json!({"kind": "release", "reference": "web-1", "delta": 2})
    );
}

// ---- the typed client, subscriptions and the OpenAPI document -----------------

#[tokio::test(start_paused = true)]
async fn the_typed_client_reaches_every_endpoint() {
    use omnisim_api::ApiClient;
    use omnisim_api::pos::*;
    let (w, _fake) = world_with_fake_pay();
    w.transport.mount("pos.sim", w.sims.pos_router());
    let pos = PosClient(ApiClient::new(
        Arc::new(w.transport.clone()),
        "http://pos.sim",
        support::KEY,
    ));
    let item = pos
        .create_item(
            &CreateItem {
                sku: "MUG".into(),
                name: "Mug".into(),
                price: dec("10.00"),
                currency: "USD".into(),
                tax_code: Some("STD".into()),
            },
            Some("item-1"),
        )
        .await
        .unwrap();
    assert_eq!(pos.item("MUG").await.unwrap(), item);
    let item = pos
        .update_item(
            "MUG",
            &UpdateItem {
                name: Some("Red mug".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(pos.items().await.unwrap().data, [item]);
    let rate = pos
        .set_tax_rate("STD", &SetTaxRate { rate: dec("0.10") })
        .await
        .unwrap();
    assert_eq!(pos.tax_rates().await.unwrap().data, [rate]);
    let s = pos
        .set_settings(&PosSettings {
            sell_when_out_of_stock: SellPolicy::Warn,
        })
        .await
        .unwrap();
    assert_eq!(pos.settings().await.unwrap(), s);
    let counts = pos
        .change_inventory(
            &BatchChangeInventory {
                changes: vec![InventoryChange {
                    kind: InventoryChangeType::PhysicalCount,
                    sku: "MUG".into(),
                    location: "store-1".into(),
                    quantity: 5,
                    from_state: None,
                    to_state: None,
                    occurred_at: w.clock.now(),
                    reference: None,
                    order_ref: None,
                }],
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(counts.counts[0].quantity, 5);
    let sold = pos
        .sale(
            &CreateSale {
                location: "store-1".into(),
                lines: vec![SaleLineRequest {
                    sku: "MUG".into(),
                    quantity: 2,
                }],
                tenders: vec![TenderRequest {
                    kind: TenderType::CardPresent,
                    amount: dec("22.00"),
                    number: Some("4242424242424242".into()),
                    code: None,
                }],
                occurred_at: None,
                customer: Some("Ada".into()),
                gift_cards: Vec::new(),
            },
            Some("sale-1"),
        )
        .await
        .unwrap();
    assert_eq!(pos.get_sale(&sold.id).await.unwrap(), sold);
    assert_eq!(pos.count("MUG", "store-1").await.unwrap().quantity, 3);
    let ret = pos
        .create_return(
            &CreateReturn {
                sale_id: Some(sold.id.clone()),
                order_ref: None,
                location: "store-1".into(),
                lines: vec![SaleLineRequest {
                    sku: "MUG".into(),
                    quantity: 1,
                }],
                restock: true,
                refund_to: RefundTo::Original,
                occurred_at: None,
                store_credit_code: None,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(ret.amount, dec("11.00"));
    assert_eq!(pos.get_return(&ret.id).await.unwrap(), ret);
    let p = pos
        .create_pickup(
            &CreatePickup {
                order_ref: "web-1".into(),
                location: "store-1".into(),
                lines: vec![SaleLineRequest {
                    sku: "MUG".into(),
                    quantity: 1,
                }],
                customer: None,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(pos.pickup("web-1").await.unwrap(), p);
    let done = pos.complete_pickup("web-1", None).await.unwrap();
    assert_eq!(done.status, PickupStatus::Completed);
    let e = pos.complete_pickup("web-1", None).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(409), Some("pickup_already_completed"))
    );
}

#[tokio::test(start_paused = true)]
async fn subscriptions_accept_every_pos_topic() {
    let w = World::new();
    let r = w
        .pos()
        .post(
            "/v1/webhook_subscriptions",
            json!({"url": "http://hook.test/pos", "topics": ["sale.created", "return.created",
                "inventory.count.updated", "item.updated", "pickup.completed", "pickup.cancelled"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

#[tokio::test(start_paused = true)]
async fn openapi_lists_every_pos_path() {
    let w = World::new();
    let r = w.pos().get_unauthed("/openapi.json").await;
    let paths = r.json["paths"].as_object().unwrap();
    let expect = [
        ("/v1/items", &["get", "post"][..]),
        ("/v1/items/{sku}", &["get", "patch"]),
        ("/v1/inventory/changes", &["post"]),
        ("/v1/inventory/{sku}", &["get"]),
        ("/v1/settings", &["get", "put"]),
        ("/v1/tax_rates", &["get"]),
        ("/v1/tax_rates/{code}", &["put"]),
        ("/v1/sales", &["post"]),
        ("/v1/sales/{id}", &["get"]),
        ("/v1/returns", &["post"]),
        ("/v1/returns/{id}", &["get"]),
        ("/v1/pickups", &["post"]),
        ("/v1/pickups/{order_ref}", &["get"]),
        ("/v1/pickups/{order_ref}/complete", &["post"]),
        ("/v1/pickups/{order_ref}/cancel", &["post"]),
        ("/v1/locations", &["get", "post"]),
        ("/v1/events", &["get"]),
    ];
    for (path, methods) in expect {
        let ops = paths.get(path).unwrap_or_else(|| panic!("{path} missing"));
        for m in methods {
            assert!(ops.get(*m).is_some(), "{m} {path} missing");
        }
    }
    // Every route the router serves is documented: each documented path answers
    // something other than the JSON 404 of unknown paths.
    for path in paths.keys() {
        let concrete = path
            .replace("{sku}", "MUG")
            .replace("{code}", "STD")
            .replace("{id}", "x")
            .replace("{order_ref}", "web-1");
        let r = w.pos().send("OPTIONS", &concrete, None, None).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
    }
    assert_eq!(
        r.json["paths"]["/v1/sales"]["post"]["responses"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        // Its own answers plus those of the shared layers (auth, body limit,
        // rate limit, injected faults).
        [
            "200", "400", "401", "402", "404", "409", "413", "422", "429", "503", "504"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_sale_releases_its_units_and_voids_its_authorizations() {
    let (w, fake) = world_with_fake_pay();
    let pos = w.pos();
    stocked(&pos).await;
    pos.put("/v1/settings", json!({"sell_when_out_of_stock": "block"}))
        .await;
    fake.lock().unwrap().card_delay_ms = 10_000;
    let mut body = split_sale();
    body["lines"][0]["quantity"] = json!(10);
    body["tenders"][2]["amount"] = json!("200.00");
    // The caller gives up while the card is at the gateway.
    let gave_up =
        tokio::time::timeout(Duration::from_secs(1), pos.post("/v1/sales", body.clone())).await;
    assert!(gave_up.is_err());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(calls(&fake), ["create pi_1 gift_card 20.00", "cancel pi_1"]);
    let snap = pos.get("/_control/snapshot").await;
    assert_eq!(snap.json["state"]["pending_sales"], json!([]));
    fake.lock().unwrap().card_delay_ms = 0;
    let r = pos.post("/v1/sales", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

#[tokio::test(start_paused = true)]
async fn a_capture_that_fails_after_the_sale_is_a_warning() {
    let (w, fake) = world_with_fake_pay();
    let pos = w.pos();
    stocked(&pos).await;
    fake.lock().unwrap().captures_down = true;
    let r = pos
        .post(
            "/v1/sales",
            sale(
                json!([{"sku": "TEE", "quantity": 1}]),
                json!([{"type": "card_present", "amount": "25.00", "number": "4242424242424242"}]),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let warnings = r.json["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .starts_with("capture of `pi_1` failed"),
        "{warnings:?}"
    );
    assert_eq!(
        pos.get("/v1/sales/sale_000001").await.json["warnings"],
        json!(warnings)
    );
    assert_eq!(calls(&fake), ["create pi_1 card_present 25.00"]);
    assert_eq!(
        quantity(&pos, "TEE").await,
        9,
        "the goods left with the customer"
    );
}

// ---- against the real gateway ------------------------------------------------

async fn intent(w: &World, id: &str) -> Value {
    let r = w.pay().get(&format!("/v1/payment_intents/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    r.json
}

async fn gift_balance(w: &World, code: &str) -> String {
    let r = w.pay().get(&format!("/v1/gift_cards/{code}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    r.json["balance"].as_str().unwrap().to_owned()
}

async fn intent_count(w: &World) -> usize {
    let r = w.pay().get("/v1/payment_intents?limit=100").await;
    r.json["data"].as_array().unwrap().len()
}

#[tokio::test(start_paused = true)]
async fn split_tenders_and_returns_through_the_real_gateway() {
    let w = World::new();
    let pos = w.pos();
    stocked(&pos).await;
    let r = w
        .pay()
        .post(
            "/v1/gift_cards",
            json!({"balance": "50.00", "currency": "USD"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let code = r.json["code"].as_str().unwrap().to_owned();
    let mut body = split_sale();
    body["tenders"][0]["code"] = json!(code);
    let r = pos.post_idem("/v1/sales", body.clone(), "sale-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let gift_pi = r.json["tenders"][0]["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned();
    let card_pi = r.json["tenders"][1]["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned();
    for (pi, amount) in [(&gift_pi, "20.00"), (&card_pi, "30.00")] {
        let i = intent(&w, pi).await;
        assert_eq!(
            (&i["status"], &i["amount_received"], &i["capture_method"]),
            (&json!("succeeded"), &json!(amount), &json!("manual")),
            "{i}"
        );
        assert_eq!(i["metadata"]["pos_sale"], "sale_000001");
    }
    assert_eq!(
        intent(&w, &card_pi).await["payment_method"]["type"],
        "card_present"
    );
    assert_eq!(gift_balance(&w, &code).await, "30.00");
    // A replay neither sells nor authorizes again.
    let again = pos.post_idem("/v1/sales", body, "sale-1").await;
    assert_eq!(again.raw, r.raw);
    assert_eq!(intent_count(&w).await, 2);
    assert_eq!(quantity(&pos, "TEE").await, 6);

    // Two tees back to the original tenders: 20 on the gift card, 30 on the card.
    let r = pos
        .post(
            "/v1/returns",
            json!({"sale_id": "sale_000001", "location": "store-1", "lines": [{"sku": "TEE", "quantity": 2}],
                "restock": true, "refund_to": "original"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let refunds = r.json["refunds"].as_array().unwrap();
    assert_eq!(
        refunds
            .iter()
            .map(|x| (
                x["type"].as_str().unwrap(),
                x["amount"].as_str().unwrap(),
                x["payment_intent"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
        [
            ("gift_card", "20.00", gift_pi.as_str()),
            ("card_present", "30.00", card_pi.as_str())
        ]
    );
    assert!(
        refunds
            .iter()
            .all(|x| x["reference"].as_str().unwrap().starts_with("re_"))
    );
    assert_eq!(intent(&w, &gift_pi).await["amount_refunded"], "20.00");
    assert_eq!(intent(&w, &card_pi).await["amount_refunded"], "30.00");
    assert_eq!(gift_balance(&w, &code).await, "50.00");
    assert_eq!(quantity(&pos, "TEE").await, 8);

    // Store credit: a new gift card at the gateway holding the amount.
    let r = pos
        .post(
            "/v1/returns",
            json!({"sale_id": "sale_000001", "location": "store-1", "lines": [{"sku": "TEE", "quantity": 1}],
                "restock": true, "refund_to": "store_credit"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let credit = r.json["refunds"][0]["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(gift_balance(&w, &credit).await, "25.00");
}

#[tokio::test(start_paused = true)]
async fn a_real_decline_voids_the_gift_card_hold() {
    let w = World::new();
    let pos = w.pos();
    stocked(&pos).await;
    let r = w
        .pay()
        .post(
            "/v1/gift_cards",
            json!({"balance": "50.00", "currency": "USD"}),
        )
        .await;
    let code = r.json["code"].as_str().unwrap().to_owned();
    let mut body = split_sale();
    body["tenders"][0]["code"] = json!(code);
    body["tenders"][1]["number"] = json!("4000000000009995");
    let r = pos.post("/v1/sales", body).await;
    assert_error(
        &r,
        StatusCode::PAYMENT_REQUIRED,
        "card_declined",
        Some("tenders[1]"),
    );
    assert_eq!(r.json["error"]["decline_code"], "insufficient_funds");
    let declined = r.json["error"]["payment_intent"].as_str().unwrap();
    assert_eq!(
        intent(&w, declined).await["status"],
        "requires_payment_method"
    );
    let list = w.pay().get("/v1/payment_intents?limit=100").await.json;
    let gift = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["payment_method"]["type"] == "gift_card")
        .unwrap()
        .clone();
    assert_eq!(gift["status"], "canceled");
    assert_eq!(gift_balance(&w, &code).await, "50.00");
    assert_eq!(quantity(&pos, "TEE").await, 10);
    // A number that is not a test card is refused by the gateway, naming the tender.
    let r = pos
        .post(
            "/v1/sales",
            sale(
                json!([{"sku": "TEE", "quantity": 1}]),
                json!([{"type": "card_present", "amount": "25.00", "number": "5555444433332222"}]),
            ),
        )
        .await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "live_card_rejected",
        Some("tenders[0]"),
    );
}
