//! Stock per SKU × location, as Shopify keeps it: `available`, `committed`,
//! `unavailable` and `on_hand`, with `on_hand = available + committed +
//! unavailable` after every change.
//!
//! A level never written is all zeros: every known SKU has one at every known
//! location. Each transition collects its changes in [`Moves`] and applies
//! them with [`Inventory::apply`], which emits one `inventory_levels/update`
//! per level that changed, carrying the cause.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use omnisim_api::shop::{InventoryCause, InventoryCauseKind, InventoryLevel, InventoryLevelUpdate};

use crate::events::Effects;

/// The most units one write may move, and the largest level a set may write.
pub const QUANTITY_MAX: i64 = 1_000_000_000;

/// The counts of one level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Level {
    /// Sellable now; may be negative when overselling is allowed.
    pub available: i64,
    /// Held for unfulfilled orders.
    pub committed: i64,
    /// Present but not sellable.
    pub unavailable: i64,
    /// Physically present. Kept on its own (not derived) so that the
    /// invariant `on_hand = available + committed + unavailable` checks every
    /// transition's bookkeeping.
    pub on_hand: i64,
    /// When it last changed; never for a level not yet written.
    pub updated_at: Option<DateTime<Utc>>,
}

impl Level {
    /// True when `on_hand = available + committed + unavailable`.
    pub fn balanced(&self) -> bool {
        self.on_hand == self.available + self.committed + self.unavailable
    }
}

/// One change to a level, in units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Added to `available`.
    pub available: i64,
    /// Added to `committed`.
    pub committed: i64,
    /// Added to `on_hand`.
    pub on_hand: i64,
}

impl Change {
    /// Units added to stock (received, restocked): available and on hand.
    pub fn stock(q: i64) -> Self {
        Change {
            available: q,
            committed: 0,
            on_hand: q,
        }
    }
    /// An order holds units: available → committed.
    pub fn commit(q: i64) -> Self {
        Change {
            available: -q,
            committed: q,
            on_hand: 0,
        }
    }
    /// A commitment is released: committed → available.
    pub fn release(q: i64) -> Self {
        Change {
            available: q,
            committed: -q,
            on_hand: 0,
        }
    }
    /// Committed units leave the building (handed over or written off).
    pub fn remove_committed(q: i64) -> Self {
        Change {
            available: 0,
            committed: -q,
            on_hand: -q,
        }
    }
    fn is_zero(&self) -> bool {
        *self == Change::default()
    }
    fn add(&mut self, other: Change) {
        self.available += other.available;
        self.committed += other.committed;
        self.on_hand += other.on_hand;
    }
}

/// Changes to several levels, in the order they were first named.
#[derive(Clone, Debug, Default)]
pub struct Moves(IndexMap<(String, String), Change>);

impl Moves {
    /// No changes.
    pub fn new() -> Self {
        Moves::default()
    }
    /// Adds `change` to the level of `sku` at `location`.
    pub fn add(&mut self, sku: &str, location: &str, change: Change) {
        self.0
            .entry((sku.to_owned(), location.to_owned()))
            .or_default()
            .add(change);
    }
}

/// Every written level, by (SKU, location).
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    levels: BTreeMap<(String, String), Level>,
}

impl Inventory {
    /// The level of `sku` at `location` (zeros if never written).
    pub fn get(&self, sku: &str, location: &str) -> Level {
        self.levels
            .get(&(sku.to_owned(), location.to_owned()))
            .copied()
            .unwrap_or_default()
    }

    /// The wire view of a level; a level never written shows `since` (its
    /// product's creation) as `updated_at`.
    pub fn view(&self, sku: &str, location: &str, since: DateTime<Utc>) -> InventoryLevel {
        let l = self.get(sku, location);
        InventoryLevel {
            sku: sku.to_owned(),
            location: location.to_owned(),
            available: l.available,
            committed: l.committed,
            on_hand: l.on_hand,
            unavailable: l.unavailable,
            updated_at: l.updated_at.unwrap_or(since),
        }
    }

    /// Applies `moves` and emits one `inventory_levels/update` per level that
    /// changed, with `kind` and `reference` as its cause. Returns the levels
    /// after the change, in the order of `moves`.
    pub fn apply(
        &mut self,
        fx: &mut Effects,
        moves: Moves,
        kind: InventoryCauseKind,
        reference: Option<&str>,
    ) -> Vec<InventoryLevel> {
        let now = fx.now();
        let mut out = Vec::new();
        for ((sku, location), change) in moves.0 {
            if change.is_zero() {
                continue;
            }
            let level = self
                .levels
                .entry((sku.clone(), location.clone()))
                .or_default();
            level.available += change.available;
            level.committed += change.committed;
            level.on_hand += change.on_hand;
            level.updated_at = Some(now);
            debug_assert!(
                level.balanced(),
                "on_hand != available + committed + unavailable for {sku} at {location}: {level:?}"
            );
            let view = InventoryLevel {
                sku,
                location,
                available: level.available,
                committed: level.committed,
                on_hand: level.on_hand,
                unavailable: level.unavailable,
                updated_at: now,
            };
            fx.emit(
                "inventory_levels/update",
                &InventoryLevelUpdate {
                    level: view.clone(),
                    cause: InventoryCause {
                        kind,
                        reference: reference.map(str::to_owned),
                        delta: change.available,
                    },
                },
            );
            out.push(view);
        }
        out
    }

    /// Every written level.
    pub fn iter(&self) -> impl Iterator<Item = (&(String, String), &Level)> {
        self.levels.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn moves_merge_per_level_and_emit_once_each() {
        let mut inv = Inventory::default();
        let mut fx = Effects::new(at());
        let mut m = Moves::new();
        m.add("A", "web", Change::stock(5));
        m.add("B", "web", Change::stock(1));
        m.add("A", "web", Change::commit(2));
        let out = inv.apply(&mut fx, m, InventoryCauseKind::Adjust, Some("r1"));
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].available, out[0].committed, out[0].on_hand),
            (3, 2, 5)
        );
        let events = fx.take();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].data["cause"]["delta"], 3);
        assert_eq!(events[0].data["cause"]["reference"], "r1");
        assert_eq!(events[0].data["cause"]["kind"], "adjust");
        assert_eq!(events[0].data["sku"], "A");
    }

    #[test]
    fn unchanged_levels_emit_nothing() {
        let mut inv = Inventory::default();
        let mut fx = Effects::new(at());
        let mut m = Moves::new();
        m.add("A", "web", Change::commit(2));
        m.add("A", "web", Change::release(2));
        assert!(
            inv.apply(&mut fx, m, InventoryCauseKind::Cancel, None)
                .is_empty()
        );
        assert!(fx.take().is_empty());
        assert_eq!(inv.get("A", "web"), Level::default());
    }

    #[test]
    fn handing_over_committed_units_lowers_on_hand() {
        let mut inv = Inventory::default();
        let mut fx = Effects::new(at());
        let mut m = Moves::new();
        m.add("A", "web", Change::stock(4));
        m.add("A", "web", Change::commit(3));
        m.add("A", "web", Change::remove_committed(2));
        let out = inv.apply(&mut fx, m, InventoryCauseKind::Fulfillment, None);
        assert_eq!(
            (out[0].available, out[0].committed, out[0].on_hand),
            (1, 1, 2)
        );
        assert!(inv.get("A", "web").balanced());
    }
}
