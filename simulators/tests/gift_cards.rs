//! Gift cards across channels over HTTP, with the real gateway: sold at the
//! register, given as store credit by a return, bought on the shop; each
//! issued at the gateway, and each mistake a 4xx naming its field.

mod support;

use http::StatusCode;
use omnisim_simulators::SimControl;
use serde_json::{Value, json};
use support::{App, World};

fn assert_refused(r: &support::Reply, code: &str, field: &str) {
    assert!(r.status.is_client_error(), "{} {}", r.status, r.json);
    assert_eq!(r.json["error"]["code"], code, "{}", r.json);
    assert_eq!(r.json["error"]["field"], field, "{}", r.json);
}

async fn card(pay: &App, code: &str) -> Value {
    let r = pay.get(&format!("/v1/gift_cards/{code}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    r.json
}

#[tokio::test(start_paused = true)]
async fn the_register_sells_gift_cards_and_issues_them_at_the_gateway() {
    let w = World::new();
    let (pos, pay) = (w.pos(), w.pay());
    let r = pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [],
                "gift_cards": [{"code": "GC-ANA", "amount": "50"}],
                "tenders": [{"type": "card_present", "amount": "50.00", "number": "4242424242424242"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["total"], "50.00");
    assert_eq!(
        r.json["gift_cards"],
        json!([{"code": "GC-ANA", "amount": "50.00"}])
    );
    let c = card(&pay, "GC-ANA").await;
    assert_eq!(
        (c["balance"].as_str(), c["currency"].as_str()),
        (Some("50.00"), Some("USD"))
    );
    let list = pay.get("/v1/gift_cards").await;
    assert_eq!(list.json["data"][0]["code"], "GC-ANA", "{}", list.json);

    // A code some card holds refuses the sale; nothing more is loaded.
    let again = pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [],
                "gift_cards": [{"code": "GC-ANA", "amount": "10.00"}],
                "tenders": [{"type": "cash", "amount": "10.00"}]}),
        )
        .await;
    assert_refused(&again, "resource_already_exists", "gift_cards[0].code");
    assert_eq!(card(&pay, "GC-ANA").await["balance"], "50.00");

    for (cards, field) in [
        (
            json!([{"code": "bad code", "amount": "10.00"}]),
            "gift_cards[0].code",
        ),
        (
            json!([{"code": "GC-B", "amount": "0"}]),
            "gift_cards[0].amount",
        ),
        (
            json!([{"code": "GC-B", "amount": "10.001"}]),
            "gift_cards[0].amount",
        ),
        (
            json!([{"code": "GC-B", "amount": "5.00"}, {"code": "GC-B", "amount": "5.00"}]),
            "gift_cards[1].code",
        ),
    ] {
        let r = pos
            .post(
                "/v1/sales",
                json!({"location": "store-1", "lines": [], "gift_cards": cards,
                    "tenders": [{"type": "cash", "amount": "10.00"}]}),
            )
            .await;
        assert!(r.status.is_client_error(), "{} {}", r.status, r.json);
        assert_eq!(r.json["error"]["field"], field, "{}", r.json);
    }
    // The tenders must cover the cards.
    let short = pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [],
                "gift_cards": [{"code": "GC-C", "amount": "20.00"}],
                "tenders": [{"type": "cash", "amount": "10.00"}]}),
        )
        .await;
    assert!(short.status.is_client_error(), "{}", short.json);
    assert_eq!(
        pay.get("/v1/gift_cards/GC-C").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(start_paused = true)]
async fn store_credit_is_issued_under_the_code_of_the_card_handed_over() {
    let w = World::new();
    let (pos, pay) = (w.pos(), w.pay());
    let r = pos
        .post(
            "/v1/items",
            json!({"sku": "MUG", "name": "Mug", "price": "12.00", "currency": "USD"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let sale = pos
        .post(
            "/v1/sales",
            json!({"location": "store-1", "lines": [{"sku": "MUG", "quantity": 2}],
                "tenders": [{"type": "cash", "amount": "24.00"}]}),
        )
        .await;
    assert_eq!(sale.status, StatusCode::OK, "{}", sale.json);
    let id = sale.json["id"].as_str().unwrap();
    let ret = |refund_to: &str, code: &str| {
        json!({"sale_id": id, "location": "store-1", "lines": [{"sku": "MUG", "quantity": 1}],
            "restock": true, "refund_to": refund_to, "store_credit_code": code})
    };
    let wrong = pos.post("/v1/returns", ret("cash", "CR-1")).await;
    assert_refused(&wrong, "parameter_invalid", "store_credit_code");
    let bad = pos
        .post("/v1/returns", ret("store_credit", "no spaces"))
        .await;
    assert_refused(&bad, "parameter_invalid", "store_credit_code");

    let r = pos.post("/v1/returns", ret("store_credit", "CR-1")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["refunds"][0]["type"], "gift_card");
    assert_eq!(r.json["refunds"][0]["reference"], "CR-1");
    assert_eq!(card(&pay, "CR-1").await["balance"], "12.00");

    // The same card cannot be handed over twice.
    let twice = pos.post("/v1/returns", ret("store_credit", "CR-1")).await;
    assert_refused(&twice, "resource_already_exists", "store_credit_code");
    assert_eq!(card(&pay, "CR-1").await["balance"], "12.00");
}

#[tokio::test(start_paused = true)]
async fn the_shop_sells_a_gift_card_paid_at_once() {
    let w = World::new();
    let (shop, pay) = (w.shop(), w.pay());
    let buy = |code: &str, payment: Value| json!({"code": code, "amount": "25", "payment": payment, "customer": "chloe"});
    let card_4242 = json!({"type": "card", "number": "4242424242424242"});
    let r = shop
        .post("/v1/gift_cards", buy("GC-WEB", card_4242.clone()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["amount"], "25.00");
    let pi = r.json["payment_intent"].as_str().unwrap().to_owned();
    let intent = pay.get(&format!("/v1/payment_intents/{pi}")).await.json;
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["amount_received"], "25.00");
    assert_eq!(intent["metadata"]["gift_card_code"], "GC-WEB");
    assert_eq!(card(&pay, "GC-WEB").await["balance"], "25.00");

    // A code already held: refused before anything is charged.
    let again = shop.post("/v1/gift_cards", buy("GC-WEB", card_4242)).await;
    assert_refused(&again, "resource_already_exists", "code");
    let intents = pay.get("/v1/payment_intents").await.json;
    assert_eq!(
        intents["data"].as_array().map(Vec::len),
        Some(1),
        "{intents}"
    );

    for payment in [
        json!({"type": "bank_transfer", "account": "000123456789"}),
        json!({"type": "gift_card", "code": "GC-WEB"}),
        json!({"type": "card_present", "number": "4242424242424242"}),
    ] {
        let r = shop.post("/v1/gift_cards", buy("GC-X", payment)).await;
        assert_refused(&r, "parameter_invalid", "payment");
    }
    let r = shop
        .post(
            "/v1/gift_cards",
            json!({"code": "GC-X", "amount": "-1", "payment": {"type": "card", "number": "4242424242424242"}}),
        )
        .await;
    assert_refused(&r, "parameter_invalid", "amount");

    // A decline issues nothing.
    let declined = shop
        .post(
            "/v1/gift_cards",
            buy(
                "GC-X",
                json!({"type": "card", "number": "4000000000000002"}),
            ),
        )
        .await;
    assert_eq!(
        declined.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        declined.json
    );
    assert_eq!(
        pay.get("/v1/gift_cards/GC-X").await.status,
        StatusCode::NOT_FOUND
    );
}

/// A card the merchant issues without a sale: nothing is charged, the shop
/// records `gift_cards/issued` with the reason, a replay under the same key
/// issues nothing more, and it is spent at checkout like any other card.
#[tokio::test(start_paused = true)]
async fn the_merchant_issues_a_gift_card_without_a_sale() {
    let w = World::new();
    let (shop, pay) = (w.shop(), w.pay());
    let issue = |code: &str| json!({"code": code, "amount": "40", "reason": "a late delivery", "customer": "chloe"});
    let r = shop
        .post_idem("/v1/gift_cards/issue", issue("GC-SORRY"), "iss-1")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["amount"], "40.00");
    assert_eq!(r.json["reason"], "a late delivery");
    let replay = shop
        .post_idem("/v1/gift_cards/issue", issue("GC-SORRY"), "iss-1")
        .await;
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.json);
    assert_eq!(replay.json, r.json);
    assert_eq!(card(&pay, "GC-SORRY").await["balance"], "40.00");
    let intents = pay.get("/v1/payment_intents").await.json;
    assert_eq!(
        intents["data"].as_array().map(Vec::len),
        Some(0),
        "{intents}"
    );
    let issued: Vec<_> = w
        .sims
        .shop
        .all_events()
        .into_iter()
        .filter(|e| e.kind == "gift_cards/issued")
        .collect();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].data["code"], "GC-SORRY");
    assert_eq!(issued[0].data["amount"], "40.00");

    let again = shop.post("/v1/gift_cards/issue", issue("GC-SORRY")).await;
    assert_refused(&again, "resource_already_exists", "code");
    for (body, field) in [
        (
            json!({"code": "GC-X", "amount": "0", "reason": "r"}),
            "amount",
        ),
        (
            json!({"code": "GC-X", "amount": "5", "reason": ""}),
            "reason",
        ),
        (
            json!({"code": "bad code", "amount": "5", "reason": "r"}),
            "code",
        ),
    ] {
        let r = shop.post("/v1/gift_cards/issue", body).await;
        assert_refused(&r, "parameter_invalid", field);
    }

    // Spent at checkout: the balance comes down.
    let r = shop
        .post(
            "/v1/products",
            json!({"sku": "MUG", "title": "Mug", "price": "10.00", "currency": "USD", "status": "active"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = shop
        .post(
            "/v1/inventory/adjust",
            json!({"sku": "MUG", "location": "web", "delta": 3, "reason": "received"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = shop
        .post(
            "/v1/orders",
            json!({"lines": [{"sku": "MUG", "quantity": 1}],
                "payment": {"type": "gift_card", "code": "GC-SORRY"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let total = r.json["total"].as_str().unwrap().parse::<f64>().unwrap();
    let left = card(&pay, "GC-SORRY").await["balance"]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .unwrap();
    assert!(total > 0.0);
    assert_eq!(left, 40.0 - total, "{total} {left}");
}
