//! `omnisim explore`: generate random merchant days with faults, run each in
//! virtual time against a connector strategy, and shrink the first failure
//! to a regression file.
//!
//! Exit codes: 0 nothing found, 1 a violation (or nondeterminism) found,
//! 2 bad input.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use omnisim_harness::explore::{
    self, Budget, EngineChoice, ExploreConfig, FaultProfile, Shape, ShrinkLimits,
};
use omnisim_harness::suite::shell_quote;

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// How many cases to run.
    #[arg(long, conflicts_with = "minutes")]
    cases: Option<u64>,
    /// Or run for this many minutes of wall time.
    #[arg(long)]
    minutes: Option<f64>,
    /// The exploration seed (each case's seed derives from it).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The connector strategy: default, naive (set from a 15-minute poll),
    /// set, poll, no-dedupe, reserve-on-capture, compare-and-set.
    #[arg(long, default_value = "default", value_parser = parse_engine)]
    strategy: EngineChoice,
    /// Faults: `random` windows of every kind, `heavy` (20 % webhook drop,
    /// 20 % duplicates, reorder, 5 % 5xx, a crash every 10 minutes) or `none`.
    #[arg(long, default_value = "random", value_parser = parse_profile)]
    faults: FaultProfile,
    /// At most this many steps per case.
    #[arg(long, default_value_t = 50)]
    max_steps: usize,
    /// At most this many SKUs per case.
    #[arg(long, default_value_t = 4)]
    max_skus: usize,
    /// Worker threads; each case stays on one thread.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Run each case twice and fail on any difference in the histories.
    #[arg(long)]
    check_determinism: bool,
    /// Only this check counts as a finding (repeatable; all by default).
    #[arg(long = "check", value_parser = parse_check)]
    checks: Vec<String>,
    /// At most this many runs while shrinking.
    #[arg(long, default_value_t = 1000)]
    shrink_runs: u32,
    /// Where the shrunk regression file goes.
    #[arg(long, default_value = "target/omnisim/explore")]
    out: PathBuf,
    /// No progress bar (for logs and CI).
    #[arg(long)]
    quiet: bool,
    /// Switch on a deliberate failure mode of the reference engine
    /// (repeatable), to measure how soon exploration finds it.
    #[arg(long = "defect", hide = true)]
    defects: Vec<omnisim_engine::Defect>,
}

fn parse_engine(s: &str) -> Result<EngineChoice, String> {
    s.parse()
}

fn parse_profile(s: &str) -> Result<FaultProfile, String> {
    s.parse()
}

fn parse_check(s: &str) -> Result<String, String> {
    if omnisim_harness::validate::CHECKS.contains(&s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "there is no check `{s}`: expected one of {}",
            omnisim_harness::validate::CHECKS.join(", ")
        ))
    }
}

pub fn run(args: ExploreArgs) -> ExitCode {
    if args.max_steps == 0 || args.max_skus == 0 || args.jobs == 0 {
        eprintln!("omnisim explore: --max-steps, --max-skus and --jobs must be at least 1");
        return ExitCode::from(2);
    }
    let budget = match (args.cases, args.minutes) {
        (_, Some(m)) if !(m.is_finite() && m > 0.0) => {
            eprintln!("omnisim explore: --minutes must be a positive number, not {m}");
            return ExitCode::from(2);
        }
        (_, Some(m)) => Budget::Time(Duration::from_secs_f64(m * 60.0)),
        (Some(n), None) => Budget::Cases(n),
        (None, None) => Budget::Cases(100),
    };
    let config = ExploreConfig {
        seed: args.seed,
        budget,
        engine: args.strategy,
        shape: Shape {
            max_steps: args.max_steps,
            max_skus: args.max_skus,
            faults: args.faults,
        },
        check_determinism: args.check_determinism,
        jobs: args.jobs,
        shrink: ShrinkLimits {
            max_runs: args.shrink_runs,
            ..ShrinkLimits::default()
        },
        checks: args.checks.clone(),
        defects: args.defects.clone(),
    };
    let bar = match budget {
        Budget::Cases(n) if !args.quiet => ProgressBar::new(n),
        Budget::Time(_) if !args.quiet => ProgressBar::new_spinner(),
        _ => ProgressBar::hidden(),
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos} cases  {per_sec}  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let report = explore::explore(&config, &|p| {
        bar.set_position(p.cases);
        bar.set_message(format!("{} steps, {} failures", p.steps, p.failures));
    });
    bar.finish_and_clear();
    let secs = report.explore_time.as_secs_f64().max(1e-9);
    say!(
        "omnisim explore: {} cases ({} steps, {:.1} steps/case) against `{}` with {} faults, seed {}, {} job(s)",
        report.cases,
        report.steps,
        report.steps as f64 / report.cases.max(1) as f64,
        config.engine.name(),
        match config.shape.faults {
            FaultProfile::None => "no",
            FaultProfile::Random => "random",
            FaultProfile::Heavy => "heavy",
        },
        config.seed,
        config.jobs
    );
    say!(
        "  {:.2} s: {:.1} cases/s, {:.0} steps/s{}",
        secs,
        report.cases as f64 / secs,
        report.steps as f64 / secs,
        if config.check_determinism {
            " (each case run twice)"
        } else {
            ""
        }
    );
    let Some(found) = report.found else {
        say!("  no violation found");
        return ExitCode::SUCCESS;
    };
    say!(
        "FOUND in case {} (case seed {}): {}",
        found.index,
        found.seed,
        if found.nondeterministic {
            "two runs of the same case differ (nondeterminism)".to_owned()
        } else {
            found.violations.join("\n  ")
        }
    );
    say!(
        "  shrunk from {} to {} steps, {} SKU(s), in {} runs ({:.1} s)",
        found.original_steps,
        found.steps,
        found.skus,
        found.shrink_runs,
        report.shrink_time.as_secs_f64()
    );
    match found.write_to(&args.out) {
        Ok(path) => {
            let shown = shell_quote(&path.display().to_string());
            say!("  regression file: {shown}");
            say!("  reproduce: omnisim run {shown}");
            say!("         or: omnisim replay {shown} --seed {}", found.seed);
        }
        Err(e) => {
            eprintln!(
                "omnisim explore: cannot write the regression file into {}: {e}",
                args.out.display()
            );
            say!("{}", found.toml);
        }
    }
    ExitCode::from(1)
}
