//! The engine's durable state, and the writes that persist it.
//!
//! Keys on the [`Store`](crate::store::Store): `cursor/<platform>`,
//! `seen/<event id>`, `order/<order id>`, `sub/<platform>`,
//! `customer/<shop customer id>`. Every processed
//! event commits its `seen` mark together with whatever state it changed, in
//! one batch, so a crash either keeps both or neither.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::store::Write;

/// The three platforms, as the engine names them in keys and routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plat {
    /// The point of sale.
    Pos,
    /// The ecommerce platform.
    Shop,
    /// The payment gateway.
    Pay,
}

impl Plat {
    /// All three, in a fixed order.
    pub const ALL: [Plat; 3] = [Plat::Pos, Plat::Shop, Plat::Pay];

    /// `pos`, `shop` or `pay`.
    pub fn name(self) -> &'static str {
        match self {
            Plat::Pos => "pos",
            Plat::Shop => "shop",
            Plat::Pay => "pay",
        }
    }

    /// The platform named `s`.
    pub fn parse(s: &str) -> Option<Plat> {
        Plat::ALL.into_iter().find(|p| p.name() == s)
    }

    /// Its signature scheme.
    pub fn scheme(self) -> omnisim_api::Scheme {
        match self {
            Plat::Pos => omnisim_api::Scheme::Square,
            Plat::Shop => omnisim_api::Scheme::Shopify,
            Plat::Pay => omnisim_api::Scheme::Stripe,
        }
    }
}

/// A webhook subscription the engine made, with the secret it was given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    /// The platform's subscription id.
    pub id: String,
    /// The URL it delivers to.
    pub url: String,
    /// Every secret still valid, newest first.
    pub secrets: Vec<String>,
}

/// What the engine did for one online order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderTrack {
    /// The shop order id.
    pub id: String,
    /// The fulfilling location.
    pub location: String,
    /// The gateway intent.
    pub payment_intent: Option<String>,
    /// Units set aside at the POS store (a POS pickup exists).
    pub reserved: bool,
    /// The POS reservation was released (cancel).
    pub released: bool,
    /// Handed over at the store (POS pickup completed).
    pub picked_up: bool,
    /// Fulfilled on the shop.
    pub fulfilled: bool,
    /// Captured through the shop.
    pub captured: bool,
    /// Cancelled on the shop.
    pub cancelled: bool,
}

/// The synced fields of a customer profile, as the engine last left both
/// sides (the base of its three-way merge).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerFields {
    /// The name.
    pub name: String,
    /// The email, as written.
    pub email: Option<String>,
    /// The phone, as written.
    pub phone: Option<String>,
    /// Marketing consent.
    pub accepts_marketing: bool,
}

/// One person's profiles, linked: the shop's and the POS's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerLink {
    /// The shop's customer id.
    pub shop: String,
    /// The POS's customer id.
    pub pos: String,
    /// What both sides held after the engine's last merge; `None` before
    /// the first one (two profiles just matched).
    pub base: Option<CustomerFields>,
}

/// A SKU's synced catalog fields as the shop and the POS both last held
/// them: the base of the three-way merge for a field either side may change
/// (mastership `both`), so that an event carries only what changed on its
/// side since, never a stale value over a newer change on the other.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogBase {
    /// The price.
    pub price: rust_decimal::Decimal,
    /// Its currency.
    pub currency: String,
    /// The tax code, if any.
    pub tax_code: Option<String>,
}

/// Everything the engine must not forget across a restart.
#[derive(Debug, Default)]
pub struct EngineState {
    /// Last change-feed seq fully processed, per platform.
    pub cursors: BTreeMap<Plat, u64>,
    /// Event ids already applied.
    pub seen: BTreeSet<String>,
    /// Online orders and what was done for them.
    pub orders: BTreeMap<String, OrderTrack>,
    /// The engine's webhook subscriptions.
    pub subscriptions: BTreeMap<Plat, SubscriptionRecord>,
    /// Linked customer profiles, by shop customer id.
    pub customers: BTreeMap<String, CustomerLink>,
    /// The catalog fields both sides last agreed on, by SKU.
    pub catalog: BTreeMap<String, CatalogBase>,
    /// Seqs applied ahead of their cursor (a webhook arrived before an
    /// earlier one, or instead of a dropped one). Not stored: after a
    /// restart the poller re-reads them and deduplication skips them.
    ahead: BTreeMap<Plat, BTreeSet<u64>>,
    writes: Vec<Write>,
}

/// At most this many seqs are remembered ahead of a cursor; past it the
/// poller alone moves the cursor, as it always can.
const AHEAD_MAX: usize = 10_000;

fn put<T: Serialize>(writes: &mut Vec<Write>, key: String, value: &T) {
    writes.push((key, Some(serde_json::to_vec(value).unwrap_or_default())));
}

fn get<T: DeserializeOwned>(v: &[u8]) -> Option<T> {
    serde_json::from_slice(v).ok()
}

impl EngineState {
    /// Rebuilds the state from everything on the store.
    pub fn from_store(all: BTreeMap<String, Vec<u8>>) -> Self {
        let mut s = EngineState::default();
        for (k, v) in all {
            let Some((kind, rest)) = k.split_once('/') else {
                continue;
            };
            match kind {
                "cursor" => {
                    if let (Some(p), Some(c)) = (Plat::parse(rest), get::<u64>(&v)) {
                        s.cursors.insert(p, c);
                    }
                }
                "seen" => {
                    s.seen.insert(rest.to_owned());
                }
                "order" => {
                    if let Some(o) = get::<OrderTrack>(&v) {
                        s.orders.insert(o.id.clone(), o);
                    }
                }
                "customer" => {
                    if let Some(c) = get::<CustomerLink>(&v) {
                        s.customers.insert(c.shop.clone(), c);
                    }
                }
                "catalog" => {
                    if let Some(b) = get::<CatalogBase>(&v) {
                        s.catalog.insert(rest.to_owned(), b);
                    }
                }
                "sub" => {
                    if let (Some(p), Some(r)) = (Plat::parse(rest), get::<SubscriptionRecord>(&v)) {
                        s.subscriptions.insert(p, r);
                    }
                }
                _ => {}
            }
        }
        s
    }

    /// Records `id` as applied.
    pub fn mark_seen(&mut self, id: &str) {
        if self.seen.insert(id.to_owned()) {
            self.writes.push((format!("seen/{id}"), Some(Vec::new())));
        }
    }

    /// The first cursor of a platform the engine has none for (a fresh
    /// install starts at the feed's head), written even when it is 0: a
    /// restart must find it, or it would start again from a later head and
    /// skip what came in between.
    pub fn start_cursor(&mut self, p: Plat, head: u64) {
        self.cursors.insert(p, head);
        put(&mut self.writes, format!("cursor/{}", p.name()), &head);
    }

    /// Moves a feed cursor forward (never back): every event of `p`'s feed
    /// up to `seq` has been applied.
    pub fn set_cursor(&mut self, p: Plat, seq: u64) {
        let c = self.cursors.entry(p).or_insert(0);
        if seq <= *c {
            return;
        }
        let mut to = seq;
        if let Some(ahead) = self.ahead.get_mut(&p) {
            *ahead = ahead.split_off(&(to + 1));
            while ahead.remove(&(to + 1)) {
                to += 1;
            }
        }
        *c = to;
        put(&mut self.writes, format!("cursor/{}", p.name()), &to);
    }

    /// Records that event `seq` of `p`'s feed has been applied, by whichever
    /// path: the cursor moves over it once nothing before it is missing.
    /// With webhooks arriving, the reconciliation poll then finds nothing to
    /// read again, and still reads from the first event a webhook missed.
    pub fn applied(&mut self, p: Plat, seq: u64) {
        let cursor = self.cursors.get(&p).copied();
        match cursor {
            // Cursors are positioned at start-up; before that, nothing moves.
            None => {}
            Some(c) if seq == c + 1 => self.set_cursor(p, seq),
            Some(c) if seq > c => {
                let ahead = self.ahead.entry(p).or_default();
                if ahead.len() < AHEAD_MAX {
                    ahead.insert(seq);
                }
            }
            Some(_) => {}
        }
    }

    /// Stores an order record.
    pub fn save_order(&mut self, order: OrderTrack) {
        put(&mut self.writes, format!("order/{}", order.id), &order);
        self.orders.insert(order.id.clone(), order);
    }

    /// Stores a customer link.
    pub fn save_customer(&mut self, link: CustomerLink) {
        put(&mut self.writes, format!("customer/{}", link.shop), &link);
        self.customers.insert(link.shop.clone(), link);
    }

    /// The link holding `id` on `p` (the shop or the POS).
    pub fn customer_link(&self, p: Plat, id: &str) -> Option<CustomerLink> {
        match p {
            Plat::Shop => self.customers.get(id).cloned(),
            _ => self.customers.values().find(|l| l.pos == id).cloned(),
        }
    }

    /// Stores what both sides now hold for `sku`'s catalog fields.
    pub fn save_catalog_base(&mut self, sku: &str, base: CatalogBase) {
        if self.catalog.get(sku) == Some(&base) {
            return;
        }
        put(&mut self.writes, format!("catalog/{sku}"), &base);
        self.catalog.insert(sku.to_owned(), base);
    }

    /// Stores a subscription record.
    pub fn save_subscription(&mut self, p: Plat, rec: SubscriptionRecord) {
        put(&mut self.writes, format!("sub/{}", p.name()), &rec);
        self.subscriptions.insert(p, rec);
    }

    /// Takes the writes made since the last call, for one atomic commit.
    pub fn take_writes(&mut self) -> Vec<Write> {
        std::mem::take(&mut self.writes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_its_writes() {
        let mut s = EngineState::default();
        s.mark_seen("evt_pos_00000001");
        s.set_cursor(Plat::Shop, 7);
        s.set_cursor(Plat::Shop, 3);
        s.save_order(OrderTrack {
            id: "ord_000001".into(),
            location: "store-1".into(),
            reserved: true,
            ..Default::default()
        });
        let all: BTreeMap<String, Vec<u8>> = s
            .take_writes()
            .into_iter()
            .map(|(k, v)| (k, v.unwrap()))
            .collect();
        assert!(s.take_writes().is_empty());
        let back = EngineState::from_store(all);
        assert!(back.seen.contains("evt_pos_00000001"));
        assert_eq!(back.cursors[&Plat::Shop], 7, "cursors never move back");
        assert!(back.orders["ord_000001"].reserved);
    }

    #[test]
    fn a_first_cursor_at_an_empty_feed_is_kept_across_a_restart() {
        let mut s = EngineState::default();
        s.start_cursor(Plat::Pos, 0);
        let all: BTreeMap<String, Vec<u8>> = s
            .take_writes()
            .into_iter()
            .map(|(k, v)| (k, v.unwrap()))
            .collect();
        let back = EngineState::from_store(all);
        assert_eq!(
            back.cursors.get(&Plat::Pos),
            Some(&0),
            "a restart resumes at 0, not at a later head"
        );
    }

    #[test]
    fn applied_events_move_the_cursor_only_over_a_gapless_prefix() {
        let mut s = EngineState::default();
        s.applied(Plat::Pos, 1);
        assert!(
            s.cursors.is_empty(),
            "no cursor before start-up positions it"
        );
        s.set_cursor(Plat::Pos, 4);
        s.applied(Plat::Pos, 5);
        assert_eq!(s.cursors[&Plat::Pos], 5);
        // 6 was dropped: 7 and 8 wait ahead, and the cursor stays for the poller.
        s.applied(Plat::Pos, 7);
        s.applied(Plat::Pos, 8);
        s.applied(Plat::Pos, 3);
        assert_eq!(s.cursors[&Plat::Pos], 5);
        // The poller (or a late webhook) applies 6: the cursor jumps to 8.
        s.applied(Plat::Pos, 6);
        assert_eq!(s.cursors[&Plat::Pos], 8);
        s.applied(Plat::Pos, 10);
        s.set_cursor(Plat::Pos, 9);
        assert_eq!(s.cursors[&Plat::Pos], 10, "a poll absorbs what was ahead");
        assert_eq!(s.cursors.get(&Plat::Shop), None, "feeds are independent");
        let stored: Vec<String> = s.take_writes().into_iter().map(|(k, _)| k).collect();
        assert!(stored.iter().all(|k| k == "cursor/pos"));
    }
}
