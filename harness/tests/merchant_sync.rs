//! The rest of what merchants sync (issue 19): each shipped scenario passes
//! on the default engine, and the engine with the matching bug switched on
//! fails it with the named violation.

use std::path::{Path, PathBuf};

use omnisim_engine::Defect;
use omnisim_harness::{runner, suite, validate};
use omnisim_reports::{CheckResult, Status};

fn scenario(rel: &str) -> validate::Loaded {
    let file: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(rel);
    validate::load(&file).unwrap_or_else(|e| panic!("{rel}: {e:?}"))
}

/// The checks of one run, with `defect` switched on when given.
fn checks(loaded: &validate::Loaded, defect: Option<Defect>) -> Vec<CheckResult> {
    let mut strategy = runner::strategy_of(loaded);
    strategy.defects.extend(defect);
    let judged = suite::run_one_with(loaded, None, strategy);
    if defect.is_none() {
        assert_eq!(
            judged.result.status,
            Status::Pass,
            "{}: {:?}",
            loaded.file.display(),
            judged.result.reasons
        );
    }
    judged.result.checks
}

fn failed<'a>(checks: &'a [CheckResult], name: &str) -> Option<&'a CheckResult> {
    checks
        .iter()
        .find(|c| c.name == name && c.status == Status::Fail)
}

#[test]
fn a_pickup_slip_follows_its_shortened_order() {
    let loaded = scenario("orders/pickup-slip-follows-a-shortened-order.toml");
    let good = checks(&loaded, None);
    assert!(failed(&good, "pickups_follow_orders").is_none());
    let bad = checks(&loaded, Some(Defect::PickupNotShortened));
    let c = failed(&bad, "pickups_follow_orders").expect("the stale slips are caught");
    let messages: Vec<&str> = c.violations.iter().map(|v| v.message.as_str()).collect();
    assert_eq!(c.violations.len(), 2, "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("handed over at the store")
                && m.contains("lists 1 CARAFE, 4 GLASS-TUMB")
                && m.contains("holds 1 CARAFE, 2 GLASS-TUMB")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("still waiting at the store")
                && m.contains("lists 3 GLASS-TUMB")
                && m.contains("holds 2 GLASS-TUMB")),
        "{messages:?}"
    );
    assert!(
        c.violations.iter().all(|v| v.witnesses.len() >= 3),
        "each names the refund and the two records"
    );
}
