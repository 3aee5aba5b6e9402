//! Money on the native wire, written with its currency's exponent.
//!
//! Every amount reads `"12.50"` and `"0.00"` (`"1000"` in yen), never
//! `"12.5"` or `"0"`, on every native simulator. POS and pay keep their
//! amounts at the currency's scale as they compute them; the shop's
//! arithmetic (pro-rata tax and discounts) does not, so its answers
//! ([`MoneyJson`], through [`Scale`]) and its events ([`scale_json`]) are
//! written at the currency's exponent on the way out.

use axum::response::{IntoResponse, Response};
use omnisim_api::common::currency_scale;
use omnisim_api::shop;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

/// The keys that hold money, in an object that carries (or sits inside
/// one that carries) a `currency`. A discount's `value` is money only for a
/// `fixed_amount` discount.
const MONEY_KEYS: &[&str] = &[
    "amount",
    "discount",
    "discount_total",
    "payment_amount",
    "price",
    "refunded_amount",
    "released_amount",
    "subtotal",
    "tax",
    "tax_total",
    "total",
    "total_capturable",
    "total_captured",
    "total_refunded",
    "total_released",
];

/// Rewrites every money string in `v` with its currency's exponent. An
/// object's `currency` applies to it and to everything nested in it (order
/// lines, refunds) that names none of its own. Amounts are only padded
/// (`12.5` → `12.50`), never rounded.
pub fn scale_json(v: &mut Value) {
    scale_in(v, None);
}

fn scale_in(v: &mut Value, inherited: Option<&str>) {
    match v {
        Value::Object(map) => {
            let currency = map
                .get("currency")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| inherited.map(str::to_owned));
            let fixed = map.get("kind").and_then(Value::as_str) == Some("fixed_amount");
            for (key, x) in map.iter_mut() {
                let money = MONEY_KEYS.contains(&key.as_str()) || (fixed && key == "value");
                match (x, &currency) {
                    (Value::String(s), Some(c)) if money => {
                        if let Some(scaled) = at_scale(s, c) {
                            *s = scaled;
                        }
                    }
                    (x @ (Value::Object(_) | Value::Array(_)), c) => scale_in(x, c.as_deref()),
                    _ => {}
                }
            }
        }
        Value::Array(items) => {
            for x in items {
                scale_in(x, inherited);
            }
        }
        _ => {}
    }
}

/// `12.5` in USD as `12.50`; None when it is no decimal or would need
/// rounding.
fn at_scale(s: &str, currency: &str) -> Option<String> {
    let scale = currency_scale(currency);
    let mut d: Decimal = s.parse().ok()?;
    if d.scale() > scale {
        d = d.normalize();
    }
    if d.scale() > scale {
        return None;
    }
    d.rescale(scale);
    Some(d.to_string())
}

/// A JSON answer whose money reads with its currency's exponent (fields
/// stay in their declared order).
#[derive(Debug, Clone, Copy, Default)]
pub struct MoneyJson<T>(pub T);

impl<T: Scale + Serialize> IntoResponse for MoneyJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0.scaled()).into_response()
    }
}

/// A shop resource whose money can be written at its currency's exponent.
pub trait Scale: Sized {
    /// The same resource, every amount at its currency's exponent.
    fn scaled(self) -> Self;
}

/// `amount` at the scale of `currency`, padded, never rounded.
fn pad(amount: Decimal, currency: &str) -> Decimal {
    let scale = currency_scale(currency);
    let mut d = amount;
    if d.scale() > scale {
        d = d.normalize();
    }
    if d.scale() <= scale {
        d.rescale(scale);
    }
    d
}

macro_rules! no_money {
    ($($t:ty),*) => {
        $(impl Scale for $t {
            fn scaled(self) -> Self {
                self
            }
        })*
    };
}

no_money!(
    shop::InventoryLevel,
    shop::InventoryLevelList,
    shop::ShopSettings,
    omnisim_api::common::TaxRate,
    omnisim_api::common::TaxRateList
);

impl Scale for shop::Product {
    fn scaled(mut self) -> Self {
        self.price = pad(self.price, &self.currency);
        self
    }
}

impl Scale for shop::ProductList {
    fn scaled(mut self) -> Self {
        self.data = self.data.into_iter().map(Scale::scaled).collect();
        self
    }
}

impl Scale for shop::OrderRefund {
    fn scaled(mut self) -> Self {
        let c = self.currency.clone();
        self.amount = pad(self.amount, &c);
        self.payment_amount = pad(self.payment_amount, &c);
        self.released_amount = pad(self.released_amount, &c);
        for l in &mut self.lines {
            l.amount = pad(l.amount, &c);
        }
        self
    }
}

impl Scale for shop::Order {
    fn scaled(mut self) -> Self {
        let c = self.currency.clone();
        for l in &mut self.lines {
            l.price = pad(l.price, &c);
            l.discount = pad(l.discount, &c);
            l.tax = pad(l.tax, &c);
            l.total = pad(l.total, &c);
            l.refunded_amount = pad(l.refunded_amount, &c);
        }
        for x in [
            &mut self.subtotal,
            &mut self.discount_total,
            &mut self.tax_total,
            &mut self.total,
            &mut self.total_captured,
            &mut self.total_capturable,
            &mut self.total_refunded,
            &mut self.total_released,
        ] {
            *x = pad(*x, &c);
        }
        self.refunds = self.refunds.into_iter().map(Scale::scaled).collect();
        self
    }
}

impl Scale for shop::GiftCardPurchase {
    fn scaled(mut self) -> Self {
        self.amount = pad(self.amount, &self.currency);
        self
    }
}

impl Scale for shop::IssuedGiftCard {
    fn scaled(mut self) -> Self {
        self.amount = pad(self.amount, &self.currency);
        self
    }
}

impl Scale for shop::OrderList {
    fn scaled(mut self) -> Self {
        self.data = self.data.into_iter().map(Scale::scaled).collect();
        self
    }
}

impl Scale for shop::DiscountCode {
    fn scaled(mut self) -> Self {
        if let (shop::DiscountKind::FixedAmount, Some(c)) = (&self.kind, &self.currency) {
            self.value = pad(self.value, c);
        }
        self
    }
}

impl Scale for shop::DiscountCodeList {
    fn scaled(mut self) -> Self {
        self.data = self.data.into_iter().map(Scale::scaled).collect();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_takes_its_currencys_exponent() {
        let mut v = serde_json::json!({
            "currency": "USD",
            "total": "12.5",
            "total_captured": "0",
            "lines": [{ "price": "4", "quantity": 3, "sku": "10" }],
            "discount_code": { "kind": "percentage", "value": "10" },
        });
        scale_json(&mut v);
        assert_eq!(v["total"], "12.50");
        assert_eq!(v["total_captured"], "0.00");
        assert_eq!(v["lines"][0]["price"], "4.00");
        assert_eq!(v["lines"][0]["sku"], "10");
        assert_eq!(v["discount_code"]["value"], "10");
        let mut yen = serde_json::json!({ "currency": "JPY", "price": "1000.0" });
        scale_json(&mut yen);
        assert_eq!(yen["price"], "1000");
    }
}
