//! `omnisim certify --level 1` against the example connectors in
//! `examples/connectors/`, written from `docs/connector-contract.md` alone
//! and using none of the reference engine's conventions: each gets the
//! verdict its behaviour deserves, judged by the platforms' records.
//!
//! - `delta_connector.py` (differences, no `reference` at all) and
//!   `cas_connector.py` (compare-and-set on the shop) are certified (and at
//!   level 3 on the whole profile, in an ignored test: about 3 minutes each);
//! - `absolute_connector.py` (prompt absolute writes) passes, or fails only
//!   where both channels change at once, and only the checks a lost update
//!   causes;
//! - `slow_shop_to_pos.py` fails `sync_latency`, for shop → POS only;
//! - `double_apply.py` fails `exactly_once` in every scenario, although its
//!   references look exactly like the reference engine's.
//!
//! These run real processes on loopback ports (python3; skipped without
//! it) and wait on the wall clock, bounded by the certify command's own
//! timeouts. They assert verdicts, never timings: the slow connector is late
//! by 6.5 business minutes against a 5-minute SLA at any time scale.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_omnisim");

/// The level-1 scenarios of the default profile, by id.
const LEVEL_1: [&str; 4] = [
    "level-1/sales-in-both-channels",
    "level-1/counts-and-receipts",
    "level-1/concurrent-sales-last-units",
    "level-1/compare-and-set-conflict",
];

fn has_python() -> bool {
    Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What one certification run left behind.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    out: PathBuf,
    cert: Value,
}

impl Run {
    fn context(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }

    fn scenarios(&self) -> Vec<&Value> {
        self.cert["levels"][0]["scenarios"]
            .as_array()
            .map(|v| v.iter().collect())
            .unwrap_or_default()
    }

    /// Per scenario id: its status and the names of its failed checks.
    fn verdicts(&self) -> BTreeMap<String, (String, Vec<String>)> {
        self.scenarios()
            .into_iter()
            .map(|s| {
                let failed = s["checks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["status"] == "fail")
                    .filter_map(|c| c["name"].as_str().map(str::to_owned))
                    .collect();
                (
                    s["id"].as_str().unwrap_or_default().to_owned(),
                    (s["status"].as_str().unwrap_or_default().to_owned(), failed),
                )
            })
            .collect()
    }

    /// The violation messages of one check in one scenario.
    fn violations(&self, scenario: &Value, check: &str) -> Vec<String> {
        scenario["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["name"] == check)
            .flat_map(|c| c["violations"].as_array().cloned().unwrap_or_default())
            .filter_map(|v| v["message"].as_str().map(str::to_owned))
            .collect()
    }

    /// Every stock write (adjust, set, count) the connector's own key made,
    /// in every scenario's history.
    fn connector_stock_events(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let dir = self.out.join("history");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("history directory")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("history file");
            for line in text.lines() {
                let entry: Value = serde_json::from_str(line).expect("history line is JSON");
                let event = &entry["event"];
                let stock = matches!(
                    event["type"].as_str(),
                    Some("inventory.count.updated" | "inventory_levels/update")
                );
                // Its stock writes (a pickup's events carry the order ref).
                let write = matches!(
                    event["data"]["cause"]["kind"].as_str(),
                    Some("adjust" | "set" | "count")
                );
                if stock && write && event["actor"]["kind"] == "connector" {
                    out.push(event.clone());
                }
            }
        }
        out
    }
}

/// Certifies `python3 examples/connectors/<file>` at level 1 on the default
/// profile.
fn certify(file: &str) -> Run {
    let out = std::env::temp_dir().join(format!(
        "omnisim-certify-connectors-{}-{}",
        std::process::id(),
        file.trim_end_matches(".py")
    ));
    let _ = std::fs::remove_dir_all(&out);
    let connector = format!("python3 examples/connectors/{file}");
    let o = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["certify", "--connector", &connector])
        .args(["--level", "1", "--time-scale", "120"])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run omnisim certify");
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let text = std::fs::read_to_string(out.join("certificate.json"))
        .unwrap_or_else(|e| panic!("certificate.json: {e}\nstdout:\n{stdout}\nstderr:\n{stderr}"));
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout,
        stderr,
        cert: serde_json::from_str(&text).expect("certificate.json is JSON"),
        out,
    }
}

fn assert_certified_at_level_1(run: &Run) {
    assert_eq!(run.code, 0, "{}", run.context());
    assert!(
        run.stdout.contains("CERTIFIED at level 1"),
        "{}",
        run.context()
    );
    assert_eq!(run.cert["certified_level"], 1);
    let verdicts = run.verdicts();
    assert_eq!(
        verdicts.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut ids = LEVEL_1.to_vec();
            ids.sort_unstable();
            ids
        },
        "{}",
        run.context()
    );
    for (id, (status, failed)) in &verdicts {
        assert_eq!(
            status,
            "passed",
            "{id}: failed {failed:?}\n{}",
            run.context()
        );
    }
}

#[test]
fn a_connector_that_writes_differences_with_no_reference_is_certified() {
    if !has_python() {
        eprintln!("python3 not found: skipped");
        return;
    }
    let run = certify("delta_connector.py");
    assert_certified_at_level_1(&run);
    // Judged by identity alone: not one of its writes named a reference.
    let writes = run.connector_stock_events();
    assert!(!writes.is_empty(), "{}", run.context());
    for e in &writes {
        assert!(
            e["data"]["cause"]["reference"].is_null(),
            "a write with a reference: {e}"
        );
    }
}

#[test]
fn a_connector_that_compare_and_sets_is_certified() {
    if !has_python() {
        eprintln!("python3 not found: skipped");
        return;
    }
    let run = certify("cas_connector.py");
    assert_certified_at_level_1(&run);
    // Its shop writes are absolute numbers guarded by `change_from`.
    let writes = run.connector_stock_events();
    assert!(
        writes
            .iter()
            .any(|e| e["type"] == "inventory_levels/update" && e["data"]["cause"]["kind"] == "set"),
        "{}",
        run.context()
    );
    for e in &writes {
        assert!(e["data"]["cause"]["reference"].is_null(), "{e}");
    }
}

#[test]
fn a_connector_that_writes_absolute_numbers_fails_only_what_a_lost_update_causes() {
    if !has_python() {
        eprintln!("python3 not found: skipped");
        return;
    }
    let run = certify("absolute_connector.py");
    assert!(run.code == 0 || run.code == 1, "{}", run.context());
    assert!(
        run.connector_stock_events()
            .iter()
            .any(|e| e["data"]["cause"]["kind"] == "set"),
        "it writes absolute numbers\n{}",
        run.context()
    );
    // Prompt absolute writes are right whenever one channel changes at a
    // time. Where both change in the same instant, an absolute write may
    // land over the other channel's change and lose it (whether it does
    // depends on which webhook comes first): the erased change never
    // reaches the other side (`sync_latency`), the levels end wrong
    // (`stock_converges`), and a sale may be accepted on a stale number
    // (`no_oversell`). It is no double apply: `exactly_once` must pass.
    const CONCURRENT: [&str; 2] = [
        "level-1/concurrent-sales-last-units",
        "level-1/compare-and-set-conflict",
    ];
    const LOST_UPDATE: [&str; 3] = ["stock_converges", "sync_latency", "no_oversell"];
    let verdicts = run.verdicts();
    assert_eq!(verdicts.len(), LEVEL_1.len(), "{}", run.context());
    for (id, (status, failed)) in &verdicts {
        if CONCURRENT.contains(&id.as_str()) {
            for check in failed {
                assert!(
                    LOST_UPDATE.contains(&check.as_str()),
                    "{id}: {check} failed\n{}",
                    run.context()
                );
            }
            if status != "passed" {
                assert!(
                    failed
                        .iter()
                        .any(|c| c == "stock_converges" || c == "no_oversell"),
                    "{id}: a lost update shows in the levels or as an oversell: {failed:?}\n{}",
                    run.context()
                );
            }
        } else {
            assert_eq!(status, "passed", "{id}: {failed:?}\n{}", run.context());
        }
    }
}

#[test]
fn a_connector_late_from_shop_to_pos_fails_sync_latency_for_that_direction() {
    if !has_python() {
        eprintln!("python3 not found: skipped");
        return;
    }
    let run = certify("slow_shop_to_pos.py");
    assert_eq!(run.code, 1, "{}", run.context());
    assert!(
        run.stdout.contains("NOT CERTIFIED at level 1"),
        "{}",
        run.context()
    );
    for scenario in run.scenarios() {
        let id = scenario["id"].as_str().unwrap_or_default();
        let late = run.violations(scenario, "sync_latency");
        assert!(
            !late.is_empty(),
            "{id}: sync_latency passed\n{}",
            run.context()
        );
        for message in &late {
            assert!(
                message.starts_with("shop → POS: "),
                "{id}: {message}\n{}",
                run.context()
            );
        }
        // The certificate's service levels name the direction that missed.
        let slas = scenario["slas"].as_array().cloned().unwrap_or_default();
        assert!(
            slas.iter()
                .any(|s| s["direction"] == "shop → POS" && s["met"] == false),
            "{id}: {slas:?}"
        );
        assert!(
            slas.iter()
                .filter(|s| s["direction"] == "POS → shop")
                .all(|s| s["met"] == true),
            "{id}: POS → shop is prompt: {slas:?}"
        );
    }
}

#[test]
fn a_connector_that_applies_every_duplicate_fails_exactly_once_whatever_its_references() {
    if !has_python() {
        eprintln!("python3 not found: skipped");
        return;
    }
    let run = certify("double_apply.py");
    assert_eq!(run.code, 1, "{}", run.context());
    // Its references look exactly like the reference engine's …
    let writes = run.connector_stock_events();
    assert!(!writes.is_empty(), "{}", run.context());
    for e in &writes {
        let reference = e["data"]["cause"]["reference"].as_str().unwrap_or_default();
        assert!(reference.starts_with("omnisim-engine:"), "{e}");
    }
    // … and every scenario still fails exactly_once, naming the direction.
    for scenario in run.scenarios() {
        let id = scenario["id"].as_str().unwrap_or_default();
        let twice = run.violations(scenario, "exactly_once");
        assert!(
            !twice.is_empty(),
            "{id}: exactly_once passed\n{}",
            run.context()
        );
        assert!(
            twice
                .iter()
                .all(|m| m.starts_with("POS → shop: ") || m.starts_with("shop → POS: ")),
            "{id}: {twice:?}"
        );
    }
    assert_eq!(run.scenarios().len(), LEVEL_1.len());
}

#[test]
fn the_example_connectors_are_written_without_the_reference_engines_prefix() {
    // The honest connectors' source never mentions the reference engine's
    // reference format; only the double-apply example imitates it, on purpose.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/connectors");
    for file in [
        "omnisim_contract.py",
        "delta_connector.py",
        "absolute_connector.py",
        "cas_connector.py",
        "slow_shop_to_pos.py",
    ] {
        let text = std::fs::read_to_string(dir.join(file)).expect(file);
        assert!(!text.contains("omnisim-engine"), "{file}");
    }
}

/// The delta and compare-and-set connectors on the whole default profile up
/// to level 3. Measured by hand with a debug build at 60x on profile 1.1.0:
/// each certified at level 3 in about 198 s. Profiles 1.2.0 and 1.3.0 (34
/// scenarios, a little over an hour per connector) have not been run with them: they sync no
/// customers, promotions or gift cards, so expect those scenarios to need
/// claims. Run it with
/// `cargo test --test certify_connectors -- --ignored`.
#[test]
#[ignore = "about two hours: two connectors on the full default profile up to level 3"]
fn the_honest_connectors_are_certified_at_level_3_on_the_default_profile() {
    if !has_python() {
        eprintln!("python3 not found: skipped");
        return;
    }
    for file in ["delta_connector.py", "cas_connector.py"] {
        let out = std::env::temp_dir().join(format!(
            "omnisim-certify-connectors-{}-{}-l3",
            std::process::id(),
            file.trim_end_matches(".py")
        ));
        let _ = std::fs::remove_dir_all(&out);
        let connector = format!("python3 examples/connectors/{file}");
        let o = Command::new(BIN)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["certify", "--connector", &connector, "--level", "3"])
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run omnisim certify");
        let stdout = String::from_utf8_lossy(&o.stdout);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{file}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(stdout.contains("CERTIFIED at level 3"), "{file}: {stdout}");
    }
}

/// The reference engine on the whole default profile up to level 3, now
/// that no checker reads its `reference` prefix. Measured by hand with a
/// debug build at 60x: 15 scenarios (profile 1.1.0), certified at level 3
/// in 190.5 s of wall time; profile 1.3.0 has 34, a little over an hour.
/// Too slow for every CI run; CI certifies it on the smoke profile up to
/// level 3 (tests/certify.rs). Run it with
/// `cargo test --test certify_connectors -- --ignored`.
#[test]
#[ignore = "about an hour: the full default profile up to level 3"]
fn the_reference_engine_is_certified_at_level_3_on_the_default_profile() {
    let out = std::env::temp_dir().join(format!(
        "omnisim-certify-connectors-{}-engine",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&out);
    let connector = format!("{BIN} engine");
    let o = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["certify", "--connector", &connector, "--level", "3"])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run omnisim certify");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("CERTIFIED at level 3"), "{stdout}");
}
