//! Certification of a connector process: a profile of scenarios in levels,
//! run in real time against the connector, judged by the usual checkers, and
//! written up as a certificate with a SHA-256 over its canonical JSON.

pub mod certificate;
pub mod claims;
pub mod html;
pub mod profile;

use std::time::Duration;

use omnisim_reports::Status;

pub use certificate::{Certificate, ScenarioCert, ScenarioStatus, SlaResult};
pub use claims::Claims;
pub use profile::{Profile, ProfileScenario};

use crate::realtime::ConnectorSpec;

/// The title of each level.
pub fn level_title(level: u8) -> &'static str {
    match level {
        1 => "Inventory",
        2 => "Orders and payments",
        3 => "Resilience",
        _ => "Other",
    }
}

/// What a certification run needs.
#[derive(Clone, Debug)]
pub struct CertifyConfig {
    /// The connector.
    pub connector: ConnectorSpec,
    /// Its name and version, for the certificate.
    pub connector_name: String,
    /// Its version.
    pub connector_version: String,
    /// The profile.
    pub profile: Profile,
    /// The level asked for (1 to 3).
    pub level: u8,
    /// Capabilities the vendor declares unsupported.
    pub claims: Claims,
    /// Called after each scenario (for progress output).
    pub progress: fn(&ScenarioCert),
    /// Where each scenario's history (JSON Lines) is written, if anywhere.
    pub history_dir: Option<std::path::PathBuf>,
}

/// Runs the profile's scenarios up to the requested level and builds the
/// certificate. A connector that cannot start stops the run: the
/// certificate then names the error and carries its output.
pub fn certify(config: &CertifyConfig) -> Certificate {
    let wall = std::time::Instant::now(); // determinism-ok: real-time mode measures its wall time
    let issued_at = chrono::Utc::now(); // determinism-ok: real-time mode stamps the certificate
    let mut scenarios = Vec::new();
    let mut start_error = None;
    for s in config
        .profile
        .scenarios
        .iter()
        .filter(|s| s.level <= config.level)
    {
        let mut cert = ScenarioCert::new(s);
        if let Some(reason) = config.claims.excludes(s) {
            cert.status = ScenarioStatus::NotClaimed;
            cert.claim_reason = Some(reason);
            (config.progress)(&cert);
            scenarios.push(cert);
            continue;
        }
        if start_error.is_some() {
            scenarios.push(cert);
            continue;
        }
        let loaded = match s.load() {
            Ok(l) => l,
            Err(e) => {
                cert.status = ScenarioStatus::Failed;
                cert.reasons = vec![format!("the profile scenario does not load: {e}")];
                scenarios.push(cert);
                continue;
            }
        };
        let seed = loaded.scenario.seed.unwrap_or(1);
        let started = std::time::Instant::now(); // determinism-ok: real-time mode measures its wall time
        let safe_id = s.id.replace('/', "__");
        match crate::runner::run_real(&loaded, seed, config.connector.clone(), &safe_id) {
            Ok((outcome, logs)) => {
                let wall_ms = started.elapsed().as_millis() as u64;
                let scaled = scale_slas(&loaded, config.connector.time_scale);
                let judged = crate::suite::judge_outcome(&scaled, outcome, wall_ms);
                if let Some(dir) = &config.history_dir {
                    let _ = std::fs::create_dir_all(dir);
                    let _ =
                        std::fs::write(dir.join(format!("{safe_id}.jsonl")), &judged.history_jsonl);
                }
                cert.wall_ms = wall_ms;
                cert.status = if judged.result.status == Status::Pass {
                    ScenarioStatus::Passed
                } else {
                    ScenarioStatus::Failed
                };
                cert.reasons = judged.result.reasons;
                cert.slas = certificate::slas(&judged.result.checks);
                cert.checks = judged.result.checks;
                cert.stdout_tail = tail(&logs.stdout());
                cert.stderr_tail = tail(&logs.stderr());
            }
            Err(e) => {
                cert.wall_ms = started.elapsed().as_millis() as u64;
                cert.status = ScenarioStatus::ConnectorDidNotStart;
                cert.reasons = vec![e.error.to_string()];
                cert.stdout_tail = tail(&e.logs.stdout());
                cert.stderr_tail = tail(&e.logs.stderr());
                start_error = Some(e.error.to_string());
            }
        }
        (config.progress)(&cert);
        scenarios.push(cert);
    }
    certificate::build(
        config,
        scenarios,
        start_error,
        issued_at,
        wall.elapsed().as_millis() as u64,
    )
}

/// In real time a scenario's SLAs shrink with its clock: 5 minutes at a
/// time scale of 60 is 5 wall seconds.
fn scale_slas(loaded: &crate::validate::Loaded, time_scale: f64) -> crate::validate::Loaded {
    let mut l = loaded.clone();
    let sla = &mut l.scenario.sla;
    for (field, default) in [
        (&mut sla.stock, Duration::from_secs(300)),
        (&mut sla.catalog, Duration::from_secs(900)),
    ] {
        let d = field
            .as_ref()
            .and_then(|s| crate::validate::parse_duration(s.get_ref()))
            .unwrap_or(default);
        let ms = d.div_f64(time_scale.max(1.0)).as_millis().max(1);
        let span = field.as_ref().map(|s| s.span()).unwrap_or(0..0);
        *field = Some(crate::scenario::Spanned::new(span, format!("{ms}ms")));
    }
    l
}

/// The last 40 lines (and at most 8 KB) of a connector's output.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(40);
    let mut out = lines[start..].join("\n");
    if out.len() > 8192 {
        let mut cut = out.len() - 8192;
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out = out[cut..].to_owned();
    }
    out
}
