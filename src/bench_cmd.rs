//! `omnisim bench`: every performance claim measured by one command, on the
//! machine it names, and written as the table at the top of `BENCHMARKS.md`.
//!
//! Cases are a list ([`CASES`]): each has a name (for `--cases`), and a
//! function that runs it `runs` times and returns rows. A row carries its
//! figure (a median over runs), the spread, the target and whether it was
//! met. Memory cases run in a fresh child process (`omnisim bench --child`)
//! so that one case's heap never counts in another's RSS.
//!
//! Every wall-clock read here is a measurement, never an input to a run:
//! those lines carry `determinism-ok: benchmark`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;

mod cases;
mod load;
mod machine;

pub use machine::Machine;

/// `omnisim bench` arguments.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Fewer runs, shorter loads and smaller memory cases: a smoke check, not figures to quote.
    #[arg(long)]
    quick: bool,
    /// Where to write the table; the section "What we changed and what it
    /// gained" of an existing file is kept.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Cases to run, comma-separated (default: all): suite, flash-sale, exploration, http, intercept, peers, memory.
    #[arg(long, value_delimiter = ',')]
    cases: Vec<String>,
    /// Repetitions of each timed case (default 5, 3 with --quick).
    #[arg(long)]
    runs: Option<usize>,
    /// Concurrent connections of the HTTP load.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of measured load per HTTP run (default 3, 1 with --quick).
    #[arg(long)]
    seconds: Option<f64>,
    /// The scenario folder of the suite case.
    #[arg(long, default_value = "scenarios")]
    scenarios: PathBuf,
    /// Internal: run one memory case in this process and print its JSON.
    #[arg(long, hide = true)]
    child: Option<String>,
    /// Internal: size of the child's memory case.
    #[arg(long, hide = true, default_value_t = 0)]
    child_count: u64,
}

/// Settings every case reads.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Repetitions of each timed case.
    pub runs: usize,
    /// Smoke mode.
    pub quick: bool,
    /// HTTP load connections.
    pub connections: usize,
    /// Measured seconds per HTTP run.
    pub seconds: Duration,
    /// The suite folder.
    pub scenarios: PathBuf,
}

/// Whether a target was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The figure meets its target.
    Met,
    /// It does not.
    Missed,
    /// A figure without a target (context).
    Info,
    /// Could not be measured here; the note says how to.
    NotMeasured,
}

/// One line of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// The case (`suite`, `http`, ...).
    pub case: &'static str,
    /// What is measured.
    pub measure: String,
    /// The figure (median over runs).
    pub figure: String,
    /// Runs and spread, such as `5 runs, 1.2–1.4 s`.
    pub runs: String,
    /// The target, as text.
    pub target: String,
    /// Met, missed, info or not measured.
    pub verdict: Verdict,
}

impl Row {
    fn info(case: &'static str, measure: impl Into<String>, figure: impl Into<String>) -> Self {
        Row {
            case,
            measure: measure.into(),
            figure: figure.into(),
            runs: String::new(),
            target: String::new(),
            verdict: Verdict::Info,
        }
    }
}

/// One benchmark case.
pub struct Case {
    /// Its name for `--cases`.
    pub name: &'static str,
    /// What it measures, one line.
    pub about: &'static str,
    /// Runs it.
    pub run: fn(&Ctx) -> Vec<Row>,
}

/// Every case, in table order. Adding one is one entry here and one function.
pub const CASES: &[Case] = &[
    Case {
        name: "suite",
        about: "the shipped scenario suite in virtual time",
        run: cases::suite,
    },
    Case {
        name: "flash-sale",
        about: "10,000 orders over 1,000 SKUs in 10 simulated minutes, through the engine",
        run: cases::flash_sale,
    },
    Case {
        name: "exploration",
        about: "random 50-step cases per second on one core (omnisim explore)",
        run: cases::exploration,
    },
    Case {
        name: "http",
        about: "simulator HTTP throughput and latency on loopback, against a plain axum ceiling",
        run: cases::http,
    },
    Case {
        name: "intercept",
        about: "the same dialect requests over plain HTTP and through the intercepting proxy (TLS)",
        run: cases::intercept,
    },
    Case {
        name: "peers",
        about: "the same load on peer mock servers",
        run: cases::peers,
    },
    Case {
        name: "memory",
        about: "RSS under sustained load and with 1M orders held",
        run: cases::memory,
    },
];

/// Median and range of `xs` (sorted in place).
pub fn median(xs: &mut [f64]) -> (f64, f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let m = if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    };
    (m, xs[0], xs[n - 1])
}

/// Runs `omnisim bench`.
pub fn run(args: BenchArgs) -> ExitCode {
    if let Some(child) = &args.child {
        return cases::child(child, args.child_count);
    }
    let ctx = Ctx {
        runs: args.runs.unwrap_or(if args.quick { 3 } else { 5 }).max(1),
        quick: args.quick,
        connections: args.connections.max(1),
        seconds: Duration::from_secs_f64(
            args.seconds
                .unwrap_or(if args.quick { 1.0 } else { 3.0 })
                .max(0.1),
        ),
        scenarios: args.scenarios.clone(),
    };
    for c in &args.cases {
        if !CASES.iter().any(|k| k.name == c) {
            let names: Vec<&str> = CASES.iter().map(|k| k.name).collect();
            eprintln!(
                "omnisim bench: --cases: no case `{c}`; the cases are {}",
                names.join(", ")
            );
            return ExitCode::from(2);
        }
    }
    let machine = Machine::detect();
    say!("omnisim bench: {}", machine.line());
    if machine.profile != "release" {
        eprintln!(
            "\n  WARNING: this is a DEBUG build; its figures are 10-50x off. \
             Run `cargo run --release -- bench` for figures to quote.\n"
        );
    }
    let started = Instant::now(); // determinism-ok: benchmark
    let mut rows = Vec::new();
    for case in CASES {
        if !args.cases.is_empty() && !args.cases.iter().any(|c| c == case.name) {
            continue;
        }
        say!("== {}: {}", case.name, case.about);
        let t = Instant::now(); // determinism-ok: benchmark
        let got = (case.run)(&ctx);
        for r in &got {
            say!(
                "   {:<58} {:>16}  {:<10} {}",
                r.measure,
                r.figure,
                verdict_text(r.verdict),
                r.target
            );
        }
        say!("   ({:.1} s)", t.elapsed().as_secs_f64()); // determinism-ok: benchmark
        rows.extend(got);
    }
    let total = started.elapsed(); // determinism-ok: benchmark
    let text = render(&machine, &ctx, &rows, total, &args);
    let kept = std::fs::read_to_string(&args.out)
        .ok()
        .and_then(|old| old.find(KEPT_HEADING).map(|i| old[i..].to_owned()))
        .unwrap_or_else(|| format!("{KEPT_HEADING}\n\n(nothing recorded yet)\n"));
    let out = format!("{text}\n{kept}");
    if let Err(e) = std::fs::write(&args.out, out) {
        eprintln!("omnisim bench: cannot write {}: {e}", args.out.display());
        return ExitCode::from(2);
    }
    say!("wrote {}", args.out.display());
    if rows.iter().any(|r| r.verdict == Verdict::Missed) {
        say!("some targets were missed (see the table)");
    }
    ExitCode::SUCCESS
}

/// The hand-written section that `omnisim bench` keeps when it rewrites the file.
pub const KEPT_HEADING: &str = "## What we changed and what it gained";

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Met => "met",
        Verdict::Missed => "MISSED",
        Verdict::Info => "",
        Verdict::NotMeasured => "not measured",
    }
}

fn render(machine: &Machine, ctx: &Ctx, rows: &[Row], total: Duration, args: &BenchArgs) -> String {
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"); // determinism-ok: benchmark date
    let mut cmd = String::from("omnisim bench");
    if args.quick {
        cmd.push_str(" --quick");
    }
    if !args.cases.is_empty() {
        cmd.push_str(&format!(" --cases {}", args.cases.join(",")));
    }
    let mut s = String::new();
    s.push_str("# omnisim benchmarks\n\n");
    s.push_str(
        "Everything in the table below is written by one command; rerun it to check \
         the figures on your machine:\n\n",
    );
    s.push_str("```sh\ncargo run --release -- bench\n```\n\n");
    s.push_str(&format!(
        "- **Machine:** {}\n- **Run:** `{cmd}` on {date}, {:.0} s in all. Timed cases: \
         median of {} runs (range in brackets); HTTP runs: {} connections, {:.1} s measured \
         after 0.5 s warm-up each. Memory cases: one run each in a fresh child process.\n",
        machine.line(),
        total.as_secs_f64(),
        ctx.runs,
        ctx.connections,
        ctx.seconds.as_secs_f64()
    ));
    if machine.profile != "release" {
        s.push_str("- **WARNING: debug build.** These figures are not to be quoted.\n");
    }
    if ctx.quick {
        s.push_str("- **--quick:** shortened runs and memory cases scaled down; a smoke check.\n");
    }
    s.push_str(
        "- **Load generator:** a tokio + hyper HTTP/1.1 client inside `omnisim bench` \
         (closed loop, keep-alive, one request in flight per connection), sharing the \
         cores with the server under test. Every HTTP target — our simulators, the \
         plain-axum ceiling and the peers — is driven by the same code in the same run.\n\n",
    );
    s.push_str("| case | measure | figure | runs (range) | target | verdict |\n");
    s.push_str("|---|---|---|---|---|---|\n");
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | **{}** | {} | {} | {} |\n",
            r.case,
            r.measure.replace('|', "\\|"),
            r.figure,
            r.runs,
            r.target,
            verdict_text(r.verdict)
        ));
    }
    s.push_str(
        "\nHow each case is measured: see the doc comments in `src/bench_cmd/cases.rs`. \
         Peer servers (WireMock standalone, Mountebank) are measured when \
         `benches/peers/start.sh` has them running; otherwise their rows say so.\n",
    );
    s
}
