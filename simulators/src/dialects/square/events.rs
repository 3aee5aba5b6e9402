//! Canonical POS events as Square webhook events, for subscriptions made
//! through `/v2/webhooks/subscriptions`: `{merchant_id, type, event_id,
//! created_at, data: {type, id, object}}`, as Square's event schemas have them.
//!
//! - `inventory.count.updated` ← the POS's `inventory.count.updated`;
//! - `catalog.version.updated` ← `item.updated`;
//! - `order.created` and `order.updated` ← `sale.created` (a register sale,
//!   or an order made through the dialect once it is paid).

use bytes::Bytes;
use omnisim_api::Event;
use serde_json::{Value, json};

use super::wire;
use crate::dialects::Rendered;
use crate::pos::PosState;

/// The event types a Square subscription may name.
pub const TYPES: &[&str] = &[
    "inventory.count.updated",
    "catalog.version.updated",
    "order.created",
    "order.updated",
    "payment.created",
    "payment.updated",
    "refund.created",
    "refund.updated",
];

/// A deterministic event id per canonical event and rendering.
fn event_id(event: &Event, n: usize) -> String {
    format!("00000000-0000-4000-8{n:03}-{:012}", event.seq)
}

fn envelope(event: &Event, n: usize, kind: &str, data: Value) -> Rendered {
    let id = event_id(event, n);
    let body = json!({
        "merchant_id": wire::MERCHANT_ID,
        "type": kind,
        "event_id": id,
        "created_at": wire::ts(event.occurred_at),
        "data": data,
    });
    Rendered {
        id,
        topic: kind.to_owned(),
        body: Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
        headers: vec![("square-environment", "Sandbox".to_owned())],
    }
}

/// Renders one canonical POS event as the Square events it stands for.
pub fn render(state: &PosState, event: &Event) -> Vec<Rendered> {
    let d = &event.data;
    match event.kind.as_str() {
        "inventory.count.updated" => {
            let (Some(sku), Some(location), Some(quantity)) = (
                d["sku"].as_str(),
                d["location"].as_str(),
                d["quantity"].as_i64(),
            ) else {
                return Vec::new();
            };
            let at = d["calculated_at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map_or(event.occurred_at, |t| t.with_timezone(&chrono::Utc));
            let count = wire::count(state, sku, location, quantity, at);
            vec![envelope(
                event,
                0,
                "inventory.count.updated",
                json!({
                    "type": "inventory_counts",
                    "id": event.id,
                    "object": {"inventory_counts": [count]},
                }),
            )]
        }
        "item.updated" => vec![envelope(
            event,
            0,
            "catalog.version.updated",
            json!({
                "type": "catalog_version",
                "object": {"catalog_version": {"updated_at": wire::ts(event.occurred_at)}},
            }),
        )],
        "sale.created" => {
            let Some(sale_id) = d["id"].as_str() else {
                return Vec::new();
            };
            let location = d["location"].as_str().unwrap_or_default();
            let book = state.square();
            let (order_id, version, created) = match book
                .order_of_sale
                .get(sale_id)
                .and_then(|o| book.orders.get(o))
            {
                Some(o) => (o.id.clone(), o.version, o.created_at),
                None => (sale_id.to_owned(), 1, event.occurred_at),
            };
            let summary = |key: &str| {
                let mut o = json!({
                    "order_id": order_id,
                    "version": version,
                    "location_id": location,
                    "state": "COMPLETED",
                    "created_at": wire::ts(created),
                });
                if key == "order_updated" {
                    o["updated_at"] = wire::ts(event.occurred_at).into();
                }
                json!({"type": key, "id": order_id, "object": {key: o}})
            };
            vec![
                envelope(event, 0, "order.created", summary("order_created")),
                envelope(event, 1, "order.updated", summary("order_updated")),
            ]
        }
        _ => Vec::new(),
    }
}
