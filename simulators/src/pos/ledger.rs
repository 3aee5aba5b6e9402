//! The IN_STOCK count of one SKU at one location, ordered as Square orders it:
//! the latest `PHYSICAL_COUNT` by `occurred_at`, plus the adjustments that
//! happened after it, whatever order they arrived in (ties by arrival).
//!
//! [`Ledger`] keeps this bounded. It holds the base (the latest count and its
//! time) and the changes after it, sorted by `(occurred_at, arrival)`:
//! - a change older than the base has no effect (it is acknowledged with a
//!   delta of 0);
//! - a newer count becomes the base and drops every change before it;
//! - changes older than the count horizon ([`COUNT_WINDOW_HOURS`] before now)
//!   are folded into the base quantity: a count can never be stamped before
//!   them any more, so they can never be dropped, and only their sum matters.
//!   The base keeps its own time, so a late change between the base and them
//!   still applies.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

/// How old a physical count may be when it arrives (PLATFORMS.md: 24 h).
pub const COUNT_WINDOW_HOURS: i64 = 24;

/// One change kept after the base.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LedgerChange {
    /// When it happened on the floor.
    pub occurred_at: DateTime<Utc>,
    /// Arrival order, breaking ties between equal times.
    pub seq: u64,
    /// Its effect on IN_STOCK.
    pub delta: i64,
}

/// The IN_STOCK ledger of one SKU at one location.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Ledger {
    /// The latest count (0 before any), plus the folded changes.
    base_quantity: i64,
    /// The latest count's `occurred_at`; none before the first count.
    base_at: Option<DateTime<Utc>>,
    /// The latest `occurred_at` folded into `base_quantity`.
    folded_at: Option<DateTime<Utc>>,
    /// Changes after the base, sorted by `(occurred_at, seq)`.
    changes: Vec<LedgerChange>,
    /// The sum of `changes`' deltas.
    changes_sum: i64,
}

impl Ledger {
    /// The IN_STOCK units now.
    pub fn quantity(&self) -> i64 {
        self.base_quantity.saturating_add(self.changes_sum)
    }

    /// The `occurred_at` of the latest change that shaped the count; none if
    /// nothing ever did.
    pub fn calculated_at(&self) -> Option<DateTime<Utc>> {
        [
            self.base_at,
            self.folded_at,
            self.changes.last().map(|c| c.occurred_at),
        ]
        .into_iter()
        .flatten()
        .max()
    }

    /// True when a change stamped `at`, arriving now, lands after the base and
    /// so moves the count. A tie with the base lands after it (ties by arrival).
    pub fn applies(&self, at: DateTime<Utc>) -> bool {
        self.base_at.is_none_or(|base| at >= base)
    }

    /// The changes kept after the base.
    #[cfg(test)]
    pub fn changes(&self) -> &[LedgerChange] {
        &self.changes
    }

    /// Records an adjustment of `delta` IN_STOCK units stamped `at`, the
    /// `seq`-th arrival; returns how much the count moved.
    pub fn adjust(&mut self, at: DateTime<Utc>, seq: u64, delta: i64) -> i64 {
        if !self.applies(at) {
            return 0;
        }
        if delta != 0 {
            let pos = self
                .changes
                .partition_point(|c| (c.occurred_at, c.seq) <= (at, seq));
            self.changes.insert(
                pos,
                LedgerChange {
                    occurred_at: at,
                    seq,
                    delta,
                },
            );
            self.changes_sum = self.changes_sum.saturating_add(delta);
        }
        self.debug_check();
        delta
    }

    /// Records a physical count of `quantity` stamped `at`, arriving now;
    /// returns how much the count moved.
    pub fn count(&mut self, at: DateTime<Utc>, quantity: i64) -> i64 {
        if !self.applies(at) {
            return 0;
        }
        let before = self.quantity();
        // Everything kept arrived earlier, so a tie in time sorts before this count.
        let keep_from = self.changes.partition_point(|c| c.occurred_at <= at);
        self.changes.drain(..keep_from);
        self.changes_sum = self
            .changes
            .iter()
            .fold(0i64, |sum, c| sum.saturating_add(c.delta));
        self.base_quantity = quantity;
        self.base_at = Some(at);
        self.folded_at = None;
        self.debug_check();
        self.quantity().saturating_sub(before)
    }

    /// Folds the changes stamped before `now - COUNT_WINDOW_HOURS` into the
    /// base: no count accepted from now on can be stamped before them.
    pub fn fold(&mut self, now: DateTime<Utc>) {
        let horizon = now - TimeDelta::hours(COUNT_WINDOW_HOURS);
        let n = self.changes.partition_point(|c| c.occurred_at < horizon);
        if n == 0 {
            return;
        }
        let before = self.quantity();
        for c in self.changes.drain(..n) {
            self.base_quantity = self.base_quantity.saturating_add(c.delta);
            self.changes_sum = self.changes_sum.saturating_sub(c.delta);
            self.folded_at = self.folded_at.max(Some(c.occurred_at));
        }
        debug_assert_eq!(before, self.quantity(), "folding keeps the count");
        self.debug_check();
    }

    fn debug_check(&self) {
        debug_assert!(
            self.changes
                .windows(2)
                .all(|w| (w[0].occurred_at, w[0].seq) < (w[1].occurred_at, w[1].seq)),
            "changes are sorted"
        );
        debug_assert!(
            self.changes.iter().all(|c| self.applies(c.occurred_at)),
            "kept changes are not older than the base"
        );
        debug_assert_eq!(
            self.changes_sum,
            self.changes
                .iter()
                .fold(0i64, |s, c| s.saturating_add(c.delta))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(hhmm: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-03-02T{hhmm}:00Z"))
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn platforms_worked_example() {
        let mut l = Ledger::default();
        assert_eq!(l.count(at("13:00"), 100), 100);
        assert_eq!(l.quantity(), 100);
        assert_eq!(l.adjust(at("13:10"), 2, -3), -3);
        assert_eq!(l.quantity(), 97);
        assert_eq!(l.count(at("13:30"), 90), -7);
        assert_eq!(l.quantity(), 90);
        // The offline sale stamped 13:20 arrives at 13:35: before the count.
        assert_eq!(l.adjust(at("13:20"), 4, -1), 0);
        assert_eq!(l.quantity(), 90);
        assert_eq!(l.adjust(at("13:40"), 5, -2), -2);
        assert_eq!(l.quantity(), 88);
        assert_eq!(l.calculated_at(), Some(at("13:40")));
    }

    #[test]
    fn a_count_keeps_later_changes_and_ties_go_by_arrival() {
        let mut l = Ledger::default();
        l.adjust(at("10:00"), 1, 5);
        l.adjust(at("12:00"), 2, -2);
        // A count stamped between them drops the first and keeps the second.
        assert_eq!(l.count(at("11:00"), 10), 5);
        assert_eq!(l.quantity(), 8);
        assert_eq!(l.changes().len(), 1);
        // A count tied with a kept change arrives after it, so drops it.
        assert_eq!(l.count(at("12:00"), 20), 12);
        assert_eq!(l.quantity(), 20);
        assert!(l.changes().is_empty());
        // An adjustment tied with the count arrives after it, so applies.
        assert_eq!(l.adjust(at("12:00"), 5, -1), -1);
        assert_eq!(l.quantity(), 19);
        // An older count has no effect.
        assert_eq!(l.count(at("11:59"), 0), 0);
        assert_eq!(l.quantity(), 19);
    }

    #[test]
    fn folding_keeps_the_count_and_the_base_time() {
        let mut l = Ledger::default();
        l.count(at("08:00"), 10);
        l.adjust(at("09:00"), 2, -1);
        l.adjust(at("10:00"), 3, -1);
        // A day and a half later, both are folded; the base stays at 08:00.
        let later = at("10:00") + TimeDelta::hours(36);
        l.fold(later);
        assert!(l.changes().is_empty());
        assert_eq!(l.quantity(), 8);
        assert_eq!(l.calculated_at(), Some(at("10:00")));
        // A late change stamped after the base still applies.
        assert_eq!(l.adjust(at("08:30"), 4, -1), -1);
        assert_eq!(l.quantity(), 7);
        // One stamped before the base does not.
        assert_eq!(l.adjust(at("07:59"), 5, -1), 0);
        // A new count replaces everything, folded or not.
        assert_eq!(l.count(later - TimeDelta::hours(1), 3), -4);
        assert_eq!(l.quantity(), 3);
    }

    /// The reference model: sort every change by (time, arrival) and replay.
    fn replay(changes: &[(i64, bool, i64)]) -> i64 {
        let mut sorted: Vec<_> = changes.to_vec();
        sorted.sort_by_key(|c| c.0);
        sorted
            .iter()
            .fold(0, |q, &(_, is_count, v)| if is_count { v } else { q + v })
    }

    fn changes() -> impl Strategy<Value = Vec<(i64, bool, i64)>> {
        // Distinct minutes, so that arrival order never breaks a tie.
        proptest::collection::btree_set(0i64..1440, 1..24).prop_flat_map(|minutes| {
            let n = minutes.len();
            (
                Just(minutes.into_iter().collect::<Vec<_>>()),
                proptest::collection::vec((any::<bool>(), -50i64..50), n),
            )
                .prop_map(|(ms, kinds)| {
                    ms.into_iter()
                        .zip(kinds)
                        .map(|(m, (is_count, v))| (m, is_count, if is_count { v.abs() } else { v }))
                        .collect::<Vec<_>>()
                })
        })
    }

    proptest! {
        #[test]
        fn arrival_order_does_not_matter(
            (set, order) in changes().prop_flat_map(|set| {
                let n = set.len();
                (Just(set), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
            })
        ) {
            let t0 = at("00:00");
            let mut l = Ledger::default();
            for (seq, &i) in order.iter().enumerate() {
                let (m, is_count, v) = set[i];
                let stamp = t0 + TimeDelta::minutes(m);
                if is_count {
                    l.count(stamp, v);
                } else {
                    l.adjust(stamp, seq as u64, v);
                }
                // Folding within the count window changes nothing.
                l.fold(t0 + TimeDelta::hours(24));
            }
            prop_assert_eq!(l.quantity(), replay(&set));
            let latest = set.iter().map(|c| c.0).max().unwrap();
            // A zero adjustment shapes nothing, so there may be no time at all.
            if let Some(shaped) = l.calculated_at() {
                prop_assert!(shaped <= t0 + TimeDelta::minutes(latest));
            }
        }
    }
}
