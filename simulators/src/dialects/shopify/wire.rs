//! Shopify's REST resources (numeric ids, snake_case, decimal strings) from
//! the canonical ones: what webhook bodies and the REST subset carry.

use chrono::{DateTime, SecondsFormat, Utc};
use omnisim_api::shop::{
    FinancialStatus, FulfillmentStatus, InventoryLevel, Order, OrderRefund, OrderStatus, Product,
    ProductStatus, RestockType,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::ids::{counter, gid, level_gid};
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
