//! `certificate.html`: one self-contained page (no scripts, no external
//! assets) showing the certificate.

use std::fmt::Write as _;

use omnisim_reports::Status;

use super::certificate::{Certificate, ScenarioStatus};

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the certificate as HTML.
pub fn render(c: &Certificate) -> String {
    let mut h = String::new();
    let verdict = if c.certified {
        format!("CERTIFIED at level {}", c.certified_level)
    } else {
        format!(
            "NOT CERTIFIED at level {} (certified level: {})",
            c.requested_level, c.certified_level
        )
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>omnisim certificate: {name} {version}</title>\n\
<style>body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}}\
.ok{{color:#137333}}.bad{{color:#b3261e}}.nc{{color:#8a6d00}}table{{border-collapse:collapse;width:100%}}\
td,th{{border:1px solid #ddd;padding:4px 8px;vertical-align:top;text-align:left}}pre{{background:#f6f6f6;padding:8px;overflow:auto;max-height:20em}}\
code{{font-size:90%}}</style></head><body>\n<h1>omnisim connector certificate</h1>\n<p class=\"{cls}\"><strong>{verdict}</strong></p>\n",
        name = esc(&c.connector.name),
        version = esc(&c.connector.version),
        cls = if c.certified { "ok" } else { "bad" },
        verdict = esc(&verdict),
    );
    let _ = writeln!(
        h,
        "<table><tr><th>Connector</th><td>{} {}</td></tr><tr><th>Command</th><td><code>{}</code></td></tr><tr><th>Via</th><td>{}</td></tr>\
<tr><th>omnisim</th><td>{}</td></tr><tr><th>Profile</th><td>{} {}</td></tr><tr><th>Time scale</th><td>{}×</td></tr>\
<tr><th>Issued</th><td>{}</td></tr><tr><th>Wall time</th><td>{:.1} s</td></tr><tr><th>SHA-256</th><td><code>{}</code></td></tr></table>",
        esc(&c.connector.name),
        esc(&c.connector.version),
        esc(&c.connector.command),
        c.connector.via.name(),
        esc(&c.omnisim_version),
        esc(&c.profile.name),
        esc(&c.profile.version),
        c.time_scale,
        c.issued_at.to_rfc3339(),
        c.wall_ms as f64 / 1000.0,
        esc(&c.results_sha256),
    );
    if let Some(e) = &c.connector_start_error {
        let _ = writeln!(
            h,
            "<p class=\"bad\">The connector could not start: {}</p>",
            esc(e)
        );
    }
    for level in &c.levels {
        let _ = write!(
            h,
            "<h2>Level {}: {} <span class=\"{}\">{}</span></h2>\n<table><tr><th>Scenario</th><th>Result</th><th>Wall</th><th>Details</th></tr>\n",
            level.level,
            esc(&level.title),
            if level.certified { "ok" } else { "bad" },
            if level.certified {
                "certified"
            } else {
                "not certified"
            }
        );
        for s in &level.scenarios {
            let cls = match s.status {
                ScenarioStatus::Passed => "ok",
                ScenarioStatus::NotClaimed => "nc",
                _ => "bad",
            };
            let mut details = String::new();
            if let Some(r) = &s.claim_reason {
                let _ = write!(details, "<p>Not claimed: {}</p>", esc(r));
            }
            for r in &s.reasons {
                let _ = write!(details, "<p>{}</p>", esc(r));
            }
            for check in s.checks.iter().filter(|c| c.status == Status::Fail) {
                let _ = write!(details, "<p><strong>{}</strong></p><ul>", esc(&check.name));
                for v in check.violations.iter().take(10) {
                    let _ = write!(details, "<li>{}<ul>", esc(&v.message));
                    for w in v.witnesses.iter().take(6) {
                        let _ = write!(
                            details,
                            "<li><code>#{} {}</code> {}</li>",
                            w.index,
                            w.time.to_rfc3339(),
                            esc(&w.what)
                        );
                    }
                    details.push_str("</ul></li>");
                }
                details.push_str("</ul>");
            }
            if !s.slas.is_empty() {
                details.push_str(
                    "<table><tr><th>Service level</th><th>Direction</th><th>Change</th>\
                     <th>Count</th><th>Measured</th><th>SLA</th></tr>",
                );
                for l in &s.slas {
                    let _ = write!(
                        details,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{} ms{}</td><td>{} ms</td></tr>",
                        esc(&l.what),
                        esc(&l.direction),
                        esc(&l.change),
                        l.count,
                        if l.met { "ok" } else { "bad" },
                        l.measured_ms,
                        if l.what == "stock" {
                            " (p99)"
                        } else {
                            " (max)"
                        },
                        l.sla_ms,
                    );
                }
                details.push_str("</table>");
            }
            if s.status != ScenarioStatus::Passed && !s.stderr_tail.is_empty() {
                let _ = write!(
                    details,
                    "<details><summary>connector stderr</summary><pre>{}</pre></details>",
                    esc(&s.stderr_tail)
                );
            }
            if s.status != ScenarioStatus::Passed && !s.stdout_tail.is_empty() {
                let _ = write!(
                    details,
                    "<details><summary>connector stdout</summary><pre>{}</pre></details>",
                    esc(&s.stdout_tail)
                );
            }
            let _ = writeln!(
                h,
                "<tr><td><strong>{}</strong><br><code>{}</code></td><td class=\"{cls}\">{}</td><td>{:.1} s</td><td>{}</td></tr>",
                esc(&s.title),
                esc(&s.id),
                esc(s.status.label()),
                s.wall_ms as f64 / 1000.0,
                details
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("<p>Verify with <code>omnisim certify --verify certificate.json</code>.</p>\n</body></html>\n");
    h
}
