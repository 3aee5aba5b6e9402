//! Randomized exploration: it finds what a naive connector breaks and shrinks
//! it to a readable scenario, finds nothing against the reference engine
//! under every fault, and every case is byte-deterministic. Also: each new
//! fault of the catalogue visibly takes effect, in the history and the
//! verdicts.

use std::path::{Path, PathBuf};

use omnisim_harness::explore::{
    self, Budget, EngineChoice, ExploreConfig, FaultProfile, Shape, ShrinkLimits,
};
use omnisim_harness::history::{Entry, OpType};
use omnisim_harness::{suite, validate};
use omnisim_reports::Status;

fn config(
    engine: EngineChoice,
    faults: FaultProfile,
    cases: u64,
    max_steps: usize,
) -> ExploreConfig {
    ExploreConfig {
        seed: 1,
        budget: Budget::Cases(cases),
        engine,
        shape: Shape {
            max_steps,
            max_skus: 3,
            faults,
        },
        check_determinism: false,
        jobs: 1,
        shrink: ShrinkLimits {
            max_runs: 250,
            max_time: std::time::Duration::from_secs(300),
        },
        checks: Vec::new(),
        defects: Vec::new(),
    }
}

fn no_finding(report: &explore::Report) {
    if let Some(f) = &report.found {
        panic!(
            "exploration found {:?} after {} cases:\n{}",
            f.violations, report.cases, f.toml
        );
    }
}

#[test]
fn naive_set_strategy_oversells_and_shrinks_to_at_most_six_steps() {
    let mut c = config(EngineChoice::Naive, FaultProfile::None, 100, 10);
    c.checks = vec!["no_oversell".into()];
    let report = explore::explore(&c, &|_| {});
    let found = report
        .found
        .expect("the naive engine oversells within 100 cases");
    assert!(
        found
            .violations
            .iter()
            .any(|v| v.starts_with("no_oversell")),
        "{:?}",
        found.violations
    );
    assert!(
        found.steps <= 6,
        "shrunk to {} steps:\n{}",
        found.steps,
        found.toml
    );
    assert!(found.toml.contains(&format!("seed = {}", found.seed)));
    // The regression file is a normal scenario that `omnisim run` fails on.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("explore-naive");
    let path = found.write_to(&dir).expect("the file is written");
    let loaded = validate::load(&path).expect("the regression file validates");
    let judged = suite::run_one(&loaded, None);
    assert_eq!(judged.result.status, Status::Fail, "{:?}", judged.result);
    let oversell = judged
        .result
        .checks
        .iter()
        .find(|c| c.name == "no_oversell")
        .expect("no_oversell is judged");
    assert_eq!(oversell.status, Status::Fail);
    // Refused steps were marked as expected: only invariants fail.
    assert!(
        judged.result.step_problems.is_empty(),
        "{:?}",
        judged.result.step_problems
    );
}

#[test]
fn default_strategy_survives_random_windows_of_every_fault() {
    let report = explore::explore(
        &config(EngineChoice::Default, FaultProfile::Random, 200, 10),
        &|_| {},
    );
    assert_eq!(report.cases, 200);
    no_finding(&report);
}

#[test]
fn default_strategy_keeps_every_invariant_on_a_fault_heavy_day() {
    // 20 % of webhooks dropped, 20 % duplicated, reordered, 5 % of API calls
    // 5xx, and the engine crashing every 10 simulated minutes.
    let report = explore::explore(
        &config(EngineChoice::Default, FaultProfile::Heavy, 15, 25),
        &|_| {},
    );
    assert_eq!(report.cases, 15);
    no_finding(&report);
}

#[test]
fn determinism_guard_every_case_runs_twice_to_the_same_bytes() {
    let mut c = config(EngineChoice::Default, FaultProfile::Random, 200, 4);
    c.seed = 7;
    c.check_determinism = true;
    let report = explore::explore(&c, &|_| {});
    assert_eq!(report.cases, 200);
    no_finding(&report);
}

#[test]
fn a_case_is_reproduced_by_its_seed_alone() {
    let shape = Shape::default();
    let seed = explore::case_seed(1, 3);
    let plan = explore::shrink::generate(shape, seed);
    assert_eq!(plan, explore::shrink::generate(shape, seed));
    let a = explore::run_case(&plan, seed, EngineChoice::Default, shape.faults, false);
    let b = explore::run_case(&plan, seed, EngineChoice::Default, shape.faults, false);
    assert_eq!(a.rendered.toml, b.rendered.toml);
    assert!(
        a.history.to_jsonl() == b.history.to_jsonl(),
        "same seed, same bytes"
    );
    assert!(a.rendered.steps > 0);
}

fn scenario(rel: &str) -> validate::Loaded {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(rel);
    validate::load(&path).unwrap_or_else(|e| panic!("{rel}: {e:?}"))
}

fn history_of(rel: &str) -> (suite::Judged, Vec<Entry>) {
    let loaded = scenario(rel);
    let judged = suite::run_one(&loaded, None);
    let entries = judged
        .history_jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("history lines parse"))
        .collect();
    (judged, entries)
}

fn status(j: &suite::Judged, check: &str) -> Status {
    j.result
        .checks
        .iter()
        .find(|c| c.name == check)
        .map(|c| c.status)
        .expect("the check ran")
}

fn http<'a>(entries: &'a [Entry], url: &str) -> Vec<(&'a Option<u16>, &'a Option<String>)> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::Http {
                url: u,
                status,
                error,
                ..
            } if u == url => Some((status, error)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_partition_cuts_the_connector_off_and_costs_an_oversell() {
    let (j, entries) = history_of("faults/partition-pos-from-connector.toml");
    assert_eq!(j.result.status, Status::Pass, "{:?}", j.result.reasons);
    // The partition step cut from 10:00 to 10:20 and says what it cost: the
    // connector's requests the POS refused and the webhook attempts that failed.
    let (cut_at, healed_at, cost) = {
        let ops: Vec<_> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Op {
                    time,
                    f,
                    kind,
                    value,
                    ..
                } if f == "partition" => Some((*time, *kind, value)),
                _ => None,
            })
            .collect();
        let invoked = ops.iter().find(|o| o.1 == OpType::Invoke).expect("invoked");
        let done = ops.iter().find(|o| o.1 == OpType::Ok).expect("not refused");
        (invoked.0, done.0, done.2.clone())
    };
    assert!(
        cost["connector_requests_refused"].as_u64() > Some(10),
        "{cost}"
    );
    assert!(cost["webhook_attempts_failed"].as_u64() > Some(0), "{cost}");
    // In the history: every poll of the POS feed sent during the window went
    // unanswered (the connector's own timeout, or 503 `partitioned` at the
    // heal), and polls after the heal succeed.
    let polls: Vec<_> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Http {
                sent, url, status, ..
            } if url.starts_with("http://pos.sim/v1/events") => Some((*sent, *status)),
            _ => None,
        })
        .collect();
    let during: Vec<_> = polls
        .iter()
        .filter(|(sent, _)| *sent >= cut_at && *sent < healed_at)
        .collect();
    assert!(during.len() > 10, "{during:?}");
    assert!(
        during.iter().all(|(_, s)| s.is_none() || *s == Some(503)),
        "{during:?}"
    );
    assert!(
        polls
            .iter()
            .any(|(sent, s)| *sent > healed_at && *s == Some(200))
    );
    // No POS webhook reached the connector during the window; the failed ones
    // were retried and arrived after the heal.
    let hooks: Vec<_> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Http {
                sent, url, status, ..
            } if url == "http://engine.sim/webhooks/pos" => Some((*sent, *status)),
            _ => None,
        })
        .collect();
    assert!(
        hooks
            .iter()
            .all(|(sent, _)| *sent < cut_at || *sent >= healed_at),
        "{hooks:?}"
    );
    assert!(
        hooks
            .iter()
            .any(|(sent, s)| *sent >= healed_at && *s == Some(200))
    );
    // The clerk's own sale went through: only the connector was cut off.
    assert!(entries.iter().any(|e| matches!(
        e,
        Entry::Op { f, kind: OpType::Ok, .. } if f == "sale"
    )));
    assert_eq!(status(&j, "no_oversell"), Status::Fail);
    assert_eq!(status(&j, "stock_converges"), Status::Pass);
}

#[test]
fn a_rotated_secret_signs_twice_during_the_overlap_only() {
    let (j, entries) = history_of("faults/secret-rotation.toml");
    assert_eq!(j.result.status, Status::Pass, "{:?}", j.result.reasons);
    let mut before = Vec::new();
    let mut after = Vec::new();
    for e in &entries {
        if let Entry::Http {
            time, url, status, ..
        } = e
            && url == "http://engine.sim/webhooks/pay"
        {
            let t = time.format("%H:%M").to_string();
            if t.as_str() < "10:10" {
                before.push(*status);
            } else {
                after.push(*status);
            }
        }
    }
    assert!(
        !before.is_empty() && before.iter().all(|s| *s == Some(200)),
        "{before:?}"
    );
    assert!(
        !after.is_empty() && after.iter().all(|s| *s == Some(401)),
        "{after:?}"
    );
    assert_eq!(status(&j, "ledger_reconciles"), Status::Pass);
}

#[test]
fn clock_skew_shifts_one_platforms_stamps() {
    let (j, entries) = history_of("faults/clock-skew.toml");
    assert_eq!(j.result.status, Status::Pass, "{:?}", j.result.reasons);
    // Ana's 10:20 order is stamped ten minutes fast by the shop; the
    // history knows by how much, so its true time is 10:20.
    let created = entries
        .iter()
        .find(|e| {
            matches!(e, Entry::Event { platform, event, .. }
                if platform == "shop" && event.kind == "orders/create")
        })
        .expect("the order was created");
    let Entry::Event { event, skew_ms, .. } = created else {
        unreachable!()
    };
    assert_eq!(event.occurred_at.format("%H:%M").to_string(), "10:30");
    assert_eq!(*skew_ms, Some(600_000));
    assert_eq!(created.true_time().format("%H:%M").to_string(), "10:20");
    // Timed by true commits, the sale reached the shop at once: no false
    // breach of the service level.
    assert_eq!(status(&j, "sync_latency"), Status::Pass);
    assert_eq!(status(&j, "no_oversell"), Status::Pass);
}

#[test]
fn duplicate_deliveries_arrive_twice_and_apply_once() {
    let (j, entries) = history_of("faults/duplicate-webhooks.toml");
    assert_eq!(j.result.status, Status::Pass, "{:?}", j.result.reasons);
    let pos_events_in_window = entries
        .iter()
        .filter(|e| {
            matches!(e, Entry::Event { platform, event, .. }
            if platform == "pos" && event.occurred_at.format("%H").to_string() == "10")
        })
        .count();
    let deliveries = http(&entries, "http://engine.sim/webhooks/pos").len();
    assert!(pos_events_in_window > 0);
    assert!(
        deliveries >= 2 * pos_events_in_window,
        "{deliveries} deliveries for {pos_events_in_window} events"
    );
    assert_eq!(status(&j, "exactly_once"), Status::Pass);
}

#[test]
fn a_crash_loses_only_uncommitted_work() {
    let (j, entries) = history_of("faults/crash-mid-rush.toml");
    assert_eq!(j.result.status, Status::Pass, "{:?}", j.result.reasons);
    // Webhooks sent while the connector was down found nobody.
    let refused = http(&entries, "http://engine.sim/webhooks/pos")
        .iter()
        .filter(|(s, _)| s.is_none_or(|s| s >= 400))
        .count();
    assert!(refused > 0, "some deliveries failed while it was down");
    for check in ["exactly_once", "stock_converges", "no_oversell"] {
        assert_eq!(status(&j, check), Status::Pass, "{check}");
    }
}

#[test]
fn the_new_nemesis_actions_are_validated() {
    let src = r#"
name = "x"
[merchant]
locations = [{ id = "store-1" }]
catalog = []
[[step]]
at = "10:00"
actor = "nemesis"
action = "partition"
target = "pos"
[[step]]
at = "10:01"
actor = "nemesis"
action = "rotate"
"#;
    let errors: Vec<String> = validate::load_str(Path::new("t.toml"), src)
        .expect_err("both steps lack a field")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("`nemesis` `partition` needs `duration`")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("`nemesis` `rotate` needs `target`")),
        "{errors:?}"
    );
}
