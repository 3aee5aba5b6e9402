//! The Square dialect in process, over the same POS simulator as the native
//! API: Square's worked example gives the same counts through either, a
//! write through the dialect is seen natively, orders paid through Square
//! payments are POS sales, and a Square webhook subscription gets Square's
//! events signed.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::post;
use http::{HeaderMap, Request, StatusCode};
use omnisim_api::Scheme;
use serde_json::{Value, json};
use support::{App, Reply, World};

const TOKEN: &str = "EAAAtest_key";

async fn sq(app: &App, method: &str, path: &str, body: Option<Value>) -> Reply {
    let b = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("square-version", "2026-09-16")
        .header("content-type", "application/json");
    let body = body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    app.request(b.body(Body::from(body)).unwrap()).await
}

/// `2026-03-02T<hhmm>:00Z`.
fn at(hhmm: &str) -> String {
    format!("2026-03-02T{hhmm}:00Z")
}

/// Moves the clock (09:00 at the start) to 13:45.
async fn to_1345() {
    tokio::time::sleep(Duration::from_secs(4 * 3600 + 45 * 60)).await;
}

/// Upserts an ITEM with one variation carrying `sku`; answers the variation id.
async fn item(app: &App, sku: &str, cents: i64) -> String {
    let r = sq(
        app,
        "POST",
        "/v2/catalog/batch-upsert",
        Some(json!({
            "idempotency_key": format!("item-{sku}"),
            "batches": [{"objects": [{
                "type": "ITEM",
                "id": format!("#{sku}"),
                "item_data": {
                    "name": format!("{sku} name"),
                    "variations": [{
                        "type": "ITEM_VARIATION",
                        "id": format!("#{sku}-regular"),
                        "item_variation_data": {
                            "item_id": format!("#{sku}"),
                            "name": "Regular",
                            "sku": sku,
                            "pricing_type": "FIXED_PRICING",
                            "price_money": {"amount": cents, "currency": "USD"},
                        },
                    }],
                },
            }]}],
        })),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let mappings = r.json["id_mappings"].as_array().unwrap();
    assert_eq!(mappings.len(), 2);
    mappings
        .iter()
        .find(|m| m["client_object_id"] == format!("#{sku}-regular"))
        .unwrap()["object_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn count_change(var: &str, quantity: i64, hhmm: &str) -> Value {
    json!({"type": "PHYSICAL_COUNT", "physical_count": {
        "catalog_object_id": var, "location_id": "store-1", "state": "IN_STOCK",
        "quantity": quantity.to_string(), "occurred_at": at(hhmm),
    }})
}

fn adjust_change(var: &str, quantity: i64, from: &str, to: &str, hhmm: &str) -> Value {
    json!({"type": "ADJUSTMENT", "adjustment": {
        "catalog_object_id": var, "location_id": "store-1", "from_state": from,
        "to_state": to, "quantity": quantity.to_string(), "occurred_at": at(hhmm),
    }})
}

async fn square_changes(app: &App, key: &str, changes: Vec<Value>) -> Reply {
    let r = sq(
        app,
        "POST",
        "/v2/inventory/changes/batch-create",
        Some(json!({"idempotency_key": key, "changes": changes})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    r
}

async fn native_changes(w: &World, changes: Value) {
    let r = w
        .pos()
        .post("/v1/inventory/changes", json!({ "changes": changes }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

#[tokio::test(start_paused = true)]
async fn the_worked_example_gives_the_native_counts() {
    let w = World::new();
    let pos = w.pos();
    let mug = item(&pos, "MUG", 1000).await;
    w.pos()
        .post(
            "/v1/items",
            json!({"sku": "TEA", "name": "Tea", "price": "4.00", "currency": "USD"}),
        )
        .await;
    to_1345().await;
    // Through the dialect: 100; sold 3; count 90; the offline sale stamped
    // 13:20 arrives after the count; waste 2.
    square_changes(&pos, "a", vec![count_change(&mug, 100, "13:00")]).await;
    square_changes(
        &pos,
        "b",
        vec![adjust_change(&mug, 3, "IN_STOCK", "SOLD", "13:10")],
    )
    .await;
    square_changes(&pos, "c", vec![count_change(&mug, 90, "13:30")]).await;
    square_changes(
        &pos,
        "d",
        vec![adjust_change(&mug, 1, "IN_STOCK", "SOLD", "13:20")],
    )
    .await;
    let last = square_changes(
        &pos,
        "e",
        vec![adjust_change(&mug, 2, "IN_STOCK", "WASTE", "13:40")],
    )
    .await;
    assert_eq!(last.json["counts"][0]["quantity"], "88");
    assert_eq!(last.json["counts"][0]["catalog_object_id"], mug.as_str());
    assert_eq!(last.json["changes"][0]["adjustment"]["to_state"], "WASTE");
    // The same through the native API, for a native item.
    let tea = |kind: &str, q: i64, states: Option<(&str, &str)>, hhmm: &str| {
        let mut c = json!({"type": kind, "sku": "TEA", "location": "store-1", "quantity": q,
            "occurred_at": at(hhmm)});
        if let Some((f, t)) = states {
            c["from_state"] = f.into();
            c["to_state"] = t.into();
        }
        c
    };
    native_changes(&w, json!([tea("PHYSICAL_COUNT", 100, None, "13:00")])).await;
    native_changes(
        &w,
        json!([tea("ADJUSTMENT", 3, Some(("IN_STOCK", "SOLD")), "13:10")]),
    )
    .await;
    native_changes(&w, json!([tea("PHYSICAL_COUNT", 90, None, "13:30")])).await;
    native_changes(
        &w,
        json!([tea("ADJUSTMENT", 1, Some(("IN_STOCK", "SOLD")), "13:20")]),
    )
    .await;
    native_changes(
        &w,
        json!([tea("ADJUSTMENT", 2, Some(("IN_STOCK", "WASTE")), "13:40")]),
    )
    .await;
    // A write through the dialect is attributed as the same key's native writes.
    let feed = w.pos().get("/v1/events?limit=1000").await;
    let actors: Vec<(String, Value)> = feed.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "inventory.count.updated")
        .map(|e| {
            (
                e["data"]["sku"].as_str().unwrap().to_owned(),
                e["actor"].clone(),
            )
        })
        .collect();
    assert_eq!(actors.len(), 10);
    assert!(actors.iter().all(|(_, a)| *a == actors[0].1), "{actors:?}");
    assert_eq!(actors[0].1["kind"], "connector");
    let native_mug = w.pos().get("/v1/inventory/MUG?location=store-1").await;
    let native_tea = w.pos().get("/v1/inventory/TEA?location=store-1").await;
    assert_eq!(native_mug.json["quantity"], 88);
    assert_eq!(native_tea.json["quantity"], 88);
    // Both read back through the dialect, as strings; the native item has a
    // variation id of its own.
    let counts = sq(
        &pos,
        "POST",
        "/v2/inventory/counts/batch-retrieve",
        Some(json!({"location_ids": ["store-1"]})),
    )
    .await;
    let got: Vec<(String, String)> = counts.json["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["catalog_object_id"].as_str().unwrap().to_owned(),
                c["quantity"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (mug.clone(), "88".to_owned()),
            ("VAR_TEA".into(), "88".into())
        ]
    );
    let one = sq(
        &pos,
        "GET",
        "/v2/inventory/VAR_TEA?location_ids=store-1",
        None,
    )
    .await;
    assert_eq!(one.json["counts"][0]["quantity"], "88");
    // The changes of MUG, ordered by occurred_at, as Square orders them.
    let changes = sq(
        &pos,
        "POST",
        "/v2/inventory/changes/batch-retrieve",
        Some(json!({"catalog_object_ids": [mug]})),
    )
    .await;
    let order: Vec<String> = changes.json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let body = if c["type"] == "PHYSICAL_COUNT" {
                &c["physical_count"]
            } else {
                &c["adjustment"]
            };
            format!(
                "{} {}",
                &body["occurred_at"].as_str().unwrap()[11..16],
                body["quantity"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        order,
        ["13:00 100", "13:10 3", "13:20 1", "13:30 90", "13:40 2"]
    );
    // A poller's page: what arrived after a time, with a cursor.
    let page = sq(
        &pos,
        "POST",
        "/v2/inventory/changes/batch-retrieve",
        Some(json!({"updated_after": "2026-03-02T09:00:00Z", "limit": 4})),
    )
    .await;
    assert_eq!(page.json["changes"].as_array().unwrap().len(), 4);
    let cursor = page.json["cursor"].as_str().unwrap().to_owned();
    let rest = sq(
        &pos,
        "POST",
        "/v2/inventory/changes/batch-retrieve",
        Some(json!({"updated_after": "2026-03-02T09:00:00Z", "limit": 4, "cursor": cursor})),
    )
    .await;
    assert_eq!(rest.json["changes"].as_array().unwrap().len(), 4);
    let late = sq(
        &pos,
        "POST",
        "/v2/inventory/changes/batch-retrieve",
        Some(json!({"updated_after": "2026-03-02T13:45:00Z"})),
    )
    .await;
    assert_eq!(late.json, json!({"changes": []}));
}

#[tokio::test(start_paused = true)]
async fn catalog_search_versions_and_idempotency() {
    let w = World::new();
    let pos = w.pos();
    let var = item(&pos, "MUG", 1250).await;
    // The POS item carries the variation's SKU and price.
    let native = w.pos().get("/v1/items/MUG").await;
    assert_eq!(native.json["price"], "12.50");
    assert_eq!(native.json["name"], "MUG name");
    let found = sq(
        &pos,
        "POST",
        "/v2/catalog/search",
        Some(json!({
            "object_types": ["ITEM_VARIATION"],
            "include_related_objects": true,
            "query": {"exact_query": {"attribute_name": "sku", "attribute_value": "MUG"}},
        })),
    )
    .await;
    assert_eq!(found.json["objects"][0]["id"], var.as_str());
    let data = &found.json["objects"][0]["item_variation_data"];
    assert_eq!(
        data["price_money"],
        json!({"amount": 1250, "currency": "USD"})
    );
    assert_eq!(found.json["related_objects"][0]["type"], "ITEM");
    // A stale version is refused; the current one goes through.
    let version = found.json["objects"][0]["version"].as_i64().unwrap();
    let mut object = found.json["objects"][0].clone();
    object["version"] = (version - 1).into();
    object["item_variation_data"]["price_money"]["amount"] = 1500.into();
    let stale = sq(
        &pos,
        "POST",
        "/v2/catalog/object",
        Some(json!({"idempotency_key": "v1", "object": object.clone()})),
    )
    .await;
    assert_eq!(stale.status, StatusCode::BAD_REQUEST);
    assert_eq!(stale.json["errors"][0]["code"], "VERSION_MISMATCH");
    object["version"] = version.into();
    let ok = sq(
        &pos,
        "POST",
        "/v2/catalog/object",
        Some(json!({"idempotency_key": "v2", "object": object.clone()})),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.json);
    assert!(ok.json["catalog_object"]["version"].as_i64().unwrap() > version);
    assert_eq!(w.pos().get("/v1/items/MUG").await.json["price"], "15.00");
    // The same key with the same body replays; with another body it is refused.
    let again = sq(
        &pos,
        "POST",
        "/v2/catalog/object",
        Some(json!({"idempotency_key": "v2", "object": object.clone()})),
    )
    .await;
    assert_eq!(again.json, ok.json);
    object["item_variation_data"]["price_money"]["amount"] = 1700.into();
    let reused = sq(
        &pos,
        "POST",
        "/v2/catalog/object",
        Some(json!({"idempotency_key": "v2", "object": object})),
    )
    .await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert_eq!(reused.json["errors"][0]["code"], "IDEMPOTENCY_KEY_REUSED");
    // search by begin_time: only what changed after it.
    let later = sq(
        &pos,
        "POST",
        "/v2/catalog/search",
        Some(json!({"begin_time": "2030-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(later.json["objects"], json!([]));
    // A bad field is named, in Square's shape.
    let bad = sq(
        &pos,
        "POST",
        "/v2/inventory/changes/batch-create",
        Some(json!({"idempotency_key": "q", "changes": [
            {"type": "PHYSICAL_COUNT", "physical_count": {"catalog_object_id": var,
             "location_id": "store-1", "state": "IN_STOCK", "quantity": "1.5",
             "occurred_at": "2026-03-02T09:00:00Z"}}]})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json["errors"][0]["category"], "INVALID_REQUEST_ERROR");
    assert_eq!(
        bad.json["errors"][0]["field"],
        "changes[0].physical_count.quantity"
    );
    assert_eq!(bad.headers["square-version"], "2026-09-16");
}

#[tokio::test(start_paused = true)]
async fn an_order_paid_by_a_delayed_capture_is_a_pos_sale() {
    let w = World::new();
    let pos = w.pos();
    let var = item(&pos, "MUG", 1000).await;
    let order = sq(
        &pos,
        "POST",
        "/v2/orders",
        Some(
            json!({"idempotency_key": "o1", "order": {"location_id": "store-1",
            "line_items": [{"catalog_object_id": var, "quantity": "2"}]}}),
        ),
    )
    .await;
    assert_eq!(order.status, StatusCode::OK, "{}", order.json);
    assert_eq!(order.json["order"]["state"], "OPEN");
    assert_eq!(order.json["order"]["total_money"]["amount"], 2000);
    let order_id = order.json["order"]["id"].as_str().unwrap().to_owned();
    let paid = sq(
        &pos,
        "POST",
        "/v2/payments",
        Some(
            json!({"idempotency_key": "p1", "source_id": "cnon:card-nonce-ok",
            "amount_money": {"amount": 2000, "currency": "USD"}, "autocomplete": false,
            "order_id": order_id, "location_id": "store-1"}),
        ),
    )
    .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.json);
    assert_eq!(paid.json["payment"]["status"], "APPROVED");
    assert_eq!(paid.json["payment"]["card_details"]["status"], "AUTHORIZED");
    let pid = paid.json["payment"]["id"].as_str().unwrap().to_owned();
    let done = sq(&pos, "POST", &format!("/v2/payments/{pid}/complete"), None).await;
    assert_eq!(done.json["payment"]["status"], "COMPLETED", "{}", done.json);
    let o = sq(&pos, "GET", &format!("/v2/orders/{order_id}"), None).await;
    assert_eq!(o.json["order"]["state"], "COMPLETED", "{}", o.json);
    assert_eq!(o.json["order"]["tenders"][0]["payment_id"], pid.as_str());
    // The native POS recorded the sale with the captured intent, and sold
    // the units.
    let snapshot = w.pos().get("/_control/snapshot").await;
    let sales = snapshot.json["state"]["sales"].as_array().unwrap();
    assert_eq!(sales.len(), 1);
    assert_eq!(sales[0]["total"], "20.00");
    let intent = sales[0]["tenders"][0]["payment_intent"].as_str().unwrap();
    let pi = w.pay().get(&format!("/v1/payment_intents/{intent}")).await;
    assert_eq!(pi.json["status"], "succeeded");
    let count = w.pos().get("/v1/inventory/MUG?location=store-1").await;
    assert_eq!(count.json["quantity"], -2);
    // A partial refund.
    let refund = sq(
        &pos,
        "POST",
        "/v2/refunds",
        Some(json!({"idempotency_key": "r1", "payment_id": pid,
            "amount_money": {"amount": 500, "currency": "USD"}, "reason": "chipped"})),
    )
    .await;
    assert_eq!(refund.status, StatusCode::OK, "{}", refund.json);
    assert_eq!(refund.json["refund"]["status"], "COMPLETED");
    let p = sq(&pos, "GET", &format!("/v2/payments/{pid}"), None).await;
    assert_eq!(p.json["payment"]["refunded_money"]["amount"], 500);
    let pi = w.pay().get(&format!("/v1/payment_intents/{intent}")).await;
    assert_eq!(pi.json["amount_refunded"], "5.00");
    // Too much is refused.
    let over = sq(
        &pos,
        "POST",
        "/v2/refunds",
        Some(json!({"idempotency_key": "r2", "payment_id": pid,
            "amount_money": {"amount": 1600, "currency": "USD"}})),
    )
    .await;
    assert_eq!(over.json["errors"][0]["code"], "REFUND_AMOUNT_INVALID");
    // A register sale made natively reads as a COMPLETED order.
    let search = sq(
        &pos,
        "POST",
        "/v2/orders/search",
        Some(json!({"location_ids": ["store-1"],
            "query": {"filter": {"state_filter": {"states": ["COMPLETED"]}}}})),
    )
    .await;
    assert_eq!(search.json["orders"][0]["id"], order_id.as_str());
}

#[tokio::test(start_paused = true)]
async fn declines_and_cancels() {
    let w = World::new();
    let pos = w.pos();
    let declined = sq(
        &pos,
        "POST",
        "/v2/payments",
        Some(
            json!({"idempotency_key": "d1", "source_id": "cnon:card-nonce-declined",
            "amount_money": {"amount": 100, "currency": "USD"}}),
        ),
    )
    .await;
    assert_eq!(
        declined.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        declined.json
    );
    assert_eq!(declined.json["errors"][0]["code"], "GENERIC_DECLINE");
    assert_eq!(
        declined.json["errors"][0]["category"],
        "PAYMENT_METHOD_ERROR"
    );
    let approved = sq(
        &pos,
        "POST",
        "/v2/payments",
        Some(
            json!({"idempotency_key": "d2", "source_id": "cnon:card-nonce-ok",
            "amount_money": {"amount": 100, "currency": "USD"}, "autocomplete": false}),
        ),
    )
    .await;
    let pid = approved.json["payment"]["id"].as_str().unwrap().to_owned();
    let canceled = sq(&pos, "POST", &format!("/v2/payments/{pid}/cancel"), None).await;
    assert_eq!(canceled.json["payment"]["status"], "CANCELED");
    let list = sq(&pos, "GET", "/v2/payments", None).await;
    let statuses: Vec<&str> = list.json["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["CANCELED", "FAILED"]);
    // A wrong token is refused in Square's shape.
    let r = pos
        .request(
            Request::builder()
                .uri("/v2/locations")
                .header("authorization", "Bearer EAAAnope")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json["errors"][0]["category"], "AUTHENTICATION_ERROR");
    let locations = sq(&pos, "GET", "/v2/locations", None).await;
    assert_eq!(locations.json["locations"][0]["id"], "store-1");
}

#[tokio::test(start_paused = true)]
async fn square_subscriptions_get_square_events_signed() {
    let w = World::new();
    let got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let sink = Arc::clone(&got);
    w.transport.mount(
        "hook.test",
        Router::new().route(
            "/square",
            post(move |headers: HeaderMap, body: Bytes| {
                let sink = Arc::clone(&sink);
                async move {
                    sink.lock().unwrap().push((headers, body));
                    StatusCode::OK
                }
            }),
        ),
    );
    let pos = w.pos();
    let sub = sq(
        &pos,
        "POST",
        "/v2/webhooks/subscriptions",
        Some(
            json!({"idempotency_key": "s1", "subscription": {"name": "stock",
            "event_types": ["inventory.count.updated"],
            "notification_url": "http://hook.test/square"}}),
        ),
    )
    .await;
    assert_eq!(sub.status, StatusCode::OK, "{}", sub.json);
    let key = sub.json["subscription"]["signature_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let var = item(&pos, "MUG", 1000).await;
    square_changes(&pos, "c", vec![count_change(&var, 7, "09:00")]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (headers, body) = &got[0];
    omnisim_api::signing::verify(
        Scheme::Square,
        std::slice::from_ref(&key),
        "http://hook.test/square",
        headers,
        body,
        w.clock.now(),
    )
    .unwrap();
    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["type"], "inventory.count.updated");
    assert_eq!(event["merchant_id"], "MLOMNISIM00001");
    let count = &event["data"]["object"]["inventory_counts"][0];
    assert_eq!(count["quantity"], "7");
    assert_eq!(count["catalog_object_id"], var.as_str());
    let list = sq(&pos, "GET", "/v2/webhooks/subscriptions", None).await;
    assert_eq!(list.json["subscriptions"][0]["name"], "stock");
    assert!(list.json["subscriptions"][0].get("signature_key").is_none());
    let id = list.json["subscriptions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted = sq(
        &pos,
        "DELETE",
        &format!("/v2/webhooks/subscriptions/{id}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::OK);
}

/// Square's `InventoryCount` quantity of `var` at store-1, and the native
/// count, which must agree.
async fn in_stock(w: &World, sku: &str) -> i64 {
    let n = w
        .pos()
        .get(&format!("/v1/inventory/{sku}?location=store-1"))
        .await;
    n.json["quantity"].as_i64().unwrap()
}

/// An online order for pickup as a Square order: a PICKUP fulfillment and
/// the Shopify order in `reference_id`.
async fn pickup_order(pos: &App, key: &str, reference: &str, var: &str, quantity: i64) -> Reply {
    sq(
        pos,
        "POST",
        "/v2/orders",
        Some(json!({"idempotency_key": key, "order": {
            "location_id": "store-1",
            "reference_id": reference,
            "line_items": [{"catalog_object_id": var, "quantity": quantity.to_string()}],
            "fulfillments": [{"type": "PICKUP", "state": "PROPOSED",
                "pickup_details": {"recipient": {"display_name": "Ana"}, "schedule_type": "ASAP"}}],
        }})),
    )
    .await
}

/// Issue 17: a Square-dialect connector sets an online order's units aside
/// as real Square does, with an order whose PICKUP fulfillment waits at the
/// register: it is the native pickup of the Shopify order its
/// `reference_id` names (`gid://shopify/Order/1` is the shop's
/// `ord_000001`), attributed to the caller; completing the pickup at the
/// register shows COMPLETED and sends Square's order webhooks.
#[tokio::test(start_paused = true)]
async fn a_pickup_order_sets_units_aside_and_follows_the_register() {
    let w = World::new();
    let got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let sink = Arc::clone(&got);
    w.transport.mount(
        "hook.test",
        Router::new().route(
            "/square",
            post(move |headers: HeaderMap, body: Bytes| {
                let sink = Arc::clone(&sink);
                async move {
                    sink.lock().unwrap().push((headers, body));
                    StatusCode::OK
                }
            }),
        ),
    );
    let pos = w.pos();
    let sub = sq(
        &pos,
        "POST",
        "/v2/webhooks/subscriptions",
        Some(
            json!({"idempotency_key": "s1", "subscription": {"name": "orders",
            "event_types": ["order.updated", "order.fulfillment.updated"],
            "notification_url": "http://hook.test/square"}}),
        ),
    )
    .await;
    assert_eq!(sub.status, StatusCode::OK, "{}", sub.json);
    let key = sub.json["subscription"]["signature_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let var = item(&pos, "MUG", 1250).await;
    square_changes(&pos, "c", vec![count_change(&var, 10, "09:00")]).await;

    let made = pickup_order(&pos, "o1", "gid://shopify/Order/1", &var, 3).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.json);
    let order = &made.json["order"];
    assert_eq!(order["state"], "OPEN");
    assert_eq!(order["reference_id"], "gid://shopify/Order/1");
    assert_eq!(order["fulfillments"][0]["type"], "PICKUP");
    assert_eq!(order["fulfillments"][0]["state"], "PROPOSED");
    assert_eq!(
        order["fulfillments"][0]["pickup_details"]["recipient"]["display_name"],
        "Ana"
    );
    let order_id = order["id"].as_str().unwrap().to_owned();
    // The units are set aside natively: IN_STOCK 10 → 7, a pickup of 3.
    assert_eq!(in_stock(&w, "MUG").await, 7);
    let pickup = w.pos().get("/v1/pickups/ord_000001").await;
    assert_eq!(pickup.status, StatusCode::OK, "{}", pickup.json);
    assert_eq!(pickup.json["lines"][0]["quantity"], 3);
    assert_eq!(pickup.json["status"], "ready");
    // The change is IN_STOCK → RESERVED_FOR_SALE, and Square records the
    // app that made it.
    let changes = sq(
        &pos,
        "POST",
        "/v2/inventory/changes/batch-retrieve",
        Some(json!({"catalog_object_ids": [var], "states": ["RESERVED_FOR_SALE"]})),
    )
    .await;
    let reserve = &changes.json["changes"][0]["adjustment"];
    assert_eq!(reserve["to_state"], "RESERVED_FOR_SALE", "{}", changes.json);
    assert_eq!(reserve["source"]["product"], "EXTERNAL_API");
    assert!(
        reserve["source"]["application_id"]
            .as_str()
            .unwrap()
            .starts_with("sq0idp-")
    );
    // A replay answers the first order; another order for the same online
    // order is refused, naming the field.
    let again = pickup_order(&pos, "o1", "gid://shopify/Order/1", &var, 3).await;
    assert_eq!(again.json["order"]["id"], order_id.as_str());
    let twice = pickup_order(&pos, "o2", "gid://shopify/Order/1", &var, 1).await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST, "{}", twice.json);
    assert_eq!(twice.json["errors"][0]["field"], "order.reference_id");
    assert_eq!(in_stock(&w, "MUG").await, 7);
    // A PICKUP order is paid online: a Square payment for it is refused.
    let pay = sq(
        &pos,
        "POST",
        "/v2/payments",
        Some(
            json!({"idempotency_key": "p1", "source_id": "cnon:card-nonce-ok",
            "amount_money": {"amount": 3750, "currency": "USD"}, "order_id": order_id}),
        ),
    )
    .await;
    assert_eq!(pay.status, StatusCode::BAD_REQUEST, "{}", pay.json);
    assert_eq!(pay.json["errors"][0]["field"], "order_id");

    // The clerk hands the goods over at the register (the native pickup).
    let done = w
        .pos()
        .post("/v1/pickups/ord_000001/complete", json!({}))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.json);
    let o = sq(&pos, "GET", &format!("/v2/orders/{order_id}"), None).await;
    assert_eq!(o.json["order"]["state"], "COMPLETED", "{}", o.json);
    assert_eq!(o.json["order"]["fulfillments"][0]["state"], "COMPLETED");
    assert!(o.json["order"]["fulfillments"][0]["pickup_details"]["picked_up_at"].is_string());
    assert_eq!(o.json["order"]["version"], 2);
    assert_eq!(in_stock(&w, "MUG").await, 7, "handed over: IN_STOCK stays");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = got.lock().unwrap().clone();
    let events: Vec<Value> = got
        .iter()
        .map(|(headers, body)| {
            omnisim_api::signing::verify(
                Scheme::Square,
                std::slice::from_ref(&key),
                "http://hook.test/square",
                headers,
                body,
                w.clock.now(),
            )
            .unwrap();
            serde_json::from_slice(body).unwrap()
        })
        .collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"order.updated"), "{types:?}");
    let f = events
        .iter()
        .find(|e| e["type"] == "order.fulfillment.updated")
        .unwrap_or_else(|| panic!("no order.fulfillment.updated in {types:?}"));
    let u = &f["data"]["object"]["order_fulfillment_updated"];
    assert_eq!(u["order_id"], order_id.as_str());
    assert_eq!(u["state"], "COMPLETED");
    assert_eq!(u["fulfillment_update"][0]["old_state"], "PROPOSED");
    assert_eq!(u["fulfillment_update"][0]["new_state"], "COMPLETED");
    // A closed order takes no more updates.
    let late = sq(
        &pos,
        "PUT",
        &format!("/v2/orders/{order_id}"),
        Some(json!({"idempotency_key": "u1", "order": {"fulfillments": [{"state": "CANCELED"}]}})),
    )
    .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.json);
}

/// Cancelling a PICKUP order's fulfillment through `PUT /v2/orders/{id}`
/// releases the units (the native pickup is cancelled); completing it
/// through an update hands them over; bad fulfillments are 400s naming the
/// field.
#[tokio::test(start_paused = true)]
async fn a_pickup_order_cancelled_by_update_releases_its_units() {
    let w = World::new();
    let pos = w.pos();
    let var = item(&pos, "MUG", 1250).await;
    square_changes(&pos, "c", vec![count_change(&var, 10, "09:00")]).await;
    let made = pickup_order(&pos, "o1", "ord_000004", &var, 4).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.json);
    let order_id = made.json["order"]["id"].as_str().unwrap().to_owned();
    let uid = made.json["order"]["fulfillments"][0]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(in_stock(&w, "MUG").await, 6);
    let wrong = sq(
        &pos,
        "PUT",
        &format!("/v2/orders/{order_id}"),
        Some(json!({"idempotency_key": "u0", "order": {"version": 1,
            "fulfillments": [{"uid": "nope", "state": "CANCELED"}]}})),
    )
    .await;
    assert_eq!(
        wrong.json["errors"][0]["field"],
        "order.fulfillments[0].uid"
    );
    let cancel = sq(
        &pos,
        "PUT",
        &format!("/v2/orders/{order_id}"),
        Some(json!({"idempotency_key": "u1", "order": {"version": 1,
            "fulfillments": [{"uid": uid, "state": "CANCELED"}]}})),
    )
    .await;
    assert_eq!(cancel.status, StatusCode::OK, "{}", cancel.json);
    assert_eq!(cancel.json["order"]["state"], "CANCELED");
    assert_eq!(cancel.json["order"]["fulfillments"][0]["state"], "CANCELED");
    assert_eq!(in_stock(&w, "MUG").await, 10, "released");
    let pickup = w.pos().get("/v1/pickups/ord_000004").await;
    assert_eq!(pickup.json["status"], "cancelled", "{}", pickup.json);

    // Completed through an update: the goods left (the shop fulfilled it).
    let made = pickup_order(&pos, "o2", "gid://shopify/Order/5", &var, 2).await;
    let order_id = made.json["order"]["id"].as_str().unwrap().to_owned();
    assert_eq!(in_stock(&w, "MUG").await, 8);
    let done = sq(
        &pos,
        "PUT",
        &format!("/v2/orders/{order_id}"),
        Some(json!({"idempotency_key": "u2", "order": {"fulfillments": [{"state": "COMPLETED"}]}})),
    )
    .await;
    assert_eq!(done.json["order"]["state"], "COMPLETED", "{}", done.json);
    let pickup = w.pos().get("/v1/pickups/ord_000005").await;
    assert_eq!(pickup.json["status"], "completed", "{}", pickup.json);
    assert_eq!(in_stock(&w, "MUG").await, 8);

    // Mistakes are 400s naming the field.
    for (body, field) in [
        (
            json!({"location_id": "store-1", "reference_id": "ord_000009",
                "line_items": [{"catalog_object_id": var, "quantity": "1"}],
                "fulfillments": [{"type": "SHIPMENT"}]}),
            "order.fulfillments[0].type",
        ),
        (
            json!({"location_id": "store-1",
                "line_items": [{"catalog_object_id": var, "quantity": "1"}],
                "fulfillments": [{"type": "PICKUP"}]}),
            "order.reference_id",
        ),
        (
            json!({"location_id": "store-1", "reference_id": "ord_000009",
                "line_items": [{"catalog_object_id": var, "quantity": "1"}],
                "fulfillments": [{"type": "PICKUP", "state": "LOST"}]}),
            "order.fulfillments[0].state",
        ),
    ] {
        let r = sq(
            &pos,
            "POST",
            "/v2/orders",
            Some(json!({"idempotency_key": field, "order": body})),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
        assert_eq!(r.json["errors"][0]["field"], field, "{}", r.json);
    }
    assert_eq!(
        in_stock(&w, "MUG").await,
        8,
        "refused orders set nothing aside"
    );
}

/// Square's Customers API is the POS's customer profiles: a customer made
/// through Square is a native profile (and its `customer.created` event), a
/// native one is found by Square's exact email or phone search, and a `PUT`
/// withdraws consent natively.
#[tokio::test(start_paused = true)]
async fn square_customers_are_the_pos_profiles() {
    let w = World::new();
    let pos = w.pos();
    let r = sq(
        &pos,
        "POST",
        "/v2/customers",
        Some(json!({
            "idempotency_key": "ada-1",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email_address": "Ada@Example.com",
            "preferences": {"email_unsubscribed": false},
        })),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let id = r.json["customer"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json["customer"]["version"], 1);
    let native = pos.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(native.json["name"], "Ada Lovelace");
    assert_eq!(native.json["accepts_marketing"], true);

    // A native profile, found by Square's exact filters.
    let grace = pos
        .post(
            "/v1/customers",
            json!({"name": "Grace Hopper", "phone": "+1 415 555 0100"}),
        )
        .await;
    assert_eq!(grace.status, StatusCode::OK, "{}", grace.json);
    let found = sq(
        &pos,
        "POST",
        "/v2/customers/search",
        Some(json!({"query": {"filter": {"phone_number": {"exact": "+14155550100"}}}})),
    )
    .await;
    assert_eq!(
        found.json["customers"][0]["given_name"], "Grace",
        "{}",
        found.json
    );
    assert_eq!(found.json["customers"][0]["family_name"], "Hopper");
    let found = sq(
        &pos,
        "POST",
        "/v2/customers/search",
        Some(json!({"query": {"filter": {"email_address": {"exact": "ada@example.com"}}}})),
    )
    .await;
    assert_eq!(found.json["customers"].as_array().unwrap().len(), 1);
    let none = sq(
        &pos,
        "POST",
        "/v2/customers/search",
        Some(json!({"query": {"filter": {"email_address": {"exact": "nobody@example.com"}}}})),
    )
    .await;
    assert_eq!(none.json, json!({}));

    // PUT: consent withdrawn, with Square's optimistic version.
    let r = sq(
        &pos,
        "PUT",
        &format!("/v2/customers/{id}"),
        Some(json!({"preferences": {"email_unsubscribed": true}, "version": 1})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["customer"]["version"], 2);
    assert_eq!(
        pos.get(&format!("/v1/customers/{id}")).await.json["accepts_marketing"],
        false
    );
    let stale = sq(
        &pos,
        "PUT",
        &format!("/v2/customers/{id}"),
        Some(json!({"given_name": "Augusta", "version": 1})),
    )
    .await;
    assert_eq!(
        stale.json["errors"][0]["code"], "VERSION_MISMATCH",
        "{}",
        stale.json
    );

    // Square's errors, naming Square's fields.
    let taken = sq(
        &pos,
        "POST",
        "/v2/customers",
        Some(json!({"email_address": "ADA@example.com"})),
    )
    .await;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        taken.json["errors"][0]["field"], "email_address",
        "{}",
        taken.json
    );
    let bad_phone = sq(
        &pos,
        "POST",
        "/v2/customers",
        Some(json!({"phone_number": "555"})),
    )
    .await;
    assert_eq!(
        bad_phone.json["errors"][0]["field"], "phone_number",
        "{}",
        bad_phone.json
    );
    let unknown = sq(&pos, "GET", "/v2/customers/nobody", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json["errors"][0]["code"], "NOT_FOUND");

    // The events are the native ones.
    use omnisim_simulators::SimControl;
    let events = w.sims.pos.all_events();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == "customer.created")
            .count(),
        2
    );
    assert!(events.iter().any(|e| e.kind == "customer.updated"));
}

#[tokio::test(start_paused = true)]
async fn square_pricing_rules_are_the_pos_promotions() {
    let w = World::new();
    let pos = w.pos();
    let var = item(&pos, "SCARF", 4000).await;

    // A promotion made natively reads as three catalog objects.
    let native = pos
        .post(
            "/v1/promotions",
            json!({"title": "Native ten", "kind": "percentage", "value": "10", "skus": ["SCARF"]}),
        )
        .await;
    assert_eq!(native.status, StatusCode::OK, "{}", native.json);
    let rules = sq(&pos, "GET", "/v2/catalog/list?types=PRICING_RULE", None).await;
    let rule = &rules.json["objects"][0];
    assert_eq!(rule["id"], "PRICING_RULE_prm_000001", "{}", rules.json);
    assert_eq!(
        rule["pricing_rule_data"]["discount_id"],
        "DISCOUNT_prm_000001"
    );
    let discount = sq(&pos, "GET", "/v2/catalog/object/DISCOUNT_prm_000001", None).await;
    assert_eq!(
        discount.json["object"]["discount_data"]["discount_type"],
        "FIXED_PERCENTAGE"
    );
    assert_eq!(discount.json["object"]["discount_data"]["percentage"], "10");
    let set = sq(
        &pos,
        "GET",
        "/v2/catalog/object/PRODUCT_SET_prm_000001",
        None,
    )
    .await;
    assert_eq!(
        set.json["object"]["product_set_data"]["product_ids_any"],
        json!([var])
    );

    // One made through Square: DISCOUNT + PRODUCT_SET + PRICING_RULE.
    let batch = |rule_extra: Value| {
        let mut rule = json!({
            "name": "Quarter off scarves",
            "discount_id": "#d",
            "match_products_id": "#s",
            "valid_from_date": "2026-03-02",
            "valid_until_date": "2026-03-05",
        });
        for (k, v) in rule_extra.as_object().unwrap() {
            rule[k] = v.clone();
        }
        json!({"batches": [{"objects": [
            {"type": "DISCOUNT", "id": "#d", "discount_data": {"name": "25%", "discount_type": "FIXED_PERCENTAGE", "percentage": "25"}},
            {"type": "PRODUCT_SET", "id": "#s", "product_set_data": {"product_ids_any": [var]}},
            {"type": "PRICING_RULE", "id": "#r", "pricing_rule_data": rule},
        ]}]})
    };
    let mut body = batch(json!({}));
    body["idempotency_key"] = "promo-1".into();
    let made = sq(&pos, "POST", "/v2/catalog/batch-upsert", Some(body.clone())).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.json);
    assert_eq!(made.json["id_mappings"].as_array().unwrap().len(), 3);
    assert_eq!(made.json["objects"].as_array().unwrap().len(), 3);
    let replay = sq(&pos, "POST", "/v2/catalog/batch-upsert", Some(body)).await;
    assert_eq!(replay.json, made.json);
    let p = pos.get("/v1/promotions/prm_000002").await;
    assert_eq!(p.json["value"], "25", "{}", p.json);
    assert_eq!(p.json["skus"], json!(["SCARF"]));
    assert_eq!(p.json["starts_at"], "2026-03-02T00:00:00Z");
    assert_eq!(p.json["ends_at"], "2026-03-06T00:00:00Z");
    assert_eq!(
        pos.get("/v1/promotions").await.json["data"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // It prices the register's sales: the best promotion running.
    let sale = pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [{"sku": "SCARF", "quantity": 1}],
                "tenders": [{"type": "cash", "amount": "100.00"}]}),
        )
        .await;
    assert_eq!(sale.status, StatusCode::OK, "{}", sale.json);
    assert_eq!(sale.json["promotion"], "prm_000002");
    assert_eq!(sale.json["lines"][0]["discount"], "10.00");

    // Ended early through an upsert at its version; a stale version is refused.
    let rule_id = made.json["id_mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["client_object_id"] == "#r")
        .unwrap()["object_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let current = sq(&pos, "GET", &format!("/v2/catalog/object/{rule_id}"), None).await;
    let version = current.json["object"]["version"].as_i64().unwrap();
    let mut obj = current.json["object"].clone();
    obj["pricing_rule_data"]["valid_until_date"] = "2026-03-02".into();
    obj["pricing_rule_data"]["valid_until_local_time"] = "09:30:00".into();
    let mut stale = obj.clone();
    stale["version"] = (version - 1).into();
    let r = sq(
        &pos,
        "POST",
        "/v2/catalog/object",
        Some(json!({"idempotency_key": "end-stale", "object": stale})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json["errors"][0]["code"], "VERSION_MISMATCH",
        "{}",
        r.json
    );
    let r = sq(
        &pos,
        "POST",
        "/v2/catalog/object",
        Some(json!({"idempotency_key": "end", "object": obj})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert!(r.json["catalog_object"]["version"].as_i64().unwrap() > version);
    assert_eq!(
        r.json["catalog_object"]["pricing_rule_data"]["valid_until_local_time"],
        "09:30:00"
    );
    let p = pos.get("/v1/promotions/prm_000002").await;
    assert_eq!(p.json["ends_at"], "2026-03-02T09:30:00Z");

    // What the promotion model cannot hold is refused, naming the field.
    for (extra, field) in [
        (
            json!({"time_period_ids": ["TP1"]}),
            "batches[0].objects[2].pricing_rule_data.time_period_ids",
        ),
        (
            json!({"customer_group_ids_any": ["G1"]}),
            "batches[0].objects[2].pricing_rule_data.customer_group_ids_any",
        ),
    ] {
        let mut body = batch(extra);
        body["idempotency_key"] = field.into();
        let r = sq(&pos, "POST", "/v2/catalog/batch-upsert", Some(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
        assert_eq!(r.json["errors"][0]["field"], field);
    }
    let mut body = batch(json!({}));
    body["batches"][0]["objects"][1]["product_set_data"]["quantity_exact"] = 2.into();
    body["idempotency_key"] = "qty".into();
    let r = sq(&pos, "POST", "/v2/catalog/batch-upsert", Some(body)).await;
    assert_eq!(
        r.json["errors"][0]["field"],
        "batches[0].objects[1].product_set_data.quantity_exact"
    );
    assert_eq!(
        pos.get("/v1/promotions").await.json["data"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Two rules sharing one discount: a promotion is one of each.
    let mut body = batch(json!({}));
    let mut second = body["batches"][0]["objects"][2].clone();
    second["id"] = "#r2".into();
    body["batches"][0]["objects"]
        .as_array_mut()
        .unwrap()
        .push(second);
    body["idempotency_key"] = "shared".into();
    let r = sq(&pos, "POST", "/v2/catalog/batch-upsert", Some(body)).await;
    assert_eq!(
        r.json["errors"][0]["field"], "batches[0].objects[3].pricing_rule_data.discount_id",
        "{}",
        r.json
    );
    assert_eq!(
        pos.get("/v1/promotions").await.json["data"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Deleting a rule disables its promotion; its objects read as deleted.
    let r = sq(
        &pos,
        "DELETE",
        "/v2/catalog/object/PRICING_RULE_prm_000001",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["deleted_object_ids"].as_array().unwrap().len(), 3);
    assert_eq!(
        pos.get("/v1/promotions/prm_000001").await.json["status"],
        "disabled"
    );
    let r = sq(&pos, "GET", "/v2/catalog/object/DISCOUNT_prm_000001", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let search = sq(
        &pos,
        "POST",
        "/v2/catalog/search",
        Some(json!({"object_types": ["PRICING_RULE"]})),
    )
    .await;
    assert_eq!(
        search.json["objects"].as_array().unwrap().len(),
        1,
        "{}",
        search.json
    );
}

#[tokio::test(start_paused = true)]
async fn an_order_made_while_a_promotion_runs_is_priced_as_the_register_would() {
    let w = World::new();
    let pos = w.pos();
    let var = item(&pos, "MUG", 1000).await;
    let p = pos
        .post(
            "/v1/promotions",
            json!({"title": "Ten", "kind": "percentage", "value": "10", "skus": ["MUG"]}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK);
    let order = sq(
        &pos,
        "POST",
        "/v2/orders",
        Some(
            json!({"idempotency_key": "o1", "order": {"location_id": "store-1",
            "line_items": [{"catalog_object_id": var, "quantity": "2"}]}}),
        ),
    )
    .await;
    let order_id = order.json["order"]["id"].as_str().unwrap().to_owned();
    let total = order.json["order"]["total_money"]["amount"]
        .as_i64()
        .unwrap();
    // 2 × 10.00, 10 % off: 18.00, the promotion's DISCOUNT and rule named.
    assert_eq!(total, 1800, "{}", order.json);
    assert_eq!(order.json["order"]["total_discount_money"]["amount"], 200);
    assert_eq!(
        order.json["order"]["line_items"][0]["total_discount_money"]["amount"],
        200
    );
    assert_eq!(
        order.json["order"]["discounts"][0]["pricing_rule_id"],
        "PRICING_RULE_prm_000001"
    );
    let paid = sq(
        &pos,
        "POST",
        "/v2/payments",
        Some(
            json!({"idempotency_key": "p1", "source_id": "cnon:card-nonce-ok",
            "amount_money": {"amount": total, "currency": "USD"},
            "order_id": order_id, "location_id": "store-1"}),
        ),
    )
    .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.json);
    let o = sq(&pos, "GET", &format!("/v2/orders/{order_id}"), None).await;
    assert_eq!(o.json["order"]["state"], "COMPLETED", "{}", o.json);
    // The POS sale it became is the same money, under the same promotion.
    let snapshot = pos.get("/_control/snapshot").await;
    let sale = &snapshot.json["state"]["sales"][0];
    assert_eq!(
        (&sale["total"], &sale["promotion"]),
        (&json!("18.00"), &json!("prm_000001"))
    );
}

#[tokio::test(start_paused = true)]
async fn promotion_changes_are_catalog_version_updates() {
    let w = World::new();
    let got: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let sink = Arc::clone(&got);
    w.transport.mount(
        "hook.test",
        Router::new().route(
            "/square",
            post(move |body: Bytes| {
                let sink = Arc::clone(&sink);
                async move {
                    sink.lock().unwrap().push(body);
                    StatusCode::OK
                }
            }),
        ),
    );
    let pos = w.pos();
    let sub = sq(
        &pos,
        "POST",
        "/v2/webhooks/subscriptions",
        Some(
            json!({"idempotency_key": "s1", "subscription": {"name": "catalog",
            "event_types": ["catalog.version.updated"],
            "notification_url": "http://hook.test/square"}}),
        ),
    )
    .await;
    assert_eq!(sub.status, StatusCode::OK, "{}", sub.json);
    // Made natively, then deleted through Square: two catalog versions.
    let p = pos
        .post(
            "/v1/promotions",
            json!({"title": "Ten", "kind": "percentage", "value": "10"}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.json);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let r = sq(
        &pos,
        "DELETE",
        "/v2/catalog/object/DISCOUNT_prm_000001",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = got.lock().unwrap().clone();
    let kinds: Vec<Value> = got
        .iter()
        .map(|b| serde_json::from_slice::<Value>(b).unwrap()["type"].clone())
        .collect();
    assert_eq!(
        kinds,
        vec![
            json!("catalog.version.updated"),
            json!("catalog.version.updated")
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn square_gift_cards_are_the_gateways() {
    let w = World::new();
    let (pos, pay) = (w.pos(), w.pay());
    let r = pos
        .post(
            "/v1/items",
            json!({"sku": "MUG", "name": "Mug", "price": "12.00", "currency": "USD"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    // Sold at the register, spent there on two mugs, one of them returned
    // onto the card.
    let sold = pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [],
                "gift_cards": [{"code": "GC-ANA", "amount": "50"}],
                "tenders": [{"type": "cash", "amount": "50.00"}]}),
        )
        .await;
    assert_eq!(sold.status, StatusCode::OK, "{}", sold.json);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let spent = pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [{"sku": "MUG", "quantity": 2}],
                "tenders": [{"type": "gift_card", "amount": "24.00", "code": "GC-ANA"}]}),
        )
        .await;
    assert_eq!(spent.status, StatusCode::OK, "{}", spent.json);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let ret = pos
        .post(
            "/v1/returns",
            json!({"sale_id": spent.json["id"], "location": "store-1",
                "lines": [{"sku": "MUG", "quantity": 1}], "restock": true, "refund_to": "original"}),
        )
        .await;
    assert_eq!(ret.status, StatusCode::OK, "{}", ret.json);
    assert_eq!(
        pay.get("/v1/gift_cards/GC-ANA").await.json["balance"],
        "38.00"
    );
    // Spent online with a manual capture: held, not yet taken.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let held = pay
        .post(
            "/v1/payment_intents",
            json!({"amount": "8.00", "currency": "USD", "capture_method": "manual",
                "payment_method": {"type": "gift_card", "code": "GC-ANA"}}),
        )
        .await;
    assert_eq!(held.status, StatusCode::OK, "{}", held.json);
    assert_eq!(
        pay.get("/v1/gift_cards/GC-ANA").await.json["balance"],
        "30.00"
    );

    let got = sq(
        &pos,
        "POST",
        "/v2/gift-cards/from-gan",
        Some(json!({"gan": "GC-ANA"})),
    )
    .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.json);
    let card = &got.json["gift_card"];
    assert_eq!(
        card["balance_money"],
        json!({"amount": 3000, "currency": "USD"})
    );
    assert_eq!(
        (&card["state"], &card["gan"]),
        (&json!("ACTIVE"), &json!("GC-ANA"))
    );
    let id = card["id"].as_str().unwrap().to_owned();
    let again = sq(&pos, "GET", &format!("/v2/gift-cards/{id}"), None).await;
    assert_eq!(again.json["gift_card"], *card);
    let list = sq(&pos, "GET", "/v2/gift-cards?limit=1", None).await;
    assert_eq!(
        list.json["gift_cards"][0]["id"],
        id.as_str(),
        "{}",
        list.json
    );
    let missing = sq(
        &pos,
        "POST",
        "/v2/gift-cards/from-gan",
        Some(json!({"gan": "GC-NONE"})),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let acts = sq(
        &pos,
        "GET",
        &format!("/v2/gift-cards/activities?gift_card_id={id}&sort_order=ASC"),
        None,
    )
    .await;
    assert_eq!(acts.status, StatusCode::OK, "{}", acts.json);
    let acts = acts.json["gift_card_activities"]
        .as_array()
        .unwrap()
        .clone();
    let seen: Vec<(Value, Value)> = acts
        .iter()
        .map(|a| {
            (
                a["type"].clone(),
                a["gift_card_balance_money"]["amount"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (json!("ACTIVATE"), json!(5000)),
            (json!("REDEEM"), json!(2600)),
            (json!("REFUND"), json!(3800)),
            (json!("REDEEM"), json!(3000)),
        ]
    );
    assert_eq!(acts[3]["redeem_activity_details"]["status"], "PENDING");
    assert_eq!(acts[1]["redeem_activity_details"]["status"], "COMPLETED");
    assert_eq!(
        acts[2]["refund_activity_details"]["redeem_activity_id"],
        acts[1]["id"]
    );
    let newest = sq(
        &pos,
        "GET",
        &format!("/v2/gift-cards/activities?gift_card_id={id}&limit=1"),
        None,
    )
    .await;
    assert_eq!(
        newest.json["gift_card_activities"][0]["redeem_activity_details"]["status"],
        "PENDING"
    );
    assert!(newest.json["cursor"].is_string());
}

/// A connector that sells a card outside Square: `CreateGiftCard` gives a
/// `PENDING` card (a generated GAN, or the caller's with `OTHER`) that only
/// the dialect holds; `ACTIVATE` with `amount_money` and
/// `buyer_payment_instrument_ids` issues it at the register, which records
/// `gift_card.issued`, and from then on it is the gateway's, spendable at
/// the register. What cannot be modelled is refused by name.
#[tokio::test(start_paused = true)]
async fn square_gift_cards_made_pending_and_activated_are_issued_at_the_register() {
    let w = World::new();
    let (pos, pay) = (w.pos(), w.pay());
    let create = |key: &str, card: Value| json!({"idempotency_key": key, "location_id": "store-1", "gift_card": card});
    // A generated GAN; a replay of the same key gives the same card.
    let made = sq(
        &pos,
        "POST",
        "/v2/gift-cards",
        Some(create("k1", json!({"type": "DIGITAL"}))),
    )
    .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.json);
    let card = made.json["gift_card"].clone();
    let gan = card["gan"].as_str().unwrap().to_owned();
    assert_eq!(gan.len(), 16, "{card}");
    assert!(gan.starts_with("7783"), "{card}");
    assert_eq!(
        (
            &card["state"],
            &card["gan_source"],
            &card["balance_money"]["amount"]
        ),
        (&json!("PENDING"), &json!("SQUARE"), &json!(0))
    );
    let again = sq(
        &pos,
        "POST",
        "/v2/gift-cards",
        Some(create("k1", json!({"type": "DIGITAL"}))),
    )
    .await;
    assert_eq!(again.json["gift_card"], card);
    // A custom GAN.
    let mine = sq(
        &pos,
        "POST",
        "/v2/gift-cards",
        Some(create(
            "k2",
            json!({"type": "DIGITAL", "gan_source": "OTHER", "gan": "SHOPGC0001"}),
        )),
    )
    .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.json);
    assert_eq!(mine.json["gift_card"]["id"], "gftc:SHOPGC0001");
    // Pending: not at the gateway, but read and listed through the dialect.
    assert_eq!(
        pay.get("/v1/gift_cards/SHOPGC0001").await.status,
        StatusCode::NOT_FOUND
    );
    let read = sq(&pos, "GET", "/v2/gift-cards/gftc:SHOPGC0001", None).await;
    assert_eq!(read.json["gift_card"]["state"], "PENDING", "{}", read.json);
    let listed = sq(&pos, "GET", "/v2/gift-cards?state=PENDING", None).await;
    let gans: Vec<&str> = listed.json["gift_cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["gan"].as_str().unwrap())
        .collect();
    assert_eq!(gans, [gan.as_str(), "SHOPGC0001"]);
    // Refusals, each naming its field.
    for (body, field) in [
        (create("k3", json!({"type": "PHYSICAL"})), "gift_card.type"),
        (
            create(
                "k4",
                json!({"type": "DIGITAL", "gan_source": "OTHER", "gan": "SHOPGC0001"}),
            ),
            "gift_card.gan",
        ),
        (
            create(
                "k5",
                json!({"type": "DIGITAL", "gan_source": "OTHER", "gan": "short"}),
            ),
            "gift_card.gan",
        ),
        (
            create("k6", json!({"type": "DIGITAL", "gan": "SHOPGC0002"})),
            "gift_card.gan",
        ),
        (
            create("k7", json!({"type": "DIGITAL", "state": "ACTIVE"})),
            "gift_card.state",
        ),
        (
            json!({"idempotency_key": "k8", "location_id": "nowhere", "gift_card": {"type": "DIGITAL"}}),
            "location_id",
        ),
        (
            json!({"location_id": "store-1", "gift_card": {"type": "DIGITAL"}}),
            "idempotency_key",
        ),
    ] {
        let r = sq(&pos, "POST", "/v2/gift-cards", Some(body)).await;
        assert!(r.status.is_client_error(), "{field}: {}", r.json);
        assert_eq!(r.json["errors"][0]["field"], field, "{}", r.json);
    }

    // Activated for 40.00, paid elsewhere.
    let activate = |key: &str, details: Value| {
        json!({"idempotency_key": key, "gift_card_activity": {
            "type": "ACTIVATE", "location_id": "store-1", "gift_card_gan": "SHOPGC0001",
            "activate_activity_details": details}})
    };
    let paid = json!({"amount_money": {"amount": 4000, "currency": "USD"},
                      "buyer_payment_instrument_ids": ["shopify-order-1001"], "reference_id": "1001"});
    let act = sq(
        &pos,
        "POST",
        "/v2/gift-cards/activities",
        Some(activate("a1", paid.clone())),
    )
    .await;
    assert_eq!(act.status, StatusCode::OK, "{}", act.json);
    let activity = &act.json["gift_card_activity"];
    assert_eq!(
        (
            &activity["type"],
            &activity["gift_card_id"],
            &activity["gift_card_balance_money"]["amount"]
        ),
        (&json!("ACTIVATE"), &json!("gftc:SHOPGC0001"), &json!(4000))
    );
    assert_eq!(
        activity["activate_activity_details"]["reference_id"],
        "1001"
    );
    // The gateway has it; the register recorded where its money came from.
    assert_eq!(
        pay.get("/v1/gift_cards/SHOPGC0001").await.json["balance"],
        "40.00"
    );
    let feed = pos.get("/v1/events?limit=1000").await.json;
    let issued: Vec<&Value> = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "gift_card.issued")
        .collect();
    assert_eq!(issued.len(), 1, "{feed}");
    assert_eq!(
        (&issued[0]["data"]["code"], &issued[0]["data"]["amount"]),
        (&json!("SHOPGC0001"), &json!("40.00"))
    );
    let reason = issued[0]["data"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("shopify-order-1001") && reason.contains("reference 1001"),
        "{reason}"
    );
    // Now ACTIVE, with the details it was activated with among its activities.
    let read = sq(&pos, "GET", "/v2/gift-cards/gftc:SHOPGC0001", None).await;
    assert_eq!(
        (
            &read.json["gift_card"]["state"],
            &read.json["gift_card"]["gan_source"]
        ),
        (&json!("ACTIVE"), &json!("OTHER"))
    );
    let acts = sq(
        &pos,
        "GET",
        "/v2/gift-cards/activities?gift_card_id=gftc:SHOPGC0001",
        None,
    )
    .await;
    assert_eq!(
        acts.json["gift_card_activities"][0]["id"], activity["id"],
        "{}",
        acts.json
    );
    assert_eq!(
        acts.json["gift_card_activities"][0]["activate_activity_details"],
        activity["activate_activity_details"]
    );
    // Spent at the register like any card.
    let spent = pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [], "gift_cards": [{"code": "GC-GIFT", "amount": "15"}],
                "tenders": [{"type": "gift_card", "amount": "15.00", "code": "SHOPGC0001"}]}),
        )
        .await;
    assert_eq!(spent.status, StatusCode::OK, "{}", spent.json);
    assert_eq!(
        pay.get("/v1/gift_cards/SHOPGC0001").await.json["balance"],
        "25.00"
    );

    // Refusals: an active card, another type, an order's line, no
    // instruments, nothing above zero.
    let refused = [
        (
            activate("a2", paid.clone()),
            "gift_card_activity.gift_card_id",
        ),
        (
            json!({"idempotency_key": "a3", "gift_card_activity": {"type": "LOAD", "location_id": "store-1",
                "gift_card_gan": gan, "load_activity_details": {"amount_money": {"amount": 100, "currency": "USD"}}}}),
            "gift_card_activity.type",
        ),
        (
            json!({"idempotency_key": "a4", "gift_card_activity": {"type": "ACTIVATE", "location_id": "store-1",
                "gift_card_gan": gan, "activate_activity_details": {"order_id": "ord", "line_item_uid": "l1"}}}),
            "gift_card_activity.activate_activity_details.order_id",
        ),
        (
            json!({"idempotency_key": "a5", "gift_card_activity": {"type": "ACTIVATE", "location_id": "store-1",
                "gift_card_gan": gan, "activate_activity_details": {"amount_money": {"amount": 100, "currency": "USD"}}}}),
            "gift_card_activity.activate_activity_details.buyer_payment_instrument_ids",
        ),
        (
            json!({"idempotency_key": "a6", "gift_card_activity": {"type": "ACTIVATE", "location_id": "store-1",
                "gift_card_gan": gan, "activate_activity_details": {"amount_money": {"amount": 0, "currency": "USD"},
                "buyer_payment_instrument_ids": ["cash"]}}}),
            "gift_card_activity.activate_activity_details.amount_money.amount",
        ),
        (
            json!({"idempotency_key": "a7", "gift_card_activity": {"type": "ACTIVATE", "location_id": "store-1",
                "gift_card_gan": gan, "activate_activity_details": {"amount_money": {"amount": 100, "currency": "USD"},
                "buyer_payment_instrument_ids": ["cash"]}, "redeem_activity_details": {}}}),
            "gift_card_activity.redeem_activity_details",
        ),
    ];
    for (body, field) in refused {
        let r = sq(&pos, "POST", "/v2/gift-cards/activities", Some(body)).await;
        assert!(r.status.is_client_error(), "{field}: {}", r.json);
        assert_eq!(r.json["errors"][0]["field"], field, "{}", r.json);
    }
    // The generated card is still pending, and no refusal issued anything.
    assert_eq!(
        pay.get(&format!("/v1/gift_cards/{gan}")).await.status,
        StatusCode::NOT_FOUND
    );
    // Issued natively under the pending card's GAN meanwhile: the gateway's
    // card is the truth, ACTIVE, listed once, and not activated again.
    let native = pos
        .post(
            "/v1/gift_cards/issue",
            json!({"code": gan, "amount": "5", "reason": "issued at the counter"}),
        )
        .await;
    assert_eq!(native.status, StatusCode::OK, "{}", native.json);
    let read = sq(&pos, "GET", &format!("/v2/gift-cards/gftc:{gan}"), None).await;
    assert_eq!(read.json["gift_card"]["state"], "ACTIVE", "{}", read.json);
    let listed = sq(&pos, "GET", "/v2/gift-cards", None).await;
    let times = listed.json["gift_cards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["gan"] == gan.as_str())
        .count();
    assert_eq!(times, 1, "{}", listed.json);
    let late = sq(
        &pos,
        "POST",
        "/v2/gift-cards/activities",
        Some(json!({"idempotency_key": "a8", "gift_card_activity": {"type": "ACTIVATE",
            "location_id": "store-1", "gift_card_gan": gan, "activate_activity_details": {
            "amount_money": {"amount": 100, "currency": "USD"}, "buyer_payment_instrument_ids": ["cash"]}}})),
    )
    .await;
    assert_eq!(
        late.json["errors"][0]["field"], "gift_card_activity.gift_card_id",
        "{}",
        late.json
    );
    let unknown = sq(&pos, "GET", "/v2/gift-cards/gftc:NOPE0000", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

/// The register's own issue without a sale: nothing charged, the card at
/// the gateway, `gift_card.issued` in the feed; a code already held is 409.
#[tokio::test(start_paused = true)]
async fn the_register_issues_a_gift_card_without_a_sale() {
    let w = World::new();
    let (pos, pay) = (w.pos(), w.pay());
    let body = json!({"code": "GC-REPLACE", "amount": "20", "reason": "replaces a damaged card"});
    let r = pos.post("/v1/gift_cards/issue", body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        (&r.json["code"], &r.json["amount"], &r.json["currency"]),
        (&json!("GC-REPLACE"), &json!("20.00"), &json!("USD"))
    );
    assert_eq!(
        pay.get("/v1/gift_cards/GC-REPLACE").await.json["balance"],
        "20.00"
    );
    let again = pos.post("/v1/gift_cards/issue", body).await;
    assert_eq!(
        (
            again.status,
            &again.json["error"]["code"],
            &again.json["error"]["field"]
        ),
        (
            StatusCode::CONFLICT,
            &json!("resource_already_exists"),
            &json!("code")
        ),
        "{}",
        again.json
    );
    for (body, field) in [
        (
            json!({"code": "GC-X", "amount": "0", "reason": "r"}),
            "amount",
        ),
        (
            json!({"code": "GC X", "amount": "5", "reason": "r"}),
            "code",
        ),
        (
            json!({"code": "GC-X", "amount": "5", "reason": " "}),
            "reason",
        ),
        (
            json!({"code": "GC-X", "amount": "5", "reason": "r", "currency": "usd"}),
            "currency",
        ),
    ] {
        let r = pos.post("/v1/gift_cards/issue", body).await;
        assert!(r.status.is_client_error(), "{field}: {}", r.json);
        assert_eq!(r.json["error"]["field"], field, "{}", r.json);
    }
    let feed = pos.get("/v1/events?limit=1000").await.json;
    let kinds: Vec<&str> = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "gift_card.issued").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        pay.get("/v1/gift_cards/GC-X").await.status,
        StatusCode::NOT_FOUND
    );
}

/// A PICKUP order comes down before collection, both ways: natively (the
/// online order lost a unit, `POST /v1/pickups/{order_ref}/lines`) the
/// Square order follows, and through Square (`PUT /v2/orders/{id}` with a
/// line's new `quantity`) the native pickup is shortened and the units go
/// back on the shelf. A line's tax and the order's total follow; a
/// quantity above what the line holds, an unknown line, or a line change on
/// an order without a PICKUP fulfillment is refused by name.
#[tokio::test(start_paused = true)]
async fn a_pickup_order_comes_down_before_collection_both_ways() {
    let w = World::new();
    let pos = w.pos();
    let var = item(&pos, "MUG", 1250).await;
    square_changes(&pos, "c", vec![count_change(&var, 10, "09:00")]).await;
    let made = pickup_order(&pos, "o1", "gid://shopify/Order/1", &var, 4).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.json);
    let id = made.json["order"]["id"].as_str().unwrap().to_owned();
    let uid = made.json["order"]["line_items"][0]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(in_stock(&w, "MUG").await, 6);
    let read = |pos: App, id: String| async move {
        sq(&pos, "GET", &format!("/v2/orders/{id}"), None)
            .await
            .json["order"]
            .clone()
    };
    // Natively: one unit dropped from the online order.
    let r = pos
        .post(
            "/v1/pickups/ord_000001/lines",
            json!({"lines": [{"sku": "MUG", "quantity": 3}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let order = read(pos.clone(), id.clone()).await;
    assert_eq!(order["line_items"][0]["quantity"], "3", "{order}");
    assert_eq!(order["total_money"]["amount"], 3750, "{order}");
    assert_eq!(
        order["version"],
        made.json["order"]["version"].as_i64().unwrap() + 1
    );
    assert_eq!(in_stock(&w, "MUG").await, 7);
    // Through Square: down to one.
    let version = order["version"].clone();
    let put = |key: &str, line: Value| json!({"idempotency_key": key, "order": {"version": version, "line_items": [line]}});
    let r = sq(
        &pos,
        "PUT",
        &format!("/v2/orders/{id}"),
        Some(put("u1", json!({"uid": uid, "quantity": "1"}))),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        r.json["order"]["line_items"][0]["quantity"], "1",
        "{}",
        r.json
    );
    assert_eq!(r.json["order"]["total_money"]["amount"], 1250, "{}", r.json);
    let pickup = pos.get("/v1/pickups/ord_000001").await;
    assert_eq!(pickup.json["lines"][0]["quantity"], 1, "{}", pickup.json);
    assert_eq!(in_stock(&w, "MUG").await, 9);
    // Refusals, each naming its field; nothing moves.
    let version = r.json["order"]["version"].clone();
    let put = |key: &str, line: Value| json!({"idempotency_key": key, "order": {"version": version, "line_items": [line]}});
    for (body, field) in [
        (
            put("u2", json!({"uid": uid, "quantity": "2"})),
            "order.line_items[0].quantity",
        ),
        (
            put("u3", json!({"uid": "nope", "quantity": "1"})),
            "order.line_items[0].uid",
        ),
        (
            put("u4", json!({"quantity": "1"})),
            "order.line_items[0].uid",
        ),
    ] {
        let r = sq(&pos, "PUT", &format!("/v2/orders/{id}"), Some(body)).await;
        assert!(r.status.is_client_error(), "{field}: {}", r.json);
        assert_eq!(r.json["errors"][0]["field"], field, "{}", r.json);
    }
    assert_eq!(in_stock(&w, "MUG").await, 9);
    // An order without a PICKUP fulfillment keeps its lines.
    let plain = sq(
        &pos,
        "POST",
        "/v2/orders",
        Some(
            json!({"idempotency_key": "o2", "order": {"location_id": "store-1",
            "line_items": [{"catalog_object_id": var, "quantity": "2"}]}}),
        ),
    )
    .await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.json);
    let plain_uid = plain.json["order"]["line_items"][0]["uid"].clone();
    let r = sq(
        &pos,
        "PUT",
        &format!("/v2/orders/{}", plain.json["order"]["id"].as_str().unwrap()),
        Some(json!({"idempotency_key": "u5", "order": {"line_items": [{"uid": plain_uid, "quantity": "1"}]}})),
    )
    .await;
    assert_eq!(
        r.json["errors"][0]["field"], "order.line_items",
        "{}",
        r.json
    );
}
