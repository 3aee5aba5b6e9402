//! Renderers from a run result to files people and CI read.
//!
//! - [`model`]: the run-result types (`results.json` is their JSON form).
//! - [`junit`]: JUnit XML through `quick-junit`.
//!
//! It depends only on the run-result types, never on the simulators, the
//! engine or the runner. Markdown and the HTML timeline arrive with the
//! reports issue.
#![deny(missing_docs)]

pub mod junit;
pub mod model;

pub use model::{CheckResult, RunResults, ScenarioResult, Status, Violation, Witness};

/// `results.json`: the run result as pretty JSON.
pub fn to_json(results: &RunResults) -> String {
    serde_json::to_string_pretty(results).unwrap_or_default()
}
