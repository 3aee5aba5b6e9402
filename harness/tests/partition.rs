//! The `partition` step next to other fault steps on the same platform: a
//! `faults` window that does not name `partition` neither lifts nor extends
//! it; one that names it sets it and lifts it with the rest.

use omnisim_harness::history::Entry;
use omnisim_harness::{suite, validate};

fn history_of(name: &str, toml: &str) -> Vec<Entry> {
    let dir = std::env::temp_dir().join(format!("omnisim-partition-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, toml).unwrap();
    let loaded = validate::load(&file).unwrap_or_else(|e| panic!("{e:?}"));
    let judged = suite::run_one(&loaded, None);
    assert!(
        judged.result.step_problems.is_empty(),
        "{:?}",
        judged.result.step_problems
    );
    judged
        .history_jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The connector's polls of the POS feed: (minute sent, answered 200).
fn polls(entries: &[Entry]) -> Vec<(String, bool)> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::Http {
                sent, url, status, ..
            } if url.starts_with("http://pos.sim/v1/events") => {
                Some((sent.format("%H:%M").to_string(), *status == Some(200)))
            }
            _ => None,
        })
        .collect()
}

const HEAD: &str = r#"
name = "partition and faults"
seed = 3
[merchant]
locations = [{ id = "store-1", kind = "store" }]
[[merchant.catalog]]
sku = "MUG"
title = "Mug"
price = "9.00"
stock = { "store-1" = 5 }
"#;

#[test]
fn a_faults_window_inside_a_partition_leaves_it_in_place() {
    let toml = format!(
        r#"{HEAD}
[[step]]
at = "10:00"
actor = "nemesis"
action = "partition"
target = "pos"
duration = "20m"

[[step]]
at = "10:02"
actor = "nemesis"
action = "faults"
target = "pos"
faults = {{ clock_skew_ms = 1000 }}
duration = "3m"
"#
    );
    let p = polls(&history_of("inside", &toml));
    let cut: Vec<_> = p
        .iter()
        .filter(|(m, _)| m.as_str() >= "10:01" && m.as_str() < "10:20")
        .collect();
    assert!(cut.len() > 5, "{p:?}");
    assert!(
        cut.iter().all(|(_, ok)| !ok),
        "the partition held until 10:20: {cut:?}"
    );
    assert!(
        p.iter().any(|(m, ok)| m.as_str() >= "10:20" && *ok),
        "{p:?}"
    );
}

#[test]
fn a_faults_window_that_names_partition_sets_and_lifts_it() {
    let toml = format!(
        r#"{HEAD}
[[step]]
at = "10:00"
actor = "nemesis"
action = "faults"
target = "pos"
faults = {{ partition = true }}
duration = "10m"
"#
    );
    let p = polls(&history_of("named", &toml));
    let during: Vec<_> = p
        .iter()
        .filter(|(m, _)| m.as_str() >= "10:01" && m.as_str() < "10:10")
        .collect();
    assert!(
        !during.is_empty() && during.iter().all(|(_, ok)| !ok),
        "{p:?}"
    );
    assert!(
        p.iter().any(|(m, ok)| m.as_str() >= "10:10" && *ok),
        "{p:?}"
    );
}
