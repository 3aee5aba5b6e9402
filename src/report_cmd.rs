//! `omnisim report`: work with saved results.
//!
//! - `open DIR|results.json`: re-render `report.html` and `summary.md` from a
//!   saved `results.json` and the `history.jsonl` beside it.
//! - `merge`: join the results of sharded runs into one.
//! - `convert --to junit|markdown|html`: one saved result in another form.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use omnisim_harness::history::Entry;
use omnisim_harness::{suite, validate};
use omnisim_reports::RunResults;
use omnisim_reports::model::SCHEMA_VERSION;
use omnisim_reports::timeline::Timeline;

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    command: ReportCommand,
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Re-render report.html and summary.md from a saved run and print the report's path.
    #[command(
        after_help = "Examples:\n  omnisim report open target/omnisim/run-1\n  omnisim report open target/omnisim/run-1/results.json --out target/report\n\nExit codes:\n  0  written\n  2  bad input: a missing or unreadable results.json, a folder that cannot be written"
    )]
    Open {
        /// A run folder or its results.json (history.jsonl is read from beside it).
        input: PathBuf,
        /// Write the files here instead of beside the results.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Convert a saved results.json to JUnit XML, Markdown or HTML.
    #[command(
        after_help = "Examples:\n  omnisim report convert target/omnisim/run-1 --to junit --out junit.xml\n  omnisim report convert results.json --to markdown\n\nExit codes:\n  0  written\n  2  bad input: a missing or unreadable results.json, a file that cannot be written"
    )]
    Convert {
        /// A run folder or its results.json.
        input: PathBuf,
        /// The form to write.
        #[arg(long, value_enum)]
        to: Format,
        /// Write here instead of to stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Merge `results.json` files (or run folders) from `omnisim run --shard` into one.
    #[command(
        after_help = "Examples:\n  omnisim report merge shard-1 shard-2 --out target/omnisim/merged\n\nExit codes:\n  0  merged, and every scenario passed\n  1  merged, and a scenario failed\n  2  bad input: a missing or unreadable results.json, mixed schema versions"
    )]
    Merge {
        /// Result files or run folders.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Where to write the merged results.json, junit.xml, summary.md and report.html.
        #[arg(long)]
        out: PathBuf,
    },
}

/// What `convert` writes.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Format {
    /// JUnit XML.
    Junit,
    /// GitHub-flavoured Markdown (summary.md).
    Markdown,
    /// The self-contained HTML report.
    Html,
}

pub fn run(args: ReportArgs) -> ExitCode {
    match args.command {
        ReportCommand::Merge { inputs, out } => merge(&inputs, &out),
        ReportCommand::Open { input, out } => open(&input, out.as_deref()),
        ReportCommand::Convert { input, to, out } => convert(&input, to, out.as_deref()),
    }
}

/// Reads a `results.json` (or a folder's), checking its schema version.
fn read_results(input: &Path, cmd: &str) -> Result<(RunResults, PathBuf), ExitCode> {
    let file = if input.is_dir() {
        input.join("results.json")
    } else {
        input.to_owned()
    };
    let text = std::fs::read_to_string(&file).map_err(|e| {
        eprintln!("omnisim report {cmd}: cannot read {}: {e}", file.display());
        ExitCode::from(2)
    })?;
    let results: RunResults = serde_json::from_str(&text).map_err(|e| {
        eprintln!(
            "omnisim report {cmd}: {}:{}:{}: not a results.json: {e}",
            file.display(),
            e.line(),
            e.column()
        );
        ExitCode::from(2)
    })?;
    if results.schema_version != SCHEMA_VERSION {
        eprintln!(
            "omnisim report {cmd}: {} has schema_version {}, this omnisim reads {SCHEMA_VERSION}",
            file.display(),
            results.schema_version
        );
        return Err(ExitCode::from(2));
    }
    let dir = file.parent().map(Path::to_owned).unwrap_or_default();
    Ok((results, dir))
}

/// Rebuilds each scenario's timeline from `history.jsonl` beside the results
/// and the scenario file it names. A scenario whose history or file is gone
/// gets its verdicts only, with a notice on stderr.
fn timelines(results: &RunResults, dir: &Path, cmd: &str) -> Vec<Option<Timeline>> {
    let path = dir.join("history.jsonl");
    let mut by_scenario: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            for (n, line) in text.lines().enumerate() {
                let parsed = serde_json::from_str::<serde_json::Value>(line).and_then(|mut v| {
                    let scenario = v["scenario"].as_str().unwrap_or_default().to_owned();
                    serde_json::from_value::<Entry>(v["entry"].take()).map(|e| (scenario, e))
                });
                match parsed {
                    Ok((scenario, entry)) => by_scenario.entry(scenario).or_default().push(entry),
                    Err(e) => {
                        eprintln!(
                            "omnisim report {cmd}: {}:{}:{}: skipped a line that is not a history entry: {e}",
                            path.display(),
                            n + 1,
                            e.column()
                        );
                    }
                }
            }
        }
        Err(e) => {
            eprintln!(
                "omnisim report {cmd}: no history beside the results ({}: {e}); verdicts only",
                path.display()
            );
            return vec![None; results.scenarios.len()];
        }
    }
    results
        .scenarios
        .iter()
        .map(|s| {
            let entries = by_scenario.get(&s.name)?;
            match validate::load(Path::new(&s.file)) {
                Ok(loaded) => Some(omnisim_harness::timeline::derive(
                    &loaded,
                    entries,
                    &suite::witnessed(s),
                )),
                Err(_) => {
                    eprintln!(
                        "omnisim report {cmd}: cannot read the scenario {} (run from the folder the run was started in); its timeline is left out",
                        s.file
                    );
                    None
                }
            }
        })
        .collect()
}

fn open(input: &Path, out: Option<&Path>) -> ExitCode {
    let (results, dir) = match read_results(input, "open") {
        Ok(r) => r,
        Err(code) => return code,
    };
    let tls = timelines(&results, &dir, "open");
    let out = out.unwrap_or(&dir);
    let written = std::fs::create_dir_all(out).and_then(|()| {
        std::fs::write(
            out.join("summary.md"),
            omnisim_reports::markdown::render(&results),
        )?;
        let page = omnisim_reports::html::Page {
            title: "omnisim run",
            story: &[],
            results: &results,
            timelines: &tls,
        };
        std::fs::write(
            out.join("report.html"),
            omnisim_reports::html::render(&page),
        )
    });
    if let Err(e) = written {
        eprintln!(
            "omnisim report open: cannot write to {}: {e}",
            out.display()
        );
        return ExitCode::from(2);
    }
    crate::say!("summary: {}", out.join("summary.md").display());
    crate::say!("report:  {}", out.join("report.html").display());
    ExitCode::SUCCESS
}

fn convert(input: &Path, to: Format, out: Option<&Path>) -> ExitCode {
    let (results, dir) = match read_results(input, "convert") {
        Ok(r) => r,
        Err(code) => return code,
    };
    let text = match to {
        Format::Junit => omnisim_reports::junit::render(&results),
        Format::Markdown => omnisim_reports::markdown::render(&results),
        Format::Html => {
            let tls = timelines(&results, &dir, "convert");
            omnisim_reports::html::render(&omnisim_reports::html::Page {
                title: "omnisim run",
                story: &[],
                results: &results,
                timelines: &tls,
            })
        }
    };
    match out {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                eprintln!(
                    "omnisim report convert: cannot write {}: {e}",
                    path.display()
                );
                return ExitCode::from(2);
            }
            crate::say!("{}", path.display());
        }
        None => {
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(text.as_bytes());
        }
    }
    ExitCode::SUCCESS
}

fn merge(inputs: &[PathBuf], out: &std::path::Path) -> ExitCode {
    let mut merged = RunResults {
        schema_version: SCHEMA_VERSION,
        scenarios: Vec::new(),
    };
    // The shards' histories, joined, so the merged report has its timelines.
    let mut history = String::new();
    for input in inputs {
        let (results, dir) = match read_results(input, "merge") {
            Ok(r) => r,
            Err(code) => return code,
        };
        if let Ok(text) = std::fs::read_to_string(dir.join("history.jsonl")) {
            history.push_str(&text);
        }
        merged.scenarios.extend(results.scenarios);
    }
    merged
        .scenarios
        .sort_by(|a, b| (&a.file, &a.name).cmp(&(&b.file, &b.name)));
    let written = std::fs::create_dir_all(out)
        .and_then(|()| std::fs::write(out.join("results.json"), omnisim_reports::to_json(&merged)))
        .and_then(|()| {
            if history.is_empty() {
                Ok(())
            } else {
                std::fs::write(out.join("history.jsonl"), &history)
            }
        })
        .and_then(|()| {
            let tls = if history.is_empty() {
                vec![None; merged.scenarios.len()]
            } else {
                timelines(&merged, out, "merge")
            };
            crate::run_cmd::write_readable(out, &merged, &tls, "omnisim run (merged)")
        });
    if let Err(e) = written {
        eprintln!(
            "omnisim report merge: cannot write to {}: {e}",
            out.display()
        );
        return ExitCode::from(2);
    }
    let failed = merged.failed().count();
    crate::say!(
        "merged {} ({failed} failed) into {}",
        crate::run_cmd::count(merged.scenarios.len(), "scenario", "scenarios"),
        out.join("results.json").display()
    );
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
