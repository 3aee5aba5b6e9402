//! How stock changes travel between the channels, judged from the
//! platforms' own records only: which credential made each change (the
//! event's `actor`) and how much it moved the channel's view (`cause.delta`:
//! the shop's `available`, the register's IN_STOCK count). No `reference`
//! format and no habit of any connector is read.
//!
//! For each SKU listed on both channels and each store (a location both
//! have), and each direction (POS → shop, shop → POS):
//!
//! - **Origin changes** are the source channel's changes made by anyone but
//!   the connector: sales, returns, counts, receipts, web orders,
//!   cancellations, refunds with restock, admin adjustments, timers.
//!   `owed(t)` is their running sum.
//! - **Mirror writes** are the connector's inventory writes on the target
//!   (shop adjust and set; POS counts, adjustments and pickups that set
//!   units aside or release them). `paid(t)` is the running sum of their
//!   effect, whatever their form: one delta per change, one absolute number
//!   for several, or a compare-and-set.
//! - A change the connector makes as business of its own (an order it
//!   cancels, a refund it makes) first counts toward what that channel still
//!   owes from the other one, in the same direction and up to that amount;
//!   the rest is an origin change of the connector's, owed to the other
//!   channel like anybody's.
//!
//! An origin change made at `t_i` has **reached** the target at the first
//! moment `t ≥ t_i` at which `paid(t) = owed(t′)` for some `t′` with
//! `t_i ≤ t′ ≤ t`: the target then shows the source as it was at or after
//! the change. The connector has **moved the target by more than the
//! changes** (a delivery applied twice) when `paid` goes past what the
//! source's changes so far add up to in their own direction (below the sum
//! of the decreases, or above the sum of the increases), or when, after
//! every change has reached the target, `paid` ends the run away from
//! `owed` by an amount the changes could have repeated (of the sign and at
//! most the size of the changes in that direction). A move against the
//! changes (an absolute write over the target's own change) is a lost
//! update: the change it erased never reaches the other channel, and the
//! levels end wrong.
//!
//! Changes before the scenario's first operation (the merchant's setup, and
//! a connector's alignment at start) are not judged; neither is a run with
//! no operation at all. Events are put in
//! the order they were committed in simulated time: a platform clock skewed
//! by a `clock_skew_ms` fault misstamps its events, and the history records
//! by how much ([`Entry::true_time`]). Latencies are measured in simulated
//! time too: the merchant waits by the wall clock, whatever a platform's
//! clock says.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Utc};

use super::Input;
use crate::history::Entry;
use crate::scenario::LocationKindSpec;

/// A channel of a store's stock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Channel {
    /// The register's IN_STOCK count.
    Pos,
    /// The shop's `available`.
    Shop,
}

impl Channel {
    fn other(self) -> Channel {
        match self {
            Channel::Pos => Channel::Shop,
            Channel::Shop => Channel::Pos,
        }
    }

    /// `POS` or `shop`.
    pub(super) fn name(self) -> &'static str {
        match self {
            Channel::Pos => "POS",
            Channel::Shop => "shop",
        }
    }
}

/// A direction of travel: from `Direction.0` to the other channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Direction(pub Channel);

impl Direction {
    /// `POS → shop` or `shop → POS`.
    pub(super) fn label(self) -> String {
        format!("{} → {}", self.0.name(), self.0.other().name())
    }

    /// `pos_to_shop` or `shop_to_pos`, for metrics.
    pub(super) fn key(self) -> &'static str {
        match self.0 {
            Channel::Pos => "pos_to_shop",
            Channel::Shop => "shop_to_pos",
        }
    }

    /// The channel the changes must reach.
    pub(super) fn target(self) -> Channel {
        self.0.other()
    }
}

/// One origin change and when the other channel first reflected it.
#[derive(Clone, Debug)]
pub(super) struct Travel {
    /// Its direction.
    pub direction: Direction,
    /// The SKU.
    pub sku: String,
    /// The store.
    pub location: String,
    /// The cause kind on the source (`sale`, `order`, `adjust`, …).
    pub kind: String,
    /// The units it moved the source by (for the connector's own business,
    /// the part not counted as mirroring).
    pub delta: i64,
    /// True when the connector itself made it (business of its own).
    pub by_connector: bool,
    /// The history index of its event.
    pub index: u64,
    /// When it was committed.
    pub time: DateTime<Utc>,
    /// When the target first reflected it, and the history index of the
    /// event that made it so.
    pub reached: Option<(DateTime<Utc>, u64)>,
}

/// A moment the connector moved a target by more than the changes.
#[derive(Clone, Debug)]
pub(super) struct Overshoot {
    /// The direction whose target moved.
    pub direction: Direction,
    /// The SKU.
    pub sku: String,
    /// The store.
    pub location: String,
    /// The connector's writes on the target added up to this …
    pub paid: i64,
    /// … while the source's own changes added up to this …
    pub owed: i64,
    /// … and those in the direction `paid` went past, to this.
    pub bound: i64,
    /// True when found at the end of the run (after every change had
    /// reached the target), false when `paid` left the possible range.
    pub at_end: bool,
    /// The connector's write that went past (history index, time).
    pub write: (u64, DateTime<Utc>),
    /// The latest origin change before it (history index, time, kind, delta).
    pub change: Option<(u64, DateTime<Utc>, String, i64)>,
}

/// What [`analyse`] finds.
#[derive(Clone, Debug, Default)]
pub(super) struct Propagation {
    /// Every origin change, in time order per pair.
    pub travels: Vec<Travel>,
    /// Every overshoot.
    pub overshoots: Vec<Overshoot>,
    /// How many of the connector's changes counted as mirroring.
    pub writes: usize,
}

/// One stock event of a pair.
struct Move<'a> {
    /// When it was committed, in simulated time.
    time: DateTime<Utc>,
    index: u64,
    channel: Channel,
    connector: bool,
    kind: &'a str,
    delta: i64,
}

/// Kinds that are inventory writes (never business of their own).
fn is_mirror_kind(kind: &str) -> bool {
    matches!(kind, "adjust" | "set" | "count" | "reserve" | "release")
}

#[derive(Default)]
struct Flow {
    owed: i64,
    paid: i64,
    decreases: i64,
    increases: i64,
    /// The latest change number after which `owed` had each value (0 is the
    /// start, before any change).
    last_at: BTreeMap<i64, usize>,
    /// Positions in `travels` of changes not yet reached, oldest first.
    open: VecDeque<(usize, usize)>,
    changes: usize,
    latest: Option<(u64, DateTime<Utc>, String, i64)>,
    out_of_range: bool,
    overshot: bool,
}

impl Flow {
    fn new() -> Self {
        let mut f = Flow::default();
        f.last_at.insert(0, 0);
        f
    }

    fn debt(&self) -> i64 {
        self.owed - self.paid
    }

    /// Marks every open change the target now reflects.
    fn settle(&mut self, travels: &mut [Travel], at: DateTime<Utc>, index: u64) {
        let Some(&j) = self.last_at.get(&self.paid) else {
            return;
        };
        while let Some(&(n, pos)) = self.open.front() {
            if n > j {
                break;
            }
            travels[pos].reached = Some((at, index));
            self.open.pop_front();
        }
    }
}

/// True when the connector's writes went `past` the source's changes by no
/// more than the target's own changes it never passed on (`own_debt`, of
/// the other sign): it wrote the source's level over them. That is a lost
/// update (their change never reaches the source, and `sync_latency` and
/// `stock_converges` say so), not a delivery applied twice.
fn erases(past: i64, own_debt: i64) -> bool {
    past != 0 && own_debt.signum() == -past.signum() && past.abs() <= own_debt.abs()
}

/// Finds every origin change, when it reached the other channel, and every
/// overshoot, over the stores and SKUs both channels list.
pub(super) fn analyse(input: &Input<'_>) -> Propagation {
    let m = &input.loaded.scenario.merchant;
    let skus: BTreeSet<&str> = m
        .catalog
        .iter()
        .filter(|c| c.on_pos && c.on_shop)
        .map(|c| c.sku.get_ref().as_str())
        .collect();
    let stores: BTreeSet<&str> = m
        .locations
        .iter()
        .filter(|l| l.kind == LocationKindSpec::Store)
        .map(|l| l.id.get_ref().as_str())
        .collect();
    // Without a single operation there is nothing but setup to look at.
    let Some(from) = input
        .history
        .iter()
        .filter_map(|e| match e {
            Entry::Op { time, .. } => Some(*time),
            _ => None,
        })
        .min()
    else {
        return Propagation::default();
    };
    let mut pairs: BTreeMap<(&str, &str), Vec<Move<'_>>> = BTreeMap::new();
    for e in input.history {
        let Entry::Event {
            index,
            platform,
            event,
            ..
        } = e
        else {
            continue;
        };
        let channel = match (platform.as_str(), event.kind.as_str()) {
            ("pos", "inventory.count.updated") => Channel::Pos,
            ("shop", "inventory_levels/update") => Channel::Shop,
            _ => continue,
        };
        if e.true_time() < from {
            continue;
        }
        let d = &event.data;
        let delta = d["cause"]["delta"].as_i64().unwrap_or(0);
        let (Some(sku), Some(location)) = (d["sku"].as_str(), d["location"].as_str()) else {
            continue;
        };
        if delta == 0 || !skus.contains(sku) || !stores.contains(location) {
            continue;
        }
        pairs.entry((sku, location)).or_default().push(Move {
            time: e.true_time(),
            index: *index,
            channel,
            connector: event.actor.is_connector(),
            kind: d["cause"]["kind"].as_str().unwrap_or("?"),
            delta,
        });
    }
    let mut out = Propagation::default();
    for ((sku, location), mut moves) in pairs {
        // Time order; at one instant, changes before the writes that answer them.
        moves.sort_by_key(|mv| (mv.time, mv.connector, mv.index));
        let mut flows = [Flow::new(), Flow::new()];
        let slot = |c: Channel| match c {
            Channel::Pos => 0,
            Channel::Shop => 1,
        };
        for mv in &moves {
            let source = slot(mv.channel.other());
            // What the connector's change pays toward the flow into this
            // channel; the rest is an origin change of this channel.
            let (paid, origin) = if !mv.connector {
                (0, mv.delta)
            } else if is_mirror_kind(mv.kind) {
                (mv.delta, 0)
            } else {
                let debt = flows[source].debt();
                if debt != 0 && debt.signum() == mv.delta.signum() {
                    let p = mv.delta.signum() * mv.delta.abs().min(debt.abs());
                    (p, mv.delta - p)
                } else {
                    (0, mv.delta)
                }
            };
            if paid != 0 {
                out.writes += 1;
                // What the target's own changes still owe the source.
                let own_debt = flows[slot(mv.channel)].debt();
                let f = &mut flows[source];
                f.paid += paid;
                // Past the changes in their own direction (a move against
                // them, such as an absolute write over the target's own
                // change, is a lost update, not a double apply).
                let out_of_range = (f.decreases < 0 && f.paid < f.decreases)
                    || (f.increases > 0 && f.paid > f.increases);
                let past = if f.paid < 0 {
                    f.paid - f.decreases
                } else {
                    f.paid - f.increases
                };
                if out_of_range && !f.out_of_range && !erases(past, own_debt) {
                    f.overshot = true;
                    out.overshoots.push(Overshoot {
                        direction: Direction(mv.channel.other()),
                        sku: sku.to_owned(),
                        location: location.to_owned(),
                        paid: f.paid,
                        owed: f.owed,
                        bound: if f.paid < 0 { f.decreases } else { f.increases },
                        at_end: false,
                        write: (mv.index, mv.time),
                        change: f.latest.clone(),
                    });
                }
                f.out_of_range = out_of_range;
                f.settle(&mut out.travels, mv.time, mv.index);
            }
            if origin != 0 {
                let f = &mut flows[slot(mv.channel)];
                f.owed += origin;
                if origin < 0 {
                    f.decreases += origin;
                } else {
                    f.increases += origin;
                }
                f.changes += 1;
                f.last_at.insert(f.owed, f.changes);
                f.latest = Some((mv.index, mv.time, mv.kind.to_owned(), origin));
                f.open.push_back((f.changes, out.travels.len()));
                out.travels.push(Travel {
                    direction: Direction(mv.channel),
                    sku: sku.to_owned(),
                    location: location.to_owned(),
                    kind: mv.kind.to_owned(),
                    delta: origin,
                    by_connector: mv.connector,
                    index: mv.index,
                    time: mv.time,
                    reached: None,
                });
                f.settle(&mut out.travels, mv.time, mv.index);
            }
        }
        // Every change reached the target, yet the connector's writes end
        // the run away from the source's changes: it moved the target by
        // more than they account for.
        for (i, f) in flows.iter().enumerate() {
            let excess = f.paid - f.owed;
            let repeats =
                (excess < 0 && excess >= f.decreases) || (excess > 0 && excess <= f.increases);
            let own_debt = flows[1 - i].debt();
            if f.open.is_empty() && !f.overshot && repeats && !erases(excess, own_debt) {
                let direction = Direction(if i == 0 { Channel::Pos } else { Channel::Shop });
                let last_write = moves
                    .iter()
                    .rev()
                    .find(|mv| mv.connector && mv.channel == direction.target())
                    .map_or((input.history.len() as u64, input.ended), |mv| {
                        (mv.index, mv.time)
                    });
                out.overshoots.push(Overshoot {
                    direction,
                    sku: sku.to_owned(),
                    location: location.to_owned(),
                    paid: f.paid,
                    owed: f.owed,
                    bound: f.owed,
                    at_end: true,
                    write: last_write,
                    change: f.latest.clone(),
                });
            }
        }
    }
    out
}
