//! The readable outputs of a fixed, seeded run: the oversell demo's naive
//! setup (fails), its recommended setup (passes) and a shipped scenario that
//! expects its failure (passes). Markdown and JUnit are snapshots; the
//! timeline and the HTML are checked for what a reader must find in them.

use std::path::Path;

use omnisim_harness::suite::{self, Judged};
use omnisim_harness::validate;
use omnisim_reports::model::SCHEMA_VERSION;
use omnisim_reports::timeline::{OpOutcome, SeriesKind, Timeline};
use omnisim_reports::{RunResults, Status};

const FILES: [(&str, &str); 3] = [
    (
        "demos/oversell/naive.toml",
        include_str!("../../demos/oversell/naive.toml"),
    ),
    (
        "demos/oversell/recommended.toml",
        include_str!("../../demos/oversell/recommended.toml"),
    ),
    (
        "scenarios/last-unit/poll-15m-oversells.toml",
        include_str!("../../scenarios/last-unit/poll-15m-oversells.toml"),
    ),
];

fn run() -> (RunResults, Vec<Judged>) {
    let judged: Vec<Judged> = FILES
        .iter()
        .map(|(file, src)| {
            let loaded = validate::load_str(Path::new(file), src).expect("the file loads");
            let mut j = suite::run_one(&loaded, None);
            // Wall time is the one figure that differs between runs.
            j.result.wall_ms = 0;
            j
        })
        .collect();
    let results = RunResults {
        schema_version: SCHEMA_VERSION,
        scenarios: judged.iter().map(|j| j.result.clone()).collect(),
    };
    (results, judged)
}

fn html(results: &RunResults, judged: &[Judged]) -> String {
    let timelines: Vec<Option<Timeline>> =
        judged.iter().map(|j| Some(j.timeline.clone())).collect();
    omnisim_reports::html::render(&omnisim_reports::html::Page {
        title: "fixed run",
        story: &[],
        results,
        timelines: &timelines,
    })
}

#[test]
fn markdown_and_junit_name_the_scenario_the_check_and_the_witness() {
    let (results, _) = run();
    assert_eq!(results.scenarios[0].status, Status::Fail);
    assert_eq!(results.scenarios[1].status, Status::Pass);
    assert_eq!(results.scenarios[2].status, Status::Pass);
    let md = omnisim_reports::markdown::render(&results);
    let junit = omnisim_reports::junit::render(&results);
    for text in [&md, &junit] {
        assert!(text.contains("Oversell, naive setup"), "{text}");
        assert!(text.contains("no_oversell"), "{text}");
        assert!(text.contains("store sale sale_000001"), "{text}");
    }
    insta::assert_snapshot!("summary_md", md);
    insta::assert_snapshot!("junit_xml", junit);
}

#[test]
fn the_timeline_shows_the_oversell_on_each_channel() {
    let (_, judged) = run();
    let tl = &judged[0].timeline;
    let at = |h: u32, m: u32, s: u32| {
        chrono::NaiveDate::from_ymd_opt(2026, 3, 2)
            .and_then(|d| d.and_hms_opt(h, m, s))
            .expect("a time")
            .and_utc()
    };
    assert_eq!(tl.oversells.len(), 1, "{:?}", tl.oversells);
    let o = &tl.oversells[0];
    assert_eq!((o.sku.as_str(), o.units), ("MUG-RED", 1));
    assert_eq!(o.victim.as_deref(), Some("ord_000001"));
    let chart = tl
        .stock
        .iter()
        .find(|c| c.sku == "MUG-RED" && c.location == "store-1")
        .expect("a chart for the mug");
    let series = |k: SeriesKind| {
        chart
            .series
            .iter()
            .find(|s| s.kind == k)
            .expect("the series")
    };
    // 10:05: the shop shows 0, the register still 1, the truth 0.
    assert_eq!(series(SeriesKind::Shop).at(at(10, 5, 0)), Some(0));
    assert_eq!(series(SeriesKind::Pos).at(at(10, 5, 0)), Some(1));
    assert_eq!(series(SeriesKind::Truth).at(at(10, 5, 0)), Some(0));
    // 10:08: sold twice, one unit short.
    assert_eq!(series(SeriesKind::Truth).at(at(10, 8, 0)), Some(-1));
    let lanes: Vec<&str> = tl.lanes.iter().map(|l| l.key.as_str()).collect();
    // The gateway has its lane: it authorized Ana's card and voided it.
    assert_eq!(lanes, ["shop", "pos", "staff", "pay", "engine"]);
    // The recommended run's register refuses the 10:07 sale.
    let pos = &judged[1].timeline.lanes[1];
    assert_eq!(pos.key, "pos");
    assert_eq!(pos.ops[0].outcome, OpOutcome::Fail);
    // Money: Ana's authorization is voided, never captured.
    let ana = tl
        .money
        .iter()
        .find(|r| r.order == "ord_000001")
        .expect("Ana's order");
    assert_eq!(
        (
            ana.authorized.as_str(),
            ana.captured.as_str(),
            ana.status.as_str()
        ),
        ("12.50", "0.00", "voided")
    );
}

#[test]
fn the_html_marks_the_oversell_and_every_witness_link_has_a_target() {
    let (results, judged) = run();
    let page = html(&results, &judged);
    assert!(page.contains("oversold 1 at 10:07"), "the chart marks it");
    // Self-contained: nothing is fetched (the SVG namespace is only a name).
    assert!(!page.contains(" src="), "no outside script or image");
    assert!(!page.contains("<link "), "no outside stylesheet");
    assert!(
        !page.contains("url("),
        "no outside font or image in the CSS"
    );
    let mut links = 0;
    for (at, _) in page.match_indices("href=\"#s") {
        let rest = &page[at + 7..];
        let id = &rest[..rest.find('"').expect("a closing quote")];
        assert!(
            page.contains(&format!("id=\"{id}\"")),
            "a link to #{id} with no target"
        );
        links += 1;
    }
    assert!(links > 5, "{links} links");
    // Same seed, same page.
    let (again, judged_again) = run();
    assert_eq!(page, html(&again, &judged_again));
}

/// A witness that points at an actor's operation is labelled from that
/// operation: the staff cancel at 11:30 is a cancel, not the order's
/// acceptance (issue 18: #63 read "web order ord_000001 accepted").
#[test]
fn each_witness_is_labelled_by_the_operation_it_points_to() {
    let (results, judged) = run();
    let mut seen = 0;
    for (s, j) in results.scenarios.iter().zip(&judged) {
        let ops: std::collections::BTreeMap<u64, (String, String)> = j
            .history_jsonl
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["entry"] == "op" && e["type"] == "ok")
            .map(|e| {
                (
                    e["index"].as_u64().unwrap_or(u64::MAX),
                    (
                        e["f"].as_str().unwrap_or("").to_owned(),
                        e["process"].as_str().unwrap_or("").to_owned(),
                    ),
                )
            })
            .collect();
        for w in s
            .checks
            .iter()
            .flat_map(|c| &c.violations)
            .flat_map(|v| &v.witnesses)
        {
            let Some((f, process)) = ops.get(&w.index) else {
                continue;
            };
            seen += 1;
            let word = match f.as_str() {
                "checkout" => "placed",
                "cancel" => "cancelled",
                "fulfil" => "fulfilled",
                "pickup" => "collected",
                other => other,
            };
            assert!(
                w.what.contains(word),
                "witness #{} is a `{f}` by {process}, labelled {:?}",
                w.index,
                w.what
            );
        }
    }
    assert!(
        seen >= 3,
        "the oversell's sale, checkout and cancel are witnesses"
    );
    let junit = omnisim_reports::junit::render(&results);
    assert!(
        junit.contains("#63 11:30:01.964 staff cancelled web order ord_000001"),
        "{junit}"
    );
}
