//! The `omnisim` command line: one subcommand per job.
//!
//! Exit codes: 0 success, 1 a check failed, 2 bad input (clap's usage errors
//! included), 3 (`certify`) the connector could not start.

use std::net::IpAddr;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use omnisim_simulators::serve::{self, ServeConfig};

/// Prints a line to stdout, ignoring a closed pipe: a server whose reader went
/// away must keep serving, and `omnisim run | head` must not panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
pub(crate) use say;

mod bench_cmd;
mod certify_cmd;
mod demo_cmd;
mod engine_cmd;
mod explore_cmd;
mod replay_cmd;
mod report_cmd;
mod run_cmd;

const SERVE_HELP: &str = "\
Examples:
  omnisim serve
  omnisim serve --pos-port 0 --shop-port 0 --pay-port 0 --stripe-port 0 --json
  omnisim serve --api-key my_key --intercept

Exit codes:
  0  stopped by Ctrl-C or SIGTERM
  1  a server failed while running
  2  bad input: a bad flag, or a port that cannot be bound (the message names it)";

const RUN_HELP: &str = "\
Examples:
  omnisim run
  omnisim run scenarios/last-unit --seed 7
  omnisim run --filter oversell --out target/omnisim/ci --shard 1/4

Exit codes:
  0  every scenario met its expectation
  1  a check failed (the reproduction command is printed)
  2  bad input: a scenario that does not validate (file:line:col), a bad flag";

const REPLAY_HELP: &str = "\
Examples:
  omnisim replay scenarios/last-unit/poll-15m-oversells.toml --seed 7
  omnisim replay my-case.toml --seed 3 --verbose --history target/history.jsonl

Exit codes:
  0  the scenario met its expectation
  1  a check failed
  2  bad input: the file does not validate (file:line:col), a bad flag";

const EXPLORE_HELP: &str = "\
Examples:
  omnisim explore --cases 200 --seed 1
  omnisim explore --minutes 10 --strategy naive --faults heavy

Exit codes:
  0  nothing found
  1  a violation (or nondeterminism) found; the shrunk case is written as a .toml file
  2  bad input: a bad flag";

const SCHEMA_HELP: &str = "\
Examples:
  omnisim schema > scenarios/schema.json

Exit codes:
  0  the schema was printed";

const DEMO_HELP: &str = "\
Examples:
  omnisim demo
  omnisim demo --list
  omnisim demo partial-return --out target/demo
  omnisim demo my-case.toml

Exit codes:
  0  the demo showed what it should (the naive setup failed, the recommended one passed;
     a scenario file: it met its expectation)
  1  the demo did not show what it should
  2  bad input: an unknown demo, a file that does not validate, a bad flag";

const REPORT_HELP: &str = "\
Examples:
  omnisim report open target/omnisim/run-1
  omnisim report convert target/omnisim/run-1 --to junit --out junit.xml
  omnisim report merge shard-1 shard-2 --out target/omnisim/merged

Exit codes:
  0  done (merge: every scenario passed)
  1  merge: a merged scenario failed
  2  bad input: a missing or unreadable results.json, a bad flag";

const ENGINE_HELP: &str = "\
Examples:
  omnisim engine --sync webhook
  OMNISIM_POS_URL=http://127.0.0.1:7101 OMNISIM_SHOP_URL=http://127.0.0.1:7102 \\
    OMNISIM_PAY_URL=http://127.0.0.1:7103 omnisim engine --port 7200

Exit codes:
  0  stopped
  1  the engine failed while running
  2  bad input: a bad flag or setting, a port that cannot be bound";

const CERTIFY_HELP: &str = "\
Examples:
  omnisim certify --connector \"omnisim engine\" --profile smoke
  omnisim certify --connector \"python3 my_connector.py\" --level 2 --out target/cert
  omnisim certify --verify target/cert/certificate.json

Exit codes:
  0  certified at the requested level (--verify: the certificate is valid)
  1  not certified (--verify: the certificate is invalid)
  2  bad input: a bad flag, profile or claims file
  3  the connector could not start";

const BENCH_HELP: &str = "\
Examples:
  omnisim bench
  omnisim bench --quick --cases suite --out target/BENCHMARKS.md

Exit codes:
  0  measured and written
  2  bad input: a bad flag, an unknown case, no scenarios";

/// Simulators of a merchant's POS, shop and payment gateway, and a harness
/// that proves sync connectors right.
#[derive(Debug, Parser)]
#[command(name = "omnisim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the POS, shop and pay simulators over HTTP until Ctrl-C or SIGTERM.
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// Run scenario files in virtual time and check every invariant.
    #[command(after_help = RUN_HELP)]
    Run(run_cmd::RunArgs),
    /// Rerun one scenario with a seed and print its timeline and verdicts.
    #[command(after_help = REPLAY_HELP)]
    Replay(replay_cmd::ReplayArgs),
    /// Generate random scenarios with faults, run them, and shrink the first failure.
    #[command(after_help = EXPLORE_HELP)]
    Explore(explore_cmd::ExploreArgs),
    /// Print the JSON Schema of scenario files (scenarios/schema.json).
    #[command(after_help = SCHEMA_HELP)]
    Schema,
    /// Show a merchant a failure and its fix: the naive setup, then the recommended one.
    #[command(after_help = DEMO_HELP)]
    Demo(demo_cmd::DemoArgs),
    /// Work with saved results: re-render, merge shards, convert.
    #[command(after_help = REPORT_HELP)]
    Report(report_cmd::ReportArgs),
    /// Run the reference sync engine as a connector process against running simulators.
    #[command(after_help = ENGINE_HELP)]
    Engine(engine_cmd::EngineArgs),
    /// Certify a connector process over real HTTP and write its certificate.
    #[command(
        after_help = CERTIFY_HELP,
        override_usage = "omnisim certify --connector <CMD> [OPTIONS]\n       omnisim certify --verify <FILE>"
    )]
    Certify(certify_cmd::CertifyArgs),
    /// Measure speed and memory against targets and peers; writes BENCHMARKS.md.
    #[command(after_help = BENCH_HELP)]
    Bench(bench_cmd::BenchArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// POS port (0 = any free port).
    #[arg(long, default_value_t = 7101)]
    pos_port: u16,
    /// Shop port (0 = any free port).
    #[arg(long, default_value_t = 7102)]
    shop_port: u16,
    /// Pay port (0 = any free port).
    #[arg(long, default_value_t = 7103)]
    pay_port: u16,
    /// Port of the Stripe dialect (Stripe's own `/v1` API over the pay
    /// simulator; 0 = any free port).
    #[arg(long, default_value_t = 7104)]
    stripe_port: u16,
    /// Bearer key every request must carry.
    #[arg(long, env = "OMNISIM_API_KEY", default_value = "test_key")]
    api_key: String,
    /// Seed for webhook secrets and fault draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Divide the platforms' own delays by this: webhook retries and
    /// bank-transfer settlement (60: an hour becomes a minute).
    #[arg(long, visible_alias = "webhook-retry-scale", default_value_t = 60)]
    delay_scale: u32,
    /// Print the URLs as one JSON line instead of the human banner.
    #[arg(long)]
    json: bool,
    /// Also run the intercepting HTTPS proxy: unchanged connectors reach the
    /// dialects at api.stripe.com, *.myshopify.com and connect.squareup.com
    /// through HTTPS_PROXY and a local CA (see docs/intercept.md).
    #[arg(long)]
    intercept: bool,
    /// Port of the intercepting proxy (0 = any free port).
    #[arg(long, default_value_t = 7105, requires = "intercept")]
    intercept_port: u16,
    /// Where the local CA is kept (made if absent; default
    /// $OMNISIM_STATE_DIR/ca, or .omnisim/ca).
    #[arg(long, value_name = "DIR", requires = "intercept")]
    ca_dir: Option<std::path::PathBuf>,
    /// Deliver webhooks registered for host NAME to this loopback address
    /// over plain HTTP (repeatable), e.g. hooks.example.com=127.0.0.1:9000.
    /// `https://<port>.omnisim.localhost/…` is always delivered to 127.0.0.1:<port>.
    #[arg(long, value_name = "NAME=IP:PORT")]
    webhook_host: Vec<omnisim_simulators::intercept::WebhookHost>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("OMNISIM_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let command = match cli.command {
        Command::Run(args) => return run_cmd::run(args),
        Command::Replay(args) => return replay_cmd::run(args),
        Command::Explore(args) => return explore_cmd::run(args),
        Command::Report(args) => return report_cmd::run(args),
        Command::Demo(args) => return demo_cmd::run(args),
        Command::Certify(args) => return certify_cmd::run(args),
        Command::Bench(args) => return bench_cmd::run(args),
        Command::Schema => {
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(omnisim_harness::suite::schema_json().as_bytes());
            return ExitCode::SUCCESS;
        }
        other => other,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("omnisim: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Serve(args) => runtime.block_on(run_serve(args)),
        Command::Engine(args) => runtime.block_on(engine_cmd::run(args)),
        Command::Run(args) => run_cmd::run(args),
        Command::Replay(args) => replay_cmd::run(args),
        Command::Explore(args) => explore_cmd::run(args),
        Command::Report(args) => report_cmd::run(args),
        Command::Demo(args) => demo_cmd::run(args),
        Command::Certify(args) => certify_cmd::run(args),
        Command::Bench(args) => bench_cmd::run(args),
        Command::Schema => ExitCode::SUCCESS,
    }
}

async fn run_serve(args: ServeArgs) -> ExitCode {
    let config = ServeConfig {
        bind: args.bind,
        pos_port: args.pos_port,
        shop_port: args.shop_port,
        pay_port: args.pay_port,
        stripe_port: args.stripe_port,
        api_key: args.api_key,
        seed: args.seed,
        delay_scale: args.delay_scale.max(1),
        retention: omnisim_simulators::Retention::default(),
        intercept: args
            .intercept
            .then(|| omnisim_simulators::intercept::InterceptConfig {
                port: args.intercept_port,
                ca_dir: args
                    .ca_dir
                    .clone()
                    .unwrap_or_else(omnisim_simulators::intercept::default_ca_dir),
            }),
        webhook_hosts: args.webhook_host.clone(),
    };
    let running = match serve::start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("omnisim serve: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    let urls = &running.urls;
    if args.json {
        say!("{}", serde_json::to_string(urls).unwrap_or_default());
    } else {
        say!("omnisim serve (seed {})", args.seed);
        say!("  pos   {}   POS (Square-style)", urls.pos);
        say!("  shop  {}   ecommerce (Shopify-style)", urls.shop);
        say!("  pay   {}   payment gateway (Stripe-style)", urls.pay);
        say!(
            "  API key: {}   (send `Authorization: Bearer {}`)",
            urls.api_key,
            urls.api_key
        );
        let d = &urls.dialects;
        say!("  dialects (the real platforms' APIs, for their official clients):");
        say!(
            "    stripe   api_base {}   api_key {}",
            d.stripe.api_base,
            d.stripe.api_key
        );
        say!(
            "    square   base_url {}   access_token {}",
            d.square.base_url,
            d.square.access_token
        );
        say!(
            "    shopify  shop_url {}   api_version {}   access_token {}",
            d.shopify.shop_url,
            d.shopify.api_version,
            d.shopify.access_token
        );
        if let Some(i) = &urls.intercept {
            say!("  intercept: proxy {}   CA {}", i.proxy_url(), i.ca_cert());
            say!(
                "    api.stripe.com, *.myshopify.com, connect.squareup.com(sandbox) are simulated; start the connector with:"
            );
            for (k, v) in &i.env {
                say!("    export {k}={}", shell_quote(v));
            }
            say!(
                "    webhooks: register https://<port>.omnisim.localhost/… to reach 127.0.0.1:<port>"
            );
        }
        say!(
            "  OpenAPI: {}/openapi.json on each. Ctrl-C or SIGTERM stops.",
            urls.pos
        );
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    serve::shutdown_signal().await;
    eprintln!("omnisim serve: shutting down");
    match running.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("omnisim serve: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `v` quoted for a POSIX shell when it needs it.
fn shell_quote(v: &str) -> String {
    if !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:=@,+".contains(&b))
    {
        v.to_owned()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}
