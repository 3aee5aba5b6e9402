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
    Serve(ServeArgs),
    /// Run scenario files in virtual time and check every invariant.
    Run(run_cmd::RunArgs),
    /// Rerun one scenario with a seed and print its timeline and verdicts.
    Replay(replay_cmd::ReplayArgs),
    /// Generate random scenarios with faults, run them, and shrink the first failure.
    Explore(explore_cmd::ExploreArgs),
    /// Print the JSON Schema of scenario files (scenarios/schema.json).
    Schema,
    /// Show a merchant a failure and its fix: the naive setup, then the recommended one.
    Demo(demo_cmd::DemoArgs),
    /// Work with saved results: re-render, merge shards, convert.
    Report(report_cmd::ReportArgs),
    /// Run the reference sync engine as a connector process against running simulators.
    Engine(engine_cmd::EngineArgs),
    /// Certify a connector process over real HTTP and write its certificate.
    Certify(certify_cmd::CertifyArgs),
    /// Measure speed and memory against targets and peers; writes BENCHMARKS.md.
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
    /// Divide the platforms' webhook retry delays by this (60: minutes become seconds).
    #[arg(long, default_value_t = 60)]
    webhook_retry_scale: u32,
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
        retry_time_scale: args.webhook_retry_scale.max(1),
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
