//! Shopify's REST resources (numeric ids, snake_case, decimal strings) from
//! the canonical ones: what webhook bodies and the REST subset carry.

use chrono::{DateTime, SecondsFormat, Utc};
use omnisim_api::customer::Customer;
use omnisim_api::pay::GiftCard;
use omnisim_api::shop::{
    FinancialStatus, FulfillmentStatus, InventoryLevel, Order, OrderRefund, OrderStatus, Product,
    ProductStatus, RestockType,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::customers::{e164, number, split_name};
use super::ids::{GiftCardRec, counter, gid, level_gid};
use crate::shop::ShopState;

/// A time as Shopify's REST writes it.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A decimal string with two places at least, as Shopify's REST writes money.
pub fn money(d: Decimal) -> String {
    let mut d = d.normalize();
    if d.scale() < 2 {
        d.rescale(2);
    }
    d.to_string()
}

/// The REST product of `p` (number `n`).
pub fn product(state: &ShopState, p: &Product, n: u64) -> Value {
    let status = match p.status {
        ProductStatus::Active => "active",
        ProductStatus::Paused => "draft",
    };
    let quantity: i64 = state
        .list_levels(Some(&p.sku), None)
        .unwrap_or_default()
        .iter()
        .map(|l| l.available)
        .sum();
    json!({
        "id": n,
        "title": p.title,
        "handle": handle(&p.title),
        "body_html": null,
        "vendor": "omnisim",
        "product_type": "",
        "status": status,
        "tags": "",
        "created_at": time(p.created_at),
        "updated_at": time(p.updated_at),
        "published_at": time(p.created_at),
        "admin_graphql_api_id": gid("Product", n),
        "variants": [variant(p, n, quantity)],
        "options": [{"id": n, "product_id": n, "name": "Title", "position": 1, "values": ["Default Title"]}],
    })
}

/// The REST variant of `p`.
pub fn variant(p: &Product, n: u64, quantity: i64) -> Value {
    json!({
        "id": n,
        "product_id": n,
        "title": "Default Title",
        "price": money(p.price),
        "sku": p.sku,
        "position": 1,
        "inventory_policy": "deny",
        "compare_at_price": null,
        "option1": "Default Title",
        "created_at": time(p.created_at),
        "updated_at": time(p.updated_at),
        "taxable": p.tax_code.is_some(),
        "barcode": null,
        "inventory_item_id": n,
        "inventory_quantity": quantity,
        "inventory_management": "shopify",
        "requires_shipping": true,
        "admin_graphql_api_id": gid("ProductVariant", n),
    })
}

/// The REST inventory level (also the `inventory_levels/update` body).
pub fn level(level: &InventoryLevel, item: u64, location: u64) -> Value {
    json!({
        "inventory_item_id": item,
        "location_id": location,
        "available": level.available,
        "updated_at": time(level.updated_at),
        "admin_graphql_api_id": level_gid(location, item),
    })
}

fn handle(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

fn financial(s: FinancialStatus) -> &'static str {
    match s {
        FinancialStatus::Pending => "pending",
        FinancialStatus::Authorized => "authorized",
        FinancialStatus::PartiallyPaid => "partially_paid",
        FinancialStatus::Paid => "paid",
        FinancialStatus::PartiallyRefunded => "partially_refunded",
        FinancialStatus::Refunded => "refunded",
        FinancialStatus::Voided => "voided",
    }
}

/// The REST order (also the `orders/*` body).
pub fn order(state: &ShopState, o: &Order) -> Value {
    let n = counter(&o.id).unwrap_or(0);
    let location = state.shopify.location(&o.location);
    let lines: Vec<Value> = o
        .lines
        .iter()
        .map(|l| {
            let ln = counter(&l.id).unwrap_or(0);
            let pn = state.shopify.product(&l.sku);
            json!({
                "id": ln,
                "admin_graphql_api_id": gid("LineItem", ln),
                "sku": l.sku,
                "title": l.title,
                "name": l.title,
                "quantity": l.quantity,
                "current_quantity": l.quantity - l.refunded_quantity,
                "fulfillable_quantity": l.fulfillable_quantity,
                "fulfillment_status": if l.fulfillable_quantity == 0 && l.fulfilled_quantity > 0 { Some("fulfilled") } else if l.fulfilled_quantity > 0 { Some("partial") } else { None },
                "price": money(l.price),
                "total_discount": money(l.discount),
                "variant_id": pn,
                "product_id": pn,
                "variant_title": null,
                "requires_shipping": true,
                "taxable": !l.tax.is_zero(),
                "tax_lines": [],
            })
        })
        .collect();
    let fulfillment_status = match o.fulfillment_status {
        FulfillmentStatus::Fulfilled => Some("fulfilled"),
        FulfillmentStatus::Partial => Some("partial"),
        _ => None,
    };
    let refunds: Vec<Value> = o.refunds.iter().map(|r| refund(state, o, r)).collect();
    json!({
        "id": n,
        "admin_graphql_api_id": gid("Order", n),
        "name": o.name,
        "order_number": 1000 + n,
        "number": n,
        "email": o.customer,
        "contact_email": o.customer,
        "created_at": time(o.created_at),
        "updated_at": time(o.updated_at),
        "processed_at": time(o.created_at),
        "closed_at": null,
        "cancelled_at": o.cancelled_at.map(time),
        "cancel_reason": o.cancel_reason.map(|r| serde_json::to_value(r).unwrap_or(Value::Null)),
        "financial_status": financial(o.financial_status),
        "fulfillment_status": fulfillment_status,
        "currency": o.currency,
        "presentment_currency": o.currency,
        "subtotal_price": money(o.subtotal - o.discount_total),
        "total_line_items_price": money(o.subtotal),
        "total_discounts": money(o.discount_total),
        "total_tax": money(o.tax_total),
        "total_price": money(o.total),
        "current_total_price": money(o.total - o.refunds.iter().map(|r| r.amount).sum::<Decimal>()),
        "total_outstanding": money(o.total - o.total_captured.min(o.total)),
        "test": true,
        "source_name": if o.channel == "online_store" { "web".to_owned() } else { o.channel.clone() },
        "location_id": location,
        "discount_codes": o.discount_code.iter().map(|c| json!({"code": c})).collect::<Vec<_>>(),
        "gateway": "omnisim",
        "payment_gateway_names": ["omnisim"],
        "line_items": lines,
        "refunds": refunds,
        "status": if o.status == OrderStatus::Cancelled { "cancelled" } else { "open" },
    })
}

/// The REST refund (also the `refunds/create` body).
pub fn refund(state: &ShopState, o: &Order, r: &OrderRefund) -> Value {
    let n = counter(&r.id).unwrap_or(0);
    let order_n = counter(&o.id).unwrap_or(0);
    let lines: Vec<Value> = r
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let ln = counter(&l.line_id).unwrap_or(0);
            let restock = match l.restock_type {
                RestockType::NoRestock => "no_restock",
                RestockType::Cancel => "cancel",
                RestockType::Return => "return",
            };
            let location = l
                .location
                .as_deref()
                .or(Some(o.location.as_str()))
                .filter(|_| l.restock_type != RestockType::NoRestock)
                .and_then(|k| state.shopify.location(k));
            json!({
                "id": n * 1000 + i as u64 + 1,
                "line_item_id": ln,
                "quantity": l.quantity,
                "restock_type": restock,
                "location_id": location,
                "subtotal": money(l.amount),
                "total_tax": "0.00",
                "line_item": {"id": ln, "sku": l.sku},
            })
        })
        .collect();
    let transactions: Vec<Value> = if r.payment_amount > Decimal::ZERO {
        vec![json!({
            "id": order_n * 100 + 10 + (o.refunds.iter().position(|x| x.id == r.id).unwrap_or(0) as u64),
            "order_id": order_n,
            "kind": "refund",
            "status": "success",
            "amount": money(r.payment_amount),
            "currency": r.currency,
            "gateway": "omnisim",
            "created_at": time(r.created_at),
        })]
    } else {
        Vec::new()
    };
    json!({
        "id": n,
        "admin_graphql_api_id": gid("Refund", n),
        "order_id": order_n,
        "created_at": time(r.created_at),
        "processed_at": time(r.created_at),
        "note": r.note,
        "restock": r.lines.iter().any(|l| l.restock_type != RestockType::NoRestock),
        "refund_line_items": lines,
        "transactions": transactions,
        "order_adjustments": [],
    })
}

/// The REST gift card: the gateway card numbered `id`, with the note and
/// customer the dialect recorded. Its whole `code` is in the create
/// answer only, as on Shopify.
pub fn gift_card(c: &GiftCard, rec: &GiftCardRec) -> Value {
    json!({
        "id": c.number,
        "admin_graphql_api_id": gid("GiftCard", c.number),
        "balance": money(c.balance),
        "initial_value": money(c.initial_balance),
        "currency": c.currency,
        "created_at": time(c.created_at),
        "updated_at": time(c.created_at),
        "disabled_at": null,
        "expires_on": null,
        "line_item_id": null,
        "order_id": null,
        "api_client_id": null,
        "user_id": null,
        "customer_id": rec.customer.as_deref().and_then(counter),
        "note": rec.note,
        "template_suffix": null,
        "last_characters": super::gift_cards::last_characters(&c.code),
    })
}

/// The REST customer (also the `customers/create` and `customers/update`
/// body). `first_name` and `last_name` are the profile's name split at its
/// first space, the phone is E.164, `email_marketing_consent` is null
/// without an email (`subscribed` with `single_opt_in`, or
/// `not_subscribed`; omnisim keeps no consent time). `state` is `disabled`
/// (no customer accounts), `note`, `tags` and `addresses` are empty (the
/// profile holds none). The deprecated `accepts_marketing` is not written.
pub fn customer(c: &Customer) -> Value {
    let n = number(c);
    let (first, last) = split_name(&c.name);
    let consent = c.email.as_ref().map(|_| {
        json!({
            "state": if c.accepts_marketing { "subscribed" } else { "not_subscribed" },
            "opt_in_level": c.accepts_marketing.then_some("single_opt_in"),
            "consent_updated_at": null,
        })
    });
    json!({
        "id": n,
        "email": c.email,
        "first_name": first,
        "last_name": last,
        "phone": c.phone.as_deref().map(e164),
        "email_marketing_consent": consent,
        "created_at": time(c.created_at),
        "updated_at": time(c.updated_at),
        "state": "disabled",
        "note": null,
        "tags": "",
        "addresses": [],
        "admin_graphql_api_id": gid("Customer", n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rest_customer_splits_the_name_and_maps_consent() {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let mut c = Customer {
            id: "cus_000003".into(),
            name: "Ada King Lovelace".into(),
            email: Some("ada@example.com".into()),
            phone: Some("+1 (415) 555-0100".into()),
            accepts_marketing: true,
            created_at: at,
            updated_at: at,
            version: 2,
        };
        let v = customer(&c);
        assert_eq!(v["id"], 3);
        assert_eq!(v["admin_graphql_api_id"], "gid://shopify/Customer/3");
        assert_eq!(
            (&v["first_name"], &v["last_name"]),
            (&json!("Ada"), &json!("King Lovelace"))
        );
        assert_eq!(v["phone"], "+14155550100");
        assert_eq!(
            v["email_marketing_consent"],
            json!({"state": "subscribed", "opt_in_level": "single_opt_in", "consent_updated_at": null})
        );
        assert!(v.get("accepts_marketing").is_none());
        c.accepts_marketing = false;
        assert_eq!(
            customer(&c)["email_marketing_consent"]["state"],
            "not_subscribed"
        );
        c.email = None;
        c.name = String::new();
        let v = customer(&c);
        assert_eq!(v["email_marketing_consent"], Value::Null);
        assert_eq!(
            (&v["first_name"], &v["last_name"]),
            (&Value::Null, &Value::Null)
        );
    }
}
