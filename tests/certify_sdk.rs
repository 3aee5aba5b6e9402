//! Issue 17: connectors built only on the official clients (squareup and
//! ShopifyAPI), with no omnisim code, certified at level 1 through the real
//! hosts (`omnisim certify --via intercept`):
//!
//! - `examples/connectors/sdk_careful_connector.py` (Square change history
//!   and Shopify `on_hand` accounting, deltas under idempotency keys,
//!   webhooks through each platform's subscription API, online orders as
//!   Square PICKUP orders) is certified: exit 0, through the real hosts
//!   and, unchanged, through the loopback base URLs (`--via base-url`);
//! - `examples/connectors/sdk_naive_poller.py` (absolute writes every 2 s)
//!   is not: exit 1, naming `no_oversell` or `stock_converges`.
//!
//! Real processes on loopback ports, waiting on the wall clock only through
//! the certify command's own readiness polling and settle windows; the
//! assertions are on verdicts, never on timings. Skipped with a notice when
//! the compat venv is absent (`OMNISIM_COMPAT_PYTHON` or
//! target/compat-venv), as the other official-client tests are.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_omnisim");

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    cert: Value,
}

fn certify(script: &str, via: &str) -> Option<Run> {
    let python = support::compat::python()?;
    let out = std::env::temp_dir().join(format!(
        "omnisim-certify-sdk-{script}-{via}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&out);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/connectors")
        .join(format!("{script}.py"));
    let connector = format!("{} {}", python.display(), path.display());
    let started = Instant::now();
    let o = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "certify",
            "--connector",
            &connector,
            "--connector-name",
            script,
            "--via",
            via,
            "--level",
            "1",
            "--time-scale",
            "120",
            "--start-timeout",
            "60s",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("run omnisim certify");
    eprintln!(
        "{script} via {via}: exit {:?} in {:.1} s",
        o.status.code(),
        started.elapsed().as_secs_f64()
    );
    let cert = std::fs::read_to_string(out.join("certificate.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let _ = std::fs::remove_dir_all(&out);
    Some(Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        cert,
    })
}

/// The names of the failed checks of every scenario.
fn failed_checks(cert: &Value) -> Vec<String> {
    cert["levels"][0]["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["checks"].as_array().into_iter().flatten())
        .filter(|c| c["status"] == "fail")
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect()
}

fn careful_is_certified(via: &str) {
    let Some(run) = certify("sdk_careful_connector", via) else {
        return;
    };
    assert_eq!(
        run.code,
        0,
        "the careful SDK connector must be certified\nfailed checks: {:?}\nstdout:\n{}\nstderr:\n{}\ntails:\n{}",
        failed_checks(&run.cert),
        run.stdout,
        run.stderr,
        run.cert["levels"][0]["scenarios"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| format!(
                "{}: {}",
                s["id"],
                s["stdout_tail"].as_str().unwrap_or_default()
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(run.cert["connector"]["via"], via);
    assert_eq!(run.cert["certified_level"], 1);
}

#[test]
fn the_careful_sdk_connector_is_certified_at_level_1_via_intercept() {
    careful_is_certified("intercept");
}

/// The same program, unchanged, on the loopback base URLs the mode gives.
#[test]
fn the_careful_sdk_connector_is_certified_at_level_1_via_base_url() {
    careful_is_certified("base-url");
}

#[test]
fn the_naive_sdk_poller_fails_level_1_via_intercept_naming_the_violation() {
    let Some(run) = certify("sdk_naive_poller", "intercept") else {
        return;
    };
    assert_eq!(
        run.code, 1,
        "the naive poller must not be certified\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(run.cert["connector_start_error"].is_null(), "{}", run.cert);
    let failed = failed_checks(&run.cert);
    assert!(
        failed
            .iter()
            .any(|c| c == "no_oversell" || c == "stock_converges"),
        "expected no_oversell or stock_converges among {failed:?}\nstdout:\n{}",
        run.stdout
    );
}
