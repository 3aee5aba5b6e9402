//! The renderers on hand-made results: text from scenario files is escaped,
//! and a result without a timeline still renders.

use chrono::{DateTime, Utc};
use omnisim_reports::model::SCHEMA_VERSION;
use omnisim_reports::{CheckResult, RunResults, ScenarioResult, Status, Violation, Witness};

fn results() -> RunResults {
    let time: DateTime<Utc> = "2026-03-02T10:07:02Z".parse().expect("a time");
    RunResults {
        schema_version: SCHEMA_VERSION,
        scenarios: vec![ScenarioResult {
            name: "evil <script>alert(1)</script> | pipe".into(),
            file: "scenarios/evil.toml".into(),
            tags: vec!["<b>".into()],
            status: Status::Fail,
            seed: 9,
            sim_span_ms: 5_400_000,
            wall_ms: 12,
            checks: vec![CheckResult {
                name: "no_oversell".into(),
                status: Status::Fail,
                violations: vec![Violation {
                    message: "sold <1> & more\nthan there was".into(),
                    sku: Some("MUG".into()),
                    units: Some(1),
                    witnesses: vec![Witness {
                        index: 38,
                        time,
                        what: "store sale <sale_1>".into(),
                    }],
                }],
                expected_to_fail: false,
                metrics: serde_json::json!({ "oversold_units": 1 }),
            }],
            reasons: vec!["no_oversell: sold <1> & more".into()],
            step_problems: vec![],
            engine_errors: vec![serde_json::json!({ "error": "<boom>" })],
            reproduce: "omnisim replay scenarios/evil.toml --seed 9".into(),
        }],
    }
}

#[test]
fn html_escapes_every_text_and_renders_without_a_timeline() {
    let r = results();
    let page = omnisim_reports::html::render(&omnisim_reports::html::Page {
        title: "t <i>",
        story: &["a <story>".to_owned()],
        results: &r,
        timelines: &[None],
    });
    assert!(!page.contains("<script>alert"), "a name opened a tag");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("sold &lt;1&gt; &amp; more"));
    assert!(page.contains("&lt;boom&gt;") || page.contains("&quot;&lt;boom&gt;&quot;"));
    assert!(page.contains("a &lt;story&gt;"));
    assert!(page.contains("omnisim replay scenarios/evil.toml --seed 9"));
    assert!(page.contains("1h30m"));
}

#[test]
fn markdown_keeps_one_line_per_witness_and_a_whole_table() {
    let md = omnisim_reports::markdown::render(&results());
    assert!(!md.contains("<script>"), "{md}");
    let row = md
        .lines()
        .find(|l| l.starts_with("| ❌"))
        .expect("the scenario's row");
    assert_eq!(
        row.matches(" | ").count() + row.matches("\\|").count(),
        6,
        "{row}"
    );
    assert!(
        md.contains("**no_oversell**: sold &lt;1&gt; &amp; more than there was"),
        "{md}"
    );
    assert!(
        md.contains("  - witness #38 at 10:07:02.000: store sale &lt;sale_1&gt;"),
        "{md}"
    );
}

/// Issue 18, item 5: JUnit's failure body lists what made the scenario fail
/// first, and marks a violation the scenario expects as expected.
#[test]
fn junit_puts_the_cause_first_and_marks_expected_failures() {
    let mut r = results();
    let s = &mut r.scenarios[0];
    s.checks[0].expected_to_fail = true;
    let mut cause = s.checks[0].clone();
    cause.name = "stock_converges".into();
    cause.expected_to_fail = false;
    cause.violations[0].message = "shop shows 10, truth is 8".into();
    s.checks.push(cause);
    s.reasons = vec!["stock_converges: shop shows 10, truth is 8".into()];
    let junit = omnisim_reports::junit::render(&r);
    let cause = junit
        .find("[stock_converges] shop shows 10")
        .expect("the cause");
    let expected = junit
        .find("[no_oversell, expected] sold")
        .expect("the expected failure, marked");
    assert!(cause < expected, "{junit}");
    assert!(!junit.contains("[no_oversell] "), "{junit}");
}

/// Issue 18, item 5: one scenario is "1 scenario", in Markdown and HTML.
#[test]
fn one_scenario_is_singular() {
    let r = results();
    let md = omnisim_reports::markdown::render(&r);
    assert!(md.contains("0 of 1 scenario passed"), "{md}");
    let html = omnisim_reports::html::render(&omnisim_reports::html::Page {
        title: "t",
        story: &[],
        results: &r,
        timelines: &[None],
    });
    assert!(html.contains("0 of 1 scenario passed"));
    assert!(!html.contains("1 scenarios"));
}
