//! The reports people read, end to end through the binary: `omnisim demo`,
//! `omnisim run`'s report.html and summary.md, `omnisim report open|convert`,
//! and report.html in real headless Chromium (skipped, with a notice, where
//! Chromium is not installed).

use std::path::{Path, PathBuf};
use std::process::Command;

fn omnisim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_omnisim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("run omnisim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("omnisim-reports-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp folder");
    dir
}

#[test]
fn the_oversell_demo_tells_the_story_and_exits_0() {
    let out = temp_dir("demo");
    let (code, stdout, stderr) = omnisim(&["demo", "oversell", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for needed in [
        "10:03 web order by ana: 1 × Red mug",
        "shop shows 0, register still shows 1",
        "10:07 store sale: 1 × Red mug",
        "1 unit of Red mug (MUG-RED) sold twice: oversold by 1",
        "refused (out_of_stock)",
        "Verdict: every check held",
    ] {
        assert!(stdout.contains(needed), "missing `{needed}` in:\n{stdout}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(
        html.contains("oversold 1 at 10:07"),
        "the stock chart marks the oversell"
    );
    assert!(stdout.contains(&out.join("report.html").display().to_string()));
}

#[test]
fn every_demo_shows_what_it_should_and_the_list_names_them() {
    let (code, stdout, _) = omnisim(&["demo", "--list"]);
    assert_eq!(code, 0);
    let names: Vec<String> = stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    assert!(names.len() >= 3, "{stdout}");
    for name in &names {
        let out = temp_dir(&format!("demo-{name}"));
        let (code, stdout, stderr) = omnisim(&["demo", name, "--out", out.to_str().unwrap()]);
        assert_eq!(code, 0, "demo {name}:\n{stdout}\n{stderr}");
        assert!(stdout.contains("Verdict: FAILED"), "{stdout}");
    }
    let (code, _, stderr) = omnisim(&["demo", "no-such-demo"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("oversell"), "{stderr}");
}

#[test]
fn a_run_writes_readable_reports_and_report_open_rebuilds_them() {
    let out = temp_dir("run");
    let (code, stdout, stderr) =
        omnisim(&["run", "demos/oversell", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 1, "the naive demo fails: {stdout}\n{stderr}");
    assert!(stdout.contains("report.html"), "{stdout}");
    let md = std::fs::read_to_string(out.join("summary.md")).expect("summary.md");
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit.xml");
    for text in [&md, &junit] {
        assert!(text.contains("Oversell, naive setup"));
        assert!(text.contains("no_oversell"));
        assert!(text.contains("store sale sale_000001"));
    }
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    std::fs::remove_file(out.join("report.html")).expect("remove");
    let (code, stdout, stderr) = omnisim(&["report", "open", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let again = std::fs::read_to_string(out.join("report.html")).expect("report.html again");
    assert_eq!(
        html, again,
        "open rebuilds the same page from results and history"
    );
    let (code, md_again, _) = omnisim(&[
        "report",
        "convert",
        out.join("results.json").to_str().unwrap(),
        "--to",
        "markdown",
    ]);
    assert_eq!(code, 0);
    assert_eq!(md, md_again);
    let (code, junit_again, _) =
        omnisim(&["report", "convert", out.to_str().unwrap(), "--to", "junit"]);
    assert_eq!(code, 0);
    assert_eq!(junit, junit_again);
    let (code, _, stderr) = omnisim(&["report", "open", "/no/such/results.json"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/no/such/results.json"), "{stderr}");
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(name))
                    .find(|p| p.is_file())
            })
        })
}

/// Opens a page in headless Chromium: its screenshot, its DOM after the
/// scripts ran, and the browser's log.
fn in_chromium(chrome: &Path, page: &Path, png: &Path) -> (String, String) {
    let profile = png.with_extension("profile");
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let url = format!("file://{}", page.display());
    let shot = Command::new(chrome)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1400,3000")
        .arg(&url)
        .output()
        .expect("run chromium");
    let dom = Command::new(chrome)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&shot.stderr),
        String::from_utf8_lossy(&dom.stderr)
    );
    (String::from_utf8_lossy(&dom.stdout).into_owned(), log)
}

/// Lines of the browser's log that come from the page: the report logs
/// nothing, so any console line (`:CONSOLE:1]` or `:CONSOLE(1)]`, by version)
/// or uncaught exception is a fault.
fn page_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect()
}

#[test]
fn the_console_filter_catches_what_chromium_prints() {
    let log = "[1:1:1127/034533.434756:INFO:CONSOLE:1] \"boom\", source: file:///x.html (1)\n\
               [1:1:1127/034533.436615:INFO:CONSOLE(1)] \"Uncaught ReferenceError: f\", source: x\n\
               [1:1:1127/034533.436615:WARNING:gpu_init.cc(1)] unrelated\n";
    assert_eq!(page_errors(log).len(), 2);
}

#[test]
fn the_shipped_suite_report_opens_in_chromium_without_console_errors() {
    let Some(chrome) = chromium() else {
        eprintln!("NOTICE: chromium is not installed; skipping the browser check of report.html");
        return;
    };
    let out = temp_dir("suite");
    let (code, stdout, stderr) = omnisim(&["run", "scenarios", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let demo = temp_dir("suite-demo");
    let (code, _, _) = omnisim(&["demo", "oversell", "--out", demo.to_str().unwrap()]);
    assert_eq!(code, 0);
    for (page, png) in [
        (out.join("report.html"), out.join("report.png")),
        (demo.join("report.html"), demo.join("report.png")),
    ] {
        let (dom, log) = in_chromium(&chrome, &page, &png);
        assert!(
            page_errors(&log).is_empty(),
            "console errors in {}:\n{}",
            page.display(),
            page_errors(&log).join("\n")
        );
        assert!(
            dom.contains("data-ready=\"1\""),
            "the page's script did not run to its end in {}",
            page.display()
        );
        assert!(dom.contains("<svg class=\"lanes\""), "a timeline is drawn");
        assert!(
            dom.contains("<figure class=\"chart\""),
            "a stock chart is drawn"
        );
        let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 20_000,
            "screenshot {} is {size} bytes",
            png.display()
        );
        eprintln!("screenshot: {}", png.display());
    }
}

#[test]
fn merged_shards_keep_their_timelines() {
    let dirs: Vec<PathBuf> = (1..=2).map(|k| temp_dir(&format!("shard{k}"))).collect();
    for (k, dir) in dirs.iter().enumerate() {
        let shard = format!("{}/2", k + 1);
        let (code, stdout, stderr) = omnisim(&[
            "run",
            "demos/oversell",
            "--shard",
            &shard,
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(code == 0 || code == 1, "{stdout}\n{stderr}");
    }
    let out = temp_dir("merged");
    let (code, stdout, stderr) = omnisim(&[
        "report",
        "merge",
        dirs[0].to_str().unwrap(),
        dirs[1].to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "the naive demo fails: {stdout}\n{stderr}");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert_eq!(
        html.matches("<figure class=\"chart\"").count(),
        2,
        "a chart per scenario"
    );
    assert!(html.contains("oversold 1 at 10:07"));
    assert!(out.join("summary.md").exists() && out.join("history.jsonl").exists());
}

/// Measures a report in the browser after layout: what is red, where the
/// fault windows and violation marks are, which labels stick out of their
/// picture, and where each stock line ends. Written into `<pre id="probe">`.
const PROBE: &str = r#"<script>
(function () {
  var RED = 'rgb(198, 40, 40)', GREEN = 'rgb(46, 125, 50)';
  function box(e) { var b = e.getBBox(); return { x: b.x, y: b.y, w: b.width, h: b.height }; }
  function width(svg) { var vb = svg.viewBox && svg.viewBox.baseVal; return vb && vb.width ? vb.width : +svg.getAttribute('width'); }
  var out = [].map.call(document.querySelectorAll('section.scenario'), function (sec) {
    var r = { name: sec.querySelector('h2').textContent.trim(), red: [], faults: [], lanes: [], nemesis_green: 0, marks: [], clipped: [], ends: [] };
    sec.querySelectorAll('*').forEach(function (e) {
      if (e.closest('.legend')) { return; }
      var cs = getComputedStyle(e), hit = [];
      if (cs.color === RED && e.textContent.trim() !== '') { hit.push('color'); }
      if (cs.backgroundColor === RED) { hit.push('background'); }
      if (cs.fill === RED) { hit.push('fill'); }
      if (cs.stroke === RED) { hit.push('stroke'); }
      if (cs.borderLeftColor === RED && cs.borderLeftWidth !== '0px' && cs.borderLeftStyle !== 'none') { hit.push('border'); }
      if (hit.length) { r.red.push(e.tagName.toLowerCase() + '.' + (e.getAttribute('class') || '') + ' ' + hit.join(',') + ': ' + e.textContent.trim().slice(0, 60)); }
    });
    var lanes = sec.querySelector('svg.lanes');
    if (lanes) {
      lanes.querySelectorAll('rect.lanebg').forEach(function (l) { r.lanes.push(l.dataset.lane); });
      lanes.querySelectorAll('rect.fault').forEach(function (f) { r.faults.push({ label: f.textContent.trim(), w: box(f).w }); });
      lanes.querySelectorAll('g.lane[data-lane="nemesis"] rect.op').forEach(function (o) { if (getComputedStyle(o).fill === GREEN) { r.nemesis_green++; } });
      lanes.querySelectorAll('rect.violmark').forEach(function (m) {
        var b = box(m), cy = b.y + b.h / 2, lane = m.dataset.lane || null, inside = false;
        var bg = lane && lanes.querySelector('rect.lanebg[data-lane="' + lane + '"]');
        if (bg) { var l = box(bg); inside = cy >= l.y && cy <= l.y + l.h; }
        r.marks.push({ lane: lane, inside: inside });
      });
    }
    sec.querySelectorAll('svg').forEach(function (svg) {
      var w = width(svg);
      svg.querySelectorAll('text').forEach(function (t) {
        if (getComputedStyle(t).display === 'none' || t.closest('a') && t.classList.contains('ovlab')) { return; }
        var b = box(t);
        if (b.w > 0 && (b.x < -0.5 || b.x + b.w > w + 0.5)) { r.clipped.push(t.textContent.trim() + ' [' + Math.round(b.x) + '..' + Math.round(b.x + b.w) + ' of ' + w + ']'); }
      });
    });
    sec.querySelectorAll('figure.chart').forEach(function (fig) {
      var end = {};
      fig.querySelectorAll('path').forEach(function (p) {
        var n = p.getTotalLength(); end[p.getAttribute('class')] = n > 0 ? p.getPointAtLength(n).y : null;
      });
      r.ends.push(end);
    });
    return r;
  });
  var pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"#;

/// What issue 18 found wrong in report.html, each checked in a real browser
/// after layout: red only for violations (a refund before capture is none),
/// a partition shaded as a fault window, nemesis steps not in the "ok"
/// green, each violation marked in its own system's lane, the gateway lane
/// present when its key event is a void, no time label cut off, and stock
/// lines at the same value all visible.
#[test]
fn report_html_draws_only_true_things_in_chromium() {
    let Some(chrome) = chromium() else {
        eprintln!("NOTICE: chromium is not installed; skipping the browser check of report.html");
        return;
    };
    let out = temp_dir("truthful");
    let files = [
        "scenarios/orders/partial-capture.toml",
        "scenarios/orders/line-dropped-before-pickup.toml",
        "scenarios/orders/two-pickups-one-shortened-one-no-show.toml",
        "scenarios/orders/cancel-after-authorization.toml",
        "scenarios/faults/partition-pos-from-connector.toml",
        "demos/oversell/naive.toml",
    ];
    let mut args = vec!["run"];
    args.extend(files);
    args.extend(["--out", out.to_str().unwrap()]);
    let (code, stdout, stderr) = omnisim(&args);
    assert_eq!(code, 1, "only the naive demo fails: {stdout}\n{stderr}");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    let probe_page = out.join("probe.html");
    std::fs::write(
        &probe_page,
        html.replace("</body>", &format!("{PROBE}</body>")),
    )
    .unwrap();
    let (dom, log) = in_chromium(&chrome, &probe_page, &out.join("probe.png"));
    assert!(
        page_errors(&log).is_empty(),
        "{}",
        page_errors(&log).join("\n")
    );
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + "<pre id=\"probe\">".len();
    let json = dom[start..start + dom[start..].find("</pre>").unwrap()]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let scenarios: Vec<serde_json::Value> = serde_json::from_str(&json).expect("probe JSON");
    eprintln!("screenshot: {}", out.join("probe.png").display());
    let find = |name: &str| {
        scenarios
            .iter()
            .find(|s| s["name"].as_str().is_some_and(|n| n.contains(name)))
            .unwrap_or_else(|| panic!("no section {name}"))
    };
    // Red means a violation: the passing scenarios show none.
    for name in [
        "a line dropped before shipping",
        "one item dropped from a pickup order",
        "two pickup orders",
        "a cancelled order voids",
    ] {
        let s = find(name);
        assert_eq!(
            s["red"],
            serde_json::json!([]),
            "red in a passing scenario, {name}"
        );
    }
    // The partition is a fault window, and the nemesis is never "ok" green.
    let p = find("cut off from the connector");
    let faults = p["faults"].as_array().unwrap();
    assert!(
        faults.iter().any(|f| f["label"]
            .as_str()
            .unwrap()
            .contains("cut off from the connector")
            && f["w"].as_f64().unwrap() > 50.0),
        "{faults:?}"
    );
    assert_eq!(p["nemesis_green"], 0);
    // The oversell was the register's: its mark sits in the clerks' lane.
    let naive = find("Oversell, naive setup");
    let marks = naive["marks"].as_array().unwrap();
    assert!(!marks.is_empty());
    assert_eq!(marks[0]["lane"], "pos", "{marks:?}");
    for m in marks {
        assert_eq!(m["inside"], true, "a violation mark outside its lane: {m}");
    }
    // The void is the gateway's key event in the cancelled order.
    let lanes = find("a cancelled order voids")["lanes"].clone();
    assert!(
        lanes.as_array().unwrap().iter().any(|l| l == "pay"),
        "{lanes}"
    );
    for s in &scenarios {
        assert_eq!(
            s["clipped"],
            serde_json::json!([]),
            "labels cut off in {}",
            s["name"]
        );
        // Each chart's lines end apart, even at the same value.
        for end in s["ends"].as_array().unwrap() {
            let ys: Vec<f64> = ["shop", "pos", "truth"]
                .iter()
                .filter_map(|k| end[*k].as_f64())
                .collect();
            for (a, y) in ys.iter().enumerate() {
                for z in &ys[a + 1..] {
                    assert!(
                        (y - z).abs() >= 3.0,
                        "lines hide each other in {}: {end}",
                        s["name"]
                    );
                }
            }
        }
    }
}
