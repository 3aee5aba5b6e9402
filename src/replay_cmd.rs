//! `omnisim replay FILE --seed N`: rerun one scenario and show its timeline
//! and verdicts. Same file and seed, same bytes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use omnisim_harness::history::{Entry, OpType};
use omnisim_harness::{suite, validate};
use omnisim_reports::Status;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The scenario file.
    file: PathBuf,
    /// The seed to run with (the one a failure printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Also write the history as JSON Lines here.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Show HTTP exchanges and platform events too, not only actor operations.
    #[arg(long)]
    verbose: bool,
}

pub fn run(args: ReplayArgs) -> ExitCode {
    let loaded = match validate::load(&args.file) {
        Ok(l) => l,
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            return ExitCode::from(2);
        }
    };
    let judged = suite::run_one(&loaded, args.seed);
    let r = &judged.result;
    say!("{} (seed {})", r.name, r.seed);
    for line in judged.history_jsonl.lines() {
        let Ok(entry) = serde_json::from_str::<Entry>(line) else {
            continue;
        };
        match entry {
            Entry::Op {
                index,
                time,
                process,
                kind,
                f,
                value,
                ..
            } => {
                let what = match kind {
                    OpType::Invoke => String::new(),
                    OpType::Ok => value["id"]
                        .as_str()
                        .map(|id| format!(" → {id}"))
                        .unwrap_or_default(),
                    OpType::Fail | OpType::Info => format!(
                        " → {}",
                        value["error"]
                            .as_str()
                            .or(value["unknown"].as_str())
                            .unwrap_or("?")
                    ),
                };
                say!(
                    "{:>5}  {}  {:<16} {:<6} {f}{what}",
                    index,
                    time.format("%H:%M:%S%.3f"),
                    process,
                    format!("{kind:?}").to_lowercase()
                );
            }
            Entry::Http {
                index,
                time,
                method,
                url,
                status,
                error,
                ..
            } if args.verbose => {
                let outcome = status.map(|s| s.to_string()).or(error).unwrap_or_default();
                say!(
                    "{:>5}  {}  {:<16} http   {method} {url} → {outcome}",
                    index,
                    time.format("%H:%M:%S%.3f"),
                    ""
                );
            }
            Entry::Event {
                index,
                platform,
                event,
                ..
            } if args.verbose => {
                say!(
                    "{:>5}  {}  {:<16} event  {} {}",
                    index,
                    event.occurred_at.format("%H:%M:%S%.3f"),
                    platform,
                    event.kind,
                    event.id
                );
            }
            _ => {}
        }
    }
    say!("");
    for c in &r.checks {
        let mark = match (c.status, c.expected_to_fail) {
            (Status::Pass, false) => "pass",
            (Status::Fail, true) => "fail (expected)",
            (Status::Fail, false) => "FAIL",
            (Status::Pass, true) => "PASS (a failure was expected)",
        };
        say!("{:<18} {mark}", c.name);
        for v in &c.violations {
            say!("    {}", v.message);
        }
    }
    for p in &r.reasons {
        say!("reason: {p}");
    }
    if let Some(path) = &args.history
        && let Err(e) = std::fs::write(path, &judged.history_jsonl)
    {
        eprintln!("omnisim replay: cannot write {}: {e}", path.display());
        return ExitCode::from(2);
    }
    say!(
        "{}: {}",
        if r.status == Status::Pass {
            "pass"
        } else {
            "FAIL"
        },
        r.reproduce
    );
    if r.status == Status::Pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
