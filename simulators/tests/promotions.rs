//! Automatic promotions on the shop and the POS: create, retrieve, list by
//! external reference, a partial update, 4xx errors naming the field, the
//! events; and the pricing: a running promotion priced into a checkout and a
//! counter sale by itself, none after its end, a discount code instead of
//! it, and a return of a promoted line refunded at the paid price pro rata.

mod support;

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};
use support::{App, World};

#[track_caller]
fn ok(r: support::Reply) -> Value {
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    r.json
}

fn spring() -> Value {
    json!({"title": "SPRING-20", "kind": "percentage", "value": "20", "skus": ["SCARF"],
        "starts_at": "2026-03-02T09:00:00Z", "ends_at": "2026-03-02T18:00:00Z",
        "external_ref": "promo_000001"})
}

async fn each_platform(app: &App, prefix: &str, created: &str, updated: &str) {
    let p = ok(app.post("/v1/promotions", spring()).await);
    assert_eq!(p["id"], format!("{prefix}_000001"));
    assert_eq!(
        (p["version"].as_u64(), p["status"].as_str()),
        (Some(1), Some("active"))
    );

    // Malformed requests: 4xx naming the field, nothing made.
    for (patch, status, field) in [
        (json!({"title": ""}), 422, "title"),
        (json!({"value": "0"}), 422, "value"),
        (json!({"value": "100.5"}), 422, "value"),
        (
            json!({"kind": "fixed_amount", "value": "1.005"}),
            422,
            "value",
        ),
        (
            json!({"kind": "fixed_amount", "value": "5", "currency": "dollars"}),
            422,
            "currency",
        ),
        (json!({"currency": "USD"}), 422, "currency"),
        (json!({"skus": ["A SKU"]}), 422, "skus[0]"),
        (json!({"ends_at": "2026-03-02T08:00:00Z"}), 422, "ends_at"),
        (json!({"ends_at": "tomorrow"}), 400, "ends_at"),
        (json!({"kind": "bogo"}), 400, "kind"),
        (json!({"code": "X"}), 400, "code"),
        (json!({}), 409, "external_ref"),
    ] {
        let mut body = spring();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = app.post("/v1/promotions", body.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.json);
        assert_eq!(r.json["error"]["field"], field, "{body}: {}", r.json);
    }
    let r = ok(app.get("/v1/promotions").await);
    assert_eq!(r["data"].as_array().unwrap().len(), 1, "{r}");

    // Found by its reference; an end moved earlier is one new version.
    let r = ok(app.get("/v1/promotions?external_ref=promo_000001").await);
    assert_eq!(r["data"][0]["id"], p["id"]);
    let r = ok(app.get("/v1/promotions?external_ref=nothing").await);
    assert_eq!(r["data"], json!([]));
    let id = p["id"].as_str().unwrap();
    let path = format!("/v1/promotions/{id}");
    let e = ok(app
        .patch(&path, json!({"ends_at": "2026-03-02T15:00:00Z"}))
        .await);
    assert_eq!(e["version"], 2);
    let same = ok(app
        .patch(&path, json!({"ends_at": "2026-03-02T15:00:00Z"}))
        .await);
    assert_eq!(same["version"], 2, "no change, no new version");
    let r = app
        .patch(&path, json!({"ends_at": "2026-03-02T08:00:00Z"}))
        .await;
    assert_eq!(
        (r.status.as_u16(), &r.json["error"]["field"]),
        (422, &json!("ends_at"))
    );
    let r = app.patch(&path, json!({"kind": "fixed_amount"})).await;
    assert_eq!(
        (r.status.as_u16(), &r.json["error"]["field"]),
        (400, &json!("kind"))
    );
    let r = app.get("/v1/promotions/nothing").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json["error"]["code"], "resource_missing");

    let r = ok(app.get("/v1/events?limit=1000").await);
    let kinds: Vec<&str> = r["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .filter(|k| k.contains("romotion"))
        .collect();
    assert_eq!(kinds, [created, updated]);
    let doc = app.get("/openapi.json").await.json;
    assert!(doc["paths"]["/v1/promotions"]["post"].is_object());
    assert!(doc["paths"]["/v1/promotions/{id}"]["patch"].is_object());
}

#[tokio::test(start_paused = true)]
async fn the_shop_keeps_promotions() {
    let w = World::new();
    each_platform(&w.shop(), "promo", "promotions/create", "promotions/update").await;
}

#[tokio::test(start_paused = true)]
async fn the_pos_keeps_promotions() {
    let w = World::new();
    each_platform(&w.pos(), "prm", "promotion.created", "promotion.updated").await;
}

#[tokio::test(start_paused = true)]
async fn the_register_applies_a_running_promotion_and_refunds_the_paid_price() {
    let w = World::new();
    let pos = w.pos();
    ok(pos.put("/v1/tax_rates/STD", json!({"rate": "0.1"})).await);
    for (sku, price) in [("SCARF", "40.00"), ("MUG", "12.50")] {
        ok(pos
            .post(
                "/v1/items",
                json!({"sku": sku, "name": sku, "price": price, "currency": "USD", "tax_code": "STD"}),
            )
            .await);
    }
    ok(pos
        .post(
            "/v1/inventory/changes",
            json!({"changes": [
                {"type": "PHYSICAL_COUNT", "sku": "SCARF", "location": "store-1", "quantity": 10, "occurred_at": "2026-03-02T08:00:00Z"},
                {"type": "PHYSICAL_COUNT", "sku": "MUG", "location": "store-1", "quantity": 10, "occurred_at": "2026-03-02T08:00:00Z"},
            ]}),
        )
        .await);
    let mut body = spring();
    body["ends_at"] = json!("2026-03-02T10:00:00Z");
    ok(pos.post("/v1/promotions", body).await);
    let sale = ok(pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [{"sku": "SCARF", "quantity": 3}, {"sku": "MUG", "quantity": 1}],
                "tenders": [{"type": "cash", "amount": "200.00"}]}),
        )
        .await);
    // 3 × 40 = 120, 20 % off = 24, tax 10 % of 96 = 9.60: 105.60; the mug
    // is not in the promotion: 12.50 + 1.25.
    assert_eq!(sale["promotion"], "prm_000001");
    assert_eq!(
        (
            &sale["lines"][0]["discount"],
            &sale["lines"][0]["tax"],
            &sale["lines"][0]["total"]
        ),
        (&json!("24.00"), &json!("9.60"), &json!("105.60"))
    );
    assert_eq!(sale["lines"][1]["discount"], "0.00");
    assert_eq!(sale["total"], "119.35");

    // After the end: full price, even though the promotion still exists.
    w.clock.advance(Duration::from_secs(3600));
    let later = ok(pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [{"sku": "SCARF", "quantity": 1}],
                "tenders": [{"type": "cash", "amount": "44.00"}]}),
        )
        .await);
    assert_eq!(
        (later["promotion"].clone(), later["total"].clone()),
        (Value::Null, json!("44.00"))
    );

    // One promoted scarf back: a third of what the line cost, 35.20.
    let ret = ok(pos
        .post(
            "/v1/returns",
            json!({"sale_id": sale["id"], "location": "store-1", "lines": [{"sku": "SCARF", "quantity": 1}],
                "restock": true, "refund_to": "original"}),
        )
        .await);
    assert_eq!(ret["amount"], "35.20", "{ret}");
}

#[tokio::test(start_paused = true)]
async fn the_checkout_applies_the_best_running_promotion_unless_a_code_is_given() {
    let w = World::new();
    let shop = w.shop();
    for (sku, price) in [("SCARF", "40.00"), ("MUG", "12.50")] {
        ok(shop
            .post(
                "/v1/products",
                json!({"sku": sku, "title": sku, "price": price, "currency": "USD"}),
            )
            .await);
        ok(shop
            .post(
                "/v1/inventory/set",
                json!({"sku": sku, "location": "web", "available": 10}),
            )
            .await);
    }
    ok(shop.post("/v1/promotions", spring()).await);
    ok(shop
        .post(
            "/v1/promotions",
            json!({"title": "TAKE-5", "kind": "fixed_amount", "value": "5.00",
                "starts_at": "2026-03-02T09:00:00Z"}),
        )
        .await);
    ok(shop
        .post(
            "/v1/discount_codes",
            json!({"code": "TEN", "kind": "percentage", "value": "10"}),
        )
        .await);
    let card = json!({"type": "card", "number": "4242424242424242"});
    let checkout = |lines: Value, code: Option<&str>| {
        let mut body = json!({"lines": lines, "payment": card.clone()});
        if let Some(c) = code {
            body["discount_code"] = json!(c);
        }
        body
    };
    // A scarf: 20 % (8.00) beats 5.00 off the order.
    let o = ok(shop
        .post_idem(
            "/v1/orders",
            checkout(json!([{"sku": "SCARF", "quantity": 1}]), None),
            "o-1",
        )
        .await);
    assert_eq!(
        (o["promotion"].clone(), o["total"].clone()),
        (json!("promo_000001"), json!("32.00"))
    );
    // A mug: only the order's 5.00.
    let o = ok(shop
        .post_idem(
            "/v1/orders",
            checkout(json!([{"sku": "MUG", "quantity": 1}]), None),
            "o-2",
        )
        .await);
    assert_eq!(
        (o["promotion"].clone(), o["total"].clone()),
        (json!("promo_000002"), json!("7.50"))
    );
    // With a code, the code alone.
    let o = ok(shop
        .post_idem(
            "/v1/orders",
            checkout(json!([{"sku": "SCARF", "quantity": 1}]), Some("TEN")),
            "o-3",
        )
        .await);
    assert_eq!(
        (o["promotion"].clone(), o["total"].clone()),
        (Value::Null, json!("36.00"))
    );
}
