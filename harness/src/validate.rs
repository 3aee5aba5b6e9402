//! Loading a scenario file: TOML syntax and shape errors, then meaning,
//! each reported as `file:line:column: message` with a hint.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};

use crate::scenario::{LocationKindSpec, Scenario, Spanned, Step};

/// The checks a run judges, by name.
pub const CHECKS: [&str; 7] = [
    "no_oversell",
    "stock_converges",
    "ledger_reconciles",
    "exactly_once",
    "returns_restock",
    "catalog_parity",
    "sync_latency",
];

/// Actors and the actions each may take.
pub const ACTIONS: [(&str, &[&str]); 5] = [
    ("shop", &["checkout", "cancel"]),
    (
        "pos",
        &[
            "sale", "return", "pickup", "no_show", "count", "receive", "waste",
        ],
    ),
    (
        "staff",
        &[
            "fulfil", "cancel", "refund", "capture", "price", "tax", "pause", "resume", "adjust",
        ],
    ),
    ("pay", &["void", "refund"]),
    (
        "nemesis",
        &[
            "faults",
            "clear",
            "crash",
            "restart",
            "forge",
            "replay",
            "partition",
            "rotate",
        ],
    ),
];

/// A problem in a scenario file, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// A scenario that passed validation, with its derived values.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// Where it came from.
    pub file: PathBuf,
    /// The file as written.
    pub scenario: Scenario,
    /// The business day.
    pub date: NaiveDate,
    /// When the business opens (offset from midnight).
    pub opens: Duration,
    /// When each step happens (offset from midnight), in order.
    pub step_times: Vec<Duration>,
    /// How long the world settles after the last step.
    pub settle: Duration,
}

/// 1-based line and column (in characters, as editors count) of a byte offset.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

struct Checker<'a> {
    file: &'a Path,
    src: &'a str,
    errors: Vec<ScenarioError>,
}

impl Checker<'_> {
    fn at(&mut self, span: Range<usize>, message: impl Into<String>, hint: Option<String>) {
        let (line, column) = line_col(self.src, span.start);
        self.errors.push(ScenarioError {
            file: self.file.to_owned(),
            line,
            column,
            message: message.into(),
            hint,
        });
    }
}

/// Parses `90s`, `15m`, `2h`, `8d`, `250ms` (also `1h30m`, `1d12h`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "d" => Duration::from_secs(n * 86_400),
            _ => return None,
        };
        total += part;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// Parses `10:03` or `10:03:30` into an offset from midnight.
pub fn parse_clock(s: &str) -> Option<Duration> {
    let t = NaiveTime::parse_from_str(s, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()?;
    Some(Duration::from_secs(u64::from(
        chrono::Timelike::num_seconds_from_midnight(&t),
    )))
}

fn fmt_clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Loads and validates one scenario file.
pub fn load(file: &Path) -> Result<Loaded, Vec<ScenarioError>> {
    let src = std::fs::read_to_string(file).map_err(|e| {
        vec![ScenarioError {
            file: file.to_owned(),
            line: 1,
            column: 1,
            message: format!("cannot read the file: {e}"),
            hint: None,
        }]
    })?;
    load_str(file, &src)
}

/// Loads and validates scenario text, naming it `file` in errors.
pub fn load_str(file: &Path, src: &str) -> Result<Loaded, Vec<ScenarioError>> {
    let scenario: Scenario = toml::from_str(src).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(src, s.start));
        let message = e.message().trim().to_owned();
        let hint = if message.starts_with("unknown field") {
            Some(unknown_key_hint(&message))
        } else {
            None
        };
        vec![ScenarioError {
            file: file.to_owned(),
            line,
            column,
            message,
            hint,
        }]
    })?;
    let mut c = Checker {
        file,
        src,
        errors: Vec::new(),
    };
    let loaded = check(&mut c, scenario);
    if c.errors.is_empty() {
        Ok(loaded.expect("no errors means a loaded scenario"))
    } else {
        c.errors.sort_by_key(|e| (e.line, e.column));
        Err(c.errors)
    }
}

/// `unknown field `custmer`, expected one of `at`, `customer`, …` → a hint
/// naming the closest key.
fn unknown_key_hint(message: &str) -> String {
    let mut quoted = message.split('`').skip(1).step_by(2);
    let Some(unknown) = quoted.next() else {
        return String::new();
    };
    let closest = quoted
        .map(|k| (strsim::damerau_levenshtein(unknown, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min();
    match closest {
        Some((_, k)) => format!("did you mean `{k}`? (scenarios/README.md lists every key)"),
        None => "see scenarios/README.md or scenarios/schema.json for the keys each table takes"
            .to_owned(),
    }
}

fn duration_of(
    c: &mut Checker<'_>,
    v: &Option<Spanned<String>>,
    default: Duration,
    what: &str,
) -> Duration {
    match v {
        None => default,
        Some(s) => parse_duration(s.get_ref()).unwrap_or_else(|| {
            c.at(
                s.span(),
                format!("`{}` is not a duration for {what}", s.get_ref()),
                Some("write it like 90s, 15m, 2h, 8d or 1h30m".into()),
            );
            default
        }),
    }
}

fn check(c: &mut Checker<'_>, scenario: Scenario) -> Option<Loaded> {
    let date = match &scenario.date {
        None => NaiveDate::from_ymd_opt(2026, 3, 2).expect("a valid date"),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap_or_else(|_| {
            c.at(
                0..0,
                format!("`{d}` is not a date"),
                Some("write it as YYYY-MM-DD".into()),
            );
            NaiveDate::from_ymd_opt(2026, 3, 2).expect("a valid date")
        }),
    };
    let opens = match &scenario.opens {
        None => Duration::from_secs(9 * 3600),
        Some(o) => parse_clock(o.get_ref()).unwrap_or_else(|| {
            c.at(
                o.span(),
                format!("`{}` is not a time of day", o.get_ref()),
                Some("write it like 09:00".into()),
            );
            Duration::from_secs(9 * 3600)
        }),
    };
    let settle = duration_of(c, &scenario.settle, Duration::from_secs(30 * 60), "settle");
    duration_of(c, &scenario.sla.stock, Duration::ZERO, "sla.stock");
    duration_of(c, &scenario.sla.catalog, Duration::ZERO, "sla.catalog");
    check_defects(c, &scenario);

    // Locations.
    let mut locations: BTreeMap<String, LocationKindSpec> = BTreeMap::new();
    for l in &scenario.merchant.locations {
        let id = l.id.get_ref();
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            c.at(
                l.id.span(),
                format!("`{id}` is not a valid location id"),
                Some("use letters, digits, `-` and `_`".into()),
            );
        }
        if locations.insert(id.clone(), l.kind).is_some() {
            c.at(
                l.id.span(),
                format!("location `{id}` is declared twice"),
                None,
            );
        }
    }
    if locations.is_empty() {
        c.at(
            0..0,
            "the merchant has no locations",
            Some(
                "add `locations = [{ id = \"store-1\", kind = \"store\" }]` under [merchant]"
                    .into(),
            ),
        );
    }
    let stores: BTreeSet<&String> = locations
        .iter()
        .filter(|(_, k)| **k == LocationKindSpec::Store)
        .map(|(id, _)| id)
        .collect();

    // Catalog.
    let mut skus = BTreeSet::new();
    for item in &scenario.merchant.catalog {
        let sku = item.sku.get_ref();
        if sku.is_empty() {
            c.at(item.sku.span(), "a SKU cannot be empty", None);
        }
        if !skus.insert(sku.clone()) {
            c.at(
                item.sku.span(),
                format!("SKU `{sku}` is listed twice"),
                Some(
                    "each SKU appears once; use `on_pos`/`on_shop` to list it on one platform only"
                        .into(),
                ),
            );
        }
        if item.price < rust_decimal::Decimal::ZERO {
            c.at(
                item.sku.span(),
                format!("`{sku}` has a negative price"),
                None,
            );
        }
        for (loc, qty) in &item.stock {
            if !locations.contains_key(loc) {
                c.at(
                    item.sku.span(),
                    format!("`{sku}` stocks unknown location `{loc}`"),
                    Some(known("locations", locations.keys())),
                );
            }
            if *qty < 0 {
                c.at(
                    item.sku.span(),
                    format!("`{sku}` starts with negative stock at `{loc}`"),
                    None,
                );
            }
        }
    }

    // Steps.
    let actions: BTreeMap<&str, &[&str]> = ACTIONS.into_iter().collect();
    let mut times = Vec::with_capacity(scenario.steps.len());
    let mut now = opens;
    let mut names: BTreeSet<String> = BTreeSet::new();
    for step in &scenario.steps {
        now = step_time(c, step, now);
        times.push(now);
        let actor = step.actor.get_ref().as_str();
        let action = step.action.get_ref().as_str();
        check_references(c, step, &skus, &locations, &names);
        match actions.get(actor) {
            None => c.at(
                step.actor.span(),
                format!("unknown actor `{actor}`"),
                Some(known("actors", actions.keys())),
            ),
            Some(allowed) if !allowed.contains(&action) => c.at(
                step.action.span(),
                format!("`{actor}` cannot `{action}`"),
                Some(known(&format!("actions of `{actor}`"), allowed.iter())),
            ),
            Some(_) => check_step(c, step, &locations, &stores),
        }
        if let Some(n) = step.customer.clone().or_else(|| step.name.clone()) {
            names.insert(n);
        }
    }

    // Expectations.
    if let Some(over) = &scenario.expect.oversold {
        for sku in over.get_ref().keys() {
            if !skus.contains(sku) {
                c.at(
                    over.span(),
                    format!("`expect.oversold` names unknown SKU `{sku}`"),
                    Some(known("SKUs", skus.iter())),
                );
            }
        }
    }
    for f in &scenario.expect.fails {
        if !CHECKS.contains(&f.get_ref().as_str()) {
            c.at(
                f.span(),
                format!("there is no check `{}`", f.get_ref()),
                Some(known("checks", CHECKS.iter())),
            );
        }
    }
    Some(Loaded {
        file: c.file.to_owned(),
        scenario,
        date,
        opens,
        step_times: times,
        settle,
    })
}

fn step_time(c: &mut Checker<'_>, step: &Step, prev: Duration) -> Duration {
    match (&step.at, &step.after) {
        (Some(a), Some(_)) => {
            c.at(a.span(), "a step has `at` or `after`, not both", None);
            prev
        }
        (Some(a), None) => match parse_clock(a.get_ref()) {
            Some(t) if t < prev => {
                c.at(
                    a.span(),
                    format!(
                        "time goes backwards: {} is before the previous step at {}",
                        a.get_ref(),
                        fmt_clock(prev)
                    ),
                    Some("steps run in file order; sort them by time".into()),
                );
                prev
            }
            Some(t) => t,
            None => {
                c.at(
                    a.span(),
                    format!("`{}` is not a time of day", a.get_ref()),
                    Some("write it like 10:03 or 10:03:30".into()),
                );
                prev
            }
        },
        (None, Some(d)) => match parse_duration(d.get_ref()) {
            Some(d) => prev + d,
            None => {
                c.at(
                    d.span(),
                    format!("`{}` is not a duration", d.get_ref()),
                    Some("write it like 90s, 4m or 1h".into()),
                );
                prev
            }
        },
        (None, None) => prev,
    }
}

fn known<'a, T: fmt::Display + 'a>(what: &str, items: impl Iterator<Item = T>) -> String {
    let list: Vec<String> = items.map(|i| format!("`{i}`")).collect();
    format!("known {what}: {}", list.join(", "))
}

/// Checks what a step names (SKUs, locations, earlier steps, targets),
/// whatever its actor and action.
fn check_references(
    c: &mut Checker<'_>,
    step: &Step,
    skus: &BTreeSet<String>,
    locations: &BTreeMap<String, LocationKindSpec>,
    names: &BTreeSet<String>,
) {
    if let Some(lines) = &step.lines {
        if lines.get_ref().is_empty() {
            c.at(lines.span(), "`lines` is empty", None);
        }
        for (sku, qty) in lines.get_ref() {
            if !skus.contains(sku) {
                c.at(
                    lines.span(),
                    format!("unknown SKU `{sku}`"),
                    Some(known("SKUs", skus.iter())),
                );
            }
            if *qty < 1 {
                c.at(
                    lines.span(),
                    format!("`{sku}` has quantity {qty}; quantities are at least 1"),
                    None,
                );
            }
        }
    }
    if let Some(sku) = &step.sku
        && !skus.contains(sku.get_ref())
    {
        c.at(
            sku.span(),
            format!("unknown SKU `{}`", sku.get_ref()),
            Some(known("SKUs", skus.iter())),
        );
    }
    for loc in [&step.location, &step.pickup_location]
        .into_iter()
        .flatten()
    {
        if !locations.contains_key(loc.get_ref()) {
            c.at(
                loc.span(),
                format!("unknown location `{}`", loc.get_ref()),
                Some(known("locations", locations.keys())),
            );
        }
    }
    for r in [&step.order, &step.sale].into_iter().flatten() {
        if !names.contains(r.get_ref()) {
            c.at(
                r.span(),
                format!("no earlier step is named `{}`", r.get_ref()),
                Some("refer to a customer or a `name` given by an earlier step".into()),
            );
        }
    }
    if let Some(t) = &step.target
        && !["pos", "shop", "pay"].contains(&t.get_ref().as_str())
    {
        c.at(
            t.span(),
            format!("unknown target `{}`", t.get_ref()),
            Some("targets are `pos`, `shop` and `pay`".into()),
        );
    }
}

/// Deliberate engine defects are for testing the suite: only a scenario
/// tagged `defect` may switch them on, and each must exist.
fn check_defects(c: &mut Checker<'_>, scenario: &Scenario) {
    let tagged = scenario.tags.iter().any(|t| t == "defect");
    for d in &scenario.connector.engine.defects {
        if !tagged {
            c.at(
                d.span(),
                "`defects` is only for scenarios tagged `defect`",
                Some("it switches on deliberate bugs in the reference engine".into()),
            );
        } else if d.get_ref().parse::<omnisim_engine::Defect>().is_err() {
            c.at(
                d.span(),
                format!("there is no defect `{}`", d.get_ref()),
                Some(known(
                    "defects",
                    omnisim_engine::Defect::ALL.iter().map(|d| d.name()),
                )),
            );
        }
    }
}

/// Checks the fields an action needs.
fn check_step(
    c: &mut Checker<'_>,
    step: &Step,
    locations: &BTreeMap<String, LocationKindSpec>,
    stores: &BTreeSet<&String>,
) {
    let actor = step.actor.get_ref().as_str();
    let action = step.action.get_ref().as_str();
    let here = step.action.span();
    let need = |c: &mut Checker<'_>, present: bool, field: &str| {
        if !present {
            c.at(
                here.clone(),
                format!("`{actor}` `{action}` needs `{field}`"),
                None,
            );
        }
    };
    match (actor, action) {
        ("shop", "checkout") => need(c, step.lines.is_some(), "lines"),
        ("shop" | "staff", "cancel")
        | ("staff", "fulfil" | "capture")
        | ("pos", "pickup" | "no_show")
        | ("pay", "void") => need(c, step.order.is_some(), "order"),
        ("staff" | "pay", "refund") => need(c, step.order.is_some(), "order"),
        ("pos", "sale") => {
            need(c, step.lines.is_some(), "lines");
            need(c, step.location.is_some(), "location");
            if let Some(l) = &step.location
                && locations.contains_key(l.get_ref())
                && !stores.contains(l.get_ref())
            {
                c.at(
                    l.span(),
                    format!(
                        "`{}` is not a store: the POS sells only in stores",
                        l.get_ref()
                    ),
                    None,
                );
            }
        }
        ("pos", "return") => {
            need(c, step.lines.is_some(), "lines");
            need(c, step.location.is_some(), "location");
        }
        ("pos", "count" | "receive" | "waste") => {
            need(c, step.sku.is_some(), "sku");
            need(c, step.location.is_some(), "location");
            need(c, step.quantity.is_some(), "quantity");
        }
        ("staff", "price") => {
            need(c, step.sku.is_some(), "sku");
            need(c, step.price.is_some(), "price");
        }
        ("staff", "tax") => need(c, step.sku.is_some(), "sku"),
        ("staff", "pause" | "resume") => need(c, step.sku.is_some(), "sku"),
        ("staff", "adjust") => {
            need(c, step.sku.is_some(), "sku");
            need(c, step.location.is_some(), "location");
            need(c, step.quantity.is_some(), "quantity");
        }
        ("nemesis", "faults" | "rotate") => need(c, step.target.is_some(), "target"),
        ("nemesis", "partition") => {
            need(c, step.target.is_some(), "target");
            need(c, step.duration.is_some(), "duration");
        }
        ("nemesis", "forge") => {
            need(c, step.target.is_some(), "target");
            need(c, step.sku.is_some(), "sku");
            need(c, step.location.is_some(), "location");
        }
        ("nemesis", "replay") => {
            need(c, step.target.is_some(), "target");
            need(c, step.sku.is_some(), "sku");
            need(c, step.location.is_some(), "location");
            if let Some(t) = &step.target
                && t.get_ref() == "pos"
            {
                c.at(
                    t.span(),
                    "the POS signs no timestamp: a replay targets `shop` or `pay`",
                    None,
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "last unit"
[merchant]
locations = [{ id = "store-1", kind = "store" }]
[[merchant.catalog]]
sku = "MUG-RED"
title = "Red mug"
price = "12.50"
stock = { "store-1" = 1 }
[[step]]
at = "10:03"
actor = "shop"
action = "checkout"
customer = "ana"
lines = { MUG-RED = 1 }
pickup_location = "store-1"
[[step]]
after = "4m"
actor = "pos"
action = "sale"
location = "store-1"
lines = { MUG-RED = 1 }
[expect]
oversold = { MUG-RED = 1 }
"#;

    fn errors(src: &str) -> Vec<String> {
        load_str(Path::new("t.toml"), src)
            .err()
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_good_file_loads_with_step_times() {
        let l = load_str(Path::new("t.toml"), GOOD).unwrap();
        assert_eq!(
            l.step_times,
            [
                Duration::from_secs(10 * 3600 + 180),
                Duration::from_secs(10 * 3600 + 420)
            ]
        );
        assert_eq!(l.opens, Duration::from_secs(9 * 3600));
    }

    #[test]
    fn unknown_keys_name_line_and_column() {
        let e = errors(&GOOD.replace("customer = \"ana\"", "customr = \"ana\""));
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("t.toml:14:1: unknown field `customr`"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn meaning_errors_point_at_the_value() {
        let e = errors(&GOOD.replace(
            "lines = { MUG-RED = 1 }\npickup",
            "lines = { MUG-BLUE = 1 }\npickup",
        ));
        assert!(
            e[0].starts_with("t.toml:15:9: unknown SKU `MUG-BLUE`"),
            "{e:?}"
        );
        let e = errors(&GOOD.replace("after = \"4m\"", "at = \"09:00\""));
        assert!(e[0].contains("time goes backwards"), "{e:?}");
        let e = errors(&GOOD.replace("actor = \"pos\"", "actor = \"clerk\""));
        assert!(e[0].contains("unknown actor `clerk`"), "{e:?}");
        let e = errors(&GOOD.replace("oversold = { MUG-RED = 1 }", "fails = [\"no_overselling\"]"));
        assert!(e[0].contains("there is no check `no_overselling`"), "{e:?}");
        let e = errors(&GOOD.replace(
            "location = \"store-1\"\nlines",
            "location = \"store-9\"\nlines",
        ));
        assert!(e[0].contains("unknown location `store-9`"), "{e:?}");
    }

    #[test]
    fn durations_and_clocks_parse() {
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("8d"), Some(Duration::from_secs(8 * 86_400)));
        assert_eq!(
            parse_duration("1d12h"),
            Some(Duration::from_secs(36 * 3600))
        );
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_clock("10:03:30"), Some(Duration::from_secs(36210)));
        assert_eq!(parse_clock("25:00"), None);
    }
}
