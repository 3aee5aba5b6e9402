//! Pickups follow their orders: when an online order waiting at a store is
//! shortened (a line dropped or partly refunded before collection), its POS
//! pickup is cut to what the order still holds, through the POS's own
//! `POST /v1/pickups/{order_ref}/lines`. The pickup slip the clerk reads then
//! lists what the customer takes, and the units it no longer lists go back
//! on the shelf.

use std::collections::BTreeMap;

use omnisim_api::Event;
use omnisim_api::pos::{SaleLineRequest, UpdatePickupLines};

use super::{Outcome, settle};
use crate::engine::Engine;
use crate::state::OrderTrack;

/// Cuts the pickup of `track` to the order's fulfillable units of each SKU
/// in `skus`, as the shop has the order now (so an older refund arriving
/// after a newer one changes nothing).
pub(super) async fn follow_order(
    engine: &Engine,
    event: &Event,
    track: &OrderTrack,
    skus: &[String],
) -> Outcome {
    let Some(order) = settle(
        engine,
        event,
        "reading a shortened pickup order",
        engine.call(|| engine.shop.order(&track.id)).await,
    )?
    else {
        return Ok(());
    };
    let mut left: BTreeMap<&str, i64> = BTreeMap::new();
    for l in &order.lines {
        *left.entry(l.sku.as_str()).or_default() += l.fulfillable_quantity;
    }
    let mut lines: Vec<SaleLineRequest> = Vec::new();
    for sku in skus {
        if lines.iter().any(|l| &l.sku == sku) {
            continue;
        }
        lines.push(SaleLineRequest {
            sku: sku.clone(),
            quantity: left.get(sku.as_str()).copied().unwrap_or(0),
        });
    }
    if lines.is_empty() {
        return Ok(());
    }
    let body = UpdatePickupLines { lines };
    let key = engine.key(format!("eng:{}:pickup-lines:{}", event.id, track.id));
    match engine
        .call(|| engine.pos.update_pickup_lines(&track.id, &body, Some(&key)))
        .await
    {
        // Collected or closed meanwhile: nothing is set aside any more.
        Err(e)
            if matches!(
                e.code(),
                Some("pickup_already_completed" | "pickup_already_cancelled")
            ) =>
        {
            Ok(())
        }
        r => settle(engine, event, "shortening the store pickup", r).map(|_| ()),
    }
}
