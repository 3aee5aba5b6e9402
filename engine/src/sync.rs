//! What the engine does for each event: the sync rules.
//!
//! Stock model: at a store, the POS IN_STOCK count is the physical truth; an
//! online order for that store sets its units aside at the POS (a POS pickup,
//! which moves them out of IN_STOCK), so that the shop's `available` there
//! stays equal to the POS count minus the buffer. Changes travel as deltas
//! (never as blind absolute values, unless the `set` strategy is chosen):
//!
//! | event | action |
//! |---|---|
//! | pos `inventory.count.updated` (sale, return, count, adjust) | shop adjust by the same delta |
//! | shop `inventory_levels/update` (adjust, set by staff) | pos adjustment by the same delta |
//! | shop `orders/create` at a store | pos pickup (reserve) — on capture instead with `reserve = on_capture` |
//! | shop `orders/cancelled` | pos pickup cancelled (release) |
//! | pos `pickup.completed` | shop fulfil, then capture |
//! | shop `orders/fulfilled` | capture, and complete the pos pickup if still open |
//! | shop `refunds/create` | pos restock (`return`) at the store; `cancel` lines shorten the order's pos pickup |
//! | pos `return.created` for an online order | shop refund of exactly those lines |
//! | pay `payment_failed` / `canceled` of an open order | shop cancel with restock |
//! | pay `charge.refunded` the shop did not make (a dashboard refund) | shop transaction of kind refund, the gateway reference |
//! | shop `products/update` | pos item price and tax (a conflict, undone, where the POS owns the field) |
//! | pos `item.updated` (made at the register) | shop product price and tax (a conflict, undone, where the shop owns the field) |
//! | shop `customers/create` / `customers/update`, pos `customer.created` / `customer.updated` | match the profile on the other side (email, else phone), merge field by field, or create it there ([`customers`]) |
//! | shop `promotions/create` / `promotions/update` | the promotion on the POS, found by its `external_ref` (the shop id), created or brought to the shop's fields ([`promotions`]) |
//!
//! Writes carry `reference = omnisim-engine:<event id>`; changes that come back
//! with that reference are the engine's own echo and are ignored. Idempotency
//! keys derive from the causing event, so re-applying an event is harmless.

use std::collections::BTreeMap;

use omnisim_api::ApiError;
use omnisim_api::Event;
use omnisim_api::pos::{
    BatchChangeInventory, CreatePickup, InventoryChange, InventoryChangeType, InventoryState,
    SaleLineRequest,
};
use omnisim_api::shop::{
    AdjustInventory, CancelOrder, CancelReason, CaptureOrder, CreateOrderRefund, FinancialStatus,
    FulfillOrder, FulfillmentStatus, Order, OrderStatus, RefundLineRequest, RestockType,
    SetInventory,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::config::{ReserveMode, WriteMode};
use crate::defect::Defect;
use crate::engine::{Engine, REFERENCE_PREFIX};
use crate::state::{OrderTrack, Plat};

mod catalog;
mod customers;
mod external_refunds;
mod pickups;
mod promotions;

/// Why an event could not be applied this time.
#[derive(Debug, thiserror::Error)]
pub enum SyncFailure {
    /// A platform did not answer usefully after retries: try again later.
    #[error("{doing}: {source}")]
    Api {
        /// What the engine was doing.
        doing: String,
        /// The failure.
        #[source]
        source: ApiError,
    },
}

type Outcome = Result<(), SyncFailure>;

#[derive(Debug, Default, Deserialize)]
struct Cause {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    delta: i64,
}

#[derive(Debug, Deserialize)]
struct StockChange {
    sku: String,
    location: String,
    #[serde(default)]
    quantity: Option<i64>,
    /// The shop's physical units (available + committed).
    #[serde(default)]
    on_hand: Option<i64>,
    #[serde(default)]
    cause: Option<Cause>,
}

#[derive(Debug, Deserialize)]
struct ReturnLine {
    sku: String,
    quantity: i64,
}

#[derive(Debug, Deserialize)]
struct PosReturn {
    id: String,
    #[serde(default)]
    order_ref: Option<String>,
    lines: Vec<ReturnLine>,
    /// What the register priced the returned units at.
    #[serde(default)]
    amount: rust_decimal::Decimal,
}

#[derive(Debug, Deserialize)]
struct PickupDone {
    order_ref: String,
}

#[derive(Debug, Deserialize)]
struct RefundLine {
    sku: String,
    quantity: i64,
    restock_type: RestockType,
    #[serde(default)]
    location: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ShopRefund {
    #[serde(default)]
    id: Option<String>,
    order_id: String,
    lines: Vec<RefundLine>,
}

#[derive(Debug, Deserialize)]
struct IntentView {
    id: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct ProductView {
    sku: String,
    price: rust_decimal::Decimal,
    currency: String,
    #[serde(default)]
    tax_code: Option<String>,
    #[serde(default)]
    updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn reference(event: &Event) -> String {
    format!("{REFERENCE_PREFIX}{}", event.id)
}

fn is_echo(cause: &Cause) -> bool {
    cause
        .reference
        .as_deref()
        .is_some_and(|r| r.starts_with(REFERENCE_PREFIX))
}

/// The id prefix of the batch pass's own order events
/// ([`Defect::ReserveLag`]).
const BATCH_PREFIX: &str = "reserve-batch:";

/// Parses event data; data that does not parse is reported and skipped, as
/// retrying cannot fix it.
fn parse<T: DeserializeOwned>(engine: &Engine, event: &Event) -> Option<T> {
    match serde_json::from_value(event.data.clone()) {
        Ok(t) => Some(t),
        Err(e) => {
            engine.report(
                "unreadable_event",
                format!("`{}` data does not parse: {e}", event.kind),
                Some(&event.id),
            );
            None
        }
    }
}

/// Decides what a failed call means: retryable failures leave the event
/// unapplied (the poller retries it); a refusal is reported and the event
/// counts as applied, since repeating it would be refused again.
fn settle<T>(
    engine: &Engine,
    event: &Event,
    doing: &str,
    r: Result<T, ApiError>,
) -> Result<Option<T>, SyncFailure> {
    match r {
        Ok(t) => Ok(Some(t)),
        Err(e) if crate::engine::worth_retrying(&e) => Err(SyncFailure::Api {
            doing: doing.to_owned(),
            source: e,
        }),
        Err(e) => {
            let code = match e.code() {
                Some("unknown_sku") => "unmapped_sku",
                Some("unknown_location") => "unmapped_location",
                _ => "write_refused",
            };
            engine.report(code, format!("{doing}: {e}"), Some(&event.id));
            Ok(None)
        }
    }
}

/// Applies one event.
pub(crate) async fn apply(engine: &Engine, p: Plat, event: &Event) -> Outcome {
    match (p, event.kind.as_str()) {
        (Plat::Pos, "inventory.count.updated") => pos_stock_changed(engine, event).await,
        (Plat::Pos, "return.created") => pos_return(engine, event).await,
        (Plat::Pos, "pickup.completed") => pos_pickup_completed(engine, event).await,
        (Plat::Pos, "item.updated") => item_changed(engine, event).await,
        (Plat::Pos, "pickup.cancelled") => pos_pickup_cancelled(engine, event).await,
        (Plat::Pos, "customer.created" | "customer.updated")
        | (Plat::Shop, "customers/create" | "customers/update") => {
            customers::changed(engine, p, event).await
        }
        (Plat::Shop, "orders/create" | "orders/paid" | "orders/cancelled" | "orders/fulfilled") => {
            let Some(order) = parse::<Order>(engine, event) else {
                return Ok(());
            };
            if engine.has(Defect::ArrivalOrder) {
                return order_changed(engine, event, order).await;
            }
            // Webhooks may arrive out of order (paid before create): act on the
            // order as it is now, not on the event's copy.
            let order = match settle(
                engine,
                event,
                "reading the order",
                engine.call(|| engine.shop.order(&order.id)).await,
            )? {
                Some(o) => o,
                None => return Ok(()),
            };
            order_changed(engine, event, order).await
        }
        (Plat::Shop, "promotions/create" | "promotions/update") => {
            promotions::changed(engine, event).await
        }
        (Plat::Shop, "inventory_levels/update") => shop_stock_changed(engine, event).await,
        (Plat::Shop, "refunds/create") => shop_refund(engine, event).await,
        (Plat::Shop, "products/update") => product_changed(engine, event).await,
        (Plat::Pay, "payment_intent.payment_failed" | "payment_intent.canceled") => {
            payment_dropped(engine, event).await
        }
        (Plat::Pay, "charge.refunded") => external_refunds::charge_refunded(engine, event).await,
        _ => Ok(()),
    }
}

async fn pos_stock_changed(engine: &Engine, event: &Event) -> Outcome {
    let Some(change) = parse::<StockChange>(engine, event) else {
        return Ok(());
    };
    let cause = change.cause.unwrap_or_default();
    if is_echo(&cause) || cause.delta == 0 {
        return Ok(());
    }
    let absolute =
        |quantity: i64| set_on_shop(engine, event, &change.sku, &change.location, quantity);
    match cause.kind.as_str() {
        // Units set aside for, released from, or handed to an online order:
        // the shop already counts them through the order.
        "fulfillment" | "reserve" | "release" => Ok(()),
        "count" if engine.has(Defect::CountAbsolute) => {
            absolute(change.quantity.unwrap_or(0)).await
        }
        _ if wipes_to_zero(engine, change.quantity) => absolute(0).await,
        _ => {
            push_to_shop(
                engine,
                event,
                &change.sku,
                &change.location,
                cause.delta,
                change.quantity,
            )
            .await
        }
    }
}

/// Writes an absolute level on the shop: the POS count less the buffer (the
/// defects' blind overwrite).
async fn set_on_shop(
    engine: &Engine,
    event: &Event,
    sku: &str,
    location: &str,
    quantity: i64,
) -> Outcome {
    let body = SetInventory {
        sku: sku.to_owned(),
        location: location.to_owned(),
        available: (quantity - engine.strategy().buffer).max(0),
        change_from: None,
        reference: Some(reference(event)),
    };
    let key = engine.stock_key(format!("eng:{}:shop-set:{sku}:{location}", event.id));
    settle(
        engine,
        event,
        &format!("setting {sku} at {location} to {quantity} on the shop"),
        engine.call(|| engine.shop.set(&body, key.as_deref())).await,
    )?;
    Ok(())
}

/// The shop location a store's stock is written to: the same id (with
/// [`Defect::WrongLocation`], the first store's).
async fn shop_location_of(engine: &Engine, location: &str) -> Result<String, SyncFailure> {
    if !engine.has(Defect::WrongLocation) || !is_store(engine, location).await? {
        return Ok(location.to_owned());
    }
    let first = engine
        .pos_locations
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .first()
        .cloned();
    Ok(first.unwrap_or_else(|| location.to_owned()))
}

async fn push_to_shop(
    engine: &Engine,
    event: &Event,
    sku: &str,
    location: &str,
    delta: i64,
    pos_quantity: Option<i64>,
) -> Outcome {
    let location = shop_location_of(engine, location).await?;
    let location = location.as_str();
    let reference = reference(event);
    let key = engine.key(format!("eng:{}:shop-stock:{sku}:{location}", event.id));
    let doing = format!("pushing {delta:+} {sku} at {location} to the shop");
    let write = if engine.has(Defect::AbsoluteSet) {
        WriteMode::Set
    } else {
        engine.strategy().write
    };
    match write {
        WriteMode::Adjust => {
            let body = AdjustInventory {
                sku: sku.to_owned(),
                location: location.to_owned(),
                delta,
                reason: "correction".into(),
                change_from: None,
                reference: Some(reference),
            };
            let key = (!engine.has(Defect::NoIdempotencyKey)).then_some(key);
            settle(
                engine,
                event,
                &doing,
                engine
                    .call(|| engine.shop.adjust(&body, key.as_deref()))
                    .await,
            )?;
        }
        WriteMode::Set => {
            let Some(quantity) = pos_quantity else {
                return Ok(());
            };
            let body = SetInventory {
                sku: sku.to_owned(),
                location: location.to_owned(),
                available: (quantity - engine.strategy().buffer).max(0),
                change_from: None,
                reference: Some(reference),
            };
            settle(
                engine,
                event,
                &doing,
                engine.call(|| engine.shop.set(&body, Some(&key))).await,
            )?;
        }
        WriteMode::CompareAndSet => {
            for attempt in 0..8 {
                let Some(level) = settle(
                    engine,
                    event,
                    &doing,
                    engine.call(|| engine.shop.level(sku, location)).await,
                )?
                else {
                    return Ok(());
                };
                let body = AdjustInventory {
                    sku: sku.to_owned(),
                    location: location.to_owned(),
                    delta,
                    reason: "correction".into(),
                    change_from: Some(level.available),
                    reference: Some(reference.clone()),
                };
                let key = engine.key(format!("{key}:{attempt}"));
                match engine.call(|| engine.shop.adjust(&body, Some(&key))).await {
                    Err(e) if e.code() == Some("change_from_quantity_stale") => continue,
                    r => {
                        settle(engine, event, &doing, r)?;
                        return Ok(());
                    }
                }
            }
            engine.report(
                "write_conflict",
                format!("{doing}: still stale after 8 tries"),
                Some(&event.id),
            );
        }
    }
    Ok(())
}

async fn push_to_pos(
    engine: &Engine,
    event: &Event,
    sku: &str,
    location: &str,
    delta: i64,
    moves: (InventoryState, InventoryState),
    order_ref: Option<&str>,
) -> Outcome {
    let (from, to) = if delta > 0 { moves } else { (moves.1, moves.0) };
    let body = BatchChangeInventory {
        changes: vec![InventoryChange {
            kind: InventoryChangeType::Adjustment,
            sku: sku.to_owned(),
            location: location.to_owned(),
            quantity: delta.abs(),
            from_state: Some(from),
            to_state: Some(to),
            occurred_at: engine.clock.now(),
            reference: Some(reference(event)),
            order_ref: order_ref.map(str::to_owned),
        }],
    };
    let key = engine.stock_key(format!(
        "eng:{}:pos-stock:{sku}:{location}:{from:?}",
        event.id
    ));
    let doing = format!("pushing {delta:+} {sku} at {location} to the POS");
    settle(
        engine,
        event,
        &doing,
        engine
            .call(|| engine.pos.change_inventory(&body, key.as_deref()))
            .await,
    )?;
    Ok(())
}

/// [`Defect::ZeroWipes`]: a change that leaves the register (`quantity`) at zero or
/// below is pushed to the shop as an absolute zero.
fn wipes_to_zero(engine: &Engine, quantity: Option<i64>) -> bool {
    engine.has(Defect::ZeroWipes) && quantity.is_some_and(|q| q <= 0)
}

/// Counts the shop's `on_hand` units (with the buffer back) at a POS store:
/// the blind overwrite of [`Defect::OnHandSynced`].
async fn count_on_pos(
    engine: &Engine,
    event: &Event,
    sku: &str,
    location: &str,
    on_hand: Option<i64>,
) -> Outcome {
    if !is_store(engine, location).await? {
        return Ok(());
    }
    let quantity = on_hand.unwrap_or(0) + engine.strategy().buffer;
    let body = BatchChangeInventory {
        changes: vec![InventoryChange {
            kind: InventoryChangeType::PhysicalCount,
            sku: sku.to_owned(),
            location: location.to_owned(),
            quantity,
            from_state: None,
            to_state: None,
            occurred_at: engine.clock.now(),
            reference: Some(reference(event)),
            order_ref: None,
        }],
    };
    let key = engine.stock_key(format!("eng:{}:pos-count:{sku}:{location}", event.id));
    settle(
        engine,
        event,
        &format!("counting {quantity} {sku} at {location} on the POS"),
        engine
            .call(|| engine.pos.change_inventory(&body, key.as_deref()))
            .await,
    )?;
    Ok(())
}

async fn shop_stock_changed(engine: &Engine, event: &Event) -> Outcome {
    let Some(change) = parse::<StockChange>(engine, event) else {
        return Ok(());
    };
    let cause = change.cause.unwrap_or_default();
    // The connector's own writes come back; with the defect it recognises
    // them only on the POS's events.
    if (is_echo(&cause) && !engine.has(Defect::EchoApplied)) || cause.delta == 0 {
        return Ok(());
    }
    match cause.kind.as_str() {
        "adjust" | "set" if engine.has(Defect::OnHandSynced) => {
            count_on_pos(engine, event, &change.sku, &change.location, change.on_hand).await
        }
        // Staff changed stock on the shop: the POS must see the same difference.
        "adjust" | "set" => {
            push_to_pos(
                engine,
                event,
                &change.sku,
                &change.location,
                cause.delta,
                (InventoryState::None, InventoryState::InStock),
                None,
            )
            .await
        }
        // Orders, cancels, fulfilments and refunds are handled from their own events.
        _ => Ok(()),
    }
}

fn order_location(o: &Order) -> String {
    o.pickup_location
        .clone()
        .unwrap_or_else(|| o.location.clone())
}

fn track_of(engine: &Engine, o: &Order) -> OrderTrack {
    engine
        .with_state(|s| s.orders.get(&o.id).cloned())
        .unwrap_or_else(|| OrderTrack {
            id: o.id.clone(),
            location: order_location(o),
            payment_intent: o.payment_intent.clone(),
            ..OrderTrack::default()
        })
}

async fn is_store(engine: &Engine, location: &str) -> Result<bool, SyncFailure> {
    let cached = |l: &str| {
        engine
            .pos_locations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(l)
    };
    if cached(location) {
        return Ok(true);
    }
    // Unknown so far: the POS may have gained a store since the last look.
    let listed = engine
        .call(|| engine.pos.0.locations())
        .await
        .map_err(|e| SyncFailure::Api {
            doing: "listing POS locations".into(),
            source: e,
        })?;
    engine
        .pos_locations
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(listed.data.into_iter().map(|l| l.id));
    Ok(cached(location))
}

/// [`Defect::ReserveLag`]: an order imported now is set aside at its store
/// by the next batch pass, not at once (true), unless it is that pass or the
/// order is already fulfilled. Without the defect, never.
fn reservation_deferred(
    engine: &Engine,
    event: &Event,
    o: &Order,
    track: &OrderTrack,
    at_store: bool,
    reserve_now: bool,
) -> bool {
    let deferred = engine.has(Defect::ReserveLag)
        && !event.id.starts_with(BATCH_PREFIX)
        && at_store
        && !track.reserved
        && reserve_now
        && o.fulfillment_status != FulfillmentStatus::Fulfilled;
    if deferred {
        engine
            .pending_reservations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(o.id.clone());
    }
    deferred
}

async fn order_changed(engine: &Engine, event: &Event, o: Order) -> Outcome {
    let mut track = track_of(engine, &o);
    let at_store = is_store(engine, &track.location).await?;
    let cancelled = o.status == OrderStatus::Cancelled;
    if cancelled {
        // With the defect, the release is left to the refund a cancel makes,
        // and an order that was only authorized (a no-show) gets none.
        let refund_pending = engine.has(Defect::NoShowNotReleased) && o.total_captured.is_zero();
        // A reservation the connector does not know it made (it crashed
        // while the register took it, the answer never came back) holds the
        // units all the same: at a store, ask the register to release
        // whatever it holds for the order; it answers `unknown_pickup` when
        // nothing was set aside.
        let maybe_reserved = track.reserved || at_store;
        if maybe_reserved && !track.released && !track.picked_up && !refund_pending {
            let key = engine.key(format!("eng:release:{}", o.id));
            let r = engine
                .call(|| engine.pos.cancel_pickup(&o.id, Some(&key)))
                .await;
            match r {
                Err(e) if e.code() == Some("pickup_already_cancelled") => {}
                Err(e) if !track.reserved && e.code() == Some("unknown_pickup") => {}
                r => {
                    settle(engine, event, "releasing the store reservation", r)?;
                }
            }
            track.released = true;
        }
        track.cancelled = true;
        engine.with_state(|s| s.save_order(track));
        return Ok(());
    }
    // Money taken, whatever refunds followed. A refund before capture makes the
    // order `partially_refunded` while it is still only authorized, so the
    // status alone does not say whether it was captured.
    let paid = o.total_captured > rust_decimal::Decimal::ZERO
        || matches!(
            o.financial_status,
            FinancialStatus::Paid | FinancialStatus::PartiallyPaid
        );
    let reserve_now = match engine.strategy().reserve {
        ReserveMode::OnOrder => true,
        ReserveMode::OnCapture => paid,
    };
    let fulfilled = o.fulfillment_status == FulfillmentStatus::Fulfilled;
    // An order first seen already fulfilled (its webhooks were late or
    // reordered, or the connector was down) still took its units from the
    // store: reserve them now so that the handover below takes them off the
    // register.
    let unreserved_handover = fulfilled && !track.picked_up;
    let deferred = reservation_deferred(engine, event, &o, &track, at_store, reserve_now);
    if !deferred
        && at_store
        && !track.reserved
        && (unreserved_handover || (reserve_now && !fulfilled))
    {
        let left = |l: &omnisim_api::shop::OrderLine| {
            if unreserved_handover {
                l.quantity - l.refunded_quantity
            } else {
                l.quantity - l.refunded_quantity - l.fulfilled_quantity
            }
        };
        let body = CreatePickup {
            order_ref: o.id.clone(),
            location: track.location.clone(),
            lines: o
                .lines
                .iter()
                .filter(|l| left(l) > 0)
                .map(|l| SaleLineRequest {
                    sku: l.sku.clone(),
                    quantity: left(l),
                })
                .collect(),
            customer: o.customer.clone(),
        };
        if !body.lines.is_empty() {
            let key = engine.key(format!("eng:reserve:{}", o.id));
            match engine
                .call(|| engine.pos.create_pickup(&body, Some(&key)))
                .await
            {
                Err(e) if e.code() == Some("pickup_exists") => {}
                // A line the register does not carry (a web-only item)
                // refuses the whole pickup: set aside the lines it does.
                Err(e) if e.code() == Some("unknown_sku") => {
                    reserve_carried_lines(engine, event, body).await?;
                }
                r => {
                    settle(engine, event, "reserving the order's units at the store", r)?;
                }
            }
        }
        track.reserved = true;
    }
    if o.fulfillment_status == FulfillmentStatus::Fulfilled {
        track.fulfilled = true;
        if at_store && track.reserved && !track.picked_up {
            let key = engine.key(format!("eng:handover:{}", o.id));
            match engine
                .call(|| engine.pos.complete_pickup(&o.id, Some(&key)))
                .await
            {
                Err(e) if e.code() == Some("pickup_already_completed") => {}
                r => {
                    settle(engine, event, "completing the store pickup", r)?;
                }
            }
            track.picked_up = true;
        }
        if o.total_capturable > rust_decimal::Decimal::ZERO && !track.captured {
            let key = engine.key(format!("eng:capture:{}", o.id));
            let all = if engine.has(Defect::CaptureOriginalTotal) {
                CaptureOrder {
                    amount: Some(o.total),
                }
            } else {
                CaptureOrder::default()
            };
            let r = engine
                .call(|| engine.shop.capture(&o.id, &all, Some(&key)))
                .await;
            if settle(engine, event, "capturing the fulfilled order", r)?.is_some() {
                track.captured = true;
            }
        }
    }
    if paid {
        track.captured = true;
    }
    engine
        .to_match
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(o.id.clone());
    engine.with_state(|s| s.save_order(track));
    Ok(())
}

async fn pos_pickup_completed(engine: &Engine, event: &Event) -> Outcome {
    let Some(done) = parse::<PickupDone>(engine, event) else {
        return Ok(());
    };
    let Some(order) = settle(
        engine,
        event,
        "reading the picked-up order",
        engine.call(|| engine.shop.order(&done.order_ref)).await,
    )?
    else {
        return Ok(());
    };
    if let Some(mut track) = engine.with_state(|s| s.orders.get(&order.id).cloned()) {
        track.picked_up = true;
        engine.with_state(|s| s.save_order(track));
    }
    let order = if order.fulfillment_status == FulfillmentStatus::Fulfilled
        || order.status == OrderStatus::Cancelled
    {
        order
    } else {
        let key = engine.key(format!("eng:fulfil:{}", order.id));
        let all = FulfillOrder::default();
        match settle(
            engine,
            event,
            "fulfilling the picked-up order",
            engine
                .call(|| engine.shop.fulfill(&order.id, &all, Some(&key)))
                .await,
        )? {
            Some(o) => o,
            None => return Ok(()),
        }
    };
    order_changed(engine, event, order).await
}

/// A clerk closed a pickup at the register (the customer never came): the
/// online order is cancelled, which voids its authorization and gives its
/// units back online. The connector's own release (after a cancel on the
/// shop) comes back here too and finds the order already cancelled.
async fn pos_pickup_cancelled(engine: &Engine, event: &Event) -> Outcome {
    let Some(done) = parse::<PickupDone>(engine, event) else {
        return Ok(());
    };
    let order = match engine.call(|| engine.shop.order(&done.order_ref)).await {
        // A pickup for something the shop never sold: nothing to cancel.
        Err(e) if matches!(e.code(), Some("resource_missing" | "unknown_order")) => return Ok(()),
        r => match settle(engine, event, "reading the order of a closed pickup", r)? {
            Some(o) => o,
            None => return Ok(()),
        },
    };
    let mut track = track_of(engine, &order);
    track.reserved = true;
    track.released = true;
    if order.status == OrderStatus::Cancelled
        || order.fulfillment_status == FulfillmentStatus::Fulfilled
    {
        engine.with_state(|s| s.save_order(track));
        return Ok(());
    }
    if engine.has(Defect::CancelKeepsAuthorization) {
        // Cancelled in the connector's books, never on the shop.
        track.cancelled = true;
        engine.with_state(|s| s.save_order(track));
        return Ok(());
    }
    engine.with_state(|s| s.save_order(track));
    let key = engine.key(format!("eng:no-show:{}", order.id));
    let body = CancelOrder {
        reason: CancelReason::Customer,
        restock: Some(true),
    };
    match engine
        .call(|| engine.shop.cancel(&order.id, &body, Some(&key)))
        .await
    {
        Err(e) if e.code() == Some("order_already_cancelled") => Ok(()),
        r => {
            if let Some(order) = settle(engine, event, "cancelling a no-show's order", r)? {
                order_changed(engine, event, order).await?;
            }
            Ok(())
        }
    }
}

async fn shop_refund(engine: &Engine, event: &Event) -> Outcome {
    let Some(refund) = parse::<ShopRefund>(engine, event) else {
        return Ok(());
    };
    let track = engine.with_state(|s| s.orders.get(&refund.order_id).cloned());
    if engine.has(Defect::BulkAborts) {
        return shop_refund_in_one_batch(engine, event, &refund, track.as_ref()).await;
    }
    let mut shortened: Vec<String> = Vec::new();
    for line in &refund.lines {
        match line.restock_type {
            // Goods came back: they are physically in the store now.
            RestockType::Return if !engine.has(Defect::ReturnRestockIgnored) => {
                if let Some(location) = &line.location
                    && is_store(engine, location).await?
                {
                    push_to_pos(
                        engine,
                        event,
                        &line.sku,
                        location,
                        line.quantity,
                        (InventoryState::None, InventoryState::InStock),
                        None,
                    )
                    .await?;
                }
            }
            // Unfulfilled units refunded: release them from the store reservation.
            RestockType::Cancel => {
                if let Some(t) = &track
                    && t.reserved
                    && !t.released
                    && !t.picked_up
                {
                    if !engine.has(Defect::ReleaseOldestPickup)
                        && !engine.has(Defect::PickupNotShortened)
                    {
                        // The pickup itself is cut to what the order holds.
                        shortened.push(line.sku.clone());
                        continue;
                    }
                    push_to_pos(
                        engine,
                        event,
                        &line.sku,
                        &t.location,
                        line.quantity,
                        (InventoryState::ReservedForSale, InventoryState::InStock),
                        // From this order's pickup, not the oldest one's.
                        (!engine.has(Defect::ReleaseOldestPickup)).then_some(t.id.as_str()),
                    )
                    .await?;
                }
            }
            RestockType::Return | RestockType::NoRestock => {}
        }
    }
    if let Some(t) = &track
        && !shortened.is_empty()
    {
        pickups::follow_order(engine, event, t, &shortened).await?;
    }
    let _ = refund.id;
    Ok(())
}

/// Sets aside at the store the lines of a pickup the register carries, after
/// the register refused the whole pickup for a SKU it does not: each line
/// the register lacks is reported by name (`unmapped_sku`), and the rest
/// reserved under a key of their own (the refused body's key stays bound to
/// the refusal).
async fn reserve_carried_lines(engine: &Engine, event: &Event, mut body: CreatePickup) -> Outcome {
    let mut carried = Vec::new();
    for line in std::mem::take(&mut body.lines) {
        match engine.call(|| engine.pos.item(&line.sku)).await {
            Err(e) if e.code() == Some("unknown_sku") => engine.report(
                "unmapped_sku",
                format!(
                    "order {} holds {} × {}, which the register does not carry: not set aside at {}",
                    body.order_ref, line.quantity, line.sku, body.location
                ),
                Some(&event.id),
            ),
            r => {
                if settle(engine, event, "reading the POS item", r)?.is_some() {
                    carried.push(line);
                }
            }
        }
    }
    if carried.is_empty() {
        return Ok(());
    }
    body.lines = carried;
    let key = engine.key(format!("eng:reserve-carried:{}", body.order_ref));
    match engine
        .call(|| engine.pos.create_pickup(&body, Some(&key)))
        .await
    {
        Err(e) if e.code() == Some("pickup_exists") => Ok(()),
        r => settle(engine, event, "reserving the order's units at the store", r).map(|_| ()),
    }
}

/// [`Defect::BulkAborts`]: every line of a refund in one POS batch, which the
/// POS takes whole or not at all; a refusal is reported without the item.
async fn shop_refund_in_one_batch(
    engine: &Engine,
    event: &Event,
    refund: &ShopRefund,
    track: Option<&OrderTrack>,
) -> Outcome {
    let mut changes = Vec::new();
    for line in &refund.lines {
        let (location, from, order_ref) = match line.restock_type {
            RestockType::Return => match &line.location {
                Some(l) if is_store(engine, l).await? => (l.clone(), InventoryState::None, None),
                _ => continue,
            },
            RestockType::Cancel => match track {
                Some(t) if t.reserved && !t.released && !t.picked_up => (
                    t.location.clone(),
                    InventoryState::ReservedForSale,
                    Some(t.id.clone()),
                ),
                _ => continue,
            },
            RestockType::NoRestock => continue,
        };
        changes.push(InventoryChange {
            kind: InventoryChangeType::Adjustment,
            sku: line.sku.clone(),
            location,
            quantity: line.quantity,
            from_state: Some(from),
            to_state: Some(InventoryState::InStock),
            occurred_at: engine.clock.now(),
            reference: Some(reference(event)),
            order_ref,
        });
    }
    if changes.is_empty() {
        return Ok(());
    }
    let body = BatchChangeInventory { changes };
    let key = engine.stock_key(format!("eng:{}:pos-batch", event.id));
    match engine
        .call(|| engine.pos.change_inventory(&body, key.as_deref()))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_retryable() => Err(SyncFailure::Api {
            doing: "restocking a refund at the POS".into(),
            source: e,
        }),
        Err(_) => {
            engine.report(
                "write_refused",
                "the stock batch was refused".into(),
                Some(&event.id),
            );
            Ok(())
        }
    }
}

async fn pos_return(engine: &Engine, event: &Event) -> Outcome {
    let Some(ret) = parse::<PosReturn>(engine, event) else {
        return Ok(());
    };
    let Some(order_ref) = ret.order_ref else {
        return Ok(());
    };
    let Some(order) = settle(
        engine,
        event,
        "reading the returned order",
        engine.call(|| engine.shop.order(&order_ref)).await,
    )?
    else {
        return Ok(());
    };
    let mut lines = Vec::new();
    for (i, rl) in ret.lines.iter().enumerate() {
        let line = if engine.has(Defect::RefundWrongLine) {
            order.lines.get(i)
        } else {
            order.lines.iter().find(|l| l.sku == rl.sku)
        };
        match line {
            Some(l) => lines.push(RefundLineRequest {
                line_id: l.id.clone(),
                quantity: if engine.has(Defect::RefundWholeLine) {
                    l.quantity - l.refunded_quantity
                } else {
                    rl.quantity
                },
                // The POS already took the units back (and restocked them if it did).
                restock_type: RestockType::NoRestock,
                location: None,
            }),
            None => engine.report(
                "return_mismatch",
                format!(
                    "store return {} names {} which order {} does not hold",
                    ret.id, rl.sku, order.id
                ),
                Some(&event.id),
            ),
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    if engine.has(Defect::GiftCardRefundRecordedOnly) && paid_by_gift_card(engine, &order).await {
        // The bug: the refund is written on the order as if the register had
        // paid it back, and no money goes back to the card.
        let body = omnisim_api::shop::CreateOrderTransaction {
            kind: omnisim_api::shop::TransactionKind::Refund,
            amount: ret.amount,
            gateway_reference: format!("store-return-{}", ret.id),
            note: Some(format!("store return {}", ret.id)),
        };
        let key = engine.key(format!("eng:refund:{}", ret.id));
        settle(
            engine,
            event,
            "recording a store return on the online order",
            engine
                .call(|| engine.shop.record_transaction(&order.id, &body, Some(&key)))
                .await,
        )?;
        return Ok(());
    }
    let body = CreateOrderRefund {
        lines,
        note: Some(format!("store return {}", ret.id)),
    };
    let key = engine.key(format!("eng:refund:{}", ret.id));
    let attempt = std::sync::atomic::AtomicU32::new(0);
    let key_now = || {
        if engine.has(Defect::RetryNewKey) {
            let n = attempt.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            format!("{key}:{n}")
        } else {
            key.clone()
        }
    };
    settle(
        engine,
        event,
        "refunding the online order for a store return",
        engine
            .call(|| {
                let key = key_now();
                let (order, body) = (&order, &body);
                async move { engine.shop.refund(&order.id, body, Some(&key)).await }
            })
            .await,
    )?;
    Ok(())
}

/// Whether the order was paid with a gift card (read from its intent; an
/// unreadable intent counts as not).
async fn paid_by_gift_card(engine: &Engine, order: &Order) -> bool {
    let Some(pi) = &order.payment_intent else {
        return false;
    };
    engine
        .call(|| engine.pay.intent(pi))
        .await
        .ok()
        .and_then(|i| i.payment_method)
        .is_some_and(|m| m.kind == omnisim_api::pay::PaymentMethodKind::GiftCard)
}

async fn payment_dropped(engine: &Engine, event: &Event) -> Outcome {
    let Some(intent) = parse::<IntentView>(engine, event) else {
        return Ok(());
    };
    let Some(order_id) = intent.metadata.get("order_id") else {
        return Ok(());
    };
    let order = match engine.call(|| engine.shop.order(order_id)).await {
        // A checkout declined at the gateway never became an order.
        Err(e) if matches!(e.code(), Some("resource_missing" | "unknown_order")) => return Ok(()),
        r => match settle(engine, event, "reading the order of a failed payment", r)? {
            Some(o) => o,
            None => return Ok(()),
        },
    };
    // The shop may already have recorded the failure itself (reading an order
    // brings a settling payment up to date): a voided payment on an open
    // order still leaves its stock committed, so it is cancelled too.
    let open_money = matches!(
        order.financial_status,
        FinancialStatus::Pending | FinancialStatus::Authorized
    ) || (order.financial_status == FinancialStatus::Voided
        && !engine.has(Defect::FailedPaymentKept));
    if order.status == OrderStatus::Cancelled
        || !open_money
        || order.payment_intent.as_deref() != Some(intent.id.as_str())
    {
        return Ok(());
    }
    let key = engine.key(format!("eng:cancel:{}", event.id));
    let body = CancelOrder {
        reason: CancelReason::Declined,
        restock: Some(true),
    };
    let r = engine
        .call(|| engine.shop.cancel(&order.id, &body, Some(&key)))
        .await;
    match r {
        Err(e) if e.code() == Some("order_already_cancelled") => Ok(()),
        r => {
            if let Some(order) =
                settle(engine, event, "cancelling the order of a failed payment", r)?
            {
                order_changed(engine, event, order).await?;
            }
            Ok(())
        }
    }
}

async fn product_changed(engine: &Engine, event: &Event) -> Outcome {
    // The engine's own write coming back (a price carried from the
    // register): carrying it again could undo a newer change there.
    if event.actor.is_connector() {
        return Ok(());
    }
    let Some(changed) = parse::<ProductView>(engine, event) else {
        return Ok(());
    };
    // Webhooks may arrive out of order (an older price after a newer one):
    // carry the product as it is now, not the event's copy.
    let copy = catalog::Fields {
        price: changed.price,
        currency: changed.currency.clone(),
        tax_code: changed.tax_code.clone(),
        updated_at: None,
    };
    let product = if engine.has(Defect::StaleProduct) {
        changed
    } else {
        match settle(
            engine,
            event,
            "reading the product",
            engine.call(|| engine.shop.product(&changed.sku)).await,
        )? {
            Some(p) => ProductView {
                sku: p.sku,
                price: p.price,
                currency: p.currency,
                tax_code: p.tax_code,
                updated_at: Some(p.updated_at),
            },
            None => return Ok(()),
        }
    };
    let Some(item) = settle(
        engine,
        event,
        "reading the POS item",
        engine.call(|| engine.pos.item(&product.sku)).await,
    )?
    else {
        return Ok(());
    };
    // A field both sides changed since they last agreed goes to the later
    // change: the shop's record was changed last.
    let shop_newer = product.updated_at.is_none_or(|at| at >= item.updated_at);
    let shop = catalog::Fields {
        price: product.price,
        currency: product.currency,
        tax_code: product.tax_code,
        updated_at: product.updated_at,
    };
    let pos = catalog::Fields {
        price: item.price,
        currency: item.currency,
        tax_code: item.tax_code,
        updated_at: Some(item.updated_at),
    };
    catalog::reconcile(
        engine,
        event,
        &product.sku,
        (crate::catalog::Master::Shop, shop_newer),
        &copy,
        &shop,
        &pos,
    )
    .await
}

/// A price or tax change made at the register reaches the shop product, as
/// it stands now (webhooks may come late or out of order). The engine's own
/// writes of the shop's changes come back as `item.updated` too: those are
/// skipped (the event's `actor` is the connector), or a stale echo could
/// undo a newer change on the shop.
async fn item_changed(engine: &Engine, event: &Event) -> Outcome {
    if event.actor.is_connector() {
        return Ok(());
    }
    #[derive(Deserialize)]
    struct ItemRef {
        sku: String,
        price: rust_decimal::Decimal,
        currency: String,
        #[serde(default)]
        tax_code: Option<String>,
    }
    let Some(changed) = parse::<ItemRef>(engine, event) else {
        return Ok(());
    };
    let copy = catalog::Fields {
        price: changed.price,
        currency: changed.currency.clone(),
        tax_code: changed.tax_code.clone(),
        updated_at: None,
    };
    let Some(item) = settle(
        engine,
        event,
        "reading the POS item",
        engine.call(|| engine.pos.item(&changed.sku)).await,
    )?
    else {
        return Ok(());
    };
    let product = match engine.call(|| engine.shop.product(&item.sku)).await {
        // On the POS only: nothing to carry (reported at start).
        Err(e) if e.code() == Some("unknown_sku") => {
            return Ok(());
        }
        r => match settle(engine, event, "reading the shop product", r)? {
            Some(p) => p,
            None => return Ok(()),
        },
    };
    // A field both sides changed since they last agreed goes to the later
    // change: the register's record was changed last.
    let pos_newer = item.updated_at >= product.updated_at;
    let shop = catalog::Fields {
        price: product.price,
        currency: product.currency,
        tax_code: product.tax_code,
        updated_at: Some(product.updated_at),
    };
    let pos = catalog::Fields {
        price: item.price,
        currency: item.currency,
        tax_code: item.tax_code,
        updated_at: Some(item.updated_at),
    };
    catalog::reconcile(
        engine,
        event,
        &item.sku,
        (crate::catalog::Master::Pos, pos_newer),
        &copy,
        &shop,
        &pos,
    )
    .await
}

/// At start: checks that every SKU exists on both the POS and the shop and
/// reports those that do not (never guessing a mapping). On a fresh install
/// it also aligns each store's online availability with the POS count minus
/// the buffer, with a compare-and-set write per level that differs.
pub(crate) async fn map_catalog(
    engine: &Engine,
    fresh_install: bool,
) -> Result<(), crate::engine::EngineError> {
    use crate::engine::EngineError;
    let api = |doing: &str, e: ApiError| EngineError::Api {
        doing: doing.to_owned(),
        source: e,
    };
    let items = engine
        .call(|| engine.pos.items())
        .await
        .map_err(|e| api("listing POS items", e))?;
    let products = engine
        .call(|| engine.shop.products())
        .await
        .map_err(|e| api("listing shop products", e))?;
    let pos_skus: std::collections::BTreeSet<String> =
        items.data.iter().map(|i| i.sku.clone()).collect();
    let shop_skus: std::collections::BTreeSet<String> =
        products.data.iter().map(|p| p.sku.clone()).collect();
    for sku in pos_skus.difference(&shop_skus) {
        engine.report(
            "unmapped_sku",
            format!("`{sku}` is on the POS but not on the shop; its stock is not synced"),
            None,
        );
    }
    for sku in shop_skus.difference(&pos_skus) {
        engine.report(
            "unmapped_sku",
            format!("`{sku}` is on the shop but not on the POS; store stock is not synced"),
            None,
        );
    }
    // The catalog base of each SKU both sides carry and agree on, unless
    // the engine already holds one (from before a restart: the sides may
    // have moved apart since, and only the base tells which one moved).
    for item in &items.data {
        if let Some(p) = products.data.iter().find(|p| p.sku == item.sku) {
            let fields = |price, currency: &String, tax_code: &Option<String>| catalog::Fields {
                price,
                currency: currency.clone(),
                tax_code: tax_code.clone(),
                updated_at: None,
            };
            catalog::seed_base(
                engine,
                &item.sku,
                &fields(p.price, &p.currency, &p.tax_code),
                &fields(item.price, &item.currency, &item.tax_code),
            );
        }
    }
    if !fresh_install {
        return Ok(());
    }
    let stores = engine
        .call(|| engine.pos.0.locations())
        .await
        .map_err(|e| api("listing POS locations", e))?;
    let buffer = engine.strategy().buffer;
    for sku in pos_skus.intersection(&shop_skus) {
        for store in &stores.data {
            let (Ok(count), Ok(level)) = (
                engine.call(|| engine.pos.count(sku, &store.id)).await,
                engine.call(|| engine.shop.level(sku, &store.id)).await,
            ) else {
                continue;
            };
            let target = (count.quantity - buffer).max(0);
            if level.available == target {
                continue;
            }
            let body = AdjustInventory {
                sku: sku.clone(),
                location: store.id.clone(),
                delta: target - level.available,
                reason: "correction".into(),
                change_from: Some(level.available),
                reference: Some(format!("{REFERENCE_PREFIX}align:{sku}:{}", store.id)),
            };
            if let Err(e) = engine.call(|| engine.shop.adjust(&body, None)).await {
                engine.report(
                    "align_failed",
                    format!("aligning {sku} at {}: {e}", store.id),
                    None,
                );
            }
        }
    }
    Ok(())
}

/// [`Defect::ReserveLag`]'s batch pass: reserves the store units of the
/// orders imported since the last pass.
async fn reserve_pending(engine: &Engine) {
    let pending = std::mem::take(
        &mut *engine
            .pending_reservations
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
    );
    if pending.is_empty() {
        return;
    }
    let _one_at_a_time = engine.exclusive().await;
    for id in pending {
        let Ok(order) = engine.call(|| engine.shop.order(&id)).await else {
            continue;
        };
        let batch = Event {
            id: format!("{BATCH_PREFIX}{id}"),
            seq: 0,
            kind: "orders/create".into(),
            occurred_at: engine.clock.now(),
            actor: Default::default(),
            data: serde_json::Value::Null,
        };
        if let Err(e) = order_changed(engine, &batch, order).await {
            engine.report("apply_failed", e.to_string(), None);
        }
    }
    engine.commit_or_report();
}

/// The periodic pass after each poll: compares the orders that changed since
/// the last pass with the gateway (three-way match) and reports mismatches.
/// A mismatch that may still be settling (a capture in flight) is looked at
/// again on the next pass.
pub(crate) async fn reconcile(engine: &Engine) {
    reserve_pending(engine).await;
    let changed: Vec<String> =
        std::mem::take(&mut *engine.to_match.lock().unwrap_or_else(|p| p.into_inner()))
            .into_iter()
            .collect();
    for id in changed {
        let Some(track) = engine.with_state(|s| s.orders.get(&id).cloned()) else {
            continue;
        };
        let Some(intent_id) = &track.payment_intent else {
            continue;
        };
        let (Ok(order), Ok(intent)) = (
            engine.shop.order(&track.id).await,
            engine.pay.intent(intent_id).await,
        ) else {
            engine
                .to_match
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id);
            continue;
        };
        let shop_net = order.total_captured - order.total_refunded;
        let pay_net = intent.amount_received - intent.amount_refunded;
        if shop_net != pay_net && order.total_captured > rust_decimal::Decimal::ZERO {
            engine.report(
                "payment_mismatch",
                format!(
                    "order {} shows {shop_net} net captured; intent {} shows {pay_net}",
                    order.id, intent.id
                ),
                None,
            );
        }
    }
}
