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

/// A REST Admin request with the Shopify access token.
async fn rest(app: &App, method: &str, path: &str, body: Value) -> Reply {
    let body = if body.is_null() {
        Body::empty()
    } else {
        Body::from(serde_json::to_vec(&body).unwrap())
    };
    app.request(
        Request::builder()
            .method(method)
            .uri(path)
            .header("x-shopify-access-token", token())
            .header("content-type", "application/json")
            .body(body)
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

const CUSTOMER_FIELDS: &str = "id legacyResourceId firstName lastName displayName email phone
    defaultEmailAddress { emailAddress marketingState marketingOptInLevel }
    defaultPhoneNumber { phoneNumber }
    emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
    createdAt updatedAt";

fn customer_create() -> String {
    format!(
        "mutation C($input: CustomerInput!) {{ customerCreate(input: $input) {{ customer {{ {CUSTOMER_FIELDS} }} userErrors {{ field message }} }} }}"
    )
}

fn customer_update() -> String {
    format!(
        "mutation U($input: CustomerInput!) {{ customerUpdate(input: $input) {{ customer {{ {CUSTOMER_FIELDS} }} userErrors {{ field message }} }} }}"
    )
}

fn customer_search() -> String {
    format!(
        "query S($q: String) {{ customers(first: 10, query: $q) {{ nodes {{ {CUSTOMER_FIELDS} }} }} }}"
    )
}

const CONSENT: &str = r#"mutation M($input: CustomerEmailMarketingConsentUpdateInput!) {
  customerEmailMarketingConsentUpdate(input: $input) {
    customer { id emailMarketingConsent { marketingState } defaultEmailAddress { marketingState } }
    userErrors { field message code }
  }
}"#;

#[tokio::test(start_paused = true)]
async fn customers_through_graphql_are_the_shops_profiles() {
    let w = World::new();
    let shop = w.shop();
    let r = gql(
        &shop,
        &customer_create(),
        json!({"input": {"firstName": "Ada", "lastName": "Lovelace", "email": "Ada@Example.com",
            "phone": "+44 20 7946 0000",
            "emailMarketingConsent": {"marketingState": "SUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN"}}}),
    )
    .await;
    let payload = &r.json["data"]["customerCreate"];
    assert_eq!(payload["userErrors"], json!([]), "{}", r.json);
    let ada = payload["customer"].clone();
    assert_eq!(ada["id"], "gid://shopify/Customer/1");
    assert_eq!(ada["legacyResourceId"], "1");
    assert_eq!(ada["displayName"], "Ada Lovelace");
    assert_eq!(ada["phone"], "+442079460000", "E.164, as Shopify writes it");
    assert_eq!(
        ada["defaultEmailAddress"],
        json!({"emailAddress": "Ada@Example.com", "marketingState": "SUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN"})
    );
    assert_eq!(ada["emailMarketingConsent"]["marketingState"], "SUBSCRIBED");

    // The native profile, its event, and its actor.
    let native = shop.get("/v1/customers/cus_000001").await;
    assert_eq!(native.json["name"], "Ada Lovelace");
    assert_eq!(native.json["accepts_marketing"], true);
    let feed = shop.get("/v1/events?limit=100").await;
    let last = feed.json["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["type"], "customers/create");
    assert_ne!(last["actor"]["kind"], "system", "{}", last["actor"]);

    // Search by email in another case, by phone in another format.
    for q in [
        "email:ADA@example.COM",
        "phone:'+44 (20) 7946-0000'",
        "first_name:ada AND accepts_marketing:true",
    ] {
        let r = gql(&shop, &customer_search(), json!({"q": q})).await;
        let ids: Vec<&Value> = r.json["data"]["customers"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{q}: {}", r.json))
            .iter()
            .map(|n| &n["id"])
            .collect();
        assert_eq!(ids, vec![&ada["id"]], "{q}");
    }
    let none = gql(
        &shop,
        &customer_search(),
        json!({"q": "email:grace@example.com"}),
    )
    .await;
    assert_eq!(none.json["data"]["customers"]["nodes"], json!([]));
    let refused = gql(&shop, &customer_search(), json!({"q": "tag:vip"})).await;
    assert!(
        refused.json["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`tag:`"),
        "{}",
        refused.json
    );

    // Duplicate email (any case), shared phone: Shopify's user errors.
    let r = gql(
        &shop,
        &customer_create(),
        json!({"input": {"firstName": "Other", "email": "ada@EXAMPLE.com"}}),
    )
    .await;
    assert_eq!(
        r.json["data"]["customerCreate"],
        json!({"customer": null, "userErrors": [{"field": ["email"], "message": "Email has already been taken"}]})
    );
    let r = gql(
        &shop,
        &customer_create(),
        json!({"input": {"firstName": "Sibling", "phone": "+442079460000"}}),
    )
    .await;
    assert_eq!(
        r.json["data"]["customerCreate"]["userErrors"],
        json!([{"field": ["phone"], "message": "Phone has already been taken"}])
    );
    let r = gql(
        &shop,
        &customer_create(),
        json!({"input": {"firstName": "Nobody"}}),
    )
    .await;
    assert_eq!(
        r.json["data"]["customerCreate"]["userErrors"][0]["field"],
        json!(["email"]),
        "{}",
        r.json
    );
    let r = gql(
        &shop,
        &customer_create(),
        json!({"input": {"email": "tagged@example.com", "tags": ["vip"]}}),
    )
    .await;
    assert_eq!(
        r.json["data"]["customerCreate"]["userErrors"][0]["field"],
        json!(["tags"])
    );
    let r = gql(
        &shop,
        &customer_create(),
        json!({"input": {"email": "addr@example.com", "addresses": [{"city": "Paris"}]}}),
    )
    .await;
    assert!(
        r.json["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("addresses"),
        "{}",
        r.json
    );
    let r = gql(
        &shop,
        &customer_create(),
        json!({"input": {"email": "p@example.com", "emailMarketingConsent": {"marketingState": "PENDING"}}}),
    )
    .await;
    assert_eq!(
        r.json["data"]["customerCreate"]["userErrors"][0]["field"],
        json!(["emailMarketingConsent", "marketingState"])
    );
    let count = shop.get("/v1/customers").await;
    assert_eq!(
        count.json["data"].as_array().unwrap().len(),
        1,
        "nothing refused was made"
    );

    // Update one name part; remove the phone; consent is its own mutation.
    let r = gql(
        &shop,
        &customer_update(),
        json!({"input": {"id": ada["id"], "lastName": "King", "phone": null}}),
    )
    .await;
    let updated = &r.json["data"]["customerUpdate"];
    assert_eq!(updated["userErrors"], json!([]), "{}", r.json);
    assert_eq!(updated["customer"]["firstName"], "Ada");
    assert_eq!(updated["customer"]["lastName"], "King");
    assert_eq!(updated["customer"]["defaultPhoneNumber"], Value::Null);
    let native = shop.get("/v1/customers/cus_000001").await;
    assert_eq!(
        (
            &native.json["name"],
            &native.json["phone"],
            &native.json["version"]
        ),
        (&json!("Ada King"), &Value::Null, &json!(2))
    );
    let r = gql(
        &shop,
        &customer_update(),
        json!({"input": {"id": ada["id"], "emailMarketingConsent": {"marketingState": "UNSUBSCRIBED"}}}),
    )
    .await;
    assert_eq!(
        r.json["data"]["customerUpdate"]["userErrors"][0]["field"],
        json!(["emailMarketingConsent"])
    );
    let r = gql(
        &shop,
        CONSENT,
        json!({"input": {"customerId": ada["id"], "emailMarketingConsent": {"marketingState": "UNSUBSCRIBED"}}}),
    )
    .await;
    let consent = &r.json["data"]["customerEmailMarketingConsentUpdate"];
    assert_eq!(consent["userErrors"], json!([]), "{}", r.json);
    assert_eq!(
        consent["customer"]["emailMarketingConsent"]["marketingState"],
        "NOT_SUBSCRIBED"
    );
    assert_eq!(
        shop.get("/v1/customers/cus_000001").await.json["accepts_marketing"],
        false
    );
    let r = gql(
        &shop,
        CONSENT,
        json!({"input": {"customerId": ada["id"], "emailMarketingConsent": {"marketingState": "NOT_SUBSCRIBED"}}}),
    )
    .await;
    assert_eq!(
        r.json["data"]["customerEmailMarketingConsentUpdate"]["userErrors"][0]["code"],
        "INCLUSION"
    );

    // Unknown ids: null, and a user error.
    let r = gql(
        &shop,
        &format!("query Q($id: ID!) {{ customer(id: $id) {{ {CUSTOMER_FIELDS} }} }}"),
        json!({"id": "gid://shopify/Customer/999"}),
    )
    .await;
    assert_eq!(r.json["data"]["customer"], Value::Null, "{}", r.json);
    let r = gql(
        &shop,
        &customer_update(),
        json!({"input": {"id": "gid://shopify/Customer/999", "firstName": "X"}}),
    )
    .await;
    assert_eq!(
        r.json["data"]["customerUpdate"]["userErrors"],
        json!([{"field": ["id"], "message": "Customer does not exist"}])
    );
}

#[tokio::test(start_paused = true)]
async fn rest_customers_round_trip_and_customer_webhooks_are_signed() {
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
    let shop = w.shop();
    let base = "/admin/api/2026-01";
    for topic in ["customers/create", "customers/update"] {
        let r = rest(&shop, "POST", &format!("{base}/webhooks.json"),
                json!({"webhook": {"topic": topic, "address": "http://hook.test/shopify", "format": "json"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    }
    let r = rest(&shop, "POST", &format!("{base}/customers.json"),
            json!({"customer": {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com",
                "phone": "+1 (415) 555-0100",
                "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let grace = r.json["customer"].clone();
    assert_eq!(grace["id"], 1);
    assert_eq!(grace["phone"], "+14155550100");
    assert_eq!(grace["email_marketing_consent"]["state"], "subscribed");

    // Saved back as read (what ShopifyAPI's save does): no change, no event.
    let r = rest(
        &shop,
        "PUT",
        &format!("{base}/customers/1.json"),
        json!({"customer": grace}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        shop.get("/v1/customers/cus_000001").await.json["version"],
        1
    );
    let mut changed = grace.clone();
    changed["first_name"] = json!("Amazing Grace");
    changed["email_marketing_consent"]["state"] = json!("unsubscribed");
    let r = rest(
        &shop,
        "PUT",
        &format!("{base}/customers/1.json"),
        json!({"customer": changed}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["customer"]["first_name"], "Amazing");
    assert_eq!(r.json["customer"]["last_name"], "Grace Hopper");
    assert_eq!(
        r.json["customer"]["email_marketing_consent"]["state"],
        "not_subscribed"
    );

    // Refusals name the field.
    let r = rest(
        &shop,
        "POST",
        &format!("{base}/customers.json"),
        json!({"customer": {"email": "GRACE@example.com"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json,
        json!({"errors": {"email": ["has already been taken"]}})
    );
    let r = rest(
        &shop,
        "POST",
        &format!("{base}/customers.json"),
        json!({"customer": {"email": "x@example.com", "birthday": "1906-12-09"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.json["errors"]["birthday"].is_array(), "{}", r.json);
    let r = rest(
        &shop,
        "POST",
        &format!("{base}/customers.json"),
        json!({"customer": {"email": "x@example.com", "accepts_marketing": true}}),
    )
    .await;
    assert!(
        r.json["errors"]["accepts_marketing"].is_array(),
        "{}",
        r.json
    );
    assert_eq!(
        rest(
            &shop,
            "GET",
            &format!("{base}/customers/9.json"),
            Value::Null
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // Search by email in another case; unknown filters are refused.
    let r = rest(
        &shop,
        "GET",
        &format!("{base}/customers/search.json?query=email:GRACE%40EXAMPLE.COM"),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let ids: Vec<&Value> = r.json["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, vec![&json!(1)]);
    let r = rest(
        &shop,
        "GET",
        &format!("{base}/customers.json?email=grace@example.com"),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.json["errors"]["email"].is_array(), "{}", r.json);

    // Listing pages by Link.
    for i in 0..2 {
        let r = rest(
            &shop,
            "POST",
            &format!("{base}/customers.json"),
            json!({"customer": {"email": format!("c{i}@example.com")}}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    }
    let first = rest(
        &shop,
        "GET",
        &format!("{base}/customers.json?limit=2"),
        Value::Null,
    )
    .await;
    assert_eq!(first.json["customers"].as_array().unwrap().len(), 2);
    let link = first.headers["link"].to_str().unwrap().to_owned();
    let next = link.split('<').nth(1).unwrap().split('>').next().unwrap();
    let path = &next[next.find("/admin").unwrap()..];
    let second = rest(&shop, "GET", path, Value::Null).await;
    assert_eq!(
        second.json["customers"][0]["email"], "c1@example.com",
        "{}",
        second.json
    );

    // The webhooks: create, update (one per change), signed with the app secret.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = got.lock().unwrap().clone();
    let topics: Vec<&str> = got
        .iter()
        .map(|(h, _)| h["x-shopify-topic"].to_str().unwrap())
        .collect();
    assert_eq!(
        topics,
        [
            "customers/create",
            "customers/update",
            "customers/create",
            "customers/create"
        ]
    );
    for (headers, body) in &got {
        omnisim_api::signing::verify(
            Scheme::Shopify,
            &[format!("shpss_{KEY}")],
            "http://hook.test/shopify",
            headers,
            body,
            w.clock.now(),
        )
        .unwrap();
    }
    let created: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(created["email"], "grace@example.com");
    assert_eq!(created["first_name"], "Grace");
    assert_eq!(created["admin_graphql_api_id"], "gid://shopify/Customer/1");
    let updated: Value = serde_json::from_slice(&got[1].1).unwrap();
    assert_eq!(updated["first_name"], "Amazing");
    assert_eq!(
        updated["email_marketing_consent"]["state"],
        "not_subscribed"
    );
}

const DISCOUNT: &str = r#"id automaticDiscount { ... on DiscountAutomaticBasic {
  title startsAt endsAt status
  customerGets {
    value { ... on DiscountPercentage { percentage } ... on DiscountAmount { amount { amount currencyCode } appliesOnEachItem } }
    items { ... on AllDiscountItems { allItems } ... on DiscountProducts { products(first: 10) { nodes { id } } } }
  }
} }"#;

fn discount_create() -> String {
    format!(
        "mutation C($d: DiscountAutomaticBasicInput!) {{ discountAutomaticBasicCreate(automaticBasicDiscount: $d) {{ automaticDiscountNode {{ {DISCOUNT} }} userErrors {{ field message code }} }} }}"
    )
}

fn discount_update() -> String {
    format!(
        "mutation U($id: ID!, $d: DiscountAutomaticBasicInput!) {{ discountAutomaticBasicUpdate(id: $id, automaticBasicDiscount: $d) {{ automaticDiscountNode {{ {DISCOUNT} }} userErrors {{ field message code }} }} }}"
    )
}

#[tokio::test(start_paused = true)]
async fn automatic_discounts_are_the_shops_promotions() {
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
    let subscribe = r#"mutation W($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
        webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
        webhookSubscription { id topic } userErrors { field message } } }"#;
    for topic in ["DISCOUNTS_CREATE", "DISCOUNTS_UPDATE"] {
        let r = gql(
            &shop,
            subscribe,
            json!({"topic": topic, "sub": {"uri": "http://hook.test/shopify", "format": "JSON"}}),
        )
        .await;
        let p = &r.json["data"]["webhookSubscriptionCreate"];
        assert_eq!(p["userErrors"], json!([]), "{}", r.json);
        assert_eq!(p["webhookSubscription"]["topic"], topic);
    }
    let now = w.clock.now();
    let iso =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let start = now - chrono::TimeDelta::hours(1);

    // 20 % off product 1 (SKU-1): the promotion, priced at checkout.
    let r = gql(
        &shop,
        &discount_create(),
        json!({"d": {"title": "SPRING-20", "startsAt": iso(start),
            "customerGets": {"value": {"percentage": 0.2}, "items": {"products": {"productsToAdd": ["gid://shopify/Product/1"]}}}}}),
    )
    .await;
    let p = &r.json["data"]["discountAutomaticBasicCreate"];
    assert_eq!(p["userErrors"], json!([]), "{}", r.json);
    let node = &p["automaticDiscountNode"];
    assert_eq!(node["id"], "gid://shopify/DiscountAutomaticNode/1");
    let d = &node["automaticDiscount"];
    assert_eq!(d["status"], "ACTIVE");
    assert_eq!(d["endsAt"], Value::Null);
    assert_eq!(d["customerGets"]["value"], json!({"percentage": 0.2}));
    assert_eq!(
        d["customerGets"]["items"]["products"]["nodes"],
        json!([{"id": "gid://shopify/Product/1"}])
    );
    let native = shop.get("/v1/promotions/promo_000001").await;
    assert_eq!(native.json["kind"], "percentage");
    assert_eq!(native.json["value"], "20");
    assert_eq!(native.json["skus"], json!(["SKU-1"]));
    let read = gql(
        &shop,
        &format!("query R($id: ID!) {{ automaticDiscountNode(id: $id) {{ {DISCOUNT} }} discountNode(id: $id) {{ id discount {{ ... on DiscountAutomaticBasic {{ title }} }} }} }}"),
        json!({"id": "gid://shopify/DiscountAutomaticNode/1"}),
    )
    .await;
    assert_eq!(
        read.json["data"]["automaticDiscountNode"], *node,
        "{}",
        read.json
    );
    assert_eq!(
        read.json["data"]["discountNode"]["discount"]["title"],
        "SPRING-20"
    );
    let order = shop
        .post(
            "/v1/orders",
            json!({"lines": [{"sku": "SKU-1", "quantity": 2}], "payment": {"type": "card", "number": "4242424242424242"}}),
        )
        .await;
    assert_eq!(order.status, StatusCode::OK, "{}", order.json);
    assert_eq!(order.json["promotion"], "promo_000001");
    assert_eq!(order.json["discount_total"], "5.00");

    // A fixed amount off the order; off each unit on all items is refused.
    let r = gql(
        &shop,
        &discount_create(),
        json!({"d": {"title": "TEN-OFF", "startsAt": iso(start),
            "customerGets": {"value": {"discountAmount": {"amount": "10.00", "appliesOnEachItem": false}}, "items": {"all": true}}}}),
    )
    .await;
    let p = &r.json["data"]["discountAutomaticBasicCreate"];
    assert_eq!(p["userErrors"], json!([]), "{}", r.json);
    let ten = p["automaticDiscountNode"]["id"].clone();
    assert_eq!(
        p["automaticDiscountNode"]["automaticDiscount"]["customerGets"],
        json!({"value": {"amount": {"amount": "10.0", "currencyCode": "USD"}, "appliesOnEachItem": false},
            "items": {"allItems": true}})
    );
    let r = gql(
        &shop,
        &discount_create(),
        json!({"d": {"title": "EACH", "customerGets": {"value": {"discountAmount": {"amount": "1", "appliesOnEachItem": true}}, "items": {"all": true}}}}),
    )
    .await;
    let p = &r.json["data"]["discountAutomaticBasicCreate"];
    assert_eq!(p["automaticDiscountNode"], Value::Null);
    assert_eq!(
        p["userErrors"][0]["field"],
        json!([
            "automaticBasicDiscount",
            "customerGets",
            "value",
            "discountAmount",
            "appliesOnEachItem"
        ])
    );

    // What a promotion cannot hold is refused by name; nothing is made.
    for (extra, field) in [
        (
            json!({"minimumRequirement": {"subtotal": {"greaterThanOrEqualToSubtotal": "50"}}}),
            json!(["automaticBasicDiscount", "minimumRequirement", "subtotal"]),
        ),
        (
            json!({"combinesWith": {"productDiscounts": true}}),
            json!(["automaticBasicDiscount", "combinesWith", "productDiscounts"]),
        ),
        (
            json!({"context": {"customers": {"add": ["gid://shopify/Customer/1"]}}}),
            json!(["automaticBasicDiscount", "context", "customers"]),
        ),
    ] {
        let mut d = json!({"title": "X", "customerGets": {"value": {"percentage": 0.1}, "items": {"all": true}}});
        d.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let r = gql(&shop, &discount_create(), json!({"d": d})).await;
        let p = &r.json["data"]["discountAutomaticBasicCreate"];
        assert_eq!(p["userErrors"][0]["field"], field, "{}", r.json);
        assert_eq!(p["userErrors"][0]["code"], "INVALID");
    }
    let r = gql(
        &shop,
        &discount_create(),
        json!({"d": {"title": "X", "context": {"all": "ALL", "customers": {"add": []}},
            "customerGets": {"value": {"percentage": 0.1}, "items": {"all": true}}}}),
    )
    .await;
    assert!(
        r.json["errors"].is_array(),
        "DiscountContextInput is @oneOf, as Shopify's: {}",
        r.json
    );
    let r = gql(
        &shop,
        &discount_create(),
        json!({"d": {"title": "BAD", "customerGets": {"value": {"percentage": 20}, "items": {"all": true}}}}),
    )
    .await;
    let e = &r.json["data"]["discountAutomaticBasicCreate"]["userErrors"][0];
    assert_eq!(e["code"], "VALUE_OUTSIDE_RANGE", "{}", r.json);
    let r = gql(
        &shop,
        &discount_create(),
        json!({"d": {"title": "GHOST", "customerGets": {"value": {"percentage": 0.1}, "items": {"products": {"productsToAdd": ["gid://shopify/Product/99"]}}}}}),
    )
    .await;
    let e = &r.json["data"]["discountAutomaticBasicCreate"]["userErrors"][0];
    assert_eq!(
        e["field"],
        json!([
            "automaticBasicDiscount",
            "customerGets",
            "items",
            "products",
            "productsToAdd"
        ])
    );
    assert_eq!(
        shop.get("/v1/promotions").await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Ending early: a new endsAt, and deactivate.
    let r = gql(
        &shop,
        &discount_update(),
        json!({"id": "gid://shopify/DiscountAutomaticNode/1", "d": {"endsAt": iso(now)}}),
    )
    .await;
    let p = &r.json["data"]["discountAutomaticBasicUpdate"];
    assert_eq!(p["userErrors"], json!([]), "{}", r.json);
    assert_eq!(
        p["automaticDiscountNode"]["automaticDiscount"]["status"],
        "EXPIRED"
    );
    assert_eq!(
        p["automaticDiscountNode"]["automaticDiscount"]["endsAt"],
        iso(now)
    );
    let r = gql(
        &shop,
        &discount_update(),
        json!({"id": "gid://shopify/DiscountAutomaticNode/1", "d": {"endsAt": null}}),
    )
    .await;
    assert_eq!(
        r.json["data"]["discountAutomaticBasicUpdate"]["userErrors"][0]["field"],
        json!(["automaticBasicDiscount", "endsAt"])
    );
    let r = gql(
        &shop,
        &discount_update(),
        json!({"id": "gid://shopify/DiscountAutomaticNode/1", "d": {"customerGets": {"value": {"discountAmount": {"amount": "1"}}}}}),
    )
    .await;
    assert_eq!(
        r.json["data"]["discountAutomaticBasicUpdate"]["userErrors"][0]["field"],
        json!(["automaticBasicDiscount", "customerGets", "value"])
    );
    let deactivate = "mutation D($id: ID!) { discountAutomaticDeactivate(id: $id) { automaticDiscountNode { id automaticDiscount { ... on DiscountAutomaticBasic { status endsAt } } } userErrors { field message code } } }";
    tokio::time::sleep(Duration::from_secs(5)).await;
    let r = gql(&shop, deactivate, json!({"id": ten})).await;
    let p = &r.json["data"]["discountAutomaticDeactivate"];
    assert_eq!(p["userErrors"], json!([]), "{}", r.json);
    assert_eq!(
        p["automaticDiscountNode"]["automaticDiscount"]["status"],
        "EXPIRED"
    );
    assert_eq!(
        shop.get("/v1/promotions/promo_000002").await.json["status"],
        "active",
        "a running discount ends now rather than being disabled"
    );
    let r = gql(
        &shop,
        deactivate,
        json!({"id": "gid://shopify/DiscountAutomaticNode/99"}),
    )
    .await;
    assert_eq!(
        r.json["data"]["discountAutomaticDeactivate"]["userErrors"][0]["field"],
        json!(["id"])
    );
    let order = shop
        .post(
            "/v1/orders",
            json!({"lines": [{"sku": "SKU-1", "quantity": 1}], "payment": {"type": "card", "number": "4242424242424242"}}),
        )
        .await;
    assert_eq!(order.json["promotion"], Value::Null, "{}", order.json);

    // A scheduled one, and the listing by status.
    let later = w.clock.now() + chrono::TimeDelta::days(1);
    let r = gql(
        &shop,
        &discount_create(),
        json!({"d": {"title": "LATER", "startsAt": iso(later),
            "customerGets": {"value": {"percentage": 0.15}, "items": {"products": {"productVariantsToAdd": ["gid://shopify/ProductVariant/2"]}}}}}),
    )
    .await;
    let p = &r.json["data"]["discountAutomaticBasicCreate"];
    assert_eq!(p["userErrors"], json!([]), "{}", r.json);
    assert_eq!(
        p["automaticDiscountNode"]["automaticDiscount"]["status"],
        "SCHEDULED"
    );
    let list = |q: &'static str| {
        let shop = &shop;
        async move {
            let r = gql(
                shop,
                "query L($q: String) { automaticDiscountNodes(first: 10, query: $q) { nodes { id } } }",
                json!({"q": q}),
            )
            .await;
            r.json["data"]["automaticDiscountNodes"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| {
                    n["id"]
                        .as_str()
                        .unwrap()
                        .rsplit('/')
                        .next()
                        .unwrap()
                        .to_owned()
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("").await, ["1", "2", "3"]);
    assert_eq!(list("status:expired").await, ["1", "2"]);
    assert_eq!(list("status:scheduled").await, ["3"]);

    // The webhooks: one per change, signed, with Shopify's discount body.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = got.lock().unwrap().clone();
    let topics: Vec<&str> = got
        .iter()
        .map(|(h, _)| h["x-shopify-topic"].to_str().unwrap())
        .collect();
    assert_eq!(
        topics,
        [
            "discounts/create",
            "discounts/create",
            "discounts/update",
            "discounts/update",
            "discounts/create"
        ]
    );
    for (headers, body) in &got {
        omnisim_api::signing::verify(
            Scheme::Shopify,
            &[format!("shpss_{KEY}")],
            "http://hook.test/shopify",
            headers,
            body,
            w.clock.now(),
        )
        .unwrap();
    }
    let first: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(
        first["admin_graphql_api_id"],
        "gid://shopify/DiscountAutomaticNode/1"
    );
    assert_eq!(first["title"], "SPRING-20");
    assert_eq!(first["status"], "ACTIVE");
    assert!(first["created_at"].is_string() && first["updated_at"].is_string());
    let ended: Value = serde_json::from_slice(&got[2].1).unwrap();
    assert_eq!(ended["status"], "EXPIRED");
    let last: Value = serde_json::from_slice(&got[4].1).unwrap();
    assert_eq!(last["status"], "SCHEDULED");
}

const GIFT_CARD_CREATE: &str = r#"mutation Create($input: GiftCardCreateInput!) {
  giftCardCreate(input: $input) {
    giftCard { id balance { amount currencyCode } initialValue { amount } lastCharacters maskedCode
      note enabled customer { id } }
    giftCardCode
    userErrors { field message code }
  }
}"#;

const GIFT_CARD: &str = r#"query Card($id: ID!) {
  giftCard(id: $id) {
    id balance { amount } initialValue { amount } updatedAt
    transactions(first: 10) { nodes { __typename id amount { amount currencyCode } processedAt } }
  }
}"#;

#[tokio::test(start_paused = true)]
async fn gift_cards_are_the_gateways_whoever_issued_them() {
    let w = World::new();
    let (pos, pay) = (w.pos(), w.pay());
    let shop = stocked(&w).await;
    // A card sold at the register, spent online on a held payment and on a
    // captured one, which is then refunded in part.
    let sold = pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [],
                "gift_cards": [{"code": "GCANA001", "amount": "50"}],
                "tenders": [{"type": "cash", "amount": "50.00"}]}),
        )
        .await;
    assert_eq!(sold.status, StatusCode::OK, "{}", sold.json);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let held = pay
        .post(
            "/v1/payment_intents",
            json!({"amount": "8.00", "currency": "USD", "capture_method": "manual",
                "payment_method": {"type": "gift_card", "code": "GCANA001"}}),
        )
        .await;
    assert_eq!(held.status, StatusCode::OK, "{}", held.json);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let taken = pay
        .post(
            "/v1/payment_intents",
            json!({"amount": "12.00", "currency": "USD", "capture_method": "automatic",
                "payment_method": {"type": "gift_card", "code": "GCANA001"}}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.json);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let refund = pay
        .post(
            "/v1/refunds",
            json!({"payment_intent": taken.json["id"], "amount": "5.00"}),
        )
        .await;
    assert_eq!(refund.status, StatusCode::OK, "{}", refund.json);
    assert_eq!(
        pay.get("/v1/gift_cards/GCANA001").await.json["balance"],
        "35.00"
    );

    // GraphQL: the card, numbered by the gateway, and its movements, which
    // add up to its balance.
    let r = gql(&shop, GIFT_CARD, json!({"id": "gid://shopify/GiftCard/1"})).await;
    let card = &r.json["data"]["giftCard"];
    assert_eq!(card["balance"]["amount"], "35.0", "{}", r.json);
    assert_eq!(card["initialValue"]["amount"], "50.0");
    let tx: Vec<(String, String)> = card["transactions"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["__typename"].as_str().unwrap().to_owned(),
                t["amount"]["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        tx,
        [
            ("GiftCardDebitTransaction".to_owned(), "-8.0".to_owned()),
            ("GiftCardDebitTransaction".to_owned(), "-12.0".to_owned()),
            ("GiftCardCreditTransaction".to_owned(), "5.0".to_owned()),
        ]
    );
    assert_eq!(
        card["updatedAt"], card["transactions"]["nodes"][2]["processedAt"],
        "a card changes with its last movement"
    );
    let missing = gql(&shop, GIFT_CARD, json!({"id": "gid://shopify/GiftCard/9"})).await;
    assert_eq!(missing.json["data"]["giftCard"], Value::Null);

    // Created through GraphQL: the shop's own issue, seen at the gateway
    // and in the shop's feed; its note and customer read back.
    let ada = gql(
        &shop,
        &customer_create(),
        json!({"input": {"firstName": "Ada", "email": "ada@example.com"}}),
    )
    .await;
    let ada_id = ada.json["data"]["customerCreate"]["customer"]["id"].clone();
    let r = gql(
        &shop,
        GIFT_CARD_CREATE,
        json!({"input": {"initialValue": "25.00", "code": "GOODWILL2026", "note": "late parcel",
            "customerId": ada_id}}),
    )
    .await;
    let made = &r.json["data"]["giftCardCreate"];
    assert_eq!(made["userErrors"], json!([]), "{}", r.json);
    assert_eq!(made["giftCardCode"], "GOODWILL2026");
    let g = &made["giftCard"];
    assert_eq!(g["id"], "gid://shopify/GiftCard/2");
    assert_eq!(
        g["balance"],
        json!({"amount": "25.0", "currencyCode": "USD"})
    );
    assert_eq!(g["lastCharacters"], "2026");
    assert_eq!(g["maskedCode"], "•••• •••• •••• 2026");
    assert_eq!(g["note"], "late parcel");
    assert_eq!(g["customer"]["id"], ada_id);
    let native = pay.get("/v1/gift_cards/GOODWILL2026").await;
    assert_eq!(native.json["balance"], "25.00", "{}", native.json);
    let feed = shop.get("/v1/events?limit=100").await;
    let issued = feed.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "gift_cards/issued")
        .cloned()
        .expect("the issue is in the shop's feed");
    assert_eq!(issued["data"]["reason"], "late parcel");
    assert_eq!(issued["data"]["customer"], "cus_000001");

    // Without a code: one is generated, and given back once.
    let r = gql(
        &shop,
        GIFT_CARD_CREATE,
        json!({"input": {"initialValue": "10"}}),
    )
    .await;
    let code = r.json["data"]["giftCardCreate"]["giftCardCode"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(code.len(), 16, "{}", r.json);
    assert_eq!(
        pay.get(&format!("/v1/gift_cards/{code}")).await.status,
        StatusCode::OK
    );

    // Refusals, each a user error naming its field; nothing is issued.
    for (input, field, code, message) in [
        (
            json!({"initialValue": "10", "code": "GOODWILL2026"}),
            "code",
            "TAKEN",
            "Code has already been taken",
        ),
        (
            json!({"initialValue": "10", "code": "short"}),
            "code",
            "TOO_SHORT",
            "Code is too short (minimum is 8 characters)",
        ),
        (
            json!({"initialValue": "10", "code": "has-a-dash-1"}),
            "code",
            "INVALID",
            "Code can only contain letters and numbers",
        ),
        (
            json!({"initialValue": "0"}),
            "initialValue",
            "GREATER_THAN",
            "Initial value must be greater than 0",
        ),
        (
            json!({"initialValue": "10", "customerId": "gid://shopify/Customer/99"}),
            "customerId",
            "CUSTOMER_NOT_FOUND",
            "Customer does not exist",
        ),
    ] {
        let r = gql(&shop, GIFT_CARD_CREATE, json!({"input": input})).await;
        let errors = &r.json["data"]["giftCardCreate"]["userErrors"];
        assert_eq!(errors[0]["field"], json!(["input", field]), "{}", r.json);
        assert_eq!(errors[0]["code"], code, "{}", r.json);
        assert_eq!(errors[0]["message"], message, "{}", r.json);
    }
    let r = gql(
        &shop,
        GIFT_CARD_CREATE,
        json!({"input": {"initialValue": "10", "expiresOn": "2027-01-01"}}),
    )
    .await;
    let e = &r.json["data"]["giftCardCreate"]["userErrors"][0];
    assert!(
        e["message"].as_str().unwrap().contains("expiresOn"),
        "{}",
        r.json
    );
    let cards = pay.get("/v1/gift_cards").await;
    assert_eq!(cards.json["data"].as_array().unwrap().len(), 3);

    // Lists, searches and counts.
    let r = gql(
        &shop,
        r#"{ full: giftCards(first: 10, query: "balance_status:full") { nodes { id } }
             partial: giftCards(first: 10, query: "balance_status:partial", sortKey: BALANCE) { nodes { id } }
             all: giftCardsCount { count precision } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        r.json["data"]["full"]["nodes"],
        json!([{"id": "gid://shopify/GiftCard/2"}, {"id": "gid://shopify/GiftCard/3"}]),
        "{}",
        r.json
    );
    assert_eq!(
        r.json["data"]["partial"]["nodes"],
        json!([{"id": "gid://shopify/GiftCard/1"}])
    );
    assert_eq!(
        r.json["data"]["all"],
        json!({"count": 3, "precision": "EXACT"})
    );

    // REST: the same cards, numeric ids, the whole code in the create
    // answer only.
    let base = "/admin/api/2026-01";
    let one = rest(
        &shop,
        "GET",
        &format!("{base}/gift_cards/2.json"),
        Value::Null,
    )
    .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.json);
    assert_eq!(one.json["gift_card"]["balance"], "25.00");
    assert_eq!(one.json["gift_card"]["customer_id"], 1);
    assert_eq!(one.json["gift_card"]["note"], "late parcel");
    assert_eq!(one.json["gift_card"].get("code"), None);
    let made = rest(
        &shop,
        "POST",
        &format!("{base}/gift_cards.json"),
        json!({"gift_card": {"initial_value": "15.00", "code": "RESTCARD01"}}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    assert_eq!(made.json["gift_card"]["id"], 4);
    assert_eq!(made.json["gift_card"]["code"], "RESTCARD01");
    let taken = rest(
        &shop,
        "POST",
        &format!("{base}/gift_cards.json"),
        json!({"gift_card": {"initial_value": "15.00", "code": "RESTCARD01"}}),
    )
    .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(taken.json["errors"]["code"][0], "has already been taken");
    let page = rest(
        &shop,
        "GET",
        &format!("{base}/gift_cards.json?limit=2&since_id=1"),
        Value::Null,
    )
    .await;
    let ids: Vec<&Value> = page.json["gift_cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, [&json!(2), &json!(3)], "{}", page.json);
    let count = rest(
        &shop,
        "GET",
        &format!("{base}/gift_cards/count.json"),
        Value::Null,
    )
    .await;
    assert_eq!(count.json["count"], 4);
    let found = rest(
        &shop,
        "GET",
        &format!("{base}/gift_cards/search.json?query=last_characters:rd01"),
        Value::Null,
    )
    .await;
    assert_eq!(found.json["gift_cards"][0]["id"], 4, "{}", found.json);
    let bad = rest(
        &shop,
        "GET",
        &format!("{base}/gift_cards/search.json?query=tag:x"),
        Value::Null,
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.json);
}
