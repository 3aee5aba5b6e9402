//! The shipped suite, as CI must see it: every scenario meets its expectation
//! and runs byte-identically twice; the schema file matches the format; and
//! weaker connectors fail the checks that should catch them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use omnisim_engine::{Strategy, WriteMode};
use omnisim_harness::{suite, validate};
use omnisim_reports::Status;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

#[test]
fn the_shipped_suite_passes_and_is_deterministic() {
    let files = suite::discover(&[scenarios_dir()]).expect("scenarios exist");
    assert!(!files.is_empty());
    let mut loaded = suite::load_all(&files).unwrap_or_else(|errors| {
        panic!(
            "{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    // `OMNISIM_SUITE_ONLY=a,b` keeps the scenarios whose path contains `a`
    // or `b`: benches/mutants.sh uses it to ask whether new scenarios catch
    // chosen mutants, without the rest of the suite.
    if let Ok(only) = std::env::var("OMNISIM_SUITE_ONLY") {
        let wanted: Vec<&str> = only.split(',').filter(|w| !w.is_empty()).collect();
        loaded.retain(|l| {
            let path = l.file.to_string_lossy();
            wanted.iter().any(|w| path.contains(w))
        });
        assert!(
            !loaded.is_empty(),
            "OMNISIM_SUITE_ONLY={only} matches no scenario"
        );
    }
    // Under cargo-mutants (benches/mutants.sh) the first failing scenario is
    // the verdict and each scenario runs once: a caught mutant costs seconds.
    let fail_fast = std::env::var_os("OMNISIM_SUITE_FAIL_FAST").is_some();
    // Scenarios are independent worlds, so they run on every core; failures
    // are reported in file order whatever order they finished in.
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(loaded.len());
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(l) = loaded.get(i) else { break };
                    if let Some(failure) = judge_twice(l, !fail_fast) {
                        failures.lock().unwrap().push((i, failure));
                        stop.store(fail_fast, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    let failures: Vec<String> = failures.into_iter().map(|(_, f)| f).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Why `l` fails the suite: it missed its expectation, or (with `twice`) the
/// same seed gave two histories or two verdicts.
fn judge_twice(l: &validate::Loaded, twice: bool) -> Option<String> {
    let first = suite::run_one(l, None);
    if first.result.status != Status::Pass {
        return Some(format!(
            "{}: {}",
            l.file.display(),
            first.result.reasons.join("; ")
        ));
    }
    if !twice {
        return None;
    }
    let second = suite::run_one(l, None);
    if first.history_jsonl != second.history_jsonl {
        return Some(format!(
            "{}: the same seed gave two histories",
            l.file.display()
        ));
    }
    let mut a = first.result.clone();
    let mut b = second.result;
    a.wall_ms = 0;
    b.wall_ms = 0;
    (a != b).then(|| {
        format!(
            "{}: the same seed gave two verdicts:\n{a:?}\n{b:?}",
            l.file.display()
        )
    })
}

#[test]
fn the_schema_file_matches_the_format() {
    let committed = std::fs::read_to_string(scenarios_dir().join("schema.json"))
        .expect("scenarios/schema.json");
    assert!(
        committed == suite::schema_json(),
        "scenarios/schema.json is stale: run `cargo run -- schema > scenarios/schema.json`"
    );
}

#[test]
fn every_scenario_has_one_row_in_the_readme_table_in_path_order() {
    let readme = std::fs::read_to_string(scenarios_dir().join("README.md")).expect("README");
    let rows: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once("` |").map(|(path, _)| path))
        .filter(|p| p.ends_with(".toml") && p.contains('/'))
        .collect();
    let dir = scenarios_dir();
    let mut files: Vec<String> = suite::discover(std::slice::from_ref(&dir))
        .expect("scenarios exist")
        .iter()
        .map(|f| {
            f.strip_prefix(&dir)
                .unwrap_or(f)
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    files.sort();
    let mut sorted = rows.clone();
    sorted.sort();
    assert_eq!(
        rows, sorted,
        "scenarios/README.md: the table is not in path order"
    );
    assert_eq!(
        rows, files,
        "scenarios/README.md: the table must list every scenario file once"
    );
}

/// A store sale at 10:00:00 and an online order at 10:00:01, with POS
/// webhooks late by 3 s and delivered twice. The sale's count reaches the
/// engine after the online order was placed: an absolute write of that count
/// erases the order's unit; a delta does not. Duplicates must apply once.
const CONCURRENT: &str = r#"
name = "Both channels sell the same SKU within a second, POS webhooks late and doubled"
[merchant]
locations = [{ id = "store-1", kind = "store" }]
pos = { sell_when_out_of_stock = "allow" }
[[merchant.catalog]]
sku = "TEE"
title = "Tee"
price = "20.00"
stock = { "store-1" = 6 }
[[step]]
at = "09:30"
actor = "nemesis"
action = "faults"
target = "pos"
faults = { webhooks = { delay = { kind = "fixed", ms = 3000 }, duplicate_rate = 1.0, duplicate_simultaneous = true } }
[[step]]
at = "10:00:00"
actor = "pos"
action = "sale"
location = "store-1"
lines = { TEE = 2 }
[[step]]
at = "10:00:01"
actor = "shop"
action = "checkout"
customer = "ana"
lines = { TEE = 1 }
pickup_location = "store-1"
"#;

fn verdicts(strategy: Option<Strategy>) -> Vec<(String, Status)> {
    let loaded = validate::load_str(Path::new("concurrent.toml"), CONCURRENT).expect("valid");
    let judged = match strategy {
        Some(s) => suite::run_one_with(&loaded, Some(3), s),
        None => suite::run_one(&loaded, Some(3)),
    };
    judged
        .result
        .checks
        .iter()
        .map(|c| (c.name.clone(), c.status))
        .collect()
}

fn failing(v: &[(String, Status)]) -> Vec<&str> {
    v.iter()
        .filter(|(_, s)| *s == Status::Fail)
        .map(|(n, _)| n.as_str())
        .collect()
}

#[test]
fn weaker_connectors_fail_the_checks_that_catch_them() {
    assert_eq!(
        failing(&verdicts(None)),
        Vec::<&str>::new(),
        "the default engine keeps every invariant"
    );
    let set = verdicts(Some(Strategy {
        write: WriteMode::Set,
        ..Strategy::default()
    }));
    assert!(
        failing(&set).contains(&"stock_converges"),
        "absolute writes lose updates: {set:?}"
    );
    let no_dedupe = verdicts(Some(Strategy {
        dedupe: false,
        ..Strategy::default()
    }));
    assert!(
        failing(&no_dedupe).contains(&"exactly_once"),
        "duplicates apply twice: {no_dedupe:?}"
    );
    assert!(
        failing(&no_dedupe).contains(&"stock_converges"),
        "and stock drifts: {no_dedupe:?}"
    );
}
