//! `omnisim report merge`: join the results of sharded runs into one.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use omnisim_reports::RunResults;
use omnisim_reports::model::SCHEMA_VERSION;

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    command: ReportCommand,
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Merge `results.json` files (or run folders) from `omnisim run --shard` into one.
    Merge {
        /// Result files or run folders.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Where to write the merged results.json and junit.xml.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(args: ReportArgs) -> ExitCode {
    match args.command {
        ReportCommand::Merge { inputs, out } => merge(&inputs, &out),
    }
}

fn merge(inputs: &[PathBuf], out: &std::path::Path) -> ExitCode {
    let mut merged = RunResults {
        schema_version: SCHEMA_VERSION,
        scenarios: Vec::new(),
    };
    for input in inputs {
        let file = if input.is_dir() {
            input.join("results.json")
        } else {
            input.clone()
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("omnisim report merge: cannot read {}: {e}", file.display());
                return ExitCode::from(2);
            }
        };
        let results: RunResults = match serde_json::from_str(&text) {
            Ok(r) => r,
            Err(e) => {
                eprintln!(
                    "omnisim report merge: {}:{}:{}: not a results.json: {e}",
                    file.display(),
                    e.line(),
                    e.column()
                );
                return ExitCode::from(2);
            }
        };
        if results.schema_version != SCHEMA_VERSION {
            eprintln!(
                "omnisim report merge: {} has schema_version {}, this omnisim reads {SCHEMA_VERSION}",
                file.display(),
                results.schema_version
            );
            return ExitCode::from(2);
        }
        merged.scenarios.extend(results.scenarios);
    }
    merged
        .scenarios
        .sort_by(|a, b| (&a.file, &a.name).cmp(&(&b.file, &b.name)));
    let written = std::fs::create_dir_all(out)
        .and_then(|()| std::fs::write(out.join("results.json"), omnisim_reports::to_json(&merged)))
        .and_then(|()| {
            std::fs::write(
                out.join("junit.xml"),
                omnisim_reports::junit::render(&merged),
            )
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
        "merged {} scenarios ({failed} failed) into {}",
        merged.scenarios.len(),
        out.join("results.json").display()
    );
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
