//! Every committed event names who caused it (`actor`): the connector's
//! credential on any wire, the harness's actors, the platforms calling the
//! gateway, or the platform's own timers. Labels never reveal a secret.

mod support;

use std::time::Duration;

use axum::body::Body;
use http::Request;
use omnisim_api::{ActorKind, Event};
use omnisim_simulators::SimControl;
use serde_json::json;
use support::{App, KEY, World};

const CLERK: &str = "clerk_key";

async fn post_as(app: &App, key: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let r = app.request(req).await;
    assert!(r.status.is_success(), "{path}: {} {}", r.status, r.json);
    r.json
}

fn last(events: &[Event], kind: &str) -> Event {
    events
        .iter()
        .rev()
        .find(|e| e.kind == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
        .clone()
}

#[tokio::test(start_paused = true)]
async fn each_event_names_the_credential_that_caused_it() {
    let w = World::new();
    w.sims.accept_actor_key(CLERK);
    let pos = w.pos();
    // The connector's key creates the item; the clerk counts the shelf.
    post_as(
        &pos,
        KEY,
        "/v1/items",
        json!({"sku": "MUG", "name": "Mug", "price": "10.00", "currency": "USD"}),
    )
    .await;
    post_as(
        &pos,
        CLERK,
        "/v1/inventory/changes",
        json!({"changes": [
        {"type": "PHYSICAL_COUNT", "sku": "MUG", "location": "store-1", "quantity": 5,
         "occurred_at": "2026-03-02T08:59:00Z"}]}),
    )
    .await;
    let events = w.sims.pos.all_events();
    let item = last(&events, "item.updated");
    assert_eq!(item.actor.kind, ActorKind::Connector);
    let count = last(&events, "inventory.count.updated");
    assert_eq!(count.actor.kind, ActorKind::Actor);
    // Labels are stable digests, never the key.
    assert!(item.actor.id.starts_with("app:"), "{:?}", item.actor);
    assert!(!item.actor.id.contains(KEY) && !count.actor.id.contains(CLERK));
    assert_eq!(w.sims.pos.core.identify(KEY), item.actor);

    // The shop's checkout by a customer: the order is the customer's, the
    // intent the shop's own call to the gateway.
    let shop = w.shop();
    post_as(
        &shop,
        KEY,
        "/v1/products",
        json!({"sku": "MUG", "title": "Mug", "price": "10.00", "currency": "USD", "status": "active"}),
    )
    .await;
    post_as(
        &shop,
        KEY,
        "/v1/inventory/adjust",
        json!({"sku": "MUG", "location": "web", "delta": 3, "reason": "received"}),
    )
    .await;
    post_as(
        &shop,
        CLERK,
        "/v1/orders",
        json!({"lines": [{"sku": "MUG", "quantity": 1}],
        "payment": {"type": "card", "number": "4242424242424242"}}),
    )
    .await;
    let shop_events = w.sims.shop.all_events();
    assert_eq!(
        last(&shop_events, "orders/create").actor.kind,
        ActorKind::Actor
    );
    let pay_events = w.sims.pay.all_events();
    let created = last(&pay_events, "payment_intent.created");
    assert_eq!(created.actor.kind, ActorKind::Platform);
    assert_eq!(created.actor.id, "platform");

    // The authorization expires on the gateway's own timer: `system`.
    tokio::time::sleep(Duration::from_secs(8 * 24 * 3600)).await;
    let pay_events = w.sims.pay.all_events();
    let canceled = last(&pay_events, "payment_intent.canceled");
    assert_eq!(canceled.actor.kind, ActorKind::System);

    // The feed carries the field.
    let feed = pos.get("/v1/events").await.json;
    assert_eq!(feed["events"][0]["actor"]["kind"], "connector");
}

#[test]
fn dialect_tokens_of_the_one_key_are_one_app() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let w = World::new();
        let core = &w.sims.shop.core;
        let app = core.identify(KEY);
        assert_eq!(app.kind, ActorKind::Connector);
        for token in [
            format!("sk_test_{KEY}"),
            format!("shpat_{KEY}"),
            format!("EAAA{KEY}"),
        ] {
            assert_eq!(core.identify(&token), app, "{token}");
        }
        // Another Stripe test key is accepted, and is another app.
        let other = core.identify("sk_test_somebody_else");
        assert_eq!(other.kind, ActorKind::Connector);
        assert_ne!(other, app);
        // Registered keys keep their kind.
        w.sims.accept_actor_key(CLERK);
        assert_eq!(core.identify(CLERK).kind, ActorKind::Actor);
    });
}

#[test]
fn an_event_without_an_actor_reads_as_system() {
    let e: Event = serde_json::from_value(json!({
        "id": "evt_pos_00000001", "seq": 1, "type": "item.updated",
        "occurred_at": "2026-03-02T09:00:00Z", "data": {}
    }))
    .unwrap();
    assert_eq!(e.actor.kind, ActorKind::System);
}
