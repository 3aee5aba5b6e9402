//! Running scenarios as a suite: find the files, validate them all first,
//! run each in virtual time, judge it against its expectation, and gather
//! the run result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use omnisim_api::ApiClient;
use omnisim_reports::{CheckResult, ScenarioResult, Status};

use crate::checkers::{FinalState, Input};
use crate::runner::{self, Outcome};
use crate::validate::{self, Loaded, ScenarioError};

/// Every `.toml` file under `paths` (files are taken as given), sorted.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out).map_err(|e| ScenarioError {
                file: p.clone(),
                line: 1,
                column: 1,
                message: format!("cannot read the folder: {e}"),
                hint: None,
            })?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(ScenarioError {
                file: p.clone(),
                line: 1,
                column: 1,
                message: "no such file or folder".into(),
                hint: None,
            });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}

/// One scenario's run and verdict.
#[derive(Debug)]
pub struct Judged {
    /// The result as `results.json` shows it.
    pub result: ScenarioResult,
    /// The history as JSON Lines.
    pub history_jsonl: String,
    /// What the HTML report draws for it.
    pub timeline: omnisim_reports::timeline::Timeline,
}

/// Runs and judges one loaded scenario. `seed` overrides the file's.
pub fn run_one(loaded: &Loaded, seed: Option<u64>) -> Judged {
    run_one_with(loaded, seed, runner::strategy_of(loaded))
}

/// Runs and judges one loaded scenario with another engine strategy.
pub fn run_one_with(
    loaded: &Loaded,
    seed: Option<u64>,
    strategy: omnisim_engine::Strategy,
) -> Judged {
    let seed = seed.or(loaded.scenario.seed).unwrap_or(1);
    let buffer = strategy.buffer;
    let wall = std::time::Instant::now(); // determinism-ok: wall time is reported, never used in the run
    let outcome = runner::run_with(loaded, seed, strategy);
    let state = collect(loaded, &outcome);
    judge(
        loaded,
        outcome,
        state,
        wall.elapsed().as_millis() as u64,
        buffer,
    )
}

/// Judges an outcome the caller ran itself (the real-time runner), with
/// `wall_ms` as its wall time.
pub fn judge_outcome(loaded: &Loaded, outcome: Outcome, wall_ms: u64) -> Judged {
    let state = collect(loaded, &outcome);
    judge(loaded, outcome, state, wall_ms, 0)
}

/// Reads the final state through the platforms' APIs, off the recorded network.
fn collect(loaded: &Loaded, outcome: &Outcome) -> FinalState {
    outcome.final_state.clone().unwrap_or_else(|| {
        let _ = loaded;
        FinalState::default()
    })
}

/// Gathers the final state in the run's runtime (called by the runner).
pub(crate) async fn final_state(loaded: &Loaded, world: &crate::world::RunWorld) -> FinalState {
    let (t, urls) = world.quiet_network();
    let key = world.api_key();
    let client = |url: &str| ApiClient::new(Arc::clone(&t), url, key);
    let (pos, shop, pay) = (client(&urls[0]), client(&urls[1]), client(&urls[2]));
    let mut state = FinalState::default();
    let m = &loaded.scenario.merchant;
    for item in &m.catalog {
        let sku = item.sku.get_ref();
        for loc in &m.locations {
            let id = loc.id.get_ref();
            if item.on_shop
                && let Ok(level) = shop
                    .get::<serde_json::Value>(&format!("/v1/inventory/{sku}?location={id}"))
                    .await
            {
                state.shop_levels.insert(format!("{sku}@{id}"), level);
            }
            if item.on_pos
                && loc.kind == crate::scenario::LocationKindSpec::Store
                && let Ok(count) = pos
                    .get::<serde_json::Value>(&format!("/v1/inventory/{sku}?location={id}"))
                    .await
            {
                state.pos_counts.insert(
                    format!("{sku}@{id}"),
                    count["quantity"].as_i64().unwrap_or(0),
                );
            }
        }
        if let Ok(p) = shop
            .get::<serde_json::Value>(&format!("/v1/products/{sku}"))
            .await
        {
            state.products.insert(sku.clone(), p);
        }
        if let Ok(i) = pos
            .get::<serde_json::Value>(&format!("/v1/items/{sku}"))
            .await
        {
            state.items.insert(sku.clone(), i);
        }
    }
    if let Ok(orders) = shop.get::<serde_json::Value>("/v1/orders").await {
        state.orders = orders["data"].as_array().cloned().unwrap_or_default();
    }
    for o in &state.orders {
        if let Some(id) = o["id"].as_str()
            && !o["pickup_location"].is_null()
            && let Ok(p) = pos
                .get::<serde_json::Value>(&format!("/v1/pickups/{id}"))
                .await
        {
            state.pickups.insert(id.to_owned(), p);
        }
    }
    for (api, into) in [
        (&shop, &mut state.shop_customers),
        (&pos, &mut state.pos_customers),
    ] {
        if let Ok(list) = api.get::<serde_json::Value>("/v1/customers").await {
            *into = list["data"].as_array().cloned().unwrap_or_default();
        }
    }
    for (name, api) in [("pos", &pos), ("shop", &shop), ("pay", &pay)] {
        if let Ok(record) = api
            .get::<omnisim_api::common::ThrottleRecord>("/_control/throttle")
            .await
            && record.refused > 0
        {
            state.throttle.insert(name.to_owned(), record);
        }
    }
    if let Ok(cards) = pay.get::<serde_json::Value>("/v1/gift_cards").await {
        state.gift_cards = cards["data"].as_array().cloned().unwrap_or_default();
    }
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/payment_intents?limit=100&starting_after={a}"),
            None => "/v1/payment_intents?limit=100".to_owned(),
        };
        let Ok(page) = pay.get::<serde_json::Value>(&path).await else {
            break;
        };
        let data = page["data"].as_array().cloned().unwrap_or_default();
        after = data
            .last()
            .and_then(|i| i["id"].as_str())
            .map(str::to_owned);
        state.intents.extend(data);
        if page["has_more"].as_bool() != Some(true) || after.is_none() {
            break;
        }
    }
    state
}

fn judge(
    loaded: &Loaded,
    outcome: Outcome,
    state: FinalState,
    wall_ms: u64,
    buffer: i64,
) -> Judged {
    let (result, timeline) = {
        // Borrowed, not copied; released before `to_jsonl` takes the lock.
        let entries = outcome.history.lock_entries();
        let result = verdict(loaded, &outcome, &entries, &state, wall_ms, buffer);
        let timeline = crate::timeline::derive(loaded, &entries, &witnessed(&result));
        (result, timeline)
    };
    Judged {
        result,
        history_jsonl: outcome.history.to_jsonl(),
        timeline,
    }
}

/// A run's verdict and its history, without what only reports need (the
/// timeline and the JSON Lines text): what exploration judges thousands of
/// cases by.
#[derive(Debug)]
pub struct Verdict {
    /// The result as `results.json` shows it.
    pub result: ScenarioResult,
    /// The history (`to_jsonl` gives the bytes `run` saves).
    pub history: crate::history::History,
}

/// Runs one loaded scenario with `strategy` and judges it, for exploration.
pub fn run_verdict(loaded: &Loaded, seed: u64, strategy: omnisim_engine::Strategy) -> Verdict {
    let buffer = strategy.buffer;
    let outcome = runner::run_with(loaded, seed, strategy);
    let state = collect(loaded, &outcome);
    let result = {
        let entries = outcome.history.lock_entries();
        verdict(loaded, &outcome, &entries, &state, 0, buffer)
    };
    Verdict {
        result,
        history: outcome.history,
    }
}

/// The checks and the expectation over one run.
fn verdict(
    loaded: &Loaded,
    outcome: &Outcome,
    entries: &[crate::history::Entry],
    state: &FinalState,
    wall_ms: u64,
    buffer: i64,
) -> ScenarioResult {
    let truth = crate::truth::compute(loaded, entries);
    let input = Input {
        loaded,
        history: entries,
        state,
        truth: &truth,
        buffer,
        ended: outcome.ended,
    };
    let mut checks: Vec<CheckResult> = crate::checkers::run_all(&input);
    let expect = &loaded.scenario.expect;
    let must_fail: Vec<String> = expect
        .fails
        .iter()
        .map(|f| f.get_ref().clone())
        .chain(expect.oversold.as_ref().map(|_| "no_oversell".to_owned()))
        .collect();
    let mut reasons = Vec::new();
    for c in &mut checks {
        c.expected_to_fail = must_fail.contains(&c.name);
        match (c.status, c.expected_to_fail) {
            (Status::Fail, false) => reasons.push(format!(
                "{}: {}",
                c.name,
                c.violations
                    .first()
                    .map_or("failed", |v| v.message.as_str())
            )),
            (Status::Pass, true) => reasons.push(format!("{}: expected to fail, but held", c.name)),
            _ => {}
        }
    }
    if let Some(want) = &expect.oversold {
        let mut got: BTreeMap<String, i64> = BTreeMap::new();
        for o in &truth.oversells {
            *got.entry(o.sku.clone()).or_insert(0) += o.units;
        }
        if &got != want.get_ref() {
            let units = |m: &BTreeMap<String, i64>| {
                if m.is_empty() {
                    "nothing".to_owned()
                } else {
                    m.iter()
                        .map(|(sku, n)| format!("{sku} = {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            reasons.push(format!(
                "expected oversold {}, got {}",
                units(want.get_ref()),
                units(&got)
            ));
        }
    }
    reasons.extend(outcome.step_problems.iter().cloned());
    let status = if reasons.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    let file = loaded.file.display().to_string();
    ScenarioResult {
        name: loaded.scenario.name.clone(),
        file: file.clone(),
        tags: loaded.scenario.tags.clone(),
        status,
        seed: outcome.seed,
        sim_span_ms: (outcome.ended - outcome.started).num_milliseconds(),
        wall_ms,
        checks,
        reasons,
        step_problems: outcome.step_problems.clone(),
        engine_errors: outcome
            .engine_errors
            .iter()
            .map(|e| serde_json::to_value(e).unwrap_or_default())
            .collect(),
        reproduce: format!(
            "omnisim replay {} --seed {}",
            shell_quote(&file),
            outcome.seed
        ),
    }
}

/// Every history index the checks cite as a witness.
pub fn witnessed(result: &ScenarioResult) -> Vec<u64> {
    result
        .checks
        .iter()
        .flat_map(|c| &c.violations)
        .flat_map(|v| &v.witnesses)
        .map(|w| w.index)
        .collect()
}

/// The JSON Schema of the scenario format, as `scenarios/schema.json` holds it.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(crate::scenario::Scenario);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Quotes a path for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Loads every file, returning all validation errors together.
pub fn load_all(files: &[PathBuf]) -> Result<Vec<Loaded>, Vec<ScenarioError>> {
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match validate::load(f) {
            Ok(l) => loaded.push(l),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(errors)
    }
}
