//! The Shopify dialect in process, over the same shop simulator as the
//! native API: GraphQL reads and writes are seen natively and in the change
//! feed, attributed to the caller, and a subscription made through the
//! dialect gets Shopify's webhooks, signed with the app's secret.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::post;
use http::{HeaderMap, Request, StatusCode};
use omnisim_api::Scheme;
use serde_json::{Value, json};
use support::{App, KEY, Reply, World};

const PATH: &str = "/admin/api/2026-01/graphql.json";

fn token() -> String {
    format!("shpat_{KEY}")
}

async fn gql(app: &App, query: &str, variables: Value) -> Reply {
    let body = json!({"query": query, "variables": variables});
    app.request(
        Request::builder()
            .method("POST")
            .uri(PATH)
            .header("x-shopify-access-token", token())
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap(),
    )
    .await
}

/// A shop with SKU-1 (10 at `web`) and SKU-2.
async fn stocked(w: &World) -> App {
    let shop = w.shop();
    for sku in ["SKU-1", "SKU-2"] {
        let r = shop
            .post(
                "/v1/products",
                json!({"sku": sku, "title": format!("Product {sku}"), "price": "12.50", "currency": "USD", "status": "active"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    }
    let r = shop
        .post(
            "/v1/inventory/set",
            json!({"sku": "SKU-1", "location": "web", "available": 10}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    shop
}

const FIND: &str = r#"query Find($q: String!) {
  productVariants(first: 5, query: $q) {
    nodes { id sku inventoryItem { id inventoryLevels(first: 10) { nodes { id location { id name }
      quantities(names: ["available", "on_hand", "committed", "incoming"]) { name quantity } } } } }
  }
}"#;

const ADJUST: &str = r#"mutation Adjust($input: InventoryAdjustQuantitiesInput!, $key: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id reason referenceDocumentUri changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}"#;

#[tokio::test(start_paused = true)]
async fn find_by_sku_adjust_once_and_refuse_a_stale_change() {
    let w = World::new();
    let shop = stocked(&w).await;
    let r = gql(&shop, FIND, json!({"q": "sku:SKU-1"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert!(r.json.get("errors").is_none(), "{}", r.json);
    let nodes = r.json["data"]["productVariants"]["nodes"]
        .as_array()
        .unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["sku"], "SKU-1");
    assert_eq!(nodes[0]["id"], "gid://shopify/ProductVariant/1");
    let item = nodes[0]["inventoryItem"]["id"].as_str().unwrap().to_owned();
    let levels = nodes[0]["inventoryItem"]["inventoryLevels"]["nodes"]
        .as_array()
        .unwrap();
    let web = levels
        .iter()
        .find(|l| l["location"]["name"] == "Online store")
        .unwrap();
    let location = web["location"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        web["quantities"],
        json!([
            {"name": "available", "quantity": 10},
            {"name": "on_hand", "quantity": 10},
            {"name": "committed", "quantity": 0},
            {"name": "incoming", "quantity": 0},
        ])
    );
    assert!(
        r.json["extensions"]["cost"]["requestedQueryCost"]
            .as_u64()
            .unwrap()
            > 0
    );

    let input = json!({
        "name": "available", "reason": "correction", "referenceDocumentUri": "gid://connector/Sync/1",
        "changes": [{"inventoryItemId": item, "locationId": location, "delta": -3, "changeFromQuantity": 10}],
    });
    let first = gql(&shop, ADJUST, json!({"input": input, "key": "k-1"})).await;
    assert_eq!(first.status, StatusCode::OK);
    let payload = &first.json["data"]["inventoryAdjustQuantities"];
    assert_eq!(payload["userErrors"], json!([]), "{}", first.json);
    assert_eq!(
        payload["inventoryAdjustmentGroup"]["changes"][0],
        json!({"name": "available", "delta": -3, "quantityAfterChange": 7})
    );
    // The replay answers the first response and applies nothing.
    let again = gql(&shop, ADJUST, json!({"input": input, "key": "k-1"})).await;
    assert_eq!(again.json, first.json);
    let native = shop.get("/v1/inventory/SKU-1?location=web").await;
    assert_eq!(native.json["available"], 7);
    // The write is the caller's, with its reference, in the native feed.
    let feed = shop.get("/v1/events?limit=100").await;
    let last = feed.json["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["type"], "inventory_levels/update");
    assert_eq!(last["data"]["cause"]["kind"], "adjust");
    assert_eq!(last["data"]["cause"]["reference"], "gid://connector/Sync/1");
    assert_ne!(last["actor"]["kind"], "system", "{}", last["actor"]);

    // A stale compare-and-set changes nothing.
    let stale = json!({
        "name": "available", "reason": "correction",
        "changes": [{"inventoryItemId": item, "locationId": location, "delta": 1, "changeFromQuantity": 10}],
    });
    let r = gql(&shop, ADJUST, json!({"input": stale, "key": "k-2"})).await;
    let payload = &r.json["data"]["inventoryAdjustQuantities"];
    assert_eq!(payload["inventoryAdjustmentGroup"], Value::Null);
    assert_eq!(
        payload["userErrors"][0]["code"],
        "CHANGE_FROM_QUANTITY_STALE"
    );
    assert_eq!(
        payload["userErrors"][0]["field"],
        json!(["input", "changes", "0", "changeFromQuantity"])
    );
    let native = shop.get("/v1/inventory/SKU-1?location=web").await;
    assert_eq!(native.json["available"], 7);
}

#[tokio::test(start_paused = true)]
async fn malformed_documents_get_top_level_errors_with_locations() {
    let w = World::new();
    let shop = stocked(&w).await;
    let r = gql(&shop, "{ shop { nope } }", json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.json["errors"][0]["locations"][0]["line"].is_number(),
        "{}",
        r.json
    );
    let r = shop
        .request(
            Request::builder()
                .method("POST")
                .uri(PATH)
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(start_paused = true)]
async fn orders_page_capture_refund_fulfil_and_cancel() {
    let w = World::new();
    let shop = stocked(&w).await;
    for _ in 0..3 {
        let r = shop
            .post(
                "/v1/orders",
                json!({"lines": [{"sku": "SKU-1", "quantity": 2}], "payment": {"type": "card", "number": "4242424242424242"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    }
    let page = r#"query Page($after: String) { orders(first: 2, after: $after, query: "updated_at:>2020-01-01T00:00:00Z") {
        pageInfo { hasNextPage endCursor } nodes { id name displayFinancialStatus
        transactions { id kind } lineItems(first: 5) { nodes { id sku quantity } } } } }"#;
    let p1 = gql(&shop, page, json!({})).await;
    let conn = &p1.json["data"]["orders"];
    assert_eq!(conn["nodes"].as_array().unwrap().len(), 2, "{}", p1.json);
    assert_eq!(conn["pageInfo"]["hasNextPage"], true);
    let p2 = gql(&shop, page, json!({"after": conn["pageInfo"]["endCursor"]})).await;
    let conn2 = &p2.json["data"]["orders"];
    assert_eq!(conn2["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(conn2["pageInfo"]["hasNextPage"], false);
    let order = conn["nodes"][0].clone();
    assert_eq!(order["displayFinancialStatus"], "AUTHORIZED");
    let order_id = order["id"].as_str().unwrap().to_owned();
    let auth = order["transactions"][0]["id"].as_str().unwrap().to_owned();

    let capture = r#"mutation C($input: OrderCaptureInput!) { orderCapture(input: $input) {
        transaction { kind status amountSet { shopMoney { amount currencyCode } } } userErrors { field message } } }"#;
    let r = gql(
        &shop,
        capture,
        json!({"input": {"id": order_id, "parentTransactionId": auth, "amount": "25.00"}}),
    )
    .await;
    let payload = &r.json["data"]["orderCapture"];
    assert_eq!(payload["userErrors"], json!([]), "{}", r.json);
    assert_eq!(payload["transaction"]["kind"], "CAPTURE");
    assert_eq!(
        payload["transaction"]["amountSet"]["shopMoney"]["amount"],
        "25.0"
    );

    let fos = r#"query F($id: ID!) { order(id: $id) { fulfillmentOrders(first: 5) { nodes { id status
        lineItems(first: 5) { nodes { id remainingQuantity } } } } } }"#;
    let r = gql(&shop, fos, json!({"id": order_id})).await;
    let fo = r.json["data"]["order"]["fulfillmentOrders"]["nodes"][0].clone();
    assert_eq!(fo["status"], "OPEN", "{}", r.json);
    let fulfil = r#"mutation F($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
        fulfillment { id status totalQuantity } userErrors { field message } } }"#;
    let r = gql(
        &shop,
        fulfil,
        json!({"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}]}}),
    )
    .await;
    let payload = &r.json["data"]["fulfillmentCreate"];
    assert_eq!(payload["userErrors"], json!([]), "{}", r.json);
    assert_eq!(payload["fulfillment"]["totalQuantity"], 2);

    let line = order["lineItems"]["nodes"][0]["id"].clone();
    let store = gql(
        &shop,
        "{ locations(first: 5) { nodes { id name } } }",
        json!({}),
    )
    .await;
    let store_id = store.json["data"]["locations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "Store 1")
        .unwrap()["id"]
        .clone();
    let refund = r#"mutation R($input: RefundInput!) { refundCreate(input: $input) {
        refund { id totalRefundedSet { shopMoney { amount } } refundLineItems(first: 5) { nodes { quantity restockType location { id } } } }
        userErrors { field message } } }"#;
    let r = gql(
        &shop,
        refund,
        json!({"input": {"orderId": order_id, "refundLineItems": [{"lineItemId": line, "quantity": 1, "restockType": "RETURN", "locationId": store_id}]}}),
    )
    .await;
    let payload = &r.json["data"]["refundCreate"];
    assert_eq!(payload["userErrors"], json!([]), "{}", r.json);
    assert_eq!(
        payload["refund"]["refundLineItems"]["nodes"][0]["location"]["id"],
        store_id
    );
    let native = shop.get("/v1/inventory/SKU-1?location=store-1").await;
    assert_eq!(native.json["available"], 1);

    let cancel = r#"mutation X($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, restock: true, refund: true) {
        job { done } orderCancelUserErrors { code message } } }"#;
    let other = conn["nodes"][1]["id"].clone();
    let r = gql(&shop, cancel, json!({"id": other})).await;
    assert_eq!(
        r.json["data"]["orderCancel"]["orderCancelUserErrors"],
        json!([]),
        "{}",
        r.json
    );
    let native = shop.get("/v1/orders/ord_000002").await;
    assert_eq!(native.json["status"], "cancelled");
}

#[tokio::test(start_paused = true)]
async fn dialect_subscriptions_get_shopify_webhooks_signed_with_the_app_secret() {
    let w = World::new();
    let got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let sink = Arc::clone(&got);
    w.transport.mount(
        "hook.test",
        Router::new().route(
            "/shopify",
            post(move |headers: HeaderMap, body: Bytes| {
                let sink = Arc::clone(&sink);
                async move {
                    sink.lock().unwrap().push((headers, body));
                    StatusCode::OK
                }
            }),
        ),
    );
    let shop = stocked(&w).await;
    let create = r#"mutation W($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
        webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
        webhookSubscription { id topic uri } userErrors { field message } } }"#;
    let r = gql(
        &shop,
        create,
        json!({"topic": "INVENTORY_LEVELS_UPDATE", "sub": {"uri": "http://hook.test/shopify", "format": "JSON"}}),
    )
    .await;
    let payload = &r.json["data"]["webhookSubscriptionCreate"];
    assert_eq!(payload["userErrors"], json!([]), "{}", r.json);
    assert_eq!(
        payload["webhookSubscription"]["topic"],
        "INVENTORY_LEVELS_UPDATE"
    );
    let listed = gql(
        &shop,
        "{ webhookSubscriptions(first: 10) { nodes { id topic uri } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        listed.json["data"]["webhookSubscriptions"]["nodes"][0],
        payload["webhookSubscription"]
    );
    let r = shop
        .post(
            "/v1/inventory/adjust",
            json!({"sku": "SKU-1", "location": "web", "delta": 2, "reason": "received", "reference": "po-9"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (headers, body) = &got[0];
    omnisim_api::signing::verify(
        Scheme::Shopify,
        &[format!("shpss_{KEY}")],
        "http://hook.test/shopify",
        headers,
        body,
        w.clock.now(),
    )
    .unwrap();
    assert_eq!(headers["x-shopify-topic"], "inventory_levels/update");
    assert_eq!(headers["x-shopify-shop-domain"], "omnisim.myshopify.com");
    assert_eq!(headers["x-shopify-api-version"], "2026-01");
    assert_eq!(headers["x-omnisim-reference"], "po-9");
    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(body["inventory_item_id"], 1);
    assert_eq!(body["available"], 12);
    assert!(body["location_id"].is_number());

    let id = payload["webhookSubscription"]["id"].clone();
    let del = gql(
        &shop,
        "mutation D($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { message } } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(
        del.json["data"]["webhookSubscriptionDelete"]["deletedWebhookSubscriptionId"],
        id
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_and_key_reuse_answer_in_shopify_form() {
    let w = World::new();
    let shop = stocked(&w).await;
    let r = gql(&shop, FIND, json!({"q": "sku:SKU-1"})).await;
    let item = r.json["data"]["productVariants"]["nodes"][0]["inventoryItem"]["id"].clone();
    let location = gql(&shop, "{ locations(first: 1) { nodes { id } } }", json!({}))
        .await
        .json["data"]["locations"]["nodes"][0]["id"]
        .clone();
    let input = |delta: i64| {
        json!({"name": "available", "reason": "correction",
            "changes": [{"inventoryItemId": item, "locationId": location, "delta": delta}]})
    };
    let first = gql(&shop, ADJUST, json!({"input": input(1), "key": "same"})).await;
    assert_eq!(
        first.json["data"]["inventoryAdjustQuantities"]["userErrors"],
        json!([])
    );
    let other = gql(&shop, ADJUST, json!({"input": input(2), "key": "same"})).await;
    assert_eq!(
        other.json["errors"][0]["extensions"]["code"], "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
        "{}",
        other.json
    );

    let r = shop
        .post(
            "/_control/faults",
            json!({"rate_limit": {"capacity": 1, "leak_per_sec": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let ok = gql(&shop, "{ shop { name } }", json!({})).await;
    assert_eq!(ok.headers["x-shopify-shop-api-call-limit"], "1/1");
    let throttled = gql(&shop, "{ shop { name } }", json!({})).await;
    assert_eq!(throttled.status, StatusCode::OK);
    assert_eq!(
        throttled.json["errors"][0]["extensions"]["code"],
        "THROTTLED"
    );
}
