//! The reference engine against the in-process simulators, in virtual time:
//! each flow it owns, and the faults it must survive.

use std::time::Duration;

use chrono::{DateTime, Utc};
use omnisim_api::common::{Faults, RateLimit};
use omnisim_api::pay::{IntentStatus, PaymentMethod};
use omnisim_api::pos::{
    BatchChangeInventory, CreateItem, CreateReturn, CreateSale, InventoryChange,
    InventoryChangeType, RefundTo, SaleLineRequest, TenderRequest, TenderType,
};
use omnisim_api::shop::{
    CancelOrder, Checkout, CheckoutLine, CreateOrderRefund, CreateProduct, FinancialStatus,
    FulfillmentStatus, OrderStatus, ProductStatus, RefundLineRequest, RestockType, SetInventory,
};
use omnisim_engine::{Strategy, SyncMode};
use omnisim_harness::world::{NetworkLatency, World};
use rust_decimal_macros::dec;

const SKU: &str = "MUG-RED";
const STORE: &str = "store-1";

fn epoch() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A mug stocked 5 in store-1 on both channels, and the engine running.
async fn world_with(strategy: Strategy) -> World {
    let w = World::new(7, epoch(), NetworkLatency::default());
    w.pos()
        .create_item(
            &CreateItem {
                sku: SKU.into(),
                name: "Red mug".into(),
                price: dec!(12.50),
                currency: "USD".into(),
                tax_code: None,
            },
            None,
        )
        .await
        .unwrap();
    w.shop()
        .create_product(
            &CreateProduct {
                sku: SKU.into(),
                title: "Red mug".into(),
                price: dec!(12.50),
                currency: "USD".into(),
                tax_code: None,
                status: ProductStatus::Active,
                channels: Default::default(),
            },
            None,
        )
        .await
        .unwrap();
    let now = w.clock.now();
    w.pos()
        .change_inventory(
            &BatchChangeInventory {
                changes: vec![InventoryChange {
                    kind: InventoryChangeType::PhysicalCount,
                    sku: SKU.into(),
                    location: STORE.into(),
                    quantity: 5,
                    from_state: None,
                    to_state: None,
                    occurred_at: now,
                    reference: None,
                    order_ref: None,
                }],
            },
            None,
        )
        .await
        .unwrap();
    w.shop()
        .set(
            &SetInventory {
                sku: SKU.into(),
                location: STORE.into(),
                available: 5,
                change_from: None,
                reference: None,
            },
            None,
        )
        .await
        .unwrap();
    w.start_engine(strategy).await.unwrap();
    w
}

async fn world() -> World {
    world_with(Strategy::default()).await
}

async fn pass(d: Duration) {
    tokio::time::sleep(d).await;
}

async fn shop_available(w: &World) -> i64 {
    w.shop().level(SKU, STORE).await.unwrap().available
}

async fn pos_count(w: &World) -> i64 {
    w.pos().count(SKU, STORE).await.unwrap().quantity
}

async fn cash_sale(w: &World, qty: i64) {
    let amount = dec!(12.50) * rust_decimal::Decimal::from(qty);
    w.pos()
        .sale(
            &CreateSale {
                location: STORE.into(),
                lines: vec![SaleLineRequest {
                    sku: SKU.into(),
                    quantity: qty,
                }],
                tenders: vec![TenderRequest {
                    kind: TenderType::Cash,
                    amount,
                    number: None,
                    code: None,
                }],
                occurred_at: None,
                customer: None,
                gift_cards: Vec::new(),
            },
            None,
        )
        .await
        .unwrap();
}

fn pickup_checkout(qty: i64) -> Checkout {
    Checkout {
        lines: vec![CheckoutLine {
            sku: SKU.into(),
            quantity: qty,
        }],
        payment: PaymentMethod::Card {
            number: "4242424242424242".into(),
        },
        discount_code: None,
        pickup_location: Some(STORE.into()),
        location: None,
        customer: Some("ana".into()),
        capture: omnisim_api::pay::CaptureMethod::Manual,
        channel: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_store_sale_reaches_shop_availability() {
    let w = world().await;
    cash_sale(&w, 2).await;
    pass(Duration::from_secs(5)).await;
    assert_eq!(shop_available(&w).await, 3);
    assert_eq!(pos_count(&w).await, 3);
}

#[tokio::test(start_paused = true)]
async fn an_online_pickup_order_is_reserved_in_store_and_released_on_cancel() {
    let w = world().await;
    let order = w.shop().checkout(&pickup_checkout(1), None).await.unwrap();
    pass(Duration::from_secs(5)).await;
    assert_eq!(shop_available(&w).await, 4);
    assert_eq!(
        pos_count(&w).await,
        4,
        "the unit is set aside at the counter"
    );
    let cancelled = w
        .shop()
        .cancel(&order.id, &CancelOrder::default(), None)
        .await
        .unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    pass(Duration::from_secs(5)).await;
    assert_eq!(shop_available(&w).await, 5);
    assert_eq!(pos_count(&w).await, 5, "the reservation is released");
    let intent = w
        .pay()
        .intent(order.payment_intent.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        intent.status,
        IntentStatus::Canceled,
        "the authorization is voided"
    );
}

#[tokio::test(start_paused = true)]
async fn a_store_pickup_fulfils_and_captures_the_online_order() {
    let w = world().await;
    let order = w.shop().checkout(&pickup_checkout(1), None).await.unwrap();
    pass(Duration::from_secs(5)).await;
    w.pos().complete_pickup(&order.id, None).await.unwrap();
    pass(Duration::from_secs(10)).await;
    let order = w.shop().order(&order.id).await.unwrap();
    assert_eq!(order.fulfillment_status, FulfillmentStatus::Fulfilled);
    assert_eq!(order.financial_status, FinancialStatus::Paid);
    let intent = w
        .pay()
        .intent(order.payment_intent.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        (intent.status, intent.amount_received),
        (IntentStatus::Succeeded, dec!(12.50))
    );
    assert_eq!(pos_count(&w).await, 4);
    let level = w.shop().level(SKU, STORE).await.unwrap();
    assert_eq!((level.available, level.committed, level.on_hand), (4, 0, 4));
}

#[tokio::test(start_paused = true)]
async fn a_store_return_of_an_online_order_refunds_those_lines() {
    let w = world().await;
    let order = w.shop().checkout(&pickup_checkout(2), None).await.unwrap();
    pass(Duration::from_secs(5)).await;
    w.pos().complete_pickup(&order.id, None).await.unwrap();
    pass(Duration::from_secs(10)).await;
    w.pos()
        .create_return(
            &CreateReturn {
                sale_id: None,
                order_ref: Some(order.id.clone()),
                location: STORE.into(),
                lines: vec![SaleLineRequest {
                    sku: SKU.into(),
                    quantity: 1,
                }],
                restock: true,
                refund_to: RefundTo::Original,
                occurred_at: None,
                store_credit_code: None,
            },
            None,
        )
        .await
        .unwrap();
    pass(Duration::from_secs(10)).await;
    let order = w.shop().order(&order.id).await.unwrap();
    assert_eq!(order.total_refunded, dec!(12.50));
    assert_eq!(order.financial_status, FinancialStatus::PartiallyRefunded);
    let intent = w
        .pay()
        .intent(order.payment_intent.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(intent.amount_refunded, dec!(12.50));
    // Restocked in store, and the shop sees the unit again.
    assert_eq!(pos_count(&w).await, 4);
    assert_eq!(shop_available(&w).await, 4);
}

#[tokio::test(start_paused = true)]
async fn a_forged_webhook_is_refused_and_applies_nothing() {
    let w = world().await;
    let event = serde_json::json!({
        "id": "evt_pos_forged", "seq": 999, "type": "inventory.count.updated", "occurred_at": "2026-03-02T09:00:00Z",
        "data": {"sku": SKU, "location": STORE, "quantity": 0, "cause": {"kind": "sale", "reference": null, "delta": -5}}
    });
    let body = serde_json::to_vec(&event).unwrap();
    let req = http::Request::post("http://engine.sim/webhooks/pos")
        .header("content-type", "application/json")
        .header("x-square-hmacsha256-signature", "bm90IGEgc2lnbmF0dXJl")
        .body(bytes::Bytes::from(body))
        .unwrap();
    use omnisim_api::Transport;
    let resp = w.net.send(req).await.unwrap();
    assert_eq!(resp.status(), 401);
    let err: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(err["error"]["code"], "invalid_signature");
    pass(Duration::from_secs(5)).await;
    assert_eq!(shop_available(&w).await, 5);
}

#[tokio::test(start_paused = true)]
async fn dropped_webhooks_are_repaired_by_reconciliation() {
    let w = world().await;
    let mut faults = Faults::default();
    faults.webhooks.drop_rate = 1.0;
    w.sims.pos.core.set_faults(faults).unwrap();
    cash_sale(&w, 1).await;
    pass(Duration::from_secs(5)).await;
    assert_eq!(shop_available(&w).await, 5, "no webhook came");
    pass(Duration::from_secs(70)).await;
    assert_eq!(shop_available(&w).await, 4, "the feed poll repaired it");
}

#[tokio::test(start_paused = true)]
async fn simultaneous_duplicate_webhooks_apply_once() {
    let w = world().await;
    let mut faults = Faults::default();
    faults.webhooks.duplicate_rate = 1.0;
    faults.webhooks.duplicate_simultaneous = true;
    w.sims.pos.core.set_faults(faults).unwrap();
    cash_sale(&w, 1).await;
    pass(Duration::from_secs(5)).await;
    let deliveries = w.sims.pos.core.webhooks.deliveries();
    assert!(
        deliveries
            .iter()
            .filter(|d| d.topic == "inventory.count.updated")
            .count()
            >= 2,
        "both copies were delivered"
    );
    pass(Duration::from_secs(120)).await;
    assert_eq!(shop_available(&w).await, 4);
}

#[tokio::test(start_paused = true)]
async fn without_deduplication_duplicates_apply_twice() {
    // The mutation the dedupe tests must catch: proves the test above can fail.
    let w = world_with(Strategy {
        dedupe: false,
        ..Strategy::default()
    })
    .await;
    let mut faults = Faults::default();
    faults.webhooks.duplicate_rate = 1.0;
    faults.webhooks.duplicate_simultaneous = true;
    w.sims.pos.core.set_faults(faults).unwrap();
    cash_sale(&w, 1).await;
    pass(Duration::from_secs(5)).await;
    assert_eq!(shop_available(&w).await, 3);
}

#[tokio::test(start_paused = true)]
async fn a_crash_loses_nothing_and_doubles_nothing() {
    let w = world().await;
    cash_sale(&w, 1).await;
    pass(Duration::from_secs(5)).await;
    assert_eq!(shop_available(&w).await, 4);
    w.crash_engine();
    cash_sale(&w, 1).await;
    cash_sale(&w, 1).await;
    pass(Duration::from_secs(30)).await;
    assert_eq!(shop_available(&w).await, 4, "nobody is syncing");
    w.start_engine(Strategy::default()).await.unwrap();
    pass(Duration::from_secs(90)).await;
    assert_eq!(
        shop_available(&w).await,
        2,
        "caught up from the durable cursor, nothing twice"
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limits_are_waited_out() {
    let w = world().await;
    w.sims
        .shop
        .core
        .set_faults(Faults {
            rate_limit: Some(RateLimit {
                capacity: 1,
                leak_per_sec: 1,
            }),
            ..Faults::default()
        })
        .unwrap();
    for _ in 0..4 {
        cash_sale(&w, 1).await;
    }
    pass(Duration::from_secs(60)).await;
    w.sims.shop.core.set_faults(Faults::default()).unwrap();
    assert_eq!(shop_available(&w).await, 1);
}

#[tokio::test(start_paused = true)]
async fn polling_only_notices_changes_at_its_interval() {
    let w = world_with(Strategy {
        sync: SyncMode::Poll {
            every: Duration::from_secs(900),
        },
        ..Strategy::default()
    })
    .await;
    pass(Duration::from_secs(60)).await;
    cash_sale(&w, 1).await;
    pass(Duration::from_secs(600)).await;
    assert_eq!(
        shop_available(&w).await,
        5,
        "ten minutes in, the poller has not looked"
    );
    pass(Duration::from_secs(400)).await;
    assert_eq!(shop_available(&w).await, 4);
}

#[tokio::test(start_paused = true)]
async fn a_fresh_engine_holds_the_buffer_back_online() {
    let w = world_with(Strategy {
        buffer: 1,
        ..Strategy::default()
    })
    .await;
    pass(Duration::from_secs(5)).await;
    assert_eq!(shop_available(&w).await, 4, "5 in store, 1 held back");
    cash_sale(&w, 2).await;
    pass(Duration::from_secs(5)).await;
    assert_eq!(shop_available(&w).await, 2);
    assert_eq!(pos_count(&w).await, 3);
}

#[tokio::test(start_paused = true)]
async fn the_engine_reports_skus_it_cannot_map() {
    let w = World::new(7, epoch(), NetworkLatency::default());
    w.pos()
        .create_item(
            &CreateItem {
                sku: "ONLY-POS".into(),
                name: "Only in store".into(),
                price: dec!(3.00),
                currency: "USD".into(),
                tax_code: None,
            },
            None,
        )
        .await
        .unwrap();
    w.start_engine(Strategy::default()).await.unwrap();
    let errors = w.engine().unwrap().errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, "unmapped_sku");
    assert!(errors[0].message.contains("ONLY-POS"));
}

/// With 15-minute polling, an online order at 10:00 and a store sale at 10:01
/// reach the engine together. `set` writes the POS count over the shop's
/// level and erases the online order's claim; `adjust` keeps both.
async fn poll_then_order_and_sale(write: omnisim_engine::WriteMode) -> (i64, i64) {
    let w = world_with(Strategy {
        sync: SyncMode::Poll {
            every: Duration::from_secs(900),
        },
        write,
        ..Strategy::default()
    })
    .await;
    // After the poller's first look at start.
    pass(Duration::from_secs(60)).await;
    w.shop().checkout(&pickup_checkout(1), None).await.unwrap();
    pass(Duration::from_secs(60)).await;
    cash_sale(&w, 1).await;
    pass(Duration::from_secs(1800)).await;
    (shop_available(&w).await, pos_count(&w).await)
}

#[tokio::test(start_paused = true)]
async fn set_loses_a_concurrent_update_that_adjust_keeps() {
    assert_eq!(
        poll_then_order_and_sale(omnisim_engine::WriteMode::Adjust).await,
        (3, 3)
    );
    let (shop, pos) = poll_then_order_and_sale(omnisim_engine::WriteMode::Set).await;
    assert_eq!(pos, 3, "the store sold one and set one aside");
    assert_eq!(shop, 4, "the absolute write erased the online order's unit");
}

#[tokio::test(start_paused = true)]
async fn compare_and_set_writes_converge() {
    let w = world_with(Strategy {
        write: omnisim_engine::WriteMode::CompareAndSet,
        ..Strategy::default()
    })
    .await;
    for _ in 0..3 {
        cash_sale(&w, 1).await;
    }
    w.shop().checkout(&pickup_checkout(1), None).await.unwrap();
    pass(Duration::from_secs(10)).await;
    assert_eq!(shop_available(&w).await, 1);
    assert_eq!(pos_count(&w).await, 1);
    use omnisim_simulators::SimControl;
    let engine_writes = w
        .sims
        .shop
        .all_events()
        .into_iter()
        .filter(|e| e.kind == "inventory_levels/update" && e.actor.is_connector())
        .count();
    assert_eq!(engine_writes, 3, "one guarded write per store sale");
}

#[tokio::test(start_paused = true)]
async fn a_line_refunded_before_pickup_still_leaves_the_rest_to_capture() {
    let w = world().await;
    let order = w.shop().checkout(&pickup_checkout(2), None).await.unwrap();
    pass(Duration::from_secs(5)).await;
    // One mug is dropped before collection: it comes off the authorization.
    w.shop()
        .refund(
            &order.id,
            &CreateOrderRefund {
                lines: vec![RefundLineRequest {
                    line_id: order.lines[0].id.clone(),
                    quantity: 1,
                    restock_type: RestockType::Cancel,
                    location: None,
                }],
                note: None,
            },
            None,
        )
        .await
        .unwrap();
    pass(Duration::from_secs(5)).await;
    w.pos().complete_pickup(&order.id, None).await.unwrap();
    pass(Duration::from_secs(10)).await;
    let order = w.shop().order(&order.id).await.unwrap();
    assert_eq!(order.fulfillment_status, FulfillmentStatus::Fulfilled);
    let intent = w
        .pay()
        .intent(order.payment_intent.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        (intent.status, intent.amount_received),
        (IntentStatus::Succeeded, dec!(12.50)),
        "the mug handed over is charged, though the order is partially refunded"
    );
    assert_eq!(pos_count(&w).await, 4);
}

#[tokio::test(start_paused = true)]
async fn a_failed_bank_transfer_cancels_the_order_and_releases_the_unit() {
    let w = world().await;
    let mut checkout = pickup_checkout(1);
    checkout.payment = PaymentMethod::BankTransfer {
        account: Some("000111111116".into()),
    };
    let order = w.shop().checkout(&checkout, None).await.unwrap();
    pass(Duration::from_secs(5)).await;
    assert_eq!(pos_count(&w).await, 4, "the unit is set aside meanwhile");
    // The transfer fails an hour later.
    pass(Duration::from_secs(3600 + 120)).await;
    let order = w.shop().order(&order.id).await.unwrap();
    assert_eq!(order.status, OrderStatus::Cancelled);
    assert_eq!(pos_count(&w).await, 5, "the reservation is released");
    assert_eq!(shop_available(&w).await, 5);
}

#[tokio::test(start_paused = true)]
async fn a_shortened_pickup_releases_its_own_units_not_an_older_orders() {
    let w = world().await;
    let ana = w.shop().checkout(&pickup_checkout(2), None).await.unwrap();
    pass(Duration::from_secs(5)).await;
    let ben = w.shop().checkout(&pickup_checkout(2), None).await.unwrap();
    pass(Duration::from_secs(5)).await;
    assert_eq!(pos_count(&w).await, 1);
    // Ben drops one mug before collecting.
    w.shop()
        .refund(
            &ben.id,
            &CreateOrderRefund {
                lines: vec![RefundLineRequest {
                    line_id: ben.lines[0].id.clone(),
                    quantity: 1,
                    restock_type: RestockType::Cancel,
                    location: None,
                }],
                note: None,
            },
            None,
        )
        .await
        .unwrap();
    pass(Duration::from_secs(5)).await;
    assert_eq!(pos_count(&w).await, 2);
    // Ana never comes: both of her mugs go back on the shelf.
    w.shop()
        .cancel(&ana.id, &CancelOrder::default(), None)
        .await
        .unwrap();
    pass(Duration::from_secs(5)).await;
    assert_eq!(
        pos_count(&w).await,
        4,
        "only Ben's one mug is still set aside"
    );
    assert_eq!(shop_available(&w).await, 4);
}
