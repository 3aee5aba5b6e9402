//! README.md's examples cannot drift: every fenced `sh` block right after a
//! `<!-- readme-test … -->` line is run here against the built binary.
//!
//! In such a block each line `cargo run --release -- ARGS` (or `omnisim
//! ARGS`) is a command, run from the repository root; each following line
//! `# TEXT` is a line its output must show (leading and trailing spaces
//! aside). `…` in TEXT stands for anything (a timing). A command must not
//! answer "bad input" (exit 2): a README example with a wrong flag fails.

use std::path::Path;
use std::process::Command;

/// One README command and the lines its output must show.
#[derive(Debug)]
struct Example {
    line: usize,
    args: Vec<String>,
    expect: Vec<String>,
}

fn examples(readme: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let lines: Vec<&str> = readme.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim_start().starts_with("<!-- readme-test") {
            i += 1;
            continue;
        }
        assert!(
            lines.get(i + 1).is_some_and(|l| l.trim() == "```sh"),
            "README.md:{}: a readme-test marker must sit right above a ```sh block",
            i + 1
        );
        i += 2;
        while i < lines.len() && lines[i].trim() != "```" {
            let l = lines[i];
            let command = l
                .strip_prefix("cargo run --release -- ")
                .or_else(|| l.strip_prefix("omnisim "));
            if let Some(rest) = command {
                let rest = rest.split("  #").next().unwrap_or(rest);
                out.push(Example {
                    line: i + 1,
                    args: rest.split_whitespace().map(str::to_owned).collect(),
                    expect: Vec::new(),
                });
            } else if let Some(text) = l.strip_prefix("# ") {
                out.last_mut()
                    .expect("an expected line follows a command")
                    .expect
                    .push(text.trim().to_owned());
            } else {
                assert!(
                    l.trim().is_empty(),
                    "README.md:{}: not a command or `# ` line: {l}",
                    i + 1
                );
            }
            i += 1;
        }
    }
    out
}

/// `got` shows `want`, where `…` in `want` matches anything.
fn shows(got: &str, want: &str) -> bool {
    got.lines().any(|l| {
        let l = l.trim();
        let parts: Vec<&str> = want.split('…').collect();
        if parts.len() == 1 {
            return l == want;
        }
        let mut rest = l;
        for (k, p) in parts.iter().enumerate() {
            match rest.find(p) {
                Some(at) if k > 0 || at == 0 => rest = &rest[at + p.len()..],
                _ => return false,
            }
        }
        parts
            .last()
            .is_some_and(|p| p.is_empty() || rest.is_empty())
    })
}

#[test]
fn the_readme_examples_print_what_the_readme_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let examples = examples(&readme);
    assert!(
        examples.len() >= 3,
        "the README's tested examples: {examples:?}"
    );
    let mut wrong = Vec::new();
    for ex in &examples {
        let out = Command::new(env!("CARGO_BIN_EXE_omnisim"))
            .args(&ex.args)
            .current_dir(root)
            .output()
            .expect("run omnisim");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        if code.is_none() || code == Some(2) {
            wrong.push(format!(
                "README.md:{}: `omnisim {}` exited {code:?}: {stderr}",
                ex.line,
                ex.args.join(" ")
            ));
            continue;
        }
        for want in &ex.expect {
            if !shows(&stdout, want) {
                wrong.push(format!(
                    "README.md:{}: `omnisim {}` did not print\n    {want}\n  its output:\n{stdout}",
                    ex.line,
                    ex.args.join(" ")
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_matcher_takes_ellipses_for_anything() {
    assert!(shows(
        "  shrunk in 167 runs (0.5 s)\n",
        "shrunk in 167 runs (…)"
    ));
    assert!(!shows(
        "shrunk in 168 runs (0.5 s)",
        "shrunk in 167 runs (…)"
    ));
    assert!(shows("a\n  b c\n", "b c"));
    assert!(!shows("b c d", "b c"));
}
