//! The certificate: what was certified, and a SHA-256 that lets anyone check
//! it was not edited.
//!
//! `results_sha256` is the hex SHA-256 of the certificate's canonical JSON
//! without that field: object keys sorted, no whitespace, as
//! `serde_json` writes numbers and strings. [`verify`] recomputes it.

use chrono::{DateTime, Utc};
use omnisim_reports::CheckResult;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{CertifyConfig, ProfileScenario, level_title};

/// The certificate format's version (2: each scenario lists its service
/// levels by direction).
pub const SCHEMA_VERSION: u32 = 2;

/// How one scenario went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioStatus {
    /// Every check held.
    Passed,
    /// A check failed or a step went wrong.
    Failed,
    /// The vendor declared the capability unsupported.
    NotClaimed,
    /// The connector did not start for it.
    ConnectorDidNotStart,
    /// Not run (the connector could not start earlier).
    NotRun,
}

impl ScenarioStatus {
    /// As printed.
    pub fn label(self) -> &'static str {
        match self {
            ScenarioStatus::Passed => "passed",
            ScenarioStatus::Failed => "FAILED",
            ScenarioStatus::NotClaimed => "not claimed",
            ScenarioStatus::ConnectorDidNotStart => "connector did not start",
            ScenarioStatus::NotRun => "not run",
        }
    }
}

/// One scenario on the certificate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenarioCert {
    /// `level-N/stem`.
    pub id: String,
    /// Its level.
    pub level: u8,
    /// Its title.
    pub title: String,
    /// Its file.
    pub file: String,
    /// The verdict.
    pub status: ScenarioStatus,
    /// Why the vendor does not claim it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_reason: Option<String>,
    /// Why it failed (check names first).
    pub reasons: Vec<String>,
    /// Every check, with violations and witnesses.
    pub checks: Vec<CheckResult>,
    /// Each service level measured, named by what travelled and which way.
    #[serde(default)]
    pub slas: Vec<SlaResult>,
    /// Wall time of the scenario.
    pub wall_ms: u64,
    /// The end of the connector's stdout.
    pub stdout_tail: String,
    /// The end of the connector's stderr.
    pub stderr_tail: String,
}

impl ScenarioCert {
    /// A not-yet-run entry.
    pub fn new(s: &ProfileScenario) -> Self {
        ScenarioCert {
            id: s.id.clone(),
            level: s.level,
            title: s.title.clone(),
            file: s.file.display().to_string(),
            status: ScenarioStatus::NotRun,
            claim_reason: None,
            reasons: Vec::new(),
            checks: Vec::new(),
            slas: Vec::new(),
            wall_ms: 0,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
        }
    }
}

/// One service level of a scenario: how fast one kind of change travelled
/// in one direction, against the SLA (in wall time, already divided by the
/// time scale).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlaResult {
    /// `stock` or `catalog`.
    pub what: String,
    /// `POS → shop` or `shop → POS`.
    pub direction: String,
    /// The kind of change (`sale`, `order`, `count`, …; `price and tax` for
    /// the catalog).
    pub change: String,
    /// How many such changes reached the other channel.
    pub count: u64,
    /// Their median delay (stock only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<i64>,
    /// Their 99th percentile delay (stock), or the longest (catalog).
    pub measured_ms: i64,
    /// The service level.
    pub sla_ms: i64,
    /// Measured within the service level.
    pub met: bool,
}

/// The service levels of one scenario, read from the metrics of
/// `sync_latency` (`{sla_ms, pos_to_shop: {kind: {count, p50_ms, p99_ms}},
/// shop_to_pos: …}`) and `catalog_parity` (`{sla_ms, pos_to_shop: {changes,
/// max_ms}, …}`).
pub fn slas(checks: &[CheckResult]) -> Vec<SlaResult> {
    let mut out = Vec::new();
    let direction = |key: &str| match key {
        "pos_to_shop" => Some("POS → shop"),
        "shop_to_pos" => Some("shop → POS"),
        _ => None,
    };
    for c in checks {
        let m = &c.metrics;
        let sla_ms = m["sla_ms"].as_i64().unwrap_or(0);
        for key in ["pos_to_shop", "shop_to_pos"] {
            let (Some(dir), Some(obj)) = (direction(key), m[key].as_object()) else {
                continue;
            };
            match c.name.as_str() {
                "sync_latency" => {
                    for (kind, v) in obj {
                        let measured = v["p99_ms"].as_i64().unwrap_or(0);
                        out.push(SlaResult {
                            what: "stock".into(),
                            direction: dir.into(),
                            change: kind.clone(),
                            count: v["count"].as_u64().unwrap_or(0),
                            p50_ms: v["p50_ms"].as_i64(),
                            measured_ms: measured,
                            sla_ms,
                            met: measured <= sla_ms,
                        });
                    }
                }
                "catalog_parity" => {
                    let measured = obj.get("max_ms").and_then(|v| v.as_i64()).unwrap_or(0);
                    out.push(SlaResult {
                        what: "catalog".into(),
                        direction: dir.into(),
                        change: "price and tax".into(),
                        count: obj.get("changes").and_then(|v| v.as_u64()).unwrap_or(0),
                        p50_ms: None,
                        measured_ms: measured,
                        sla_ms,
                        met: measured <= sla_ms,
                    });
                }
                _ => {}
            }
        }
    }
    out
}

/// One level on the certificate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LevelCert {
    /// 1 to 3.
    pub level: u8,
    /// What it covers.
    pub title: String,
    /// Every scenario passed or was not claimed, and at least one passed.
    pub certified: bool,
    /// Its scenarios.
    pub scenarios: Vec<ScenarioCert>,
}

/// Who was certified.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConnectorInfo {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// The command run.
    pub command: String,
    /// How it reached the platforms (`native`, `base-url`, `intercept`).
    #[serde(default)]
    pub via: crate::via::Via,
}

/// Against what.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProfileInfo {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
}

/// `certificate.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Certificate {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The connector.
    pub connector: ConnectorInfo,
    /// The omnisim version that ran it.
    pub omnisim_version: String,
    /// The profile.
    pub profile: ProfileInfo,
    /// The level asked for.
    pub requested_level: u8,
    /// The highest level certified (0 = none).
    pub certified_level: u8,
    /// Certified at the requested level.
    pub certified: bool,
    /// Scenario time ran this many times faster than the wall clock.
    pub time_scale: f64,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// Wall time of the whole run.
    pub wall_ms: u64,
    /// Set when the connector could not start: the run stopped there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_start_error: Option<String>,
    /// Level by level.
    pub levels: Vec<LevelCert>,
    /// Hex SHA-256 of the canonical JSON of everything above.
    pub results_sha256: String,
}

/// Assembles and seals the certificate.
pub(crate) fn build(
    config: &CertifyConfig,
    scenarios: Vec<ScenarioCert>,
    start_error: Option<String>,
    issued_at: DateTime<Utc>,
    wall_ms: u64,
) -> Certificate {
    let mut levels = Vec::new();
    for level in 1..=config.level {
        let of_level: Vec<ScenarioCert> = scenarios
            .iter()
            .filter(|s| s.level == level)
            .cloned()
            .collect();
        let ok = of_level.iter().all(|s| {
            matches!(
                s.status,
                ScenarioStatus::Passed | ScenarioStatus::NotClaimed
            )
        });
        let any_passed = of_level.iter().any(|s| s.status == ScenarioStatus::Passed);
        levels.push(LevelCert {
            level,
            title: level_title(level).into(),
            certified: ok && any_passed && start_error.is_none(),
            scenarios: of_level,
        });
    }
    let certified_level = levels
        .iter()
        .take_while(|l| l.certified)
        .map(|l| l.level)
        .last()
        .unwrap_or(0);
    let mut cert = Certificate {
        schema_version: SCHEMA_VERSION,
        connector: ConnectorInfo {
            name: config.connector_name.clone(),
            version: config.connector_version.clone(),
            command: config.connector.command.clone(),
            via: config.connector.via,
        },
        omnisim_version: env!("CARGO_PKG_VERSION").into(),
        profile: ProfileInfo {
            name: config.profile.name.clone(),
            version: config.profile.version.clone(),
        },
        requested_level: config.level,
        certified_level,
        certified: certified_level >= config.level,
        time_scale: config.connector.time_scale,
        issued_at,
        wall_ms,
        connector_start_error: start_error,
        levels,
        results_sha256: String::new(),
    };
    cert.results_sha256 = digest(&serde_json::to_value(&cert).unwrap_or_default());
    cert
}

/// The SHA-256 a certificate (as JSON) should carry.
pub fn digest(certificate: &serde_json::Value) -> String {
    let mut v = certificate.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("results_sha256");
    }
    let mut text = String::new();
    canonical(&v, &mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn canonical(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String((*k).clone()).to_string());
                out.push(':');
                canonical(&o[*k], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Checks a `certificate.json` text: `Ok` with the certificate when its
/// SHA-256 matches, `Err` saying why not.
pub fn verify(text: &str) -> Result<Certificate, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let claimed = value["results_sha256"]
        .as_str()
        .ok_or("no `results_sha256` field")?
        .to_owned();
    let actual = digest(&value);
    if claimed != actual {
        return Err(format!(
            "SHA-256 mismatch: the certificate says {claimed}, its content hashes to {actual}"
        ));
    }
    serde_json::from_value(value).map_err(|e| format!("not a certificate: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_ignores_key_order_and_the_digest_field() {
        let a = serde_json::json!({ "b": 1, "a": [true, "x"], "results_sha256": "old" });
        let b: serde_json::Value = serde_json::from_str(r#"{"a":[true,"x"],"b":1}"#).unwrap();
        assert_eq!(digest(&a), digest(&b));
        let c = serde_json::json!({ "b": 2, "a": [true, "x"] });
        assert_ne!(digest(&a), digest(&c));
    }
}
