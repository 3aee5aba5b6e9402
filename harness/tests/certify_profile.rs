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
