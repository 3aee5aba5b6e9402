//! Randomized exploration: generate whole scenarios, run each in virtual
//! time against a connector strategy, and shrink the first failure to a
//! minimal scenario a person can read.
//!
//! - [`plan`]: the proptest strategy for a merchant's day (catalog, stock,
//!   interleaved customers, clerks and staff, fault windows).
//! - [`render`]: a plan as ordinary scenario TOML, so a case runs through the
//!   same validator and runner as a hand-written file.
//! - [`case`]: running and judging one case (optionally twice, to guard
//!   determinism).
//! - [`shrink`]: proptest's shrinking of a failing plan, and the regression
//!   file it leaves behind.
//!
//! Each case has its own seed, derived from the exploration seed and the case
//! number; the case seed drives both the generator and the world, so a case
//! is reproduced exactly by its seed alone.

pub mod case;
pub mod plan;
pub mod render;
pub mod shrink;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

pub use case::{CaseResult, ENGINE_CHOICES, EngineChoice, run_case};
pub use plan::{FaultProfile, Plan, Shape};
pub use shrink::{Found, ShrinkLimits};

/// How long an exploration runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// This many cases.
    Cases(u64),
    /// Until this much wall time has passed.
    Time(Duration),
}

/// One exploration's settings.
#[derive(Clone, Debug)]
pub struct ExploreConfig {
    /// The exploration seed.
    pub seed: u64,
    /// How many cases, or for how long.
    pub budget: Budget,
    /// The connector strategy under test.
    pub engine: EngineChoice,
    /// The shape of cases.
    pub shape: Shape,
    /// Run each case twice and compare histories byte for byte.
    pub check_determinism: bool,
    /// Worker threads (each case stays on one thread).
    pub jobs: usize,
    /// How hard to shrink.
    pub shrink: ShrinkLimits,
    /// Only these checks count as findings (all when empty): hunt for one
    /// invariant, ignoring others a weak strategy is known to break.
    pub checks: Vec<String>,
    /// Deliberate engine defects switched on (to measure how fast
    /// exploration finds each; empty normally).
    pub defects: Vec<omnisim_engine::Defect>,
}

impl Default for ExploreConfig {
    fn default() -> Self {
        ExploreConfig {
            seed: 1,
            budget: Budget::Cases(100),
            engine: EngineChoice::Default,
            shape: Shape::default(),
            check_determinism: false,
            jobs: 1,
            shrink: ShrinkLimits::default(),
            checks: Vec::new(),
            defects: Vec::new(),
        }
    }
}

/// Progress, reported after each case.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// Cases finished.
    pub cases: u64,
    /// Steps run in them.
    pub steps: u64,
    /// Cases that failed.
    pub failures: u64,
}

/// What an exploration found.
#[derive(Debug)]
pub struct Report {
    /// Cases run.
    pub cases: u64,
    /// Steps run across all cases (rendered steps).
    pub steps: u64,
    /// The first failure (lowest case number among those found), shrunk.
    pub found: Option<Found>,
    /// Wall time spent running cases, shrinking excluded.
    pub explore_time: Duration,
    /// Wall time spent shrinking.
    pub shrink_time: Duration,
}

/// The seed of case `index` of an exploration seeded `seed` (SplitMix64).
pub fn case_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_add(index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(0x632b_e59b_d9b4_e019);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    // Keep seeds readable and exactly representable in JSON and TOML.
    (z ^ (z >> 31)) & 0x001f_ffff_ffff_ffff
}

/// Explores: runs cases until the budget is spent or a case fails, then
/// shrinks the failure. `progress` is called after every case (from worker
/// threads).
pub fn explore(config: &ExploreConfig, progress: &(dyn Fn(Progress) + Sync)) -> Report {
    let start = std::time::Instant::now(); // determinism-ok: wall-time budget and rates only
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let done = Mutex::new(Progress::default());
    let first: Mutex<Option<(u64, u64, Plan, CaseResult)>> = Mutex::new(None);
    let jobs = config.jobs.max(1);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let over = match config.budget {
                        Budget::Cases(n) => index >= n,
                        Budget::Time(d) => start.elapsed() >= d,
                    };
                    if over {
                        break;
                    }
                    let seed = case_seed(config.seed, index);
                    let plan = shrink::generate(config.shape, seed);
                    let mut result = case::run_case_with(
                        &plan,
                        seed,
                        (config.engine, &config.defects),
                        config.shape.faults,
                        config.check_determinism,
                        false,
                    );
                    result.keep_checks(&config.checks);
                    let snapshot = {
                        let mut d = done.lock().unwrap_or_else(|p| p.into_inner());
                        d.cases += 1;
                        d.steps += result.rendered.steps as u64;
                        if result.failed() {
                            d.failures += 1;
                        }
                        *d
                    };
                    progress(snapshot);
                    if result.failed() {
                        let mut f = first.lock().unwrap_or_else(|p| p.into_inner());
                        if f.as_ref().is_none_or(|(i, ..)| index < *i) {
                            *f = Some((index, seed, plan, result));
                        }
                        stop.store(true, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let explore_time = start.elapsed();
    let totals = *done.lock().unwrap_or_else(|p| p.into_inner());
    let first = first.into_inner().unwrap_or_else(|p| p.into_inner());
    let shrink_start = std::time::Instant::now(); // determinism-ok: reported only
    let found =
        first.map(|(index, seed, plan, result)| shrink::shrink(config, index, seed, plan, result));
    Report {
        cases: totals.cases,
        steps: totals.steps,
        found,
        explore_time,
        shrink_time: shrink_start.elapsed(),
    }
}
