//! The shop simulator over HTTP: every path, every error code, idempotency,
//! compare-and-set, and the events on `/v1/events` with their causes.
//!
//! A small fake gateway is mounted on `pay.sim` so these tests pin down what
//! the shop asks of pay (amounts, capture method, metadata, idempotency keys)
//! and how it handles each answer, independently of the real pay simulator.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use support::{App, PAY_HOST, World};

// ------------------------------------------------------------- fake gateway

/// What the fake gateway saw and holds.
#[derive(Default)]
struct Gateway {
    intents: BTreeMap<String, Value>,
    /// Every request: (method path, idempotency key, body).
    calls: Vec<(String, Option<String>, Value)>,
    /// Stored answers by idempotency key, replayed like Stripe.
    replies: BTreeMap<String, (StatusCode, Value)>,
    /// Answer the next request with this status without applying it (a fault).
    fail_next: Option<StatusCode>,
    /// Apply the next request, then answer with this status (a timeout).
    lose_next_answer: Option<StatusCode>,
    /// Hold each intent creation this long (to interleave checkouts).
    create_delay: Option<Duration>,
}

#[derive(Clone, Default)]
struct FakePay(Arc<Mutex<Gateway>>);

impl FakePay {
    fn router(&self) -> Router {
        Router::new()
            .route("/v1/payment_intents", post(create_intent))
            .route("/v1/payment_intents/{id}", get(get_intent))
            .route("/v1/payment_intents/{id}/capture", post(capture_intent))
            .route("/v1/payment_intents/{id}/cancel", post(cancel_intent))
            .route("/v1/refunds", post(create_refund))
            .with_state(self.clone())
    }

    fn mount(w: &World) -> FakePay {
        let pay = FakePay::default();
        w.transport.mount(PAY_HOST, pay.router());
        pay
    }

    fn calls(&self) -> Vec<(String, Option<String>, Value)> {
        self.0.lock().unwrap().calls.clone()
    }

    fn intent(&self, id: &str) -> Value {
        self.0.lock().unwrap().intents[id].clone()
    }

    fn fail_next(&self, status: StatusCode) {
        self.0.lock().unwrap().fail_next = Some(status);
    }

    /// A processing bank transfer settles.
    fn settle(&self, id: &str) {
        let mut g = self.0.lock().unwrap();
        let pi = g.intents.get_mut(id).unwrap();
        pi["status"] = json!("succeeded");
        pi["amount_received"] = pi["amount"].clone();
    }

    /// Records a call; answers a replay or an injected fault if there is one.
    fn begin(&self, what: String, headers: &HeaderMap, body: &Value) -> Option<Response> {
        let key = headers
            .get("idempotency-key")
            .map(|v| v.to_str().unwrap().to_owned());
        let mut g = self.0.lock().unwrap();
        g.calls.push((what, key.clone(), body.clone()));
        if let Some(status) = g.fail_next.take() {
            return Some(reply(
                status,
                json!({"error": {"code": "injected", "message": "fault", "field": null}}),
            ));
        }
        let stored = key.and_then(|k| g.replies.get(&k).cloned());
        stored.map(|(status, body)| reply(status, body))
    }

    fn finish(&self, headers: &HeaderMap, status: StatusCode, body: Value) -> Response {
        let mut g = self.0.lock().unwrap();
        if let Some(k) = headers.get("idempotency-key") {
            let k = k.to_str().unwrap().to_owned();
            g.replies.insert(k, (status, body.clone()));
        }
        if let Some(lost) = g.lose_next_answer.take() {
            return reply(lost, error("timeout", "applied, answer lost"));
        }
        reply(status, body)
    }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "field": null}})
}

fn money(v: &Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

fn dec(x: f64) -> String {
    format!("{}", (x * 100.0).round() / 100.0)
}

async fn create_intent(
    State(pay): State<FakePay>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = pay.begin("POST /v1/payment_intents".into(), &headers, &body) {
        return r;
    }
    let delay = pay.0.lock().unwrap().create_delay;
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let id = format!("pi_{:06}", pay.0.lock().unwrap().intents.len() + 1);
    let manual = body["capture_method"] == "manual";
    let amount = body["amount"].clone();
    let number = body["payment_method"]["number"].as_str().unwrap_or("");
    let kind = body["payment_method"]["type"].as_str().unwrap_or("");
    let mut pi = json!({
        "id": id, "status": "requires_capture", "amount": amount,
        "amount_capturable": "0", "amount_received": "0", "amount_refunded": "0",
        "currency": body["currency"], "capture_method": body["capture_method"],
        "payment_method": {"type": kind}, "metadata": body["metadata"],
        "created_at": "2026-03-02T09:00:00Z", "refunds": []
    });
    let (status, out) = match (kind, number) {
        ("bank_transfer", _) => {
            pi["status"] = json!("processing");
            (StatusCode::OK, pi.clone())
        }
        (_, "4242424242424242") if manual => {
            pi["amount_capturable"] = amount;
            (StatusCode::OK, pi.clone())
        }
        (_, "4242424242424242") => {
            pi["status"] = json!("succeeded");
            pi["amount_received"] = amount;
            (StatusCode::OK, pi.clone())
        }
        (_, "4000000000003220") => {
            pi["status"] = json!("requires_action");
            (StatusCode::OK, pi.clone())
        }
        (_, "4000000000000002") | (_, "4000000000009995") => {
            pi["status"] = json!("requires_payment_method");
            let decline = if number.ends_with("0002") {
                "generic_decline"
            } else {
                "insufficient_funds"
            };
            let body = json!({"error": {"code": "card_declined", "message": "Your card was declined.",
                "field": null, "decline_code": decline, "payment_intent": id}});
            (StatusCode::PAYMENT_REQUIRED, body)
        }
        _ => {
            let e = error("live_card_rejected", "only test cards are accepted");
            return reply(StatusCode::UNPROCESSABLE_ENTITY, e);
        }
    };
    pay.0.lock().unwrap().intents.insert(id, pi);
    pay.finish(&headers, status, out)
}

async fn get_intent(State(pay): State<FakePay>, Path(id): Path<String>) -> Response {
    let g = pay.0.lock().unwrap();
    match g.intents.get(&id) {
        Some(pi) => reply(StatusCode::OK, pi.clone()),
        None => reply(
            StatusCode::NOT_FOUND,
            error("resource_missing", "no intent"),
        ),
    }
}

async fn capture_intent(
    State(pay): State<FakePay>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = pay.begin(format!("POST /capture {id}"), &headers, &body) {
        return r;
    }
    let mut g = pay.0.lock().unwrap();
    let pi = g.intents.get_mut(&id).unwrap();
    if pi["status"] != "requires_capture" {
        drop(g);
        let e = error("payment_intent_unexpected_state", "not capturable");
        return pay.finish(&headers, StatusCode::CONFLICT, e);
    }
    let amount = body["amount_to_capture"].clone();
    pi["status"] = json!("succeeded");
    pi["amount_received"] = amount;
    pi["amount_capturable"] = json!("0");
    let pi = pi.clone();
    drop(g);
    pay.finish(&headers, StatusCode::OK, pi)
}

async fn cancel_intent(
    State(pay): State<FakePay>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = pay.begin(format!("POST /cancel {id}"), &headers, &body) {
        return r;
    }
    let mut g = pay.0.lock().unwrap();
    let pi = g.intents.get_mut(&id).unwrap();
    pi["status"] = json!("canceled");
    pi["amount_capturable"] = json!("0");
    let pi = pi.clone();
    drop(g);
    pay.finish(&headers, StatusCode::OK, pi)
}

async fn create_refund(
    State(pay): State<FakePay>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = pay.begin("POST /v1/refunds".into(), &headers, &body) {
        return r;
    }
    let id = body["payment_intent"].as_str().unwrap().to_owned();
    let mut g = pay.0.lock().unwrap();
    let pi = g.intents.get_mut(&id).unwrap();
    let left = money(&pi["amount_received"]) - money(&pi["amount_refunded"]);
    let amount = body
        .get("amount")
        .filter(|a| !a.is_null())
        .map_or(left, money);
    if amount > left + 1e-9 {
        drop(g);
        let e = error("amount_too_large", "more than captured");
        return pay.finish(&headers, StatusCode::UNPROCESSABLE_ENTITY, e);
    }
    pi["amount_refunded"] = json!(dec(money(&pi["amount_refunded"]) + amount));
    let n = pi["refunds"].as_array().unwrap().len() + 1;
    let re_id = format!("re_{id}_{n}");
    pi["refunds"].as_array_mut().unwrap().push(json!(re_id));
    let re = json!({
        "id": re_id, "payment_intent": id, "amount": dec(amount), "currency": pi["currency"],
        "status": "succeeded", "metadata": body["metadata"], "created_at": "2026-03-02T09:00:00Z"
    });
    drop(g);
    pay.finish(&headers, StatusCode::OK, re)
}

// ------------------------------------------------------------------ helpers

const CARD: &str = "4242424242424242";

/// A shop with MUG (12.50, taxed 10 %) and CAP (5.00): 10 mugs and 5 caps at `web`.
async fn stocked(w: &World) -> App {
    let shop = w.shop();
    ok(shop.put("/v1/tax_rates/std", json!({"rate": "0.1"})).await);
    ok(shop
        .post(
            "/v1/products",
            json!({"sku": "MUG", "title": "Mug", "price": "12.50", "currency": "USD", "tax_code": "std"}),
        )
        .await);
    ok(shop
        .post(
            "/v1/products",
            json!({"sku": "CAP", "title": "Cap", "price": "5.00", "currency": "USD"}),
        )
        .await);
    for (sku, n) in [("MUG", 10), ("CAP", 5)] {
        ok(shop
            .post(
                "/v1/inventory/set",
                json!({"sku": sku, "location": "web", "available": n}),
            )
            .await);
    }
    shop
}

#[track_caller]
fn ok(r: support::Reply) -> Value {
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    r.json
}

#[track_caller]
fn fails(r: &support::Reply, status: StatusCode, code: &str, field: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.json);
    assert_eq!(r.json["error"]["code"], code, "{}", r.json);
    assert_eq!(r.json["error"]["field"].as_str(), field, "{}", r.json);
}

fn card_checkout(lines: Value) -> Value {
    json!({"lines": lines, "payment": {"type": "card", "number": CARD}})
}

async fn events(shop: &App) -> Vec<Value> {
    let r = ok(shop.get("/v1/events?limit=1000").await);
    r["events"].as_array().unwrap().clone()
}

async fn events_after(shop: &App, after: u64) -> Vec<Value> {
    let r = ok(shop
        .get(&format!("/v1/events?after={after}&limit=1000"))
        .await);
    r["events"].as_array().unwrap().clone()
}

async fn cursor(shop: &App) -> u64 {
    events(shop).await.len() as u64
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

async fn level(shop: &App, sku: &str, location: &str) -> (i64, i64, i64) {
    let l = ok(shop
        .get(&format!("/v1/inventory/{sku}?location={location}"))
        .await);
    let n = |k: &str| l[k].as_i64().unwrap();
    assert_eq!(
        n("on_hand"),
        n("available") + n("committed") + n("unavailable")
    );
    (n("available"), n("committed"), n("on_hand"))
}

// ------------------------------------------------------------------- tests

#[tokio::test(start_paused = true)]
async fn openapi_lists_every_shop_path() {
    let w = World::new();
    let doc = ok(w.shop().get_unauthed("/openapi.json").await);
    let paths = doc["paths"].as_object().unwrap();
    let expect = [
        ("/v1/products", vec!["get", "post"]),
        ("/v1/products/{sku}", vec!["get", "patch"]),
        ("/v1/inventory/{sku}", vec!["get"]),
        ("/v1/inventory_levels", vec!["get"]),
        ("/v1/inventory/adjust", vec!["post"]),
        ("/v1/inventory/set", vec!["post"]),
        ("/v1/settings", vec!["get", "put"]),
        ("/v1/tax_rates", vec!["get"]),
        ("/v1/tax_rates/{code}", vec!["put"]),
        ("/v1/discount_codes", vec!["get", "post"]),
        ("/v1/discount_codes/{code}", vec!["get"]),
        ("/v1/orders", vec!["get", "post"]),
        ("/v1/orders/{id}", vec!["get"]),
        ("/v1/orders/{id}/capture", vec!["post"]),
        ("/v1/orders/{id}/fulfill", vec!["post"]),
        ("/v1/orders/{id}/ready_for_pickup", vec!["post"]),
        ("/v1/orders/{id}/cancel", vec!["post"]),
        ("/v1/orders/{id}/refunds", vec!["post"]),
        ("/v1/locations", vec!["get", "post"]),
        ("/v1/events", vec!["get"]),
        ("/v1/webhook_subscriptions", vec!["get", "post"]),
    ];
    for (path, methods) in expect {
        let item = paths.get(path).unwrap_or_else(|| panic!("{path} missing"));
        for m in methods {
            assert!(item.get(m).is_some(), "{m} {path} missing");
        }
    }
    // Every schema the shop answers with is described.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "Order",
        "OrderRefund",
        "InventoryLevel",
        "InventoryLevelUpdate",
        "ShopSettings",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
}

#[tokio::test(start_paused = true)]
async fn products_are_created_patched_read_and_listed() {
    let w = World::new();
    let shop = stocked(&w).await;
    let p = ok(shop.get("/v1/products/MUG").await);
    assert_eq!(
        (p["price"].as_str(), p["tax_code"].as_str()),
        (Some("12.50"), Some("std"))
    );
    let r = shop
        .post(
            "/v1/products",
            json!({"sku": "MUG", "title": "Again", "price": "1", "currency": "USD"}),
        )
        .await;
    fails(&r, StatusCode::CONFLICT, "sku_exists", Some("sku"));
    let r = shop
        .post(
            "/v1/products",
            json!({"sku": "X", "title": "X", "price": "1.001", "currency": "USD"}),
        )
        .await;
    fails(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parameter_invalid",
        Some("price"),
    );
    let r = shop
        .post(
            "/v1/products",
            json!({"sku": "X", "title": "X", "currency": "USD"}),
        )
        .await;
    fails(
        &r,
        StatusCode::BAD_REQUEST,
        "parameter_missing",
        Some("price"),
    );
    let r = shop
        .post(
            "/v1/products",
            json!({"sku": "X", "title": "X", "price": "1", "currency": "USD", "status": "gone"}),
        )
        .await;
    fails(
        &r,
        StatusCode::BAD_REQUEST,
        "parameter_invalid",
        Some("status"),
    );
    let r = shop
        .send("POST", "/v1/products", Some(b"{\"sku\":".to_vec()), None)
        .await;
    fails(&r, StatusCode::BAD_REQUEST, "invalid_json", None);

    let start = cursor(&shop).await;
    let p = ok(shop
        .patch(
            "/v1/products/MUG",
            json!({"price": "13.00", "channels": {"pos": "paused"}}),
        )
        .await);
    assert_eq!(p["price"], "13.00");
    assert_eq!(p["channels"]["pos"], "paused");
    let ev = events_after(&shop, start).await;
    assert_eq!(types(&ev), ["products/update"]);
    let data = &ev[0]["data"];
    assert_eq!(
        (
            &data["sku"],
            &data["price"],
            &data["currency"],
            &data["tax_code"],
            &data["status"]
        ),
        (
            &json!("MUG"),
            &json!("13.00"),
            &json!("USD"),
            &json!("std"),
            &json!("active")
        )
    );
    let r = shop.patch("/v1/products/NOPE", json!({"price": "1"})).await;
    fails(&r, StatusCode::NOT_FOUND, "unknown_sku", Some("sku"));
    let r = shop.get("/v1/products/NOPE").await;
    fails(&r, StatusCode::NOT_FOUND, "unknown_sku", Some("sku"));
    let r = shop
        .patch("/v1/products/MUG", json!({"colour": "red"}))
        .await;
    fails(
        &r,
        StatusCode::BAD_REQUEST,
        "parameter_unknown",
        Some("colour"),
    );
    let list = ok(shop.get("/v1/products").await);
    let skus: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, ["CAP", "MUG"]);
}

#[tokio::test(start_paused = true)]
async fn auth_and_body_limits_apply_to_shop_paths() {
    let w = World::new();
    let shop = w.shop();
    let r = shop.get_unauthed("/v1/products").await;
    fails(
        &r,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        Some("Authorization"),
    );
    let big = format!(
        "{{\"sku\":\"X\",\"title\":\"{}\",\"price\":\"1\",\"currency\":\"USD\"}}",
        "x".repeat(1024 * 1024)
    );
    let r = shop
        .send("POST", "/v1/products", Some(big.into_bytes()), None)
        .await;
    fails(&r, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", None);
}

#[tokio::test(start_paused = true)]
async fn levels_exist_for_every_sku_and_location() {
    let w = World::new();
    let shop = stocked(&w).await;
    assert_eq!(level(&shop, "MUG", "web").await, (10, 0, 10));
    assert_eq!(level(&shop, "MUG", "store-1").await, (0, 0, 0));
    let r = shop.get("/v1/inventory/MUG").await;
    fails(
        &r,
        StatusCode::BAD_REQUEST,
        "parameter_missing",
        Some("location"),
    );
    let r = shop.get("/v1/inventory/NOPE?location=web").await;
    fails(&r, StatusCode::NOT_FOUND, "unknown_sku", Some("sku"));
    let r = shop.get("/v1/inventory/MUG?location=mars").await;
    fails(
        &r,
        StatusCode::NOT_FOUND,
        "unknown_location",
        Some("location"),
    );
    let all = ok(shop.get("/v1/inventory_levels").await);
    let keys: Vec<(String, String)> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap().into(),
                l["location"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("CAP", "store-1"),
        ("CAP", "web"),
        ("MUG", "store-1"),
        ("MUG", "web"),
    ];
    assert_eq!(keys, want.map(|(s, l)| (s.to_owned(), l.to_owned())));
    let one = ok(shop.get("/v1/inventory_levels?sku=MUG&location=web").await);
    assert_eq!(one["data"][0]["available"], 10);
    // A new location starts every SKU at zero.
    ok(shop
        .post(
            "/v1/locations",
            json!({"id": "wh-2", "name": "Warehouse", "kind": "warehouse"}),
        )
        .await);
    assert_eq!(level(&shop, "CAP", "wh-2").await, (0, 0, 0));
    let r = shop.get("/v1/inventory_levels?location=mars").await;
    fails(
        &r,
        StatusCode::NOT_FOUND,
        "unknown_location",
        Some("location"),
    );
}

#[tokio::test(start_paused = true)]
async fn adjust_and_set_carry_their_cause_and_compare_and_set() {
    let w = World::new();
    let shop = stocked(&w).await;
    let start = cursor(&shop).await;
    let l = ok(shop
        .post(
            "/v1/inventory/adjust",
            json!({"sku": "MUG", "location": "web", "delta": -3, "reason": "damaged",
                   "change_from": 10, "reference": "sync-1"}),
        )
        .await);
    assert_eq!(
        (l["available"].as_i64(), l["on_hand"].as_i64()),
        (Some(7), Some(7))
    );
    let r = shop
        .post(
            "/v1/inventory/adjust",
            json!({"sku": "MUG", "location": "web", "delta": 1, "reason": "received", "change_from": 10}),
        )
        .await;
    fails(
        &r,
        StatusCode::CONFLICT,
        "change_from_quantity_stale",
        Some("change_from"),
    );
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("available is 7"),
        "{}",
        r.json
    );
    let r = shop
        .post(
            "/v1/inventory/set",
            json!({"sku": "MUG", "location": "web", "available": 2, "change_from": 8}),
        )
        .await;
    fails(
        &r,
        StatusCode::CONFLICT,
        "change_from_quantity_stale",
        Some("change_from"),
    );
    let l = ok(shop
        .post(
            "/v1/inventory/set",
            json!({"sku": "MUG", "location": "web", "available": 2, "change_from": 7, "reference": "count-9"}),
        )
        .await);
    assert_eq!(l["available"], 2);
    let ev = events_after(&shop, start).await;
    assert_eq!(
        types(&ev),
        ["inventory_levels/update", "inventory_levels/update"]
    );
    assert_eq!(
        ev[0]["data"]["cause"],
        json!({"kind": "adjust", "reference": "sync-1", "delta": -3})
    );
    assert_eq!(
        ev[1]["data"]["cause"],
        json!({"kind": "set", "reference": "count-9", "delta": -5})
    );
    for key in ["sku", "location", "available", "committed", "on_hand"] {
        assert!(ev[1]["data"].get(key).is_some(), "{key}");
    }
    // Validation.
    let bad = [
        (
            json!({"sku": "MUG", "location": "web", "delta": 0, "reason": "received"}),
            "delta",
        ),
        (
            json!({"sku": "MUG", "location": "web", "delta": 1, "reason": "gift"}),
            "reason",
        ),
    ];
    for (body, field) in bad {
        let r = shop.post("/v1/inventory/adjust", body).await;
        fails(
            &r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            Some(field),
        );
    }
    let r = shop
        .post(
            "/v1/inventory/set",
            json!({"sku": "MUG", "location": "web", "available": -1}),
        )
        .await;
    fails(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parameter_invalid",
        Some("available"),
    );
    let r = shop
        .post(
            "/v1/inventory/adjust",
            json!({"sku": "NOPE", "location": "web", "delta": 1, "reason": "received"}),
        )
        .await;
    fails(&r, StatusCode::NOT_FOUND, "unknown_sku", Some("sku"));
    let r = shop
        .post(
            "/v1/inventory/set",
            json!({"sku": "MUG", "location": "mars", "available": 1}),
        )
        .await;
    fails(
        &r,
        StatusCode::NOT_FOUND,
        "unknown_location",
        Some("location"),
    );
    let r = shop
        .post(
            "/v1/inventory/adjust",
            json!({"sku": "MUG", "location": "web", "reason": "received"}),
        )
        .await;
    fails(
        &r,
        StatusCode::BAD_REQUEST,
        "parameter_missing",
        Some("delta"),
    );
}

#[tokio::test(start_paused = true)]
async fn a_retried_adjust_with_its_key_applies_once() {
    let w = World::new();
    let shop = stocked(&w).await;
    let body = json!({"sku": "CAP", "location": "web", "delta": 4, "reason": "received", "reference": "po-77"});
    let first = shop
        .post_idem("/v1/inventory/adjust", body.clone(), "k-adjust")
        .await;
    let again = shop
        .post_idem("/v1/inventory/adjust", body, "k-adjust")
        .await;
    assert_eq!(first.raw, again.raw);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(level(&shop, "CAP", "web").await, (9, 0, 9));
    let refs = events(&shop)
        .await
        .iter()
        .filter(|e| e["data"]["cause"]["reference"] == "po-77")
        .count();
    assert_eq!(refs, 1);
}

#[tokio::test(start_paused = true)]
async fn settings_tax_rates_and_discount_codes() {
    let w = World::new();
    let shop = w.shop();
    assert_eq!(
        ok(shop.get("/v1/settings").await),
        json!({"sell_when_out_of_stock": "block"})
    );
    let r = shop
        .put("/v1/settings", json!({"sell_when_out_of_stock": "warn"}))
        .await;
    fails(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parameter_invalid",
        Some("sell_when_out_of_stock"),
    );
    let r = shop
        .put("/v1/settings", json!({"sell_when_out_of_stock": "maybe"}))
        .await;
    fails(
        &r,
        StatusCode::BAD_REQUEST,
        "parameter_invalid",
        Some("sell_when_out_of_stock"),
    );
    ok(shop
        .put("/v1/settings", json!({"sell_when_out_of_stock": "allow"}))
        .await);
    assert_eq!(
        ok(shop.get("/v1/settings").await)["sell_when_out_of_stock"],
        "allow"
    );

    let r = shop.put("/v1/tax_rates/std", json!({"rate": "1"})).await;
    fails(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parameter_invalid",
        Some("rate"),
    );
    assert_eq!(
        ok(shop
            .put("/v1/tax_rates/std", json!({"rate": "0.0825"}))
            .await),
        json!({"code": "std", "rate": "0.0825"})
    );
    assert_eq!(
        ok(shop.get("/v1/tax_rates").await),
        json!({"data": [{"code": "std", "rate": "0.0825"}]})
    );

    let d = ok(shop
        .post(
            "/v1/discount_codes",
            json!({"code": "SPRING", "kind": "percentage", "value": "15", "usage_limit": 2}),
        )
        .await);
    assert_eq!(d["times_used"], 0);
    let r = shop
        .post(
            "/v1/discount_codes",
            json!({"code": "SPRING", "kind": "fixed_amount", "value": "5"}),
        )
        .await;
    fails(
        &r,
        StatusCode::CONFLICT,
        "discount_code_exists",
        Some("code"),
    );
    let r = shop
        .post(
            "/v1/discount_codes",
            json!({"code": "BIG", "kind": "percentage", "value": "150"}),
        )
        .await;
    fails(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parameter_invalid",
        Some("value"),
    );
    let r = shop
        .post(
            "/v1/discount_codes",
            json!({"code": "NEG", "kind": "fixed_amount", "value": "-1"}),
        )
        .await;
    fails(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parameter_invalid",
        Some("value"),
    );
    assert_eq!(
        ok(shop.get("/v1/discount_codes/SPRING").await)["value"],
        "15"
    );
    let r = shop.get("/v1/discount_codes/NOPE").await;
    fails(
        &r,
        StatusCode::NOT_FOUND,
        "unknown_discount_code",
        Some("code"),
    );
    assert_eq!(
        ok(shop.get("/v1/discount_codes").await)["data"][0]["code"],
        "SPRING"
    );
}

#[tokio::test(start_paused = true)]
async fn checkout_authorizes_creates_the_order_and_commits_stock() {
    let w = World::new();
    let pay = FakePay::mount(&w);
    let shop = stocked(&w).await;
    ok(shop
        .post(
            "/v1/discount_codes",
            json!({"code": "FIVE", "kind": "fixed_amount", "value": "5"}),
        )
        .await);
    let start = cursor(&shop).await;
    let body = json!({
        "lines": [{"sku": "MUG", "quantity": 2}, {"sku": "CAP", "quantity": 1}],
        "payment": {"type": "card", "number": CARD},
        "discount_code": "FIVE", "customer": "ada@example.com"
    });
    let o = ok(shop
        .post_idem("/v1/orders", body.clone(), "checkout-1")
        .await);
    // MUG 25.00 − 4.00 (5 × 25/30 = 4.17? no: 4.166… → 4.17) …
    assert_eq!(
        (o["id"].as_str(), o["name"].as_str()),
        (Some("ord_000001"), Some("#1001"))
    );
    assert_eq!(o["lines"][0]["discount"], "4.17");
    assert_eq!(o["lines"][1]["discount"], "0.83");
    // Tax 10 % of 20.83 = 2.083 → 2.08 on the mug line only.
    assert_eq!(o["lines"][0]["tax"], "2.08");
    assert_eq!(o["lines"][0]["total"], "22.91");
    assert_eq!(o["lines"][1]["total"], "4.17");
    assert_eq!(o["total"], "27.08");
    assert_eq!(o["financial_status"], "authorized");
    assert_eq!(o["fulfillment_status"], "unfulfilled");
    assert_eq!(o["payment_intent"], "pi_000001");
    assert_eq!(o["total_capturable"], "27.08");
    assert_eq!(o["capture_method"], "manual");
    assert_eq!(o["location"], "web");
    assert_eq!(level(&shop, "MUG", "web").await, (8, 2, 10));
    assert_eq!(level(&shop, "CAP", "web").await, (4, 1, 5));
    // What pay was asked.
    let calls = pay.calls();
    assert_eq!(calls.len(), 1);
    let (what, key, req) = &calls[0];
    assert_eq!(what, "POST /v1/payment_intents");
    assert!(
        key.as_deref().unwrap().starts_with("shop-ord_000001-"),
        "{key:?}"
    );
    assert_eq!(req["amount"], "27.08");
    assert_eq!(req["capture_method"], "manual");
    assert_eq!(
        req["metadata"],
        json!({"order_id": "ord_000001", "order_name": "#1001"})
    );
    // Events: the order, then one level update per line with its cause.
    let ev = events_after(&shop, start).await;
    assert_eq!(
        types(&ev),
        [
            "orders/create",
            "inventory_levels/update",
            "inventory_levels/update"
        ]
    );
    let data = &ev[0]["data"];
    for key in [
        "id",
        "lines",
        "financial_status",
        "fulfillment_status",
        "payment_intent",
        "total",
        "currency",
    ] {
        assert!(data.get(key).is_some(), "{key}");
    }
    assert_eq!(data["lines"][0]["price"], "12.50");
    assert_eq!(
        ev[1]["data"]["cause"],
        json!({"kind": "order", "reference": "ord_000001", "delta": -2})
    );
    assert_eq!(
        (
            ev[1]["data"]["sku"].as_str(),
            ev[1]["data"]["committed"].as_i64()
        ),
        (Some("MUG"), Some(2))
    );

    // A replay answers the same order: no second order, no second authorization.
    let again = shop
        .post_idem("/v1/orders", body.clone(), "checkout-1")
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json, o);
    assert_eq!(pay.calls().len(), 1);
    assert_eq!(
        ok(shop.get("/v1/orders").await)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(level(&shop, "MUG", "web").await, (8, 2, 10));
    // The same key with another body is refused.
    let mut other = body.clone();
    other["lines"][0]["quantity"] = json!(1);
    let r = shop.post_idem("/v1/orders", other, "checkout-1").await;
    fails(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_error",
        Some("Idempotency-Key"),
    );
    assert_eq!(
        ok(shop.get("/v1/discount_codes/FIVE").await)["times_used"],
        1
    );

    assert_eq!(ok(shop.get("/v1/orders/ord_000001").await), o);
    let r = shop.get("/v1/orders/ord_999999").await;
    fails(&r, StatusCode::NOT_FOUND, "resource_missing", Some("id"));
}

#[tokio::test(start_paused = true)]
async fn checkout_errors_name_their_field() {
    let w = World::new();
    let pay = FakePay::mount(&w);
    let shop = stocked(&w).await;
    ok(shop
        .patch(
            "/v1/products/CAP",
            json!({"channels": {"online_store": "paused"}}),
        )
        .await);
    ok(shop
        .post(
            "/v1/products",
            json!({"sku": "EU", "title": "Euro", "price": "1", "currency": "EUR"}),
        )
        .await);
    ok(shop
        .post(
            "/v1/discount_codes",
            json!({"code": "ONCE", "kind": "percentage", "value": "10", "usage_limit": 1}),
        )
        .await);
    let cases = [
        (
            card_checkout(json!([])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "lines",
        ),
        (
            card_checkout(json!([{"sku": "MUG", "quantity": 0}])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "lines[0].quantity",
        ),
        (
            card_checkout(json!([{"sku": "MUG", "quantity": 1}, {"sku": "NOPE", "quantity": 1}])),
            StatusCode::NOT_FOUND,
            "unknown_sku",
            "lines[1].sku",
        ),
        (
            card_checkout(json!([{"sku": "CAP", "quantity": 1}])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "product_unavailable",
            "lines[0].sku",
        ),
        (
            card_checkout(json!([{"sku": "MUG", "quantity": 1}, {"sku": "EU", "quantity": 1}])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "currency_mismatch",
            "lines[1].sku",
        ),
        (
            card_checkout(json!([{"sku": "MUG", "quantity": 11}])),
            StatusCode::CONFLICT,
            "out_of_stock",
            "lines[0].sku",
        ),
        (
            card_checkout(json!([{"sku": "MUG"}])),
            StatusCode::BAD_REQUEST,
            "parameter_missing",
            "lines[0].quantity",
        ),
    ];
    for (body, status, code, field) in cases {
        let r = shop.post("/v1/orders", body).await;
        fails(&r, status, code, Some(field));
    }
    let with = |extra: Value| {
        let mut b = card_checkout(json!([{"sku": "MUG", "quantity": 1}]));
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    let cases = [
        (
            with(json!({"pickup_location": "mars"})),
            StatusCode::NOT_FOUND,
            "unknown_location",
            "pickup_location",
        ),
        (
            with(json!({"location": "mars"})),
            StatusCode::NOT_FOUND,
            "unknown_location",
            "location",
        ),
        (
            with(json!({"discount_code": "NOPE"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_discount_code",
            "discount_code",
        ),
        (
            with(json!({"payment": {"type": "card_present", "number": CARD}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "payment",
        ),
        (
            with(json!({"payment": {"type": "card", "number": "4111111111111111"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "live_card_rejected",
            "payment",
        ),
    ];
    for (body, status, code, field) in cases {
        let r = shop.post("/v1/orders", body).await;
        fails(&r, status, code, Some(field));
    }
    ok(shop
        .post("/v1/orders", with(json!({"discount_code": "ONCE"})))
        .await);
    let r = shop
        .post("/v1/orders", with(json!({"discount_code": "ONCE"})))
        .await;
    fails(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "discount_unavailable",
        Some("discount_code"),
    );
    // Only the live card and the successful checkout reached the gateway.
    assert_eq!(pay.calls().len(), 2);
    assert_eq!(
        ok(shop.get("/v1/orders").await)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn declines_pass_through_and_create_no_order() {
    let w = World::new();
    let pay = FakePay::mount(&w);
    let shop = stocked(&w).await;
    let start = cursor(&shop).await;
    let body = json!({"lines": [{"sku": "MUG", "quantity": 1}],
                      "payment": {"type": "card", "number": "4000000000009995"}});
    let r = shop
        .post_idem("/v1/orders", body.clone(), "declined-1")
        .await;
    fails(
        &r,
        StatusCode::PAYMENT_REQUIRED,
        "card_declined",
        Some("payment"),
    );
    assert_eq!(r.json["error"]["decline_code"], "insufficient_funds");
    assert_eq!(r.json["error"]["payment_intent"], "pi_000001");
    // The decline is replayed for the same key, without a second attempt.
    let again = shop.post_idem("/v1/orders", body, "declined-1").await;
    assert_eq!((again.status, again.raw.clone()), (r.status, r.raw.clone()));
    assert_eq!(pay.calls().len(), 1);
    assert!(events_after(&shop, start).await.is_empty());
    assert_eq!(level(&shop, "MUG", "web").await, (10, 0, 10));
    // 3-D Secure cannot be completed: a decline, and the intent is cancelled.
    let r = shop
        .post(
            "/v1/orders",
            json!({"lines": [{"sku": "MUG", "quantity": 1}],
                   "payment": {"type": "card", "number": "4000000000003220"}}),
        )
        .await;
    fails(
        &r,
        StatusCode::PAYMENT_REQUIRED,
        "card_declined",
        Some("payment"),
    );
    assert_eq!(r.json["error"]["decline_code"], "authentication_required");
    assert_eq!(pay.intent("pi_000002")["status"], "canceled");
    // A declined checkout uses up its number: the next order is #1003.
    let o = ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "MUG", "quantity": 1}])),
        )
        .await);
    assert_eq!(o["name"], "#1003");
    assert_eq!(
        ok(shop.get("/v1/orders").await)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn gateway_faults_are_retried_with_the_same_key_then_503() {
    let w = World::new();
    let pay = FakePay::mount(&w);
    let shop = stocked(&w).await;
    // A 503 that applied nothing: the retry authorizes.
    pay.fail_next(StatusCode::SERVICE_UNAVAILABLE);
    let o = ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "MUG", "quantity": 1}])),
        )
        .await);
    let calls = pay.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].1, calls[1].1);
    assert_eq!(o["payment_intent"], "pi_000001");
    // An authorization whose answer was lost (504): the retry replays it, so
    // the order is created on the one intent and no authorization is orphaned.
    pay.0.lock().unwrap().lose_next_answer = Some(StatusCode::GATEWAY_TIMEOUT);
    let o = ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "MUG", "quantity": 1}])),
        )
        .await);
    assert_eq!(o["payment_intent"], "pi_000002");
    assert_eq!(pay.calls().len(), 4);
    assert_eq!(pay.0.lock().unwrap().intents.len(), 2);
    // A capture whose answer was lost is recorded on the retry.
    pay.0.lock().unwrap().lose_next_answer = Some(StatusCode::BAD_GATEWAY);
    let id = o["id"].as_str().unwrap();
    let c = ok(shop
        .post(&format!("/v1/orders/{id}/capture"), json!({}))
        .await);
    assert_eq!(c["financial_status"], "paid");
    // No gateway at all: 503 after the attempts, and nothing applied.
    w.transport.unmount(PAY_HOST);
    let r = shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "MUG", "quantity": 1}])),
        )
        .await;
    fails(
        &r,
        StatusCode::SERVICE_UNAVAILABLE,
        "payment_gateway_unavailable",
        None,
    );
    assert_eq!(
        ok(shop.get("/v1/orders").await)["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(level(&shop, "MUG", "web").await, (8, 2, 10));
    // A client retry of a failed capture with the same shop key goes
    // through once the gateway is back.
    let r = shop
        .post_idem("/v1/orders/ord_000001/capture", json!({}), "cap-x")
        .await;
    fails(
        &r,
        StatusCode::SERVICE_UNAVAILABLE,
        "payment_gateway_unavailable",
        None,
    );
    assert_eq!(
        ok(shop.get("/v1/orders/ord_000001").await)["financial_status"],
        "authorized"
    );
    w.transport.mount(PAY_HOST, pay.router());
    let c = ok(shop
        .post_idem("/v1/orders/ord_000001/capture", json!({}), "cap-x")
        .await);
    assert_eq!(c["financial_status"], "paid");
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_authorization_is_voided_once_the_gateway_answers() {
    let w = World::new();
    let pay = FakePay::mount(&w);
    let shop = stocked(&w).await;
    // The gateway applies every request but its answers are lost (a 504).
    let inner = pay.router();
    let lossy = Router::new().fallback(move |req: axum::extract::Request| {
        let inner = inner.clone();
        async move {
            let _ = tower::ServiceExt::oneshot(inner, req).await;
            reply(
                StatusCode::GATEWAY_TIMEOUT,
                error("timeout", "applied, answer lost"),
            )
        }
    });
    w.transport.mount(PAY_HOST, lossy);
    let r = shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "MUG", "quantity": 1}])),
        )
        .await;
    fails(
        &r,
        StatusCode::SERVICE_UNAVAILABLE,
        "payment_gateway_unavailable",
        None,
    );
    // The card was authorized, once (the retries replayed it), for an order
    // that does not exist.
    assert_eq!(pay.0.lock().unwrap().intents.len(), 1);
    assert_eq!(pay.intent("pi_000001")["status"], "requires_capture");
    assert!(
        ok(shop.get("/v1/orders").await)["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(level(&shop, "MUG", "web").await, (10, 0, 10));
    // The gateway answers again: the shop learns the intent from a replay
    // with the checkout's key and voids it.
    w.transport.mount(PAY_HOST, pay.router());
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(pay.intent("pi_000001")["status"], "canceled");
    assert_eq!(pay.0.lock().unwrap().intents.len(), 1);
    let calls = pay.calls();
    let key = calls[0].1.clone().unwrap();
    assert!(
        calls
            .iter()
            .all(|c| c.0 != "POST /v1/payment_intents" || c.1.as_deref() == Some(key.as_str()))
    );
    assert_eq!(calls.last().unwrap().0, "POST /cancel pi_000001");
    assert!(
        ok(shop.get("/v1/orders").await)["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn the_loser_of_a_race_for_the_last_unit_is_voided() {
    let w = World::new();
    let pay = FakePay::mount(&w);
    let shop = stocked(&w).await;
    pay.0.lock().unwrap().create_delay = Some(Duration::from_millis(50));
    let body = card_checkout(json!([{"sku": "CAP", "quantity": 5}]));
    let (a, b) = tokio::join!(
        shop.post("/v1/orders", body.clone()),
        shop.post("/v1/orders", body)
    );
    let (won, lost) = if a.status == StatusCode::OK {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(won.status, StatusCode::OK, "{}", won.json);
    fails(
        &lost,
        StatusCode::CONFLICT,
        "out_of_stock",
        Some("lines[0].sku"),
    );
    // Both were authorized; the loser's authorization was voided.
    let intents: Vec<Value> = ["pi_000001", "pi_000002"].map(|id| pay.intent(id)).to_vec();
    let statuses: Vec<&str> = intents
        .iter()
        .map(|pi| pi["status"].as_str().unwrap())
        .collect();
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, ["canceled", "requires_capture"]);
    let voided = intents
        .iter()
        .find(|pi| pi["status"] == "canceled")
        .unwrap();
    assert_ne!(voided["id"], won.json["payment_intent"]);
    assert_eq!(level(&shop, "CAP", "web").await, (0, 5, 5));
    assert_eq!(
        ok(shop.get("/v1/orders").await)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn allow_policy_sells_out_of_stock() {
    let w = World::new();
    FakePay::mount(&w);
    let shop = stocked(&w).await;
    ok(shop
        .put("/v1/settings", json!({"sell_when_out_of_stock": "allow"}))
        .await);
    ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "CAP", "quantity": 7}])),
        )
        .await);
    assert_eq!(level(&shop, "CAP", "web").await, (-2, 7, 5));
}

#[tokio::test(start_paused = true)]
async fn capture_through_the_gateway_then_paid() {
    let w = World::new();
    let pay = FakePay::mount(&w);
    let shop = stocked(&w).await;
    let o = ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "CAP", "quantity": 2}])),
        )
        .await);
    let id = o["id"].as_str().unwrap();
    let r = shop
        .post(
            &format!("/v1/orders/{id}/capture"),
            json!({"amount": "10.01"}),
        )
        .await;
    fails(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "amount_too_large",
        Some("amount"),
    );
    let r = shop
        .post(&format!("/v1/orders/{id}/capture"), json!({"amount": "0"}))
        .await;
    fails(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parameter_invalid",
        Some("amount"),
    );
    let start = cursor(&shop).await;
    let c = ok(shop
        .post_idem(
            &format!("/v1/orders/{id}/capture"),
            json!({"amount": "6"}),
            "cap-1",
        )
        .await);
    assert_eq!(c["financial_status"], "partially_paid");
    assert_eq!(
        (c["total_captured"].as_str(), c["total_capturable"].as_str()),
        (Some("6.00"), Some("0.00"))
    );
    let (what, key, req) = pay.calls().last().unwrap().clone();
    assert_eq!(what, "POST /capture pi_000001");
    assert_eq!(req["amount_to_capture"], "6");
    assert!(key.unwrap().ends_with("-capture"));
    assert_eq!(types(&events_after(&shop, start).await), ["orders/paid"]);
    let r = shop
        .post(&format!("/v1/orders/{id}/capture"), json!({}))
        .await;
    fails(&r, StatusCode::CONFLICT, "nothing_to_capture", None);
    let r = shop.post("/v1/orders/ord_424242/capture", json!({})).await;
    fails(&r, StatusCode::NOT_FOUND, "resource_missing", Some("id"));

    let o = ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "MUG", "quantity": 1}])),
        )
        .await);
    let id = o["id"].as_str().unwrap();
    let c = ok(shop
        .send("POST", &format!("/v1/orders/{id}/capture"), None, None)
        .await);
    assert_eq!(
        (c["financial_status"].as_str(), c["total_captured"].as_str()),
        (Some("paid"), Some("13.75"))
    );
    // Automatic capture is paid at checkout.
    let start = cursor(&shop).await;
    let mut body = card_checkout(json!([{"sku": "MUG", "quantity": 1}]));
    body["capture"] = json!("automatic");
    let o = ok(shop.post("/v1/orders", body).await);
    assert_eq!(o["financial_status"], "paid");
    assert_eq!(
        types(&events_after(&shop, start).await),
        ["orders/create", "inventory_levels/update", "orders/paid"]
    );
}

#[tokio::test(start_paused = true)]
async fn bank_transfers_are_pending_until_they_settle() {
    let w = World::new();
    let pay = FakePay::mount(&w);
    let shop = stocked(&w).await;
    let body =
        json!({"lines": [{"sku": "CAP", "quantity": 1}], "payment": {"type": "bank_transfer"}});
    let o = ok(shop.post("/v1/orders", body).await);
    assert_eq!(o["financial_status"], "pending");
    let id = o["id"].as_str().unwrap();
    let r = shop
        .post(&format!("/v1/orders/{id}/capture"), json!({}))
        .await;
    fails(&r, StatusCode::CONFLICT, "payment_pending", None);
    let o = ok(shop.get(&format!("/v1/orders/{id}")).await);
    assert_eq!(o["financial_status"], "pending");
    pay.settle("pi_000001");
    let start = cursor(&shop).await;
    // Reading the order asks the gateway how the transfer stands.
    let o = ok(shop.get(&format!("/v1/orders/{id}")).await);
    assert_eq!(
        (o["financial_status"].as_str(), o["total_captured"].as_str()),
        (Some("paid"), Some("5.00"))
    );
    assert_eq!(types(&events_after(&shop, start).await), ["orders/paid"]);
    let r = shop
        .post(&format!("/v1/orders/{id}/capture"), json!({}))
        .await;
    fails(&r, StatusCode::CONFLICT, "nothing_to_capture", None);
    assert_eq!(types(&events_after(&shop, start).await), ["orders/paid"]);
}

#[tokio::test(start_paused = true)]
async fn fulfilment_and_pickup() {
    let w = World::new();
    FakePay::mount(&w);
    let shop = stocked(&w).await;
    let o = ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "MUG", "quantity": 3}, {"sku": "CAP", "quantity": 1}])),
        )
        .await);
    let id = o["id"].as_str().unwrap().to_owned();
    let mug = o["lines"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/orders/{id}/fulfill");
    let r = shop
        .post(&path, json!({"lines": [{"line_id": mug, "quantity": 4}]}))
        .await;
    fails(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parameter_invalid",
        Some("lines[0].quantity"),
    );
    let r = shop
        .post(
            &path,
            json!({"lines": [{"line_id": "line_x", "quantity": 1}]}),
        )
        .await;
    fails(
        &r,
        StatusCode::NOT_FOUND,
        "unknown_line",
        Some("lines[0].line_id"),
    );
    let start = cursor(&shop).await;
    let f = ok(shop
        .post(&path, json!({"lines": [{"line_id": mug, "quantity": 2}]}))
        .await);
    assert_eq!(f["fulfillment_status"], "partial");
    assert_eq!(
        (
            f["lines"][0]["fulfilled_quantity"].as_i64(),
            f["lines"][0]["fulfillable_quantity"].as_i64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(f["financial_status"], "authorized");
    assert_eq!(level(&shop, "MUG", "web").await, (7, 1, 8));
    let ev = events_after(&shop, start).await;
    assert_eq!(types(&ev), ["orders/fulfilled", "inventory_levels/update"]);
    assert_eq!(ev[0]["data"]["fulfillment_status"], "partial");
    assert_eq!(
        ev[1]["data"]["cause"],
        json!({"kind": "fulfillment", "reference": id, "delta": 0})
    );
    let f = ok(shop.send("POST", &path, None, None).await);
    assert_eq!(f["fulfillment_status"], "fulfilled");
    let r = shop.post(&path, json!({})).await;
    fails(&r, StatusCode::CONFLICT, "nothing_to_fulfill", None);
    let r = shop
        .post(&format!("/v1/orders/{id}/ready_for_pickup"), json!({}))
        .await;
    fails(&r, StatusCode::CONFLICT, "not_a_pickup_order", None);

    ok(shop
        .post(
            "/v1/inventory/adjust",
            json!({"sku": "CAP", "location": "store-1", "delta": 2, "reason": "received"}),
        )
        .await);
    let mut body = card_checkout(json!([{"sku": "CAP", "quantity": 2}]));
    body["pickup_location"] = json!("store-1");
    let o = ok(shop.post("/v1/orders", body).await);
    assert_eq!(
        (o["location"].as_str(), o["pickup_location"].as_str()),
        (Some("store-1"), Some("store-1"))
    );
    assert_eq!(level(&shop, "CAP", "store-1").await, (0, 2, 2));
    let id = o["id"].as_str().unwrap();
    let start = cursor(&shop).await;
    let r = ok(shop
        .post(&format!("/v1/orders/{id}/ready_for_pickup"), json!({}))
        .await);
    assert_eq!(r["fulfillment_status"], "ready_for_pickup");
    assert_eq!(types(&events_after(&shop, start).await), ["orders/updated"]);
    let f = ok(shop
        .post(&format!("/v1/orders/{id}/fulfill"), json!({}))
        .await);
    assert_eq!(f["fulfillment_status"], "fulfilled");
    assert_eq!(level(&shop, "CAP", "store-1").await, (0, 0, 0));
    let r = shop
        .post("/v1/orders/ord_999999/ready_for_pickup", json!({}))
        .await;
    fails(&r, StatusCode::NOT_FOUND, "resource_missing", Some("id"));
}

#[tokio::test(start_paused = true)]
async fn cancel_voids_or_refunds_and_is_final() {
    let w = World::new();
    let pay = FakePay::mount(&w);
    let shop = stocked(&w).await;
    let o = ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "MUG", "quantity": 2}])),
        )
        .await);
    let id = o["id"].as_str().unwrap().to_owned();
    let start = cursor(&shop).await;
    let c = ok(shop
        .post(
            &format!("/v1/orders/{id}/cancel"),
            json!({"reason": "customer", "restock": true}),
        )
        .await);
    assert_eq!(
        (c["status"].as_str(), c["financial_status"].as_str()),
        (Some("cancelled"), Some("voided"))
    );
    assert_eq!(c["cancel_reason"], "customer");
    assert_eq!(pay.intent("pi_000001")["status"], "canceled");
    assert_eq!(level(&shop, "MUG", "web").await, (10, 0, 10));
    let ev = events_after(&shop, start).await;
    assert_eq!(types(&ev), ["orders/cancelled", "inventory_levels/update"]);
    assert_eq!(
        ev[1]["data"]["cause"],
        json!({"kind": "cancel", "reference": id, "delta": 2})
    );
    let r = shop
        .post(&format!("/v1/orders/{id}/cancel"), json!({}))
        .await;
    fails(&r, StatusCode::CONFLICT, "order_already_cancelled", None);
    let r = shop
        .post(&format!("/v1/orders/{id}/capture"), json!({}))
        .await;
    fails(&r, StatusCode::CONFLICT, "order_cancelled", None);
    let r = shop
        .post(&format!("/v1/orders/{id}/fulfill"), json!({}))
        .await;
    fails(&r, StatusCode::CONFLICT, "order_cancelled", None);
    let r = shop.post("/v1/orders/ord_999999/cancel", json!({})).await;
    fails(&r, StatusCode::NOT_FOUND, "resource_missing", Some("id"));
    let r = shop
        .post(
            &format!("/v1/orders/{id}/cancel"),
            json!({"reason": "bored"}),
        )
        .await;
    fails(
        &r,
        StatusCode::BAD_REQUEST,
        "parameter_invalid",
        Some("reason"),
    );

    // A captured order: what remains captured is refunded; no restock writes off.
    let mut body = card_checkout(json!([{"sku": "CAP", "quantity": 2}]));
    body["capture"] = json!("automatic");
    let o = ok(shop.post("/v1/orders", body).await);
    let id = o["id"].as_str().unwrap();
    let c = ok(shop
        .post(
            &format!("/v1/orders/{id}/cancel"),
            json!({"restock": false}),
        )
        .await);
    assert_eq!(
        (c["financial_status"].as_str(), c["total_refunded"].as_str()),
        (Some("refunded"), Some("10.00"))
    );
    let (what, _, req) = pay.calls().last().unwrap().clone();
    assert_eq!(
        (what.as_str(), req["amount"].as_str()),
        ("POST /v1/refunds", Some("10"))
    );
    assert_eq!(pay.intent("pi_000002")["amount_refunded"], "10");
    assert_eq!(level(&shop, "CAP", "web").await, (3, 0, 3));
}

#[tokio::test(start_paused = true)]
async fn refunds_restock_by_type_and_refund_through_the_gateway() {
    let w = World::new();
    let pay = FakePay::mount(&w);
    let shop = stocked(&w).await;
    let mut body =
        card_checkout(json!([{"sku": "MUG", "quantity": 3}, {"sku": "CAP", "quantity": 2}]));
    body["capture"] = json!("automatic");
    let o = ok(shop.post("/v1/orders", body).await);
    // MUG: 37.50 + 3.75 tax = 41.25; CAP: 10.00.
    assert_eq!(
        (o["lines"][0]["total"].as_str(), o["total"].as_str()),
        (Some("41.25"), Some("51.25"))
    );
    let id = o["id"].as_str().unwrap().to_owned();
    let (mug, cap) = (
        o["lines"][0]["id"].as_str().unwrap().to_owned(),
        o["lines"][1]["id"].as_str().unwrap().to_owned(),
    );
    ok(shop
        .post(
            &format!("/v1/orders/{id}/fulfill"),
            json!({"lines": [{"line_id": mug, "quantity": 2}]}),
        )
        .await);
    let path = format!("/v1/orders/{id}/refunds");
    // Errors first.
    let cases = [
        (
            json!({"lines": [{"line_id": "line_x", "quantity": 1, "restock_type": "cancel"}]}),
            StatusCode::NOT_FOUND,
            "unknown_line",
            "lines[0].line_id",
        ),
        (
            json!({"lines": [{"line_id": mug, "quantity": 4, "restock_type": "no_restock"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "lines[0].quantity",
        ),
        (
            json!({"lines": [{"line_id": mug, "quantity": 2, "restock_type": "cancel"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "lines[0].restock_type",
        ),
        (
            json!({"lines": [{"line_id": cap, "quantity": 1, "restock_type": "return"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "lines[0].restock_type",
        ),
        (
            json!({"lines": [{"line_id": mug, "quantity": 1, "restock_type": "return", "location": "mars"}]}),
            StatusCode::NOT_FOUND,
            "unknown_location",
            "lines[0].location",
        ),
        (
            json!({"lines": [{"line_id": mug, "quantity": 1, "restock_type": "sideways"}]}),
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
            "lines[0].restock_type",
        ),
        (
            json!({"lines": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            "lines",
        ),
    ];
    for (body, status, code, field) in cases {
        let r = shop.post(&path, body).await;
        fails(&r, status, code, Some(field));
    }
    let r = shop
        .post("/v1/orders/ord_999999/refunds", json!({"lines": []}))
        .await;
    fails(&r, StatusCode::NOT_FOUND, "resource_missing", Some("id"));

    // One mug returned to the store: 41.25 / 3 = 13.75.
    let start = cursor(&shop).await;
    let r = ok(shop
        .post_idem(
            &path,
            json!({"lines": [{"line_id": mug, "quantity": 1, "restock_type": "return", "location": "store-1"}]}),
            "refund-1",
        )
        .await);
    assert_eq!(
        (
            r["id"].as_str(),
            r["amount"].as_str(),
            r["payment_amount"].as_str()
        ),
        (Some("ref_000001"), Some("13.75"), Some("13.75"))
    );
    assert_eq!(r["payment_refund"], "re_pi_000001_1");
    let (what, key, req) = pay.calls().last().unwrap().clone();
    assert_eq!(
        (what.as_str(), req["amount"].as_str()),
        ("POST /v1/refunds", Some("13.75"))
    );
    assert!(
        key.as_deref().unwrap().ends_with("-refund1-refund-13.75"),
        "{key:?}"
    );
    assert_eq!(level(&shop, "MUG", "store-1").await, (1, 0, 1));
    let ev = events_after(&shop, start).await;
    assert_eq!(types(&ev), ["refunds/create", "inventory_levels/update"]);
    assert_eq!(
        ev[0]["data"]["lines"][0],
        json!({"line_id": mug, "sku": "MUG", "quantity": 1, "restock_type": "return", "location": "store-1", "amount": "13.75"})
    );
    assert_eq!(
        (
            ev[0]["data"]["order_id"].as_str(),
            ev[0]["data"]["amount"].as_str()
        ),
        (Some(id.as_str()), Some("13.75"))
    );
    assert_eq!(
        ev[1]["data"]["cause"],
        json!({"kind": "refund", "reference": "ref_000001", "delta": 1})
    );
    // Replaying the refund does not refund twice.
    let again = shop
        .post_idem(
            &path,
            json!({"lines": [{"line_id": mug, "quantity": 1, "restock_type": "return", "location": "store-1"}]}),
            "refund-1",
        )
        .await;
    assert_eq!(again.json, r);
    assert_eq!(pay.intent("pi_000001")["amount_refunded"], "13.75");

    // The unfulfilled mug and both caps, cancelled back to available.
    let r = ok(shop
        .post(
            &path,
            json!({"lines": [{"line_id": mug, "quantity": 1, "restock_type": "cancel"},
                             {"line_id": cap, "quantity": 2, "restock_type": "cancel"}]}),
        )
        .await);
    assert_eq!(r["amount"], "23.75");
    assert_eq!(level(&shop, "MUG", "web").await, (8, 0, 8));
    assert_eq!(level(&shop, "CAP", "web").await, (5, 0, 5));
    let o = ok(shop.get(&format!("/v1/orders/{id}")).await);
    assert_eq!(o["financial_status"], "partially_refunded");
    assert_eq!(o["fulfillment_status"], "fulfilled");
    // The last mug, kept by the customer: exactly what remains of the line.
    let r = ok(shop
        .post(
            &path,
            json!({"lines": [{"line_id": mug, "quantity": 1, "restock_type": "no_restock"}]}),
        )
        .await);
    assert_eq!(
        (r["amount"].as_str(), r["lines"][0]["location"].clone()),
        (Some("13.75"), Value::Null)
    );
    let o = ok(shop.get(&format!("/v1/orders/{id}")).await);
    assert_eq!(
        (o["financial_status"].as_str(), o["total_refunded"].as_str()),
        (Some("refunded"), Some("51.25"))
    );
    assert_eq!(o["refunds"].as_array().unwrap().len(), 3);
    assert_eq!(pay.intent("pi_000001")["amount_refunded"], "51.25");
    let r = shop
        .post(
            &path,
            json!({"lines": [{"line_id": mug, "quantity": 1, "restock_type": "no_restock"}]}),
        )
        .await;
    fails(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parameter_invalid",
        Some("lines[0].quantity"),
    );
}

#[tokio::test(start_paused = true)]
async fn refunding_an_uncaptured_order_voids_its_authorization() {
    let w = World::new();
    let pay = FakePay::mount(&w);
    let shop = stocked(&w).await;
    let o = ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "CAP", "quantity": 2}])),
        )
        .await);
    let id = o["id"].as_str().unwrap();
    let line = o["lines"][0]["id"].as_str().unwrap();
    let path = format!("/v1/orders/{id}/refunds");
    let r = ok(shop
        .post(
            &path,
            json!({"lines": [{"line_id": line, "quantity": 1, "restock_type": "cancel"}]}),
        )
        .await);
    assert_eq!(
        (r["payment_amount"].as_str(), r["released_amount"].as_str()),
        (Some("0.00"), Some("5.00"))
    );
    assert_eq!(r["payment_refund"], Value::Null);
    assert_eq!(pay.calls().len(), 1);
    assert_eq!(
        ok(shop.get(&format!("/v1/orders/{id}")).await)["total_capturable"],
        "5.00"
    );
    ok(shop
        .post(
            &path,
            json!({"lines": [{"line_id": line, "quantity": 1, "restock_type": "cancel"}]}),
        )
        .await);
    assert_eq!(pay.intent("pi_000001")["status"], "canceled");
    let o = ok(shop.get(&format!("/v1/orders/{id}")).await);
    assert_eq!(o["financial_status"], "voided");
}

#[tokio::test(start_paused = true)]
async fn a_payment_operation_locks_its_order() {
    let w = World::new();
    let pay = FakePay::mount(&w);
    let shop = stocked(&w).await;
    let o = ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "CAP", "quantity": 1}])),
        )
        .await);
    let id = o["id"].as_str().unwrap().to_owned();
    // Hold the gateway: the capture waits in phase 2 while a cancel arrives.
    let slow = Router::new().route(
        "/v1/payment_intents/{id}/capture",
        post(|| async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                error("injected", "slow fault"),
            )
        }),
    );
    w.transport.mount(PAY_HOST, slow);
    let capture_path = format!("/v1/orders/{id}/capture");
    let capture = shop.post(&capture_path, json!({}));
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        shop.post(&format!("/v1/orders/{id}/cancel"), json!({}))
            .await
    };
    let (captured, cancelled) = tokio::join!(capture, cancel);
    fails(
        &captured,
        StatusCode::SERVICE_UNAVAILABLE,
        "payment_gateway_unavailable",
        None,
    );
    fails(
        &cancelled,
        StatusCode::TOO_MANY_REQUESTS,
        "lock_timeout",
        None,
    );
    assert_eq!(cancelled.headers["retry-after"], "1");
    // The lock is released when the capture ends: the cancel now goes through.
    w.transport.mount(PAY_HOST, pay.router());
    let c = ok(shop
        .post(&format!("/v1/orders/{id}/cancel"), json!({}))
        .await);
    assert_eq!(c["financial_status"], "voided");
}

#[tokio::test(start_paused = true)]
async fn snapshot_and_reset() {
    let w = World::new();
    FakePay::mount(&w);
    let shop = stocked(&w).await;
    ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "CAP", "quantity": 1}])),
        )
        .await);
    let snap = ok(shop.get("/_control/snapshot").await);
    assert_eq!(snap["state"]["orders"][0]["id"], "ord_000001");
    assert_eq!(
        snap["state"]["inventory_levels"].as_array().unwrap().len(),
        4
    );
    ok(shop.post("/_control/reset", json!({})).await);
    assert_eq!(ok(shop.get("/v1/products").await)["data"], json!([]));
    assert_eq!(
        ok(shop.get("/v1/settings").await)["sell_when_out_of_stock"],
        "block"
    );
}

#[tokio::test(start_paused = true)]
async fn webhook_topics_include_every_shop_event() {
    let w = World::new();
    let shop = w.shop();
    let topics = [
        "orders/create",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/updated",
        "refunds/create",
        "inventory_levels/update",
        "products/update",
    ];
    let r = shop
        .post(
            "/v1/webhook_subscriptions",
            json!({"url": "http://hook.test/x", "topics": topics}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

#[tokio::test(start_paused = true)]
async fn the_typed_client_speaks_every_endpoint() {
    use omnisim_api::ApiClient;
    use omnisim_api::pay::{CaptureMethod, PaymentMethod};
    use omnisim_api::pos::SellPolicy;
    use omnisim_api::shop::*;
    use rust_decimal_macros::dec;

    let w = World::new();
    FakePay::mount(&w);
    w.transport.mount("shop.sim", w.shop().0.clone());
    let c = ShopClient(ApiClient::new(
        Arc::new(w.transport.clone()),
        "http://shop.sim",
        support::KEY,
    ));
    let rate = c
        .set_tax_rate("std", &SetTaxRate { rate: dec!(0.2) })
        .await
        .unwrap();
    assert_eq!(rate.rate, dec!(0.2));
    assert_eq!(c.tax_rates().await.unwrap().data, [rate]);
    let p = c
        .create_product(
            &CreateProduct {
                sku: "HAT".into(),
                title: "Hat".into(),
                price: dec!(20),
                currency: "USD".into(),
                tax_code: Some("std".into()),
                status: ProductStatus::Active,
                channels: BTreeMap::new(),
            },
            Some("p-1"),
        )
        .await
        .unwrap();
    let p2 = c
        .update_product(
            "HAT",
            &UpdateProduct {
                title: Some("Red hat".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (p2.title.as_str(), p2.created_at),
        ("Red hat", p.created_at)
    );
    assert_eq!(c.product("HAT").await.unwrap(), p2);
    assert_eq!(c.products().await.unwrap().data, [p2]);
    let l = c
        .adjust(
            &AdjustInventory {
                sku: "HAT".into(),
                location: "web".into(),
                delta: 3,
                reason: "received".into(),
                change_from: Some(0),
                reference: None,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(l.available, 3);
    let l = c
        .set(
            &SetInventory {
                sku: "HAT".into(),
                location: "web".into(),
                available: 4,
                change_from: None,
                reference: Some("r".into()),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(c.level("HAT", "web").await.unwrap(), l);
    assert_eq!(c.levels(Some("HAT"), None).await.unwrap().data.len(), 2);
    assert_eq!(c.levels(None, Some("web")).await.unwrap().data, [l]);
    assert_eq!(
        c.settings().await.unwrap().sell_when_out_of_stock,
        SellPolicy::Block
    );
    let allow = ShopSettings {
        sell_when_out_of_stock: SellPolicy::Allow,
    };
    assert_eq!(c.update_settings(&allow).await.unwrap(), allow);
    let d = c
        .create_discount(
            &CreateDiscountCode {
                code: "TEN".into(),
                kind: DiscountKind::Percentage,
                value: dec!(10),
                usage_limit: None,
                currency: None,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(c.discount("TEN").await.unwrap(), d);
    assert_eq!(c.discounts().await.unwrap().data, [d]);
    let checkout = Checkout {
        lines: vec![CheckoutLine {
            sku: "HAT".into(),
            quantity: 2,
        }],
        payment: PaymentMethod::Card {
            number: CARD.into(),
        },
        discount_code: Some("TEN".into()),
        pickup_location: Some("web".into()),
        location: None,
        customer: None,
        capture: CaptureMethod::Manual,
        channel: None,
    };
    let o = c.checkout(&checkout, Some("co-1")).await.unwrap();
    // 40 − 4 = 36, + 20 % tax = 43.20.
    assert_eq!(
        (o.total, o.financial_status),
        (dec!(43.2), FinancialStatus::Authorized)
    );
    assert_eq!(c.order(&o.id).await.unwrap(), o);
    assert_eq!(c.orders().await.unwrap().data, std::slice::from_ref(&o));
    let o = c.ready_for_pickup(&o.id, None).await.unwrap();
    assert_eq!(o.fulfillment_status, FulfillmentStatus::ReadyForPickup);
    let o = c
        .capture(
            &o.id,
            &CaptureOrder {
                amount: Some(dec!(43.2)),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(o.financial_status, FinancialStatus::Paid);
    let line = o.lines[0].id.clone();
    let fl = FulfillOrder {
        lines: Some(vec![FulfillLine {
            line_id: line.clone(),
            quantity: 1,
        }]),
    };
    let o = c.fulfill(&o.id, &fl, None).await.unwrap();
    assert_eq!(o.fulfillment_status, FulfillmentStatus::Partial);
    let r = c
        .refund(
            &o.id,
            &CreateOrderRefund {
                lines: vec![RefundLineRequest {
                    line_id: line,
                    quantity: 1,
                    restock_type: RestockType::Return,
                    location: None,
                }],
                note: Some("too small".into()),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!((r.amount, r.payment_amount), (dec!(21.6), dec!(21.6)));
    let o = c
        .cancel(&o.id, &CancelOrder::default(), None)
        .await
        .unwrap();
    assert_eq!(
        (o.status, o.financial_status),
        (OrderStatus::Cancelled, FinancialStatus::Refunded)
    );
    assert_eq!(o.total_refunded, dec!(43.2));
    // Level events decode as the typed update with its cause.
    let page = ok(w.shop().get("/v1/events?limit=1000").await);
    let updates: Vec<InventoryLevelUpdate> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "inventory_levels/update")
        .map(|e| serde_json::from_value(e["data"].clone()).unwrap())
        .collect();
    let causes: Vec<(InventoryCauseKind, i64)> = updates
        .iter()
        .map(|u| (u.cause.kind, u.cause.delta))
        .collect();
    assert_eq!(
        causes,
        [
            (InventoryCauseKind::Adjust, 3),
            (InventoryCauseKind::Set, 1),
            (InventoryCauseKind::Order, -2),
            (InventoryCauseKind::Fulfillment, 0),
            (InventoryCauseKind::Refund, 1),
            (InventoryCauseKind::Cancel, 1),
        ]
    );
    // 4 − 2 ordered, 1 handed over and returned, 1 released by the cancel.
    let l = c.level("HAT", "web").await.unwrap();
    assert_eq!((l.available, l.committed, l.on_hand), (4, 0, 4));
}

#[tokio::test(start_paused = true)]
async fn a_refused_capture_records_an_expired_authorization() {
    let w = World::new();
    let pay = FakePay::mount(&w);
    let shop = stocked(&w).await;
    let o = ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "CAP", "quantity": 1}])),
        )
        .await);
    let id = o["id"].as_str().unwrap();
    // The gateway expired the authorization on its own.
    pay.0.lock().unwrap().intents.get_mut("pi_000001").unwrap()["status"] = json!("canceled");
    let r = shop
        .post(&format!("/v1/orders/{id}/capture"), json!({}))
        .await;
    fails(
        &r,
        StatusCode::CONFLICT,
        "payment_intent_unexpected_state",
        Some("payment"),
    );
    let o = ok(shop.get(&format!("/v1/orders/{id}")).await);
    assert_eq!(
        (
            o["financial_status"].as_str(),
            o["total_capturable"].as_str()
        ),
        (Some("voided"), Some("0.00"))
    );
    let r = shop
        .post(&format!("/v1/orders/{id}/capture"), json!({}))
        .await;
    fails(&r, StatusCode::CONFLICT, "payment_voided", None);
    // Cancelling it moves no money and releases the stock.
    let c = ok(shop
        .post(&format!("/v1/orders/{id}/cancel"), json!({}))
        .await);
    assert_eq!(c["financial_status"], "voided");
    assert_eq!(level(&shop, "CAP", "web").await, (5, 0, 5));
}

// ------------------------------------------------- against the real gateway

/// Shop and gateway agree on the money of every order: what the shop says
/// was captured net of refunds is what the gateway holds.
async fn ledgers_agree(w: &World) {
    let orders = ok(w.shop().get("/v1/orders").await);
    for o in orders["data"].as_array().unwrap() {
        let Some(pi) = o["payment_intent"].as_str() else {
            continue;
        };
        let intent = ok(w.pay().get(&format!("/v1/payment_intents/{pi}")).await);
        let d = |v: &Value| {
            v.as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        };
        assert_eq!(
            d(&o["total_captured"]) - d(&o["total_refunded"]),
            d(&intent["amount_received"]) - d(&intent["amount_refunded"]),
            "order {} against {pi}",
            o["id"]
        );
        if o["status"] == "cancelled" {
            assert_ne!(intent["status"], "requires_capture", "{pi} left open");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn real_gateway_cancelling_after_the_authorization_expired_cancels() {
    let w = World::new();
    let shop = stocked(&w).await;
    let o = ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "CAP", "quantity": 1}])),
        )
        .await);
    let id = o["id"].as_str().unwrap().to_owned();
    let pi = o["payment_intent"].as_str().unwrap().to_owned();
    // Seven days on, the gateway expires the authorization on its own; the
    // shop has not heard of it when the order is cancelled.
    tokio::time::sleep(Duration::from_secs(7 * 86_400 + 1)).await;
    let intent = ok(w.pay().get(&format!("/v1/payment_intents/{pi}")).await);
    assert_eq!(intent["status"], "canceled");
    let c = ok(shop
        .post(&format!("/v1/orders/{id}/cancel"), json!({}))
        .await);
    assert_eq!(
        (c["status"].as_str(), c["financial_status"].as_str()),
        (Some("cancelled"), Some("voided"))
    );
    assert_eq!(level(&shop, "CAP", "web").await, (5, 0, 5));
    ledgers_agree(&w).await;
}

#[tokio::test(start_paused = true)]
async fn real_gateway_authorize_capture_fulfil_refund() {
    let w = World::new();
    let shop = stocked(&w).await;
    let o = ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "MUG", "quantity": 2}, {"sku": "CAP", "quantity": 1}])),
        )
        .await);
    assert_eq!(
        (o["financial_status"].as_str(), o["total"].as_str()),
        (Some("authorized"), Some("32.50"))
    );
    let pi = o["payment_intent"].as_str().unwrap().to_owned();
    let intent = ok(w.pay().get(&format!("/v1/payment_intents/{pi}")).await);
    assert_eq!(intent["status"], "requires_capture");
    assert_eq!(intent["amount"], "32.50");
    assert_eq!(
        intent["metadata"],
        json!({"order_id": o["id"], "order_name": "#1001"})
    );
    let id = o["id"].as_str().unwrap().to_owned();
    ok(shop
        .post(&format!("/v1/orders/{id}/fulfill"), json!({}))
        .await);
    let c = ok(shop
        .post(&format!("/v1/orders/{id}/capture"), json!({}))
        .await);
    assert_eq!(c["financial_status"], "paid");
    assert_eq!(
        c["total_captured"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        32.5
    );
    let mug = o["lines"][0]["id"].as_str().unwrap();
    let r = ok(shop
        .post(
            &format!("/v1/orders/{id}/refunds"),
            json!({"lines": [{"line_id": mug, "quantity": 1, "restock_type": "return"}]}),
        )
        .await);
    assert_eq!(r["amount"], "13.75");
    assert!(r["payment_refund"].as_str().unwrap().starts_with("re_"));
    let intent = ok(w.pay().get(&format!("/v1/payment_intents/{pi}")).await);
    assert_eq!(
        intent["amount_refunded"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        13.75
    );
    // The gateway emitted the capture and the refund too.
    let types_pay: Vec<String> = ok(w.pay().get("/v1/events?limit=1000").await)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        types_pay.contains(&"payment_intent.succeeded".to_owned()),
        "{types_pay:?}"
    );
    assert!(
        types_pay.contains(&"charge.refunded".to_owned()),
        "{types_pay:?}"
    );
    // Cancelling refunds what is still held.
    let c = ok(shop
        .post(
            &format!("/v1/orders/{id}/cancel"),
            json!({"restock": false}),
        )
        .await);
    assert_eq!(c["financial_status"], "refunded");
    let intent = ok(w.pay().get(&format!("/v1/payment_intents/{pi}")).await);
    assert_eq!(intent["amount_refunded"], intent["amount_received"]);
    ledgers_agree(&w).await;
}

#[tokio::test(start_paused = true)]
async fn real_gateway_declines_voids_and_partial_captures() {
    let w = World::new();
    let shop = stocked(&w).await;
    let r = shop
        .post(
            "/v1/orders",
            json!({"lines": [{"sku": "MUG", "quantity": 1}],
                   "payment": {"type": "card", "number": "4000000000000002"}}),
        )
        .await;
    fails(
        &r,
        StatusCode::PAYMENT_REQUIRED,
        "card_declined",
        Some("payment"),
    );
    assert_eq!(r.json["error"]["decline_code"], "generic_decline");
    let pi = r.json["error"]["payment_intent"].as_str().unwrap();
    assert_eq!(
        ok(w.pay().get(&format!("/v1/payment_intents/{pi}")).await)["status"],
        "requires_payment_method"
    );
    let r = shop
        .post(
            "/v1/orders",
            json!({"lines": [{"sku": "MUG", "quantity": 1}],
                   "payment": {"type": "card", "number": "4000000000003220"}}),
        )
        .await;
    fails(
        &r,
        StatusCode::PAYMENT_REQUIRED,
        "card_declined",
        Some("payment"),
    );
    assert_eq!(r.json["error"]["decline_code"], "authentication_required");
    let r = shop
        .post(
            "/v1/orders",
            json!({"lines": [{"sku": "MUG", "quantity": 1}],
                   "payment": {"type": "card", "number": "4111111111111111"}}),
        )
        .await;
    fails(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "live_card_rejected",
        Some("payment"),
    );
    assert_eq!(ok(shop.get("/v1/orders").await)["data"], json!([]));

    // Cancel voids at the gateway.
    let o = ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "CAP", "quantity": 2}])),
        )
        .await);
    let id = o["id"].as_str().unwrap();
    ok(shop
        .post(&format!("/v1/orders/{id}/cancel"), json!({}))
        .await);
    let pi = o["payment_intent"].as_str().unwrap();
    assert_eq!(
        ok(w.pay().get(&format!("/v1/payment_intents/{pi}")).await)["status"],
        "canceled"
    );

    // A refund before capture takes money off the authorization; the capture
    // then takes only the rest.
    let o = ok(shop
        .post(
            "/v1/orders",
            card_checkout(json!([{"sku": "CAP", "quantity": 2}])),
        )
        .await);
    let id = o["id"].as_str().unwrap();
    let line = o["lines"][0]["id"].as_str().unwrap();
    let r = ok(shop
        .post(
            &format!("/v1/orders/{id}/refunds"),
            json!({"lines": [{"line_id": line, "quantity": 1, "restock_type": "cancel"}]}),
        )
        .await);
    assert_eq!(
        (r["released_amount"].as_str(), r["payment_refund"].clone()),
        (Some("5.00"), Value::Null)
    );
    let c = ok(shop
        .post(&format!("/v1/orders/{id}/capture"), json!({}))
        .await);
    assert_eq!(
        (
            c["total_captured"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap(),
            c["total_released"].as_str()
        ),
        (5.0, Some("5.00"))
    );
    let pi = o["payment_intent"].as_str().unwrap();
    let intent = ok(w.pay().get(&format!("/v1/payment_intents/{pi}")).await);
    assert_eq!(
        (
            intent["status"].as_str(),
            intent["amount_capturable"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap()
        ),
        (Some("succeeded"), 0.0)
    );
    assert_eq!(
        intent["amount_received"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        5.0
    );
    ledgers_agree(&w).await;
}

#[tokio::test(start_paused = true)]
async fn real_gateway_bank_transfer_settles_into_paid() {
    let w = World::new();
    let shop = stocked(&w).await;
    let o = ok(shop
        .post(
            "/v1/orders",
            json!({"lines": [{"sku": "CAP", "quantity": 1}], "payment": {"type": "bank_transfer"}}),
        )
        .await);
    assert_eq!(o["financial_status"], "pending");
    let id = o["id"].as_str().unwrap();
    let r = shop
        .post(&format!("/v1/orders/{id}/capture"), json!({}))
        .await;
    fails(&r, StatusCode::CONFLICT, "payment_pending", None);
    let r = shop
        .post(
            &format!("/v1/orders/{id}/refunds"),
            json!({"lines": [{"line_id": o["lines"][0]["id"], "quantity": 1, "restock_type": "cancel"}]}),
        )
        .await;
    fails(&r, StatusCode::CONFLICT, "payment_pending", None);
    // The transfer settles an hour later at the gateway.
    tokio::time::sleep(Duration::from_secs(3601)).await;
    let r = shop
        .post(&format!("/v1/orders/{id}/capture"), json!({}))
        .await;
    fails(&r, StatusCode::CONFLICT, "nothing_to_capture", None);
    let o = ok(shop.get(&format!("/v1/orders/{id}")).await);
    assert_eq!(o["financial_status"], "paid");
    // A failing account: the order's payment is voided once it is known.
    let failing = ok(shop
        .post(
            "/v1/orders",
            json!({"lines": [{"sku": "CAP", "quantity": 1}],
                   "payment": {"type": "bank_transfer", "account": "000111111116"}}),
        )
        .await);
    tokio::time::sleep(Duration::from_secs(3601)).await;
    let fid = failing["id"].as_str().unwrap();
    let c = ok(shop
        .post(&format!("/v1/orders/{fid}/cancel"), json!({}))
        .await);
    assert_eq!(c["financial_status"], "voided");
    ledgers_agree(&w).await;
}
