//! `omnisim certify`: certify a connector process over real HTTP.
//!
//! Exit codes: 0 certified at the requested level, 1 not certified, 2 bad
//! input, 3 the connector could not start.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use omnisim_harness::certify::{self, CertifyConfig, Claims, ScenarioCert, ScenarioStatus};
use omnisim_harness::realtime::ConnectorSpec;

/// The exit code when the connector could not start.
pub const EXIT_CONNECTOR_DID_NOT_START: u8 = 3;

#[derive(Debug, Args)]
pub struct CertifyArgs {
    /// Required (unless --verify): the connector's command line, run with
    /// `sh -c "exec CMD"` (see docs/connector-contract.md).
    #[arg(long, required_unless_present = "verify")]
    connector: Option<String>,
    /// A built-in profile (`default`, `smoke`) or a profile folder.
    #[arg(long, default_value = "default")]
    profile: String,
    /// The level to certify: 1 inventory, 2 orders and payments, 3 resilience.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=3))]
    level: u8,
    /// Scenario time runs this many times faster than the wall clock (60: a 15-minute gap takes 15 s).
    #[arg(long, default_value_t = 60.0, value_parser = time_scale)]
    time_scale: f64,
    /// The connector's name on the certificate (default: the command's program name).
    #[arg(long)]
    connector_name: Option<String>,
    /// The connector's version on the certificate (default: omnisim's own
    /// version for `omnisim engine`, else `unversioned`).
    #[arg(long)]
    connector_version: Option<String>,
    /// How the connector reaches the platforms: `native` (omnisim's API at
    /// OMNISIM_*_URL), `base-url` (the real platforms' APIs at loopback base
    /// URLs) or `intercept` (the real hosts through HTTPS_PROXY and a local CA).
    #[arg(long, default_value = "native")]
    via: omnisim_harness::via::Via,
    /// A TOML file declaring unsupported capabilities, each with a reason.
    #[arg(long)]
    claims: Option<PathBuf>,
    /// Where certificate.json, certificate.html and history/<scenario>.jsonl go.
    #[arg(long, default_value = "certification")]
    out: PathBuf,
    /// For connectors without /healthz: consider it ready this long after it starts (`2s`).
    #[arg(long, value_parser = duration)]
    ready_after: Option<Duration>,
    /// How long /healthz may take to answer 200 after each start.
    #[arg(long, default_value = "30s", value_parser = duration)]
    start_timeout: Duration,
    /// Check a certificate.json's SHA-256 instead of certifying.
    #[arg(long, value_name = "FILE", conflicts_with = "connector")]
    verify: Option<PathBuf>,
}

fn time_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && (1.0..=10_000.0).contains(&x) => Ok(x),
        _ => Err(format!("`{s}` is not a time scale between 1 and 10000")),
    }
}

fn duration(s: &str) -> Result<Duration, String> {
    omnisim_harness::validate::parse_duration(s)
        .ok_or_else(|| format!("`{s}` is not a duration such as 500ms, 2s or 1m"))
}

fn progress(s: &ScenarioCert) {
    let extra = match s.status {
        ScenarioStatus::NotClaimed => format!(" ({})", s.claim_reason.clone().unwrap_or_default()),
        ScenarioStatus::Passed => String::new(),
        _ => s
            .reasons
            .first()
            .map(|r| format!(": {r}"))
            .unwrap_or_default(),
    };
    crate::say!(
        "  L{} {:<44} {:<12} {:>6.1} s{}",
        s.level,
        s.id,
        s.status.label(),
        s.wall_ms as f64 / 1000.0,
        extra
    );
    // The slowest change each way, against its service level.
    let mut worst: Vec<(String, i64, i64)> = Vec::new();
    for l in &s.slas {
        let key = format!("{} {}", l.what, l.direction);
        match worst.iter_mut().find(|(k, _, _)| *k == key) {
            Some(w) => w.1 = w.1.max(l.measured_ms),
            None => worst.push((key, l.measured_ms, l.sla_ms)),
        }
    }
    if !worst.is_empty() {
        let parts: Vec<String> = worst
            .iter()
            .map(|(k, m, sla)| format!("{k} {m} ms of {sla} ms"))
            .collect();
        crate::say!("     service levels: {}", parts.join("; "));
    }
}

pub fn run(args: CertifyArgs) -> ExitCode {
    if let Some(file) = &args.verify {
        return verify(file);
    }
    let Some(command) = args.connector.clone().filter(|c| !c.trim().is_empty()) else {
        eprintln!("omnisim certify: --connector needs a command");
        return ExitCode::from(2);
    };
    let profile = match certify::profile::find(&args.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("omnisim certify: {e}");
            return ExitCode::from(2);
        }
    };
    for s in &profile.scenarios {
        if let Err(e) = s.load() {
            eprintln!(
                "omnisim certify: profile scenario {}: {e}",
                s.file.display()
            );
            return ExitCode::from(2);
        }
    }
    let claims = match &args.claims {
        Some(f) => match Claims::load(f, &profile) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("omnisim certify: {e}");
                return ExitCode::from(2);
            }
        },
        None => Claims::default(),
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("omnisim certify: --out {}: {e}", args.out.display());
        return ExitCode::from(2);
    }
    let out = std::fs::canonicalize(&args.out).unwrap_or_else(|_| args.out.clone());
    let name = args.connector_name.clone().unwrap_or_else(|| {
        command
            .split_whitespace()
            .find(|w| !w.contains('=') && !w.starts_with("python"))
            .or_else(|| command.split_whitespace().next())
            .map(|w| w.rsplit('/').next().unwrap_or(w).to_owned())
            .unwrap_or_default()
    });
    let connector_version = args
        .connector_version
        .clone()
        .unwrap_or_else(|| default_version(&name));
    let config = CertifyConfig {
        connector: ConnectorSpec {
            command: command.clone(),
            workdir: None,
            ready_after: args.ready_after,
            start_timeout: args.start_timeout,
            time_scale: args.time_scale,
            state_root: out.join("state"),
            via: args.via,
        },
        connector_name: name,
        connector_version,
        profile,
        level: args.level,
        claims,
        progress,
        history_dir: Some(out.join("history")),
    };
    crate::say!(
        "omnisim certify: {} {} via {} against profile {} {} up to level {} (time scale {}x)",
        config.connector_name,
        config.connector_version,
        args.via.name(),
        config.profile.name,
        config.profile.version,
        config.level,
        args.time_scale
    );
    let cert = certify::certify(&config);
    let json = match serde_json::to_string_pretty(&cert) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("omnisim certify: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json_path = out.join("certificate.json");
    let html_path = out.join("certificate.html");
    if let Err(e) = std::fs::write(&json_path, format!("{json}\n"))
        .and_then(|()| std::fs::write(&html_path, certify::html::render(&cert)))
    {
        eprintln!("omnisim certify: cannot write to {}: {e}", out.display());
        return ExitCode::from(2);
    }
    let _ = std::fs::remove_dir_all(out.join("state"));
    if let Some(e) = &cert.connector_start_error {
        eprintln!("omnisim certify: {e}");
        if let Some(s) = cert
            .levels
            .iter()
            .flat_map(|l| &l.scenarios)
            .find(|s| s.status == ScenarioStatus::ConnectorDidNotStart)
        {
            if !s.stderr_tail.is_empty() {
                eprintln!("--- connector stderr ---\n{}", s.stderr_tail);
            }
            if !s.stdout_tail.is_empty() {
                eprintln!("--- connector stdout ---\n{}", s.stdout_tail);
            }
        }
        eprintln!("certificate: {}", json_path.display());
        return ExitCode::from(EXIT_CONNECTOR_DID_NOT_START);
    }
    for l in &cert.levels {
        crate::say!(
            "level {} ({}): {}",
            l.level,
            l.title,
            if l.certified {
                "certified"
            } else {
                "NOT certified"
            }
        );
    }
    crate::say!(
        "{} in {:.1} s; certificate: {} (sha256 {})",
        if cert.certified {
            format!("CERTIFIED at level {}", cert.certified_level)
        } else {
            format!(
                "NOT CERTIFIED at level {} (certified level {})",
                cert.requested_level, cert.certified_level
            )
        },
        cert.wall_ms as f64 / 1000.0,
        json_path.display(),
        cert.results_sha256
    );
    if cert.certified {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The version to certify when none is given: the reference engine is
/// omnisim's own, so it carries omnisim's version; any other connector's is
/// unknown.
fn default_version(connector_name: &str) -> String {
    if connector_name == "omnisim" {
        env!("CARGO_PKG_VERSION").to_owned()
    } else {
        "unversioned".to_owned()
    }
}

fn verify(file: &PathBuf) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("omnisim certify --verify {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    match certify::certificate::verify(&text) {
        Ok(c) => {
            crate::say!(
                "{}: valid. {} {}: {} (profile {} {}, omnisim {}, sha256 {})",
                file.display(),
                c.connector.name,
                c.connector.version,
                if c.certified {
                    format!("certified at level {}", c.certified_level)
                } else {
                    format!("not certified at level {}", c.requested_level)
                },
                c.profile.name,
                c.profile.version,
                c.omnisim_version,
                c.results_sha256
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: INVALID: {e}", file.display());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::default_version;

    /// Issue 18, item 6: the reference engine is certified with omnisim's
    /// real version, not "unversioned".
    #[test]
    fn the_reference_engine_carries_omnisims_version() {
        assert_eq!(default_version("omnisim"), env!("CARGO_PKG_VERSION"));
        assert_ne!(default_version("omnisim"), "unversioned");
        assert_eq!(default_version("my_connector.py"), "unversioned");
    }
}
