//! The Rust library API a vendor uses from `cargo test`: simulators on
//! loopback or in process, typed clients, a connector mounted in process, and
//! scenario verdicts.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use omnisim::api::Clock;
use omnisim::api::pos::{
    BatchChangeInventory, CreateItem, CreateSale, InventoryChange, InventoryChangeType,
    SaleLineRequest, TenderRequest, TenderType,
};
use omnisim::api::shop::{CreateProduct, ProductStatus, SetInventory};
use omnisim::{Decimal, Mode, Simulators};
use omnisim_engine::{Endpoints, Engine, EngineConfig, MemStore, Strategy};

fn mug_item() -> CreateItem {
    CreateItem {
        sku: "MUG-RED".into(),
        name: "Red mug".into(),
        price: Decimal::new(1250, 2),
        currency: "USD".into(),
        tax_code: None,
    }
}

#[tokio::test]
async fn loopback_simulators_answer_real_http_and_reset() {
    let sims = Simulators::start().await.expect("binds free ports");
    assert!(sims.urls().pos.starts_with("http://127.0.0.1:"));
    sims.pos()
        .create_item(&mug_item(), None)
        .await
        .expect("item created");

    // Any HTTP client reaches the same state: these are real sockets.
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/v1/items/MUG-RED", sims.urls().pos))
        .bearer_auth(&sims.urls().api_key)
        .send()
        .await
        .expect("GET over loopback")
        .json()
        .await
        .expect("JSON");
    assert_eq!(body["sku"], "MUG-RED");
    assert_eq!(body["price"], "12.50");

    let env = sims.connector_env(7200, "/tmp/state");
    assert!(env.contains(&("OMNISIM_POS_URL", sims.urls().pos.clone())));
    assert!(env.contains(&("OMNISIM_CONNECTOR_PORT", "7200".into())));

    sims.reset().await.expect("reset");
    let gone = sims
        .pos()
        .item("MUG-RED")
        .await
        .expect_err("reset forgets items");
    assert_eq!(gone.status(), Some(404));
    sims.shutdown().await.expect("clean shutdown");
}

/// A connector mounted in process receives the simulators' webhooks, and
/// time is virtual: a store sale reaches the shop with no real waiting.
#[tokio::test(start_paused = true)]
async fn in_process_connector_syncs_a_store_sale_in_virtual_time() {
    let epoch = Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap();
    let clock = Clock::new(epoch);
    let sims = Simulators::builder()
        .mode(Mode::InProcess)
        .clock(clock.clone())
        .seed(7)
        .start()
        .await
        .expect("in-process simulators");

    sims.pos().create_item(&mug_item(), None).await.unwrap();
    let product = CreateProduct {
        sku: "MUG-RED".into(),
        title: "Red mug".into(),
        price: Decimal::new(1250, 2),
        currency: "USD".into(),
        tax_code: None,
        status: ProductStatus::Active,
        channels: Default::default(),
    };
    sims.shop().create_product(&product, None).await.unwrap();
    let count = InventoryChange {
        kind: InventoryChangeType::PhysicalCount,
        sku: "MUG-RED".into(),
        location: "store-1".into(),
        quantity: 5,
        from_state: None,
        to_state: None,
        occurred_at: clock.now(),
        reference: Some("setup".into()),
        order_ref: None,
    };
    sims.pos()
        .change_inventory(
            &BatchChangeInventory {
                changes: vec![count],
            },
            None,
        )
        .await
        .unwrap();
    let level = SetInventory {
        sku: "MUG-RED".into(),
        location: "store-1".into(),
        available: 5,
        change_from: None,
        reference: Some("setup".into()),
    };
    sims.shop().set(&level, None).await.unwrap();

    // The reference engine stands in for the vendor's connector.
    let engine = Engine::new(
        EngineConfig {
            endpoints: Endpoints {
                pos_url: sims.urls().pos.clone(),
                shop_url: sims.urls().shop.clone(),
                pay_url: sims.urls().pay.clone(),
                api_key: sims.urls().api_key.clone(),
                public_url: "http://connector.sim".into(),
            },
            strategy: Strategy::default(),
            seed: 7,
        },
        sims.transport(),
        Arc::new(MemStore::new()),
        clock.clone(),
    )
    .expect("engine config is valid");
    assert!(sims.mount("connector.sim", engine.router()));
    let _tasks = engine.start().await.expect("engine registers its webhooks");

    let sale = CreateSale {
        location: "store-1".into(),
        lines: vec![SaleLineRequest {
            sku: "MUG-RED".into(),
            quantity: 2,
        }],
        tenders: vec![TenderRequest {
            kind: TenderType::Cash,
            amount: Decimal::new(2500, 2),
            number: None,
            code: None,
        }],
        occurred_at: None,
        customer: None,
        gift_cards: Vec::new(),
    };
    sims.pos().sale(&sale, None).await.expect("store sale");
    tokio::time::sleep(Duration::from_secs(5)).await;

    let level = sims.shop().level("MUG-RED", "store-1").await.unwrap();
    assert_eq!(level.available, 3, "the store sale reached the shop");
    assert!(
        clock.now() - epoch < chrono::TimeDelta::minutes(1),
        "virtual time moved only as far as the test slept"
    );
}

#[test]
fn scenario_verdicts_explain_a_failure_with_its_reproduction() {
    let toml = r#"
name = "Poll every 15 minutes and the last unit sells twice"
[merchant]
locations = [{ id = "store-1", kind = "store" }]
pos = { sell_when_out_of_stock = "allow" }
[[merchant.catalog]]
sku = "MUG-RED"
title = "Red mug"
price = "12.50"
stock = { "store-1" = 1 }
[connector]
engine = { sync = "poll", poll_every = "15m" }
[[step]]
at = "10:03"
actor = "shop"
action = "checkout"
customer = "ana"
lines = { MUG-RED = 1 }
pickup_location = "store-1"
[[step]]
at = "10:07"
actor = "pos"
action = "sale"
location = "store-1"
lines = { MUG-RED = 1 }
"#;
    let verdict = omnisim::scenarios::run_str("poll.toml", toml, Some(3)).expect("valid");
    assert!(!verdict.passed());
    let why = verdict.explain();
    assert!(why.contains("no_oversell: store sale"), "{why}");
    assert!(why.contains("MUG-RED"), "{why}");
    assert!(why.contains("reproduce: "), "{why}");
    assert!(!verdict.history_jsonl.is_empty());

    let broken = omnisim::scenarios::run_str("broken.toml", "name = 3\n", None)
        .expect_err("a number is not a name");
    let text = broken.to_string();
    assert!(text.starts_with("broken.toml:1:"), "{text}");
}
