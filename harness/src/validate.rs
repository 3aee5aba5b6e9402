//! Loading a scenario file: TOML syntax and shape errors, then meaning,
//! each reported as `file:line:column: message` with a hint.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};

use omnisim_api::common::{Faults, fits_currency, is_currency_code};
use omnisim_api::pay::PaymentMethod;
use omnisim_api::pos::TenderRequest;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;

use crate::scenario::{EngineSpec, LocationKindSpec, Network, Scenario, Spanned, Step};

/// The checks a run judges, by name.
pub const CHECKS: [&str; 11] = [
    "no_oversell",
    "stock_converges",
    "ledger_reconciles",
    "exactly_once",
    "returns_restock",
    "catalog_parity",
    "sync_latency",
    "pickups_follow_orders",
    "customers_converge",
    "promotions_agree",
    "honours_retry_after",
];

/// Actors and the actions each may take.
pub const ACTIONS: [(&str, &[&str]); 5] = [
    (
        "shop",
        &[
            "checkout",
            "cancel",
            "signup",
            "consent",
            "profile",
            "gift_card",
        ],
    ),
    (
        "pos",
        &[
            "sale", "return", "pickup", "no_show", "count", "receive", "waste", "signup",
            "consent", "profile",
        ],
    ),
    (
        "staff",
        &[
            "fulfil",
            "cancel",
            "refund",
            "capture",
            "price",
            "tax",
            "pause",
            "resume",
            "adjust",
            "promote",
            "change_promotion",
            "end_promotion",
        ],
    ),
    ("pay", &["void", "refund", "balance"]),
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
    /// Where `key` is written in the table that holds byte `inside` (a
    /// `[header]` table up to the next header, or the inline table around
    /// it), for values that keep no position of their own; else `inside`.
    fn key_near(&self, inside: usize, key: &str) -> Range<usize> {
        let src = self.src;
        let inside = inside.min(src.len());
        let start = src[..inside]
            .match_indices('\n')
            .map(|(i, _)| i + 1)
            .rfind(|&i| src[i..].trim_start().starts_with('['))
            .unwrap_or(0);
        let end = src[inside..]
            .match_indices('\n')
            .map(|(i, _)| inside + i + 1)
            .find(|&i| src[i..].trim_start().starts_with('['))
            .unwrap_or(src.len());
        let mut at = start;
        while let Some(i) = src[at..end].find(key) {
            let k = at + i;
            let before_ok = k == 0
                || !src[..k]
                    .chars()
                    .next_back()
                    .is_some_and(|ch| ch.is_ascii_alphanumeric() || ch == '_');
            let after = src[k + key.len()..end].trim_start_matches([' ', '\t']);
            let line_start = src[..k].rfind('\n').map_or(0, |n| n + 1);
            let commented = src[line_start..k].contains('#');
            if before_ok && !commented && after.starts_with('=') {
                return k..k + key.len();
            }
            at = k + key.len();
        }
        inside..inside
    }

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
                format!("`{what} = \"{}\"` is not a duration", s.get_ref()),
                Some("write it like 90s, 15m, 2h, 8d or 1h30m".into()),
            );
            default
        }),
    }
}

fn check(c: &mut Checker<'_>, scenario: Scenario) -> Option<Loaded> {
    let date = match &scenario.date {
        None => NaiveDate::from_ymd_opt(2026, 3, 2).expect("a valid date"),
        Some(d) => NaiveDate::parse_from_str(d.get_ref(), "%Y-%m-%d").unwrap_or_else(|_| {
            c.at(
                d.span(),
                format!("`{}` is not a date", d.get_ref()),
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
    check_connector(c, &scenario.connector.engine);
    check_network(c, &scenario.network);
    check_defects(c, &scenario);
    check_catalog_master(c, &scenario);

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
        let here = item.sku.span().start;
        if item.price < Decimal::ZERO {
            c.at(
                c.key_near(here, "price"),
                format!("`{sku}` has a negative price"),
                None,
            );
        }
        let at = c.key_near(here, "currency");
        check_currency(c, at, &item.currency, item.price, sku);
        if let Some(st) = &item.status
            && !["active", "paused"].contains(&st.as_str())
        {
            c.at(
                c.key_near(here, "status"),
                format!("`{sku}` has status `{st}`"),
                Some("a status is `active` or `paused`".into()),
            );
        }
        for (loc, qty) in &item.stock {
            if !locations.contains_key(loc) {
                c.at(
                    c.key_near(here, "stock"),
                    format!("`{sku}` stocks unknown location `{loc}`"),
                    Some(known("locations", locations.keys())),
                );
            }
            if *qty < 0 {
                c.at(
                    c.key_near(here, "stock"),
                    format!("`{sku}` starts with negative stock at `{loc}`"),
                    None,
                );
            }
        }
    }

    check_money_setup(c, &scenario);

    // Steps.
    let actions: BTreeMap<&str, &[&str]> = ACTIONS.into_iter().collect();
    let mut times = Vec::with_capacity(scenario.steps.len());
    let mut now = opens;
    let mut names: BTreeSet<String> = BTreeSet::new();
    // The people signed up so far, by normalized email and phone.
    let mut people: BTreeSet<String> = BTreeSet::new();
    // The promotions defined so far: whether each takes a percentage off.
    let mut promotions: BTreeMap<String, bool> = BTreeMap::new();
    for step in &scenario.steps {
        now = step_time(c, step, now);
        check_promotion_kind(c, step, &mut promotions);
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
            Some(_) => {
                check_fields(c, step);
                check_step(c, step, &locations, &stores);
            }
        }
        check_values(c, step);
        check_person(c, step, &mut people);
        if let Some(n) = step.customer.clone().or_else(|| step.name.clone()) {
            names.insert(n);
        }
    }

    // Expectations.
    if let Some(over) = &scenario.expect.oversold {
        for (sku, units) in over.get_ref() {
            if !skus.contains(sku) {
                c.at(
                    over.span(),
                    format!("`expect.oversold` names unknown SKU `{sku}`"),
                    Some(known("SKUs", skus.iter())),
                );
            }
            if *units < 1 {
                c.at(
                    over.span(),
                    format!("`expect.oversold` expects {units} units of `{sku}`; write at least 1, or leave the SKU out"),
                    None,
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
    if let Some(w) = &step.wire
        && !["native", "shopify"].contains(&w.get_ref().as_str())
    {
        c.at(
            w.span(),
            format!("unknown wire `{}`", w.get_ref()),
            Some("wires are `native` and `shopify`".into()),
        );
    }
}

/// Each catalog master names a system: `shop`, `pos` or `both`.
fn check_catalog_master(c: &mut Checker<'_>, scenario: &Scenario) {
    let m = &scenario.merchant.catalog_master;
    for (field, v) in [("price", &m.price), ("tax_code", &m.tax_code)] {
        // The engine's own parser: one list of owners for flags and files.
        if let Some(v) = v
            && v.get_ref().parse::<omnisim_engine::Master>().is_err()
        {
            c.at(
                v.span(),
                format!(
                    "`catalog_master.{field}` is `{}`: the owner of a field is `shop`, `pos` or `both`",
                    v.get_ref()
                ),
                Some("for example catalog_master = { price = \"pos\" }".into()),
            );
        }
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
        ("staff", "refund") => {
            need(c, step.order.is_some(), "order");
            need(c, step.lines.is_some(), "lines");
        }
        ("pay", "refund") => need(c, step.order.is_some(), "order"),
        ("shop", "gift_card") => {
            need(c, step.code.is_some(), "code");
            need(c, step.amount.is_some(), "amount");
        }
        ("pay", "balance") => {
            need(c, step.code.is_some(), "code");
            need(c, step.balance.is_some(), "balance");
        }
        ("pos", "sale") => {
            need(
                c,
                step.lines.is_some() || step.gift_cards.is_some(),
                "lines` or `gift_cards",
            );
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
            if let Some(credit) = &step.credit
                && step
                    .refund_to
                    .as_deref()
                    .is_some_and(|r| r != "store_credit")
            {
                c.at(
                    credit.span(),
                    "`credit` names the gift card a store-credit refund loads, but this return is not refunded as store credit",
                    Some("write refund_to = \"store_credit\" or leave `refund_to` out".into()),
                );
            }
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
        ("staff", "promote") => {
            need(c, step.promotion.is_some(), "promotion");
            need(
                c,
                step.percent_off.is_some() || step.amount_off.is_some(),
                "percent_off` or `amount_off",
            );
            check_promotion(c, step);
        }
        ("staff", "change_promotion") => {
            need(c, step.promotion.is_some(), "promotion");
            need(
                c,
                step.percent_off.is_some()
                    || step.amount_off.is_some()
                    || step.skus.is_some()
                    || step.starts.is_some()
                    || step.ends.is_some()
                    || step.active.is_some(),
                "percent_off`, `amount_off`, `skus`, `starts`, `ends` or `active",
            );
            check_promotion(c, step);
        }
        ("staff", "end_promotion") => {
            need(c, step.promotion.is_some(), "promotion");
            check_promotion(c, step);
        }
        ("staff", "pause" | "resume") => need(c, step.sku.is_some(), "sku"),
        ("staff", "adjust") => {
            need(c, step.sku.is_some(), "sku");
            need(c, step.location.is_some(), "location");
            need(c, step.quantity.is_some(), "quantity");
        }
        ("shop" | "pos", "signup") => {
            need(
                c,
                step.email.is_some() || step.phone.is_some(),
                "email` or `phone",
            );
            check_contact(c, step);
        }
        ("shop" | "pos", "consent") => {
            need(
                c,
                step.email.is_some() || step.phone.is_some(),
                "email` or `phone",
            );
            need(c, step.accepts_marketing.is_some(), "accepts_marketing");
            check_contact(c, step);
        }
        ("shop" | "pos", "profile") => {
            need(c, step.email.is_some(), "email");
            need(
                c,
                step.customer.is_some() || step.phone.is_some() || step.accepts_marketing.is_some(),
                "customer`, `phone` or `accepts_marketing",
            );
            check_contact(c, step);
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

/// A `consent` or `profile` step finds someone who signed up earlier; a
/// `signup` (and a `profile`'s new phone) makes them findable.
fn check_person(c: &mut Checker<'_>, step: &Step, people: &mut BTreeSet<String>) {
    use omnisim_api::customer::{normalize_email, normalize_phone};
    let actor = step.actor.get_ref().as_str();
    if actor != "shop" && actor != "pos" {
        return;
    }
    let email = step
        .email
        .as_ref()
        .map(|e| format!("e:{}", normalize_email(e.get_ref())));
    let phone = step
        .phone
        .as_ref()
        .map(|p| format!("p:{}", normalize_phone(p.get_ref())));
    match step.action.get_ref().as_str() {
        "signup" => people.extend(email.into_iter().chain(phone)),
        "consent" | "profile" => {
            let key = if step.action.get_ref() == "profile" {
                email.clone()
            } else {
                email.clone().or(phone.clone())
            };
            let (Some(key), Some(span)) = (
                key,
                step.email
                    .as_ref()
                    .or(step.phone.as_ref())
                    .map(Spanned::span),
            ) else {
                return;
            };
            if !people.contains(&key) {
                c.at(
                    span,
                    "no earlier `signup` has this email or phone",
                    Some(
                        "a `consent` or `profile` step finds a profile made by a `signup` step"
                            .into(),
                    ),
                );
            }
            if step.action.get_ref() == "profile" {
                people.extend(phone);
            }
        }
        _ => {}
    }
}

/// A customer step's email and phone are well formed, and its name fits.
fn check_contact(c: &mut Checker<'_>, step: &Step) {
    use omnisim_api::customer::{NAME_LEN_MAX, email_problem, phone_problem};
    if let Some(e) = &step.email
        && let Some(p) = email_problem(e.get_ref())
    {
        c.at(e.span(), p, None);
    }
    if let Some(ph) = &step.phone
        && let Some(p) = phone_problem(ph.get_ref())
    {
        c.at(ph.span(), p, None);
    }
    if let Some(n) = &step.customer
        && n.chars().count() > NAME_LEN_MAX
    {
        let here = c.key_near(step.action.span().start, "customer");
        c.at(
            here,
            format!("a customer's name is at most {NAME_LEN_MAX} characters"),
            None,
        );
    }
}

/// Checks a value is one of `allowed`.
fn one_of(c: &mut Checker<'_>, v: &Option<Spanned<String>>, what: &str, allowed: &[&str]) {
    if let Some(v) = v
        && !allowed.contains(&v.get_ref().as_str())
    {
        c.at(
            v.span(),
            format!("`{}` is not a {what}", v.get_ref()),
            Some(known(&format!("{what}s"), allowed.iter())),
        );
    }
}

/// The reference engine's strategy: every value the runner reads.
fn check_connector(c: &mut Checker<'_>, e: &EngineSpec) {
    one_of(c, &e.sync, "sync mode", &["webhook", "poll"]);
    one_of(
        c,
        &e.write,
        "write mode",
        &["adjust", "set", "compare_and_set"],
    );
    one_of(c, &e.reserve, "reserve mode", &["on_order", "on_capture"]);
    for (v, what) in [
        (&e.poll_every, "poll_every"),
        (&e.reconcile_every, "reconcile_every"),
    ] {
        if duration_of(c, v, Duration::from_secs(1), what).is_zero()
            && let Some(v) = v
        {
            c.at(v.span(), format!("`{what}` cannot be zero"), None);
        }
    }
    let sync = e.sync.as_ref().map_or("webhook", |s| s.get_ref().as_str());
    if let Some(p) = &e.poll_every
        && sync == "webhook"
    {
        c.at(
            p.span(),
            "`poll_every` is read only with `sync = \"poll\"`",
            Some("set `sync = \"poll\"`, or use `reconcile_every` with webhooks".into()),
        );
    }
    if let Some(b) = &e.buffer
        && *b.get_ref() < 0
    {
        c.at(
            b.span(),
            format!(
                "`connector.engine.buffer` is {}; a buffer is 0 or more units",
                b.get_ref()
            ),
            None,
        );
    }
}

/// `latency = "20ms..200ms"`.
fn check_network(c: &mut Checker<'_>, n: &Network) {
    let Some(l) = &n.latency else {
        return;
    };
    let text = l.get_ref();
    let (a, b) = text.split_once("..").unwrap_or((text, text));
    match (parse_duration(a), parse_duration(b)) {
        (Some(a), Some(b)) if a <= b => {}
        (Some(_), Some(_)) => c.at(
            l.span(),
            format!("`{text}` is a range from high to low"),
            Some("write the low end first, like 20ms..200ms".into()),
        ),
        _ => c.at(
            l.span(),
            format!("`{text}` is not a latency range"),
            Some("write it like 20ms..200ms, or 30ms for a fixed latency".into()),
        ),
    }
}

/// A currency the platforms take, and an amount that fits its minor unit.
fn check_currency(
    c: &mut Checker<'_>,
    at: Range<usize>,
    currency: &str,
    amount: Decimal,
    owner: &str,
) {
    if !is_currency_code(currency) {
        c.at(
            at,
            format!("`{owner}` has currency `{currency}`"),
            Some("a currency is an ISO 4217 code such as `USD`".into()),
        );
    } else if !fits_currency(amount, currency) {
        c.at(
            at,
            format!("`{owner}` has {amount} {currency}, finer than a {currency} minor unit"),
            None,
        );
    }
}

/// Tax rates, discounts and gift cards.
fn check_money_setup(c: &mut Checker<'_>, scenario: &Scenario) {
    let m = &scenario.merchant;
    for (platform, rates) in [("pos", &m.pos.tax_rates), ("shop", &m.shop.tax_rates)] {
        for (code, rate) in rates.get_ref() {
            let fraction = *rate >= Decimal::ZERO && *rate < Decimal::ONE;
            if !fraction || rate.normalize().scale() > 6 {
                c.at(
                    c.key_near(rates.span().start, code),
                    format!("merchant.{platform}.tax_rates: `{code}` is {rate}; a rate is a fraction from 0 up to 1 with at most 6 decimals, such as \"0.0825\""),
                    None,
                );
            }
        }
    }
    // Discounts and gift cards keep no positions: errors point at where
    // their code is written.
    let code_at = |c: &Checker<'_>, code: &str| {
        let quoted = format!("\"{code}\"");
        c.src.find(&quoted).map_or(0..0, |i| i..i + quoted.len())
    };
    for d in &m.discounts {
        let here = code_at(c, &d.code);
        match d.kind.as_str() {
            "percentage" if d.value <= Decimal::ZERO || d.value > Decimal::ONE_HUNDRED => c.at(
                here.clone(),
                format!(
                    "discount `{}` takes {}%; a percentage is above 0 and at most 100",
                    d.code, d.value
                ),
                None,
            ),
            "fixed_amount" if d.value <= Decimal::ZERO => c.at(
                here.clone(),
                format!(
                    "discount `{}` takes {}; an amount off is above 0",
                    d.code, d.value
                ),
                None,
            ),
            "percentage" | "fixed_amount" => {}
            other => c.at(
                here.clone(),
                format!("discount `{}` has kind `{other}`", d.code),
                Some("a discount's kind is `percentage` or `fixed_amount`".into()),
            ),
        }
    }
    for g in &m.gift_cards {
        let here = code_at(c, &g.code);
        if g.balance < Decimal::ZERO {
            c.at(
                here.clone(),
                format!("gift card `{}` has a negative balance", g.code),
                None,
            );
        }
        check_currency(
            c,
            here.clone(),
            &g.currency,
            g.balance,
            &format!("gift card {}", g.code),
        );
    }
}

/// The keys each action reads, besides `at`, `after`, `actor`, `action`,
/// `name` and `expect_error`, which every step takes. A key the runner would
/// ignore is an error: it says the writer expected something that will not
/// happen.
const FIELDS: [(&str, &str, &[&str]); 37] = [
    (
        "shop",
        "signup",
        &["customer", "email", "phone", "accepts_marketing"],
    ),
    ("shop", "consent", &["email", "phone", "accepts_marketing"]),
    (
        "shop",
        "profile",
        &["email", "customer", "phone", "accepts_marketing"],
    ),
    (
        "pos",
        "signup",
        &["customer", "email", "phone", "accepts_marketing"],
    ),
    ("pos", "consent", &["email", "phone", "accepts_marketing"]),
    (
        "pos",
        "profile",
        &["email", "customer", "phone", "accepts_marketing"],
    ),
    (
        "shop",
        "checkout",
        &[
            "lines",
            "customer",
            "payment",
            "discount_code",
            "pickup_location",
            "location",
            "channel",
        ],
    ),
    ("shop", "cancel", &["order", "restock", "customer"]),
    (
        "shop",
        "gift_card",
        &["customer", "code", "amount", "payment"],
    ),
    (
        "pos",
        "sale",
        &["location", "lines", "tenders", "customer", "gift_cards"],
    ),
    (
        "pos",
        "return",
        &[
            "location",
            "lines",
            "sale",
            "order",
            "restock",
            "refund_to",
            "credit",
        ],
    ),
    ("pos", "pickup", &["order", "location"]),
    ("pos", "count", &["sku", "location", "quantity"]),
    ("pos", "receive", &["sku", "location", "quantity"]),
    ("pos", "waste", &["sku", "location", "quantity"]),
    ("staff", "fulfil", &["order"]),
    ("staff", "cancel", &["order", "restock"]),
    (
        "staff",
        "refund",
        &["order", "lines", "location", "restock"],
    ),
    ("staff", "capture", &["order", "amount"]),
    ("staff", "price", &["sku", "price", "target", "tax_code"]),
    ("staff", "tax", &["sku", "tax_code", "target"]),
    ("staff", "pause", &["sku", "channel"]),
    ("staff", "resume", &["sku", "channel"]),
    ("staff", "adjust", &["sku", "location", "quantity", "wire"]),
    (
        "staff",
        "promote",
        &[
            "promotion",
            "percent_off",
            "amount_off",
            "skus",
            "starts",
            "ends",
        ],
    ),
    (
        "staff",
        "change_promotion",
        &[
            "promotion",
            "percent_off",
            "amount_off",
            "skus",
            "starts",
            "ends",
            "active",
        ],
    ),
    ("staff", "end_promotion", &["promotion", "ends"]),
    ("pay", "void", &["order"]),
    ("pay", "refund", &["order", "amount"]),
    ("pay", "balance", &["code", "balance"]),
    ("nemesis", "faults", &["target", "faults", "duration"]),
    ("nemesis", "clear", &["target"]),
    ("nemesis", "crash", &["duration"]),
    ("nemesis", "restart", &[]),
    (
        "nemesis",
        "forge",
        &["target", "sku", "location", "quantity"],
    ),
    ("nemesis", "partition", &["target", "duration"]),
    ("nemesis", "rotate", &["target", "duration"]),
];

/// The optional keys a step sets, with where each is (the action's place
/// for keys that keep no position of their own).
fn present(c: &Checker<'_>, step: &Step) -> Vec<(&'static str, Range<usize>)> {
    let here = step.action.span().start;
    let mut out = Vec::new();
    let mut push = |name: &'static str, set: bool, span: Option<Range<usize>>| {
        if set {
            out.push((name, span.unwrap_or_else(|| c.key_near(here, name))));
        }
    };
    push("customer", step.customer.is_some(), None);
    push(
        "email",
        step.email.is_some(),
        step.email.as_ref().map(Spanned::span),
    );
    push(
        "phone",
        step.phone.is_some(),
        step.phone.as_ref().map(Spanned::span),
    );
    push("accepts_marketing", step.accepts_marketing.is_some(), None);
    push("active", step.active.is_some(), None);
    push(
        "location",
        step.location.is_some(),
        step.location.as_ref().map(Spanned::span),
    );
    push(
        "pickup_location",
        step.pickup_location.is_some(),
        step.pickup_location.as_ref().map(Spanned::span),
    );
    push(
        "lines",
        step.lines.is_some(),
        step.lines.as_ref().map(Spanned::span),
    );
    push(
        "sku",
        step.sku.is_some(),
        step.sku.as_ref().map(Spanned::span),
    );
    push(
        "quantity",
        step.quantity.is_some(),
        step.quantity.as_ref().map(Spanned::span),
    );
    push("price", step.price.is_some(), None);
    push("tax_code", step.tax_code.is_some(), None);
    push(
        "payment",
        step.payment.is_some(),
        step.payment.as_ref().map(Spanned::span),
    );
    push(
        "tenders",
        step.tenders.is_some(),
        step.tenders
            .as_ref()
            .and_then(|t| t.first())
            .map(Spanned::span),
    );
    push("discount_code", step.discount_code.is_some(), None);
    push(
        "order",
        step.order.is_some(),
        step.order.as_ref().map(Spanned::span),
    );
    push(
        "sale",
        step.sale.is_some(),
        step.sale.as_ref().map(Spanned::span),
    );
    push("restock", step.restock.is_some(), None);
    push("refund_to", step.refund_to.is_some(), None);
    push(
        "gift_cards",
        step.gift_cards.is_some(),
        step.gift_cards.as_ref().map(Spanned::span),
    );
    push(
        "credit",
        step.credit.is_some(),
        step.credit.as_ref().map(Spanned::span),
    );
    push(
        "code",
        step.code.is_some(),
        step.code.as_ref().map(Spanned::span),
    );
    push("balance", step.balance.is_some(), None);
    push("amount", step.amount.is_some(), None);
    push(
        "target",
        step.target.is_some(),
        step.target.as_ref().map(Spanned::span),
    );
    push(
        "wire",
        step.wire.is_some(),
        step.wire.as_ref().map(Spanned::span),
    );
    push(
        "faults",
        step.faults.is_some(),
        step.faults.as_ref().map(Spanned::span),
    );
    push("channel", step.channel.is_some(), None);
    push(
        "promotion",
        step.promotion.is_some(),
        step.promotion.as_ref().map(Spanned::span),
    );
    push("percent_off", step.percent_off.is_some(), None);
    push("amount_off", step.amount_off.is_some(), None);
    push(
        "skus",
        step.skus.is_some(),
        step.skus.as_ref().map(Spanned::span),
    );
    push(
        "starts",
        step.starts.is_some(),
        step.starts.as_ref().map(Spanned::span),
    );
    push(
        "ends",
        step.ends.is_some(),
        step.ends.as_ref().map(Spanned::span),
    );
    push(
        "duration",
        step.duration.is_some(),
        step.duration.as_ref().map(Spanned::span),
    );
    out
}

/// A promotion step's values: a percentage over 0 and at most 100, an
/// amount over 0, clock times that parse, an end after the start.
/// A `change_promotion` changes a promotion a `promote` defined before it,
/// in its own kind: a percentage stays a percentage.
fn check_promotion_kind(c: &mut Checker<'_>, step: &Step, defined: &mut BTreeMap<String, bool>) {
    let (Some(title), "staff") = (&step.promotion, step.actor.get_ref().as_str()) else {
        return;
    };
    match step.action.get_ref().as_str() {
        "promote" => {
            defined.insert(title.get_ref().clone(), step.percent_off.is_some());
        }
        "change_promotion" => match defined.get(title.get_ref()) {
            None => c.at(
                title.span(),
                format!(
                    "no earlier `promote` step defines the promotion `{}`",
                    title.get_ref()
                ),
                Some(known("promotions", defined.keys())),
            ),
            Some(percent) => {
                let (wrong, right) = if *percent {
                    ("amount_off", "percent_off")
                } else {
                    ("percent_off", "amount_off")
                };
                let given = if *percent {
                    step.amount_off
                } else {
                    step.percent_off
                };
                if given.is_some() {
                    c.at(
                        c.key_near(step.action.span().start, wrong),
                        format!(
                            "the promotion `{}` takes {} off; its value changes with `{right}`",
                            title.get_ref(),
                            if *percent {
                                "a percentage"
                            } else {
                                "an amount"
                            }
                        ),
                        None,
                    );
                }
            }
        },
        _ => {}
    }
}

fn check_promotion(c: &mut Checker<'_>, step: &Step) {
    let here = step.action.span();
    if step.percent_off.is_some() && step.amount_off.is_some() {
        c.at(
            c.key_near(here.start, "amount_off"),
            "a promotion takes a percentage or an amount off, not both",
            Some("keep `percent_off` or `amount_off`".into()),
        );
    }
    if let Some(p) = step.percent_off
        && (p <= Decimal::ZERO || p > Decimal::ONE_HUNDRED)
    {
        c.at(
            c.key_near(here.start, "percent_off"),
            format!("`percent_off = \"{p}\"` is not over 0 and at most 100"),
            None,
        );
    }
    if let Some(a) = step.amount_off
        && a <= Decimal::ZERO
    {
        c.at(
            c.key_near(here.start, "amount_off"),
            format!("`amount_off = \"{a}\"` takes nothing off"),
            Some("write the money off, over 0, like \"5.00\"".into()),
        );
    }
    let mut times = Vec::new();
    for t in [&step.starts, &step.ends].into_iter().flatten() {
        match parse_clock(t.get_ref()) {
            Some(d) => times.push(d),
            None => c.at(
                t.span(),
                format!("`{}` is not a clock time", t.get_ref()),
                Some("write it like 09:00 or 17:30:00".into()),
            ),
        }
    }
    if step.starts.is_some()
        && step.ends.is_some()
        && let [start, end] = times[..]
        && end <= start
        && let Some(e) = &step.ends
    {
        c.at(e.span(), "a promotion ends after it starts", None);
    }
}

/// Refuses keys the step's action does not read.
fn check_fields(c: &mut Checker<'_>, step: &Step) {
    let actor = step.actor.get_ref().as_str();
    let action = step.action.get_ref().as_str();
    let Some((_, _, takes)) = FIELDS.iter().find(|(a, b, _)| *a == actor && *b == action) else {
        return;
    };
    for (key, span) in present(c, step) {
        if !takes.contains(&key) {
            let hint = if takes.is_empty() {
                format!("`{actor}` `{action}` takes no other keys")
            } else {
                known(&format!("keys of `{actor}` `{action}`"), takes.iter())
            };
            c.at(
                span,
                format!("`{actor}` `{action}` does not read `{key}`"),
                Some(hint),
            );
        }
    }
}

/// Reads a free-form TOML value the runner hands to an API type, reporting
/// unknown keys and wrong types where they are in the file.
fn typed<T: DeserializeOwned>(
    c: &mut Checker<'_>,
    v: &Spanned<toml::Value>,
    what: &str,
    hint: &str,
) -> Option<T> {
    let span = v.span();
    let text = c.src.get(span.clone()).unwrap_or("");
    let result = match toml::de::ValueDeserializer::parse(text) {
        Ok(d) => T::deserialize(d).map_err(|e| {
            let at = e.span().map_or(span.start, |s| span.start + s.start);
            (at, e.message().trim().to_owned())
        }),
        // A table written under its own header: no text of its own to
        // re-read, so the error points at the table.
        Err(_) => v
            .get_ref()
            .clone()
            .try_into::<T>()
            .map_err(|e| (span.start, e.message().trim().to_owned())),
    };
    match result {
        Ok(t) => Some(t),
        Err((at, message)) => {
            let hint = if message.starts_with("unknown field") {
                unknown_key_hint(&message)
            } else {
                hint.to_owned()
            };
            c.at(at..at, format!("{what}: {message}"), Some(hint));
            None
        }
    }
}

/// Money inside a free-form table (`amount` of a tender) is a decimal
/// string too.
fn money_is_text(c: &mut Checker<'_>, v: &Spanned<toml::Value>, key: &str, what: &str) {
    if let Some(x) = v.get_ref().get(key)
        && !x.is_str()
    {
        c.at(
            v.span(),
            format!("{what}: `{key}` is {x}, a TOML number; money is a decimal string"),
            Some(format!("write it like {key} = \"12.50\"")),
        );
    }
}

/// Checks every value of a step the runner will read: durations, fault
/// tables, payments, tenders, quantities and amounts.
fn check_values(c: &mut Checker<'_>, step: &Step) {
    let actor = step.actor.get_ref().as_str();
    let action = step.action.get_ref().as_str();
    if let Some(d) = &step.duration
        && duration_of(c, &step.duration, Duration::from_secs(1), "duration").is_zero()
    {
        c.at(
            d.span(),
            format!("the `{actor}` `{action}` step lasts zero"),
            Some("leave `duration` out, or give it a length like 30m".into()),
        );
    }
    if let Some(f) = &step.faults
        && let Some(faults) = typed::<Faults>(
            c,
            f,
            "faults",
            "`faults` takes what POST /_control/faults takes (scenarios/README.md)",
        )
        && let Err(e) = omnisim_simulators::core::validate_faults(&faults)
    {
        c.at(f.span(), format!("faults: {}", e.message), None);
    }
    if let Some(p) = &step.payment {
        typed::<PaymentMethod>(
            c,
            p,
            "payment",
            "a payment is like { type = \"card\", number = \"4242424242424242\" } (scenarios/README.md)",
        );
    }
    for t in step.tenders.iter().flatten() {
        if typed::<TenderRequest>(
            c,
            t,
            "tender",
            "a tender is like { type = \"cash\", amount = \"12.50\" } (scenarios/README.md)",
        )
        .is_some()
        {
            money_is_text(c, t, "amount", "tender");
        }
    }
    if let Some(r) = &step.refund_to
        && !["original", "cash", "store_credit"].contains(&r.as_str())
    {
        c.at(
            c.key_near(step.action.span().start, "refund_to"),
            format!("`refund_to = \"{r}\"` is not a refund destination"),
            Some("known destinations: `original`, `cash`, `store_credit`".into()),
        );
    }
    if let Some(q) = &step.quantity {
        let n = *q.get_ref();
        let least = match (actor, action) {
            ("pos", "count") => Some(0),
            ("pos", "receive" | "waste") | ("nemesis", "forge") => Some(1),
            _ => None,
        };
        if let Some(least) = least
            && n < least
        {
            c.at(
                q.span(),
                format!("`{actor}` `{action}` has quantity {n}; it takes at least {least}"),
                None,
            );
        }
        if (actor, action) == ("staff", "adjust") && n == 0 {
            c.at(
                q.span(),
                "an adjustment of 0 changes nothing",
                Some("a positive quantity adds stock, a negative one removes it".into()),
            );
        }
    }
    for (key, v) in [("price", step.price), ("amount", step.amount)] {
        if let Some(v) = v
            && v <= Decimal::ZERO
            && !(key == "price" && v == Decimal::ZERO)
        {
            c.at(
                c.key_near(step.action.span().start, key),
                format!("`{key}` is {v}; it must be above zero"),
                None,
            );
        }
    }
    // A card's balance is spent down to zero, never below.
    if let Some(v) = step.balance
        && v < Decimal::ZERO
    {
        c.at(
            c.key_near(step.action.span().start, "balance"),
            format!("`balance` is {v}; a gift card never holds less than 0"),
            None,
        );
    }
    if let Some(t) = &step.target {
        let allowed: &[&str] = match (actor, action) {
            ("staff", "price" | "tax") => &["shop", "pos"],
            _ => &["pos", "shop", "pay"],
        };
        if ["pos", "shop", "pay"].contains(&t.get_ref().as_str())
            && !allowed.contains(&t.get_ref().as_str())
        {
            c.at(
                t.span(),
                format!("`{actor}` `{action}` cannot target `{}`", t.get_ref()),
                Some(known("targets", allowed.iter())),
            );
        }
    }
    if step.sale.is_some() && step.order.is_some() {
        c.at(
            step.action.span(),
            "a return names its `sale` or its `order`, not both",
            None,
        );
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
    fn a_wire_is_named_and_only_on_a_staff_adjust() {
        let adjust = |wire: &str| {
            GOOD.replace(
                "[expect]",
                &format!(
                    "[[step]]\nafter = \"1m\"\nactor = \"staff\"\naction = \"adjust\"\n\
                     sku = \"MUG-RED\"\nlocation = \"store-1\"\nquantity = 2\nwire = \"{wire}\"\n[expect]"
                ),
            )
        };
        assert!(errors(&adjust("shopify")).is_empty());
        assert!(errors(&adjust("native")).is_empty());
        let e = errors(&adjust("graphql"));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("t.toml:30:8: unknown wire `graphql`"),
            "{}",
            e[0]
        );
        let e = errors(&GOOD.replace(
            "lines = { MUG-RED = 1 }\n[expect]",
            "lines = { MUG-RED = 1 }\nwire = \"shopify\"\n[expect]",
        ));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("`wire`"), "{}", e[0]);
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
    fn every_value_the_runner_reads_is_checked() {
        let step = "[[step]]\nafter = \"1m\"\nactor = \"nemesis\"\naction = ";
        let cases = [
            (
                format!("{GOOD}{step}\"crash\"\nduration = \"banana\"\n"),
                "t.toml:29:12: `duration = \"banana\"` is not a duration",
            ),
            (
                format!(
                    "{GOOD}{step}\"faults\"\ntarget = \"pos\"\nfaults = {{ webhooks = {{ drop_rat = 1.0 }} }}\n"
                ),
                "t.toml:30:25: faults: unknown field `drop_rat`",
            ),
            (
                format!(
                    "{GOOD}{step}\"faults\"\ntarget = \"pos\"\nfaults = {{ timeout_rate = 1.5 }}\n"
                ),
                "t.toml:30:10: faults: `timeout_rate` is a probability from 0 to 1, not 1.5",
            ),
            (
                format!("{GOOD}{step}\"restart\"\nduration = \"5m\"\n"),
                "t.toml:29:12: `nemesis` `restart` does not read `duration`",
            ),
            (
                GOOD.replace(
                    "lines = { MUG-RED = 1 }\n[expect]",
                    "lines = { MUG-RED = 1 }\nrestock = true\n[expect]",
                ),
                "t.toml:23:1: `pos` `sale` does not read `restock`",
            ),
            (
                GOOD.replace("price = \"12.50\"", "price = 12.5"),
                "t.toml:8:9: 12.5 is a TOML number",
            ),
            (
                format!("{GOOD}[connector]\nengine = {{ sync = \"pol\" }}\n"),
                "t.toml:26:19: `pol` is not a sync mode",
            ),
            (
                GOOD.replace("stock = {", "status = \"sleeping\"\nstock = {"),
                "t.toml:9:1: `MUG-RED` has status `sleeping`",
            ),
        ];
        for (src, want) in cases {
            let e = errors(&src);
            assert!(e.iter().any(|e| e.starts_with(want)), "{want}\n{e:#?}");
        }
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
