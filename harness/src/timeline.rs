//! The timeline of one run, for the HTML report and `omnisim demo`: derived
//! from the history and the truth only (never from a system's live state).
//!
//! - Lanes: the actors' operations (customers on the shop, clerks on the POS,
//!   staff, the gateway's dashboard, the nemesis), and the changes nobody in
//!   the scenario made in person: the connector's writes on the shop and the
//!   POS, and the gateway's own moves (captures, expiries).
//! - Stock: each channel's view per SKU and location (the shop's `available`,
//!   the POS count) from the platforms' events, and the true stock (P − C of
//!   [`crate::truth`]) after each completed operation.
//! - Faults: when a nemesis fault was in force.
//! - Money: per order or sale, what the selling system and the gateway show.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use omnisim_reports::timeline::{
    EntryNote, FaultWindow, Lane, LaneOp, MoneyRow, OpOutcome, OversellMark, Series, SeriesKind,
    StockChart, StockPoint, Timeline,
};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::history::{Entry, OpType};
use crate::validate::{Loaded, parse_duration};

/// Derives the timeline of a run. `witnessed` are the history indexes the
/// checks cite, so the report can link every one of them.
pub fn derive(loaded: &Loaded, history: &[Entry], witnessed: &[u64]) -> Timeline {
    let names = Names::of(loaded);
    let ops = pair_ops(history);
    let (start, end) = window(history, &ops);
    let mut lanes = actor_lanes(&ops, &names);
    let changes = unattributed_changes(history, &ops);
    for (key, label, list) in [
        (
            "engine",
            "connector (writes to shop and POS)",
            changes.engine,
        ),
        ("pay", "gateway (payments)", changes.gateway),
    ] {
        if !list.is_empty() {
            match lanes.iter_mut().find(|l| l.key == key) {
                Some(l) => l.ops.extend(list),
                None => lanes.push(Lane {
                    key: key.into(),
                    label: label.into(),
                    ops: list,
                }),
            }
        }
    }
    for l in &mut lanes {
        l.ops.sort_by_key(|o| (o.start, o.index));
    }
    lanes.sort_by_key(|l| lane_rank(&l.key));
    let truth = crate::truth::compute(loaded, history);
    let oversells = truth
        .oversells
        .iter()
        .map(|o| OversellMark {
            sku: o.sku.clone(),
            location: o.location.clone(),
            units: o.units,
            time: o.time,
            index: o.trigger_op,
            trigger: o.trigger.clone(),
            victim: o.victim.clone(),
        })
        .collect();
    let mut entries = Vec::new();
    for &i in witnessed {
        if let Some(e) = history.get(i as usize)
            && !matches!(e, Entry::Op { .. })
        {
            entries.push(EntryNote {
                index: i,
                time: e.time(),
                text: entry_text(e),
            });
        }
    }
    entries.sort_by_key(|e| e.index);
    entries.dedup_by_key(|e| e.index);
    Timeline {
        description: loaded.scenario.description.trim().to_owned(),
        start,
        end,
        lanes,
        stock: stock_charts(loaded, history, &names),
        faults: fault_windows(loaded, &ops, end),
        money: money(history),
        oversells,
        entries,
    }
}

fn lane_rank(key: &str) -> usize {
    ["shop", "pos", "staff", "pay", "engine", "nemesis"]
        .iter()
        .position(|k| *k == key)
        .unwrap_or(99)
}

/// Display names of SKUs and locations.
struct Names {
    skus: BTreeMap<String, String>,
    locations: BTreeMap<String, String>,
}

impl Names {
    fn of(loaded: &Loaded) -> Names {
        let m = &loaded.scenario.merchant;
        Names {
            skus: m
                .catalog
                .iter()
                .map(|c| (c.sku.get_ref().clone(), c.title.clone()))
                .collect(),
            locations: m
                .locations
                .iter()
                .map(|l| {
                    let id = l.id.get_ref().clone();
                    (id.clone(), l.name.clone().unwrap_or(id))
                })
                .collect(),
        }
    }

    fn sku(&self, sku: &str) -> String {
        self.skus
            .get(sku)
            .cloned()
            .unwrap_or_else(|| sku.to_owned())
    }

    fn location(&self, id: &str) -> String {
        self.locations
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_owned())
    }

    /// `2 × Red mug, 1 × Blue mug` from a step's `lines` table.
    fn lines(&self, lines: &Value) -> String {
        lines
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(sku, q)| format!("{} × {}", q.as_i64().unwrap_or(0), self.sku(sku)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    }
}

/// An actor operation: its invoke and, if it came, its completion.
struct Op<'a> {
    index: u64,
    time: DateTime<Utc>,
    step: usize,
    process: &'a str,
    f: &'a str,
    asked: &'a Value,
    done: Option<(u64, DateTime<Utc>, OpType, &'a Value)>,
}

fn pair_ops(history: &[Entry]) -> Vec<Op<'_>> {
    let mut ops: Vec<Op<'_>> = Vec::new();
    let mut open: BTreeMap<(&str, usize), usize> = BTreeMap::new();
    for e in history {
        let Entry::Op {
            index,
            time,
            step,
            process,
            kind,
            f,
            value,
        } = e
        else {
            continue;
        };
        if *kind == OpType::Invoke {
            open.insert((process.as_str(), *step), ops.len());
            ops.push(Op {
                index: *index,
                time: *time,
                step: *step,
                process,
                f,
                asked: value,
                done: None,
            });
        } else if let Some(i) = open.remove(&(process.as_str(), *step)) {
            ops[i].done = Some((*index, *time, *kind, value));
        }
    }
    ops
}

/// The window drawn: from a little before the first operation to a little
/// after the last thing that happened.
fn window(history: &[Entry], ops: &[Op<'_>]) -> (DateTime<Utc>, DateTime<Utc>) {
    let first = ops.iter().map(|o| o.time).min();
    let Some(first) = first else {
        let times: Vec<_> = history.iter().map(Entry::time).collect();
        let lo = times.iter().min().copied().unwrap_or_default();
        let hi = times.iter().max().copied().unwrap_or(lo);
        return (lo, hi.max(lo + TimeDelta::minutes(1)));
    };
    let last = history
        .iter()
        .map(Entry::time)
        .filter(|t| *t >= first)
        .max()
        .unwrap_or(first);
    let span = (last - first).max(TimeDelta::minutes(10));
    let margin = (span / 20).max(TimeDelta::minutes(1));
    (first - margin, last + margin)
}

fn lane_of(process: &str) -> (&'static str, &'static str) {
    match process.split(':').next().unwrap_or_default() {
        "shop" => ("shop", "customers (online shop)"),
        "pos" => ("pos", "clerks (store POS)"),
        "staff" => ("staff", "staff (shop admin)"),
        "pay" => ("pay", "gateway (payments)"),
        "nemesis" => ("nemesis", "nemesis (faults)"),
        _ => ("other", "other"),
    }
}

fn actor_lanes(ops: &[Op<'_>], names: &Names) -> Vec<Lane> {
    let mut lanes: Vec<Lane> = Vec::new();
    for op in ops {
        let (key, label) = lane_of(op.process);
        let (outcome, end, done_index, result) = match op.done {
            Some((i, t, OpType::Ok, v)) => (OpOutcome::Ok, t, Some(i), ok_text(v)),
            Some((i, t, OpType::Fail, v)) => (OpOutcome::Fail, t, Some(i), fail_text(v)),
            Some((i, t, _, v)) => (OpOutcome::Info, t, Some(i), info_text(v)),
            None => (OpOutcome::Info, op.time, None, "no answer".into()),
        };
        let lane_op = LaneOp {
            index: op.index,
            done_index,
            start: op.time,
            end,
            process: op.process.to_owned(),
            action: op.f.to_owned(),
            outcome,
            summary: summary(op, names),
            result,
        };
        match lanes.iter_mut().find(|l| l.key == key) {
            Some(l) => l.ops.push(lane_op),
            None => lanes.push(Lane {
                key: key.into(),
                label: label.into(),
                ops: vec![lane_op],
            }),
        }
    }
    lanes
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_default()
}

/// An operation in plain words, from what was asked.
fn summary(op: &Op<'_>, names: &Names) -> String {
    let a = op.asked;
    let who = op.process.split(':').nth(1).unwrap_or(op.process);
    let at_loc = |k: &str| {
        a[k].as_str()
            .map(|l| format!(" at {}", names.location(l)))
            .unwrap_or_default()
    };
    let order = || {
        a["order"]
            .as_str()
            .or_else(|| a["customer"].as_str())
            .unwrap_or("?")
            .to_owned()
    };
    let sku_q = || {
        format!(
            "{} × {}",
            a["quantity"].as_i64().unwrap_or(0),
            names.sku(str_of(a, "sku"))
        )
    };
    match (op.process.split(':').next().unwrap_or_default(), op.f) {
        ("shop", "checkout") => {
            let pickup = a["pickup_location"]
                .as_str()
                .map(|l| format!(", pickup at {}", names.location(l)))
                .unwrap_or_default();
            format!("web order by {who}: {}{pickup}", names.lines(&a["lines"]))
        }
        ("pos", "sale") => format!(
            "store sale: {}{}",
            names.lines(&a["lines"]),
            at_loc("location")
        ),
        ("pos", "pickup") => format!("{}'s order picked up{}", order(), at_loc("location")),
        ("pos", "no_show") => format!(
            "{}'s pickup closed as a no-show{}",
            order(),
            at_loc("location")
        ),
        ("pos", "return") => {
            let restock = if a["restock"].as_bool() == Some(true) {
                ", back on the shelf"
            } else {
                ""
            };
            format!(
                "return: {}{}{restock}",
                names.lines(&a["lines"]),
                at_loc("location")
            )
        }
        (_, "cancel") => format!("{}'s order cancelled by {who}", order()),
        (_, "receive") => format!("{} received{}", sku_q(), at_loc("location")),
        (_, "waste") => format!("{} wasted{}", sku_q(), at_loc("location")),
        (_, "count") => format!("count: {}{}", sku_q(), at_loc("location")),
        (_, "adjust") => format!("stock adjusted by {}{}", sku_q(), at_loc("location")),
        ("nemesis", "faults") => format!(
            "faults on {}: {}{}",
            str_of(a, "target"),
            describe_faults(&a["faults"]),
            a["duration"]
                .as_str()
                .map(|d| format!(" for {d}"))
                .unwrap_or_default()
        ),
        ("nemesis", "clear") => format!("faults cleared on {}", str_of(a, "target")),
        ("nemesis", "crash") => "the connector crashes".into(),
        ("nemesis", "restart") => "the connector restarts".into(),
        ("nemesis", "forge") => format!(
            "a forged webhook sent to the connector ({})",
            str_of(a, "target")
        ),
        ("nemesis", "replay") => format!(
            "an hour-old signed webhook replayed to the connector ({})",
            str_of(a, "target")
        ),
        (_, f) => {
            let mut parts = vec![f.to_owned()];
            for k in [
                "order", "sale", "sku", "location", "amount", "price", "tax_code",
            ] {
                if let Some(v) = a.get(k).filter(|v| !v.is_null()) {
                    parts.push(format!("{k} {}", compact(v)));
                }
            }
            if !a["lines"].is_null() {
                parts.push(names.lines(&a["lines"]));
            }
            parts.join(" ")
        }
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn ok_text(v: &Value) -> String {
    let id = str_of(v, "id");
    let mut out = if id.is_empty() {
        "done".to_owned()
    } else {
        format!("done: {id}")
    };
    for k in ["financial_status", "status", "total"] {
        if let Some(s) = v[k].as_str() {
            out.push_str(&format!(", {k} {s}"));
        }
    }
    out
}

fn fail_text(v: &Value) -> String {
    let code = v["error"].as_str().unwrap_or("failed");
    match v["message"].as_str() {
        Some(m) => format!("refused ({code}): {m}"),
        None => format!("refused ({code})"),
    }
}

fn info_text(v: &Value) -> String {
    format!(
        "no answer: {}",
        compact(v).chars().take(200).collect::<String>()
    )
}

struct Changes {
    engine: Vec<LaneOp>,
    gateway: Vec<LaneOp>,
}

/// Time windows (operations in flight), to ask whether any covers a moment
/// in O(log n): sorted by start, with the latest end so far.
struct InFlight {
    starts: Vec<DateTime<Utc>>,
    latest_end: Vec<DateTime<Utc>>,
}

impl InFlight {
    fn new(windows: impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)>) -> Self {
        let mut w: Vec<_> = windows.collect();
        w.sort();
        let mut latest = None;
        let latest_end = w
            .iter()
            .map(|(_, end)| {
                let l = latest.map_or(*end, |l: DateTime<Utc>| l.max(*end));
                latest = Some(l);
                l
            })
            .collect();
        InFlight {
            starts: w.into_iter().map(|(start, _)| start).collect(),
            latest_end,
        }
    }

    /// True when some window has start ≤ `t` ≤ end.
    fn covers(&self, t: DateTime<Utc>) -> bool {
        let begun = self.starts.partition_point(|s| *s <= t);
        begun > 0 && self.latest_end[begun - 1] >= t
    }
}

/// Platform events nobody in the scenario made in person on that platform:
/// on the shop and the POS the connector's writes, known by who caused them
/// (the event's `actor`); on the gateway every move not made in its
/// dashboard (the shop's authorizations and voids, the connector's captures
/// and refunds, expiries), so a payment's key event always has a lane.
/// Setup before the first step is left out.
fn unattributed_changes(history: &[Entry], ops: &[Op<'_>]) -> Changes {
    use omnisim_api::ActorKind;
    let first = ops.iter().map(|o| o.time).min();
    let mut out = Changes {
        engine: Vec::new(),
        gateway: Vec::new(),
    };
    let Some(first) = first else {
        return out;
    };
    // The gateway's lane shows all but what its dashboard did while in use.
    let pay = InFlight::new(ops.iter().filter_map(|o| {
        let actor = o.process.split(':').next().unwrap_or_default();
        let (_, end, _, _) = o.done?;
        (actor == "pay").then_some((o.time, end))
    }));
    for e in history {
        let Entry::Event {
            index,
            platform,
            event,
            ..
        } = e
        else {
            continue;
        };
        let t = event.occurred_at;
        if t < first {
            continue;
        }
        let lane = match (platform.as_str(), event.actor.kind) {
            ("pay", _) if pay.covers(t) => continue,
            ("pay", _) => &mut out.gateway,
            (_, ActorKind::Connector) => &mut out.engine,
            _ => continue,
        };
        lane.push(LaneOp {
            index: *index,
            done_index: None,
            start: t,
            end: t,
            process: platform.clone(),
            action: event.kind.clone(),
            outcome: OpOutcome::Change,
            summary: entry_text(e),
            result: String::new(),
        });
    }
    out
}

/// A history entry in a few words.
pub fn entry_text(e: &Entry) -> String {
    match e {
        Entry::Op {
            process, kind, f, ..
        } => format!("{process} {f} ({kind:?})"),
        Entry::Http {
            method,
            url,
            status,
            error,
            ..
        } => {
            let what = if url.starts_with(crate::world::ENGINE_URL) {
                "webhook delivered"
            } else {
                "API call"
            };
            match (status, error) {
                (Some(s), _) => format!("{what}: {method} {url} → {s}"),
                (None, Some(err)) => format!("{what}: {method} {url} → {err}"),
                (None, None) => format!("{what}: {method} {url}"),
            }
        }
        Entry::Event {
            platform, event, ..
        } => {
            let d = &event.data;
            let cause = |d: &Value| {
                let kind = str_of(&d["cause"], "kind");
                let by = if event.actor.is_connector() {
                    " by the connector"
                } else {
                    ""
                };
                if kind.is_empty() {
                    String::new()
                } else {
                    format!(" ({kind}{by})")
                }
            };
            match event.kind.as_str() {
                "inventory_levels/update" => format!(
                    "shop: {} at {} available → {}{}",
                    str_of(d, "sku"),
                    str_of(d, "location"),
                    d["available"],
                    cause(d)
                ),
                "inventory.count.updated" => format!(
                    "POS: {} at {} count → {}{}",
                    str_of(d, "sku"),
                    str_of(d, "location"),
                    d["quantity"],
                    cause(d)
                ),
                k if k.starts_with("payment_intent.") => format!(
                    "gateway: {} {} (amount {}, captured {}, refunded {})",
                    str_of(d, "id"),
                    &k["payment_intent.".len()..],
                    str_of(d, "amount"),
                    str_of(d, "amount_received"),
                    str_of(d, "amount_refunded")
                ),
                k => {
                    let id = d["id"]
                        .as_str()
                        .or_else(|| d["order_ref"].as_str())
                        .unwrap_or_default();
                    format!("{platform}: {k} {id}")
                }
            }
        }
    }
}

/// Which SKU and location pairs get a chart: every listed stock, and every
/// pair a channel reported on.
fn stock_charts(loaded: &Loaded, history: &[Entry], names: &Names) -> Vec<StockChart> {
    let mut shop: BTreeMap<(String, String), Vec<StockPoint>> = BTreeMap::new();
    let mut pos: BTreeMap<(String, String), Vec<StockPoint>> = BTreeMap::new();
    for e in history {
        let Entry::Event {
            index,
            platform,
            event,
            ..
        } = e
        else {
            continue;
        };
        let d = &event.data;
        let key = (
            str_of(d, "sku").to_owned(),
            str_of(d, "location").to_owned(),
        );
        let (map, value) = match (platform.as_str(), event.kind.as_str()) {
            ("shop", "inventory_levels/update") => (&mut shop, d["available"].as_i64()),
            ("pos", "inventory.count.updated") => (&mut pos, d["quantity"].as_i64()),
            _ => continue,
        };
        if let Some(value) = value {
            map.entry(key).or_default().push(StockPoint {
                time: event.occurred_at,
                value,
                index: *index,
            });
        }
    }
    let mut keys: Vec<(String, String)> = Vec::new();
    for item in &loaded.scenario.merchant.catalog {
        for loc in item.stock.keys() {
            keys.push((item.sku.get_ref().clone(), loc.clone()));
        }
    }
    keys.extend(shop.keys().cloned());
    keys.extend(pos.keys().cloned());
    keys.sort();
    keys.dedup();
    let truth = truth_series(loaded, history, &keys);
    keys.into_iter()
        .map(|key| {
            let mut series = Vec::new();
            for (kind, label, map) in [
                (SeriesKind::Shop, "shop: available online", &mut shop),
                (SeriesKind::Pos, "POS: register count", &mut pos),
            ] {
                if let Some(mut points) = map.remove(&key) {
                    points.sort_by_key(|p| (p.time, p.index));
                    series.push(Series {
                        kind,
                        label: label.into(),
                        points,
                    });
                }
            }
            series.push(Series {
                kind: SeriesKind::Truth,
                label: "true stock (on the shelf, not promised)".into(),
                points: truth.get(&key).cloned().unwrap_or_default(),
            });
            StockChart {
                title: names.sku(&key.0),
                location_name: names.location(&key.1),
                sku: key.0,
                location: key.1,
                series,
            }
        })
        .collect()
}

/// Histories with more completed operations than this get no true-stock line.
const TRUTH_MAX_OPS: usize = 3_000;
/// At most this many points of the true-stock line per chart.
const TRUTH_MAX_CHECKPOINTS: usize = 250;

/// The true stock (P − C) of each pair after each completed operation and
/// each cancellation, by recomputing the truth on the history up to then.
fn truth_series(
    loaded: &Loaded,
    history: &[Entry],
    keys: &[(String, String)],
) -> BTreeMap<(String, String), Vec<StockPoint>> {
    // The truth reads only completed operations and shop cancellations; a
    // slim copy of those keeps the repeated recomputation cheap.
    let keep = [
        "id",
        "location",
        "pickup_location",
        "lines",
        "order_ref",
        "order_id",
        "restock",
    ];
    let mut ops: Vec<Entry> = Vec::new();
    let mut cancels: Vec<Entry> = Vec::new();
    for e in history {
        match e {
            Entry::Op {
                index,
                time,
                step,
                process,
                kind: OpType::Ok,
                f,
                value,
            } => {
                let slim: serde_json::Map<String, Value> = keep
                    .iter()
                    .filter_map(|k| value.get(*k).map(|v| ((*k).to_owned(), v.clone())))
                    .collect();
                ops.push(Entry::Op {
                    index: *index,
                    time: *time,
                    step: *step,
                    process: process.clone(),
                    kind: OpType::Ok,
                    f: f.clone(),
                    value: Value::Object(slim),
                });
            }
            Entry::Event {
                platform, event, ..
            } if platform == "shop" && event.kind == "orders/cancelled" => {
                cancels.push(e.clone());
            }
            _ => {}
        }
    }
    cancels.sort_by_key(Entry::true_time);
    // Checkpoints: each operation's completion and each cancellation.
    let mut checkpoints: Vec<(DateTime<Utc>, u64)> = ops
        .iter()
        .map(|e| match e {
            Entry::Op { time, index, .. } => (*time, *index),
            _ => (e.time(), 0),
        })
        .chain(cancels.iter().map(|e| match e {
            Entry::Event { index, .. } => (e.true_time(), *index),
            _ => (e.time(), 0),
        }))
        .collect();
    checkpoints.sort();
    let mut out: BTreeMap<(String, String), Vec<StockPoint>> = BTreeMap::new();
    // Each checkpoint recomputes the truth over the history up to it: bound
    // the work, so a 10,000-order run still reports in seconds. Past
    // `TRUTH_MAX_OPS` operations the true-stock line is left out (the
    // oversell markers, from the one full truth, stay); past
    // `TRUTH_MAX_CHECKPOINTS` checkpoints it is sampled evenly, last included.
    if ops.len() > TRUTH_MAX_OPS {
        return out;
    }
    if checkpoints.len() > TRUTH_MAX_CHECKPOINTS {
        let n = checkpoints.len();
        checkpoints = (1..=TRUTH_MAX_CHECKPOINTS)
            .map(|i| checkpoints[i * n / TRUTH_MAX_CHECKPOINTS - 1])
            .collect();
    }
    let initial = crate::truth::compute(loaded, &[]);
    let t0 = history.first().map(Entry::time).unwrap_or_default();
    for k in keys {
        out.entry(k.clone()).or_default().push(StockPoint {
            time: t0,
            value: initial.available(&k.0, &k.1),
            index: 0,
        });
    }
    let mut upto: Vec<Entry> = Vec::new();
    for (t, index) in checkpoints {
        upto.clear();
        upto.extend(ops.iter().filter(|e| e.time() <= t).cloned());
        upto.extend(cancels.iter().filter(|e| e.time() <= t).cloned());
        let truth = crate::truth::compute(loaded, &upto);
        for k in keys {
            let value = truth.available(&k.0, &k.1);
            let points = out.entry(k.clone()).or_default();
            if points.last().map(|p| p.value) != Some(value) {
                points.push(StockPoint {
                    time: t,
                    value,
                    index,
                });
            }
        }
    }
    out
}

/// When each nemesis fault was in force.
fn fault_windows(loaded: &Loaded, ops: &[Op<'_>], end: DateTime<Utc>) -> Vec<FaultWindow> {
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if !op.process.starts_with("nemesis") {
            continue;
        }
        let step = loaded.scenario.steps.get(op.step);
        let duration = step
            .and_then(|s| s.duration.as_ref())
            .and_then(|d| parse_duration(d.get_ref()))
            .and_then(|d| TimeDelta::from_std(d).ok());
        let target = str_of(op.asked, "target").to_owned();
        let later = |f: &str| {
            ops[i + 1..]
                .iter()
                .find(|o| {
                    o.process.starts_with("nemesis")
                        && o.f == f
                        && (f == "restart" || str_of(o.asked, "target") == target)
                })
                .map(|o| o.time)
        };
        let (label, to) = match op.f {
            "faults" => (
                format!("{target}: {}", describe_faults(&op.asked["faults"])),
                duration
                    .map(|d| op.time + d)
                    .or_else(|| later("clear"))
                    .unwrap_or(end),
            ),
            "crash" => (
                "connector down".to_owned(),
                duration
                    .map(|d| op.time + d)
                    .or_else(|| later("restart"))
                    .unwrap_or(end),
            ),
            "partition" => (
                format!("{target}: cut off from the connector"),
                duration.map_or(end, |d| op.time + d),
            ),
            // After the overlap the connector's secret no longer signs
            // anything it can verify: its webhooks from there are refused.
            "rotate" => {
                let overlap = duration.unwrap_or(TimeDelta::hours(24));
                let from = op.time + overlap;
                if from < end {
                    out.push(FaultWindow {
                        from,
                        to: end,
                        label: format!(
                            "{target}: webhook secret rotated, the connector's old one expired"
                        ),
                        index: op.index,
                    });
                }
                continue;
            }
            _ => continue,
        };
        out.push(FaultWindow {
            from: op.time,
            to: to.min(end),
            label,
            index: op.index,
        });
    }
    out
}

/// Fault settings in plain words (`webhooks duplicated, API errors 25%`).
fn describe_faults(f: &Value) -> String {
    let pct = |v: &Value| format!("{}%", (v.as_f64().unwrap_or(0.0) * 100.0).round());
    let mut parts = Vec::new();
    if let Some(m) = f.as_object() {
        for (k, v) in m {
            match k.as_str() {
                "webhooks" => {
                    for (wk, wv) in v.as_object().into_iter().flatten() {
                        match wk.as_str() {
                            "duplicate_rate" => {
                                parts.push(format!("webhooks duplicated ({})", pct(wv)))
                            }
                            "drop_rate" => parts.push(format!("webhooks lost ({})", pct(wv))),
                            "reorder_window_ms" => parts.push("webhooks reordered".to_owned()),
                            "delay_ms" | "delay" => parts.push("webhooks delayed".to_owned()),
                            _ => {}
                        }
                    }
                }
                "error_rate" => parts.push(format!("API errors ({})", pct(v))),
                "timeout_rate" => parts.push(format!("API timeouts ({})", pct(v))),
                "lost_write_answers" => {
                    parts.push(format!("connector's write answers lost ({})", pct(v)))
                }
                "latency" => parts.push("slow API".to_owned()),
                "rate_limit" => parts.push("tight rate limit".to_owned()),
                "read_only" if v.as_bool() == Some(true) => {
                    parts.push("writes refused (read-only)".to_owned())
                }
                "partition" if v.as_bool() == Some(true) => {
                    parts.push("cut off from the connector".to_owned())
                }
                "clock_skew_ms" => {
                    let ms = v.as_i64().unwrap_or(0);
                    let dir = if ms < 0 { "behind" } else { "ahead" };
                    parts.push(format!("clock {} s {dir}", ms.abs() / 1000));
                }
                _ => {}
            }
        }
    }
    if parts.is_empty() {
        "faults".to_owned()
    } else {
        parts.join(", ")
    }
}

fn dec(v: &Value) -> Decimal {
    match v {
        Value::String(s) => Decimal::from_str(s).unwrap_or_default(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).unwrap_or_default(),
        _ => Decimal::ZERO,
    }
}

/// An amount with its currency's minor unit (`12.50` USD, `1250` JPY).
fn money_text(d: Decimal, currency: &str) -> String {
    let scale = omnisim_api::common::currency_scale(currency);
    let mut d = omnisim_api::common::round_money(d, currency);
    d.rescale(scale);
    d.to_string()
}

#[derive(Default)]
struct IntentMoney {
    authorized: Decimal,
    captured: Decimal,
    refunded: Decimal,
    status: String,
}

/// Money per shop order and per POS sale, beside the gateway's intents.
fn money(history: &[Entry]) -> Vec<MoneyRow> {
    let mut intents: BTreeMap<String, IntentMoney> = BTreeMap::new();
    let mut intent_order: BTreeMap<String, String> = BTreeMap::new();
    let mut orders: BTreeMap<String, MoneyRow> = BTreeMap::new();
    let mut order_list: Vec<String> = Vec::new();
    let mut returns: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut shop_refunds: BTreeMap<String, Decimal> = BTreeMap::new();
    for e in history {
        let Entry::Event {
            platform, event, ..
        } = e
        else {
            continue;
        };
        let d = &event.data;
        match (platform.as_str(), event.kind.as_str()) {
            // Intent events and refund events both carry the intent.
            ("pay", k)
                if k.starts_with("payment_intent.")
                    || (k.starts_with("charge.") && str_of(d, "id").starts_with("pi_")) =>
            {
                let id = str_of(d, "id").to_owned();
                let m = intents.entry(id.clone()).or_default();
                m.authorized = m
                    .authorized
                    .max(dec(&d["amount_capturable"]) + dec(&d["amount_received"]));
                m.captured = dec(&d["amount_received"]);
                m.refunded = dec(&d["amount_refunded"]);
                m.status = str_of(d, "status").to_owned();
                if let Some(o) = d["metadata"]["order_id"].as_str() {
                    intent_order.insert(id, o.to_owned());
                }
            }
            ("shop", k) if k.starts_with("orders/") => {
                let id = str_of(d, "id").to_owned();
                if !orders.contains_key(&id) {
                    order_list.push(id.clone());
                }
                let row = orders.entry(id.clone()).or_default();
                row.order = id.clone();
                row.channel = "online".into();
                row.customer = d["customer"].as_str().map(str::to_owned);
                row.currency = str_of(d, "currency").to_owned();
                row.total = money_text(dec(&d["total"]), &row.currency);
                row.status = str_of(d, "financial_status").to_owned();
                row.refunded_by_seller = money_text(dec(&d["total_refunded"]), &row.currency);
                if let Some(pi) = d["payment_intent"].as_str() {
                    intent_order.insert(pi.to_owned(), id);
                }
            }
            ("pos", "sale.created") => {
                let id = str_of(d, "id").to_owned();
                if !orders.contains_key(&id) {
                    order_list.push(id.clone());
                }
                let row = orders.entry(id.clone()).or_default();
                row.order = id.clone();
                row.channel = "store".into();
                row.customer = d["customer"].as_str().map(str::to_owned);
                row.currency = str_of(d, "currency").to_owned();
                row.total = money_text(dec(&d["total"]), &row.currency);
                row.status = "paid".into();
                for t in d["tenders"].as_array().cloned().unwrap_or_default() {
                    if let Some(pi) = t["payment_intent"].as_str() {
                        intent_order.insert(pi.to_owned(), id.clone());
                    }
                }
            }
            ("shop", "refunds/create") => {
                let order = str_of(d, "order_id");
                if !order.is_empty() {
                    *shop_refunds.entry(order.to_owned()).or_default() += dec(&d["amount"]);
                }
            }
            ("pos", "return.created") => {
                let sale = str_of(d, "sale_id");
                if !sale.is_empty() {
                    *returns.entry(sale.to_owned()).or_default() += dec(&d["amount"]);
                }
            }
            _ => {}
        }
    }
    // Each order's intents, in intent id order (one pass, not one per order).
    let mut intents_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (pi, o) in &intent_order {
        intents_of.entry(o.as_str()).or_default().push(pi.as_str());
    }
    let mut rows = Vec::new();
    for id in &order_list {
        let Some(mut row) = orders.remove(id) else {
            continue;
        };
        if row.channel == "online" {
            let refunded = Decimal::from_str(&row.refunded_by_seller)
                .unwrap_or_default()
                .max(shop_refunds.get(id).copied().unwrap_or_default());
            row.refunded_by_seller = money_text(refunded, &row.currency);
        }
        if row.channel == "store" {
            let back = returns.get(id).copied().unwrap_or_default();
            row.refunded_by_seller = money_text(back, &row.currency);
            if back > Decimal::ZERO {
                row.status = "partly returned".into();
            }
        }
        let (mut a, mut c, mut r) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        let mut released = Decimal::ZERO;
        let mut statuses = Vec::new();
        for pi in intents_of.get(id.as_str()).into_iter().flatten() {
            if let Some(m) = intents.get(*pi) {
                row.intents.push((*pi).to_owned());
                a += m.authorized;
                c += m.captured;
                r += m.refunded;
                // A settled or voided intent gave back what it did not capture.
                if matches!(m.status.as_str(), "succeeded" | "canceled") {
                    released += m.authorized - m.captured;
                }
                statuses.push(m.status.clone());
            }
        }
        let cur = row.currency.clone();
        row.authorized = money_text(a, &cur);
        row.captured = money_text(c, &cur);
        row.released = money_text(released, &cur);
        row.refunded = money_text(r, &cur);
        statuses.dedup();
        row.gateway_status = if statuses.is_empty() {
            "no card payment".into()
        } else {
            statuses.join(", ")
        };
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_windows_cover_exactly_their_spans() {
        let at = |m: i64| DateTime::<Utc>::UNIX_EPOCH + chrono::TimeDelta::minutes(m);
        // 1–10 holds 2–3 inside it; 20–21 stands alone.
        let w = InFlight::new([(at(2), at(3)), (at(20), at(21)), (at(1), at(10))].into_iter());
        for (m, covered) in [
            (0, false),
            (1, true),
            (5, true),
            (10, true),
            (11, false),
            (19, false),
            (20, true),
            (21, true),
            (22, false),
        ] {
            assert_eq!(w.covers(at(m)), covered, "minute {m}");
        }
        assert!(!InFlight::new(std::iter::empty()).covers(at(0)));
    }
}
