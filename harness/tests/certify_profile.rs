//! The built-in certification profile: every scenario loads, and the
//! reference engine passes each one in virtual time too (the real-time runs
//! are in the root `tests/certify.rs`).

use omnisim_harness::certify::profile;
use omnisim_reports::Status;

#[test]
fn every_default_profile_scenario_passes_in_virtual_time() {
    let p = profile::builtin("default").expect("the default profile is built in");
    assert_eq!(p.name, "default");
    assert!(!p.version.is_empty());
    for level in 1..=3u8 {
        assert!(
            p.scenarios.iter().filter(|s| s.level == level).count() >= 4,
            "level {level} has at least four scenarios"
        );
    }
    for s in &p.scenarios {
        let loaded = s.load().unwrap_or_else(|e| panic!("{}: {e}", s.id));
        assert!(!s.title.is_empty(), "{} has a name", s.id);
        assert!(
            loaded.scenario.expect.fails.is_empty() && loaded.scenario.expect.oversold.is_none(),
            "{}: certification scenarios expect every check to hold",
            s.id
        );
        let judged = omnisim_harness::suite::run_one(&loaded, None);
        assert_eq!(
            judged.result.status,
            Status::Pass,
            "{}: {:?}",
            s.id,
            judged.result.reasons
        );
    }
}

#[test]
fn smoke_is_the_first_scenario_of_each_level() {
    let p = profile::builtin("smoke").unwrap();
    let levels: Vec<u8> = p.scenarios.iter().map(|s| s.level).collect();
    assert_eq!(levels, vec![1, 2, 3]);
    assert!(profile::find("no-such-profile").is_err());
}

/// Per failure-mode switch of the reference engine, a scenario of the
/// default profile that fails on it: the lowest level's first, as measured
/// with `omnisim run certify/default/level-N --defect D` (the whole table is
/// in docs/connector-contract.md, section 8). A certificate is as strong as
/// the suite only if every switch fails some level.
const FAILS_ON: &[(&str, &str)] = &[
    ("absolute-set", "level-1/compare-and-set-conflict"),
    (
        "zero-wipes",
        "level-3/sold-out-at-the-register-while-cut-off",
    ),
    ("on-hand-synced", "level-1/compare-and-set-conflict"),
    ("reserve-lag", "level-3/crash-and-restart"),
    ("bulk-aborts", "level-2/line-dropped-before-pickup"),
    ("dedupe-race", "level-3/duplicate-reordered-webhooks"),
    ("arrival-order", "level-3/cancel-heard-before-create"),
    ("stale-product", "level-3/price-changes-reordered"),
    ("retry-new-key", "level-3/store-return-refund-timed-out"),
    ("cursor-skips-gaps", "level-3/read-only-platforms"),
    (
        "bad-signature-applied",
        "level-3/forged-and-stale-signatures",
    ),
    (
        "stale-signature-accepted",
        "level-3/forged-and-stale-signatures",
    ),
    ("echo-applied", "level-1/sales-in-both-channels"),
    ("count-absolute", "level-2/count-while-staff-add-online"),
    ("refund-wrong-line", "level-3/duplicate-reordered-webhooks"),
    (
        "refund-whole-line",
        "level-2/partial-return-across-channels",
    ),
    (
        "return-restock-ignored",
        "level-2/discount-code-return-pro-rata",
    ),
    ("cancel-keeps-authorization", "level-3/read-only-platforms"),
    ("no-show-not-released", "level-2/cancel-after-authorization"),
    ("wrong-location", "level-2/two-stores-and-a-warehouse"),
    ("crash-reapplies", "level-3/crash-between-apply-and-commit"),
    ("commit-before-apply", "level-3/read-only-platforms"),
    (
        "no-idempotency-key",
        "level-3/crash-between-apply-and-commit",
    ),
    (
        "capture-original-total",
        "level-2/line-dropped-before-pickup",
    ),
    (
        "release-oldest-pickup",
        "level-2/line-dropped-before-pickup",
    ),
    ("pickup-not-shortened", "level-2/line-dropped-before-pickup"),
    (
        "external-refund-ignored",
        "level-2/refund-in-gateway-dashboard",
    ),
    ("mastership-ignored", "level-2/pos-mastered-price"),
    ("failed-payment-kept", "level-2/bank-transfer-fails"),
    ("tax-clear-dropped", "level-2/tax-code-removed-online"),
    (
        "customer-email-case",
        "level-2/same-person-online-and-at-the-register",
    ),
    ("consent-not-synced", "level-2/consent-withdrawn-in-store"),
    (
        "promotion-end-not-synced",
        "level-2/ends-online-but-not-in-store",
    ),
    (
        "gift-card-refund-recorded-only",
        "level-2/online-order-returned-in-store-back-to-card",
    ),
    ("blind-write-retry", "level-3/price-write-answer-lost"),
];

#[test]
fn every_failure_mode_switch_fails_some_level_of_the_default_profile() {
    let named: Vec<&str> = FAILS_ON.iter().map(|(d, _)| *d).collect();
    let all: Vec<&str> = omnisim_engine::Defect::ALL
        .iter()
        .map(|d| d.name())
        .collect();
    assert_eq!(named, all, "one row per switch, in `Defect::ALL` order");
    let p = profile::builtin("default").unwrap();
    let mut passed = Vec::new();
    for (name, id) in FAILS_ON {
        let s = p
            .scenarios
            .iter()
            .find(|s| s.id == *id)
            .unwrap_or_else(|| panic!("{name}: no scenario {id} in the profile"));
        let loaded = s.load().unwrap_or_else(|e| panic!("{id}: {e}"));
        let mut strategy = omnisim_harness::runner::strategy_of(&loaded);
        strategy.defects.insert(name.parse().expect("a switch"));
        let judged = omnisim_harness::suite::run_one_with(&loaded, None, strategy);
        // A checker's violation or a step's refused expectation (a forged
        // webhook accepted), each said in words.
        if judged.result.status != Status::Fail || judged.result.reasons.is_empty() {
            passed.push(format!("{name} on {id}: {:?}", judged.result.reasons));
        }
    }
    assert!(passed.is_empty(), "not failed:\n{}", passed.join("\n"));
}
