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
            "{}: {:?}; connector errors: {:?}",
            loaded.file.display(),
            judged.result.reasons,
            judged.result.engine_errors
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

#[test]
fn a_refund_made_in_the_gateway_dashboard_reaches_its_order() {
    let loaded = scenario("payments/refund-in-gateway-dashboard.toml");
    let good = checks(&loaded, None);
    assert!(failed(&good, "ledger_reconciles").is_none());
    let bad = checks(&loaded, Some(Defect::ExternalRefundIgnored));
    let c = failed(&bad, "ledger_reconciles").expect("the shop's stale money is caught");
    let messages: Vec<&str> = c.violations.iter().map(|v| v.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("shows 25.00 captured net of refunds; the gateway shows 20.00")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("shows 12.50 captured net of refunds; the gateway shows 0")),
        "{messages:?}"
    );
}

fn conflicts(loaded: &validate::Loaded) -> usize {
    let mut strategy = runner::strategy_of(loaded);
    strategy.defects.clear();
    suite::run_one_with(loaded, None, strategy)
        .result
        .engine_errors
        .iter()
        .filter(|e| e["code"] == "catalog_conflict")
        .count()
}

#[test]
fn a_register_owned_price_edited_online_is_undone_and_reported() {
    let loaded = scenario("catalog/pos-mastered-price.toml");
    let good = checks(&loaded, None);
    assert!(failed(&good, "catalog_parity").is_none());
    assert_eq!(conflicts(&loaded), 1, "the online edit is one conflict");
    let bad = checks(&loaded, Some(Defect::MastershipIgnored));
    let c = failed(&bad, "catalog_parity").expect("the lost master price is caught");
    let messages: Vec<&str> = c.violations.iter().map(|v| v.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.contains("owned by the POS")
            && m.contains("the shop has 45 and the POS 45")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("never put back")),
        "{messages:?}"
    );
}

#[test]
fn edits_on_both_sides_within_one_poll_end_at_the_owners_price() {
    let loaded = scenario("catalog/conflicting-edits-within-one-poll.toml");
    let good = checks(&loaded, None);
    assert!(failed(&good, "catalog_parity").is_none());
    assert_eq!(conflicts(&loaded), 1);
}

#[test]
fn a_catalog_master_that_names_no_system_is_refused_with_its_place() {
    let src = r#"name = "x"
[merchant]
locations = [{ id = "store-1" }]
catalog_master = { price = "erp" }
[[merchant.catalog]]
sku = "A"
title = "A"
price = "1.00"
"#;
    let Err(errors) = validate::load_str(Path::new("m.toml"), src) else {
        panic!("an owner that is no system is refused");
    };
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|e| e.contains("m.toml:4:28") && e.contains("`shop`, `pos` or `both`")),
        "{text:?}"
    );
    let unknown = src.replace("price = \"erp\"", "title = \"pos\"");
    let Err(errors) = validate::load_str(Path::new("m.toml"), &unknown) else {
        panic!("a field that is not synced is refused");
    };
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|e| e.contains("m.toml:4:") && e.contains("title")),
        "{text:?}"
    );
}

#[test]
fn one_person_signing_up_twice_gets_one_profile_per_system() {
    let loaded = scenario("customers/same-person-online-and-at-the-register.toml");
    let good = checks(&loaded, None);
    let c = good
        .iter()
        .find(|c| c.name == "customers_converge")
        .expect("the check runs");
    assert_eq!(c.status, Status::Pass, "{:?}", c.violations);
    assert_eq!(c.metrics["people"], 2, "Ada and Grace");
    assert_eq!(c.metrics["profiles_checked"], 4, "one each per system");
    // Matching emails case-sensitively, the register's `Ada@Example.COM`
    // stays apart from her online `ada@example.com`: nothing merges.
    let bad = checks(&loaded, Some(Defect::CustomerEmailCase));
    let c = failed(&bad, "customers_converge").expect("the unmerged profiles are caught");
    let messages: Vec<&str> = c.violations.iter().map(|v| v.message.as_str()).collect();
    assert!(
        messages.contains(
            &"marketing consent for ada@example.com is no on the POS, yes on the shop; the customer's latest choice (10:00:40 on the shop) was yes"
        ),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("phone for ada@example.com is none on the POS")),
        "{messages:?}"
    );
    assert!(c.violations.iter().all(|v| !v.witnesses.is_empty()));
}

#[test]
fn consent_withdrawn_in_store_reaches_the_shop() {
    let loaded = scenario("customers/consent-withdrawn-in-store.toml");
    assert!(failed(&checks(&loaded, None), "customers_converge").is_none());
    let bad = checks(&loaded, Some(Defect::ConsentNotSynced));
    let c = failed(&bad, "customers_converge").expect("the lost withdrawal is caught");
    assert_eq!(
        c.violations[0].message,
        "marketing consent for ben@example.com is no on the POS, yes on the shop; the customer's latest choice (11:30:20 on the POS) was no"
    );
}

/// A second profile made at the register for someone the connector already
/// linked (the clerk typed only her phone) is reported, never copied to the
/// shop: the shop keeps one profile, and the check names the register's two.
#[test]
fn a_duplicate_at_the_register_is_reported_not_spread() {
    let src = r#"name = "a duplicate at the register"
[merchant]
locations = [{ id = "store-1", kind = "store" }]
[[merchant.catalog]]
sku = "MUG"
title = "Mug"
price = "10.00"
stock = { "store-1" = 2 }
[[step]]
at = "10:00"
actor = "shop"
action = "signup"
customer = "Ada Lovelace"
email = "ada@example.com"
phone = "+442079460000"
[[step]]
at = "10:30"
actor = "pos"
action = "signup"
customer = "Ada Lovelace"
phone = "+44 20 7946 0000"
"#;
    let loaded = validate::load_str(Path::new("duplicate.toml"), src).expect("valid");
    let judged = suite::run_one_with(&loaded, None, runner::strategy_of(&loaded));
    let r = &judged.result;
    assert!(
        r.engine_errors
            .iter()
            .any(|e| e["code"] == "duplicate_customer"),
        "{:?}",
        r.engine_errors
    );
    let c = failed(&r.checks, "customers_converge").expect("the duplicate is caught");
    let messages: Vec<&str> = c.violations.iter().map(|v| v.message.as_str()).collect();
    assert_eq!(
        messages,
        ["Ada Lovelace (ada@example.com) has 2 profiles on the POS (cust_000001, cust_000002)"]
    );
}

#[test]
fn a_promotion_defined_once_prices_both_channels_alike() {
    let loaded = scenario("promotions/one-promotion-both-channels.toml");
    let good = checks(&loaded, None);
    let c = good
        .iter()
        .find(|c| c.name == "promotions_agree")
        .expect("the check runs");
    assert_eq!(c.status, Status::Pass, "{:?}", c.violations);
    assert_eq!(c.metrics["promotions"], 4);
    assert_eq!(
        c.metrics["sales_judged"], 9,
        "five store sales, four web orders"
    );
}

#[test]
fn a_promotion_ended_early_online_stops_at_the_register() {
    let loaded = scenario("promotions/ends-online-but-not-in-store.toml");
    assert!(failed(&checks(&loaded, None), "promotions_agree").is_none());
    let bad = checks(&loaded, Some(Defect::PromotionEndNotSynced));
    let c = failed(&bad, "promotions_agree").expect("the store's stale promotion is caught");
    let messages: Vec<&str> = c.violations.iter().map(|v| v.message.as_str()).collect();
    assert!(
        messages.contains(
            &"store sale sale_000003 at 15:10:00 of 1 SCARF took 8.00 USD off under SPRING-20 (20 % off SCARF), which ran online from 09:00:00 to 15:00:00; no promotion ran online then"
        ),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"SPRING-20 ends at 15:00:00 online but 18:00:00 at the register"),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with(
            "store sale sale_000004 at 16:30:00 of 2 MUG took 2.00 USD off under MUGS-2"
        )),
        "ended on the spot: {messages:?}"
    );
    assert!(c.violations.iter().all(|v| !v.witnesses.is_empty()));
}

#[test]
fn a_promoted_item_returned_after_the_sale_refunds_what_was_paid() {
    let loaded = scenario("promotions/return-of-a-promoted-item.toml");
    let good = checks(&loaded, None);
    let r = good
        .iter()
        .find(|c| c.name == "returns_restock")
        .expect("the check runs");
    assert_eq!(r.status, Status::Pass, "{:?}", r.violations);
    assert_eq!(
        r.metrics["returns_checked"], 2,
        "the receipt and the pickup"
    );
    assert_eq!(
        r.metrics["online_refunds_checked"], 2,
        "the pickup and the shipped order"
    );
}
