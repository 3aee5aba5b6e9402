//! `omnisim demo [NAME]`: a curated pair of runs for a merchant. The naive
//! setup shows the failure, then the recommended setup prevents it. The story
//! is printed in plain words with times and stock per channel, and both runs
//! go into one `report.html`.
//!
//! Exit 0 when the demo shows what it should (the naive run fails the checks
//! it names, the recommended run passes), 1 when it does not, 2 on bad input.
//! The scenario files live in `demos/` and are built into the binary.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, TimeDelta, Utc};
use clap::Args;
use omnisim_harness::{suite, validate};
use omnisim_reports::model::SCHEMA_VERSION;
use omnisim_reports::timeline::{OpOutcome, SeriesKind, Timeline};
use omnisim_reports::{RunResults, ScenarioResult, Status};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Which demo (`oversell` when left out; `--list` shows them all), or a
    /// scenario file of your own (`my-case.toml`) to tell as a story.
    name: Option<String>,
    /// List the demos and exit.
    #[arg(long)]
    list: bool,
    /// Write report.html (and results.json) here instead of `target/omnisim/demo-NAME/`.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One curated pair.
struct Demo {
    name: &'static str,
    /// What it shows, in one line.
    headline: &'static str,
    /// The naive setup, in words.
    naive_setup: &'static str,
    /// The recommended setup, in words.
    recommended_setup: &'static str,
    naive: (&'static str, &'static str),
    recommended: (&'static str, &'static str),
    /// Checks the naive run must fail.
    must_fail: &'static [&'static str],
    /// What the fix is, in one line.
    moral: &'static str,
}

macro_rules! demo_file {
    ($path:literal) => {
        ($path, include_str!(concat!("../", $path)))
    };
}

const DEMOS: &[Demo] = &[
    Demo {
        name: "oversell",
        headline: "A web order at 10:03, a store sale at 10:07, and one red mug",
        naive_setup: "the connector polls every 15 minutes; the register sells below zero with a warning",
        recommended_setup: "the connector listens to webhooks; the register blocks selling below zero",
        naive: demo_file!("demos/oversell/naive.toml"),
        recommended: demo_file!("demos/oversell/recommended.toml"),
        must_fail: &["no_oversell"],
        moral: "listen to webhooks so a web order sets the unit aside in the store within a second, and let the register refuse what is not there",
    },
    Demo {
        name: "cancel-after-auth",
        headline: "An authorized web order, a walk-in customer, and a cancellation",
        naive_setup: "the connector sets stock aside for a web order only once the card is charged",
        recommended_setup: "the connector sets stock aside as soon as the order is authorized",
        naive: demo_file!("demos/cancel-after-auth/naive.toml"),
        recommended: demo_file!("demos/cancel-after-auth/recommended.toml"),
        must_fail: &["no_oversell"],
        moral: "an authorized order is a promise: set the item aside at the order, and give it back when the order is cancelled",
    },
    Demo {
        name: "partial-return",
        headline: "Two of four mugs returned in store while every webhook arrives twice",
        naive_setup: "the connector applies every webhook it receives, duplicates included",
        recommended_setup: "the connector remembers each change it applied and skips duplicates",
        naive: demo_file!("demos/partial-return/naive.toml"),
        recommended: demo_file!("demos/partial-return/recommended.toml"),
        must_fail: &["exactly_once", "stock_converges"],
        moral: "platforms deliver webhooks at least once: apply each change exactly once, by its event id",
    },
    Demo {
        name: "lost-update",
        headline: "A web order and a store sale 20 ms apart, and a count copied over",
        naive_setup: "the connector copies the register's count to the shop as an absolute number",
        recommended_setup: "the connector passes each change on as an adjustment",
        naive: demo_file!("demos/lost-update/naive.toml"),
        recommended: demo_file!("demos/lost-update/recommended.toml"),
        must_fail: &["no_oversell"],
        moral: "send changes (one less), not totals: a total copied over a busy channel erases the sales made in between",
    },
];

pub fn run(args: DemoArgs) -> ExitCode {
    if args.list {
        crate::say!("Demos (omnisim demo NAME):");
        for d in DEMOS {
            crate::say!("  {:<18} {}", d.name, d.headline);
        }
        return ExitCode::SUCCESS;
    }
    let name = args.name.as_deref().unwrap_or("oversell");
    if name.ends_with(".toml") || Path::new(name).is_file() {
        return own_case(Path::new(name), args.out);
    }
    let Some(demo) = DEMOS.iter().find(|d| d.name == name) else {
        let names: Vec<&str> = DEMOS.iter().map(|d| d.name).collect();
        eprintln!(
            "omnisim demo: no demo named `{name}`; the demos are: {} (or give a scenario file, FILE.toml)",
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    let mut runs = Vec::new();
    for (file, src) in [demo.naive, demo.recommended] {
        let loaded = match validate::load_str(Path::new(file), src) {
            Ok(l) => l,
            Err(errors) => {
                for e in errors {
                    eprintln!("{e}");
                }
                return ExitCode::from(2);
            }
        };
        let judged = suite::run_one(&loaded, None);
        runs.push((loaded, judged));
    }
    let mut story = vec![
        format!("omnisim demo {}: {}", demo.name, demo.headline),
        String::new(),
    ];
    let naive_ok = {
        let (loaded, j) = &runs[0];
        story.push(format!("1. Naive setup: {}.", demo.naive_setup));
        story.extend(tell(loaded, &j.result, &j.timeline));
        let failed: Vec<&str> = j
            .result
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.name.as_str())
            .collect();
        demo.must_fail.iter().all(|c| failed.contains(c))
    };
    story.push(String::new());
    let recommended_ok = {
        let (loaded, j) = &runs[1];
        story.push(format!("2. Recommended setup: {}.", demo.recommended_setup));
        story.extend(tell(loaded, &j.result, &j.timeline));
        j.result.status == Status::Pass
    };
    story.push(String::new());
    story.push(format!("The fix: {}.", demo.moral));
    for line in &story {
        crate::say!("{line}");
    }
    let results = RunResults {
        schema_version: SCHEMA_VERSION,
        scenarios: runs.iter().map(|(_, j)| j.result.clone()).collect(),
    };
    let timelines: Vec<Option<Timeline>> =
        runs.iter().map(|(_, j)| Some(j.timeline.clone())).collect();
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from("target/omnisim").join(format!("demo-{}", demo.name)));
    let title = format!("omnisim demo {}: {}", demo.name, demo.headline);
    let headline = if naive_ok && recommended_ok {
        format!(
            "The demo showed what it should: the naive setup failed {}, the recommended setup passed every check.",
            demo.must_fail.join(" and ")
        )
    } else {
        format!(
            "The demo did not show what it should: the naive setup {}, the recommended setup {}.",
            if naive_ok {
                "failed as expected"
            } else {
                "did not fail as expected"
            },
            if recommended_ok {
                "passed"
            } else {
                "did not pass"
            }
        )
    };
    let headline = omnisim_reports::html::Headline {
        ok: naive_ok && recommended_ok,
        text: &headline,
    };
    if let Err(code) = write_page(&out, &title, &story, &results, &timelines, headline) {
        return code;
    }
    if naive_ok && recommended_ok {
        ExitCode::SUCCESS
    } else {
        crate::say!(
            "the demo did not show what it should: the naive setup {} and the recommended one {}",
            if naive_ok {
                "failed as expected"
            } else {
                "did not fail as expected"
            },
            if recommended_ok {
                "passed"
            } else {
                "did not pass"
            }
        );
        ExitCode::from(1)
    }
}

/// Writes `results.json` and `report.html` (with `headline` at its top) to
/// `out`, and prints the report's path.
fn write_page(
    out: &Path,
    title: &str,
    story: &[String],
    results: &RunResults,
    timelines: &[Option<Timeline>],
    headline: omnisim_reports::html::Headline<'_>,
) -> Result<(), ExitCode> {
    let page = omnisim_reports::html::Page {
        title,
        story,
        results,
        timelines,
    };
    let written = std::fs::create_dir_all(out)
        .and_then(|()| std::fs::write(out.join("results.json"), omnisim_reports::to_json(results)))
        .and_then(|()| {
            std::fs::write(
                out.join("report.html"),
                omnisim_reports::html::render_with_headline(&page, Some(headline)),
            )
        });
    if let Err(e) = written {
        eprintln!("omnisim demo: cannot write to {}: {e}", out.display());
        return Err(ExitCode::from(2));
    }
    crate::say!();
    crate::say!("report: {}", out.join("report.html").display());
    Ok(())
}

/// `omnisim demo FILE.toml`: a consultant's own case told as a story, one
/// run. It succeeds when the scenario meets its own expectation (a
/// demonstration case names the violations it must show in `expect`).
fn own_case(file: &Path, out: Option<PathBuf>) -> ExitCode {
    let loaded = match validate::load(file) {
        Ok(l) => l,
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            return ExitCode::from(2);
        }
    };
    let judged = suite::run_one(&loaded, None);
    let sc = &loaded.scenario;
    let mut story = vec![format!("omnisim demo {}: {}", file.display(), sc.name)];
    if !sc.description.trim().is_empty() {
        story.push(format!("   {}", sc.description.trim()));
    }
    story.push(String::new());
    story.extend(tell(&loaded, &judged.result, &judged.timeline));
    for line in &story {
        crate::say!("{line}");
    }
    let ok = judged.result.status == Status::Pass;
    let stem = file
        .file_stem()
        .map_or_else(|| "case".to_owned(), |s| s.to_string_lossy().into_owned());
    let out = out.unwrap_or_else(|| PathBuf::from("target/omnisim").join(format!("demo-{stem}")));
    let results = RunResults {
        schema_version: SCHEMA_VERSION,
        scenarios: vec![judged.result.clone()],
    };
    let headline = if ok {
        "The case showed what it should: it met its expectation.".to_owned()
    } else {
        format!(
            "The case did not meet its expectation: {}.",
            judged.result.reasons.join("; ")
        )
    };
    let headline = omnisim_reports::html::Headline {
        ok,
        text: &headline,
    };
    let title = format!("omnisim demo: {}", sc.name);
    if let Err(code) = write_page(
        &out,
        &title,
        &story,
        &results,
        &[Some(judged.timeline.clone())],
        headline,
    ) {
        return code;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        crate::say!(
            "the case did not meet its expectation: {}",
            judged.result.reasons.join("; ")
        );
        ExitCode::from(1)
    }
}

/// The run in plain words: each thing a person did, with what each channel
/// then showed, each oversold unit, and the verdict.
fn tell(loaded: &validate::Loaded, r: &ScenarioResult, tl: &Timeline) -> Vec<String> {
    let mut out = Vec::new();
    for c in &tl.stock {
        let truth = value_at(c, SeriesKind::Truth, tl.start);
        out.push(format!(
            "   At opening: {} × {} at {}.",
            truth.unwrap_or(0),
            c.title,
            c.location_name
        ));
    }
    let mut ops: Vec<_> = tl
        .lanes
        .iter()
        .flat_map(|l| &l.ops)
        .filter(|o| o.outcome != OpOutcome::Change && !o.process.starts_with("nemesis"))
        .collect();
    ops.sort_by_key(|o| (o.start, o.index));
    let faults: Vec<_> = tl.faults.iter().collect();
    let mut told_faults = 0;
    let mut seen = tl.start;
    for (n, op) in ops.iter().enumerate() {
        out.extend(catch_up(tl, seen, op.start));
        while let Some(f) = faults.get(told_faults)
            && f.from <= op.start
        {
            out.push(format!(
                "   {} from now until {}, {}.",
                f.from.format("%H:%M"),
                f.to.format("%H:%M"),
                plain_fault(&f.label)
            ));
            told_faults += 1;
        }
        let verdict = match op.outcome {
            OpOutcome::Ok => "done".to_owned(),
            OpOutcome::Fail => op.result.split(':').next().unwrap_or("refused").to_owned(),
            _ => "no answer".to_owned(),
        };
        out.push(format!(
            "   {} {}: {verdict}.",
            op.start.format("%H:%M"),
            op.summary
        ));
        // What each channel shows when the next person acts (or a minute on).
        let next = ops.get(n + 1).map(|o| o.start - TimeDelta::milliseconds(1));
        let look = next
            .unwrap_or(op.end + TimeDelta::minutes(1))
            .min(op.end + TimeDelta::minutes(1))
            .max(op.end);
        seen = look;
        for c in &tl.stock {
            let before = |k| value_at(c, k, op.start - TimeDelta::milliseconds(1));
            let after = |k| value_at(c, k, look);
            let view = |k, who: &str| match (before(k), after(k)) {
                (Some(b), Some(a))
                    if a == b
                        && before(SeriesKind::Truth) != after(SeriesKind::Truth)
                        && Some(a) != after(SeriesKind::Truth) =>
                {
                    Some(format!("{who} still shows {a}"))
                }
                (_, Some(a)) => Some(format!("{who} shows {a}")),
                _ => None,
            };
            let mut parts: Vec<String> = [
                view(SeriesKind::Shop, "shop"),
                view(SeriesKind::Pos, "register"),
            ]
            .into_iter()
            .flatten()
            .collect();
            if let Some(t) = after(SeriesKind::Truth) {
                parts.push(format!("truly available {t}"));
            }
            if !parts.is_empty() && ops_touch(op, loaded, &c.sku) {
                out.push(format!("         {}: {}.", c.title, parts.join(", ")));
            }
        }
        for o in tl
            .oversells
            .iter()
            .filter(|o| o.index == op.done_index.unwrap_or(u64::MAX))
        {
            let title = tl
                .stock
                .iter()
                .find(|c| c.sku == o.sku)
                .map_or(o.sku.as_str(), |c| c.title.as_str());
            let unit = if o.units == 1 { "1 unit" } else { "units" };
            let unit = if o.units == 1 {
                unit.to_owned()
            } else {
                format!("{} {unit}", o.units)
            };
            out.push(format!(
                "         !! {unit} of {title} ({}) sold twice: oversold by {}{}.",
                o.sku,
                o.units,
                o.victim
                    .as_ref()
                    .map(|v| format!("; web order {v} can no longer be filled"))
                    .unwrap_or_default()
            ));
        }
    }
    out.extend(catch_up(tl, seen, tl.end));
    for c in &tl.stock {
        let v = |k| value_at(c, k, tl.end);
        let truth = v(SeriesKind::Truth).unwrap_or(0);
        let there = truth.max(0);
        for (k, who) in [
            (SeriesKind::Shop, "the shop"),
            (SeriesKind::Pos, "the register"),
        ] {
            match v(k) {
                Some(x) if x > there => out.push(format!(
                    "   !! At closing {who} offers {x} × {} at {}, but only {there} are there: {} too many.",
                    c.title,
                    c.location_name,
                    x - there
                )),
                Some(x) if x < truth => out.push(format!(
                    "   !! At closing {who} shows {x} × {} at {}, but {truth} are there: sales lost.",
                    c.title, c.location_name
                )),
                _ => {}
            }
        }
    }
    for m in &tl.money {
        if m.intents.is_empty() {
            continue;
        }
        let who = m
            .customer
            .as_ref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        out.push(format!(
            "   Money, {} order {}{who}: total {} {}; card authorized {}, charged {}, refunded {} (the {} shows {} refunded).",
            m.channel,
            m.order,
            m.total,
            m.currency,
            m.authorized,
            m.captured,
            m.refunded,
            if m.channel == "online" { "shop" } else { "POS" },
            m.refunded_by_seller
        ));
    }
    match r.status {
        Status::Pass if r.checks.iter().any(|c| c.status == Status::Fail) => out.push(
            "   Verdict: as expected. The failures the case names showed, and every other check held."
                .into(),
        ),
        Status::Pass => {
            out.push("   Verdict: every check held. Nothing oversold, every channel agrees.".into())
        }
        Status::Fail => out.push("   Verdict: FAILED.".into()),
    }
    // Every violation, grouped by check (expected ones, in a case that
    // names them, too: they are what the case shows).
    for c in r.checks.iter().filter(|c| c.status == Status::Fail) {
        let mark = if c.expected_to_fail {
            " (expected)"
        } else {
            ""
        };
        if c.violations.len() == 1 {
            out.push(format!(
                "     {}{mark}: {}",
                c.name, c.violations[0].message
            ));
        } else {
            out.push(format!(
                "     {}{mark}: {} violations",
                c.name,
                c.violations.len()
            ));
            for v in &c.violations {
                out.push(format!("       - {}", v.message));
            }
        }
    }
    out.push(format!("   (reproduce: {})", r.reproduce));
    out
}

/// The channels' views changing on their own between two moments (the
/// connector catching up), one line per minute in which they changed.
fn catch_up(tl: &Timeline, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let mut minutes: Vec<DateTime<Utc>> = tl
        .stock
        .iter()
        .flat_map(|c| &c.series)
        .filter(|s| s.kind != SeriesKind::Truth)
        .flat_map(|s| &s.points)
        .filter(|p| p.time > from && p.time < to)
        .map(|p| p.time)
        .collect();
    minutes.sort();
    let mut out = Vec::new();
    let mut last_minute = String::new();
    for (i, t) in minutes.iter().enumerate() {
        let minute = t.format("%H:%M").to_string();
        let next_same = minutes
            .get(i + 1)
            .is_some_and(|n| n.format("%H:%M").to_string() == minute);
        if next_same || minute == last_minute {
            continue;
        }
        last_minute = minute.clone();
        let views: Vec<String> = tl
            .stock
            .iter()
            .map(|c| {
                let v = |k| c.series.iter().find(|s| s.kind == k).and_then(|s| s.at(*t));
                let mut parts = Vec::new();
                if let Some(x) = v(SeriesKind::Shop) {
                    parts.push(format!("shop shows {x}"));
                }
                if let Some(x) = v(SeriesKind::Pos) {
                    parts.push(format!("register shows {x}"));
                }
                format!("{}: {}", c.title, parts.join(", "))
            })
            .collect();
        out.push(format!(
            "   {minute} the connector passes the change on. {}.",
            views.join("; ")
        ));
        if out.len() == 4 {
            out.push("   …".into());
            break;
        }
    }
    out
}

/// Whether an operation is about a SKU (its step names it), so the story
/// shows only the stock it changes.
fn ops_touch(op: &omnisim_reports::timeline::LaneOp, loaded: &validate::Loaded, sku: &str) -> bool {
    if loaded.scenario.merchant.catalog.len() == 1 {
        return true;
    }
    op.summary.contains(sku)
        || loaded
            .scenario
            .merchant
            .catalog
            .iter()
            .any(|c| c.sku.get_ref() == sku && op.summary.contains(&c.title))
}

fn value_at(
    c: &omnisim_reports::timeline::StockChart,
    kind: SeriesKind,
    t: DateTime<Utc>,
) -> Option<i64> {
    c.series
        .iter()
        .find(|s| s.kind == kind)
        .and_then(|s| s.at(t))
}

/// `pos: webhooks duplicated (100%)` as `on the POS: webhooks duplicated (100%)`.
fn plain_fault(label: &str) -> String {
    let system = |t: &str| match t {
        "pos" => "the POS",
        "shop" => "the shop",
        "pay" => "the gateway",
        _ => "the system",
    };
    match label.split_once(": ") {
        Some((target, what)) => format!("on {}: {what}", system(target)),
        None => label.to_owned(),
    }
}
