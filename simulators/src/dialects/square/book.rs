//! What the Square dialect keeps that the POS model does not: catalog object
//! ids, versions and the fields Square's objects carry beyond a SKU and a
//! price; orders before they are paid (a paid order is a POS sale); and the
//! Square payments and refunds made through the dialect, with the gateway
//! intents and refunds behind them. It lives inside [`crate::pos::PosState`],
//! so a reset clears it and webhooks render against the state of the
//! event's own moment.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

/// One catalog object as the dialect stores it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CatalogEntry {
    /// `ITEM`, `ITEM_VARIATION`, `CATEGORY`, …
    pub kind: String,
    /// The object as last upserted (an ITEM without its nested variations).
    pub object: Value,
    /// Its version: milliseconds since the epoch of its last write, never
    /// going back.
    pub version: i64,
    /// Its last write.
    pub updated_at: DateTime<Utc>,
    /// Deleted objects stay, flagged, as Square keeps them.
    pub deleted: bool,
    /// A variation's ITEM.
    pub item_id: Option<String>,
    /// A variation's POS SKU (its `sku`, or its own id when it has none).
    pub sku: Option<String>,
}

/// One line of an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = SquareOrderLine)]
pub struct OrderLine {
    /// Square's line `uid`.
    pub uid: String,
    /// The variation sold.
    pub variation_id: String,
    /// Its POS SKU.
    pub sku: String,
    /// Units.
    pub quantity: i64,
    /// The item's name.
    pub name: String,
    /// Catalog price per unit.
    #[schema(value_type = String)]
    pub price: Decimal,
    /// What the order's promotion took off the line.
    #[schema(value_type = String)]
    pub discount: Decimal,
    /// Tax of the line.
    #[schema(value_type = String)]
    pub tax: Decimal,
    /// Total of the line, tax included.
    #[schema(value_type = String)]
    pub total: Decimal,
}

/// The states of a PICKUP fulfillment, as Square names them. PROPOSED,
/// RESERVED and PREPARED are the caller's to set; COMPLETED and CANCELED
/// follow the POS pickup behind it (handed over or released, at the
/// register or through an update).
pub const FULFILLMENT_STATES: [&str; 5] =
    ["PROPOSED", "RESERVED", "PREPARED", "COMPLETED", "CANCELED"];

/// An order's PICKUP fulfillment: the POS pickup of `order_ref` (the online
/// order its units are set aside for).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = SquarePickupFulfillment)]
pub struct PickupFulfillment {
    /// Square's fulfillment `uid`.
    pub uid: String,
    /// One of [`FULFILLMENT_STATES`].
    pub state: String,
    /// The state before the last change of `state` (for Square's
    /// `fulfillment_update.old_state`).
    pub old_state: Option<String>,
    /// The POS pickup's key: the shop order's id.
    pub order_ref: String,
    /// `pickup_details` as the caller gave them (recipient, note, …); the
    /// times are the dialect's.
    #[schema(value_type = Object)]
    pub details: Value,
    /// When it was handed over.
    pub picked_up_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    pub canceled_at: Option<DateTime<Utc>>,
}

/// An order made through the dialect.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = SquareOrder)]
pub struct Order {
    /// Its id.
    pub id: String,
    /// Where it is sold.
    pub location_id: String,
    /// The caller's reference.
    pub reference_id: Option<String>,
    /// The caller's metadata.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Its lines.
    pub lines: Vec<OrderLine>,
    /// `OPEN`, `COMPLETED` or `CANCELED`.
    pub state: String,
    /// From 1, one up per change.
    pub version: i64,
    /// Currency of every line.
    pub currency: String,
    /// Sum of the line totals.
    #[schema(value_type = String)]
    pub total: Decimal,
    /// Sum of the line taxes.
    #[schema(value_type = String)]
    pub tax: Decimal,
    /// The POS promotion that priced it when it was made (as the register
    /// prices a sale), if one ran.
    pub promotion: Option<String>,
    /// Payments made for it, in order.
    pub payment_ids: Vec<String>,
    /// The POS sale that recorded it once paid.
    pub sale_id: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Completed or cancelled.
    pub closed_at: Option<DateTime<Utc>>,
    /// Its PICKUP fulfillment, if it is an online order waiting at the
    /// store: its units are a POS pickup, and it closes when the pickup does.
    pub fulfillment: Option<PickupFulfillment>,
}

/// A payment made through the dialect: a gateway intent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = SquarePayment)]
pub struct Payment {
    /// Its id.
    pub id: String,
    /// The gateway intent behind it.
    pub intent: String,
    /// `APPROVED`, `COMPLETED`, `CANCELED` or `FAILED`.
    pub status: String,
    /// The order it pays.
    pub order_id: Option<String>,
    /// Where it was taken.
    pub location_id: String,
    /// Amount.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// Currency.
    pub currency: String,
    /// The card's last four digits.
    pub last4: String,
    /// The card's brand (`VISA`, …).
    pub brand: String,
    /// Why it failed (`GENERIC_DECLINE`, …).
    pub failure: Option<String>,
    /// The caller's reference.
    pub reference_id: Option<String>,
    /// The caller's note.
    pub note: Option<String>,
    /// Refunded so far.
    #[schema(value_type = String)]
    pub refunded: Decimal,
    /// Refunds, in order.
    pub refund_ids: Vec<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// When an APPROVED payment is cancelled unless completed.
    pub delayed_until: DateTime<Utc>,
    /// The card number behind the nonce (a test number); never in an
    /// event: PCI DSS keeps full card numbers out of logs.
    #[serde(skip)]
    pub card_number: String,
}

/// A refund made through the dialect: a gateway refund.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = SquareRefund)]
pub struct Refund {
    /// Its id.
    pub id: String,
    /// The gateway refund behind it.
    pub gateway_refund: String,
    /// The payment refunded.
    pub payment_id: String,
    /// That payment's order.
    pub order_id: Option<String>,
    /// That payment's location.
    pub location_id: String,
    /// `PENDING`, `COMPLETED` or `FAILED`.
    pub status: String,
    /// Amount.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// Currency.
    pub currency: String,
    /// The caller's reason.
    pub reason: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The three catalog objects that make one POS promotion in Square's
/// catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PromotionObjects {
    /// The `PRICING_RULE`.
    pub rule: String,
    /// Its `DISCOUNT`.
    pub discount: String,
    /// Its `PRODUCT_SET`.
    pub product_set: String,
}

/// A webhook subscription's fields that the shared subscriptions do not keep.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SubscriptionExtras {
    /// Its name.
    pub name: Option<String>,
    /// The API version its events use.
    pub api_version: Option<String>,
    /// Created.
    pub created_at: Option<DateTime<Utc>>,
    /// Last changed.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The dialect's part of the POS state.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Book {
    /// The last id handed out.
    pub next_id: u64,
    /// Catalog objects by id, in creation order.
    pub catalog: IndexMap<String, CatalogEntry>,
    /// Variation id by POS SKU.
    pub variation_of_sku: BTreeMap<String, String>,
    /// The last catalog version handed out.
    pub last_version: i64,
    /// The last catalog write.
    pub catalog_updated_at: Option<DateTime<Utc>>,
    /// Orders by id, in creation order.
    pub orders: IndexMap<String, Order>,
    /// Order id by the POS sale that recorded it.
    pub order_of_sale: BTreeMap<String, String>,
    /// Order id by the POS pickup (its `order_ref`) its PICKUP fulfillment
    /// made.
    pub order_of_pickup: BTreeMap<String, String>,
    /// Payments by id, in creation order.
    pub payments: IndexMap<String, Payment>,
    /// Refunds by id, in creation order.
    pub refunds: IndexMap<String, Refund>,
    /// The catalog ids of the POS promotions made through the dialect, by
    /// promotion id (a promotion made natively has derived ids,
    /// `PRICING_RULE_<id>`, `DISCOUNT_<id>`, `PRODUCT_SET_<id>`).
    pub promotion_objects: BTreeMap<String, PromotionObjects>,
    /// The promotion id of each of those catalog ids.
    pub promotion_of_object: BTreeMap<String, String>,
    /// Webhook subscription extras, by subscription id.
    pub subscriptions: BTreeMap<String, SubscriptionExtras>,
    /// Gift cards created through the dialect and not yet activated, by GAN:
    /// Square's `PENDING` state. The gateway has no such card until an
    /// `ACTIVATE` activity issues it at the register.
    pub pending_gift_cards: IndexMap<String, PendingGiftCard>,
    /// What each card activated through the dialect was created and
    /// activated with, by GAN, shown again on its reads and activities.
    pub activated_gift_cards: BTreeMap<String, ActivatedGiftCard>,
    /// The last GAN the dialect generated for `gan_source` `SQUARE`.
    pub last_gan: u64,
}

/// A gift card `CreateGiftCard` made, waiting for its `ACTIVATE` activity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PendingGiftCard {
    /// `SQUARE` (the dialect generated the GAN) or `OTHER` (the caller's).
    pub gan_source: String,
    /// Where it was registered.
    pub location_id: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A gift card made and activated through the dialect.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActivatedGiftCard {
    /// As it was created.
    pub gan_source: String,
    /// Where its `ACTIVATE` activity happened.
    pub location_id: String,
    /// That activity's `activate_activity_details`, as answered.
    pub details: Value,
}

/// The alphabet of Square-style ids (upper-case base32).
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

impl Book {
    /// Follows a POS pickup that was handed over (`COMPLETED`) or released
    /// (`CANCELED`) onto the order whose fulfillment made it: the
    /// fulfillment and the order close, and the order's version moves.
    /// Answers the order as it is now, for its `order.updated` event; `None`
    /// when no order of the dialect made that pickup.
    pub fn follow_pickup(
        &mut self,
        order_ref: &str,
        state: &str,
        now: DateTime<Utc>,
    ) -> Option<&Order> {
        let id = self.order_of_pickup.get(order_ref)?.clone();
        let o = self.orders.get_mut(&id)?;
        let f = o.fulfillment.as_mut()?;
        if f.state == state {
            return None;
        }
        f.old_state = Some(std::mem::replace(&mut f.state, state.to_owned()));
        if state == "COMPLETED" {
            f.picked_up_at = Some(now);
        } else {
            f.canceled_at = Some(now);
        }
        if o.state == "OPEN" {
            // Paid where it was sold (the online order): the goods leaving,
            // or never leaving, close it.
            o.state = state.to_owned();
            o.closed_at = Some(now);
        }
        o.version += 1;
        o.updated_at = now;
        Some(o)
    }

    /// Follows a POS pickup shortened before collection onto the order whose
    /// fulfillment made it: each SKU named comes down to the units the
    /// pickup now lists for it (`lines`: SKU and units), later lines first,
    /// as the pickup shrinks them; a line left with none is dropped. A line's
    /// discount and tax follow it pro rata, and the order's totals its
    /// lines (a PICKUP order was priced where it was sold). Answers the
    /// order for its `order.updated` event; `None` when no order of the
    /// dialect made that pickup, or nothing changed.
    pub fn follow_pickup_lines(
        &mut self,
        order_ref: &str,
        lines: &[(String, i64)],
        now: DateTime<Utc>,
    ) -> Option<&Order> {
        let id = self.order_of_pickup.get(order_ref)?.clone();
        let o = self.orders.get_mut(&id)?;
        let currency = o.currency.clone();
        let mut changed = false;
        for (sku, want) in lines {
            let have: i64 = o
                .lines
                .iter()
                .filter(|l| &l.sku == sku)
                .map(|l| l.quantity)
                .sum();
            let mut cut = have - want;
            for l in o.lines.iter_mut().rev().filter(|l| &l.sku == sku) {
                if cut <= 0 {
                    break;
                }
                let take = cut.min(l.quantity);
                let left = l.quantity - take;
                let share = |v: Decimal| {
                    omnisim_api::common::round_money(
                        v * Decimal::from(left) / Decimal::from(l.quantity),
                        &currency,
                    )
                };
                l.discount = share(l.discount);
                l.tax = share(l.tax);
                l.total = l.price * Decimal::from(left) - l.discount + l.tax;
                l.quantity = left;
                cut -= take;
                changed = true;
            }
        }
        if !changed {
            return None;
        }
        o.lines.retain(|l| l.quantity > 0);
        o.tax = o.lines.iter().map(|l| l.tax).sum();
        o.total = o.lines.iter().map(|l| l.total).sum();
        o.version += 1;
        o.updated_at = now;
        Some(o)
    }

    /// A fresh id: `prefix` then upper-case base32 of a counter, 24
    /// characters in all (Square's catalog ids are 24 such characters).
    pub fn fresh_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        let mut n = self.next_id;
        let mut tail = Vec::new();
        while n > 0 {
            tail.push(ALPHABET[(n % 32) as usize]);
            n /= 32;
        }
        let width = 24usize.saturating_sub(prefix.len());
        while tail.len() < width {
            tail.push(b'A');
        }
        tail.reverse();
        format!("{prefix}{}", String::from_utf8_lossy(&tail))
    }

    /// The next catalog version at `now`: its millisecond time, or one above
    /// the last version when the clock has not moved past it.
    pub fn next_version(&mut self, now: DateTime<Utc>) -> i64 {
        let v = now.timestamp_millis().max(self.last_version + 1);
        self.last_version = v;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_24_characters_and_distinct() {
        let mut b = Book::default();
        let a = b.fresh_id("");
        let c = b.fresh_id("");
        assert_eq!(a.len(), 24);
        assert_ne!(a, c);
        assert!(b.fresh_id("PAY").starts_with("PAY"));
    }

    #[test]
    fn versions_never_go_back() {
        let mut b = Book::default();
        let t = DateTime::from_timestamp(1_000, 0).unwrap();
        let v1 = b.next_version(t);
        let v2 = b.next_version(t);
        assert_eq!(v1, 1_000_000);
        assert_eq!(v2, 1_000_001);
    }
}
