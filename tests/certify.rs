//! `omnisim certify` end to end: the reference engine as a real child process
//! is certified on a small time-scaled profile, the naive Python poller is
//! not (with a named violation), and connectors that cannot start get a clear
//! error with their stderr and exit code 3.
//!
//! These tests run real processes on loopback ports and wait on the wall
//! clock (bounded by the certify command's own timeouts); they assert no
//! timings.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_omnisim");

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("omnisim-certify-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn certify(args: &[&str], out: &Path) -> (i32, String, String) {
    let o = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("certify")
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run omnisim certify");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn certificate(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("certificate.json")).expect("certificate.json");
    serde_json::from_str(&text).expect("certificate.json is JSON")
}

fn has_python() -> bool {
    Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_reference_engine_is_certified_and_the_certificate_verifies() {
    let out = out_dir("engine");
    let connector = format!("{BIN} engine");
    let (code, stdout, stderr) = certify(
        &[
            "--connector",
            &connector,
            "--profile",
            "smoke",
            "--level",
            "3",
            "--time-scale",
            "60",
            "--connector-name",
            "omnisim-engine",
            "--connector-version",
            "test",
        ],
        &out,
    );
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("CERTIFIED at level 3"), "{stdout}");
    let cert = certificate(&out);
    assert_eq!(cert["certified"], true);
    assert_eq!(cert["certified_level"], 3);
    assert_eq!(cert["connector"]["name"], "omnisim-engine");
    assert_eq!(cert["profile"]["name"], "smoke");
    assert_eq!(cert["levels"].as_array().map(Vec::len), Some(3));
    assert!(out.join("certificate.html").exists());
    let html = std::fs::read_to_string(out.join("certificate.html")).unwrap();
    assert!(html.contains("CERTIFIED at level 3"));

    // The certificate verifies, and an edit is caught.
    let file = out.join("certificate.json");
    let ok = Command::new(BIN)
        .args(["certify", "--verify"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let forged = text.replacen("\"certified_level\": 3", "\"certified_level\": 2", 1);
    assert_ne!(forged, text);
    std::fs::write(&file, forged).unwrap();
    let bad = Command::new(BIN)
        .args(["certify", "--verify"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("SHA-256 mismatch"));
}

#[test]
fn the_naive_python_poller_fails_level_1_with_named_violations() {
    if !has_python() {
        eprintln!("python3 not found: skipped");
        return;
    }
    let out = out_dir("naive");
    let (code, stdout, stderr) = certify(
        &[
            "--connector",
            "python3 examples/connectors/naive_poller.py",
            "--profile",
            "smoke",
            "--level",
            "1",
            "--time-scale",
            "120",
        ],
        &out,
    );
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("NOT CERTIFIED at level 1"), "{stdout}");
    let cert = certificate(&out);
    assert_eq!(cert["certified"], false);
    let scenario = &cert["levels"][0]["scenarios"][0];
    assert_eq!(scenario["status"], "failed");
    let failed: Vec<&str> = scenario["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(
        failed.contains(&"stock_converges"),
        "failed checks: {failed:?}\n{stdout}"
    );
    let reasons = scenario["reasons"].to_string();
    assert!(reasons.contains("stock_converges"), "{reasons}");
}

#[test]
fn a_command_that_does_not_exist_is_a_start_error_with_exit_3() {
    let out = out_dir("missing");
    let (code, _, stderr) = certify(
        &[
            "--connector",
            "./no-such-connector-anywhere --flag",
            "--profile",
            "smoke",
            "--level",
            "1",
        ],
        &out,
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("could not be run"), "{stderr}");
    assert!(stderr.contains("no-such-connector-anywhere"), "{stderr}");
    let cert = certificate(&out);
    assert_eq!(cert["certified"], false);
    assert!(cert["connector_start_error"].is_string());
}

#[test]
fn a_connector_that_exits_at_once_shows_its_stderr() {
    let out = out_dir("exits");
    let (code, _, stderr) = certify(
        &[
            "--connector",
            "sh -c 'echo missing OMNISIM_FOO configuration >&2; exit 4'",
            "--profile",
            "smoke",
            "--level",
            "1",
        ],
        &out,
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("exited before it was ready"), "{stderr}");
    assert!(
        stderr.contains("missing OMNISIM_FOO configuration"),
        "{stderr}"
    );
    let cert = certificate(&out);
    let s = &cert["levels"][0]["scenarios"][0];
    assert_eq!(s["status"], "connector_did_not_start");
    assert!(
        s["stderr_tail"]
            .as_str()
            .unwrap()
            .contains("missing OMNISIM_FOO")
    );
}

#[test]
fn a_connector_that_never_becomes_healthy_times_out_with_exit_3() {
    let out = out_dir("unhealthy");
    let (code, _, stderr) = certify(
        &[
            "--connector",
            "sh -c 'echo waiting forever >&2; exec sleep 60'",
            "--profile",
            "smoke",
            "--level",
            "1",
            "--start-timeout",
            "1s",
        ],
        &out,
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("never answered 200 on /healthz"),
        "{stderr}"
    );
    assert!(stderr.contains("waiting forever"), "{stderr}");
}

#[test]
fn bad_input_is_exit_2() {
    let out = out_dir("bad");
    let (code, _, stderr) = certify(&["--connector", "true", "--profile", "nope"], &out);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--profile"), "{stderr}");
    let claims = std::env::temp_dir().join(format!("omnisim-claims-{}.toml", std::process::id()));
    std::fs::write(
        &claims,
        "[[unsupported]]\ncapability = \"teleportation\"\nreason = \"physics\"\n",
    )
    .unwrap();
    let (code, _, stderr) = certify(
        &["--connector", "true", "--claims", claims.to_str().unwrap()],
        &out,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("teleportation"), "{stderr}");
    let (code, _, stderr) = certify(&["--connector", "true", "--level", "4"], &out);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn unsupported_capabilities_show_as_not_claimed() {
    let out = out_dir("claims");
    let claims =
        std::env::temp_dir().join(format!("omnisim-claims-ok-{}.toml", std::process::id()));
    std::fs::write(
        &claims,
        "[[unsupported]]\ncapability = \"level-1/sales-in-both-channels\"\nreason = \"we only sync orders\"\n",
    )
    .unwrap();
    // The connector would fail to start, but nothing is run: the only smoke
    // scenario of level 1 is not claimed.
    let (code, stdout, stderr) = certify(
        &[
            "--connector",
            "false",
            "--profile",
            "smoke",
            "--level",
            "1",
            "--claims",
            claims.to_str().unwrap(),
        ],
        &out,
    );
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let cert = certificate(&out);
    let s = &cert["levels"][0]["scenarios"][0];
    assert_eq!(s["status"], "not_claimed");
    assert_eq!(s["claim_reason"], "we only sync orders");
    assert_eq!(cert["levels"][0]["certified"], false);
}
