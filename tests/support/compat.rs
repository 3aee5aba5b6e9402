//! Finding the Python that has the platforms' official clients installed
//! (`.ci/run` makes it: target/compat-venv, from tests/compat/requirements.txt),
//! and running a compatibility script with it against `omnisim serve`.

use std::path::PathBuf;
use std::process::Command;

/// The Python with the pinned official clients, or `None` (with a notice)
/// when this machine has not made it. Under CI (`CI=true`) a missing venv is
/// a failure, never a silent skip.
pub fn python() -> Option<PathBuf> {
    let from_env = std::env::var_os("OMNISIM_COMPAT_PYTHON").map(PathBuf::from);
    let default = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/compat-venv/bin/python");
    let found = from_env
        .filter(|p| p.exists())
        .or_else(|| default.exists().then_some(default));
    if found.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the compatibility suites: .ci/run makes target/compat-venv"
        );
        eprintln!(
            "note: no target/compat-venv (made by .ci/run from tests/compat/requirements.txt); \
             skipping the official-client suite"
        );
    }
    found
}

/// Runs `tests/compat/<script>` with `python`, passing `env`; panics with the
/// script's output unless it exits 0. Returns its stdout.
pub fn run_script(python: &PathBuf, script: &str, env: &[(&str, String)]) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/compat")
        .join(script);
    let mut cmd = Command::new(python);
    cmd.arg(&path);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the compatibility script");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    stdout
}
