//! `summary.md`: GitHub-flavoured Markdown for a CI job summary or a
//! pull-request comment. A headline, a table of scenarios, then each failure
//! with its reasons, every violation and each witness on one line, and the
//! command that reproduces it.

use std::fmt::Write as _;

use crate::model::{RunResults, ScenarioResult, Status};

/// Renders a run as Markdown.
pub fn render(results: &RunResults) -> String {
    let total = results.scenarios.len();
    let failed: Vec<&ScenarioResult> = results.failed().collect();
    let mut out = String::new();
    let verdict = if failed.is_empty() { "✅" } else { "❌" };
    let _ = writeln!(
        out,
        "## {verdict} omnisim: {} of {total} {} passed, {} failed\n",
        total - failed.len(),
        if total == 1 { "scenario" } else { "scenarios" },
        failed.len()
    );
    // Many passing scenarios fold away so the failures stay in view.
    let fold = total > 15;
    if fold {
        out.push_str("<details><summary>All scenarios</summary>\n\n");
    }
    out.push_str("| | Scenario | Checks | Simulated | Wall | Seed |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for s in &results.scenarios {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} ms | {} |",
            mark(s.status),
            cell(&s.name),
            checks_cell(s),
            span(s.sim_span_ms),
            s.wall_ms,
            s.seed
        );
    }
    if fold {
        out.push_str("\n</details>\n");
    }
    for s in &failed {
        let _ = writeln!(out, "\n### ❌ {}\n", inline(&s.name));
        let _ = writeln!(out, "`{}`, seed {}\n", s.file, s.seed);
        // Reasons the violations below do not already say.
        for r in s.reasons.iter().filter(|r| !told_below(s, r)) {
            let _ = writeln!(out, "- {}", inline(r));
        }
        for c in &s.checks {
            if c.status == Status::Pass || c.expected_to_fail {
                continue;
            }
            for v in &c.violations {
                let _ = writeln!(out, "- **{}**: {}", c.name, inline(&v.message));
                for w in &v.witnesses {
                    let _ = writeln!(
                        out,
                        "  - witness #{} at {}: {}",
                        w.index,
                        w.time.format("%H:%M:%S%.3f"),
                        inline(&w.what)
                    );
                }
            }
        }
        let _ = writeln!(out, "\nReproduce: `{}`", s.reproduce.replace('`', "'"));
    }
    out
}

/// Whether a reason is a failing check's first violation, listed in full below.
fn told_below(s: &ScenarioResult, reason: &str) -> bool {
    s.checks.iter().any(|c| {
        c.status == Status::Fail
            && !c.expected_to_fail
            && !c.violations.is_empty()
            && reason.starts_with(&format!("{}: ", c.name))
    })
}

fn mark(status: Status) -> &'static str {
    match status {
        Status::Pass => "✅",
        Status::Fail => "❌",
    }
}

/// `7/7`, or `5/7: no_oversell, sync_latency` naming the checks that missed
/// their expectation; expected failures are counted as met.
fn checks_cell(s: &ScenarioResult) -> String {
    let missed: Vec<&str> = s
        .checks
        .iter()
        .filter(|c| (c.status == Status::Fail) != c.expected_to_fail)
        .map(|c| c.name.as_str())
        .collect();
    let expected = s.checks.iter().filter(|c| c.expected_to_fail).count();
    let mut out = format!("{}/{}", s.checks.len() - missed.len(), s.checks.len());
    if !missed.is_empty() {
        let _ = write!(out, ": {}", missed.join(", "));
    }
    if expected > 0 {
        let _ = write!(out, " ({expected} expected to fail)");
    }
    out
}

/// One line of text, safe inside a table cell.
fn cell(s: &str) -> String {
    inline(s).replace('|', "\\|")
}

/// One line of text: newlines folded, HTML-significant characters escaped so
/// a message cannot open a tag in a rendered comment.
fn inline(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `2h30m`.
pub fn span(ms: i64) -> String {
    let m = ms / 60_000;
    if m == 0 {
        return format!("{}s", ms / 1000);
    }
    format!("{}h{:02}m", m / 60, m % 60)
}
