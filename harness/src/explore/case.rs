//! Running one generated case: render it, load it through the validator like
//! any scenario file, run it in virtual time, and judge it.

use std::path::Path;

use omnisim_engine::Defect;
use omnisim_reports::Status;

use super::plan::{FaultProfile, Plan};
use super::render::{Header, Rendered, render};
use crate::history::{Entry, OpType};
use crate::suite;
use crate::validate;

/// A connector strategy exploration can run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineChoice {
    /// The reference engine's default: webhooks, reconciliation, adjust, dedupe.
    Default,
    /// The lost-update engine: absolute `set` writes from a 15-minute poll.
    Naive,
    /// Absolute `set` writes on webhooks.
    Set,
    /// Adjusts, but only from a 15-minute poll.
    Poll,
    /// No event deduplication.
    NoDedupe,
    /// Store stock reserved only at capture.
    ReserveOnCapture,
    /// Guarded deltas (`compare_and_set`).
    CompareAndSet,
}

/// Every strategy name, as `--strategy` takes it.
pub const ENGINE_CHOICES: [(&str, EngineChoice); 7] = [
    ("default", EngineChoice::Default),
    ("naive", EngineChoice::Naive),
    ("set", EngineChoice::Set),
    ("poll", EngineChoice::Poll),
    ("no-dedupe", EngineChoice::NoDedupe),
    ("reserve-on-capture", EngineChoice::ReserveOnCapture),
    ("compare-and-set", EngineChoice::CompareAndSet),
];

impl std::str::FromStr for EngineChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ENGINE_CHOICES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, c)| *c)
            .ok_or_else(|| {
                let names: Vec<&str> = ENGINE_CHOICES.iter().map(|(n, _)| *n).collect();
                format!(
                    "`{s}` is not a strategy: expected one of {}",
                    names.join(", ")
                )
            })
    }
}

impl EngineChoice {
    /// The name `--strategy` takes.
    pub fn name(self) -> &'static str {
        ENGINE_CHOICES
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("default", |(n, _)| n)
    }

    /// The service level a scenario holds this strategy to: a 15-minute poll
    /// cannot meet the default 5-minute stock SLA, and that is not news.
    pub fn sla(self) -> Option<String> {
        match self {
            EngineChoice::Naive | EngineChoice::Poll => Some("20m".into()),
            _ => None,
        }
    }

    /// How long a case settles: every fault window has closed when settling
    /// starts, and a connector that reconciles every minute needs far less
    /// than the default half hour; a 15-minute poll needs the half hour.
    pub fn settle(self) -> Option<String> {
        match self {
            EngineChoice::Naive | EngineChoice::Poll => None,
            _ => Some("10m".into()),
        }
    }

    /// The `[connector] engine = …` value of the scenario file, with
    /// deliberate `defects` switched on (a scenario tagged `defect`).
    pub fn engine_toml_with(self, defects: &[Defect]) -> Option<String> {
        let base = self.engine_toml();
        if defects.is_empty() {
            return base;
        }
        let list: Vec<String> = defects.iter().map(|d| format!("\"{d}\"")).collect();
        let list = format!("defects = [{}]", list.join(", "));
        let inner = base
            .as_deref()
            .map(|b| {
                b.trim()
                    .trim_start_matches('{')
                    .trim_end_matches('}')
                    .trim()
            })
            .filter(|b| !b.is_empty());
        Some(match inner {
            Some(i) => format!("{{ {i}, {list} }}"),
            None => format!("{{ {list} }}"),
        })
    }

    /// The `[connector] engine = …` value of the scenario file.
    pub fn engine_toml(self) -> Option<String> {
        let s = match self {
            EngineChoice::Default => return None,
            EngineChoice::Naive => "{ sync = \"poll\", poll_every = \"15m\", write = \"set\" }",
            EngineChoice::Set => "{ write = \"set\" }",
            EngineChoice::Poll => "{ sync = \"poll\", poll_every = \"15m\" }",
            EngineChoice::NoDedupe => "{ dedupe = false }",
            EngineChoice::ReserveOnCapture => "{ reserve = \"on_capture\" }",
            EngineChoice::CompareAndSet => "{ write = \"compare_and_set\" }",
        };
        Some(s.to_owned())
    }
}

/// How one case ended.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// The rendered scenario.
    pub rendered: Rendered,
    /// Failed checks with their first violation, as `check: message`.
    pub violations: Vec<String>,
    /// Steps that were refused, by rendered step number, with the error code.
    pub refused: std::collections::BTreeMap<usize, String>,
    /// The history (`to_jsonl` gives its bytes).
    pub history: crate::history::History,
    /// When `--check-determinism` found the second run differing: the first
    /// differing line number (1-based) of the two histories.
    pub nondeterministic_at: Option<usize>,
}

impl CaseResult {
    /// Keeps only violations of `checks` (all of them when `checks` is empty).
    pub fn keep_checks(&mut self, checks: &[String]) {
        if !checks.is_empty() {
            self.violations.retain(|v| {
                let name = v.split(':').next().unwrap_or_default();
                checks.iter().any(|c| c == name) || name == "generator"
            });
        }
    }

    /// True when the case found something: a violation or nondeterminism.
    pub fn failed(&self) -> bool {
        !self.violations.is_empty() || self.nondeterministic_at.is_some()
    }
}

/// Renders, loads and runs one case.
pub fn run_case(
    plan: &Plan,
    seed: u64,
    engine: EngineChoice,
    profile: FaultProfile,
    check_determinism: bool,
) -> CaseResult {
    run_case_pruned(plan, seed, engine, profile, check_determinism, false)
}

/// [`run_case`], optionally listing only the SKUs some step names.
pub fn run_case_pruned(
    plan: &Plan,
    seed: u64,
    engine: EngineChoice,
    profile: FaultProfile,
    check_determinism: bool,
    prune_skus: bool,
) -> CaseResult {
    run_case_with(
        plan,
        seed,
        (engine, &[]),
        profile,
        check_determinism,
        prune_skus,
    )
}

/// [`run_case_pruned`] against the engine with deliberate `defects` on.
pub fn run_case_with(
    plan: &Plan,
    seed: u64,
    (engine, defects): (EngineChoice, &[Defect]),
    profile: FaultProfile,
    check_determinism: bool,
    prune_skus: bool,
) -> CaseResult {
    let header = Header {
        name: format!("Explored case (seed {seed}, strategy {})", engine.name()),
        engine: engine.engine_toml_with(defects),
        defect: !defects.is_empty(),
        sla: engine.sla(),
        settle: engine.settle(),
        prune_skus,
        ..Header::default()
    };
    let rendered = render(plan, seed, profile, &header);
    let loaded = match validate::load_str(Path::new("explored.toml"), &rendered.toml) {
        Ok(l) => l,
        Err(errors) => {
            // A generator bug, not a finding about the connector: say so loudly.
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return CaseResult {
                rendered,
                violations: vec![format!("generator: invalid scenario: {}", text.join("; "))],
                refused: Default::default(),
                history: Default::default(),
                nondeterministic_at: None,
            };
        }
    };
    let strategy = crate::runner::strategy_of(&loaded);
    let judged = suite::run_verdict(&loaded, seed, strategy.clone());
    let violations = judged
        .result
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| {
            format!(
                "{}: {}",
                c.name,
                c.violations
                    .first()
                    .map_or("failed", |v| v.message.as_str())
            )
        })
        .collect();
    let refused = refused_steps(&judged.history.lock_entries());
    let nondeterministic_at = if check_determinism {
        let again = suite::run_verdict(&loaded, seed, strategy);
        first_difference(&judged.history.to_jsonl(), &again.history.to_jsonl())
    } else {
        None
    };
    CaseResult {
        rendered,
        violations,
        refused,
        history: judged.history,
        nondeterministic_at,
    }
}

/// The steps whose operation was refused, with their error code.
fn refused_steps(entries: &[Entry]) -> std::collections::BTreeMap<usize, String> {
    let mut out = std::collections::BTreeMap::new();
    for entry in entries {
        if let Entry::Op {
            step,
            kind: OpType::Fail,
            value,
            ..
        } = entry
            && let Some(code) = value["error"].as_str()
        {
            out.insert(*step, code.to_owned());
        }
    }
    out
}

/// The first line (1-based) at which two texts differ, if they do.
pub fn first_difference(a: &str, b: &str) -> Option<usize> {
    if a == b {
        return None;
    }
    let mut la = a.lines();
    let mut lb = b.lines();
    let mut n = 1;
    loop {
        match (la.next(), lb.next()) {
            (Some(x), Some(y)) if x == y => n += 1,
            (None, None) => return Some(n),
            _ => return Some(n),
        }
    }
}
