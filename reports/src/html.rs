//! `report.html`: one self-contained page (no network, inline SVG, a few
//! lines of vanilla JavaScript for zoom) from a run result and, per
//! scenario, its [`Timeline`].
//!
//! Per scenario: the verdict and each violation in plain words with links to
//! the operations that witness it, a zoomable swimlane timeline (one lane per
//! system, fault windows shaded, violations marked), a stock chart per SKU and
//! location (each channel's view and the true stock), money per order across
//! the systems, every operation in a folded table, and the command that
//! reproduces the run. Busy lanes are drawn as density bars, so a 500-step
//! scenario stays light. All text is escaped by `maud`.
//!
//! [`render`] is a plain function from data to a `String`, reusable by other
//! pages (a certificate, a demo).

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::model::{RunResults, ScenarioResult, Status};
use crate::timeline::{LaneOp, OpOutcome, SeriesKind, StockChart, Timeline};

/// What one page shows.
#[derive(Clone, Copy, Debug)]
pub struct Page<'a> {
    /// The page's title.
    pub title: &'a str,
    /// Lines of a story told before the results (a demo's), shown as written.
    pub story: &'a [String],
    /// The run.
    pub results: &'a RunResults,
    /// Per scenario, in the same order, what to draw (None: verdicts only).
    pub timelines: &'a [Option<Timeline>],
}

/// Lanes with more operations than this are drawn as density bars.
const DENSE: usize = 250;
/// Lanes with at most this many operations label each one.
const LABELLED: usize = 12;
/// Stock charts shown before the rest fold away.
const CHARTS_SHOWN: usize = 6;
/// Money rows shown before the rest fold away.
const MONEY_SHOWN: usize = 12;
/// Width of the swimlane's time axis at zoom 1, in px.
const LANE_W: f64 = 1060.0;
/// Width of the lane labels, in px.
const LANE_L: f64 = 190.0;
/// Room right of the time axis, in px: the last tick's label is centred on
/// its tick and must not be cut off.
const LANE_R: f64 = 40.0;

/// A headline that replaces the count of passed scenarios, for a page whose
/// success is not "every scenario passed" (a demo, whose naive run must fail).
#[derive(Clone, Copy, Debug)]
pub struct Headline<'a> {
    /// Green when true, red when false.
    pub ok: bool,
    /// The words.
    pub text: &'a str,
}

/// Renders the page.
pub fn render(page: &Page<'_>) -> String {
    render_with_headline(page, None)
}

/// Renders the page with `headline` (when given) in place of the count of
/// passed scenarios.
pub fn render_with_headline(page: &Page<'_>, headline: Option<Headline<'_>>) -> String {
    let results = page.results;
    let failed = results.failed().count();
    let total = results.scenarios.len();
    let noun = if total == 1 { "scenario" } else { "scenarios" };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (page.title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { (page.title) }
                    @if let Some(h) = headline {
                        p.verdict.(if h.ok { "pass" } else { "fail" }) { (h.text) }
                    } @else {
                        p.verdict.(if failed == 0 { "pass" } else { "fail" }) {
                            (total - failed) " of " (total) " " (noun) " passed"
                            @if failed > 0 { ", " (failed) " failed" }
                        }
                    }
                }
                @if failed > 0 {
                    p.jump { "Failed: "
                        @for (i, s) in results.scenarios.iter().enumerate().filter(|(_, s)| s.status == Status::Fail) {
                            a href=(format!("#s{i}")) { (s.name) } " "
                        }
                    }
                }
                @if !page.story.is_empty() {
                    pre.story { @for line in page.story { (line) "\n" } }
                }
                (overview(results))
                @for (i, s) in results.scenarios.iter().enumerate() {
                    (scenario(i, s, page.timelines.get(i).and_then(Option::as_ref)))
                }
                footer { "omnisim report · schema " (results.schema_version) }
                script { (PreEscaped(JS)) }
            }
        }
    };
    markup.into_string()
}

fn overview(results: &RunResults) -> Markup {
    html! {
        table.overview {
            thead { tr {
                th { "" } th { "Scenario" } th { "Checks" } th { "Simulated" }
                th { "Wall" } th { "Seed" }
            } }
            tbody {
                @for (i, s) in results.scenarios.iter().enumerate() {
                    tr.(status_class(s.status)) {
                        td { (badge(s.status)) }
                        td { a href=(format!("#s{i}")) title=(s.file) { (s.name) } }
                        td { (checks_text(s)) }
                        td { (crate::markdown::span(s.sim_span_ms)) }
                        td { (s.wall_ms) " ms" }
                        td { (s.seed) }
                    }
                }
            }
        }
    }
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
    }
}

fn badge(s: Status) -> Markup {
    html! { span.badge.(status_class(s)) { (match s { Status::Pass => "PASS", Status::Fail => "FAIL" }) } }
}

fn checks_text(s: &ScenarioResult) -> String {
    let missed: Vec<&str> = s
        .checks
        .iter()
        .filter(|c| (c.status == Status::Fail) != c.expected_to_fail)
        .map(|c| c.name.as_str())
        .collect();
    let expected: Vec<&str> = s
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail && c.expected_to_fail)
        .map(|c| c.name.as_str())
        .collect();
    let mut out = format!("{}/{} met", s.checks.len() - missed.len(), s.checks.len());
    if !missed.is_empty() {
        out.push_str(&format!(" · missed: {}", missed.join(", ")));
    }
    if !expected.is_empty() {
        out.push_str(&format!(" · failed as expected: {}", expected.join(", ")));
    }
    out
}

fn hms(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S").to_string()
}

fn hm(t: DateTime<Utc>) -> String {
    t.format("%H:%M").to_string()
}

/// A tick's label: the day too when the window spans days.
fn tick_label(tl: &Timeline, t: DateTime<Utc>) -> String {
    if tl.end - tl.start > chrono::TimeDelta::hours(20) {
        t.format("%b %d %H:%M").to_string()
    } else {
        hm(t)
    }
}

fn scenario(i: usize, s: &ScenarioResult, tl: Option<&Timeline>) -> Markup {
    let anchor = |index: u64| format!("#s{i}-e{index}");
    html! {
        section.scenario id=(format!("s{i}")) {
            h2 { (badge(s.status)) " " (s.name) }
            p.meta {
                code { (s.file) } " · seed " (s.seed) " · "
                (crate::markdown::span(s.sim_span_ms)) " simulated · " (s.wall_ms) " ms"
                @if !s.tags.is_empty() { " · " @for t in &s.tags { span.tag { (t) } } }
            }
            @if let Some(tl) = tl && !tl.description.is_empty() {
                p.description { (tl.description) }
            }
            @if !s.reasons.is_empty() {
                div.reasons {
                    strong { "Why it failed:" }
                    ul { @for r in &s.reasons { li { (r) } } }
                }
            }
            @if let Some(tl) = tl {
                @for o in &tl.oversells {
                    p.oversell {
                        strong { "Oversold: " }
                        @if s.checks.iter().any(|c| c.name == "no_oversell" && c.expected_to_fail) {
                            span.tag { "expected by the scenario" }
                        }
                        a href=(anchor(o.index)) { (hms(o.time)) }
                        " " (o.trigger) " sold " (o.units) " × " (o.sku) " at " (o.location)
                        " that was no longer there"
                        @if let Some(v) = o.victim.as_ref().filter(|v| !o.trigger.contains(v.as_str())) {
                            ": web order " (v) " can no longer be filled"
                        }
                        "."
                    }
                }
            }
            @for c in &s.checks {
                @for v in &c.violations {
                    div.violation.(if c.expected_to_fail { "expected" } else { "" }) {
                        p {
                            span.check { (c.name) }
                            @if c.expected_to_fail { span.tag { "expected to fail" } }
                            " " (v.message)
                        }
                        @if !v.witnesses.is_empty() {
                            ul.witnesses {
                                @for w in &v.witnesses {
                                    li {
                                        a href=(anchor(w.index)) { "#" (w.index) }
                                        " " (hms(w.time)) " " (w.what)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(tl) = tl {
                h3 { "Timeline" }
                (swimlanes(i, s, tl))
                @if !tl.stock.is_empty() {
                    h3 { "Stock over time" }
                    (stock_section(s, tl))
                }
                @if !tl.money.is_empty() {
                    h3 { "Money per order" }
                    (money(s, tl))
                }
                (operations(i, tl))
            }
            @if !s.engine_errors.is_empty() {
                details.errors {
                    summary { "Sync errors the connector reported (" (s.engine_errors.len()) ")" }
                    ul { @for e in s.engine_errors.iter().take(100) { li { code { (e.to_string()) } } } }
                }
            }
            details.checks {
                summary { "Checks and figures" }
                table {
                    @for c in &s.checks {
                        tr.(status_class(c.status)) {
                            td { (c.name) }
                            td { (badge(c.status)) @if c.expected_to_fail { " expected" } }
                            td { code { (c.metrics.to_string()) } }
                        }
                    }
                }
            }
            p.repro { "Reproduce: " code { (s.reproduce) } }
        }
    }
}

/// Fraction of the window at `t`, clamped to [0, 1].
fn frac(tl: &Timeline, t: DateTime<Utc>) -> f64 {
    let span = (tl.end - tl.start).num_milliseconds().max(1) as f64;
    ((t - tl.start).num_milliseconds() as f64 / span).clamp(0.0, 1.0)
}

/// Tick spacing (ms) giving about `n` ticks over `span_ms`.
fn tick_every(span_ms: i64, n: i64) -> i64 {
    const STEPS: [i64; 16] = [
        1_000,
        5_000,
        10_000,
        30_000,
        60_000,
        120_000,
        300_000,
        600_000,
        900_000,
        1_800_000,
        3_600_000,
        7_200_000,
        21_600_000,
        86_400_000,
        172_800_000,
        345_600_000,
    ];
    let want = span_ms / n.max(1);
    STEPS
        .iter()
        .copied()
        .find(|s| *s >= want)
        .unwrap_or(345_600_000)
}

fn ticks(tl: &Timeline, n: i64) -> Vec<DateTime<Utc>> {
    let span = (tl.end - tl.start).num_milliseconds().max(1);
    let every = tick_every(span, n);
    let first = tl.start.timestamp_millis().div_euclid(every) * every + every;
    let mut out = Vec::new();
    let mut t = first;
    while t < tl.end.timestamp_millis() && out.len() < 400 {
        if let Some(d) = DateTime::from_timestamp_millis(t) {
            out.push(d);
        }
        t += every;
    }
    out
}

fn outcome_class(o: OpOutcome) -> &'static str {
    match o {
        OpOutcome::Ok => "ok",
        OpOutcome::Fail => "failop",
        OpOutcome::Info => "info",
        OpOutcome::Change => "change",
    }
}

fn swimlanes(i: usize, s: &ScenarioResult, tl: &Timeline) -> Markup {
    const LANE_H: f64 = 34.0;
    const TOP: f64 = 22.0;
    let h = TOP + LANE_H * tl.lanes.len() as f64 + if tl.oversells.is_empty() { 6.0 } else { 18.0 };
    let x = |f: f64| LANE_L + f * LANE_W;
    let id = format!("tl{i}");
    let marks: Vec<(u64, DateTime<Utc>, String, Option<usize>)> = s
        .checks
        .iter()
        .filter(|c| !c.violations.is_empty())
        .flat_map(|c| {
            c.violations.iter().filter_map(move |v| {
                v.witnesses.first().map(|w| {
                    (
                        w.index,
                        w.time,
                        format!("{}: {}", c.name, v.message),
                        mark_lane(tl, &c.name, &v.message, w.index),
                    )
                })
            })
        })
        .collect();
    html! {
        div.zoombar {
            button type="button" data-zoom=(id) data-f="2" { "zoom in" }
            button type="button" data-zoom=(id) data-f="0.5" { "zoom out" }
            button type="button" data-zoom=(id) data-f="0" { "fit" }
            span.legend {
                span.sw.ok {} "ok " span.sw.failop {} "refused " span.sw.info {} "no answer "
                span.sw.change {} "change by connector / gateway " span.sw.nemesis {} "nemesis step "
                span.sw.fault {} "fault window " span.sw.viol {} "violation"
            }
        }
        div.scroll {
            svg.lanes id=(id) width=(LANE_L + LANE_W + LANE_R) height=(h)
                data-w=(LANE_W) data-l=(LANE_L)
                data-span=((tl.end - tl.start).num_milliseconds().max(1))
                data-tb=(tick_every((tl.end - tl.start).num_milliseconds().max(1), 48))
                xmlns="http://www.w3.org/2000/svg" {
                @for (n, lane) in tl.lanes.iter().enumerate() {
                    rect.lanebg x="0" y=(TOP + LANE_H * n as f64) width="100%" height=(LANE_H) data-lane=(lane.key) {}
                }
                @for f in &tl.faults {
                    @let (a, b) = (frac(tl, f.from), frac(tl, f.to));
                    rect.fault x=(x(a)) y=(TOP) width=(((b - a) * LANE_W).max(2.0)) height=(h - TOP)
                        data-a=(a) data-b=(b) { title { (hms(f.from)) "–" (hms(f.to)) " " (f.label) } }
                }
                @for t in &ticks(tl, 48) {
                    @let a = frac(tl, *t);
                    line.tick x1=(x(a)) x2=(x(a)) y1=(TOP - 4.0) y2=(h) data-a=(a) data-t=(t.timestamp_millis()) {}
                    text.tick x=(x(a)) y=(TOP - 8.0) data-a=(a) data-t=(t.timestamp_millis()) { (tick_label(tl, *t)) }
                }
                @for (n, lane) in tl.lanes.iter().enumerate() {
                    @let y = TOP + LANE_H * n as f64;
                    text.lanelabel x="6" y=(y + LANE_H / 2.0 + 4.0) { (lane.label) }
                    g.lane data-lane=(lane.key) {
                        @if lane.ops.len() > DENSE {
                            (dense_lane(tl, lane.ops.as_slice(), y, LANE_H))
                        } @else {
                            @for op in &lane.ops {
                                (op_rect(i, tl, op, y, LANE_H, lane.key == "nemesis"))
                            }
                            // A quiet lane names its operations.
                            @if lane.ops.len() <= LABELLED && lane.key != "engine" {
                                @for (op, b) in spaced_labels(tl, &lane.ops) {
                                    text.oplab x=(LANE_L + b * LANE_W + 4.0) y=(y + LANE_H / 2.0 + 4.0) data-a=(b) data-o="4" {
                                        (op.action) @if op.outcome == OpOutcome::Fail { " ✗" }
                                    }
                                }
                            }
                        }
                    }
                }
                // Each violation is marked in the lane of the system it
                // belongs to (the lane of its first witness).
                @for (index, t, what, lane) in &marks {
                    @let a = frac(tl, *t);
                    @let my = lane.map_or(TOP - 2.0, |n| TOP + LANE_H * n as f64 + 1.0);
                    a href=(format!("#s{i}-e{index}")) {
                        line.viol x1=(x(a)) x2=(x(a)) y1=(TOP) y2=(h) data-a=(a) {}
                        rect.violmark x=(x(a) - 5.0) y=(my) width="10" height="10" data-a=(a) data-m="10" data-o="-5"
                            data-lane=[lane.and_then(|n| tl.lanes.get(n)).map(|l| l.key.as_str())] {
                            title { (hms(*t)) " " (what) }
                        }
                    }
                }
                @for o in &tl.oversells {
                    @let a = frac(tl, o.time);
                    text.ovlab x=(x(a)) y=(h - 4.0) data-a=(a) {
                        "▲ oversold " (o.units)
                        title { (hms(o.time)) " " (o.trigger) " oversold " (o.units) " × " (o.sku) " at " (o.location) }
                    }
                }
            }
        }
    }
}

/// The lane a violation belongs to: the lane holding its first witness, or
/// for a witness that is no actor's operation (a platform event, the final
/// state) the lane of the system its check judges.
fn mark_lane(tl: &Timeline, check: &str, message: &str, index: u64) -> Option<usize> {
    let by_op = tl.lanes.iter().position(|l| {
        l.ops
            .iter()
            .any(|o| o.index == index || o.done_index == Some(index))
    });
    let key = match check {
        "ledger_reconciles" => "pay",
        "exactly_once" => "engine",
        "catalog_parity" => "staff",
        "stock_converges" if message.starts_with("shop") => "shop",
        _ => "pos",
    };
    by_op.or_else(|| tl.lanes.iter().position(|l| l.key == key))
}

/// The operations whose labels fit at zoom 1: 60 px clear of the next
/// operation and of the previous label. Each comes with where it ends, as a
/// fraction of the window.
fn spaced_labels<'a>(tl: &Timeline, ops: &'a [LaneOp]) -> Vec<(&'a LaneOp, f64)> {
    let ops: Vec<&LaneOp> = ops
        .iter()
        .filter(|o| o.outcome != OpOutcome::Change)
        .collect();
    let mut out: Vec<(&LaneOp, f64)> = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        let b = frac(tl, op.end);
        let clear_next = ops
            .get(n + 1)
            .is_none_or(|next| (frac(tl, next.start) - b) * LANE_W >= 60.0);
        let clear_prev = out
            .last()
            .is_none_or(|(_, prev)| (b - prev) * LANE_W >= 60.0);
        if clear_next && clear_prev {
            out.push((op, b));
        }
    }
    out
}

fn op_rect(i: usize, tl: &Timeline, op: &LaneOp, y: f64, lane_h: f64, nemesis: bool) -> Markup {
    let (a, b) = (frac(tl, op.start), frac(tl, op.end));
    let (top, hh) = if op.outcome == OpOutcome::Change {
        (y + 12.0, lane_h - 24.0)
    } else {
        (y + 7.0, lane_h - 14.0)
    };
    let w = ((b - a) * LANE_W).max(3.0);
    // A nemesis step that took effect is a fault, not a success: it is drawn
    // in the nemesis colour, never in the "ok" green.
    let class = if nemesis && op.outcome == OpOutcome::Ok {
        "nemesis"
    } else {
        outcome_class(op.outcome)
    };
    let body = html! {
        rect.op.(class) x=(LANE_L + a * LANE_W) y=(top) width=(w) height=(hh)
            data-a=(a) data-b=(b) data-m="3" {
            title { (hms(op.start)) " " (op.summary) @if !op.result.is_empty() { " → " (op.result) } }
        }
    };
    if op.outcome == OpOutcome::Change {
        body
    } else {
        html! { a href=(format!("#s{i}-e{}", op.index)) { (body) } }
    }
}

/// A busy lane as bars: height is the number of operations in each slice
/// of time, red when one of them was refused or unanswered.
fn dense_lane(tl: &Timeline, ops: &[LaneOp], y: f64, lane_h: f64) -> Markup {
    const BUCKETS: usize = 240;
    let mut count = [0usize; BUCKETS];
    let mut bad = [0usize; BUCKETS];
    for op in ops {
        let k = ((frac(tl, op.start) * BUCKETS as f64) as usize).min(BUCKETS - 1);
        count[k] += 1;
        if matches!(op.outcome, OpOutcome::Fail | OpOutcome::Info) {
            bad[k] += 1;
        }
    }
    let max = count.iter().copied().max().unwrap_or(1).max(1) as f64;
    let span = tl.end - tl.start;
    html! {
        @for k in 0..BUCKETS {
            @if count[k] > 0 {
                @let a = k as f64 / BUCKETS as f64;
                @let b = (k + 1) as f64 / BUCKETS as f64;
                @let hh = 3.0 + (lane_h - 10.0) * count[k] as f64 / max;
                @let hbad = hh * bad[k] as f64 / count[k] as f64;
                @let from = tl.start + span * k as i32 / BUCKETS as i32;
                @let tip = html! { title { (hms(from)) ": " (count[k]) " operations" @if bad[k] > 0 { ", " (bad[k]) " refused or unanswered" } } };
                rect.op.ok x=(LANE_L + a * LANE_W) y=(y + lane_h - 4.0 - hh) width=((b - a) * LANE_W)
                    height=(hh - hbad) data-a=(a) data-b=(b) data-m="1" { (tip) }
                @if bad[k] > 0 {
                    rect.op.failop x=(LANE_L + a * LANE_W) y=(y + lane_h - 4.0 - hbad) width=((b - a) * LANE_W)
                        height=(hbad) data-a=(a) data-b=(b) data-m="1" { (tip) }
                }
            }
        }
    }
}

fn stock_section(s: &ScenarioResult, tl: &Timeline) -> Markup {
    // Charts with an oversell or a violation about their SKU come first.
    let flagged = |c: &StockChart| {
        tl.oversells
            .iter()
            .any(|o| o.sku == c.sku && o.location == c.location)
            || s.checks
                .iter()
                .flat_map(|k| &k.violations)
                .any(|v| v.sku.as_deref() == Some(c.sku.as_str()))
    };
    let mut order: Vec<&StockChart> = tl.stock.iter().collect();
    order.sort_by_key(|c| !flagged(c));
    let (shown, rest) = order.split_at(order.len().min(CHARTS_SHOWN));
    html! {
        div.legend {
            span.sw.shop {} "shop: available online " span.sw.pos {} "POS: register count "
            span.sw.truth {} "true stock (on the shelf, not promised to a web order) "
            span.sw.fault {} "fault window " span.sw.viol {} "oversold"
        }
        div.charts { @for c in shown { (chart(s, tl, c)) } }
        @if !rest.is_empty() {
            details {
                summary { (rest.len()) " more stock charts" }
                div.charts { @for c in rest { (chart(s, tl, c)) } }
            }
        }
    }
}

fn chart(s: &ScenarioResult, tl: &Timeline, c: &StockChart) -> Markup {
    const W: f64 = 620.0;
    const H: f64 = 210.0;
    const L: f64 = 40.0;
    // Room for the last time label, centred on its tick.
    const R: f64 = 26.0;
    const T: f64 = 14.0;
    const B: f64 = 24.0;
    let pw = W - L - R;
    let ph = H - T - B;
    let mut lo = 0i64;
    let mut hi = 1i64;
    for sr in &c.series {
        if let Some(v) = sr.at(tl.start) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        for p in sr
            .points
            .iter()
            .filter(|p| p.time >= tl.start && p.time <= tl.end)
        {
            lo = lo.min(p.value);
            hi = hi.max(p.value);
        }
    }
    hi += 1;
    if lo < 0 {
        lo -= 1;
    }
    let y = |v: i64| T + ph * (hi - v) as f64 / (hi - lo) as f64;
    let x = |t: DateTime<Utc>| L + pw * frac(tl, t);
    let ystep = nice_step(hi - lo);
    let yticks: Vec<i64> = (lo..=hi).filter(|v| v % ystep == 0).collect();
    let path = |sr: &crate::timeline::Series, nudge: f64| {
        // A view with no value yet starts where its first value comes.
        let (mut v, x0) = match (sr.at(tl.start), sr.points.first()) {
            (Some(v), _) => (v, L),
            (None, Some(p)) => (p.value, x(p.time)),
            (None, None) => return String::new(),
        };
        let mut d = format!("M{:.1},{:.1}", x0, y(v) + nudge);
        for p in sr
            .points
            .iter()
            .filter(|p| p.time > tl.start && p.time <= tl.end)
        {
            if p.value != v {
                d.push_str(&format!(" H{:.1} V{:.1}", x(p.time), y(p.value) + nudge));
                v = p.value;
            }
        }
        d.push_str(&format!(" H{:.1}", L + pw));
        d
    };
    let witnesses: Vec<(DateTime<Utc>, String)> = s
        .checks
        .iter()
        .flat_map(|k| k.violations.iter().map(move |v| (k, v)))
        .filter(|(_, v)| v.sku.as_deref() == Some(c.sku.as_str()))
        .filter_map(|(k, v)| {
            v.witnesses
                .first()
                .map(|w| (w.time, format!("{}: {}", k.name, v.message)))
        })
        .collect();
    html! {
        figure.chart {
            figcaption { strong { (c.title) } " (" (c.sku) ") at " (c.location_name) }
            svg width=(W) height=(H) viewBox=(format!("0 0 {W} {H}")) xmlns="http://www.w3.org/2000/svg" {
                @for f in &tl.faults {
                    rect.fault x=(x(f.from)) y=(T) width=((x(f.to) - x(f.from)).max(2.0)) height=(ph) {
                        title { (f.label) }
                    }
                }
                @for v in &yticks {
                    line.grid.(if *v == 0 { "zero" } else { "" }) x1=(L) x2=(L + pw) y1=(y(*v)) y2=(y(*v)) {}
                    text.ylab x=(L - 6.0) y=(y(*v) + 4.0) { (v) }
                }
                @for t in ticks(tl, if tl.end - tl.start > chrono::TimeDelta::hours(20) { 4 } else { 6 }) {
                    text.xlab x=(x(t)) y=(H - 6.0) { (tick_label(tl, t)) }
                    line.grid x1=(x(t)) x2=(x(t)) y1=(T) y2=(T + ph) {}
                }
                @for (t, what) in &witnesses {
                    line.viol x1=(x(*t)) x2=(x(*t)) y1=(T) y2=(T + ph) { title { (hms(*t)) " " (what) } }
                }
                // Lines at the same value must all show: the true stock is
                // drawn first, in the middle, and each channel's view 3.5 px
                // above or below it, clear of its stroke.
                @for sr in c.series.iter().filter(|sr| sr.kind == SeriesKind::Truth).chain(c.series.iter().filter(|sr| sr.kind != SeriesKind::Truth)) {
                    @let (class, nudge) = match sr.kind {
                        SeriesKind::Shop => ("shop", -3.5),
                        SeriesKind::Pos => ("pos", 3.5),
                        SeriesKind::Truth => ("truth", 0.0),
                    };
                    path.(class) d=(path(sr, nudge)) { title { (sr.label) } }
                }
                @for o in tl.oversells.iter().filter(|o| o.sku == c.sku && o.location == c.location) {
                    @let truth = c.series.iter().find(|sr| sr.kind == SeriesKind::Truth).and_then(|sr| sr.at(o.time)).unwrap_or(0);
                    circle.oversold cx=(x(o.time)) cy=(y(truth)) r="6" {
                        title { (hms(o.time)) " " (o.trigger) ": oversold " (o.units) }
                    }
                    text.ovlab x=(x(o.time) + 9.0) y=(y(truth) + 16.0) { "oversold " (o.units) " at " (hm(o.time)) }
                }
            }
        }
    }
}

/// A round tick step giving at most about 6 ticks over `range` units.
fn nice_step(range: i64) -> i64 {
    let mut base = 1i64;
    loop {
        for m in [1, 2, 5] {
            if range / (base * m) <= 6 {
                return base * m;
            }
        }
        base *= 10;
    }
}

/// True when `text` names `id` as a whole word (`ord_000001`, not
/// `ord_0000010`).
fn names_id(text: &str, id: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    !id.is_empty()
        && text.match_indices(id).any(|(at, _)| {
            !text[..at].chars().next_back().is_some_and(word)
                && !text[at + id.len()..].chars().next().is_some_and(word)
        })
}

fn money(s: &ScenarioResult, tl: &Timeline) -> Markup {
    // Red means a violation: a row is marked only when a violation about
    // money (the ledger, or a refund) names the order or one of its
    // payments, never for a difference the checks accept (a refund before
    // capture comes off the authorization, so the gateway refunds nothing).
    let about_money = |check: &str, message: &str| {
        check == "ledger_reconciles"
            || (matches!(check, "returns_restock" | "exactly_once") && message.contains("refund"))
    };
    let violations = |r: &crate::timeline::MoneyRow| -> Vec<String> {
        s.checks
            .iter()
            .flat_map(|c| c.violations.iter().map(move |v| (c, v)))
            .filter(|(c, v)| about_money(&c.name, &v.message))
            .filter(|(_, v)| {
                names_id(&v.message, &r.order)
                    || r.intents.iter().any(|pi| names_id(&v.message, pi))
            })
            .map(|(c, v)| format!("{}: {}", c.name, v.message))
            .collect()
    };
    let row = |r: &crate::timeline::MoneyRow| {
        let why = violations(r);
        let flagged = !why.is_empty();
        html! {
            tr.(if flagged { "viol" } else { "" }) title=[flagged.then(|| why.join("\n"))] {
                td { (r.order) @if flagged { " " span.violtag { "violation" } } }
                td { (r.channel) } td { (r.customer.clone().unwrap_or_default()) }
                td.num { (r.total) " " (r.currency) } td { (r.status) }
                td.num { (r.refunded_by_seller) }
                td.num { (r.authorized) } td.num { (r.captured) } td.num { (r.released) }
                td.num { (r.refunded) }
                td { (r.gateway_status) @if !r.intents.is_empty() { " (" (r.intents.join(", ")) ")" } }
            }
        }
    };
    let head = html! {
        thead {
            tr { th colspan="5" { "Selling system (shop or POS)" } th { "" } th colspan="5" { "Gateway" } }
            tr {
                th { "Order / sale" } th { "Channel" } th { "Customer" } th { "Total" } th { "Status" }
                th { "Refunded" } th { "Authorized" } th { "Captured" }
                th title="authorized but not captured, given back (a partial capture's rest, a void); a refund before capture comes out of it" { "Released" }
                th { "Refunded" } th { "Status" }
            }
        }
    };
    let (shown, rest) = tl.money.split_at(tl.money.len().min(MONEY_SHOWN));
    html! {
        table.money { (head) tbody { @for r in shown { (row(r)) } } }
        @if !rest.is_empty() {
            details {
                summary { (rest.len()) " more orders and sales" }
                table.money { (head) tbody { @for r in rest { (row(r)) } } }
            }
        }
    }
}

fn operations(i: usize, tl: &Timeline) -> Markup {
    let mut ops: Vec<&LaneOp> = tl
        .lanes
        .iter()
        .flat_map(|l| &l.ops)
        .filter(|o| o.outcome != OpOutcome::Change)
        .collect();
    ops.sort_by_key(|o| o.index);
    html! {
        details.ops {
            summary { "Every operation (" (ops.len()) ")" @if !tl.entries.is_empty() { " and " (tl.entries.len()) " witnessed entries" } }
            table {
                thead { tr { th { "#" } th { "Time" } th { "Who" } th { "What" } th { "Result" } } }
                tbody {
                    @for op in &ops {
                        tr.(outcome_class(op.outcome)) id=(format!("s{i}-e{}", op.index)) {
                            td {
                                (op.index)
                                @if let Some(d) = op.done_index { span id=(format!("s{i}-e{d}")) { "–" (d) } }
                            }
                            td { (hms(op.start)) } td { (op.process) } td { (op.summary) } td { (op.result) }
                        }
                    }
                    @for e in &tl.entries {
                        tr.entry id=(format!("s{i}-e{}", e.index)) {
                            td { (e.index) } td { (hms(e.time)) } td { "" } td colspan="2" { (e.text) }
                        }
                    }
                }
            }
        }
    }
}

const CSS: &str = r#"
:root { --ok:#2e7d32; --fail:#c62828; --refused:#795548; --info:#9e9e9e; --change:#1565c0; --nemesis:#e65100; --shop:#1e88e5; --pos:#8e24aa; --truth:#212121; --fault:#ffb74d; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1320px; padding: 16px 24px; color: #1f2328; }
h1 { margin: 0 0 4px; font-size: 24px; } h2 { font-size: 19px; margin: 0 0 4px; } h3 { font-size: 15px; margin: 18px 0 6px; }
.jump a { margin-right: 12px; color: var(--fail); }
.verdict.pass { color: var(--ok); font-weight: 600; } .verdict.fail { color: var(--fail); font-weight: 600; }
pre.story { background: #f6f8fa; border-left: 4px solid #57606a; padding: 10px 14px; white-space: pre-wrap; font: 13px/1.5 ui-monospace, Menlo, monospace; }
table { border-collapse: collapse; } td, th { padding: 3px 8px; border-bottom: 1px solid #e5e7eb; text-align: left; vertical-align: top; }
table.overview { width: 100%; margin: 12px 0 24px; } table.overview .file { color: #6b7280; font-size: 12px; }
.badge { display: inline-block; font-size: 11px; font-weight: 700; padding: 1px 6px; border-radius: 3px; color: #fff; }
.badge.pass { background: var(--ok); } .badge.fail { background: var(--fail); }
section.scenario { border-top: 2px solid #d0d7de; padding: 14px 0 20px; }
.meta { color: #57606a; margin: 0 0 8px; } p.description { max-width: 900px; margin: 4px 0 10px; } .tag { background: #eef1f4; border-radius: 3px; padding: 0 5px; margin-right: 4px; font-size: 12px; }
.reasons { background: #fff5f5; border-left: 4px solid var(--fail); padding: 6px 12px; margin: 8px 0; } .reasons ul { margin: 4px 0; }
p.oversell { background: #fff5f5; border-left: 4px solid var(--fail); padding: 6px 12px; margin: 6px 0; }
.violation { border-left: 4px solid var(--fail); padding: 2px 12px; margin: 6px 0; } .violation.expected { border-color: var(--fault); }
.violation p { margin: 2px 0; } .check { font-family: ui-monospace, monospace; font-weight: 700; margin-right: 6px; }
ul.witnesses { margin: 2px 0; padding-left: 20px; font-size: 13px; color: #374151; }
.scroll { overflow-x: auto; border: 1px solid #d0d7de; border-radius: 4px; }
.zoombar { margin: 4px 0; } .zoombar button { font-size: 12px; margin-right: 4px; }
.legend { font-size: 12px; color: #57606a; margin-left: 8px; } .sw { display: inline-block; width: 12px; height: 10px; margin: 0 3px 0 8px; vertical-align: middle; }
.sw.ok { background: var(--ok); } .sw.failop { background: var(--refused); } .sw.nemesis { background: var(--nemesis); } .sw.info { background: var(--info); } .sw.change { background: var(--change); }
.sw.fault { background: var(--fault); opacity: .5; } .sw.viol { background: var(--fail); } .sw.shop { background: var(--shop); } .sw.pos { background: var(--pos); } .sw.truth { background: var(--truth); }
svg text { font: 11px system-ui, sans-serif; fill: #374151; }
svg.lanes .lanebg:nth-of-type(odd) { fill: #fafbfc; } svg.lanes .lanebg { fill: #ffffff; stroke: #eef1f4; }
svg .lanelabel { font-weight: 600; } svg text.oplab { font-size: 10px; fill: #57606a; } svg text.tick { text-anchor: middle; fill: #6b7280; } svg line.tick { stroke: #eef1f4; }
svg .op.ok { fill: var(--ok); } svg .op.failop { fill: var(--refused); } svg .op.nemesis { fill: var(--nemesis); opacity: .75; } svg .op.info { fill: var(--info); } svg .op.change { fill: var(--change); opacity: .8; }
svg .fault { fill: var(--fault); opacity: .28; } svg line.viol { stroke: var(--fail); stroke-width: 1.5; stroke-dasharray: 4 3; }
svg .violmark, svg .oversold { fill: var(--fail); }
.charts { display: flex; flex-wrap: wrap; gap: 12px; } figure.chart { margin: 0; border: 1px solid #d0d7de; border-radius: 4px; padding: 6px; }
figure.chart figcaption { font-size: 13px; margin-bottom: 2px; }
svg line.grid { stroke: #eef1f4; } svg line.grid.zero { stroke: #9ca3af; } svg text.ylab { text-anchor: end; } svg text.xlab { text-anchor: middle; fill: #6b7280; }
svg path.shop { fill: none; stroke: var(--shop); stroke-width: 2; } svg path.pos { fill: none; stroke: var(--pos); stroke-width: 2; }
svg path.truth { fill: none; stroke: var(--truth); stroke-width: 2; stroke-dasharray: 6 3; }
svg circle.oversold { stroke: #fff; stroke-width: 2; } svg text.ovlab { fill: var(--fail); font-weight: 700; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
table.money td.num { text-align: right; font-variant-numeric: tabular-nums; } table.money tr.viol td { background: #fff5f5; color: var(--fail); font-weight: 600; }
.violtag { font-size: 11px; border: 1px solid var(--fail); border-radius: 3px; padding: 0 4px; }
details { margin: 8px 0; } summary { cursor: pointer; color: #0969da; }
details.ops table { font-size: 12px; } tr.failop td { color: var(--refused); } tr.info td { color: #6b7280; }
tr:target, tr:target td { background: #fff8c5; }
.repro code { background: #f6f8fa; padding: 2px 6px; border-radius: 3px; }
footer { color: #6b7280; font-size: 12px; margin-top: 24px; }
"#;

/// Zoom re-lays the swimlanes: every drawn element carries its place as a
/// fraction of the window (`data-a`, `data-b`); ticks thin out to stay
/// readable. A link to an operation unfolds its table first.
const JS: &str = r#"
(function () {
  function lay(svg) {
    var z = +(svg.dataset.z || 1), W = +svg.dataset.w * z, L = +svg.dataset.l;
    svg.setAttribute('width', L + W + 40);
    // Show ticks at the roundest interval that leaves 70 px between labels.
    var base = +svg.dataset.tb, want = 70 * (+svg.dataset.span) / W, every = base;
    [1e3, 5e3, 1e4, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5, 864e5, 1728e5, 3456e5]
      .some(function (n) { every = n; return n >= base && n % base === 0 && n >= want; });
    svg.querySelectorAll('[data-a]').forEach(function (e) {
      var a = +e.dataset.a, x = L + a * W, o = +(e.dataset.o || 0);
      if (e.dataset.t !== undefined) { e.style.display = (+e.dataset.t % every === 0) ? '' : 'none'; }
      if (e.tagName === 'line') { e.setAttribute('x1', x); e.setAttribute('x2', x); }
      else if (e.tagName === 'text') { e.setAttribute('x', x + o); }
      else if (e.dataset.b !== undefined) { e.setAttribute('x', x); e.setAttribute('width', Math.max(+(e.dataset.m || 2), (+e.dataset.b - a) * W)); }
      else { e.setAttribute('x', x + o); }
    });
  }
  document.querySelectorAll('svg.lanes').forEach(lay);
  document.querySelectorAll('button[data-zoom]').forEach(function (b) {
    b.addEventListener('click', function () {
      var svg = document.getElementById(b.dataset.zoom), f = +b.dataset.f;
      var z = f === 0 ? 1 : Math.min(256, Math.max(1, +(svg.dataset.z || 1) * f));
      svg.dataset.z = z; lay(svg);
    });
  });
  function open() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (!el) { return; }
    for (var p = el.parentElement; p; p = p.parentElement) { if (p.tagName === 'DETAILS') { p.open = true; } }
    el.scrollIntoView({ block: 'center' });
  }
  window.addEventListener('hashchange', open); open();
  document.body.dataset.ready = '1';
})();
"#;
