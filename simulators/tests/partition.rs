//! The `partition` fault, in virtual time: requests with the connector's key
//! are held and refused (503 `partitioned`) without being applied, requests
//! with an actor key go through, webhook deliveries fail while cut and arrive
//! after the heal on the normal retry schedule. Also the `read_only` fault,
//! which serves reads and refuses every write, `lost_write_answers`, which
//! loses the answers to the connector's writes only, and the rate limit's record
//! of requests the connector sent again before their `Retry-After`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::post;
use http::{Request, StatusCode};
use omnisim_api::Clock;
use omnisim_simulators::inprocess::RouterTransport;
use omnisim_simulators::layers::PARTITION_HOLD;
use omnisim_simulators::webhooks::PARTITIONED_DELIVERY;
use omnisim_simulators::{Simulators, SimulatorsConfig};
use serde_json::{Value, json};
use tower::ServiceExt;

const CONNECTOR: &str = "connector_key";
const ACTOR: &str = "actor_key";

type Received = Arc<Mutex<Vec<String>>>;

/// The three simulators with an actor key, and a receiver at `engine.sim`
/// that answers 200 and keeps each delivered event id.
fn world() -> (Simulators, Received) {
    let clock = Clock::new(
        chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .to_utc(),
    );
    let transport = RouterTransport::new();
    let sims = Simulators::new(SimulatorsConfig {
        clock,
        api_key: CONNECTOR.into(),
        seed: 5,
        transport: Arc::new(transport.clone()),
        pay_url: "http://pay.sim".into(),
        delay_scale: 1,
    });
    sims.accept_actor_key(ACTOR);
    transport.mount("pay.sim", sims.pay_router());
    let received: Received = Arc::default();
    let receiver = Router::new()
        .route(
            "/webhooks/pos",
            post(
                |State(r): State<Received>, body: axum::body::Bytes| async move {
                    let event: Value = serde_json::from_slice(&body).unwrap_or_default();
                    r.lock()
                        .unwrap()
                        .push(event["id"].as_str().unwrap_or("").to_owned());
                    StatusCode::OK
                },
            ),
        )
        .with_state(Arc::clone(&received));
    transport.mount("engine.sim", receiver);
    (sims, received)
}

async fn call(router: &Router, key: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&body).unwrap()
        }))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let raw = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&raw).unwrap_or(Value::Null))
}

fn item(sku: &str) -> Value {
    json!({"sku": sku, "name": sku, "price": "4.00", "currency": "USD"})
}

#[tokio::test(start_paused = true)]
async fn a_partition_holds_and_refuses_the_connector_and_lets_actors_through() {
    let (sims, received) = world();
    let pos = sims.pos_router();
    let (s, sub) = call(
        &pos,
        CONNECTOR,
        "POST",
        "/v1/webhook_subscriptions",
        json!({"url": "http://engine.sim/webhooks/pos", "topics": ["*"]}),
    )
    .await;
    assert_eq!(s, 200, "{sub}");

    // Cut, as any client of the control API would.
    let (s, faults) = call(
        &pos,
        ACTOR,
        "POST",
        "/_control/faults",
        json!({"partition": true}),
    )
    .await;
    assert_eq!((s, &faults["partition"]), (200, &json!(true)), "{faults}");

    // The connector's write is held: no answer while the cut lasts.
    let held = tokio::spawn({
        let pos = pos.clone();
        async move { call(&pos, CONNECTOR, "POST", "/v1/items", item("HELD")).await }
    });
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(!held.is_finished(), "a partitioned request gets no answer");

    // A clerk (actor key) still reaches the register, and the change it makes
    // is delivered nowhere: the attempt fails as a connection failure.
    let (s, r) = call(&pos, ACTOR, "POST", "/v1/items", item("MUG")).await;
    assert_eq!(s, 200, "{r}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, d) = call(&pos, ACTOR, "GET", "/_control/deliveries", Value::Null).await;
    let attempts = d["data"].as_array().unwrap().clone();
    assert_eq!(attempts.len(), 1, "{d}");
    assert_eq!(attempts[0]["status"], Value::Null);
    assert!(
        attempts[0]["error"]
            .as_str()
            .unwrap()
            .contains(PARTITIONED_DELIVERY),
        "{d}"
    );
    assert!(received.lock().unwrap().is_empty());
    // The clerk reads the register as usual.
    let (s, _) = call(&pos, ACTOR, "GET", "/v1/items/MUG", Value::Null).await;
    assert_eq!(s, 200);

    // Heal: the held request is answered 503 `partitioned`, and was not applied.
    let (s, _) = call(&pos, ACTOR, "POST", "/_control/faults", json!({})).await;
    assert_eq!(s, 200);
    let (s, r) = held.await.unwrap();
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (503, Some("partitioned")),
        "{r}"
    );
    let (s, _) = call(&pos, CONNECTOR, "GET", "/v1/items/HELD", Value::Null).await;
    assert_eq!(s, 404, "nothing was applied");
    assert_eq!(sims.pos.core.partitioned_requests(), 1);
    // After the heal the connector gets through again.
    let (s, _) = call(&pos, CONNECTOR, "GET", "/v1/items/MUG", Value::Null).await;
    assert_eq!(s, 200);

    // The failed delivery is retried on the Square schedule (1 minute) and
    // arrives after the heal.
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert_eq!(received.lock().unwrap().len(), 1);
    let (_, d) = call(&pos, ACTOR, "GET", "/_control/deliveries", Value::Null).await;
    let last = d["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["attempt"].as_u64(), last["status"].as_u64()),
        (Some(2), Some(200)),
        "{d}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_long_partition_refuses_held_requests_after_the_bound() {
    let (sims, _) = world();
    let pos = sims.pos_router();
    sims.set_partitioned("pos", true).unwrap();
    let started = tokio::time::Instant::now();
    let (s, r) = call(&pos, CONNECTOR, "POST", "/v1/items", item("LATE")).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (503, Some("partitioned")),
        "{r}"
    );
    assert_eq!(started.elapsed(), PARTITION_HOLD);
    assert!(sims.pos.core.partitioned());
    // Other faults are kept when the partition is set and healed on its own.
    let (s, _) = call(
        &pos,
        ACTOR,
        "POST",
        "/_control/faults",
        json!({"partition": true, "clock_skew_ms": 5}),
    )
    .await;
    assert_eq!(s, 200);
    sims.set_partitioned("pos", false).unwrap();
    assert_eq!(sims.pos.core.faults().clock_skew_ms, 5);
    assert!(!sims.pos.core.partitioned());
    assert!(sims.set_partitioned("bank", true).is_err());
    let (s, _) = call(&pos, CONNECTOR, "GET", "/v1/items/LATE", Value::Null).await;
    assert_eq!(s, 404, "nothing was applied");
}

#[tokio::test(start_paused = true)]
async fn the_platforms_reach_a_partitioned_gateway_with_their_own_key() {
    let (sims, _) = world();
    sims.set_partitioned("pay", true).unwrap();
    // The shop's and the register's calls to the gateway are not the
    // connector's: they go through.
    let page: Value = tokio::time::timeout(
        Duration::from_secs(5),
        sims.pay_client.0.get("/v1/events?limit=1"),
    )
    .await
    .expect("not held")
    .expect("answered");
    assert!(page["events"].is_array(), "{page}");
    // The connector is held; an unknown key is still refused at once.
    let pay = sims.pay_router();
    let (s, _) = call(&pay, "nobody", "GET", "/v1/events", Value::Null).await;
    assert_eq!(s, 401);
    let held = tokio::time::timeout(
        Duration::from_secs(5),
        call(&pay, CONNECTOR, "GET", "/v1/events", Value::Null),
    )
    .await;
    assert!(held.is_err(), "the connector's read is held");
}

/// The `read_only` fault: reads are served, every write is refused with 503
/// `read_only` and applied nowhere; GraphQL queries read, mutations write.
#[tokio::test(start_paused = true)]
async fn a_read_only_platform_serves_reads_and_refuses_writes() {
    let (sims, _) = world();
    let pos = sims.pos_router();
    let (s, r) = call(&pos, ACTOR, "POST", "/v1/items", item("MUG")).await;
    assert_eq!(s, 200, "{r}");
    let (s, f) = call(
        &pos,
        ACTOR,
        "POST",
        "/_control/faults",
        json!({"read_only": true}),
    )
    .await;
    assert_eq!((s, &f["read_only"]), (200, &json!(true)), "{f}");

    let (s, r) = call(&pos, CONNECTOR, "GET", "/v1/items/MUG", Value::Null).await;
    assert_eq!((s, &r["price"]), (200, &json!("4.00")), "{r}");
    for key in [CONNECTOR, ACTOR] {
        let (s, r) = call(
            &pos,
            key,
            "PATCH",
            "/v1/items/MUG",
            json!({"price": "5.00"}),
        )
        .await;
        assert_eq!((s, &r["error"]["code"]), (503, &json!("read_only")), "{r}");
        let (s, r) = call(&pos, key, "POST", "/v1/items", item("CUP")).await;
        assert_eq!((s, &r["error"]["code"]), (503, &json!("read_only")), "{r}");
    }
    // Nothing was applied.
    let (_, r) = call(&pos, ACTOR, "GET", "/v1/items/MUG", Value::Null).await;
    assert_eq!(r["price"], json!("4.00"), "{r}");
    let (s, _) = call(&pos, ACTOR, "GET", "/v1/items/CUP", Value::Null).await;
    assert_eq!(s, 404);

    // Lifted, writes go through again.
    let (s, _) = call(&pos, ACTOR, "POST", "/_control/faults", json!({})).await;
    assert_eq!(s, 200);
    let (s, r) = call(
        &pos,
        CONNECTOR,
        "PATCH",
        "/v1/items/MUG",
        json!({"price": "5.00"}),
    )
    .await;
    assert_eq!((s, &r["price"]), (200, &json!("5.00")), "{r}");
}

/// The `lost_write_answers` fault: the connector's writes are applied and
/// answered only with a 504 `timeout` after `timeout_ms`; its reads are
/// answered, and so are an actor's writes. A rate above 1 is refused by name.
#[tokio::test(start_paused = true)]
async fn lost_write_answers_lose_the_connectors_writes_answers_only() {
    let (sims, _) = world();
    let pos = sims.pos_router();
    let (s, r) = call(&pos, ACTOR, "POST", "/v1/items", item("MUG")).await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = call(
        &pos,
        ACTOR,
        "POST",
        "/_control/faults",
        json!({"lost_write_answers": 1.5}),
    )
    .await;
    assert_eq!(
        (s, &r["error"]["field"]),
        (422, &json!("lost_write_answers")),
        "{r}"
    );
    let (s, _) = call(
        &pos,
        ACTOR,
        "POST",
        "/_control/faults",
        json!({"lost_write_answers": 1.0, "timeout_ms": 3000}),
    )
    .await;
    assert_eq!(s, 200);

    let sent = tokio::time::Instant::now();
    let (s, r) = call(
        &pos,
        CONNECTOR,
        "PATCH",
        "/v1/items/MUG",
        json!({"price": "5.00"}),
    )
    .await;
    assert_eq!((s, &r["error"]["code"]), (504, &json!("timeout")), "{r}");
    assert!(
        sent.elapsed() >= Duration::from_millis(3000),
        "held for timeout_ms"
    );
    // It landed all the same, and the connector's read says so.
    let (s, r) = call(&pos, CONNECTOR, "GET", "/v1/items/MUG", Value::Null).await;
    assert_eq!((s, &r["price"]), (200, &json!("5.00")), "{r}");
    // Everyone else's writes are answered.
    let (s, r) = call(
        &pos,
        ACTOR,
        "PATCH",
        "/v1/items/MUG",
        json!({"price": "6.00"}),
    )
    .await;
    assert_eq!((s, &r["price"]), (200, &json!("6.00")), "{r}");
}

/// A duplicate comes at once or later, not both; the refusal names the field.
#[tokio::test(start_paused = true)]
async fn a_duplicate_cannot_be_both_simultaneous_and_late() {
    let (sims, _) = world();
    let pos = sims.pos_router();
    let both = json!({"webhooks": {"duplicate_rate": 1.0, "duplicate_simultaneous": true,
                                   "duplicate_after_ms": 90_000_000u64}});
    let (s, r) = call(&pos, ACTOR, "POST", "/_control/faults", both).await;
    assert_eq!(
        (s / 100, &r["error"]["field"]),
        (4, &json!("webhooks.duplicate_after_ms")),
        "{r}"
    );
    let late = json!({"webhooks": {"duplicate_rate": 1.0, "duplicate_after_ms": 90_000_000u64}});
    let (s, r) = call(&pos, ACTOR, "POST", "/_control/faults", late).await;
    assert_eq!(s, 200, "{r}");
}

/// A rate limit of one request, leaking one a second: the second request is
/// refused with `Retry-After: 1`, and the platform notes (in
/// `/_control/throttle`) the connector sending that same request again
/// inside the second, not a different request, not an actor's, and not the
/// same one once the second has passed.
#[tokio::test(start_paused = true)]
async fn the_rate_limit_records_requests_sent_again_before_their_retry_after() {
    let (sims, _) = world();
    let pos = sims.pos_router();
    let (s, _) = call(
        &pos,
        ACTOR,
        "POST",
        "/_control/faults",
        json!({"rate_limit": {"capacity": 1, "leak_per_sec": 1}}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call(&pos, CONNECTOR, "POST", "/v1/items", item("FIRST")).await;
    assert_eq!(s, 200);
    let (s, r) = call(&pos, CONNECTOR, "POST", "/v1/items", item("SECOND")).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{r}"
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    // Another request (another body) and an actor's are no retry of it.
    let (s, _) = call(&pos, CONNECTOR, "POST", "/v1/items", item("THIRD")).await;
    assert_eq!(s, 429);
    let (s, _) = call(&pos, ACTOR, "POST", "/v1/items", item("SECOND")).await;
    assert_eq!(s, 200);
    // The same request, 300 ms into its one-second wait: too soon.
    let (s, _) = call(&pos, CONNECTOR, "POST", "/v1/items", item("SECOND")).await;
    assert_eq!(s, 429);

    let (s, t) = call(&pos, ACTOR, "GET", "/_control/throttle", Value::Null).await;
    assert_eq!(s, 200);
    assert_eq!(
        (t["refused"].as_u64(), t["early_total"].as_u64()),
        (Some(3), Some(1)),
        "{t}"
    );
    let early = &t["early"][0];
    assert_eq!(early["request"], "POST /v1/items", "{t}");
    assert_eq!(early["retry_after_secs"], 1, "{t}");
    assert_eq!(early["refused_at"], "2026-03-02T09:00:00Z", "{t}");
    assert_eq!(early["at"], "2026-03-02T09:00:00.300Z", "{t}");

    // Once its wait has passed, the same request may come again, even with
    // the rate limit lifted meanwhile.
    let (s, _) = call(&pos, ACTOR, "POST", "/_control/faults", json!({})).await;
    assert_eq!(s, 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (s, r) = call(&pos, CONNECTOR, "POST", "/v1/items", item("SECOND")).await;
    // Answered (the clerk made that item meanwhile), and on time.
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (409, Some("sku_exists")),
        "{r}"
    );
    let (_, t) = call(&pos, ACTOR, "GET", "/_control/throttle", Value::Null).await;
    assert_eq!(t["early_total"].as_u64(), Some(1), "{t}");
}
