//! Shared routes through the Router: auth, feed, subscriptions, control, 404/405, OpenAPI.

mod support;

use http::StatusCode;
use serde_json::json;
use support::World;

#[tokio::test(start_paused = true)]
async fn auth_is_required_except_on_health_and_docs() {
    let w = World::new();
    for app in [w.pos(), w.shop(), w.pay()] {
        let r = app.get_unauthed("/healthz").await;
        assert_eq!(r.status, StatusCode::OK);
        let r = app.get_unauthed("/openapi.json").await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.json["openapi"].as_str().unwrap().starts_with("3."));
        let r = app.get_unauthed("/v1/events").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.json["error"]["code"], "unauthorized");
        let r = app.get("/v1/events").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json["next_cursor"], "0");
    }
}

#[tokio::test(start_paused = true)]
async fn unknown_paths_and_methods_answer_json() {
    let w = World::new();
    let r = w.pay().get("/v1/nothing").await;
    assert_eq!(
        (r.status, r.json["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let r = w.pay().send("PUT", "/v1/events", None, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.json["error"]["code"], "method_not_allowed");
}

#[tokio::test(start_paused = true)]
async fn subscriptions_return_a_secret_once_and_validate_topics() {
    let w = World::new();
    let r = w
        .shop()
        .post(
            "/v1/webhook_subscriptions",
            json!({"url": "http://hook.test/shop", "topics": ["orders/create"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert!(r.json["secret"].as_str().unwrap().starts_with("whsec_"));
    let r = w.shop().get("/v1/webhook_subscriptions").await;
    assert_eq!(r.json["data"][0]["url"], "http://hook.test/shop");
    assert!(r.json["data"][0].get("secret").is_none());
    let r = w
        .shop()
        .post(
            "/v1/webhook_subscriptions",
            json!({"url": "http://hook.test/shop", "topics": ["nope"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["error"]["field"], "topics[0]");
    let r = w
        .shop()
        .post(
            "/v1/webhook_subscriptions",
            json!({"url": "not a url", "topics": ["*"]}),
        )
        .await;
    assert_eq!(r.json["error"]["field"], "url");
}

#[tokio::test(start_paused = true)]
async fn locations_exist_by_default_and_reset_restores_them() {
    let w = World::new();
    let r = w.shop().get("/v1/locations").await;
    let ids: Vec<&str> = r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["store-1", "web"]);
    let r = w
        .pos()
        .post("/v1/locations", json!({"id": "store-2", "name": "Uptown"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        w.pos().get("/v1/locations").await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = w.pos().post("/_control/reset", json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        w.pos().get("/v1/locations").await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = w.pay().get("/v1/locations").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test(start_paused = true)]
async fn faults_are_validated_and_read_back() {
    let w = World::new();
    let r = w
        .pay()
        .post("/_control/faults", json!({"error_rate": 1.5}))
        .await;
    assert_eq!(
        (r.status, r.json["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("error_rate"))
    );
    let r = w
        .pay()
        .post("/_control/faults", json!({"error_rate": 1.0}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = w.pay().get("/v1/events").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    // The control API is never faulted.
    let r = w.pay().get("/_control/faults").await;
    assert_eq!(r.json["error_rate"], 1.0);
}

#[tokio::test(start_paused = true)]
async fn rate_limit_answers_429_with_retry_after() {
    let w = World::new();
    w.shop()
        .post(
            "/_control/faults",
            json!({"rate_limit": {"capacity": 2, "leak_per_sec": 1}}),
        )
        .await;
    assert_eq!(w.shop().get("/v1/events").await.status, StatusCode::OK);
    let r = w.shop().get("/v1/events").await;
    assert_eq!(r.headers["x-shopify-shop-api-call-limit"], "2/2");
    let r = w.shop().get("/v1/events").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["retry-after"], "1");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(w.shop().get("/v1/events").await.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn bad_cursor_and_limit_name_their_field() {
    let w = World::new();
    let r = w.pos().get("/v1/events?after=abc").await;
    assert_eq!(
        (r.status, r.json["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("after"))
    );
    let r = w.pos().get("/v1/events?limit=0").await;
    assert_eq!(r.json["error"]["field"], "limit");
    let r = w.pos().get("/v1/events?limit=x").await;
    assert_eq!(
        (r.status, r.json["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("limit"))
    );
}

#[tokio::test(start_paused = true)]
async fn idempotency_replays_refuses_mismatch_and_forgets_invalid_requests() {
    let w = World::new();
    let pay = w.pay();
    let body = json!({"url": "http://hook.test/a", "topics": ["*"]});
    let first = pay
        .post_idem("/v1/webhook_subscriptions", body.clone(), "k-1")
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let again = pay
        .post_idem("/v1/webhook_subscriptions", body.clone(), "k-1")
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.raw, first.raw, "a replay is byte-identical");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(
        pay.get("/v1/webhook_subscriptions").await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let other = pay
        .post_idem(
            "/v1/webhook_subscriptions",
            json!({"url": "http://hook.test/b", "topics": ["*"]}),
            "k-1",
        )
        .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.json["error"]["code"], "idempotency_error");
    // A request that fails validation is not stored: the key can be used again.
    let bad = pay
        .post_idem(
            "/v1/webhook_subscriptions",
            json!({"url": "nope", "topics": ["*"]}),
            "k-2",
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fixed = pay
        .post_idem("/v1/webhook_subscriptions", body, "k-2")
        .await;
    assert_eq!(fixed.status, StatusCode::OK);
    // Keys longer than 255 characters are refused.
    let long = "k".repeat(256);
    let r = pay
        .post_idem("/v1/webhook_subscriptions", json!({}), &long)
        .await;
    assert_eq!(
        (r.status, r.json["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Idempotency-Key"))
    );
}

#[tokio::test(start_paused = true)]
async fn injected_timeouts_apply_the_request_and_a_retry_replays_it() {
    let w = World::new();
    let pay = w.pay();
    pay.post(
        "/_control/faults",
        json!({"timeout_rate": 1.0, "timeout_ms": 30000}),
    )
    .await;
    let body = json!({"url": "http://hook.test/a", "topics": ["*"]});
    let r = pay
        .post_idem("/v1/webhook_subscriptions", body.clone(), "t-1")
        .await;
    assert_eq!(
        (r.status, r.json["error"]["code"].as_str()),
        (StatusCode::GATEWAY_TIMEOUT, Some("timeout"))
    );
    pay.post("/_control/faults", json!({})).await;
    // It was applied: the retry with the same key gets the original answer.
    let retry = pay
        .post_idem("/v1/webhook_subscriptions", body, "t-1")
        .await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(
        pay.get("/v1/webhook_subscriptions").await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn injected_5xx_applies_nothing() {
    let w = World::new();
    let pos = w.pos();
    pos.post("/_control/faults", json!({"error_rate": 1.0}))
        .await;
    let r = pos
        .post_idem(
            "/v1/locations",
            json!({"id": "store-9", "name": "Nine"}),
            "e-1",
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    pos.post("/_control/faults", json!({})).await;
    assert_eq!(
        pos.get("/v1/locations").await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = pos
        .post_idem(
            "/v1/locations",
            json!({"id": "store-9", "name": "Nine"}),
            "e-1",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.get("idempotent-replayed").is_none());
}

#[tokio::test(start_paused = true)]
async fn malformed_json_is_400_and_names_nothing_when_unparseable() {
    let w = World::new();
    let r = w
        .shop()
        .send("POST", "/v1/locations", Some(b"{\"id\": ".to_vec()), None)
        .await;
    assert_eq!(
        (r.status, r.json["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_json"))
    );
    let r = w
        .shop()
        .post("/v1/locations", json!({"id": 5, "name": "x"}))
        .await;
    assert_eq!(
        (r.status, r.json["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("id"))
    );
    let r = w.shop().post("/v1/locations", json!({"name": "x"})).await;
    assert_eq!(
        (
            r.json["error"]["code"].as_str(),
            r.json["error"]["field"].as_str()
        ),
        (Some("parameter_missing"), Some("id"))
    );
}

#[tokio::test(start_paused = true)]
async fn the_control_clock_moves_simulated_time() {
    let w = World::new();
    let r = w.pay().get("/_control/clock").await;
    assert_eq!(r.json["now"], "2026-03-02T09:00:00Z");
    let r = w
        .pay()
        .post("/_control/clock", json!({"advance_secs": 3600}))
        .await;
    assert_eq!(r.json["now"], "2026-03-02T10:00:00Z");
    // The clock is shared by all three simulators.
    assert_eq!(
        w.pos().get("/_control/clock").await.json["now"],
        "2026-03-02T10:00:00Z"
    );
}

#[tokio::test(start_paused = true)]
async fn a_key_still_in_flight_answers_409() {
    let w = World::new();
    let shop = w.shop();
    let r = shop
        .post(
            "/v1/products",
            json!({"sku": "MUG", "title": "Mug", "price": "12.50", "currency": "USD"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    shop.post(
        "/v1/inventory/set",
        json!({"sku": "MUG", "location": "web", "available": 3}),
    )
    .await;
    // The gateway answers slowly, so the checkout holds its key while it waits.
    w.pay()
        .post(
            "/_control/faults",
            json!({"latency": {"kind": "fixed", "ms": 2000}}),
        )
        .await;
    let body = json!({"lines": [{"sku": "MUG", "quantity": 1}], "payment": {"type": "card", "number": "4242424242424242"}});
    let first = {
        let shop = shop.clone();
        let body = body.clone();
        tokio::spawn(async move { shop.post_idem("/v1/orders", body, "chk-1").await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let second = shop.post_idem("/v1/orders", body.clone(), "chk-1").await;
    assert_eq!(second.status, StatusCode::CONFLICT);
    assert_eq!(second.json["error"]["code"], "idempotency_key_in_use");
    let first = first.await.unwrap();
    assert_eq!(first.status, StatusCode::OK, "{}", first.json);
    // Once done, the same key replays the first answer: still one order.
    let third = shop.post_idem("/v1/orders", body, "chk-1").await;
    assert_eq!(third.raw, first.raw);
    assert_eq!(
        shop.get("/v1/orders").await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
