//! JUnit XML (via `quick-junit`): one test case per scenario, its failure
//! message the reasons, its body every violation with witnesses.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::model::{RunResults, Status};

/// Renders a run as JUnit XML.
pub fn render(results: &RunResults) -> String {
    let mut report = Report::new("omnisim");
    let mut suite = TestSuite::new("scenarios");
    for s in &results.scenarios {
        let status = match s.status {
            Status::Pass => TestCaseStatus::success(),
            Status::Fail => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(s.reasons.join("; "));
                let mut body = String::new();
                // What made it fail first; violations the scenario expects
                // (a demonstration case) after, marked as expected.
                let unexpected = s.checks.iter().filter(|c| !c.expected_to_fail);
                let expected = s.checks.iter().filter(|c| c.expected_to_fail);
                for c in unexpected.chain(expected) {
                    let mark = if c.expected_to_fail { ", expected" } else { "" };
                    for v in &c.violations {
                        body.push_str(&format!("[{}{mark}] {}\n", c.name, v.message));
                        for w in &v.witnesses {
                            body.push_str(&format!(
                                "    #{} {} {}\n",
                                w.index,
                                w.time.format("%H:%M:%S%.3f"),
                                w.what
                            ));
                        }
                    }
                }
                body.push_str(&format!("reproduce: {}\n", s.reproduce));
                st.set_description(body);
                st
            }
        };
        let mut case = TestCase::new(s.name.clone(), status);
        case.set_classname(s.file.clone());
        case.set_time(std::time::Duration::from_millis(s.wall_ms));
        case.extra.insert("seed".into(), s.seed.to_string().into());
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    report.to_string().unwrap_or_default()
}
