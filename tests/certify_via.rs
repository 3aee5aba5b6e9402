//! `omnisim certify --via intercept|base-url`: a connector built on the
//! official clients (tests/compat/via_probe_connector.py) gets the mode's
//! environment, reaches every dialect at start (it exits, and certification
//! stops with exit 3, if any call misses), and the certificate records the
//! mode. The probe syncs nothing, so it is not certified (exit 1).

mod support;

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_omnisim");

fn certify_probe(via: &str) -> Option<(i32, String, String, serde_json::Value)> {
    let python = support::compat::python()?;
    let out =
        std::env::temp_dir().join(format!("omnisim-certify-via-{via}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/compat/via_probe_connector.py");
    let connector = format!("{} {}", python.display(), script.display());
    let o = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "certify",
            "--connector",
            &connector,
            "--via",
            via,
            "--profile",
            "smoke",
            "--level",
            "1",
            "--time-scale",
            "120",
            "--connector-name",
            "via-probe",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("run omnisim certify");
    let cert = std::fs::read_to_string(out.join("certificate.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    Some((
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        cert,
    ))
}

fn check(via: &str) {
    let Some((code, stdout, stderr, cert)) = certify_probe(via) else {
        return;
    };
    assert_eq!(
        code, 1,
        "a probe that syncs nothing is not certified\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains(&format!("via {via}")), "{stdout}");
    assert_eq!(cert["connector"]["via"], via);
    assert!(cert["connector_start_error"].is_null(), "{cert}");
    let s = &cert["levels"][0]["scenarios"][0];
    let out = s["stdout_tail"].as_str().unwrap_or_default();
    for platform in ["stripe", "square", "shopify"] {
        assert!(
            out.contains(&format!("{platform}: ")),
            "{platform} not reached:\n{out}"
        );
    }
}

#[test]
fn an_sdk_connector_certified_via_intercept_reaches_the_real_hosts() {
    check("intercept");
}

#[test]
fn an_sdk_connector_certified_via_base_url_reaches_the_dialects() {
    check("base-url");
}

#[test]
fn the_mode_must_be_known() {
    let o = Command::new(BIN)
        .args(["certify", "--connector", "true", "--via", "tunnel"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("native, base-url or intercept"), "{err}");
}
