//! The payment gateway over HTTP: every path, every error code, idempotency,
//! the change feed, timers in virtual time, signed webhooks, the OpenAPI
//! document and the typed client.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderMap, StatusCode};
use omnisim_api::pay::{
    CancelIntent, CaptureIntent, CaptureMethod, CreateGiftCard, CreatePaymentIntent, CreateRefund,
    IntentStatus, PaymentMethod, RefundStatus,
};
use omnisim_api::{ApiError, Scheme};
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use support::{App, Reply, World, epoch};

const OK: &str = "4242424242424242";

fn card(amount: &str, capture: &str) -> Value {
    json!({
        "amount": amount,
        "currency": "USD",
        "capture_method": capture,
        "payment_method": {"type": "card", "number": OK},
    })
}

fn with_method(amount: &str, capture: &str, method: Value) -> Value {
    json!({"amount": amount, "currency": "USD", "capture_method": capture, "payment_method": method})
}

fn at(offset: TimeDelta) -> String {
    (epoch() + offset).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// `(status, code, field)` of an error reply.
fn err(r: &Reply) -> (StatusCode, String, Option<String>) {
    let e = &r.json["error"];
    (
        r.status,
        e["code"].as_str().unwrap_or("<none>").to_owned(),
        e["field"].as_str().map(str::to_owned),
    )
}

fn want(
    status: StatusCode,
    code: &str,
    field: Option<&str>,
) -> (StatusCode, String, Option<String>) {
    (status, code.to_owned(), field.map(str::to_owned))
}

/// Every event on the feed.
async fn feed(app: &App) -> Vec<Value> {
    let r = app.get("/v1/events?limit=1000").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    r.json["events"].as_array().unwrap().clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

async fn ok(app: &App, path: &str, body: Value) -> Value {
    let r = app.post(path, body).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.json);
    r.json
}

#[tokio::test(start_paused = true)]
async fn automatic_capture_charges_at_once() {
    let w = World::new();
    let pay = w.pay();
    let r = pay
        .post(
            "/v1/payment_intents",
            json!({
                "amount": "12.5",
                "currency": "USD",
                "payment_method": {"type": "card", "number": OK},
                "metadata": {"order": "1001"},
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        r.json,
        json!({
            "id": "pi_000001",
            "status": "succeeded",
            "amount": "12.50",
            "amount_capturable": "0.00",
            "amount_received": "12.50",
            "amount_refunded": "0.00",
            "currency": "USD",
            "capture_method": "automatic",
            "payment_method": {"id": "pm_000001", "type": "card", "last4": "4242", "brand": "visa"},
            "metadata": {"order": "1001"},
            "latest_charge": "ch_000001",
            "created_at": "2026-03-02T09:00:00Z",
            "refunds": [],
        })
    );
    let got = pay.get("/v1/payment_intents/pi_000001").await;
    assert_eq!((got.status, &got.json), (StatusCode::OK, &r.json));
    let events = feed(&pay).await;
    assert_eq!(
        kinds(&events),
        ["payment_intent.created", "payment_intent.succeeded"]
    );
    assert_eq!(events[0]["id"], "evt_pay_00000001");
    assert_eq!(events[0]["data"]["status"], "requires_payment_method");
    assert_eq!(events[0]["data"]["amount"], "12.50");
    assert_eq!(events[1]["data"], r.json);
    assert_eq!(events[1]["occurred_at"], "2026-03-02T09:00:00Z");
    // The full number is never stored.
    let snap = pay.get("/_control/snapshot").await;
    assert!(!snap.json.to_string().contains(OK));
}

#[tokio::test(start_paused = true)]
async fn manual_capture_authorizes_with_capture_before_per_method() {
    let w = World::new();
    let pay = w.pay();
    let pi = ok(&pay, "/v1/payment_intents", card("40.00", "manual")).await;
    assert_eq!(pi["status"], "requires_capture");
    assert_eq!(pi["amount_capturable"], "40.00");
    assert_eq!(pi["amount_received"], "0.00");
    assert_eq!(pi["capture_before"], at(TimeDelta::days(7)));
    let present = with_method(
        "5.00",
        "manual",
        json!({"type": "card_present", "number": OK}),
    );
    let pi = ok(&pay, "/v1/payment_intents", present).await;
    assert_eq!(pi["capture_before"], at(TimeDelta::days(2)));
    assert_eq!(
        pi["payment_method"],
        json!({"id": "pm_000002", "type": "card_present", "last4": "4242", "brand": "visa"})
    );
    let wallet = with_method(
        "5.00",
        "manual",
        json!({"type": "wallet", "wallet": "google_pay", "number": OK}),
    );
    let pi = ok(&pay, "/v1/payment_intents", wallet).await;
    assert_eq!(pi["capture_before"], at(TimeDelta::days(7)));
    assert_eq!(
        pi["payment_method"],
        json!({"id": "pm_000003", "type": "wallet", "last4": "4242", "wallet": "google_pay", "brand": "visa"})
    );
    let events = feed(&pay).await;
    assert_eq!(events.len(), 6);
    assert_eq!(
        events[1]["type"],
        "payment_intent.amount_capturable_updated"
    );
    assert_eq!(events[1]["data"]["amount_capturable"], "40.00");
    assert_eq!(events[1]["data"]["status"], "requires_capture");
}

#[tokio::test(start_paused = true)]
async fn declines_answer_402_and_leave_a_failed_intent() {
    let w = World::new();
    let pay = w.pay();
    let cards = [
        ("4000000000000002", "generic_decline"),
        ("4000000000009995", "insufficient_funds"),
        ("4000000000009987", "lost_card"),
        ("4000000000009979", "stolen_card"),
        ("4000000000000069", "expired_card"),
        ("4000000000000127", "incorrect_cvc"),
        ("4000000000000119", "processing_error"),
    ];
    for (n, (number, decline)) in cards.into_iter().enumerate() {
        let id = format!("pi_{:06}", n + 1);
        let body = with_method(
            "20.00",
            "automatic",
            json!({"type": "card", "number": number}),
        );
        let r = pay.post("/v1/payment_intents", body).await;
        assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{number}");
        assert_eq!(r.json["error"]["code"], "card_declined");
        assert_eq!(r.json["error"]["decline_code"], decline);
        assert_eq!(r.json["error"]["payment_intent"], id.as_str());
        let pi = pay.get(&format!("/v1/payment_intents/{id}")).await.json;
        assert_eq!(pi["status"], "requires_payment_method");
        assert_eq!(pi["amount_received"], "0.00");
        assert_eq!(pi["last_payment_error"]["code"], "card_declined");
        assert_eq!(pi["last_payment_error"]["decline_code"], decline);
        assert_eq!(pi["payment_method"]["last4"], &number[12..]);
    }
    let events = feed(&pay).await;
    assert_eq!(events.len(), 14);
    for pair in events.chunks(2) {
        assert_eq!(
            kinds(pair),
            ["payment_intent.created", "payment_intent.payment_failed"]
        );
        assert_eq!(pair[0]["data"]["id"], pair[1]["data"]["id"]);
        assert_eq!(pair[1]["data"]["status"], "requires_payment_method");
        assert!(pair[1]["data"]["last_payment_error"]["decline_code"].is_string());
    }
    // Nothing was charged.
    let report = pay.get("/v1/reports/settlement").await.json;
    assert_eq!(report["transactions"], json!([]));
}

#[tokio::test(start_paused = true)]
async fn cards_needing_authentication_require_action() {
    let w = World::new();
    let pay = w.pay();
    let body = with_method(
        "20.00",
        "manual",
        json!({"type": "card", "number": "4000000000003220"}),
    );
    let r = pay.post("/v1/payment_intents", body).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(r.json["error"]["code"], "card_declined");
    assert_eq!(r.json["error"]["decline_code"], "authentication_required");
    assert_eq!(r.json["error"]["payment_intent"], "pi_000001");
    let pi = pay.get("/v1/payment_intents/pi_000001").await.json;
    assert_eq!(pi["status"], "requires_action");
    assert_eq!(
        kinds(&feed(&pay).await),
        ["payment_intent.created", "payment_intent.requires_action"]
    );
    let pi = ok(&pay, "/v1/payment_intents/pi_000001/cancel", json!({})).await;
    assert_eq!(pi["status"], "canceled");
}

#[tokio::test(start_paused = true)]
async fn invalid_intents_answer_422_naming_the_field() {
    let w = World::new();
    let pay = w.pay();
    ok(
        &pay,
        "/v1/gift_cards",
        json!({"code": "EURO", "balance": "10.00", "currency": "EUR"}),
    )
    .await;
    let metadata51: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases = [
        (card("0", "automatic"), "parameter_invalid", "amount"),
        (card("-3.00", "automatic"), "parameter_invalid", "amount"),
        (card("1.001", "automatic"), "parameter_invalid", "amount"),
        (card("100000000", "automatic"), "amount_too_large", "amount"),
        (
            json!({"amount": "1.00", "currency": "usd", "payment_method": {"type": "card", "number": OK}}),
            "parameter_invalid",
            "currency",
        ),
        (
            json!({"amount": "1.5", "currency": "JPY", "payment_method": {"type": "card", "number": OK}}),
            "parameter_invalid",
            "amount",
        ),
        (
            with_method(
                "1.00",
                "automatic",
                json!({"type": "card", "number": "5425233430109903"}),
            ),
            "live_card_rejected",
            "payment_method.number",
        ),
        (
            with_method(
                "1.00",
                "automatic",
                json!({"type": "card_present", "number": "4111111111111111"}),
            ),
            "live_card_rejected",
            "payment_method.number",
        ),
        (
            with_method(
                "1.00",
                "automatic",
                json!({"type": "card", "number": "42424242"}),
            ),
            "parameter_invalid",
            "payment_method.number",
        ),
        (
            with_method("1.00", "manual", json!({"type": "bank_transfer"})),
            "parameter_invalid",
            "capture_method",
        ),
        (
            with_method(
                "1.00",
                "automatic",
                json!({"type": "bank_transfer", "account": "x1"}),
            ),
            "parameter_invalid",
            "payment_method.account",
        ),
        (
            with_method(
                "1.00",
                "automatic",
                json!({"type": "gift_card", "code": "EURO"}),
            ),
            "currency_mismatch",
            "currency",
        ),
        (
            json!({"amount": "1.00", "currency": "USD", "payment_method": {"type": "card", "number": OK}, "metadata": metadata51}),
            "parameter_invalid",
            "metadata",
        ),
        (
            json!({"amount": "1.00", "currency": "USD", "payment_method": {"type": "card", "number": OK}, "metadata": {"k".repeat(41): "v"}}),
            "parameter_invalid",
            "metadata",
        ),
        (
            json!({"amount": "1.00", "currency": "USD", "payment_method": {"type": "card", "number": OK}, "metadata": {"note": "v".repeat(501)}}),
            "parameter_invalid",
            "metadata.note",
        ),
    ];
    for (body, code, field) in cases {
        let r = pay.post("/v1/payment_intents", body.clone()).await;
        assert_eq!(
            err(&r),
            want(StatusCode::UNPROCESSABLE_ENTITY, code, Some(field)),
            "{body}"
        );
    }
    let r = pay
        .post(
            "/v1/payment_intents",
            with_method(
                "1.00",
                "automatic",
                json!({"type": "gift_card", "code": "NOPE"}),
            ),
        )
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::NOT_FOUND,
            "resource_missing",
            Some("payment_method.code")
        )
    );
    // Nothing was recorded.
    assert_eq!(feed(&pay).await, Vec::<Value>::new());
    let list = pay.get("/v1/payment_intents").await.json;
    assert_eq!(list, json!({"data": [], "has_more": false}));
}

#[tokio::test(start_paused = true)]
async fn malformed_requests_answer_400_401_and_413() {
    let w = World::new();
    let pay = w.pay();
    let r = pay
        .send(
            "POST",
            "/v1/payment_intents",
            Some(b"{\"amount\":".to_vec()),
            None,
        )
        .await;
    assert_eq!(err(&r), want(StatusCode::BAD_REQUEST, "invalid_json", None));
    let r = pay
        .post(
            "/v1/payment_intents",
            json!({"amount": "1.00", "payment_method": {"type": "card", "number": OK}}),
        )
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::BAD_REQUEST,
            "parameter_missing",
            Some("currency")
        )
    );
    let r = pay
        .post(
            "/v1/payment_intents",
            json!({"amount": "1.00", "currency": "USD", "payment_method": {"type": "card"}}),
        )
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::BAD_REQUEST,
            "parameter_missing",
            Some("payment_method.number")
        )
    );
    let r = pay
        .post(
            "/v1/payment_intents",
            json!({"amount": "1.00", "currency": "USD", "payment_method": {"type": "cheque"}}),
        )
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
            Some("payment_method.type")
        )
    );
    let r = pay
        .post(
            "/v1/payment_intents",
            json!({"amount": 1.5, "currency": "USD", "payment_method": {"type": "card", "number": OK}}),
        )
        .await;
    assert_eq!(
        err(&r),
        want(StatusCode::BAD_REQUEST, "parameter_invalid", Some("amount"))
    );
    let r = pay
        .post(
            "/v1/payment_intents",
            json!({"amount": "1.00", "currency": "USD", "payment_method": {"type": "card", "number": OK}, "confirm": true}),
        )
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::BAD_REQUEST,
            "parameter_unknown",
            Some("confirm")
        )
    );
    let r = pay.post("/v1/refunds", json!({"amount": "1.00"})).await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::BAD_REQUEST,
            "parameter_missing",
            Some("payment_intent")
        )
    );
    let r = pay
        .post(
            "/v1/payment_intents/pi_000001/cancel",
            json!({"reason": "bored"}),
        )
        .await;
    assert_eq!(
        err(&r),
        want(StatusCode::BAD_REQUEST, "parameter_invalid", Some("reason"))
    );
    let r = pay.get_unauthed("/v1/payment_intents").await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            Some("Authorization")
        )
    );
    let r = pay.get_unauthed("/v1/reports/settlement").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let big = json!({
        "amount": "1.00", "currency": "USD",
        "payment_method": {"type": "card", "number": OK},
        "metadata": {"note": "x".repeat(1024 * 1024 + 10)},
    });
    let r = pay.post("/v1/payment_intents", big.clone()).await;
    assert_eq!(
        err(&r),
        want(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", None)
    );
    let r = pay.post_idem("/v1/payment_intents", big, "big-1").await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(feed(&pay).await, Vec::<Value>::new());
}

#[tokio::test(start_paused = true)]
async fn capture_is_once_partial_and_bounded() {
    let w = World::new();
    let pay = w.pay();
    ok(&pay, "/v1/payment_intents", card("40.00", "manual")).await;
    ok(&pay, "/v1/payment_intents", card("40.00", "manual")).await;
    // An empty body captures everything.
    let r = pay
        .send("POST", "/v1/payment_intents/pi_000001/capture", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["status"], "succeeded");
    assert_eq!(r.json["amount_received"], "40.00");
    assert_eq!(r.json["amount_capturable"], "0.00");
    let path = "/v1/payment_intents/pi_000002/capture";
    let r = pay.post(path, json!({"amount_to_capture": "40.01"})).await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_too_large",
            Some("amount_to_capture")
        )
    );
    let r = pay.post(path, json!({"amount_to_capture": "0"})).await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            Some("amount_to_capture")
        )
    );
    let pi = ok(&pay, path, json!({"amount_to_capture": "15"})).await;
    assert_eq!(
        (
            &pi["status"],
            &pi["amount"],
            &pi["amount_received"],
            &pi["amount_capturable"]
        ),
        (
            &json!("succeeded"),
            &json!("40.00"),
            &json!("15.00"),
            &json!("0.00")
        )
    );
    let r = pay.post(path, json!({"amount_to_capture": "5"})).await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::CONFLICT,
            "payment_intent_unexpected_state",
            None
        )
    );
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("succeeded")
    );
    let r = pay
        .post("/v1/payment_intents/pi_000404/capture", json!({}))
        .await;
    assert_eq!(
        err(&r),
        want(StatusCode::NOT_FOUND, "resource_missing", Some("id"))
    );
    let events = feed(&pay).await;
    assert_eq!(
        kinds(&events[4..]),
        ["payment_intent.succeeded", "payment_intent.succeeded"]
    );
    assert_eq!(events[5]["data"]["amount_received"], "15.00");
    let report = pay.get("/v1/reports/settlement").await.json;
    assert_eq!(report["transactions"][1]["amount"], "15.00");
    assert_eq!(report["transactions"][1]["fee"], "0.74");
}

#[tokio::test(start_paused = true)]
async fn cancel_voids_authorizations_and_refuses_final_states() {
    let w = World::new();
    let pay = w.pay();
    ok(&pay, "/v1/payment_intents", card("10.00", "manual")).await;
    ok(&pay, "/v1/payment_intents", card("10.00", "automatic")).await;
    ok(&pay, "/v1/payment_intents", card("10.00", "manual")).await;
    let r = pay
        .send("POST", "/v1/payment_intents/pi_000001/cancel", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["status"], "canceled");
    assert_eq!(r.json["cancellation_reason"], "requested_by_customer");
    assert_eq!(r.json["canceled_at"], "2026-03-02T09:00:00Z");
    assert_eq!(r.json["amount_capturable"], "0.00");
    let pi = ok(
        &pay,
        "/v1/payment_intents/pi_000003/cancel",
        json!({"reason": "fraudulent"}),
    )
    .await;
    assert_eq!(pi["cancellation_reason"], "fraudulent");
    for id in ["pi_000001", "pi_000002"] {
        let r = pay
            .post(&format!("/v1/payment_intents/{id}/cancel"), json!({}))
            .await;
        assert_eq!(
            err(&r),
            want(
                StatusCode::CONFLICT,
                "payment_intent_unexpected_state",
                None
            ),
            "{id}"
        );
    }
    let r = pay
        .post(
            "/v1/payment_intents/pi_000002/cancel",
            json!({"reason": "automatic"}),
        )
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            Some("reason")
        )
    );
    let r = pay
        .post("/v1/payment_intents/pi_000404/cancel", json!({}))
        .await;
    assert_eq!(
        err(&r),
        want(StatusCode::NOT_FOUND, "resource_missing", Some("id"))
    );
    let events = feed(&pay).await;
    let canceled: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "payment_intent.canceled")
        .collect();
    assert_eq!(canceled.len(), 2);
    assert_eq!(canceled[0]["data"]["id"], "pi_000001");
    assert_eq!(canceled[0]["data"]["status"], "canceled");
    assert_eq!(
        canceled[0]["data"]["cancellation_reason"],
        "requested_by_customer"
    );
}

#[tokio::test(start_paused = true)]
async fn authorizations_expire_on_the_timer_without_any_request() {
    let w = World::new();
    let pay = w.pay();
    ok(&pay, "/v1/payment_intents", card("10.00", "manual")).await;
    let present = with_method(
        "5.00",
        "manual",
        json!({"type": "card_present", "number": OK}),
    );
    ok(&pay, "/v1/payment_intents", present).await;
    // Sleep past both deadlines; nobody asks the simulator anything.
    tokio::time::sleep(Duration::from_secs(7 * 24 * 3600 + 60)).await;
    let events = omnisim_simulators::SimControl::all_events(w.sims.pay.as_ref());
    let canceled: Vec<&omnisim_api::Event> = events
        .iter()
        .filter(|e| e.kind == "payment_intent.canceled")
        .collect();
    assert_eq!(canceled.len(), 2);
    // Card present first, at its own deadline.
    assert_eq!(canceled[0].data["id"], "pi_000002");
    assert_eq!(canceled[0].occurred_at, epoch() + TimeDelta::days(2));
    assert_eq!(canceled[0].data["cancellation_reason"], "automatic");
    assert_eq!(canceled[0].data["canceled_at"], at(TimeDelta::days(2)));
    assert_eq!(canceled[1].data["id"], "pi_000001");
    assert_eq!(canceled[1].occurred_at, epoch() + TimeDelta::days(7));
    let pi = pay.get("/v1/payment_intents/pi_000001").await.json;
    assert_eq!(pi["status"], "canceled");
    assert_eq!(pi["amount_capturable"], "0.00");
    let r = pay
        .post("/v1/payment_intents/pi_000001/capture", json!({}))
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::CONFLICT,
            "payment_intent_unexpected_state",
            None
        )
    );
}

#[tokio::test(start_paused = true)]
async fn expiry_also_shows_lazily_on_a_read() {
    let w = World::new();
    let pay = w.pay();
    ok(&pay, "/v1/payment_intents", card("10.00", "manual")).await;
    // Simulated time jumps (as `/_control/clock` does) without tokio's timers
    // firing: the next request runs the due expiry first.
    w.clock.advance(Duration::from_secs(8 * 24 * 3600));
    let before = omnisim_simulators::SimControl::all_events(w.sims.pay.as_ref()).len();
    assert_eq!(before, 2);
    let pi = pay.get("/v1/payment_intents/pi_000001").await.json;
    assert_eq!(pi["status"], "canceled");
    assert_eq!(pi["cancellation_reason"], "automatic");
    assert_eq!(pi["canceled_at"], at(TimeDelta::days(7)));
    let events = feed(&pay).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[2]["type"], "payment_intent.canceled");
    assert_eq!(events[2]["occurred_at"], at(TimeDelta::days(8)));
}

#[tokio::test(start_paused = true)]
async fn bank_transfers_settle_an_hour_later() {
    let w = World::new();
    let pay = w.pay();
    let good = with_method("1000.00", "automatic", json!({"type": "bank_transfer"}));
    let pi = ok(&pay, "/v1/payment_intents", good).await;
    assert_eq!(pi["status"], "processing");
    assert_eq!(
        pi["payment_method"],
        json!({"id": "pm_000001", "type": "bank_transfer", "last4": "6789"})
    );
    let bad = with_method(
        "10.00",
        "automatic",
        json!({"type": "bank_transfer", "account": "000111111116"}),
    );
    ok(&pay, "/v1/payment_intents", bad).await;
    let r = pay
        .post("/v1/refunds", json!({"payment_intent": "pi_000001"}))
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::CONFLICT,
            "payment_intent_unexpected_state",
            None
        )
    );
    tokio::time::sleep(Duration::from_secs(3601)).await;
    let events = omnisim_simulators::SimControl::all_events(w.sims.pay.as_ref());
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "payment_intent.created",
            "payment_intent.processing",
            "payment_intent.created",
            "payment_intent.processing",
            "payment_intent.succeeded",
            "payment_intent.payment_failed"
        ]
    );
    assert_eq!(events[4].occurred_at, epoch() + TimeDelta::hours(1));
    assert_eq!(events[4].data["amount_received"], "1000.00");
    assert_eq!(events[5].data["status"], "requires_payment_method");
    assert_eq!(
        events[5].data["last_payment_error"]["code"],
        "bank_transfer_failed"
    );
    let report = pay.get("/v1/reports/settlement").await.json;
    assert_eq!(report["transactions"].as_array().unwrap().len(), 1);
    assert_eq!(report["transactions"][0]["fee"], "5.00");
    assert_eq!(
        report["transactions"][0]["created_at"],
        at(TimeDelta::hours(1))
    );
    // A bank refund is pending until it settles in turn.
    let re = ok(
        &pay,
        "/v1/refunds",
        json!({"payment_intent": "pi_000001", "amount": "100.00"}),
    )
    .await;
    assert_eq!(re["status"], "pending");
    tokio::time::sleep(Duration::from_secs(3601)).await;
    let re = pay.get("/v1/refunds/re_000001").await.json;
    assert_eq!(re["status"], "succeeded");
}

#[tokio::test(start_paused = true)]
async fn refunds_partial_repeated_and_bounded() {
    let w = World::new();
    let pay = w.pay();
    ok(&pay, "/v1/payment_intents", card("30.00", "automatic")).await;
    let re = ok(
        &pay,
        "/v1/refunds",
        json!({"payment_intent": "pi_000001", "amount": "10", "reason": "requested_by_customer", "metadata": {"return": "r1"}}),
    )
    .await;
    assert_eq!(
        re,
        json!({
            "id": "re_000001",
            "payment_intent": "pi_000001",
            "amount": "10.00",
            "currency": "USD",
            "status": "succeeded",
            "reason": "requested_by_customer",
            "metadata": {"return": "r1"},
            "created_at": "2026-03-02T09:00:00Z",
        })
    );
    let r = pay
        .post(
            "/v1/refunds",
            json!({"payment_intent": "pi_000001", "amount": "20.01"}),
        )
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_too_large",
            Some("amount")
        )
    );
    let r = pay
        .post(
            "/v1/refunds",
            json!({"payment_intent": "pi_000001", "amount": "-1"}),
        )
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            Some("amount")
        )
    );
    let re = ok(&pay, "/v1/refunds", json!({"payment_intent": "pi_000001"})).await;
    assert_eq!(
        (&re["id"], &re["amount"]),
        (&json!("re_000002"), &json!("20.00"))
    );
    let r = pay
        .post("/v1/refunds", json!({"payment_intent": "pi_000001"}))
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::UNPROCESSABLE_ENTITY,
            "charge_already_refunded",
            Some("payment_intent")
        )
    );
    let pi = pay.get("/v1/payment_intents/pi_000001").await.json;
    assert_eq!(pi["amount_refunded"], "30.00");
    assert_eq!(pi["refunds"], json!(["re_000001", "re_000002"]));
    let got = pay.get("/v1/refunds/re_000002").await;
    assert_eq!((got.status, &got.json), (StatusCode::OK, &re));
    let r = pay.get("/v1/refunds/re_000404").await;
    assert_eq!(
        err(&r),
        want(StatusCode::NOT_FOUND, "resource_missing", Some("id"))
    );
    let r = pay
        .post("/v1/refunds", json!({"payment_intent": "pi_000404"}))
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::NOT_FOUND,
            "resource_missing",
            Some("payment_intent")
        )
    );
    // An authorization is canceled, not refunded.
    ok(&pay, "/v1/payment_intents", card("5.00", "manual")).await;
    let r = pay
        .post("/v1/refunds", json!({"payment_intent": "pi_000002"}))
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::CONFLICT,
            "payment_intent_unexpected_state",
            None
        )
    );
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cancel")
    );
    let events = feed(&pay).await;
    let refunded: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "charge.refunded")
        .collect();
    assert_eq!(refunded.len(), 2);
    let data = &refunded[0]["data"];
    assert_eq!(data["id"], "pi_000001");
    assert_eq!(data["status"], "succeeded");
    assert_eq!(data["amount"], "30.00");
    assert_eq!(data["amount_received"], "30.00");
    assert_eq!(data["amount_refunded"], "10.00");
    assert_eq!(data["currency"], "USD");
    assert_eq!(data["refund"]["id"], "re_000001");
    assert_eq!(data["refund"]["amount"], "10.00");
    assert_eq!(refunded[1]["data"]["refund"]["amount"], "20.00");
    assert_eq!(refunded[1]["data"]["amount_refunded"], "30.00");
}

#[tokio::test(start_paused = true)]
async fn gift_cards_issue_hold_spend_and_restore() {
    let w = World::new();
    let pay = w.pay();
    let c = ok(
        &pay,
        "/v1/gift_cards",
        json!({"balance": "50", "currency": "USD"}),
    )
    .await;
    assert_eq!(
        c,
        json!({
            "code": "gc_000001",
            "number": 1,
            "balance": "50.00",
            "currency": "USD",
            "created_at": "2026-03-02T09:00:00Z",
            "initial_balance": "50.00",
            "held": "0.00",
            "captured": "0.00",
            "refunded": "0.00",
        })
    );
    let c = ok(
        &pay,
        "/v1/gift_cards",
        json!({"code": "GIFT-42", "balance": "5.00", "currency": "USD"}),
    )
    .await;
    assert_eq!(c["code"], "GIFT-42");
    let r = pay
        .post(
            "/v1/gift_cards",
            json!({"code": "GIFT-42", "balance": "5.00", "currency": "USD"}),
        )
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::CONFLICT,
            "resource_already_exists",
            Some("code")
        )
    );
    let r = pay
        .post("/v1/gift_cards", json!({"balance": "0", "currency": "USD"}))
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            Some("balance")
        )
    );
    let r = pay
        .post("/v1/gift_cards", json!({"balance": "5", "currency": "US"}))
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            Some("currency")
        )
    );
    let r = pay.get("/v1/gift_cards/nope").await;
    assert_eq!(
        err(&r),
        want(StatusCode::NOT_FOUND, "resource_missing", Some("code"))
    );

    let gift = |amount: &str, capture: &str| {
        with_method(
            amount,
            capture,
            json!({"type": "gift_card", "code": "gc_000001"}),
        )
    };
    let r = pay
        .post("/v1/payment_intents", gift("50.01", "automatic"))
        .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(r.json["error"]["decline_code"], "insufficient_funds");
    assert_eq!(r.json["error"]["payment_intent"], "pi_000001");
    let held = ok(&pay, "/v1/payment_intents", gift("30.00", "manual")).await;
    assert_eq!(
        held["payment_method"],
        json!({"id": "pm_000002", "type": "gift_card", "gift_card": "gc_000001"})
    );
    let card = pay.get("/v1/gift_cards/gc_000001").await.json;
    assert_eq!(
        (&card["balance"], &card["held"]),
        (&json!("20.00"), &json!("30.00"))
    );
    ok(
        &pay,
        "/v1/payment_intents/pi_000002/capture",
        json!({"amount_to_capture": "12.00"}),
    )
    .await;
    let card = pay.get("/v1/gift_cards/gc_000001").await.json;
    assert_eq!(
        (&card["balance"], &card["held"]),
        (&json!("38.00"), &json!("0.00"))
    );
    ok(&pay, "/v1/payment_intents", gift("10.00", "manual")).await;
    ok(&pay, "/v1/payment_intents/pi_000003/cancel", json!({})).await;
    ok(&pay, "/v1/payment_intents", gift("8.00", "automatic")).await;
    ok(&pay, "/v1/refunds", json!({"payment_intent": "pi_000004"})).await;
    let card = pay.get("/v1/gift_cards/gc_000001").await.json;
    assert_eq!(
        (
            &card["balance"],
            &card["held"],
            &card["captured"],
            &card["refunded"]
        ),
        (
            &json!("38.00"),
            &json!("0.00"),
            &json!("20.00"),
            &json!("8.00")
        )
    );
    let report = pay.get("/v1/reports/settlement").await.json;
    assert_eq!(
        report["totals"],
        json!([{"currency": "USD", "charges": "20.00", "refunds": "8.00", "fees": "0.00", "net": "12.00"}])
    );
}

#[tokio::test(start_paused = true)]
async fn intents_list_in_pages_oldest_first() {
    let w = World::new();
    let pay = w.pay();
    for _ in 0..3 {
        ok(&pay, "/v1/payment_intents", card("1.00", "automatic")).await;
    }
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let p1 = pay.get("/v1/payment_intents?limit=2").await.json;
    assert_eq!(
        (ids(&p1), &p1["has_more"]),
        (
            vec!["pi_000001".to_owned(), "pi_000002".to_owned()],
            &json!(true)
        )
    );
    let p2 = pay
        .get("/v1/payment_intents?limit=2&starting_after=pi_000002")
        .await
        .json;
    assert_eq!(
        (ids(&p2), &p2["has_more"]),
        (vec!["pi_000003".to_owned()], &json!(false))
    );
    let all = pay.get("/v1/payment_intents").await.json;
    assert_eq!(ids(&all).len(), 3);
    let r = pay.get("/v1/payment_intents?limit=0").await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            Some("limit")
        )
    );
    let r = pay.get("/v1/payment_intents?limit=ten").await;
    assert_eq!(
        err(&r),
        want(StatusCode::BAD_REQUEST, "parameter_invalid", Some("limit"))
    );
    let r = pay
        .get("/v1/payment_intents?starting_after=pi_000404")
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::NOT_FOUND,
            "resource_missing",
            Some("starting_after")
        )
    );
    let r = pay.get("/v1/payment_intents/pi_000404").await;
    assert_eq!(
        err(&r),
        want(StatusCode::NOT_FOUND, "resource_missing", Some("id"))
    );
}

#[tokio::test(start_paused = true)]
async fn settlement_reports_a_half_open_window_with_totals() {
    let w = World::new();
    let pay = w.pay();
    ok(&pay, "/v1/payment_intents", card("100.00", "automatic")).await;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let present = with_method(
        "100.00",
        "automatic",
        json!({"type": "card_present", "number": OK}),
    );
    ok(&pay, "/v1/payment_intents", present).await;
    ok(
        &pay,
        "/v1/refunds",
        json!({"payment_intent": "pi_000001", "amount": "40.00"}),
    )
    .await;
    let all = pay.get("/v1/reports/settlement").await.json;
    assert_eq!(
        all["totals"],
        json!([{"currency": "USD", "charges": "200.00", "refunds": "40.00", "fees": "5.95", "net": "154.05"}])
    );
    assert_eq!(
        all["transactions"][2],
        json!({
            "id": "txn_000003",
            "type": "refund",
            "payment_intent": "pi_000001",
            "refund": "re_000001",
            "amount": "-40.00",
            "fee": "0.00",
            "net": "-40.00",
            "currency": "USD",
            "payment_method": "card",
            "created_at": at(TimeDelta::hours(1)),
        })
    );
    assert_eq!(
        all["transactions"][0],
        json!({
            "id": "txn_000001",
            "type": "charge",
            "payment_intent": "pi_000001",
            "amount": "100.00",
            "fee": "3.20",
            "net": "96.80",
            "currency": "USD",
            "payment_method": "card",
            "created_at": "2026-03-02T09:00:00Z",
        })
    );
    let first = pay
        .get(&format!(
            "/v1/reports/settlement?from={}&to={}",
            at(TimeDelta::zero()),
            at(TimeDelta::hours(1))
        ))
        .await
        .json;
    assert_eq!(first["from"], "2026-03-02T09:00:00Z");
    assert_eq!(first["transactions"].as_array().unwrap().len(), 1);
    assert_eq!(first["totals"][0]["net"], "96.80");
    let later = pay
        .get(&format!(
            "/v1/reports/settlement?from={}",
            at(TimeDelta::hours(1))
        ))
        .await
        .json;
    assert_eq!(later["transactions"].as_array().unwrap().len(), 2);
    assert_eq!(later["totals"][0]["net"], "57.25");
    let r = pay.get("/v1/reports/settlement?from=yesterday").await;
    assert_eq!(
        err(&r),
        want(StatusCode::BAD_REQUEST, "parameter_invalid", Some("from"))
    );
    let r = pay
        .get(&format!(
            "/v1/reports/settlement?from={}&to={}",
            at(TimeDelta::hours(1)),
            at(TimeDelta::zero())
        ))
        .await;
    assert_eq!(
        err(&r),
        want(
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            Some("to")
        )
    );
}

#[tokio::test(start_paused = true)]
async fn idempotency_replays_and_refuses_mismatches() {
    let w = World::new();
    let pay = w.pay();
    let first = pay
        .post_idem("/v1/payment_intents", card("10.00", "automatic"), "order-1")
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let again = pay
        .post_idem("/v1/payment_intents", card("10.00", "automatic"), "order-1")
        .await;
    assert_eq!((again.status, &again.raw), (StatusCode::OK, &first.raw));
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let other = pay
        .post_idem("/v1/payment_intents", card("11.00", "automatic"), "order-1")
        .await;
    assert_eq!(
        err(&other),
        want(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_error",
            Some("Idempotency-Key")
        )
    );
    // A decline is replayed as the same 402, without a second intent.
    let declined = with_method(
        "10.00",
        "automatic",
        json!({"type": "card", "number": "4000000000000002"}),
    );
    let d1 = pay
        .post_idem("/v1/payment_intents", declined.clone(), "order-2")
        .await;
    let d2 = pay
        .post_idem("/v1/payment_intents", declined, "order-2")
        .await;
    assert_eq!(d1.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!((d2.status, &d2.raw), (d1.status, &d1.raw));
    // A rejected request is not stored: the corrected retry runs.
    let bad = pay
        .post_idem("/v1/payment_intents", card("0", "automatic"), "order-3")
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fixed = pay
        .post_idem("/v1/payment_intents", card("3.00", "automatic"), "order-3")
        .await;
    assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.json);
    assert_eq!(fixed.json["id"], "pi_000003");
    // Captures and refunds replay too.
    ok(&pay, "/v1/payment_intents", card("9.00", "manual")).await;
    let c1 = pay
        .post_idem("/v1/payment_intents/pi_000004/capture", json!({}), "cap-1")
        .await;
    let c2 = pay
        .post_idem("/v1/payment_intents/pi_000004/capture", json!({}), "cap-1")
        .await;
    assert_eq!((c1.status, &c1.raw), (c2.status, &c2.raw));
    assert_eq!(c1.status, StatusCode::OK);
    let body = json!({"payment_intent": "pi_000004", "amount": "1.00"});
    let r1 = pay.post_idem("/v1/refunds", body.clone(), "ref-1").await;
    let r2 = pay.post_idem("/v1/refunds", body, "ref-1").await;
    assert_eq!((r1.status, &r1.raw), (r2.status, &r2.raw));
    let pi = pay.get("/v1/payment_intents/pi_000004").await.json;
    assert_eq!(pi["amount_refunded"], "1.00");
    let list = pay.get("/v1/payment_intents?limit=100").await.json;
    assert_eq!(list["data"].as_array().unwrap().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn snapshot_and_reset_cover_the_whole_state() {
    let w = World::new();
    let pay = w.pay();
    ok(
        &pay,
        "/v1/gift_cards",
        json!({"balance": "5.00", "currency": "USD"}),
    )
    .await;
    ok(&pay, "/v1/payment_intents", card("10.00", "manual")).await;
    ok(&pay, "/v1/payment_intents", card("10.00", "automatic")).await;
    ok(&pay, "/v1/refunds", json!({"payment_intent": "pi_000002"})).await;
    let snap = pay.get("/_control/snapshot").await.json;
    assert_eq!(snap["platform"], "pay");
    let state = &snap["state"];
    assert_eq!(state["payment_intents"].as_array().unwrap().len(), 2);
    assert_eq!(state["refunds"][0]["id"], "re_000001");
    assert_eq!(state["gift_cards"][0]["code"], "gc_000001");
    assert_eq!(state["balance_transactions"].as_array().unwrap().len(), 2);
    assert_eq!(
        state["timers"],
        json!([{"kind": "expire_authorization", "id": "pi_000001", "at": at(TimeDelta::days(7))}])
    );
    assert_eq!(snap["events"], 5);
    pay.post("/_control/reset", json!({})).await;
    let snap = pay.get("/_control/snapshot").await.json;
    assert_eq!(snap["state"]["payment_intents"], json!([]));
    assert_eq!(snap["state"]["timers"], json!([]));
    let pi = ok(&pay, "/v1/payment_intents", card("1.00", "automatic")).await;
    assert_eq!(pi["id"], "pi_000001");
}

#[tokio::test(start_paused = true)]
async fn openapi_lists_every_pay_path() {
    let w = World::new();
    let doc = w.pay().get_unauthed("/openapi.json").await.json;
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/v1/payment_intents", vec!["get", "post"]),
        ("/v1/payment_intents/{id}", vec!["get"]),
        ("/v1/payment_intents/{id}/capture", vec!["post"]),
        ("/v1/payment_intents/{id}/cancel", vec!["post"]),
        ("/v1/refunds", vec!["post"]),
        ("/v1/refunds/{id}", vec!["get"]),
        ("/v1/gift_cards", vec!["post"]),
        ("/v1/gift_cards/{code}", vec!["get"]),
        ("/v1/reports/settlement", vec!["get"]),
        ("/v1/events", vec!["get"]),
        ("/v1/webhook_subscriptions", vec!["get", "post"]),
        ("/_control/snapshot", vec!["get"]),
    ];
    for (path, methods) in expected {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing from /openapi.json"));
        for m in methods {
            assert!(item.get(m).is_some(), "{m} {path}");
        }
    }
    let create = &paths["/v1/payment_intents"]["post"];
    for status in ["200", "400", "402", "404", "422"] {
        assert!(create["responses"].get(status).is_some(), "{status}");
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in [
        "PaymentIntent",
        "PaymentIntentList",
        "Refund",
        "GiftCard",
        "SettlementReport",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(s), "{s}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_typed_client_speaks_every_endpoint() {
    let w = World::new();
    let client = w.sims.pay_client.clone();
    let card = |capture| CreatePaymentIntent {
        amount: dec!(20),
        currency: "USD".into(),
        capture_method: capture,
        payment_method: PaymentMethod::Card { number: OK.into() },
        metadata: Default::default(),
    };
    let pi = client
        .create_intent(&card(CaptureMethod::Manual), Some("k1"))
        .await
        .unwrap();
    assert_eq!(pi.status, IntentStatus::RequiresCapture);
    let pi = client
        .capture(
            &pi.id,
            &CaptureIntent {
                amount_to_capture: Some(dec!(15)),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(pi.amount_received, dec!(15));
    let re = client
        .refund(
            &CreateRefund {
                payment_intent: pi.id.clone(),
                amount: None,
                reason: None,
                metadata: Default::default(),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!((re.amount, re.status), (dec!(15), RefundStatus::Succeeded));
    assert_eq!(client.get_refund(&re.id).await.unwrap(), re);
    let auth = client
        .create_intent(&card(CaptureMethod::Manual), None)
        .await
        .unwrap();
    let canceled = client
        .cancel(&auth.id, &CancelIntent::default(), None)
        .await
        .unwrap();
    assert_eq!(canceled.status, IntentStatus::Canceled);
    assert_eq!(client.intent(&auth.id).await.unwrap(), canceled);
    let page = client.list_intents(Some(1), None).await.unwrap();
    assert_eq!((page.data.len(), page.has_more), (1, true));
    let page = client
        .list_intents(Some(1), Some(&page.data[0].id))
        .await
        .unwrap();
    assert_eq!(
        (page.data[0].id.as_str(), page.has_more),
        ("pi_000002", false)
    );
    let gc = client
        .create_gift_card(
            &CreateGiftCard {
                code: None,
                balance: dec!(5),
                currency: "USD".into(),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(client.gift_card(&gc.code).await.unwrap(), gc);
    let all = client.settlement().await.unwrap();
    assert_eq!(all.transactions.len(), 2);
    let none = client
        .settlement_between(Some(epoch() + TimeDelta::hours(1)), None)
        .await
        .unwrap();
    assert!(none.transactions.is_empty());
    let some = client
        .settlement_between(Some(epoch()), Some(epoch() + TimeDelta::seconds(1)))
        .await
        .unwrap();
    assert_eq!(some.transactions.len(), 2);
    // A decline comes back as a typed 402 naming the intent.
    let mut declined = card(CaptureMethod::Automatic);
    declined.payment_method = PaymentMethod::Card {
        number: "4000000000009995".into(),
    };
    match client.create_intent(&declined, None).await {
        Err(ApiError::Status { status, body, .. }) => {
            assert_eq!(status, 402);
            assert_eq!(
                body.error.decline_code.as_deref(),
                Some("insufficient_funds")
            );
            assert_eq!(body.error.payment_intent.as_deref(), Some("pi_000003"));
        }
        other => panic!("expected a decline, got {other:?}"),
    }
}

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

fn receiver(store: Received) -> Router {
    Router::new().route(
        "/pay",
        post(move |headers: HeaderMap, body: Bytes| {
            let store = Arc::clone(&store);
            async move {
                store.lock().unwrap().push((headers, body));
                StatusCode::OK
            }
        }),
    )
}

#[tokio::test(start_paused = true)]
async fn webhooks_carry_the_feed_events_signed_like_stripe() {
    let w = World::new();
    let pay = w.pay();
    let store: Received = Arc::default();
    w.transport
        .mount("hooks.test", receiver(Arc::clone(&store)));
    let sub = ok(
        &pay,
        "/v1/webhook_subscriptions",
        json!({"url": "http://hooks.test/pay", "topics": ["payment_intent.succeeded", "charge.refunded"]}),
    )
    .await;
    let secret = sub["secret"].as_str().unwrap().to_owned();
    ok(&pay, "/v1/payment_intents", card("10.00", "automatic")).await;
    ok(
        &pay,
        "/v1/refunds",
        json!({"payment_intent": "pi_000001", "amount": "4.00"}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let got = store.lock().unwrap().clone();
    let feed_events = feed(&pay).await;
    assert_eq!(got.len(), 2);
    let now: DateTime<Utc> = epoch() + TimeDelta::seconds(60);
    for ((headers, body), want_event) in got.iter().zip([&feed_events[1], &feed_events[2]]) {
        omnisim_api::signing::verify(
            Scheme::Stripe,
            std::slice::from_ref(&secret),
            "http://hooks.test/pay",
            headers,
            body,
            now,
        )
        .unwrap();
        let event: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(&event, want_event);
    }
    let refunded: Value = serde_json::from_slice(&got[1].1).unwrap();
    assert_eq!(refunded["type"], "charge.refunded");
    assert_eq!(refunded["data"]["refund"]["amount"], "4.00");
    // Unknown topics are refused.
    let r = pay
        .post(
            "/v1/webhook_subscriptions",
            json!({"url": "http://hooks.test/pay", "topics": ["charge.succeeded"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}
