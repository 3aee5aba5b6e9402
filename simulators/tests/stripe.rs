//! The Stripe dialect in process, over the same pay simulator as the native
//! API: a write through either is seen by the other and in the change feed,
//! events render as Stripe's, and a Stripe webhook endpoint gets them signed.

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

const SK: &str = "sk_test_anything";

fn stripe(w: &World) -> App {
    App(w.sims.stripe_router())
}

async fn form(app: &App, method: &str, path: &str, body: &str, idem: Option<&str>) -> Reply {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {SK}"))
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(k) = idem {
        b = b.header("idempotency-key", k);
    }
    app.request(b.body(Body::from(body.to_owned())).unwrap())
        .await
}

async fn get(app: &App, path: &str) -> Reply {
    form(app, "GET", path, "", None).await
}

async fn feed(w: &World) -> Vec<Value> {
    let r = w.pay().get("/v1/events?limit=1000").await;
    r.json["events"].as_array().unwrap().clone()
}

#[tokio::test(start_paused = true)]
async fn a_stripe_write_is_native_and_in_the_feed() {
    let w = World::new();
    let s = stripe(&w);
    let r = form(
        &s,
        "POST",
        "/v1/payment_intents",
        "amount=1250&currency=usd&payment_method=pm_card_visa&confirm=true&capture_method=manual\
         &metadata[order_id]=7",
        Some("k-1"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.headers["request-id"], "req_00000000000001");
    let id = r.json["id"].as_str().unwrap().to_owned();
    let native = w.pay().get(&format!("/v1/payment_intents/{id}")).await;
    assert_eq!(native.json["status"], "requires_capture");
    assert_eq!(native.json["amount"], "12.50");
    assert_eq!(native.json["currency"], "USD");
    assert_eq!(native.json["metadata"]["order_id"], "7");
    let kinds: Vec<Value> = feed(&w).await.iter().map(|e| e["type"].clone()).collect();
    assert_eq!(
        kinds,
        [
            json!("payment_intent.created"),
            json!("payment_intent.amount_capturable_updated")
        ]
    );
    // Replayed, not applied again.
    let again = form(
        &s,
        "POST",
        "/v1/payment_intents",
        "amount=1250&currency=usd&payment_method=pm_card_visa&confirm=true&capture_method=manual\
         &metadata[order_id]=7",
        Some("k-1"),
    )
    .await;
    assert_eq!(again.json, r.json);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(feed(&w).await.len(), 2);
    // A native capture shows through Stripe, in minor units.
    let c = w
        .pay()
        .post(
            &format!("/v1/payment_intents/{id}/capture"),
            json!({"amount_to_capture": "10.00"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK);
    let got = get(
        &s,
        &format!("/v1/payment_intents/{id}?expand[]=latest_charge"),
    )
    .await;
    assert_eq!(got.json["status"], "succeeded");
    assert_eq!(got.json["amount_received"], 1000);
    assert_eq!(got.json["latest_charge"]["amount_captured"], 1000);
    assert_eq!(got.json["latest_charge"]["amount_refunded"], 250);
    let events = get(&s, "/v1/events?type=charge.captured").await;
    assert_eq!(events.json["data"][0]["data"]["object"]["captured"], true);
}

#[tokio::test(start_paused = true)]
async fn a_native_write_shows_through_stripe() {
    let w = World::new();
    let s = stripe(&w);
    let r = w
        .pay()
        .post(
            "/v1/payment_intents",
            json!({"amount": "1000", "currency": "JPY",
                   "payment_method": {"type": "card", "number": "4242424242424242"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let list = get(&s, "/v1/payment_intents?limit=1").await;
    assert_eq!(list.json["object"], "list");
    assert_eq!(list.json["url"], "/v1/payment_intents");
    let pi = &list.json["data"][0];
    assert_eq!(
        (pi["amount"].as_i64(), pi["currency"].as_str()),
        (Some(1000), Some("jpy"))
    );
    assert_eq!(pi["status"], "succeeded");
    let refund = form(
        &s,
        "POST",
        "/v1/refunds",
        &format!("payment_intent={}&amount=300", pi["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(refund.status, StatusCode::OK, "{}", refund.json);
    let native = w
        .pay()
        .get(&format!(
            "/v1/refunds/{}",
            refund.json["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(native.json["amount"], "300");
    let kinds: Vec<String> = feed(&w)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds.last().map(String::as_str), Some("charge.refunded"));
}

#[tokio::test(start_paused = true)]
async fn errors_are_stripes() {
    let w = World::new();
    let s = stripe(&w);
    let r = form(
        &s,
        "POST",
        "/v1/payment_intents",
        "amount=1000&currency=usd&payment_method=pm_card_chargeDeclinedExpiredCard&confirm=true",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED);
    let e = &r.json["error"];
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("card_error"), Some("expired_card"))
    );
    assert_eq!(e["decline_code"], "expired_card");
    assert_eq!(e["payment_intent"]["status"], "requires_payment_method");
    assert_eq!(r.headers["stripe-should-retry"], "false");
    let r = get(&s, "/v1/payment_intents/pi_404").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.json["error"]["message"],
        "No such payment_intent: 'pi_404'"
    );
    let r = form(&s, "POST", "/v1/payment_intents", "currency=usd", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json["error"]["code"], "parameter_missing");
    assert_eq!(r.json["error"]["param"], "amount");
    let r = App(w.sims.stripe_router())
        .request(
            Request::builder()
                .uri("/v1/payment_intents")
                .header("authorization", "Bearer sk_live_x")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // An injected fault says it is safe to retry.
    w.sims
        .pay
        .core
        .set_faults(omnisim_api::common::Faults {
            error_rate: 1.0,
            ..Default::default()
        })
        .unwrap();
    let r = get(&s, "/v1/payment_intents").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json["error"]["type"], "api_error");
    assert_eq!(r.headers["stripe-should-retry"], "true");
}

#[tokio::test(start_paused = true)]
async fn stripe_endpoints_get_stripe_events_signed() {
    let w = World::new();
    let got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let sink = Arc::clone(&got);
    w.transport.mount(
        "hook.test",
        Router::new().route(
            "/stripe",
            post(move |headers: HeaderMap, body: Bytes| {
                let sink = Arc::clone(&sink);
                async move {
                    sink.lock().unwrap().push((headers, body));
                    StatusCode::OK
                }
            }),
        ),
    );
    let s = stripe(&w);
    let r = form(
        &s,
        "POST",
        "/v1/webhook_endpoints",
        "url=http://hook.test/stripe&enabled_events[0]=charge.succeeded&enabled_events[1]=payment_intent.succeeded",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let secret = r.json["secret"].as_str().unwrap().to_owned();
    assert_eq!(r.json["id"], "we_pay_0001");
    form(
        &s,
        "POST",
        "/v1/payment_intents",
        "amount=500&currency=usd&payment_method=pm_card_visa&confirm=true",
        None,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = got.lock().unwrap().clone();
    let types: Vec<String> = got
        .iter()
        .map(|(_, b)| {
            serde_json::from_slice::<Value>(b).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(types, ["charge.succeeded", "payment_intent.succeeded"]);
    for (headers, body) in &got {
        omnisim_api::signing::verify(
            Scheme::Stripe,
            std::slice::from_ref(&secret),
            "http://hook.test/stripe",
            headers,
            body,
            w.clock.now(),
        )
        .unwrap();
    }
    let event: Value = serde_json::from_slice(&got[1].1).unwrap();
    let listed = get(&s, &format!("/v1/events/{}", event["id"].as_str().unwrap())).await;
    assert_eq!(listed.json, event);
}
