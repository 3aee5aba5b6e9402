//! Exactness under concurrency, over real loopback HTTP against an
//! `omnisim serve` child process: no lost update, no double apply, no oversell.
//!
//! `OMNISIM_CONCURRENCY_ADJUSTS` sets the adjusts per client of the first test
//! (default 10,000: 64 × 10,000 = 640,000 requests).

mod support;

use std::sync::Arc;

use serde_json::{Value, json};
use support::{get, post, post_keyed, ready, serve};

const CLIENTS: i64 = 64;

fn adjusts_per_client() -> i64 {
    std::env::var("OMNISIM_CONCURRENCY_ADJUSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn delta(client: i64, n: i64) -> i64 {
    if (client + n) % 3 == 0 { 2 } else { -1 }
}

async fn product(c: &reqwest::Client, shop: &str, sku: &str, available: i64) {
    let (s, body) = post(
        c,
        format!("{shop}/v1/products"),
        json!({"sku": sku, "title": sku, "price": "5.00", "currency": "USD"}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = post(
        c,
        format!("{shop}/v1/inventory/set"),
        json!({"sku": sku, "location": "web", "available": available}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
}

async fn events_committed(c: &reqwest::Client, base: &str) -> i64 {
    get(c, format!("{base}/_control/snapshot")).await["events"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_doing_ten_thousand_adjusts_each_end_with_an_exact_count() {
    let (_serve, urls) = serve();
    let shop = urls["shop"].as_str().unwrap().to_owned();
    let c = reqwest::Client::new();
    ready(&c, &shop).await;
    product(&c, &shop, "HOT", 1_000_000).await;
    let events_before = events_committed(&c, &shop).await;
    let per_client = adjusts_per_client();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let c = c.clone();
        let url = format!("{shop}/v1/inventory/adjust");
        tasks.push(tokio::spawn(async move {
            for n in 0..per_client {
                let body = json!({"sku": "HOT", "location": "web",
                    "delta": delta(client, n), "reason": "correction"});
                let (s, body) = post(&c, url.clone(), body).await;
                assert_eq!(s, 200, "{body}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let expected: i64 = 1_000_000
        + (0..CLIENTS)
            .map(|cl| (0..per_client).map(|n| delta(cl, n)).sum::<i64>())
            .sum::<i64>();
    let level = get(&c, format!("{shop}/v1/inventory/HOT?location=web")).await;
    assert_eq!(level["available"], expected, "no update lost");
    assert_eq!(
        events_committed(&c, &shop).await - events_before,
        CLIENTS * per_client,
        "one event per adjust"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_requests_with_one_idempotency_key_apply_exactly_once() {
    let (_serve, urls) = serve();
    let shop = urls["shop"].as_str().unwrap().to_owned();
    let c = reqwest::Client::new();
    ready(&c, &shop).await;
    product(&c, &shop, "KEYED", 1_000).await;
    const KEYS: usize = 20;
    const RACERS: usize = 16;
    for k in 0..KEYS {
        let key = Arc::new(format!("race-{k}"));
        let mut tasks = Vec::new();
        for _ in 0..RACERS {
            let (c, key) = (c.clone(), Arc::clone(&key));
            let url = format!("{shop}/v1/inventory/adjust");
            tasks.push(tokio::spawn(async move {
                let body =
                    json!({"sku": "KEYED", "location": "web", "delta": 1, "reason": "correction"});
                post_keyed(&c, url, body, Some(&key)).await
            }));
        }
        let mut applied: Vec<Value> = Vec::new();
        for t in tasks {
            let (s, body) = t.await.unwrap();
            match s {
                200 => applied.push(body),
                409 => assert_eq!(body["error"]["code"], "idempotency_key_in_use", "{body}"),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert!(
            !applied.is_empty(),
            "at least the first request answers 200"
        );
        assert!(
            applied.windows(2).all(|w| w[0] == w[1]),
            "replays repeat the first answer: {applied:?}"
        );
    }
    let level = get(&c, format!("{shop}/v1/inventory/KEYED?location=web")).await;
    assert_eq!(level["available"], 1_000 + KEYS as i64, "one apply per key");

    // The same for order creation: one order per key, one authorization.
    let key = Arc::new("order-race".to_owned());
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let (c, key) = (c.clone(), Arc::clone(&key));
        let url = format!("{shop}/v1/orders");
        tasks.push(tokio::spawn(async move {
            let body = json!({"lines": [{"sku": "KEYED", "quantity": 1}],
                "payment": {"type": "card", "number": "4242424242424242"}});
            post_keyed(&c, url, body, Some(&key)).await
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let (s, body) = t.await.unwrap();
        match s {
            200 => ids.push(body["id"].as_str().unwrap().to_owned()),
            409 => assert_eq!(body["error"]["code"], "idempotency_key_in_use", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every 200 names the same order");
    let orders = get(&c, format!("{shop}/v1/orders")).await;
    assert_eq!(orders["data"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checkouts_for_the_last_unit_have_exactly_one_winner() {
    let (_serve, urls) = serve();
    let (shop, pos) = (
        urls["shop"].as_str().unwrap().to_owned(),
        urls["pos"].as_str().unwrap().to_owned(),
    );
    let c = reqwest::Client::new();
    ready(&c, &shop).await;
    ready(&c, &pos).await;
    // The shop's policy is block by default; say so anyway.
    let r = c
        .put(format!("{shop}/v1/settings"))
        .bearer_auth(support::KEY)
        .json(&json!({"sell_when_out_of_stock": "block"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    const ROUNDS: usize = 10;
    const BUYERS: usize = 16;
    for round in 0..ROUNDS {
        let sku = format!("LAST-{round}");
        product(&c, &shop, &sku, 1).await;
        let mut tasks = Vec::new();
        for _ in 0..BUYERS {
            let c = c.clone();
            let url = format!("{shop}/v1/orders");
            let sku = sku.clone();
            tasks.push(tokio::spawn(async move {
                let body = json!({"lines": [{"sku": sku, "quantity": 1}],
                    "payment": {"type": "card", "number": "4242424242424242"}});
                post(&c, url, body).await
            }));
        }
        let mut winners = 0;
        for t in tasks {
            let (s, body) = t.await.unwrap();
            match s {
                200 => winners += 1,
                409 => assert_eq!(body["error"]["code"], "out_of_stock", "{body}"),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!(winners, 1, "round {round}: exactly one checkout wins");
        let level = get(&c, format!("{shop}/v1/inventory/{sku}?location=web")).await;
        assert_eq!(level["available"], 0);
    }

    // The POS, set to block: concurrent register sales of the last unit.
    let r = c
        .put(format!("{pos}/v1/settings"))
        .bearer_auth(support::KEY)
        .json(&json!({"sell_when_out_of_stock": "block"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let now = get(&c, format!("{pos}/_control/clock")).await["now"].clone();
    for round in 0..ROUNDS {
        let sku = format!("POS-LAST-{round}");
        let (s, body) = post(
            &c,
            format!("{pos}/v1/items"),
            json!({"sku": sku, "name": sku, "price": "12.50", "currency": "USD"}),
        )
        .await;
        assert_eq!(s, 200, "{body}");
        let (s, body) = post(&c, format!("{pos}/v1/inventory/changes"), json!({"changes": [
            {"type": "PHYSICAL_COUNT", "sku": sku, "location": "store-1", "quantity": 1, "occurred_at": now}]}))
        .await;
        assert_eq!(s, 200, "{body}");
        let mut tasks = Vec::new();
        for _ in 0..BUYERS {
            let c = c.clone();
            let url = format!("{pos}/v1/sales");
            let sku = sku.clone();
            tasks.push(tokio::spawn(async move {
                let body = json!({"location": "store-1", "lines": [{"sku": sku, "quantity": 1}],
                    "tenders": [{"type": "cash", "amount": "12.50"}]});
                post(&c, url, body).await
            }));
        }
        let mut winners = 0;
        for t in tasks {
            let (s, body) = t.await.unwrap();
            match s {
                200 => winners += 1,
                409 | 422 => assert_eq!(body["error"]["code"], "out_of_stock", "{body}"),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!(winners, 1, "POS round {round}: exactly one sale wins");
        let count = get(&c, format!("{pos}/v1/inventory/{sku}?location=store-1")).await;
        assert_eq!(count["quantity"], 0);
    }
}
