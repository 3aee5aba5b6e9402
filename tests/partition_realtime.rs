//! A partition in real time: the `nemesis` `partition` step runs through the
//! real-time runner against the real `omnisim engine` process (loopback
//! ports, wall clock, a high time scale), and takes effect as in virtual
//! time: the step is applied (no longer "unsupported"), the POS refuses the
//! connector's requests and fails its webhook deliveries during the window,
//! the counter sale the connector cannot see costs an oversell, and after
//! the heal the connector catches up.
//!
//! A real process on real ports: it waits on the wall clock (bounded by the
//! runner's own readiness and settling timeouts) and asserts no timings.

use std::time::Duration;

use omnisim_harness::history::{Entry, OpType};
use omnisim_harness::realtime::ConnectorSpec;
use omnisim_harness::{runner, suite, validate};
use omnisim_reports::Status;

const BIN: &str = env!("CARGO_BIN_EXE_omnisim");

/// The shipped partition scenario, opened two minutes before the cut so the
/// wall-clock run stays short.
const SCENARIO: &str = r#"
name = "Real time: the register is cut off from the connector"
seed = 91
opens = "09:58"
settle = "30m"

[merchant]
locations = [{ id = "store-1", name = "Downtown store", kind = "store" }]
pos = { sell_when_out_of_stock = "block" }

[[merchant.catalog]]
sku = "CANDLE-FIG"
title = "Fig candle"
price = "28.00"
stock = { "store-1" = 2 }

[[step]]
at = "10:00"
actor = "nemesis"
action = "partition"
target = "pos"
duration = "20m"

[[step]]
at = "10:05"
actor = "pos"
action = "sale"
location = "store-1"
lines = { CANDLE-FIG = 2 }

[[step]]
at = "10:10"
actor = "shop"
action = "checkout"
customer = "ana"
lines = { CANDLE-FIG = 1 }
pickup_location = "store-1"
"#;

#[test]
fn a_partition_takes_effect_against_the_engine_process_in_real_time() {
    let dir = std::env::temp_dir().join(format!("omnisim-partition-rt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("partition.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let loaded = validate::load(&file).unwrap_or_else(|e| panic!("{e:?}"));
    let spec = ConnectorSpec {
        command: format!("{BIN} engine"),
        workdir: None,
        ready_after: None,
        start_timeout: Duration::from_secs(60),
        // 20 scenario minutes of partition last 4 s of wall time.
        time_scale: 300.0,
        state_root: dir.join("state"),
        via: Default::default(),
    };
    let (outcome, logs) = runner::run_real(&loaded, 91, spec, "partition")
        .unwrap_or_else(|e| panic!("{}\n{}", e.error, e.logs.stderr()));
    let entries = outcome.history.entries();
    assert!(
        outcome.step_problems.is_empty(),
        "{:?}\nconnector stderr:\n{}",
        outcome.step_problems,
        logs.stderr()
    );
    // The step was applied, not refused as unsupported, and says what it cut.
    let cost = entries
        .iter()
        .find_map(|e| match e {
            Entry::Op {
                f,
                kind: OpType::Ok,
                value,
                ..
            } if f == "partition" => Some(value.clone()),
            _ => None,
        })
        .expect("the partition step succeeded");
    eprintln!("partition step: {cost}");
    // The clerk's sale emits events whose deliveries failed while cut (read
    // from the POS simulator's delivery log), and the connector's polls of
    // the POS were held and refused.
    assert!(cost["webhook_attempts_failed"].as_u64() > Some(0), "{cost}");
    assert!(
        cost["connector_requests_refused"].as_u64() > Some(0),
        "{cost}"
    );
    // The clerk and the customer (with the actors' key) were not cut off.
    for f in ["sale", "checkout"] {
        assert!(
            entries.iter().any(|e| matches!(
                e,
                Entry::Op { f: g, kind: OpType::Ok, .. } if g == f
            )),
            "{f} went through"
        );
    }
    // Judged like any run: the sale the connector could not see costs an
    // oversell, and after the heal both channels agree again.
    let judged = suite::judge_outcome(&loaded, outcome, 0);
    let status = |name: &str| {
        judged
            .result
            .checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.status)
            .unwrap_or_else(|| panic!("{name} was judged"))
    };
    assert_eq!(status("no_oversell"), Status::Fail);
    assert_eq!(
        status("stock_converges"),
        Status::Pass,
        "{:?}\nconnector stderr:\n{}",
        judged.result.checks,
        logs.stderr()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
