//! Shopify's ids over the shop's canonical keys, from counters, so that
//! runs stay deterministic: `gid://shopify/<Type>/<n>` in GraphQL and `n`
//! in REST.
//!
//! - A product is numbered when it is created; its one variant and its
//!   inventory item share the number (the model has one variant per SKU).
//! - A location is numbered at the start of the first transition after it
//!   appears (in id order for several at once).
//! - Orders, line items and refunds carry their counter in their canonical
//!   id (`ord_000012` is order 12); fulfillment orders share the order's.
//! - Fulfillments, which the model does not keep, are recorded here.
//! - A gift card is numbered by the gateway (its `number`); what Shopify
//!   says of it that the gateway does not hold (the note and the customer
//!   of a card made through the dialect) is recorded here.
//! - An inventory level is `InventoryLevel/<location n>?inventory_item_id=<item n>`,
//!   as Shopify writes it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// One fulfillment made through the dialect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FulfillmentRec {
    /// The order.
    pub order_id: String,
    /// (line id, units) handed over.
    pub lines: Vec<(String, i64)>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What Shopify says of a gift card that the gateway does not hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GiftCardRec {
    /// Its note.
    pub note: Option<String>,
    /// The shop key of its customer (`cus_000007`).
    pub customer: Option<String>,
}

/// The id maps, part of the shop's state (reset with it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ids {
    products: BTreeMap<String, u64>,
    skus: BTreeMap<u64, String>,
    locations: BTreeMap<String, u64>,
    location_keys: BTreeMap<u64, String>,
    fulfillments: BTreeMap<u64, FulfillmentRec>,
    next_group: u64,
    gift_cards: BTreeMap<String, GiftCardRec>,
    gift_codes: u64,
}

impl Ids {
    /// Gives `sku` the next product number, unless it has one.
    pub fn number_product(&mut self, sku: &str) {
        if !self.products.contains_key(sku) {
            let n = self.products.len() as u64 + 1;
            self.products.insert(sku.to_owned(), n);
            self.skus.insert(n, sku.to_owned());
        }
    }

    /// Numbers the locations among `ids` that have no number yet.
    pub fn number_locations<'a>(&mut self, ids: impl Iterator<Item = &'a str>) {
        for id in ids {
            if !self.locations.contains_key(id) {
                let n = self.locations.len() as u64 + 1;
                self.locations.insert(id.to_owned(), n);
                self.location_keys.insert(n, id.to_owned());
            }
        }
    }

    /// The product (and variant, and inventory item) number of `sku`.
    pub fn product(&self, sku: &str) -> Option<u64> {
        self.products.get(sku).copied()
    }

    /// The SKU of product number `n`.
    pub fn sku(&self, n: u64) -> Option<&str> {
        self.skus.get(&n).map(String::as_str)
    }

    /// The number of location `id`.
    pub fn location(&self, id: &str) -> Option<u64> {
        self.locations.get(id).copied()
    }

    /// The location id of number `n`.
    pub fn location_key(&self, n: u64) -> Option<&str> {
        self.location_keys.get(&n).map(String::as_str)
    }

    /// Records a fulfillment; returns its number.
    pub fn add_fulfillment(&mut self, rec: FulfillmentRec) -> u64 {
        let n = self.fulfillments.len() as u64 + 1;
        self.fulfillments.insert(n, rec);
        n
    }

    /// The fulfillments of `order_id`, oldest first.
    pub fn fulfillments_of(&self, order_id: &str) -> Vec<(u64, FulfillmentRec)> {
        self.fulfillments
            .iter()
            .filter(|(_, f)| f.order_id == order_id)
            .map(|(n, f)| (*n, f.clone()))
            .collect()
    }

    /// What the dialect recorded of gift card `code` (nothing for a card
    /// made elsewhere).
    pub fn gift_card(&self, code: &str) -> GiftCardRec {
        self.gift_cards.get(code).cloned().unwrap_or_default()
    }

    /// Records what Shopify says of gift card `code`.
    pub fn record_gift_card(&mut self, code: &str, rec: GiftCardRec) {
        self.gift_cards.insert(code.to_owned(), rec);
    }

    /// The next number a generated gift-card code is made from.
    pub fn next_gift_code(&mut self) -> u64 {
        self.gift_codes += 1;
        self.gift_codes
    }

    /// The next inventory adjustment group number.
    pub fn next_group(&mut self) -> u64 {
        self.next_group += 1;
        self.next_group
    }
}

/// The counter in a canonical id such as `ord_000012` (12).
pub fn counter(id: &str) -> Option<u64> {
    id.rsplit('_').next()?.parse().ok()
}

/// `gid://shopify/<kind>/<n>`.
pub fn gid(kind: &str, n: u64) -> String {
    format!("gid://shopify/{kind}/{n}")
}

/// The number in `gid://shopify/<kind>/<n>` (a query string after it is
/// ignored), or in a bare number.
pub fn parse_gid(kind: &str, id: &str) -> Option<u64> {
    if let Ok(n) = id.parse() {
        return Some(n);
    }
    let rest = id.strip_prefix("gid://shopify/")?.strip_prefix(kind)?;
    let rest = rest.strip_prefix('/')?;
    let number = rest.split('?').next()?;
    number.parse().ok()
}

/// The inventory level id of item `item` at location `location`.
pub fn level_gid(location: u64, item: u64) -> String {
    format!("gid://shopify/InventoryLevel/{location}?inventory_item_id={item}")
}

/// (location n, item n) of an inventory level id.
pub fn parse_level_gid(id: &str) -> Option<(u64, u64)> {
    let rest = id.strip_prefix("gid://shopify/InventoryLevel/")?;
    let (loc, query) = rest.split_once('?')?;
    let item = query.strip_prefix("inventory_item_id=")?;
    Some((loc.parse().ok()?, item.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gids_round_trip() {
        assert_eq!(parse_gid("Product", &gid("Product", 7)), Some(7));
        assert_eq!(parse_gid("Product", "7"), Some(7));
        assert_eq!(parse_gid("Product", "gid://shopify/Order/7"), None);
        assert_eq!(parse_level_gid(&level_gid(2, 9)), Some((2, 9)));
        assert_eq!(counter("ord_000012"), Some(12));
    }

    #[test]
    fn numbers_are_stable() {
        let mut ids = Ids::default();
        ids.number_locations(["store-1", "web"].into_iter());
        ids.number_locations(["a", "store-1", "web"].into_iter());
        assert_eq!(ids.location("store-1"), Some(1));
        assert_eq!(ids.location("a"), Some(3));
        ids.number_product("B");
        ids.number_product("A");
        assert_eq!(ids.product("B"), Some(1));
        assert_eq!(ids.sku(2), Some("A"));
    }
}
