//! Fuzzing the scenario loader: arbitrary text and mutated shipped scenarios
//! never panic it, and every rejection points at a real place in the file as
//! `file:line:col: message`. One field of a shipped scenario set to a value
//! that is wrong for it is always refused, at that line: validation is
//! total, so such a file never runs.
//!
//! `PROPTEST_CASES` sets the cases per property (default 256).

use std::path::{Path, PathBuf};

use omnisim_harness::validate::{ScenarioError, load_str};
use proptest::prelude::*;

const FILE: &str = "fuzz/scenario.toml";

fn shipped() -> Vec<String> {
    shipped_files()
        .into_iter()
        // The 500-step flash sale is kept, but cut to its head: mutations
        // are about shapes, not length.
        .map(|text| text.chars().take(20_000).collect())
        .collect()
}

/// Every shipped scenario, whole, sorted.
fn shipped_files() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut out = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("scenarios/ is readable") {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out.sort();
    assert!(out.len() >= 30, "the shipped scenarios are found");
    out
}

/// Asserts the loader's verdict on `src` is well formed.
fn check(src: &str) -> Result<(), TestCaseError> {
    let result = std::panic::catch_unwind(|| load_str(Path::new(FILE), src));
    let Ok(result) = result else {
        return Err(TestCaseError::fail(format!(
            "the loader panicked on:\n{src}"
        )));
    };
    let Err(errors) = result else {
        return Ok(());
    };
    prop_assert!(!errors.is_empty(), "a rejection carries at least one error");
    let lines = src.split('\n').count().max(1);
    for e in &errors {
        check_error(e, src, lines)?;
    }
    Ok(())
}

fn check_error(e: &ScenarioError, src: &str, lines: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(&e.file, &PathBuf::from(FILE));
    prop_assert!(
        e.line >= 1 && e.line <= lines,
        "line {} outside 1..={lines}: {e}",
        e.line
    );
    let line_text = src.split('\n').nth(e.line - 1).unwrap_or("");
    prop_assert!(
        e.column >= 1 && e.column <= line_text.chars().count() + 1,
        "column {} outside line {} ({:?}): {e}",
        e.column,
        e.line,
        line_text
    );
    prop_assert!(!e.message.trim().is_empty(), "an error says what is wrong");
    let shown = e.to_string();
    let want_prefix = format!("{FILE}:{}:{}: ", e.line, e.column);
    prop_assert!(shown.starts_with(&want_prefix), "{shown}");
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Deletes `len` chars at a position (as a fraction of the text).
    Delete(f64, usize),
    /// Inserts a snippet at a position.
    Insert(f64, String),
    /// Duplicates the line at a position.
    DuplicateLine(f64),
    /// Swaps two lines.
    SwapLines(f64, f64),
    /// Replaces the value after an `=` on a line.
    ReplaceValue(f64, String),
}

fn snippet() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("[".to_owned()),
        Just("]]".to_owned()),
        Just("\"".to_owned()),
        Just("=".to_owned()),
        Just("\n[[step]]\n".to_owned()),
        Just("\nat = \"25:99\"\n".to_owned()),
        Just("\nafter = \"-5m\"\n".to_owned()),
        Just("\nactor = \"martian\"\n".to_owned()),
        Just("\nlines = { X = -99999999999999999999 }\n".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("é\u{301}🧪".to_owned()),
        Just("\r\n".to_owned()),
        "\\PC{0,12}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"\"".to_owned()),
        Just("-1".to_owned()),
        Just("9223372036854775808".to_owned()),
        Just("1e400".to_owned()),
        Just("true".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("\"99999d\"".to_owned()),
        Just("\"10:00:00.5\"".to_owned()),
        Just("\"nope\"".to_owned()),
        Just("{ a = 1 }".to_owned()),
        "\"\\PC{0,10}\"",
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    prop_oneof![
        (at.clone(), 1usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (at.clone(), snippet()).prop_map(|(a, s)| Mutation::Insert(a, s)),
        at.clone().prop_map(Mutation::DuplicateLine),
        (at.clone(), at.clone()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (at, value()).prop_map(|(a, v)| Mutation::ReplaceValue(a, v)),
    ]
}

fn char_index(s: &str, frac: f64) -> usize {
    let n = s.chars().count();
    let i = ((n as f64) * frac) as usize;
    s.char_indices().nth(i.min(n)).map_or(s.len(), |(b, _)| b)
}

fn apply(src: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = src.split('\n').map(str::to_owned).collect();
    let line_at = |f: f64, len: usize| ((len as f64) * f) as usize % len.max(1);
    match m {
        Mutation::Delete(at, n) => {
            let start = char_index(src, *at);
            let end = src[start..]
                .char_indices()
                .nth(*n)
                .map_or(src.len(), |(b, _)| start + b);
            format!("{}{}", &src[..start], &src[end..])
        }
        Mutation::Insert(at, s) => {
            let i = char_index(src, *at);
            format!("{}{s}{}", &src[..i], &src[i..])
        }
        Mutation::DuplicateLine(at) => {
            let i = line_at(*at, lines.len());
            let l = lines[i].clone();
            lines.insert(i, l);
            lines.join("\n")
        }
        Mutation::SwapLines(a, b) => {
            let (i, j) = (line_at(*a, lines.len()), line_at(*b, lines.len()));
            lines.swap(i, j);
            lines.join("\n")
        }
        Mutation::ReplaceValue(at, v) => {
            let candidates: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].contains(" = "))
                .collect();
            if let Some(&i) = candidates.get(line_at(*at, candidates.len().max(1))) {
                let key = lines[i].split(" = ").next().unwrap_or("").to_owned();
                lines[i] = format!("{key} = {v}");
            }
            lines.join("\n")
        }
    }
}

/// Values that are wrong for `key` wherever it is written (`table` is the
/// `[header]` it is under), each with what makes it wrong. A key not listed
/// is not corrupted.
fn bad_values(table: &str, key: &str) -> &'static [&'static str] {
    let step = table == "[[step]]";
    match key {
        "at" | "opens" => &["\"25:00\"", "\"banana\"", "1000"],
        "after" | "duration" | "settle" | "poll_every" | "reconcile_every" => {
            &["\"banana\"", "\"10 min\"", "\"-5m\"", "30"]
        }
        "stock" | "catalog" if table == "[sla]" => &["\"banana\"", "\"10 min\""],
        "stock" => &["\"banana\"", "{ nowhere = 1 }", "{ \"store-1\" = -1 }"],
        "date" => &["\"2026-13-01\"", "\"tomorrow\""],
        "price" | "amount" | "value" | "balance" => &["40.00", "40", "\"forty\"", "\"-1.00\""],
        "actor" => &["\"martian\""],
        "action" => &["\"dance\""],
        "location" | "pickup_location" if step => &["\"nowhere\""],
        "sku" if step => &["\"NO-SUCH-SKU\""],
        "order" | "sale" if step => &["\"nobody-at-all\""],
        "lines" if step => &["{ NO-SUCH-SKU = 1 }", "{}", "\"MUG-RED\""],
        "quantity" if step => &["\"three\"", "1.5"],
        "target" => &["\"mars\""],
        "faults" => &[
            "{ eror_rate = 0.2 }",
            "{ error_rate = 2.0 }",
            "{ webhooks = { drop_rat = 1.0 } }",
            "{ latency = { kind = \"uniform\", min_ms = 9, max_ms = 1 } }",
        ],
        "payment" => &[
            "{ type = \"cheque\" }",
            "{ type = \"card\" }",
            "{ type = \"card\", number = \"4242424242424242\", cvc = \"1\" }",
        ],
        "tenders" => &[
            "[{ type = \"iou\", amount = \"1.00\" }]",
            "[{ type = \"cash\", amount = 1.00 }]",
            "[{ type = \"cash\", amount = \"1.00\", tip = \"1\" }]",
        ],
        "refund_to" => &["\"bank\""],
        "restock" | "dedupe" | "on_pos" | "on_shop" => &["\"yes\""],
        "sync" => &["\"pol\""],
        "write" => &["\"sett\""],
        "reserve" => &["\"on_whim\""],
        "buffer" => &["-1", "\"one\""],
        "latency" if table == "[network]" => &["\"fast\"", "\"200ms..20ms\""],
        "status" => &["\"sleeping\""],
        "currency" => &["\"dollars\""],
        "oversold" => &["{ NO-SUCH-SKU = 1 }", "{ MUG = \"one\" }"],
        "fails" => &["[\"no_such_check\"]"],
        "seed" => &["\"seven\"", "-1"],
        "expect_error" | "customer" | "channel" | "title" | "description" => &["1"],
        "tags" => &["\"demo\""],
        "tax_rates" => &["{ food = 0.08 }", "{ food = \"1.5\" }"],
        _ => &[],
    }
}

/// The lines of `src` whose whole value sits on the line (`key = value`,
/// brackets balanced), with their table and key.
fn fields(src: &str) -> Vec<(usize, String, String)> {
    let mut table = String::new();
    let mut out = Vec::new();
    for (i, line) in src.split('\n').enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            table = t.to_owned();
            continue;
        }
        let Some((key, value)) = t.split_once(" = ") else {
            continue;
        };
        let opens = value.matches(['[', '{']).count();
        let closes = value.matches([']', '}']).count();
        let quotes = value.matches("\"\"\"").count();
        if opens == closes && quotes == 0 && !key.contains(['"', ' ', '.']) {
            out.push((i, table.clone(), key.to_owned()));
        }
    }
    out
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics_the_loader(src in "\\PC{0,400}") {
        check(&src)?;
    }

    #[test]
    fn arbitrary_bytes_as_text_never_panic_the_loader(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn mutated_shipped_scenarios_fail_with_file_line_col(
        pick in any::<prop::sample::Index>(),
        muts in prop::collection::vec(mutation(), 1..4),
    ) {
        let all = shipped();
        let mut src = all[pick.index(all.len())].clone();
        for m in &muts {
            src = apply(&src, m);
        }
        check(&src)?;
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn one_corrupted_field_is_refused_at_its_line(
        pick in any::<prop::sample::Index>(),
        field in any::<prop::sample::Index>(),
        value in any::<prop::sample::Index>(),
    ) {
        let all = shipped_files();
        let src = &all[pick.index(all.len())];
        let candidates: Vec<_> = fields(src)
            .into_iter()
            .filter(|(_, table, key)| !bad_values(table, key).is_empty())
            .collect();
        prop_assume!(!candidates.is_empty());
        let (line, table, key) = &candidates[field.index(candidates.len())];
        let bad = bad_values(table, key);
        let bad = bad[value.index(bad.len())];
        let mut lines: Vec<String> = src.split('\n').map(str::to_owned).collect();
        let indent = &lines[*line][..lines[*line].len() - lines[*line].trim_start().len()];
        lines[*line] = format!("{indent}{key} = {bad}");
        let corrupted = lines.join("\n");
        check(&corrupted)?;
        let Err(errors) = load_str(Path::new(FILE), &corrupted) else {
            return Err(TestCaseError::fail(format!(
                "`{key} = {bad}` under {table} (line {}) loaded; it would have run",
                line + 1
            )));
        };
        prop_assert!(
            errors.iter().any(|e| e.line == line + 1),
            "`{key} = {bad}` under {table} is line {}, but the errors point elsewhere:\n{}",
            line + 1,
            errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
        );
    }
}

/// The holes issue 18 found, each as its own case: a step's duration, an
/// unknown key inside `faults`, money written as a TOML number.
#[test]
fn the_known_holes_are_refused_with_their_place() {
    let outage = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/faults/engine-outage-30m.toml"),
    )
    .unwrap();
    let flaky = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/faults/flaky-pos-api.toml"),
    )
    .unwrap();
    let poll = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/last-unit/poll-15m-oversells.toml"),
    )
    .unwrap();
    let cases = [
        (
            outage.replace("duration = \"30m\"", "duration = \"banana\""),
            "`duration = \"banana\"` is not a duration",
        ),
        (
            outage.replace("duration = \"30m\"", "duration = \"10 min\""),
            "`duration = \"10 min\"` is not a duration",
        ),
        (
            flaky.replacen("error_rate", "eror_rate", 1),
            "faults: unknown field `eror_rate`",
        ),
        (
            poll.replace("price = \"12.50\"", "price = 40.00"),
            "40 is a TOML number; money and rates are decimal strings",
        ),
    ];
    for (src, want) in cases {
        let errors = load_str(Path::new(FILE), &src).expect_err(want);
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(shown.iter().any(|e| e.contains(want)), "{want}: {shown:#?}");
        check(&src).unwrap();
    }
}

#[test]
fn every_shipped_scenario_still_loads_unmutated() {
    for src in shipped_files().iter() {
        check(src).unwrap();
        assert!(load_str(Path::new(FILE), src).is_ok());
    }
}
