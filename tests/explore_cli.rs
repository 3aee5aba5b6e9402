//! `omnisim explore` exit codes and its regression file, end to end: 0 when
//! nothing is found, 1 with a file that `omnisim run` then fails on, 2 on bad
//! input.

use std::process::Command;

fn omnisim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_omnisim"))
        .args(args)
        .output()
        .expect("run omnisim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_input_exits_2() {
    let (code, _, err) = omnisim(&["explore", "--strategy", "optimistic"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`optimistic` is not a strategy"), "{err}");
    let (code, _, err) = omnisim(&["explore", "--check", "no_overselling"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("there is no check `no_overselling`"), "{err}");
    let (code, _, err) = omnisim(&["explore", "--minutes", "-1"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn nothing_found_exits_0_with_the_rate() {
    let (code, out, err) = omnisim(&[
        "explore",
        "--cases",
        "4",
        "--max-steps",
        "6",
        "--seed",
        "3",
        "--quiet",
        "--check-determinism",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("4 cases"), "{out}");
    assert!(out.contains("cases/s"), "{out}");
    assert!(out.contains("no violation found"), "{out}");
}

#[test]
fn a_finding_exits_1_and_its_file_fails_omnisim_run() {
    let dir = std::env::temp_dir().join(format!("omnisim-explore-cli-{}", std::process::id()));
    let (code, out, err) = omnisim(&[
        "explore",
        "--strategy",
        "naive",
        "--faults",
        "none",
        "--check",
        "no_oversell",
        "--max-steps",
        "10",
        "--cases",
        "100",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("FOUND in case"), "{out}");
    assert!(out.contains("reproduce: omnisim run"), "{out}");
    let file = std::fs::read_dir(&dir)
        .expect("the out folder exists")
        .map(|e| e.expect("an entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "toml"))
        .expect("a regression file was written");
    let (code, out, err) = omnisim(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("no_oversell"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
