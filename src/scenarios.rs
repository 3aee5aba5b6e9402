//! Scenario files from a vendor's own tests: load, run in virtual time against
//! the reference engine, and judge with every checker.
//!
//! This is the same path `omnisim run` takes; [`Verdict::result`] is the entry
//! `results.json` would hold, and [`Verdict::history_jsonl`] the history.

use std::path::{Path, PathBuf};

use omnisim_harness::suite;
use omnisim_harness::validate::{self, Loaded, ScenarioError};
use omnisim_reports::{ScenarioResult, Status};

/// One scenario's verdict.
#[derive(Debug)]
pub struct Verdict {
    /// The result as `results.json` shows it: checks, reasons, witnesses.
    pub result: ScenarioResult,
    /// The whole history, one JSON object per line.
    pub history_jsonl: String,
}

impl Verdict {
    /// Every check met the scenario's expectation.
    pub fn passed(&self) -> bool {
        self.result.status == Status::Pass
    }

    /// Why it failed, one reason per line (empty when it passed), with the
    /// command that reproduces it.
    pub fn explain(&self) -> String {
        let mut text = String::new();
        for r in self.result.reasons.iter().chain(&self.result.step_problems) {
            text.push_str(r);
            text.push('\n');
        }
        if !text.is_empty() {
            text.push_str("reproduce: ");
            text.push_str(&self.result.reproduce);
            text.push('\n');
        }
        text
    }
}

/// Validation errors of a scenario, each with its file, line and column.
#[derive(Debug)]
pub struct Invalid(pub Vec<ScenarioError>);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Invalid {}

/// Loads a scenario file, with every validation error it has.
pub fn load(file: impl AsRef<Path>) -> Result<Loaded, Invalid> {
    validate::load(file.as_ref()).map_err(Invalid)
}

/// Runs a loaded scenario. `seed` overrides the file's.
pub fn run(loaded: &Loaded, seed: Option<u64>) -> Verdict {
    let judged = suite::run_one(loaded, seed);
    Verdict {
        result: judged.result,
        history_jsonl: judged.history_jsonl,
    }
}

/// Loads and runs one scenario file.
pub fn run_file(file: impl AsRef<Path>, seed: Option<u64>) -> Result<Verdict, Invalid> {
    Ok(run(&load(file)?, seed))
}

/// Runs scenario text; `name` stands for its file in errors and results.
pub fn run_str(name: &str, toml: &str, seed: Option<u64>) -> Result<Verdict, Invalid> {
    let loaded = validate::load_str(&PathBuf::from(name), toml).map_err(Invalid)?;
    Ok(run(&loaded, seed))
}

/// Finds the scenario files under `paths` (folders are searched recursively),
/// in a stable order.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Invalid> {
    suite::discover(paths).map_err(|e| Invalid(vec![e]))
}
