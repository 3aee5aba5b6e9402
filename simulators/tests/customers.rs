//! Customer profiles on the shop and the POS: create, retrieve, a partial
//! update, listing by email or phone, the events with their actor, unique
//! emails, and 4xx errors naming the field.

mod support;

use axum::body::Body;
use http::Request;
use omnisim_api::ActorKind;
use omnisim_simulators::SimControl;
use serde_json::json;
use support::{App, KEY, World};

const CLERK: &str = "clerk_key";

async fn post_as(app: &App, key: &str, body: serde_json::Value) -> support::Reply {
    let req = Request::builder()
        .method("POST")
        .uri("/v1/customers")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    app.request(req).await
}

async fn each_platform(app: App, created: &str, updated: &str, prefix: &str, w: &World) {
    let ada = json!({"name": "Ada Lovelace", "email": "Ada@Example.com",
        "phone": "+44 20 7946 0000", "accepts_marketing": true});
    let r = post_as(&app, CLERK, ada.clone()).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let id = r.json["id"].as_str().unwrap().to_owned();
    assert_eq!(id, format!("{prefix}_000001"));
    assert_eq!(r.json["version"], 1);

    // Emails are unique, case-insensitively: 409 naming `email`.
    let again = post_as(&app, KEY, json!({"email": " ada@example.COM"})).await;
    assert_eq!(again.status, 409, "{}", again.json);
    assert_eq!(again.json["error"]["code"], "email_taken");
    assert_eq!(again.json["error"]["field"], "email");

    // Malformed requests: 4xx naming the field.
    for (body, status, field) in [
        (json!({"email": "ada.example.com"}), 422, "email"),
        (json!({"phone": "020 7946 0000"}), 422, "phone"),
        (json!({"name": "Ada"}), 422, "email"),
        (
            json!({"name": "x".repeat(256), "email": "x@example.com"}),
            422,
            "name",
        ),
        (
            json!({"email": "x@example.com", "nickname": "x"}),
            400,
            "nickname",
        ),
        (
            json!({"email": "x@example.com", "accepts_marketing": "yes"}),
            400,
            "accepts_marketing",
        ),
    ] {
        let r = post_as(&app, KEY, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.json);
        assert_eq!(r.json["error"]["field"], field, "{body}: {}", r.json);
    }

    // An idempotent create replays.
    let body = json!({"name": "Grace Hopper", "phone": "+1 415 555 0100"});
    let first = app.post_idem("/v1/customers", body.clone(), "k-1").await;
    let second = app.post_idem("/v1/customers", body, "k-1").await;
    assert_eq!((first.status, &first.json), (second.status, &second.json));

    // A partial update: only consent changes.
    let r = app
        .patch(
            &format!("/v1/customers/{id}"),
            json!({"accepts_marketing": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["accepts_marketing"], false);
    assert_eq!(r.json["name"], "Ada Lovelace");
    assert_eq!(r.json["version"], 2);
    let r = app
        .patch(&format!("/v1/customers/{id}"), json!({"phone": "+44"}))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json["error"]["field"], "phone");
    let r = app.get("/v1/customers/nobody").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json["error"]["code"], "resource_missing");
    assert_eq!(r.json["error"]["field"], "id");

    // Listing by email (any case) or phone (any spacing).
    let r = app.get("/v1/customers?email=ADA%40example.com").await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1, "{}", r.json);
    let r = app.get("/v1/customers?phone=%2B14155550100").await;
    assert_eq!(r.json["data"][0]["name"], "Grace Hopper", "{}", r.json);
    let r = app
        .get("/v1/customers?updated_since=2100-01-01T00:00:00Z")
        .await;
    assert_eq!(r.json["data"], json!([]));
    let r = app.get("/v1/customers?updated_since=yesterday").await;
    assert_eq!(r.json["error"]["field"], "updated_since");
    let r = app.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(r.json["email"], "Ada@Example.com");

    // The events, attributed by credential.
    let events = if prefix == "cus" {
        w.sims.shop.all_events()
    } else {
        w.sims.pos.all_events()
    };
    let made = events.iter().find(|e| e.kind == created).unwrap();
    assert_eq!(made.actor.kind, ActorKind::Actor, "the clerk's key");
    assert_eq!(made.data["email"], "Ada@Example.com");
    let changed = events.iter().find(|e| e.kind == updated).unwrap();
    assert_eq!(changed.actor.kind, ActorKind::Connector);
    assert_eq!(changed.data["accepts_marketing"], false);

    // The OpenAPI document lists the routes.
    let doc = app.get("/openapi.json").await.json;
    assert!(doc["paths"]["/v1/customers"]["post"].is_object());
    assert!(doc["paths"]["/v1/customers/{id}"]["patch"].is_object());
}

#[tokio::test(start_paused = true)]
async fn the_shop_keeps_customer_profiles() {
    let w = World::new();
    w.sims.accept_actor_key(CLERK);
    each_platform(w.shop(), "customers/create", "customers/update", "cus", &w).await;
}

#[tokio::test(start_paused = true)]
async fn the_pos_keeps_customer_profiles() {
    let w = World::new();
    w.sims.accept_actor_key(CLERK);
    each_platform(w.pos(), "customer.created", "customer.updated", "cust", &w).await;
}
