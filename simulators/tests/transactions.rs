//! Refunds made outside the shop, recorded on their order over HTTP
//! (`POST /v1/orders/{id}/transactions`), and pickups shortened at the POS
//! (`POST /v1/pickups/{order_ref}/lines`): both documented, both validated
//! field by field.

mod support;

use http::StatusCode;
use serde_json::{Value, json};
use support::World;

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

/// A captured web order of two mugs (25.00) and its intent.
async fn captured(w: &World) -> (String, String) {
    let shop = w.shop();
    ok(shop
        .post(
            "/v1/products",
            json!({"sku": "MUG", "title": "Mug", "price": "12.50", "currency": "USD"}),
        )
        .await);
    ok(shop
        .post(
            "/v1/inventory/set",
            json!({"sku": "MUG", "location": "web", "available": 5}),
        )
        .await);
    let order = ok(shop
        .post(
            "/v1/orders",
            json!({"lines": [{"sku": "MUG", "quantity": 2}],
                   "payment": {"type": "card", "number": "4242424242424242"}}),
        )
        .await);
    let id = order["id"].as_str().unwrap().to_owned();
    ok(shop
        .post(&format!("/v1/orders/{id}/capture"), json!({}))
        .await);
    (id, order["payment_intent"].as_str().unwrap().to_owned())
}

#[tokio::test(start_paused = true)]
async fn a_refund_made_at_the_gateway_is_recorded_on_its_order_once() {
    let w = World::new();
    let (id, pi) = captured(&w).await;
    let re = ok(w
        .pay()
        .post(
            "/v1/refunds",
            json!({"payment_intent": pi, "amount": "5.00"}),
        )
        .await);
    let re_id = re["id"].as_str().unwrap();
    let shop = w.shop();
    let path = format!("/v1/orders/{id}/transactions");
    let body = json!({"kind": "refund", "amount": "5.00", "gateway_reference": re_id});
    let refund = ok(shop.post(&path, body.clone()).await);
    assert_eq!(refund["lines"], json!([]));
    assert_eq!(refund["amount"], "5.00");
    assert_eq!(refund["payment_refund"], re_id);
    let order = ok(shop.get(&format!("/v1/orders/{id}")).await);
    assert_eq!(order["total_refunded"], "5.00");
    assert_eq!(order["financial_status"], "partially_refunded");
    assert_eq!(order["lines"][0]["refunded_quantity"], 0);
    let events = ok(shop.get("/v1/events?limit=1000").await);
    let last = events["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "refunds/create");
    // The same gateway refund twice is refused, naming the reference.
    let again = shop.post(&path, body).await;
    fails(
        &again,
        StatusCode::CONFLICT,
        "transaction_exists",
        Some("gateway_reference"),
    );
    // More than the order still holds.
    let big = shop
        .post(
            &path,
            json!({"kind": "refund", "amount": "20.01", "gateway_reference": "re_x"}),
        )
        .await;
    fails(
        &big,
        StatusCode::UNPROCESSABLE_ENTITY,
        "amount_too_large",
        Some("amount"),
    );
    let order = ok(shop.get(&format!("/v1/orders/{id}")).await);
    assert_eq!(order["total_refunded"], "5.00", "refusals change nothing");
}

#[tokio::test(start_paused = true)]
async fn transaction_fields_are_validated_by_name() {
    let w = World::new();
    let (id, _) = captured(&w).await;
    let shop = w.shop();
    let path = format!("/v1/orders/{id}/transactions");
    let cases = [
        (
            json!({"kind": "refund", "amount": "0", "gateway_reference": "re_1"}),
            "amount",
        ),
        (
            json!({"kind": "refund", "amount": "1.001", "gateway_reference": "re_1"}),
            "amount",
        ),
        (
            json!({"kind": "refund", "amount": "1.00", "gateway_reference": ""}),
            "gateway_reference",
        ),
        (
            json!({"kind": "refund", "amount": "1.00", "gateway_reference": "a b"}),
            "gateway_reference",
        ),
    ];
    for (body, field) in cases {
        let r = shop.post(&path, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.json
        );
        assert_eq!(r.json["error"]["field"], field, "{body}: {}", r.json);
    }
    for body in [
        json!({"kind": "sale", "amount": "1.00", "gateway_reference": "re_1"}),
        json!({"amount": "1.00", "gateway_reference": "re_1"}),
    ] {
        let r = shop.post(&path, body.clone()).await;
        assert!(r.status.is_client_error(), "{body}: {}", r.json);
        assert!(!r.json["error"]["code"].is_null(), "{body}: {}", r.json);
    }
    let unknown = shop
        .post(
            "/v1/orders/ord_nope/transactions",
            json!({"kind": "refund", "amount": "1.00", "gateway_reference": "re_1"}),
        )
        .await;
    fails(
        &unknown,
        StatusCode::NOT_FOUND,
        "resource_missing",
        Some("id"),
    );
}

#[tokio::test(start_paused = true)]
async fn both_new_paths_are_in_the_openapi_documents() {
    let w = World::new();
    for (app, path, schema) in [
        (
            w.shop(),
            "/v1/orders/{id}/transactions",
            "CreateOrderTransaction",
        ),
        (
            w.pos(),
            "/v1/pickups/{order_ref}/lines",
            "UpdatePickupLines",
        ),
    ] {
        let doc = ok(app.get_unauthed("/openapi.json").await);
        assert!(doc["paths"][path]["post"].is_object(), "{path} missing");
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
}

/// The same record through the Shopify dialect, as a connector on
/// Shopify's REST API makes it: `POST orders/{id}/transactions.json` with
/// `kind: "refund"` and the gateway's id in `authorization`.
#[tokio::test(start_paused = true)]
async fn a_gateway_refund_is_recorded_through_shopify_rest() {
    let w = World::new();
    let (id, pi) = captured(&w).await;
    let re = ok(w
        .pay()
        .post(
            "/v1/refunds",
            json!({"payment_intent": pi, "amount": "5.00"}),
        )
        .await);
    let n: u64 = id.trim_start_matches("ord_").parse().unwrap();
    let path = format!("/admin/api/2026-01/orders/{n}/transactions.json");
    let shopify = |body: Value| {
        http::Request::builder()
            .method("POST")
            .uri(&path)
            .header("x-shopify-access-token", format!("shpat_{}", support::KEY))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap()
    };
    let shop = w.shop();
    let r = shop
        .request(shopify(
            json!({"transaction": {"kind": "refund", "amount": "5.00",
            "authorization": re["id"], "source": "external", "gateway": "omnisim"}}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let t = &r.json["transaction"];
    assert_eq!(
        (&t["kind"], &t["amount"], &t["authorization"]),
        (&json!("refund"), &json!("5.00"), &re["id"])
    );
    let order = ok(shop.get(&format!("/v1/orders/{id}")).await);
    assert_eq!(order["total_refunded"], "5.00", "{order}");
    // The same reference again, and one with no reference, are refused.
    let again = shop
        .request(shopify(
            json!({"transaction": {"kind": "refund", "amount": "5.00", "authorization": re["id"]}}),
        ))
        .await;
    assert!(again.status.is_client_error(), "{}", again.json);
    let blind = shop
        .request(shopify(
            json!({"transaction": {"kind": "refund", "amount": "1.00"}}),
        ))
        .await;
    assert_eq!(
        blind.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        blind.json
    );
    assert!(
        blind.json["errors"]["authorization"].is_array(),
        "{}",
        blind.json
    );
    let order = ok(shop.get(&format!("/v1/orders/{id}")).await);
    assert_eq!(order["total_refunded"], "5.00", "{order}");
}
