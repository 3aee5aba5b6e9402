//! `omnisim run`: the scenario suite in virtual time, for CI.
//!
//! Exit 0 when every scenario meets its expectation, 1 when one does not,
//! 2 on bad input (a scenario that does not validate, a bad flag).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use omnisim_harness::suite::{self, Judged};
use omnisim_reports::{RunResults, Status, model::SCHEMA_VERSION};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or folders (searched for `.toml`).
    #[arg(default_value = "scenarios")]
    paths: Vec<PathBuf>,
    /// Run every scenario with this seed instead of its own.
    #[arg(long)]
    seed: Option<u64>,
    /// Run only scenarios with this tag (repeatable: any of them).
    #[arg(long)]
    filter: Vec<String>,
    /// Write results here instead of `target/omnisim/<run>/`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run the K-th of N deterministic slices of the suite (`2/4`).
    #[arg(long, value_parser = shard)]
    shard: Option<(usize, usize)>,
    /// Print the results as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Switch on a deliberate failure mode of the reference engine in every
    /// scenario (repeatable), to measure what the suite catches.
    #[arg(long = "defect", hide = true)]
    defects: Vec<omnisim_engine::Defect>,
}

fn shard(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("`{s}` is not K/N with 1 <= K <= N");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

pub fn run(args: RunArgs) -> ExitCode {
    let files = match suite::discover(&args.paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let loaded = match suite::load_all(&files) {
        Ok(l) => l,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!(
                "omnisim run: {} problem(s) in scenario files; nothing was run",
                errors.len()
            );
            return ExitCode::from(2);
        }
    };
    let mut selected: Vec<_> = loaded
        .into_iter()
        .filter(|l| {
            args.filter.is_empty() || l.scenario.tags.iter().any(|t| args.filter.contains(t))
        })
        .collect();
    if let Some((k, n)) = args.shard {
        selected = selected
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % n == k - 1)
            .map(|(_, l)| l)
            .collect();
    }
    if selected.is_empty() {
        eprintln!("omnisim run: no scenario matched");
        return ExitCode::from(2);
    }
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(selected.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut judged: Vec<Judged> = Vec::with_capacity(selected.len());
    for l in &selected {
        bar.set_message(l.scenario.name.clone());
        if args.defects.is_empty() {
            judged.push(suite::run_one(l, args.seed));
        } else {
            let mut strategy = omnisim_harness::runner::strategy_of(l);
            strategy.defects.extend(args.defects.iter().copied());
            judged.push(suite::run_one_with(l, args.seed, strategy));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let results = RunResults {
        schema_version: SCHEMA_VERSION,
        scenarios: judged.iter().map(|j| j.result.clone()).collect(),
    };
    let out = args.out.clone().unwrap_or_else(default_out);
    if let Err(e) = write_outputs(&out, &results, &judged) {
        eprintln!(
            "omnisim run: cannot write results to {}: {e}",
            out.display()
        );
        return ExitCode::from(2);
    }
    if args.json {
        crate::say!("{}", omnisim_reports::to_json(&results));
    } else {
        print_table(&results);
        crate::say!("results: {}", out.join("results.json").display());
        crate::say!("summary: {}", out.join("summary.md").display());
        crate::say!("report:  {}", out.join("report.html").display());
    }
    if results.failed().next().is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn default_out() -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S"); // determinism-ok: names the output folder only
    PathBuf::from("target/omnisim").join(format!("run-{stamp}"))
}

fn write_outputs(
    out: &std::path::Path,
    results: &RunResults,
    judged: &[Judged],
) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("results.json"), omnisim_reports::to_json(results))?;
    let timelines: Vec<_> = judged.iter().map(|j| Some(j.timeline.clone())).collect();
    write_readable(out, results, &timelines, "omnisim run")?;
    let mut all = String::new();
    for j in judged {
        for line in j.history_jsonl.lines() {
            all.push_str(&format!(
                "{{\"scenario\":{},\"entry\":{line}}}\n",
                serde_json::to_string(&j.result.name).unwrap_or_default()
            ));
        }
    }
    std::fs::write(out.join("history.jsonl"), all)
}

/// Writes `junit.xml`, `summary.md` and `report.html` beside `results.json`.
pub fn write_readable(
    out: &std::path::Path,
    results: &RunResults,
    timelines: &[Option<omnisim_reports::timeline::Timeline>],
    title: &str,
) -> std::io::Result<()> {
    std::fs::write(
        out.join("junit.xml"),
        omnisim_reports::junit::render(results),
    )?;
    std::fs::write(
        out.join("summary.md"),
        omnisim_reports::markdown::render(results),
    )?;
    let page = omnisim_reports::html::Page {
        title,
        story: &[],
        results,
        timelines,
    };
    std::fs::write(
        out.join("report.html"),
        omnisim_reports::html::render(&page),
    )
}

fn print_table(results: &RunResults) {
    crate::say!("{}", table(results));
}

/// The console table: one row per scenario with its whole title (a long
/// title pushes its row's columns right rather than being cut), then each
/// failure with its reasons and reproduction command, then the totals.
pub(crate) fn table(results: &RunResults) -> String {
    use std::fmt::Write as _;
    let width = results
        .scenarios
        .iter()
        .map(|s| s.name.chars().count())
        .filter(|&n| n <= 72)
        .max()
        .unwrap_or(10);
    let mut out = String::new();
    for s in &results.scenarios {
        let mark = if s.status == Status::Pass {
            "pass"
        } else {
            "FAIL"
        };
        let _ = writeln!(
            out,
            "{mark}  {:<width$}  {:>8} sim  {:>7}  seed {}",
            s.name,
            span(s.sim_span_ms),
            wall(s.wall_ms),
            s.seed
        );
    }
    let failed: Vec<_> = results.failed().collect();
    for s in &failed {
        let _ = writeln!(out);
        let _ = writeln!(out, "FAIL {} ({})", s.name, s.file);
        for r in &s.reasons {
            let _ = writeln!(out, "  {r}");
        }
        let _ = writeln!(out, "  reproduce: {}", s.reproduce);
    }
    let ms: u64 = results.scenarios.iter().map(|s| s.wall_ms).sum();
    let _ = writeln!(out);
    let _ = write!(
        out,
        "{}: {} passed, {} failed (in {})",
        count(results.scenarios.len(), "scenario", "scenarios"),
        results.scenarios.len() - failed.len(),
        failed.len(),
        wall(ms)
    );
    out
}

/// `1 scenario`, `2 scenarios`.
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Wall time for people: `850 ms`, `4.2 s`, `3 min 05 s`.
fn wall(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {:02} s", ms / 60_000, ms / 1000 % 60),
    }
}

fn span(ms: i64) -> String {
    let m = ms / 60_000;
    format!("{}h{:02}m", m / 60, m % 60)
}
