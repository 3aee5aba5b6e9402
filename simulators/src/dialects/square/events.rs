//! Canonical POS events as Square webhook events, for subscriptions made
//! through `/v2/webhooks/subscriptions`: `{merchant_id, type, event_id,
//! created_at, data: {type, id, object}}`, as Square's event schemas have them.
//!
//! - `inventory.count.updated` ← the POS's `inventory.count.updated`;
//! - `catalog.version.updated` ← `item.updated`, and `promotion.created`
//!   and `promotion.updated` (a promotion is catalog pricing in Square);
//! - `order.created` and `order.updated` ← the POS's own, for orders made
//!   through the dialect, and ← `sale.created` for a register sale;
//! - `order.fulfillment.updated` ← `pickup.completed` and
//!   `pickup.cancelled`, for a pickup a PICKUP order made (whoever closed
//!   it: the clerk at the register, or the caller's update);
//! - `payment.created|updated` and `refund.created|updated` ← the POS's
//!   own, for payments and refunds made through the dialect;
//! - `customer.created` and `customer.updated` ← the POS's own, for every
//!   profile (made through the dialect, natively, or at the register), with
//!   the profile as it was at that change.

use bytes::Bytes;
use omnisim_api::Event;
use omnisim_api::customer::Customer;
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
    "order.fulfillment.updated",
    "payment.created",
    "payment.updated",
    "refund.created",
    "refund.updated",
    "customer.created",
    "customer.updated",
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
        "item.updated" | "promotion.created" | "promotion.updated" => vec![envelope(
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
            if state.square().order_of_sale.contains_key(sale_id) {
                // The dialect's own order: its `order.updated` says it.
                return Vec::new();
            }
            let (order_id, version, created) = (sale_id.to_owned(), 1, event.occurred_at);
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
        "order.created" | "order.updated" => {
            let key = if event.kind == "order.created" {
                "order_created"
            } else {
                "order_updated"
            };
            let mut o = json!({
                "order_id": d["id"],
                "version": d["version"],
                "location_id": d["location_id"],
                "state": d["state"],
                "created_at": d["created_at"].as_str().and_then(parse).map(wire::ts),
            });
            if key == "order_updated" {
                o["updated_at"] = d["updated_at"]
                    .as_str()
                    .and_then(parse)
                    .map(wire::ts)
                    .into();
            }
            vec![envelope(
                event,
                0,
                &event.kind,
                json!({"type": key, "id": d["id"], "object": {key: o}}),
            )]
        }
        "pickup.completed" | "pickup.cancelled" => {
            let Some(o) = d["order_ref"]
                .as_str()
                .and_then(|r| state.square().order_of_pickup.get(r))
                .and_then(|id| state.square().orders.get(id))
            else {
                return Vec::new();
            };
            let Some(f) = &o.fulfillment else {
                return Vec::new();
            };
            let new_state = if event.kind == "pickup.completed" {
                "COMPLETED"
            } else {
                "CANCELED"
            };
            let o = json!({
                "order_id": o.id,
                "version": o.version,
                "location_id": o.location_id,
                "state": o.state,
                "created_at": wire::ts(o.created_at),
                "updated_at": wire::ts(o.updated_at),
                "fulfillment_update": [{
                    "fulfillment_uid": f.uid,
                    "old_state": f.old_state.as_deref().unwrap_or("PROPOSED"),
                    "new_state": new_state,
                }],
            });
            vec![envelope(
                event,
                0,
                "order.fulfillment.updated",
                json!({"type": "order_fulfillment_updated", "id": o["order_id"], "object": {"order_fulfillment_updated": o}}),
            )]
        }
        "payment.created" | "payment.updated" => {
            let Some(p) = d["id"]
                .as_str()
                .and_then(|id| state.square().payments.get(id))
            else {
                return Vec::new();
            };
            vec![envelope(
                event,
                0,
                &event.kind,
                json!({"type": "payment", "id": p.id, "object": {"payment": wire::payment(p)}}),
            )]
        }
        "refund.created" | "refund.updated" => {
            let Some(r) = d["id"]
                .as_str()
                .and_then(|id| state.square().refunds.get(id))
            else {
                return Vec::new();
            };
            vec![envelope(
                event,
                0,
                &event.kind,
                json!({"type": "refund", "id": r.id, "object": {"refund": wire::refund(r)}}),
            )]
        }
        "customer.created" | "customer.updated" => {
            let Ok(c) = serde_json::from_value::<Customer>(d.clone()) else {
                return Vec::new();
            };
            vec![envelope(
                event,
                0,
                &event.kind,
                json!({"type": "customer", "id": c.id, "object": {"customer": super::customers::customer(&c)}}),
            )]
        }
        _ => Vec::new(),
    }
}

fn parse(t: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}
