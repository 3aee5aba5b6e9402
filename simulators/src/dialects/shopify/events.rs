//! Canonical shop events as Shopify webhooks: the raw REST resource as the
//! body (no envelope), Shopify's topic, a delivery-independent webhook id,
//! and the `X-Shopify-Shop-Domain`, `X-Shopify-API-Version` and
//! `X-Shopify-Event-Id` headers (the HMAC, topic, webhook id and trigger
//! time are added by the shop's signing scheme).
//!
//! `customers/create` and `customers/update` are the shop's own, for every
//! profile (made through the dialect or natively), with the REST customer
//! as it was at that change.
//!
//! `discounts/create` and `discounts/update` are the shop's
//! `promotions/create` and `promotions/update`, for every promotion, with
//! Shopify's discount body (`admin_graphql_api_id`, `title`, `status` at the
//! change, `created_at`, `updated_at`).
//!
//! The cause of a stock change (which write made it) is not in Shopify's
//! `inventory_levels/update` body; it travels in `X-Omnisim-Cause` (`adjust`,
//! `set`, `order`, …) and `X-Omnisim-Reference` (the `referenceDocumentUri`
//! of the write), so a connector can tell its own writes from real changes.

use bytes::Bytes;
use omnisim_api::customer::Customer;
use omnisim_api::promotion::Promotion;
use omnisim_api::shop::{InventoryLevelUpdate, Order, OrderRefund, Product};
use sha2::{Digest, Sha256};

use super::{API_VERSION, SHOP_DOMAIN, discounts, wire};
use crate::dialects::Rendered;
use crate::shop::ShopState;

/// A webhook id derived from the event and topic: the same on every retry.
fn webhook_id(event: &str, topic: &str) -> String {
    let h = Sha256::digest(format!("{event}|{topic}").as_bytes());
    let hex: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn out(
    event: &omnisim_api::Event,
    topic: &str,
    body: serde_json::Value,
    extra: Vec<(&'static str, String)>,
) -> Rendered {
    let mut headers = vec![
        ("x-shopify-shop-domain", SHOP_DOMAIN.to_owned()),
        ("x-shopify-api-version", API_VERSION.to_owned()),
        ("x-shopify-event-id", event.id.clone()),
    ];
    headers.extend(extra);
    Rendered {
        id: webhook_id(&event.id, topic),
        topic: topic.to_owned(),
        body: Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
        headers,
    }
}

/// The Shopify deliveries of one canonical event.
pub fn render(state: &ShopState, event: &omnisim_api::Event) -> Vec<Rendered> {
    match event.kind.as_str() {
        "inventory_levels/update" => {
            let Ok(u) = serde_json::from_value::<InventoryLevelUpdate>(event.data.clone()) else {
                return Vec::new();
            };
            let (Some(item), Some(loc)) = (
                state.shopify.product(&u.level.sku),
                state.shopify.location(&u.level.location),
            ) else {
                return Vec::new();
            };
            let cause = serde_json::to_value(u.cause.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let mut extra = vec![("x-omnisim-cause", cause)];
            if let Some(r) = u.cause.reference {
                extra.push(("x-omnisim-reference", r));
            }
            vec![out(
                event,
                "inventory_levels/update",
                wire::level(&u.level, item, loc),
                extra,
            )]
        }
        "products/update" => {
            let Ok(p) = serde_json::from_value::<Product>(event.data.clone()) else {
                return Vec::new();
            };
            let Some(n) = state.shopify.product(&p.sku) else {
                return Vec::new();
            };
            let topic = if p.created_at == p.updated_at {
                "products/create"
            } else {
                "products/update"
            };
            vec![out(event, topic, wire::product(state, &p, n), Vec::new())]
        }
        kind @ ("orders/create" | "orders/paid" | "orders/cancelled" | "orders/fulfilled"
        | "orders/updated") => {
            let Ok(o) = serde_json::from_value::<Order>(event.data.clone()) else {
                return Vec::new();
            };
            let mut outs = vec![out(event, kind, wire::order(state, &o), Vec::new())];
            if kind != "orders/updated" {
                // Shopify sends orders/updated beside every order change.
                outs.push(out(
                    event,
                    "orders/updated",
                    wire::order(state, &o),
                    Vec::new(),
                ));
            }
            outs
        }
        "refunds/create" => {
            let Ok(r) = serde_json::from_value::<OrderRefund>(event.data.clone()) else {
                return Vec::new();
            };
            let Ok(o) = state.get_order(&r.order_id) else {
                return Vec::new();
            };
            vec![out(
                event,
                "refunds/create",
                wire::refund(state, &o, &r),
                Vec::new(),
            )]
        }
        kind @ ("customers/create" | "customers/update") => {
            let Ok(c) = serde_json::from_value::<Customer>(event.data.clone()) else {
                return Vec::new();
            };
            vec![out(event, kind, wire::customer(&c), Vec::new())]
        }
        kind @ ("promotions/create" | "promotions/update") => {
            let Ok(p) = serde_json::from_value::<Promotion>(event.data.clone()) else {
                return Vec::new();
            };
            let topic = if kind == "promotions/create" {
                "discounts/create"
            } else {
                "discounts/update"
            };
            vec![out(event, topic, discounts::webhook_body(&p), Vec::new())]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_ids_are_stable_uuids() {
        let a = webhook_id("evt_1", "orders/create");
        assert_eq!(a, webhook_id("evt_1", "orders/create"));
        assert_ne!(a, webhook_id("evt_1", "orders/updated"));
        assert_eq!(a.len(), 36);
    }
}
