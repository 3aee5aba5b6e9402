//! What a QA engineer sees for a bad scenario file: file:line:column, the
//! problem, and a hint. Snapshots are reviewed by hand.

use std::path::Path;

use omnisim_harness::validate::load_str;

const BASE: &str = r#"name = "bad on purpose"
[merchant]
locations = [{ id = "store-1", kind = "store" }, { id = "wh", kind = "warehouse" }]

[[merchant.catalog]]
sku = "MUG-RED"
title = "Red mug"
price = "12.50"
stock = { "store-1" = 1 }

[[step]]
at = "10:03"
actor = "shop"
action = "checkout"
customer = "ana"
lines = { MUG-RED = 1 }

[[step]]
at = "10:07"
actor = "pos"
action = "sale"
location = "store-1"
lines = { MUG-RED = 1 }
"#;

fn errors(src: &str) -> String {
    match load_str(Path::new("scenarios/bad.toml"), src) {
        Ok(_) => "loaded without errors".to_owned(),
        Err(errors) => errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn the_base_file_is_valid() {
    assert_eq!(errors(BASE), "loaded without errors");
}

#[test]
fn unknown_key() {
    insta::assert_snapshot!(errors(
        &BASE.replace("customer = \"ana\"", "custmer = \"ana\"")
    ));
}

#[test]
fn unknown_sku_location_and_actor() {
    let src = BASE
        .replace(
            "lines = { MUG-RED = 1 }\n\n[[step]]",
            "lines = { MUG-BLUE = 1 }\n\n[[step]]",
        )
        .replace("location = \"store-1\"", "location = \"store-9\"")
        .replace("actor = \"pos\"", "actor = \"clerk\"");
    insta::assert_snapshot!(errors(&src));
}

#[test]
fn time_goes_backwards() {
    insta::assert_snapshot!(errors(&BASE.replace("at = \"10:07\"", "at = \"09:15\"")));
}

#[test]
fn check_that_does_not_exist() {
    insta::assert_snapshot!(errors(&format!(
        "{BASE}\n[expect]\nfails = [\"no_overselling\"]\n"
    )));
}

#[test]
fn a_sale_in_a_warehouse_and_a_bad_time() {
    let src = BASE
        .replace("location = \"store-1\"", "location = \"wh\"")
        .replace("at = \"10:03\"", "at = \"10h03\"");
    insta::assert_snapshot!(errors(&src));
}

#[test]
fn toml_syntax() {
    insta::assert_snapshot!(errors(
        &BASE.replace("title = \"Red mug\"", "title = \"Red mug")
    ));
}

#[test]
fn customer_steps() {
    let good = format!(
        "{BASE}
[[step]]
at = \"11:00\"
actor = \"pos\"
action = \"signup\"
customer = \"Ada Lovelace\"
email = \"Ada@Example.com\"

[[step]]
actor = \"shop\"
action = \"consent\"
email = \"ada@example.com\"
accepts_marketing = true
"
    );
    assert_eq!(errors(&good), "loaded without errors");
    let bad = good
        .replace(
            "email = \"Ada@Example.com\"",
            "email = \"ada.example.com\"\nphone = \"555-0100\"",
        )
        .replace(
            "accepts_marketing = true",
            "accepts_marketing = true\nlines = { MUG-RED = 1 }",
        );
    insta::assert_snapshot!(errors(&bad));
}

#[test]
fn promotion_steps() {
    let good = format!(
        "{BASE}
[[step]]
at = \"11:00\"
actor = \"staff\"
action = \"promote\"
promotion = \"SPRING-20\"
percent_off = \"20\"
skus = [\"MUG-RED\"]
starts = \"11:00\"
ends = \"18:00\"

[[step]]
at = \"12:00\"
actor = \"staff\"
action = \"end_promotion\"
promotion = \"SPRING-20\"
"
    );
    assert_eq!(errors(&good), "loaded without errors");
    let bad = good
        .replace(
            "percent_off = \"20\"",
            "percent_off = \"120\"\namount_off = \"5\"",
        )
        .replace("ends = \"18:00\"", "ends = \"10:00\"")
        .replace(
            "promotion = \"SPRING-20\"\n\"\n",
            "promotion = \"SPRING-20\"\nsku = \"MUG-RED\"\n\"\n",
        )
        .replace(
            "action = \"end_promotion\"\npromotion = \"SPRING-20\"",
            "action = \"end_promotion\"\nsku = \"MUG-RED\"",
        );
    insta::assert_snapshot!(errors(&bad));
}

#[test]
fn a_negative_gift_card_balance_is_refused_at_its_line() {
    let good = format!(
        "{BASE}
[[step]]
at = \"11:00\"
actor = \"pay\"
action = \"balance\"
code = \"GC-1\"
balance = \"0.00\"
"
    );
    assert_eq!(errors(&good), "loaded without errors");
    let bad = good.replace("balance = \"0.00\"", "balance = \"-1.00\"");
    let shown = errors(&bad);
    let line = bad
        .lines()
        .position(|l| l.starts_with("balance = "))
        .map(|i| i + 1)
        .expect("the balance line");
    assert!(
        shown.contains(&format!("bad.toml:{line}:")) && shown.contains("`balance` is -1.00"),
        "{shown}"
    );
}

#[test]
fn a_promotion_changed_in_another_kind_or_never_defined() {
    let src = format!(
        "{BASE}
[[step]]
at = \"11:00\"
actor = \"staff\"
action = \"promote\"
promotion = \"WINTER\"
percent_off = \"10\"

[[step]]
at = \"12:00\"
actor = \"staff\"
action = \"change_promotion\"
promotion = \"WINTER\"
amount_off = \"5.00\"

[[step]]
at = \"13:00\"
actor = \"staff\"
action = \"change_promotion\"
promotion = \"SUMMER\"
active = false
"
    );
    insta::assert_snapshot!(errors(&src));
}
