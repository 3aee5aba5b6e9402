//! `omnisim serve` and `omnisim engine` as real child processes on loopback:
//! what a vendor sees. Readiness is polled; nothing sleeps a fixed time to wait.

mod support;

use serde_json::json;
use support::{KEY, get, post, ready, serve, spawn, spawn_engine, until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_adjusting_one_sku_end_with_an_exact_count() {
    let (_serve, urls) = serve();
    let shop = urls["shop"].as_str().unwrap().to_owned();
    let c = reqwest::Client::new();
    ready(&c, &shop).await;
    let (s, _) = post(
        &c,
        format!("{shop}/v1/products"),
        json!({"sku": "HOT", "title": "Hot item", "price": "5.00", "currency": "USD"}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = post(
        &c,
        format!("{shop}/v1/inventory/set"),
        json!({"sku": "HOT", "location": "web", "available": 1000}),
    )
    .await;
    assert_eq!(s, 200);
    let mut tasks = Vec::new();
    for client in 0..64 {
        let c = c.clone();
        let shop = shop.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..10 {
                let delta = if (client + n) % 3 == 0 { 2 } else { -1 };
                let (s, body) = post(&c, format!("{shop}/v1/inventory/adjust"), json!({"sku": "HOT", "location": "web", "delta": delta, "reason": "correction"})).await;
                assert_eq!(s, 200, "{body}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Deltas: per client, n in 0..10 with (client + n) % 3 == 0 adds 2, else removes 1.
    let expected: i64 = 1000
        + (0..64)
            .map(|cl: i64| {
                (0..10)
                    .map(|n: i64| if (cl + n) % 3 == 0 { 2 } else { -1 })
                    .sum::<i64>()
            })
            .sum::<i64>();
    let level = get(&c, format!("{shop}/v1/inventory/HOT?location=web")).await;
    assert_eq!(level["available"], expected);
    let events = get(&c, format!("{shop}/v1/events?limit=1000")).await;
    let adjusts = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["type"] == "inventory_levels/update" && e["data"]["cause"]["kind"] == "adjust"
        })
        .count();
    assert_eq!(adjusts, 640, "one event per adjust, none lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_process_syncs_a_store_sale_and_refuses_forged_webhooks() {
    let (_serve, urls) = serve();
    let (pos, shop, pay) = (
        urls["pos"].as_str().unwrap().to_owned(),
        urls["shop"].as_str().unwrap().to_owned(),
        urls["pay"].as_str().unwrap().to_owned(),
    );
    let c = reqwest::Client::new();
    for base in [&pos, &shop, &pay] {
        ready(&c, base).await;
    }
    // The merchant: 5 mugs in store-1 on both channels.
    assert_eq!(
        post(
            &c,
            format!("{pos}/v1/items"),
            json!({"sku": "MUG", "name": "Mug", "price": "12.50", "currency": "USD"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        post(
            &c,
            format!("{shop}/v1/products"),
            json!({"sku": "MUG", "title": "Mug", "price": "12.50", "currency": "USD"})
        )
        .await
        .0,
        200
    );
    let now = get(&c, format!("{pos}/_control/clock")).await["now"].clone();
    let (s, body) = post(&c, format!("{pos}/v1/inventory/changes"), json!({"changes": [{"type": "PHYSICAL_COUNT", "sku": "MUG", "location": "store-1", "quantity": 5, "occurred_at": now}]})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        post(
            &c,
            format!("{shop}/v1/inventory/set"),
            json!({"sku": "MUG", "location": "store-1", "available": 5})
        )
        .await
        .0,
        200
    );

    let (_engine, engine, state) = spawn_engine(&pos, &shop, &pay, "engine-test");
    ready(&c, &engine).await;

    // A store sale reaches shop availability.
    let (s, body) = post(&c, format!("{pos}/v1/sales"), json!({"location": "store-1", "lines": [{"sku": "MUG", "quantity": 2}], "tenders": [{"type": "cash", "amount": "25.00"}]})).await;
    assert_eq!(s, 200, "{body}");
    until("the sale to reach the shop", || async {
        get(&c, format!("{shop}/v1/inventory/MUG?location=store-1")).await["available"] == 3
    })
    .await;

    // A shop cancellation voids the authorization.
    let (s, order) = post(&c, format!("{shop}/v1/orders"), json!({"lines": [{"sku": "MUG", "quantity": 1}], "payment": {"type": "card", "number": "4242424242424242"}, "pickup_location": "store-1"})).await;
    assert_eq!(s, 200, "{order}");
    until("the order to be set aside in store", || async {
        get(&c, format!("{pos}/v1/inventory/MUG?location=store-1")).await["quantity"] == 2
    })
    .await;
    let (s, _) = post(
        &c,
        format!("{shop}/v1/orders/{}/cancel", order["id"].as_str().unwrap()),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    let intent = get(
        &c,
        format!(
            "{pay}/v1/payment_intents/{}",
            order["payment_intent"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(intent["status"], "canceled");
    until("the reservation to be released", || async {
        get(&c, format!("{pos}/v1/inventory/MUG?location=store-1")).await["quantity"] == 3
    })
    .await;

    // A forged webhook is refused and applies nothing.
    let forged = json!({"id": "evt_pos_forged", "seq": 99, "type": "inventory.count.updated", "occurred_at": now,
        "data": {"sku": "MUG", "location": "store-1", "quantity": 0, "cause": {"kind": "sale", "reference": null, "delta": -3}}});
    let r = c
        .post(format!("{engine}/webhooks/pos"))
        .header("x-square-hmacsha256-signature", "Zm9yZ2Vk")
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let status = get(&c, format!("{engine}/status")).await;
    assert_eq!(status["counters"]["rejected_signatures"], 1);
    assert_eq!(
        get(&c, format!("{shop}/v1/inventory/MUG?location=store-1")).await["available"],
        3
    );
    let _ = std::fs::remove_dir_all(&state);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_engine_resumes_from_its_cursors_and_applies_nothing_twice() {
    let (_serve, urls) = serve();
    let (pos, shop, pay) = (
        urls["pos"].as_str().unwrap().to_owned(),
        urls["shop"].as_str().unwrap().to_owned(),
        urls["pay"].as_str().unwrap().to_owned(),
    );
    let c = reqwest::Client::new();
    for base in [&pos, &shop, &pay] {
        ready(&c, base).await;
    }
    assert_eq!(
        post(
            &c,
            format!("{pos}/v1/items"),
            json!({"sku": "MUG", "name": "Mug", "price": "12.50", "currency": "USD"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        post(
            &c,
            format!("{shop}/v1/products"),
            json!({"sku": "MUG", "title": "Mug", "price": "12.50", "currency": "USD"})
        )
        .await
        .0,
        200
    );
    let now = get(&c, format!("{pos}/_control/clock")).await["now"].clone();
    post(&c, format!("{pos}/v1/inventory/changes"), json!({"changes": [{"type": "PHYSICAL_COUNT", "sku": "MUG", "location": "store-1", "quantity": 10, "occurred_at": now}]})).await;
    post(
        &c,
        format!("{shop}/v1/inventory/set"),
        json!({"sku": "MUG", "location": "store-1", "available": 10}),
    )
    .await;
    let state = std::env::temp_dir().join(format!("omnisim-engine-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let envs = [
        ("OMNISIM_POS_URL", pos.clone()),
        ("OMNISIM_SHOP_URL", shop.clone()),
        ("OMNISIM_PAY_URL", pay.clone()),
        ("OMNISIM_API_KEY", KEY.to_owned()),
        ("OMNISIM_CONNECTOR_PORT", "0".to_owned()),
        ("OMNISIM_STATE_DIR", state.display().to_string()),
        ("OMNISIM_ENGINE_RECONCILE_EVERY", "1s".to_owned()),
    ];
    // 12.50 a mug, in exact decimal strings.
    let sale = |n: i64| {
        let cents = 1250 * n;
        json!({"location": "store-1", "lines": [{"sku": "MUG", "quantity": n}], "tenders": [{"type": "cash", "amount": format!("{}.{:02}", cents / 100, cents % 100)}]})
    };
    let level = || async {
        get(&c, format!("{shop}/v1/inventory/MUG?location=store-1")).await["available"]
            .as_i64()
            .unwrap_or(-1)
    };
    {
        let (mut engine, line) = spawn(&["engine"], &envs);
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .to_owned();
        ready(&c, &url).await;
        assert_eq!(post(&c, format!("{pos}/v1/sales"), sale(1)).await.0, 200);
        until("the first sale to sync", || async { level().await == 9 }).await;
        engine.0.kill().expect("SIGKILL");
        engine.0.wait().unwrap();
    }
    assert_eq!(post(&c, format!("{pos}/v1/sales"), sale(2)).await.0, 200);
    assert_eq!(post(&c, format!("{pos}/v1/sales"), sale(3)).await.0, 200);
    assert_eq!(level().await, 9, "nobody syncs while the engine is down");
    let (_engine, line) = spawn(&["engine"], &envs);
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    ready(&c, &url).await;
    until("the restarted engine to catch up", || async {
        level().await == 4
    })
    .await;
    // Give duplicate paths (late webhooks, the next reconcile) their chance to double-apply.
    let status = || async { get(&c, format!("{url}/status")).await };
    let rounds = status().await["counters"]["poll_rounds"]
        .as_i64()
        .unwrap_or(0);
    until("two more reconcile passes", || async {
        status().await["counters"]["poll_rounds"]
            .as_i64()
            .unwrap_or(0)
            >= rounds + 2
    })
    .await;
    assert_eq!(level().await, 4, "each sale applied exactly once");
    let _ = std::fs::remove_dir_all(&state);
}
