//! The run result: what a run of scenarios found. Other tools read it as
//! `results.json`; fields may be added, never renamed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The version of the `results.json` layout.
pub const SCHEMA_VERSION: u32 = 1;

/// An operation or event that proves a violation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    /// Its index in the scenario's history.
    pub index: u64,
    /// Simulated time.
    pub time: DateTime<Utc>,
    /// What it was, in a few words.
    pub what: String,
}

/// One broken rule, explained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// A sentence a person can read.
    pub message: String,
    /// The SKU concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// Units concerned (oversold units), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<i64>,
    /// The operations and events that prove it.
    pub witnesses: Vec<Witness>,
}

/// Pass or fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Held (or, for a scenario, matched its expectation).
    Pass,
    /// Broken (or did not match).
    Fail,
}

/// The verdict of one checker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// Pass or fail.
    pub status: Status,
    /// Every violation found.
    pub violations: Vec<Violation>,
    /// Whether the scenario expected this check to fail.
    #[serde(default)]
    pub expected_to_fail: bool,
    /// Figures the check measured.
    #[serde(default)]
    pub metrics: serde_json::Value,
}

/// One scenario's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: String,
    /// Its file.
    pub file: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// Pass when every check met the expectation.
    pub status: Status,
    /// The seed it ran with.
    pub seed: u64,
    /// Simulated time spanned, in ms.
    pub sim_span_ms: i64,
    /// Wall time, in ms.
    pub wall_ms: u64,
    /// Every check's verdict.
    pub checks: Vec<CheckResult>,
    /// Why the scenario failed, in one line each (empty when it passed).
    pub reasons: Vec<String>,
    /// Steps that failed unexpectedly (a broken scenario, or a broken system).
    pub step_problems: Vec<String>,
    /// Sync errors the engine reported.
    pub engine_errors: Vec<serde_json::Value>,
    /// The command that reruns it exactly.
    pub reproduce: String,
}

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The scenarios, in run order.
    pub scenarios: Vec<ScenarioResult>,
}

impl RunResults {
    /// Scenarios that failed.
    pub fn failed(&self) -> impl Iterator<Item = &ScenarioResult> {
        self.scenarios.iter().filter(|s| s.status == Status::Fail)
    }
}
