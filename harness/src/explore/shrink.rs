//! Generating a case from its seed and shrinking a failing one with
//! proptest's value trees (no failure persistence: the regression file is the
//! persistence), then writing the minimal case as a scenario file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::case::{CaseResult, run_case_with};
use super::plan::{Plan, Shape, plan};
use super::render::{Header, render};
use super::{ExploreConfig, FaultProfile};

/// How hard shrinking tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShrinkLimits {
    /// At most this many candidate runs.
    pub max_runs: u32,
    /// At most this much wall time.
    pub max_time: Duration,
}

impl Default for ShrinkLimits {
    fn default() -> Self {
        ShrinkLimits {
            max_runs: 1000,
            max_time: Duration::from_secs(120),
        }
    }
}

/// A failure, shrunk.
#[derive(Clone, Debug)]
pub struct Found {
    /// The case number in the exploration.
    pub index: u64,
    /// The case seed: generator and world.
    pub seed: u64,
    /// Steps of the case as generated.
    pub original_steps: usize,
    /// Steps after shrinking.
    pub steps: usize,
    /// SKUs after shrinking.
    pub skus: usize,
    /// Candidate runs spent shrinking.
    pub shrink_runs: u32,
    /// What the shrunk case violates (`check: message`).
    pub violations: Vec<String>,
    /// The shrunk case differs between two runs (a determinism failure).
    pub nondeterministic: bool,
    /// The regression file's text.
    pub toml: String,
    /// The strategy name.
    pub strategy: &'static str,
    /// The deliberate engine defects it ran with (empty normally).
    pub defects: Vec<&'static str>,
}

impl Found {
    /// The file name the regression is saved under.
    pub fn file_name(&self) -> String {
        let kind = if self.nondeterministic {
            "nondeterminism"
        } else {
            self.violations
                .first()
                .and_then(|v| v.split(':').next())
                .unwrap_or("violation")
        };
        let who = if self.defects.is_empty() {
            self.strategy.to_owned()
        } else {
            format!("defect-{}", self.defects.join("+"))
        };
        format!("{who}-{kind}-seed-{}.toml", self.seed)
    }

    /// Writes the regression file into `dir` (created if needed).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(self.file_name());
        std::fs::write(&path, &self.toml)?;
        Ok(path)
    }
}

fn runner_for(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(seed ^ (i as u64).wrapping_mul(0x9e37_79b9)).to_le_bytes());
    }
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

fn tree_for(shape: Shape, seed: u64) -> impl ValueTree<Value = Plan> {
    let mut runner = runner_for(seed);
    match plan(shape).new_tree(&mut runner) {
        Ok(t) => t,
        // The plan strategy has no filters, so it cannot reject.
        Err(e) => unreachable!("plan generation cannot be rejected: {e}"),
    }
}

/// The plan of the case with this seed.
pub fn generate(shape: Shape, seed: u64) -> Plan {
    tree_for(shape, seed).current()
}

fn failing_checks(r: &CaseResult) -> BTreeSet<String> {
    r.violations
        .iter()
        .map(|v| v.split(':').next().unwrap_or_default().to_owned())
        .collect()
}

/// Shrinks a failing case: the same kind of failure (a violation of one of
/// the same checks, or nondeterminism) must persist at each accepted step.
pub fn shrink(
    config: &ExploreConfig,
    index: u64,
    seed: u64,
    original: Plan,
    failure: CaseResult,
) -> Found {
    let start = std::time::Instant::now(); // determinism-ok: a wall-time limit on shrinking
    let profile = config.shape.faults;
    let wanted = failing_checks(&failure);
    let nondeterministic = failure.nondeterministic_at.is_some();
    let still_fails = |r: &CaseResult| {
        if nondeterministic {
            r.nondeterministic_at.is_some()
        } else {
            !failing_checks(r).is_disjoint(&wanted)
        }
    };
    let run = |plan: &Plan, prune: bool| {
        run_case_with(
            plan,
            seed,
            (config.engine, &config.defects),
            profile,
            nondeterministic,
            prune,
        )
    };
    let mut tree = tree_for(config.shape, seed);
    debug_assert_eq!(tree.current(), original);
    let original_steps = failure.rendered.steps;
    let mut best = original;
    let mut best_result = failure;
    let mut runs = 0u32;
    let within =
        |runs: u32| runs < config.shrink.max_runs && start.elapsed() < config.shrink.max_time;
    if tree.simplify() {
        while within(runs) {
            runs += 1;
            let candidate = tree.current();
            let mut r = run(&candidate, false);
            r.keep_checks(&config.checks);
            if still_fails(&r) {
                best = candidate;
                best_result = r;
                if !tree.simplify() {
                    break;
                }
            } else if !tree.complicate() {
                break;
            }
        }
    }
    // Then drop steps one at a time, last first, while the failure survives:
    // proptest's shrinking stops at the first local minimum, which can keep a
    // step the failure does not need (times are offsets from opening, so
    // dropping one moves no other).
    let mut i = best.steps.len();
    while i > 0 && best.steps.len() > 1 && within(runs) {
        i -= 1;
        let mut candidate = best.clone();
        candidate.steps.remove(i);
        runs += 1;
        let mut r = run(&candidate, false);
        r.keep_checks(&config.checks);
        if still_fails(&r) {
            best = candidate;
            best_result = r;
        }
    }
    // Last pass: list only the SKUs a step names, if the failure survives it
    // (dropping a SKU from the plan would renumber the others).
    let mut prune_skus = false;
    if within(runs) {
        runs += 1;
        let mut r = run(&best, true);
        r.keep_checks(&config.checks);
        if still_fails(&r) && r.rendered.skus < best_result.rendered.skus {
            prune_skus = true;
            best_result = r;
        }
    }
    // The final file: annotate refused steps so that `omnisim run` fails on
    // the invariant alone, not on a customer turned away by design.
    let header = Header {
        name: format!(
            "Explored: {} (seed {seed}, strategy {})",
            if nondeterministic {
                "nondeterministic history".to_owned()
            } else {
                best_result
                    .violations
                    .first()
                    .and_then(|v| v.split(':').next())
                    .unwrap_or("violation")
                    .replace('_', " ")
            },
            config.engine.name()
        ),
        comments: comments(config, index, seed, original_steps, &best_result, runs),
        engine: config.engine.engine_toml_with(&config.defects),
        defect: !config.defects.is_empty(),
        sla: config.engine.sla(),
        settle: config.engine.settle(),
        expect_errors: best_result.refused.clone(),
        prune_skus,
    };
    let rendered = render(&best, seed, profile, &header);
    Found {
        index,
        seed,
        original_steps,
        steps: rendered.steps,
        skus: rendered.skus,
        shrink_runs: runs,
        violations: best_result.violations.clone(),
        nondeterministic,
        toml: rendered.toml,
        strategy: config.engine.name(),
        defects: config.defects.iter().map(|d| d.name()).collect(),
    }
}

fn comments(
    config: &ExploreConfig,
    index: u64,
    seed: u64,
    original_steps: usize,
    r: &CaseResult,
    runs: u32,
) -> Vec<String> {
    let profile = match config.shape.faults {
        FaultProfile::None => "none",
        FaultProfile::Random => "random",
        FaultProfile::Heavy => "heavy",
    };
    let mut c = vec![
        "A regression found by `omnisim explore` and shrunk by proptest.".to_owned(),
        format!(
            "Found by: omnisim explore --seed {} --strategy {} --faults {profile} --max-steps {}{} (case {index}, case seed {seed})",
            config.seed,
            config.engine.name(),
            config.shape.max_steps,
            config
                .checks
                .iter()
                .map(|c| format!(" --check {c}"))
                .chain(config.defects.iter().map(|d| format!(" --defect {d}")))
                .collect::<String>()
        ),
        format!(
            "Shrunk from {original_steps} steps to {} in {runs} runs.",
            r.rendered.steps
        ),
    ];
    if let Some(line) = r.nondeterministic_at {
        c.push(format!(
            "Two runs of this case differ from history line {line} on."
        ));
    }
    for v in &r.violations {
        c.push(format!("Violation: {v}"));
    }
    c.push("Steps marked expect_error were refused in the run: that is not the finding.".into());
    c.push(format!(
        "Reproduce: omnisim run <this file>   or   omnisim replay <this file> --seed {seed}"
    ));
    c.push("Once fixed, copy it into scenarios/regressions/ and state what it must show.".into());
    c
}
