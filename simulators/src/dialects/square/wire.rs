//! Square's objects rendered from the POS state: money in minor units,
//! RFC 3339 times with milliseconds, quantities as decimal strings, catalog
//! objects with their versions, inventory counts and changes, orders (the
//! dialect's own, and POS sales as COMPLETED orders), payments and refunds.

use chrono::{DateTime, SecondsFormat, Utc};
use omnisim_api::common::currency_scale;
use omnisim_api::pos::{InventoryState, Item, Sale, TenderType};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use super::book::{CatalogEntry, Order, OrderLine, Payment, Refund};
use crate::pos::PosState;
use crate::pos::state::StockEntry;

/// The merchant every object belongs to.
pub const MERCHANT_ID: &str = "MLOMNISIM00001";

/// Delay before an APPROVED card-not-present payment is cancelled: 7 days.
pub const DELAY_DURATION: &str = "PT168H";

/// A time as Square writes it: `2026-03-02T13:10:00.000Z`.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `amount` in the currency's minor units (`12.50` USD → 1250).
pub fn minor(amount: Decimal, currency: &str) -> i64 {
    let scaled = amount * Decimal::from(10i64.pow(currency_scale(currency)));
    scaled.trunc().to_i64().unwrap_or(i64::MAX)
}

/// Minor units back to a decimal amount.
pub fn from_minor(amount: i64, currency: &str) -> Decimal {
    Decimal::new(amount, currency_scale(currency))
}

/// Square's `Money`.
pub fn money(amount: Decimal, currency: &str) -> Value {
    json!({"amount": minor(amount, currency), "currency": currency})
}

/// Square's name of an inventory state.
pub fn state_name(s: InventoryState) -> &'static str {
    match s {
        InventoryState::None => "NONE",
        InventoryState::InStock => "IN_STOCK",
        InventoryState::ReservedForSale => "RESERVED_FOR_SALE",
        InventoryState::Sold => "SOLD",
        InventoryState::ReturnedByCustomer => "RETURNED_BY_CUSTOMER",
        InventoryState::Waste => "WASTE",
    }
}

/// The state of a Square name, among those the POS models.
pub fn parse_state(s: &str) -> Option<InventoryState> {
    Some(match s {
        "NONE" => InventoryState::None,
        "IN_STOCK" => InventoryState::InStock,
        "RESERVED_FOR_SALE" => InventoryState::ReservedForSale,
        "SOLD" => InventoryState::Sold,
        "RETURNED_BY_CUSTOMER" => InventoryState::ReturnedByCustomer,
        "WASTE" => InventoryState::Waste,
        _ => return None,
    })
}

// ---- catalog ------------------------------------------------------------

/// The ITEM id of an item made through the native API (no Square object).
pub fn native_item_id(sku: &str) -> String {
    format!("ITEM_{sku}")
}

/// The ITEM_VARIATION id of an item made through the native API.
pub fn native_variation_id(sku: &str) -> String {
    format!("VAR_{sku}")
}

/// The POS SKU behind a variation id, if it names one.
pub fn sku_of_variation(state: &PosState, id: &str) -> Option<String> {
    let book = state.square();
    if let Some(e) = book.catalog.get(id) {
        return e
            .sku
            .clone()
            .filter(|_| e.kind == "ITEM_VARIATION" && !e.deleted);
    }
    let sku = id.strip_prefix("VAR_")?;
    (state.item(sku).is_ok() && !book.variation_of_sku.contains_key(sku)).then(|| sku.to_owned())
}

/// The variation id of a POS SKU.
pub fn variation_of_sku(state: &PosState, sku: &str) -> String {
    state
        .square()
        .variation_of_sku
        .get(sku)
        .cloned()
        .unwrap_or_else(|| native_variation_id(sku))
}

fn base(kind: &str, id: &str, version: i64, updated_at: DateTime<Utc>, deleted: bool) -> Value {
    json!({
        "type": kind,
        "id": id,
        "updated_at": ts(updated_at),
        "version": version,
        "is_deleted": deleted,
        "present_at_all_locations": true,
    })
}

/// A variation's data with the POS item's SKU and price in it: one state.
fn variation_data(stored: &Value, item_id: &str, item: Option<&Item>, sku: &str) -> Value {
    let mut data = stored
        .get("item_variation_data")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    data["item_id"] = item_id.into();
    data["sku"] = sku.into();
    if data.get("name").is_none_or(Value::is_null) {
        data["name"] = "Regular".into();
    }
    if let Some(item) = item {
        data["pricing_type"] = "FIXED_PRICING".into();
        data["price_money"] = money(item.price, &item.currency);
    }
    data
}

/// A stored catalog object, as Square renders it (an ITEM with its
/// variations nested).
pub fn catalog_object(state: &PosState, id: &str, e: &CatalogEntry) -> Value {
    let mut v = e.object.clone();
    if !v.is_object() {
        v = json!({});
    }
    for (k, x) in base(&e.kind, id, e.version, e.updated_at, e.deleted)
        .as_object()
        .into_iter()
        .flatten()
    {
        v[k] = x.clone();
    }
    match e.kind.as_str() {
        "ITEM_VARIATION" => {
            let sku = e.sku.clone().unwrap_or_default();
            let item = state.item(&sku).ok();
            let item_id = e.item_id.clone().unwrap_or_default();
            v["item_variation_data"] = variation_data(&e.object, &item_id, item.as_ref(), &sku);
        }
        "ITEM" => {
            let mut data = v
                .get("item_data")
                .cloned()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            let variations: Vec<Value> = state
                .square()
                .catalog
                .iter()
                .filter(|(_, c)| {
                    c.kind == "ITEM_VARIATION"
                        && c.item_id.as_deref() == Some(id)
                        && (e.deleted || !c.deleted)
                })
                .map(|(vid, c)| catalog_object(state, vid, c))
                .collect();
            data["variations"] = Value::Array(variations);
            v["item_data"] = data;
        }
        _ => {}
    }
    v
}

/// An item made through the native API, as an ITEM with one variation.
pub fn native_item(item: &Item) -> Value {
    let version = item.updated_at.timestamp_millis();
    let item_id = native_item_id(&item.sku);
    let var_id = native_variation_id(&item.sku);
    let mut var = base("ITEM_VARIATION", &var_id, version, item.updated_at, false);
    var["item_variation_data"] = variation_data(&Value::Null, &item_id, Some(item), &item.sku);
    let mut v = base("ITEM", &item_id, version, item.updated_at, false);
    v["item_data"] = json!({"name": item.name, "variations": [var]});
    v
}

/// Every live catalog object at the top level (ITEMs with their
/// variations, and others), the dialect's first, then native items.
pub fn all_objects(state: &PosState, include_deleted: bool) -> Vec<Value> {
    let book = state.square();
    let mut out: Vec<Value> = book
        .catalog
        .iter()
        .filter(|(_, e)| include_deleted || !e.deleted)
        .filter(|(_, e)| e.kind != "ITEM_VARIATION")
        .map(|(id, e)| catalog_object(state, id, e))
        .collect();
    for item in state.items().data {
        if !book.variation_of_sku.contains_key(&item.sku) {
            out.push(native_item(&item));
        }
    }
    out.extend(super::pricing::all_objects(state, include_deleted));
    out
}

/// One catalog object by id (a variation alone, not nested).
pub fn object_by_id(state: &PosState, id: &str) -> Option<Value> {
    if let Some(e) = state.square().catalog.get(id) {
        return Some(catalog_object(state, id, e));
    }
    if let Some(o) = super::pricing::object_by_id(state, id) {
        return Some(o);
    }
    let book = state.square();
    if let Some(sku) = id.strip_prefix("ITEM_")
        && let Ok(item) = state.item(sku)
        && !book.variation_of_sku.contains_key(sku)
    {
        return Some(native_item(&item));
    }
    if let Some(sku) = id.strip_prefix("VAR_")
        && let Ok(item) = state.item(sku)
        && !book.variation_of_sku.contains_key(sku)
    {
        return native_item(&item)["item_data"]["variations"]
            .get(0)
            .cloned();
    }
    None
}

/// Every object, flattened: ITEMs and their variations side by side.
pub fn flattened(state: &PosState, include_deleted: bool) -> Vec<Value> {
    let mut out = Vec::new();
    for o in all_objects(state, include_deleted) {
        let vars = o["item_data"]["variations"].as_array().cloned();
        out.push(o);
        out.extend(vars.into_iter().flatten());
    }
    out
}

// ---- inventory ----------------------------------------------------------

/// Square's `InventoryCount` of the IN_STOCK units.
pub fn count(
    state: &PosState,
    sku: &str,
    location: &str,
    quantity: i64,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "catalog_object_id": variation_of_sku(state, sku),
        "catalog_object_type": "ITEM_VARIATION",
        "state": "IN_STOCK",
        "location_id": location,
        "quantity": quantity.to_string(),
        "calculated_at": ts(at),
        "is_estimated": false,
    })
}

/// The id of a journal entry.
pub fn change_id(e: &StockEntry) -> String {
    format!("CHG{:021}", e.seq)
}

/// Square's `SourceApplication` of a change made with `actor`'s
/// credential, and its team member: an app's API call is `EXTERNAL_API`
/// with the app's `application_id` (`sq0idp-` and the 8 hex digits of its
/// actor id, the same for every wire of one key), so an app can tell its
/// own changes from everyone else's as on Square; the merchant's people
/// are `SQUARE_POS` with their team member id.
pub fn source(a: &omnisim_api::Actor) -> (Value, Option<String>) {
    use omnisim_api::ActorKind;
    match a.kind {
        ActorKind::Connector => (
            json!({
                "product": "EXTERNAL_API",
                "application_id": application_id(a),
                "name": a.id,
            }),
            None,
        ),
        ActorKind::Actor => (
            json!({"product": "SQUARE_POS", "name": "Square Point of Sale"}),
            Some(format!("TM{}", a.id.trim_start_matches("actor:"))),
        ),
        ActorKind::Platform | ActorKind::System => (json!({"product": "OTHER"}), None),
    }
}

/// The Square `application_id` of an app's actor (`app:1f0c9a7e` →
/// `sq0idp-1f0c9a7e`).
pub fn application_id(a: &omnisim_api::Actor) -> String {
    format!("sq0idp-{}", a.id.trim_start_matches("app:"))
}

/// Square's `InventoryChange` of a journal entry.
pub fn change(state: &PosState, e: &StockEntry) -> Value {
    let id = change_id(e);
    let common = json!({
        "id": id,
        "reference_id": e.reference,
        "catalog_object_id": variation_of_sku(state, &e.sku),
        "catalog_object_type": "ITEM_VARIATION",
        "location_id": e.location,
        "quantity": e.quantity.to_string(),
        "occurred_at": ts(e.occurred_at),
        "created_at": ts(e.created_at),
    });
    let mut common = common;
    if let Some(a) = &e.actor {
        let (source, team_member) = source(a);
        common["source"] = source;
        if let Some(t) = team_member {
            common["team_member_id"] = t.into();
        }
    }
    match e.counted {
        Some(_) => {
            let mut c = common;
            c["state"] = "IN_STOCK".into();
            json!({"type": "PHYSICAL_COUNT", "physical_count": c, "measurement_unit_id": null})
        }
        None => {
            let mut a = common;
            a["from_state"] = state_name(e.from_state).into();
            a["to_state"] = state_name(e.to_state).into();
            json!({"type": "ADJUSTMENT", "adjustment": a})
        }
    }
}

// ---- orders -------------------------------------------------------------

/// The `uid` of the order-level entry of a promotion's discount.
const PROMOTION_UID: &str = "promotion";

fn line_json(l: &OrderLine, currency: &str) -> Value {
    let gross = l.price * Decimal::from(l.quantity);
    let mut v = json!({
        "uid": l.uid,
        "catalog_object_id": l.variation_id,
        "item_type": "ITEM",
        "name": l.name,
        "quantity": l.quantity.to_string(),
        "base_price_money": money(l.price, currency),
        "variation_total_price_money": money(gross, currency),
        "gross_sales_money": money(gross, currency),
        "total_tax_money": money(l.tax, currency),
        "total_discount_money": money(l.discount, currency),
        "total_money": money(l.total, currency),
    });
    if !l.discount.is_zero() {
        v["applied_discounts"] = json!([{
            "uid": format!("{}-D", l.uid),
            "discount_uid": PROMOTION_UID,
            "applied_money": money(l.discount, currency),
        }]);
    }
    v
}

/// The order-level `discounts` entry of the POS promotion that priced an
/// order or a sale: its catalog DISCOUNT and PRICING_RULE, applied per line.
fn promotion_discount(state: &PosState, id: &str, off: Decimal, currency: &str) -> Option<Value> {
    let p = state.promotions.get(id).ok()?;
    let ids = super::pricing::ids_of(state, id);
    let mut d = json!({
        "uid": PROMOTION_UID,
        "catalog_object_id": ids.discount,
        "pricing_rule_id": ids.rule,
        "name": p.title,
        "scope": "LINE_ITEM",
        "applied_money": money(off, currency),
    });
    match p.kind {
        omnisim_api::shop::DiscountKind::Percentage => {
            d["type"] = "FIXED_PERCENTAGE".into();
            d["percentage"] = p.value.normalize().to_string().into();
        }
        omnisim_api::shop::DiscountKind::FixedAmount => {
            d["type"] = "FIXED_AMOUNT".into();
            d["amount_money"] = money(p.value, currency);
        }
    }
    Some(d)
}

fn totals(
    v: &mut Value,
    (total, tax, discount): (Decimal, Decimal, Decimal),
    paid: Decimal,
    currency: &str,
) {
    let zero = money(Decimal::ZERO, currency);
    v["total_money"] = money(total, currency);
    v["total_tax_money"] = money(tax, currency);
    v["total_discount_money"] = money(discount, currency);
    v["total_tip_money"] = zero.clone();
    v["total_service_charge_money"] = zero.clone();
    v["net_amount_due_money"] = money((total - paid).max(Decimal::ZERO), currency);
    v["net_amounts"] = json!({
        "total_money": money(total, currency),
        "tax_money": money(tax, currency),
        "discount_money": money(discount, currency),
        "tip_money": money(Decimal::ZERO, currency),
        "service_charge_money": money(Decimal::ZERO, currency),
    });
}

/// An order made through the dialect.
pub fn order(state: &PosState, o: &Order) -> Value {
    let book = state.square();
    let lines: Vec<Value> = o.lines.iter().map(|l| line_json(l, &o.currency)).collect();
    let mut paid = Decimal::ZERO;
    let mut tenders = Vec::new();
    let mut refunds = Vec::new();
    for pid in &o.payment_ids {
        let Some(p) = book.payments.get(pid) else {
            continue;
        };
        if p.status == "COMPLETED" || p.status == "APPROVED" {
            if p.status == "COMPLETED" {
                paid += p.amount;
            }
            tenders.push(json!({
                "id": p.id,
                "location_id": p.location_id,
                "created_at": ts(p.created_at),
                "type": "CARD",
                "amount_money": money(p.amount, &p.currency),
                "payment_id": p.id,
                "card_details": {
                    "status": if p.status == "COMPLETED" { "CAPTURED" } else { "AUTHORIZED" },
                    "card": {"card_brand": p.brand, "last_4": p.last4},
                    "entry_method": "KEYED",
                },
            }));
        }
        for rid in &p.refund_ids {
            if let Some(r) = book.refunds.get(rid) {
                refunds.push(json!({
                    "id": r.id,
                    "location_id": r.location_id,
                    "tender_id": p.id,
                    "created_at": ts(r.created_at),
                    "reason": r.reason.clone().unwrap_or_default(),
                    "amount_money": money(r.amount, &r.currency),
                    "status": match r.status.as_str() {
                        "COMPLETED" => "APPROVED",
                        other => other,
                    },
                }));
            }
        }
    }
    let mut v = json!({
        "id": o.id,
        "location_id": o.location_id,
        "reference_id": o.reference_id,
        "source": {"name": "omnisim"},
        "line_items": lines,
        "state": o.state,
        "version": o.version,
        "created_at": ts(o.created_at),
        "updated_at": ts(o.updated_at),
        "tenders": tenders,
    });
    if !refunds.is_empty() {
        v["refunds"] = Value::Array(refunds);
    }
    if let Some(m) = &o.metadata {
        v["metadata"] = m.clone();
    }
    if let Some(t) = o.closed_at {
        v["closed_at"] = ts(t).into();
    }
    if let Some(f) = &o.fulfillment {
        let mut details = if f.details.is_object() {
            f.details.clone()
        } else {
            json!({})
        };
        details["placed_at"] = ts(o.created_at).into();
        if let Some(t) = f.picked_up_at {
            details["picked_up_at"] = ts(t).into();
        }
        if let Some(t) = f.canceled_at {
            details["canceled_at"] = ts(t).into();
        }
        v["fulfillments"] = json!([{
            "uid": f.uid,
            "type": "PICKUP",
            "state": f.state,
            "pickup_details": details,
        }]);
    }
    let off: Decimal = o.lines.iter().map(|l| l.discount).sum();
    if let Some(d) = o
        .promotion
        .as_deref()
        .and_then(|id| promotion_discount(state, id, off, &o.currency))
    {
        v["discounts"] = json!([d]);
    }
    totals(&mut v, (o.total, o.tax, off), paid, &o.currency);
    v
}

/// A POS sale made at a register (not through the dialect), as a
/// COMPLETED order.
pub fn sale_order(state: &PosState, s: &Sale) -> Value {
    let lines: Vec<Value> = s
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let line = OrderLine {
                uid: format!("{}-{i}", s.id),
                variation_id: variation_of_sku(state, &l.sku),
                sku: l.sku.clone(),
                quantity: l.quantity,
                name: state.item(&l.sku).map(|i| i.name).unwrap_or_default(),
                price: l.price,
                discount: l.discount,
                tax: l.tax,
                total: l.total,
            };
            line_json(&line, &s.currency)
        })
        .collect();
    let tenders: Vec<Value> = s
        .tenders
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut v = json!({
                "id": format!("{}-T{i}", s.id),
                "location_id": s.location,
                "created_at": ts(s.created_at),
                "type": match t.kind {
                    TenderType::Cash => "CASH",
                    TenderType::CardPresent => "CARD",
                    TenderType::GiftCard => "SQUARE_GIFT_CARD",
                },
                "amount_money": money(t.amount, &s.currency),
            });
            if t.kind == TenderType::Cash {
                v["cash_details"] = json!({
                    "buyer_tendered_money": money(t.amount + t.change, &s.currency),
                    "change_back_money": money(t.change, &s.currency),
                });
            }
            if let Some(last4) = &t.last4 {
                v["card_details"] = json!({
                    "status": "CAPTURED",
                    "card": {"last_4": last4},
                    "entry_method": "EMV",
                });
            }
            v
        })
        .collect();
    let tax: Decimal = s.lines.iter().map(|l| l.tax).sum();
    let mut v = json!({
        "id": s.id,
        "location_id": s.location,
        "source": {"name": "omnisim register"},
        "line_items": lines,
        "state": "COMPLETED",
        "version": 1,
        "created_at": ts(s.created_at),
        "updated_at": ts(s.created_at),
        "closed_at": ts(s.created_at),
        "tenders": tenders,
    });
    let off: Decimal = s.lines.iter().map(|l| l.discount).sum();
    if let Some(d) = s
        .promotion
        .as_deref()
        .and_then(|id| promotion_discount(state, id, off, &s.currency))
    {
        v["discounts"] = json!([d]);
    }
    totals(&mut v, (s.total, tax, off), s.total, &s.currency);
    v
}

// ---- payments -----------------------------------------------------------

/// A payment.
pub fn payment(p: &Payment) -> Value {
    let card_status = match p.status.as_str() {
        "APPROVED" => "AUTHORIZED",
        "COMPLETED" => "CAPTURED",
        "CANCELED" => "VOIDED",
        _ => "FAILED",
    };
    let mut v = json!({
        "id": p.id,
        "created_at": ts(p.created_at),
        "updated_at": ts(p.updated_at),
        "amount_money": money(p.amount, &p.currency),
        "total_money": money(p.amount, &p.currency),
        "approved_money": money(p.amount, &p.currency),
        "status": p.status,
        "delay_duration": DELAY_DURATION,
        "delay_action": "CANCEL",
        "delayed_until": ts(p.delayed_until),
        "source_type": "CARD",
        "card_details": {
            "status": card_status,
            "card": {
                "card_brand": p.brand,
                "last_4": p.last4,
                "exp_month": 12,
                "exp_year": 2030,
                "card_type": "CREDIT",
                "prepaid_type": "NOT_PREPAID",
                "bin": p.card_number.chars().take(6).collect::<String>(),
            },
            "entry_method": "KEYED",
            "cvv_status": "CVV_ACCEPTED",
            "avs_status": "AVS_ACCEPTED",
            "statement_description": "SQ *OMNISIM",
            "card_payment_timeline": {"authorized_at": ts(p.created_at)},
        },
        "location_id": p.location_id,
        "order_id": p.order_id,
        "reference_id": p.reference_id,
        "note": p.note,
        "refund_ids": p.refund_ids,
        "receipt_number": p.id.chars().take(4).collect::<String>(),
        "application_details": {"square_product": "ECOMMERCE_API", "application_id": "omnisim"},
        "version_token": format!("v{}", p.updated_at.timestamp_millis()),
    });
    if !p.refunded.is_zero() {
        v["refunded_money"] = money(p.refunded, &p.currency);
    }
    if let Some(why) = &p.failure {
        v["card_details"]["errors"] = json!([{
            "category": "PAYMENT_METHOD_ERROR",
            "code": why,
            "detail": format!("Authorization error: '{why}'"),
        }]);
    }
    v
}

/// A refund.
pub fn refund(r: &Refund) -> Value {
    json!({
        "id": r.id,
        "status": r.status,
        "location_id": r.location_id,
        "amount_money": money(r.amount, &r.currency),
        "payment_id": r.payment_id,
        "order_id": r.order_id,
        "reason": r.reason,
        "created_at": ts(r.created_at),
        "updated_at": ts(r.updated_at),
        "destination_type": "CARD",
    })
}

/// A location.
pub fn location(l: &omnisim_api::common::Location, currency: &str) -> Value {
    json!({
        "id": l.id,
        "name": l.name,
        "business_name": "omnisim",
        "merchant_id": MERCHANT_ID,
        "status": "ACTIVE",
        "type": "PHYSICAL",
        "country": "US",
        "language_code": "en-US",
        "currency": currency,
        "timezone": "UTC",
        "capabilities": ["CREDIT_CARD_PROCESSING", "AUTOMATIC_TRANSFERS"],
        "created_at": "2026-01-01T00:00:00.000Z",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn money_is_minor_units() {
        assert_eq!(minor(dec!(12.50), "USD"), 1250);
        assert_eq!(minor(dec!(1000), "JPY"), 1000);
        assert_eq!(from_minor(1250, "USD"), dec!(12.50));
        assert_eq!(
            money(dec!(0.05), "USD"),
            json!({"amount": 5, "currency": "USD"})
        );
    }

    #[test]
    fn states_round_trip() {
        for s in [
            InventoryState::None,
            InventoryState::InStock,
            InventoryState::ReservedForSale,
            InventoryState::Sold,
            InventoryState::ReturnedByCustomer,
            InventoryState::Waste,
        ] {
            assert_eq!(parse_state(state_name(s)), Some(s));
        }
        assert_eq!(parse_state("IN_TRANSIT"), None);
    }
}
