//! The events each simulator emits, described in its `/openapi.json`: for
//! every event type the envelope with its `data` schema, both as the typed
//! `Event` its change feed returns (`oneOf` the types, told apart by
//! `type`) and as an OpenAPI 3.1 `webhooks` entry (what a native webhook
//! subscription receives). [`catalog`] lists them; a test checks that it
//! covers every topic a platform declares.

use serde_json::{Value, json};
use utoipa::OpenApi;

/// One event type of a platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventDoc {
    /// The event type, such as `orders/create`.
    pub kind: &'static str,
    /// The component schema of its `data`.
    pub data: &'static str,
    /// When it is emitted, in one sentence.
    pub about: &'static str,
}

const fn doc(kind: &'static str, data: &'static str, about: &'static str) -> EventDoc {
    EventDoc { kind, data, about }
}

const PAY: &[EventDoc] = &[
    doc(
        "payment_intent.created",
        "PaymentIntent",
        "An intent was created (by the shop or the register taking a payment, or by a direct call).",
    ),
    doc(
        "payment_intent.amount_capturable_updated",
        "PaymentIntent",
        "A manual-capture intent was authorized: `amount_capturable` is held.",
    ),
    doc(
        "payment_intent.succeeded",
        "PaymentIntent",
        "Money was taken: captured, charged automatically, or a transfer settled.",
    ),
    doc(
        "payment_intent.canceled",
        "PaymentIntent",
        "Cancelled or voided (`cancellation_reason` says why; `automatic` for an expired authorization, caused by `system`).",
    ),
    doc(
        "payment_intent.payment_failed",
        "PaymentIntent",
        "A payment was declined or a bank transfer failed.",
    ),
    doc(
        "payment_intent.processing",
        "PaymentIntent",
        "An asynchronous payment (bank transfer) is settling.",
    ),
    doc(
        "payment_intent.requires_action",
        "PaymentIntent",
        "The card needs authentication before it can be charged.",
    ),
    doc(
        "charge.refunded",
        "ChargeRefunded",
        "A refund was made: the intent after it, with the refund itself in `refund`.",
    ),
    doc(
        "charge.refund.updated",
        "ChargeRefunded",
        "A pending refund (to a bank transfer) settled: the intent, with the refund now `succeeded` in `refund`.",
    ),
];

const SHOP: &[EventDoc] = &[
    doc(
        "orders/create",
        "Order",
        "A checkout created an order (its stock moved from available to committed).",
    ),
    doc(
        "orders/paid",
        "Order",
        "The order's money was taken (captured, or a transfer settled).",
    ),
    doc(
        "orders/cancelled",
        "Order",
        "The order was cancelled; its open units are released (`inventory_levels/update` with cause `cancel`).",
    ),
    doc(
        "orders/fulfilled",
        "Order",
        "Every unit was handed over or shipped.",
    ),
    doc(
        "orders/updated",
        "Order",
        "The order changed otherwise (ready for pickup, a partial fulfilment).",
    ),
    doc(
        "refunds/create",
        "OrderRefund",
        "A refund was made on an order, with each line's restock type and location.",
    ),
    doc(
        "inventory_levels/update",
        "InventoryLevelUpdate",
        "A level changed: the level after it, and its `cause` (kind, reference, delta of `available`).",
    ),
    doc(
        "products/update",
        "Product",
        "A product was created or changed (price, tax code, status).",
    ),
    doc(
        "customers/create",
        "Customer",
        "A customer profile was made (signed up online, in the admin, or by a connector).",
    ),
    doc(
        "customers/update",
        "Customer",
        "A customer profile changed (name, email, phone or marketing consent); `version` counts the changes.",
    ),
    doc(
        "promotions/create",
        "Promotion",
        "An automatic promotion was defined (money off SKUs or the order between its start and end).",
    ),
    doc(
        "promotions/update",
        "Promotion",
        "A promotion changed (its value, SKUs, start, end or status); `version` counts the changes.",
    ),
    doc(
        "gift_cards/issued",
        "IssuedGiftCard",
        "The merchant issued a gift card without a sale (`POST /v1/gift_cards/issue`): its code, amount and reason.",
    ),
];

const POS: &[EventDoc] = &[
    doc("sale.created", "Sale", "A sale was rung up at a register."),
    doc(
        "return.created",
        "Return",
        "A return was taken at a register (`order_ref` names an online order returned in store).",
    ),
    doc(
        "inventory.count.updated",
        "InventoryCountUpdated",
        "An IN_STOCK count changed: the count after it, and its `cause` (kind, reference, delta).",
    ),
    doc(
        "item.updated",
        "Item",
        "An item was created or changed (price, tax code).",
    ),
    doc(
        "pickup.completed",
        "Pickup",
        "An online order set aside at a store was handed to its customer.",
    ),
    doc(
        "pickup.cancelled",
        "Pickup",
        "A pickup was cancelled; its units went back IN_STOCK.",
    ),
    doc(
        "order.created",
        "SquareOrder",
        "An order was created through the Square dialect (a paid one becomes a sale).",
    ),
    doc(
        "order.updated",
        "SquareOrder",
        "An order made through the Square dialect changed: a payment, completion as a sale, a cancel.",
    ),
    doc(
        "payment.created",
        "SquarePayment",
        "A payment was taken through the Square dialect (APPROVED, COMPLETED or FAILED).",
    ),
    doc(
        "payment.updated",
        "SquarePayment",
        "A Square dialect payment was completed, cancelled or refunded.",
    ),
    doc(
        "refund.created",
        "SquareRefund",
        "A Square dialect payment was refunded, in whole or in part.",
    ),
    doc(
        "refund.updated",
        "SquareRefund",
        "A Square dialect refund changed status.",
    ),
    doc(
        "pickup.updated",
        "Pickup",
        "A ready pickup was shortened (its online order lost units before collection); the units it no longer lists went back IN_STOCK.",
    ),
    doc(
        "customer.created",
        "Customer",
        "A customer profile was made (at a register, or by a connector).",
    ),
    doc(
        "customer.updated",
        "Customer",
        "A customer profile changed (name, email, phone or marketing consent); `version` counts the changes.",
    ),
    doc(
        "promotion.created",
        "Promotion",
        "An automatic promotion was defined at the register (or by a connector).",
    ),
    doc(
        "promotion.updated",
        "Promotion",
        "A promotion changed (its value, SKUs, start, end or status); `version` counts the changes.",
    ),
    doc(
        "gift_card.issued",
        "IssuedGiftCard",
        "The register issued a gift card without a sale (`POST /v1/gift_cards/issue`, or an `ACTIVATE` through the Square dialect): its code, amount and reason.",
    ),
];

/// Every event type `platform` (`pos`, `shop` or `pay`) emits.
pub fn catalog(platform: &str) -> &'static [EventDoc] {
    match platform {
        "pay" => PAY,
        "shop" => SHOP,
        "pos" => POS,
        _ => &[],
    }
}

#[derive(OpenApi)]
#[openapi(components(schemas(
    omnisim_api::Actor,
    omnisim_api::ActorKind,
    omnisim_api::pay::PaymentIntent,
    omnisim_api::pay::Refund,
)))]
struct PayData;

#[derive(OpenApi)]
#[openapi(components(schemas(
    omnisim_api::Actor,
    omnisim_api::ActorKind,
    omnisim_api::shop::Order,
    omnisim_api::shop::OrderRefund,
    omnisim_api::shop::InventoryLevelUpdate,
    omnisim_api::shop::InventoryCause,
    omnisim_api::shop::InventoryCauseKind,
    omnisim_api::shop::Product,
    omnisim_api::customer::Customer,
    omnisim_api::promotion::Promotion,
)))]
struct ShopData;

#[derive(OpenApi)]
#[openapi(components(schemas(
    omnisim_api::Actor,
    omnisim_api::ActorKind,
    omnisim_api::pos::Sale,
    omnisim_api::pos::Return,
    omnisim_api::pos::InventoryCountUpdated,
    omnisim_api::pos::InventoryCause,
    omnisim_api::pos::InventoryCauseKind,
    omnisim_api::pos::Item,
    omnisim_api::pos::Pickup,
    omnisim_api::customer::Customer,
    omnisim_api::promotion::Promotion,
    crate::dialects::square::book::Order,
    crate::dialects::square::book::OrderLine,
    crate::dialects::square::book::PickupFulfillment,
    crate::dialects::square::book::Payment,
    crate::dialects::square::book::Refund,
)))]
struct PosData;

/// `orders/create` → `OrdersCreateEvent`.
fn schema_name(kind: &str) -> String {
    let mut out = String::new();
    for part in kind.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    out.push_str("Event");
    out
}

/// The envelope of one event type.
fn envelope(d: &EventDoc) -> Value {
    json!({
        "type": "object",
        "description": format!("`{}`: {}", d.kind, d.about),
        "required": ["id", "seq", "type", "occurred_at", "actor", "data"],
        "properties": {
            "id": {"type": "string", "description": "Unique per platform, the same on every delivery: deduplicate on it."},
            "seq": {"type": "integer", "format": "int64", "minimum": 1, "description": "Commit order on the platform, from 1 without gaps: the feed cursor."},
            "type": {"type": "string", "enum": [d.kind]},
            "occurred_at": {"type": "string", "format": "date-time", "description": "When the change was committed, on the platform's clock."},
            "actor": {"$ref": "#/components/schemas/Actor"},
            "data": {"$ref": format!("#/components/schemas/{}", d.data)},
        }
    })
}

/// The document `/openapi.json` serves: `api` with the data schemas of
/// `platform`'s events, a typed envelope per event type, `Event` as their
/// `oneOf`, and a `webhooks` entry per type.
pub(crate) fn document(platform: &str, mut api: utoipa::openapi::OpenApi) -> Value {
    let data = match platform {
        "pay" => PayData::openapi(),
        "shop" => ShopData::openapi(),
        "pos" => PosData::openapi(),
        _ => utoipa::openapi::OpenApi::default(),
    };
    api.merge(data);
    let mut doc = serde_json::to_value(&api).unwrap_or_default();
    let events = catalog(platform);
    if events.is_empty() {
        return doc;
    }
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return doc;
    };
    if platform == "pay" {
        schemas.insert(
            "ChargeRefunded".into(),
            json!({
                "description": "The intent after a refund, with the refund in `refund`.",
                "allOf": [
                    {"$ref": "#/components/schemas/PaymentIntent"},
                    {"type": "object", "required": ["refund"], "properties": {"refund": {
                        "type": "object",
                        "required": ["id", "amount", "status"],
                        "properties": {
                            "id": {"type": "string", "description": "`re_…`"},
                            "amount": {"type": "string", "description": "Decimal string"},
                            "status": {"type": "string"},
                            "reason": {"type": ["string", "null"]}
                        }
                    }}}
                ]
            }),
        );
    }
    let mut one_of = Vec::new();
    let mut mapping = serde_json::Map::new();
    let mut webhooks = serde_json::Map::new();
    for d in events {
        let name = schema_name(d.kind);
        let reference = format!("#/components/schemas/{name}");
        schemas.insert(name.clone(), envelope(d));
        one_of.push(json!({"$ref": reference}));
        mapping.insert(d.kind.into(), Value::String(reference.clone()));
        webhooks.insert(
            d.kind.into(),
            json!({"post": {
                "summary": d.about,
                "description": "Delivered to each native subscription whose topics include this type (or `*`), signed with its secret; the body is the same object the change feed returns. Answer 2xx within 5 s once verified; 401 when the signature does not verify.",
                "tags": ["webhooks"],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": reference}}}},
                "responses": {"2XX": {"description": "Received."}, "401": {"description": "The signature did not verify: nothing applied."}}
            }}),
        );
    }
    schemas.insert(
        "Event".into(),
        json!({
            "description": "One committed change, as the change feed returns it and webhooks deliver it: the envelope of its type, with `data` typed by `type`.",
            "oneOf": one_of,
            "discriminator": {"propertyName": "type", "mapping": mapping},
        }),
    );
    if let Some(o) = doc.as_object_mut() {
        o.insert("webhooks".into(), Value::Object(webhooks));
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_component_names() {
        assert_eq!(schema_name("orders/create"), "OrdersCreateEvent");
        assert_eq!(
            schema_name("payment_intent.amount_capturable_updated"),
            "PaymentIntentAmountCapturableUpdatedEvent"
        );
        assert_eq!(
            schema_name("inventory.count.updated"),
            "InventoryCountUpdatedEvent"
        );
    }
}
