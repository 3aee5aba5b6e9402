//! `omnisim run` and `omnisim replay` exit codes, as CI relies on them:
//! 0 all pass, 1 a check failed, 2 bad input.

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

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("omnisim-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const GOOD: &str = r#"name = "one sale"
[merchant]
locations = [{ id = "store-1" }]
[[merchant.catalog]]
sku = "A"
title = "A"
price = "1.00"
stock = { "store-1" = 2 }
[[step]]
at = "10:00"
actor = "pos"
action = "sale"
location = "store-1"
lines = { A = 1 }
"#;

#[test]
fn an_unknown_key_exits_2_with_line_and_column() {
    let path = temp_file("bad.toml", &GOOD.replace("title = \"A\"", "titel = \"A\""));
    let (code, _, stderr) = omnisim(&["run", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("bad.toml:6:1: unknown field `titel`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `title`?"), "{stderr}");
}

/// Values the runner reads are checked before anything runs: a step's
/// duration, a key inside `faults`, money written as a TOML number.
#[test]
fn a_bad_value_anywhere_exits_2_before_anything_runs() {
    let steps = format!(
        "{GOOD}[[step]]\nafter = \"1m\"\nactor = \"nemesis\"\naction = \"crash\"\nduration = \"10 min\"\n\
         [[step]]\nafter = \"1m\"\nactor = \"nemesis\"\naction = \"faults\"\ntarget = \"pos\"\nfaults = {{ eror_rate = 0.2 }}\n"
    );
    let cases = [
        (
            steps.clone(),
            "bad-values.toml:19:12: `duration = \"10 min\"` is not a duration",
        ),
        (
            steps,
            "bad-values.toml:25:12: faults: unknown field `eror_rate`",
        ),
        (
            GOOD.replace("price = \"1.00\"", "price = 1.00"),
            "bad-values.toml:7:9: 1 is a TOML number; money and rates are decimal strings",
        ),
    ];
    for (text, want) in cases {
        let path = temp_file("bad-values.toml", &text);
        let out = path.parent().unwrap().join("bad-values-out");
        let (code, stdout, stderr) = omnisim(&[
            "run",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{want}\n{stdout}{stderr}");
        assert!(stderr.contains(want), "{want}\n{stderr}");
        assert!(stderr.contains("nothing was run"), "{stderr}");
        assert!(!out.join("results.json").exists(), "nothing was run");
    }
}

#[test]
fn a_passing_file_exits_0_and_writes_results() {
    let path = temp_file("good.toml", GOOD);
    let out = path.parent().unwrap().join("out");
    let (code, stdout, stderr) = omnisim(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["schema_version"], 1);
    let s = &results["scenarios"][0];
    assert_eq!(
        (s["name"].as_str(), s["status"].as_str(), s["seed"].as_u64()),
        (Some("one sale"), Some("pass"), Some(1))
    );
    assert_eq!(s["checks"].as_array().unwrap().len(), 11);
    assert!(
        s["sim_span_ms"].as_i64().unwrap() >= 3_600_000,
        "at least a business hour"
    );
    assert!(
        std::fs::read_to_string(out.join("junit.xml"))
            .unwrap()
            .contains("<testcase name=\"one sale\"")
    );
    assert!(
        std::fs::read_to_string(out.join("history.jsonl"))
            .unwrap()
            .lines()
            .count()
            > 10
    );
}

#[test]
fn a_failing_expectation_exits_1_and_prints_the_reproduction() {
    let path = temp_file(
        "fails.toml",
        &format!("{GOOD}\n[expect]\noversold = {{ A = 1 }}\n"),
    );
    let out = path.parent().unwrap().join("out");
    let (code, stdout, _) = omnisim(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "5",
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("no_oversell: expected to fail, but held"),
        "{stdout}"
    );
    assert!(stdout.contains("--seed 5"), "{stdout}");
    let (code, stdout, _) = omnisim(&["replay", path.to_str().unwrap(), "--seed", "5"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("ok     sale"), "{stdout}");
}

#[test]
fn shards_split_the_suite_and_merge_back() {
    let dir = temp_file("a.toml", GOOD).parent().unwrap().to_owned();
    std::fs::write(dir.join("b.toml"), GOOD.replace("one sale", "another sale")).unwrap();
    let (a, b, merged) = (dir.join("shard1"), dir.join("shard2"), dir.join("merged"));
    for (k, out) in [("1/2", &a), ("2/2", &b)] {
        let (code, stdout, stderr) = omnisim(&[
            "run",
            dir.to_str().unwrap(),
            "--shard",
            k,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{stdout}{stderr}");
    }
    let count = |p: &std::path::Path| {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p.join("results.json")).unwrap())
                .unwrap();
        v["scenarios"].as_array().unwrap().len()
    };
    assert_eq!((count(&a), count(&b)), (1, 1));
    let (code, stdout, _) = omnisim(&[
        "report",
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(count(&merged), 2);
}

/// Issue 18, item 7: every subcommand's `--help` shows an example and its
/// exit codes, and `certify` shows `--connector` as required.
#[test]
fn every_subcommand_help_has_examples_and_exit_codes() {
    let (code, top, _) = omnisim(&["--help"]);
    assert_eq!(code, 0);
    // The subcommands as the top-level help lists them.
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect();
    assert!(commands.len() >= 10, "{top}");
    let mut all: Vec<Vec<String>> = commands.iter().map(|c| vec![c.clone()]).collect();
    for sub in ["open", "convert", "merge"] {
        all.push(vec!["report".into(), sub.into()]);
    }
    for cmd in &all {
        let mut args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        args.push("--help");
        let (code, help, stderr) = omnisim(&args);
        assert_eq!(code, 0, "{cmd:?}: {stderr}");
        assert!(help.contains("\nExamples:\n  omnisim "), "{cmd:?}:\n{help}");
        assert!(help.contains("\nExit codes:\n  0  "), "{cmd:?}:\n{help}");
    }
    let (_, help, _) = omnisim(&["certify", "--help"]);
    assert!(
        help.contains("Usage: omnisim certify --connector <CMD> [OPTIONS]"),
        "{help}"
    );
}

/// Issue 18, item 5: the console table says `1 scenario`, keeps a long
/// title whole, and `omnisim demo FILE.toml` tells a consultant's own case.
#[test]
fn the_console_table_and_a_demo_of_ones_own_case_read_true() {
    let long = "a store sale of the very last red mug at the downtown store while the web shop still shows one";
    assert!(long.len() > 72);
    let path = temp_file("long.toml", &GOOD.replace("one sale", long));
    let out = path.parent().unwrap().join("long-out");
    let (code, stdout, stderr) = omnisim(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains(long), "the whole title:\n{stdout}");
    assert!(
        stdout.contains("\n1 scenario: 1 passed, 0 failed"),
        "{stdout}"
    );
    assert!(!stdout.contains("1 scenarios"), "{stdout}");

    // A case of one's own, with the violation it is meant to show.
    let oversell = GOOD.replace("stock = { \"store-1\" = 2 }", "stock = { \"store-1\" = 0 }")
        + "\n[expect]\noversold = { A = 1 }\n";
    let path = temp_file("my-case.toml", &oversell);
    let out = path.parent().unwrap().join("my-case-out");
    let (code, stdout, stderr) = omnisim(&[
        "demo",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Verdict: as expected."), "{stdout}");
    assert!(
        stdout.contains("no_oversell (expected): store sale sale_000001 oversold 1 unit of A"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<p class=\"verdict pass\">The case showed what it should"),
        "a green headline"
    );
    assert!(html.contains("1 of 1 scenario passed") || !html.contains("1 scenarios"));
}

/// Issue 18, item 5: a demo that shows what it should is headed in green
/// with those words (not "1 of 2 scenarios passed" in red), and its story
/// tells every violation, not only the first of each check.
#[test]
fn a_successful_demo_is_headed_green_and_tells_every_violation() {
    let out = std::env::temp_dir().join(format!("omnisim-cli-{}-demo", std::process::id()));
    let (code, stdout, stderr) =
        omnisim(&["demo", "partial-return", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<p class=\"verdict pass\">The demo showed what it should"),
        "{}",
        html.lines()
            .find(|l| l.contains("verdict"))
            .unwrap_or_default()
    );
    assert!(!html.contains("1 of 2 scenarios passed"));
    let told: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.contains("exactly_once: "))
        .skip(1)
        .take_while(|l| l.starts_with("       - "))
        .collect();
    assert!(told.len() >= 2, "every exactly_once violation:\n{stdout}");
}

/// Issue 18, item 6: `omnisim serve` names the address it cannot bind.
#[test]
fn serve_names_the_port_it_cannot_bind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, _, stderr) = omnisim(&[
        "serve",
        "--pos-port",
        "0",
        "--shop-port",
        &port,
        "--pay-port",
        "0",
        "--stripe-port",
        "0",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot bind 127.0.0.1:{port} (shop, --shop-port)")),
        "{stderr}"
    );
}
