//! The truth of a run, computed from the actors' completed operations and the
//! scripted physical events only; never read from any system's state.
//!
//! - Physical stock P(sku, location) = initial stock + receipts − units handed
//!   to customers + restocked returns − waste (a count re-anchors it: the
//!   count is what is on the shelf, and the units the POS held apart for
//!   pickups at that moment are there too).
//! - Claims C(sku, location) = units of accepted web orders not yet handed over
//!   or cancelled, at their fulfilling location. An order may be cancelled by
//!   an actor or by the connector (a failed transfer, an expired
//!   authorization): the shop's `orders/cancelled` event is the fact that the
//!   customer will not get the goods, so it ends the claim at its time.
//! - Oversell: an accepted sale or order after which P − C < 0 at the location
//!   that must fill it. When a store sale takes a unit an online order had
//!   claimed, the order is the victim and the sale the trigger.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::history::{Entry, OpType};
use crate::validate::Loaded;

/// One oversold unit (or several, sold by one operation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Oversell {
    /// The SKU.
    pub sku: String,
    /// Where it had to be filled.
    pub location: String,
    /// Units oversold by this operation.
    pub units: i64,
    /// When.
    pub time: DateTime<Utc>,
    /// The history index of the operation that oversold.
    pub trigger_op: u64,
    /// What it was (`sale sale_000003`, `checkout ord_000002`).
    pub trigger: String,
    /// The web order that can no longer be filled, if a store sale took its unit.
    pub victim: Option<String>,
    /// True stock at that moment (P − C before the operation).
    pub true_available_before: i64,
}

/// An open claim of a web order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Claim {
    /// The fulfilling location.
    pub location: String,
    /// Units still to hand over, per SKU.
    pub lines: BTreeMap<String, i64>,
    /// When the order was accepted.
    pub at: Option<DateTime<Utc>>,
}

/// The truth at the end of a run, and every oversell along the way.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Truth {
    /// Physical stock by (sku, location).
    pub physical: BTreeMap<(String, String), i64>,
    /// Open claims by order id (`compute` keeps them and their sums in step).
    pub claims: BTreeMap<String, Claim>,
    /// Every oversell, in time order.
    pub oversells: Vec<Oversell>,
    /// The sum of open claims by (sku, location), kept with `claims`: a
    /// flash sale has thousands open, and each order asks the sum.
    #[serde(skip)]
    claimed_at: BTreeMap<(String, String), i64>,
}

impl Truth {
    /// Units claimed at a location for a SKU.
    pub fn claimed(&self, sku: &str, location: &str) -> i64 {
        self.claimed_at
            .get(&(sku.to_owned(), location.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    fn count_claimed(&mut self, sku: &str, location: &str, delta: i64) {
        let key = (sku.to_owned(), location.to_owned());
        let n = self.claimed_at.get(&key).copied().unwrap_or(0) + delta;
        if n == 0 {
            self.claimed_at.remove(&key);
        } else {
            self.claimed_at.insert(key, n);
        }
    }

    /// Opens (or replaces) the claim of web order `id`.
    fn open_claim(&mut self, id: &str, claim: Claim) {
        self.close_claim(id);
        for (sku, q) in &claim.lines {
            self.count_claimed(sku, &claim.location, *q);
        }
        self.claims.insert(id.to_owned(), claim);
    }

    /// Closes the claim of `order` (cancelled), if open.
    fn close_claim(&mut self, order: &str) {
        if let Some(c) = self.claims.remove(order) {
            for (sku, q) in &c.lines {
                self.count_claimed(sku, &c.location, -q);
            }
        }
    }

    /// P − C.
    pub fn available(&self, sku: &str, location: &str) -> i64 {
        self.physical
            .get(&(sku.to_owned(), location.to_owned()))
            .copied()
            .unwrap_or(0)
            - self.claimed(sku, location)
    }

    fn take(&mut self, sku: &str, location: &str, q: i64) {
        *self
            .physical
            .entry((sku.to_owned(), location.to_owned()))
            .or_insert(0) -= q;
    }

    fn give(&mut self, sku: &str, location: &str, q: i64) {
        *self
            .physical
            .entry((sku.to_owned(), location.to_owned()))
            .or_insert(0) += q;
    }

    fn release(&mut self, order: &str, sku: &str, q: i64) {
        let mut released = None;
        if let Some(c) = self.claims.get_mut(order) {
            if let Some(n) = c.lines.get_mut(sku) {
                let was = *n;
                *n = (*n - q).max(0);
                released = Some((c.location.clone(), was - *n));
            }
            c.lines.retain(|_, n| *n > 0);
            if c.lines.is_empty() {
                self.claims.remove(order);
            }
        }
        if let Some((location, units)) = released {
            self.count_claimed(sku, &location, -units);
        }
    }

    fn remaining(&self, order: &str) -> (String, BTreeMap<String, i64>) {
        self.claims
            .get(order)
            .map(|c| (c.location.clone(), c.lines.clone()))
            .unwrap_or_default()
    }
}

fn s(v: &serde_json::Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_owned()
}

fn lines(v: &serde_json::Value) -> Vec<(String, i64)> {
    v["lines"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .map(|l| (s(l, "sku"), l["quantity"].as_i64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

/// Computes the truth from the scenario's initial stock and the history's
/// completed operations, in the order they took effect: completion order,
/// except that an operation whose answer was lost took effect when the
/// platform recorded it, which may be before operations answered meanwhile.
pub fn compute(loaded: &Loaded, history: &[Entry]) -> Truth {
    let mut t = Truth::default();
    for item in &loaded.scenario.merchant.catalog {
        for (loc, q) in &item.stock {
            t.give(item.sku.get_ref(), loc, *q);
        }
    }
    // Orders cancelled on the shop, by whoever did it, in time order.
    let mut cancellations: Vec<(DateTime<Utc>, String)> = history
        .iter()
        .filter_map(|e| match e {
            Entry::Event {
                platform, event, ..
            } if platform == "shop" && event.kind == "orders/cancelled" => {
                Some((e.true_time(), s(&event.data, "id")))
            }
            _ => None,
        })
        .collect();
    cancellations.sort();
    let mut next_cancellation = 0;
    let resolved = resolve_unknown(loaded, history);
    // Each operation that took effect, with when it did. Stable: those
    // answered keep their completion order.
    let mut done: Vec<(DateTime<Utc>, &Entry, &serde_json::Value)> = history
        .iter()
        .filter_map(|e| match e {
            Entry::Op {
                kind: OpType::Ok,
                time,
                value,
                ..
            } => Some((*time, e, value)),
            Entry::Op {
                kind: OpType::Info,
                index,
                ..
            } => resolved.get(index).map(|(at, v)| (*at, e, v)),
            _ => None,
        })
        .collect();
    done.sort_by_key(|(at, ..)| *at);
    for (at, e, value) in done {
        let time = &at;
        while let Some((c, order)) = cancellations.get(next_cancellation)
            && c <= time
        {
            t.close_claim(order);
            next_cancellation += 1;
        }
        let Entry::Op {
            index, f, process, ..
        } = e
        else {
            continue;
        };
        let actor = process.split(':').next().unwrap_or_default();
        match (actor, f.as_str()) {
            ("shop", "checkout") => {
                let location = value["pickup_location"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| s(value, "location"));
                let id = s(value, "id");
                let mut claim = Claim {
                    location: location.clone(),
                    lines: BTreeMap::new(),
                    at: Some(*time),
                };
                for (sku, q) in lines(value) {
                    *claim.lines.entry(sku).or_insert(0) += q;
                }
                let before: BTreeMap<String, i64> = claim
                    .lines
                    .keys()
                    .map(|k| (k.clone(), t.available(k, &location)))
                    .collect();
                t.open_claim(&id, claim.clone());
                for (sku, q) in &claim.lines {
                    let was = before[sku];
                    let now = was - q;
                    let units = (-now).min(*q).max(0);
                    if units > 0 {
                        t.oversells.push(Oversell {
                            sku: sku.clone(),
                            location: location.clone(),
                            units,
                            time: *time,
                            trigger_op: *index,
                            trigger: format!("web order {id}"),
                            victim: Some(id.clone()),
                            true_available_before: was,
                        });
                    }
                }
            }
            ("pos", "sale") => {
                let location = s(value, "location");
                let id = s(value, "id");
                for (sku, q) in lines(value) {
                    let was = t.available(&sku, &location);
                    t.take(&sku, &location, q);
                    let units = (q - was.max(0)).min(q).max(0);
                    if units > 0 {
                        // The oldest open web order claiming this SKU here loses its unit.
                        let victim = t
                            .claims
                            .iter()
                            .filter(|(_, c)| c.location == location && c.lines.contains_key(&sku))
                            .min_by_key(|(_, c)| c.at)
                            .map(|(id, _)| id.clone());
                        t.oversells.push(Oversell {
                            sku: sku.clone(),
                            location: location.clone(),
                            units,
                            time: *time,
                            trigger_op: *index,
                            trigger: format!("store sale {id}"),
                            victim,
                            true_available_before: was,
                        });
                    }
                }
            }
            ("pos", "pickup") => {
                let order = s(value, "order_ref");
                let (location, remaining) = t.remaining(&order);
                for (sku, q) in remaining {
                    t.take(&sku, &location, q);
                    t.release(&order, &sku, q);
                }
            }
            ("staff", "fulfil") => {
                let order = s(value, "id");
                let (location, remaining) = t.remaining(&order);
                for (sku, q) in remaining {
                    t.take(&sku, &location, q);
                    t.release(&order, &sku, q);
                }
            }
            ("shop" | "staff", "cancel") => {
                let order = s(value, "id");
                t.close_claim(&order);
            }
            ("staff", "refund") => {
                let order = s(value, "order_id");
                for l in value["lines"].as_array().cloned().unwrap_or_default() {
                    let sku = s(&l, "sku");
                    let q = l["quantity"].as_i64().unwrap_or(0);
                    match l["restock_type"].as_str() {
                        Some("return") => {
                            let loc = l["location"]
                                .as_str()
                                .map(str::to_owned)
                                .unwrap_or_default();
                            t.give(&sku, &loc, q);
                        }
                        _ => t.release(&order, &sku, q),
                    }
                }
            }
            ("pos", "return") if value["restock"].as_bool() == Some(true) => {
                let location = s(value, "location");
                for (sku, q) in lines(value) {
                    t.give(&sku, &location, q);
                }
            }
            ("pos", "receive") | ("staff", "adjust") => {
                let (sku, loc, q) = step_stock(loaded, e);
                t.give(&sku, &loc, q);
            }
            ("pos", "waste") => {
                let (sku, loc, q) = step_stock(loaded, e);
                t.take(&sku, &loc, q);
            }
            ("pos", "count") => {
                // A count is of the shelf (IN_STOCK): the units the store
                // had set aside for pickups at that moment are there too,
                // apart, and the POS's answer says how many. An order the
                // POS was never told of is still on the shelf, so counted.
                // (A count whose answer was lost resolves to its event,
                // which does not say: then none are taken as set aside.)
                let (sku, loc, q) = step_stock(loaded, e);
                let apart = value["counts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["sku"] == sku.as_str() && c["location"] == loc.as_str())
                    .and_then(|c| c["reserved_for_sale"].as_i64())
                    .unwrap_or(0);
                t.physical.insert((sku, loc), q + apart);
            }
            _ => {}
        }
    }
    for (_, order) in &cancellations[next_cancellation..] {
        t.close_claim(order);
    }
    t
}

/// Operations whose outcome the actor never learned (`info`: the request
/// timed out), resolved from what the platforms recorded, as a Jepsen checker
/// resolves indeterminate operations: an order, sale, return, pickup,
/// fulfilment or staff refund that the platform's event log shows was applied
/// counts as done, with the platform's record as its value; so does a stock
/// write (receive, waste, count, adjust) whose change the platform logged
/// under the step's reference. Keyed by history index: when the platform
/// recorded it, and its record.
pub fn resolve_unknown(
    loaded: &Loaded,
    history: &[Entry],
) -> BTreeMap<u64, (DateTime<Utc>, serde_json::Value)> {
    let mut out = BTreeMap::new();
    let events: Vec<(&str, &omnisim_api::Event, DateTime<Utc>)> = history
        .iter()
        .filter_map(|e| match e {
            Entry::Event {
                platform, event, ..
            } => Some((platform.as_str(), event, e.true_time())),
            _ => None,
        })
        .collect();
    if !history.iter().any(|e| {
        matches!(
            e,
            Entry::Op {
                kind: OpType::Info,
                ..
            }
        )
    }) {
        return out;
    }
    // Ids the actors saw, and which name (customer or step name) each order has.
    let mut used: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut orders: BTreeMap<String, String> = BTreeMap::new();
    let step_of = |i: usize| loaded.scenario.steps.get(i);
    let name_of =
        |i: usize| step_of(i).and_then(|st| st.name.clone().or_else(|| st.customer.clone()));
    for e in history {
        if let Entry::Op {
            kind: OpType::Ok,
            value,
            step,
            f,
            ..
        } = e
        {
            let id = s(value, "id");
            if !id.is_empty() {
                used.insert(id.clone());
                if f == "checkout"
                    && let Some(n) = name_of(*step)
                {
                    orders.insert(n, id);
                }
            }
        }
    }
    let same_lines = |data: &serde_json::Value, i: usize| {
        let want: BTreeMap<String, i64> = step_of(i)
            .and_then(|st| st.lines.as_ref())
            .map(|l| l.get_ref().clone())
            .unwrap_or_default();
        let mut got: BTreeMap<String, i64> = BTreeMap::new();
        for (sku, q) in lines(data) {
            *got.entry(sku).or_insert(0) += q;
        }
        got == want
    };
    for e in history {
        let Entry::Op {
            index,
            kind: OpType::Info,
            step,
            f,
            process,
            ..
        } = e
        else {
            continue;
        };
        let Some(st) = step_of(*step) else { continue };
        let actor = process.split(':').next().unwrap_or_default();
        let location = st.location.as_ref().map(|l| l.get_ref().clone());
        let order = st
            .order
            .as_ref()
            .and_then(|o| orders.get(o.get_ref()).cloned());
        let found = events.iter().find(|(platform, ev, _)| {
            let d = &ev.data;
            let id = s(d, "id");
            match (actor, f.as_str()) {
                ("shop", "checkout") => {
                    *platform == "shop"
                        && ev.kind == "orders/create"
                        && !used.contains(&id)
                        && st.customer.is_some()
                        && d["customer"].as_str() == st.customer.as_deref()
                }
                ("pos", "sale") => {
                    *platform == "pos"
                        && ev.kind == "sale.created"
                        && !used.contains(&id)
                        && d["location"].as_str() == location.as_deref()
                        && same_lines(d, *step)
                }
                ("pos", "return") => {
                    *platform == "pos"
                        && ev.kind == "return.created"
                        && !used.contains(&id)
                        && d["location"].as_str() == location.as_deref()
                        && same_lines(d, *step)
                }
                ("pos", "pickup") => {
                    *platform == "pos"
                        && ev.kind == "pickup.completed"
                        && order.is_some()
                        && d["order_ref"].as_str() == order.as_deref()
                }
                ("staff", "fulfil") => {
                    *platform == "shop"
                        && ev.kind == "orders/fulfilled"
                        && order.is_some()
                        && id.as_str() == order.as_deref().unwrap_or_default()
                }
                // A refund the staff made whose answer was lost (the shop
                // was still waiting on the gateway): the shop's record of a
                // refund of that order with those lines, not the connector's.
                ("staff", "refund") => {
                    *platform == "shop"
                        && ev.kind == "refunds/create"
                        && !used.contains(&id)
                        && !ev.actor.is_connector()
                        && order.is_some()
                        && d["order_id"].as_str() == order.as_deref()
                        && same_lines(d, *step)
                }
                // The harness's own stock writes name their step in
                // `reference` (the runner sets it to the step's idempotency
                // key); only the actors' own changes can be theirs.
                ("pos", "receive" | "waste" | "count") => {
                    *platform == "pos"
                        && ev.kind == "inventory.count.updated"
                        && !ev.actor.is_connector()
                        && d["cause"]["reference"].as_str() == Some(&format!("step-{step}"))
                }
                ("staff", "adjust") => {
                    *platform == "shop"
                        && ev.kind == "inventory_levels/update"
                        && !ev.actor.is_connector()
                        && d["cause"]["reference"].as_str() == Some(&format!("step-{step}"))
                }
                _ => false,
            }
        });
        if let Some((_, ev, at)) = found {
            let id = s(&ev.data, "id");
            if !id.is_empty() {
                used.insert(id.clone());
                if f == "checkout"
                    && let Some(n) = name_of(*step)
                {
                    orders.insert(n, id);
                }
            }
            out.insert(*index, (*at, ev.data.clone()));
        }
    }
    out
}

fn step_stock(loaded: &Loaded, e: &Entry) -> (String, String, i64) {
    let Entry::Op { step, .. } = e else {
        return Default::default();
    };
    let st = &loaded.scenario.steps[*step];
    (
        st.sku
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_default(),
        st.location
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_default(),
        st.quantity.as_ref().map_or(0, |q| *q.get_ref()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const SCENARIO: &str = r#"
name = "t"
[merchant]
locations = [{ id = "store-1", kind = "store" }]
[[merchant.catalog]]
sku = "MUG"
title = "Mug"
price = "10.00"
stock = { "store-1" = 1 }
[[step]]
at = "10:00"
actor = "shop"
action = "checkout"
customer = "ana"
lines = { MUG = 1 }
pickup_location = "store-1"
[[step]]
at = "11:30"
actor = "pos"
action = "sale"
location = "store-1"
lines = { MUG = 1 }
"#;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 3, 2)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .expect("a valid time")
            .and_utc()
    }

    fn op(
        index: u64,
        time: DateTime<Utc>,
        step: usize,
        process: &str,
        f: &str,
        value: serde_json::Value,
    ) -> Entry {
        Entry::Op {
            index,
            time,
            step,
            process: process.into(),
            kind: OpType::Ok,
            f: f.into(),
            value,
        }
    }

    fn history(cancelled_at: Option<DateTime<Utc>>) -> Vec<Entry> {
        let mut h = vec![
            op(
                0,
                at(10, 0),
                0,
                "shop:ana",
                "checkout",
                serde_json::json!({
                    "id": "ord_1", "pickup_location": "store-1", "location": "store-1",
                    "lines": [{ "sku": "MUG", "quantity": 1 }]
                }),
            ),
            op(
                1,
                at(11, 30),
                1,
                "pos:store-1",
                "sale",
                serde_json::json!({
                    "id": "sale_1", "location": "store-1",
                    "lines": [{ "sku": "MUG", "quantity": 1 }]
                }),
            ),
        ];
        if let Some(when) = cancelled_at {
            h.push(Entry::Event {
                index: 2,
                platform: "shop".into(),
                event: omnisim_api::Event {
                    id: "evt_1".into(),
                    seq: 1,
                    kind: "orders/cancelled".into(),
                    occurred_at: when,
                    actor: omnisim_api::Actor::system(),
                    data: serde_json::json!({ "id": "ord_1" }),
                },
                skew_ms: None,
            });
        }
        h
    }

    #[test]
    fn an_order_the_connector_cancelled_no_longer_claims_its_unit() {
        let loaded = crate::validate::load_str(Path::new("t.toml"), SCENARIO).expect("loads");
        // Cancelled (a failed bank transfer) at 11:00: the 11:30 sale is fine.
        let t = compute(&loaded, &history(Some(at(11, 0))));
        assert!(t.oversells.is_empty(), "{:?}", t.oversells);
        assert!(t.claims.is_empty());
        assert_eq!(t.available("MUG", "store-1"), 0);
        // Cancelled only after the sale: the sale took the order's unit.
        let t = compute(&loaded, &history(Some(at(12, 0))));
        assert_eq!(t.oversells.len(), 1);
        assert!(t.claims.is_empty());
        // Never cancelled: oversold, and the claim is still open.
        let t = compute(&loaded, &history(None));
        assert_eq!(t.oversells.len(), 1);
        assert_eq!(t.available("MUG", "store-1"), -1);
    }
}
