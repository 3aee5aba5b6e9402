//! Renderers from a run result to files people and CI read.
//!
//! - [`model`]: the run-result types (`results.json` is their JSON form).
//! - [`junit`]: JUnit XML through `quick-junit`.
//! - [`markdown`]: `summary.md`, for a CI job summary or a pull-request comment.
//! - [`html`]: `report.html`, one self-contained page with timelines, stock
//!   charts and money per order.
//! - [`timeline`]: the per-scenario data the HTML draws (the harness derives it).
//!
//! It depends only on the run-result types, never on the simulators, the
//! engine or the runner.
#![deny(missing_docs)]

pub mod html;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod timeline;

pub use model::{CheckResult, RunResults, ScenarioResult, Status, Violation, Witness};

/// `results.json`: the run result as pretty JSON.
pub fn to_json(results: &RunResults) -> String {
    serde_json::to_string_pretty(results).unwrap_or_default()
}
